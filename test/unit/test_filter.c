/*
 * test_filter.c: the strict NIP-01 filter reader (JSON and query-string forms), its caps, matching,
 * the round trip through nostr_build_req, and the client messages a relay receives. Every rule is
 * checked both ways: an accepted case and a refused one whose message names the member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/filter.h"
#include "nostr/keys.h"
#include "tap.h"

#define H64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Parses json; expect NULL: must succeed; else must fail with a message starting with expect. */
static void
json_case(const char *json, bool allow_relay, const char *expect)
{
	nostr_parsed_filter f;
	nostr_error err;
	int			rc = nostr_filter_parse_json(json, strlen(json), allow_relay, &f, &err);

	if (!expect)
		CHECK(rc == NOSTR_OK, "filter accepted: %.80s (%s)", json, rc ? err.message : "");
	else
		CHECK(rc != NOSTR_OK && strncmp(err.message, expect, strlen(expect)) == 0,
			  "filter refused: %.80s -> \"%s\" (want \"%s...\")", json, rc ? err.message : "(accepted)",
			  expect);
	nostr_filter_free(&f);
}

static void
params_case(const char *const *names, const char *const *values, size_t n, const char *expect)
{
	static const char *const ignore[] = {"format", NULL};
	nostr_parsed_filter f;
	nostr_error err;
	int			rc = nostr_filter_from_params(names, values, n, ignore, &f, &err);

	if (!expect)
		CHECK(rc == NOSTR_OK, "params accepted: %s=%.60s (%s)", names[0], values[0],
			  rc ? err.message : "");
	else
		CHECK(rc != NOSTR_OK && strncmp(err.message, expect, strlen(expect)) == 0,
			  "params refused: %s=%.60s -> \"%s\" (want \"%s...\")", names[0], values[0],
			  rc ? err.message : "(accepted)", expect);
	nostr_filter_free(&f);
}

static char *
repeat_json_list(const char *name, const char *item, int n)
{
	size_t		cap = strlen(name) + 16 + (strlen(item) + 1) * n;
	char	   *s = malloc(cap);
	size_t		o = (size_t) snprintf(s, cap, "{\"%s\":[", name);

	for (int i = 0; i < n; i++)
		o += (size_t) snprintf(s + o, cap - o, "%s%s", i ? "," : "", item);
	snprintf(s + o, cap - o, "]}");
	return s;
}

