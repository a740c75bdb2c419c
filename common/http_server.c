/*
 * common/http_server.c - libmicrohttpd behind one handler, see
 * http_server.h.
 *
 * libmicrohttpd calls the access callback several times per request: once
 * when the headers are in, then once per chunk of body, then once more
 * with no data; a response can only be queued on the first and the last
 * call. So what the head decides (a request target or headers over the
 * limits, a declared Content-Length over the limit, the caller's
 * on_headers hook) is answered on the first call, without reading the
 * body, while a body that turns out too big or too slow is drained and
 * answered at its end, or cut off when it goes on past twice the time
 * budget. The body is gathered in a per-request struct buf
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
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/log_limit.h"

#define HTTP_CONNECTION_LIMIT 1024 /* far above any riffle endpoint's load */
/* libmicrohttpd's complaints let through: a few a minute say what is
 * wrong without letting a client flood the log */
#define HTTP_LOG_PER_WINDOW 10
#define HTTP_LOG_WINDOW_S 60.0
/* What riffle accepts of a request's head. libmicrohttpd keeps the whole
 * head, and a record per header and per query argument, in one memory
 * pool per connection; when a request fills that pool, it either
 * answers by itself or (0.9.75, at the pool's very edge and with many
 * arguments) closes the connection or leaves it hanging without a word.
 * So the pool is made several times larger than these limits, and
 * riffle answers 414 and 431 itself long before the library runs short.
 * Left to the library (measured with 0.9.75): a head as large as the
 * pool itself, which it answers too, except in a band of about 200 bytes
 * just under 256 KB where it closes without a word; and a Cookie header
 * of thousands of short cookies ("a;" x 3,850, under 8 KB), which it
 * splits into a record each before riffle sees the request and which
 * fills the pool: closed without an answer, or, a little longer, its
 * own 431 written twice. A pool that fits 16 KB of such cookies would
 * let 1,024 slow clients hold about 0.5 GB. */
#define HTTP_MAX_URI_BYTES 8192     /* path and query string */
#define HTTP_MAX_QUERY_ARGS 64      /* riffle's endpoints take none */
#define HTTP_MAX_HEADER_BYTES 16384 /* names and values together */
#define HTTP_MAX_HEADERS 100
#define HTTP_POOL_BYTES (256 * 1024)

/* One TCP connection, watched while a request head is on its way: the
 * library's own timeout is one of inactivity, which a client sending a
 * byte now and then never trips. */
struct watch {
    struct watch *prev, *next;
    int fd;
    int in_head;         /* waiting for (the rest of) a request head */
    int line_in;         /* ... and its request line has arrived */
    double head_started_s;
    int cut;             /* shut down by the reaper already */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_settings set;
    http_handler_fn handler;
    void *opaque;
    int port;
    /* libmicrohttpd's complaints, which any client can cause at will */
    pthread_mutex_t log_lock;
    struct log_limit log_allowance;
    /* the connections, and the thread that cuts slow heads */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_wake;
    struct watch *watched;
    pthread_t reaper;
    int reaper_running, stopping;
};

/* One request in flight: its body so far, and whether it is already
 * answered (refused from its headers) or will be refused at its end. */
struct pending {
    struct buf body;
    size_t received;
    double started_s;
    int too_large;
    int answered;
    int headers_seen; /* the first call of the access handler is past */
    size_t uri_bytes; /* the URI as it arrived, before the query is cut */
    int too_many_args;
};

/* Set by take_body() when it closes a connection, for the library's
 * complaint about it, which follows at once on the same thread. */
static _Thread_local int cut_on_this_thread;

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
    if (ret != MHD_YES)
        return ret;
    p->answered = 1;
    if (s->set.on_done)
        s->set.on_done(s->opaque, req, res->status, now_s() - p->started_s);
    return ret;
}

/* A refusal of the server's own (status 0: a connection cut), logged
 * within the allowance shared with the library's complaints: what was
 * wrong and how big, never the request's content. */
static void log_refusal(struct http_server *s, int status, const char *what)
{
    unsigned long long held_back;
    int allowed;

    pthread_mutex_lock(&s->log_lock);
    allowed = log_limit_take(&s->log_allowance, now_s(), &held_back);
    pthread_mutex_unlock(&s->log_lock);
    if (held_back > 0)
        log_warn("http", "%llu complaint(s) held back in the last %g s or "
                 "more (at most %u a window)", held_back, HTTP_LOG_WINDOW_S,
                 HTTP_LOG_PER_WINDOW);
    if (allowed && status)
        log_warn("http", "answered %d: %s", status, what);
    else if (allowed)
        log_warn("http", "%s", what);
}

