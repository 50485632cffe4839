/* error.c: stable reason codes and the error-message helper for the nostr layer. */
#include "nostr/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *
nostr_reason_code(nostr_status status)
{
	switch (status)
	{
		case NOSTR_OK:
			return "ok";
		case NOSTR_ERR_BAD_JSON:
			return "bad_json";
		case NOSTR_ERR_BAD_UTF8:
			return "bad_utf8";
		case NOSTR_ERR_TOO_LARGE:
			return "too_large";
		case NOSTR_ERR_MISSING_FIELD:
			return "missing_field";
		case NOSTR_ERR_DUPLICATE_FIELD:
			return "duplicate_field";
		case NOSTR_ERR_BAD_FIELD:
			return "bad_field";
		case NOSTR_ERR_ID_MISMATCH:
			return "id_mismatch";
		case NOSTR_ERR_BAD_PUBKEY:
			return "bad_pubkey";
		case NOSTR_ERR_BAD_SIGNATURE:
			return "bad_signature";
		case NOSTR_ERR_BAD_KEY:
			return "bad_key";
		case NOSTR_ERR_BAD_URL:
			return "bad_url";
		case NOSTR_ERR_BAD_SCHEME:
			return "bad_scheme";
		case NOSTR_ERR_HAS_USERINFO:
			return "has_userinfo";
		case NOSTR_ERR_HAS_FRAGMENT:
			return "has_fragment";
		case NOSTR_ERR_BAD_HOST:
			return "bad_host";
		case NOSTR_ERR_BAD_PORT:
			return "bad_port";
		case NOSTR_ERR_BAD_ONION:
			return "bad_onion";
		case NOSTR_ERR_BAD_MESSAGE:
			return "bad_message";
		case NOSTR_ERR_UNKNOWN_MESSAGE:
			return "unknown_message";
		case NOSTR_ERR_BAD_ARGUMENT:
			return "bad_argument";
		case NOSTR_ERR_NO_MEMORY:
			return "no_memory";
		case NOSTR_ERR_INTERNAL:
			return "internal";
	}
	return "unknown";
}

void
nostr_error_clear(nostr_error *err)
{
	if (err)
	{
		err->code = NOSTR_OK;
		err->message[0] = '\0';
	}
}

int
nostr_error_set(nostr_error *err, nostr_status status, const char *fmt,...)
{
	if (err)
	{
		va_list		ap;

		err->code = status;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return (int) status;
}
