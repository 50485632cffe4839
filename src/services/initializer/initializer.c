/*
 * initializer.c: the one-shot service. It verifies that the objects bigbrotr needs are installed
 * (each group of checks switchable by GUC) and fails clearly when any is missing; then it seeds relay
 * URLs from a file: one URL a line ('#' starts a comment), each validated and normalized by the nostr
 * core, inserted in batches through bigbrotr.insert_relays. Bad lines are counted and reported with
 * their line number; duplicates are harmless.
 */
#include "postgres.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

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
static int	seed_max_size_kb = 64 * 1024;

/* Seed lines longer than this cannot be relay URLs; they are reported, not read whole. */
#define SEED_LINE_MAX 4096
/* Bytes read per read(); a stop is checked between reads. */
#define SEED_READ_CHUNK 65536
/* Between polls of a file that has no data yet (a FIFO), and how long it may stay silent. */
#define SEED_POLL_MS 100
#define SEED_IDLE_TIMEOUT_MS 30000

/* bigbrotr requires no other extension (its hashes use the built-in sha256()). */
static const char *const required_extensions[] = {"bigbrotr"};
static const char *const required_tables[] = {
	"relays", "events", "events_relays", "nip11", "nip66", "relay_metadata", "service_state",
	"service_control", "service_status", "event_stats", "event_stats_delta"
};
static const char *const required_procedures[] = {
	"insert_event", "insert_events", "insert_relay", "insert_relays", "insert_relay_metadata",
	"insert_relay_metadata_batch", "insert_sightings", "delete_relay", "delete_events",
	"delete_orphan_events", "delete_orphan_sightings", "delete_orphan_nip11", "delete_orphan_nip66",
	"compute_nip11_hash", "compute_nip66_hash", "tags_to_tagvalues", "tagvalue_entry",
	"relay_url_canonical", "relay_items",
	"api_relays", "api_relay", "api_relay_history", "api_relay_nip11", "api_stats", "api_services",
	"api_gauges", "api_stats_fold",
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
	bb_define_int_setting("bigbrotr.initializer_seed_max_size",
						  "Most of the seed file read; the rest is ignored with a warning.",
						  &seed_max_size_kb, 64 * 1024, 1, INT_MAX, GUC_UNIT_KB);
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

typedef struct SeedReader
{
	ServiceCycle *cycle;
	RelayWriter *writer;
	int64		now;
	int			lineno;
	char		line[SEED_LINE_MAX];
	int			len;			/* bytes of the current line kept in line[] */
	bool		too_long;		/* the current line passed SEED_LINE_MAX: skipped to its newline */
} SeedReader;

/* One complete line (without its newline): validated and queued, or counted with its reason. */
static void
seed_line(SeedReader *r)
{
	char	   *start = r->line;
	int			len = r->len;
	RelayUrlCheck check;

	r->lineno++;
	if (r->too_long)
	{
		bb_log(BB_WARNING, "seed file %s line %d: line longer than %d bytes, skipped",
			   seed_file, r->lineno, SEED_LINE_MAX - 1);
		service_cycle_count(r->cycle, "lines_invalid", 1);
		return;
	}
	if (memchr(r->line, '\0', len) != NULL)
	{
		bb_log(BB_WARNING, "seed file %s line %d: line holds a NUL byte, skipped", seed_file, r->lineno);
		service_cycle_count(r->cycle, "lines_invalid", 1);
		return;
	}
	while (len > 0 && (r->line[len - 1] == '\r' || r->line[len - 1] == ' ' || r->line[len - 1] == '\t'))
		len--;
	r->line[len] = '\0';
	while (*start == ' ' || *start == '\t')
		start++;
	if (*start == '\0' || *start == '#')
		return;

	service_cycle_count(r->cycle, "lines_read", 1);
	switch (relay_writer_add(r->writer, start, &check, r->now, false))
	{
		case RELAY_ADDED:
			service_cycle_count(r->cycle, "relays_valid", 1);
			break;
		case RELAY_DUPLICATE:
			service_cycle_count(r->cycle, "lines_duplicate", 1);
			break;
		case RELAY_INVALID:
			bb_log(BB_WARNING, "seed file %s line %d: invalid relay URL \"%s\": %s",
				   seed_file, r->lineno, start, check.error);
			service_cycle_count(r->cycle, "lines_invalid", 1);
			break;
		case RELAY_PRIVATE:
			bb_log(BB_WARNING, "seed file %s line %d: \"%s\" targets a %s address "
				   "(set bigbrotr.allow_private_addresses to accept it)",
				   seed_file, r->lineno, check.normalized, check.address_class);
			service_cycle_count(r->cycle, "lines_private_refused", 1);
			break;
	}
}

/* Splits a chunk into lines; a line's bytes beyond SEED_LINE_MAX - 1 are never kept. */
static void
seed_bytes(SeedReader *r, const char *data, size_t n)
{
	while (n > 0)
	{
		const char *nl = memchr(data, '\n', n);
		size_t		part = nl ? (size_t) (nl - data) : n;

		if (!r->too_long)
		{
			if (r->len + part > SEED_LINE_MAX - 1)
				r->too_long = true;
			else
			{
				memcpy(r->line + r->len, data, part);
				r->len += part;
			}
		}
		if (nl == NULL)
			return;
		seed_line(r);
		r->len = 0;
		r->too_long = false;
		data = nl + 1;
		n -= part + 1;
	}
}

/*
 * Waits until fd has data (or its end) for up to SEED_POLL_MS; false when it had none. A regular
 * file or a device is always ready; a FIFO or socket may not be.
 */
static bool
seed_wait_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int			rc = poll(&pfd, 1, SEED_POLL_MS);

	if (rc < 0 && errno != EINTR)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not wait for seed file \"%s\": %m", seed_file)));
	return rc > 0;
}

