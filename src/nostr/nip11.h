/*
 * nip11.h: maps a NIP-11 relay information document onto the columns of the nip11 table. Known
 * fields keep their documented types (wrong-typed ones are dropped and named, so the caller can log
 * and count them); unknown fields go to extra_fields. The result is a JSON object that PostgreSQL's
 * jsonb is guaranteed to accept: values it cannot store (U+0000 in a string or key, numbers beyond
 * numeric's range) are dropped too, so one odd document never fails a whole batch.
 */
#ifndef BIGBROTR_NOSTR_NIP11_H
#define BIGBROTR_NOSTR_NIP11_H

#include <stddef.h>

#include "nostr/error.h"

#define NOSTR_NIP11_DROPPED_MAX 256

typedef struct nostr_nip11
{
	/*
	 * {"name": ..., "supported_nips": [...], "limitation": {...}, "extra_fields": {...}}: only the
	 * fields present with a usable value; extra_fields only when there is an unknown field.
	 * malloc'd, NUL-terminated: free with nostr_nip11_free.
	 */
	char	   *json;
	size_t		json_len;
	int			known;			/* known fields kept */
	int			extra;			/* unknown fields kept in extra_fields */
	int			wrong_type;		/* known fields dropped for their type */
	int			unstorable;		/* fields dropped because PostgreSQL could not store them */
	char		dropped[NOSTR_NIP11_DROPPED_MAX];	/* "icon (number), x (unstorable)": for logs */
} nostr_nip11;

/*
 * Maps body[0..len). NOSTR_ERR_BAD_JSON / NOSTR_ERR_BAD_UTF8 when it is not JSON, NOSTR_ERR_BAD_FIELD
 * when it is JSON but not an object (the message names the type), NOSTR_ERR_NO_MEMORY. On failure
 * out needs no freeing.
 */
int			nostr_nip11_map(const char *body, size_t len, nostr_nip11 *out, nostr_error *err);
void		nostr_nip11_free(nostr_nip11 *doc);

#endif							/* BIGBROTR_NOSTR_NIP11_H */
