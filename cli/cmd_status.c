/*
 * cli/cmd_status.c - `riffle status`: the pipeline on one screen.
 *
 * Asks the brokers, and nothing else, so it works against any running
 * deployment: each configured topic with its partitions and offsets held
 * (high minus low watermark: records plus transaction markers), the
 * learner group's committed offset and lag per partition of each topic
 * it reads (input, labels, further sources), the
 * newest model snapshot (version and age) and the newest metrics report
 * (progressive metrics, drift, dead letters). Reads outside any consumer
 * group except to look up the group's committed offsets, which it never
 * changes. Main thread only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/topic_reader.h"
#include "schemas/history.h"
#include "schemas/schema.h"

#define STATUS_TIMEOUT_MS 10000 /* per broker request */
#define STATUS_MAX_PARTITIONS 256

struct status {
    const struct cfg *cfg;
    rd_kafka_t *rk; /* a consumer in the learner's group, never joined */
    int64_t now_ms;
    int failed;
    double asks_started; /* the first offsets ask; 0 before it */
    int unanswered;      /* an offsets ask went unanswered: ask no more */
};

/* --- topics and lag ---------------------------------------------------- */

/* Once an ask went unanswered the brokers are taken to be away: says so
 * once, naming the ask, and marks the status failed. Every later ask is
 * skipped, so that the status ends in one ask's bound (STATUS_TIMEOUT_MS)
 * instead of one per topic (80 s and more for eight topics). */
static void give_up(struct status *s, const char *why)
{
    s->failed = 1;
    if (s->unanswered)
        return;
    s->unanswered = 1;
    log_error("status", "%s; the brokers (%s) stopped answering: the "
              "remaining topics, lags, model and metrics are not asked",
              why, s->cfg->brokers);
}

/* The topic's partition count, or -1 with why (missing, not allowed) in
 * why[]; -2 when the brokers did not answer (give_up() says so). */
static int partition_count(struct status *s, const char *topic, char *why,
                           size_t why_size)
{
    rd_kafka_resp_err_t unanswered;
    int n;

    if (kafka_topic_partitions_asked(s->rk, topic, STATUS_TIMEOUT_MS, 0, &n,
                                     &unanswered, why, why_size) == 0)
        return n;
    if (unanswered) {
        give_up(s, why);
        return -2;
    }
    return -1;
}

/* The first offsets and ends of partitions 0..n-1 of topic into new
 * arrays *lo and *hi (the caller frees both). Returns 0, or -1 after
 * saying why and marking the status failed. Just after a topic was
 * created its leader may not be known yet: a transient error is asked
 * again, within one KAFKA_TRANSIENT_WAIT_MS for the whole status, each
 * ask bounded by STATUS_TIMEOUT_MS. Once an ask went unanswered, the
 * brokers are taken to be away and later topics are not asked: the
 * status fails in a bounded time instead of waiting topic after topic. */
static int ask_watermarks(struct status *s, const char *topic, int n,
                          int64_t **lo, int64_t **hi)
{
    rd_kafka_resp_err_t err;
    char why[512];

    *lo = calloc((size_t)n, sizeof(**lo));
    *hi = calloc((size_t)n, sizeof(**hi));
    if (!*lo || !*hi) {
        log_error("status", "%s: out of memory for %d partition(s)", topic,
                  n);
        s->failed = 1;
        return -1;
    }
    if (s->unanswered) {
        s->failed = 1; /* give_up() said why */
        return -1;
    }

    if (s->asks_started == 0)
        s->asks_started = kafka_monotonic_s();
    do
        err = kafka_query_watermarks(s->rk, topic, n, *lo, *hi,
                                     STATUS_TIMEOUT_MS, why, sizeof(why));
    while (kafka_retry_transient(err, s->asks_started));
    if (err && kafka_err_is_transient(err)) {
        give_up(s, why);
        return -1;
    }
    if (err) {
        log_error("status", "%s", why);
        s->failed = 1;
        return -1;
    }
    return 0;
}

/* Prints one topic's line; returns its partition count, or -1 when it
 * is missing, not configured, or its offsets cannot be read. */
