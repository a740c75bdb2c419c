/*
 * cli/cmd_train.c - `riffle train` and `riffle score`: the learner over a
 * file, no broker.
 *
 * Each CSV row is validated and typed exactly as `riffle produce` does
 * (producers/produce.c) and fed, as a decoded event, to the same
 * learner/online.c that `riffle learn` runs after decoding a message: the
 * two share every line of cleaning, anonymization and learning code and
 * reach the same model on the same rows. train can start from a snapshot
 * file and write one at the end; score loads a snapshot and predicts each
 * row without learning, printing one JSON line per row.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/numfmt.h"
#include "common/progress.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/avro_source.h"
#include "producers/produce.h"
#include "producers/row_prefetch.h"

/* Rows between two looks at the clock for the progress line: asked
 * after every row, the clock cost a tenth of a short event. (The file's
 * position is read by the prefetch thread, as often.) */
#define TRAIN_PROGRESS_CHECK_ROWS 1024

struct file_run {
    struct cfg cfg;
    int score_only;          /* score: predict, never learn */
    const char *file;        /* CSV to read; default source.path */
    const char *snapshot_in; /* start from this snapshot file */
    const char *snapshot_out;
    const char *predictions_path; /* train: each progressive prediction */
    FILE *predictions;            /* stdout for score, the file for train */
    struct schema *input, *snapshot;
    struct online_learner *ol;
    struct csv_reader *csv;          /* a CSV file, or */
    struct avro_source *avro;        /* an Avro container file */
    struct row_prefetch *rows_ahead; /* reads csv during run_rows() */
    struct online_hinter *hinter;    /* hints its rows, on its thread */
    int look_ahead; /* train: online_start_look_ahead(), at start */
    const struct cfg_field *label; /* names the predicted classes */
    struct buf line; /* score output */
    long long rows, bad_rows, dead_letters, duplicates, late;
    long long waiting; /* events kept for a label (labels = {...}) */
};

/* Appends s, which needs no JSON escape (a number's text, a name of
 * riffle's own): a copy, where a printf would parse its format. */
static void append_text(struct buf *b, const char *s)
{
    (void)buf_append(b, s, strlen(s));
}

/* A prediction's numbers and names as the prediction topic's record
 * gives them (schemas/prediction.avsc, named alike, meaning the same), so
 * that a reader may switch between this file and the topic. The value's
 * text also serves the probability (binary and multiclass) and a
 * regression's predicted_label, the same number: one formatting an
 * event, and copies rather than printf (measured on Elec2, callgrind:
 * printf's made the fuller line cost 2,240 instructions an event more
 * than the old one; copies, 1,400 less). */
static void print_scores(struct file_run *r, const struct online_result *res)
{
    char value[NUMFMT_MAX], tmp[NUMFMT_MAX];
    int regression = r->cfg.task == CFG_TASK_REGRESSION;

    numfmt_double(res->value, value, sizeof(value));
    append_text(&r->line, ",\"probability\":");
    if (isnan(res->probability))
        append_text(&r->line, "null");
    else
        append_text(&r->line,
                    res->probability == res->value
                        ? value
                        : numfmt_double(res->probability, tmp, sizeof(tmp)));
    append_text(&r->line, ",\"value\":");
    append_text(&r->line, value);
    append_text(&r->line, ",\"predicted_class\":");
    append_text(&r->line, regression ? "null"
                                     : numfmt_double(res->predicted_class,
                                                     tmp, sizeof(tmp)));
    append_text(&r->line, ",\"predicted_label\":");
    if (regression) {
        append_text(&r->line, "\"");
        append_text(&r->line, value);
        append_text(&r->line, "\"");
    } else {
        buf_append_json_string(&r->line,
                               online_predicted_label(&r->cfg, r->label, res,
                                                      tmp, sizeof(tmp)));
    }
}

