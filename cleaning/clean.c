/*
 * cleaning/clean.c - per-field cleaning rules, see clean.h.
 *
 * Field by field in configuration order: presence, type, range, outlier
 * rule, then for categories length, pattern and allowed values, and the
 * missing-value policy for whatever is (or became) missing. The first
 * rule an event breaks and cannot repair ends the cleaning; later fields
 * are not looked at. Medians, quartiles and modes come from bounded
 * summaries (sketch.c, topk.c) fed only with learned events.
 */
#include "cleaning/clean.h"

#include <float.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleaning/sketch.h"
#include "cleaning/topk.h"
#include "common/err.h"
#include "common/numfmt.h"
#include "schemas/schema.h"

#define CLEAN_KEY_MAX 32 /* "fields[127].name": a dotted key for messages */
#define CLEAN_MAD_SCALE 1.4826 /* MAD to standard deviation, for normal data */

/* The summaries are saved in model snapshots (cleaner_save_summary) so a
 * restart continues median imputation, MAD/IQR and modes where they
 * were; those of personal fields are not, see cleaner_save_summary(). */
/* A field with statistics or summaries to commit. */
struct stat_field {
    size_t field;        /* configured field */
    size_t index;        /* its schema index */
    unsigned char numeric;   /* numeric kind: running mean and deviation */
    unsigned char summaries; /* a median sketch, spread or modes */
};

/* What lets a field's value pass without a walk through its rules,
 * decided once from them: cleaner_apply() runs for every event and most
 * fields of most events break no rule, so each costs a few tests. A
 * number passes when number_ok and it is within [lo, hi] (+-DBL_MAX
 * where open; the test also fails for NaN and infinities, which are left
 * to the full rules); a string when string_ok and its length is in
 * [min_len, min_len + len_span]; a null when null_ok. A field whose
 * values must all see the rules (a label, an outlier rule, string rules)
 * has none of them set. */
struct quick_rule {
    size_t index; /* the field's schema index */
    unsigned char number_ok, string_ok, null_ok;
    double lo, hi;
    size_t min_len, len_span;
};

/* The labels an event's label text was last found to mean: binary labels
 * have two texts, and finding one compares it with every configured
 * positive, negative and rewritten value. Texts longer than
 * CLEAN_LABEL_MEMO_TEXT are looked up every time. */
#define CLEAN_LABEL_MEMO_SLOTS 4
#define CLEAN_LABEL_MEMO_TEXT 32

struct label_memo {
    enum value_kind kind; /* VALUE_NUMBER or VALUE_STRING */
    uint64_t bits;        /* a number's bits: -0 and 0 read differently */
    size_t len;           /* a string's */
    char text[CLEAN_LABEL_MEMO_TEXT];
    double label;
};

/* The last CLEAN_LABEL_MEMO_SLOTS texts found, reused oldest first. */
struct label_memos {
    struct label_memo slot[CLEAN_LABEL_MEMO_SLOTS];
    size_t count, next;
};

struct cleaner {
    const struct cfg *cfg;
    struct running_stats *stats; /* borrowed, cfg->field_count entries */
    int schema_index[CFG_MAX_FIELDS];
    unsigned char imputed[CFG_MAX_FIELDS]; /* per event: value was made up */
    int label_optional;                    /* scoring: no label needed */
    struct clean_counts counts;
    struct clean_field_counts field_counts[CFG_MAX_FIELDS];
    struct sketch *values[CFG_MAX_FIELDS]; /* median, MAD, IQR; or NULL */
    struct sketch *spread[CFG_MAX_FIELDS]; /* |x - median|, for MAD */
    struct topk *modes[CFG_MAX_FIELDS];    /* missing = "mode" */
    regex_t patterns[CFG_MAX_FIELDS];
    unsigned char has_pattern[CFG_MAX_FIELDS];
    /* A category with no length, pattern or allowed-values rule accepts
     * any present value. */
    unsigned char any_category[CFG_MAX_FIELDS];
    struct quick_rule quick[CFG_MAX_FIELDS];
    struct label_memos memo;
    int memo_on; /* the label is a function of its text alone */
    /* The fields with something to commit, in configuration order, each
     * with what cleaner_commit_stats() needs decided once: it runs for
     * every learned event. */
    struct stat_field stat_fields[CFG_MAX_FIELDS];
    size_t stat_field_count;
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

static void set_quick_rule(struct cleaner *c, size_t i)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    struct quick_rule *q = &c->quick[i];

