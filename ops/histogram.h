/*
 * ops/histogram.h - fixed-bucket latency histograms, Prometheus style.
 *
 * Cumulative counts per upper bound plus the sum and the count, which is
 * exactly what a Prometheus histogram exposes; memory is the struct, and
 * observing is a short scan of at most HISTOGRAM_MAX_BUCKETS bounds. Not
 * thread-safe: the learner thread observes, and hands copies (plain
 * structs) to the exporter.
 */
#ifndef RIFFLE_OPS_HISTOGRAM_H
#define RIFFLE_OPS_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_BUCKETS 16

struct histogram {
    size_t bucket_count;                    /* bounds in use */
    double bounds[HISTOGRAM_MAX_BUCKETS];   /* upper bounds, increasing */
    uint64_t counts[HISTOGRAM_MAX_BUCKETS]; /* observations <= bound,
                                               not cumulative */
    uint64_t overflow;                      /* above the last bound */
    uint64_t count;
    double sum;
};

/* Initializes h with n increasing upper bounds (n <= the maximum;
 * asserted). */
void histogram_init(struct histogram *h, const double *bounds, size_t n);

/* Records one value. NaN and negative values count into the first
 * bucket (a clock step backwards must not be lost or crash). */
void histogram_observe(struct histogram *h, double value);

/* Observations <= bounds[i], cumulative as Prometheus's le buckets. */
uint64_t histogram_cumulative(const struct histogram *h, size_t i);

/* The value below which fraction q (0..1) of observations fall, taken as
 * the upper bound of the bucket that reaches it; +Inf in the overflow
 * bucket; NaN with no observations. */
double histogram_quantile(const struct histogram *h, double q);

#endif
