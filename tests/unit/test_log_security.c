/*
 * tests/unit/test_log_security.c - JSON log lines (common/log.c) and the
 * resolution of Kafka security secrets (common/kafka.c).
 *
 * Log lines are captured by pointing stderr at a temporary file. The
 * security tests set and unset RIFFLE_KAFKA_* variables around each case
 * and check which source of the password wins, that a SASL protocol
 * without user or password is refused with a message naming the ways to
 * give one, that an unreadable certificate file is named, and that the
 * description never holds the password. Needs no broker.
 * Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "tests/unit/testutil.h"

/* Runs one log_info() with stderr sent to a file; returns what it wrote. */
static void capture_log(const char *component, const char *msg, char *out,
                        size_t size)
{
    char path[128];
    FILE *f;
    size_t n;
    int saved = dup(fileno(stderr));

    temp_file_new(path, sizeof(path), "log");
    assert_non_null(freopen(path, "w", stderr));
    log_info(component, "%s", msg);
    fflush(stderr);
    assert_int_equal(dup2(saved, fileno(stderr)), fileno(stderr));
    close(saved);
    clearerr(stderr);

    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(path);
}

static void test_log_json_lines_escape(void **state)
{
    char line[1024];

    (void)state;
    unsetenv("RIFFLE_LOG_FORMAT");
    log_set_json(1);
    capture_log("learn", "say \"hi\"\\ then\nnext\ttab", line, sizeof(line));
    assert_contains(line, "{\"time\":\"");
    assert_contains(line, "Z\",\"level\":\"info\",\"component\":\"learn\","
                    "\"message\":\"say \\\"hi\\\"\\\\ then\\u000anext"
                    "\\u0009tab\"}\n");

    log_set_json(0);
    capture_log("learn", "plain", line, sizeof(line));
    assert_contains(line, "Z info  learn: plain\n");
}

/* A JSON line holds what a text line escapes escaped too: a control
 * (C0, DEL, C1) as \u00XX, and a byte that is not UTF-8, which no JSON
 * string can hold, as the text \xNN; a UTF-8 letter is kept. */
static void test_log_json_lines_escape_controls(void **state)
{
    char line[1024];

    (void)state;
    unsetenv("RIFFLE_LOG_FORMAT");
    log_set_json(1);
    capture_log("config", "a\x1b[31m|\x7f|\xc2\x9b|\x9b|\xc3\xa9|\xe2\x82",
                line, sizeof(line));
    log_set_json(0);
    assert_contains(line, "\"message\":\"a\\u001b[31m|\\u007f|\\u009b|"
                    "\\\\x9b|\xc3\xa9|\\\\xe2\\\\x82\"}\n");
    assert_null(strchr(line, '\x1b'));
    assert_null(strchr(line, '\x7f'));
    assert_null(strchr(line, '\x9b'));
}

/* Every byte a terminal could act on is shown as \xNN; text, UTF-8
 * letters and backslashes are kept; the output is cut, never overrun. */
static void test_log_printable_escapes_controls(void **state)
{
    char out[LOG_PRINTABLE_SIZE(32)];
    char small[8];

    (void)state;
    assert_string_equal(log_printable("a\x1b[31mb\n\t\x7f", out,
                                      sizeof(out)),
                        "a\\x1b[31mb\\x0a\\x09\\x7f");
    /* C1 CSI as UTF-8 and alone; a lone continuation byte; an overlong
     * slash; a surrogate; then valid é, € and an emoji. */
    assert_string_equal(log_printable("\xc2\x9b|\x9b|\x80|\xc0\xaf|"
                                      "\xed\xa0\x80|\xc3\xa9\xe2\x82"
                                      "\xac\xf0\x9f\x98\x80\\", out,
                                      sizeof(out)),
                        "\\xc2\\x9b|\\x9b|\\x80|\\xc0\\xaf|"
                        "\\xed\\xa0\\x80|\xc3\xa9\xe2\x82\xac"
                        "\xf0\x9f\x98\x80\\");
    /* A sequence cut at the end of the string is not valid. */
    assert_string_equal(log_printable("x\xe2\x82", out, sizeof(out)),
                        "x\\xe2\\x82");
    assert_string_equal(log_printable("abc\x1b\x1b", small, sizeof(small)),
                        "abc\\x1b");
    assert_string_equal(log_printable("abcdefghij", small, sizeof(small)),
                        "abcdefg");
}

/* A text log line shows a user's string (a path, a value) escaped: one
 * line, no escape sequence reaching the terminal. */
static void test_log_text_lines_escape_controls(void **state)
{
    char line[1024];

    (void)state;
    unsetenv("RIFFLE_LOG_FORMAT");
    log_set_json(0);
    capture_log("config", "/tmp/a\x1b]0;title\x07\nb.cfg: cannot read",
                line, sizeof(line));
    assert_contains(line, " info  config: /tmp/a\\x1b]0;title\\x07"
                    "\\x0ab.cfg: cannot read\n");
    assert_null(strchr(line, '\x1b'));
}