    q->index = (size_t)c->schema_index[i];
    q->lo = f->has_min ? f->min : -DBL_MAX;
    q->hi = f->has_max ? f->max : DBL_MAX;
    q->min_len = 0;
    q->len_span = SIZE_MAX;
    if (f->kind == CFG_FIELD_IGNORE) {
        q->number_ok = q->string_ok = q->null_ok = 1;
        q->lo = -DBL_MAX; /* NaN and infinities take the long way */
        q->hi = DBL_MAX;
    } else if (f->kind == CFG_FIELD_ID) {
        q->string_ok = 1; /* what clean_field() checks of an id */
        q->min_len = 1;
        q->len_span = CLEAN_MAX_ID_BYTES - 1;
    } else if (c->any_category[i]) {
        /* A number in a category passes its range (clean_number()). */
        q->string_ok = q->number_ok = 1;
    } else if (f->kind == CFG_FIELD_NUMERIC &&
               f->outlier == CFG_OUTLIER_NONE) {
        q->number_ok = 1;
    }
}

/* The summaries field i's rules need, and its compiled pattern. */
static int build_summaries(struct cleaner *c, size_t i, char *errstr,
                           size_t errstr_size)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    int quantiles = f->missing == CFG_MISSING_MEDIAN ||
                    f->outlier == CFG_OUTLIER_MAD ||
                    f->outlier == CFG_OUTLIER_IQR;
    unsigned char numeric, summaries;
    int err = 0;

    if (quantiles)
        err = sketch_new(&c->values[i]);
    if (!err && f->outlier == CFG_OUTLIER_MAD)
        err = sketch_new(&c->spread[i]);
    if (!err && f->missing == CFG_MISSING_MODE)
        err = topk_new(&c->modes[i]);
    if (err)
        return err;

    if (f->pattern[0]) {
        char key[CLEAN_KEY_MAX];

        if (cfg_compile_pattern(f->pattern, &c->patterns[i]) != 0) {
            snprintf(key, sizeof(key), "fields[%zu].pattern", i);
            return cfg_error(c->cfg, f->line, key, errstr, errstr_size,
                             "cannot be compiled");
        }
        c->has_pattern[i] = 1;
    }
    c->any_category[i] = f->kind == CFG_FIELD_CATEGORICAL &&
                         f->max_length == 0 && !c->has_pattern[i] &&
                         f->allowed_count == 0;
    numeric = f->kind == CFG_FIELD_NUMERIC;
    summaries = c->values[i] || c->spread[i] || c->modes[i];
    if (numeric || summaries) { /* else nothing to commit */
        struct stat_field *sf = &c->stat_fields[c->stat_field_count++];

        sf->field = i;
        sf->index = (size_t)c->schema_index[i];
        sf->numeric = numeric;
        sf->summaries = summaries;
    }
    set_quick_rule(c, i);
    return 0;
}

int cleaner_new(const struct cfg *cfg, const struct schema *schema,
                struct running_stats *stats, struct cleaner **out,
                char *errstr, size_t errstr_size)
{
    const struct cfg_field *label;
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
    label = cfg_field_of_kind(cfg, CFG_FIELD_LABEL);
    c->memo_on = cfg->task != CFG_TASK_REGRESSION && label &&
                 !label->has_threshold;

    for (i = 0; i < cfg->field_count && !err; i++)
        err = map_field(cfg, schema, i, &c->schema_index[i], errstr,
                        errstr_size);
    for (i = 0; i < cfg->field_count && !err; i++)
        err = build_summaries(c, i, errstr, errstr_size);
    if (err) {
        cleaner_destroy(c);
        return err;
    }

    *out = c;
    return 0;
}

void cleaner_destroy(struct cleaner *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < CFG_MAX_FIELDS; i++) {
        sketch_destroy(c->values[i]);
        sketch_destroy(c->spread[i]);
        topk_destroy(c->modes[i]);
        if (c->has_pattern[i])
            regfree(&c->patterns[i]);
    }
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
    /* No refusal quotes a value (a label, a category, an id may be
     * personal: the dead letter points at the message instead), but a
     * field name from the configuration could still be cut inside a
     * character; the detail goes into Avro strings and JSON as it is. */
    (void)schema_repair_utf8(v->detail, strlen(v->detail));
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

/* The configured rewrite of a noisy label value, or s itself. */
static const char *relabel(const struct cfg *cfg, const char *s)
{
    size_t i;

    for (i = 0; i < cfg->relabel_count; i++)
        if (strcmp(s, cfg->relabel[i][0]) == 0)
            return cfg->relabel[i][1];
    return s;
}

