/*
 * monitor_store.c: the monitor's snapshots, one per checked relay (also for relays that are down),
 * queued as a JSON array and written through bigbrotr.insert_relay_metadata_batch, which dedups the
 * nip11 and nip66 rows by content hash. A full batch is written at once in its own transaction, so
 * a SIGTERM mid-cycle loses at most the checks still in flight.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "core/bigbrotr.h"
#include "services/monitor/monitor.h"

MonitorStore *
monitor_store_create(int batch_size)
{
	MonitorStore *store = palloc0(sizeof(MonitorStore));

	store->batch_size = Max(batch_size, 1);
	initStringInfo(&store->batch);
	return store;
}

/* A round-trip time in ms, or null when it was not measured (< 0). */
static void
write_rtt(JsonWriter *w, const char *name, int rtt)
{
	if (rtt < 0)
		json_writer_null(w, name);
	else
		json_writer_int(w, name, rtt);
}

void
monitor_store_add(MonitorStore *store, const MonitorCheck *check)
{
	JsonWriter *w = &store->writer;

	if (store->n == 0)
	{
		json_writer_init(w, &store->batch);
		json_writer_begin_array(w, NULL);
	}
	json_writer_begin_object(w, NULL);
	json_writer_string(w, "relay_url", check->url);
	json_writer_string(w, "network", check->network);
	json_writer_int(w, "inserted_at", check->inserted_at);
	json_writer_int(w, "generated_at", check->generated_at);
	json_writer_begin_object(w, "nip66");
	json_writer_bool(w, "openable", check->openable);
	json_writer_bool(w, "readable", check->readable);
	json_writer_bool(w, "writable", check->writable);
	write_rtt(w, "rtt_open", check->rtt_open);
	write_rtt(w, "rtt_read", check->rtt_read);
	write_rtt(w, "rtt_write", check->rtt_write);
	json_writer_end_object(w);
	json_writer_raw(w, "nip11", check->nip11_json);
	json_writer_end_object(w);
	if (++store->n >= store->batch_size)
		monitor_store_flush(store);
}

void
monitor_store_flush(MonitorStore *store)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {JSONBOID};
	Datum		values[1];

	if (store->n == 0)
		return;
	json_writer_end_array(&store->writer);
	bb_tx_begin();
	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(store->batch.data));
	bb_spi_run(&plan, "SELECT bigbrotr.insert_relay_metadata_batch($1)", 1, types, values, NULL, false);
	store->new_snapshots += bb_spi_int64_result();
	bb_tx_commit();
	store->written += store->n;
	store->n = 0;
	resetStringInfo(&store->batch);
}
