/*
 * tests/unit/test_online_id.c - a personal event id (personal =
 * "pseudonym" on the field of kind "id") through learner/online.c.
 *
 * The id is replaced by its keyed pseudonym as soon as an event is
 * decoded: the result (what predictions and dead letters carry) names
 * only the pseudonym, duplicates are found by it, a label keyed by the
 * raw id joins its event either way round, a label given up hands its
 * raw key back only for its sealed dead letter, and an instance's check
 * that a message is keyed by its id still holds. Expected pseudonyms come
 * from anonymize_pseudonym(), the documented formula. No broker;
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
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/label_join.h"
#include "learner/online.h"
#include "privacy/anonymize.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define KEY_ENV "RIFFLE_TEST_ID_KEY"
#define DL_KEY_ENV "RIFFLE_TEST_ID_DL_KEY"
#define KEY_ID "k1"
/* The bytes 0x00 .. 0x1f; the dead-letter key the same backwards. */
#define HEX_KEY "000102030405060708090a0b0c0d0e0f" \
                "101112131415161718191a1b1c1d1e1f"
#define HEX_DL_KEY "1f1e1d1c1b1a19181716151413121110" \
                   "0f0e0d0c0b0a09080706050403020100"
#define KEY_BYTES 32
#define TOKEN_SIZE (sizeof(KEY_ID) + 1 + ANONYMIZE_TOKEN_HEX)
#define RAW_ID "MRN-0042-Alice"
#define RAW_Z "Alice-Street-7" /* field z, personal */
#define LABEL_TS_MS 1000 /* Kafka time, near the events' 0 */

static const char id_schema[] =
    "{\"type\": \"record\", \"name\": \"P\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"y\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"z\", \"type\": [\"null\", \"string\"]}"
    "]}";

/* %s: extra groups (cleaning, labels). */
static const char id_cfg[] =
    "name = \"pid\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; personal = \"pseudonym\"; },\n"
    "  { name = \"x\"; kind = \"numeric\"; },\n"
    "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; },\n"
    "  { name = \"z\"; kind = \"categorical\"; personal = \"pseudonym\"; }\n"
    ");\n"
    "privacy = { key_env = \"" KEY_ENV "\"; key_id = \"" KEY_ID "\";\n"
    "            dead_letter_key_env = \"" DL_KEY_ENV "\"; };\n"
    "learner = { model_name = \"pid\"; bits = 10; };\n"
    "%s";

struct fixture {
    struct online_fixture on;
    struct online_result res;
    char pseudonym[TOKEN_SIZE]; /* of RAW_ID */
};
_Static_assert(offsetof(struct fixture, on) == 0, "on first");

static int fixture_open(void **state, const char *groups)
{
    struct fixture *fx;
    char text[2048];
    unsigned char key[KEY_BYTES];
    size_t i;

    setenv(KEY_ENV, HEX_KEY, 1);
    setenv(DL_KEY_ENV, HEX_DL_KEY, 1);
    snprintf(text, sizeof(text), id_cfg, groups);
    if (online_fixture_setup(state, sizeof(*fx), "pid", id_schema, text) != 0)
        return -1;
    fx = *state;

    for (i = 0; i < KEY_BYTES; i++)
        key[i] = (unsigned char)i;
    if (anonymize_pseudonym(key, sizeof(key), KEY_ID, "event_id", RAW_ID,
                            fx->pseudonym, sizeof(fx->pseudonym)) != 0)
        return -1;
    return 0;
}

static int setup_plain(void **state)
{
    return fixture_open(state, "");
}

static int setup_dedup(void **state)
{
    return fixture_open(state, "cleaning = { dedup_window = 4; };\n");
}

static int setup_labels(void **state)
{
    return fixture_open(state, "labels = { topic = \"l\"; ttl = 60; };\n");
}

static int setup_event_labels(void **state)
{
    return fixture_open(state, "labels = { topic = \"l\"; ttl = 60; "
                               "format = \"event\"; };\n");
}

static int teardown(void **state)
{
    unsetenv(KEY_ENV);
    unsetenv(DL_KEY_ENV);
    return online_fixture_teardown(state);
}

/* Runs one event with id id and label label (NULL: none, it waits). */
static struct online_result *run(struct fixture *fx, const char *id,
                                 const char *label)
{
    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    assert_int_equal(event_set_string(&fx->on.ev, 0, id, strlen(id)), 0);
    event_set_number(&fx->on.ev, 1, 0.5);
    if (label)
        assert_int_equal(event_set_string(&fx->on.ev, 2, label, strlen(label)),
                         0);
    assert_int_equal(online_process_event(fx->on.ol, &fx->on.ev, &fx->res), 0);
    return &fx->res;
}

