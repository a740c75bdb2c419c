/*
 * tests/unit/test_clean.c - the per-field cleaning rules of
 * cleaning/clean.c.
 *
 * Builds a schema from JSON text and a configuration written to a
 * mkdtemp() directory, then runs hand-made events through the cleaner:
 * presence, inclusive range bounds, clip, range-to-missing with mean
 * imputation, the other missing policies, max_length, labels, non-finite
 * values, and what a refusal may say and may change. No broker;
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

#include "cleaning/clean.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512

/* The label sits last in the schema but second in the configuration, so
 * every test also checks that the cleaner maps configured fields to
 * schema positions by name. */
static const char main_schema[] =
    "{\"type\": \"record\", \"name\": \"T\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"num\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"clipped\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"imputed\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"konst\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"cat\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"secret\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"floor\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char main_cfg[] =
    "name = \"clean\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"];\n"
    "    negative = [\"no\"]; },\n"
    "  { name = \"num\"; kind = \"numeric\"; required = true;\n"
    "    min = 0.0; max = 10.0; },\n"
    "  { name = \"clipped\"; kind = \"numeric\"; min = -1.0; max = 1.0;\n"
    "    on_range = \"clip\"; missing = \"zero\"; },\n"
    "  { name = \"imputed\"; kind = \"numeric\"; min = 0.0; max = 100.0;\n"
    "    on_range = \"missing\"; missing = \"mean\"; },\n"
    "  { name = \"konst\"; kind = \"numeric\"; missing = \"constant\";\n"
    "    impute_value = 42.5; },\n"
    "  { name = \"cat\"; kind = \"categorical\"; max_length = 5; },\n"
    "  { name = \"secret\"; kind = \"numeric\"; min = 0.0; max = 120.0;\n"
    "    personal = \"coarsen\"; band = 10.0; },\n"
    "  { name = \"floor\"; kind = \"numeric\"; min = 0.0;\n"
    "    personal = \"drop\"; }\n"
    ");\n"
    "learner = { model_name = \"clean\"; bits = 10; };\n";

/* Configured positions in main_cfg. */
enum {
    CF_ID = 0,
    CF_LABEL,
    CF_NUM,
    CF_CLIPPED,
    CF_IMPUTED,
    CF_KONST,
    CF_CAT,
    CF_SECRET,
    CF_FLOOR
};

/* A numeric label in an int field, and a label with no negative list. */
static const char int_label_schema[] =
    "{\"type\": \"record\", \"name\": \"C\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"click\", \"type\": [\"null\", \"int\"]}"
    "]}";

static const char int_label_cfg[] =
    "name = \"ctr\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"click\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; }\n"
    ");\n"
    "learner = { model_name = \"ctr\"; bits = 10; };\n";

/* Each quick rule of cleaner_apply() beside the full rules it stands
 * for: an ignored field, a category without string rules that also
 * takes numbers in a range, and the id's length bounds. */
static const char quick_schema[] =
    "{\"type\": \"record\", \"name\": \"Q\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"click\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"ign\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"age\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"tok\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char quick_cfg[] =
    "name = \"quick\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"click\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; },\n"
    "  { name = \"ign\"; kind = \"ignore\"; },\n"
    "  { name = \"age\"; kind = \"categorical\"; min = 0.0; max = 120.0; },\n"
    "  { name = \"tok\"; kind = \"categorical\"; }\n"
    ");\n"
    "learner = { model_name = \"quick\"; bits = 10; };\n";

struct fixture {
    struct clean_fixture base;
    double label;
    struct clean_verdict verdict;
};

/* clean_fixture_setup() and _teardown() rely on base coming first. */
_Static_assert(offsetof(struct fixture, base) == 0, "base first");

static int fixture_open(void **state, const char *schema_json,
                        const char *cfg_text)
{
    return clean_fixture_setup(state, sizeof(struct fixture), "clean",
                               schema_json, cfg_text, 1);
}

static int setup_main(void **state)
{
    return fixture_open(state, main_schema, main_cfg);
}

