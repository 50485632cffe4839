/*
 * ws_client.c: the libwebsockets (4.1) glue behind ws_client.h.
 *
 * Why it is shaped this way:
 * - lws 4.1's lws_service() ignores its timeout and sleeps until the next scheduled lws event, so
 *   every slice schedules a wake-up timer of its own; that keeps ws_loop_run bounded.
 * - lws resolves names with a blocking getaddrinfo and cannot tell us which address it picked, so we
 *   resolve ourselves with glibc's getaddrinfo_a (polled, never waited on), refuse private targets on
 *   the resolved address, and hand lws that IP literal as the address while the relay's name goes in
 *   the Host header, which lws 4.1 also uses for SNI and the certificate hostname check. Connecting
 *   to the very address we checked closes the DNS-rebinding gap.
 * - Connections through Tor use a second vhost carrying the HTTP CONNECT proxy; the proxy resolves
 *   the name (no local DNS, .onion names never leave the proxy).
 * - on_close is called from one place (finish) guarded by the connection's state, whatever path
 *   (lws error, lws close, wsi destruction, our own timeout, loop destruction) gets there first. A
 *   connection's memory lives until both on_close has run and lws has destroyed its wsi.
 * - Every lws call that can fail is checked: a failure closes that one connection with a detail
 *   naming it (lws_write, lws_callback_on_writable, lws_add_http_header_by_token,
 *   lws_client_connect_via_info), or, for lws_service, which fails only when the context is
 *   unusable, every connection of the loop. lws' own error lines are kept while the loop is made,
 *   so a context or vhost lws refuses is reported with lws' reason.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* EAI_INPROGRESS */
#endif
#include "net/ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/x509.h>

#include "net/clock.h"
#include "net/dns_async.h"
#include "nostr/buf.h"
#include "nostr/relay_url.h"

#define WS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define WS_DEFAULT_MAX_MESSAGE ((size_t) 16 * 1024 * 1024)
#define WS_DEFAULT_CONNECT_TIMEOUT_MS 30000
#define WS_WAKE_MS 20			/* how often abandoned lookups are checked for completion */
#define WS_DNS_POLL_MS 5		/* how often a running lookup is checked (getaddrinfo_a is polled) */
#define WS_CLOSE_GRACE_S 3		/* a peer that will not take our close frame is dropped after this */
#define WS_DETAIL_MAX 256
#define WS_LWS_TIMEOUT_S 300	/* backstop only: connect_timeout_ms is enforced by us */

typedef enum ConnState
{
	CONN_RESOLVING,				/* waiting for getaddrinfo_a */
	CONN_READY,					/* target address known, lws connection not started */
	CONN_CONNECTING,			/* lws has a wsi, the handshake is not done */
	CONN_OPEN,
	CONN_DONE					/* on_close has been called */
} ConnState;

typedef struct SendItem
{
	struct SendItem *next;
	size_t		len;
	unsigned char buf[];		/* LWS_PRE bytes of headroom lws needs, then the message */
} SendItem;

struct WsConn
{
	WsLoop	   *loop;
	WsConn	   *prev;
	WsConn	   *next;
	ConnState	state;
	WsCallbacks cb;
	void	   *user;
	bool		via_tor;
	bool		close_requested;
	bool		pending_finish;	/* finish with pending_reason at the next advance */
	WsCloseReason pending_reason;
	char		pending_detail[WS_DETAIL_MAX];
	char		peer_close[WS_DETAIL_MAX];	/* the peer's close frame, for the detail */
	char		tls_error[128];	/* why the certificate was rejected; lws only says "SSL err 1" */
	int64_t		deadline_ms;
	struct lws *wsi;
	DnsLookup  *dns;

	bool		secure;
	int			port;
	char		host[NOSTR_RELAY_HOST_MAX];
	char		host_header[NOSTR_RELAY_HOST_MAX + 16];
	char		address[NOSTR_RELAY_HOST_MAX];	/* resolved IP literal, or the name for via_tor */
	char		path[NOSTR_RELAY_URL_MAX + 1];

	nostr_buf	rx;				/* the message being reassembled */
	bool		rx_in_message;
	bool		rx_binary;

	SendItem   *sq_head;
	SendItem   *sq_tail;
};

