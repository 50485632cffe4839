/*
 * initializer.c: the one-shot service. It verifies that the objects bigbrotr needs are installed
 * (each group of checks switchable by GUC) and fails clearly when any is missing; then it seeds relay
 * URLs from a file: one URL a line ('#' starts a comment), each validated and normalized by the nostr
 * core, inserted in batches through bigbrotr.insert_relays. Bad lines are counted and reported with
 * their line number; duplicates are harmless.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/bigbrotr.h"
#include "services/common/relay_writer.h"
#include "services/services.h"

static char *seed_file = NULL;
static bool verify_extensions = true;
static bool verify_tables = true;
static bool verify_procedures = true;
static bool verify_views = true;
static int	seed_batch_size = 500;

/* Seed lines longer than this cannot be relay URLs; they are reported, not read whole. */
#define SEED_LINE_MAX 4096

/* bigbrotr requires no other extension (its hashes use the built-in sha256()). */
static const char *const required_extensions[] = {"bigbrotr"};
static const char *const required_tables[] = {
	"relays", "events", "events_relays", "nip11", "nip66", "relay_metadata", "service_state",
	"service_control", "service_status"
};
static const char *const required_procedures[] = {
	"insert_event", "insert_events", "insert_relay", "insert_relays", "insert_relay_metadata",
	"insert_relay_metadata_batch", "delete_orphan_events", "delete_orphan_nip11", "delete_orphan_nip66",
	"compute_nip11_hash", "compute_nip66_hash", "tags_to_tagvalues",
	"bigbrotr_start", "bigbrotr_stop", "bigbrotr_status", "bigbrotr_services"
};
/* The front door: the control functions in the extension's own schema (normally public). */
static const char *const required_control_functions[] = {
	"bigbrotr_start", "bigbrotr_stop", "bigbrotr_status", "bigbrotr_services"
};
static const char *const required_views[] = {"relay_metadata_latest"};

void
initializer_define_gucs(void)
{
	static char default_seed_file[MAXPGPATH];
	char		sharedir[MAXPGPATH];

	get_share_path(my_exec_path, sharedir);
	snprintf(default_seed_file, MAXPGPATH, "%s/extension/bigbrotr/seed_relays.txt", sharedir);

	DefineCustomStringVariable("bigbrotr.initializer_seed_file",
							   "File of relay URLs (one a line) the initializer seeds; empty to seed nothing.",
							   NULL, &seed_file, default_seed_file,
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	bb_define_bool_setting("bigbrotr.initializer_verify_extensions",
						   "Check that extension bigbrotr is installed.",
						   &verify_extensions, true);
	bb_define_bool_setting("bigbrotr.initializer_verify_tables",
						   "Check that bigbrotr's tables exist.",
						   &verify_tables, true);
	bb_define_bool_setting("bigbrotr.initializer_verify_procedures",
						   "Check that bigbrotr's procedures and control functions exist.",
						   &verify_procedures, true);
	bb_define_bool_setting("bigbrotr.initializer_verify_views",
						   "Check that bigbrotr's views exist.",
						   &verify_views, true);
	bb_define_int_setting("bigbrotr.initializer_batch_size",
						  "Relay URLs inserted per call of bigbrotr.insert_relays.",
						  &seed_batch_size, 500, 1, 100000, 0);
}

/* Counts the missing objects of one group, logging each. */
static int
check_objects(const char *kind, const char *query, const char *const *names, int count)
{
	static SPIPlanPtr plans[5];
	static const char *plan_queries[5];
	SPIPlanPtr *plan = NULL;
	int			missing = 0;

	for (int i = 0; i < lengthof(plans) && plan == NULL; i++)
		if (plan_queries[i] == NULL || plan_queries[i] == query)
		{
			plan_queries[i] = query;
			plan = &plans[i];
		}

	for (int i = 0; i < count; i++)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(names[i])};

		bb_spi_run(plan, query, 1, types, values, NULL, true);
		if (bb_spi_int64_result() == 0)
		{
			bb_log(BB_WARNING, "missing %s: %s", kind, names[i]);
			missing++;
		}
	}
	return missing;
}

