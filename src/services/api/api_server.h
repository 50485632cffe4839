/*
 * api_server.h: what the api server's own files share (the worker's HTTP side api_worker.c, the
 * relay protocol api_relay.c, the request transaction api_request.c, the GUC helpers api_gucs.c).
 * The handlers see only api.h.
 */
#ifndef BIGBROTR_SERVICES_API_SERVER_H
#define BIGBROTR_SERVICES_API_SERVER_H

#include "services/api/api.h"

/* ---- api_gucs.c ---- */
/* Whether list is a valid api_cors_origins value; *bad points at the first malformed part. */
bool		api_cors_list_valid(const char *list, const char **bad);
/* Whether origin is allowed by api_cors_origins (*any: the list is "*"). */
bool		api_cors_allowed(const char *origin, bool *any);

/* ---- api_request.c: the request transaction ---- */
typedef enum ApiRunResult
{
	API_RUN_OK,
	API_RUN_TIMEOUT,			/* the statement timeout cancelled a query (504) */
	API_RUN_BAD_VALUE,			/* a 22xxx error from a value the client sent (400) */
	API_RUN_STOPPING,			/* the worker is stopping: the query was cancelled (503) */
	API_RUN_FAILED				/* anything else (500, logged) */
} ApiRunResult;

/*
 * Runs body(arg) in a transaction that is READ ONLY, as role bigbrotr_api, under
 * bigbrotr.api_statement_timeout (with_database), or only under PG_TRY (without). An ERROR is
 * caught, the transaction aborted and the error state flushed; *message (palloc'd in the caller's
 * context) gets its text. what names the request in the log ("GET /v1/events", "REQ").
 */
ApiRunResult api_run_guarded(void (*body) (void *arg), void *arg, bool with_database,
							 const char *what, char **message);

/* Runs route's handler for req into res, mapping an ERROR to the status of docs/api.md. */
void		api_run_route(const ApiRoute *route, const ApiRequest *req, ApiResponse *res);

/* ---- api_relay.c: the WebSocket relay protocol ---- */
typedef struct ApiRelayConn ApiRelayConn;

/* Outgoing message sink of a connection (api_worker.c queues it for WRITEABLE). */
typedef bool (*ApiRelaySend) (void *conn, const char *msg, size_t len);

/* A new relay connection state, allocated in mem (lives until the socket closes). */
ApiRelayConn *api_relay_open(MemoryContext mem, ApiRelaySend send, void *send_ctx);
/* One complete client message; false: drop the client (its output passed api_max_pending_bytes). */
bool		api_relay_message(ApiRelayConn *rc, const char *text, size_t len);

/* ---- api_worker.c ---- */
/* Microseconds on a monotonic clock. */
int64		api_now_us(void);

#endif							/* BIGBROTR_SERVICES_API_SERVER_H */
