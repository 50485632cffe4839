/*
 * negentropy.c: NIP-77 negentropy v1 (range-based set reconciliation) in both roles.
 *
 * The wire format and the range logic follow the protocol as hoytech's reference implementations
 * define it (the C++ one is what strfry runs): a message is the version byte 0x61 then ranges,
 * each an upper bound (delta-encoded timestamp, id prefix length, prefix) and a mode (Skip,
 * Fingerprint with 16 bytes, IdList with a count and 32-byte ids). A differing Fingerprint is split
 * into 16 buckets, or sent as an IdList when the range holds fewer than 32 items. The initiator
 * answers an IdList with the have/need ids and a Skip; the responder answers it with its own
 * IdList of the range. With a frame size limit, once an answer would pass (limit - 200) bytes the
 * rest of the set is sent as one Fingerprint up to infinity (the responder also cuts an IdList
 * short at the limit and lets that Fingerprint cover the remainder). nostr-tools/nip77 produces the
 * same bytes in the initiator role (test/unit/test_negentropy.c replays its exchanges).
 *
 * Nothing here allocates by an untrusted length before checking it against the bytes left in the
 * message: an IdList's count must fit in what remains (32 bytes per id).
 */
#include "nostr/negentropy.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define NEG_VERSION 0x61
#define NEG_MODE_SKIP 0
#define NEG_MODE_FINGERPRINT 1
#define NEG_MODE_IDLIST 2
#define NEG_BUCKETS 16
#define NEG_FP_SIZE 16
#define NEG_ID_SIZE 32
#define NEG_INFINITY UINT64_MAX
#define NEG_MIN_FRAME 4096
/* The reference keeps this much headroom below the frame size limit. */
#define NEG_FRAME_SLACK 200

/* The need ids reported so far (open addressing; 32-byte keys, keyed hash). */
typedef struct neg_id_set
{
	uint8_t    (*keys)[NEG_ID_SIZE];
	uint8_t    *used;
	size_t		cap;			/* a power of two, or 0 */
	size_t		count;
	uint64_t	seed;
} neg_id_set;

struct negentropy
{
	neg_item   *items;
	size_t		count;
	size_t		frame_size_limit;	/* 0 = none */
	bool		initiator;
	uint64_t	last_ts_in;
	uint64_t	last_ts_out;
	/*
	 * With a frame size limit the reference protocol can bring a range it has already settled back
	 * (the fallback Fingerprint covers [upper, end) while the receiver reads it from the last bound
	 * sent): the same id then shows up again. We report each have/need id once: a bit per item for
	 * have, a set of the need ids (32 bytes each, at most the peer's ids) for need.
	 */
	uint8_t    *have_seen;
	neg_id_set	need_seen;
};

typedef struct neg_bound
{
	uint64_t	timestamp;
	uint8_t		id[NEG_ID_SIZE];	/* zero-padded past idlen */
	size_t		idlen;
} neg_bound;

static int
item_cmp(const neg_item *a, const neg_item *b)
{
	if (a->timestamp != b->timestamp)
		return a->timestamp < b->timestamp ? -1 : 1;
	return memcmp(a->id, b->id, NEG_ID_SIZE);
}

static int
item_qsort_cmp(const void *a, const void *b)
{
	return item_cmp(a, b);
}

size_t
neg_items_sort(neg_item *items, size_t count)
{
	size_t		i;
	size_t		kept;

	if (count == 0)
		return 0;
	qsort(items, count, sizeof(neg_item), item_qsort_cmp);
	kept = 1;
	for (i = 1; i < count; i++)
	{
		if (item_cmp(&items[kept - 1], &items[i]) != 0)
			items[kept++] = items[i];
	}
	return kept;
}

