/*
 * api_query.c: reads a filter for the api. nostr/filter.c does the strict reading (one set of rules
 * for the JSON body, the query string and the relay's REQ); here the result becomes palloc'd SQL
 * parameters right away (and the malloc'd filter is freed even on an ERROR), the relay URL is
 * normalized by the relay URL rules, the cursor is decoded, and each tag value gets its
 * events.tagvalues entry by the column's own C rule (bigbrotr_tagvalue_entry), so the GIN index and
 * the query cannot disagree.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "nostr/hex.h"
#include "services/api/api_query.h"
#include "services/common/relay_url_check.h"

/* src/sql/tagvalues_sql.c: the one rule for what a tag value is in events.tagvalues. */
extern PGDLLEXPORT Datum bigbrotr_tagvalue_entry(PG_FUNCTION_ARGS);

static Datum
hex_array(const uint8_t (*list)[32], size_t n, Datum *first)
{
	Datum	   *items = palloc(sizeof(Datum) * n);

	for (size_t i = 0; i < n; i++)
	{
		bytea	   *b = palloc(VARHDRSZ + 32);

		SET_VARSIZE(b, VARHDRSZ + 32);
		memcpy(VARDATA(b), list[i], 32);
		items[i] = PointerGetDatum(b);
	}
	*first = items[0];
	return PointerGetDatum(construct_array(items, (int) n, BYTEAOID, -1, false, TYPALIGN_INT));
}

