/*
 * common/http_server.c - libmicrohttpd behind one handler, see
 * http_server.h.
 *
 * libmicrohttpd calls the access callback several times per request: once
 * when the headers are in, then once per chunk of body, then once more
 * with no data; a response can only be queued on the first and the last
 * call. So what the headers decide (a declared Content-Length over the
 * limit, the caller's on_headers hook) is answered on the first call,
 * without reading the body, while a body that turns out too big or too
 * slow is drained and answered at its end, or cut off when it goes on
 * far past the limit. The body is gathered in a per-request struct buf
 * (the connection's con_cls) and the handler runs on the last call; the
 * completion callback frees the gathered state whatever happened.
 */
#include "common/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/log_limit.h"

/* A body is drained up to this many times the limit so that its client
 * can read the 413; past that the connection is simply closed. */
#define HTTP_DRAIN_FACTOR 4
#define HTTP_CONNECTION_LIMIT 1024 /* far above any riffle endpoint's load */
/* libmicrohttpd's complaints let through: a few a minute say what is
 * wrong without letting a client flood the log */
#define HTTP_LOG_PER_WINDOW 10
#define HTTP_LOG_WINDOW_S 60.0

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_settings set;
    http_handler_fn handler;
    void *opaque;
    int port;
    /* libmicrohttpd's complaints, which any client can cause at will */
    pthread_mutex_t log_lock;
    struct log_limit log_allowance;
};

/* One request in flight: its body so far, and whether it is already
 * answered (refused from its headers) or will be refused at its end. */
struct pending {
    struct buf body;
    size_t received;
    double started_s;
    int too_large;
    int answered;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int http_server_parse_listen(const char *listen, char *host,
                             size_t host_size, int *port, char *errstr,
                             size_t errstr_size)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    struct in_addr addr;
    char *end;
    long p;

    if (!colon || (size_t)(colon - listen) >= host_size || colon == listen) {
        snprintf(errstr, errstr_size, "listen address '%s': expected "
                 "HOST:PORT, e.g. 127.0.0.1:9464", listen ? listen : "");
        return RIFFLE_ERR_USAGE;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';

    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535) {
        snprintf(errstr, errstr_size, "listen address '%s': expected a port "
                 "from 0 to 65535 after ':'", listen);
        return RIFFLE_ERR_USAGE;
    }
    if (inet_pton(AF_INET, host, &addr) != 1) {
        snprintf(errstr, errstr_size, "listen address '%s': expected an "
                 "IPv4 address before ':', e.g. 127.0.0.1", listen);
        return RIFFLE_ERR_USAGE;
    }
    *port = (int)p;
    return 0;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    struct buf *query = cls;

    (void)kind;
    /* On memory failure the query is cut short; the handler still runs. */
    (void)buf_printf(query, "%s%s=%s", query->len ? "&" : "", key,
                     value ? value : "");
    return MHD_YES;
}

/* The request as the hooks and the handler see it; query (the caller
 * frees it) holds the decoded arguments. */
static void describe(struct MHD_Connection *conn, const char *url,
                     const char *method, const struct pending *p,
                     struct buf *query, struct http_request *req)
{
    (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg,
                                    query);
    req->method = method;
    req->path = url;
    req->query = query->data ? query->data : "";
    req->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "Content-Type");
    req->body = p->body.data ? p->body.data : "";
    req->body_len = p->body.len;
}

/* An answer of the server's own (413, 408), worded by the caller's hook
 * when there is one. */
static void fill_error(const struct http_server *s, int status,
                       const char *what, struct http_response *res)
{
    res->status = status;
    if (s->set.on_error) {
        s->set.on_error(s->opaque, status, what, res);
        return;
    }
    res->content_type = "text/plain";
    (void)buf_printf(&res->body, "%s\n", what); /* cut short if no memory */
}

/* Queues res (its body is taken over) and tells on_done. */
static enum MHD_Result respond(struct http_server *s,
                               struct MHD_Connection *conn,
                               const struct http_request *req,
                               struct pending *p, struct http_response *res)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (res->body.data)
        mr = MHD_create_response_from_buffer(res->body.len, res->body.data,
                                             MHD_RESPMEM_MUST_FREE);
    else
        mr = MHD_create_response_from_buffer(0, (void *)"",
                                             MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        buf_free(&res->body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  res->content_type);
    /* Everything riffle serves is live state: never cache it. */
    (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
                                  "no-store");
    if (res->allow)
        (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, res->allow);
    ret = MHD_queue_response(conn, (unsigned)res->status, mr);
    MHD_destroy_response(mr);
    p->answered = 1;
    if (s->set.on_done)
        s->set.on_done(s->opaque, req, res->status, now_s() - p->started_s);
    return ret;
}

/* The first call, with the headers only: refuse a declared body over the
 * limit, then let the caller's hook refuse what it can tell already. */
static enum MHD_Result check_headers(struct http_server *s,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     struct pending *p)
{
    const char *length = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    struct http_response res = {200, "text/plain", NULL, {0}};
    struct http_request req;
    struct buf query = {0};
    enum MHD_Result ret = MHD_YES;
    char what[160];

    describe(conn, url, method, p, &query, &req);
    if (length && strtoull(length, NULL, 10) > s->set.max_body_bytes) {
        snprintf(what, sizeof(what), "body of %.20s bytes is over the limit "
                 "of %zu", length, s->set.max_body_bytes);
        fill_error(s, MHD_HTTP_CONTENT_TOO_LARGE, what, &res);
        ret = respond(s, conn, &req, p, &res);
    } else if (s->set.on_headers && s->set.on_headers(s->opaque, &req, &res)) {
        ret = respond(s, conn, &req, p, &res);
    } else {
        buf_free(&res.body); /* a hook that wrote and then went on */
    }
    buf_free(&query);
    return ret;
}

