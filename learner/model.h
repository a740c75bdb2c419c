/*
 * learner/model.h - a hashed-feature linear model learned online.
 *
 * Holds 2^bits float weights and, for adaptive optimizers, one or two
 * floats of optimizer state per weight (model_state_count()). Each call
 * to model_learn() first scores the example with the current weights and
 * returns that prediction, then updates the weights (progressive
 * validation: predict, then learn). Updates are sparse: only the
 * example's features and the bias are touched, and L2 decay is applied to
 * those weights only. Weights can never become NaN or infinite: non-finite
 * feature values are refused by model_learn(), and gradients, weights and
 * optimizer state are clipped.
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
#define MODEL_MAX_L1 1e6            /* ftrl compares l1 with |z|, a sum of
                                       gradients; useful values are 0.1 to
                                       100 */
#define MODEL_MAX_DECAY 0.999999    /* rho, beta1, beta2: an average over
                                       about a million updates; at 1 the
                                       averages would never move */
#define MODEL_MIN_EPSILON 1e-30     /* a gradient whose square underflows
                                       (|g| < 1e-154) then moves a weight
                                       by less than 1e-120 */
#define MODEL_MAX_EPSILON 1.0       /* above the root of any useful second
                                       moment, epsilon would set the rate */
#define MODEL_MIN_FTRL_BETA 1e-6    /* keeps |w / alpha| <= |z| / beta
                                       finite in the ftrl z update */
#define MODEL_MAX_FTRL_BETA 1e6     /* beta / alpha above sqrt(n): every
                                       step would be tiny */

/* Every weight is clipped to [-MODEL_WEIGHT_LIMIT, MODEL_WEIGHT_LIMIT]
 * after each update and every optimizer-state value to
 * [0, MODEL_STATE_LIMIT] (or [-MODEL_STATE_LIMIT, MODEL_STATE_LIMIT] for
 * the signed values, see model_state_value()):
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

/* The update rules, with g the clipped gradient of one weight and lr the
 * learning rate; learner/model.c gives each in full. */
enum model_optimizer {
    MODEL_OPT_SGD = 0,        /* rate = lr / (1 + t)^power_t */
    MODEL_OPT_ADAGRAD = 1,    /* rate = lr / sqrt(sum of squared gradients) */
    MODEL_OPT_RMSPROP = 2,    /* rate = lr / (sqrt(mean square of g) + eps),
                                 the mean decaying by rho */
    MODEL_OPT_ADAM = 3,       /* bias-corrected moving averages of g and g^2
                                 (beta1, beta2, eps), global update count */
    MODEL_OPT_NORMALIZED = 4, /* AdaGrad divided by each feature's largest
                                 |value| seen, times sqrt(t / N): invariant
                                 to feature scale (Ross, Mineiro, Langford
                                 2013) */
    MODEL_OPT_FTRL = 5,       /* FTRL-Proximal with L1 and L2 (McMahan et
                                 al. 2013); lr is its alpha */
};

/* Optimizer-state values a model may keep per weight (see
 * model_state_value()). */
#define MODEL_MAX_STATE_ARRAYS 2

struct model_params {
    unsigned bits;        /* log2 of the weight count, 10..28 */
    enum model_loss loss;
    enum model_optimizer optimizer;
    double learning_rate; /* > 0, at most MODEL_MAX_LEARNING_RATE */
    double power_t;       /* SGD decay exponent, 0..MODEL_MAX_POWER_T */
    double l2;            /* L2 penalty per update, 0..MODEL_MAX_L2 */
    double gradient_clip; /* |per-feature gradient| cap, > 0, at most
                             MODEL_MAX_GRADIENT_CLIP */
    double l1;            /* ftrl only (0 for the others): L1 strength,
                             0..MODEL_MAX_L1 */
    double beta1;         /* adam: decay of the mean gradient,
                             0..MODEL_MAX_DECAY */
    double beta2;         /* adam: decay of the mean squared gradient,
                             0..MODEL_MAX_DECAY */
    double rho;           /* rmsprop: decay of the mean squared gradient,
                             0..MODEL_MAX_DECAY */
    double epsilon;       /* rmsprop, adam: added to the root of the mean
                             square, MODEL_MIN_EPSILON..MODEL_MAX_EPSILON */
    double ftrl_beta;     /* ftrl: the beta of its per-coordinate rate
                             alpha / (beta + sqrt(n)),
                             MODEL_MIN_FTRL_BETA..MODEL_MAX_FTRL_BETA */
};

