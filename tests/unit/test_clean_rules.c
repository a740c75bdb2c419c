/*
 * tests/unit/test_clean_rules.c - the cleaning rules of issue 5 in
 * cleaning/clean.c: allowed categories, patterns, median and mode
 * imputation, the z-score, MAD and IQR outlier rules with their warm-up
 * and each action, the label's threshold and rewrites, the per-field
 * counters, and the configuration errors that keep rules on the kinds
 * they fit. Boundary values throughout: a value on a bound passes, the
 * next one does not. No broker; single-threaded.
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

static const char rules_schema[] =
    "{\"type\": \"record\", \"name\": \"R\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"income\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"color\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"zip\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"shade\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"city\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"day\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"z\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"mad\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"iqr\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char rules_cfg[] =
    "name = \"rules\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\">50K\"];\n"
    "    negative = [\"<=50K\"];\n"
    "    relabel = ( [\">50K.\", \">50K\"], [\"<=50K.\", \"<=50K\"] ); },\n"
    "  { name = \"income\"; kind = \"numeric\"; missing = \"median\"; },\n"
    "  { name = \"color\"; kind = \"categorical\";\n"
    "    allowed = [\"red\", \"green\", \"blue\"]; },\n"
    "  { name = \"zip\"; kind = \"categorical\"; pattern = \"[0-9]{5}\"; },\n"
    "  { name = \"shade\"; kind = \"categorical\"; allowed = [\"dark\"];\n"
    "    on_invalid = \"missing\"; missing = \"token\"; },\n"
    "  { name = \"city\"; kind = \"categorical\"; missing = \"mode\"; },\n"
    "  { name = \"day\"; kind = \"categorical\"; allowed = [\"1\", \"7\"]; },\n"
    "  { name = \"z\"; kind = \"numeric\"; outlier = \"zscore\";\n"
    "    outlier_threshold = 2.0; outlier_warmup = 10; missing = \"mean\"; },\n"
    "  { name = \"mad\"; kind = \"numeric\"; outlier = \"mad\";\n"
    "    on_outlier = \"reject\"; outlier_warmup = 20; },\n"
    "  { name = \"iqr\"; kind = \"numeric\"; outlier = \"iqr\";\n"
    "    on_outlier = \"missing\"; missing = \"zero\"; }\n"
    ");\n"
    "learner = { model_name = \"rules\"; bits = 10; };\n";

/* Configured positions in rules_cfg. */
enum { CF_ID = 0, CF_LABEL, CF_INCOME, CF_COLOR, CF_ZIP, CF_SHADE, CF_CITY,
       CF_DAY, CF_Z, CF_MAD, CF_IQR };

/* The same label as a number or as text, in two schemas. */
static const char threshold_num_schema[] =
    "{\"type\": \"record\", \"name\": \"H\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"hours_later\", \"type\": [\"null\", \"double\"]}"
    "]}";
static const char threshold_text_schema[] =
    "{\"type\": \"record\", \"name\": \"H\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"hours_later\", \"type\": [\"null\", \"string\"]}"
    "]}";

/* A configuration of hours_later as label (given the label's settings
 * and the learner's). */
#define HOURS_CFG(label_settings, learner_settings)                          \
    "name = \"hours\";\n"                                                    \
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"       \
    "           dead_letters = \"d\"; };\n"                                 \
    "source = { schema = \"unused.avsc\"; };\n"                              \
    "fields = (\n"                                                           \
    "  { name = \"event_id\"; kind = \"id\"; },\n"                           \
    "  { name = \"hours_later\"; kind = \"label\"; " label_settings " }\n"   \
    ");\n"                                                                   \
    "learner = { model_name = \"hours\"; bits = 10; " learner_settings     \
    " };\n"

static const char threshold_cfg[] =
    HOURS_CFG("threshold = 40.0; relabel = ( [\"n/a\", \"0\"] );", "");

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
    return clean_fixture_setup(state, sizeof(struct fixture), "rules",
                               schema_json, cfg_text, 1);
}

static int setup_rules(void **state)
{
    return fixture_open(state, rules_schema, rules_cfg);
}

