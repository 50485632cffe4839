/*
 * test_verify_pool.c: the synchronizer's signature threads (sync/verify_pool) and its known-event
 * cache (sync/known_cache): results match a direct check for valid and forged signatures, jobs
 * dropped while queued or running cost nothing, the caller helps when it waits, many jobs from
 * several rounds all settle, and the cache answers only for the exact (id, sig) within its bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/keys.h"
#include "sync/known_cache.h"
#include "sync/verify_pool.h"
#include "tap.h"

#define NEVENTS 400

typedef struct signed_event
{
	uint8_t		id[32];
	uint8_t		pubkey[32];
	uint8_t		sig[64];
	bool		valid;
} signed_event;

static void
make_events(signed_event *out, int n)
{
	for (int i = 0; i < n; i++)
	{
		nostr_event ev;
		nostr_error err;
		uint8_t		key[32] = {0};
		char		content[32];

		key[0] = 0x42;
		key[31] = (uint8_t) (i % 7 + 1);
		snprintf(content, sizeof(content), "pool %d", i);
		if (nostr_event_init(&ev, 1700000000 + i, 1, content, strlen(content), &err) != NOSTR_OK ||
			nostr_event_sign(&ev, key, &err) != NOSTR_OK)
		{
			fprintf(stderr, "sign: %s\n", err.message);
			exit(2);
		}
		memcpy(out[i].id, ev.id, 32);
		memcpy(out[i].pubkey, ev.pubkey, 32);
		memcpy(out[i].sig, ev.sig, 64);
		out[i].valid = true;
		if (i % 5 == 3)
		{
			out[i].sig[10] ^= 0x01;	/* forged */
			out[i].valid = false;
		}
		nostr_event_free(&ev);
	}
}

static void
pool_results(void)
{
	static signed_event ev[NEVENTS];
	VerifyJob  *jobs[NEVENTS];
	char		error[128];
	VerifyPool *pool = verify_pool_new(2, error, sizeof(error));
	int			agree = 0,
				direct_agree = 0;
	VerifyPoolStats st;

	make_events(ev, NEVENTS);
	CHECK(pool != NULL && verify_pool_threads(pool) == 2, "verify pool: two threads start");
	if (pool == NULL)
		return;
	for (int round = 0; round < 3; round++)
	{
		for (int i = 0; i < NEVENTS; i++)
			jobs[i] = verify_pool_submit(pool, ev[i].id, ev[i].pubkey, ev[i].sig);
		for (int i = 0; i < NEVENTS; i++)
		{
			int			rc = verify_job_finish(pool, jobs[i]);

			agree += (rc == NOSTR_OK) == ev[i].valid;
		}
	}
	for (int i = 0; i < NEVENTS; i++)
	{
		nostr_error err;

		direct_agree += (nostr_sig_verify(ev[i].id, ev[i].pubkey, ev[i].sig, NULL, &err) == NOSTR_OK) == ev[i].valid;
	}
	CHECK(agree == 3 * NEVENTS && direct_agree == NEVENTS,
		  "verify pool: %d of %d results agree with the signatures (1 in 5 forged), as nostr_sig_verify does",
		  agree, 3 * NEVENTS);
	st = verify_pool_stats(pool);
	CHECK(st.submitted == 3 * NEVENTS && st.run_by_helpers + st.run_by_caller == 3 * NEVENTS,
		  "verify pool: every job ran once (%lld on the threads, %lld by the waiting caller)",
		  (long long) st.run_by_helpers, (long long) st.run_by_caller);

	/* dropped while queued: skipped, and nothing leaks (ASan/valgrind runs check) */
	for (int i = 0; i < NEVENTS; i++)
		jobs[i] = verify_pool_submit(pool, ev[i].id, ev[i].pubkey, ev[i].sig);
	for (int i = 0; i < NEVENTS; i += 2)
		verify_job_drop(pool, jobs[i]);
	agree = 0;
	for (int i = 1; i < NEVENTS; i += 2)
		agree += (verify_job_finish(pool, jobs[i]) == NOSTR_OK) == ev[i].valid;
	CHECK(agree == NEVENTS / 2, "verify pool: jobs dropped half-way leave the others' results right");

	/* freed with jobs still queued (their owners dropped them): joins at once */
	for (int i = 0; i < NEVENTS; i++)
		verify_job_drop(pool, verify_pool_submit(pool, ev[i].id, ev[i].pubkey, ev[i].sig));
	verify_pool_free(pool);
	CHECK(true, "verify pool: freed with dropped jobs still queued");
	CHECK(verify_pool_new(0, error, sizeof(error)) == NULL && strstr(error, "at least one") != NULL,
		  "verify pool: zero threads refused: %s", error);
}

static void
known_cache_bounds(void)
{
	static signed_event ev[NEVENTS];
	KnownCache *c = known_cache_new(64);
	uint8_t		other_sig[64];
	int			hits = 0;

	make_events(ev, NEVENTS);
	CHECK(c != NULL && known_cache_capacity(c) == 64, "known cache: 64 entries");
	known_cache_add(c, ev[0].id, ev[0].sig);
	memcpy(other_sig, ev[0].sig, 64);
	other_sig[63] ^= 0x80;
	CHECK(known_cache_has(c, ev[0].id, ev[0].sig), "known cache: the exact (id, sig) is known");
	CHECK(!known_cache_has(c, ev[0].id, other_sig),
		  "known cache: the same id with another signature is not (it must be verified)");
	CHECK(!known_cache_has(c, ev[1].id, ev[1].sig), "known cache: an id never added is not");
	for (int i = 0; i < NEVENTS; i++)
		known_cache_add(c, ev[i].id, ev[i].sig);
	for (int i = 0; i < NEVENTS; i++)
		hits += known_cache_has(c, ev[i].id, ev[i].sig);
	CHECK(hits > 0 && hits <= 64, "known cache: after %d additions it holds at most its 64 entries (%d hits)",
		  NEVENTS, hits);
	CHECK(known_cache_has(c, ev[NEVENTS - 1].id, ev[NEVENTS - 1].sig), "known cache: the newest entry is kept");
	known_cache_free(c);
}

void
test_verify_pool(void)
{
	pool_results();
	known_cache_bounds();
}
