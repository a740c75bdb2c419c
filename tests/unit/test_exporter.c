/*
 * tests/unit/test_exporter.c - ops/exporter.c and ops/histogram.c.
 *
 * Publishes hand-made samples and checks the exact Prometheus lines
 * (names, labels with escaping, NaN, histogram buckets), the dashboard
 * JSON (null for NaN, history after a sequence number, lag summed) and
 * the HTTP routes, without a server or a broker. Single-threaded.
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
#include "ops/exporter.h"
#include "ops/histogram.h"
#include "tests/unit/testutil.h"

#define T0 1700000000.0 /* a fixed Unix time */

static void sample_fill(struct ops_sample *s, double time_s,
                        uint64_t events)
{
    memset(s, 0, sizeof(*s));
    ops_sample_init_histograms(s);
    s->time_s = time_s;
    s->events_in = events;
    s->predictions = events - 2;
    s->dead_letters = 2;
    s->task = CFG_TASK_BINARY;
    s->scored = events - 2;
    s->accuracy = 0.75;
    s->logloss = 0.5;
    s->auc = NAN;
    s->window_accuracy = 0.8;
    s->learning_rate = 0.5;
    s->model_version = events - 2;
    s->last_snapshot_s = time_s - 10;
    snprintf(s->input_topic, sizeof(s->input_topic), "in");
    s->partition_count = 2;
    s->partitions[0] = (struct ops_partition){0, 90, 100};
    s->partitions[1] = (struct ops_partition){1, 50, 55};
    snprintf(s->drift_detector, sizeof(s->drift_detector), "adwin");
}

static void test_histogram_buckets_and_quantiles(void **state)
{
    static const double bounds[] = {0.1, 1, 10};
    struct histogram h;

    (void)state;
    histogram_init(&h, bounds, 3);
    assert_true(isnan(histogram_quantile(&h, 0.5)));
    histogram_observe(&h, 0.05);
    histogram_observe(&h, 0.1); /* on the bound: le is inclusive */
    histogram_observe(&h, 5);
    histogram_observe(&h, 50);
    histogram_observe(&h, NAN); /* counted as 0 */
    assert_int_equal(h.count, 5);
    assert_int_equal(histogram_cumulative(&h, 0), 3);
    assert_int_equal(histogram_cumulative(&h, 1), 3);
    assert_int_equal(histogram_cumulative(&h, 2), 4);
    assert_int_equal(h.overflow, 1);
    assert_double_near(h.sum, 55.15, 1e-9);
    assert_double_near(histogram_quantile(&h, 0.5), 0.1, 0);
    assert_double_near(histogram_quantile(&h, 0.8), 10, 0);
    assert_true(isinf(histogram_quantile(&h, 1.0)));
}

