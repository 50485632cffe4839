/* fuzz_event.c: libFuzzer target for event parse + verify, canonical serialization and to_json. */
#include <stdlib.h>

#include "nostr/event.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	nostr_event ev,
				again;
	nostr_error err;
	size_t		n;
	char	   *s;

	if (nostr_event_parse((const char *) data, size, 1 << 20, &ev, &err) != 0)
		return 0;
	(void) nostr_event_verify_cached(&ev, NULL, &err);
	(void) nostr_event_has_nul(&ev);
	free(nostr_event_serialize_canonical(&ev, &n));
	/* What we serialize must parse back: our writer and reader agree. */
	s = nostr_event_to_json(&ev, &n);
	if (s)
	{
		if (nostr_event_parse(s, n, 0, &again, &err) != 0)
			abort();
		nostr_event_free(&again);
		free(s);
	}
	nostr_event_free(&ev);
	return 0;
}
