/*
 * tests/unit/test_event_hints.c - results made ahead on an event
 * (schemas/event.h, "Hints"): every write to a field drops its hints;
 * the anonymizer and the feature builder use a hint while it is valid
 * and compute from the value once it is not (a category imputed or
 * repaired by cleaning after the hint was made); and a learner fed
 * hinted events reaches the same predictions and weights as one fed the
 * same events bare. The same for number hints (a label's class, a
 * log1p) and the event-wide hint (the fields cleaning must look at).
 * The hints are made on the test's thread, as train's reader thread
 * makes them on its own. No broker.
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

#include "cleaning/clean.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/features.h"
#include "learner/hash.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "privacy/anonymize.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define KEY_ENV "RIFFLE_TEST_HINT_KEY"
#define KEY_TEXT "0123456789abcdef-test-hint-key" /* 30 bytes, raw */
#define KEY_ID "h1"
#define TEST_BITS 12
#define STREAM_EVENTS 3000
#define STREAM_SEED 20261205u

static const char hint_schema[] =
    "{\"type\": \"record\", \"name\": \"H\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"color\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"city\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"day\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"age\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"weight\", \"type\": [\"null\", \"double\"]}"
    "]}";

/* A category that is not one of the allowed ones is made missing, then
 * imputed with the mode (color) or left to its missing token (city, as
 * a personal field must), and an age outside its range is clipped:
 * cleaning writes to a field that was hinted. Ages are coarsened into
 * bands named ahead, weights into bands named as they come. */
static const char hint_cfg[] =
    "name = \"hints\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; },\n"
    "  { name = \"color\"; kind = \"categorical\";\n"
    "    allowed = [\"red\", \"green\", \"blue\"];\n"
    "    on_invalid = \"missing\"; missing = \"mode\"; },\n"
    "  { name = \"city\"; kind = \"categorical\"; personal = \"pseudonym\";\n"
    "    allowed = [\"paris\", \"rome\", \"oslo\"];\n"
    "    on_invalid = \"missing\"; missing = \"token\"; },\n"
    "  { name = \"day\"; kind = \"categorical\"; },\n"
    "  { name = \"x\"; kind = \"numeric\"; transform = \"log1p\"; },\n"
    "  { name = \"age\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    band = 10.0; min = 0.0; max = 100.0; on_range = \"clip\"; },\n"
    "  { name = \"weight\"; kind = \"categorical\";\n"
    "    personal = \"coarsen\"; band = 25.0; }\n"
    ");\n"
    "privacy = { key_env = \"" KEY_ENV "\"; key_id = \"" KEY_ID "\"; };\n"
    "learner = { model_name = \"hints\"; bits = 12; hash_seed = 7; };\n";

/* Configured positions in hint_cfg. */
enum { CF_ID = 0, CF_LABEL, CF_COLOR, CF_CITY, CF_DAY, CF_X, CF_AGE,
       CF_WEIGHT };