static int setup_int_label(void **state)
{
    return fixture_open(state, int_label_schema, int_label_cfg);
}

static int setup_quick(void **state)
{
    return fixture_open(state, quick_schema, quick_cfg);
}

static int teardown(void **state)
{
    return clean_fixture_teardown(state);
}

/* The event's fields by name (testutil.h). */
#define col(fx, name) clean_fixture_col(&(fx)->base, (name))
#define set_num(fx, name, x) clean_fixture_set_num(&(fx)->base, (name), (x))
#define set_str(fx, name, s) clean_fixture_set_str(&(fx)->base, (name), (s))
#define set_null(fx, name) clean_fixture_set_null(&(fx)->base, (name))

static double num_of(const struct fixture *fx, const char *name)
{
    const struct value *v = &fx->base.ev.values[col(fx, name)];

    assert_int_equal(v->kind, VALUE_NUMBER);
    return v->number;
}

/* An event every rule of main_cfg accepts unchanged. */
static void good_event(struct fixture *fx)
{
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "e-1");
    set_str(fx, "label", "yes");
    set_num(fx, "num", 5.0);
    set_num(fx, "clipped", 0.5);
    set_num(fx, "imputed", 50.0);
    set_num(fx, "konst", 1.0);
    set_str(fx, "cat", "abc");
    set_num(fx, "secret", 37.0);
    set_num(fx, "floor", 3.0);
}

static int apply(struct fixture *fx)
{
    memset(&fx->verdict, 0, sizeof(fx->verdict));
    fx->label = -1.0;
    int err = cleaner_apply(fx->base.cleaner, &fx->base.ev, &fx->label,
                            &fx->verdict);

    /* As learner/online.c does once the event is learned. */
    if (err == 0)
        cleaner_commit_stats(fx->base.cleaner, &fx->base.ev);
    return err;
}

static void expect_refused(struct fixture *fx, const char *reason,
                           const char *field)
{
    assert_int_equal(apply(fx), RIFFLE_ERR_INVALID);
    assert_non_null(fx->verdict.reason);
    assert_string_equal(fx->verdict.reason, reason);
    assert_string_equal(fx->verdict.field, field);
}

/* A good event with name set to x passes; name then reads want. */
static void expect_passed_as(struct fixture *fx, const char *name, double x,
                             double want)
{
    good_event(fx);
    set_num(fx, name, x);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(num_of(fx, name), want, 0.0);
}

/* A good event with name null passes; its missing policy filled in want. */
static void expect_filled(struct fixture *fx, const char *name, double want)
{
    good_event(fx);
    set_null(fx, name);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(num_of(fx, name), want, 0.0);
}

/* ---- tests --------------------------------------------------------- */

static void test_clean_valid_event_passes_unchanged(void **state)
{
    struct fixture *fx = *state;
    const struct clean_counts *n = cleaner_counts(fx->base.cleaner);

    good_event(fx);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(fx->label, 1.0, 0.0);
    assert_float_equal(num_of(fx, "num"), 5.0, 0.0);
    assert_float_equal(num_of(fx, "clipped"), 0.5, 0.0);
    assert_float_equal(num_of(fx, "secret"), 37.0, 0.0);
    assert_string_equal(event_string(&fx->base.ev, col(fx, "cat")), "abc");
    assert_int_equal(n->passed, 1);
    assert_int_equal(n->rejected, 0);
    assert_int_equal(n->clipped, 0);
    assert_int_equal(n->imputed, 0);
    assert_int_equal(cleaner_schema_index(fx->base.cleaner, CF_LABEL),
                     (int)col(fx, "label"));
    /* The accepted numbers fed the statistics. */
    assert_int_equal(fx->base.stats[CF_NUM].count, 1);
    assert_float_equal(fx->base.stats[CF_NUM].mean, 5.0, 0.0);
}