/* The connection's watch, or NULL when it has none. */
static struct watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info ? info->socket_context : NULL;
}

/* Marks the connection as waiting for a head (in_head 1, from now) or as
 * having received one. */
static void watch_mark(struct http_server *s, struct MHD_Connection *conn,
                       int in_head)
{
    struct watch *w = watch_of(conn);

    if (!w)
        return;
    pthread_mutex_lock(&s->watch_lock);
    w->in_head = in_head;
    w->line_in = 0;
    w->head_started_s = now_s();
    pthread_mutex_unlock(&s->watch_lock);
}

/* Notes that the connection's request line is in: from then on, a head
 * that takes over the budget is a slow client, not an idle one. */
static void watch_note_line(struct http_server *s,
                            struct MHD_Connection *conn)
{
    struct watch *w = watch_of(conn);

    if (!w)
        return;
    pthread_mutex_lock(&s->watch_lock);
    w->line_in = 1;
    pthread_mutex_unlock(&s->watch_lock);
}

/* Connections come and go: the watch is freed before the library closes
 * the socket, so the reaper never shuts down a reused descriptor. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    const union MHD_ConnectionInfo *info;
    struct watch *w;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        info = MHD_get_connection_info(conn,
                                       MHD_CONNECTION_INFO_CONNECTION_FD);
        w = info ? calloc(1, sizeof(*w)) : NULL;
        if (!w)
            return; /* unwatched: only the library's idle timeout holds */
        w->fd = info->connect_fd;
        w->in_head = 1;
        w->head_started_s = now_s();
        pthread_mutex_lock(&s->watch_lock);
        w->next = s->watched;
        if (w->next)
            w->next->prev = w;
        s->watched = w;
        pthread_mutex_unlock(&s->watch_lock);
        *socket_context = w;
        return;
    }

    w = *socket_context;
    if (!w)
        return;
    pthread_mutex_lock(&s->watch_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        s->watched = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&s->watch_lock);
    free(w);
    *socket_context = NULL;
}

/* Shuts down each connection whose head has taken over the time budget
 * (a request line or headers sent a byte at a time), a few times per
 * budget; the library then sees the socket end and frees it. Only the
 * cuts after a request line are warned about: before one, the
 * connection is most likely idle (a client keeping it alive between
 * requests, as scrapers and proxies do), closed as the library's idle
 * timeout would close it. */
static void *reap_slow_heads(void *arg)
{
    struct http_server *s = arg;
    double period = s->set.timeout_s / 4 < 0.5 ? s->set.timeout_s / 4 : 0.5;
    unsigned cut, idle;
    struct timespec until;
    struct watch *w;
    char what[96];

    pthread_mutex_lock(&s->watch_lock);
    while (!s->stopping) {
        cut = idle = 0;
        for (w = s->watched; w; w = w->next) {
            if (!w->in_head || w->cut ||
                now_s() - w->head_started_s <= s->set.timeout_s)
                continue;
            (void)shutdown(w->fd, SHUT_RDWR);
            w->cut = 1;
            if (w->line_in)
                cut++;
            else
                idle++;
        }
        if (cut || idle) {
            pthread_mutex_unlock(&s->watch_lock);
            snprintf(what, sizeof(what), "closed %u connection(s) whose "
                     "request head took over %g s", cut, s->set.timeout_s);
            if (cut)
                log_refusal(s, 0, what);
            if (idle)
                log_debug("http", "closed %u connection(s) without a "
                          "request line for %g s", idle, s->set.timeout_s);
            pthread_mutex_lock(&s->watch_lock);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)period;
        until.tv_nsec += (long)((period - (double)(time_t)period) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&s->watch_wake, &s->watch_lock, &until);
    }
    pthread_mutex_unlock(&s->watch_lock);
    return NULL;
}

/* Answers with one of the server's own errors, and logs it. */
static enum MHD_Result refuse(struct http_server *s,
                              struct MHD_Connection *conn,
                              const struct http_request *req,
                              struct pending *p, int status, const char *what)
{
    struct http_response res = {200, "text/plain", NULL, {0}};

