/*
 * relay_writer.c: batched, deduplicated, policy-checked relay inserts shared by the services that
 * discover relays (initializer, finder).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "core/bigbrotr.h"
#include "services/common/relay_writer.h"

RelayWriter *
relay_writer_create(int batch_size)
{
	RelayWriter *w = palloc0(sizeof(RelayWriter));
	HASHCTL		hctl;

	w->batch_size = Max(batch_size, 1);
	w->urls = palloc(sizeof(Datum) * w->batch_size);
	w->networks = palloc(sizeof(Datum) * w->batch_size);
	w->inserted_ats = palloc(sizeof(Datum) * w->batch_size);

	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = RELAY_URL_MAX;
	hctl.entrysize = RELAY_URL_MAX;
	hctl.hcxt = CurrentMemoryContext;
	w->seen = hash_create("bigbrotr relay writer", 1024, &hctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return w;
}

static void
insert_batch(RelayWriter *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Datum		values[3];

	values[0] = PointerGetDatum(construct_array(w->urls, w->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(w->networks, w->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(w->inserted_ats, w->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	bb_spi_run(&plan, "SELECT bigbrotr.insert_relays($1, $2, $3)", 3, types, values, NULL, false);
	w->inserted_new += bb_spi_int64_result();
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
}

RelayAddResult
relay_writer_add(RelayWriter *w, const char *url, RelayUrlCheck *check, int64 inserted_at,
				 bool in_transaction)
{
	bool		found;

	if (!relay_url_check(url, check))
		return RELAY_INVALID;
	if (check->private_target && !bigbrotr_allow_private_addresses)
		return RELAY_PRIVATE;
	hash_search(w->seen, check->normalized, HASH_ENTER, &found);
	if (found)
		return RELAY_DUPLICATE;

	w->urls[w->n] = CStringGetTextDatum(check->normalized);
	w->networks[w->n] = CStringGetTextDatum(check->network);
	w->inserted_ats[w->n] = Int64GetDatum(inserted_at);
	if (++w->n == w->batch_size)
		relay_writer_flush(w, in_transaction);
	return RELAY_ADDED;
}
