/*
 * synchronizer.h: what the synchronizer's files share: its GUCs (synchronizer.c), the database side
 * of a worker (sync_store.c: claims, cursors, batch inserts; sync_neg.c: negentropy's items,
 * links and "unsupported" mark) and the worker's entry point
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
extern int	sync_verify_threads;
extern int	sync_known_cache_size;
extern int	sync_rescan_interval;
extern int	sync_overlap_seconds;
extern int	sync_negentropy;	/* SYNC_NEG_OFF / _AUTO / _ONLY (sync_session.h) */
extern int	sync_neg_max_items;
extern char *sync_private_key;

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

/*
 * Claims the next relay of this cycle (unclaimed, or claimed by a process that is gone), unless
 * this process already holds `active` relays, its fair share of the relays still open with
 * `processes` processes (0 active: always).
 */
bool		sync_store_claim(int64 cycle, int active, int processes, SyncClaim *claim);
/* Whether relays of this cycle wait to be claimed. */
bool		sync_store_unclaimed(int64 cycle);

/* A relay's position in service_state: each field may be absent. */
typedef struct SyncRelayState
{
	bool		has_cursor;
	int64		cursor;			/* every event up to here is archived (never past a shortfall) */
	bool		has_frontier;
	int64		frontier;		/* synced up to here, shortfalls recorded (cursor <= frontier) */
	bool		has_rescan_at;
	int64		rescan_at;		/* when the last completed rescan started (Unix seconds) */
	int64		largest_answer; /* the relay's largest answer to one request; 0: unknown */
} SyncRelayState;

/* The relay's stored position; false when it has no cursor. */
bool		sync_store_read_state(const char *url, SyncRelayState *state);

/* archived[i]: the archive holds events[i] (state SYNC_EV_LOOKUP) with the same id and signature. */
void		sync_store_lookup(const SyncEvent *events, size_t n, bool *archived);

/* An event PostgreSQL refused to store (its row isolated by bb_insert_isolating). */
typedef struct SyncRejected
{
	size_t		index;			/* in the events given */
	int64		created_at;
	uint8		id[32];
} SyncRejected;

/* One settled batch of a relay, stored by sync_store_events. */
typedef struct SyncStoreBatch
{
	const char *url;
	const char *network;
	const SyncEvent *events;	/* VALID: inserted; KNOWN: sighting; INVALID: skipped */
	size_t		n;
	bool		write_cursor;	/* false: the cursor stays as stored (a gap lies before) */
	int64		cursor;			/* in: the cursor the batch justifies; out: as written */
	int64		frontier;		/* in and out, as the cursor */
	int64		seen_at;
	SyncRejected *rejected;		/* room for n entries */
	size_t		n_rejected;		/* out */
	int64		fresh;			/* out: events new to the archive */
	int64		known_recorded; /* out: sightings of known events recorded */
	int64		late_invalid;	/* out: known events gone from the archive with a bad signature */
} SyncStoreBatch;

/*
 * Stores the batch in one transaction with the relay's position (which only moves forward): the
 * sightings of KNOWN events through bigbrotr.insert_sightings (one the archive no longer holds is
 * verified and inserted), VALID events through bigbrotr.insert_events in batches of
 * sync_batch_size. A row PostgreSQL refuses costs only itself: it is logged (WARNING, with the
 * relay URL, event id, SQLSTATE and message), listed in rejected, and the cursor written stays
 * below its created_at.
 */
void		sync_store_events(SyncStoreBatch *batch);
/*
 * The archive's distinct kinds (of the given kinds, all when nkinds is 0) and authors of events
 * created at second, at most max of each, in one parameterized query. Returns how many in all.
 */
size_t		sync_store_hints(int64 second, const int32 *kinds, int nkinds, int max, int32 *out_kinds,
							 size_t *n_kinds, uint8 (*out_authors)[32], size_t *n_authors);
/*
 * Marks the relay done in the queue with its stats, and records its shortfalls in its state
 * (replacing those recorded, or added to them when the session did not start at the cursor), with
 * the start of a completed rescan when there was one, and the relay's largest answer (0: keep).
 */
void		sync_store_finish(const char *url, int64 cycle, const char *stats_json,
							  const char *shortfalls_json, bool replace_shortfalls,
							  bool has_rescan_at, int64 rescan_at, int64 largest_answer);

/*
 * Negentropy's side of a worker (sync_neg.c). The relay's archive items (created_at, id) in
 * [since, until], sorted, at most max, into out (room for max); returns how many.
 */
size_t		sync_neg_items(const char *url, int64 since, int64 until, size_t max, neg_item *out);
/*
 * Records the sightings of needed ids the archive holds (bigbrotr.insert_sightings, one
 * transaction); the ids it does not hold go to missing (room for n). Returns how many are missing.
 */
size_t		sync_neg_link(const char *url, const char *network, const uint8 (*ids)[32], size_t n,
						  int64 seen_at, uint8 (*missing)[32]);
/* Until when the relay is known not to speak negentropy (0: not known). */
int64		sync_neg_unsupported_until(const char *url);
/* Remembers that until `until` (negentropy_unsupported_until in its state). */
void		sync_neg_remember_unsupported(const char *url, int64 until);

/*
 * Relay etiquette. The relay's latest NIP-11 limitation.max_limit when it is a whole number in
 * 1 .. 2^31-1 (0: none, or a document not to be believed).
 */
int64		sync_store_max_limit(const char *url);
/*
 * Merges a JSON object into the relay's state row (jsonb ||: its keys replace those of the same
 * name), in its own transaction: the last refusal, the "no negentropy" mark.
 */
void		sync_store_merge_state(const char *url, const char *json_object);
/*
 * One bigbrotr.insert_sightings call inside the caller's transaction: the sightings of ids[0 .. n)
 * the archive holds are recorded, the others copied to missing (room for n); returns how many.
 */
size_t		sync_store_sightings(const char *url, const char *network, int64 seen_at,
								 const uint8 (*ids)[32], size_t n, uint8 (*missing)[32]);

/* sync_etiquette.c: the worker's NIP-42 key (NULL: none; read once), forgotten at exit. */
const uint8 *sync_etiquette_key(void);
void		sync_etiquette_forget_key(void);
/* The REQ limit for a relay: its NIP-11 max_limit when below bigbrotr.synchronizer_limit. */
int64		sync_etiquette_limit(const char *url);
/* The relay's etiquette counters, as members of its stats object. */
struct JsonWriter;
void		sync_etiquette_stats_json(struct JsonWriter *w, const SyncSession *s, int64 limit);
/* The session's last refusal as the state object {"last_refusal": {kind, prefix, message, at}} (palloc'd); NULL when none. */
char	   *sync_etiquette_refusal_json(const SyncSession *s);

PGDLLEXPORT void bigbrotr_sync_worker_main(Datum main_arg);

#endif							/* BIGBROTR_SERVICES_SYNCHRONIZER_H */
