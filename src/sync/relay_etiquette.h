/*
 * relay_etiquette.h: the synchronizer's pure decisions about what a relay says besides events
 * (no network, no PostgreSQL): what a CLOSED reason's prefix asks of us (NIP-01 machine-readable
 * prefixes, NIP-42 auth-required), the growing delay after "rate-limited:", per-prefix counters,
 * the sanitized copy of a relay's message kept in its state, and the NIP-42 AUTH event.
 */
#ifndef BIGBROTR_SYNC_RELAY_ETIQUETTE_H
#define BIGBROTR_SYNC_RELAY_ETIQUETTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/error.h"
#include "nostr/message.h"

typedef enum RelayEtiquetteAction
{
	ETQ_FAIL,					/* a failed request, as before: the window algorithm counts and retries it */
	ETQ_BACKOFF,				/* rate-limited: wait (relay_etiquette_backoff_ms), re-send it; not a failure */
	ETQ_AUTH,					/* auth-required, a key, not authenticated yet: NIP-42, then re-send once */
	ETQ_END_AUTH,				/* auth-required without a key, or again after AUTH: ends for the cycle */
	ETQ_END_REFUSED				/* restricted / blocked: asking again this cycle is pointless */
} RelayEtiquetteAction;

/*
 * What a CLOSED (or NEG-ERR) with this prefix ("" when the message has none) asks for. have_key:
 * a private key is configured; authenticated: this connection already authenticated (so an
 * auth-required now means our key is not enough).
 */
RelayEtiquetteAction relay_etiquette_closed(const char *prefix, bool have_key, bool authenticated);
const char *relay_etiquette_action_name(RelayEtiquetteAction a);

/*
 * The wait before re-sending after the n-th rate-limited answer in a row (n from 0): 1 s, 2 s,
 * 4 s, ... up to 64 s, never more than remaining_ms (what is left of the relay's budget). 0 when
 * nothing is left.
 */
int64_t		relay_etiquette_backoff_ms(int n, int64_t remaining_ms);

/* Counts per reason prefix: the first RELAY_REASONS_MAX distinct prefixes, the rest as "other". */
#define RELAY_REASONS_MAX 16
typedef struct RelayReasons
{
	char		prefix[RELAY_REASONS_MAX][NOSTR_MSG_PREFIX_MAX];
	int64_t		count[RELAY_REASONS_MAX];
	size_t		n;
	int64_t		other;			/* prefixes beyond the first RELAY_REASONS_MAX */
	int64_t		total;
} RelayReasons;

/* prefix "" counts as "none" (a message without a machine-readable prefix). */
void		relay_reasons_add(RelayReasons *r, const char *prefix);

/*
 * A relay's message made safe to store and log: at most out_size - 1 bytes, cut at a character
 * boundary, control characters (U+0000 included) and invalid UTF-8 replaced by '?'.
 */
void		relay_etiquette_sanitize(const char *in, size_t len, char *out, size_t out_size);

/*
 * The NIP-42 answer to a challenge: a kind 22242 event with tags ["relay", relay_url] and
 * ["challenge", challenge], created_at now, content "", signed with seckey, as the message
 * ["AUTH", event]. Returns it malloc'd (free() it) with the event's id in event_id; NULL + err.
 */
char	   *relay_etiquette_auth_message(const char *relay_url, const char *challenge, size_t challenge_len,
										 int64_t now, const uint8_t seckey[32], uint8_t event_id[32],
										 size_t *len_out, nostr_error *err);

#endif							/* BIGBROTR_SYNC_RELAY_ETIQUETTE_H */
