/*
 * test_sync_window.c: the synchronizer's window algorithm against simulated relays (honest, capped
 * silently, ignoring since/until or limit, unsorted, thousands of events in one second, answering a
 * capped second with an arbitrary subset, with and without NIP-45 COUNT, with and without archive
 * hints, never sending EOSE, dropping mid-answer, sending bad signatures, flooding one request) and
 * two randomized sweeps. Every case checks the cursor invariant after every answer (every event at
 * or below the cursor was collected), and every session, whatever the relay does, that every event
 * not collected lies in a reported shortfall (issue 10 item 0).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_window.h"
#include "tap.h"

#define YEAR (365 * 86400LL)
#define T0 1700000000LL

typedef struct sim_event
{
	uint8_t		id[32];
	uint8_t		pubkey[32];
	int64_t		created_at;
	int32_t		kind;
	bool		valid;
} sim_event;

typedef struct sim_relay
{
	sim_event  *ev;
	size_t		n;
	int64_t		cap;			/* silent cap on every answer; 0: none */
	bool		ignore_window;
	bool		ignore_limit;
	bool		shuffle;
	bool		never_eose;
	int64_t		drop_after;		/* the connection drops after this many events of one answer */
	bool		fail_narrowed;	/* requests naming a kind or an author never end */
	bool		tie_random;		/* a capped second: an arbitrary subset (random order within a second) */
	bool		count;			/* answers NIP-45 COUNT (honestly: its valid events matching) */
	int			hints;			/* archive hints: 0 none, 1 every event of the second, 2 about half */
	int64_t		count_requests; /* observed */
	/*
	 * Observed, not configured: capped answers to requests the algorithm may narrow (one second,
	 * or any request to a relay ignoring since/until) that lacked a kind, or (showing one kind)
	 * an author, of the valid events the request matched.
	 */
	int64_t		unrepresentative;
} sim_relay;

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
make_event(sim_event *e, size_t index, int64_t created_at, int32_t kind, int author)
{
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 32; i++)
		e->id[i] = (uint8_t) rnd();
	/* the index in the last bytes keeps ids unique and maps them back */
	e->id[28] = (uint8_t) (index >> 24);
	e->id[29] = (uint8_t) (index >> 16);
	e->id[30] = (uint8_t) (index >> 8);
	e->id[31] = (uint8_t) index;
	e->pubkey[0] = (uint8_t) author;
	e->pubkey[31] = 0xAA;
	e->created_at = created_at;
	e->kind = kind;
	e->valid = true;
}

static size_t
id_index(const uint8_t id[32])
{
	return ((size_t) id[28] << 24) | ((size_t) id[29] << 16) | ((size_t) id[30] << 8) | id[31];
}

