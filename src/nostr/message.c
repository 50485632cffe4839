/*
 * message.c: relay->client message parsing (EVENT, EOSE, CLOSED, NOTICE, OK, AUTH, COUNT, NEG-MSG,
 * NEG-ERR) with strict shape checks, and client->relay message building (REQ, COUNT, CLOSE, EVENT,
 * AUTH, NEG-OPEN, NEG-MSG, NEG-CLOSE).
 */
#include "nostr/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/buf.h"
#include "nostr/hex.h"
#include "nostr/json.h"
#include "nostr/utf8.h"

static const struct
{
	const char *label;
	nostr_msg_type type;
	uint32_t	min_items;
	uint32_t	max_items;
}			msg_shapes[] = {
	{"EVENT", NOSTR_MSG_EVENT, 3, 3},
	{"EOSE", NOSTR_MSG_EOSE, 2, 2},
	{"CLOSED", NOSTR_MSG_CLOSED, 2, 3},	/* the message is required by NIP-01, tolerated absent */
	{"NOTICE", NOSTR_MSG_NOTICE, 2, 2},
	{"OK", NOSTR_MSG_OK, 3, 4},	/* likewise */
	{"AUTH", NOSTR_MSG_AUTH, 2, 2},
	{"COUNT", NOSTR_MSG_COUNT, 3, 3},
	{"NEG-MSG", NOSTR_MSG_NEG_MSG, 3, 3},
	{"NEG-ERR", NOSTR_MSG_NEG_ERR, 2, 3},	/* the reason is required by NIP-77, tolerated absent */
};

void
nostr_relay_msg_free(nostr_relay_msg *msg)
{
	if (!msg)
		return;
	nostr_event_free(&msg->event);
	free(msg->neg_msg);
	free(msg->priv);
	memset(msg, 0, sizeof(*msg));
}

/* "auth-required: we need you to..." -> "auth-required" */
static void
extract_prefix(const char *m, size_t n, char prefix[NOSTR_MSG_PREFIX_MAX])
{
	size_t		i;

	prefix[0] = '\0';
	for (i = 0; i < n && i < NOSTR_MSG_PREFIX_MAX - 1; i++)
		if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= '0' && m[i] <= '9') || m[i] == '-'))
			break;
	if (i == 0 || i >= n || m[i] != ':')
		return;
	if (i + 1 < n && m[i + 1] != ' ')
		return;
	memcpy(prefix, m, i);
	prefix[i] = '\0';
}

static int
bad(nostr_error *err, const char *label, const char *why)
{
	return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "%s: %s", label, why);
}

