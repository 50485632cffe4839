/*
 * utf8.h: strict UTF-8 validation and encoding, shared by the JSON reader, the event and message
 * checks and the relay URL rules.
 */
#ifndef BIGBROTR_NOSTR_UTF8_H
#define BIGBROTR_NOSTR_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool		nostr_utf8_valid(const char *s, size_t len);

/*
 * Length of the valid UTF-8 sequence starting at s (a lead byte >= 0x80) within avail bytes, or 0
 * if it is invalid.
 */
size_t		nostr_utf8_sequence_length(const unsigned char *s, size_t avail);

/* Writes code point cp (<= U+10FFFF, not a surrogate) to o as 1 to 4 bytes; returns how many. */
size_t		nostr_utf8_encode(char *o, unsigned cp);

#endif							/* BIGBROTR_NOSTR_UTF8_H */
