/*
 * tests/unit/test_http_server.c - common/http_server.c over a real
 * loopback socket.
 *
 * Starts the server on 127.0.0.1 port 0 (a free port), speaks plain
 * HTTP/1.0 to it with a blocking socket and checks what the handler saw
 * (method, path, decoded query, body) and what the client got (status,
 * content type, body), plus the 413 for an oversized body and the
 * listen-address parser; then the settings an API uses: a hook refusing
 * from the headers before the body, the server's own errors worded by
 * the caller, every answer told, and 408 for a body that trickles in
 * slower than the time budget. Needs no broker. The handler runs on the
 * server's thread; the test thread only reads what it recorded after the
 * reply has arrived, which orders the two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/kafka.h"
#include "tests/unit/testutil.h"

struct seen {
    char method[16];
    char path[64];
    char query[128];
    char body[128];
    size_t body_len;
};

static void echo_handler(void *opaque, const struct http_request *req,
                         struct http_response *res)
{
    struct seen *seen = opaque;

    snprintf(seen->method, sizeof(seen->method), "%s", req->method);
    snprintf(seen->path, sizeof(seen->path), "%s", req->path);
    snprintf(seen->query, sizeof(seen->query), "%s", req->query);
    snprintf(seen->body, sizeof(seen->body), "%s", req->body);
    seen->body_len = req->body_len;
    if (strcmp(req->path, "/missing") == 0) {
        res->status = 404;
        (void)buf_printf(&res->body, "no such page\n");
        return;
    }
    res->content_type = "application/json";
    (void)buf_printf(&res->body, "{\"path\":\"%s\"}", req->path);
}

/* Sends request whole, reads until the server closes (HTTP/1.0). */
static void exchange(int port, const char *request, struct buf *reply)
{
    struct sockaddr_in sa;
    char chunk[4096];
    ssize_t n;
    size_t sent = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    while (sent < strlen(request)) {
        /* MSG_NOSIGNAL: the server may answer 413 and close before
         * reading it all, and a write then must fail, not raise SIGPIPE. */
        n = send(fd, request + sent, strlen(request) - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        assert_int_equal(buf_append(reply, chunk, (size_t)n), 0);
    close(fd);
}

static void test_http_server_serves_get_with_query(void **state)
{
    struct http_server *s = NULL;
    struct seen seen = {0};
    struct buf reply = {0};
    char errstr[256];

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, &seen,
                                       &s, errstr, sizeof(errstr)),
                     0);
    assert_true(http_server_port(s) > 0);

    exchange(http_server_port(s),
             "GET /metrics?since=12&name=a%20b HTTP/1.0\r\n\r\n", &reply);
    assert_contains(reply.data, "HTTP/1.1 200 OK");
    assert_contains(reply.data, "Content-Type: application/json");
    assert_contains(reply.data, "Cache-Control: no-store");
    assert_contains(reply.data, "{\"path\":\"/metrics\"}");
    assert_string_equal(seen.method, "GET");
    assert_string_equal(seen.path, "/metrics");
    assert_string_equal(seen.query, "since=12&name=a b");
    assert_int_equal(seen.body_len, 0);

    buf_free(&reply);
    http_server_stop(s);
}

static void test_http_server_passes_body_and_status(void **state)
{
    struct http_server *s = NULL;
    struct seen seen = {0};
    struct buf reply = {0};
    char errstr[256];

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, &seen,
                                       &s, errstr, sizeof(errstr)),
                     0);

    exchange(http_server_port(s),
             "POST /missing HTTP/1.0\r\nContent-Length: 11\r\n\r\n"
             "{\"x\": 1.5}\n", &reply);
    assert_contains(reply.data, "HTTP/1.1 404");
    assert_contains(reply.data, "no such page");
    assert_string_equal(seen.method, "POST");
    assert_string_equal(seen.body, "{\"x\": 1.5}\n");
    assert_int_equal(seen.body_len, 11);

    buf_free(&reply);
    http_server_stop(s);
}

