/*
 * tests/fuzz/fuzz_labels_record.c - libFuzzer harness for one partition's
 * delayed-label record (learner/labels_record.c), as an instance reads it
 * from the model topic when a partition comes to it.
 *
 * Each input is a record without its trailing CRC-64: the harness appends
 * the right one, so the fuzzer reaches the fields instead of stopping at
 * the checksum (which the unit tests cover). The record is checked, then
 * applied to a small store that already holds records of partitions 0
 * and 1. A record that fails the check must leave the store as it was;
 * one that passes must apply, and the partition it filled must encode
 * into a record that checks again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/wire.h"
#include "learner/label_join.h"
#include "learner/labels_record.h"
#include "schemas/schema.h"

#define FUZZ_MAX_PENDING 16
#define FUZZ_TTL_MS 1000

static struct label_join *store_new(void)
{
    struct label_join_prediction p = {0.5, 0.5, 1, 3};
    struct label_join *j = NULL;

    if (label_join_new(FUZZ_MAX_PENDING, FUZZ_TTL_MS, &j) != 0 ||
        label_join_put(j, 0, "a", 1, 10, "xy", 2, &p) != 0 ||
        label_join_put(j, 1, "b", 1, 20, "zw", 2, &p) != 0 ||
        label_join_put_early(j, 1, "c", 1, 30, "label", 5) != 0)
        abort();
    return j;
}

static void same_counts(const struct label_join *a,
                        const struct label_join *b)
{
    struct label_join_counts ca, cb;

    label_join_counts(a, &ca);
    label_join_counts(b, &cb);
    if (memcmp(&ca, &cb, sizeof(ca)) != 0)
        abort();
}

/* What was applied encodes into a record that checks again. */
static void check_round_trip(const struct label_join *j, int32_t partition)
{
    struct labels_record_info info;
    struct buf out = {0};
    char errstr[256];

    if (labels_record_encode(j, partition, 0, 0, NULL, 0, &out) != 0 ||
        labels_record_check(out.data, out.len, &info, errstr,
                            sizeof(errstr)) != 0)
        abort();
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct label_join *j = store_new(), *before = store_new();
    struct labels_record_info info;
    struct buf record = {0};
    uint64_t crc = schema_crc64_avro(data, size);
    char errstr[256];
    size_t skipped;
    int err;

    if (buf_append(&record, size ? (const char *)data : "", size) != 0)
        abort();
    if (wire_put_u64(&record, crc) != 0)
        abort();

    err = labels_record_check(record.data, record.len, &info, errstr,
                              sizeof(errstr));
    if (err == 0) {
        err = labels_record_apply(j, record.data, record.len, &skipped,
                                  errstr, sizeof(errstr));
        if (err != 0 && err != RIFFLE_ERR_NOMEM)
            abort(); /* it checked: it must apply */
        if (err == 0)
            check_round_trip(j, info.partition);
    } else {
        if (labels_record_apply(j, record.data, record.len, &skipped,
                                errstr, sizeof(errstr)) == 0)
            abort();
        same_counts(j, before);
    }

    buf_free(&record);
    label_join_destroy(j);
    label_join_destroy(before);
    return 0;
}
