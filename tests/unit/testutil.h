/*
 * tests/unit/testutil.h - helpers shared by the cmocka unit tests.
 *
 * What several test files needed and each used to carry a copy of:
 *
 *   assert_double_near()      doubles equal within a tolerance, printing
 *                             both values (cmocka 1.1 compares in float);
 *   assert_contains()         a string holds, or assert_lacks() does not
 *                             hold, a substring, printing both strings;
 *   rng_next(), rng_unit()    splitmix64, a fixed-seed generator whose
 *                             sequence is the same on every libc, and a
 *                             uniform double in [0, 1) drawn from it;
 *   temp_dir_new(),           a fresh directory or empty file under /tmp,
 *   temp_file_new()           named after the test, for the caller to
 *                             remove;
 *   write_text()              a whole file written from a string;
 *   load_cfg_text()           a configuration written to a file, then
 *                             loaded with cfg_load_file();
 *   load_schema_json(),       a schema loaded or the test failed with the
 *   load_schema_file()        loader's message;
 *   schema_col(),             a field's column, and its string set or
 *   event_put_text(),         read, by the field's name; the test fails
 *   event_text()              when the schema or the event lacks it;
 *   model_weights_dup(),      a model's weights or state value k as a
 *   model_state_dup()         malloc'd array in index order;
 *   assert_models_equal(),    two models, or a model and a weight array,
 *   assert_weights_equal()    bit for bit, printing the first difference;
 *   struct scratch_dir        a fresh directory holding a test's own
 *                             configuration file, with the struct cfg
 *                             loaded from it (testutil.c);
 *   struct clean_fixture      that configuration, a schema, running
 *                             statistics, a cleaner and an event: the
 *                             set-up the cleaning, feature and snapshot
 *                             tests share (testutil.c);
 *   mock_cluster_new(),       librdkafka's mock cluster with the test's
 *   mock_cluster_destroy()    topic, for the tests that make brokers
 *                             fail on purpose (testutil.c).
 *
 * Each test binary includes this header once; everything above the
 * fixtures is static inline (or a macro, where cmocka needs the caller's
 * __FILE__ and __LINE__), so nothing is linked twice and unused helpers
 * cost nothing. The fixtures, which hold state, are functions in
 * testutil.c, a library every unit test links (CMakeLists.txt). Needs no
 * broker. Single-threaded, like cmocka itself: the generator keeps its
 * state in the caller's variable, and the assertions longjmp out of the
 * running test.
 */
#ifndef RIFFLE_TESTS_UNIT_TESTUTIL_H
#define RIFFLE_TESTS_UNIT_TESTUTIL_H

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

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config/cfg.h"
#include "learner/online.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"

struct cleaner;

#define TESTUTIL_ERRSTR_SIZE 512 /* room for any loader message */
#define TESTUTIL_TMP_PREFIX "/tmp/riffle-test-"

/* ---- comparisons --------------------------------------------------- */

/* cmocka 1.1's assert_float_equal works in float; this keeps double
 * precision and prints both values. NaN never passes. */
#define assert_double_near(a, b, tol) \
    check_double_near((a), (b), (tol), #a, __FILE__, __LINE__)

static inline void check_double_near(double a, double b, double tol,
                                     const char *expr, const char *file,
                                     int line)
{
    if (!(fabs(a - b) <= tol)) {
        print_error("%s = %.17g, expected %.17g (tolerance %g)\n", expr, a,
                    b, tol);
        _fail(file, line);
    }
}

/* Substring checks that print the text they looked in. */
#define assert_contains(text, part) \
    check_substring((text), (part), 1, __FILE__, __LINE__)
#define assert_lacks(text, part) \
    check_substring((text), (part), 0, __FILE__, __LINE__)

/* Fails at file:line unless part occurs in text (want 1) or does not
 * (want 0). */
static inline void check_substring(const char *text, const char *part,
                                   int want, const char *file, int line)
{
    if ((strstr(text, part) != NULL) != want) {
        print_error("\"%s\" %s \"%s\"\n", text,
                    want ? "does not contain" : "contains", part);
        _fail(file, line);
    }
}

/* ---- fixed-seed random numbers ------------------------------------- */

#define RNG_UNIT_BITS 53 /* a double's mantissa */

/* splitmix64: advances *state and returns the next 64 random bits. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), from the top RNG_UNIT_BITS bits of rng_next(). */
static inline double rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> (64 - RNG_UNIT_BITS)) /
           (double)(UINT64_C(1) << RNG_UNIT_BITS);
}

