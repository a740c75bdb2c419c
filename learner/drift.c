/*
 * learner/drift.c - Page-Hinkley and ADWIN drift detectors, see drift.h.
 *
 * Page-Hinkley keeps the running mean x_bar of the elements since the
 * last reset and the cumulative sum m_t = alpha * m_(t-1) + (x_t - x_bar_t
 * - delta); it raises an alarm when m_t - min(m) > lambda. On a
 * stationary stream of variance s^2, m_t drifts down by delta per element
 * and its climbs above the minimum are a reflected random walk, whose
 * mean time to exceed lambda (the average run length to a false alarm)
 * is about s^2 / (2 delta^2) * (e^k - 1 - k) with k = 2 delta lambda /
 * s^2. For 0/1 errors at rate 0.2 (s^2 = 0.16) the literature's defaults
 * (delta 0.005, lambda 50, k = 3.1) give about 60,000 elements, so a
 * week of traffic would be full of false alarms; riffle's (delta 0.01,
 * lambda 100, k = 12.5) give about 2e8. After an increase of the mean by
 * d, m_t climbs by about d - delta per element, so the alarm comes
 * roughly lambda / (d - delta) elements later: 256 for 0.1 -> 0.5. The
 * fading factor alpha defaults to 1 (the classic test) because with
 * alpha < 1 the sum settles near -delta / (1 - alpha) and its noise,
 * not the change, decides when the gap reaches lambda.
 *
 * ADWIN2 (Bifet and Gavalda 2007) keeps the window as an exponential
 * histogram. Row r holds up to max_buckets buckets of 2^r elements each,
 * oldest first; each bucket stores the sum of its elements and the sum of
 * their squared deviations from its own mean, so the window's mean and
 * variance follow exactly. When a row fills to max_buckets + 1, its two
 * oldest buckets merge into one bucket of the next row (newer than all
 * that row already holds). Every clock elements the window is split at
 * each bucket boundary into an older part W0 (n0 elements, mean u0) and
 * a newer part W1 (n1, u1); the older part is dropped, one bucket at a
 * time, while some split has
 *   |u0 - u1| > sqrt(2 m v dd) + 2/3 m dd,
 *   m = 1/(n0 - min_window + 1) + 1/(n1 - min_window + 1),
 *   dd = ln(2 ln(n) / delta), v = window variance, n = n0 + n1,
 * the bound of the paper's section 3 as implemented in MOA and river.
 * Cut points are bucket boundaries, so a change is located to within one
 * bucket: the price of O(log W) memory.
 */
#include "learner/drift.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Defaults promised in drift.h; why these values is explained above. */
#define DRIFT_PH_DEFAULT_DELTA 0.01
#define DRIFT_PH_DEFAULT_LAMBDA 100.0
#define DRIFT_PH_DEFAULT_ALPHA 1.0
#define DRIFT_PH_DEFAULT_MIN_INSTANCES 30
#define DRIFT_ADWIN_DEFAULT_DELTA 0.002 /* the paper's and MOA's value */
#define DRIFT_ADWIN_DEFAULT_MAX_BUCKETS 5
#define DRIFT_ADWIN_DEFAULT_CLOCK 32
#define DRIFT_ADWIN_DEFAULT_MIN_WINDOW 5

/* Row r holds buckets of 2^r elements: 64 rows cover any uint64 width. */
#define ADWIN_ROWS 64

struct page_hinkley {
    uint64_t n;     /* elements since the last reset */
    double mean;    /* their running mean */
    double sum;     /* the faded cumulative sum m_t */
    double min_sum; /* min of m_t since the last reset */
};

struct adwin {
    uint32_t slots;      /* buckets a row can hold: max_buckets + 1 */
    uint32_t rows;       /* rows in use; rows above are empty */
    uint32_t count[ADWIN_ROWS]; /* buckets in each row */
    double *total;       /* [ADWIN_ROWS * slots] sums, oldest first */
    double *variance;    /* same layout: squared deviations per bucket */
    uint64_t width;      /* elements in the window */
    double sum;          /* their sum */
    double m2;           /* their squared deviations from the mean */
    uint64_t tick;       /* elements added since the last reset */
};

struct drift {
    enum drift_kind kind;
    struct drift_params params;
    uint64_t detections;
    union {
        struct page_hinkley ph;
        struct adwin adwin;
    } u;
};

