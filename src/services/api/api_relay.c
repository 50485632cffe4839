/*
 * api_relay.c: the read-only Nostr relay endpoint's protocol, one state per WebSocket connection
 * (docs/api.md "The relay endpoint"). A client message is parsed by nostr_client_msg_parse; REQ and
 * COUNT run in the same request transaction as the REST handlers (api_request.c), so the same
 * role, READ ONLY and statement timeout apply; REQ answers the stored events then EOSE (no live
 * stream: the subscription stays registered until CLOSE and counts toward
 * bigbrotr.api_max_subscriptions). EVENT and AUTH are refused with OK false. Malformed messages get
 * a NOTICE and the connection goes on. Outgoing messages go to the worker's queue (api_worker.c),
 * which drops a client whose unsent output passes bigbrotr.api_max_pending_bytes.
 */
#include "postgres.h"

#include "utils/json.h"
#include "utils/memutils.h"

#include "nostr/filter.h"
#include "services/api/api_server.h"

struct ApiRelayConn
{
	MemoryContext mem;			/* the connection's: subscription ids */
	MemoryContext msg_mem;		/* reset after each message */
	ApiRelaySend send;
	void	   *send_ctx;
	List	   *subs;			/* char *, the registered subscription ids */
	bool		dropped;		/* a send failed: the client is being dropped */
};

ApiRelayConn *
api_relay_open(MemoryContext mem, ApiRelaySend send, void *send_ctx)
{
	ApiRelayConn *rc = MemoryContextAllocZero(mem, sizeof(ApiRelayConn));

	rc->mem = mem;
	rc->msg_mem = AllocSetContextCreate(mem, "bigbrotr api relay message", ALLOCSET_DEFAULT_SIZES);
	rc->send = send;
	rc->send_ctx = send_ctx;
	return rc;
}

static void
send_text(ApiRelayConn *rc, StringInfo buf)
{
	if (rc->dropped)
		return;
	if (!rc->send(rc->send_ctx, buf->data, buf->len))
		rc->dropped = true;
}

/* ["LABEL", "a"] / ["LABEL", "a", "b"]: a message of one or two strings. */
static void
send_strings(ApiRelayConn *rc, const char *label, const char *a, const char *b)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	escape_json(&buf, label);
	appendStringInfoChar(&buf, ',');
	escape_json(&buf, a);
	if (b)
	{
		appendStringInfoChar(&buf, ',');
		escape_json(&buf, b);
	}
	appendStringInfoChar(&buf, ']');
	send_text(rc, &buf);
	pfree(buf.data);
}

static void
send_notice(ApiRelayConn *rc, const char *fmt,...) pg_attribute_printf(2, 3);

static void
send_notice(ApiRelayConn *rc, const char *fmt,...)
{
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	send_strings(rc, "NOTICE", msg.data, NULL);
	pfree(msg.data);
}

static void
send_ok_false(ApiRelayConn *rc, const char *id, const char *reason)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "[\"OK\",");
	escape_json(&buf, id ? id : "");
	appendStringInfoString(&buf, ",false,");
	escape_json(&buf, reason);
	appendStringInfoChar(&buf, ']');
	send_text(rc, &buf);
	pfree(buf.data);
}

static ListCell *
find_sub(ApiRelayConn *rc, const char *sub)
{
	ListCell   *lc;

	foreach(lc, rc->subs)
		if (strcmp((char *) lfirst(lc), sub) == 0)
			return lc;
	return NULL;
}

static void
forget_sub(ApiRelayConn *rc, const char *sub)
{
	ListCell   *lc = find_sub(rc, sub);
	MemoryContext old;

	if (lc == NULL)
		return;
	old = MemoryContextSwitchTo(rc->mem);
	pfree(lfirst(lc));
	rc->subs = list_delete_cell(rc->subs, lc);
	MemoryContextSwitchTo(old);
}

static bool
emit_to_client(void *ctx, const char *msg, size_t len)
{
	ApiRelayConn *rc = ctx;

	if (rc->dropped)
		return false;
	if (!rc->send(rc->send_ctx, msg, len))
		rc->dropped = true;
	return !rc->dropped;
}

typedef struct ReqRun
{
	ApiRelayConn *rc;
	nostr_client_msg *msg;
	bool		ok;
	char	   *closed;
	int64		count;
	bool		approximate;
} ReqRun;

static void
req_body(void *arg)
{
	ReqRun	   *run = arg;

	run->ok = api_relay_req(run->msg->sub_id, run->msg->filters, (int) run->msg->filters_count,
							api_max_limit, emit_to_client, run->rc, &run->closed);
}

