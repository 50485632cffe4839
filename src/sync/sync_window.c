/*
 * sync_window.c: the synchronizer's time-window algorithm (see sync_window.h for the rules and
 * their proofs). Pending windows are a stack whose top is always the oldest, so the cursor is simply
 * "just before the oldest window not yet complete", frozen below the first shortfall.
 */
#include "sync/sync_window.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_FAILURES 6
#define DEFAULT_MAX_KEYS 100
#define DEFAULT_MAX_KNOWN 1024

/* A bound the cursor (or the frontier) may not pass: set once, then only lowered. */
typedef struct sw_freeze
{
	bool		on;
	int64_t		at;
} sw_freeze;

typedef enum sw_item_type
{
	ITEM_WINDOW,				/* a window to ask */
	ITEM_PROVE					/* the narrowed group's proof, below its pieces on the stack */
} sw_item_type;

typedef struct sw_item
{
	sw_item_type type;
	int64_t		since;
	int64_t		until;
	bool		has_kind;
	int32_t		kind;
	bool		has_author;
	uint8_t		author[32];
	bool		time_useless;	/* the relay ignores since/until: narrow, never split */
	int			attempts;		/* failed requests for this very window */
	/*
	 * The answer (below the limit) this window was carved out of, and how many of its events fell
	 * in this window: finding more here proves that answer was cut short by a silent cap.
	 */
	int64_t		parent_total;
	int64_t		parent_same;
} sw_item;

typedef struct sw_record
{
	uint8_t		id[32];
	uint8_t		pubkey[32];
	int64_t		created_at;
	int32_t		kind;
	bool		valid;
	bool		in_filter;
} sw_record;

typedef struct sw_answer
{
	sw_record  *recs;
	size_t		n;
	size_t		cap;
	int64_t		total;			/* every message for the subscription, parseable or not */
	int64_t		outside;		/* parsed events outside the asked filter */
	bool		truncated;		/* cut at max_answer events */
} sw_answer;

typedef enum sw_phase
{
	PHASE_IDLE,					/* nothing asked: next() pops a window */
	PHASE_MAIN,					/* the window itself was asked */
	PHASE_FOLLOWUP,				/* [since, oldest] of the main answer was asked */
	PHASE_HINTS,				/* waiting for the caller's archive hints */
	PHASE_COUNT					/* the group's COUNT was asked */
} sw_phase;

/* A set of 32-byte keys (ids, pubkeys: random, so their first bytes hash), at most max entries. */
typedef struct sw_keyset
{
	uint8_t    (*keys)[32];
	uint8_t    *used;
	size_t		cap;			/* slots, a power of two */
	size_t		n;
	size_t		max;
	bool		overflow;		/* an insert was refused */
} sw_keyset;

/*
 * The narrowed window in progress (one at a time: its pieces sit above its ITEM_PROVE on the
 * stack, so they are all done before it is popped). ids holds every distinct event received
 * that matches root's filter while the group is active.
 */
typedef struct sw_group
{
	bool		active;
	sw_item		root;
	bool		time_free;		/* the relay ignores since/until: COUNT and ids over all time */
	sw_keyset	ids;
	bool		overflowed;		/* a piece that could not be narrowed further still filled an answer */
	bool		any_valid;
	int			keys_used;
	bool		hints_done;
	int32_t    *hint_kinds;
	size_t		n_hint_kinds;
	uint8_t    (*hint_authors)[32];
	size_t		n_hint_authors;
} sw_group;

struct sync_window
{
	int64_t		start;
	int64_t		end;
	int64_t		limit;
	int32_t    *kinds;
	size_t		kinds_count;
	int			max_failures;
	int			max_keys;
	int64_t		max_answer;
	size_t		max_known;
	bool		want_hints;

	sw_item    *stack;
	size_t		depth;
	size_t		stack_cap;

	sw_item		item;			/* the window in progress */
	sw_phase	phase;
	int64_t		followup_until;
	int32_t		req_kind;		/* storage for a one-kind request */
	sync_request req;			/* the request in flight */

	sw_answer	cur;
	sw_answer	prev;			/* the main answer while its follow-up is in flight */

	int64_t		largest_answer; /* the relay's cap is at least this */
	int			consecutive_failures;
	bool		given_up;
	sw_freeze	cursor_freeze;	/* below the first shortfall: the cursor stops there */
	sw_freeze	frontier_freeze;	/* below a failed shortfall or a retried hold: the frontier too */

	sw_group	group;
	int			count_support;	/* -1 unknown, 0 no, 1 yes */
	int32_t    *known_kinds;
	size_t		n_known_kinds;
	sw_keyset	known_authors;
	bool		park_full;		/* PHASE_HINTS: the parked window's answer was full */
	bool		park_followup;	/* ... and it was a follow-up's (answers: prev, cur) */

	sync_window_stats stats;
	sync_shortfall shortfalls[SYNC_WINDOW_MAX_SHORTFALLS];
	size_t		n_shortfalls;
	bool		oom;
};

static bool
push(sync_window *sw, const sw_item *it)
{
	if (sw->depth == sw->stack_cap)
	{
		size_t		ncap = sw->stack_cap ? sw->stack_cap * 2 : 64;
		sw_item    *ns = realloc(sw->stack, ncap * sizeof(sw_item));

		if (ns == NULL)
		{
			sw->oom = true;
			return false;
		}
		sw->stack = ns;
		sw->stack_cap = ncap;
	}
	sw->stack[sw->depth++] = *it;
	return true;
}

