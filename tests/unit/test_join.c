/*
 * tests/unit/test_join.c - the bounded enrichment table of
 * cleaning/join.c and the schema mapping of cleaning/sources.c.
 *
 * The join: the window boundary on both sides, stale updates ignored,
 * strings copied, eviction of the least recently updated key at the
 * capacity boundary, and a long random run against a naive reference.
 * The mapping: same-name and renamed fields, unmapped fields left null,
 * and the configuration errors for unknown or ill-typed fields. No
 * broker; single-threaded.
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

#include "cleaning/join.h"
#include "cleaning/sources.h"
#include "common/err.h"
#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

static int put_num(struct join_table *t, const char *key, int64_t ts,
                   double x)
{
    struct join_value v = {VALUE_NUMBER, x, NULL, 0};

    return join_table_put(t, key, strlen(key), ts, &v);
}

static double get_num(struct join_table *t, const char *key, int64_t ts,
                      double window)
{
    const struct join_value *v = join_table_lookup(t, key, strlen(key), ts,
                                                   window);

    return v ? v->number : -1.0;
}

static void test_join_window_boundary(void **state)
{
    struct join_table *t;

    (void)state;
    assert_int_equal(join_table_new(4, 1, &t), 0);
    assert_int_equal(put_num(t, "u1", 10000, 7.0), 0);
    assert_double_near(get_num(t, "u1", 15000, 5000), 7.0, 0); /* edge */
    assert_double_near(get_num(t, "u1", 5000, 5000), 7.0, 0);  /* before */
    assert_double_near(get_num(t, "u1", 15001, 5000), -1.0, 0);
    assert_double_near(get_num(t, "u1", 4999, 5000), -1.0, 0);
    assert_double_near(get_num(t, "u2", 10000, 5000), -1.0, 0);
    assert_int_equal(join_table_counts(t)->hits, 2);
    assert_int_equal(join_table_counts(t)->expired, 2);
    assert_int_equal(join_table_counts(t)->misses, 1);
    join_table_destroy(t);
    join_table_destroy(NULL);
}

static void test_join_stale_update_ignored(void **state)
{
    struct join_table *t;

    (void)state;
    assert_int_equal(join_table_new(4, 1, &t), 0);
    assert_int_equal(put_num(t, "u1", 200, 2.0), 0);
    assert_int_equal(put_num(t, "u1", 100, 1.0), 0);   /* older: ignored */
    assert_double_near(get_num(t, "u1", 200, 1), 2.0, 0);
    assert_int_equal(put_num(t, "u1", 200, 3.0), 0);   /* same time: wins */
    assert_double_near(get_num(t, "u1", 200, 1), 3.0, 0);
    assert_int_equal(join_table_counts(t)->stale, 1);
    assert_int_equal(join_table_size(t), 1);
    join_table_destroy(t);
}

static void test_join_copies_strings_and_nulls(void **state)
{
    char region[] = "north";
    struct join_value in[3] = {{VALUE_STRING, 0, region, 5},
                               {VALUE_NULL, 0, NULL, 0},
                               {VALUE_NUMBER, 2.5, NULL, 0}};
    const struct join_value *out;
    struct join_table *t;

    (void)state;
    assert_int_equal(join_table_new(2, 3, &t), 0);
    assert_int_equal(join_table_put(t, "k", 1, 1, in), 0);
    region[0] = 'X'; /* the table holds its own copy */
    out = join_table_lookup(t, "k", 1, 1, 0);
    assert_non_null(out);
    assert_int_equal(out[0].kind, VALUE_STRING);
    assert_string_equal(out[0].str, "north");
    assert_int_equal(out[1].kind, VALUE_NULL);
    assert_double_near(out[2].number, 2.5, 0);
    join_table_destroy(t);
}

/* At capacity the least recently *updated* key goes, not the oldest
 * inserted: u1 is refreshed, so u2 is evicted. */
