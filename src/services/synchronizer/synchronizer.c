/*
 * synchronizer.c: the synchronizer service's coordinator and its GUCs. Each cycle it fills the
 * work queue (bigbrotr.synchronizer_queue) with the relays to sync (recently checked and readable,
 * plus the overrides of bigbrotr.synchronizer_relays), starts bigbrotr.synchronizer_max_processes
 * dynamic background workers (sync_worker.c) that claim relays from it, waits for them, and sums
 * their per-relay results into the cycle's counters. At SIGTERM it terminates its workers.
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "core/bigbrotr.h"
#include "services/common/private_key.h"
#include "services/services.h"
#include "services/synchronizer/synchronizer.h"

/* Below the runtime's own 3 s shutdown grace (service_runtime.c), so the results are recorded. */
#define STOP_GRACE_MS 2500

int			synchronizer_interval = 900;
int			sync_max_metadata_age = 43200;
bool		sync_require_readable = true;
int			sync_max_processes = 10;
int			sync_max_parallel = 10;
int			sync_stagger_delay = 60;
int			sync_lookback_seconds = 86400;
bool		sync_use_relay_state = true;
int			sync_default_start = 0;
int			sync_limit = 500;
char	   *sync_kinds = NULL;
int			sync_request_timeout = 30;
int			sync_tor_request_timeout = 60;
int			sync_relay_timeout = 1800;
int			sync_tor_relay_timeout = 3600;
int			sync_batch_size = 500;
int			sync_max_narrowing_keys = 100;
int			sync_max_answer_events = 5000;
int			sync_max_buffered_events = 5000;
bool		sync_archive_hints = true;
int			sync_verify_threads = 2;
int			sync_known_cache_size = 65536;
int			sync_rescan_interval = 86400;
int			sync_overlap_seconds = 120;
int			sync_negentropy = SYNC_NEG_AUTO;
int			sync_neg_max_items = 100000;

static const struct config_enum_entry negentropy_options[] = {
	{"auto", SYNC_NEG_AUTO, false},
	{"off", SYNC_NEG_OFF, false},
	{"only", SYNC_NEG_ONLY, false},
	{NULL, 0, false}
};
char	   *sync_private_key = NULL;

/* bigbrotr.synchronizer_private_key: the shared rules (services/common/private_key.c). */
static bool
check_private_key(char **newval, void **extra, GucSource source)
{
	return bb_private_key_check("bigbrotr.synchronizer_private_key", "no NIP-42 AUTH", newval);
}

/* "1, 7,30023": integers 0..65535 separated by commas; empty for all kinds. */
static bool
parse_kinds(const char *text, int32 *out, int *count)
{
	const char *p = text ? text : "";
	int			n = 0;

	for (;;)
	{
		char	   *endp;
		long		v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' && n == 0)
			break;
		v = strtol(p, &endp, 10);
		if (endp == p || v < 0 || v > 65535)
			return false;
		if (out)
			out[n] = (int32) v;
		n++;
		p = endp;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return false;
		p++;
	}
	*count = n;
	return true;
}

static bool
check_kinds(char **newval, void **extra, GucSource source)
{
	int			n;

	if (!parse_kinds(*newval, NULL, &n))
	{
		GUC_check_errdetail("Expected event kinds (0..65535) separated by commas, or an empty string.");
		return false;
	}
	return true;
}

int
sync_kinds_list(int32 **kinds)
{
	int			n = 0;

	parse_kinds(sync_kinds, NULL, &n);
	*kinds = palloc(sizeof(int32) * Max(n, 1));
	parse_kinds(sync_kinds, *kinds, &n);
	return n;
}

