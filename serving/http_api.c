/*
 * serving/http_api.c - the HTTP endpoints of `riffle serve`, see
 * http_api.h.
 *
 * common/http_server.c does the HTTP: body limit, time budget, threads.
 * This module decides from the headers what can be refused before a
 * body is read (path, method, content type), scores complete requests,
 * words the server's own refusals as JSON, and counts every answer.
 */
#include "serving/http_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/log.h"
#include "schemas/event.h"
#include "serving/request_json.h"

#define HTTP_API_JSON "application/json"
#define HTTP_API_PROMETHEUS "text/plain; version=0.0.4"

struct http_api {
    const struct cfg *cfg;
    const struct schema *schema;
    struct model_slot *slot;
    struct serve_stats *stats;
    struct http_server *server;
};

static void reply_error(struct http_response *res, int status,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct http_response *res, int status,
                        const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    res->status = status;
    res->content_type = HTTP_API_JSON;
    buf_reset(&res->body);
    (void)request_json_error(what, &res->body); /* short on no memory */
}

/* The server's own refusals (413, 408), in the API's JSON. */
static void on_error(void *opaque, int status, const char *what,
                     struct http_response *res)
{
    (void)opaque;
    reply_error(res, status, "%s", what);
}

static void on_done(void *opaque, const struct http_request *req,
                    int status, double seconds)
{
    struct http_api *api = opaque;

    (void)req;
    serve_stats_http(api->stats, status, seconds);
}

static int is_get(const struct http_request *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

/* What the headers alone decide: 1 with res filled, or 0 to read the
 * body and go on in handle(). */
static int on_headers(void *opaque, const struct http_request *req,
                      struct http_response *res)
{
    const char *type = req->content_type;

    (void)opaque;
    if (strcmp(req->path, HTTP_API_HEALTH_PATH) == 0 ||
        strcmp(req->path, HTTP_API_METRICS_PATH) == 0) {
        if (is_get(req))
            return 0;
        res->allow = "GET, HEAD";
        reply_error(res, 405, "use GET");
        return 1;
    }
    if (strcmp(req->path, HTTP_API_PREDICT_PATH) != 0) {
        reply_error(res, 404, "no such path; POST events to %s",
                    HTTP_API_PREDICT_PATH);
        return 1;
    }
    if (strcmp(req->method, "POST") != 0) {
        res->allow = "POST";
        reply_error(res, 405, "use POST");
        return 1;
    }
    if (type && strncasecmp(type, HTTP_API_JSON, strlen(HTTP_API_JSON)) != 0) {
        reply_error(res, 415, "expected Content-Type: %s", HTTP_API_JSON);
        return 1;
    }
    return 0;
}

static void answer_health(struct http_api *api, struct http_response *res)
{
    int64_t version = model_slot_version(api->slot);
    struct serve_stats_counts c;

    if (version < 0) {
        reply_error(res, 503, "no model loaded yet from %s",
                    api->cfg->topic_models);
        return;
    }
    serve_stats_read(api->stats, &c);
    res->content_type = HTTP_API_JSON;
    if (serve_stats_render_health(&c, version, &res->body) != 0)
        reply_error(res, 500, "%s", riffle_err_str(RIFFLE_ERR_NOMEM));
}

static void answer_metrics(struct http_api *api, struct http_response *res)
{
    struct serve_stats_counts c;

    serve_stats_read(api->stats, &c);
    res->content_type = HTTP_API_PROMETHEUS;
    if (serve_stats_render(&c, api->cfg->name, api->cfg->model_name,
                           model_slot_version(api->slot), &res->body) != 0)
        reply_error(res, 500, "%s", riffle_err_str(RIFFLE_ERR_NOMEM));
}

/* Scores one event; ev is the caller's, reused across calls. */
static void answer_event(struct http_api *api, const struct http_request *req,
                         struct event *ev, struct http_response *res)
{
    struct served_prediction pred;
    struct served_model *m;
    char why[512];
    int err;

    err = request_json_to_event(api->schema, req->body, req->body_len, ev,
                                why, sizeof(why));
    if (err == RIFFLE_ERR_PARSE) {
        reply_error(res, 400, "body is not JSON: %s", why);
        return;
    }
    if (err) {
        reply_error(res, err == RIFFLE_ERR_INVALID ? 422 : 500, "%s",
                    err == RIFFLE_ERR_INVALID ? why : riffle_err_str(err));
        return;
    }

    m = model_slot_acquire(api->slot);
    if (!m) {
        reply_error(res, 503, "no model loaded yet from %s",
                    api->cfg->topic_models);
        return;
    }
    err = served_model_score(m, ev, &pred);
    model_slot_release(api->slot, m);
    res->content_type = HTTP_API_JSON;
    if (!err && request_json_answer(api->cfg, &pred, &res->body) != 0)
        err = RIFFLE_ERR_NOMEM;
    served_prediction_free(&pred);
    if (err) {
        reply_error(res, 500, "%s", riffle_err_str(err));
        return;
    }
    res->status = pred.r.dead_letter ? 422 : 200;
}

static void handle(void *opaque, const struct http_request *req,
                   struct http_response *res)
{
    struct http_api *api = opaque;
    struct event ev;

    if (strcmp(req->path, HTTP_API_HEALTH_PATH) == 0) {
        answer_health(api, res);
        return;
    }
    if (strcmp(req->path, HTTP_API_METRICS_PATH) == 0) {
        answer_metrics(api, res);
        return;
    }
    event_init(&ev);
    buf_hold_secret(&ev.arena); /* the request's raw personal values */
    answer_event(api, req, &ev, res);
    event_free(&ev);
}

int http_api_start(const struct cfg *cfg, const struct schema *schema,
                   struct model_slot *slot, struct serve_stats *stats,
                   struct http_api **out, char *errstr, size_t errstr_size)
{
    struct http_server_settings set = {
        .max_body_bytes = (size_t)cfg->serve_http_max_body_bytes,
        .timeout_s = cfg->serve_http_timeout_seconds,
        .threads = cfg->serve_http_threads,
        .on_headers = on_headers,
        .on_error = on_error,
        .on_done = on_done};
    struct http_api *api = calloc(1, sizeof(*api));
    char listen[CFG_NAME_MAX + 8], why[256];
    int err;

    if (!api)
        return RIFFLE_ERR_NOMEM;
    api->cfg = cfg;
    api->schema = schema;
    api->slot = slot;
    api->stats = stats;

    snprintf(listen, sizeof(listen), "%s:%d", cfg->serve_http_address,
             cfg->serve_http_port);
    err = http_server_start_with(listen, &set, handle, api, &api->server,
                                 why, sizeof(why));
    if (err) {
        snprintf(errstr, errstr_size, "serve.http_address and http_port: %s",
                 why);
        free(api);
        return err;
    }
    *out = api;
    return 0;
}

void http_api_stop(struct http_api *api)
{
    if (!api)
        return;
    http_server_stop(api->server);
    free(api);
}
