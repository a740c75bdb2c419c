/*
 * ops/histogram.c - fixed-bucket histograms, see histogram.h.
 */
#include "ops/histogram.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void histogram_init(struct histogram *h, const double *bounds, size_t n)
{
    assert(n <= HISTOGRAM_MAX_BUCKETS);
    memset(h, 0, sizeof(*h));
    memcpy(h->bounds, bounds, n * sizeof(*bounds));
    h->bucket_count = n;
}

void histogram_observe(struct histogram *h, double value)
{
    size_t i;

    if (!(value >= 0)) /* NaN too */
        value = 0;
    h->count++;
    h->sum += value;
    for (i = 0; i < h->bucket_count; i++) {
        if (value <= h->bounds[i]) {
            h->counts[i]++;
            return;
        }
    }
    h->overflow++;
}

uint64_t histogram_cumulative(const struct histogram *h, size_t i)
{
    uint64_t total = 0;
    size_t k;

    for (k = 0; k <= i && k < h->bucket_count; k++)
        total += h->counts[k];
    return total;
}

double histogram_quantile(const struct histogram *h, double q)
{
    double need = ceil(q * (double)h->count);
    uint64_t seen = 0;
    size_t i;

    if (h->count == 0)
        return NAN;
    if (need < 1)
        need = 1;
    for (i = 0; i < h->bucket_count; i++) {
        seen += h->counts[i];
        if ((double)seen >= need)
            return h->bounds[i];
    }
    return INFINITY;
}
