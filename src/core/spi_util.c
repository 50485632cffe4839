/*
 * spi_util.c: transactions and SPI for the background workers. Services do their network work
 * outside transactions and open a short one per batch of writes; plans are prepared once per process.
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "core/bigbrotr.h"

static MemoryContext caller_context = NULL;

void
bb_tx_begin(void)
{
	/* A stopping worker's statements get the stop's grace, no more; a dead postmaster none. */
	service_stop_checkpoint();
	caller_context = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	/* Let the caller allocate in its own context; SPI keeps its results in its own. */
	MemoryContextSwitchTo(caller_context);
}

void
bb_tx_commit(void)
{
	MemoryContext ctx = caller_context;

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* A stop that came during the commit cancels nothing outside SQL. */
	service_stop_checkpoint();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (ctx)
		MemoryContextSwitchTo(ctx);
	caller_context = NULL;
}

uint64
bb_spi_run(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes,
		   Datum *values, const char *nulls, bool read_only)
{
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed for: %s", sql);
		*cache = plan;
	}
	pgstat_report_activity(STATE_RUNNING, sql);
	ret = SPI_execute_plan(*cache, values, nulls, read_only, 0);

	/*
	 * SPI returns in its procedure context, which SPI_finish frees: without this, whatever the
	 * caller pallocs next (copies of result values) would vanish at commit.
	 */
	MemoryContextSwitchTo(caller);
	if (ret < 0)
		elog(ERROR, "SPI_execute_plan failed (%s) for: %s", SPI_result_code_string(ret), sql);
	return SPI_processed;
}

int64
bb_spi_int64_result(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed == 0 || SPI_tuptable == NULL)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, 1))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		default:
			elog(ERROR, "bb_spi_int64_result: unexpected result type %u",
				 SPI_gettypeid(SPI_tuptable->tupdesc, 1));
	}
	return 0;
}

bool
bb_extension_installed(void)
{
	return OidIsValid(get_namespace_oid(BIGBROTR_SCHEMA, true)) &&
		OidIsValid(get_relname_relid("service_status", get_namespace_oid(BIGBROTR_SCHEMA, true)));
}

int64
bb_unix_now(void)
{
	return (int64) time(NULL);
}
