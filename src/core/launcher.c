/*
 * launcher.c: the static background worker that keeps one dynamic worker running for each service a
 * user started. The wish to run lives in bigbrotr.service_control, so started services come back after
 * a server restart or a crash; bigbrotr_start/stop wake the launcher when their transaction commits.
 * Shared memory holds the launcher's latch and, per service, the pid and latch of the worker that
 * runs it: a second worker for the same service refuses to start. A service is stopped through its
 * BackgroundWorkerHandle (TerminateBackgroundWorker); a worker an earlier launcher started (this
 * one has no handle for it, e.g. after the launcher itself was restarted) is asked through a stop
 * flag in shared memory and its latch, which its loop checks like a SIGTERM. Each loop allocates in
 * a context reset at its end; only the worker handles live in TopMemoryContext (one per service).
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
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "core/bigbrotr.h"
#include "core/launcher.h"

#define LAUNCHER_NAPTIME_MS 1000
/* A service worker that died is started again no sooner than this after its previous start. */
#define RESTART_DELAY_MS 5000

typedef struct LauncherShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	pid_t		service_pids[BIGBROTR_MAX_SERVICES];
	Latch	   *service_latches[BIGBROTR_MAX_SERVICES];
	bool		stop_requested[BIGBROTR_MAX_SERVICES];
} LauncherShared;

static LauncherShared *shared = NULL;

static BackgroundWorkerHandle *handles[BIGBROTR_MAX_SERVICES];
static TimestampTz last_start[BIGBROTR_MAX_SERVICES];

void
launcher_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LauncherShared)));
}

void
launcher_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("bigbrotr launcher", sizeof(LauncherShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(LauncherShared));
		SpinLockInit(&shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
launcher_register(void)
{
	BackgroundWorker worker;

	if (bigbrotr_services_count > BIGBROTR_MAX_SERVICES)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("bigbrotr: %d services registered, at most %d supported",
							   bigbrotr_services_count, BIGBROTR_MAX_SERVICES)));

	bb_worker_fill(&worker, "bigbrotr_launcher_main", "bigbrotr launcher", "bigbrotr launcher", 10);
	RegisterBackgroundWorker(&worker);
}

void
launcher_wakeup(void)
{
	Latch	   *latch = NULL;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

static void
launcher_forget_latch(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/* Called by a service worker at start: false when another worker already runs that service. */
bool
launcher_claim_service(int service_index)
{
	bool		claimed = false;

	SpinLockAcquire(&shared->mutex);
	if (shared->service_pids[service_index] == 0)
	{
		shared->service_pids[service_index] = MyProcPid;
		shared->service_latches[service_index] = MyLatch;
		shared->stop_requested[service_index] = false;
		claimed = true;
	}
	SpinLockRelease(&shared->mutex);
	return claimed;
}

void
launcher_release_service(int service_index)
{
	SpinLockAcquire(&shared->mutex);
	if (shared->service_pids[service_index] == MyProcPid)
	{
		shared->service_pids[service_index] = 0;
		shared->service_latches[service_index] = NULL;
		shared->stop_requested[service_index] = false;
	}
	SpinLockRelease(&shared->mutex);
}

bool
launcher_stop_requested(int service_index)
{
	bool		requested;

	if (shared == NULL || service_index < 0)
		return false;
	SpinLockAcquire(&shared->mutex);
	requested = shared->stop_requested[service_index] && shared->service_pids[service_index] == MyProcPid;
	SpinLockRelease(&shared->mutex);
	return requested;
}

/* For a worker this launcher has no handle of: raise its stop flag and wake it. */
static void
request_stop_through_shmem(int service_index)
{
	Latch	   *latch = NULL;
	pid_t		pid;

	SpinLockAcquire(&shared->mutex);
	if ((pid = shared->service_pids[service_index]) != 0)
	{
		shared->stop_requested[service_index] = true;
		latch = shared->service_latches[service_index];
	}
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
	/* Only a signal reaches a worker inside SQL (a lock wait): its SIGTERM handler cancels it. */
	if (pid != 0)
		(void) kill(pid, SIGTERM);
}

static pid_t
service_pid(int service_index)
{
	pid_t		pid;

	SpinLockAcquire(&shared->mutex);
	pid = shared->service_pids[service_index];
	SpinLockRelease(&shared->mutex);
	return pid;
}

/* Reads which services are wanted; false when the extension is not installed (yet). */
static bool
read_wanted_services(bool *wanted)
{
	static SPIPlanPtr plan = NULL;
	bool		installed;

	memset(wanted, 0, sizeof(bool) * BIGBROTR_MAX_SERVICES);
	bb_tx_begin();
	pgstat_report_activity(STATE_RUNNING, "reading bigbrotr.service_control");
	installed = bb_extension_installed();
	if (installed)
	{
		bb_spi_run(&plan, "SELECT name FROM bigbrotr.service_control WHERE enabled", 0, NULL, NULL, NULL, true);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1);

			for (int i = 0; i < bigbrotr_services_count; i++)
				if (strcmp(bigbrotr_services_registry[i].name, name) == 0)
					wanted[i] = true;
		}
	}
	bb_tx_commit();
	pgstat_report_activity(STATE_IDLE, NULL);
	return installed;
}

