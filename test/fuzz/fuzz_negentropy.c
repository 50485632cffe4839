/*
 * fuzz_negentropy.c: libFuzzer target for NIP-77. The first byte picks what the rest is:
 *   0: a message to our responder over a small fixed item set (bit 0x10: frame limit 4096);
 *   1: a message to our initiator, after its first message, over the same set;
 *   2: a relay->client message for nostr_relay_msg_parse (NEG-MSG / NEG-ERR and the others);
 *   3: two item sets (3 bytes an item: side, two id bytes), reconciled C initiator against C responder.
 * Oracles besides the sanitizers: an answer never passes the frame limit; the responder's answer
 * starts with the version byte; in mode 3 have/need are exactly the set differences, each id once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "nostr/message.h"
#include "nostr/negentropy.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define NITEMS 48

static neg_item fixed[NITEMS];
static size_t nfixed;

static void
init_fixed(void)
{
	size_t		i;

	if (nfixed)
		return;
	for (i = 0; i < NITEMS; i++)
	{
		memset(fixed[i].id, 0, 32);
		fixed[i].timestamp = 1000 + i / 5; /* runs of equal timestamps */
		fixed[i].id[0] = (uint8_t) (i * 37);
		fixed[i].id[1] = (uint8_t) (i & 3);	/* shared first bytes: longer minimal bounds */
		fixed[i].id[31] = (uint8_t) i;
	}
	nfixed = neg_items_sort(fixed, NITEMS);
}

typedef struct counts
{
	size_t		have;
	size_t		need;
	const neg_item *client;
	size_t		nclient;
	const neg_item *server;
	size_t		nserver;
} counts;

