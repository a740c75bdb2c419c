/*
 * learner/model.c - a hashed-feature linear model learned online.
 *
 * Scores an example (dot product in double over float weights, plus the
 * bias), then takes one sparse gradient step with SGD or AdaGrad on the
 * example's features and the bias. Repeated indices within an example are
 * merged first, so each touched weight gets exactly one gradient, computed
 * from the margin before the update. Weights are stored as floats to halve
 * memory; every sum and step is done in double and rounded once.
 *
 * Why nothing can become inf or NaN: feature values and labels must be
 * finite; weights are clipped to MODEL_WEIGHT_LIMIT and AdaGrad sums to
 * MODEL_STATE_LIMIT after each step; the parameter limits in model.h bound
 * learning rate, L2 and gradient clip, so margins, gradients and steps
 * stay finite doubles (the only unbounded term, loss derivative * value
 * for squared loss with a huge label, is clipped before use).
 *
 * Deterministic: no randomness and a fixed order of every floating-point
 * operation, so the same example sequence gives bit-identical weights.
 * Does not hash, parse or snapshot; it holds numbers only. Not
 * thread-safe: one learner thread owns a model.
 */
#include "learner/model.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Defaults promised in model.h. */
#define MODEL_DEFAULT_BITS 18
#define MODEL_DEFAULT_LEARNING_RATE 0.5
#define MODEL_DEFAULT_POWER_T 0.5
#define MODEL_DEFAULT_L2 0.0
#define MODEL_DEFAULT_GRADIENT_CLIP 100.0

/* |margin| fed to exp(): e^50 is about 5e21, far from overflow, and
 * sigmoid(50) already rounds to 1.0 in double, so clamping loses
 * nothing. */
#define MODEL_MARGIN_CLAMP 50.0

/* Merged features kept ready at creation: typical examples carry tens of
 * features, so learning never allocates until one carries more. */
#define MODEL_SCRATCH_INITIAL 256

/* One distinct weight touched by an example. order keeps the position of
 * the first occurrence so that repeats are summed in input order, not in
 * whatever order qsort() leaves equal indices. */
struct merged_feature {
    uint32_t index;
    size_t order;
    double value;
};

struct model {
    struct model_params params;
    size_t weight_count;
    uint32_t mask;        /* weight_count - 1 */
    uint32_t bias_index;
    float *weights;       /* owned, weight_count */
    float *state;         /* owned, weight_count; AdaGrad sums of g^2 */
    uint64_t updates;
    struct merged_feature *scratch; /* owned, scratch_cap entries */
    size_t scratch_cap;
};


/* ---- parameters ---------------------------------------------------- */

void model_params_default(struct model_params *params)
{
    memset(params, 0, sizeof(*params));
    params->bits = MODEL_DEFAULT_BITS;
    params->loss = MODEL_LOSS_LOGISTIC;
    params->optimizer = MODEL_OPT_ADAGRAD;
    params->learning_rate = MODEL_DEFAULT_LEARNING_RATE;
    params->power_t = MODEL_DEFAULT_POWER_T;
    params->l2 = MODEL_DEFAULT_L2;
    params->gradient_clip = MODEL_DEFAULT_GRADIENT_CLIP;
}

/* NaN fails every comparison, so it is refused too. lo_open chooses
 * value > lo over value >= lo. */
static int check_range(const char *name, double value, double lo,
                       int lo_open, double hi, char *errstr,
                       size_t errstr_size)
{
    int ok = lo_open ? value > lo : value >= lo;

    if (ok && value <= hi)
        return 0;
    if (errstr && errstr_size && lo_open)
        snprintf(errstr, errstr_size,
                 "learner.%s = %g: expected a number above %g, at most %g",
                 name, value, lo, hi);
    else if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "learner.%s = %g: expected a number from %g to %g", name,
                 value, lo, hi);
    return RIFFLE_ERR_INVALID;
}