static int setup_threshold_num(void **state)
{
    return fixture_open(state, threshold_num_schema, threshold_cfg);
}

static int setup_threshold_text(void **state)
{
    return fixture_open(state, threshold_text_schema, threshold_cfg);
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

static const char *str_of(const struct fixture *fx, const char *name)
{
    const struct value *v = &fx->base.ev.values[col(fx, name)];

    assert_int_equal(v->kind, VALUE_STRING);
    return event_string(&fx->base.ev, col(fx, name));
}

static int is_null(const struct fixture *fx, const char *name)
{
    return fx->base.ev.values[col(fx, name)].kind == VALUE_NULL;
}

/* An event every rule of rules_cfg accepts unchanged; values that
 * outlier rules watch sit at 1, the middle of what the tests feed. */
static void good_event(struct fixture *fx)
{
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "e-1");
    set_str(fx, "label", ">50K");
    set_num(fx, "income", 10.0);
    set_str(fx, "color", "red");
    set_str(fx, "zip", "12345");
    set_str(fx, "shade", "dark");
    set_str(fx, "city", "Oslo");
    set_num(fx, "day", 7.0);
    set_num(fx, "z", 1.0);
    set_num(fx, "mad", 1.0);
    set_num(fx, "iqr", 1.0);
}

/* Cleans without learning: summaries stay as they are. */
static int check_only(struct fixture *fx)
{
    memset(&fx->verdict, 0, sizeof(fx->verdict));
    fx->label = -1.0;
    return cleaner_apply(fx->base.cleaner, &fx->base.ev, &fx->label,
                         &fx->verdict);
}

/* Cleans, then learns the values, as learner/online.c does. */
static int apply(struct fixture *fx)
{
    int err = check_only(fx);

    if (err == 0)
        cleaner_commit_stats(fx->base.cleaner, &fx->base.ev);
    return err;
}

static void expect_refused(struct fixture *fx, const char *reason,
                           const char *field)
{
    assert_int_equal(check_only(fx), RIFFLE_ERR_INVALID);
    assert_non_null(fx->verdict.reason);
    assert_string_equal(fx->verdict.reason, reason);
    assert_string_equal(fx->verdict.field, field);
}

/* Learns a good event with field name set to x. */
static void learn_value(struct fixture *fx, const char *name, double x)
{
    good_event(fx);
    set_num(fx, name, x);
    assert_int_equal(apply(fx), 0);
}

static const struct clean_field_counts *counts(const struct fixture *fx,
                                               int cf)
{
    return &cleaner_field_counts(fx->base.cleaner)[cf];
}

/* ---- allowed categories and patterns -------------------------------- */

static void test_clean_allowed_categories(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_str(fx, "color", "blue"); /* the last of the list */
    assert_int_equal(apply(fx), 0);

    good_event(fx);
    set_str(fx, "color", "Blue"); /* case matters */
    expect_refused(fx, CLEAN_REASON_VALUE, "color");
    assert_contains(fx->verdict.detail, "not an allowed category");
    assert_lacks(fx->verdict.detail, "Blue"); /* named, never quoted */

    good_event(fx);
    assert_int_equal(event_set_string(&fx->base.ev, col(fx, "color"), "red\0x",
                                      5), 0); /* "red" then a NUL */
    expect_refused(fx, CLEAN_REASON_VALUE, "color");
    assert_int_equal(counts(fx, CF_COLOR)->invalid, 2);
    assert_int_equal(counts(fx, CF_COLOR)->rejected, 2);
}

/* Numbers used as categories are checked in their shortest text. */
static void test_clean_allowed_numbers_as_text(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_num(fx, "day", 1.0);
    assert_int_equal(apply(fx), 0);
    good_event(fx);
    set_num(fx, "day", 2.0);
    expect_refused(fx, CLEAN_REASON_VALUE, "day");
}