static uint64_t
key_hash(const uint8_t k[32])
{
	uint64_t	h;

	memcpy(&h, k, sizeof(h));
	return h * 0x9E3779B97F4A7C15ULL;
}

/* 1: added, 0: already there, -1: full (or out of memory: also refused, never wrong). */
static int
keyset_add(sw_keyset *ks, const uint8_t k[32])
{
	size_t		i;

	if (ks->n + 1 > ks->cap / 2)
	{
		size_t		ncap = ks->cap ? ks->cap * 2 : 64;
		uint8_t    (*nk)[32];
		uint8_t    *nu;

		if (ks->n >= ks->max)
		{
			/* full: still answer "already there" for a known key */
			for (i = key_hash(k) & (ks->cap - 1); ks->cap && ks->used[i]; i = (i + 1) & (ks->cap - 1))
				if (memcmp(ks->keys[i], k, 32) == 0)
					return 0;
			ks->overflow = true;
			return -1;
		}
		nk = malloc(ncap * 32);
		nu = calloc(ncap, 1);
		if (nk == NULL || nu == NULL)
		{
			free(nk);
			free(nu);
			ks->overflow = true;
			return -1;
		}
		for (size_t j = 0; j < ks->cap; j++)
			if (ks->used[j])
			{
				for (i = key_hash(ks->keys[j]) & (ncap - 1); nu[i]; i = (i + 1) & (ncap - 1))
					;
				nu[i] = 1;
				memcpy(nk[i], ks->keys[j], 32);
			}
		free(ks->keys);
		free(ks->used);
		ks->keys = nk;
		ks->used = nu;
		ks->cap = ncap;
	}
	for (i = key_hash(k) & (ks->cap - 1); ks->used[i]; i = (i + 1) & (ks->cap - 1))
		if (memcmp(ks->keys[i], k, 32) == 0)
			return 0;
	ks->used[i] = 1;
	memcpy(ks->keys[i], k, 32);
	ks->n++;
	return 1;
}

static void
keyset_clear(sw_keyset *ks)
{
	free(ks->keys);
	free(ks->used);
	ks->keys = NULL;
	ks->used = NULL;
	ks->cap = 0;
	ks->n = 0;
	ks->overflow = false;
}

sync_window *
sync_window_new(const sync_window_config *config)
{
	sync_window *sw;

	if (config == NULL || config->limit < 1)
		return NULL;
	sw = calloc(1, sizeof(sync_window));
	if (sw == NULL)
		return NULL;
	sw->start = config->start;
	sw->end = config->end;
	sw->limit = config->limit;
	sw->max_failures = config->max_failures > 0 ? config->max_failures : DEFAULT_MAX_FAILURES;
	sw->max_keys = config->max_narrowing_keys > 0 ? config->max_narrowing_keys : DEFAULT_MAX_KEYS;
	sw->max_answer = config->max_answer > 0 ? config->max_answer : 10 * config->limit;
	if (sw->max_answer < config->limit)
		sw->max_answer = config->limit;
	sw->max_known = config->max_known > 0 ? config->max_known : DEFAULT_MAX_KNOWN;
	sw->want_hints = config->want_hints;
	sw->largest_answer = config->known_largest_answer > 0 ? config->known_largest_answer : 0;
	sw->count_support = -1;
	sw->known_authors.max = sw->max_known;
	sw->group.ids.max = SYNC_WINDOW_MAX_PROOF_IDS;
	sw->known_kinds = malloc(sw->max_known * sizeof(int32_t));
	sw->group.hint_kinds = malloc((size_t) sw->max_keys * sizeof(int32_t));
	sw->group.hint_authors = malloc((size_t) sw->max_keys * 32);
	if (!sw->known_kinds || !sw->group.hint_kinds ||
		!sw->group.hint_authors)
	{
		sync_window_free(sw);
		return NULL;
	}
	if (config->kinds && config->kinds_count > 0)
	{
		sw->kinds = malloc(config->kinds_count * sizeof(int32_t));
		if (sw->kinds == NULL)
		{
			sync_window_free(sw);
			return NULL;
		}
		memcpy(sw->kinds, config->kinds, config->kinds_count * sizeof(int32_t));
		sw->kinds_count = config->kinds_count;
	}
	if (sw->end >= sw->start)
	{
		sw_item		all = {0};

		all.since = sw->start;
		all.until = sw->end;
		if (!push(sw, &all))
		{
			sync_window_free(sw);
			return NULL;
		}
	}
	return sw;
}

void
sync_window_free(sync_window *sw)
{
	if (sw == NULL)
		return;
	free(sw->kinds);
	free(sw->stack);
	free(sw->cur.recs);
	free(sw->prev.recs);
	free(sw->known_kinds);
	keyset_clear(&sw->known_authors);
	keyset_clear(&sw->group.ids);
	free(sw->group.hint_kinds);
	free(sw->group.hint_authors);
	free(sw);
}

static bool
base_kind_ok(const sync_window *sw, int32_t kind)
{
	if (sw->kinds_count == 0)
		return true;
	for (size_t i = 0; i < sw->kinds_count; i++)
		if (sw->kinds[i] == kind)
			return true;
	return false;
}

