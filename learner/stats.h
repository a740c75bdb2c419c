/*
 * learner/stats.h - running mean and variance of one numeric field.
 *
 * Welford's update: numerically stable in one pass and O(1) memory, so
 * cleaning can impute a running mean and features can standardize without
 * keeping history. The counts go into snapshots so that a restored
 * learner imputes and scales exactly as before. Not thread-safe.
 */
#ifndef RIFFLE_LEARNER_STATS_H
#define RIFFLE_LEARNER_STATS_H

#include <stdint.h>

struct running_stats {
    uint64_t count;
    double mean;
    double m2; /* sum of squared deviations from the mean */
};

void stats_add(struct running_stats *s, double x);

/* Sample standard deviation; 0 with fewer than two values. */
double stats_stddev(const struct running_stats *s);

#endif
