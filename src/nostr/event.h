/*
 * event.h: Nostr events (NIP-01): strict parsing from JSON, the canonical serialization whose
 * SHA-256 is the id, BIP-340 signature verification with libsecp256k1, building events in C, and
 * serializing a full event back to JSON.
 *
 * Nothing from the wire is trusted: nostr_event_parse checks shapes and types only, and
 * nostr_event_verify (or the one-shot nostr_event_parse_verify) must pass before an event is
 * believed. All functions are reentrant; a nostr_pubkey_cache belongs to one thread at a time.
 */
#ifndef BIGBROTR_NOSTR_EVENT_H
#define BIGBROTR_NOSTR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/error.h"
#include "nostr/json.h"

/* A UTF-8 string with its length; also NUL-terminated, but may contain NUL (from \u0000). */
typedef struct nostr_str
{
	const char *ptr;
	size_t		len;
} nostr_str;

/* One tag: an array of strings, e.g. ["e", "<hex id>", "wss://relay"]. May be empty. */
typedef struct nostr_tag
{
	nostr_str  *items;
	size_t		count;
} nostr_tag;

typedef struct nostr_event
{
	uint8_t		id[32];
	uint8_t		pubkey[32];		/* BIP-340 x-only public key */
	uint8_t		sig[64];
	int64_t		created_at;		/* seconds, >= 0 */
	int32_t		kind;			/* 0..65535 */
	nostr_tag  *tags;
	size_t		tag_count;
	const char *content;		/* UTF-8, NUL-terminated, may contain NUL: use content_len */
	size_t		content_len;
	/*
	 * The tags as compact JSON text (NUL-terminated), escaped as in the canonical form: what to
	 * store as jsonb. Set by parse and sign; nostr_event_add_tag drops it (NULL) until the next
	 * nostr_event_sign / nostr_event_compute_id refreshes it.
	 */
	char	   *tags_json;
	size_t		tags_json_len;
	void	   *priv;			/* owned memory; do not touch */
} nostr_event;

/* No size limit for nostr_event_parse's max_size. */
#define NOSTR_EVENT_NO_LIMIT 0

/*
 * Parses one event object from json[0..len). Checks: len <= max_size (unless NOSTR_EVENT_NO_LIMIT),
 * well-formed strict JSON, a top-level object with exactly one each of id (64 lower-case hex),
 * pubkey (64), sig (128), created_at (integer >= 0 fitting int64, no fraction/exponent), kind
 * (integer 0..65535), tags (array of arrays of strings), content (string). Unknown extra members
 * are ignored. Does NOT check the id or signature: see nostr_event_verify.
 * On success returns NOSTR_OK and *out must be freed with nostr_event_free; on failure *out is
 * zeroed and needs no freeing (freeing it is harmless).
 */
int			nostr_event_parse(const char *json, size_t len, size_t max_size,
							  nostr_event *out, nostr_error *err);

/*
 * The same from the object at doc->nodes[node] of an already parsed document (an EVENT message's
 * third element), so a message is parsed once. On success the event takes doc->strings (set to
 * NULL: strings of the rest of the document stay valid while the event lives); on failure *out is
 * zeroed and the document is untouched.
 */
int			nostr_event_from_json(nostr_json_doc *doc, size_t node, nostr_event *out,
								  nostr_error *err);

/* Frees what the event owns and zeroes it. NULL and zeroed events are fine. */
void		nostr_event_free(nostr_event *ev);

/*
 * Canonical NIP-01 serialization [0,"<pubkey hex>",created_at,kind,tags,"content"], escaped as
 * JSON.stringify does. Returns a malloc'd NUL-terminated string (free() it), NULL on ENOMEM.
 */
char	   *nostr_event_serialize_canonical(const nostr_event *ev, size_t *len_out);

/* SHA-256 of the canonical serialization into out (may alias ev->id). Refreshes ev->tags_json. */
int			nostr_event_compute_id(nostr_event *ev, uint8_t out[32], nostr_error *err);

/*
 * A small direct-mapped cache of parsed x-only public keys, keyed by all 32 pubkey bytes, to skip
 * the square root of decompression for repeated authors. Not thread-safe: one per thread.
 */
typedef struct nostr_pubkey_cache nostr_pubkey_cache;

/* slots is rounded up to a power of two (0 means 1024). NULL on ENOMEM. */
nostr_pubkey_cache *nostr_pubkey_cache_new(size_t slots);
void		nostr_pubkey_cache_free(nostr_pubkey_cache *cache);

/*
 * Checks sha256(canonical form) == id (NOSTR_ERR_ID_MISMATCH), that pubkey is a valid x-only key
 * (NOSTR_ERR_BAD_PUBKEY), and the BIP-340 signature over id (NOSTR_ERR_BAD_SIGNATURE). cache is an
 * optional pubkey cache (NULL = none).
 */
int			nostr_event_verify_cached(const nostr_event *ev, nostr_pubkey_cache *cache,
									  nostr_error *err);

/*
 * The two halves of nostr_event_verify_cached, for callers that skip the signature of an (id, sig)
 * pair they verified before: nostr_event_check_id checks sha256(canonical form) == id only (a few
 * microseconds: it binds the content to the id); nostr_sig_verify checks that pubkey is a valid
 * x-only key and the BIP-340 signature sig over id (tens of microseconds). Both reentrant; the
 * cache (optional) belongs to the calling thread.
 */
int			nostr_event_check_id(const nostr_event *ev, nostr_error *err);
int			nostr_sig_verify(const uint8_t id[32], const uint8_t pubkey[32], const uint8_t sig[64],
							 nostr_pubkey_cache *cache, nostr_error *err);

/*
 * Parse then verify. On success *out holds the verified event (free it). On any failure *out
 * is freed and zeroed and the status says why. cache may be NULL.
 */
int			nostr_event_parse_verify(const char *json, size_t len, size_t max_size,
									 nostr_pubkey_cache *cache, nostr_event *out,
									 nostr_error *err);

/*
 * True if the content or any tag string holds U+0000: PostgreSQL text and jsonb cannot store it,
 * so a caller storing events must decide what to do with such (valid) events.
 */
bool		nostr_event_has_nul(const nostr_event *ev);

/*
 * Building events in C (before nostr_event_sign in keys.h). nostr_event_init zeroes ev and copies
 * the content (must be valid UTF-8: NOSTR_ERR_BAD_UTF8 otherwise). nostr_event_add_tag appends a
 * tag of n strings (copied; lens may be NULL for NUL-terminated values).
 */
int			nostr_event_init(nostr_event *ev, int64_t created_at, int32_t kind,
							 const char *content, size_t content_len, nostr_error *err);
int			nostr_event_add_tag(nostr_event *ev, const char *const *values, const size_t *lens,
								size_t n, nostr_error *err);

/*
 * The full event as compact JSON: {"id":..,"pubkey":..,"created_at":..,"kind":..,"tags":..,
 * "content":..,"sig":..}. malloc'd, NUL-terminated (free() it); NULL on ENOMEM.
 */
char	   *nostr_event_to_json(const nostr_event *ev, size_t *len_out);

#endif							/* BIGBROTR_NOSTR_EVENT_H */
