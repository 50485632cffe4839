/*
 * relay_url.c: parsing and normalization of ws:// and wss:// relay URLs (rules in relay_url.h):
 * scheme, authority (no userinfo), host (IPv4 in browser-style numeric forms, bracketed IPv6,
 * IDN via libidn2, v3 .onion with checksum), port, path and query.
 */
#include "nostr/relay_url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <openssl/evp.h>

#include "nostr/hex.h"
#include "nostr/utf8.h"

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * One part of a browser-style IPv4 address: decimal, 0x-hex, or 0-prefixed octal. Returns false
 * if it is not a number or exceeds 2^32-1.
 */
static bool
ipv4_part(const char *s, size_t n, uint64_t *out)
{
	unsigned	base = 10;
	uint64_t	v = 0;
	size_t		i;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
	{
		base = 16;
		s += 2;
		n -= 2;
	}
	else if (n >= 2 && s[0] == '0')
	{
		base = 8;
		s++;
		n--;
	}
	if (n == 0)
	{
		*out = 0;				/* "0x" alone is 0, as browsers read it */
		return base == 16;
	}
	for (i = 0; i < n; i++)
	{
		int			d = nostr_hex_digit((unsigned char) s[i], true);

		if (d < 0 || (unsigned) d >= base)
			return false;
		v = v * base + (unsigned) d;
		if (v > 0xFFFFFFFFu)
			return false;
	}
	*out = v;
	return true;
}

/* True if the last dot-separated label looks numeric: such hosts must be IPv4 or are invalid. */
static bool
ends_in_number(const char *h, size_t n)
{
	size_t		start = n;
	size_t		i;

	if (n && h[n - 1] == '.')
		n--;
	start = n;
	while (start > 0 && h[start - 1] != '.')
		start--;
	if (start == n)
		return false;
	for (i = start; i < n && is_digit(h[i]); i++)
		;
	if (i == n)
		return true;
	return n - start >= 2 && h[start] == '0' && (h[start + 1] == 'x' || h[start + 1] == 'X');
}

static bool
parse_ipv4(const char *h, size_t n, uint32_t *out)
{
	uint64_t	parts[4];
	size_t		count = 0,
				start = 0,
				i;
	uint64_t	v;

	if (n && h[n - 1] == '.')
		n--;
	for (i = 0; i <= n; i++)
	{
		if (i == n || h[i] == '.')
		{
			if (count == 4 || !ipv4_part(h + start, i - start, &parts[count]) || i == start)
				return false;
			count++;
			start = i + 1;
		}
	}
	for (i = 0; i + 1 < count; i++)
		if (parts[i] > 255)
			return false;
	if (parts[count - 1] >= ((uint64_t) 1 << (8 * (5 - count))))
		return false;
	v = parts[count - 1];
	for (i = 0; i + 1 < count; i++)
		v += parts[i] << (8 * (3 - i));
	*out = (uint32_t) v;
	return true;
}

/*
 * v3 onion label: base32(pubkey[32] | checksum[2] | version=3), checksum = SHA3-256(".onion checksum"
 * | pubkey | version)[0..2). Base32 is read in either case, as DNS names are.
 */
static bool
valid_onion_v3(const char *label, size_t n)
{
	uint8_t		raw[35];
	uint8_t		digest[EVP_MAX_MD_SIZE];
	unsigned	dlen = 0;
	uint8_t		msg[15 + 32 + 1];
	uint64_t	acc = 0;
	int			bits = 0;
	size_t		i,
				o = 0;

	if (n != 56)
		return false;
	for (i = 0; i < n; i++)
	{
		char		c = lower(label[i]);
		unsigned	v;

		if (c >= 'a' && c <= 'z')
			v = (unsigned) (c - 'a');
		else if (c >= '2' && c <= '7')
			v = (unsigned) (c - '2' + 26);
		else
			return false;
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8)
		{
			bits -= 8;
			raw[o++] = (uint8_t) (acc >> bits);
		}
	}
	if (o != 35 || raw[34] != 3)
		return false;
	memcpy(msg, ".onion checksum", 15);
	memcpy(msg + 15, raw, 32);
	msg[47] = 3;
	if (!EVP_Digest(msg, sizeof(msg), digest, &dlen, EVP_sha3_256(), NULL))
		return false;
	return digest[0] == raw[32] && digest[1] == raw[33];
}

