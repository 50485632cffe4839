/*
 * filter.c: strict NIP-01 filters from the outside (JSON filter objects of REQ/COUNT and the api's
 * bodies, the api's query-string parameters) and the client messages a read-only relay receives.
 * Both inputs fill one builder, so the JSON and the query-string forms cannot disagree on a rule;
 * every refusal names the member. Caps (NOSTR_FILTER_MAX_*) refuse, never truncate: a filter we
 * silently cut would answer another question. Pure C, malloc'd memory.
 */
#include <stdlib.h>
#include <string.h>

#include "nostr/filter.h"
#include "nostr/hex.h"
#include "nostr/json.h"
#include "nostr/utf8.h"

/* What a parsed filter owns (nostr_parsed_filter.storage). */
typedef struct filter_storage
{
	uint8_t		(*ids)[32];
	size_t		ids_cap;
	uint8_t		(*authors)[32];
	size_t		authors_cap;
	int32_t    *kinds;
	size_t		kinds_cap;
	nostr_tag_filter tags[NOSTR_FILTER_MAX_TAGS];
	char	  **tag_values[NOSTR_FILTER_MAX_TAGS];
	size_t		tag_caps[NOSTR_FILTER_MAX_TAGS];
	size_t		ntags;
	bool		seen_since,
				seen_until,
				seen_limit,
				seen_search;
} filter_storage;

static void
storage_free(filter_storage *st)
{
	if (!st)
		return;
	free(st->ids);
	free(st->authors);
	free(st->kinds);
	for (size_t t = 0; t < st->ntags; t++)
	{
		for (size_t i = 0; i < st->tags[t].count; i++)
			free(st->tag_values[t][i]);
		free(st->tag_values[t]);
	}
	free(st);
}

void
nostr_filter_free(nostr_parsed_filter *filter)
{
	if (!filter)
		return;
	storage_free(filter->storage);
	free(filter->relay);
	free(filter->cursor);
	memset(filter, 0, sizeof(*filter));
}

/* Makes room for one more element of size elem in *arr (capacity *cap, count n). */
static bool
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t		ncap;
	void	   *p;

	if (n < *cap && *arr)
		return true;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* Starts a list member (the pointer becomes non-NULL even when it stays empty). */
static int
list_start(filter_storage *st, void **arr, size_t *cap, size_t elem, nostr_error *err)
{
	if (!grow(arr, cap, 0, elem))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	(void) st;
	return NOSTR_OK;
}

static int
add_hex32(const char *name, uint8_t (**arr)[32], size_t *cap, size_t *count, const char *s,
		  size_t len, nostr_error *err)
{
	if (*count >= NOSTR_FILTER_MAX_VALUES)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: more than %d values", name,
							   NOSTR_FILTER_MAX_VALUES);
	if (!grow((void **) arr, cap, *count, 32))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	if (!nostr_hex_decode(s, len, (*arr)[*count], 32, false))
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
							   "%s: expected 64 lower-case hex characters (item %zu)", name,
							   *count + 1);
	(*count)++;
	return NOSTR_OK;
}

static int
add_kind(filter_storage *st, nostr_filter *f, bool is_int, int64_t v, nostr_error *err)
{
	if (f->kinds_count >= NOSTR_FILTER_MAX_VALUES)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kinds: more than %d values",
							   NOSTR_FILTER_MAX_VALUES);
	if (!is_int)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
							   "kinds: expected integers 0..65535 (item %zu)", f->kinds_count + 1);
	if (v < 0 || v > 65535)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kinds: %lld is not 0..65535", (long long) v);
	if (!grow((void **) &st->kinds, &st->kinds_cap, f->kinds_count, sizeof(int32_t)))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	st->kinds[f->kinds_count++] = (int32_t) v;
	return NOSTR_OK;
}

