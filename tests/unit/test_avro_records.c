/*
 * tests/unit/test_avro_records.c - producers/avro_records.c walking the
 * records of a decoded block through a writer schema.
 *
 * The walk must refuse what avro-c would read into a leak, a crash or
 * no end (the container fixtures in test_avro_check.c do so through
 * whole files), and must refuse nothing that avro-c reads: these cases
 * hold every type riffle does not read itself (bytes, fixed, enum, map,
 * array), bytes after the last record and values avro-c does not judge.
 */
#include "tests/unit/testutil.h"

#include "common/err.h"
#include "producers/avro_records.h"

static const char every_type[] =
    "{\"type\": \"record\", \"name\": \"R\", \"fields\": ["
    "{\"name\": \"b\", \"type\": \"boolean\"},"
    "{\"name\": \"raw\", \"type\": \"bytes\"},"
    "{\"name\": \"f\", \"type\": {\"type\": \"fixed\", \"name\": \"F\","
    " \"size\": 3}},"
    "{\"name\": \"e\", \"type\": {\"type\": \"enum\", \"name\": \"E\","
    " \"symbols\": [\"A\", \"B\"]}},"
    "{\"name\": \"m\", \"type\": {\"type\": \"map\", \"values\": \"float\"}},"
    "{\"name\": \"a\", \"type\": {\"type\": \"array\", \"items\": \"long\"}},"
    "{\"name\": \"u\", \"type\": [\"null\", \"double\"]}]}";

/* One record of every_type: true, bytes "xy", fixed "abc", enum index 5
 * (not a symbol: avro-c reads it all the same), a map of one block of
 * one entry given with its size in bytes, an array of two longs, null. */
static const unsigned char one_record[] = {
    0x01,                                   /* boolean */
    0x04, 'x', 'y',                         /* bytes of 2 */
    'a', 'b', 'c',                          /* fixed of 3 */
    0x0a,                                   /* enum index 5 */
    0x01, 0x0c, 0x02, 'k', 0, 0, 0x80, 0x3f, /* map: -1 entries, 6 bytes */
    0x00,                                   /* end of the map */
    0x04, 0x02, 0x04, 0x00,                 /* array of 1 and 2, end */
    0x00,                                   /* union: null */
};

static struct avro_records *schema_of(const char *json)
{
    struct avro_records *r = NULL;
    avro_schema_t s;

    if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
        fail_msg("schema: %s", avro_strerror());
    assert_int_equal(avro_records_new(s, &r), 0);
    avro_schema_decref(s); /* the walk keeps no reference to it */
    return r;
}

static void test_avro_records_reads_every_type(void **state)
{
    struct avro_records *s = schema_of(every_type);
    unsigned char two[2 * sizeof(one_record) + 3];
    char errstr[128] = "";

    (void)state;
    memcpy(two, one_record, sizeof(one_record));
    memcpy(two + sizeof(one_record), one_record, sizeof(one_record));
    /* bytes after the last record, which avro-c ignores */
    memcpy(two + 2 * sizeof(one_record), "\x07\x07\x07", 3);
    assert_int_equal(avro_records_check(s, two, sizeof(two), 2, errstr,
                                        sizeof(errstr)),
                     0);
    assert_string_equal(errstr, "");
    assert_int_equal(avro_records_check(s, two, 0, 0, errstr,
                                        sizeof(errstr)),
                     0);
    avro_records_destroy(s);
}

/* Cutting the record anywhere leaves a value running past the block:
 * each cut is refused, none read past the bytes given (ASan). */
static void test_avro_records_refuses_every_cut(void **state)
{
    struct avro_records *s = schema_of(every_type);
    char errstr[128];
    unsigned char *copy;
    size_t cut;

    (void)state;
    for (cut = 1; cut < sizeof(one_record); cut++) {
        copy = malloc(cut); /* exactly cut bytes, for ASan to guard */
        assert_non_null(copy);
        memcpy(copy, one_record, cut);
        errstr[0] = '\0';
        if (avro_records_check(s, copy, cut, 1, errstr, sizeof(errstr)) !=
            RIFFLE_ERR_DECODE)
            fail_msg("a record cut at byte %zu passed", cut);
        assert_contains(errstr, "record 1: ");
        free(copy);
    }
    avro_records_destroy(s);
}

/* Map keys are strings to avro-c, allocated as claimed: a key longer
 * than the block is refused as a string is. */
static void test_avro_records_refuses_a_map_key_past_the_end(void **state)
{
    static const unsigned char rec[] = {
        0x01, 0x04, 'x', 'y', 'a', 'b', 'c', 0x0a,
        0x02, 0x80, 0x80, 0x80, 0x01, /* one entry, a key of 1 MiB */
    };
    struct avro_records *s = schema_of(every_type);
    char errstr[128];

    (void)state;
    assert_int_equal(avro_records_check(s, rec, sizeof(rec), 1, errstr,
                                        sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "record 1: a string or bytes value is "
                                "longer than the rest of the block");
    avro_records_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_records_reads_every_type),
        cmocka_unit_test(test_avro_records_refuses_every_cut),
        cmocka_unit_test(test_avro_records_refuses_a_map_key_past_the_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
