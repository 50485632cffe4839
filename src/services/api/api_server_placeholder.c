/*
 * api_server_placeholder.c: TEMPORARY (issue 13 in progress): weak definitions the server needs
 * from parts other helpers write (the client message parser of src/nostr/filter.h, the WebSocket
 * metrics of api_metrics.c), so the server builds and runs alone. Deleted at integration.
 */
#include "postgres.h"

#include "nostr/filter.h"
#include "services/api/api.h"

__attribute__((weak)) int
nostr_client_msg_parse(const char *text, size_t len, size_t max_size, nostr_client_msg *out,
					   nostr_error *err)
{
	memset(out, 0, sizeof(*out));
	return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "the message parser is not built yet");
}

__attribute__((weak)) void
nostr_client_msg_free(nostr_client_msg *msg)
{
}

__attribute__((weak)) void
api_metrics_websocket(int opened, int dropped)
{
}
