/*
 * test_sync_window.c: the synchronizer's window algorithm against simulated relays (honest, capped
 * silently, ignoring since/until or limit, unsorted, thousands of events in one second, never
 * sending EOSE, dropping mid-answer, sending bad signatures) and a randomized sweep. Every case checks
 * the cursor invariant (every event at or below the cursor was collected) and that a session without
 * a reported shortfall collected everything.
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
	take = n;
	if (!relay->ignore_limit && (int64_t) take > r->limit)
		take = (size_t) r->limit;
	if (relay->cap > 0 && (int64_t) take > relay->cap)
		take = (size_t) relay->cap;
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
		sync_window_event(sw, sel[i]->id, sel[i]->pubkey, sel[i]->created_at, sel[i]->kind,
						  sel[i]->valid);
		if (sel[i]->valid)
			collected[id_index(sel[i]->id)] = true;
	}
	free(sel);
	sync_window_answer(sw, !relay->never_eose);
}

typedef struct run_result
{
	int64_t		requests;
	int64_t		cursor;
	bool		given_up;
	size_t		shortfalls;
	bool		invariant_ok;	/* every event at or below the cursor collected */
	bool		all_collected;	/* every wanted event in [start, end] collected */
	bool		loop_bounded;
	bool		cursor_went_back;
	sync_window_stats stats;
	sync_shortfall first_shortfall;
} run_result;

static bool
wanted(const sim_event *e, const int32_t *kinds, size_t nk, int64_t start, int64_t end)
{
	bool		ok = nk == 0;

	for (size_t i = 0; i < nk; i++)
		if (kinds[i] == e->kind)
			ok = true;
	return ok && e->valid && e->created_at >= start && e->created_at <= end;
}

