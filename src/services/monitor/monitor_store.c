/*
 * monitor_store.c: the monitor's snapshots, one per checked relay (also for relays that are down),
 * queued as JSON objects and written through bigbrotr.insert_relay_metadata_batch, which dedups the
 * nip11 and nip66 rows by content hash. A full batch is written at once in its own transaction, so
 * a SIGTERM mid-cycle loses at most the checks still in flight. The batch goes through
 * bb_insert_isolating: a snapshot PostgreSQL refuses (a constraint, a trigger, a value) is logged
 * with its relay URL, SQLSTATE and message and counted (checks_unstorable), and every other snapshot
 * of the batch is stored.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "services/monitor/monitor.h"

MonitorStore *
monitor_store_create(int batch_size)
{
	MonitorStore *store = palloc0(sizeof(MonitorStore));

	store->batch_size = Max(batch_size, 1);
	initStringInfo(&store->batch);
	store->ends = palloc(sizeof(int) * store->batch_size);
	store->urls = palloc0(sizeof(char *) * store->batch_size);
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

	/* Snapshot i is batch.data[ends[i-1] + 1, ends[i]): the elements, comma-separated. */
	if (store->n > 0)
		appendStringInfoChar(&store->batch, ',');
	json_writer_init(w, &store->batch);
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
	/* observed on the read test; unknown (absent: NULL) when the relay could not be opened */
	if (check->openable)
		json_writer_bool(w, "auth_required", check->auth_required);
	json_writer_end_object(w);
	json_writer_raw(w, "nip11", check->nip11_json);
	json_writer_end_object(w);
	store->ends[store->n] = store->batch.len;
	store->urls[store->n] = MemoryContextStrdup(GetMemoryChunkContext(store), check->url);
	if (++store->n >= store->batch_size)
		monitor_store_flush(store);
}

/* bb_insert_isolating's insert: snapshots [off, off + len) in one insert_relay_metadata_batch call. */
static void
insert_snapshots(void *arg, int off, int len)
{
	static SPIPlanPtr plan = NULL;
	MonitorStore *store = arg;
	Oid			types[1] = {JSONBOID};
	Datum		values[1];
	int			start = off == 0 ? 0 : store->ends[off - 1] + 1;
	StringInfoData array;

	initStringInfo(&array);
	appendStringInfoChar(&array, '[');
	appendBinaryStringInfo(&array, store->batch.data + start, store->ends[off + len - 1] - start);
	appendStringInfoChar(&array, ']');
	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(array.data));
	bb_spi_run(&plan, "SELECT bigbrotr.insert_relay_metadata_batch($1)", 1, types, values, NULL, false);
	store->new_snapshots += bb_spi_int64_result();
	pfree(DatumGetPointer(values[0]));
	pfree(array.data);
}

/* bb_insert_isolating's rejected: one snapshot PostgreSQL would not store. */
static void
snapshot_rejected(void *arg, int index, const char *sqlstate, const char *message)
{
	MonitorStore *store = arg;

	store->unstorable++;
	bb_log(BB_WARNING, "relay %s: snapshot not stored (SQLSTATE %s): %s", store->urls[index], sqlstate, message);
}

void
monitor_store_flush(MonitorStore *store)
{
	int			rejected;

	if (store->n == 0)
		return;
	bb_tx_begin();
	rejected = bb_insert_isolating(store->n, insert_snapshots, snapshot_rejected, store);
	bb_tx_commit();
	store->written += store->n - rejected;
	for (int i = 0; i < store->n; i++)
	{
		pfree(store->urls[i]);
		store->urls[i] = NULL;
	}
	store->n = 0;
	resetStringInfo(&store->batch);
}