/* The model-wide totals of the normalized optimizer (learner/model.c):
 * t, the examples learned, and N, the sum over them of each example's
 * squared norm in units of its features' scales, sum_i (x_i / s_i)^2,
 * the bias included. The step rate is lr * min(1, sqrt(t / N)). Both
 * stay zero under the other optimizers. */
struct model_norm_totals {
    uint64_t examples; /* t, at most MODEL_MAX_NORM_EXAMPLES */
    double norm_sum;   /* N: finite, >= 0 */
};

/* Where t stops counting: snapshots keep it as an Avro long, and one that
 * wrapped negative would be refused when read back. */
#define MODEL_MAX_NORM_EXAMPLES ((uint64_t)INT64_MAX)

struct feature {
    uint32_t index; /* already masked to the table size */
    float value;
};

struct model;

/* Fills params with riffle's defaults (bits 18, logistic, AdaGrad,
 * lr 0.5, power_t 0.5, l2 0, gradient_clip 100, l1 0, beta1 0.9,
 * beta2 0.999, rho 0.9, epsilon 1e-8, ftrl_beta 1). */
void model_params_default(struct model_params *params);

/* The optimizer's name as a configuration writes it ("adam"), or
 * "unknown"; a static string. */
const char *model_optimizer_name(enum model_optimizer opt);

/* Checks ranges, and that l1 is 0 unless the optimizer is ftrl (no other
 * one applies it). Returns 0, or RIFFLE_ERR_INVALID with errstr naming
 * the parameter, its value and the allowed range. Parameters an optimizer
 * does not read are still range-checked. */
int model_params_check(const struct model_params *params, char *errstr,
                       size_t errstr_size);

/* Allocates a zeroed model. Its table (2^bits slots of 4, 8 or 16
 * bytes: 1 + model_state_count() floats, rounded up to a power of two)
 * is committed now, every page faulted in, when it takes 16 MiB or
 * more, so its memory does not grow with the stream afterwards; a
 * smaller one is faulted in as it is used. Returns 0, RIFFLE_ERR_INVALID or
 * RIFFLE_ERR_NOMEM (also when the table cannot be committed). *out is
 * owned by the caller (model_destroy). */
int model_new(const struct model_params *params, struct model **out);
void model_destroy(struct model *m); /* NULL-safe */

const struct model_params *model_params_get(const struct model *m);

/* Starts loading, for writing, the slots of the n weight indices idx
 * (masked, as struct feature's): for an event to be learned later, so
 * that its cache misses overlap the work before it. Changes nothing. */
void model_prefetch(const struct model *m, const uint32_t *idx, size_t n);

/* Says the caller loads every example's slots with model_prefetch()
 * before it learns the example (train's look ahead at the next row).
 * From then on model_learn() sums w.x in the pass that checks an
 * example, whatever the table's size, instead of loading the slots in
 * that pass and summing in a second: the slots are on their way
 * already. The same sum in the same order, so the same results; it only
 * changes how many passes read the example. */
void model_slots_loaded_ahead(struct model *m);

/* Bytes of the weight table, its optimizer state included. */
size_t model_table_bytes(const struct model *m);

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

/* Reacts to a drift in the stream: multiplies the accumulated squared
 * gradients by factor in [0, 1), so the adaptive steps grow again (0
 * forgets them: each weight adapts as if new; 0.1 makes the steps about
 * 3x larger). Adam's first moments are cleared with them. Weights are
 * kept, and so are normalized's scales and totals: a drift changes what
 * the features predict, not how large they are. Returns 0, or
 * RIFFLE_ERR_INVALID for SGD and FTRL, whose state is not a step-size
 * history (FTRL's holds the weights themselves). */
int model_scale_step_history(struct model *m, double factor);