static void
json_rules(void)
{
	char		buf[4096];
	char	   *s;

	json_case("{}", false, NULL);
	json_case("{\"ids\":[\"" H64A "\"],\"authors\":[\"" H64B "\"],\"kinds\":[0,1,65535],"
			  "\"#e\":[\"x\"],\"#P\":[\"\"],\"since\":0,\"until\":1700000000,\"limit\":0}", false, NULL);
	json_case("[]", false, "filter: expected an object");
	json_case("{\"ids\":[\"" H64A "\"]", false, "");	/* bad JSON: the reader's message */
	/* ids / authors: exactly 64 lower-case hex */
	json_case("{\"ids\":[\"abc\"]}", false, "ids: expected 64 lower-case hex characters (item 1)");
	json_case("{\"authors\":[\"" H64A "\",\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"]}",
			  false, "authors: expected 64 lower-case hex characters (item 2)");
	json_case("{\"authors\":[1]}", false, "authors: expected 64");
	json_case("{\"authors\":\"" H64A "\"}", false, "authors: expected an array, got a string");
	json_case("{\"ids\":[],\"ids\":[]}", false, "ids: appears twice");
	/* kinds */
	json_case("{\"kinds\":[70000]}", false, "kinds: 70000 is not 0..65535");
	json_case("{\"kinds\":[-1]}", false, "kinds: -1 is not 0..65535");
	json_case("{\"kinds\":[1.5]}", false, "kinds: expected integers 0..65535 (item 1)");
	json_case("{\"kinds\":[1e3]}", false, "kinds: expected integers");
	json_case("{\"kinds\":[\"1\"]}", false, "kinds: expected integers");
	json_case("{\"kinds\":[99999999999999999999999]}", false, "kinds: item 1 is not 0..65535");
	/* tags */
	json_case("{\"#t\":[\"nostr\",\"bitcoin\"],\"#e\":[\"" H64A "\"]}", false, NULL);
	json_case("{\"#t\":[1]}", false, "#t: item 1 is a number, not a string");
	json_case("{\"#t\":\"x\"}", false, "#t: expected an array");
	json_case("{\"#tt\":[\"x\"]}", false, "#tt: a tag filter is '#' and one letter");
	json_case("{\"#1\":[\"x\"]}", false, "#1: a tag filter is '#' and one letter");
	json_case("{\"#\":[\"x\"]}", false, "#: a tag filter");
	json_case("{\"#t\":[\"a\"],\"#t\":[\"b\"]}", false, "#t: appears twice");
	json_case("{\"#t\":[\"a\\u0000b\"]}", false, "#t: value 1 holds U+0000");
	memset(buf, 0, sizeof(buf));
	snprintf(buf, sizeof(buf), "{\"#t\":[\"%0*d\"]}", NOSTR_FILTER_MAX_TAG_VALUE, 0);
	json_case(buf, false, NULL);
	snprintf(buf, sizeof(buf), "{\"#t\":[\"%0*d\"]}", NOSTR_FILTER_MAX_TAG_VALUE + 1, 0);
	json_case(buf, false, "#t: value 1 is longer than 1024 bytes");
	{
		char		many[1024] = "{";
		size_t		o = 1;

		for (int i = 0; i < NOSTR_FILTER_MAX_TAGS; i++)
			o += (size_t) snprintf(many + o, sizeof(many) - o, "%s\"#%c\":[\"v\"]", i ? "," : "", 'a' + i);
		snprintf(many + o, sizeof(many) - o, "}");
		json_case(many, false, NULL);
		snprintf(many + o, sizeof(many) - o, ",\"#z\":[\"v\"]}");
		json_case(many, false, "#z: more than 16 tag letters");
	}
	/* scalars */
	json_case("{\"since\":-1}", false, "since: expected an integer >= 0");
	json_case("{\"until\":1.0}", false, "until: expected an integer >= 0");
	json_case("{\"limit\":\"5\"}", false, "limit: expected an integer >= 0");
	json_case("{\"limit\":null}", false, "limit: expected an integer >= 0");
	json_case("{\"limit\":5,\"limit\":6}", false, "limit: given more than once");
	json_case("{\"since\":9223372036854775807}", false, NULL);
	json_case("{\"since\":9223372036854775808}", false, "since: expected an integer >= 0");
	/* unknown members, search, the api's relay / cursor */
	json_case("{\"foo\":1}", false, "foo: unknown member");
	json_case("{\"relay\":\"wss://r.example\"}", false, "relay: unknown member");
	json_case("{\"relay\":\"wss://r.example\",\"cursor\":\"1.2\"}", true, NULL);
	json_case("{\"relay\":5}", true, "relay: expected a string, got a number");
	json_case("{\"cursor\":null}", true, "cursor: expected a string");
	json_case("{\"search\":5}", false, "search: expected a string");
	/* caps: 1000 values pass, 1001 do not */
	s = repeat_json_list("kinds", "1", NOSTR_FILTER_MAX_VALUES);
	json_case(s, false, NULL);
	free(s);
	s = repeat_json_list("kinds", "1", NOSTR_FILTER_MAX_VALUES + 1);
	json_case(s, false, "kinds: more than 1000 values");
	free(s);
	s = repeat_json_list("ids", "\"" H64A "\"", NOSTR_FILTER_MAX_VALUES + 1);
	json_case(s, false, "ids: more than 1000 values");
	free(s);
	s = repeat_json_list("#p", "\"x\"", NOSTR_FILTER_MAX_VALUES + 1);
	json_case(s, false, "#p: more than 1000 values");
	free(s);
}

static void
json_values(void)
{
	const char *json = "{\"kinds\":[1,7],\"authors\":[],\"#e\":[\"x\",\"y\"],\"search\":\"q\","
		"\"since\":5,\"relay\":\"wss://a\",\"cursor\":\"c\"}";
	nostr_parsed_filter f;
	nostr_error err;

	CHECK(nostr_filter_parse_json(json, strlen(json), true, &f, &err) == NOSTR_OK, "parse values");
	CHECK(f.f.kinds_count == 2 && f.f.kinds[0] == 1 && f.f.kinds[1] == 7, "kinds read in order");
	CHECK(f.f.authors != NULL && f.f.authors_count == 0, "an empty list is kept (matches nothing)");
	CHECK(f.f.ids == NULL, "absent ids stay NULL");
	CHECK(f.f.tags_count == 1 && f.f.tags[0].letter == 'e' && f.f.tags[0].count == 2 &&
		  strcmp(f.f.tags[0].values[1], "y") == 0, "tag values read");
	CHECK(f.has_search && f.f.has_since && f.f.since == 5 && !f.f.has_until && !f.f.has_limit,
		  "search flagged, since set, until/limit absent");
	CHECK(f.relay && strcmp(f.relay, "wss://a") == 0 && f.cursor && strcmp(f.cursor, "c") == 0,
		  "relay and cursor copied");
	nostr_filter_free(&f);
	CHECK(f.storage == NULL && f.relay == NULL, "free zeroes");
}

