/*
 * api.h: what the api service's files share. The server (api_server.c, api_worker.c) turns an HTTP
 * request into an ApiRequest, finds its route (api_routes.c), runs the route's handler (inside a
 * read-only transaction as the bigbrotr_api role under bigbrotr.api_statement_timeout when the route
 * needs the database) and writes the ApiResponse. Handlers never write to the socket and never
 * start or end transactions; a bad parameter is answered with api_error, a database error is raised
 * (ereport) and mapped to a status by the server (57014 statement timeout: 504).
 */
#ifndef BIGBROTR_SERVICES_API_H
#define BIGBROTR_SERVICES_API_H

#include "lib/stringinfo.h"

#include "core/bigbrotr.h"

/* ---- GUCs (api_gucs.c) ---- */
extern char *api_listen_address;	/* restart of the workers (the coordinator does it on reload) */
extern int	api_port;				/* idem */
extern int	api_workers;			/* idem */
extern int	api_statement_timeout;	/* ms; reload */
extern int	api_max_limit;			/* reload */
extern char *api_cors_origins;		/* comma-separated origins, "*" for any; empty: no CORS; reload */
extern int	api_max_body_bytes;		/* request body cap (413); reload */
extern int	api_max_connections;	/* per worker; above it a new connection gets 503; restart */
extern int	api_max_subscriptions;	/* per WebSocket connection; reload */
extern int	api_max_pending_bytes;	/* a WebSocket client whose unsent output passes it is dropped */
extern int	api_count_exact_limit;	/* COUNT: exact up to this many rows, an estimate above */
extern int	api_default_limit;		/* limit when a REST request names none */
extern int	api_interval;			/* the coordinator's supervision period (seconds) */

/* ---- requests and responses ---- */
typedef enum ApiMethod
{
	API_GET,
	API_HEAD,
	API_POST,
	API_OPTIONS,
	API_OTHER
} ApiMethod;

typedef struct ApiParam
{
	char	   *name;			/* percent-decoded ("#t" for %23t) */
	char	   *value;			/* percent-decoded; "" when absent ("?a&b=1": a = "") */
} ApiParam;

typedef struct ApiRequest
{
	ApiMethod	method;
	const char *path;			/* percent-decoded path without the query string (lws decodes it) */
	const char *path_arg;		/* the route's {id} / {url} segment, percent-decoded; NULL if none */
	ApiParam   *params;			/* query string pairs in order (repeated names kept) */
	int			nparams;
	const char *body;			/* POST body (NUL-terminated), NULL if none */
	size_t		body_len;
	bool		want_ndjson;	/* Accept: application/x-ndjson */
	int			max_limit;		/* api_max_limit, read once per request */
} ApiRequest;

typedef struct ApiResponse
{
	int			status;			/* 200 unless set */
	const char *content_type;	/* default "application/json" */
	StringInfoData body;		/* initialised by the server, in the request's memory context */
	StringInfoData headers;		/* extra header lines, each "Name: value\r\n" (api_add_header) */
} ApiResponse;

/* Sets status and a JSON body {"error": code, "message": message}; replaces any body. */
void		api_error(ApiResponse *res, int status, const char *code, const char *fmt,...) pg_attribute_printf(4, 5);
/* Adds a response header line (e.g. "X-Next-Cursor", value). */
void		api_add_header(ApiResponse *res, const char *name, const char *value);
/* The value of the last parameter named name, or NULL. */
const char *api_param(const ApiRequest *req, const char *name);

/* ---- routes (api_routes.c) ---- */
typedef void (*ApiHandler) (const ApiRequest *req, ApiResponse *res);

typedef struct ApiRoute
{
	ApiMethod	method;
	const char *pattern;		/* "/v1/events/{id}": the metrics' endpoint label too */
	ApiHandler	handler;
	bool		needs_database; /* run inside the read-only request transaction */
} ApiRoute;

extern const ApiRoute api_routes[];
extern const int api_routes_count;

/*
 * The route for method and (already percent-decoded) path: its index in api_routes, with *arg set
 * to the {..} segment (palloc'd; a relay URL repaired, see api_routes.c) when the pattern has one. -1: no route for the path (404); -2: the path
 * exists with another method (405; *allow gets the Allow header value).
 */