/* Fills out from the array's items; for EVENT, *event_node is the event object's node. */
static int
fill(const char *text, const nostr_json_doc *doc, nostr_relay_msg *out, const char *label,
	 size_t *event_node, nostr_error *err)
{
	const nostr_json_node *nodes = doc->nodes;
	const nostr_json_node *items[4];
	size_t		c = 2;			/* nodes[1] is the label */
	uint32_t	i;

	for (i = 1; i < nodes[0].count; i++, c = nodes[c].next)
		items[i] = &nodes[c];

	switch (out->type)
	{
		case NOSTR_MSG_EVENT:
		case NOSTR_MSG_EOSE:
		case NOSTR_MSG_CLOSED:
		case NOSTR_MSG_COUNT:
		case NOSTR_MSG_NEG_MSG:
		case NOSTR_MSG_NEG_ERR:
			if (items[1]->type != NOSTR_JSON_STRING)
				return bad(err, label, "subscription id is not a string");
			out->sub_id = items[1]->str;
			out->sub_id_len = items[1]->len;
			break;
		default:
			break;
	}
	switch (out->type)
	{
		case NOSTR_MSG_EVENT:
			if (items[2]->type != NOSTR_JSON_OBJECT)
				return bad(err, label, "event is not an object");
			out->event_json = text + items[2]->src_start;
			out->event_json_len = items[2]->src_end - items[2]->src_start;
			*event_node = (size_t) (items[2] - nodes);
			break;
		case NOSTR_MSG_EOSE:
			break;
		case NOSTR_MSG_CLOSED:
		case NOSTR_MSG_NEG_ERR:
		case NOSTR_MSG_NOTICE:
			{
				const nostr_json_node *m = out->type == NOSTR_MSG_NOTICE ? items[1] :
				(nodes[0].count > 2 ? items[2] : NULL);

				if (m && m->type != NOSTR_JSON_STRING)
					return bad(err, label, "message is not a string");
				out->message = m ? m->str : "";
				out->message_len = m ? m->len : 0;
				extract_prefix(out->message, out->message_len, out->prefix);
				break;
			}
		case NOSTR_MSG_OK:
			if (items[1]->type != NOSTR_JSON_STRING ||
				!nostr_hex_decode(items[1]->str, items[1]->len, out->event_id, 32, false))
				return bad(err, label, "event id is not 64 lower-case hex digits");
			if (items[2]->type != NOSTR_JSON_TRUE && items[2]->type != NOSTR_JSON_FALSE)
				return bad(err, label, "status is not a boolean");
			out->accepted = items[2]->type == NOSTR_JSON_TRUE;
			if (nodes[0].count > 3 && items[3]->type != NOSTR_JSON_STRING)
				return bad(err, label, "message is not a string");
			out->message = nodes[0].count > 3 ? items[3]->str : "";
			out->message_len = nodes[0].count > 3 ? items[3]->len : 0;
			extract_prefix(out->message, out->message_len, out->prefix);
			break;
		case NOSTR_MSG_NEG_MSG:
			{
				const nostr_json_node *h = items[2];
				size_t		n;

				if (h->type != NOSTR_JSON_STRING)
					return bad(err, label, "negentropy message is not a string");
				if (h->len == 0 || h->len % 2 != 0)
					return bad(err, label, "negentropy message is not hex of even, non-zero length");
				n = h->len / 2;
				if (n > NOSTR_NEG_MSG_MAX_BYTES)
					return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "%s: negentropy message of %zu bytes, limit %d",
										   label, n, NOSTR_NEG_MSG_MAX_BYTES);
				out->neg_msg = malloc(n);
				if (!out->neg_msg)
					return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
				if (!nostr_hex_decode(h->str, h->len, out->neg_msg, n, true))
				{
					free(out->neg_msg);
					out->neg_msg = NULL;
					return bad(err, label, "negentropy message is not hex");
				}
				out->neg_msg_len = n;
				break;
			}
		case NOSTR_MSG_AUTH:
			if (items[1]->type != NOSTR_JSON_STRING)
				return bad(err, label, "challenge is not a string");
			out->challenge = items[1]->str;
			out->challenge_len = items[1]->len;
			break;
		case NOSTR_MSG_COUNT:
			{
				size_t		obj = (size_t) (items[2] - nodes);
				size_t		cn,
							ap;
				int64_t		v;

				if (items[2]->type != NOSTR_JSON_OBJECT)
					return bad(err, label, "payload is not an object");
				cn = nostr_json_member(doc, obj, "count");
				if (cn == (size_t) -1)
					return bad(err, label, "count missing");
				if (!nostr_json_get_int64(&nodes[cn], &v) || v < 0)
					return bad(err, label, "count is not a non-negative integer");
				out->count = (uint64_t) v;
				ap = nostr_json_member(doc, obj, "approximate");
				if (ap != (size_t) -1)
				{
					if (nodes[ap].type != NOSTR_JSON_TRUE && nodes[ap].type != NOSTR_JSON_FALSE)
						return bad(err, label, "approximate is not a boolean");
					out->approximate = nodes[ap].type == NOSTR_JSON_TRUE;
				}
				break;
			}
	}
	return NOSTR_OK;
}

