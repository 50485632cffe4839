/*
 * http_client.c: libcurl multi glue for concurrent, size-capped, address-checked HTTP GETs.
 * Private targets are refused in CURLOPT_OPENSOCKETFUNCTION, after resolution, so a public hostname
 * that resolves to a private address (or a redirect to one) is refused too.
 *
 * Every libcurl call's result is checked. A refused option fails that one request, naming the
 * option; a failed transfer carries curl's own message (CURLOPT_ERRORBUFFER); a failed multi call
 * fails the requests in flight with curl_multi_strerror, so no caller loop waits forever.
 *
 * .onion names follow the nostr layer's one rule (nostr_host_in_onion_tld, nostr_host_is_onion_v3):
 * a v3 onion goes only through the SOCKS proxy, any other name in the .onion TLD is refused before
 * anything is sent, and no direct request ever asks DNS about an .onion name, not even after a
 * redirect (CURLOPT_RESOLVER_START_FUNCTION; libcurl 7.88 would resolve it).
 */
#include "net/http_client.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nostr/relay_url.h"

struct HttpClient
{
	CURLM	   *multi;
	HttpClientOptions options;
	char	   *socks_proxy;
	char	   *user_agent;
	HttpRequest **requests;
	int			nrequests;
	int			capacity;
	int			running;
};

typedef struct RequestState
{
	HttpClient *client;
	HttpRequest *req;
	CURL	   *easy;
	struct curl_slist *headers;
	size_t		capacity;
	bool		refused_private;
	bool		refused_onion;	/* a direct request was about to resolve an .onion name */
	bool		too_large;
	bool		out_of_memory;	/* the body could not be grown */
	const char *failed_option;	/* the first option curl refused, and why */
	CURLcode	failed_code;
	char		lookup_host[NOSTR_RELAY_HOST_MAX];	/* the host of the last lookup asked for */
	char		errbuf[CURL_ERROR_SIZE];	/* CURLOPT_ERRORBUFFER: curl's message for a failed transfer */
} RequestState;

/*
 * Sets an option on the request's easy handle and keeps the first refusal (option name and code):
 * http_client_add then fails the request with it instead of starting a half-configured transfer.
 */
#define SET_OPTION(st, option, value) \
	note_option((st), #option, curl_easy_setopt((st)->easy, option, value))

static bool curl_ready = false;

const char *
http_outcome_name(HttpOutcome outcome)
{
	switch (outcome)
	{
		case HTTP_PENDING:
			return "pending";
		case HTTP_DONE:
			return "done";
		case HTTP_TOO_LARGE:
			return "too_large";
		case HTTP_TIMEOUT:
			return "timeout";
		case HTTP_REFUSED_PRIVATE:
			return "refused_private_address";
		case HTTP_FAILED:
			return "failed";
	}
	return "unknown";
}

static void
note_option(RequestState *st, const char *name, CURLcode rc)
{
	if (rc != CURLE_OK && st->failed_option == NULL)
	{
		st->failed_option = name;
		st->failed_code = rc;
	}
}

/*
 * The host of an http(s) URL as curl will use it (IDN names in punycode), into host[host_len].
 * False with error set when curl cannot parse the URL or the host does not fit.
 */
static bool
url_host(const char *url, char *host, size_t host_len, char *error, size_t error_len)
{
	CURLU	   *h = curl_url();
	char	   *part = NULL;
	CURLUcode	rc;
	bool		ok = false;

	if (h == NULL)
	{
		snprintf(error, error_len, "out of memory parsing the URL");
		return false;
	}
	/* Guess the scheme as CURLOPT_URL does, so both read the URL the same way. */
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_GUESS_SCHEME);
	if (rc == CURLUE_OK)
		rc = curl_url_get(h, CURLUPART_HOST, &part, CURLU_PUNYCODE);
	if (rc != CURLUE_OK)
		snprintf(error, error_len, "bad URL: %s", curl_url_strerror(rc));
	else if (strlen(part) >= host_len)
		snprintf(error, error_len, "host name longer than %zu bytes", host_len - 1);
	else
	{
		strcpy(host, part);
		ok = true;
	}
	curl_free(part);
	curl_url_cleanup(h);
	return ok;
}

bool
http_url_is_onion(const char *url)
{
	char		host[NOSTR_RELAY_HOST_MAX];
	char		error[128];

	return url_host(url, host, sizeof(host), error, sizeof(error)) &&
		nostr_host_is_onion_v3(host, strlen(host));
}

