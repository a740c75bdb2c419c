/*
 * cli/cmd_simulate.c - `riffle simulate`: several learner instances on
 * one stream, merged periodically, without a broker.
 *
 * Reads a CSV file as `riffle train` does and sends each event to one of
 * N learner instances by a hash of its event id, as Kafka's partitioner
 * spreads keys over N partitions each owned by one instance. Every
 * instance scores its event before learning it (progressive metrics over
 * the whole stream), and every N * K events, i.e. after about K events
 * per instance, the instances' models are merged (learner/model_merge.c)
 * and every instance continues from the merged model. The merge traffic
 * is counted as it would travel on the model topic: each instance
 * publishes its snapshot (its real encoded size), and each instance reads
 * all N of them. With --learners 1 this is `riffle train`.
 *
 * Used to measure how accuracy depends on the number of instances and
 * the merge cadence (docs/SCALING.md). Single-threaded: the instances
 * take turns, so the wall time is that of one core.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "learner/hash.h"
#include "learner/model_merge.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"

#define SIMULATE_MAX_LEARNERS 64
#define SIMULATE_PARTITION_SEED 0x5eedu /* any fixed seed: a stable split */
#define SIMULATE_LOGLOSS_FLOOR 1e-15    /* keeps log(p) finite */

struct simulate {
    struct cfg cfg;
    const char *file;
    long long learners, merge_every, limit;
    struct schema *input, *snapshot;
    struct online_learner *ol[SIMULATE_MAX_LEARNERS];
    struct model_merger *merger;
    struct csv_reader *csv;
    struct buf encoded;
    /* results */
    long long rows, bad_rows, scored, correct, dead_letters, merges;
    long long waiting; /* events kept for a label (labels = {...}) */
    long long since_merge;
    double logloss;
    unsigned long long published_bytes, snapshot_count;
};