/* Number of successful model_learn() calls. */
uint64_t model_update_count(const struct model *m);

/* Number of weights, 2^bits. */
size_t model_weight_count(const struct model *m);

/* Weight i, for i < model_weight_count(). */
float model_weight(const struct model *m, size_t i);

/* The first index in [from, to) whose weight or any state value is not
 * +0 (its bits are not all zero), or `to` when there is none. Reads the
 * table directly: a snapshot asks it of every slot, and a call per value
 * cost a tenth of a learner's time at a snapshot every 10,000 events. */
size_t model_next_in_use(const struct model *m, size_t from, size_t to);

/* Every index in [from, to) that model_next_in_use() would find, in
 * order, written to idx (room for to - from); returns how many. */
size_t model_in_use(const struct model *m, size_t from, size_t to,
                    uint32_t *idx);

/* Slot i's weight, then its model_state_count() state values, into out
 * (room for 1 + MODEL_MAX_STATE_ARRAYS floats). */
void model_slot_values(const struct model *m, size_t i, float *out);

/* How many optimizer-state values this model's optimizer keeps per
 * weight: 0 (sgd), 1 (adagrad, rmsprop) or 2 (adam, normalized, ftrl). */
size_t model_state_count(const struct model *m);

/* The same for a model that model_new() would make from params, without
 * making it (and committing its table). */
size_t model_params_state_count(const struct model_params *params);

/* Optimizer-state value k of weight i, for k < MODEL_MAX_STATE_ARRAYS
 * and i < model_weight_count(); 0 when k >= model_state_count(). Value
 * 0 is never negative: the sum of squared gradients (adagrad,
 * normalized, ftrl's n) or their moving average (rmsprop, adam's v).
 * Value 1 is adam's mean gradient m and ftrl's z, both signed, or
 * normalized's largest |feature value| seen. */
float model_state_value(const struct model *m, size_t k, size_t i);

/* Copy every weight, or every state value k, into out (weight_count()
 * floats, owned by the caller), in index order: the arrays a snapshot
 * stores and model_restore_state() takes. The model keeps weights and
 * state interleaved (see learner/model.c), so there is no array to
 * borrow. */
void model_copy_weights(const struct model *m, float *out);
void model_copy_state(const struct model *m, size_t k, float *out);

/* Replaces the state from a snapshot. weights and each of the state_count
 * arrays in state hold weight_count() floats; state_count must lie
 * between model_state_count() and MODEL_MAX_STATE_ARRAYS. Returns 0 or
 * RIFFLE_ERR_SNAPSHOT (model unchanged) when an array is missing or holds
 * a value that is not finite, a weight beyond MODEL_WEIGHT_LIMIT, or a
 * state value beyond MODEL_STATE_LIMIT or negative where
 * model_state_value() says it cannot be (array 1 is signed unless the
 * optimizer is normalized). Arrays past model_state_count() are checked
 * but not copied, and their values read as 0: a plain SGD model takes an
 * AdaGrad snapshot's weights only. An ftrl model recomputes its weights
 * from z and n under its own parameters (the same weights when l1, l2,
 * learning_rate and ftrl_beta are unchanged). The arrays are borrowed
 * (copied); state may be NULL when state_count is 0. */
int model_restore_state(struct model *m, const float *weights,
                        const float *const *state, size_t state_count,
                        uint64_t update_count);

/* Copies m's normalized totals into *out (zero unless the optimizer is
 * normalized): with the weights and state arrays, all a snapshot needs
 * to resume the normalized optimizer exactly. */
void model_copy_norm_totals(const struct model *m,
                            struct model_norm_totals *out);

/* Replaces m's normalized totals, e.g. from a snapshot or a merge.
 * Returns 0, or RIFFLE_ERR_SNAPSHOT (m unchanged) when norm_sum is not
 * finite or is negative, or examples is above MODEL_MAX_NORM_EXAMPLES.
 * Models of the other optimizers keep zero totals: for them the call
 * only checks. totals is borrowed. */
int model_restore_norm_totals(struct model *m,
                              const struct model_norm_totals *totals);

#endif