static int show_topic(struct status *s, const char *role, const char *topic)
{
    int64_t *lo = NULL, *hi = NULL, total = 0;
    char why[512];
    int i, n;

    if (!topic[0])
        return -1;
    if (s->unanswered) {
        printf("  %-13s %-40s %3s %12s\n", role, topic, "?", "not asked");
        return -1;
    }
    n = partition_count(s, topic, why, sizeof(why));
    if (n == -2) {
        printf("  %-13s %-40s %3s %12s\n", role, topic, "?", "unanswered");
        return -1;
    }
    if (n < 0) {
        printf("  %-13s %-40s missing or not allowed\n", role, topic);
        log_warn("status", "%s", why);
        s->failed = 1;
        return -1;
    }

    if (ask_watermarks(s, topic, n, &lo, &hi) != 0) {
        printf("  %-13s %-40s %3d %12s\n", role, topic, n, "unknown");
        n = -1;
    } else {
        for (i = 0; i < n; i++)
            total += hi[i] - lo[i];
        printf("  %-13s %-40s %3d %12lld\n", role, topic, n,
               (long long)total);
    }
    free(lo);
    free(hi);
    return n;
}

/* The learner group's lag on topic, of n partitions, one it reads in
 * the group in the role named (input, labels, source). */
static void show_lag(struct status *s, const char *role, const char *topic,
                     int n)
{
    rd_kafka_topic_partition_list_t *parts;
    int64_t *lo = NULL, *hi = NULL, lag_total = 0;
    rd_kafka_resp_err_t err;
    int i, committed_any = 0;

    if (n <= 0 || s->unanswered)
        return; /* show_topic() or give_up() said why */
    if (n > STATUS_MAX_PARTITIONS)
        n = STATUS_MAX_PARTITIONS;
    parts = rd_kafka_topic_partition_list_new(n);
    for (i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i);
    err = rd_kafka_committed(s->rk, parts, STATUS_TIMEOUT_MS);
    if (err) {
        printf("learner group %s: committed offsets unavailable\n",
               s->cfg->group_id);
        if (kafka_err_is_transient(err))
            give_up(s, rd_kafka_err2str(err));
        goto out;
    }
    if (ask_watermarks(s, topic, n, &lo, &hi) != 0) {
        printf("learner group %s: lag unknown, the offsets of %s %s cannot "
               "be read\n", s->cfg->group_id, role, topic);
        goto out;
    }

    printf("learner group %s, %s %s:\n", s->cfg->group_id, role, topic);
    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t low = lo[p->partition], high = hi[p->partition];

        if (p->offset >= 0) {
            committed_any = 1;
            lag_total += high - p->offset;
            printf("  partition %-3d committed %12lld of %12lld, lag %lld\n",
                   (int)p->partition, (long long)p->offset, (long long)high,
                   (long long)(high - p->offset));
        } else {
            lag_total += high - low;
            printf("  partition %-3d nothing committed yet, lag %lld\n",
                   (int)p->partition, (long long)(high - low));
        }
    }
    printf("  total lag %lld%s\n", (long long)lag_total,
           committed_any ? "" : " (the learner has not committed yet)");
out:
    free(lo);
    free(hi);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* --- latest records ---------------------------------------------------- */

static int64_t get_long(avro_value_t *rec, const char *name)
{
    avro_value_t v;
    int64_t x = -1;

    if (avro_value_get_by_name(rec, name, &v, NULL) == 0)
        (void)avro_value_get_long(&v, &x); /* left at -1 if not a long */
    return x;
}

/* Prints "name value" for each key of map that is present. */
static void show_map(avro_value_t *rec, const char *map_name,
                     const char *label)
{
    static const char *keys[] = {"accuracy", "logloss", "auc", "f1", "rmse",
                                 "mae", NULL};
    avro_value_t map, v;
    double x;
    int i;

    if (avro_value_get_by_name(rec, map_name, &map, NULL))
        return;
    printf("  %-11s", label);
    for (i = 0; keys[i]; i++)
        if (avro_value_get_by_name(&map, keys[i], &v, NULL) == 0 &&
            avro_value_get_double(&v, &x) == 0)
            printf(" %s %.4f", keys[i], x);
    printf("\n");
}

