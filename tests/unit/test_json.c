/*
 * tests/unit/test_json.c - Avro values and flat events as JSON lines,
 * schemas/json.c.
 *
 * Each case builds a value of a bundled schema (or a tiny inline one)
 * and compares the printed line with the exact expected text. Numbers
 * are chosen exactly representable in binary, so the expected text does
 * not depend on how many digits the printer uses; one test checks that a
 * number that is not (0.1) still reads back exactly. No broker;
 * single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "common/buf.h"
#include "common/err.h"
#include "schemas/event.h"
#include "schemas/json.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

/* Looks up a field of rec, failing the test when it is absent. */
static avro_value_t field(avro_value_t *rec, const char *name)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        fail_msg("no field %s: %s", name, avro_strerror());
    return f;
}

static void set_string(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f = field(rec, name);

    assert_int_equal(avro_value_set_string(&f, s), 0);
}

static void set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f = field(rec, name);

    assert_int_equal(avro_value_set_long(&f, v), 0);
}

static void set_int(avro_value_t *rec, const char *name, int32_t v)
{
    avro_value_t f = field(rec, name);

    assert_int_equal(avro_value_set_int(&f, v), 0);
}

/* Sets branch 0 (null) or branch 1 (a string) of a ["null", "string"]. */
static void set_optional_string(avro_value_t *rec, const char *name,
                                const char *s)
{
    avro_value_t f = field(rec, name), branch;

    assert_int_equal(avro_value_set_branch(&f, s ? 1 : 0, &branch), 0);
    if (s)
        assert_int_equal(avro_value_set_string(&branch, s), 0);
    else
        assert_int_equal(avro_value_set_null(&branch), 0);
}

static void fill_prediction(avro_value_t *p, const char *label)
{
    avro_value_t f, branch;

    set_string(p, "event_id", "elec2-1");
    set_string(p, "model_name", "elec2");
    set_long(p, "model_version", 42);
    f = field(p, "probability");
    assert_int_equal(avro_value_set_branch(&f, 1, &branch), 0);
    assert_int_equal(avro_value_set_double(&branch, 0.75), 0);
    f = field(p, "value");
    assert_int_equal(avro_value_set_double(&f, 0.75), 0);
    f = field(p, "predicted_class"); /* ["null", "int"]: null for regression */
    assert_int_equal(avro_value_set_branch(&f, 1, &branch), 0);
    assert_int_equal(avro_value_set_int(&branch, 1), 0);
    set_string(p, "predicted_label", "UP");
    set_optional_string(p, "label", label);
    set_string(p, "source_topic", "riffle.elec2.events");
    set_int(p, "source_partition", 0);
    set_long(p, "source_offset", 41);
    set_long(p, "event_timestamp_ms", 1700000000000LL);
    set_long(p, "predicted_at_ms", 1700000000123LL);
    set_optional_string(p, "fields", NULL);
}

/* ---- values -------------------------------------------------------- */