static Datum
text_array(Datum *items, size_t n)
{
	return PointerGetDatum(construct_array(items, (int) n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* "<created_at>.<64 hex>": the cursor api_cursor_encode wrote. */
static bool
cursor_decode(const char *s, int64 *at, bytea **id)
{
	const char *dot = strchr(s, '.');
	size_t		digits = dot ? (size_t) (dot - s) : 0;
	uint64		v = 0;
	bytea	   *b;

	if (digits == 0 || digits > 18 || strlen(dot + 1) != 64)
		return false;
	for (size_t i = 0; i < digits; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64) (s[i] - '0');
	}
	b = palloc(VARHDRSZ + 32);
	SET_VARSIZE(b, VARHDRSZ + 32);
	if (!nostr_hex_decode(dot + 1, 64, (uint8_t *) VARDATA(b), 32, false))
		return false;
	*at = (int64) v;
	*id = b;
	return true;
}

char *
api_cursor_encode(int64 created_at, const uint8 *id)
{
	char		hex[65];

	nostr_hex_encode(id, 32, hex);
	return psprintf(INT64_FORMAT ".%s", created_at, hex);
}

/* The parsed filter as SQL parameters; false with *why. pf stays the caller's to free. */
static bool
convert(const nostr_parsed_filter *pf, ApiFilter *out, ApiFilterError *why)
{
	const nostr_filter *f = &pf->f;

	memset(out, 0, sizeof(*out));
	if (pf->has_search)
	{
		why->unsupported = true;
		why->message = pstrdup("search: NIP-50 search is not supported");
		return false;
	}
	if (f->ids)
	{
		if (f->ids_count == 0)
			out->matches_nothing = true;
		else
		{
			out->ids = hex_array(f->ids, f->ids_count, &out->id1);
			out->nids = (int) f->ids_count;
		}
	}
	if (f->authors)
	{
		if (f->authors_count == 0)
			out->matches_nothing = true;
		else
		{
			out->authors = hex_array(f->authors, f->authors_count, &out->author1);
			out->nauthors = (int) f->authors_count;
		}
	}
	if (f->kinds)
	{
		if (f->kinds_count == 0)
			out->matches_nothing = true;
		else
		{
			Datum	   *items = palloc(sizeof(Datum) * f->kinds_count);

			for (size_t i = 0; i < f->kinds_count; i++)
				items[i] = Int32GetDatum(f->kinds[i]);
			out->kinds = PointerGetDatum(construct_array(items, (int) f->kinds_count, INT4OID, 4,
														 true, TYPALIGN_INT));
			out->nkinds = (int) f->kinds_count;
			out->kind1 = items[0];
		}
	}
	for (size_t t = 0; t < f->tags_count; t++)
	{
		const nostr_tag_filter *tf = &f->tags[t];
		Datum	   *values;
		Datum	   *entries;

		if (tf->count == 0)
		{
			out->matches_nothing = true;
			continue;
		}
		values = palloc(sizeof(Datum) * tf->count);
		entries = palloc(sizeof(Datum) * tf->count);
		for (size_t i = 0; i < tf->count; i++)
		{
			values[i] = CStringGetTextDatum(tf->values[i]);
			entries[i] = DirectFunctionCall1(bigbrotr_tagvalue_entry, values[i]);
		}
		out->tag_letter[out->ntags][0] = tf->letter;
		out->tag_letter[out->ntags][1] = '\0';
		out->tag_values[out->ntags] = text_array(values, tf->count);
		out->tag_entries[out->ntags] = text_array(entries, tf->count);
		out->ntags++;
	}
	out->has_since = f->has_since;
	out->since = f->since;
	out->has_until = f->has_until;
	out->until = f->until;
	out->has_limit = f->has_limit;
	out->limit = f->limit;
	if (f->has_since && f->has_until && f->since > f->until)
		out->matches_nothing = true;
	if (pf->relay)
	{
		RelayUrlCheck *check = palloc(sizeof(RelayUrlCheck));

		if (!relay_url_check(pf->relay, check))
		{
			why->message = psprintf("relay: %s", check->error);
			return false;
		}
		out->relay = pstrdup(check->normalized);
		pfree(check);
	}
	if (pf->cursor)
	{
		if (!cursor_decode(pf->cursor, &out->cursor_at, &out->cursor_id))
		{
			why->message = pstrdup("cursor: not a cursor this api gave (expected <created_at>.<id hex>)");
			return false;
		}
		out->has_cursor = true;
	}
	return true;
}

/* Converts, freeing the malloc'd filter whatever happens (an ERROR included). */
static bool
convert_and_free(nostr_parsed_filter *pf, ApiFilter *out, ApiFilterError *why)
{
	volatile bool ok = false;

	PG_TRY();
	{
		ok = convert(pf, out, why);
	}
	PG_CATCH();
	{
		nostr_filter_free(pf);
		PG_RE_THROW();
	}
	PG_END_TRY();
	nostr_filter_free(pf);
	return ok;
}

bool
api_filter_from_json(const char *json, size_t len, bool api_members, ApiFilter *out,
					 ApiFilterError *why)
{
	nostr_parsed_filter pf;
	nostr_error err;

	memset(why, 0, sizeof(*why));
	memset(out, 0, sizeof(*out));
	if (nostr_filter_parse_json(json, len, api_members, &pf, &err) != NOSTR_OK)
	{
		why->bad_json = err.code == NOSTR_ERR_BAD_JSON || err.code == NOSTR_ERR_BAD_UTF8 ||
			strncmp(err.message, "filter: ", 8) == 0;
		why->message = strncmp(err.message, "filter: ", 8) != 0 && why->bad_json ?
			psprintf("filter: %s", err.message) : pstrdup(err.message);
		return false;
	}
	return convert_and_free(&pf, out, why);
}

bool
api_filter_from_params(const ApiRequest *req, ApiFilter *out, ApiFilterError *why)
{
	nostr_parsed_filter pf;
	nostr_error err;
	const char **names = palloc(sizeof(char *) * (req->nparams + 1));
	const char **values = palloc(sizeof(char *) * (req->nparams + 1));

	memset(why, 0, sizeof(*why));
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < req->nparams; i++)
	{
		names[i] = req->params[i].name;
		values[i] = req->params[i].value;
	}
	if (nostr_filter_from_params(names, values, req->nparams, NULL, &pf, &err) != NOSTR_OK)
	{
		why->message = pstrdup(err.message);
		return false;
	}
	return convert_and_free(&pf, out, why);
}
