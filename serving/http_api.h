/*
 * serving/http_api.h - the HTTP endpoints of `riffle serve`: JSON
 * scoring for services that do not speak Kafka, and the replica's
 * health and metrics.
 *
 *   POST /v1/predict   one JSON event -> 200 and the prediction, made by
 *                      the model the replica serves at that moment
 *   GET  /healthz      200 with the served model version, the requests
 *                      and predictions so far and their latency
 *                      quantiles; 503 while no model has been loaded yet
 *   GET  /metrics      Prometheus text: requests, predictions, dead
 *                      letters, model version, latency histograms
 *
 * Errors answer {"error": "..."} with a status saying whose fault it is:
 * 400 body is not JSON; 422 JSON that is not an event of the schema
 * (missing, unknown or mistyped field) or that cleaning refuses (the
 * answer names the reason and field, as a dead letter would); 413 body
 * over serve.http_max_body_bytes (refused from Content-Length before it
 * is read, or as soon as a chunked body passes the limit); 415 a
 * Content-Type other than JSON; 404 and 405 for other paths and
 * methods; 408 when a request takes longer than serve.http_timeout_seconds
 * to arrive; 503 no model yet. A client that stops sending altogether is
 * disconnected after the same timeout. Scoring learns nothing.
 *
 * Built on common/http_server.c with serve.http_threads threads; the
 * scoring shares the model slot with the Kafka replica, the counts its
 * struct serve_stats.
 */
#ifndef RIFFLE_SERVING_HTTP_API_H
#define RIFFLE_SERVING_HTTP_API_H

#include <stddef.h>

#include "config/cfg.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"
#include "serving/serve_stats.h"

#define HTTP_API_PREDICT_PATH "/v1/predict"
#define HTTP_API_HEALTH_PATH "/healthz"
#define HTTP_API_METRICS_PATH "/metrics"

struct http_api;

/* Listens on cfg's serve.http_address and serve.http_port. cfg, schema,
 * slot and stats are borrowed and must outlive the server; every answer
 * is counted in stats. Returns 0 or an error with errstr (RIFFLE_ERR_IO:
 * address in use; RIFFLE_ERR_USAGE: bad address). */
int http_api_start(const struct cfg *cfg, const struct schema *schema,
                   struct model_slot *slot, struct serve_stats *stats,
                   struct http_api **out, char *errstr, size_t errstr_size);

/* Stops listening, waits for the threads, frees. NULL-safe. */
void http_api_stop(struct http_api *api);

#endif
