/*
 * api_request.c: the request transaction every database-reading api request runs in, so that no
 * handler can write, see more than the bigbrotr_api role may, or run longer than
 * bigbrotr.api_statement_timeout, and so that any ERROR a handler raises becomes an HTTP status
 * while the worker goes on serving.
 *
 * - READ ONLY: XactReadOnly is set right after the transaction starts (what SET TRANSACTION READ
 *   ONLY does; going read-only is allowed at any point).
 * - The role: SetUserIdAndSecContext with bigbrotr_api's oid and SECURITY_LOCAL_USERID_CHANGE (no
 *   SET ROLE inside); restored before commit, and by the abort itself on an error.
 * - The timeout: a background worker never arms statement_timeout (only the client protocol loop
 *   does), so enable_timeout_after(STATEMENT_TIMEOUT) here; its handler sends SIGINT, which a
 *   worker with a database connection handles like a backend (StatementCancelHandler), and the
 *   next interrupt check raises 57014. The timeout being inactive afterwards (it fired) tells it
 *   apart from a cancel of the stop (SIGTERM), which answers 503 and ends the worker.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timeout.h"

#include "services/api/api_server.h"

#define API_ROLE "bigbrotr_api"

typedef struct GuardedRun
{
	void		(*body) (void *arg);
	void	   *arg;
} GuardedRun;

static bool
is_bad_value(int sqlerrcode)
{
	/* Class 22 (data exception: a bad number, date, encoding) and a value of the wrong type. */
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_DATATYPE_MISMATCH ||
		sqlerrcode == ERRCODE_CANNOT_COERCE ||
		sqlerrcode == ERRCODE_INDETERMINATE_DATATYPE;
}

ApiRunResult
api_run_guarded(void (*body) (void *arg), void *arg, bool with_database, const char *what,
				char **message)
{
	MemoryContext caller = CurrentMemoryContext;
	volatile bool timeout_armed = false;
	volatile ApiRunResult result = API_RUN_OK;
	Oid			saved_user;
	int			saved_sec;

	*message = NULL;
	PG_TRY();
	{
		if (with_database)
		{
			Oid			role;

			bb_tx_begin();
			XactReadOnly = true;
			role = get_role_oid(API_ROLE, true);
			if (!OidIsValid(role))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("role \"%s\" does not exist: the api needs extension bigbrotr 0.4.0 "
								"(ALTER EXTENSION bigbrotr UPDATE)", API_ROLE)));
			GetUserIdAndSecContext(&saved_user, &saved_sec);
			SetUserIdAndSecContext(role, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
			enable_timeout_after(STATEMENT_TIMEOUT, api_statement_timeout);
			timeout_armed = true;
			body(arg);
			disable_timeout(STATEMENT_TIMEOUT, false);
			timeout_armed = false;
			SetUserIdAndSecContext(saved_user, saved_sec);
			bb_tx_commit();
		}
		else
			body(arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		fired = timeout_armed && !get_timeout_active(STATEMENT_TIMEOUT);

		if (timeout_armed)
			disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(caller);
		*message = pstrdup(edata->message);
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && fired)
			result = API_RUN_TIMEOUT;
		else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			result = API_RUN_STOPPING;
		else if (is_bad_value(edata->sqlerrcode))
			result = API_RUN_BAD_VALUE;
		else
		{
			result = API_RUN_FAILED;
			if (edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION ||
				edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
				bb_log(BB_WARNING, "%s tried to write or read beyond role %s: %s (SQLSTATE %s)",
					   what, API_ROLE, edata->message, unpack_sql_state(edata->sqlerrcode));
			else
				bb_log(BB_WARNING, "%s failed: %s (SQLSTATE %s)", what, edata->message,
					   unpack_sql_state(edata->sqlerrcode));
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	return result;
}

typedef struct RouteRun
{
	const ApiRoute *route;
	const ApiRequest *req;
	ApiResponse *res;
} RouteRun;

static void
route_body(void *arg)
{
	RouteRun   *run = arg;

	run->route->handler(run->req, run->res);
}

void
api_run_route(const ApiRoute *route, const ApiRequest *req, ApiResponse *res)
{
	RouteRun	run = {route, req, res};
	char	   *what = psprintf("%s %s", req->method == API_POST ? "POST" : "GET", req->path);
	char	   *message;
	ApiRunResult r = api_run_guarded(route_body, &run, route->needs_database, what, &message);

	if (r == API_RUN_OK)
		return;
	resetStringInfo(&res->headers);
	switch (r)
	{
		case API_RUN_TIMEOUT:
			api_error(res, 504, "timeout", "the query ran longer than bigbrotr.api_statement_timeout (%d ms)",
					  api_statement_timeout);
			break;
		case API_RUN_BAD_VALUE:
			api_error(res, 400, "bad_parameter", "%s", message);
			break;
		case API_RUN_STOPPING:
			api_error(res, 503, "busy", "the api worker is stopping");
			api_add_header(res, "Retry-After", "1");
			break;
		default:
			api_error(res, 500, "internal", "%s", message);
			break;
	}
}
