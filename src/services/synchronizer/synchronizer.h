/*
 * synchronizer.h: what the synchronizer's files share: its GUCs (synchronizer.c), the database side
 * of a worker (sync_store.c: claims, cursors, batch inserts) and the worker's entry point
 * (sync_worker.c).
 */
#ifndef BIGBROTR_SERVICES_SYNCHRONIZER_H
#define BIGBROTR_SERVICES_SYNCHRONIZER_H

#include "core/bigbrotr.h"
#include "sync/sync_session.h"

extern int	sync_max_metadata_age;
extern bool sync_require_readable;
extern int	sync_max_processes;
extern int	sync_max_parallel;
extern int	sync_stagger_delay;
extern int	sync_lookback_seconds;
extern bool sync_use_relay_state;
extern int	sync_default_start;
extern int	sync_limit;
extern char *sync_kinds;
extern int	sync_request_timeout;
extern int	sync_tor_request_timeout;
extern int	sync_relay_timeout;
extern int	sync_tor_relay_timeout;
extern int	sync_batch_size;
extern int	sync_max_narrowing_keys;
extern int	sync_max_answer_events;
extern int	sync_max_buffered_events;
extern bool sync_archive_hints;

/* The kinds GUC parsed into *kinds (palloc'd); returns the count (0: all kinds). */
int			sync_kinds_list(int32 **kinds);

/* One relay handed to a worker. */
typedef struct SyncClaim
{
	char	   *url;
	char	   *network;
	int			request_timeout;
	int			relay_timeout;
} SyncClaim;

/* Claims the next relay of this cycle (unclaimed, or claimed by a process that is gone). */
bool		sync_store_claim(int64 cycle, SyncClaim *claim);
/* The relay's stored cursor; false when it has none. */
bool		sync_store_read_cursor(const char *url, int64 *cursor);
/* An event PostgreSQL refused to store (its row isolated by bb_insert_isolating). */
typedef struct SyncRejected
{
	size_t		index;			/* in the events given */
	int64		created_at;
	uint8		id[32];
} SyncRejected;

/*
 * Stores the events in one transaction with the relay's cursor (which only moves forward), in
 * batches of sync_batch_size. A row PostgreSQL refuses costs only itself: it is logged (WARNING,
 * with the relay URL, event id, SQLSTATE and message), listed in rejected (room for n entries),
 * and the cursor written stays below its created_at. Returns how many events were new.
 */
int64		sync_store_events(const char *url, const char *network, const SyncEvent *events,
							  size_t n, int64 cursor, int64 seen_at, SyncRejected *rejected,
							  size_t *n_rejected);
/*
 * The archive's distinct kinds (of the given kinds, all when nkinds is 0) and authors of events
 * created at second, at most max of each, in one parameterized query. Returns how many in all.
 */
size_t		sync_store_hints(int64 second, const int32 *kinds, int nkinds, int max, int32 *out_kinds,
							 size_t *n_kinds, uint8 (*out_authors)[32], size_t *n_authors);
/* Marks the relay done in the queue with its stats, and records shortfalls in its state. */
void		sync_store_finish(const char *url, int64 cycle, const char *stats_json,
							  const char *shortfalls_json);

PGDLLEXPORT void bigbrotr_sync_worker_main(Datum main_arg);

#endif							/* BIGBROTR_SERVICES_SYNCHRONIZER_H */
