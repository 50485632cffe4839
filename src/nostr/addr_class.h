/*
 * addr_class.h: the address policy: which IPv4/IPv6 addresses are public and which are loopback,
 * private, link-local, ... (never a relay target unless private addresses are allowed). Used by the
 * relay URL rules for host literals (nostr/relay_url.c) and by the network glue for resolved
 * addresses (net/), so it sits in the lowest layer both use and depends on nothing else.
 */
#ifndef BIGBROTR_NOSTR_ADDR_CLASS_H
#define BIGBROTR_NOSTR_ADDR_CLASS_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

typedef enum nostr_addr_class
{
	NOSTR_ADDR_HOSTNAME = 0,	/* "hostname": a DNS name; classify after resolving */
	NOSTR_ADDR_PUBLIC,			/* "public" */
	NOSTR_ADDR_LOOPBACK,		/* "loopback": 127/8, ::1, localhost, *.localhost */
	NOSTR_ADDR_PRIVATE,			/* "private": RFC 1918, 100.64/10, fc00::/7, fec0::/10 */
	NOSTR_ADDR_LINK_LOCAL,		/* "link_local": 169.254/16, fe80::/10 */
	NOSTR_ADDR_UNSPECIFIED,		/* "unspecified": 0/8, :: */
	NOSTR_ADDR_MULTICAST,		/* "multicast": 224/4, ff00::/8 */
	NOSTR_ADDR_RESERVED			/* "reserved": documentation, benchmarking, 240/4, ... */
} nostr_addr_class;

/* a in host byte order, e.g. 0x7F000001 for 127.0.0.1. */
nostr_addr_class nostr_classify_ipv4(uint32_t a);
/* a in network byte order (as in struct in6_addr). */
nostr_addr_class nostr_classify_ipv6(const uint8_t a[16]);

const char *nostr_addr_class_name(nostr_addr_class cls);

/* True for every class a public relay must not resolve to: all but PUBLIC and HOSTNAME. */
bool		nostr_addr_class_is_private(nostr_addr_class cls);

/*
 * Classifies a resolved AF_INET or AF_INET6 address (IPv4-mapped, IPv4-compatible, NAT64
 * 64:ff9b::/96 and 6to4 2002::/16 IPv6 are classified by their embedded IPv4 address). Other
 * families are NOSTR_ADDR_RESERVED.
 */
nostr_addr_class nostr_classify_sockaddr(const struct sockaddr *sa);

/* nostr_addr_class_is_private(nostr_classify_sockaddr(sa)). */
bool		nostr_sockaddr_is_private(const struct sockaddr *sa);

#endif							/* BIGBROTR_NOSTR_ADDR_CLASS_H */