/* *slot gets the index of letter's tag filter, created (empty) when new. */
static int
tag_slot(filter_storage *st, char letter, bool must_be_new, int *slot, nostr_error *err)
{
	for (size_t t = 0; t < st->ntags; t++)
		if (st->tags[t].letter == letter)
		{
			if (must_be_new)
				return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "#%c: appears twice", letter);
			*slot = (int) t;
			return NOSTR_OK;
		}
	if (st->ntags >= NOSTR_FILTER_MAX_TAGS)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "#%c: more than %d tag letters in one filter",
							   letter, NOSTR_FILTER_MAX_TAGS);
	st->tags[st->ntags].letter = letter;
	st->tags[st->ntags].count = 0;
	st->tag_values[st->ntags] = NULL;
	st->tag_caps[st->ntags] = 0;
	if (!grow((void **) &st->tag_values[st->ntags], &st->tag_caps[st->ntags], 0, sizeof(char *)))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	*slot = (int) st->ntags++;
	return NOSTR_OK;
}

static int
add_tag_value(filter_storage *st, int t, const char *s, size_t len, nostr_error *err)
{
	nostr_tag_filter *tf = &st->tags[t];
	char	   *copy;

	if (tf->count >= NOSTR_FILTER_MAX_VALUES)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "#%c: more than %d values", tf->letter,
							   NOSTR_FILTER_MAX_VALUES);
	if (len > NOSTR_FILTER_MAX_TAG_VALUE)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "#%c: value %zu is longer than %d bytes",
							   tf->letter, tf->count + 1, NOSTR_FILTER_MAX_TAG_VALUE);
	if (memchr(s, '\0', len))
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "#%c: value %zu holds U+0000", tf->letter,
							   tf->count + 1);
	if (!nostr_utf8_valid(s, len))
		return nostr_error_set(err, NOSTR_ERR_BAD_UTF8, "#%c: value %zu is not valid UTF-8",
							   tf->letter, tf->count + 1);
	if (!grow((void **) &st->tag_values[t], &st->tag_caps[t], tf->count, sizeof(char *)) ||
		!(copy = malloc(len + 1)))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	memcpy(copy, s, len);
	copy[len] = '\0';
	st->tag_values[t][tf->count++] = copy;
	return NOSTR_OK;
}

/* A copy of s[0..len) for relay / cursor: valid UTF-8 without NUL, at most 4096 bytes. */
static int
copy_text(const char *name, const char *s, size_t len, char **out, nostr_error *err)
{
	if (*out)
		return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "%s: given more than once", name);
	if (len > 4096 || memchr(s, '\0', len) || !nostr_utf8_valid(s, len))
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: not a valid value", name);
	if (!(*out = malloc(len + 1)))
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	memcpy(*out, s, len);
	(*out)[len] = '\0';
	return NOSTR_OK;
}

static int
set_scalar(const char *name, bool *seen, bool *has, int64_t *dst, bool is_int, int64_t v,
		   nostr_error *err)
{
	if (*seen)
		return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "%s: given more than once", name);
	*seen = true;
	if (!is_int || v < 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected an integer >= 0", name);
	*has = true;
	*dst = v;
	return NOSTR_OK;
}

/* Whether name is "#" and one ASCII letter. */
static bool
is_tag_name(const char *name, size_t len)
{
	return len == 2 && name[0] == '#' &&
		((name[1] >= 'a' && name[1] <= 'z') || (name[1] >= 'A' && name[1] <= 'Z'));
}

/* A name safe to quote in a message (valid UTF-8, short), else a placeholder. */
static const char *
printable_name(const char *name, size_t len)
{
	if (len == 0)
		return "(empty)";
	if (len > 64 || memchr(name, '\0', len) || !nostr_utf8_valid(name, len))
		return "(not printable)";
	return name;
}

/* Points out->f at the storage's arrays, which are final now. */
static void
finish(nostr_parsed_filter *out, filter_storage *st)
{
	if (out->f.ids)
		out->f.ids = (const uint8_t (*)[32]) st->ids;
	if (out->f.authors)
		out->f.authors = (const uint8_t (*)[32]) st->authors;
	if (out->f.kinds)
		out->f.kinds = st->kinds;
	for (size_t t = 0; t < st->ntags; t++)
		st->tags[t].values = (const char *const *) st->tag_values[t];
	out->f.tags = st->ntags ? st->tags : NULL;
	out->f.tags_count = st->ntags;
}