HttpClient *
http_client_create(const HttpClientOptions *options, HttpCreateFailure *failure, char *error,
				   size_t error_len)
{
	HttpClient *client;
	HttpCreateFailure ignored;
	CURLcode	rc;

	if (failure == NULL)
		failure = &ignored;
	if (!curl_ready)
	{
		if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		{
			*failure = rc == CURLE_OUT_OF_MEMORY ? HTTP_CREATE_NO_MEMORY : HTTP_CREATE_LIBRARY;
			snprintf(error, error_len, "curl_global_init failed: %s", curl_easy_strerror(rc));
			return NULL;
		}
		curl_ready = true;
	}
	client = calloc(1, sizeof(HttpClient));
	if (client == NULL)
	{
		*failure = HTTP_CREATE_NO_MEMORY;
		snprintf(error, error_len, "out of memory");
		return NULL;
	}
	client->multi = curl_multi_init();
	if (client->multi == NULL)
	{
		free(client);
		/* curl_multi_init fails only when it cannot allocate */
		*failure = HTTP_CREATE_NO_MEMORY;
		snprintf(error, error_len, "curl_multi_init failed: out of memory");
		return NULL;
	}
	client->options = *options;
	client->socks_proxy = options->socks_proxy ? strdup(options->socks_proxy) : NULL;
	client->user_agent = strdup(options->user_agent ? options->user_agent : "bigbrotr");
	if (client->user_agent == NULL || (options->socks_proxy && client->socks_proxy == NULL))
	{
		http_client_destroy(client);
		*failure = HTTP_CREATE_NO_MEMORY;
		snprintf(error, error_len, "out of memory");
		return NULL;
	}
	client->options.socks_proxy = client->socks_proxy;
	client->options.user_agent = client->user_agent;
	return client;
}

static size_t
write_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	RequestState *st = userdata;
	HttpRequest *req = st->req;
	size_t		n = size * nmemb;

	if (req->body_len + n > req->max_body)
	{
		st->too_large = true;
		return 0;				/* makes curl abort the transfer */
	}
	if (req->body_len + n + 1 > st->capacity)
	{
		size_t		cap = st->capacity ? st->capacity : 4096;
		char	   *grown;

		while (cap < req->body_len + n + 1)
			cap *= 2;
		grown = realloc(req->body, cap);
		if (grown == NULL)
		{
			st->out_of_memory = true;
			return 0;			/* makes curl abort the transfer */
		}
		req->body = grown;
		st->capacity = cap;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
	return n;
}