static uint64_t
id_hash(const neg_id_set *s, const uint8_t *id)
{
	uint64_t	h = s->seed ^ 0xcbf29ce484222325ull;
	size_t		i;

	for (i = 0; i < NEG_ID_SIZE; i++)
		h = (h ^ id[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* 1 when added, 0 when already there, -1 on ENOMEM. */
static int
id_set_add(neg_id_set *s, const uint8_t *id)
{
	size_t		i;

	if ((s->count + 1) * 2 > s->cap)
	{
		size_t		cap = s->cap ? s->cap * 2 : 64;
		neg_id_set	g = *s;

		if (cap > SIZE_MAX / NEG_ID_SIZE)
			return -1;
		g.keys = malloc(cap * NEG_ID_SIZE);
		g.used = calloc(cap, 1);
		g.cap = cap;
		g.count = 0;
		if (!g.keys || !g.used)
		{
			free(g.keys);
			free(g.used);
			return -1;
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				id_set_add(&g, s->keys[i]);
		free(s->keys);
		free(s->used);
		*s = g;
	}
	for (i = id_hash(s, id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
	{
		if (!s->used[i])
		{
			s->used[i] = 1;
			memcpy(s->keys[i], id, NEG_ID_SIZE);
			s->count++;
			return 1;
		}
		if (memcmp(s->keys[i], id, NEG_ID_SIZE) == 0)
			return 0;
	}
}

negentropy *
neg_new(const neg_item *items, size_t count, size_t frame_size_limit, nostr_error *err)
{
	negentropy *n;
	size_t		i;

	if (frame_size_limit != 0 && frame_size_limit < NEG_MIN_FRAME)
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "negentropy frame size limit %zu is under %d",
						frame_size_limit, NEG_MIN_FRAME);
		return NULL;
	}
	if (count > 0 && !items)
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "negentropy: %zu items but no array", count);
		return NULL;
	}
	for (i = 1; i < count; i++)
	{
		if (item_cmp(&items[i - 1], &items[i]) >= 0)
		{
			nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT,
							"negentropy items are not sorted and unique at index %zu", i);
			return NULL;
		}
	}
	if (count > SIZE_MAX / sizeof(neg_item))
	{
		nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: %zu items", count);
		return NULL;
	}
	n = calloc(1, sizeof(negentropy));
	if (n && count > 0)
	{
		n->items = malloc(count * sizeof(neg_item));
		n->have_seen = calloc(count / 8 + 1, 1);
		if (!n->items || !n->have_seen)
		{
			free(n->items);
			free(n->have_seen);
			free(n);
			n = NULL;
		}
		else
			memcpy(n->items, items, count * sizeof(neg_item));
	}
	if (!n)
	{
		nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for %zu items", count);
		return NULL;
	}
	n->count = count;
	n->frame_size_limit = frame_size_limit;
	n->need_seen.seed = (uint64_t) (uintptr_t) n * 0x9e3779b97f4a7c15ull;
	return n;
}

void
neg_free(negentropy *n)
{
	if (!n)
		return;
	free(n->items);
	free(n->have_seen);
	free(n->need_seen.keys);
	free(n->need_seen.used);
	free(n);
}

/* ---- fingerprints ---- */

void
neg_fingerprint(const neg_item *items, size_t begin, size_t end, uint8_t out[16])
{
	uint64_t	sum[4] = {0, 0, 0, 0};
	uint8_t		input[NEG_ID_SIZE + 10];
	uint8_t		digest[SHA256_DIGEST_LENGTH];
	uint8_t		varint[10];
	size_t		vlen = 0;
	size_t		i;
	size_t		w;
	uint64_t	c;

	/* The ids as 256-bit little-endian numbers, summed mod 2^256. */
	for (i = begin; i < end; i++)
	{
		uint64_t	carry = 0;

		for (w = 0; w < 4; w++)
		{
			uint64_t	v = 0;
			uint64_t	s;
			int			b;

			for (b = 7; b >= 0; b--)
				v = (v << 8) | items[i].id[w * 8 + b];
			s = sum[w] + v;
			c = s < v;
			s += carry;
			c |= s < carry;
			sum[w] = s;
			carry = c;
		}
	}
	for (w = 0; w < 4; w++)
		for (i = 0; i < 8; i++)
			input[w * 8 + i] = (uint8_t) (sum[w] >> (8 * i));
	/* varint(count), most significant group first */
	c = (uint64_t) (end - begin);
	do
	{
		varint[vlen++] = (uint8_t) (c & 0x7f);
		c >>= 7;
	} while (c != 0);
	for (i = 0; i < vlen; i++)
		input[NEG_ID_SIZE + i] = varint[vlen - 1 - i] | (i + 1 < vlen ? 0x80 : 0);
	SHA256(input, NEG_ID_SIZE + vlen, digest);
	memcpy(out, digest, NEG_FP_SIZE);
}

/* ---- encoding ---- */

static void
put_varint(nostr_buf *b, uint64_t v)
{
	uint8_t		tmp[10];
	uint8_t		o[10];
	size_t		len = 0;
	size_t		i;

	do
	{
		tmp[len++] = (uint8_t) (v & 0x7f);
		v >>= 7;
	} while (v != 0);
	for (i = 0; i < len; i++)
		o[i] = tmp[len - 1 - i] | (i + 1 < len ? 0x80 : 0);
	nostr_buf_append(b, o, len);
}

static void
put_timestamp(negentropy *n, nostr_buf *b, uint64_t ts)
{
	if (ts == NEG_INFINITY)
	{
		n->last_ts_out = NEG_INFINITY;
		put_varint(b, 0);
		return;
	}
	put_varint(b, ts - n->last_ts_out + 1);
	n->last_ts_out = ts;
}

static void
put_bound(negentropy *n, nostr_buf *b, const neg_bound *bound)
{
	put_timestamp(n, b, bound->timestamp);
	put_varint(b, bound->idlen);
	nostr_buf_append(b, bound->id, bound->idlen);
}

static neg_bound
infinity_bound(void)
{
	neg_bound	b;

	memset(&b, 0, sizeof(b));
	b.timestamp = NEG_INFINITY;
	return b;
}

static neg_bound
item_bound(const neg_item *it)
{
	neg_bound	b;

	b.timestamp = it->timestamp;
	memcpy(b.id, it->id, NEG_ID_SIZE);
	b.idlen = NEG_ID_SIZE;
	return b;
}

/* The shortest bound that sorts after prev and at or before curr. */
static neg_bound
minimal_bound(const neg_item *prev, const neg_item *curr)
{
	neg_bound	b;
	size_t		shared = 0;

	memset(&b, 0, sizeof(b));
	b.timestamp = curr->timestamp;
	if (curr->timestamp != prev->timestamp)
		return b;
	while (shared < NEG_ID_SIZE && curr->id[shared] == prev->id[shared])
		shared++;
	b.idlen = shared + 1 <= NEG_ID_SIZE ? shared + 1 : NEG_ID_SIZE;
	memcpy(b.id, curr->id, b.idlen);
	return b;
}

static bool
item_below(const neg_item *it, const neg_bound *b)
{
	if (it->timestamp != b->timestamp)
		return it->timestamp < b->timestamp;
	return memcmp(it->id, b->id, NEG_ID_SIZE) < 0;
}

static bool
bound_below(const neg_bound *a, const neg_bound *b)
{
	if (a->timestamp != b->timestamp)
		return a->timestamp < b->timestamp;
	return memcmp(a->id, b->id, NEG_ID_SIZE) < 0;
}

/* First index in [begin, end) whose item is not below bound. */
static size_t
lower_bound(const negentropy *n, size_t begin, size_t end, const neg_bound *bound)
{
	while (begin < end)
	{
		size_t		mid = begin + (end - begin) / 2;

		if (item_below(&n->items[mid], bound))
			begin = mid + 1;
		else
			end = mid;
	}
	return begin;
}

static void
split_range(negentropy *n, size_t lower, size_t upper, const neg_bound *upper_bound, nostr_buf *o)
{
	size_t		num = upper - lower;
	size_t		i;

	if (num < NEG_BUCKETS * 2)
	{
		put_bound(n, o, upper_bound);
		put_varint(o, NEG_MODE_IDLIST);
		put_varint(o, num);
		for (i = lower; i < upper; i++)
			nostr_buf_append(o, n->items[i].id, NEG_ID_SIZE);
	}
	else
	{
		size_t		per = num / NEG_BUCKETS;
		size_t		extra = num % NEG_BUCKETS;
		size_t		curr = lower;

		for (i = 0; i < NEG_BUCKETS; i++)
		{
			size_t		size = per + (i < extra ? 1 : 0);
			uint8_t		fp[NEG_FP_SIZE];
			neg_bound	next;

			neg_fingerprint(n->items, curr, curr + size, fp);
			curr += size;
			if (curr == upper)
				next = *upper_bound;
			else
				next = minimal_bound(&n->items[curr - 1], &n->items[curr]);
			put_bound(n, o, &next);
			put_varint(o, NEG_MODE_FINGERPRINT);
			nostr_buf_append(o, fp, NEG_FP_SIZE);
		}
	}
}

static bool
exceeded(const negentropy *n, size_t len)
{
	return n->frame_size_limit != 0 && len > n->frame_size_limit - NEG_FRAME_SLACK;
}

int
neg_initiate(negentropy *n, nostr_buf *out, nostr_error *err)
{
	nostr_buf	msg;
	neg_bound	inf = infinity_bound();
	uint8_t		v = NEG_VERSION;

	n->initiator = true;
	n->last_ts_out = 0;
	nostr_buf_init(&msg);
	nostr_buf_append(&msg, &v, 1);
	split_range(n, 0, n->count, &inf, &msg);
	if (msg.failed || !nostr_buf_append(out, msg.data, msg.len))
	{
		nostr_buf_free(&msg);
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for the first message");
	}
	nostr_buf_free(&msg);
	return NOSTR_OK;
}

/* ---- decoding ---- */

typedef struct neg_reader
{
	const uint8_t *p;
	size_t		left;
} neg_reader;

static int
get_varint(neg_reader *r, uint64_t *v, nostr_error *err)
{
	uint64_t	res = 0;

	for (;;)
	{
		uint8_t		byte;

		if (r->left == 0)
			return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: message ends inside a varint");
		if (res > (UINT64_MAX >> 7))
			return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: varint over 64 bits");
		byte = *r->p++;
		r->left--;
		res = (res << 7) | (byte & 0x7f);
		if (!(byte & 0x80))
			break;
	}
	*v = res;
	return NOSTR_OK;
}

static int
get_bound(negentropy *n, neg_reader *r, neg_bound *b, nostr_error *err)
{
	uint64_t	v;
	uint64_t	len;
	int			rc;

	memset(b, 0, sizeof(*b));
	if ((rc = get_varint(r, &v, err)) != NOSTR_OK)
		return rc;
	if (v == 0 || n->last_ts_in == NEG_INFINITY)
	{
		n->last_ts_in = NEG_INFINITY;
		b->timestamp = NEG_INFINITY;
	}
	else
	{
		uint64_t	ts = v - 1;

		if (ts > NEG_INFINITY - 1 - n->last_ts_in)
			return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: bound timestamp overflows");
		ts += n->last_ts_in;
		n->last_ts_in = ts;
		b->timestamp = ts;
	}
	if ((rc = get_varint(r, &len, err)) != NOSTR_OK)
		return rc;
	if (len > NEG_ID_SIZE)
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: bound id prefix of %llu bytes",
							   (unsigned long long) len);
	if (len > r->left)
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: message ends inside a bound");
	memcpy(b->id, r->p, len);
	b->idlen = (size_t) len;
	r->p += len;
	r->left -= len;
	return NOSTR_OK;
}

