/*
 * registry.c: the one table of services compiled into bigbrotr. Adding a service is one folder
 * in src/services/ plus one line here (and its entry points in services.h).
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "core/bigbrotr.h"
#include "services/services.h"

const ServiceDefinition bigbrotr_services_registry[] = {
	{"initializer", "verifies the installed objects and seeds relay URLs from a file",
	SERVICE_ONE_SHOT, initializer_define_gucs, initializer_run_cycle, NULL},
	{"finder", "discovers relay URLs from HTTP API sources and from archived events",
	SERVICE_CONTINUOUS, finder_define_gucs, finder_run_cycle, &finder_interval},
	{"monitor", "checks every known relay (NIP-11, NIP-66 open/read/write) and stores deduplicated results",
	SERVICE_CONTINUOUS, monitor_define_gucs, monitor_run_cycle, &monitor_interval},
	{"synchronizer", "archives events from readable relays with parallel worker processes",
	SERVICE_CONTINUOUS, synchronizer_define_gucs, synchronizer_run_cycle, &synchronizer_interval},
	{"api", "serves the archive over HTTP (REST, OpenAPI, health, metrics) and a read-only Nostr relay endpoint",
	SERVICE_CONTINUOUS, api_define_gucs, api_run_cycle, &api_cycle_pause,
	api_metrics_shmem_request, api_metrics_shmem_startup},
};

const int	bigbrotr_services_count = lengthof(bigbrotr_services_registry);

const ServiceDefinition *
service_lookup(const char *name)
{
	for (int i = 0; i < bigbrotr_services_count; i++)
		if (strcmp(bigbrotr_services_registry[i].name, name) == 0)
			return &bigbrotr_services_registry[i];
	return NULL;
}

/* "a, b, c": for error messages that list the known services. */
char *
service_known_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < bigbrotr_services_count; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", bigbrotr_services_registry[i].name);
	return buf.data;
}
