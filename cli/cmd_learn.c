/*
 * cli/cmd_learn.c - `riffle learn`: the streaming learner.
 *
 * Restores the latest good snapshot of the model, joins the consumer
 * group on the input topic from the snapshot's offsets, and for each
 * message runs learner/online.c and publishes the prediction or the dead
 * letter. Every N events or T seconds, and on a clean stop, it publishes
 * a snapshot, waits until everything produced so far is acknowledged,
 * and only then commits the offsets the snapshot records: a crash
 * replays from the last snapshot and never skips an event.
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
#include "common/numfmt.h"
#include "consumers/consumer.h"
#include "consumers/topic_reader.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/publisher.h"

#define LEARN_POLL_MS 100          /* short enough to see a stop quickly */
#define LEARN_FLUSH_TIMEOUT_MS 60000 /* acks for a snapshot's batch */
#define LEARN_RESTORE_CANDIDATES 3 /* older snapshots tried if one is bad */

struct learn_options {
    const char *config;
    const char *brokers;
    long long max_events; /* stop after this many; 0 = no limit */
    const char *snapshot_file; /* start from it when the topic has none */
    double idle_exit_s;   /* stop when caught up and idle; 0 = never */
};

struct learn {
    struct cfg cfg;
    struct learn_options opt;
    struct schema *input, *prediction, *dead_letter, *snapshot;
    struct online_learner *ol;
    struct publisher *pub;
    struct consumer *consumer;
    avro_value_t pred_value, dlq_value;
    int values_ready;
    struct buf out;
    struct snapshot_offset offsets[SNAPSHOT_MAX_OFFSETS];
    size_t offset_count;
    /* counters */
    unsigned long long processed, predicted, dead_lettered;
    unsigned long long since_snapshot;
    double last_snapshot_s, last_message_s;
    double progress_s; /* when the last progress line was logged */
    unsigned long long progress_events;
};

static int load_output_schema(const struct cfg *cfg, const char *file,
                              struct schema **out, char *errstr, size_t size)
{
    char path[CFG_PATH_MAX];

    cfg_output_schema_path(cfg, file, path, sizeof(path));
    return schema_load_file(path, out, errstr, size);
}

static int load_schemas(struct learn *l, char *errstr, size_t size)
{
    int err;

    if ((err = schema_load_file(l->cfg.schema_path, &l->input, errstr,
                                size)) ||
        (err = load_output_schema(&l->cfg, CFG_SCHEMA_PREDICTION,
                                  &l->prediction, errstr, size)) ||
        (err = load_output_schema(&l->cfg, CFG_SCHEMA_DEAD_LETTER,
                                  &l->dead_letter, errstr, size)) ||
        (err = load_output_schema(&l->cfg, CFG_SCHEMA_SNAPSHOT, &l->snapshot,
                                  errstr, size)))
        return err;

    if ((err = schema_new_value(l->prediction, &l->pred_value)))
        return err;
    if ((err = schema_new_value(l->dead_letter, &l->dlq_value))) {
        avro_value_decref(&l->pred_value);
        return err;
    }
    l->values_ready = 1;
    return 0;
}

/* Tries the newest snapshots first; a bad one is skipped with a warning
 * so that one corrupt message cannot keep the learner from starting. */