static void test_exporter_prometheus_lines(void **state)
{
    struct ops_exporter *e = NULL;
    struct ops_sample s;
    struct buf out = {0};

    (void)state;
    assert_int_equal(ops_exporter_new("pipe\"1", "m", &e), 0);
    assert_int_equal(ops_exporter_prometheus(e, T0, &out), 0);
    assert_contains(out.data, "riffle_up{pipeline=\"pipe\\\"1\",model=\"m\"} 1");
    assert_lacks(out.data, "riffle_events_in_total");

    sample_fill(&s, T0, 1002);
    histogram_observe(&s.processing, 0.00003);
    histogram_observe(&s.processing, 0.3);
    ops_sample_count_refusal(&s, "out_of_range", "nswprice");
    ops_sample_count_refusal(&s, "out_of_range", "nswprice");
    ops_sample_count_refusal(&s, "decode_error", NULL);
    s.field_count = 1;
    snprintf(s.fields[0].name, sizeof(s.fields[0].name), "nswprice");
    s.fields[0].missing = 4;
    s.fields[0].rejected = 2;
    s.rewinds = 2;
    s.client_rebuilds = 1;
    s.offsets_past_end = 1;
    s.offsets_before_start = 2;
    s.lost_to_retention = 5000;
    ops_exporter_publish(e, &s);
    buf_reset(&out);
    assert_int_equal(ops_exporter_prometheus(e, T0 + 5, &out), 0);

    assert_contains(out.data, "# TYPE riffle_events_in_total counter\n"
                    "riffle_events_in_total{pipeline=\"pipe\\\"1\","
                    "model=\"m\"} 1002\n");
    assert_contains(out.data, "riffle_refused_events_total{pipeline="
                    "\"pipe\\\"1\",model=\"m\",reason=\"out_of_range\","
                    "field=\"nswprice\"} 2\n");
    assert_contains(out.data, "reason=\"decode_error\",field=\"\"} 1\n");
    assert_contains(out.data, "riffle_field_values_total{pipeline="
                    "\"pipe\\\"1\",model=\"m\",field=\"nswprice\","
                    "outcome=\"missing\"} 4\n");
    assert_contains(out.data, "field=\"nswprice\",outcome=\"rejected\"} 2\n");
    assert_contains(out.data, "field=\"nswprice\",outcome=\"outlier\"} 0\n");
    assert_contains(out.data, "riffle_consumer_lag_messages{pipeline="
                    "\"pipe\\\"1\",model=\"m\",topic=\"in\","
                    "partition=\"1\"} 5\n");
    assert_contains(out.data, "window=\"all\"} 0.75\n");
    assert_contains(out.data, "riffle_progressive_auc{pipeline=\"pipe\\\"1\","
                    "model=\"m\",window=\"all\"} NaN\n");
    assert_contains(out.data, "riffle_snapshot_age_seconds{pipeline="
                    "\"pipe\\\"1\",model=\"m\"} 15\n");
    assert_contains(out.data, "riffle_model_version{pipeline=\"pipe\\\"1\","
                    "model=\"m\"} 1000\n");
    assert_contains(out.data, "# TYPE riffle_batch_rewinds_total counter\n"
                    "riffle_batch_rewinds_total{pipeline=\"pipe\\\"1\","
                    "model=\"m\"} 2\n");
    assert_contains(out.data, "riffle_client_rebuilds_total{pipeline="
                    "\"pipe\\\"1\",model=\"m\"} 1\n");
    assert_contains(out.data, "riffle_snapshot_offsets_past_end_total{"
                    "pipeline=\"pipe\\\"1\",model=\"m\"} 1\n");
    assert_contains(out.data, "riffle_snapshot_offsets_before_start_total{"
                    "pipeline=\"pipe\\\"1\",model=\"m\"} 2\n");
    assert_contains(out.data, "riffle_events_lost_to_retention_total{"
                    "pipeline=\"pipe\\\"1\",model=\"m\"} 5000\n");
    assert_contains(out.data, "# TYPE riffle_event_processing_seconds "
                    "histogram\n");
    assert_contains(out.data, "le=\"5e-05\"} 1\n");
    assert_contains(out.data, "le=\"0.25\"} 1\n");
    assert_contains(out.data, "le=\"+Inf\"} 2\n");
    assert_contains(out.data, "riffle_event_processing_seconds_count{"
                    "pipeline=\"pipe\\\"1\",model=\"m\"} 2\n");
    assert_lacks(out.data, "riffle_progressive_rmse");

    buf_free(&out);
    ops_exporter_destroy(e);
}

static void test_exporter_regression_names(void **state)
{
    struct ops_exporter *e = NULL;
    struct ops_sample s;
    struct buf out = {0};

    (void)state;
    assert_int_equal(ops_exporter_new("p", "m", &e), 0);
    sample_fill(&s, T0, 10);
    s.task = CFG_TASK_REGRESSION;
    s.rmse = 2.5;
    ops_exporter_publish(e, &s);
    assert_int_equal(ops_exporter_prometheus(e, T0, &out), 0);
    assert_contains(out.data, "riffle_progressive_rmse{pipeline=\"p\","
                    "model=\"m\",window=\"all\"} 2.5\n");
    assert_lacks(out.data, "riffle_progressive_accuracy");
    buf_free(&out);
    ops_exporter_destroy(e);
}

