/*
 * finder.c: the continuous discovery service. Each cycle it fetches every enabled source in
 * bigbrotr.finder_sources (HTTP(S), a JSON array of relay URL strings; .onion sources through Tor's
 * SOCKS port), one after another with a delay between requests, validates and normalizes the URLs
 * and inserts the new relays; then it reads relay URLs out of archived events (finder_archive.c).
 * A source that fails in any way is logged with its URL and counted; the others go on.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/bigbrotr.h"
#include "services/finder/json_urls.h"
#include "services/common/net_setup.h"
#include "services/common/relay_writer.h"
#include "services/finder/finder.h"
#include "services/services.h"

int			finder_interval = 3600;
static int	finder_timeout = 30;
static int	finder_delay_ms = 1000;
static int	finder_max_response_size = 10 * 1024 * 1024;
static int	finder_batch_size = 500;

void
finder_define_gucs(void)
{
	bb_define_int_setting("bigbrotr.finder_interval", "Seconds between two finder cycles.",
						  &finder_interval, 3600, 60, INT_MAX / 1000, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.finder_timeout",
						  "Timeout of one source request, unless the source sets its own.",
						  &finder_timeout, 30, 1, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.finder_delay_between_requests",
						  "Pause between two source requests.",
						  &finder_delay_ms, 1000, 0, 600000, GUC_UNIT_MS);
	bb_define_int_setting("bigbrotr.finder_max_response_size",
						  "Largest source response body read; larger ones are refused.",
						  &finder_max_response_size, 10 * 1024 * 1024, 1024, MaxAllocSize / 2, GUC_UNIT_BYTE);
	bb_define_int_setting("bigbrotr.finder_batch_size",
						  "Relay URLs inserted per call of bigbrotr.insert_relays.",
						  &finder_batch_size, 500, 1, 100000, 0);
	finder_archive_define_gucs();
}

typedef struct FinderSource
{
	char	   *url;
	int			timeout_seconds;
} FinderSource;

static List *
read_sources(void)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(finder_timeout)};
	List	   *sources = NIL;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT url, coalesce(timeout_seconds, $1) FROM bigbrotr.finder_sources WHERE enabled ORDER BY url",
			   1, types, values, NULL, true);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		FinderSource *src = palloc(sizeof(FinderSource));
		bool		isnull;

		src->url = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		src->timeout_seconds = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		sources = lappend(sources, src);
	}
	bb_tx_commit();
	return sources;
}

static void
destroy_client(void *arg)
{
	http_client_destroy((HttpClient *) arg);
}

static HttpClient *
create_client(ServiceCycle *cycle)
{
	HttpClient *client = bb_http_client_create("bigbrotr-finder/" BIGBROTR_VERSION);
	MemoryContextCallback *cb;

	/* The client is released with the cycle's memory, also when the cycle fails. */
	cb = MemoryContextAlloc(cycle->memory, sizeof(MemoryContextCallback));
	cb->func = destroy_client;
	cb->arg = client;
	MemoryContextRegisterResetCallback(cycle->memory, cb);
	return client;
}

/* One source's answer as it is streamed into the relay writer. */
typedef struct SourceTake
{
	ServiceCycle *cycle;
	const char *source;
	RelayWriter *writer;
	int64		now;
	long		fetched;
	long		valid;
	long		invalid;
	long		bad_elements;	/* not strings, or strings no URL can be (U+0000, bad UTF-8, ...) */
	long		first_bad_index;
	char		first_bad[96];
} SourceTake;

static void
take_element(void *arg, long index, const char *url, size_t len, const char *bad)
{
	SourceTake *t = arg;
	RelayUrlCheck check;

	t->fetched++;
	if (bad)
	{
		t->invalid++;
		if (t->bad_elements++ == 0)
		{
			t->first_bad_index = index;
			strlcpy(t->first_bad, bad, sizeof(t->first_bad));
		}
		return;
	}
	switch (relay_writer_add(t->writer, url, &check, t->now, false))
	{
		case RELAY_ADDED:
		case RELAY_DUPLICATE:
			t->valid++;
			break;
		case RELAY_INVALID:
			t->invalid++;
			bb_log(BB_DEBUG, "source %s: invalid relay URL \"%s\": %s", t->source, url, check.error);
			break;
		case RELAY_PRIVATE:
			t->invalid++;
			service_cycle_count(t->cycle, "urls_private_refused", 1);
			bb_log(BB_DEBUG, "source %s: \"%s\" targets a %s address", t->source, check.normalized,
				   check.address_class);
			break;
	}
}

/*
 * Streams the URLs of one source's answer into a relay writer (batches flushed as they fill), so
 * the memory it takes is the body plus the writer's compact duplicate filter. Returns NULL, or why
 * the body is not one JSON array (then nothing of it is taken).
 */
