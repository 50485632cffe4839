/*
 * api_worker.c: one api worker process ("bigbrotr api worker N", started by the coordinator,
 * api_service.c): a libwebsockets server on bigbrotr.api_listen_address:bigbrotr.api_port, shared
 * with the other workers (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE: SO_REUSEPORT, the kernel spreads
 * the connections), HTTP/1.1 with keep-alive and the WebSocket relay endpoint on the same port.
 *
 * Why it is shaped this way:
 * - lws runs its callbacks on the thread that calls lws_service(), so handlers use SPI right there;
 *   a request that runs a query blocks only its worker. Every callback runs under PG_TRY: an ERROR
 *   must never unwind through lws' own frames (it closes that one connection instead).
 * - lws 4.1's lws_service() sleeps until its next scheduled event, so every slice schedules a
 *   100 ms wake-up: the loop checks the stop flag, the postmaster, the coordinator and reloads at
 *   least that often.
 * - A response is never written in one lws_write: the headers, then body chunks of CHUNK_BYTES,
 *   each on LWS_CALLBACK_HTTP_WRITEABLE, with Content-Length set.
 * - lws decodes the URI path (%xx) and collapses "//" before we see it; the router takes the
 *   decoded path and repairs a relay URL in it (api_routes.c). The query string arrives as
 *   decoded name=value fragments (lws splits only at literal '&').
 * - Each connection has its own memory context, reset after each response (HTTP) or each message
 *   (WebSocket, api_relay.c), deleted when the connection closes.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "services/api/api_server.h"

#define WAKE_US 100000			/* the longest lws_service slice */
#define CHUNK_BYTES 16384		/* body bytes per WRITEABLE */
#define MAX_HEADER_DATA 32768	/* request line and headers of one request */
#define MAX_PARAMS 1024

typedef struct OutMsg
{
	struct OutMsg *next;
	size_t		len;
	unsigned char data[FLEXIBLE_ARRAY_MEMBER];	/* LWS_PRE bytes, then the message */
} OutMsg;

typedef struct ApiConn
{
	bool		counted;		/* in open_connections */
	bool		is_ws;
	MemoryContext mem;			/* the connection's; reset after each HTTP response */

	/* HTTP: the request being read */
	bool		in_request;		/* LWS_CALLBACK_HTTP seen, no answer yet */
	bool		answering;		/* a response is being written */
	ApiRequest	req;
	char	   *origin;
	bool		want_nostr_json;
	StringInfoData body;
	bool		body_started;
	int64		started_us;
	int			route;			/* index for the metrics; -1 unmatched */

	/* HTTP: the response being written */
	ApiResponse res;
	bool		head_only;
	bool		close_after;
	bool		headers_sent;
	size_t		body_off;

	/* WebSocket */
	ApiRelayConn *relay;
	StringInfoData rx;
	bool		rx_started;
	bool		rx_too_large;
	OutMsg	   *out_head;
	OutMsg	   *out_tail;
	size_t		pending;		/* bytes queued, not yet handed to lws */
	bool		dropping;
	struct lws *wsi;
} ApiConn;

static struct lws_context *context = NULL;
static struct lws_vhost *vhost = NULL;
static MemoryContext worker_mem = NULL;
static int	open_connections = 0;
static int	worker_max_connections = 256;
static pid_t coordinator_pid = 0;
static lws_sorted_usec_list_t wake;
static bool lws_logging_loud = true;

int64
api_now_us(void)
{
	return (int64) GetCurrentTimestamp();
}

/* lws' own log lines: while the server is being made they explain a failure, later they are noise. */
static void
lws_log_line(int level, const char *line)
{
	size_t		n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (lws_logging_loud)
		bb_log(BB_WARNING, "libwebsockets: %.*s", (int) n, line);
	else
		bb_log(BB_DEBUG, "libwebsockets: %.*s", (int) n, line);
}

static void
wake_noop(lws_sorted_usec_list_t *sul)
{
}

/* ---- connections ---- */

static void
conn_count(ApiConn *conn)
{
	if (!conn->counted)
	{
		conn->counted = true;
		open_connections++;
	}
}

