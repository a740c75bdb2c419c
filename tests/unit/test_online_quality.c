/*
 * tests/unit/test_online_quality.c - the pipeline-wide cleaning rules of
 * learner/online.c: duplicate ids within cleaning.dedup_window, and late
 * and out-of-order events by event time with each on_late action, at the
 * boundary of the allowed lateness; the watermark moves only with
 * learned events. No broker; single-threaded.
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
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/online.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

static const char quality_schema[] =
    "{\"type\": \"record\", \"name\": \"Q\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"ts\", \"type\": [\"null\", \"long\"]},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"y\", \"type\": [\"null\", \"string\"]}"
    "]}";

/* %s: the cleaning group's body. */
static const char quality_cfg[] =
    "name = \"quality\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"ts\"; kind = \"ignore\"; },\n"
    "  { name = \"x\"; kind = \"numeric\"; },\n"
    "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; }\n"
    ");\n"
    "learner = { model_name = \"quality\"; bits = 10; };\n"
    "cleaning = { %s };\n";

struct fixture {
    struct online_fixture on;
    struct online_result res;
};
_Static_assert(offsetof(struct fixture, on) == 0, "on first");

static int fixture_open(void **state, const char *cleaning)
{
    char text[2048];

    snprintf(text, sizeof(text), quality_cfg, cleaning);
    return online_fixture_setup(state, sizeof(struct fixture), "quality",
                                quality_schema, text);
}

static int setup_dedup(void **state)
{
    return fixture_open(state, "dedup_window = 2;");
}

static int setup_late_reject(void **state)
{
    return fixture_open(state, "event_time = \"ts\"; allowed_lateness = 0.5;"
                               " on_late = \"reject\";");
}

static int setup_late_route(void **state)
{
    return fixture_open(state, "event_time = \"ts\"; event_time_unit = "
                               "\"s\"; allowed_lateness = 10; on_late = "
                               "\"route\"; late_topic = \"late\";");
}

static int setup_late_accept(void **state)
{
    return fixture_open(state, "event_time = \"ts\";");
}


/* Runs one event; label "1", or "bad" (refused by cleaning) when bad. */
static struct online_result *run(struct fixture *fx, const char *id,
                                 double ts, int bad)
{
    const char *label = bad ? "bad" : "1";

    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    assert_int_equal(event_set_string(&fx->on.ev, 0, id, strlen(id)), 0);
    if (!isnan(ts))
        event_set_number(&fx->on.ev, 1, ts);
    event_set_number(&fx->on.ev, 2, 0.5);
    assert_int_equal(event_set_string(&fx->on.ev, 3, label, strlen(label)), 0);
    assert_int_equal(online_process_event(fx->on.ol, &fx->on.ev, &fx->res), 0);
    return &fx->res;
}

enum outcome { PREDICTED, DEAD_LETTER, DUPLICATE, LATE };

static enum outcome outcome_of(const struct online_result *r)
{
    if (r->duplicate)
        return DUPLICATE;
    if (r->late)
        return LATE;
    return r->dead_letter ? DEAD_LETTER : PREDICTED;
}

static void expect(struct fixture *fx, const char *id, double ts, int bad,
                   enum outcome want)
{
    assert_int_equal(outcome_of(run(fx, id, ts, bad)), want);
}

static void expect_json(const struct fixture *fx, const char *want)
{
    struct buf b = {0};

    assert_int_equal(online_cleaning_json(fx->on.ol, &b), 0);
    assert_string_equal(b.data ? b.data : "", want);
    buf_free(&b);
}

static void test_online_duplicates_in_window(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "a", NAN, 0, PREDICTED);
    expect(fx, "a", NAN, 0, DUPLICATE);
    expect(fx, "b", NAN, 1, DEAD_LETTER); /* refused: not remembered, */
    expect(fx, "b", NAN, 1, DEAD_LETTER); /* so judged again */
    expect(fx, "b", NAN, 0, PREDICTED);   /* and learned once fixed */
    expect(fx, "b", NAN, 0, DUPLICATE);
    expect(fx, "a", NAN, 0, DUPLICATE);   /* window 2: a, b */
    expect(fx, "c", NAN, 0, PREDICTED);   /* forgets a */
    expect(fx, "a", NAN, 0, PREDICTED);
    assert_int_equal(online_duplicate_count(fx->on.ol), 3);
    assert_int_equal(online_dead_letter_count(fx->on.ol), 2);
    /* a duplicate moves no cleaning counter: y rejected twice */
    expect_json(fx, "\"y.rejected\":2,\"duplicates\":3");
}

