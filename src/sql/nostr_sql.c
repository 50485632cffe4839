/*
 * nostr_sql.c: the nostr core exposed to SQL, so the protocol layer is usable and testable from a
 * session: event_verify (parse + id + BIP-340 signature), event_id (the NIP-01 id of an event's
 * fields), and relay URL validation, normalization and network detection, including the one form
 * in which every table stores a relay (relay_url_canonical).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "nostr/event.h"
#include "nostr/hex.h"
#include "services/common/relay_url_check.h"

PG_FUNCTION_INFO_V1(bigbrotr_event_verify_text);
PG_FUNCTION_INFO_V1(bigbrotr_event_id_fields);
PG_FUNCTION_INFO_V1(bigbrotr_relay_url_check);
PG_FUNCTION_INFO_V1(bigbrotr_relay_url_normalize);
PG_FUNCTION_INFO_V1(bigbrotr_relay_url_network);
PG_FUNCTION_INFO_V1(bigbrotr_relay_url_canonical);

/* (valid, reason, message) for one event given as JSON text. */
Datum
bigbrotr_event_verify_text(PG_FUNCTION_ARGS)
{
	text	   *json = PG_GETARG_TEXT_PP(0);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	nostr_event ev;
	nostr_error err;
	int			status;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "event_verify must return a composite type");
	desc = BlessTupleDesc(desc);

	nostr_error_clear(&err);
	status = nostr_event_parse_verify(VARDATA_ANY(json), VARSIZE_ANY_EXHDR(json), NOSTR_EVENT_NO_LIMIT,
									  NULL, &ev, &err);
	nostr_event_free(&ev);
	values[0] = BoolGetDatum(status == NOSTR_OK);
	values[1] = CStringGetTextDatum(nostr_reason_code(status));
	if (status == NOSTR_OK)
		nulls[2] = true;
	else
		values[2] = CStringGetTextDatum(err.message);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

static void
raise_nostr_error(const char *what, const nostr_error *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: %s", what, err->message),
			 errdetail("reason: %s", nostr_reason_code(err->code))));
}

/* Adds the tags of a jsonb array of arrays of strings to ev; anything else is a clear error. */
static void
add_jsonb_tags(nostr_event *ev, Jsonb *tags)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	List	   *items = NIL;
	nostr_error err;

	if (!JB_ROOT_IS_ARRAY(tags) || JB_ROOT_IS_SCALAR(tags))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("event_id: tags must be a JSON array of arrays of strings")));
	it = JsonbIteratorInit(&tags->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY)
		{
			if (++depth > 2)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								errmsg("event_id: a tag must be an array of strings, not nested arrays")));
			items = NIL;
		}
		else if (tok == WJB_END_ARRAY)
		{
			if (depth-- == 2)
			{
				int			n = list_length(items);
				const char **values = palloc(sizeof(char *) * Max(n, 1));
				size_t	   *lens = palloc(sizeof(size_t) * Max(n, 1));
				int			i = 0;
				ListCell   *lc;

				foreach(lc, items)
				{
					JsonbValue *s = lfirst(lc);

					values[i] = s->val.string.val;
					lens[i++] = s->val.string.len;
				}
				nostr_error_clear(&err);
				if (nostr_event_add_tag(ev, values, lens, n, &err) != NOSTR_OK)
					raise_nostr_error("event_id: bad tag", &err);
			}
		}
		else if (tok == WJB_ELEM && depth == 2 && v.type == jbvString)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = v;
			items = lappend(items, copy);
		}
		else
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("event_id: tags must be a JSON array of arrays of strings")));
	}
}

