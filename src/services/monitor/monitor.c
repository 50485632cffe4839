/*
 * monitor.c: the continuous monitor service. Each cycle it selects the relays whose last check is
 * older than bigbrotr.monitor_min_age_since_check and checks up to bigbrotr.monitor_max_parallel of
 * them at once, all in this one process on one loop: libcurl's multi handle for NIP-11 and one
 * libwebsockets context for NIP-66, driven in turn in short slices with a shutdown check between
 * them. Each finished check becomes a snapshot (monitor_store.c). .onion relays go through Tor, or
 * are skipped and counted when bigbrotr.tor_enabled is off.
 */
#include "postgres.h"

#include <sys/resource.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "services/common/net_setup.h"
#include "nostr/keys.h"
#include "services/monitor/monitor.h"
#include "services/services.h"

/* Slices of each loop while both have work: short, so neither starves the other's timing. */
#define SLICE_BOTH_MS 5
#define SLICE_ONE_MS 50

int			monitor_interval = 3600;
static int	monitor_min_age = 3600;
static int	monitor_max_parallel = 50;
static int	monitor_timeout = 30;
static int	monitor_tor_timeout = 60;
static int	monitor_batch_size = 50;
static int	monitor_nip11_max_size = 64 * 1024;
static char *monitor_private_key = NULL;

void
monitor_define_gucs(void)
{
	bb_define_int_setting("bigbrotr.monitor_interval", "Seconds between two monitor cycles.",
						  &monitor_interval, 3600, 60, INT_MAX / 1000, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.monitor_min_age_since_check",
						  "A relay is checked again once its last check is this old.",
						  &monitor_min_age, 3600, 0, INT_MAX, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.monitor_max_parallel",
						  "Relays checked at once (all in the one monitor process).",
						  &monitor_max_parallel, 50, 1, 1000, 0);
	bb_define_int_setting("bigbrotr.monitor_timeout",
						  "Budget of one clearnet relay's whole check (NIP-11 and NIP-66).",
						  &monitor_timeout, 30, 1, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.monitor_tor_timeout",
						  "Budget of one .onion relay's whole check.",
						  &monitor_tor_timeout, 60, 1, 3600, GUC_UNIT_S);
	bb_define_int_setting("bigbrotr.monitor_batch_size",
						  "Snapshots written per call of bigbrotr.insert_relay_metadata_batch.",
						  &monitor_batch_size, 50, 1, 10000, 0);
	bb_define_int_setting("bigbrotr.monitor_nip11_max_size",
						  "Largest NIP-11 document read; larger ones are no document.",
						  &monitor_nip11_max_size, 64 * 1024, 1024, 16 * 1024 * 1024, GUC_UNIT_BYTE);
	/* A secret: hidden from other roles and from SHOW ALL; secret_log.c keeps it out of the log. */
	DefineCustomStringVariable("bigbrotr.monitor_private_key",
							   "Hex private key signing the write test's event; empty: no write test.",
							   NULL, &monitor_private_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
}

typedef struct MonitorNet
{
	HttpClient *http;
	WsLoop	   *ws;
} MonitorNet;

/* Runs when the cycle's memory is reset, also after an error: no connection outlives its cycle. */
static void
destroy_net(void *arg)
{
	MonitorNet *net = arg;

	if (net->ws)
		ws_loop_destroy(net->ws);
	net->ws = NULL;
	if (net->http)
		http_client_destroy(net->http);
	net->http = NULL;
}

static MonitorNet *
create_net(ServiceCycle *cycle)
{
	MonitorNet *net = MemoryContextAllocZero(cycle->memory, sizeof(MonitorNet));
	MemoryContextCallback *cb = MemoryContextAlloc(cycle->memory, sizeof(MemoryContextCallback));

	cb->func = destroy_net;
	cb->arg = net;
	MemoryContextRegisterResetCallback(cycle->memory, cb);
	net->http = bb_http_client_create("bigbrotr-monitor/" BIGBROTR_VERSION);
	net->ws = bb_ws_loop_create("bigbrotr-monitor/" BIGBROTR_VERSION, 1024 * 1024);
	return net;
}

/* The relays due for a check, least recently checked first. */
static MonitorCheck *
select_relays(int *count)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(bb_unix_now() - monitor_min_age)};
	MonitorCheck *checks;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT r.url, r.network, r.inserted_at FROM bigbrotr.relays r "
			   "LEFT JOIN LATERAL (SELECT max(m.generated_at) AS last FROM bigbrotr.relay_metadata m "
			   "                   WHERE m.relay_url = r.url) l ON true "
			   "WHERE l.last IS NULL OR l.last <= $1 ORDER BY l.last NULLS FIRST, r.url",
			   1, types, values, NULL, true);
	*count = (int) SPI_processed;
	checks = palloc0(sizeof(MonitorCheck) * Max(*count, 1));
	for (int i = 0; i < *count; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		checks[i].url = SPI_getvalue(tup, desc, 1);
		checks[i].network = SPI_getvalue(tup, desc, 2);
		checks[i].inserted_at = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		checks[i].via_tor = strcmp(checks[i].network, "tor") == 0;
		checks[i].index = i;
	}
	bb_tx_commit();
	return checks;
}

