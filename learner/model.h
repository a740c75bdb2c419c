/*
 * learner/model.h - a hashed-feature linear model learned online.
 *
 * Holds 2^bits float weights and, for adaptive optimizers, one float of
 * optimizer state per weight. Each call to model_learn() first scores the
 * example with the current weights and returns that prediction, then
 * updates the weights (progressive validation: predict, then learn).
 * Updates are sparse: only the example's features and the bias are
 * touched, and L2 decay is applied to those weights only. Weights can
 * never become NaN or infinite: non-finite feature values are refused by
 * model_learn(), and gradients and weights are clipped.
 * Not thread-safe; one learner thread owns a model.
 */
#ifndef RIFFLE_LEARNER_MODEL_H
#define RIFFLE_LEARNER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_MIN_BITS 10
#define MODEL_MAX_BITS 28

/* Upper limits checked by model_params_check(). Each is far past any
 * useful setting, so a value beyond it is a typo; together they keep
 * every intermediate of an update finite (see learner/model.c). */
#define MODEL_MAX_LEARNING_RATE 1e3 /* an AdaGrad step moves a weight by
                                       up to the rate itself */
#define MODEL_MAX_POWER_T 1.0       /* above 1 the SGD rates sum to a finite
                                       total: learning stops for good */
#define MODEL_MAX_L2 1.0            /* at 1 each update pulls a weight by
                                       its own size; useful values are
                                       below 1e-3 */
#define MODEL_MAX_GRADIENT_CLIP 1e6 /* keeps g^2 <= 1e12, so the AdaGrad
                                       sum stays below its limit for 1e18
                                       updates */

/* Every weight is clipped to [-MODEL_WEIGHT_LIMIT, MODEL_WEIGHT_LIMIT]
 * after each update and every AdaGrad sum to [0, MODEL_STATE_LIMIT]:
 * far beyond useful values, finite as floats, and small enough that
 * weight * largest float (3.4e38) summed over any example stays a
 * finite double. 2^100 (about 1.3e30) is exact in both float and double,
 * so a clipped weight compares equal to the limit after rounding. */
#define MODEL_WEIGHT_LIMIT 0x1p100
#define MODEL_STATE_LIMIT 0x1p100

/* The implicit bias feature has value 1 and the index
 * MODEL_BIAS_HASH & (weight count - 1), where MODEL_BIAS_HASH is
 * hash_string(MODEL_BIAS_NAME, 0). A hashed index rather than 0 keeps the
 * bias off the slot where hash("", 0) == 0 sends empty feature names; it
 * may collide with a feature like any two hashed names, at a rate of one
 * in 2^bits. */
#define MODEL_BIAS_NAME "riffle.bias"
#define MODEL_BIAS_HASH 0xa4716790u

enum model_loss {
    MODEL_LOSS_LOGISTIC = 0, /* labels 0/1; prediction is P(label = 1) */
    MODEL_LOSS_SQUARED = 1,  /* real labels; prediction is w.x */
    MODEL_LOSS_HINGE = 2,    /* labels 0/1; prediction is 1 if w.x > 0 */
};

enum model_optimizer {
    MODEL_OPT_SGD = 0,     /* rate = lr / (1 + t)^power_t */
    MODEL_OPT_ADAGRAD = 1, /* rate = lr / sqrt(sum of squared gradients) */
};

struct model_params {
    unsigned bits;        /* log2 of the weight count, 10..28 */
    enum model_loss loss;
    enum model_optimizer optimizer;
    double learning_rate; /* > 0, at most MODEL_MAX_LEARNING_RATE */
    double power_t;       /* SGD decay exponent, 0..MODEL_MAX_POWER_T */
    double l2;            /* L2 penalty per update, 0..MODEL_MAX_L2 */
    double gradient_clip; /* |per-feature gradient| cap, > 0, at most
                             MODEL_MAX_GRADIENT_CLIP */
};

struct feature {
    uint32_t index; /* already masked to the table size */
    float value;
};

struct model;

/* Fills params with riffle's defaults (bits 18, logistic, AdaGrad,
 * lr 0.5, power_t 0.5, l2 0, gradient_clip 100). */
void model_params_default(struct model_params *params);

/* Checks ranges. Returns 0, or RIFFLE_ERR_INVALID with errstr naming the
 * parameter, its value and the allowed range. */
int model_params_check(const struct model_params *params, char *errstr,
                       size_t errstr_size);

/* Allocates a zeroed model. Returns 0, RIFFLE_ERR_INVALID or
 * RIFFLE_ERR_NOMEM. *out is owned by the caller (model_destroy). */
int model_new(const struct model_params *params, struct model **out);
void model_destroy(struct model *m); /* NULL-safe */

const struct model_params *model_params_get(const struct model *m);

/* Score features (an implicit bias feature is always added). For
 * logistic loss returns a probability in [0, 1]; for hinge 0 or 1; for
 * squared the raw dot product. A feature whose value is not finite adds
 * nothing (model_learn() refuses such examples instead). x is borrowed
 * and may be NULL when n is 0. */
double model_predict(const struct model *m, const struct feature *x,
                     size_t n);

/* Predict, then update on (x, label). Writes the prediction made before
 * the update to *prediction. Returns 0, or RIFFLE_ERR_INVALID (model left
 * unchanged) when a feature value or the label is not finite, or a
 * logistic/hinge label is not 0 or 1.
 * A feature index repeated within x is one feature whose value is the sum
 * of the repeats. The prediction equals model_predict() on the same input
 * before the call, bit for bit. Examples longer than any seen before grow
 * a scratch buffer: if that allocation fails, returns RIFFLE_ERR_NOMEM
 * (model unchanged). *prediction is written only on success; prediction
 * may be NULL. x is borrowed and may be NULL when n is 0. */
int model_learn(struct model *m, const struct feature *x, size_t n,
                double label, double *prediction);

/* Index of the implicit bias weight in this model's table. */
uint32_t model_bias_index(const struct model *m);

/* Number of successful model_learn() calls. */
uint64_t model_update_count(const struct model *m);

/* Raw state for snapshots: weight_count() floats of weights and the same
 * number of optimizer-state floats (all zero for plain SGD). Borrowed. */
size_t model_weight_count(const struct model *m);
const float *model_weights(const struct model *m);
const float *model_optimizer_state(const struct model *m);

/* Replaces the state from a snapshot. Arrays must hold weight_count()
 * floats each and be finite. Returns 0 or RIFFLE_ERR_SNAPSHOT (model
 * unchanged), also when a weight lies beyond MODEL_WEIGHT_LIMIT or an
 * optimizer-state value is negative or beyond MODEL_STATE_LIMIT. A plain
 * SGD model keeps its state all zero: the snapshot's state is checked but
 * not copied, so an AdaGrad snapshot can seed an SGD model. Both arrays
 * are borrowed (copied). */
int model_restore_state(struct model *m, const float *weights,
                        const float *optimizer_state, uint64_t update_count);

#endif