/* What a value that should be a finite number x is instead, for a
 * verdict: never the value itself (it may be personal). */
static const char *found_instead_of_number(const struct value *val,
                                           double x)
{
    if (val->kind == VALUE_STRING)
        return "text";
    if (val->kind != VALUE_NUMBER)
        return "no value";
    return isnan(x) ? "NaN" : "an infinite value";
}

/* label = 1 when the value (a number, or text that is one number) is
 * above the threshold; anything else cannot be evaluated. */
static int label_by_threshold(const struct cfg_field *f,
                              const struct value *val, const char *s,
                              double *label, struct clean_verdict *v)
{
    const char *found = "NaN"; /* a number, or text reading "nan" */
    double x = val->number;
    char *end = NULL;

    if (val->kind != VALUE_NUMBER) {
        x = strtod(s, &end);
        if (end == s || *end != '\0') {
            x = NAN;
            found = "text";
        }
    }
    if (isnan(x))
        return refuse(v, CLEAN_REASON_LABEL, f,
                      "found %s, expected a number: the label rule \"%s > "
                      "%g\" compares one", found, f->name, f->threshold);
    *label = x > f->threshold ? 1.0 : 0.0;
    return 0;
}

/* The label whose value is val and whose text is s (for a number, its
 * shortest text) as the number the model learns: 0/1 (binary), the class
 * index (multiclass), or the value itself (regression). */
static int label_of(const struct cfg *cfg, const struct cfg_field *f,
                    const struct value *val, const char *s, double *label,
                    struct clean_verdict *v)
{
    size_t k;

    if (cfg->task == CFG_TASK_REGRESSION) {
        if (val->kind != VALUE_NUMBER || !isfinite(val->number))
            return refuse(v, CLEAN_REASON_LABEL, f,
                          "found %s, expected a finite number: a regression "
                          "label is one",
                          found_instead_of_number(val, val->number));
        *label = val->number;
        return 0;
    }

    s = relabel(cfg, s);
    if (f->has_threshold)
        return label_by_threshold(f, val, s, label, v);
    if (cfg->task == CFG_TASK_MULTICLASS) {
        for (k = 0; k < cfg->class_count; k++) {
            if (strcmp(s, cfg->classes[k]) == 0) {
                *label = (double)k;
                return 0;
            }
        }
        return refuse(v, CLEAN_REASON_LABEL, f,
                      "the label is not one of the configured classes");
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
                  "the label is neither a positive nor a negative value in "
                  "the configuration");
}

/* The memo slot of the label text of field index, or NULL. */
static const struct label_memo *memo_find(const struct label_memos *mm,
                                          const struct event *ev,
                                          size_t index)
{
    const struct value *val = &ev->values[index];
    uint64_t bits;
    size_t k;

    if (val->kind == VALUE_NUMBER) {
        memcpy(&bits, &val->number, sizeof(bits));
        for (k = 0; k < mm->count; k++)
            if (mm->slot[k].kind == VALUE_NUMBER && mm->slot[k].bits == bits)
                return &mm->slot[k];
        return NULL;
    }
    for (k = 0; k < mm->count; k++)
        if (mm->slot[k].kind == VALUE_STRING &&
            mm->slot[k].len == val->str_len &&
            memcmp(mm->slot[k].text, event_string(ev, index), val->str_len) ==
                0)
            return &mm->slot[k];
    return NULL;
}

/* Remembers that the text of field index means label, in the oldest
 * slot. */
static void memo_keep(struct label_memos *mm, const struct event *ev,
                      size_t index, double label)
{
    const struct value *val = &ev->values[index];
    struct label_memo *m = &mm->slot[mm->next];

    if (val->kind == VALUE_STRING && val->str_len > sizeof(m->text))
        return;
    m->kind = val->kind;
    if (val->kind == VALUE_NUMBER) {
        memcpy(&m->bits, &val->number, sizeof(m->bits));
    } else {
        m->len = val->str_len;
        memcpy(m->text, event_string(ev, index), val->str_len);
    }
    m->label = label;
    mm->next = (mm->next + 1) % CLEAN_LABEL_MEMO_SLOTS;
    if (mm->count < CLEAN_LABEL_MEMO_SLOTS)
        mm->count++;
}

static int clean_label(const struct cfg *cfg, const struct cfg_field *f,
                       const struct event *ev, size_t index, double *label,
                       struct clean_verdict *v)
{
    const struct value *val = &ev->values[index];
    char tmp[NUMFMT_MAX];

