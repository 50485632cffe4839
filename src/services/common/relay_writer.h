/*
 * relay_writer.h: collects relay URLs from any source (seed file, HTTP API, archived events),
 * validates and normalizes them with the nostr core, applies the private-address policy, drops
 * duplicates, and inserts them in batches through bigbrotr.insert_relays. A row PostgreSQL refuses
 * (a trigger, a constraint, an encoding error) is isolated by bb_insert_isolating: it is logged with
 * its URL, SQLSTATE and message and counted in `unstorable`; the rest of its batch is stored.
 *
 * Memory: the duplicate filter keeps each distinct normalized URL once, sized to the URL (packed in
 * blocks, no fixed-size keys), and a batch's Datums live in a context reset at every flush, so a
 * writer costs about (URL length + 40 bytes) per distinct URL it has seen, plus one batch.
 */
#ifndef BIGBROTR_RELAY_WRITER_H
#define BIGBROTR_RELAY_WRITER_H

#include "utils/hsearch.h"
#include "utils/palloc.h"

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
	MemoryContext batch_cxt;	/* the queued batch's Datums and arrays; reset at every flush */
	HTAB	   *seen;			/* keys: char * into the key blocks below */
	char	   *key_block;		/* packed copies of the distinct normalized URLs */
	size_t		key_used;
	size_t		key_cap;
	int64		inserted_new;	/* relays the database did not have */
	int64		unstorable;		/* rows PostgreSQL refused (logged with URL, SQLSTATE, message) */
} RelayWriter;

/* Allocated in the current memory context (freed with it). */
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
