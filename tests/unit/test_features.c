/*
 * tests/unit/test_features.c - hashed feature extraction of
 * learner/features.c.
 *
 * Expected indices are computed with learner/hash.h from the rule the
 * header documents: a numeric field at hash(field), a token at
 * hash(token, seed = hash(field)), the missing marker as the token
 * "(missing)". Values come from hand-set running statistics. One test
 * runs the cleaner first, as learner/online.c does. No broker;
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
#include <sys/mman.h>
#include <unistd.h>

#include "cleaning/clean.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/features.h"
#include "learner/hash.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
#define TEST_SEED 99u
#define TEST_BITS 12
#define EULER 2.718281828459045

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"F\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"lx\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"sx\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"mx\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"c1\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"c2\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"cn\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"gone\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"dnum\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"ign\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"mi\", \"type\": [\"null\", \"double\"]}"
    "]}";

static const char cfg_text[] =
    "name = \"feat\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"x\"; kind = \"numeric\"; missing = \"skip\"; },\n"
    "  { name = \"lx\"; kind = \"numeric\"; transform = \"log1p\"; },\n"
    "  { name = \"sx\"; kind = \"numeric\"; transform = \"standardize\"; },\n"
    "  { name = \"mx\"; kind = \"numeric\"; missing = \"skip\";\n"
    "    indicator = true; },\n"
    "  { name = \"c1\"; kind = \"categorical\"; },\n"
    "  { name = \"c2\"; kind = \"categorical\"; missing = \"skip\"; },\n"
    "  { name = \"cn\"; kind = \"categorical\"; },\n"
    "  { name = \"gone\"; kind = \"categorical\"; personal = \"drop\"; },\n"
    "  { name = \"dnum\"; kind = \"numeric\"; personal = \"drop\"; },\n"
    "  { name = \"ign\"; kind = \"ignore\"; },\n"
    "  { name = \"mi\"; kind = \"numeric\"; missing = \"mean\";\n"
    "    indicator = true; }\n"
    ");\n"
    "learner = { model_name = \"feat\"; bits = 12; hash_seed = 99; };\n";

/* Configured positions, for the statistics array. */
enum { CF_SX = 4 };

/* Features of the full event: x lx sx mx c1 c2 cn mi. */
#define FULL_EVENT_FEATURES 8

struct fixture {
    struct clean_fixture base; /* its cleaner: in the test that cleans */
    struct feature_builder *fb;
    struct feature out[FEATURES_MAX];
    size_t n;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char errstr[ERRSTR_SIZE];

    if (!fx)
        return -1;
    *state = fx;
    if (clean_fixture_open(&fx->base, "feat", schema_json, cfg_text, 0) != 0)
        return -1;
    if (features_new(fx->base.cfg, fx->base.schema, fx->base.stats, &fx->fb,
                     errstr, sizeof(errstr)) != 0) {
        print_error("fixture: %s\n", errstr);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    if (!fx)
        return 0;
    features_destroy(fx->fb);
    clean_fixture_close(&fx->base);
    free(fx);
    return 0;
}

static uint32_t mask(void)
{
    return (1u << TEST_BITS) - 1;
}

static uint32_t numeric_index(const char *field)
{
    return hash_string(field, TEST_SEED) & mask();
}

static uint32_t token_index(const char *field, const char *token)
{
    return hash_string(token, hash_string(field, TEST_SEED)) & mask();
}

/* The event's fields by name (testutil.h). */
#define col(fx, name) clean_fixture_col(&(fx)->base, (name))
#define set_num(fx, name, x) clean_fixture_set_num(&(fx)->base, (name), (x))
#define set_str(fx, name, s) clean_fixture_set_str(&(fx)->base, (name), (s))
#define set_null(fx, name) clean_fixture_set_null(&(fx)->base, (name))

static void full_event(struct fixture *fx)
{
    event_reset(&fx->base.ev, schema_field_count(fx->base.schema));
    set_str(fx, "event_id", "e-1");
    set_str(fx, "label", "yes");
    set_num(fx, "x", 2.5);
    set_num(fx, "lx", 0.0);
    set_num(fx, "sx", 1.0);
    set_num(fx, "mx", 4.0);
    set_str(fx, "c1", "red");
    set_str(fx, "c2", "blue");
    set_num(fx, "cn", 7.0);
    set_str(fx, "gone", "personal");
    set_num(fx, "dnum", 123.0);
    set_str(fx, "ign", "ignored");
    set_num(fx, "mi", 1.5);
}

static void build(struct fixture *fx)
{
    const struct cleaner *c = fx->base.cleaner;

    fx->n = features_build(fx->fb, &fx->base.ev,
                           c ? cleaner_imputed(c) : NULL, fx->out);
    assert_true(fx->n <= FEATURES_MAX);
}

/* Number of features at index. */
static size_t count_at(const struct fixture *fx, uint32_t index)
{
    size_t i, k = 0;

    for (i = 0; i < fx->n; i++)
        k += fx->out[i].index == index;
    return k;
}

/* The value of the one feature at index (asserted to be unique). */
static float value_at(const struct fixture *fx, uint32_t index)
{
    size_t i;

    assert_int_equal(count_at(fx, index), 1);
    for (i = 0; i < fx->n; i++)
        if (fx->out[i].index == index)
            return fx->out[i].value;
    return NAN;
}

/* ---- tests --------------------------------------------------------- */

static void test_features_full_event_count(void **state)
{
    struct fixture *fx = *state;

    full_event(fx);
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES);
}