static void test_exporter_json_history(void **state)
{
    struct ops_exporter *e = NULL;
    struct ops_sample s;
    struct buf out = {0};

    (void)state;
    assert_int_equal(ops_exporter_new("p", "m", &e), 0);
    sample_fill(&s, T0, 100);
    ops_exporter_publish(e, &s);
    sample_fill(&s, T0 + 0.5, 150); /* too soon: no new point */
    ops_exporter_publish(e, &s);
    sample_fill(&s, T0 + 2, 300);
    ops_exporter_publish(e, &s);

    assert_int_equal(ops_exporter_json(e, 0, T0 + 2, &out), 0);
    assert_contains(out.data, "\"task\":\"binary\"");
    assert_contains(out.data, "\"auc\":null");
    assert_contains(out.data, "\"lag\":15");
    assert_contains(out.data, "{\"seq\":1,");
    /* 200 events over 2 s since the first point */
    assert_contains(out.data, "{\"seq\":2,\"time\":1700000002,"
                    "\"events_in\":300,");
    assert_contains(out.data, "\"rate\":100,");

    buf_reset(&out);
    assert_int_equal(ops_exporter_json(e, 1, T0 + 2, &out), 0);
    assert_lacks(out.data, "{\"seq\":1,");
    assert_contains(out.data, "{\"seq\":2,");
    buf_free(&out);
    ops_exporter_destroy(e);
}

/* After an aborted batch or a client rebuild the learner counts again
 * from the batch's start: a counter that went down would read as a
 * restart to Prometheus (increase() of the drift alarms then fires) and
 * made the history's rate wrap around (some 10^19 events/s). */
static void test_exporter_counters_never_go_down(void **state)
{
    struct ops_exporter *e = NULL;
    struct ops_sample s;
    struct buf out = {0};

    (void)state;
    assert_int_equal(ops_exporter_new("p", "m", &e), 0);
    sample_fill(&s, T0, 1000);
    s.drift_alarms = 5;
    s.clean_passed = 990;
    s.field_count = 1;
    snprintf(s.fields[0].name, sizeof(s.fields[0].name), "nswprice");
    s.fields[0].missing = 7;
    ops_exporter_publish(e, &s);
    /* the batch of the last 50 events dropped, one drift alarm with it */
    sample_fill(&s, T0 + 2, 950);
    s.drift_alarms = 4;
    s.clean_passed = 940;
    s.field_count = 1;
    snprintf(s.fields[0].name, sizeof(s.fields[0].name), "nswprice");
    s.fields[0].missing = 6;
    s.rewinds = 1;
    ops_exporter_publish(e, &s);

    assert_int_equal(ops_exporter_prometheus(e, T0 + 2, &out), 0);
    assert_contains(out.data, "riffle_events_in_total{pipeline=\"p\","
                    "model=\"m\"} 1000\n");
    assert_contains(out.data, "riffle_predictions_total{pipeline=\"p\","
                    "model=\"m\"} 998\n");
    assert_contains(out.data, "riffle_drift_alarms_total{pipeline=\"p\","
                    "model=\"m\"} 5\n");
    assert_contains(out.data, "outcome=\"passed\"} 990\n");
    assert_contains(out.data, "field=\"nswprice\",outcome=\"missing\"} 7\n");
    assert_contains(out.data, "riffle_batch_rewinds_total{pipeline=\"p\","
                    "model=\"m\"} 1\n");
    /* gauges follow the learner back: the model is the restored one */
    assert_contains(out.data, "riffle_model_version{pipeline=\"p\","
                    "model=\"m\"} 948\n");

    buf_reset(&out);
    assert_int_equal(ops_exporter_json(e, 1, T0 + 2, &out), 0);
    assert_contains(out.data, "{\"seq\":2,\"time\":1700000002,"
                    "\"events_in\":1000,");
    assert_contains(out.data, "\"rate\":0,");

    /* once the relearned events pass the old count it moves again */
    sample_fill(&s, T0 + 4, 1100);
    ops_exporter_publish(e, &s);
    buf_reset(&out);
    assert_int_equal(ops_exporter_json(e, 2, T0 + 4, &out), 0);
    assert_contains(out.data, "\"events_in\":1100,");
    assert_contains(out.data, "\"rate\":50,");
    buf_free(&out);
    ops_exporter_destroy(e);
}

