/*
 * learner/model_merge.c - merging instances' models, see model_merge.h.
 */
#include "learner/model_merge.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "common/err.h"

/* How one array combines across instances. */
enum combine {
    COMBINE_MEAN, /* example-weighted mean of the changes */
    COMBINE_MAX   /* largest value */
};

struct model_merger {
    struct model_params params;
    size_t count;      /* weights per array */
    size_t states;     /* optimizer-state arrays */
    float *base[1 + MODEL_MAX_STATE_ARRAYS]; /* weights, then state */
    double *acc;       /* one array's merged values */
    uint64_t base_updates;
    struct model_norm_totals base_norm; /* normalized's t and N */
};

/* Only normalized's largest |feature value| is not averaged: a scale
 * one instance has seen holds for the merged model too. */
static enum combine state_combine(enum model_optimizer opt, size_t k)
{
    return opt == MODEL_OPT_NORMALIZED && k == 1 ? COMBINE_MAX
                                                 : COMBINE_MEAN;
}

int model_merger_new(const struct model_params *params,
                     struct model_merger **out)
{
    struct model_merger *mm;
    size_t k;

    /* model_new() would check the same, but commits a whole table. */
    if (model_params_check(params, NULL, 0) != 0)
        return RIFFLE_ERR_INVALID;
    mm = calloc(1, sizeof(*mm));
    if (!mm)
        return RIFFLE_ERR_NOMEM;
    mm->params = *params;
    mm->count = (size_t)1 << params->bits;
    mm->states = model_params_state_count(params);

    mm->acc = calloc(mm->count, sizeof(*mm->acc));
    for (k = 0; k <= mm->states; k++)
        mm->base[k] = calloc(mm->count, sizeof(float));
    for (k = 0; k <= mm->states; k++)
        if (!mm->base[k])
            break;
    if (!mm->acc || k <= mm->states) {
        model_merger_destroy(mm);
        return RIFFLE_ERR_NOMEM;
    }
    *out = mm;
    return 0;
}

void model_merger_destroy(struct model_merger *mm)
{
    size_t k;

    if (!mm)
        return;
    for (k = 0; k <= MODEL_MAX_STATE_ARRAYS; k++)
        free(mm->base[k]);
    free(mm->acc);
    free(mm);
}

/* Value j of array k of m: 0 the weights, k >= 1 optimizer state k - 1.
 * The model interleaves them (learner/model.c), so they are read one by
 * one; merging runs rarely, learning never waits for it. */
static float value_of(const struct model *m, size_t k, size_t j)
{
    return k == 0 ? model_weight(m, j) : model_state_value(m, k - 1, j);
}

void model_merger_set_base(struct model_merger *mm, const struct model *m)
{
    size_t k;

    model_copy_weights(m, mm->base[0]);
    for (k = 1; k <= mm->states; k++)
        model_copy_state(m, k - 1, mm->base[k]);
    mm->base_updates = model_update_count(m);
    model_copy_norm_totals(m, &mm->base_norm);
}

static int same_shape(const struct model_merger *mm, const struct model *m)
{
    const struct model_params *p = model_params_get(m);

    return p->bits == mm->params.bits &&
           p->optimizer == mm->params.optimizer &&
           model_state_count(m) == mm->states;
}

/* Combines array k of the n models into the base. share[i] is model i's
 * part of the examples since the base. */
static void merge_array(struct model_merger *mm, struct model *const *src,
                        const double *share, size_t n, size_t k,
                        enum combine how)
{
    float *base = mm->base[k];
    size_t i, j;

    for (j = 0; j < mm->count; j++)
        mm->acc[j] = base[j];
    for (i = 0; i < n; i++) {
        double f = share[i];

        for (j = 0; j < mm->count; j++) {
            double x = value_of(src[i], k, j);

            if (how == COMBINE_MAX)
                mm->acc[j] = x > mm->acc[j] ? x : mm->acc[j];
            else
                mm->acc[j] += f * (x - (double)base[j]);
        }
    }
    for (j = 0; j < mm->count; j++)
        base[j] = (float)mm->acc[j];
}

/* Each instance's share of the examples learned since the base; equal
 * shares when none learned anything. Returns the examples' total. */
static uint64_t shares(const struct model_merger *mm,
                       struct model *const *src, size_t n, double *share)
{
    uint64_t total = 0, u;
    size_t i;

    for (i = 0; i < n; i++) {
        u = model_update_count(src[i]);
        total += u > mm->base_updates ? u - mm->base_updates : 0;
    }
    for (i = 0; i < n; i++) {
        u = model_update_count(src[i]);
        u = u > mm->base_updates ? u - mm->base_updates : 0;
        share[i] = total ? (double)u / (double)total : 1.0 / (double)n;
    }
    return total;
}

