/*
 * neg_phase.c: a relay session's NIP-77 negentropy phase (see neg_phase.h): chunks of the range,
 * NEG-OPEN / NEG-MSG rounds over the archive's items, the queue of needed ids (linked by the
 * caller or fetched with REQ {"ids"}), the cursor and frontier they justify, and the fallback.
 */
#include "sync/neg_phase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/buf.h"
#include "nostr/message.h"
#include "sync/relay_etiquette.h"

#define DEFAULT_MAX_ITEMS 100000
#define MAX_DROPS 3
#define FETCH_ATTEMPTS 2		/* answers an id may be missing from before it is "not served" */

typedef enum ChunkState
{
	CH_NEED_ITEMS,				/* waiting for the caller's items */
	CH_WAIT_OPEN,				/* items here, connection not open */
	CH_RECONCILING,				/* NEG rounds running (a message in flight or held) */
	CH_RECONCILED,				/* reconciliation done: the queue drains */
	CH_WAIT_AUTH,				/* NEG-OPEN refused "auth-required": the session authenticates */
	CH_WAIT_RETRY,				/* NEG-OPEN refused "rate-limited": asked again at retry_at_ms */
	CH_DONE						/* the phase is over */
} ChunkState;

typedef struct NeedId
{
	uint8_t		id[32];
	uint8_t		attempts;		/* fetch answers it was missing from */
} NeedId;

/* A FIFO of ids: items [head, len) are queued. */
typedef struct IdQueue
{
	NeedId	   *v;
	size_t		head;
	size_t		len;
	size_t		cap;
} IdQueue;

struct NegPhase
{
	NegPhaseConfig cfg;
	int32_t    *kinds;
	neg_send_fn send;
	void	   *send_arg;

	NegPhaseStatus status;
	const char *reason;
	char		detail[256];

	ChunkState	chunk;
	bool		connected;
	int64_t		span;			/* chunk length in seconds (halved by "too many records") */
	size_t		max_items;
	int64_t		chunk_since;
	int64_t		chunk_until;
	bool		chunk_not_served;	/* a needed id of this chunk was not served */
	uint8_t		first_missing[32];
	int64_t		chunk_missing;

	neg_item   *items;			/* this chunk's archive items (kept for a restart after a drop) */
	size_t		n_items;
	negentropy *neg;
	unsigned	counter;
	char		neg_sub[24];
	bool		neg_in_flight;	/* a NEG message awaits its answer */
	bool		open_in_flight; /* ... and it is the NEG-OPEN */
	int64_t		neg_deadline_ms;
	char	   *held;			/* the next NEG-MSG, held while the queue is full */
	size_t		held_len;

	IdQueue		to_link;		/* needed, not yet given to the caller */
	size_t		given;			/* to_link entries handed out by neg_phase_need */
	uint8_t		(*pack)[32];	/* their ids, packed for the caller */
	size_t		pack_cap;
	IdQueue		to_fetch;		/* missing from the archive */
	NeedId	   *fetch;			/* the REQ in flight, sorted by id */
	bool	   *got;
	size_t		n_fetch;
	size_t		n_got;
	char		fetch_sub[24];
	bool		fetch_in_flight;
	int64_t		fetch_deadline_ms;

	int64_t		cursor;
	int64_t		frontier;
	bool		cursor_stuck;	/* a shortfall of the phase holds the cursor */
	int64_t		hold_cursor;	/* cursor and frontier never pass these (INT64_MAX: none) */
	int64_t		hold_frontier;

	NegShortfall shortfalls[NEG_PHASE_MAX_SHORTFALLS];
	size_t		n_shortfalls;
	int64_t		shortfalls_total;
	NegPhaseStats stats;

	bool		auth_tried;		/* NEG-OPEN was re-sent after an AUTH once */
	int			rate_limited;	/* NEG-OPENs refused "rate-limited" in a row */
	int64_t		retry_at_ms;
};

