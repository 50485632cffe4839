/*
 * api_count.c: POST /v1/count and the relay endpoint's COUNT (NIP-45): the count of the union of
 * the filters (their limits ignored, as NIP-45 counts every match). Exact up to
 * bigbrotr.api_count_exact_limit matching rows (a LIMITed union of ids, so a count never reads more
 * than that many rows per filter); above it the planner's estimate, never below the limit, marked
 * approximate.
 */
#include "postgres.h"

#include "nostr/json.h"
#include "services/api/api_query.h"

/* The filters of a count body: one object or a non-empty array of objects. */
static bool
body_filters(const char *body, size_t len, ApiFilter **out, int *n, ApiResponse *res)
{
	nostr_json_doc doc;
	nostr_error err;
	const nostr_json_node *root;
	char	  **texts;
	int			count;
	size_t		c;
	ApiFilter  *fs;

	if (nostr_json_parse(body, len, 8, &doc, &err) != NOSTR_OK)
	{
		api_error(res, 400, "bad_body", "filter: %s", err.message);
		return false;
	}
	root = &doc.nodes[0];
	count = root->type == NOSTR_JSON_OBJECT ? 1 : root->type == NOSTR_JSON_ARRAY ? (int) root->count : 0;
	if (count < 1 || count > API_QUERY_MAX_FILTERS)
	{
		nostr_json_free(&doc);
		api_error(res, 400, "bad_body", "expected a filter object or an array of 1..%d filter objects",
				  API_QUERY_MAX_FILTERS);
		return false;
	}
	texts = palloc(sizeof(char *) * count);
	c = root->type == NOSTR_JSON_OBJECT ? 0 : 1;
	for (int i = 0; i < count; i++, c = doc.nodes[c].next)
	{
		if (doc.nodes[c].type != NOSTR_JSON_OBJECT)
		{
			nostr_json_free(&doc);
			api_error(res, 400, "bad_body", "filter %d is not an object", i + 1);
			return false;
		}
		texts[i] = pnstrdup(body + doc.nodes[c].src_start, doc.nodes[c].src_end - doc.nodes[c].src_start);
	}
	nostr_json_free(&doc);
	fs = palloc0(sizeof(ApiFilter) * count);
	for (int i = 0; i < count; i++)
	{
		ApiFilterError why;

		if (!api_filter_from_json(texts[i], strlen(texts[i]), true, &fs[i], &why))
		{
			api_error(res, 400, why.bad_json ? "bad_body" : "bad_parameter", "%s", why.message);
			return false;
		}
		if (fs[i].has_cursor)
		{
			api_error(res, 400, "bad_parameter", "cursor: a count has no pages");
			return false;
		}
		fs[i].has_limit = false;
	}
	*out = fs;
	*n = count;
	return true;
}

void
api_handle_count(const ApiRequest *req, ApiResponse *res)
{
	ApiFilter  *fs;
	int			n;
	bool		approximate;
	int64		count;

	if (req->body == NULL || req->body_len == 0)
	{
		api_error(res, 400, "bad_body", "the body must be a filter object or an array of them");
		return;
	}
	if (!body_filters(req->body, req->body_len, &fs, &n, res))
		return;
	count = api_query_count(fs, n, api_count_exact_limit, &approximate);
	resetStringInfo(&res->body);
	appendStringInfo(&res->body, "{\"count\":" INT64_FORMAT ",\"approximate\":%s}", count,
					 approximate ? "true" : "false");
	res->status = 200;
	res->content_type = "application/json";
}

bool
api_relay_count(char **filters_json, int nfilters, int64 *count, bool *approximate, char **closed)
{
	ApiFilter  *fs;

	*closed = NULL;
	if (!api_relay_filters(filters_json, nfilters, INT_MAX, &fs, closed))
		return false;
	for (int i = 0; i < nfilters; i++)
		fs[i].has_limit = false;
	*count = api_query_count(fs, nfilters, api_count_exact_limit, approximate);
	return true;
}
