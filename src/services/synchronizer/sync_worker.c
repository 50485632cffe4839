/*
 * sync_worker.c: one of the synchronizer's parallel processes, a dynamic background worker started
 * by the coordinator (synchronizer.c) for one cycle. It claims relays from the cycle's queue (its
 * fair share, one at a time as slots free up), syncs up to bigbrotr.synchronizer_max_parallel of
 * them at once on one WebSocket event loop (sync/sync_session), and stores each relay's events with
 * its position in one transaction per batch. Received events are looked up in the archive between
 * loop slices (one query per relay and slice): an (id, sig) already archived only gets its
 * sighting recorded; the others' signatures are checked on the verify pool's threads
 * (sync/verify_pool) while this thread stores the previous batch, and a batch is stored once its
 * prefix is settled. Between slices it also answers a session waiting for archive hints (one SPI
 * query) and stores a session whose buffer is full (its socket is paused until then). A row the
 * archive refuses becomes that relay's "unstorable" shortfall. Each relay goes on from its
 * frontier, and rescans its recent history once per bigbrotr.synchronizer_rescan_interval (its
 * whole history with negentropy, whose archive side, sync_neg.c, it answers between slices). It
 * exits when the queue is empty or at SIGTERM, after storing what it holds.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "core/bigbrotr.h"
#include "core/json_writer.h"
#include "net/clock.h"
#include "services/common/net_setup.h"
#include "nostr/hex.h"
#include "services/synchronizer/synchronizer.h"

#define FLUSH_EVERY_MS 1000
#define CLAIM_RETRY_MS 1000
#define MAX_MESSAGE_SIZE (4 * 1024 * 1024)
#define NEG_UNSUPPORTED_SECONDS 86400	/* how long "no negentropy" is remembered */

typedef struct Slot
{
	SyncSession *session;
	SyncClaim	claim;
	int64		claim_at_ms;	/* a free slot claims its first relay from then (the stagger) */
	int64		started_at;
	int64		range_end;		/* the session covers [start, range_end] */
	bool		rescan;			/* this session rescans the relay's recent history */
	bool		contiguous;		/* it starts at or before the cursor + 1: it may move the cursor */
	int64		last_flush_ms;
	int64		last_cursor;	/* as last written */
	int64		last_frontier;
	int64		stored_new;
	int64		known_recorded; /* sightings of known events recorded */
	int64		db_unstorable;	/* rows PostgreSQL refused (each an unstorable shortfall) */
	int64		late_invalid;
	int64		hint_queries;
	int64		lookups;
	bool		failed;			/* storing failed: the relay is abandoned for this cycle */
	bool		neg_skipped;	/* negentropy not tried: the relay is known not to speak it */
	int64		neg_queries;	/* archive queries of its negentropy phase */
	int64		limit;			/* the REQ limit used (NIP-11 max_limit when below the GUC) */
} Slot;

static VerifyPool *verify_pool = NULL;
static KnownCache *known_cache = NULL;

static void sample_private_memory(void);
static void flush(Slot *slot, bool force);

static void
drain_logs(Slot *slot)
{
	const char *line;

	while ((line = sync_session_next_log(slot->session)) != NULL)
		bb_log(BB_INFO, "relay %s: %s", slot->claim.url, line);
}

typedef struct HintsQuery
{
	int64		second;
	const int32_t *kinds;
	size_t		nkinds;
	size_t		max;
	int32	   *out_kinds;
	uint8		(*out_authors)[32];
	size_t	   *nk;
	size_t	   *na;
} HintsQuery;

static void
hints_query(void *arg)
{
	HintsQuery *q = arg;

	sync_store_hints(q->second, q->kinds, (int) q->nkinds, (int) q->max, q->out_kinds, q->nk,
					 q->out_authors, q->na);
}

static void
store_slot_events(void *arg)
{
	sync_store_events((SyncStoreBatch *) arg);
}

static void
lookup_query(void *arg)
{
	Slot	   *slot = arg;
	size_t		first;
	size_t		n = sync_session_unlooked(slot->session, &first);
	size_t		count;
	const SyncEvent *events = sync_session_events(slot->session, &count);
	bool	   *archived = palloc(sizeof(bool) * Max(n, 1));

	sync_store_lookup(events + first, n, archived);
	sync_session_looked_up(slot->session, archived);
	pfree(archived);
}

