/*
 * test_negentropy.c: NIP-77 negentropy. Replays the exchanges nostr-tools computed
 * (fixtures/nostr/negentropy_exchanges.txt, written by test/js/gen_neg_fixtures.mjs) in both roles
 * and requires the same bytes for every message and the same have/need sets; runs our initiator
 * against our responder on random sets (have/need must be the true set differences); and feeds
 * malformed messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "nostr/hex.h"
#include "nostr/negentropy.h"
#include "tap.h"

/* ---- the generator's item sets (mulberry32, as in gen_neg_fixtures.mjs) ---- */

static uint32_t
mulberry32(uint32_t *a)
{
	uint32_t	t;

	*a += 0x6d2b79f5u;
	t = *a;
	t = (t ^ (t >> 15)) * (t | 1u);
	t = (t + (t ^ (t >> 7)) * (t | 61u)) ^ t;
	return t ^ (t >> 14);
}

typedef struct item_sets
{
	neg_item   *client;
	size_t		nclient;
	neg_item   *server;
	size_t		nserver;
} item_sets;

#define TS_BASE 1700000000u

static void
draw_items(item_sets *s, size_t n, uint32_t seed, uint32_t spread, uint32_t both, uint32_t conly)
{
	uint32_t	a = seed;
	size_t		i;

	s->client = malloc((n + 1) * sizeof(neg_item));
	s->server = malloc((n + 1) * sizeof(neg_item));
	s->nclient = s->nserver = 0;
	for (i = 0; i < n; i++)
	{
		neg_item	it;
		int			w,
					b;
		uint32_t	side;

		it.timestamp = TS_BASE + mulberry32(&a) % spread;
		for (w = 0; w < 8; w++)
		{
			uint32_t	v = mulberry32(&a);

			for (b = 0; b < 4; b++)
				it.id[w * 4 + b] = (uint8_t) (v >> (8 * b));
		}
		side = mulberry32(&a) % 1000;
		if (side < both)
		{
			s->client[s->nclient++] = it;
			s->server[s->nserver++] = it;
		}
		else if (side < both + conly)
			s->client[s->nclient++] = it;
		else
			s->server[s->nserver++] = it;
	}
	s->nclient = neg_items_sort(s->client, s->nclient);
	s->nserver = neg_items_sort(s->server, s->nserver);
}

static void
free_sets(item_sets *s)
{
	free(s->client);
	free(s->server);
}

/* ---- id sets ---- */

typedef struct id_list
{
	uint8_t    (*ids)[32];
	size_t		count;
	size_t		cap;
} id_list;

static void
id_add(void *arg, const uint8_t id[32])
{
	id_list    *l = arg;

	if (l->count == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = realloc(l->ids, l->cap * 32);
	}
	memcpy(l->ids[l->count++], id, 32);
}

typedef struct have_need
{
	id_list		have;
	id_list		need;
} have_need;

static void
on_have(void *arg, const uint8_t id[32])
{
	id_add(&((have_need *) arg)->have, id);
}

