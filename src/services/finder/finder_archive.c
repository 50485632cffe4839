/*
 * finder_archive.c: the finder's second source of relays, the archive itself: the `r` tags of
 * stored kind 10002 events (NIP-65 relay lists) and the keys of kind 3 contents (the old contact-list
 * relay map). It reads events incrementally, in the order they were first seen, with a keyset
 * watermark (seen_at, event_id, relay_url) kept in bigbrotr.service_state; each page's relays and
 * the advanced watermark commit in one transaction, so every event is read exactly once even across
 * crashes. Events first seen less than events_commit_lag seconds ago are left for the next cycle, so
 * that a sighting still being committed by another worker is not skipped.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/bigbrotr.h"
#include "services/finder/json_urls.h"
#include "services/common/relay_writer.h"
#include "services/finder/finder.h"

static bool scan_events = true;
static int	events_batch_size = 1000;
static int	events_commit_lag = 300;

/* Greater than every event id (ids are exactly 32 bytes): marks a fully scanned second. */
#define PAST_LAST_ID_LEN 33

void
finder_archive_define_gucs(void)
{
	bb_define_bool_setting("bigbrotr.finder_scan_events",
						   "Discover relays from archived kind 10002 and kind 3 events.",
						   &scan_events, true);
	bb_define_int_setting("bigbrotr.finder_events_batch_size",
						  "Archived events read per transaction by the finder.",
						  &events_batch_size, 1000, 1, 100000, 0);
	bb_define_int_setting("bigbrotr.finder_events_commit_lag",
						  "Events first seen more recently than this are read in a later cycle.",
						  &events_commit_lag, 300, 0, 86400, GUC_UNIT_S);
}

typedef struct Watermark
{
	int64		seen_at;
	bytea	   *event_id;
	char	   *relay_url;
} Watermark;

static void
read_watermark(Watermark *wm)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	wm->seen_at = -1;
	wm->event_id = (bytea *) palloc(VARHDRSZ);
	SET_VARSIZE(wm->event_id, VARHDRSZ);
	wm->relay_url = "";

	bb_spi_run(&plan,
			   "SELECT (w->>'seen_at')::bigint, decode(w->>'event_id', 'hex'), w->>'relay_url' "
			   "FROM (SELECT state->'archive_watermark' AS w FROM bigbrotr.service_state "
			   "      WHERE service_name = 'finder') s WHERE w IS NOT NULL",
			   0, NULL, NULL, NULL, true);
	if (SPI_processed == 0)
		return;
	wm->seen_at = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		wm->seen_at = -1;
	else
	{
		Datum		id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		char	   *url = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

		if (!isnull)
			wm->event_id = DatumGetByteaPCopy(id);
		wm->relay_url = url ? pstrdup(url) : "";
	}
}

static void
write_watermark(const Watermark *wm)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {INT8OID, BYTEAOID, TEXTOID, INT8OID};
	Datum		values[4] = {Int64GetDatum(wm->seen_at), PointerGetDatum(wm->event_id),
	CStringGetTextDatum(wm->relay_url), Int64GetDatum(bb_unix_now())};

	bb_spi_run(&plan,
			   "INSERT INTO bigbrotr.service_state (service_name, state, updated_at) "
			   "VALUES ('finder', jsonb_build_object('archive_watermark', jsonb_build_object("
			   "  'seen_at', $1, 'event_id', encode($2, 'hex'), 'relay_url', $3)), $4) "
			   "ON CONFLICT (service_name) DO UPDATE "
			   "SET state = bigbrotr.service_state.state || EXCLUDED.state, updated_at = EXCLUDED.updated_at",
			   4, types, values, NULL, false);
}

static void
take_url(ServiceCycle *cycle, RelayWriter *writer, const char *url, int64 now)
{
	RelayUrlCheck check;

	service_cycle_count(cycle, "event_urls", 1);
	switch (relay_writer_add(writer, url, &check, now, true))
	{
		case RELAY_ADDED:
		case RELAY_DUPLICATE:
			break;
		case RELAY_INVALID:
			service_cycle_count(cycle, "event_urls_invalid", 1);
			break;
		case RELAY_PRIVATE:
			service_cycle_count(cycle, "event_urls_private_refused", 1);
			break;
	}
}

