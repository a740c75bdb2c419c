/*
 * learner/metrics.h - progressive validation metrics for binary labels.
 *
 * Each prediction is scored against its label before the model learns
 * from it, so the metrics measure how well the model does on events it
 * has not seen. Cumulative counters plus a sliding window over the last
 * METRICS_WINDOW events (a ring buffer; memory is fixed). Not
 * thread-safe.
 */
#ifndef RIFFLE_LEARNER_METRICS_H
#define RIFFLE_LEARNER_METRICS_H

#include <stdint.h>

#define METRICS_WINDOW 1000           /* events in the sliding window */
#define METRICS_PROB_EPSILON 1e-15    /* probability clip for logloss */

struct metrics_totals {
    uint64_t count;      /* events scored */
    uint64_t correct;    /* predicted class == label */
    uint64_t positives;  /* label == 1 */
    double logloss_sum;  /* sum of -log p(label) */
};

struct metrics {
    struct metrics_totals total;
    /* sliding window */
    double window_loss[METRICS_WINDOW];
    uint8_t window_correct[METRICS_WINDOW];
    uint32_t window_len;
    uint32_t window_next;
    double window_loss_sum;
    uint32_t window_correct_sum;
};

void metrics_init(struct metrics *m);

/* Records one prediction (probability of label 1, clipped into
 * [METRICS_PROB_EPSILON, 1 - METRICS_PROB_EPSILON] for the loss) and its
 * 0/1 label. The predicted class is 1 when probability >= 0.5. */
void metrics_add(struct metrics *m, double probability, int label);

double metrics_logloss(const struct metrics *m);  /* 0 when empty */
double metrics_accuracy(const struct metrics *m); /* 0 when empty */
double metrics_window_logloss(const struct metrics *m);
double metrics_window_accuracy(const struct metrics *m);

/* Majority-class accuracy so far: max(positives, negatives) / count. */
double metrics_majority_rate(const struct metrics *m);

/* Restores cumulative totals from a snapshot; the window starts empty. */
void metrics_restore(struct metrics *m, const struct metrics_totals *t);

#endif
