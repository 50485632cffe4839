/*
 * sync_session.c: one relay's synchronization over ws_client, driven by sync/sync_window (see
 * sync_session.h). One subscription at a time; the next REQ goes out from the EOSE callback itself
 * so a fast relay is not slowed to one request per loop slice.
 */
#include "sync/sync_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/clock.h"
#include "nostr/event.h"
#include "nostr/hex.h"
#include "nostr/message.h"

#define MAX_CONNECT_FAILURES 3
#define RECONNECT_DELAY_MS 500
#define MAX_LOG_LINES 16

typedef enum SessState
{
	ST_WAITING,					/* stagger before the first connection */
	ST_CONNECTING,
	ST_OPEN,					/* connected, no subscription in flight */
	ST_REQ,						/* a subscription (or a COUNT) in flight */
	ST_HINTS,					/* waiting for the caller's archive hints */
	ST_NEG,						/* connected, the negentropy phase runs (sync/neg_phase) */
	ST_RECONNECT_WAIT,
	ST_DONE,
	ST_AUTH,					/* a refused REQ/COUNT waits for NIP-42 (challenge, then OK) */
	ST_BACKOFF					/* a rate-limited REQ/COUNT waits to be re-sent */
} SessState;

/* Who waits for the AUTH in flight. */
typedef enum AuthFor
{
	AUTH_FOR_NONE,
	AUTH_FOR_REQ,				/* the refused request (s->req): re-sent once on OK true */
	AUTH_FOR_CALLER				/* sync_session_auth_needed: the caller polls the result */
} AuthFor;

struct SyncSession
{
	WsLoop	   *loop;
	WsConn	   *conn;
	char	   *url;
	bool		via_tor;
	int			request_timeout_ms;
	int			relay_timeout_ms;
	size_t		max_message_size;
	nostr_pubkey_cache *cache;
	VerifyPool *pool;
	KnownCache *known;

	sync_window *sw;
	SessState	state;
	SyncSessionEnd end;
	int64_t		start_at_ms;
	int64_t		first_connect_ms;	/* 0 until the first connection attempt */
	int64_t		deadline_ms;	/* of the request or connection attempt in flight */
	int64_t		reconnect_at_ms;
	int			connect_failures;
	bool		freed;			/* sync_session_free was called; on_close releases */
	bool		closing;		/* ws_close was called; on_close will follow */

	unsigned	sub_counter;
	char		sub_id[24];
	sync_request req;			/* the request in flight (ST_REQ) or waited for (ST_HINTS) */
	size_t		max_buffered;
	int			max_keys;
	bool		paused;

	SyncEvent  *events;
	size_t		n_events;
	size_t		cap_events;
	size_t		lookup_from;	/* events[lookup_from ..] wait for the caller's lookup */
	size_t		n_settled;		/* events[0 .. n_settled) are settled */

	char	   *log[MAX_LOG_LINES];
	size_t		n_log;
	size_t		log_read;
	char	   *log_current;
	int64_t		log_dropped;

	SyncSessionStats stats;

	/* NIP-77: the phase before the window algorithm (NULL: not tried) */
	NegPhase   *neg;
	bool		neg_active;		/* the phase runs; the window algorithm has not started */
	int			neg_mode;
	int64_t		window_start;	/* where the window algorithm's range starts */
	sync_window_config wc;		/* to start it after a fallback */
	int32_t    *kinds;			/* wc.kinds, owned */
	bool		window_started; /* the window algorithm runs (no phase, or after a fallback) */
	bool		neg_unsupported_seen;	/* the phase fell back for want of support */
	bool		neg_auth_pending;	/* NEG-OPEN waits for the NIP-42 step (sync_session_auth_needed) */
	int64_t		window_floor;	/* the window algorithm never starts before this */
	int64_t		neg_frontier_at_fallback;	/* the phase's frontier when the window took over */
	int64_t		gap_cursor;		/* [phase frontier + 1, window start) is covered up to these */
	int64_t		gap_frontier;	/* by the stored position (INT64_MIN: not at all) */
	/* relay etiquette: NIP-42 state (per connection), backoff, reasons */
	bool		has_key;
	uint8_t		seckey[32];
	char	   *challenge;		/* the connection's latest AUTH challenge; NULL: none yet */
	size_t		challenge_len;
	bool		authenticated;	/* this connection's AUTH was accepted */
	AuthFor		auth_for;		/* an AUTH is pending (waiting for a challenge or its OK) */
	bool		auth_sent;
	uint8_t		auth_event_id[32];
	int64_t		auth_deadline_ms;
	int			auth_result;	/* for AUTH_FOR_CALLER: -1 pending, 0 failed, 1 ok */
	bool		req_auth_tried; /* the request in flight was already re-sent after an AUTH */
	int			backoffs_in_row;	/* rate-limited answers since the last EOSE */
	int64_t		resend_at_ms;
	RelayReasons closed_reasons;
	RelayReasons notice_reasons;
	SyncRefusal refusal;
};