int model_params_check(const struct model_params *params, char *errstr,
                       size_t errstr_size)
{
    int loss = (int)params->loss;
    int optimizer = (int)params->optimizer;
    int err;

    if (params->bits < MODEL_MIN_BITS || params->bits > MODEL_MAX_BITS) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.bits = %u: expected an integer from %d to %d",
                     params->bits, MODEL_MIN_BITS, MODEL_MAX_BITS);
        return RIFFLE_ERR_INVALID;
    }
    if (loss < MODEL_LOSS_LOGISTIC || loss > MODEL_LOSS_HINGE) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.loss = %d: expected %d (logistic), "
                     "%d (squared) or %d (hinge)", loss,
                     MODEL_LOSS_LOGISTIC, MODEL_LOSS_SQUARED,
                     MODEL_LOSS_HINGE);
        return RIFFLE_ERR_INVALID;
    }
    if (optimizer < MODEL_OPT_SGD || optimizer > MODEL_OPT_ADAGRAD) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.optimizer = %d: expected %d (sgd) or "
                     "%d (adagrad)", optimizer, MODEL_OPT_SGD,
                     MODEL_OPT_ADAGRAD);
        return RIFFLE_ERR_INVALID;
    }

    err = check_range("learning_rate", params->learning_rate, 0.0, 1,
                      MODEL_MAX_LEARNING_RATE, errstr, errstr_size);
    if (!err)
        err = check_range("power_t", params->power_t, 0.0, 0,
                          MODEL_MAX_POWER_T, errstr, errstr_size);
    if (!err)
        err = check_range("l2", params->l2, 0.0, 0, MODEL_MAX_L2, errstr,
                          errstr_size);
    if (!err)
        err = check_range("gradient_clip", params->gradient_clip, 0.0, 1,
                          MODEL_MAX_GRADIENT_CLIP, errstr, errstr_size);
    return err;
}


/* ---- lifetime ------------------------------------------------------ */

int model_new(const struct model_params *params, struct model **out)
{
    struct model *m;
    size_t count;

    if (model_params_check(params, NULL, 0) != 0)
        return RIFFLE_ERR_INVALID;

    count = (size_t)1 << params->bits;
    /* calloc checks this too; the explicit test documents the bound on
     * hosts with a 32-bit size_t, where 2^28 floats is already 1 GiB. */
    if (count > SIZE_MAX / sizeof(float))
        return RIFFLE_ERR_NOMEM;

    m = calloc(1, sizeof(*m));
    if (!m)
        return RIFFLE_ERR_NOMEM;
    m->params = *params;
    m->weight_count = count;
    m->mask = (uint32_t)(count - 1);
    m->bias_index = MODEL_BIAS_HASH & m->mask;
    m->weights = calloc(count, sizeof(*m->weights));
    m->state = calloc(count, sizeof(*m->state));
    m->scratch = calloc(MODEL_SCRATCH_INITIAL, sizeof(*m->scratch));
    if (!m->weights || !m->state || !m->scratch) {
        model_destroy(m);
        return RIFFLE_ERR_NOMEM;
    }
    m->scratch_cap = MODEL_SCRATCH_INITIAL;

    *out = m;
    return 0;
}

void model_destroy(struct model *m)
{
    if (!m)
        return;
    free(m->weights);
    free(m->state);
    free(m->scratch);
    free(m);
}


/* ---- accessors ----------------------------------------------------- */

const struct model_params *model_params_get(const struct model *m)
{
    return &m->params;
}

uint64_t model_update_count(const struct model *m)
{
    return m->updates;
}

size_t model_weight_count(const struct model *m)
{
    return m->weight_count;
}

const float *model_weights(const struct model *m)
{
    return m->weights;
}

const float *model_optimizer_state(const struct model *m)
{
    return m->state;
}

uint32_t model_bias_index(const struct model *m)
{
    return m->bias_index;
}


/* ---- scoring ------------------------------------------------------- */

static double clamp(double v, double limit)
{
    if (v > limit)
        return limit;
    if (v < -limit)
        return -limit;
    return v;
}