static void test_clean_pattern_matches_whole_value(void **state)
{
    struct fixture *fx = *state;
    static const char *const bad[] = {"1234", "123456", "a12345", "1234a",
                                      ""};
    size_t i;

    good_event(fx);
    set_str(fx, "zip", "00000");
    assert_int_equal(apply(fx), 0);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        good_event(fx);
        set_str(fx, "zip", bad[i]);
        expect_refused(fx, CLEAN_REASON_VALUE, "zip");
        assert_contains(fx->verdict.detail, "does not match the pattern");
    }
    /* A NUL cannot hide the rest of the value from the pattern. */
    good_event(fx);
    assert_int_equal(event_set_string(&fx->base.ev, col(fx, "zip"),
                                      "12345\0evil", 10), 0);
    expect_refused(fx, CLEAN_REASON_VALUE, "zip");
}

/* on_invalid = "missing": the value becomes missing, then its policy. */
static void test_clean_invalid_as_missing(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_str(fx, "shade", "light");
    assert_int_equal(apply(fx), 0);
    assert_true(is_null(fx, "shade")); /* token: features emit (missing) */
    assert_int_equal(counts(fx, CF_SHADE)->invalid, 1);
    assert_int_equal(counts(fx, CF_SHADE)->rejected, 0);
}

/* ---- median and mode imputation ------------------------------------- */

static void test_clean_median_imputation(void **state)
{
    struct fixture *fx = *state;
    static const double values[] = {1, 2, 3, 100, 4};
    size_t i;

    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "income"));
    assert_int_equal(apply(fx), 0);
    assert_double_near(num_of(fx, "income"), 0.0, 0); /* before data */

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        learn_value(fx, "income", values[i]);
    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "income"));
    assert_int_equal(apply(fx), 0);
    /* 1 2 3 4 100: the median 3, not the mean 22 */
    assert_double_near(num_of(fx, "income"), 3.0, 0.03);
    assert_int_equal(counts(fx, CF_INCOME)->missing, 2);
    assert_int_equal(counts(fx, CF_INCOME)->imputed, 2);
    assert_int_equal(cleaner_imputed(fx->base.cleaner)[CF_INCOME], 1);
}

static void test_clean_mode_imputation(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "city"));
    assert_int_equal(apply(fx), 0);
    assert_true(is_null(fx, "city")); /* no category seen yet */

    good_event(fx);
    set_str(fx, "city", "Bergen");
    assert_int_equal(apply(fx), 0);
    good_event(fx); /* Oslo */
    assert_int_equal(apply(fx), 0);
    good_event(fx);
    assert_int_equal(apply(fx), 0);

    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "city"));
    assert_int_equal(apply(fx), 0);
    assert_string_equal(str_of(fx, "city"), "Oslo");
    /* the first event's null, imputed or not, is not a category */
    assert_int_equal(counts(fx, CF_CITY)->imputed, 1);
    assert_int_equal(counts(fx, CF_CITY)->missing, 2);

    /* an imputed mode is not counted as a new observation */
    good_event(fx);
    set_str(fx, "city", "Bergen");
    assert_int_equal(apply(fx), 0);
    good_event(fx);
    set_str(fx, "city", "Bergen");
    assert_int_equal(apply(fx), 0);
    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "city"));
    assert_int_equal(apply(fx), 0);
    assert_string_equal(str_of(fx, "city"), "Bergen"); /* 3 against 3:
                                                          Bergen first */
}

/* ---- outliers ------------------------------------------------------- */

static void test_clean_zscore_warmup_and_clip(void **state)
{
    struct fixture *fx = *state;
    double hi;
    int v;

    for (v = 0; v < 9; v++)
        learn_value(fx, "z", v);

    /* 9 values, warm-up 10: no judgement yet */
    good_event(fx);
    set_num(fx, "z", 1000.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "z"), 1000.0, 0);

    learn_value(fx, "z", 9); /* 0..9: mean 4.5 */
    hi = fx->base.stats[CF_Z].mean + 2.0 * stats_stddev(&fx->base.stats[CF_Z]);

    good_event(fx);
    set_num(fx, "z", hi); /* on the bound: accepted as it is */
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "z"), hi, 0);

    good_event(fx);
    set_num(fx, "z", nextafter(hi, INFINITY));
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "z"), hi, 0); /* clipped to it */

    good_event(fx);
    set_num(fx, "z", -1000.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "z"),
                       4.5 - 2.0 * stats_stddev(&fx->base.stats[CF_Z]), 1e-12);
    assert_int_equal(counts(fx, CF_Z)->outliers, 2);
    assert_int_equal(counts(fx, CF_Z)->clipped, 2);
}