struct WsLoop
{
	struct lws_context *context;
	struct lws_vhost *direct;
	struct lws_vhost *tunnel;
	bool		allow_private;
	size_t		max_message;
	char	   *user_agent;
	char	   *proxy_host;
	char	   *ca_file;
	WsConn	   *head;
	WsConn	   *tail;
	int			alive;			/* connections whose on_close has not run */
	bool		in_service;		/* inside ws_loop_run: callbacks may be running */
	DnsLookup  *orphans;		/* lookups given up on, still held by glibc */
	lws_sorted_usec_list_t wake;
	bool		failed;			/* lws_service failed: the context cannot be serviced again */
	char		failure[WS_DETAIL_MAX];
};

static int	ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
						size_t len);

static const struct lws_protocols ws_protocols[] = {
	{"bigbrotr-ws-client", ws_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

const char *
ws_close_reason_name(WsCloseReason reason)
{
	switch (reason)
	{
		case WS_CLOSE_NORMAL:
			return "normal";
		case WS_CLOSE_REMOTE:
			return "remote";
		case WS_CLOSE_CONNECT_FAILED:
			return "connect_failed";
		case WS_CLOSE_REFUSED_PRIVATE:
			return "refused_private_address";
		case WS_CLOSE_TIMEOUT:
			return "timeout";
		case WS_CLOSE_TOO_LARGE:
			return "too_large";
		case WS_CLOSE_SHUTDOWN:
			return "shutdown";
	}
	return "unknown";
}

/*
 * lws logs go nowhere: every failure reaches the caller through on_close's detail instead. The
 * last error line is kept (cleared before each lws call that reports through it), to say why lws
 * refused a context or a vhost, or why lws_service failed.
 */
static char lws_last_error[WS_DETAIL_MAX];

static void
lws_log_drop(int level, const char *line)
{
	size_t		n;

	if (!(level & LLL_ERR))
		return;
	n = strcspn(line, "\n");
	if (n >= sizeof(lws_last_error))
		n = sizeof(lws_last_error) - 1;
	memcpy(lws_last_error, line, n);
	lws_last_error[n] = '\0';
}

static void
wake_noop(lws_sorted_usec_list_t *sul)
{
}

/* ---- finishing a connection ---- */

static void
send_queue_free(WsConn *conn)
{
	while (conn->sq_head)
	{
		SendItem   *item = conn->sq_head;

		conn->sq_head = item->next;
		free(item);
	}
	conn->sq_tail = NULL;
}

/*
 * The one place on_close is called. Does not touch the wsi: callers inside an lws callback return -1
 * for it, callers outside ask lws to kill it (kill_wsi).
 */
static void
finish(WsConn *conn, WsCloseReason reason, const char *detail)
{
	if (conn->state == CONN_DONE)
		return;
	conn->state = CONN_DONE;
	conn->loop->alive--;
	if (conn->dns)
	{
		dns_lookup_abandon(&conn->loop->orphans, conn->dns);
		conn->dns = NULL;
	}
	send_queue_free(conn);
	nostr_buf_free(&conn->rx);
	if (conn->cb.on_close)
		conn->cb.on_close(conn, conn->user, reason, detail ? detail : "");
}

static void
finishf(WsConn *conn, WsCloseReason reason, const char *fmt,...)
__attribute__((format(printf, 3, 4)));

static void
finishf(WsConn *conn, WsCloseReason reason, const char *fmt,...)
{
	char		detail[WS_DETAIL_MAX];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	finish(conn, reason, detail);
}

/* Outside lws callbacks: lws closes the wsi during the next service, then destroys it. */
static void
kill_wsi(WsConn *conn)
{
	if (conn->wsi)
		lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * Outside lws callbacks, where on_close must not run (ws_send_text may be called from anywhere):
 * the next advance finishes the connection with this reason and kills its wsi.
 */
static void
finish_later(WsConn *conn, WsCloseReason reason, const char *detail)
{
	if (conn->pending_finish)
		return;
	conn->pending_finish = true;
	conn->pending_reason = reason;
	snprintf(conn->pending_detail, sizeof(conn->pending_detail), "%s", detail);
	if (conn->loop->in_service)
		lws_cancel_service(conn->loop->context);
}

/*
 * lws_callback_on_writable returns -1 when the socket is no longer in lws' poll set (0 when the
 * connection is already shutting down, which lws finishes by itself).
 */
#define WRITABLE_FAILED "lws_callback_on_writable failed: the socket left lws' poll set"

/* ---- lws callback ---- */

static int
on_receive(WsConn *conn, struct lws *wsi, const char *in, size_t len)
{
	WsLoop	   *loop = conn->loop;

	/* The rest of a message we gave up on, arriving before lws kills the connection: dropped. */
	if (conn->state == CONN_DONE)
		return 0;
	if (!conn->rx_in_message)
	{
		conn->rx_in_message = true;
		conn->rx.len = 0;
		conn->rx_binary = lws_frame_is_binary(wsi);
	}
	/*
	 * Returning -1 here, in the middle of a frame, makes lws 4.1.6 write past its rx buffer (seen
	 * under valgrind), so the connection is killed from the outside instead and the rest dropped.
	 */
	if (len > loop->max_message - conn->rx.len)
	{
		finishf(conn, WS_CLOSE_TOO_LARGE, "message larger than %zu bytes", loop->max_message);
		kill_wsi(conn);
		return 0;
	}
	if (!nostr_buf_append(&conn->rx, in, len))
	{
		finish(conn, WS_CLOSE_TOO_LARGE, "out of memory for a message");
		kill_wsi(conn);
		return 0;
	}

	if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
	{
		conn->rx_in_message = false;
		/* Nostr speaks text; a binary message is read (and size-checked) but not delivered. */
		if (!conn->rx_binary && conn->cb.on_message)
			conn->cb.on_message(conn, conn->user, conn->rx.data, conn->rx.len);
		conn->rx.len = 0;
		/* Do not keep a huge buffer around for one big message. */
		if (conn->rx.cap > 256 * 1024)
			nostr_buf_free(&conn->rx);
	}
	return 0;
}

static int
on_writable(WsConn *conn, struct lws *wsi)
{
	SendItem   *item;
	int			n;

	if (conn->state == CONN_DONE)
		return -1;
	if (conn->close_requested)
	{
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	item = conn->sq_head;
	if (item == NULL)
		return 0;
	conn->sq_head = item->next;
	if (conn->sq_head == NULL)
		conn->sq_tail = NULL;
	/* lws buffers what the socket does not take: less than len back is a failure, -1 a fatal one. */
	n = lws_write(wsi, item->buf + LWS_PRE, item->len, LWS_WRITE_TEXT);
	if (n < 0 || (size_t) n < item->len)
	{
		finishf(conn, WS_CLOSE_REMOTE, "lws_write of a %zu-byte message failed (returned %d)", item->len, n);
		free(item);
		return -1;
	}
	free(item);
	if (conn->sq_head && lws_callback_on_writable(wsi) < 0)
	{
		finish(conn, WS_CLOSE_REMOTE, WRITABLE_FAILED);
		return -1;
	}
	return 0;
}

static void
copy_detail(char *dst, const void *in, size_t len, const char *fallback)
{
	if (in == NULL || len == 0)
	{
		snprintf(dst, WS_DETAIL_MAX, "%s", fallback);
		return;
	}
	if (len >= WS_DETAIL_MAX)
		len = WS_DETAIL_MAX - 1;
	memcpy(dst, in, len);
	dst[len] = '\0';
}

/* Keeps the peer's close code and reason: "closed by the relay (1000 bye)". */
static void
note_peer_close(WsConn *conn, const unsigned char *in, size_t len)
{
	int			code = len >= 2 ? (in[0] << 8) | in[1] : 0;
	int			rlen = len > 2 ? (int) (len - 2) : 0;

	if (rlen > 128)
		rlen = 128;
	snprintf(conn->peer_close, sizeof(conn->peer_close), "closed by the relay (%d%s%.*s)", code,
			 rlen ? " " : "", rlen, rlen ? (const char *) in + 2 : "");
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	WsConn	   *conn = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	char		detail[WS_DETAIL_MAX];

	if (conn == NULL)
		return 0;

	switch (reason)
	{
		case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
			{
				unsigned char **p = (unsigned char **) in;
				const char *ua = conn->loop->user_agent;

				if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
												 (const unsigned char *) ua, (int) strlen(ua),
												 p, *p + len))
				{
					finishf(conn, WS_CLOSE_CONNECT_FAILED,
							"lws_add_http_header_by_token failed: the User-Agent (%zu bytes) does not "
							"fit in the %zu bytes left for the handshake", strlen(ua), len);
					return -1;
				}
				break;
			}
		case LWS_CALLBACK_CLIENT_ESTABLISHED:
			if (conn->state == CONN_DONE)
				return -1;
			conn->state = CONN_OPEN;
			if ((conn->close_requested || conn->sq_head) && lws_callback_on_writable(wsi) < 0)
			{
				finish(conn, conn->close_requested ? WS_CLOSE_NORMAL : WS_CLOSE_REMOTE, WRITABLE_FAILED);
				return -1;
			}
			if (!conn->close_requested && conn->cb.on_open)
				conn->cb.on_open(conn, conn->user);
			break;
		case LWS_CALLBACK_CLIENT_RECEIVE:
			return on_receive(conn, wsi, in, len);
		case LWS_CALLBACK_CLIENT_WRITEABLE:
			return on_writable(conn, wsi);
		case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
			note_peer_close(conn, in, len);
			break;
		case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
			/* user is the X509_STORE_CTX, len is OpenSSL's preverify_ok; lws decides, we take notes. */
			if (!len && user)
				snprintf(conn->tls_error, sizeof(conn->tls_error), "%s",
						 X509_verify_cert_error_string(X509_STORE_CTX_get_error((X509_STORE_CTX *) user)));
			break;
		case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
			copy_detail(detail, in, len, "connection failed");
			if (conn->close_requested)
				finish(conn, WS_CLOSE_NORMAL, "closed by us before the connection opened");
			else if (conn->tls_error[0])
				finishf(conn, WS_CLOSE_CONNECT_FAILED, "TLS certificate of %s rejected: %s", conn->host,
						conn->tls_error);
			else if (conn->via_tor)
				finishf(conn, WS_CLOSE_CONNECT_FAILED, "%s (%s port %d through the tunnel proxy)", detail,
						conn->host, conn->port);
			else
				finishf(conn, WS_CLOSE_CONNECT_FAILED, "%s (%s port %d)", detail, conn->address, conn->port);
			break;
		case LWS_CALLBACK_CLIENT_CLOSED:
			if (conn->close_requested)
				finish(conn, WS_CLOSE_NORMAL, "closed by us");
			else
				finish(conn, WS_CLOSE_REMOTE,
					   conn->peer_close[0] ? conn->peer_close : "connection closed by the relay");
			break;
		case LWS_CALLBACK_WSI_DESTROY:
			conn->wsi = NULL;
			if (conn->close_requested)
				finish(conn, WS_CLOSE_NORMAL, "closed by us");
			else if (conn->state == CONN_OPEN)
				finish(conn, WS_CLOSE_REMOTE,
					   conn->peer_close[0] ? conn->peer_close : "connection dropped");
			else
				finish(conn, WS_CLOSE_CONNECT_FAILED, "connection failed before the handshake");
			break;
		default:
			break;
	}
	return 0;
}

/* ---- the loop ---- */

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct lws_vhost *
make_vhost(WsLoop *loop, const char *name, const char *proxy_host, int proxy_port)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = name;
	info.client_ssl_ca_filepath = loop->ca_file;
	info.http_proxy_address = proxy_host;
	info.http_proxy_port = proxy_port > 0 ? (unsigned int) proxy_port : 0;
	lws_last_error[0] = '\0';
	return lws_create_vhost(loop->context, &info);
}

/*
 * lws looks the proxy's name up with a blocking getaddrinfo on every connection it makes through it;
 * resolving it once here (a local name such as a compose service, or a literal) keeps that out of
 * the connection path.
 */
static bool
resolve_proxy_host(const char *host, char ip[INET6_ADDRSTRLEN], char *error, size_t error_len)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	int			rc;
	bool		ok;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;	/* lws' proxy setting takes host:port, which an IPv6 literal breaks */
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL)
	{
		snprintf(error, error_len, "cannot resolve the tunnel proxy host %s: %s", host, gai_strerror(rc));
		return false;
	}
	ok = inet_ntop(AF_INET, &((struct sockaddr_in *) res->ai_addr)->sin_addr, ip, INET6_ADDRSTRLEN) != NULL;
	if (!ok)
		snprintf(error, error_len, "cannot write the address of the tunnel proxy host %s: %s", host,
				 strerror(errno));
	freeaddrinfo(res);
	return ok;
}