/* Reads one page of events after the watermark; returns false when the scan has caught up. */
static bool
scan_page(ServiceCycle *cycle, RelayWriter *writer, Watermark *wm, int64 horizon)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8OID, BYTEAOID, TEXTOID, INT8OID, INT4OID};
	Datum		values[5];
	uint64		rows;
	int64		now = bb_unix_now();
	SPITupleTable *tuptable;

	values[0] = Int64GetDatum(wm->seen_at);
	values[1] = PointerGetDatum(wm->event_id);
	values[2] = CStringGetTextDatum(wm->relay_url);
	values[3] = Int64GetDatum(horizon);
	values[4] = Int32GetDatum(events_batch_size);

	bb_tx_begin();
	rows = bb_spi_run(&plan,
					  "SELECT er.seen_at, er.event_id, er.relay_url, e.kind, "
					  "  CASE WHEN e.kind = 10002 THEN ARRAY("
					  "    SELECT t->>1 FROM jsonb_array_elements(e.tags) t "
					  "    WHERE jsonb_typeof(t) = 'array' AND t->>0 = 'r' AND jsonb_typeof(t->1) = 'string') END, "
					  "  CASE WHEN e.kind = 3 THEN e.content END "
					  "FROM bigbrotr.events_relays er JOIN bigbrotr.events e ON e.id = er.event_id "
					  "WHERE (er.seen_at, er.event_id, er.relay_url) > ($1, $2, $3) AND er.seen_at <= $4 "
					  "  AND e.kind IN (3, 10002) "
					  "  AND NOT EXISTS (SELECT 1 FROM bigbrotr.events_relays f WHERE f.event_id = er.event_id "
					  "                  AND (f.seen_at, f.relay_url) < (er.seen_at, er.relay_url)) "
					  "ORDER BY er.seen_at, er.event_id, er.relay_url LIMIT $5",
					  5, types, values, NULL, true);
	tuptable = SPI_tuptable;

	for (uint64 i = 0; i < rows; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		int32		kind = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));

		service_cycle_count(cycle, "events_scanned", 1);
		if (kind == 10002)
		{
			Datum		arr = SPI_getbinval(tup, desc, 5, &isnull);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			if (isnull)
				continue;
			deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int j = 0; j < n; j++)
				if (!nulls[j])
					take_url(cycle, writer, TextDatumGetCString(elems[j]), now);
		}
		else
		{
			char	   *content = SPI_getvalue(tup, desc, 6);
			List	   *keys;
			ListCell   *lc;
			char	   *problem;

			if (content == NULL || content[0] == '\0')
				continue;
			problem = json_object_keys_list(content, strlen(content), &keys);
			if (problem)
			{
				service_cycle_count(cycle, "contact_lists_unparsable", 1);
				continue;
			}
			foreach(lc, keys)
				take_url(cycle, writer, lfirst(lc), now);
		}
	}

	if (rows > 0)
	{
		HeapTuple	last = tuptable->vals[rows - 1];
		bool		isnull;

		wm->seen_at = DatumGetInt64(SPI_getbinval(last, tuptable->tupdesc, 1, &isnull));
		wm->event_id = DatumGetByteaPCopy(SPI_getbinval(last, tuptable->tupdesc, 2, &isnull));
		wm->relay_url = SPI_getvalue(last, tuptable->tupdesc, 3);
	}
	if (rows < (uint64) events_batch_size)
	{
		/* Caught up: everything first seen up to the horizon has been read. */
		wm->seen_at = horizon;
		wm->event_id = (bytea *) palloc(VARHDRSZ + PAST_LAST_ID_LEN);
		SET_VARSIZE(wm->event_id, VARHDRSZ + PAST_LAST_ID_LEN);
		memset(VARDATA(wm->event_id), 0xff, PAST_LAST_ID_LEN);
		wm->relay_url = "";
	}
	relay_writer_flush(writer, true);
	write_watermark(wm);
	bb_tx_commit();
	return rows == (uint64) events_batch_size;
}

void
finder_scan_archive(ServiceCycle *cycle)
{
	Watermark	wm;
	RelayWriter *writer;
	int64		horizon = bb_unix_now() - events_commit_lag;

	if (!scan_events)
		return;

	bb_tx_begin();
	read_watermark(&wm);
	bb_tx_commit();
	if (wm.seen_at > horizon)
		return;

	writer = relay_writer_create(1000);
	while (scan_page(cycle, writer, &wm, horizon))
		if (service_should_stop())
			break;
	service_cycle_count(cycle, "relays_new_from_events", writer->inserted_new);
	bb_log(BB_INFO, "archive: " INT64_FORMAT " events read, " INT64_FORMAT " relay URLs, "
		   INT64_FORMAT " new relays",
		   service_cycle_get(cycle, "events_scanned"), service_cycle_get(cycle, "event_urls"),
		   writer->inserted_new);
}
