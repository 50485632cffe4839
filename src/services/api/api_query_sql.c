/*
 * api_query_sql.c: a filter (or the union of several) as ONE parameterised SQL statement, run
 * read-only through SPI; no value is ever written into the SQL text, only $n. Each shape is written
 * for the index that serves it (sql/install/20_indexes.sql):
 *   ids            e.id = ANY($)                            events_pkey
 *   authors(+kinds) e.pubkey = ANY($) [AND e.kind = ANY($)]  (pubkey[, kind], created_at)
 *   kinds          e.kind = ANY($)                          (kind, created_at)
 *   #x             e.tagvalues && $entries                  the GIN index on tagvalues, plus an exact
 *                  recheck of the tag's letter and first value (tagvalues does not keep the letter:
 *                  #e=X must not match a p tag with value X)
 *   relay          events_relays r JOIN events e ON id, ordered and ranged on r.event_created_at and
 *                  r.event_id (the same values as e.created_at and e.id), so the planner may walk
 *                  (relay_url, event_created_at, event_id) backwards, already in the answer's order,
 *                  or start from an events index and probe events_relays_pkey
 *   one value      written "x = $n" (not "= ANY"): only then can (x, created_at) be walked backwards
 *   since/until    created_at ranges of the same indexes; the keyset cursor
 *                  (created_at, id) < ($c, $i) plus created_at <= $c, which an index can use.
 * Order: created_at DESC, id DESC. Several filters: each keeps its own LIMIT inside the UNION of
 * their (id, created_at), then the events are read once by id. Plans: each statement is planned
 * for its values (SPI_execute_with_args: a custom plan); README's api section gives the measure.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "services/api/api_query.h"

typedef struct SqlArgs
{
	StringInfoData sql;
	Oid		   *types;
	Datum	   *values;
	int			n;
	int			cap;
} SqlArgs;

/* Adds a parameter; returns its number ($n). */
static int
arg(SqlArgs *a, Oid type, Datum value)
{
	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 16;
		a->types = a->types ? repalloc(a->types, sizeof(Oid) * a->cap) : palloc(sizeof(Oid) * a->cap);
		a->values = a->values ? repalloc(a->values, sizeof(Datum) * a->cap) : palloc(sizeof(Datum) * a->cap);
	}
	a->types[a->n] = type;
	a->values[a->n] = value;
	return ++a->n;
}

typedef enum SelectWhat
{
	SELECT_EVENTS,				/* the event's columns (API_QUERY_EVENT_COLUMNS) */
	SELECT_KEYS,				/* id, created_at (a member of a union) */
	SELECT_IDS,					/* id (counting a union) */
	SELECT_ONE					/* 1 (counting one filter: lets an index-only scan serve it) */
} SelectWhat;

#define EVENT_COLUMNS "e.id, e.pubkey, e.created_at, e.kind, e.tags::text, e.content, e.sig"

/* "col = $n" for one value, "col = ANY($n)" for several. */
static void
append_in(SqlArgs *a, const char *col, int n, Oid type, Datum one, Oid array_type, Datum array)
{
	if (n == 1)
		appendStringInfo(&a->sql, "%s = $%d", col, arg(a, type, one));
	else
		appendStringInfo(&a->sql, "%s = ANY($%d)", col, arg(a, array_type, array));
}

/*
 * Appends the SELECT of one filter; ordered: ORDER BY newest first; limit >= 0: LIMIT. With a relay
 * the order and the time conditions are on the sighting's copies (r.event_created_at, r.event_id),
 * which the index (relay_url, event_created_at, event_id) holds in that order; the join is by id
 * alone (a second join clause on created_at would make the planner expect ~1 row and skip the
 * LIMIT-aware walk of that index).
 */
