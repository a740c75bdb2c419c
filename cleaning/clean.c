/*
 * cleaning/clean.c - per-field cleaning rules, see clean.h.
 *
 * Field by field in configuration order: presence, type, range, length,
 * then the missing-value policy. The first rule an event breaks and
 * cannot repair ends the cleaning; later fields are not looked at.
 */
#include "cleaning/clean.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/numfmt.h"

#define CLEAN_KEY_MAX 32 /* "fields[127].name": a dotted key for messages */

struct cleaner {
    const struct cfg *cfg;
    struct running_stats *stats; /* borrowed, cfg->field_count entries */
    int schema_index[CFG_MAX_FIELDS];
    unsigned char imputed[CFG_MAX_FIELDS]; /* per event: value was made up */
    int label_optional;                    /* scoring: no label needed */
    struct clean_counts counts;
};

static int is_numeric_type(enum schema_field_type t)
{
    return t == SCHEMA_FIELD_DOUBLE || t == SCHEMA_FIELD_FLOAT ||
           t == SCHEMA_FIELD_LONG || t == SCHEMA_FIELD_INT ||
           t == SCHEMA_FIELD_BOOLEAN;
}

/* Finds configured field i in the schema, with a type its kind can
 * use; errors name the field's line in the configuration. */
static int map_field(const struct cfg *cfg, const struct schema *schema,
                     size_t i, int *index, char *errstr, size_t errstr_size)
{
    const struct cfg_field *f = &cfg->fields[i];
    char key[CLEAN_KEY_MAX];
    enum schema_field_type t;

    *index = schema_field_index(schema, f->name);
    if (*index < 0) {
        snprintf(key, sizeof(key), "fields[%zu].name", i);
        return cfg_error(cfg, f->line, key, errstr, errstr_size,
                         "field \"%s\" is not in schema %s", f->name,
                         schema_name(schema));
    }

    t = schema_field_type(schema, (size_t)*index);
    if (t == SCHEMA_FIELD_OTHER ||
        (f->kind == CFG_FIELD_NUMERIC && !is_numeric_type(t)) ||
        (f->kind == CFG_FIELD_ID && t != SCHEMA_FIELD_STRING)) {
        snprintf(key, sizeof(key), "fields[%zu].kind", i);
        return cfg_error(cfg, f->line, key, errstr, errstr_size,
                         "field \"%s\" has a type in %s that kind %s "
                         "cannot use", f->name, schema_name(schema),
                         f->kind == CFG_FIELD_ID ? "id (needs a string)"
                                                 : "numeric (needs a number)");
    }
    return 0;
}

int cleaner_new(const struct cfg *cfg, const struct schema *schema,
                struct running_stats *stats, struct cleaner **out,
                char *errstr, size_t errstr_size)
{
    struct cleaner *c;
    size_t i;
    int err = 0;

    if (!schema_is_flat(schema) ||
        schema_field_count(schema) > EVENT_MAX_FIELDS)
        return cfg_error(cfg, cfg->schema_line, "source.schema", errstr,
                         errstr_size, "schema %s must be a flat record of "
                         "at most %d primitive fields", schema_name(schema),
                         EVENT_MAX_FIELDS);

    c = calloc(1, sizeof(*c));
    if (!c)
        return RIFFLE_ERR_NOMEM;
    c->cfg = cfg;
    c->stats = stats;

    for (i = 0; i < cfg->field_count && !err; i++)
        err = map_field(cfg, schema, i, &c->schema_index[i], errstr,
                        errstr_size);
    if (err) {
        free(c);
        return err;
    }

    *out = c;
    return 0;
}

void cleaner_destroy(struct cleaner *c)
{
    free(c);
}

static int refuse(struct clean_verdict *v, const char *reason,
                  const struct cfg_field *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct clean_verdict *v, const char *reason,
                  const struct cfg_field *f, const char *fmt, ...)
{
    va_list ap;

    v->reason = reason;
    snprintf(v->field, sizeof(v->field), "%s", f->name);
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return RIFFLE_ERR_INVALID;
}

/* The value of a label as text: strings as they are, numbers printed the
 * shortest way that reads back exactly ("1", "0.5"). */
static const char *label_text(const struct event *ev, size_t index,
                              char *tmp, size_t tmp_size)
{
    if (ev->values[index].kind == VALUE_STRING)
        return event_string(ev, index);
    return numfmt_double(ev->values[index].number, tmp, tmp_size);
}