static void
start_service_worker(int index)
{
	const ServiceDefinition *svc = &bigbrotr_services_registry[index];
	BackgroundWorker worker;
	char		type[BGW_MAXLEN];
	MemoryContext old;
	bool		registered;

	snprintf(type, sizeof(type), "bigbrotr %s", svc->name);
	bb_worker_fill(&worker, "bigbrotr_service_main", type, type, BGW_NEVER_RESTART);
	strlcpy(worker.bgw_extra, svc->name, BGW_EXTRALEN);
	worker.bgw_main_arg = Int32GetDatum(index);

	if (handles[index])
	{
		pfree(handles[index]);
		handles[index] = NULL;
	}
	last_start[index] = GetCurrentTimestamp();
	/* The handle outlives this loop iteration: it is allocated in TopMemoryContext, freed above. */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handles[index]);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		bb_log(BB_WARNING, "could not start service \"%s\": no free background worker slot "
			   "(raise max_worker_processes)", svc->name);
		handles[index] = NULL;
		return;
	}
	bb_log(BB_INFO, "starting service \"%s\"", svc->name);
}

static void
reconcile(const bool *wanted)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < bigbrotr_services_count; i++)
	{
		pid_t		running = service_pid(i);
		bool		pending = false;

		if (handles[i])
		{
			pid_t		pid;

			pending = GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED;
		}

		if (wanted[i] && running == 0 && !pending &&
			TimestampDifferenceExceeds(last_start[i], now, RESTART_DELAY_MS))
			start_service_worker(i);
		else if (!wanted[i] && running != 0)
		{
			bb_log(BB_INFO, "stopping service \"%s\" (pid %d)", bigbrotr_services_registry[i].name, (int) running);
			if (pending)
				TerminateBackgroundWorker(handles[i]);
			else
				request_stop_through_shmem(i);
		}
	}
}

void
bigbrotr_launcher_main(Datum main_arg)
{
	bool		warned_missing = false;
	MemoryContext loop_ctx;

	bigbrotr_process_name = "launcher";
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(launcher_forget_latch, (Datum) 0);

	bb_worker_connect();
	bb_log(BB_INFO, "launcher started in database \"%s\"", bigbrotr_database);

	/* Allow the first start of every service at once. */
	for (int i = 0; i < BIGBROTR_MAX_SERVICES; i++)
		last_start[i] = 0;

	/*
	 * Everything one loop allocates (the rows read, log messages, a reload) goes with the loop: the
	 * launcher runs for months, once a second.
	 */
	loop_ctx = AllocSetContextCreate(TopMemoryContext, "bigbrotr launcher loop", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		wanted[BIGBROTR_MAX_SERVICES];

		MemoryContextSwitchTo(loop_ctx);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (read_wanted_services(wanted))
		{
			warned_missing = false;
			reconcile(wanted);
		}
		else if (!warned_missing)
		{
			bb_log(BB_WARNING, "extension bigbrotr is not installed in database \"%s\"; waiting for CREATE EXTENSION bigbrotr",
				   bigbrotr_database);
			warned_missing = true;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 bigbrotr_debug_interval_ms > 0 ? Min(bigbrotr_debug_interval_ms, LAUNCHER_NAPTIME_MS) :
						 LAUNCHER_NAPTIME_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_ctx);
	}
}
