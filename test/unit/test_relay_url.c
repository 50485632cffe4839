/*
 * test_relay_url.c: relay URL normalization, network and host classification from
 * test/fixtures/nostr/relay_urls.tsv, control characters, the exported onion rule, and sockaddr
 * classification.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include "nostr/relay_url.h"
#include "tap.h"

#define V3 "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad"

static void
table(void)
{
	size_t		len;
	char	   *text = read_fixture("relay_urls.tsv", &len);
	char	   *line = text;
	int			n = 0;

	while (line && *line)
	{
		char	   *end = strchr(line, '\n');
		char	   *f[4] = {NULL, NULL, NULL, NULL};
		int			k = 0;
		char	   *p;
		nostr_relay_url u;
		nostr_error err;
		int			rc;

		if (end)
			*end++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
		{
			line = end;
			continue;
		}
		f[k++] = line;
		for (p = line; *p && k < 4; p++)
			if (*p == '\t')
			{
				*p = '\0';
				f[k++] = p + 1;
			}
		n++;
		rc = nostr_relay_url_parse(f[0], strlen(f[0]), &u, &err);
		if (f[1][0] == '!')
			CHECK(strcmp(nostr_reason_code(rc), f[1] + 1) == 0, "url '%s' rejected as %s (got %s: %s)",
				  f[0], f[1] + 1, nostr_reason_code(rc), rc ? err.message : u.url);
		else
			CHECK(rc == NOSTR_OK && strcmp(u.url, f[1]) == 0 &&
				  strcmp(nostr_network_name(u.network), f[2]) == 0 &&
				  strcmp(nostr_addr_class_name(u.host_class), f[3]) == 0,
				  "url '%s' -> %s %s %s (got %s: %s %s %s)", f[0], f[1], f[2], f[3],
				  nostr_reason_code(rc), rc ? err.message : u.url,
				  nostr_network_name(u.network), nostr_addr_class_name(u.host_class));
		line = end;
	}
	CHECK(n >= 90, "%d relay URL cases", n);
	free(text);
}

static void
fields_and_controls(void)
{
	nostr_relay_url u;
	nostr_error err;
	const char *bad[] = {"wss://a.com/\x01", "wss://a.com/\x7f", "wss://a.com\t", "wss://a.com/\n",
	"wss://a.com/\xff"};
	size_t		i;
	char		longurl[NOSTR_RELAY_URL_MAX + 10];

	CHECK(nostr_relay_url_parse("wss://Relay.COM:8443/Path/?q=A", 30, &u, &err) == NOSTR_OK &&
		  strcmp(u.scheme, "wss") == 0 && strcmp(u.host, "relay.com") == 0 && u.port == 8443 &&
		  !u.port_is_default && strcmp(u.path, "/Path?q=A") == 0 && u.secure && !u.host_is_ip,
		  "fields of a parsed URL (%s)", u.url);
	CHECK(nostr_relay_url_parse("ws://[::1]", 10, &u, &err) == NOSTR_OK && strcmp(u.host, "::1") == 0 &&
		  u.host_is_ip && u.host_is_ipv6 && u.port == 80 && u.port_is_default && !u.secure, "IPv6 fields");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(nostr_relay_url_parse(bad[i], strlen(bad[i]), &u, &err) == NOSTR_ERR_BAD_URL,
			  "control/invalid byte rejected (case %zu)", i);
	CHECK(nostr_relay_url_parse("wss://a.com\0x", 13, &u, &err) == NOSTR_ERR_BAD_URL, "embedded NUL rejected");
	memset(longurl, 'a', sizeof(longurl));
	memcpy(longurl, "wss://a.com/", 12);
	CHECK(nostr_relay_url_parse(longurl, sizeof(longurl), &u, &err) == NOSTR_ERR_TOO_LARGE, "over-long URL");
	CHECK(nostr_relay_url_parse("", 0, &u, &err) == NOSTR_ERR_BAD_URL, "empty URL");
}

/* base32 of key[32] | checksum[2] | version with a correct checksum for that version. */
static void
make_onion(const unsigned char key[32], unsigned char version, char out[57])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char msg[15 + 32 + 1];
	unsigned char raw[35];
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned	dlen = 0;
	unsigned	acc = 0;
	int			bits = 0;
	size_t		o = 0;

	memcpy(msg, ".onion checksum", 15);
	memcpy(msg + 15, key, 32);
	msg[47] = version;
	EVP_Digest(msg, sizeof(msg), digest, &dlen, EVP_sha3_256(), NULL);
	memcpy(raw, key, 32);
	raw[32] = digest[0];
	raw[33] = digest[1];
	raw[34] = version;
	for (size_t i = 0; i < sizeof(raw); i++)
	{
		acc = ((acc << 8) | raw[i]) & 0xFFFF;
		bits += 8;
		while (bits >= 5)
		{
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

static void
onion_rule(void)
{
	const struct
	{
		const char *host;
		bool		in_tld;
		bool		v3;
	}			cases[] = {
		{V3 ".onion", true, true},
		{V3 ".onion.", true, true},	/* the root's dot names the same host */
		{"DUCKDUCKGOGG42XJOC72X3SJASOWOARFBGCMVFIMAFTT6TWAGSWZCZAD.ONION", true, true},
		{"DuckDuckGogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.Onion", true, true},
		{"www." V3 ".onion", true, true},	/* a subdomain of a v3 service */
		{"a.b." V3 ".onion", true, true},
		{"duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczae.onion", true, false},	/* checksum */
		{"expyuzz4wqqyqhjn.onion", true, false},	/* v2: 16 characters */
		{"duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzcza.onion", true, false},	/* 55 */
		{"duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczadd.onion", true, false},	/* 57 */
		{"duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzcz1d.onion", true, false},	/* not base32 */
		{V3 ".www.onion", true, false},	/* the v3 label must be the one before "onion" */
		{"onion", true, false},
		{".onion", true, false},
		{"www..onion", true, false},
		{V3 ".onion..", false, false},
		{V3 ".com", false, false},
		{V3, false, false},
		{"onion.example", false, false},
		{"xonion", false, false},
		{"relay.example", false, false},
		{"", false, false},
	};
	unsigned char key[32];
	char		label[57];
	char		host[80];
	char		other[80];
	nostr_relay_url u;
	nostr_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t		n = strlen(cases[i].host);

		CHECK(nostr_host_in_onion_tld(cases[i].host, n) == cases[i].in_tld &&
			  nostr_host_is_onion_v3(cases[i].host, n) == cases[i].v3,
			  "onion rule: '%s' in .onion %d, v3 %d", cases[i].host, cases[i].in_tld, cases[i].v3);
	}
	CHECK(!nostr_host_in_onion_tld(NULL, 0) && !nostr_host_is_onion_v3(NULL, 0), "onion rule: NULL host");
	CHECK(nostr_host_is_onion_v3(V3 ".onion-and-more", strlen(V3 ".onion")) &&
		  !nostr_host_is_onion_v3(V3 ".onion", strlen(V3 ".onio")),
		  "onion rule: only host[0..len) is read");

	/* A well-formed checksum over another version byte is still not v3. */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char) (i * 7 + 1);
	make_onion(key, 3, label);
	snprintf(host, sizeof(host), "%s.onion", label);
	make_onion(key, 4, label);
	snprintf(other, sizeof(other), "%s.onion", label);
	CHECK(nostr_host_is_onion_v3(host, strlen(host)) && !nostr_host_is_onion_v3(other, strlen(other)) &&
		  nostr_host_in_onion_tld(other, strlen(other)),
		  "onion rule: version 3 passes, version 4 with its own checksum does not (%s)", other);

	/* The URL parser applies the same rule: a subdomain of a v3 onion is a tor relay. */
	CHECK(nostr_relay_url_parse("ws://WWW." V3 ".onion/", strlen("ws://WWW." V3 ".onion/"), &u, &err) ==
		  NOSTR_OK && u.network == NOSTR_NET_TOR && strcmp(u.url, "ws://www." V3 ".onion") == 0,
		  "www.<v3>.onion is a tor relay URL (%s)", u.url);
	CHECK(nostr_relay_url_parse("ws://" V3 ".www.onion", strlen("ws://" V3 ".www.onion"), &u, &err) ==
		  NOSTR_ERR_BAD_ONION, "<v3>.www.onion is a bad onion");
}

