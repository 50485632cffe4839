/*
 * json.c: strict RFC 8259 reader building the flat DOM described in json.h, and the
 * JSON.stringify-compatible string writer used for canonical event serialization.
 */
#include "nostr/json.h"

#include <stdlib.h>
#include <string.h>

#include "nostr/hex.h"
#include "nostr/utf8.h"

typedef struct parser
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	unsigned	max_depth;
	nostr_json_doc *doc;
	nostr_error *err;
} parser;

static int
fail(parser *p, nostr_status status, const char *what)
{
	return nostr_error_set(p->err, status, "%s at byte %zu", what, p->pos);
}

static void
skip_ws(parser *p)
{
	while (p->pos < p->len)
	{
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int
hex4(parser *p, size_t at, unsigned *out)
{
	unsigned	v = 0;
	size_t		i;

	if (p->len - at < 4)
		return -1;
	for (i = 0; i < 4; i++)
	{
		int			d = nostr_hex_digit(p->s[at + i], true);

		if (d < 0)
			return -1;
		v = v << 4 | (unsigned) d;
	}
	*out = v;
	return 0;
}

/*
 * Decodes the string whose opening quote is at p->pos into the arena. The arena was sized to the
 * input length + 1, which always suffices: every escape decodes to fewer bytes than it takes,
 * and the two quotes pay for the NUL terminator.
 */
static int
parse_string(parser *p, const char **out, size_t *out_len)
{
	nostr_json_doc *doc = p->doc;
	char	   *start = doc->strings + doc->strings_len;
	char	   *o = start;
	const unsigned char *s = p->s;
	size_t		i = p->pos + 1;
	size_t		len = p->len;

	for (;;)
	{
		size_t		run = i;
		unsigned char c;

		/* Copy the plain ASCII run in one go: this is nearly all of a typical event. */
		while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
			i++;
		if (i > run)
		{
			memcpy(o, s + run, i - run);
			o += i - run;
		}
		if (i >= len)
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "unterminated string");
		}
		c = s[i];
		if (c == '"')
		{
			i++;
			break;
		}
		if (c < 0x20)
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "raw control character in string");
		}
		if (c >= 0x80)
		{
			size_t		n = nostr_utf8_sequence_length(s + i, len - i);

			if (n == 0)
			{
				p->pos = i;
				return fail(p, NOSTR_ERR_BAD_UTF8, "invalid UTF-8 in string");
			}
			memcpy(o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		/* backslash */
		if (i + 1 >= len)
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "unterminated escape");
		}
		switch (s[i + 1])
		{
			case '"':
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				break;
			case '/':
				*o++ = '/';
				break;
			case 'b':
				*o++ = '\b';
				break;
			case 'f':
				*o++ = '\f';
				break;
			case 'n':
				*o++ = '\n';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'u':
				{
					unsigned	cp,
								lo;

					if (hex4(p, i + 2, &cp) < 0)
					{
						p->pos = i;
						return fail(p, NOSTR_ERR_BAD_JSON, "bad \\u escape");
					}
					if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						p->pos = i;
						return fail(p, NOSTR_ERR_BAD_UTF8, "lone low surrogate escape");
					}
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						if (i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u' ||
							hex4(p, i + 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
						{
							p->pos = i;
							return fail(p, NOSTR_ERR_BAD_UTF8, "lone high surrogate escape");
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
					o += nostr_utf8_encode(o, cp);
					i += 4;
					break;
				}
			default:
				p->pos = i;
				return fail(p, NOSTR_ERR_BAD_JSON, "unknown escape");
		}
		i += 2;
	}
	*o = '\0';
	*out = start;
	*out_len = (size_t) (o - start);
	doc->strings_len += (size_t) (o - start) + 1;
	p->pos = i;
	return NOSTR_OK;
}

static int
parse_number(parser *p, bool *is_integer)
{
	const unsigned char *s = p->s;
	size_t		i = p->pos;
	size_t		len = p->len;

	*is_integer = true;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len || s[i] < '0' || s[i] > '9')
	{
		p->pos = i;
		return fail(p, NOSTR_ERR_BAD_JSON, "bad number");
	}
	if (s[i] == '0')
	{
		i++;
		if (i < len && s[i] >= '0' && s[i] <= '9')
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "leading zero in number");
		}
	}
	else
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < len && s[i] == '.')
	{
		*is_integer = false;
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "bad fraction");
		}
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		*is_integer = false;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
		{
			p->pos = i;
			return fail(p, NOSTR_ERR_BAD_JSON, "bad exponent");
		}
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	p->pos = i;
	return NOSTR_OK;
}

