/* fuzz_message.c: libFuzzer target for relay->client message parsing (and the event inside). */
#include <stdlib.h>
#include <string.h>

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
	/* The event read with the message must be what parsing its span alone gives. */
	if (m.type == NOSTR_MSG_EVENT)
	{
		int			alone = nostr_event_parse(m.event_json, m.event_json_len, 0, &ev, &err);

		if (alone != m.event_status)
			abort();
		if (alone == 0 && (memcmp(ev.id, m.event.id, 32) != 0 || ev.created_at != m.event.created_at ||
						   ev.content_len != m.event.content_len || ev.tag_count != m.event.tag_count))
			abort();
		nostr_event_free(&ev);
	}
	nostr_relay_msg_free(&m);
	return 0;
}
