/*
 * tests/unit/test_labels_record.c - one partition's delayed-label records
 * as bytes, learner/labels_record.c: a partition's pending events,
 * waiting labels and traces round-trip into another store, records of
 * other partitions stay out, and every damaged or cut-short record is
 * refused with the byte offset reached, leaving the store unchanged. No
 * broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "learner/label_join.h"
#include "learner/labels_record.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define TTL_MS 100000
#define MAX_PENDING 100
#define FINGERPRINT 0x1122334455667788ull /* the writer's configuration */

static void put(struct label_join *j, int32_t partition, const char *id,
                int64_t ts)
{
    struct label_join_prediction p = {0.25, 0.25, 0, 9};
    char bytes[64];
    int n = snprintf(bytes, sizeof(bytes), "features of %s", id);

    assert_int_equal(label_join_put(j, partition, id, strlen(id), ts, bytes,
                                    (size_t)n, &p), 0);
}

/* Partition 1: a pending event "a1", a trace "b1" (joined), a waiting
 * label "c1"; partition 0: a pending event "a0". */
static struct label_join *sample_store(void)
{
    struct label_join *j;
    struct label_join_entry e;

    assert_int_equal(label_join_new(MAX_PENDING, TTL_MS, &j), 0);
    put(j, 1, "a1", 100);
    put(j, 1, "b1", 110);
    put(j, 0, "a0", 120);
    assert_int_equal(label_join_take(j, "b1", 2, &e), LABEL_JOIN_JOINED);
    assert_int_equal(label_join_put_early(j, 1, "c1", 2, 130, "label", 5),
                     0);
    return j;
}

static void encode_partition_1(const struct label_join *j, struct buf *out)
{
    struct snapshot_offset offsets[3] = {
        {"events", 0, 17, 0}, {"events", 1, 42, 0}, {"labels", 1, 7, 0}};

    assert_int_equal(labels_record_encode(j, 1, 555, FINGERPRINT, offsets, 3,
                                          out), 0);
}

static void test_labels_record_round_trips_one_partition(void **state)
{
    struct label_join *src = sample_store(), *dst;
    struct labels_record_info info;
    struct label_join_entry e;
    struct label_join_counts c;
    struct buf b = {0};
    char errstr[256];
    size_t skipped = 9;

    (void)state;
    encode_partition_1(src, &b);
    assert_int_equal(labels_record_check(b.data, b.len, &info, errstr,
                                         sizeof(errstr)), 0);
    assert_int_equal(info.has_fingerprint, 1);
    assert_true(info.fingerprint == FINGERPRINT);
    assert_int_equal(info.partition, 1);
    assert_int_equal(info.clock_ms, 555);
    assert_int_equal(info.records, 3);
    assert_int_equal(info.offset_count, 2);
    assert_string_equal(info.offsets[0].topic, "events");
    assert_int_equal(info.offsets[0].offset, 42);
    assert_string_equal(info.offsets[1].topic, "labels");
    assert_int_equal(info.offsets[1].offset, 7);

    /* the new owner held an older record of partition 1: replaced */
    assert_int_equal(label_join_new(MAX_PENDING, TTL_MS, &dst), 0);
    put(dst, 1, "old", 50);
    put(dst, 2, "z2", 60);
    assert_int_equal(labels_record_apply(dst, b.data, b.len, &skipped,
                                         errstr, sizeof(errstr)), 0);
    assert_int_equal(skipped, 0);
    label_join_counts(dst, &c);
    assert_int_equal(c.pending, 2); /* a1 and z2 */
    assert_int_equal(c.early, 1);   /* c1 */
    assert_int_equal(c.joined, 0);  /* counted where it was joined */
    assert_int_equal(label_join_take(dst, "old", 3, &e), LABEL_JOIN_UNKNOWN);
    assert_int_equal(label_join_take(dst, "b1", 2, &e), LABEL_JOIN_DUPLICATE);
    assert_int_equal(label_join_take(dst, "a0", 2, &e), LABEL_JOIN_UNKNOWN);
    assert_int_equal(label_join_take(dst, "a1", 2, &e), LABEL_JOIN_JOINED);
    assert_int_equal(e.event_ts_ms, 100);
    assert_int_equal(e.event_len, strlen("features of a1"));
    assert_memory_equal(e.event, "features of a1", e.event_len);
    assert_int_equal(e.prediction.model_version, 9);
    assert_true(e.prediction.probability == 0.25);
    assert_int_equal(label_join_take_early(dst, "c1", 2, &e), 1);
    assert_memory_equal(e.event, "label", 5);

    buf_free(&b);
    label_join_destroy(src);
    label_join_destroy(dst);
}

