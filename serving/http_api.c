/*
 * serving/http_api.c - the HTTP JSON endpoint, see http_api.h.
 *
 * libmicrohttpd calls the access handler once when a request's headers
 * have arrived, once per piece of body, and once more when the body is
 * complete; a response can only be queued on the first and the last
 * call. So limits known from the headers (Content-Length, Content-Type,
 * path, method) are answered at once, without reading the body, while a
 * body that turns out too big or too slow is drained and answered at
 * its end, or cut off when it goes on far past the limit.
 *
 * TODO(one HTTP layer): common/http_server.c, which `riffle learn --http`
 * uses, landed after this module; it hands its handler complete requests
 * only, with a fixed body cap and timeout, so it cannot refuse by header
 * before reading a body (413, 415), time a trickling upload out (408) or
 * take per-pipeline limits and a thread pool. Growing it those hooks and
 * moving this endpoint onto it would leave one libmicrohttpd wrapper;
 * two are acceptable while both are small and tested.
 */
#include "serving/http_api.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "serving/request_json.h"

/* A body is drained up to this many times the limit so that its client
 * can read the 413; past that the connection is simply closed. */
#define HTTP_API_DRAIN_FACTOR 4
#define HTTP_API_CONNECTION_LIMIT 1024 /* far above a replica's load */
#define HTTP_API_JSON "application/json"

struct http_api {
    const struct cfg *cfg;
    const struct schema *schema;
    struct model_slot *slot;
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock; /* guards counts */
    struct http_api_counts counts;
};

/* One request in flight: its body, and why it will be refused if it
 * already will be. */
struct request {
    struct buf body;
    double started_s;
    size_t received;
    int too_large;
    struct event ev;
};

static void count_status(struct http_api *api, unsigned status)
{
    pthread_mutex_lock(&api->lock);
    if (status < 300)
        api->counts.ok++;
    else if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        api->counts.unavailable++;
    else if (status < 500)
        api->counts.client_errors++;
    else
        api->counts.server_errors++;
    pthread_mutex_unlock(&api->lock);
}

static enum MHD_Result send_body(struct http_api *api,
                                 struct MHD_Connection *conn,
                                 unsigned status, const struct buf *body,
                                 const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(body->len, body->data,
                                           MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  HTTP_API_JSON); /* a hint only */
    if (allow)
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    count_status(api, status);
    return ret;
}

static enum MHD_Result send_error(struct http_api *api,
                                  struct MHD_Connection *conn,
                                  unsigned status, const char *allow,
                                  const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(struct http_api *api,
                                  struct MHD_Connection *conn,
                                  unsigned status, const char *allow,
                                  const char *fmt, ...)
{
    struct buf body = {0};
    char what[512];
    enum MHD_Result ret;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (request_json_error(what, &body) != 0) {
        buf_free(&body);
        return MHD_NO;
    }
    ret = send_body(api, conn, status, &body, allow);
    buf_free(&body);
    return ret;
}

static enum MHD_Result answer_health(struct http_api *api,
                                     struct MHD_Connection *conn)
{
    int64_t version = model_slot_version(api->slot);
    struct buf body = {0};
    enum MHD_Result ret;

    if (version < 0)
        return send_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                          "no model loaded yet from %s",
                          api->cfg->topic_models);
    if (buf_printf(&body, "{\"status\":\"ok\",\"model_version\":%lld}\n",
                   (long long)version) != 0) {
        buf_free(&body);
        return MHD_NO;
    }
    ret = send_body(api, conn, MHD_HTTP_OK, &body, NULL);
    buf_free(&body);
    return ret;
}

/* What the headers alone decide: 0 to go on reading the body, else the
 * status already queued (through *ret). */
static int check_headers(struct http_api *api, struct MHD_Connection *conn,
                         enum MHD_Result *ret)
{
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "Content-Type");
    const char *length = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, "Content-Length");
    long max = api->cfg->serve_http_max_body_bytes;

    if (type && strncasecmp(type, HTTP_API_JSON, strlen(HTTP_API_JSON)) != 0) {
        *ret = send_error(api, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                          "expected Content-Type: %s", HTTP_API_JSON);
        return 1;
    }
    if (length && strtoull(length, NULL, 10) > (unsigned long long)max) {
        *ret = send_error(api, conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                          "body of %s bytes is over the limit of %ld",
                          length, max);
        return 1;
    }
    return 0;
}

static enum MHD_Result answer_event(struct http_api *api,
                                    struct MHD_Connection *conn,
                                    struct request *req)
{
    struct served_prediction pred;
    struct served_model *m;
    struct buf body = {0};
    char why[512];
    enum MHD_Result ret;
    int err;

    err = request_json_to_event(api->schema, req->body.data ? req->body.data
                                                            : "",
                                req->body.len, &req->ev, why, sizeof(why));
    if (err == RIFFLE_ERR_PARSE)
        return send_error(api, conn, MHD_HTTP_BAD_REQUEST, NULL,
                          "body is not JSON: %s", why);
    if (err == RIFFLE_ERR_INVALID)
        return send_error(api, conn, MHD_HTTP_UNPROCESSABLE_CONTENT, NULL,
                          "%s", why);
    if (err)
        return send_error(api, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                          "%s", riffle_err_str(err));

    m = model_slot_acquire(api->slot);
    if (!m)
        return send_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                          "no model loaded yet from %s",
                          api->cfg->topic_models);
    err = served_model_score(m, &req->ev, &pred);
    model_slot_release(api->slot, m);
    if (err || request_json_answer(api->cfg, &pred, &body) != 0) {
        buf_free(&body);
        return send_error(api, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                          "%s", riffle_err_str(err ? err
                                                   : RIFFLE_ERR_NOMEM));
    }
    ret = send_body(api, conn, pred.r.dead_letter
                                   ? MHD_HTTP_UNPROCESSABLE_CONTENT
                                   : MHD_HTTP_OK,
                    &body, NULL);
    buf_free(&body);
    return ret;
}