static void
append_filter(SqlArgs *a, const ApiFilter *f, const char *cols, bool ordered, int64 limit)
{
	StringInfo	s = &a->sql;
	const char *and = " WHERE ";
	const char *at = f->relay ? "r.event_created_at" : "e.created_at";
	const char *id = f->relay ? "r.event_id" : "e.id";

#define COND() (appendStringInfoString(s, and), and = " AND ")

	appendStringInfo(s, "SELECT %s FROM ", cols);
	if (f->relay)
	{
		appendStringInfoString(s, "bigbrotr.events_relays r JOIN bigbrotr.events e ON e.id = r.event_id");
		COND();
		appendStringInfo(s, "r.relay_url = $%d", arg(a, TEXTOID, CStringGetTextDatum(f->relay)));
	}
	else
		appendStringInfoString(s, "bigbrotr.events e");
	if (f->ids)
	{
		COND();
		append_in(a, "e.id", f->nids, BYTEAOID, f->id1, BYTEAARRAYOID, f->ids);
	}
	if (f->authors)
	{
		COND();
		append_in(a, "e.pubkey", f->nauthors, BYTEAOID, f->author1, BYTEAARRAYOID, f->authors);
	}
	if (f->kinds)
	{
		COND();
		append_in(a, "e.kind", f->nkinds, INT4OID, f->kind1, INT4ARRAYOID, f->kinds);
	}
	for (int t = 0; t < f->ntags; t++)
	{
		int			entries = arg(a, TEXTARRAYOID, f->tag_entries[t]);
		int			letter = arg(a, TEXTOID, CStringGetTextDatum(f->tag_letter[t]));
		int			values = arg(a, TEXTARRAYOID, f->tag_values[t]);

		COND();
		appendStringInfo(s, "e.tagvalues && $%d AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.tags) t"
						 " WHERE t->>0 = $%d AND t->>1 = ANY($%d))", entries, letter, values);
	}
	if (f->has_since)
	{
		COND();
		appendStringInfo(s, "%s >= $%d", at, arg(a, INT8OID, Int64GetDatum(f->since)));
	}
	if (f->has_until)
	{
		COND();
		appendStringInfo(s, "%s <= $%d", at, arg(a, INT8OID, Int64GetDatum(f->until)));
	}
	if (f->has_cursor)
	{
		int			c = arg(a, INT8OID, Int64GetDatum(f->cursor_at));
		int			i = arg(a, BYTEAOID, PointerGetDatum(f->cursor_id));

		COND();
		appendStringInfo(s, "%s <= $%d AND (%s, %s) < ($%d, $%d)", at, c, at, id, c, i);
	}
	if (ordered)
		appendStringInfo(s, " ORDER BY %s DESC, %s DESC", at, id);
	if (limit >= 0)
		appendStringInfo(s, " LIMIT $%d", arg(a, INT8OID, Int64GetDatum(limit)));
#undef COND
}

static const char *
columns(SelectWhat what)
{
	return what == SELECT_EVENTS ? EVENT_COLUMNS : what == SELECT_KEYS ? "e.id, e.created_at" :
		what == SELECT_IDS ? "e.id" : "1";
}

static Datum *
elements(Datum array, Oid type, int16 len, bool byval, int *n)
{
	Datum	   *items;
	bool	   *nulls;

	deconstruct_array(DatumGetArrayTypeP(array), type, len, byval, TYPALIGN_INT, &items, &nulls, n);
	return items;
}

/*
 * One filter newest first with its LIMIT. Several authors and/or kinds (at most
 * API_QUERY_SPLIT_MAX combinations, no ids, no relay) are split into one branch per (author, kind),
 * each "x = $n" walking its (pubkey[, kind], created_at) or (kind, created_at) index backwards with
 * its own LIMIT, merged by a Merge Append: "kind = ANY" cannot walk an index in created_at order, so
 * the planner would either walk events_created_at_idx filtering (slow for rare values: 476 ms for
 * kinds [30023, 3] on 500k events) or read every match and sort; split: 6 ms. The branches are
 * disjoint (an event has one author and one kind), so UNION ALL repeats nothing.
 */
static void
append_ordered(SqlArgs *a, const ApiFilter *f, SelectWhat what, int64 limit)
{
	int			na = f->authors ? f->nauthors : 1;
	int			nk = f->kinds ? f->nkinds : 1;
	Datum	   *authors = NULL;
	Datum	   *kinds = NULL;
	int			n;
	bool		first = true;

	if (limit < 0 || f->relay || f->ids || (na == 1 && nk == 1) || na * nk > API_QUERY_SPLIT_MAX)
	{
		append_filter(a, f, columns(what), true, limit);
		return;
	}
	if (na > 1)
		authors = elements(f->authors, BYTEAOID, -1, false, &n);
	if (nk > 1)
		kinds = elements(f->kinds, INT4OID, 4, true, &n);
	appendStringInfo(&a->sql, "SELECT %s FROM (", columns(what));
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nk; j++)
		{
			ApiFilter	b = *f;

			if (authors)
			{
				b.nauthors = 1;
				b.author1 = authors[i];
			}
			if (kinds)
			{
				b.nkinds = 1;
				b.kind1 = kinds[j];
			}
			appendStringInfoString(&a->sql, first ? "(" : " UNION ALL (");
			first = false;
			append_filter(a, &b, what == SELECT_EVENTS ?
						  "e.id, e.pubkey, e.created_at, e.kind, e.tags, e.content, e.sig" :
						  "e.id, e.created_at", true, limit);
			appendStringInfoChar(&a->sql, ')');
		}
	appendStringInfo(&a->sql, ") e ORDER BY e.created_at DESC, e.id DESC LIMIT $%d",
					 arg(a, INT8OID, Int64GetDatum(limit)));
}

