/*
 * api_query_render.c: a stored event back to the NIP-01 object exactly as it was signed,
 * {"id","pubkey","created_at","kind","tags","content","sig"}: hex from the bytea columns, tags from
 * the stored jsonb's text with the spaces jsonb's output puts after ',' and ':' removed (jsonb keeps
 * array order and string contents, and prints strings with the same escapes as JSON.stringify), and
 * content escaped by escape_json, which escapes exactly as JSON.stringify does (\" \\ \b \f \n \r \t,
 * other U+0000..U+001F as lower-case \u00xx, everything else verbatim): what NIP-01 ids are
 * computed over, so a client re-serializing the object gets the same id.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "nostr/hex.h"
#include "services/api/api_query.h"

static void
append_hex(StringInfo out, const char *key, Datum d)
{
	bytea	   *b = DatumGetByteaPP(d);
	int			n = VARSIZE_ANY_EXHDR(b);
	char		hex[129];

	if (n > 64)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("api: stored %s of %d bytes", key, n)));
	nostr_hex_encode((const uint8_t *) VARDATA_ANY(b), n, hex);
	appendStringInfo(out, "\"%s\":\"%s\"", key, hex);
}

/* jsonb's text of the tags without the blanks outside strings: the compact JSON the event signed. */
static void
append_compact(StringInfo out, const char *s, int len)
{
	bool		in_string = false;
	int			start = 0;

	enlargeStringInfo(out, len);
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == ' ')
		{
			appendBinaryStringInfo(out, s + start, i - start);
			start = i + 1;
		}
	}
	appendBinaryStringInfo(out, s + start, len - start);
}

void
api_render_event(StringInfo out, HeapTuple tuple, TupleDesc desc, int64 *created_at, uint8 *id)
{
	bool		isnull[7];
	Datum		v[7];
	text	   *tags;
	char	   *content;
	bytea	   *idb;

	for (int i = 0; i < 7; i++)
	{
		v[i] = SPI_getbinval(tuple, desc, i + 1, &isnull[i]);
		if (isnull[i])
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("api: stored event with a NULL column %d", i + 1)));
	}
	idb = DatumGetByteaPP(v[0]);
	if (VARSIZE_ANY_EXHDR(idb) != 32)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("api: stored event id is not 32 bytes")));
	memcpy(id, VARDATA_ANY(idb), 32);
	*created_at = DatumGetInt64(v[2]);

	appendStringInfoChar(out, '{');
	append_hex(out, "id", v[0]);
	appendStringInfoChar(out, ',');
	append_hex(out, "pubkey", v[1]);
	appendStringInfo(out, ",\"created_at\":" INT64_FORMAT ",\"kind\":%d,\"tags\":", *created_at,
					 DatumGetInt32(v[3]));
	tags = DatumGetTextPP(v[4]);
	append_compact(out, VARDATA_ANY(tags), VARSIZE_ANY_EXHDR(tags));
	appendStringInfoString(out, ",\"content\":");
	content = TextDatumGetCString(v[5]);
	escape_json(out, content);
	pfree(content);
	appendStringInfoChar(out, ',');
	append_hex(out, "sig", v[6]);
	appendStringInfoChar(out, '}');
}