/* Length of host without one trailing dot ("relay.example." names the same host). */
static size_t
without_root_dot(const char *host, size_t len)
{
	return len > 0 && host[len - 1] == '.' ? len - 1 : len;
}

bool
nostr_host_in_onion_tld(const char *host, size_t len)
{
	size_t		start;
	size_t		i;

	if (host == NULL)
		return false;
	len = without_root_dot(host, len);
	for (start = len; start > 0 && host[start - 1] != '.'; start--)
		;
	if (len - start != 5)
		return false;
	for (i = 0; i < 5; i++)
		if (lower(host[start + i]) != "onion"[i])
			return false;
	return true;
}

bool
nostr_host_is_onion_v3(const char *host, size_t len)
{
	size_t		end,
				start;

	if (!nostr_host_in_onion_tld(host, len))
		return false;
	len = without_root_dot(host, len);
	if (len == 5)
		return false;			/* "onion" alone */
	end = len - 6;				/* the label before ".onion" is host[start..end) */
	for (start = end; start > 0 && host[start - 1] != '.'; start--)
		;
	return valid_onion_v3(host + start, end - start);
}

/* Checks an ASCII lower-case DNS name; on success also sets the onion flag. */
static int
check_hostname(const char *h, size_t n, bool *onion, nostr_error *err)
{
	size_t		start = 0,
				i;

	*onion = false;
	if (n > 253)
		return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "host name longer than 253 characters");
	for (i = 0; i <= n; i++)
	{
		if (i == n || h[i] == '.')
		{
			size_t		l = i - start;

			if (l == 0)
				return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "empty label in host name");
			if (l > 63)
				return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "host label longer than 63 characters");
			if (h[start] == '-' || h[i - 1] == '-')
				return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "host label starts or ends with '-'");
			start = i + 1;
			continue;
		}
		if (!((h[i] >= 'a' && h[i] <= 'z') || is_digit(h[i]) || h[i] == '-' || h[i] == '_'))
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "character '%c' not allowed in host name", h[i]);
	}
	if (nostr_host_in_onion_tld(h, n))
	{
		if (!nostr_host_is_onion_v3(h, n))
			return nostr_error_set(err, NOSTR_ERR_BAD_ONION,
								   "not a valid v3 onion address (56 base32 characters with checksum)");
		*onion = true;
	}
	return NOSTR_OK;
}

static bool
is_localhost(const char *h, size_t n)
{
	return (n == 9 && memcmp(h, "localhost", 9) == 0) ||
		(n > 10 && memcmp(h + n - 10, ".localhost", 10) == 0);
}

/* Host part of the authority: fills out->host, host flags and class. */
static int
parse_host(const char *h, size_t n, bool bracketed, nostr_relay_url *out, nostr_error *err)
{
	char		tmp[NOSTR_RELAY_HOST_MAX];
	size_t		i;
	bool		ascii = true;
	bool		onion;
	int			rc;

	if (n == 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "empty host");
	if (n >= sizeof(tmp))
		return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "host too long");
	for (i = 0; i < n; i++)
	{
		tmp[i] = lower(h[i]);
		if ((unsigned char) h[i] >= 0x80)
			ascii = false;
		if (h[i] == '%')
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST,
								   bracketed ? "IPv6 zone ids are not allowed" :
								   "percent-encoding is not allowed in the host");
	}
	tmp[n] = '\0';

	if (bracketed)
	{
		struct in6_addr a6;

		if (!ascii || inet_pton(AF_INET6, tmp, &a6) != 1)
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "invalid IPv6 address");
		if (!inet_ntop(AF_INET6, &a6, out->host, sizeof(out->host)))
			return nostr_error_set(err, NOSTR_ERR_INTERNAL, "inet_ntop failed");
		out->host_is_ip = true;
		out->host_is_ipv6 = true;
		out->host_class = nostr_classify_ipv6(a6.s6_addr);
		return NOSTR_OK;
	}

	/* Non-ASCII names become A-labels; existing A-labels go through libidn2 to be checked. */
	if (!ascii || strstr(tmp, "xn--"))
	{
		char	   *a = NULL;
		int			r = idn2_to_ascii_8z(tmp, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

		if (r != IDN2_OK)
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "invalid internationalized host name: %s",
								   idn2_strerror(r));
		n = strlen(a);
		if (n >= sizeof(tmp))
		{
			idn2_free(a);
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "host too long");
		}
		for (i = 0; i < n; i++)
			tmp[i] = lower(a[i]);
		tmp[n] = '\0';
		idn2_free(a);
	}
	/* "relay.example." is the same host as "relay.example". */
	if (n > 1 && tmp[n - 1] == '.')
		tmp[--n] = '\0';

	if (ends_in_number(tmp, n))
	{
		uint32_t	v4;
		struct in_addr a4;

		if (!parse_ipv4(tmp, n, &v4))
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "invalid IPv4 address");
		a4.s_addr = htonl(v4);
		if (!inet_ntop(AF_INET, &a4, out->host, sizeof(out->host)))
			return nostr_error_set(err, NOSTR_ERR_INTERNAL, "inet_ntop failed");
		out->host_is_ip = true;
		out->host_class = nostr_classify_ipv4(v4);
		return NOSTR_OK;
	}
	if ((rc = check_hostname(tmp, n, &onion, err)) != NOSTR_OK)
		return rc;
	memcpy(out->host, tmp, n + 1);
	out->network = onion ? NOSTR_NET_TOR : NOSTR_NET_CLEARNET;
	out->host_class = is_localhost(tmp, n) ? NOSTR_ADDR_LOOPBACK : NOSTR_ADDR_HOSTNAME;
	return NOSTR_OK;
}

