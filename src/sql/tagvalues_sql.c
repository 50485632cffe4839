/*
 * tagvalues_sql.c: bigbrotr.tags_to_tagvalues(jsonb) in C, the expression of the generated column
 * events.tagvalues (and so of the GIN index events_tagvalues_idx). It gives exactly what the 0.1.0
 * SQL function gave, for every input:
 *
 *   SELECT coalesce(array_agg(bigbrotr.tagvalue_entry(t->>1)), '{}'::text[])
 *   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]' END) AS t
 *   WHERE jsonb_typeof(t) = 'array' AND length(t->>0) = 1 AND t->>1 IS NOT NULL
 *
 * that is: tags that are not an array give no entry, elements that are not arrays are skipped; a
 * tag's name and value are read as ->> reads them (a string's text, a number's or a container's
 * JSON text, JSON null or a missing element: NULL); a name counts when it is one character long (in
 * characters, as length() counts); a NULL value is skipped; order is kept; no entry gives '{}'. A
 * value becomes its entry by the rule of bigbrotr.tagvalue_entry: up to 512 bytes of UTF-8 the value
 * itself, longer values 'sha256:' and the lower-case hex SHA-256 of its bytes. sql/06_tag_values.sql
 * compares it with the SQL expression over hostile tag sets. bigbrotr.tagvalue_entry(text), the form
 * queries use, is the same C rule (tagvalue_entry below), so the column and the queries cannot drift.
 *
 * No SQL runs per row: one pass of the jsonb container, no copies of the tags.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "nostr/hex.h"

/* bigbrotr.tagvalue_entry's threshold, in bytes. */
#define TAGVALUE_MAX_VERBATIM 512

PG_FUNCTION_INFO_V1(bigbrotr_tags_to_tagvalues);
PG_FUNCTION_INFO_V1(bigbrotr_tagvalue_entry);

/*
 * The text ->> gives for one JSON value, as (data, len); false for JSON null (->> gives NULL).
 * Strings are returned in place; other values are rendered into palloc'd memory.
 */
static bool
json_value_text(JsonbValue *v, const char **data, int *len)
{
	switch (v->type)
	{
		case jbvNull:
			return false;
		case jbvString:
			*data = v->val.string.val;
			*len = v->val.string.len;
			return true;
		case jbvNumeric:
			*data = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			*len = strlen(*data);
			return true;
		case jbvBool:
			*data = v->val.boolean ? "true" : "false";
			*len = strlen(*data);
			return true;
		case jbvBinary:
			*data = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			*len = strlen(*data);
			return true;
		default:
			elog(ERROR, "tags_to_tagvalues: unexpected jsonb value type %d", (int) v->type);
	}
	return false;
}

/* The entry of one value: the value itself up to 512 bytes, else 'sha256:' || hex(sha256(value)). */
static Datum
tagvalue_entry(const char *data, int len)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		entry[7 + 2 * PG_SHA256_DIGEST_LENGTH + 1];
	pg_cryptohash_ctx *ctx;

	if (len <= TAGVALUE_MAX_VERBATIM)
		return PointerGetDatum(cstring_to_text_with_len(data, len));

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 || pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("tags_to_tagvalues: could not compute SHA-256: %s", pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);

	memcpy(entry, "sha256:", 7);
	nostr_hex_encode(digest, PG_SHA256_DIGEST_LENGTH, entry + 7);
	return PointerGetDatum(cstring_to_text_with_len(entry, 7 + 2 * PG_SHA256_DIGEST_LENGTH));
}

/* bigbrotr.tagvalue_entry(value text): the entry of one value, for queries on tagvalues. */
Datum
bigbrotr_tagvalue_entry(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_DATUM(tagvalue_entry(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)));
}

Datum
bigbrotr_tags_to_tagvalues(PG_FUNCTION_ARGS)
{
	Jsonb	   *tags = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Datum	   *entries;
	int			count = 0;
	int			capacity;

	if (!JB_ROOT_IS_ARRAY(tags) || JB_ROOT_IS_SCALAR(tags) || JB_ROOT_COUNT(tags) == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));

	capacity = JB_ROOT_COUNT(tags);
	entries = palloc(sizeof(Datum) * capacity);
	it = JsonbIteratorInit(&tags->root);
	/* skipNested: each element of the root array arrives once, containers as jbvBinary. */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *tag;
		JsonbValue *name;
		JsonbValue *value;
		const char *data;
		int			len;

		if (tok != WJB_ELEM || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
			continue;
		tag = v.val.binary.data;

		name = getIthJsonbValueFromContainer(tag, 0);
		if (name == NULL || !json_value_text(name, &data, &len) ||
			pg_mbstrlen_with_len(data, len) != 1)
			continue;

		value = getIthJsonbValueFromContainer(tag, 1);
		if (value == NULL || !json_value_text(value, &data, &len))
			continue;

		Assert(count < capacity);
		entries[count++] = tagvalue_entry(data, len);
	}

	if (count == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_ARRAYTYPE_P(construct_array(entries, count, TEXTOID, -1, false, TYPALIGN_INT));
}
