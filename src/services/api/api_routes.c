/*
 * api_routes.c: the one table of the api's HTTP endpoints (method, path pattern, handler, whether
 * it reads the database) and the matcher the server uses. A pattern has at most one {..} segment,
 * which matches one path segment (a relay URL comes percent-encoded: wss%3A%2F%2Fhost).
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
	{API_GET, "/v1/relays/{url}", api_handle_relay, true},
	{API_GET, "/v1/relays/{url}/history", api_handle_relay_history, true},
	{API_GET, "/v1/relays/{url}/nip11", api_handle_relay_nip11, true},
	{API_GET, "/v1/stats", api_handle_stats, true},
	{API_GET, "/v1/services", api_handle_services, true},
};

const int	api_routes_count = lengthof(api_routes);

/* Percent-decodes s[0..len) into a palloc'd string; NULL when an escape is malformed or decodes NUL. */
static char *
percent_decode(const char *s, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			int			v = 0;

			if (i + 2 >= len)
				return NULL;
			for (int k = 1; k <= 2; k++)
			{
				char		c = s[i + k];

				v <<= 4;
				if (c >= '0' && c <= '9')
					v |= c - '0';
				else if (c >= 'a' && c <= 'f')
					v |= c - 'a' + 10;
				else if (c >= 'A' && c <= 'F')
					v |= c - 'A' + 10;
				else
					return NULL;
			}
			if (v == 0)
				return NULL;
			out[o++] = (char) v;
			i += 2;
		}
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* Whether path matches pattern; the {..} segment (raw, still encoded) goes to *seg / *seg_len. */
static bool
pattern_matches(const char *pattern, const char *path, const char **seg, size_t *seg_len)
{
	const char *open = strchr(pattern, '{');
	const char *close;
	size_t		prefix;
	size_t		suffix_len;
	size_t		path_len = strlen(path);
	const char *suffix;

	*seg = NULL;
	*seg_len = 0;
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
	/* One segment: no '/' inside (an encoded URL carries %2F). */
	return memchr(*seg, '/', *seg_len) == NULL;
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

		if (!pattern_matches(api_routes[i].pattern, path, &seg, &seg_len))
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
			{
				*arg = percent_decode(seg, seg_len);
				if (*arg == NULL)
					*arg = pstrdup("");	/* the handler refuses it as a bad parameter */
			}
			return i;
		}
	}
	if (!path_known)
		return -1;
	*allow = get_known && post_known ? "GET, HEAD, POST, OPTIONS" :
		get_known ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
	return -2;
}