static void
build_request(sync_window *sw)
{
	sync_request *r = &sw->req;

	memset(r, 0, sizeof(*r));
	r->type = SYNC_REQ_EVENTS;
	r->has_time = true;
	r->since = sw->item.since;
	r->until = sw->phase == PHASE_FOLLOWUP ? sw->followup_until : sw->item.until;
	r->limit = sw->limit;
	if (sw->item.has_kind)
	{
		sw->req_kind = sw->item.kind;
		r->kinds = &sw->req_kind;
		r->kinds_count = 1;
	}
	else if (sw->kinds_count > 0)
	{
		r->kinds = sw->kinds;
		r->kinds_count = sw->kinds_count;
	}
	r->has_author = sw->item.has_author;
	if (r->has_author)
		memcpy(r->author, sw->item.author, 32);
	r->followup = sw->phase == PHASE_FOLLOWUP;
	sw->cur.n = 0;
	sw->cur.total = 0;
	sw->cur.outside = 0;
	sw->cur.truncated = false;
	sw->stats.requests++;
	if (r->followup)
		sw->stats.followups++;
}

static void group_unproven(sync_window *sw, int64_t counted);

/* The group's COUNT: its root filter, over its second(s), or over all time for a relay ignoring them. */
static void
build_count(sync_window *sw)
{
	sync_request *r = &sw->req;
	const sw_item *g = &sw->group.root;

	memset(r, 0, sizeof(*r));
	r->type = SYNC_REQ_COUNT;
	r->has_time = !sw->group.time_free;
	r->since = g->since;
	r->until = g->until;
	r->limit = 0;
	if (g->has_kind)
	{
		sw->req_kind = g->kind;
		r->kinds = &sw->req_kind;
		r->kinds_count = 1;
	}
	else if (sw->kinds_count > 0)
	{
		r->kinds = sw->kinds;
		r->kinds_count = sw->kinds_count;
	}
	r->has_author = g->has_author;
	if (r->has_author)
		memcpy(r->author, g->author, 32);
	sw->stats.count_requests++;
}

static void
build_hints(sync_window *sw)
{
	sync_request *r = &sw->req;

	memset(r, 0, sizeof(*r));
	r->type = SYNC_REQ_HINTS;
	r->has_time = true;
	r->since = sw->group.root.since;
	r->until = sw->group.root.until;
	if (sw->kinds_count > 0)
	{
		r->kinds = sw->kinds;
		r->kinds_count = sw->kinds_count;
	}
	sw->stats.hint_requests++;
}

bool
sync_window_next(sync_window *sw, sync_request *out)
{
	for (;;)
	{
		if (sw->given_up || sw->oom)
			return false;
		if (sw->phase == PHASE_HINTS)
		{
			build_hints(sw);
			*out = sw->req;
			return true;
		}
		if (sw->phase == PHASE_COUNT)
		{
			build_count(sw);
			*out = sw->req;
			return true;
		}
		if (sw->phase == PHASE_IDLE)
		{
			if (sw->depth == 0)
				return false;
			sw->item = sw->stack[--sw->depth];
			if (sw->item.type == ITEM_PROVE)
			{
				/* every piece of the group is done: prove it, or say it is not proven */
				if (!sw->group.active)
					continue;
				if (sw->group.ids.overflow || sw->count_support == 0)
				{
					sw->phase = PHASE_COUNT;	/* for the cursor while reporting */
					group_unproven(sw, -1);
					continue;
				}
				sw->phase = PHASE_COUNT;
				continue;
			}
			sw->phase = PHASE_MAIN;
		}
		build_request(sw);
		*out = sw->req;
		return true;
	}
}

static bool
matches_request(const sync_window *sw, int64_t created_at, int32_t kind, const uint8_t pubkey[32])
{
	const sync_request *r = &sw->req;

	if (created_at < r->since || created_at > r->until)
		return false;
	if (sw->item.has_kind ? kind != sw->item.kind : !base_kind_ok(sw, kind))
		return false;
	if (r->has_author && memcmp(pubkey, r->author, 32) != 0)
		return false;
	return true;
}

static bool
matches_group(const sync_window *sw, int64_t created_at, int32_t kind, const uint8_t pubkey[32])
{
	const sw_item *g = &sw->group.root;

	if (!sw->group.time_free && (created_at < g->since || created_at > g->until))
		return false;
	if (g->has_kind ? kind != g->kind : !base_kind_ok(sw, kind))
		return false;
	return !g->has_author || memcmp(pubkey, g->author, 32) == 0;
}

/* Remembers a valid event's kind and author for narrowing later windows (bounded). */
static void
learn(sync_window *sw, int32_t kind, const uint8_t pubkey[32])
{
	size_t		i;

	if (!base_kind_ok(sw, kind))
		return;
	for (i = 0; i < sw->n_known_kinds && sw->known_kinds[i] != kind; i++)
		;
	if (i == sw->n_known_kinds && sw->n_known_kinds < sw->max_known)
		sw->known_kinds[sw->n_known_kinds++] = kind;
	(void) keyset_add(&sw->known_authors, pubkey);
}

