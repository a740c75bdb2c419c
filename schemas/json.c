/*
 * schemas/json.c - Avro values to JSON lines, see json.h.
 */
#include "schemas/json.h"

#include <math.h>
#include <stdio.h>

#include "common/err.h"
#include "common/numfmt.h"

/* Appends a string literal without counting its length by hand. */
#define APPEND_LITERAL(out, text) buf_append((out), (text), sizeof(text) - 1)

static int append_number(struct buf *out, double x)
{
    char text[NUMFMT_MAX];

    if (!isfinite(x))
        return APPEND_LITERAL(out, "null"); /* JSON has no NaN or inf */
    return buf_printf(out, "%s", numfmt_double(x, text, sizeof(text)));
}

/* Appends `"name":` after a comma unless it is the first member. */
static int append_key(struct buf *out, size_t i, const char *name)
{
    int err = 0;

    if (i > 0)
        err = APPEND_LITERAL(out, ",");
    if (!err)
        err = buf_append_json_string(out, name);
    if (!err)
        err = APPEND_LITERAL(out, ":");
    return err;
}

static int append_record(struct buf *out, avro_value_t *v)
{
    size_t n = 0, i; /* read by the loop test even on error */
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = APPEND_LITERAL(out, "{");
    for (i = 0; i < n && !err; i++) {
        avro_value_t field;
        const char *name;

        if (avro_value_get_by_index(v, i, &field, &name))
            return RIFFLE_ERR_SCHEMA;
        err = append_key(out, i, name);
        if (!err)
            err = json_append_value(out, &field);
    }
    return err ? err : APPEND_LITERAL(out, "}");
}

static int append_array(struct buf *out, avro_value_t *v)
{
    size_t n = 0, i; /* read by the loop test even on error */
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = APPEND_LITERAL(out, "[");
    for (i = 0; i < n && !err; i++) {
        avro_value_t item;

        if (avro_value_get_by_index(v, i, &item, NULL))
            return RIFFLE_ERR_SCHEMA;
        if (i > 0)
            err = APPEND_LITERAL(out, ",");
        if (!err)
            err = json_append_value(out, &item);
    }
    return err ? err : APPEND_LITERAL(out, "]");
}

static int append_map(struct buf *out, avro_value_t *v)
{
    size_t n = 0, i; /* read by the loop test even on error */
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = APPEND_LITERAL(out, "{");
    for (i = 0; i < n && !err; i++) {
        avro_value_t item;
        const char *key;

        if (avro_value_get_by_index(v, i, &item, &key))
            return RIFFLE_ERR_SCHEMA;
        err = append_key(out, i, key);
        if (!err)
            err = json_append_value(out, &item);
    }
    return err ? err : APPEND_LITERAL(out, "}");
}

/* Null, booleans, numbers, strings and bytes (as a count). A getter that
 * fails, as it may for a value of another class, is RIFFLE_ERR_SCHEMA. */
static int append_primitive(struct buf *out, avro_value_t *v,
                            avro_type_t type)
{
    int32_t i32;
    int64_t i64;
    double d;
    float f;
    const char *s;
    const void *bytes;
    size_t size;

    switch (type) {
    case AVRO_NULL:
        return APPEND_LITERAL(out, "null");
    case AVRO_BOOLEAN:
        if (avro_value_get_boolean(v, &i32))
            break;
        return i32 ? APPEND_LITERAL(out, "true") : APPEND_LITERAL(out, "false");
    case AVRO_INT32:
        if (avro_value_get_int(v, &i32))
            break;
        return buf_printf(out, "%d", i32);
    case AVRO_INT64:
        if (avro_value_get_long(v, &i64))
            break;
        return buf_printf(out, "%lld", (long long)i64);
    case AVRO_FLOAT:
        if (avro_value_get_float(v, &f))
            break;
        return append_number(out, f);
    case AVRO_DOUBLE:
        if (avro_value_get_double(v, &d))
            break;
        return append_number(out, d);
    case AVRO_STRING:
        if (avro_value_get_string(v, &s, &size))
            break;
        return buf_append_json_string(out, s);
    case AVRO_BYTES:
        if (avro_value_get_bytes(v, &bytes, &size))
            break;
        return buf_printf(out, "{\"bytes\":%zu}", size);
    default:
        break;
    }
    return RIFFLE_ERR_SCHEMA;
}

int json_append_value(struct buf *out, avro_value_t *v)
{
    avro_type_t type = avro_value_get_type(v);
    avro_value_t branch;

    switch (type) {
    case AVRO_RECORD:
        return append_record(out, v);
    case AVRO_ARRAY:
        return append_array(out, v);
    case AVRO_MAP:
        return append_map(out, v);
    case AVRO_UNION:
        if (avro_value_get_current_branch(v, &branch))
            return RIFFLE_ERR_SCHEMA;
        return json_append_value(out, &branch);
    default:
        return append_primitive(out, v, type);
    }
}

int json_append_event(struct buf *out, const struct schema *schema,
                      const struct event *ev)
{
    size_t i;
    int err = APPEND_LITERAL(out, "{");

    for (i = 0; i < ev->field_count && !err; i++) {
        const struct value *v = &ev->values[i];

        err = append_key(out, i, schema_field_name(schema, i));
        if (err)
            break;
        if (v->kind == VALUE_NULL)
            err = APPEND_LITERAL(out, "null");
        else if (v->kind == VALUE_NUMBER)
            err = append_number(out, v->number);
        else
            err = buf_append_json_string(out, event_string(ev, i));
    }
    return err ? err : APPEND_LITERAL(out, "}");
}