/* The normalized totals of a merge from the common base: the base's
 * plus every instance's additions since it. They count examples and
 * their norms, and the merged model has learned all of the instances'
 * examples, as its version says (see model_merge.h). Sums stop at the
 * largest totals a model takes (model_restore_norm_totals()). */
static void norm_totals_add(struct model_merger *mm,
                            struct model *const *src, size_t n)
{
    struct model_norm_totals sum = mm->base_norm, nt;
    uint64_t more;
    size_t i;

    for (i = 0; i < n; i++) {
        model_copy_norm_totals(src[i], &nt);
        more = nt.examples > mm->base_norm.examples
                   ? nt.examples - mm->base_norm.examples : 0;
        sum.examples = more > MODEL_MAX_NORM_EXAMPLES - sum.examples
                           ? MODEL_MAX_NORM_EXAMPLES
                           : sum.examples + more;
        if (nt.norm_sum > mm->base_norm.norm_sum)
            sum.norm_sum += nt.norm_sum - mm->base_norm.norm_sum;
    }
    if (sum.norm_sum > DBL_MAX)
        sum.norm_sum = DBL_MAX;
    mm->base_norm = sum;
}

/* The normalized totals of a merge of whole models: their mean weighted
 * by the shares, as for the weights. Summing them would count again the
 * history the instances share from earlier merges; a weighted mean keeps
 * the ratio that sets the rate (the mean normalized norm of an example)
 * between the instances' own. */
static void norm_totals_mean(struct model_merger *mm,
                             struct model *const *src, const double *share,
                             size_t n)
{
    struct model_norm_totals nt;
    double examples = 0.0, norm_sum = 0.0;
    size_t i;

    for (i = 0; i < n; i++) {
        model_copy_norm_totals(src[i], &nt);
        examples += share[i] * (double)nt.examples;
        norm_sum += share[i] * nt.norm_sum;
    }
    /* (double)MODEL_MAX_NORM_EXAMPLES is 2^63, past llround()'s range. */
    mm->base_norm.examples =
        examples >= (double)MODEL_MAX_NORM_EXAMPLES
            ? MODEL_MAX_NORM_EXAMPLES
            : (uint64_t)llround(examples);
    mm->base_norm.norm_sum = norm_sum;
}

/* Merges with the given shares (summing to 1) and sets the version; the
 * normalized totals in mm->base_norm are already merged. */
static int merge_shares(struct model_merger *mm, struct model *const *src,
                        const double *share, size_t n, uint64_t version)
{
    const float *state[MODEL_MAX_STATE_ARRAYS];
    size_t i, k;
    int err = 0;

    mm->base_updates = version;
    for (k = 0; k <= mm->states; k++)
        merge_array(mm, src, share, n, k,
                    k == 0 ? COMBINE_MEAN
                           : state_combine(mm->params.optimizer, k - 1));

    for (k = 0; k < mm->states; k++)
        state[k] = mm->base[k + 1];
    for (i = 0; !err && i < n; i++) {
        err = model_restore_state(src[i], mm->base[0], state, mm->states,
                                  mm->base_updates);
        if (!err)
            err = model_restore_norm_totals(src[i], &mm->base_norm);
    }
    /* ftrl derives its weights from z and n: keep the base in step */
    if (!err && mm->params.optimizer == MODEL_OPT_FTRL)
        model_copy_weights(src[0], mm->base[0]);
    return err;
}

static int check_models(const struct model_merger *mm,
                        struct model *const *src, size_t n)
{
    size_t i;

    if (n == 0)
        return RIFFLE_ERR_INVALID;
    for (i = 0; i < n; i++)
        if (!same_shape(mm, src[i]))
            return RIFFLE_ERR_INVALID;
    return 0;
}

int model_merger_merge(struct model_merger *mm, struct model *const *src,
                       size_t n)
{
    double *share;
    uint64_t total;
    int err = check_models(mm, src, n);

    if (err)
        return err;
    share = malloc(n * sizeof(*share));
    if (!share)
        return RIFFLE_ERR_NOMEM;

    total = shares(mm, src, n, share);
    norm_totals_add(mm, src, n);
    err = merge_shares(mm, src, share, n, mm->base_updates + total);
    free(share);
    return err;
}

int model_merger_merge_weighted(struct model_merger *mm,
                                struct model *const *src,
                                const uint64_t *examples, size_t n)
{
    uint64_t total = 0;
    double *share;
    size_t i;
    int err = check_models(mm, src, n);

    if (err)
        return err;
    share = malloc(n * sizeof(*share));
    if (!share)
        return RIFFLE_ERR_NOMEM;

    for (i = 0; i < n; i++)
        total += examples[i];
    for (i = 0; i < n; i++)
        share[i] = total ? (double)examples[i] / (double)total
                         : 1.0 / (double)n;
    norm_totals_mean(mm, src, share, n);
    err = merge_shares(mm, src, share, n, total);
    free(share);
    return err;
}

uint64_t model_merger_version(const struct model_merger *mm)
{
    return mm->base_updates;
}
