/*
 * monitor.c: the continuous monitor service. Each cycle it selects the relays whose last check is
 * older than bigbrotr.monitor_min_age_since_check and checks up to bigbrotr.monitor_max_parallel of
 * them at once, all in this one process on one loop: libcurl's multi handle for NIP-11 and one
 * libwebsockets context for NIP-66, driven in turn in short slices with a shutdown check between
 * them. Each finished check becomes a snapshot (monitor_store.c). .onion relays go through Tor, or
 * are skipped and counted when bigbrotr.tor_enabled is off. The due relays are read a page at a time
 * (bigbrotr.monitor_page_size) and each check in flight has its own small context, so the cycle's
 * memory is bounded by those two settings, not by the number of relays.
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
#include "services/common/private_key.h"
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
static int	monitor_page_size = 500;
static char *monitor_private_key = NULL;

/* bigbrotr.monitor_private_key: the shared rules (services/common/private_key.c). */
static bool
check_private_key(char **newval, void **extra, GucSource source)
{
	return bb_private_key_check("bigbrotr.monitor_private_key", "no write test", newval);
}

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
	bb_define_int_setting("bigbrotr.monitor_page_size",
						  "Due relays read per query; the cycle holds at most this many besides its checks in flight.",
						  &monitor_page_size, 500, 1, 100000, 0);
	bb_define_private_key_setting("bigbrotr.monitor_private_key",
								  "Hex private key signing the write test's event; empty: no write test.",
								  &monitor_private_key, check_private_key);
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

/*
 * The relays due for a check, least recently checked first, read a page at a time: keyset paging on
 * (newest snapshot, url), so the cycle holds at most monitor_page_size due relays plus its
 * monitor_max_parallel checks in flight, whatever the number of relays. A relay checked in this cycle
 * has a snapshot newer than the cutoff and is never read again in it.
 */
typedef struct MonitorDue
{
	char	   *url;
	char	   *network;
	int64		inserted_at;
} MonitorDue;

typedef struct MonitorQueue
{
	int64		cutoff;			/* due: newest snapshot at or before this (Unix seconds) */
	int			page_size;
	MemoryContext page_ctx;		/* the current page; reset when the next one is read */
	MemoryContext param_ctx;	/* the keyset parameters of the next read */
	MonitorDue *rows;
	int			n;
	int			pos;
	bool		started;		/* a page was read: the keyset below is set */
	bool		exhausted;		/* the last page read was the last one */
	int64		last_key;
	const char *last_url;		/* in page_ctx */
} MonitorQueue;

#define DUE_KEY "coalesce((SELECT max(m.generated_at) FROM bigbrotr.relay_metadata m WHERE m.relay_url = r.url), " \
	"'-9223372036854775808'::bigint)"

static int64
count_due(int64 cutoff)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(cutoff)};
	int64		n;

	bb_tx_begin();
	bb_spi_run(&plan, "SELECT count(*) FROM bigbrotr.relays r WHERE " DUE_KEY " <= $1",
			   1, types, values, NULL, true);
	n = bb_spi_int64_result();
	bb_tx_commit();
	return n;
}

static void
queue_init(MonitorQueue *q, ServiceCycle *cycle, int64 cutoff, int page_size)
{
	memset(q, 0, sizeof(*q));
	q->cutoff = cutoff;
	q->page_size = Max(page_size, 1);
	q->page_ctx = AllocSetContextCreate(cycle->memory, "monitor due page", ALLOCSET_DEFAULT_SIZES);
	q->param_ctx = AllocSetContextCreate(cycle->memory, "monitor due keyset", ALLOCSET_SMALL_SIZES);
}

