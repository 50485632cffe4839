/*
 * sync_worker.c: one of the synchronizer's parallel processes, a dynamic background worker started
 * by the coordinator (synchronizer.c) for one cycle. It claims relays from the cycle's queue, syncs
 * up to bigbrotr.synchronizer_max_parallel of them at once on one WebSocket event loop
 * (sync/sync_session), and stores each relay's verified events with its cursor in one transaction
 * per batch. Between loop slices it answers a session waiting for archive hints (the kinds and
 * authors archived at a crowded second, one SPI query) and stores a session whose buffer is full
 * (its socket is paused until then). A row the archive refuses becomes that relay's "unstorable"
 * shortfall. It exits when the queue is empty or at SIGTERM, after storing what it holds.
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
#define CLAIM_RETRY_MS 2000
#define MAX_MESSAGE_SIZE (4 * 1024 * 1024)

typedef struct Slot
{
	SyncSession *session;
	SyncClaim	claim;
	int64		started_at;
	int64		last_flush_ms;
	int64		last_cursor;	/* as last written */
	int64		stored_new;
	int64		db_unstorable;	/* rows PostgreSQL refused (each an unstorable shortfall) */
	int64		hint_queries;
	bool		failed;			/* storing failed: the relay is abandoned for this cycle */
} Slot;

static void sample_private_memory(void);

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
	Slot	   *slot = arg;
	size_t		n;
	const SyncEvent *events = sync_session_events(slot->session, &n);
	int64		cursor = sync_session_cursor(slot->session);
	SyncRejected *rejected = palloc(sizeof(SyncRejected) * Max(n, 1));
	size_t		n_rejected = 0;

	slot->stored_new += sync_store_events(slot->claim.url, slot->claim.network, events, n, cursor,
										  bb_unix_now(), rejected, &n_rejected);
	/* committed: from now on the session's cursor stays below every refused row */
	for (size_t i = 0; i < n_rejected; i++)
		sync_session_hold(slot->session, rejected[i].created_at, rejected[i].id);
	slot->db_unstorable += (int64) n_rejected;
	slot->last_cursor = n_rejected > 0 ? Min(cursor, sync_session_cursor(slot->session)) : cursor;
	pfree(rejected);
}

/* A session waits for the archive's kinds and authors at a crowded second: one query, then on. */
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

/* Stores the session's buffered events with its cursor; a failure abandons the relay, not the worker. */
static void
flush(Slot *slot)
{
	size_t		n;
	char	   *error;

	sync_session_events(slot->session, &n);
	if (slot->failed || (n == 0 && sync_session_cursor(slot->session) == slot->last_cursor))
		return;
	error = bb_catch_error(store_slot_events, slot, false);
	if (error)
	{
		bb_log(BB_WARNING, "relay %s: storing %zu events failed, relay abandoned this cycle: %s",
			   slot->claim.url, n, error);
		slot->failed = true;
	}
	sync_session_clear_events(slot->session);
	slot->last_flush_ms = net_clock_ms();
	sample_private_memory();
}

