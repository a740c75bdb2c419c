/*
 * tests/unit/test_csv_reader.c - producers/csv_reader.c: RFC 4180 parsing,
 * error recovery, gzip input, the bundled datasets and number parsing.
 *
 * Runs from the repository root (CTest's working directory) so that the
 * Elec2 and UCI Adult files under data/ can be read.
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

#include <zlib.h>

#include "common/err.h"
#include "producers/csv_reader.h"
#include "tests/unit/testutil.h"

#define CSV_FUZZ_ROUNDS 5000
#define CSV_FUZZ_MAX_LEN 160

#define ELEC2_PATH "data/elec2/electricity.csv.gz"
#define ADULT_TEST_PATH "data/adult/adult.test.gz"

static const struct csv_options plain = {',', 0, 0, 0};
static const struct csv_options trimmed = {',', 1, 0, 0};

/* ---- Helpers --------------------------------------------------------- */

static struct csv_reader *open_text(const char *text,
                                    const struct csv_options *opts)
{
    struct csv_reader *r = NULL;
    char errstr[256] = "";

    if (csv_reader_open_memory(text, strlen(text), "mem", opts, &r, errstr,
                               sizeof(errstr)) != 0)
        fail_msg("csv_reader_open_memory: %s", errstr);
    return r;
}

/* csv_parse_number() reads text as strtod does, to the bit. */
static void expect_same_as_strtod(const char *text)
{
    double got, want = strtod(text, NULL);

    if (csv_parse_number(text, &got) != 0)
        fail_msg("csv_parse_number(\"%s\") failed", text);
    if (memcmp(&got, &want, sizeof(got)) != 0)
        fail_msg("\"%s\": %.17g, strtod gives %.17g", text, got, want);
}

/* Each field's length and its place in the record block agree with the
 * field's string, whichever parser path read it. */
static void expect_layout(const struct csv_reader *r)
{
    size_t i, len;
    const char *block = csv_reader_record(r, &len);

    for (i = 0; i < csv_reader_field_count(r); i++) {
        const char *f = csv_reader_field(r, i);

        assert_int_equal(csv_reader_field_len(r, i), strlen(f));
        assert_ptr_equal(block + csv_reader_field_offset(r, i), f);
        assert_true(csv_reader_field_offset(r, i) +
                    csv_reader_field_len(r, i) < len);
    }
}

/* Reads the next record and checks it has exactly the given fields. */
static void expect_record(struct csv_reader *r, long line, size_t n, ...)
{
    char errstr[256] = "";
    va_list ap;
    size_t i;
    int err = csv_reader_next(r, errstr, sizeof(errstr));

    if (err != 0)
        fail_msg("csv_reader_next: %d %s", err, errstr);
    assert_int_equal(csv_reader_line(r), line);
    assert_int_equal(csv_reader_field_count(r), n);
    va_start(ap, n);
    for (i = 0; i < n; i++)
        assert_string_equal(csv_reader_field(r, i), va_arg(ap, const char *));
    va_end(ap);
    expect_layout(r);
}

static void expect_eof(struct csv_reader *r)
{
    char errstr[256] = "";

    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)),
                     RIFFLE_ERR_EOF);
    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)),
                     RIFFLE_ERR_EOF); /* and stays there */
}

static void expect_parse_error(struct csv_reader *r, const char *msg)
{
    char errstr[256] = "";

    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)),
                     RIFFLE_ERR_PARSE);
    assert_string_equal(errstr, msg);
}

static void write_gzip(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");

    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* ---- RFC 4180 -------------------------------------------------------- */

/* An Avro container given where CSV is read (a name without ".avro",
 * /dev/stdin) is named as such, from memory and from a file, whether or
 * not a header is expected. It used to be refused for a NUL byte. */
static void test_csv_reader_names_an_avro_container(void **state)
{
    static const char avro[] = "Obj\x01" "\x04" "\x14" "avro.codec" "\x08" "null";
    static const struct csv_options header = {',', 0, 0, 1};
    char path[64], errstr[256] = "";
    struct csv_reader *r = NULL;
    FILE *f;

    (void)state;
    assert_int_equal(csv_reader_open_memory(avro, sizeof(avro) - 1, "mem",
                                            &plain, &r, errstr,
                                            sizeof(errstr)),
                     RIFFLE_ERR_PARSE);
    assert_null(r);
    assert_string_equal(errstr, "mem:1: an Avro container file (it begins "
                        "with Avro's magic bytes), not CSV: give it as a "
                        "regular file whose name ends in .avro");

    snprintf(path, sizeof(path), "/tmp/riffle-csv-%ld.csv", (long)getpid());
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(avro, 1, sizeof(avro) - 1, f), sizeof(avro) - 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(csv_reader_open(path, &header, &r, errstr,
                                     sizeof(errstr)),
                     RIFFLE_ERR_PARSE);
    (void)unlink(path);
    assert_null(r);
    assert_non_null(strstr(errstr, ":1: an Avro container file"));

    r = open_text("Obj,1\nx,2\n", &plain); /* only the magic is refused */
    csv_reader_close(r);
}

/* Text in UTF-16 or UTF-32 (a spreadsheet's "Unicode text") is named as
 * such, with or without a byte order mark, rather than refused for a
 * NUL byte in its first field; UTF-8 with a mark is read as before. */
static void test_csv_reader_names_utf16_and_utf32(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *said;
    } inputs[] = {
        {"\xff\xfe" "a\0,\0b\0\n\0", 10, "mem:1: UTF-16 text (it begins "
         "with a UTF-16 byte order mark, as a spreadsheet's \"Unicode text\" "
         "does), not UTF-8: convert it first (iconv -f UTF-16 -t UTF-8)"},
        {"\xfe\xff" "\0a\0,\0b\0\n", 10, "mem:1: UTF-16 text (it begins"},
        {"a\0,\0b\0\n\0", 8, "mem:1: UTF-16 text (every other byte of its "
         "first characters is 0), not UTF-8"},
        {"\0a\0,\0b\0\n", 8, "mem:1: UTF-16 text (every other byte"},
        {"\xff\xfe\0\0" "a\0\0\0\n\0\0\0", 12, "mem:1: UTF-32 text (it "
         "begins with a UTF-32 byte order mark), not UTF-8"},
        {"\0\0\xfe\xff" "\0\0\0a\0\0\0\n", 12, "mem:1: UTF-32 text"},
    };
    struct csv_reader *r = NULL;
    char errstr[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        errstr[0] = '\0';
        assert_int_equal(csv_reader_open_memory(inputs[i].bytes,
                                                inputs[i].len, "mem", &plain,
                                                &r, errstr, sizeof(errstr)),
                         RIFFLE_ERR_PARSE);
        assert_null(r);
        assert_memory_equal(errstr, inputs[i].said, strlen(inputs[i].said));
    }
    r = open_text("\xef\xbb\xbf" "a,b\n1,2\n", &plain);
    csv_reader_close(r);
}

