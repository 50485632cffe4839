/* fuzz_relay_url.c: libFuzzer target for relay URL parsing; a normalized URL must be a fixpoint. */
#include <stdlib.h>
#include <string.h>

#include "nostr/relay_url.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static nostr_relay_url u,
				again;
	nostr_error err;

	if (nostr_relay_url_parse((const char *) data, size, &u, &err) != 0)
		return 0;
	if (nostr_relay_url_parse(u.url, strlen(u.url), &again, &err) != 0 || strcmp(u.url, again.url) != 0)
		abort();
	return 0;
}
