/*
 * api_admin.c: the handlers of the archive's relays, statistics and services (GET /v1/relays,
 * /v1/relays/{url}, its /history and /nip11, /v1/stats, /v1/services). Each checks its parameters
 * first (a bad one is a 400 naming it, before any query), then calls its SQL function of schema
 * 0.4.0 (docs/api.md) with a cached plan and parameters, read-only, and answers the jsonb it returns
 * as the body (NULL: 404). The SQL functions shape the JSON, so it is written in one place.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "core/bigbrotr.h"
#include "nostr/relay_url.h"
#include "services/api/api.h"

#define SOFTWARE_MAX_BYTES 256
#define DAYS_DEFAULT 30
#define DAYS_MAX 3650

/* ---- parameters ---- */

/* 400 naming the first parameter that is not in allowed (NULL-terminated); false then. */
static bool
only_known_params(const ApiRequest *req, ApiResponse *res, const char *const *allowed)
{
	for (int i = 0; i < req->nparams; i++)
	{
		bool		known = false;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(req->params[i].name, *a) == 0)
				known = true;
		if (!known)
		{
			api_error(res, 400, "bad_parameter", "%s: unknown parameter", req->params[i].name);
			return false;
		}
	}
	return true;
}

/* A decimal integer in [min, max], digits only (a leading '-' when min < 0); false otherwise. */
static bool
parse_int64(const char *s, int64 min, int64 max, int64 *out)
{
	bool		negative = false;
	uint64		v = 0;

	if (*s == '-' && min < 0)
	{
		negative = true;
		s++;
	}
	if (*s == '\0' || strlen(s) > 19)
		return false;
	for (; *s; s++)
	{
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64) (*s - '0');
	}
	if (v > (uint64) PG_INT64_MAX)
		return false;
	*out = negative ? -(int64) v : (int64) v;
	return *out >= min && *out <= max;
}

/*
 * An integer parameter: absent leaves *out as it is; present and not an integer in [min, max] is a
 * 400 naming it (false).
 */
static bool
int_param(const ApiRequest *req, ApiResponse *res, const char *name, int64 min, int64 max,
		  int64 *out, bool *given)
{
	const char *v = api_param(req, name);

	if (given)
		*given = v != NULL;
	if (v == NULL)
		return true;
	if (!parse_int64(v, min, max, out))
	{
		api_error(res, 400, "bad_parameter", "%s: an integer from " INT64_FORMAT " to " INT64_FORMAT " expected",
				  name, min, max);
		return false;
	}
	return true;
}

/* true|false; absent: *given false. */
static bool
bool_param(const ApiRequest *req, ApiResponse *res, const char *name, bool *out, bool *given)
{
	const char *v = api_param(req, name);

	*given = v != NULL;
	if (v == NULL)
		return true;
	if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
	{
		api_error(res, 400, "bad_parameter", "%s: true or false expected", name);
		return false;
	}
	return true;
}

/* A text parameter of at most max_bytes of valid UTF-8, not empty; absent: NULL. */
static bool
text_param(const ApiRequest *req, ApiResponse *res, const char *name, int max_bytes, const char **out)
{
	const char *v = api_param(req, name);
	size_t		len;

	*out = v;
	if (v == NULL)
		return true;
	len = strlen(v);
	if (len == 0 || len > (size_t) max_bytes)
	{
		api_error(res, 400, "bad_parameter", "%s: 1 to %d bytes expected", name, max_bytes);
		return false;
	}
	if (!pg_verifymbstr(v, (int) len, true))
	{
		api_error(res, 400, "bad_parameter", "%s: not valid UTF-8", name);
		return false;
	}
	return true;
}

/* limit: 1.., default api_default_limit, above the request's max_limit clamped (as /v1/events). */
static bool
limit_param(const ApiRequest *req, ApiResponse *res, int *limit)
{
	int64		v = Min(api_default_limit, req->max_limit);

	if (!int_param(req, res, "limit", 1, PG_INT64_MAX, &v, NULL))
		return false;
	*limit = (int) Min(v, (int64) req->max_limit);
	return true;
}

/* The {url} segment normalized by the relay URL rules into *url (palloc'd); 400 when invalid. */
static bool
url_arg(const ApiRequest *req, ApiResponse *res, char **url)
{
	nostr_relay_url *parsed;
	nostr_error err;
	const char *arg = req->path_arg ? req->path_arg : "";

	if (arg[0] == '\0')
	{
		api_error(res, 400, "bad_parameter", "url: a percent-encoded relay URL expected");
		return false;
	}
	parsed = palloc(sizeof(nostr_relay_url));
	if (nostr_relay_url_parse(arg, strlen(arg), parsed, &err) != NOSTR_OK)
	{
		api_error(res, 400, "bad_parameter", "url: %s", err.message);
		pfree(parsed);
		return false;
	}
	*url = pstrdup(parsed->url);
	pfree(parsed);
	return true;
}

/* ---- the query ---- */

/*
 * Runs sql (one jsonb-as-text column, one row) with the arguments and answers its text as the body;
 * NULL or no row: 404 with not_found_message.
 */
static void
answer_json(ApiResponse *res, SPIPlanPtr *plan, const char *sql, int nargs, Oid *types,
			Datum *values, const char *nulls, const char *not_found_message)
{
	uint64		n = bb_spi_run(plan, sql, nargs, types, values, nulls, true);
	bool		isnull = true;
	Datum		d = (Datum) 0;

	if (n > 0)
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		api_error(res, 404, "not_found", "%s", not_found_message);
		return;
	}
	resetStringInfo(&res->body);
	appendStringInfoString(&res->body, TextDatumGetCString(d));
}