static void test_json_prediction(void **state)
{
    struct schema *s = load_schema_file("schemas/prediction.avsc");
    struct buf out = {0};
    avro_value_t p;

    (void)state;
    assert_int_equal(schema_new_value(s, &p), 0);
    fill_prediction(&p, "DOWN");
    assert_int_equal(json_append_value(&out, &p), 0);
    assert_string_equal(
        out.data,
        "{\"event_id\":\"elec2-1\",\"model_name\":\"elec2\","
        "\"model_version\":42,\"probability\":0.75,\"value\":0.75,"
        "\"predicted_class\":1,"
        "\"predicted_label\":\"UP\",\"label\":\"DOWN\","
        "\"source_topic\":\"riffle.elec2.events\",\"source_partition\":0,"
        "\"source_offset\":41,\"event_timestamp_ms\":1700000000000,"
        "\"predicted_at_ms\":1700000000123,\"fields\":null}");
    assert_int_equal(out.len, strlen(out.data));

    avro_value_decref(&p);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_prediction_null_label(void **state)
{
    struct schema *s = load_schema_file("schemas/prediction.avsc");
    struct buf out = {0};
    avro_value_t p;

    (void)state;
    assert_int_equal(schema_new_value(s, &p), 0);
    fill_prediction(&p, NULL);
    assert_int_equal(json_append_value(&out, &p), 0);
    assert_contains(out.data, ",\"label\":null,");

    avro_value_decref(&p);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_appends_to_existing_text(void **state)
{
    struct schema *s = load_schema_json(
        "{\"type\": \"record\", \"name\": \"One\", \"fields\": ["
        "  {\"name\": \"n\", \"type\": \"long\"}]}");
    struct buf out = {0};
    avro_value_t v, f;

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);
    f = field(&v, "n");
    assert_int_equal(avro_value_set_long(&f, -9007199254740993LL), 0);
    assert_int_equal(buf_append(&out, "x ", 2), 0);
    assert_int_equal(json_append_value(&out, &v), 0);
    assert_string_equal(out.data, "x {\"n\":-9007199254740993}");

    avro_value_decref(&v);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_dead_letter_bytes_as_count(void **state)
{
    struct schema *s = load_schema_file("schemas/dead_letter.avsc");
    struct buf out = {0};
    avro_value_t d, f, branch;

    (void)state;
    assert_int_equal(schema_new_value(s, &d), 0);
    set_string(&d, "reason", "out_of_range");
    set_optional_string(&d, "field", NULL);
    set_string(&d, "detail", "x = 2 is outside [0, 1]");
    set_optional_string(&d, "event_id", "e-1");
    set_string(&d, "source_topic", "t");
    set_int(&d, "source_partition", 3);
    set_long(&d, "source_offset", 5);
    set_long(&d, "source_timestamp_ms", 6);
    f = field(&d, "payload");
    assert_int_equal(avro_value_set_branch(&f, 1, &branch), 0);
    assert_int_equal(avro_value_set_bytes(&branch, "abc", 3), 0);
    set_long(&d, "dead_lettered_at_ms", 7);
    set_optional_string(&d, "payload_encryption", "aes-256-gcm");

    assert_int_equal(json_append_value(&out, &d), 0);
    assert_string_equal(
        out.data,
        "{\"reason\":\"out_of_range\",\"field\":null,"
        "\"detail\":\"x = 2 is outside [0, 1]\",\"event_id\":\"e-1\","
        "\"source_topic\":\"t\",\"source_partition\":3,\"source_offset\":5,"
        "\"source_timestamp_ms\":6,\"payload\":{\"bytes\":3},"
        "\"dead_lettered_at_ms\":7,\"payload_encryption\":\"aes-256-gcm\"}");

    avro_value_decref(&d);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_array_float_boolean(void **state)
{
    struct schema *s = load_schema_json(
        "{\"type\": \"record\", \"name\": \"A\", \"fields\": ["
        "  {\"name\": \"xs\", \"type\": {\"type\": \"array\","
        "                               \"items\": \"int\"}},"
        "  {\"name\": \"empty\", \"type\": {\"type\": \"array\","
        "                                  \"items\": \"string\"}},"
        "  {\"name\": \"f\", \"type\": \"float\"},"
        "  {\"name\": \"b\", \"type\": \"boolean\"},"
        "  {\"name\": \"no\", \"type\": \"boolean\"}]}");
    struct buf out = {0};
    avro_value_t v, f, item;
    int i;

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);
    f = field(&v, "xs");
    for (i = 1; i <= 3; i++) {
        assert_int_equal(avro_value_append(&f, &item, NULL), 0);
        assert_int_equal(avro_value_set_int(&item, -i), 0);
    }
    f = field(&v, "f");
    assert_int_equal(avro_value_set_float(&f, 0.5f), 0);
    f = field(&v, "b");
    assert_int_equal(avro_value_set_boolean(&f, 1), 0);
    f = field(&v, "no");
    assert_int_equal(avro_value_set_boolean(&f, 0), 0);

    assert_int_equal(json_append_value(&out, &v), 0);
    assert_string_equal(out.data, "{\"xs\":[-1,-2,-3],\"empty\":[],"
                                  "\"f\":0.5,\"b\":true,\"no\":false}");

    avro_value_decref(&v);
    buf_free(&out);
    schema_destroy(s);
}

/* ---- flat events --------------------------------------------------- */

static void fill_elec2(const struct schema *s, struct event *ev)
{
    event_reset(ev, schema_field_count(s));
    assert_int_equal(event_set_string(ev, 0, "elec2-1", 7), 0);
    event_set_number(ev, 1, 0.0);  /* date */
    event_set_number(ev, 2, 2.0);  /* day */
    event_set_number(ev, 3, 0.5);  /* period */
    event_set_number(ev, 4, 0.25); /* nswprice */
    event_set_null(ev, 5);         /* nswdemand */
    event_set_number(ev, 6, 0.125);
    event_set_number(ev, 7, 1.0);
    event_set_number(ev, 8, -0.5);
    assert_int_equal(event_set_string(ev, 9, "UP", 2), 0);
}

static void test_json_flat_event(void **state)
{
    struct schema *s = load_schema_file("schemas/elec2.avsc");
    struct event ev;
    struct buf out = {0};

    (void)state;
    event_init(&ev);
    fill_elec2(s, &ev);
    assert_int_equal(json_append_event(&out, s, &ev), 0);
    assert_string_equal(
        out.data,
        "{\"event_id\":\"elec2-1\",\"date\":0,\"day\":2,\"period\":0.5,"
        "\"nswprice\":0.25,\"nswdemand\":null,\"vicprice\":0.125,"
        "\"vicdemand\":1,\"transfer\":-0.5,\"class\":\"UP\"}");

    event_free(&ev);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_flat_event_escapes_and_non_finite(void **state)
{
    struct schema *s = load_schema_file("schemas/elec2.avsc");
    static const char id[] = "a\"b\\c\nd\te";
    struct event ev;
    struct buf out = {0};

    (void)state;
    event_init(&ev);
    fill_elec2(s, &ev);
    assert_int_equal(event_set_string(&ev, 0, id, strlen(id)), 0);
    event_set_number(&ev, 1, NAN);
    event_set_number(&ev, 3, INFINITY);
    event_set_number(&ev, 4, -INFINITY);
    assert_int_equal(json_append_event(&out, s, &ev), 0);
    assert_string_equal(
        out.data,
        "{\"event_id\":\"a\\\"b\\\\c\\u000ad\\u0009e\",\"date\":null,"
        "\"day\":2,\"period\":null,\"nswprice\":null,\"nswdemand\":null,"
        "\"vicprice\":0.125,\"vicdemand\":1,\"transfer\":-0.5,"
        "\"class\":\"UP\"}");

    event_free(&ev);
    buf_free(&out);
    schema_destroy(s);
}

static void test_json_number_reads_back_exactly(void **state)
{
    struct schema *s = load_schema_file("schemas/elec2.avsc");
    static const double xs[] = {0.1, 0.056443, 1e-300, 123456789.125,
                                -2.5e17};
    struct event ev;
    struct buf out = {0};
    size_t i;

    (void)state;
    event_init(&ev);
    for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        const char *at;

        fill_elec2(s, &ev);
        event_set_number(&ev, 4, xs[i]);
        buf_reset(&out);
        assert_int_equal(json_append_event(&out, s, &ev), 0);
        at = strstr(out.data, "\"nswprice\":");
        assert_non_null(at);
        if (strtod(at + strlen("\"nswprice\":"), NULL) != xs[i])
            fail_msg("%.17g printed as %s", xs[i], out.data);
    }

    event_free(&ev);
    buf_free(&out);
    schema_destroy(s);
}

/* A value class that says what type it holds but cannot hand the value
 * out: every avro_value_get_*() on it fails with EINVAL. */
static avro_type_t unreadable_type;

static avro_type_t unreadable_get_type(const avro_value_iface_t *iface,
                                       const void *self)
{
    (void)iface;
    (void)self;
    return unreadable_type;
}

/* A getter that fails is an error, never a print of whatever the output
 * variable held. */
static void test_json_refuses_value_it_cannot_read(void **state)
{
    static const avro_type_t types[] = {AVRO_BOOLEAN, AVRO_INT32,
                                        AVRO_INT64,   AVRO_FLOAT,
                                        AVRO_DOUBLE,  AVRO_STRING,
                                        AVRO_BYTES};
    avro_value_iface_t iface;
    avro_value_t v;
    struct buf out = {0};
    size_t i;

    (void)state;
    memset(&iface, 0, sizeof(iface));
    iface.get_type = unreadable_get_type;
    v.iface = &iface;
    v.self = NULL;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        unreadable_type = types[i];
        buf_reset(&out);
        if (json_append_value(&out, &v) != RIFFLE_ERR_SCHEMA)
            fail_msg("type %d printed as \"%s\"", (int)types[i],
                     out.data ? out.data : "");
    }
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_prediction),
        cmocka_unit_test(test_json_prediction_null_label),
        cmocka_unit_test(test_json_appends_to_existing_text),
        cmocka_unit_test(test_json_dead_letter_bytes_as_count),
        cmocka_unit_test(test_json_array_float_boolean),
        cmocka_unit_test(test_json_flat_event),
        cmocka_unit_test(test_json_flat_event_escapes_and_non_finite),
        cmocka_unit_test(test_json_number_reads_back_exactly),
        cmocka_unit_test(test_json_refuses_value_it_cannot_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
