/*
 * serving/request_json.c - JSON requests and answers, see request_json.h.
 */
#include "serving/request_json.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/json_fault.h"
#include "common/spelling.h"
#include "common/numfmt.h"

/* Avro int's range; long goes as far as a double holds whole numbers
 * exactly, which is what an event stores. */
#define REQUEST_INT_MIN (-2147483648.0)
#define REQUEST_INT_MAX 2147483647.0
#define REQUEST_LONG_LIMIT 9007199254740992.0 /* 2^53 */

static int invalid(char *errstr, size_t size, const char *field,
                   const char *what)
{
    snprintf(errstr, size, "field '%s': %s", field, what);
    return RIFFLE_ERR_INVALID;
}

/* What kind of JSON value v is, for a refusal: never the value itself,
 * which may be personal. */
static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "true or false";
    default:
        return "null";
    }
}

/* "field 'NAME': found FOUND, expected EXPECTED", as produce words a
 * refused CSV value. */
static int mistyped(char *errstr, size_t size, const char *field,
                    const char *found, const char *expected)
{
    snprintf(errstr, size, "field '%s': found %s, expected %s", field, found,
             expected);
    return RIFFLE_ERR_INVALID;
}

static int set_number(const struct schema *schema, size_t i, json_t *v,
                      struct event *ev, char *errstr, size_t size)
{
    enum schema_field_type type = schema_field_type(schema, i);
    const char *name = schema_field_name(schema, i);
    double x;

    if (type == SCHEMA_FIELD_BOOLEAN) {
        if (!json_is_boolean(v))
            return mistyped(errstr, size, name, json_kind(v),
                            "true or false");
        event_set_number(ev, i, json_is_true(v) ? 1.0 : 0.0);
        return 0;
    }
    if (!json_is_number(v))
        return mistyped(errstr, size, name, json_kind(v), "a number");
    x = json_number_value(v);
    if (!isfinite(x))
        return mistyped(errstr, size, name, "a number that is not finite",
                        "a finite number");
    if (type == SCHEMA_FIELD_INT &&
        (x != floor(x) || x < REQUEST_INT_MIN || x > REQUEST_INT_MAX))
        return mistyped(errstr, size, name,
                        x != floor(x) ? "a number with a fraction"
                                      : "a whole number beyond 32 bits",
                        "a whole number that fits in 32 bits");
    if (type == SCHEMA_FIELD_LONG &&
        (x != floor(x) || fabs(x) > REQUEST_LONG_LIMIT))
        return mistyped(errstr, size, name,
                        x != floor(x) ? "a number with a fraction"
                                      : "a whole number beyond 2^53",
                        "a whole number of at most 2^53 in magnitude");
    event_set_number(ev, i, x);
    return 0;
}

static int set_field(const struct schema *schema, size_t i, json_t *v,
                     struct event *ev, char *errstr, size_t size)
{
    const char *name = schema_field_name(schema, i);

    if (!v || json_is_null(v)) {
        if (!schema_field_nullable(schema, i))
            return invalid(errstr, size, name, v ? "may not be null"
                                                 : "missing");
        event_set_null(ev, i);
        return 0;
    }
    if (schema_field_type(schema, i) != SCHEMA_FIELD_STRING)
        return set_number(schema, i, v, ev, errstr, size);
    if (!json_is_string(v))
        return mistyped(errstr, size, name, json_kind(v), "a string");
    return event_set_string(ev, i, json_string_value(v),
                            json_string_length(v));
}

/* The schema field a member names once each character other than a
 * letter or digit is read as '_', as a CSV header is ("monthly-spend"
 * feeds monthly_spend); -1 when none. A caller who copies a header into
 * a request is told the field's name, which comes from the schema, so
 * nothing of the member itself is echoed. */
static int field_by_avro_form(const struct schema *schema, const char *key)
{
    char name[CFG_NAME_MAX];
    size_t i;

    for (i = 0; key[i]; i++) {
        if (i + 1 >= sizeof(name))
            return -1;
        name[i] = isalnum((unsigned char)key[i]) ? key[i] : '_';
    }
    name[i] = '\0';
    return schema_field_index(schema, name);
}

/* The i-th field name of schema ctx, for spelling_nearest(). */
static const char *field_name_at(const void *ctx, size_t i)
{
    const struct schema *schema = ctx;

    return i < schema_field_count(schema) ? schema_field_name(schema, i)
                                          : NULL;
}

/* Every member must name a schema field. A name misspelt by a letter or
 * two is told the field's name (which comes from the schema). */
