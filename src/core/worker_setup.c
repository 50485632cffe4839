/*
 * worker_setup.c: fills the BackgroundWorker of every bigbrotr process (the launcher, the service
 * workers, the synchronizer's parallel workers) the same way: shared memory and a database
 * connection, started once recovery finished, an entry point of this library, name and type; and
 * connects every one of them the same way, refusing a database that is not UTF8, and (every process
 * but the launcher) an installed extension whose version is not this library's.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "executor/spi.h"

#include "core/bigbrotr.h"

/*
 * Reported as an ERROR (an uncaught one would become FATAL and exit with code 1, which the
 * postmaster or the launcher would answer with a restart), then a clean exit with code 0.
 */
static void pg_attribute_noreturn()
refuse_and_exit(void)
{
	EmitErrorReport();
	FlushErrorState();
	proc_exit(0);
}

static void pg_attribute_noreturn()
refuse_version(const char *installed)
{
	PG_TRY();
	{
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bigbrotr %s: extension bigbrotr is installed at version %s in database \"%s\", "
						"but the library is version %s; exiting",
						bigbrotr_process_name, installed, bigbrotr_database, BIGBROTR_VERSION),
				 errhint("Run ALTER EXTENSION bigbrotr UPDATE in database \"%s\"; the launcher then starts "
						 "the services again.", bigbrotr_database)));
	}
	PG_CATCH();
	{
		refuse_and_exit();
	}
	PG_END_TRY();
	pg_unreachable();
}

/*
 * A service or synchronizer worker runs SQL of this library's version: on an archive still at
 * another version (the library was upgraded, ALTER EXTENSION bigbrotr UPDATE not yet run) its
 * procedures could be missing or differ, so it refuses to start, with the fix in the hint. The
 * launcher is exempt: it only reads service_control, the same in every version, it runs before
 * CREATE EXTENSION too, and it starts the services again once the update is done.
 */
static void
check_extension_version(void)
{
	static SPIPlanPtr plan = NULL;
	char	   *installed = NULL;

	if (MyBgworkerEntry && strcmp(MyBgworkerEntry->bgw_type, "bigbrotr launcher") == 0)
		return;
	bb_tx_begin();
	bb_spi_run(&plan, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'bigbrotr'",
			   0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
		installed = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	bb_tx_commit();
	if (installed != NULL && strcmp(installed, BIGBROTR_VERSION) != 0)
		refuse_version(installed);
}

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
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		/* Nothing here can change until the server restarts with another bigbrotr.database. */
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
			refuse_and_exit();
		}
		PG_END_TRY();
	}
	check_extension_version();
}