static int
parse_port(const char *s, size_t n, nostr_relay_url *out, nostr_error *err)
{
	unsigned long v = 0;
	size_t		i;

	if (n == 0)
		return NOSTR_OK;		/* "host:" means the default port, as in RFC 3986 */
	for (i = 0; i < n; i++)
	{
		if (!is_digit(s[i]))
			return nostr_error_set(err, NOSTR_ERR_BAD_PORT, "port is not a number");
		v = v * 10 + (unsigned long) (s[i] - '0');
		if (v > 65535)
			return nostr_error_set(err, NOSTR_ERR_BAD_PORT, "port above 65535");
	}
	if (v == 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_PORT, "port 0");
	out->port = (uint16_t) v;
	return NOSTR_OK;
}

/* Characters RFC 3986 never allows raw in a path or query. */
static bool
forbidden_in_path(char c)
{
	return strchr("\"<>\\^`{|}", c) != NULL;
}

static int
normalize_path(const char *s, size_t n, char *dst, size_t cap, nostr_error *err)
{
	static const char hexu[] = "0123456789ABCDEF";
	size_t		o = 0;
	size_t		i;
	size_t		path_end;
	size_t		q;

	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (o + 4 > cap)
			return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "URL too long");
		if (c >= 0x80)
		{
			dst[o++] = '%';
			dst[o++] = hexu[c >> 4];
			dst[o++] = hexu[c & 15];
		}
		else if (c == '%')
		{
			int			hi = i + 2 < n ? nostr_hex_digit((unsigned char) s[i + 1], true) : -1;
			int			lo = i + 2 < n ? nostr_hex_digit((unsigned char) s[i + 2], true) : -1;

			if (hi < 0 || lo < 0)
				return nostr_error_set(err, NOSTR_ERR_BAD_URL, "invalid percent-encoding");
			dst[o++] = '%';
			dst[o++] = hexu[hi];
			dst[o++] = hexu[lo];
			i += 2;
		}
		else if (forbidden_in_path((char) c))
			return nostr_error_set(err, NOSTR_ERR_BAD_URL, "character '%c' not allowed in path or query", c);
		else
			dst[o++] = (char) c;
	}
	dst[o] = '\0';
	/* Path is everything before '?'; drop one trailing slash of it and an empty query. */
	for (path_end = 0; path_end < o && dst[path_end] != '?'; path_end++)
		;
	q = path_end;
	/*
	 * Only a lone trailing slash goes: stripping one of "//" would leave "/" to be stripped on
	 * the next parse, and a normalized URL must normalize to itself.
	 */
	if (path_end > 0 && dst[path_end - 1] == '/' && (path_end == 1 || dst[path_end - 2] != '/'))
	{
		memmove(dst + path_end - 1, dst + path_end, o - path_end + 1);
		o--;
		q--;
	}
	if (q < o && o - q == 1)
		dst[--o] = '\0';
	return NOSTR_OK;
}

