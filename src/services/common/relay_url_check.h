/*
 * relay_url_check.h: the extension-side view of the nostr core's relay URL rules: validate and
 * normalize one URL, give its network and whether it targets a private/loopback/link-local address.
 */
#ifndef BIGBROTR_RELAY_URL_CHECK_H
#define BIGBROTR_RELAY_URL_CHECK_H

#include <stdbool.h>

#define RELAY_URL_MAX 2048

typedef struct RelayUrlCheck
{
	char		normalized[RELAY_URL_MAX];
	const char *network;		/* "clearnet" or "tor" */
	bool		private_target; /* loopback, private, link-local, ... literal host */
	const char *address_class;	/* "public", "loopback", "private", ... */
	const char *reason;			/* stable code of the rejection */
	char		error[256];		/* why the URL was rejected */
} RelayUrlCheck;

bool		relay_url_check(const char *input, RelayUrlCheck *out);

#endif							/* BIGBROTR_RELAY_URL_CHECK_H */