/* A piece of body: kept while under the limit, drained past it. Returns
 * MHD_NO to close a connection that has gone on far too long. */
static enum MHD_Result take_body(const struct http_server *s,
                                 struct pending *p, const char *data,
                                 size_t *size)
{
    size_t max = s->set.max_body_bytes;

    p->received += *size;
    if (p->received > max)
        p->too_large = 1;
    if (!p->too_large && !p->answered && buf_append(&p->body, data, *size))
        return MHD_NO;
    *size = 0;

    if (p->received > max * HTTP_DRAIN_FACTOR)
        return MHD_NO;
    if (now_s() - p->started_s > 2 * s->set.timeout_s)
        return MHD_NO; /* a trickle that would never end */
    return MHD_YES;
}

/* The last call: the whole request is in. */
static enum MHD_Result finish(struct http_server *s,
                              struct MHD_Connection *conn, const char *url,
                              const char *method, struct pending *p)
{
    struct http_response res = {200, "text/plain", NULL, {0}};
    struct http_request req;
    struct buf query = {0};
    enum MHD_Result ret;
    char what[160];

    describe(conn, url, method, p, &query, &req);
    if (p->too_large) {
        snprintf(what, sizeof(what), "body is over the limit of %zu bytes",
                 s->set.max_body_bytes);
        fill_error(s, MHD_HTTP_CONTENT_TOO_LARGE, what, &res);
    } else if (now_s() - p->started_s > s->set.timeout_s) {
        snprintf(what, sizeof(what), "the request took over %g s to arrive",
                 s->set.timeout_s);
        fill_error(s, MHD_HTTP_REQUEST_TIMEOUT, what, &res);
    } else {
        s->handler(s->opaque, &req, &res);
    }
    ret = respond(s, conn, &req, p, &res);
    buf_free(&query);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct pending *p = *con_cls;

    (void)version;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return MHD_NO;
        p->started_s = now_s();
        *con_cls = p;
        return check_headers(s, conn, url, method, p);
    }
    if (*upload_data_size > 0)
        return take_body(s, p, upload_data, upload_data_size);
    if (p->answered)
        return MHD_YES; /* refused from the headers; nothing more to say */
    return finish(s, conn, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode why)
{
    struct pending *p = *con_cls;

    (void)cls;
    (void)conn;
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("http", "a request ended early (libmicrohttpd code %d)",
                  (int)why);
    if (p) {
        buf_free(&p->body);
        free(p);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own complaints (bad requests, socket errors), within
 * an allowance: a client can send malformed requests as fast as it
 * likes. Called from the server's threads. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    unsigned long long held_back;
    char msg[256];
    int allowed;

    pthread_mutex_lock(&s->log_lock);
    allowed = log_limit_take(&s->log_allowance, now_s(), &held_back);
    pthread_mutex_unlock(&s->log_lock);

    if (held_back > 0)
        log_warn("http", "%llu complaint(s) of the HTTP library held back in "
                 "the last %g s or more (at most %u a window)", held_back,
                 HTTP_LOG_WINDOW_S, HTTP_LOG_PER_WINDOW);
    if (!allowed)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("http", "%s", msg);
}

/* libmicrohttpd warns about a pool of one thread, so the option is only
 * passed for more. */
static struct MHD_Daemon *start_daemon(struct http_server *s,
                                       struct sockaddr_in *sa)
{
    unsigned timeout = (unsigned)ceil(s->set.timeout_s);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_error, s},
        {MHD_OPTION_SOCK_ADDR, 0, sa},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)(timeout ? timeout : 1u),
         NULL},
        {MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTION_LIMIT, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, s->set.threads, NULL},
        {MHD_OPTION_END, 0, NULL}};

    if (s->set.threads <= 1)
        opts[5].option = MHD_OPTION_END;
    return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                            0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY,
                            opts, MHD_OPTION_END);
}

int http_server_start_with(const char *listen,
                           const struct http_server_settings *settings,
                           http_handler_fn handler, void *opaque,
                           struct http_server **out, char *errstr,
                           size_t errstr_size)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    struct http_server *s;
    char host[64];
    int port, err;

    err = http_server_parse_listen(listen, host, sizeof(host), &port, errstr,
                                   errstr_size);
    if (err)
        return err;
    s = calloc(1, sizeof(*s));
    if (!s)
        return RIFFLE_ERR_NOMEM;
    if (settings)
        s->set = *settings;
    if (s->set.max_body_bytes == 0)
        s->set.max_body_bytes = HTTP_SERVER_MAX_BODY;
    if (s->set.timeout_s <= 0)
        s->set.timeout_s = HTTP_SERVER_TIMEOUT_S;
    s->handler = handler;
    s->opaque = opaque;
    pthread_mutex_init(&s->log_lock, NULL);
    log_limit_init(&s->log_allowance, HTTP_LOG_PER_WINDOW, HTTP_LOG_WINDOW_S);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    (void)inet_pton(AF_INET, host, &sa.sin_addr); /* checked above */
    s->daemon = start_daemon(s, &sa);
    if (!s->daemon) {
        snprintf(errstr, errstr_size, "cannot listen on %s (in use, or not "
                 "an address of this machine)", listen);
        pthread_mutex_destroy(&s->log_lock);
        free(s);
        return RIFFLE_ERR_IO;
    }

    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return 0;
}

int http_server_start(const char *listen, http_handler_fn handler,
                      void *opaque, struct http_server **out, char *errstr,
                      size_t errstr_size)
{
    return http_server_start_with(listen, NULL, handler, opaque, out, errstr,
                                  errstr_size);
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
