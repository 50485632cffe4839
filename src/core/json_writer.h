/*
 * json_writer.h: builds the small JSON documents the services write (cycle counters, a relay's sync
 * result, shortfalls, monitor snapshots) into a StringInfo, with commas, key quoting and string
 * escaping done in one place instead of hand-pasted format strings.
 */
#ifndef BIGBROTR_CORE_JSON_WRITER_H
#define BIGBROTR_CORE_JSON_WRITER_H

#include "lib/stringinfo.h"

#define JSON_WRITER_MAX_DEPTH 8

typedef struct JsonWriter
{
	StringInfo	out;
	int			depth;
	bool		has_member[JSON_WRITER_MAX_DEPTH];
} JsonWriter;

/* Writes into out (appending). */
void		json_writer_init(JsonWriter *w, StringInfo out);

/*
 * Every value takes a key: the member name inside an object, NULL inside an array or at the top.
 * Strings are escaped; a NULL string or raw value is written as null.
 */
void		json_writer_begin_object(JsonWriter *w, const char *key);
void		json_writer_end_object(JsonWriter *w);
void		json_writer_begin_array(JsonWriter *w, const char *key);
void		json_writer_end_array(JsonWriter *w);
void		json_writer_int(JsonWriter *w, const char *key, int64 value);
void		json_writer_bool(JsonWriter *w, const char *key, bool value);
void		json_writer_string(JsonWriter *w, const char *key, const char *value);
void		json_writer_null(JsonWriter *w, const char *key);
/* value is already a JSON text (e.g. a stored document). */
void		json_writer_raw(JsonWriter *w, const char *key, const char *value);

#endif							/* BIGBROTR_CORE_JSON_WRITER_H */
