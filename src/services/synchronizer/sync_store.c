/*
 * sync_store.c: the synchronizer workers' side of the database: claiming relays from the cycle's
 * queue, reading a relay's cursor, storing verified events in batches through
 * bigbrotr.insert_events together with the cursor they justify (one transaction, so a killed
 * worker never leaves a cursor ahead of its events; a row PostgreSQL refuses is isolated with
 * bb_insert_isolating, logged, handed back to the caller, and the cursor written stays below it),
 * the archive's hints for a crowded second, and closing a relay's queue row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "nostr/hex.h"
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

/* One batch handed to bb_insert_isolating. */
typedef struct StoreBatch
{
	const char *url;
	const char *network;
	const SyncEvent *events;	/* the batch's first event */
	size_t		base;			/* its index among all the events stored */
	int64		seen_at;
	int64		fresh;
	SyncRejected *rejected;		/* the caller's array, n entries at most */
	size_t		n_rejected;
} StoreBatch;

static void
store_rows(void *arg, int off, int len)
{
	StoreBatch *b = arg;

	b->fresh += insert_batch(b->url, b->network, b->events + off, len, b->seen_at);
}

static void
reject_row(void *arg, int index, const char *sqlstate, const char *message)
{
	StoreBatch *b = arg;
	const SyncEvent *e = &b->events[index];
	char		hex[65];

	nostr_hex_encode(e->id, 32, hex);
	bb_log(BB_WARNING, "relay %s: event %s (created_at " INT64_FORMAT ", kind %d) cannot be stored: "
		   "SQLSTATE %s: %s; kept as an unstorable shortfall, the cursor stays below it",
		   b->url, hex, (int64) e->created_at, (int) e->kind, sqlstate, message);
	b->rejected[b->n_rejected].index = b->base + (size_t) index;
	b->rejected[b->n_rejected].created_at = e->created_at;
	memcpy(b->rejected[b->n_rejected].id, e->id, 32);
	b->n_rejected++;
}

int64
sync_store_events(const char *url, const char *network, const SyncEvent *events, size_t n,
				  int64 cursor, int64 seen_at, SyncRejected *rejected, size_t *n_rejected)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr sync batch",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	size_t		batch = Max(sync_batch_size, 1);
	StoreBatch	b = {url, network, NULL, 0, seen_at, 0, rejected, 0};

	bb_tx_begin();
	for (size_t off = 0; off < n; off += batch)
	{
		MemoryContext per_batch = AllocSetContextCreate(tmp, "bigbrotr sync rows", ALLOCSET_DEFAULT_SIZES);
		MemoryContext outer = MemoryContextSwitchTo(per_batch);

		b.events = events + off;
		b.base = off;
		bb_insert_isolating((int) Min(batch, n - off), store_rows, reject_row, &b);
		MemoryContextSwitchTo(outer);
		MemoryContextDelete(per_batch);
		CHECK_FOR_INTERRUPTS();
	}
	/* no cursor may pass a row the archive refused: a later cycle asks for it again */
	for (size_t i = 0; i < b.n_rejected; i++)
		if (rejected[i].created_at - 1 < cursor)
			cursor = rejected[i].created_at - 1;
	write_cursor(url, cursor);
	bb_tx_commit();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	*n_rejected = b.n_rejected;
	return b.fresh;
}

size_t
sync_store_hints(int64 second, const int32 *kinds, int nkinds, int max, int32 *out_kinds,
				 size_t *n_kinds, uint8 (*out_authors)[32], size_t *n_authors)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT4ARRAYOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum	   *kd;

	bb_tx_begin();				/* first: building the array looks its type up in the catalog */
	kd = palloc(sizeof(Datum) * Max(nkinds, 1));
	for (int i = 0; i < nkinds; i++)
		kd[i] = Int32GetDatum(kinds[i]);
	values[0] = Int64GetDatum(second);
	values[1] = PointerGetDatum(array_of(kd, nkinds, INT4OID));
	if (nkinds == 0)
		nulls[1] = 'n';
	values[2] = Int32GetDatum(max);
	*n_kinds = 0;
	*n_authors = 0;
	bb_spi_run(&plan,
			   "(SELECT k.kind, NULL::bytea FROM (SELECT DISTINCT e.kind FROM bigbrotr.events e"
			   "   WHERE e.created_at = $1 AND ($2 IS NULL OR e.kind = ANY($2)) LIMIT $3) k)"
			   " UNION ALL "
			   "(SELECT NULL::integer, a.pubkey FROM (SELECT DISTINCT e.pubkey FROM bigbrotr.events e"
			   "   WHERE e.created_at = $1 AND ($2 IS NULL OR e.kind = ANY($2)) LIMIT $3) a)",
			   3, types, values, nulls, true);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			if (*n_kinds < (size_t) max)
				out_kinds[(*n_kinds)++] = DatumGetInt32(d);
			continue;
		}
		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull && *n_authors < (size_t) max)
		{
			bytea	   *b = DatumGetByteaPP(d);

			if (VARSIZE_ANY_EXHDR(b) == 32)
				memcpy(out_authors[(*n_authors)++], VARDATA_ANY(b), 32);
		}
	}
	bb_tx_commit();
	pfree(DatumGetPointer(values[1]));
	pfree(kd);
	return *n_kinds + *n_authors;
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