static void test_clean_required_missing_rejects(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_null(fx, "num");
    expect_refused(fx, CLEAN_REASON_MISSING, "num");
    assert_string_equal(fx->verdict.detail,
                        "the value is missing and the field is required");
    assert_int_equal(cleaner_counts(fx->base.cleaner)->rejected, 1);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 0);
}

/* A numeric field never marked required still refuses a missing value,
 * by its default policy; the detail names that policy and the way out,
 * since "missing_required" alone sent users looking for `required`. */
static void test_clean_default_policy_missing_says_why(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_null(fx, "secret");
    expect_refused(fx, CLEAN_REASON_MISSING, "secret");
    assert_string_equal(fx->verdict.detail,
                        "the value is missing and the field's missing "
                        "policy is \"reject\" (a numeric field's default): "
                        "set missing to impute it (\"mean\", \"median\", "
                        "\"zero\", ...) or to \"skip\"");
}

static void test_clean_missing_event_id_rejects(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_str(fx, "event_id", "");
    expect_refused(fx, CLEAN_REASON_MISSING, "event_id");
}

static void test_clean_range_bounds_inclusive(void **state)
{
    struct fixture *fx = *state;

    expect_passed_as(fx, "num", 0.0, 0.0);
    expect_passed_as(fx, "num", 10.0, 10.0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 2);
}

static void test_clean_range_just_outside_rejects(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_num(fx, "num", nextafter(0.0, -1.0));
    expect_refused(fx, CLEAN_REASON_RANGE, "num");

    good_event(fx);
    set_num(fx, "num", nextafter(10.0, 11.0));
    expect_refused(fx, CLEAN_REASON_RANGE, "num");
    assert_int_equal(cleaner_counts(fx->base.cleaner)->rejected, 2);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 0);
}

/* A refusal names the field (in the verdict) and the rule, never the
 * value, even of a field not marked personal: the dead letter points at
 * the message, which holds it. */
static void test_clean_range_detail_hides_value(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_num(fx, "num", 10.5);
    expect_refused(fx, CLEAN_REASON_RANGE, "num");
    assert_lacks(fx->verdict.detail, "10.5");
    assert_contains(fx->verdict.detail, "[0, 10]");
}

static void test_clean_clip_sets_bound_and_counts(void **state)
{
    struct fixture *fx = *state;

    expect_passed_as(fx, "clipped", 1.5, 1.0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->clipped, 1);
    expect_passed_as(fx, "clipped", nextafter(-1.0, -2.0), -1.0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->clipped, 2);

    /* On the bound itself nothing is clipped. */
    good_event(fx);
    set_num(fx, "clipped", 1.0);
    assert_int_equal(apply(fx), 0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->clipped, 2);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 3);
}

static void test_clean_range_missing_imputes_running_mean(void **state)
{
    struct fixture *fx = *state;
    static const double seen[] = {10.0, 20.0, 60.0};
    size_t i;

    for (i = 0; i < 3; i++) {
        good_event(fx);
        set_num(fx, "imputed", seen[i]);
        assert_int_equal(apply(fx), 0);
    }
    assert_int_equal(fx->base.stats[CF_IMPUTED].count, 3);
    assert_float_equal(fx->base.stats[CF_IMPUTED].mean, 30.0, 1e-12);

    /* Out of range becomes missing, then the mean of 10, 20, 60. */
    good_event(fx);
    set_num(fx, "imputed", 100.5);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(num_of(fx, "imputed"), 30.0, 1e-12);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->imputed, 1);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->clipped, 0);

    /* A null is imputed the same way. */
    good_event(fx);
    set_null(fx, "imputed");
    assert_int_equal(apply(fx), 0);
    assert_float_equal(num_of(fx, "imputed"), 30.0, 1e-12);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->imputed, 2);

    /* Imputed values did not move the statistics. */
    assert_int_equal(fx->base.stats[CF_IMPUTED].count, 3);
    assert_float_equal(fx->base.stats[CF_IMPUTED].mean, 30.0, 1e-12);
    assert_int_equal(fx->base.stats[CF_NUM].count, 5);
}