static int check_members(const struct schema *schema, json_t *obj,
                         char *errstr, size_t size)
{
    const char *key, *meant;
    json_t *v;
    int like;

    json_object_foreach(obj, key, v) {
        if (schema_field_index(schema, key) >= 0)
            continue;
        like = field_by_avro_form(schema, key);
        meant = spelling_nearest(key, field_name_at, schema);
        if (json_name_like(key, CFG_NAME_MAX, 0))
            snprintf(errstr, size, "unknown field '%s'%s%s%s", key,
                     meant ? ": did you mean '" : "", meant ? meant : "",
                     meant ? "'?" : "");
        else if (like >= 0)
            snprintf(errstr, size, "unknown field (a member whose name is "
                     "not a field name): did you mean '%s'? A request "
                     "names fields as the schema does, with '_' where a "
                     "CSV header has another character",
                     schema_field_name(schema, (size_t)like));
        else
            snprintf(errstr, size, "unknown field (a member whose name is "
                     "not a field name)");
        return RIFFLE_ERR_INVALID;
    }
    return 0;
}

int request_json_to_event(const struct schema *schema, const char *body,
                          size_t len, struct event *ev, char *errstr,
                          size_t errstr_size)
{
    json_error_t jerr;
    json_t *obj;
    size_t i, n = schema_field_count(schema);
    int err = 0;

    obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        snprintf(errstr, errstr_size, "line %d, column %d: %s", jerr.line,
                 jerr.column, json_fault(&jerr));
        return RIFFLE_ERR_PARSE;
    }
    if (!json_is_object(obj)) {
        snprintf(errstr, errstr_size, "expected a JSON object with the "
                 "event's fields");
        json_decref(obj);
        return RIFFLE_ERR_INVALID;
    }

    err = check_members(schema, obj, errstr, errstr_size);
    event_reset(ev, n);
    for (i = 0; !err && i < n; i++)
        err = set_field(schema, i, json_object_get(obj,
                        schema_field_name(schema, i)), ev, errstr,
                        errstr_size);
    json_decref(obj);
    return err;
}

static const char *predicted_label(const struct cfg *cfg,
                                   const struct online_result *r, char *tmp,
                                   size_t size)
{
    return online_predicted_label(cfg, cfg_field_of_kind(cfg, CFG_FIELD_LABEL),
                                  r, tmp, size);
}

static int answer_refused(const struct online_result *r, struct buf *out)
{
    int err = buf_printf(out, ",\"refused\":");

    if (!err)
        err = buf_append_json_string(out, r->verdict.reason);
    if (!err)
        err = buf_printf(out, ",\"field\":");
    if (!err)
        err = buf_append_json_string(out, r->verdict.field);
    if (!err)
        err = buf_printf(out, ",\"detail\":");
    if (!err)
        err = buf_append_json_string(out, r->verdict.detail);
    return err;
}

static int answer_prediction(const struct cfg *cfg,
                             const struct online_result *r, struct buf *out)
{
    char value[NUMFMT_MAX], prob[NUMFMT_MAX], tmp[NUMFMT_MAX];
    int err;

    err = buf_printf(out, ",\"value\":%s",
                     numfmt_double(r->value, value, sizeof(value)));
    /* A regression has neither a probability nor a class: both are left
     * out, as the prediction record's nulls are. */
    if (!err && cfg->task != CFG_TASK_REGRESSION)
        err = buf_printf(out, ",\"probability\":%s,\"predicted_class\":%d",
                         numfmt_double(r->probability, prob, sizeof(prob)),
                         r->predicted_class);
    if (!err)
        err = buf_printf(out, ",\"predicted_label\":");
    if (!err)
        err = buf_append_json_string(out, predicted_label(cfg, r, tmp,
                                                          sizeof(tmp)));
    return err;
}

int request_json_answer(const struct cfg *cfg,
                        const struct served_prediction *p, struct buf *out)
{
    const struct online_result *r = &p->r;
    int err = buf_printf(out, "{\"event_id\":");

    if (!err)
        err = buf_append_json_string(out, r->event_id ? r->event_id : "");
    if (!err)
        err = buf_printf(out, ",\"model_name\":");
    if (!err)
        err = buf_append_json_string(out, cfg->model_name);
    if (!err)
        err = buf_printf(out, ",\"model_version\":%llu",
                         (unsigned long long)r->model_version);
    if (!err)
        err = r->dead_letter ? answer_refused(r, out)
                             : answer_prediction(cfg, r, out);
    if (!err)
        err = buf_printf(out, "}\n");
    return err;
}

int request_json_error(const char *what, struct buf *out)
{
    int err = buf_printf(out, "{\"error\":");

    if (!err)
        err = buf_append_json_string(out, what);
    if (!err)
        err = buf_printf(out, "}\n");
    return err;
}
