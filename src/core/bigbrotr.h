/*
 * bigbrotr.h: declarations shared by the extension core and the services: the shared GUCs,
 * logging, the service registry, the per-cycle runtime API and the SPI helpers.
 */
#ifndef BIGBROTR_H
#define BIGBROTR_H

#include "executor/spi.h"
#include "utils/jsonb.h"

#define BIGBROTR_SCHEMA "bigbrotr"

/* ---- shared GUCs (guc.c) ---- */
extern char *bigbrotr_database;
extern int	bigbrotr_log_level;
extern bool bigbrotr_allow_private_addresses;
extern bool bigbrotr_tor_enabled;
extern char *bigbrotr_tor_socks_host;
extern int	bigbrotr_tor_socks_port;
extern char *bigbrotr_tor_http_tunnel_host;
extern int	bigbrotr_tor_http_tunnel_port;
/* Tests only: > 0 replaces every service interval and the launcher's pause (milliseconds). */
extern int	bigbrotr_debug_interval_ms;

void		bigbrotr_define_shared_gucs(void);

/*
 * Defines bigbrotr.<service>_<field> settings that a reload (SIGHUP) changes: the one way every
 * service defines its plain integer and boolean GUCs (unit_flags: 0, GUC_UNIT_S, GUC_UNIT_MS, ...).
 */
void		bb_define_int_setting(const char *name, const char *description, int *variable,
								  int boot_value, int min_value, int max_value, int unit_flags);
void		bb_define_bool_setting(const char *name, const char *description, bool *variable,
								   bool boot_value);

/* Keeps the values of secret settings out of the server log (secret_log.c). */
void		bigbrotr_install_secret_log_hook(void);

/* ---- logging ---- */
typedef enum BigbrotrLogLevel
{
	BB_DEBUG = 0,
	BB_INFO,
	BB_WARNING,
	BB_ERROR
} BigbrotrLogLevel;

/* Name of the service this process runs ("launcher" in the launcher); prefixes every message. */
extern const char *bigbrotr_process_name;

/*
 * Service messages go to the server log, filtered by bigbrotr.log_level. Warnings and errors are
 * logged as WARNING so they stand out; neither interrupts the caller.
 */
#define bb_log(level, ...) \
	do { \
		if ((int) (level) >= bigbrotr_log_level) \
			ereport((level) >= BB_WARNING ? WARNING : LOG, \
					(errmsg_internal("bigbrotr %s: %s", bigbrotr_process_name, psprintf(__VA_ARGS__)))); \
	} while (0)

/* ---- the per-cycle context a service runs in (service_runtime.c) ---- */
typedef struct ServiceCycle
{
	MemoryContext memory;		/* reset after every cycle; allocate per-cycle data here */
	List	   *stats;			/* (name, value) counters, reported in bigbrotr_status() */
} ServiceCycle;

/* Adds delta to a named counter of this cycle (created at 0). */
void		service_cycle_count(ServiceCycle *cycle, const char *counter, int64 delta);
/* Sets a named counter of this cycle. */
void		service_cycle_set(ServiceCycle *cycle, const char *counter, int64 value);
int64		service_cycle_get(ServiceCycle *cycle, const char *counter);

/*
 * True once SIGTERM arrived or the service was asked to stop; long loops should end their cycle.
 * Exits the process (proc_exit(1)) when the postmaster died. Every loop calls this (or service_wait)
 * at least every ~100 ms; the network loops return to their caller within such a slice.
 */
bool		service_should_stop(void);

/* Exits the process (proc_exit(1), as WL_EXIT_ON_PM_DEATH does) when the postmaster died. */
void		service_check_postmaster(void);

/*
 * Notes a stop (starting its grace timer, after which the process exits at its next interrupt
 * check) and checks the postmaster, without processing interrupts; bb_tx_begin calls it so that no
 * statement a stopping worker starts can hold the stop up.
 */
void		service_stop_checkpoint(void);

/*
 * Waits up to timeout_ms for the latch, handling interrupts and SIGHUP reloads. Every loop in a
 * service that would otherwise block calls this (or CHECK_FOR_INTERRUPTS at least every ~100 ms).
 */
void		service_wait(long timeout_ms);

/* Re-reads the configuration when a SIGHUP arrived (service_wait does it; other loops call this). */
void		service_reload_if_pending(void);

/*
 * The SIGTERM and SIGHUP handlers behind service_should_stop and service_reload_if_pending, for every
 * bigbrotr background process (services and the workers they start); also unblocks signals.
 */
void		service_install_signal_handlers(void);

/* ---- surviving an ERROR (catch_error.c) ---- */

