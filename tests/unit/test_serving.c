/*
 * tests/unit/test_serving.c - the Kafka-free parts of `riffle serve`:
 * the hot-swapped model slot (serving/model_slot.c) and the JSON
 * requests and answers of the HTTP endpoint (serving/request_json.c),
 * and a replica's counters and their Prometheus text
 * (serving/serve_stats.c).
 *
 * Models are learners over config/elec2.cfg that learned a known number
 * of events, so each one's version is known. One test swaps models
 * while another thread scores without pause, and checks that every
 * prediction names a model that was installed, in installation order;
 * run under ASan it also shows that a replaced model is freed only after
 * its last user. No broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/online.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"
#include "serving/request_json.h"
#include "serving/serve_stats.h"
#include "tests/unit/testutil.h"

#define ELEC2_CFG "config/elec2.cfg"
#define SWAPS 12          /* models installed while a thread scores */
#define EVENTS_PER_SWAP 5 /* each model learned this many more events */

/* elec2's numeric fields are required (they have a range), day too */
#define NUMBERS_JSON                                                     \
    "\"date\":0.5,\"period\":0.25,\"nswdemand\":0.4,\"vicprice\":0.003,"   \
    "\"vicdemand\":0.42,\"transfer\":0.41"
#define EVENT_JSON \
    "{\"event_id\":\"e1\",\"day\":3,\"nswprice\":0.06," NUMBERS_JSON "}"

struct world {
    struct cfg cfg;
    struct schema *input;
};

static struct world world;

static int group_setup(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];

    (void)state;
    if (cfg_load_file(&world.cfg, ELEC2_CFG, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "%s\n", errstr);
        return -1;
    }
    world.input = load_schema_file(world.cfg.schema_path);
    return world.input ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    schema_destroy(world.input);
    return 0;
}

static void parse_ok(const char *json, struct event *ev)
{
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    int err = request_json_to_event(world.input, json, strlen(json), ev,
                                    errstr, sizeof(errstr));

    if (err)
        print_error("%s: %s\n", json, errstr);
    assert_int_equal(err, 0);
}

/* A learner that has learned n labelled events: version n. */
static struct online_learner *learner_after(int n)
{
    char errstr[TESTUTIL_ERRSTR_SIZE], json[512];
    struct online_learner *ol = NULL;
    struct online_result res;
    struct event ev;
    int i;

    event_init(&ev);
    assert_int_equal(online_new(&world.cfg, world.input, &ol, errstr,
                                sizeof(errstr)), 0);
    for (i = 0; i < n; i++) {
        snprintf(json, sizeof(json), "{\"event_id\":\"t%d\",\"day\":%d,"
                 "\"nswprice\":%g,\"class\":\"%s\"," NUMBERS_JSON "}", i, 1 + i % 7,
                 (i % 10) / 10.0, i % 3 ? "UP" : "DOWN");
        parse_ok(json, &ev);
        assert_int_equal(online_process_event(ol, &ev, &res), 0);
        if (res.dead_letter)
            print_error("%s: %s %s\n", res.verdict.reason, res.verdict.field,
                        res.verdict.detail);
        assert_int_equal(res.dead_letter, 0);
    }
    event_free(&ev);
    assert_int_equal((int)model_update_count(online_model(ol)), n);
    return ol;
}

static int64_t score_once(struct model_slot *slot, struct event *ev)
{
    struct served_prediction p;
    struct served_model *m = model_slot_acquire(slot);
    int64_t version;

    assert_non_null(m);
    parse_ok(EVENT_JSON, ev);
    assert_int_equal(served_model_score(m, ev, &p), 0);
    assert_int_equal(p.r.dead_letter, 0);
    assert_string_equal(p.r.event_id, "e1");
    version = (int64_t)p.r.model_version;
    assert_int_equal(version, served_model_version(m));
    model_slot_release(slot, m);
    return version;
}

/* ---- model slot ------------------------------------------------------ */

