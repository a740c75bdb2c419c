/*
 * tests/unit/test_metrics.c - progressive validation metrics.
 *
 * Hand-computed log loss and accuracy, probability clipping, the sliding
 * window before and after it fills and wraps, majority rate, restore, and
 * that the window sum does not drift over many laps. Then the metrics of
 * issue 3: AUC on hand-worked cases, the histogram estimate against an
 * exact O(n^2) AUC cumulatively and over a slid window, precision, recall
 * and F1, RMSE and MAE, multiclass accuracy and log loss, and a restore of
 * the extended totals. No broker, no files; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "common/err.h"
#include "learner/metrics.h"
#include "tests/unit/testutil.h"

/* Tolerance for values computed the same way in the test and the code:
 * only summation order differs. */
#define EXACT_TOL 1e-12

/* State of rng_next() (splitmix64), so the random cases below are
 * reproducible anywhere; each test seeds it. */
static uint64_t rng_state;

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

/* ---- AUC ------------------------------------------------------------ */

/* Positive-negative pairs counted one by one, equal scores as half: the
 * definition the histogram estimate approximates. O(P N). */
static double exact_auc(const double *score, const int *label, size_t n)
{
    double ordered = 0.0, pairs = 0.0;
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (!label[i])
            continue;
        for (j = 0; j < n; j++) {
            if (label[j])
                continue;
            pairs += 1.0;
            if (score[i] > score[j])
                ordered += 1.0;
            else if (score[i] == score[j])
                ordered += 0.5;
        }
    }
    return ordered / pairs;
}

/*
 * Positives score 0.8, 0.6, 0.35; negatives 0.7, 0.35, 0.1: 9 pairs.
 *   0.8  beats 0.7, 0.35, 0.1            3
 *   0.6  loses to 0.7, beats 0.35, 0.1   2
 *   0.35 loses to 0.7, ties 0.35 (1/2),
 *        beats 0.1                       1.5
 * 6.5 of 9 pairs ordered: AUC = 6.5 / 9 = 0.72222. Every score has its
 * own bin except the tied pair, which is a true tie, so the estimate is
 * exact; its bound is one same-bin pair out of 9, halved: 1/18.
 */
static void test_metrics_auc_hand_case(void **state)
{
    static const double score[] = {0.8, 0.7, 0.6, 0.35, 0.35, 0.1};
    static const int label[] = {1, 0, 1, 1, 0, 0};
    struct metrics *m = metrics_alloc();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(score) / sizeof(score[0]); i++)
        metrics_add(m, score[i], label[i]);

    assert_double_near(metrics_auc(m), 6.5 / 9.0, EXACT_TOL);
    assert_double_near(exact_auc(score, label, 6), 6.5 / 9.0, EXACT_TOL);
    assert_double_near(metrics_auc_error_bound(m), 1.0 / 18.0, EXACT_TOL);
    assert_double_near(metrics_window_auc(m), 6.5 / 9.0, EXACT_TOL);
    free(m);
}

/* Every positive above every negative: 1; the reverse: 0. No pair
 * shares a bin, so the bound is 0. */
static void test_metrics_auc_perfect_and_reversed(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.9, 1);
    metrics_add(m, 0.3, 0);
    metrics_add(m, 0.8, 1);
    metrics_add(m, 0.2, 0);
    metrics_add(m, 0.7, 1);
    metrics_add(m, 0.1, 0);
    assert_double_near(metrics_auc(m), 1.0, 0.0);
    assert_double_near(metrics_auc_error_bound(m), 0.0, 0.0);
    assert_double_near(metrics_window_auc(m), 1.0, 0.0);

    metrics_init(m);
    metrics_add(m, 0.9, 0);
    metrics_add(m, 0.3, 1);
    metrics_add(m, 0.8, 0);
    metrics_add(m, 0.2, 1);
    metrics_add(m, 0.7, 0);
    metrics_add(m, 0.1, 1);
    assert_double_near(metrics_auc(m), 0.0, 0.0);
    assert_double_near(metrics_window_auc(m), 0.0, 0.0);
    free(m);
}

