/*
 * api_events.c: the events endpoints: GET /v1/events (filter in the query string), POST /v1/req
 * (filter as a JSON body), GET /v1/events/{id} (the event and where it was seen), and the relay
 * endpoint's REQ (api_relay_req). Pages are keyset pages newest first: one row past the limit is
 * read, so "next" is given exactly when another page exists; the body holds at most limit events
 * (memory: limit x event size, in the request's context).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "nostr/hex.h"
#include "services/api/api_query.h"

typedef struct PageSink
{
	StringInfo	body;
	bool		ndjson;
	int64		want;			/* the page's limit */
	int64		got;
	bool		more;			/* a row past the limit exists */
	int64		last_at;
	uint8		last_id[32];
} PageSink;

static bool
page_sink(void *ctx, const char *json, size_t len, int64 created_at, const uint8 *id)
{
	PageSink   *p = ctx;

	if (p->got == p->want)
	{
		p->more = true;
		return false;
	}
	if (!p->ndjson && p->got > 0)
		appendStringInfoChar(p->body, ',');
	appendBinaryStringInfo(p->body, json, len);
	if (p->ndjson)
		appendStringInfoChar(p->body, '\n');
	p->got++;
	p->last_at = created_at;
	memcpy(p->last_id, id, 32);
	return true;
}

/* Percent-encodes s for a query string (RFC 3986 unreserved characters kept). */
static void
append_query_escaped(StringInfo out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(out, (char) *p);
		else
			appendStringInfo(out, "%%%02X", *p);
	}
}

/* Link: </v1/events?<the request's parameters but cursor>&cursor=<next>>; rel="next" */
static void
add_link(const ApiRequest *req, ApiResponse *res, const char *next)
{
	StringInfoData link;

	initStringInfo(&link);
	appendStringInfoString(&link, "</v1/events?");
	for (int i = 0; i < req->nparams; i++)
	{
		if (strcmp(req->params[i].name, "cursor") == 0)
			continue;
		append_query_escaped(&link, req->params[i].name);
		appendStringInfoChar(&link, '=');
		append_query_escaped(&link, req->params[i].value);
		appendStringInfoChar(&link, '&');
	}
	appendStringInfoString(&link, "cursor=");
	append_query_escaped(&link, next);
	appendStringInfoString(&link, ">; rel=\"next\"");
	api_add_header(res, "Link", link.data);
	pfree(link.data);
}

/* One page of f's events into res (JSON envelope or NDJSON). */
static void
answer_page(const ApiRequest *req, ApiResponse *res, ApiFilter *f, bool link)
{
	PageSink	p = {0};
	int64		limit;
	char	   *next = NULL;

	if (f->has_limit && f->limit < 1)
	{
		api_error(res, 400, "bad_parameter", "limit: expected 1..%d", req->max_limit);
		return;
	}
	limit = f->has_limit ? f->limit : api_default_limit;
	if (limit > req->max_limit)
		limit = req->max_limit;
	f->has_limit = true;
	f->limit = limit + 1;		/* one past the page: is there a next one? */

	p.body = &res->body;
	p.ndjson = req->want_ndjson;
	p.want = limit;
	resetStringInfo(&res->body);
	if (!p.ndjson)
		appendStringInfoString(&res->body, "{\"events\":[");
	api_query_events(f, 1, page_sink, &p);
	if (p.more)
		next = api_cursor_encode(p.last_at, p.last_id);
	if (p.ndjson)
		res->content_type = "application/x-ndjson";
	else
	{
		res->content_type = "application/json";
		appendStringInfoString(&res->body, "],\"next\":");
		if (next)
			escape_json(&res->body, next);
		else
			appendStringInfoString(&res->body, "null");
		appendStringInfoChar(&res->body, '}');
	}
	res->status = 200;
	if (next)
	{
		api_add_header(res, "X-Next-Cursor", next);
		if (link)
			add_link(req, res, next);
	}
}

static void
refuse(ApiResponse *res, const ApiFilterError *why)
{
	api_error(res, 400, why->bad_json ? "bad_body" : "bad_parameter", "%s", why->message);
}

void
api_handle_events(const ApiRequest *req, ApiResponse *res)
{
	ApiFilter	f;
	ApiFilterError why;

	if (!api_filter_from_params(req, &f, &why))
	{
		refuse(res, &why);
		return;
	}
	answer_page(req, res, &f, true);
}

void
api_handle_req(const ApiRequest *req, ApiResponse *res)
{
	ApiFilter	f;
	ApiFilterError why;

	if (req->body == NULL || req->body_len == 0)
	{
		api_error(res, 400, "bad_body", "the body must be one NIP-01 filter object");
		return;
	}
	if (!api_filter_from_json(req->body, req->body_len, true, &f, &why))
	{
		refuse(res, &why);
		return;
	}
	answer_page(req, res, &f, false);
}

