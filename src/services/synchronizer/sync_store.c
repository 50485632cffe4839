/*
 * sync_store.c: the synchronizer workers' side of the database: claiming relays from the cycle's
 * queue (a fair share per process), reading a relay's position (cursor, frontier, last rescan),
 * looking received events up in the archive (one query per batch: an (id, sig) already archived is
 * not verified or inserted again), storing a settled batch (new events through
 * bigbrotr.insert_events, sightings of known ones through bigbrotr.insert_sightings) together with
 * the position it justifies (one transaction, so a killed worker never leaves a cursor ahead of its
 * events; a row PostgreSQL refuses is isolated with bb_insert_isolating, logged, handed back to the
 * caller, and the cursor written stays below it), the archive's hints for a crowded second, and
 * closing a relay's queue row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "nostr/event.h"
#include "nostr/hex.h"
#include "services/synchronizer/synchronizer.h"

#define STATE_KEY "'synchronizer:' || $1"

/* A queue row of cycle $1 that a process may claim: open, and unclaimed or its claimer gone. */
#define CLAIMABLE(row) \
	" " row ".cycle = $1 AND NOT " row ".done AND " row ".attempts < 3" \
	" AND (" row ".claimed_by IS NULL OR NOT EXISTS" \
	"      (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = " row ".claimed_by))"

bool
sync_store_claim(int64 cycle, int active, int processes, SyncClaim *claim)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8OID, INT4OID, INT8OID, INT4OID, INT4OID};
	Datum		values[5] = {Int64GetDatum(cycle), Int32GetDatum(MyProcPid), Int64GetDatum(bb_unix_now()),
	Int32GetDatum(active), Int32GetDatum(Max(processes, 1))};
	bool		found = false;

	/*
	 * A fair share: this process may hold at most ceil(open / processes) relays, open being the
	 * relays of the cycle not yet done (claimed or waiting), so that a process started a moment
	 * later still finds work. A process with no relay may always claim one.
	 */
	bb_tx_begin();
	bb_spi_run(&plan,
			   "UPDATE bigbrotr.synchronizer_queue q"
			   "   SET claimed_by = $2, claimed_at = $3, attempts = q.attempts + 1"
			   " WHERE q.relay_url = ("
			   "   SELECT c.relay_url FROM bigbrotr.synchronizer_queue c WHERE" CLAIMABLE("c")
			   "    ORDER BY c.attempts, c.relay_url"
			   "    FOR UPDATE SKIP LOCKED LIMIT 1)"
			   "   AND ($4 = 0 OR $4 < (SELECT ceil(count(*)::numeric / $5) FROM bigbrotr.synchronizer_queue o"
			   "                         WHERE o.cycle = $1 AND NOT o.done AND o.attempts < 3))"
			   " RETURNING q.relay_url, q.network, q.request_timeout, q.relay_timeout",
			   5, types, values, NULL, false);
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
sync_store_unclaimed(int64 cycle)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(cycle)};
	bool		any;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT count(*) FROM bigbrotr.synchronizer_queue c WHERE" CLAIMABLE("c"),
			   1, types, values, NULL, true);
	any = bb_spi_int64_result() > 0;
	bb_tx_commit();
	return any;
}

/* state->>key as a bigint, if present. */
static bool
state_int(HeapTuple tup, TupleDesc desc, int col, int64 *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return false;
	*out = DatumGetInt64(d);
	return true;
}

bool
sync_store_read_state(const char *url, SyncRelayState *st)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(url)};

	memset(st, 0, sizeof(*st));
	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT (state->>'cursor')::bigint, (state->>'frontier')::bigint, (state->>'rescan_at')::bigint,"
			   " (state->>'largest_answer')::bigint"
			   " FROM bigbrotr.service_state WHERE service_name = " STATE_KEY,
			   1, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		st->has_cursor = state_int(tup, desc, 1, &st->cursor);
		st->has_frontier = state_int(tup, desc, 2, &st->frontier);
		st->has_rescan_at = state_int(tup, desc, 3, &st->rescan_at);
		if (!state_int(tup, desc, 4, &st->largest_answer) || st->largest_answer < 0)
			st->largest_answer = 0;
	}
	bb_tx_commit();
	return st->has_cursor;
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

/* One insert_events call for events[idx[0..n)]; returns how many were new. Inside a transaction. */
static int64
insert_batch(const char *url, const char *network, const SyncEvent *events, const size_t *idx, int n,
			 int64 seen_at)
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
		const SyncEvent *e = &events[idx[i]];

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

/* An (id, position) pair, sorted by id to match query rows back to the events. */
typedef struct IdIndex
{
	const uint8_t *id;
	size_t		index;
} IdIndex;

