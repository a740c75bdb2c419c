/*
 * tests/fuzz/seed_gen.c - writes the seed inputs of fuzz_event and
 * fuzz_snapshot from a bundled data set.
 *
 * Usage: seed_gen CFG CSV OUTDIR N
 * Reads the first N rows of CSV as `riffle produce` maps them onto the
 * input schema of CFG, writes each as the single-object Avro message it
 * would produce (OUTDIR/event-K.bin), feeds each to a learner of 2^10
 * weights (the harnesses' size) and, at the end, writes that learner's
 * snapshot (OUTDIR/snapshot.bin). Rows that do not fit are skipped. Not
 * part of the test run: the seeds it wrote are committed under
 * tests/fuzz/corpus/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/produce.h"
#include "tests/fuzz/fuzz_common.h"

static void file_write(const char *dir, const char *name, const struct buf *b)
{
    char path[CFG_PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void fail(const char *what, const char *errstr)
{
    fprintf(stderr, "seed_gen: %s: %s\n", what, errstr);
    exit(1);
}

int main(int argc, char **argv)
{
    struct fuzz_pipeline p;
    struct produce_mapping map;
    struct csv_options co;
    struct csv_reader *csv = NULL;
    struct online_learner *ol = NULL;
    struct online_result res;
    struct schema *snap;
    struct event ev;
    struct buf msg = {0};
    char errstr[FUZZ_ERRSTR_SIZE], name[64], path[CFG_PATH_MAX];
    long rows = 0, limit;

    if (argc != 5)
        fail("usage", "seed_gen CFG CSV OUTDIR N");
    limit = atol(argv[4]);
    fuzz_pipeline_load(&p, argv[1]);
    co = (struct csv_options){p.cfg.csv_delimiter, p.cfg.csv_trim,
                              p.cfg.csv_skip_lines, p.cfg.csv_header};
    cfg_output_schema_path(&p.cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    snap = fuzz_schema_load(path);
    if (csv_reader_open(argv[2], &co, &csv, errstr, sizeof(errstr)) ||
        produce_map_columns(&p.cfg, p.input, csv, &map, errstr,
                            sizeof(errstr)) ||
        online_new(&p.cfg, p.input, &ol, errstr, sizeof(errstr)))
        fail(argv[2], errstr);

    event_init(&ev);
    while (rows < limit && csv_reader_next(csv, errstr, sizeof(errstr)) == 0) {
        rows++;
        buf_reset(&msg);
        if (produce_row_to_event(&p.cfg, p.input, &map, csv, rows, &ev,
                                 errstr, sizeof(errstr)) ||
            schema_encode_event(p.input, &ev, &msg, errstr, sizeof(errstr)))
            continue;
        snprintf(name, sizeof(name), "event-%ld.bin", rows);
        file_write(argv[3], name, &msg);
        if (online_process(ol, msg.data, msg.len, &res) != 0)
            fail("learn", "out of memory");
    }

    buf_reset(&msg);
    if (snapshot_encode(snap, ol, NULL, 0, 0, &msg, errstr, sizeof(errstr)))
        fail("snapshot", errstr);
    file_write(argv[3], "snapshot.bin", &msg);

    buf_free(&msg);
    event_free(&ev);
    online_destroy(ol);
    csv_reader_close(csv);
    schema_destroy(snap);
    schema_destroy(p.input);
    return 0;
}