/* Reads the newest record keyed by the model name in topic into a new
 * value of the version of the schema in file that wrote it (*history,
 * which the caller destroys): an older riffle's record has the fields
 * read here too, and those it lacks read as absent. Returns 0 when one
 * was found (the caller then releases value with avro_value_decref()),
 * -1 when there is none or the topic cannot be read, -2 when it cannot be
 * decoded (said). */
static int latest(struct status *s, const char *topic, const char *file,
                  struct schema_history **history, struct buf *found,
                  avro_value_t *value)
{
    char path[CFG_PATH_MAX], errstr[512];
    const struct schema *writer;
    size_t n = 0;

    if (s->unanswered)
        return -2; /* give_up() said why */
    cfg_output_schema_path(s->cfg, file, path, sizeof(path));
    if (schema_history_new(path, history, errstr, sizeof(errstr)) ||
        topic_reader_latest_by_key(s->cfg->brokers, topic,
                                   s->cfg->model_name, found, 1, &n, errstr,
                                   sizeof(errstr))) {
        printf("  %s: %s\n", topic, errstr);
        s->failed = 1;
        return -1;
    }
    if (n == 0)
        return -1;
    if (schema_history_find(*history, found->data, found->len, &writer,
                            errstr, sizeof(errstr))) {
        printf("  %s: newest record unreadable: %s\n", topic, errstr);
        return -2;
    }
    if (schema_new_value(writer, value))
        return -1;
    if (schema_read_value(writer, found->data, found->len, value, errstr,
                          sizeof(errstr))) {
        printf("  %s: newest record unreadable: %s\n", topic, errstr);
        avro_value_decref(value);
        return -2;
    }
    return 0;
}

static void show_model(struct status *s)
{
    struct schema_history *history = NULL;
    struct buf found = {0};
    avro_value_t rec;

    int got = latest(s, s->cfg->topic_models, CFG_SCHEMA_SNAPSHOT, &history,
                     &found, &rec);

    if (got == 0) {
        printf("model %s: version %lld, snapshot %.0f s old (%s)\n",
               s->cfg->model_name, (long long)get_long(&rec, "version"),
               (double)(s->now_ms - get_long(&rec, "created_at_ms")) / 1000.0,
               s->cfg->topic_models);
        avro_value_decref(&rec);
    } else if (got == -1) {
        printf("model %s: no snapshot yet in %s\n", s->cfg->model_name,
               s->cfg->topic_models);
    }
    buf_free(&found);
    schema_history_destroy(history);
}

static void show_metrics(struct status *s)
{
    struct schema_history *history = NULL;
    struct buf found = {0};
    avro_value_t rec, v;
    const char *detector = "none";
    double rate = 0;
    int got;

    if (!s->cfg->topic_metrics[0])
        return;
    got = latest(s, s->cfg->topic_metrics, CFG_SCHEMA_METRICS, &history,
                 &found, &rec);
    if (got != 0) {
        if (got == -1)
            printf("metrics: no report yet in %s\n", s->cfg->topic_metrics);
        goto out;
    }
    if (avro_value_get_by_name(&rec, "drift_detector", &v, NULL) == 0)
        (void)avro_value_get_string(&v, &detector, NULL);
    if (avro_value_get_by_name(&rec, "error_rate_estimate", &v, NULL) == 0)
        (void)avro_value_get_double(&v, &rate);
    printf("metrics of model version %lld, reported %.0f s ago: %lld events, "
           "%lld dead letters\n", (long long)get_long(&rec, "model_version"),
           (double)(s->now_ms - get_long(&rec, "reported_at_ms")) / 1000.0,
           (long long)get_long(&rec, "events"),
           (long long)get_long(&rec, "dead_letters"));
    show_map(&rec, "cumulative", "progressive");
    show_map(&rec, "window", "recent");
    printf("  drift       %s, %lld alarms, error rate %.4f\n", detector,
           (long long)get_long(&rec, "drift_detections"), rate);
    avro_value_decref(&rec);
out:
    buf_free(&found);
    schema_history_destroy(history);
}