static void print_prediction(struct file_run *r,
                             const struct online_result *res)
{
    /* An event refused, late or a duplicate never reached the model,
     * which left its version 0: name the model that was current, as
     * serve's answer to a refused request does. */
    unsigned long long version =
        res->duplicate || res->late || res->dead_letter
            ? (unsigned long long)model_update_count(online_model(r->ol))
            : (unsigned long long)res->model_version;

    buf_reset(&r->line);
    buf_printf(&r->line, "{\"event_id\":");
    buf_append_json_string(&r->line, res->event_id ? res->event_id : "");
    if (res->duplicate) {
        buf_printf(&r->line, ",\"duplicate\":true");
    } else if (res->late) {
        buf_printf(&r->line, ",\"late\":true");
    } else if (res->dead_letter) {
        buf_printf(&r->line, ",\"refused\":");
        buf_append_json_string(&r->line, res->verdict.reason);
        buf_printf(&r->line, ",\"field\":");
        buf_append_json_string(&r->line, res->verdict.field);
        /* Where the value is: the detail names the rule, never it. */
        buf_printf(&r->line, ",\"row\":%lld", r->rows);
        if (res->verdict.detail[0]) { /* never holds a value */
            buf_printf(&r->line, ",\"detail\":");
            buf_append_json_string(&r->line, res->verdict.detail);
        }
    } else {
        print_scores(r, res);
        if (res->label_text) {
            buf_printf(&r->line, ",\"label\":");
            buf_append_json_string(&r->line, res->label_text);
        }
    }
    buf_printf(&r->line, ",\"model_version\":%llu}\n", version);
    fwrite(r->line.data, 1, r->line.len, r->predictions);
}

/* Learns or scores one decoded event. */
static int run_event(struct file_run *r, struct event *ev)
{
    struct online_result res;
    int err = r->score_only ? online_score_event(r->ol, ev, &res)
                            : online_process_event(r->ol, ev, &res);

    if (err)
        return err;
    r->dead_letters += res.dead_letter;
    r->duplicates += res.duplicate;
    r->late += res.late;
    r->waiting += res.pending;
    if (r->predictions)
        print_prediction(r, &res);
    return 0;
}

/* One row, read and typed as produce would by the prefetch thread, then
 * learned or scored. Returns 0 (also for a bad row, which the thread has
 * reported and which is counted here) or an error. */
static int run_row(struct file_run *r, char *errstr, size_t size)
{
    struct event *ev;
    int err = row_prefetch_next(r->rows_ahead, &ev, errstr, size);

    if (err == RIFFLE_ERR_EOF || err == RIFFLE_ERR_IO)
        return err;
    r->rows++;
    if (err == RIFFLE_ERR_PARSE) {
        r->bad_rows++;
        return 0;
    }
    if (err)
        return err;

    /* The next row's weights start loading while this one is learned. */
    if (r->look_ahead) {
        const struct event *ahead = row_prefetch_peek(r->rows_ahead);

        if (ahead)
            online_prefetch_event(r->ol, ahead);
    }
    return run_event(r, ev);
}

/* The component the run's logs name: the command being run. */
static const char *run_component(const struct file_run *r)
{
    return r->score_only ? "score" : "train";
}

/* One record of an Avro container file; a record whose fields cannot be
 * used is reported and counted, like a bad CSV row. */
static int run_avro_record(struct file_run *r, struct event *ev,
                           char *errstr, size_t size)
{
    char why[512];
    int err = avro_source_next(r->avro, ev, why, sizeof(why));

    if (err == RIFFLE_ERR_EOF)
        return err;
    r->rows++;
    if (err == RIFFLE_ERR_DECODE) {
        log_warn(run_component(r), "%s", why);
        r->bad_rows++;
        return 0;
    }
    if (err && avro_source_changed(r->avro))
        snprintf(errstr, size, "%s; %llu event(s) %s before it%s", why,
                 (unsigned long long)online_metrics(r->ol)->total.count,
                 r->score_only ? "scored" : "learned",
                 r->score_only || r->snapshot_out
                     ? ""
                     : " (--snapshot FILE keeps them)");
    else if (err)
        snprintf(errstr, size, "%s", why);
    if (err)
        return err;
    return run_event(r, ev);
}

/* Whether path is a regular file, whose reads end by themselves: the
 * rows are then read on a second thread (see row_prefetch.h for why a
 * pipe is not). */
static int is_regular_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The reader thread's hint function (see online_hint_event()). */
static int hint_row(void *arg, struct event *ev)
{
    return online_hint_event(arg, ev);
}

