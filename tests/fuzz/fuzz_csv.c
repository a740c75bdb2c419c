/*
 * tests/fuzz/fuzz_csv.c - libFuzzer harness for the CSV reader.
 *
 * The first byte of an input picks the reader's options (delimiter, blank
 * trimming, header, lines to skip); the rest is the file. Every record is
 * read to the end, through parse errors, and each field goes through
 * csv_parse_number(), as `riffle produce` and `train` do with numeric
 * fields. AddressSanitizer and UBSan turn any out-of-bounds access,
 * overflow or leak into a crash; the reader must also keep its own
 * promises, checked below: a field never holds a NUL byte before its end,
 * and a record never has more than CSV_MAX_FIELDS fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "producers/csv_reader.h"

#define FUZZ_ERRSTR_SIZE 256

static const char fuzz_delimiters[] = {',', ';', '\t', '|'};

static void options_from_byte(unsigned char b, struct csv_options *o)
{
    memset(o, 0, sizeof(*o));
    o->delimiter = fuzz_delimiters[b & 3];
    o->trim_spaces = (b >> 2) & 1;
    o->has_header = (b >> 3) & 1;
    o->skip_lines = (b >> 4) & 3;
}

/* Touches every byte of every field, so ASan sees a read past its end. */
static void record_walk(const struct csv_reader *r)
{
    size_t i, n = csv_reader_field_count(r);
    double number;

    if (n > CSV_MAX_FIELDS)
        abort();
    for (i = 0; i < n; i++) {
        const char *f = csv_reader_field(r, i);

        if (!f)
            abort();
        (void)strlen(f);
        /* The result matters only to callers; here it must not crash. */
        (void)csv_parse_number(f, &number);
    }
    (void)csv_reader_line(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csv_options opts;
    struct csv_reader *r = NULL;
    char errstr[FUZZ_ERRSTR_SIZE];
    size_t i, records;
    int err;

    if (size == 0)
        return 0;
    options_from_byte(data[0], &opts);
    if (csv_reader_open_memory((const char *)data + 1, size - 1, "fuzz",
                               &opts, &r, errstr, sizeof(errstr)) != 0)
        return 0;
    for (i = 0; i < csv_reader_header_count(r); i++)
        (void)strlen(csv_reader_header(r, i));

    /* Each call consumes at least one byte or ends, so size + 1 calls
     * bound the loop; more would mean the reader stopped advancing. */
    for (records = 0; records <= size + 1; records++) {
        err = csv_reader_next(r, errstr, sizeof(errstr));
        if (err == RIFFLE_ERR_EOF || err == RIFFLE_ERR_IO)
            break;
        if (err == 0)
            record_walk(r);
        else if (err != RIFFLE_ERR_PARSE)
            abort();
    }
    if (records > size + 1)
        abort();
    csv_reader_close(r);
    return 0;
}