static void test_http_server_refuses_oversized_body(void **state)
{
    struct http_server *s = NULL;
    struct seen seen = {0};
    struct buf request = {0}, reply = {0};
    char errstr[256];
    size_t size = HTTP_SERVER_MAX_BODY + 1;

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, &seen,
                                       &s, errstr, sizeof(errstr)),
                     0);
    assert_int_equal(buf_printf(&request, "POST /big HTTP/1.0\r\n"
                                "Content-Length: %zu\r\n\r\n", size), 0);
    assert_int_equal(buf_reserve(&request, size), 0);
    memset(request.data + request.len, 'x', size);
    request.len += size;
    request.data[request.len] = '\0';

    exchange(http_server_port(s), request.data, &reply);
    assert_contains(reply.data, "HTTP/1.1 413");
    assert_string_equal(seen.path, ""); /* the handler never ran */

    buf_free(&request);
    buf_free(&reply);
    http_server_stop(s);
}

static void test_http_server_rejects_bad_listen(void **state)
{
    struct http_server *s = NULL;
    char errstr[256], host[64];
    int port = -1;

    (void)state;
    assert_int_equal(http_server_start("9464", echo_handler, NULL, &s,
                                       errstr, sizeof(errstr)),
                     RIFFLE_ERR_USAGE);
    assert_contains(errstr, "expected HOST:PORT");
    assert_int_equal(http_server_start("127.0.0.1:70000", echo_handler,
                                       NULL, &s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_USAGE);
    assert_contains(errstr, "port from 0 to 65535");
    assert_int_equal(http_server_start("localhost:80", echo_handler, NULL,
                                       &s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_USAGE);
    assert_contains(errstr, "IPv4 address");
    assert_null(s);

    assert_int_equal(http_server_parse_listen("0.0.0.0:9464", host,
                                              sizeof(host), &port, errstr,
                                              sizeof(errstr)),
                     0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 9464);
    http_server_stop(NULL);
}

/* The caller's error names the address; the library's own complaint,
 * which named "port 0" (the address goes in as a sockaddr), is not
 * logged at the default level beside it. */
static void test_http_server_reports_port_in_use(void **state)
{
    struct http_server *a = NULL, *b = NULL;
    char errstr[256], listen[32], logged[1024];
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t n;

    (void)state;
    assert_non_null(capture);
    assert_true(saved >= 0);
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, NULL,
                                       &a, errstr, sizeof(errstr)),
                     0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", http_server_port(a));
    fflush(stderr);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
    assert_int_equal(http_server_start(listen, echo_handler, NULL, &b,
                                       errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(capture);
    n = fread(logged, 1, sizeof(logged) - 1, capture);
    logged[n] = '\0';
    fclose(capture);
    assert_lacks(logged, "port 0");
    assert_lacks(logged, "Failed to bind");
    assert_contains(errstr, listen);
    assert_null(b);
    http_server_stop(a);
}

/* ---- settings: header hook, error wording, answers told, timeout -- */

struct hooks {
    int headers_seen, handled, done, last_status;
    char content_type[64];
};

static int refuse_text(void *opaque, const struct http_request *req,
                       struct http_response *res)
{
    struct hooks *h = opaque;

    h->headers_seen++;
    snprintf(h->content_type, sizeof(h->content_type), "%s",
             req->content_type ? req->content_type : "(none)");
    assert_int_equal(req->body_len, 0); /* no body read yet */
    if (req->content_type && strcmp(req->content_type, "text/csv") == 0) {
        res->status = 415;
        res->allow = "POST";
        (void)buf_printf(&res->body, "no csv\n");
        return 1;
    }
    return 0;
}

static void count_handler(void *opaque, const struct http_request *req,
                          struct http_response *res)
{
    struct hooks *h = opaque;

    h->handled++;
    (void)buf_printf(&res->body, "got %zu\n", req->body_len);
}

static void json_error(void *opaque, int status, const char *what,
                       struct http_response *res)
{
    (void)opaque;
    res->content_type = "application/json";
    (void)buf_printf(&res->body, "{\"status\":%d,\"error\":\"%s\"}", status,
                     what);
}

static void count_done(void *opaque, const struct http_request *req,
                       int status, double seconds)
{
    struct hooks *h = opaque;

    (void)req;
    assert_true(seconds >= 0);
    h->done++;
    h->last_status = status;
}

static struct http_server *start_hooked(struct hooks *h, size_t max_body,
                                        double timeout_s)
{
    struct http_server_settings set = {.max_body_bytes = max_body,
                                       .timeout_s = timeout_s,
                                       .threads = 2,
                                       .on_headers = refuse_text,
                                       .on_error = json_error,
                                       .on_done = count_done};
    struct http_server *s = NULL;
    char errstr[256];

    assert_int_equal(http_server_start_with("127.0.0.1:0", &set,
                                            count_handler, h, &s, errstr,
                                            sizeof(errstr)),
                     0);
    return s;
}

static void test_http_server_refuses_from_headers(void **state)
{
    struct hooks h = {0};
    struct http_server *s = start_hooked(&h, 64, 5.0);
    struct buf reply = {0};

    (void)state;
    /* The declared body never comes: the answer must not wait for it. */
    exchange(http_server_port(s), "POST /x HTTP/1.0\r\nContent-Type: "
             "text/csv\r\nContent-Length: 10\r\n\r\n", &reply);
    assert_contains(reply.data, "HTTP/1.1 415");
    assert_contains(reply.data, "Allow: POST");
    assert_contains(reply.data, "no csv");
    assert_int_equal(h.handled, 0);
    assert_string_equal(h.content_type, "text/csv");

    buf_reset(&reply);
    exchange(http_server_port(s), "POST /x HTTP/1.0\r\nContent-Length: "
             "1000\r\n\r\n", &reply);
    assert_contains(reply.data, "HTTP/1.1 413");
    assert_contains(reply.data, "{\"status\":413,\"error\":\"body of 1000 "
                    "bytes is over the limit of 64\"}");
    assert_int_equal(h.handled, 0);

    buf_reset(&reply);
    exchange(http_server_port(s), "POST /x HTTP/1.0\r\nContent-Type: "
             "application/json\r\nContent-Length: 2\r\n\r\n{}", &reply);
    assert_contains(reply.data, "HTTP/1.1 200");
    assert_contains(reply.data, "got 2");
    assert_int_equal(h.handled, 1);

    http_server_stop(s); /* joins the threads: h is final */
    assert_int_equal(h.headers_seen, 2); /* the 413 came before the hook */
    assert_int_equal(h.done, 3);
    assert_int_equal(h.last_status, 200);
    buf_free(&reply);
}

/* A body that trickles in, one byte every 50 ms, past the 1 s budget;
 * its last bytes then come at once, so that it ends well before the 2 s
 * after which the server hangs up instead, and no gap comes near the 1 s
 * after which an idle connection is closed. (Pauses of 0.4 s, as this
 * test once had, left too little margin on a loaded machine: a stretched
 * pause turned the 408 into a hang-up.) */
static void test_http_server_times_out_a_trickle(void **state)
{
    const struct timespec pause = {0, 50 * 1000 * 1000};
    struct hooks h = {0};
    struct http_server *s = start_hooked(&h, 64, 1.0);
    struct sockaddr_in sa;
    struct buf reply = {0};
    char chunk[512], rest[64];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t sent = 0;
    double started;
    const char *head = "POST /x HTTP/1.0\r\nContent-Length: 64\r\n\r\n";

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_server_port(s));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    started = kafka_monotonic_s();
    while (kafka_monotonic_s() - started < 1.2 && sent < sizeof(rest) - 1) {
        (void)nanosleep(&pause, NULL);
        assert_int_equal(write(fd, "x", 1), 1);
        sent++;
    }
    memset(rest, 'x', sizeof(rest));
    assert_int_equal(write(fd, rest, sizeof(rest) - sent),
                     (ssize_t)(sizeof(rest) - sent));
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        assert_int_equal(buf_append(&reply, chunk, (size_t)n), 0);
    close(fd);

    assert_true(sent > 10); /* it did trickle */
    assert_non_null(reply.data);
    assert_contains(reply.data, "HTTP/1.1 408");
    assert_contains(reply.data, "took over 1 s to arrive");
    http_server_stop(s);
    assert_int_equal(h.handled, 0);
    assert_int_equal(h.last_status, 408);
    buf_free(&reply);
}

/* Counts the lines of path that contain needle. */
static int count_lines_with(const char *path, const char *needle)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* A client can send malformed requests as fast as it likes, and the HTTP
 * library complains about each: at most a few of those complaints reach
 * the log (10 a minute), however many requests come. */
static void test_http_server_limits_complaints_of_a_flood(void **state)
{
    struct seen seen = {0};
    struct http_server *s = NULL;
    struct buf reply = {0};
    char errstr[256], path[128];
    int saved, i, complaints;

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, &seen,
                                       &s, errstr, sizeof(errstr)),
                     0);
    temp_file_new(path, sizeof(path), "httplog");
    saved = dup(fileno(stderr));
    assert_non_null(freopen(path, "w", stderr));

    for (i = 0; i < 100; i++) {
        buf_reset(&reply);
        exchange(http_server_port(s), "GET /x HTTP/1.0\r\nno colon here\r\n"
                 "\r\n", &reply);
    }
    http_server_stop(s); /* joins the threads: every complaint is written */

    fflush(stderr);
    assert_int_equal(dup2(saved, fileno(stderr)), fileno(stderr));
    close(saved);
    clearerr(stderr);
    complaints = count_lines_with(path, "warn  http: ");
    assert_true(complaints >= 1); /* the library did complain */
    assert_true(complaints <= 10);
    (void)unlink(path);
    buf_free(&reply);
}

