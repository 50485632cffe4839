/*
 * private_key.h: the services' secret-key settings (bigbrotr.monitor_private_key,
 * bigbrotr.synchronizer_private_key) share one set of rules: hidden (superuser-only, not in SHOW
 * ALL or the sample file), refused when set to anything but a usable secp256k1 key, never quoted
 * in any message (secret_log.c keeps them out of the server log), empty meaning "no key".
 */
#ifndef BIGBROTR_SERVICES_COMMON_PRIVATE_KEY_H
#define BIGBROTR_SERVICES_COMMON_PRIVATE_KEY_H

#include "utils/guc.h"

/* Defines the hidden setting `name` with this check; empty_means: what an empty value does. */
void		bb_define_private_key_setting(const char *name, const char *description, char **var,
										  GucStringCheckHook check_hook);

/*
 * The body of each setting's check hook (a hook is not told its setting's name): true when
 * *newval is empty or a usable key; else sets the GUC error (naming the setting, not the value).
 */
bool		bb_private_key_check(const char *name, const char *empty_means, char **newval);

/*
 * The key of a setting's current value into seckey: false when empty, or (logged as a WARNING,
 * without the value) unusable.
 */
bool		bb_private_key_load(const char *name, const char *value, uint8 seckey[32]);

#endif							/* BIGBROTR_SERVICES_COMMON_PRIVATE_KEY_H */