static int
begin(nostr_parsed_filter *out, nostr_error *err)
{
	memset(out, 0, sizeof(*out));
	out->storage = calloc(1, sizeof(filter_storage));
	if (!out->storage)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory reading a filter");
	return NOSTR_OK;
}

static int
fail(nostr_parsed_filter *out, int rc)
{
	nostr_filter_free(out);
	return rc;
}

/* ---- JSON ---- */

static int
json_list(const nostr_json_doc *doc, size_t node, const char *name, nostr_error *err)
{
	if (doc->nodes[node].type != NOSTR_JSON_ARRAY)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected an array, got %s", name,
							   nostr_json_type_name(doc->nodes[node].type, true));
	if (doc->nodes[node].count > NOSTR_FILTER_MAX_VALUES)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: more than %d values", name,
							   NOSTR_FILTER_MAX_VALUES);
	return NOSTR_OK;
}

static int
json_member(const nostr_json_doc *doc, size_t m, bool allow_relay, nostr_parsed_filter *out,
			filter_storage *st, nostr_error *err)
{
	const nostr_json_node *n = &doc->nodes[m];
	const char *key = n->key;
	size_t		klen = n->key_len;
	size_t		c;
	uint32_t	i;
	int			rc;
	int64_t		v = 0;
	bool		is_int;

	if (klen == 3 && memcmp(key, "ids", 3) == 0)
	{
		if (out->f.ids)
			return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "ids: appears twice");
		if ((rc = json_list(doc, m, "ids", err)) != NOSTR_OK ||
			(rc = list_start(st, (void **) &st->ids, &st->ids_cap, 32, err)) != NOSTR_OK)
			return rc;
		out->f.ids = (const uint8_t (*)[32]) st->ids;
		for (i = 0, c = m + 1; i < n->count; i++, c = doc->nodes[c].next)
		{
			const nostr_json_node *e = &doc->nodes[c];

			if (e->type != NOSTR_JSON_STRING)
				return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
									   "ids: expected 64 lower-case hex characters (item %u)", i + 1);
			if ((rc = add_hex32("ids", &st->ids, &st->ids_cap, &out->f.ids_count, e->str, e->len,
								err)) != NOSTR_OK)
				return rc;
		}
		return NOSTR_OK;
	}
	if (klen == 7 && memcmp(key, "authors", 7) == 0)
	{
		if (out->f.authors)
			return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "authors: appears twice");
		if ((rc = json_list(doc, m, "authors", err)) != NOSTR_OK ||
			(rc = list_start(st, (void **) &st->authors, &st->authors_cap, 32, err)) != NOSTR_OK)
			return rc;
		out->f.authors = (const uint8_t (*)[32]) st->authors;
		for (i = 0, c = m + 1; i < n->count; i++, c = doc->nodes[c].next)
		{
			const nostr_json_node *e = &doc->nodes[c];

			if (e->type != NOSTR_JSON_STRING)
				return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
									   "authors: expected 64 lower-case hex characters (item %u)",
									   i + 1);
			if ((rc = add_hex32("authors", &st->authors, &st->authors_cap, &out->f.authors_count,
								e->str, e->len, err)) != NOSTR_OK)
				return rc;
		}
		return NOSTR_OK;
	}
	if (klen == 5 && memcmp(key, "kinds", 5) == 0)
	{
		if (out->f.kinds)
			return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "kinds: appears twice");
		if ((rc = json_list(doc, m, "kinds", err)) != NOSTR_OK ||
			(rc = list_start(st, (void **) &st->kinds, &st->kinds_cap, sizeof(int32_t), err)) != NOSTR_OK)
			return rc;
		out->f.kinds = st->kinds;
		for (i = 0, c = m + 1; i < n->count; i++, c = doc->nodes[c].next)
		{
			is_int = nostr_json_get_int64(&doc->nodes[c], &v);
			if (!is_int && doc->nodes[c].type == NOSTR_JSON_NUMBER && doc->nodes[c].number_is_integer)
				return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kinds: item %u is not 0..65535", i + 1);
			if ((rc = add_kind(st, &out->f, is_int, v, err)) != NOSTR_OK)
				return rc;
		}
		return NOSTR_OK;
	}
	if (is_tag_name(key, klen))
	{
		int			t = -1;

		if ((rc = tag_slot(st, key[1], true, &t, err)) != NOSTR_OK ||
			(rc = json_list(doc, m, key, err)) != NOSTR_OK)
			return rc;
		for (i = 0, c = m + 1; i < n->count; i++, c = doc->nodes[c].next)
		{
			const nostr_json_node *e = &doc->nodes[c];

			if (e->type != NOSTR_JSON_STRING)
				return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: item %u is %s, not a string",
									   key, i + 1, nostr_json_type_name(e->type, true));
			if ((rc = add_tag_value(st, t, e->str, e->len, err)) != NOSTR_OK)
				return rc;
		}
		return NOSTR_OK;
	}
	if ((klen == 5 && memcmp(key, "since", 5) == 0) || (klen == 5 && memcmp(key, "until", 5) == 0) ||
		(klen == 5 && memcmp(key, "limit", 5) == 0))
	{
		is_int = nostr_json_get_int64(n, &v);
		if (key[0] == 's')
			return set_scalar("since", &st->seen_since, &out->f.has_since, &out->f.since, is_int, v, err);
		if (key[0] == 'u')
			return set_scalar("until", &st->seen_until, &out->f.has_until, &out->f.until, is_int, v, err);
		return set_scalar("limit", &st->seen_limit, &out->f.has_limit, &out->f.limit, is_int, v, err);
	}
	if (klen == 6 && memcmp(key, "search", 6) == 0)
	{
		if (st->seen_search)
			return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "search: appears twice");
		st->seen_search = true;
		if (n->type != NOSTR_JSON_STRING)
			return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "search: expected a string");
		out->has_search = true;
		return NOSTR_OK;
	}
	if (allow_relay && ((klen == 5 && memcmp(key, "relay", 5) == 0) ||
						(klen == 6 && memcmp(key, "cursor", 6) == 0)))
	{
		const char *name = key[0] == 'r' ? "relay" : "cursor";

		if (n->type != NOSTR_JSON_STRING)
			return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected a string, got %s", name,
								   nostr_json_type_name(n->type, true));
		return copy_text(name, n->str, n->len, key[0] == 'r' ? &out->relay : &out->cursor, err);
	}
	if (klen >= 1 && key[0] == '#')
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
							   "%s: a tag filter is '#' and one letter a-z or A-Z",
							   printable_name(key, klen));
	return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: unknown member", printable_name(key, klen));
}