static int
cmp_id_index(const void *a, const void *b)
{
	return memcmp(((const IdIndex *) a)->id, ((const IdIndex *) b)->id, 32);
}

/* The entries of the sorted list with this id (a relay may send one event twice): *first, count. */
static size_t
find_id(const IdIndex *list, size_t n, const uint8_t *id, const IdIndex **first)
{
	size_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (memcmp(list[mid].id, id, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = &list[lo];
	for (hi = lo; hi < n && memcmp(list[hi].id, id, 32) == 0; hi++)
		;
	return hi - lo;
}

/* A bytea[] of the ids of events[list[i].index]. */
static Datum
ids_array(const IdIndex *list, size_t n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (size_t i = 0; i < n; i++)
		d[i] = bytea_datum(list[i].id, 32);
	return PointerGetDatum(array_of(d, (int) n, BYTEAOID));
}

void
sync_store_lookup(const SyncEvent *events, size_t n, bool *archived)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {BYTEAARRAYOID};
	Datum		values[1];
	IdIndex    *list;
	size_t		m = 0;

	memset(archived, 0, n * sizeof(bool));
	bb_tx_begin();
	list = palloc(sizeof(IdIndex) * Max(n, 1));
	for (size_t i = 0; i < n; i++)
		if (events[i].state == SYNC_EV_LOOKUP)
		{
			list[m].id = events[i].id;
			list[m++].index = i;
		}
	if (m > 0)
	{
		qsort(list, m, sizeof(IdIndex), cmp_id_index);
		values[0] = ids_array(list, m);
		bb_spi_run(&plan, "SELECT id, sig FROM bigbrotr.events WHERE id = ANY($1)", 1, types, values,
				   NULL, true);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull1,
						isnull2;
			Datum		idd = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull1);
			Datum		sigd = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull2);
			bytea	   *idb,
					   *sigb;
			const IdIndex *hit;
			size_t		hits;

			if (isnull1 || isnull2)
				continue;
			idb = DatumGetByteaPP(idd);
			sigb = DatumGetByteaPP(sigd);
			if (VARSIZE_ANY_EXHDR(idb) != 32 || VARSIZE_ANY_EXHDR(sigb) != 64)
				continue;
			/* every event with this id whose signature is the stored one */
			hits = find_id(list, m, (const uint8_t *) VARDATA_ANY(idb), &hit);
			for (size_t h = 0; h < hits; h++)
				if (memcmp(events[hit[h].index].sig, VARDATA_ANY(sigb), 64) == 0)
					archived[hit[h].index] = true;
		}
	}
	bb_tx_commit();
}

/* The relay's cursor (unless NULL: unchanged) and frontier; both only move forward. */
static void
write_position(const char *url, bool has_cursor, int64 cursor, int64 frontier)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TEXTOID, INT8OID, INT8OID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(url), Int64GetDatum(cursor), Int64GetDatum(bb_unix_now()),
	Int64GetDatum(frontier)};
	char		nulls[4] = {' ', has_cursor ? ' ' : 'n', ' ', ' '};

	bb_spi_run(&plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", jsonb_strip_nulls(jsonb_build_object('cursor', $2, 'frontier', $4)), $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET"
			   "   state = s.state || jsonb_strip_nulls(jsonb_build_object("
			   "           'cursor', GREATEST($2, (s.state->>'cursor')::bigint),"
			   "           'frontier', GREATEST($4, (s.state->>'frontier')::bigint, $2))),"
			   "   updated_at = $3",
			   4, types, values, nulls, false);
}

/* One batch handed to bb_insert_isolating. */
typedef struct StoreBatch
{
	SyncStoreBatch *in;
	const size_t *idx;			/* the batch's first entry in the list of events to insert */
	int64		fresh;
} StoreBatch;

static void
store_rows(void *arg, int off, int len)
{
	StoreBatch *b = arg;

	b->fresh += insert_batch(b->in->url, b->in->network, b->in->events, b->idx + off, len, b->in->seen_at);
}

static void
reject_row(void *arg, int index, const char *sqlstate, const char *message)
{
	StoreBatch *b = arg;
	size_t		at = b->idx[index];
	const SyncEvent *e = &b->in->events[at];
	SyncRejected *r = &b->in->rejected[b->in->n_rejected++];
	char		hex[65];

	nostr_hex_encode(e->id, 32, hex);
	bb_log(BB_WARNING, "relay %s: event %s (created_at " INT64_FORMAT ", kind %d) cannot be stored: "
		   "SQLSTATE %s: %s; kept as an unstorable shortfall, the cursor stays below it",
		   b->in->url, hex, (int64) e->created_at, (int) e->kind, sqlstate, message);
	r->index = at;
	r->created_at = e->created_at;
	memcpy(r->id, e->id, 32);
}

