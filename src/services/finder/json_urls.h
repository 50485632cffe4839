/*
 * json_urls.h: pulls candidate relay URLs out of untrusted JSON with the nostr layer's strict
 * parser, which reports malformed input as a message instead of throwing: the string elements of
 * a top-level array (finder API sources) or the keys of a top-level object (kind 3 contents).
 */
#ifndef BIGBROTR_JSON_URLS_H
#define BIGBROTR_JSON_URLS_H

#include "nodes/pg_list.h"

/*
 * Returns NULL on success, else a message saying why the text is not what was expected. *strings
 * gets the de-escaped strings (palloc'd); *others counts the elements that are not strings (and
 * strings holding U+0000, which no URL does).
 */
char	   *json_array_strings(const char *json, size_t len, List **strings, int *others);
char	   *json_object_keys_list(const char *json, size_t len, List **keys);

#endif							/* BIGBROTR_JSON_URLS_H */
