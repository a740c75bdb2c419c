/*
 * tests/unit/test_schema_history.c - the versions of riffle's output
 * schemas kept in schemas/history/, schemas/history.c.
 *
 * Reads a metrics report written under the metrics schema of before the
 * delayed-label counters (tests/fixtures/metrics_before_labels.bin) with
 * the version that wrote it, and checks the list of every released
 * fingerprint of each bundled schema against schemas/ and
 * schemas/history/: a schema changed without its previous version kept
 * fails here. No broker; single-threaded; runs from the repository root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <avro.h>

#include "common/err.h"
#include "schemas/history.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define METRICS_AVSC "schemas/metrics.avsc"
#define OLD_METRICS "tests/fixtures/metrics_before_labels.bin"
#define OLD_METRICS_FP 0x53411c6fbc3ee0d4ULL /* before c4a11ca's labels */
#define SNAPSHOT_AVSC "schemas/model_snapshot.avsc"
#define FIXTURE_MAX 4096
#define SNAPSHOT_FIXTURE_MAX (64 * 1024)
#define VERSIONS_MAX 8

/* Every released fingerprint of each schema in schemas/, oldest first;
 * the last is the current file's. Changing a schema means keeping the
 * previous file as schemas/history/STEM.FINGERPRINT.avsc and appending
 * the new fingerprint here (docs/OPERATIONS.md, "Schema versions"). */
static const struct {
    const char *file;
    uint64_t fingerprints[VERSIONS_MAX];
    size_t count;
} released[] = {
    {"adult.avsc", {0x6ece857e0edecc61ULL}, 1},
    {"adult_pii.avsc", {0xe4a5126ff45d0499ULL}, 1},
    {"alert.avsc", {0xcfa10329e618b45dULL}, 1},
    {"ctr.avsc", {0xee5219c3d49f3e96ULL}, 1},
    {"dead_letter.avsc", {0xa91e49eefb20996aULL, 0xd2ecdc4b7064f82fULL}, 2},
    {"elec2.avsc", {0x62a44d8fca56d3b5ULL}, 1},
    {"metrics.avsc",
     {0x7ac636559b171178ULL, 0x5027f71f37328c24ULL, 0x53411c6fbc3ee0d4ULL,
      0xaac2d368a978d518ULL},
     4},
    {"model_snapshot.avsc",
     {0x1611e2528bfcc57cULL, 0x3490089db52c82e7ULL, 0x5857116a984b897dULL,
      0xa323422cecb7df2aULL, 0x5130340e7c1a376dULL, 0x1436a193f738560fULL},
     6},
    {"prediction.avsc",
     {0x3ee45e6ec2222637ULL, 0xd4b28b874516826bULL, 0x47c35803c14dee79ULL,
      0xcdaeede3626b4f79ULL},
     4},
    {"synthetic.avsc", {0xf156f5186ff30134ULL}, 1},
};
#define RELEASED_COUNT (sizeof(released) / sizeof(released[0]))

static size_t read_fixture(const char *path, unsigned char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        fail_msg("cannot open %s", path);
    n = fread(out, 1, size, f);
    fclose(f);
    assert_true(n > SCHEMA_SOE_HEADER_SIZE && n < size);
    return n;
}

static int64_t long_field(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    int64_t v = -1;

    assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
    assert_int_equal(avro_value_get_long(&f, &v), 0);
    return v;
}

static void test_schema_history_reads_metrics_before_labels(void **state)
{
    unsigned char msg[FIXTURE_MAX];
    size_t len = read_fixture(OLD_METRICS, msg, sizeof(msg));
    struct schema_history *h = NULL;
    const struct schema *writer = NULL;
    char errstr[256] = "";
    avro_value_t rec, f;

    (void)state;
    assert_int_equal(schema_history_new(METRICS_AVSC, &h, errstr,
                                        sizeof(errstr)), 0);

    /* The current schema alone refuses the report, as riffle did. */
    assert_int_equal(schema_new_value(schema_history_current(h), &rec), 0);
    assert_int_equal(schema_read_value(schema_history_current(h), msg, len,
                                       &rec, errstr, sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    check_substring(errstr, "does not match schema", 1, __FILE__, __LINE__);
    avro_value_decref(&rec);

    assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                         sizeof(errstr)), 0);
    assert_true(writer != schema_history_current(h));
    assert_int_equal(schema_fingerprint(writer), OLD_METRICS_FP);
    assert_string_equal(schema_name(writer), "riffle.MetricsReport");
    assert_int_equal(schema_new_value(writer, &rec), 0);
    assert_int_equal(schema_read_value(writer, msg, len, &rec, errstr,
                                       sizeof(errstr)), 0);
    assert_int_equal(long_field(&rec, "model_version"), 7);
    assert_int_equal(long_field(&rec, "events"), 1234);
    assert_int_equal(long_field(&rec, "dead_letters"), 5);
    assert_int_equal(long_field(&rec, "drift_detections"), 2);
    assert_int_not_equal(avro_value_get_by_name(&rec, "labels", &f, NULL), 0);
    avro_value_decref(&rec);

    /* Found again from the cache, the same version. */
    assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                         sizeof(errstr)), 0);
    assert_int_equal(schema_fingerprint(writer), OLD_METRICS_FP);
    schema_history_destroy(h);
}

