/*
 * sync_etiquette.c: the synchronizer worker's side of relay etiquette (the session's side is
 * sync/sync_session.c, its decisions sync/relay_etiquette.c): the NIP-42 key a worker signs AUTH
 * with (bigbrotr.synchronizer_private_key, read once per worker, never logged), the REQ limit of
 * a relay (its NIP-11 max_limit when below bigbrotr.synchronizer_limit), and what a relay's
 * refusals and AUTH add to its stats and to its state.
 */
#include "postgres.h"

#include "core/bigbrotr.h"
#include "core/json_writer.h"
#include "services/common/private_key.h"
#include "services/synchronizer/synchronizer.h"

static uint8 worker_seckey[32];
static int	worker_key_state = -1;	/* -1 not read yet, 0 none, 1 loaded */

const uint8 *
sync_etiquette_key(void)
{
	if (worker_key_state < 0)
		worker_key_state = bb_private_key_load("bigbrotr.synchronizer_private_key", sync_private_key,
											   worker_seckey) ? 1 : 0;
	return worker_key_state == 1 ? worker_seckey : NULL;
}

void
sync_etiquette_forget_key(void)
{
	explicit_bzero(worker_seckey, sizeof(worker_seckey));
	worker_key_state = -1;
}

int64
sync_etiquette_limit(const char *url)
{
	int64		max_limit = sync_store_max_limit(url);

	if (max_limit > 0 && max_limit < sync_limit)
	{
		bb_log(BB_DEBUG, "relay %s: NIP-11 max_limit " INT64_FORMAT " is the REQ limit", url, max_limit);
		return max_limit;
	}
	return sync_limit;
}

static void
write_reasons(JsonWriter *w, const char *key, const RelayReasons *r)
{
	json_writer_begin_object(w, key);
	for (size_t i = 0; i < r->n; i++)
		json_writer_int(w, r->prefix[i], r->count[i]);
	if (r->other > 0)
		json_writer_int(w, "other", r->other);
	json_writer_end_object(w);
}

void
sync_etiquette_stats_json(JsonWriter *w, const SyncSession *s, int64 limit)
{
	const SyncSessionStats *st = sync_session_stats(s);
	const SyncRefusal *r = sync_session_last_refusal(s);

	json_writer_int(w, "limit", limit);
	write_reasons(w, "closed_reasons", sync_session_closed_reasons(s));
	write_reasons(w, "notice_reasons", sync_session_notice_reasons(s));
	json_writer_int(w, "notices_in_flight", st->notices_in_flight);
	json_writer_int(w, "rate_limited", st->rate_limited);
	json_writer_int(w, "backoff_ms", st->backoff_ms);
	json_writer_int(w, "resends", st->resends);
	json_writer_int(w, "auth_challenges", st->auth_challenges);
	json_writer_int(w, "auth_attempts", st->auth_attempts);
	json_writer_int(w, "auth_ok", st->auth_ok);
	json_writer_int(w, "auth_failed", st->auth_failed);
	if (r->set)
		json_writer_string(w, "last_refusal", r->prefix[0] ? r->prefix : "none");
}

char *
sync_etiquette_refusal_json(const SyncSession *s)
{
	const SyncRefusal *r = sync_session_last_refusal(s);
	StringInfoData buf;
	JsonWriter	w;

	if (!r->set)
		return NULL;
	initStringInfo(&buf);
	json_writer_init(&w, &buf);
	json_writer_begin_object(&w, NULL);
	json_writer_begin_object(&w, "last_refusal");
	json_writer_string(&w, "kind", r->kind);
	json_writer_string(&w, "prefix", r->prefix);
	json_writer_string(&w, "message", r->message);
	json_writer_int(&w, "at", r->at);
	json_writer_end_object(&w);
	json_writer_end_object(&w);
	return buf.data;
}
