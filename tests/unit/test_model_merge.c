/*
 * tests/unit/test_model_merge.c - merging learner instances' models with
 * learner/model_merge.c.
 *
 * Instances are plain models fed hand-made examples, so every merged
 * value can be computed here from the instances' own arrays: weights as
 * the example-weighted mean of the changes since the base, and so every
 * optimizer-state array but normalized's largest scale (the maximum);
 * the update count as the total of examples, and normalized's totals as
 * the base's plus every instance's additions (whole models: their
 * example-weighted mean). No broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "learner/model.h"
#include "learner/model_merge.h"
#include "tests/unit/testutil.h"

#define BITS 10
#define FEATURES 4        /* per example */
#define TOL 1e-5          /* float arrays, combined in double */

static struct model_params params_for(enum model_optimizer opt)
{
    struct model_params p;

    model_params_default(&p);
    p.bits = BITS;
    p.optimizer = opt;
    p.learning_rate = 0.5;
    if (opt == MODEL_OPT_FTRL)
        p.l1 = 0.1;
    return p;
}

/* Learns count random examples drawn from seed. */
static void learn_some(struct model *m, uint64_t seed, int count)
{
    struct feature x[FEATURES];
    int i, j;

    for (i = 0; i < count; i++) {
        for (j = 0; j < FEATURES; j++) {
            x[j].index = (uint32_t)(rng_next(&seed) % (1u << BITS));
            x[j].value = (float)rng_unit(&seed);
        }
        assert_int_equal(model_learn(m, x, FEATURES,
                                     rng_unit(&seed) < 0.5 ? 0.0 : 1.0,
                                     NULL), 0);
    }
}

static struct model *new_model(const struct model_params *p)
{
    struct model *m = NULL;

    assert_int_equal(model_new(p, &m), 0);
    return m;
}

/* Two instances from a shared base: 30 and 10 examples. */
static void merge_two(enum model_optimizer opt)
{
    struct model_params p = params_for(opt);
    struct model *base = new_model(&p), *a = new_model(&p),
                 *b = new_model(&p);
    struct model *pair[2];
    struct model_merger *mm = NULL;
    size_t count = model_weight_count(base), states = model_state_count(base);
    float *before[3][3];
    struct model_norm_totals nt[3], merged;
    size_t j, k, i;

    assert_int_equal(model_merger_new(&p, &mm), 0);
    learn_some(base, 1, 20);
    model_merger_set_base(mm, base);
    /* a and b start as copies of the base */
    for (i = 0; i < 2; i++) {
        float *w = model_weights_dup(base);
        float *s0 = model_state_dup(base, 0), *s1 = model_state_dup(base, 1);
        const float *st[MODEL_MAX_STATE_ARRAYS] = {s0, s1};

        assert_int_equal(model_restore_state(i ? b : a, w, st, states,
                                             model_update_count(base)), 0);
        model_copy_norm_totals(base, &merged);
        assert_int_equal(model_restore_norm_totals(i ? b : a, &merged), 0);
        free(w);
        free(s0);
        free(s1);
    }
    learn_some(a, 2, 30);
    learn_some(b, 3, 10);
    for (k = 0; k <= states; k++) {
        struct model *ms[3] = {base, a, b};
        for (i = 0; i < 3; i++) {
            before[i][k] = k ? model_state_dup(ms[i], k - 1)
                             : model_weights_dup(ms[i]);
        }
    }

    model_copy_norm_totals(base, &nt[0]);
    model_copy_norm_totals(a, &nt[1]);
    model_copy_norm_totals(b, &nt[2]);

    pair[0] = a;
    pair[1] = b;
    assert_int_equal(model_merger_merge(mm, pair, 2), 0);
    assert_int_equal((int)model_merger_version(mm), 60);
    model_copy_norm_totals(a, &merged);
    assert_int_equal(merged.examples,
                     opt == MODEL_OPT_NORMALIZED ? 60 : 0);
    assert_double_near(merged.norm_sum,
                       nt[0].norm_sum + (nt[1].norm_sum - nt[0].norm_sum) +
                           (nt[2].norm_sum - nt[0].norm_sum),
                       1e-9);
    if (opt == MODEL_OPT_NORMALIZED)
        assert_true(merged.norm_sum > 60.0); /* the bias adds 1 each */
    model_copy_norm_totals(b, &nt[0]);
    assert_memory_equal(&nt[0], &merged, sizeof(merged));
    assert_int_equal((int)model_update_count(a), 60);
    assert_int_equal((int)model_update_count(b), 60);

    for (j = 0; j < count; j++) {
        double w0 = before[0][0][j], wa = before[1][0][j],
               wb = before[2][0][j];

        if (opt != MODEL_OPT_FTRL)
            assert_double_near(model_weight(a, j),
                               w0 + 0.75 * (wa - w0) + 0.25 * (wb - w0),
                               TOL);
        assert_double_near(model_weight(a, j), model_weight(b, j), 0.0);
        for (k = 1; k <= states; k++) {
            double s0 = before[0][k][j], sa = before[1][k][j],
                   sb = before[2][k][j], want;

            if (opt == MODEL_OPT_NORMALIZED && k == 2)
                want = sa > sb ? (sa > s0 ? sa : s0) : (sb > s0 ? sb : s0);
            else
                want = s0 + 0.75 * (sa - s0) + 0.25 * (sb - s0);
            assert_double_near(model_state_value(a, k - 1, j), want, TOL);
            assert_double_near(model_state_value(b, k - 1, j),
                               model_state_value(a, k - 1, j), 0.0);
        }
    }

    for (k = 0; k <= states; k++)
        for (i = 0; i < 3; i++)
            free(before[i][k]);
    model_merger_destroy(mm);
    model_destroy(base);
    model_destroy(a);
    model_destroy(b);
}

