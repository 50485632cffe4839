/*
 * json_urls.h: pulls candidate relay URLs out of untrusted JSON, one element at a time.
 *
 * json_array_each_string streams the elements of a top-level JSON array (a finder API source): the
 * body is first checked to be one well-formed array (no allocation), then each element is handed
 * to a callback, a string de-escaped into a small reusable buffer. A bad element (not a string;
 * a string holding U+0000, invalid UTF-8, a lone surrogate, a raw control character, or longer than
 * a relay URL can be) is reported to the callback with its reason and costs nothing else: the other
 * elements are kept. Memory is O(1) beyond the body, whatever the number of elements.
 *
 * json_object_keys_list collects the keys of a top-level object (kind 3 contents) with the nostr
 * layer's strict parser.
 */
#ifndef BIGBROTR_JSON_URLS_H
#define BIGBROTR_JSON_URLS_H

#include "nodes/pg_list.h"

/* Longest decoded string element passed on as a string; longer ones are bad elements. */
#define JSON_URL_ELEMENT_MAX 2048

/*
 * Called once per array element, in order: index from 0; str/len the decoded string (NUL-terminated)
 * when bad is NULL, else bad says why the element is skipped ("not a string (a number)", ...).
 */
typedef void (*JsonElementFn) (void *arg, long index, const char *str, size_t len, const char *bad);

/*
 * Returns NULL on success (every element was passed to fn), else a message saying why the text is
 * not one JSON array; fn is then never called.
 */
char	   *json_array_each_string(const char *json, size_t len, JsonElementFn fn, void *arg);

/*
 * Returns NULL on success, else why the text is not a JSON object. *keys gets the de-escaped keys
 * (palloc'd); keys holding U+0000 are left out.
 */
char	   *json_object_keys_list(const char *json, size_t len, List **keys);

#endif							/* BIGBROTR_JSON_URLS_H */