int
nostr_filter_parse_json(const char *json, size_t len, bool allow_relay, nostr_parsed_filter *out,
						nostr_error *err)
{
	nostr_json_doc doc;
	filter_storage *st;
	size_t		c;
	uint32_t	i;
	int			rc;

	if ((rc = begin(out, err)) != NOSTR_OK)
		return rc;
	st = out->storage;
	if ((rc = nostr_json_parse(json, len, 8, &doc, err)) != NOSTR_OK)
		return fail(out, rc);
	if (doc.nodes[0].type != NOSTR_JSON_OBJECT)
	{
		rc = nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "filter: expected an object, got %s",
							 nostr_json_type_name(doc.nodes[0].type, true));
		nostr_json_free(&doc);
		return fail(out, rc);
	}
	for (i = 0, c = 1; i < doc.nodes[0].count; i++, c = doc.nodes[c].next)
	{
		if ((rc = json_member(&doc, c, allow_relay, out, st, err)) != NOSTR_OK)
		{
			nostr_json_free(&doc);
			return fail(out, rc);
		}
	}
	nostr_json_free(&doc);
	finish(out, st);
	nostr_error_clear(err);
	return NOSTR_OK;
}

/* ---- query-string parameters ---- */

/* A decimal integer >= 0 (digits only, fits int64). */
static bool
parse_uint(const char *s, size_t len, int64_t *out)
{
	uint64_t	v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	if (v > (uint64_t) INT64_MAX)
		return false;
	*out = (int64_t) v;
	return true;
}