/* Looks the session's new arrivals up in the archive (one query); a failure only costs verifies. */
static void
lookup_new(Slot *slot)
{
	size_t		first;
	char	   *error;

	if (slot->failed || sync_session_unlooked(slot->session, &first) == 0)
		return;
	slot->lookups++;
	error = bb_catch_error(lookup_query, slot, false);
	if (error)
	{
		bb_log(BB_WARNING, "relay %s: archive lookup failed, the events are verified instead: %s",
			   slot->claim.url, error);
		sync_session_settle(slot->session);
	}
}

/*
 * A session waits for the archive's kinds and authors at a crowded second: its events are stored
 * first (so the hints include what this relay just sent), then one query, then on.
 */
static void
answer_hints(Slot *slot)
{
	int64_t		second;
	const int32_t *kinds;
	size_t		nkinds,
				max,
				nk = 0,
				na = 0;
	int32	   *out_kinds;
	uint8		(*out_authors)[32];
	char	   *error;
	HintsQuery	q;

	if (!sync_session_hints_wanted(slot->session, &second, &kinds, &nkinds, &max))
		return;
	flush(slot, true);
	out_kinds = palloc(sizeof(int32) * max);
	out_authors = palloc(32 * max);
	q.second = second;
	q.kinds = kinds;
	q.nkinds = nkinds;
	q.max = max;
	q.out_kinds = out_kinds;
	q.out_authors = out_authors;
	q.nk = &nk;
	q.na = &na;
	error = bb_catch_error(hints_query, &q, false);
	if (error)
	{
		bb_log(BB_WARNING, "relay %s: archive hints for second " INT64_FORMAT " failed: %s", slot->claim.url,
			   (int64) second, error);
		nk = na = 0;
	}
	slot->hint_queries++;
	sync_session_give_hints(slot->session, out_kinds, nk, (const uint8_t (*)[32]) out_authors, na);
	pfree(out_kinds);
	pfree(out_authors);
}

typedef struct NegQuery
{
	Slot	   *slot;
	int64		since;
	int64		until;
	size_t		max;
	neg_item   *items;
	const uint8 (*ids)[32];
	uint8		(*missing)[32];
	size_t		n;
} NegQuery;

static void
neg_items_query(void *arg)
{
	NegQuery   *q = arg;

	q->n = sync_neg_items(q->slot->claim.url, q->since, q->until, q->max, q->items);
}

static void
neg_link_query(void *arg)
{
	NegQuery   *q = arg;

	q->n = sync_neg_link(q->slot->claim.url, q->slot->claim.network, q->ids, q->n, bb_unix_now(), q->missing);
}

#define NEG_LINK_BATCH 2000

/*
 * The negentropy phase's questions (sync/neg_phase): the relay's archive items for the next chunk
 * (one query, at most synchronizer_negentropy_max_items rows), and the needed ids to link
 * (insert_sightings, NEG_LINK_BATCH ids a transaction; the ids the archive lacks are fetched). A
 * failed query is logged and asked again at the next slice.
 */
