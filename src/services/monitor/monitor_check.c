/*
 * monitor_check.c: one relay's check, a small state machine driven by the monitor's event loop.
 * NIP-11: a GET of the relay URL over http(s) with Accept: application/nostr+json, size-capped and
 * limited by the check's deadline. NIP-66: one WebSocket; open (rtt_open: connect to established),
 * then a REQ with limit 1 (readable on EVENT or EOSE, rtt_read from REQ to the first answer; CLOSED
 * is not readable; an AUTH challenge or a CLOSED "auth-required:" meanwhile is recorded as
 * auth_required) and, with a private key, a signed ephemeral event (writable when OK is true,
 * rtt_write from EVENT to OK). REQ and EVENT go out together, so a relay that never answers one
 * costs the check no more than its deadline.
 *
 * The WebSocket callbacks run inside ws_loop_run: they only record what happened in the check (no
 * palloc, no ereport), so an error can never unwind through libwebsockets.
 */
#include "postgres.h"

#include <time.h>

#include "core/bigbrotr.h"
#include "nostr/keys.h"
#include "nostr/message.h"
#include "nostr/nip11.h"
#include "services/monitor/monitor.h"

/* Largest relay message read; an EVENT answer to a limit-1 REQ is far smaller. */
#define MONITOR_MAX_MESSAGE (1024 * 1024)

static int
elapsed_ms(double since)
{
	double		ms = net_clock_us() / 1000.0 - since;

	return ms < 0 ? 0 : (int) (ms + 0.5);
}

static void
check_done_with_socket(MonitorCheck *check)
{
	if (check->read_answered && (check->event_msg == NULL || check->write_answered) && !check->closing)
	{
		check->closing = true;
		ws_close(check->conn);
	}
}

static void
on_open(WsConn *conn, void *user)
{
	MonitorCheck *check = user;

	check->openable = true;
	check->rtt_open = elapsed_ms(check->started_ms);
	check->req_sent_ms = net_clock_us() / 1000.0;
	if (!ws_send_text(conn, check->req_msg, check->req_len))
	{
		snprintf(check->read_problem, sizeof(check->read_problem), "could not send the REQ");
		check->read_answered = true;
	}
	if (check->event_msg)
	{
		check->event_sent_ms = net_clock_us() / 1000.0;
		if (!ws_send_text(conn, check->event_msg, check->event_len))
		{
			snprintf(check->write_problem, sizeof(check->write_problem), "could not send the EVENT");
			check->write_answered = true;
		}
	}
	check_done_with_socket(check);
}

static void
take_read_answer(MonitorCheck *check, const nostr_relay_msg *msg)
{
	if (check->read_answered || strcmp(msg->sub_id, check->sub_id) != 0)
		return;
	check->read_answered = true;
	if (msg->type == NOSTR_MSG_CLOSED && strcmp(msg->prefix, "auth-required") == 0)
		check->auth_required = true;
	if (msg->type == NOSTR_MSG_CLOSED)
		snprintf(check->read_problem, sizeof(check->read_problem), "the relay closed the subscription: %s",
				 msg->message);
	else
	{
		check->readable = true;
		check->rtt_read = elapsed_ms(check->req_sent_ms);
	}
}

static void
on_message(WsConn *conn, void *user, const char *data, size_t len)
{
	MonitorCheck *check = user;
	nostr_relay_msg msg;
	nostr_error err;

	if (nostr_relay_msg_parse(data, len, MONITOR_MAX_MESSAGE, &msg, &err) != NOSTR_OK)
	{
		check->bad_messages++;
		return;
	}
	switch (msg.type)
	{
		case NOSTR_MSG_EVENT:
		case NOSTR_MSG_EOSE:
		case NOSTR_MSG_CLOSED:
			take_read_answer(check, &msg);
			break;
		case NOSTR_MSG_OK:
			if (check->event_msg && !check->write_answered &&
				memcmp(msg.event_id, check->event_id, 32) == 0)
			{
				check->write_answered = true;
				check->rtt_write = elapsed_ms(check->event_sent_ms);
				check->writable = msg.accepted;
				if (!msg.accepted)
					snprintf(check->write_problem, sizeof(check->write_problem),
							 "the relay refused the event: %s", msg.message);
			}
			break;
		case NOSTR_MSG_AUTH:
			/* a challenge during the read test: the relay speaks NIP-42 (we never answer it) */
			if (!check->read_answered)
				check->auth_required = true;
			break;
		default:
			break;				/* NOTICE, COUNT: nothing to measure */
	}
	nostr_relay_msg_free(&msg);
	check_done_with_socket(check);
}

static void
on_close(WsConn *conn, void *user, WsCloseReason reason, const char *detail)
{
	MonitorCheck *check = user;

	check->ws_active = false;
	check->conn = NULL;
	if (!check->openable && check->open_problem[0] == '\0')
		snprintf(check->open_problem, sizeof(check->open_problem), "%s%s%s", ws_close_reason_name(reason),
				 detail && *detail ? ": " : "", detail ? detail : "");
	if (!check->openable)
		return;
	if (!check->read_answered && check->read_problem[0] == '\0')
		snprintf(check->read_problem, sizeof(check->read_problem), "no answer to the REQ before the connection ended (%s)",
				 ws_close_reason_name(reason));
	if (check->event_msg && !check->write_answered && check->write_problem[0] == '\0')
		snprintf(check->write_problem, sizeof(check->write_problem), "no OK before the connection ended (%s)",
				 ws_close_reason_name(reason));
}

static const WsCallbacks callbacks = {on_open, on_message, on_close};