static void test_features_numeric_index_and_value(void **state)
{
    struct fixture *fx = *state;

    full_event(fx);
    set_num(fx, "x", -3.25);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("x")), -3.25, 0.0);
}

static void test_features_numeric_missing_no_feature(void **state)
{
    struct fixture *fx = *state;

    full_event(fx);
    set_null(fx, "x"); /* no indicator configured */
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES - 1);
    assert_int_equal(count_at(fx, numeric_index("x")), 0);
}

static void test_features_log1p(void **state)
{
    struct fixture *fx = *state;

    full_event(fx);
    set_num(fx, "lx", EULER - 1.0);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("lx")), 1.0, 1e-6);

    set_num(fx, "lx", -(EULER * EULER - 1.0)); /* sign kept */
    build(fx);
    assert_double_near(value_at(fx, numeric_index("lx")), -2.0, 1e-6);

    set_num(fx, "lx", 0.0);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("lx")), 0.0, 0.0);
}

static void test_features_standardize(void **state)
{
    struct fixture *fx = *state;
    static const double seen[] = {1.0, 2.0, 3.0, 4.0};
    size_t i;

    /* mean 2.5, sample variance 5/3 */
    for (i = 0; i < 4; i++)
        stats_add(&fx->base.stats[CF_SX], seen[i]);
    full_event(fx);
    set_num(fx, "sx", 5.0);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("sx")),
                       2.5 / sqrt(5.0 / 3.0), 1e-6);
}

static void test_features_standardize_constant_field(void **state)
{
    struct fixture *fx = *state;

    /* One value so far: no spread, so only the mean is taken off. */
    stats_add(&fx->base.stats[CF_SX], 3.0);
    full_event(fx);
    set_num(fx, "sx", 5.0);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("sx")), 2.0, 0.0);
}

static void test_features_value_beyond_float_is_infinite(void **state)
{
    struct fixture *fx = *state;
    float v;

    full_event(fx);
    set_num(fx, "x", 1e300);
    build(fx);
    v = value_at(fx, numeric_index("x"));
    assert_int_equal(isinf(v) && v > 0, 1);
}

static void test_features_categorical_one_hot(void **state)
{
    struct fixture *fx = *state;
    uint32_t red = token_index("c1", "red"), blue = token_index("c1", "blue");

    assert_int_not_equal(red, blue);
    full_event(fx);
    build(fx);
    assert_double_near(value_at(fx, red), 1.0, 0.0);
    assert_int_equal(count_at(fx, blue), 0);

    set_str(fx, "c1", "blue");
    build(fx);
    assert_double_near(value_at(fx, blue), 1.0, 0.0);
    assert_int_equal(count_at(fx, red), 0);
}

