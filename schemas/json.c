/*
 * schemas/json.c - Avro values to JSON lines, see json.h.
 */
#include "schemas/json.h"

#include <math.h>
#include <stdio.h>

#include "common/err.h"
#include "common/numfmt.h"

static int append_number(struct buf *out, double x)
{
    char text[NUMFMT_MAX];

    if (!isfinite(x))
        return buf_append(out, "null", 4); /* JSON has no NaN or inf */
    return buf_printf(out, "%s", numfmt_double(x, text, sizeof(text)));
}

static int append_record(struct buf *out, avro_value_t *v)
{
    size_t n, i;
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = buf_append(out, "{", 1);
    for (i = 0; i < n && !err; i++) {
        avro_value_t field;
        const char *name;

        if (avro_value_get_by_index(v, i, &field, &name))
            return RIFFLE_ERR_SCHEMA;
        if ((i > 0 && (err = buf_append(out, ",", 1))) ||
            (err = buf_append_json_string(out, name)) ||
            (err = buf_append(out, ":", 1)))
            return err;
        err = json_append_value(out, &field);
    }
    return err ? err : buf_append(out, "}", 1);
}

static int append_array(struct buf *out, avro_value_t *v)
{
    size_t n, i;
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = buf_append(out, "[", 1);
    for (i = 0; i < n && !err; i++) {
        avro_value_t item;

        if (avro_value_get_by_index(v, i, &item, NULL))
            return RIFFLE_ERR_SCHEMA;
        if (i > 0 && (err = buf_append(out, ",", 1)))
            return err;
        err = json_append_value(out, &item);
    }
    return err ? err : buf_append(out, "]", 1);
}

static int append_map(struct buf *out, avro_value_t *v)
{
    size_t n, i;
    int err = avro_value_get_size(v, &n) ? RIFFLE_ERR_SCHEMA : 0;

    if (!err)
        err = buf_append(out, "{", 1);
    for (i = 0; i < n && !err; i++) {
        avro_value_t item;
        const char *key;

        if (avro_value_get_by_index(v, i, &item, &key))
            return RIFFLE_ERR_SCHEMA;
        if (i > 0)
            err = buf_append(out, ",", 1);
        if (!err)
            err = buf_append_json_string(out, key);
        if (!err)
            err = buf_append(out, ":", 1);
        if (!err)
            err = json_append_value(out, &item);
    }
    return err ? err : buf_append(out, "}", 1);
}

int json_append_value(struct buf *out, avro_value_t *v)
{
    int32_t i32;
    int64_t i64;
    double d;
    float f;
    const char *s;
    const void *bytes;
    size_t size;
    avro_value_t branch;

    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return buf_append(out, "null", 4);
    case AVRO_BOOLEAN:
        avro_value_get_boolean(v, &i32);
        return buf_append(out, i32 ? "true" : "false", i32 ? 4 : 5);
    case AVRO_INT32:
        avro_value_get_int(v, &i32);
        return buf_printf(out, "%d", i32);
    case AVRO_INT64:
        avro_value_get_long(v, &i64);
        return buf_printf(out, "%lld", (long long)i64);
    case AVRO_FLOAT:
        avro_value_get_float(v, &f);
        return append_number(out, f);
    case AVRO_DOUBLE:
        avro_value_get_double(v, &d);
        return append_number(out, d);
    case AVRO_STRING:
        avro_value_get_string(v, &s, &size);
        return buf_append_json_string(out, s);
    case AVRO_BYTES:
        avro_value_get_bytes(v, &bytes, &size);
        return buf_printf(out, "{\"bytes\":%zu}", size);
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
        return RIFFLE_ERR_SCHEMA;
    }
}

int json_append_event(struct buf *out, const struct schema *schema,
                      const struct event *ev)
{
    size_t i;
    int err = buf_append(out, "{", 1);

    for (i = 0; i < ev->field_count && !err; i++) {
        const struct value *v = &ev->values[i];

        if ((i > 0 && (err = buf_append(out, ",", 1))) ||
            (err = buf_append_json_string(out,
                                          schema_field_name(schema, i))) ||
            (err = buf_append(out, ":", 1)))
            return err;
        if (v->kind == VALUE_NULL)
            err = buf_append(out, "null", 4);
        else if (v->kind == VALUE_NUMBER)
            err = append_number(out, v->number);
        else
            err = buf_append_json_string(out, event_string(ev, i));
    }
    return err ? err : buf_append(out, "}", 1);
}