#define MAX_RATE_LIMITED 4		/* backoffs of 1, 2, 4, 8 s, then fallback */

/* ---- messages (NIP-77 text forms) ---- */

static bool
send_text(NegPhase *np, char *text, size_t len, bool neg)
{
	bool		ok;

	if (text == NULL)
	{
		np->status = NEG_PHASE_OUT_OF_MEMORY;
		return false;
	}
	if (neg)
		np->stats.bytes_out += (int64_t) len;
	ok = np->send(np->send_arg, text, len);
	free(text);
	return ok;
}

/* ["NEG-OPEN", sub, {since, until, kinds}, hex] */
static char *
neg_open_text(NegPhase *np, const uint8_t *msg, size_t msg_len, size_t *len)
{
	nostr_filter f;
	nostr_error err;

	memset(&f, 0, sizeof(f));
	f.kinds = np->kinds;
	f.kinds_count = np->cfg.kinds_count;
	f.has_since = true;
	f.since = np->chunk_since;
	f.has_until = true;
	f.until = np->chunk_until;
	return nostr_build_neg_open(np->neg_sub, &f, msg, msg_len, len, &err);
}

static char *
neg_msg_text(NegPhase *np, const uint8_t *msg, size_t msg_len, size_t *len)
{
	nostr_error err;

	return nostr_build_neg_msg(np->neg_sub, msg, msg_len, len, &err);
}

static char *
neg_close_text(NegPhase *np, size_t *len)
{
	nostr_error err;

	return nostr_build_neg_close(np->neg_sub, len, &err);
}

static void
send_neg_close(NegPhase *np)
{
	size_t		len = 0;
	char	   *text;

	if (!np->connected)
		return;
	text = neg_close_text(np, &len);
	(void) send_text(np, text, len, true);
}

static void
send_fetch_close(NegPhase *np)
{
	nostr_error err;
	size_t		len = 0;
	char	   *text;

	if (!np->connected)
		return;
	text = nostr_build_close(np->fetch_sub, &len, &err);
	(void) send_text(np, text, len, false);
}

/* ---- id queues ---- */

static bool
queue_push(IdQueue *q, const uint8_t id[32], uint8_t attempts)
{
	if (q->head > 0 && q->head == q->len)
		q->head = q->len = 0;
	if (q->len == q->cap)
	{
		size_t		live = q->len - q->head;

		if (q->head > q->cap / 2)
		{
			memmove(q->v, q->v + q->head, live * sizeof(NeedId));
			q->head = 0;
			q->len = live;
		}
		else
		{
			size_t		ncap = q->cap ? q->cap * 2 : 256;
			NeedId	   *nv = realloc(q->v, ncap * sizeof(NeedId));

			if (nv == NULL)
				return false;
			q->v = nv;
			q->cap = ncap;
		}
	}
	memcpy(q->v[q->len].id, id, 32);
	q->v[q->len].attempts = attempts;
	q->len++;
	return true;
}

static size_t
queue_size(const IdQueue *q)
{
	return q->len - q->head;
}

static void
queue_clear(IdQueue *q)
{
	q->head = q->len = 0;
	if (q->cap > 4096)
	{
		free(q->v);
		q->v = NULL;
		q->cap = 0;
	}
}

static size_t
queued(const NegPhase *np)
{
	return queue_size(&np->to_link) + queue_size(&np->to_fetch) + (np->n_fetch - np->n_got);
}

/* ---- shortfalls, cursor ---- */

static void
add_shortfall(NegPhase *np, const char *reason, int64_t since, int64_t until, int64_t returned,
			  const uint8_t *id)
{
	np->shortfalls_total++;
	if (np->n_shortfalls < NEG_PHASE_MAX_SHORTFALLS)
	{
		NegShortfall *s = &np->shortfalls[np->n_shortfalls++];

		s->reason = reason;
		s->since = since;
		s->until = until;
		s->returned = returned;
		s->has_id = id != NULL;
		if (id)
			memcpy(s->id, id, 32);
	}
}

