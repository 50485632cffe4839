/*
 * guc.c: the GUCs shared by every service: the database the workers connect to, the log level, the
 * private-address policy, the Tor proxies, and a test-only interval override. Per-service GUCs live in each service's file.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/bigbrotr.h"

char	   *bigbrotr_database = NULL;
int			bigbrotr_log_level = BB_INFO;
bool		bigbrotr_allow_private_addresses = false;
bool		bigbrotr_tor_enabled = false;
char	   *bigbrotr_tor_socks_host = NULL;
int			bigbrotr_tor_socks_port = 9050;
char	   *bigbrotr_tor_http_tunnel_host = NULL;
int			bigbrotr_tor_http_tunnel_port = 9080;
int			bigbrotr_debug_interval_ms = 0;

static const struct config_enum_entry log_level_options[] = {
	{"debug", BB_DEBUG, false},
	{"info", BB_INFO, false},
	{"warning", BB_WARNING, false},
	{"error", BB_ERROR, false},
	{NULL, 0, false}
};

void
bigbrotr_define_shared_gucs(void)
{
	DefineCustomStringVariable("bigbrotr.database",
							   "Database the bigbrotr background workers connect to.",
							   "The extension must be installed in this database.",
							   &bigbrotr_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("bigbrotr.log_level",
							 "Least severe bigbrotr service message written to the server log.",
							 NULL, &bigbrotr_log_level, BB_INFO, log_level_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("bigbrotr.allow_private_addresses",
							 "Let the workers connect to loopback, private and link-local addresses.",
							 "Off by default so that relay URLs from the internet cannot reach the local network.",
							 &bigbrotr_allow_private_addresses, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("bigbrotr.tor_enabled",
							 "Reach .onion relays and sources through Tor.",
							 "When off, .onion relays are skipped and counted.",
							 &bigbrotr_tor_enabled, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("bigbrotr.tor_socks_host",
							   "Host of Tor's SOCKS port (used for HTTP requests).",
							   NULL, &bigbrotr_tor_socks_host, "127.0.0.1",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	bb_define_int_setting("bigbrotr.tor_socks_port", "Tor's SOCKS port (used for HTTP requests).",
						  &bigbrotr_tor_socks_port, 9050, 1, 65535, 0);

	DefineCustomStringVariable("bigbrotr.tor_http_tunnel_host",
							   "Host of Tor's HTTPTunnelPort (HTTP CONNECT, used for WebSockets).",
							   NULL, &bigbrotr_tor_http_tunnel_host, "127.0.0.1",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	bb_define_int_setting("bigbrotr.tor_http_tunnel_port",
						  "Tor's HTTPTunnelPort (HTTP CONNECT, used for WebSockets).",
						  &bigbrotr_tor_http_tunnel_port, 9080, 1, 65535, 0);

	/* For tests only: many cycles (and launcher loops) in one process, in seconds, not hours. */
	DefineCustomIntVariable("bigbrotr.debug_interval_ms",
							"For tests: when above 0, replaces every service's interval and the launcher's pause.",
							"Services then run a cycle every this many milliseconds; 0 (the default) uses the intervals.",
							&bigbrotr_debug_interval_ms, 0, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
}

void
bb_define_int_setting(const char *name, const char *description, int *variable, int boot_value,
					  int min_value, int max_value, int unit_flags)
{
	DefineCustomIntVariable(name, description, NULL, variable, boot_value, min_value, max_value,
							PGC_SIGHUP, unit_flags, NULL, NULL, NULL);
}

void
bb_define_bool_setting(const char *name, const char *description, bool *variable, bool boot_value)
{
	DefineCustomBoolVariable(name, description, NULL, variable, boot_value, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
}