static void
conn_release(ApiConn *conn)
{
	/* The connection's context may be the current one (a close from inside its own answer). */
	MemoryContextSwitchTo(worker_mem);
	if (conn->counted)
	{
		conn->counted = false;
		open_connections--;
	}
	if (conn->is_ws)
	{
		conn->is_ws = false;
		api_metrics_websocket(-1, 0);
	}
	if (conn->mem)
		MemoryContextDelete(conn->mem);
	conn->mem = NULL;
	conn->relay = NULL;
	conn->out_head = conn->out_tail = NULL;
	conn->pending = 0;
	conn->in_request = conn->answering = false;
	conn->body_started = conn->rx_started = false;
}

static void
conn_ensure_mem(ApiConn *conn)
{
	if (conn->mem == NULL)
		conn->mem = AllocSetContextCreate(worker_mem, "bigbrotr api connection", ALLOCSET_SMALL_SIZES);
}

/* ---- HTTP: reading the request ---- */

static char *
copy_header(struct lws *wsi, enum lws_token_indexes token)
{
	int			len = lws_hdr_total_length(wsi, token);
	char	   *buf;

	if (len <= 0)
		return NULL;
	buf = palloc(len + 1);
	if (lws_hdr_copy(wsi, buf, len + 1, token) < 0)
		return NULL;
	return buf;
}

static ApiMethod
request_method(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		return API_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		return API_POST;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
		return API_HEAD;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
		return API_OPTIONS;
	return API_OTHER;
}

/*
 * Whether the decoded path is free of control characters. lws decodes %xx itself: a decoded tab or
 * other control character that reaches us is refused here; at a decoded CR or LF (%0D, %0A) lws 4.1
 * ends the path and drops the rest (measured: "/metrics%0A%23x" arrives as "/metrics", token length 8),
 * so such a request is answered as the path before it: never as a label or header of its own.
 */