static int
id_ptr_cmp(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *) a;
	const uint8_t *y = *(const uint8_t *const *) b;
	int			c = memcmp(x, y, NEG_ID_SIZE);

	/* ties by position, so the first of equal ids comes first */
	if (c != 0)
		return c;
	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * have/need for an IdList of `num` ids (at `ids`) against our items [lower, upper): have = ours
 * not in the list (in our order), need = theirs not ours (in their order, each once).
 */
static int
report_idlist(negentropy *n, const uint8_t *ids, size_t num, size_t lower, size_t upper,
			  neg_id_fn have, neg_id_fn need, void *arg, nostr_error *err)
{
	const uint8_t **sorted = NULL;
	uint8_t    *skip = NULL;
	size_t		i;

	if (num > 0)
	{
		sorted = malloc(num * sizeof(*sorted));
		skip = calloc(num, 1);
		if (!sorted || !skip)
		{
			free(sorted);
			free(skip);
			return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for %zu ids", num);
		}
		for (i = 0; i < num; i++)
			sorted[i] = ids + i * NEG_ID_SIZE;
		qsort(sorted, num, sizeof(*sorted), id_ptr_cmp);
		for (i = 1; i < num; i++)
			if (memcmp(sorted[i - 1], sorted[i], NEG_ID_SIZE) == 0)
				skip[(sorted[i] - ids) / NEG_ID_SIZE] = 1;
	}
	for (i = lower; i < upper; i++)
	{
		const uint8_t *id = n->items[i].id;
		size_t		lo = 0;
		size_t		hi = num;

		while (lo < hi)
		{
			size_t		mid = lo + (hi - lo) / 2;

			if (memcmp(sorted[mid], id, NEG_ID_SIZE) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < num && memcmp(sorted[lo], id, NEG_ID_SIZE) == 0)
		{
			for (; lo < num && memcmp(sorted[lo], id, NEG_ID_SIZE) == 0; lo++)
				skip[(sorted[lo] - ids) / NEG_ID_SIZE] = 1;
		}
		else if (have && !(n->have_seen[i / 8] & (1u << (i % 8))))
		{
			n->have_seen[i / 8] |= (uint8_t) (1u << (i % 8));
			have(arg, id);
		}
	}
	if (need)
		for (i = 0; i < num; i++)
		{
			int			added;

			if (skip[i])
				continue;
			added = id_set_add(&n->need_seen, ids + i * NEG_ID_SIZE);
			if (added < 0)
			{
				free(sorted);
				free(skip);
				return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for the need ids");
			}
			if (added)
				need(arg, ids + i * NEG_ID_SIZE);
		}
	free(sorted);
	free(skip);
	return NOSTR_OK;
}

static int
reconcile_ranges(negentropy *n, neg_reader *r, nostr_buf *full, neg_id_fn have, neg_id_fn need,
				 void *arg, nostr_error *err)
{
	nostr_buf	o;
	neg_bound	prev_bound;
	size_t		prev_index = 0;
	bool		skip = false;
	int			rc = NOSTR_OK;

	memset(&prev_bound, 0, sizeof(prev_bound));
	nostr_buf_init(&o);
	while (r->left > 0)
	{
		neg_bound	curr;
		uint64_t	mode;
		size_t		lower;
		size_t		upper;

		o.len = 0;
		if ((rc = get_bound(n, r, &curr, err)) != NOSTR_OK || (rc = get_varint(r, &mode, err)) != NOSTR_OK)
			break;
		if (bound_below(&curr, &prev_bound))
		{
			rc = nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: range bounds out of order");
			break;
		}
		lower = prev_index;
		upper = lower_bound(n, prev_index, n->count, &curr);
		if (mode == NEG_MODE_SKIP)
			skip = true;
		else if (mode == NEG_MODE_FINGERPRINT)
		{
			uint8_t		ours[NEG_FP_SIZE];

			if (r->left < NEG_FP_SIZE)
			{
				rc = nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: message ends inside a fingerprint");
				break;
			}
			neg_fingerprint(n->items, lower, upper, ours);
			if (memcmp(ours, r->p, NEG_FP_SIZE) != 0)
			{
				if (skip)
				{
					skip = false;
					put_bound(n, &o, &prev_bound);
					put_varint(&o, NEG_MODE_SKIP);
				}
				split_range(n, lower, upper, &curr, &o);
			}
			else
				skip = true;
			r->p += NEG_FP_SIZE;
			r->left -= NEG_FP_SIZE;
		}
		else if (mode == NEG_MODE_IDLIST)
		{
			uint64_t	num;
			const uint8_t *ids;

			if ((rc = get_varint(r, &num, err)) != NOSTR_OK)
				break;
			if (num > r->left / NEG_ID_SIZE)
			{
				rc = nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE,
									 "negentropy: IdList of %llu ids in %zu bytes", (unsigned long long) num,
									 r->left);
				break;
			}
			ids = r->p;
			r->p += num * NEG_ID_SIZE;
			r->left -= num * NEG_ID_SIZE;
			if ((have || need) &&
				(rc = report_idlist(n, ids, (size_t) num, lower, upper, have, need, arg, err)) != NOSTR_OK)
				break;
			if (n->initiator)
				skip = true;
			else
			{
				/* The responder answers with its own ids of the range, cut short at the frame limit. */
				size_t		count = 0;
				size_t		i;
				neg_bound	end_bound = curr;
				nostr_buf	ids_out;

				if (skip)
				{
					skip = false;
					put_bound(n, &o, &prev_bound);
					put_varint(&o, NEG_MODE_SKIP);
				}
				nostr_buf_init(&ids_out);
				for (i = lower; i < upper; i++)
				{
					if (exceeded(n, full->len + ids_out.len))
					{
						end_bound = item_bound(&n->items[i]);
						upper = i;
						break;
					}
					nostr_buf_append(&ids_out, n->items[i].id, NEG_ID_SIZE);
					count++;
				}
				put_bound(n, &o, &end_bound);
				put_varint(&o, NEG_MODE_IDLIST);
				put_varint(&o, count);
				nostr_buf_append(&o, ids_out.data, ids_out.len);
				if (ids_out.failed)
					o.failed = true;
				nostr_buf_free(&ids_out);
				nostr_buf_append(full, o.data, o.len);
				o.len = 0;
			}
		}
		else
		{
			rc = nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: unknown mode %llu",
								 (unsigned long long) mode);
			break;
		}
		if (o.failed || full->failed)
		{
			rc = nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for the answer");
			break;
		}
		if (exceeded(n, full->len + o.len))
		{
			uint8_t		fp[NEG_FP_SIZE];
			neg_bound	inf = infinity_bound();

			neg_fingerprint(n->items, upper, n->count, fp);
			put_bound(n, full, &inf);
			put_varint(full, NEG_MODE_FINGERPRINT);
			nostr_buf_append(full, fp, NEG_FP_SIZE);
			break;
		}
		if (o.len > 0)
			nostr_buf_append(full, o.data, o.len);
		prev_index = upper;
		prev_bound = curr;
	}
	nostr_buf_free(&o);
	if (rc == NOSTR_OK && full->failed)
		rc = nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for the answer");
	return rc;
}

