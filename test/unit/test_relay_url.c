/*
 * test_relay_url.c: relay URL normalization, network and host classification from
 * test/fixtures/nostr/relay_urls.tsv, control characters, and sockaddr classification.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nostr/relay_url.h"
#include "tap.h"

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
	sockaddrs();
}
