/*
 * error.h: status codes shared by the whole nostr layer. Every fallible call returns one of these
 * (NOSTR_OK is 0) and, when given a nostr_error, fills a stable machine-readable reason and a human
 * message saying which field and why. Reason strings are stable: they are stored in the database.
 */
#ifndef BIGBROTR_NOSTR_ERROR_H
#define BIGBROTR_NOSTR_ERROR_H

#include <stddef.h>

typedef enum nostr_status
{
	NOSTR_OK = 0,				/* "ok" */
	NOSTR_ERR_BAD_JSON,			/* "bad_json": not well-formed JSON, or nested too deep */
	NOSTR_ERR_BAD_UTF8,			/* "bad_utf8": invalid UTF-8 or a lone surrogate escape */
	NOSTR_ERR_TOO_LARGE,		/* "too_large": input over the caller's size limit */
	NOSTR_ERR_MISSING_FIELD,	/* "missing_field": a required event field is absent */
	NOSTR_ERR_DUPLICATE_FIELD,	/* "duplicate_field": a known event field appears twice */
	NOSTR_ERR_BAD_FIELD,		/* "bad_field": a field has the wrong type, form or range */
	NOSTR_ERR_ID_MISMATCH,		/* "id_mismatch": sha256(canonical form) != id */
	NOSTR_ERR_BAD_PUBKEY,		/* "bad_pubkey": pubkey is not an x coordinate on the curve */
	NOSTR_ERR_BAD_SIGNATURE,	/* "bad_signature": BIP-340 verification failed */
	NOSTR_ERR_BAD_KEY,			/* "bad_key": a private key is malformed or out of range */
	NOSTR_ERR_BAD_URL,			/* "bad_url": relay URL syntax (spaces, control chars, ...) */
	NOSTR_ERR_BAD_SCHEME,		/* "bad_scheme": relay URL scheme is not ws or wss */
	NOSTR_ERR_HAS_USERINFO,		/* "has_userinfo": relay URL carries user[:password]@ */
	NOSTR_ERR_HAS_FRAGMENT,		/* "has_fragment": relay URL carries #fragment */
	NOSTR_ERR_BAD_HOST,			/* "bad_host": empty or malformed host, IP literal or IDN */
	NOSTR_ERR_BAD_PORT,			/* "bad_port": port not a number in 1..65535 */
	NOSTR_ERR_BAD_ONION,		/* "bad_onion": .onion host that is not a valid v3 address */
	NOSTR_ERR_BAD_MESSAGE,		/* "bad_message": relay message of the wrong shape */
	NOSTR_ERR_UNKNOWN_MESSAGE,	/* "unknown_message": well-formed array, unknown type label */
	NOSTR_ERR_BAD_ARGUMENT,		/* "bad_argument": the caller passed something unusable */
	NOSTR_ERR_NO_MEMORY,		/* "no_memory": malloc failed */
	NOSTR_ERR_INTERNAL			/* "internal": a library call failed unexpectedly */
} nostr_status;

#define NOSTR_ERROR_MESSAGE_MAX 256

typedef struct nostr_error
{
	nostr_status code;
	char		message[NOSTR_ERROR_MESSAGE_MAX];	/* NUL-terminated, never holds secrets */
} nostr_error;

/* The stable snake_case code of a status ("ok", "bad_json", ...); "unknown" for out-of-range. */
const char *nostr_reason_code(nostr_status status);

/* Clears err (code NOSTR_OK, empty message). err may be NULL. */
void		nostr_error_clear(nostr_error *err);

/*
 * Records status and a printf-style message in err (may be NULL) and returns status, so callers
 * can write `return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kind: %s", why);`.
 */
int			nostr_error_set(nostr_error *err, nostr_status status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#endif							/* BIGBROTR_NOSTR_ERROR_H */
