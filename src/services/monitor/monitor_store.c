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

static void
append_rtt(StringInfo buf, const char *name, int rtt)
{
	if (rtt < 0)
		appendStringInfo(buf, ",\"%s\":null", name);
	else
		appendStringInfo(buf, ",\"%s\":%d", name, rtt);
}

void
monitor_store_add(MonitorStore *store, const MonitorCheck *check)
{
	StringInfo	buf = &store->batch;

	appendStringInfoString(buf, store->n == 0 ? "[" : ",");
	appendStringInfoString(buf, "{\"relay_url\":");
	escape_json(buf, check->url);
	appendStringInfoString(buf, ",\"network\":");
	escape_json(buf, check->network);
	appendStringInfo(buf, ",\"inserted_at\":" INT64_FORMAT ",\"generated_at\":" INT64_FORMAT,
					 check->inserted_at, check->generated_at);
	appendStringInfo(buf, ",\"nip66\":{\"openable\":%s,\"readable\":%s,\"writable\":%s",
					 check->openable ? "true" : "false", check->readable ? "true" : "false",
					 check->writable ? "true" : "false");
	append_rtt(buf, "rtt_open", check->rtt_open);
	append_rtt(buf, "rtt_read", check->rtt_read);
	append_rtt(buf, "rtt_write", check->rtt_write);
	appendStringInfo(buf, "},\"nip11\":%s}", check->nip11_json ? check->nip11_json : "null");
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
	appendStringInfoChar(&store->batch, ']');
	bb_tx_begin();
	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(store->batch.data));
	bb_spi_run(&plan, "SELECT bigbrotr.insert_relay_metadata_batch($1)", 1, types, values, NULL, false);
	store->new_snapshots += bb_spi_int64_result();
	bb_tx_commit();
	store->written += store->n;
	store->n = 0;
	resetStringInfo(&store->batch);
}