static void
answer_neg(Slot *slot)
{
	NegQuery	q;
	char	   *error;

	if (slot->failed)
		return;
	memset(&q, 0, sizeof(q));
	q.slot = slot;
	if (sync_session_neg_items_wanted(slot->session, &q.since, &q.until, &q.max))
	{
		q.items = palloc_extended(sizeof(neg_item) * Max(q.max, 1), MCXT_ALLOC_HUGE);
		slot->neg_queries++;
		error = bb_catch_error(neg_items_query, &q, false);
		if (error)
			bb_log(BB_WARNING, "relay %s: the archive's negentropy items failed (asked again): %s",
				   slot->claim.url, error);
		else
			sync_session_neg_give_items(slot->session, q.items, q.n);
		pfree(q.items);
	}
	for (;;)
	{
		const uint8_t (*ids)[32];
		size_t		n = sync_session_neg_need(slot->session, &ids, NEG_LINK_BATCH);

		if (n == 0)
			break;
		/* ids point into the session, which nothing changes until sync_session_neg_linked */
		q.ids = (const uint8 (*)[32]) ids;
		q.missing = palloc(32 * n);
		q.n = n;
		slot->neg_queries++;
		error = bb_catch_error(neg_link_query, &q, false);
		if (error)
		{
			bb_log(BB_WARNING, "relay %s: recording sightings of negentropy ids failed (asked again): %s",
				   slot->claim.url, error);
			pfree(q.missing);
			break;
		}
		sync_session_neg_linked(slot->session, n, (const uint8_t (*)[32]) q.missing, q.n);
		pfree(q.missing);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Stores events[0 .. k) of the session's buffer (settled) with the position they justify, in one
 * transaction; a failure abandons the relay, not the worker. Returns false then.
 */
static bool
store_prefix(Slot *slot, size_t k)
{
	char	   *error;
	SyncStoreBatch batch;
	size_t		n;
	const SyncEvent *events;

	events = sync_session_events(slot->session, &n);
	memset(&batch, 0, sizeof(batch));
	batch.url = slot->claim.url;
	batch.network = slot->claim.network;
	batch.events = events;
	batch.n = k;
	batch.write_cursor = slot->contiguous;
	batch.cursor = sync_session_cursor_for(slot->session, k);
	batch.frontier = sync_session_frontier_for(slot->session, k);
	batch.seen_at = bb_unix_now();
	if (k == 0 && (!slot->contiguous || batch.cursor == slot->last_cursor) &&
		batch.frontier == slot->last_frontier)
		return true;
	batch.rejected = palloc(sizeof(SyncRejected) * Max(k, 1));
	error = bb_catch_error(store_slot_events, &batch, false);
	if (error)
	{
		bb_log(BB_WARNING, "relay %s: storing %zu events failed, relay abandoned this cycle: %s",
			   slot->claim.url, k, error);
		slot->failed = true;
		sync_session_clear_events(slot->session);
		pfree(batch.rejected);
		return false;
	}
	/* committed: from now on the session's cursor stays below every refused row */
	for (size_t i = 0; i < batch.n_rejected; i++)
		sync_session_hold(slot->session, batch.rejected[i].created_at, batch.rejected[i].id);
	if (known_cache)
		for (size_t i = 0; i < k; i++)
		{
			bool		refused = false;

			if (events[i].state != SYNC_EV_VALID)
				continue;
			for (size_t r = 0; r < batch.n_rejected && !refused; r++)
				refused = batch.rejected[r].index == i;
			if (!refused)
				known_cache_add(known_cache, events[i].id, events[i].sig);
		}
	slot->stored_new += batch.fresh;
	slot->known_recorded += batch.known_recorded;
	slot->late_invalid += batch.late_invalid;
	slot->db_unstorable += (int64) batch.n_rejected;
	if (slot->contiguous)
		slot->last_cursor = batch.cursor;
	slot->last_frontier = batch.frontier;
	pfree(batch.rejected);
	sync_session_consume(slot->session, k);
	return true;
}

/*
 * Stores the settled prefix of the session's buffer (all of it when force), at most batch_size
 * events per transaction: one sorted insert_events call per transaction, so that two workers
 * inserting the same new events wait for each other but never deadlock.
 */
static void
flush(Slot *slot, bool force)
{
	size_t		k;
	size_t		batch = (size_t) Max(sync_batch_size, 1);

	if (slot->failed)
		return;
	lookup_new(slot);
	k = force ? sync_session_settle(slot->session) : sync_session_ready(slot->session);
	do
	{
		size_t		part = Min(k, batch);

		if (!store_prefix(slot, part))
			return;
		k -= part;
		CHECK_FOR_INTERRUPTS();
	} while (k > 0);
	slot->last_flush_ms = net_clock_ms();
	sample_private_memory();
}

static char *
shortfalls_json(const sync_window *sw, const NegPhase *np)
{
	StringInfoData buf;
	JsonWriter	w;

	initStringInfo(&buf);
	json_writer_init(&w, &buf);
	json_writer_begin_array(&w, NULL);
	for (size_t i = 0; i < sync_window_shortfall_count(sw); i++)
	{
		const sync_shortfall *s = sync_window_shortfall_at(sw, i);

		json_writer_begin_object(&w, NULL);
		json_writer_string(&w, "reason", sync_shortfall_reason_name(s->reason));
		json_writer_int(&w, "since", s->since);
		json_writer_int(&w, "until", s->until);
		json_writer_int(&w, "returned", s->returned);
		if (s->counted >= 0)
			json_writer_int(&w, "counted", s->counted);
		if (s->has_id)
		{
			char		idhex[65];

			nostr_hex_encode(s->id, 32, idhex);
			json_writer_string(&w, "id", idhex);
		}
		if (s->has_kind)
			json_writer_int(&w, "kind", s->kind);
		if (s->has_author)
		{
			char		hex[65];

			nostr_hex_encode(s->author, 32, hex);
			json_writer_string(&w, "author", hex);
		}
		json_writer_end_object(&w);
	}
	if (np)
		for (size_t i = 0; i < neg_phase_shortfall_count(np); i++)
		{
			const NegShortfall *s = neg_phase_shortfall_at(np, i);

			json_writer_begin_object(&w, NULL);
			json_writer_string(&w, "reason", s->reason);
			json_writer_int(&w, "since", s->since);
			json_writer_int(&w, "until", s->until);
			json_writer_int(&w, "returned", s->returned);
			if (s->has_id)
			{
				char		idhex[65];

				nostr_hex_encode(s->id, 32, idhex);
				json_writer_string(&w, "id", idhex);
			}
			json_writer_end_object(&w);
		}
	json_writer_end_array(&w);
	return buf.data;
}

/* Shortfalls of the window algorithm and of the negentropy phase. */
static int64
slot_shortfalls(const Slot *slot)
{
	const NegPhase *np = sync_session_neg(slot->session);

	return sync_window_get_stats(sync_session_window(slot->session))->shortfalls +
		(np ? neg_phase_shortfalls_total(np) : 0);
}

/* The negentropy phase's part of a relay's result. */
static void
neg_stats_json(JsonWriter *w, const Slot *slot)
{
	const NegPhase *np = sync_session_neg(slot->session);
	const NegPhaseStats *st = np ? neg_phase_stats(np) : NULL;
	NegPhaseStatus status = np ? neg_phase_status(np) : NEG_PHASE_RUNNING;

	json_writer_bool(w, "negentropy", np && (status == NEG_PHASE_COMPLETE || st->chunks > 0));
	if (slot->neg_skipped)
		json_writer_bool(w, "neg_skipped", true);
	if (np == NULL)
		return;
	json_writer_int(w, "neg_chunks", st->chunks);
	json_writer_int(w, "neg_rounds", st->rounds);
	json_writer_int(w, "neg_bytes_out", st->bytes_out);
	json_writer_int(w, "neg_bytes_in", st->bytes_in);
	json_writer_int(w, "neg_ids_needed", st->ids_needed);
	json_writer_int(w, "neg_linked", st->linked);
	json_writer_int(w, "neg_fetch_requests", st->fetch_requests);
	json_writer_int(w, "neg_fetched", st->fetched);
	json_writer_int(w, "neg_not_served", st->not_served);
	json_writer_int(w, "neg_shrinks", st->shrinks);
	json_writer_int(w, "neg_rate_limited", st->rate_limited);
	json_writer_int(w, "neg_queries", slot->neg_queries);
	json_writer_int(w, "neg_fallbacks", status == NEG_PHASE_FALLBACK && sync_negentropy == SYNC_NEG_AUTO ? 1 : 0);
	if (status == NEG_PHASE_FALLBACK)
	{
		json_writer_string(w, "neg_fallback_reason", neg_phase_fallback_reason(np));
		if (*neg_phase_fallback_detail(np))
			json_writer_string(w, "neg_fallback_detail", neg_phase_fallback_detail(np));
	}
}

/* A relay's result for this cycle, as stored in its queue row and logged. */
static char *
relay_stats_json(const Slot *slot, const char *end_name)
{
	const SyncSessionStats *st = sync_session_stats(slot->session);
	const sync_window_stats *ws = sync_window_get_stats(sync_session_window(slot->session));
	StringInfoData buf;
	JsonWriter	w;

	initStringInfo(&buf);
	json_writer_init(&w, &buf);
	json_writer_begin_object(&w, NULL);
	json_writer_string(&w, "end", end_name);
	json_writer_int(&w, "events_received", st->events_received);
	json_writer_int(&w, "events_valid", st->events_valid);
	json_writer_int(&w, "events_invalid", st->events_invalid + slot->late_invalid);
	json_writer_int(&w, "events_unstorable", st->events_unstorable + slot->db_unstorable);
	json_writer_int(&w, "events_new", slot->stored_new);
	json_writer_int(&w, "events_known", st->events_known);
	json_writer_int(&w, "sightings_known", slot->known_recorded);
	json_writer_int(&w, "events_verified", st->events_verified);
	json_writer_int(&w, "lookups", slot->lookups);
	json_writer_int(&w, "bytes_received", st->bytes_received);
	json_writer_bool(&w, "rescan", slot->rescan);
	json_writer_int(&w, "requests", ws->requests);
	json_writer_int(&w, "splits", ws->splits);
	json_writer_int(&w, "narrowed", ws->narrowed);
	json_writer_int(&w, "shortfalls", slot_shortfalls(slot));
	json_writer_int(&w, "unproven", ws->unproven);
	json_writer_int(&w, "count_requests", ws->count_requests);
	json_writer_int(&w, "count_proofs", ws->count_proofs);
	json_writer_int(&w, "count_support", sync_window_count_support(sync_session_window(slot->session)));
	json_writer_int(&w, "hint_queries", slot->hint_queries);
	json_writer_int(&w, "answers_cut", ws->answers_cut);
	json_writer_int(&w, "rx_pauses", st->rx_pauses);
	json_writer_int(&w, "failures", ws->failures);
	json_writer_int(&w, "cursor", slot->last_cursor);
	json_writer_int(&w, "frontier", slot->last_frontier);
	neg_stats_json(&w, slot);
	sync_etiquette_stats_json(&w, slot->session, slot->limit);
	json_writer_end_object(&w);
	return buf.data;
}

static int64 worker_relays = 0;
static int64 worker_events = 0;

static void
finish_slot(Slot *slot, int64 cycle, bool stopping)
{
	const SyncSessionStats *st = sync_session_stats(slot->session);
	const sync_window *sw = sync_session_window(slot->session);
	SyncSessionEnd end = sync_session_end(slot->session);
	const char *end_name;
	char	   *stats;
	char	   *shortfalls;
	int64		n_shortfalls;
	char	   *refusal;

	/* The last flush first: when it fails, the relay's result must say so. */
	flush(slot, true);
	n_shortfalls = slot_shortfalls(slot);
	end_name = slot->failed ? "store_failed" : stopping && end == SYNC_END_NONE ? "stopped" :
		end == SYNC_END_COMPLETE && n_shortfalls > 0 ? "incomplete" : sync_session_end_name(end);
	drain_logs(slot);
	worker_relays++;
	worker_events += st->events_received;
	stats = relay_stats_json(slot, end_name);
	shortfalls = shortfalls_json(sw, sync_session_neg(slot->session));
	if (n_shortfalls > 0)
		bb_log(BB_WARNING, "relay %s: %lld window(s) could not be collected completely: %s", slot->claim.url,
			   (long long) n_shortfalls, shortfalls);
	if (st->events_invalid > 0)
		bb_log(BB_WARNING, "relay %s: %lld invalid events dropped", slot->claim.url,
			   (long long) st->events_invalid);
	bb_log(end == SYNC_END_COMPLETE && n_shortfalls == 0 ? BB_INFO : BB_WARNING, "relay %s: %s", slot->claim.url, stats);
	/* a relay that does not speak negentropy is not probed again for a day */
	if (sync_session_neg_unsupported(slot->session))
		sync_neg_remember_unsupported(slot->claim.url, bb_unix_now() + NEG_UNSUPPORTED_SECONDS);
	/* A stopped relay stays unfinished in the queue; the next cycle resumes from its cursor. */
	if (!stopping || end != SYNC_END_NONE)
	{
		/* a rescan counts once it reached the end of its range */
		bool		rescanned = slot->rescan && !slot->failed && slot->last_frontier >= slot->range_end;

		sync_store_finish(slot->claim.url, cycle, stats, shortfalls, slot->contiguous, rescanned,
						  slot->range_end, sync_window_largest_answer(sw));
		refusal = sync_etiquette_refusal_json(slot->session);
		if (refusal)
			sync_store_merge_state(slot->claim.url, refusal);
	}
	sync_session_free(slot->session);
	slot->session = NULL;
}

/*
 * Where a relay's session starts. Without a position: from default_start (a full scan, which counts
 * as a rescan). When a rescan is due (every rescan_interval): from lookback before the previous
 * rescan began (so an event published since then, backdated by up to lookback, is caught), or from
 * the cursor if that is older (a shortfall it holds is retried). Otherwise: overlap_seconds before
 * the frontier's end (an unchanged relay sends almost nothing; an event that reached the relay a
 * little after its created_at is still caught).
 */
static void
plan_range(Slot *slot, int64 now, int64 *start, int64 *known_largest_answer)
{
	SyncRelayState st;

	*known_largest_answer = 0;

	if (!sync_use_relay_state || !sync_store_read_state(slot->claim.url, &st))
	{
		*start = sync_default_start;
		slot->rescan = true;
		slot->contiguous = true;
		slot->last_cursor = *start - 1;
		slot->last_frontier = *start - 1;
		return;
	}
	slot->last_cursor = st.cursor;
	slot->last_frontier = st.has_frontier ? Max(st.frontier, st.cursor) : st.cursor;
	if (sync_rescan_interval == 0 || !st.has_frontier || !st.has_rescan_at ||
		now - st.rescan_at >= sync_rescan_interval)
	{
		int64		base = st.has_rescan_at ? Min(st.rescan_at, st.cursor + 1) : st.cursor;

		*start = Max(Min(st.cursor + 1, base - (int64) sync_lookback_seconds), 0);
		slot->rescan = true;
		slot->contiguous = true;
	}
	else
	{
		*start = Max(slot->last_frontier + 1 - (int64) sync_overlap_seconds, 0);
		slot->rescan = false;
		/* a few new events prove themselves against the cap an earlier session showed */
		*known_largest_answer = st.largest_answer;
		slot->contiguous = *start <= st.cursor + 1;
	}
}

static bool
start_slot(Slot *slot, int active, int processes, WsLoop *loop, nostr_pubkey_cache *cache, int64 cycle,
		   int32 *kinds, int nkinds)
{
	SyncSessionConfig cfg = {0};
	int64		now = bb_unix_now();

	if (!sync_store_claim(cycle, active, processes, &slot->claim))
		return false;
	cfg.url = slot->claim.url;
	cfg.via_tor = strcmp(slot->claim.network, "tor") == 0;
	plan_range(slot, now, &cfg.start, &cfg.known_largest_answer);
	cfg.end = now;
	cfg.limit = slot->limit = sync_etiquette_limit(slot->claim.url);
	cfg.kinds = kinds;
	cfg.kinds_count = nkinds;
	cfg.request_timeout_ms = slot->claim.request_timeout * 1000;
	cfg.relay_timeout_ms = slot->claim.relay_timeout * 1000;
	cfg.stagger_ms = 0;			/* staggered before the claim */
	cfg.max_message_size = MAX_MESSAGE_SIZE;
	cfg.max_narrowing_keys = sync_max_narrowing_keys;
	cfg.max_answer = Max((int64) sync_max_answer_events, (int64) sync_limit);
	cfg.max_buffered = (size_t) Max(sync_max_buffered_events, sync_batch_size);
	cfg.want_hints = sync_archive_hints;
	cfg.pool = verify_pool;
	cfg.known = known_cache;
	cfg.negentropy = sync_negentropy;
	cfg.neg_max_items = (size_t) sync_neg_max_items;
	cfg.neg_unsupported = sync_negentropy != SYNC_NEG_OFF && sync_neg_unsupported_until(slot->claim.url) > now;
	slot->neg_skipped = cfg.neg_unsupported && sync_negentropy == SYNC_NEG_AUTO;
	/*
	 * With negentropy a rescan reconciles the relay's whole history (cheap when nothing changed,
	 * and it catches events backdated beyond the lookback); should the window algorithm take over,
	 * it still starts where plan_range said, the stored cursor covering what lies before.
	 */
	if (slot->rescan && cfg.negentropy != SYNC_NEG_OFF && !cfg.neg_unsupported &&
		cfg.start > sync_default_start && slot->last_cursor >= cfg.start - 1)
	{
		cfg.has_neg_start = true;
		cfg.neg_start = sync_default_start;
		cfg.known_cursor = slot->last_cursor;
		cfg.known_frontier = slot->last_frontier;
	}
	slot->neg_queries = 0;
	cfg.auth_seckey = sync_etiquette_key();
	slot->session = sync_session_new(loop, &cfg, cache);
	if (slot->session == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory starting a relay session")));
	slot->started_at = now;
	slot->range_end = cfg.end;
	slot->last_flush_ms = net_clock_ms();
	slot->stored_new = 0;
	slot->known_recorded = 0;
	slot->db_unstorable = 0;
	slot->late_invalid = 0;
	slot->hint_queries = 0;
	slot->lookups = 0;
	slot->failed = false;
	bb_log(BB_DEBUG, "relay %s: syncing [" INT64_FORMAT ", " INT64_FORMAT "]%s", slot->claim.url,
		   (int64) cfg.start, (int64) cfg.end, slot->rescan ? " (rescan)" : "");
	return true;
}

static long peak_private_kb = 0;

/* A "Name: N kB" line of /proc/self/status; -1 when absent. */
static long
proc_status_kb(const char *name)
{
	long		kb = -1;
	size_t		len = strlen(name);
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
		{
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/*
 * Private (anonymous) resident memory, sampled after each batch: VmHWM also counts the shared
 * buffers this backend touched, which grow with the data written, not with the worker's own state.
 */
static void
sample_private_memory(void)
{
	long		kb = proc_status_kb("RssAnon");

	if (kb > peak_private_kb)
		peak_private_kb = kb;
}

/* CPU time and peak memory of this process, for operators and the benchmark. */
static void
log_resources(int64 relays, int64 events)
{
	struct rusage ru;
	VerifyPoolStats vs = {0};

	sample_private_memory();
	getrusage(RUSAGE_SELF, &ru);	/* all threads: the pool's CPU counts too */

	if (verify_pool)
		vs = verify_pool_stats(verify_pool);
	bb_log(BB_INFO, "worker done: " INT64_FORMAT " relays, " INT64_FORMAT " events received, cpu user %.2f s sys %.2f s, "
		   "VmHWM %ld kB, peak private (RssAnon) %ld kB, shared now (RssShmem) %ld kB, "
		   "signatures verified by %d pool threads " INT64_FORMAT ", by the main thread " INT64_FORMAT,
		   relays, events, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		   ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, proc_status_kb("VmHWM"), peak_private_kb,
		   proc_status_kb("RssShmem"), verify_pool_threads(verify_pool), (int64) vs.run_by_helpers,
		   (int64) vs.run_by_caller);
}

static void
destroy_loop(int code, Datum arg)
{
	ws_loop_destroy((WsLoop *) DatumGetPointer(arg));
}

/* Registered before the loop's, so it runs after it: the threads stop and are joined. */
static void
destroy_verify_pool(int code, Datum arg)
{
	verify_pool_free(verify_pool);
	verify_pool = NULL;
	known_cache_free(known_cache);
	known_cache = NULL;
}

static void
start_verify_pool(void)
{
	char		error[256];

	if (sync_known_cache_size > 0 && (known_cache = known_cache_new((size_t) sync_known_cache_size)) == NULL)
		bb_log(BB_WARNING, "no memory for a known-event cache of %d entries: the archive lookup alone is used",
			   sync_known_cache_size);
	if (sync_verify_threads > 0 &&
		(verify_pool = verify_pool_new(sync_verify_threads, error, sizeof(error))) == NULL)
		bb_log(BB_WARNING, "could not start %d signature threads (%s): the main thread verifies",
			   sync_verify_threads, error);
	before_shmem_exit(destroy_verify_pool, (Datum) 0);
}

static void
run_worker(int64 cycle, int processes)
{
	WsLoop	   *loop;
	nostr_pubkey_cache *cache = nostr_pubkey_cache_new(4096);
	Slot	   *slots = palloc0(sizeof(Slot) * sync_max_parallel);
	int			nslots = sync_max_parallel;
	int32	   *kinds;
	int			nkinds = sync_kinds_list(&kinds);
	bool		nothing_left = false;
	int64		next_claim_ms = 0;
	int64		t0 = net_clock_ms();

	start_verify_pool();
	loop = bb_ws_loop_create("bigbrotr-synchronizer/" BIGBROTR_VERSION, MAX_MESSAGE_SIZE);
	before_shmem_exit(destroy_loop, PointerGetDatum(loop));
	/* the first slot starts at once; the others' first claims are spread over the stagger */
	for (int i = 1; i < nslots; i++)
		slots[i].claim_at_ms = t0 + (sync_stagger_delay > 0 ?
									 (int64) (random() % ((long) sync_stagger_delay * 1000 + 1)) : 0);

	for (;;)
	{
		int			active = 0;
		int64		now_ms = net_clock_ms();

		if (service_should_stop())
			break;
		service_reload_if_pending();
		for (int i = 0; i < nslots; i++)
			active += slots[i].session != NULL;
		if (now_ms >= next_claim_ms)
			for (int i = 0; i < nslots; i++)
			{
				if (slots[i].session != NULL || slots[i].claim_at_ms > now_ms)
					continue;
				if (!start_slot(&slots[i], active, processes, loop, cache, cycle, kinds, nkinds))
				{
					/* nothing to claim, or this process holds its share: look again soon */
					nothing_left = active == 0 && !sync_store_unclaimed(cycle);
					next_claim_ms = now_ms + CLAIM_RETRY_MS;
					break;
				}
				active++;
			}
		/* a slot still waiting for its stagger would find nothing either */
		if (active == 0 && nothing_left)
			break;

		ws_loop_run(loop, 100);

		for (int i = 0; i < nslots; i++)
		{
			Slot	   *slot = &slots[i];

			if (slot->session == NULL)
				continue;
			sync_session_tick(slot->session);
			drain_logs(slot);
			if (sync_session_end(slot->session) != SYNC_END_NONE || slot->failed)
			{
				finish_slot(slot, cycle, false);
				next_claim_ms = 0;	/* a slot is free: claim the next relay at once */
			}
			else
			{
				lookup_new(slot);
				if (sync_session_paused(slot->session))
					flush(slot, true);
				else if (sync_session_ready(slot->session) >= (size_t) sync_batch_size ||
						 net_clock_ms() - slot->last_flush_ms >= FLUSH_EVERY_MS)
					flush(slot, false);
				answer_hints(slot);
				answer_neg(slot);
				drain_logs(slot);
			}
		}
	}
	/* SIGTERM: keep what was verified (with its cursor), then leave. */
	for (int i = 0; i < nslots; i++)
		if (slots[i].session != NULL)
			finish_slot(&slots[i], cycle, true);
	nostr_pubkey_cache_free(cache);
	sync_etiquette_forget_key();
	log_resources(worker_relays, worker_events);
}

void
bigbrotr_sync_worker_main(Datum main_arg)
{
	int64		cycle;
	int			processes;
	MemoryContext ctx;

	service_install_signal_handlers();
	bigbrotr_process_name = "synchronizer worker";
	{
		char	   *endp;

		cycle = strtoll(MyBgworkerEntry->bgw_extra, &endp, 10);
		processes = (int) strtol(endp, NULL, 10);
	}
	bb_worker_connect();
	pgstat_report_appname(MyBgworkerEntry->bgw_name);
	srandom((unsigned) (MyProcPid ^ (cycle & 0xffffffff)));
	ctx = AllocSetContextCreate(TopMemoryContext, "bigbrotr sync worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(ctx);
	run_worker(cycle, Max(processes, 1));
	proc_exit(0);
}