static void test_model_slot_empty_until_installed(void **state)
{
    struct model_slot *slot = NULL;

    (void)state;
    assert_int_equal(model_slot_new(&slot), 0);
    assert_int_equal(model_slot_version(slot), -1);
    assert_null(model_slot_acquire(slot));
    model_slot_destroy(slot);
}

/* A request holding the old model finishes with it after a swap; the
 * next one gets the new model. */
static void test_model_slot_swap_keeps_held_model(void **state)
{
    struct model_slot *slot = NULL;
    struct served_prediction p;
    struct served_model *held;
    struct event ev;

    (void)state;
    event_init(&ev);
    assert_int_equal(model_slot_new(&slot), 0);
    assert_int_equal(model_slot_install(slot, learner_after(3), 3), 0);
    held = model_slot_acquire(slot);
    assert_int_equal(model_slot_install(slot, learner_after(7), 7), 0);
    assert_int_equal(model_slot_version(slot), 7);

    parse_ok(EVENT_JSON, &ev);
    assert_int_equal(served_model_score(held, &ev, &p), 0);
    assert_int_equal((int)p.r.model_version, 3);
    model_slot_release(slot, held);
    assert_int_equal((int)score_once(slot, &ev), 7);

    event_free(&ev);
    model_slot_destroy(slot);
}

/* Scoring learns nothing: the same event twice gets the same answer. */
static void test_model_slot_scoring_does_not_learn(void **state)
{
    struct model_slot *slot = NULL;
    struct served_prediction a, b;
    struct served_model *m;
    struct event ev;

    (void)state;
    event_init(&ev);
    assert_int_equal(model_slot_new(&slot), 0);
    assert_int_equal(model_slot_install(slot, learner_after(20), 20), 0);
    m = model_slot_acquire(slot);
    parse_ok("{\"event_id\":\"l\",\"day\":2,\"nswprice\":0.1,"
             "\"class\":\"UP\"," NUMBERS_JSON "}", &ev);
    assert_int_equal(served_model_score(m, &ev, &a), 0);
    parse_ok("{\"event_id\":\"l\",\"day\":2,\"nswprice\":0.1,"
             "\"class\":\"UP\"," NUMBERS_JSON "}", &ev);
    assert_int_equal(served_model_score(m, &ev, &b), 0);
    assert_double_near(a.r.value, b.r.value, 0.0);
    assert_int_equal((int)b.r.model_version, 20);
    assert_string_equal(b.r.label_text, "UP");
    model_slot_release(slot, m);
    event_free(&ev);
    model_slot_destroy(slot);
}

/* A prediction owns the texts of the fields it carries
 * (privacy.prediction_fields) as it owns its id: a replica publishes it
 * after releasing the model, while the next request (an HTTP one, say)
 * is scored by the same learner or a swap frees it. */
static void test_model_slot_prediction_owns_carried_fields(void **state)
{
    static struct cfg carrying; /* elec2 carrying its event ids */
    struct model_slot *slot = NULL;
    struct served_prediction a, b;
    struct online_learner *ol = NULL;
    struct served_model *m;
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct event ev;

    (void)state;
    carrying = world.cfg;
    snprintf(carrying.prediction_fields[0],
             sizeof(carrying.prediction_fields[0]), "event_id");
    carrying.prediction_field_count = 1;
    assert_int_equal(online_new(&carrying, world.input, &ol, errstr,
                                sizeof(errstr)), 0);
    event_init(&ev);
    assert_int_equal(model_slot_new(&slot), 0);
    assert_int_equal(model_slot_install(slot, ol, 0), 0);
    m = model_slot_acquire(slot);

    parse_ok("{\"event_id\":\"first\",\"day\":3,\"nswprice\":0.06,"
             NUMBERS_JSON "}", &ev);
    assert_int_equal(served_model_score(m, &ev, &a), 0);
    /* A longer id, so that the learner's text buffer grows and moves. */
    parse_ok("{\"event_id\":\"second, with an id long enough to move the "
             "learner's buffer of carried texts elsewhere in memory\","
             "\"day\":4,\"nswprice\":0.07," NUMBERS_JSON "}", &ev);
    assert_int_equal(served_model_score(m, &ev, &b), 0);
    model_slot_release(slot, m);
    assert_int_equal((int)a.r.carried_count, 1);
    assert_string_equal(a.r.carried[0], "first");
    assert_string_equal(b.r.carried[0], "second, with an id long enough to "
                        "move the learner's buffer of carried texts "
                        "elsewhere in memory");

    /* The swap frees the learner that scored them. */
    assert_int_equal(model_slot_install(slot, learner_after(1), 1), 0);
    assert_string_equal(a.r.carried[0], "first");
    served_prediction_free(&a);
    served_prediction_free(&b);
    served_prediction_free(NULL);
    model_slot_destroy(slot);
    event_free(&ev);
}

