/*
 * filter.h: NIP-01 filters read from the outside (a relay client's REQ/COUNT, the api's query
 * string and JSON bodies), strictly: every rule broken is refused with a message that names the
 * field, since a filter we silently reinterpret would answer a different question. Also the client
 * messages a relay receives (REQ, CLOSE, COUNT, EVENT, AUTH). Pure: no PostgreSQL header; memory
 * is malloc'd and freed with the matching *_free.
 */
#ifndef BIGBROTR_NOSTR_FILTER_H
#define BIGBROTR_NOSTR_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/error.h"
#include "nostr/message.h"

/* Caps on one filter (a larger one is refused, never truncated). */
#define NOSTR_FILTER_MAX_VALUES 1000		/* ids, authors, kinds, values of one tag */
#define NOSTR_FILTER_MAX_TAGS 16			/* distinct #x letters */
#define NOSTR_FILTER_MAX_TAG_VALUE 1024		/* bytes of one tag value */

/*
 * A parsed filter: `f` views the owned arrays (so it can also be given to nostr_build_req). relay is
 * bigbrotr's extension (only from the api: "seen on that relay", normalized by the caller); search
 * (NIP-50) is parsed so that it can be refused as unsupported.
 */
typedef struct nostr_parsed_filter
{
	nostr_filter f;
	char	   *relay;			/* NULL: any relay */
	char	   *cursor;			/* the api's "cursor" member / parameter as given; NULL: none */
	bool		has_search;
	void	   *storage;		/* owned allocations (internal) */
} nostr_parsed_filter;

/*
 * A filter object ({"ids": [...], "#t": [...], "since": n, ...}). Unknown members: refused
 * (NOSTR_ERR_BAD_FIELD, named) unless allow_relay and the member is one of the api's "relay" or
 * "cursor" (strings, copied as given). Every message starts with the member's name ("kinds: 70000
 * is not 0..65535"). Empty lists are kept (they match nothing, as in nostr-tools' matchFilter).
 * Returns NOSTR_OK; on failure *out is zeroed and needs no freeing.
 */
int			nostr_filter_parse_json(const char *json, size_t len, bool allow_relay,
									nostr_parsed_filter *out, nostr_error *err);

/*
 * The api's query string form: ids, authors, kinds, #x (any single letter), since, until, limit,
 * relay, cursor, search; a list is comma-separated and/or the parameter repeated (an empty item is
 * refused: a tag value holding a comma or an empty one needs the JSON form). Names in `ignore`
 * (NULL-terminated, e.g. {"cursor", NULL}) are skipped; any other name is refused ("unknown
 * parameter: foo"). Scalars given twice are refused.
 */
int			nostr_filter_from_params(const char *const *names, const char *const *values, size_t n,
									 const char *const *ignore, nostr_parsed_filter *out,
									 nostr_error *err);

void		nostr_filter_free(nostr_parsed_filter *filter);

/* Whether ev matches f by NIP-01 (ids, authors, kinds, #x, since, until; limit ignored). */
bool		nostr_filter_matches(const nostr_filter *f, const nostr_event *ev);

/* What a client sent to a relay. */
typedef enum nostr_client_msg_type
{
	NOSTR_CLIENT_REQ,
	NOSTR_CLIENT_COUNT,
	NOSTR_CLIENT_CLOSE,
	NOSTR_CLIENT_EVENT,
	NOSTR_CLIENT_AUTH,
	NOSTR_CLIENT_OTHER			/* a well-formed array with another label (e.g. NEG-OPEN) */
} nostr_client_msg_type;

typedef struct nostr_client_msg
{
	nostr_client_msg_type type;
	char	   *label;			/* the message's first element */
	char	   *sub_id;			/* REQ, COUNT, CLOSE: 1..64 bytes */
	/* REQ, COUNT: each filter object's raw JSON text (NUL-terminated copies) */
	char	  **filters;
	size_t		filters_count;
	char	   *event_id_hex;	/* EVENT, AUTH: the event's "id" if it is 64 hex, else NULL */
	void	   *storage;		/* owned allocations (internal) */
} nostr_client_msg;

/*
 * Parses one client message of at most max_size bytes (0: no cap). REQ/COUNT need at least one
 * filter object (each only checked to be an object here; nostr_filter_parse_json reads it).
 * NOSTR_ERR_BAD_MESSAGE names what is wrong.
 */
int			nostr_client_msg_parse(const char *text, size_t len, size_t max_size,
								   nostr_client_msg *out, nostr_error *err);
void		nostr_client_msg_free(nostr_client_msg *msg);

#endif							/* BIGBROTR_NOSTR_FILTER_H */
