/*
 * known_cache.h: a synchronizer worker's memory of (id, sig) pairs it knows are archived (it
 * stored them, or the archive returned them), so a sighting of the same event on another relay
 * skips the signature check and the insert of the event. Bounded: a fixed number of entries
 * chosen at creation (96 bytes each), the oldest of a full bucket replaced. A hit requires the
 * whole id and the whole signature to match (Schnorr signatures are not unique: the same event
 * signed twice is verified again). Pure C, one thread.
 */
#ifndef BIGBROTR_SYNC_KNOWN_CACHE_H
#define BIGBROTR_SYNC_KNOWN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct KnownCache KnownCache;

/* entries is rounded up to a power of two (at least 16). NULL on ENOMEM. */
KnownCache *known_cache_new(size_t entries);
void		known_cache_free(KnownCache *cache);
size_t		known_cache_capacity(const KnownCache *cache);

bool		known_cache_has(const KnownCache *cache, const uint8_t id[32], const uint8_t sig[64]);
void		known_cache_add(KnownCache *cache, const uint8_t id[32], const uint8_t sig[64]);

#endif							/* BIGBROTR_SYNC_KNOWN_CACHE_H */
