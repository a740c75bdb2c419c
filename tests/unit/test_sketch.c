/*
 * tests/unit/test_sketch.c - the bounded quantile sketch of
 * cleaning/sketch.c, checked against exact quantiles of sorted copies.
 *
 * Every returned quantile must lie within the relative accuracy of the
 * exact value of the same rank, for positive, negative, mixed and
 * zero-heavy streams, at q = 0, 1 and in between; the window must hold
 * its guarantee for the large magnitudes when a stream spans more
 * buckets than it keeps. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "cleaning/sketch.h"
#include "tests/unit/testutil.h"

#define STREAM_LEN 20000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Relative accuracy of the sketch, plus rounding of the representative. */
static void assert_quantiles_match(const double *values, size_t n)
{
    static const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0};
    double *sorted = malloc(n * sizeof(*sorted));
    struct sketch *s;
    size_t i;

    assert_non_null(sorted);
    assert_int_equal(sketch_new(&s), 0);
    for (i = 0; i < n; i++) {
        sketch_add(s, values[i]);
        sorted[i] = values[i];
    }
    qsort(sorted, n, sizeof(*sorted), cmp_double);
    assert_int_equal(sketch_count(s), n);

    for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double exact = sorted[(size_t)floor(qs[i] * (double)(n - 1))];
        double got = sketch_quantile(s, qs[i]);

        assert_double_near(got, exact,
                           fabs(exact) * SKETCH_RELATIVE_ACCURACY * 1.0001 +
                               SKETCH_MIN_MAGNITUDE);
    }
    sketch_destroy(s);
    free(sorted);
}

static void test_sketch_empty_is_nan(void **state)
{
    struct sketch *s;

    (void)state;
    assert_int_equal(sketch_new(&s), 0);
    assert_true(isnan(sketch_quantile(s, 0.5)));
    assert_int_equal(sketch_count(s), 0);
    sketch_destroy(s);
    sketch_destroy(NULL);
}

static void test_sketch_single_value_is_exact(void **state)
{
    struct sketch *s;

    (void)state;
    assert_int_equal(sketch_new(&s), 0);
    sketch_add(s, 37.25);
    /* min and max clamp the representative to the value itself */
    assert_double_near(sketch_quantile(s, 0.0), 37.25, 0);
    assert_double_near(sketch_quantile(s, 0.5), 37.25, 0);
    assert_double_near(sketch_quantile(s, 1.0), 37.25, 0);
    /* q outside [0, 1] is clamped, not an out-of-bounds rank */
    assert_double_near(sketch_quantile(s, -1.0), 37.25, 0);
    assert_double_near(sketch_quantile(s, 2.0), 37.25, 0);
    sketch_destroy(s);
}

static void test_sketch_ignores_non_finite(void **state)
{
    struct sketch *s;

    (void)state;
    assert_int_equal(sketch_new(&s), 0);
    sketch_add(s, NAN);
    sketch_add(s, INFINITY);
    sketch_add(s, -INFINITY);
    assert_int_equal(sketch_count(s), 0);
    sketch_add(s, 1.0);
    assert_int_equal(sketch_count(s), 1);
    sketch_destroy(s);
}

static void test_sketch_positive_stream(void **state)
{
    double v[STREAM_LEN];
    uint64_t rng = 11;
    size_t i;

    (void)state;
    for (i = 0; i < STREAM_LEN; i++)
        v[i] = exp(10.0 * rng_unit(&rng)); /* 1 .. 22026, skewed */
    assert_quantiles_match(v, STREAM_LEN);
}

static void test_sketch_mixed_signs_and_zeros(void **state)
{
    double v[STREAM_LEN];
    uint64_t rng = 12;
    size_t i;

    (void)state;
    for (i = 0; i < STREAM_LEN; i++) {
        double u = rng_unit(&rng);

        v[i] = u < 0.2 ? 0.0 : (u - 0.6) * 1000.0;
    }
    assert_quantiles_match(v, STREAM_LEN);
}

static void test_sketch_integers_like_ages(void **state)
{
    double v[STREAM_LEN];
    uint64_t rng = 13;
    size_t i;

    (void)state;
    for (i = 0; i < STREAM_LEN; i++)
        v[i] = 17.0 + floor(73.0 * rng_unit(&rng));
    assert_quantiles_match(v, STREAM_LEN);
}

/* Magnitudes from 1e-300 to 1e300 span far more than SKETCH_BUCKETS
 * buckets: the small ones merge, the upper quantiles stay accurate. */
static void test_sketch_window_keeps_large_magnitudes(void **state)
{
    struct sketch *s;
    double got;
    int e;

    (void)state;
    assert_int_equal(sketch_new(&s), 0);
    for (e = -300; e <= 300; e++)
        sketch_add(s, pow(10.0, e));
    assert_int_equal(sketch_count(s), 601);

    got = sketch_quantile(s, 1.0);
    assert_double_near(got, 1e300, 0);
    got = sketch_quantile(s, 0.9917); /* rank 595: 1e295, in the window */
    assert_double_near(got / 1e295, 1.0, SKETCH_RELATIVE_ACCURACY * 1.0001);
    got = sketch_quantile(s, 0.0); /* the minimum is kept exactly */
    assert_double_near(got, 1e-300, 0);
    got = sketch_quantile(s, 0.01); /* merged: never below the minimum */
    assert_true(got >= 1e-300);
    sketch_destroy(s);
}

/* The window moving down (a small value after large ones) and up (a
 * large value after small ones) keeps every count. */
static void test_sketch_window_moves_both_ways(void **state)
{
    double v[] = {1e6, 1e5, 1e4, 1e3, 1e2, 10, 1, 0.1, 1e7, 1e8, 1e9};
    size_t n = sizeof(v) / sizeof(v[0]);

    (void)state;
    assert_quantiles_match(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_empty_is_nan),
        cmocka_unit_test(test_sketch_single_value_is_exact),
        cmocka_unit_test(test_sketch_ignores_non_finite),
        cmocka_unit_test(test_sketch_positive_stream),
        cmocka_unit_test(test_sketch_mixed_signs_and_zeros),
        cmocka_unit_test(test_sketch_integers_like_ages),
        cmocka_unit_test(test_sketch_window_keeps_large_magnitudes),
        cmocka_unit_test(test_sketch_window_moves_both_ways),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
