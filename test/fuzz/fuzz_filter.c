/*
 * fuzz_filter.c: libFuzzer target for the strict filter reader and the client messages a relay
 * receives. The first byte picks the input: a filter object, a client message (each of its filters
 * read too), or a query string ("name=value&..."). Oracle: every accepted filter, written out with
 * nostr_build_req and read back, is the same filter.
 */
#include <stdlib.h>
#include <string.h>

#include "nostr/filter.h"

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool
same_filter(const nostr_filter *a, const nostr_filter *b)
{
	if ((a->ids == NULL) != (b->ids == NULL) || a->ids_count != b->ids_count ||
		(a->ids_count && memcmp(a->ids, b->ids, 32 * a->ids_count) != 0))
		return false;
	if ((a->authors == NULL) != (b->authors == NULL) || a->authors_count != b->authors_count ||
		(a->authors_count && memcmp(a->authors, b->authors, 32 * a->authors_count) != 0))
		return false;
	if ((a->kinds == NULL) != (b->kinds == NULL) || a->kinds_count != b->kinds_count ||
		(a->kinds_count && memcmp(a->kinds, b->kinds, sizeof(int32_t) * a->kinds_count) != 0))
		return false;
	if (a->tags_count != b->tags_count)
		return false;
	for (size_t t = 0; t < a->tags_count; t++)
	{
		if (a->tags[t].letter != b->tags[t].letter || a->tags[t].count != b->tags[t].count)
			return false;
		for (size_t i = 0; i < a->tags[t].count; i++)
			if (strcmp(a->tags[t].values[i], b->tags[t].values[i]) != 0)
				return false;
	}
	return a->has_since == b->has_since && (!a->has_since || a->since == b->since) &&
		a->has_until == b->has_until && (!a->has_until || a->until == b->until) &&
		a->has_limit == b->has_limit && (!a->has_limit || a->limit == b->limit);
}

static void
check_round_trip(const nostr_parsed_filter *pf)
{
	nostr_error err;
	size_t		len;
	char	   *req = nostr_build_req("fuzz", &pf->f, 1, &len, &err);
	nostr_client_msg m;
	nostr_parsed_filter again;

	if (!req)
		abort();
	if (nostr_client_msg_parse(req, len, 0, &m, &err) != NOSTR_OK || m.type != NOSTR_CLIENT_REQ ||
		m.filters_count != 1)
		abort();
	if (nostr_filter_parse_json(m.filters[0], strlen(m.filters[0]), false, &again, &err) != NOSTR_OK)
		abort();
	if (!same_filter(&pf->f, &again.f))
		abort();
	nostr_filter_free(&again);
	nostr_client_msg_free(&m);
	free(req);
}

static void
one_filter(const char *text, size_t len, bool api)
{
	nostr_parsed_filter pf;
	nostr_error err;

	if (nostr_filter_parse_json(text, len, api, &pf, &err) != NOSTR_OK)
		return;
	check_round_trip(&pf);
	nostr_filter_free(&pf);
}

static void
query_string(const char *s, size_t len)
{
	char	   *copy = malloc(len + 1);
	const char *names[64];
	const char *values[64];
	size_t		n = 0;
	char	   *p = copy;
	static const char *const ignore[] = {"format", NULL};
	nostr_parsed_filter pf;
	nostr_error err;

	memcpy(copy, s, len);
	copy[len] = '\0';
	while (n < 64)
	{
		char	   *amp = strchr(p, '&');
		char	   *eq;

		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		names[n] = p;
		values[n] = eq ? eq + 1 : "";
		n++;
		if (!amp)
			break;
		p = amp + 1;
	}
	if (nostr_filter_from_params(names, values, n, ignore, &pf, &err) == NOSTR_OK)
	{
		check_round_trip(&pf);
		nostr_filter_free(&pf);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *text = (const char *) data + 1;
	nostr_client_msg m;
	nostr_error err;

	if (size < 1)
		return 0;
	size--;
	switch (data[0] % 4)
	{
		case 0:
			one_filter(text, size, false);
			break;
		case 1:
			one_filter(text, size, true);
			break;
		case 2:
			if (nostr_client_msg_parse(text, size, 1 << 20, &m, &err) == NOSTR_OK)
			{
				for (size_t i = 0; i < m.filters_count; i++)
					one_filter(m.filters[i], strlen(m.filters[i]), false);
				nostr_client_msg_free(&m);
			}
			break;
		default:
			query_string(text, size);
	}
	return 0;
}
