/*
 * learner/drift.h - concept-drift detectors over a stream of errors.
 *
 * Feed one number per event, typically the model's 0/1 mistake or its
 * loss on the event it has just scored (progressive validation), and the
 * detector says when the stream's mean has changed:
 *
 *   Page-Hinkley  detects an increase of the mean (the model got worse).
 *                 A cumulative sum of deviations from the running mean,
 *                 less a tolerance delta, compared with its minimum; an
 *                 alarm when the gap passes lambda. O(1) memory. The
 *                 detector resets itself after an alarm.
 *   ADWIN         keeps an adaptive window of the recent stream and drops
 *                 its older part whenever the two parts' means differ by
 *                 more than a Hoeffding-style bound at confidence delta
 *                 (Bifet and Gavalda, "Learning from time-changing data
 *                 with adaptive windowing", SDM 2007, ADWIN2). The window
 *                 is stored as an exponential histogram: at most
 *                 max_buckets buckets of each size 2^i, so memory is
 *                 O(max_buckets * log W) for a window of W elements.
 *                 Detects increases and decreases.
 *
 * Neither knows about models, Kafka or metrics: online.c decides what to
 * feed and what to do on an alarm. No allocation after drift_new().
 * Deterministic: the same input sequence gives the same alarms. Not
 * thread-safe; one learner thread owns a detector. Once per event:
 *
 *     if (drift_add(ol->drift, res->predicted_class != (int)res->label) == 1)
 *         ... log it, count it, or reset the model ...
 */
#ifndef RIFFLE_LEARNER_DRIFT_H
#define RIFFLE_LEARNER_DRIFT_H

#include <stddef.h>
#include <stdint.h>

enum drift_kind {
    DRIFT_PAGE_HINKLEY = 0,
    DRIFT_ADWIN = 1,
};

struct drift_ph_params {
    double delta;          /* increase of the mean tolerated, in units of
                              x; default 0.01 */
    double lambda;         /* alarm threshold on the cumulative sum, in
                              units of x; default 100 */
    double alpha;          /* fading factor of the sum, in (0, 1]; 1 is
                              the classic test; default 1 */
    uint32_t min_instances; /* no alarm before this many elements since
                              the last reset; default 30 */
};

struct drift_adwin_params {
    double delta;          /* confidence of each cut test: smaller means
                              fewer false alarms and later detection;
                              in (0, 1); default 0.002, the paper's */
    uint32_t max_buckets;  /* M, buckets kept per size before merging,
                              2..DRIFT_ADWIN_MAX_BUCKETS; default 5 */
    uint32_t clock;        /* look for a cut every this many elements,
                              >= 1; default 32 */
    uint32_t min_window;   /* least elements on either side of a cut,
                              >= 1; default 5 */
};

struct drift_params {
    struct drift_ph_params ph;       /* read for DRIFT_PAGE_HINKLEY */
    struct drift_adwin_params adwin; /* read for DRIFT_ADWIN */
};

#define DRIFT_ADWIN_MAX_BUCKETS 64 /* merging cost per element grows with
                                      M; beyond this buys nothing */

struct drift;

/* Fills params with the defaults above. With them, on the tests' streams
 * of 0/1 errors (tests/unit/test_drift.c): neither detector fires on
 * 100,000 events of a stationary error rate of 0.2, and both fire within
 * a few hundred events when the rate jumps from 0.1 to 0.5. The
 * Page-Hinkley defaults are stricter than the literature's (delta 0.005,
 * lambda 50), which raise a false alarm about every 60,000 events at a
 * rate of 0.2; see learner/drift.c. */
void drift_params_default(struct drift_params *params);

/* Checks the parameters of kind. Returns 0, or RIFFLE_ERR_INVALID with
 * errstr (may be NULL) naming the parameter, its value and the range. */
int drift_params_check(enum drift_kind kind, const struct drift_params *params,
                       char *errstr, size_t errstr_size);

/* Allocates an empty detector; params is copied and may be NULL for the
 * defaults. Returns 0, RIFFLE_ERR_INVALID or RIFFLE_ERR_NOMEM. *out is
 * owned by the caller (drift_destroy). */
int drift_new(enum drift_kind kind, const struct drift_params *params,
              struct drift **out);
void drift_destroy(struct drift *d); /* NULL-safe */

/* Adds one element. Returns 1 when a change is detected at this element,
 * 0 otherwise, or RIFFLE_ERR_INVALID when x is not finite (nothing is
 * added). Page-Hinkley restarts empty after an alarm; ADWIN has already
 * dropped the older part of its window. */
int drift_add(struct drift *d, double x);

/* Forgets every element; the parameters stay. */
void drift_reset(struct drift *d);

/* Mean of the elements the detector currently holds: since the last
 * reset or alarm for Page-Hinkley, over the window for ADWIN. 0 when
 * empty. */
double drift_estimate(const struct drift *d);

/* Elements the estimate covers (the ADWIN window length). */
uint64_t drift_width(const struct drift *d);

/* Alarms raised since drift_new() (drift_reset() keeps the count). */
uint64_t drift_detections(const struct drift *d);

/* Buckets the ADWIN histogram holds now (at most max_buckets for each
 * of about log2(width / max_buckets) + 1 sizes); 0 for Page-Hinkley. */
size_t drift_bucket_count(const struct drift *d);

enum drift_kind drift_get_kind(const struct drift *d);

#endif