int
nostr_relay_msg_parse(const char *text, size_t len, size_t max_size, nostr_relay_msg *out,
					  nostr_error *err)
{
	nostr_json_doc doc;
	const nostr_json_node *label;
	size_t		i;
	size_t		event_node = 0;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (max_size != NOSTR_EVENT_NO_LIMIT && len > max_size)
		return nostr_error_set(err, NOSTR_ERR_TOO_LARGE, "message is %zu bytes, limit is %zu",
							   len, max_size);
	rc = nostr_json_parse(text, len, 32, &doc, err);
	if (rc != NOSTR_OK)
	{
		char		why[NOSTR_ERROR_MESSAGE_MAX];

		if (rc == NOSTR_ERR_NO_MEMORY)
			return rc;
		/* Copy first: the new message is written over the old one. */
		snprintf(why, sizeof(why), "%s", err ? err->message : "");
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "%s: %s", nostr_reason_code(rc), why);
	}
	if (doc.nodes[0].type != NOSTR_JSON_ARRAY || doc.nodes[0].count == 0 ||
		doc.nodes[1].type != NOSTR_JSON_STRING)
	{
		nostr_json_free(&doc);
		return nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "not an array starting with a string label");
	}
	label = &doc.nodes[1];
	for (i = 0; i < sizeof(msg_shapes) / sizeof(msg_shapes[0]); i++)
		if (strlen(msg_shapes[i].label) == label->len && memcmp(msg_shapes[i].label, label->str, label->len) == 0)
			break;
	if (i == sizeof(msg_shapes) / sizeof(msg_shapes[0]))
	{
		nostr_json_free(&doc);
		return nostr_error_set(err, NOSTR_ERR_UNKNOWN_MESSAGE, "unknown message type");
	}
	if (doc.nodes[0].count < msg_shapes[i].min_items || doc.nodes[0].count > msg_shapes[i].max_items)
	{
		rc = nostr_error_set(err, NOSTR_ERR_BAD_MESSAGE, "%s: %u elements, expected %u..%u",
							 msg_shapes[i].label, doc.nodes[0].count, msg_shapes[i].min_items,
							 msg_shapes[i].max_items);
		nostr_json_free(&doc);
		return rc;
	}
	out->type = msg_shapes[i].type;
	rc = fill(text, &doc, out, msg_shapes[i].label, &event_node, err);
	if (rc != NOSTR_OK)
	{
		free(out->neg_msg);
		nostr_json_free(&doc);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	if (out->type == NOSTR_MSG_EVENT)
	{
		nostr_error_clear(&out->event_error);
		out->event_status = nostr_event_from_json(&doc, event_node, &out->event, &out->event_error);
		if (out->event_status == NOSTR_ERR_NO_MEMORY)
		{
			nostr_json_free(&doc);
			memset(out, 0, sizeof(*out));
			return nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory");
		}
	}
	/*
	 * The decoded strings the message points into now belong to it, or to its event when the event
	 * took them (doc.strings is NULL then), which the message frees with it.
	 */
	out->priv = doc.strings;
	doc.strings = NULL;
	nostr_json_free(&doc);
	nostr_error_clear(err);
	return NOSTR_OK;
}

/* ---- building ---- */

static int
check_sub_id(const char *sub_id, nostr_error *err)
{
	size_t		n;

	if (!sub_id)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "subscription id is NULL");
	n = strlen(sub_id);
	if (n == 0 || n > 64)
		return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "subscription id must be 1..64 bytes");
	if (!nostr_utf8_valid(sub_id, n))
		return nostr_error_set(err, NOSTR_ERR_BAD_UTF8, "subscription id is not valid UTF-8");
	return NOSTR_OK;
}

static void
write_hex_list(nostr_buf *b, const char *name, const uint8_t (*list)[32], size_t n, bool *first)
{
	char		hex[65];
	size_t		i;

	if (!list)
		return;
	if (!*first)
		nostr_buf_putc(b, ',');
	*first = false;
	nostr_buf_putc(b, '"');
	nostr_buf_append_str(b, name);
	nostr_buf_append(b, "\":[", 3);
	for (i = 0; i < n; i++)
	{
		if (i)
			nostr_buf_putc(b, ',');
		nostr_hex_encode(list[i], 32, hex);
		nostr_buf_putc(b, '"');
		nostr_buf_append(b, hex, 64);
		nostr_buf_putc(b, '"');
	}
	nostr_buf_putc(b, ']');
}

static void
write_int_member(nostr_buf *b, const char *name, int64_t v, bool *first)
{
	if (!*first)
		nostr_buf_putc(b, ',');
	*first = false;
	nostr_buf_putc(b, '"');
	nostr_buf_append_str(b, name);
	nostr_buf_append(b, "\":", 2);
	nostr_buf_append_int64(b, (long long) v);
}

