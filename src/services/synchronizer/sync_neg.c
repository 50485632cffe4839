/*
 * sync_neg.c: the database side of a worker's NIP-77 negentropy phase (sync/neg_phase through
 * sync/sync_session): a relay's archive items for a chunk (created_at, id of the events linked to
 * it, sorted), the sightings of needed ids the archive already holds (bigbrotr.insert_sightings,
 * which hands back the ids it does not hold: those are fetched), and a relay's "does not speak
 * negentropy" mark in its service_state row (negentropy_unsupported_until).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "core/bigbrotr.h"
#include "services/synchronizer/synchronizer.h"

#define STATE_KEY "'synchronizer:' || $1"

size_t
sync_neg_items(const char *url, int64 since, int64 until, size_t max, neg_item *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TEXTOID, INT8OID, INT8OID, INT4OID};
	Datum		values[4] = {CStringGetTextDatum(url), Int64GetDatum(since), Int64GetDatum(until),
	Int32GetDatum((int32) Min(max, (size_t) PG_INT32_MAX))};
	size_t		n = 0;

	bb_tx_begin();
	bb_spi_run(&plan, "SELECT created_at, id FROM bigbrotr.relay_items($1, $2, $3, $4)",
			   4, types, values, NULL, true);
	for (uint64 r = 0; r < SPI_processed && n < max; r++)
	{
		bool		isnull1,
					isnull2;
		Datum		t = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull1);
		Datum		idd = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull2);
		bytea	   *id;

		if (isnull1 || isnull2)
			continue;
		id = DatumGetByteaPP(idd);
		if (VARSIZE_ANY_EXHDR(id) != 32 || DatumGetInt64(t) < 0)
			continue;
		out[n].timestamp = (uint64_t) DatumGetInt64(t);
		memcpy(out[n].id, VARDATA_ANY(id), 32);
		n++;
		if ((r & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();
	}
	bb_tx_commit();
	return n;
}

size_t
sync_neg_link(const char *url, const char *network, const uint8 (*ids)[32], size_t n, int64 seen_at,
			  uint8 (*missing)[32])
{
	size_t		n_missing;

	if (n == 0)
		return 0;
	bb_tx_begin();
	n_missing = sync_store_sightings(url, network, seen_at, ids, n, missing);
	bb_tx_commit();
	return n_missing;
}

int64
sync_neg_unsupported_until(const char *url)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(url)};
	int64		until = 0;

	bb_tx_begin();
	bb_spi_run(&plan,
			   "SELECT coalesce((state->>'negentropy_unsupported_until')::bigint, 0)"
			   " FROM bigbrotr.service_state WHERE service_name = " STATE_KEY,
			   1, types, values, NULL, true);
	if (SPI_processed == 1)
		until = bb_spi_int64_result();
	bb_tx_commit();
	return until;
}

void
sync_neg_remember_unsupported(const char *url, int64 until)
{
	sync_store_merge_state(url, psprintf("{\"negentropy_unsupported_until\": " INT64_FORMAT "}", until));
}