/* Wiping a record leaves its values nowhere in the reader: not in the
 * record, nor in the input buffer the file was read into (fast path),
 * nor in the raw bytes of a quoted record (byte-wise path). The next
 * record reads as it should. */
static void test_csv_reader_wipe_record(void **state)
{
    static const char text[] = "alice@example.test,7,Springfield\n"
                               "\"bob@example.test\",8,Shelbyville\n";
    static const char *const values[] = {"alice@example.test", "Springfield",
                                         "bob@example.test", "Shelbyville"};
    char path[64], errstr[256] = "";
    struct csv_reader *r = NULL;
    size_t row, i;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/riffle-csv-wipe-%ld.csv",
             (long)getpid());
    write_text(path, text);
    assert_int_equal(csv_reader_open(path, &plain, &r, errstr,
                                     sizeof(errstr)),
                     0);
    (void)unlink(path);

    for (row = 0; row < 2; row++) {
        const char *value = values[2 * row];

        assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)), 0);
        assert_true(csv_reader_memory_holds(r, value, strlen(value)));
        assert_string_equal(csv_reader_field(r, 1), row ? "8" : "7");
        csv_reader_wipe_record(r);
        for (i = 0; i < 2; i++)
            if (csv_reader_memory_holds(r, values[2 * row + i],
                                        strlen(values[2 * row + i])))
                fail_msg("row %zu: \"%s\" still in the reader", row,
                         values[2 * row + i]);
        assert_string_equal(csv_reader_field(r, 1), "");
    }
    csv_reader_close(r);
}