/* A piece of body: kept while under the limit, drained past it. Returns
 * MHD_NO to close a connection that has gone on far too long. */
static enum MHD_Result take_body(struct http_api *api, struct request *req,
                                 const char *data, size_t *size)
{
    size_t max = (size_t)api->cfg->serve_http_max_body_bytes;

    req->received += *size;
    if (req->received > max)
        req->too_large = 1;
    if (!req->too_large && buf_append(&req->body, data, *size) != 0)
        return MHD_NO;
    *size = 0;

    if (req->received > max * HTTP_API_DRAIN_FACTOR)
        return MHD_NO;
    if (kafka_monotonic_s() - req->started_s >
        2 * api->cfg->serve_http_timeout_seconds)
        return MHD_NO; /* a trickle that would never end */
    return MHD_YES;
}

static enum MHD_Result answer_predict(struct http_api *api,
                                      struct MHD_Connection *conn,
                                      struct request *req,
                                      const char *data, size_t *size)
{
    if (*size > 0)
        return take_body(api, req, data, size);

    if (req->too_large)
        return send_error(api, conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                          "body is over the limit of %ld bytes",
                          api->cfg->serve_http_max_body_bytes);
    if (kafka_monotonic_s() - req->started_s >
        api->cfg->serve_http_timeout_seconds)
        return send_error(api, conn, MHD_HTTP_REQUEST_TIMEOUT, NULL,
                          "the request took over %g s to arrive",
                          api->cfg->serve_http_timeout_seconds);
    return answer_event(api, conn, req);
}

/* The first call, with the headers only: route, and refuse what the
 * headers already show to be wrong. */
static enum MHD_Result route(struct http_api *api, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             void **con_cls)
{
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    struct request *req;
    enum MHD_Result ret;

    if (strcmp(url, HTTP_API_HEALTH_PATH) == 0)
        return is_get ? answer_health(api, conn)
                      : send_error(api, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                   "GET, HEAD", "use GET");
    if (strcmp(url, HTTP_API_PREDICT_PATH) != 0)
        return send_error(api, conn, MHD_HTTP_NOT_FOUND, NULL,
                          "no such path; POST events to %s",
                          HTTP_API_PREDICT_PATH);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return send_error(api, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
                          "use POST");
    if (check_headers(api, conn, &ret))
        return ret;

    req = calloc(1, sizeof(*req));
    if (!req)
        return MHD_NO;
    req->started_s = kafka_monotonic_s();
    event_init(&req->ev);
    *con_cls = req;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_api *api = cls;

    (void)version;
    if (!*con_cls)
        return route(api, conn, url, method, con_cls);
    return answer_predict(api, conn, *con_cls, upload_data,
                          upload_data_size);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode why)
{
    struct request *req = *con_cls;

    (void)cls;
    (void)conn;
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("http", "a request ended early (libmicrohttpd code %d)",
                  (int)why);
    if (!req)
        return;
    buf_free(&req->body);
    event_free(&req->ev);
    free(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("http", "libmicrohttpd: %s", line);
}

/* libmicrohttpd warns about a pool of one thread, so the option is only
 * passed for more. */
static struct MHD_Daemon *start_daemon(struct http_api *api,
                                       struct sockaddr_in *addr,
                                       unsigned timeout_s)
{
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, HTTP_API_CONNECTION_LIMIT, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, api->cfg->serve_http_threads, NULL},
        {MHD_OPTION_END, 0, NULL}};

    if (api->cfg->serve_http_threads <= 1)
        opts[5].option = MHD_OPTION_END;
    return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                            (uint16_t)api->cfg->serve_http_port, NULL, NULL,
                            on_request, api, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

int http_api_start(const struct cfg *cfg, const struct schema *schema,
                   struct model_slot *slot, struct http_api **out,
                   char *errstr, size_t errstr_size)
{
    struct http_api *api = calloc(1, sizeof(*api));
    struct sockaddr_in addr;
    unsigned timeout = (unsigned)ceil(cfg->serve_http_timeout_seconds);

    if (!api || pthread_mutex_init(&api->lock, NULL) != 0) {
        free(api);
        return RIFFLE_ERR_NOMEM;
    }
    api->cfg = cfg;
    api->schema = schema;
    api->slot = slot;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->serve_http_port);
    if (inet_pton(AF_INET, cfg->serve_http_address, &addr.sin_addr) != 1) {
        snprintf(errstr, errstr_size, "serve.http_address %s: expected an "
                 "IPv4 address", cfg->serve_http_address);
        http_api_stop(api);
        return RIFFLE_ERR_CFG;
    }

    api->daemon = start_daemon(api, &addr, timeout ? timeout : 1u);
    if (!api->daemon) {
        snprintf(errstr, errstr_size, "cannot listen on %s:%d (in use?)",
                 cfg->serve_http_address, cfg->serve_http_port);
        http_api_stop(api);
        return RIFFLE_ERR_IO;
    }
    *out = api;
    return 0;
}

void http_api_stop(struct http_api *api)
{
    if (!api)
        return;
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    pthread_mutex_destroy(&api->lock);
    free(api);
}

void http_api_counts(struct http_api *api, struct http_api_counts *out)
{
    pthread_mutex_lock(&api->lock);
    *out = api->counts;
    pthread_mutex_unlock(&api->lock);
}