struct scorer {
    struct model_slot *slot;
    atomic_int stop;
    int64_t seen[SWAPS + 1]; /* versions in the order they were seen */
    int seen_count;
    long scored;
    int out_of_order;
};

static void *score_loop(void *arg)
{
    struct scorer *s = arg;
    struct served_prediction p;
    struct event ev;

    event_init(&ev);
    while (!atomic_load(&s->stop) || s->scored == 0) {
        struct served_model *m = model_slot_acquire(s->slot);
        int64_t v;

        if (request_json_to_event(world.input, EVENT_JSON,
                                  strlen(EVENT_JSON), &ev, NULL, 0) != 0 ||
            served_model_score(m, &ev, &p) != 0) {
            s->out_of_order = -1;
            model_slot_release(s->slot, m);
            break;
        }
        v = (int64_t)p.r.model_version;
        model_slot_release(s->slot, m);
        s->scored++;
        if (s->seen_count == 0 || s->seen[s->seen_count - 1] != v) {
            if (s->seen_count > 0 && v < s->seen[s->seen_count - 1])
                s->out_of_order = 1;
            if (s->seen_count <= SWAPS)
                s->seen[s->seen_count++] = v;
        }
    }
    event_free(&ev);
    return NULL;
}

static void test_model_slot_swaps_while_scoring(void **state)
{
    struct scorer s;
    pthread_t t;
    int i, j, known;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(model_slot_new(&s.slot), 0);
    assert_int_equal(model_slot_install(s.slot, learner_after(0), 0), 0);
    assert_int_equal(pthread_create(&t, NULL, score_loop, &s), 0);
    for (i = 1; i <= SWAPS; i++) {
        struct online_learner *ol = learner_after(i * EVENTS_PER_SWAP);

        assert_int_equal(model_slot_install(s.slot, ol,
                                            i * EVENTS_PER_SWAP), 0);
    }
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(s.out_of_order, 0);
    assert_true(s.scored > 0);
    for (i = 0; i < s.seen_count; i++) {
        known = 0;
        for (j = 0; j <= SWAPS; j++)
            known |= s.seen[i] == j * EVENTS_PER_SWAP;
        assert_int_equal(known, 1);
    }
    assert_int_equal(model_slot_version(s.slot), SWAPS * EVENTS_PER_SWAP);
    model_slot_destroy(s.slot);
}

/* ---- JSON requests ---------------------------------------------------- */

static int parse_err(const char *json, char *errstr, size_t size)
{
    struct event ev;
    int err;

    event_init(&ev);
    err = request_json_to_event(world.input, json, strlen(json), &ev,
                                errstr, size);
    event_free(&ev);
    return err;
}

