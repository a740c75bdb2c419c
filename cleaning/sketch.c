/*
 * cleaning/sketch.c - log-bucket quantile sketch, see sketch.h.
 *
 * Each sign has a window of SKETCH_BUCKETS consecutive bucket indexes
 * starting at base. A value below the window moves it down when the
 * window can still hold the largest bucket in use, and otherwise falls
 * into the lowest bucket; a value above moves the window up and merges
 * what falls out at the bottom into the new lowest bucket. Small
 * magnitudes lose precision first: they matter least to a relative
 * error, and a field whose values span 17 orders of magnitude is rare.
 */
#include "cleaning/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct store {
    int used;       /* any value yet */
    int64_t base;   /* bucket index of counts[0] */
    int64_t top;    /* highest index with a count */
    uint64_t counts[SKETCH_BUCKETS];
};

struct sketch {
    double gamma;
    double log_gamma;
    struct store pos, neg; /* neg holds |x| of negative values */
    uint64_t zeros;
    uint64_t count;
    double min, max;
};

int sketch_new(struct sketch **out)
{
    struct sketch *s = calloc(1, sizeof(*s));

    if (!s)
        return RIFFLE_ERR_NOMEM;
    s->gamma = (1.0 + SKETCH_RELATIVE_ACCURACY) /
               (1.0 - SKETCH_RELATIVE_ACCURACY);
    s->log_gamma = log(s->gamma);
    *out = s;
    return 0;
}

void sketch_destroy(struct sketch *s)
{
    free(s);
}

/* Moves the window up so that k is its highest index, merging the
 * buckets that fall below into the new lowest one. */
static void store_raise(struct store *st, int64_t k)
{
    int64_t new_base = k - SKETCH_BUCKETS + 1;
    int64_t shift = new_base - st->base;
    uint64_t merged = 0;
    int64_t i;

    if (shift >= SKETCH_BUCKETS) {
        for (i = 0; i < SKETCH_BUCKETS; i++)
            merged += st->counts[i];
        memset(st->counts, 0, sizeof(st->counts));
    } else {
        for (i = 0; i <= shift; i++)
            merged += st->counts[i];
        memmove(st->counts, st->counts + shift,
                (size_t)(SKETCH_BUCKETS - shift) * sizeof(st->counts[0]));
        memset(st->counts + SKETCH_BUCKETS - shift, 0,
               (size_t)shift * sizeof(st->counts[0]));
    }
    st->counts[0] = merged;
    st->base = new_base;
}

/* Moves the window down so that k is its lowest index; the caller has
 * checked that top still fits. */
static void store_lower(struct store *st, int64_t k)
{
    int64_t shift = st->base - k;

    memmove(st->counts + shift, st->counts,
            (size_t)(SKETCH_BUCKETS - shift) * sizeof(st->counts[0]));
    memset(st->counts, 0, (size_t)shift * sizeof(st->counts[0]));
    st->base = k;
}

static void store_add(struct store *st, int64_t k)
{
    if (!st->used) {
        st->used = 1;
        st->base = k - SKETCH_BUCKETS / 2; /* room on both sides */
        st->top = k;
    }

    if (k >= st->base + SKETCH_BUCKETS)
        store_raise(st, k);
    else if (k < st->base && st->top - k < SKETCH_BUCKETS)
        store_lower(st, k);
    else if (k < st->base)
        k = st->base; /* too small to keep apart: lowest bucket */

    if (k > st->top)
        st->top = k;
    st->counts[k - st->base]++;
}

void sketch_add(struct sketch *s, double x)
{
    double m = fabs(x);

    if (!isfinite(x))
        return;

    if (s->count == 0 || x < s->min)
        s->min = x;
    if (s->count == 0 || x > s->max)
        s->max = x;
    s->count++;

    if (m < SKETCH_MIN_MAGNITUDE) {
        s->zeros++;
        return;
    }
    store_add(x > 0 ? &s->pos : &s->neg,
              (int64_t)ceil(log(m) / s->log_gamma));
}

uint64_t sketch_count(const struct sketch *s)
{
    return s->count;
}

/* The representative of bucket k, (gamma^(k-1), gamma^k]: the point
 * whose relative distance to both ends is the accuracy. */
static double bucket_value(const struct sketch *s, int64_t k)
{
    return 2.0 * pow(s->gamma, (double)k) / (s->gamma + 1.0);
}

static double clamp(const struct sketch *s, double v)
{
    return v < s->min ? s->min : v > s->max ? s->max : v;
}

double sketch_quantile(const struct sketch *s, double q)
{
    uint64_t rank, seen = 0;
    int64_t i;

    if (s->count == 0)
        return NAN;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    rank = (uint64_t)floor(q * (double)(s->count - 1));
    if (rank == 0)
        return s->min; /* the extremes are known exactly */
    if (rank == s->count - 1)
        return s->max;

    /* Sorted order: negatives by falling magnitude, zeros, positives. */
    for (i = SKETCH_BUCKETS - 1; s->neg.used && i >= 0; i--) {
        seen += s->neg.counts[i];
        if (seen > rank)
            return clamp(s, -bucket_value(s, s->neg.base + i));
    }
    seen += s->zeros;
    if (seen > rank)
        return clamp(s, 0.0);
    for (i = 0; s->pos.used && i < SKETCH_BUCKETS; i++) {
        seen += s->pos.counts[i];
        if (seen > rank)
            return clamp(s, bucket_value(s, s->pos.base + i));
    }
    return s->max; /* not reached: the counts add up to count */
}
