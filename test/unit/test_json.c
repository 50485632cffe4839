/* test_json.c: the strict JSON reader and the JSON.stringify-compatible string writer. */
#include <string.h>

#include "nostr/json.h"
#include "nostr/utf8.h"
#include "tap.h"

static int
parse(const char *s, nostr_json_doc *doc)
{
	nostr_error err;
	int			rc = nostr_json_parse(s, strlen(s), 0, doc, &err);

	return rc;
}

static void
expect(const char *s, nostr_status want)
{
	nostr_json_doc doc;
	int			rc = parse(s, &doc);

	CHECK(rc == (int) want, "json %-28s -> %s (got %s)", s, nostr_reason_code(want), nostr_reason_code(rc));
	if (rc == NOSTR_OK)
		nostr_json_free(&doc);
}

void
test_json(void)
{
	nostr_json_doc doc;
	nostr_buf	b;
	char		deep[200];
	int			i;
	int64_t		v;

	expect("{}", NOSTR_OK);
	expect(" [1, -0, 0.5, 1e10, -1.5E-3, true, false, null, \"\"] ", NOSTR_OK);
	expect("\"\\u00e9\\ud83d\\ude00\\/\"", NOSTR_OK);
	expect("[", NOSTR_ERR_BAD_JSON);
	expect("[1,]", NOSTR_ERR_BAD_JSON);
	expect("{\"a\" 1}", NOSTR_ERR_BAD_JSON);
	expect("{\"a\":1,}", NOSTR_ERR_BAD_JSON);
	expect("01", NOSTR_ERR_BAD_JSON);
	expect("1.", NOSTR_ERR_BAD_JSON);
	expect(".5", NOSTR_ERR_BAD_JSON);
	expect("1e", NOSTR_ERR_BAD_JSON);
	expect("+1", NOSTR_ERR_BAD_JSON);
	expect("NaN", NOSTR_ERR_BAD_JSON);
	expect("tru", NOSTR_ERR_BAD_JSON);
	expect("[] []", NOSTR_ERR_BAD_JSON);
	expect("\"\\x\"", NOSTR_ERR_BAD_JSON);
	expect("\"\\u12\"", NOSTR_ERR_BAD_JSON);
	expect("\"a\tb\"", NOSTR_ERR_BAD_JSON);
	expect("\"\\ud800\"", NOSTR_ERR_BAD_UTF8);
	expect("\"\\udc00\"", NOSTR_ERR_BAD_UTF8);
	expect("\"\\ud800\\ud800\"", NOSTR_ERR_BAD_UTF8);
	expect("\"\xc3\x28\"", NOSTR_ERR_BAD_UTF8);	/* bad continuation */
	expect("\"\xc0\xaf\"", NOSTR_ERR_BAD_UTF8);	/* overlong */
	expect("\"\xed\xa0\x80\"", NOSTR_ERR_BAD_UTF8);	/* encoded surrogate */
	expect("\"\xf4\x90\x80\x80\"", NOSTR_ERR_BAD_UTF8);	/* > U+10FFFF */
	expect("\"\xe2\x82\"", NOSTR_ERR_BAD_UTF8);	/* truncated */
	expect("\"\xf0\x9f\x98\x80\"", NOSTR_OK);
	expect("", NOSTR_ERR_BAD_JSON);

	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	expect(deep, NOSTR_OK);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	expect(deep, NOSTR_ERR_BAD_JSON);

	/* Embedded NUL in the input text is a raw control character. */
	CHECK(nostr_json_parse("\"a\0b\"", 5, 0, &doc, NULL) == NOSTR_ERR_BAD_JSON, "raw NUL rejected");

	CHECK(parse("{\"k\":[1,\"x\\u0000y\"],\"n\":-9223372036854775808}", &doc) == NOSTR_OK, "DOM parse");
	{
		size_t		k = nostr_json_member(&doc, 0, "k");
		size_t		n = nostr_json_member(&doc, 0, "n");

		CHECK(k == 1 && doc.nodes[k].count == 2, "member k is a 2-array");
		CHECK(doc.nodes[3].type == NOSTR_JSON_STRING && doc.nodes[3].len == 3 &&
			  memcmp(doc.nodes[3].str, "x\0y", 3) == 0, "\\u0000 decodes to a NUL byte");
		CHECK(n == 4 && nostr_json_get_int64(&doc.nodes[n], &v) && v == INT64_MIN, "INT64_MIN");
		CHECK(doc.nodes[0].next == 5 && doc.nodes[1].next == 4, "next skips subtrees");
		CHECK(nostr_json_member(&doc, 0, "missing") == (size_t) -1, "missing member");
		nostr_json_free(&doc);
	}
	CHECK(parse("[9223372036854775808, 1.0, 1e2]", &doc) == NOSTR_OK, "numbers parse");
	CHECK(!nostr_json_get_int64(&doc.nodes[1], &v), "int64 overflow refused");
	CHECK(!nostr_json_get_int64(&doc.nodes[2], &v), "fraction refused as integer");
	CHECK(!nostr_json_get_int64(&doc.nodes[3], &v), "exponent refused as integer");
	nostr_json_free(&doc);

	/* Writer: exactly JSON.stringify's escaping. */
	{
		char		in[0x21 + 8];
		const char *want =
			"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
			"\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
			"\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f \\\"\\\\/\x7f\xe2\x80\xa8\"";

		for (i = 0; i < 0x21; i++)
			in[i] = (char) i;
		memcpy(in + 0x21, "\"\\/\x7f\xe2\x80\xa8", 7);
		nostr_buf_init(&b);
		CHECK(nostr_json_write_string(&b, in, 0x21 + 7) && strcmp(b.data, want) == 0,
			  "writer escapes like JSON.stringify");
		nostr_buf_free(&b);
	}
	CHECK(nostr_utf8_valid("caf\xc3\xa9", 5) && !nostr_utf8_valid("\xff", 1), "utf8_valid");
}
