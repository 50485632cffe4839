/* hex.c: strict hex encoding and decoding for ids, keys and signatures. */
#include "nostr/hex.h"

static const char hex_digits[] = "0123456789abcdef";

void
nostr_hex_encode(const uint8_t *in, size_t n, char *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
nostr_hex_digit(unsigned char c, bool allow_upper)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (allow_upper && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
nostr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n, bool allow_upper)
{
	size_t		i;

	if (hex_len != 2 * n)
		return false;
	for (i = 0; i < n; i++)
	{
		int			hi = nostr_hex_digit((unsigned char) hex[2 * i], allow_upper);
		int			lo = nostr_hex_digit((unsigned char) hex[2 * i + 1], allow_upper);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	return true;
}