/* Indices should arrive masked (model.h); masking again costs one AND
 * and turns a caller's bug into a wrong weight instead of a wild read.
 * The assert still catches it in debug builds. */
static uint32_t slot(const struct model *m, uint32_t index)
{
    assert(index <= m->mask);
    return index & m->mask;
}

/* w.x plus the bias, in double, in input order. model_learn() uses this
 * same function, so its prediction equals model_predict() bit for bit. */
static double margin_compute(const struct model *m, const struct feature *x,
                             size_t n)
{
    double margin = m->weights[m->bias_index];
    size_t i;

    for (i = 0; i < n; i++) {
        if (!isfinite(x[i].value))
            continue;
        margin += (double)m->weights[slot(m, x[i].index)] *
                  (double)x[i].value;
    }
    return margin;
}

static double sigmoid(double margin)
{
    return 1.0 / (1.0 + exp(-clamp(margin, MODEL_MARGIN_CLAMP)));
}

static double prediction_from_margin(const struct model *m, double margin)
{
    switch (m->params.loss) {
    case MODEL_LOSS_LOGISTIC:
        return sigmoid(margin);
    case MODEL_LOSS_HINGE:
        return margin > 0.0 ? 1.0 : 0.0;
    case MODEL_LOSS_SQUARED:
    default:
        return margin;
    }
}

double model_predict(const struct model *m, const struct feature *x,
                     size_t n)
{
    return prediction_from_margin(m, margin_compute(m, x, n));
}


/* ---- learning ------------------------------------------------------ */

static int example_check(const struct model *m, const struct feature *x,
                         size_t n, double label)
{
    size_t i;

    if (!isfinite(label))
        return RIFFLE_ERR_INVALID;
    if (m->params.loss != MODEL_LOSS_SQUARED && label != 0.0 &&
        label != 1.0)
        return RIFFLE_ERR_INVALID;
    for (i = 0; i < n; i++) {
        if (!isfinite(x[i].value))
            return RIFFLE_ERR_INVALID;
    }
    return 0;
}

/* Makes room for n features plus the bias. The old buffer is kept until
 * the new one exists, so failure leaves the model as it was. */
static int scratch_reserve(struct model *m, size_t n)
{
    struct merged_feature *grown;
    size_t need;
    size_t cap = m->scratch_cap;

    if (n == SIZE_MAX)
        return RIFFLE_ERR_NOMEM;
    need = n + 1;
    if (need <= cap)
        return 0;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > SIZE_MAX / sizeof(*grown))
        return RIFFLE_ERR_NOMEM;

    grown = malloc(cap * sizeof(*grown));
    if (!grown)
        return RIFFLE_ERR_NOMEM;
    free(m->scratch);
    m->scratch = grown;
    m->scratch_cap = cap;
    return 0;
}

static int merged_compare(const void *a, const void *b)
{
    const struct merged_feature *fa = a;
    const struct merged_feature *fb = b;

    if (fa->index != fb->index)
        return fa->index < fb->index ? -1 : 1;
    if (fa->order != fb->order)
        return fa->order < fb->order ? -1 : 1;
    return 0;
}

/* Copies the features and the bias into scratch, sorts by index and sums
 * repeats, so each touched weight appears once. Returns the count. */
static size_t features_merge(struct model *m, const struct feature *x,
                             size_t n)
{
    struct merged_feature *s = m->scratch;
    size_t i;
    size_t out = 0;

    for (i = 0; i < n; i++) {
        s[i].index = slot(m, x[i].index);
        s[i].order = i;
        s[i].value = x[i].value;
    }
    s[n].index = m->bias_index;
    s[n].order = n;
    s[n].value = 1.0;
    qsort(s, n + 1, sizeof(*s), merged_compare);

    for (i = 0; i < n + 1; i++) {
        if (out > 0 && s[out - 1].index == s[i].index)
            s[out - 1].value += s[i].value;
        else
            s[out++] = s[i];
    }
    return out;
}