/* Whatever a finished check found: logged with the relay URL, counted, queued for storage. */
static void
finish_check(ServiceCycle *cycle, MonitorStore *store, MonitorCheck *check)
{
	service_cycle_count(cycle, "relays_checked", 1);
	if (check->nip11_json)
		service_cycle_count(cycle, "nip11_ok", 1);
	else
	{
		service_cycle_count(cycle, "nip11_failed", 1);
		bb_log(BB_INFO, "relay %s: no NIP-11 document: %s", check->url, check->nip11_problem);
	}
	if (check->nip11_json && check->nip11_dropped > 0)
	{
		service_cycle_count(cycle, "nip11_fields_dropped", check->nip11_dropped);
		bb_log(BB_INFO, "relay %s: NIP-11 %s", check->url, check->nip11_problem);
	}
	if (check->openable)
		service_cycle_count(cycle, "relays_openable", 1);
	else
	{
		service_cycle_count(cycle, "open_failed", 1);
		bb_log(BB_INFO, "relay %s: not openable: %s", check->url, check->open_problem);
	}
	if (check->readable)
		service_cycle_count(cycle, "relays_readable", 1);
	else if (check->openable)
	{
		service_cycle_count(cycle, "read_failed", 1);
		bb_log(BB_INFO, "relay %s: not readable: %s", check->url, check->read_problem);
	}
	if (check->writable)
		service_cycle_count(cycle, "relays_writable", 1);
	else if (check->openable && check->event_msg)
	{
		service_cycle_count(cycle, "write_failed", 1);
		bb_log(BB_INFO, "relay %s: not writable: %s", check->url, check->write_problem);
	}
	if (check->bad_messages > 0)
	{
		service_cycle_count(cycle, "relay_messages_invalid", check->bad_messages);
		bb_log(BB_INFO, "relay %s: %d messages that are not valid relay messages", check->url, check->bad_messages);
	}
	monitor_check_release(check);
	monitor_store_add(store, check);
	if (check->nip11_json)
		pfree(check->nip11_json);
	check->nip11_json = NULL;
}

static void
read_settings(MonitorSettings *settings)
{
	nostr_error err;

	memset(settings, 0, sizeof(*settings));
	settings->timeout_ms = monitor_timeout * 1000;
	settings->tor_timeout_ms = monitor_tor_timeout * 1000;
	settings->nip11_max_size = monitor_nip11_max_size;
	if (monitor_private_key && monitor_private_key[0] != '\0')
	{
		/* nostr errors never quote the key, so the message is safe to log. */
		if (nostr_seckey_from_hex(monitor_private_key, strlen(monitor_private_key), settings->seckey, &err) == NOSTR_OK)
			settings->write_test = true;
		else
			bb_log(BB_WARNING, "bigbrotr.monitor_private_key is not usable (%s): no write tests this cycle",
				   err.message);
	}
}

