/*
 * common/http_server.c - libmicrohttpd behind one handler, see
 * http_server.h.
 *
 * libmicrohttpd calls the access callback several times per request: once
 * when the headers are in, then once per chunk of body, then once more
 * with no data. The body is gathered in a per-request struct buf (the
 * connection's con_cls) and the handler runs on the last call; the
 * completion callback frees the gathered state whatever happened.
 */
#include "common/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/log.h"

#define HTTP_CONNECTION_TIMEOUT_S 30 /* drop idle clients, free the slot */
#define HTTP_CONNECTION_LIMIT 64     /* dashboards and scrapers, not load */

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    void *opaque;
    int port;
};

struct pending {
    struct buf body;
    int too_large;
};

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

static enum MHD_Result respond(struct http_server *s,
                               struct MHD_Connection *conn, const char *url,
                               const char *method, struct pending *p)
{
    struct http_request req = {method, url, "", p->body.data ? p->body.data
                                                            : "",
                               p->body.len};
    struct http_response res = {200, "text/plain", {0}};
    struct MHD_Response *mr;
    struct buf query = {0};
    enum MHD_Result ret;

    (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg,
                                    &query);
    req.query = query.data ? query.data : "";
    if (p->too_large) {
        res.status = MHD_HTTP_CONTENT_TOO_LARGE;
        (void)buf_printf(&res.body, "request body over %d bytes\n",
                         HTTP_SERVER_MAX_BODY);
    } else {
        s->handler(s->opaque, &req, &res);
    }
    buf_free(&query);

    if (res.body.data)
        mr = MHD_create_response_from_buffer(res.body.len, res.body.data,
                                             MHD_RESPMEM_MUST_FREE);
    else
        mr = MHD_create_response_from_buffer(0, (void *)"",
                                             MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        buf_free(&res.body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  res.content_type);
    /* Everything riffle serves is live state: never cache it. */
    (void)MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
                                  "no-store");
    ret = MHD_queue_response(conn, (unsigned)res.status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct pending *p = *con_cls;

    (void)version;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return MHD_NO;
        *con_cls = p;
        return MHD_YES; /* headers only so far */
    }
    if (*upload_data_size > 0) {
        if (p->body.len + *upload_data_size > HTTP_SERVER_MAX_BODY)
            p->too_large = 1;
        else if (buf_append(&p->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(cls, conn, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode why)
{
    struct pending *p = *con_cls;

    (void)cls;
    (void)conn;
    (void)why;
    if (p) {
        buf_free(&p->body);
        free(p);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own complaints (bad requests, socket errors). */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    char msg[256];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("http", "%s", msg);
}

int http_server_start(const char *listen, http_handler_fn handler,
                      void *opaque, struct http_server **out, char *errstr,
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
    s->handler = handler;
    s->opaque = opaque;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    (void)inet_pton(AF_INET, host, &sa.sin_addr); /* checked above */
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
        MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errstr, errstr_size, "cannot listen on %s (in use, or not "
                 "an address of this machine)", listen);
        free(s);
        return RIFFLE_ERR_IO;
    }

    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return 0;
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
    free(s);
}
