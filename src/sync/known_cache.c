/*
 * known_cache.c: the (id, sig) set of known_cache.h, as 4-way buckets indexed by the id's first
 * bytes (ids are SHA-256 outputs, so already uniform); a full bucket replaces its entries in turn.
 */
#include "sync/known_cache.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4

typedef struct KnownEntry
{
	uint8_t		id[32];
	uint8_t		sig[64];
} KnownEntry;

struct KnownCache
{
	KnownEntry *entries;
	uint8_t    *used;			/* per bucket: entries filled (0..WAYS) */
	uint8_t    *next;			/* per bucket: the way replaced next */
	size_t		buckets;		/* a power of two */
};

static size_t
bucket_of(const KnownCache *c, const uint8_t id[32])
{
	uint64_t	h;

	memcpy(&h, id, sizeof(h));
	return (size_t) (h & (c->buckets - 1));
}

KnownCache *
known_cache_new(size_t entries)
{
	KnownCache *c = calloc(1, sizeof(KnownCache));
	size_t		buckets = 4;

	if (c == NULL)
		return NULL;
	while (buckets * WAYS < entries && buckets < ((size_t) 1 << 40))
		buckets <<= 1;
	c->buckets = buckets;
	c->entries = calloc(buckets * WAYS, sizeof(KnownEntry));
	c->used = calloc(buckets, 1);
	c->next = calloc(buckets, 1);
	if (c->entries == NULL || c->used == NULL || c->next == NULL)
	{
		known_cache_free(c);
		return NULL;
	}
	return c;
}

void
known_cache_free(KnownCache *c)
{
	if (c == NULL)
		return;
	free(c->entries);
	free(c->used);
	free(c->next);
	free(c);
}

size_t
known_cache_capacity(const KnownCache *c)
{
	return c->buckets * WAYS;
}

bool
known_cache_has(const KnownCache *c, const uint8_t id[32], const uint8_t sig[64])
{
	size_t		b = bucket_of(c, id);
	const KnownEntry *e = &c->entries[b * WAYS];

	for (int w = 0; w < c->used[b]; w++)
		if (memcmp(e[w].id, id, 32) == 0 && memcmp(e[w].sig, sig, 64) == 0)
			return true;
	return false;
}

void
known_cache_add(KnownCache *c, const uint8_t id[32], const uint8_t sig[64])
{
	size_t		b = bucket_of(c, id);
	KnownEntry *e = &c->entries[b * WAYS];
	int			w;

	if (known_cache_has(c, id, sig))
		return;
	if (c->used[b] < WAYS)
		w = c->used[b]++;
	else
	{
		w = c->next[b];
		c->next[b] = (uint8_t) ((w + 1) % WAYS);
	}
	memcpy(e[w].id, id, 32);
	memcpy(e[w].sig, sig, 64);
}
