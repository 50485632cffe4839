/* buf.c: the growable byte buffer behind every serializer in the nostr layer. */
#include "nostr/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
nostr_buf_init(nostr_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void
nostr_buf_free(nostr_buf *b)
{
	free(b->data);
	nostr_buf_init(b);
}

bool
nostr_buf_reserve(nostr_buf *b, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *p;

	if (b->failed)
		return false;
	/* +1 keeps room for the terminating NUL that steal() promises. */
	if (extra > SIZE_MAX - b->len - 1)
	{
		b->failed = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
	{
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

bool
nostr_buf_append(nostr_buf *b, const void *data, size_t len)
{
	if (!nostr_buf_reserve(b, len))
		return false;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

bool
nostr_buf_append_str(nostr_buf *b, const char *s)
{
	return nostr_buf_append(b, s, strlen(s));
}

bool
nostr_buf_putc(nostr_buf *b, char c)
{
	if (!nostr_buf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return true;
}

bool
nostr_buf_append_int64(nostr_buf *b, long long v)
{
	char		tmp[24];
	int			n = snprintf(tmp, sizeof(tmp), "%lld", v);

	return nostr_buf_append(b, tmp, (size_t) n);
}

char *
nostr_buf_steal(nostr_buf *b, size_t *len_out)
{
	char	   *p;

	if (b->failed)
	{
		nostr_buf_free(b);
		return NULL;
	}
	if (!nostr_buf_reserve(b, 0))
	{
		nostr_buf_free(b);
		return NULL;
	}
	b->data[b->len] = '\0';
	p = b->data;
	if (len_out)
		*len_out = b->len;
	nostr_buf_init(b);
	return p;
}
