/*
 * sync_store.c: the synchronizer workers' side of the database: claiming relays from the cycle's
 * queue, reading a relay's cursor, storing verified events in batches through
 * bigbrotr.insert_events together with the cursor they justify (one transaction, so a killed
 * worker never leaves a cursor ahead of its events), and closing a relay's queue row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "services/synchronizer/synchronizer.h"

#define STATE_KEY "'synchronizer:' || $1"

bool
sync_store_claim(int64 cycle, SyncClaim *claim)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4OID, INT8OID};
	Datum		values[3] = {Int64GetDatum(cycle), Int32GetDatum(MyProcPid), Int64GetDatum(bb_unix_now())};
	bool		found = false;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "UPDATE bigbrotr.synchronizer_queue q"
			   "   SET claimed_by = $2, claimed_at = $3, attempts = q.attempts + 1"
			   " WHERE q.relay_url = ("
			   "   SELECT c.relay_url FROM bigbrotr.synchronizer_queue c"
			   "    WHERE c.cycle = $1 AND NOT c.done AND c.attempts < 3"
			   "      AND (c.claimed_by IS NULL OR NOT EXISTS"
			   "           (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = c.claimed_by))"
			   "    ORDER BY c.attempts, c.relay_url"
			   "    FOR UPDATE SKIP LOCKED LIMIT 1)"
			   " RETURNING q.relay_url, q.network, q.request_timeout, q.relay_timeout",
			   3, types, values, NULL, false);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		claim->url = SPI_getvalue(tup, desc, 1);
		claim->network = SPI_getvalue(tup, desc, 2);
		claim->request_timeout = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		claim->relay_timeout = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		found = true;
	}
	bb_tx_commit();
	return found;
}

bool
sync_store_read_cursor(const char *url, int64 *cursor)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(url)};
	bool		found = false;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT (state->>'cursor')::bigint FROM bigbrotr.service_state"
			   " WHERE service_name = " STATE_KEY " AND state ? 'cursor'",
			   1, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*cursor = DatumGetInt64(d);
			found = true;
		}
	}
	bb_tx_commit();
	return found;
}

static Datum
bytea_datum(const uint8_t *bytes, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), bytes, len);
	return PointerGetDatum(b);
}

static ArrayType *
array_of(Datum *values, int n, Oid type)
{
	int16		typlen;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &typlen, &byval, &align);
	return construct_array(values, n, type, typlen, byval, align);
}

/* One insert_events call for events[0..n); returns how many were new. Inside a transaction. */
static int64
insert_batch(const char *url, const char *network, const SyncEvent *events, int n, int64 seen_at)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[11] = {BYTEAARRAYOID, BYTEAARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, BYTEAARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum	   *cols[11];
	Datum		values[11];
	Oid			elem[11] = {BYTEAOID, BYTEAOID, INT8OID, INT4OID, TEXTOID, TEXTOID, BYTEAOID,
	TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		url_d = CStringGetTextDatum(url);
	Datum		net_d = CStringGetTextDatum(network);

	for (int c = 0; c < 11; c++)
		cols[c] = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		const SyncEvent *e = &events[i];

		cols[0][i] = bytea_datum(e->id, 32);
		cols[1][i] = bytea_datum(e->pubkey, 32);
		cols[2][i] = Int64GetDatum(e->created_at);
		cols[3][i] = Int32GetDatum(e->kind);
		cols[4][i] = CStringGetTextDatum(e->tags_json);
		cols[5][i] = CStringGetTextDatum(e->content);
		cols[6][i] = bytea_datum(e->sig, 64);
		cols[7][i] = url_d;
		cols[8][i] = net_d;
		cols[9][i] = Int64GetDatum(seen_at);
		cols[10][i] = Int64GetDatum(seen_at);
	}
	for (int c = 0; c < 11; c++)
		values[c] = PointerGetDatum(array_of(cols[c], n, elem[c]));
	bb_spi_run(&plan,
			   "SELECT bigbrotr.insert_events($1, $2, $3, $4, $5::jsonb[], $6, $7, $8, $9, $10, $11)",
			   11, types, values, NULL, false);
	return bb_spi_int64_result();
}

static void
write_cursor(const char *url, int64 cursor)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(url), Int64GetDatum(cursor), Int64GetDatum(bb_unix_now())};

	bb_spi_run(&plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", jsonb_build_object('cursor', $2), $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET"
			   "   state = s.state || jsonb_build_object('cursor',"
			   "           GREATEST($2, coalesce((s.state->>'cursor')::bigint, $2))),"
			   "   updated_at = $3",
			   3, types, values, NULL, false);
}

int64
sync_store_events(const char *url, const char *network, const SyncEvent *events, size_t n,
				  int64 cursor, int64 seen_at)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr sync batch",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	int64		fresh = 0;
	size_t		batch = Max(sync_batch_size, 1);

	bb_tx_begin();
	for (size_t off = 0; off < n; off += batch)
		fresh += insert_batch(url, network, events + off, (int) Min(batch, n - off), seen_at);
	write_cursor(url, cursor);
	bb_tx_commit();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return fresh;
}

void
sync_store_finish(const char *url, int64 cycle, const char *stats_json, const char *shortfalls_json)
{
	static SPIPlanPtr queue_plan = NULL;
	static SPIPlanPtr state_plan = NULL;
	Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(url), CStringGetTextDatum(stats_json),
	Int64GetDatum(bb_unix_now()), Int64GetDatum(cycle)};

	bb_tx_begin();
	bb_spi_run(&queue_plan,
			   "UPDATE bigbrotr.synchronizer_queue SET done = true, finished_at = $3, stats = $2::jsonb"
			   " WHERE relay_url = $1 AND cycle = $4",
			   4, types, values, NULL, false);
	values[1] = CStringGetTextDatum(shortfalls_json);
	bb_spi_run(&state_plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", jsonb_build_object('last_sync', $3, 'shortfalls', $2::jsonb), $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET"
			   "   state = s.state || jsonb_build_object('last_sync', $3, 'shortfalls', $2::jsonb),"
			   "   updated_at = $3",
			   3, types, values, NULL, false);
	bb_tx_commit();
}
