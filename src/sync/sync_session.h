/*
 * sync_session.h: one relay's synchronization over a WebSocket (ws_client), driven by the pure
 * window algorithm (sync/sync_window). It sends the REQs the algorithm asks for, verifies every
 * event (id and signature) as it arrives, feeds the answers back, enforces the request and relay
 * timeouts, reconnects after a drop, and buffers the verified events for the caller to store.
 * It sends the window's NIP-45 COUNT proofs (CLOSED, NOTICE or no answer: unsupported) and parks
 * while the window waits for archive hints, which only the caller (between loop slices, where it
 * may use PostgreSQL) can answer. Memory is bounded by the configuration: an answer far beyond the
 * limit ends its request (max_answer), and once max_buffered verified events wait to be stored the
 * socket is paused (lws rx flow control) until the caller clears the buffer; the log queue keeps
 * 16 lines and counts the rest.
 * With negentropy (config negentropy, NIP-77) the session first reconciles its range through
 * sync/neg_phase (chunks of the archive's items, which the caller gives between loop slices, as
 * it links needed ids the archive holds); fetched events take the same buffer; on a fallback the
 * window algorithm goes on from where the phase stopped.
 * Everything runs inside ws_client callbacks, so nothing here may longjmp: no PostgreSQL headers,
 * memory is malloc'd, problems are counted and queued as text for the caller to log.
 */
#ifndef BIGBROTR_SYNC_SESSION_H
#define BIGBROTR_SYNC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ws_client.h"
#include "nostr/event.h"
#include "sync/known_cache.h"
#include "sync/neg_phase.h"
#include "sync/relay_etiquette.h"
#include "sync/sync_window.h"
#include "sync/verify_pool.h"

typedef struct SyncSession SyncSession;

typedef struct SyncSessionConfig
{
	const char *url;			/* normalized ws:// or wss:// URL (copied) */
	bool		via_tor;
	int64_t		start;			/* the range to collect, Unix seconds, inclusive */
	int64_t		end;
	int64_t		limit;
	const int32_t *kinds;		/* copied by the window algorithm; NULL: all */
	size_t		kinds_count;
	int			request_timeout_ms; /* per REQ (and per connection attempt) */
	int			relay_timeout_ms;	/* the whole session, from its first connection */
	int			stagger_ms;		/* wait this long before connecting */
	size_t		max_message_size;
	int			max_narrowing_keys; /* see sync_window_config; <= 0: its default */
	int64_t		max_answer;		/* events per answer before the request is cut; <= 0: 10 x limit */
	size_t		max_buffered;	/* verified events held before reading pauses; 0: 4 x max_answer */
	bool		want_hints;		/* the caller answers sync_session_hints_wanted */
	int64_t		known_largest_answer;	/* see sync_window_config; 0: unknown */
	VerifyPool *pool;			/* signature checks on these threads; NULL: on the caller's */
	KnownCache *known;			/* (id, sig) pairs known archived; NULL: none */
	/*
	 * NIP-77: SYNC_NEG_AUTO reconciles the range with negentropy first (sync/neg_phase) and falls
	 * back to the window algorithm from where it stopped; SYNC_NEG_ONLY does not fall back (the
	 * relay ends "no_negentropy" with a shortfall over the rest). neg_unsupported: the relay's
	 * state says it does not speak it (auto: the window algorithm at once; only: ends at once).
	 */
	int			negentropy;		/* SYNC_NEG_OFF (0), SYNC_NEG_AUTO, SYNC_NEG_ONLY */
	bool		neg_unsupported;
	size_t		neg_max_items;	/* archive items per chunk; 0: 100,000 */
	/*
	 * has_neg_start: the phase reconciles [neg_start, end] (a rescan over the relay's whole
	 * history), while the window algorithm, should it take over, still starts no earlier than
	 * start; [neg_start, start) is then covered by the relay's stored cursor, known_cursor
	 * (known_frontier for the frontier).
	 */
	bool		has_neg_start;
	int64_t		neg_start;
	int64_t		known_cursor;
	int64_t		known_frontier;
	const uint8_t *auth_seckey; /* NIP-42 key, 32 bytes (copied); NULL: none, a relay demanding
								 * AUTH ends with "auth_required" */
} SyncSessionConfig;

#define SYNC_NEG_OFF 0
#define SYNC_NEG_AUTO 1
#define SYNC_NEG_ONLY 2

/*
 * Where a buffered event stands. Its id was checked against its content on arrival (cheap); the
 * signature is checked only for events the archive does not already hold with the same (id, sig).
 */
typedef enum SyncEventState
{
	SYNC_EV_LOOKUP,				/* waiting for the caller's archive lookup (sync_session_looked_up) */
	SYNC_EV_VERIFYING,			/* signature check queued or running */
	SYNC_EV_KNOWN,				/* archived with this very (id, sig): record the sighting only */
	SYNC_EV_VALID,				/* signature verified: store the event */
	SYNC_EV_INVALID				/* bad signature: dropped (counted, logged) */
} SyncEventState;