/* ---- handlers ---- */

void
api_handle_relays(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {"network", "readable", "writable", "software", "nip", "limit",
	"cursor", NULL};
	static SPIPlanPtr plan = NULL;
	Oid			types[7] = {TEXTOID, BOOLOID, BOOLOID, TEXTOID, INT4OID, TEXTOID, INT4OID};
	Datum		values[7];
	char		nulls[8] = "       ";
	const char *network = api_param(req, "network");
	const char *software;
	const char *cursor;
	bool		readable = false,
				writable = false,
				has_readable,
				has_writable,
				has_nip;
	int64		nip = 0;
	int			limit;

	if (!only_known_params(req, res, allowed))
		return;
	if (network && strcmp(network, "clearnet") != 0 && strcmp(network, "tor") != 0)
	{
		api_error(res, 400, "bad_parameter", "network: clearnet or tor expected");
		return;
	}
	if (!bool_param(req, res, "readable", &readable, &has_readable) ||
		!bool_param(req, res, "writable", &writable, &has_writable) ||
		!text_param(req, res, "software", SOFTWARE_MAX_BYTES, &software) ||
		!int_param(req, res, "nip", 0, PG_INT32_MAX, &nip, &has_nip) ||
		!limit_param(req, res, &limit) ||
		!text_param(req, res, "cursor", NOSTR_RELAY_URL_MAX, &cursor))
		return;

	values[0] = network ? CStringGetTextDatum(network) : (Datum) 0;
	nulls[0] = network ? ' ' : 'n';
	values[1] = BoolGetDatum(readable);
	nulls[1] = has_readable ? ' ' : 'n';
	values[2] = BoolGetDatum(writable);
	nulls[2] = has_writable ? ' ' : 'n';
	values[3] = software ? CStringGetTextDatum(software) : (Datum) 0;
	nulls[3] = software ? ' ' : 'n';
	values[4] = Int32GetDatum((int32) nip);
	nulls[4] = has_nip ? ' ' : 'n';
	values[5] = cursor ? CStringGetTextDatum(cursor) : (Datum) 0;
	nulls[5] = cursor ? ' ' : 'n';
	values[6] = Int32GetDatum(limit);
	answer_json(res, &plan,
				"SELECT " BIGBROTR_SCHEMA ".api_relays($1, $2, $3, $4, $5, $6, $7)::text",
				7, types, values, nulls, "no relays");
}

void
api_handle_relay(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {NULL};
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *url;

	if (!only_known_params(req, res, allowed) || !url_arg(req, res, &url))
		return;
	values[0] = CStringGetTextDatum(url);
	answer_json(res, &plan, "SELECT " BIGBROTR_SCHEMA ".api_relay($1)::text", 1, types, values, NULL,
				psprintf("no relay %s in the archive", url));
}

void
api_handle_relay_history(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {"since", "until", "limit", "cursor", NULL};
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {TEXTOID, INT8OID, INT8OID, INT8OID, INT4OID};
	Datum		values[5];
	char		nulls[6] = "     ";
	char	   *url;
	int64		since = 0,
				until = 0,
				before = 0;
	bool		has_since,
				has_until,
				has_before;
	int			limit;

	if (!only_known_params(req, res, allowed) || !url_arg(req, res, &url) ||
		!int_param(req, res, "since", 0, PG_INT64_MAX, &since, &has_since) ||
		!int_param(req, res, "until", 0, PG_INT64_MAX, &until, &has_until) ||
		!int_param(req, res, "cursor", 0, PG_INT64_MAX, &before, &has_before) ||
		!limit_param(req, res, &limit))
		return;
	values[0] = CStringGetTextDatum(url);
	values[1] = Int64GetDatum(since);
	nulls[1] = has_since ? ' ' : 'n';
	values[2] = Int64GetDatum(until);
	nulls[2] = has_until ? ' ' : 'n';
	values[3] = Int64GetDatum(before);
	nulls[3] = has_before ? ' ' : 'n';
	values[4] = Int32GetDatum(limit);
	answer_json(res, &plan,
				"SELECT " BIGBROTR_SCHEMA ".api_relay_history($1, $2, $3, $4, $5)::text",
				5, types, values, nulls, psprintf("no relay %s in the archive", url));
}

void
api_handle_relay_nip11(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {NULL};
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *url;

	if (!only_known_params(req, res, allowed) || !url_arg(req, res, &url))
		return;
	values[0] = CStringGetTextDatum(url);
	answer_json(res, &plan, "SELECT " BIGBROTR_SCHEMA ".api_relay_nip11($1)::text", 1, types, values,
				NULL, psprintf("no relay %s in the archive", url));
}

void
api_handle_stats(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {"days", NULL};
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	int64		days = DAYS_DEFAULT;

	if (!only_known_params(req, res, allowed) ||
		!int_param(req, res, "days", 1, DAYS_MAX, &days, NULL))
		return;
	values[0] = Int32GetDatum((int32) days);
	answer_json(res, &plan, "SELECT " BIGBROTR_SCHEMA ".api_stats($1)::text", 1, types, values, NULL,
				"no statistics");
}

void
api_handle_services(const ApiRequest *req, ApiResponse *res)
{
	static const char *const allowed[] = {NULL};
	static SPIPlanPtr plan = NULL;

	if (!only_known_params(req, res, allowed))
		return;
	answer_json(res, &plan, "SELECT " BIGBROTR_SCHEMA ".api_services()::text", 0, NULL, NULL, NULL,
				"no services");
}
