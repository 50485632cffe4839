/*
 * event.c: NIP-01 events: strict parsing, canonical serialization, id hashing (OpenSSL SHA-256),
 * BIP-340 verification (libsecp256k1), building in C and full-JSON output.
 */
#include "nostr/event.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "nostr/buf.h"
#include "nostr/hex.h"
#include "nostr/json.h"
#include "nostr/utf8.h"

/*
 * What an event owns besides tags (one block, or a realloc'd array when built) and tags_json:
 * a list of blocks holding strings and tag item arrays.
 */
typedef struct event_priv
{
	void	  **blocks;
	size_t		nblocks;
	size_t		cap;
	size_t		tag_cap;		/* capacity of ev->tags when built with add_tag */
	void	   *inline_blocks[2];
} event_priv;

static event_priv *
priv_new(void)
{
	event_priv *p = calloc(1, sizeof(event_priv));

	if (p)
	{
		p->blocks = p->inline_blocks;
		p->cap = 2;
	}
	return p;
}

static bool
priv_own(event_priv *p, void *block)
{
	if (p->nblocks == p->cap)
	{
		size_t		cap = p->cap * 2;
		void	  **b = p->blocks == p->inline_blocks ? malloc(cap * sizeof(void *))
		: realloc(p->blocks, cap * sizeof(void *));

		if (!b)
			return false;
		if (p->blocks == p->inline_blocks)
			memcpy(b, p->inline_blocks, sizeof(p->inline_blocks));
		p->blocks = b;
		p->cap = cap;
	}
	p->blocks[p->nblocks++] = block;
	return true;
}

void
nostr_event_free(nostr_event *ev)
{
	event_priv *p;
	size_t		i;

	if (!ev)
		return;
	p = ev->priv;
	if (p)
	{
		for (i = 0; i < p->nblocks; i++)
			free(p->blocks[i]);
		if (p->blocks != p->inline_blocks)
			free(p->blocks);
		free(p);
	}
	free(ev->tags);
	free(ev->tags_json);
	memset(ev, 0, sizeof(*ev));
}

/* ---- serialization ---- */

static bool
write_tags(nostr_buf *b, const nostr_event *ev)
{
	size_t		t,
				i;

	nostr_buf_putc(b, '[');
	for (t = 0; t < ev->tag_count; t++)
	{
		const nostr_tag *tag = &ev->tags[t];

		if (t)
			nostr_buf_putc(b, ',');
		nostr_buf_putc(b, '[');
		for (i = 0; i < tag->count; i++)
		{
			if (i)
				nostr_buf_putc(b, ',');
			nostr_json_write_string(b, tag->items[i].ptr, tag->items[i].len);
		}
		nostr_buf_putc(b, ']');
	}
	return nostr_buf_putc(b, ']');
}

static int
refresh_tags_json(nostr_event *ev, nostr_error *err)
{
	nostr_buf	b;
	char	   *s;
	size_t		n;

	nostr_buf_init(&b);
	write_tags(&b, ev);
	s = nostr_buf_steal(&b, &n);
	if (!s)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory serializing tags");
	free(ev->tags_json);
	ev->tags_json = s;
	ev->tags_json_len = n;
	return NOSTR_OK;
}

/* Appends the canonical form to b (uses tags_json when present, since it is the same text). */
static bool
write_canonical(nostr_buf *b, const nostr_event *ev)
{
	char		pk[65];

	nostr_hex_encode(ev->pubkey, 32, pk);
	/* Reserve the common case at once: fixed part + tags + content without escapes. */
	nostr_buf_reserve(b, 100 + ev->tags_json_len + ev->content_len);
	nostr_buf_append(b, "[0,\"", 4);
	nostr_buf_append(b, pk, 64);
	nostr_buf_append(b, "\",", 2);
	nostr_buf_append_int64(b, (long long) ev->created_at);
	nostr_buf_putc(b, ',');
	nostr_buf_append_int64(b, (long long) ev->kind);
	nostr_buf_putc(b, ',');
	if (ev->tags_json)
		nostr_buf_append(b, ev->tags_json, ev->tags_json_len);
	else
		write_tags(b, ev);
	nostr_buf_putc(b, ',');
	nostr_json_write_string(b, ev->content ? ev->content : "", ev->content_len);
	return nostr_buf_putc(b, ']');
}

