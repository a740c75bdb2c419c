/*
 * cli/cmd_train.c - `riffle train`: the learner over a file, no broker.
 *
 * Each CSV row is validated and typed exactly as `riffle produce` does
 * (producers/produce.c) and fed, as a decoded event, to the same
 * learner/online.c that `riffle learn` runs after decoding a message: the
 * two share every line of cleaning, anonymization and learning code and
 * reach the same model on the same rows. Optionally writes the final
 * snapshot to a file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/produce.h"


struct train {
    struct cfg cfg;
    const char *file, *snapshot_out;
    struct schema *input, *snapshot;
    struct online_learner *ol;
    struct csv_reader *csv;
    long long rows, bad_rows, dead_letters;
};

static int write_snapshot(struct train *t, char *errstr, size_t size)
{
    struct buf out = {0};
    FILE *f;
    int err = snapshot_encode(t->snapshot, t->ol, NULL, 0, kafka_now_ms(),
                              &out, errstr, size);

    if (!err) {
        f = fopen(t->snapshot_out, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len) {
            snprintf(errstr, size, "%s: cannot write the snapshot",
                     t->snapshot_out);
            err = RIFFLE_ERR_IO;
        }
        if (f && fclose(f) != 0 && !err) {
            snprintf(errstr, size, "%s: cannot write the snapshot",
                     t->snapshot_out);
            err = RIFFLE_ERR_IO;
        }
    }
    buf_free(&out);
    return err;
}

static int train_rows(struct train *t, char *errstr, size_t size)
{
    struct produce_mapping map;
    struct online_result r;
    struct event ev;
    char why[512];
    int err;

    event_init(&ev);
    err = produce_map_columns(&t->cfg, t->input, t->csv, &map, errstr, size);
    while (!err && !cli_stop_requested) {
        err = csv_reader_next(t->csv, why, sizeof(why));
        if (err == RIFFLE_ERR_EOF) {
            err = 0;
            break;
        }
        if (err == RIFFLE_ERR_IO) {
            snprintf(errstr, size, "%s", why);
            break;
        }
        t->rows++;
        if (err == RIFFLE_ERR_PARSE) {
            log_warn("train", "%s", why); /* already "file:line: ..." */
        } else {
            err = produce_row_to_event(&t->cfg, t->input, &map, t->csv,
                                       t->rows, &ev, why, sizeof(why));
            if (err == RIFFLE_ERR_PARSE)
                log_warn("train", "%s:%ld: %s", t->file,
                         csv_reader_line(t->csv), why);
        }
        if (err == RIFFLE_ERR_PARSE) {
            t->bad_rows++;
            err = 0;
            continue;
        }
        if (!err)
            err = online_process_event(t->ol, &ev, &r);
        if (!err && r.dead_letter)
            t->dead_letters++;
    }
    event_free(&ev);
    return err;
}

static void print_summary(struct train *t, double elapsed)
{
    struct feature_counts fc;

    online_feature_counts(t->ol, &fc);
    printf("{\"rows\":%lld,\"bad_rows\":%lld,\"dead_letters\":%lld,"
           "\"learned\":%llu,\"accuracy\":%.6f,\"logloss\":%.6f,"
           "\"distinct_features\":%llu,\"collided_slots\":%llu,"
           "\"seconds\":%.3f,\"events_per_s\":%.0f}\n", t->rows, t->bad_rows,
           t->dead_letters,
           (unsigned long long)online_metrics(t->ol)->total.count,
           metrics_accuracy(online_metrics(t->ol)),
           metrics_logloss(online_metrics(t->ol)), fc.distinct,
           fc.collided_slots, elapsed, elapsed > 0 ? t->rows / elapsed : 0.0);
}

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"file", required_argument, NULL, 'f'},
        {"snapshot", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct train *t = calloc(1, sizeof(*t));
    const char *config = NULL;
    struct csv_options co;
    char errstr[512] = "";
    double started = kafka_monotonic_s(), elapsed;
    int c, err;

    if (!t)
        return 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': t->file = optarg; break;
        case 's': t->snapshot_out = optarg; break;
        case 'h':
            printf("usage: riffle train -c CFG [--file CSV] "
                   "[--snapshot OUT]\n");
            free(t);
            return 0;
        default: free(t); return 2;
        }
    }
    if (cli_load_config(config, NULL, &t->cfg)) {
        free(t);
        return 2;
    }
    if (!t->file)
        t->file = t->cfg.source_path;

    co = (struct csv_options){t->cfg.csv_delimiter, t->cfg.csv_trim,
                              t->cfg.csv_skip_lines, t->cfg.csv_header};
    err = schema_load_file(t->cfg.schema_path, &t->input, errstr,
                           sizeof(errstr));
    if (!err) {
        char path[CFG_PATH_MAX];

        cfg_output_schema_path(&t->cfg, CFG_SCHEMA_SNAPSHOT, path,
                               sizeof(path));
        err = schema_load_file(path, &t->snapshot, errstr, sizeof(errstr));
    }
    if (!err)
        err = online_new(&t->cfg, t->input, &t->ol, errstr, sizeof(errstr));
    if (!err)
        err = csv_reader_open(t->file, &co, &t->csv, errstr, sizeof(errstr));
    if (!err)
        err = train_rows(t, errstr, sizeof(errstr));
    if (!err && t->snapshot_out)
        err = write_snapshot(t, errstr, sizeof(errstr));

    elapsed = kafka_monotonic_s() - started;
    if (err)
        log_error("train", "%s", errstr);
    else
        print_summary(t, elapsed);

    csv_reader_close(t->csv);
    online_destroy(t->ol);
    schema_destroy(t->input);
    schema_destroy(t->snapshot);
    free(t);
    return err ? 1 : 0;
}