void drift_params_default(struct drift_params *params)
{
    memset(params, 0, sizeof(*params));
    params->ph.delta = DRIFT_PH_DEFAULT_DELTA;
    params->ph.lambda = DRIFT_PH_DEFAULT_LAMBDA;
    params->ph.alpha = DRIFT_PH_DEFAULT_ALPHA;
    params->ph.min_instances = DRIFT_PH_DEFAULT_MIN_INSTANCES;
    params->adwin.delta = DRIFT_ADWIN_DEFAULT_DELTA;
    params->adwin.max_buckets = DRIFT_ADWIN_DEFAULT_MAX_BUCKETS;
    params->adwin.clock = DRIFT_ADWIN_DEFAULT_CLOCK;
    params->adwin.min_window = DRIFT_ADWIN_DEFAULT_MIN_WINDOW;
}

static int ph_params_check(const struct drift_ph_params *p, char *errstr,
                           size_t errstr_size)
{
    const char *name;
    const char *range;
    double value;

    if (!(p->delta >= 0.0 && isfinite(p->delta))) {
        name = "delta";
        value = p->delta;
        range = "a finite value >= 0";
    } else if (!(p->lambda > 0.0 && isfinite(p->lambda))) {
        name = "lambda";
        value = p->lambda;
        range = "a finite value > 0";
    } else if (!(p->alpha > 0.0 && p->alpha <= 1.0)) {
        name = "alpha";
        value = p->alpha;
        range = "a value in (0, 1]";
    } else {
        return 0;
    }

    if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "page-hinkley %s = %g: expected %s", name, value, range);
    return RIFFLE_ERR_INVALID;
}

static int adwin_params_check(const struct drift_adwin_params *p,
                              char *errstr, size_t errstr_size)
{
    if (!(p->delta > 0.0 && p->delta < 1.0)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "adwin delta = %g: expected a value in (0, 1)",
                     p->delta);
        return RIFFLE_ERR_INVALID;
    }
    if (p->max_buckets < 2 || p->max_buckets > DRIFT_ADWIN_MAX_BUCKETS) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "adwin max_buckets = %u: expected an integer from 2 "
                     "to %d", p->max_buckets, DRIFT_ADWIN_MAX_BUCKETS);
        return RIFFLE_ERR_INVALID;
    }
    if (p->clock < 1 || p->min_window < 1) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "adwin clock = %u, min_window = %u: expected both "
                     ">= 1", p->clock, p->min_window);
        return RIFFLE_ERR_INVALID;
    }
    return 0;
}

int drift_params_check(enum drift_kind kind, const struct drift_params *params,
                       char *errstr, size_t errstr_size)
{
    switch (kind) {
    case DRIFT_PAGE_HINKLEY:
        return ph_params_check(&params->ph, errstr, errstr_size);
    case DRIFT_ADWIN:
        return adwin_params_check(&params->adwin, errstr, errstr_size);
    }
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "drift kind = %d: expected %d (page-hinkley) or %d (adwin)",
                 (int)kind, DRIFT_PAGE_HINKLEY, DRIFT_ADWIN);
    return RIFFLE_ERR_INVALID;
}

int drift_new(enum drift_kind kind, const struct drift_params *params,
              struct drift **out)
{
    struct drift_params defaults;
    struct drift *d;
    size_t cells;

    if (!params) {
        drift_params_default(&defaults);
        params = &defaults;
    }
    if (drift_params_check(kind, params, NULL, 0) != 0)
        return RIFFLE_ERR_INVALID;

    d = calloc(1, sizeof(*d));
    if (!d)
        return RIFFLE_ERR_NOMEM;
    d->kind = kind;
    d->params = *params;
    if (kind == DRIFT_ADWIN) {
        d->u.adwin.slots = params->adwin.max_buckets + 1;
        cells = (size_t)ADWIN_ROWS * d->u.adwin.slots;
        d->u.adwin.total = calloc(cells, sizeof(double));
        d->u.adwin.variance = calloc(cells, sizeof(double));
        if (!d->u.adwin.total || !d->u.adwin.variance) {
            drift_destroy(d);
            return RIFFLE_ERR_NOMEM;
        }
    }
    drift_reset(d);

    *out = d;
    return 0;
}

void drift_destroy(struct drift *d)
{
    if (!d)
        return;
    if (d->kind == DRIFT_ADWIN) {
        free(d->u.adwin.total);
        free(d->u.adwin.variance);
    }
    free(d);
}

/* ---- Page-Hinkley --------------------------------------------------- */

static void ph_reset(struct page_hinkley *ph)
{
    memset(ph, 0, sizeof(*ph));
}