static bool
path_clean(const char *path)
{
	for (const unsigned char *p = (const unsigned char *) path; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Whether an Accept header lists media type (a case-insensitive token match, parameters ignored). */
static bool
accepts(const char *accept, const char *type)
{
	size_t		n = strlen(type);
	const char *p = accept;

	if (p == NULL)
		return false;
	while (*p)
	{
		while (*p == ' ' || *p == ',')
			p++;
		if (pg_strncasecmp(p, type, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ';' || p[n] == ' '))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

static void
read_params(struct lws *wsi, ApiConn *conn)
{
	int			cap = 8;

	conn->req.params = palloc(sizeof(ApiParam) * cap);
	conn->req.nparams = 0;
	for (int i = 0; i < MAX_PARAMS; i++)
	{
		int			len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		char	   *frag;
		char	   *eq;

		if (len <= 0)
			break;
		frag = palloc(len + 1);
		if (lws_hdr_copy_fragment(wsi, frag, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		if (conn->req.nparams == cap)
		{
			cap *= 2;
			conn->req.params = repalloc(conn->req.params, sizeof(ApiParam) * cap);
		}
		eq = strchr(frag, '=');
		if (eq)
			*eq = '\0';
		conn->req.params[conn->req.nparams].name = frag;
		conn->req.params[conn->req.nparams].value = eq ? eq + 1 : "";
		conn->req.nparams++;
	}
}

/* ---- HTTP: answering ---- */

static void
response_init(ApiConn *conn)
{
	memset(&conn->res, 0, sizeof(conn->res));
	conn->res.status = 200;
	conn->res.content_type = "application/json";
	initStringInfo(&conn->res.body);
	initStringInfo(&conn->res.headers);
	conn->headers_sent = false;
	conn->body_off = 0;
}

static void
add_cors(ApiConn *conn, bool preflight)
{
	bool		any;

	if (conn->origin == NULL || !api_cors_allowed(conn->origin, &any))
		return;
	api_add_header(&conn->res, "Access-Control-Allow-Origin", any ? "*" : conn->origin);
	api_add_header(&conn->res, "Vary", "Origin");
	if (preflight)
	{
		api_add_header(&conn->res, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
		api_add_header(&conn->res, "Access-Control-Allow-Headers", "Content-Type, Accept");
		api_add_header(&conn->res, "Access-Control-Max-Age", "600");
	}
}

static bool
has_header(ApiResponse *res, const char *name)
{
	size_t		n = strlen(name);
	const char *p = res->headers.data;

	while (p && *p)
	{
		if (pg_strncasecmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return false;
}

static bool
run_nip11(ApiConn *conn)
{
	ApiRoute	nip11 = {API_GET, "/", api_handle_nip11, false};

	api_run_route(&nip11, &conn->req, &conn->res);
	if (!has_header(&conn->res, "Access-Control-Allow-Origin"))
		api_add_header(&conn->res, "Access-Control-Allow-Origin", "*");
	return true;
}

/* Builds the answer to the request read into conn (runs the handler). */
static void
dispatch(ApiConn *conn)
{
	ApiRequest *req = &conn->req;
	char	   *arg = NULL;
	const char *allow = NULL;
	int			r;

	response_init(conn);
	req->max_limit = api_max_limit;
	conn->head_only = req->method == API_HEAD;
	r = api_route_find(req->method == API_OPTIONS ? API_GET : req->method, req->path, &arg, &allow);
	if (r == -2 && req->method == API_OPTIONS)
		r = api_route_find(API_POST, req->path, &arg, &allow);
	conn->route = r >= 0 ? r : -1;
	req->path_arg = arg;

	if (open_connections > worker_max_connections)
	{
		api_error(&conn->res, 503, "busy", "this api worker holds %d connections (bigbrotr.api_max_connections)",
				  worker_max_connections);
		api_add_header(&conn->res, "Retry-After", "1");
		conn->close_after = true;
	}
	else if (req->method == API_OTHER)
	{
		api_error(&conn->res, 405, "method_not_allowed", "only GET, HEAD, POST and OPTIONS are served");
		api_add_header(&conn->res, "Allow", "GET, HEAD, POST, OPTIONS");
	}
	else if (req->method == API_OPTIONS)
	{
		if (r == -1)
			api_error(&conn->res, 404, "not_found", "no such path: %s", req->path);
		else
		{
			const char *methods = NULL;
			char	   *a2;
			const char *al2;
			bool		get = api_route_find(API_GET, req->path, &a2, &al2) >= 0;
			bool		post = api_route_find(API_POST, req->path, &a2, &al2) >= 0;

			methods = get && post ? "GET, HEAD, POST, OPTIONS" : get ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
			conn->res.status = 204;
			api_add_header(&conn->res, "Allow", methods);
			add_cors(conn, true);
		}
	}
	else if ((req->method == API_GET || req->method == API_HEAD) && conn->want_nostr_json &&
			 (r == -1 || strcmp(req->path, "/") == 0))
		run_nip11(conn);
	else if (r == -1)
		api_error(&conn->res, 404, "not_found", "no such path: %s", req->path);
	else if (r == -2)
	{
		api_error(&conn->res, 405, "method_not_allowed", "%s takes %s", req->path, allow);
		api_add_header(&conn->res, "Allow", allow);
	}
	else
		api_run_route(&api_routes[r], req, &conn->res);
	if (req->method != API_OPTIONS)
		add_cors(conn, false);
}

/* The response is ready: it is written from WRITEABLE. */
static void
answer(struct lws *wsi, ApiConn *conn)
{
	conn->in_request = false;
	conn->answering = true;
	lws_callback_on_writable(wsi);
}

static void
answer_now(struct lws *wsi, ApiConn *conn)
{
	dispatch(conn);
	answer(wsi, conn);
}

static const char *
status_text(int status)
{
	switch (status)
	{
		case 200:
			return "OK";
		case 204:
			return "No Content";
		case 400:
			return "Bad Request";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 411:
			return "Length Required";
		case 413:
			return "Payload Too Large";
		case 500:
			return "Internal Server Error";
		case 501:
			return "Not Implemented";
		case 503:
			return "Service Unavailable";
		case 504:
			return "Gateway Timeout";
		default:
			return "";
	}
}

/* The request is answered and its memory goes; returns what the callback returns (-1: close). */
static int
finish_response(struct lws *wsi, ApiConn *conn)
{
	int64		elapsed = api_now_us() - conn->started_us;
	bool		close_it = conn->close_after;

	api_metrics_record(conn->route, conn->res.status, elapsed);
	MemoryContextSwitchTo(worker_mem);
	conn->answering = false;
	conn->close_after = false;
	if (conn->mem)
		MemoryContextReset(conn->mem);
	memset(&conn->req, 0, sizeof(conn->req));
	memset(&conn->res, 0, sizeof(conn->res));
	conn->origin = NULL;
	conn->body_started = false;
	if (close_it)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
write_headers(struct lws *wsi, ApiConn *conn)
{
	ApiResponse *res = &conn->res;
	size_t		size = LWS_PRE + 1024 + res->headers.len;
	unsigned char *buf = palloc(size);
	unsigned char *start = buf + LWS_PRE;
	unsigned char *p = start;
	char		line[128];
	int			n;
	bool		body = res->status != 204;

	/* The status line and our headers are written as they are: this server speaks HTTP/1.1 only. */
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", res->status, status_text(res->status));
	memcpy(p, line, n);
	p += n;
	if (body)
	{
		n = snprintf(line, sizeof(line), "Content-Type: %s\r\nContent-Length: %zu\r\n",
					 res->content_type ? res->content_type : "application/json",
					 (size_t) res->body.len);
		memcpy(p, line, n);
		p += n;
	}
	if (conn->close_after)
	{
		memcpy(p, "Connection: close\r\n", 19);
		p += 19;
	}
	memcpy(p, res->headers.data, res->headers.len);
	p += res->headers.len;
	memcpy(p, "\r\n", 2);
	p += 2;
	Assert(p <= buf + size);
	if (lws_write(wsi, start, p - start, LWS_WRITE_HTTP_HEADERS) != p - start)
		return -1;
	conn->headers_sent = true;
	return 0;
}

static int
http_writeable(struct lws *wsi, ApiConn *conn)
{
	ApiResponse *res = &conn->res;
	size_t		left;
	size_t		n;
	unsigned char *buf;

	if (!conn->answering || conn->mem == NULL)
		return 0;
	MemoryContextSwitchTo(conn->mem);
	if (!conn->headers_sent)
	{
		if (write_headers(wsi, conn) < 0)
			return -1;
		if (conn->head_only || res->status == 204 || res->body.len == 0)
			return finish_response(wsi, conn);
		lws_callback_on_writable(wsi);
		return 0;
	}
	left = res->body.len - conn->body_off;
	n = Min(left, CHUNK_BYTES);
	buf = palloc(LWS_PRE + n);
	memcpy(buf + LWS_PRE, res->body.data + conn->body_off, n);
	if (lws_write(wsi, buf + LWS_PRE, n, n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int) n)
		return -1;
	pfree(buf);
	conn->body_off += n;
	if (conn->body_off >= res->body.len)
		return finish_response(wsi, conn);
	lws_callback_on_writable(wsi);
	return 0;
}

static void
too_large(struct lws *wsi, ApiConn *conn)
{
	response_init(conn);
	api_error(&conn->res, 413, "body_too_large", "the body passed bigbrotr.api_max_body_bytes (%d bytes)",
			  api_max_body_bytes);
	add_cors(conn, false);
	conn->route = -1;
	conn->close_after = true;
	answer(wsi, conn);
}

static int
http_request(struct lws *wsi, ApiConn *conn, const char *path)
{
	char	   *accept;
	char	   *length;

	conn_count(conn);
	conn_ensure_mem(conn);
	MemoryContextSwitchTo(conn->mem);
	memset(&conn->req, 0, sizeof(conn->req));
	conn->started_us = api_now_us();
	conn->in_request = true;
	conn->close_after = false;
	conn->route = -1;
	conn->req.method = request_method(wsi);
	conn->req.path = pstrdup(path && path[0] ? path : "/");
	if (!path_clean(conn->req.path))
	{
		response_init(conn);
		api_error(&conn->res, 400, "bad_parameter", "path: holds an encoded control character");
		add_cors(conn, false);
		answer(wsi, conn);
		return 0;
	}
	read_params(wsi, conn);
	accept = copy_header(wsi, WSI_TOKEN_HTTP_ACCEPT);
	conn->req.want_ndjson = accepts(accept, "application/x-ndjson");
	conn->want_nostr_json = accepts(accept, "application/nostr+json");
	conn->origin = copy_header(wsi, WSI_TOKEN_ORIGIN);
	length = copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (conn->req.method == API_POST && length == NULL &&
		lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
	{
		char	   *arg;
		const char *allow;

		/*
		 * lws 4.1 does not decode a chunked request body: ask for a length instead (after the path's
		 * own 404/405). The body is never read, so the connection closes after the answer.
		 */
		conn->close_after = true;
		if (api_route_find(API_POST, conn->req.path, &arg, &allow) < 0)
		{
			answer_now(wsi, conn);
			return 0;
		}
		response_init(conn);
		api_error(&conn->res, 411, "length_required", "a POST body needs a Content-Length header");
		add_cors(conn, false);
		conn->close_after = true;
		answer(wsi, conn);
		return 0;
	}
	/* lws expects a body after a POST without Content-Length: the connection cannot be reused. */
	if (conn->req.method == API_POST && length == NULL)
		conn->close_after = true;
	if (conn->req.method == API_POST && length != NULL && strtoll(length, NULL, 10) > 0)
	{
		if (strtoll(length, NULL, 10) > api_max_body_bytes)
			too_large(wsi, conn);
		else
		{
			initStringInfo(&conn->body);
			conn->body_started = true;
		}
		return 0;				/* the body follows (LWS_CALLBACK_HTTP_BODY) */
	}
	answer_now(wsi, conn);
	return 0;
}

static int
http_body(struct lws *wsi, ApiConn *conn, const char *in, size_t len)
{
	if (!conn->in_request || conn->mem == NULL)
		return 0;				/* answered already (413): the rest is ignored */
	MemoryContextSwitchTo(conn->mem);
	if (!conn->body_started)
	{
		initStringInfo(&conn->body);
		conn->body_started = true;
	}
	if (conn->body.len + len > (size_t) api_max_body_bytes)
	{
		too_large(wsi, conn);
		return 0;
	}
	appendBinaryStringInfo(&conn->body, in, len);
	return 0;
}

static int
http_body_done(struct lws *wsi, ApiConn *conn)
{
	if (!conn->in_request || conn->mem == NULL)
		return 0;
	MemoryContextSwitchTo(conn->mem);
	if (conn->body_started)
	{
		conn->req.body = conn->body.data;
		conn->req.body_len = conn->body.len;
	}
	answer_now(wsi, conn);
	return 0;
}

/* ---- WebSocket ---- */

static bool
ws_send(void *ctx, const char *msg, size_t len)
{
	ApiConn    *conn = ctx;
	OutMsg	   *m;

	if (conn->dropping || conn->mem == NULL)
		return false;
	if (conn->pending + len > (size_t) api_max_pending_bytes)
	{
		bb_log(BB_INFO, "dropping a WebSocket client: %zu bytes of output unsent (bigbrotr.api_max_pending_bytes)",
			   conn->pending + len);
		conn->dropping = true;
		api_metrics_websocket(0, 1);
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return false;
	}
	m = MemoryContextAlloc(conn->mem, offsetof(OutMsg, data) + LWS_PRE + len);
	m->next = NULL;
	m->len = len;
	memcpy(m->data + LWS_PRE, msg, len);
	if (conn->out_tail)
		conn->out_tail->next = m;
	else
		conn->out_head = m;
	conn->out_tail = m;
	conn->pending += len;
	lws_callback_on_writable(conn->wsi);
	return true;
}

static int
ws_established(struct lws *wsi, ApiConn *conn)
{
	conn->wsi = wsi;
	conn_count(conn);
	if (!conn->is_ws)
	{
		conn->is_ws = true;
		api_metrics_websocket(1, 0);
	}
	if (open_connections > worker_max_connections)
		return -1;
	conn_ensure_mem(conn);
	conn->relay = api_relay_open(conn->mem, ws_send, conn);
	return 0;
}

static int
ws_receive(struct lws *wsi, ApiConn *conn, const char *in, size_t len)
{
	if (conn->mem == NULL || conn->relay == NULL)
		return -1;
	if (!conn->rx_started)
	{
		conn->rx.data = NULL;
		conn->rx_started = true;
		conn->rx_too_large = false;
		conn->rx.data = MemoryContextAlloc(conn->mem, 1024);
		conn->rx.maxlen = 1024;
		conn->rx.len = 0;
		conn->rx.data[0] = '\0';
		conn->rx.cursor = 0;
	}
	if (conn->rx.len + len > (size_t) api_max_body_bytes)
	{
		static const char reason[] = "message too large";

		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *) reason, sizeof(reason) - 1);
		return -1;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(conn->mem);

		appendBinaryStringInfo(&conn->rx, in, len);
		MemoryContextSwitchTo(old);
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return 0;
	conn->rx_started = false;
	if (!api_relay_message(conn->relay, conn->rx.data, conn->rx.len))
	{
		pfree(conn->rx.data);
		return conn->dropping ? 0 : -1;
	}
	pfree(conn->rx.data);
	return 0;
}

static int
ws_writeable(struct lws *wsi, ApiConn *conn)
{
	OutMsg	   *m = conn->out_head;

	if (conn->dropping)
		return -1;
	if (m == NULL)
		return 0;
	conn->out_head = m->next;
	if (conn->out_head == NULL)
		conn->out_tail = NULL;
	conn->pending -= m->len;
	if (lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int) m->len)
	{
		pfree(m);
		return -1;
	}
	pfree(m);
	if (conn->out_head)
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- the one protocol callback ---- */

static int
dispatch_callback(struct lws *wsi, enum lws_callback_reasons reason, ApiConn *conn, void *in, size_t len)
{
	switch (reason)
	{
		case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
			if (conn)
				conn_count(conn);
			return 0;
		case LWS_CALLBACK_HTTP:
			return http_request(wsi, conn, (const char *) in);
		case LWS_CALLBACK_HTTP_BODY:
			return http_body(wsi, conn, (const char *) in, len);
		case LWS_CALLBACK_HTTP_BODY_COMPLETION:
			return http_body_done(wsi, conn);
		case LWS_CALLBACK_HTTP_WRITEABLE:
			return http_writeable(wsi, conn);
		case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
			/* A WebSocket over the connection cap is refused before it is upgraded. */
			if (open_connections > worker_max_connections)
				return 1;
			return 0;
		case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		case LWS_CALLBACK_CLOSED_HTTP:
			if (conn && !conn->is_ws)
				conn_release(conn);
			return 0;
		case LWS_CALLBACK_ESTABLISHED:
			return ws_established(wsi, conn);
		case LWS_CALLBACK_RECEIVE:
			return ws_receive(wsi, conn, (const char *) in, len);
		case LWS_CALLBACK_SERVER_WRITEABLE:
			return ws_writeable(wsi, conn);
		case LWS_CALLBACK_CLOSED:
			if (conn)
				conn_release(conn);
			return 0;
		default:
			return lws_callback_http_dummy(wsi, reason, conn, in, len);
	}
}

/*
 * Every callback returns in the worker's context: lws calls them from lws_service (where the worker's
 * context is current) and from inside one another (a close inside an answer), where the context
 * current at entry may be a connection's that the inner callback deleted.
 */
/* One callback's arguments and result, for bb_catch_error_data. */
typedef struct CallbackCall
{
	struct lws *wsi;
	enum lws_callback_reasons reason;
	ApiConn    *conn;
	void	   *in;
	size_t		len;
	int			rc;
} CallbackCall;

static void
callback_body(void *arg)
{
	CallbackCall *call = arg;

	call->rc = dispatch_callback(call->wsi, call->reason, call->conn, call->in, call->len);
}

static int
api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	CallbackCall call = {wsi, reason, user, in, len, 0};
	ErrorData  *edata;

	if (call.conn == NULL && (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY ||
							  reason == LWS_CALLBACK_HTTP_BODY_COMPLETION || reason == LWS_CALLBACK_HTTP_WRITEABLE ||
							  reason == LWS_CALLBACK_ESTABLISHED || reason == LWS_CALLBACK_RECEIVE ||
							  reason == LWS_CALLBACK_SERVER_WRITEABLE))
		return -1;
	MemoryContextSwitchTo(worker_mem);
	edata = bb_catch_error_data(callback_body, &call, false);
	MemoryContextSwitchTo(worker_mem);
	if (edata == NULL)
		return call.rc;
	bb_log(BB_WARNING, "closing a connection after an error: %s", edata->message);
	FreeErrorData(edata);
	return -1;
}

/*
 * The listening socket is ours: lws 4.1 sets SO_REUSEPORT only when it runs several service
 * threads, so with one thread per process a second worker could not bind the port. lws polls it as
 * an adopted file descriptor and each readable event accepts what is waiting; every accepted
 * socket is adopted as an HTTP connection of the vhost.
 */
static int	listen_fd = -1;

static int
listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	int			one = 1;

	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	for (int i = 0; i < 64; i++)
	{
		int			fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;				/* EAGAIN: another worker took it, or nothing left */
		/*
		 * Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body
		 * until the client's delayed ACK (40 ms per keep-alive request).
		 */
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (lws_adopt_socket_vhost(vhost, fd) == NULL)
			bb_log(BB_DEBUG, "could not adopt an accepted connection");
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"bigbrotr", api_callback, sizeof(ApiConn), 16384, 0, NULL, 0},
	{"bigbrotr-listen", listen_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

static bool
open_listen_socket(void)
{
	struct sockaddr_storage ss;
	socklen_t	sslen;
	int			one = 1;
	struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, api_listen_address, &s4->sin_addr) == 1)
	{
		s4->sin_family = AF_INET;
		s4->sin_port = htons(api_port);
		sslen = sizeof(*s4);
	}
	else if (inet_pton(AF_INET6, api_listen_address, &s6->sin6_addr) == 1)
	{
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(api_port);
		sslen = sizeof(*s6);
	}
	else
	{
		bb_log(BB_WARNING, "bigbrotr.api_listen_address \"%s\" is not an IP address", api_listen_address);
		return false;
	}
	listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
		(ss.ss_family == AF_INET6 && setsockopt(listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
		bind(listen_fd, (struct sockaddr *) &ss, sslen) < 0 ||
		listen(listen_fd, 128) < 0)
	{
		bb_log(BB_WARNING, "could not listen on %s port %d: %m", api_listen_address, api_port);
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
		return false;
	}
	return true;
}

/* ---- the process ---- */

static bool
create_server(void)
{
	struct lws_context_creation_info info;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
	lws_logging_loud = true;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.max_http_header_data = MAX_HEADER_DATA;
	info.max_http_header_pool = (unsigned short) Min(Max(worker_max_connections, 4) + 1, 1024);
	info.keepalive_timeout = 5;
	info.timeout_secs = 30;
	context = lws_create_context(&info);
	if (context == NULL)
	{
		bb_log(BB_WARNING, "could not create the libwebsockets context");
		return false;
	}
	memset(&info, 0, sizeof(info));
	info.vhost_name = "bigbrotr-api";
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.keepalive_timeout = 5;
	info.timeout_secs = 30;
	vhost = lws_create_vhost(context, &info);
	if (vhost == NULL)
	{
		bb_log(BB_WARNING, "could not create the libwebsockets server");
		return false;
	}
	if (!open_listen_socket())
		return false;
	{
		lws_sock_file_fd_type fd;

		fd.filefd = listen_fd;
		if (lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "bigbrotr-listen", NULL) == NULL)
		{
			bb_log(BB_WARNING, "libwebsockets could not watch the listening socket");
			return false;
		}
	}
	lws_logging_loud = false;
	return true;
}

static bool
coordinator_alive(void)
{
	return coordinator_pid <= 0 || kill(coordinator_pid, 0) == 0 || errno != ESRCH;
}

void
bigbrotr_api_worker_main(Datum main_arg)
{
	service_install_signal_handlers();
	bigbrotr_process_name = "api worker";
	coordinator_pid = (pid_t) atoi(MyBgworkerEntry->bgw_extra);
	bb_worker_connect();
	pgstat_report_appname(MyBgworkerEntry->bgw_name);
	worker_mem = AllocSetContextCreate(TopMemoryContext, "bigbrotr api worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_mem);
	worker_max_connections = api_max_connections;

	if (!create_server())
	{
		if (context)
			lws_context_destroy(context);
		proc_exit(1);
	}
	bb_log(BB_DEBUG, "serving %s port %d (pid %d)", api_listen_address, api_port, (int) MyProcPid);

	PG_TRY();
	{
		for (;;)
		{
			if (service_should_stop())
				break;
			if (!coordinator_alive())
			{
				bb_log(BB_INFO, "the api coordinator (pid %d) is gone; exiting", (int) coordinator_pid);
				break;
			}
			service_reload_if_pending();
			MemoryContextSwitchTo(worker_mem);
			lws_sul_schedule(context, 0, &wake, wake_noop, WAKE_US);
			if (lws_service(context, 0) < 0)
			{
				bb_log(BB_WARNING, "lws_service failed; exiting");
				break;
			}
		}
	}
	PG_CATCH();
	{
		/* Outside any callback: lws itself is fine, but this worker's state may not be. */
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		proc_exit(1);
	}
	PG_END_TRY();
	lws_sul_cancel(&wake);
	lws_context_destroy(context);
	context = NULL;
	proc_exit(0);
}