static void test_model_merge_sgd(void **state)
{
    (void)state;
    merge_two(MODEL_OPT_SGD);
}

static void test_model_merge_adagrad_averages_squares(void **state)
{
    (void)state;
    merge_two(MODEL_OPT_ADAGRAD);
}

static void test_model_merge_adam_averages_moments(void **state)
{
    (void)state;
    merge_two(MODEL_OPT_ADAM);
}

static void test_model_merge_normalized_keeps_max_scale_adds_totals(
    void **state)
{
    (void)state;
    merge_two(MODEL_OPT_NORMALIZED);
}

static void test_model_merge_ftrl_agrees(void **state)
{
    (void)state;
    merge_two(MODEL_OPT_FTRL);
}

/* An instance that learned nothing does not pull the others back. */
static void test_model_merge_idle_instance_has_no_weight(void **state)
{
    struct model_params p = params_for(MODEL_OPT_ADAGRAD);
    struct model *a = new_model(&p), *idle = new_model(&p);
    struct model *pair[2] = {a, idle};
    struct model_merger *mm = NULL;
    float *want;
    size_t j, count = model_weight_count(a);

    (void)state;
    assert_int_equal(model_merger_new(&p, &mm), 0);
    learn_some(a, 9, 25);
    want = malloc(count * sizeof(float));
    model_copy_weights(a, want);
    assert_int_equal(model_merger_merge(mm, pair, 2), 0);
    for (j = 0; j < count; j++)
        assert_double_near(model_weight(idle, j), want[j], TOL);
    assert_int_equal((int)model_update_count(idle), 25);

    /* and with nothing learned anywhere, a merge changes nothing */
    model_copy_weights(a, want);
    assert_int_equal(model_merger_merge(mm, pair, 2), 0);
    for (j = 0; j < count; j++)
        assert_double_near(model_weight(a, j), want[j], 0.0);
    free(want);
    model_merger_destroy(mm);
    model_destroy(a);
    model_destroy(idle);
}

static void test_model_merge_refuses_other_models(void **state)
{
    struct model_params p = params_for(MODEL_OPT_ADAGRAD);
    struct model_params q = params_for(MODEL_OPT_ADAM);
    struct model *a = new_model(&p), *other = new_model(&q);
    struct model *pair[2] = {a, other};
    struct model_merger *mm = NULL;

    (void)state;
    assert_int_equal(model_merger_new(&p, &mm), 0);
    learn_some(a, 4, 5);
    assert_int_equal(model_merger_merge(mm, pair, 2), RIFFLE_ERR_INVALID);
    assert_int_equal(model_merger_merge(mm, pair, 0), RIFFLE_ERR_INVALID);
    assert_int_equal((int)model_update_count(a), 5); /* unchanged */
    assert_int_equal((int)model_merger_version(mm), 0);
    model_merger_destroy(mm);
    model_destroy(a);
    model_destroy(other);
}

/* Asynchronous instances share no base: whole models are averaged by the
 * examples each learned itself (3 and 1 here, whatever their update
 * counts say), and the version is the total. */