static void
fall_back(NegPhase *np, const char *reason, const char *detail)
{
	if (np->status != NEG_PHASE_RUNNING)
		return;
	np->status = NEG_PHASE_FALLBACK;
	np->reason = reason;
	snprintf(np->detail, sizeof(np->detail), "%s", detail ? detail : "");
	if (np->fetch_in_flight)
		send_fetch_close(np);
	np->fetch_in_flight = false;
	np->chunk = CH_DONE;
	neg_free(np->neg);
	np->neg = NULL;
	free(np->held);
	np->held = NULL;
	free(np->items);
	np->items = NULL;
	np->n_items = 0;
	queue_clear(&np->to_link);
	queue_clear(&np->to_fetch);
	np->given = 0;
}

static void start_fetch(NegPhase *np, int64_t now_ms);
static void release_held(NegPhase *np, int64_t now_ms);

/* The chunk is finished when reconciliation is done and no needed id waits. */
static void
maybe_chunk_done(NegPhase *np)
{
	if (np->status != NEG_PHASE_RUNNING || np->chunk != CH_RECONCILED || queued(np) > 0 ||
		np->fetch_in_flight)
		return;
	if (np->chunk_not_served)
	{
		add_shortfall(np, "not_served", np->chunk_since, np->chunk_until, np->chunk_missing,
					  np->first_missing);
		np->cursor_stuck = true;
	}
	if (!np->cursor_stuck)
		np->cursor = np->chunk_until;
	np->frontier = np->chunk_until;
	np->stats.chunks++;
	neg_free(np->neg);
	np->neg = NULL;
	free(np->items);
	np->items = NULL;
	np->n_items = 0;
	np->chunk_not_served = false;
	np->chunk_missing = 0;
	if (np->chunk_until >= np->cfg.end)
	{
		np->status = NEG_PHASE_COMPLETE;
		np->chunk = CH_DONE;
		return;
	}
	np->chunk_since = np->chunk_until + 1;
	np->chunk = CH_NEED_ITEMS;
}

/* ---- reconciliation ---- */

static void
on_have(void *arg, const uint8_t id[32])
{
	NegPhase   *np = arg;

	np->stats.ids_have++;
	(void) id;
}

static void
on_need(void *arg, const uint8_t id[32])
{
	NegPhase   *np = arg;

	np->stats.ids_needed++;
	if (!queue_push(&np->to_link, id, 0))
		np->status = NEG_PHASE_OUT_OF_MEMORY;
}

static void
open_chunk(NegPhase *np, int64_t now_ms)
{
	nostr_error err;
	nostr_buf	out;
	char	   *text;
	size_t		len;

	neg_free(np->neg);
	np->neg = neg_new(np->items, np->n_items, np->cfg.frame_limit, &err);
	if (np->neg == NULL)
	{
		np->status = NEG_PHASE_OUT_OF_MEMORY;
		return;
	}
	nostr_buf_init(&out);
	if (neg_initiate(np->neg, &out, &err) != NOSTR_OK || out.failed)
	{
		nostr_buf_free(&out);
		np->status = NEG_PHASE_OUT_OF_MEMORY;
		return;
	}
	snprintf(np->neg_sub, sizeof(np->neg_sub), "bbneg%u", ++np->counter);
	text = neg_open_text(np, (const uint8_t *) out.data, out.len, &len);
	nostr_buf_free(&out);
	np->chunk = CH_RECONCILING;
	np->neg_in_flight = true;
	np->open_in_flight = true;
	np->neg_deadline_ms = now_ms + np->cfg.request_timeout_ms;
	np->stats.rounds++;
	(void) send_text(np, text, len, true);
}