static int ph_add(struct page_hinkley *ph, const struct drift_ph_params *p,
                  double x)
{
    ph->n++;
    ph->mean += (x - ph->mean) / (double)ph->n;
    ph->sum = p->alpha * ph->sum + (x - ph->mean - p->delta);
    if (ph->n == 1 || ph->sum < ph->min_sum)
        ph->min_sum = ph->sum;

    if (ph->n < p->min_instances || ph->sum - ph->min_sum <= p->lambda)
        return 0;
    ph_reset(ph);
    return 1;
}

/* ---- ADWIN: the exponential histogram ------------------------------- */

static double *cell(double *base, const struct adwin *a, uint32_t row,
                    uint32_t k)
{
    return base + (size_t)row * a->slots + k;
}

static void adwin_reset(struct adwin *a)
{
    size_t cells = (size_t)ADWIN_ROWS * a->slots;

    memset(a->count, 0, sizeof(a->count));
    memset(a->total, 0, cells * sizeof(double));
    memset(a->variance, 0, cells * sizeof(double));
    a->rows = 0;
    a->width = 0;
    a->sum = 0.0;
    a->m2 = 0.0;
    a->tick = 0;
}

/* Appends a bucket as the newest of row. The caller keeps the row below
 * max_buckets + 1 by compressing. */
static void row_append(struct adwin *a, uint32_t row, double total,
                       double variance)
{
    uint32_t k = a->count[row];

    assert(k < a->slots);
    *cell(a->total, a, row, k) = total;
    *cell(a->variance, a, row, k) = variance;
    a->count[row] = k + 1;
    if (row + 1 > a->rows)
        a->rows = row + 1;
}

/* Removes the n oldest buckets of row, shifting the rest down. */
static void row_drop_oldest(struct adwin *a, uint32_t row, uint32_t n)
{
    uint32_t left = a->count[row] - n;

    double *total = cell(a->total, a, row, 0);
    double *variance = cell(a->variance, a, row, 0);
    uint32_t k;

    assert(n <= a->count[row]);

    /* A row holds at most max_buckets + 1 doubles: a plain loop costs
     * less than two memmove() calls, and this runs every other event. */
    for (k = 0; k < left; k++) {
        total[k] = total[k + n];
        variance[k] = variance[k + n];
    }
    a->count[row] = left;
    while (a->rows > 0 && a->count[a->rows - 1] == 0)
        a->rows--;
}

/* Merges the two oldest buckets of each full row into the next row, from
 * row 0 up, until no row holds more than max_buckets. */
static void adwin_compress(struct adwin *a)
{
    /* 2^row and 2^-row, both exact: t / size and t * inverse are the same
     * double (one rounding of the same real), but a multiplication does
     * not wait on the divider. */
    double size = 1.0, inverse = 1.0;
    uint32_t row;

    for (row = 0; row + 1 < ADWIN_ROWS && a->count[row] == a->slots;
         row++, size *= 2.0, inverse *= 0.5) {
        double t0 = *cell(a->total, a, row, 0);
        double t1 = *cell(a->total, a, row, 1);
        double v0 = *cell(a->variance, a, row, 0);
        double v1 = *cell(a->variance, a, row, 1);
        double gap = t0 * inverse - t1 * inverse;

        /* Parallel variance: two halves of size s each add s/2 * gap^2. */
        row_append(a, row + 1, t0 + t1, v0 + v1 + size / 2.0 * gap * gap);
        row_drop_oldest(a, row, 2);
    }
}

static void adwin_insert(struct adwin *a, double x)
{
    if (a->width > 0) {
        double gap = x - a->sum / (double)a->width;

        a->m2 += (double)a->width * gap * gap / (double)(a->width + 1);
    }
    a->width++;
    a->sum += x;
    row_append(a, 0, x, 0.0);
    adwin_compress(a);
}

/* Drops the oldest bucket of the window; returns its element count. */
static uint64_t adwin_drop_oldest(struct adwin *a)
{
    uint32_t row = a->rows - 1;
    uint64_t n = (uint64_t)1 << row;
    double total = *cell(a->total, a, row, 0);
    double variance = *cell(a->variance, a, row, 0);

    a->width -= n;
    a->sum -= total;
    if (a->width == 0) {
        a->sum = 0.0;
        a->m2 = 0.0;
    } else {
        double gap = total / (double)n - a->sum / (double)a->width;

        a->m2 -= variance + (double)n * (double)a->width * gap * gap /
                                (double)(n + a->width);
        /* Subtraction may leave rounding below zero. */
        if (a->m2 < 0.0)
            a->m2 = 0.0;
    }
    row_drop_oldest(a, row, 1);
    return n;
}