/* AUC needs both classes: NaN until then. */
static void test_metrics_auc_undefined_with_one_class(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    assert_true(isnan(metrics_auc(m)));
    assert_true(isnan(metrics_window_auc(m)));
    metrics_add(m, 0.9, 1);
    metrics_add(m, 0.2, 1);
    assert_true(isnan(metrics_auc(m)));
    assert_true(isnan(metrics_auc_error_bound(m)));
    metrics_add(m, 0.5, 0);
    assert_double_near(metrics_auc(m), 0.5, 0.0);
    free(m);
}

/* Bin edges: floor(p * bins), clipped; 0.5 is the first bin of class 1,
 * so no bin holds both predicted classes. */
static void test_metrics_auc_bin_edges(void **state)
{
    unsigned b;

    (void)state;
    assert_int_equal(metrics_auc_bin(0.0), 0);
    assert_int_equal(metrics_auc_bin(-3.0), 0);
    assert_int_equal(metrics_auc_bin(NAN), 0);
    assert_int_equal(metrics_auc_bin(0.0009), 0);
    assert_int_equal(metrics_auc_bin(0.5), METRICS_AUC_BINS / 2);
    assert_int_equal(metrics_auc_bin(nextafter(0.5, 0.0)),
                     METRICS_AUC_BINS / 2 - 1);
    assert_int_equal(metrics_auc_bin(nextafter(1.0, 0.0)),
                     METRICS_AUC_BINS - 1);
    assert_int_equal(metrics_auc_bin(1.0), METRICS_AUC_BINS - 1);
    assert_int_equal(metrics_auc_bin(7.0), METRICS_AUC_BINS - 1);
    for (b = 0; b < METRICS_AUC_BINS; b++) {
        double p = (double)b / METRICS_AUC_BINS;

        assert_int_equal(metrics_auc_bin(p) >= METRICS_AUC_BINS / 2,
                         p >= 0.5);
    }
}

#define AUC_RANDOM_EVENTS 10000
#define AUC_RANDOM_SEED 20240611u

/* Scores uniform on [0, 1), label 1 with probability equal to the score:
 * positives have density 2s and negatives 2(1 - s), both at most L = 2,
 * so the documented bound is at most L / (2 * bins) = 0.001 (its expected
 * value is w/2 * integral of 2s * 2(1 - s) ds = 1/3000). Measured with
 * this seed: estimate 0.838898, exact 0.838896, |error| 1.4e-6, bound
 * from the counts 0.00032. */
static void test_metrics_auc_estimate_within_bound(void **state)
{
    struct metrics *m = metrics_alloc();
    double *score = malloc(AUC_RANDOM_EVENTS * sizeof(*score));
    int *label = malloc(AUC_RANDOM_EVENTS * sizeof(*label));
    double exact, estimate, bound;
    size_t i;

    (void)state;
    assert_non_null(score);
    assert_non_null(label);
    rng_state = AUC_RANDOM_SEED;
    for (i = 0; i < AUC_RANDOM_EVENTS; i++) {
        score[i] = rng_unit(&rng_state);
        label[i] = rng_unit(&rng_state) < score[i];
        metrics_add(m, score[i], label[i]);
    }

    exact = exact_auc(score, label, AUC_RANDOM_EVENTS);
    estimate = metrics_auc(m);
    bound = metrics_auc_error_bound(m);
    print_message("AUC estimate %.6f exact %.6f |error| %.2g bound %.2g\n",
                  estimate, exact, fabs(estimate - exact), bound);
    assert_double_near(estimate, exact, bound);
    assert_true(bound <= 1.1 * 2.0 / (2.0 * METRICS_AUC_BINS));
    free(score);
    free(label);
    free(m);
}

#define AUC_SLIDE_EVENTS (3 * METRICS_WINDOW + 123)

