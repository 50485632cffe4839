/*
 * sync_window.h: the synchronizer's per-relay time-window algorithm, pure (no network, no
 * PostgreSQL). It decides the next REQ filter and digests the relay's answer; the caller sends the
 * filter, feeds back every event received for it (valid or not) and says how the answer ended.
 *
 * The range [start, end] is covered by windows, oldest first. A window is complete only with proof:
 *   - the relay answered (EOSE) with no event; or
 *   - it answered fewer events than the limit asked AND fewer than the largest answer this relay
 *     has already given in this session (so its cap, whatever it is, was not reached); or
 *   - a follow-up over [since, oldest created_at of the answer] (inclusive) was itself below such a
 *     proven cap: then [since, oldest] holds nothing we lack, and NIP-01's "newest events first"
 *     selection means (oldest, until] was all in the first answer.
 * Otherwise the window is split in two halves (older first). A window of one second, or any
 * window of a relay that answers events outside the asked range (it ignores since/until), is
 * narrowed by each kind seen, then by each author seen. What still overflows is a shortfall: it
 * is reported, counted, and the cursor never passes it. Events outside the asked filter are data
 * (the caller stores them) but never count as the window's answer. A request that ends without
 * EOSE (timeout, dropped connection, CLOSED) answers nothing: it is retried, then the window is
 * split, and after too many failures in a row the relay is given up for this session.
 *
 * Only a relay answering a subset that is not the newest events breaks the follow-up proof; and
 * kinds or authors absent from every answer of an overflowing one-second window cannot be
 * discovered through NIP-01 filters (documented limits).
 */
#ifndef BIGBROTR_SYNC_WINDOW_H
#define BIGBROTR_SYNC_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sync_window sync_window;

typedef struct sync_window_config
{
	int64_t		start;			/* first second to collect (inclusive) */
	int64_t		end;			/* last second to collect (inclusive), normally now */
	int64_t		limit;			/* asked per request, >= 1 */
	const int32_t *kinds;		/* base kinds filter (copied); NULL or 0 count: all kinds */
	size_t		kinds_count;
	int			max_failures;	/* requests failed in a row before giving up; <= 0: 6 */
} sync_window_config;

/* One REQ filter to send. Valid until the next call on the sync_window. */
typedef struct sync_request
{
	int64_t		since;
	int64_t		until;
	int64_t		limit;
	const int32_t *kinds;		/* NULL: all kinds */
	size_t		kinds_count;
	bool		has_author;
	uint8_t		author[32];
	bool		followup;		/* a proof request over [since, oldest] of the previous answer */
} sync_request;

typedef enum sync_shortfall_reason
{
	SYNC_SHORTFALL_OVERFLOW,	/* one second (one kind, one author) holds more than one answer */
	SYNC_SHORTFALL_NO_NARROWING,	/* overflowing answer with no valid event to narrow by */
	SYNC_SHORTFALL_FAILED		/* the relay failed too many requests in a row: given up */
} sync_shortfall_reason;

typedef struct sync_shortfall
{
	sync_shortfall_reason reason;
	int64_t		since;
	int64_t		until;
	bool		has_kind;
	int32_t		kind;
	bool		has_author;
	uint8_t		author[32];
	int64_t		returned;		/* events in the last answer for it */
} sync_shortfall;

typedef struct sync_window_stats
{
	int64_t		requests;
	int64_t		followups;
	int64_t		splits;
	int64_t		narrowed;		/* windows narrowed by kind or author */
	int64_t		failures;		/* requests that ended without EOSE */
	int64_t		shortfalls;
	int64_t		unproven;		/* one-kind one-author one-second answers below the limit that
								 * are also the largest the relay gave: accepted, cannot be proven */
	int64_t		events_received;	/* everything fed, inside or outside the filter */
	int64_t		events_outside;	/* fed events outside the asked filter */
	int64_t		proven_cap;		/* a silent cap below the limit proven by a follow-up; 0: none */
} sync_window_stats;

/* NULL on ENOMEM or a bad config (limit < 1, end < start is fine: nothing to do). */
sync_window *sync_window_new(const sync_window_config *config);
void		sync_window_free(sync_window *sw);

/* The next request, or false when the session is over (finished or given up). */
bool		sync_window_next(sync_window *sw, sync_request *out);

/*
 * One event received for the current request. valid: id and signature verified (invalid ones
 * still count toward the relay's answer size, since they took a slot of its cap).
 */
void		sync_window_event(sync_window *sw, const uint8_t id[32], const uint8_t pubkey[32],
							  int64_t created_at, int32_t kind, bool valid);
/* A message for the current subscription that was not even a parseable event. */
void		sync_window_unparsed(sync_window *sw);

/* The current request ended: eose true for EOSE, false for a timeout, drop or CLOSED. */
void		sync_window_answer(sync_window *sw, bool eose);

/*
 * Every event with start <= created_at <= cursor (and in the base kinds) has been fed. start - 1
 * when nothing is proven yet. Never passes a shortfall.
 */
int64_t		sync_window_cursor(const sync_window *sw);

bool		sync_window_given_up(const sync_window *sw);
/* Whether a request is in flight or windows remain (false once finished or given up). */
bool		sync_window_has_work(const sync_window *sw);
const sync_window_stats *sync_window_get_stats(const sync_window *sw);

/* Shortfalls reported so far (the first SYNC_WINDOW_MAX_SHORTFALLS; stats count them all). */
#define SYNC_WINDOW_MAX_SHORTFALLS 32
size_t		sync_window_shortfall_count(const sync_window *sw);
const sync_shortfall *sync_window_shortfall_at(const sync_window *sw, size_t i);
const char *sync_shortfall_reason_name(sync_shortfall_reason reason);

#endif							/* BIGBROTR_SYNC_WINDOW_H */
