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

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "producers/avro_check.h"
#include "tests/unit/testutil.h"

#define FIXTURES "tests/fixtures/avro/"

/* Checks the file at path through one FILE*, as avro_source.c does; a
 * file that cannot be opened fails the test (fixtures are all there).
 * A container that passes must be left at its start for avro-c. */
static int check_path(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    int err;

    if (!f)
        fail_msg("%s: %s", path, strerror(errno));
    err = avro_check_container(f, errstr, errstr_size);
    if (err == 0)
        assert_int_equal(ftell(f), 0);
    assert_int_equal(fclose(f), 0);
    return err;
}

static void test_avro_check_passes_good_containers(void **state)
{
    static const char *const good[] = {
        "good", "good-deflate",
        /* the other codecs of Debian's avro-c, decoded as it will */
        "good-snappy", "good-lzma",
        /* bytes after a block's deflate stream, which avro-c ignores:
         * once refused as a sync marker read from inside the block */
        "deflate-trailing",
    };
    char path[128], errstr[256] = "";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(path, sizeof(path), FIXTURES "%s.avro", good[i]);
        if (check_path(path, errstr, sizeof(errstr)) != 0)
            fail_msg("%s: refused: %s", good[i], errstr);
    }
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
        /* records avro-c would read into a leak, a crash or no end,
         * walked through the writer schema first (avro_records.h) */
        {"count-over-data", "block 1, the count of 1000 records is more "
                            "than the block's 771 bytes can hold (byte "
                            "1147)"},
        {"count-over-records", "block 1, record 11: a number runs past the "
                               "end of the block (byte 1147)"},
        /* avro-c allocated the 1 MiB claimed, failed and leaked it */
        {"string-over-block", "block 1, record 1: a string or bytes value "
                              "is longer than the rest of the block"},
        {"deflate-string-over-block", "block 1, record 1: a string or "
                                      "bytes value is longer than the "
                                      "rest of the block (byte 1150)"},
        {"union-bad-branch", "block 1, record 1: a union's branch is not "
                             "one of its types"},
        /* avro-c appended 2^40 nulls, until the kernel killed riffle */
        {"array-of-nulls", "block 1, record 1: an array claims more items "
                           "than the block has bytes left"},
        /* 200,000 levels took avro-c's reader out of stack */
        {"nested-too-deep", "block 1, record 1: values are nested too "
                            "deeply"},
    };
    char path[128], errstr[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), FIXTURES "%s.avro", cases[i].file);
        errstr[0] = '\0';
        if (check_path(path, errstr, sizeof(errstr)) !=
                RIFFLE_ERR_DECODE ||
            !strstr(errstr, cases[i].message))
            fail_msg("%s: got '%s', expected '%s'", cases[i].file, errstr,
                     cases[i].message);
    }
}

static void test_avro_check_refuses_what_is_not_a_regular_file(void **state)
{
    char errstr[256];
    int fds[2];
    FILE *f;

    (void)state;
    /* a directory opens for reading, and has no container in it */
    f = fopen(FIXTURES, "rb");
    assert_non_null(f);
    assert_int_equal(avro_check_container(f, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(errstr, "not a regular file");
    assert_int_equal(fclose(f), 0);

    /* a pipe holding a good container: it could not be read again by
     * avro-c after the check, so it is refused before a byte is read */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "Obj\x01", 4), 4);
    assert_int_equal(close(fds[1]), 0);
    f = fdopen(fds[0], "rb");
    assert_non_null(f);
    assert_int_equal(avro_check_container(f, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(errstr, "not a regular file (a container is checked, "
                            "then read: write a pipe's output to a file "
                            "first)");
    assert_int_equal(fgetc(f), 'O');
    assert_int_equal(fclose(f), 0);
}

/* The check starts at the file's first byte wherever f stands, and
 * leaves f there for avro-c. */
static void test_avro_check_reads_from_the_start(void **state)
{
    char errstr[256] = "";
    FILE *f = fopen(FIXTURES "good-deflate.avro", "rb");

    (void)state;
    assert_non_null(f);
    assert_int_equal(fseek(f, 100, SEEK_SET), 0);
    assert_int_equal(avro_check_container(f, errstr, sizeof(errstr)), 0);
    assert_int_equal(ftell(f), 0);
    assert_int_equal(fgetc(f), 'O');
    assert_int_equal(fclose(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_check_passes_good_containers),
        cmocka_unit_test(test_avro_check_names_each_fault),
        cmocka_unit_test(test_avro_check_refuses_what_is_not_a_regular_file),
        cmocka_unit_test(test_avro_check_reads_from_the_start),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