/*
 * One bigbrotr.insert_sightings call, inside the caller's transaction: records the sightings of
 * ids[0 .. n) the archive holds and copies those it does not hold into missing (room for n), in
 * the order the procedure returns them (sorted). Returns how many are missing.
 */
size_t
sync_store_sightings(const char *url, const char *network, int64 seen_at, const uint8 (*ids)[32],
					 size_t n, uint8 (*missing)[32])
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {BYTEAARRAYOID, TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[5];
	Datum	   *d;
	bool		isnull;
	Datum		result;
	size_t		n_missing = 0;

	if (n == 0)
		return 0;
	d = palloc(sizeof(Datum) * n);
	for (size_t i = 0; i < n; i++)
		d[i] = bytea_datum(ids[i], 32);
	values[0] = PointerGetDatum(array_of(d, (int) n, BYTEAOID));
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(network);
	values[3] = Int64GetDatum(seen_at);
	values[4] = Int64GetDatum(seen_at);
	bb_spi_run(&plan, "SELECT bigbrotr.insert_sightings($1, $2, $3, $4, $5)", 5, types, values, NULL, false);
	if (SPI_processed != 1)
		return 0;
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *enulls;
		int			ne;

		deconstruct_array(DatumGetArrayTypeP(result), BYTEAOID, -1, false, TYPALIGN_INT, &elems, &enulls, &ne);
		for (int j = 0; j < ne && n_missing < n; j++)
		{
			bytea	   *b = DatumGetByteaPP(elems[j]);

			if (enulls[j] || VARSIZE_ANY_EXHDR(b) != 32)
				continue;
			memcpy(missing[n_missing++], VARDATA_ANY(b), 32);
		}
	}
	return n_missing;
}

/*
 * Records the sightings of the known events. Those the archive no longer holds (deleted since the
 * lookup) are verified here and, when valid, added to the events to insert.
 */
static void
store_sightings(SyncStoreBatch *in, size_t *insert_idx, size_t *n_insert)
{
	IdIndex    *list = palloc(sizeof(IdIndex) * Max(in->n, 1));
	uint8		(*ids)[32];
	uint8		(*missing)[32];
	size_t		m = 0;
	size_t		n_missing;

	for (size_t i = 0; i < in->n; i++)
		if (in->events[i].state == SYNC_EV_KNOWN)
		{
			list[m].id = in->events[i].id;
			list[m++].index = i;
		}
	if (m == 0)
		return;
	qsort(list, m, sizeof(IdIndex), cmp_id_index);
	ids = palloc(32 * m);
	missing = palloc(32 * m);
	for (size_t i = 0; i < m; i++)
		memcpy(ids[i], list[i].id, 32);
	n_missing = sync_store_sightings(in->url, in->network, in->seen_at, (const uint8 (*)[32]) ids, m, missing);
	in->known_recorded += (int64) m;
	for (size_t j = 0; j < n_missing; j++)
	{
		const IdIndex *hit;
		size_t		hits = find_id(list, m, missing[j], &hit);

		for (size_t h = 0; h < hits; h++)
		{
			const SyncEvent *e = &in->events[hit[h].index];
			nostr_error err;

			in->known_recorded--;
			if (nostr_sig_verify(e->id, e->pubkey, e->sig, NULL, &err) == NOSTR_OK)
				insert_idx[(*n_insert)++] = hit[h].index;
			else
			{
				char		hex[65];

				nostr_hex_encode(e->id, 32, hex);
				bb_log(BB_WARNING, "relay %s: event %s, no longer archived, has a bad signature: dropped",
					   in->url, hex);
				in->late_invalid++;
			}
		}
	}
}