bool
sync_window_event(sync_window *sw, const uint8_t id[32], const uint8_t pubkey[32],
				  int64_t created_at, int32_t kind, bool valid)
{
	sw_answer  *a = &sw->cur;
	sw_record  *rec;

	if (sw->phase != PHASE_MAIN && sw->phase != PHASE_FOLLOWUP)
		return true;
	a->total++;
	sw->stats.events_received++;
	if (valid)
	{
		learn(sw, kind, pubkey);
		if (sw->group.active && matches_group(sw, created_at, kind, pubkey))
			(void) keyset_add(&sw->group.ids, id);
	}
	if ((int64_t) a->n >= sw->max_answer)
	{
		/* far beyond the asked limit: the request ends here, handled as a full answer */
		if (!a->truncated)
			sw->stats.answers_cut++;
		a->truncated = true;
		return false;
	}
	if (a->n == a->cap)
	{
		size_t		ncap = a->cap ? a->cap * 2 : 256;
		sw_record  *nr = realloc(a->recs, ncap * sizeof(sw_record));

		if (nr == NULL)
		{
			sw->oom = true;
			return false;
		}
		a->recs = nr;
		a->cap = ncap;
	}
	rec = &a->recs[a->n++];
	memcpy(rec->id, id, 32);
	memcpy(rec->pubkey, pubkey, 32);
	rec->created_at = created_at;
	rec->kind = kind;
	rec->valid = valid;
	rec->in_filter = matches_request(sw, created_at, kind, pubkey);
	if (!rec->in_filter)
	{
		a->outside++;
		sw->stats.events_outside++;
	}
	return true;
}

void
sync_window_unparsed(sync_window *sw)
{
	if (sw->phase != PHASE_MAIN && sw->phase != PHASE_FOLLOWUP)
		return;
	sw->cur.total++;
	sw->stats.events_received++;
}

static void
freeze(sw_freeze *f, int64_t at)
{
	if (!f->on || at < f->at)
		f->at = at;
	f->on = true;
}

static void
report_shortfall(sync_window *sw, sync_shortfall_reason reason, const sw_item *it, int64_t until,
				 int64_t returned)
{
	sw->stats.shortfalls++;
	if (sw->n_shortfalls < SYNC_WINDOW_MAX_SHORTFALLS)
	{
		sync_shortfall *s = &sw->shortfalls[sw->n_shortfalls++];

		memset(s, 0, sizeof(*s));
		s->reason = reason;
		s->since = it->since;
		s->until = until;
		s->has_kind = it->has_kind;
		s->kind = it->kind;
		s->has_author = it->has_author;
		memcpy(s->author, it->author, 32);
		s->returned = returned;
		s->counted = -1;
	}
	freeze(&sw->cursor_freeze, it->since - 1);
	if (reason == SYNC_SHORTFALL_FAILED || reason == SYNC_SHORTFALL_REFUSED)
		freeze(&sw->frontier_freeze, it->since - 1);
}

static void
done_with_item(sync_window *sw)
{
	sw->phase = PHASE_IDLE;
}

/* Halves [since, until]; the older half ends on top of the stack. */
static void
split(sync_window *sw)
{
	sw_item		older = sw->item;
	sw_item		newer = sw->item;
	int64_t		mid = sw->item.since + (sw->item.until - sw->item.since) / 2;

	older.until = mid;
	newer.since = mid + 1;
	older.attempts = newer.attempts = 0;
	older.parent_total = newer.parent_total = 0;
	sw->stats.splits++;
	push(sw, &newer);
	push(sw, &older);
	done_with_item(sw);
}

#define NEAR_PIECES 16

/*
 * Splits a window whose answer was (or may have been) cut short. The answer's in-filter events span
 * [oldest, until] with n events; up to NEAR_PIECES pieces just below until are sized from that density
 * to hold about two thirds of an answer each, and whatever lies further back stays one piece (its
 * density is unknown: history may be empty or crowded). Only the number of requests depends on the
 * estimate; a piece that still overflows is split again, so correctness does not.
 */
static void
split_by_density(sync_window *sw, int64_t oldest, int64_t n, int64_t cap)
{
	int64_t		width;
	int64_t		hi = sw->item.until;
	int			pieces = 0;
	sw_item		it = sw->item;

	if (n <= 0 || oldest <= sw->item.since || cap < 2)
	{
		split(sw);
		return;
	}
	width = (int64_t) ((double) (sw->item.until - oldest + 1) * (double) (cap * 2 / 3) / (double) n);
	if (width < 1)
		width = 1;
	if (width >= (sw->item.until - sw->item.since + 1) / 2)
	{
		split(sw);
		return;
	}
	sw->stats.splits++;
	it.attempts = 0;
	it.parent_total = 0;
	/* newest piece first, so the oldest ends on top of the stack */
	while (hi >= sw->item.since && pieces < NEAR_PIECES)
	{
		it.until = hi;
		it.since = hi - width + 1 < sw->item.since ? sw->item.since : hi - width + 1;
		push(sw, &it);
		pieces++;
		hi = it.since - 1;
	}
	if (hi >= sw->item.since)
	{
		it.since = sw->item.since;
		it.until = hi;
		push(sw, &it);
	}
	done_with_item(sw);
}

/*
 * The answer sat entirely on second o: isolate it. (o, until] is asked again rather than assumed
 * empty, so nothing depends on the relay's selection here.
 */
static void
split_around(sync_window *sw, int64_t o)
{
	sw_item		it = sw->item;
	int64_t		total = sw->phase == PHASE_FOLLOWUP ? sw->prev.total : sw->cur.total;

	it.attempts = 0;
	it.parent_total = total < sw->limit ? total : 0;
	it.parent_same = 0;			/* the answer had nothing outside second o */
	sw->stats.splits++;
	if (o < sw->item.until)
	{
		it.since = o + 1;
		it.until = sw->item.until;
		push(sw, &it);
	}
	it.since = o;
	it.until = o;
	it.parent_total = 0;
	push(sw, &it);
	it.parent_total = total < sw->limit ? total : 0;
	if (o > sw->item.since)
	{
		it.since = sw->item.since;
		it.until = o - 1;
		push(sw, &it);
	}
	done_with_item(sw);
}