static void test_request_json_fills_event(void **state)
{
    struct event ev;
    int day = schema_field_index(world.input, "day");
    int price = schema_field_index(world.input, "nswprice");
    int label = schema_field_index(world.input, "class");

    (void)state;
    event_init(&ev);
    parse_ok("{\"event_id\":\"r7\",\"day\":4,\"nswprice\":0.125,"
             "\"class\":null}", &ev);
    assert_int_equal(ev.field_count, schema_field_count(world.input));
    assert_string_equal(event_string(&ev, 0), "r7");
    assert_int_equal(ev.values[day].kind, VALUE_NUMBER);
    assert_double_near(ev.values[day].number, 4.0, 0.0);
    assert_double_near(ev.values[price].number, 0.125, 0.0);
    assert_int_equal(ev.values[label].kind, VALUE_NULL);
    assert_int_equal(ev.values[schema_field_index(world.input, "date")].kind,
                     VALUE_NULL); /* absent and nullable */
    event_free(&ev);
}

/* An unknown member that reads as a name is quoted, with the field it is
 * a letter or two from (a swap counting one), when there is one. */
static void expect_unknown_members(void)
{
    static const char *const cases[][2] = {
        {"{\"event_id\":\"a\",\"dya\":3}",
         "unknown field 'dya': did you mean 'day'?"},
        {"{\"event_id\":\"a\",\"nswpirce\":3}",
         "unknown field 'nswpirce': did you mean 'nswprice'?"},
        {"{\"event_id\":\"a\",\"NSWPrice\":3}",
         "unknown field 'NSWPrice': did you mean 'nswprice'?"},
        {"{\"event_id\":\"a\",\"price\":3}", "unknown field 'price'"},
    };
    char e[TESTUTIL_ERRSTR_SIZE];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_err(cases[i][0], e, sizeof(e)),
                         RIFFLE_ERR_INVALID);
        assert_string_equal(e, cases[i][1]);
    }
}

static void test_request_json_refuses_bad_input(void **state)
{
    char e[TESTUTIL_ERRSTR_SIZE];

    (void)state;
    assert_int_equal(parse_err("{\"event_id\":", e, sizeof(e)),
                     RIFFLE_ERR_PARSE);
    assert_contains(e, "line 1");
    assert_int_equal(parse_err("", e, sizeof(e)), RIFFLE_ERR_PARSE);
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"event_id\":\"b\"}", e,
                               sizeof(e)), RIFFLE_ERR_PARSE);
    assert_int_equal(parse_err("[1,2]", e, sizeof(e)), RIFFLE_ERR_INVALID);
    assert_contains(e, "object");
    assert_int_equal(parse_err("{\"day\":3}", e, sizeof(e)),
                     RIFFLE_ERR_INVALID);
    assert_string_equal(e, "field 'event_id': missing");
    assert_int_equal(parse_err("{\"event_id\":null}", e, sizeof(e)),
                     RIFFLE_ERR_INVALID);
    assert_string_equal(e, "field 'event_id': may not be null");
    expect_unknown_members();
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"day\":3.5}", e,
                               sizeof(e)), RIFFLE_ERR_INVALID);
    assert_string_equal(e, "field 'day': found a number with a fraction, "
                           "expected a whole number that fits in 32 bits");
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"nswprice\":\"0.1\"}", e,
                               sizeof(e)), RIFFLE_ERR_INVALID);
    assert_string_equal(e, "field 'nswprice': found a string, expected a "
                           "number");
    assert_int_equal(parse_err("{\"event_id\":7}", e, sizeof(e)),
                     RIFFLE_ERR_INVALID);
    assert_string_equal(e, "field 'event_id': found a number, expected a "
                           "string");
    assert_int_equal(parse_err("{\"event_id\":\"a\\u0000b\"}", e,
                               sizeof(e)), RIFFLE_ERR_PARSE);
}

/* A body that is not JSON is refused in words of our own: jansson's texts
 * quote the input near the fault, and the answer must not echo a value of
 * the request (a name, an e-mail) back out. */
