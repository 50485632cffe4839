/*
 * service_runtime.c: the main function of every service worker. One loop: run a cycle in its own
 * memory context, record the outcome in bigbrotr.service_status, wait for the interval, repeat
 * (one-shot services run once and mark themselves done). A failed cycle is logged and counted and
 * the loop goes on. SIGHUP reloads the GUCs.
 *
 * Stops are bounded wherever the worker is:
 * - SIGTERM (or the launcher's stop flag) outside SQL asks the running cycle to finish early
 *   (services poll service_should_stop(), at least every ~100 ms), so what was verified is kept.
 * - SIGTERM inside a transaction (a long statement, a lock wait) cancels the statement at its next
 *   interrupt check, as StatementCancelHandler would; the cycle's error path then sees the stop.
 * - Once a stop was seen, a timer turns it after SHUTDOWN_GRACE_MS into what die() would have made
 *   it: exit at the next interrupt check, inside SQL or not.
 * - A dead postmaster ends the process (proc_exit(1), as WL_EXIT_ON_PM_DEATH does) at the next
 *   service_should_stop() or service_wait(): every loop and every network slice reaches one.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "core/bigbrotr.h"
#include "core/json_writer.h"
#include "core/launcher.h"

#define SHUTDOWN_GRACE_MS 3000

typedef struct CycleCounter
{
	char	   *name;
	int64		value;
} CycleCounter;

const char *bigbrotr_process_name = "bigbrotr";

static volatile sig_atomic_t got_sigterm = false;
/* The SIGTERM handler raised QueryCancelPending itself (inside a transaction). */
static volatile sig_atomic_t cancel_raised_by_stop = false;
static bool grace_timer_armed = false;
static TimeoutId grace_timeout = MAX_TIMEOUTS;
static int	my_service_index = -1;

static void
handle_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;

	/*
	 * Inside a transaction the worker may be waiting for a lock or running a long statement, where
	 * only an interrupt reaches it: cancel the statement. IsTransactionState() only reads the
	 * current transaction's state. Outside a transaction the worker's own loops see the flag.
	 */
	if (!proc_exit_inprogress && IsTransactionState())
	{
		cancel_raised_by_stop = true;
		QueryCancelPending = true;
		InterruptPending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/* SIGALRM context: the grace after a stop is over. */
static void
shutdown_grace_expired(void)
{
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * A cancel the SIGTERM handler raised in a transaction that ended before its next interrupt check
 * must not fire outside SQL, where it would end the cycle before it keeps what it holds.
 */
static void
forget_stop_cancel(void)
{
	if (cancel_raised_by_stop && !IsTransactionState())
	{
		cancel_raised_by_stop = false;
		QueryCancelPending = false;
	}
}

void
service_check_postmaster(void)
{
	if (!PostmasterIsAlive())
	{
		bb_log(BB_WARNING, "the postmaster died; exiting");
		proc_exit(1);
	}
}

/*
 * A stop the launcher requested through shared memory counts as a SIGTERM. From the first stop
 * seen, the grace timer runs; when it fires the process exits at its next interrupt check.
 */
static void
escalate_shutdown_if_due(void)
{
	service_check_postmaster();
	if (!got_sigterm && launcher_stop_requested(my_service_index))
		got_sigterm = true;
	if (!got_sigterm || grace_timer_armed)
		return;
	grace_timer_armed = true;
	if (grace_timeout == MAX_TIMEOUTS)
		grace_timeout = RegisterTimeout(USER_TIMEOUT, shutdown_grace_expired);
	enable_timeout_after(grace_timeout, SHUTDOWN_GRACE_MS);
}

void
service_stop_checkpoint(void)
{
	escalate_shutdown_if_due();
	forget_stop_cancel();
}

bool
service_should_stop(void)
{
	service_stop_checkpoint();
	CHECK_FOR_INTERRUPTS();
	return got_sigterm;
}

void
service_wait(long timeout_ms)
{
	service_stop_checkpoint();
	CHECK_FOR_INTERRUPTS();
	if (got_sigterm)
		timeout_ms = Min(timeout_ms, 100);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(timeout_ms, 0), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	service_stop_checkpoint();
	CHECK_FOR_INTERRUPTS();
	service_reload_if_pending();
}

void
service_reload_if_pending(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		bb_log(BB_DEBUG, "configuration reloaded");
	}
}

void
service_install_signal_handlers(void)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, handle_sigterm);
	BackgroundWorkerUnblockSignals();
}

