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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

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
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {BYTEAARRAYOID, TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[5];
	Datum	   *d;
	size_t		n_missing = 0;
	bool		isnull;
	Datum		result;
	int16		typlen;
	bool		byval;
	char		align;

	if (n == 0)
		return 0;
	bb_tx_begin();
	d = palloc(sizeof(Datum) * n);
	for (size_t i = 0; i < n; i++)
	{
		bytea	   *b = palloc(VARHDRSZ + 32);

		SET_VARSIZE(b, VARHDRSZ + 32);
		memcpy(VARDATA(b), ids[i], 32);
		d[i] = PointerGetDatum(b);
	}
	get_typlenbyvalalign(BYTEAOID, &typlen, &byval, &align);
	values[0] = PointerGetDatum(construct_array(d, (int) n, BYTEAOID, typlen, byval, align));
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(network);
	values[3] = Int64GetDatum(seen_at);
	values[4] = Int64GetDatum(seen_at);
	bb_spi_run(&plan, "SELECT bigbrotr.insert_sightings($1, $2, $3, $4, $5)", 5, types, values, NULL, false);
	result = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : (Datum) 0;
	if (SPI_processed != 1)
		isnull = true;
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
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(url), Int64GetDatum(until), Int64GetDatum(bb_unix_now())};

	bb_tx_begin();
	bb_spi_run(&plan,
			   "INSERT INTO bigbrotr.service_state AS s (service_name, state, updated_at)"
			   " VALUES (" STATE_KEY ", jsonb_build_object('negentropy_unsupported_until', $2), $3)"
			   " ON CONFLICT (service_name) DO UPDATE SET"
			   "   state = s.state || jsonb_build_object('negentropy_unsupported_until', $2), updated_at = $3",
			   3, types, values, NULL, false);
	bb_tx_commit();
}
