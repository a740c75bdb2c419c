/*
 * cli/cmd_watch.c - `riffle watch`: prints a pipeline topic as JSON lines.
 *
 * Reads outside any consumer group, so watching never moves the
 * learner's offsets. Each line is one message's Avro value decoded with
 * the topic's schema, for riffle's own topics the version of it that wrote
 * the record (schemas/history.h), so that the records an older riffle
 * wrote print as they were written; a message that does not decode is
 * printed as an error object with its coordinates instead of stopping the
 * watch.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/snapshot_chunks.h"
#include "consumers/topic_reader.h"
#include "learner/snapshot.h"
#include "schemas/history.h"
#include "schemas/json.h"

#define WATCH_POLL_MS 200      /* short enough to see a stop signal */
#define WATCH_MESSAGE_MAX 256  /* why one message cannot be shown */
#define WATCH_ERRSTR_MAX 512   /* why the watch cannot start */

struct watch {
    const char *topic;
    struct schema *schema; /* input events: the configured schema */
    struct schema_history *history; /* riffle's output topics */
    int flat; /* input events: decoded with the bounded flat decoder */
    avro_value_t value; /* a record of the current output schema */
    struct event ev;
    struct buf line;
    struct snapshot_chunks *chunks; /* models: reassembles large ones */
};

static int pick_topic(const struct cfg *cfg, const char *which,
                      struct watch *w, char *errstr, size_t size)
{
    char schema_path[CFG_PATH_MAX];
    int err;

    if (strcmp(which, "predictions") == 0) {
        w->topic = cfg->topic_predictions;
        cfg_output_schema_path(cfg, CFG_SCHEMA_PREDICTION, schema_path,
                               sizeof(schema_path));
    } else if (strcmp(which, "dead-letters") == 0) {
        w->topic = cfg->topic_dead_letters;
        cfg_output_schema_path(cfg, CFG_SCHEMA_DEAD_LETTER, schema_path,
                               sizeof(schema_path));
    } else if (strcmp(which, "models") == 0) {
        w->topic = cfg->topic_models;
        cfg_output_schema_path(cfg, CFG_SCHEMA_SNAPSHOT, schema_path,
                               sizeof(schema_path));
    } else if (strcmp(which, "metrics") == 0 && cfg->topic_metrics[0]) {
        w->topic = cfg->topic_metrics;
        cfg_output_schema_path(cfg, CFG_SCHEMA_METRICS, schema_path,
                               sizeof(schema_path));
    } else if (strcmp(which, "alerts") == 0 && cfg->topic_alerts[0]) {
        w->topic = cfg->topic_alerts;
        cfg_output_schema_path(cfg, CFG_SCHEMA_ALERT, schema_path,
                               sizeof(schema_path));
    } else if (strcmp(which, "input") == 0) {
        w->topic = cfg->topic_input;
        snprintf(schema_path, sizeof(schema_path), "%s", cfg->schema_path);
        w->flat = 1;
    } else if (strcmp(which, "requests") == 0 && cfg->serve_requests[0]) {
        w->topic = cfg->serve_requests;
        snprintf(schema_path, sizeof(schema_path), "%s", cfg->schema_path);
        w->flat = 1;
    } else if (strcmp(which, "served") == 0 && cfg->serve_predictions[0]) {
        w->topic = cfg->serve_predictions;
        cfg_output_schema_path(cfg, CFG_SCHEMA_PREDICTION, schema_path,
                               sizeof(schema_path));
    } else {
        snprintf(errstr, size, "unknown topic '%s': expected predictions, "
                 "dead-letters, models, metrics, alerts, input, requests or "
                 "served (metrics, alerts and the serve topics when the "
                 "configuration names them)", which);
        return RIFFLE_ERR_USAGE;
    }

    /* Output schemas live beside source.schema: name that setting. */
    if (w->flat)
        err = schema_load_file(schema_path, &w->schema, errstr, size);
    else
        err = schema_history_new(schema_path, &w->history, errstr, size);
    if (err)
        cfg_schema_error(cfg, errstr, size);
    return err;
}

/* The line for a message that cannot be shown: why, and where it is. */
static int append_error_line(struct watch *w, const rd_kafka_message_t *msg,
                             const char *why)
{
    int err;

    buf_reset(&w->line);
    err = buf_printf(&w->line, "{\"error\":");
    if (!err)
        err = buf_append_json_string(&w->line, why);
    if (!err)
        err = buf_printf(&w->line, ",\"topic\":\"%s\",\"partition\":%d,"
                         "\"offset\":%lld}", w->topic, (int)msg->partition,
                         (long long)msg->offset);
    return err;
}