char *
nostr_event_serialize_canonical(const nostr_event *ev, size_t *len_out)
{
	nostr_buf	b;

	nostr_buf_init(&b);
	write_canonical(&b, ev);
	return nostr_buf_steal(&b, len_out);
}

static int
hash_event(const nostr_event *ev, uint8_t out[32], nostr_error *err)
{
	size_t		len;
	char	   *canonical = nostr_event_serialize_canonical(ev, &len);

	if (canonical == NULL)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory serializing event");
	SHA256((const unsigned char *) canonical, len, out);
	free(canonical);
	return NOSTR_OK;
}

int
nostr_event_compute_id(nostr_event *ev, uint8_t out[32], nostr_error *err)
{
	int			rc = refresh_tags_json(ev, err);

	if (rc != NOSTR_OK)
		return rc;
	return hash_event(ev, out, err);
}

/* ---- parsing ---- */

enum
{
	F_ID, F_PUBKEY, F_CREATED_AT, F_KIND, F_TAGS, F_CONTENT, F_SIG, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"id", "pubkey", "created_at", "kind", "tags", "content", "sig"
};

static int
field_of(const nostr_json_node *n)
{
	int			f;

	for (f = 0; f < F_COUNT; f++)
		if (strlen(field_names[f]) == n->key_len && memcmp(field_names[f], n->key, n->key_len) == 0)
			return f;
	return -1;
}

static int
parse_hex_field(const nostr_json_node *n, const char *name, uint8_t *out, size_t bytes,
				nostr_error *err)
{
	if (n->type != NOSTR_JSON_STRING)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected a string, got %s",
							   name, nostr_json_type_name(n->type, true));
	if (n->len != 2 * bytes)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected %zu hex digits, got %zu characters",
							   name, 2 * bytes, n->len);
	if (!nostr_hex_decode(n->str, n->len, out, bytes, false))
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: not lower-case hex", name);
	return NOSTR_OK;
}

static int
parse_int_field(const nostr_json_node *n, const char *name, int64_t max, int64_t *out,
				nostr_error *err)
{
	if (n->type != NOSTR_JSON_NUMBER)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: expected an integer, got %s",
							   name, nostr_json_type_name(n->type, true));
	if (!n->number_is_integer)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: fraction or exponent not allowed", name);
	if (n->str[0] == '-')
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: negative", name);
	if (!nostr_json_get_int64(n, out) || *out > max)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "%s: out of range (max %lld)",
							   name, (long long) max);
	return NOSTR_OK;
}

/* Validates tags and lays them out in one block: tag array, then all item arrays. */
static int
build_tags(const nostr_json_doc *doc, size_t tags_idx, nostr_event *ev, nostr_error *err)
{
	const nostr_json_node *tags = &doc->nodes[tags_idx];
	size_t		total = 0;
	size_t		t,
				c,
				i;
	nostr_tag  *out;
	nostr_str  *items;

	if (tags->type != NOSTR_JSON_ARRAY)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "tags: expected an array, got %s",
							   nostr_json_type_name(tags->type, true));
	for (t = 0, c = tags_idx + 1; t < tags->count; t++, c = doc->nodes[c].next)
	{
		const nostr_json_node *tag = &doc->nodes[c];
		size_t		j;

		if (tag->type != NOSTR_JSON_ARRAY)
			return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "tags[%zu]: expected an array, got %s",
								   t, nostr_json_type_name(tag->type, true));
		for (i = 0, j = c + 1; i < tag->count; i++, j = doc->nodes[j].next)
			if (doc->nodes[j].type != NOSTR_JSON_STRING)
				return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "tags[%zu][%zu]: expected a string, got %s",
									   t, i, nostr_json_type_name(doc->nodes[j].type, true));
		total += tag->count;
	}
	ev->tag_count = tags->count;
	if (tags->count == 0)
		return NOSTR_OK;
	out = malloc(tags->count * sizeof(nostr_tag) + total * sizeof(nostr_str));
	if (!out)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory for tags");
	items = (nostr_str *) (out + tags->count);
	for (t = 0, c = tags_idx + 1; t < tags->count; t++, c = doc->nodes[c].next)
	{
		const nostr_json_node *tag = &doc->nodes[c];
		size_t		j;

		out[t].items = items;
		out[t].count = tag->count;
		for (i = 0, j = c + 1; i < tag->count; i++, j = doc->nodes[j].next)
		{
			items->ptr = doc->nodes[j].str;
			items->len = doc->nodes[j].len;
			items++;
		}
	}
	ev->tags = out;
	return NOSTR_OK;
}

