/*
 * json_urls.c: relay URL candidates out of untrusted JSON. Top-level arrays (finder API sources) are
 * streamed with a small scanner of our own: one pass checks the whole text is one well-formed array
 * (so a truncated or garbled body is still refused as a whole, with its byte offset), a second pass
 * hands each element to the caller, a string de-escaped into a fixed buffer. An element that cannot
 * be a relay URL (not a string, U+0000, invalid UTF-8, lone surrogate, raw control character, too
 * long) is reported with its reason, never fails the rest. Object keys (kind 3 contents, bounded by
 * the event's size) go through the nostr layer's strict parser (nostr/json.c), whose memory is
 * released on every path.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/memutils.h"

#include "nostr/json.h"
#include "nostr/utf8.h"
#include "services/finder/json_urls.h"

#define SCAN_MAX_DEPTH 64

typedef struct Scan
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	const char *error;			/* what is wrong at p, when a skip fails */
} Scan;

static bool skip_value(Scan *s, int depth);

static void
skip_ws(Scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool
fail(Scan *s, const char *why)
{
	s->error = why;
	return false;
}

/* At '"': moves past the closing quote. The content is checked only where it is used. */
static bool
skip_string(Scan *s)
{
	s->p++;
	while (s->p < s->end)
	{
		if (*s->p == '"')
		{
			s->p++;
			return true;
		}
		if (*s->p == '\\')
			s->p++;
		s->p++;
	}
	return fail(s, "unterminated string");
}

static bool
skip_digits(Scan *s)
{
	const unsigned char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

static bool
skip_number(Scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!skip_digits(s))
		return fail(s, "bad number");
	if (s->p < s->end && *s->p == '.')
	{
		s->p++;
		if (!skip_digits(s))
			return fail(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
	{
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!skip_digits(s))
			return fail(s, "bad number");
	}
	return true;
}

static bool
skip_literal(Scan *s, const char *word)
{
	size_t		n = strlen(word);

	if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "unexpected character");
	s->p += n;
	return true;
}

/* Skips the members of an array or object, the opening bracket already consumed. */
static bool
skip_members(Scan *s, int depth, bool object)
{
	unsigned char close = object ? '}' : ']';

	skip_ws(s);
	if (s->p < s->end && *s->p == close)
	{
		s->p++;
		return true;
	}
	for (;;)
	{
		skip_ws(s);
		if (object)
		{
			if (s->p >= s->end || *s->p != '"')
				return fail(s, "expected a member name");
			if (!skip_string(s))
				return false;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return fail(s, "expected ':'");
			s->p++;
			skip_ws(s);
		}
		if (!skip_value(s, depth))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',')
		{
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == close)
		{
			s->p++;
			return true;
		}
		return fail(s, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool
skip_value(Scan *s, int depth)
{
	if (s->p >= s->end)
		return fail(s, "unexpected end of text");
	switch (*s->p)
	{
		case '"':
			return skip_string(s);
		case '[':
		case '{':
			if (depth >= SCAN_MAX_DEPTH)
				return fail(s, "nested too deeply");
			s->p++;
			return skip_members(s, depth + 1, s->p[-1] == '{');
		case 't':
			return skip_literal(s, "true");
		case 'f':
			return skip_literal(s, "false");
		case 'n':
			return skip_literal(s, "null");
		default:
			if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
				return skip_number(s);
			return fail(s, "unexpected character");
	}
}

static const char *
value_kind(unsigned char first)
{
	switch (first)
	{
		case '[':
			return "an array";
		case '{':
			return "an object";
		case '"':
			return "a string";
		case 't':
		case 'f':
			return "a boolean";
		case 'n':
			return "null";
		default:
			return "a number";
	}
}

static unsigned
hex4(const unsigned char *p)
{
	unsigned	v = 0;

	for (int i = 0; i < 4; i++)
	{
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return UINT_MAX;
	}
	return v;
}

/*
 * De-escapes the string content [p, end) into out (JSON_URL_ELEMENT_MAX + 1 bytes, NUL-terminated).
 * Returns NULL and the length, or why the element cannot be a relay URL.
 */
static const char *
decode_string(const unsigned char *p, const unsigned char *end, char *out, size_t *outlen)
{
	size_t		n = 0;

	while (p < end)
	{
		unsigned char c = *p;
		char		bytes[4];
		size_t		k;

		if (c == '\\')
		{
			unsigned	cp;

			if (end - p < 2)
				return "an invalid escape";
			switch (p[1])
			{
				case '"': case '\\': case '/':
					cp = p[1]; p += 2; break;
				case 'b': cp = '\b'; p += 2; break;
				case 'f': cp = '\f'; p += 2; break;
				case 'n': cp = '\n'; p += 2; break;
				case 'r': cp = '\r'; p += 2; break;
				case 't': cp = '\t'; p += 2; break;
				case 'u':
					if (end - p < 6 || (cp = hex4(p + 2)) == UINT_MAX)
						return "an invalid \\u escape";
					p += 6;
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return "a lone surrogate escape";
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						unsigned	lo;

						if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
							(lo = hex4(p + 2)) == UINT_MAX || lo < 0xDC00 || lo > 0xDFFF)
							return "a lone surrogate escape";
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						p += 6;
					}
					if (cp == 0)
						return "U+0000, which no relay URL holds";
					break;
				default:
					return "an invalid escape";
			}
			k = nostr_utf8_encode(bytes, cp);
		}
		else if (c < 0x20)
			return c == 0 ? "a NUL byte" : "a raw control character";
		else if (c < 0x80)
		{
			bytes[0] = (char) c;
			k = 1;
			p++;
		}
		else
		{
			k = nostr_utf8_sequence_length(p, end - p);
			if (k == 0)
				return "invalid UTF-8";
			memcpy(bytes, p, k);
			p += k;
		}
		if (n + k > JSON_URL_ELEMENT_MAX)
			return "longer than any relay URL (" CppAsString2(JSON_URL_ELEMENT_MAX) " bytes)";
		memcpy(out + n, bytes, k);
		n += k;
	}
	out[n] = '\0';
	*outlen = n;
	return NULL;
}

/* One pass over a top-level array: checks it (fn NULL) or hands each element to fn. */
static char *
walk_array(const char *json, size_t len, JsonElementFn fn, void *arg)
{
	Scan		s = {(const unsigned char *) json, (const unsigned char *) json,
	(const unsigned char *) json + len, NULL};
	char		buf[JSON_URL_ELEMENT_MAX + 1];
	long		index = 0;

	skip_ws(&s);
	if (s.p >= s.end)
		return pstrdup("not valid JSON: empty text");
	if (*s.p != '[')
	{
		unsigned char first = *s.p;

		if (!skip_value(&s, 0))
			goto bad_json;
		skip_ws(&s);
		if (s.p < s.end)
		{
			s.error = "unexpected text after the value";
			goto bad_json;
		}
		return psprintf("expected a JSON array, got %s", value_kind(first));
	}
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == ']')
		s.p++;
	else
		for (;;)
		{
			const unsigned char *from;

			skip_ws(&s);
			from = s.p;
			if (!skip_value(&s, 1))
				goto bad_json;
			if (fn)
			{
				if (*from == '"')
				{
					size_t		n = 0;
					const char *bad = decode_string(from + 1, s.p - 1, buf, &n);

					fn(arg, index, bad ? NULL : buf, n, bad);
				}
				else
				{
					char		why[48];

					snprintf(why, sizeof(why), "not a string (%s)", value_kind(*from));
					fn(arg, index, NULL, 0, why);
				}
			}
			index++;
			skip_ws(&s);
			if (s.p < s.end && *s.p == ',')
			{
				s.p++;
				continue;
			}
			if (s.p < s.end && *s.p == ']')
			{
				s.p++;
				break;
			}
			s.error = "expected ',' or ']'";
			goto bad_json;
		}
	skip_ws(&s);
	if (s.p < s.end)
	{
		s.error = "unexpected text after the array";
		goto bad_json;
	}
	return NULL;

bad_json:
	return psprintf("not valid JSON: %s at byte %zu", s.error, (size_t) (s.p - s.start));
}

