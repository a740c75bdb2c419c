/*
 * learner/stats.c - Welford running statistics, see stats.h.
 */
#include "learner/stats.h"

#include <math.h>

void stats_add(struct running_stats *s, double x)
{
    double delta = x - s->mean;

    s->count++;
    s->mean += delta / (double)s->count;
    s->m2 += delta * (x - s->mean);
}

double stats_stddev(const struct running_stats *s)
{
    if (s->count < 2)
        return 0.0;
    return sqrt(s->m2 / (double)(s->count - 1));
}