static char *
shortfalls_json(const sync_window *sw)
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
	json_writer_end_array(&w);
	return buf.data;
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
	json_writer_int(&w, "events_invalid", st->events_invalid);
	json_writer_int(&w, "events_unstorable", st->events_unstorable + slot->db_unstorable);
	json_writer_int(&w, "events_new", slot->stored_new);
	json_writer_int(&w, "requests", ws->requests);
	json_writer_int(&w, "splits", ws->splits);
	json_writer_int(&w, "narrowed", ws->narrowed);
	json_writer_int(&w, "shortfalls", ws->shortfalls);
	json_writer_int(&w, "unproven", ws->unproven);
	json_writer_int(&w, "count_requests", ws->count_requests);
	json_writer_int(&w, "count_proofs", ws->count_proofs);
	json_writer_int(&w, "count_support", sync_window_count_support(sync_session_window(slot->session)));
	json_writer_int(&w, "hint_queries", slot->hint_queries);
	json_writer_int(&w, "answers_cut", ws->answers_cut);
	json_writer_int(&w, "rx_pauses", st->rx_pauses);
	json_writer_int(&w, "failures", ws->failures);
	json_writer_int(&w, "cursor", slot->last_cursor);
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
	const sync_window_stats *ws = sync_window_get_stats(sw);
	SyncSessionEnd end = sync_session_end(slot->session);
	const char *end_name;
	char	   *stats;
	char	   *shortfalls;

	/* The last flush first: when it fails, the relay's result must say so. */
	flush(slot);
	end_name = slot->failed ? "store_failed" : stopping && end == SYNC_END_NONE ? "stopped" :
		end == SYNC_END_COMPLETE && ws->shortfalls > 0 ? "incomplete" : sync_session_end_name(end);
	drain_logs(slot);
	worker_relays++;
	worker_events += st->events_received;
	stats = relay_stats_json(slot, end_name);
	shortfalls = shortfalls_json(sw);
	if (ws->shortfalls > 0)
		bb_log(BB_WARNING, "relay %s: %lld window(s) could not be collected completely: %s", slot->claim.url,
			   (long long) ws->shortfalls, shortfalls);
	if (st->events_invalid > 0)
		bb_log(BB_WARNING, "relay %s: %lld invalid events dropped", slot->claim.url,
			   (long long) st->events_invalid);
	bb_log(end == SYNC_END_COMPLETE && ws->shortfalls == 0 ? BB_INFO : BB_WARNING, "relay %s: %s", slot->claim.url, stats);
	/* A stopped relay stays unfinished in the queue; the next cycle resumes from its cursor. */
	if (!stopping || end != SYNC_END_NONE)
		sync_store_finish(slot->claim.url, cycle, stats, shortfalls);
	sync_session_free(slot->session);
	slot->session = NULL;
}