static int
cmp_newest(const void *a, const void *b)
{
	const sim_event *x = *(sim_event * const *) a;
	const sim_event *y = *(sim_event * const *) b;

	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

/* Newest first; within one second, in a random order (shuffle each second's run afterwards). */
static void
shuffle_ties(const sim_event **sel, size_t n)
{
	for (size_t i = 0; i < n;)
	{
		size_t		j = i;

		while (j < n && sel[j]->created_at == sel[i]->created_at)
			j++;
		for (size_t k = j - i; k > 1; k--)
		{
			size_t		r = rnd() % k;
			const sim_event *t = sel[i + k - 1];

			sel[i + k - 1] = sel[i + r];
			sel[i + r] = t;
		}
		i = j;
	}
}

static bool
req_matches(const sync_request *r, const sim_event *e, bool ignore_window)
{
	bool		kind_ok = r->kinds == NULL;

	if (!ignore_window && (e->created_at < r->since || e->created_at > r->until))
		return false;
	for (size_t i = 0; r->kinds && i < r->kinds_count; i++)
		if (r->kinds[i] == e->kind)
			kind_ok = true;
	if (!kind_ok)
		return false;
	return !r->has_author || memcmp(r->author, e->pubkey, 32) == 0;
}

/*
 * Whether the answer sel[0, take) shows every kind of the valid events in sel[0, n), and, if it
 * shows a single kind, every author of that kind: then narrowing by what it shows loses nothing.
 */
static bool
answer_representative(const sim_event *const *sel, size_t take, size_t n)
{
	int32_t		kinds[64];
	size_t		nkinds = 0;

	for (size_t i = 0; i < take; i++)
	{
		size_t		k = 0;

		if (!sel[i]->valid)
			continue;
		while (k < nkinds && kinds[k] != sel[i]->kind)
			k++;
		if (k == nkinds && nkinds < 64)
			kinds[nkinds++] = sel[i]->kind;
	}
	for (size_t i = take; i < n; i++)
	{
		bool		shown = false;

		if (!sel[i]->valid)
			continue;
		for (size_t j = 0; j < take && !shown; j++)
			shown = sel[j]->valid && sel[j]->kind == sel[i]->kind &&
				(nkinds > 1 || memcmp(sel[j]->pubkey, sel[i]->pubkey, 32) == 0);
		if (!shown)
			return false;
	}
	return true;
}

/* Answers one request the way the simulated relay would, feeding the algorithm. */
static void
sim_answer(sim_relay *relay, sync_window *sw, const sync_request *r, bool *collected)
{
	const sim_event **sel = malloc((relay->n + 1) * sizeof(sim_event *));
	size_t		n = 0,
				take;

	for (size_t i = 0; i < relay->n; i++)
		if (req_matches(r, &relay->ev[i], relay->ignore_window))
			sel[n++] = &relay->ev[i];
	qsort(sel, n, sizeof(sim_event *), cmp_newest);
	if (relay->tie_random)
		shuffle_ties(sel, n);
	take = n;
	if (!relay->ignore_limit && (int64_t) take > r->limit)
		take = (size_t) r->limit;
	if (relay->cap > 0 && (int64_t) take > relay->cap)
		take = (size_t) relay->cap;
	if (take < n && (r->since == r->until || relay->ignore_window) &&
		!answer_representative(sel, take, n))
		relay->unrepresentative++;
	if (relay->shuffle)
		for (size_t i = take; i > 1; i--)
		{
			size_t		j = rnd() % i;
			const sim_event *t = sel[i - 1];

			sel[i - 1] = sel[j];
			sel[j] = t;
		}
	for (size_t i = 0; i < take; i++)
	{
		if (relay->drop_after > 0 && (int64_t) i == relay->drop_after)
		{
			free(sel);
			sync_window_answer(sw, false);
			return;
		}
		if (sel[i]->valid)
			collected[id_index(sel[i]->id)] = true;	/* the caller keeps it, recorded or not */
		if (!sync_window_event(sw, sel[i]->id, sel[i]->pubkey, sel[i]->created_at, sel[i]->kind,
							   sel[i]->valid))
			break;				/* the window cut the answer: the caller ends the request */
	}
	free(sel);
	sync_window_answer(sw, !relay->never_eose && !(relay->fail_narrowed && (r->kinds || r->has_author)));
}

/* A COUNT: the relay's valid events matching the filter (time ignored when the relay ignores it). */
static void
sim_count(sim_relay *relay, sync_window *sw, const sync_request *r)
{
	int64_t		n = 0;
	sync_request f = *r;

	relay->count_requests++;
	if (!relay->count || relay->never_eose)
	{
		sync_window_count(sw, false, 0);
		return;
	}
	for (size_t i = 0; i < relay->n; i++)
		if (relay->ev[i].valid && req_matches(&f, &relay->ev[i], relay->ignore_window || !r->has_time))
			n++;
	sync_window_count(sw, true, n);
}

/* The archive's kinds and authors at the asked second: from another relay that had all, or half. */
static void
sim_hints(sim_relay *relay, sync_window *sw, const sync_request *r)
{
	int32_t		kinds[256];
	uint8_t		authors[256][32];
	size_t		nk = 0,
				na = 0;

	for (size_t i = 0; i < relay->n; i++)
	{
		const sim_event *e = &relay->ev[i];
		size_t		j;

		if (!e->valid || e->created_at != r->since || (relay->hints == 2 && e->id[0] % 2))
			continue;
		for (j = 0; j < nk && kinds[j] != e->kind; j++)
			;
		if (j == nk && nk < 256)
			kinds[nk++] = e->kind;
		for (j = 0; j < na && memcmp(authors[j], e->pubkey, 32) != 0; j++)
			;
		if (j == na && na < 256)
			memcpy(authors[na++], e->pubkey, 32);
	}
	sync_window_hints(sw, kinds, nk, (const uint8_t (*)[32]) authors, na);
}

/* Answers whatever the algorithm asks. */
static void
sim_request(sim_relay *relay, sync_window *sw, const sync_request *r, bool *collected)
{
	if (r->type == SYNC_REQ_COUNT)
		sim_count(relay, sw, r);
	else if (r->type == SYNC_REQ_HINTS)
		sim_hints(relay, sw, r);
	else
		sim_answer(relay, sw, r, collected);
}

typedef struct run_result
{
	int64_t		requests;
	int64_t		cursor;
	bool		given_up;
	size_t		shortfalls;
	bool		invariant_ok;	/* every event at or below the cursor collected, after every answer */
	bool		passed_early;	/* the cursor passed an event before it was collected */
	bool		all_collected;	/* every wanted event in [start, end] collected */
	bool		loop_bounded;
	bool		cursor_went_back;
	sync_window_stats stats;
	sync_shortfall first_shortfall;
	/* every reported shortfall that was recorded (the first SYNC_WINDOW_MAX_SHORTFALLS) */
	size_t		n_recorded;
	sync_shortfall recorded[SYNC_WINDOW_MAX_SHORTFALLS];
	int64_t		missed;			/* wanted events not collected */
	int64_t		missed_below_cursor;	/* ... of which at or below the final cursor */
	int64_t		missed_uncovered;	/* ... of which in no recorded shortfall */
	bool		cursor_below_shortfalls;	/* the cursor is below every recorded shortfall */
	int64_t		unrepresentative;	/* see sim_relay */
	int64_t		frontier;
	bool		frontier_ok;	/* see run() */
} run_result;

/* Sessions whose frontier broke its promise, over every run of this file. */
static int64_t frontier_violations = 0;
static int64_t frontier_runs = 0;

static bool
wanted(const sim_event *e, const int32_t *kinds, size_t nk, int64_t start, int64_t end)
{
	bool		ok = nk == 0;

	for (size_t i = 0; i < nk; i++)
		if (kinds[i] == e->kind)
			ok = true;
	return ok && e->valid && e->created_at >= start && e->created_at <= end;
}

/* Whether a reported shortfall names the event: in its seconds, of its kind and author if it has them. */
static bool
shortfall_covers(const sync_shortfall *s, const sim_event *e)
{
	return e->created_at >= s->since && e->created_at <= s->until &&
		(!s->has_kind || s->kind == e->kind) &&
		(!s->has_author || memcmp(s->author, e->pubkey, 32) == 0);
}

static int
cmp_oldest(const void *a, const void *b)
{
	const sim_event *x = *(sim_event * const *) a;
	const sim_event *y = *(sim_event * const *) b;

	return (x->created_at > y->created_at) - (x->created_at < y->created_at);
}

static run_result
run(sim_relay *relay, int64_t start, int64_t end, int64_t limit, const int32_t *kinds, size_t nk)
{
	sync_window_config cfg = {start, end, limit, kinds, nk, 0, 0, 0, 0, relay->hints != 0, 0};
	sync_window *sw = sync_window_new(&cfg);
	bool	   *collected = calloc(relay->n + 1, sizeof(bool));
	const sim_event **by_time = malloc((relay->n + 1) * sizeof(sim_event *));
	size_t		passed = 0;		/* by_time[0 .. passed) are at or below the cursor */
	sync_request req;
	run_result	res;
	int64_t		guard = 0;

	memset(&res, 0, sizeof(res));
	res.loop_bounded = true;
	relay->unrepresentative = 0;
	for (size_t i = 0; i < relay->n; i++)
		by_time[i] = &relay->ev[i];
	qsort(by_time, relay->n, sizeof(sim_event *), cmp_oldest);
	res.frontier_ok = true;
	while (sync_window_next(sw, &req))
	{
		int64_t		before = sync_window_cursor(sw);
		int64_t		frontier_before = sync_window_frontier(sw);
		int64_t		after;

		sim_request(relay, sw, &req, collected);
		after = sync_window_cursor(sw);
		if (after < before)
			res.cursor_went_back = true;
		if (sync_window_frontier(sw) < frontier_before || sync_window_frontier(sw) < after)
			res.frontier_ok = false;
		/*
		 * The cursor is stored as the session goes (a worker may be killed at any point): each
		 * event it passes must be collected by then. It never goes back (checked), so each event
		 * is looked at once, when the cursor first reaches it.
		 */
		for (; passed < relay->n && by_time[passed]->created_at <= after; passed++)
			if (wanted(by_time[passed], kinds, nk, start, end) && !collected[id_index(by_time[passed]->id)])
				res.passed_early = true;
		if (++guard > 200000)
		{
			res.loop_bounded = false;
			break;
		}
	}
	free(by_time);
	res.unrepresentative = relay->unrepresentative;
	res.requests = sync_window_get_stats(sw)->requests;
	res.cursor = sync_window_cursor(sw);
	res.given_up = sync_window_given_up(sw);
	res.shortfalls = (size_t) sync_window_get_stats(sw)->shortfalls;
	res.stats = *sync_window_get_stats(sw);
	if (sync_window_shortfall_count(sw) > 0)
		res.first_shortfall = *sync_window_shortfall_at(sw, 0);
	res.n_recorded = sync_window_shortfall_count(sw);
	res.cursor_below_shortfalls = true;
	for (size_t i = 0; i < res.n_recorded; i++)
	{
		res.recorded[i] = *sync_window_shortfall_at(sw, i);
		if (res.cursor >= res.recorded[i].since)
			res.cursor_below_shortfalls = false;
	}
	res.invariant_ok = !res.cursor_went_back && !res.passed_early;
	res.frontier = sync_window_frontier(sw);
	res.all_collected = true;
	for (size_t i = 0; i < relay->n; i++)
	{
		const sim_event *e = &relay->ev[i];
		bool		covered = false;

		if (!wanted(e, kinds, nk, start, end))
			continue;
		if (collected[i])
			continue;
		res.all_collected = false;
		res.missed++;
		for (size_t j = 0; j < res.n_recorded && !covered; j++)
			covered = shortfall_covers(&res.recorded[j], e);
		if (!covered)
			res.missed_uncovered++;

		/*
		 * The frontier may pass a missed event only when a recorded shortfall that a rescan must
		 * settle names it (never a "failed" one: the next cycle retries that from the frontier).
		 */
		if (e->created_at <= res.frontier && res.shortfalls <= SYNC_WINDOW_MAX_SHORTFALLS)
		{
			bool		settled = false;

			for (size_t j = 0; j < res.n_recorded && !settled; j++)
				settled = res.recorded[j].reason != SYNC_SHORTFALL_FAILED &&
					shortfall_covers(&res.recorded[j], e);
			if (!settled)
				res.frontier_ok = false;
		}
		if (e->created_at <= res.cursor)
		{
			res.invariant_ok = false;
			res.missed_below_cursor++;
		}
		if (getenv("SYNC_DEBUG") && (!covered || e->created_at <= res.cursor))
		{
			int64_t		same_second = 0,
						same_kind = 0;

			for (size_t j = 0; j < relay->n; j++)
				if (relay->ev[j].created_at == e->created_at)
				{
					same_second++;
					same_kind += relay->ev[j].kind == e->kind;
				}
			printf("# missing at %lld kind %d author %d, %s, %s (its second holds %lld events, %lld of its kind; "
				   "cursor %lld, limit %lld, %zu shortfalls, the first at %lld)\n",
				   (long long) (e->created_at - T0), e->kind, e->pubkey[0],
				   e->created_at <= res.cursor ? "at or below the cursor" : "above the cursor",
				   covered ? "in a reported shortfall" : "in no reported shortfall",
				   (long long) same_second, (long long) same_kind, (long long) (res.cursor - T0),
				   (long long) limit, res.shortfalls,
				   (long long) (res.n_recorded ? res.first_shortfall.since - T0 : 0));
		}
	}
	if (res.given_up)
		for (size_t j = 0; j < res.n_recorded; j++)
			if (res.recorded[j].reason == SYNC_SHORTFALL_FAILED && res.frontier >= res.recorded[j].since)
				res.frontier_ok = false;
	frontier_runs++;
	if (!res.frontier_ok)
		frontier_violations++;
	free(collected);
	sync_window_free(sw);
	return res;
}


/* n events spread uniformly over a year, kinds from a small set, a few authors. */
static sim_relay
spread_relay(size_t n, int nkinds, int nauthors)
{
	static const int32_t kinds[] = {1, 7, 0, 3, 6, 30023};
	sim_relay	r;

	memset(&r, 0, sizeof(r));
	r.ev = calloc(n + 1, sizeof(sim_event));
	r.n = n;
	for (size_t i = 0; i < n; i++)
		make_event(&r.ev[i], i, T0 + (int64_t) (rnd() % YEAR), kinds[rnd() % nkinds],
				   (int) (rnd() % nauthors));
	return r;
}

static void
expect_complete(const char *name, run_result res, int64_t end)
{
	CHECK(res.loop_bounded && res.all_collected && res.invariant_ok && res.shortfalls == 0 &&
		  !res.given_up && res.cursor == end,
		  "%s: every event collected, cursor at the end (%lld requests, %lld splits, %lld follow-ups, "
		  "%lld narrowed, %lld unproven, %lld events received)", name, (long long) res.requests, (long long) res.stats.splits,
		  (long long) res.stats.followups, (long long) res.stats.narrowed, (long long) res.stats.unproven, (long long) res.stats.events_received);
}

static void
honest_relays(void)
{
	sim_relay	r = spread_relay(20000, 3, 4);
	int64_t		end = T0 + YEAR;
	run_result	res;

	r.cap = 1000;
	res = run(&r, T0, end, 500, NULL, 0);
	expect_complete("honest, 20000 events over a year, limit 500, cap 1000", res, end);
	CHECK(res.requests < 200, "honest: at most a few requests per 500 events (%lld)", (long long) res.requests);

	r.cap = 100;
	res = run(&r, T0, end, 500, NULL, 0);
	expect_complete("silently capped at 100 with limit 500", res, end);
	CHECK(res.stats.proven_cap == 100, "the silent cap is proven to be 100 (%lld)", (long long) res.stats.proven_cap);

	r.cap = 0;
	r.ignore_limit = true;
	res = run(&r, T0, end, 500, NULL, 0);
	expect_complete("ignoring limit (answers everything)", res, end);
	CHECK(res.stats.answers_cut > 0, "... its answers beyond 10 x limit were cut (%lld), each handled as full",
		  (long long) res.stats.answers_cut);

	r.ignore_limit = false;
	r.shuffle = true;
	r.cap = 300;
	res = run(&r, T0, end, 500, NULL, 0);
	expect_complete("unsorted answers, capped at 300", res, end);

	/* from the epoch: decades of empty history must not cost a request per slice */
	r.shuffle = false;
	r.cap = 0;
	res = run(&r, 0, end, 500, NULL, 0);
	expect_complete("range from the epoch (empty history)", res, end);
	CHECK(res.requests < 120, "from the epoch: still a few requests per 500 events (%lld)", (long long) res.requests);

	/* the range starts mid-way: events before start are not wanted, nothing is missed after it */
	r.shuffle = false;
	r.cap = 0;
	res = run(&r, T0 + YEAR / 2, end, 500, NULL, 0);
	expect_complete("range starting mid-year (incremental)", res, end);
	free(r.ev);
}

static void
small_relays(void)
{
	sim_relay	r;
	run_result	res;

	memset(&r, 0, sizeof(r));
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("empty relay", res, T0 + YEAR);
	CHECK(res.requests == 1, "empty relay: one request (%lld)", (long long) res.requests);

	r = spread_relay(1, 1, 1);
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("one event, relay answering COUNT", res, T0 + YEAR);
	CHECK(res.requests <= 6, "one event: a handful of requests (%lld)", (long long) res.requests);
	/* without COUNT, nothing tells one event from a relay capping every answer at one */
	r.count = false;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.all_collected && res.invariant_ok && res.shortfalls == 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_UNPROVEN && res.cursor < r.ev[0].created_at,
		  "one event, no COUNT: collected, but its second is an unproven shortfall, cursor below it");
	free(r.ev);

	r = spread_relay(37, 2, 3);
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("37 events", res, T0 + YEAR);
	CHECK(res.requests == 2, "37 events: the answer and its follow-up proof (%lld)", (long long) res.requests);
	free(r.ev);
}