static void
params_rules(void)
{
	{
		const char *n[] = {"kinds", "kinds", "#t", "#t", "authors", "since", "until", "limit", "relay",
		"format", "cursor"};
		const char *v[] = {"1,7", "30023", "nostr,bitcoin", "x", H64A "," H64B, "10", "20", "5",
		"wss://r", "json", "abc"};
		nostr_parsed_filter f;
		nostr_error err;
		static const char *const ignore[] = {"format", NULL};

		CHECK(nostr_filter_from_params(n, v, 11, ignore, &f, &err) == NOSTR_OK, "params parse (%s)",
			  err.message);
		CHECK(f.f.kinds_count == 3 && f.f.kinds[2] == 30023, "comma lists and repeats join");
		CHECK(f.f.tags_count == 1 && f.f.tags[0].count == 3 && strcmp(f.f.tags[0].values[2], "x") == 0,
			  "repeated #t joins its values");
		CHECK(f.f.authors_count == 2 && f.f.authors[1][0] == 0xbb, "authors decoded");
		CHECK(f.f.since == 10 && f.f.until == 20 && f.f.limit == 5 && f.relay && f.cursor,
			  "scalars, relay, cursor");
		nostr_filter_free(&f);
	}
#define P1(name, value, expect) do { const char *n_[] = {name}; const char *v_[] = {value}; \
		params_case(n_, v_, 1, expect); } while (0)
	P1("foo", "1", "foo: unknown parameter");
	P1("format", "x", NULL);	/* ignored */
	P1("kinds", "70000", "kinds: 70000 is not 0..65535");
	P1("kinds", "99999999999999999999999", "kinds: 99999999999999999999... is not 0..65535");
	P1("kinds", "1,x", "kinds: expected integers 0..65535 (item 2)");
	P1("kinds", "-1", "kinds: expected integers");
	P1("kinds", "1,,2", "kinds: empty value");
	P1("kinds", "", "kinds: empty value");
	P1("authors", "abc", "authors: expected 64 lower-case hex characters (item 1)");
	P1("ids", H64A ",zz", "ids: expected 64 lower-case hex characters (item 2)");
	P1("since", "-5", "since: expected an integer >= 0");
	P1("since", "1.5", "since: expected an integer >= 0");
	P1("limit", "", "limit: expected an integer >= 0");
	P1("limit", "+5", "limit: expected an integer >= 0");
	P1("#tt", "x", "#tt: a tag filter is '#' and one letter");
	P1("#t", "a\xff", "#t: value 1 is not valid UTF-8");
	P1("search", "hello", NULL);	/* flagged; the caller refuses it */
	P1("\xff\xfe", "1", "(not printable): unknown parameter");
	{
		const char *n[] = {"limit", "limit"};
		const char *v[] = {"1", "2"};

		params_case(n, v, 2, "limit: given more than once");
	}
	{
		const char *n[] = {"relay", "relay"};
		const char *v[] = {"wss://a", "wss://b"};

		params_case(n, v, 2, "relay: given more than once");
	}
	{
		/* 1000 values over repeats pass, 1001 do not */
		const char *n[2] = {"kinds", "kinds"};
		char	   *a = malloc(4000);
		const char *v[2];
		size_t		o = 0;

		for (int i = 0; i < 999; i++)
			o += (size_t) sprintf(a + o, "%s1", i ? "," : "");
		v[0] = a;
		v[1] = "2";
		params_case(n, v, 2, NULL);
		v[1] = "2,3";
		params_case(n, v, 2, "kinds: more than 1000 values");
		free(a);
	}
}

/* An event with the given fields, signed (so it is a real event). */
static void
make_event(nostr_event *ev, const uint8_t sk[32], int64_t at, int kind, const char *const *tag1,
		   size_t n1, const char *const *tag2, size_t n2)
{
	nostr_error err;

	nostr_event_init(ev, at, kind, "hi", 2, &err);
	if (tag1)
		nostr_event_add_tag(ev, tag1, NULL, n1, &err);
	if (tag2)
		nostr_event_add_tag(ev, tag2, NULL, n2, &err);
	CHECK(nostr_event_sign(ev, sk, &err) == NOSTR_OK, "sign test event (%s)", err.message);
}