static void test_clean_missing_mean_before_data_is_zero(void **state)
{
    struct fixture *fx = *state;

    expect_filled(fx, "imputed", 0.0);
    assert_int_equal(fx->base.stats[CF_IMPUTED].count, 0);
}

static void test_clean_missing_zero(void **state)
{
    struct fixture *fx = *state;

    expect_filled(fx, "clipped", 0.0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->imputed, 1);
    assert_int_equal(fx->base.stats[CF_CLIPPED].count, 0);
}

static void test_clean_missing_constant(void **state)
{
    struct fixture *fx = *state;

    expect_filled(fx, "konst", 42.5);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->imputed, 1);
    assert_int_equal(fx->base.stats[CF_KONST].count, 0);
}

static void test_clean_categorical_missing_token_leaves_null(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(fx->base.cfg->fields[CF_CAT].missing, CFG_MISSING_TOKEN);
    good_event(fx);
    set_null(fx, "cat");
    assert_int_equal(apply(fx), 0);
    assert_int_equal(fx->base.ev.values[col(fx, "cat")].kind, VALUE_NULL);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->imputed, 0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 1);
}

static void test_clean_max_length(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_str(fx, "cat", "abcde"); /* exactly max_length */
    assert_int_equal(apply(fx), 0);

    good_event(fx);
    set_str(fx, "cat", "abcdef");
    expect_refused(fx, CLEAN_REASON_VALUE, "cat");
    assert_contains(fx->verdict.detail, "6 bytes");
    assert_lacks(fx->verdict.detail, "abcdef");
}

static void test_clean_label_positive_negative_unknown(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(fx->label, 1.0, 0.0);

    good_event(fx);
    set_str(fx, "label", "no");
    assert_int_equal(apply(fx), 0);
    assert_float_equal(fx->label, 0.0, 0.0);

    good_event(fx);
    set_str(fx, "label", "maybe");
    expect_refused(fx, CLEAN_REASON_LABEL, "label");
    assert_lacks(fx->verdict.detail, "maybe");
    assert_contains(fx->verdict.detail, "neither a positive nor a negative");

    good_event(fx);
    set_str(fx, "label", "YES"); /* tokens are case-sensitive */
    expect_refused(fx, CLEAN_REASON_LABEL, "label");

    good_event(fx);
    set_null(fx, "label");
    expect_refused(fx, CLEAN_REASON_MISSING, "label");
}

static void test_clean_numeric_label(void **state)
{
    struct fixture *fx = *state;
    size_t click = col(fx, "click");

    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "ctr-1");

    event_set_number(&fx->base.ev, click, 1.0);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(fx->label, 1.0, 0.0);

    event_set_number(&fx->base.ev, click, 0.0);
    assert_int_equal(apply(fx), 0);
    assert_float_equal(fx->label, 0.0, 0.0);

    event_set_number(&fx->base.ev, click, 2.0);
    expect_refused(fx, CLEAN_REASON_LABEL, "click");
    assert_lacks(fx->verdict.detail, "2");
    assert_contains(fx->verdict.detail, "neither a positive nor a negative");
}

/* The labels found before are remembered by their text or bits: a
 * remembered text must not answer for another that shares its prefix
 * or length, nor a remembered 0 for -0 (which reads "-0"), and a refused
 * label is refused again each time, with its verdict. */
static void test_clean_label_memo_keeps_every_answer(void **state)
{
    struct fixture *fx = *state;
    static const char *const texts[] = {"yes", "no", "ye", "yes!", "no",
                                        "maybe", "yes", "nO", "no",
                                        "yes", "maybe"};
    static const double want[] = {1, 0, -1, -1, 0, -1, 1, -1, 0, 1, -1};
    size_t i, round;

    for (round = 0; round < 3; round++) {
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            good_event(fx);
            set_str(fx, "label", texts[i]);
            if (want[i] < 0) {
                expect_refused(fx, CLEAN_REASON_LABEL, "label");
                assert_lacks(fx->verdict.detail, texts[i]);
                assert_contains(fx->verdict.detail, "neither a positive nor a negative");
                continue;
            }
            assert_int_equal(apply(fx), 0);
            assert_float_equal(fx->label, want[i], 0.0);
        }
    }
}

