/*
 * tests/unit/test_numfmt.c - shortest exact number text (common/numfmt.c).
 */
#include "tests/unit/testutil.h"

#include "common/numfmt.h"

static void expect_text(double x, const char *want)
{
    char out[NUMFMT_MAX];

    assert_string_equal(numfmt_double(x, out, sizeof(out)), want);
}

static void test_numfmt_prints_integers_exactly(void **state)
{
    (void)state;
    expect_text(0.0, "0");
    expect_text(1.0, "1");
    expect_text(7.0, "7");
    expect_text(-1.0, "-1");
    expect_text(-123456789.0, "-123456789");
    expect_text(9007199254740991.0, "9007199254740991");   /* 2^53 - 1 */
    expect_text(-9007199254740991.0, "-9007199254740991");
}

static void test_numfmt_prints_other_numbers_shortest(void **state)
{
    (void)state;
    expect_text(-0.0, "-0");
    expect_text(0.5, "0.5");
    expect_text(0.1, "0.1");
    expect_text(9007199254740992.0, "9007199254740992");   /* 2^53 */
    expect_text(1e300, "1e+300");
    expect_text(-2.5e-8, "-2.5e-08");
}

static void test_numfmt_reads_back_exactly(void **state)
{
    uint64_t rng = 20261204;
    char out[NUMFMT_MAX];
    int i;

    (void)state;
    for (i = 0; i < 10000; i++) {
        double x = (rng_unit(&rng) - 0.5) * pow(10.0, (i % 40) - 20);

        if (i % 3 == 0)
            x = floor(x * 1e6);
        numfmt_double(x, out, sizeof(out));
        assert_true(strtod(out, NULL) == x);
    }
}

/* A small buffer gets as many leading digits as fit, and its NUL. */
static void test_numfmt_integer_respects_the_buffer(void **state)
{
    char out[4];

    (void)state;
    assert_string_equal(numfmt_double(123456.0, out, sizeof(out)), "123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numfmt_prints_integers_exactly),
        cmocka_unit_test(test_numfmt_prints_other_numbers_shortest),
        cmocka_unit_test(test_numfmt_reads_back_exactly),
        cmocka_unit_test(test_numfmt_integer_respects_the_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
