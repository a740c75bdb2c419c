/*
 * tests/unit/test_outputs.c - the prediction records of
 * producers/outputs.c.
 *
 * Predictions of the bundled schema are written by the flat encoder of
 * schemas/, other schemas by avro-c generic values; both must give the
 * same bytes for every kind of result (binary, multiclass, regression,
 * with and without a label, longs past 2^53), and the bytes must decode
 * to the values given. The publisher is never connected: nothing is
 * sent. No broker; single-threaded.
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

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "producers/outputs.h"
#include "producers/publisher.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
#define ELEC2_CFG "config/elec2.cfg"
#define PREDICTION_AVSC "schemas/prediction.avsc"
#define NOBODY "127.0.0.1:1" /* never contacted: nothing is sent */
#define NOW_MS 1764806400123LL

struct world {
    struct cfg cfg;
    struct publisher *pub;
    struct outputs *out;
    struct schema *prediction;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char errstr[ERRSTR_SIZE] = "";
    int err;

    if (!w)
        return -1;
    err = cfg_load_file(&w->cfg, ELEC2_CFG, errstr, sizeof(errstr));
    if (!err)
        err = publisher_new(NOBODY, "riffle-test", &w->pub, errstr,
                            sizeof(errstr));
    if (!err)
        err = outputs_new(&w->cfg, w->pub, &w->out, errstr, sizeof(errstr));
    if (!err)
        err = schema_load_file(PREDICTION_AVSC, &w->prediction, errstr,
                               sizeof(errstr));
    if (err) {
        fprintf(stderr, "setup: %s\n", errstr);
        return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    outputs_destroy(w->out);
    publisher_destroy(w->pub);
    schema_destroy(w->prediction);
    free(w);
    return 0;
}

static struct source_ref source(int64_t offset)
{
    struct source_ref src = {"riffle.elec2.events", 3, offset,
                             1764806400000LL, NULL, 0, NULL, 0};