static void test_clean_label_memo_numbers_by_bits(void **state)
{
    struct fixture *fx = *state;
    size_t click = col(fx, "click");
    int round;

    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "ctr-1");
    for (round = 0; round < 3; round++) {
        event_set_number(&fx->base.ev, click, 0.0);
        assert_int_equal(apply(fx), 0);
        assert_float_equal(fx->label, 0.0, 0.0);

        event_set_number(&fx->base.ev, click, -0.0);
        expect_refused(fx, CLEAN_REASON_LABEL, "click");
        assert_lacks(fx->verdict.detail, "-0");
        assert_contains(fx->verdict.detail, "neither a positive nor a negative");

        event_set_number(&fx->base.ev, click, 1.0);
        assert_int_equal(apply(fx), 0);
        assert_float_equal(fx->label, 1.0, 0.0);
    }
}

/* A good event of quick_cfg. */
static void quick_event(struct fixture *fx)
{
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "q-1");
    set_num(fx, "click", 1.0);
    set_num(fx, "ign", 7.0);
    set_num(fx, "age", 37.0);
    set_str(fx, "tok", "a");
}

static void test_clean_quick_rules_match_full_rules(void **state)
{
    struct fixture *fx = *state;
    char id[CLEAN_MAX_ID_BYTES + 2];
    const double ignored[] = {NAN, INFINITY, -1e308, 0.0};
    size_t i;

    /* An ignored field takes anything, NaN and nulls included. */
    for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        quick_event(fx);
        set_num(fx, "ign", ignored[i]);
        assert_int_equal(apply(fx), 0);
    }
    quick_event(fx);
    set_null(fx, "ign");
    assert_int_equal(apply(fx), 0);
    assert_int_equal(cleaner_field_counts(fx->base.cleaner)[2].missing, 0);

    /* A number in a category: within its range, both bounds included. */
    quick_event(fx);
    set_num(fx, "age", 120.0);
    assert_int_equal(apply(fx), 0);
    quick_event(fx);
    set_num(fx, "age", 0.0);
    assert_int_equal(apply(fx), 0);
    quick_event(fx);
    set_num(fx, "age", 120.5);
    expect_refused(fx, CLEAN_REASON_RANGE, "age");
    quick_event(fx);
    set_num(fx, "age", NAN);
    expect_refused(fx, CLEAN_REASON_VALUE, "age");
    quick_event(fx);
    set_str(fx, "tok", ""); /* an empty category is a category */
    assert_int_equal(apply(fx), 0);
    quick_event(fx);
    set_null(fx, "tok"); /* missing: counted, left to the features */
    assert_int_equal(apply(fx), 0);
    assert_int_equal(cleaner_field_counts(fx->base.cleaner)[4].missing, 1);

    /* The id: 1 to CLEAN_MAX_ID_BYTES bytes. */
    memset(id, 'i', sizeof(id));
    id[CLEAN_MAX_ID_BYTES] = '\0';
    quick_event(fx);
    set_str(fx, "event_id", id);
    assert_int_equal(apply(fx), 0);
    id[CLEAN_MAX_ID_BYTES] = 'i';
    id[CLEAN_MAX_ID_BYTES + 1] = '\0';
    quick_event(fx);
    set_str(fx, "event_id", id);
    expect_refused(fx, CLEAN_REASON_VALUE, "event_id");
    quick_event(fx);
    set_str(fx, "event_id", "");
    expect_refused(fx, CLEAN_REASON_MISSING, "event_id");
    assert_int_equal(cleaner_counts(fx->base.cleaner)->rejected, 4);
}