static void
reconcile(NegPhase *np, const uint8_t *msg, size_t msg_len, int64_t now_ms)
{
	nostr_error err;
	nostr_buf	out;
	bool		done = false;

	nostr_buf_init(&out);
	if (neg_reconcile(np->neg, msg, msg_len, &out, &done, on_have, on_need, np, &err) != NOSTR_OK)
	{
		nostr_buf_free(&out);
		fall_back(np, "bad_message", err.message);
		return;
	}
	if (out.failed || np->status != NEG_PHASE_RUNNING)
	{
		nostr_buf_free(&out);
		if (np->status == NEG_PHASE_RUNNING)
			np->status = NEG_PHASE_OUT_OF_MEMORY;
		return;
	}
	if (done || out.len == 0)
	{
		nostr_buf_free(&out);
		send_neg_close(np);
		np->chunk = CH_RECONCILED;
	}
	else
	{
		size_t		len;

		np->held = neg_msg_text(np, (const uint8_t *) out.data, out.len, &len);
		np->held_len = len;
		nostr_buf_free(&out);
		if (np->held == NULL)
		{
			np->status = NEG_PHASE_OUT_OF_MEMORY;
			return;
		}
		release_held(np, now_ms);
	}
	start_fetch(np, now_ms);
	maybe_chunk_done(np);
}

/* Sends the held NEG-MSG once the queue of needed ids is below its bound. */
static void
release_held(NegPhase *np, int64_t now_ms)
{
	char	   *text = np->held;

	if (text == NULL || !np->connected || queued(np) > np->cfg.max_queued)
		return;
	np->held = NULL;
	np->neg_in_flight = true;
	np->neg_deadline_ms = now_ms + np->cfg.request_timeout_ms;
	np->stats.rounds++;
	(void) send_text(np, text, np->held_len, true);
}

/* ---- fetching ---- */

static int
cmp_need(const void *a, const void *b)
{
	return memcmp(((const NeedId *) a)->id, ((const NeedId *) b)->id, 32);
}

static void
start_fetch(NegPhase *np, int64_t now_ms)
{
	size_t		n = queue_size(&np->to_fetch);
	uint8_t		(*ids)[32];
	nostr_filter f;
	nostr_error err;
	size_t		len;
	char	   *text;

	if (np->fetch_in_flight || n == 0 || !np->connected || np->status != NEG_PHASE_RUNNING)
		return;
	/* a full batch, or no more ids coming soon (none to link, no NEG answer awaited) */
	if (n < (size_t) np->cfg.fetch_batch && (queue_size(&np->to_link) > 0 || np->neg_in_flight))
		return;
	if (n > (size_t) np->cfg.fetch_batch)
		n = (size_t) np->cfg.fetch_batch;
	np->fetch = malloc(n * sizeof(NeedId));
	np->got = calloc(n, sizeof(bool));
	ids = malloc(n * 32);
	if (np->fetch == NULL || np->got == NULL || ids == NULL)
	{
		free(ids);
		np->status = NEG_PHASE_OUT_OF_MEMORY;
		return;
	}
	memcpy(np->fetch, np->to_fetch.v + np->to_fetch.head, n * sizeof(NeedId));
	np->to_fetch.head += n;
	qsort(np->fetch, n, sizeof(NeedId), cmp_need);
	for (size_t i = 0; i < n; i++)
		memcpy(ids[i], np->fetch[i].id, 32);
	np->n_fetch = n;
	np->n_got = 0;
	memset(&f, 0, sizeof(f));
	f.ids = (const uint8_t (*)[32]) ids;
	f.ids_count = n;
	snprintf(np->fetch_sub, sizeof(np->fetch_sub), "bbids%u", ++np->counter);
	text = nostr_build_req(np->fetch_sub, &f, 1, &len, &err);
	free(ids);
	np->fetch_in_flight = true;
	np->fetch_deadline_ms = now_ms + np->cfg.request_timeout_ms;
	np->stats.fetch_requests++;
	(void) send_text(np, text, len, false);
}

