/*
 * relay_url_check.c: adapts the nostr core's relay URL parser (src/nostr/relay_url.c) to what the
 * services need per URL: the normal form, the network name, whether the host is a private target,
 * and a stable reason plus message when the URL is refused.
 */
#include "postgres.h"

#include <stdio.h>
#include <string.h>

#include "nostr/relay_url.h"
#include "services/common/relay_url_check.h"

bool
relay_url_check(const char *input, RelayUrlCheck *out)
{
	nostr_relay_url parsed;
	nostr_error err;

	memset(out, 0, sizeof(*out));
	nostr_error_clear(&err);
	if (nostr_relay_url_parse(input, strlen(input), &parsed, &err) != NOSTR_OK)
	{
		out->reason = nostr_reason_code(err.code);
		snprintf(out->error, sizeof(out->error), "%s", err.message);
		return false;
	}
	snprintf(out->normalized, sizeof(out->normalized), "%s", parsed.url);
	out->network = nostr_network_name(parsed.network);
	out->address_class = nostr_addr_class_name(parsed.host_class);
	out->private_target = nostr_addr_class_is_private(parsed.host_class);
	out->reason = nostr_reason_code(NOSTR_OK);
	return true;
}