/* The score-label relation reverses after the first two windows, so the
 * window AUC (scores agree with labels) and the cumulative AUC (mostly
 * not) part ways. The window's histograms, counts and AUC must equal
 * those recomputed from the last METRICS_WINDOW events. */
static void test_metrics_window_auc_after_slide(void **state)
{
    struct metrics *m = metrics_alloc();
    double *score = malloc(AUC_SLIDE_EVENTS * sizeof(*score));
    int *label = malloc(AUC_SLIDE_EVENTS * sizeof(*label));
    size_t first = AUC_SLIDE_EVENTS - METRICS_WINDOW;
    uint32_t tp = 0, predicted = 0, positives = 0;
    double exact, estimate, bound;
    size_t i;

    (void)state;
    assert_non_null(score);
    assert_non_null(label);
    rng_state = AUC_RANDOM_SEED + 1;
    for (i = 0; i < AUC_SLIDE_EVENTS; i++) {
        double u = rng_unit(&rng_state);

        score[i] = rng_unit(&rng_state);
        label[i] = i < 2 * METRICS_WINDOW ? u > score[i] : u < score[i];
        metrics_add(m, score[i], label[i]);
    }
    for (i = first; i < AUC_SLIDE_EVENTS; i++) {
        positives += (uint32_t)label[i];
        predicted += score[i] >= 0.5;
        tp += label[i] && score[i] >= 0.5;
    }

    exact = exact_auc(score + first, label + first, METRICS_WINDOW);
    estimate = metrics_window_auc(m);
    bound = metrics_window_auc_error_bound(m);
    print_message("window AUC estimate %.6f exact %.6f bound %.2g; "
                  "cumulative %.4f\n", estimate, exact, bound,
                  metrics_auc(m));
    assert_double_near(estimate, exact, bound);
    assert_true(exact > 0.7);
    assert_true(metrics_auc(m) < 0.5);
    assert_int_equal(m->window_positives, positives);
    assert_int_equal(m->window_predicted_positives, predicted);
    assert_int_equal(m->window_true_positives, tp);
    assert_double_near(metrics_window_precision(m),
                       (double)tp / predicted, EXACT_TOL);
    assert_double_near(metrics_window_recall(m), (double)tp / positives,
                       EXACT_TOL);
    free(score);
    free(label);
    free(m);
}

/* ---- precision, recall, F1 ------------------------------------------ */

/*
 * p=0.9 y=1 TP   p=0.8 y=0 FP   p=0.7 y=1 TP
 * p=0.4 y=1 FN   p=0.2 y=0 TN   p=0.5 y=0 FP (0.5 predicts 1)
 * TP 2, FP 2, FN 1: precision 2/4 = 0.5, recall 2/3,
 * F1 = 2 * 0.5 * (2/3) / (0.5 + 2/3) = 4/7.
 */
static void test_metrics_precision_recall_hand_case(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    assert_double_near(metrics_precision(m), 0.0, 0.0);
    assert_double_near(metrics_f1(m), 0.0, 0.0);
    metrics_add(m, 0.9, 1);
    metrics_add(m, 0.8, 0);
    metrics_add(m, 0.7, 1);
    metrics_add(m, 0.4, 1);
    metrics_add(m, 0.2, 0);
    metrics_add(m, 0.5, 0);

    assert_double_near(metrics_precision(m), 0.5, EXACT_TOL);
    assert_double_near(metrics_recall(m), 2.0 / 3.0, EXACT_TOL);
    assert_double_near(metrics_f1(m), 4.0 / 7.0, EXACT_TOL);
    assert_double_near(metrics_window_precision(m), 0.5, EXACT_TOL);
    assert_double_near(metrics_window_recall(m), 2.0 / 3.0, EXACT_TOL);
    assert_double_near(metrics_window_f1(m), 4.0 / 7.0, EXACT_TOL);
    free(m);
}

