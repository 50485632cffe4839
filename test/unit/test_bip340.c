/*
 * test_bip340.c: all official BIP-340 test vectors (test/fixtures/nostr/bip340-vectors.csv, from
 * bitcoin/bips bip-0340/test-vectors.csv incl. the 2022-12 variable-length-message rows), run
 * through libsecp256k1 the way event.c uses it: verification with the static context, and
 * signing with aux randomness for the rows that have a secret key.
 */
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "nostr/hex.h"
#include "nostr/keys.h"
#include "tap.h"

#define MAX_FIELDS 8

static size_t
split(char *line, char **f)
{
	size_t		n = 0;

	f[n++] = line;
	for (; *line && n < MAX_FIELDS; line++)
		if (*line == ',')
		{
			*line = '\0';
			f[n++] = line + 1;
		}
	return n;
}

void
test_bip340(void)
{
	size_t		len;
	char	   *csv = read_fixture("bip340-vectors.csv", &len);
	char	   *line = strchr(csv, '\n') + 1;	/* skip the header */
	int			rows = 0,
				want_true = 0,
				want_false = 0,
				sign_rows = 0;
	secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);

	while (line && *line)
	{
		char	   *next = strchr(line, '\n');
		char	   *f[MAX_FIELDS];
		uint8_t		sk[32],
					pk[32],
					aux[32],
					sig[64],
					msg[128],
					out[64];
		size_t		msglen;
		bool		expect;
		bool		pk_ok;
		secp256k1_xonly_pubkey xpk;
		int			verified;

		if (next)
			*next++ = '\0';
		if (split(line, f) < 7)
			break;
		rows++;
		expect = strcmp(f[6], "TRUE") == 0;
		if (expect)
			want_true++;
		else
			want_false++;
		msglen = strlen(f[4]) / 2;
		CHECK(nostr_hex_decode(f[2], strlen(f[2]), pk, 32, true) &&
			  nostr_hex_decode(f[5], strlen(f[5]), sig, 64, true) &&
			  nostr_hex_decode(f[4], strlen(f[4]), msg, msglen, true), "vector %s decodes", f[0]);
		pk_ok = secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpk, pk);
		verified = pk_ok && secp256k1_schnorrsig_verify(secp256k1_context_static, sig, msg, msglen, &xpk);
		CHECK(verified == expect, "BIP-340 vector %s verifies %s%s%s", f[0], expect ? "TRUE" : "FALSE",
			  f[7] && *f[7] ? ": " : "", f[7] ? f[7] : "");
		if (*f[1])
		{
			uint8_t		derived[32];
			secp256k1_keypair kp;

			sign_rows++;
			nostr_hex_decode(f[1], 64, sk, 32, true);
			nostr_hex_decode(f[3], 64, aux, 32, true);
			CHECK(nostr_pubkey_from_seckey(sk, derived, NULL) == NOSTR_OK &&
				  memcmp(derived, pk, 32) == 0, "vector %s: pubkey from seckey", f[0]);
			CHECK(secp256k1_keypair_create(ctx, &kp, sk) &&
				  secp256k1_schnorrsig_sign_custom(ctx, out, msg, msglen, &kp,
												   &(secp256k1_schnorrsig_extraparams)
												   {
												   SECP256K1_SCHNORRSIG_EXTRAPARAMS_MAGIC, NULL, aux}) &&
				  memcmp(out, sig, 64) == 0, "vector %s: signing with aux reproduces sig", f[0]);
		}
		line = next;
	}
	CHECK(rows == 19 && want_true == 9 && want_false == 10 && sign_rows == 8,
		  "BIP-340: %d vectors (%d TRUE, %d FALSE), %d signing rows", rows, want_true, want_false, sign_rows);
	secp256k1_context_destroy(ctx);
	free(csv);
}