struct fixture {
    struct scratch_dir scratch;
    struct cfg *cfg;
    struct schema *schema;
    struct event ev;
    char errstr[TESTUTIL_ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    setenv(KEY_ENV, KEY_TEXT, 1);
    if (scratch_dir_new(&fx->scratch, "hints", &fx->cfg) != 0 ||
        load_cfg_text(fx->cfg, fx->scratch.cfg_path, hint_cfg, fx->errstr,
                      sizeof(fx->errstr)) != 0 ||
        schema_load_json(hint_schema, strlen(hint_schema), "test schema",
                         &fx->schema, fx->errstr, sizeof(fx->errstr)) != 0) {
        print_error("fixture: %s\n", fx->errstr);
        return -1;
    }
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    if (!fx)
        return 0;
    event_free(&fx->ev);
    schema_destroy(fx->schema);
    scratch_dir_destroy(&fx->scratch, fx->cfg);
    unsetenv(KEY_ENV);
    free(fx);
    return 0;
}

/* ---- the event's own rules ---------------------------------------- */

#define REPLACEMENT "k:0123"
#define HASH_A 0x1234567u
#define HASH_B 0x7654321u
#define NUMBER_A 2.5

/* Gives field f of ev a value, a hash hint and a replacement with its
 * hash. */
static void hint_field(struct event *ev, size_t f)
{
    char *r;

    assert_int_equal(event_set_string(ev, f, "raw", 3), 0);
    event_hint_hash(ev, f, HASH_A);
    r = event_hint_replacement(ev, f, strlen(REPLACEMENT));
    assert_non_null(r);
    memcpy(r, REPLACEMENT, strlen(REPLACEMENT));
    event_hint_replacement_hash(ev, f, HASH_B);
    event_hint_number(ev, f, NUMBER_A);
}

static void assert_hinted(const struct event *ev, size_t f, int want)
{
    uint32_t h = 0;
    double x = 0.0;

    assert_int_equal(event_hinted_hash(ev, f, &h), want);
    if (want)
        assert_int_equal(h, HASH_A);
    assert_int_equal((ev->values[f].hinted & EVENT_HINT_REPLACEMENT) != 0, want);
    assert_int_equal(event_hinted_number(ev, f, &x), want);
    if (want)
        assert_true(x == NUMBER_A);
}

enum writer { W_NUMBER, W_NULL, W_STRING, W_WRITE, W_AT, W_COUNT };

static void write_with(struct event *ev, size_t f, enum writer w)
{
    size_t at;

    switch (w) {
    case W_NUMBER:
        event_set_number(ev, f, 2.0);
        break;
    case W_NULL:
        event_set_null(ev, f);
        break;
    case W_STRING:
        assert_int_equal(event_set_string(ev, f, "raw", 3), 0); /* same */
        break;
    case W_WRITE:
        assert_non_null(event_write_string(ev, f, 1));
        break;
    default:
        assert_int_equal(event_append_block(ev, "raw", 4, &at), 0);
        event_set_string_at(ev, f, at, 3);
        break;
    }
}

/* Any write drops the written field's hints, even one that writes the
 * same text again, and leaves the other fields' alone. */
static void test_event_hints_dropped_by_every_write(void **state)
{
    struct fixture *fx = *state;
    int w;

    for (w = 0; w < W_COUNT; w++) {
        event_reset(&fx->ev, 3);
        hint_field(&fx->ev, 0);
        hint_field(&fx->ev, 1);
        hint_field(&fx->ev, 2);

        write_with(&fx->ev, 1, (enum writer)w);

        assert_hinted(&fx->ev, 0, 1);
        assert_hinted(&fx->ev, 1, 0);
        assert_hinted(&fx->ev, 2, 1);
        assert_int_equal(event_use_replacement(&fx->ev, 1), 0);
    }

    event_reset(&fx->ev, 3);
    assert_hinted(&fx->ev, 0, 0);
    assert_hinted(&fx->ev, 2, 0);
}

/* The event-wide hint survives the hints made after it, and any write
 * to any field drops it, as does using a replacement. */
static void test_event_mask_dropped_by_every_write(void **state)
{
    struct fixture *fx = *state;
    const uint64_t mask[EVENT_MASK_WORDS] = {0x5, 1u << 3};
    int w;

    for (w = 0; w < W_COUNT; w++) {
        event_reset(&fx->ev, 3);
        assert_null(event_hinted_mask(&fx->ev));
        event_hint_mask(&fx->ev, mask);
        hint_field(&fx->ev, 0); /* writes field 0, then hints it */
        event_hint_mask(&fx->ev, mask);
        event_hint_hash(&fx->ev, 1, HASH_A);
        event_hint_number(&fx->ev, 1, NUMBER_A);
        memcpy(event_hint_replacement(&fx->ev, 2, 2), "ok", 2);
        assert_non_null(event_hinted_mask(&fx->ev));
        assert_memory_equal(event_hinted_mask(&fx->ev), mask, sizeof(mask));

        write_with(&fx->ev, (size_t)w % 3, (enum writer)w);
        assert_null(event_hinted_mask(&fx->ev));
    }

    event_reset(&fx->ev, 3);
    hint_field(&fx->ev, 1);
    event_hint_mask(&fx->ev, mask);
    assert_int_equal(event_use_replacement(&fx->ev, 1), 1);
    assert_null(event_hinted_mask(&fx->ev));

    event_hint_mask(&fx->ev, mask);
    event_reset(&fx->ev, 3);
    assert_null(event_hinted_mask(&fx->ev));
}

/* A replacement keeps the value until used; used, it becomes the value
 * and its hash the value's hash hint; it cannot be used twice. */
static void test_event_use_replacement(void **state)
{
    struct fixture *fx = *state;
    uint32_t h = 0;

    event_reset(&fx->ev, 2);
    hint_field(&fx->ev, 1);
    assert_string_equal(event_string(&fx->ev, 1), "raw");

    assert_int_equal(event_use_replacement(&fx->ev, 1), 1);
    assert_string_equal(event_string(&fx->ev, 1), REPLACEMENT);
    assert_int_equal(event_hinted_hash(&fx->ev, 1, &h), 1);
    assert_int_equal(h, HASH_B);
    assert_int_equal(event_use_replacement(&fx->ev, 1), 0);

    /* Without a hash of its own, the replacement leaves no hash hint:
     * the value's hash was of the raw text. */
    event_reset(&fx->ev, 2);
    assert_int_equal(event_set_string(&fx->ev, 0, "raw", 3), 0);
    event_hint_hash(&fx->ev, 0, HASH_A);
    memcpy(event_hint_replacement(&fx->ev, 0, 2), "ok", 2);
    assert_int_equal(event_use_replacement(&fx->ev, 0), 1);
    assert_string_equal(event_string(&fx->ev, 0), "ok");
    assert_int_equal(event_hinted_hash(&fx->ev, 0, &h), 0);
}

/* ---- the consumers -------------------------------------------------- */

/* The weight index features_build() gives color, the first configured
 * feature, when it is not null. */
static uint32_t color_index(struct feature_builder *fb,
                            const struct event *ev)
{
    struct feature x[FEATURES_MAX];

    assert_true(features_build(fb, ev, NULL, x) >= 1);
    return x[0].index;
}

/* The builder takes the hinted hash while the value is unchanged, and
 * hashes the value once cleaning has written another (an imputed
 * mode). */
static void test_features_use_hint_until_written(void **state)
{
    struct fixture *fx = *state;
    struct running_stats stats[CFG_MAX_FIELDS] = {{0}};
    struct feature_builder *fb = NULL;
    size_t color = schema_col(fx->schema, "color");
    uint32_t seed = hash_string("color", fx->cfg->hash_seed);
    uint32_t mask = (1u << TEST_BITS) - 1;

    assert_int_equal(features_new(fx->cfg, fx->schema, stats, &fb,
                                  fx->errstr, sizeof(fx->errstr)),
                     0);
    event_reset(&fx->ev, schema_field_count(fx->schema));
    event_put_text(&fx->ev, fx->schema, "color", "purple");

    features_hint_event(fb, &fx->ev);
    assert_int_equal(color_index(fb, &fx->ev),
                     hash_murmur3_32("purple", 6, seed) & mask);

    /* A hint is taken as it is: this one is not purple's. */
    event_hint_hash(&fx->ev, color, HASH_A);
    assert_int_equal(color_index(fb, &fx->ev), HASH_A & mask);

    event_put_text(&fx->ev, fx->schema, "color", "red");
    assert_int_equal(color_index(fb, &fx->ev),
                     hash_murmur3_32("red", 3, seed) & mask);
    features_destroy(fb);
}

/* The value features_build() gives x, which is not null in ev: the
 * feature at x's own index. */
static float x_value(const struct fixture *fx, struct feature_builder *fb,
                     const struct event *ev)
{
    struct feature x[FEATURES_MAX];
    uint32_t index = hash_string("x", fx->cfg->hash_seed) &
                     ((1u << TEST_BITS) - 1);
    size_t n = features_build(fb, ev, NULL, x), i;

    for (i = 0; i < n; i++)
        if (x[i].index == index)
            return x[i].value;
    fail_msg("no feature of x among %zu", n);
    return 0.0f;
}

/* x's log1p is hinted as the learner computes it, for either sign; the
 * hint is taken as it is; and a value written after it gets its own. */
static void test_features_use_log1p_hint_until_written(void **state)
{
    struct fixture *fx = *state;
    struct running_stats stats[CFG_MAX_FIELDS] = {{0}};
    struct feature_builder *fb = NULL;
    size_t x = schema_col(fx->schema, "x");
    double hinted = 0.0;

    assert_int_equal(features_new(fx->cfg, fx->schema, stats, &fb,
                                  fx->errstr, sizeof(fx->errstr)),
                     0);
    event_reset(&fx->ev, schema_field_count(fx->schema));
    event_set_number(&fx->ev, x, 3.0);
    features_hint_event(fb, &fx->ev);
    assert_int_equal(event_hinted_number(&fx->ev, x, &hinted), 1);
    assert_true(hinted == log1p(3.0));
    assert_true(x_value(fx, fb, &fx->ev) == (float)log1p(3.0));

    event_set_number(&fx->ev, x, -0.75);
    features_hint_event(fb, &fx->ev);
    assert_int_equal(event_hinted_number(&fx->ev, x, &hinted), 1);
    assert_true(hinted == -log1p(0.75));

    /* A hint is taken as it is: this one is not log1p(-0.75). */
    event_hint_number(&fx->ev, x, NUMBER_A);
    assert_true(x_value(fx, fb, &fx->ev) == (float)NUMBER_A);

    event_set_number(&fx->ev, x, 9.0);
    assert_true(x_value(fx, fb, &fx->ev) == (float)log1p(9.0));

    /* A null x gets no hint. */
    event_set_null(&fx->ev, x);
    features_hint_event(fb, &fx->ev);
    assert_int_equal(event_hinted_number(&fx->ev, x, &hinted), 0);
    features_destroy(fb);
}

/* One event of hint_cfg, every value passing its quick rule. */
static void clean_event(const struct schema *s, struct event *ev)
{
    event_reset(ev, schema_field_count(s));
    event_put_text(ev, s, "event_id", "e-1");
    event_put_text(ev, s, "label", "1");
    event_put_text(ev, s, "color", "red");
    event_put_text(ev, s, "city", "rome");
    event_set_number(ev, schema_col(s, "day"), 3.0);
    event_set_number(ev, schema_col(s, "x"), 0.25);
    event_set_number(ev, schema_col(s, "age"), 40.0);
    event_set_number(ev, schema_col(s, "weight"), 70.0);
}

/* The configured fields in the hinted mask, as bits. */
static uint64_t hinted_fields(const struct event *ev)
{
    const uint64_t *mask = event_hinted_mask(ev);

    assert_non_null(mask);
    assert_int_equal(mask[1], 0);
    return mask[0];
}

/* The cleaner's hinter marks the fields that need more than their quick
 * rule (the label, categories with allowed values, a value out of range,
 * a null) and hints the label's number unless it would be refused. */
static void test_cleaner_hint_marks_fields(void **state)
{
    struct fixture *fx = *state;
    struct running_stats stats[CFG_MAX_FIELDS] = {{0}};
    struct cleaner *c = NULL;
    struct cleaner_hinter *h = NULL;
    size_t label = schema_col(fx->schema, "label");
    const uint64_t always = (1u << CF_LABEL) | (1u << CF_COLOR) |
                            (1u << CF_CITY);
    double y = -1.0;
    int round;

    assert_int_equal(cleaner_new(fx->cfg, fx->schema, stats, &c, fx->errstr,
                                 sizeof(fx->errstr)),
                     0);
    assert_int_equal(cleaner_hinter_new(c, &h), 0);

    /* Twice: the label is found, then taken from the hinter's memo. */
    for (round = 0; round < 2; round++) {
        clean_event(fx->schema, &fx->ev);
        cleaner_hint_event(h, &fx->ev);
        assert_int_equal(hinted_fields(&fx->ev), always);
        assert_int_equal(event_hinted_number(&fx->ev, label, &y), 1);
        assert_true(y == 1.0);
    }

    clean_event(fx->schema, &fx->ev);
    event_set_number(&fx->ev, schema_col(fx->schema, "age"), 150.0);
    event_set_null(&fx->ev, schema_col(fx->schema, "weight"));
    event_put_text(&fx->ev, fx->schema, "label", "0");
    cleaner_hint_event(h, &fx->ev);
    assert_int_equal(hinted_fields(&fx->ev),
                     always | (1u << CF_AGE) | (1u << CF_WEIGHT));
    assert_int_equal(event_hinted_number(&fx->ev, label, &y), 1);
    assert_true(y == 0.0);

    /* Refused: no number; the learner refuses it with its verdict. */
    event_put_text(&fx->ev, fx->schema, "label", "maybe");
    cleaner_hint_event(h, &fx->ev);
    assert_int_equal(event_hinted_number(&fx->ev, label, &y), 0);
    event_set_null(&fx->ev, label);
    cleaner_hint_event(h, &fx->ev);
    assert_int_equal(event_hinted_number(&fx->ev, label, &y), 0);

    cleaner_hinter_destroy(h);
    cleaner_destroy(c);
}

/* cleaner_apply() takes both hints while the event is unchanged (a mask
 * or a label number that lies is believed), and cleans a value written
 * after the hint was made as if there had been none: age set out of
 * range is clipped, a label changed is found anew. */
static void test_cleaner_uses_hints_until_written(void **state)
{
    struct fixture *fx = *state;
    struct running_stats stats[CFG_MAX_FIELDS] = {{0}};
    struct cleaner *c = NULL;
    struct cleaner_hinter *h = NULL;
    struct clean_verdict v;
    size_t age = schema_col(fx->schema, "age");
    size_t label = schema_col(fx->schema, "label");
    const uint64_t only_label[EVENT_MASK_WORDS] = {1u << CF_LABEL};
    double y = -1.0;

    assert_int_equal(cleaner_new(fx->cfg, fx->schema, stats, &c, fx->errstr,
                                 sizeof(fx->errstr)),
                     0);
    assert_int_equal(cleaner_hinter_new(c, &h), 0);

    /* Believed: age 150 is not clipped, the label is what the hint says. */
    clean_event(fx->schema, &fx->ev);
    event_set_number(&fx->ev, age, 150.0);
    event_hint_mask(&fx->ev, only_label);
    event_hint_number(&fx->ev, label, 0.0);
    assert_int_equal(cleaner_apply(c, &fx->ev, &y, &v), 0);
    assert_true(y == 0.0);
    assert_true(fx->ev.values[age].number == 150.0);
    assert_int_equal(cleaner_counts(c)->clipped, 0);

    /* Written after the hints: cleaned as it is now. */
    clean_event(fx->schema, &fx->ev);
    cleaner_hint_event(h, &fx->ev);
    event_set_number(&fx->ev, age, 150.0);
    assert_int_equal(cleaner_apply(c, &fx->ev, &y, &v), 0);
    assert_true(fx->ev.values[age].number == 100.0);
    assert_int_equal(cleaner_counts(c)->clipped, 1);
    assert_true(y == 1.0);

    clean_event(fx->schema, &fx->ev);
    cleaner_hint_event(h, &fx->ev);
    event_put_text(&fx->ev, fx->schema, "label", "maybe");
    assert_int_equal(cleaner_apply(c, &fx->ev, &y, &v),
                     RIFFLE_ERR_INVALID);
    assert_string_equal(v.reason, CLEAN_REASON_LABEL);

    /* A repair by cleaning itself (color made missing, then its mode
     * imputed) leaves the fields after it to their quick rules: weight
     * is still counted missing. */
    clean_event(fx->schema, &fx->ev);
    event_put_text(&fx->ev, fx->schema, "color", "purple");
    event_set_null(&fx->ev, schema_col(fx->schema, "weight"));
    cleaner_hint_event(h, &fx->ev);
    assert_int_equal(cleaner_apply(c, &fx->ev, &y, &v), 0);
    assert_int_equal(cleaner_field_counts(c)[CF_WEIGHT].missing, 1);
    assert_int_equal(cleaner_field_counts(c)[CF_COLOR].invalid, 1);

    cleaner_hinter_destroy(h);
    cleaner_destroy(c);
}

/* The pseudonym of text for the city field, as the anonymizer writes it. */
static void city_token(const char *text, char *out, size_t size)
{
    assert_int_equal(anonymize_pseudonym((const unsigned char *)KEY_TEXT,
                                         strlen(KEY_TEXT), KEY_ID, "city",
                                         text, out, size),
                     0);
}

/* The hinted pseudonym is the one anonymizer_apply() would write; it is
 * used while the value is unchanged, and a value repaired after the hint
 * was made gets its own pseudonym. */
static void test_anonymizer_hint_until_written(void **state)
{
    struct fixture *fx = *state;
    struct anonymizer *a = NULL;
    struct anonymizer_hinter *h = NULL;
    size_t city = schema_col(fx->schema, "city");
    char want[64];

    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &a, fx->errstr,
                                    sizeof(fx->errstr)),
                     0);
    assert_int_equal(anonymizer_hinter_new(a, NULL, &h), 0);
    event_reset(&fx->ev, schema_field_count(fx->schema));
    event_put_text(&fx->ev, fx->schema, "city", "paris");

    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    city_token("paris", want, sizeof(want));
    assert_string_equal(event_string(&fx->ev, city), "paris"); /* kept */
    assert_string_equal(fx->ev.arena.data + fx->ev.replacement[city].offset,
                        want);

    /* Taken as it is: a hint marked in the arena shows it was used. */
    fx->ev.arena.data[fx->ev.replacement[city].offset] = 'X';
    assert_int_equal(anonymizer_apply(a, &fx->ev), 0);
    assert_int_equal(event_text(&fx->ev, fx->schema, "city")[0], 'X');

    /* Hinted, then repaired: the hint is of a value no longer there. */
    event_put_text(&fx->ev, fx->schema, "city", "paris");
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    event_put_text(&fx->ev, fx->schema, "city", "rome");
    assert_int_equal(anonymizer_apply(a, &fx->ev), 0);
    city_token("rome", want, sizeof(want));
    assert_string_equal(event_text(&fx->ev, fx->schema, "city"), want);

    /* A band's name, named ahead or not; and an age clipped after the
     * hint gets the name of its clipped band. */
    event_set_number(&fx->ev, schema_col(fx->schema, "age"), 37.0);
    event_set_number(&fx->ev, schema_col(fx->schema, "weight"), 80.0);
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    assert_int_equal(anonymizer_apply(a, &fx->ev), 0);
    assert_string_equal(event_text(&fx->ev, fx->schema, "age"), "[30,40)");
    assert_string_equal(event_text(&fx->ev, fx->schema, "weight"),
                        "[75,100)");

    event_set_number(&fx->ev, schema_col(fx->schema, "age"), 140.0);
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    event_set_number(&fx->ev, schema_col(fx->schema, "age"), 100.0);
    assert_int_equal(anonymizer_apply(a, &fx->ev), 0);
    assert_string_equal(event_text(&fx->ev, fx->schema, "age"),
                        "[100,110)");

    anonymizer_hinter_destroy(h);
    anonymizer_destroy(a);
}

