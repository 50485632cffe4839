/*
 * sync_window.h: the synchronizer's per-relay time-window algorithm, pure (no network, no
 * PostgreSQL). It decides the next request and digests the relay's answer; the caller sends the
 * request, feeds back every event received for it (valid or not) and says how the answer ended.
 *
 * The range [start, end] is covered by windows, oldest first. A window is complete only with proof:
 *   - the relay answered (EOSE) with no event; or
 *   - it answered fewer events than the limit asked AND fewer than the largest answer this relay
 *     has already given in this session (so its cap, whatever it is, was not reached); or
 *   - a follow-up over [since, oldest created_at of the answer] (inclusive) was itself below such a
 *     proven cap: then [since, oldest] holds nothing we lack, and NIP-01's "newest events first"
 *     selection means (oldest, until] was all in the first answer (whatever order the relay gives
 *     events of one second); or
 *   - for a narrowed window (below), a NIP-45 COUNT of its filter no larger than the distinct
 *     events received for that filter.
 * Otherwise the window is split in two halves (older first). A window of one second that is not
 * proven this way, or any window of a relay that answers events outside the asked range (it ignores
 * since/until), is narrowed: by every kind known for the relay (seen in its answer, in the archive
 * at that second, in any answer of this session), then, within a kind that still overflows, by
 * every author known, at most max_narrowing_keys requests per narrowed window. Nothing proves that
 * no event of an unknown kind or author exists, so the narrowed window is then asked with COUNT
 * (probed once per session; CLOSED, NOTICE or no answer: unsupported). Proven: complete. Not
 * proven: a shortfall ("unproven", or "overflow" when a narrowed piece still filled an answer). A
 * shortfall is reported, counted, and the cursor never passes it. Events outside the asked filter
 * are data (the caller stores them) but never count as the window's answer. A request that ends
 * without EOSE (timeout, dropped connection, CLOSED) answers nothing: it is retried, then the window
 * is split, and after too many failures in a row the relay is given up for this session (a
 * "failed" shortfall from the oldest unfinished second to the end).
 *
 * Memory is bounded by the configuration: an answer holding more than max_answer events ends its
 * request (it is handled as a full answer, as for a relay ignoring limit), the known kinds and
 * authors keep at most max_known each, a narrowed window remembers at most SYNC_WINDOW_MAX_PROOF_IDS
 * event ids (beyond: it cannot be proven, so it is a shortfall).
 *
 * Archive hints: with want_hints, a narrowed one-second window first asks the caller (a request of
 * type SYNC_REQ_HINTS, answered with sync_window_hints) for the kinds and authors the archive holds
 * at that second, since kinds and authors absent from every answer cannot be discovered through
 * NIP-01 filters.
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
	int			max_narrowing_keys; /* narrowing requests per narrowed window; <= 0: 100 */
	int64_t		max_answer;		/* events recorded per answer before it is cut; <= 0: 10 x limit */
	size_t		max_known;		/* kinds and authors remembered for the session; 0: 1024 */
	bool		want_hints;		/* ask the caller for archive hints (SYNC_REQ_HINTS) */
	/*
	 * The largest answer this relay gave to one request in an earlier session (0: unknown): its
	 * cap is at least this, so a later session's small answers prove themselves complete as if it
	 * had answered that many in this session (an incremental cycle over a few new events has no
	 * large answer of its own). A rescan passes 0 and proves the cap afresh.
	 */
	int64_t		known_largest_answer;
} sync_window_config;

typedef enum sync_request_type
{
	SYNC_REQ_EVENTS,			/* a REQ */
	SYNC_REQ_COUNT,				/* a NIP-45 COUNT; answer with sync_window_count */
	SYNC_REQ_HINTS				/* the archive's kinds and authors at second since; answer with
								 * sync_window_hints */
} sync_request_type;

/* One REQ filter to send. Valid until the next call on the sync_window. */
typedef struct sync_request
{
	sync_request_type type;
	bool		has_time;		/* since/until are part of the filter (false: a COUNT over all time) */
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
	SYNC_SHORTFALL_FAILED,		/* the relay failed too many requests in a row: given up */
	SYNC_SHORTFALL_UNPROVEN,	/* a narrowed window whose completeness could not be proven */
	SYNC_SHORTFALL_UNSTORABLE,	/* one valid event the archive could not store (sync_window_hold) */
	SYNC_SHORTFALL_REFUSED		/* the relay refused our filter for this cycle (sync_window_refused) */
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
	int64_t		returned;		/* events in the last answer for it (narrowed: distinct events received) */
	int64_t		counted;		/* the relay's COUNT for it; -1: none */
	bool		has_id;			/* one event (unstorable) */
	uint8_t		id[32];
} sync_shortfall;

