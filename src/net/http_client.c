/*
 * http_client.c: libcurl multi glue for concurrent, size-capped, address-checked HTTP GETs.
 * Private targets are refused in CURLOPT_OPENSOCKETFUNCTION, after resolution, so a public hostname
 * that resolves to a private address (or a redirect to one) is refused too.
 */
#include "net/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	bool		too_large;
} RequestState;

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

bool
http_url_is_onion(const char *url)
{
	CURLU	   *h = curl_url();
	char	   *host = NULL;
	bool		onion = false;

	if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
	{
		size_t		len = strlen(host);

		onion = len > 6 && strcasecmp(host + len - 6, ".onion") == 0;
	}
	curl_free(host);
	curl_url_cleanup(h);
	return onion;
}

HttpClient *
http_client_create(const HttpClientOptions *options, char *error, size_t error_len)
{
	HttpClient *client;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			snprintf(error, error_len, "curl_global_init failed");
			return NULL;
		}
		curl_ready = true;
	}
	client = calloc(1, sizeof(HttpClient));
	if (client == NULL)
	{
		snprintf(error, error_len, "out of memory");
		return NULL;
	}
	client->multi = curl_multi_init();
	if (client->multi == NULL)
	{
		free(client);
		snprintf(error, error_len, "curl_multi_init failed");
		return NULL;
	}
	client->options = *options;
	client->socks_proxy = options->socks_proxy ? strdup(options->socks_proxy) : NULL;
	client->user_agent = strdup(options->user_agent ? options->user_agent : "bigbrotr");
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
			return 0;
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

bool
http_client_add(HttpClient *client, HttpRequest *req)
{
	RequestState *st;
	CURL	   *easy;

	req->outcome = HTTP_PENDING;
	req->status = 0;
	req->body = NULL;
	req->body_len = 0;
	req->content_type = NULL;
	req->error[0] = '\0';

	if (client->nrequests == client->capacity)
	{
		int			cap = client->capacity ? client->capacity * 2 : 16;
		HttpRequest **grown = realloc(client->requests, sizeof(HttpRequest *) * cap);

		if (grown == NULL)
		{
			snprintf(req->error, sizeof(req->error), "out of memory");
			req->outcome = HTTP_FAILED;
			return false;
		}
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
		snprintf(req->error, sizeof(req->error), "could not create a curl handle");
		req->outcome = HTTP_FAILED;
		return false;
	}
	st->client = client;
	st->req = req;
	st->easy = easy;
	req->internal = st;

	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, st);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, client->options.max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, client->options.max_redirects);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, client->options.user_agent);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_body);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, st);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
	if (req->accept)
	{
		char		header[256];

		snprintf(header, sizeof(header), "Accept: %s", req->accept);
		st->headers = curl_slist_append(NULL, header);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, st->headers);
	}
	if (req->via_tor)
	{
		if (client->options.socks_proxy == NULL)
		{
			snprintf(req->error, sizeof(req->error), "no Tor proxy configured");
			req->outcome = HTTP_FAILED;
			curl_slist_free_all(st->headers);
			curl_easy_cleanup(easy);
			free(st);
			req->internal = NULL;
			return false;
		}
		curl_easy_setopt(easy, CURLOPT_PROXY, client->options.socks_proxy);
	}
	else
		curl_easy_setopt(easy, CURLOPT_PROXY, "");	/* ignore *_proxy environment variables */

	if (curl_multi_add_handle(client->multi, easy) != CURLM_OK)
	{
		snprintf(req->error, sizeof(req->error), "curl_multi_add_handle failed");
		req->outcome = HTTP_FAILED;
		curl_slist_free_all(st->headers);
		curl_easy_cleanup(easy);
		free(st);
		req->internal = NULL;
		return false;
	}
	client->requests[client->nrequests++] = req;
	client->running++;
	return true;
}

static void
finish_request(HttpClient *client, CURL *easy, CURLcode result)
{
	RequestState *st = NULL;
	HttpRequest *req;
	char	   *ctype = NULL;
	double		total = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &st);
	req = st->req;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &req->status);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &total);
	req->elapsed_ms = total * 1000.0;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		req->content_type = strdup(ctype);

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
	else if (result == CURLE_OPERATION_TIMEDOUT)
	{
		req->outcome = HTTP_TIMEOUT;
		snprintf(req->error, sizeof(req->error), "timed out after %ld ms", req->timeout_ms);
	}
	else
	{
		req->outcome = HTTP_FAILED;
		snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(result));
	}
	if (req->outcome != HTTP_DONE && req->body)
	{
		free(req->body);
		req->body = NULL;
		req->body_len = 0;
	}
	curl_multi_remove_handle(client->multi, easy);
	curl_slist_free_all(st->headers);
	curl_easy_cleanup(easy);
	req->internal = NULL;
	free(st);
	client->running--;
}

int
http_client_run(HttpClient *client, int slice_ms)
{
	int			still_running = 0;
	CURLMsg    *msg;
	int			left;

	if (client->running == 0)
		return 0;
	curl_multi_perform(client->multi, &still_running);
	if (still_running > 0)
	{
		curl_multi_poll(client->multi, NULL, 0, slice_ms, NULL);
		curl_multi_perform(client->multi, &still_running);
	}
	while ((msg = curl_multi_info_read(client->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			finish_request(client, msg->easy_handle, msg->data.result);
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
			curl_multi_remove_handle(client->multi, st->easy);
			curl_slist_free_all(st->headers);
			curl_easy_cleanup(st->easy);
			free(st);
			req->internal = NULL;
		}
		free(req->body);
		req->body = NULL;
		free(req->content_type);
		req->content_type = NULL;
	}
	curl_multi_cleanup(client->multi);
	free(client->requests);
	free(client->socks_proxy);
	free(client->user_agent);
	free(client);
}