/* Values of every length up to past the cache's longest (48 bytes), each
 * also in variants that differ from it in one byte, the last, the first
 * or the middle one: the cache picks a slot and compares a value by its
 * first and last words (overlapping loads below 8 bytes) and the bytes
 * between them, so a value that differs only where two loads overlap, or
 * only between the words, must still get its own pseudonym. Each is
 * hinted twice (a miss, then from the cache) and must be the token
 * anonymize_pseudonym() makes. */
#define CACHE_TEST_MAX_LEN 56

static void expect_city_hint(struct anonymizer_hinter *h, struct event *ev,
                             const struct schema *s, const char *text,
                             size_t len, const char *want)
{
    size_t city = schema_col(s, "city");
    int round;

    for (round = 0; round < 2; round++) {
        event_reset(ev, schema_field_count(s));
        assert_int_equal(event_set_string(ev, city, text, len), 0);
        assert_int_equal(anonymizer_hint_event(h, ev), 0);
        assert_true(ev->values[city].hinted & EVENT_HINT_REPLACEMENT);
        assert_string_equal(ev->arena.data + ev->replacement[city].offset,
                            want);
    }
}

static void test_anonymizer_hint_cache_lengths(void **state)
{
    struct fixture *fx = *state;
    struct anonymizer *a = NULL;
    struct anonymizer_hinter *h = NULL;
    char text[CACHE_TEST_MAX_LEN + 1], want[128];
    uint64_t rng = STREAM_SEED;
    size_t len, i, variant;

    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &a, fx->errstr,
                                    sizeof(fx->errstr)),
                     0);
    assert_int_equal(anonymizer_hinter_new(a, NULL, &h), 0);

    for (len = 1; len <= CACHE_TEST_MAX_LEN; len++) {
        for (i = 0; i < len; i++)
            text[i] = (char)('a' + rng_next(&rng) % 26);
        text[len] = '\0';
        for (variant = 0; variant < 4; variant++) {
            if (variant == 1)
                text[len - 1] = text[len - 1] == 'z' ? 'y' : 'z';
            if (variant == 2)
                text[0] = text[0] == 'z' ? 'y' : 'z';
            if (variant == 3)
                text[len / 2] = text[len / 2] == 'z' ? 'y' : 'z';
            city_token(text, want, sizeof(want));
            expect_city_hint(h, &fx->ev, fx->schema, text, len, want);
        }
    }

    /* A value holding a NUL is pseudonymized up to it, as the digest
     * reads it, whatever bytes follow and whichever length keys it. */
    city_token("ab", want, sizeof(want));
    expect_city_hint(h, &fx->ev, fx->schema, "ab\0cd", 5, want);
    expect_city_hint(h, &fx->ev, fx->schema, "ab\0xy", 5, want);
    expect_city_hint(h, &fx->ev, fx->schema, "ab", 2, want);

    anonymizer_hinter_destroy(h);
    anonymizer_destroy(a);
}

