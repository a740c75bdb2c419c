/*
 * learner/features.c - hashed feature extraction, see features.h.
 */
#include "learner/features.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/numfmt.h"
#include "learner/hash.h"

#define FEATURES_STD_MIN 1e-9 /* below this a field is constant: no scaling */

struct feature_builder {
    const struct cfg *cfg;
    const struct running_stats *stats;
    uint32_t mask;
    int schema_index[CFG_MAX_FIELDS];
    uint32_t field_hash[CFG_MAX_FIELDS];   /* seed for the field's tokens */
    uint32_t missing_index[CFG_MAX_FIELDS]; /* the missing indicator */
};

int features_new(const struct cfg *cfg, const struct schema *schema,
                 const struct running_stats *stats,
                 struct feature_builder **out, char *errstr,
                 size_t errstr_size)
{
    struct feature_builder *fb = calloc(1, sizeof(*fb));
    size_t i;

    if (!fb)
        return RIFFLE_ERR_NOMEM;
    fb->cfg = cfg;
    fb->stats = stats;
    fb->mask = (uint32_t)((1ULL << cfg->model.bits) - 1);

    for (i = 0; i < cfg->field_count; i++) {
        const char *name = cfg->fields[i].name;

        fb->schema_index[i] = schema_field_index(schema, name);
        if (fb->schema_index[i] < 0) {
            snprintf(errstr, errstr_size,
                     "%s: field \"%s\" is not in schema %s", cfg->path, name,
                     schema_name(schema));
            free(fb);
            return RIFFLE_ERR_CFG;
        }
        fb->field_hash[i] = hash_string(name, cfg->hash_seed);
        fb->missing_index[i] =
            hash_string(FEATURES_MISSING_TOKEN, fb->field_hash[i]) &
            fb->mask;
    }

    *out = fb;
    return 0;
}

void features_destroy(struct feature_builder *fb)
{
    free(fb);
}

static double transform(const struct cfg_field *f,
                        const struct running_stats *s, double x)
{
    double sd;

    switch (f->transform) {
    case CFG_TRANSFORM_LOG1P:
        return x < 0 ? -log1p(-x) : log1p(x);
    case CFG_TRANSFORM_STANDARDIZE:
        sd = stats_stddev(s);
        if (sd < FEATURES_STD_MIN)
            return x - s->mean;
        return (x - s->mean) / sd;
    default:
        return x;
    }
}

/* Converting a double beyond float's range is undefined in C; such a
 * value becomes an infinity, which the model refuses and the learner
 * dead-letters. */
static float to_float(double x)
{
    if (x > FLT_MAX)
        return INFINITY;
    if (x < -FLT_MAX)
        return -INFINITY;
    return (float)x;
}

static size_t add_numeric(const struct feature_builder *fb, size_t i,
                          const struct value *v, int imputed,
                          struct feature *out)
{
    const struct cfg_field *f = &fb->cfg->fields[i];
    size_t n = 0;

    if (v->kind == VALUE_NUMBER) {
        out[n].index = fb->field_hash[i] & fb->mask;
        out[n].value = to_float(transform(f, &fb->stats[i], v->number));
        n++;
    }
    if ((v->kind != VALUE_NUMBER || imputed) && f->missing_indicator) {
        out[n].index = fb->missing_index[i];
        out[n].value = 1.0f;
        n++;
    }
    return n;
}

static size_t add_categorical(const struct feature_builder *fb, size_t i,
                              const struct event *ev, size_t index,
                              struct feature *out)
{
    const struct cfg_field *f = &fb->cfg->fields[i];
    const struct value *v = &ev->values[index];
    char number[64];
    const char *token;

    if (v->kind == VALUE_NULL) {
        if (f->missing != CFG_MISSING_TOKEN)
            return 0;
        out->index = fb->missing_index[i];
        out->value = 1.0f;
        return 1;
    }

    if (v->kind == VALUE_NUMBER) {
        token = numfmt_double(v->number, number, sizeof(number));
    } else {
        token = event_string(ev, index);
    }
    out->index = hash_string(token, fb->field_hash[i]) & fb->mask;
    out->value = 1.0f;
    return 1;
}

size_t features_build(const struct feature_builder *fb,
                      const struct event *ev, const unsigned char *imputed,
                      struct feature *out)
{
    size_t i, n = 0;

    for (i = 0; i < fb->cfg->field_count; i++) {
        const struct cfg_field *f = &fb->cfg->fields[i];
        size_t index = (size_t)fb->schema_index[i];

        /* A dropped field is gone for the model too, not a constant. */
        if (f->privacy == CFG_PRIVACY_DROP)
            continue;

        if (f->kind == CFG_FIELD_NUMERIC)
            n += add_numeric(fb, i, &ev->values[index],
                             imputed && imputed[i], out + n);
        else if (f->kind == CFG_FIELD_CATEGORICAL)
            n += add_categorical(fb, i, ev, index, out + n);
    }
    return n;
}