/* Whether any broker answers a request for the cluster's brokers
 * within STATUS_TIMEOUT_MS; says why not. With none answering, every
 * later ask would wait its bound in turn, topic after topic (100 s for
 * eight topics), and each topic would be listed as missing. */
static int brokers_answer(struct status *s)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(s->rk, 0, NULL, &md, STATUS_TIMEOUT_MS);

    if (err) {
        log_error("status", "the brokers (%s) do not answer within %d s: %s",
                  s->cfg->brokers, STATUS_TIMEOUT_MS / 1000,
                  rd_kafka_err2str(err));
        return 0;
    }
    rd_kafka_metadata_destroy(md);
    return 1;
}

/* --- command line ------------------------------------------------------ */

static rd_kafka_t *connect_group(const struct cfg *cfg)
{
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->brokers, "riffle-status",
                                           errstr, sizeof(errstr));
    rd_kafka_t *rk = NULL;

    if (conf && kafka_conf_set(conf, "group.id", cfg->group_id, errstr,
                               sizeof(errstr)) == 0 &&
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                       sizeof(errstr)) == 0) {
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        conf = rk ? NULL : conf;
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (!rk)
        log_error("status", "%s", errstr);
    return rk;
}

int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *brokers = NULL;
    struct status s = {0};
    int input_partitions, labels_partitions;
    int source_partitions[CFG_MAX_SOURCES];
    size_t i;
    struct cfg *cfg;
    int c;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:h", longopts)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'h') {
            printf("usage: riffle status -c CFG [--brokers B]\n"
                   "  the pipeline's topics, the learner's lag, the newest "
                   "model and metrics\n");
            return 0;
        } else {
            return 2; /* getopt said which; main points at --help */
        }
    }
    if (cli_refuse_operands("status", argc, argv, optind))
        return 2;
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return 2;
    }
    s.cfg = cfg;
    s.now_ms = kafka_now_ms();
    s.rk = connect_group(cfg);
    if (!s.rk) {
        free(cfg);
        return 1;
    }
    if (!brokers_answer(&s)) {
        rd_kafka_destroy(s.rk);
        free(cfg);
        return 1;
    }

    printf("pipeline %s, model %s, brokers %s (%s)\n\n", cfg->name,
           cfg->model_name, cfg->brokers, kafka_security_describe());
    /* Offsets, not records: transaction markers take offsets too. */
    printf("  %-13s %-40s %3s %12s\n", "topic", "name", "pts", "offsets");
    input_partitions = show_topic(&s, "input", cfg->topic_input);
    show_topic(&s, "predictions", cfg->topic_predictions);
    show_topic(&s, "dead letters", cfg->topic_dead_letters);
    show_topic(&s, "models", cfg->topic_models);
    show_topic(&s, "metrics", cfg->topic_metrics);
    show_topic(&s, "alerts", cfg->topic_alerts);
    show_topic(&s, "requests", cfg->serve_requests);
    show_topic(&s, "served", cfg->serve_predictions);
    /* The group reads labels and further sources with the input: a
     * learner behind on labels learns late, so their lag is shown too. */
    labels_partitions = show_topic(&s, "labels", cfg->labels.topic);
    for (i = 0; i < cfg->source_count && i < CFG_MAX_SOURCES; i++)
        source_partitions[i] = show_topic(&s, "source",
                                          cfg->sources[i].topic);
    show_topic(&s, "join", cfg->join.topic);
    show_topic(&s, "late", cfg->late_topic);
    printf("\n");
    show_lag(&s, "input", cfg->topic_input, input_partitions);
    if (cfg->labels.topic[0])
        show_lag(&s, "labels", cfg->labels.topic, labels_partitions);
    for (i = 0; i < cfg->source_count && i < CFG_MAX_SOURCES; i++)
        show_lag(&s, "source", cfg->sources[i].topic, source_partitions[i]);
    show_model(&s);
    show_metrics(&s);

    rd_kafka_destroy(s.rk);
    free(cfg);
    return s.failed ? 1 : 0;
}
