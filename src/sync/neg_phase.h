/*
 * neg_phase.h: a relay session's NIP-77 negentropy phase, pure (no network, no PostgreSQL, no
 * clock of its own): it reconciles the session's range [start, end] with the relay in chunks and
 * says which events to fetch. The session (sync/sync_session) sends what it asks through a send
 * callback, feeds it the relay's messages and the time, and relays the caller's answers (the
 * caller may use PostgreSQL between loop slices):
 *   1. items: the relay's archive items (created_at, id) in [since, until], at most max
 *      (neg_phase_items_wanted / neg_phase_give_items). When max come back, the chunk ends before
 *      the last second they reach (a second is never split); a single second with more than max
 *      items ends the phase (fallback "crowded_second").
 *   2. NEG-OPEN {since, until, kinds} with the initiator's first message, NEG-MSG rounds until
 *      reconciliation is done, NEG-CLOSE. Ids we have and the relay lacks are ignored (we never
 *      publish); ids the relay has and we lack are queued.
 *   3. needed ids go to the caller (neg_phase_need / neg_phase_linked), which records the sightings
 *      of those the archive already holds and hands back the missing ones; those are fetched with
 *      REQ {"ids": [...]}, at most fetch_batch a request, one request at a time. The events
 *      themselves go through the session's usual buffer; neg_phase_fetched only ticks them off.
 *      An id missing from two answers is "not served": a shortfall of its chunk (cursor stays
 *      below the chunk; the frontier passes it, a rescan retries). While more than max_queued
 *      ids wait, the NEG rounds pause (the next NEG-MSG is held back), so memory stays bounded by
 *      max_items x 40 B + (max_queued + one relay message) x 32 B.
 *   4. a chunk is complete when reconciliation finished and every needed id is linked or was
 *      received (the session's buffer keeps the cursor below events not yet stored); then the
 *      cursor and the frontier move to its end, and the next chunk starts.
 * Support is probed, never assumed: NEG-ERR (but "blocked: too many records", which halves the
 * chunk's span and max_items and retries; "auth-required:", answered once through the session's
 * NIP-42 step; "rate-limited:", asked again after a backoff), a NOTICE or CLOSED while NEG-OPEN waits for its first
 * answer, no answer within request_timeout, a malformed NEG-MSG, or repeated drops end the phase
 * with NEG_PHASE_FALLBACK and a reason; the session then runs the window algorithm from
 * neg_phase_frontier() + 1.
 * Memory is malloc'd; nothing here longjmps.
 */
#ifndef BIGBROTR_SYNC_NEG_PHASE_H
#define BIGBROTR_SYNC_NEG_PHASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/negentropy.h"

typedef struct NegPhase NegPhase;

/* Sends one text message; false when it could not be sent (the connection is going away). */
typedef bool (*neg_send_fn) (void *arg, const char *text, size_t len);

typedef struct NegPhaseConfig
{
	int64_t		start;			/* the range, Unix seconds, inclusive */
	int64_t		end;
	int64_t		fetch_batch;	/* ids per REQ, >= 1 (the synchronizer's limit) */
	size_t		max_items;		/* archive items per chunk; 0: 100,000 */
	size_t		max_queued;		/* needed ids waiting before NEG rounds pause; 0: 4 x fetch_batch */
	size_t		frame_limit;	/* our negentropy messages' size limit (0: none, else >= 4096) */
	const int32_t *kinds;		/* the NEG-OPEN filter's kinds (copied); NULL: all */
	size_t		kinds_count;
	int			request_timeout_ms; /* an answer to each NEG message and REQ */
} NegPhaseConfig;

typedef enum NegPhaseStatus
{
	NEG_PHASE_RUNNING,
	NEG_PHASE_COMPLETE,			/* the whole range reconciled (shortfalls possible) */
	NEG_PHASE_FALLBACK,			/* ended: neg_phase_fallback_reason(); the window algorithm
								 * goes on from neg_phase_frontier() + 1 */
	NEG_PHASE_OUT_OF_MEMORY
} NegPhaseStatus;

typedef struct NegPhaseStats
{
	int64_t		chunks;			/* chunks completed */
	int64_t		rounds;			/* NEG-OPEN and NEG-MSG messages sent */
	int64_t		bytes_out;		/* their bytes (whole messages, incl. NEG-CLOSE) */
	int64_t		bytes_in;		/* NEG-MSG / NEG-ERR bytes received */
	int64_t		ids_needed;		/* ids the relay has and the archive did not link to it */
	int64_t		ids_have;		/* ids linked in the archive that the relay lacks (ignored) */
	int64_t		linked;			/* needed ids the archive held: sighting recorded, no download */
	int64_t		fetch_requests; /* REQ {"ids"} sent */
	int64_t		fetched;		/* needed ids received */
	int64_t		not_served;		/* needed ids the relay did not serve */
	int64_t		shrinks;		/* "too many records": chunk halved */
	int64_t		drops;			/* connections lost during the phase */
	int64_t		rate_limited;	/* NEG-OPENs refused "rate-limited" (asked again later) */
} NegPhaseStats;