/* A constant field has no spread: nothing is an outlier. */
static void test_clean_zscore_constant_field(void **state)
{
    struct fixture *fx = *state;
    int v;

    for (v = 0; v < 20; v++)
        learn_value(fx, "z", 5.0);
    good_event(fx);
    set_num(fx, "z", 6.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "z"), 6.0, 0);
}

static void test_clean_mad_rejects(void **state)
{
    struct fixture *fx = *state;
    int v;

    for (v = 1; v <= 40; v++)
        learn_value(fx, "mad", v);

    /* median about 20, MAD about 10: k 3.5 allows about 20 +- 52 */
    good_event(fx);
    set_num(fx, "mad", 60.0);
    assert_int_equal(check_only(fx), 0);

    good_event(fx);
    set_num(fx, "mad", 90.0);
    expect_refused(fx, CLEAN_REASON_OUTLIER, "mad");
    assert_contains(fx->verdict.detail, "mad bounds");
    assert_lacks(fx->verdict.detail, "90");
    assert_int_equal(counts(fx, CF_MAD)->outliers, 1);
    assert_int_equal(counts(fx, CF_MAD)->rejected, 1);
}

static void test_clean_iqr_as_missing(void **state)
{
    struct fixture *fx = *state;
    int v;

    for (v = 1; v <= 100; v++)
        learn_value(fx, "iqr", v);

    /* Q1 about 25, Q3 about 75: Tukey's fences about -50 and 150 */
    good_event(fx);
    set_num(fx, "iqr", 140.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "iqr"), 140.0, 0);

    good_event(fx);
    set_num(fx, "iqr", 160.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "iqr"), 0.0, 0); /* missing -> zero */
    assert_int_equal(counts(fx, CF_IQR)->outliers, 1);
    assert_int_equal(counts(fx, CF_IQR)->imputed, 1);

    good_event(fx);
    set_num(fx, "iqr", -60.0);
    assert_int_equal(check_only(fx), 0);
    assert_double_near(num_of(fx, "iqr"), 0.0, 0);
}

/* ---- labels --------------------------------------------------------- */

static void test_clean_relabel_noisy_values(void **state)
{
    struct fixture *fx = *state;

    good_event(fx);
    set_str(fx, "label", ">50K.");
    assert_int_equal(apply(fx), 0);
    assert_double_near(fx->label, 1.0, 0);

    good_event(fx);
    set_str(fx, "label", "<=50K.");
    assert_int_equal(apply(fx), 0);
    assert_double_near(fx->label, 0.0, 0);

    good_event(fx);
    set_str(fx, "label", ">50K..");
    expect_refused(fx, CLEAN_REASON_LABEL, "label");

    /* a missing label counts as missing too, then as the rejection */
    good_event(fx);
    event_set_null(&fx->base.ev, col(fx, "label"));
    expect_refused(fx, CLEAN_REASON_MISSING, "label");
    assert_int_equal(counts(fx, CF_LABEL)->missing, 1);
    assert_int_equal(counts(fx, CF_LABEL)->rejected, 2);
}

/* The verdict on a label the threshold rule cannot compare. */
#define THRESHOLD_REFUSAL(found)                                             \
    "found " found ", expected a number: the label rule \"hours_later > "   \
    "40\" compares one"

/* Cases of the number label run only with the number schema, and text
 * cases with the text schema. */