static void test_labels_record_drop_partition_is_uncounted(void **state)
{
    struct label_join *j = sample_store();
    struct label_join_counts before, after;

    (void)state;
    label_join_counts(j, &before);
    assert_int_equal(label_join_drop_partition(j, 1), 3);
    label_join_counts(j, &after);
    assert_int_equal(after.pending, 1);
    assert_int_equal(after.early, 0);
    assert_int_equal(after.joined, before.joined);
    assert_int_equal(after.unknown, before.unknown);
    assert_int_equal(after.expired, before.expired);
    label_join_destroy(j);
}

/* Every prefix of a record is refused, never read past its end. */
static void test_labels_record_refuses_cut_records(void **state)
{
    struct label_join *j = sample_store();
    struct labels_record_info info;
    struct buf b = {0};
    char errstr[256];
    size_t len;

    (void)state;
    encode_partition_1(j, &b);
    for (len = 0; len < b.len; len++) {
        errstr[0] = '\0';
        assert_int_equal(labels_record_check(b.data, len, &info, errstr,
                                             sizeof(errstr)),
                         RIFFLE_ERR_SNAPSHOT);
        assert_true(strncmp(errstr, "byte ", 5) == 0);
    }
    buf_free(&b);
    label_join_destroy(j);
}

/* A flipped byte anywhere is caught; the store is left as it was. */
static void test_labels_record_refuses_damage(void **state)
{
    struct label_join *j = sample_store(), *dst;
    struct label_join_counts c;
    struct buf b = {0};
    char errstr[256];
    size_t i, skipped;

    (void)state;
    encode_partition_1(j, &b);
    assert_int_equal(label_join_new(MAX_PENDING, TTL_MS, &dst), 0);
    put(dst, 1, "kept", 10);
    for (i = 0; i < b.len; i++) {
        b.data[i] ^= 0x20;
        assert_int_equal(labels_record_apply(dst, b.data, b.len, &skipped,
                                             errstr, sizeof(errstr)),
                         RIFFLE_ERR_SNAPSHOT);
        assert_true(strncmp(errstr, "byte ", 5) == 0);
        b.data[i] ^= 0x20;
    }
    label_join_counts(dst, &c);
    assert_int_equal(c.pending, 1);
    buf_free(&b);
    label_join_destroy(j);
    label_join_destroy(dst);
}

/* A well-formed record with a bad field (its CRC made right) names the
 * byte offset of that field. */
