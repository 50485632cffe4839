/* test_keys.c: private key parsing, public key derivation and signing events in C. */
#include <stdlib.h>
#include <string.h>

#include "nostr/keys.h"
#include "tap.h"

void
test_keys(void)
{
	/* BIP-340 vector 1's key pair */
	const char *skhex = "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF";
	const char *pkhex = "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659";
	const char *order = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";
	uint8_t		sk[32],
				pk[32];
	char		hex[65];
	nostr_error err;
	nostr_event ev,
				parsed;
	const char *tag[] = {"p", "x"};
	const char *content = "signed in C \xf0\x9f\x98\x80\n\x01";
	char	   *json;
	size_t		jl;

	CHECK(nostr_seckey_from_hex(skhex, 64, sk, &err) == NOSTR_OK && nostr_pubkey_from_seckey(sk, pk, &err) == NOSTR_OK,
		  "pubkey from hex seckey");
	nostr_hex_encode(pk, 32, hex);
	CHECK(strcmp(hex, pkhex) == 0, "derived pubkey matches BIP-340 vector");
	CHECK(nostr_seckey_from_hex(order, 64, sk, &err) == NOSTR_ERR_BAD_KEY &&
		  strstr(err.message, "FFFF") == NULL, "seckey == n rejected, key not echoed");
	CHECK(nostr_seckey_from_hex("0000000000000000000000000000000000000000000000000000000000000000", 64, sk, &err) ==
		  NOSTR_ERR_BAD_KEY, "zero seckey rejected");
	CHECK(nostr_seckey_from_hex(skhex, 63, sk, &err) == NOSTR_ERR_BAD_KEY, "short seckey rejected");
	CHECK(nostr_seckey_from_hex("zz" "E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF", 64, sk, &err) ==
		  NOSTR_ERR_BAD_KEY && strstr(err.message, "E151") == NULL, "non-hex seckey rejected, not echoed");
	CHECK(nostr_hex_decode("AB", 2, sk, 1, false) == false && nostr_hex_decode("ab", 2, sk, 1, false) && sk[0] == 0xab,
		  "hex decode strict lower case");

	CHECK(nostr_seckey_from_hex(skhex, 64, sk, &err) == NOSTR_OK, "seckey for signing");
	CHECK(nostr_event_init(&ev, 1700000000, 1, content, strlen(content), &err) == NOSTR_OK &&
		  nostr_event_add_tag(&ev, tag, NULL, 2, &err) == NOSTR_OK &&
		  nostr_event_sign(&ev, sk, &err) == NOSTR_OK, "sign event");
	CHECK(nostr_event_verify_cached(&ev, NULL, &err) == NOSTR_OK, "signed event verifies");
	nostr_pubkey_from_seckey(sk, pk, NULL);
	CHECK(memcmp(pk, ev.pubkey, 32) == 0, "sign filled the pubkey");
	json = nostr_event_to_json(&ev, &jl);
	CHECK(json && nostr_event_parse_verify(json, jl, 0, NULL, &parsed, &err) == NOSTR_OK &&
		  memcmp(parsed.sig, ev.sig, 64) == 0, "signed event JSON parses and verifies");
	nostr_event_free(&parsed);
	free(json);
	ev.content_len--;			/* tamper: drop the last byte */
	CHECK(nostr_event_verify_cached(&ev, NULL, &err) == NOSTR_ERR_ID_MISMATCH, "tampered content -> id_mismatch");
	nostr_event_free(&ev);
}