static int
cmp_kind(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

static int
cmp_key32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Collects distinct kinds (want_kind < 0) or distinct authors of one kind from the valid records. */
static size_t
distinct_values(sync_window *sw, const sw_answer *const *answers, int n_answers, bool authors,
				int32_t of_kind, void **out)
{
	size_t		total = 0,
				n = 0,
				width = authors ? 32 : sizeof(int32_t);
	uint8_t    *vals;

	for (int a = 0; a < n_answers; a++)
		total += answers[a]->n;
	*out = NULL;
	if (total == 0)
		return 0;
	vals = malloc(total * width);
	if (vals == NULL)
	{
		sw->oom = true;
		return 0;
	}
	for (int a = 0; a < n_answers; a++)
		for (size_t i = 0; i < answers[a]->n; i++)
		{
			const sw_record *r = &answers[a]->recs[i];

			if (!r->valid || !base_kind_ok(sw, r->kind))
				continue;
			if (authors)
			{
				if (r->kind != of_kind)
					continue;
				memcpy(vals + n * width, r->pubkey, 32);
			}
			else
				memcpy(vals + n * width, &r->kind, sizeof(int32_t));
			n++;
		}
	qsort(vals, n, width, authors ? cmp_key32 : cmp_kind);
	{
		size_t		u = 0;

		for (size_t i = 0; i < n; i++)
			if (u == 0 || memcmp(vals + (u - 1) * width, vals + i * width, width) != 0)
				memmove(vals + (u++) * width, vals + i * width, width);
		n = u;
	}
	*out = vals;
	return n;
}

/* Ends the group; its pieces are all done. */
static void
group_end(sync_window *sw)
{
	sw->group.active = false;
	keyset_clear(&sw->group.ids);
	sw->group.ids.max = SYNC_WINDOW_MAX_PROOF_IDS;
	done_with_item(sw);
}

/* The group is not proven complete: a shortfall over its root filter (one second, or the window). */
static void
group_unproven(sync_window *sw, int64_t counted)
{
	sw_group   *g = &sw->group;
	sync_shortfall_reason reason = !g->overflowed ? SYNC_SHORTFALL_UNPROVEN :
		g->any_valid ? SYNC_SHORTFALL_OVERFLOW : SYNC_SHORTFALL_NO_NARROWING;
	size_t		before = sw->n_shortfalls;

	sw->stats.unproven++;
	report_shortfall(sw, reason, &g->root, g->root.until, (int64_t) g->ids.n);
	if (sw->n_shortfalls > before)
		sw->shortfalls[before].counted = counted;
	group_end(sw);
}

/*
 * Starts the group for the window being narrowed: its proof item goes on the stack first, so its
 * pieces (pushed above it) are all done before it; the answers' events are its first ids.
 */
static void
start_group(sync_window *sw, const sw_answer *const *answers, int n_answers)
{
	sw_group   *g = &sw->group;
	sw_item		prove = sw->item;

	g->active = true;
	g->root = sw->item;
	g->root.type = ITEM_WINDOW;
	g->time_free = sw->item.time_useless;
	keyset_clear(&g->ids);
	g->ids.max = SYNC_WINDOW_MAX_PROOF_IDS;
	g->overflowed = false;
	g->any_valid = false;
	g->keys_used = 0;
	g->hints_done = false;
	g->n_hint_kinds = 0;
	g->n_hint_authors = 0;
	for (int a = 0; a < n_answers; a++)
		for (size_t i = 0; i < answers[a]->n; i++)
		{
			const sw_record *r = &answers[a]->recs[i];

			if (!r->valid)
				continue;
			if (matches_group(sw, r->created_at, r->kind, r->pubkey))
			{
				g->any_valid = true;
				(void) keyset_add(&g->ids, r->id);
			}
		}
	prove.type = ITEM_PROVE;
	prove.attempts = 0;
	push(sw, &prove);
}

/* The window cannot be narrowed further: its group learns whether it overflowed. */
static void
leaf(sync_window *sw, bool likely_full)
{
	/* A relay that ignores since/until gets no benefit of the doubt. */
	if (likely_full || sw->item.time_useless)
		sw->group.overflowed = true;
	done_with_item(sw);
}

/* Events of the main answer that a narrowed child's filter would match. */
static int64_t
count_same(const sw_answer *a, const sw_item *child)
{
	int64_t		n = 0;

	for (size_t i = 0; i < a->n; i++)
		if (a->recs[i].kind == child->kind &&
			(!child->has_author || memcmp(a->recs[i].pubkey, child->author, 32) == 0))
			n++;
	return n;
}

/*
 * The narrowing keys, at most max: the answers' own values first, then the archive's hints for the
 * group, then every value known for the relay. Returns the count; *more: some were left out.
 */
static size_t
gather_keys(sync_window *sw, const sw_answer *const *answers, int n_answers, bool authors,
			void *out, size_t max, bool *more)
{
	void	   *vals;
	size_t		width = authors ? 32 : sizeof(int32_t);
	size_t		n = 0;
	size_t		nv = distinct_values(sw, answers, n_answers, authors, sw->item.kind, &vals);
	uint8_t    *o = out;

	*more = false;
#define ADD_KEY(p) do { \
		bool dup_ = false; \
		for (size_t j_ = 0; j_ < n && !dup_; j_++) \
			dup_ = memcmp(o + j_ * width, (p), width) == 0; \
		if (!dup_) { if (n < max) { memcpy(o + n * width, (p), width); n++; } else *more = true; } \
	} while (0)
	for (size_t i = 0; i < nv; i++)
		ADD_KEY((uint8_t *) vals + i * width);
	free(vals);
	if (authors)
	{
		for (size_t i = 0; i < sw->group.n_hint_authors; i++)
			ADD_KEY(sw->group.hint_authors[i]);
		for (size_t i = 0; i < sw->known_authors.cap; i++)
			if (sw->known_authors.used[i])
				ADD_KEY(sw->known_authors.keys[i]);
	}
	else
	{
		for (size_t i = 0; i < sw->group.n_hint_kinds; i++)
			ADD_KEY(&sw->group.hint_kinds[i]);
		for (size_t i = 0; i < sw->n_known_kinds; i++)
			ADD_KEY(&sw->known_kinds[i]);
	}
#undef ADD_KEY
	return n;
}