/* Checks every relay, max_parallel at a time; returns how many were left unchecked by a stop. */
static int
run_checks(ServiceCycle *cycle, MonitorCheck *checks, int count, const MonitorSettings *settings)
{
	MonitorNet *net = create_net(cycle);
	MonitorStore *store = monitor_store_create(monitor_batch_size);
	int			parallel = monitor_max_parallel;
	int		   *active = palloc(sizeof(int) * parallel);
	int			nactive = 0;
	int			next = 0;
	int			abandoned = 0;

	while (next < count || nactive > 0)
	{
		int			http_running;
		int			ws_open;
		double		now;

		CHECK_FOR_INTERRUPTS();
		if (service_should_stop())
			break;
		while (nactive < parallel && next < count)
		{
			MonitorCheck *check = &checks[next++];

			if (check->via_tor && !bigbrotr_tor_enabled)
			{
				service_cycle_count(cycle, "relays_skipped_tor", 1);
				bb_log(BB_DEBUG, "relay %s: .onion relay skipped (bigbrotr.tor_enabled is off)", check->url);
				continue;
			}
			monitor_check_start(check, net->http, net->ws, settings);
			active[nactive++] = check->index;
		}

		/* Both loops in turn, in short slices, so a shutdown is seen within a slice or two. */
		http_running = http_client_run(net->http, SLICE_BOTH_MS);
		ws_open = ws_loop_run(net->ws, http_running > 0 ? SLICE_BOTH_MS : SLICE_ONE_MS);
		if (ws_open == 0 && http_running > 0)
			http_client_run(net->http, SLICE_ONE_MS - SLICE_BOTH_MS);

		now = net_clock_us() / 1000.0;
		for (int i = 0; i < nactive;)
		{
			MonitorCheck *check = &checks[active[i]];

			if (monitor_check_poll(check, now))
			{
				finish_check(cycle, store, check);
				active[i] = active[--nactive];
			}
			else
				i++;
		}
	}

	if (service_should_stop())
	{
		for (int i = next; i < count; i++)
			if (!(checks[i].via_tor && !bigbrotr_tor_enabled))
				abandoned++;
		abandoned += nactive;
		bb_log(BB_INFO, "stopping: %d relays checked are stored, %d in flight or not started are left for the next cycle",
			   (int) (store->written + store->n), abandoned);
	}
	monitor_store_flush(store);
	destroy_net(net);
	service_cycle_set(cycle, "snapshots_written", store->written);
	service_cycle_set(cycle, "snapshots_new", store->new_snapshots);
	service_cycle_set(cycle, "checks_unstorable", store->unstorable);
	return abandoned;
}

static int64
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

void
monitor_run_cycle(ServiceCycle *cycle)
{
	MonitorSettings settings;
	MonitorCheck *checks;
	int			count;
	int64		cpu_start = cpu_ms();
	double		wall_start = net_clock_us() / 1000.0;
	int			left;

	read_settings(&settings);
	checks = select_relays(&count);
	service_cycle_set(cycle, "relays_due", count);
	service_cycle_set(cycle, "write_test", settings.write_test ? 1 : 0);
	if (count > 0)
	{
		left = run_checks(cycle, checks, count, &settings);
		if (left > 0)
			service_cycle_set(cycle, "relays_not_checked", left);
	}
	explicit_bzero(settings.seckey, sizeof(settings.seckey));
	service_cycle_set(cycle, "cycle_cpu_ms", cpu_ms() - cpu_start);
	service_cycle_set(cycle, "cycle_wall_ms", (int64) (net_clock_us() / 1000.0 - wall_start));
	bb_log(BB_INFO, "cycle: %d relays due, " INT64_FORMAT " checked, " INT64_FORMAT " openable, " INT64_FORMAT " readable, "
		   INT64_FORMAT " writable, " INT64_FORMAT " skipped (Tor off)", count,
		   service_cycle_get(cycle, "relays_checked"), service_cycle_get(cycle, "relays_openable"),
		   service_cycle_get(cycle, "relays_readable"), service_cycle_get(cycle, "relays_writable"),
		   service_cycle_get(cycle, "relays_skipped_tor"));
}