static void test_join_evicts_least_recently_updated(void **state)
{
    struct join_table *t;

    (void)state;
    assert_int_equal(join_table_new(3, 1, &t), 0);
    put_num(t, "u1", 1, 1);
    put_num(t, "u2", 2, 2);
    put_num(t, "u3", 3, 3);
    assert_int_equal(join_table_size(t), 3);  /* full, nothing evicted */
    assert_int_equal(join_table_counts(t)->evictions, 0);
    put_num(t, "u1", 4, 11);
    put_num(t, "u4", 5, 4);
    assert_int_equal(join_table_size(t), 3);
    assert_int_equal(join_table_counts(t)->evictions, 1);
    assert_double_near(get_num(t, "u2", 5, 100), -1.0, 0);
    assert_double_near(get_num(t, "u1", 5, 100), 11.0, 0);
    assert_double_near(get_num(t, "u3", 5, 100), 3.0, 0);
    assert_double_near(get_num(t, "u4", 5, 100), 4.0, 0);
    join_table_destroy(t);
}

/* Reference: arrays of (key, ts, value, last update tick). */
static void test_join_matches_reference(void **state)
{
    enum { CAP = 16, KEYS = 40, STEPS = 20000 };
    int ref_present[KEYS] = {0};
    int64_t ref_ts[KEYS];
    double ref_val[KEYS];
    uint64_t ref_tick[KEYS], tick = 0, rng = 3;
    struct join_table *t;
    int step;

    (void)state;
    assert_int_equal(join_table_new(CAP, 1, &t), 0);
    for (step = 0; step < STEPS; step++) {
        int k = (int)(rng_next(&rng) % KEYS), present = 0, i;
        int64_t ts = (int64_t)(rng_next(&rng) % 1000);
        char key[16];

        snprintf(key, sizeof(key), "key-%d", k);
        if (rng_next(&rng) % 2) {
            double x = (double)step;

            assert_int_equal(put_num(t, key, ts, x), 0);
            if (ref_present[k] && ref_ts[k] > ts)
                continue;
            if (!ref_present[k]) {
                for (i = 0; i < KEYS; i++)
                    present += ref_present[i];
                if (present == CAP) { /* evict the least recently updated */
                    int old = -1;

                    for (i = 0; i < KEYS; i++)
                        if (ref_present[i] &&
                            (old < 0 || ref_tick[i] < ref_tick[old]))
                            old = i;
                    ref_present[old] = 0;
                }
            }
            ref_present[k] = 1;
            ref_ts[k] = ts;
            ref_val[k] = x;
            ref_tick[k] = ++tick;
        } else {
            double want = ref_present[k] ? ref_val[k] : -1.0;

            if (get_num(t, key, ref_present[k] ? ref_ts[k] : 0, 0) != want)
                fail_msg("step %d key %d: table and reference differ", step,
                         k);
        }
    }
    assert_true(join_table_counts(t)->evictions > 100);
    join_table_destroy(t);
}

/* ---- schema mapping ------------------------------------------------- */

static const char target_json[] =
    "{\"type\": \"record\", \"name\": \"T\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"price\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"day\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"class\", \"type\": [\"null\", \"string\"]}"
    "]}";
static const char from_json[] =
    "{\"type\": \"record\", \"name\": \"F\", \"fields\": ["
    "  {\"name\": \"direction\", \"type\": \"string\"},"
    "  {\"name\": \"cost\", \"type\": \"float\"},"
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"extra\", \"type\": \"long\"}"
    "]}";

static const char map_cfg[] =
    "name = \"m\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = ( { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"class\"; kind = \"label\"; positive = [\"UP\"]; } );\n"
    "learner = { model_name = \"m\"; bits = 10; };\n"
    "sources = ( { topic = \"other\"; schema = \"f.avsc\";\n"
    "  map = ( [\"price\", \"cost\"], [\"class\", \"direction\"] ); } );\n";

struct map_world {
    char path[64];
    struct cfg *cfg;
    struct schema *target, *from;
};

