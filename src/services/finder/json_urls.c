/*
 * json_urls.c: collects the top-level array strings or top-level object keys of untrusted JSON
 * with the nostr layer's strict parser (nostr/json.c: one reader for everything that comes from
 * the network, whose memory is released on every path), and rejects any other top-level shape with
 * a clear message.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "nostr/json.h"
#include "services/finder/json_urls.h"

typedef enum Want
{
	WANT_ARRAY,
	WANT_OBJECT
} Want;

/*
 * Copies the wanted items of a parsed document into a List. Array elements that are not strings,
 * and strings holding U+0000 (no URL does), are counted in *others when it is not NULL.
 */
static List *
collect_items(const nostr_json_doc *doc, Want want, int *others)
{
	const nostr_json_node *root = &doc->nodes[0];
	List	   *items = NIL;
	size_t		child = nostr_json_first(doc, 0);

	for (uint32_t i = 0; i < root->count; i++, child = doc->nodes[child].next)
	{
		const nostr_json_node *node = &doc->nodes[child];
		const char *text = want == WANT_ARRAY ? node->str : node->key;
		size_t		len = want == WANT_ARRAY ? node->len : node->key_len;

		if ((want == WANT_ARRAY && node->type != NOSTR_JSON_STRING) || memchr(text, '\0', len) != NULL)
		{
			if (others)
				(*others)++;
		}
		else
			items = lappend(items, pnstrdup(text, len));
	}
	return items;
}

static char *
collect(const char *json, size_t len, Want want, List **items, int *others)
{
	const nostr_json_type wanted = want == WANT_ARRAY ? NOSTR_JSON_ARRAY : NOSTR_JSON_OBJECT;
	nostr_json_doc doc;
	nostr_error err;
	char	   *volatile problem = NULL;

	*items = NIL;
	if (others)
		*others = 0;
	if (len > (size_t) (MaxAllocSize - 1))
		return psprintf("JSON text of %zu bytes is too large", len);
	if (memchr(json, '\0', len) != NULL)
		return pstrdup("text contains a NUL byte");

	nostr_error_clear(&err);
	if (nostr_json_parse(json, len, 0, &doc, &err) != NOSTR_OK)
		return psprintf("not valid JSON: %s", err.message);
	/* The document is malloc'd: freed whatever happens, an out-of-memory ERROR included. */
	PG_TRY();
	{
		if (doc.nodes[0].type != wanted)
			problem = psprintf("expected a JSON %s, got %s", nostr_json_type_name(wanted, false),
							   nostr_json_type_name(doc.nodes[0].type, true));
		else
			*items = collect_items(&doc, want, others);
	}
	PG_FINALLY();
	{
		nostr_json_free(&doc);
	}
	PG_END_TRY();
	return problem;
}

char *
json_array_strings(const char *json, size_t len, List **strings, int *others)
{
	return collect(json, len, WANT_ARRAY, strings, others);
}

char *
json_object_keys_list(const char *json, size_t len, List **keys)
{
	return collect(json, len, WANT_OBJECT, keys, NULL);
}
