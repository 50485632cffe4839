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
/*
 * Stores the events in one transaction with the relay's cursor (which only moves forward), in
 * batches of sync_batch_size. Returns how many events were new to the archive.
 */
int64		sync_store_events(const char *url, const char *network, const SyncEvent *events,
							  size_t n, int64 cursor, int64 seen_at);
/* Marks the relay done in the queue with its stats, and records shortfalls in its state. */
void		sync_store_finish(const char *url, int64 cycle, const char *stats_json,
							  const char *shortfalls_json);

PGDLLEXPORT void bigbrotr_sync_worker_main(Datum main_arg);

#endif							/* BIGBROTR_SERVICES_SYNCHRONIZER_H */
