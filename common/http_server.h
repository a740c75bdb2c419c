/*
 * common/http_server.h - a small HTTP/1.1 server on libmicrohttpd.
 *
 * Serves one handler function: each complete request (method, path,
 * query string, body up to a fixed limit) is handed to it, and it fills a
 * response (status, content type, body). Used by `riffle learn` for
 * /metrics and the dashboard, and meant for any other riffle endpoint.
 * It does not route, parse JSON or do TLS: callers switch on the path.
 *
 * Threads: libmicrohttpd runs one internal thread that accepts and
 * serves every connection and calls the handler there, one request at a
 * time. The handler must therefore be quick and must protect what it
 * shares with the caller's threads behind a lock. Start and stop from
 * one thread.
 */
#ifndef RIFFLE_COMMON_HTTP_SERVER_H
#define RIFFLE_COMMON_HTTP_SERVER_H

#include <stddef.h>

#include "common/buf.h"

#define HTTP_SERVER_MAX_BODY (1024 * 1024) /* bytes; larger gets 413 */

struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string, e.g. "/metrics" */
    const char *query;  /* the arguments after '?', percent-decoded and
                           joined as "k=v&k=v"; "" when none */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
};

struct http_response {
    int status;               /* 200 unless the handler sets another */
    const char *content_type; /* static; "text/plain" unless set */
    struct buf body;          /* the handler appends; freed by the server */
};

/* Fills res for req. opaque is what http_server_start() was given. The
 * return value is ignored; a status >= 400 with a body is the way to
 * report a problem to the client. */
typedef void (*http_handler_fn)(void *opaque, const struct http_request *req,
                                struct http_response *res);

struct http_server;

/* Listens on listen, "HOST:PORT" (an IPv4 address such as 127.0.0.1 or
 * 0.0.0.0; port 0 picks a free one), and serves handler until
 * http_server_stop(). Returns 0 or RIFFLE_ERR_USAGE (bad address) /
 * RIFFLE_ERR_IO (cannot listen) with errstr naming the address. */
int http_server_start(const char *listen, http_handler_fn handler,
                      void *opaque, struct http_server **out, char *errstr,
                      size_t errstr_size);

/* The port actually listened on (useful after port 0). */
int http_server_port(const struct http_server *s);

/* Stops listening, waits for the internal thread and frees. NULL-safe. */
void http_server_stop(struct http_server *s);

/* Splits "HOST:PORT" into an IPv4 address and a port 0..65535. Returns
 * 0 or RIFFLE_ERR_USAGE with errstr saying what was expected. */
int http_server_parse_listen(const char *listen, char *host,
                             size_t host_size, int *port, char *errstr,
                             size_t errstr_size);

#endif
