/*
 * api_service.c: the api coordinator, the service process "bigbrotr api". It starts
 * bigbrotr.api_workers dynamic background workers (api_worker.c), which share the api port, and
 * supervises them: a cycle is bigbrotr.api_interval seconds of checks every 250 ms, then the next
 * cycle starts at once (the registry's interval for the api is 0). A worker that died is started
 * again (logged, counted; at most once a second per slot, backing off to 30 s while it dies young); when a setting a worker reads only at
 * its start changed on reload (listen address, port, workers, max_connections) every worker is
 * restarted. Once per cycle it folds the event statistics (bigbrotr.api_stats_fold()) and records
 * the requests and errors since the last cycle. At a stop it terminates its workers and waits a
 * bounded time; a worker also exits by itself when this process is gone (its pid is in bgw_extra).
 *
 * The worker handles live in TopMemoryContext: a cycle's context is reset after every cycle, the
 * workers outlive it.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "services/api/api.h"
#include "services/services.h"

#define API_MAX_WORKERS 32
#define SUPERVISE_STEP_MS 250
#define RESTART_GAP_MS 1000
#define MAX_RESTART_GAP_MS 30000
#define YOUNG_MS 5000			/* a worker that dies younger than this is restarted more slowly */
#define STOP_WAIT_MS 2500

typedef struct WorkerSlot
{
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
	int			gap_ms;			/* before the next restart: doubles while the worker dies young */
} WorkerSlot;

/* What the running workers were started with. */
typedef struct StartConfig
{
	char		listen_address[64];
	int			port;
	int			workers;
	int			max_connections;
} StartConfig;

static WorkerSlot slots[API_MAX_WORKERS];
static int	nslots = 0;
static StartConfig started_with;
static bool fold_missing_logged = false;
static bool have_totals = false;
static int64 last_requests = 0;
static int64 last_errors = 0;

static void
current_config(StartConfig *c)
{
	memset(c, 0, sizeof(*c));
	strlcpy(c->listen_address, api_listen_address ? api_listen_address : "", sizeof(c->listen_address));
	c->port = api_port;
	c->workers = Min(api_workers, API_MAX_WORKERS);
	c->max_connections = api_max_connections;
}

static bool
slot_running(WorkerSlot *slot)
{
	pid_t		pid;

	return slot->handle != NULL && GetBackgroundWorkerPid(slot->handle, &pid) != BGWH_STOPPED;
}

static bool
start_slot(int i)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	char		name[BGW_MAXLEN];
	MemoryContext old;

	snprintf(name, sizeof(name), "bigbrotr api worker %d", i + 1);
	bb_worker_fill(&worker, "bigbrotr_api_worker_main", "bigbrotr api worker", name, BGW_NEVER_RESTART);
	worker.bgw_main_arg = Int32GetDatum(i + 1);
	snprintf(worker.bgw_extra, BGW_EXTRALEN, "%d", (int) MyProcPid);
	if (slots[i].handle)
	{
		pfree(slots[i].handle);
		slots[i].handle = NULL;
	}
	slots[i].started_at = GetCurrentTimestamp();
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		handle = NULL;
	MemoryContextSwitchTo(old);
	slots[i].handle = handle;
	if (handle == NULL)
		bb_log(BB_WARNING, "could not start api worker %d (max_worker_processes?)", i + 1);
	return handle != NULL;
}

static int
running_count(void)
{
	int			n = 0;

	for (int i = 0; i < nslots; i++)
		if (slot_running(&slots[i]))
			n++;
	return n;
}

/* Terminates every worker and waits up to STOP_WAIT_MS for them to be gone. */
static void
stop_all(void)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WAIT_MS);

	for (int i = 0; i < nslots; i++)
		if (slots[i].handle)
			TerminateBackgroundWorker(slots[i].handle);
	while (running_count() > 0 && GetCurrentTimestamp() < until)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	if (running_count() > 0)
		bb_log(BB_WARNING, "%d api worker(s) still running %d ms after the stop", running_count(), STOP_WAIT_MS);
	for (int i = 0; i < nslots; i++)
		if (slots[i].handle)
		{
			pfree(slots[i].handle);
			slots[i].handle = NULL;
		}
	nslots = 0;
}

/* The workers exit with the coordinator too (they watch its pid); this makes it prompt. */
static void
stop_all_at_exit(int code, Datum arg)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].handle)
			TerminateBackgroundWorker(slots[i].handle);
}