/* A value that differs from the one its cache slot holds in any single
 * byte gets its own pseudonym, from the hinter and from
 * anonymizer_apply() alike. Above 16 bytes the slot is chosen by the
 * first and last eight bytes only, so a value differing inside them
 * always meets the cached one; each byte position is tried, the bounds
 * of the compared middle (bytes 8 and len - 9) among them. */
static void expect_city_applied(struct anonymizer *a, struct event *ev,
                                const struct schema *s, const char *text,
                                size_t len, const char *want)
{
    size_t city = schema_col(s, "city");

    event_reset(ev, schema_field_count(s));
    assert_int_equal(event_set_string(ev, city, text, len), 0);
    assert_int_equal(anonymizer_apply(a, ev), 0);
    assert_string_equal(event_string(ev, city), want);
}

static void test_anonymizer_cache_tells_every_byte(void **state)
{
    struct fixture *fx = *state;
    struct anonymizer *a = NULL;
    struct anonymizer_hinter *h = NULL;
    char base[CACHE_TEST_MAX_LEN + 1], text[CACHE_TEST_MAX_LEN + 1];
    char want_base[128], want[128];
    uint64_t rng = STREAM_SEED + 1;
    size_t len, at, i;

    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &a, fx->errstr,
                                    sizeof(fx->errstr)),
                     0);
    assert_int_equal(anonymizer_hinter_new(a, NULL, &h), 0);

    for (len = 1; len <= CACHE_TEST_MAX_LEN; len++) {
        for (i = 0; i < len; i++)
            base[i] = (char)('a' + rng_next(&rng) % 26);
        base[len] = '\0';
        city_token(base, want_base, sizeof(want_base));
        for (at = 0; at < len; at++) {
            /* The slot holds base again, then meets the variant. */
            expect_city_hint(h, &fx->ev, fx->schema, base, len, want_base);
            expect_city_applied(a, &fx->ev, fx->schema, base, len, want_base);
            memcpy(text, base, len + 1);
            text[at] = text[at] == 'z' ? 'y' : 'z';
            city_token(text, want, sizeof(want));
            expect_city_hint(h, &fx->ev, fx->schema, text, len, want);
            expect_city_applied(a, &fx->ev, fx->schema, text, len, want);
        }
    }

    anonymizer_hinter_destroy(h);
    anonymizer_destroy(a);
}