/* Reads the next page of due relays after the keyset; false when there is none. */
static bool
queue_fetch(ServiceCycle *cycle, MonitorQueue *q)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8OID, BOOLOID, INT8OID, TEXTOID, INT4OID};
	Datum		values[5];
	MemoryContext old;
	int64		started_us;

	if (q->exhausted)
		return false;
	MemoryContextReset(q->param_ctx);
	old = MemoryContextSwitchTo(q->param_ctx);
	values[0] = Int64GetDatum(q->cutoff);
	values[1] = BoolGetDatum(!q->started);
	values[2] = Int64GetDatum(q->last_key);
	values[3] = CStringGetTextDatum(q->started ? q->last_url : "");
	values[4] = Int32GetDatum(q->page_size);
	MemoryContextSwitchTo(old);
	MemoryContextReset(q->page_ctx);
	q->rows = NULL;
	q->n = q->pos = 0;

	started_us = net_clock_us();
	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT r.url, r.network, r.inserted_at, k.key FROM bigbrotr.relays r "
			   "CROSS JOIN LATERAL (SELECT " DUE_KEY " AS key) k "
			   "WHERE k.key <= $1 AND ($2 OR (k.key, r.url) > ($3, $4)) "
			   "ORDER BY k.key, r.url LIMIT $5",
			   5, types, values, NULL, true);
	old = MemoryContextSwitchTo(q->page_ctx);
	q->n = (int) SPI_processed;
	q->rows = palloc0(sizeof(MonitorDue) * Max(q->n, 1));
	for (int i = 0; i < q->n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		q->rows[i].url = SPI_getvalue(tup, desc, 1);
		q->rows[i].network = SPI_getvalue(tup, desc, 2);
		q->rows[i].inserted_at = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		if (i == q->n - 1)
		{
			q->last_key = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
			q->last_url = q->rows[i].url;
		}
	}
	MemoryContextSwitchTo(old);
	bb_tx_commit();
	service_cycle_count(cycle, "due_pages", 1);
	service_cycle_count(cycle, "due_query_ms", (int64) ((net_clock_us() - started_us) / 1000));
	if (q->n > 0)
		q->started = true;
	if (q->n < q->page_size)
		q->exhausted = true;
	return q->n > 0;
}

/* The next due relay, reading a page when the current one is used up; NULL when there is none. */
static MonitorDue *
queue_next(ServiceCycle *cycle, MonitorQueue *q)
{
	if (q->pos >= q->n && !queue_fetch(cycle, q))
		return NULL;
	return &q->rows[q->pos++];
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
	memset(settings, 0, sizeof(*settings));
	settings->timeout_ms = monitor_timeout * 1000;
	settings->tor_timeout_ms = monitor_tor_timeout * 1000;
	settings->nip11_max_size = monitor_nip11_max_size;
	if (bb_private_key_load("bigbrotr.monitor_private_key", monitor_private_key, settings->seckey))
		settings->write_test = true;
}

/*
 * One slot per check in flight, each with its own small context (the check's URL, NIP-11 request and
 * document), reset when the slot takes its next relay.
 */
typedef struct MonitorSlot
{
	MonitorCheck check;
	MemoryContext memory;
	bool		busy;
} MonitorSlot;

/* Starts the check of a due relay in a free slot; false when it is skipped (Tor off). */
static bool
start_in_slot(ServiceCycle *cycle, MonitorNet *net, MonitorSlot *slot, const MonitorDue *due, int index,
			  const MonitorSettings *settings)
{
	MonitorCheck *check = &slot->check;
	MemoryContext old;

	if (strcmp(due->network, "tor") == 0 && !bigbrotr_tor_enabled)
	{
		service_cycle_count(cycle, "relays_skipped_tor", 1);
		bb_log(BB_DEBUG, "relay %s: .onion relay skipped (bigbrotr.tor_enabled is off)", due->url);
		return false;
	}
	MemoryContextReset(slot->memory);
	old = MemoryContextSwitchTo(slot->memory);
	memset(check, 0, sizeof(*check));
	check->url = pstrdup(due->url);
	check->network = pstrdup(due->network);
	check->inserted_at = due->inserted_at;
	check->via_tor = strcmp(check->network, "tor") == 0;
	check->index = index;
	monitor_check_start(check, net->http, net->ws, settings);
	MemoryContextSwitchTo(old);
	slot->busy = true;
	return true;
}