static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	RequestState *st = clientp;

	/* Through Tor the socket goes to the local proxy, which resolves and connects for us. */
	if (!st->req->via_tor && !st->client->options.allow_private_addresses &&
		nostr_sockaddr_is_private(&address->addr))
	{
		st->refused_private = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * Runs before every name lookup of the request: its own host, a redirect's, or the proxy's. A
 * direct request never asks DNS about an .onion name (the query itself would leak it), so a
 * redirect to one ends the transfer here. Through Tor the lookup is of the proxy's name.
 */
static int
resolver_start(void *resolver_state, void *reserved, void *userdata)
{
	RequestState *st = userdata;
	char	   *url = NULL;
	char		error[128];

	if (st->req->via_tor)
		return 0;
	if (curl_easy_getinfo(st->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == NULL ||
		!url_host(url, st->lookup_host, sizeof(st->lookup_host), error, sizeof(error)))
	{
		/* Unknown target: do not resolve what might be an .onion name. */
		snprintf(st->lookup_host, sizeof(st->lookup_host), "(a host curl could not report)");
		st->refused_onion = true;
		return 1;
	}
	if (nostr_host_in_onion_tld(st->lookup_host, strlen(st->lookup_host)))
	{
		st->refused_onion = true;
		return 1;
	}
	return 0;
}

/* Frees a request's curl state; the handle must not be in the multi handle. */
static void
discard_state(HttpRequest *req, RequestState *st)
{
	curl_slist_free_all(st->headers);
	curl_easy_cleanup(st->easy);
	free(st);
	req->internal = NULL;
}

static bool
refuse_request(HttpRequest *req, const char *fmt,...)
__attribute__((format(printf, 2, 3)));

/* Fails a request before it starts: outcome HTTP_FAILED, the reason in req->error. */
static bool
refuse_request(HttpRequest *req, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
	req->outcome = HTTP_FAILED;
	return false;
}

bool
http_client_add(HttpClient *client, HttpRequest *req)
{
	RequestState *st;
	CURL	   *easy;
	char		host[NOSTR_RELAY_HOST_MAX];
	char		error[128];
	CURLMcode	mrc;

	req->outcome = HTTP_PENDING;
	req->status = 0;
	req->body = NULL;
	req->body_len = 0;
	req->content_type = NULL;
	req->error[0] = '\0';
	req->internal = NULL;

	/* The one onion rule decides what may be asked of whom, before anything is sent. */
	if (!url_host(req->url, host, sizeof(host), error, sizeof(error)))
		return refuse_request(req, "%s", error);
	if (nostr_host_in_onion_tld(host, strlen(host)))
	{
		if (!nostr_host_is_onion_v3(host, strlen(host)))
			return refuse_request(req, "%s is not a valid v3 onion address (56 base32 characters with "
								  "checksum): refused, no network can resolve it", host);
		if (!req->via_tor)
			return refuse_request(req, "an .onion host is reachable only through Tor");
	}
	if (req->via_tor && client->options.socks_proxy == NULL)
		return refuse_request(req, "no Tor proxy configured");

	if (client->nrequests == client->capacity)
	{
		int			cap = client->capacity ? client->capacity * 2 : 16;
		HttpRequest **grown = realloc(client->requests, sizeof(HttpRequest *) * cap);

		if (grown == NULL)
			return refuse_request(req, "out of memory");
		client->requests = grown;
		client->capacity = cap;
	}

	st = calloc(1, sizeof(RequestState));
	easy = curl_easy_init();
	if (st == NULL || easy == NULL)
	{
		free(st);
		if (easy)
			curl_easy_cleanup(easy);
		return refuse_request(req, "could not create a curl handle");
	}
	st->client = client;
	st->req = req;
	st->easy = easy;
	req->internal = st;

	/* Where curl writes its own message when the transfer fails. */
	SET_OPTION(st, CURLOPT_ERRORBUFFER, st->errbuf);
	SET_OPTION(st, CURLOPT_URL, req->url);
	SET_OPTION(st, CURLOPT_PRIVATE, st);
	SET_OPTION(st, CURLOPT_PROTOCOLS_STR, "http,https");
	SET_OPTION(st, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET_OPTION(st, CURLOPT_FOLLOWLOCATION, client->options.max_redirects > 0 ? 1L : 0L);
	SET_OPTION(st, CURLOPT_MAXREDIRS, client->options.max_redirects);
	SET_OPTION(st, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	SET_OPTION(st, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	SET_OPTION(st, CURLOPT_NOSIGNAL, 1L);
	SET_OPTION(st, CURLOPT_SSL_VERIFYPEER, 1L);
	SET_OPTION(st, CURLOPT_SSL_VERIFYHOST, 2L);
	SET_OPTION(st, CURLOPT_ACCEPT_ENCODING, "");
	SET_OPTION(st, CURLOPT_USERAGENT, client->options.user_agent);
	SET_OPTION(st, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_body);
	SET_OPTION(st, CURLOPT_WRITEFUNCTION, write_body);
	SET_OPTION(st, CURLOPT_WRITEDATA, st);
	SET_OPTION(st, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET_OPTION(st, CURLOPT_OPENSOCKETDATA, st);
	SET_OPTION(st, CURLOPT_RESOLVER_START_FUNCTION, resolver_start);
	SET_OPTION(st, CURLOPT_RESOLVER_START_DATA, st);
	/* Through Tor: the SOCKS proxy; otherwise none, whatever the *_proxy environment variables say. */
	SET_OPTION(st, CURLOPT_PROXY, req->via_tor ? client->options.socks_proxy : "");
	if (req->accept)
	{
		char		header[256];
		struct curl_slist *list;

		if (snprintf(header, sizeof(header), "Accept: %s", req->accept) >= (int) sizeof(header))
		{
			discard_state(req, st);
			return refuse_request(req, "Accept header longer than %zu bytes", sizeof(header) - 1);
		}
		list = curl_slist_append(NULL, header);
		if (list == NULL)
		{
			discard_state(req, st);
			return refuse_request(req, "out of memory building the Accept header");
		}
		st->headers = list;
		SET_OPTION(st, CURLOPT_HTTPHEADER, st->headers);
	}
	if (st->failed_option)
	{
		const char *name = st->failed_option;
		CURLcode	rc = st->failed_code;

		discard_state(req, st);
		return refuse_request(req, "could not set %s: %s", name, curl_easy_strerror(rc));
	}

	if ((mrc = curl_multi_add_handle(client->multi, easy)) != CURLM_OK)
	{
		discard_state(req, st);
		return refuse_request(req, "curl_multi_add_handle failed: %s", curl_multi_strerror(mrc));
	}
	client->requests[client->nrequests++] = req;
	client->running++;
	return true;
}

/* The request an easy handle belongs to: its CURLOPT_PRIVATE, or a search if curl cannot say. */
static RequestState *
state_of(HttpClient *client, CURL *easy)
{
	RequestState *st = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &st) == CURLE_OK && st != NULL)
		return st;
	for (int i = 0; i < client->nrequests; i++)
	{
		st = client->requests[i]->internal;
		if (st && st->easy == easy)
			return st;
	}
	return NULL;
}

/* Takes a request out of the multi handle and frees its curl state; false if curl refused. */
static bool
detach(HttpClient *client, HttpRequest *req, RequestState *st, CURLMcode *rc)
{
	*rc = curl_multi_remove_handle(client->multi, st->easy);
	/* curl_easy_cleanup detaches the handle itself if the removal failed. */
	discard_state(req, st);
	client->running--;
	return *rc == CURLM_OK;
}

static void
drop_body(HttpRequest *req)
{
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
}

static void
finish_request(HttpClient *client, CURL *easy, CURLcode result)
{
	RequestState *st = state_of(client, easy);
	HttpRequest *req;
	char	   *ctype = NULL;
	double		total = 0;
	const char *curl_text;
	CURLMcode	mrc;

	if (st == NULL)
	{
		/* Not one of ours (cannot happen): take it out so it is not reported again. */
		if (curl_multi_remove_handle(client->multi, easy) == CURLM_OK)
			curl_easy_cleanup(easy);
		return;
	}
	req = st->req;
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &req->status) != CURLE_OK)
		req->status = 0;
	if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &total) == CURLE_OK)
		req->elapsed_ms = total * 1000.0;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		req->content_type = strdup(ctype);
	curl_text = st->errbuf[0] ? st->errbuf : curl_easy_strerror(result);

	if (result == CURLE_OK)
		req->outcome = HTTP_DONE;
	else if (st->too_large || result == CURLE_FILESIZE_EXCEEDED)
	{
		req->outcome = HTTP_TOO_LARGE;
		snprintf(req->error, sizeof(req->error), "response body larger than %zu bytes", req->max_body);
	}
	else if (st->refused_private)
	{
		req->outcome = HTTP_REFUSED_PRIVATE;
		snprintf(req->error, sizeof(req->error),
				 "refused to connect to a loopback, private or link-local address");
	}
	else if (st->out_of_memory)
	{
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error), "out of memory growing the response body past %zu bytes",
				 req->body_len);
	}
	else if (st->refused_onion)
	{
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error),
				 "refused to look up %s: an .onion host is reachable only through Tor", st->lookup_host);
	}
	else if (result == CURLE_OPERATION_TIMEDOUT)
	{
		req->outcome = HTTP_TIMEOUT;
		snprintf(req->error, sizeof(req->error), "timed out after %ld ms (%s)", req->timeout_ms, curl_text);
	}
	else
	{
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error), "%s", curl_text);
	}
	if (!detach(client, req, st, &mrc) && req->outcome == HTTP_DONE)
	{
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error), "curl_multi_remove_handle failed: %s",
				 curl_multi_strerror(mrc));
	}
	if (req->outcome != HTTP_DONE)
		drop_body(req);
}

