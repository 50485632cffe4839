/*
 * verify.c: events verified per second per core (strict JSON parse + canonical serialization +
 * SHA-256 id check + BIP-340 verify, with and without the pubkey cache) beside the raw
 * secp256k1_schnorrsig_verify rate on the same signatures with pre-parsed keys and precomputed
 * messages, measured in the same run. Rates are per CPU-second of this process (CLOCK_PROCESS_CPUTIME_ID),
 * so a busy shared machine lowers them less than wall-clock rates.
 *   usage: verify [events.jsonl] [CPU seconds per measurement]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "nostr/event.h"

typedef struct line
{
	const char *s;
	size_t		n;
} line;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "../fixtures/nostr/events_bench.jsonl";
	double		secs = argc > 2 ? atof(argv[2]) : 3.0;
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;
	line	   *lines = NULL;
	size_t		n = 0,
				cap = 0,
				i;
	secp256k1_xonly_pubkey *pks;
	uint8_t   (*ids)[32];
	uint8_t   (*sigs)[64];
	double		t0,
				t,
				raw_rate,
				full_rate,
				cached_rate;
	unsigned long long iters;
	nostr_pubkey_cache *cache = nostr_pubkey_cache_new(4096);
	char	   *p;

	if (!f)
	{
		perror(path);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) size + 1);
	if (!buf || fread(buf, 1, (size_t) size, f) != (size_t) size)
		return 2;
	buf[size] = '\0';
	fclose(f);
	for (p = buf; *p;)
	{
		char	   *e = strchr(p, '\n');
		size_t		len = e ? (size_t) (e - p) : strlen(p);

		if (n == cap)
		{
			cap = cap ? cap * 2 : 1024;
			lines = realloc(lines, cap * sizeof(line));
		}
		lines[n].s = p;
		lines[n].n = len;
		n++;
		if (!e)
			break;
		p = e + 1;
	}
	pks = malloc(n * sizeof(*pks));
	ids = malloc(n * sizeof(*ids));
	sigs = malloc(n * sizeof(*sigs));
	for (i = 0; i < n; i++)
	{
		nostr_event ev;
		nostr_error err;

		if (nostr_event_parse_verify(lines[i].s, lines[i].n, 0, NULL, &ev, &err) != 0)
		{
			fprintf(stderr, "event %zu does not verify: %s\n", i, err.message);
			return 1;
		}
		if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &pks[i], ev.pubkey))
			return 1;
		memcpy(ids[i], ev.id, 32);
		memcpy(sigs[i], ev.sig, 64);
		nostr_event_free(&ev);
	}
	printf("events: %zu from %s (%.1f MB)\n", n, path, size / 1e6);

	/* raw: schnorrsig_verify only */
	iters = 0;
	t0 = now();
	do
	{
		for (i = 0; i < n; i++)
			if (!secp256k1_schnorrsig_verify(secp256k1_context_static, sigs[i], ids[i], 32, &pks[i]))
				return 1;
		iters += n;
	} while ((t = now()) - t0 < secs);
	raw_rate = iters / (t - t0);

	/* full pipeline, no cache */
	iters = 0;
	t0 = now();
	do
	{
		for (i = 0; i < n; i++)
		{
			nostr_event ev;

			if (nostr_event_parse_verify(lines[i].s, lines[i].n, 0, NULL, &ev, NULL) != 0)
				return 1;
			nostr_event_free(&ev);
		}
		iters += n;
	} while ((t = now()) - t0 < secs);
	full_rate = iters / (t - t0);

	/* full pipeline with the pubkey cache */
	iters = 0;
	t0 = now();
	do
	{
		for (i = 0; i < n; i++)
		{
			nostr_event ev;

			if (nostr_event_parse_verify(lines[i].s, lines[i].n, 0, cache, &ev, NULL) != 0)
				return 1;
			nostr_event_free(&ev);
		}
		iters += n;
	} while ((t = now()) - t0 < secs);
	cached_rate = iters / (t - t0);

	printf("raw secp256k1_schnorrsig_verify:        %9.0f verifies/s\n", raw_rate);
	printf("parse+hash+verify (no pubkey cache):    %9.0f events/s  (%.1f%% of raw)\n", full_rate, 100 * full_rate / raw_rate);
	printf("parse+hash+verify (pubkey cache):       %9.0f events/s  (%.1f%% of raw)\n", cached_rate, 100 * cached_rate / raw_rate);
	nostr_pubkey_cache_free(cache);
	free(pks);
	free(ids);
	free(sigs);
	free(lines);
	free(buf);
	return 0;
}
