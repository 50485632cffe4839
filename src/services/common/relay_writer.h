/*
 * relay_writer.h: collects relay URLs from any source (seed file, HTTP API, archived events),
 * validates and normalizes them with the nostr core, applies the private-address policy, drops
 * duplicates, and inserts them in batches through bigbrotr.insert_relays.
 */
#ifndef BIGBROTR_RELAY_WRITER_H
#define BIGBROTR_RELAY_WRITER_H

#include "utils/hsearch.h"

#include "services/common/relay_url_check.h"

typedef enum RelayAddResult
{
	RELAY_ADDED,
	RELAY_DUPLICATE,			/* already added to this writer */
	RELAY_INVALID,				/* not a valid ws:// or wss:// relay URL */
	RELAY_PRIVATE				/* targets a private/loopback address and they are not allowed */
} RelayAddResult;

typedef struct RelayWriter
{
	int			batch_size;
	int			n;
	Datum	   *urls;
	Datum	   *networks;
	Datum	   *inserted_ats;
	HTAB	   *seen;
	int64		inserted_new;	/* relays the database did not have */
} RelayWriter;

/* Allocated in the current memory context. */
RelayWriter *relay_writer_create(int batch_size);

/*
 * Validates url and queues it. check receives the normalized form or the reason of a rejection.
 * A full batch is flushed in a transaction of its own unless in_transaction is set.
 */
RelayAddResult relay_writer_add(RelayWriter *writer, const char *url, RelayUrlCheck *check,
								int64 inserted_at, bool in_transaction);

/* Inserts what is queued: in its own transaction, or in the caller's when in_transaction. */
void		relay_writer_flush(RelayWriter *writer, bool in_transaction);

#endif							/* BIGBROTR_RELAY_WRITER_H */