/* Never predicting 1: precision 0 (nothing predicted), recall 0, F1 0. */
static void test_metrics_precision_without_predicted_positives(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add(m, 0.1, 1);
    metrics_add(m, 0.2, 0);
    assert_double_near(metrics_precision(m), 0.0, 0.0);
    assert_double_near(metrics_recall(m), 0.0, 0.0);
    assert_double_near(metrics_f1(m), 0.0, 0.0);
    free(m);
}

/* ---- regression ----------------------------------------------------- */

/*
 * (prediction, target): (3, 1) error 2; (0, 1) -1; (2.5, 2) 0.5;
 * (-1, 1) -2. Squared 4 + 1 + 0.25 + 4 = 9.25, RMSE sqrt(9.25 / 4) =
 * 1.5206906325745548; absolute 2 + 1 + 0.5 + 2 = 5.5, MAE 1.375.
 */
static void test_metrics_regression_hand_case(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    assert_int_equal(metrics_add_regression(m, 3.0, 1.0), 0);
    assert_int_equal(metrics_add_regression(m, 0.0, 1.0), 0);
    assert_int_equal(metrics_add_regression(m, 2.5, 2.0), 0);
    assert_int_equal(metrics_add_regression(m, -1.0, 1.0), 0);

    assert_int_equal(m->total.count, 4);
    assert_double_near(metrics_rmse(m), 1.5206906325745548, EXACT_TOL);
    assert_double_near(metrics_mae(m), 1.375, EXACT_TOL);
    assert_double_near(metrics_window_rmse(m), 1.5206906325745548,
                       EXACT_TOL);
    assert_double_near(metrics_window_mae(m), 1.375, EXACT_TOL);
    /* Readers of other tasks see nothing. */
    assert_double_near(metrics_accuracy(m), 0.0, 0.0);
    assert_double_near(metrics_logloss(m), 0.0, 0.0);
    assert_double_near(metrics_window_logloss(m), 0.0, 0.0);
    assert_true(isnan(metrics_auc(m)));
    free(m);
}

/* A non-finite input is refused and leaves the metrics unchanged. */
static void test_metrics_regression_refuses_non_finite(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    assert_int_equal(metrics_add_regression(m, NAN, 1.0), RIFFLE_ERR_INVALID);
    assert_int_equal(metrics_add_regression(m, 1.0, INFINITY),
                     RIFFLE_ERR_INVALID);
    assert_int_equal(metrics_add_regression(m, 1e300, -1e300),
                     RIFFLE_ERR_INVALID); /* error^2 overflows */
    assert_int_equal(m->total.count, 0);
    assert_int_equal(m->window_len, 0);
    free(m);
}

/* A window of errors of 10 is pushed out by errors of 1: the window reads
 * 1; the totals keep both, RMSE sqrt((100 + 1) / 2) and MAE 5.5. */
static void test_metrics_regression_window_slides(void **state)
{
    struct metrics *m = metrics_alloc();
    uint32_t i;

    (void)state;
    for (i = 0; i < METRICS_WINDOW; i++)
        assert_int_equal(metrics_add_regression(m, 12.0, 2.0), 0);
    assert_double_near(metrics_window_rmse(m), 10.0, EXACT_TOL);
    for (i = 0; i < METRICS_WINDOW; i++)
        assert_int_equal(metrics_add_regression(m, 1.0, 2.0), 0);

    assert_double_near(metrics_window_rmse(m), 1.0, EXACT_TOL);
    assert_double_near(metrics_window_mae(m), 1.0, EXACT_TOL);
    assert_double_near(metrics_rmse(m), sqrt(50.5), EXACT_TOL);
    assert_double_near(metrics_mae(m), 5.5, EXACT_TOL);
    free(m);
}

/* ---- multiclass ----------------------------------------------------- */

