/*
 * verify_pool.h: BIP-340 signature checks on helper threads, so that a synchronizer worker's main
 * thread (the only one that may call PostgreSQL) stores one batch while the next is verified.
 *
 * A job is the (id, pubkey, sig) of one event; the caller submits it and later asks for its result
 * (verify_job_finish), which runs queued jobs on the calling thread while the result is not ready,
 * so the caller never idles while work is queued. The helpers are pure C (libsecp256k1 through
 * nostr/event.h, malloc, pthreads): no PostgreSQL, no longjmp, and every signal is blocked in them,
 * so signals keep reaching the main thread only. The number of threads is fixed at creation;
 * memory is one small job per event the caller holds (the caller bounds that). verify_pool_free
 * stops and joins the threads: a job runs for tens of microseconds, so it returns at once. Drop or
 * finish every job before freeing the pool.
 */
#ifndef BIGBROTR_SYNC_VERIFY_POOL_H
#define BIGBROTR_SYNC_VERIFY_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct VerifyPool VerifyPool;
typedef struct VerifyJob VerifyJob;

typedef struct VerifyPoolStats
{
	int64_t		submitted;
	int64_t		run_by_helpers; /* verified on a helper thread */
	int64_t		run_by_caller;	/* verified on the caller's thread while it waited */
	int64_t		dropped;		/* released before their result was asked */
} VerifyPoolStats;

/* threads >= 1. NULL on failure, with the reason in error. */
VerifyPool *verify_pool_new(int threads, char *error, size_t error_size);
void		verify_pool_free(VerifyPool *pool);
int			verify_pool_threads(const VerifyPool *pool);
VerifyPoolStats verify_pool_stats(VerifyPool *pool);

/* Queues one check. NULL on ENOMEM (the caller verifies itself). */
VerifyJob  *verify_pool_submit(VerifyPool *pool, const uint8_t id[32], const uint8_t pubkey[32],
							   const uint8_t sig[64]);
/* Whether the job's result is ready (never blocks). */
bool		verify_job_done(VerifyPool *pool, VerifyJob *job);
/*
 * The job's result, a nostr_status (NOSTR_OK: the signature is valid), waiting (and meanwhile
 * verifying queued jobs on this thread) if needed. Releases the job.
 */
int			verify_job_finish(VerifyPool *pool, VerifyJob *job);
/* Releases a job whose result is not wanted (it is skipped if not yet run). */
void		verify_job_drop(VerifyPool *pool, VerifyJob *job);

#endif							/* BIGBROTR_SYNC_VERIFY_POOL_H */