/* event_id(pubkey, created_at, kind, tags, content): hex SHA-256 of the canonical form. */
Datum
bigbrotr_event_id_fields(PG_FUNCTION_ARGS)
{
	text	   *pubkey = PG_GETARG_TEXT_PP(0);
	int64		created_at = PG_GETARG_INT64(1);
	int32		kind = PG_GETARG_INT32(2);
	Jsonb	   *tags = PG_GETARG_JSONB_P(3);
	text	   *content = PG_GETARG_TEXT_PP(4);
	nostr_event *ev = palloc0(sizeof(nostr_event));	/* in memory: survives a longjmp */
	nostr_error err;
	uint8_t		id[32];
	char		hex[65];

	if (created_at < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("event_id: created_at must be >= 0, got " INT64_FORMAT, created_at)));
	if (kind < 0 || kind > 65535)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("event_id: kind must be in 0..65535, got %d", kind)));
	PG_TRY();
	{
		nostr_error_clear(&err);
		if (nostr_event_init(ev, created_at, kind, VARDATA_ANY(content), VARSIZE_ANY_EXHDR(content), &err) != NOSTR_OK)
			raise_nostr_error("event_id: bad content", &err);
		if (VARSIZE_ANY_EXHDR(pubkey) != 64 ||
			!nostr_hex_decode(VARDATA_ANY(pubkey), 64, ev->pubkey, 32, false))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("event_id: pubkey must be 64 lower-case hex characters")));
		add_jsonb_tags(ev, tags);
		if (nostr_event_compute_id(ev, id, &err) != NOSTR_OK)
			raise_nostr_error("event_id", &err);
	}
	PG_FINALLY();
	{
		nostr_event_free(ev);
	}
	PG_END_TRY();
	nostr_hex_encode(id, 32, hex);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

/* (valid, normalized, network, address_class, reason, message), never an error. */
Datum
bigbrotr_relay_url_check(PG_FUNCTION_ARGS)
{
	RelayUrlCheck *check = palloc(sizeof(RelayUrlCheck));
	bool		ok = relay_url_check(text_to_cstring(PG_GETARG_TEXT_PP(0)), check);
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "relay_url_check must return a composite type");
	desc = BlessTupleDesc(desc);
	values[0] = BoolGetDatum(ok);
	values[4] = CStringGetTextDatum(check->reason);
	if (ok)
	{
		values[1] = CStringGetTextDatum(check->normalized);
		values[2] = CStringGetTextDatum(check->network);
		values[3] = CStringGetTextDatum(check->address_class);
		nulls[5] = true;
	}
	else
	{
		nulls[1] = nulls[2] = nulls[3] = true;
		values[5] = CStringGetTextDatum(check->error);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

static RelayUrlCheck *
check_url_or_error(text *input)
{
	RelayUrlCheck *check = palloc(sizeof(RelayUrlCheck));
	char	   *url = text_to_cstring(input);

	if (!relay_url_check(url, check))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid relay URL \"%s\": %s", url, check->error),
				 errdetail("reason: %s", check->reason)));
	return check;
}

Datum
bigbrotr_relay_url_normalize(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(check_url_or_error(PG_GETARG_TEXT_PP(0))->normalized));
}

Datum
bigbrotr_relay_url_network(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(check_url_or_error(PG_GETARG_TEXT_PP(0))->network));
}

/*
 * relay_url_canonical(url, network) -> (url, network): the relay as every table stores it, from one
 * parse: the normal form and the network by the nostr core's rules. A given network must be
 * 'clearnet' or 'tor' and agree with the URL; NULL takes the URL's. Invalid URLs raise 22023 with the
 * reason, a NULL URL 22004.
 */
Datum
bigbrotr_relay_url_canonical(PG_FUNCTION_ARGS)
{
	RelayUrlCheck *check;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("relay URL must not be NULL")));
	check = check_url_or_error(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		char	   *network = text_to_cstring(PG_GETARG_TEXT_PP(1));

		if (strcmp(network, "clearnet") != 0 && strcmp(network, "tor") != 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("invalid relay network: '%s'", network),
							errhint("network must be 'clearnet' or 'tor', or NULL for the URL's own")));
		if (strcmp(network, check->network) != 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("relay network '%s' contradicts relay URL \"%s\", which is %s",
								   network, check->normalized, check->network),
							errdetail("reason: network_mismatch"),
							errhint("Pass the network NULL to take the URL's own.")));
	}
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "relay_url_canonical must return a composite type");
	desc = BlessTupleDesc(desc);
	values[0] = CStringGetTextDatum(check->normalized);
	values[1] = CStringGetTextDatum(check->network);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