/* An event waiting to be stored; tags_json and content are malloc'd. */
typedef struct SyncEvent
{
	uint8_t		id[32];
	uint8_t		pubkey[32];
	uint8_t		sig[64];
	int64_t		created_at;
	int32_t		kind;
	SyncEventState state;
	VerifyJob  *job;			/* SYNC_EV_VERIFYING */
	char	   *tags_json;
	char	   *content;
} SyncEvent;

typedef struct SyncSessionStats
{
	int64_t		events_received;	/* EVENT messages for our subscriptions */
	int64_t		events_valid;		/* signature verified, or known archived with the same (id, sig) */
	int64_t		events_invalid;		/* bad JSON, id or signature: dropped */
	int64_t		events_known;		/* known archived: signature not checked again */
	int64_t		events_verified;	/* signatures checked (on the pool or inline) */
	int64_t		bytes_received;		/* WebSocket message bytes from the relay */
	int64_t		events_unstorable;	/* valid but holding U+0000, which PostgreSQL cannot store
									 * (each held as a shortfall; the caller adds the rows the
									 * archive refused, sync_session_hold) */
	int64_t		rx_pauses;		/* reading paused because max_buffered events were waiting */
	int64_t		reconnects;
	int64_t		request_timeouts;
	int64_t		closed_by_relay;	/* CLOSED answers */
	int64_t		notices;
	/* relay etiquette (CLOSED reasons, NIP-42; see sync_session_closed_reasons) */
	int64_t		notices_in_flight;	/* NOTICEs while a request was in flight */
	int64_t		auth_challenges;	/* AUTH challenges received */
	int64_t		auth_attempts;	/* signed AUTH events sent (only after a refusal: never eagerly) */
	int64_t		auth_ok;		/* AUTH accepted (OK true) */
	int64_t		auth_failed;	/* AUTH refused (OK false) or not answered within request_timeout */
	int64_t		rate_limited;	/* rate-limited answers: backed off, the request re-sent */
	int64_t		backoff_ms;		/* time spent backing off */
	int64_t		resends;		/* requests re-sent after a backoff or an AUTH */
} SyncSessionStats;

typedef enum SyncSessionEnd
{
	SYNC_END_NONE,				/* still running */
	SYNC_END_COMPLETE,			/* the algorithm finished (maybe with shortfalls) */
	SYNC_END_GIVEN_UP,			/* the algorithm gave up after failures in a row */
	SYNC_END_CONNECT_FAILED,	/* could not connect, repeatedly */
	SYNC_END_RELAY_TIMEOUT,		/* the per-relay budget ran out */
	SYNC_END_OUT_OF_MEMORY,
	SYNC_END_AUTH_REQUIRED,		/* the relay demands AUTH we cannot give (no key, refused, again) */
	SYNC_END_REFUSED,			/* restricted: or blocked: for our filter: ends for this cycle */
	SYNC_END_NO_NEGENTROPY		/* negentropy "only" and the relay does not speak it */
} SyncSessionEnd;

/* NULL on ENOMEM or a bad config. The session connects on its first tick after the stagger. */
SyncSession *sync_session_new(WsLoop *loop, const SyncSessionConfig *config,
							  nostr_pubkey_cache *cache);

/* Starts connecting, times requests out, reconnects. Call after every ws_loop_run slice. */
void		sync_session_tick(SyncSession *s);

SyncSessionEnd sync_session_end(const SyncSession *s);
const char *sync_session_end_name(SyncSessionEnd end);

/*
 * The buffered events, in arrival order, and the cursor they justify: every event of the range with
 * created_at <= the cursor was received and is either in this buffer or was taken out before.
 * Storing: look the new arrivals up (sync_session_unlooked / _looked_up), then take a settled
 * prefix (sync_session_ready, or sync_session_settle for all of it), store its VALID events and the
 * sightings of its KNOWN ones together with sync_session_cursor_for(that prefix), then
 * sync_session_consume it.
 */
const SyncEvent *sync_session_events(const SyncSession *s, size_t *count);
int64_t		sync_session_cursor(const SyncSession *s);
/* Like the cursor, but past recorded shortfalls that only a rescan settles (sync_window_frontier). */
int64_t		sync_session_frontier(const SyncSession *s);

/* Events not yet looked up: events[*first .. count). */
size_t		sync_session_unlooked(const SyncSession *s, size_t *first);
/*
 * The caller's lookup of events[first .. count) (as sync_session_unlooked gave them): archived[i]
 * true when the archive holds event first + i with the same signature (then it is KNOWN and goes
 * into the known cache); the others' signatures are queued on the pool (or checked now without one).
 */
