/*
 * api_metrics.c: the api's request metrics, kept in shared memory so every api worker counts into
 * the same numbers (one scrape of any worker sees them all), and GET /metrics, which prints them in
 * the Prometheus text exposition format 0.0.4 beside the archive and service gauges read from
 * bigbrotr.api_gauges().
 *
 * Per endpoint slot (each route of api_routes, then "websocket", then "unmatched"): a counter per
 * status of a fixed list (others count as "other") and a latency histogram (non-cumulative bucket
 * counters; the exposition accumulates them). Every counter is a pg_atomic_uint64: the request path
 * takes no lock. A histogram's _count is the sum of its buckets as read, so _count always equals the
 * +Inf bucket even while other workers count.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

#include "core/bigbrotr.h"
#include "services/api/api.h"
#include "services/api/api_metrics.h"

/* Statuses with their own counter; any other status is counted as "other" (the last slot). */
static const int metric_statuses[] = {101, 200, 204, 400, 404, 405, 413, 429, 500, 501, 503, 504};

#define N_STATUSES (lengthof(metric_statuses) + 1)

/* Upper bounds of the finite latency buckets (docs/api.md), in microseconds and as printed. */
static const int64 bucket_bounds_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};
static const char *const bucket_labels[] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};

#define N_BUCKETS (lengthof(bucket_bounds_us) + 1)	/* the last one: above 10 s */

StaticAssertDecl(lengthof(bucket_bounds_us) == lengthof(bucket_labels), "one label per bucket");

typedef struct MetricsSlot
{
	pg_atomic_uint64 requests[N_STATUSES];
	pg_atomic_uint64 buckets[N_BUCKETS];
	pg_atomic_uint64 sum_us;
} MetricsSlot;

typedef struct MetricsShared
{
	pg_atomic_uint64 requests_total;
	pg_atomic_uint64 errors_total;
	pg_atomic_uint64 websocket_open;	/* signed, kept as two's complement */
	pg_atomic_uint64 websocket_dropped;
	MetricsSlot slots[FLEXIBLE_ARRAY_MEMBER];
} MetricsShared;

static MetricsShared *metrics = NULL;

/* Slots: every route, then the WebSocket one, then the one for paths no route matched. */
static int
slot_count(void)
{
	return api_routes_count + 2;
}

static const char *
slot_label(int slot)
{
	if (slot < api_routes_count)
		return api_routes[slot].pattern;
	return slot == api_routes_count ? "websocket" : "unmatched";
}

static Size
metrics_size(void)
{
	return add_size(offsetof(MetricsShared, slots), mul_size(sizeof(MetricsSlot), slot_count()));
}

void
api_metrics_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(metrics_size()));
}