/* A body still trickling in at twice the 1 s budget is cut, and the log
 * says so in riffle's words, once: the HTTP library's own line for a
 * connection its caller closes reads "Application reported internal
 * error", which sent operators looking for a fault of the server. */
static void test_http_server_cuts_a_long_trickle_with_its_reason(void **state)
{
    const struct timespec pause = {0, 100 * 1000 * 1000};
    struct hooks h = {0};
    struct http_server *s;
    struct sockaddr_in sa;
    const char *head = "POST /x HTTP/1.0\r\nContent-Length: 60\r\n\r\n";
    char path[128];
    double started, cut_after = -1;
    int fd, saved;

    (void)state;
    temp_file_new(path, sizeof(path), "httpcut");
    saved = dup(fileno(stderr));
    assert_non_null(freopen(path, "w", stderr));
    s = start_hooked(&h, 64, 1.0);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_server_port(s));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    started = kafka_monotonic_s();
    while (kafka_monotonic_s() - started < 6.0) {
        (void)nanosleep(&pause, NULL);
        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
            cut_after = kafka_monotonic_s() - started;
            break;
        }
    }
    close(fd);
    http_server_stop(s); /* joins the threads: every line is written */

    fflush(stderr);
    assert_int_equal(dup2(saved, fileno(stderr)), fileno(stderr));
    close(saved);
    clearerr(stderr);
    assert_true(cut_after > 1.9); /* -1: never cut */
    assert_true(cut_after < 5.0);
    assert_int_equal(h.handled, 0);
    assert_int_equal(count_lines_with(path, "still arriving after 2 s"), 1);
    assert_int_equal(count_lines_with(path, "internal error"), 0);
    (void)unlink(path);
}

