/*
 * tests/unit/test_secret_stream.c - a stream's own buffer, wiped once
 * flushed (common/secret_stream.c), as `riffle decrypt` uses it for
 * stdout. The stream is a tmpfile(); the test reads the buffer back.
 * No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/secret_stream.h"

#define VALUE "alice.example@example.test"

/* A value written passes through the buffer, reaches the file on the
 * wipe's flush, and is gone from the buffer after it. */
static void test_secret_stream_wiped_after_flush(void **state)
{
    static char buf[4096];
    char back[64] = {0};
    FILE *f = tmpfile();

    (void)state;
    assert_non_null(f);
    assert_int_equal(secret_stream_attach(f, buf, sizeof(buf)), 0);
    assert_true(fputs(VALUE "\n", f) >= 0);
    assert_true(buf_span_holds(buf, sizeof(buf), VALUE, strlen(VALUE)));

    assert_int_equal(secret_stream_wipe(f, buf, sizeof(buf)), 0);
    assert_false(buf_span_holds(buf, sizeof(buf), VALUE, strlen(VALUE)));

    rewind(f);
    assert_non_null(fgets(back, sizeof(back), f));
    assert_string_equal(back, VALUE "\n");
    assert_int_equal(fclose(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_stream_wiped_after_flush),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
