/*
 * test_event.c: events signed by nostr-tools (canonical form must match serializeEvent byte for
 * byte, ids and signatures must verify), the malformed/tampered corpus with its expected reason
 * codes, size limits, and full-JSON round trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/json.h"
#include "nostr/message.h"
#include "tap.h"

static void
valid_fixtures(void)
{
	size_t		len;
	char	   *text = read_fixture("events_valid.jsonl", &len);
	char	   *line = text;
	int			n = 0;
	nostr_pubkey_cache *cache = nostr_pubkey_cache_new(16);

	while (*line)
	{
		char	   *end = strchr(line, '\n');
		nostr_json_doc doc;
		nostr_event ev,
					again;
		nostr_error err;
		size_t		e,
					s,
					no,
					clen,
					jlen;
		char	   *canon,
				   *json;
		int			rc;

		if (end)
			*end = '\0';
		n++;
		if (!CHECK(nostr_json_parse(line, strlen(line), 0, &doc, &err) == NOSTR_OK, "fixture line %d parses", n))
			break;
		e = nostr_json_member(&doc, 0, "event");
		s = nostr_json_member(&doc, 0, "serialized");
		no = nostr_json_member(&doc, 0, "note");
		rc = nostr_event_parse_verify(line + doc.nodes[e].src_start,
									  doc.nodes[e].src_end - doc.nodes[e].src_start,
									  NOSTR_EVENT_NO_LIMIT, cache, &ev, &err);
		CHECK(rc == NOSTR_OK, "nostr-tools event verifies: %s (%s %s)", doc.nodes[no].str,
			  nostr_reason_code(rc), err.message);
		if (rc == NOSTR_OK)
		{
			canon = nostr_event_serialize_canonical(&ev, &clen);
			CHECK(canon && clen == doc.nodes[s].len && memcmp(canon, doc.nodes[s].str, clen) == 0,
				  "canonical form equals nostr-tools serializeEvent: %s", doc.nodes[no].str);
			free(canon);
			/* tags_json must be the tags exactly as inside the canonical form */
			CHECK(strstr(doc.nodes[s].str, ev.tags_json) != NULL && ev.tags_json[0] == '[',
				  "tags_json is the canonical tags text: %s", doc.nodes[no].str);
			json = nostr_event_to_json(&ev, &jlen);
			CHECK(json && nostr_event_parse_verify(json, jlen, jlen, NULL, &again, &err) == NOSTR_OK &&
				  again.tag_count == ev.tag_count && again.content_len == ev.content_len &&
				  memcmp(again.content, ev.content, ev.content_len) == 0,
				  "to_json round trip verifies: %s", doc.nodes[no].str);
			nostr_event_free(&again);
			free(json);
			{
				/* The same event inside an EVENT message: read in the message's one parse. */
				size_t		elen = doc.nodes[e].src_end - doc.nodes[e].src_start;
				char	   *msg_text = malloc(elen + 32);
				nostr_relay_msg msg;
				size_t		mlen;

				mlen = (size_t) sprintf(msg_text, "[\"EVENT\",\"sub-1\",%.*s]", (int) elen,
										line + doc.nodes[e].src_start);
				CHECK(nostr_relay_msg_parse(msg_text, mlen, 0, &msg, &err) == NOSTR_OK &&
					  msg.event_status == NOSTR_OK && strcmp(msg.sub_id, "sub-1") == 0 &&
					  memcmp(msg.event.id, ev.id, 32) == 0 && strcmp(msg.event.tags_json, ev.tags_json) == 0 &&
					  msg.event.content_len == ev.content_len &&
					  memcmp(msg.event.content, ev.content, ev.content_len) == 0 &&
					  nostr_event_verify_cached(&msg.event, cache, &err) == NOSTR_OK,
					  "EVENT message carries the same verified event: %s", doc.nodes[no].str);
				nostr_relay_msg_free(&msg);
				free(msg_text);
			}
			if (strcmp(doc.nodes[no].str, "every control char 0x00-0x1f") == 0)
				CHECK(nostr_event_has_nul(&ev) && ev.content_len == 32, "content with U+0000 flagged");
			if (strcmp(doc.nodes[no].str, "empty content and tags") == 0)
				CHECK(!nostr_event_has_nul(&ev) && ev.tag_count == 0 && ev.content_len == 0 &&
					  strcmp(ev.tags_json, "[]") == 0, "empty event fields");
			if (strcmp(doc.nodes[no].str, "long tags") == 0)
				CHECK(ev.tag_count == 500 && ev.tags[499].count == 4 && ev.kind == 3, "500 tags kept");
			if (strcmp(doc.nodes[no].str, "kind 65535") == 0)
				CHECK(ev.kind == 65535, "kind 65535");
		}
		nostr_event_free(&ev);
		nostr_json_free(&doc);
		if (!end)
			break;
		line = end + 1;
	}
	CHECK(n >= 18, "%d nostr-tools fixtures read", n);
	nostr_pubkey_cache_free(cache);
	free(text);
}