void
sync_store_events(SyncStoreBatch *in)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr sync batch",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	size_t		batch = Max(sync_batch_size, 1);
	size_t	   *insert_idx;
	size_t		n_insert = 0;
	StoreBatch	b = {in, NULL, 0};
	int64		cursor = in->cursor;

	in->n_rejected = 0;
	in->fresh = 0;
	in->known_recorded = 0;
	in->late_invalid = 0;
	bb_tx_begin();
	insert_idx = palloc(sizeof(size_t) * Max(in->n, 1));
	for (size_t i = 0; i < in->n; i++)
		if (in->events[i].state == SYNC_EV_VALID)
			insert_idx[n_insert++] = i;
	store_sightings(in, insert_idx, &n_insert);
	for (size_t off = 0; off < n_insert; off += batch)
	{
		MemoryContext per_batch = AllocSetContextCreate(tmp, "bigbrotr sync rows", ALLOCSET_DEFAULT_SIZES);
		MemoryContext outer = MemoryContextSwitchTo(per_batch);

		b.idx = insert_idx + off;
		bb_insert_isolating((int) Min(batch, n_insert - off), store_rows, reject_row, &b);
		MemoryContextSwitchTo(outer);
		MemoryContextDelete(per_batch);
		CHECK_FOR_INTERRUPTS();
	}
	/* neither cursor nor frontier may pass a row the archive refused: the next cycle asks again */
	for (size_t i = 0; i < in->n_rejected; i++)
	{
		if (in->rejected[i].created_at - 1 < cursor)
			cursor = in->rejected[i].created_at - 1;
		if (in->rejected[i].created_at - 1 < in->frontier)
			in->frontier = in->rejected[i].created_at - 1;
	}
	in->cursor = cursor;
	write_position(in->url, in->write_cursor, cursor, in->frontier);
	bb_tx_commit();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	in->fresh = b.fresh;
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
sync_store_finish(const char *url, int64 cycle, const char *stats_json, const char *shortfalls_json,
				  bool replace_shortfalls, bool has_rescan_at, int64 rescan_at, int64 largest_answer)
{
	static SPIPlanPtr queue_plan = NULL;
	static SPIPlanPtr state_plan = NULL;
	Oid			types[7] = {TEXTOID, TEXTOID, INT8OID, INT8OID, BOOLOID, INT8OID, INT8OID};
	Datum		values[7] = {CStringGetTextDatum(url), CStringGetTextDatum(stats_json),
		Int64GetDatum(bb_unix_now()), Int64GetDatum(cycle), BoolGetDatum(replace_shortfalls),
	Int64GetDatum(rescan_at), Int64GetDatum(largest_answer)};
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', has_rescan_at ? ' ' : 'n', largest_answer > 0 ? ' ' : 'n'};

	bb_tx_begin();
	bb_spi_run(&queue_plan,
			   "UPDATE bigbrotr.synchronizer_queue SET done = true, finished_at = $3, stats = $2::jsonb"
			   " WHERE relay_url = $1 AND cycle = $4",
			   4, types, values, NULL, false);
	values[1] = CStringGetTextDatum(shortfalls_json);

	/*
	 * A session that covered the relay from its cursor on replaces the recorded shortfalls; one
	 * that went on from the frontier adds its own to those still waiting for a rescan (at most 64).
	 */
	bb_spi_run(&state_plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", jsonb_strip_nulls(jsonb_build_object('last_sync', $3, 'shortfalls', $2::jsonb,"
			   "         'rescan_at', $6, 'largest_answer', $7)), $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET"
			   "   state = s.state || jsonb_build_object('last_sync', $3, 'shortfalls',"
			   "     CASE WHEN $5 THEN $2::jsonb ELSE"
			   "       (SELECT coalesce(jsonb_agg(x.v ORDER BY x.n), '[]'::jsonb) FROM"
			   "          (SELECT v, n FROM jsonb_array_elements(coalesce(s.state->'shortfalls', '[]'::jsonb) || $2::jsonb)"
			   "             WITH ORDINALITY AS e(v, n) ORDER BY n LIMIT 64) x) END)"
			   "     || CASE WHEN $6 IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('rescan_at',"
			   "          GREATEST($6, (s.state->>'rescan_at')::bigint)) END"
			   "     || CASE WHEN $7 IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('largest_answer', $7) END,"
			   "   updated_at = $3",
			   7, types, values, nulls, false);
	bb_tx_commit();
}

/* ---- relay etiquette: the relay's NIP-11 max_limit, its last refusal ---- */

int64
sync_store_max_limit(const char *url)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(url)};
	int64		max_limit;

	/*
	 * Only a whole JSON number in 1 .. 2^31-1 counts: a document claiming 0, a negative, a
	 * fraction, a huge number or a string is ignored (the window algorithm's cap detection stays
	 * the authority whatever the document says).
	 */
	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT CASE WHEN b.n BETWEEN 1 AND 2147483647 AND b.n = trunc(b.n) THEN b.n::bigint END"
			   " FROM (SELECT CASE WHEN jsonb_typeof(a.v) = 'number' THEN a.v::text::numeric END AS n"
			   "       FROM (SELECT CASE WHEN jsonb_typeof(m.nip11_limitation) = 'object'"
			   "                         THEN m.nip11_limitation->'max_limit' END AS v"
			   "               FROM bigbrotr.relay_metadata_latest m WHERE m.relay_url = $1) a) b",
			   1, types, values, NULL, true);
	max_limit = bb_spi_int64_result();
	bb_tx_commit();
	return max_limit;
}

void
sync_store_merge_state(const char *url, const char *json_object)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(url), CStringGetTextDatum(json_object), Int64GetDatum(bb_unix_now())};

	bb_tx_begin();
	bb_spi_run(&plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", $2::jsonb, $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET state = s.state || $2::jsonb, updated_at = $3",
			   3, types, values, NULL, false);
	bb_tx_commit();
}
