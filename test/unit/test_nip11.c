/* test_nip11.c: NIP-11 documents mapped onto the nip11 columns: types kept, wrong types dropped and
 * named, unknown fields in extra_fields, and nothing jsonb would refuse. The mapped JSON is parsed
 * back with the strict reader so the assertions look at values, not at formatting. */
#include <stdlib.h>
#include <string.h>

#include "nostr/json.h"
#include "nostr/nip11.h"
#include "tap.h"

static int
map(const char *s, nostr_nip11 *out)
{
	nostr_error err;

	return nostr_nip11_map(s, strlen(s), out, &err);
}

/* The mapped document's member `key` as source text ("" when absent), in a static buffer. */
static const char *
member_text(const nostr_nip11 *m, const char *key)
{
	static char text[512];
	nostr_json_doc doc;
	nostr_error err;
	size_t		i;

	text[0] = '\0';
	if (nostr_json_parse(m->json, m->json_len, 0, &doc, &err) != NOSTR_OK)
		return "(unparsable)";
	i = nostr_json_member(&doc, 0, key);
	if (i != (size_t) -1)
	{
		size_t		n = doc.nodes[i].src_end - doc.nodes[i].src_start;

		if (n >= sizeof(text))
			n = sizeof(text) - 1;
		memcpy(text, m->json + doc.nodes[i].src_start, n);
		text[n] = '\0';
	}
	nostr_json_free(&doc);
	return text;
}

static void
well_formed(void)
{
	nostr_nip11 m;
	const char *doc = "{\"name\":\"Relay \\u00e9\",\"description\":\"d\",\"pubkey\":\"ab\",\"contact\":\"c\","
		"\"supported_nips\":[1, 11,42],\"software\":\"s\",\"version\":\"1.0\",\"banner\":\"b\",\"icon\":\"i\","
		"\"privacy_policy\":\"p\",\"terms_of_service\":\"t\",\"limitation\":{\"max_limit\":500,\"auth_required\":false},"
		"\"relay_countries\":[\"DE\"],\"fees\":{\"admission\":[{\"amount\":1}]}}";

	CHECK(map(doc, &m) == NOSTR_OK, "a full document maps");
	CHECK(m.known == 12 && m.extra == 2 && m.wrong_type == 0 && m.unstorable == 0,
		  "12 known fields, 2 extra (got %d, %d)", m.known, m.extra);
	CHECK(strcmp(member_text(&m, "name"), "\"Relay \xc3\xa9\"") == 0, "strings are re-encoded: %s", member_text(&m, "name"));
	CHECK(strcmp(member_text(&m, "supported_nips"), "[1, 11,42]") == 0, "supported_nips kept as the array");
	CHECK(strcmp(member_text(&m, "limitation"), "{\"max_limit\":500,\"auth_required\":false}") == 0, "limitation kept");
	CHECK(strcmp(member_text(&m, "extra_fields"), "{\"relay_countries\":[\"DE\"],\"fees\":{\"admission\":[{\"amount\":1}]}}") == 0,
		  "unknown fields in extra_fields: %s", member_text(&m, "extra_fields"));
	CHECK(strcmp(member_text(&m, "relay_countries"), "") == 0, "unknown fields are not top-level columns");
	nostr_nip11_free(&m);

	CHECK(map("{}", &m) == NOSTR_OK && strcmp(m.json, "{}") == 0 && m.known == 0, "an empty object maps to {}");
	nostr_nip11_free(&m);
	CHECK(map(" {\"name\":null,\"icon\":\"x\"} ", &m) == NOSTR_OK && m.known == 1 && m.wrong_type == 0 &&
		  strcmp(member_text(&m, "name"), "") == 0, "null known fields are absent, not wrong");
	nostr_nip11_free(&m);
	CHECK(map("{\"name\":\"first\",\"name\":\"second\"}", &m) == NOSTR_OK &&
		  strcmp(member_text(&m, "name"), "\"first\"") == 0 && m.known == 1, "a repeated known field: the first wins");
	nostr_nip11_free(&m);
}

