/*
 * learner/metrics.c - progressive validation metrics, see metrics.h.
 *
 * Scores each prediction against its label into cumulative totals and a
 * ring buffer over the last METRICS_WINDOW events. Every windowed metric
 * is a running sum over the ring: an event's contribution is added when
 * it enters and subtracted when it is pushed out, including its AUC
 * histogram bin, so reading any metric costs O(1), or O(METRICS_AUC_BINS)
 * for AUC, and adding costs O(1). Memory is fixed: the struct is the
 * whole state. Does not decide when to log or publish metrics, and knows
 * nothing of the model. Not thread-safe; the learner thread that owns the
 * model owns its metrics.
 */
#include "learner/metrics.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "common/err.h"

#define METRICS_CLASS_THRESHOLD 0.5 /* probability at which class 1 wins */

/* What one window slot holds, beside its loss and |error|. */
#define METRICS_F_CORRECT 0x01   /* predicted class == label */
#define METRICS_F_LABEL 0x02     /* binary: label 1 */
#define METRICS_F_PREDICTED 0x04 /* binary: predicted 1 */
#define METRICS_F_LOSS 0x08      /* window_loss is a log loss to count */
#define METRICS_F_BINARY 0x10    /* window_bin is this event's AUC bin */

_Static_assert(METRICS_AUC_BINS <= UINT16_MAX + 1,
               "window_bin must hold every AUC bin");
_Static_assert(METRICS_AUC_BINS % 2 == 0,
               "0.5 must be a bin edge so no bin holds both classes");

/* One event as the window sees it. */
struct window_event {
    double loss; /* log loss, or squared error for regression */
    double abs;  /* |error| for regression, else 0 */
    uint16_t bin;
    uint8_t flags;
};

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

/* The first event fixes the task; a later event of another task is a
 * caller's bug. */
static void task_claim(struct metrics *m, enum metrics_task task)
{
    assert(m->total.task == METRICS_TASK_NONE || m->total.task == task);
    m->total.task = (uint32_t)task;
}

static double probability_clip(double p)
{
    /* NaN fails both tests and would stay NaN; score it as the worst
     * clipped probability rather than poison every later average. */
    if (isnan(p))
        return METRICS_PROB_EPSILON;
    if (p < METRICS_PROB_EPSILON)
        return METRICS_PROB_EPSILON;
    if (p > 1.0 - METRICS_PROB_EPSILON)
        return 1.0 - METRICS_PROB_EPSILON;
    return p;
}

unsigned metrics_auc_bin(double probability)
{
    double scaled;

    if (!(probability > 0.0)) /* also NaN */
        return 0;
    if (probability >= 1.0)
        return METRICS_AUC_BINS - 1;
    scaled = probability * METRICS_AUC_BINS;
    /* Rounding may carry a probability just below 1 up to the bin
     * count itself. */
    if (scaled >= METRICS_AUC_BINS)
        return METRICS_AUC_BINS - 1;
    return (unsigned)scaled;
}

/* ---- the window ----------------------------------------------------- */

/* Adding and subtracting the same values leaves rounding residue that
 * grows with the event count; summing the ring again once per lap keeps
 * the error to one window's worth, for O(1) amortised cost. */
static void window_resum(struct metrics *m)
{
    double loss = 0.0, abs_sum = 0.0;
    uint32_t i;

    for (i = 0; i < m->window_len; i++) {
        loss += m->window_loss[i];
        abs_sum += m->window_abs[i];
    }
    m->window_loss_sum = loss;
    m->window_abs_sum = abs_sum;
}

/* Adds (sign 1) or removes (sign -1) one slot's counts. Unsigned
 * wrap-around makes the subtraction exact. */
/* Inlined into window_push() with sign a constant, so that each
 * counter's update is a plain add or subtract: it runs twice an event. */
static inline __attribute__((always_inline)) void
window_count(struct metrics *m, uint32_t at, uint32_t sign)
{
    uint8_t f = m->window_flags[at];

    m->window_correct_sum += sign * !!(f & METRICS_F_CORRECT);
    m->window_loss_count += sign * !!(f & METRICS_F_LOSS);
    m->window_positives += sign * !!(f & METRICS_F_LABEL);
    m->window_predicted_positives += sign * !!(f & METRICS_F_PREDICTED);
    m->window_true_positives +=
        sign * ((f & METRICS_F_LABEL) && (f & METRICS_F_PREDICTED));
    if (f & METRICS_F_BINARY) {
        if (f & METRICS_F_LABEL)
            m->window_auc_positives[m->window_bin[at]] += sign;
        else
            m->window_auc_negatives[m->window_bin[at]] += sign;
    }
}