static void
count_body(void *arg)
{
	ReqRun	   *run = arg;

	run->ok = api_relay_count(run->msg->filters, (int) run->msg->filters_count, &run->count,
							  &run->approximate, &run->closed);
}

/* A failed REQ or COUNT: the reason the client sees in CLOSED, and the metrics' status. */
static const char *
run_failure(ApiRunResult r, const char *message, int *status)
{
	switch (r)
	{
		case API_RUN_TIMEOUT:
			*status = 504;
			return "error: timeout";
		case API_RUN_BAD_VALUE:
			*status = 400;
			return psprintf("error: %s", message);
		case API_RUN_STOPPING:
			*status = 503;
			return "error: shutting down";
		default:
			*status = 500;
			return "error: internal error";
	}
}

static int
handle_req(ApiRelayConn *rc, nostr_client_msg *msg)
{
	ReqRun		run = {rc, msg, false, NULL, 0, false};
	char	   *message;
	ApiRunResult r;
	int			status = 200;

	if (find_sub(rc, msg->sub_id) == NULL)
	{
		MemoryContext old;

		if (list_length(rc->subs) >= api_max_subscriptions)
		{
			send_strings(rc, "CLOSED", msg->sub_id, "error: too many subscriptions");
			return 429;
		}
		old = MemoryContextSwitchTo(rc->mem);
		rc->subs = lappend(rc->subs, pstrdup(msg->sub_id));
		MemoryContextSwitchTo(old);
	}
	r = api_run_guarded(req_body, &run, true, "REQ", &message);
	if (rc->dropped)
		return 200;
	if (r != API_RUN_OK)
	{
		forget_sub(rc, msg->sub_id);
		send_strings(rc, "CLOSED", msg->sub_id, run_failure(r, message, &status));
		return status;
	}
	if (!run.ok)
	{
		forget_sub(rc, msg->sub_id);
		send_strings(rc, "CLOSED", msg->sub_id, run.closed ? run.closed : "error: refused");
		return 400;
	}
	send_strings(rc, "EOSE", msg->sub_id, NULL);
	return 200;
}

static int
handle_count(ApiRelayConn *rc, nostr_client_msg *msg)
{
	ReqRun		run = {rc, msg, false, NULL, 0, false};
	char	   *message;
	ApiRunResult r = api_run_guarded(count_body, &run, true, "COUNT", &message);
	int			status = 200;
	StringInfoData buf;

	if (r != API_RUN_OK)
	{
		send_strings(rc, "CLOSED", msg->sub_id, run_failure(r, message, &status));
		return status;
	}
	if (!run.ok)
	{
		send_strings(rc, "CLOSED", msg->sub_id, run.closed ? run.closed : "error: refused");
		return 400;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "[\"COUNT\",");
	escape_json(&buf, msg->sub_id);
	appendStringInfo(&buf, ",{\"count\":" INT64_FORMAT "%s}]", run.count,
					 run.approximate ? ",\"approximate\":true" : "");
	send_text(rc, &buf);
	return 200;
}

bool
api_relay_message(ApiRelayConn *rc, const char *text, size_t len)
{
	MemoryContext old = MemoryContextSwitchTo(rc->msg_mem);
	int64		started = api_now_us();
	nostr_client_msg msg;
	nostr_error err;
	int			status = 200;

	memset(&msg, 0, sizeof(msg));
	nostr_error_clear(&err);
	if (nostr_client_msg_parse(text, len, (size_t) api_max_body_bytes, &msg, &err) != NOSTR_OK)
	{
		send_notice(rc, "error: %s", err.message[0] ? err.message : nostr_reason_code(err.code));
		status = 400;
	}
	else
	{
		switch (msg.type)
		{
			case NOSTR_CLIENT_REQ:
				status = handle_req(rc, &msg);
				break;
			case NOSTR_CLIENT_COUNT:
				status = handle_count(rc, &msg);
				break;
			case NOSTR_CLIENT_CLOSE:
				forget_sub(rc, msg.sub_id);
				break;
			case NOSTR_CLIENT_EVENT:
				send_ok_false(rc, msg.event_id_hex, "blocked: read-only archive");
				break;
			case NOSTR_CLIENT_AUTH:
				send_ok_false(rc, msg.event_id_hex, "blocked: no auth here");
				break;
			default:
				send_notice(rc, "error: unsupported message type \"%s\"", msg.label ? msg.label : "");
				status = 400;
				break;
		}
		nostr_client_msg_free(&msg);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(rc->msg_mem);
	api_metrics_record(api_routes_count, status, api_now_us() - started);
	return !rc->dropped;
}