static int token_in(const char *s, char (*list)[CFG_NAME_MAX], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* The label becomes a number the model learns: 0/1 (binary), the class
 * index (multiclass), or the value itself (regression). */
static int clean_label(const struct cfg *cfg, const struct cfg_field *f,
                       const struct event *ev, size_t index, double *label,
                       struct clean_verdict *v)
{
    const struct value *val = &ev->values[index];
    char tmp[NUMFMT_MAX];
    const char *s;
    size_t k;

    if (val->kind == VALUE_NULL)
        return refuse(v, CLEAN_REASON_MISSING, f, "the label is missing");

    if (cfg->task == CFG_TASK_REGRESSION) {
        if (val->kind != VALUE_NUMBER || !isfinite(val->number))
            return refuse(v, CLEAN_REASON_LABEL, f,
                          "a regression label must be a finite number");
        *label = val->number;
        return 0;
    }

    s = label_text(ev, index, tmp, sizeof(tmp));
    if (cfg->task == CFG_TASK_MULTICLASS) {
        for (k = 0; k < cfg->class_count; k++) {
            if (strcmp(s, cfg->classes[k]) == 0) {
                *label = (double)k;
                return 0;
            }
        }
        return refuse(v, CLEAN_REASON_LABEL, f,
                      "label \"%.64s\" is not one of the configured "
                      "classes", s);
    }

    if (token_in(s, (char (*)[CFG_NAME_MAX])f->positive, f->positive_count)) {
        *label = 1.0;
        return 0;
    }
    if (f->negative_count == 0 ||
        token_in(s, (char (*)[CFG_NAME_MAX])f->negative, f->negative_count)) {
        *label = 0.0;
        return 0;
    }
    return refuse(v, CLEAN_REASON_LABEL, f,
                  "label \"%.64s\" is neither a positive nor a negative "
                  "value in the configuration", s);
}

/* Applies the missing-value policy to a null field. */
static int clean_missing(struct cleaner *c, size_t i, struct event *ev,
                         size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];

    if (f->required || f->missing == CFG_MISSING_REJECT)
        return refuse(v, CLEAN_REASON_MISSING, f, "the value is missing");

    c->imputed[i] = 1;

    switch (f->missing) {
    case CFG_MISSING_MEAN:
        event_set_number(ev, index, c->stats[i].mean); /* 0 before data */
        c->counts.imputed++;
        break;
    case CFG_MISSING_ZERO:
        event_set_number(ev, index, 0.0);
        c->counts.imputed++;
        break;
    case CFG_MISSING_CONSTANT:
        event_set_number(ev, index, f->missing_value);
        c->counts.imputed++;
        break;
    default:
        break; /* skip and token: features handle the null */
    }
    return 0;
}

static int clean_number(struct cleaner *c, size_t i, struct event *ev,
                        size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    double x = ev->values[index].number;
    int personal = f->privacy != CFG_PRIVACY_NONE;
    int below, above;

    if (!isfinite(x))
        return refuse(v, CLEAN_REASON_VALUE, f, "the value is not finite");

    below = f->has_min && x < f->min;
    above = f->has_max && x > f->max;
    if (below || above) {
        if (f->on_range == CFG_RANGE_REJECT) {
            double lo = f->has_min ? f->min : -INFINITY;
            double hi = f->has_max ? f->max : INFINITY;

            if (personal)
                return refuse(v, CLEAN_REASON_RANGE, f,
                              "the value is outside [%g, %g]", lo, hi);
            return refuse(v, CLEAN_REASON_RANGE, f,
                          "%s = %.10g is outside [%g, %g]", f->name, x, lo,
                          hi);
        }
        if (f->on_range == CFG_RANGE_MISSING) {
            event_set_null(ev, index);
            return clean_missing(c, i, ev, index, v);
        }
        event_set_number(ev, index, below ? f->min : f->max);
        c->counts.clipped++;
    }
    return 0;
}

static int clean_field(struct cleaner *c, size_t i, struct event *ev,
                       double *label, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    size_t index = (size_t)c->schema_index[i];
    const struct value *val = &ev->values[index];

    switch (f->kind) {
    case CFG_FIELD_IGNORE:
        return 0;
    case CFG_FIELD_LABEL:
        if (c->label_optional && val->kind == VALUE_NULL) {
            *label = NAN;
            return 0;
        }
        return clean_label(c->cfg, f, ev, index, label, v);
    case CFG_FIELD_ID:
        if (val->kind != VALUE_STRING || val->str_len == 0)
            return refuse(v, CLEAN_REASON_MISSING, f,
                          "the event id is missing");
        if (val->str_len > CLEAN_MAX_ID_BYTES)
            return refuse(v, CLEAN_REASON_VALUE, f,
                          "the event id has %zu bytes; at most %d allowed",
                          val->str_len, CLEAN_MAX_ID_BYTES);
        return 0;
    default:
        break;
    }

    if (val->kind == VALUE_NULL)
        return clean_missing(c, i, ev, index, v);
    if (val->kind == VALUE_NUMBER)
        return clean_number(c, i, ev, index, v);
    if (f->max_length > 0 && val->str_len > f->max_length)
        return refuse(v, CLEAN_REASON_VALUE, f,
                      "%zu bytes, longer than max_length %zu", val->str_len,
                      f->max_length);
    return 0;
}

void cleaner_commit_stats(struct cleaner *c, const struct event *ev)
{
    size_t i;

    for (i = 0; i < c->cfg->field_count; i++) {
        const struct value *val = &ev->values[c->schema_index[i]];

        if (c->cfg->fields[i].kind == CFG_FIELD_NUMERIC && !c->imputed[i] &&
            val->kind == VALUE_NUMBER)
            stats_add(&c->stats[i], val->number);
    }
}

int cleaner_apply(struct cleaner *c, struct event *ev, double *label,
                  struct clean_verdict *verdict)
{
    size_t i;
    int err;

    memset(c->imputed, 0, c->cfg->field_count);
    for (i = 0; i < c->cfg->field_count; i++) {
        err = clean_field(c, i, ev, label, verdict);
        if (err) {
            c->counts.rejected++;
            return err;
        }
    }

    c->counts.passed++;
    return 0;
}

void cleaner_set_label_optional(struct cleaner *c, int optional)
{
    c->label_optional = optional;
}

const unsigned char *cleaner_imputed(const struct cleaner *c)
{
    return c->imputed;
}

const struct clean_counts *cleaner_counts(const struct cleaner *c)
{
    return &c->counts;
}

int cleaner_schema_index(const struct cleaner *c, size_t cfg_field)
{
    return c->schema_index[cfg_field];
}
