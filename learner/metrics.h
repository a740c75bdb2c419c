/*
 * learner/metrics.h - progressive validation metrics.
 *
 * Each prediction is scored against its label before the model learns
 * from it, so the metrics measure how well the model does on events it
 * has not seen. Cumulative totals plus a sliding window over the last
 * METRICS_WINDOW events (a ring buffer). Memory is fixed: the struct is
 * the whole state and nothing is allocated per event. Not thread-safe.
 *
 * One struct serves one task, set by the first event added:
 *   binary      metrics_add(): log loss, accuracy, majority rate, AUC,
 *               and precision, recall and F1 of class 1 at 0.5;
 *   regression  metrics_add_regression(): RMSE and MAE;
 *   multiclass  metrics_add_class() / metrics_add_class_probability():
 *               accuracy, and log loss of the true class's probability.
 * Mixing tasks in one struct is a caller's bug (asserted in debug
 * builds); the readers of another task then return 0.
 *
 * AUC is a bounded-memory estimate. Scores are counted into
 * METRICS_AUC_BINS equal bins over [0, 1], one histogram for positives
 * and one for negatives, and AUC is read from them with every
 * positive-negative pair in the same bin counted as a tie (1/2). Pairs in
 * different bins are ordered exactly as their scores are; a pair in the
 * same bin truly contributes 0, 1/2 or 1. Hence, with P positives, N
 * negatives and S = sum over bins of pos[b] * neg[b] same-bin pairs,
 *
 *     |AUC estimate - exact AUC| <= S / (2 P N),
 *
 * which metrics_auc_error_bound() returns from the counts. The bin width
 * w = 1 / METRICS_AUC_BINS sets it: if neither class's scores have a
 * density above L (per unit of score), S / (P N) <= L w, so the error is
 * at most L w / 2 = L / 2000 (0.0005 for uniform scores). Scores piled
 * into one bin (a model that answers 0.999 to most events) widen it,
 * and the function says so. The exact AUC counts equal scores as ties.
 */
#ifndef RIFFLE_LEARNER_METRICS_H
#define RIFFLE_LEARNER_METRICS_H

#include <stdint.h>

#define METRICS_WINDOW 1000           /* events in the sliding window */
#define METRICS_PROB_EPSILON 1e-15    /* probability clip for logloss */
#define METRICS_AUC_BINS 1000         /* score bins of width 0.001; even,
                                         so 0.5 is a bin edge */

enum metrics_task {
    METRICS_TASK_NONE = 0, /* nothing added yet */
    METRICS_TASK_BINARY = 1,
    METRICS_TASK_REGRESSION = 2,
    METRICS_TASK_MULTICLASS = 3,
};

/*
 * The whole cumulative state: persisting every field and handing it back
 * to metrics_restore() gives back every cumulative metric exactly (the
 * window restarts empty). The first four fields are what snapshots held
 * before the task, AUC, precision/recall and regression fields existed;
 * metrics_restore() reads a block with only those (task NONE, count > 0)
 * as binary, so old snapshots restore as before. learner/snapshot.c
 * persists every field, so a restored learner's metrics continue exactly.
 */
struct metrics_totals {
    uint64_t count;      /* events scored */
    uint64_t correct;    /* predicted class == label (binary, multiclass) */
    uint64_t positives;  /* label == 1 (binary) */
    double logloss_sum;  /* sum of -log p(label) (binary, multiclass) */

    uint32_t task;                /* enum metrics_task */
    uint64_t loss_count;          /* events whose log loss is summed */
    uint64_t predicted_positives; /* binary: probability >= 0.5 */
    uint64_t true_positives;      /* binary: ... and label 1 */
    double squared_error_sum;     /* regression */
    double abs_error_sum;         /* regression */
    uint64_t auc_positives[METRICS_AUC_BINS]; /* binary, by score bin */
    uint64_t auc_negatives[METRICS_AUC_BINS];
};