static void test_exporter_refusals_and_alerts_stay_bounded(void **state)
{
    struct ops_sample s;
    struct ops_alert a = {0};
    char field[32];
    int i;

    (void)state;
    sample_fill(&s, T0, 10);
    for (i = 0; i < OPS_MAX_REFUSALS + 5; i++) {
        snprintf(field, sizeof(field), "f%d", i);
        ops_sample_count_refusal(&s, "missing_required", field);
    }
    assert_int_equal(s.refusal_count, OPS_MAX_REFUSALS);
    assert_string_equal(s.refusals[OPS_MAX_REFUSALS - 1].field, "(other)");
    assert_int_equal(s.refusals[OPS_MAX_REFUSALS - 1].count, 6);

    for (i = 0; i < OPS_MAX_ALERTS + 3; i++) {
        a.offset = i;
        ops_sample_add_alert(&s, &a);
    }
    assert_int_equal(s.alert_count, OPS_MAX_ALERTS);
    assert_int_equal(s.alerts[0].offset, 3);
    assert_int_equal(s.alerts[OPS_MAX_ALERTS - 1].offset,
                     OPS_MAX_ALERTS + 2);
}

static void test_exporter_routes(void **state)
{
    struct ops_exporter *e = NULL;
    struct http_request req = {.method = "GET", .path = "/metrics",
                               .query = "", .body = ""};
    struct http_response res = {.status = 200, .content_type = "text/plain"};

    (void)state;
    assert_int_equal(ops_exporter_new("p", "m", &e), 0);
    ops_exporter_handle(e, &req, &res);
    assert_int_equal(res.status, 200);
    assert_contains(res.content_type, "version=0.0.4");
    assert_contains(res.body.data, "riffle_up");
    buf_free(&res.body);

    res = (struct http_response){.status = 200, .content_type = "text/plain"};
    req.path = "/";
    ops_exporter_handle(e, &req, &res);
    assert_contains(res.content_type, "text/html");
    assert_contains(res.body.data, "id=\"plot-q1\"");
    buf_free(&res.body);

    res = (struct http_response){.status = 200, .content_type = "text/plain"};
    req.path = "/api/status";
    req.query = "after=7";
    ops_exporter_handle(e, &req, &res);
    assert_contains(res.body.data, "\"history\":[]");
    buf_free(&res.body);

    res = (struct http_response){.status = 200, .content_type = "text/plain"};
    req.path = "/nope";
    ops_exporter_handle(e, &req, &res);
    assert_int_equal(res.status, 404);
    buf_free(&res.body);

    res = (struct http_response){.status = 200, .content_type = "text/plain"};
    req.method = "POST";
    req.path = "/metrics";
    ops_exporter_handle(e, &req, &res);
    assert_int_equal(res.status, 405);
    buf_free(&res.body);
    ops_exporter_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets_and_quantiles),
        cmocka_unit_test(test_exporter_prometheus_lines),
        cmocka_unit_test(test_exporter_regression_names),
        cmocka_unit_test(test_exporter_json_history),
        cmocka_unit_test(test_exporter_counters_never_go_down),
        cmocka_unit_test(test_exporter_refusals_and_alerts_stay_bounded),
        cmocka_unit_test(test_exporter_routes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