static int
parse_fields(nostr_json_doc *doc, size_t root_index, nostr_event *ev, nostr_error *err)
{
	size_t		where[F_COUNT];
	const nostr_json_node *root = &doc->nodes[root_index];
	size_t		c;
	uint32_t	i;
	int			f,
				rc;
	int64_t		v;

	if (root->type != NOSTR_JSON_OBJECT)
		return nostr_error_set(err, NOSTR_ERR_BAD_JSON, "event: expected a JSON object, got %s",
							   nostr_json_type_name(root->type, true));
	for (f = 0; f < F_COUNT; f++)
		where[f] = 0;
	for (i = 0, c = nostr_json_first(doc, root_index); i < root->count; i++, c = doc->nodes[c].next)
	{
		f = field_of(&doc->nodes[c]);
		if (f < 0)
			continue;			/* unknown members are allowed and ignored */
		if (where[f])
			return nostr_error_set(err, NOSTR_ERR_DUPLICATE_FIELD, "%s: appears more than once",
								   field_names[f]);
		where[f] = c;
	}
	for (f = 0; f < F_COUNT; f++)
		if (!where[f])
			return nostr_error_set(err, NOSTR_ERR_MISSING_FIELD, "%s: missing", field_names[f]);

	if ((rc = parse_hex_field(&doc->nodes[where[F_ID]], "id", ev->id, 32, err)) != NOSTR_OK ||
		(rc = parse_hex_field(&doc->nodes[where[F_PUBKEY]], "pubkey", ev->pubkey, 32, err)) != NOSTR_OK ||
		(rc = parse_hex_field(&doc->nodes[where[F_SIG]], "sig", ev->sig, 64, err)) != NOSTR_OK)
		return rc;
	if ((rc = parse_int_field(&doc->nodes[where[F_CREATED_AT]], "created_at", INT64_MAX, &v, err)) != NOSTR_OK)
		return rc;
	ev->created_at = v;
	if ((rc = parse_int_field(&doc->nodes[where[F_KIND]], "kind", 65535, &v, err)) != NOSTR_OK)
		return rc;
	ev->kind = (int32_t) v;
	if (doc->nodes[where[F_CONTENT]].type != NOSTR_JSON_STRING)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "content: expected a string, got %s",
							   nostr_json_type_name(doc->nodes[where[F_CONTENT]].type, true));
	ev->content = doc->nodes[where[F_CONTENT]].str;
	ev->content_len = doc->nodes[where[F_CONTENT]].len;
	return build_tags(doc, where[F_TAGS], ev, err);
}

int
nostr_event_from_json(nostr_json_doc *doc, size_t node, nostr_event *out, nostr_error *err)
{
	event_priv *p;
	int			rc;

	memset(out, 0, sizeof(*out));
	p = priv_new();
	if (!p)
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	out->priv = p;
	rc = parse_fields(doc, node, out, err);
	if (rc == NOSTR_OK)
		rc = refresh_tags_json(out, err);
	if (rc == NOSTR_OK && !priv_own(p, doc->strings))
		rc = nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	if (rc != NOSTR_OK)
	{
		nostr_event_free(out);
		return rc;
	}
	/* The event now owns the decoded strings its fields point into. */
	doc->strings = NULL;
	nostr_error_clear(err);
	return NOSTR_OK;
}

int
nostr_event_parse(const char *json, size_t len, size_t max_size, nostr_event *out,
				  nostr_error *err)
{
	nostr_json_doc doc;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (max_size != NOSTR_EVENT_NO_LIMIT && len > max_size)
		return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "event is %zu bytes, limit is %zu",
							   len, max_size);
	/* Events need depth 3; the cap only bounds what unknown members may hold. */
	rc = nostr_json_parse(json, len, 32, &doc, err);
	if (rc != NOSTR_OK)
		return rc;
	rc = nostr_event_from_json(&doc, 0, out, err);
	nostr_json_free(&doc);
	return rc;
}

/* ---- verification ---- */

