/*
 * json.h: a small strict RFC 8259 reader and a JSON string writer.
 *
 * The reader builds a flat DOM: every value is one node, stored in document order, so a container's
 * children follow it and `next` jumps over a whole subtree. Strings are decoded (all escapes,
 * surrogate pairs to UTF-8) into one arena owned by the document. It rejects invalid UTF-8, lone
 * surrogates, raw control characters in strings, leading zeros, trailing garbage, and nesting
 * deeper than the caller's cap.
 *
 * The writer escapes exactly as JavaScript's JSON.stringify does, which is what NIP-01 ids are
 * computed over: \" \\ \b \f \n \r \t, other U+0000..U+001F as \u00xx (lower-case hex), and
 * everything else (U+007F, non-ASCII, U+2028/2029) verbatim.
 */
#ifndef BIGBROTR_NOSTR_JSON_H
#define BIGBROTR_NOSTR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/buf.h"
#include "nostr/error.h"

#define NOSTR_JSON_DEFAULT_MAX_DEPTH 64

typedef enum nostr_json_type
{
	NOSTR_JSON_NULL = 0,
	NOSTR_JSON_FALSE,
	NOSTR_JSON_TRUE,
	NOSTR_JSON_NUMBER,
	NOSTR_JSON_STRING,
	NOSTR_JSON_ARRAY,
	NOSTR_JSON_OBJECT
} nostr_json_type;

typedef struct nostr_json_node
{
	nostr_json_type type;
	uint32_t	next;			/* index of the node just past this value's subtree */
	uint32_t	count;			/* ARRAY/OBJECT: number of direct children (members) */
	bool		number_is_integer;	/* NUMBER: no fraction and no exponent */
	/*
	 * STRING: decoded UTF-8, NUL-terminated, may contain NUL (use len).
	 * NUMBER: the raw source text (NOT NUL-terminated).
	 */
	const char *str;
	size_t		len;
	/* Member of an OBJECT: its decoded key (NUL-terminated); otherwise NULL. */
	const char *key;
	size_t		key_len;
	/* Byte span of this value in the source text: [src_start, src_end). */
	size_t		src_start;
	size_t		src_end;
} nostr_json_node;

typedef struct nostr_json_doc
{
	nostr_json_node *nodes;		/* nodes[0] is the root value */
	size_t		count;
	size_t		cap;
	char	   *strings;		/* arena holding every decoded string and key */
	size_t		strings_len;
} nostr_json_doc;

/*
 * Parses exactly one JSON value (surrounded by optional whitespace) from text[0..len). max_depth 0
 * means NOSTR_JSON_DEFAULT_MAX_DEPTH. On success returns NOSTR_OK and doc must later be given to
 * nostr_json_free. On failure returns NOSTR_ERR_BAD_JSON, NOSTR_ERR_BAD_UTF8 or
 * NOSTR_ERR_NO_MEMORY with the byte offset in the message, and doc needs no freeing.
 */
int			nostr_json_parse(const char *text, size_t len, unsigned max_depth,
							 nostr_json_doc *doc, nostr_error *err);
void		nostr_json_free(nostr_json_doc *doc);

/*
 * Children iteration: `for (i = 0, c = nostr_json_first(doc, v); i < doc->nodes[v].count;
 * i++, c = doc->nodes[c].next)`.
 */
static inline size_t
nostr_json_first(const nostr_json_doc *doc, size_t index)
{
	(void) doc;
	return index + 1;
}

/* Index of the member of OBJECT node `obj` with this key, or (size_t) -1. First match wins. */
size_t		nostr_json_member(const nostr_json_doc *doc, size_t obj, const char *key);

/*
 * Reads an integer NUMBER node (no fraction, no exponent) into *out. False if the node is not
 * such a number or does not fit in int64.
 */
bool		nostr_json_get_int64(const nostr_json_node *node, int64_t *out);

/* "string", "array", ... for messages; with_article gives "a string", "an array" ("null" either way). */
const char *nostr_json_type_name(nostr_json_type type, bool with_article);

/*
 * Appends s[0..len) as a quoted JSON string with JSON.stringify's escaping. s must be valid
 * UTF-8 (not checked here). Returns false if the buffer failed to grow.
 */
bool		nostr_json_write_string(nostr_buf *b, const char *s, size_t len);

#endif							/* BIGBROTR_NOSTR_JSON_H */
