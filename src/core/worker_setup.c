/*
 * worker_setup.c: fills the BackgroundWorker of every bigbrotr process (the launcher, the service
 * workers, the synchronizer's parallel workers) the same way: shared memory and a database
 * connection, started once recovery finished, an entry point of this library, name and type.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"

#include "core/bigbrotr.h"

void
bb_worker_fill(struct BackgroundWorker *worker, const char *function_name, const char *type,
			   const char *name, int restart_time)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_time;
	strlcpy(worker->bgw_library_name, "bigbrotr", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function_name, BGW_MAXLEN);
	strlcpy(worker->bgw_type, type, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
	/* Dynamic workers report to whoever registered them; the postmaster registers the static one. */
	worker->bgw_notify_pid = process_shared_preload_libraries_in_progress ? 0 : MyProcPid;
}
