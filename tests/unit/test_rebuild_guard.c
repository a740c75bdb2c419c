/*
 * tests/unit/test_rebuild_guard.c - the bound on in-process rebuilds of
 * Kafka clients (common/rebuild_guard.c), on a clock the test sets: a
 * fourth failure within the window stops the process with the shared id
 * named; failures spread wider than the window never do.
 */
#include "tests/unit/testutil.h"

#include "common/err.h"
#include "common/rebuild_guard.h"

#define TEST_ID "riffle-elec2-serve-a"

static int admit(struct rebuild_guard *g, double now_s, char *errstr,
                 size_t size)
{
    return rebuild_guard_admit(g, now_s, "replica", TEST_ID,
                               "give each replica its own --instance",
                               "fenced", errstr, size);
}

/* A zombie: failures a second apart. Three rebuilds, then the error,
 * and every later failure in the window is refused too. */
static void test_rebuild_guard_refuses_the_fourth_in_the_window(void **state)
{
    struct rebuild_guard g = {0};
    char errstr[512] = "";

    (void)state;
    assert_int_equal(admit(&g, 100.0, errstr, sizeof(errstr)), 0);
    assert_int_equal(admit(&g, 101.0, errstr, sizeof(errstr)), 0);
    assert_int_equal(admit(&g, 102.0, errstr, sizeof(errstr)), 0);
    assert_int_equal(rebuild_guard_count(&g), 3);
    assert_string_equal(errstr, "");

    assert_int_equal(admit(&g, 103.0, errstr, sizeof(errstr)),
                     RIFFLE_ERR_KAFKA);
    assert_string_equal(errstr, "the Kafka clients failed for good 4 times "
                        "in 3 s: another live replica seems to use "
                        "transactional id and group instance id " TEST_ID
                        ", and the two fence each other; stopping this one "
                        "(give each replica its own --instance); last "
                        "failure: fenced");
    assert_int_equal(rebuild_guard_count(&g), 3);
    assert_int_equal(admit(&g, 100.0 + REBUILD_GUARD_WINDOW_S - 1, errstr,
                           sizeof(errstr)),
                     RIFFLE_ERR_KAFKA);
}

/* A healthy process fenced now and then: the window slides, so the
 * oldest rebuild leaving it makes room for one more. */
static void test_rebuild_guard_window_slides(void **state)
{
    struct rebuild_guard g = {0};
    char errstr[512];
    int i;

    (void)state;
    for (i = 0; i < 10; i++)
        assert_int_equal(admit(&g, i * (REBUILD_GUARD_WINDOW_S / 3 + 1),
                               errstr, sizeof(errstr)),
                         0);
    assert_int_equal(rebuild_guard_count(&g), 10);

    /* three at 1000..1002: the fourth waits for the first to age out */
    g = (struct rebuild_guard){0};
    for (i = 0; i < 3; i++)
        assert_int_equal(admit(&g, 1000.0 + i, errstr, sizeof(errstr)), 0);
    assert_int_equal(admit(&g, 1000.0 + REBUILD_GUARD_WINDOW_S - 0.5, errstr,
                           sizeof(errstr)),
                     RIFFLE_ERR_KAFKA);
    assert_int_equal(admit(&g, 1000.0 + REBUILD_GUARD_WINDOW_S, errstr,
                           sizeof(errstr)),
                     0);
    assert_int_equal(admit(&g, 1000.0 + REBUILD_GUARD_WINDOW_S + 0.5, errstr,
                           sizeof(errstr)),
                     RIFFLE_ERR_KAFKA);
    assert_int_equal(rebuild_guard_count(&g), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebuild_guard_refuses_the_fourth_in_the_window),
        cmocka_unit_test(test_rebuild_guard_window_slides),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
