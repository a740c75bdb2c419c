/*
 * tests/fuzz/fuzz_avro.c - libFuzzer harness for Avro container files as
 * `riffle train` and `score` read them: the check of
 * producers/avro_check.c (header, blocks, and the deflate, snappy and
 * lzma decoders), then avro-c reading the same open file through
 * producers/avro_source.c, record by record, against the Elec2 input
 * schema.
 *
 * Each input is a whole container file, written to one temporary file
 * (the check needs a regular file). What the check passes is read to
 * its end: avro-c must then neither crash nor leak (its leaks on a
 * container it fails to open are what the check is for, so LeakSanitizer
 * turns one into a finding), and every event must keep the source's
 * promises, checked below. Seeds in tests/fuzz/corpus/avro/ are the good
 * containers of tests/fixtures/avro, one a codec.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "producers/avro_source.h"
#include "schemas/event.h"
#include "tests/fuzz/fuzz_common.h"

static struct fuzz_pipeline elec2;
static FILE *scratch; /* the one file every input is written to */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_chdir_source();
    fuzz_pipeline_load(&elec2, "config/elec2.cfg");
    scratch = tmpfile();
    if (!scratch) {
        perror("fuzz setup: tmpfile");
        abort();
    }
    return 0;
}

/* The input becomes the whole of the scratch file, nothing left of the
 * last one; a failure here is the machine's, not a finding. */
static void scratch_fill(const uint8_t *data, size_t size)
{
    if (fseek(scratch, 0, SEEK_SET) != 0 ||
        ftruncate(fileno(scratch), 0) != 0 ||
        (size && fwrite(data, 1, size, scratch) != size) ||
        fflush(scratch) != 0) {
        perror("fuzz: scratch file");
        abort();
    }
}

/* Touches every field, so ASan sees a string read past its end. */
static void event_walk(const struct event *ev)
{
    size_t i;

    for (i = 0; i < ev->field_count; i++) {
        const char *s = event_string(ev, i);

        if (s && strlen(s) != ev->values[i].str_len)
            abort(); /* a NUL inside a string got through */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct avro_source *src = NULL;
    struct event ev;
    int err;

    scratch_fill(data, size);
    if (avro_source_open_file(scratch, "fuzz.avro", &elec2.cfg,
                              elec2.input, &src, errstr,
                              sizeof(errstr)) != 0)
        return 0;

    /* Blocks decode to up to 64 MiB each, so the input's size bounds no
     * count of records: a reader that stopped advancing would show as
     * libFuzzer's timeout. */
    event_init(&ev);
    do {
        err = avro_source_next(src, &ev, errstr, sizeof(errstr));
        if (err == 0)
            event_walk(&ev);
        else if (err != RIFFLE_ERR_EOF && err != RIFFLE_ERR_IO &&
                 err != RIFFLE_ERR_DECODE)
            abort();
    } while (err != RIFFLE_ERR_EOF && err != RIFFLE_ERR_IO);
    event_free(&ev);
    avro_source_close(src);
    return 0;
}
