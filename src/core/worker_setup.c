/*
 * worker_setup.c: fills the BackgroundWorker of every bigbrotr process (the launcher, the service
 * workers, the synchronizer's parallel workers) the same way: shared memory and a database
 * connection, started once recovery finished, an entry point of this library, name and type; and
 * connects every one of them the same way, refusing a database that is not UTF8.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"

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

void
bb_worker_connect(void)
{
	BackgroundWorkerInitializeConnection(bigbrotr_database, NULL, 0);
	if (GetDatabaseEncoding() == PG_UTF8)
		return;

	/*
	 * Reported as an ERROR (an uncaught one would become FATAL and exit with code 1, which restarts
	 * the launcher every few seconds), then a clean exit: nothing here can change until the server
	 * restarts with another bigbrotr.database.
	 */
	PG_TRY();
	{
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bigbrotr %s: database \"%s\" has encoding %s, bigbrotr needs UTF8; exiting",
						bigbrotr_process_name, bigbrotr_database, GetDatabaseEncodingName()),
				 errdetail("Nostr events are UTF-8 JSON: in another encoding valid events would be rejected or stored garbled."),
				 errhint("Create a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0), "
						 "set bigbrotr.database to it and restart the server.")));
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
	proc_exit(0);
}
