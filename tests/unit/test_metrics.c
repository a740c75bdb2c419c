/*
 * tests/unit/test_metrics.c - progressive validation metrics.
 *
 * Hand-computed log loss and accuracy, probability clipping, the sliding
 * window before and after it fills and wraps, majority rate, restore, and
 * that the window sum does not drift over many laps. No broker, no files;
 * single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "learner/metrics.h"

/* Tolerance for values computed the same way in the test and the code:
 * only summation order differs. */
#define EXACT_TOL 1e-12

/* The metrics struct holds a 1000-entry window; keep it off the stack. */
static struct metrics *metrics_alloc(void)
{
    struct metrics *m = malloc(sizeof(*m));

    assert_non_null(m);
    metrics_init(m);
    return m;
}

static void test_metrics_empty_reads_zero(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    assert_float_equal(metrics_logloss(m), 0.0, 0.0);
    assert_float_equal(metrics_accuracy(m), 0.0, 0.0);
    assert_float_equal(metrics_window_logloss(m), 0.0, 0.0);
    assert_float_equal(metrics_window_accuracy(m), 0.0, 0.0);
    assert_float_equal(metrics_majority_rate(m), 0.0, 0.0);
    free(m);
}

/*
 * p=0.9 y=1: class 1, right, loss -ln 0.9 = 0.10536051565782628
 * p=0.2 y=0: class 0, right, loss -ln 0.8 = 0.22314355131420971
 * p=0.6 y=0: class 1, wrong, loss -ln 0.4 = 0.91629073187415511
 * accuracy 2/3; logloss = 1.2447947988461897 / 3 = 0.414931599615397.
 */
static void test_metrics_hand_computed_case(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.9, 1);
    metrics_add(m, 0.2, 0);
    metrics_add(m, 0.6, 0);

    assert_int_equal(m->total.count, 3);
    assert_int_equal(m->total.correct, 2);
    assert_int_equal(m->total.positives, 1);
    assert_float_equal(metrics_accuracy(m), 2.0 / 3.0, EXACT_TOL);
    assert_float_equal(metrics_logloss(m), 0.414931599615397, EXACT_TOL);
    /* Fewer events than the window: the window equals the totals. */
    assert_float_equal(metrics_window_accuracy(m), 2.0 / 3.0, EXACT_TOL);
    assert_float_equal(metrics_window_logloss(m), 0.414931599615397,
                       EXACT_TOL);
    free(m);
}

/* Exactly 0.5 predicts class 1. */
static void test_metrics_half_predicts_positive(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.5, 1);
    metrics_add(m, 0.5, 0);
    assert_int_equal(m->total.correct, 1);
    free(m);
}

/* p=0 for label 1 is clipped to 1e-15: -ln(1e-15) = 34.538776394910684.
 * p=1 for label 0 is clipped to the double nearest 1 - 1e-15, whose
 * complement is 9.992e-16: -ln of it is 34.53957599234088. */
static void test_metrics_clips_certain_wrong_predictions(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.0, 1);
    assert_float_equal(metrics_logloss(m), 34.538776394910684, EXACT_TOL);
    assert_float_equal(metrics_logloss(m), -log(METRICS_PROB_EPSILON),
                       EXACT_TOL);

    metrics_init(m);
    metrics_add(m, 1.0, 0);
    assert_float_equal(metrics_logloss(m), 34.53957599234088, 1e-9);
    assert_float_equal(metrics_accuracy(m), 0.0, 0.0);
    free(m);
}

/* Certain and right costs only the clip: -ln(1 - 1e-15), about 1e-15. */
static void test_metrics_certain_right_costs_almost_nothing(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 1.0, 1);
    metrics_add(m, 0.0, 0);
    assert_true(isfinite(metrics_logloss(m)));
    assert_float_equal(metrics_logloss(m), 0.0, 1e-14);
    assert_float_equal(metrics_accuracy(m), 1.0, 0.0);
    free(m);
}

#define WINDOW_EXTRA 250 /* events past a full window, to test wrapping */

/* A window of wrong answers is pushed out entirely by right ones, then
 * partly back in. Totals keep everything. */
