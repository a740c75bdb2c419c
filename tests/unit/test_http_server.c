/*
 * tests/unit/test_http_server.c - common/http_server.c over a real
 * loopback socket.
 *
 * Starts the server on 127.0.0.1 port 0 (a free port), speaks plain
 * HTTP/1.0 to it with a blocking socket and checks what the handler saw
 * (method, path, decoded query, body) and what the client got (status,
 * content type, body), plus the 413 for an oversized body and the
 * listen-address parser. Needs no broker. The handler runs on the
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
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http_server.h"
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
        n = write(fd, request + sent, strlen(request) - sent);
        if (n <= 0)
            break; /* the server may answer 413 before reading it all */
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

static void test_http_server_reports_port_in_use(void **state)
{
    struct http_server *a = NULL, *b = NULL;
    char errstr[256], listen[32];

    (void)state;
    assert_int_equal(http_server_start("127.0.0.1:0", echo_handler, NULL,
                                       &a, errstr, sizeof(errstr)),
                     0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", http_server_port(a));
    assert_int_equal(http_server_start(listen, echo_handler, NULL, &b,
                                       errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(errstr, listen);
    assert_null(b);
    http_server_stop(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_server_serves_get_with_query),
        cmocka_unit_test(test_http_server_passes_body_and_status),
        cmocka_unit_test(test_http_server_refuses_oversized_body),
        cmocka_unit_test(test_http_server_rejects_bad_listen),
        cmocka_unit_test(test_http_server_reports_port_in_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
