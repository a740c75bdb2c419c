/*
 * tests/unit/test_log_limit.c - the allowance of log lines per window
 * (common/log_limit.c), which keeps a client's malformed HTTP requests
 * from flooding the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/log_limit.h"

/* Takes n lines at now_s; returns how many were allowed, and the last
 * held-back count handed out. */
static unsigned take_lines(struct log_limit *l, double now_s, unsigned n,
                           unsigned long long *handed)
{
    unsigned allowed = 0;
    unsigned long long held;

    *handed = 0;
    while (n-- > 0) {
        allowed += (unsigned)log_limit_take(l, now_s, &held);
        if (held > 0)
            *handed = held;
    }
    return allowed;
}

static void test_log_limit_allows_per_window_then_holds_back(void **state)
{
    struct log_limit l;
    unsigned long long handed;

    (void)state;
    log_limit_init(&l, 10, 60.0);

    /* a flood of 1,000 lines in one second: 10 pass */
    assert_int_equal(take_lines(&l, 100.0, 1000, &handed), 10);
    assert_int_equal(handed, 0);

    /* still the same window 59 s later: nothing more passes */
    assert_int_equal(take_lines(&l, 159.0, 5, &handed), 0);
    assert_int_equal(handed, 0);

    /* the next window: the 995 held back are handed out once, and lines
     * flow again */
    assert_int_equal(take_lines(&l, 160.0, 3, &handed), 3);
    assert_int_equal(handed, 995);
    assert_int_equal(take_lines(&l, 161.0, 20, &handed), 7);
    assert_int_equal(handed, 0);
}

static void test_log_limit_quiet_windows_hand_out_nothing(void **state)
{
    struct log_limit l;
    unsigned long long handed;
    unsigned i;

    (void)state;
    log_limit_init(&l, 2, 1.0);

    /* two lines a window never reach the limit: nothing is held back */
    for (i = 0; i < 50; i++) {
        assert_int_equal(take_lines(&l, (double)i, 2, &handed), 2);
        assert_int_equal(handed, 0);
    }
}

static void test_log_limit_counts_held_back_across_idle_gap(void **state)
{
    struct log_limit l;
    unsigned long long handed;

    (void)state;
    log_limit_init(&l, 1, 10.0);

    assert_int_equal(take_lines(&l, 0.0, 4, &handed), 1);
    /* the first line after a long quiet spell says what was held back */
    assert_int_equal(take_lines(&l, 3600.0, 1, &handed), 1);
    assert_int_equal(handed, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_limit_allows_per_window_then_holds_back),
        cmocka_unit_test(test_log_limit_quiet_windows_hand_out_nothing),
        cmocka_unit_test(test_log_limit_counts_held_back_across_idle_gap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