static run_result
run(sim_relay *relay, int64_t start, int64_t end, int64_t limit, const int32_t *kinds, size_t nk)
{
	sync_window_config cfg = {start, end, limit, kinds, nk, 0};
	sync_window *sw = sync_window_new(&cfg);
	bool	   *collected = calloc(relay->n + 1, sizeof(bool));
	sync_request req;
	run_result	res;
	int64_t		guard = 0;

	memset(&res, 0, sizeof(res));
	res.loop_bounded = true;
	while (sync_window_next(sw, &req))
	{
		int64_t		before = sync_window_cursor(sw);

		sim_answer(relay, sw, &req, collected);
		if (sync_window_cursor(sw) < before)
			res.cursor_went_back = true;
		if (++guard > 200000)
		{
			res.loop_bounded = false;
			break;
		}
	}
	res.requests = sync_window_get_stats(sw)->requests;
	res.cursor = sync_window_cursor(sw);
	res.given_up = sync_window_given_up(sw);
	res.shortfalls = (size_t) sync_window_get_stats(sw)->shortfalls;
	res.stats = *sync_window_get_stats(sw);
	if (sync_window_shortfall_count(sw) > 0)
		res.first_shortfall = *sync_window_shortfall_at(sw, 0);
	res.invariant_ok = !res.cursor_went_back;
	res.all_collected = true;
	for (size_t i = 0; i < relay->n; i++)
	{
		const sim_event *e = &relay->ev[i];

		if (!wanted(e, kinds, nk, start, end))
			continue;
		if (!collected[i])
		{
			res.all_collected = false;
			if (e->created_at <= res.cursor)
			{
				res.invariant_ok = false;
				if (getenv("SYNC_DEBUG"))
					printf("# missing at %lld kind %d author %d (cursor %lld, limit %lld, shortfall at %lld)\n",
						   (long long) (e->created_at - T0), e->kind, e->pubkey[0], (long long) (res.cursor - T0),
						   (long long) limit, (long long) (res.first_shortfall.since - T0));
			}
		}
	}
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
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("one event", res, T0 + YEAR);
	CHECK(res.requests <= 6, "one event: a handful of requests (%lld)", (long long) res.requests);
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
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, 300 events", res, T0 + YEAR);
	/* incremental range: the relay still sends the old events; they are data, the window is empty */
	res = run(&r, T0 + YEAR - 86400, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, last day only", res, T0 + YEAR);
	free(r.ev);

	/* 3000 events: no single answer holds them, but each (kind, author) does */
	r = spread_relay(3000, 3, 3);
	r.ignore_window = true;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("ignores since/until, 3000 events over 3 kinds x 3 authors", res, T0 + YEAR);
	CHECK(res.stats.narrowed > 0, "... by narrowing (%lld)", (long long) res.stats.narrowed);
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
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("2000 events in one second (4 kinds x 8 authors)", res, T0 + YEAR);
	CHECK(res.stats.narrowed >= 1, "... narrowed (%lld)", (long long) res.stats.narrowed);

	r.cap = 100;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	expect_complete("2000 events in one second, relay capped at 100", res, T0 + YEAR);

	/* one kind, one author: the second cannot be finished; everything else can */
	for (size_t i = 0; i < 2000; i++)
		make_event(&r.ev[i], i, sec, 1, 99);
	r.cap = 0;
	res = run(&r, T0, T0 + YEAR, 500, NULL, 0);
	CHECK(res.loop_bounded && res.invariant_ok && res.shortfalls == 1 &&
		  res.first_shortfall.reason == SYNC_SHORTFALL_OVERFLOW && res.first_shortfall.since == sec &&
		  res.first_shortfall.has_kind && res.first_shortfall.has_author && res.cursor == sec - 1,
		  "2000 events of one author in one second: shortfall at that second, cursor just below it");
	{
		bool		rest = true;
		bool	   *seen = calloc(r.n, sizeof(bool));
		sync_window_config cfg = {T0, T0 + YEAR, 500, NULL, 0, 0};
		sync_window *sw = sync_window_new(&cfg);
		sync_request req;

		while (sync_window_next(sw, &req))
			sim_answer(&r, sw, &req, seen);
		for (size_t i = 2000; i < r.n; i++)
			rest = rest && seen[i];
		CHECK(rest, "... and every event outside that second was still collected");
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
	res = run(&r, T0, T0 + YEAR, 500, kinds, 2);
	expect_complete("kinds filter, relay ignoring since/until", res, T0 + YEAR);
	free(r.ev);
}

/* Random relays: whatever they do, the cursor never passes a missing event. */
static void
random_sweep(void)
{
	static const int64_t caps[] = {0, 1, 7, 50, 100, 1000};
	static const int64_t limits[] = {10, 100, 500};
	int			invariant_failures = 0,
				unbounded = 0,
				silent_misses = 0,
				complete_runs = 0,
				narrowed_runs = 0;

	for (int round = 0; round < 300; round++)
	{
		size_t		n = rnd() % 1500;
		sim_relay	r = spread_relay(n, 1 + (int) (rnd() % 3), 1 + (int) (rnd() % 4));
		int64_t		start = T0 + (int64_t) (rnd() % 2) * (YEAR / 2);
		run_result	res;

		/* clusters: some events share a few seconds */
		for (size_t i = 0; i < n; i++)
			if (rnd() % 4 == 0)
				r.ev[i].created_at = T0 + YEAR / 2 + (int64_t) (rnd() % 3);
		for (size_t i = 0; i < n; i++)
			if (rnd() % 10 == 0)
				r.ev[i].valid = false;
		r.cap = caps[rnd() % 6];
		r.ignore_window = rnd() % 5 == 0;
		r.ignore_limit = rnd() % 5 == 0;
		r.shuffle = rnd() % 2 == 0;
		r.drop_after = rnd() % 6 == 0 ? (int64_t) (1 + rnd() % 300) : 0;
		res = run(&r, start, T0 + YEAR, limits[rnd() % 3], NULL, 0);
		/*
		 * A one-second window finished by narrowing is complete for the kinds and authors its
		 * answers showed; others cannot be asked for with NIP-01 filters (a documented limit), so
		 * those sessions are checked by the explicit cases above, not here.
		 */
		if (res.stats.narrowed > 0 && !r.ignore_window)
		{
			narrowed_runs++;
			free(r.ev);
			continue;
		}
		if (!res.invariant_ok)
		{
			invariant_failures++;
			if (getenv("SYNC_DEBUG"))
				printf("# round %d: n=%zu cap=%lld iw=%d il=%d sh=%d drop=%lld\n", round, n, (long long) r.cap,
					   r.ignore_window, r.ignore_limit, r.shuffle, (long long) r.drop_after);
		}
		if (!res.loop_bounded)
			unbounded++;
		if (res.shortfalls == 0 && !res.given_up && !res.all_collected)
			silent_misses++;
		if (res.all_collected && res.cursor == T0 + YEAR)
			complete_runs++;
		free(r.ev);
	}
	CHECK(invariant_failures == 0, "random relays: the cursor never passed a missing event (%d bad)",
		  invariant_failures);
	CHECK(unbounded == 0, "random relays: every session ended (%d did not)", unbounded);
	CHECK(silent_misses == 0, "random relays: nothing missed without a shortfall (%d silent)", silent_misses);
	CHECK(complete_runs > 60, "random relays: most sessions complete (%d of 300, %d set aside as narrowed)",
		  complete_runs, narrowed_runs);
}

void
test_sync_window(void)
{
	honest_relays();
	small_relays();
	ignoring_window();
	one_second();
	failing_relays();
	invalid_events();
	kinds_filter();
	random_sweep();
}