    log_refusal(s, status, what);
    fill_error(s, status, what, &res);
    return respond(s, conn, req, p, &res);
}

struct head_size {
    size_t bytes;
    unsigned count;
};

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
    struct head_size *size = cls;

    (void)kind;
    size->bytes += strlen(key) + (value ? strlen(value) : 0);
    size->count++;
    return MHD_YES;
}

/* What the head alone rules out, as a status and a sentence in what;
 * 0 when the head is within the limits. */
static int check_head(struct MHD_Connection *conn, const struct pending *p,
                      char *what, size_t what_size)
{
    struct head_size size = {0, 0};

    if (p->uri_bytes > HTTP_MAX_URI_BYTES) {
        snprintf(what, what_size, "request target of %zu bytes is over the "
                 "limit of %d", p->uri_bytes, HTTP_MAX_URI_BYTES);
        return MHD_HTTP_URI_TOO_LONG;
    }
    if (p->too_many_args) {
        snprintf(what, what_size, "query string has over %d arguments",
                 HTTP_MAX_QUERY_ARGS);
        return MHD_HTTP_URI_TOO_LONG;
    }
    (void)MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size,
                                    &size);
    if (size.bytes > HTTP_MAX_HEADER_BYTES) {
        snprintf(what, what_size, "headers of %zu bytes are over the limit "
                 "of %d", size.bytes, HTTP_MAX_HEADER_BYTES);
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    if (size.count > HTTP_MAX_HEADERS) {
        snprintf(what, what_size, "%u headers are over the limit of %d",
                 size.count, HTTP_MAX_HEADERS);
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    return 0;
}

/* The first call, with the headers only: refuse a head over the limits
 * and a declared body over the limit, then let the caller's hook refuse
 * what it can tell already. */
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
    int status;

    describe(conn, url, method, p, &query, &req);
    status = check_head(conn, p, what, sizeof(what));
    if (status) {
        ret = refuse(s, conn, &req, p, status, what);
    } else if (length &&
               strtoull(length, NULL, 10) > s->set.max_body_bytes) {
        snprintf(what, sizeof(what), "body of %.20s bytes is over the limit "
                 "of %zu", length, s->set.max_body_bytes);
        ret = refuse(s, conn, &req, p, MHD_HTTP_CONTENT_TOO_LARGE, what);
    } else if (s->set.on_headers && s->set.on_headers(s->opaque, &req, &res)) {
        ret = respond(s, conn, &req, p, &res);
    } else {
        buf_free(&res.body); /* a hook that wrote and then went on */
    }
    buf_free(&query);
    return ret;
}

/* A piece of body: kept while under the limit, drained past it, so that
 * the client, which may well still be sending, reads the 413 at the end
 * (libmicrohttpd 0.9.75 cannot answer in the middle of a body). The
 * drain is bounded in time, not in bytes: past twice the time budget the
 * connection is closed (MHD_NO), which is what also ends a trickle. The
 * cut is logged here, with its reason; the library's own line for it,
 * which blames the application, is then kept at debug (on_mhd_error()). */
static enum MHD_Result take_body(struct http_server *s, struct pending *p,
                                 const char *data, size_t *size)
{
    size_t max = s->set.max_body_bytes;
    char what[160];

    p->received += *size;
    if (p->received > max)
        p->too_large = 1;
    if (!p->too_large && !p->answered && buf_append(&p->body, data, *size))
        return MHD_NO;
    *size = 0;

    if (now_s() - p->started_s > 2 * s->set.timeout_s) {
        snprintf(what, sizeof(what), "closed a connection whose request "
                 "body was still arriving after %g s (%zu bytes so far)",
                 2 * s->set.timeout_s, p->received);
        log_refusal(s, 0, what);
        cut_on_this_thread = 1;
        return MHD_NO;
    }
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
        ret = refuse(s, conn, &req, p, MHD_HTTP_CONTENT_TOO_LARGE, what);
    } else if (now_s() - p->started_s > s->set.timeout_s) {
        snprintf(what, sizeof(what), "the request took over %g s to arrive",
                 s->set.timeout_s);
        ret = refuse(s, conn, &req, p, MHD_HTTP_REQUEST_TIMEOUT, what);
    } else {
        s->handler(s->opaque, &req, &res);
        ret = respond(s, conn, &req, p, &res);
    }
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
    cut_on_this_thread = 0; /* the library has said what it had to */
    if (!p) /* the URI callback could not allocate */
        return MHD_NO;
    if (!p->headers_seen) {
        p->headers_seen = 1;
        watch_mark(s, conn, 0);
        return check_headers(s, conn, url, method, p);
    }
    if (*upload_data_size > 0)
        return take_body(s, p, upload_data, upload_data_size);
    if (p->answered)
        return MHD_YES; /* refused from the headers; nothing more to say */
    return finish(s, conn, url, method, p);
}

