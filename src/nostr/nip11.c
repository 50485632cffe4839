/*
 * nip11.c: NIP-11 document -> nip11 columns (see nip11.h). Arrays and objects are copied as their
 * source text (already validated by the strict parser); jsonb canonicalizes them later, so the
 * content hash does not depend on how the relay formatted its JSON.
 */
#include "nostr/nip11.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/buf.h"
#include "nostr/json.h"

typedef enum field_kind
{
	FIELD_STRING,
	FIELD_INT_ARRAY,
	FIELD_OBJECT
} field_kind;

static const struct
{
	const char *name;
	field_kind	kind;
}			known_fields[] = {
	{"name", FIELD_STRING}, {"description", FIELD_STRING}, {"banner", FIELD_STRING},
	{"icon", FIELD_STRING}, {"pubkey", FIELD_STRING}, {"contact", FIELD_STRING},
	{"supported_nips", FIELD_INT_ARRAY}, {"software", FIELD_STRING}, {"version", FIELD_STRING},
	{"privacy_policy", FIELD_STRING}, {"terms_of_service", FIELD_STRING},
	{"limitation", FIELD_OBJECT},
};

#define N_KNOWN (sizeof(known_fields) / sizeof(known_fields[0]))

/* numeric takes at most 131072 digits before the point; stay far below anything near that. */
#define MAX_NUMBER_TEXT 1000

/* Whether a number's text is one numeric can hold: a bounded length and a bounded exponent. */
static bool
number_storable(const nostr_json_node *n)
{
	const char *e;
	long		exp;

	if (n->len > MAX_NUMBER_TEXT)
		return false;
	e = memchr(n->str, 'e', n->len);
	if (e == NULL)
		e = memchr(n->str, 'E', n->len);
	if (e == NULL)
		return true;
	exp = 0;
	for (const char *p = e + 1; p < n->str + n->len; p++)
		if (*p >= '0' && *p <= '9' && exp < 100000)
			exp = exp * 10 + (*p - '0');
	return exp <= MAX_NUMBER_TEXT;
}

/* Whether every string, key and number of the subtree at index i can be stored in jsonb. */
static bool
subtree_storable(const nostr_json_doc *doc, size_t i)
{
	size_t		end = doc->nodes[i].next;

	for (size_t k = i; k < end; k++)
	{
		const nostr_json_node *n = &doc->nodes[k];

		/* The root's own key is checked by the caller. */
		if (k > i && n->key && strlen(n->key) != n->key_len)
			return false;
		if (n->type == NOSTR_JSON_STRING && strlen(n->str) != n->len)
			return false;
		if (n->type == NOSTR_JSON_NUMBER && !number_storable(n))
			return false;
	}
	return true;
}

static bool
all_integers(const nostr_json_doc *doc, size_t arr)
{
	size_t		c = nostr_json_first(doc, arr);

	for (uint32_t k = 0; k < doc->nodes[arr].count; k++, c = doc->nodes[c].next)
		if (doc->nodes[c].type != NOSTR_JSON_NUMBER || !doc->nodes[c].number_is_integer)
			return false;
	return true;
}

static void
note_dropped(nostr_nip11 *out, const char *key, const char *why)
{
	size_t		used = strlen(out->dropped);

	if (used + 4 < sizeof(out->dropped))
		snprintf(out->dropped + used, sizeof(out->dropped) - used, "%s%s (%s)", used ? ", " : "",
				 key, why);
}

/* Appends "key": to b, with a comma before every member but the first. */
static void
put_key(nostr_buf *b, bool *first, const char *key, size_t key_len)
{
	if (!*first)
		nostr_buf_putc(b, ',');
	*first = false;
	nostr_json_write_string(b, key, key_len);
	nostr_buf_putc(b, ':');
}

static void
put_value(nostr_buf *b, const char *text, const nostr_json_doc *doc, size_t i)
{
	const nostr_json_node *n = &doc->nodes[i];

	if (n->type == NOSTR_JSON_STRING)
		nostr_json_write_string(b, n->str, n->len);
	else
		nostr_buf_append(b, text + n->src_start, n->src_end - n->src_start);
}