static int
write_filter(nostr_buf *b, const nostr_filter *f, nostr_error *err)
{
	bool		first = true;
	size_t		i,
				t;

	nostr_buf_putc(b, '{');
	write_hex_list(b, "ids", f->ids, f->ids_count, &first);
	write_hex_list(b, "authors", f->authors, f->authors_count, &first);
	if (f->kinds)
	{
		if (!first)
			nostr_buf_putc(b, ',');
		first = false;
		nostr_buf_append_str(b, "\"kinds\":[");
		for (i = 0; i < f->kinds_count; i++)
		{
			if (f->kinds[i] < 0 || f->kinds[i] > 65535)
				return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "filter kind %d out of 0..65535",
									   (int) f->kinds[i]);
			if (i)
				nostr_buf_putc(b, ',');
			nostr_buf_append_int64(b, f->kinds[i]);
		}
		nostr_buf_putc(b, ']');
	}
	for (t = 0; t < f->tags_count; t++)
	{
		const nostr_tag_filter *tf = &f->tags[t];
		char		c = tf->letter;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "tag filter letter must be a-z or A-Z");
		if (!first)
			nostr_buf_putc(b, ',');
		first = false;
		nostr_buf_append(b, "\"#", 2);
		nostr_buf_putc(b, c);
		nostr_buf_append(b, "\":[", 3);
		for (i = 0; i < tf->count; i++)
		{
			size_t		n = strlen(tf->values[i]);

			if (!nostr_utf8_valid(tf->values[i], n))
				return nostr_error_set(err, NOSTR_ERR_BAD_UTF8, "tag filter value is not valid UTF-8");
			if (i)
				nostr_buf_putc(b, ',');
			nostr_json_write_string(b, tf->values[i], n);
		}
		nostr_buf_putc(b, ']');
	}
	if (f->has_since)
		write_int_member(b, "since", f->since, &first);
	if (f->has_until)
		write_int_member(b, "until", f->until, &first);
	if (f->has_limit)
	{
		if (f->limit < 0)
			return nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "filter limit is negative");
		write_int_member(b, "limit", f->limit, &first);
	}
	nostr_buf_putc(b, '}');
	return NOSTR_OK;
}

static char *
finish(nostr_buf *b, size_t *len_out, nostr_error *err)
{
	char	   *s = nostr_buf_steal(b, len_out);

	if (!s)
		nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory building message");
	else
		nostr_error_clear(err);
	return s;
}

static char *
build_filters_msg(const char *label, const char *sub_id, const nostr_filter *filters,
				  size_t n_filters, size_t *len_out, nostr_error *err)
{
	nostr_buf	b;
	size_t		i;

	if (check_sub_id(sub_id, err) != NOSTR_OK)
		return NULL;
	if (n_filters == 0 || !filters)
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "%s needs at least one filter", label);
		return NULL;
	}
	nostr_buf_init(&b);
	nostr_buf_append(&b, "[\"", 2);
	nostr_buf_append_str(&b, label);
	nostr_buf_append(&b, "\",", 2);
	nostr_json_write_string(&b, sub_id, strlen(sub_id));
	for (i = 0; i < n_filters; i++)
	{
		nostr_buf_putc(&b, ',');
		if (write_filter(&b, &filters[i], err) != NOSTR_OK)
		{
			nostr_buf_free(&b);
			return NULL;
		}
	}
	nostr_buf_putc(&b, ']');
	return finish(&b, len_out, err);
}

char *
nostr_build_req(const char *sub_id, const nostr_filter *filters, size_t n_filters,
				size_t *len_out, nostr_error *err)
{
	return build_filters_msg("REQ", sub_id, filters, n_filters, len_out, err);
}

char *
nostr_build_count(const char *sub_id, const nostr_filter *filters, size_t n_filters,
				  size_t *len_out, nostr_error *err)
{
	return build_filters_msg("COUNT", sub_id, filters, n_filters, len_out, err);
}

char *
nostr_build_close(const char *sub_id, size_t *len_out, nostr_error *err)
{
	nostr_buf	b;

	if (check_sub_id(sub_id, err) != NOSTR_OK)
		return NULL;
	nostr_buf_init(&b);
	nostr_buf_append_str(&b, "[\"CLOSE\",");
	nostr_json_write_string(&b, sub_id, strlen(sub_id));
	nostr_buf_putc(&b, ']');
	return finish(&b, len_out, err);
}