/* ---- the request head: every size gets an answer, slow ones a cut -- */

/* A request of head_bytes of filler in the place kind names ("query",
 * "args", "path", "header", "headers", "type"), as HTTP/1.0. */
static void long_head(struct buf *req, const char *kind, size_t n)
{
    size_t i;

    buf_reset(req);
    if (strcmp(kind, "query") == 0 || strcmp(kind, "path") == 0) {
        assert_int_equal(buf_printf(req, "GET /x%s", kind[0] == 'q' ? "?q="
                                    : "/"), 0);
        for (i = 0; i < n; i++)
            assert_int_equal(buf_append(req, "a", 1), 0);
        assert_int_equal(buf_printf(req, " HTTP/1.0\r\n\r\n"), 0);
    } else if (strcmp(kind, "args") == 0) {
        assert_int_equal(buf_printf(req, "GET /x?a=1"), 0);
        for (i = 0; i < n / 4; i++)
            assert_int_equal(buf_printf(req, "&a=1"), 0);
        assert_int_equal(buf_printf(req, " HTTP/1.0\r\n\r\n"), 0);
    } else if (strcmp(kind, "headers") == 0) {
        assert_int_equal(buf_printf(req, "GET /x HTTP/1.0\r\n"), 0);
        for (i = 0; i < n / 6; i++)
            assert_int_equal(buf_printf(req, "X: a\r\n"), 0);
        assert_int_equal(buf_printf(req, "\r\n"), 0);
    } else {
        assert_int_equal(buf_printf(req, "POST /x HTTP/1.0\r\n%s: ",
                                    strcmp(kind, "type") == 0
                                    ? "Content-Type" : "X-Big"), 0);
        for (i = 0; i < n; i++)
            assert_int_equal(buf_append(req, "a", 1), 0);
        assert_int_equal(buf_printf(req, "\r\nContent-Length: 2\r\n\r\n{}"),
                         0);
    }
}