static void test_features_same_token_other_field(void **state)
{
    struct fixture *fx = *state;
    uint32_t in_c1 = token_index("c1", "red");
    uint32_t in_c2 = token_index("c2", "red");

    assert_int_not_equal(in_c1, in_c2);
    full_event(fx);
    set_str(fx, "c2", "red");
    build(fx);
    assert_double_near(value_at(fx, in_c1), 1.0, 0.0);
    assert_double_near(value_at(fx, in_c2), 1.0, 0.0);
}

static void test_features_number_as_category(void **state)
{
    struct fixture *fx = *state;
    uint32_t seven = token_index("cn", "7");

    full_event(fx); /* cn = 7.0 */
    build(fx);
    assert_double_near(value_at(fx, seven), 1.0, 0.0);
    assert_int_equal(count_at(fx, numeric_index("cn")), 0);

    /* The same category as the text "7". */
    set_str(fx, "cn", "7");
    build(fx);
    assert_double_near(value_at(fx, seven), 1.0, 0.0);

    set_num(fx, "cn", 8.0);
    build(fx);
    assert_int_equal(count_at(fx, seven), 0);
    assert_double_near(value_at(fx, token_index("cn", "8")), 1.0, 0.0);
}

static void test_features_missing_indicator(void **state)
{
    struct fixture *fx = *state;
    uint32_t indicator = token_index("mx", FEATURES_MISSING_TOKEN);

    full_event(fx);
    build(fx);
    assert_double_near(value_at(fx, numeric_index("mx")), 4.0, 0.0);
    assert_int_equal(count_at(fx, indicator), 0);

    set_null(fx, "mx");
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES);
    assert_double_near(value_at(fx, indicator), 1.0, 0.0);
    assert_int_equal(count_at(fx, numeric_index("mx")), 0);
}

static void test_features_missing_token(void **state)
{
    struct fixture *fx = *state;
    uint32_t missing = token_index("c1", FEATURES_MISSING_TOKEN);

    full_event(fx);
    set_null(fx, "c1"); /* the categorical default: missing = "token" */
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES);
    assert_double_near(value_at(fx, missing), 1.0, 0.0);
    assert_int_equal(count_at(fx, token_index("c1", "red")), 0);
}

static void test_features_missing_skip_categorical(void **state)
{
    struct fixture *fx = *state;

    full_event(fx);
    set_null(fx, "c2"); /* missing = "skip" */
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES - 1);
    assert_int_equal(count_at(fx, token_index("c2", FEATURES_MISSING_TOKEN)),
                     0);
}

static void test_features_dropped_field_absent(void **state)
{
    struct fixture *fx = *state;

    /* Even if a value got through (anonymization not run), a dropped
     * field gives no feature; nor does an ignored one. */
    full_event(fx);
    build(fx);
    assert_int_equal(count_at(fx, token_index("gone", "personal")), 0);
    assert_int_equal(count_at(fx, numeric_index("dnum")), 0);
    assert_int_equal(count_at(fx, token_index("ign", "ignored")), 0);

    set_null(fx, "gone");
    build(fx);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES);
    assert_int_equal(count_at(fx, token_index("gone", FEATURES_MISSING_TOKEN)),
                     0);
}

static void test_features_indices_within_table(void **state)
{
    struct fixture *fx = *state;
    static const unsigned bits[] = {10, 12, 20};
    char token[32];
    size_t b, i, t;

    for (b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
        struct feature_builder *fb = NULL;
        char errstr[ERRSTR_SIZE];

        fx->base.cfg->model.bits = bits[b];
        assert_int_equal(features_new(fx->base.cfg, fx->base.schema,
                                      fx->base.stats, &fb, errstr,
                                      sizeof(errstr)),
                         0);
        for (t = 0; t < 2000; t++) {
            full_event(fx);
            snprintf(token, sizeof(token), "token-%zu", t);
            set_str(fx, "c1", token);
            set_num(fx, "cn", (double)t * 7919.0);
            if (t % 3 == 0)
                set_null(fx, "mx");
            fx->n = features_build(fb, &fx->base.ev, NULL, fx->out);
            assert_int_equal(fx->n, FULL_EVENT_FEATURES);
            for (i = 0; i < fx->n; i++)
                if (fx->out[i].index >= (1u << bits[b]))
                    fail_msg("index %u >= 2^%u", fx->out[i].index, bits[b]);
        }
        features_destroy(fb);
    }
    fx->base.cfg->model.bits = TEST_BITS;
}

