/*
 * keys.h: private/public keys and signing. Private keys never appear in error messages.
 * Also re-exports the hex helpers (nostr/hex.h) that key handling is written in terms of.
 */
#ifndef BIGBROTR_NOSTR_KEYS_H
#define BIGBROTR_NOSTR_KEYS_H

#include <stdint.h>

#include "nostr/error.h"
#include "nostr/event.h"
#include "nostr/hex.h"

/*
 * Decodes a 64-digit hex private key (either case, surrounding whitespace not allowed) and checks
 * it is in 1..n-1. NOSTR_ERR_BAD_KEY otherwise.
 */
int			nostr_seckey_from_hex(const char *hex, size_t hex_len, uint8_t seckey[32],
								  nostr_error *err);

/* The BIP-340 x-only public key of a private key. NOSTR_ERR_BAD_KEY if out of range. */
int			nostr_pubkey_from_seckey(const uint8_t seckey[32], uint8_t pubkey[32], nostr_error *err);

/*
 * Signs an event built with nostr_event_init/add_tag (or parsed): sets pubkey from seckey,
 * computes the id (refreshing tags_json) and the BIP-340 signature with 32 bytes of auxiliary
 * randomness from RAND_bytes. The result passes nostr_event_verify_cached.
 */
int			nostr_event_sign(nostr_event *ev, const uint8_t seckey[32], nostr_error *err);

#endif							/* BIGBROTR_NOSTR_KEYS_H */
