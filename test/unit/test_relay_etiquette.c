/* test_relay_etiquette.c: CLOSED prefixes to actions, the rate-limit backoff, reason counters,
 * sanitized relay messages and the NIP-42 AUTH event (sync/relay_etiquette). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/keys.h"
#include "sync/relay_etiquette.h"
#include "sync/sync_window.h"
#include "tap.h"

static void
test_actions(void)
{
	CHECK(relay_etiquette_closed("rate-limited", false, false) == ETQ_BACKOFF, "rate-limited: back off");
	CHECK(relay_etiquette_closed("auth-required", true, false) == ETQ_AUTH, "auth-required with a key: authenticate");
	CHECK(relay_etiquette_closed("auth-required", false, false) == ETQ_END_AUTH, "auth-required without a key: ends");
	CHECK(relay_etiquette_closed("auth-required", true, true) == ETQ_END_AUTH,
		  "auth-required after AUTH: our key is not enough, ends");
	CHECK(relay_etiquette_closed("restricted", true, true) == ETQ_END_REFUSED, "restricted: ends");
	CHECK(relay_etiquette_closed("blocked", false, false) == ETQ_END_REFUSED, "blocked: ends");
	CHECK(relay_etiquette_closed("error", true, false) == ETQ_FAIL, "error: a failed request as before");
	CHECK(relay_etiquette_closed("", true, false) == ETQ_FAIL && relay_etiquette_closed(NULL, true, false) == ETQ_FAIL,
		  "no prefix: a failed request as before");
	CHECK(relay_etiquette_closed("rate-limitedx", true, false) == ETQ_FAIL, "a prefix is matched whole");
	CHECK(strcmp(relay_etiquette_action_name(ETQ_END_AUTH), "end_auth") == 0, "action names");
}

static void
test_backoff(void)
{
	CHECK(relay_etiquette_backoff_ms(0, 100000) == 1000 && relay_etiquette_backoff_ms(1, 100000) == 2000 &&
		  relay_etiquette_backoff_ms(2, 100000) == 4000, "backoff grows 1 s, 2 s, 4 s");
	CHECK(relay_etiquette_backoff_ms(6, INT64_MAX) == 64000 && relay_etiquette_backoff_ms(60, INT64_MAX) == 64000,
		  "backoff stops growing at 64 s");
	CHECK(relay_etiquette_backoff_ms(3, 2500) == 2500, "backoff bounded by the budget left");
	CHECK(relay_etiquette_backoff_ms(0, 0) == 0 && relay_etiquette_backoff_ms(0, -5) == 0, "no budget: no wait");
	CHECK(relay_etiquette_backoff_ms(-3, 100000) == 1000, "negative attempt counts as the first");
}

static void
test_reasons(void)
{
	RelayReasons r;
	char		name[8];

	memset(&r, 0, sizeof(r));
	relay_reasons_add(&r, "blocked");
	relay_reasons_add(&r, "blocked");
	relay_reasons_add(&r, "");
	relay_reasons_add(&r, NULL);
	CHECK(r.n == 2 && strcmp(r.prefix[0], "blocked") == 0 && r.count[0] == 2 &&
		  strcmp(r.prefix[1], "none") == 0 && r.count[1] == 2 && r.total == 4, "reasons counted per prefix");
	for (int i = 0; i < 40; i++)
	{
		snprintf(name, sizeof(name), "p%d", i);
		relay_reasons_add(&r, name);
	}
	CHECK(r.n == RELAY_REASONS_MAX && r.other == 40 - (RELAY_REASONS_MAX - 2) && r.total == 44,
		  "distinct prefixes bounded, the rest counted as other");
}

static void
test_sanitize(void)
{
	char		out[16];
	const char	ctl[] = "a\0b\nc\x7f" "d";
	const char	bad[] = "x\xff" "y\xc3";
	const char	multi[] = "12345678901234\xc3\xa9";	/* 14 ASCII + a 2-byte character */

	relay_etiquette_sanitize(ctl, sizeof(ctl) - 1, out, sizeof(out));
	CHECK(strcmp(out, "a?b?c?d") == 0, "control characters and U+0000 replaced: %s", out);
	relay_etiquette_sanitize(bad, sizeof(bad) - 1, out, sizeof(out));
	CHECK(strcmp(out, "x?y?") == 0, "invalid UTF-8 replaced: %s", out);
	relay_etiquette_sanitize("h\xc3\xa9llo", 6, out, sizeof(out));
	CHECK(strcmp(out, "h\xc3\xa9llo") == 0, "valid UTF-8 kept");
	relay_etiquette_sanitize(multi, sizeof(multi) - 1, out, sizeof(out));
	CHECK(strcmp(out, "12345678901234") == 0, "cut at a character boundary, within the size");
	relay_etiquette_sanitize(NULL, 5, out, sizeof(out));
	CHECK(out[0] == '\0', "NULL is empty");
}