typedef struct cache_entry
{
	uint8_t		key[32];
	bool		used;
	secp256k1_xonly_pubkey pk;
} cache_entry;

struct nostr_pubkey_cache
{
	size_t		mask;
	cache_entry *entries;
};

nostr_pubkey_cache *
nostr_pubkey_cache_new(size_t slots)
{
	nostr_pubkey_cache *c;
	size_t		n = 1;

	if (slots == 0)
		slots = 1024;
	while (n < slots && n < ((size_t) 1 << 24))
		n <<= 1;
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	c->entries = calloc(n, sizeof(cache_entry));
	if (!c->entries)
	{
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

void
nostr_pubkey_cache_free(nostr_pubkey_cache *cache)
{
	if (!cache)
		return;
	free(cache->entries);
	free(cache);
}

/* Parses (or finds) the x-only key. Only successfully parsed keys are cached. */
static bool
load_pubkey(const uint8_t key[32], nostr_pubkey_cache *cache, secp256k1_xonly_pubkey *out)
{
	cache_entry *e = NULL;

	if (cache)
	{
		/* Keys are hashes of curve points, so their leading bytes are already uniform. */
		uint64_t	h;

		memcpy(&h, key, sizeof(h));
		e = &cache->entries[h & cache->mask];
		if (e->used && memcmp(e->key, key, 32) == 0)
		{
			*out = e->pk;
			return true;
		}
	}
	if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, out, key))
		return false;
	if (e)
	{
		memcpy(e->key, key, 32);
		e->pk = *out;
		e->used = true;
	}
	return true;
}

int
nostr_event_check_id(const nostr_event *ev, nostr_error *err)
{
	uint8_t		id[32];
	int			rc;

	rc = hash_event(ev, id, err);
	if (rc != NOSTR_OK)
		return rc;
	if (memcmp(id, ev->id, 32) != 0)
	{
		char		want[65];

		nostr_hex_encode(id, 32, want);
		return nostr_error_set(err, NOSTR_ERR_ID_MISMATCH,
							   "id: does not match the event's hash %s", want);
	}
	nostr_error_clear(err);
	return NOSTR_OK;
}

int
nostr_sig_verify(const uint8_t id[32], const uint8_t pubkey[32], const uint8_t sig[64],
				 nostr_pubkey_cache *cache, nostr_error *err)
{
	secp256k1_xonly_pubkey pk;

	if (!load_pubkey(pubkey, cache, &pk))
		return nostr_error_set(err, NOSTR_ERR_BAD_PUBKEY, "pubkey: not a valid x-only public key");
	if (!secp256k1_schnorrsig_verify(secp256k1_context_static, sig, id, 32, &pk))
		return nostr_error_set(err, NOSTR_ERR_BAD_SIGNATURE, "sig: BIP-340 verification failed");
	nostr_error_clear(err);
	return NOSTR_OK;
}

int
nostr_event_verify_cached(const nostr_event *ev, nostr_pubkey_cache *cache, nostr_error *err)
{
	int			rc = nostr_event_check_id(ev, err);

	if (rc != NOSTR_OK)
		return rc;
	return nostr_sig_verify(ev->id, ev->pubkey, ev->sig, cache, err);
}

int
nostr_event_parse_verify(const char *json, size_t len, size_t max_size,
						 nostr_pubkey_cache *cache, nostr_event *out, nostr_error *err)
{
	int			rc = nostr_event_parse(json, len, max_size, out, err);

	if (rc != NOSTR_OK)
		return rc;
	rc = nostr_event_verify_cached(out, cache, err);
	if (rc != NOSTR_OK)
		nostr_event_free(out);
	return rc;
}

bool
nostr_event_has_nul(const nostr_event *ev)
{
	size_t		t,
				i;

	if (ev->content_len && memchr(ev->content, '\0', ev->content_len))
		return true;
	for (t = 0; t < ev->tag_count; t++)
		for (i = 0; i < ev->tags[t].count; i++)
			if (ev->tags[t].items[i].len &&
				memchr(ev->tags[t].items[i].ptr, '\0', ev->tags[t].items[i].len))
				return true;
	return false;
}

/* ---- building ---- */