static void test_labels_record_names_the_bad_field(void **state)
{
    struct label_join *j = sample_store();
    struct labels_record_info info;
    struct buf b = {0};
    char errstr[256];
    uint64_t crc;
    size_t body;

    (void)state;
    assert_int_equal(labels_record_encode(j, 1, 555, FINGERPRINT, NULL, 0,
                                          &b), 0);
    /* "RLB2", fingerprint, partition, clock, 0 topics, record count: the
     * first record's state is at byte 32 */
    assert_int_equal(b.data[32], LABEL_JOIN_WAS_JOINED);
    b.data[32] = 7;
    body = b.len - 8;
    crc = schema_crc64_avro(b.data, body);
    b.len = body; /* the CRC again, over the changed body */
    assert_int_equal(wire_put_u64(&b, crc), 0);
    assert_int_equal(labels_record_check(b.data, b.len, &info, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_SNAPSHOT);
    assert_string_equal(errstr, "byte 32: expected a record state of 0 to 3");
    buf_free(&b);
    label_join_destroy(j);
}

/* One walk for several partitions gives each the bytes a walk of its
 * own gives, appended after what its buffer held; a partition with no
 * records gets a record of none. */
static void test_labels_record_encode_each_matches_one_by_one(void **state)
{
    struct label_join *j = sample_store();
    struct snapshot_offset offsets[3] = {
        {"events", 0, 17, 0}, {"events", 1, 42, 0}, {"labels", 1, 7, 0}};
    const int32_t partitions[3] = {1, 5, 0};
    struct buf each[3] = {{0}}, one = {0};
    struct labels_record_info info;
    const size_t records[3] = {3, 0, 1};
    char errstr[256];
    size_t i;

    (void)state;
    assert_int_equal(buf_append(&each[2], "head", 4), 0);
    assert_int_equal(labels_record_encode_each(j, partitions, 3, 555,
                                               FINGERPRINT, offsets, 3, each),
                     0);
    for (i = 0; i < 3; i++) {
        size_t skip = i == 2 ? 4 : 0;

        buf_reset(&one);
        assert_int_equal(labels_record_encode(j, partitions[i], 555,
                                              FINGERPRINT, offsets, 3, &one),
                         0);
        assert_int_equal(each[i].len - skip, one.len);
        assert_memory_equal(each[i].data + skip, one.data, one.len);
        assert_int_equal(labels_record_check(one.data, one.len, &info, errstr,
                                             sizeof(errstr)), 0);
        assert_int_equal(info.partition, partitions[i]);
        assert_int_equal(info.records, records[i]);
        if (skip)
            assert_memory_equal(each[i].data, "head", skip);
        buf_free(&each[i]);
    }
    buf_free(&one);
    label_join_destroy(j);
}

/* The bytes of a record are a format other instances read: these are
 * what the encoder writes for the sample store's partitions 1 (three
 * records), 0 (one) and 5 (none), written by FINGERPRINT. */
static const char *const pinned_records[3] = {
    "524c42328877665544332211010000002b0200000000000002000000060000006576656e"
    "74732a00000000000000060000006c6162656c73070000000000000003000000016e0000"
    "00000000000200000062310900000000000000000000000000d03f000000000000d03f00"
    "000000000000000064000000000000000200000061310900000000000000000000000000"
    "d03f000000000000d03f000000000e0000006665617475726573206f6620613103820000"
    "000000000002000000633100000000000000000000000000000000000000000000000000"
    "000000050000006c6162656cb1be28f46c932785",
    "524c42328877665544332211000000002b0200000000000001000000060000006576656e"
    "747311000000000000000100000000780000000000000002000000613009000000000000"
    "00000000000000d03f000000000000d03f000000000e0000006665617475726573206f66"
    "206130d8666bdf521756aa",
    "524c42328877665544332211050000002b0200000000000000000000000000008796ba28"
    "c44fb6fa",
};

/* The same records as an RLB1 writer (before the fingerprint) wrote
 * them, which a record on the model topic may still be. */
static const char *const pinned_v1_records[3] = {
    "524c4231010000002b0200000000000002000000060000006576656e74732a0000000000"
    "0000060000006c6162656c73070000000000000003000000016e00000000000000020000"
    "0062310900000000000000000000000000d03f000000000000d03f000000000000000000"
    "64000000000000000200000061310900000000000000000000000000d03f000000000000"
    "d03f000000000e0000006665617475726573206f66206131038200000000000000020000"
    "00633100000000000000000000000000000000000000000000000000000000050000006c"
    "6162656ca076b7b1be0e0655",
    "524c4231000000002b0200000000000001000000060000006576656e7473110000000000"
    "0000010000000078000000000000000200000061300900000000000000000000000000d0"
    "3f000000000000d03f000000000e0000006665617475726573206f6620613028fe3bdda2"
    "2a3e8d",
    "524c4231050000002b02000000000000000000000000000025ec366e3429f038",
};

static void test_labels_record_bytes_are_pinned(void **state)
{
    struct label_join *j = sample_store();
    struct snapshot_offset offsets[3] = {
        {"events", 0, 17, 0}, {"events", 1, 42, 0}, {"labels", 1, 7, 0}};
    const int32_t partitions[3] = {1, 0, 5};
    struct buf each[3] = {{0}};
    char hex[2 * 256 + 1];
    size_t i, k;

    (void)state;
    assert_int_equal(labels_record_encode_each(j, partitions, 3, 555,
                                               FINGERPRINT, offsets, 3, each),
                     0);
    for (i = 0; i < 3; i++) {
        assert_true(each[i].len * 2 < sizeof(hex));
        for (k = 0; k < each[i].len; k++)
            snprintf(hex + 2 * k, 3, "%02x", (unsigned char)each[i].data[k]);
        hex[2 * each[i].len] = '\0';
        assert_string_equal(hex, pinned_records[i]);
        buf_free(&each[i]);
    }
    label_join_destroy(j);
}

/* Decodes hex (2 digits a byte) into out. */
static void from_hex(const char *hex, struct buf *out)
{
    size_t i, n = strlen(hex) / 2;
    unsigned int byte;

    buf_reset(out);
    for (i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        assert_int_equal(buf_push(out, (char)byte), 0);
    }
}

/* An RLB1 record still checks and applies, with no fingerprint. */
static void test_labels_record_reads_v1_records(void **state)
{
    const size_t records[3] = {3, 1, 0};
    struct labels_record_info info;
    struct label_join *dst;
    struct label_join_entry e;
    struct buf b = {0};
    char errstr[256];
    size_t i, skipped;

    (void)state;
    assert_int_equal(label_join_new(MAX_PENDING, TTL_MS, &dst), 0);
    for (i = 0; i < 3; i++) {
        from_hex(pinned_v1_records[i], &b);
        assert_int_equal(labels_record_check(b.data, b.len, &info, errstr,
                                             sizeof(errstr)), 0);
        assert_int_equal(info.has_fingerprint, 0);
        assert_int_equal(info.records, records[i]);
        assert_int_equal(labels_record_apply(dst, b.data, b.len, &skipped,
                                             errstr, sizeof(errstr)), 0);
    }
    assert_int_equal(label_join_take(dst, "a1", 2, &e), LABEL_JOIN_JOINED);
    buf_free(&b);
    label_join_destroy(dst);
}

/* A one-field configuration: the event id, pseudonymized or not. */
static struct cfg *id_only_cfg(enum cfg_privacy_action privacy)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));

    assert_non_null(cfg);
    cfg->field_count = 1;
    snprintf(cfg->fields[0].name, sizeof(cfg->fields[0].name), "event_id");
    cfg->fields[0].kind = CFG_FIELD_ID;
    cfg->fields[0].privacy = privacy;
    return cfg;
}