/* ---- files --------------------------------------------------------- */

/* Makes a fresh directory TESTUTIL_TMP_PREFIX<tag>-XXXXXX and leaves its
 * path in dir (size bytes). Returns dir, or NULL when mkdtemp() failed,
 * so that a cmocka setup can return -1. The caller removes it. */
static inline char *temp_dir_new(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, TESTUTIL_TMP_PREFIX "%s-XXXXXX", tag);
    return mkdtemp(dir);
}

/* Creates an empty file TESTUTIL_TMP_PREFIX<tag>-XXXXXX, failing the
 * test if it cannot, and leaves its path in path (size bytes). The caller
 * removes it. */
static inline void temp_file_new(char *path, size_t size, const char *tag)
{
    int fd;

    snprintf(path, size, TESTUTIL_TMP_PREFIX "%s-XXXXXX", tag);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
}

/* Writes text to path, replacing what was there; fails the test on any
 * I/O error. */
static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* ---- loading configurations and schemas ---------------------------- */

/* Writes text to path, then loads it into cfg. Returns what
 * cfg_load_file() returns, with its message in errstr; the file stays
 * for the caller to remove. */
static inline int load_cfg_text(struct cfg *cfg, const char *path,
                                const char *text, char *errstr,
                                size_t errstr_size)
{
    write_text(path, text);
    return cfg_load_file(cfg, path, errstr, errstr_size);
}

/* Parses json as a schema; a failure fails the test with the loader's
 * message, which calls the text "test schema". The caller destroys the
 * schema. */
static inline struct schema *load_schema_json(const char *json)
{
    struct schema *s = NULL;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";

    if (schema_load_json(json, strlen(json), "test schema", &s, errstr,
                         sizeof(errstr)) != 0)
        fail_msg("schema_load_json: %s", errstr);
    return s;
}

/* Loads the .avsc file at path, as load_schema_json() does. */
static inline struct schema *load_schema_file(const char *path)
{
    struct schema *s = NULL;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";

    if (schema_load_file(path, &s, errstr, sizeof(errstr)) != 0)
        fail_msg("schema_load_file: %s", errstr);
    return s;
}

/* ---- events by field name ----------------------------------------- */

/* The column of field name in schema s; fails the test when it has none. */
static inline size_t schema_col(const struct schema *s, const char *name)
{
    int i = schema_field_index(s, name);

    if (i < 0)
        fail_msg("field %s is not in the test schema", name);
    return (size_t)i;
}

/* Sets field name of ev, an event of schema s, to the string text. */
static inline void event_put_text(struct event *ev, const struct schema *s,
                                  const char *name, const char *text)
{
    assert_int_equal(event_set_string(ev, schema_col(s, name), text,
                                      strlen(text)), 0);
}

/* The string field name of ev holds; fails the test when it holds none. */
static inline const char *event_text(const struct event *ev,
                                     const struct schema *s,
                                     const char *name)
{
    const char *text = event_string(ev, schema_col(s, name));

    assert_non_null(text);
    return text;
}

/* ---- model state --------------------------------------------------- */

/* The model keeps weights and state interleaved; tests compare arrays. */
static inline float *model_weights_dup(const struct model *m)
{
    float *copy = malloc(model_weight_count(m) * sizeof(float));

    assert_non_null(copy);
    model_copy_weights(m, copy);
    return copy;
}