static int restore_snapshot(struct learn *l, char *errstr, size_t size)
{
    struct buf found[LEARN_RESTORE_CANDIDATES];
    struct snapshot_info info;
    size_t n = 0, i;
    int err, restored = 0;

    memset(found, 0, sizeof(found));
    err = topic_reader_latest_by_key(l->cfg.brokers, l->cfg.topic_models,
                                     l->cfg.model_name, found,
                                     LEARN_RESTORE_CANDIDATES, &n, errstr,
                                     size);
    if (err)
        return err;

    for (i = 0; i < n && !restored; i++) {
        char why[512];

        if (snapshot_restore(l->snapshot, l->ol, found[i].data, found[i].len,
                             l->offsets, SNAPSHOT_MAX_OFFSETS,
                             &l->offset_count, &info, why,
                             sizeof(why)) == 0) {
            restored = 1;
            log_info("learn", "restored model %s version %lld from %s: %llu "
                     "events seen, accuracy %.4f, %zu partition offset(s)",
                     l->cfg.model_name, (long long)info.version,
                     l->cfg.topic_models,
                     (unsigned long long)info.metrics.count,
                     info.metrics.count
                         ? (double)info.metrics.correct / info.metrics.count
                         : 0.0,
                     l->offset_count);
        } else {
            log_warn("learn", "%s: skipping snapshot %zu of model %s: %s",
                     l->cfg.topic_models, i + 1, l->cfg.model_name, why);
        }
    }
    for (i = 0; i < n; i++)
        buf_free(&found[i]);
    if (restored)
        return 0;

    if (l->opt.snapshot_file) {
        err = snapshot_load_file(l->snapshot, l->ol, l->opt.snapshot_file,
                                 l->offsets, SNAPSHOT_MAX_OFFSETS,
                                 &l->offset_count, &info, errstr, size);
        if (!err)
            log_info("learn", "restored model %s version %lld from %s",
                     l->cfg.model_name, (long long)info.version,
                     l->opt.snapshot_file);
        return err;
    }
    if (n == 0)
        log_info("learn", "no snapshot of model %s in %s: starting fresh",
                 l->cfg.model_name, l->cfg.topic_models);
    else
        log_warn("learn", "no usable snapshot of model %s: starting fresh",
                 l->cfg.model_name);
    return 0;
}

static int set_str(avro_value_t *rec, const char *name, const char *v)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL))
        return -1;
    return avro_value_set_string(&f, v);
}

static int set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL))
        return -1;
    return avro_value_set_long(&f, v);
}

static int set_int(avro_value_t *rec, const char *name, int32_t v)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL))
        return -1;
    return avro_value_set_int(&f, v);
}

/* Sets a ["null", X] union: branch 0 for NULL, else branch 1. */
static int set_opt_str(avro_value_t *rec, const char *name, const char *v)
{
    avro_value_t f, branch;

    if (avro_value_get_by_name(rec, name, &f, NULL) ||
        avro_value_set_branch(&f, v ? 1 : 0, &branch))
        return -1;
    return v ? avro_value_set_string(&branch, v) : avro_value_set_null(&branch);
}

/* The name of the predicted class, or the predicted value as text. */
static const char *predicted_label(const struct cfg *cfg,
                                   const struct online_result *r, char *tmp,
                                   size_t size)
{
    const struct cfg_field *label = NULL;
    size_t i;

    if (cfg->task == CFG_TASK_REGRESSION)
        return numfmt_double(r->value, tmp, size);
    if (cfg->task == CFG_TASK_MULTICLASS)
        return cfg->classes[r->predicted_class];

    for (i = 0; i < cfg->field_count && !label; i++)
        if (cfg->fields[i].kind == CFG_FIELD_LABEL)
            label = &cfg->fields[i];
    if (r->predicted_class)
        return label->positive[0];
    return label->negative_count ? label->negative[0] : "0";
}

/* Sets a ["null", "double"] union: null for NaN. */
static int set_opt_double(avro_value_t *rec, const char *name, double v)
{
    avro_value_t f, branch;

    if (avro_value_get_by_name(rec, name, &f, NULL) ||
        avro_value_set_branch(&f, isnan(v) ? 0 : 1, &branch))
        return -1;
    return isnan(v) ? avro_value_set_null(&branch)
                    : avro_value_set_double(&branch, v);
}

