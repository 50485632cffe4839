/*
 * finder_archive.c: the finder's second source of relays, the archive itself: the `r` tags of
 * stored kind 10002 events (NIP-65 relay lists) and the keys of kind 3 contents (the old contact-list
 * relay map). A trigger queues every such event in bigbrotr.finder_queue when it is first stored
 * (sql/install/55_finder.sql); each page read here is an index range of that queue (O(page) whatever
 * the archive's size), and the page's relays and the deletion of its queue rows commit in one
 * transaction, so every event is read once, also across stops and crashes, and one stored late (its
 * transaction still open while a page is read) is read by a later page or cycle.
 *
 * Memory: each page runs in its own context, reset after the page (rows, parsed contents, URL
 * strings, the page's relay writer), so a cycle costs one page whatever the archive holds.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "services/finder/json_urls.h"
#include "services/common/relay_writer.h"
#include "services/finder/finder.h"

static bool scan_events = true;
static int	events_batch_size = 1000;

void
finder_archive_define_gucs(void)
{
	bb_define_bool_setting("bigbrotr.finder_scan_events",
						   "Discover relays from archived kind 10002 and kind 3 events.",
						   &scan_events, true);
	bb_define_int_setting("bigbrotr.finder_events_batch_size",
						  "Archived events read per transaction by the finder.",
						  &events_batch_size, 1000, 1, 100000, 0);
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

/* The relay URLs of one queued event. */
static void
take_event(ServiceCycle *cycle, RelayWriter *writer, HeapTuple tup, TupleDesc desc, int64 now)
{
	bool		isnull;
	int32		kind = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));

	if (isnull)
		return;					/* deleted from the archive since it was queued */
	service_cycle_count(cycle, "events_scanned", 1);
	if (kind == 10002)
	{
		Datum		arr = SPI_getbinval(tup, desc, 3, &isnull);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (isnull)
			return;
		deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int j = 0; j < n; j++)
			if (!nulls[j])
				take_url(cycle, writer, TextDatumGetCString(elems[j]), now);
	}
	else
	{
		char	   *content = SPI_getvalue(tup, desc, 4);
		List	   *keys;
		ListCell   *lc;

		if (content == NULL || content[0] == '\0')
			return;
		if (json_object_keys_list(content, strlen(content), &keys) != NULL)
		{
			service_cycle_count(cycle, "contact_lists_unparsable", 1);
			return;
		}
		foreach(lc, keys)
			take_url(cycle, writer, lfirst(lc), now);
	}
}

/*
 * Reads, takes and dequeues one page from queue position *from on, in the current (page) memory
 * context; advances *from past it. Returns false when the queue has no more rows now.
 */
static bool
scan_page(ServiceCycle *cycle, int64 *from)
{
	static SPIPlanPtr read_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	Oid			read_types[2] = {INT8OID, INT4OID};
	Datum		read_values[2] = {Int64GetDatum(*from), Int32GetDatum(events_batch_size)};
	Oid			delete_types[1] = {INT8ARRAYOID};
	Datum		delete_values[1];
	RelayWriter *writer = relay_writer_create(1000);
	int64		now = bb_unix_now();
	SPITupleTable *tuptable;
	Datum	   *ids;
	uint64		rows;

	bb_tx_begin();
	rows = bb_spi_run(&read_plan, "SELECT * FROM bigbrotr.finder_archive_page($1, $2)",
					  2, read_types, read_values, NULL, true);
	tuptable = SPI_tuptable;
	ids = palloc(sizeof(Datum) * Max(rows, 1));
	for (uint64 i = 0; i < rows; i++)
	{
		bool		isnull;
		int64		id;

		CHECK_FOR_INTERRUPTS();
		id = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
		ids[i] = Int64GetDatum(id);
		*from = Max(*from, id + 1);
		take_event(cycle, writer, tuptable->vals[i], tuptable->tupdesc, now);
	}
	relay_writer_flush(writer, true);
	if (rows > 0)
	{
		delete_values[0] = PointerGetDatum(construct_array(ids, (int) rows, INT8OID, 8, FLOAT8PASSBYVAL,
														   TYPALIGN_DOUBLE));
		bb_spi_run(&delete_plan, "DELETE FROM bigbrotr.finder_queue WHERE id = ANY ($1)",
				   1, delete_types, delete_values, NULL, false);
	}
	bb_tx_commit();
	service_cycle_count(cycle, "relays_new_from_events", writer->inserted_new);
	service_cycle_count(cycle, "relays_unstorable", writer->unstorable);
	return rows == (uint64) events_batch_size;
}

void
finder_scan_archive(ServiceCycle *cycle)
{
	MemoryContext page_cxt;
	MemoryContext old;
	int64		from = 0;		/* each cycle starts at the queue's head: nothing is left behind */
	bool		more = true;

	if (!scan_events)
		return;

	page_cxt = AllocSetContextCreate(CurrentMemoryContext, "bigbrotr finder archive page",
									 ALLOCSET_DEFAULT_SIZES);
	while (more && !service_should_stop())
	{
		old = MemoryContextSwitchTo(page_cxt);
		more = scan_page(cycle, &from);
		MemoryContextSwitchTo(old);
		MemoryContextReset(page_cxt);
	}
	MemoryContextDelete(page_cxt);
	bb_log(BB_INFO, "archive: " INT64_FORMAT " events read, " INT64_FORMAT " relay URLs, "
		   INT64_FORMAT " new relays",
		   service_cycle_get(cycle, "events_scanned"), service_cycle_get(cycle, "event_urls"),
		   service_cycle_get(cycle, "relays_new_from_events"));
}