static void test_csv_reader_reads_simple_records(void **state)
{
    struct csv_reader *r = open_text("a,b,c\n1,2,3\n", &plain);

    (void)state;
    expect_record(r, 1, 3, "a", "b", "c");
    expect_record(r, 2, 3, "1", "2", "3");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_reads_quoted_fields(void **state)
{
    struct csv_reader *r = open_text("\"a,b\",\"\",c\n", &plain);

    (void)state;
    expect_record(r, 1, 3, "a,b", "", "c");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_unescapes_doubled_quotes(void **state)
{
    struct csv_reader *r =
        open_text("\"say \"\"hi\"\"\",\"\"\"\"\n\"\"\"x\"\"\"\n", &plain);

    (void)state;
    expect_record(r, 1, 2, "say \"hi\"", "\"");
    expect_record(r, 2, 1, "\"x\"");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_keeps_newline_inside_quotes(void **state)
{
    struct csv_reader *r =
        open_text("1,\"two\nlines\",x\n2,\"a\r\nb\",y\n3,z,w\n", &plain);

    (void)state;
    expect_record(r, 1, 3, "1", "two\nlines", "x");
    expect_record(r, 3, 3, "2", "a\r\nb", "y");
    expect_record(r, 5, 3, "3", "z", "w"); /* lines inside quotes count */
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_keeps_empty_fields(void **state)
{
    struct csv_reader *r = open_text("a,,b\n,\n\"\"\n", &plain);

    (void)state;
    expect_record(r, 1, 3, "a", "", "b");
    expect_record(r, 2, 2, "", "");
    expect_record(r, 3, 1, "");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_trailing_delimiter_adds_empty_field(void **state)
{
    struct csv_reader *r = open_text("a,b,\nc,\"d\",", &plain);

    (void)state;
    expect_record(r, 1, 3, "a", "b", "");
    expect_record(r, 2, 3, "c", "d", "");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_handles_crlf(void **state)
{
    struct csv_reader *r = open_text("a,b\r\n\"c\",d\r\n\r\ne,f\r\n", &plain);

    (void)state;
    expect_record(r, 1, 2, "a", "b");
    expect_record(r, 2, 2, "c", "d");
    expect_record(r, 4, 2, "e", "f");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_lone_cr_ends_line(void **state)
{
    struct csv_reader *r = open_text("a,b\rc,d\r", &plain);

    (void)state;
    expect_record(r, 1, 2, "a", "b");
    expect_record(r, 2, 2, "c", "d");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_reads_last_line_without_newline(void **state)
{
    struct csv_reader *r = open_text("a,b\nc,\"d\"", &plain);

    (void)state;
    expect_record(r, 1, 2, "a", "b");
    expect_record(r, 2, 2, "c", "d");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_skips_blank_lines_but_counts_them(void **state)
{
    struct csv_reader *r = open_text("\n\na\n\r\n\nb\n\n", &plain);

    (void)state;
    expect_record(r, 3, 1, "a");
    expect_record(r, 6, 1, "b");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_empty_input_is_eof(void **state)
{
    struct csv_reader *r = open_text("", &plain);

    (void)state;
    expect_eof(r);
    assert_int_equal(csv_reader_field_count(r), 0);
    csv_reader_close(r);
}

static void test_csv_reader_field_out_of_range_is_null(void **state)
{
    struct csv_reader *r = open_text("a,b\n", &plain);

    (void)state;
    expect_record(r, 1, 2, "a", "b");
    assert_null(csv_reader_field(r, 2));
    assert_null(csv_reader_header(r, 0));
    csv_reader_close(r);
}

/* Plain lines take the fast path, lines with a quote or a CR the
 * byte-wise parser: both must give the same fields, lines and trimming. */
static void test_csv_reader_fast_and_bytewise_paths_agree(void **state)
{
    const char *text = " a , b\t,c\n"
                       "\"a\" , b\t,c\n"
                       "x,,y\r\n"
                       "\n"
                       "x,,y\n"
                       " , ,\n"
                       "\" \", ,\n";
    struct csv_reader *r = open_text(text, &trimmed);

    (void)state;
    expect_record(r, 1, 3, "a", "b", "c");
    expect_record(r, 2, 3, "a", "b", "c");
    expect_record(r, 3, 3, "x", "", "y");
    expect_record(r, 5, 3, "x", "", "y");
    expect_record(r, 6, 3, "", "", "");
    expect_record(r, 7, 3, " ", "", "");
    expect_eof(r);
    csv_reader_close(r);
}

/* The fast path reads 16 bytes at a time: a delimiter, a quote, a CR
 * and the line end at every place around those blocks give the fields
 * the byte-wise parser gives. */
static void test_csv_reader_scan_blocks_agree_at_every_boundary(
    void **state)
{
    char text[64 * 3 * 48], a[48];
    struct csv_reader *r;
    size_t k, at = 0;
    long line = 1;

    (void)state;
    for (k = 1; k < 40; k++) {
        memset(a, 'a', k);
        a[k] = '\0';
        at += (size_t)snprintf(text + at, sizeof(text) - at,
                               "%s,b\n%s,\"q,\"\n%s,b\r\n", a, a, a);
    }
    r = open_text(text, &plain);
    for (k = 1; k < 40; k++) {
        memset(a, 'a', k);
        a[k] = '\0';
        expect_record(r, line++, 2, a, "b");
        expect_record(r, line++, 2, a, "q,");
        expect_record(r, line++, 2, a, "b");
    }
    expect_eof(r);
    csv_reader_close(r);
}

#define CSV_PATHS_LINES 3000 /* random lines, each read by both paths */
#define CSV_PATHS_LINE_MAX 70 /* bytes: past four of the fast path's blocks */

/* Reads one record of crlf and one of lf (the same line with CRLF and LF:
 * the byte-wise parser and the fast path) and checks they agree. */
static void expect_same_record(struct csv_reader *crlf,
                               struct csv_reader *lf)
{
    char errstr[256] = "";
    size_t i;

    assert_int_equal(csv_reader_next(crlf, errstr, sizeof(errstr)), 0);
    assert_int_equal(csv_reader_next(lf, errstr, sizeof(errstr)), 0);
    assert_int_equal(csv_reader_line(lf), csv_reader_line(crlf));
    assert_int_equal(csv_reader_field_count(lf),
                     csv_reader_field_count(crlf));
    for (i = 0; i < csv_reader_field_count(lf); i++)
        assert_string_equal(csv_reader_field(lf, i),
                            csv_reader_field(crlf, i));
    expect_layout(lf);
}

/* Random lines of letters, blanks and delimiters, with and without
 * trimming, with a delimiter that is a blank too: the fast path, which
 * copies, splits and trims a block at a time, gives the fields the
 * byte-wise parser gives (a CR sends a line there), wherever the blanks
 * and delimiters fall. */
static void test_csv_reader_fast_path_matches_bytewise_on_random_lines(
    void **state)
{
    static const char alphabet[] = "ab  \t\t,,,";
    static const struct csv_options tab_trimmed = {'\t', 1, 0, 0};
    static const struct csv_options space_trimmed = {' ', 1, 0, 0};
    static const struct csv_options *const options[] = {
        &plain, &trimmed, &tab_trimmed, &space_trimmed};
    const size_t lines = CSV_PATHS_LINES;
    char *crlf_text = malloc(lines * (CSV_PATHS_LINE_MAX + 2) + 1);
    char *lf_text = malloc(lines * (CSV_PATHS_LINE_MAX + 1) + 1);
    uint64_t rng = 4180;
    size_t o, i, k;

    (void)state;
    assert_non_null(crlf_text);
    assert_non_null(lf_text);
    for (o = 0; o < sizeof(options) / sizeof(options[0]); o++) {
        struct csv_reader *crlf, *lf;
        size_t crlf_len = 0, lf_len = 0;

        for (i = 0; i < lines; i++) {
            size_t len = 1 + rng_next(&rng) % CSV_PATHS_LINE_MAX;

            for (k = 0; k < len; k++) {
                char c = alphabet[rng_next(&rng) % (sizeof(alphabet) - 1)];

                crlf_text[crlf_len++] = c;
                lf_text[lf_len++] = c;
            }
            memcpy(crlf_text + crlf_len, "\r\n", 2);
            crlf_len += 2;
            lf_text[lf_len++] = '\n';
        }
        crlf_text[crlf_len] = '\0';
        lf_text[lf_len] = '\0';

        crlf = open_text(crlf_text, options[o]);
        lf = open_text(lf_text, options[o]);
        for (i = 0; i < lines; i++)
            expect_same_record(crlf, lf);
        expect_eof(lf);
        csv_reader_close(crlf);
        csv_reader_close(lf);
    }
    free(crlf_text);
    free(lf_text);
}

#define CSV_MIXED_LINES 2000
#define CSV_MIXED_FIELDS 8       /* at most, a line */
#define CSV_MIXED_FIELD_MAX 320  /* bytes a field's text takes, at most */

/* Appends n random bytes of alphabet to out at *at. */
static void put_random(char *out, size_t *at, uint64_t *rng, size_t n,
                       const char *alphabet)
{
    size_t k, count = strlen(alphabet);

    for (k = 0; k < n; k++)
        out[(*at)++] = alphabet[rng_next(rng) % count];
}

/* One random field of the kinds real files hold, at *at: empty, blanks
 * only, a token with blanks around and inside it and bytes of 0x80 and
 * more, a long token (several of the fast path's blocks), a quoted field
 * with delimiters, blanks and doubled quotes inside and blanks outside,
 * and values that share their first and last words and differ inside. */
static void put_mixed_field(char *out, size_t *at, uint64_t *rng)
{
    static const char blanks[] = " \t";
    static const char letters[] = "abcXYZ09 \t\xc3\xa9\xa0-";
    static const char quoted[] = "ab ,\t,\xc3\xa9";
    static const char *const middles[] = {"", "a", "civ", "x-y z",
                                          "0123456789abcdef"};

    switch (rng_next(rng) % 6) {
    case 0:
        break;
    case 1:
        put_random(out, at, rng, 1 + rng_next(rng) % 3, blanks);
        break;
    case 2:
        put_random(out, at, rng, rng_next(rng) % 3, blanks);
        put_random(out, at, rng, 1 + rng_next(rng) % 40, letters);
        put_random(out, at, rng, rng_next(rng) % 3, blanks);
        break;
    case 3:
        put_random(out, at, rng, 100 + rng_next(rng) % 200, letters);
        break;
    case 4:
        put_random(out, at, rng, rng_next(rng) % 2, blanks);
        out[(*at)++] = '"';
        put_random(out, at, rng, rng_next(rng) % 20, quoted);
        if (rng_next(rng) % 2) {
            memcpy(out + *at, "\"\"", 2);
            *at += 2;
            put_random(out, at, rng, rng_next(rng) % 5, quoted);
        }
        out[(*at)++] = '"';
        put_random(out, at, rng, rng_next(rng) % 2, blanks);
        break;
    default:
        *at += (size_t)sprintf(out + *at, "Married-%s-spouse-civilian",
                               middles[rng_next(rng) % 5]);
        break;
    }
}

/* Reads one record of crlf and one of lf, which must agree: the same
 * result, line and fields. */
static void expect_same_outcome(struct csv_reader *crlf,
                                struct csv_reader *lf)
{
    char errstr[256] = "";
    int a = csv_reader_next(crlf, errstr, sizeof(errstr));
    int b = csv_reader_next(lf, errstr, sizeof(errstr));
    size_t i;

    assert_int_equal(b, a);
    assert_int_equal(csv_reader_line(lf), csv_reader_line(crlf));
    if (a != 0)
        return;
    assert_int_equal(csv_reader_field_count(lf),
                     csv_reader_field_count(crlf));
    for (i = 0; i < csv_reader_field_count(lf); i++) {
        const char *f = csv_reader_field(crlf, i);
        char *want = malloc(strlen(f) + 1);
        size_t k, n = 0;

        /* A quote left open runs on over the line ends, where crlf's
         * field holds the CR the text has; the lines hold no other. */
        assert_non_null(want);
        for (k = 0; f[k]; k++)
            if (f[k] != '\r')
                want[n++] = f[k];
        want[n] = '\0';
        assert_string_equal(csv_reader_field(lf, i), want);
        free(want);
    }
    expect_layout(lf);
}

/* Lines of the fields real files hold (see put_mixed_field()), trimmed
 * and not: the fast path, with its table of blanks, gives the result the
 * byte-wise parser gives (a CR sends a line there). The letters hold
 * 0xA0, which a table indexed by a signed char would misread. */
static void test_csv_reader_fast_path_matches_bytewise_on_mixed_fields(
    void **state)
{
    static const struct csv_options *const options[] = {&plain, &trimmed};
    const size_t max = CSV_MIXED_FIELDS * (CSV_MIXED_FIELD_MAX + 1) + 2;
    char *crlf_text = malloc(CSV_MIXED_LINES * max + 1);
    char *lf_text = malloc(CSV_MIXED_LINES * max + 1);
    uint64_t rng = 8123;
    size_t o, i, k;

    (void)state;
    assert_non_null(crlf_text);
    assert_non_null(lf_text);
    for (o = 0; o < sizeof(options) / sizeof(options[0]); o++) {
        struct csv_reader *crlf, *lf;
        size_t crlf_len = 0, lf_len = 0;

        for (i = 0; i < CSV_MIXED_LINES; i++) {
            size_t fields = 1 + rng_next(&rng) % CSV_MIXED_FIELDS, start;

            start = lf_len;
            for (k = 0; k < fields; k++) {
                if (k)
                    lf_text[lf_len++] = ',';
                put_mixed_field(lf_text, &lf_len, &rng);
            }
            memcpy(crlf_text + crlf_len, lf_text + start, lf_len - start);
            crlf_len += lf_len - start;
            memcpy(crlf_text + crlf_len, "\r\n", 2);
            crlf_len += 2;
            lf_text[lf_len++] = '\n';
        }
        crlf_text[crlf_len] = '\0';
        lf_text[lf_len] = '\0';

        crlf = open_text(crlf_text, options[o]);
        lf = open_text(lf_text, options[o]);
        for (i = 0; i < CSV_MIXED_LINES; i++)
            expect_same_outcome(crlf, lf);
        expect_eof(lf);
        csv_reader_close(crlf);
        csv_reader_close(lf);
    }
    free(crlf_text);
    free(lf_text);
}

/* Reads the next record of r, which must be ascii (1) or not (0). */
static void expect_ascii(struct csv_reader *r, int ascii)
{
    char errstr[256] = "";

    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)), 0);
    assert_int_equal(csv_reader_record_ascii(r), ascii);
}

/* The fast path tells an ASCII line from one with a byte of 0x80 or
 * more, wherever that byte falls in its blocks; the byte-wise parser
 * does not look, and says so. */
static void test_csv_reader_knows_ascii_lines(void **state)
{
    char text[64];
    struct csv_reader *r;
    size_t at;

    (void)state;
    for (at = 0; at < 40; at++) {
        memset(text, 'a', 40);
        memcpy(text + 40, ",b\n", 4);
        text[at] = (char)0x80;
        text[44] = '\0';
        r = open_text(text, &plain);
        expect_ascii(r, 0);
        csv_reader_close(r);
    }

    /* A block that runs into the next line judges its bytes too (it may
     * say "not known" of an ASCII line), so the ASCII line comes after. */
    r = open_text("Z\xc3\xbcrich,b\nZurich,b\n\"Zurich\",b\nx,y", &plain);
    expect_ascii(r, 0);
    expect_ascii(r, 1);
    expect_ascii(r, 0); /* quoted: read byte by byte, not known */
    expect_ascii(r, 0); /* no line end: the same */
    csv_reader_close(r);
}

/* Plain decimals take a path without strtod; it must give strtod's
 * double bit for bit, at the edges of its range too. */
static void test_csv_parse_number_matches_strtod_bitwise(void **state)
{
    static const char *edges[] = {
        "0", "-0", "+0", "0.0", ".5", "5.", "-.5", "0.1", "0.3",
        "9007199254740992", "9007199254740993", "-9007199254740991",
        "12345678901234567890", "0.0000000000000000000001",
        "0.00000000000000000000001", "1.7976931348623157", "000000.25",
        "123456789012345.6", "3.1415926535897932384626",
    };
    uint64_t rng = 1990;
    char text[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        expect_same_as_strtod(edges[i]);
    for (i = 0; i < 20000; i++) {
        uint64_t r = rng_next(&rng);
        int point = (int)(r % 23), width = 1 + (int)((r >> 8) % 18);

        snprintf(text, sizeof(text), "%s%0*llu", (r >> 40) & 1 ? "-" : "",
                 width, (unsigned long long)((r >> 12) % 1000000000000000000ULL));
        if (point < (int)strlen(text) && text[point] != '-') {
            memmove(text + point + 1, text + point, strlen(text + point) + 1);
            text[point] = '.';
        }
        expect_same_as_strtod(text);
    }
}

/* csv_parse_number_len() of s, with its length, gives what
 * csv_parse_number() gives: the same return and the same bits. */
static void expect_len_same(const char *text)
{
    double by_len = 0, plain = 0;
    int rl = csv_parse_number_len(text, strlen(text), &by_len);
    int rp = csv_parse_number(text, &plain);

    if (rl != rp || (rp == 0 && memcmp(&by_len, &plain, sizeof(plain)) != 0))
        fail_msg("\"%s\": by length %d %.17g, plain %d %.17g", text, rl,
                 by_len, rp, plain);
}

/* Fractions of one to eight digits in fields of eight bytes or more are
 * read a word at a time; every other text must come out as before.
 * Random texts over digits, points, signs and other bytes, 1 to 20 bytes
 * long, and decimals with 0 to 9 fraction digits. */
static void test_csv_parse_number_len_matches_plain(void **state)
{
    static const char alphabet[] = "0123456789012345678901234567890..-+e x/:";
    static const char *edges[] = {
        "0.056443", "-0.056443", "+0.056443", "0.00000000", "-0.0000000",
        "12.345678", "1234567.89", "123456789012.345", "1234567890123.456",
        "12345678901234.5", ".12345678", "-.1234567", "0.1234567x",
        "0.12:45678", "0.1234/678", "00000000.1", "1.2.345678", "1e5.5678",
        "0.99999999", "9999999.99999999", "99999999.9999999",
    };
    uint64_t rng = 2026;
    char text[32];
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        expect_len_same(edges[i]);
    assert_int_equal(csv_parse_number_len("0.056443", 8, &(double){0}), 0);
    for (i = 0; i < 200000; i++) {
        size_t len = 1 + rng_next(&rng) % 20;

        for (j = 0; j < len; j++)
            text[j] = alphabet[rng_next(&rng) % (sizeof(alphabet) - 1)];
        text[len] = '\0';
        expect_len_same(text);
    }
    for (i = 0; i < 200000; i++) {
        uint64_t r = rng_next(&rng);
        int frac = (int)(r % 10), whole = (int)((r >> 4) % 9);

        snprintf(text, sizeof(text), "%s%.*llu.%0*llu",
                 (r >> 8) & 1 ? "-" : "", whole,
                 (unsigned long long)((r >> 10) % 100000000ULL), frac,
                 (unsigned long long)((r >> 37) % 1000000000ULL) %
                     (frac ? 1000000000ULL : 1ULL));
        expect_len_same(text);
    }
}

static void test_csv_reader_custom_delimiter(void **state)
{
    const struct csv_options tabs = {'\t', 1, 0, 0};
    struct csv_reader *r = open_text("a\t b \t\"c\td\"\n", &tabs);

    (void)state;
    expect_record(r, 1, 3, "a", "b", "c\td"); /* tab is not trimmed */
    expect_eof(r);
    csv_reader_close(r);
}

/* ---- Errors and recovery --------------------------------------------- */

static void test_csv_reader_reports_unterminated_quote_and_recovers(
    void **state)
{
    struct csv_reader *r =
        open_text("x,y\na,\"b\nc,d\ne,f\n", &plain);

    (void)state;
    expect_record(r, 1, 2, "x", "y");
    expect_parse_error(r, "mem:2: unterminated quoted field");
    assert_int_equal(csv_reader_line(r), 2);
    assert_int_equal(csv_reader_field_count(r), 0);
    /* Reading resumes on the line after the bad record's first line. */
    expect_record(r, 3, 2, "c", "d");
    expect_record(r, 4, 2, "e", "f");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_reports_text_after_quote_and_recovers(
    void **state)
{
    struct csv_reader *r = open_text("a,\"b\"x,c\nd,e\n", &plain);

    (void)state;
    expect_parse_error(r, "mem:1: text after closing quote");
    expect_record(r, 2, 2, "d", "e");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_recovers_twice_in_a_row(void **state)
{
    struct csv_reader *r =
        open_text("\"a\nb\"x\n\"c\"y\ng\n", &plain);

    (void)state;
    /* Record 1 spans lines 1-2 and fails; line 2 is then read alone and
     * holds a quote in an unquoted field, which is kept as data. */
    expect_parse_error(r, "mem:1: text after closing quote");
    expect_record(r, 2, 1, "b\"x");
    expect_parse_error(r, "mem:3: text after closing quote");
    expect_record(r, 4, 1, "g");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_rejects_too_long_record_and_recovers(
    void **state)
{
    size_t n = CSV_MAX_RECORD_BYTES;
    char *text = malloc(4 * n + 16);
    struct csv_reader *r;
    char errstr[256];

    (void)state;
    assert_non_null(text);
    /* line 1: exactly the cap (allowed); line 2: three times over, so
     * that most of it is skipped after the error. */
    memset(text, 'x', n);
    text[n] = '\n';
    memset(text + n + 1, 'y', 3 * n);
    strcpy(text + 4 * n + 1, "\nok\n");

    r = open_text(text, &plain);
    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)), 0);
    assert_int_equal(strlen(csv_reader_field(r, 0)), n);
    expect_parse_error(r, "mem:2: record longer than 1048576 bytes");
    expect_record(r, 3, 1, "ok");
    expect_eof(r);
    csv_reader_close(r);
    free(text);
}

static void test_csv_reader_rejects_too_many_fields(void **state)
{
    struct csv_reader *r;
    char *text = malloc(2 * CSV_MAX_FIELDS + 16);
    size_t i;

    (void)state;
    assert_non_null(text);
    for (i = 0; i <= CSV_MAX_FIELDS; i++) { /* 1025 fields */
        text[2 * i] = 'v';
        text[2 * i + 1] = ',';
    }
    strcpy(text + 2 * CSV_MAX_FIELDS + 1, "\nok\n");

    r = open_text(text, &plain);
    expect_parse_error(r, "mem:1: more than 1024 fields");
    expect_record(r, 2, 1, "ok");
    csv_reader_close(r);
    free(text);
}

/* Fields are handed on as C strings: a NUL byte would cut one short
 * without a word, so the record is refused, quoted or not, and reading
 * goes on with the next line. */
static void test_csv_reader_rejects_nul_byte(void **state)
{
    static const char text[] = "a,b\nx,y\0z\n\"q\0\",w\nc,d\n";
    struct csv_reader *r = NULL;
    char errstr[256] = "";

    (void)state;
    assert_int_equal(csv_reader_open_memory(text, sizeof(text) - 1, "mem",
                                            &plain, &r, errstr,
                                            sizeof(errstr)),
                     0);
    expect_record(r, 1, 2, "a", "b");
    expect_parse_error(r, "mem:2: NUL byte in field 2");
    expect_parse_error(r, "mem:3: NUL byte in field 1");
    expect_record(r, 4, 2, "c", "d");
    expect_eof(r);
    csv_reader_close(r);
}

/* Random short inputs over the bytes the parser cares about: every call
 * must return a record, a parse error or the end, the start line of the
 * records must grow, and the end must come. */
static void test_csv_reader_fuzz_always_reaches_end(void **state)
{
    static const char alphabet[] = "a,\"\n\r \t";
    const struct csv_options opts[2] = {{',', 0, 0, 0}, {',', 1, 0, 0}};
    uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
    char text[CSV_FUZZ_MAX_LEN];
    int round;

    (void)state;
    for (round = 0; round < CSV_FUZZ_ROUNDS; round++) {
        struct csv_reader *r = NULL;
        char errstr[256];
        size_t i, len;
        long last = 0, calls = 0;
        int err = 0;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        len = rng % sizeof(text);
        for (i = 0; i < len; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            text[i] = alphabet[rng % (sizeof(alphabet) - 1)];
        }
        assert_int_equal(csv_reader_open_memory(text, len, "fuzz",
                                                &opts[round % 2], &r,
                                                errstr, sizeof(errstr)), 0);
        while (err != RIFFLE_ERR_EOF) {
            err = csv_reader_next(r, errstr, sizeof(errstr));
            if (err != 0 && err != RIFFLE_ERR_PARSE && err != RIFFLE_ERR_EOF)
                fail_msg("round %d: unexpected %d", round, err);
            if (err != RIFFLE_ERR_EOF && csv_reader_line(r) <= last)
                fail_msg("round %d: line %ld after %ld", round,
                         csv_reader_line(r), last);
            if (err != RIFFLE_ERR_EOF)
                last = csv_reader_line(r);
            assert_true(++calls <= (long)len + 1);
        }
        csv_reader_close(r);
    }
}

/* ---- Trimming, header, skip_lines ------------------------------------ */

static void test_csv_reader_trims_unquoted_blanks(void **state)
{
    struct csv_reader *r =
        open_text("25, Private , 226802,\" kept \" ,  ,\t x y\t\n", &trimmed);

    (void)state;
    expect_record(r, 1, 6, "25", "Private", "226802", " kept ", "", "x y");
    expect_eof(r);
    csv_reader_close(r);
}

static void test_csv_reader_keeps_blanks_without_trim(void **state)
{
    struct csv_reader *r = open_text("25, Private ,\" q\" \n", &plain);

    (void)state;
    /* Without trim a blank after a closing quote is stray text. */
    expect_parse_error(r, "mem:1: text after closing quote");
    csv_reader_close(r);

    r = open_text("25, Private , \"q\"\n", &plain);
    expect_record(r, 1, 3, "25", " Private ", " \"q\"");
    csv_reader_close(r);
}

static void test_csv_reader_reads_header(void **state)
{
    const struct csv_options opts = {',', 0, 0, 1};
    struct csv_reader *r = open_text("name,\"age\"\nann,31\n", &opts);

    (void)state;
    assert_int_equal(csv_reader_header_count(r), 2);
    assert_string_equal(csv_reader_header(r, 0), "name");
    assert_string_equal(csv_reader_header(r, 1), "age");
    expect_record(r, 2, 2, "ann", "31");
    assert_string_equal(csv_reader_header(r, 1), "age"); /* still there */
    expect_eof(r);
    csv_reader_close(r);
}

/* A byte order mark before the header (spreadsheets write one) is not
 * part of the first column's name. */
static void test_csv_reader_header_skips_byte_order_mark(void **state)
{
    const struct csv_options opts = {',', 0, 0, 1};
    struct csv_reader *r = open_text("\xEF\xBB\xBF" "name,age\nann,31\n",
                                     &opts);

    (void)state;
    assert_int_equal(csv_reader_header_count(r), 2);
    assert_string_equal(csv_reader_header(r, 0), "name");
    expect_record(r, 2, 2, "ann", "31");
    csv_reader_close(r);
}

static void test_csv_reader_missing_header_is_parse_error(void **state)
{
    const struct csv_options opts = {',', 0, 1, 1};
    struct csv_reader *r = NULL;
    char errstr[256];
    const char text[] = "# comment only\n\n";

    (void)state;
    assert_int_equal(csv_reader_open_memory(text, strlen(text), "h.csv",
                                            &opts, &r, errstr,
                                            sizeof(errstr)),
                     RIFFLE_ERR_PARSE);
    assert_string_equal(errstr, "h.csv:3: missing header");
    assert_null(r);
}

static void test_csv_reader_skip_lines_are_physical(void **state)
{
    const struct csv_options opts = {',', 0, 2, 0};
    struct csv_reader *r = open_text("|junk \"\n\nx,y\n", &opts);

    (void)state;
    /* The quote on the skipped line must not start a quoted field. */
    expect_record(r, 3, 2, "x", "y");
    expect_eof(r);
    csv_reader_close(r);
}

/* ---- Files ----------------------------------------------------------- */

static void test_csv_reader_reads_gzip_and_plain_files(void **state)
{
    const char text[] = "id,note\n1,\"multi\nline\"\n2,plain\n";
    char gz_path[64], plain_path[64];
    const struct csv_options opts = {',', 0, 0, 1};
    const char *paths[2];
    int i;

    (void)state;
    temp_file_new(gz_path, sizeof(gz_path), "csv");
    write_gzip(gz_path, text, strlen(text));
    temp_file_new(plain_path, sizeof(plain_path), "csv");
    write_text(plain_path, text);

    paths[0] = gz_path;
    paths[1] = plain_path;
    for (i = 0; i < 2; i++) {
        struct csv_reader *r = NULL;
        char errstr[256] = "";

        assert_int_equal(csv_reader_open(paths[i], &opts, &r, errstr,
                                         sizeof(errstr)), 0);
        assert_string_equal(csv_reader_header(r, 1), "note");
        expect_record(r, 2, 2, "1", "multi\nline");
        expect_record(r, 4, 2, "2", "plain");
        expect_eof(r);
        csv_reader_close(r);
    }
    (void)remove(gz_path);
    (void)remove(plain_path);
}

/* Opens path and reads it until the reader fails on its input, as a
 * damaged gzip file makes it; returns the reader, errstr saying why
 * ("path:line: why"). */
static struct csv_reader *read_to_io_error(const char *path, char *errstr,
                                           size_t size)
{
    struct csv_reader *r = NULL;
    int err = 0;

    assert_int_equal(csv_reader_open(path, &plain, &r, errstr, size), 0);
    while (err == 0)
        err = csv_reader_next(r, errstr, size);
    assert_int_equal(err, RIFFLE_ERR_IO);
    assert_int_equal(strncmp(errstr, path, strlen(path)), 0);
    return r;
}

/* A gzip file whose compressed bytes were altered is refused as damaged
 * gzip data, not with zlib's words alone ("invalid distance too far
 * back", "incorrect data check"), which do not say what is wrong. */
static void test_csv_reader_reports_damaged_gzip(void **state)
{
    static const char text[] = "a,b\n1,2\n3,4\n5,6\n";
    unsigned char bytes[256];
    struct csv_reader *r = NULL;
    char path[64], errstr[256] = "";
    size_t n;
    FILE *f;

    (void)state;
    temp_file_new(path, sizeof(path), "csv");
    write_gzip(path, text, strlen(text));
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(bytes, 1, sizeof(bytes), f);
    assert_int_equal(fclose(f), 0);
    assert_in_range(n, 30, sizeof(bytes) - 1);
    bytes[n - 8] ^= 0xff; /* the CRC-32 of the trailer */
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);

    r = read_to_io_error(path, errstr, sizeof(errstr));
    assert_contains(errstr, ": the gzip data is damaged (zlib: ");
    csv_reader_close(r);
    (void)remove(path);
}

static void test_csv_reader_reports_truncated_gzip(void **state)
{
    char path[64];
    char *text = malloc(200000);
    unsigned char bytes[4096];
    struct csv_reader *r = NULL;
    char errstr[256] = "";
    size_t i, n;
    FILE *f;

    (void)state;
    assert_non_null(text);
    for (i = 0; i < 200000; i++) /* varied text, so it compresses poorly */
        text[i] = (i % 7 == 6) ? '\n' : (char)('a' + (i * 7919) % 26);
    temp_file_new(path, sizeof(path), "csv");
    write_gzip(path, text, 200000);

    /* Cut the file in half: a gzip stream that ends early. */
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(bytes, 1, sizeof(bytes), f);
    assert_int_equal(fclose(f), 0);
    assert_true(n > 100);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n / 2, f), n / 2);
    assert_int_equal(fclose(f), 0);

    r = read_to_io_error(path, errstr, sizeof(errstr));
    /* "path:line: why", the path once (zlib's message repeats it), in
     * words that say it is the gzip file, not the CSV, that ends. */
    assert_non_null(strstr(errstr, ": the gzip stream ends early, the file "
                                   "is cut short (zlib: unexpected end of "
                                   "file)"));
    assert_null(strstr(errstr + strlen(path), path));
    /* The error is sticky: the stream cannot go on. */
    assert_int_equal(csv_reader_next(r, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    csv_reader_close(r);
    (void)remove(path);
    free(text);
}

static void test_csv_reader_open_missing_file_is_io_error(void **state)
{
    struct csv_reader *r = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(csv_reader_open("/nonexistent/x.csv", &plain, &r,
                                     errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(errstr,
                        "/nonexistent/x.csv: No such file or directory");
    assert_null(r);
}

static void test_csv_reader_reads_elec2(void **state)
{
    const struct csv_options opts = {',', 0, 0, 1};
    struct csv_reader *r = NULL;
    char errstr[256] = "";
    long records = 0, last_line = 0;
    int err;

    (void)state;
    assert_int_equal(csv_reader_open(ELEC2_PATH, &opts, &r, errstr,
                                     sizeof(errstr)), 0);
    assert_int_equal(csv_reader_header_count(r), 9);
    assert_string_equal(csv_reader_header(r, 0), "date");
    assert_string_equal(csv_reader_header(r, 8), "class");

    while ((err = csv_reader_next(r, errstr, sizeof(errstr))) == 0) {
        if (csv_reader_field_count(r) != 9)
            fail_msg("line %ld has %zu fields", csv_reader_line(r),
                     csv_reader_field_count(r));
        if (++records == 1)
            assert_string_equal(csv_reader_field(r, 3), "0.056443");
        last_line = csv_reader_line(r);
    }
    assert_int_equal(err, RIFFLE_ERR_EOF);
    assert_int_equal(records, 45312);
    assert_int_equal(last_line, 45313); /* header is line 1 */
    csv_reader_close(r);
}

static void test_csv_reader_reads_adult_test(void **state)
{
    const struct csv_options opts = {',', 1, 1, 0};
    struct csv_reader *r = NULL;
    char errstr[256] = "";
    long records = 0;
    int err;

    (void)state;
    assert_int_equal(csv_reader_open(ADULT_TEST_PATH, &opts, &r, errstr,
                                     sizeof(errstr)), 0);
    while ((err = csv_reader_next(r, errstr, sizeof(errstr))) == 0) {
        if (csv_reader_field_count(r) != 15)
            fail_msg("line %ld has %zu fields", csv_reader_line(r),
                     csv_reader_field_count(r));
        if (++records == 1) {
            assert_int_equal(csv_reader_line(r), 2);
            assert_string_equal(csv_reader_field(r, 0), "25");
            assert_string_equal(csv_reader_field(r, 1), "Private");
            assert_string_equal(csv_reader_field(r, 13), "United-States");
            assert_string_equal(csv_reader_field(r, 14), "<=50K.");
        }
    }
    assert_int_equal(err, RIFFLE_ERR_EOF);
    assert_int_equal(records, 16281);
    csv_reader_close(r);
}

/* ---- Numbers --------------------------------------------------------- */

static void test_csv_parse_number_accepts_decimal_and_scientific(
    void **state)
{
    double v = 0;

    (void)state;
    assert_int_equal(csv_parse_number("1", &v), 0);
    assert_true(v == 1.0);
    assert_int_equal(csv_parse_number("-2.5e-3", &v), 0);
    assert_true(v == -0.0025);
    assert_int_equal(csv_parse_number(" 7 ", &v), 0);
    assert_true(v == 7.0);
    assert_int_equal(csv_parse_number("+.5", &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(csv_parse_number("0.056443", &v), 0);
    assert_true(v == 0.056443);
    assert_int_equal(csv_parse_number("1E3", &v), 0);
    assert_true(v == 1000.0);
}

static void test_csv_parse_number_rejects_non_numbers(void **state)
{
    static const char *const bad[] = {
        "", "   ", "abc", "1.2.3", "nan", "NaN", "inf", "-Infinity",
        "1e999", "-1e999", "0x10", "0X1p3", "12abc", "1e", "+", ".", "1 2",
        "--1",
    };
    double v = 42.0;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (csv_parse_number(bad[i], &v) != RIFFLE_ERR_PARSE)
            fail_msg("\"%s\" was accepted", bad[i]);
    }
    assert_true(v == 42.0); /* untouched on error */
}

/* What a refused number is, in words that never quote it. */
static void test_csv_describe_non_number_names_what_was_found(void **state)
{
    static const struct {
        const char *text, *found, *expected;
    } cases[] = {
        {"abc", "text", "a number"},
        {"  ", "blank text", "a number"},
        {"12kg", "text that begins like a number", "a number"},
        {"-.5x", "text that begins like a number", "a number"},
        {"3,25", "a number with a decimal comma (riffle reads a decimal "
                 "point)", "a number"},
        {"1,2,3", "text that begins like a number", "a number"},
        {"1.2.3", "a malformed number", "a number"},
        {"1e", "a malformed number", "a number"},
        {"NaN", "NaN", "a finite number"},
        {" -Infinity ", "an infinite value", "a finite number"},
        {"+inf", "an infinite value", "a finite number"},
        {"-1e999", "a number beyond the range of a double",
         "a finite number"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *expected = NULL;
        double v;

        assert_int_equal(csv_parse_number(cases[i].text, &v),
                         RIFFLE_ERR_PARSE);
        assert_string_equal(csv_describe_non_number(cases[i].text, &expected),
                            cases[i].found);
        assert_string_equal(expected, cases[i].expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_reader_names_an_avro_container),
        cmocka_unit_test(test_csv_describe_non_number_names_what_was_found),
        cmocka_unit_test(test_csv_reader_reads_simple_records),
        cmocka_unit_test(test_csv_reader_reads_quoted_fields),
        cmocka_unit_test(test_csv_reader_unescapes_doubled_quotes),
        cmocka_unit_test(test_csv_reader_keeps_newline_inside_quotes),
        cmocka_unit_test(test_csv_reader_keeps_empty_fields),
        cmocka_unit_test(test_csv_reader_trailing_delimiter_adds_empty_field),
        cmocka_unit_test(test_csv_reader_handles_crlf),
        cmocka_unit_test(test_csv_reader_lone_cr_ends_line),
        cmocka_unit_test(test_csv_reader_reads_last_line_without_newline),
        cmocka_unit_test(test_csv_reader_skips_blank_lines_but_counts_them),
        cmocka_unit_test(test_csv_reader_empty_input_is_eof),
        cmocka_unit_test(test_csv_reader_field_out_of_range_is_null),
        cmocka_unit_test(test_csv_reader_custom_delimiter),
        cmocka_unit_test(
            test_csv_reader_reports_unterminated_quote_and_recovers),
        cmocka_unit_test(test_csv_reader_reports_text_after_quote_and_recovers),
        cmocka_unit_test(test_csv_reader_recovers_twice_in_a_row),
        cmocka_unit_test(test_csv_reader_rejects_too_long_record_and_recovers),
        cmocka_unit_test(test_csv_reader_rejects_too_many_fields),
        cmocka_unit_test(test_csv_reader_rejects_nul_byte),
        cmocka_unit_test(test_csv_reader_fuzz_always_reaches_end),
        cmocka_unit_test(test_csv_reader_trims_unquoted_blanks),
        cmocka_unit_test(test_csv_reader_keeps_blanks_without_trim),
        cmocka_unit_test(test_csv_reader_reads_header),
        cmocka_unit_test(test_csv_reader_header_skips_byte_order_mark),
        cmocka_unit_test(test_csv_reader_missing_header_is_parse_error),
        cmocka_unit_test(test_csv_reader_skip_lines_are_physical),
        cmocka_unit_test(test_csv_reader_reads_gzip_and_plain_files),
        cmocka_unit_test(test_csv_reader_reports_truncated_gzip),
        cmocka_unit_test(test_csv_reader_reports_damaged_gzip),
        cmocka_unit_test(test_csv_reader_names_utf16_and_utf32),
        cmocka_unit_test(test_csv_reader_open_missing_file_is_io_error),
        cmocka_unit_test(test_csv_reader_fast_and_bytewise_paths_agree),
        cmocka_unit_test(
            test_csv_reader_scan_blocks_agree_at_every_boundary),
        cmocka_unit_test(
            test_csv_reader_fast_path_matches_bytewise_on_random_lines),
        cmocka_unit_test(
            test_csv_reader_fast_path_matches_bytewise_on_mixed_fields),
        cmocka_unit_test(test_csv_reader_knows_ascii_lines),
        cmocka_unit_test(test_csv_reader_wipe_record),
        cmocka_unit_test(test_csv_parse_number_matches_strtod_bitwise),
        cmocka_unit_test(test_csv_parse_number_len_matches_plain),
        cmocka_unit_test(test_csv_reader_reads_elec2),
        cmocka_unit_test(test_csv_reader_reads_adult_test),
        cmocka_unit_test(test_csv_parse_number_accepts_decimal_and_scientific),
        cmocka_unit_test(test_csv_parse_number_rejects_non_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
