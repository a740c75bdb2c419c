/*
 * tests/unit/test_join_event_time.c - the enrichment join's window by
 * event time (join.event_time with cleaning.event_time, in
 * learner/online.c).
 *
 * Profiles and events are given Kafka timestamps that disagree with
 * their event times on purpose: a join must follow the event times, as a
 * replay of old data would need, and fall back to Kafka time only for a
 * record without a usable time. Configuration mistakes are refused with
 * the file, line and key. Judging a profile again without storing it
 * (online_check_profile()) changes nothing. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

#define WINDOW_S 60
#define PROFILE_AT_MS 1000000.0
#define FAR_KAFKA_MS 900000000000LL /* decades from any event time */

static const char event_schema[] =
    "{\"type\": \"record\", \"name\": \"E\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"user\", \"type\": \"string\"},"
    "  {\"name\": \"ts\", \"type\": [\"null\", \"long\"]},"
    "  {\"name\": \"region\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"y\", \"type\": \"string\"}"
    "]}";

static const char profile_schema[] =
    "{\"type\": \"record\", \"name\": \"P\", \"fields\": ["
    "  {\"name\": \"user_id\", \"type\": \"string\"},"
    "  {\"name\": \"region\", \"type\": \"string\"},"
    "  {\"name\": \"updated\", \"type\": [\"null\", \"long\"]}"
    "]}";

/* %s: the profile schema's path; %s: cleaning's body; %s: more join. */
static const char join_cfg[] =
    "name = \"j\";\n"
    "topics = { input = \"in\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"user\"; kind = \"ignore\"; },\n"
    "  { name = \"ts\"; kind = \"ignore\"; },\n"
    "  { name = \"region\"; kind = \"categorical\"; },\n"
    "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; }\n"
    ");\n"
    "learner = { model_name = \"j\"; bits = 10; };\n"
    "cleaning = { %s };\n"
    "join = { topic = \"prof\"; schema = \"%s\"; key = \"user\";\n"
    "         profile_key = \"user_id\"; map = ( [\"region\", \"region\"] );\n"
    "         window = 60; %s };\n";

struct fixture {
    struct scratch_dir scratch;
    char avsc_path[128];
    struct cfg *cfg;
    struct schema *events, *profiles;
    struct online_learner *ol;
    struct event ev;
    struct buf msg;
    char errstr[TESTUTIL_ERRSTR_SIZE];
};

/* Loads the configuration with the given cleaning and join additions;
 * returns online_new()'s result, its message in fx->errstr. */
static int open_learner(struct fixture *fx, const char *cleaning,
                        const char *join_more)
{
    char text[4096];

    snprintf(text, sizeof(text), join_cfg, cleaning, fx->avsc_path,
             join_more);
    if (load_cfg_text(fx->cfg, fx->scratch.cfg_path, text, fx->errstr,
                      sizeof(fx->errstr)) != 0)
        fail_msg("config: %s", fx->errstr);
    return online_new(fx->cfg, fx->events, &fx->ol, fx->errstr,
                      sizeof(fx->errstr));
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    if (scratch_dir_new(&fx->scratch, "joint", &fx->cfg) != 0)
        return -1;
    snprintf(fx->avsc_path, sizeof(fx->avsc_path), "%s/p.avsc",
             fx->scratch.dir);
    write_text(fx->avsc_path, profile_schema);
    fx->events = load_schema_json(event_schema);
    fx->profiles = load_schema_json(profile_schema);
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    if (!fx)
        return 0;
    online_destroy(fx->ol);
    schema_destroy(fx->events);
    schema_destroy(fx->profiles);
    event_free(&fx->ev);
    buf_free(&fx->msg);
    (void)unlink(fx->avsc_path); /* may not exist if setup failed early */
    scratch_dir_destroy(&fx->scratch, fx->cfg);
    free(fx);
    return 0;
}

static void set_text(struct event *ev, size_t i, const char *s)
{
    assert_int_equal(event_set_string(ev, i, s, strlen(s)), 0);
}

/* A profile of user u0 in region "north", updated at updated_ms (NaN:
 * no time), read at Kafka time kafka_ms. */