static void
ignoring_window(void)
{
	sim_relay	r = spread_relay(300, 3, 3);
	run_result	res;

	r.ignore_window = true;
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, 300 events, COUNT", res, T0 + YEAR);
	/* incremental range: the relay still sends the old events; they are data, the window is empty */
	res = run(&r, T0 + YEAR - 86400, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, last day only, COUNT", res, T0 + YEAR);
	/* without COUNT nothing proves that no kind is missing: shortfall, cursor held */
	r.count = false;
	res = run(&r, T0 + YEAR - 86400, T0 + YEAR, 500, NULL, 0);
	CHECK(res.invariant_ok && res.missed_uncovered == 0 && res.shortfalls >= 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_UNPROVEN && res.cursor < T0 + YEAR - 86400 + 1,
		  "ignores since/until, no COUNT: unproven shortfall, cursor held");
	free(r.ev);

	/* 3000 events: no single answer holds them, but each (kind, author) does */
	r = spread_relay(3000, 3, 3);
	r.ignore_window = true;
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, 3000 events over 3 kinds x 3 authors, COUNT", res, T0 + YEAR);
	CHECK(res.stats.narrowed > 0 && res.stats.count_proofs > 0, "... by narrowing (%lld), proven by COUNT (%lld)",
		  (long long) res.stats.narrowed, (long long) res.stats.count_proofs);
	free(r.ev);

	/* 3000 events of one kind and one author: unreachable beyond the newest 500, and said so */
	r = spread_relay(3000, 1, 1);
	r.ignore_window = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.loop_bounded && !res.all_collected && res.invariant_ok && res.shortfalls >= 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_OVERFLOW && res.cursor == T0 - 1,
		  "ignores since/until with 3000 events of one author: shortfall reported, cursor not advanced");
	free(r.ev);
}