/* Reads the seed file into batches, bounded in line length, total size and time; runs in a PG_TRY. */
static void
read_seed_lines(int fd, ServiceCycle *cycle, RelayWriter *writer)
{
	SeedReader *r = palloc0(sizeof(SeedReader));
	char	   *chunk = palloc(SEED_READ_CHUNK);
	int64		max_bytes = (int64) seed_max_size_kb * 1024;
	int64		total = 0;
	int			idle_ms = 0;

	r->cycle = cycle;
	r->writer = writer;
	r->now = bb_unix_now();
	for (;;)
	{
		ssize_t		got;

		if (service_should_stop())
		{
			bb_log(BB_INFO, "seed file %s: stop requested after line %d; the rest is not read",
				   seed_file, r->lineno);
			service_cycle_set(cycle, "seed_stopped", 1);
			break;
		}
		if (total >= max_bytes)
		{
			bb_log(BB_WARNING, "seed file %s: stopped after " INT64_FORMAT " bytes "
				   "(bigbrotr.initializer_seed_max_size); the rest is ignored", seed_file, total);
			service_cycle_set(cycle, "seed_truncated", 1);
			/* A line the cap cut is not a line: never taken for a (shorter) URL. */
			if (r->len > 0 || r->too_long)
			{
				bb_log(BB_WARNING, "seed file %s line %d: cut by the size cap, skipped", seed_file, ++r->lineno);
				service_cycle_count(cycle, "lines_invalid", 1);
			}
			break;
		}
		got = read(fd, chunk, Min((int64) SEED_READ_CHUNK, max_bytes - total));
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		{
			if (!seed_wait_readable(fd) && (idle_ms += SEED_POLL_MS) >= SEED_IDLE_TIMEOUT_MS)
				ereport(ERROR,
						(errcode(ERRCODE_IO_ERROR),
						 errmsg("seed file \"%s\" gave no data for %d s", seed_file, SEED_IDLE_TIMEOUT_MS / 1000),
						 errhint("bigbrotr.initializer_seed_file should name a regular file.")));
			continue;
		}
		if (got < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read seed file \"%s\": %m", seed_file)));
		if (got == 0)
		{
			/* The last line may have no newline. */
			if (r->len > 0 || r->too_long)
				seed_line(r);
			break;
		}
		idle_ms = 0;
		total += got;
		seed_bytes(r, chunk, (size_t) got);
	}
	relay_writer_flush(writer, false);
	service_cycle_set(cycle, "relays_new", writer->inserted_new);
	service_cycle_set(cycle, "relays_unstorable", writer->unstorable);
	pfree(chunk);
	pfree(r);
}

static void
seed_relays(ServiceCycle *cycle)
{
	int			fd;
	RelayWriter *writer;

	if (seed_file == NULL || seed_file[0] == '\0')
	{
		bb_log(BB_INFO, "bigbrotr.initializer_seed_file is empty; nothing to seed");
		return;
	}

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(seed_file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open seed file \"%s\": %m", seed_file)));

	writer = relay_writer_create(seed_batch_size);
	PG_TRY();
	{
		read_seed_lines(fd, cycle, writer);
	}
	PG_FINALLY();
	{
		close(fd);
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