static void run_threshold_cases(struct fixture *fx, int numbers)
{
    static const struct {
        int is_number;
        double number;
        const char *text;
        double want; /* NaN: refused, with the verdict found */
        const char *found;
    } cases[] = {
        {1, 40.0, NULL, 0.0, NULL},  /* on the threshold: not above */
        {1, 40.000001, NULL, 1.0, NULL},
        {1, -1e9, NULL, 0.0, NULL},
        {1, NAN, NULL, NAN, THRESHOLD_REFUSAL("NaN")},
        {0, 0, "41", 1.0, NULL},     /* text holding one number */
        {0, 0, "40", 0.0, NULL},
        {0, 0, "n/a", 0.0, NULL},    /* rewritten to "0" first */
        {0, 0, "forty", NAN, THRESHOLD_REFUSAL("text")},
        {0, 0, "41 hours", NAN, THRESHOLD_REFUSAL("text")},
        {0, 0, "", NAN, THRESHOLD_REFUSAL("text")},
        {0, 0, "nan", NAN, THRESHOLD_REFUSAL("NaN")},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].is_number != numbers)
            continue;
        event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
        set_str(fx, "event_id", "h-1");
        if (cases[i].is_number)
            set_num(fx, "hours_later", cases[i].number);
        else
            set_str(fx, "hours_later", cases[i].text);

        if (isnan(cases[i].want)) {
            expect_refused(fx, CLEAN_REASON_LABEL, "hours_later");
            assert_string_equal(fx->verdict.detail, cases[i].found);
        } else {
            assert_int_equal(check_only(fx), 0);
            assert_double_near(fx->label, cases[i].want, 0);
        }
    }
    assert_int_equal(fx->base.cfg->task, CFG_TASK_BINARY);
}

static void test_clean_label_threshold_number(void **state)
{
    run_threshold_cases(*state, 1);
}

static void test_clean_label_threshold_text(void **state)
{
    run_threshold_cases(*state, 0);
}

/* A regression label that is text or not finite is refused saying what
 * it is, never quoting it. */
static void test_clean_regression_label_says_what_was_found(void **state)
{
    static const char cfg[] = HOURS_CFG("", "loss = \"squared\";");
    struct fixture *fx;

    assert_int_equal(fixture_open(state, threshold_text_schema, cfg), 0);
    fx = *state;
    assert_int_equal(fx->base.cfg->task, CFG_TASK_REGRESSION);
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "h-1");
    set_str(fx, "hours_later", "abc");
    expect_refused(fx, CLEAN_REASON_LABEL, "hours_later");
    assert_string_equal(fx->verdict.detail, "found text, expected a finite "
                                            "number: a regression label is "
                                            "one");
    assert_int_equal(teardown(state), 0);

    assert_int_equal(fixture_open(state, threshold_num_schema, cfg), 0);
    fx = *state;
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "h-1");
    set_num(fx, "hours_later", -INFINITY);
    expect_refused(fx, CLEAN_REASON_LABEL, "hours_later");
    assert_string_equal(fx->verdict.detail, "found an infinite value, "
                                            "expected a finite number: a "
                                            "regression label is one");
    assert_int_equal(teardown(state), 0);
}

/* ---- configuration errors ------------------------------------------- */

