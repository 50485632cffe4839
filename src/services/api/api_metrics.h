/*
 * api_metrics.h: what api_metrics.c, api_admin.c and api_health.c share and no other part of the api
 * needs: running a query in a subtransaction whose error becomes an answer (/ready's 503, /metrics
 * without its database gauges) instead of the server's 500.
 */
#ifndef BIGBROTR_SERVICES_API_METRICS_H
#define BIGBROTR_SERVICES_API_METRICS_H

#include "utils/elog.h"

/*
 * Runs body(arg) in a subtransaction of the request transaction. NULL when it returned (its effects
 * kept); the error (copied into the caller's memory context, state flushed, subtransaction rolled
 * back) when it raised an ERROR. FATAL and worse are not caught (they end the process).
 */
ErrorData  *api_try_in_subtransaction(void (*body) (void *arg), void *arg);

#endif							/* BIGBROTR_SERVICES_API_METRICS_H */