static void test_request_json_fault_quotes_no_value(void **state)
{
    static const struct {
        const char *body, *fault;
    } cases[] = {
        {"{\"event_id\":\"PIIMARKER-1", "the text ends inside a value"},
        {"{\"event_id\":\"PIIMARKER-2\" x}", "invalid JSON syntax"},
        {"{\"event_id\":PIIMARKER-3}", "invalid JSON syntax"},
        {"{\"event_id\":\"PIIMARKER-4\\u00zz\"}", "invalid JSON syntax"},
        {"{\"event_id\":\"PIIMARKER-5\x01\"}", "invalid JSON syntax"},
        {"{\"event_id\":\"PIIMARKER-6\xff\"}", "the text is not UTF-8"},
        {"{\"event_id\":\"PIIMARKER-7\\u0000\"}",
         "a string holds a NUL character"},
        {"{\"event_id\":\"a\",\"event_id\":\"PIIMARKER-8\"}",
         "a member appears twice"},
        {"{\"event_id\":\"PIIMARKER-9\"} \"PIIMARKER-10\"",
         "more text after the JSON value"},
    };
    char e[TESTUTIL_ERRSTR_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_err(cases[i].body, e, sizeof(e)),
                         RIFFLE_ERR_PARSE);
        assert_contains(e, "line 1, column ");
        assert_contains(e, cases[i].fault);
        assert_lacks(e, "PIIMARKER");
        assert_lacks(e, "near");
    }

    /* A value put where a field's name goes is not quoted back either. */
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"kay.PIIMARKER@example.test"
                               "\":1}", e, sizeof(e)), RIFFLE_ERR_INVALID);
    assert_string_equal(e, "unknown field (a member whose name is not a "
                           "field name)");
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"Day_2\":1}", e,
                               sizeof(e)), RIFFLE_ERR_INVALID);
    assert_string_equal(e, "unknown field 'Day_2': did you mean 'day'?");

    /* A CSV header copied into a request is pointed at its field, by the
     * schema's name for it, not by the member's. */
    assert_int_equal(parse_err("{\"event-id\":\"a\"}", e, sizeof(e)),
                     RIFFLE_ERR_INVALID);
    assert_string_equal(e, "unknown field (a member whose name is not a "
                           "field name): did you mean 'event_id'? A "
                           "request names fields as the schema does, "
                           "with '_' where a CSV header has another "
                           "character");
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"event id\":1}", e,
                               sizeof(e)), RIFFLE_ERR_INVALID);
    assert_contains(e, "did you mean 'event_id'?");
    assert_int_equal(parse_err("{\"event_id\":\"a\",\"kay@day.PIIMARKER\""
                               ":1}", e, sizeof(e)), RIFFLE_ERR_INVALID);
    assert_lacks(e, "PIIMARKER");
}

static void test_request_json_answers(void **state)
{
    struct model_slot *slot = NULL;
    struct served_prediction p;
    struct served_model *m;
    struct buf out = {0};
    struct event ev;

    (void)state;
    event_init(&ev);
    assert_int_equal(model_slot_new(&slot), 0);
    assert_int_equal(model_slot_install(slot, learner_after(4), 4), 0);
    m = model_slot_acquire(slot);

    parse_ok(EVENT_JSON, &ev);
    assert_int_equal(served_model_score(m, &ev, &p), 0);
    assert_int_equal(request_json_answer(&world.cfg, &p, &out), 0);
    assert_contains(out.data, "{\"event_id\":\"e1\",\"model_name\":\"elec2\","
                              "\"model_version\":4,\"value\":");
    assert_contains(out.data, p.r.predicted_class ? "\"predicted_label\":\"UP\""
                                                  : "\"predicted_label\":"
                                                    "\"DOWN\"");
    assert_contains(out.data, p.r.predicted_class ? "\"predicted_class\":1,"
                                                  : "\"predicted_class\":0,");

    /* A regression's answer has neither probability nor class, as its
     * prediction record holds null for both. */
    buf_reset(&out);
    world.cfg.task = CFG_TASK_REGRESSION;
    assert_int_equal(request_json_answer(&world.cfg, &p, &out), 0);
    world.cfg.task = CFG_TASK_BINARY;
    assert_lacks(out.data, "probability");
    assert_lacks(out.data, "predicted_class");
    assert_contains(out.data, "\"predicted_label\":");

    /* day is required: a null day is refused by cleaning, not scored */
    buf_reset(&out);
    parse_ok("{\"event_id\":\"e2\",\"nswprice\":0.1," NUMBERS_JSON "}",
             &ev);
    assert_int_equal(served_model_score(m, &ev, &p), 0);
    assert_int_equal(p.r.dead_letter, 1);
    assert_int_equal(request_json_answer(&world.cfg, &p, &out), 0);
    assert_contains(out.data, "\"model_version\":4,"
                              "\"refused\":\"missing_required\","
                              "\"field\":\"day\"");

    buf_reset(&out);
    assert_int_equal(request_json_error("a \"quoted\" why", &out), 0);
    assert_string_equal(out.data, "{\"error\":\"a \\\"quoted\\\" why\"}\n");

    model_slot_release(slot, m);
    model_slot_destroy(slot);
    buf_free(&out);
    event_free(&ev);
}