static void expect_cfg_error(const char *field_text, const char *part)
{
    char dir[64], path[128], text[2048], errstr[TESTUTIL_ERRSTR_SIZE];
    struct cfg *cfg = calloc(1, sizeof(*cfg));

    assert_non_null(cfg);
    assert_non_null(temp_dir_new(dir, sizeof(dir), "rulescfg"));
    snprintf(path, sizeof(path), "%s/bad.cfg", dir);
    snprintf(text, sizeof(text),
             "name = \"bad\";\n"
             "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
             "           dead_letters = \"d\"; };\n"
             "source = { schema = \"unused.avsc\"; };\n"
             "fields = (\n"
             "  { name = \"event_id\"; kind = \"id\"; },\n"
             "  { name = \"y\"; kind = \"label\"; positive = [\"1\"]; },\n"
             "  %s\n"
             ");\n"
             "learner = { model_name = \"bad\"; bits = 10; };\n",
             field_text);
    assert_int_equal(load_cfg_text(cfg, path, text, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, part);
    assert_contains(errstr, "bad.cfg:8: fields[2].");
    (void)unlink(path);
    (void)rmdir(dir);
    free(cfg);
}

static void test_clean_rules_config_errors(void **state)
{
    (void)state;
    expect_cfg_error("{ name = \"a\"; kind = \"categorical\"; "
                     "missing = \"median\"; }",
                     "median applies to numeric fields only");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; "
                     "missing = \"mode\"; }",
                     "mode applies to categorical fields only");
    expect_cfg_error("{ name = \"a\"; kind = \"categorical\"; "
                     "missing = \"mode\"; personal = \"pseudonym\"; }",
                     "personal field");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; "
                     "allowed = [\"1\"]; }",
                     "categorical fields only");
    expect_cfg_error("{ name = \"a\"; kind = \"categorical\"; "
                     "pattern = \"(unclosed\"; }",
                     "fields[2].pattern: not a POSIX extended regular");
    expect_cfg_error("{ name = \"a\"; kind = \"categorical\"; "
                     "outlier = \"zscore\"; }",
                     "outlier rules apply to numeric fields only");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; "
                     "outlier = \"median\"; }",
                     "expected one of \"none\", \"zscore\", \"mad\", \"iqr\"");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; "
                     "outlier = \"mad\"; outlier_threshold = 0; }",
                     "expected a number above 0");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; "
                     "outlier = \"mad\"; outlier_warmup = 1; }",
                     "expected an integer from 2");
    expect_cfg_error("{ name = \"a\"; kind = \"numeric\"; threshold = 3; }",
                     "threshold and relabel apply to the label only");
    expect_cfg_error("{ name = \"a\"; kind = \"categorical\"; "
                     "on_invalid = \"drop\"; }",
                     "expected one of \"reject\", \"missing\"");
}

static void test_clean_label_rule_config_errors(void **state)
{
    char dir[64], path[128], errstr[TESTUTIL_ERRSTR_SIZE];
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    static const char both[] =
        "name = \"bad\";\n"
        "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
        "           dead_letters = \"d\"; };\n"
        "source = { schema = \"unused.avsc\"; };\n"
        "fields = (\n"
        "  { name = \"event_id\"; kind = \"id\"; },\n"
        "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
        "    threshold = 2; }\n"
        ");\n"
        "learner = { model_name = \"bad\"; bits = 10; };\n";
    static const char bad_pair[] =
        "name = \"bad\";\n"
        "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
        "           dead_letters = \"d\"; };\n"
        "source = { schema = \"unused.avsc\"; };\n"
        "fields = (\n"
        "  { name = \"event_id\"; kind = \"id\"; },\n"
        "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
        "    relabel = ( [\"a\", \"b\", \"c\"] ); }\n"
        ");\n"
        "learner = { model_name = \"bad\"; bits = 10; };\n";

    (void)state;
    assert_non_null(cfg);
    assert_non_null(temp_dir_new(dir, sizeof(dir), "labelcfg"));
    snprintf(path, sizeof(path), "%s/bad.cfg", dir);
    assert_int_equal(load_cfg_text(cfg, path, both, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "has a threshold and also positive values");
    assert_int_equal(load_cfg_text(cfg, path, bad_pair, errstr,
                                   sizeof(errstr)), RIFFLE_ERR_CFG);
    assert_contains(errstr, "fields[1].relabel: entry 1: expected a pair");
    (void)unlink(path);
    (void)rmdir(dir);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_allowed_categories,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_allowed_numbers_as_text,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(
            test_clean_pattern_matches_whole_value, setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_invalid_as_missing,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_median_imputation,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_mode_imputation,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_zscore_warmup_and_clip,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_zscore_constant_field,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_mad_rejects, setup_rules,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clean_iqr_as_missing,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_relabel_noisy_values,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clean_label_threshold_number,
                                        setup_threshold_num, teardown),
        cmocka_unit_test_setup_teardown(test_clean_label_threshold_text,
                                        setup_threshold_text, teardown),
        cmocka_unit_test(test_clean_regression_label_says_what_was_found),
        cmocka_unit_test(test_clean_rules_config_errors),
        cmocka_unit_test(test_clean_label_rule_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