/* Encodes into msg the event with the raw id RAW_ID, x 0.5, label "1"
 * and z RAW_Z, as a message of the input topic holds it. */
static void encode_raw_event(struct fixture *fx, struct buf *msg)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];

    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    assert_int_equal(event_set_string(&fx->on.ev, 0, RAW_ID, strlen(RAW_ID)), 0);
    event_set_number(&fx->on.ev, 1, 0.5);
    assert_int_equal(event_set_string(&fx->on.ev, 2, "1", 1), 0);
    assert_int_equal(event_set_string(&fx->on.ev, 3, RAW_Z, strlen(RAW_Z)), 0);
    assert_int_equal(schema_encode_event(fx->on.schema, &fx->on.ev, msg, errstr,
                                         sizeof(errstr)),
                     0);
}

/* What a prediction and a dead letter name is the pseudonym, the HMAC of
 * the raw id under the id field's name; scoring does the same. */
static void test_online_id_result_names_pseudonym(void **state)
{
    struct fixture *fx = *state;
    struct online_result *r = run(fx, RAW_ID, "1");

    assert_int_equal(r->dead_letter, 0);
    assert_non_null(r->event_id);
    assert_string_equal(r->event_id, fx->pseudonym);
    assert_string_equal(event_string(&fx->on.ev, 0), fx->pseudonym);

    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    assert_int_equal(event_set_string(&fx->on.ev, 0, RAW_ID, strlen(RAW_ID)), 0);
    event_set_number(&fx->on.ev, 1, 0.5);
    assert_int_equal(online_score_event(fx->on.ol, &fx->on.ev, &fx->res), 0);
    assert_string_equal(fx->res.event_id, fx->pseudonym);

    /* A refused event's dead letter names the pseudonym too. */
    r = run(fx, RAW_ID, "not-a-label");
    assert_int_equal(r->dead_letter, 1);
    assert_string_equal(r->event_id, fx->pseudonym);
}

/* Once replaced by its pseudonym, the raw id is wiped from the event's
 * memory: when learned, scored, and refused by cleaning. */
static void test_online_id_raw_id_wiped_from_event(void **state)
{
    struct fixture *fx = *state;
    const struct buf *arena = &fx->on.ev.arena;

    run(fx, RAW_ID, "1");
    assert_false(buf_memory_holds(arena, RAW_ID, strlen(RAW_ID)));
    /* The check can fail: the pseudonym is there. */
    assert_true(buf_memory_holds(arena, fx->pseudonym,
                                 strlen(fx->pseudonym)));

    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    assert_int_equal(event_set_string(&fx->on.ev, 0, RAW_ID, strlen(RAW_ID)), 0);
    event_set_number(&fx->on.ev, 1, 0.5);
    assert_int_equal(online_score_event(fx->on.ol, &fx->on.ev, &fx->res), 0);
    assert_false(buf_memory_holds(arena, RAW_ID, strlen(RAW_ID)));

    assert_int_equal(run(fx, RAW_ID, "not-a-label")->dead_letter, 1);
    assert_false(buf_memory_holds(arena, RAW_ID, strlen(RAW_ID)));
}

/* An id longer than cleaning accepts is refused as before, by its raw
 * length, though its pseudonym is short; the dead letter names only the
 * pseudonym. An empty id stays empty and is refused as missing. */
static void test_online_id_long_and_empty_refused(void **state)
{
    struct fixture *fx = *state;
    char *id = malloc(CLEAN_MAX_ID_BYTES + 2);
    char detail[128];
    struct online_result *r;

    assert_non_null(id);
    memset(id, 'a', CLEAN_MAX_ID_BYTES + 1);
    id[CLEAN_MAX_ID_BYTES + 1] = '\0';
    r = run(fx, id, "1");
    assert_int_equal(r->dead_letter, 1);
    assert_string_equal(r->verdict.reason, CLEAN_REASON_VALUE);
    assert_string_equal(r->verdict.field, "event_id");
    snprintf(detail, sizeof(detail), "the event id has %d bytes; at most %d "
             "allowed", CLEAN_MAX_ID_BYTES + 1, CLEAN_MAX_ID_BYTES);
    assert_string_equal(r->verdict.detail, detail);
    assert_int_equal(strlen(r->event_id), TOKEN_SIZE - 1);
    free(id);

    r = run(fx, RAW_ID, "1"); /* the next event is not refused for it */
    assert_int_equal(r->dead_letter, 0);

    r = run(fx, "", "1");
    assert_int_equal(r->dead_letter, 1);
    assert_string_equal(r->verdict.reason, CLEAN_REASON_MISSING);
}

