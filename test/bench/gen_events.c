/*
 * gen_events.c: signs N events (libsecp256k1 through src/nostr, so 100,000 take seconds, not the
 * minutes nostr-tools would) with a few keys, created_at spread over the year before END, and
 * writes them one JSON object a line: the synchronizer benchmark's relay load.
 *   usage: gen_events N END [keys] > events.jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/keys.h"

static unsigned long long state = 0x9E3779B97F4A7C15ULL;

static unsigned long long
next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

int
main(int argc, char **argv)
{
	static const int kinds[] = {1, 7, 4, 6, 1111};	/* regular: relays keep them all */
	long		n = argc > 1 ? atol(argv[1]) : 1000;
	long long	end = argc > 2 ? atoll(argv[2]) : 1700000000LL;
	int			nkeys = argc > 3 ? atoi(argv[3]) : 4;
	uint8_t		keys[16][32];

	if (nkeys < 1 || nkeys > 16 || n < 0)
		return 2;
	for (int k = 0; k < nkeys; k++)
	{
		memset(keys[k], 0, 32);
		keys[k][0] = 0x6b;
		keys[k][31] = (uint8_t) (k + 1);
	}
	for (long i = 0; i < n; i++)
	{
		nostr_event ev;
		nostr_error err;
		char		content[64];
		const char *tag[2] = {"t", "bench"};
		char	   *json;
		size_t		len;

		snprintf(content, sizeof(content), "bench event %ld", i);
		if (nostr_event_init(&ev, end - (long long) (next() % (365ULL * 86400)), kinds[next() % 5],
							 content, strlen(content), &err) != NOSTR_OK ||
			nostr_event_add_tag(&ev, tag, NULL, 2, &err) != NOSTR_OK ||
			nostr_event_sign(&ev, keys[next() % nkeys], &err) != NOSTR_OK ||
			(json = nostr_event_to_json(&ev, &len)) == NULL)
		{
			fprintf(stderr, "event %ld: %s\n", i, err.message);
			return 1;
		}
		fwrite(json, 1, len, stdout);
		fputc('\n', stdout);
		free(json);
		nostr_event_free(&ev);
	}
	return 0;
}
