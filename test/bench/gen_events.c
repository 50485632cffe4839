/*
 * gen_events.c: signs N events that look like the Nostr network (libsecp256k1 through src/nostr, so
 * 50,000 take seconds, not the minutes nostr-tools would) and writes them one JSON object a line: the
 * synchronizer benchmark's relay load. Deterministic for a given seed.
 *
 * The mix: text notes (kind 1, ~48 %; lengths from a few words to a few KB, replies with e/p tags
 * carrying relay hints and markers, hashtags from a 20,000-word vocabulary, imeta and r tags),
 * reactions (7), reposts (6, the reposted event as content), comments (1111, NIP-22 E/K/P/e/k/p),
 * long-form articles (30023 with d/title/summary/published_at), zap receipts (9735 with bolt11 and a
 * zap-request description), profiles (0), follow lists (3, up to 120 p tags) and relay lists (10002).
 * Content has UTF-8 (accents, emoji), quotes, backslashes and newlines, so parsing sees escapes. Every
 * e/p value is a random 64-hex id; authors are KEYS keys, skewed (a few post a lot); created_at is
 * uniform over the SPAN seconds before END.
 *
 * On stderr, one summary line of what was written: average content bytes, average tags JSON bytes,
 * tag values per event, distinct authors, kinds.
 *   usage: gen_events N END [KEYS=5000] [SPAN=345600] [SEED=1] > events.jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/event.h"
#include "nostr/keys.h"

#define VOCAB 20000
#define MAXKEYS 100000
#define MAXTAGS 200

static unsigned long long state = 0x9E3779B97F4A7C15ULL;

static unsigned long long
next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* uniform in [lo, hi] */
static long
rnd(long lo, long hi)
{
	return lo + (long) (next() % (unsigned long long) (hi - lo + 1));
}

static double
unit(void)
{
	return (next() >> 11) * (1.0 / 9007199254740992.0);
}

/* A growable string. */
typedef struct sbuf
{
	char	   *s;
	size_t		len,
				cap;
} sbuf;

static void
sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (b->s == NULL)
			exit(3);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_hex(sbuf *b, int bytes)
{
	static const char digits[] = "0123456789abcdef";
	char		h[2];

	for (int i = 0; i < bytes; i++)
	{
		unsigned	v = (unsigned) (next() & 0xff);

		h[0] = digits[v >> 4];
		h[1] = digits[v & 15];
		sb_add(b, h, 2);
	}
}