/* ---- ADWIN: the cut test -------------------------------------------- */

/* What the cut bound takes from the whole window: the same for every
 * split of one pass, so computed once per pass, not once per split (the
 * two logarithms were most of ADWIN's cost). */
struct cut_terms {
    double dd; /* ln(2 ln(n) / delta) */
    double v;  /* the window's variance */
};

static void cut_terms_of(const struct adwin *a,
                         const struct drift_adwin_params *p,
                         struct cut_terms *t)
{
    double n = (double)a->width;

    t->dd = log(2.0 * log(n) / p->delta);
    t->v = a->m2 / n;
}

static int cut_expression(const struct cut_terms *t,
                          const struct drift_adwin_params *p, uint64_t n0,
                          uint64_t n1, double gap)
{
    double m = 1.0 / (double)(n0 - p->min_window + 1) +
               1.0 / (double)(n1 - p->min_window + 1);
    double linear = 2.0 / 3.0 * t->dd * m;

    /* The square root is at least 0, so the rounded bound is at least
     * linear: a gap within linear is within the bound, with no root. */
    if (fabs(gap) <= linear)
        return 0;
    return fabs(gap) > sqrt(2.0 * m * t->v * t->dd) + linear;
}

/* Walks the bucket boundaries from the oldest; returns 1 at the first
 * split whose two parts' means differ by more than the bound. */
static int adwin_find_cut(const struct adwin *a,
                          const struct drift_adwin_params *p)
{
    uint64_t n0 = 0, n1 = a->width;
    double u0 = 0.0, u1 = a->sum;
    struct cut_terms terms;
    uint32_t row, k;

    cut_terms_of(a, p, &terms);
    for (row = a->rows; row-- > 0;) {
        uint64_t size = (uint64_t)1 << row;

        for (k = 0; k < a->count[row]; k++) {
            double t = *cell(a->total, a, row, k);

            n0 += size;
            n1 -= size;
            u0 += t;
            u1 -= t;
            if (n1 == 0)
                return 0;
            if (n0 >= p->min_window && n1 >= p->min_window &&
                cut_expression(&terms, p, n0, n1,
                               u0 / (double)n0 - u1 / (double)n1))
                return 1;
        }
    }
    return 0;
}

static int adwin_add(struct adwin *a, const struct drift_adwin_params *p,
                     double x)
{
    int detected = 0;

    a->tick++;
    adwin_insert(a, x);
    if (a->tick % p->clock != 0 || a->width < 2u * p->min_window)
        return 0;

    /* Shrink from the old end while any split shows a change; each pass
     * re-reads the shorter window's variance and bound. */
    while (a->width >= 2u * p->min_window && adwin_find_cut(a, p)) {
        adwin_drop_oldest(a);
        detected = 1;
    }
    return detected;
}

/* ---- the common interface ------------------------------------------- */

int drift_add(struct drift *d, double x)
{
    int detected;

    if (!isfinite(x))
        return RIFFLE_ERR_INVALID;

    if (d->kind == DRIFT_PAGE_HINKLEY)
        detected = ph_add(&d->u.ph, &d->params.ph, x);
    else
        detected = adwin_add(&d->u.adwin, &d->params.adwin, x);
    d->detections += (uint64_t)detected;
    return detected;
}

void drift_reset(struct drift *d)
{
    if (d->kind == DRIFT_PAGE_HINKLEY)
        ph_reset(&d->u.ph);
    else
        adwin_reset(&d->u.adwin);
}

double drift_estimate(const struct drift *d)
{
    if (d->kind == DRIFT_PAGE_HINKLEY)
        return d->u.ph.mean;
    if (d->u.adwin.width == 0)
        return 0.0;
    return d->u.adwin.sum / (double)d->u.adwin.width;
}

uint64_t drift_width(const struct drift *d)
{
    if (d->kind == DRIFT_PAGE_HINKLEY)
        return d->u.ph.n;
    return d->u.adwin.width;
}

uint64_t drift_detections(const struct drift *d)
{
    return d->detections;
}

size_t drift_bucket_count(const struct drift *d)
{
    size_t n = 0;
    uint32_t row;

    if (d->kind != DRIFT_ADWIN)
        return 0;
    for (row = 0; row < d->u.adwin.rows; row++)
        n += d->u.adwin.count[row];
    return n;
}

enum drift_kind drift_get_kind(const struct drift *d)
{
    return d->kind;
}
