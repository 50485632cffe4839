/*
 * hex.h: hex <-> bytes. Nostr puts ids, pubkeys and signatures on the wire as lower-case hex of an
 * exact length, so decoding is strict by default; upper case is accepted only where asked.
 */
#ifndef BIGBROTR_NOSTR_HEX_H
#define BIGBROTR_NOSTR_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lower-case hex digits and a NUL to out (which must hold 2*n+1 bytes). */
void		nostr_hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes exactly 2*n hex digits from hex (hex_len must equal 2*n) into out[n]. Lower case only
 * unless allow_upper. Returns false, leaving out unspecified, on any other length or character.
 */
bool		nostr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n, bool allow_upper);

/* The value of one hex digit (0..15), or -1; upper case only when allow_upper. */
int			nostr_hex_digit(unsigned char c, bool allow_upper);

#endif							/* BIGBROTR_NOSTR_HEX_H */