static int
known_index(const char *key, size_t key_len)
{
	for (size_t k = 0; k < N_KNOWN; k++)
		if (strlen(known_fields[k].name) == key_len && memcmp(known_fields[k].name, key, key_len) == 0)
			return (int) k;
	return -1;
}

static bool
type_fits(const nostr_json_doc *doc, size_t i, field_kind kind)
{
	switch (kind)
	{
		case FIELD_STRING:
			return doc->nodes[i].type == NOSTR_JSON_STRING;
		case FIELD_INT_ARRAY:
			return doc->nodes[i].type == NOSTR_JSON_ARRAY && all_integers(doc, i);
		case FIELD_OBJECT:
			return doc->nodes[i].type == NOSTR_JSON_OBJECT;
	}
	return false;
}

int
nostr_nip11_map(const char *body, size_t len, nostr_nip11 *out, nostr_error *err)
{
	nostr_json_doc doc;
	nostr_buf	b;
	nostr_buf	extras;
	bool		first = true;
	bool		first_extra = true;
	bool		seen[N_KNOWN] = {false};
	size_t		c;
	int			rc;

	memset(out, 0, sizeof(*out));
	rc = nostr_json_parse(body, len, 0, &doc, err);
	if (rc != NOSTR_OK)
		return rc;
	if (doc.nodes[0].type != NOSTR_JSON_OBJECT)
	{
		rc = nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "the document is a JSON %s, expected an object",
							 nostr_json_type_name(doc.nodes[0].type, false));
		nostr_json_free(&doc);
		return rc;
	}

	nostr_buf_init(&b);
	nostr_buf_init(&extras);
	nostr_buf_putc(&b, '{');
	c = nostr_json_first(&doc, 0);
	for (uint32_t m = 0; m < doc.nodes[0].count; m++, c = doc.nodes[c].next)
	{
		const nostr_json_node *n = &doc.nodes[c];
		int			k = known_index(n->key, n->key_len);
		bool		key_ok = strlen(n->key) == n->key_len;

		if (k >= 0)
		{
			/* First occurrence wins, as nostr_json_member does. */
			if (seen[k])
				continue;
			seen[k] = true;
			if (n->type == NOSTR_JSON_NULL)
				continue;		/* null means absent */
			if (!type_fits(&doc, c, known_fields[k].kind))
			{
				out->wrong_type++;
				note_dropped(out, n->key, n->type == NOSTR_JSON_ARRAY && known_fields[k].kind == FIELD_INT_ARRAY ?
							 "array of non-integers" : nostr_json_type_name(n->type, false));
				continue;
			}
			if (!subtree_storable(&doc, c))
			{
				out->unstorable++;
				note_dropped(out, n->key, "unstorable");
				continue;
			}
			put_key(&b, &first, n->key, n->key_len);
			put_value(&b, body, &doc, c);
			out->known++;
		}
		else if (!key_ok || !subtree_storable(&doc, c))
		{
			out->unstorable++;
			note_dropped(out, key_ok ? n->key : "(key with U+0000)", "unstorable");
		}
		else
		{
			put_key(&extras, &first_extra, n->key, n->key_len);
			put_value(&extras, body, &doc, c);
			out->extra++;
		}
	}
	if (out->extra > 0)
	{
		put_key(&b, &first, "extra_fields", strlen("extra_fields"));
		nostr_buf_putc(&b, '{');
		nostr_buf_append(&b, extras.data, extras.len);
		nostr_buf_putc(&b, '}');
	}
	nostr_buf_putc(&b, '}');
	if (extras.failed)
		b.failed = true;
	nostr_buf_free(&extras);
	nostr_json_free(&doc);
	out->json = nostr_buf_steal(&b, &out->json_len);
	if (out->json == NULL)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory mapping a NIP-11 document");
	return NOSTR_OK;
}

void
nostr_nip11_free(nostr_nip11 *doc)
{
	free(doc->json);
	doc->json = NULL;
	doc->json_len = 0;
}