int			api_route_find(ApiMethod method, const char *path, char **arg, const char **allow);

/* ---- handlers: events (api_events.c, api_count.c) ---- */
void		api_handle_events(const ApiRequest *req, ApiResponse *res);		/* GET /v1/events */
void		api_handle_req(const ApiRequest *req, ApiResponse *res);		/* POST /v1/req */
void		api_handle_event(const ApiRequest *req, ApiResponse *res);		/* GET /v1/events/{id} */
void		api_handle_count(const ApiRequest *req, ApiResponse *res);		/* POST /v1/count */

/* ---- handlers: relays, stats, services, health (api_admin.c) ---- */
void		api_handle_relays(const ApiRequest *req, ApiResponse *res);		/* GET /v1/relays */
void		api_handle_relay(const ApiRequest *req, ApiResponse *res);		/* GET /v1/relays/{url} */
void		api_handle_relay_history(const ApiRequest *req, ApiResponse *res);
void		api_handle_relay_nip11(const ApiRequest *req, ApiResponse *res);
void		api_handle_stats(const ApiRequest *req, ApiResponse *res);		/* GET /v1/stats */
void		api_handle_services(const ApiRequest *req, ApiResponse *res);	/* GET /v1/services */
void		api_handle_health(const ApiRequest *req, ApiResponse *res);		/* GET /health */
void		api_handle_ready(const ApiRequest *req, ApiResponse *res);		/* GET /ready */
void		api_handle_openapi(const ApiRequest *req, ApiResponse *res);	/* GET /openapi.json */
void		api_handle_metrics(const ApiRequest *req, ApiResponse *res);	/* GET /metrics */
/* GET / with Accept: application/nostr+json (the server checks the header; also the relay's). */
void		api_handle_nip11(const ApiRequest *req, ApiResponse *res);
void		api_handle_index(const ApiRequest *req, ApiResponse *res);		/* GET / otherwise */

/* ---- the read-only relay endpoint (api_relay.c uses these from api_events.c) ---- */

/* Receives each outgoing relay message (a complete JSON text); false: stop (the client is dropped). */
typedef bool (*ApiRelayEmit) (void *ctx, const char *msg, size_t len);

/*
 * REQ: emits ["EVENT", subid, event] for the union of the filters (each filter's limit clamped to
 * max_limit, newest first, an event matched by two filters sent once). Inside the request
 * transaction. Returns true when all stored results were emitted (the caller sends EOSE); false with
 * *closed set to a NIP-01 prefixed reason ("error: ...", "unsupported: ...") for a refused filter,
 * before anything was emitted. filters_json are the raw filter objects of the message.
 */
bool		api_relay_req(const char *subid, char **filters_json, int nfilters, int max_limit,
						  ApiRelayEmit emit, void *ctx, char **closed);
/* COUNT (NIP-45): the count over the union of the filters; false with *closed as for REQ. */
bool		api_relay_count(char **filters_json, int nfilters, int64 *count, bool *approximate,
							char **closed);

/* ---- metrics (api_metrics.c): shared memory counters of every api worker ---- */
void		api_metrics_shmem_request(void);	/* from _PG_init's shmem hooks */
void		api_metrics_shmem_startup(void);
/* One answered request: route index (-1 unknown path, api_routes_count: WebSocket), status, time. */
void		api_metrics_record(int route, int status, int64 elapsed_us);
/* Totals since the server started (errors: status 500 and above), for the coordinator's counters. */
void		api_metrics_totals(int64 *requests, int64 *errors);
/*
 * WebSocket gauges: open_delta +1 when a connection is established, -1 when it closes (any reason);
 * dropped_delta 1 when a client is dropped for passing api_max_pending_bytes (its close still -1s).
 */
void		api_metrics_websocket(int open_delta, int dropped_delta);

/* ---- the service (api_service.c) ---- */
void		api_define_gucs(void);
void		api_run_cycle(ServiceCycle *cycle);
PGDLLEXPORT void bigbrotr_api_worker_main(Datum main_arg);

#endif							/* BIGBROTR_SERVICES_API_H */