static char *
take_source_urls(ServiceCycle *cycle, const char *source, const char *body, size_t body_len)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr finder source",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	SourceTake	t = {0};
	char	   *problem;

	t.cycle = cycle;
	t.source = source;
	t.writer = relay_writer_create(finder_batch_size);
	t.now = bb_unix_now();
	problem = json_array_each_string(body, body_len, take_element, &t);
	if (problem == NULL)
	{
		relay_writer_flush(t.writer, false);
		if (t.bad_elements > 0)
			bb_log(BB_WARNING, "source %s: %ld array elements skipped (the first, element %ld, is %s)",
				   source, t.bad_elements, t.first_bad_index, t.first_bad);
		service_cycle_count(cycle, "urls_fetched", t.fetched);
		service_cycle_count(cycle, "urls_valid", t.valid);
		service_cycle_count(cycle, "urls_invalid", t.invalid);
		service_cycle_count(cycle, "elements_skipped", t.bad_elements);
		service_cycle_count(cycle, "relays_new", t.writer->inserted_new);
		service_cycle_count(cycle, "relays_unstorable", t.writer->unstorable);
		bb_log(BB_INFO, "source %s: %ld fetched, %ld valid, %ld invalid, " INT64_FORMAT " new",
			   source, t.fetched, t.valid, t.invalid, t.writer->inserted_new);
	}
	MemoryContextSwitchTo(old);
	if (problem)
		problem = pstrdup(problem);
	MemoryContextDelete(cxt);
	return problem;
}

typedef enum SourceResult
{
	SOURCE_OK,
	SOURCE_FAILED,
	SOURCE_SKIPPED
} SourceResult;

/* Fetches one source; failures are logged with the source's URL and why. */
static SourceResult
fetch_source(ServiceCycle *cycle, HttpClient *client, FinderSource *src)
{
	HttpRequest *req = palloc0(sizeof(HttpRequest));
	char	   *problem;

	req->url = src->url;
	req->timeout_ms = (long) src->timeout_seconds * 1000;
	req->max_body = finder_max_response_size;
	req->accept = "application/json";
	req->via_tor = http_url_is_onion(src->url);
	if (req->via_tor && !bigbrotr_tor_enabled)
	{
		bb_log(BB_INFO, "source %s: .onion source skipped (bigbrotr.tor_enabled is off)", src->url);
		return SOURCE_SKIPPED;
	}
	if (!http_client_add(client, req))
	{
		bb_log(BB_WARNING, "source %s: %s", src->url, req->error);
		return SOURCE_FAILED;
	}
	while (http_client_run(client, 100) > 0)
		if (service_should_stop())
			return SOURCE_SKIPPED;

	if (req->outcome != HTTP_DONE)
	{
		bb_log(BB_WARNING, "source %s: request failed (%s): %s", src->url,
			   http_outcome_name(req->outcome), req->error);
		return SOURCE_FAILED;
	}
	if (req->status != 200)
	{
		bb_log(BB_WARNING, "source %s: HTTP status %ld, expected 200", src->url, req->status);
		return SOURCE_FAILED;
	}
	problem = take_source_urls(cycle, src->url, req->body, req->body_len);
	if (problem)
	{
		bb_log(BB_WARNING, "source %s: response (%zu bytes, content type %s) is %s", src->url,
			   req->body_len, req->content_type ? req->content_type : "none", problem);
		return SOURCE_FAILED;
	}
	return SOURCE_OK;
}

static void
fetch_sources(ServiceCycle *cycle)
{
	List	   *sources = read_sources();
	HttpClient *client;
	ListCell   *lc;
	bool		first = true;

	if (sources == NIL)
	{
		bb_log(BB_INFO, "no enabled source in bigbrotr.finder_sources");
		return;
	}
	client = create_client(cycle);
	foreach(lc, sources)
	{
		FinderSource *src = lfirst(lc);

		if (!first)
		{
			TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), finder_delay_ms);
			long		left;

			while (!service_should_stop() &&
				   (left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until)) > 0)
				service_wait(Min(left, 1000));
		}
		first = false;
		if (service_should_stop())
			return;

		switch (fetch_source(cycle, client, src))
		{
			case SOURCE_OK:
				service_cycle_count(cycle, "sources_ok", 1);
				break;
			case SOURCE_FAILED:
				service_cycle_count(cycle, "sources_failed", 1);
				break;
			case SOURCE_SKIPPED:
				service_cycle_count(cycle, "sources_skipped", 1);
				break;
		}
	}
}

void
finder_run_cycle(ServiceCycle *cycle)
{
	fetch_sources(cycle);
	if (!service_should_stop())
		finder_scan_archive(cycle);
}