static int
new_node(parser *p, size_t *index)
{
	nostr_json_doc *doc = p->doc;

	if (doc->count >= UINT32_MAX - 1)
		return fail(p, NOSTR_ERR_BAD_JSON, "too many values");
	if (doc->count == doc->cap)
	{
		size_t		cap = doc->cap * 2;
		nostr_json_node *n = realloc(doc->nodes, cap * sizeof(*n));

		if (!n)
			return fail(p, NOSTR_ERR_NO_MEMORY, "out of memory");
		doc->nodes = n;
		doc->cap = cap;
	}
	*index = doc->count++;
	memset(&doc->nodes[*index], 0, sizeof(nostr_json_node));
	return NOSTR_OK;
}

static int	parse_value(parser *p, unsigned depth, const char *key, size_t key_len);

static int
parse_container(parser *p, size_t idx, unsigned depth, bool object)
{
	char		close = object ? '}' : ']';
	uint32_t	count = 0;
	int			rc;

	if (depth >= p->max_depth)
		return fail(p, NOSTR_ERR_BAD_JSON, "nesting too deep");
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == (unsigned char) close)
	{
		p->pos++;
		p->doc->nodes[idx].count = 0;
		return NOSTR_OK;
	}
	for (;;)
	{
		const char *key = NULL;
		size_t		key_len = 0;

		if (object)
		{
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, NOSTR_ERR_BAD_JSON, "expected member name");
			if ((rc = parse_string(p, &key, &key_len)) != NOSTR_OK)
				return rc;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, NOSTR_ERR_BAD_JSON, "expected ':'");
			p->pos++;
		}
		if ((rc = parse_value(p, depth + 1, key, key_len)) != NOSTR_OK)
			return rc;
		count++;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, NOSTR_ERR_BAD_JSON, object ? "unterminated object" : "unterminated array");
		if (p->s[p->pos] == ',')
		{
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == (unsigned char) close)
		{
			p->pos++;
			break;
		}
		return fail(p, NOSTR_ERR_BAD_JSON, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	p->doc->nodes[idx].count = count;
	return NOSTR_OK;
}

static int
parse_literal(parser *p, const char *word, size_t n)
{
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, NOSTR_ERR_BAD_JSON, "unexpected character");
	p->pos += n;
	return NOSTR_OK;
}

static int
parse_value(parser *p, unsigned depth, const char *key, size_t key_len)
{
	size_t		idx = 0;
	int			rc;
	nostr_json_node *node;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, NOSTR_ERR_BAD_JSON, "unexpected end of input");
	if ((rc = new_node(p, &idx)) != NOSTR_OK)
		return rc;
	p->doc->nodes[idx].key = key;
	p->doc->nodes[idx].key_len = key_len;
	p->doc->nodes[idx].src_start = p->pos;
	switch (p->s[p->pos])
	{
		case '{':
			p->doc->nodes[idx].type = NOSTR_JSON_OBJECT;
			rc = parse_container(p, idx, depth, true);
			break;
		case '[':
			p->doc->nodes[idx].type = NOSTR_JSON_ARRAY;
			rc = parse_container(p, idx, depth, false);
			break;
		case '"':
			{
				const char *s;
				size_t		n;

				rc = parse_string(p, &s, &n);
				node = &p->doc->nodes[idx];
				node->type = NOSTR_JSON_STRING;
				node->str = s;
				node->len = n;
				break;
			}
		case 't':
			p->doc->nodes[idx].type = NOSTR_JSON_TRUE;
			rc = parse_literal(p, "true", 4);
			break;
		case 'f':
			p->doc->nodes[idx].type = NOSTR_JSON_FALSE;
			rc = parse_literal(p, "false", 5);
			break;
		case 'n':
			p->doc->nodes[idx].type = NOSTR_JSON_NULL;
			rc = parse_literal(p, "null", 4);
			break;
		default:
			{
				bool		is_int;
				size_t		start = p->pos;

				rc = parse_number(p, &is_int);
				node = &p->doc->nodes[idx];
				node->type = NOSTR_JSON_NUMBER;
				node->number_is_integer = is_int;
				node->str = (const char *) p->s + start;
				node->len = p->pos - start;
				break;
			}
	}
	if (rc != NOSTR_OK)
		return rc;
	node = &p->doc->nodes[idx];
	node->src_end = p->pos;
	node->next = (uint32_t) p->doc->count;
	return NOSTR_OK;
}

