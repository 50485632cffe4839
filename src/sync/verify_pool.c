/*
 * verify_pool.c: the signature-checking threads of verify_pool.h. One mutex guards the FIFO of
 * queued jobs and every job's state; a job is shared by the queue and its owner (two references)
 * and freed by whichever lets go last, so an owner may drop a job still queued or running.
 */
#include "sync/verify_pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/error.h"
#include "nostr/event.h"

typedef enum JobState
{
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE
} JobState;

struct VerifyJob
{
	VerifyJob  *next;			/* in the queue */
	uint8_t		id[32];
	uint8_t		pubkey[32];
	uint8_t		sig[64];
	JobState	state;
	int			status;			/* nostr_status, once done */
	int			refs;
	bool		dropped;
};

struct VerifyPool
{
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued, or stop */
	pthread_cond_t done;		/* a job finished */
	VerifyJob  *head;
	VerifyJob  *tail;
	bool		stop;
	int			nthreads;
	pthread_t  *threads;
	VerifyPoolStats stats;
	nostr_pubkey_cache *caller_cache;	/* used only by the caller's thread */
};

static void
unref_locked(VerifyJob *job)
{
	if (--job->refs == 0)
		free(job);
}

static VerifyJob *
pop_locked(VerifyPool *pool)
{
	VerifyJob  *job = pool->head;

	if (job)
	{
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		job->next = NULL;
	}
	return job;
}

/* Runs a popped job (the lock is held on entry and on return, released while verifying). */
static void
run_locked(VerifyPool *pool, VerifyJob *job, nostr_pubkey_cache *cache, bool by_caller)
{
	if (!job->dropped)
	{
		nostr_error err;
		uint8_t		id[32],
					pubkey[32],
					sig[64];

		job->state = JOB_RUNNING;
		memcpy(id, job->id, 32);
		memcpy(pubkey, job->pubkey, 32);
		memcpy(sig, job->sig, 64);
		pthread_mutex_unlock(&pool->lock);
		job->status = nostr_sig_verify(id, pubkey, sig, cache, &err);
		pthread_mutex_lock(&pool->lock);
		if (by_caller)
			pool->stats.run_by_caller++;
		else
			pool->stats.run_by_helpers++;
	}
	job->state = JOB_DONE;
	pthread_cond_broadcast(&pool->done);
	unref_locked(job);			/* the queue's reference */
}

static void *
helper_main(void *arg)
{
	VerifyPool *pool = arg;
	nostr_pubkey_cache *cache = nostr_pubkey_cache_new(1024);	/* NULL: verify without one */

	pthread_mutex_lock(&pool->lock);
	for (;;)
	{
		VerifyJob  *job;

		while (pool->head == NULL && !pool->stop)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (pool->stop)
			break;
		job = pop_locked(pool);
		run_locked(pool, job, cache, false);
	}
	pthread_mutex_unlock(&pool->lock);
	nostr_pubkey_cache_free(cache);
	return NULL;
}

VerifyPool *
verify_pool_new(int threads, char *error, size_t error_size)
{
	VerifyPool *pool;
	sigset_t	all,
				old;
	int			rc;

	if (threads < 1)
	{
		snprintf(error, error_size, "a verify pool needs at least one thread, not %d", threads);
		return NULL;
	}
	pool = calloc(1, sizeof(VerifyPool));
	if (pool == NULL || (pool->threads = calloc((size_t) threads, sizeof(pthread_t))) == NULL)
	{
		free(pool);
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	if ((rc = pthread_mutex_init(&pool->lock, NULL)) != 0 ||
		(rc = pthread_cond_init(&pool->work, NULL)) != 0 ||
		(rc = pthread_cond_init(&pool->done, NULL)) != 0)
	{
		snprintf(error, error_size, "pthread init: %s", strerror(rc));
		free(pool->threads);
		free(pool);
		return NULL;
	}
	pool->caller_cache = nostr_pubkey_cache_new(1024);
	/* the helpers inherit this mask: every signal stays with the caller's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < threads; i++)
	{
		rc = pthread_create(&pool->threads[i], NULL, helper_main, pool);
		if (rc != 0)
		{
			snprintf(error, error_size, "pthread_create: %s", strerror(rc));
			break;
		}
		pool->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pool->nthreads < threads)
	{
		verify_pool_free(pool);
		return NULL;
	}
	return pool;
}

void
verify_pool_free(VerifyPool *pool)
{
	VerifyJob  *job;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	/* jobs nobody ran: their owners dropped them (or must not ask any more) */
	while ((job = pop_locked(pool)) != NULL)
	{
		job->state = JOB_DONE;
		job->status = NOSTR_ERR_BAD_SIGNATURE;
		unref_locked(job);
	}
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->done);
	pthread_mutex_destroy(&pool->lock);
	nostr_pubkey_cache_free(pool->caller_cache);
	free(pool->threads);
	free(pool);
}

int
verify_pool_threads(const VerifyPool *pool)
{
	return pool ? pool->nthreads : 0;
}

VerifyPoolStats
verify_pool_stats(VerifyPool *pool)
{
	VerifyPoolStats st;

	pthread_mutex_lock(&pool->lock);
	st = pool->stats;
	pthread_mutex_unlock(&pool->lock);
	return st;
}

VerifyJob *
verify_pool_submit(VerifyPool *pool, const uint8_t id[32], const uint8_t pubkey[32], const uint8_t sig[64])
{
	VerifyJob  *job = calloc(1, sizeof(VerifyJob));

	if (job == NULL)
		return NULL;
	memcpy(job->id, id, 32);
	memcpy(job->pubkey, pubkey, 32);
	memcpy(job->sig, sig, 64);
	job->state = JOB_QUEUED;
	job->refs = 2;				/* the queue's and the owner's */
	pthread_mutex_lock(&pool->lock);
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pool->stats.submitted++;
	pthread_cond_signal(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	return job;
}

bool
verify_job_done(VerifyPool *pool, VerifyJob *job)
{
	bool		done;

	pthread_mutex_lock(&pool->lock);
	done = job->state == JOB_DONE;
	pthread_mutex_unlock(&pool->lock);
	return done;
}

int
verify_job_finish(VerifyPool *pool, VerifyJob *job)
{
	int			status;

	pthread_mutex_lock(&pool->lock);
	while (job->state != JOB_DONE)
	{
		VerifyJob  *other = pop_locked(pool);

		if (other)
			run_locked(pool, other, pool->caller_cache, true);
		else
			pthread_cond_wait(&pool->done, &pool->lock);	/* a helper is running it */
	}
	status = job->status;
	unref_locked(job);
	pthread_mutex_unlock(&pool->lock);
	return status;
}

void
verify_job_drop(VerifyPool *pool, VerifyJob *job)
{
	pthread_mutex_lock(&pool->lock);
	if (job->state != JOB_DONE)
		pool->stats.dropped++;
	job->dropped = true;
	unref_locked(job);
	pthread_mutex_unlock(&pool->lock);
}