static void
one_second(void)
{
	sim_relay	r = spread_relay(3000, 2, 2);
	int64_t		sec = T0 + YEAR / 3;
	run_result	res;

	/* 2000 events in one second: 4 kinds x 8 authors, 62 or 63 each */
	for (size_t i = 0; i < 2000; i++)
		make_event(&r.ev[i], i, sec, (int32_t) (i % 4) + 1, (int) ((i / 4) % 8) + 10);
	r.cap = 1000;
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("2000 events in one second (4 kinds x 8 authors), COUNT", res, T0 + YEAR);
	CHECK(res.stats.narrowed >= 1, "... narrowed (%lld)", (long long) res.stats.narrowed);

	r.cap = 100;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("2000 events in one second, relay capped at 100, COUNT", res, T0 + YEAR);

	r.count = false;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.all_collected && res.invariant_ok && res.shortfalls == 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_UNPROVEN && res.first_shortfall.since == sec &&
		  res.cursor == sec - 1,
		  "2000 events in one second, no COUNT: all collected, the second stays an unproven shortfall");
	CHECK(res.frontier == T0 + YEAR && res.frontier_ok,
		  "... while the frontier goes on to the end (the next cycle starts after it, the rescan retries "
		  "the second): frontier at end - %lld", (long long) (T0 + YEAR - res.frontier));

	/* one kind, one author: the second cannot be finished; everything else can */
	for (size_t i = 0; i < 2000; i++)
		make_event(&r.ev[i], i, sec, 1, 99);
	r.cap = 0;
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.loop_bounded && res.invariant_ok && res.shortfalls == 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_OVERFLOW && res.first_shortfall.since == sec &&
		  res.first_shortfall.until == sec && res.first_shortfall.counted == 2000 &&
		  res.missed_uncovered == 0 && res.cursor == sec - 1,
		  "2000 events of one author in one second: overflow shortfall at that second (COUNT 2000), cursor just below it");
	{
		bool		rest = true;
		bool	   *seen = calloc(r.n, sizeof(bool));
		sync_window_config cfg = {T0, T0 + YEAR, 500, NULL, 0, 0, 0, 0, 0, false, 0};
		sync_window *sw = sync_window_new(&cfg);
		sync_request req;

		while (sync_window_next(sw, &req))
			sim_request(&r, sw, &req, seen);
		for (size_t i = 2000; i < r.n; i++)
			rest = rest && seen[i];
		CHECK(rest, "... and every event outside that second was still collected");
		free(seen);
		sync_window_free(sw);
	}
	free(r.ev);
}