/*
 * A multi call failed: the transfers in flight cannot be trusted to progress, so each one fails
 * with the call and curl's message (the caller's loop ends instead of waiting on them).
 */
static void
fail_running(HttpClient *client, const char *call, CURLMcode rc)
{
	for (int i = 0; i < client->nrequests; i++)
	{
		HttpRequest *req = client->requests[i];
		RequestState *st = req->internal;
		CURLMcode	ignored;

		if (st == NULL)
			continue;
		detach(client, req, st, &ignored);
		drop_body(req);
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error), "%s failed: %s", call, curl_multi_strerror(rc));
	}
}

int
http_client_run(HttpClient *client, int slice_ms)
{
	int			still_running = 0;
	CURLMsg    *msg;
	int			left;
	CURLMcode	rc;
	const char *call = "curl_multi_perform";

	if (client->running == 0)
		return 0;
	rc = curl_multi_perform(client->multi, &still_running);
	if (rc == CURLM_OK && still_running > 0)
	{
		call = "curl_multi_poll";
		rc = curl_multi_poll(client->multi, NULL, 0, slice_ms, NULL);
		if (rc == CURLM_OK)
		{
			call = "curl_multi_perform";
			rc = curl_multi_perform(client->multi, &still_running);
		}
	}
	/* Transfers that did finish keep their own outcome, even when the multi call failed. */
	while ((msg = curl_multi_info_read(client->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			finish_request(client, msg->easy_handle, msg->data.result);
	if (rc != CURLM_OK)
		fail_running(client, call, rc);
	return client->running;
}

void
http_client_destroy(HttpClient *client)
{
	if (client == NULL)
		return;
	for (int i = 0; i < client->nrequests; i++)
	{
		HttpRequest *req = client->requests[i];
		RequestState *st = req->internal;

		if (st)
		{
			CURLMcode	ignored;

			/* Nobody is left to tell of a failed removal: the handle is freed either way. */
			detach(client, req, st, &ignored);
		}
		free(req->body);
		req->body = NULL;
		free(req->content_type);
		req->content_type = NULL;
	}
	/* Only CURLM_BAD_HANDLE (not a multi handle) or a call from a callback can fail it. */
	(void) curl_multi_cleanup(client->multi);
	free(client->requests);
	free(client->socks_proxy);
	free(client->user_agent);
	free(client);
}