/* items sorted by (timestamp, id); in mode 3 the timestamp is id[0] >> 5 */
static bool
holds(const neg_item *items, size_t n, const uint8_t id[32])
{
	size_t		lo = 0,
				hi = n;
	uint64_t	ts = id[0] >> 5;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = items[mid].timestamp != ts ? (items[mid].timestamp < ts ? -1 : 1) :
			memcmp(items[mid].id, id, 32);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* have: the initiator holds it, the responder does not; need: the other way round. */
static void
on_have(void *arg, const uint8_t id[32])
{
	counts	   *c = arg;

	c->have++;
	if (c->client && (!holds(c->client, c->nclient, id) || holds(c->server, c->nserver, id)))
		abort();
}

static void
on_need(void *arg, const uint8_t id[32])
{
	counts	   *c = arg;

	c->need++;
	if (c->client && (holds(c->client, c->nclient, id) || !holds(c->server, c->nserver, id)))
		abort();
}

static void
one_message(const unsigned char *data, size_t size, bool initiator, size_t limit)
{
	nostr_error err;
	negentropy *n = neg_new(fixed, nfixed, limit, &err);
	nostr_buf	out;
	counts		c;
	bool		done;

	memset(&c, 0, sizeof(c));
	nostr_buf_init(&out);
	if (!n)
		abort();
	if (initiator)
	{
		neg_initiate(n, &out, &err);
		out.len = 0;
	}
	if (neg_reconcile(n, data, size, &out, &done, on_have, on_need, &c, &err) == NOSTR_OK)
	{
		if (limit && out.len > limit)
			abort();
		if (!initiator && (out.len == 0 || (uint8_t) out.data[0] != 0x61))
			abort();
		if (initiator && done != (out.len == 0))
			abort();
	}
	else if (err.code != NOSTR_ERR_BAD_MESSAGE)
		abort();
	nostr_buf_free(&out);
	neg_free(n);
}

static void
pair(const unsigned char *data, size_t size, size_t limit)
{
	size_t		max = size / 3;
	neg_item   *cl = calloc(max + 1, sizeof(neg_item));
	neg_item   *sv = calloc(max + 1, sizeof(neg_item));
	size_t		ncl = 0,
				nsv = 0,
				i;
	nostr_error err;
	negentropy *a;
	negentropy *b;
	nostr_buf	ma,
				mb;
	bool		done = false;
	int			rounds = 0;
	counts		c;

	for (i = 0; i + 3 <= size; i += 3)
	{
		neg_item	it;
		int			side = (data[i] >> 3) % 3;

		memset(&it, 0, sizeof(it));
		/* a function of the id, as in Nostr (the id hashes created_at): few values, many ties */
		it.timestamp = data[i + 1] >> 5;
		/*
		 * Two chosen bytes, the rest a hash of them: shared prefixes stay common, but sums of ids
		 * cannot collide by accident (with 16-bit ids the fuzzer finds two ranges with equal sums
		 * and counts at once: the protocol's fingerprints are sums, not a defect of ours).
		 */
		{
			uint8_t		h[32];

			SHA256(data + i + 1, 2, h);
			memcpy(it.id + 2, h, 30);
		}
		it.id[0] = data[i + 1];
		it.id[1] = data[i + 2];
		if (side != 1)
			cl[ncl++] = it;
		if (side != 2)
			sv[nsv++] = it;
	}
	ncl = neg_items_sort(cl, ncl);
	nsv = neg_items_sort(sv, nsv);
	memset(&c, 0, sizeof(c));
	c.client = cl;
	c.nclient = ncl;
	c.server = sv;
	c.nserver = nsv;
	a = neg_new(cl, ncl, limit, &err);
	b = neg_new(sv, nsv, limit, &err);
	nostr_buf_init(&ma);
	nostr_buf_init(&mb);
	if (!a || !b || neg_initiate(a, &ma, &err) != NOSTR_OK)
		abort();
	while (!done)
	{
		bool		rdone;

		if (++rounds > 100000 || (limit && ma.len > limit))
			abort();
		mb.len = 0;
		if (neg_reconcile(b, (uint8_t *) ma.data, ma.len, &mb, &rdone, NULL, NULL, NULL, &err) != NOSTR_OK ||
			(limit && mb.len > limit))
			abort();
		ma.len = 0;
		if (neg_reconcile(a, (uint8_t *) mb.data, mb.len, &ma, &done, on_have, on_need, &c, &err) != NOSTR_OK)
			abort();
	}
	/*
	 * every difference found once: each report is checked by the callbacks, the counts catch
	 * omissions and repeats (a frame-limit cut makes the protocol revisit settled ranges)
	 */
	{
		size_t		want_have = 0,
					want_need = 0;

		for (i = 0; i < ncl; i++)
			want_have += !holds(sv, nsv, cl[i].id);
		for (i = 0; i < nsv; i++)
			want_need += !holds(cl, ncl, sv[i].id);
		if (c.have != want_have || c.need != want_need)
		{
			fprintf(stderr, "have %zu want %zu need %zu want %zu (items %zu/%zu, limit %zu, rounds %d)\n", c.have, want_have, c.need, want_need, ncl, nsv, limit, rounds);
			abort();
		}
	}
	nostr_buf_free(&ma);
	nostr_buf_free(&mb);
	neg_free(a);
	neg_free(b);
	free(cl);
	free(sv);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t		limit;

	if (size < 1)
		return 0;
	init_fixed();
	limit = (data[0] & 0x10) ? 4096 : 0;
	switch (data[0] & 3)
	{
		case 0:
			one_message(data + 1, size - 1, false, limit);
			break;
		case 1:
			one_message(data + 1, size - 1, true, limit);
			break;
		case 2:
			{
				nostr_relay_msg m;
				nostr_error err;

				if (nostr_relay_msg_parse((const char *) data + 1, size - 1, 1 << 20, &m, &err) == 0)
				{
					if (m.type == NOSTR_MSG_NEG_MSG && (m.neg_msg_len == 0 || !m.neg_msg))
						abort();
					nostr_relay_msg_free(&m);
				}
				break;
			}
		case 3:
			if (size - 1 <= 3 * 3000)
				pair(data + 1, size - 1, limit);
			break;
	}
	return 0;
}
