/*
 * tests/unit/test_anonymize_actions.c - mask, date coarsening, Laplace
 * noise and field encryption of privacy/anonymize.c, at their boundaries,
 * and the configuration rules that go with them (config/cfg.c).
 *
 * Encrypted fields are opened again with privacy/seal.c, whose AES-GCM is
 * checked against published vectors in test_seal.c. Noise comes from the
 * CSPRNG, so its distribution is checked with bounds many standard errors
 * wide; anonymize_laplace() itself is checked exactly. No broker;
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

#include "common/err.h"
#include "config/cfg.h"
#include "privacy/anonymize.h"
#include "privacy/seal.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ENC_ENV "RIFFLE_TEST_ACTIONS_ENC_KEY"
#define HEX_KEY "000102030405060708090a0b0c0d0e0f" \
                "101112131415161718191a1b1c1d1e1f"
#define NOISE_DRAWS 100000

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"A\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"phone\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"born\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"zip\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"salary\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"email\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char action_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"phone\"; kind = \"categorical\"; personal = \"mask\";\n"
    "    keep_last = 4; },\n"
    "  { name = \"born\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    date = \"month\"; },\n"
    "  { name = \"zip\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    keep_prefix = 3; },\n"
    "  { name = \"salary\"; kind = \"numeric\"; personal = \"noise\";\n"
    "    epsilon = 0.5; min = 0.0; max = 1000.0; },\n"
    "  { name = \"email\"; kind = \"ignore\"; personal = \"encrypt\"; }\n";

struct fixture {
    char dir[64], cfg_path[128], key_path[128];
    struct cfg *cfg;
    struct schema *schema;
    struct anonymizer *anon;
    struct event ev;
    char errstr[TESTUTIL_ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    unsetenv(ENC_ENV);
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg || !temp_dir_new(fx->dir, sizeof(fx->dir), "actions"))
        return -1;
    snprintf(fx->cfg_path, sizeof(fx->cfg_path), "%s/a.cfg", fx->dir);
    snprintf(fx->key_path, sizeof(fx->key_path), "%s/enc.key", fx->dir);
    fx->schema = load_schema_json(schema_json);
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    unsetenv(ENC_ENV);
    anonymizer_destroy(fx->anon);
    schema_destroy(fx->schema);
    event_free(&fx->ev);
    (void)unlink(fx->cfg_path); /* each file exists only in some tests */
    (void)unlink(fx->key_path);
    (void)rmdir(fx->dir);
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Loads a configuration with these fields; returns cfg_load_file()'s
 * result with the message in fx->errstr. */
static int try_cfg(struct fixture *fx, const char *fields)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "name = \"a\";\n"
             "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
             "           dead_letters = \"d\"; };\n"
             "source = { schema = \"unused.avsc\"; };\n"
             "fields = (\n%s);\n"
             "privacy = { encrypt_key_env = \"%s\"; encrypt_key_id = \"e1\";"
             " encrypt_key_file = \"%s\"; };\n"
             "learner = { model_name = \"a\"; bits = 10; };\n",
             fields, ENC_ENV, fx->key_path);
    return load_cfg_text(fx->cfg, fx->cfg_path, text, fx->errstr,
                         sizeof(fx->errstr));
}

static void open_actions(struct fixture *fx)
{
    write_text(fx->key_path, HEX_KEY "\n");
    if (try_cfg(fx, action_fields) != 0)
        fail_msg("config: %s", fx->errstr);
    if (anonymizer_new(fx->cfg, fx->schema, &fx->anon, fx->errstr,
                       sizeof(fx->errstr)) != 0)
        fail_msg("anonymizer_new: %s", fx->errstr);
}

/* The event's fields by name (testutil.h). */
#define col(fx, name) schema_col((fx)->schema, (name))
#define set_str(fx, name, s) \
    event_put_text(&(fx)->ev, (fx)->schema, (name), (s))
#define str_of(fx, name) event_text(&(fx)->ev, (fx)->schema, (name))

static void raw_event(struct fixture *fx)
{
    event_reset(&fx->ev, schema_field_count(fx->schema));
    set_str(fx, "event_id", "e-1");
    set_str(fx, "label", "yes");
    set_str(fx, "phone", "+44 20 7946 0958");
    set_str(fx, "born", "1987-06-15");
    set_str(fx, "zip", "SW1A 1AA");
    event_set_number(&fx->ev, col(fx, "salary"), 500.0);
    set_str(fx, "email", "ada.lovelace@example.org");
}

/* ---- the pure functions -------------------------------------------- */