static void map_world_open(struct map_world *w)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];

    w->cfg = calloc(1, sizeof(*w->cfg));
    assert_non_null(w->cfg);
    temp_file_new(w->path, sizeof(w->path), "map-cfg");
    if (load_cfg_text(w->cfg, w->path, map_cfg, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    w->target = load_schema_json(target_json);
    w->from = load_schema_json(from_json);
}

static void map_world_close(struct map_world *w)
{
    schema_destroy(w->target);
    schema_destroy(w->from);
    (void)unlink(w->path);
    free(w->cfg);
}

static void test_sources_map_fields(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct map_world w;
    struct source_map *m;
    struct event from, to;

    (void)state;
    map_world_open(&w);
    assert_int_equal(w.cfg->source_count, 1);
    assert_int_equal(w.cfg->sources[0].map_count, 2);
    assert_int_equal(source_map_new(w.cfg, w.cfg->sources[0].line,
                                    "sources[0].map", w.target, w.from,
                                    w.cfg->sources[0].map,
                                    w.cfg->sources[0].map_count, 1, &m,
                                    errstr,
                                    sizeof(errstr)), 0);
    assert_int_equal(source_map_origin(m, 0), 2); /* event_id, same name */
    assert_int_equal(source_map_origin(m, 1), 1); /* price <- cost */
    assert_int_equal(source_map_origin(m, 2), -1); /* day: nowhere */
    assert_int_equal(source_map_origin(m, 3), 0); /* class <- direction */
    source_map_destroy(m);

    /* without same names (a join): only the pairs */
    assert_int_equal(source_map_new(w.cfg, 1, "join.map", w.target, w.from,
                                    w.cfg->sources[0].map, 1, 0, &m, errstr,
                                    sizeof(errstr)), 0);
    assert_int_equal(source_map_origin(m, 0), -1);
    assert_int_equal(source_map_origin(m, 1), 1);
    assert_int_equal(source_map_origin(m, 3), -1);
    source_map_destroy(m);
    assert_int_equal(source_map_new(w.cfg, w.cfg->sources[0].line,
                                    "sources[0].map", w.target, w.from,
                                    w.cfg->sources[0].map,
                                    w.cfg->sources[0].map_count, 1, &m,
                                    errstr, sizeof(errstr)), 0);

    event_init(&from);
    event_init(&to);
    event_reset(&from, 4);
    assert_int_equal(event_set_string(&from, 0, "UP", 2), 0);
    event_set_number(&from, 1, 0.25);
    assert_int_equal(event_set_string(&from, 2, "e-9", 3), 0);
    event_set_number(&from, 3, 99);
    event_reset(&to, 4);
    event_set_number(&to, 2, 5); /* stale content is cleared */
    assert_int_equal(source_map_apply(m, &from, &to), 0);
    assert_int_equal(to.field_count, 4);
    assert_string_equal(event_string(&to, 0), "e-9");
    assert_double_near(to.values[1].number, 0.25, 0);
    assert_int_equal(to.values[2].kind, VALUE_NULL);
    assert_string_equal(event_string(&to, 3), "UP");
    event_free(&from);
    event_free(&to);
    source_map_destroy(m);
    source_map_destroy(NULL);
    map_world_close(&w);
}

static void test_sources_map_errors(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    char bad_name[1][2][CFG_NAME_MAX] = {{"price", "nope"}};
    char bad_type[1][2][CFG_NAME_MAX] = {{"price", "direction"}};
    char bad_target[1][2][CFG_NAME_MAX] = {{"nope", "cost"}};
    struct map_world w;
    struct source_map *m = NULL;

    (void)state;
    map_world_open(&w);
    assert_int_equal(source_map_new(w.cfg, 9, "sources[0].map", w.target,
                                    w.from, bad_name, 1, 1, &m, errstr,
                                    sizeof(errstr)), RIFFLE_ERR_CFG);
    assert_contains(errstr, ":9: sources[0].map: entry 1: \"nope\" is not "
                            "a field of F");
    assert_int_equal(source_map_new(w.cfg, 9, "sources[0].map", w.target,
                                    w.from, bad_target, 1, 1, &m, errstr,
                                    sizeof(errstr)), RIFFLE_ERR_CFG);
    assert_contains(errstr, "\"nope\" is not a field of T");
    assert_int_equal(source_map_new(w.cfg, 9, "sources[0].map", w.target,
                                    w.from, bad_type, 1, 1, &m, errstr,
                                    sizeof(errstr)), RIFFLE_ERR_CFG);
    assert_contains(errstr, "field \"price\" of T is a number, but "
                            "\"direction\" of F is not");
    assert_null(m);
    map_world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_window_boundary),
        cmocka_unit_test(test_join_stale_update_ignored),
        cmocka_unit_test(test_join_copies_strings_and_nulls),
        cmocka_unit_test(test_join_evicts_least_recently_updated),
        cmocka_unit_test(test_join_matches_reference),
        cmocka_unit_test(test_sources_map_fields),
        cmocka_unit_test(test_sources_map_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