static CycleCounter *
find_counter(ServiceCycle *cycle, const char *name, bool create)
{
	ListCell   *lc;
	CycleCounter *c;
	MemoryContext old;

	foreach(lc, cycle->stats)
	{
		c = (CycleCounter *) lfirst(lc);
		if (strcmp(c->name, name) == 0)
			return c;
	}
	if (!create)
		return NULL;
	old = MemoryContextSwitchTo(cycle->memory);
	c = palloc(sizeof(CycleCounter));
	c->name = pstrdup(name);
	c->value = 0;
	cycle->stats = lappend(cycle->stats, c);
	MemoryContextSwitchTo(old);
	return c;
}

void
service_cycle_count(ServiceCycle *cycle, const char *counter, int64 delta)
{
	find_counter(cycle, counter, true)->value += delta;
}

void
service_cycle_set(ServiceCycle *cycle, const char *counter, int64 value)
{
	find_counter(cycle, counter, true)->value = value;
}

int64
service_cycle_get(ServiceCycle *cycle, const char *counter)
{
	CycleCounter *c = find_counter(cycle, counter, false);

	return c ? c->value : 0;
}

static char *
cycle_stats_json(ServiceCycle *cycle)
{
	StringInfoData buf;
	JsonWriter	w;
	ListCell   *lc;

	initStringInfo(&buf);
	json_writer_init(&w, &buf);
	json_writer_begin_object(&w, NULL);
	foreach(lc, cycle->stats)
	{
		CycleCounter *c = (CycleCounter *) lfirst(lc);

		json_writer_int(&w, c->name, c->value);
	}
	json_writer_end_object(&w);
	return buf.data;
}

typedef struct StatusStatement
{
	const char *sql;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	const char *nulls;
} StatusStatement;

static void
execute_status_statement(void *arg)
{
	StatusStatement *st = arg;

	bb_tx_begin();
	if (bb_extension_installed())
		SPI_execute_with_args(st->sql, st->nargs, st->types, st->values, st->nulls, false, 0);
	bb_tx_commit();
}

/* Runs one status statement in its own transaction; a failure here is logged, never fatal. */
static void
record_status(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	StatusStatement st = {sql, nargs, types, values, nulls};
	char	   *error = bb_catch_error(execute_status_statement, &st, false);

	if (error)
		bb_log(BB_WARNING, "could not record service status: %s", error);
}

static void
record_worker_started(const ServiceDefinition *svc)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(svc->name), Int32GetDatum(MyProcPid)};

	record_status("INSERT INTO bigbrotr.service_status (name, pid, started_at) VALUES ($1, $2, now()) "
				  "ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, started_at = EXCLUDED.started_at",
				  2, types, values, NULL);
}

static void
record_cycle_start(const ServiceDefinition *svc)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(svc->name)};

	record_status("UPDATE bigbrotr.service_status SET last_cycle_start = clock_timestamp() WHERE name = $1",
				  1, types, values, NULL);
}

static void
record_cycle_end(const ServiceDefinition *svc, const char *stats_json, const char *error)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(svc->name);
	values[1] = CStringGetTextDatum(stats_json);
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
	{
		values[2] = (Datum) 0;
		nulls[2] = 'n';
	}
	record_status("UPDATE bigbrotr.service_status SET "
				  " cycles_run = cycles_run + 1,"
				  " cycles_failed = cycles_failed + ($3 IS NOT NULL)::int,"
				  " last_cycle_end = clock_timestamp(),"
				  " last_cycle_duration = clock_timestamp() - last_cycle_start,"
				  " last_error = coalesce($3, last_error),"
				  " last_error_at = CASE WHEN $3 IS NOT NULL THEN clock_timestamp() ELSE last_error_at END,"
				  " last_cycle_stats = $2::jsonb "
				  "WHERE name = $1",
				  3, types, values, nulls);
}

/* A one-shot service that has run is no longer wanted: the launcher must not start it again. */
static void
record_one_shot_done(const ServiceDefinition *svc)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(svc->name)};

	record_status("UPDATE bigbrotr.service_control SET enabled = false WHERE name = $1",
				  1, types, values, NULL);
}

static bool
extension_ready(void)
{
	bool		installed;

	bb_tx_begin();
	installed = bb_extension_installed();
	bb_tx_commit();
	return installed;
}

typedef struct CycleRun
{
	const ServiceDefinition *svc;
	ServiceCycle *cycle;
} CycleRun;

/* The cycle allocates in its own context, reset after it. */
static void
run_cycle_body(void *arg)
{
	CycleRun   *run = arg;

	MemoryContextSwitchTo(run->cycle->memory);
	run->svc->run_cycle(run->cycle);
	if (IsTransactionState())
		ereport(ERROR, (errcode(ERRCODE_INVALID_TRANSACTION_STATE),
						errmsg("service \"%s\" left a transaction open at the end of its cycle",
							   run->svc->name)));
}