static void
verify_installation(ServiceCycle *cycle)
{
	int			missing = 0;

	bb_tx_begin();
	if (verify_extensions)
		missing += check_objects("extension",
								 "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = $1",
								 required_extensions, lengthof(required_extensions));
	if (verify_tables)
		missing += check_objects("table",
								 "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'bigbrotr' AND tablename = $1",
								 required_tables, lengthof(required_tables));
	if (verify_procedures)
		missing += check_objects("procedure",
								 "SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
								 "WHERE n.nspname = 'bigbrotr' AND p.proname = $1",
								 required_procedures, lengthof(required_procedures));
	if (verify_procedures)
		missing += check_objects("control function",
								 "SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_extension e "
								 "ON e.extname = 'bigbrotr' AND e.extnamespace = p.pronamespace WHERE p.proname = $1",
								 required_control_functions, lengthof(required_control_functions));
	if (verify_views)
		missing += check_objects("view",
								 "SELECT count(*) FROM pg_catalog.pg_views WHERE schemaname = 'bigbrotr' AND viewname = $1",
								 required_views, lengthof(required_views));
	bb_tx_commit();

	service_cycle_set(cycle, "objects_missing", missing);
	if (missing > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("bigbrotr installation is incomplete: %d required object%s missing",
						missing, missing == 1 ? " is" : "s are"),
				 errhint("See the server log for the list; reinstall with DROP EXTENSION bigbrotr; CREATE EXTENSION bigbrotr.")));
	bb_log(BB_INFO, "installation verified");
}

/* Reads every line of the seed file into batches; runs inside seed_relays' PG_TRY. */
static void
read_seed_lines(FILE *file, ServiceCycle *cycle, RelayWriter *writer)
{
	char		line[SEED_LINE_MAX];
	int			lineno = 0;
	int64		now = bb_unix_now();

	while (fgets(line, sizeof(line), file) != NULL)
	{
		size_t		len = strlen(line);
		char	   *start = line;
		RelayUrlCheck check;

		lineno++;
		if (lineno % 1000 == 0)
			CHECK_FOR_INTERRUPTS();
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
		{
			int			c;

			while ((c = fgetc(file)) != EOF && c != '\n')
				;
			bb_log(BB_WARNING, "seed file %s line %d: line longer than %d bytes, skipped",
				   seed_file, lineno, SEED_LINE_MAX - 1);
			service_cycle_count(cycle, "lines_invalid", 1);
			continue;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
						   line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		while (*start == ' ' || *start == '\t')
			start++;
		if (*start == '\0' || *start == '#')
			continue;

		service_cycle_count(cycle, "lines_read", 1);
		switch (relay_writer_add(writer, start, &check, now, false))
		{
			case RELAY_ADDED:
				service_cycle_count(cycle, "relays_valid", 1);
				break;
			case RELAY_DUPLICATE:
				service_cycle_count(cycle, "lines_duplicate", 1);
				break;
			case RELAY_INVALID:
				bb_log(BB_WARNING, "seed file %s line %d: invalid relay URL \"%s\": %s",
					   seed_file, lineno, start, check.error);
				service_cycle_count(cycle, "lines_invalid", 1);
				break;
			case RELAY_PRIVATE:
				bb_log(BB_WARNING, "seed file %s line %d: \"%s\" targets a %s address "
					   "(set bigbrotr.allow_private_addresses to accept it)",
					   seed_file, lineno, check.normalized, check.address_class);
				service_cycle_count(cycle, "lines_private_refused", 1);
				break;
		}
	}
	if (ferror(file))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read seed file \"%s\": %m", seed_file)));
	relay_writer_flush(writer, false);
	service_cycle_set(cycle, "relays_new", writer->inserted_new);
	service_cycle_set(cycle, "relays_unstorable", writer->unstorable);
}

static void
seed_relays(ServiceCycle *cycle)
{
	FILE	   *file;
	RelayWriter *writer;

	if (seed_file == NULL || seed_file[0] == '\0')
	{
		bb_log(BB_INFO, "bigbrotr.initializer_seed_file is empty; nothing to seed");
		return;
	}

	file = fopen(seed_file, "r");
	if (file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open seed file \"%s\": %m", seed_file)));

	writer = relay_writer_create(seed_batch_size);
	PG_TRY();
	{
		read_seed_lines(file, cycle, writer);
	}
	PG_FINALLY();
	{
		fclose(file);
	}
	PG_END_TRY();

	bb_log(BB_INFO, "seeded from %s: " INT64_FORMAT " valid, " INT64_FORMAT " invalid, "
		   INT64_FORMAT " duplicate, " INT64_FORMAT " new",
		   seed_file, service_cycle_get(cycle, "relays_valid"),
		   service_cycle_get(cycle, "lines_invalid"),
		   service_cycle_get(cycle, "lines_duplicate"),
		   service_cycle_get(cycle, "relays_new"));
}

void
initializer_run_cycle(ServiceCycle *cycle)
{
	verify_installation(cycle);
	seed_relays(cycle);
}
