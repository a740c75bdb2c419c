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
#include "common/wire.h"

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

/* --- saved state ------------------------------------------------------
 * Little-endian: f64 gamma, u64 count, u64 zeros, f64 min, f64 max, then
 * for the positive and the negative store: u8 used, u64 base, u64 top
 * (two's complement), u32 n and n (u32 bucket, u64 count) pairs for the
 * non-empty buckets in increasing order. Most buckets are empty, so a
 * sketch of a typical field is a few hundred bytes, not 32 KiB. */

static int store_save(const struct store *st, struct buf *out)
{
    uint32_t n = 0, i;
    int err;

    for (i = 0; i < SKETCH_BUCKETS; i++)
        n += st->counts[i] != 0;
    err = wire_put_u8(out, (uint8_t)st->used) ||
          wire_put_u64(out, (uint64_t)st->base) ||
          wire_put_u64(out, (uint64_t)st->top) || wire_put_u32(out, n);
    for (i = 0; !err && i < SKETCH_BUCKETS; i++)
        if (st->counts[i] != 0)
            err = wire_put_u32(out, i) || wire_put_u64(out, st->counts[i]);
    return err ? RIFFLE_ERR_NOMEM : 0;
}

int sketch_save(const struct sketch *s, struct buf *out)
{
    if (wire_put_f64(out, s->gamma) || wire_put_u64(out, s->count) ||
        wire_put_u64(out, s->zeros) || wire_put_f64(out, s->min) ||
        wire_put_f64(out, s->max))
        return RIFFLE_ERR_NOMEM;
    if (store_save(&s->pos, out) || store_save(&s->neg, out))
        return RIFFLE_ERR_NOMEM;
    return 0;
}

/* Reads one store; its total into *sum. 0, or -1 when inconsistent. */
static int store_load(struct wire_reader *r, struct store *st, uint64_t *sum)
{
    uint32_t n, i, bucket;
    int64_t last = -1;

    memset(st, 0, sizeof(*st));
    st->used = wire_get_u8(r);
    st->base = (int64_t)wire_get_u64(r);
    st->top = (int64_t)wire_get_u64(r);
    n = wire_get_u32(r);
    if (r->failed || st->used > 1 || n > SKETCH_BUCKETS ||
        (st->used && (st->top < st->base ||
                      st->top - st->base >= SKETCH_BUCKETS)) ||
        (!st->used && n > 0))
        return -1;

    *sum = 0;
    for (i = 0; i < n; i++) {
        bucket = wire_get_u32(r);
        if (r->failed || bucket >= SKETCH_BUCKETS || (int64_t)bucket <= last)
            return -1;
        st->counts[bucket] = wire_get_u64(r);
        if (st->counts[bucket] == 0 || *sum + st->counts[bucket] < *sum)
            return -1;
        *sum += st->counts[bucket];
        last = bucket;
    }
    return 0;
}

int sketch_load(struct sketch *s, const void *data, size_t len)
{
    struct sketch *tmp = malloc(sizeof(*tmp));
    struct wire_reader r;
    uint64_t pos = 0, neg = 0;
    int ok;

    if (!tmp)
        return RIFFLE_ERR_NOMEM;
    wire_reader_init(&r, data, len);
    *tmp = *s;
    ok = wire_get_f64(&r) == s->gamma;
    tmp->count = wire_get_u64(&r);
    tmp->zeros = wire_get_u64(&r);
    tmp->min = wire_get_f64(&r);
    tmp->max = wire_get_f64(&r);
    ok = ok && store_load(&r, &tmp->pos, &pos) == 0 &&
         store_load(&r, &tmp->neg, &neg) == 0 && wire_reader_done(&r);

    /* The counts must add up, or quantile() would walk off the end. */
    ok = ok && tmp->zeros <= tmp->count && pos <= tmp->count - tmp->zeros &&
         neg == tmp->count - tmp->zeros - pos;
    ok = ok && (tmp->count == 0 || (isfinite(tmp->min) &&
                                    isfinite(tmp->max) &&
                                    tmp->min <= tmp->max));
    if (ok)
        *s = *tmp;
    free(tmp);
    return ok ? 0 : RIFFLE_ERR_SNAPSHOT;
}
