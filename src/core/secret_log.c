/*
 * secret_log.c: keeps secret settings out of the server log. The postmaster logs every changed
 * setting with its new value when the configuration is reloaded ("parameter ... changed to ...")
 * and there is no GUC flag to prevent it, and a rejected value is quoted in its error; so an
 * emit_log_hook, installed in the postmaster and inherited by every process, rewrites any message
 * that names a secret setting, and hides the statement that set it.
 */
#include "postgres.h"

#include "tcop/tcopprot.h"
#include "utils/elog.h"

#include "core/bigbrotr.h"

static const char *const secret_settings[] = {"bigbrotr.monitor_private_key",
"bigbrotr.synchronizer_private_key"};

static emit_log_hook_type prev_emit_log_hook = NULL;

static const char *
names_secret(const char *text)
{
	if (text == NULL)
		return NULL;
	for (int i = 0; i < lengthof(secret_settings); i++)
		if (strstr(text, secret_settings[i]) != NULL)
			return secret_settings[i];
	return NULL;
}

static void
redact_secrets(ErrorData *edata)
{
	const char *name = names_secret(edata->message);

	if (name == NULL)
		name = names_secret(edata->detail);
	/* The services' own messages (bb_log) name settings but never print a secret's value. */
	if (name != NULL && strncmp(edata->message, "bigbrotr ", 9) == 0)
		name = NULL;

	/*
	 * Messages only the log sees (the postmaster's reload lines, statement logging) are rewritten.
	 * A message that also goes to a client (e.g. "must be superuser to examine ...") is left for
	 * that client, who is the one who sent the value if there is one in it; those never quote the
	 * value of a string setting without a check hook.
	 */
	if (name != NULL && !edata->output_to_client)
	{
		/* Allocated in ErrorContext like the message it replaces. */
		edata->message = psprintf("a message about setting \"%s\" is not logged: it would show a secret", name);
		edata->detail = NULL;
		edata->detail_log = NULL;
		edata->hint = NULL;
		edata->context = NULL;
	}
	if (name != NULL || names_secret(debug_query_string))
		edata->hide_stmt = true;
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
bigbrotr_install_secret_log_hook(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_secrets;
}