void
synchronizer_define_gucs(void)
{
	bb_define_int_setting("bigbrotr.synchronizer_interval",
						  "Seconds between two synchronizer cycles.",
			   &synchronizer_interval, 900, 60, INT_MAX / 1000, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_max_metadata_age",
			   "Only relays checked within this many seconds are synced (when readability is required).",
			   &sync_max_metadata_age, 43200, 60, INT_MAX, GUC_UNIT_S);
	bb_define_bool_setting("bigbrotr.synchronizer_require_readable",
						   "Sync only relays whose latest recent check found them readable.",
						   &sync_require_readable, true);
	bb_define_int_setting("bigbrotr.synchronizer_max_processes",
						  "Parallel worker processes per cycle.",
			   &sync_max_processes, 10, 1, 64, 0);
	bb_define_int_setting("bigbrotr.synchronizer_max_parallel",
						  "Relays one worker process syncs at once.",
			   &sync_max_parallel, 10, 1, 200, 0);
	bb_define_int_setting("bigbrotr.synchronizer_stagger_delay",
			   "Largest random delay before a relay's sync starts (uniform from 0).",
			   &sync_stagger_delay, 60, 0, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_lookback_seconds",
			   "A rescan starts this long before the previous rescan began (late events backdated up to this are caught).",
			   &sync_lookback_seconds, 86400, 0, INT_MAX, GUC_UNIT_S);
	bb_define_bool_setting("bigbrotr.synchronizer_use_relay_state",
						   "Resume each relay from its stored cursor (else from default_start).",
						   &sync_use_relay_state, true);
	bb_define_int_setting("bigbrotr.synchronizer_default_start",
			   "Unix time a relay without a cursor is synced from.",
			   &sync_default_start, 0, 0, INT_MAX, 0);
	bb_define_int_setting("bigbrotr.synchronizer_limit", "The limit asked in each REQ.",
			   &sync_limit, 500, 1, 100000, 0);
	DefineCustomStringVariable("bigbrotr.synchronizer_kinds",
							   "Event kinds to sync, separated by commas; empty for all.",
							   NULL, &sync_kinds, "", PGC_SIGHUP, 0, check_kinds, NULL, NULL);
	bb_define_int_setting("bigbrotr.synchronizer_request_timeout",
						  "Seconds to wait for a REQ's EOSE (clearnet).",
			   &sync_request_timeout, 30, 1, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_tor_request_timeout",
						  "Seconds to wait for a REQ's EOSE (Tor).",
			   &sync_tor_request_timeout, 60, 1, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_relay_timeout",
						  "Seconds one clearnet relay may take per cycle.",
			   &sync_relay_timeout, 1800, 1, 86400, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_tor_relay_timeout",
						  "Seconds one Tor relay may take per cycle.",
			   &sync_tor_relay_timeout, 3600, 1, 86400, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_batch_size",
						  "Events per call of bigbrotr.insert_events.",
			   &sync_batch_size, 500, 1, 100000, 0);
	bb_define_int_setting("bigbrotr.synchronizer_max_narrowing_keys",
			   "Requests (one per kind or author) spent narrowing one crowded second before it is a shortfall.",
			   &sync_max_narrowing_keys, 100, 1, 10000, 0);
	bb_define_int_setting("bigbrotr.synchronizer_max_answer_events",
			   "Events one answer may hold (at least the limit) before its request is ended as misbehaviour.",
			   &sync_max_answer_events, 5000, 1, 1000000, 0);
	bb_define_int_setting("bigbrotr.synchronizer_max_buffered_events",
			   "Verified events one relay may have waiting to be stored before its socket is paused.",
			   &sync_max_buffered_events, 5000, 100, 1000000, 0);
	bb_define_int_setting("bigbrotr.synchronizer_rescan_interval",
			   "Seconds between two rescans of a relay's recent history; in between, cycles go on from where the last ended (0: rescan every cycle).",
			   &sync_rescan_interval, 86400, 0, INT_MAX, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_overlap_seconds",
			   "Between rescans, a cycle starts this long before where the last ended (events that reach a relay late).",
			   &sync_overlap_seconds, 120, 0, 86400, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.synchronizer_verify_threads",
			   "Threads per worker process that verify signatures while the main thread stores (0: the main thread verifies).",
			   &sync_verify_threads, 2, 0, 32, 0);
	bb_define_int_setting("bigbrotr.synchronizer_known_cache",
			   "(id, sig) pairs each worker process remembers as archived, 96 bytes each (0: none; the archive lookup remains).",
			   &sync_known_cache_size, 65536, 0, 16 * 1024 * 1024, 0);
	bb_define_bool_setting("bigbrotr.synchronizer_archive_hints",
						   "Narrow a crowded second also by the kinds and authors the archive holds at it.",
						   &sync_archive_hints, true);
	DefineCustomEnumVariable("bigbrotr.synchronizer_negentropy",
							 "NIP-77 negentropy: auto (probe, fall back to the window algorithm), off, only (no fallback).",
							 NULL, &sync_negentropy, SYNC_NEG_AUTO, negentropy_options, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	bb_define_int_setting("bigbrotr.synchronizer_negentropy_max_items",
			   "Archive items (40 bytes each) one negentropy chunk of a relay reconciles at most.",
			   &sync_neg_max_items, 100000, 16, 10000000, 0);
	bb_define_private_key_setting("bigbrotr.synchronizer_private_key",
								  "Hex private key answering relays' NIP-42 AUTH when they refuse a request; empty: no AUTH.",
								  &sync_private_key, check_private_key);
}

/* Rebuilds the queue for this cycle; returns how many relays it holds. */
static int64
fill_queue(ServiceCycle *cycle, int64 cycle_id)
{
	static SPIPlanPtr clear_plan = NULL;
	static SPIPlanPtr fill_plan = NULL;
	static SPIPlanPtr tor_plan = NULL;
	Oid			types[9] = {INT8OID, BOOLOID, INT8OID, INT8OID, BOOLOID, INT4OID, INT4OID, INT4OID, INT4OID};
	Datum		values[9] = {Int64GetDatum(cycle_id), BoolGetDatum(sync_require_readable),
		Int64GetDatum(sync_max_metadata_age), Int64GetDatum(bb_unix_now()), BoolGetDatum(bigbrotr_tor_enabled),
		Int32GetDatum(sync_request_timeout), Int32GetDatum(sync_tor_request_timeout),
	Int32GetDatum(sync_relay_timeout), Int32GetDatum(sync_tor_relay_timeout)};
	int64		queued;

	bb_tx_begin();
	bb_spi_run(&clear_plan, "DELETE FROM bigbrotr.synchronizer_queue", 0, NULL, NULL, NULL, false);
	bb_spi_run(&fill_plan,
			   "INSERT INTO bigbrotr.synchronizer_queue (relay_url, network, cycle, request_timeout, relay_timeout)"
			   " SELECT e.relay_url, e.network, $1,"
			   "   coalesce(e.request_timeout, CASE WHEN e.network = 'tor' THEN $7 ELSE $6 END),"
			   "   coalesce(e.relay_timeout, CASE WHEN e.network = 'tor' THEN $9 ELSE $8 END)"
			   " FROM bigbrotr.synchronizer_eligible($2, $3, $4) e"
			   " WHERE e.network <> 'tor' OR $5"
			   " ON CONFLICT (relay_url) DO NOTHING",
			   9, types, values, NULL, false);
	queued = SPI_processed;
	if (!bigbrotr_tor_enabled)
	{
		bb_spi_run(&tor_plan,
				   "SELECT count(*) FROM bigbrotr.synchronizer_eligible($2, $3, $4) e WHERE e.network = 'tor'"
				   " AND $1 IS NOT NULL AND $5 IS NOT NULL",
				   5, types, values, NULL, true);
		service_cycle_count(cycle, "relays_skipped_tor", bb_spi_int64_result());
	}
	bb_tx_commit();
	service_cycle_count(cycle, "relays_queued", queued);
	return queued;
}

static BackgroundWorkerHandle *
start_worker(int64 cycle_id, int n, int processes)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	char		name[BGW_MAXLEN];

	snprintf(name, sizeof(name), "bigbrotr synchronizer worker %d", n);
	bb_worker_fill(&worker, "bigbrotr_sync_worker_main", "bigbrotr synchronizer worker", name,
				   BGW_NEVER_RESTART);
	snprintf(worker.bgw_extra, BGW_EXTRALEN, INT64_FORMAT " %d", cycle_id, processes);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

static int
running_workers(BackgroundWorkerHandle **handles, int n)
{
	int			running = 0;

	for (int i = 0; i < n; i++)
	{
		pid_t		pid;

		if (handles[i] && GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
			running++;
	}
	return running;
}

/* SIGTERM: the workers store what they hold and leave; the coordinator waits a little for them. */
static void
stop_workers(BackgroundWorkerHandle **handles, int n)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_GRACE_MS);

	for (int i = 0; i < n; i++)
		if (handles[i])
			TerminateBackgroundWorker(handles[i]);
	/* A worker that stops notifies us (bgw_notify_pid), which sets the latch. */
	while (running_workers(handles, n) > 0 && GetCurrentTimestamp() < until)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
collect_results(ServiceCycle *cycle, int64 cycle_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(cycle_id)};
	static const char *const names[] = {"relays_done", "relays_unfinished", "events_received", "events_invalid",
		"events_unstorable", "events_new", "requests", "shortfalls", "relays_incomplete", "events_known",
		"bytes_received", "relays_negentropy", "neg_rounds", "neg_bytes_out", "neg_bytes_in", "neg_ids_needed",
	"neg_linked", "neg_fetched", "neg_fallbacks"};

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT count(*) FILTER (WHERE done), count(*) FILTER (WHERE NOT done),"
			   " coalesce(sum((stats->>'events_received')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'events_invalid')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'events_unstorable')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'events_new')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'requests')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'shortfalls')::bigint), 0)::bigint,"
			   " count(*) FILTER (WHERE done AND stats->>'end' <> 'complete'),"
			   " coalesce(sum((stats->>'events_known')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'bytes_received')::bigint), 0)::bigint,"
			   " count(*) FILTER (WHERE (stats->>'negentropy')::boolean),"
			   " coalesce(sum((stats->>'neg_rounds')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_bytes_out')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_bytes_in')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_ids_needed')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_linked')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_fetched')::bigint), 0)::bigint,"
			   " coalesce(sum((stats->>'neg_fallbacks')::bigint), 0)::bigint"
			   " FROM bigbrotr.synchronizer_queue WHERE cycle = $1",
			   1, types, values, NULL, true);
	if (SPI_processed == 1)
		for (int i = 0; i < lengthof(names); i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

			service_cycle_set(cycle, names[i], isnull ? 0 : DatumGetInt64(d));
		}
	bb_tx_commit();
}

void
synchronizer_run_cycle(ServiceCycle *cycle)
{
	int64		cycle_id = (int64) GetCurrentTimestamp();
	int64		queued = fill_queue(cycle, cycle_id);
	int			nworkers = (int) Min(queued, (int64) sync_max_processes);
	BackgroundWorkerHandle **handles;
	int			started = 0;

	if (queued == 0)
	{
		bb_log(BB_INFO, "no relay to sync");
		return;
	}
	handles = palloc0(sizeof(BackgroundWorkerHandle *) * nworkers);
	for (int i = 0; i < nworkers; i++)
	{
		handles[i] = start_worker(cycle_id, i + 1, nworkers);
		if (handles[i] == NULL)
		{
			bb_log(BB_WARNING, "could start only %d of %d worker processes (max_worker_processes)", i, nworkers);
			break;
		}
		started++;
	}
	service_cycle_set(cycle, "workers", started);
	if (started == 0)
		ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						errmsg("could not start any synchronizer worker process"),
						errhint("Raise max_worker_processes.")));
	for (;;)
	{
		if (service_should_stop())
		{
			stop_workers(handles, started);
			break;
		}
		if (running_workers(handles, started) == 0)
			break;
		service_wait(250);
	}
	collect_results(cycle, cycle_id);
}