/* An id-less event is left to cleaning, never taken for a duplicate. */
static void test_online_empty_id_not_deduplicated(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "", NAN, 0, DEAD_LETTER);
    expect(fx, "", NAN, 0, DEAD_LETTER);
    assert_string_equal(fx->res.verdict.reason, CLEAN_REASON_MISSING);
    assert_int_equal(online_duplicate_count(fx->on.ol), 0);
}

static void test_online_late_reject_boundary(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "e1", 1000, 0, PREDICTED);   /* watermark 1000 ms */
    expect(fx, "e2", 500, 0, PREDICTED);    /* 500 behind: allowed */
    expect(fx, "e3", 499, 0, DEAD_LETTER);  /* 501 behind: late */
    assert_string_equal(fx->res.verdict.reason, ONLINE_REASON_LATE);
    assert_string_equal(fx->res.verdict.field, "ts");
    assert_contains(fx->res.verdict.detail, "501 ms behind");
    expect(fx, "e4", 1000, 0, PREDICTED);   /* equal: not behind */
    expect(fx, "e5", NAN, 0, PREDICTED);    /* no time: not judged */
    expect_json(fx, "\"late\":1,\"out_of_order\":1");
}

/* A refused event's time does not move the watermark. */
static void test_online_watermark_moves_with_learned_only(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "e1", 1000, 0, PREDICTED);
    expect(fx, "e2", 1e12, 1, DEAD_LETTER); /* refused by cleaning */
    expect(fx, "e3", 1001, 0, PREDICTED);   /* not late */
    expect(fx, "e4", 501, 0, PREDICTED);    /* 500 behind 1001 */
    expect(fx, "e5", 500, 0, DEAD_LETTER);
    assert_string_equal(fx->res.verdict.reason, ONLINE_REASON_LATE);
}

/* A learned event with a valid but wild time (year 144,000) moves the
 * watermark at most to the wall clock: the events after it, at the real
 * time, are not late. Before, every later event was refused as late. */
static void test_online_future_time_moves_watermark_to_now(void **state)
{
    struct fixture *fx = *state;
    const double now_ms = (double)time(NULL) * 1000.0;

    expect(fx, "e1", now_ms - 60000.0, 0, PREDICTED);
    expect(fx, "e2", 4e15, 0, PREDICTED);
    expect(fx, "e3", now_ms + 5000.0, 0, PREDICTED);
    expect(fx, "e4", now_ms + 5100.0, 0, PREDICTED);
    expect_json(fx, "\"late\":0,\"out_of_order\":0");
}

static void test_online_late_route_in_seconds(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "e1", 100, 0, PREDICTED);
    expect(fx, "e2", 90, 0, PREDICTED);     /* 10 s behind: allowed */
    expect(fx, "e3", 89.999, 0, LATE);      /* routed, not refused */
    assert_int_equal(fx->res.dead_letter, 0);
    assert_string_equal(fx->res.event_id, "e3");
    assert_int_equal(online_dead_letter_count(fx->on.ol), 0);
    expect_json(fx, "\"late\":1,\"out_of_order\":1");
}

static void test_online_late_accept_counts(void **state)
{
    struct fixture *fx = *state;

    expect(fx, "e1", 5000, 0, PREDICTED);
    expect(fx, "e2", 1, 0, PREDICTED);      /* late, but accepted */
    expect(fx, "e3", 4999, 0, PREDICTED);   /* lateness 0: late too */
    expect_json(fx, "\"late\":2,\"out_of_order\":0");
}

/* Every field a reader looks at is set for each event, whatever the
 * result held before: garbage, or the refusal of the event before it
 * (process_event() clears the verdict's texts by their first byte). */