    if (val->kind == VALUE_NULL)
        return refuse(v, CLEAN_REASON_MISSING, f, "the label is missing");
    return label_of(cfg, f, val, label_text(ev, index, tmp, sizeof(tmp)),
                    label, v);
}

int cleaner_parse_label(const struct cleaner *c, const char *text,
                        double *label, struct clean_verdict *v)
{
    const struct cfg_field *f = cfg_field_of_kind(c->cfg, CFG_FIELD_LABEL);
    struct value val = {.kind = VALUE_STRING};
    char *end = NULL;
    double x;

    if (text[0] == '\0')
        return refuse(v, CLEAN_REASON_MISSING, f, "the label is empty");
    /* The text is not in an arena: only its length is kept. */
    val.str_len = (uint32_t)strlen(text);
    if (c->cfg->task == CFG_TASK_REGRESSION) {
        x = strtod(text, &end);
        if (end != text && *end == '\0') {
            val.kind = VALUE_NUMBER;
            val.number = x;
        }
    }
    return label_of(c->cfg, f, &val, text, label, v);
}

int cleaner_read_label(const struct cleaner *c, const struct event *ev,
                       double *label, struct clean_verdict *v)
{
    const struct cfg_field *f = cfg_field_of_kind(c->cfg, CFG_FIELD_LABEL);

    return clean_label(c->cfg, f, ev,
                       (size_t)c->schema_index[f - c->cfg->fields], label,
                       v);
}

/* clean_label() through the memo: a label text met before is not
 * looked up again. Refusals are not remembered; they fill the verdict. */
static int clean_label_memo(struct cleaner *c, const struct cfg_field *f,
                            const struct event *ev, size_t index,
                            double *label, struct clean_verdict *v)
{
    const struct value *val = &ev->values[index];
    const struct label_memo *m;
    int err;

    if (!c->memo_on || val->kind == VALUE_NULL)
        return clean_label(c->cfg, f, ev, index, label, v);
    m = memo_find(&c->memo, ev, index);
    if (m) {
        *label = m->label;
        return 0;
    }
    err = clean_label(c->cfg, f, ev, index, label, v);
    if (!err)
        memo_keep(&c->memo, ev, index, *label);
    return err;
}

/* Before any category was seen the value stays null: no feature. */
static int impute_mode(struct cleaner *c, size_t i, struct event *ev,
                       size_t index)
{
    const char *mode = topk_mode(c->modes[i], NULL);

    if (!mode)
        return 0;
    if (event_set_string(ev, index, mode, strlen(mode)) != 0)
        return RIFFLE_ERR_NOMEM;
    c->counts.imputed++;
    c->field_counts[i].imputed++;
    return 0;
}

/* Applies the missing-value policy to a null field. */
static int clean_missing(struct cleaner *c, size_t i, struct event *ev,
                         size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];

    /* Say which setting refused it: a numeric field refuses a missing
     * value by default, which surprises whoever never wrote `required`. */
    if (f->required)
        return refuse(v, CLEAN_REASON_MISSING, f,
                      "the value is missing and the field is required");
    if (f->missing == CFG_MISSING_REJECT)
        return refuse(v, CLEAN_REASON_MISSING, f,
                      "the value is missing and the field's missing policy "
                      "is \"reject\" (a numeric field's default): set "
                      "missing to impute it (\"mean\", \"median\", "
                      "\"zero\", ...) or to \"skip\"");

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
    case CFG_MISSING_MEDIAN:
        event_set_number(ev, index, sketch_count(c->values[i]) > 0
                                        ? sketch_quantile(c->values[i], 0.5)
                                        : 0.0); /* as mean before data */
        c->counts.imputed++;
        break;
    case CFG_MISSING_MODE:
        return impute_mode(c, i, ev, index);
    default:
        return 0; /* skip and token: features handle the null */
    }
    c->field_counts[i].imputed++;
    return 0;
}

static int clean_number(struct cleaner *c, size_t i, struct event *ev,
                        size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    double x = ev->values[index].number;
    int below, above;

    if (!isfinite(x))
        return refuse(v, CLEAN_REASON_VALUE, f,
                      "found %s, expected a finite number",
                      found_instead_of_number(&ev->values[index], x));

    below = f->has_min && x < f->min;
    above = f->has_max && x > f->max;
    if (below || above) {
        if (f->on_range == CFG_RANGE_REJECT) {
            double lo = f->has_min ? f->min : -INFINITY;
            double hi = f->has_max ? f->max : INFINITY;

            return refuse(v, CLEAN_REASON_RANGE, f,
                          "the value is outside [%g, %g]", lo, hi);
        }
        if (f->on_range == CFG_RANGE_MISSING) {
            event_set_null(ev, index);
            return clean_missing(c, i, ev, index, v);
        }
        event_set_number(ev, index, below ? f->min : f->max);
        c->counts.clipped++;
        c->field_counts[i].clipped++;
    }
    return 0;
}

