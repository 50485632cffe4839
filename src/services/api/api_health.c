/*
 * api_health.c: the api's own documents: GET /health (the process is up; no database), GET /ready
 * (the database answers: the services' status, or 503 not_ready when the query fails), GET / (an
 * index of the endpoints, or with Accept: application/nostr+json the relay's NIP-11 document, whose
 * limitation is read from the GUCs at each request) and GET /openapi.json (the installed document,
 * read once per worker and kept).
 */
#include "postgres.h"

#include <sys/stat.h>

#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "core/json_writer.h"
#include "services/api/api.h"
#include "services/api/api_metrics.h"

/* A larger file is not the document we install. */
#define OPENAPI_MAX_BYTES (8 * 1024 * 1024)

void
api_handle_health(const ApiRequest *req, ApiResponse *res)
{
	JsonWriter	w;

	resetStringInfo(&res->body);
	json_writer_init(&w, &res->body);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "status", "ok");
	json_writer_string(&w, "version", BIGBROTR_VERSION);
	json_writer_int(&w, "pid", MyProcPid);
	json_writer_end_object(&w);
}

/* ---- /ready ---- */

typedef struct ReadyQuery
{
	StringInfo	services;		/* the JSON array, written by the query */
} ReadyQuery;

static SPIPlanPtr ready_plan = NULL;

static void
read_services(void *arg)
{
	ReadyQuery *q = arg;
	JsonWriter	w;
	uint64		n;

	n = bb_spi_run(&ready_plan,
				   "SELECT s->>'name', (s->>'enabled')::boolean, (s->>'running')::boolean"
				   " FROM jsonb_array_elements(" BIGBROTR_SCHEMA ".api_services()->'services') s",
				   0, NULL, NULL, NULL, true);
	json_writer_init(&w, q->services);
	json_writer_begin_array(&w, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		enabled_null,
					running_null;
		Datum		enabled = SPI_getbinval(tup, desc, 2, &enabled_null);
		Datum		running = SPI_getbinval(tup, desc, 3, &running_null);

		json_writer_begin_object(&w, NULL);
		json_writer_string(&w, "name", SPI_getvalue(tup, desc, 1));
		if (enabled_null)
			json_writer_null(&w, "enabled");
		else
			json_writer_bool(&w, "enabled", DatumGetBool(enabled));
		if (running_null)
			json_writer_null(&w, "running");
		else
			json_writer_bool(&w, "running", DatumGetBool(running));
		json_writer_end_object(&w);
	}
	json_writer_end_array(&w);
}

void
api_handle_ready(const ApiRequest *req, ApiResponse *res)
{
	StringInfoData services;
	ReadyQuery	q = {&services};
	ErrorData  *failure;
	JsonWriter	w;

	initStringInfo(&services);
	failure = api_try_in_subtransaction(read_services, &q);
	if (failure)
	{
		bb_log(BB_WARNING, "/ready: the database did not answer: %s", failure->message);
		api_error(res, 503, "not_ready", "the database did not answer: %s", failure->message);
		FreeErrorData(failure);
		return;
	}
	resetStringInfo(&res->body);
	json_writer_init(&w, &res->body);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "status", "ready");
	json_writer_bool(&w, "database", true);
	json_writer_raw(&w, "services", services.data);
	json_writer_end_object(&w);
}

/* ---- / ---- */

void
api_handle_nip11(const ApiRequest *req, ApiResponse *res)
{
	JsonWriter	w;

	res->content_type = "application/nostr+json";
	resetStringInfo(&res->body);
	json_writer_init(&w, &res->body);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "name", "bigbrotr archive");
	json_writer_string(&w, "description",
					   "A read-only archive of the Nostr network: stored events by NIP-01 REQ and NIP-45 COUNT, no writes, no live stream.");
	json_writer_string(&w, "software", "bigbrotr");
	json_writer_string(&w, "version", BIGBROTR_VERSION);
	json_writer_begin_array(&w, "supported_nips");
	json_writer_int(&w, NULL, 1);
	json_writer_int(&w, NULL, 11);
	json_writer_int(&w, NULL, 45);
	json_writer_end_array(&w);
	json_writer_begin_object(&w, "limitation");
	json_writer_int(&w, "max_limit", req->max_limit > 0 ? req->max_limit : api_max_limit);
	json_writer_int(&w, "max_subscriptions", api_max_subscriptions);
	json_writer_int(&w, "max_message_length", api_max_body_bytes);
	json_writer_bool(&w, "restricted_writes", true);
	json_writer_bool(&w, "auth_required", false);
	json_writer_bool(&w, "payment_required", false);
	json_writer_end_object(&w);
	json_writer_end_object(&w);
}

void
api_handle_index(const ApiRequest *req, ApiResponse *res)
{
	JsonWriter	w;

	resetStringInfo(&res->body);
	json_writer_init(&w, &res->body);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "name", "bigbrotr");
	json_writer_string(&w, "version", BIGBROTR_VERSION);
	json_writer_begin_array(&w, "endpoints");
	for (int i = 0; i < api_routes_count; i++)
	{
		bool		listed = false;

		for (int k = 0; k < i; k++)
			if (strcmp(api_routes[k].pattern, api_routes[i].pattern) == 0)
				listed = true;
		if (!listed)
			json_writer_string(&w, NULL, api_routes[i].pattern);
	}
	json_writer_end_array(&w);
	json_writer_end_object(&w);
}

/* ---- /openapi.json ---- */

static char *openapi_doc = NULL;	/* in TopMemoryContext once read */
static size_t openapi_len = 0;

/* Reads the installed document into TopMemoryContext; NULL with *why set when it cannot. */
static char *
read_openapi(const char *path, size_t *len, char **why)
{
	FILE	   *f = AllocateFile(path, PG_BINARY_R);
	struct stat st;
	char	   *doc;
	size_t		got;

	if (f == NULL)
	{
		*why = psprintf("cannot open %s: %m", path);
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size > OPENAPI_MAX_BYTES)
	{
		*why = psprintf("%s: not a readable file of at most %d bytes", path, OPENAPI_MAX_BYTES);
		FreeFile(f);
		return NULL;
	}
	doc = MemoryContextAlloc(TopMemoryContext, st.st_size + 1);
	got = fread(doc, 1, st.st_size, f);
	FreeFile(f);
	if (got != (size_t) st.st_size || got == 0)
	{
		*why = psprintf("%s: read %zu of %lld bytes", path, got, (long long) st.st_size);
		pfree(doc);
		return NULL;
	}
	doc[got] = '\0';
	*len = got;
	return doc;
}

void
api_handle_openapi(const ApiRequest *req, ApiResponse *res)
{
	if (openapi_doc == NULL)
	{
		char		share[MAXPGPATH];
		char	   *path;
		char	   *why = NULL;

		get_share_path(my_exec_path, share);
		path = psprintf("%s/extension/bigbrotr/openapi.json", share);
		/* A failure is not kept: the document may be installed while the worker runs. */
		openapi_doc = read_openapi(path, &openapi_len, &why);
		if (openapi_doc == NULL)
		{
			bb_log(BB_WARNING, "/openapi.json: %s", why);
			api_error(res, 500, "internal", "the OpenAPI document is not installed (see the server log)");
			return;
		}
	}
	resetStringInfo(&res->body);
	appendBinaryStringInfo(&res->body, openapi_doc, (int) openapi_len);
}
