/*
 * relay_etiquette.c: what a relay's CLOSED reasons ask of the synchronizer, the rate-limit backoff,
 * per-prefix counters, sanitized relay messages and the NIP-42 AUTH event (see relay_etiquette.h).
 * Pure: no network, no PostgreSQL.
 */
#include "sync/relay_etiquette.h"

#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/keys.h"
#include "nostr/utf8.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_SHIFT 6		/* 64 s */

RelayEtiquetteAction
relay_etiquette_closed(const char *prefix, bool have_key, bool authenticated)
{
	if (prefix == NULL)
		prefix = "";
	if (strcmp(prefix, "rate-limited") == 0)
		return ETQ_BACKOFF;
	if (strcmp(prefix, "auth-required") == 0)
		return have_key && !authenticated ? ETQ_AUTH : ETQ_END_AUTH;
	if (strcmp(prefix, "restricted") == 0 || strcmp(prefix, "blocked") == 0)
		return ETQ_END_REFUSED;
	return ETQ_FAIL;
}

const char *
relay_etiquette_action_name(RelayEtiquetteAction a)
{
	switch (a)
	{
		case ETQ_FAIL:
			return "fail";
		case ETQ_BACKOFF:
			return "backoff";
		case ETQ_AUTH:
			return "auth";
		case ETQ_END_AUTH:
			return "end_auth";
		case ETQ_END_REFUSED:
			return "end_refused";
	}
	return "unknown";
}

int64_t
relay_etiquette_backoff_ms(int n, int64_t remaining_ms)
{
	int64_t		d;

	if (remaining_ms <= 0)
		return 0;
	if (n < 0)
		n = 0;
	d = (int64_t) BACKOFF_FIRST_MS << (n < BACKOFF_MAX_SHIFT ? n : BACKOFF_MAX_SHIFT);
	return d < remaining_ms ? d : remaining_ms;
}

void
relay_reasons_add(RelayReasons *r, const char *prefix)
{
	const char *p = prefix && prefix[0] ? prefix : "none";

	r->total++;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->prefix[i], p) == 0)
		{
			r->count[i]++;
			return;
		}
	if (r->n >= RELAY_REASONS_MAX)
	{
		r->other++;
		return;
	}
	strncpy(r->prefix[r->n], p, NOSTR_MSG_PREFIX_MAX - 1);
	r->prefix[r->n][NOSTR_MSG_PREFIX_MAX - 1] = '\0';
	r->count[r->n++] = 1;
}

void
relay_etiquette_sanitize(const char *in, size_t len, char *out, size_t out_size)
{
	size_t		o = 0;
	size_t		i = 0;

	if (out_size == 0)
		return;
	while (in && i < len)
	{
		unsigned char c = (unsigned char) in[i];
		size_t		n = 1;

		if (c >= 0x80)
		{
			n = nostr_utf8_sequence_length((const unsigned char *) in + i, len - i);
			if (n == 0)
			{
				c = '?';
				n = 1;
			}
		}
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		if (o + (c >= 0x80 ? n : 1) >= out_size)
			break;
		if (c >= 0x80)
		{
			memcpy(out + o, in + i, n);
			o += n;
		}
		else
			out[o++] = (char) c;
		i += n;
	}
	out[o] = '\0';
}

char *
relay_etiquette_auth_message(const char *relay_url, const char *challenge, size_t challenge_len,
							 int64_t now, const uint8_t seckey[32], uint8_t event_id[32],
							 size_t *len_out, nostr_error *err)
{
	nostr_event ev;
	const char *relay_tag[2] = {"relay", relay_url};
	const char *challenge_tag[2] = {"challenge", challenge};
	size_t		relay_lens[2] = {5, strlen(relay_url)};
	size_t		challenge_lens[2] = {9, challenge_len};
	char	   *msg = NULL;

	if (nostr_event_init(&ev, now, 22242, "", 0, err) != NOSTR_OK)
		return NULL;
	if (nostr_event_add_tag(&ev, relay_tag, relay_lens, 2, err) == NOSTR_OK &&
		nostr_event_add_tag(&ev, challenge_tag, challenge_lens, 2, err) == NOSTR_OK &&
		nostr_event_sign(&ev, seckey, err) == NOSTR_OK &&
		(msg = nostr_build_auth(&ev, len_out, err)) != NULL)
		memcpy(event_id, ev.id, 32);
	nostr_event_free(&ev);
	return msg;
}