int
nostr_event_init(nostr_event *ev, int64_t created_at, int32_t kind, const char *content,
				 size_t content_len, nostr_error *err)
{
	event_priv *p;
	char	   *c;

	memset(ev, 0, sizeof(*ev));
	if (created_at < 0)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "created_at: negative");
	if (kind < 0 || kind > 65535)
		return nostr_error_set(err, NOSTR_ERR_BAD_FIELD, "kind: out of range 0..65535");
	if (!content && content_len)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "content: NULL with a length");
	if (!nostr_utf8_valid(content, content_len))
		return nostr_error_set(err, NOSTR_ERR_BAD_UTF8, "content: invalid UTF-8");
	p = priv_new();
	c = malloc(content_len + 1);
	if (!p || !c || !priv_own(p, c))
	{
		free(p);
		free(c);
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	}
	if (content_len)
		memcpy(c, content, content_len);
	c[content_len] = '\0';
	ev->priv = p;
	ev->created_at = created_at;
	ev->kind = kind;
	ev->content = c;
	ev->content_len = content_len;
	return NOSTR_OK;
}

int
nostr_event_add_tag(nostr_event *ev, const char *const *values, const size_t *lens, size_t n,
					nostr_error *err)
{
	event_priv *p = ev->priv;
	size_t		bytes = n * sizeof(nostr_str);
	size_t		i;
	char	   *block,
			   *s;
	nostr_str  *items;

	if (!p)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "event not initialized");
	for (i = 0; i < n; i++)
	{
		size_t		l = lens ? lens[i] : strlen(values[i]);

		if (!nostr_utf8_valid(values[i], l))
			return nostr_error_set(err, NOSTR_ERR_BAD_UTF8, "tag value %zu: invalid UTF-8", i);
		bytes += l + 1;
	}
	if (ev->tag_count == p->tag_cap)
	{
		size_t		cap = p->tag_cap ? p->tag_cap * 2 : 8;
		nostr_tag  *t = realloc(ev->tags, cap * sizeof(nostr_tag));

		if (!t)
			return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
		ev->tags = t;
		p->tag_cap = cap;
	}
	block = malloc(bytes ? bytes : 1);
	if (!block || !priv_own(p, block))
	{
		free(block);
		return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
	}
	items = (nostr_str *) block;
	s = block + n * sizeof(nostr_str);
	for (i = 0; i < n; i++)
	{
		size_t		l = lens ? lens[i] : strlen(values[i]);

		memcpy(s, values[i], l);
		s[l] = '\0';
		items[i].ptr = s;
		items[i].len = l;
		s += l + 1;
	}
	ev->tags[ev->tag_count].items = items;
	ev->tags[ev->tag_count].count = n;
	ev->tag_count++;
	/* The stored tags text is stale now; verify/sign serialize from the tags instead. */
	free(ev->tags_json);
	ev->tags_json = NULL;
	ev->tags_json_len = 0;
	return NOSTR_OK;
}

char *
nostr_event_to_json(const nostr_event *ev, size_t *len_out)
{
	nostr_buf	b;
	char		hex[129];

	nostr_buf_init(&b);
	nostr_hex_encode(ev->id, 32, hex);
	nostr_buf_append_str(&b, "{\"id\":\"");
	nostr_buf_append(&b, hex, 64);
	nostr_hex_encode(ev->pubkey, 32, hex);
	nostr_buf_append_str(&b, "\",\"pubkey\":\"");
	nostr_buf_append(&b, hex, 64);
	nostr_buf_append_str(&b, "\",\"created_at\":");
	nostr_buf_append_int64(&b, (long long) ev->created_at);
	nostr_buf_append_str(&b, ",\"kind\":");
	nostr_buf_append_int64(&b, (long long) ev->kind);
	nostr_buf_append_str(&b, ",\"tags\":");
	if (ev->tags_json)
		nostr_buf_append(&b, ev->tags_json, ev->tags_json_len);
	else
		write_tags(&b, ev);
	nostr_buf_append_str(&b, ",\"content\":");
	nostr_json_write_string(&b, ev->content ? ev->content : "", ev->content_len);
	nostr_hex_encode(ev->sig, 64, hex);
	nostr_buf_append_str(&b, ",\"sig\":\"");
	nostr_buf_append(&b, hex, 128);
	nostr_buf_append_str(&b, "\"}");
	return nostr_buf_steal(&b, len_out);
}
