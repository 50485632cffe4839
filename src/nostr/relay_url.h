/*
 * relay_url.h: parse, validate and normalize relay URLs (ws:// and wss://), tell their network
 * (clearnet or tor) and classify their host (by the address policy of nostr/addr_class.h).
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

#include "nostr/addr_class.h"
#include "nostr/error.h"

#define NOSTR_RELAY_URL_MAX 2048	/* longest accepted input and normalized URL, in bytes */
#define NOSTR_RELAY_HOST_MAX 256

typedef enum nostr_network
{
	NOSTR_NET_CLEARNET = 0,		/* "clearnet" */
	NOSTR_NET_TOR				/* "tor": a v3 .onion host */
} nostr_network;

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

/*
 * The project's one onion rule, used by the URL parser above (a relay is network "tor" exactly when
 * its host passes nostr_host_is_onion_v3) and by src/net's HTTP client. host[0..len) is a host name
 * as written (any case, one trailing dot allowed, no port).
 *
 * nostr_host_in_onion_tld: the last label is "onion", so only Tor can resolve the name (RFC 7686):
 * it must never be asked of DNS, valid or not.
 *
 * nostr_host_is_onion_v3: in that TLD, and the label before "onion" is a v3 onion address: 56 base32
 * characters (either case) encoding a 32-byte key, a 2-byte checksum (SHA3-256 of ".onion checksum",
 * the key and the version) and version 3. Labels in front of it (www.<v3>.onion, a name the same
 * service answers for) are not looked at. v2 names (16 characters), bad checksums, other versions,
 * "onion" alone and empty labels fail.
 */
bool		nostr_host_in_onion_tld(const char *host, size_t len);
bool		nostr_host_is_onion_v3(const char *host, size_t len);

#endif							/* BIGBROTR_NOSTR_RELAY_URL_H */