/* Pushes the narrowed pieces of the current window (kinds, or authors of its kind). */
static void
narrow_finish(sync_window *sw)
{
	const sw_answer *answers[2];
	int			n_answers = 0;
	sw_item		child = sw->item;
	bool		full = sw->park_full;
	bool		more;
	size_t		budget = sw->group.keys_used < sw->max_keys ? (size_t) (sw->max_keys - sw->group.keys_used) : 0;
	size_t		n;
	void	   *keys;

	if (sw->park_followup)
		answers[n_answers++] = &sw->prev;
	answers[n_answers++] = &sw->cur;
	child.type = ITEM_WINDOW;
	child.attempts = 0;
	child.parent_total = answers[0]->total < sw->limit ? answers[0]->total : 0;
	keys = malloc((budget ? budget : 1) * 32);
	if (keys == NULL)
	{
		sw->oom = true;
		return;
	}
	if (!sw->item.has_kind)
	{
		n = gather_keys(sw, answers, n_answers, false, keys, budget, &more);
		if (n == 0)
		{
			free(keys);
			leaf(sw, full);
			return;
		}
		if (n > 1 || more)
		{
			for (size_t i = 0; i < n; i++)
			{
				child.has_kind = true;
				child.kind = ((int32_t *) keys)[i];
				child.parent_same = count_same(answers[0], &child);
				push(sw, &child);
			}
			sw->group.keys_used += (int) n;
			free(keys);
			sw->stats.narrowed++;
			done_with_item(sw);
			return;
		}
		/* One kind known at all: asking for it alone would bring the same answer; go to its authors. */
		sw->item.has_kind = true;
		sw->item.kind = ((int32_t *) keys)[0];
		child.has_kind = true;
		child.kind = sw->item.kind;
	}
	if (!sw->item.has_author)
	{
		n = gather_keys(sw, answers, n_answers, true, keys, budget, &more);
		if (n > 1 || (n == 1 && more))
		{
			for (size_t i = 0; i < n; i++)
			{
				child.has_author = true;
				memcpy(child.author, (uint8_t *) keys + i * 32, 32);
				child.parent_same = count_same(answers[0], &child);
				push(sw, &child);
			}
			sw->group.keys_used += (int) n;
			free(keys);
			sw->stats.narrowed++;
			done_with_item(sw);
			return;
		}
		if (n == 1)
		{
			sw->item.has_author = true;
			memcpy(sw->item.author, keys, 32);
		}
	}
	free(keys);
	leaf(sw, full);
}

/*
 * Narrows the window by every kind known, or, within one kind, by every author known. The first
 * window narrowed starts a group that ends with its proof; with archive hints wanted, the window
 * waits for them first (once per group).
 */
static void
narrow(sync_window *sw, bool likely_full, bool time_useless, const sw_answer *const *answers,
	   int n_answers)
{
	sw->item.time_useless = sw->item.time_useless || time_useless;
	if (!sw->group.active)
		start_group(sw, answers, n_answers);
	if (sw->oom)
		return;
	sw->park_full = likely_full;
	sw->park_followup = n_answers == 2;
	if (sw->want_hints && !sw->group.hints_done && !sw->group.time_free)
	{
		sw->phase = PHASE_HINTS;
		return;
	}
	narrow_finish(sw);
}

static void
fail(sync_window *sw)
{
	bool		brought_events = sw->cur.total > 0;
	bool		narrowed = sw->item.has_kind || sw->item.has_author || sw->item.time_useless;

	sw->stats.failures++;
	sw->consecutive_failures++;
	if (sw->consecutive_failures >= sw->max_failures)
	{
		/* everything from the oldest unfinished second to the end is abandoned: say exactly that */
		sw_item		abandoned = {0};

		abandoned.since = sw->item.since;
		if (sw->group.active && sw->group.root.since < abandoned.since)
			abandoned.since = sw->group.root.since;
		abandoned.until = sw->end;
		report_shortfall(sw, SYNC_SHORTFALL_FAILED, &abandoned, sw->end, sw->cur.total);
		sw->given_up = true;
		sw->depth = 0;
		sw->group.active = false;
		done_with_item(sw);
		return;
	}
	/* A drop after some events: smaller windows need fewer events and may get through. */
	if (brought_events && !narrowed && sw->item.since < sw->item.until)
	{
		split(sw);
		return;
	}
	sw->item.attempts++;
	push(sw, &sw->item);
	done_with_item(sw);
}