/*
 * Runs body(arg). When it raises an ERROR, the error is caught, the transaction aborted, the error
 * state flushed and the caller's memory context restored; returns the message (palloc'd in the
 * caller's context) for the caller to log and count, or NULL when body returned normally. With
 * emit_report the error is also written to the server log as PostgreSQL reports it.
 */
char	   *bb_catch_error(void (*body) (void *arg), void *arg, bool emit_report);

/* The same, handing back the whole error (SQLSTATE and all, palloc'd in the caller's context; the
 * caller frees it with FreeErrorData) for callers that decide by the error's code; NULL: no error. */
ErrorData  *bb_catch_error_data(void (*body) (void *arg), void *arg, bool emit_report);

/* ---- one bad row never costs its neighbours (row_isolation.c) ---- */

/* Inserts rows [off, off + len) of the caller's batch; may raise an ERROR. */
typedef void (*BbRowsInsertFn) (void *arg, int off, int len);
/* Row index could not be stored: its SQLSTATE (5 characters) and PostgreSQL's message. */
typedef void (*BbRowRejectedFn) (void *arg, int index, const char *sqlstate, const char *message);

/*
 * Inside a transaction: inserts rows [0, n) through insert(), each attempt in a subtransaction. When
 * an attempt raises an error that belongs to the data (SQLSTATE classes 09, 22, 23, 42, 54, P0) it is
 * rolled back and the range is bisected, so every storable row is stored and each row that is not is
 * passed to rejected(). Any other error (cancel, shutdown, resources) is raised again. Returns the
 * number of rejected rows. insert() may be called several times for the same rows, so it must be
 * idempotent per attempt (its effects are rolled back when it fails).
 */
int			bb_insert_isolating(int n, BbRowsInsertFn insert, BbRowRejectedFn rejected, void *arg);

/* ---- background worker entries (worker_setup.c) ---- */
struct BackgroundWorker;

/*
 * Fills *worker for a bigbrotr process: shared memory and a database connection, started after
 * recovery, entry point function_name of this library, the given type and name, restart_time
 * (seconds or BGW_NEVER_RESTART), and notifications to the registering process when dynamic.
 */
void		bb_worker_fill(struct BackgroundWorker *worker, const char *function_name, const char *type,
						   const char *name, int restart_time);

/*
 * Connects the worker to bigbrotr.database and refuses a database whose encoding is not UTF8: the
 * error (with a hint) is logged and the process exits with code 0, which the postmaster does not
 * restart (the launcher is static: it stays down until the server restarts), so a wrong database
 * costs one error per worker, not a restart storm.
 */
void		bb_worker_connect(void);

/* ---- the service registry (services/registry.c) ---- */
typedef enum ServiceLifecycle
{
	SERVICE_ONE_SHOT,
	SERVICE_CONTINUOUS
} ServiceLifecycle;

typedef struct ServiceDefinition
{
	const char *name;
	const char *description;
	ServiceLifecycle lifecycle;
	/* Defines bigbrotr.<name>.* GUCs; called from _PG_init. May be NULL. */
	void		(*define_gucs) (void);
	/* Runs one cycle outside any transaction; errors are caught, logged and counted by the runtime. */
	void		(*run_cycle) (ServiceCycle *cycle);
	/* Seconds between cycles (a GUC variable) for continuous services; NULL for one-shot ones. */
	int		   *interval_seconds;
	/* Shared memory of the service's own (requested and attached from _PG_init's hooks); may be NULL. */
	void		(*shmem_request) (void);
	void		(*shmem_startup) (void);
} ServiceDefinition;

extern const ServiceDefinition bigbrotr_services_registry[];
extern const int bigbrotr_services_count;

const ServiceDefinition *service_lookup(const char *name);
char	   *service_known_names(void);

/* ---- transactions and SPI (spi_util.c) ---- */

/* Starts a transaction with a snapshot and an SPI connection; the caller's memory context is kept. */
void		bb_tx_begin(void);
/* Commits it and returns to the memory context that was current at bb_tx_begin. */
void		bb_tx_commit(void);

/*
 * Prepares sql once per process (the plan is kept in *cache) and executes it with the parameters.
 * Returns SPI_processed. nulls follows SPI conventions (' ' not null, 'n' null) and may be NULL.
 */
uint64		bb_spi_run(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes,
					   Datum *values, const char *nulls, bool read_only);

/* First column of the first row of the last SPI result as int64 (0 when NULL or no row). */
int64		bb_spi_int64_result(void);

/* Whether the extension's schema is installed in the connected database (inside a transaction). */
bool		bb_extension_installed(void);

/* Seconds since the Unix epoch. */
int64		bb_unix_now(void);

/* ---- entry points of the background workers ---- */
PGDLLEXPORT void bigbrotr_service_main(Datum main_arg);

#endif							/* BIGBROTR_H */