static void test_schema_history_keeps_unknown_fingerprint_error(void **state)
{
    unsigned char msg[FIXTURE_MAX];
    size_t len = read_fixture(OLD_METRICS, msg, sizeof(msg));
    struct schema_history *h = NULL;
    const struct schema *writer = NULL;
    char errstr[256] = "";
    avro_value_t rec;
    int round;

    (void)state;
    memset(msg + 2, 0x5a, 8); /* a fingerprint no version has */
    assert_int_equal(schema_history_new(METRICS_AVSC, &h, errstr,
                                        sizeof(errstr)), 0);
    for (round = 0; round < 2; round++) { /* looked up, then remembered */
        assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                             sizeof(errstr)), 0);
        assert_ptr_equal(writer, schema_history_current(h));
    }
    assert_int_equal(schema_new_value(writer, &rec), 0);
    assert_int_equal(schema_read_value(writer, msg, len, &rec, errstr,
                                       sizeof(errstr)), RIFFLE_ERR_DECODE);
    check_substring(errstr, "fingerprint 0x5a5a5a5a5a5a5a5a does not match "
                    "schema riffle.MetricsReport (0x", 1, __FILE__, __LINE__);
    avro_value_decref(&rec);

    /* Too short for a header: the current schema says what is wrong. */
    assert_int_equal(schema_history_find(h, msg, 5, &writer, errstr,
                                         sizeof(errstr)), 0);
    assert_ptr_equal(writer, schema_history_current(h));
    schema_history_destroy(h);
}

/* The snapshots of formats 2 to 4 that test_snapshot restores through
 * the schemas compiled into learner/snapshot.c have their version in the
 * history too, so watch and status read them as the learner does; and
 * format 1, which the learner refuses, is read from the history alone. */
static void test_schema_history_reads_older_snapshots(void **state)
{
    static const char *const fixtures[] = {
        "tests/fixtures/elec2_snapshot_format1.bin",
        "tests/fixtures/elec2_snapshot_format2.bin",
        "tests/fixtures/elec2_snapshot_format3.bin",
        "tests/fixtures/elec2_snapshot_format4.bin",
    };
    unsigned char *msg = malloc(SNAPSHOT_FIXTURE_MAX);
    struct schema_history *h = NULL;
    const struct schema *writer = NULL;
    char errstr[256] = "";
    avro_value_t rec, f;
    int32_t format = 0;
    size_t i, len;

    (void)state;
    assert_non_null(msg);
    assert_int_equal(schema_history_new(SNAPSHOT_AVSC, &h, errstr,
                                        sizeof(errstr)), 0);
    for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        len = read_fixture(fixtures[i], msg, SNAPSHOT_FIXTURE_MAX);
        assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                             sizeof(errstr)), 0);
        assert_true(writer != schema_history_current(h));
        assert_int_equal(schema_new_value(writer, &rec), 0);
        assert_int_equal(schema_read_value(writer, msg, len, &rec, errstr,
                                           sizeof(errstr)), 0);
        assert_int_equal(avro_value_get_by_name(&rec, "format_version", &f,
                                                NULL), 0);
        assert_int_equal(avro_value_get_int(&f, &format), 0);
        assert_int_equal(format, (int32_t)i + 1);
        assert_int_equal(long_field(&rec, "version"), 200);
        avro_value_decref(&rec);
    }
    schema_history_destroy(h);
    free(msg);
}

