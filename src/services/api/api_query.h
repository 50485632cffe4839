/*
 * api_query.h: the events side of the api, shared by api_events.c and api_count.c: a NIP-01 filter
 * read for the api (nostr/filter.c's strict reader, then turned into palloc'd SQL parameters so no
 * malloc'd memory outlives an ERROR), the one parameterised SQL query a filter (or the union of
 * several) becomes, the keyset cursor, and the rendering of stored events exactly as signed.
 */
#ifndef BIGBROTR_SERVICES_API_QUERY_H
#define BIGBROTR_SERVICES_API_QUERY_H

#include "lib/stringinfo.h"

#include "nostr/filter.h"
#include "services/api/api.h"

/* Filters in one REQ / COUNT (more: refused): bounds a union's rows to this many limits. */
#define API_QUERY_MAX_FILTERS 32
/* A filter's authors x kinds up to this many pairs is run as one index walk per pair. */
#define API_QUERY_SPLIT_MAX 16

/* One filter, ready for SQL (every member palloc'd in the request's context). */
typedef struct ApiFilter
{
	bool		matches_nothing;	/* an empty list, since > until, limit 0 */
	Datum		ids;			/* bytea[]; (Datum) 0 when absent */
	Datum		authors;		/* bytea[] */
	Datum		kinds;			/* int4[] */
	int			nids,			/* their lengths; one value is written as '=' (so the */
				nauthors,		/* planner can walk (x, created_at) backwards, in the */
				nkinds;			/* answer's order; = ANY cannot give that order) */
	Datum		id1,			/* the first value of each (bytea, bytea, int4) */
				author1,
				kind1;
	int			ntags;
	char		tag_letter[NOSTR_FILTER_MAX_TAGS][2];	/* "e" */
	Datum		tag_values[NOSTR_FILTER_MAX_TAGS];	/* text[]: the values as given (the exact recheck) */
	Datum		tag_entries[NOSTR_FILTER_MAX_TAGS];	/* text[]: their tagvalues entries (the GIN index) */
	bool		has_since,
				has_until,
				has_limit;
	int64		since,
				until,
				limit;
	char	   *relay;			/* normalized relay URL, NULL: any */
	bool		has_cursor;		/* keyset: strictly after (cursor_at, cursor_id) newest first */
	int64		cursor_at;
	bytea	   *cursor_id;
} ApiFilter;

/* Why a filter was refused: a message that starts with the member's name; unsupported: search. */
typedef struct ApiFilterError
{
	bool		unsupported;
	bool		bad_json;		/* the text is not JSON at all (400 bad_body) */
	char	   *message;
} ApiFilterError;

/*
 * From a JSON object (api_members: the api's "relay" and "cursor" too) or from the request's query
 * parameters (all of them are filter members). false with *why on a refused filter.
 */
bool		api_filter_from_json(const char *json, size_t len, bool api_members, ApiFilter *out,
								 ApiFilterError *why);
bool		api_filter_from_params(const ApiRequest *req, ApiFilter *out, ApiFilterError *why);

/*
 * A relay REQ's or COUNT's filters (NIP-01 members only; each limit clamped to max_limit, none:
 * max_limit): false with *closed set to the CLOSED reason ("error: ...", "unsupported: search").
 */
bool		api_relay_filters(char **filters_json, int nfilters, int max_limit, ApiFilter **out,
							  char **closed);

/* The cursor of an event: "<created_at>.<id hex>" (palloc'd). */
char	   *api_cursor_encode(int64 created_at, const uint8 *id);

/* Receives each event of a query, rendered; false: stop. */
typedef bool (*ApiEventSink) (void *ctx, const char *json, size_t len, int64 created_at,
							  const uint8 *id);

/*
 * Runs the union of the filters (each with its own limit; the caller has set limit on each),
 * newest first ((created_at, id) descending), an event matched by several filters once, and gives
 * each event to sink. SPI, read-only, parameters only. Returns the number of events given.
 */
uint64		api_query_events(ApiFilter *filters, int n, ApiEventSink sink, void *ctx);

/*
 * The count of the union of the filters (limits ignored): exact up to exact_limit matching rows;
 * above, the planner's estimate of the union, never below exact_limit + 1, with *approximate.
 */
int64		api_query_count(ApiFilter *filters, int n, int64 exact_limit, bool *approximate);

/* Appends the event of the current SPI row (columns of API_QUERY_EVENT_COLUMNS) as its JSON. */
void		api_render_event(StringInfo out, HeapTuple tuple, TupleDesc desc, int64 *created_at,
							 uint8 *id);

#endif							/* BIGBROTR_SERVICES_API_QUERY_H */