static int open_all(struct simulate *s, char *errstr, size_t size)
{
    struct csv_options co = {s->cfg.csv_delimiter, s->cfg.csv_trim,
                             s->cfg.csv_skip_lines, s->cfg.csv_header};
    char path[CFG_PATH_MAX];
    const char *input;
    long long i;
    int err;

    cfg_output_schema_path(&s->cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    err = schema_load_file(s->cfg.schema_path, &s->input, errstr, size);
    if (err) {
        cfg_schema_error(&s->cfg, errstr, size); /* where it is set */
    } else {
        err = schema_load_file(path, &s->snapshot, errstr, size);
        if (err)
            cfg_output_schema_error(&s->cfg, errstr, size);
    }
    for (i = 0; !err && i < s->learners; i++)
        err = online_new(&s->cfg, s->input, &s->ol[i], errstr, size);
    if (!err && model_merger_new(&s->cfg.model, &s->merger) != 0)
        err = RIFFLE_ERR_NOMEM;
    if (!err && !(input = cfg_input_path(&s->cfg, s->file, errstr, size)))
        err = RIFFLE_ERR_CFG;
    if (!err)
        err = csv_reader_open(input, &co, &s->csv, errstr, size);
    return err;
}

/* Each instance publishes its snapshot; the merged model follows. */
static int merge(struct simulate *s, char *errstr, size_t size)
{
    struct model *models[SIMULATE_MAX_LEARNERS];
    long long i;
    int err = 0;

    for (i = 0; !err && i < s->learners; i++) {
        buf_reset(&s->encoded);
        err = snapshot_encode(s->snapshot, s->ol[i], NULL, 0,
                              kafka_now_ms(), &s->encoded, errstr, size);
        s->published_bytes += s->encoded.len;
        s->snapshot_count++;
        models[i] = online_model(s->ol[i]);
    }
    if (!err)
        err = model_merger_merge(s->merger, models, (size_t)s->learners);
    if (err) {
        if (!errstr[0])
            snprintf(errstr, size, "merging: %s", riffle_err_str(err));
        return err;
    }
    s->merges++;
    s->since_merge = 0;
    return 0;
}

static void count_result(struct simulate *s, const struct online_result *r)
{
    double p;

    if (r->dead_letter || r->duplicate) {
        s->dead_letters += r->dead_letter;
        return;
    }
    if (r->pending) { /* no label to measure the prediction against */
        s->waiting++;
        return;
    }
    s->scored++;
    if (s->cfg.task == CFG_TASK_REGRESSION)
        return;
    s->correct += (double)r->predicted_class == r->label;
    if (s->cfg.task == CFG_TASK_BINARY) {
        p = r->label > 0.5 ? r->probability : 1.0 - r->probability;
        s->logloss -= log(p > SIMULATE_LOGLOSS_FLOOR ? p
                                                     : SIMULATE_LOGLOSS_FLOOR);
    }
}

static int run_event(struct simulate *s, struct event *ev, int id_field,
                     char *errstr, size_t size)
{
    const char *id = event_string(ev, (size_t)id_field);
    uint32_t h = hash_string(id ? id : "", SIMULATE_PARTITION_SEED);
    struct online_result r;
    int err;

    err = online_process_event(s->ol[h % (uint32_t)s->learners], ev, &r);
    if (err) {
        snprintf(errstr, size, "row %lld: %s", s->rows, riffle_err_str(err));
        return err;
    }
    count_result(s, &r);
    if (s->merge_every > 0 && s->learners > 1 &&
        ++s->since_merge >= s->merge_every * s->learners)
        return merge(s, errstr, size);
    return 0;
}

static int run_rows(struct simulate *s, char *errstr, size_t size)
{
    struct produce_mapping map;
    struct event ev;
    char why[512];
    int err;

    event_init(&ev);
    err = produce_map_columns(&s->cfg, s->input, s->csv, &map, errstr, size);
    if (!err && produce_id_column_note(&s->cfg, &map, s->csv, why, sizeof(why)))
        log_warn("simulate", "%s", why);
    while (!err && !cli_stop_requested &&
           (s->limit == 0 || s->rows < s->limit)) {
        err = csv_reader_next(s->csv, why, sizeof(why));
        if (err == RIFFLE_ERR_EOF || err == RIFFLE_ERR_IO) {
            snprintf(errstr, size, "%s", why);
            break;
        }
        s->rows++;
        if (!err)
            err = produce_row_to_event(&s->cfg, s->input, &map, s->csv,
                                       s->rows, &ev, why, sizeof(why));
        if (err == RIFFLE_ERR_PARSE) {
            s->bad_rows++;
            err = 0;
            continue;
        }
        if (!err)
            err = run_event(s, &ev, map.id_field, errstr, size);
    }
    event_free(&ev);
    return err == RIFFLE_ERR_EOF ? 0 : err;
}

static void print_summary(const struct simulate *s, double elapsed)
{
    printf("{\"learners\":%lld,\"merge_every\":%lld,\"rows\":%lld,"
           "\"bad_rows\":%lld,\"scored\":%lld,\"dead_letters\":%lld,"
           "\"waiting_for_label\":%lld,",
           s->learners, s->merge_every, s->rows, s->bad_rows, s->scored,
           s->dead_letters, s->waiting);
    if (s->cfg.task != CFG_TASK_REGRESSION)
        printf("\"accuracy\":%.6f,", s->scored ? (double)s->correct /
                                                     (double)s->scored
                                               : 0.0);
    if (s->cfg.task == CFG_TASK_BINARY)
        printf("\"logloss\":%.6f,", s->scored ? s->logloss / (double)s->scored
                                              : 0.0);
    printf("\"merges\":%lld,\"published_snapshots\":%llu,"
           "\"published_bytes\":%llu,\"read_bytes\":%llu,"
           "\"mean_snapshot_bytes\":%.0f,\"merged_version\":%llu,"
           "\"seconds\":%.3f}\n", s->merges, s->snapshot_count,
           s->published_bytes,
           s->published_bytes * (unsigned long long)s->learners,
           s->snapshot_count ? (double)s->published_bytes /
                                   (double)s->snapshot_count
                             : 0.0,
           (unsigned long long)model_merger_version(s->merger), elapsed);
}

static void usage(void)
{
    printf("usage: riffle simulate -c CFG [--learners N] [--merge-every K] "
           "[--file F] [--limit N]\n"
           "  --learners N     learner instances, 1..%d (default 1, which "
           "learns as train);\n"
           "                   events go to one by a hash of their id\n"
           "  --merge-every K  merge after about K events per instance "
           "(0: never merge)\n"
           "  --file F         read this CSV instead of source.path\n"
           "  --limit N        stop after N rows\n"
           "  needs no broker; --brokers is accepted, as by every command, "
           "and ignored\n", SIMULATE_MAX_LEARNERS);
}

static int parse_options(struct simulate *s, int argc, char **argv,
                         const char **config)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"learners", required_argument, NULL, 'n'},
        {"merge-every", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    s->learners = 1;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:n:m:f:l:b:h", longopts)) !=
           -1) {
        if (c == 'c')
            *config = optarg;
        else if (c == 'n')
            bad |= cli_parse_count("--learners", optarg, &s->learners);
        else if (c == 'm')
            bad |= cli_parse_count("--merge-every", optarg, &s->merge_every);
        else if (c == 'f')
            s->file = optarg;
        else if (c == 'l')
            bad |= cli_parse_count("--limit", optarg, &s->limit);
        else if (c == 'b')
            continue; /* accepted like every command; no broker needed */
        else if (c == 'h') {
            usage();
            return 1;
        } else
            return -1;
    }
    bad |= cli_refuse_operands("simulate", argc, argv, optind);
    if (s->learners < 1 || s->learners > SIMULATE_MAX_LEARNERS) {
        log_error("cli", "--learners %lld: expected 1..%d", s->learners,
                  SIMULATE_MAX_LEARNERS);
        bad = 1;
    }
    return bad ? -1 : 0;
}

static void simulate_free(struct simulate *s)
{
    long long i;

    csv_reader_close(s->csv);
    model_merger_destroy(s->merger);
    for (i = 0; i < SIMULATE_MAX_LEARNERS; i++)
        online_destroy(s->ol[i]);
    schema_destroy(s->snapshot);
    schema_destroy(s->input);
    buf_free(&s->encoded);
    free(s);
}

int cmd_simulate(int argc, char **argv)
{
    struct simulate *s = calloc(1, sizeof(*s));
    const char *config = NULL;
    char errstr[512] = "";
    double started;
    int rc, err;

    if (!s)
        return 1;
    rc = parse_options(s, argc, argv, &config);
    if (rc != 0 || cli_load_config(config, NULL, &s->cfg)) {
        simulate_free(s);
        return rc > 0 ? 0 : 2;
    }

    started = kafka_monotonic_s();
    err = open_all(s, errstr, sizeof(errstr));
    if (!err)
        err = run_rows(s, errstr, sizeof(errstr));
    if (err)
        log_error("simulate", "%s", errstr[0] ? errstr : riffle_err_str(err));
    else
        print_summary(s, kafka_monotonic_s() - started);
    if (!err && s->waiting)
        cli_warn_waiting_for_label("simulate", s->waiting);
    simulate_free(s);
    return err ? 1 : 0;
}
