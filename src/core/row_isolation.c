/*
 * row_isolation.c: the one way a batch writer keeps one bad row from costing its neighbours. The
 * batch is inserted in a subtransaction; when PostgreSQL raises an ERROR that belongs to the data
 * (index row size, encoding, constraint, bad value), the subtransaction is rolled back and the batch
 * is split in two halves, each retried the same way, until every row that can be stored is stored
 * and each row that cannot is handed back with its SQLSTATE and message. Errors that do not belong
 * to the rows (cancel, shutdown, out of memory, disk full, deadlock) are raised again unchanged.
 * A batch with k bad rows of n costs about 2k·log2(n) extra insert calls.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/resowner.h"

#include "core/bigbrotr.h"

/* True when the error is about the rows themselves, so splitting the batch can isolate it. */
static bool
error_belongs_to_rows(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:	/* 22: encoding, bad values, too long */
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:	/* 23: check, foreign key, not null */
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:	/* 54: index row size */
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: /* 42: e.g. a cast of a row's value */
		case ERRCODE_TRIGGERED_ACTION_EXCEPTION:	/* 09 */
		case ERRCODE_PLPGSQL_ERROR: /* P0 (the class of P0001 RAISE EXCEPTION): a procedure's own check */
			return true;
		default:
			return false;
	}
}

/*
 * Runs insert(arg, off, len) in a subtransaction. Returns NULL when it committed, or the error (in
 * the caller's memory context) when it raised one that belongs to the rows; rethrows any other.
 */
static ErrorData *
try_insert(BbRowsInsertFn insert, void *arg, int off, int len)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		insert(arg, off, len);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		if (!error_belongs_to_rows(edata->sqlerrcode))
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		failure = edata;
	}
	PG_END_TRY();
	return failure;
}

static int
insert_range(BbRowsInsertFn insert, BbRowRejectedFn rejected, void *arg, int off, int len)
{
	ErrorData  *failure;
	int			half;

	if (len <= 0)
		return 0;
	CHECK_FOR_INTERRUPTS();
	failure = try_insert(insert, arg, off, len);
	if (failure == NULL)
		return 0;
	if (len == 1)
	{
		rejected(arg, off, unpack_sql_state(failure->sqlerrcode), failure->message);
		FreeErrorData(failure);
		return 1;
	}
	FreeErrorData(failure);
	half = len / 2;
	return insert_range(insert, rejected, arg, off, half) +
		insert_range(insert, rejected, arg, off + half, len - half);
}

int
bb_insert_isolating(int n, BbRowsInsertFn insert, BbRowRejectedFn rejected, void *arg)
{
	Assert(IsTransactionState());
	return insert_range(insert, rejected, arg, 0, n);
}
