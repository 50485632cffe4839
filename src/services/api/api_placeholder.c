/*
 * api_placeholder.c: TEMPORARY (issue 13 in progress): weak definitions of the api's handlers and
 * metrics so each part builds alone while the others are written. Each real definition overrides its
 * weak one; this file is deleted when the parts are merged.
 */
#include "postgres.h"

#include "services/api/api.h"

#define API_PLACEHOLDER(fn) \
	__attribute__((weak)) void fn(const ApiRequest *req, ApiResponse *res) \
	{ api_error(res, 501, "not_implemented", "%s is not built yet", #fn); }

API_PLACEHOLDER(api_handle_events)
API_PLACEHOLDER(api_handle_req)
API_PLACEHOLDER(api_handle_event)
API_PLACEHOLDER(api_handle_count)
API_PLACEHOLDER(api_handle_relays)
API_PLACEHOLDER(api_handle_relay)
API_PLACEHOLDER(api_handle_relay_history)
API_PLACEHOLDER(api_handle_relay_nip11)
API_PLACEHOLDER(api_handle_stats)
API_PLACEHOLDER(api_handle_services)
API_PLACEHOLDER(api_handle_health)
API_PLACEHOLDER(api_handle_ready)
API_PLACEHOLDER(api_handle_openapi)
API_PLACEHOLDER(api_handle_metrics)
API_PLACEHOLDER(api_handle_nip11)
API_PLACEHOLDER(api_handle_index)

__attribute__((weak)) bool
api_relay_req(const char *subid, char **filters_json, int nfilters, int max_limit,
			  ApiRelayEmit emit, void *ctx, char **closed)
{
	*closed = pstrdup("error: not built yet");
	return false;
}

__attribute__((weak)) bool
api_relay_count(char **filters_json, int nfilters, int64 *count, bool *approximate, char **closed)
{
	*closed = pstrdup("error: not built yet");
	return false;
}

__attribute__((weak)) void
api_metrics_shmem_request(void)
{
}

__attribute__((weak)) void
api_metrics_shmem_startup(void)
{
}

__attribute__((weak)) void
api_metrics_record(int route, int status, int64 elapsed_us)
{
}

__attribute__((weak)) void
api_metrics_totals(int64 *requests, int64 *errors)
{
	*requests = 0;
	*errors = 0;
}
