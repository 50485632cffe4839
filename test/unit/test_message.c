/* test_message.c: relay->client message parsing and client->relay message building. */
#include <stdlib.h>
#include <string.h>

#include "nostr/hex.h"
#include "nostr/message.h"
#include "tap.h"

static int
parse(const char *s, nostr_relay_msg *m)
{
	nostr_error err;

	return nostr_relay_msg_parse(s, strlen(s), 0, m, &err);
}

static void
expect_fail(const char *s, nostr_status want)
{
	nostr_relay_msg m;
	int			rc = parse(s, &m);

	CHECK(rc == (int) want && m.priv == NULL, "message %s -> %s (got %s)", s, nostr_reason_code(want),
		  nostr_reason_code(rc));
	nostr_relay_msg_free(&m);
}

static void
parsing(void)
{
	nostr_relay_msg m;
	const char *ev = "[\"EVENT\",\"sub\\u00e9\", {\"id\":\"x\",\"tags\":[[\"a\"]]} ]";
	uint8_t		id[32];

	CHECK(parse(ev, &m) == NOSTR_OK && m.type == NOSTR_MSG_EVENT && strcmp(m.sub_id, "sub\xc3\xa9") == 0 &&
		  m.event_json_len == strlen("{\"id\":\"x\",\"tags\":[[\"a\"]]}") &&
		  memcmp(m.event_json, "{\"id\":\"x\",\"tags\":[[\"a\"]]}", m.event_json_len) == 0 &&
		  m.event_json >= ev && m.event_json < ev + strlen(ev), "EVENT: sub id and raw event span");
	CHECK(m.event_status == NOSTR_ERR_BAD_FIELD || m.event_status == NOSTR_ERR_MISSING_FIELD,
		  "EVENT with a malformed event: the message stands, the event is refused (%s: %s)",
		  nostr_reason_code(m.event_status), m.event_error.message);
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"EVENT\",\"s\",{\"id\":\"00\",\"id\":\"11\"}]", &m) == NOSTR_OK &&
		  m.event_status == NOSTR_ERR_DUPLICATE_FIELD && m.event.priv == NULL && strcmp(m.sub_id, "s") == 0,
		  "EVENT with a duplicate field: reason kept, event zeroed, sub id still readable");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"EOSE\",\"s1\"]", &m) == NOSTR_OK && m.type == NOSTR_MSG_EOSE && strcmp(m.sub_id, "s1") == 0, "EOSE");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"CLOSED\",\"s1\",\"auth-required: we only serve members\"]", &m) == NOSTR_OK &&
		  m.type == NOSTR_MSG_CLOSED && strcmp(m.prefix, "auth-required") == 0 &&
		  strcmp(m.message, "auth-required: we only serve members") == 0, "CLOSED with prefix");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"CLOSED\",\"s1\",\"rate-limited:\"]", &m) == NOSTR_OK && strcmp(m.prefix, "rate-limited") == 0,
		  "CLOSED prefix at end");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"CLOSED\",\"s1\",\"restricted:no space\"]", &m) == NOSTR_OK && m.prefix[0] == '\0',
		  "CLOSED prefix needs ': '");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"CLOSED\",\"s1\",\"Error: caps\"]", &m) == NOSTR_OK && m.prefix[0] == '\0', "no upper-case prefix");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"CLOSED\",\"s1\"]", &m) == NOSTR_OK && m.message_len == 0 && m.message[0] == '\0',
		  "CLOSED without message tolerated");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"NOTICE\",\"slow down\"]", &m) == NOSTR_OK && m.type == NOSTR_MSG_NOTICE &&
		  strcmp(m.message, "slow down") == 0, "NOTICE");
	nostr_relay_msg_free(&m);
	memset(id, 0xab, 32);
	CHECK(parse("[\"OK\",\"abababababababababababababababababababababababababababababababab\",false,\"duplicate: have it\"]", &m) ==
		  NOSTR_OK && m.type == NOSTR_MSG_OK && !m.accepted && memcmp(m.event_id, id, 32) == 0 &&
		  strcmp(m.prefix, "duplicate") == 0, "OK false with prefix");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"OK\",\"abababababababababababababababababababababababababababababababab\",true,\"\"]", &m) ==
		  NOSTR_OK && m.accepted && m.prefix[0] == '\0', "OK true");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"AUTH\",\"challenge-\\n1\"]", &m) == NOSTR_OK && m.type == NOSTR_MSG_AUTH &&
		  strcmp(m.challenge, "challenge-\n1") == 0, "AUTH");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"COUNT\",\"c\",{\"count\":42,\"approximate\":true}]", &m) == NOSTR_OK &&
		  m.type == NOSTR_MSG_COUNT && m.count == 42 && m.approximate, "COUNT approximate");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"COUNT\",\"c\",{\"count\":0}]", &m) == NOSTR_OK && m.count == 0 && !m.approximate, "COUNT");
	nostr_relay_msg_free(&m);

	expect_fail("[\"EVENT\",\"s\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EVENT\",\"s\",[]]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EVENT\",1,{}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EVENT\",\"s\",{},{}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EVENT\",\"s\",{\"a\":\"\\ud800\"}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EOSE\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EOSE\",null]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"OK\",\"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\",true,\"\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"OK\",\"abab\",true,\"\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"OK\",\"abababababababababababababababababababababababababababababababab\",\"true\",\"\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"COUNT\",\"c\",{\"count\":-1}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"COUNT\",\"c\",{\"count\":1.5}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"COUNT\",\"c\",{}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"COUNT\",\"c\",{\"count\":1,\"approximate\":1}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"AUTH\",{}]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NOTICE\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NOTICE\",\"a\",\"b\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"HELLO\",\"x\"]", NOSTR_ERR_UNKNOWN_MESSAGE);
	expect_fail("[\"event\",\"s\",{}]", NOSTR_ERR_UNKNOWN_MESSAGE);
	expect_fail("[]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[1]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("{\"EVENT\":1}", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"EOSE\",\"s\"", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("", NOSTR_ERR_BAD_MESSAGE);
	{
		nostr_error err;

		CHECK(nostr_relay_msg_parse("[\"EOSE\",\"s\"]", 12, 5, &m, &err) == NOSTR_ERR_TOO_LARGE, "message size limit");
	}
}

static void
building(void)
{
	uint8_t		ids[2][32];
	const int32_t kinds[] = {1, 30023};
	const char *evals[] = {"ab\"c", "d"};
	nostr_tag_filter tf[] = {{'e', evals, 2}, {'P', evals + 1, 1}};
	nostr_filter f[2];
	nostr_error err;
	char	   *s;
	size_t		n;
	nostr_event ev;

	memset(ids, 0, sizeof(ids));
	ids[1][31] = 1;
	memset(f, 0, sizeof(f));
	f[0].ids = (const uint8_t (*)[32]) ids;
	f[0].ids_count = 2;
	f[0].kinds = kinds;
	f[0].kinds_count = 2;
	f[0].tags = tf;
	f[0].tags_count = 2;
	f[0].has_since = true;
	f[0].since = 100;
	f[0].has_until = true;
	f[0].until = 200;
	f[0].has_limit = true;
	f[0].limit = 500;
	f[1].authors = (const uint8_t (*)[32]) ids;
	f[1].authors_count = 0;		/* non-NULL, empty: sent as [] */
	s = nostr_build_req("sub1", f, 2, &n, &err);
	CHECK(s && strcmp(s, "[\"REQ\",\"sub1\",{\"ids\":[\"0000000000000000000000000000000000000000000000000000000000000000\","
					  "\"0000000000000000000000000000000000000000000000000000000000000001\"],\"kinds\":[1,30023],"
					  "\"#e\":[\"ab\\\"c\",\"d\"],\"#P\":[\"d\"],\"since\":100,\"until\":200,\"limit\":500},"
					  "{\"authors\":[]}]") == 0 && n == strlen(s), "REQ with every filter field: %s", s ? s : err.message);
	free(s);
	memset(f, 0, sizeof(f));
	s = nostr_build_req("x", f, 1, &n, &err);
	CHECK(s && strcmp(s, "[\"REQ\",\"x\",{}]") == 0, "REQ with empty filter");
	free(s);
	CHECK(nostr_build_req("", f, 1, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT, "empty sub id refused");
	CHECK(nostr_build_req("x", f, 0, &n, &err) == NULL, "REQ without filters refused");
	f[0].kinds = kinds;
	f[0].kinds_count = 1;
	f[0].has_limit = true;
	f[0].limit = -1;
	CHECK(nostr_build_req("x", f, 1, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT, "negative limit refused");
	s = nostr_build_close("sub\"1", &n, &err);
	CHECK(s && strcmp(s, "[\"CLOSE\",\"sub\\\"1\"]") == 0, "CLOSE escapes");
	free(s);
	nostr_event_init(&ev, 1, 1, "hi", 2, &err);
	s = nostr_build_event(&ev, &n, &err);
	CHECK(s && strncmp(s, "[\"EVENT\",{\"id\":\"", 16) == 0 && s[n - 1] == ']', "EVENT message");
	free(s);
	nostr_event_free(&ev);
}

/* NIP-77 NEG-* messages, and NIP-42 ["AUTH", {event}]. */
static void
negentropy_messages(void)
{
	nostr_relay_msg m;
	nostr_error err;
	nostr_filter f;
	int32_t		kinds[1] = {1};
	const uint8_t neg[5] = {0x61, 0x00, 0x00, 0x02, 0x00};
	nostr_event ev;
	char	   *s;
	char	   *big;
	size_t		n;
	size_t		i;
	int			rc;

	CHECK(parse("[\"NEG-MSG\",\"s1\",\"6100000200\"]", &m) == NOSTR_OK && m.type == NOSTR_MSG_NEG_MSG &&
		  strcmp(m.sub_id, "s1") == 0 && m.neg_msg_len == 5 && memcmp(m.neg_msg, neg, 5) == 0,
		  "NEG-MSG: sub id and the decoded message");
	nostr_relay_msg_free(&m);
	CHECK(m.neg_msg == NULL, "NEG-MSG: free clears the message");
	CHECK(parse("[\"NEG-MSG\",\"s\",\"61AbCd\"]", &m) == NOSTR_OK && m.neg_msg_len == 3 && m.neg_msg[1] == 0xab &&
		  m.neg_msg[2] == 0xcd, "NEG-MSG: upper-case hex accepted");
	nostr_relay_msg_free(&m);
	expect_fail("[\"NEG-MSG\",\"s\",\"610\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",\"\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",\"61zz\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",\" 61\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",97]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",\"61\",\"61\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",1,\"61\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-MSG\",\"s\",[\"61\"]]", NOSTR_ERR_BAD_MESSAGE);

	/* the decoded size limit: exactly NOSTR_NEG_MSG_MAX_BYTES passes, one more byte does not */
	n = (size_t) NOSTR_NEG_MSG_MAX_BYTES * 2 + 2;
	big = malloc(n + 32);
	strcpy(big, "[\"NEG-MSG\",\"s\",\"");
	i = strlen(big);
	memset(big + i, 'a', n);
	strcpy(big + i + n - 2, "\"]");
	rc = nostr_relay_msg_parse(big, strlen(big), 0, &m, &err);
	CHECK(rc == NOSTR_OK && m.neg_msg_len == NOSTR_NEG_MSG_MAX_BYTES && m.neg_msg[0] == 0xaa,
		  "NEG-MSG of exactly %d bytes", NOSTR_NEG_MSG_MAX_BYTES);
	nostr_relay_msg_free(&m);
	memset(big + i, 'a', n);
	strcpy(big + i + n, "\"]");
	rc = nostr_relay_msg_parse(big, strlen(big), 0, &m, &err);
	CHECK(rc == NOSTR_ERR_TOO_LARGE && m.neg_msg == NULL && m.priv == NULL, "NEG-MSG over the limit -> too_large (%s)",
		  err.message);
	rc = nostr_relay_msg_parse(big, strlen(big), 1000, &m, &err);
	CHECK(rc == NOSTR_ERR_TOO_LARGE, "NEG-MSG over the caller's message limit -> too_large");
	free(big);

	CHECK(parse("[\"NEG-ERR\",\"s\",\"blocked: this query is too big\"]", &m) == NOSTR_OK &&
		  m.type == NOSTR_MSG_NEG_ERR && strcmp(m.sub_id, "s") == 0 && strcmp(m.prefix, "blocked") == 0 &&
		  strcmp(m.message, "blocked: this query is too big") == 0, "NEG-ERR with its machine prefix");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"NEG-ERR\",\"s\",\"closed:no space\"]", &m) == NOSTR_OK && m.prefix[0] == '\0',
		  "NEG-ERR prefix needs ': ' as CLOSED's");
	nostr_relay_msg_free(&m);
	CHECK(parse("[\"NEG-ERR\",\"s\"]", &m) == NOSTR_OK && m.message_len == 0 && m.prefix[0] == '\0',
		  "NEG-ERR without a reason tolerated");
	nostr_relay_msg_free(&m);
	expect_fail("[\"NEG-ERR\",\"s\",1]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-ERR\",\"s\",\"a\",\"b\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-ERR\"]", NOSTR_ERR_BAD_MESSAGE);
	expect_fail("[\"NEG-OPEN\",\"s\",{},\"61\"]", NOSTR_ERR_UNKNOWN_MESSAGE);

	memset(&f, 0, sizeof(f));
	f.kinds = kinds;
	f.kinds_count = 1;
	s = nostr_build_neg_open("sub", &f, neg, 5, &n, &err);
	CHECK(s && strcmp(s, "[\"NEG-OPEN\",\"sub\",{\"kinds\":[1]},\"6100000200\"]") == 0 && n == strlen(s),
		  "NEG-OPEN: %s", s ? s : err.message);
	free(s);
	s = nostr_build_neg_msg("sub\"", neg, 2, &n, &err);
	CHECK(s && strcmp(s, "[\"NEG-MSG\",\"sub\\\"\",\"6100\"]") == 0 && n == strlen(s), "NEG-MSG: %s", s ? s : err.message);
	CHECK(s && nostr_relay_msg_parse(s, n, 0, &m, &err) == NOSTR_OK && m.neg_msg_len == 2 && memcmp(m.neg_msg, neg, 2) == 0,
		  "NEG-MSG built then parsed gives the same bytes");
	nostr_relay_msg_free(&m);
	free(s);
	s = nostr_build_neg_close("sub", &n, &err);
	CHECK(s && strcmp(s, "[\"NEG-CLOSE\",\"sub\"]") == 0 && n == strlen(s), "NEG-CLOSE");
	free(s);
	CHECK(nostr_build_neg_msg("sub", neg, 0, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT,
		  "NEG-MSG without a message refused");
	CHECK(nostr_build_neg_msg("sub", neg, (size_t) NOSTR_NEG_MSG_MAX_BYTES + 1, &n, &err) == NULL &&
		  err.code == NOSTR_ERR_BAD_ARGUMENT, "NEG-MSG over the limit refused");
	CHECK(nostr_build_neg_open("sub", NULL, neg, 5, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT,
		  "NEG-OPEN without a filter refused");
	CHECK(nostr_build_neg_close("", &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT, "NEG-CLOSE: empty sub id refused");
	f.kinds_count = 1;
	kinds[0] = 70000;
	CHECK(nostr_build_neg_open("sub", &f, neg, 5, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT,
		  "NEG-OPEN with a bad filter refused");

	nostr_event_init(&ev, 22242, 1, "", 0, &err);
	s = nostr_build_auth(&ev, &n, &err);
	CHECK(s && strncmp(s, "[\"AUTH\",{\"id\":\"", 15) == 0 && s[n - 1] == ']' && n == strlen(s), "AUTH message");
	free(s);
	CHECK(nostr_build_auth(NULL, &n, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT, "AUTH without an event refused");
	nostr_event_free(&ev);
}

void
test_message(void)
{
	parsing();
	building();
	negentropy_messages();
}