static int publish_prediction(struct learn *l, const rd_kafka_message_t *msg,
                              const struct online_result *r, char *errstr,
                              size_t size)
{
    avro_value_t *v = &l->pred_value;
    avro_value_t f;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
    char tmp[NUMFMT_MAX];
    int err;

    if (set_str(v, "event_id", r->event_id) ||
        set_str(v, "model_name", l->cfg.model_name) ||
        set_long(v, "model_version", (int64_t)r->model_version) ||
        set_opt_double(v, "probability", r->probability) ||
        avro_value_get_by_name(v, "value", &f, NULL) ||
        avro_value_set_double(&f, r->value) ||
        set_int(v, "predicted_class", r->predicted_class) ||
        set_str(v, "predicted_label",
                predicted_label(&l->cfg, r, tmp, sizeof(tmp))) ||
        set_opt_str(v, "label", r->label_text) ||
        set_str(v, "source_topic", rd_kafka_topic_name(msg->rkt)) ||
        set_int(v, "source_partition", msg->partition) ||
        set_long(v, "source_offset", msg->offset) ||
        set_long(v, "event_timestamp_ms", ts) ||
        set_long(v, "predicted_at_ms", kafka_now_ms())) {
        snprintf(errstr, size, "cannot fill prediction: %s", avro_strerror());
        return RIFFLE_ERR_SCHEMA;
    }

    buf_reset(&l->out);
    err = schema_write_value(l->prediction, v, &l->out, errstr, size);
    if (err)
        return err;
    return publisher_send(l->pub, l->cfg.topic_predictions, r->event_id,
                          strlen(r->event_id), l->out.data, l->out.len, NULL,
                          errstr, size);
}

static rd_kafka_headers_t *dead_letter_headers(const rd_kafka_message_t *msg,
                                               const struct online_result *r)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    char partition[16], offset[32];

    snprintf(partition, sizeof(partition), "%d", (int)msg->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)msg->offset);
    rd_kafka_header_add(h, "riffle.reason", -1, r->verdict.reason, -1);
    rd_kafka_header_add(h, "riffle.field", -1, r->verdict.field, -1);
    rd_kafka_header_add(h, "riffle.source.topic", -1,
                        rd_kafka_topic_name(msg->rkt), -1);
    rd_kafka_header_add(h, "riffle.source.partition", -1, partition, -1);
    rd_kafka_header_add(h, "riffle.source.offset", -1, offset, -1);
    return h;
}

/* The original bytes go along only when no field is personal: otherwise
 * they could carry raw personal values. The source coordinates still
 * point at the original, so nothing is lost. */
static int set_payload(struct learn *l, avro_value_t *v,
                       const rd_kafka_message_t *msg)
{
    avro_value_t f, branch;
    int keep = !cfg_has_personal_fields(&l->cfg) && msg->payload;

    if (avro_value_get_by_name(v, "payload", &f, NULL) ||
        avro_value_set_branch(&f, keep ? 1 : 0, &branch))
        return -1;
    if (!keep)
        return avro_value_set_null(&branch);
    return avro_value_set_bytes(&branch, msg->payload, msg->len);
}

static int publish_dead_letter(struct learn *l, const rd_kafka_message_t *msg,
                               const struct online_result *r, char *errstr,
                               size_t size)
{
    avro_value_t *v = &l->dlq_value;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
    int err;

    if (set_str(v, "reason", r->verdict.reason) ||
        set_opt_str(v, "field", r->verdict.field[0] ? r->verdict.field : NULL) ||
        set_str(v, "detail", r->verdict.detail) ||
        set_opt_str(v, "event_id", r->event_id) ||
        set_str(v, "source_topic", rd_kafka_topic_name(msg->rkt)) ||
        set_int(v, "source_partition", msg->partition) ||
        set_long(v, "source_offset", msg->offset) ||
        set_long(v, "source_timestamp_ms", ts) || set_payload(l, v, msg) ||
        set_long(v, "dead_lettered_at_ms", kafka_now_ms())) {
        snprintf(errstr, size, "cannot fill dead letter: %s",
                 avro_strerror());
        return RIFFLE_ERR_SCHEMA;
    }

    buf_reset(&l->out);
    err = schema_write_value(l->dead_letter, v, &l->out, errstr, size);
    if (err)
        return err;
    return publisher_send(l->pub, l->cfg.topic_dead_letters, msg->key,
                          msg->key_len, l->out.data, l->out.len,
                          dead_letter_headers(msg, r), errstr, size);
}

static int handle_message(struct learn *l, const rd_kafka_message_t *msg,
                          char *errstr, size_t size)
{
    struct online_result r;
    int err;

    err = online_process(l->ol, msg->payload ? msg->payload : "", msg->len,
                         &r);
    if (err) {
        snprintf(errstr, size, "%s [%d] @%lld: %s",
                 rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                 (long long)msg->offset, riffle_err_str(err));
        return err;
    }

    if (r.dead_letter) {
        log_debug("learn", "%s [%d] @%lld: dead letter: %s %s: %s",
                  rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                  (long long)msg->offset, r.verdict.reason, r.verdict.field,
                  r.verdict.detail);
        l->dead_lettered++;
        return publish_dead_letter(l, msg, &r, errstr, size);
    }
    l->predicted++;
    return publish_prediction(l, msg, &r, errstr, size);
}

