/*
 * tests/unit/test_kanon.c - the sliding-window k-anonymity counts of
 * privacy/kanon.c, checked against a naive recount of the window after
 * every event, at the window's and k's boundaries, and the configuration
 * of privacy.k_anonymity (config/cfg.c). No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "config/cfg.h"
#include "privacy/kanon.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define NAIVE_MAX 4096

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"K\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"zip\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"age\", \"type\": [\"null\", \"int\"]}"
    "]}";

struct fixture {
    char dir[64], cfg_path[128];
    struct cfg *cfg;
    struct schema *schema;
    struct kanon *k;
    struct event ev;
    char errstr[TESTUTIL_ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg || !temp_dir_new(fx->dir, sizeof(fx->dir), "kanon"))
        return -1;
    snprintf(fx->cfg_path, sizeof(fx->cfg_path), "%s/k.cfg", fx->dir);
    fx->schema = load_schema_json(schema_json);
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    kanon_destroy(fx->k);
    schema_destroy(fx->schema);
    event_free(&fx->ev);
    (void)unlink(fx->cfg_path);
    (void)rmdir(fx->dir);
    free(fx->cfg);
    free(fx);
    return 0;
}

static int try_cfg(struct fixture *fx, const char *kanon)
{
    char text[2048];

    snprintf(text, sizeof(text),
             "name = \"k\";\n"
             "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
             "           dead_letters = \"d\"; };\n"
             "source = { schema = \"unused.avsc\"; };\n"
             "fields = (\n"
             "  { name = \"event_id\"; kind = \"id\"; },\n"
             "  { name = \"label\"; kind = \"label\"; positive = [\"y\"]; },\n"
             "  { name = \"zip\"; kind = \"categorical\"; },\n"
             "  { name = \"age\"; kind = \"categorical\"; }\n"
             ");\n"
             "privacy = { %s };\n"
             "learner = { model_name = \"k\"; bits = 10; };\n",
             kanon);
    return load_cfg_text(fx->cfg, fx->cfg_path, text, fx->errstr,
                         sizeof(fx->errstr));
}

static void open_kanon(struct fixture *fx, long k, long window)
{
    char text[256];

    snprintf(text, sizeof(text), "k_anonymity = { quasi_identifiers = "
             "[\"zip\", \"age\"]; k = %ld; window = %ld; };", k, window);
    if (try_cfg(fx, text) != 0)
        fail_msg("config: %s", fx->errstr);
    if (kanon_new(fx->cfg, fx->schema, &fx->k, fx->errstr,
                  sizeof(fx->errstr)) != 0)
        fail_msg("kanon_new: %s", fx->errstr);
    assert_non_null(fx->k);
}

/* zip may be NULL (a null value), age < 0 too. */
static void add(struct fixture *fx, const char *zip, int age)
{
    event_reset(&fx->ev, schema_field_count(fx->schema));
    assert_int_equal(event_set_string(&fx->ev, 0, "e", 1), 0);
    if (zip)
        assert_int_equal(event_set_string(&fx->ev, 2, zip, strlen(zip)), 0);
    if (age >= 0)
        event_set_number(&fx->ev, 3, age);
    kanon_add(fx->k, &fx->ev);
}

static void expect(const struct fixture *fx, size_t events, size_t combos,
                   size_t below, size_t events_below)
{
    struct kanon_report r;

    kanon_report(fx->k, &r);
    assert_int_equal(r.window_events, events);
    assert_int_equal(r.combinations, combos);
    assert_int_equal(r.combinations_below, below);
    assert_int_equal(r.events_below, events_below);
}

static void test_kanon_counts_at_k_boundary(void **state)
{
    struct fixture *fx = *state;

    open_kanon(fx, 3, 100);
    add(fx, "SW1", 30);
    expect(fx, 1, 1, 1, 1);
    add(fx, "SW1", 30);
    expect(fx, 2, 1, 1, 2);   /* k - 1 events: still below */
    add(fx, "SW1", 30);
    expect(fx, 3, 1, 0, 0);   /* exactly k: no longer below */
    add(fx, "SW1", 40);       /* another age: another combination */
    add(fx, NULL, 30);        /* a null is a value of its own */
    add(fx, "SW1", -1);
    expect(fx, 6, 4, 3, 3);
}