/* A record joins a store only under the settings it was written with:
 * after a change (the event id pseudonymized, a learner started with
 * --start-fresh), the records of before hold raw ids and features of
 * other settings. An RLB1 record, from before ids could be
 * pseudonymized, fits a configuration that leaves the id raw. */
static void test_labels_record_fits_only_its_configuration(void **state)
{
    struct cfg *plain = id_only_cfg(CFG_PRIVACY_NONE);
    struct cfg *hidden = id_only_cfg(CFG_PRIVACY_PSEUDONYM);
    struct label_join *j = sample_store();
    struct labels_record_info info;
    struct buf b = {0};
    char why[256];

    (void)state;
    assert_true(cfg_model_fingerprint(plain) !=
                cfg_model_fingerprint(hidden));
    assert_int_equal(labels_record_encode(j, 1, 555,
                                          cfg_model_fingerprint(plain), NULL,
                                          0, &b), 0);
    assert_int_equal(labels_record_check(b.data, b.len, &info, why,
                                         sizeof(why)), 0);
    assert_int_equal(labels_record_fits_config(&info, plain, why,
                                               sizeof(why)), 1);
    assert_int_equal(labels_record_fits_config(&info, hidden, why,
                                               sizeof(why)), 0);
    assert_contains(why, "other learner or field settings");

    from_hex(pinned_v1_records[0], &b);
    assert_int_equal(labels_record_check(b.data, b.len, &info, why,
                                         sizeof(why)), 0);
    assert_int_equal(labels_record_fits_config(&info, plain, why,
                                               sizeof(why)), 1);
    assert_int_equal(labels_record_fits_config(&info, hidden, why,
                                               sizeof(why)), 0);
    assert_contains(why, "pseudonymizes the id");

    buf_free(&b);
    label_join_destroy(j);
    free(plain);
    free(hidden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_record_round_trips_one_partition),
        cmocka_unit_test(test_labels_record_drop_partition_is_uncounted),
        cmocka_unit_test(test_labels_record_refuses_cut_records),
        cmocka_unit_test(test_labels_record_refuses_damage),
        cmocka_unit_test(test_labels_record_names_the_bad_field),
        cmocka_unit_test(test_labels_record_encode_each_matches_one_by_one),
        cmocka_unit_test(test_labels_record_reads_v1_records),
        cmocka_unit_test(test_labels_record_fits_only_its_configuration),
        cmocka_unit_test(test_labels_record_bytes_are_pinned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
