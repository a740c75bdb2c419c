/*
 * cleaning/sketch.h - a bounded quantile sketch of one numeric field.
 *
 * Cleaning needs running medians and quartiles (median imputation, the
 * robust MAD and IQR outlier rules) over an unbounded stream in fixed
 * memory. This is a log-bucket sketch in the manner of DDSketch (Masson,
 * Rim, Lee 2019): a value x lands in bucket ceil(log_gamma |x|), and
 * every quantile it returns is within SKETCH_RELATIVE_ACCURACY of the
 * exact value of the same rank, relative to that value (the smallest and
 * the largest exactly). Positive and
 * negative values have their own buckets; magnitudes below
 * SKETCH_MIN_MAGNITUDE count as zero. Each sign keeps at most
 * SKETCH_BUCKETS buckets; when a stream spans more, the buckets of the
 * smallest magnitudes are merged, so only values within a factor of
 * about 1.02^SKETCH_BUCKETS (1e17) of the largest magnitude keep the
 * guarantee. Deterministic, O(1) per value, no allocation after new.
 * Not thread-safe.
 */
#ifndef RIFFLE_CLEANING_SKETCH_H
#define RIFFLE_CLEANING_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SKETCH_RELATIVE_ACCURACY 0.01 /* 1%: tighter than any cleaning
                                          threshold needs */
#define SKETCH_BUCKETS 2048   /* per sign: 16 KiB of counts */
#define SKETCH_MIN_MAGNITUDE 1e-9 /* |x| below this is counted as 0 */

struct sketch;

/* Returns 0 or RIFFLE_ERR_NOMEM. The caller owns *out. */
int sketch_new(struct sketch **out);

void sketch_destroy(struct sketch *s); /* NULL-safe */

/* Adds a finite value; NaN and infinities are ignored (cleaning refuses
 * them before they get here). */
void sketch_add(struct sketch *s, double x);

/* Values added so far. */
uint64_t sketch_count(const struct sketch *s);

/* The q-quantile, q in [0, 1]: the value of rank floor(q * (n - 1)) in
 * sorted order, within the relative accuracy, and never outside the
 * smallest and largest values added, which q = 0 and 1 return exactly.
 * NaN when the sketch is empty. */
double sketch_quantile(const struct sketch *s, double q);

/* Appends the whole state of s to out, for the model snapshot (see
 * sketch.c for the layout). Returns 0 or RIFFLE_ERR_NOMEM. */
int sketch_save(const struct sketch *s, struct buf *out);

/* Replaces the state of s by the len bytes of data (borrowed) written by
 * sketch_save(). Returns 0, or RIFFLE_ERR_SNAPSHOT when data is short,
 * long, of another accuracy or inconsistent (counts that do not add up,
 * buckets out of the window); s is then unchanged. */
int sketch_load(struct sketch *s, const void *data, size_t len);

#endif