static void
slog(SyncSession *s, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
slog(SyncSession *s, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	if (s->n_log >= MAX_LOG_LINES)
	{
		s->log_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->log[s->n_log] = strdup(buf);
	if (s->log[s->n_log])
		s->n_log++;
}

static void on_open(WsConn *conn, void *user);
static void on_message(WsConn *conn, void *user, const char *data, size_t len);
static void on_close(WsConn *conn, void *user, WsCloseReason reason, const char *detail);

static const WsCallbacks callbacks = {on_open, on_message, on_close};
static void check_neg(SyncSession *s);

static void
finish(SyncSession *s, SyncSessionEnd end)
{
	if (s->state == ST_DONE)
		return;
	s->state = ST_DONE;
	s->end = end;
	if (s->conn && !s->closing)
	{
		s->closing = true;
		ws_close(s->conn);		/* on_close clears conn later */
	}
}

static void
connect_now(SyncSession *s)
{
	char		error[256];
	int64_t		now = net_clock_ms();

	if (s->first_connect_ms == 0)
		s->first_connect_ms = now;
	s->state = ST_CONNECTING;
	s->deadline_ms = now + s->request_timeout_ms;
	s->conn = ws_connect(s->loop, s->url, s->via_tor, s->request_timeout_ms, &callbacks, s,
						 error, sizeof(error));
	if (s->conn == NULL)
	{
		slog(s, "cannot connect: %s", error);
		s->connect_failures++;
		if (s->connect_failures >= MAX_CONNECT_FAILURES)
			finish(s, SYNC_END_CONNECT_FAILED);
		else
		{
			s->state = ST_RECONNECT_WAIT;
			s->reconnect_at_ms = now + RECONNECT_DELAY_MS;
		}
	}
}

static void send_request(SyncSession *s);

/* Sends the algorithm's next request, or ends the session when it has none. */
static void
advance(SyncSession *s)
{
	sync_request req;

	if (s->state != ST_OPEN)
		return;
	if (!sync_window_next(s->sw, &req))
	{
		finish(s, sync_window_given_up(s->sw) ? SYNC_END_GIVEN_UP : SYNC_END_COMPLETE);
		return;
	}
	s->req = req;
	s->req_auth_tried = false;
	if (req.type == SYNC_REQ_HINTS)
	{
		s->state = ST_HINTS;	/* the caller answers between loop slices */
		return;
	}
	send_request(s);
}

/* Sends s->req (a REQ or a COUNT) under a new subscription id: first time, or re-sent. */
static void
send_request(SyncSession *s)
{
	const sync_request req = s->req;
	nostr_filter f;
	nostr_error err;
	char	   *msg;
	size_t		len;

	memset(&f, 0, sizeof(f));
	f.kinds = req.kinds;
	f.kinds_count = req.kinds_count;
	if (req.has_author)
	{
		f.authors = (const uint8_t (*)[32]) req.author;
		f.authors_count = 1;
	}
	f.has_since = req.has_time;
	f.since = req.since;
	f.has_until = req.has_time;
	f.until = req.until;
	f.has_limit = req.type == SYNC_REQ_EVENTS;
	f.limit = req.limit;
	snprintf(s->sub_id, sizeof(s->sub_id), "bb%u", ++s->sub_counter);
	msg = req.type == SYNC_REQ_COUNT ? nostr_build_count(s->sub_id, &f, 1, &len, &err) :
		nostr_build_req(s->sub_id, &f, 1, &len, &err);
	if (msg == NULL || !ws_send_text(s->conn, msg, len))
	{
		free(msg);
		/* the connection is closing: on_close reports the failed request */
		s->state = ST_REQ;
		s->deadline_ms = net_clock_ms() + s->request_timeout_ms;
		return;
	}
	free(msg);
	s->state = ST_REQ;
	s->deadline_ms = net_clock_ms() + s->request_timeout_ms;
}

static void
close_subscription(SyncSession *s)
{
	nostr_error err;
	size_t		len;
	char	   *msg = nostr_build_close(s->sub_id, &len, &err);

	if (msg && s->conn)
		ws_send_text(s->conn, msg, len);
	free(msg);
}

/* The request in flight ended (eose) or failed; ask the next one. */
static void
request_ended(SyncSession *s, bool eose)
{
	if (eose)
		s->backoffs_in_row = 0;
	if (s->req.type == SYNC_REQ_COUNT && !eose)
		sync_window_count(s->sw, false, 0);	/* CLOSED, NOTICE or no answer: unsupported */
	else
		sync_window_answer(s->sw, eose);
	s->state = ST_OPEN;
	advance(s);
}

static bool
counting(const SyncSession *s)
{
	return s->state == ST_REQ && s->req.type == SYNC_REQ_COUNT;
}

/* ---- relay etiquette: CLOSED reasons, rate-limit backoff, NIP-42 (decisions in relay_etiquette) ---- */

static void
record_refusal(SyncSession *s, const char *kind, const nostr_relay_msg *msg)
{
	s->refusal.set = true;
	s->refusal.kind = kind;
	snprintf(s->refusal.prefix, sizeof(s->refusal.prefix), "%s", msg->prefix);
	relay_etiquette_sanitize(msg->message, msg->message_len, s->refusal.message, sizeof(s->refusal.message));
	s->refusal.at = (int64_t) time(NULL);
}

/* The relay refuses our filter for this cycle: the rest is one "refused" shortfall. */
static void
refuse(SyncSession *s, SyncSessionEnd end, const char *why)
{
	slog(s, "%s: the relay's sync ends for this cycle (the rest of the range is a refused shortfall)", why);
	sync_window_refused(s->sw);
	finish(s, end);
}

/* Re-sends the request in flight as it was (after a backoff or an AUTH): no failure. */
static void
resend(SyncSession *s)
{
	s->stats.resends++;
	sync_window_resend(s->sw);
	send_request(s);
}

static void
send_auth(SyncSession *s)
{
	nostr_error err;
	size_t		len;
	char	   *msg = relay_etiquette_auth_message(s->url, s->challenge, s->challenge_len, (int64_t) time(NULL),
												   s->seckey, s->auth_event_id, &len, &err);

	s->auth_sent = true;
	s->stats.auth_attempts++;
	if (msg == NULL || s->conn == NULL || !ws_send_text(s->conn, msg, len))
		slog(s, "could not send AUTH: %s", msg == NULL ? err.message : "connection closing");
	free(msg);
	/* a failed send is answered by its deadline (or by on_close) */
}

static void
auth_done(SyncSession *s, bool ok)
{
	AuthFor		who = s->auth_for;

	s->auth_for = AUTH_FOR_NONE;
	s->auth_sent = false;
	if (ok)
	{
		s->authenticated = true;
		s->stats.auth_ok++;
	}
	else
		s->stats.auth_failed++;
	if (who == AUTH_FOR_CALLER)
	{
		s->auth_result = ok ? 1 : 0;
		return;
	}
	if (who != AUTH_FOR_REQ || s->state != ST_AUTH)
		return;
	if (!ok && s->req.type == SYNC_REQ_COUNT)
	{
		request_ended(s, false);	/* a COUNT we may not send only means no COUNT */
		return;
	}
	if (!ok)
	{
		refuse(s, SYNC_END_AUTH_REQUIRED, "AUTH failed");
		return;
	}
	s->state = ST_OPEN;
	resend(s);
}

/* Starts NIP-42 for who: signs the challenge now, or the next one to arrive. */
static SyncAuthStart
begin_auth(SyncSession *s, AuthFor who)
{
	if (!s->has_key)
		return SYNC_AUTH_NO_KEY;
	if (s->authenticated)
		return SYNC_AUTH_ALREADY;
	if (s->auth_for != AUTH_FOR_NONE)
		return SYNC_AUTH_BUSY;
	s->auth_for = who;
	s->auth_sent = false;
	s->auth_deadline_ms = net_clock_ms() + s->request_timeout_ms;
	if (s->challenge)
		send_auth(s);
	return SYNC_AUTH_STARTED;
}

/* rate-limited: wait 1 s, 2 s, 4 s... (bounded by the relay's budget left), then re-send. */
static void
back_off(SyncSession *s)
{
	int64_t		now = net_clock_ms();
	int64_t		left = s->relay_timeout_ms - (now - s->first_connect_ms);
	int64_t		wait = relay_etiquette_backoff_ms(s->backoffs_in_row++, left);

	s->stats.rate_limited++;
	s->stats.backoff_ms += wait;
	if (s->stats.rate_limited <= 3)
		slog(s, "rate-limited: waiting %lld ms before asking again", (long long) wait);
	s->state = ST_BACKOFF;
	s->resend_at_ms = now + wait;
}

/* A CLOSED for the request in flight. */
static void
closed(SyncSession *s, const nostr_relay_msg *msg)
{
	RelayEtiquetteAction a = relay_etiquette_closed(msg->prefix, s->has_key, s->authenticated);
	bool		count = counting(s);

	s->stats.closed_by_relay++;
	relay_reasons_add(&s->closed_reasons, msg->prefix);
	record_refusal(s, "CLOSED", msg);
	if (s->stats.closed_by_relay <= 5)
		slog(s, "relay closed the %s: %s", count ? "COUNT" : "subscription", msg->message);
	if (a == ETQ_AUTH && s->req_auth_tried)
		a = ETQ_END_AUTH;		/* re-sent once after AUTH and refused again */
	if (a == ETQ_AUTH)
	{
		s->req_auth_tried = true;
		if (begin_auth(s, AUTH_FOR_REQ) == SYNC_AUTH_STARTED)
		{
			s->state = ST_AUTH;
			return;
		}
		a = ETQ_END_AUTH;
	}
	/* a refused COUNT only means no COUNT: the window algorithm does without */
	if (count && (a == ETQ_END_AUTH || a == ETQ_END_REFUSED))
		a = ETQ_FAIL;
	switch (a)
	{
		case ETQ_BACKOFF:
			back_off(s);
			break;
		case ETQ_END_AUTH:
			refuse(s, SYNC_END_AUTH_REQUIRED, s->has_key ? "auth-required after AUTH" : "auth-required and no "
				   "bigbrotr.synchronizer_private_key");
			break;
		case ETQ_END_REFUSED:
			refuse(s, SYNC_END_REFUSED, msg->prefix);
			break;
		default:
			request_ended(s, false);
			break;
	}
}

/* An AUTH challenge: remembered; used only when a refusal asks for it (never eagerly). */
static void
challenged(SyncSession *s, const nostr_relay_msg *msg)
{
	char	   *c = malloc(msg->challenge_len + 1);

	s->stats.auth_challenges++;
	if (c == NULL)
		return;
	memcpy(c, msg->challenge, msg->challenge_len);
	c[msg->challenge_len] = '\0';
	free(s->challenge);
	s->challenge = c;
	s->challenge_len = msg->challenge_len;
	if (s->auth_for != AUTH_FOR_NONE && !s->auth_sent)
		send_auth(s);
}

static void
auth_answered(SyncSession *s, const nostr_relay_msg *msg)
{
	if (s->auth_for == AUTH_FOR_NONE || !s->auth_sent || memcmp(msg->event_id, s->auth_event_id, 32) != 0)
		return;
	if (!msg->accepted)
	{
		record_refusal(s, "AUTH", msg);
		slog(s, "AUTH refused: %s", msg->message);
	}
	auth_done(s, msg->accepted);
}

/* A new connection: no challenge, not authenticated; a pending AUTH fails. */
static void
auth_reset(SyncSession *s)
{
	free(s->challenge);
	s->challenge = NULL;
	s->challenge_len = 0;
	s->authenticated = false;
	if (s->auth_for == AUTH_FOR_CALLER)
		s->auth_result = 0;
	s->auth_for = AUTH_FOR_NONE;
	s->auth_sent = false;
}

/* Etiquette deadlines, from sync_session_tick. */
static void
etiquette_tick(SyncSession *s, int64_t now)
{
	if (s->auth_for != AUTH_FOR_NONE && now > s->auth_deadline_ms)
	{
		slog(s, "%s within %d ms", s->auth_sent ? "no OK to our AUTH" : "no AUTH challenge", s->request_timeout_ms);
		auth_done(s, false);
	}
	if (s->state == ST_BACKOFF && now >= s->resend_at_ms)
	{
		s->state = ST_OPEN;
		resend(s);
	}
}

static void
on_open(WsConn *conn, void *user)
{
	SyncSession *s = user;

	if (s->freed || s->state != ST_CONNECTING)
		return;
	s->connect_failures = 0;
	if (s->neg_active)
	{
		s->state = ST_NEG;
		neg_phase_open(s->neg, net_clock_ms());
		check_neg(s);
		return;
	}
	s->state = ST_OPEN;
	advance(s);
}

static bool
buffer_event(SyncSession *s, const nostr_event *ev, SyncEventState state)
{
	SyncEvent  *e;

	if (s->n_events == s->cap_events)
	{
		size_t		ncap = s->cap_events ? s->cap_events * 2 : 256;
		SyncEvent  *ne = realloc(s->events, ncap * sizeof(SyncEvent));

		if (ne == NULL)
			return false;
		s->events = ne;
		s->cap_events = ncap;
	}
	e = &s->events[s->n_events];
	memcpy(e->id, ev->id, 32);
	memcpy(e->pubkey, ev->pubkey, 32);
	memcpy(e->sig, ev->sig, 64);
	e->created_at = ev->created_at;
	e->kind = ev->kind;
	e->state = state;
	e->job = NULL;
	e->tags_json = strdup(ev->tags_json ? ev->tags_json : "[]");
	e->content = strdup(ev->content ? ev->content : "");
	if (e->tags_json == NULL || e->content == NULL)
	{
		free(e->tags_json);
		free(e->content);
		return false;
	}
	s->n_events++;
	if (s->n_events >= s->max_buffered && !s->paused && s->conn)
	{
		/* the caller stores and clears the buffer, which resumes reading */
		s->paused = true;
		s->stats.rx_pauses++;
		ws_pause_rx(s->conn, true);
	}
	return true;
}

/* A settled signature check: the event is kept (VALID) or dropped (INVALID, counted and logged). */
static void
set_verified(SyncSession *s, SyncEvent *e, int status)
{
	s->stats.events_verified++;
	if (status == NOSTR_OK)
	{
		e->state = SYNC_EV_VALID;
		s->stats.events_valid++;
		return;
	}
	e->state = SYNC_EV_INVALID;
	s->stats.events_invalid++;
	if (s->stats.events_invalid <= 3)
	{
		char		hex[65];

		nostr_hex_encode(e->id, 32, hex);
		slog(s, "dropped event %s: %s", hex, nostr_reason_code(status));
	}
}

static void
verify_inline(SyncSession *s, SyncEvent *e)
{
	nostr_error err;

	set_verified(s, e, nostr_sig_verify(e->id, e->pubkey, e->sig, s->cache, &err));
}

/* Settles one event; without wait, only when that needs no waiting. Returns whether settled. */
static bool
settle_event(SyncSession *s, SyncEvent *e, bool wait)
{
	switch (e->state)
	{
		case SYNC_EV_LOOKUP:
			if (!wait)
				return false;
			verify_inline(s, e);
			return true;
		case SYNC_EV_VERIFYING:
			if (!wait && !verify_job_done(s->pool, e->job))
				return false;
			set_verified(s, e, verify_job_finish(s->pool, e->job));
			e->job = NULL;
			return true;
		default:
			return true;
	}
}

/* Archived with this very (id, sig): only its sighting is stored. */
static void
mark_known(SyncSession *s, SyncEvent *e)
{
	e->state = SYNC_EV_KNOWN;
	s->stats.events_known++;
	s->stats.events_valid++;
}

/* Its signature check is no longer wanted (the pool skips or forgets it). */
static void
drop_job(SyncSession *s, SyncEvent *e)
{
	if (e->job)
		verify_job_drop(s->pool, e->job);
	e->job = NULL;
}

static void
free_event(SyncSession *s, SyncEvent *e)
{
	drop_job(s, e);
	free(e->tags_json);
	free(e->content);
	e->tags_json = NULL;
	e->content = NULL;
}

/*
 * An EVENT message's event (parsed with the message: nostr_relay_msg.event). Its id is checked
 * against its content here (cheap); its signature later, unless the archive already holds this
 * (id, sig): the known cache answers now, the caller's lookup between loop slices.
 */
/*
 * An event that cannot be stored becomes an unstorable shortfall of the part of the session that
 * owns its second: the negentropy phase (while it runs, or below where the window algorithm took
 * over) or the window algorithm. retry: the cause may pass (a row the archive refused), so the
 * frontier stays below it too (sync_window_hold).
 */
static void
hold_unstorable(SyncSession *s, int64_t created_at, const uint8_t id[32], bool retry)
{
	if (s->neg && (!s->window_started || created_at < s->window_start))
		neg_phase_hold(s->neg, created_at, id, retry);
	else
		sync_window_hold(s->sw, SYNC_SHORTFALL_UNSTORABLE, created_at, id, retry);
}

static void
take_event(SyncSession *s, const nostr_relay_msg *msg, bool current)
{
	const nostr_event *ev = &msg->event;
	nostr_error err;
	bool		valid;
	bool		cut;

	s->stats.events_received++;
	if (msg->event_status != NOSTR_OK)
	{
		s->stats.events_invalid++;
		if (s->stats.events_invalid <= 3)
			slog(s, "dropped an unparseable event: %s", msg->event_error.message);
		if (current)
			sync_window_unparsed(s->sw);
		return;
	}
	valid = nostr_event_check_id(ev, &err) == NOSTR_OK;
	if (valid && s->neg_active)
		neg_phase_fetched(s->neg, msg->sub_id, ev->id);
	cut = current && !sync_window_event(s->sw, ev->id, ev->pubkey, ev->created_at, ev->kind, valid);
	if (!valid)
	{
		s->stats.events_invalid++;
		if (s->stats.events_invalid <= 3)
			slog(s, "dropped an invalid event (%s): %s", nostr_reason_code(err.code), err.message);
	}
	else if (nostr_event_has_nul(ev))
	{
		char		hex[65];

		/* rare: checked at once, so that only a valid event holds the cursor */
		s->stats.events_verified++;
		if (nostr_sig_verify(ev->id, ev->pubkey, ev->sig, s->cache, &err) != NOSTR_OK)
		{
			s->stats.events_invalid++;
			if (s->stats.events_invalid <= 3)
				slog(s, "dropped an invalid event (%s): %s", nostr_reason_code(err.code), err.message);
		}
		else
		{
			s->stats.events_unstorable++;
			nostr_hex_encode(ev->id, 32, hex);
			slog(s, "valid event %s created_at %lld holds U+0000, which PostgreSQL cannot store: "
				 "kept as an unstorable shortfall", hex, (long long) ev->created_at);
			hold_unstorable(s, ev->created_at, ev->id, false);
		}
	}
	else if (!buffer_event(s, ev, SYNC_EV_LOOKUP))
		finish(s, SYNC_END_OUT_OF_MEMORY);
	else if (s->known && known_cache_has(s->known, ev->id, ev->sig))
		mark_known(s, &s->events[s->n_events - 1]);
	if (cut && s->state == ST_REQ)
	{
		/* far more than asked: the request ends here; what still comes for it is data */
		slog(s, "an answer went beyond the per-request bound: request ended, its window handled as full");
		close_subscription(s);
		request_ended(s, true);
	}
}

/* ---- NIP-77: the negentropy phase, then the window algorithm from where it stopped ---- */

static bool
neg_send(void *arg, const char *text, size_t len)
{
	SyncSession *s = arg;

	return s->conn && !s->closing && ws_send_text(s->conn, text, len);
}

/* Starts the window algorithm over [from, end] (after the negentropy phase fell back). */
static bool
start_window(SyncSession *s, int64_t from)
{
	sync_window *sw;

	if (from < s->window_floor)
		from = s->window_floor;
	s->wc.start = from;
	sw = sync_window_new(&s->wc);
	if (sw == NULL)
		return false;
	sync_window_free(s->sw);
	s->sw = sw;
	s->window_start = from;
	s->window_started = true;
	s->neg_frontier_at_fallback = s->neg ? neg_phase_frontier(s->neg) : from - 1;
	return true;
}

/* Reasons that say the relay does not speak negentropy (remembered), not a passing trouble. */
static bool
unsupported_reason(const char *reason)
{
	return strcmp(reason, "crowded_second") != 0 && strcmp(reason, "dropped") != 0 &&
		strcmp(reason, "auth_required") != 0;
}

/* Acts on the phase's status after anything that may have changed it. */
static void
check_neg(SyncSession *s)
{
	const char *reason;
	int64_t		from;

	if (!s->neg_active || s->state == ST_DONE)
		return;
	if (neg_phase_auth_wanted(s->neg) && !s->neg_auth_pending)
	{
		SyncAuthStart r = sync_session_auth_needed(s);

		if (r == SYNC_AUTH_STARTED)
			s->neg_auth_pending = true;
		else
		{
			slog(s, "NEG-OPEN needs AUTH: %s", r == SYNC_AUTH_NO_KEY ? "no bigbrotr.synchronizer_private_key" :
				 r == SYNC_AUTH_ALREADY ? "already authenticated, still refused" : "AUTH busy");
			neg_phase_auth_done(s->neg, false, net_clock_ms());
		}
	}
	switch (neg_phase_status(s->neg))
	{
		case NEG_PHASE_RUNNING:
			return;
		case NEG_PHASE_OUT_OF_MEMORY:
			s->neg_active = false;
			finish(s, SYNC_END_OUT_OF_MEMORY);
			return;
		case NEG_PHASE_COMPLETE:
			s->neg_active = false;
			finish(s, SYNC_END_COMPLETE);
			return;
		case NEG_PHASE_FALLBACK:
			break;
	}
	s->neg_active = false;
	reason = neg_phase_fallback_reason(s->neg);
	s->neg_unsupported_seen = unsupported_reason(reason);
	from = neg_phase_frontier(s->neg) + 1;
	slog(s, "negentropy (NIP-77) stopped (%s%s%s): %s from %lld", reason,
		 *neg_phase_fallback_detail(s->neg) ? ": " : "", neg_phase_fallback_detail(s->neg),
		 s->neg_mode == SYNC_NEG_ONLY ? "not falling back (negentropy only), a shortfall" :
		 "the window algorithm goes on", (long long) from);
	if (s->neg_mode == SYNC_NEG_ONLY)
	{
		if (from <= s->wc.end)
			neg_phase_add_shortfall(s->neg, "no_negentropy", from, s->wc.end);
		finish(s, SYNC_END_NO_NEGENTROPY);
		return;
	}
	if (!start_window(s, from))
	{
		finish(s, SYNC_END_OUT_OF_MEMORY);
		return;
	}
	if (s->state == ST_NEG)
	{
		s->state = ST_OPEN;
		advance(s);
	}
}

static void
on_message(WsConn *conn, void *user, const char *data, size_t len)
{
	SyncSession *s = user;
	nostr_relay_msg msg;
	nostr_error err;
	bool		current;

	if (s->freed || s->state == ST_DONE)
		return;
	s->stats.bytes_received += (int64_t) len;
	if (nostr_relay_msg_parse(data, len, s->max_message_size, &msg, &err) != NOSTR_OK)
	{
		s->stats.notices++;
		slog(s, "unreadable message from the relay: %s", err.message);
		nostr_relay_msg_free(&msg);
		return;
	}
	current = s->state == ST_REQ && msg.sub_id && strcmp(msg.sub_id, s->sub_id) == 0;
	switch (msg.type)
	{
		case NOSTR_MSG_EVENT:
			/* events of an earlier subscription are data too, just not that window's answer */
			if (msg.sub_id && strncmp(msg.sub_id, "bb", 2) == 0)
				take_event(s, &msg, current);
			break;
		case NOSTR_MSG_EOSE:
			if (current)
			{
				close_subscription(s);
				request_ended(s, true);
			}
			else if (s->neg_active)
				neg_phase_eose(s->neg, msg.sub_id, net_clock_ms());
			break;
		case NOSTR_MSG_CLOSED:
			if (current)
				closed(s, &msg);
			else if (s->neg_active && neg_phase_closed(s->neg, msg.sub_id, msg.message, net_clock_ms()))
			{
				s->stats.closed_by_relay++;
				slog(s, "relay closed a negentropy subscription: %s", msg.message);
			}
			break;
		case NOSTR_MSG_AUTH:
			challenged(s, &msg);
			break;
		case NOSTR_MSG_OK:
			auth_answered(s, &msg);
			break;
		case NOSTR_MSG_COUNT:
			if (current && counting(s))
			{
				sync_window_count(s->sw, true, msg.count > INT64_MAX ? INT64_MAX : (int64_t) msg.count);
				s->state = ST_OPEN;
				advance(s);
			}
			break;
		case NOSTR_MSG_NEG_MSG:
			if (s->neg_active)
				(void) neg_phase_neg_msg(s->neg, msg.sub_id, msg.neg_msg, msg.neg_msg_len, len, net_clock_ms());
			break;
		case NOSTR_MSG_NEG_ERR:
			if (s->neg_active && neg_phase_neg_err(s->neg, msg.sub_id, msg.message, len, net_clock_ms()))
				slog(s, "NEG-ERR: %s", msg.message);
			break;
		case NOSTR_MSG_NOTICE:
			s->stats.notices++;
			if (s->stats.notices <= 3)
				slog(s, "NOTICE: %s", msg.message);
			if (s->state == ST_REQ)
			{
				/* counted and kept; the request's own timeout still applies */
				s->stats.notices_in_flight++;
				relay_reasons_add(&s->notice_reasons, msg.prefix);
				record_refusal(s, "NOTICE", &msg);
			}
			if (counting(s))
			{
				slog(s, "COUNT (NIP-45) answered with a NOTICE: taken as unsupported");
				request_ended(s, false);
			}
			else if (s->neg_active)
				(void) neg_phase_notice(s->neg, msg.message);
			break;
		default:
			break;
	}
	nostr_relay_msg_free(&msg);
	if (s->neg_active)
		check_neg(s);
}

static void
release(SyncSession *s)
{
	for (size_t i = 0; i < s->n_events; i++)
		free_event(s, &s->events[i]);
	free(s->events);
	for (size_t i = 0; i < s->n_log; i++)
		free(s->log[i]);
	free(s->log_current);
	sync_window_free(s->sw);
	neg_phase_free(s->neg);
	free(s->kinds);
	free(s->url);
	free(s->challenge);
	explicit_bzero(s->seckey, sizeof(s->seckey));
	free(s);
}

static void
on_close(WsConn *conn, void *user, WsCloseReason reason, const char *detail)
{
	SyncSession *s = user;
	SessState	was = s->state;

	s->conn = NULL;
	s->closing = false;
	auth_reset(s);
	if (s->freed)
	{
		release(s);
		return;
	}
	if (was == ST_DONE)
		return;
	if (was == ST_CONNECTING)
	{
		s->connect_failures++;
		slog(s, "connection failed (%s): %s", ws_close_reason_name(reason), detail ? detail : "");
		if (reason == WS_CLOSE_REFUSED_PRIVATE || s->connect_failures >= MAX_CONNECT_FAILURES)
		{
			finish(s, SYNC_END_CONNECT_FAILED);
			return;
		}
	}
	else if (s->neg_active)
	{
		s->stats.reconnects++;
		slog(s, "connection lost (%s): %s", ws_close_reason_name(reason), detail ? detail : "");
		s->state = ST_RECONNECT_WAIT;
		neg_phase_dropped(s->neg);
		check_neg(s);
		if (s->state == ST_DONE)
			return;
	}
	else
	{
		s->stats.reconnects++;
		slog(s, "connection lost (%s): %s", ws_close_reason_name(reason), detail ? detail : "");
		if (was == ST_REQ)
			sync_window_answer(s->sw, false);
		if (!sync_window_has_work(s->sw))
		{
			finish(s, sync_window_given_up(s->sw) ? SYNC_END_GIVEN_UP : SYNC_END_COMPLETE);
			return;
		}
	}
	s->state = ST_RECONNECT_WAIT;
	s->reconnect_at_ms = net_clock_ms() + RECONNECT_DELAY_MS;
}

SyncSession *
sync_session_new(WsLoop *loop, const SyncSessionConfig *config, nostr_pubkey_cache *cache)
{
	SyncSession *s = calloc(1, sizeof(SyncSession));
	sync_window_config wc = {0};

	if (s == NULL)
		return NULL;
	wc.start = config->start;
	wc.end = config->end;
	wc.limit = config->limit;
	wc.kinds = config->kinds;
	wc.kinds_count = config->kinds_count;
	wc.max_narrowing_keys = config->max_narrowing_keys;
	wc.max_answer = config->max_answer;
	wc.want_hints = config->want_hints;
	wc.known_largest_answer = config->known_largest_answer;
	s->sw = sync_window_new(&wc);
	s->url = strdup(config->url);
	if (s->sw == NULL || s->url == NULL)
	{
		sync_window_free(s->sw);
		free(s->url);
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->via_tor = config->via_tor;
	s->request_timeout_ms = config->request_timeout_ms > 0 ? config->request_timeout_ms : 30000;
	s->relay_timeout_ms = config->relay_timeout_ms > 0 ? config->relay_timeout_ms : 1800000;
	s->max_message_size = config->max_message_size;
	s->max_keys = config->max_narrowing_keys > 0 ? config->max_narrowing_keys : 100;
	s->max_buffered = config->max_buffered > 0 ? config->max_buffered :
		(size_t) (4 * (config->max_answer > 0 ? config->max_answer : 10 * config->limit));
	s->cache = cache;
	s->pool = config->pool;
	s->known = config->known;
	if (config->auth_seckey)
	{
		s->has_key = true;
		memcpy(s->seckey, config->auth_seckey, 32);
	}
	s->auth_result = -1;
	s->state = ST_WAITING;
	s->start_at_ms = net_clock_ms() + (config->stagger_ms > 0 ? config->stagger_ms : 0);
	s->wc = wc;
	s->wc.kinds = NULL;
	s->window_start = config->start;
	s->window_started = true;
	s->window_floor = config->start;
	s->gap_cursor = config->has_neg_start ? config->known_cursor : INT64_MIN;
	s->gap_frontier = config->has_neg_start ? config->known_frontier : INT64_MIN;
	if (config->kinds && config->kinds_count > 0)
	{
		s->kinds = malloc(config->kinds_count * sizeof(int32_t));
		if (s->kinds == NULL)
		{
			release(s);
			return NULL;
		}
		memcpy(s->kinds, config->kinds, config->kinds_count * sizeof(int32_t));
		s->wc.kinds = s->kinds;
	}
	s->neg_mode = config->negentropy;
	if (config->negentropy != SYNC_NEG_OFF && !(config->neg_unsupported && config->negentropy == SYNC_NEG_AUTO))
	{
		NegPhaseConfig nc = {0};

		nc.start = config->has_neg_start && config->neg_start < config->start ? config->neg_start : config->start;
		nc.end = config->end;
		nc.fetch_batch = config->limit;
		nc.max_items = config->neg_max_items;
		nc.frame_limit = config->max_message_size == 0 || config->max_message_size >= 240000 ? 60000 :
			(config->max_message_size / 4 >= 4096 ? config->max_message_size / 4 : 4096);
		nc.kinds = config->kinds;
		nc.kinds_count = config->kinds_count;
		nc.request_timeout_ms = s->request_timeout_ms;
		s->neg = neg_phase_new(&nc, neg_send, s);
		if (s->neg == NULL)
		{
			release(s);
			return NULL;
		}
		s->neg_active = true;
		s->window_started = false;
		if (config->neg_unsupported)
		{
			/* negentropy only, and the relay is known not to speak it: nothing to try */
			neg_phase_add_shortfall(s->neg, "no_negentropy", config->start, config->end);
			s->neg_active = false;
			s->state = ST_DONE;
			s->end = SYNC_END_NO_NEGENTROPY;
			slog(s, "negentropy only, and the relay does not speak it (remembered): not synced");
		}
	}
	return s;
}

void
sync_session_tick(SyncSession *s)
{
	int64_t		now = net_clock_ms();

	if (s->state == ST_DONE)
		return;
	if (s->first_connect_ms && now - s->first_connect_ms > s->relay_timeout_ms)
	{
		slog(s, "relay budget of %d s spent", s->relay_timeout_ms / 1000);
		finish(s, SYNC_END_RELAY_TIMEOUT);
		return;
	}
	switch (s->state)
	{
		case ST_WAITING:
			if (now >= s->start_at_ms)
				connect_now(s);
			break;
		case ST_RECONNECT_WAIT:
			if (now >= s->reconnect_at_ms)
				connect_now(s);
			break;
		case ST_NEG:
			if (s->neg_auth_pending && sync_session_auth_result(s) >= 0)
			{
				s->neg_auth_pending = false;
				neg_phase_auth_done(s->neg, sync_session_auth_result(s) == 1, now);
			}
			neg_phase_tick(s->neg, now, s->paused);
			check_neg(s);
			break;
		case ST_REQ:
			if (now > s->deadline_ms && !s->paused)
			{
				s->stats.request_timeouts++;
				slog(s, "no %s within %d ms", counting(s) ? "COUNT answer" : "EOSE", s->request_timeout_ms);
				close_subscription(s);
				request_ended(s, false);
			}
			break;
		default:
			break;
	}
	etiquette_tick(s, now);
}

SyncSessionEnd
sync_session_end(const SyncSession *s)
{
	return s->end;
}

const char *
sync_session_end_name(SyncSessionEnd end)
{
	switch (end)
	{
		case SYNC_END_NONE:
			return "running";
		case SYNC_END_COMPLETE:
			return "complete";
		case SYNC_END_GIVEN_UP:
			return "given_up";
		case SYNC_END_CONNECT_FAILED:
			return "connect_failed";
		case SYNC_END_RELAY_TIMEOUT:
			return "relay_timeout";
		case SYNC_END_OUT_OF_MEMORY:
			return "out_of_memory";
		case SYNC_END_AUTH_REQUIRED:
			return "auth_required";
		case SYNC_END_REFUSED:
			return "refused";
		case SYNC_END_NO_NEGENTROPY:
			return "no_negentropy";
	}
	return "unknown";
}

const SyncEvent *
sync_session_events(const SyncSession *s, size_t *count)
{
	*count = s->n_events;
	return s->events;
}

/*
 * The phase's cursor until the window algorithm starts; then the window's, unless a shortfall of
 * the phase holds the cursor below where the window began.
 */
int64_t
sync_session_cursor(const SyncSession *s)
{
	int64_t		nc,
				nf;

	if (s->neg == NULL)
		return sync_window_cursor(s->sw);
	nc = neg_phase_cursor(s->neg);
	if (!s->window_started)
		return nc;
	nf = neg_phase_frontier(s->neg);
	/* a shortfall or hold of the phase; or a gap before the window the stored cursor does not cover */
	if (nc < nf || nf < s->neg_frontier_at_fallback ||
		(nc < s->window_start - 1 && s->window_start - 1 > s->gap_cursor))
		return nc;
	return sync_window_cursor(s->sw);
}

int64_t
sync_session_frontier(const SyncSession *s)
{
	int64_t		nf;

	if (s->neg == NULL)
		return sync_window_frontier(s->sw);
	nf = neg_phase_frontier(s->neg);
	if (!s->window_started)
		return nf;
	if (nf < s->neg_frontier_at_fallback ||
		(nf < s->window_start - 1 && s->window_start - 1 > s->gap_frontier))
		return nf;
	return sync_window_frontier(s->sw);
}

size_t
sync_session_unlooked(const SyncSession *s, size_t *first)
{
	*first = s->lookup_from;
	return s->n_events - s->lookup_from;
}

void
sync_session_looked_up(SyncSession *s, const bool *archived)
{
	for (size_t i = s->lookup_from; i < s->n_events; i++)
	{
		SyncEvent  *e = &s->events[i];

		if (e->state != SYNC_EV_LOOKUP)
			continue;
		if (archived[i - s->lookup_from])
		{
			mark_known(s, e);
			if (s->known)
				known_cache_add(s->known, e->id, e->sig);
		}
		else if (s->pool && (e->job = verify_pool_submit(s->pool, e->id, e->pubkey, e->sig)) != NULL)
			e->state = SYNC_EV_VERIFYING;
		else
			verify_inline(s, e);
	}
	s->lookup_from = s->n_events;
}

size_t
sync_session_ready(SyncSession *s)
{
	while (s->n_settled < s->n_events && settle_event(s, &s->events[s->n_settled], false))
		s->n_settled++;
	return s->n_settled;
}

size_t
sync_session_settle(SyncSession *s)
{
	while (s->n_settled < s->n_events)
		(void) settle_event(s, &s->events[s->n_settled++], true);
	if (s->lookup_from < s->n_settled)
		s->lookup_from = s->n_settled;
	return s->n_settled;
}

/* c, lowered below every event still buffered after the first k. */
static int64_t
below_rest(const SyncSession *s, size_t k, int64_t c)
{
	for (size_t i = k; i < s->n_events; i++)
		if (s->events[i].created_at - 1 < c)
			c = s->events[i].created_at - 1;
	return c;
}

int64_t
sync_session_cursor_for(const SyncSession *s, size_t k)
{
	return below_rest(s, k, sync_session_cursor(s));
}

int64_t
sync_session_frontier_for(const SyncSession *s, size_t k)
{
	return below_rest(s, k, sync_session_frontier(s));
}

void
sync_session_consume(SyncSession *s, size_t k)
{
	if (k > s->n_events)
		k = s->n_events;
	for (size_t i = 0; i < k; i++)
		free_event(s, &s->events[i]);
	memmove(s->events, s->events + k, (s->n_events - k) * sizeof(SyncEvent));
	s->n_events -= k;
	s->n_settled = s->n_settled > k ? s->n_settled - k : 0;
	s->lookup_from = s->lookup_from > k ? s->lookup_from - k : 0;
	if (s->paused && s->n_events < s->max_buffered / 2 + 1)
	{
		s->paused = false;
		if (s->conn)
			ws_pause_rx(s->conn, false);
		/* the time spent paused was ours, not the relay's */
		if (s->state == ST_REQ)
			s->deadline_ms = net_clock_ms() + s->request_timeout_ms;
	}
	/* keep the memory bounded by one batch, not by the largest burst ever seen */
	if (s->n_events == 0 && s->cap_events > 4096)
	{
		free(s->events);
		s->events = NULL;
		s->cap_events = 0;
	}
}

void
sync_session_clear_events(SyncSession *s)
{
	sync_session_consume(s, s->n_events);
}

bool
sync_session_paused(const SyncSession *s)
{
	return s->paused;
}

void
sync_session_hold(SyncSession *s, int64_t created_at, const uint8_t id[32])
{
	hold_unstorable(s, created_at, id, true);
}

bool
sync_session_neg_items_wanted(const SyncSession *s, int64_t *since, int64_t *until, size_t *max)
{
	return s->neg_active && s->state != ST_DONE && neg_phase_items_wanted(s->neg, since, until, max);
}

void
sync_session_neg_give_items(SyncSession *s, const neg_item *items, size_t count)
{
	if (!s->neg_active)
		return;
	neg_phase_give_items(s->neg, items, count, net_clock_ms());
	check_neg(s);
}

size_t
sync_session_neg_need(SyncSession *s, const uint8_t (**ids)[32], size_t max)
{
	*ids = NULL;
	if (!s->neg_active || s->state == ST_DONE)
		return 0;
	return neg_phase_need(s->neg, ids, max);
}

void
sync_session_neg_linked(SyncSession *s, size_t n, const uint8_t (*missing)[32], size_t n_missing)
{
	if (!s->neg_active)
		return;
	neg_phase_linked(s->neg, n, missing, n_missing, net_clock_ms());
	check_neg(s);
}

const NegPhase *
sync_session_neg(const SyncSession *s)
{
	return s->neg;
}

bool
sync_session_neg_unsupported(const SyncSession *s)
{
	return s->neg_unsupported_seen;
}

bool
sync_session_hints_wanted(const SyncSession *s, int64_t *second, const int32_t **kinds,
						  size_t *kinds_count, size_t *max)
{
	if (s->state != ST_HINTS)
		return false;
	*second = s->req.since;
	*kinds = s->req.kinds;
	*kinds_count = s->req.kinds_count;
	*max = (size_t) s->max_keys;
	return true;
}

void
sync_session_give_hints(SyncSession *s, const int32_t *kinds, size_t kinds_count,
						const uint8_t (*authors)[32], size_t authors_count)
{
	if (s->state != ST_HINTS)
		return;
	sync_window_hints(s->sw, kinds, kinds_count, authors, authors_count);
	s->state = s->conn ? ST_OPEN : ST_RECONNECT_WAIT;
	if (s->state == ST_OPEN)
		advance(s);
	else
		s->reconnect_at_ms = net_clock_ms();
}

const SyncSessionStats *
sync_session_stats(const SyncSession *s)
{
	return &s->stats;
}

const sync_window *
sync_session_window(const SyncSession *s)
{
	return s->sw;
}

const char *
sync_session_next_log(SyncSession *s)
{
	free(s->log_current);
	s->log_current = NULL;
	if (s->log_read < s->n_log)
	{
		s->log_current = s->log[s->log_read];
		s->log[s->log_read++] = NULL;
		return s->log_current;
	}
	s->n_log = 0;
	s->log_read = 0;
	if (s->log_dropped > 0)
	{
		char		buf[96];

		snprintf(buf, sizeof(buf), "%lld more messages not shown", (long long) s->log_dropped);
		s->log_dropped = 0;
		s->log_current = strdup(buf);
		return s->log_current;
	}
	return NULL;
}

void
sync_session_free(SyncSession *s)
{
	if (s == NULL)
		return;
	s->freed = true;
	for (size_t i = 0; i < s->n_events; i++)
		drop_job(s, &s->events[i]);
	if (s->conn)
	{
		if (!s->closing)
			ws_close(s->conn);	/* released by on_close */
	}
	else
		release(s);
}

const RelayReasons *
sync_session_closed_reasons(const SyncSession *s)
{
	return &s->closed_reasons;
}

const RelayReasons *
sync_session_notice_reasons(const SyncSession *s)
{
	return &s->notice_reasons;
}

const SyncRefusal *
sync_session_last_refusal(const SyncSession *s)
{
	return &s->refusal;
}

SyncAuthStart
sync_session_auth_needed(SyncSession *s)
{
	SyncAuthStart r = begin_auth(s, AUTH_FOR_CALLER);

	if (r == SYNC_AUTH_STARTED)
		s->auth_result = -1;
	return r;
}

int
sync_session_auth_result(const SyncSession *s)
{
	return s->auth_result;
}