char *
json_array_each_string(const char *json, size_t len, JsonElementFn fn, void *arg)
{
	char	   *problem = walk_array(json, len, NULL, NULL);

	if (problem == NULL)
		walk_array(json, len, fn, arg);
	return problem;
}

char *
json_object_keys_list(const char *json, size_t len, List **keys)
{
	nostr_json_doc doc;
	nostr_error err;
	char	   *volatile problem = NULL;
	List	   *volatile items = NIL;

	*keys = NIL;
	if (len > (size_t) (MaxAllocSize - 1))
		return psprintf("JSON text of %zu bytes is too large", len);
	nostr_error_clear(&err);
	if (nostr_json_parse(json, len, 0, &doc, &err) != NOSTR_OK)
		return psprintf("not valid JSON: %s", err.message);
	/* The document is malloc'd: freed whatever happens, an out-of-memory ERROR included. */
	PG_TRY();
	{
		const nostr_json_node *root = &doc.nodes[0];

		if (root->type != NOSTR_JSON_OBJECT)
			problem = psprintf("expected a JSON object, got %s", nostr_json_type_name(root->type, true));
		else
		{
			size_t		child = nostr_json_first(&doc, 0);

			for (uint32_t i = 0; i < root->count; i++, child = doc.nodes[child].next)
			{
				const nostr_json_node *node = &doc.nodes[child];

				if (memchr(node->key, '\0', node->key_len) == NULL)
					items = lappend(items, pnstrdup(node->key, node->key_len));
			}
		}
	}
	PG_FINALLY();
	{
		nostr_json_free(&doc);
	}
	PG_END_TRY();
	*keys = items;
	return problem;
}