/*
 * The minimal case of issue 10 item 0: limit 10, 11 events in one second (5 of kind 1 and 5 of
 * kind 7 with the lowest ids, 1 of kind 3 with the highest): an honest relay's capped answer never
 * shows kind 3.
 */
static sim_relay
minimal_crowd(int64_t sec)
{
	sim_relay	r;

	memset(&r, 0, sizeof(r));
	r.ev = calloc(12, sizeof(sim_event));
	r.n = 11;
	for (size_t i = 0; i < 11; i++)
	{
		make_event(&r.ev[i], i, sec, i < 5 ? 1 : i < 10 ? 7 : 3, (int) i);
		r.ev[i].id[0] = (uint8_t) i;	/* ids ascending with i: the relay's tie order */
	}
	return r;
}

static void
arbitrary_subsets(void)
{
	int64_t		sec = T0 + 1000;
	sim_relay	r = minimal_crowd(sec);
	run_result	res;

	res = run(&r, T0, T0 + YEAR, 10, NULL, 0);
	CHECK(res.missed == 1 && res.missed_uncovered == 0 && res.invariant_ok && res.shortfalls == 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_UNPROVEN && res.first_shortfall.since == sec &&
		  res.cursor == sec - 1,
		  "11 events in one second, limit 10, kind 3 never shown, no COUNT: missed, but in an unproven shortfall, cursor below");
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 10, NULL, 0);
	CHECK(res.missed == 1 && res.missed_uncovered == 0 && res.shortfalls == 1 &&
		  res.first_shortfall.counted == 11 && res.first_shortfall.returned == 10 && res.cursor == sec - 1,
		  "... with COUNT: 10 of 11 counted, the second is a shortfall");
	r.hints = 2;				/* the archive knows about half of that second: kind 3 among them? */
	for (size_t i = 0; i < 11; i++)
		r.ev[i].id[0] = (uint8_t) (i == 10 ? 0 : 1);	/* hints mode 2 keeps even id[0]: the kind 3 */
	res = run(&r, T0, T0 + YEAR, 10, NULL, 0);
	expect_complete("... with COUNT and the archive knowing kind 3 at that second", res, T0 + YEAR);
	CHECK(res.stats.hint_requests == 1 && res.stats.count_proofs == 1, "... one hint request, one COUNT proof");
	r.count = false;
	res = run(&r, T0, T0 + YEAR, 10, NULL, 0);
	CHECK(res.all_collected && res.shortfalls == 1 && res.first_shortfall.reason == SYNC_SHORTFALL_UNPROVEN &&
		  res.cursor == sec - 1, "... with the archive's hint but no COUNT: all collected, still unproven");
	free(r.ev);

	/*
	 * 600 events in one second, 4 kinds x 15 authors, served as arbitrary capped subsets of 100:
	 * 4 kind pieces and 4 x 17 author pieces (15 + the 2 other authors known) fit the default 100
	 */
	r = spread_relay(3000, 2, 2);
	for (size_t i = 0; i < 600; i++)
		make_event(&r.ev[i], i, sec, (int32_t) (rnd() % 4) + 1, (int) (rnd() % 15) + 100);
	r.tie_random = true;
	for (int mode = 0; mode < 4; mode++)
	{
		r.count = mode & 1;
		r.hints = mode & 2 ? 1 : 0;
		res = run(&r, T0, T0 + YEAR, 100, NULL, 0);
		CHECK(res.invariant_ok && res.missed_uncovered == 0 && (res.shortfalls == 0) == (res.cursor == T0 + YEAR) &&
			  (!r.count || (res.all_collected && res.shortfalls == 0)) &&
			  (r.count || (res.shortfalls == 1 && res.first_shortfall.since == sec)),
			  "600 events in one second (4 kinds x 15 authors) as arbitrary subsets of 100 (COUNT %s, hints %s): %lld missed, all in "
			  "shortfalls; %lld requests, %lld shortfalls", r.count ? "yes" : "no", r.hints ? "yes" : "no",
			  (long long) res.missed, (long long) res.requests, (long long) res.shortfalls);
		if (getenv("SYNC_DEBUG") && res.shortfalls)
			printf("# reason %s since %lld until %lld returned %lld counted %lld kind %d\n",
				   sync_shortfall_reason_name(res.first_shortfall.reason), (long long) (res.first_shortfall.since - T0),
				   (long long) (res.first_shortfall.until - T0), (long long) res.first_shortfall.returned,
				   (long long) res.first_shortfall.counted, res.first_shortfall.has_kind ? res.first_shortfall.kind : -1);
	}
	/* a tight narrowing budget: fewer pieces than kinds x authors, never a silent miss */
	{
		sync_window_config cfg = {T0, T0 + YEAR, 100, NULL, 0, 0, 5, 0, 0, false, 0};
		sync_window *sw = sync_window_new(&cfg);
		bool	   *seen = calloc(r.n + 1, sizeof(bool));
		sync_request req;
		bool		covered = true;
		int64_t		narrowing = 0;

		r.count = true;
		while (sync_window_next(sw, &req))
		{
			narrowing += req.type == SYNC_REQ_EVENTS && req.since == sec && req.until == sec &&
				(req.kinds || req.has_author);
			sim_request(&r, sw, &req, seen);
		}
		for (size_t i = 0; i < r.n; i++)
			if (!seen[i])
			{
				bool		in = false;

				for (size_t j = 0; j < sync_window_shortfall_count(sw) && !in; j++)
					in = shortfall_covers(sync_window_shortfall_at(sw, j), &r.ev[i]);
				covered = covered && in;
			}
		CHECK(covered && narrowing <= 5 && sync_window_cursor(sw) == sec - 1,
			  "max_narrowing_keys 5: %lld narrowing requests for the crowded second, every missed event in a "
			  "shortfall, cursor below it", (long long) narrowing);
		free(seen);
		sync_window_free(sw);
	}
	free(r.ev);
}