/* An answer of this size was cut short: the relay caps there (below the limit). */
static void
prove_cap(sync_window *sw, int64_t total)
{
	if (total > 0 && total < sw->limit && (sw->stats.proven_cap == 0 || total < sw->stats.proven_cap))
		sw->stats.proven_cap = total;
}

static bool
likely_full(const sync_window *sw, int64_t total)
{
	return total >= sw->limit || (sw->stats.proven_cap > 0 && total >= sw->stats.proven_cap);
}

static void
digest_main(sync_window *sw)
{
	sw_answer  *a = &sw->cur;
	int64_t		t = a->total;
	int64_t		cap_before = sw->largest_answer;
	bool		full = likely_full(sw, t) || a->truncated;
	const sw_answer *answers[1] = {a};
	int64_t		oldest = INT64_MAX,
				newest = INT64_MIN;

	if (t > sw->largest_answer)
		sw->largest_answer = t;
	if (sw->item.parent_total > 0)
	{
		int64_t		in_filter = 0;

		for (size_t i = 0; i < a->n; i++)
			in_filter += a->recs[i].in_filter;
		if (in_filter > sw->item.parent_same)
		{
			/* the parent answer lacked events it should have held: it was cut short */
			prove_cap(sw, sw->item.parent_total);
			full = likely_full(sw, t) || a->truncated;
		}
	}
	if (t == 0 || (!full && t < cap_before))
	{
		done_with_item(sw);
		return;
	}
	if (a->outside > 0 || sw->item.since == sw->item.until || sw->item.has_kind ||
		sw->item.has_author || sw->item.time_useless)
	{
		narrow(sw, full, a->outside > 0, answers, 1);
		return;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->recs[i].in_filter)
		{
			if (a->recs[i].created_at < oldest)
				oldest = a->recs[i].created_at;
			if (a->recs[i].created_at > newest)
				newest = a->recs[i].created_at;
		}
	if (oldest == INT64_MAX)
	{
		split(sw);				/* nothing parseable to reason about */
		return;
	}
	if (oldest == newest && (int64_t) a->n == t)
	{
		split_around(sw, oldest);
		return;
	}
	if (full)
	{
		int64_t		n_in = 0;

		for (size_t i = 0; i < a->n; i++)
			n_in += a->recs[i].in_filter;
		split_by_density(sw, oldest, n_in,
						 sw->stats.proven_cap > 0 && sw->stats.proven_cap < sw->limit ? sw->stats.proven_cap : sw->limit);
		return;
	}
	/* Below the limit but as large as anything seen: the relay may have a cap here. Prove it. */
	{
		sw_answer	tmp = sw->prev;

		sw->prev = sw->cur;
		sw->cur = tmp;
		qsort(sw->prev.recs, sw->prev.n, sizeof(sw_record), cmp_key32);
	}
	sw->followup_until = oldest;
	sw->phase = PHASE_FOLLOWUP;
}

static void
digest_followup(sync_window *sw)
{
	sw_answer  *f = &sw->cur;
	const sw_answer *r = &sw->prev;
	int64_t		cap_before = sw->largest_answer;	/* >= the main answer's size */
	int64_t		fresh = 0;
	const sw_answer *answers[2] = {r, f};

	if (f->total > sw->largest_answer)
		sw->largest_answer = f->total;
	if (f->outside > 0)
	{
		narrow(sw, f->truncated, true, answers, 2);
		return;
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->recs[i].in_filter &&
			bsearch(f->recs[i].id, r->recs, r->n, sizeof(sw_record), cmp_key32) == NULL)
			fresh++;
	if (fresh > 0)
		prove_cap(sw, r->total);	/* the main answer was cut short */
	if (f->total < cap_before)
	{
		done_with_item(sw);		/* [since, oldest] is all in hand; (oldest, until] was */
		return;
	}
	if (fresh == 0)
		split_around(sw, sw->followup_until);	/* the main answer sat on one second */
	else
		split_by_density(sw, sw->followup_until, r->total, r->total);
}

void
sync_window_answer(sync_window *sw, bool eose)
{
	if (sw->phase == PHASE_IDLE || sw->phase == PHASE_HINTS || sw->oom)
		return;
	if (sw->phase == PHASE_COUNT)
	{
		/* a COUNT lost with its connection proves nothing; it says nothing about support either */
		group_unproven(sw, -1);
		return;
	}
	if (!eose)
	{
		sw->phase = PHASE_MAIN;
		fail(sw);
		return;
	}
	sw->consecutive_failures = 0;
	if (sw->phase == PHASE_MAIN)
		digest_main(sw);
	else
		digest_followup(sw);
}

void
sync_window_resend(sync_window *sw)
{
	if (sw->phase != PHASE_MAIN && sw->phase != PHASE_FOLLOWUP)
		return;				/* a COUNT holds nothing yet; nothing else is in flight */
	/* what the refused attempt brought comes again: it is not part of the answer twice */
	sw->cur.n = 0;
	sw->cur.total = 0;
	sw->cur.outside = 0;
	sw->cur.truncated = false;
	sw->stats.resends++;
}