static void
invalid_fixtures(void)
{
	size_t		len;
	char	   *text = read_fixture("events_invalid.jsonl", &len);
	char	   *line = text;
	int			n = 0;

	while (*line)
	{
		char	   *end = strchr(line, '\n');
		char	   *tab = strchr(line, '\t');
		nostr_event ev;
		nostr_error err;
		int			rc;

		if (end)
			*end = '\0';
		if (!tab)
			break;
		*tab = '\0';
		n++;
		rc = nostr_event_parse_verify(tab + 1, strlen(tab + 1), 65536, NULL, &ev, &err);
		CHECK(strcmp(nostr_reason_code(rc), line) == 0 && (int) err.code == rc && err.message[0],
			  "invalid #%d -> %s (got %s: %s)", n, line, nostr_reason_code(rc), err.message);
		CHECK(ev.tags == NULL && ev.priv == NULL, "invalid #%d leaves the event empty", n);
		if (!end)
			break;
		line = end + 1;
	}
	CHECK(n >= 50, "%d invalid events read", n);
	free(text);
}

static void
limits_and_builder(void)
{
	nostr_event ev;
	nostr_error err;
	const char *tag[] = {"t", "a\"b"};
	size_t		jl;
	char	   *json;
	nostr_event back;

	CHECK(nostr_event_parse("{}", 2, 1, &ev, &err) == NOSTR_ERR_TOO_LARGE &&
		  strcmp(nostr_reason_code(err.code), "too_large") == 0, "max_size enforced");
	CHECK(nostr_event_parse("{}", 2, 2, &ev, &err) == NOSTR_ERR_MISSING_FIELD, "size == limit accepted");
	CHECK(nostr_event_init(&ev, 1, 70000, "", 0, &err) == NOSTR_ERR_BAD_FIELD, "builder: kind range");
	CHECK(nostr_event_init(&ev, 1, 1, "\xff", 1, &err) == NOSTR_ERR_BAD_UTF8, "builder: content UTF-8");
	CHECK(nostr_event_init(&ev, 5, 1, "hi", 2, &err) == NOSTR_OK, "builder: init");
	CHECK(nostr_event_add_tag(&ev, tag, NULL, 2, &err) == NOSTR_OK, "builder: add tag");
	CHECK(nostr_event_add_tag(&ev, NULL, NULL, 0, &err) == NOSTR_OK, "builder: add empty tag");
	CHECK(nostr_event_compute_id(&ev, ev.id, &err) == NOSTR_OK &&
		  strcmp(ev.tags_json, "[[\"t\",\"a\\\"b\"],[]]") == 0, "builder: tags_json");
	json = nostr_event_to_json(&ev, &jl);
	CHECK(json && nostr_event_parse(json, jl, 0, &back, &err) == NOSTR_OK &&
		  memcmp(back.id, ev.id, 32) == 0 && back.created_at == 5 &&
		  nostr_event_verify_cached(&back, NULL, &err) == NOSTR_ERR_BAD_PUBKEY,
		  "unsigned event: id ok, zero pubkey rejected (%s)", err.message);
	nostr_event_free(&back);
	free(json);
	nostr_event_free(&ev);
	nostr_event_free(&ev);		/* double free of a zeroed event is harmless */
}

void
test_event(void)
{
	CHECK(strcmp(nostr_reason_code(NOSTR_OK), "ok") == 0 &&
		  strcmp(nostr_reason_code(NOSTR_ERR_BAD_SIGNATURE), "bad_signature") == 0 &&
		  strcmp(nostr_reason_code((nostr_status) 999), "unknown") == 0, "reason codes");
	valid_fixtures();
	invalid_fixtures();
	limits_and_builder();
}