static void
failing_relays(void)
{
	sim_relay	r = spread_relay(3000, 2, 3);
	run_result	res;

	r.never_eose = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.loop_bounded && res.given_up && res.invariant_ok && res.cursor == T0 - 1 &&
		  res.shortfalls == 1 && res.first_shortfall.reason == SYNC_SHORTFALL_FAILED &&
		  res.requests <= 6,
		  "never EOSE: given up after %lld requests, shortfall reported, cursor not advanced",
		  (long long) res.requests);
	CHECK(res.frontier == T0 - 1, "never EOSE: the frontier stays before the failed range too (retried next cycle)");

	r.never_eose = false;
	r.drop_after = 150;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("drops every answer after 150 events", res, T0 + YEAR);
	CHECK(res.stats.failures > 0, "... after %lld failed requests", (long long) res.stats.failures);

	r.drop_after = 1;
	r.n = 400;
	{
		int64_t		sec = T0 + 1000;

		for (size_t i = 0; i < 400; i++)
			r.ev[i].created_at = sec;	/* nothing smaller than one second to retreat to */
		res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
		CHECK(res.loop_bounded && res.given_up && res.invariant_ok && res.cursor < sec,
			  "drops after one event at a crowded second: given up, cursor below that second");
		/* narrowed requests fail: what is abandoned is everything from that second on, any kind */
		r.drop_after = 0;
		r.fail_narrowed = true;
		for (size_t i = 0; i < 400; i++)
			r.ev[i].kind = (int32_t) (i % 3);
		res = run(&r, T0, T0 + YEAR, 100, NULL, 0);
		CHECK(res.given_up && res.n_recorded == 1 && res.first_shortfall.reason == SYNC_SHORTFALL_FAILED &&
			  !res.first_shortfall.has_kind && !res.first_shortfall.has_author &&
			  res.first_shortfall.since == sec && res.first_shortfall.until == T0 + YEAR &&
			  res.missed_uncovered == 0 && res.cursor == sec - 1,
			  "given up while narrowing: the failed shortfall covers [that second, end], no kind or author");
	}
	free(r.ev);
}

static void
invalid_events(void)
{
	sim_relay	r = spread_relay(5000, 3, 3);
	run_result	res;

	for (size_t i = 0; i < r.n; i += 5)
		r.ev[i].valid = false;
	r.cap = 100;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("one event in five with a bad signature, cap 100", res, T0 + YEAR);
	free(r.ev);
}

static void
kinds_filter(void)
{
	sim_relay	r = spread_relay(4000, 3, 3);	/* kinds 1, 7, 0 */
	int32_t		kinds[2] = {1, 7};
	run_result	res;

	r.cap = 200;
	res = run(&r, T0, T0 + YEAR, 500, kinds, 2);
	expect_complete("kinds filter [1, 7], cap 200", res, T0 + YEAR);
	r.ignore_window = true;
	r.cap = 0;
	r.n = 400;
	r.count = true;
	res = run(&r, T0, T0 + YEAR, 500, kinds, 2);
	expect_complete("kinds filter, relay ignoring since/until, COUNT", res, T0 + YEAR);
	free(r.ev);
}

/* The most events (valid or not) one second of [start, end] holds. */
static int64_t
crowded_second(const sim_relay *r, int64_t start, int64_t end)
{
	int64_t		best = 0;
	int64_t    *t = malloc((r->n + 1) * sizeof(int64_t));
	size_t		m = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].created_at >= start && r->ev[i].created_at <= end)
			t[m++] = r->ev[i].created_at;
	for (size_t i = 0; i < m; i++)
	{
		int64_t		c = 0;

		for (size_t j = 0; j < m; j++)
			c += t[j] == t[i];
		if (c > best)
			best = c;
	}
	free(t);
	return best;
}

typedef struct sweep_round
{
	uint64_t	seed;			/* rng_state at the round's start: rng_state = seed replays it */
	size_t		n;
	int64_t		start;
	int64_t		limit;
	sim_relay	relay;
} sweep_round;

/* One random relay and session, drawn from rng_state (the draws the sweep has always made). */
static sweep_round
make_round(size_t max_events)
{
	static const int64_t caps[] = {0, 1, 7, 50, 100, 1000};
	static const int64_t limits[] = {10, 100, 500};
	sweep_round w;

	w.seed = rng_state;
	w.n = rnd() % max_events;
	w.relay = spread_relay(w.n, 1 + (int) (rnd() % 3), 1 + (int) (rnd() % 4));
	w.start = T0 + (int64_t) (rnd() % 2) * (YEAR / 2);
	/* clusters: some events share a few seconds */
	for (size_t i = 0; i < w.n; i++)
		if (rnd() % 4 == 0)
			w.relay.ev[i].created_at = T0 + YEAR / 2 + (int64_t) (rnd() % 3);
	for (size_t i = 0; i < w.n; i++)
		if (rnd() % 10 == 0)
			w.relay.ev[i].valid = false;
	w.relay.cap = caps[rnd() % 6];
	w.relay.ignore_window = rnd() % 5 == 0;
	w.relay.ignore_limit = rnd() % 5 == 0;
	w.relay.shuffle = rnd() % 2 == 0;
	w.relay.drop_after = rnd() % 6 == 0 ? (int64_t) (1 + rnd() % 300) : 0;
	w.limit = limits[rnd() % 3];
	/* drawn after the old draws, so old seeds still replay the same relay, now with these */
	w.relay.tie_random = rnd() % 2 == 0;
	w.relay.count = rnd() % 2 == 0;
	w.relay.hints = (int) (rnd() % 3);
	return w;
}