/* value (of writer) as a JSON line into w->line, or why not. */
static int append_value(struct watch *w, const struct schema *writer,
                        avro_value_t *value, const void *data, size_t len,
                        char *why, size_t size)
{
    int err = schema_read_value(writer, data, len, value, why, size);

    if (err)
        return err;
    err = json_append_value(&w->line, value);
    if (err)
        snprintf(why, size, "cannot print as JSON: %s", riffle_err_str(err));
    return err;
}

/* A record of an output topic as a JSON line into w->line, read with the
 * version of the schema that wrote it: a topic keeps the records of an
 * older riffle after an upgrade, and the current schema cannot read
 * them. Sets *older when that version is not the current one. On the
 * model topic a snapshot of the current version is left to the caller
 * (append_snapshot()), which also knows the formats compiled in. */
static int append_output(struct watch *w, const void *data, size_t len,
                         int *older, char *why, size_t size)
{
    const struct schema *writer;
    avro_value_t value;
    int err = schema_history_find(w->history, data, len, &writer, why, size);

    *older = 0;
    if (err)
        return err;
    if (writer == schema_history_current(w->history))
        return w->chunks ? 0 : append_value(w, writer, &w->value, data, len,
                                            why, size);

    *older = 1;
    err = schema_new_value(writer, &value);
    if (err) {
        snprintf(why, size, "%s", riffle_err_str(err));
        return err;
    }
    err = append_value(w, writer, &value, data, len, why, size);
    avro_value_decref(&value);
    return err;
}

/* A snapshot as a JSON line into w->line, read with the schema it was
 * written with: from the history, or else the older formats the learner
 * itself still restores (learner/snapshot.c), which need no history
 * folder. */
static int append_snapshot(struct watch *w, const void *data, size_t len,
                           char *why, size_t size)
{
    struct schema *legacy;
    avro_value_t rec;
    int older;
    int err = append_output(w, data, len, &older, why, size);

    if (err || older)
        return err;
    err = snapshot_read_value(schema_history_current(w->history), data, len,
                              &rec, &legacy, why, size);
    if (err)
        return err;
    err = json_append_value(&w->line, &rec);
    if (err)
        snprintf(why, size, "cannot print as JSON: %s", riffle_err_str(err));
    avro_value_decref(&rec);
    schema_destroy(legacy);
    return err;
}

/* Prints one value (of msg, or reassembled up to msg) as a JSON line, or
 * an error object in its place. Returns 0, or RIFFLE_ERR_NOMEM when not
 * even that line fits. */
static int print_value(struct watch *w, const rd_kafka_message_t *msg,
                       const void *data, size_t len)
{
    char why[WATCH_MESSAGE_MAX];
    int older, err;

    buf_reset(&w->line);
    if (w->chunks) {
        err = append_snapshot(w, data, len, why, sizeof(why));
    } else if (!w->flat) {
        err = append_output(w, data, len, &older, why, sizeof(why));
    } else {
        err = schema_decode_event(w->schema, data, len, &w->ev, why,
                                  sizeof(why));
        if (!err) {
            err = json_append_event(&w->line, w->schema, &w->ev);
            if (err)
                snprintf(why, sizeof(why), "cannot print as JSON: %s",
                         riffle_err_str(err));
        }
    }
    if (err) {
        err = append_error_line(w, msg, why);
        if (err)
            return err;
    }

    /* A failed write to stdout is not checked line by line: a reader
     * that went away ends the process with SIGPIPE. */
    (void)fwrite(w->line.data, 1, w->line.len, stdout);
    (void)fputc('\n', stdout);
    return 0;
}

/* Prints msg; on the model topic, only snapshots made whole (chunks are
 * gathered silently, a broken chunked snapshot shows as an error). Sets
 * *shown when a line was printed. */
static int print_message(struct watch *w, const rd_kafka_message_t *msg,
                         int *shown)
{
    const struct buf *value = NULL;
    char why[WATCH_MESSAGE_MAX];
    int rc;

    *shown = 1;
    if (!w->chunks)
        return print_value(w, msg, msg->payload, msg->len);

    rc = snapshot_chunks_feed(w->chunks, msg, &value, why, sizeof(why));
    if (rc == 1)
        return print_value(w, msg, value->data, value->len);
    if (rc == RIFFLE_ERR_SNAPSHOT) {
        rc = append_error_line(w, msg, why);
        if (!rc) {
            (void)fwrite(w->line.data, 1, w->line.len, stdout);
            (void)fputc('\n', stdout);
        }
        return rc;
    }
    *shown = 0;
    return rc;
}

static void usage(void)
{
    printf("usage: riffle watch -c CFG [--brokers B] [--from-end] "
           "[--limit N] [--idle-exit S] TOPIC\n"
           "  TOPIC          predictions, dead-letters, models, metrics, "
           "alerts, input,\n"
           "                 requests or served (riffle serve's "
           "predictions)\n"
           "  --from-end     only messages that arrive from now on\n"
           "  --limit N      stop after N messages\n"
           "  --idle-exit S  stop after S seconds at the end of the topic\n");
}

