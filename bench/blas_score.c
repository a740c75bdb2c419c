/*
 * bench/blas_score.c - is OpenBLAS worth it for scoring? Scores the same
 * events with a snapshot two ways and times only the scoring:
 *
 *   scalar  one sparse dot product per event, as riffle score does
 *           (model_predict over the event's hashed features);
 *   blas    mini-batches: the batch's distinct weight slots are gathered
 *           into a dense vector, the events into a dense batch x slots
 *           matrix, and cblas_sgemv computes every margin at once.
 *
 * Both must give the same probabilities (float rounding aside); the
 * faster one is what riffle keeps. Features are built once, before the
 * timing, with riffle's own cleaning, anonymization and feature code.
 *
 * Build and run (bench/run does not; see docs/BENCHMARKS.md):
 *   cc -O2 -I. $(pkg-config --cflags openblas) bench/blas_score.c \
 *      build/libriffle_core.a $(pkg-config --libs rdkafka avro-c \
 *      libconfig openblas libcrypto zlib) -lm -lpthread -o /tmp/blas_score
 *   build/riffle train -c config/elec2.cfg --snapshot /tmp/elec2.snap
 *   /tmp/blas_score config/elec2.cfg /tmp/elec2.snap data/elec2/electricity.csv.gz 256
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleaning/clean.h"
#include "common/err.h"
#include "learner/features.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "privacy/anonymize.h"
#include "producers/produce.h"

#define REPEATS 20 /* passes over the events, so timings are not tiny */

struct example {
    size_t n;
    struct feature *x;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double sigmoid(double m)
{
    return 1.0 / (1.0 + exp(-m));
}

/* Reads every row and keeps its features. */
static size_t load(const struct cfg *cfg, const struct schema *schema,
                   struct running_stats *stats, const char *path,
                   struct example **out)
{
    struct csv_options co = {cfg->csv_delimiter, cfg->csv_trim,
                             cfg->csv_skip_lines, cfg->csv_header};
    struct csv_reader *csv;
    struct produce_mapping map;
    struct cleaner *cl;
    struct anonymizer *an;
    struct feature_builder *fb;
    struct feature x[FEATURES_MAX];
    struct clean_verdict v;
    struct event ev;
    char err[512];
    size_t n = 0, cap = 1024;
    long row = 0;
    double label;

    event_init(&ev);
    *out = malloc(cap * sizeof(**out));
    if (csv_reader_open(path, &co, &csv, err, sizeof(err)) ||
        produce_map_columns(cfg, schema, csv, &map, err, sizeof(err)) ||
        cleaner_new(cfg, schema, stats, &cl, err, sizeof(err)) ||
        anonymizer_new(cfg, schema, &an, err, sizeof(err)) ||
        features_new(cfg, schema, stats, &fb, err, sizeof(err))) {
        fprintf(stderr, "blas_score: %s\n", err);
        exit(1);
    }
    while (csv_reader_next(csv, err, sizeof(err)) == 0) {
        row++;
        if (produce_row_to_event(cfg, schema, &map, csv, row, &ev, err,
                                 sizeof(err)) ||
            cleaner_apply(cl, &ev, &label, &v) || anonymizer_apply(an, &ev))
            continue;
        if (n == cap)
            *out = realloc(*out, (cap *= 2) * sizeof(**out));
        (*out)[n].n = features_build(fb, &ev, cleaner_imputed(cl), x);
        (*out)[n].x = malloc((*out)[n].n * sizeof(*x));
        memcpy((*out)[n].x, x, (*out)[n].n * sizeof(*x));
        n++;
    }
    csv_reader_close(csv);
    cleaner_destroy(cl);
    anonymizer_destroy(an);
    features_destroy(fb);
    event_free(&ev);
    return n;
}

static void score_scalar(const struct model *m, const struct example *e,
                         size_t n, double *p)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = model_predict(m, e[i].x, e[i].n);
}

