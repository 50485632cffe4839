/*
 * message.h: relay<->client messages (NIP-01, NIP-42 AUTH, NIP-45 COUNT, NIP-77 NEG-*).
 *
 * Parsing relay->client messages trusts nothing: the whole message must be strict JSON of the
 * documented shape, else NOSTR_ERR_BAD_MESSAGE (or NOSTR_ERR_UNKNOWN_MESSAGE for a well-formed
 * array with an unknown label). For EVENT the event object is read from the same parse (never
 * parsed twice): a malformed event leaves the message well-formed, with event_status saying why;
 * the caller verifies the event (nostr_event_verify_cached).
 *
 * Building client->relay messages returns malloc'd NUL-terminated JSON text (free() it).
 */
#ifndef BIGBROTR_NOSTR_MESSAGE_H
#define BIGBROTR_NOSTR_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/error.h"
#include "nostr/event.h"

typedef enum nostr_msg_type
{
	NOSTR_MSG_EVENT = 1,		/* ["EVENT", sub_id, {event}] */
	NOSTR_MSG_EOSE,				/* ["EOSE", sub_id] */
	NOSTR_MSG_CLOSED,			/* ["CLOSED", sub_id, "prefix: message"] */
	NOSTR_MSG_NOTICE,			/* ["NOTICE", message] */
	NOSTR_MSG_OK,				/* ["OK", event_id_hex, true|false, "prefix: message"] */
	NOSTR_MSG_AUTH,				/* ["AUTH", challenge] */
	NOSTR_MSG_COUNT,			/* ["COUNT", sub_id, {"count": n, "approximate"?: bool}] */
	NOSTR_MSG_NEG_MSG,			/* ["NEG-MSG", sub_id, hex] (NIP-77) */
	NOSTR_MSG_NEG_ERR			/* ["NEG-ERR", sub_id, "prefix: reason"] (NIP-77) */
} nostr_msg_type;

#define NOSTR_MSG_PREFIX_MAX 32
/* The largest negentropy message a NEG-MSG may carry, decoded (NOSTR_ERR_TOO_LARGE beyond). */
#define NOSTR_NEG_MSG_MAX_BYTES (1024 * 1024)

typedef struct nostr_relay_msg
{
	nostr_msg_type type;
	/* EVENT, EOSE, CLOSED, COUNT, NEG-MSG, NEG-ERR: decoded subscription id (NUL-terminated). */
	const char *sub_id;
	size_t		sub_id_len;
	/* EVENT: the event object's JSON text, pointing INTO the parsed input (not copied). */
	const char *event_json;
	size_t		event_json_len;
	/*
	 * EVENT: NOSTR_OK and the parsed (not yet verified) event, owned by the message; or the
	 * reason the event object is not an event (event is then zeroed, event_error says why).
	 */
	int			event_status;
	nostr_event event;
	nostr_error event_error;
	/* CLOSED, NOTICE, OK, NEG-ERR: the decoded human message (NUL-terminated); "" if absent. */
	const char *message;
	size_t		message_len;
	/*
	 * CLOSED, OK, NEG-ERR: the machine-readable prefix before ':' in message ("auth-required",
	 * "rate-limited", "duplicate", ...) when message starts with [a-z0-9-]+ then ':' followed by
	 * a space or the end; else "".
	 */
	char		prefix[NOSTR_MSG_PREFIX_MAX];
	/* OK */
	uint8_t		event_id[32];
	bool		accepted;
	/* AUTH: the challenge (NUL-terminated). */
	const char *challenge;
	size_t		challenge_len;
	/* COUNT */
	uint64_t	count;
	bool		approximate;
	/*
	 * NEG-MSG: the negentropy message decoded from its hex (1..NOSTR_NEG_MSG_MAX_BYTES bytes; upper-
	 * or lower-case hex of even length), owned by the message.
	 */
	uint8_t    *neg_msg;
	size_t		neg_msg_len;
	void	   *priv;			/* owned memory; do not touch */
} nostr_relay_msg;

/* max_size: NOSTR_EVENT_NO_LIMIT (0) or a byte limit (NOSTR_ERR_TOO_LARGE beyond). */
int			nostr_relay_msg_parse(const char *text, size_t len, size_t max_size,
								  nostr_relay_msg *out, nostr_error *err);
void		nostr_relay_msg_free(nostr_relay_msg *msg);

/* A "#<letter>" tag filter: values are NUL-terminated UTF-8 strings. */
typedef struct nostr_tag_filter
{
	char		letter;			/* a-z or A-Z */
	const char *const *values;
	size_t		count;
} nostr_tag_filter;

/*
 * A REQ/COUNT filter. A list is emitted when its pointer is non-NULL (so a non-NULL pointer with
 * count 0 sends an empty array, which matches nothing); since/until/limit when their has_ flag is
 * set. Members are written in this order: ids, authors, kinds, #tags, since, until, limit.
 */
typedef struct nostr_filter
{
	const uint8_t (*ids)[32];
	size_t		ids_count;
	const uint8_t (*authors)[32];
	size_t		authors_count;
	const int32_t *kinds;		/* each 0..65535 */
	size_t		kinds_count;
	const nostr_tag_filter *tags;
	size_t		tags_count;
	bool		has_since;
	int64_t		since;
	bool		has_until;
	int64_t		until;
	bool		has_limit;
	int64_t		limit;
} nostr_filter;

/* ["REQ", sub_id, filter...]. sub_id: 1..64 bytes of valid UTF-8. NULL + err on bad input. */
char	   *nostr_build_req(const char *sub_id, const nostr_filter *filters, size_t n_filters,
							size_t *len_out, nostr_error *err);
/* ["COUNT", sub_id, filter...] (NIP-45), same rules. */
char	   *nostr_build_count(const char *sub_id, const nostr_filter *filters, size_t n_filters,
							  size_t *len_out, nostr_error *err);
/* ["CLOSE", sub_id] */
char	   *nostr_build_close(const char *sub_id, size_t *len_out, nostr_error *err);
/* ["EVENT", {event}] */
char	   *nostr_build_event(const nostr_event *ev, size_t *len_out, nostr_error *err);
/* ["AUTH", {event}] (NIP-42: the signed kind-22242 event answering a challenge) */
char	   *nostr_build_auth(const nostr_event *ev, size_t *len_out, nostr_error *err);

/*
 * NIP-77. msg: a negentropy message (neg_initiate / neg_reconcile output), 1..NOSTR_NEG_MSG_MAX_BYTES
 * bytes, sent as lower-case hex. sub_id: same rules as REQ.
 */
/* ["NEG-OPEN", sub_id, filter, hex] */
char	   *nostr_build_neg_open(const char *sub_id, const nostr_filter *filter, const uint8_t *msg,
								 size_t msg_len, size_t *len_out, nostr_error *err);
/* ["NEG-MSG", sub_id, hex] */
char	   *nostr_build_neg_msg(const char *sub_id, const uint8_t *msg, size_t msg_len, size_t *len_out,
								nostr_error *err);
/* ["NEG-CLOSE", sub_id] */
char	   *nostr_build_neg_close(const char *sub_id, size_t *len_out, nostr_error *err);

#endif							/* BIGBROTR_NOSTR_MESSAGE_H */