/*
 * What the algorithm guarantees for every simulated relay (sync_window.h, design.md section 6). The
 * simulated relays select the newest matching events (within one second by id, or, tie_random, an
 * arbitrary subset), honour since/until unless they ignore the window, answer at most min(limit
 * unless they ignore it, cap) events, and may answer COUNT honestly.
 *
 *  - The session ends; the cursor never moves back, stays in [start - 1, end] and below every
 *    reported shortfall, and reaches end exactly when no shortfall was reported; a session given up
 *    reports a "failed" shortfall.
 *  - The cursor invariant: after every answer, every wanted event at or below the cursor has been
 *    collected.
 *  - Every wanted event not collected lies in a reported shortfall (checked when every shortfall
 *    was recorded, i.e. at most SYNC_WINDOW_MAX_SHORTFALLS).
 *  - "Clean": a relay honouring since/until and ending every answer with EOSE, no second of which
 *    holds as many events as limit or its cap, is collected completely; with COUNT, also without
 *    any shortfall (cursor at the end). Without COUNT a second the relay answered with its largest
 *    answer yet cannot be proven (a silent cap at that size looks the same): a shortfall.
 */
typedef struct sweep_tally
{
	int			rounds;
	int			bad_common;		/* broke one of the always-true rules */
	int			invariant_broken;
	int			uncovered;		/* sessions with a missed event in no reported shortfall */
	int			uncheckable;	/* sessions with more shortfalls than recorded */
	int			narrowed;		/* sessions that narrowed a window */
	int			unrepresentative;	/* ... that narrowed a capped answer lacking a kind or author */
	int			count_proofs;	/* sessions with a window proven by COUNT */
	int			clean;
	int			clean_collected;
	int			clean_count;	/* clean sessions of relays answering COUNT */
	int			clean_count_complete;
	int64_t		missed;			/* events not collected, all in reported shortfalls */
} sweep_tally;

static void
check_round(const char *sweep, int round, size_t max_events, const sweep_round *w, const run_result *res,
			sweep_tally *t)
{
	const sim_relay *r = &w->relay;
	int64_t		end = T0 + YEAR;
	int64_t		clean_bound = w->limit;
	int64_t		crowd = crowded_second(r, w->start, end);
	bool		all_recorded = res->n_recorded == (size_t) res->stats.shortfalls;
	bool		common;
	bool		bad = false;

	if (r->cap > 0 && r->cap < clean_bound)
		clean_bound = r->cap;
	t->rounds++;
	common = res->loop_bounded && !res->cursor_went_back && res->cursor >= w->start - 1 &&
		res->cursor <= end && res->cursor_below_shortfalls &&
		(res->cursor == end) == (res->shortfalls == 0) &&
		(!res->given_up || !all_recorded ||
		 (res->n_recorded > 0 && res->recorded[res->n_recorded - 1].reason == SYNC_SHORTFALL_FAILED));
	if (!common)
		t->bad_common++, bad = true;
	if (!res->invariant_ok)
		t->invariant_broken++, bad = true;
	if (!all_recorded)
		t->uncheckable++;
	else if (res->missed_uncovered > 0)
		t->uncovered++, bad = true;
	t->missed += res->missed;
	t->narrowed += res->stats.narrowed > 0;
	t->unrepresentative += res->unrepresentative > 0;
	t->count_proofs += res->stats.count_proofs > 0;
	if (!r->ignore_window && r->drop_after == 0 && !r->never_eose && crowd < clean_bound)
	{
		t->clean++;
		if (res->all_collected)
			t->clean_collected++;
		else
			bad = true;
		if (r->count)
		{
			t->clean_count++;
			if (res->all_collected && res->shortfalls == 0 && !res->given_up && res->cursor == end)
				t->clean_count_complete++;
			else
				bad = true;
		}
	}
	if (bad && (t->bad_common + t->invariant_broken + t->uncovered <= 3 || getenv("SYNC_DEBUG")))
		printf("# %s round %d (SYNC_REPLAY=0x%016llx,%zu) broke a guarantee: %zu events, limit %lld, cap %lld%s%s%s%s%s%s, "
			   "hints %d, %lld in the most crowded second, %lld missed (%lld in no shortfall, %lld at or below the "
			   "cursor), %lld narrowed, %zu shortfalls\n",
			   sweep, round, (unsigned long long) w->seed, max_events, w->n, (long long) w->limit,
			   (long long) r->cap, r->ignore_window ? ", ignores since/until" : "",
			   r->ignore_limit ? ", ignores limit" : "", r->shuffle ? ", unsorted" : "",
			   r->drop_after ? ", drops" : "", r->tie_random ? ", arbitrary subsets" : "",
			   r->count ? ", COUNT" : "", r->hints, (long long) crowd, (long long) res->missed,
			   (long long) res->missed_uncovered, (long long) res->missed_below_cursor,
			   (long long) res->stats.narrowed, res->shortfalls);
}