/* ---- the learner, with and without hints ------------------------- */

static const char *const colors[] = {"red", "green", "blue", "purple"};
static const char *const cities[] = {"paris", "rome", "oslo", "lyon"};

/* Event k of a fixed stream: about one category in four is not allowed
 * (cleaning makes it missing after the hint was made, and imputes
 * color's mode), some are null. */
static void stream_event(const struct schema *s, struct event *ev,
                         uint64_t *rng, size_t k)
{
    char id[32];
    uint64_t r = rng_next(rng);

    event_reset(ev, schema_field_count(s));
    snprintf(id, sizeof(id), "e-%zu", k);
    event_put_text(ev, s, "event_id", id);
    event_put_text(ev, s, "label", (r & 1) ? "1" : "0");
    if ((r >> 1) % 9 != 0)
        event_put_text(ev, s, "color", colors[(r >> 5) % 4]);
    if ((r >> 9) % 11 != 0)
        event_put_text(ev, s, "city", cities[(r >> 13) % 4]);
    if ((r >> 17) % 7 != 0)
        event_set_number(ev, schema_col(s, "day"), (double)((r >> 21) % 7));
    event_set_number(ev, schema_col(s, "x"), rng_unit(rng) - 0.5);
    event_set_number(ev, schema_col(s, "age"), (double)((r >> 24) % 150));
    if ((r >> 32) % 5 != 0)
        event_set_number(ev, schema_col(s, "weight"),
                         (double)((r >> 35) % 300) - 20.0);
}