typedef struct sync_window_stats
{
	int64_t		requests;
	int64_t		followups;
	int64_t		splits;
	int64_t		narrowed;		/* windows narrowed by kind or author */
	int64_t		failures;		/* requests that ended without EOSE */
	int64_t		shortfalls;
	int64_t		unproven;		/* narrowed windows not proven complete (each a shortfall) */
	int64_t		count_requests; /* COUNT requests sent */
	int64_t		count_proofs;	/* narrowed windows proven complete by COUNT */
	int64_t		hint_requests;	/* archive hints asked */
	int64_t		answers_cut;	/* answers ended at max_answer events */
	int64_t		events_received;	/* everything fed, inside or outside the filter */
	int64_t		events_outside;	/* fed events outside the asked filter */
	int64_t		proven_cap;		/* a silent cap below the limit proven by a follow-up; 0: none */
	int64_t		resends;		/* requests sent again (rate-limited, after AUTH): no failure */
} sync_window_stats;

/* NULL on ENOMEM or a bad config (limit < 1, end < start is fine: nothing to do). */
sync_window *sync_window_new(const sync_window_config *config);
void		sync_window_free(sync_window *sw);

/* The next request, or false when the session is over (finished or given up). */
bool		sync_window_next(sync_window *sw, sync_request *out);

/*
 * One event received for the current request. valid: id and signature verified (invalid ones
 * still count toward the relay's answer size, since they took a slot of its cap). Returns false
 * when the answer now exceeds max_answer: end the request (sync_window_answer(sw, true), after a
 * CLOSE); it is digested as a full answer.
 */
bool		sync_window_event(sync_window *sw, const uint8_t id[32], const uint8_t pubkey[32],
							  int64_t created_at, int32_t kind, bool valid);
/* A message for the current subscription that was not even a parseable event. */
void		sync_window_unparsed(sync_window *sw);

/* The current request ended: eose true for EOSE, false for a timeout, drop or CLOSED. */
void		sync_window_answer(sync_window *sw, bool eose);

/*
 * The current request is sent again as it was (the relay asked us to wait, rate-limited, or to
 * authenticate first): what its refused attempt received is forgotten, and it is no failure.
 */
void		sync_window_resend(sync_window *sw);

/*
 * The relay refuses the session's filter for this cycle (restricted, blocked, an AUTH we cannot
 * give): everything from the oldest unfinished second to the end is one "refused" shortfall, the
 * session has no more work, and the cursor and the frontier stay below it (the next cycle asks
 * again). Not a failure, not given up.
 */
void		sync_window_refused(sync_window *sw);

/* The COUNT request ended: answered with count, or not (CLOSED, NOTICE, timeout: unsupported). */
void		sync_window_count(sync_window *sw, bool answered, int64_t count);

/* The archive's distinct kinds and authors at the asked second (each list bounded by the caller). */
void		sync_window_hints(sync_window *sw, const int32_t *kinds, size_t kinds_count,
							  const uint8_t (*authors)[32], size_t authors_count);

/*
 * Records a shortfall for one event the caller could not keep (reason, normally
 * SYNC_SHORTFALL_UNSTORABLE): the cursor stays below its created_at from now on, and with retry
 * (the cause may pass, as a row the archive refused) the frontier too, so the next cycle asks again.
 */
void		sync_window_hold(sync_window *sw, sync_shortfall_reason reason, int64_t created_at,
							 const uint8_t id[32], bool retry);

/* -1: COUNT not probed yet, 0: unsupported, 1: supported. */
int			sync_window_count_support(const sync_window *sw);

/*
 * Every event with start <= created_at <= cursor (and in the base kinds) has been fed. start - 1
 * when nothing is proven yet. Never passes a shortfall.
 */
int64_t		sync_window_cursor(const sync_window *sw);

/*
 * Every second of [start, frontier] is finished: proven complete, or recorded as a shortfall that a
 * retry in the next cycle would not settle (overflow, unproven, no narrowing, an event PostgreSQL
 * can never hold: they wait for the next rescan). A "failed" shortfall (a relay that kept failing)
 * and a hold with retry stop the frontier too, so the next cycle asks again from there.
 * cursor <= frontier.
 */
int64_t		sync_window_frontier(const sync_window *sw);

/* The largest answer to one request so far (from known_largest_answer on): store it for the next session. */
int64_t		sync_window_largest_answer(const sync_window *sw);

bool		sync_window_given_up(const sync_window *sw);
/* Whether a request is in flight or windows remain (false once finished or given up). */
bool		sync_window_has_work(const sync_window *sw);
const sync_window_stats *sync_window_get_stats(const sync_window *sw);

/* Shortfalls reported so far (the first SYNC_WINDOW_MAX_SHORTFALLS; stats count them all). */
#define SYNC_WINDOW_MAX_SHORTFALLS 32
#define SYNC_WINDOW_MAX_PROOF_IDS 65536
size_t		sync_window_shortfall_count(const sync_window *sw);
const sync_shortfall *sync_window_shortfall_at(const sync_window *sw, size_t i);
const char *sync_shortfall_reason_name(sync_shortfall_reason reason);

#endif							/* BIGBROTR_SYNC_WINDOW_H */