static void test_model_merge_weighted_whole_models(void **state)
{
    struct model_params p = params_for(MODEL_OPT_ADAGRAD);
    struct model *a = new_model(&p), *b = new_model(&p), *pair[2];
    struct model_merger *mm = NULL;
    size_t count = model_weight_count(a), j;
    const uint64_t examples[2] = {3, 1};
    float *wa, *wb, *sa, *sb;

    (void)state;
    assert_int_equal(model_merger_new(&p, &mm), 0);
    learn_some(a, 5, 40);
    learn_some(b, 6, 25);
    wa = model_weights_dup(a);
    wb = model_weights_dup(b);
    sa = model_state_dup(a, 0);
    sb = model_state_dup(b, 0);

    pair[0] = a;
    pair[1] = b;
    assert_int_equal(model_merger_merge_weighted(mm, pair, examples, 2), 0);
    assert_int_equal((int)model_merger_version(mm), 4);
    assert_int_equal((int)model_update_count(a), 4);
    assert_int_equal((int)model_update_count(b), 4);
    for (j = 0; j < count; j++) {
        assert_float_equal(model_weight(a, j), 0.75 * wa[j] + 0.25 * wb[j],
                           TOL);
        assert_float_equal(model_weight(b, j), model_weight(a, j), 0.0);
        assert_float_equal(model_state_value(a, 0, j),
                           0.75 * sa[j] + 0.25 * sb[j], TOL);
    }

    /* and again, from the merged base: still whole-model averages */
    learn_some(a, 7, 10);
    free(wa);
    wa = model_weights_dup(a);
    free(wb);
    wb = model_weights_dup(b);
    assert_int_equal(model_merger_merge_weighted(mm, pair, examples, 2), 0);
    for (j = 0; j < count; j++)
        assert_float_equal(model_weight(b, j), 0.75 * wa[j] + 0.25 * wb[j],
                           TOL);
    free(wa);
    free(wb);
    free(sa);
    free(sb);
    model_merger_destroy(mm);
    model_destroy(a);
    model_destroy(b);
}

/* Whole normalized models: t and N are each the example-weighted mean
 * of the instances' own (3 : 1 here), t rounded to a whole count, so
 * their ratio stays between the instances' ratios. */
static void test_model_merge_weighted_normalized_totals(void **state)
{
    struct model_params p = params_for(MODEL_OPT_NORMALIZED);
    struct model *a = new_model(&p), *b = new_model(&p), *pair[2] = {a, b};
    struct model_merger *mm = NULL;
    const uint64_t examples[2] = {3, 1};
    struct model_norm_totals ta, tb, merged;

    (void)state;
    assert_int_equal(model_merger_new(&p, &mm), 0);
    learn_some(a, 5, 40);
    learn_some(b, 6, 25);
    model_copy_norm_totals(a, &ta);
    model_copy_norm_totals(b, &tb);
    assert_int_equal(ta.examples, 40);
    assert_int_equal(tb.examples, 25);

    assert_int_equal(model_merger_merge_weighted(mm, pair, examples, 2), 0);
    model_copy_norm_totals(a, &merged);
    assert_int_equal(merged.examples, 36); /* 0.75 * 40 + 0.25 * 25 */
    assert_double_near(merged.norm_sum,
                       0.75 * ta.norm_sum + 0.25 * tb.norm_sum, 1e-9);
    model_copy_norm_totals(b, &ta);
    assert_memory_equal(&ta, &merged, sizeof(merged));
    model_merger_destroy(mm);
    model_destroy(a);
    model_destroy(b);
}

/* t stops at MODEL_MAX_NORM_EXAMPLES in merges too, where a sum or a
 * mean near it would pass the most a snapshot can hold (2^63 is also
 * past llround()'s range), and the merge goes through. */
static void test_model_merge_normalized_count_stops_at_most(void **state)
{
    struct model_params p = params_for(MODEL_OPT_NORMALIZED);
    struct model *a = new_model(&p), *b = new_model(&p), *pair[2] = {a, b};
    const struct model_norm_totals near = {MODEL_MAX_NORM_EXAMPLES - 1, 10.0};
    const uint64_t examples[2] = {1, 1};
    struct model_merger *mm = NULL;
    struct model_norm_totals merged;

    (void)state;
    assert_int_equal(model_merger_new(&p, &mm), 0);
    assert_int_equal(model_restore_norm_totals(a, &near), 0);
    assert_int_equal(model_restore_norm_totals(b, &near), 0);
    model_merger_set_base(mm, a);
    learn_some(a, 7, 3);
    learn_some(b, 8, 3);
    model_copy_norm_totals(a, &merged);
    assert_true(merged.examples == MODEL_MAX_NORM_EXAMPLES);

    assert_int_equal(model_merger_merge(mm, pair, 2), 0);
    model_copy_norm_totals(b, &merged);
    assert_true(merged.examples == MODEL_MAX_NORM_EXAMPLES);

    assert_int_equal(model_merger_merge_weighted(mm, pair, examples, 2), 0);
    model_copy_norm_totals(a, &merged);
    assert_true(merged.examples == MODEL_MAX_NORM_EXAMPLES);
    model_merger_destroy(mm);
    model_destroy(a);
    model_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_merge_sgd),
        cmocka_unit_test(test_model_merge_adagrad_averages_squares),
        cmocka_unit_test(test_model_merge_adam_averages_moments),
        cmocka_unit_test(
            test_model_merge_normalized_keeps_max_scale_adds_totals),
        cmocka_unit_test(test_model_merge_weighted_normalized_totals),
        cmocka_unit_test(test_model_merge_normalized_count_stops_at_most),
        cmocka_unit_test(test_model_merge_ftrl_agrees),
        cmocka_unit_test(test_model_merge_idle_instance_has_no_weight),
        cmocka_unit_test(test_model_merge_refuses_other_models),
        cmocka_unit_test(test_model_merge_weighted_whole_models),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