/* Copies src to dst; fails the test on any error. */
static void copy_file(const char *src, const char *dst)
{
    unsigned char data[FIXTURE_MAX * 4];
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    n = fread(data, 1, sizeof(data), in);
    assert_true(n > 0 && n < sizeof(data));
    assert_int_equal(fwrite(data, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void test_schema_history_refuses_misnamed_version(void **state)
{
    unsigned char msg[FIXTURE_MAX];
    size_t len = read_fixture(OLD_METRICS, msg, sizeof(msg));
    char dir[256], sub[300], current[300], wrong[400], errstr[512] = "";
    struct schema_history *h = NULL;
    const struct schema *writer = NULL;

    (void)state;
    assert_non_null(temp_dir_new(dir, sizeof(dir), "history"));
    snprintf(sub, sizeof(sub), "%s/%s", dir, SCHEMA_HISTORY_DIR);
    snprintf(current, sizeof(current), "%s/metrics.avsc", dir);
    copy_file(METRICS_AVSC, current);
    assert_int_equal(schema_history_new(current, &h, errstr, sizeof(errstr)),
                     0);

    /* No history folder: the report is left to the current schema. */
    assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                         sizeof(errstr)), 0);
    assert_ptr_equal(writer, schema_history_current(h));
    schema_history_destroy(h);

    /* A file under the report's fingerprint that holds another schema. */
    assert_int_equal(mkdir(sub, 0700), 0);
    schema_history_path(current, OLD_METRICS_FP, wrong, sizeof(wrong));
    check_substring(wrong, "/history/metrics.53411c6fbc3ee0d4.avsc", 1,
                    __FILE__, __LINE__);
    copy_file("schemas/alert.avsc", wrong);
    assert_int_equal(schema_history_new(current, &h, errstr, sizeof(errstr)),
                     0);
    assert_int_equal(schema_history_find(h, msg, len, &writer, errstr,
                                         sizeof(errstr)), RIFFLE_ERR_SCHEMA);
    check_substring(errstr, "not an earlier riffle.MetricsReport", 1, __FILE__,
                    __LINE__);
    schema_history_destroy(h);

    assert_int_equal(unlink(wrong), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(unlink(current), 0);
    assert_int_equal(rmdir(dir), 0);
}

static uint64_t file_fingerprint(const char *path)
{
    struct schema *s = load_schema_file(path);
    uint64_t fp = schema_fingerprint(s);

    schema_destroy(s);
    return fp;
}

/* The entry of released[] for file (a name in schemas/), or -1. */
static int released_index(const char *file)
{
    size_t i;

    for (i = 0; i < RELEASED_COUNT; i++)
        if (strcmp(released[i].file, file) == 0)
            return (int)i;
    return -1;
}

static void test_schema_history_keeps_every_released_version(void **state)
{
    char path[512], old[512];
    size_t i, j;

    (void)state;
    for (i = 0; i < RELEASED_COUNT; i++) {
        size_t last = released[i].count - 1;
        uint64_t fp;
        struct schema *cur, *prev;

        snprintf(path, sizeof(path), "schemas/%s", released[i].file);
        fp = file_fingerprint(path);
        if (fp != released[i].fingerprints[last])
            fail_msg("%s has fingerprint 0x%016" PRIx64 ", not its released "
                     "0x%016" PRIx64 ": keep the released file (git show "
                     "HEAD:%s) as schemas/history/ with that fingerprint in "
                     "its name, and list the new one in released[]", path,
                     fp, released[i].fingerprints[last], path);

        cur = load_schema_file(path);
        for (j = 0; j < last; j++) {
            schema_history_path(path, released[i].fingerprints[j], old,
                                sizeof(old));
            if (access(old, R_OK) != 0)
                fail_msg("%s is missing: riffle reads records of that "
                         "version", old);
            prev = load_schema_file(old);
            assert_int_equal(schema_fingerprint(prev),
                             released[i].fingerprints[j]);
            assert_string_equal(schema_name(prev), schema_name(cur));
            schema_destroy(prev);
        }
        schema_destroy(cur);
    }
}

/* Every .avsc in dir is listed in released[] (with its fingerprint, for
 * the history). */
static void check_listed(const char *dir, int history)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512], stem[256];
    size_t seen = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        const char *ext = strrchr(e->d_name, '.');
        uint64_t fp = 0;
        size_t k, n;
        int i;

        if (!ext || strcmp(ext, ".avsc") != 0)
            continue;
        seen++;
        n = (size_t)(ext - e->d_name);
        if (history) {
            /* STEM.FINGERPRINT.avsc */
            assert_true(n > 17 && e->d_name[n - 17] == '.');
            snprintf(stem, sizeof(stem), "%.*s.avsc", (int)(n - 17),
                     e->d_name);
            fp = strtoull(e->d_name + n - 16, NULL, 16);
        } else {
            snprintf(stem, sizeof(stem), "%s", e->d_name);
        }
        i = released_index(stem);
        if (i < 0)
            fail_msg("%s/%s: no entry %s in released[]", dir, e->d_name,
                     stem);
        if (!history)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_int_equal(file_fingerprint(path), fp);
        for (k = 0; k + 1 < released[i].count; k++)
            if (released[i].fingerprints[k] == fp)
                break;
        if (k + 1 >= released[i].count)
            fail_msg("%s: not an earlier version listed in released[]",
                     path);
    }
    closedir(d);
    assert_true(seen > 0);
}

static void test_schema_history_lists_every_schema_file(void **state)
{
    (void)state;
    check_listed("schemas", 0);
    check_listed("schemas/" SCHEMA_HISTORY_DIR, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_history_reads_metrics_before_labels),
        cmocka_unit_test(test_schema_history_keeps_unknown_fingerprint_error),
        cmocka_unit_test(test_schema_history_refuses_misnamed_version),
        cmocka_unit_test(test_schema_history_reads_older_snapshots),
        cmocka_unit_test(test_schema_history_keeps_every_released_version),
        cmocka_unit_test(test_schema_history_lists_every_schema_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
