/*
 * http_client.h: concurrent HTTP(S) GETs on one libcurl multi handle, driven in short slices by the
 * caller's loop (so a worker checks for interrupts between slices). Bodies are size-capped, TLS is
 * verified, only http/https are followed, and connections to loopback/private/link-local addresses
 * are refused unless the client allows them. No PostgreSQL headers: memory is malloc'd and released by
 * http_client_destroy.
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
	HTTP_FAILED					/* DNS, connection, TLS or protocol error: see error */
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

/* Creates a client; NULL with *error set on failure. */
HttpClient *http_client_create(const HttpClientOptions *options, char *error, size_t error_len);

/* Queues a request; it runs during http_client_run. Returns false (and sets req->error) on failure. */
bool		http_client_add(HttpClient *client, HttpRequest *req);

/*
 * Drives transfers for at most slice_ms (keep it ~100 ms). Finished requests get their outcome.
 * Returns how many requests are still running.
 */
int			http_client_run(HttpClient *client, int slice_ms);

/* Frees every request's body and the client (requests themselves belong to the caller). */
void		http_client_destroy(HttpClient *client);

const char *http_outcome_name(HttpOutcome outcome);

/* Whether an http(s) URL's host is a .onion address (reached only through Tor). */
bool		http_url_is_onion(const char *url);

#endif							/* BIGBROTR_NET_HTTP_CLIENT_H */