int
neg_reconcile(negentropy *n, const uint8_t *msg, size_t len, nostr_buf *out, bool *done,
			  neg_id_fn have, neg_id_fn need, void *arg, nostr_error *err)
{
	nostr_buf	full;
	neg_reader	r;
	uint8_t		v = NEG_VERSION;
	int			rc;

	*done = false;
	n->last_ts_in = 0;
	n->last_ts_out = 0;
	if (len == 0 || !msg)
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: empty message");
	if (msg[0] < 0x60 || msg[0] > 0x6f)
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: invalid protocol version byte 0x%02x",
							   msg[0]);
	nostr_buf_init(&full);
	nostr_buf_append(&full, &v, 1);
	if (msg[0] != NEG_VERSION)
	{
		if (n->initiator)
		{
			nostr_buf_free(&full);
			return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "negentropy: unsupported protocol version %d",
								   msg[0] - 0x60);
		}
		/* A responder answers an unknown version with just the one it speaks. */
		rc = NOSTR_OK;
	}
	else
	{
		r.p = msg + 1;
		r.left = len - 1;
		rc = reconcile_ranges(n, &r, &full, have, need, arg, err);
	}
	if (rc == NOSTR_OK)
	{
		*done = full.len == 1;
		if (!(*done && n->initiator) && !nostr_buf_append(out, full.data, full.len))
			rc = nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "negentropy: out of memory for the answer");
	}
	nostr_buf_free(&full);
	return rc;
}