/* The fetch request ended (EOSE, or failed): missing ids go back to the queue or are not served. */
static void
fetch_ended(NegPhase *np, int64_t now_ms)
{
	for (size_t i = 0; i < np->n_fetch; i++)
	{
		NeedId	   *e = &np->fetch[i];

		if (np->got[i])
			continue;
		if (++e->attempts >= FETCH_ATTEMPTS)
		{
			np->stats.not_served++;
			if (!np->chunk_not_served)
				memcpy(np->first_missing, e->id, 32);
			np->chunk_not_served = true;
			np->chunk_missing++;
		}
		else if (!queue_push(&np->to_fetch, e->id, e->attempts))
			np->status = NEG_PHASE_OUT_OF_MEMORY;
	}
	free(np->fetch);
	free(np->got);
	np->fetch = NULL;
	np->got = NULL;
	np->n_fetch = np->n_got = 0;
	np->fetch_in_flight = false;
	start_fetch(np, now_ms);
	release_held(np, now_ms);
	maybe_chunk_done(np);
}

/* ---- public ---- */

NegPhase *
neg_phase_new(const NegPhaseConfig *config, neg_send_fn send, void *send_arg)
{
	NegPhase   *np = calloc(1, sizeof(NegPhase));

	if (np == NULL || config->fetch_batch < 1)
	{
		free(np);
		return NULL;
	}
	np->cfg = *config;
	if (config->kinds && config->kinds_count > 0)
	{
		np->kinds = malloc(config->kinds_count * sizeof(int32_t));
		if (np->kinds == NULL)
		{
			free(np);
			return NULL;
		}
		memcpy(np->kinds, config->kinds, config->kinds_count * sizeof(int32_t));
	}
	else
		np->cfg.kinds_count = 0;
	np->cfg.kinds = NULL;
	if (np->cfg.max_queued == 0)
		np->cfg.max_queued = (size_t) (4 * config->fetch_batch);
	if (np->cfg.request_timeout_ms <= 0)
		np->cfg.request_timeout_ms = 30000;
	np->max_items = config->max_items > 0 ? config->max_items : DEFAULT_MAX_ITEMS;
	np->send = send;
	np->send_arg = send_arg;
	np->status = NEG_PHASE_RUNNING;
	np->reason = "";
	np->span = config->end >= config->start ? config->end - config->start + 1 : 1;
	np->chunk_since = config->start;
	np->chunk = CH_NEED_ITEMS;
	np->cursor = config->start - 1;
	np->frontier = config->start - 1;
	np->hold_cursor = INT64_MAX;
	np->hold_frontier = INT64_MAX;
	if (config->end < config->start)
	{
		np->status = NEG_PHASE_COMPLETE;
		np->chunk = CH_DONE;
	}
	return np;
}

void
neg_phase_free(NegPhase *np)
{
	if (np == NULL)
		return;
	neg_free(np->neg);
	free(np->held);
	free(np->items);
	free(np->to_link.v);
	free(np->to_fetch.v);
	free(np->fetch);
	free(np->got);
	free(np->kinds);
	free(np->pack);
	free(np);
}

void
neg_phase_open(NegPhase *np, int64_t now_ms)
{
	np->connected = true;
	if (np->status != NEG_PHASE_RUNNING)
		return;
	if (np->chunk == CH_WAIT_OPEN)
		open_chunk(np, now_ms);
	start_fetch(np, now_ms);
}