static const char *common[] = {
	"the", "a", "to", "and", "of", "is", "in", "it", "you", "that", "for", "on", "this", "with",
	"nostr", "bitcoin", "relay", "zap", "gm", "just", "like", "people", "time", "now", "good",
	"think", "know", "really", "new", "why", "how", "what", "but", "not", "all", "are", "was",
	"be", "have", "so", "if", "we", "my", "your", "one", "more", "today", "lightning", "freedom",
	"café", "naïve", "über", "señor", "🚀", "🤙", "💜", "⚡", "😂", "🫂", "日本語", "привет",
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

static char vocab[VOCAB][16];

static void
make_vocab(void)
{
	for (int i = 0; i < VOCAB; i++)
	{
		int			n = (int) rnd(3, 12);

		for (int j = 0; j < n; j++)
			vocab[i][j] = (char) ('a' + next() % 26);
		vocab[i][n] = '\0';
	}
}

/* Text of about target bytes: words, punctuation, escapes, sometimes a URL or a nostr: mention. */
static void
text(sbuf *b, long target)
{
	size_t		start = b->len;

	while ((long) (b->len - start) < target)
	{
		unsigned	r = (unsigned) (next() % 100);

		if (b->len > start)
			sb_str(b, r < 3 ? "\n" : r < 5 ? ". " : r < 6 ? ", " : " ");
		r = (unsigned) (next() % 100);
		if (r < 70)
			sb_str(b, common[next() % NCOMMON]);
		else if (r < 93)
			sb_str(b, vocab[next() % VOCAB]);
		else if (r < 95)
		{
			sb_str(b, "\"");
			sb_str(b, vocab[next() % VOCAB]);
			sb_str(b, "\"");
		}
		else if (r < 96)
			sb_str(b, "C:\\path\\to");
		else if (r < 98)
		{
			sb_str(b, "https://");
			sb_str(b, vocab[next() % VOCAB]);
			sb_str(b, ".com/");
			sb_hex(b, 6);
		}
		else
		{
			sb_str(b, "nostr:npub1");
			for (int j = 0; j < 58; j++)
				sb_add(b, &"qpzry9x8gf2tvdw0s3jn54khce6mua7l"[next() % 32], 1);
		}
	}
}

/* Tags under construction: values live in one arena, tag i has vals[i][0..n[i]). */
typedef struct tagset
{
	int			count;
	int			n[MAXTAGS];
	sbuf		v[MAXTAGS][6];
} tagset;

static void
tag_begin(tagset *t)
{
	if (t->count < MAXTAGS)
	{
		for (int j = 0; j < 6; j++)
			t->v[t->count][j].len = 0;
		t->n[t->count] = 0;
		t->count++;
	}
}

static sbuf *
tag_val(tagset *t)
{
	int			i = t->count - 1;
	sbuf	   *b = &t->v[i][t->n[i] < 6 ? t->n[i]++ : 5];

	b->len = 0;
	sb_add(b, "", 0);
	return b;
}

static void
tag2(tagset *t, const char *name, const char *value)
{
	tag_begin(t);
	sb_str(tag_val(t), name);
	sb_str(tag_val(t), value);
}

static void
tag_hex(tagset *t, const char *name, int hint)
{
	tag_begin(t);
	sb_str(tag_val(t), name);
	sb_hex(tag_val(t), 32);
	if (hint)
	{
		sbuf	   *r = tag_val(t);

		sb_str(r, "wss://");
		sb_str(r, vocab[next() % 400]);
		sb_str(r, ".relay.example");
		if (hint > 1)
			sb_str(tag_val(t), next() % 2 ? "reply" : "root");
	}
}

static void
hashtags(tagset *t, int max)
{
	for (int i = (int) rnd(0, max); i > 0; i--)
		tag2(t, "t", vocab[next() % VOCAB]);
}

int
main(int argc, char **argv)
{
	long		n = argc > 1 ? atol(argv[1]) : 1000;
	long long	end = argc > 2 ? atoll(argv[2]) : 1700000000LL;
	int			nkeys = argc > 3 ? atoi(argv[3]) : 5000;
	long		span = argc > 4 ? atol(argv[4]) : 4 * 86400;
	unsigned long long seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
	static uint8_t keys[MAXKEYS][32];
	static unsigned char used[MAXKEYS];
	static tagset tags;
	static long kind_count[65536];
	sbuf		content = {0};
	long		content_bytes = 0,
				tags_bytes = 0,
				tag_values = 0,
				authors = 0;

	if (nkeys < 1 || nkeys > MAXKEYS || n < 0 || span < 1)
	{
		fprintf(stderr, "usage: gen_events N END [KEYS<=%d] [SPAN] [SEED]\n", MAXKEYS);
		return 2;
	}
	state ^= seed * 0xD1B54A32D192ED03ULL;
	for (int i = 0; i < 8; i++)
		next();
	make_vocab();
	for (int k = 0; k < nkeys; k++)
	{
		memset(keys[k], 0, 32);
		keys[k][0] = 0x6b;
		keys[k][28] = (uint8_t) (seed & 0xff);
		keys[k][29] = (uint8_t) (k >> 16);
		keys[k][30] = (uint8_t) (k >> 8);
		keys[k][31] = (uint8_t) (k + 1);
	}
	for (long i = 0; i < n; i++)
	{
		nostr_event ev;
		nostr_error err;
		unsigned	r = (unsigned) (next() % 1000);
		int			kind;
		int			author = (int) (nkeys * unit() * unit());	/* skewed: low keys post more */
		char	   *json;
		size_t		len;
		const char *tp,
				   *cp;

		if (author >= nkeys)
			author = nkeys - 1;
		tags.count = 0;
		content.len = 0;
		sb_add(&content, "", 0);
		if (r < 480)
		{
			long		len_target = r < 300 ? rnd(10, 300) : r < 430 ? rnd(260, 900) : rnd(900, 3000);

			kind = 1;
			text(&content, len_target);
			if (next() % 100 < 55)
			{
				tag_hex(&tags, "e", 2);
				if (next() % 2)
					tag_hex(&tags, "e", 2);
				tag_hex(&tags, "p", 0);
				for (int j = (int) rnd(0, 2); j > 0; j--)
					tag_hex(&tags, "p", 0);
			}
			hashtags(&tags, 3);
			if (next() % 100 < 15)
			{
				tag_begin(&tags);
				sb_str(tag_val(&tags), "imeta");
				sb_str(tag_val(&tags), "url https://image.example/");
				sb_hex(&tags.v[tags.count - 1][1], 32);
				sb_str(&tags.v[tags.count - 1][1], ".jpg");
				sb_str(tag_val(&tags), "m image/jpeg");
				sb_str(tag_val(&tags), next() % 2 ? "dim 1080x1350" : "dim 4032x3024");
				sb_str(tag_val(&tags), "x ");
				sb_hex(&tags.v[tags.count - 1][4], 32);
			}
			if (next() % 100 < 8)
			{
				tag_begin(&tags);
				sb_str(tag_val(&tags), "r");
				sb_str(tag_val(&tags), "https://");
				sb_str(&tags.v[tags.count - 1][1], vocab[next() % VOCAB]);
				sb_str(&tags.v[tags.count - 1][1], ".com/article");
			}
		}
		else if (r < 700)
		{
			kind = 7;
			sb_str(&content, next() % 3 ? "+" : common[NCOMMON - 1 - next() % 10]);
			tag_hex(&tags, "e", next() % 3 ? 1 : 0);
			tag_hex(&tags, "p", 0);
			tag2(&tags, "k", "1");
		}
		else if (r < 760)
		{
			kind = 6;
			tag_hex(&tags, "e", 1);
			tag_hex(&tags, "p", 0);
			if (next() % 3)
			{
				/* the reposted event's JSON, escaped inside this one's content */
				sb_str(&content, "{\"id\":\"");
				sb_hex(&content, 32);
				sb_str(&content, "\",\"pubkey\":\"");
				sb_hex(&content, 32);
				sb_str(&content, "\",\"created_at\":1712345678,\"kind\":1,\"tags\":[],\"content\":\"");
				text(&content, rnd(40, 300));
				sb_str(&content, "\",\"sig\":\"");
				sb_hex(&content, 64);
				sb_str(&content, "\"}");
			}
		}
		else if (r < 810)
		{
			kind = 1111;
			text(&content, rnd(20, 700));
			tag_hex(&tags, "E", 1);
			tag2(&tags, "K", "1");
			tag_hex(&tags, "P", 0);
			tag_hex(&tags, "e", 1);
			tag2(&tags, "k", "1");
			tag_hex(&tags, "p", 0);
		}
		else if (r < 825)
		{
			char		num[32];

			kind = 30023;
			text(&content, rnd(1500, 7000));
			tag_begin(&tags);
			sb_str(tag_val(&tags), "d");
			sb_str(tag_val(&tags), vocab[next() % VOCAB]);
			sb_str(&tags.v[tags.count - 1][1], "-");
			sb_hex(&tags.v[tags.count - 1][1], 4);
			tag_begin(&tags);
			sb_str(tag_val(&tags), "title");
			text(tag_val(&tags), rnd(10, 60));
			tag_begin(&tags);
			sb_str(tag_val(&tags), "summary");
			text(tag_val(&tags), rnd(40, 160));
			snprintf(num, sizeof(num), "%lld", end - span - (long long) rnd(0, 86400 * 30));
			tag2(&tags, "published_at", num);
			hashtags(&tags, 4);
		}
		else if (r < 880)
		{
			sbuf	   *d;

			kind = 9735;
			tag_hex(&tags, "p", 0);
			tag_hex(&tags, "e", 0);
			tag_hex(&tags, "P", 0);
			tag_begin(&tags);
			sb_str(tag_val(&tags), "bolt11");
			d = tag_val(&tags);
			sb_str(d, "lnbc210n1p");
			for (int j = 0; j < 250; j++)
				sb_add(d, &"qpzry9x8gf2tvdw0s3jn54khce6mua7l"[next() % 32], 1);
			tag_begin(&tags);
			sb_str(tag_val(&tags), "description");
			d = tag_val(&tags);
			sb_str(d, "{\"kind\":9734,\"content\":\"\",\"tags\":[[\"p\",\"");
			sb_hex(d, 32);
			sb_str(d, "\"],[\"amount\",\"21000\"],[\"relays\",\"wss://a.example\"]],\"pubkey\":\"");
			sb_hex(d, 32);
			sb_str(d, "\",\"created_at\":1712345678,\"id\":\"");
			sb_hex(d, 32);
			sb_str(d, "\",\"sig\":\"");
			sb_hex(d, 64);
			sb_str(d, "\"}");
			tag_begin(&tags);
			sb_str(tag_val(&tags), "preimage");
			sb_hex(tag_val(&tags), 32);
		}
		else if (r < 950)
		{
			/* profile: JSON in content */
			kind = 0;
			sb_str(&content, "{\"name\":\"");
			sb_str(&content, vocab[next() % VOCAB]);
			sb_str(&content, "\",\"about\":\"");
			text(&content, rnd(40, 400));
			sb_str(&content, "\",\"picture\":\"https://image.example/");
			sb_hex(&content, 16);
			sb_str(&content, ".png\",\"nip05\":\"");
			sb_str(&content, vocab[next() % VOCAB]);
			sb_str(&content, "@example.com\",\"lud16\":\"");
			sb_str(&content, vocab[next() % VOCAB]);
			sb_str(&content, "@walletofsatoshi.com\"}");
		}
		else if (r < 962)
		{
			kind = 3;
			for (int j = (int) rnd(5, 120); j > 0; j--)
				tag_hex(&tags, "p", 0);
		}
		else if (r < 975)
		{
			kind = 10002;
			for (int j = (int) rnd(2, 8); j > 0; j--)
			{
				tag_begin(&tags);
				sb_str(tag_val(&tags), "r");
				sb_str(tag_val(&tags), "wss://");
				sb_str(&tags.v[tags.count - 1][1], vocab[next() % 400]);
				sb_str(&tags.v[tags.count - 1][1], ".relay.example");
				if (next() % 3 == 0)
					sb_str(tag_val(&tags), next() % 2 ? "read" : "write");
			}
		}
		else
		{
			/* short notes without tags, the long tail of small events */
			kind = 1;
			text(&content, rnd(5, 80));
		}

		if (nostr_event_init(&ev, end - (long long) (next() % (unsigned long long) span), kind,
							 content.s, content.len, &err) != NOSTR_OK)
			goto fail;
		for (int t = 0; t < tags.count; t++)
		{
			const char *vals[6];
			size_t		lens[6];

			for (int j = 0; j < tags.n[t]; j++)
			{
				vals[j] = tags.v[t][j].s;
				lens[j] = tags.v[t][j].len;
			}
			tag_values += tags.n[t] - 1;
			if (nostr_event_add_tag(&ev, vals, lens, (size_t) tags.n[t], &err) != NOSTR_OK)
				goto fail;
		}
		if (nostr_event_sign(&ev, keys[author], &err) != NOSTR_OK ||
			(json = nostr_event_to_json(&ev, &len)) == NULL)
			goto fail;
		/* the tags JSON: from "tags": to the ,"content": that follows it (no string holds ," unescaped) */
		tp = strstr(json, "\"tags\":");
		cp = tp ? strstr(tp, ",\"content\":") : NULL;
		if (tp && cp)
			tags_bytes += (long) (cp - (tp + 7));
		content_bytes += (long) content.len;
		kind_count[kind]++;
		if (!used[author])
		{
			used[author] = 1;
			authors++;
		}
		fwrite(json, 1, len, stdout);
		fputc('\n', stdout);
		free(json);
		nostr_event_free(&ev);
		continue;
fail:
		fprintf(stderr, "event %ld: %s\n", i, err.message);
		return 1;
	}
	if (n > 0)
	{
		int			nk = 0;

		for (int k = 0; k < 65536; k++)
			nk += kind_count[k] > 0;
		fprintf(stderr, "%ld events: content %.0f B avg, tags JSON %.0f B avg, %.1f tag values/event, "
				"%ld distinct authors, %d kinds (", n, (double) content_bytes / n, (double) tags_bytes / n,
				(double) tag_values / n, authors, nk);
		for (int k = 0, first = 1; k < 65536; k++)
			if (kind_count[k])
			{
				fprintf(stderr, "%s%d: %.1f%%", first ? "" : ", ", k, 100.0 * kind_count[k] / n);
				first = 0;
			}
		fprintf(stderr, ")\n");
	}
	free(content.s);
	return 0;
}