/* A negentropy-phase shortfall (the first NEG_PHASE_MAX_SHORTFALLS are kept, all are counted). */
typedef struct NegShortfall
{
	const char *reason;			/* "not_served", "unstorable", "no_negentropy" */
	int64_t		since;
	int64_t		until;
	int64_t		returned;		/* ids in it */
	bool		has_id;
	uint8_t		id[32];
} NegShortfall;

#define NEG_PHASE_MAX_SHORTFALLS 32

NegPhase   *neg_phase_new(const NegPhaseConfig *config, neg_send_fn send, void *send_arg);
void		neg_phase_free(NegPhase *np);

/* The connection is open: (re)start the current chunk (asks for its items if it has none). */
void		neg_phase_open(NegPhase *np, int64_t now_ms);
/* The connection was lost: the current chunk restarts on the next open (3 drops: fallback). */
void		neg_phase_dropped(NegPhase *np);

/* The caller's part: the archive's items of the relay in [since, until], at most max. */
bool		neg_phase_items_wanted(const NegPhase *np, int64_t *since, int64_t *until, size_t *max);
/* items sorted by (created_at, id) as the archive gives them; copied. */
void		neg_phase_give_items(NegPhase *np, const neg_item *items, size_t count, int64_t now_ms);

/*
 * The caller's part: needed ids to link (record the sighting of those the archive holds), at most
 * max of them: *ids points into the phase (valid until the next call). Returns their count.
 */
size_t		neg_phase_need(NegPhase *np, const uint8_t (**ids)[32], size_t max);
/* The first n ids of neg_phase_need were linked except missing[0 .. n_missing): fetch those. */
void		neg_phase_linked(NegPhase *np, size_t n, const uint8_t (*missing)[32], size_t n_missing,
							 int64_t now_ms);

/*
 * The relay's messages during the phase (EVENT: see neg_phase_fetched). Each returns whether the
 * message was the phase's: NEG-MSG / NEG-ERR of its negentropy subscription (wire_len: the whole
 * message's bytes), EOSE / CLOSED of its fetch or negentropy subscription, a NOTICE while NEG-OPEN
 * waits for its first answer (taken as "unsupported").
 */
bool		neg_phase_neg_msg(NegPhase *np, const char *sub_id, const uint8_t *msg, size_t len,
							  size_t wire_len, int64_t now_ms);
bool		neg_phase_neg_err(NegPhase *np, const char *sub_id, const char *reason, size_t wire_len,
							  int64_t now_ms);
bool		neg_phase_closed(NegPhase *np, const char *sub_id, const char *reason, int64_t now_ms);
bool		neg_phase_eose(NegPhase *np, const char *sub_id, int64_t now_ms);
bool		neg_phase_notice(NegPhase *np, const char *message);
/* A received event (id checked against its content) for subscription sub_id. */
void		neg_phase_fetched(NegPhase *np, const char *sub_id, const uint8_t id[32]);
/*
 * NEG-ERR "auth-required:" (the first time): the phase waits for the session's NIP-42 step;
 * neg_phase_auth_done re-sends NEG-OPEN (ok) or falls back ("auth_required"). NEG-ERR
 * "rate-limited:" waits 1, 2, 4, 8 s before asking again (then "neg_err").
 */
bool		neg_phase_auth_wanted(const NegPhase *np);
void		neg_phase_auth_done(NegPhase *np, bool ok, int64_t now_ms);
/* Timeouts. paused: reading is paused by the session (its time is not the relay's). */
void		neg_phase_tick(NegPhase *np, int64_t now_ms, bool paused);
/* An event of the range the archive could not keep: cursor (and with retry, frontier) below it. */
void		neg_phase_hold(NegPhase *np, int64_t created_at, const uint8_t id[32], bool retry);

NegPhaseStatus neg_phase_status(const NegPhase *np);
/* Why the phase fell back ("neg_err", "notice", "closed", "timeout", "too_many_records", ...). */
const char *neg_phase_fallback_reason(const NegPhase *np);
/* The relay's own message for the fallback (NEG-ERR / NOTICE / CLOSED text), "" if none. */
const char *neg_phase_fallback_detail(const NegPhase *np);
/* Every event with start <= created_at <= cursor is linked, or buffered by the session. */
int64_t		neg_phase_cursor(const NegPhase *np);
/* Every second up to the frontier was reconciled (shortfalls recorded). cursor <= frontier. */
int64_t		neg_phase_frontier(const NegPhase *np);
const NegPhaseStats *neg_phase_stats(const NegPhase *np);
size_t		neg_phase_shortfall_count(const NegPhase *np);	/* recorded; stats count all */
int64_t		neg_phase_shortfalls_total(const NegPhase *np);
const NegShortfall *neg_phase_shortfall_at(const NegPhase *np, size_t i);
/* Records a shortfall over [since, until] (the session's "no_negentropy" in only mode). */
void		neg_phase_add_shortfall(NegPhase *np, const char *reason, int64_t since, int64_t until);

#endif							/* BIGBROTR_SYNC_NEG_PHASE_H */
