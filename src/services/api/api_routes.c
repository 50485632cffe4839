/*
 * api_routes.c: the one table of the api's HTTP endpoints (method, path pattern, handler, whether
 * it reads the database) and the matcher the server uses. A pattern has at most one {..} segment.
 * The path the server passes is already percent-decoded by libwebsockets, which also collapses
 * "//" and removes "/./" and "/../" segments: /v1/relays/wss%3A%2F%2Fhost/history arrives as
 * /v1/relays/wss:/host/history. So {url} matches greedily (a relay URL keeps its own path, e.g.
 * wss://host/nostr) and the "scheme:/" that lws left is repaired to "scheme://"; {id} matches one
 * segment. A relay URL whose own path ends in /history or /nip11 cannot be told apart from those
 * routes; such a relay is still listed by /v1/relays.
 */
#include "postgres.h"

#include "services/api/api.h"

const ApiRoute api_routes[] = {
	{API_GET, "/health", api_handle_health, false},
	{API_GET, "/ready", api_handle_ready, true},
	{API_GET, "/metrics", api_handle_metrics, true},
	{API_GET, "/openapi.json", api_handle_openapi, false},
	{API_GET, "/", api_handle_index, false},
	{API_GET, "/v1/events", api_handle_events, true},
	{API_POST, "/v1/req", api_handle_req, true},
	{API_GET, "/v1/events/{id}", api_handle_event, true},
	{API_POST, "/v1/count", api_handle_count, true},
	{API_GET, "/v1/relays", api_handle_relays, true},
	/* Before /v1/relays/{url}, whose greedy {url} would match them too. */
	{API_GET, "/v1/relays/{url}/history", api_handle_relay_history, true},
	{API_GET, "/v1/relays/{url}/nip11", api_handle_relay_nip11, true},
	{API_GET, "/v1/relays/{url}", api_handle_relay, true},
	{API_GET, "/v1/stats", api_handle_stats, true},
	{API_GET, "/v1/services", api_handle_services, true},
};

const int	api_routes_count = lengthof(api_routes);

/* "wss:/host" (lws collapsed the "//") back to "wss://host"; other text unchanged. */
static char *
repair_url(const char *seg, size_t len)
{
	static const char *const schemes[] = {"wss:/", "ws:/", "https:/", "http:/"};

	for (int i = 0; i < lengthof(schemes); i++)
	{
		size_t		n = strlen(schemes[i]);

		if (len > n && pg_strncasecmp(seg, schemes[i], n) == 0 && seg[n] != '/')
			return psprintf("%.*s/%.*s", (int) n, seg, (int) (len - n), seg + n);
	}
	return pnstrdup(seg, len);
}

/* Whether path matches pattern; the {..} segment goes to *seg / *seg_len, *greedy for {url}. */
static bool
pattern_matches(const char *pattern, const char *path, const char **seg, size_t *seg_len, bool *greedy)
{
	const char *open = strchr(pattern, '{');
	const char *close;
	size_t		prefix;
	size_t		suffix_len;
	size_t		path_len = strlen(path);
	const char *suffix;

	*seg = NULL;
	*seg_len = 0;
	*greedy = false;
	if (open == NULL)
		return strcmp(pattern, path) == 0;
	close = strchr(open, '}');
	prefix = open - pattern;
	suffix = close + 1;
	suffix_len = strlen(suffix);
	if (path_len <= prefix + suffix_len || strncmp(path, pattern, prefix) != 0 ||
		strcmp(path + path_len - suffix_len, suffix) != 0)
		return false;
	*seg = path + prefix;
	*seg_len = path_len - prefix - suffix_len;
	*greedy = strncmp(open, "{url}", 5) == 0;
	/* {id}: one segment; {url}: anything (the relay URL's own slashes survive decoding). */
	return *greedy || memchr(*seg, '/', *seg_len) == NULL;
}

int
api_route_find(ApiMethod method, const char *path, char **arg, const char **allow)
{
	bool		path_known = false;
	bool		get_known = false;
	bool		post_known = false;

	*arg = NULL;
	*allow = NULL;
	for (int i = 0; i < api_routes_count; i++)
	{
		const char *seg;
		size_t		seg_len;
		bool		greedy;

		if (!pattern_matches(api_routes[i].pattern, path, &seg, &seg_len, &greedy))
			continue;
		path_known = true;
		if (api_routes[i].method == API_GET)
			get_known = true;
		else
			post_known = true;
		if (api_routes[i].method == method ||
			(method == API_HEAD && api_routes[i].method == API_GET))
		{
			if (seg)
				*arg = greedy ? repair_url(seg, seg_len) : pnstrdup(seg, seg_len);
			return i;
		}
	}
	if (!path_known)
		return -1;
	*allow = get_known && post_known ? "GET, HEAD, POST, OPTIONS" :
		get_known ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
	return -2;
}