/* Duplicates are found by the pseudonym: the raw id twice is one event
 * twice, two raw ids are two events. */
static void test_online_id_duplicate_found(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(run(fx, RAW_ID, "1")->duplicate, 0);
    assert_int_equal(run(fx, "MRN-0043", "0")->duplicate, 0);
    assert_int_equal(run(fx, RAW_ID, "1")->duplicate, 1);
    assert_int_equal(online_duplicate_count(fx->on.ol), 1);
}

/* Reads a text label keyed by the raw id (as the label producer knows
 * it) and joins it. */
static enum label_join_outcome give_label_at(struct fixture *fx,
                                             const char *raw_key,
                                             int64_t ts_ms,
                                             struct online_label *label)
{
    struct online_label_origin origin = {0, 7, ts_ms, raw_key,
                                         strlen(raw_key), "1", 1};
    enum label_join_outcome outcome;

    assert_int_equal(online_read_label(fx->on.ol, raw_key, strlen(raw_key),
                                       "1", 1, label),
                     0);
    assert_int_equal(online_learn_label(fx->on.ol, label, &origin, &outcome,
                                        &fx->res),
                     0);
    return outcome;
}

static enum label_join_outcome give_label(struct fixture *fx,
                                          const char *raw_key,
                                          struct online_label *label)
{
    return give_label_at(fx, raw_key, LABEL_TS_MS, label);
}

/* A label keyed by the raw id joins its waiting event; the store only
 * ever held the pseudonym. */
static void test_online_id_label_by_raw_key_joins(void **state)
{
    struct fixture *fx = *state;
    struct online_label label;

    assert_int_equal(run(fx, RAW_ID, NULL)->pending, 1);
    assert_string_equal(fx->res.event_id, fx->pseudonym);
    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_JOINED);
    assert_int_equal(label.id_len, strlen(fx->pseudonym));
    assert_memory_equal(label.id, fx->pseudonym, label.id_len);
    assert_string_equal(fx->res.event_id, fx->pseudonym);
}

/* Whether needle (n bytes) occurs in hay (len bytes); memmem() is a GNU
 * extension. */
static int holds_bytes(const void *hay, size_t len, const char *needle,
                       size_t n)
{
    const char *h = hay;
    size_t i;

    for (i = 0; i + n <= len; i++)
        if (memcmp(h + i, needle, n) == 0)
            return 1;
    return 0;
}

/* A label key holding a NUL byte names no event (no id holds one), though
 * the pseudonym's digest, which stops at it, would name the event of the
 * bytes before: the label is refused, and the waiting event keeps
 * waiting. A message key holding one is not its event's id. */
static void test_online_id_key_with_nul_refused(void **state)
{
    struct fixture *fx = *state;
    static const char key[] = RAW_ID "\0tail";
    struct online_label label;

    assert_int_equal(run(fx, RAW_ID, NULL)->pending, 1);
    assert_int_equal(online_read_label(fx->on.ol, key, sizeof(key) - 1, "1", 1,
                                       &label),
                     RIFFLE_ERR_INVALID);
    assert_int_equal(label.verdict.dead_letter, 1);
    assert_string_equal(label.verdict.verdict.reason, CLEAN_REASON_VALUE);
    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_JOINED);

    online_check_message_key(fx->on.ol, "MRN-7\0x", 7);
    assert_int_equal(run(fx, "MRN-7", NULL)->dead_letter, 1);
    assert_string_equal(fx->res.verdict.field, "event_id");
}

/* Collects whether any record of the store holds needle. */
struct search {
    const char *needle;
    int found;
    size_t records;
};

static int search_record(void *ctx, const struct label_join_record *r)
{
    struct search *s = ctx;
    size_t n = strlen(s->needle);

    s->records++;
    if (holds_bytes(r->id, r->id_len, s->needle, n) ||
        holds_bytes(r->event, r->event_len, s->needle, n))
        s->found = 1;
    return 0;
}

/* A label that comes first waits under the pseudonym, its raw key sealed
 * (snapshots keep what waits), and the event that comes then joins it. */
static void test_online_id_early_label_joins_and_hides_key(void **state)
{
    struct fixture *fx = *state;
    struct online_label label;
    struct search s = {RAW_ID, 0, 0};

    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_WAITING);
    assert_int_equal(label_join_visit(online_label_join(fx->on.ol),
                                      search_record, &s),
                     0);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.found, 0);

    run(fx, RAW_ID, NULL);
    assert_int_equal(fx->res.pending, 0);
    assert_int_equal(fx->res.dead_letter, 0);
    assert_string_equal(fx->res.event_id, fx->pseudonym);
    assert_true(fx->res.label == 1.0);
}