static void test_metrics_window_slides_past_capacity(void **state)
{
    struct metrics *m = metrics_alloc();
    uint32_t i;

    (void)state;
    for (i = 0; i < METRICS_WINDOW; i++)
        metrics_add(m, 0.9, 0); /* wrong, loss -ln 0.1 */
    assert_int_equal(m->window_len, METRICS_WINDOW);
    assert_float_equal(metrics_window_accuracy(m), 0.0, 0.0);
    assert_float_equal(metrics_window_logloss(m), -log(0.1), EXACT_TOL);

    for (i = 0; i < METRICS_WINDOW + WINDOW_EXTRA; i++)
        metrics_add(m, 0.9, 1); /* right, loss -ln 0.9 */
    assert_int_equal(m->window_len, METRICS_WINDOW);
    assert_float_equal(metrics_window_accuracy(m), 1.0, 0.0);
    assert_float_equal(metrics_window_logloss(m), -log(0.9), EXACT_TOL);
    assert_float_equal(metrics_accuracy(m),
                       (double)(METRICS_WINDOW + WINDOW_EXTRA) /
                           (double)(2 * METRICS_WINDOW + WINDOW_EXTRA),
                       EXACT_TOL);

    for (i = 0; i < WINDOW_EXTRA; i++)
        metrics_add(m, 0.9, 0);
    assert_int_equal(m->window_correct_sum, METRICS_WINDOW - WINDOW_EXTRA);
    assert_float_equal(metrics_window_accuracy(m),
                       (double)(METRICS_WINDOW - WINDOW_EXTRA) /
                           METRICS_WINDOW,
                       EXACT_TOL);
    assert_float_equal(metrics_window_logloss(m),
                       ((METRICS_WINDOW - WINDOW_EXTRA) * -log(0.9) +
                        WINDOW_EXTRA * -log(0.1)) /
                           METRICS_WINDOW,
                       EXACT_TOL);
    free(m);
}

/* A full window of clipped worst-case losses (34.5 each, sum 34538) is
 * replaced by near-zero losses (about 1e-15 each). Subtracting the
 * large values one by one leaves rounding residue of order 1e-12 in the
 * running sum, a thousand times the true total; the once-per-lap resum
 * must remove it, so the window log loss is the small value exactly. */
static void test_metrics_window_sum_does_not_drift(void **state)
{
    struct metrics *m = metrics_alloc();
    double tiny = -log(1.0 - METRICS_PROB_EPSILON);
    uint32_t i;

    (void)state;
    for (i = 0; i < METRICS_WINDOW; i++)
        metrics_add(m, 0.0, 1);
    for (i = 0; i < METRICS_WINDOW; i++)
        metrics_add(m, 1.0, 1);
    print_message("window logloss %.17g, per-event loss %.17g\n",
                  metrics_window_logloss(m), tiny);
    assert_float_equal(metrics_window_logloss(m), tiny, tiny * 1e-9);
    free(m);
}

static void test_metrics_majority_rate(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.1, 1);
    metrics_add(m, 0.1, 1);
    metrics_add(m, 0.1, 1);
    metrics_add(m, 0.1, 0);
    assert_float_equal(metrics_majority_rate(m), 0.75, 0.0);

    metrics_init(m);
    metrics_add(m, 0.1, 0);
    metrics_add(m, 0.1, 0);
    metrics_add(m, 0.1, 1);
    metrics_add(m, 0.1, 0);
    metrics_add(m, 0.1, 1);
    assert_float_equal(metrics_majority_rate(m), 0.6, EXACT_TOL);
    free(m);
}

static void test_metrics_restore_keeps_totals_empties_window(void **state)
{
    struct metrics *m = metrics_alloc();
    struct metrics_totals t = {
        .count = 100, .correct = 80, .positives = 30, .logloss_sum = 25.0};

    (void)state;
    metrics_add(m, 0.9, 0);
    metrics_restore(m, &t);
    assert_int_equal(m->total.count, 100);
    assert_float_equal(metrics_accuracy(m), 0.8, EXACT_TOL);
    assert_float_equal(metrics_logloss(m), 0.25, EXACT_TOL);
    assert_float_equal(metrics_majority_rate(m), 0.7, EXACT_TOL);
    assert_int_equal(m->window_len, 0);
    assert_float_equal(metrics_window_accuracy(m), 0.0, 0.0);

    metrics_add(m, 0.9, 1);
    assert_int_equal(m->total.count, 101);
    assert_int_equal(m->window_len, 1);
    assert_float_equal(metrics_window_accuracy(m), 1.0, 0.0);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_empty_reads_zero),
        cmocka_unit_test(test_metrics_hand_computed_case),
        cmocka_unit_test(test_metrics_half_predicts_positive),
        cmocka_unit_test(test_metrics_clips_certain_wrong_predictions),
        cmocka_unit_test(test_metrics_certain_right_costs_almost_nothing),
        cmocka_unit_test(test_metrics_window_slides_past_capacity),
        cmocka_unit_test(test_metrics_window_sum_does_not_drift),
        cmocka_unit_test(test_metrics_majority_rate),
        cmocka_unit_test(test_metrics_restore_keeps_totals_empties_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