static int
param_list_item(const char *name, const char *item, size_t len, nostr_parsed_filter *out,
				filter_storage *st, int tag, nostr_error *err)
{
	int64_t		v = 0;

	if (len == 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: empty value", name);
	if (strcmp(name, "ids") == 0)
		return add_hex32("ids", &st->ids, &st->ids_cap, &out->f.ids_count, item, len, err);
	if (strcmp(name, "authors") == 0)
		return add_hex32("authors", &st->authors, &st->authors_cap, &out->f.authors_count, item, len,
						 err);
	if (strcmp(name, "kinds") == 0)
	{
		size_t		digits = 0;

		while (digits < len && item[digits] >= '0' && item[digits] <= '9')
			digits++;
		if (digits == len && !parse_uint(item, len, &v))
			return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kinds: %.*s%s is not 0..65535",
								   (int) (len > 20 ? 20 : len), item, len > 20 ? "..." : "");
		if (digits != len)
			return nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
								   "kinds: expected integers 0..65535 (item %zu)", out->f.kinds_count + 1);
		return add_kind(st, &out->f, true, v, err);
	}
	return add_tag_value(st, tag, item, len, err);
}

int
nostr_filter_from_params(const char *const *names, const char *const *values, size_t n,
						 const char *const *ignore, nostr_parsed_filter *out, nostr_error *err)
{
	filter_storage *st;
	int			rc;

	if ((rc = begin(out, err)) != NOSTR_OK)
		return rc;
	st = out->storage;
	for (size_t p = 0; p < n; p++)
	{
		const char *name = names[p];
		const char *value = values[p] ? values[p] : "";
		size_t		vlen = strlen(value);
		size_t		nlen = strlen(name);
		bool		skip = false;
		int			tag = -1;
		int64_t		v = 0;
		bool		is_int;

		for (const char *const *ig = ignore; ig && *ig; ig++)
			if (strcmp(*ig, name) == 0)
				skip = true;
		if (skip)
			continue;
		if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0 || strcmp(name, "limit") == 0)
		{
			is_int = parse_uint(value, vlen, &v);
			if (name[0] == 's')
				rc = set_scalar("since", &st->seen_since, &out->f.has_since, &out->f.since, is_int, v, err);
			else if (name[0] == 'u')
				rc = set_scalar("until", &st->seen_until, &out->f.has_until, &out->f.until, is_int, v, err);
			else
				rc = set_scalar("limit", &st->seen_limit, &out->f.has_limit, &out->f.limit, is_int, v, err);
			if (rc != NOSTR_OK)
				return fail(out, rc);
			continue;
		}
		if (strcmp(name, "relay") == 0 || strcmp(name, "cursor") == 0)
		{
			if ((rc = copy_text(name, value, vlen, name[0] == 'r' ? &out->relay : &out->cursor,
								err)) != NOSTR_OK)
				return fail(out, rc);
			continue;
		}
		if (strcmp(name, "search") == 0)
		{
			out->has_search = true;
			continue;
		}
		if (strcmp(name, "ids") == 0)
		{
			if (!out->f.ids && (rc = list_start(st, (void **) &st->ids, &st->ids_cap, 32, err)) != NOSTR_OK)
				return fail(out, rc);
			out->f.ids = (const uint8_t (*)[32]) st->ids;
		}
		else if (strcmp(name, "authors") == 0)
		{
			if (!out->f.authors &&
				(rc = list_start(st, (void **) &st->authors, &st->authors_cap, 32, err)) != NOSTR_OK)
				return fail(out, rc);
			out->f.authors = (const uint8_t (*)[32]) st->authors;
		}
		else if (strcmp(name, "kinds") == 0)
		{
			if (!out->f.kinds &&
				(rc = list_start(st, (void **) &st->kinds, &st->kinds_cap, sizeof(int32_t), err)) != NOSTR_OK)
				return fail(out, rc);
			out->f.kinds = st->kinds;
		}
		else if (is_tag_name(name, nlen))
		{
			if ((rc = tag_slot(st, name[1], false, &tag, err)) != NOSTR_OK)
				return fail(out, rc);
		}
		else if (nlen >= 1 && name[0] == '#')
			return fail(out, nostr_error_set(err, NOSTR_ERR_BAD_FIELD,
											 "%s: a tag filter is '#' and one letter a-z or A-Z",
											 printable_name(name, nlen)));
		else
			return fail(out, nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: unknown parameter",
											 printable_name(name, nlen)));
		/* A list: comma-separated items. */
		for (size_t at = 0;;)
		{
			const char *comma = memchr(value + at, ',', vlen - at);
			size_t		end = comma ? (size_t) (comma - value) : vlen;

			if ((rc = param_list_item(name, value + at, end - at, out, st, tag, err)) != NOSTR_OK)
				return fail(out, rc);
			if (!comma)
				break;
			at = end + 1;
		}
		/* the arrays may have moved */
		if (out->f.ids)
			out->f.ids = (const uint8_t (*)[32]) st->ids;
		if (out->f.authors)
			out->f.authors = (const uint8_t (*)[32]) st->authors;
		if (out->f.kinds)
			out->f.kinds = st->kinds;
	}
	finish(out, st);
	nostr_error_clear(err);
	return NOSTR_OK;
}

