/* fuzz_nip11.c: libFuzzer target for the NIP-11 mapper. Beyond not crashing, the mapped document
 * must be strict JSON, an object, and hold nothing jsonb would refuse (U+0000 in a string or key). */
#include <stdlib.h>
#include <string.h>

#include "nostr/json.h"
#include "nostr/nip11.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	nostr_nip11 m;
	nostr_error err;
	nostr_json_doc doc;

	if (nostr_nip11_map((const char *) data, size, &m, &err) != 0)
		return 0;
	if (nostr_json_parse(m.json, m.json_len, 0, &doc, &err) != 0 || doc.nodes[0].type != NOSTR_JSON_OBJECT)
		abort();
	for (size_t i = 0; i < doc.count; i++)
	{
		const nostr_json_node *n = &doc.nodes[i];

		if ((n->key && strlen(n->key) != n->key_len) ||
			(n->type == NOSTR_JSON_STRING && strlen(n->str) != n->len))
			abort();
	}
	nostr_json_free(&doc);
	nostr_nip11_free(&m);
	return 0;
}
