/*
 * buf.h: a growable byte buffer used by the serializers. Appends never fail loudly: the first
 * allocation failure sets `failed`, later appends become no-ops, and the caller checks once at
 * the end. The data is always NUL-terminated when not failed and non-empty.
 */
#ifndef BIGBROTR_NOSTR_BUF_H
#define BIGBROTR_NOSTR_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nostr_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} nostr_buf;

void		nostr_buf_init(nostr_buf *b);
void		nostr_buf_free(nostr_buf *b);
/* Makes room for at least `extra` more bytes plus a NUL; false (and failed set) on ENOMEM. */
bool		nostr_buf_reserve(nostr_buf *b, size_t extra);
bool		nostr_buf_append(nostr_buf *b, const void *data, size_t len);
bool		nostr_buf_append_str(nostr_buf *b, const char *s);
bool		nostr_buf_putc(nostr_buf *b, char c);
bool		nostr_buf_append_int64(nostr_buf *b, long long v);

/*
 * Hands the buffer's memory to the caller (free() it); *len_out gets its length. Returns NULL
 * if any append failed (the buffer is freed then). The buffer is left empty and reusable.
 */
char	   *nostr_buf_steal(nostr_buf *b, size_t *len_out);

#endif							/* BIGBROTR_NOSTR_BUF_H */