struct watch_options {
    const char *config;  /* -c */
    const char *brokers; /* may be NULL: kafka.brokers */
    const char *which;   /* TOPIC */
    int from_start;
    long long limit;     /* 0: no limit */
    double idle_exit;    /* seconds; 0: follow for ever */
};

#define WATCH_OPTIONS_OK 0
#define WATCH_OPTIONS_HELP 1 /* usage printed: exit 0 */
#define WATCH_OPTIONS_BAD 2  /* exit status of a usage error */

static int parse_options(int argc, char **argv, struct watch_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"from-end", no_argument, NULL, 'e'},
        {"limit", required_argument, NULL, 'l'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    memset(o, 0, sizeof(*o));
    o->from_start = 1;
    optind = 1;
    for (;;) {
        c = cli_getopt(argc, argv, "c:b:el:i:h", longopts);
        if (c == -1)
            break;
        if (c == 'c')
            o->config = optarg;
        else if (c == 'b')
            o->brokers = optarg;
        else if (c == 'e')
            o->from_start = 0;
        else if (c == 'l')
            bad |= cli_parse_count("--limit", optarg, &o->limit);
        else if (c == 'i')
            bad |= cli_parse_seconds("--idle-exit", optarg, &o->idle_exit);
        else if (c == 'h') {
            usage();
            return WATCH_OPTIONS_HELP;
        } else
            bad = 1;
    }
    if (bad)
        return WATCH_OPTIONS_BAD;
    if (optind != argc - 1) {
        if (optind >= argc)
            fprintf(stderr, "riffle watch: expected a TOPIC\n");
        else
            fprintf(stderr, "riffle watch: expected one TOPIC, got %d\n",
                    argc - optind);
        return WATCH_OPTIONS_BAD; /* main points at --help */
    }
    o->which = argv[optind];
    return WATCH_OPTIONS_OK;
}

/* Prints messages until the limit, the idle timeout or a stop signal. */
static int watch_loop(struct watch *w, struct topic_reader *r,
                      const struct watch_options *o)
{
    long long seen = 0;
    double last = kafka_monotonic_s();
    int err = 0;

    while (!err && !cli_stop_requested && (o->limit == 0 || seen < o->limit)) {
        rd_kafka_message_t *msg = topic_reader_next(r, w->topic,
                                                    WATCH_POLL_MS);

        if (!msg) {
            if (o->idle_exit > 0 && topic_reader_at_end(r) &&
                kafka_monotonic_s() - last >= o->idle_exit)
                break;
            continue;
        }
        last = kafka_monotonic_s();
        if (msg->err) {
            log_warn("watch", "%s [%d]: %s", w->topic, (int)msg->partition,
                     rd_kafka_message_errstr(msg));
        } else {
            int shown = 0;

            err = print_message(w, msg, &shown);
            seen += shown;
        }
        rd_kafka_message_destroy(msg);
    }
    (void)fflush(stdout); /* as in print_message: SIGPIPE ends a dead pipe */
    return err;
}

static void watch_free(struct watch *w)
{
    if (w->history && w->value.iface)
        avro_value_decref(&w->value);
    schema_destroy(w->schema);
    schema_history_destroy(w->history);
    event_free(&w->ev);
    buf_free(&w->line);
    snapshot_chunks_destroy(w->chunks);
}

int cmd_watch(int argc, char **argv)
{
    struct watch_options o;
    struct watch w;
    struct topic_reader *r = NULL;
    struct cfg *cfg;
    char errstr[WATCH_ERRSTR_MAX] = "";
    int err = parse_options(argc, argv, &o);

    if (err != WATCH_OPTIONS_OK)
        return err == WATCH_OPTIONS_HELP ? 0 : WATCH_OPTIONS_BAD;
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(o.config, o.brokers, cfg)) {
        free(cfg);
        return WATCH_OPTIONS_BAD;
    }

    memset(&w, 0, sizeof(w));
    err = pick_topic(cfg, o.which, &w, errstr, sizeof(errstr));
    if (!err && !w.flat && w.topic != cfg->topic_models)
        err = schema_new_value(schema_history_current(w.history), &w.value);
    if (!err && w.topic == cfg->topic_models)
        err = snapshot_chunks_new(cfg->model_name, &w.chunks);
    if (!err)
        err = topic_reader_new(cfg->brokers, w.topic, o.from_start, &r,
                               errstr, sizeof(errstr));
    if (!err) {
        /* --from-start may read a long backlog: see
         * topic_reader_set_refill(). */
        topic_reader_set_refill(r, 1);
        err = watch_loop(&w, r, &o);
    }

    if (err)
        log_error("watch", "%s", errstr[0] ? errstr : riffle_err_str(err));
    topic_reader_destroy(r);
    watch_free(&w);
    free(cfg);
    return err ? 1 : 0;
}