static void
wrong_types(void)
{
	nostr_nip11 m;

	CHECK(map("{\"name\":42,\"supported_nips\":[1,\"11\"],\"limitation\":[1],\"icon\":true,\"software\":\"ok\"}", &m) == NOSTR_OK,
		  "wrong-typed fields do not fail the document");
	CHECK(m.wrong_type == 4 && m.known == 1, "4 dropped, 1 kept (got %d, %d)", m.wrong_type, m.known);
	CHECK(strcmp(member_text(&m, "name"), "") == 0 && strcmp(member_text(&m, "supported_nips"), "") == 0 &&
		  strcmp(member_text(&m, "limitation"), "") == 0 && strcmp(member_text(&m, "software"), "\"ok\"") == 0,
		  "dropped fields are absent");
	CHECK(strstr(m.dropped, "name (number)") && strstr(m.dropped, "supported_nips (array of non-integers)") &&
		  strstr(m.dropped, "limitation (array)") && strstr(m.dropped, "icon (boolean)"), "dropped fields named: %s", m.dropped);
	nostr_nip11_free(&m);
	CHECK(map("{\"supported_nips\":[1.5]}", &m) == NOSTR_OK && m.wrong_type == 1, "fractional NIP numbers are wrong");
	nostr_nip11_free(&m);
	CHECK(map("{\"supported_nips\":\"1,11\"}", &m) == NOSTR_OK && m.wrong_type == 1, "supported_nips as a string is wrong");
	nostr_nip11_free(&m);
}

static void
unstorable(void)
{
	nostr_nip11 m;

	CHECK(map("{\"name\":\"a\\u0000b\",\"description\":\"fine\"}", &m) == NOSTR_OK && m.unstorable == 1 &&
		  m.known == 1 && strcmp(member_text(&m, "name"), "") == 0, "a string holding U+0000 is dropped");
	nostr_nip11_free(&m);
	CHECK(map("{\"limitation\":{\"x\":\"\\u0000\"}}", &m) == NOSTR_OK && m.unstorable == 1 && m.known == 0,
		  "U+0000 nested in an object is dropped");
	nostr_nip11_free(&m);
	CHECK(map("{\"we\\u0000ird\":1,\"ok\":2}", &m) == NOSTR_OK && m.unstorable == 1 && m.extra == 1,
		  "a key holding U+0000 is dropped, other extras kept");
	nostr_nip11_free(&m);
	CHECK(map("{\"big\":1e999999,\"limitation\":{\"n\":2E+5000},\"small\":1.5e-3}", &m) == NOSTR_OK &&
		  m.unstorable == 2 && m.extra == 1, "numbers beyond numeric's range are dropped (%d)", m.unstorable);
	nostr_nip11_free(&m);
}

static void
not_documents(void)
{
	nostr_nip11 m;
	nostr_error err;

	CHECK(map("<html>hi</html>", &m) == NOSTR_ERR_BAD_JSON && m.json == NULL, "HTML is not JSON");
	CHECK(map("", &m) == NOSTR_ERR_BAD_JSON, "an empty body is not JSON");
	CHECK(map("{\"name\":\"x\"} trailing", &m) == NOSTR_ERR_BAD_JSON, "trailing garbage is refused");
	CHECK(nostr_nip11_map("[1,2]", 5, &m, &err) == NOSTR_ERR_BAD_FIELD && strstr(err.message, "array"),
		  "an array is not a document: %s", err.message);
	CHECK(map("\"name\"", &m) == NOSTR_ERR_BAD_FIELD, "a string is not a document");
	CHECK(map("{\"name\":\"\xff\"}", &m) == NOSTR_ERR_BAD_UTF8, "invalid UTF-8 is refused");
}

void
test_nip11(void)
{
	well_formed();
	wrong_types();
	unstorable();
	not_documents();
}
