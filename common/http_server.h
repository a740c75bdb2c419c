/*
 * common/http_server.h - the one HTTP/1.1 server of riffle, on
 * libmicrohttpd.
 *
 * Serves one handler function: each complete request (method, path,
 * query string, body up to a limit) is handed to it, and it fills a
 * response (status, content type, body). `riffle learn --http` serves
 * /metrics and the dashboard with it, `riffle serve` its JSON endpoint,
 * /healthz and /metrics. It does not route, parse JSON or do TLS:
 * callers switch on the path.
 *
 * Whatever the settings, a request target (path and query) over 8 KB or
 * with over 64 query arguments gets 414, headers over 16 KB or over 100
 * of them 431, both from the head alone, and a head that takes longer
 * than the time budget to arrive has its connection closed; each such
 * refusal is logged once, by size and never by content. A connection
 * idle that long before a request line (kept alive between requests)
 * is closed too, without a warning.
 *
 * Settings make it fit a public endpoint as well as a scrape target: a
 * body limit (a declared Content-Length over it is refused from the
 * headers, before the body is read; a chunked body at its end, however
 * far it goes past the limit), a time budget per request (a client that trickles its body gets
 * 408, one that stops sending is disconnected), a hook that may refuse a
 * request from its headers alone (a wrong path, method or content type),
 * a hook that formats the server's own error answers (text by default,
 * JSON for an API), and one that sees every answer given (counts and
 * latency).
 *
 * Threads: libmicrohttpd's internal thread, or a pool of
 * settings.threads, accepts and serves the connections and calls the
 * hooks and the handler there, several at once with a pool. They must be
 * quick and must protect what they share with the caller's threads
 * behind a lock. Start and stop from one thread.
 */
#ifndef RIFFLE_COMMON_HTTP_SERVER_H
#define RIFFLE_COMMON_HTTP_SERVER_H

#include <stddef.h>

#include "common/buf.h"

#define HTTP_SERVER_MAX_BODY (1024 * 1024) /* bytes; larger gets 413 */
#define HTTP_SERVER_TIMEOUT_S 30.0 /* default budget of one request */

struct http_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* without the query string, e.g. "/metrics" */
    const char *query;        /* the arguments after '?', percent-decoded
                                 and joined as "k=v&k=v"; "" when none */
    const char *content_type; /* the header, or NULL when absent */
    const char *body;         /* NUL-terminated; "" when none (and always
                                 "" in the headers hook) */
    size_t body_len;
};

struct http_response {
    int status;               /* 200 unless the handler sets another */
    const char *content_type; /* static; "text/plain" unless set */
    const char *allow;        /* static Allow header (405), or NULL */
    struct buf body;          /* the handler appends; freed by the server */
};

/* Fills res for req. opaque is what the server was started with. The
 * return value is ignored; a status >= 400 with a body is the way to
 * report a problem to the client. */
typedef void (*http_handler_fn)(void *opaque, const struct http_request *req,
                                struct http_response *res);

/* Called once the headers are in, before any body is read: returns 0 to
 * go on (the handler gets the whole request later) or 1 to answer with
 * res at once, leaving the body unread. */
typedef int (*http_headers_fn)(void *opaque, const struct http_request *req,
                               struct http_response *res);

/* Fills res->body (and content_type) for an answer the server gives by
 * itself: 413, 408, 414 and 431, with what (a sentence) saying why. */
typedef void (*http_error_fn)(void *opaque, int status, const char *what,
                              struct http_response *res);

/* Told of every answer queued: its status and the seconds from the
 * headers' arrival to the answer. */
typedef void (*http_done_fn)(void *opaque, const struct http_request *req,
                             int status, double seconds);

struct http_server_settings {
    size_t max_body_bytes;      /* 0: HTTP_SERVER_MAX_BODY */
    double timeout_s;           /* per request; 0: HTTP_SERVER_TIMEOUT_S */
    int threads;                /* <= 1: one internal thread */
    http_headers_fn on_headers; /* NULL: every request is read whole */
    http_error_fn on_error;     /* NULL: a line of text */
    http_done_fn on_done;       /* NULL: nobody is told */
};

struct http_server;

/* Listens on listen, "HOST:PORT" (an IPv4 address such as 127.0.0.1 or
 * 0.0.0.0; port 0 picks a free one), and serves handler until
 * http_server_stop(), with the default settings. Returns 0 or
 * RIFFLE_ERR_USAGE (bad address) / RIFFLE_ERR_IO (cannot listen) with
 * errstr naming the address. */
int http_server_start(const char *listen, http_handler_fn handler,
                      void *opaque, struct http_server **out, char *errstr,
                      size_t errstr_size);

/* The same with settings (borrowed: copied; NULL for the defaults). */
int http_server_start_with(const char *listen,
                           const struct http_server_settings *settings,
                           http_handler_fn handler, void *opaque,
                           struct http_server **out, char *errstr,
                           size_t errstr_size);

/* The port actually listened on (useful after port 0). */
int http_server_port(const struct http_server *s);

/* Stops listening, waits for the internal threads and frees. NULL-safe. */
void http_server_stop(struct http_server *s);

/* Splits "HOST:PORT" into an IPv4 address and a port 0..65535. Returns
 * 0 or RIFFLE_ERR_USAGE with errstr saying what was expected. */
int http_server_parse_listen(const char *listen, char *host,
                             size_t host_size, int *port, char *errstr,
                             size_t errstr_size);

#endif