void
neg_phase_dropped(NegPhase *np)
{
	np->connected = false;
	if (np->status != NEG_PHASE_RUNNING)
		return;
	np->stats.drops++;
	if (np->stats.drops >= MAX_DROPS)
	{
		fall_back(np, "dropped", "connection lost during reconciliation");
		return;
	}
	/* the fetch in flight is asked again; the chunk's reconciliation restarts from its items */
	if (np->fetch_in_flight)
	{
		for (size_t i = 0; i < np->n_fetch; i++)
			if (!np->got[i] && !queue_push(&np->to_fetch, np->fetch[i].id, np->fetch[i].attempts))
				np->status = NEG_PHASE_OUT_OF_MEMORY;
		free(np->fetch);
		free(np->got);
		np->fetch = NULL;
		np->got = NULL;
		np->n_fetch = np->n_got = 0;
		np->fetch_in_flight = false;
	}
	if (np->chunk == CH_RECONCILING || np->chunk == CH_WAIT_AUTH || np->chunk == CH_WAIT_RETRY)
	{
		/* ids already queued stay queued; the rounds start over (needs found again are harmless) */
		free(np->held);
		np->held = NULL;
		np->neg_in_flight = false;
		np->open_in_flight = false;
		np->chunk = CH_WAIT_OPEN;
	}
}

bool
neg_phase_items_wanted(const NegPhase *np, int64_t *since, int64_t *until, size_t *max)
{
	int64_t		u;

	if (np->status != NEG_PHASE_RUNNING || np->chunk != CH_NEED_ITEMS)
		return false;
	u = np->chunk_since + np->span - 1;
	if (u > np->cfg.end || u < np->chunk_since)
		u = np->cfg.end;
	*since = np->chunk_since;
	*until = u;
	*max = np->max_items;
	return true;
}

void
neg_phase_give_items(NegPhase *np, const neg_item *items, size_t count, int64_t now_ms)
{
	int64_t		since,
				until;
	size_t		max;

	if (!neg_phase_items_wanted(np, &since, &until, &max))
		return;
	if (count > max)
		count = max;
	if (count == max && max > 0)
	{
		/* there may be more: the chunk ends before the last second reached (never split a second) */
		int64_t		last = (int64_t) items[count - 1].timestamp;

		if (last <= since)
		{
			fall_back(np, "crowded_second", "one second holds more archive items than the chunk size");
			return;
		}
		until = last - 1;
		while (count > 0 && (int64_t) items[count - 1].timestamp > until)
			count--;
	}
	free(np->items);
	np->items = malloc(count > 0 ? count * sizeof(neg_item) : 1);
	if (np->items == NULL)
	{
		np->status = NEG_PHASE_OUT_OF_MEMORY;
		return;
	}
	memcpy(np->items, items, count * sizeof(neg_item));
	np->n_items = neg_items_sort(np->items, count);
	np->chunk_until = until;
	np->chunk = CH_WAIT_OPEN;
	if (np->connected)
		open_chunk(np, now_ms);
}