static void
start_all(ServiceCycle *cycle)
{
	static bool exit_hook = false;

	current_config(&started_with);
	nslots = started_with.workers;
	for (int i = 0; i < nslots; i++)
		slots[i].gap_ms = 0;
	for (int i = 0; i < nslots; i++)
		if (start_slot(i))
			service_cycle_count(cycle, "workers_started", 1);
	if (!exit_hook)
	{
		before_shmem_exit(stop_all_at_exit, (Datum) 0);
		exit_hook = true;
	}
	bb_log(BB_INFO, "%d api worker(s) serving %s port %d", nslots, started_with.listen_address,
		   started_with.port);
}

/* Restarts the slots whose worker died, each at most once per RESTART_GAP_MS. */
static void
restart_dead(ServiceCycle *cycle)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < nslots; i++)
	{
		if (slot_running(&slots[i]))
			continue;
		if (TimestampDifferenceMilliseconds(slots[i].started_at, now) < Max(slots[i].gap_ms, RESTART_GAP_MS))
			continue;
		/* A worker that could not even start (the port taken) is retried ever more slowly. */
		if (slots[i].handle && TimestampDifferenceMilliseconds(slots[i].started_at, now) < YOUNG_MS + slots[i].gap_ms)
			slots[i].gap_ms = Min(Max(slots[i].gap_ms, RESTART_GAP_MS) * 2, MAX_RESTART_GAP_MS);
		else
			slots[i].gap_ms = RESTART_GAP_MS;
		bb_log(BB_WARNING, "api worker %d is gone; starting it again", i + 1);
		service_cycle_count(cycle, "worker_restarts", 1);
		(void) start_slot(i);
	}
}

static void
fold_body(void *arg)
{
	static SPIPlanPtr plan = NULL;

	bb_tx_begin();
	bb_spi_run(&plan, "SELECT bigbrotr.api_stats_fold()", 0, NULL, NULL, NULL, false);
	*(int64 *) arg = bb_spi_int64_result();
	bb_tx_commit();
}

/* Folds the statistics deltas; a schema without the function (before 0.4.0) is logged once. */
static void
fold_stats(ServiceCycle *cycle)
{
	int64		folded = 0;
	ErrorData  *edata = bb_catch_error_data(fold_body, &folded, false);

	if (edata == NULL)
	{
		service_cycle_count(cycle, "stats_rows_folded", folded);
		fold_missing_logged = false;
		return;
	}
	if (edata->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION)
	{
		if (!fold_missing_logged)
			bb_log(BB_WARNING, "bigbrotr.api_stats_fold() does not exist (schema before 0.4.0): "
				   "the event statistics are not folded");
		fold_missing_logged = true;
	}
	else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(edata);
	else
	{
		bb_log(BB_WARNING, "statistics fold failed: %s", edata->message);
		service_cycle_count(cycle, "stats_fold_failures", 1);
	}
	FreeErrorData(edata);
}

static void
record_totals(ServiceCycle *cycle)
{
	int64		requests;
	int64		errors;

	api_metrics_totals(&requests, &errors);
	if (have_totals && requests >= last_requests && errors >= last_errors)
	{
		service_cycle_set(cycle, "requests", requests - last_requests);
		service_cycle_set(cycle, "errors", errors - last_errors);
	}
	else
	{
		service_cycle_set(cycle, "requests", 0);
		service_cycle_set(cycle, "errors", 0);
	}
	last_requests = requests;
	last_errors = errors;
	have_totals = true;
}

void
api_run_cycle(ServiceCycle *cycle)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) api_interval * 1000);

	if (nslots == 0)
		start_all(cycle);
	fold_stats(cycle);
	for (;;)
	{
		StartConfig now;

		if (service_should_stop())
		{
			stop_all();
			break;
		}
		current_config(&now);
		if (memcmp(&now, &started_with, sizeof(now)) != 0)
		{
			bb_log(BB_INFO, "api settings changed: restarting the workers");
			stop_all();
			start_all(cycle);
			service_cycle_count(cycle, "settings_restarts", 1);
		}
		restart_dead(cycle);
		if (GetCurrentTimestamp() >= end)
			break;
		service_wait(SUPERVISE_STEP_MS);
	}
	service_cycle_set(cycle, "workers", running_count());
	record_totals(cycle);
}