static void test_clean_non_finite_value_rejects(void **state)
{
    struct fixture *fx = *state;
    const double bad[] = {NAN, INFINITY, -INFINITY};
    size_t i;

    for (i = 0; i < 3; i++) {
        good_event(fx);
        set_num(fx, "num", bad[i]);
        expect_refused(fx, CLEAN_REASON_VALUE, "num");
        assert_string_equal(fx->verdict.detail,
                            i == 0 ? "found NaN, expected a finite number"
                                   : "found an infinite value, expected a "
                                     "finite number");
    }
    /* Clip does not turn infinity into a bound either. */
    good_event(fx);
    set_num(fx, "clipped", INFINITY);
    expect_refused(fx, CLEAN_REASON_VALUE, "clipped");
    assert_int_equal(cleaner_counts(fx->base.cleaner)->clipped, 0);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->rejected, 4);
}

static void test_clean_personal_range_detail_hides_value(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_num(fx, "secret", 123.456);
    expect_refused(fx, CLEAN_REASON_RANGE, "secret");
    assert_lacks(fx->verdict.detail, "123.456");
    assert_lacks(fx->verdict.detail, "123");
    assert_contains(fx->verdict.detail, "120");
}

/* A personal field with only a lower bound: the detail must state the
 * bound that was broken, as the non-personal message does with "inf". */
static void test_clean_personal_range_detail_half_open(void **state)
{
    struct fixture *fx = *state;


    good_event(fx);
    set_num(fx, "floor", -5.25);
    expect_refused(fx, CLEAN_REASON_RANGE, "floor");
    assert_lacks(fx->verdict.detail, "5.25");
    assert_lacks(fx->verdict.detail, "[0, 0]");
    assert_contains(fx->verdict.detail, "[0, inf]");
}

static void test_clean_rejected_event_leaves_stats(void **state)
{
    struct fixture *fx = *state;
    struct running_stats before[CFG_MAX_FIELDS];

    good_event(fx);
    assert_int_equal(apply(fx), 0);
    memcpy(before, fx->base.stats, sizeof(before));

    /* num, clipped, imputed and konst are read and accepted before cat
     * fails: none of them may reach the statistics. */
    good_event(fx);
    set_num(fx, "num", 9.0);
    set_num(fx, "imputed", 99.0);
    set_str(fx, "cat", "toolong");
    expect_refused(fx, CLEAN_REASON_VALUE, "cat");
    assert_memory_equal(fx->base.stats, before, sizeof(before));

    /* Same for a refusal in the last field. */
    good_event(fx);
    set_num(fx, "num", 9.0);
    set_num(fx, "secret", -1.0);
    expect_refused(fx, CLEAN_REASON_RANGE, "secret");
    assert_memory_equal(fx->base.stats, before, sizeof(before));
    assert_int_equal(cleaner_counts(fx->base.cleaner)->passed, 1);
    assert_int_equal(cleaner_counts(fx->base.cleaner)->rejected, 2);
}