static void
report_sweep(const char *sweep, const sweep_tally *t)
{
	CHECK(t->bad_common == 0,
		  "%s: in all %d sessions the loop ended, the cursor never went back, stayed below every shortfall "
		  "and reached the end exactly when none was reported (%d did not)", sweep, t->rounds, t->bad_common);
	CHECK(t->invariant_broken == 0,
		  "%s: the cursor never passed a missing event in any of the %d sessions (%d narrowed, %d after a capped "
		  "answer lacking a kind or author; %d bad)", sweep, t->rounds, t->narrowed, t->unrepresentative,
		  t->invariant_broken);
	CHECK(t->uncovered == 0,
		  "%s: every one of the %lld events missed lies in a reported shortfall (%d sessions did not; %d with more "
		  "shortfalls than recorded)", sweep, (long long) t->missed, t->uncovered, t->uncheckable);
	CHECK(t->clean > 0 && t->clean_collected == t->clean,
		  "%s: every relay honouring since/until and EOSE with fewer events per second than one answer "
		  "is collected completely (%d of %d)", sweep, t->clean_collected, t->clean);
	CHECK(t->clean_count > 0 && t->clean_count_complete == t->clean_count,
		  "%s: ... and, answering COUNT, without a shortfall (%d of %d; %d sessions proved a window by COUNT)",
		  sweep, t->clean_count_complete, t->clean_count, t->count_proofs);
}

/* Random relays: whatever they do, the cursor never passes a missing event, and none is missed silently. */
static void
random_sweep(void)
{
	sweep_tally tally = {0};

	for (int round = 0; round < 300; round++)
	{
		sweep_round w = make_round(1500);
		run_result	res = run(&w.relay, w.start, T0 + YEAR, w.limit, NULL, 0);

		check_round("random relays", round, 1500, &w, &res, &tally);
		free(w.relay.ev);
	}
	report_sweep("random relays", &tally);
}

/*
 * Small random relays (under 60 events), where one answer often holds a whole second or the whole
 * relay, so narrowing complete answers is common; each round has its own seed.
 */
static void
small_random_sweep(void)
{
	sweep_tally tally = {0};

	for (int round = 0; round < 3000; round++)
	{
		sweep_round w;
		run_result	res;

		rng_state = 0x9E3779B97F4A7C15ULL * (uint64_t) (round + 1) ^ 0x5DEECE66DULL;
		w = make_round(60);
		res = run(&w.relay, w.start, T0 + YEAR, w.limit, NULL, 0);
		check_round("small random relays", round, 60, &w, &res, &tally);
		free(w.relay.ev);
	}
	report_sweep("small random relays", &tally);
}

/* SYNC_REPLAY=seed,max_events: one round of a sweep alone, with every missed event printed. */
static bool
replay_round(void)
{
	const char *spec = getenv("SYNC_REPLAY");
	const char *comma;
	sweep_tally tally = {0};
	sweep_round w;
	run_result	res;
	size_t		max_events;

	if (spec == NULL)
		return false;
	comma = strchr(spec, ',');
	max_events = comma ? (size_t) strtoull(comma + 1, NULL, 10) : 1500;
	rng_state = strtoull(spec, NULL, 0);
	w = make_round(max_events ? max_events : 1500);
	setenv("SYNC_DEBUG", "1", 1);
	res = run(&w.relay, w.start, T0 + YEAR, w.limit, NULL, 0);
	check_round("replay", 0, max_events, &w, &res, &tally);
	free(w.relay.ev);
	return true;
}

void
test_sync_window(void)
{
	if (replay_round())
		return;
	honest_relays();
	small_relays();
	ignoring_window();
	one_second();
	arbitrary_subsets();
	failing_relays();
	invalid_events();
	kinds_filter();
	random_sweep();
	small_random_sweep();
	{
		/* holds: a permanent one lets the frontier pass, a retried one stops it too */
		sync_window_config cfg = {T0, T0 + 100, 10, NULL, 0, 0, 0, 0, 0, false, 0};
		sync_window *sw = sync_window_new(&cfg);
		sync_request req;
		uint8_t		id[32] = {1};

		while (sync_window_next(sw, &req))
			sync_window_answer(sw, true);	/* an empty relay */
		sync_window_hold(sw, SYNC_SHORTFALL_UNSTORABLE, T0 + 50, id, false);
		CHECK(sync_window_cursor(sw) == T0 + 49 && sync_window_frontier(sw) == T0 + 100,
			  "hold without retry: cursor below it, frontier at the end");
		sync_window_hold(sw, SYNC_SHORTFALL_UNSTORABLE, T0 + 70, id, true);
		CHECK(sync_window_cursor(sw) == T0 + 49 && sync_window_frontier(sw) == T0 + 69,
			  "hold with retry: the frontier stops below it too");
		sync_window_free(sw);
	}
	{
		/* an incremental cycle: three new events in one second, COUNT unsupported */
		sim_relay	r;
		int64_t		sec = T0 + 100;

		memset(&r, 0, sizeof(r));
		r.ev = calloc(4, sizeof(sim_event));
		r.n = 3;
		for (size_t i = 0; i < 3; i++)
			make_event(&r.ev[i], i, sec, 1, (int) i);
		for (int known = 0; known <= 1; known++)
		{
			sync_window_config cfg = {T0, T0 + 200, 500, NULL, 0, 0, 0, 0, 0, false, known ? 500 : 0};
			sync_window *sw = sync_window_new(&cfg);
			bool		seen[4] = {false};
			sync_request req;

			while (sync_window_next(sw, &req))
				sim_request(&r, sw, &req, seen);
			if (known)
				CHECK(seen[0] && seen[1] && seen[2] && sync_window_get_stats(sw)->shortfalls == 0 &&
					  sync_window_cursor(sw) == T0 + 200 && sync_window_get_stats(sw)->requests == 1 &&
					  sync_window_largest_answer(sw) == 500,
					  "a cap of 500 shown by an earlier session: 3 new events in one second complete in one "
					  "request (%lld), cursor at the end", (long long) sync_window_get_stats(sw)->requests);
			else
				CHECK(seen[0] && seen[1] && seen[2] && sync_window_get_stats(sw)->unproven == 1 &&
					  sync_window_cursor(sw) < sec,
					  "... without it the small answer proves nothing: an unproven second, cursor below it");
			sync_window_free(sw);
		}
		free(r.ev);
	}
	CHECK(frontier_violations == 0,
		  "frontier: in all %lld sessions it never went back, stayed at or above the cursor, passed no "
		  "missed event outside a recorded shortfall a rescan settles, and stopped before a failed one "
		  "(%lld violations)", (long long) frontier_runs, (long long) frontier_violations);
}