static void check_mask(const char *value, size_t keep, const char *want)
{
    char out[64];
    size_t n = anonymize_mask(value, strlen(value), keep, out);

    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_anonymize_mask_boundaries(void **state)
{
    (void)state;
    check_mask("5551234", 4, "***1234");
    check_mask("5551234", 0, "*******");
    check_mask("12345", 4, "*2345");  /* one more than kept */
    check_mask("1234", 4, "****");    /* as long as kept: all masked */
    check_mask("123", 4, "***");      /* shorter: all masked */
    check_mask("", 4, "");
    check_mask("x", 0, "*");
    /* UTF-8: "Zoë" then "Ø" masks by character, keeps whole characters */
    check_mask("Zo\xc3\xab\xc3\x98", 2, "**\xc3\xab\xc3\x98");
    check_mask("\xc3\xab\xc3\xab\xc3\xab", 1, "**\xc3\xab");
}

static void test_anonymize_coarsen_date_precisions(void **state)
{
    static const char d[] = "2026-12-04T17:38:06Z";

    (void)state;
    assert_int_equal(anonymize_coarsen_date(d, strlen(d), CFG_DATE_DAY), 10);
    assert_int_equal(anonymize_coarsen_date(d, strlen(d), CFG_DATE_MONTH),
                     7);
    assert_int_equal(anonymize_coarsen_date(d, strlen(d), CFG_DATE_YEAR), 4);
    assert_int_equal(anonymize_coarsen_date("2026-01-31", 10, CFG_DATE_DAY),
                     10);
    assert_int_equal(anonymize_coarsen_date("2026-12-04 08:00", 16,
                                            CFG_DATE_YEAR), 4);
    /* not ISO dates: refused, never cut */
    assert_int_equal(anonymize_coarsen_date("2026-13-01", 10, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("2026-00-10", 10, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("2026-12-32", 10, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("2026-12-00", 10, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("2026-12-4", 9, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("04/12/2026", 10, CFG_DATE_DAY),
                     -1);
    assert_int_equal(anonymize_coarsen_date("2026-12-04X", 11,
                                            CFG_DATE_DAY), -1);
}

static void test_anonymize_laplace_inverse_cdf(void **state)
{
    (void)state;
    assert_double_near(anonymize_laplace(0.0, 3.0), 0.0, 0.0);
    assert_double_near(anonymize_laplace(0.25, 2.0), -2.0 * log(0.5), 1e-15);
    assert_double_near(anonymize_laplace(-0.25, 2.0), 2.0 * log(0.5), 1e-15);
    assert_double_near(anonymize_laplace(0.45, 1.0), -log(0.1), 1e-12);
    /* the edges of the interval stay finite */
    assert_true(isfinite(anonymize_laplace(0.5, 1.0)));
    assert_true(isfinite(anonymize_laplace(-0.5, 1.0)));
    assert_true(anonymize_laplace(-0.5, 1.0) < -30.0);
}

/* ---- the actions on an event --------------------------------------- */

static void test_anonymize_apply_actions(void **state)
{
    struct fixture *fx = *state;
    struct keyring ring;
    struct buf open = {0};
    char errstr[TESTUTIL_ERRSTR_SIZE];

    open_actions(fx);
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);

    assert_string_equal(str_of(fx, "phone"), "************0958");
    assert_string_equal(str_of(fx, "born"), "1987-06");
    assert_string_equal(str_of(fx, "zip"), "SW1");
    assert_int_equal(fx->ev.values[col(fx, "salary")].kind, VALUE_NUMBER);
    assert_true(fx->ev.values[col(fx, "salary")].number >= 0.0);
    assert_true(fx->ev.values[col(fx, "salary")].number <= 1000.0);

    /* encrypted: no trace of the value; the key holder opens it */
    assert_lacks(str_of(fx, "email"), "lovelace");
    assert_int_equal(keyring_parse(HEX_KEY, strlen(HEX_KEY), "e1", &ring,
                                   errstr, sizeof(errstr)), 0);
    assert_int_equal(seal_decrypt_text(&ring, "email", str_of(fx, "email"),
                                       &open, errstr, sizeof(errstr)), 0);
    assert_string_equal(open.data, "ada.lovelace@example.org");
    buf_free(&open);
    keyring_wipe(&ring);
}

static void test_anonymize_apply_date_not_iso_becomes_null(void **state)
{
    struct fixture *fx = *state;

    open_actions(fx);
    raw_event(fx);
    set_str(fx, "born", "15/06/1987");
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_int_equal(fx->ev.values[col(fx, "born")].kind, VALUE_NULL);
}

/* Laplace(0, b) has mean 0 and mean absolute value b: here b = 10 / 0.5,
 * with no range to clip to. */
static void test_anonymize_noise_distribution(void **state)
{
    struct fixture *fx = *state;
    static const char fields[] =
        "  { name = \"event_id\"; kind = \"id\"; },\n"
        "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
        "  { name = \"salary\"; kind = \"numeric\"; personal = \"noise\";\n"
        "    epsilon = 0.5; sensitivity = 10.0; }\n";
    double sum = 0, sum_abs = 0, scale = 10.0 / 0.5;
    int i, moved = 0;

    assert_int_equal(try_cfg(fx, fields), 0);
    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &fx->anon,
                                    fx->errstr, sizeof(fx->errstr)), 0);
    for (i = 0; i < NOISE_DRAWS; i++) {
        double x;

        raw_event(fx);
        assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
        x = fx->ev.values[col(fx, "salary")].number - 500.0;
        sum += x;
        sum_abs += fabs(x);
        moved += x != 0.0;
    }
    /* standard errors: sqrt(2) b / sqrt(n) = 0.09 for the mean, b /
     * sqrt(n) = 0.06 for the mean absolute value; bounds are ten times
     * that. */
    assert_double_near(sum / NOISE_DRAWS, 0.0, 0.9);
    assert_double_near(sum_abs / NOISE_DRAWS, scale, 0.6);
    assert_int_equal(moved, NOISE_DRAWS);
}

static void test_anonymize_noise_clipped_to_range(void **state)
{
    struct fixture *fx = *state;
    int i;

    open_actions(fx); /* salary in [0, 1000], scale 2000 */
    for (i = 0; i < 1000; i++) {
        double x;

        raw_event(fx);
        assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
        x = fx->ev.values[col(fx, "salary")].number;
        assert_true(x >= 0.0 && x <= 1000.0);
    }
}

/* ---- configuration ------------------------------------------------- */

static void expect_refused(struct fixture *fx, const char *fields,
                           const char *what)
{
    assert_int_equal(try_cfg(fx, fields), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, what);
}

#define ID_LABEL                                                          \
    "  { name = \"event_id\"; kind = \"id\"; },\n"                        \
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"

static void test_anonymize_cfg_rules(void **state)
{
    struct fixture *fx = *state;

    expect_refused(fx, ID_LABEL "  { name = \"salary\"; kind = \"numeric\";"
                   " personal = \"noise\"; min = 0.0; max = 1.0; }\n",
                   "fields[2].epsilon: noise needs epsilon > 0");
    expect_refused(fx, ID_LABEL "  { name = \"salary\"; kind = \"numeric\";"
                   " personal = \"noise\"; epsilon = 1.0; }\n",
                   "fields[2].sensitivity: noise needs sensitivity > 0");
    expect_refused(fx, ID_LABEL "  { name = \"phone\"; kind = \"categorical\";"
                   " personal = \"noise\"; epsilon = 1.0; }\n",
                   "noise applies to numeric fields only");
    expect_refused(fx, ID_LABEL "  { name = \"email\"; kind = \"categorical\";"
                   " personal = \"encrypt\"; }\n",
                   "use kind = \"ignore\"");
    expect_refused(fx, ID_LABEL "  { name = \"salary\"; kind = \"numeric\";"
                   " personal = \"mask\"; }\n",
                   "a masked value is text");
    expect_refused(fx, ID_LABEL "  { name = \"phone\"; kind = \"categorical\";"
                   " personal = \"drop\"; keep_last = 2; }\n",
                   "keep_last goes with personal = \"mask\"");
    expect_refused(fx, ID_LABEL "  { name = \"phone\"; kind = \"categorical\";"
                   " personal = \"mask\"; keep_last = 65; }\n",
                   "fields[2].keep_last");
    expect_refused(fx, ID_LABEL "  { name = \"born\"; kind = \"categorical\";"
                   " personal = \"coarsen\"; date = \"week\"; }\n",
                   "expected one of \"day\", \"month\", \"year\"");
    expect_refused(fx, ID_LABEL "  { name = \"born\"; kind = \"categorical\";"
                   " personal = \"coarsen\"; date = \"day\"; keep_prefix = 4;"
                   " }\n", "coarsen needs one of band");

    /* sensitivity defaults to the range's width */
    assert_int_equal(try_cfg(fx, ID_LABEL "  { name = \"salary\"; kind = "
                             "\"numeric\"; personal = \"noise\"; epsilon = 1.0;"
                             " min = 10.0; max = 60.0; }\n"), 0);
    assert_double_near(fx->cfg->fields[2].sensitivity, 50.0, 0.0);
}

static void test_anonymize_encrypt_needs_key(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(try_cfg(fx, action_fields), 0); /* no key file yet */
    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &fx->anon,
                                    fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "privacy.encrypt_key_file: ");
    assert_contains(fx->errstr, "No such file");

    snprintf(fx->cfg->encrypt_key.file, sizeof(fx->cfg->encrypt_key.file),
             "%s", "");
    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &fx->anon,
                                    fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "personal = \"encrypt\" needs a key: set "
                    "privacy.encrypt_key_file or the environment variable "
                    ENC_ENV);
}

static void test_anonymize_date_on_number_refused(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(try_cfg(fx, ID_LABEL "  { name = \"salary\"; kind = "
                             "\"categorical\"; personal = \"coarsen\"; "
                             "date = \"year\"; }\n"), 0);
    assert_int_equal(anonymizer_new(fx->cfg, fx->schema, &fx->anon,
                                    fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "fields[2].date: field \"salary\" is a "
                    "number in schema riffle.test.A");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymize_mask_boundaries),
        cmocka_unit_test(test_anonymize_coarsen_date_precisions),
        cmocka_unit_test(test_anonymize_laplace_inverse_cdf),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_anonymize_apply_actions),
        T(test_anonymize_apply_date_not_iso_becomes_null),
        T(test_anonymize_noise_distribution),
        T(test_anonymize_noise_clipped_to_range),
        T(test_anonymize_cfg_rules),
        T(test_anonymize_encrypt_needs_key),
        T(test_anonymize_date_on_number_refused),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