/* The filters that can match something (and, for events, have a limit above 0). */
static int
live_filters(ApiFilter *filters, int n, bool need_limit, ApiFilter **live)
{
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (!filters[i].matches_nothing && (!need_limit || !filters[i].has_limit || filters[i].limit > 0))
			live[k++] = &filters[i];
	return k;
}

uint64
api_query_events(ApiFilter *filters, int n, ApiEventSink sink, void *ctx)
{
	SqlArgs		a = {0};
	ApiFilter **live = palloc(sizeof(ApiFilter *) * Max(n, 1));
	int			k = live_filters(filters, n, true, live);
	StringInfoData ev;
	uint64		given = 0;
	int			rc;

	if (k == 0)
		return 0;
	initStringInfo(&a.sql);
	if (k == 1)
		append_ordered(&a, live[0], SELECT_EVENTS, live[0]->has_limit ? live[0]->limit : -1);
	else
	{
		appendStringInfoString(&a.sql, "SELECT " EVENT_COLUMNS " FROM (");
		for (int i = 0; i < k; i++)
		{
			appendStringInfoString(&a.sql, i ? " UNION (" : "(");
			append_ordered(&a, live[i], SELECT_KEYS, live[i]->has_limit ? live[i]->limit : -1);
			appendStringInfoChar(&a.sql, ')');
		}
		appendStringInfoString(&a.sql, ") k JOIN bigbrotr.events e ON e.id = k.id"
							   " ORDER BY e.created_at DESC, e.id DESC");
	}
	elog(DEBUG1, "api events query: %s", a.sql.data);
	rc = SPI_execute_with_args(a.sql.data, a.n, a.types, a.values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("api events query failed: %s", SPI_result_code_string(rc))));
	initStringInfo(&ev);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		int64		created_at;
		uint8		id[32];

		CHECK_FOR_INTERRUPTS();
		resetStringInfo(&ev);
		api_render_event(&ev, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &created_at, id);
		given++;
		if (!sink(ctx, ev.data, ev.len, created_at, id))
			break;
	}
	pfree(ev.data);
	SPI_freetuptable(SPI_tuptable);
	return given;
}

/* The top plan node's row estimate in EXPLAIN (FORMAT JSON) output. */
static double
plan_rows(const char *explain)
{
	const char *p = strstr(explain, "\"Plan Rows\":");

	return p ? strtod(p + strlen("\"Plan Rows\":"), NULL) : 0;
}

int64
api_query_count(ApiFilter *filters, int n, int64 exact_limit, bool *approximate)
{
	SqlArgs		a = {0};
	ApiFilter **live = palloc(sizeof(ApiFilter *) * Max(n, 1));
	int			k = live_filters(filters, n, false, live);
	int64		count;
	int			rc;
	bool		isnull;

	*approximate = false;
	if (k == 0)
		return 0;
	initStringInfo(&a.sql);
	appendStringInfoString(&a.sql, "SELECT count(*) FROM (");
	for (int i = 0; i < k; i++)
	{
		appendStringInfoString(&a.sql, i ? " UNION (" : "(");
		append_filter(&a, live[i], columns(k == 1 ? SELECT_ONE : SELECT_IDS), false, exact_limit + 1);
		appendStringInfoChar(&a.sql, ')');
	}
	appendStringInfoString(&a.sql, ") k");
	elog(DEBUG1, "api count query: %s", a.sql.data);
	rc = SPI_execute_with_args(a.sql.data, a.n, a.types, a.values, NULL, true, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("api count query failed: %s", SPI_result_code_string(rc))));
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (count <= exact_limit)
		return count;

	/* More than exact_limit: the planner's estimate of the whole union, never below what we saw. */
	*approximate = true;
	pfree(a.sql.data);
	a.n = 0;
	initStringInfo(&a.sql);
	appendStringInfoString(&a.sql, "EXPLAIN (FORMAT JSON) ");
	for (int i = 0; i < k; i++)
	{
		if (i)
			appendStringInfoString(&a.sql, " UNION ");
		append_filter(&a, live[i], columns(SELECT_IDS), false, -1);
	}
	/* read_only = false: SPI refuses any utility statement as read-only; the transaction is READ ONLY */
	rc = SPI_execute_with_args(a.sql.data, a.n, a.types, a.values, NULL, false, 0);
	if (rc < 0 || SPI_processed < 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("api count estimate failed: %s", SPI_result_code_string(rc))));
	{
		char	   *plan = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		double		est = plan ? plan_rows(plan) : 0;

		SPI_freetuptable(SPI_tuptable);
		return est > (double) count ? (int64) est : count;
	}
}