/* ---- matching ---- */

static bool
in_hex_list(const uint8_t (*list)[32], size_t n, const uint8_t *v)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], v, 32) == 0)
			return true;
	return false;
}

bool
nostr_filter_matches(const nostr_filter *f, const nostr_event *ev)
{
	if (f->ids && !in_hex_list(f->ids, f->ids_count, ev->id))
		return false;
	if (f->authors && !in_hex_list(f->authors, f->authors_count, ev->pubkey))
		return false;
	if (f->kinds)
	{
		size_t		i;

		for (i = 0; i < f->kinds_count && f->kinds[i] != ev->kind; i++)
			;
		if (i == f->kinds_count)
			return false;
	}
	if (f->has_since && ev->created_at < f->since)
		return false;
	if (f->has_until && ev->created_at > f->until)
		return false;
	for (size_t t = 0; t < f->tags_count; t++)
	{
		const nostr_tag_filter *tf = &f->tags[t];
		bool		hit = false;

		for (size_t g = 0; g < ev->tag_count && !hit; g++)
		{
			const nostr_tag *tag = &ev->tags[g];

			if (tag->count < 2 || tag->items[0].len != 1 || tag->items[0].ptr[0] != tf->letter)
				continue;
			for (size_t i = 0; i < tf->count && !hit; i++)
			{
				size_t		vl = strlen(tf->values[i]);

				hit = vl == tag->items[1].len && memcmp(tf->values[i], tag->items[1].ptr, vl) == 0;
			}
		}
		if (!hit)
			return false;
	}
	return true;
}

/* ---- client messages ---- */

void
nostr_client_msg_free(nostr_client_msg *msg)
{
	if (!msg)
		return;
	free(msg->label);
	free(msg->sub_id);
	for (size_t i = 0; i < msg->filters_count; i++)
		free(msg->filters[i]);
	free(msg->filters);
	free(msg->event_id_hex);
	memset(msg, 0, sizeof(*msg));
}