/* (predicted, true): (0,0) (2,1) (1,1) (2,2) (0,2): 3 of 5 right. */
static void test_metrics_multiclass_accuracy(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add_class(m, 0, 0);
    metrics_add_class(m, 2, 1);
    metrics_add_class(m, 1, 1);
    metrics_add_class(m, 2, 2);
    metrics_add_class(m, 0, 2);

    assert_int_equal(m->total.count, 5);
    assert_int_equal(m->total.correct, 3);
    assert_double_near(metrics_accuracy(m), 0.6, EXACT_TOL);
    assert_double_near(metrics_window_accuracy(m), 0.6, EXACT_TOL);
    /* No probabilities given: no log loss, not a loss of 0 per event. */
    assert_double_near(metrics_logloss(m), 0.0, 0.0);
    assert_double_near(metrics_majority_rate(m), 0.0, 0.0);
    free(m);
}

/* True-class probabilities 0.5, 0.25, 0.8:
 * (ln 2 + ln 4 - ln 0.8) / 3 = 0.7675283643313485. */
static void test_metrics_multiclass_logloss(void **state)
{
    struct metrics *m = metrics_alloc();

    (void)state;
    metrics_add_class_probability(m, 3, 3, 0.5);
    metrics_add_class_probability(m, 1, 4, 0.25);
    metrics_add_class_probability(m, 0, 0, 0.8);

    assert_double_near(metrics_logloss(m), 0.7675283643313485, EXACT_TOL);
    assert_double_near(metrics_window_logloss(m), 0.7675283643313485,
                       EXACT_TOL);
    assert_double_near(metrics_accuracy(m), 2.0 / 3.0, EXACT_TOL);
    free(m);
}

/* ---- restore of the extended totals --------------------------------- */

/* Every cumulative reader of a learner restored from another's totals
 * reads the same, bit for bit; its window starts empty. */
static void test_metrics_restore_extended_totals(void **state)
{
    struct metrics *a = metrics_alloc();
    struct metrics *b = metrics_alloc();
    uint32_t i;

    (void)state;
    rng_state = AUC_RANDOM_SEED + 2;
    for (i = 0; i < 2500; i++) {
        double s = rng_unit(&rng_state);

        metrics_add(a, s, rng_unit(&rng_state) < s);
    }
    metrics_restore(b, &a->total);

    assert_memory_equal(&b->total, &a->total, sizeof(a->total));
    assert_double_near(metrics_auc(b), metrics_auc(a), 0.0);
    assert_double_near(metrics_precision(b), metrics_precision(a), 0.0);
    assert_double_near(metrics_recall(b), metrics_recall(a), 0.0);
    assert_double_near(metrics_logloss(b), metrics_logloss(a), 0.0);
    assert_int_equal(b->window_len, 0);
    assert_true(isnan(metrics_window_auc(b)));

    /* Both go on identically. */
    metrics_add(a, 0.7, 1);
    metrics_add(b, 0.7, 1);
    assert_memory_equal(&b->total, &a->total, sizeof(a->total));
    free(a);
    free(b);
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
        cmocka_unit_test(test_metrics_auc_hand_case),
        cmocka_unit_test(test_metrics_auc_perfect_and_reversed),
        cmocka_unit_test(test_metrics_auc_undefined_with_one_class),
        cmocka_unit_test(test_metrics_auc_bin_edges),
        cmocka_unit_test(test_metrics_auc_estimate_within_bound),
        cmocka_unit_test(test_metrics_window_auc_after_slide),
        cmocka_unit_test(test_metrics_precision_recall_hand_case),
        cmocka_unit_test(test_metrics_precision_without_predicted_positives),
        cmocka_unit_test(test_metrics_regression_hand_case),
        cmocka_unit_test(test_metrics_regression_refuses_non_finite),
        cmocka_unit_test(test_metrics_regression_window_slides),
        cmocka_unit_test(test_metrics_multiclass_accuracy),
        cmocka_unit_test(test_metrics_multiclass_logloss),
        cmocka_unit_test(test_metrics_restore_extended_totals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