/* Gives a label of RAW_ID whose event never comes, then another 61 s
 * later, which moves the clock past the TTL of 60 s: the first is handed
 * back in *out. */
static void give_up_label(struct fixture *fx, struct online_label_origin *out)
{
    struct online_label label;

    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_WAITING);
    assert_int_equal(give_label_at(fx, "MRN-0043", LABEL_TS_MS + 61000,
                                   &label),
                     LABEL_JOIN_WAITING);
    assert_int_equal(online_next_given_up_label(fx->on.ol, out), 1);
}

/* A label whose event never comes is handed back with its raw key, for
 * the dead letter that seals it (outputs.c), and its payload. */
static void test_online_id_given_up_label_keeps_raw_key(void **state)
{
    struct fixture *fx = *state;
    struct online_label_origin out;

    give_up_label(fx, &out);
    assert_int_equal(out.key_len, strlen(RAW_ID));
    assert_memory_equal(out.key, RAW_ID, out.key_len);
    assert_int_equal(out.len, 1);
    assert_memory_equal(out.payload, "1", 1);
    assert_int_equal(out.offset, 7);
}

/* Sealing a waiting label's raw key leaves no copy of it in the
 * learner's memory: the plaintext it sealed is wiped. */
static void test_online_id_early_label_key_wiped(void **state)
{
    struct fixture *fx = *state;
    struct online_label label;

    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_WAITING);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_ID, strlen(RAW_ID)),
                     0);
}

/* A given-up label's raw key, opened for its dead letter, is wiped by the
 * call after it, which finds no more labels. */
static void test_online_id_given_up_label_key_wiped(void **state)
{
    struct fixture *fx = *state;
    struct online_label_origin out;

    give_up_label(fx, &out);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_ID, strlen(RAW_ID)),
                     1); /* in use: handed back for its dead letter */
    assert_int_equal(online_next_given_up_label(fx->on.ol, &out), 0);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_ID, strlen(RAW_ID)),
                     0);
}

static int restore_record(void *ctx, const struct label_join_record *r)
{
    return label_join_restore(ctx, r);
}

/* A waiting label crosses a restart as its store's records, which a
 * snapshot keeps byte for byte: a second learner under the same keys,
 * given those records, gives the label up with its raw key. */
static void test_online_id_waiting_label_restored(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *next = NULL;
    struct label_join *copy = NULL;
    struct online_label label;
    struct online_label_origin out;
    struct online_result res;
    enum label_join_outcome outcome;
    struct online_label_origin later = {0, 8, LABEL_TS_MS + 61000, "x", 1,
                                        "1", 1};
    char errstr[TESTUTIL_ERRSTR_SIZE];

    assert_int_equal(give_label(fx, RAW_ID, &label), LABEL_JOIN_WAITING);
    assert_int_equal(label_join_new(1000, 60000, &copy), 0);
    assert_int_equal(label_join_visit(online_label_join(fx->on.ol),
                                      restore_record, copy),
                     0);
    assert_int_equal(online_new(fx->on.cfg, fx->on.schema, &next, errstr,
                                sizeof(errstr)),
                     0);
    online_replace_label_join(next, copy, LABEL_TS_MS);

    assert_int_equal(online_read_label(next, "x", 1, "1", 1, &label), 0);
    assert_int_equal(online_learn_label(next, &label, &later, &outcome,
                                        &res),
                     0);
    assert_int_equal(online_next_given_up_label(next, &out), 1);
    assert_int_equal(out.key_len, strlen(RAW_ID));
    assert_memory_equal(out.key, RAW_ID, out.key_len);
    assert_int_equal(out.offset, 7);
    online_destroy(next);
}

/* With several instances an event that waits must be keyed by its id:
 * the message's raw key is checked against the pseudonym. */
static void test_online_id_message_key_check(void **state)
{
    struct fixture *fx = *state;

    online_check_message_key(fx->on.ol, RAW_ID, strlen(RAW_ID));
    assert_int_equal(run(fx, RAW_ID, NULL)->pending, 1);
    assert_int_equal(fx->res.dead_letter, 0);

    online_check_message_key(fx->on.ol, "someone-else", 12);
    assert_int_equal(run(fx, "MRN-0043", NULL)->dead_letter, 1);
    assert_string_equal(fx->res.verdict.field, "event_id");
}

/* dlq replay judges a dead letter's event as the live path would: under
 * the pseudonym, so an event learned since is a duplicate, found by it. */