/* The bounds field i's outlier rule accepts now, from the values learned
 * so far. 0 while the rule cannot judge: too few values, or no spread
 * (a constant field has no outliers to speak of). */
static int outlier_bounds(const struct cleaner *c, size_t i, double *lo,
                          double *hi)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    double k = f->outlier_threshold, centre, scale, q1, q3;

    if (f->outlier == CFG_OUTLIER_ZSCORE) {
        if (c->stats[i].count < (uint64_t)f->outlier_warmup)
            return 0;
        centre = c->stats[i].mean;
        scale = stats_stddev(&c->stats[i]);
    } else if (f->outlier == CFG_OUTLIER_MAD) {
        if (sketch_count(c->values[i]) < (uint64_t)f->outlier_warmup)
            return 0;
        centre = sketch_quantile(c->values[i], 0.5);
        scale = CLEAN_MAD_SCALE * sketch_quantile(c->spread[i], 0.5);
    } else {
        if (sketch_count(c->values[i]) < (uint64_t)f->outlier_warmup)
            return 0;
        q1 = sketch_quantile(c->values[i], 0.25);
        q3 = sketch_quantile(c->values[i], 0.75);
        if (!(q3 - q1 > 0))
            return 0;
        *lo = q1 - k * (q3 - q1);
        *hi = q3 + k * (q3 - q1);
        return 1;
    }
    if (!(scale > 0))
        return 0;
    *lo = centre - k * scale;
    *hi = centre + k * scale;
    return 1;
}

static const char *outlier_rule_name(enum cfg_outlier_rule r)
{
    return r == CFG_OUTLIER_ZSCORE ? "zscore"
           : r == CFG_OUTLIER_MAD  ? "mad"
                                   : "iqr";
}

static int clean_outlier(struct cleaner *c, size_t i, struct event *ev,
                         size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    double x = ev->values[index].number, lo, hi;

    if (f->outlier == CFG_OUTLIER_NONE || !outlier_bounds(c, i, &lo, &hi) ||
        (x >= lo && x <= hi))
        return 0;

    c->field_counts[i].outliers++;
    if (f->on_outlier == CFG_OUTLIER_REJECT) {
        if (f->privacy != CFG_PRIVACY_NONE)
            return refuse(v, CLEAN_REASON_OUTLIER, f, "the value is outside "
                          "the %s bounds (k = %g)",
                          outlier_rule_name(f->outlier), f->outlier_threshold);
        return refuse(v, CLEAN_REASON_OUTLIER, f, "the value is outside "
                      "[%.10g, %.10g], the %s bounds (k = %g)", lo, hi,
                      outlier_rule_name(f->outlier), f->outlier_threshold);
    }
    if (f->on_outlier == CFG_OUTLIER_MISSING) {
        event_set_null(ev, index);
        return clean_missing(c, i, ev, index, v);
    }
    event_set_number(ev, index, x < lo ? lo : hi);
    c->counts.clipped++;
    c->field_counts[i].clipped++;
    return 0;
}

static int in_allowed(const struct cfg *cfg, const struct cfg_field *f,
                      const char *s)
{
    const char *a = cfg_allowed_first(cfg, f);
    size_t k;

    for (k = 0; k < f->allowed_count; k++, a += strlen(a) + 1)
        if (strcmp(a, s) == 0)
            return 1;
    return 0;
}

/* Why a category breaks its field's string rules, or NULL. The text of
 * a number is what the features hash. */
static const char *category_fault(const struct cleaner *c, size_t i,
                                  const char *text, size_t len)
{
    const struct cfg_field *f = &c->cfg->fields[i];

    if (f->max_length > 0 && len > f->max_length)
        return "is longer than max_length";
    if (c->has_pattern[i] &&
        (strlen(text) != len ||
         regexec(&c->patterns[i], text, 0, NULL, 0) != 0))
        return "does not match the pattern";
    if (f->allowed_count > 0 && (strlen(text) != len ||
                                 !in_allowed(c->cfg, f, text)))
        return "is not an allowed category";
    return NULL;
}

