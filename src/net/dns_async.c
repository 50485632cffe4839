/*
 * dns_async.c: getaddrinfo_a lookups, polled with gai_error and never waited on (see dns_async.h).
 * glibc runs each lookup on a helper thread of its own, created with every signal blocked, so a
 * PostgreSQL worker's signal handling is not disturbed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* getaddrinfo_a */
#endif
#include "net/dns_async.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nostr/relay_url.h"

struct DnsLookup
{
	struct gaicb cb;			/* glibc writes the result and status here */
	struct addrinfo hints;
	DnsLookup  *next;			/* in an orphan list */
	char		name[NOSTR_RELAY_HOST_MAX];
	char		service[8];
};

DnsLookup *
dns_lookup_start(const char *host, int port, char *error, size_t error_len)
{
	DnsLookup  *q = calloc(1, sizeof(DnsLookup));
	struct gaicb *list[1];
	int			rc;

	if (q == NULL)
	{
		snprintf(error, error_len, "out of memory");
		return NULL;
	}
	snprintf(q->name, sizeof(q->name), "%s", host);
	snprintf(q->service, sizeof(q->service), "%d", port);
	q->hints.ai_family = AF_UNSPEC;
	q->hints.ai_socktype = SOCK_STREAM;
	q->cb.ar_name = q->name;
	q->cb.ar_service = q->service;
	q->cb.ar_request = &q->hints;
	list[0] = &q->cb;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0)
	{
		free(q);
		snprintf(error, error_len, "could not start resolving %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	return q;
}

int
dns_lookup_poll(DnsLookup *lookup)
{
	return gai_error(&lookup->cb);
}

const struct addrinfo *
dns_lookup_result(const DnsLookup *lookup)
{
	return lookup->cb.ar_result;
}

void
dns_lookup_free(DnsLookup *lookup)
{
	if (lookup->cb.ar_result)
		freeaddrinfo(lookup->cb.ar_result);
	free(lookup);
}

void
dns_lookup_abandon(DnsLookup **orphans, DnsLookup *lookup)
{
	int			rc = gai_cancel(&lookup->cb);

	if (rc == EAI_NOTCANCELED)
	{
		lookup->next = *orphans;
		*orphans = lookup;
		return;
	}
	if (rc == EAI_CANCELED)
		lookup->cb.ar_result = NULL;
	dns_lookup_free(lookup);
}

bool
dns_orphans_reap(DnsLookup **orphans)
{
	DnsLookup **link = orphans;

	while (*link)
	{
		DnsLookup  *q = *link;

		if (gai_error(&q->cb) == EAI_INPROGRESS)
		{
			link = &q->next;
			continue;
		}
		*link = q->next;
		dns_lookup_free(q);
	}
	return *orphans != NULL;
}