/* libmicrohttpd keeps a request's head in a per-connection pool: an
 * 8 KB query string once left the client without any answer, and so did
 * a head just under the pool's size or a query of a few hundred
 * arguments (a record each). Each gets 414 or 431 now, with one warning
 * in the log that names the size but not the content, and the server
 * answers the next request as usual. */
static void test_http_server_answers_every_long_head(void **state)
{
    static const struct {
        const char *kind;
        size_t bytes;
        const char *status;
    } cases[] = {
        {"query", 8 * 1024 - 100, "HTTP/1.1 200"},
        {"query", 8 * 1024 + 100, "HTTP/1.1 414"},
        {"query", 32 * 1024 - 300, "HTTP/1.1 414"},
        {"path", 12 * 1024, "HTTP/1.1 414"},
        {"args", 2000, "HTTP/1.1 414"},
        {"header", 16 * 1024 + 100, "HTTP/1.1 431"},
        {"header", 32 * 1024 - 300, "HTTP/1.1 431"},
        {"headers", 3000, "HTTP/1.1 431"},
        {"type", 20 * 1024, "HTTP/1.1 431"},
    };
    struct seen seen = {0};
    struct http_server *s = NULL;
    struct buf request = {0}, reply = {0};
    char errstr[256], path[128];
    size_t i;
    int saved;

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, &seen,
                                       &s, errstr, sizeof(errstr)),
                     0);
    temp_file_new(path, sizeof(path), "httphead");
    saved = dup(fileno(stderr));
    assert_non_null(freopen(path, "w", stderr));

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long_head(&request, cases[i].kind, cases[i].bytes);
        buf_reset(&reply);
        exchange(http_server_port(s), request.data, &reply);
        if (!reply.data || !strstr(reply.data, cases[i].status))
            fail_msg("%s of %zu bytes: got '%.40s', expected '%s'",
                     cases[i].kind, cases[i].bytes,
                     reply.data ? reply.data : "(nothing)", cases[i].status);
    }
    buf_reset(&reply);
    exchange(http_server_port(s), "GET /after HTTP/1.0\r\n\r\n", &reply);
    assert_contains(reply.data, "HTTP/1.1 200");
    assert_string_equal(seen.path, "/after");
    http_server_stop(s);

    fflush(stderr);
    assert_int_equal(dup2(saved, fileno(stderr)), fileno(stderr));
    close(saved);
    clearerr(stderr);
    assert_int_equal(count_lines_with(path, "warn  http: answered 414: "), 4);
    assert_int_equal(count_lines_with(path, "warn  http: answered 431: "), 4);
    assert_int_equal(count_lines_with(path, "aaaa"), 0);
    (void)unlink(path);
    buf_free(&request);
    buf_free(&reply);
}

/* A chunked body has no declared length: it is refused at its end, and
 * however far past the limit it goes (here 1000 times) its client still
 * reads the 413 rather than a closed connection. */
static void test_http_server_answers_a_long_chunked_body(void **state)
{
    struct hooks h = {0};
    struct http_server *s = start_hooked(&h, 64, 10.0);
    struct buf request = {0}, reply = {0};
    int i;

    (void)state;
    assert_int_equal(buf_printf(&request, "POST /x HTTP/1.1\r\nHost: h\r\n"
                                "Connection: close\r\nTransfer-Encoding: "
                                "chunked\r\n\r\n"), 0);
    for (i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&request, "40\r\n%064d\r\n", i), 0);
    assert_int_equal(buf_printf(&request, "0\r\n\r\n"), 0);

    exchange(http_server_port(s), request.data, &reply);
    assert_non_null(reply.data);
    assert_contains(reply.data, "HTTP/1.1 413");
    assert_contains(reply.data, "over the limit of 64 bytes");
    http_server_stop(s);
    assert_int_equal(h.handled, 0);
    assert_int_equal(h.last_status, 413);
    buf_free(&request);
    buf_free(&reply);
}

