/*
 * tests/unit/test_avro_check.c - producers/avro_check.c on the container
 * fixtures of tests/fixtures/avro (written by make.py there).
 *
 * Each damaged container is refused with what is wrong and where, and
 * the good ones (null, deflate, snappy and lzma codecs, several blocks,
 * bytes after a deflate stream) pass; the valgrind half, that avro-c
 * then never sees what would make it leak, is in
 * tests/integration/test_cli_valgrind.sh. Run from the repo root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "producers/avro_check.h"
#include "tests/unit/testutil.h"

#define FIXTURES "tests/fixtures/avro/"

static void test_avro_check_passes_good_containers(void **state)
{
    char errstr[256] = "";

    (void)state;
    assert_int_equal(avro_check_container(FIXTURES "good.avro", errstr,
                                          sizeof(errstr)),
                     0);
    assert_int_equal(avro_check_container(FIXTURES "good-deflate.avro",
                                          errstr, sizeof(errstr)),
                     0);
    /* the other codecs of Debian's avro-c, decoded as it will */
    assert_int_equal(avro_check_container(FIXTURES "good-snappy.avro",
                                          errstr, sizeof(errstr)),
                     0);
    assert_int_equal(avro_check_container(FIXTURES "good-lzma.avro",
                                          errstr, sizeof(errstr)),
                     0);
    /* bytes after a block's deflate stream, which avro-c ignores: once
     * refused as a sync marker read from inside the block */
    assert_int_equal(avro_check_container(FIXTURES "deflate-trailing.avro",
                                          errstr, sizeof(errstr)),
                     0);
    /* records that do not fit their block are avro-c's to report, and
     * it does so without a leak */
    assert_int_equal(avro_check_container(FIXTURES "count-over-data.avro",
                                          errstr, sizeof(errstr)),
                     0);
    assert_string_equal(errstr, "");
}

static void test_avro_check_names_each_fault(void **state)
{
    static const struct {
        const char *file, *message;
    } cases[] = {
        {"truncated-header", "the schema is longer than the rest of the "
                             "file (byte 19)"},
        {"truncated-block", "block 1 is longer than the rest of the file"},
        {"schema-not-json", "the schema is not a valid Avro schema "
                            "(Error parsing JSON"},
        {"unknown-codec", "the codec \"brotli\" is not one of null, "
                          "deflate, snappy or lzma"},
        /* not the null codec, as no avro.codec would be: avro-c leaked */
        {"empty-codec", "the codec's name is empty (byte 1127)"},
        {"meta-count-over-file", "the metadata claims more entries than "
                                 "the file has bytes (byte 10)"},
        /* -INT64_MIN: a negation that overflowed (UBSan stopped there) */
        {"meta-count-min", "the metadata claims more entries than the file "
                           "has bytes (byte 15)"},
        /* ten bytes with bits past the 64th: once read as a count of 0 */
        {"meta-count-over-64-bits", "the metadata's entry count is not a "
                                    "valid number (byte 14)"},
        {"bad-sync", "block 1 ends in another sync marker than the "
                     "header's"},
        {"negative-count", "block 1 has a negative record count"},
        {"size-over-file", "block 1 is longer than the rest of the file"},
        {"second-size-over-file", "block 2 is longer than the rest of the "
                                  "file"},
        {"trailing-bytes", "block 2 has a negative record count"},
        {"deflate-garbage", "block 1 does not inflate"},
        {"deflate-cut-stream", "block 1's deflate stream ends early"},
        /* every deflate block is inflated, not the first alone */
        {"deflate-second-garbage", "block 2 does not inflate"},
        /* 66 KB that avro-c would inflate into 65 MiB of memory */
        {"deflate-bomb", "block 2 inflates to over 64 MiB"},
        /* snappy and lzma first blocks avro-c cannot decode made it leak
         * as it gave up opening the container */
        {"snappy-garbage", "block 1 does not decompress (snappy)"},
        {"snappy-short", "block 1 is too short for snappy's checksum"},
        {"snappy-bad-crc", "block 1 fails its snappy CRC-32"},
        {"snappy-second-garbage", "block 2 does not decompress"},
        /* a claim avro-c would allocate before decoding */
        {"snappy-bomb", "block 1 decompresses to over 64 MiB"},
        /* an allocation of 0 bytes that avro-c took for a failure */
        {"snappy-empty", "block 1 decompresses to no bytes at all (byte "
                         "1156)"},
        {"lzma-garbage", "block 1 does not decompress (corrupt lzma data)"},
        {"lzma-cut-stream", "block 1's lzma stream ends early"},
        {"lzma-second-garbage", "block 2 does not decompress"},
        /* 11 KB that avro-c would decode into 65 MiB of memory */
        {"lzma-bomb", "block 2 decompresses to over 64 MiB"},
    };
    char path[128], errstr[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), FIXTURES "%s.avro", cases[i].file);
        errstr[0] = '\0';
        if (avro_check_container(path, errstr, sizeof(errstr)) !=
                RIFFLE_ERR_DECODE ||
            !strstr(errstr, cases[i].message))
            fail_msg("%s: got '%s', expected '%s'", cases[i].file, errstr,
                     cases[i].message);
    }
}

static void test_avro_check_reports_unreadable_files(void **state)
{
    char errstr[256];

    (void)state;
    assert_int_equal(avro_check_container(FIXTURES "no-such.avro", errstr,
                                          sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(errstr, "No such file");
    assert_int_equal(avro_check_container(FIXTURES, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(errstr, "not a regular file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_check_passes_good_containers),
        cmocka_unit_test(test_avro_check_names_each_fault),
        cmocka_unit_test(test_avro_check_reports_unreadable_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