static void test_log_format_env_wins(void **state)
{
    char line[1024];

    (void)state;
    setenv("RIFFLE_LOG_FORMAT", "text", 1);
    log_set_json(1);
    capture_log("x", "m", line, sizeof(line));
    assert_contains(line, " info  x: m\n");
    setenv("RIFFLE_LOG_FORMAT", "json", 1);
    log_set_json(0);
    capture_log("x", "m", line, sizeof(line));
    assert_contains(line, "\"component\":\"x\",\"message\":\"m\"}");
    unsetenv("RIFFLE_LOG_FORMAT");
    log_set_json(0);
}

static void clear_env(void)
{
    unsetenv("RIFFLE_KAFKA_SASL_USERNAME");
    unsetenv("RIFFLE_KAFKA_SASL_PASSWORD");
    unsetenv("RIFFLE_KAFKA_SASL_PASSWORD_FILE");
    unsetenv("RIFFLE_KAFKA_SSL_KEY_PASSWORD");
    unsetenv("RIFFLE_KAFKA_SSL_KEY_PASSWORD_FILE");
}

static void sasl(struct kafka_security *s, const char *user)
{
    kafka_security_init(s);
    snprintf(s->protocol, sizeof(s->protocol), "sasl_ssl");
    snprintf(s->sasl_mechanism, sizeof(s->sasl_mechanism), "SCRAM-SHA-512");
    snprintf(s->sasl_username, sizeof(s->sasl_username), "%s", user);
}

static void test_security_password_sources(void **state)
{
    struct kafka_security s;
    char errstr[512], file[128], other[128];

    (void)state;
    clear_env();
    temp_file_new(file, sizeof(file), "pw");
    temp_file_new(other, sizeof(other), "pw2");
    write_text(file, "from-config-file\n");
    write_text(other, "from-env-file\n");

    sasl(&s, "learner");
    snprintf(s.sasl_password_file, sizeof(s.sasl_password_file), "%s", file);
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);
    assert_string_equal(kafka_security_describe(),
                        "sasl_ssl, SCRAM-SHA-512 as user 'learner'");

    setenv("RIFFLE_KAFKA_SASL_PASSWORD_FILE", other, 1);
    setenv("RIFFLE_KAFKA_SASL_USERNAME", "scorer", 1);
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);
    assert_string_equal(kafka_security_describe(),
                        "sasl_ssl, SCRAM-SHA-512 as user 'scorer'");
    assert_lacks(kafka_security_describe(), "from-");

    setenv("RIFFLE_KAFKA_SASL_PASSWORD_FILE", "/nonexistent/pw", 1);
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "cannot read the secret file /nonexistent/pw "
                    "(RIFFLE_KAFKA_SASL_PASSWORD_FILE)");

    /* The value itself wins over any file. */
    setenv("RIFFLE_KAFKA_SASL_PASSWORD", "from-env", 1);
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);

    clear_env();
    unlink(file);
    unlink(other);
}

static void test_security_refuses_incomplete(void **state)
{
    struct kafka_security s;
    char errstr[512];

    (void)state;
    clear_env();
    sasl(&s, "");
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "needs a user: set kafka.sasl_username or "
                    "RIFFLE_KAFKA_SASL_USERNAME");

    sasl(&s, "learner");
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "needs a password: set kafka.sasl_password_file, "
                    "RIFFLE_KAFKA_SASL_PASSWORD_FILE or "
                    "RIFFLE_KAFKA_SASL_PASSWORD");

    kafka_security_init(&s);
    snprintf(s.protocol, sizeof(s.protocol), "ssl");
    snprintf(s.ssl_ca_file, sizeof(s.ssl_ca_file), "/nonexistent/ca.pem");
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "kafka.ssl_ca_file: cannot read "
                    "/nonexistent/ca.pem");

    kafka_security_init(&s);
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);
    assert_string_equal(kafka_security_describe(), "plaintext");
}

static void test_security_reaches_librdkafka(void **state)
{
    struct kafka_security s;
    rd_kafka_conf_t *conf;
    char errstr[512], value[256];
    size_t size = sizeof(value);

    (void)state;
    clear_env();
    setenv("RIFFLE_KAFKA_SASL_PASSWORD", "s3cret", 1);
    sasl(&s, "learner");
    s.ssl_verify_hostname = 0;
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);

    conf = kafka_conf_new("127.0.0.1:1", "test", errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_int_equal(rd_kafka_conf_get(conf, "security.protocol", value,
                                       &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "sasl_ssl");
    size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(conf, "sasl.username", value, &size),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(value, "learner");
    size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(conf, "sasl.password", value, &size),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(value, "s3cret");
    size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(conf,
                                       "ssl.endpoint.identification.algorithm",
                                       value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "none");
    rd_kafka_conf_destroy(conf);

    kafka_security_init(&s); /* back to plaintext for other tests */
    assert_int_equal(kafka_security_apply(&s, errstr, sizeof(errstr)), 0);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_json_lines_escape),
        cmocka_unit_test(test_log_json_lines_escape_controls),
        cmocka_unit_test(test_log_printable_escapes_controls),
        cmocka_unit_test(test_log_text_lines_escape_controls),
        cmocka_unit_test(test_log_format_env_wins),
        cmocka_unit_test(test_security_password_sources),
        cmocka_unit_test(test_security_refuses_incomplete),
        cmocka_unit_test(test_security_reaches_librdkafka),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
