/* json_writer.c: see json_writer.h. Separators are ", " and ": ", as jsonb prints them. */
#include "postgres.h"

#include "utils/json.h"

#include "core/json_writer.h"

void
json_writer_init(JsonWriter *w, StringInfo out)
{
	w->out = out;
	w->depth = 0;
	w->has_member[0] = false;
}

/* The comma and the key before a value. */
static void
begin_value(JsonWriter *w, const char *key)
{
	if (w->has_member[w->depth])
		appendStringInfoString(w->out, ", ");
	w->has_member[w->depth] = true;
	if (key)
	{
		escape_json(w->out, key);
		appendStringInfoString(w->out, ": ");
	}
}

static void
open_container(JsonWriter *w, const char *key, char bracket)
{
	begin_value(w, key);
	if (w->depth + 1 >= JSON_WRITER_MAX_DEPTH)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("JSON document nested deeper than %d levels", JSON_WRITER_MAX_DEPTH)));
	appendStringInfoChar(w->out, bracket);
	w->has_member[++w->depth] = false;
}

static void
close_container(JsonWriter *w, char bracket)
{
	Assert(w->depth > 0);
	appendStringInfoChar(w->out, bracket);
	w->depth--;
}

void
json_writer_begin_object(JsonWriter *w, const char *key)
{
	open_container(w, key, '{');
}

void
json_writer_end_object(JsonWriter *w)
{
	close_container(w, '}');
}

void
json_writer_begin_array(JsonWriter *w, const char *key)
{
	open_container(w, key, '[');
}

void
json_writer_end_array(JsonWriter *w)
{
	close_container(w, ']');
}

void
json_writer_int(JsonWriter *w, const char *key, int64 value)
{
	begin_value(w, key);
	appendStringInfo(w->out, INT64_FORMAT, value);
}

void
json_writer_bool(JsonWriter *w, const char *key, bool value)
{
	begin_value(w, key);
	appendStringInfoString(w->out, value ? "true" : "false");
}

void
json_writer_string(JsonWriter *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (value)
		escape_json(w->out, value);
	else
		appendStringInfoString(w->out, "null");
}

void
json_writer_null(JsonWriter *w, const char *key)
{
	json_writer_raw(w, key, NULL);
}

void
json_writer_raw(JsonWriter *w, const char *key, const char *value)
{
	begin_value(w, key);
	appendStringInfoString(w->out, value ? value : "null");
}
