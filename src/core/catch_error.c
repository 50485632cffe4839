/*
 * catch_error.c: the one way a bigbrotr process survives an ERROR it can recover from (a failed
 * cycle, a failed status write, a failed batch): run the work, and if it raises, abort the
 * transaction, flush the error state, return to the caller's memory context and hand back the
 * message, so the caller logs and counts it with its own context (service, relay URL) and goes on.
 */
#include "postgres.h"

#include "access/xact.h"

#include "core/bigbrotr.h"

ErrorData *
bb_catch_error_data(void (*body) (void *arg), void *arg, bool emit_report)
{
	MemoryContext caller = CurrentMemoryContext;
	ErrorData  *volatile caught = NULL;

	PG_TRY();
	{
		body(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		if (emit_report)
			EmitErrorReport();
		caught = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	return caught;
}

char *
bb_catch_error(void (*body) (void *arg), void *arg, bool emit_report)
{
	ErrorData  *edata = bb_catch_error_data(body, arg, emit_report);
	char	   *message;

	if (edata == NULL)
		return NULL;
	message = pstrdup(edata->message);
	FreeErrorData(edata);
	return message;
}