int
nostr_json_parse(const char *text, size_t len, unsigned max_depth, nostr_json_doc *doc,
				 nostr_error *err)
{
	parser		p;
	int			rc;

	memset(doc, 0, sizeof(*doc));
	if (!text && len)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "NULL input");
	p.s = (const unsigned char *) (text ? text : "");
	p.len = len;
	p.pos = 0;
	p.max_depth = max_depth ? max_depth : NOSTR_JSON_DEFAULT_MAX_DEPTH;
	p.doc = doc;
	p.err = err;

	/* A rough guess of the node count saves most reallocations on event-sized inputs. */
	doc->cap = len / 16 + 16;
	doc->nodes = malloc(doc->cap * sizeof(nostr_json_node));
	doc->strings = malloc(len + 1);
	if (!doc->nodes || !doc->strings)
	{
		nostr_json_free(doc);
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	}
	rc = parse_value(&p, 0, NULL, 0);
	if (rc == NOSTR_OK)
	{
		skip_ws(&p);
		if (p.pos != p.len)
			rc = fail(&p, NOSTR_ERR_BAD_JSON, "trailing characters after JSON value");
	}
	if (rc != NOSTR_OK)
	{
		nostr_json_free(doc);
		return rc;
	}
	nostr_error_clear(err);
	return NOSTR_OK;
}

void
nostr_json_free(nostr_json_doc *doc)
{
	if (!doc)
		return;
	free(doc->nodes);
	free(doc->strings);
	memset(doc, 0, sizeof(*doc));
}

size_t
nostr_json_member(const nostr_json_doc *doc, size_t obj, const char *key)
{
	size_t		klen = strlen(key);
	size_t		c = obj + 1;
	uint32_t	i;

	if (doc->nodes[obj].type != NOSTR_JSON_OBJECT)
		return (size_t) -1;
	for (i = 0; i < doc->nodes[obj].count; i++, c = doc->nodes[c].next)
	{
		const nostr_json_node *n = &doc->nodes[c];

		if (n->key_len == klen && memcmp(n->key, key, klen) == 0)
			return c;
	}
	return (size_t) -1;
}

bool
nostr_json_get_int64(const nostr_json_node *node, int64_t *out)
{
	const char *s = node->str;
	size_t		n = node->len;
	size_t		i = 0;
	bool		neg = false;
	uint64_t	v = 0;
	uint64_t	limit;

	if (node->type != NOSTR_JSON_NUMBER || !node->number_is_integer || n == 0)
		return false;
	if (s[0] == '-')
	{
		neg = true;
		i = 1;
	}
	limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; i < n; i++)
	{
		unsigned	d = (unsigned) (s[i] - '0');

		if (d > 9)
			return false;
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
	else
		*out = (int64_t) v;
	return true;
}

static const char hexl[] = "0123456789abcdef";

bool
nostr_json_write_string(nostr_buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	/* Worst case every byte becomes \u00xx: reserve once so the loop below never reallocates. */
	if (len > (SIZE_MAX - 2) / 6 || !nostr_buf_reserve(b, len * 6 + 2))
	{
		b->failed = true;
		return false;
	}
	b->data[b->len++] = '"';
	while (i < len)
	{
		size_t		run = i;
		unsigned char c;
		char	   *o;

		while (i < len && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
			i++;
		if (i > run)
		{
			memcpy(b->data + b->len, s + run, i - run);
			b->len += i - run;
		}
		if (i >= len)
			break;
		c = s[i++];
		o = b->data + b->len;
		o[0] = '\\';
		switch (c)
		{
			case '"':
				o[1] = '"';
				b->len += 2;
				break;
			case '\\':
				o[1] = '\\';
				b->len += 2;
				break;
			case '\b':
				o[1] = 'b';
				b->len += 2;
				break;
			case '\f':
				o[1] = 'f';
				b->len += 2;
				break;
			case '\n':
				o[1] = 'n';
				b->len += 2;
				break;
			case '\r':
				o[1] = 'r';
				b->len += 2;
				break;
			case '\t':
				o[1] = 't';
				b->len += 2;
				break;
			default:
				o[1] = 'u';
				o[2] = '0';
				o[3] = '0';
				o[4] = hexl[c >> 4];
				o[5] = hexl[c & 15];
				b->len += 6;
				break;
		}
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
	return true;
}

const char *
nostr_json_type_name(nostr_json_type type, bool with_article)
{
	switch (type)
	{
		case NOSTR_JSON_NULL:
			return "null";
		case NOSTR_JSON_FALSE:
		case NOSTR_JSON_TRUE:
			return with_article ? "a boolean" : "boolean";
		case NOSTR_JSON_NUMBER:
			return with_article ? "a number" : "number";
		case NOSTR_JSON_STRING:
			return with_article ? "a string" : "string";
		case NOSTR_JSON_ARRAY:
			return with_article ? "an array" : "array";
		case NOSTR_JSON_OBJECT:
			return with_article ? "an object" : "object";
	}
	return "unknown";
}
