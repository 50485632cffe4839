/* fuzz_message.c: libFuzzer target for relay->client message parsing (and the event inside). */
#include <stdlib.h>

#include "nostr/message.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	nostr_relay_msg m;
	nostr_error err;
	nostr_event ev;

	if (nostr_relay_msg_parse((const char *) data, size, 1 << 20, &m, &err) != 0)
		return 0;
	if (m.type == NOSTR_MSG_EVENT &&
		nostr_event_parse(m.event_json, m.event_json_len, 0, &ev, &err) == 0)
		nostr_event_free(&ev);
	nostr_relay_msg_free(&m);
	return 0;
}