/* One mini-batch: slots are numbered by first appearance in col[]. */
static void score_batch(const struct model *m, const struct example *e,
                        size_t n, double *p, int *col, uint32_t *slots,
                        float *w, float **X, size_t *X_cap, float *margin)
{
    size_t i, j, d = 0;
    float bias = model_weight(m, model_bias_index(m));

    for (i = 0; i < n; i++)
        for (j = 0; j < e[i].n; j++)
            if (col[e[i].x[j].index] < 0) {
                col[e[i].x[j].index] = (int)d;
                slots[d] = e[i].x[j].index;
                w[d++] = model_weight(m, e[i].x[j].index);
            }
    if (n * d > *X_cap) { /* dense batch x slots, grown as needed */
        *X_cap = n * d;
        *X = realloc(*X, *X_cap * sizeof(float));
        if (!*X)
            abort();
    }
    memset(*X, 0, n * d * sizeof(float));
    for (i = 0; i < n; i++)
        for (j = 0; j < e[i].n; j++)
            (*X)[i * d + (size_t)col[e[i].x[j].index]] += e[i].x[j].value;

    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0f, *X,
                (int)d, w, 1, 0.0f, margin, 1);
    for (i = 0; i < n; i++)
        p[i] = sigmoid((double)margin[i] + bias);
    for (j = 0; j < d; j++)
        col[slots[j]] = -1;
}

int main(int argc, char **argv)
{
    static struct cfg cfg;
    struct schema *schema, *snap_schema;
    struct online_learner *ol;
    struct snapshot_offset off[SNAPSHOT_MAX_OFFSETS];
    struct example *ex;
    char err[512], path[CFG_PATH_MAX];
    size_t n, n_off, batch, i, r, slots_max;
    double *pa, *pb, t0, ta, tb, maxdiff = 0;
    int *col;
    uint32_t *slots;
    float *w, *X = NULL, *margin;
    size_t X_cap = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: blas_score CFG SNAPSHOT CSV BATCH\n");
        return 2;
    }
    batch = (size_t)atol(argv[4]);
    if (cfg_load_file(&cfg, argv[1], err, sizeof(err)) ||
        schema_load_file(cfg.schema_path, &schema, err, sizeof(err)) ||
        online_new(&cfg, schema, &ol, err, sizeof(err))) {
        fprintf(stderr, "blas_score: %s\n", err);
        return 1;
    }
    cfg_output_schema_path(&cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    if (schema_load_file(path, &snap_schema, err, sizeof(err)) ||
        snapshot_load_file(snap_schema, ol, argv[2], off,
                           SNAPSHOT_MAX_OFFSETS, &n_off, NULL, err,
                           sizeof(err))) {
        fprintf(stderr, "blas_score: %s\n", err);
        return 1;
    }
    n = load(&cfg, schema, online_stats(ol), argv[3], &ex);

    pa = malloc(n * sizeof(double));
    pb = malloc(n * sizeof(double));
    slots_max = batch * FEATURES_MAX;
    col = malloc(model_weight_count(online_model(ol)) * sizeof(int));
    memset(col, 0xff, model_weight_count(online_model(ol)) * sizeof(int));
    slots = malloc(slots_max * sizeof(uint32_t));
    w = malloc(slots_max * sizeof(float));
    margin = malloc(batch * sizeof(float));

    t0 = now_s();
    for (r = 0; r < REPEATS; r++)
        score_scalar(online_model(ol), ex, n, pa);
    ta = now_s() - t0;

    t0 = now_s();
    for (r = 0; r < REPEATS; r++)
        for (i = 0; i < n; i += batch)
            score_batch(online_model(ol), ex + i,
                        n - i < batch ? n - i : batch, pb + i, col, slots,
                        w, &X, &X_cap, margin);
    tb = now_s() - t0;

    for (i = 0; i < n; i++)
        if (fabs(pa[i] - pb[i]) > maxdiff)
            maxdiff = fabs(pa[i] - pb[i]);
    printf("{\"events\":%zu,\"batch\":%zu,\"scalar_events_per_s\":%.0f,"
           "\"blas_events_per_s\":%.0f,\"blas_over_scalar\":%.3f,"
           "\"max_probability_difference\":%.2g}\n", n, batch,
           n * REPEATS / ta, n * REPEATS / tb, ta / tb, maxdiff);
    return 0;
}