void		sync_session_looked_up(SyncSession *s, const bool *archived);
/* The length of the longest prefix of the buffer whose events are all settled (never blocks). */
size_t		sync_session_ready(SyncSession *s);
/* Settles the whole buffer (looks nothing up: unlooked events are verified), waiting if needed. */
size_t		sync_session_settle(SyncSession *s);
/* The cursor that storing events[0 .. k) (settled) together with every earlier batch justifies. */
int64_t		sync_session_cursor_for(const SyncSession *s, size_t k);
int64_t		sync_session_frontier_for(const SyncSession *s, size_t k);
/* Removes events[0 .. k) (stored); resumes reading when the buffer was full. */
void		sync_session_consume(SyncSession *s, size_t k);
/*
 * Drops every buffered event unverified (the caller could not store them and abandons the relay:
 * checking their signatures first would be work thrown away).
 */
void		sync_session_clear_events(SyncSession *s);

/* Whether the buffer is full and reading is paused: store and clear it (which resumes reading). */
bool		sync_session_paused(const SyncSession *s);

/*
 * The archive could not store this event (the caller logged why): it becomes an "unstorable"
 * shortfall and the cursor and the frontier stay below its created_at from now on (the next cycle
 * asks for it again). Call it before reading the
 * cursor to store with the rest.
 */
void		sync_session_hold(SyncSession *s, int64_t created_at, const uint8_t id[32]);

/*
 * Archive hints (want_hints): true while the window waits for the kinds and authors the archive
 * holds at *second (in *kinds when the session syncs only some kinds). Answer with
 * sync_session_give_hints (each list at most *max entries); the session goes on from there.
 */
bool		sync_session_hints_wanted(const SyncSession *s, int64_t *second, const int32_t **kinds,
									  size_t *kinds_count, size_t *max);
void		sync_session_give_hints(SyncSession *s, const int32_t *kinds, size_t kinds_count,
									const uint8_t (*authors)[32], size_t authors_count);

/*
 * The negentropy phase's questions to the caller, answered between loop slices: the relay's
 * archive items in [*since, *until] (at most *max; sorted by created_at, id), and the needed ids
 * to link (insert_sightings: hand back those the archive does not hold, which are then fetched).
 */
bool		sync_session_neg_items_wanted(const SyncSession *s, int64_t *since, int64_t *until,
										  size_t *max);
void		sync_session_neg_give_items(SyncSession *s, const neg_item *items, size_t count);
size_t		sync_session_neg_need(SyncSession *s, const uint8_t (**ids)[32], size_t max);
void		sync_session_neg_linked(SyncSession *s, size_t n, const uint8_t (*missing)[32],
									size_t n_missing);
/* The negentropy phase (NULL when the session did not try it), for its stats and shortfalls. */
const NegPhase *sync_session_neg(const SyncSession *s);
/* Whether it was tried and the relay turned out not to speak it (remember that). */
bool		sync_session_neg_unsupported(const SyncSession *s);

const SyncSessionStats *sync_session_stats(const SyncSession *s);
const sync_window *sync_session_window(const SyncSession *s);

/*
 * Relay etiquette. Counted reasons: CLOSED prefixes, and the prefixes of NOTICEs received while a
 * request was in flight (a NOTICE does not end the request: its timeout still applies).
 */
const RelayReasons *sync_session_closed_reasons(const SyncSession *s);
const RelayReasons *sync_session_notice_reasons(const SyncSession *s);

/* The relay's last refusal (a CLOSED, an AUTH's OK false, a NOTICE during a request). */
typedef struct SyncRefusal
{
	bool		set;
	const char *kind;			/* "CLOSED", "AUTH" or "NOTICE" */
	char		prefix[NOSTR_MSG_PREFIX_MAX];	/* "" when the message had none */
	char		message[256];	/* sanitized (relay_etiquette_sanitize), truncated */
	int64_t		at;				/* Unix seconds */
} SyncRefusal;
const SyncRefusal *sync_session_last_refusal(const SyncSession *s);

/*
 * NIP-42 for a refusal other than a REQ's or a COUNT's (which the session handles itself), e.g. a
 * NEG-OPEN answered with NEG-ERR "auth-required: ...". Authentication is lazy: only when a relay
 * refuses, never on a mere challenge. STARTED: the challenge (the one received, or the next one
 * within request_timeout) is signed and sent; poll sync_session_auth_result, then re-send what was
 * refused once. NO_KEY / ALREADY (this connection already authenticated: our key is not enough) /
 * BUSY (an AUTH is already pending): nothing sent.
 */
typedef enum SyncAuthStart
{
	SYNC_AUTH_STARTED,
	SYNC_AUTH_NO_KEY,
	SYNC_AUTH_ALREADY,
	SYNC_AUTH_BUSY
} SyncAuthStart;
SyncAuthStart sync_session_auth_needed(SyncSession *s);
/* -1: pending (or never started), 0: failed (OK false, no OK in time, connection lost), 1: authenticated. */
int			sync_session_auth_result(const SyncSession *s);

/* The next queued log line (NULL when none); valid until the next call. */
const char *sync_session_next_log(SyncSession *s);

/*
 * Ends the session: closes the connection (its on_close still arrives in a later ws_loop_run, so
 * the memory is released then, or at once when no connection is open). Buffered events are dropped:
 * store them first.
 */
void		sync_session_free(SyncSession *s);

#endif							/* BIGBROTR_SYNC_SESSION_H */
