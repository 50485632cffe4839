/*
 * api_gucs.c: the api service's settings (bigbrotr.api_*, docs/api.md "Settings"). All are reload
 * settings; the coordinator (api_service.c) restarts its workers when one of those a worker reads
 * only at its start (listen address, port, workers, max_connections) changed. Check hooks refuse a
 * listen address that is not an IP literal and a malformed CORS origin list at SET time, so a typo
 * never reaches a worker.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>

#include "utils/guc.h"

#include "services/api/api_server.h"
#include "services/services.h"

char	   *api_listen_address = NULL;
int			api_port = 7780;
int			api_workers = 2;
int			api_statement_timeout = 5000;
int			api_max_limit = 500;
int			api_default_limit = 100;
char	   *api_cors_origins = NULL;
int			api_max_body_bytes = 65536;
int			api_max_connections = 256;
int			api_max_subscriptions = 20;
int			api_max_pending_bytes = 8 * 1024 * 1024;
int			api_count_exact_limit = 100000;
int			api_interval = 10;

/* The registry's interval for the api: 0, each cycle is itself api_interval of supervision. */
int			api_cycle_pause = 0;

static bool
check_listen_address(char **newval, void **extra, GucSource source)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (*newval != NULL &&
		(inet_pton(AF_INET, *newval, addr) == 1 || inet_pton(AF_INET6, *newval, addr) == 1))
		return true;
	GUC_check_errdetail("Expected an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1.");
	return false;
}

/*
 * One origin: scheme "http" or "https", "://", a host of letters, digits, '.', '-', ':' and '[' ']'
 * (IPv6), an optional :port, no path. Returns the length consumed, 0 when malformed.
 */
static size_t
origin_length(const char *s)
{
	const char *p = s;
	const char *host;

	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else
		return 0;
	host = p;
	while (*p && *p != ',' && *p != ' ' && *p != '\t')
	{
		if (!(isalnum((unsigned char) *p) || *p == '.' || *p == '-' || *p == ':' || *p == '[' ||
			  *p == ']'))
			return 0;
		p++;
	}
	return p == host ? 0 : (size_t) (p - s);
}

bool
api_cors_list_valid(const char *list, const char **bad)
{
	const char *p = list ? list : "";

	*bad = NULL;
	for (;;)
	{
		size_t		n;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return true;
		if (*p == '*' && (p[1] == '\0' || p[1] == ',' || p[1] == ' ' || p[1] == '\t'))
			n = 1;
		else if ((n = origin_length(p)) == 0)
		{
			*bad = p;
			return false;
		}
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return true;
		if (*p != ',')
		{
			*bad = p;
			return false;
		}
		p++;
	}
}

static bool
check_cors_origins(char **newval, void **extra, GucSource source)
{
	const char *bad;

	if (api_cors_list_valid(*newval, &bad))
		return true;
	GUC_check_errdetail("Expected origins such as https://example.com or http://localhost:3000 "
						"separated by commas, or *; malformed from \"%.40s\".", bad);
	return false;
}

bool
api_cors_allowed(const char *origin, bool *any)
{
	const char *p = api_cors_origins ? api_cors_origins : "";
	size_t		olen = origin ? strlen(origin) : 0;

	*any = false;
	while (*p)
	{
		const char *start;
		size_t		n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		n = p - start;
		if (n == 1 && *start == '*')
		{
			*any = true;
			return true;
		}
		if (n > 0 && n == olen && strncmp(start, origin, n) == 0)
			return true;
	}
	return false;
}

void
api_define_gucs(void)
{
	DefineCustomStringVariable("bigbrotr.api_listen_address",
							   "IP address the api listens on (its workers restart on a change).",
							   "An IPv4 or IPv6 literal; 0.0.0.0 or :: for every interface. No TLS: put a reverse proxy in front.",
							   &api_listen_address, "127.0.0.1", PGC_SIGHUP, 0,
							   check_listen_address, NULL, NULL);
	bb_define_int_setting("bigbrotr.api_port", "TCP port of the api (its workers restart on a change).",
						  &api_port, 7780, 1, 65535, 0);
	bb_define_int_setting("bigbrotr.api_workers",
						  "Worker processes serving the api port (restarted on a change).",
						  &api_workers, 2, 1, 32, 0);
	bb_define_int_setting("bigbrotr.api_statement_timeout",
						  "Longest a request's queries may run; then the request answers 504.",
						  &api_statement_timeout, 5000, 10, 3600 * 1000, GUC_UNIT_MS);
	bb_define_int_setting("bigbrotr.api_max_limit", "Most events or rows one request or REQ filter returns.",
						  &api_max_limit, 500, 1, 100000, 0);
	bb_define_int_setting("bigbrotr.api_default_limit", "Rows a REST request returns when it names no limit.",
						  &api_default_limit, 100, 1, 100000, 0);
	DefineCustomStringVariable("bigbrotr.api_cors_origins",
							   "Origins allowed by CORS, separated by commas, or *; empty: no CORS headers.",
							   NULL, &api_cors_origins, "", PGC_SIGHUP, 0, check_cors_origins, NULL, NULL);
	bb_define_int_setting("bigbrotr.api_max_body_bytes",
						  "Largest request body and WebSocket message; a larger body answers 413.",
						  &api_max_body_bytes, 65536, 1024, 64 * 1024 * 1024, GUC_UNIT_BYTE);
	bb_define_int_setting("bigbrotr.api_max_connections",
						  "Open connections per api worker; a connection above it answers 503 (workers restart on a change).",
						  &api_max_connections, 256, 1, 65535, 0);
	bb_define_int_setting("bigbrotr.api_max_subscriptions", "Subscriptions one WebSocket client may hold.",
						  &api_max_subscriptions, 20, 1, 10000, 0);
	bb_define_int_setting("bigbrotr.api_max_pending_bytes",
						  "Unsent output a WebSocket client may have before it is dropped.",
						  &api_max_pending_bytes, 8 * 1024 * 1024, 16 * 1024, INT_MAX, GUC_UNIT_BYTE);
	bb_define_int_setting("bigbrotr.api_count_exact_limit",
						  "COUNT counts exactly up to this many rows, and answers the planner's estimate above.",
						  &api_count_exact_limit, 100000, 0, INT_MAX, 0);
	bb_define_int_setting("bigbrotr.api_interval",
						  "Seconds of one api supervision cycle (worker checks, statistics fold, counters).",
						  &api_interval, 10, 1, 3600, GUC_UNIT_S);
}