struct metrics {
    struct metrics_totals total;
    /* sliding window: one slot per event, oldest at window_next once
     * full */
    double window_loss[METRICS_WINDOW]; /* log loss, or squared error */
    double window_abs[METRICS_WINDOW];  /* regression: |error| */
    uint16_t window_bin[METRICS_WINDOW]; /* binary: AUC score bin */
    uint8_t window_flags[METRICS_WINDOW]; /* METRICS_F_* in metrics.c */
    uint32_t window_len;
    uint32_t window_next;
    double window_loss_sum;
    double window_abs_sum;
    uint32_t window_loss_count;
    uint32_t window_correct_sum;
    uint32_t window_positives;
    uint32_t window_predicted_positives;
    uint32_t window_true_positives;
    uint32_t window_auc_positives[METRICS_AUC_BINS];
    uint32_t window_auc_negatives[METRICS_AUC_BINS];
};

void metrics_init(struct metrics *m);

/* Binary. Records one prediction (probability of label 1, clipped into
 * [METRICS_PROB_EPSILON, 1 - METRICS_PROB_EPSILON] for the loss) and its
 * 0/1 label. The predicted class is 1 when probability >= 0.5. A NaN
 * probability predicts 0, costs the clipped worst loss and falls in the
 * lowest AUC bin. */
void metrics_add(struct metrics *m, double probability, int label);

/* Regression. Records one prediction and its target. Returns 0, or
 * RIFFLE_ERR_INVALID when either is not finite (nothing recorded). */
int metrics_add_regression(struct metrics *m, double prediction,
                           double target);

/* Multiclass. Records the predicted and the true class (any ints,
 * compared for equality); accuracy only. */
void metrics_add_class(struct metrics *m, int predicted_class,
                       int true_class);

/* Multiclass with a probability: also adds -log of p_true, the
 * probability the model gave the true class (clipped like metrics_add()).
 * Log loss averages over the events that carried one. */
void metrics_add_class_probability(struct metrics *m, int predicted_class,
                                   int true_class, double p_true);

/* Each reader returns 0 when it has no events of its kind, except the
 * AUC readers, which return NaN until both classes have been seen (AUC is
 * undefined then). "window_" readers cover the last METRICS_WINDOW
 * events. */
double metrics_logloss(const struct metrics *m);
double metrics_accuracy(const struct metrics *m);
double metrics_window_logloss(const struct metrics *m);
double metrics_window_accuracy(const struct metrics *m);

/* Majority-class accuracy so far: max(positives, negatives) / count.
 * Binary only. */
double metrics_majority_rate(const struct metrics *m);

/* Binary: AUC estimate and its error bound (see the top of this file). */
double metrics_auc(const struct metrics *m);
double metrics_auc_error_bound(const struct metrics *m);
double metrics_window_auc(const struct metrics *m);
double metrics_window_auc_error_bound(const struct metrics *m);

/* Binary, class 1 at threshold 0.5. Precision is 0 with no predicted
 * positives, recall 0 with no positives, F1 0 when both are 0. */
double metrics_precision(const struct metrics *m);
double metrics_recall(const struct metrics *m);
double metrics_f1(const struct metrics *m);
double metrics_window_precision(const struct metrics *m);
double metrics_window_recall(const struct metrics *m);
double metrics_window_f1(const struct metrics *m);

/* Regression. */
double metrics_rmse(const struct metrics *m);
double metrics_mae(const struct metrics *m);
double metrics_window_rmse(const struct metrics *m);
double metrics_window_mae(const struct metrics *m);

/* The AUC bin of a probability: floor(p * METRICS_AUC_BINS), clipped to
 * the bins; NaN goes to bin 0. Exposed for tests. */
unsigned metrics_auc_bin(double probability);

/* Restores cumulative totals from a snapshot (t is copied); the window
 * starts empty. */
void metrics_restore(struct metrics *m, const struct metrics_totals *t);

#endif
