/*
 * ws_client.h: many concurrent WebSocket client connections on one libwebsockets context, driven in
 * short slices by the caller's loop (a worker checks for interrupts between slices). One context has
 * two vhosts: direct, and through an HTTP CONNECT proxy (Tor's HTTPTunnelPort) for .onion relays,
 * since Debian's libwebsockets has no SOCKS5. TLS certificates are verified; connections to loopback,
 * private and link-local addresses are refused unless the loop allows them. Every connection gets
 * exactly one on_close, whatever happens. No PostgreSQL headers: memory is malloc'd.
 */
#ifndef BIGBROTR_NET_WS_CLIENT_H
#define BIGBROTR_NET_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct WsLoop WsLoop;
typedef struct WsConn WsConn;

typedef struct WsLoopOptions
{
	bool		allow_private_addresses;
	const char *tunnel_proxy_host;	/* HTTP CONNECT proxy for via_tor connections; NULL: none */
	int			tunnel_proxy_port;
	size_t		max_message_size;	/* larger messages close the connection (WS_CLOSE_TOO_LARGE);
									 * 0: 16 MiB */
	const char *user_agent;
	const char *ca_file;		/* PEM bundle of trusted CAs; NULL: the system store */
} WsLoopOptions;

typedef enum WsCloseReason
{
	WS_CLOSE_NORMAL,			/* closed by us (ws_close) */
	WS_CLOSE_REMOTE,			/* the peer closed or the connection dropped */
	WS_CLOSE_CONNECT_FAILED,	/* DNS, TCP, TLS or handshake failure */
	WS_CLOSE_REFUSED_PRIVATE,	/* the target resolved to a refused address */
	WS_CLOSE_TIMEOUT,			/* connect timeout */
	WS_CLOSE_TOO_LARGE,			/* a message exceeded max_message_size */
	WS_CLOSE_SHUTDOWN			/* the loop was destroyed, or failed (lws_service), with
								 * the connection open */
} WsCloseReason;

typedef struct WsCallbacks
{
	/* The handshake completed: the connection is open. */
	void		(*on_open) (WsConn *conn, void *user);
	/* One complete text message (fragments reassembled); data is valid only during the call. */
	void		(*on_message) (WsConn *conn, void *user, const char *data, size_t len);
	/* Called exactly once per connection, also when it never opened; conn is invalid afterwards. */
	void		(*on_close) (WsConn *conn, void *user, WsCloseReason reason, const char *detail);
} WsCallbacks;

/* Why ws_loop_create failed. */
typedef enum WsCreateFailure
{
	WS_CREATE_NO_MEMORY,
	WS_CREATE_BAD_OPTION,		/* an option is out of range (the tunnel proxy port) */
	WS_CREATE_PROXY_UNRESOLVED, /* the tunnel proxy's host name does not resolve */
	WS_CREATE_LIBRARY			/* libwebsockets refused the context or a vhost (lws' reason
								 * in error) */
} WsCreateFailure;

/* Creates a loop; NULL with *error (and *failure, when not NULL) set on failure. */
WsLoop	   *ws_loop_create(const WsLoopOptions *options, WsCreateFailure *failure, char *error,
						   size_t error_len);

/*
 * Starts connecting to a ws:// or wss:// URL (already normalized). Returns NULL and calls nothing
 * when the connection cannot even be started (error says why): a bad URL, via_tor without a tunnel
 * proxy, an .onion URL without via_tor, a loop whose lws_service failed. connect_timeout_ms (<= 0: 30 s) covers DNS, TCP, TLS and the
 * handshake. Nothing happens on the network until ws_loop_run; every outcome after a non-NULL return,
 * including a refused private address, arrives as on_close during ws_loop_run.
 */
WsConn	   *ws_connect(WsLoop *loop, const char *url, bool via_tor, int connect_timeout_ms,
					   const WsCallbacks *callbacks, void *user, char *error, size_t error_len);

/*
 * Queues a text message; it is sent when the socket is writable. False when the connection is
 * closing, or when lws cannot wait for the socket (on_close follows, from the next ws_loop_run).
 */
bool		ws_send_text(WsConn *conn, const char *data, size_t len);

/* Stops (pause) or resumes reading the connection (lws rx flow control): the peer waits on TCP. */
void		ws_pause_rx(WsConn *conn, bool pause);

/* Closes the connection; on_close(WS_CLOSE_NORMAL) follows during a later ws_loop_run. */
void		ws_close(WsConn *conn);

/*
 * Drives every connection for at most slice_ms (keep it ~100 ms). Returns how many connections have
 * not had their on_close yet (connecting or open).
 */
int			ws_loop_run(WsLoop *loop, int slice_ms);

/*
 * Closes every connection (on_close with WS_CLOSE_SHUTDOWN) and frees the loop. Neither this nor
 * ws_loop_run may be called from inside a callback.
 */
void		ws_loop_destroy(WsLoop *loop);

const char *ws_close_reason_name(WsCloseReason reason);

#endif							/* BIGBROTR_NET_WS_CLIENT_H */
