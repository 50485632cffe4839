/*
 * monitor.h: the pieces of the monitor service: the cycle (monitor.c: GUCs, relay selection, the one
 * event loop driving every check), the per-relay check (monitor_check.c: NIP-11 over HTTP and the
 * NIP-66 open/read/write tests over one WebSocket) and the batch writer (monitor_store.c).
 */
#ifndef BIGBROTR_MONITOR_H
#define BIGBROTR_MONITOR_H

#include "core/bigbrotr.h"

#include "lib/stringinfo.h"

#include "core/json_writer.h"

#include "net/clock.h"
#include "net/http_client.h"
#include "net/ws_client.h"

/* The ephemeral kind published by the write test (20000-29999: relays relay it, never store it). */
#define MONITOR_WRITE_TEST_KIND 22456

typedef struct MonitorSettings
{
	int			timeout_ms;		/* whole check budget, clearnet */
	int			tor_timeout_ms; /* whole check budget, .onion relays */
	size_t		nip11_max_size;
	bool		write_test;		/* a valid private key is set */
	uint8		seckey[32];
} MonitorSettings;

typedef struct MonitorCheck
{
	/* the relay, as selected */
	char	   *url;
	char	   *network;
	int64		inserted_at;
	bool		via_tor;
	int			index;			/* makes the subscription id unique within the cycle */

	int64		generated_at;	/* Unix seconds when the check started: the snapshot's key */
	double		started_ms;
	double		deadline_ms;
	bool		finished;

	/* NIP-11 */
	HttpRequest http;
	bool		http_active;
	char	   *nip11_json;		/* the mapped document (palloc'd), NULL: no nip11 row */
	int			nip11_dropped;	/* known fields dropped for their type or content */
	char		nip11_problem[320];

	/* NIP-66: one WebSocket for open, read and write */
	WsConn	   *conn;
	bool		ws_active;		/* waiting for on_close */
	bool		closing;
	bool		openable;
	bool		readable;
	bool		writable;
	bool		read_answered;
	bool		write_answered;
	int			rtt_open;		/* milliseconds; -1: not measured (NULL) */
	int			rtt_read;
	int			rtt_write;
	double		req_sent_ms;
	double		event_sent_ms;
	char		sub_id[32];
	uint8		event_id[32];
	char	   *req_msg;		/* malloc'd client messages, sent on open */
	size_t		req_len;
	char	   *event_msg;		/* NULL: no write test */
	size_t		event_len;
	int			bad_messages;	/* relay messages that did not parse */
	char		open_problem[256];
	char		read_problem[256];
	char		write_problem[256];
	/*
	 * NIP-42 observed on the read test (a NIP-66 fact, apart from what NIP-11 claims): the relay
	 * sent an AUTH challenge or closed the REQ with "auth-required:".
	 */
	bool		auth_required;
} MonitorCheck;


/* monitor_check.c */
void		monitor_check_start(MonitorCheck *check, HttpClient *http, WsLoop *ws,
								const MonitorSettings *settings);
/* Advances the check (NIP-11 result, deadline); true once both halves have finished. */
bool		monitor_check_poll(MonitorCheck *check, double now_ms);
/* Frees the check's malloc'd messages; the check must have finished (or its loop be destroyed). */
void		monitor_check_release(MonitorCheck *check);

/* monitor_store.c: snapshots batched into bigbrotr.insert_relay_metadata_batch. */
typedef struct MonitorStore
{
	StringInfoData batch;		/* the queued snapshots as JSON objects, comma-separated */
	JsonWriter	writer;			/* writes into batch */
	int		   *ends;			/* ends[i]: where snapshot i ends in batch */
	char	  **urls;			/* urls[i]: its relay, for the log */
	int			n;
	int			batch_size;
	int64		written;		/* snapshots stored */
	int64		new_snapshots;
	int64		unstorable;		/* snapshots PostgreSQL refused, each logged */
} MonitorStore;

MonitorStore *monitor_store_create(int batch_size);
/* Queues the snapshot of a finished check; writes the batch in its own transaction once full. */
void		monitor_store_add(MonitorStore *store, const MonitorCheck *check);
void		monitor_store_flush(MonitorStore *store);

#endif							/* BIGBROTR_MONITOR_H */
