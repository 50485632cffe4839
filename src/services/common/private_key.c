/*
 * private_key.c: the shared rules of the services' secret-key settings (see private_key.h): one
 * check (64 hexadecimal characters that are a valid secp256k1 secret key) whose message never
 * quotes the value, one definition (hidden, superuser-only), one loader.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/bigbrotr.h"
#include "nostr/keys.h"
#include "services/common/private_key.h"

/*
 * The message never quotes the value (PostgreSQL's own "invalid value for parameter" would), and
 * starts with "bigbrotr " so that secret_log.c lets it through to the log: it names the setting,
 * never its value.
 */
bool
bb_private_key_check(const char *name, const char *empty_means, char **newval)
{
	uint8		seckey[32];
	nostr_error err;
	bool		ok;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	ok = nostr_seckey_from_hex(*newval, strlen(*newval), seckey, &err) == NOSTR_OK;
	explicit_bzero(seckey, sizeof(seckey));
	if (ok)
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	/* nostr errors about keys say what is wrong (length, not hex, not a valid key), never the value. */
	GUC_check_errmsg("bigbrotr refuses this value of \"%s\": %s", name, err.message);
	GUC_check_errdetail("The value is not shown.");
	GUC_check_errhint("Set 64 hexadecimal characters (a secp256k1 secret key), or an empty string for %s.", empty_means);
	return false;
}

void
bb_define_private_key_setting(const char *name, const char *description, char **var,
							  GucStringCheckHook check_hook)
{
	/* A secret: hidden from other roles and from SHOW ALL; secret_log.c keeps it out of the log. */
	DefineCustomStringVariable(name, description, NULL, var, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_hook, NULL, NULL);
}

bool
bb_private_key_load(const char *name, const char *value, uint8 seckey[32])
{
	nostr_error err;

	if (value == NULL || value[0] == '\0')
		return false;
	/* nostr errors never quote the key, so the message is safe to log. */
	if (nostr_seckey_from_hex(value, strlen(value), seckey, &err) == NOSTR_OK)
		return true;
	explicit_bzero(seckey, 32);
	bb_log(BB_WARNING, "%s is not usable (%s)", name, err.message);
	return false;
}