/* Starts reading r->csv ahead, hinting each row for r->ol. */
static int start_rows(struct file_run *r, const struct produce_mapping *map,
                      char *errstr, size_t size)
{
    struct row_prefetch_hint hint = {hint_row, NULL};
    int err = online_hinter_new(r->ol, &r->hinter);

    if (err)
        return err;
    hint.arg = r->hinter;
    r->look_ahead = !r->score_only && online_start_look_ahead(r->ol);
    err = row_prefetch_start(&r->cfg, r->input, map, r->csv, r->file,
                             run_component(r), is_regular_file(r->file),
                             &hint, &r->rows_ahead, errstr, size);
    if (!err && r->look_ahead)
        row_prefetch_look_ahead(r->rows_ahead);
    return err;
}

static int run_rows(struct file_run *r, char *errstr, size_t size)
{
    struct produce_mapping map;
    struct progress prog;
    struct event ev;
    int err = 0;

    event_init(&ev);
    buf_hold_secret(&ev.arena); /* raw personal values: see event.h */
    if (r->csv) {
        char note[512];

        err = produce_map_columns(&r->cfg, r->input, r->csv, &map, errstr,
                                  size);
        if (!err &&
            produce_id_column_note(&r->cfg, &map, r->csv, note, sizeof(note)))
            log_warn(run_component(r), "%s", note);
        if (!err)
            err = start_rows(r, &map, errstr, size);
    }
    progress_start(&prog, run_component(r), "rows", 1);
    while (!err && !cli_stop_requested) {
        err = r->csv ? run_row(r, errstr, size)
                     : run_avro_record(r, &ev, errstr, size);
        if (r->rows % TRAIN_PROGRESS_CHECK_ROWS == 0)
            progress_show(&prog, r->rows,
                          r->csv ? row_prefetch_fraction(r->rows_ahead) : -1,
                          NULL, 0);
    }
    progress_show(&prog, r->rows, -1, NULL, 1);
    /* Before the mapping goes out of scope: the thread reads it. */
    row_prefetch_stop(r->rows_ahead);
    r->rows_ahead = NULL;
    online_hinter_destroy(r->hinter); /* after the thread that used it */
    r->hinter = NULL;
    event_free(&ev);
    return err == RIFFLE_ERR_EOF ? 0 : err;
}

static void print_summary(struct file_run *r, double elapsed)
{
    struct feature_counts fc;
    struct online_drift_info drift;
    struct buf metrics = {0}, cleaning = {0};
    uint64_t digest = 0;

    online_feature_counts(r->ol, &fc);
    online_drift_info(r->ol, &drift);
    (void)online_metrics_json(r->ol, 0, &metrics); /* empty if out of memory */
    (void)online_cleaning_json(r->ol, &cleaning);
    (void)snapshot_weights_digest(r->ol, &digest); /* 0 if out of memory */
    fprintf(r->score_only ? stderr : stdout,
            "{\"rows\":%lld,\"bad_rows\":%lld,\"dead_letters\":%lld,"
            "\"duplicates\":%lld,\"late_routed\":%lld,"
            "\"waiting_for_label\":%lld,\"cleaning\":{%s},"
            "\"%s\":%llu,%s,\"drift_alarms\":%llu,"
            "\"distinct_features\":%llu,"
            "\"collided_slots\":%llu,\"weights_digest\":\"%016llx\","
            "\"seconds\":%.6f," /* to the microsecond: bench/ times 30 ms runs */
            "\"events_per_s\":%.0f}\n", r->rows, r->bad_rows,
            r->dead_letters, r->duplicates, r->late, r->waiting,
            cleaning.data ? cleaning.data : "", r->score_only ? "scored_with_label" : "learned",
            (unsigned long long)online_metrics(r->ol)->total.count,
            metrics.data ? metrics.data : "\"metrics\":null",
            drift.detections, fc.distinct,
            fc.collided_slots, (unsigned long long)digest, elapsed,
            elapsed > 0 ? r->rows / elapsed : 0.0);
    buf_free(&metrics);
    buf_free(&cleaning);
}

/* A container written into while read stops the run; the events learned
 * from the records before are not thrown away: the snapshot asked for
 * keeps them. On failure to save, errstr says so after the first error. */