void
sync_window_refused(sync_window *sw)
{
	sw_item		refused = {0};

	if (sw->given_up || sw->oom || (sw->phase == PHASE_IDLE && sw->depth == 0))
		return;
	/* everything from the oldest unfinished second to the end, as for a relay given up */
	refused.since = sw->phase == PHASE_IDLE ? sw->end : sw->item.since;
	if (sw->group.active && sw->group.root.since < refused.since)
		refused.since = sw->group.root.since;
	for (size_t i = 0; i < sw->depth; i++)
		if (sw->stack[i].type != ITEM_PROVE && sw->stack[i].since < refused.since)
			refused.since = sw->stack[i].since;
	refused.until = sw->end;
	report_shortfall(sw, SYNC_SHORTFALL_REFUSED, &refused, sw->end, sw->cur.total);
	sw->depth = 0;
	sw->group.active = false;
	done_with_item(sw);
}

void
sync_window_count(sync_window *sw, bool answered, int64_t count)
{
	if (sw->phase != PHASE_COUNT || sw->oom)
		return;
	if (!answered)
	{
		if (sw->count_support < 0)
			sw->count_support = 0;
		group_unproven(sw, -1);
		return;
	}
	sw->count_support = 1;
	if (count >= 0 && (int64_t) sw->group.ids.n >= count)
	{
		sw->stats.count_proofs++;
		group_end(sw);
	}
	else
		group_unproven(sw, count);
}

void
sync_window_hints(sync_window *sw, const int32_t *kinds, size_t kinds_count,
				  const uint8_t (*authors)[32], size_t authors_count)
{
	sw_group   *g = &sw->group;

	if (sw->phase != PHASE_HINTS || sw->oom)
		return;
	g->n_hint_kinds = 0;
	g->n_hint_authors = 0;
	for (size_t i = 0; i < kinds_count && g->n_hint_kinds < (size_t) sw->max_keys; i++)
		if (base_kind_ok(sw, kinds[i]))
			g->hint_kinds[g->n_hint_kinds++] = kinds[i];
	for (size_t i = 0; i < authors_count && g->n_hint_authors < (size_t) sw->max_keys; i++)
		memcpy(g->hint_authors[g->n_hint_authors++], authors[i], 32);
	g->hints_done = true;
	sw->phase = sw->park_followup ? PHASE_FOLLOWUP : PHASE_MAIN;
	narrow_finish(sw);
}

void
sync_window_hold(sync_window *sw, sync_shortfall_reason reason, int64_t created_at, const uint8_t id[32],
				 bool retry)
{
	sw_item		one = {0};
	size_t		before = sw->n_shortfalls;

	one.since = created_at;
	one.until = created_at;
	report_shortfall(sw, reason, &one, created_at, 0);
	if (retry)
		freeze(&sw->frontier_freeze, created_at - 1);
	if (sw->n_shortfalls > before && id)
	{
		sw->shortfalls[before].has_id = true;
		memcpy(sw->shortfalls[before].id, id, 32);
	}
}

int
sync_window_count_support(const sync_window *sw)
{
	return sw->count_support;
}

/*
 * Just before the oldest second not yet finished (proven or recorded as a shortfall), held at the
 * freeze f, never below start - 1.
 */
static int64_t
bounded_cursor(const sync_window *sw, const sw_freeze *f)
{
	int64_t		c;

	if (sw->phase != PHASE_IDLE)
		c = sw->item.since - 1;
	else if (sw->depth > 0)
		c = sw->stack[sw->depth - 1].since - 1;
	else
		c = sw->end;
	if (sw->oom)
		c = sw->start - 1;		/* a window may have been lost: prove nothing */
	if (f->on && f->at < c)
		c = f->at;
	if (c < sw->start - 1)
		c = sw->start - 1;
	return c;
}

int64_t
sync_window_cursor(const sync_window *sw)
{
	return bounded_cursor(sw, &sw->cursor_freeze);
}

int64_t
sync_window_frontier(const sync_window *sw)
{
	return bounded_cursor(sw, &sw->frontier_freeze);
}

int64_t
sync_window_largest_answer(const sync_window *sw)
{
	return sw->largest_answer;
}

bool
sync_window_given_up(const sync_window *sw)
{
	return sw->given_up || sw->oom;
}

bool
sync_window_has_work(const sync_window *sw)
{
	return !sw->given_up && !sw->oom && (sw->phase != PHASE_IDLE || sw->depth > 0);
}

const sync_window_stats *
sync_window_get_stats(const sync_window *sw)
{
	return &sw->stats;
}

size_t
sync_window_shortfall_count(const sync_window *sw)
{
	return sw->n_shortfalls;
}

const sync_shortfall *
sync_window_shortfall_at(const sync_window *sw, size_t i)
{
	return i < sw->n_shortfalls ? &sw->shortfalls[i] : NULL;
}

const char *
sync_shortfall_reason_name(sync_shortfall_reason reason)
{
	switch (reason)
	{
		case SYNC_SHORTFALL_OVERFLOW:
			return "overflow";
		case SYNC_SHORTFALL_NO_NARROWING:
			return "no_narrowing";
		case SYNC_SHORTFALL_FAILED:
			return "failed";
		case SYNC_SHORTFALL_UNPROVEN:
			return "unproven";
		case SYNC_SHORTFALL_UNSTORABLE:
			return "unstorable";
		case SYNC_SHORTFALL_REFUSED:
			return "refused";
	}
	return "unknown";
}