void
api_handle_event(const ApiRequest *req, ApiResponse *res)
{
	const char *hex = req->path_arg ? req->path_arg : "";
	bytea	   *id = palloc(VARHDRSZ + 32);
	Oid			type = BYTEAOID;
	Datum		value;
	int			rc;
	int64		created_at;
	uint8		raw[32];

	SET_VARSIZE(id, VARHDRSZ + 32);
	if (!nostr_hex_decode(hex, strlen(hex), (uint8_t *) VARDATA(id), 32, false))
	{
		api_error(res, 400, "bad_parameter", "id: expected 64 lower-case hex characters");
		return;
	}
	value = PointerGetDatum(id);
	rc = SPI_execute_with_args("SELECT e.id, e.pubkey, e.created_at, e.kind, e.tags::text, e.content, e.sig"
							   " FROM bigbrotr.events e WHERE e.id = $1", 1, &type, &value, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("api event query failed: %s", SPI_result_code_string(rc))));
	if (SPI_processed == 0)
	{
		api_error(res, 404, "not_found", "no event %s in the archive", hex);
		return;
	}
	resetStringInfo(&res->body);
	appendStringInfoString(&res->body, "{\"event\":");
	api_render_event(&res->body, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, &created_at, raw);
	SPI_freetuptable(SPI_tuptable);

	rc = SPI_execute_with_args("SELECT relay_url, seen_at FROM bigbrotr.events_relays"
							   " WHERE event_id = $1 ORDER BY seen_at, relay_url", 1, &type, &value,
							   NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("api event sightings query failed: %s", SPI_result_code_string(rc))));
	appendStringInfoString(&res->body, ",\"seen_on\":[");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		char	   *url = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		int64		seen_at = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc,
														  2, &isnull));

		appendStringInfoString(&res->body, r ? ",{\"relay\":" : "{\"relay\":");
		escape_json(&res->body, url ? url : "");
		appendStringInfo(&res->body, ",\"seen_at\":" INT64_FORMAT "}", seen_at);
	}
	appendStringInfoString(&res->body, "]}");
	SPI_freetuptable(SPI_tuptable);
	res->status = 200;
	res->content_type = "application/json";
}

/* ---- the relay endpoint's REQ ---- */

typedef struct RelaySink
{
	ApiRelayEmit emit;
	void	   *ctx;
	StringInfoData msg;
	int			prefix_len;		/* ["EVENT",<sub>, */
} RelaySink;

static bool
relay_sink(void *ctx, const char *json, size_t len, int64 created_at, const uint8 *id)
{
	RelaySink  *s = ctx;

	s->msg.len = s->prefix_len;
	s->msg.data[s->msg.len] = '\0';
	appendBinaryStringInfo(&s->msg, json, len);
	appendStringInfoChar(&s->msg, ']');
	return s->emit(s->ctx, s->msg.data, s->msg.len);
}

/*
 * Reads a REQ's or COUNT's filters (NIP-01 members only, each limit clamped to max_limit, none:
 * max_limit); false with *closed.
 */
bool
api_relay_filters(char **filters_json, int nfilters, int max_limit, ApiFilter **out, char **closed)
{
	ApiFilter  *fs;

	if (nfilters < 1 || nfilters > API_QUERY_MAX_FILTERS)
	{
		*closed = psprintf("error: a REQ or COUNT takes 1..%d filters", API_QUERY_MAX_FILTERS);
		return false;
	}
	fs = palloc0(sizeof(ApiFilter) * nfilters);
	for (int i = 0; i < nfilters; i++)
	{
		ApiFilterError why;

		if (!api_filter_from_json(filters_json[i], strlen(filters_json[i]), false, &fs[i], &why))
		{
			*closed = why.unsupported ? pstrdup("unsupported: search") : psprintf("error: %s", why.message);
			return false;
		}
		if (!fs[i].has_limit || fs[i].limit > max_limit)
		{
			fs[i].has_limit = true;
			fs[i].limit = max_limit;
		}
	}
	*out = fs;
	return true;
}

bool
api_relay_req(const char *subid, char **filters_json, int nfilters, int max_limit,
			  ApiRelayEmit emit, void *ctx, char **closed)
{
	ApiFilter  *fs;
	RelaySink	s;

	*closed = NULL;
	if (!api_relay_filters(filters_json, nfilters, max_limit, &fs, closed))
		return false;
	s.emit = emit;
	s.ctx = ctx;
	initStringInfo(&s.msg);
	appendStringInfoString(&s.msg, "[\"EVENT\",");
	escape_json(&s.msg, subid);
	appendStringInfoChar(&s.msg, ',');
	s.prefix_len = s.msg.len;
	api_query_events(fs, nfilters, relay_sink, &s);
	pfree(s.msg.data);
	return true;
}