static int clean_category(struct cleaner *c, size_t i, struct event *ev,
                          size_t index, struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    const struct value *val = &ev->values[index];
    char number[NUMFMT_MAX];
    const char *text, *fault;
    size_t len;

    if (val->kind == VALUE_NUMBER) {
        text = numfmt_double(val->number, number, sizeof(number));
        len = strlen(text);
    } else {
        text = event_string(ev, index);
        len = val->str_len;
    }
    fault = category_fault(c, i, text, len);
    if (!fault)
        return 0;

    c->field_counts[i].invalid++;
    if (f->on_invalid == CFG_INVALID_MISSING) {
        event_set_null(ev, index);
        return clean_missing(c, i, ev, index, v);
    }
    if (f->max_length > 0 && len > f->max_length)
        return refuse(v, CLEAN_REASON_VALUE, f,
                      "%zu bytes, longer than max_length %zu", len,
                      f->max_length);
    return refuse(v, CLEAN_REASON_VALUE, f, "the value %s", fault);
}

/* Out of line: inlined into cleaner_apply()'s loop, it made every
 * field's quick test dearer, though few fields of an event get here. */
static __attribute__((noinline)) int clean_field(struct cleaner *c, size_t i,
                                                 struct event *ev,
                                                 double *label,
                                                 struct clean_verdict *v)
{
    const struct cfg_field *f = &c->cfg->fields[i];
    size_t index = (size_t)c->schema_index[i];
    const struct value *val = &ev->values[index];

    if (f->kind == CFG_FIELD_IGNORE)
        return 0;
    if (val->kind == VALUE_NULL)
        c->field_counts[i].missing++;

    switch (f->kind) {
    case CFG_FIELD_LABEL:
        if (c->label_optional && val->kind == VALUE_NULL) {
            *label = NAN;
            return 0;
        }
        if (event_hinted_number(ev, index, label))
            return 0; /* found on the hinter's thread */
        return clean_label_memo(c, f, ev, index, label, v);
    case CFG_FIELD_ID:
        if (val->kind != VALUE_STRING || val->str_len == 0)
            return refuse(v, CLEAN_REASON_MISSING, f,
                          "the event id is missing");
        if (val->str_len > CLEAN_MAX_ID_BYTES)
            return refuse(v, CLEAN_REASON_VALUE, f,
                          "the event id has %zu bytes; at most %d allowed",
                          (size_t)val->str_len, CLEAN_MAX_ID_BYTES);
        return 0;
    default:
        break;
    }

    if (val->kind == VALUE_NULL)
        return clean_missing(c, i, ev, index, v);
    if (val->kind == VALUE_NUMBER) {
        int err = clean_number(c, i, ev, index, v);

        if (err || val->kind != VALUE_NUMBER)
            return err; /* refused, or now missing and handled */
        if (f->kind == CFG_FIELD_NUMERIC)
            return clean_outlier(c, i, ev, index, v);
    }
    if (f->kind != CFG_FIELD_CATEGORICAL || c->any_category[i])
        return 0;
    return clean_category(c, i, ev, index, v);
}

/* The summaries behind median, MAD, IQR and mode. */
static void commit_summaries(struct cleaner *c, size_t i,
                             const struct event *ev, size_t index)
{
    const struct value *val = &ev->values[index];
    char number[NUMFMT_MAX];
    const char *text;

    if (c->spread[i] && val->kind == VALUE_NUMBER)
        sketch_add(c->spread[i],
                   sketch_count(c->values[i]) > 0
                       ? fabs(val->number -
                              sketch_quantile(c->values[i], 0.5))
                       : 0.0);
    if (c->values[i] && val->kind == VALUE_NUMBER)
        sketch_add(c->values[i], val->number);
    if (c->modes[i] && val->kind == VALUE_STRING)
        topk_add(c->modes[i], event_string(ev, index), val->str_len);
    if (c->modes[i] && val->kind == VALUE_NUMBER) {
        text = numfmt_double(val->number, number, sizeof(number));
        topk_add(c->modes[i], text, strlen(text));
    }
}

void cleaner_commit_stats(struct cleaner *c, const struct event *ev)
{
    size_t j;

    for (j = 0; j < c->stat_field_count; j++) {
        const struct stat_field *sf = &c->stat_fields[j];
        const struct value *val = &ev->values[sf->index];

        if (c->imputed[sf->field])
            continue;
        if (sf->numeric && val->kind == VALUE_NUMBER)
            stats_add(&c->stats[sf->field], val->number);
        if (sf->summaries)
            commit_summaries(c, sf->field, ev, sf->index);
    }
}

/* Whether val passes its field's rules by the quick rule alone: what
 * clean_field() would find for it, without a change to the event or a
 * count. */