static WsLoop *
create_failed(WsLoop *loop, WsCreateFailure kind, WsCreateFailure *failure)
{
	ws_loop_destroy(loop);
	if (failure)
		*failure = kind;
	return NULL;
}

/* lws' last error line, as " (lws: ...)", or nothing when it said none. */
static const char *
lws_reason(char *buf, size_t len)
{
	if (lws_last_error[0])
		snprintf(buf, len, " (lws: %s)", lws_last_error);
	else
		buf[0] = '\0';
	return buf;
}

WsLoop *
ws_loop_create(const WsLoopOptions *options, WsCreateFailure *failure, char *error, size_t error_len)
{
	struct lws_context_creation_info info;
	WsLoop	   *loop;
	char	   *env_proxy;
	char		why[WS_DETAIL_MAX + 8];

	loop = calloc(1, sizeof(WsLoop));
	if (loop == NULL)
	{
		snprintf(error, error_len, "out of memory");
		return create_failed(NULL, WS_CREATE_NO_MEMORY, failure);
	}
	loop->allow_private = options->allow_private_addresses;
	loop->max_message = options->max_message_size ? options->max_message_size : WS_DEFAULT_MAX_MESSAGE;
	loop->user_agent = strdup(options->user_agent && options->user_agent[0] ? options->user_agent : "bigbrotr");
	if (options->ca_file && options->ca_file[0])
		loop->ca_file = strdup(options->ca_file);
	else if (access(WS_SYSTEM_CA_FILE, R_OK) == 0)
		loop->ca_file = strdup(WS_SYSTEM_CA_FILE);
	if (loop->user_agent == NULL || (loop->ca_file == NULL && options->ca_file && options->ca_file[0]))
	{
		snprintf(error, error_len, "out of memory");
		return create_failed(loop, WS_CREATE_NO_MEMORY, failure);
	}
	if (options->tunnel_proxy_host && options->tunnel_proxy_host[0])
	{
		char		ip[INET6_ADDRSTRLEN];

		if (options->tunnel_proxy_port <= 0 || options->tunnel_proxy_port > 65535)
		{
			snprintf(error, error_len, "tunnel proxy port %d is out of range", options->tunnel_proxy_port);
			return create_failed(loop, WS_CREATE_BAD_OPTION, failure);
		}
		if (!resolve_proxy_host(options->tunnel_proxy_host, ip, error, error_len))
			return create_failed(loop, WS_CREATE_PROXY_UNRESOLVED, failure);
		if ((loop->proxy_host = strdup(ip)) == NULL)
		{
			snprintf(error, error_len, "out of memory");
			return create_failed(loop, WS_CREATE_NO_MEMORY, failure);
		}
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_drop);
	lws_last_error[0] = '\0';

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.gid = -1;
	info.uid = -1;
	info.protocols = ws_protocols;
	/* lws' own network timeouts (20 s by default) would cut a slow Tor handshake short: ours rule. */
	info.timeout_secs = WS_LWS_TIMEOUT_S;
	loop->context = lws_create_context(&info);
	if (loop->context == NULL)
	{
		snprintf(error, error_len, "lws_create_context failed%s", lws_reason(why, sizeof(why)));
		return create_failed(loop, WS_CREATE_LIBRARY, failure);
	}

	/*
	 * lws gives a vhost without a proxy the one in $http_proxy: direct connections must stay direct
	 * (and keep our address checks), so the variable is hidden while the direct vhost is made.
	 */
	env_proxy = dup_or_null(getenv("http_proxy"));
	if (getenv("http_proxy") && env_proxy == NULL)
	{
		snprintf(error, error_len, "out of memory");
		return create_failed(loop, WS_CREATE_NO_MEMORY, failure);
	}
	if (env_proxy)
		unsetenv("http_proxy");
	loop->direct = make_vhost(loop, "direct", NULL, 0);
	if (env_proxy)
	{
		setenv("http_proxy", env_proxy, 1);
		free(env_proxy);
	}
	/* lws makes the vhost even when it cannot load the CA file, and says so only in its log. */
	if (loop->direct == NULL || lws_last_error[0])
	{
		snprintf(error, error_len, "could not create the direct vhost (CA file %s)%s",
				 loop->ca_file ? loop->ca_file : "(default)", lws_reason(why, sizeof(why)));
		return create_failed(loop, WS_CREATE_LIBRARY, failure);
	}
	if (loop->proxy_host)
	{
		loop->tunnel = make_vhost(loop, "tunnel", loop->proxy_host, options->tunnel_proxy_port);
		if (loop->tunnel == NULL || lws_last_error[0])
		{
			snprintf(error, error_len, "could not create the proxy vhost for %s:%d%s",
					 loop->proxy_host, options->tunnel_proxy_port, lws_reason(why, sizeof(why)));
			return create_failed(loop, WS_CREATE_LIBRARY, failure);
		}
	}
	return loop;
}

