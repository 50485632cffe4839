/*
 * json_urls.c: semantic actions over pg_parse_json that collect top-level array strings or
 * top-level object keys, and reject any other top-level shape with a clear message.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "services/finder/json_urls.h"

typedef enum Want
{
	WANT_ARRAY,
	WANT_OBJECT
} Want;

typedef struct CollectState
{
	Want		want;
	int			depth;
	const char *top;			/* the top-level value's type, once seen */
	List	   *items;
	int			others;
} CollectState;

static void
note_top(CollectState *st, const char *type)
{
	if (st->depth == 0 && st->top == NULL)
		st->top = type;
}

static void
on_object_start(void *state)
{
	CollectState *st = state;

	note_top(st, "object");
	if (st->want == WANT_ARRAY && st->depth == 1)
		st->others++;
	st->depth++;
}

static void
on_array_start(void *state)
{
	CollectState *st = state;

	note_top(st, "array");
	if (st->want == WANT_ARRAY && st->depth == 1)
		st->others++;
	st->depth++;
}

static void
on_end(void *state)
{
	((CollectState *) state)->depth--;
}

static void
on_object_field_start(void *state, char *fname, bool isnull)
{
	CollectState *st = state;

	if (st->want == WANT_OBJECT && st->depth == 1 && st->top && strcmp(st->top, "object") == 0)
		st->items = lappend(st->items, pstrdup(fname));
}

static void
on_scalar(void *state, char *token, JsonTokenType tokentype)
{
	CollectState *st = state;

	if (st->depth == 0)
	{
		note_top(st, tokentype == JSON_TOKEN_STRING ? "string" :
				 tokentype == JSON_TOKEN_NUMBER ? "number" :
				 tokentype == JSON_TOKEN_NULL ? "null" : "boolean");
		return;
	}
	if (st->want == WANT_ARRAY && st->depth == 1 && strcmp(st->top, "array") == 0)
	{
		if (tokentype == JSON_TOKEN_STRING)
			st->items = lappend(st->items, pstrdup(token));
		else
			st->others++;
	}
}

static char *
collect(const char *json, size_t len, Want want, List **items, int *others)
{
	CollectState st;
	JsonSemAction sem;
	JsonLexContext *lex;
	JsonParseErrorType rc;
	const char *wanted = want == WANT_ARRAY ? "array" : "object";

	*items = NIL;
	if (others)
		*others = 0;
	if (len > (size_t) (MaxAllocSize - 1))
		return psprintf("JSON text of %zu bytes is too large", len);
	if (memchr(json, '\0', len) != NULL)
		return pstrdup("text contains a NUL byte");
	if (!pg_verify_mbstr(PG_UTF8, json, (int) len, true))
		return pstrdup("text is not valid UTF-8");

	memset(&st, 0, sizeof(st));
	st.want = want;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = on_object_start;
	sem.object_end = on_end;
	sem.array_start = on_array_start;
	sem.array_end = on_end;
	sem.object_field_start = on_object_field_start;
	sem.scalar = on_scalar;

	lex = makeJsonLexContextCstringLen(unconstify(char *, json), (int) len, PG_UTF8, true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		list_free_deep(st.items);
		return psprintf("not valid JSON: %s", json_errdetail(rc, lex));
	}
	if (st.top == NULL || strcmp(st.top, wanted) != 0)
	{
		list_free_deep(st.items);
		return psprintf("expected a JSON %s, got %s %s", wanted,
						st.top && strchr("aeiou", st.top[0]) ? "an" : "a", st.top ? st.top : "nothing");
	}
	*items = st.items;
	if (others)
		*others = st.others;
	return NULL;
}

char *
json_array_strings(const char *json, size_t len, List **strings, int *others)
{
	return collect(json, len, WANT_ARRAY, strings, others);
}

char *
json_object_keys_list(const char *json, size_t len, List **keys)
{
	return collect(json, len, WANT_OBJECT, keys, NULL);
}