/* The rate is over the events since the previous line, so it shows the
 * current pace, not an average diluted by waiting for the first event. */
static void log_progress(struct learn *l)
{
    double now = kafka_monotonic_s(), elapsed = now - l->progress_s;
    unsigned long long events = l->processed - l->progress_events;
    struct buf total = {0}, window = {0};

    (void)online_metrics_json(l->ol, 0, &total); /* empty if no memory */
    (void)online_metrics_json(l->ol, 1, &window);
    log_info("learn", "%llu events (%llu predicted, %llu dead letters), "
             "%.0f events/s; progressive {%s}; last %u {%s}", l->processed,
             l->predicted, l->dead_lettered,
             elapsed > 0 ? events / elapsed : 0.0,
             total.data ? total.data : "", online_metrics(l->ol)->window_len,
             window.data ? window.data : "");
    buf_free(&total);
    buf_free(&window);
    l->progress_s = now;
    l->progress_events = l->processed;
}

/* Snapshot, then wait for every ack, then commit: in that order, so the
 * committed offsets never run ahead of what is safely published. */
static int take_snapshot(struct learn *l, char *errstr, size_t size)
{
    const char *key = l->cfg.model_name;
    int err;

    consumer_positions(l->consumer, l->offsets, SNAPSHOT_MAX_OFFSETS,
                       &l->offset_count);
    buf_reset(&l->out);
    err = snapshot_encode(l->snapshot, l->ol, l->offsets, l->offset_count,
                          kafka_now_ms(), &l->out, errstr, size);
    if (!err)
        err = publisher_send(l->pub, l->cfg.topic_models, key, strlen(key),
                             l->out.data, l->out.len, NULL, errstr, size);
    if (!err)
        err = publisher_flush(l->pub, LEARN_FLUSH_TIMEOUT_MS, errstr, size);
    if (!err)
        err = consumer_commit(l->consumer, l->offsets, l->offset_count,
                              errstr, size);
    if (err)
        return err;

    log_info("learn", "snapshot of model %s version %llu published to %s "
             "(%zu bytes)", key,
             (unsigned long long)model_update_count(online_model(l->ol)),
             l->cfg.topic_models, l->out.len);
    l->since_snapshot = 0;
    l->last_snapshot_s = kafka_monotonic_s();
    return 0;
}

static int snapshot_due(const struct learn *l)
{
    if (l->since_snapshot == 0)
        return 0;
    return l->since_snapshot >= (unsigned long long)l->cfg.snapshot_every_events ||
           kafka_monotonic_s() - l->last_snapshot_s >=
               l->cfg.snapshot_every_seconds;
}

static int should_stop(const struct learn *l)
{
    if (cli_stop_requested)
        return 1;
    if (l->opt.max_events > 0 &&
        l->processed >= (unsigned long long)l->opt.max_events)
        return 1;
    return l->opt.idle_exit_s > 0 && consumer_caught_up(l->consumer) &&
           kafka_monotonic_s() - l->last_message_s >= l->opt.idle_exit_s;
}

static int run_loop(struct learn *l, char *errstr, size_t size)
{
    int err = 0;

    l->last_snapshot_s = l->last_message_s = kafka_monotonic_s();

    while (!err && !should_stop(l)) {
        rd_kafka_message_t *msg = consumer_poll(l->consumer, LEARN_POLL_MS);

        if (msg && msg->err) {
            log_warn("learn", "%s [%d]: %s",
                     msg->rkt ? rd_kafka_topic_name(msg->rkt) : "-",
                     (int)msg->partition, rd_kafka_message_errstr(msg));
        } else if (msg) {
            if (l->processed == l->progress_events && l->processed == 0)
                l->progress_s = kafka_monotonic_s(); /* first event */
            err = handle_message(l, msg, errstr, size);
            if (!err) {
                consumer_mark_done(l->consumer, msg);
                l->processed++;
                l->since_snapshot++;
                l->last_message_s = kafka_monotonic_s();
                if (l->processed % (unsigned long long)l->cfg.progress_every_events == 0)
                    log_progress(l);
            }
        }
        if (msg)
            rd_kafka_message_destroy(msg);
        publisher_poll(l->pub);

        if (!err && snapshot_due(l))
            err = take_snapshot(l, errstr, size);
    }

    if (!err && l->since_snapshot > 0)
        err = take_snapshot(l, errstr, size);
    return err;
}