void
api_metrics_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	metrics = ShmemInitStruct("bigbrotr api metrics", metrics_size(), &found);
	if (!found)
	{
		pg_atomic_init_u64(&metrics->requests_total, 0);
		pg_atomic_init_u64(&metrics->errors_total, 0);
		pg_atomic_init_u64(&metrics->websocket_open, 0);
		pg_atomic_init_u64(&metrics->websocket_dropped, 0);
		for (int s = 0; s < slot_count(); s++)
		{
			MetricsSlot *slot = &metrics->slots[s];

			for (int i = 0; i < N_STATUSES; i++)
				pg_atomic_init_u64(&slot->requests[i], 0);
			for (int i = 0; i < N_BUCKETS; i++)
				pg_atomic_init_u64(&slot->buckets[i], 0);
			pg_atomic_init_u64(&slot->sum_us, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

static int
status_index(int status)
{
	for (int i = 0; i < lengthof(metric_statuses); i++)
		if (metric_statuses[i] == status)
			return i;
	return N_STATUSES - 1;
}

void
api_metrics_record(int route, int status, int64 elapsed_us)
{
	MetricsSlot *slot;
	int			b = 0;

	if (metrics == NULL)
		return;
	/* api_routes_count is the WebSocket slot; anything else out of range (-1, -2) is unmatched. */
	if (route < 0 || route > api_routes_count)
		route = api_routes_count + 1;
	if (elapsed_us < 0)
		elapsed_us = 0;
	slot = &metrics->slots[route];
	pg_atomic_fetch_add_u64(&slot->requests[status_index(status)], 1);
	while (b < lengthof(bucket_bounds_us) && elapsed_us > bucket_bounds_us[b])
		b++;
	pg_atomic_fetch_add_u64(&slot->buckets[b], 1);
	pg_atomic_fetch_add_u64(&slot->sum_us, (int64) elapsed_us);
	pg_atomic_fetch_add_u64(&metrics->requests_total, 1);
	if (status >= 500)
		pg_atomic_fetch_add_u64(&metrics->errors_total, 1);
}

void
api_metrics_totals(int64 *requests, int64 *errors)
{
	*requests = metrics ? (int64) pg_atomic_read_u64(&metrics->requests_total) : 0;
	*errors = metrics ? (int64) pg_atomic_read_u64(&metrics->errors_total) : 0;
}

void
api_metrics_websocket(int open_delta, int dropped_delta)
{
	if (metrics == NULL)
		return;
	if (open_delta)
		pg_atomic_fetch_add_u64(&metrics->websocket_open, open_delta);
	if (dropped_delta > 0)
		pg_atomic_fetch_add_u64(&metrics->websocket_dropped, dropped_delta);
}

/* ---- the exposition ---- */

/* One row of bigbrotr.api_gauges(), checked. */
typedef struct GaugeRow
{
	char	   *name;
	char	   *labels;			/* 'k="v",...' as the exposition writes it, or "" */
	double		value;
	bool		printed;
} GaugeRow;

/* HELP and TYPE of the gauges api_gauges() returns (docs/api.md); others are printed untyped. */
static const struct
{
	const char *name;
	const char *type;
	const char *help;
}			known_gauges[] = {
	{"bigbrotr_archive_events", "gauge", "Events in the archive (from bigbrotr.event_stats)."},
	{"bigbrotr_archive_relays", "gauge", "Relays known to the archive (exact)."},
	{"bigbrotr_archive_sightings", "gauge", "Event sightings (events_relays rows), the planner's estimate."},
	{"bigbrotr_service_cycles_total", "counter", "Cycles a service has run."},
	{"bigbrotr_service_cycles_failed_total", "counter", "Cycles of a service that failed."},
	{"bigbrotr_service_last_cycle_duration_seconds", "gauge", "Duration of a service's last cycle."},
	{"bigbrotr_service_running", "gauge", "1 when the service's worker runs, 0 otherwise."},
};

/* A metric name: [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool
valid_metric_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			  *s == '_' || *s == ':'))
			return false;
	return true;
}

/*
 * A label set as api_gauges() gives it ('service="monitor"', pairs joined by commas, or ''): names
 * [a-zA-Z_][a-zA-Z0-9_]*, values with only the exposition's escapes (\\, \", \n) and no raw line
 * break. A row whose labels do not pass is left out, so the exposition stays parseable.
 */
static bool
valid_labels(const char *s)
{
	if (*s == '\0')
		return true;
	for (;;)
	{
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
			return false;
		while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			   *s == '_')
			s++;
		if (*s++ != '=' || *s++ != '"')
			return false;
		while (*s != '"')
		{
			if (*s == '\0' || *s == '\n')
				return false;
			if (*s == '\\')
			{
				s++;
				if (*s != '\\' && *s != '"' && *s != 'n')
					return false;
			}
			s++;
		}
		s++;
		if (*s == '\0')
			return true;
		if (*s++ != ',')
			return false;
	}
}

/* A label value with the exposition's escapes: backslash, double quote, line feed. */
static void
append_label_value(StringInfo out, const char *v)
{
	for (; *v; v++)
	{
		if (*v == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*v == '"')
			appendStringInfoString(out, "\\\"");
		else if (*v == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *v);
	}
}

/* A sample value: integers exactly, others with round-trip precision, and the special values. */
static void
append_value(StringInfo out, double v)
{
	if (isnan(v))
		appendStringInfoString(out, "NaN");
	else if (isinf(v))
		appendStringInfoString(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		appendStringInfo(out, "%.0f", v);
	else
		appendStringInfo(out, "%.17g", v);
}

static void
append_family(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A read of the shared counters (one consistent-enough look; each counter read once). */
typedef struct MetricsSnapshot
{
	uint64		requests[N_STATUSES];
	uint64		buckets[N_BUCKETS];
	uint64		sum_us;
} MetricsSnapshot;

/*
 * Reads slot s into *snap, adding to what is there (two routes with one pattern, which the table
 * does not have today, would print as one endpoint).
 */
static void
snapshot_add(MetricsSnapshot *snap, int s)
{
	MetricsSlot *slot = &metrics->slots[s];

	for (int i = 0; i < N_STATUSES; i++)
		snap->requests[i] += pg_atomic_read_u64(&slot->requests[i]);
	for (int i = 0; i < N_BUCKETS; i++)
		snap->buckets[i] += pg_atomic_read_u64(&slot->buckets[i]);
	snap->sum_us += pg_atomic_read_u64(&slot->sum_us);
}

/* The first slot with the label of slot s (s itself unless an earlier one shares its label). */
static int
first_with_label(int s)
{
	for (int k = 0; k < s; k++)
		if (strcmp(slot_label(k), slot_label(s)) == 0)
			return k;
	return s;
}

#define label_seen_before(s) (first_with_label(s) != (s))

/* The request counters and histograms of every endpoint slot. */
static void
format_request_metrics(StringInfo out)
{
	int			n = slot_count();
	MetricsSnapshot *snaps = palloc0(sizeof(MetricsSnapshot) * n);

	for (int s = 0; s < n; s++)
		snapshot_add(&snaps[first_with_label(s)], s);

	append_family(out, "bigbrotr_api_requests_total", "counter",
				  "Requests answered by the api workers, by endpoint (route pattern) and status.");
	for (int s = 0; s < n; s++)
	{
		if (label_seen_before(s))
			continue;
		for (int i = 0; i < N_STATUSES; i++)
		{
			if (snaps[s].requests[i] == 0)
				continue;
			appendStringInfoString(out, "bigbrotr_api_requests_total{endpoint=\"");
			append_label_value(out, slot_label(s));
			if (i < lengthof(metric_statuses))
				appendStringInfo(out, "\",status=\"%d\"} " UINT64_FORMAT "\n",
								 metric_statuses[i], snaps[s].requests[i]);
			else
				appendStringInfo(out, "\",status=\"other\"} " UINT64_FORMAT "\n", snaps[s].requests[i]);
		}
	}

	append_family(out, "bigbrotr_api_request_duration_seconds", "histogram",
				  "Time from a request's arrival to its answer, by endpoint.");
	for (int s = 0; s < n; s++)
	{
		uint64		cumulative = 0;

		if (label_seen_before(s))
			continue;
		for (int b = 0; b < N_BUCKETS; b++)
		{
			cumulative += snaps[s].buckets[b];
			appendStringInfoString(out, "bigbrotr_api_request_duration_seconds_bucket{endpoint=\"");
			append_label_value(out, slot_label(s));
			appendStringInfo(out, "\",le=\"%s\"} " UINT64_FORMAT "\n",
							 b < lengthof(bucket_labels) ? bucket_labels[b] : "+Inf", cumulative);
		}
		appendStringInfoString(out, "bigbrotr_api_request_duration_seconds_sum{endpoint=\"");
		append_label_value(out, slot_label(s));
		appendStringInfo(out, "\"} %.6f\n", (double) snaps[s].sum_us / 1000000.0);
		appendStringInfoString(out, "bigbrotr_api_request_duration_seconds_count{endpoint=\"");
		append_label_value(out, slot_label(s));
		appendStringInfo(out, "\"} " UINT64_FORMAT "\n", cumulative);
	}

	append_family(out, "bigbrotr_api_websocket_connections", "gauge",
				  "WebSocket connections open now, over all api workers.");
	appendStringInfo(out, "bigbrotr_api_websocket_connections " INT64_FORMAT "\n",
					 Max((int64) pg_atomic_read_u64(&metrics->websocket_open), 0));
	append_family(out, "bigbrotr_api_websocket_dropped_total", "counter",
				  "WebSocket clients dropped because their unsent output passed api_max_pending_bytes.");
	appendStringInfo(out, "bigbrotr_api_websocket_dropped_total " UINT64_FORMAT "\n",
					 pg_atomic_read_u64(&metrics->websocket_dropped));
	pfree(snaps);
}

/* Prints the gauge rows grouped by name (the format wants a family's samples together). */
static void
format_gauges(StringInfo out, GaugeRow *rows, int nrows)
{
	for (int i = 0; i < nrows; i++)
	{
		const char *type = "untyped";
		const char *help = "A gauge of bigbrotr.api_gauges().";

		if (rows[i].printed)
			continue;
		for (int k = 0; k < lengthof(known_gauges); k++)
			if (strcmp(known_gauges[k].name, rows[i].name) == 0)
			{
				type = known_gauges[k].type;
				help = known_gauges[k].help;
			}
		append_family(out, rows[i].name, type, help);
		for (int j = i; j < nrows; j++)
		{
			if (rows[j].printed || strcmp(rows[j].name, rows[i].name) != 0)
				continue;
			rows[j].printed = true;
			appendStringInfoString(out, rows[j].name);
			if (rows[j].labels[0])
				appendStringInfo(out, "{%s}", rows[j].labels);
			appendStringInfoChar(out, ' ');
			append_value(out, rows[j].value);
			appendStringInfoChar(out, '\n');
		}
	}
}

typedef struct GaugeQuery
{
	GaugeRow   *rows;
	int			nrows;
} GaugeQuery;

static SPIPlanPtr gauges_plan = NULL;

static void
read_gauges(void *arg)
{
	GaugeQuery *q = arg;
	uint64		n;

	n = bb_spi_run(&gauges_plan, "SELECT name, labels, value FROM " BIGBROTR_SCHEMA ".api_gauges()",
				   0, NULL, NULL, NULL, true);
	q->rows = palloc0(sizeof(GaugeRow) * Max(n, 1));
	q->nrows = 0;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		value;
		char	   *name = SPI_getvalue(tup, desc, 1);
		char	   *labels = SPI_getvalue(tup, desc, 2);

		value = SPI_getbinval(tup, desc, 3, &isnull);
		if (name == NULL || isnull)
			continue;
		if (labels == NULL)
			labels = pstrdup("");
		if (!valid_metric_name(name) || !valid_labels(labels))
		{
			bb_log(BB_WARNING, "metrics: api_gauges() row \"%s\" {%s} has an invalid name or labels; left out",
				   name, labels);
			continue;
		}
		q->rows[q->nrows].name = name;
		q->rows[q->nrows].labels = labels;
		q->rows[q->nrows].value = DatumGetFloat8(value);
		q->nrows++;
	}
}

void
api_handle_metrics(const ApiRequest *req, ApiResponse *res)
{
	GaugeQuery	q = {NULL, 0};
	ErrorData  *failure;

	if (metrics == NULL)
	{
		api_error(res, 500, "internal", "the api metrics are not in shared memory");
		return;
	}
	res->content_type = "text/plain; version=0.0.4";
	resetStringInfo(&res->body);
	format_request_metrics(&res->body);

	/* Without the database the request metrics are still worth a scrape: the gauges say it. */
	failure = api_try_in_subtransaction(read_gauges, &q);
	append_family(&res->body, "bigbrotr_api_database_up", "gauge",
				  "1 when this scrape read the archive and service gauges, 0 when their query failed.");
	appendStringInfo(&res->body, "bigbrotr_api_database_up %d\n", failure ? 0 : 1);
	if (failure)
	{
		bb_log(BB_WARNING, "metrics: bigbrotr.api_gauges() failed: %s", failure->message);
		FreeErrorData(failure);
	}
	else
		format_gauges(&res->body, q.rows, q.nrows);
}

/* ---- a query whose error is an answer ---- */

ErrorData *
api_try_in_subtransaction(void (*body) (void *arg), void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile failure = NULL;

	if (!IsTransactionState())
		elog(ERROR, "api_try_in_subtransaction called outside a transaction");
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		body(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		failure = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return failure;
}