static void window_push(struct metrics *m, const struct window_event *ev)
{
    uint32_t at = m->window_next;

    if (m->window_len == METRICS_WINDOW) {
        m->window_loss_sum -= m->window_loss[at];
        m->window_abs_sum -= m->window_abs[at];
        window_count(m, at, (uint32_t)-1);
    } else {
        m->window_len++;
    }
    m->window_loss[at] = ev->loss;
    m->window_abs[at] = ev->abs;
    m->window_bin[at] = ev->bin;
    m->window_flags[at] = ev->flags;
    m->window_loss_sum += ev->loss;
    m->window_abs_sum += ev->abs;
    window_count(m, at, 1);

    m->window_next = (at + 1) % METRICS_WINDOW;
    if (m->window_next == 0)
        window_resum(m);
}

/* ---- adding events -------------------------------------------------- */

/* A label other than 0 or 1 is a caller's bug: asserted in debug builds,
 * counted as 1 in release builds. */
void metrics_add(struct metrics *m, double probability, int label)
{
    int y = label != 0;
    double p = probability_clip(probability);
    int predicted = probability >= METRICS_CLASS_THRESHOLD;
    unsigned bin = metrics_auc_bin(probability);
    struct window_event ev = {0};

    assert(label == 0 || label == 1);
    task_claim(m, METRICS_TASK_BINARY);

    ev.loss = y ? -log(p) : -log(1.0 - p);
    ev.bin = (uint16_t)bin;
    ev.flags = METRICS_F_LOSS | METRICS_F_BINARY;
    if (predicted == y)
        ev.flags |= METRICS_F_CORRECT;
    if (y)
        ev.flags |= METRICS_F_LABEL;
    if (predicted)
        ev.flags |= METRICS_F_PREDICTED;

    m->total.count++;
    m->total.loss_count++;
    m->total.correct += predicted == y;
    m->total.positives += (uint64_t)y;
    m->total.predicted_positives += (uint64_t)predicted;
    m->total.true_positives += (uint64_t)(predicted && y);
    m->total.logloss_sum += ev.loss;
    if (y)
        m->total.auc_positives[bin]++;
    else
        m->total.auc_negatives[bin]++;
    window_push(m, &ev);
}

int metrics_add_regression(struct metrics *m, double prediction,
                           double target)
{
    double error = prediction - target;
    struct window_event ev = {0};

    /* Finite inputs can still overflow into an infinite error. */
    if (!isfinite(error) || !isfinite(error * error))
        return RIFFLE_ERR_INVALID;
    task_claim(m, METRICS_TASK_REGRESSION);

    ev.loss = error * error;
    ev.abs = fabs(error);
    m->total.count++;
    m->total.squared_error_sum += ev.loss;
    m->total.abs_error_sum += ev.abs;
    window_push(m, &ev);
    return 0;
}

static void add_class(struct metrics *m, int predicted_class, int true_class,
                      int has_loss, double loss)
{
    struct window_event ev = {0};

    task_claim(m, METRICS_TASK_MULTICLASS);

    ev.loss = loss;
    if (predicted_class == true_class)
        ev.flags |= METRICS_F_CORRECT;
    if (has_loss)
        ev.flags |= METRICS_F_LOSS;

    m->total.count++;
    m->total.correct += predicted_class == true_class;
    m->total.loss_count += (uint64_t)has_loss;
    m->total.logloss_sum += loss;
    window_push(m, &ev);
}

void metrics_add_class(struct metrics *m, int predicted_class,
                       int true_class)
{
    add_class(m, predicted_class, true_class, 0, 0.0);
}

void metrics_add_class_probability(struct metrics *m, int predicted_class,
                                   int true_class, double p_true)
{
    add_class(m, predicted_class, true_class, 1,
              -log(probability_clip(p_true)));
}

/* ---- reading: loss and accuracy ------------------------------------- */

static double ratio(double num, double den)
{
    if (den == 0.0)
        return 0.0;
    return num / den;
}

double metrics_logloss(const struct metrics *m)
{
    return ratio(m->total.logloss_sum, (double)m->total.loss_count);
}

double metrics_accuracy(const struct metrics *m)
{
    if (m->total.task == METRICS_TASK_REGRESSION)
        return 0.0;
    return ratio((double)m->total.correct, (double)m->total.count);
}

double metrics_window_logloss(const struct metrics *m)
{
    return ratio(m->window_loss_sum, (double)m->window_loss_count);
}

double metrics_window_accuracy(const struct metrics *m)
{
    return ratio((double)m->window_correct_sum, (double)m->window_len);
}