static void test_online_result_cleared_between_events(void **state)
{
    struct fixture *fx = *state;
    const struct online_result *r;

    memset(&fx->res, 0xa5, sizeof(fx->res));
    r = run(fx, "e-1", 1.0, 1);
    assert_int_equal(r->dead_letter, 1);
    assert_non_null(r->verdict.reason);
    assert_string_equal(r->verdict.field, "y");
    assert_true(r->verdict.detail[0] != '\0');

    r = run(fx, "e-2", 2.0, 0);
    assert_int_equal(r->dead_letter, 0);
    assert_int_equal(r->duplicate, 0);
    assert_int_equal(r->late, 0);
    assert_int_equal(r->enrichment, 0);
    assert_null(r->verdict.reason);
    assert_string_equal(r->verdict.field, "");
    assert_string_equal(r->verdict.detail, "");
    assert_string_equal(r->event_id, "e-2");
    assert_string_equal(r->label_text, "1");
    assert_float_equal(r->label, 1.0, 0.0);
    assert_float_equal(r->probability, 0.5, 0.0); /* a fresh model */
    assert_float_equal(r->value, 0.5, 0.0);
    assert_int_equal(r->predicted_class, 1);
    assert_int_equal(r->model_version, 0);
    assert_int_equal(r->carried_count, 0);
    assert_int_equal(r->drift, 0);
    assert_int_equal(r->pending, 0);

    memset(&fx->res, 0xa5, sizeof(fx->res));
    r = run(fx, "e-3", 3.0, 0);
    assert_int_equal(r->dead_letter, 0);
    assert_null(r->verdict.reason);
    assert_string_equal(r->verdict.detail, "");
    assert_int_equal(r->model_version, 1);
    assert_int_equal(r->carried_count, 0);
    assert_int_equal(r->drift, 0);
    assert_int_equal(r->pending, 0);
}

static void expect_cfg_error(const char *cleaning, const char *part)
{
    char dir[64], path[128], text[2048], errstr[TESTUTIL_ERRSTR_SIZE];
    struct cfg *cfg = calloc(1, sizeof(*cfg));

    assert_non_null(cfg);
    assert_non_null(temp_dir_new(dir, sizeof(dir), "qualitycfg"));
    snprintf(path, sizeof(path), "%s/bad.cfg", dir);
    snprintf(text, sizeof(text), quality_cfg, cleaning);
    assert_int_equal(load_cfg_text(cfg, path, text, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, part);
    (void)unlink(path);
    (void)rmdir(dir);
    free(cfg);
}

static void test_online_quality_config_errors(void **state)
{
    (void)state;
    expect_cfg_error("dedup_window = -1;", "cleaning.dedup_window: -1 is "
                     "out of range");
    expect_cfg_error("dedup_window = 16777217;", "out of range");
    expect_cfg_error("on_late = \"reject\";", "cleaning.event_time: required");
    expect_cfg_error("event_time = \"nope\";", "\"nope\" is not a "
                     "configured field");
    expect_cfg_error("event_time = \"ts\"; on_late = \"route\";",
                     "cleaning.late_topic: on_late = \"route\" and "
                     "late_topic go together");
    expect_cfg_error("event_time = \"ts\"; late_topic = \"l\";",
                     "go together");
    expect_cfg_error("event_time = \"ts\"; event_time_unit = \"min\";",
                     "expected one of \"ms\", \"s\"");
    expect_cfg_error("event_time = \"ts\"; allowed_lateness = -1;",
                     "out of range");
    expect_cfg_error("bogus = 1;", "cleaning.bogus: unknown setting");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_online_duplicates_in_window,
                                        setup_dedup, online_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_online_empty_id_not_deduplicated,
                                        setup_dedup, online_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_online_late_reject_boundary,
                                        setup_late_reject, online_fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_online_watermark_moves_with_learned_only, setup_late_reject,
            online_fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_online_future_time_moves_watermark_to_now, setup_late_reject,
            online_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_online_late_route_in_seconds,
                                        setup_late_route, online_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_online_late_accept_counts,
                                        setup_late_accept, online_fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_online_result_cleared_between_events, setup_late_accept,
            online_fixture_teardown),
        cmocka_unit_test(test_online_quality_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