static void assert_same_result(const struct online_result *a,
                               const struct online_result *b, size_t k)
{
    if (a->dead_letter != b->dead_letter ||
        memcmp(&a->value, &b->value, sizeof(a->value)) != 0 ||
        a->predicted_class != b->predicted_class)
        fail_msg("event %zu: bare %d %.17g, hinted %d %.17g", k,
                 a->dead_letter, a->value, b->dead_letter, b->value);
}

/* Every prediction and the final weights are bit-identical whether the
 * events were hinted or not; and the hints were used (the stream hints
 * some value of every kind). */
static void test_online_same_with_hints(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *bare = NULL, *hinted = NULL;
    struct online_hinter *h = NULL;
    struct online_result ra, rb;
    struct event copy;
    uint64_t rng_a = STREAM_SEED, rng_b = STREAM_SEED, da = 0, db = 0;
    size_t k, used = 0, bands = 0, named = 0, labels = 0, logs = 0;
    double unused;

    assert_int_equal(online_new(fx->cfg, fx->schema, &bare, fx->errstr,
                                sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_new(fx->cfg, fx->schema, &hinted, fx->errstr,
                                sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_hinter_new(hinted, &h), 0);
    event_init(&copy);

    for (k = 0; k < STREAM_EVENTS; k++) {
        stream_event(fx->schema, &fx->ev, &rng_a, k);
        stream_event(fx->schema, &copy, &rng_b, k);
        assert_int_equal(online_hint_event(h, &copy), 0);
        used += (copy.values[schema_col(fx->schema, "city")].hinted &
                 EVENT_HINT_REPLACEMENT_HASH) != 0;
        bands += (copy.values[schema_col(fx->schema, "weight")].hinted &
                  EVENT_HINT_REPLACEMENT_HASH) != 0;
        named += (copy.values[schema_col(fx->schema, "age")].hinted &
                  EVENT_HINT_REPLACEMENT_HASH) != 0;
        labels += event_hinted_number(&copy, schema_col(fx->schema, "label"),
                                      &unused);
        logs += event_hinted_number(&copy, schema_col(fx->schema, "x"),
                                    &unused);
        assert_non_null(event_hinted_mask(&copy));

        assert_int_equal(online_process_event(bare, &fx->ev, &ra), 0);
        assert_int_equal(online_process_event(hinted, &copy, &rb), 0);
        assert_same_result(&ra, &rb, k);
    }

    assert_true(used > STREAM_EVENTS / 2);
    assert_true(bands > STREAM_EVENTS / 2);
    assert_true(named > STREAM_EVENTS / 2); /* ages with bands named ahead */
    assert_int_equal(labels, STREAM_EVENTS);
    assert_int_equal(logs, STREAM_EVENTS);
    /* Cleaning counted the same: every missing value, repair, refusal. */
    assert_memory_equal(online_clean_counts(bare), online_clean_counts(hinted),
                        sizeof(struct clean_counts));
    assert_memory_equal(online_clean_field_counts(bare),
                        online_clean_field_counts(hinted),
                        fx->cfg->field_count *
                            sizeof(struct clean_field_counts));
    assert_true(online_clean_counts(bare)->clipped > 0);
    assert_true(online_clean_counts(bare)->imputed > 0);
    assert_int_equal(snapshot_weights_digest(bare, &da), 0);
    assert_int_equal(snapshot_weights_digest(hinted, &db), 0);
    assert_int_equal(da, db);
    assert_models_equal(online_model(bare), online_model(hinted));

    event_free(&copy);
    online_hinter_destroy(h);
    online_destroy(hinted);
    online_destroy(bare);
}

/* features_prefetch_hinted() names the weight index features_build()
 * will give each hinted categorical value, once anonymized: the raw
 * tokens' (color, day) and the replacements' (city's pseudonym, the age
 * and weight bands); values without a hint are left out. */
static void test_features_prefetch_hinted_indices(void **state)
{
    struct fixture *fx = *state;
    struct running_stats stats[CFG_MAX_FIELDS] = {{0}};
    struct online_learner *ol = NULL;
    struct online_hinter *h = NULL;
    struct anonymizer *a = NULL;
    struct feature_builder *fb = NULL;
    struct feature x[FEATURES_MAX];
    uint32_t idx[CFG_MAX_FIELDS];
    uint64_t rng = STREAM_SEED;
    size_t k, i, j, n, built, named = 0;

    assert_int_equal(online_new(fx->cfg, fx->schema, &ol, fx->errstr,
                                sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_hinter_new(ol, &h), 0);
    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &a, fx->errstr,
                                    sizeof(fx->errstr)),
                     0);
    assert_int_equal(features_new(fx->cfg, fx->schema, stats, &fb,
                                  fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(features_token_count(fb), 5);

    for (k = 0; k < STREAM_EVENTS / 10; k++) {
        size_t hinted = 0;

        stream_event(fx->schema, &fx->ev, &rng, k);
        assert_int_equal(online_hint_event(h, &fx->ev), 0);
        for (i = 0; i < schema_field_count(fx->schema); i++)
            hinted += (fx->ev.values[i].hinted & (EVENT_HINT_HASH |
                                           EVENT_HINT_REPLACEMENT_HASH)) != 0;
        n = features_prefetch_hinted(fb, &fx->ev, idx);
        assert_int_equal(n, hinted);

        assert_int_equal(anonymizer_apply(a, &fx->ev), 0);
        built = features_build(fb, &fx->ev, NULL, x);
        for (i = 0; i < n; i++) {
            for (j = 0; j < built && x[j].index != idx[i]; j++)
                ;
            if (j == built)
                fail_msg("event %zu: index %u is not among its features", k,
                         (unsigned)idx[i]);
        }
        named += n;
    }
    /* Most values carry a hint: the look ahead had work to do. */
    assert_true(named > 3 * (STREAM_EVENTS / 10));

    features_destroy(fb);
    anonymizer_destroy(a);
    online_hinter_destroy(h);
    online_destroy(ol);
}

/* train looks at the next row only where it pays: with this
 * configuration's five categorical values, not for its 2^12 weights
 * (32 KiB), and for 2^20 AdaGrad weights (8 MiB, its bound). */
static void test_online_looks_ahead_on_large_tables(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *ol = NULL;
    char text[sizeof(hint_cfg) + 8];
    const char *bits = strstr(hint_cfg, "bits = 12;");

    assert_int_equal(online_new(fx->cfg, fx->schema, &ol, fx->errstr,
                                sizeof(fx->errstr)),
                     0);
    assert_false(online_looks_ahead(ol));
    online_destroy(ol);

    assert_non_null(bits);
    snprintf(text, sizeof(text), "%.*sbits = 20;%s", (int)(bits - hint_cfg),
             hint_cfg, bits + strlen("bits = 12;"));
    assert_int_equal(load_cfg_text(fx->cfg, fx->scratch.cfg_path, text,
                                   fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(online_new(fx->cfg, fx->schema, &ol, fx->errstr,
                                sizeof(fx->errstr)),
                     0);
    assert_true(online_looks_ahead(ol));
    online_destroy(ol);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_event_hints_dropped_by_every_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_mask_dropped_by_every_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_use_replacement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_features_use_log1p_hint_until_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_hint_marks_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_uses_hints_until_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_use_hint_until_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymizer_hint_until_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymizer_hint_cache_lengths,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymizer_cache_tells_every_byte,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_prefetch_hinted_indices,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_online_looks_ahead_on_large_tables,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_online_same_with_hints, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
