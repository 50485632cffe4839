/*
 * control.c: the SQL functions that drive the services: bigbrotr_start, bigbrotr_stop and
 * bigbrotr_services. Start/stop record the wish in bigbrotr.service_control; the launcher acts on it
 * when the caller's transaction commits (it is woken then), so a rolled-back start starts nothing.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "core/bigbrotr.h"
#include "core/launcher.h"

PG_FUNCTION_INFO_V1(bigbrotr_start);
PG_FUNCTION_INFO_V1(bigbrotr_stop);
PG_FUNCTION_INFO_V1(bigbrotr_services);

static bool wake_launcher_at_commit = false;
static bool xact_callback_registered = false;

static void
control_xact_callback(XactEvent event, void *arg)
{
	if (!wake_launcher_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT)
		launcher_wakeup();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_launcher_at_commit = false;
}

static const ServiceDefinition *
lookup_or_error(text *service)
{
	char	   *name = text_to_cstring(service);
	const ServiceDefinition *svc = service_lookup(name);

	if (svc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown bigbrotr service \"%s\"", name),
				 errdetail("Known services: %s.", service_known_names())));

	if (strcmp(get_database_name(MyDatabaseId), bigbrotr_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bigbrotr services run in database \"%s\", not in \"%s\"",
						bigbrotr_database, get_database_name(MyDatabaseId)),
				 errhint("Connect to \"%s\", or set bigbrotr.database and restart the server.",
						 bigbrotr_database)));
	return svc;
}

/* Sets the service's wish; returns whether it changed. */
static bool
set_wanted(const ServiceDefinition *svc, bool enabled)
{
	Oid			types[2] = {TEXTOID, BOOLOID};
	Datum		values[2] = {CStringGetTextDatum(svc->name), BoolGetDatum(enabled)};
	int			ret;
	bool		changed;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args(
								"INSERT INTO bigbrotr.service_control AS c (name, enabled) VALUES ($1, $2) "
								"ON CONFLICT (name) DO UPDATE SET enabled = EXCLUDED.enabled, requested_at = now(), "
								"  requested_by = session_user "
								"WHERE c.enabled IS DISTINCT FROM EXCLUDED.enabled",
								2, types, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not update bigbrotr.service_control: %s", SPI_result_code_string(ret));
	changed = SPI_processed > 0;
	SPI_finish();

	if (changed)
	{
		if (!xact_callback_registered)
		{
			RegisterXactCallback(control_xact_callback, NULL);
			xact_callback_registered = true;
		}
		wake_launcher_at_commit = true;
	}
	return changed;
}

Datum
bigbrotr_start(PG_FUNCTION_ARGS)
{
	const ServiceDefinition *svc = lookup_or_error(PG_GETARG_TEXT_PP(0));

	/* A never-stopped service reads as not wanted, so the row is created on first start. */
	if (!set_wanted(svc, true))
	{
		ereport(NOTICE,
				(errmsg("bigbrotr service \"%s\" is already started", svc->name)));
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

Datum
bigbrotr_stop(PG_FUNCTION_ARGS)
{
	const ServiceDefinition *svc = lookup_or_error(PG_GETARG_TEXT_PP(0));

	if (!set_wanted(svc, false))
	{
		ereport(NOTICE,
				(errmsg("bigbrotr service \"%s\" is not started", svc->name)));
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

Datum
bigbrotr_services(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < bigbrotr_services_count; i++)
	{
		const ServiceDefinition *svc = &bigbrotr_services_registry[i];
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(svc->name);
		values[1] = CStringGetTextDatum(svc->lifecycle == SERVICE_ONE_SHOT ? "one-shot" : "continuous");
		values[2] = CStringGetTextDatum(svc->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
