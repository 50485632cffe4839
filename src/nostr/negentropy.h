/*
 * negentropy.h: NIP-77 negentropy protocol v1 (range-based set reconciliation), pure C.
 * Byte-for-byte compatible with nostr-tools/nip77 (the reference used by the unit fixtures):
 * varints, bounds with minimal id prefixes, timestamps delta-encoded with "infinity" = 0,
 * fingerprint = first 16 bytes of SHA-256(256-bit little-endian sum of ids mod 2^256 || varint(count)),
 * modes Skip(0) / Fingerprint(1) / IdList(2), 16-way splitting, IdList below 32 items,
 * optional frame size limit (>= 4096 bytes, 0 = none).
 * No PostgreSQL, curl or lws header: malloc'd memory, status codes, no longjmp.
 */
#ifndef BIGBROTR_NOSTR_NEGENTROPY_H
#define BIGBROTR_NOSTR_NEGENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/buf.h"
#include "nostr/error.h"

typedef struct neg_item
{
	uint64_t	timestamp;		/* created_at */
	uint8_t		id[32];
} neg_item;

/* Sorts items by (timestamp, id) and removes exact duplicates; returns the new count. */
size_t		neg_items_sort(neg_item *items, size_t count);

typedef struct negentropy negentropy;

/*
 * A reconciliation over `items` (sorted by neg_items_sort, copied). frame_size_limit: 0 = none,
 * else >= 4096 (NOSTR_ERR_BAD_ARGUMENT otherwise). NULL + err on ENOMEM / bad argument.
 */
negentropy *neg_new(const neg_item *items, size_t count, size_t frame_size_limit, nostr_error *err);
void		neg_free(negentropy *n);

/* Initiator (client): the first message (binary, appended to out). Marks n as the initiator. */
int			neg_initiate(negentropy *n, nostr_buf *out, nostr_error *err);

/*
 * Called for each id found: `have` = we hold it and the peer lacks it; `need` = the peer holds it and we lack it.
 * Each id is reported once per negentropy object: with a frame size limit the protocol can bring back a
 * range it had settled, and repeats are filtered (a bit per item, about 64 bytes per need id reported).
 */
typedef void (*neg_id_fn) (void *arg, const uint8_t id[32]);

/*
 * Reconciles one received message (binary). Responder (server): out gets the reply (never empty
 * unless the protocol is done). Initiator: have/need callbacks fire for the ids found; out gets the
 * next message to send, or nothing with *done = true when reconciliation is complete.
 * (Responder detail: the reply is at least the version byte, as strfry sends it, and *done is set
 * when that byte is all; an unknown version 0x60..0x6f gets that one-byte reply. have/need, when
 * given, also fire in the responder for the initiator's IdLists. NULL callbacks are skipped.)
 * A malformed message (bad version byte, truncated varint, bad mode, bounds out of order, ...) is
 * NOSTR_ERR_BAD_MESSAGE with a reason in err; n must then be freed.
 */
int			neg_reconcile(negentropy *n, const uint8_t *msg, size_t len, nostr_buf *out, bool *done,
						  neg_id_fn have, neg_id_fn need, void *arg, nostr_error *err);

/* Fingerprint of items[begin, end) (16 bytes), exposed for tests. */
void		neg_fingerprint(const neg_item *items, size_t begin, size_t end, uint8_t out[16]);

#endif							/* BIGBROTR_NOSTR_NEGENTROPY_H */