static bool
match_json(const char *json, const nostr_event *ev)
{
	nostr_parsed_filter f;
	nostr_error err;
	bool		m;

	if (nostr_filter_parse_json(json, strlen(json), false, &f, &err) != NOSTR_OK)
	{
		CHECK(false, "match filter parses: %s (%s)", json, err.message);
		return false;
	}
	m = nostr_filter_matches(&f.f, ev);
	nostr_filter_free(&f);
	return m;
}

static void
matching(void)
{
	uint8_t		sk[32];
	nostr_event ev;
	char		json[512];
	char		idhex[65],
				pkhex[65];
	const char *te[] = {"e", "X"};
	const char *tp[] = {"p", "Y", "extra"};

	memset(sk, 7, sizeof(sk));
	make_event(&ev, sk, 1000, 1, te, 2, tp, 3);
	nostr_hex_encode(ev.id, 32, idhex);
	nostr_hex_encode(ev.pubkey, 32, pkhex);
	snprintf(json, sizeof(json), "{\"ids\":[\"%s\"]}", idhex);
	CHECK(match_json(json, &ev), "ids match");
	CHECK(!match_json("{\"ids\":[\"" H64A "\"]}", &ev), "other id does not match");
	snprintf(json, sizeof(json), "{\"authors\":[\"" H64A "\",\"%s\"],\"kinds\":[0,1]}", pkhex);
	CHECK(match_json(json, &ev), "authors + kinds match");
	CHECK(!match_json("{\"kinds\":[0]}", &ev), "other kind does not match");
	CHECK(!match_json("{\"authors\":[]}", &ev), "an empty list matches nothing");
	CHECK(match_json("{\"since\":1000,\"until\":1000}", &ev), "since/until are inclusive");
	CHECK(!match_json("{\"since\":1001}", &ev) && !match_json("{\"until\":999}", &ev), "outside since/until");
	CHECK(match_json("{\"#e\":[\"Q\",\"X\"]}", &ev), "#e matches the e tag's value");
	CHECK(!match_json("{\"#p\":[\"X\"]}", &ev), "#p does not match the value of an e tag");
	CHECK(!match_json("{\"#E\":[\"X\"]}", &ev), "tag letters are case-sensitive");
	CHECK(match_json("{\"#p\":[\"Y\"],\"#e\":[\"X\"]}", &ev), "two tag letters: both hold");
	CHECK(!match_json("{\"#p\":[\"extra\"]}", &ev), "only the tag's first value counts");
	CHECK(!match_json("{\"#p\":[\"Y\"],\"#e\":[\"Z\"]}", &ev), "two tag letters: one fails");
	CHECK(match_json("{\"limit\":0}", &ev), "limit does not affect matching");
	nostr_event_free(&ev);
}

/* parse -> nostr_build_req -> parse again: the same filter. */
static void
round_trip(void)
{
	const char *json = "{\"ids\":[\"" H64A "\"],\"authors\":[\"" H64B "\"],\"kinds\":[3,1],"
		"\"#t\":[\"caf\\u00e9\",\"a\\\"b\\n\"],\"#E\":[],\"since\":1,\"until\":2,\"limit\":3}";
	nostr_parsed_filter a,
				b;
	nostr_error err;
	char	   *req;
	size_t		len;
	nostr_client_msg m;

	CHECK(nostr_filter_parse_json(json, strlen(json), false, &a, &err) == NOSTR_OK, "rt parse");
	req = nostr_build_req("s", &a.f, 1, &len, &err);
	CHECK(req != NULL, "rt build");
	CHECK(nostr_client_msg_parse(req, len, 0, &m, &err) == NOSTR_OK && m.type == NOSTR_CLIENT_REQ &&
		  m.filters_count == 1, "rt message parses");
	CHECK(nostr_filter_parse_json(m.filters[0], strlen(m.filters[0]), false, &b, &err) == NOSTR_OK,
		  "rt reparse");
	CHECK(b.f.ids_count == 1 && memcmp(b.f.ids[0], a.f.ids[0], 32) == 0 && b.f.kinds_count == 2 &&
		  b.f.kinds[1] == 1 && b.f.tags_count == 2 && b.f.tags[0].count == 2 &&
		  strcmp(b.f.tags[0].values[1], "a\"b\n") == 0 && b.f.tags[1].letter == 'E' &&
		  b.f.tags[1].count == 0 && b.f.since == 1 && b.f.until == 2 && b.f.limit == 3,
		  "rt: the same filter");
	nostr_filter_free(&a);
	nostr_filter_free(&b);
	nostr_client_msg_free(&m);
	free(req);
}