static void test_serve_stats_counts_and_renders(void **state)
{
    struct serve_stats *st = NULL;
    struct serve_stats_counts c;
    struct buf out = {0};

    (void)state;
    assert_int_equal(serve_stats_new(&st), 0);
    serve_stats_request(st, 0, 0.003);
    serve_stats_request(st, 0, 0.2);
    serve_stats_request(st, 1, 0.004);
    serve_stats_http(st, 200, 0.0002);
    serve_stats_http(st, 413, 0.001);
    serve_stats_http(st, 503, 0.001);
    serve_stats_rebuild(st);
    serve_stats_read(st, &c);
    assert_int_equal(c.requests, 3);
    assert_int_equal(c.client_rebuilds, 1);
    assert_int_equal(c.predictions, 2);
    assert_int_equal(c.dead_letters, 1);
    assert_int_equal(c.http_ok, 1);
    assert_int_equal(c.http_client_errors, 1);
    assert_int_equal(c.http_unavailable, 1);
    assert_int_equal(c.http_server_errors, 0);

    assert_int_equal(serve_stats_render(&c, "p", "m", 42, &out), 0);
    assert_contains(out.data, "riffle_serve_model_version{pipeline=\"p\","
                              "model=\"m\"} 42\n");
    assert_contains(out.data, "riffle_serve_requests_total{pipeline=\"p\","
                              "model=\"m\"} 3\n");
    assert_contains(out.data, "riffle_serve_dead_letters_total{pipeline="
                              "\"p\",model=\"m\"} 1\n");
    assert_contains(out.data, "riffle_serve_client_rebuilds_total{pipeline="
                              "\"p\",model=\"m\"} 1\n");
    /* cumulative: 2 of 3 within 5 ms, all 3 within 0.25 s */
    assert_contains(out.data, "riffle_serve_latency_seconds_bucket{pipeline="
                              "\"p\",model=\"m\",le=\"0.005\"} 2\n");
    assert_contains(out.data, "riffle_serve_latency_seconds_bucket{pipeline="
                              "\"p\",model=\"m\",le=\"0.25\"} 3\n");
    assert_contains(out.data, "riffle_serve_http_responses_total{pipeline="
                              "\"p\",model=\"m\",outcome=\"unavailable\"} 1\n");
    buf_free(&out);
    serve_stats_destroy(st);
    serve_stats_destroy(NULL);
}

/* /healthz stays JSON when a latency passes the largest bucket (a
 * request stamped in 1970, or a backlog older than a minute): the
 * quantile reads null. It printed `inf` before, which no JSON parser
 * reads. Before any request both quantiles are 0. */