/* Picks the address to connect to: the first allowed one. False (detail set) when none is. */
static bool
pick_address(WsConn *conn, const struct addrinfo *list, char *detail)
{
	const struct addrinfo *ai;
	const struct sockaddr *refused = NULL;

	for (ai = list; ai; ai = ai->ai_next)
	{
		const void *raw;

		if (ai->ai_family == AF_INET)
			raw = &((const struct sockaddr_in *) ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			raw = &((const struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
		else
			continue;
		if (!conn->loop->allow_private && nostr_sockaddr_is_private(ai->ai_addr))
		{
			if (refused == NULL)
				refused = ai->ai_addr;
			continue;
		}
		if (inet_ntop(ai->ai_family, raw, conn->address, sizeof(conn->address)) == NULL)
			continue;
		return true;
	}
	if (refused)
	{
		char		ip[INET6_ADDRSTRLEN] = "?";

		inet_ntop(refused->sa_family,
				  refused->sa_family == AF_INET
				  ? (const void *) &((const struct sockaddr_in *) refused)->sin_addr
				  : (const void *) &((const struct sockaddr_in6 *) refused)->sin6_addr,
				  ip, sizeof(ip));
		snprintf(detail, WS_DETAIL_MAX, "%s resolves to %s, not a public address (%s)", conn->host, ip,
				 nostr_addr_class_name(nostr_classify_sockaddr(refused)));
	}
	else
		snprintf(detail, WS_DETAIL_MAX, "%s has no usable address", conn->host);
	return false;
}

static void
dns_check(WsConn *conn)
{
	DnsLookup  *q = conn->dns;
	int			rc = dns_lookup_poll(q);
	char		detail[WS_DETAIL_MAX];
	bool		ok;

	if (rc == EAI_INPROGRESS)
		return;
	conn->dns = NULL;
	if (rc != 0)
	{
		dns_lookup_free(q);
		finishf(conn, WS_CLOSE_CONNECT_FAILED, "DNS lookup of %s failed: %s", conn->host,
				gai_strerror(rc));
		return;
	}
	ok = pick_address(conn, dns_lookup_result(q), detail);
	dns_lookup_free(q);
	if (!ok)
	{
		finish(conn, conn->loop->allow_private ? WS_CLOSE_CONNECT_FAILED : WS_CLOSE_REFUSED_PRIVATE,
			   detail);
		return;
	}
	conn->state = CONN_READY;
}

static void
start_lws(WsConn *conn)
{
	struct lws_client_connect_info info;
	struct lws *wsi;
	char		why[WS_DETAIL_MAX + 8];

	memset(&info, 0, sizeof(info));
	info.context = conn->loop->context;
	info.vhost = conn->via_tor ? conn->loop->tunnel : conn->loop->direct;
	info.address = conn->address;
	info.port = conn->port;
	info.ssl_connection = conn->secure ? LCCSCF_USE_SSL : 0;
	info.path = conn->path;
	info.host = conn->host_header;	/* also SNI and the certificate name (port stripped by lws) */
	info.alpn = "http/1.1";		/* WebSockets over HTTP/1.1 upgrade, never h2 */
	info.opaque_user_data = conn;
	info.pwsi = &conn->wsi;
	conn->state = CONN_CONNECTING;
	lws_last_error[0] = '\0';
	wsi = lws_client_connect_via_info(&info);
	conn->wsi = wsi;
	/* When lws already said why (CLIENT_CONNECTION_ERROR, inside the call), that reason stays. */
	if (wsi == NULL)
		finishf(conn, WS_CLOSE_CONNECT_FAILED, "lws_client_connect_via_info failed for %s port %d%s%s",
				conn->address, conn->port, conn->via_tor ? " through the tunnel proxy" : "",
				lws_reason(why, sizeof(why)));
}

/*
 * Moves every connection one step: DNS results, deadlines, deferred closes, starting lws. Returns
 * when it next needs to run (absolute ms), so an idle loop sleeps instead of polling.
 */
static int64_t
advance(WsLoop *loop)
{
	int64_t		now = net_clock_ms();
	int64_t		next = INT64_MAX;
	WsConn	   *conn;

	dns_orphans_reap(&loop->orphans);
	for (conn = loop->head; conn; conn = conn->next)
	{
		if (conn->state == CONN_DONE)
			continue;
		if (conn->pending_finish)
		{
			finish(conn, conn->pending_reason, conn->pending_detail);
			kill_wsi(conn);
			continue;
		}
		if (conn->close_requested && (conn->state == CONN_RESOLVING || conn->state == CONN_READY))
		{
			finish(conn, WS_CLOSE_NORMAL, "closed by us before the connection opened");
			continue;
		}
		if (conn->state == CONN_RESOLVING)
			dns_check(conn);
		if (conn->state == CONN_DONE)
			continue;
		if (conn->state != CONN_OPEN && now >= conn->deadline_ms)
		{
			finish(conn, WS_CLOSE_TIMEOUT,
				   conn->state == CONN_RESOLVING ? "timed out resolving the host name"
				   : conn->state == CONN_CONNECTING ? "timed out before the handshake completed"
				   : "timed out before connecting");
			kill_wsi(conn);
			continue;
		}
		if (conn->state == CONN_READY)
			start_lws(conn);
		if (conn->state == CONN_RESOLVING && now + WS_DNS_POLL_MS < next)
			next = now + WS_DNS_POLL_MS;
		if (conn->state != CONN_OPEN && conn->state != CONN_DONE && conn->deadline_ms < next)
			next = conn->deadline_ms;
	}
	if (loop->orphans && now + WS_WAKE_MS < next)
		next = now + WS_WAKE_MS;
	return next;
}

/* Frees connections that are finished and that lws no longer references. */
static void
reap(WsLoop *loop)
{
	WsConn	   *conn = loop->head;

	while (conn)
	{
		WsConn	   *next = conn->next;

		if (conn->state == CONN_DONE && conn->wsi == NULL)
		{
			if (conn->prev)
				conn->prev->next = conn->next;
			else
				loop->head = conn->next;
			if (conn->next)
				conn->next->prev = conn->prev;
			else
				loop->tail = conn->prev;
			free(conn);
		}
		conn = next;
	}
}

/*
 * lws_service failed: lws 4.1 says so only when its context is being destroyed or cannot service
 * a socket at all, so nothing on this loop can progress. Every connection is closed with the reason
 * and later ws_connect calls are refused.
 */
static void
loop_failed(WsLoop *loop, int rc)
{
	char		why[WS_DETAIL_MAX + 8];

	loop->failed = true;
	snprintf(loop->failure, sizeof(loop->failure), "the connection loop failed: lws_service returned %d%s",
			 rc, lws_reason(why, sizeof(why)));
	for (WsConn *conn = loop->head; conn; conn = conn->next)
		finish(conn, WS_CLOSE_SHUTDOWN, loop->failure);
}

int
ws_loop_run(WsLoop *loop, int slice_ms)
{
	int64_t		end = net_clock_ms() + (slice_ms > 0 ? slice_ms : 0);
	int			rc = 0;

	if (loop->failed)
		return loop->alive;
	loop->in_service = true;
	for (;;)
	{
		int64_t		next = advance(loop);
		int64_t		now = net_clock_ms();
		int64_t		wait = (next < end ? next : end) - now;

		if (end - now <= 0)
		{
			lws_last_error[0] = '\0';
			if (slice_ms <= 0)
				rc = lws_service(loop->context, -1);
			break;
		}
		if (wait < 1)
			wait = 1;
		/* lws_service sleeps until its next timer: this one bounds the sleep. */
		lws_sul_schedule(loop->context, 0, &loop->wake, wake_noop, (lws_usec_t) wait * 1000);
		lws_last_error[0] = '\0';
		if ((rc = lws_service(loop->context, 0)) < 0)
			break;
	}
	loop->in_service = false;
	lws_sul_cancel(&loop->wake);
	if (rc < 0)
	{
		loop_failed(loop, rc);
		return loop->alive;
	}
	advance(loop);
	reap(loop);
	return loop->alive;
}

void
ws_loop_destroy(WsLoop *loop)
{
	WsConn	   *conn;
	int			waited = 0;

	if (loop == NULL)
		return;
	for (conn = loop->head; conn; conn = conn->next)
		finish(conn, WS_CLOSE_SHUTDOWN, "the connection loop was shut down");
	if (loop->context)
	{
		lws_sul_cancel(&loop->wake);
		lws_context_destroy(loop->context);
	}
	conn = loop->head;
	while (conn)
	{
		WsConn	   *next = conn->next;

		free(conn);
		conn = next;
	}
	/* A lookup glibc would not cancel gets a short grace, then is left to leak rather than be freed under it. */
	while (dns_orphans_reap(&loop->orphans) && waited < 100)
	{
		usleep(5000);
		waited += 5;
	}
	free(loop->user_agent);
	free(loop->proxy_host);
	free(loop->ca_file);
	free(loop);
}

/* ---- connections ---- */

WsConn *
ws_connect(WsLoop *loop, const char *url, bool via_tor, int connect_timeout_ms,
		   const WsCallbacks *callbacks, void *user, char *error, size_t error_len)
{
	nostr_relay_url *u;
	nostr_error err;
	WsConn	   *conn;

	u = malloc(sizeof(nostr_relay_url));
	conn = calloc(1, sizeof(WsConn));
	if (u == NULL || conn == NULL)
	{
		free(u);
		free(conn);
		snprintf(error, error_len, "out of memory");
		return NULL;
	}
	if (loop->failed)
	{
		snprintf(error, error_len, "%s", loop->failure);
		goto fail;
	}
	if (nostr_relay_url_parse(url, strlen(url), u, &err) != NOSTR_OK)
	{
		snprintf(error, error_len, "bad relay URL: %s", err.message);
		goto fail;
	}
	if (via_tor && loop->tunnel == NULL)
	{
		snprintf(error, error_len, "no tunnel proxy is configured for connections through Tor");
		goto fail;
	}
	if (!via_tor && u->network == NOSTR_NET_TOR)
	{
		snprintf(error, error_len, "a .onion relay is reachable only through Tor");
		goto fail;
	}

	conn->loop = loop;
	conn->via_tor = via_tor;
	conn->cb = *callbacks;
	conn->user = user;
	conn->secure = u->secure;
	conn->port = u->port;
	conn->deadline_ms = net_clock_ms() + (connect_timeout_ms > 0 ? connect_timeout_ms : WS_DEFAULT_CONNECT_TIMEOUT_MS);
	snprintf(conn->host, sizeof(conn->host), "%s", u->host);
	snprintf(conn->host_header, sizeof(conn->host_header), u->host_is_ipv6 ? "[%s]" : "%s", u->host);
	if (!u->port_is_default)
		snprintf(conn->host_header + strlen(conn->host_header),
				 sizeof(conn->host_header) - strlen(conn->host_header), ":%d", u->port);
	snprintf(conn->path, sizeof(conn->path), "%s%s", u->path[0] == '/' ? "" : "/", u->path);

	if (via_tor)
	{
		/* The proxy resolves the name: nothing is looked up or checked here. */
		snprintf(conn->address, sizeof(conn->address), "%s", u->host);
		conn->state = CONN_READY;
	}
	else if (u->host_is_ip)
	{
		snprintf(conn->address, sizeof(conn->address), "%s", u->host);
		conn->state = CONN_READY;
		if (!loop->allow_private && nostr_addr_class_is_private(u->host_class))
		{
			conn->pending_finish = true;
			conn->pending_reason = WS_CLOSE_REFUSED_PRIVATE;
			snprintf(conn->pending_detail, sizeof(conn->pending_detail), "%s is not a public address (%s)",
					 u->host, nostr_addr_class_name(u->host_class));
		}
	}
	else
	{
		conn->dns = dns_lookup_start(u->host, u->port, error, error_len);
		if (conn->dns == NULL)
			goto fail;
		conn->state = CONN_RESOLVING;
	}
	free(u);

	conn->prev = loop->tail;
	if (loop->tail)
		loop->tail->next = conn;
	else
		loop->head = conn;
	loop->tail = conn;
	loop->alive++;
	/* Called from a callback: let lws_service return so the new connection starts this slice. */
	if (loop->in_service)
		lws_cancel_service(loop->context);
	return conn;

fail:
	free(u);
	free(conn);
	return NULL;
}

void
ws_pause_rx(WsConn *conn, bool pause)
{
	if (conn && conn->state == CONN_OPEN && conn->wsi)
		lws_rx_flow_control(conn->wsi, pause ? 0 : 1);
}

bool
ws_send_text(WsConn *conn, const char *data, size_t len)
{
	SendItem   *item;

	if (conn == NULL || conn->state == CONN_DONE || conn->close_requested)
		return false;
	item = malloc(sizeof(SendItem) + LWS_PRE + len);
	if (item == NULL)
		return false;
	item->next = NULL;
	item->len = len;
	memcpy(item->buf + LWS_PRE, data, len);
	if (conn->sq_tail)
		conn->sq_tail->next = item;
	else
		conn->sq_head = item;
	conn->sq_tail = item;
	if (conn->state == CONN_OPEN && conn->wsi && lws_callback_on_writable(conn->wsi) < 0)
	{
		finish_later(conn, WS_CLOSE_REMOTE, WRITABLE_FAILED);
		return false;
	}
	return true;
}

void
ws_close(WsConn *conn)
{
	if (conn == NULL || conn->state == CONN_DONE || conn->close_requested)
		return;
	conn->close_requested = true;
	if (conn->wsi == NULL)
	{
		/* Not connected yet: the next advance finishes it, soon if we are inside a callback. */
		if (conn->loop->in_service)
			lws_cancel_service(conn->loop->context);
		return;
	}
	if (conn->state == CONN_OPEN)
	{
		/* A close frame goes out when writable; a peer that never lets it out is dropped. */
		if (lws_callback_on_writable(conn->wsi) < 0)
			kill_wsi(conn);		/* no close frame then: WSI_DESTROY finishes it as closed by us */
		else
			lws_set_timeout(conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_GRACE_S);
	}
	else
		kill_wsi(conn);
}
