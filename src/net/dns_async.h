/*
 * dns_async.h: name lookups that never block the caller, on glibc's getaddrinfo_a (link -lanl).
 * A lookup is started, then polled from the caller's loop; one given up on before glibc is done with
 * it goes to an orphan list until it completes, since glibc still writes into it. No PostgreSQL
 * headers: memory is malloc'd.
 */
#ifndef BIGBROTR_NET_DNS_ASYNC_H
#define BIGBROTR_NET_DNS_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

struct addrinfo;

typedef struct DnsLookup DnsLookup;

/* Starts resolving host (TCP, any family). NULL with error set when it cannot even start. */
DnsLookup  *dns_lookup_start(const char *host, int port, char *error, size_t error_len);

/* 0 when resolved, EAI_INPROGRESS while running, another EAI_* code (see gai_strerror) on failure. */
int			dns_lookup_poll(DnsLookup *lookup);

/* The addresses of a resolved lookup (owned by it). */
const struct addrinfo *dns_lookup_result(const DnsLookup *lookup);

/* Frees a lookup that poll reported finished (resolved or failed). */
void		dns_lookup_free(DnsLookup *lookup);

/* Gives up on a lookup in any state: freed now, or put on *orphans if glibc still holds it. */
void		dns_lookup_abandon(DnsLookup **orphans, DnsLookup *lookup);

/* Frees the orphans glibc has finished with; true while some remain. */
bool		dns_orphans_reap(DnsLookup **orphans);

#endif							/* BIGBROTR_NET_DNS_ASYNC_H */
