/*
 * addr_class.c: classification of IPv4/IPv6 addresses (loopback, private, link-local, ...) for
 * relay URL host literals and for resolved socket addresses. The table follows the IANA special-
 * purpose address registries; anything not public must never be a relay target unless allowed.
 */
#include "nostr/addr_class.h"

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

nostr_addr_class
nostr_classify_ipv4(uint32_t a)
{
	uint8_t		o1 = (uint8_t) (a >> 24),
				o2 = (uint8_t) (a >> 16),
				o3 = (uint8_t) (a >> 8);

	if (o1 == 0)
		return NOSTR_ADDR_UNSPECIFIED;	/* 0/8: "this network"; Linux routes 0.0.0.0 to us */
	if (o1 == 127)
		return NOSTR_ADDR_LOOPBACK;
	if (o1 == 10 || (o1 == 172 && (o2 & 0xF0) == 16) || (o1 == 192 && o2 == 168) ||
		(o1 == 100 && (o2 & 0xC0) == 64))
		return NOSTR_ADDR_PRIVATE;
	if (o1 == 169 && o2 == 254)
		return NOSTR_ADDR_LINK_LOCAL;
	if ((o1 & 0xF0) == 224)
		return NOSTR_ADDR_MULTICAST;
	if ((o1 & 0xF0) == 240)
		return NOSTR_ADDR_RESERVED;	/* 240/4 and the broadcast address */
	if ((o1 == 192 && o2 == 0 && o3 == 0) ||	/* IETF protocol assignments */
		(o1 == 192 && o2 == 0 && o3 == 2) ||	/* TEST-NET-1 */
		(o1 == 198 && o2 == 51 && o3 == 100) ||	/* TEST-NET-2 */
		(o1 == 203 && o2 == 0 && o3 == 113) ||	/* TEST-NET-3 */
		(o1 == 198 && (o2 & 0xFE) == 18) ||	/* benchmarking 198.18/15 */
		(o1 == 192 && o2 == 88 && o3 == 99))	/* deprecated 6to4 anycast */
		return NOSTR_ADDR_RESERVED;
	return NOSTR_ADDR_PUBLIC;
}

static uint32_t
v4_at(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

nostr_addr_class
nostr_classify_ipv6(const uint8_t a[16])
{
	static const uint8_t zero[16];
	static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const uint8_t nat64_prefix[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(a, zero, 16) == 0)
		return NOSTR_ADDR_UNSPECIFIED;
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return NOSTR_ADDR_LOOPBACK;
	/* Addresses that carry an IPv4 address reach wherever that address does. */
	if (memcmp(a, mapped_prefix, 12) == 0 || memcmp(a, nat64_prefix, 12) == 0)
		return nostr_classify_ipv4(v4_at(a + 12));
	if (memcmp(a, zero, 12) == 0)
		return NOSTR_ADDR_RESERVED;	/* deprecated IPv4-compatible ::/96 */
	if (a[0] == 0x20 && a[1] == 0x02)
		return nostr_classify_ipv4(v4_at(a + 2));	/* 6to4 2002::/16 */
	if (a[0] == 0xFF)
		return NOSTR_ADDR_MULTICAST;
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
		return NOSTR_ADDR_LINK_LOCAL;
	if ((a[0] & 0xFE) == 0xFC || (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0))
		return NOSTR_ADDR_PRIVATE;	/* unique local fc00::/7, old site-local fec0::/10 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8)
		return NOSTR_ADDR_RESERVED;	/* documentation 2001:db8::/32 */
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0)
		return NOSTR_ADDR_RESERVED;	/* discard-only 100::/64 */
	if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B && a[4] == 0 && a[5] == 1)
		return NOSTR_ADDR_PRIVATE;	/* local-use NAT64 64:ff9b:1::/48 */
	if ((a[0] & 0xE0) != 0x20)
		return NOSTR_ADDR_RESERVED;	/* outside global unicast 2000::/3 */
	return NOSTR_ADDR_PUBLIC;
}

nostr_addr_class
nostr_classify_sockaddr(const struct sockaddr *sa)
{
	if (!sa)
		return NOSTR_ADDR_RESERVED;
	if (sa->sa_family == AF_INET)
	{
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		return nostr_classify_ipv4(ntohl(in.sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6)
	{
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		return nostr_classify_ipv6(in6.sin6_addr.s6_addr);
	}
	return NOSTR_ADDR_RESERVED;
}

bool
nostr_addr_class_is_private(nostr_addr_class cls)
{
	return cls != NOSTR_ADDR_PUBLIC && cls != NOSTR_ADDR_HOSTNAME;
}

bool
nostr_sockaddr_is_private(const struct sockaddr *sa)
{
	return nostr_addr_class_is_private(nostr_classify_sockaddr(sa));
}

const char *
nostr_addr_class_name(nostr_addr_class cls)
{
	switch (cls)
	{
		case NOSTR_ADDR_HOSTNAME:
			return "hostname";
		case NOSTR_ADDR_PUBLIC:
			return "public";
		case NOSTR_ADDR_LOOPBACK:
			return "loopback";
		case NOSTR_ADDR_PRIVATE:
			return "private";
		case NOSTR_ADDR_LINK_LOCAL:
			return "link_local";
		case NOSTR_ADDR_UNSPECIFIED:
			return "unspecified";
		case NOSTR_ADDR_MULTICAST:
			return "multicast";
		case NOSTR_ADDR_RESERVED:
			return "reserved";
	}
	return "unknown";
}
