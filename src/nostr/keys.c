/*
 * keys.c: private keys, x-only public keys and BIP-340 signing of events. Secrets are wiped with
 * OPENSSL_cleanse and never written into error messages.
 */
#include "nostr/keys.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

int
nostr_seckey_from_hex(const char *hex, size_t hex_len, uint8_t seckey[32], nostr_error *err)
{
	if (!hex || hex_len != 64)
		return nostr_error_set(err, NOSTR_ERR_BAD_KEY, "private key: expected 64 hex digits, got %zu characters",
							   hex ? hex_len : 0);
	if (!nostr_hex_decode(hex, hex_len, seckey, 32, true))
	{
		OPENSSL_cleanse(seckey, 32);
		return nostr_error_set(err, NOSTR_ERR_BAD_KEY, "private key: not hex");
	}
	if (!secp256k1_ec_seckey_verify(secp256k1_context_static, seckey))
	{
		OPENSSL_cleanse(seckey, 32);
		return nostr_error_set(err, NOSTR_ERR_BAD_KEY, "private key: zero or not below the curve order");
	}
	return NOSTR_OK;
}

int
nostr_pubkey_from_seckey(const uint8_t seckey[32], uint8_t pubkey[32], nostr_error *err)
{
	secp256k1_context *ctx;
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;
	unsigned char seed[32];
	int			ok;

	/*
	 * The static context cannot multiply by G; a created one can, and is a small allocation
	 * since libsecp256k1 0.2 (its tables are compiled in). Randomizing it blinds the secret.
	 */
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	ok = RAND_bytes(seed, sizeof(seed)) == 1 && secp256k1_context_randomize(ctx, seed);
	if (!ok)
	{
		secp256k1_context_destroy(ctx);
		return nostr_error_set(err, NOSTR_ERR_INTERNAL, "RAND_bytes failed");
	}
	ok = secp256k1_keypair_create(ctx, &kp, seckey) &&
		secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) &&
		secp256k1_xonly_pubkey_serialize(ctx, pubkey, &xpk);
	OPENSSL_cleanse(&kp, sizeof(kp));
	secp256k1_context_destroy(ctx);
	if (!ok)
		return nostr_error_set(err, NOSTR_ERR_BAD_KEY, "private key: zero or not below the curve order");
	return NOSTR_OK;
}

int
nostr_event_sign(nostr_event *ev, const uint8_t seckey[32], nostr_error *err)
{
	secp256k1_context *ctx;
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;
	unsigned char seed[32];
	unsigned char aux[32];
	int			rc;
	int			ok;

	if (!ev->priv)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "event not initialized");
	/*
	 * A fresh context per signature keeps this reentrant; since libsecp256k1 0.2 creating one is
	 * a small allocation. Randomizing it blinds the signing multiplication against side channels.
	 */
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	if (RAND_bytes(seed, sizeof(seed)) != 1 || RAND_bytes(aux, sizeof(aux)) != 1)
	{
		secp256k1_context_destroy(ctx);
		return nostr_error_set(err, NOSTR_ERR_INTERNAL, "RAND_bytes failed");
	}
	ok = secp256k1_context_randomize(ctx, seed) &&
		secp256k1_keypair_create(ctx, &kp, seckey) &&
		secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) &&
		secp256k1_xonly_pubkey_serialize(ctx, ev->pubkey, &xpk);
	if (!ok)
	{
		rc = nostr_error_set(err, NOSTR_ERR_BAD_KEY, "private key: zero or not below the curve order");
		goto done;
	}
	rc = nostr_event_compute_id(ev, ev->id, err);
	if (rc != NOSTR_OK)
		goto done;
	if (!secp256k1_schnorrsig_sign32(ctx, ev->sig, ev->id, &kp, aux))
	{
		rc = nostr_error_set(err, NOSTR_ERR_INTERNAL, "BIP-340 signing failed");
		goto done;
	}
	nostr_error_clear(err);
	rc = NOSTR_OK;
done:
	OPENSSL_cleanse(&kp, sizeof(kp));
	OPENSSL_cleanse(seed, sizeof(seed));
	secp256k1_context_destroy(ctx);
	return rc;
}