/* A head sent a byte every 100 ms never lets the connection go idle, so
 * libmicrohttpd's own timeout would keep it open for good: it is cut
 * once the head has taken the 1 s budget, and meanwhile others are
 * served. */
static void test_http_server_cuts_a_slow_head(void **state)
{
    const struct timespec pause = {0, 100 * 1000 * 1000};
    struct hooks h = {0};
    struct http_server *s = start_hooked(&h, 64, 1.0);
    struct sockaddr_in sa;
    struct buf reply = {0};
    const char *head = "GET /x HTTP/1.1\r\nHost: h\r\n";
    double started, cut_after = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_server_port(s));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    started = kafka_monotonic_s();
    while (kafka_monotonic_s() - started < 6.0) {
        (void)nanosleep(&pause, NULL);
        if (send(fd, "X", 1, MSG_NOSIGNAL) != 1) {
            cut_after = kafka_monotonic_s() - started;
            break;
        }
        if (kafka_monotonic_s() - started > 0.5 && !reply.data)
            exchange(http_server_port(s), "GET /y HTTP/1.0\r\n\r\n", &reply);
    }
    close(fd);

    assert_contains(reply.data, "HTTP/1.1 200");
    assert_true(cut_after > 0.9); /* -1: never cut */
    assert_true(cut_after < 4.0);
    http_server_stop(s);
    assert_int_equal(h.handled, 1);
    buf_free(&reply);
}

/* A client that keeps its connection alive between requests, as
 * Prometheus and proxies do, is closed once idle for the budget, as
 * libmicrohttpd's own timeout would: no warning, which would otherwise
 * come once per scrape and use up the log allowance of real complaints.
 * A slow head after its request line is still warned about. */
static void test_http_server_closes_idle_connections_quietly(void **state)
{
    const struct timespec pause = {0, 100 * 1000 * 1000};
    struct hooks h = {0};
    struct http_server *s;
    struct sockaddr_in sa;
    struct timeval wait = {5, 0};
    char chunk[4096], path[128];
    const char *req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    double started, closed_after = -1;
    ssize_t n;
    int fd, saved, i;

    (void)state;
    temp_file_new(path, sizeof(path), "httpidle");
    saved = dup(fileno(stderr));
    assert_non_null(freopen(path, "w", stderr));
    s = start_hooked(&h, 64, 1.0);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_server_port(s));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait,
                                sizeof(wait)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    started = kafka_monotonic_s();
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        ; /* the answer, then the close once idle */
    if (n == 0)
        closed_after = kafka_monotonic_s() - started;
    close(fd);

    /* the same budget over, after a request line: a slow client */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, req, 17), 17);
    for (i = 0; i < 40 && send(fd, "X", 1, MSG_NOSIGNAL) == 1; i++)
        (void)nanosleep(&pause, NULL);
    close(fd);
    http_server_stop(s);

    fflush(stderr);
    assert_int_equal(dup2(saved, fileno(stderr)), fileno(stderr));
    close(saved);
    clearerr(stderr);
    assert_int_equal(h.handled, 1);
    assert_true(closed_after > 0.9); /* -1: never closed */
    assert_true(closed_after < 4.0);
    assert_true(i < 40); /* the slow head was cut */
    assert_int_equal(count_lines_with(path, "request head took over"), 1);
    (void)unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_server_serves_get_with_query),
        cmocka_unit_test(test_http_server_passes_body_and_status),
        cmocka_unit_test(test_http_server_refuses_oversized_body),
        cmocka_unit_test(test_http_server_rejects_bad_listen),
        cmocka_unit_test(test_http_server_reports_port_in_use),
        cmocka_unit_test(test_http_server_refuses_from_headers),
        cmocka_unit_test(test_http_server_times_out_a_trickle),
        cmocka_unit_test(test_http_server_limits_complaints_of_a_flood),
        cmocka_unit_test(test_http_server_answers_every_long_head),
        cmocka_unit_test(test_http_server_answers_a_long_chunked_body),
        cmocka_unit_test(test_http_server_cuts_a_slow_head),
        cmocka_unit_test(test_http_server_cuts_a_long_trickle_with_its_reason),
        cmocka_unit_test(test_http_server_closes_idle_connections_quietly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