static char *
dup_n(const char *s, size_t n)
{
	char	   *p = malloc(n + 1);

	if (p)
	{
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int
msg_fail(nostr_client_msg *out, nostr_json_doc *doc, int rc)
{
	if (doc)
		nostr_json_free(doc);
	nostr_client_msg_free(out);
	return rc;
}

int
nostr_client_msg_parse(const char *text, size_t len, size_t max_size, nostr_client_msg *out,
					   nostr_error *err)
{
	nostr_json_doc doc;
	const nostr_json_node *root;
	const nostr_json_node *lab;
	size_t		c;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (max_size && len > max_size)
		return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "message of %zu bytes is over %zu", len,
							   max_size);
	if ((rc = nostr_json_parse(text, len, 0, &doc, err)) != NOSTR_OK)
		return rc;
	root = &doc.nodes[0];
	if (root->type != NOSTR_JSON_ARRAY || root->count == 0 || doc.nodes[1].type != NOSTR_JSON_STRING)
		return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
												   "a message is an array starting with a string label"));
	lab = &doc.nodes[1];
	if (!(out->label = dup_n(lab->str, lab->len)))
		return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory"));
	c = lab->next;
	if (strcmp(out->label, "REQ") == 0 || strcmp(out->label, "COUNT") == 0 ||
		strcmp(out->label, "CLOSE") == 0)
	{
		const nostr_json_node *sub;
		bool		close = out->label[0] == 'C' && out->label[1] == 'L';

		out->type = close ? NOSTR_CLIENT_CLOSE :
			out->label[0] == 'R' ? NOSTR_CLIENT_REQ : NOSTR_CLIENT_COUNT;
		if (root->count < 2 || doc.nodes[c].type != NOSTR_JSON_STRING || doc.nodes[c].len == 0 ||
			doc.nodes[c].len > 64 || memchr(doc.nodes[c].str, '\0', doc.nodes[c].len))
			return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
													   "%s: the subscription id must be a string of 1..64 bytes",
													   out->label));
		sub = &doc.nodes[c];
		if (!(out->sub_id = dup_n(sub->str, sub->len)))
			return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory"));
		c = sub->next;
		if (close)
		{
			if (root->count != 2)
				return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
														   "CLOSE: expected [\"CLOSE\", subscription id]"));
			nostr_json_free(&doc);
			nostr_error_clear(err);
			return NOSTR_OK;
		}
		if (root->count < 3)
			return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
													   "%s: needs at least one filter", out->label));
		out->filters = calloc(root->count - 2, sizeof(char *));
		if (!out->filters)
			return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory"));
		for (uint32_t i = 2; i < root->count; i++, c = doc.nodes[c].next)
		{
			const nostr_json_node *f = &doc.nodes[c];

			if (f->type != NOSTR_JSON_OBJECT)
				return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
														   "%s: filter %u is %s, not an object",
														   out->label, i - 1,
														   nostr_json_type_name(f->type, true)));
			if (!(out->filters[out->filters_count] = dup_n(text + f->src_start, f->src_end - f->src_start)))
				return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory"));
			out->filters_count++;
		}
	}
	else if (strcmp(out->label, "EVENT") == 0 || strcmp(out->label, "AUTH") == 0)
	{
		size_t		id;

		out->type = out->label[0] == 'E' ? NOSTR_CLIENT_EVENT : NOSTR_CLIENT_AUTH;
		if (root->count != 2 || doc.nodes[c].type != NOSTR_JSON_OBJECT)
			return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
													   "%s: expected [\"%s\", event object]",
													   out->label, out->label));
		id = nostr_json_member(&doc, c, "id");
		if (id != (size_t) -1 && doc.nodes[id].type == NOSTR_JSON_STRING && doc.nodes[id].len == 64)
		{
			uint8_t		raw[32];

			if (nostr_hex_decode(doc.nodes[id].str, 64, raw, 32, false) &&
				!(out->event_id_hex = dup_n(doc.nodes[id].str, 64)))
				return msg_fail(out, &doc, nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory"));
		}
	}
	else
		out->type = NOSTR_CLIENT_OTHER;
	nostr_json_free(&doc);
	nostr_error_clear(err);
	return NOSTR_OK;
}