static void
test_auth_message(void)
{
	const char *skhex = "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF";
	uint8_t		sk[32],
				id[32];
	nostr_error err;
	size_t		len;
	char	   *msg;
	nostr_event ev;
	const char *obj;

	nostr_seckey_from_hex(skhex, 64, sk, &err);
	msg = relay_etiquette_auth_message("wss://relay.example.com", "chal\"lenge", 10, 1700000000, sk, id, &len, &err);
	CHECK(msg != NULL && strncmp(msg, "[\"AUTH\",{", 9) == 0 && msg[len - 1] == ']', "AUTH message built");
	obj = msg ? msg + 8 : "";
	CHECK(msg && nostr_event_parse_verify(obj, strlen(obj) - 1, 0, NULL, &ev, &err) == NOSTR_OK,
		  "its event verifies: %s", err.message);
	if (msg && ev.kind == 22242)
	{
		CHECK(ev.created_at == 1700000000 && ev.content_len == 0 && memcmp(ev.id, id, 32) == 0, "kind 22242, now, no content, id returned");
		CHECK(strstr(ev.tags_json, "[\"relay\",\"wss://relay.example.com\"]") != NULL &&
			  strstr(ev.tags_json, "[\"challenge\",\"chal\\\"lenge\"]") != NULL, "relay and challenge tags: %s", ev.tags_json);
		nostr_event_free(&ev);
	}
	else
		CHECK(false, "kind 22242");
	CHECK(strstr(msg ? msg : "", "B7E1") == NULL && strstr(msg ? msg : "", "b7e1") == NULL, "the key is not in the message");
	free(msg);
}

/* The window algorithm's side: a re-sent request is no failure; a refusal is one shortfall. */
static void
test_window_resend_refused(void)
{
	sync_window_config c = {0};
	sync_window *sw;
	sync_request r;
	uint8_t		id[32] = {0},
				pk[32] = {1};
	const sync_window_stats *st;

	c.start = 0;
	c.end = 100;
	c.limit = 10;
	c.known_largest_answer = 10;	/* its cap is known: a small answer proves itself */
	sw = sync_window_new(&c);
	CHECK(sync_window_next(sw, &r) && r.since == 0 && r.until == 100, "first request is the whole range");
	for (int i = 0; i < 9; i++)
	{
		id[0] = (uint8_t) i;
		sync_window_event(sw, id, pk, 50, 1, true);
	}
	sync_window_resend(sw);		/* rate-limited after 9 events: the same request again */
	for (int i = 0; i < 3; i++)
	{
		id[0] = (uint8_t) i;
		sync_window_event(sw, id, pk, 50, 1, true);
	}
	sync_window_answer(sw, true);
	st = sync_window_get_stats(sw);
	CHECK(st->failures == 0 && st->resends == 1 && st->requests == 1, "a re-send is no failure (failures %lld)",
		  (long long) st->failures);
	CHECK(!sync_window_has_work(sw) && sync_window_cursor(sw) == 100 && sync_window_shortfall_count(sw) == 0,
		  "the re-sent answer alone completes the window (the refused attempt's 9 are not counted twice)");
	sync_window_free(sw);

	sw = sync_window_new(&c);
	sync_window_next(sw, &r);
	sync_window_answer(sw, false);	/* the old path, for contrast: a CLOSED is a failure */
	CHECK(sync_window_get_stats(sw)->failures == 1, "a plain failed request counts");
	CHECK(sync_window_next(sw, &r), "and is retried");
	sync_window_refused(sw);
	CHECK(!sync_window_has_work(sw) && !sync_window_given_up(sw) && !sync_window_next(sw, &r),
		  "refused: no more work, not given up");
	CHECK(sync_window_shortfall_count(sw) == 1 && sync_window_shortfall_at(sw, 0)->reason == SYNC_SHORTFALL_REFUSED &&
		  sync_window_shortfall_at(sw, 0)->since == 0 && sync_window_shortfall_at(sw, 0)->until == 100 &&
		  strcmp(sync_shortfall_reason_name(SYNC_SHORTFALL_REFUSED), "refused") == 0,
		  "one refused shortfall over the rest of the range");
	CHECK(sync_window_cursor(sw) == -1 && sync_window_frontier(sw) == -1, "cursor and frontier stay below it");
	sync_window_free(sw);
}

void
test_relay_etiquette(void)
{
	test_window_resend_refused();
	test_actions();
	test_backoff();
	test_reasons();
	test_sanitize();
	test_auth_message();
}
