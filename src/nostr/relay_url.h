/*
 * relay_url.h: parse, validate and normalize relay URLs (ws:// and wss://), tell their network
 * (clearnet or tor) and classify their host, plus classification of resolved socket addresses so
 * the network layer can refuse private targets after DNS.
 *
 * Normal form: lower-case scheme and host; IDN hosts as punycode A-labels; IPv4 as dotted quad
 * (numeric forms such as 127.1 or 0x7f.1 are read as IPv4, like browsers do, then written out
 * in full); IPv6 in brackets in RFC 5952 form; default port (80 ws, 443 wss) dropped; a single
 * trailing slash of the path dropped; the query kept; non-ASCII in path/query percent-encoded.
 * Rejected: other schemes, userinfo, fragments, empty hosts, ports outside 1..65535, spaces,
 * control characters, IPv6 zone ids, malformed .onion names (only v3 with a valid checksum pass).
 */
#ifndef BIGBROTR_NOSTR_RELAY_URL_H
#define BIGBROTR_NOSTR_RELAY_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/error.h"

struct sockaddr;

#define NOSTR_RELAY_URL_MAX 2048	/* longest accepted input and normalized URL, in bytes */
#define NOSTR_RELAY_HOST_MAX 256

typedef enum nostr_network
{
	NOSTR_NET_CLEARNET = 0,		/* "clearnet" */
	NOSTR_NET_TOR				/* "tor": a v3 .onion host */
} nostr_network;

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

typedef struct nostr_relay_url
{
	char		url[NOSTR_RELAY_URL_MAX];	/* the normalized URL */
	char		scheme[4];		/* "ws" or "wss" */
	char		host[NOSTR_RELAY_HOST_MAX];	/* normalized; IPv6 without brackets */
	uint16_t	port;			/* effective port (default filled in) */
	bool		port_is_default;	/* port equals the scheme's default (so not in url) */
	char		path[NOSTR_RELAY_URL_MAX];	/* path and ?query as in url; "" if none */
	bool		secure;			/* wss */
	bool		host_is_ip;		/* IPv4 or IPv6 literal */
	bool		host_is_ipv6;
	nostr_network network;
	nostr_addr_class host_class;
} nostr_relay_url;

/*
 * Parses input[0..len). Returns NOSTR_OK and fills *out, or one of NOSTR_ERR_BAD_URL,
 * _BAD_SCHEME, _HAS_USERINFO, _HAS_FRAGMENT, _BAD_HOST, _BAD_PORT, _BAD_ONION, _TOO_LARGE,
 * _NO_MEMORY with a message. Leading/trailing ASCII whitespace is NOT trimmed (it is an error).
 */
int			nostr_relay_url_parse(const char *input, size_t len, nostr_relay_url *out,
								  nostr_error *err);

const char *nostr_network_name(nostr_network network);
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

#endif							/* BIGBROTR_NOSTR_RELAY_URL_H */