int
nostr_relay_url_parse(const char *input, size_t len, nostr_relay_url *out, nostr_error *err)
{
	const char *p,
			   *end,
			   *auth,
			   *auth_end,
			   *host,
			   *host_end,
			   *port = NULL;
	size_t		i,
				scheme_len;
	bool		bracketed = false;
	int			rc,
				n;

	memset(out, 0, sizeof(*out));
	if (!input)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "NULL URL");
	if (len >= NOSTR_RELAY_URL_MAX)
		return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "URL longer than %d bytes", NOSTR_RELAY_URL_MAX - 1);
	if (len == 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_URL, "empty URL");
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) input[i];

		if (c <= 0x20 || c == 0x7F)
			return nostr_error_set(err, NOSTR_ERR_BAD_URL, "space or control character at byte %zu", i);
	}
	if (!nostr_utf8_valid(input, len))
		return nostr_error_set(err, NOSTR_ERR_BAD_URL, "invalid UTF-8");
	end = input + len;

	/* scheme */
	for (p = input; p < end && *p != ':' && *p != '/' && *p != '?' && *p != '#'; p++)
		;
	if (p + 3 > end || p[0] != ':' || p[1] != '/' || p[2] != '/')
		return nostr_error_set(err, NOSTR_ERR_BAD_SCHEME, "missing ws:// or wss:// scheme");
	scheme_len = (size_t) (p - input);
	if (scheme_len == 2 && lower(input[0]) == 'w' && lower(input[1]) == 's')
		out->secure = false;
	else if (scheme_len == 3 && lower(input[0]) == 'w' && lower(input[1]) == 's' && lower(input[2]) == 's')
		out->secure = true;
	else
		return nostr_error_set(err, NOSTR_ERR_BAD_SCHEME, "scheme is not ws or wss");
	strcpy(out->scheme, out->secure ? "wss" : "ws");
	if (memchr(input, '#', len))
		return nostr_error_set(err, NOSTR_ERR_HAS_FRAGMENT, "URL has a #fragment");

	/* authority */
	auth = p + 3;
	for (auth_end = auth; auth_end < end && *auth_end != '/' && *auth_end != '?'; auth_end++)
		;
	if (memchr(auth, '@', (size_t) (auth_end - auth)))
		return nostr_error_set(err, NOSTR_ERR_HAS_USERINFO, "URL has user information before '@'");
	host = auth;
	if (auth < auth_end && *auth == '[')
	{
		bracketed = true;
		host = auth + 1;
		for (host_end = host; host_end < auth_end && *host_end != ']'; host_end++)
			;
		if (host_end == auth_end)
			return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "unterminated IPv6 literal");
		if (host_end + 1 < auth_end)
		{
			if (host_end[1] != ':')
				return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "junk after IPv6 literal");
			port = host_end + 2;
		}
	}
	else
	{
		const char *colon = NULL;

		for (host_end = auth; host_end < auth_end; host_end++)
			if (*host_end == ':')
			{
				if (colon)
					return nostr_error_set(err, NOSTR_ERR_BAD_HOST, "IPv6 address must be in brackets");
				colon = host_end;
			}
		if (colon)
		{
			host_end = colon;
			port = colon + 1;
		}
	}
	if ((rc = parse_host(host, (size_t) (host_end - host), bracketed, out, err)) != NOSTR_OK)
		return rc;
	out->port = out->secure ? 443 : 80;
	if (port && (rc = parse_port(port, (size_t) (auth_end - port), out, err)) != NOSTR_OK)
		return rc;
	out->port_is_default = out->port == (out->secure ? 443 : 80);

	if ((rc = normalize_path(auth_end, (size_t) (end - auth_end), out->path, sizeof(out->path), err)) != NOSTR_OK)
		return rc;

	if (out->port_is_default)
		n = snprintf(out->url, sizeof(out->url), "%s://%s%s%s%s", out->scheme,
					 out->host_is_ipv6 ? "[" : "", out->host, out->host_is_ipv6 ? "]" : "", out->path);
	else
		n = snprintf(out->url, sizeof(out->url), "%s://%s%s%s:%u%s", out->scheme,
					 out->host_is_ipv6 ? "[" : "", out->host, out->host_is_ipv6 ? "]" : "",
					 (unsigned) out->port, out->path);
	if (n < 0 || (size_t) n >= sizeof(out->url))
		return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "normalized URL too long");
	nostr_error_clear(err);
	return NOSTR_OK;
}

const char *
nostr_network_name(nostr_network network)
{
	return network == NOSTR_NET_TOR ? "tor" : "clearnet";
}
