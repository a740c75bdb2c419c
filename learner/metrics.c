/*
 * learner/metrics.c - progressive validation metrics for binary labels.
 *
 * Scores each prediction against its label (log loss and accuracy) into
 * cumulative totals and a ring buffer over the last METRICS_WINDOW
 * events. Memory is fixed: the struct is the whole state. Does not decide
 * when to log or publish metrics, and knows nothing of the model. Not
 * thread-safe; the learner thread that owns the model owns its metrics.
 */
#include "learner/metrics.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define METRICS_CLASS_THRESHOLD 0.5 /* probability at which class 1 wins */

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
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

/* Adding and subtracting the same values leaves rounding residue that
 * grows with the event count; summing the ring again once per lap keeps
 * the error to one window's worth, for O(1) amortised cost. */
static void window_resum(struct metrics *m)
{
    double sum = 0.0;
    uint32_t i;

    for (i = 0; i < m->window_len; i++)
        sum += m->window_loss[i];
    m->window_loss_sum = sum;
}

static void window_push(struct metrics *m, double loss, uint8_t correct)
{
    uint32_t at = m->window_next;

    if (m->window_len == METRICS_WINDOW) {
        m->window_loss_sum -= m->window_loss[at];
        m->window_correct_sum -= m->window_correct[at];
    } else {
        m->window_len++;
    }
    m->window_loss[at] = loss;
    m->window_correct[at] = correct;
    m->window_loss_sum += loss;
    m->window_correct_sum += correct;

    m->window_next = (at + 1) % METRICS_WINDOW;
    if (m->window_next == 0)
        window_resum(m);
}

/* A label other than 0 or 1 is a caller's bug: asserted in debug builds,
 * counted as 1 in release builds. */
void metrics_add(struct metrics *m, double probability, int label)
{
    int y = label != 0;
    double p = probability_clip(probability);
    double loss = y ? -log(p) : -log(1.0 - p);
    int predicted = probability >= METRICS_CLASS_THRESHOLD;
    uint8_t correct = predicted == y;

    assert(label == 0 || label == 1);

    m->total.count++;
    m->total.correct += correct;
    m->total.positives += (uint64_t)y;
    m->total.logloss_sum += loss;
    window_push(m, loss, correct);
}

double metrics_logloss(const struct metrics *m)
{
    if (m->total.count == 0)
        return 0.0;
    return m->total.logloss_sum / (double)m->total.count;
}

double metrics_accuracy(const struct metrics *m)
{
    if (m->total.count == 0)
        return 0.0;
    return (double)m->total.correct / (double)m->total.count;
}

double metrics_window_logloss(const struct metrics *m)
{
    if (m->window_len == 0)
        return 0.0;
    return m->window_loss_sum / (double)m->window_len;
}

double metrics_window_accuracy(const struct metrics *m)
{
    if (m->window_len == 0)
        return 0.0;
    return (double)m->window_correct_sum / (double)m->window_len;
}

double metrics_majority_rate(const struct metrics *m)
{
    uint64_t negatives;
    uint64_t majority;

    if (m->total.count == 0)
        return 0.0;
    negatives = m->total.count - m->total.positives;
    majority = m->total.positives > negatives ? m->total.positives
                                              : negatives;
    return (double)majority / (double)m->total.count;
}

void metrics_restore(struct metrics *m, const struct metrics_totals *t)
{
    metrics_init(m);
    m->total = *t;
}
