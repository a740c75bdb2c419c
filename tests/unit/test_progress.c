/*
 * tests/unit/test_progress.c - common/progress.c's line: the bar, the
 * percentage, the rate and the time left, and what is left out when the
 * fraction is unknown or the run is too young for an estimate. Uses
 * progress_format() with a given elapsed time, so nothing depends on the
 * clock or on a terminal; and progress_rate(), the rate of learn's lines,
 * with given times. Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/progress.h"
#include "tests/unit/testutil.h"

static void test_progress_bar_rate_and_time_left(void **state)
{
    struct progress p;
    char line[256];

    (void)state;
    progress_start(&p, "produce", "rows", 0);
    progress_format(line, sizeof(line), &p, 2500, 0.25, 10.0,
                    "2500 produced, 0 bad");
    assert_string_equal(line, "[######------------------]  25% 2500 rows, "
                        "250/s, 30 s left; 2500 produced, 0 bad");

    progress_format(line, sizeof(line), &p, 100, 0.01, 75.0, NULL);
    assert_contains(line, "[------------------------]   1% 100 rows");
    assert_contains(line, "2 h 03 min left"); /* 75 * 99 = 7425 s */

    progress_format(line, sizeof(line), &p, 9000, 0.9, 300.0, "");
    assert_contains(line, "  90% 9000 rows, 30/s, 33 s left");
}

static void test_progress_unknown_or_young(void **state)
{
    struct progress p;
    char line[256];

    (void)state;
    progress_start(&p, "train", "rows", 0);
    progress_format(line, sizeof(line), &p, 1234, -1, 2.0, NULL);
    assert_string_equal(line, "1234 rows, 617/s");

    progress_format(line, sizeof(line), &p, 10, 0.5, 0.5, NULL);
    assert_lacks(line, "left"); /* under PROGRESS_MIN_ETA_S */
    assert_contains(line, "[############------------]  50%");

    progress_format(line, sizeof(line), &p, 10, 1.7, 2.0, NULL);
    assert_contains(line, "[########################] 100%");
    assert_contains(line, "0 s left");
}

/* A rate ends at the last unit counted: 5,000 events over 1 s, then 59 s
 * of waiting for a stop, is 5,000/s, not 5,000 / 60 = 83/s. */
static void test_progress_rate_ends_at_last_unit(void **state)
{
    (void)state;
    assert_double_near(progress_rate(5000, 100.0, 101.0, 160.0), 5000.0, 1e-9);
    assert_double_near(progress_rate(312, 10.0, 10.5, 70.0), 624.0, 1e-9);

    /* still counting: the span runs to the last unit, about now */
    assert_double_near(progress_rate(100, 0.0, 2.0, 2.0), 50.0, 1e-9);

    /* nothing since the line before, however long the wait */
    assert_double_near(progress_rate(0, 10.0, 5.0, 70.0), 0.0, 0.0);

    /* no time of a last unit within the span: the clock's now ends it */
    assert_double_near(progress_rate(40, 10.0, 5.0, 30.0), 2.0, 1e-9);

    /* units counted at one clock reading: no span, no rate */
    assert_double_near(progress_rate(7, 10.0, 10.0, 10.0), 0.0, 0.0);
    assert_double_near(progress_rate(7, 10.0, 10.0005, 10.0005), 0.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_bar_rate_and_time_left),
        cmocka_unit_test(test_progress_unknown_or_young),
        cmocka_unit_test(test_progress_rate_ends_at_last_unit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