double metrics_majority_rate(const struct metrics *m)
{
    uint64_t negatives;
    uint64_t majority;

    if (m->total.count == 0 || m->total.task != METRICS_TASK_BINARY)
        return 0.0;
    negatives = m->total.count - m->total.positives;
    majority = m->total.positives > negatives ? m->total.positives
                                              : negatives;
    return (double)majority / (double)m->total.count;
}

/* ---- reading: AUC --------------------------------------------------- */

/* Positive-negative pairs met while walking the bins upwards. */
struct auc_pairs {
    double ordered; /* positive in a higher bin than the negative */
    double tied;    /* both in the same bin */
    double pos;     /* positives so far */
    double neg;     /* negatives so far */
};

static void auc_pairs_add_bin(struct auc_pairs *a, double pos, double neg)
{
    a->ordered += pos * a->neg;
    a->tied += pos * neg;
    a->pos += pos;
    a->neg += neg;
}

static struct auc_pairs total_pairs(const struct metrics *m)
{
    struct auc_pairs a = {0};
    unsigned b;

    for (b = 0; b < METRICS_AUC_BINS; b++)
        auc_pairs_add_bin(&a, (double)m->total.auc_positives[b],
                          (double)m->total.auc_negatives[b]);
    return a;
}

static struct auc_pairs window_pairs(const struct metrics *m)
{
    struct auc_pairs a = {0};
    unsigned b;

    for (b = 0; b < METRICS_AUC_BINS; b++)
        auc_pairs_add_bin(&a, (double)m->window_auc_positives[b],
                          (double)m->window_auc_negatives[b]);
    return a;
}

static double auc_value(const struct auc_pairs *a)
{
    if (a->pos == 0.0 || a->neg == 0.0)
        return NAN;
    return (a->ordered + 0.5 * a->tied) / (a->pos * a->neg);
}

static double auc_bound(const struct auc_pairs *a)
{
    if (a->pos == 0.0 || a->neg == 0.0)
        return NAN;
    return 0.5 * a->tied / (a->pos * a->neg);
}

double metrics_auc(const struct metrics *m)
{
    struct auc_pairs a = total_pairs(m);

    return auc_value(&a);
}

double metrics_auc_error_bound(const struct metrics *m)
{
    struct auc_pairs a = total_pairs(m);

    return auc_bound(&a);
}

double metrics_window_auc(const struct metrics *m)
{
    struct auc_pairs a = window_pairs(m);

    return auc_value(&a);
}

double metrics_window_auc_error_bound(const struct metrics *m)
{
    struct auc_pairs a = window_pairs(m);

    return auc_bound(&a);
}

/* ---- reading: precision, recall, F1 --------------------------------- */

/* F1 = 2PR / (P + R) = 2 TP / (predicted positives + positives), which
 * needs no special case when P or R is 0 but not both. */
static double f1(double tp, double predicted, double positives)
{
    return ratio(2.0 * tp, predicted + positives);
}

double metrics_precision(const struct metrics *m)
{
    return ratio((double)m->total.true_positives,
                 (double)m->total.predicted_positives);
}

double metrics_recall(const struct metrics *m)
{
    return ratio((double)m->total.true_positives,
                 (double)m->total.positives);
}

double metrics_f1(const struct metrics *m)
{
    return f1((double)m->total.true_positives,
              (double)m->total.predicted_positives,
              (double)m->total.positives);
}

double metrics_window_precision(const struct metrics *m)
{
    return ratio(m->window_true_positives, m->window_predicted_positives);
}

double metrics_window_recall(const struct metrics *m)
{
    return ratio(m->window_true_positives, m->window_positives);
}

double metrics_window_f1(const struct metrics *m)
{
    return f1(m->window_true_positives, m->window_predicted_positives,
              m->window_positives);
}

/* ---- reading: regression -------------------------------------------- */

double metrics_rmse(const struct metrics *m)
{
    return sqrt(ratio(m->total.squared_error_sum, (double)m->total.count));
}

double metrics_mae(const struct metrics *m)
{
    return ratio(m->total.abs_error_sum, (double)m->total.count);
}

double metrics_window_rmse(const struct metrics *m)
{
    if (m->total.task != METRICS_TASK_REGRESSION)
        return 0.0;
    return sqrt(ratio(m->window_loss_sum, m->window_len));
}

double metrics_window_mae(const struct metrics *m)
{
    return ratio(m->window_abs_sum, m->window_len);
}

void metrics_restore(struct metrics *m, const struct metrics_totals *t)
{
    metrics_init(m);
    m->total = *t;
    /* A block from a snapshot made before the task field existed holds
     * binary totals in its first four fields only. */
    if (t->task == METRICS_TASK_NONE && t->count > 0) {
        m->total.task = METRICS_TASK_BINARY;
        m->total.loss_count = t->count;
    }
}