static inline float *model_state_dup(const struct model *m, size_t k)
{
    float *copy = malloc(model_weight_count(m) * sizeof(float));

    assert_non_null(copy);
    model_copy_state(m, k, copy);
    return copy;
}

/* Bitwise, so that -0.0 differs from 0.0 and a NaN equals itself. */
static inline int float_bits_equal(float a, float b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

#define assert_models_equal(a, b) \
    check_models_equal((a), (b), __FILE__, __LINE__)
#define assert_weights_equal(m, w) \
    check_weights_equal((m), (w), __FILE__, __LINE__)

/* Fails unless a and b have the same size and every weight and every
 * state value is bit-identical. */
static inline void check_models_equal(const struct model *a,
                                      const struct model *b,
                                      const char *file, int line)
{
    size_t i, k;

    if (model_weight_count(a) != model_weight_count(b)) {
        print_error("weight counts %zu and %zu differ\n",
                    model_weight_count(a), model_weight_count(b));
        _fail(file, line);
    }
    for (i = 0; i < model_weight_count(a); i++) {
        if (!float_bits_equal(model_weight(a, i), model_weight(b, i))) {
            print_error("weight %zu: %.9g and %.9g\n", i,
                        (double)model_weight(a, i),
                        (double)model_weight(b, i));
            _fail(file, line);
        }
        for (k = 0; k < MODEL_MAX_STATE_ARRAYS; k++) {
            float sa = model_state_value(a, k, i);
            float sb = model_state_value(b, k, i);

            if (!float_bits_equal(sa, sb)) {
                print_error("state %zu of weight %zu: %.9g and %.9g\n", k,
                            i, (double)sa, (double)sb);
                _fail(file, line);
            }
        }
    }
}

/* Fails unless m's weights are bit-identical to w (weight_count()). */
static inline void check_weights_equal(const struct model *m,
                                       const float *w, const char *file,
                                       int line)
{
    size_t i;

    for (i = 0; i < model_weight_count(m); i++) {
        if (!float_bits_equal(model_weight(m, i), w[i])) {
            print_error("weight %zu: %.9g, expected %.9g\n", i,
                        (double)model_weight(m, i), (double)w[i]);
            _fail(file, line);
        }
    }
}

/* ---- fixtures (testutil.c) ---------------------------------------- */

/* A test's own scratch directory and configuration file in it. */
struct scratch_dir {
    char dir[64];
    char cfg_path[128]; /* <dir>/<tag>.cfg, written by load_cfg_text() */
};

/* Makes the directory TESTUTIL_TMP_PREFIX<tag>-XXXXXX and a zeroed
 * struct cfg in *cfg (the caller loads it, e.g. with load_cfg_text() on
 * s->cfg_path). Returns 0, or -1 when either cannot be had, so that a
 * cmocka setup can return it; scratch_dir_destroy() undoes a partial
 * success. */
int scratch_dir_new(struct scratch_dir *s, const char *tag,
                    struct cfg **cfg);

/* Removes the configuration file and the directory (files the test put
 * there besides are its to remove first) and frees cfg. Safe after a
 * failed or partial scratch_dir_new() and on a zeroed s. */
void scratch_dir_destroy(struct scratch_dir *s, struct cfg *cfg);

/* A configuration loaded from text, a schema from JSON, the online
 * learner on them, and an initialized event: the set-up of the
 * test_online_* programs. */
struct online_fixture {
    struct scratch_dir scratch;
    struct cfg *cfg;
    struct schema *schema;
    struct online_learner *ol;
    struct event ev;
};

/* Opens f (zeroed by the caller) in a scratch directory named by tag.
 * Returns 0, or -1 after printing why; online_fixture_close() undoes a
 * partial open. */
int online_fixture_open(struct online_fixture *f, const char *tag,
                        const char *schema_json, const char *cfg_text);

void online_fixture_close(struct online_fixture *f);

/* cmocka set-up and tear-down for a test whose state is a fixture of
 * size bytes that begins with its struct online_fixture (checked with
 * offsetof by the caller), as clean_fixture_setup() is for the cleaner. */
int online_fixture_setup(void **state, size_t size, const char *tag,
                         const char *schema_json, const char *cfg_text);
int online_fixture_teardown(void **state);

/* A configuration loaded from text, a schema from JSON, the running
 * statistics the cleaner and the feature builder share, optionally the
 * cleaner on them, and an initialized event. */
struct clean_fixture {
    struct scratch_dir scratch;
    struct cfg *cfg;
    struct schema *schema;
    struct running_stats stats[CFG_MAX_FIELDS];
    struct cleaner *cleaner; /* NULL unless with_cleaner */
    struct event ev;
};

/* Opens f (zeroed by the caller) in a scratch directory named after tag:
 * cfg_text loaded, schema_json parsed (its name in messages: "test
 * schema"), the cleaner built when with_cleaner is set. Returns 0, or -1
 * with the loader's message printed, for a cmocka setup to return;
 * clean_fixture_close() undoes a partial open. */
int clean_fixture_open(struct clean_fixture *f, const char *tag,
                       const char *schema_json, const char *cfg_text,
                       int with_cleaner);

/* Frees everything f holds and removes its scratch directory. */
void clean_fixture_close(struct clean_fixture *f);

/* cmocka set-up and tear-down for a test whose state is a fixture of
 * size bytes that begins with its struct clean_fixture (checked with
 * offsetof by the caller): allocates it zeroed into *state and opens it
 * as clean_fixture_open() does; the tear-down closes and frees it. */
int clean_fixture_setup(void **state, size_t size, const char *tag,
                        const char *schema_json, const char *cfg_text,
                        int with_cleaner);
int clean_fixture_teardown(void **state);

/* The schema position of the field name in f, failing the test when the
 * schema has no such field. */
size_t clean_fixture_col(const struct clean_fixture *f, const char *name);

/* Set field name of f->ev to a number, a string (copied) or null. */
void clean_fixture_set_num(struct clean_fixture *f, const char *name,
                           double x);
void clean_fixture_set_str(struct clean_fixture *f, const char *name,
                           const char *s);
void clean_fixture_set_null(struct clean_fixture *f, const char *name);

/* ---- librdkafka's mock cluster (testutil.c) ----------------------- */

#define MOCK_CLUSTER_ANY_LEADER (-1) /* leave leaders as the mock picks */

/* Starts a mock cluster of brokers brokers (ids 1..brokers) in a silent
 * host producer, which *host receives and which owns the cluster, and
 * creates topic with partitions partitions, replication factor 1. When
 * leader is a broker id, it leads every partition. Fails the test when
 * any step does. Returns the cluster; mock_cluster_destroy() frees both. */
rd_kafka_mock_cluster_t *mock_cluster_new(rd_kafka_t **host, int brokers,
                                          const char *topic, int partitions,
                                          int32_t leader);

/* A silent client of type type on mcluster's brokers, in consumer group
 * group_id (NULL: none). Fails the test when it cannot be made. */
rd_kafka_t *mock_client_new(rd_kafka_mock_cluster_t *mcluster,
                            rd_kafka_type_t type, const char *group_id);

/* Destroys the cluster, then its host; safe on NULLs. */
void mock_cluster_destroy(rd_kafka_mock_cluster_t *mcluster,
                          rd_kafka_t *host);

/* A mock cluster with one topic and one client of it, for the tests of
 * the asks riffle makes of the brokers. */
struct mock_fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_t *client; /* the one that asks */
    char errstr[512];
};

/* Fills fx: mock_cluster_new() with its arguments, and a client of type
 * type without a group. Fails the test when any step does. */
void mock_fixture_open(struct mock_fixture *fx, int brokers, const char *topic,
                       int partitions, int32_t leader, rd_kafka_type_t type);

/* Destroys the client, then the cluster and its host. */
void mock_fixture_close(struct mock_fixture *fx);

#endif /* RIFFLE_TESTS_UNIT_TESTUTIL_H */