static void keep_learned(struct file_run *r, char *errstr, size_t size)
{
    char why[512];
    size_t n = strlen(errstr);

    if (snapshot_save_file(r->snapshot, r->ol, NULL, 0, r->snapshot_out, why,
                           sizeof(why)) != 0)
        snprintf(errstr + n, size - n, "; not kept: %s", why);
    else
        snprintf(errstr + n, size - n, ", kept in %s", r->snapshot_out);
}

static int open_all(struct file_run *r, char *errstr, size_t size)
{
    struct csv_options co = {r->cfg.csv_delimiter, r->cfg.csv_trim,
                             r->cfg.csv_skip_lines, r->cfg.csv_header};
    struct snapshot_offset offsets[SNAPSHOT_MAX_OFFSETS];
    struct snapshot_info info;
    char path[CFG_PATH_MAX];
    size_t n;
    int err;

    /* The snapshot schema (7 KB of JSON, three quarters of the start-up
     * that `seconds` counts on a short file) only when a snapshot is
     * read or written; loaded first even then, so that a broken one
     * stops the run before it learns. */
    cfg_output_schema_path(&r->cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    if ((err = schema_load_file(r->cfg.schema_path, &r->input, errstr,
                                size))) {
        cfg_schema_error(&r->cfg, errstr, size); /* where it is set */
        return err;
    }
    if ((r->snapshot_in || r->snapshot_out) &&
        (err = schema_load_file(path, &r->snapshot, errstr, size))) {
        cfg_output_schema_error(&r->cfg, errstr, size);
        return err;
    }
    if ((err = online_new(&r->cfg, r->input, &r->ol, errstr, size)))
        return err;
    r->label = cfg_field_of_kind(&r->cfg, CFG_FIELD_LABEL);

    if (r->snapshot_in) {
        err = snapshot_load_file(r->snapshot, r->ol, r->snapshot_in, offsets,
                                 SNAPSHOT_MAX_OFFSETS, &n, &info, errstr,
                                 size);
        if (err)
            return err;
        log_info(run_component(r), "restored model %s version %lld from %s",
                 info.model_name, (long long)info.version, r->snapshot_in);
        /* The file's metrics are of other events; report this file's. */
        metrics_init(online_metrics(r->ol));
    }
    if (avro_source_is_avro(r->file))
        return avro_source_open(r->file, &r->cfg, r->input, &r->avro, errstr,
                                size);
    return csv_reader_open(r->file, &co, &r->csv, errstr, size);
}

static int parse_options(struct file_run *r, int argc, char **argv,
                         const char **config)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"file", required_argument, NULL, 'f'},
        {"snapshot", required_argument, NULL, 's'},
        {"from-snapshot", required_argument, NULL, 'r'},
        {"predictions", required_argument, NULL, 'p'},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:f:s:r:p:b:h", longopts)) !=
           -1) {
        if (c == 'c')
            *config = optarg;
        else if (c == 'f')
            r->file = optarg;
        else if ((c == 's' || c == 'p') && r->score_only) {
            /* train's: score learns nothing to save, and its
             * predictions go to stdout */
            log_error("score", "--%s is train's option, not score's",
                      c == 's' ? "snapshot" : "predictions");
            return -1;
        } else if (c == 's')
            r->snapshot_out = optarg;
        else if (c == 'r')
            r->snapshot_in = optarg;
        else if (c == 'p')
            r->predictions_path = optarg;
        else if (c == 'b')
            continue; /* accepted like every command; no broker needed */
        else if (c == 'h') {
            printf(r->score_only
                       ? "usage: riffle score -c CFG --from-snapshot FILE "
                         "[--file F]\n"
                         "  --from-snapshot FILE  the model to score with "
                         "(train --snapshot writes one)\n"
                         "  --file F           a CSV (plain or .gz) or an "
                         "Avro container (.avro)\n"
                         "                     instead of source.path\n"
                         "  prints one JSON line per row on stdout, and the held-out\n"
                         "  metrics as one JSON line on stderr; needs no "
                         "broker\n"
                       : "usage: riffle train -c CFG [--file F] "
                         "[--from-snapshot FILE] [--snapshot OUT]\n"
                         "                    [--predictions OUT]\n"
                         "  --file F           a CSV (plain or .gz) or an "
                         "Avro container (.avro)\n"
                         "                     instead of source.path\n"
                         "  --from-snapshot FILE  start from this snapshot "
                         "file\n"
                         "  --snapshot OUT     write the model at the end, "
                         "for learn --from-snapshot\n"
                         "                     and score\n"
                         "  --predictions OUT  write each progressive "
                         "prediction (made before learning)\n"
                         "                     as a JSON line\n"
                         "  needs no broker\n");
            return 1;
        } else
            return -1;
    }
    if (cli_refuse_operands(r->score_only ? "score" : "train", argc, argv,
                            optind))
        return -1;
    if (r->score_only && !r->snapshot_in) {
        log_error("score", "--from-snapshot FILE is required");
        return -1;
    }
    return 0;
}

