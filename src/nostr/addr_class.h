/*
 * addr_class.h: classify raw IPv4/IPv6 addresses (the building blocks behind
 * nostr_classify_sockaddr in relay_url.h).
 */
#ifndef BIGBROTR_NOSTR_ADDR_CLASS_H
#define BIGBROTR_NOSTR_ADDR_CLASS_H

#include <stdint.h>

#include "nostr/relay_url.h"

/* a in host byte order, e.g. 0x7F000001 for 127.0.0.1. */
nostr_addr_class nostr_classify_ipv4(uint32_t a);
/* a in network byte order (as in struct in6_addr). */
nostr_addr_class nostr_classify_ipv6(const uint8_t a[16]);

#endif							/* BIGBROTR_NOSTR_ADDR_CLASS_H */