static int parse_options(int argc, char **argv, struct learn_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"max-events", required_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"from-snapshot", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:n:i:s:h", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'b':
            o->brokers = optarg;
            break;
        case 'n':
            o->max_events = atoll(optarg);
            break;
        case 'i':
            o->idle_exit_s = atof(optarg);
            break;
        case 's':
            o->snapshot_file = optarg;
            break;
        case 'h':
            printf("usage: riffle learn -c CFG [--brokers B] "
                   "[--max-events N] [--idle-exit SECONDS] "
                   "[--from-snapshot FILE]\n"
                   "  --max-events N     stop (with a snapshot) after N "
                   "events\n"
                   "  --idle-exit S      stop once caught up and idle for S "
                   "seconds\n"
                   "  --from-snapshot F  start from this snapshot file (e.g. "
                   "from riffle train)\n"
                   "                     when the model topic has none\n");
            return 1;
        default:
            return -1;
        }
    }
    return 0;
}

/* One JSON line on stdout for scripts: counts and cumulative metrics. */
static void print_summary(struct learn *l)
{
    struct buf metrics = {0};

    (void)online_metrics_json(l->ol, 0, &metrics); /* empty if no memory */
    printf("{\"processed\":%llu,\"predicted\":%llu,\"dead_letters\":%llu,"
           "%s,\"model_version\":%llu}\n", l->processed, l->predicted,
           l->dead_lettered, metrics.data ? metrics.data : "\"metrics\":null",
           (unsigned long long)model_update_count(online_model(l->ol)));
    buf_free(&metrics);
}

static void learn_free(struct learn *l)
{
    consumer_destroy(l->consumer);
    publisher_destroy(l->pub);
    online_destroy(l->ol);
    if (l->values_ready) {
        avro_value_decref(&l->pred_value);
        avro_value_decref(&l->dlq_value);
    }
    schema_destroy(l->input);
    schema_destroy(l->prediction);
    schema_destroy(l->dead_letter);
    schema_destroy(l->snapshot);
    buf_free(&l->out);
    free(l);
}

int cmd_learn(int argc, char **argv)
{
    struct learn *l = calloc(1, sizeof(*l));
    char errstr[512] = "";
    int rc, err;

    if (!l)
        return 1;
    rc = parse_options(argc, argv, &l->opt);
    if (rc != 0 || cli_load_config(l->opt.config, l->opt.brokers, &l->cfg)) {
        learn_free(l);
        return rc > 0 ? 0 : 2;
    }

    err = load_schemas(l, errstr, sizeof(errstr));
    if (!err)
        err = online_new(&l->cfg, l->input, &l->ol, errstr, sizeof(errstr));
    if (!err)
        err = restore_snapshot(l, errstr, sizeof(errstr));
    if (!err)
        err = publisher_new(l->cfg.brokers, "riffle-learner", &l->pub, errstr,
                            sizeof(errstr));
    if (!err)
        err = consumer_new(l->cfg.brokers, l->cfg.group_id,
                           l->cfg.topic_input, l->offsets, l->offset_count,
                           &l->consumer, errstr, sizeof(errstr));
    if (!err) {
        log_info("learn", "pipeline %s: %s -> %s (dead letters %s, models "
                 "%s)", l->cfg.name, l->cfg.topic_input,
                 l->cfg.topic_predictions, l->cfg.topic_dead_letters,
                 l->cfg.topic_models);
        err = run_loop(l, errstr, sizeof(errstr));
    }

    if (err)
        log_error("learn", "%s", errstr[0] ? errstr : riffle_err_str(err));
    else {
        log_progress(l);
        print_summary(l);
    }
    learn_free(l);
    return err ? 1 : 0;
}
