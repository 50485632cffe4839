/*
 * relay_writer.c: batched, deduplicated, policy-checked relay inserts shared by the services that
 * discover relays (initializer, finder). Each batch goes through bb_insert_isolating, so one row
 * PostgreSQL refuses costs only itself.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "services/common/relay_writer.h"

#define KEY_BLOCK_SIZE (64 * 1024)

/* The hash's keys are char pointers; hash and compare the strings they point to. */
static uint32
url_key_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, (int) strlen(s));
}

static int
url_key_compare(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

RelayWriter *
relay_writer_create(int batch_size)
{
	RelayWriter *w = palloc0(sizeof(RelayWriter));
	HASHCTL		hctl;

	w->batch_size = Max(batch_size, 1);
	w->urls = palloc(sizeof(Datum) * w->batch_size);
	w->networks = palloc(sizeof(Datum) * w->batch_size);
	w->inserted_ats = palloc(sizeof(Datum) * w->batch_size);
	w->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr relay writer batch",
										 ALLOCSET_DEFAULT_SIZES);

	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(char *);
	hctl.entrysize = sizeof(char *);
	hctl.hash = url_key_hash;
	hctl.match = url_key_compare;
	hctl.hcxt = CurrentMemoryContext;
	w->seen = hash_create("bigbrotr relay writer", 1024, &hctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	return w;
}

/* A copy of s in the writer's packed key blocks (allocated where the writer was). */
static char *
keep_key(RelayWriter *w, const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy;

	if (w->key_block == NULL || w->key_cap - w->key_used < len)
	{
		w->key_cap = Max(KEY_BLOCK_SIZE, len);
		w->key_block = MemoryContextAlloc(GetMemoryChunkContext(w), w->key_cap);
		w->key_used = 0;
	}
	copy = w->key_block + w->key_used;
	memcpy(copy, s, len);
	w->key_used += len;
	return copy;
}

/* bb_insert_isolating's callback: rows [off, off + len) of the queued batch. */
static void
insert_rows(void *arg, int off, int len)
{
	static SPIPlanPtr plan = NULL;
	RelayWriter *w = arg;
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Datum		values[3];

	values[0] = PointerGetDatum(construct_array(w->urls + off, len, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(w->networks + off, len, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(w->inserted_ats + off, len, INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	bb_spi_run(&plan, "SELECT bigbrotr.insert_relays($1, $2, $3)", 3, types, values, NULL, false);
	/* Counted only once the rows are in: a failed attempt raises before this line. */
	w->inserted_new += bb_spi_int64_result();
}

static void
row_rejected(void *arg, int index, const char *sqlstate, const char *message)
{
	RelayWriter *w = arg;
	char	   *url = TextDatumGetCString(w->urls[index]);

	w->unstorable++;
	bb_log(BB_WARNING, "relay %s could not be stored (SQLSTATE %s): %s", url, sqlstate, message);
	pfree(url);
}

static void
insert_batch(RelayWriter *w)
{
	MemoryContext old = MemoryContextSwitchTo(w->batch_cxt);

	bb_insert_isolating(w->n, insert_rows, row_rejected, w);
	MemoryContextSwitchTo(old);
}

void
relay_writer_flush(RelayWriter *w, bool in_transaction)
{
	if (w->n == 0)
		return;
	if (in_transaction)
		insert_batch(w);
	else
	{
		bb_tx_begin();
		insert_batch(w);
		bb_tx_commit();
	}
	w->n = 0;
	MemoryContextReset(w->batch_cxt);
}

RelayAddResult
relay_writer_add(RelayWriter *w, const char *url, RelayUrlCheck *check, int64 inserted_at,
				 bool in_transaction)
{
	const char *key;
	char	  **entry;
	bool		found;
	MemoryContext old;

	if (!relay_url_check(url, check))
		return RELAY_INVALID;
	if (check->private_target && !bigbrotr_allow_private_addresses)
		return RELAY_PRIVATE;
	key = check->normalized;
	entry = hash_search(w->seen, &key, HASH_ENTER, &found);
	if (found)
		return RELAY_DUPLICATE;
	*entry = keep_key(w, check->normalized);	/* the entry must not point into *check */

	old = MemoryContextSwitchTo(w->batch_cxt);
	w->urls[w->n] = CStringGetTextDatum(check->normalized);
	w->networks[w->n] = CStringGetTextDatum(check->network);
	w->inserted_ats[w->n] = Int64GetDatum(inserted_at);
	MemoryContextSwitchTo(old);
	if (++w->n == w->batch_size)
		relay_writer_flush(w, in_transaction);
	return RELAY_ADDED;
}