/* [label, {event}] */
static char *
build_event_msg(const char *label, const nostr_event *ev, size_t *len_out, nostr_error *err)
{
	nostr_buf	b;
	size_t		n;
	char	   *json;

	if (!ev)
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "NULL event");
		return NULL;
	}
	json = nostr_event_to_json(ev, &n);
	if (!json)
	{
		nostr_error_set(err, NOSTR_ERR_NO_MEMORY, "out of memory building message");
		return NULL;
	}
	nostr_buf_init(&b);
	nostr_buf_append(&b, "[\"", 2);
	nostr_buf_append_str(&b, label);
	nostr_buf_append(&b, "\",", 2);
	nostr_buf_append(&b, json, n);
	nostr_buf_putc(&b, ']');
	free(json);
	return finish(&b, len_out, err);
}

char *
nostr_build_event(const nostr_event *ev, size_t *len_out, nostr_error *err)
{
	return build_event_msg("EVENT", ev, len_out, err);
}

char *
nostr_build_auth(const nostr_event *ev, size_t *len_out, nostr_error *err)
{
	return build_event_msg("AUTH", ev, len_out, err);
}

/* ---- NIP-77 ---- */

/* Starts [label, sub_id, and checks the negentropy message's size. */
static bool
neg_start(nostr_buf *b, const char *label, const char *sub_id, size_t msg_len, bool with_msg, nostr_error *err)
{
	if (check_sub_id(sub_id, err) != NOSTR_OK)
		return false;
	if (with_msg && (msg_len == 0 || msg_len > NOSTR_NEG_MSG_MAX_BYTES))
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "%s: negentropy message of %zu bytes (1..%d)", label,
						msg_len, NOSTR_NEG_MSG_MAX_BYTES);
		return false;
	}
	nostr_buf_init(b);
	nostr_buf_append(b, "[\"", 2);
	nostr_buf_append_str(b, label);
	nostr_buf_append(b, "\",", 2);
	nostr_json_write_string(b, sub_id, strlen(sub_id));
	return true;
}

/* ,"hex"] */
static char *
neg_finish(nostr_buf *b, const uint8_t *msg, size_t msg_len, size_t *len_out, nostr_error *err)
{
	nostr_buf_append(b, ",\"", 2);
	if (nostr_buf_reserve(b, msg_len * 2 + 2))
	{
		nostr_hex_encode(msg, msg_len, b->data + b->len);
		b->len += msg_len * 2;
	}
	nostr_buf_append(b, "\"]", 2);
	return finish(b, len_out, err);
}

char *
nostr_build_neg_open(const char *sub_id, const nostr_filter *filter, const uint8_t *msg, size_t msg_len,
					 size_t *len_out, nostr_error *err)
{
	nostr_buf	b;

	if (!filter)
	{
		nostr_error_set(err, NOSTR_ERR_BAD_ARGUMENT, "NEG-OPEN needs a filter");
		return NULL;
	}
	if (!neg_start(&b, "NEG-OPEN", sub_id, msg_len, true, err))
		return NULL;
	nostr_buf_putc(&b, ',');
	if (write_filter(&b, filter, err) != NOSTR_OK)
	{
		nostr_buf_free(&b);
		return NULL;
	}
	return neg_finish(&b, msg, msg_len, len_out, err);
}

char *
nostr_build_neg_msg(const char *sub_id, const uint8_t *msg, size_t msg_len, size_t *len_out, nostr_error *err)
{
	nostr_buf	b;

	if (!neg_start(&b, "NEG-MSG", sub_id, msg_len, true, err))
		return NULL;
	return neg_finish(&b, msg, msg_len, len_out, err);
}

char *
nostr_build_neg_close(const char *sub_id, size_t *len_out, nostr_error *err)
{
	nostr_buf	b;

	if (!neg_start(&b, "NEG-CLOSE", sub_id, 0, false, err))
		return NULL;
	nostr_buf_putc(&b, ']');
	return finish(&b, len_out, err);
}