static void
on_need(void *arg, const uint8_t id[32])
{
	id_add(&((have_need *) arg)->need, id);
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Sorted; true when it held no duplicate. */
static bool
id_sort(id_list *l)
{
	size_t		i;

	if (l->count)
		qsort(l->ids, l->count, 32, id_cmp);
	for (i = 1; i < l->count; i++)
		if (memcmp(l->ids[i - 1], l->ids[i], 32) == 0)
			return false;
	return true;
}

/* SHA-256 of the sorted ids concatenated, as hex (what the fixture stores). */
static void
id_digest(id_list *l, char out[65])
{
	uint8_t		d[32];

	SHA256(l->count ? (const uint8_t *) l->ids : (const uint8_t *) "", l->count * 32, d);
	nostr_hex_encode(d, 32, out);
}

/* The ids in a but not in b (both sorted neg_item arrays). */
static void
difference(const neg_item *a, size_t na, const neg_item *b, size_t nb, id_list *out)
{
	size_t		i,
				j = 0;

	for (i = 0; i < na; i++)
	{
		while (j < nb && (b[j].timestamp < a[i].timestamp ||
						  (b[j].timestamp == a[i].timestamp && memcmp(b[j].id, a[i].id, 32) < 0)))
			j++;
		if (!(j < nb && b[j].timestamp == a[i].timestamp && memcmp(b[j].id, a[i].id, 32) == 0))
			id_add(out, a[i].id);
	}
	id_sort(out);
}

static bool
same_ids(const id_list *a, const id_list *b)
{
	return a->count == b->count && (a->count == 0 || memcmp(a->ids, b->ids, a->count * 32) == 0);
}

/* ---- fixture replay ---- */

typedef struct fixture_case
{
	char		name[64];
	size_t		n;
	uint32_t	seed,
				spread,
				both,
				conly;
	size_t		limit;
	/* messages in order: I0 R0 I1 R1 ... (hex, pointing into the fixture text) */
	const char *msg[512];
	size_t		msg_len[512];
	char		role[512];
	size_t		nmsg;
	size_t		have_count,
				need_count;
	char		have_digest[65],
				need_digest[65];
} fixture_case;

static uint8_t *
unhex(const char *hex, size_t hex_len, size_t *len)
{
	uint8_t    *b = malloc(hex_len / 2 + 1);

	*len = hex_len / 2;
	if (!nostr_hex_decode(hex, hex_len, b, *len, false))
	{
		free(b);
		return NULL;
	}
	return b;
}

/* First byte where out differs from the expected message, or -1 when equal. */
static long
diff_at(const nostr_buf *out, const uint8_t *want, size_t want_len)
{
	size_t		i;

	for (i = 0; i < out->len && i < want_len; i++)
		if ((uint8_t) out->data[i] != want[i])
			return (long) i;
	return out->len == want_len ? -1 : (long) i;
}

static void
replay_initiator(const fixture_case *c, const item_sets *s)
{
	nostr_error err;
	negentropy *n = neg_new(s->client, s->nclient, c->limit, &err);
	nostr_buf	out;
	have_need	hn;
	size_t		k;
	bool		done = false;
	long		bad = -1;
	size_t		bad_msg = 0;
	size_t		sent = 0;
	char		dh[65],
				dn[65];

	memset(&hn, 0, sizeof(hn));
	nostr_buf_init(&out);
	if (!CHECK(n != NULL, "%s: neg_new (initiator)", c->name))
		return;
	for (k = 0; k < c->nmsg && bad < 0; k++)
	{
		size_t		len;
		uint8_t    *want = unhex(c->msg[k], c->msg_len[k], &len);

		if (c->role[k] == 'I')
		{
			/* the first message is neg_initiate's; the next ones are what the last answer produced */
			if (k == 0 && neg_initiate(n, &out, &err) != NOSTR_OK)
				bad = 0;
			if (bad < 0 && (bad = diff_at(&out, want, len)) >= 0)
				bad_msg = k;
			sent++;
		}
		else
		{
			out.len = 0;
			if (neg_reconcile(n, want, len, &out, &done, on_have, on_need, &hn, &err) != NOSTR_OK)
			{
				bad = 0;
				bad_msg = k;
				fprintf(stderr, "%s: initiator refused message %zu: %s\n", c->name, k, err.message);
			}
			else if (k + 1 < c->nmsg && done)
			{
				bad = 0;
				bad_msg = k;
			}
		}
		free(want);
	}
	CHECK(bad < 0, "%s: initiator sends nostr-tools' bytes (%zu messages; first difference: message %zu byte %ld)",
		  c->name, sent, bad_msg, bad);
	CHECK(bad < 0 && done && out.len == 0, "%s: initiator done after the last answer", c->name);
	CHECK(id_sort(&hn.have) && id_sort(&hn.need), "%s: each have/need id reported once", c->name);
	id_digest(&hn.have, dh);
	id_digest(&hn.need, dn);
	CHECK(hn.have.count == c->have_count && strcmp(dh, c->have_digest) == 0 && hn.need.count == c->need_count &&
		  strcmp(dn, c->need_digest) == 0, "%s: have %zu / need %zu as nostr-tools (want %zu / %zu)", c->name,
		  hn.have.count, hn.need.count, c->have_count, c->need_count);
	free(hn.have.ids);
	free(hn.need.ids);
	nostr_buf_free(&out);
	neg_free(n);
}

static void
replay_responder(const fixture_case *c, const item_sets *s)
{
	nostr_error err;
	negentropy *n = neg_new(s->server, s->nserver, c->limit, &err);
	nostr_buf	out;
	size_t		k;
	long		bad = -1;
	size_t		bad_msg = 0;
	size_t		replies = 0;
	uint8_t    *in = NULL;
	size_t		in_len = 0;

	nostr_buf_init(&out);
	if (!CHECK(n != NULL, "%s: neg_new (responder)", c->name))
		return;
	for (k = 0; k < c->nmsg && bad < 0; k++)
	{
		if (c->role[k] == 'I')
		{
			free(in);
			in = unhex(c->msg[k], c->msg_len[k], &in_len);
		}
		else
		{
			size_t		len;
			uint8_t    *want = unhex(c->msg[k], c->msg_len[k], &len);
			bool		done;

			out.len = 0;
			if (neg_reconcile(n, in, in_len, &out, &done, NULL, NULL, NULL, &err) != NOSTR_OK)
			{
				bad = 0;
				fprintf(stderr, "%s: responder refused message %zu: %s\n", c->name, k, err.message);
			}
			else
				bad = diff_at(&out, want, len);
			if (bad >= 0)
				bad_msg = k;
			replies++;
			free(want);
		}
	}
	free(in);
	CHECK(bad < 0, "%s: responder answers the reference's bytes (%zu answers; first difference: message %zu byte %ld)",
		  c->name, replies, bad_msg, bad);
	nostr_buf_free(&out);
	neg_free(n);
}

static void
check_case(fixture_case *c)
{
	item_sets	s;
	id_list		have = {0},
				need = {0};
	char		dh[65],
				dn[65];

	draw_items(&s, c->n, c->seed, c->spread, c->both, c->conly);
	/* The fixture's have/need are the true differences of the sets we drew (same PRNG). */
	difference(s.client, s.nclient, s.server, s.nserver, &have);
	difference(s.server, s.nserver, s.client, s.nclient, &need);
	id_digest(&have, dh);
	id_digest(&need, dn);
	CHECK(have.count == c->have_count && strcmp(dh, c->have_digest) == 0 && need.count == c->need_count &&
		  strcmp(dn, c->need_digest) == 0, "%s: C draws the generator's item sets (%zu / %zu items)", c->name,
		  s.nclient, s.nserver);
	replay_initiator(c, &s);
	replay_responder(c, &s);
	free(have.ids);
	free(need.ids);
	free_sets(&s);
}

static void
fixtures(void)
{
	size_t		len;
	char	   *text = read_fixture("negentropy_exchanges.txt", &len);
	char	   *line = text;
	fixture_case *c = calloc(1, sizeof(fixture_case));
	int			cases = 0;

	while (line && *line)
	{
		char	   *nl = strchr(line, '\n');
		size_t		ll = nl ? (size_t) (nl - line) : strlen(line);

		if (nl)
			*nl = '\0';
		if (strncmp(line, "case ", 5) == 0)
		{
			unsigned long long n,
						limit;

			memset(c, 0, sizeof(*c));
			if (sscanf(line + 5, "%63s %llu %u %u %u %u %llu", c->name, &n, &c->seed, &c->spread, &c->both,
					   &c->conly, &limit) != 7)
				CHECK(false, "fixture case line: %s", line);
			c->n = (size_t) n;
			c->limit = (size_t) limit;
		}
		else if ((line[0] == 'I' || line[0] == 'R') && line[1] == ' ')
		{
			if (c->nmsg < 512)
			{
				c->role[c->nmsg] = line[0];
				c->msg[c->nmsg] = line + 2;
				c->msg_len[c->nmsg] = ll - 2;
			}
			c->nmsg++;
		}
		else if (strncmp(line, "have ", 5) == 0)
			sscanf(line + 5, "%zu %64s", &c->have_count, c->have_digest);
		else if (strncmp(line, "need ", 5) == 0)
			sscanf(line + 5, "%zu %64s", &c->need_count, c->need_digest);
		else if (strcmp(line, "end") == 0)
		{
			if (CHECK(c->nmsg <= 512 && c->nmsg >= 2, "%s: %zu messages in the fixture", c->name, c->nmsg))
				check_case(c);
			cases++;
		}
		line = nl ? nl + 1 : NULL;
	}
	CHECK(cases >= 25, "%d negentropy fixture cases replayed", cases);
	free(c);
	free(text);
}

/* ---- our initiator against our responder ---- */

static bool
run_pair(const item_sets *s, size_t limit, have_need *hn, size_t *rounds, size_t *bytes)
{
	nostr_error err;
	negentropy *ini = neg_new(s->client, s->nclient, limit, &err);
	negentropy *resp = neg_new(s->server, s->nserver, limit, &err);
	nostr_buf	a,
				b;
	bool		done = false;
	bool		ok = ini && resp;

	nostr_buf_init(&a);
	nostr_buf_init(&b);
	*rounds = 0;
	*bytes = 0;
	if (ok)
		ok = neg_initiate(ini, &a, &err) == NOSTR_OK;
	while (ok && !done && *rounds < 10000)
	{
		bool		rdone;

		if (limit && a.len > limit)
			ok = false;
		*bytes += a.len;
		b.len = 0;
		ok = ok && neg_reconcile(resp, (uint8_t *) a.data, a.len, &b, &rdone, NULL, NULL, NULL, &err) == NOSTR_OK;
		if (ok && limit && b.len > limit)
			ok = false;
		*bytes += b.len;
		a.len = 0;
		ok = ok && neg_reconcile(ini, (uint8_t *) b.data, b.len, &a, &done, on_have, on_need, hn, &err) == NOSTR_OK;
		(*rounds)++;
	}
	if (!ok)
		fprintf(stderr, "run_pair: %s\n", err.message);
	nostr_buf_free(&a);
	nostr_buf_free(&b);
	neg_free(ini);
	neg_free(resp);
	return ok && done;
}

static void
self_pairs(void)
{
	uint32_t	r = 12345;
	int			t;
	int			good = 0;
	const int	runs = 60;
	size_t		max_rounds = 0;

	for (t = 0; t < runs; t++)
	{
		static const size_t limits[] = {0, 4096, 60000};
		static const uint32_t sizes[] = {0, 1, 5, 31, 32, 33, 100, 1000, 5000};
		item_sets	s;
		have_need	hn;
		id_list		have = {0},
					need = {0};
		size_t		rounds,
					bytes;
		uint32_t	n = sizes[mulberry32(&r) % 9] + mulberry32(&r) % 3;
		uint32_t	spread = (uint32_t[]) {1, 3, 1000, 1000000}[mulberry32(&r) % 4];
		uint32_t	both = mulberry32(&r) % 1001;
		uint32_t	conly = mulberry32(&r) % (1001 - both);
		size_t		limit = limits[t % 3];
		bool		ok;

		memset(&hn, 0, sizeof(hn));
		draw_items(&s, n, mulberry32(&r), spread, both, conly);
		ok = run_pair(&s, limit, &hn, &rounds, &bytes);
		difference(s.client, s.nclient, s.server, s.nserver, &have);
		difference(s.server, s.nserver, s.client, s.nclient, &need);
		ok = ok && id_sort(&hn.have) && id_sort(&hn.need) && same_ids(&hn.have, &have) && same_ids(&hn.need, &need);
		if (ok)
			good++;
		else
			CHECK(false, "C vs C run %d: %zu/%zu items, limit %zu: have %zu (true %zu), need %zu (true %zu)", t,
				  s.nclient, s.nserver, limit, hn.have.count, have.count, hn.need.count, need.count);
		if (rounds > max_rounds)
			max_rounds = rounds;
		free(hn.have.ids);
		free(hn.need.ids);
		free(have.ids);
		free(need.ids);
		free_sets(&s);
	}
	CHECK(good == runs, "C initiator vs C responder: %d/%d random sets reconcile to the true differences "
		  "(at most %zu rounds)", good, runs, max_rounds);
}

/*
 * fixtures/nostr/negentropy_repeat.hex (found by test/fuzz/fuzz_negentropy.c, mode 3): sets where a
 * frame-limit cut makes the protocol revisit ranges it had settled, so the same ids come back in a
 * later round. Items as the fuzzer builds them: per 3 bytes a side and two id bytes (the rest of the
 * id is a hash of them, the timestamp their top 3 bits). Each have/need id must be reported once.
 */
static void
repeat_after_cut(void)
{
	size_t		hex_len,
				len,
				i;
	char	   *hex = read_fixture("negentropy_repeat.hex", &hex_len);
	uint8_t    *data = unhex(hex, hex_len, &len);
	item_sets	s;
	have_need	hn;
	id_list		have = {0},
				need = {0};
	size_t		rounds = 0,
				bytes = 0,
				raw_have,
				raw_need;
	bool		ok;

	memset(&hn, 0, sizeof(hn));
	s.client = calloc(len / 3 + 1, sizeof(neg_item));
	s.server = calloc(len / 3 + 1, sizeof(neg_item));
	s.nclient = s.nserver = 0;
	for (i = 1; data && i + 3 <= len; i += 3)
	{
		neg_item	it;
		uint8_t		h[32];
		int			side = (data[i] >> 3) % 3;

		memset(&it, 0, sizeof(it));
		SHA256(data + i + 1, 2, h);
		memcpy(it.id + 2, h, 30);
		it.id[0] = data[i + 1];
		it.id[1] = data[i + 2];
		it.timestamp = data[i + 1] >> 5;
		if (side != 1)
			s.client[s.nclient++] = it;
		if (side != 2)
			s.server[s.nserver++] = it;
	}
	s.nclient = neg_items_sort(s.client, s.nclient);
	s.nserver = neg_items_sort(s.server, s.nserver);
	ok = data && run_pair(&s, 4096, &hn, &rounds, &bytes);
	raw_have = hn.have.count;
	raw_need = hn.need.count;
	difference(s.client, s.nclient, s.server, s.nserver, &have);
	difference(s.server, s.nserver, s.client, s.nclient, &need);
	CHECK(ok && id_sort(&hn.have) && id_sort(&hn.need) && same_ids(&hn.have, &have) && same_ids(&hn.need, &need),
		  "frame-limit cut that revisits settled ranges: have %zu (true %zu), need %zu (true %zu), each once "
		  "(%zu/%zu items, %zu rounds)", raw_have, have.count, raw_need, need.count, s.nclient, s.nserver, rounds);
	free(hn.have.ids);
	free(hn.need.ids);
	free(have.ids);
	free(need.ids);
	free_sets(&s);
	free(data);
	free(hex);
}

/* ---- API edges and malformed messages ---- */

static int
feed(negentropy *n, const char *hex, nostr_buf *out, bool *done, nostr_error *err)
{
	size_t		len;
	uint8_t    *b = unhex(hex, strlen(hex), &len);
	int			rc;

	out->len = 0;
	rc = neg_reconcile(n, b, len, out, done, NULL, NULL, NULL, err);
	free(b);
	return rc;
}

static void
expect_bad(const char *hex, bool initiator, const char *what)
{
	nostr_error err;
	neg_item	items[40];
	negentropy *n;
	nostr_buf	out;
	bool		done;
	int			i;
	int			rc;

	for (i = 0; i < 40; i++)
	{
		memset(items[i].id, i, 32);
		items[i].timestamp = 1000 + (uint64_t) i;
	}
	n = neg_new(items, 40, 0, &err);
	nostr_buf_init(&out);
	if (initiator)
		neg_initiate(n, &out, &err);
	nostr_error_clear(&err);
	rc = feed(n, hex, &out, &done, &err);
	CHECK(rc == NOSTR_ERR_BAD_MESSAGE && err.code == NOSTR_ERR_BAD_MESSAGE && err.message[0],
		  "%s (%s) -> bad_message: %s", what, initiator ? "initiator" : "responder", err.message);
	nostr_buf_free(&out);
	neg_free(n);
}

static void
edges(void)
{
	nostr_error err;
	neg_item	items[3];
	negentropy *n;
	nostr_buf	out;
	bool		done;
	uint8_t		fp[16];
	uint8_t		want[16];
	uint8_t		input[33];
	uint8_t		d[32];
	char		huge[64];

	memset(items, 0, sizeof(items));
	items[0].timestamp = 5;
	items[1].timestamp = 3;
	items[2].timestamp = 5;
	CHECK(neg_items_sort(items, 3) == 2 && items[0].timestamp == 3 && items[1].timestamp == 5,
		  "neg_items_sort orders by timestamp and drops the exact duplicate");
	CHECK(neg_new(items, 2, 100, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT,
		  "frame size limit under 4096 refused");
	items[2] = items[0];
	CHECK(neg_new(items, 3, 0, &err) == NULL && err.code == NOSTR_ERR_BAD_ARGUMENT, "unsorted items refused");

	/* fingerprint: SHA-256(sum mod 2^256 little-endian || varint(count))[0..16) */
	memset(input, 0, sizeof(input));
	SHA256(input, 33, d);
	neg_fingerprint(items, 0, 0, fp);
	CHECK(memcmp(fp, d, 16) == 0, "fingerprint of nothing = sha256(32 zero bytes, 0x00)");
	memset(items[0].id, 0xff, 32);
	memset(items[1].id, 0xff, 32);
	items[1].timestamp = 9;
	memset(input, 0xff, 32);
	input[0] = 0xfe;			/* 2 * (2^256 - 1) mod 2^256 = 2^256 - 2: the carry runs through */
	input[32] = 2;
	SHA256(input, 33, d);
	memcpy(want, d, 16);
	neg_fingerprint(items, 0, 2, fp);
	CHECK(memcmp(fp, want, 16) == 0, "fingerprint sums with carry across all 256 bits");
	memset(items[1].id, 0, 32);
	items[1].id[0] = 1;			/* (2^256 - 1) + 1 = 0: a carry into a word that the carry itself wraps */
	memset(input, 0, 32);
	SHA256(input, 33, d);
	neg_fingerprint(items, 0, 2, fp);
	CHECK(memcmp(fp, d, 16) == 0, "fingerprint: a carry that wraps a word carries on");

	/* responder edge replies */
	memset(items, 0, sizeof(items));
	n = neg_new(NULL, 0, 0, &err);
	nostr_buf_init(&out);
	CHECK(n && feed(n, "62", &out, &done, &err) == NOSTR_OK && out.len == 1 && (uint8_t) out.data[0] == 0x61 && done,
		  "responder answers version 0x62 with its own version byte");
	CHECK(feed(n, "61", &out, &done, &err) == NOSTR_OK && out.len == 1 && done, "responder: empty query, reply '61'");
	CHECK(feed(n, "6100000200", &out, &done, &err) == NOSTR_OK && out.len == 5 &&
		  memcmp(out.data, "\x61\x00\x00\x02\x00", 5) == 0 && !done, "responder with no items answers an IdList with an empty one");
	neg_free(n);
	n = neg_new(NULL, 0, 0, &err);
	neg_initiate(n, &out, &err);
	CHECK(feed(n, "61", &out, &done, &err) == NOSTR_OK && out.len == 0 && done, "initiator: '61' means done");
	neg_free(n);
	nostr_buf_free(&out);

	expect_bad("", false, "empty message");
	expect_bad("50", false, "version byte 0x50");
	expect_bad("62", true, "version 0x62 to the initiator");
	expect_bad("6180", false, "truncated varint");
	expect_bad("61ffffffffffffffffffff7f", false, "varint over 64 bits");
	expect_bad("610021", false, "bound prefix of 33 bytes");
	expect_bad("610005aabb", false, "bound prefix past the end");
	expect_bad("61000003", false, "mode 3");
	expect_bad("610001aabb", false, "truncated fingerprint");
	expect_bad("61000202" "aa", false, "IdList shorter than its count");
	snprintf(huge, sizeof(huge), "6100%s", "0002ffffffffffffffff7f");
	expect_bad(huge, false, "IdList count 2^63 (no allocation by it)");
	expect_bad("610000028080808080808001", true, "IdList count 2^49 to the initiator");
	/* timestamps are deltas, so only the id prefix can go backwards */
	expect_bad("61" "0b018000" "01011000", false, "bounds out of order (same timestamp, prefix 80 then 10)");
	/* a bound after infinity stays infinity: not out of order */
	n = neg_new(NULL, 0, 0, &err);
	nostr_buf_init(&out);
	CHECK(feed(n, "61" "000000" "050000", &out, &done, &err) == NOSTR_OK, "bounds after infinity are infinity");
	nostr_buf_free(&out);
	neg_free(n);
}

void
test_negentropy(void)
{
	edges();
	fixtures();
	self_pairs();
	repeat_after_cut();
}