static void test_clean_new_rejects_field_not_in_schema(void **state)
{
    struct fixture *fx = *state;
    static const char schema_json[] =
        "{\"type\": \"record\", \"name\": \"N\", \"fields\": ["
        "  {\"name\": \"event_id\", \"type\": \"string\"}"
        "]}";
    struct schema *schema = load_schema_json(schema_json);
    struct cleaner *c = NULL;
    char errstr[ERRSTR_SIZE], expected[ERRSTR_SIZE];

    assert_int_equal(cleaner_new(fx->base.cfg, schema, fx->base.stats, &c,
                                 errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_null(c);
    /* main_cfg configures the label, fields[1], on line 7. */
    snprintf(expected, sizeof(expected),
             "%s:7: fields[1].name: field \"label\" is not in schema N",
             fx->base.scratch.cfg_path);
    assert_string_equal(errstr, expected);
    schema_destroy(schema);
}

static void test_clean_new_rejects_numeric_on_string(void **state)
{
    struct fixture *fx = *state;
    static const char schema_json[] =
        "{\"type\": \"record\", \"name\": \"S\", \"fields\": ["
        "  {\"name\": \"event_id\", \"type\": \"string\"},"
        "  {\"name\": \"label\", \"type\": \"string\"},"
        "  {\"name\": \"num\", \"type\": \"string\"},"
        "  {\"name\": \"clipped\", \"type\": \"double\"},"
        "  {\"name\": \"imputed\", \"type\": \"double\"},"
        "  {\"name\": \"konst\", \"type\": \"double\"},"
        "  {\"name\": \"cat\", \"type\": \"string\"},"
        "  {\"name\": \"secret\", \"type\": \"double\"},"
        "  {\"name\": \"floor\", \"type\": \"double\"}"
        "]}";
    struct schema *schema = load_schema_json(schema_json);
    struct cleaner *c = NULL;
    char errstr[ERRSTR_SIZE], expected[ERRSTR_SIZE];

    assert_int_equal(cleaner_new(fx->base.cfg, schema, fx->base.stats, &c,
                                 errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    /* "num" is fields[2], on line 9 of main_cfg. */
    snprintf(expected, sizeof(expected),
             "%s:9: fields[2].kind: field \"num\" has a type in S that "
             "kind numeric (needs a number) cannot use",
             fx->base.scratch.cfg_path);
    assert_string_equal(errstr, expected);
    schema_destroy(schema);
}

static void test_clean_new_rejects_nested_schema(void **state)
{
    struct fixture *fx = *state;
    static const char schema_json[] =
        "{\"type\": \"record\", \"name\": \"Deep\", \"fields\": ["
        "  {\"name\": \"event_id\", \"type\": \"string\"},"
        "  {\"name\": \"tags\", \"type\": {\"type\": \"array\","
        "   \"items\": \"string\"}}"
        "]}";
    struct schema *schema = load_schema_json(schema_json);
    struct cleaner *c = NULL;
    char errstr[ERRSTR_SIZE], expected[ERRSTR_SIZE];

    assert_int_equal(cleaner_new(fx->base.cfg, schema, fx->base.stats, &c,
                                 errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    /* source.schema is set on line 4 of main_cfg. */
    snprintf(expected, sizeof(expected),
             "%s:4: source.schema: schema Deep must be a flat record of at "
             "most %d primitive fields", fx->base.scratch.cfg_path,
             EVENT_MAX_FIELDS);
    assert_string_equal(errstr, expected);
    schema_destroy(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_main, teardown)
        T(test_clean_valid_event_passes_unchanged),
        T(test_clean_required_missing_rejects),
        T(test_clean_default_policy_missing_says_why),
        T(test_clean_missing_event_id_rejects),
        T(test_clean_range_bounds_inclusive),
        T(test_clean_range_just_outside_rejects),
        T(test_clean_range_detail_hides_value),
        T(test_clean_clip_sets_bound_and_counts),
        T(test_clean_range_missing_imputes_running_mean),
        T(test_clean_missing_mean_before_data_is_zero),
        T(test_clean_missing_zero),
        T(test_clean_missing_constant),
        T(test_clean_categorical_missing_token_leaves_null),
        T(test_clean_max_length),
        T(test_clean_label_positive_negative_unknown),
        cmocka_unit_test_setup_teardown(test_clean_numeric_label,
                                        setup_int_label, teardown),
        T(test_clean_label_memo_keeps_every_answer),
        cmocka_unit_test_setup_teardown(test_clean_label_memo_numbers_by_bits,
                                        setup_int_label, teardown),
        cmocka_unit_test_setup_teardown(
            test_clean_quick_rules_match_full_rules, setup_quick, teardown),
        T(test_clean_non_finite_value_rejects),
        T(test_clean_personal_range_detail_hides_value),
        T(test_clean_personal_range_detail_half_open),
        T(test_clean_rejected_event_leaves_stats),
        T(test_clean_new_rejects_field_not_in_schema),
        T(test_clean_new_rejects_numeric_on_string),
        T(test_clean_new_rejects_nested_schema),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