static void send_profile(struct fixture *fx, double updated_ms,
                         int64_t kafka_ms)
{
    struct online_result res;

    event_reset(&fx->ev, schema_field_count(fx->profiles));
    set_text(&fx->ev, 0, "u0");
    set_text(&fx->ev, 1, "north");
    if (!isnan(updated_ms))
        event_set_number(&fx->ev, 2, updated_ms);
    buf_reset(&fx->msg);
    assert_int_equal(schema_encode_event(fx->profiles, &fx->ev, &fx->msg,
                                         fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_process_from(fx->ol, "prof", 0, kafka_ms,
                                         fx->msg.data, fx->msg.len, &res),
                     0);
    assert_int_equal(res.enrichment, 1);
    assert_int_equal(res.dead_letter, 0);
}

/* An event of user u0 at ts_ms (NaN: no time), read at kafka_ms. */
static void send_event(struct fixture *fx, const char *id, double ts_ms,
                       int64_t kafka_ms)
{
    struct online_result res;

    event_reset(&fx->ev, schema_field_count(fx->events));
    set_text(&fx->ev, 0, id);
    set_text(&fx->ev, 1, "u0");
    if (!isnan(ts_ms))
        event_set_number(&fx->ev, 2, ts_ms);
    set_text(&fx->ev, 4, "1");
    buf_reset(&fx->msg);
    assert_int_equal(schema_encode_event(fx->events, &fx->ev, &fx->msg,
                                         fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_process_from(fx->ol, "in", 0, kafka_ms,
                                         fx->msg.data, fx->msg.len, &res),
                     0);
    assert_int_equal(res.dead_letter, 0);
}

static void test_join_window_follows_event_time(void **state)
{
    struct fixture *fx = *state;
    const struct join_counts *jc;

    assert_int_equal(open_learner(fx, "event_time = \"ts\"; "
                                      "allowed_lateness = 100000;",
                                  "event_time = \"updated\";"), 0);
    /* Kafka time 0 for the profile, decades later for the events. */
    send_profile(fx, PROFILE_AT_MS, 0);
    send_event(fx, "e1", PROFILE_AT_MS + (WINDOW_S - 1) * 1000.0,
               FAR_KAFKA_MS);
    jc = online_join_counts(fx->ol);
    assert_int_equal(jc->hits, 1);
    assert_int_equal(jc->expired, 0);

    /* Just outside the window by event time, though at the profile's
     * own Kafka time. */
    send_event(fx, "e2", PROFILE_AT_MS + (WINDOW_S + 1) * 1000.0, 0);
    assert_int_equal(jc->hits, 1);
    assert_int_equal(jc->expired, 1);

    /* Earlier than the profile by event time, within the window. */
    send_event(fx, "e3", PROFILE_AT_MS - 30000.0, FAR_KAFKA_MS);
    assert_int_equal(jc->hits, 2);
}

/* A record without a usable time is placed at its Kafka timestamp. */
static void test_join_without_time_uses_kafka_time(void **state)
{
    struct fixture *fx = *state;
    const struct join_counts *jc;

    assert_int_equal(open_learner(fx, "event_time = \"ts\";",
                                  "event_time = \"updated\";"), 0);
    send_profile(fx, NAN, 5000000);
    send_event(fx, "e1", NAN, 5000000 + 1000);
    jc = online_join_counts(fx->ol);
    assert_int_equal(jc->hits, 1);
    send_event(fx, "e2", NAN, 5000000 + (WINDOW_S + 1) * 1000);
    assert_int_equal(jc->expired, 1);
}

/* Without join.event_time the window stays on Kafka timestamps, even
 * when the events have an event time. */
static void test_join_default_is_kafka_time(void **state)
{
    struct fixture *fx = *state;
    const struct join_counts *jc;

    assert_int_equal(open_learner(fx, "event_time = \"ts\";", ""), 0);
    send_profile(fx, PROFILE_AT_MS, 0);
    send_event(fx, "e1", PROFILE_AT_MS + 1000.0, FAR_KAFKA_MS);
    jc = online_join_counts(fx->ol);
    assert_int_equal(jc->hits, 0);
    assert_int_equal(jc->expired, 1);
}

/* A profile whose Kafka timestamp is far in the future (its producer's
 * word) counts as of the wall clock: the next update of its key replaces
 * it and joins the events after it. It used to outrank every later
 * update, dropped as stale, and miss every event's window. */
static void test_join_future_kafka_time_pins_nothing(void **state)
{
    struct fixture *fx = *state;
    const int64_t now_ms = (int64_t)time(NULL) * 1000;
    const struct join_counts *jc;

    assert_int_equal(open_learner(fx, "", ""), 0);
    send_profile(fx, NAN, INT64_C(1) << 62);
    send_profile(fx, NAN, now_ms + 1000);
    jc = online_join_counts(fx->ol);
    assert_int_equal(jc->stale, 0);
    send_event(fx, "e1", NAN, now_ms + 2000);
    assert_int_equal(jc->hits, 1);
    assert_int_equal(jc->expired, 0);
}

static void test_join_event_time_needs_cleaning_event_time(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(open_learner(fx, "", "event_time = \"updated\";"),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "joint.cfg:");
    assert_contains(fx->errstr, "join.event_time");
    assert_contains(fx->errstr, "needs cleaning.event_time");
}

static void test_join_event_time_must_be_a_number(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(open_learner(fx, "event_time = \"ts\";",
                                  "event_time = \"region\";"),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "join.event_time");
    assert_contains(fx->errstr, "is not a number");
    online_destroy(fx->ol);
    fx->ol = NULL;
    assert_int_equal(open_learner(fx, "event_time = \"ts\";",
                                  "event_time = \"nope\";"),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "\"nope\" is not a field of P");
}

/* The profile of user (may be "": no key) in region north, encoded. */
static void encode_profile(struct fixture *fx, const char *user)
{
    event_reset(&fx->ev, schema_field_count(fx->profiles));
    set_text(&fx->ev, 0, user);
    set_text(&fx->ev, 1, "north");
    buf_reset(&fx->msg);
    assert_int_equal(schema_encode_event(fx->profiles, &fx->ev, &fx->msg,
                                         fx->errstr, sizeof(fx->errstr)),
                     0);
}

/* online_check_profile() judges a record as online_process_from() would,
 * but stores and counts nothing: the owner of a join partition re-reads
 * records the table already holds (cli/learn_join.c). */
static void test_join_check_profile_changes_nothing(void **state)
{
    struct fixture *fx = *state;
    static const char garbage[] = "not avro";
    struct online_result res;

    assert_int_equal(open_learner(fx, "", ""), 0);
    assert_int_equal(online_check_profile(fx->ol, garbage,
                                          sizeof(garbage) - 1, &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_int_equal(res.enrichment, 1);
    assert_string_equal(res.verdict.reason, "decode_error");

    encode_profile(fx, "");
    assert_int_equal(online_check_profile(fx->ol, fx->msg.data, fx->msg.len,
                                          &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_string_equal(res.verdict.field, "user_id");

    encode_profile(fx, "u0");
    assert_int_equal(online_check_profile(fx->ol, fx->msg.data, fx->msg.len,
                                          &res), 0);
    assert_int_equal(res.dead_letter, 0);
    assert_int_equal(online_join_keys(fx->ol), 0);
    assert_int_equal(online_join_counts(fx->ol)->updates, 0);
    assert_int_equal(online_dead_letter_count(fx->ol), 0);

    /* Applied, the same records store the good one and count the bad. */
    assert_int_equal(online_process_from(fx->ol, "prof", 0, 0, fx->msg.data,
                                         fx->msg.len, &res), 0);
    assert_int_equal(online_process_from(fx->ol, "prof", 0, 0, garbage,
                                         sizeof(garbage) - 1, &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_int_equal(online_join_keys(fx->ol), 1);
    assert_int_equal(online_dead_letter_count(fx->ol), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_join_window_follows_event_time),
        T(test_join_without_time_uses_kafka_time),
        T(test_join_default_is_kafka_time),
        T(test_join_future_kafka_time_pins_nothing),
        T(test_join_event_time_needs_cleaning_event_time),
        T(test_join_event_time_must_be_a_number),
        T(test_join_check_profile_changes_nothing),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