static inline int passes_quickly(const struct quick_rule *q,
                                 const struct value *val)
{
    if (val->kind == VALUE_NUMBER)
        return q->number_ok && val->number >= q->lo && val->number <= q->hi;
    if (val->kind == VALUE_STRING)
        return q->string_ok && val->str_len - q->min_len <= q->len_span;
    return q->null_ok; /* the length test wraps below min_len */
}

/* clean_field() with a refusal counted. */
static int clean_field_counted(struct cleaner *c, size_t i, struct event *ev,
                               double *label, struct clean_verdict *v)
{
    int err = clean_field(c, i, ev, label, v);

    if (err) {
        c->counts.rejected++;
        c->field_counts[i].rejected++;
    }
    return err;
}

/* The rules of fields from..field_count-1, each one's quick rule first. */
static int apply_quick_from(struct cleaner *c, size_t from, struct event *ev,
                            double *label, struct clean_verdict *v)
{
    size_t i, n = c->cfg->field_count;
    int err;

    for (i = from; i < n; i++) {
        if (passes_quickly(&c->quick[i], &ev->values[c->quick[i].index]))
            continue;
        err = clean_field_counted(c, i, ev, label, v);
        if (err)
            return err;
    }
    return 0;
}

/* The rules of the fields in mask only, in configuration order: the
 * others passed their quick rule on the hinter's thread, with the values
 * the event still holds. A repair or an imputation drops the hint; the
 * fields after it then take their quick rule here again, as they would
 * have without a hint. */
static int apply_hinted(struct cleaner *c, const uint64_t *mask,
                        struct event *ev, double *label,
                        struct clean_verdict *v)
{
    size_t w, words = (c->cfg->field_count + 63) / 64;

    for (w = 0; w < words; w++) {
        uint64_t left = mask[w];

        while (left) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(left);
            int err = clean_field_counted(c, i, ev, label, v);

            if (err)
                return err;
            if (!event_hinted_mask(ev))
                return apply_quick_from(c, i + 1, ev, label, v);
            left &= left - 1;
        }
    }
    return 0;
}

int cleaner_apply(struct cleaner *c, struct event *ev, double *label,
                  struct clean_verdict *verdict)
{
    const uint64_t *mask = event_hinted_mask(ev);
    int err;

    memset(c->imputed, 0, c->cfg->field_count);
    if (mask)
        err = apply_hinted(c, mask, ev, label, verdict);
    else
        err = apply_quick_from(c, 0, ev, label, verdict);
    if (err)
        return err;

    c->counts.passed++;
    return 0;
}

_Static_assert(CFG_MAX_FIELDS <= EVENT_MASK_WORDS * 64,
               "a configured field's number fits the event's mask");

struct cleaner_hinter {
    const struct cfg *cfg;
    size_t field_count;
    struct quick_rule quick[CFG_MAX_FIELDS];
    const struct cfg_field *label; /* NULL: no label to find ahead */
    size_t label_index;            /* its schema index */
    struct label_memos memo;       /* the hinter's own */
};

int cleaner_hinter_new(const struct cleaner *c, struct cleaner_hinter **out)
{
    struct cleaner_hinter *h = calloc(1, sizeof(*h));
    const struct cfg_field *label = cfg_field_of_kind(c->cfg, CFG_FIELD_LABEL);

    if (!h)
        return RIFFLE_ERR_NOMEM;
    h->cfg = c->cfg;
    h->field_count = c->cfg->field_count;
    memcpy(h->quick, c->quick, h->field_count * sizeof(h->quick[0]));
    /* Only a label found from its text alone, as the memo is. */
    if (c->memo_on) {
        h->label = label;
        h->label_index = (size_t)c->schema_index[label - c->cfg->fields];
    }
    *out = h;
    return 0;
}

void cleaner_hinter_destroy(struct cleaner_hinter *h)
{
    free(h);
}

/* Hints the label's number, as clean_label_memo() would find it. A
 * label that would be refused is left to the learner, which refuses it
 * with its verdict. */
static void hint_label(struct cleaner_hinter *h, struct event *ev)
{
    const struct label_memo *m;
    struct clean_verdict unused;
    double label;

    if (ev->values[h->label_index].kind == VALUE_NULL)
        return;
    m = memo_find(&h->memo, ev, h->label_index);
    if (m) {
        event_hint_number(ev, h->label_index, m->label);
        return;
    }
    if (clean_label(h->cfg, h->label, ev, h->label_index, &label, &unused))
        return;
    memo_keep(&h->memo, ev, h->label_index, label);
    event_hint_number(ev, h->label_index, label);
}

