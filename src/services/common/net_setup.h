/*
 * net_setup.h: the HTTP client and WebSocket loop the services use, configured from the shared GUCs
 * (private-address policy, Tor's SOCKS and HTTP CONNECT ports), so that policy is set in one place.
 */
#ifndef BIGBROTR_NET_SETUP_H
#define BIGBROTR_NET_SETUP_H

#include "net/http_client.h"
#include "net/ws_client.h"

/* An HTTP client for one cycle; raises an ERROR when it cannot be made. */
HttpClient *bb_http_client_create(const char *user_agent);

/* A WebSocket loop; raises an ERROR when it cannot be made. */
WsLoop	   *bb_ws_loop_create(const char *user_agent, size_t max_message_size);

#endif							/* BIGBROTR_NET_SETUP_H */