/*
 * Runs one cycle and records it. Called in the loop context (reset by the caller after each loop
 * iteration): the status statements, the stats JSON, log messages and a caught error's message live
 * there; the cycle's own data lives in cycle->memory, reset here before the outcome is recorded, so
 * a memory dump between two cycles shows neither.
 */
static void
run_one_cycle(const ServiceDefinition *svc, ServiceCycle *cycle, MemoryContext loop_ctx)
{
	CycleRun	run = {svc, cycle};
	char	   *error;
	char	   *stats;
	TimestampTz started = GetCurrentTimestamp();
	long		secs;
	int			usecs;

	record_cycle_start(svc);
	MemoryContextSwitchTo(loop_ctx);
	error = bb_catch_error(run_cycle_body, &run, true);

	stats = cycle_stats_json(cycle);
	/* Everything the cycle allocated goes; reset callbacks release its sockets and handles. */
	MemoryContextReset(cycle->memory);
	cycle->stats = NIL;

	TimestampDifference(started, GetCurrentTimestamp(), &secs, &usecs);
	if (error)
		bb_log(BB_WARNING, "cycle failed after %ld.%03d s: %s", secs, usecs / 1000, error);
	else
		bb_log(BB_INFO, "cycle done in %ld.%03d s: %s", secs, usecs / 1000, stats);
	record_cycle_end(svc, stats, error);
}

static void
release_service(int code, Datum arg)
{
	launcher_release_service(DatumGetInt32(arg));
}

void
bigbrotr_service_main(Datum main_arg)
{
	int			index = DatumGetInt32(main_arg);
	const ServiceDefinition *svc;
	ServiceCycle cycle;
	MemoryContext loop_ctx;

	service_install_signal_handlers();

	if (index < 0 || index >= bigbrotr_services_count ||
		strcmp(bigbrotr_services_registry[index].name, MyBgworkerEntry->bgw_extra) != 0)
		elog(FATAL, "bigbrotr: worker started for unknown service \"%s\"", MyBgworkerEntry->bgw_extra);
	svc = &bigbrotr_services_registry[index];
	bigbrotr_process_name = svc->name;
	my_service_index = index;

	if (!launcher_claim_service(index))
	{
		bb_log(BB_WARNING, "another worker already runs this service; exiting");
		proc_exit(0);
	}
	before_shmem_exit(release_service, Int32GetDatum(index));

	bb_worker_connect();
	pgstat_report_appname(MyBgworkerEntry->bgw_name);

	/*
	 * Two contexts, both reset every time round: the loop's (status writes, stats JSON, log lines,
	 * reloads while waiting) and the cycle's (everything the service allocates).
	 */
	loop_ctx = AllocSetContextCreate(TopMemoryContext, "bigbrotr service loop", ALLOCSET_DEFAULT_SIZES);
	cycle.memory = AllocSetContextCreate(TopMemoryContext, "bigbrotr cycle", ALLOCSET_DEFAULT_SIZES);
	cycle.stats = NIL;
	MemoryContextSwitchTo(loop_ctx);

	record_worker_started(svc);
	bb_log(BB_INFO, "service started (pid %d)", MyProcPid);

	for (;;)
	{
		TimestampTz next_cycle;

		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_ctx);
		MemoryContextSwitchTo(loop_ctx);
		if (got_sigterm)
			break;
		if (extension_ready())
			run_one_cycle(svc, &cycle, loop_ctx);
		else
			bb_log(BB_WARNING, "extension bigbrotr is not installed in database \"%s\"; cycle skipped",
				   bigbrotr_database);

		if (svc->lifecycle == SERVICE_ONE_SHOT)
		{
			record_one_shot_done(svc);
			break;
		}

		/* The interval is re-read on every wake-up so that a reload takes effect at once. */
		next_cycle = GetCurrentTimestamp();
		while (!got_sigterm)
		{
			int64		interval_ms = bigbrotr_debug_interval_ms > 0 ? bigbrotr_debug_interval_ms :
				(int64) *svc->interval_seconds * 1000;
			TimestampTz due = TimestampTzPlusMilliseconds(next_cycle, interval_ms);
			long		remaining_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);

			if (remaining_ms <= 0)
				break;
			service_wait(Min(remaining_ms, 1000));
		}
	}

	bb_log(BB_INFO, "service stopped");
	proc_exit(0);
}