/* score prints to stdout; train only where --predictions says. */
static int open_predictions(struct file_run *r, char *errstr, size_t size)
{
    if (r->score_only) {
        r->predictions = stdout;
        return 0;
    }
    if (!r->predictions_path)
        return 0;
    r->predictions = fopen(r->predictions_path, "w");
    if (!r->predictions) {
        snprintf(errstr, size, "%s: %s", r->predictions_path,
                 strerror(errno));
        return RIFFLE_ERR_IO;
    }
    return 0;
}

/* Closes the predictions file; a failed close (full disk) is an error. */
static int close_predictions(struct file_run *r, char *errstr, size_t size)
{
    if (!r->predictions || r->predictions == stdout)
        return 0;
    if (fclose(r->predictions) != 0) {
        r->predictions = NULL;
        snprintf(errstr, size, "%s: %s", r->predictions_path,
                 strerror(errno));
        return RIFFLE_ERR_IO;
    }
    r->predictions = NULL;
    return 0;
}

/* Whether --snapshot's path can be written, asked before the file is
 * learned, not found after the whole run: "--snapshot " and the words a
 * failed save would use. */
static int probe_snapshot_out(const char *path, char *errstr, size_t size)
{
    char why[512];
    int err = snapshot_probe_file(path, why, sizeof(why));

    if (err)
        snprintf(errstr, size, "--snapshot %s", why);
    return err;
}

static int run_file_command(int argc, char **argv, int score_only)
{
    struct file_run *r = calloc(1, sizeof(*r));
    const char *config = NULL;
    char errstr[512] = "";
    double started = kafka_monotonic_s();
    int rc, err;

    if (!r)
        return 1;
    r->score_only = score_only;
    rc = parse_options(r, argc, argv, &config);
    /* r is calloc()ed: its cfg need not be zeroed again (1 MB of pages,
     * inside the timed span). */
    if (rc != 0 || cli_load_config_zeroed(config, NULL, &r->cfg)) {
        free(r);
        return rc > 0 ? 0 : 2;
    }
    r->file = cfg_input_path(&r->cfg, r->file, errstr, sizeof(errstr));
    err = r->file ? open_all(r, errstr, sizeof(errstr)) : RIFFLE_ERR_CFG;
    if (!err)
        err = open_predictions(r, errstr, sizeof(errstr));
    if (!err && r->snapshot_out)
        err = probe_snapshot_out(r->snapshot_out, errstr, sizeof(errstr));
    if (!err)
        err = run_rows(r, errstr, sizeof(errstr));
    if (!err)
        err = close_predictions(r, errstr, sizeof(errstr));
    else
        (void)close_predictions(r, NULL, 0); /* the first error is kept */
    if (!err && r->snapshot_out)
        err = snapshot_save_file(r->snapshot, r->ol, NULL, 0, r->snapshot_out,
                                 errstr, sizeof(errstr));
    else if (err && r->snapshot_out && !r->score_only && r->avro &&
             avro_source_changed(r->avro))
        keep_learned(r, errstr, sizeof(errstr));
    if (err)
        log_error(run_component(r), "%s", errstr);
    else
        print_summary(r, kafka_monotonic_s() - started);
    if (!err && r->waiting)
        cli_warn_waiting_for_label(run_component(r), r->waiting);

    csv_reader_close(r->csv);
    avro_source_close(r->avro);
    online_destroy(r->ol);
    schema_destroy(r->input);
    schema_destroy(r->snapshot);
    buf_free(&r->line);
    free(r);
    return err ? 1 : 0;
}

int cmd_train(int argc, char **argv)
{
    return run_file_command(argc, argv, 0);
}

int cmd_score(int argc, char **argv)
{
    return run_file_command(argc, argv, 1);
}