static void test_online_id_replay_judged_by_pseudonym(void **state)
{
    struct fixture *fx = *state;
    struct buf msg = {0};

    encode_raw_event(fx, &msg);
    assert_int_equal(online_validate(fx->on.ol, msg.data, msg.len, &fx->res), 0);
    assert_int_equal(fx->res.dead_letter, 0);
    assert_int_equal(fx->res.duplicate, 0);
    assert_string_equal(fx->res.event_id, fx->pseudonym);

    run(fx, RAW_ID, "1");
    assert_int_equal(online_validate(fx->on.ol, msg.data, msg.len, &fx->res), 0);
    assert_int_equal(fx->res.duplicate, 1);
    buf_free(&msg);
}

/* With labels of format "event", a label without a key names its event
 * by the id field, read raw: its pseudonym joins the waiting event. */
static void test_online_id_event_label_joins(void **state)
{
    struct fixture *fx = *state;
    struct online_label label;
    struct online_label_origin origin = {0, 3, LABEL_TS_MS, NULL, 0, NULL, 0};
    enum label_join_outcome outcome;
    struct buf msg = {0};

    assert_int_equal(run(fx, RAW_ID, NULL)->pending, 1);

    encode_raw_event(fx, &msg);
    origin.payload = msg.data;
    origin.len = msg.len;
    assert_int_equal(online_read_label(fx->on.ol, NULL, 0, msg.data, msg.len,
                                       &label),
                     0);
    assert_int_equal(label.id_len, strlen(fx->pseudonym));
    assert_memory_equal(label.id, fx->pseudonym, label.id_len);
    assert_int_equal(online_learn_label(fx->on.ol, &label, &origin, &outcome,
                                        &fx->res),
                     0);
    assert_int_equal(outcome, LABEL_JOIN_JOINED);
    assert_string_equal(fx->res.event_id, fx->pseudonym);
    buf_free(&msg);
}

/* A message that stops short of its last field is refused as
 * undecodable after its raw id was decoded into the learner's event:
 * no action runs on it, so the id is wiped there all the same. */
static void test_online_id_undecodable_event_wiped(void **state)
{
    struct fixture *fx = *state;
    struct buf msg = {0};

    encode_raw_event(fx, &msg);

    assert_int_equal(online_process(fx->on.ol, msg.data, msg.len - 1,
                                    &fx->res),
                     0);
    assert_int_equal(fx->res.dead_letter, 1);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_ID, strlen(RAW_ID)),
                     0);
    buf_free(&msg);
}

/* dlq replay judges a dead letter's event, which is not learned: the
 * raw values of its personal fields are wiped from the learner's event
 * once judged, as once learned. */
static void test_online_id_replay_judged_wipes_personal(void **state)
{
    struct fixture *fx = *state;
    struct buf msg = {0};

    encode_raw_event(fx, &msg);
    assert_int_equal(online_validate(fx->on.ol, msg.data, msg.len, &fx->res), 0);
    assert_int_equal(fx->res.dead_letter, 0);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_Z, strlen(RAW_Z)), 0);
    buf_free(&msg);
}

/* A label of format "event" is a whole event, read for its id and
 * label only: the raw values of its personal fields are wiped from the
 * learner's event once read. */
static void test_online_id_event_label_wipes_personal(void **state)
{
    struct fixture *fx = *state;
    struct online_label label;
    struct buf msg = {0};

    encode_raw_event(fx, &msg);
    assert_int_equal(online_read_label(fx->on.ol, NULL, 0, msg.data, msg.len,
                                       &label),
                     0);
    assert_memory_equal(label.id, fx->pseudonym, label.id_len);
    assert_int_equal(online_scratch_holds(fx->on.ol, RAW_Z, strlen(RAW_Z)), 0);
    buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_online_id_result_names_pseudonym, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_long_and_empty_refused, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_duplicate_found,
                                        setup_dedup, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_replay_judged_by_pseudonym, setup_dedup, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_label_by_raw_key_joins, setup_labels, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_early_label_joins_and_hides_key, setup_labels,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_given_up_label_keeps_raw_key, setup_labels,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_raw_id_wiped_from_event, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_early_label_key_wiped, setup_labels, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_given_up_label_key_wiped, setup_labels, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_message_key_check,
                                        setup_labels, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_key_with_nul_refused, setup_labels, teardown),
        cmocka_unit_test_setup_teardown(
            test_online_id_waiting_label_restored, setup_labels, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_event_label_joins,
                                        setup_event_labels, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_undecodable_event_wiped,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_replay_judged_wipes_personal,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_online_id_event_label_wipes_personal,
                                        setup_event_labels, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
