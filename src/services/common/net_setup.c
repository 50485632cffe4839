/*
 * net_setup.c: builds the network clients of src/net from the shared GUCs: whether private and
 * loopback targets are allowed, and, when Tor is on, its SOCKS port for HTTP and its HTTP CONNECT
 * port for WebSockets. A client that cannot be made raises an ERROR whose errcode says why: out of
 * memory, a setting out of range, the tunnel proxy's host not resolving (connection failure), or
 * the library refusing (internal error).
 */
#include "postgres.h"

#include "core/bigbrotr.h"
#include "services/common/net_setup.h"

HttpClient *
bb_http_client_create(const char *user_agent)
{
	HttpClientOptions opts = {0};
	HttpClient *client;
	HttpCreateFailure failure = HTTP_CREATE_LIBRARY;
	char		error[256];

	opts.allow_private_addresses = bigbrotr_allow_private_addresses;
	if (bigbrotr_tor_enabled)
		opts.socks_proxy = psprintf("socks5h://%s:%d", bigbrotr_tor_socks_host, bigbrotr_tor_socks_port);
	opts.user_agent = user_agent;
	opts.max_redirects = 3;
	client = http_client_create(&opts, &failure, error, sizeof(error));
	if (client == NULL)
		ereport(ERROR,
				(errcode(failure == HTTP_CREATE_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not create the HTTP client: %s", error)));
	return client;
}

WsLoop *
bb_ws_loop_create(const char *user_agent, size_t max_message_size)
{
	WsLoopOptions opts = {0};
	WsLoop	   *loop;
	WsCreateFailure failure = WS_CREATE_LIBRARY;
	char		error[256];
	int			code = ERRCODE_INTERNAL_ERROR;

	opts.allow_private_addresses = bigbrotr_allow_private_addresses;
	if (bigbrotr_tor_enabled)
	{
		opts.tunnel_proxy_host = bigbrotr_tor_http_tunnel_host;
		opts.tunnel_proxy_port = bigbrotr_tor_http_tunnel_port;
	}
	opts.max_message_size = max_message_size;
	opts.user_agent = user_agent;
	loop = ws_loop_create(&opts, &failure, error, sizeof(error));
	if (loop == NULL)
	{
		switch (failure)
		{
			case WS_CREATE_NO_MEMORY:
				code = ERRCODE_OUT_OF_MEMORY;
				break;
			case WS_CREATE_BAD_OPTION:
				code = ERRCODE_INVALID_PARAMETER_VALUE;
				break;
			case WS_CREATE_PROXY_UNRESOLVED:
				code = ERRCODE_CONNECTION_FAILURE;
				break;
			case WS_CREATE_LIBRARY:
				code = ERRCODE_INTERNAL_ERROR;
				break;
		}
		ereport(ERROR,
				(errcode(code),
				 errmsg("could not create the WebSocket loop: %s", error),
				 failure == WS_CREATE_PROXY_UNRESOLVED ?
				 errhint("Check bigbrotr.tor_http_tunnel_host, or turn bigbrotr.tor_enabled off.") : 0));
	}
	return loop;
}