/* The client messages, built before connecting so the callbacks only send them. */
static void
build_messages(MonitorCheck *check, const MonitorSettings *settings)
{
	nostr_filter filter = {0};
	nostr_event ev;
	nostr_error err;
	static const char content[] = "bigbrotr monitor write test";

	snprintf(check->sub_id, sizeof(check->sub_id), "bigbrotr-monitor-%d", check->index);
	filter.has_limit = true;
	filter.limit = 1;
	check->req_msg = nostr_build_req(check->sub_id, &filter, 1, &check->req_len, &err);
	if (check->req_msg == NULL)
		snprintf(check->read_problem, sizeof(check->read_problem), "could not build the REQ: %s", err.message);

	if (!settings->write_test)
		return;
	if (nostr_event_init(&ev, (int64_t) time(NULL), MONITOR_WRITE_TEST_KIND, content, sizeof(content) - 1, &err) != NOSTR_OK ||
		nostr_event_sign(&ev, settings->seckey, &err) != NOSTR_OK ||
		(check->event_msg = nostr_build_event(&ev, &check->event_len, &err)) == NULL)
		snprintf(check->write_problem, sizeof(check->write_problem), "could not build the event: %s", err.message);
	else
		memcpy(check->event_id, ev.id, 32);
	nostr_event_free(&ev);
}

static void
start_nip11(MonitorCheck *check, HttpClient *http, const MonitorSettings *settings)
{
	const char *rest = check->url;
	const char *scheme = "http";

	if (strncmp(rest, "wss://", 6) == 0)
	{
		scheme = "https";
		rest += 6;
	}
	else if (strncmp(rest, "ws://", 5) == 0)
		rest += 5;
	check->http.url = psprintf("%s://%s", scheme, rest);
	check->http.timeout_ms = (long) (check->deadline_ms - check->started_ms);
	check->http.max_body = settings->nip11_max_size;
	check->http.accept = "application/nostr+json";
	check->http.via_tor = check->via_tor;
	check->http.user = check;
	check->http_active = http_client_add(http, &check->http);
	if (!check->http_active)
		snprintf(check->nip11_problem, sizeof(check->nip11_problem), "request not started: %s", check->http.error);
}

void
monitor_check_start(MonitorCheck *check, HttpClient *http, WsLoop *ws, const MonitorSettings *settings)
{
	char		error[256];
	int			budget = check->via_tor ? settings->tor_timeout_ms : settings->timeout_ms;

	check->generated_at = bb_unix_now();
	check->started_ms = net_clock_us() / 1000.0;
	check->deadline_ms = check->started_ms + budget;
	check->rtt_open = check->rtt_read = check->rtt_write = -1;

	start_nip11(check, http, settings);
	build_messages(check, settings);
	if (check->req_msg == NULL)
		return;
	check->conn = ws_connect(ws, check->url, check->via_tor, budget, &callbacks, check, error, sizeof(error));
	check->ws_active = check->conn != NULL;
	if (!check->ws_active)
		snprintf(check->open_problem, sizeof(check->open_problem), "connection not started: %s", error);
}

/* Maps a finished NIP-11 request to the nip11 columns, or says why there is no document. */
static void
finish_nip11(MonitorCheck *check)
{
	HttpRequest *req = &check->http;
	nostr_nip11 doc;
	nostr_error err;

	check->http_active = false;
	if (req->outcome != HTTP_DONE)
		snprintf(check->nip11_problem, sizeof(check->nip11_problem), "request failed (%s): %s",
				 http_outcome_name(req->outcome), req->error);
	else if (req->status != 200)
		snprintf(check->nip11_problem, sizeof(check->nip11_problem), "HTTP status %ld, expected 200", req->status);
	else if (nostr_nip11_map(req->body, req->body_len, &doc, &err) != NOSTR_OK)
		snprintf(check->nip11_problem, sizeof(check->nip11_problem), "the document (%zu bytes, content type %s) is not usable: %s (%s)",
				 req->body_len, req->content_type ? req->content_type : "none", nostr_reason_code(err.code), err.message);
	else
	{
		check->nip11_json = pstrdup(doc.json);
		check->nip11_dropped = doc.wrong_type + doc.unstorable;
		if (check->nip11_dropped > 0)
			snprintf(check->nip11_problem, sizeof(check->nip11_problem), "fields dropped: %s", doc.dropped);
		nostr_nip11_free(&doc);
	}
	/* Bodies would otherwise stay until the client is destroyed at the end of the cycle. */
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
}

bool
monitor_check_poll(MonitorCheck *check, double now_ms)
{
	if (check->http_active && check->http.outcome != HTTP_PENDING)
		finish_nip11(check);
	if (check->ws_active && !check->closing && now_ms >= check->deadline_ms)
	{
		int			budget = (int) (check->deadline_ms - check->started_ms);

		if (!check->openable)
			snprintf(check->open_problem, sizeof(check->open_problem), "not open after %d ms", budget);
		if (check->openable && !check->read_answered)
			snprintf(check->read_problem, sizeof(check->read_problem), "no answer to the REQ within %d ms", budget);
		if (check->event_msg && !check->write_answered)
			snprintf(check->write_problem, sizeof(check->write_problem), "no OK within %d ms", budget);
		check->closing = true;
		ws_close(check->conn);
	}
	check->finished = !check->http_active && !check->ws_active;
	return check->finished;
}

void
monitor_check_release(MonitorCheck *check)
{
	/* The monitor reuses a check's memory for the next relay: nothing malloc'd may stay behind. */
	free(check->http.body);
	check->http.body = NULL;
	check->http.body_len = 0;
	free(check->http.content_type);
	check->http.content_type = NULL;
	free(check->req_msg);
	check->req_msg = NULL;
	free(check->event_msg);
	check->event_msg = NULL;
}