static void test_serve_stats_health_is_json_past_the_buckets(void **state)
{
    struct serve_stats *st = NULL;
    struct serve_stats_counts c;
    struct buf out = {0};
    json_error_t jerr;
    json_t *parsed;

    (void)state;
    assert_int_equal(serve_stats_new(&st), 0);
    serve_stats_read(st, &c);
    assert_int_equal(serve_stats_render_health(&c, 7, &out), 0);
    assert_string_equal(out.data, "{\"status\":\"ok\",\"model_version\":7,"
                        "\"requests\":0,\"predictions\":0,\"dead_letters\":0,"
                        "\"version_conflicts\":0,"
                        "\"latency_p50_s\":0,\"latency_p99_s\":0}\n");

    serve_stats_version_conflict(st);
    serve_stats_request(st, 0, 0.003);
    serve_stats_request(st, 0, 1.8e9); /* stamped at the epoch */
    serve_stats_read(st, &c);
    buf_reset(&out);
    assert_int_equal(serve_stats_render_health(&c, 7, &out), 0);
    assert_string_equal(out.data, "{\"status\":\"ok\",\"model_version\":7,"
                        "\"requests\":2,\"predictions\":2,\"dead_letters\":0,"
                        "\"version_conflicts\":1,"
                        "\"latency_p50_s\":0.005,\"latency_p99_s\":null}\n");
    parsed = json_loads(out.data, 0, &jerr);
    if (!parsed)
        fail_msg("not JSON: %s: %s", jerr.text, out.data);
    json_decref(parsed);
    buf_free(&out);
    serve_stats_destroy(st);
}

/* An aborted transaction's answers are dropped and their requests
 * answered again: each is counted once, and no count ever goes down. */
static void test_serve_stats_dropped_answers_count_once(void **state)
{
    struct serve_stats *st = NULL;
    struct serve_stats_counts c;

    (void)state;
    assert_int_equal(serve_stats_new(&st), 0);
    serve_stats_request(st, 0, 0.001);
    serve_stats_request(st, 0, 0.001);
    serve_stats_request(st, 1, 0.001);
    serve_stats_drop(st, 2, 1); /* the three were in the transaction */
    serve_stats_read(st, &c);
    assert_int_equal(c.requests, 3);

    /* delivered: none of the three, until answered again */
    serve_stats_read_delivered(st, &c);
    assert_int_equal(c.requests, 0);
    assert_int_equal(c.predictions, 0);
    assert_int_equal(c.dead_letters, 0);

    serve_stats_request(st, 0, 0.001); /* answered again */
    serve_stats_request(st, 1, 0.001);
    serve_stats_read(st, &c);
    assert_int_equal(c.requests, 3);
    assert_int_equal(c.predictions, 2);
    assert_int_equal(c.dead_letters, 1);
    serve_stats_read_delivered(st, &c);
    assert_int_equal(c.requests, 2);
    assert_int_equal(c.predictions, 1);
    assert_int_equal(c.dead_letters, 1);

    serve_stats_request(st, 0, 0.001); /* the last one again */
    serve_stats_request(st, 0, 0.001); /* a new request */
    serve_stats_read(st, &c);
    assert_int_equal(c.requests, 4);
    assert_int_equal(c.predictions, 3);
    assert_int_equal(c.dead_letters, 1);
    assert_int_equal(c.latency.count, 7); /* each was handled */
    serve_stats_destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_slot_empty_until_installed),
        cmocka_unit_test(test_model_slot_swap_keeps_held_model),
        cmocka_unit_test(test_model_slot_scoring_does_not_learn),
        cmocka_unit_test(test_model_slot_prediction_owns_carried_fields),
        cmocka_unit_test(test_model_slot_swaps_while_scoring),
        cmocka_unit_test(test_request_json_fills_event),
        cmocka_unit_test(test_request_json_refuses_bad_input),
        cmocka_unit_test(test_request_json_fault_quotes_no_value),
        cmocka_unit_test(test_request_json_answers),
        cmocka_unit_test(test_serve_stats_counts_and_renders),
        cmocka_unit_test(test_serve_stats_health_is_json_past_the_buckets),
        cmocka_unit_test(test_serve_stats_dropped_answers_count_once),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