/* dLoss/dMargin at the pre-update margin. Labels were checked. */
static double loss_derivative(const struct model *m, double margin,
                              double label)
{
    double y;

    switch (m->params.loss) {
    case MODEL_LOSS_LOGISTIC:
        return sigmoid(margin) - label;
    case MODEL_LOSS_HINGE:
        y = label > 0.5 ? 1.0 : -1.0;
        return y * margin < 1.0 ? -y : 0.0;
    case MODEL_LOSS_SQUARED:
    default:
        /* Both finite; DBL_MAX clamps the one overflow possible when
         * the label is near +-DBL_MAX. */
        return clamp(margin - label, DBL_MAX);
    }
}

/* One weight's step. g is already clipped, so every term is finite. */
static void weight_update(struct model *m, uint32_t i, double g,
                          double sgd_rate)
{
    double w = m->weights[i];
    double sum;

    if (m->params.optimizer == MODEL_OPT_ADAGRAD) {
        sum = (double)m->state[i] + g * g;
        if (sum > MODEL_STATE_LIMIT)
            sum = MODEL_STATE_LIMIT;
        m->state[i] = (float)sum;
        /* sum == 0 means g == 0 and no history: there is no step. */
        if (sum > 0.0)
            w -= m->params.learning_rate * (g / sqrt(sum));
    } else {
        w -= sgd_rate * g;
    }
    m->weights[i] = (float)clamp(w, MODEL_WEIGHT_LIMIT);
}

int model_learn(struct model *m, const struct feature *x, size_t n,
                double label, double *prediction)
{
    double margin;
    double dloss;
    double sgd_rate;
    size_t count;
    size_t i;
    int err;

    err = example_check(m, x, n, label);
    if (err)
        return err;
    err = scratch_reserve(m, n);
    if (err)
        return err;

    margin = margin_compute(m, x, n);
    if (prediction)
        *prediction = prediction_from_margin(m, margin);

    /* Every gradient comes from this margin, before any weight moves. */
    dloss = loss_derivative(m, margin, label);
    sgd_rate = 0.0;
    if (m->params.optimizer == MODEL_OPT_SGD)
        sgd_rate = m->params.learning_rate /
                   pow(1.0 + (double)m->updates, m->params.power_t);
    count = features_merge(m, x, n);
    for (i = 0; i < count; i++) {
        uint32_t idx = m->scratch[i].index;
        /* |dloss * value| may overflow to inf for a huge squared-loss
         * label; inf + finite stays inf and the clip below bounds it. */
        double g = dloss * m->scratch[i].value +
                   m->params.l2 * (double)m->weights[idx];

        assert(!isnan(g));
        g = clamp(g, m->params.gradient_clip);
        weight_update(m, idx, g, sgd_rate);
    }

    m->updates++;
    return 0;
}


/* ---- snapshots ----------------------------------------------------- */

static int array_check(const float *a, size_t count, double lo, double hi)
{
    size_t i;

    for (i = 0; i < count; i++) {
        /* Comparisons are false for NaN, so NaN fails here too. */
        if (!(a[i] >= lo && a[i] <= hi))
            return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

int model_restore_state(struct model *m, const float *weights,
                        const float *optimizer_state, uint64_t update_count)
{
    size_t bytes = m->weight_count * sizeof(float);

    if (!weights || !optimizer_state)
        return RIFFLE_ERR_SNAPSHOT;
    if (array_check(weights, m->weight_count, -MODEL_WEIGHT_LIMIT,
                    MODEL_WEIGHT_LIMIT) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    if (array_check(optimizer_state, m->weight_count, 0.0,
                    MODEL_STATE_LIMIT) != 0)
        return RIFFLE_ERR_SNAPSHOT;

    memcpy(m->weights, weights, bytes);
    if (m->params.optimizer == MODEL_OPT_ADAGRAD)
        memcpy(m->state, optimizer_state, bytes);
    else
        memset(m->state, 0, bytes);
    m->updates = update_count;
    return 0;
}
