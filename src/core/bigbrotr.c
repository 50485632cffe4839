/*
 * bigbrotr.c: the extension's entry point. _PG_init runs in the postmaster (the library must be in
 * shared_preload_libraries): it defines the GUCs of the core and of every registered service,
 * reserves the launcher's and the services' shared memory and registers the launcher background worker.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"

#include "core/bigbrotr.h"
#include "core/launcher.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
bigbrotr_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	launcher_shmem_request();
	for (int i = 0; i < bigbrotr_services_count; i++)
		if (bigbrotr_services_registry[i].shmem_request)
			bigbrotr_services_registry[i].shmem_request();
}

static void
bigbrotr_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	launcher_shmem_startup();
	for (int i = 0; i < bigbrotr_services_count; i++)
		if (bigbrotr_services_registry[i].shmem_startup)
			bigbrotr_services_registry[i].shmem_startup();
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bigbrotr must be loaded via shared_preload_libraries"),
				 errhint("Add 'bigbrotr' to shared_preload_libraries in postgresql.conf and restart the server.")));

	bigbrotr_define_shared_gucs();
	for (int i = 0; i < bigbrotr_services_count; i++)
		if (bigbrotr_services_registry[i].define_gucs)
			bigbrotr_services_registry[i].define_gucs();
	MarkGUCPrefixReserved("bigbrotr");
	bigbrotr_install_secret_log_hook();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = bigbrotr_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = bigbrotr_shmem_startup;

	launcher_register();
}