    return src;
}

/* Encodes r both ways, checks the bytes are the same, and decodes them
 * into ev. */
static void encode_both(struct world *w, const struct source_ref *src,
                        const struct online_result *r, struct event *ev)
{
    struct buf flat = {0}, generic = {0};
    char errstr[ERRSTR_SIZE] = "";

    assert_int_equal(outputs_encode_prediction(w->out, src, r, NOW_MS, 0,
                                               &flat, errstr,
                                               sizeof(errstr)),
                     0);
    assert_int_equal(outputs_encode_prediction(w->out, src, r, NOW_MS, 1,
                                               &generic, errstr,
                                               sizeof(errstr)),
                     0);
    assert_int_equal(flat.len, generic.len);
    assert_memory_equal(flat.data, generic.data, flat.len);
    assert_int_equal(schema_decode_event(w->prediction, flat.data, flat.len,
                                         ev, errstr, sizeof(errstr)),
                     0);
    buf_free(&flat);
    buf_free(&generic);
}

static const char *string_of(const struct event *ev, const char *field,
                             const struct schema *s)
{
    return event_string(ev, (size_t)schema_field_index(s, field));
}

static const struct value *value_of(const struct event *ev,
                                    const char *field, const struct schema *s)
{
    return &ev->values[schema_field_index(s, field)];
}

static void test_outputs_prediction_binary_flat_equals_generic(void **state)
{
    struct world *w = *state;
    struct source_ref src = source(41);
    struct online_result r;
    struct event ev;

    assert_int_equal(outputs_prediction_is_flat(w->out), 1);
    memset(&r, 0, sizeof(r));
    r.event_id = "elec2-42";
    r.label_text = "UP";
    r.probability = 0.8125;
    r.value = 0.8125;
    r.predicted_class = 1;
    r.model_version = 41;
    event_init(&ev);
    encode_both(w, &src, &r, &ev);

    assert_string_equal(string_of(&ev, "event_id", w->prediction),
                        "elec2-42");
    assert_string_equal(string_of(&ev, "model_name", w->prediction),
                        "elec2");
    assert_string_equal(string_of(&ev, "predicted_label", w->prediction),
                        "UP");
    assert_string_equal(string_of(&ev, "label", w->prediction), "UP");
    assert_double_near(value_of(&ev, "probability", w->prediction)->number,
                       0.8125, 0.0);
    assert_double_near(value_of(&ev, "source_offset", w->prediction)->number,
                       41.0, 0.0);
    assert_double_near(value_of(&ev, "predicted_at_ms",
                                w->prediction)->number,
                       (double)NOW_MS, 0.0);
    event_free(&ev);
}

/* No label, no probability (NaN), class 0: the nulls of both unions. */
static void test_outputs_prediction_nulls_flat_equals_generic(void **state)
{
    struct world *w = *state;
    struct source_ref src = source(0);
    struct online_result r;
    struct event ev;

    memset(&r, 0, sizeof(r));
    r.event_id = "e";
    r.probability = NAN;
    r.value = -2.5;
    event_init(&ev);
    encode_both(w, &src, &r, &ev);

    assert_int_equal(value_of(&ev, "probability", w->prediction)->kind,
                     VALUE_NULL);
    assert_int_equal(value_of(&ev, "label", w->prediction)->kind,
                     VALUE_NULL);
    assert_string_equal(string_of(&ev, "predicted_label", w->prediction),
                        "DOWN");
    event_free(&ev);
}

/* A value the direct writer refuses (an event id that is not UTF-8) is
 * reported by the flat encoder, naming the field, and out is left as it
 * was. */
static void test_outputs_prediction_bad_string_is_explained(void **state)
{
    struct world *w = *state;
    struct source_ref src = source(3);
    struct online_result r;
    struct buf out = {0};
    char errstr[ERRSTR_SIZE] = "";

    memset(&r, 0, sizeof(r));
    r.event_id = "e\xff";
    r.probability = 0.5;
    r.value = 0.5;
    assert_int_equal(buf_append(&out, "kept", 4), 0);
    assert_int_equal(outputs_encode_prediction(w->out, &src, &r, NOW_MS, 0,
                                               &out, errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_non_null(strstr(errstr, "event_id"));
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "kept", 4);
    buf_free(&out);
}

/* Longs beyond what a double holds exactly take the generic path. */
static void test_outputs_prediction_huge_longs(void **state)
{
    struct world *w = *state;
    struct source_ref src = source(INT64_C(1) << 60);
    struct online_result r;
    struct event ev;

    memset(&r, 0, sizeof(r));
    r.event_id = "elec2-1";
    r.probability = 0.25;
    r.value = 0.25;
    r.model_version = (UINT64_C(1) << 53) + 1;
    event_init(&ev);
    encode_both(w, &src, &r, &ev);
    event_free(&ev);
}

static void test_outputs_prediction_other_tasks(void **state)
{
    struct world *w = *state;
    struct source_ref src = source(7);
    struct online_result r;
    struct event ev;

    memset(&r, 0, sizeof(r));
    r.event_id = "elec2-8";
    r.probability = 0.5;
    r.value = 0.5;
    r.predicted_class = 2;
    snprintf(w->cfg.classes[2], sizeof(w->cfg.classes[2]), "%s", "third");
    w->cfg.task = CFG_TASK_MULTICLASS;
    event_init(&ev);
    encode_both(w, &src, &r, &ev);
    assert_string_equal(string_of(&ev, "predicted_label", w->prediction),
                        "third");
    assert_int_equal(value_of(&ev, "predicted_class", w->prediction)->kind,
                     VALUE_NUMBER);
    assert_float_equal(
        value_of(&ev, "predicted_class", w->prediction)->number, 2.0, 0.0);

    r.probability = NAN;
    r.value = 1234.5;
    r.predicted_class = 0;
    w->cfg.task = CFG_TASK_REGRESSION;
    encode_both(w, &src, &r, &ev);
    assert_string_equal(string_of(&ev, "predicted_label", w->prediction),
                        "1234.5");
    /* A regression has no class: null, as its probability. */
    assert_int_equal(value_of(&ev, "predicted_class", w->prediction)->kind,
                     VALUE_NULL);
    assert_int_equal(value_of(&ev, "probability", w->prediction)->kind,
                     VALUE_NULL);
    w->cfg.task = CFG_TASK_BINARY;
    event_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs_prediction_binary_flat_equals_generic),
        cmocka_unit_test(test_outputs_prediction_nulls_flat_equals_generic),
        cmocka_unit_test(test_outputs_prediction_huge_longs),
        cmocka_unit_test(test_outputs_prediction_bad_string_is_explained),
        cmocka_unit_test(test_outputs_prediction_other_tasks),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