/* Called with the request target as soon as the request line is in, and
 * before libmicrohttpd splits the query into arguments: a query too long
 * or with too many arguments is cut off here (the request is refused
 * with 414 from its headers), because each argument takes a record of
 * the connection's pool, and thousands of them exhaust it. What it
 * returns becomes the request's con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct pending *p = calloc(1, sizeof(*p));
    char *query = strchr(uri, '?');
    unsigned args = 0;
    const char *c;

    watch_note_line(cls, conn);
    if (!p)
        return NULL;
    p->started_s = now_s();
    p->uri_bytes = strlen(uri);
    for (c = query; c && *c; c++)
        args += *c == '&' || *c == ';' || c == query;
    p->too_many_args = args > HTTP_MAX_QUERY_ARGS;
    if (query && (p->uri_bytes > HTTP_MAX_URI_BYTES || p->too_many_args))
        *query = '\0'; /* the library's buffer, which it parses next */
    return p;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode why)
{
    struct pending *p = *con_cls;

    watch_mark(cls, conn, 1); /* the next request's head, if any */
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
    if (!allowed) {
        cut_on_this_thread = 0;
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    /* A client gone in the middle of its head (or cut by the reaper,
     * which logged it already) is no news. Nor is a failed bind, which
     * the caller reports with the address: the library names the port
     * it was passed, 0, since the address goes in as a sockaddr. */
    if (strstr(msg, "closed when reading request") ||
        strncmp(msg, "Failed to bind", 14) == 0 ||
        (cut_on_this_thread && strstr(msg, "Application reported")))
        log_debug("http", "%s", msg);
    else
        log_warn("http", "%s", msg);
    cut_on_this_thread = 0;
}

/* libmicrohttpd warns about a pool of one thread, so the option is only
 * passed for more. */
static struct MHD_Daemon *start_daemon(struct http_server *s,
                                       struct sockaddr_in *sa)
{
    unsigned timeout = (unsigned)ceil(s->set.timeout_s);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_error, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_POOL_BYTES, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, sa},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)(timeout ? timeout : 1u),
         NULL},
        {MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTION_LIMIT, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_THREAD_POOL_SIZE, s->set.threads, NULL},
        {MHD_OPTION_END, 0, NULL}};

    if (s->set.threads <= 1)
        opts[8].option = MHD_OPTION_END;
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
    pthread_mutex_init(&s->watch_lock, NULL);
    pthread_cond_init(&s->watch_wake, NULL);
    log_limit_init(&s->log_allowance, HTTP_LOG_PER_WINDOW, HTTP_LOG_WINDOW_S);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    (void)inet_pton(AF_INET, host, &sa.sin_addr); /* checked above */
    s->daemon = start_daemon(s, &sa);
    if (!s->daemon) {
        snprintf(errstr, errstr_size, "cannot listen on %s (in use, or not "
                 "an address of this machine)", listen);
        http_server_stop(s);
        return RIFFLE_ERR_IO;
    }
    /* Without the reaper slow heads are still cut, by the library's idle
     * timeout, only later: not worth refusing to serve. */
    s->reaper_running = pthread_create(&s->reaper, NULL, reap_slow_heads,
                                       s) == 0;
    if (!s->reaper_running)
        log_warn("http", "cannot start the thread that cuts slow request "
                 "heads; only idle connections will time out");

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
    if (s->reaper_running) {
        pthread_mutex_lock(&s->watch_lock);
        s->stopping = 1;
        pthread_cond_signal(&s->watch_wake);
        pthread_mutex_unlock(&s->watch_lock);
        pthread_join(s->reaper, NULL);
    }
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->watch_wake);
    pthread_mutex_destroy(&s->watch_lock);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