static void
msg_case(const char *text, int want_rc, nostr_client_msg_type type, const char *expect)
{
	nostr_client_msg m;
	nostr_error err;
	int			rc = nostr_client_msg_parse(text, strlen(text), 1000, &m, &err);

	if (want_rc == NOSTR_OK)
		CHECK(rc == NOSTR_OK && m.type == type, "message accepted: %.60s (%s)", text,
			  rc ? err.message : "");
	else
		CHECK(rc == want_rc && (!expect || strncmp(err.message, expect, strlen(expect)) == 0),
			  "message refused: %.60s -> %s", text, rc ? err.message : "(accepted)");
	nostr_client_msg_free(&m);
}

static void
client_messages(void)
{
	nostr_client_msg m;
	nostr_error err;
	const char *req = "[\"REQ\", \"sub 1\", {\"kinds\": [1]}, {\"#t\":[\"x\"]} ]";
	char		big[1200];

	CHECK(nostr_client_msg_parse(req, strlen(req), 0, &m, &err) == NOSTR_OK, "REQ parses");
	CHECK(m.type == NOSTR_CLIENT_REQ && strcmp(m.sub_id, "sub 1") == 0 && m.filters_count == 2 &&
		  strcmp(m.filters[0], "{\"kinds\": [1]}") == 0 && strcmp(m.filters[1], "{\"#t\":[\"x\"]}") == 0,
		  "REQ: sub id and raw filter texts");
	nostr_client_msg_free(&m);
	msg_case("[\"COUNT\",\"c\",{}]", NOSTR_OK, NOSTR_CLIENT_COUNT, NULL);
	msg_case("[\"CLOSE\",\"c\"]", NOSTR_OK, NOSTR_CLIENT_CLOSE, NULL);
	msg_case("[\"NEG-OPEN\",\"c\",{},\"00\"]", NOSTR_OK, NOSTR_CLIENT_OTHER, NULL);
	msg_case("[\"EVENT\",{\"id\":\"" H64A "\"}]", NOSTR_OK, NOSTR_CLIENT_EVENT, NULL);
	msg_case("[\"AUTH\",{}]", NOSTR_OK, NOSTR_CLIENT_AUTH, NULL);
	msg_case("[\"REQ\",\"c\"]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: needs at least one filter");
	msg_case("[\"REQ\",\"c\",{},[]]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: filter 2 is an array, not an object");
	msg_case("[\"REQ\",\"\",{}]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: the subscription id must be");
	msg_case("[\"REQ\",1,{}]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: the subscription id must be");
	msg_case("[\"REQ\",\"" H64A "x\",{}]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: the subscription id");
	msg_case("[\"REQ\",\"" H64A "\",{}]", NOSTR_OK, NOSTR_CLIENT_REQ, NULL);
	msg_case("[\"REQ\",\"a\\u0000\",{}]", NOSTR_ERR_BAD_MESSAGE, 0, "REQ: the subscription id");
	msg_case("[\"CLOSE\",\"c\",{}]", NOSTR_ERR_BAD_MESSAGE, 0, "CLOSE: expected");
	msg_case("[\"EVENT\",\"s\",{}]", NOSTR_ERR_BAD_MESSAGE, 0, "EVENT: expected");
	msg_case("{}", NOSTR_ERR_BAD_MESSAGE, 0, "a message is an array");
	msg_case("[]", NOSTR_ERR_BAD_MESSAGE, 0, "a message is an array");
	msg_case("[1]", NOSTR_ERR_BAD_MESSAGE, 0, "a message is an array");
	msg_case("[\"REQ\",\"c\",{}", NOSTR_ERR_BAD_JSON, 0, NULL);
	memset(big, ' ', sizeof(big));
	memcpy(big, "[\"CLOSE\",\"c\"]", 13);
	big[sizeof(big) - 1] = '\0';
	msg_case(big, NOSTR_ERR_TOO_LARGE, 0, NULL);
	{
		const char *e = "[\"EVENT\",{\"id\":\"ABC\"}]";

		CHECK(nostr_client_msg_parse(e, strlen(e), 0, &m, &err) == NOSTR_OK && m.event_id_hex == NULL,
			  "EVENT with a malformed id: no id");
		nostr_client_msg_free(&m);
		e = "[\"EVENT\",{\"id\":\"" H64A "\"}]";
		CHECK(nostr_client_msg_parse(e, strlen(e), 0, &m, &err) == NOSTR_OK && m.event_id_hex &&
			  strcmp(m.event_id_hex, H64A) == 0, "EVENT: id read");
		nostr_client_msg_free(&m);
	}
}

void
test_filter(void)
{
	json_rules();
	json_values();
	params_rules();
	matching();
	round_trip();
	client_messages();
}