size_t
neg_phase_need(NegPhase *np, const uint8_t (**ids)[32], size_t max)
{
	size_t		n = queue_size(&np->to_link);

	*ids = NULL;
	if (np->status != NEG_PHASE_RUNNING || n == 0)
		return 0;
	if (n > max)
		n = max;
	if (n > np->pack_cap)
	{
		uint8_t		(*p)[32] = realloc(np->pack, n * 32);

		if (p == NULL)
		{
			np->status = NEG_PHASE_OUT_OF_MEMORY;
			return 0;
		}
		np->pack = p;
		np->pack_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(np->pack[i], np->to_link.v[np->to_link.head + i].id, 32);
	np->given = n;
	*ids = (const uint8_t (*)[32]) np->pack;
	return n;
}

void
neg_phase_linked(NegPhase *np, size_t n, const uint8_t (*missing)[32], size_t n_missing, int64_t now_ms)
{
	if (np->status != NEG_PHASE_RUNNING)
		return;
	if (n > np->given)
		n = np->given;
	np->to_link.head += n;
	np->given = 0;
	np->stats.linked += (int64_t) (n >= n_missing ? n - n_missing : 0);
	for (size_t i = 0; i < n_missing; i++)
		if (!queue_push(&np->to_fetch, missing[i], 0))
		{
			np->status = NEG_PHASE_OUT_OF_MEMORY;
			return;
		}
	start_fetch(np, now_ms);
	release_held(np, now_ms);
	maybe_chunk_done(np);
}

/* Whether sub_id is the phase's negentropy subscription / its fetch in flight. */
static bool
is_neg_sub(const NegPhase *np, const char *sub_id)
{
	return np->status == NEG_PHASE_RUNNING && sub_id && strcmp(sub_id, np->neg_sub) == 0;
}

static bool
is_fetch_sub(const NegPhase *np, const char *sub_id)
{
	return np->status == NEG_PHASE_RUNNING && np->fetch_in_flight && sub_id &&
		strcmp(sub_id, np->fetch_sub) == 0;
}

bool
neg_phase_neg_msg(NegPhase *np, const char *sub_id, const uint8_t *msg, size_t len, size_t wire_len,
				  int64_t now_ms)
{
	if (!is_neg_sub(np, sub_id) || !np->neg_in_flight || np->chunk != CH_RECONCILING)
		return false;
	np->stats.bytes_in += (int64_t) wire_len;
	np->neg_in_flight = false;
	np->open_in_flight = false;
	np->rate_limited = 0;
	reconcile(np, msg, len, now_ms);
	return true;
}

bool
neg_phase_neg_err(NegPhase *np, const char *sub_id, const char *reason, size_t wire_len, int64_t now_ms)
{
	if (!is_neg_sub(np, sub_id))
		return false;
	np->stats.bytes_in += (int64_t) wire_len;
	np->neg_in_flight = false;
	np->open_in_flight = false;
	if (strncmp(reason, "auth-required:", 14) == 0 && !np->auth_tried)
	{
		/* NIP-42 through the session's AUTH step, then NEG-OPEN once more */
		np->auth_tried = true;
		np->chunk = CH_WAIT_AUTH;
		return true;
	}
	if (strncmp(reason, "rate-limited:", 13) == 0 && np->rate_limited < MAX_RATE_LIMITED)
	{
		np->stats.rate_limited++;
		/* the session's backoff rule; the phase has no budget of its own (the relay's ends it) */
		np->retry_at_ms = now_ms + relay_etiquette_backoff_ms(np->rate_limited++, INT64_MAX);
		np->chunk = CH_WAIT_RETRY;
		return true;
	}
	if (strstr(reason, "too many") == NULL)
	{
		fall_back(np, "neg_err", reason);
		return true;
	}
	/* strfry's limit on the relay's side ("blocked: too many records"): a smaller chunk */
	if (np->chunk_until <= np->chunk_since)
	{
		fall_back(np, "too_many_records", reason);
		return true;
	}
	np->stats.shrinks++;
	np->span = (np->chunk_until - np->chunk_since + 1) / 2;
	if (np->max_items > 1)
		np->max_items /= 2;
	neg_free(np->neg);
	np->neg = NULL;
	free(np->items);
	np->items = NULL;
	np->n_items = 0;
	np->chunk = CH_NEED_ITEMS;
	return true;
}

bool
neg_phase_closed(NegPhase *np, const char *sub_id, const char *reason, int64_t now_ms)
{
	if (is_neg_sub(np, sub_id))
	{
		fall_back(np, "closed", reason);
		return true;
	}
	if (!is_fetch_sub(np, sub_id))
		return false;
	fetch_ended(np, now_ms);
	return true;
}

bool
neg_phase_eose(NegPhase *np, const char *sub_id, int64_t now_ms)
{
	if (!is_fetch_sub(np, sub_id))
		return false;
	send_fetch_close(np);
	fetch_ended(np, now_ms);
	return true;
}

bool
neg_phase_notice(NegPhase *np, const char *message)
{
	if (np->status != NEG_PHASE_RUNNING || !np->open_in_flight)
		return false;
	fall_back(np, "notice", message);
	return true;
}

void
neg_phase_fetched(NegPhase *np, const char *sub_id, const uint8_t id[32])
{
	size_t		lo = 0,
				hi;

	if (!np->fetch_in_flight || sub_id == NULL || strcmp(sub_id, np->fetch_sub) != 0)
		return;
	hi = np->n_fetch;
	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		int			c = memcmp(np->fetch[mid].id, id, 32);

		if (c == 0)
		{
			if (!np->got[mid])
			{
				np->got[mid] = true;
				np->n_got++;
				np->stats.fetched++;
			}
			return;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
}

bool
neg_phase_auth_wanted(const NegPhase *np)
{
	return np->status == NEG_PHASE_RUNNING && np->chunk == CH_WAIT_AUTH;
}

void
neg_phase_auth_done(NegPhase *np, bool ok, int64_t now_ms)
{
	if (!neg_phase_auth_wanted(np))
		return;
	if (!ok)
	{
		fall_back(np, "auth_required", "the relay demands NIP-42 AUTH for negentropy and it did not succeed");
		return;
	}
	np->chunk = CH_WAIT_OPEN;
	if (np->connected)
		open_chunk(np, now_ms);
}

void
neg_phase_tick(NegPhase *np, int64_t now_ms, bool paused)
{
	if (np->status != NEG_PHASE_RUNNING || !np->connected)
		return;
	if (np->chunk == CH_WAIT_RETRY && now_ms >= np->retry_at_ms)
	{
		np->chunk = CH_WAIT_OPEN;
		open_chunk(np, now_ms);
		return;
	}
	if (paused)
	{
		/* our own pause: the relay's clock starts again when reading resumes */
		if (np->neg_in_flight)
			np->neg_deadline_ms = now_ms + np->cfg.request_timeout_ms;
		if (np->fetch_in_flight)
			np->fetch_deadline_ms = now_ms + np->cfg.request_timeout_ms;
		return;
	}
	if (np->neg_in_flight && now_ms > np->neg_deadline_ms)
	{
		send_neg_close(np);
		fall_back(np, "timeout", "no answer to a negentropy message within the request timeout");
		return;
	}
	if (np->fetch_in_flight && now_ms > np->fetch_deadline_ms)
	{
		send_fetch_close(np);
		fetch_ended(np, now_ms);
	}
}

void
neg_phase_hold(NegPhase *np, int64_t created_at, const uint8_t id[32], bool retry)
{
	add_shortfall(np, "unstorable", created_at, created_at, 1, id);
	if (created_at - 1 < np->hold_cursor)
		np->hold_cursor = created_at - 1;
	if (retry && created_at - 1 < np->hold_frontier)
		np->hold_frontier = created_at - 1;
}

NegPhaseStatus
neg_phase_status(const NegPhase *np)
{
	return np->status;
}

const char *
neg_phase_fallback_reason(const NegPhase *np)
{
	return np->reason;
}

const char *
neg_phase_fallback_detail(const NegPhase *np)
{
	return np->detail;
}

int64_t
neg_phase_cursor(const NegPhase *np)
{
	int64_t		c = np->cursor < np->hold_cursor ? np->cursor : np->hold_cursor;

	return c < np->cfg.start - 1 ? np->cfg.start - 1 : c;
}

int64_t
neg_phase_frontier(const NegPhase *np)
{
	int64_t		f = np->frontier < np->hold_frontier ? np->frontier : np->hold_frontier;
	int64_t		c = neg_phase_cursor(np);

	return f < c ? c : f;
}

const NegPhaseStats *
neg_phase_stats(const NegPhase *np)
{
	return &np->stats;
}

size_t
neg_phase_shortfall_count(const NegPhase *np)
{
	return np->n_shortfalls;
}

int64_t
neg_phase_shortfalls_total(const NegPhase *np)
{
	return np->shortfalls_total;
}

const NegShortfall *
neg_phase_shortfall_at(const NegPhase *np, size_t i)
{
	return i < np->n_shortfalls ? &np->shortfalls[i] : NULL;
}

void
neg_phase_add_shortfall(NegPhase *np, const char *reason, int64_t since, int64_t until)
{
	add_shortfall(np, reason, since, until, 0, NULL);
}
