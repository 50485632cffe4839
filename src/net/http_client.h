/*
 * http_client.h: concurrent HTTP(S) GETs on one libcurl multi handle, driven in short slices by the
 * caller's loop (so a worker checks for interrupts between slices). Bodies are size-capped, TLS is
 * verified, only http/https are followed, and connections to loopback/private/link-local addresses
 * are refused unless the client allows them. No PostgreSQL headers: memory is malloc'd and released by
 * http_client_destroy.
 *
 * .onion hosts (the nostr layer's one rule, nostr/relay_url.h): a valid v3 onion is requested only
 * via_tor; a name in the .onion TLD that is not a valid v3 address is refused by http_client_add
 * (it can resolve nowhere, and asking DNS would leak it); a direct request redirected to an .onion
 * host fails before its lookup. Every failure, libcurl's included, reaches the caller as
 * outcome and error: curl's own message for a failed transfer, the option's name when curl
 * refuses one, the multi call and curl_multi_strerror when the multi handle fails.
 */
#ifndef BIGBROTR_NET_HTTP_CLIENT_H
#define BIGBROTR_NET_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct HttpClient HttpClient;

typedef struct HttpClientOptions
{
	bool		allow_private_addresses;
	const char *socks_proxy;	/* "socks5h://host:port" for requests made via_tor; NULL: none */
	const char *user_agent;
	long		max_redirects;
} HttpClientOptions;

typedef enum HttpOutcome
{
	HTTP_PENDING = 0,
	HTTP_DONE,					/* a response arrived (any status) and the body is complete */
	HTTP_TOO_LARGE,				/* the body exceeded max_body */
	HTTP_TIMEOUT,
	HTTP_REFUSED_PRIVATE,		/* the target resolved to a refused address */
	HTTP_FAILED					/* DNS, connection, TLS, protocol or libcurl error, or a refused
								 * request: see error */
} HttpOutcome;

typedef struct HttpRequest
{
	/* set by the caller */
	const char *url;
	long		timeout_ms;
	size_t		max_body;
	const char *accept;			/* Accept header, or NULL */
	bool		via_tor;		/* through the SOCKS proxy (the proxy resolves the host) */
	void	   *user;

	/* set by the client */
	HttpOutcome outcome;
	long		status;			/* HTTP status, 0 if none */
	char	   *body;			/* NUL-terminated, body_len bytes (may hold NULs) */
	size_t		body_len;
	char	   *content_type;
	double		elapsed_ms;
	char		error[256];

	void	   *internal;
} HttpRequest;

/* Why http_client_create failed. */
typedef enum HttpCreateFailure
{
	HTTP_CREATE_NO_MEMORY,
	HTTP_CREATE_LIBRARY			/* libcurl could not be initialized */
} HttpCreateFailure;

/* Creates a client; NULL with *error (and *failure, when not NULL) set on failure. */
HttpClient *http_client_create(const HttpClientOptions *options, HttpCreateFailure *failure,
							   char *error, size_t error_len);

/*
 * Queues a request; it runs during http_client_run. Returns false, with outcome HTTP_FAILED and
 * req->error set, when it cannot start: a URL curl cannot parse, an invalid .onion name, a v3 onion
 * without via_tor, via_tor without a proxy, an option curl refuses ("could not set CURLOPT_...: ...").
 */
bool		http_client_add(HttpClient *client, HttpRequest *req);

/*
 * Drives transfers for at most slice_ms (keep it ~100 ms). Finished requests get their outcome.
 * Returns how many requests are still running.
 */
int			http_client_run(HttpClient *client, int slice_ms);

/* Frees every request's body and the client (requests themselves belong to the caller). */
void		http_client_destroy(HttpClient *client);

const char *http_outcome_name(HttpOutcome outcome);

/*
 * Whether an http(s) URL's host is a valid v3 .onion address (nostr_host_is_onion_v3), which is
 * reached only through Tor. False for clearnet hosts, unparsable URLs and invalid .onion names.
 */
bool		http_url_is_onion(const char *url);

#endif							/* BIGBROTR_NET_HTTP_CLIENT_H */