void cleaner_hint_event(struct cleaner_hinter *h, struct event *ev)
{
    uint64_t mask[EVENT_MASK_WORDS] = {0};
    size_t i;

    if (h->label)
        hint_label(h, ev);
    for (i = 0; i < h->field_count; i++)
        if (!passes_quickly(&h->quick[i], &ev->values[h->quick[i].index]))
            mask[i / 64] |= (uint64_t)1 << (i % 64);
    event_hint_mask(ev, mask);
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

const struct clean_field_counts *
cleaner_field_counts(const struct cleaner *c)
{
    return c->field_counts;
}

int cleaner_schema_index(const struct cleaner *c, size_t cfg_field)
{
    return c->schema_index[cfg_field];
}

/* --- saved state ------------------------------------------------------ */

static const char *const summary_names[CLEAN_SUMMARY_KINDS] = {
    "values", "spread", "mode"};

const char *clean_summary_name(int kind)
{
    return kind >= 0 && kind < CLEAN_SUMMARY_KINDS ? summary_names[kind]
                                                   : NULL;
}

int clean_summary_kind(const char *name)
{
    int k;

    for (k = 0; k < CLEAN_SUMMARY_KINDS; k++)
        if (strcmp(name, summary_names[k]) == 0)
            return k;
    return -1;
}

int cleaner_save_summary(const struct cleaner *c, size_t field, int kind,
                         struct buf *out)
{
    if (c->cfg->fields[field].privacy != CFG_PRIVACY_NONE)
        return RIFFLE_ERR_EOF;
    if (kind == CLEAN_SUMMARY_VALUES && c->values[field])
        return sketch_save(c->values[field], out);
    if (kind == CLEAN_SUMMARY_SPREAD && c->spread[field])
        return sketch_save(c->spread[field], out);
    if (kind == CLEAN_SUMMARY_MODE && c->modes[field])
        return topk_save(c->modes[field], out);
    return RIFFLE_ERR_EOF;
}

/* A restore in progress: summaries of the cleaner's shape, loaded one by
 * one, put in place only once the whole snapshot was read. */
struct clean_summaries {
    struct sketch *values[CFG_MAX_FIELDS];
    struct sketch *spread[CFG_MAX_FIELDS];
    struct topk *modes[CFG_MAX_FIELDS];
};

void cleaner_stage_destroy(struct clean_summaries *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < CFG_MAX_FIELDS; i++) {
        sketch_destroy(s->values[i]);
        sketch_destroy(s->spread[i]);
        topk_destroy(s->modes[i]);
    }
    free(s);
}

int cleaner_stage_new(const struct cleaner *c, struct clean_summaries **out)
{
    struct clean_summaries *s = calloc(1, sizeof(*s));
    size_t i;
    int err = s ? 0 : RIFFLE_ERR_NOMEM;

    for (i = 0; !err && i < c->cfg->field_count; i++) {
        if (c->values[i])
            err = sketch_new(&s->values[i]);
        if (!err && c->spread[i])
            err = sketch_new(&s->spread[i]);
        if (!err && c->modes[i])
            err = topk_new(&s->modes[i]);
    }
    if (err) {
        cleaner_stage_destroy(s);
        return err;
    }
    *out = s;
    return 0;
}

int cleaner_stage_load(struct clean_summaries *s, size_t field, int kind,
                       const void *data, size_t len)
{
    if (field >= CFG_MAX_FIELDS)
        return RIFFLE_ERR_EOF;
    if (kind == CLEAN_SUMMARY_VALUES && s->values[field])
        return sketch_load(s->values[field], data, len);
    if (kind == CLEAN_SUMMARY_SPREAD && s->spread[field])
        return sketch_load(s->spread[field], data, len);
    if (kind == CLEAN_SUMMARY_MODE && s->modes[field])
        return topk_load(s->modes[field], data, len);
    return RIFFLE_ERR_EOF;
}

#define SWAP(a, b)                                                           \
    do {                                                                     \
        void *swap_tmp_ = (a);                                               \
        (a) = (b);                                                           \
        (b) = swap_tmp_;                                                     \
    } while (0)

void cleaner_stage_commit(struct cleaner *c, struct clean_summaries *s)
{
    size_t i;

    for (i = 0; i < CFG_MAX_FIELDS; i++) {
        SWAP(c->values[i], s->values[i]);
        SWAP(c->spread[i], s->spread[i]);
        SWAP(c->modes[i], s->modes[i]);
    }
    cleaner_stage_destroy(s); /* now holds the replaced summaries */
}