static void
sockaddrs(void)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr sa;
	const struct
	{
		const char *ip;
		const char *cls;
	}			cases[] = {
		{"127.0.0.1", "loopback"}, {"10.0.0.1", "private"}, {"1.1.1.1", "public"},
		{"169.254.1.1", "link_local"}, {"0.0.0.0", "unspecified"}, {"240.0.0.1", "reserved"},
		{"::1", "loopback"}, {"::ffff:10.0.0.1", "private"}, {"::ffff:1.1.1.1", "public"},
		{"::127.0.0.1", "reserved"}, {"fe80::1", "link_local"}, {"fc00::1", "private"},
		{"2a00:1450::1", "public"}, {"3fff::1", "public"}, {"4000::1", "reserved"},
		{"64:ff9b::7f00:1", "loopback"}, {"2002:7f00:1::", "loopback"}, {"100::1", "reserved"},
		{"fec0::1", "private"}, {"ff05::2", "multicast"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *got;
		bool		priv;

		if (strchr(cases[i].ip, ':'))
		{
			memset(&v6, 0, sizeof(v6));
			v6.sin6_family = AF_INET6;
			inet_pton(AF_INET6, cases[i].ip, &v6.sin6_addr);
			got = nostr_addr_class_name(nostr_classify_sockaddr((struct sockaddr *) &v6));
			priv = nostr_sockaddr_is_private((struct sockaddr *) &v6);
		}
		else
		{
			memset(&v4, 0, sizeof(v4));
			v4.sin_family = AF_INET;
			inet_pton(AF_INET, cases[i].ip, &v4.sin_addr);
			got = nostr_addr_class_name(nostr_classify_sockaddr((struct sockaddr *) &v4));
			priv = nostr_sockaddr_is_private((struct sockaddr *) &v4);
		}
		CHECK(strcmp(got, cases[i].cls) == 0 && priv == (strcmp(cases[i].cls, "public") != 0),
			  "sockaddr %s is %s (got %s)", cases[i].ip, cases[i].cls, got);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	CHECK(nostr_sockaddr_is_private(&sa) && !nostr_sockaddr_is_private(NULL) == false,
		  "other families are not public");
}

void
test_relay_url(void)
{
	table();
	fields_and_controls();
	onion_rule();
	sockaddrs();
}