static void test_features_new_rejects_field_not_in_schema(void **state)
{
    struct fixture *fx = *state;
    static const char other[] =
        "{\"type\": \"record\", \"name\": \"O\", \"fields\": ["
        "  {\"name\": \"event_id\", \"type\": \"string\"}"
        "]}";
    struct schema *schema = load_schema_json(other);
    struct feature_builder *fb = NULL;
    char errstr[ERRSTR_SIZE];

    assert_int_equal(features_new(fx->base.cfg, schema, fx->base.stats, &fb,
                                  errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_null(fb);
    assert_contains(errstr, "\"label\" is not in schema O");
    schema_destroy(schema);
}

static void test_features_indicator_survives_imputation(void **state)
{
    struct fixture *fx = *state;
    struct clean_verdict verdict;
    char errstr[ERRSTR_SIZE];
    double label;

    assert_int_equal(cleaner_new(fx->base.cfg, fx->base.schema,
                                 fx->base.stats, &fx->base.cleaner, errstr,
                                 sizeof(errstr)),
                     0);
    full_event(fx);
    set_null(fx, "mi");
    assert_int_equal(cleaner_apply(fx->base.cleaner, &fx->base.ev, &label,
                                   &verdict), 0);
    build(fx);
    assert_int_equal(count_at(fx, numeric_index("mi")), 1);
    assert_double_near(value_at(fx, token_index("mi", FEATURES_MISSING_TOKEN)),
                       1.0, 0.0);
    assert_int_equal(fx->n, FULL_EVENT_FEATURES + 1);
}

/* A token at the top of a 4 GiB arena, 6 bytes below the end of the
 * arena's memory: its 32-bit offset plus the padded hash's 8 bytes
 * passes 2^32, which must not wrap into a small sum that lets the hash
 * read 8 bytes, past the memory. The arena is only reserved: its
 * first page holds the other fields' strings, the page at the top the
 * token, and the page after it is not readable. */
static void test_features_token_at_top_of_4gib_arena(void **state)
{
    struct fixture *fx = *state;
    struct event *ev = &fx->base.ev;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), cap = (size_t)1 << 32;
    uint32_t top = (uint32_t)(cap - 6), red = token_index("c1", "red");
    struct buf real;
    char *base;

    full_event(fx);
    base = mmap(NULL, cap + page, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        skip(); /* no 4 GiB of address space to reserve */
    assert_int_equal(mprotect(base, page, PROT_READ | PROT_WRITE), 0);
    assert_int_equal(mprotect(base + cap - page, page,
                              PROT_READ | PROT_WRITE), 0);
    assert_true(ev->arena.len < page);
    memcpy(base, ev->arena.data, ev->arena.len + 1);
    memcpy(base + top, "red", 4);
    real = ev->arena;
    ev->arena.data = base;
    ev->arena.len = cap - 1; /* EVENT_ARENA_MAX */
    ev->arena.cap = cap;
    ev->values[col(fx, "c1")].str_offset = top;
    ev->values[col(fx, "c1")].str_len = 3;

    build(fx);
    ev->arena = real;
    assert_int_equal(munmap(base, cap + page), 0);
    assert_double_near(value_at(fx, red), 1.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_features_full_event_count),
        T(test_features_numeric_index_and_value),
        T(test_features_numeric_missing_no_feature),
        T(test_features_log1p),
        T(test_features_standardize),
        T(test_features_standardize_constant_field),
        T(test_features_value_beyond_float_is_infinite),
        T(test_features_categorical_one_hot),
        T(test_features_same_token_other_field),
        T(test_features_number_as_category),
        T(test_features_missing_indicator),
        T(test_features_missing_token),
        T(test_features_missing_skip_categorical),
        T(test_features_dropped_field_absent),
        T(test_features_indices_within_table),
        T(test_features_new_rejects_field_not_in_schema),
        T(test_features_indicator_survives_imputation),
        T(test_features_token_at_top_of_4gib_arena),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