/* ("ab", "c") and ("a", "bc") must not be one combination. */
static void test_kanon_values_do_not_run_together(void **state)
{
    struct fixture *fx = *state;

    open_kanon(fx, 2, 10);
    add(fx, "1", 23);
    add(fx, "12", 3);
    expect(fx, 2, 2, 2, 2);
}

static void test_kanon_window_forgets_oldest(void **state)
{
    struct fixture *fx = *state;

    open_kanon(fx, 2, 3);
    add(fx, "A", 1);
    add(fx, "A", 1);
    add(fx, "B", 1);
    expect(fx, 3, 2, 1, 1);
    add(fx, "B", 1);          /* the first A leaves */
    expect(fx, 3, 2, 1, 1);
    add(fx, "C", 1);          /* the second A leaves: A is gone */
    expect(fx, 3, 2, 1, 1);
    add(fx, "C", 1);
    add(fx, "C", 1);
    expect(fx, 3, 1, 0, 0);
}

/* Random streams with many deletions and probe collisions, compared with
 * a recount of the window after every event. */
static void test_kanon_matches_naive_recount(void **state)
{
    struct fixture *fx = *state;
    static int zips[NAIVE_MAX], ages[NAIVE_MAX];
    uint64_t rng = 42;
    const size_t window = 257, k = 4;
    size_t i, j, n;

    open_kanon(fx, (long)k, (long)window);
    for (n = 0; n < 3000; n++) {
        char zip[16];
        size_t start = n + 1 > window ? n + 1 - window : 0, combos = 0;
        size_t below = 0, events_below = 0;

        zips[n] = (int)(rng_next(&rng) % 40);
        ages[n] = (int)(rng_next(&rng) % 5);
        snprintf(zip, sizeof(zip), "Z%d", zips[n]);
        add(fx, zip, ages[n]);

        for (i = start; i <= n; i++) {
            size_t count = 0, first = 1;

            for (j = start; j <= n; j++) {
                if (zips[j] != zips[i] || ages[j] != ages[i])
                    continue;
                first &= j >= i;
                count++;
            }
            if (!first)
                continue; /* counted at its first event */
            combos++;
            below += count < k;
            events_below += count < k ? count : 0;
        }
        expect(fx, n + 1 - start, combos, below, events_below);
    }
}

static void test_kanon_cfg(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(try_cfg(fx, ""), 0);
    assert_int_equal(fx->cfg->quasi_id_count, 0);
    assert_int_equal(kanon_new(fx->cfg, fx->schema, &fx->k, fx->errstr,
                               sizeof(fx->errstr)), 0);
    assert_null(fx->k); /* not configured: no monitor */

    assert_int_equal(try_cfg(fx, "k_anonymity = { quasi_identifiers = "
                             "[\"zip\"]; };"), 0);
    assert_int_equal(fx->cfg->kanon_k, 5);
    assert_int_equal(fx->cfg->kanon_window, 10000);

    assert_int_equal(try_cfg(fx, "k_anonymity = { k = 3; };"),
                     RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "privacy.k_anonymity.quasi_identifiers: "
                    "missing required setting");
    assert_int_equal(try_cfg(fx, "k_anonymity = { quasi_identifiers = "
                             "[\"nope\"]; };"), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "\"nope\" is not a configured field");
    assert_int_equal(try_cfg(fx, "k_anonymity = { quasi_identifiers = "
                             "[\"zip\"]; k = 1; };"), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "privacy.k_anonymity.k");
    assert_int_equal(try_cfg(fx, "k_anonymity = { quasi_identifiers = "
                             "[\"zip\"]; window = 0; };"), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "privacy.k_anonymity.window");
    assert_int_equal(try_cfg(fx, "k_anonymity = { quasi_identifiers = "
                             "[\"zip\"]; kk = 2; };"), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "kk");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_kanon_counts_at_k_boundary),
        T(test_kanon_values_do_not_run_together),
        T(test_kanon_window_forgets_oldest),
        T(test_kanon_matches_naive_recount),
        T(test_kanon_cfg),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