/* Checks every due relay (due of them), max_parallel at a time; returns how many a stop left unchecked. */
static int64
run_checks(ServiceCycle *cycle, MonitorQueue *queue, int64 due, const MonitorSettings *settings)
{
	MonitorNet *net = create_net(cycle);
	MonitorStore *store = monitor_store_create(monitor_batch_size);
	int			parallel = monitor_max_parallel;
	MonitorSlot *slots = palloc0(sizeof(MonitorSlot) * parallel);
	int			nactive = 0;
	int			started = 0;
	bool		more = true;
	int64		abandoned = 0;

	/*
	 * One turn of the loop allocates in iter_ctx, reset at the turn's end: log lines, finished checks
	 * written to the store (the batch's text lives in the store's own buffer), a batch's jsonb. What
	 * outlives a turn has its own context: the page of due relays, each slot's check.
	 */
	MemoryContext iter_ctx = AllocSetContextCreate(cycle->memory, "monitor loop turn", ALLOCSET_DEFAULT_SIZES);
	MemoryContext cycle_ctx = MemoryContextSwitchTo(iter_ctx);

	for (int i = 0; i < parallel; i++)
		slots[i].memory = AllocSetContextCreate(cycle->memory, "monitor check", ALLOCSET_SMALL_SIZES);

	while (more || nactive > 0)
	{
		int			http_running;
		int			ws_open;
		double		now;

		MemoryContextReset(iter_ctx);
		CHECK_FOR_INTERRUPTS();
		if (service_should_stop())
			break;
		for (int i = 0; i < parallel && more; i++)
		{
			MonitorDue *due;

			if (slots[i].busy)
				continue;
			while ((due = queue_next(cycle, queue)) != NULL &&
				   !start_in_slot(cycle, net, &slots[i], due, started, settings))
				;
			if (due == NULL)
				more = false;
			else
			{
				started++;
				nactive++;
			}
		}

		/* Both loops in turn, in short slices, so a shutdown is seen within a slice or two. */
		http_running = http_client_run(net->http, SLICE_BOTH_MS);
		ws_open = ws_loop_run(net->ws, http_running > 0 ? SLICE_BOTH_MS : SLICE_ONE_MS);
		if (ws_open == 0 && http_running > 0)
			http_client_run(net->http, SLICE_ONE_MS - SLICE_BOTH_MS);

		now = net_clock_us() / 1000.0;
		for (int i = 0; i < parallel; i++)
		{
			MonitorSlot *slot = &slots[i];
			bool		done;
			MemoryContext old;

			if (!slot->busy)
				continue;
			old = MemoryContextSwitchTo(slot->memory);
			done = monitor_check_poll(&slot->check, now);
			MemoryContextSwitchTo(old);
			if (done)
			{
				finish_check(cycle, store, &slot->check);
				slot->busy = false;
				nactive--;
			}
		}
	}

	MemoryContextSwitchTo(cycle_ctx);
	MemoryContextDelete(iter_ctx);
	if (service_should_stop())
	{
		/* Whatever was neither checked nor skipped: in flight, in the page, or not read yet. */
		abandoned = Max(due - service_cycle_get(cycle, "relays_checked") -
						service_cycle_get(cycle, "relays_skipped_tor"), 0);
		bb_log(BB_INFO, "stopping: %d relays checked are stored, " INT64_FORMAT " in flight or not started are left for the next cycle",
			   (int) (store->written + store->n), abandoned);
	}
	monitor_store_flush(store);
	destroy_net(net);
	for (int i = 0; i < parallel; i++)
		if (slots[i].busy)
			monitor_check_release(&slots[i].check);
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
	MonitorQueue queue;
	int64		count;
	int64		cpu_start = cpu_ms();
	double		wall_start = net_clock_us() / 1000.0;
	int64		cutoff;
	int64		left;

	read_settings(&settings);
	/* At least a second old: a relay checked in this cycle (this second or later) is not due in it. */
	cutoff = bb_unix_now() - Max(monitor_min_age, 1);
	count = count_due(cutoff);
	service_cycle_set(cycle, "relays_due", count);
	service_cycle_set(cycle, "write_test", settings.write_test ? 1 : 0);
	if (count > 0)
	{
		queue_init(&queue, cycle, cutoff, monitor_page_size);
		left = run_checks(cycle, &queue, count, &settings);
		if (left > 0)
			service_cycle_set(cycle, "relays_not_checked", left);
	}
	explicit_bzero(settings.seckey, sizeof(settings.seckey));
	service_cycle_set(cycle, "cycle_cpu_ms", cpu_ms() - cpu_start);
	service_cycle_set(cycle, "cycle_wall_ms", (int64) (net_clock_us() / 1000.0 - wall_start));
	bb_log(BB_INFO, "cycle: " INT64_FORMAT " relays due, " INT64_FORMAT " checked, " INT64_FORMAT " openable, " INT64_FORMAT " readable, "
		   INT64_FORMAT " writable, " INT64_FORMAT " skipped (Tor off)", count,
		   service_cycle_get(cycle, "relays_checked"), service_cycle_get(cycle, "relays_openable"),
		   service_cycle_get(cycle, "relays_readable"), service_cycle_get(cycle, "relays_writable"),
		   service_cycle_get(cycle, "relays_skipped_tor"));
}