static bool
start_slot(Slot *slot, WsLoop *loop, nostr_pubkey_cache *cache, int64 cycle, int32 *kinds, int nkinds)
{
	SyncSessionConfig cfg = {0};
	int64		cursor;
	int64		now = bb_unix_now();

	if (!sync_store_claim(cycle, &slot->claim))
		return false;
	cfg.url = slot->claim.url;
	cfg.via_tor = strcmp(slot->claim.network, "tor") == 0;
	if (sync_use_relay_state && sync_store_read_cursor(slot->claim.url, &cursor))
		cfg.start = Max(cursor - sync_lookback_seconds, 0);
	else
		cfg.start = sync_default_start;
	cfg.end = now;
	cfg.limit = sync_limit;
	cfg.kinds = kinds;
	cfg.kinds_count = nkinds;
	cfg.request_timeout_ms = slot->claim.request_timeout * 1000;
	cfg.relay_timeout_ms = slot->claim.relay_timeout * 1000;
	cfg.stagger_ms = sync_stagger_delay > 0 ? (int) (random() % ((long) sync_stagger_delay * 1000 + 1)) : 0;
	cfg.max_message_size = MAX_MESSAGE_SIZE;
	cfg.max_narrowing_keys = sync_max_narrowing_keys;
	cfg.max_answer = Max((int64) sync_max_answer_events, (int64) sync_limit);
	cfg.max_buffered = (size_t) Max(sync_max_buffered_events, sync_batch_size);
	cfg.want_hints = sync_archive_hints;
	slot->session = sync_session_new(loop, &cfg, cache);
	if (slot->session == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory starting a relay session")));
	slot->started_at = now;
	slot->last_flush_ms = net_clock_ms();
	slot->last_cursor = cfg.start - 1;
	slot->stored_new = 0;
	slot->db_unstorable = 0;
	slot->hint_queries = 0;
	slot->failed = false;
	bb_log(BB_DEBUG, "relay %s: syncing [" INT64_FORMAT ", " INT64_FORMAT "] after a %d ms stagger",
		   slot->claim.url, (int64) cfg.start, (int64) cfg.end, cfg.stagger_ms);
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

	sample_private_memory();
	getrusage(RUSAGE_SELF, &ru);
	bb_log(BB_INFO, "worker done: " INT64_FORMAT " relays, " INT64_FORMAT " events received, cpu user %.2f s sys %.2f s, "
		   "VmHWM %ld kB, peak private (RssAnon) %ld kB, shared now (RssShmem) %ld kB",
		   relays, events, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		   ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, proc_status_kb("VmHWM"), peak_private_kb,
		   proc_status_kb("RssShmem"));
}

static void
destroy_loop(int code, Datum arg)
{
	ws_loop_destroy((WsLoop *) DatumGetPointer(arg));
}

static void
run_worker(int64 cycle)
{
	WsLoop	   *loop;
	nostr_pubkey_cache *cache = nostr_pubkey_cache_new(4096);
	Slot	   *slots = palloc0(sizeof(Slot) * sync_max_parallel);
	int			nslots = sync_max_parallel;
	int32	   *kinds;
	int			nkinds = sync_kinds_list(&kinds);
	bool		queue_empty = false;
	int64		next_claim_ms = 0;

	loop = bb_ws_loop_create("bigbrotr-synchronizer/" BIGBROTR_VERSION, MAX_MESSAGE_SIZE);
	before_shmem_exit(destroy_loop, PointerGetDatum(loop));

	for (;;)
	{
		int			active = 0;
		int64		now_ms = net_clock_ms();

		if (service_should_stop())
			break;
		service_reload_if_pending();
		if (!queue_empty || now_ms >= next_claim_ms)
		{
			queue_empty = false;
			for (int i = 0; i < nslots && !queue_empty; i++)
				if (slots[i].session == NULL &&
					!start_slot(&slots[i], loop, cache, cycle, kinds, nkinds))
				{
					queue_empty = true;
					next_claim_ms = now_ms + CLAIM_RETRY_MS;
				}
		}
		for (int i = 0; i < nslots; i++)
			active += slots[i].session != NULL;
		if (active == 0 && queue_empty)
			break;

		ws_loop_run(loop, 100);

		for (int i = 0; i < nslots; i++)
		{
			Slot	   *slot = &slots[i];
			size_t		pending;

			if (slot->session == NULL)
				continue;
			sync_session_tick(slot->session);
			drain_logs(slot);
			sync_session_events(slot->session, &pending);
			if (sync_session_end(slot->session) != SYNC_END_NONE || slot->failed)
				finish_slot(slot, cycle, false);
			else
			{
				if (pending >= (size_t) sync_batch_size || sync_session_paused(slot->session) ||
					net_clock_ms() - slot->last_flush_ms >= FLUSH_EVERY_MS)
					flush(slot);
				/* flushed first: the archive's hints then include what this relay just sent */
				answer_hints(slot);
				drain_logs(slot);
			}
		}
	}
	/* SIGTERM: keep what was verified (with its cursor), then leave. */
	for (int i = 0; i < nslots; i++)
		if (slots[i].session != NULL)
			finish_slot(&slots[i], cycle, true);
	nostr_pubkey_cache_free(cache);
	log_resources(worker_relays, worker_events);
}

void
bigbrotr_sync_worker_main(Datum main_arg)
{
	int64		cycle;
	MemoryContext ctx;

	service_install_signal_handlers();
	bigbrotr_process_name = "synchronizer worker";
	cycle = strtoll(MyBgworkerEntry->bgw_extra, NULL, 10);
	bb_worker_connect();
	pgstat_report_appname(MyBgworkerEntry->bgw_name);
	srandom((unsigned) (MyProcPid ^ (cycle & 0xffffffff)));
	ctx = AllocSetContextCreate(TopMemoryContext, "bigbrotr sync worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(ctx);
	run_worker(cycle);
	proc_exit(0);
}
