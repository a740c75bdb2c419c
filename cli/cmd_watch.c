/*
 * cli/cmd_watch.c - `riffle watch`: prints a pipeline topic as JSON lines.
 *
 * Reads outside any consumer group, so watching never moves the
 * learner's offsets. Each line is one message's Avro value decoded with
 * the topic's schema; a message that does not decode is printed as an
 * error object with its coordinates instead of stopping the watch.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/topic_reader.h"
#include "schemas/json.h"

#define WATCH_POLL_MS 200

struct watch {
    const char *topic;
    struct schema *schema;
    int flat; /* input events: decoded with the bounded flat decoder */
    avro_value_t value;
    struct event ev;
    struct buf line;
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
    } else {
        snprintf(errstr, size, "unknown topic '%s': expected predictions, "
                 "dead-letters, models, metrics, alerts or input (metrics "
                 "and alerts when the configuration names them)", which);
        return RIFFLE_ERR_USAGE;
    }

    /* Output schemas live beside source.schema: name that setting. */
    err = schema_load_file(schema_path, &w->schema, errstr, size);
    if (err)
        cfg_schema_error(cfg, errstr, size);
    return err;
}

static void print_message(struct watch *w, const rd_kafka_message_t *msg)
{
    char why[256];
    int err;

    buf_reset(&w->line);
    if (w->flat)
        err = schema_decode_event(w->schema, msg->payload, msg->len, &w->ev,
                                  why, sizeof(why));
    else
        err = schema_read_value(w->schema, msg->payload, msg->len, &w->value,
                                why, sizeof(why));
    if (!err) {
        err = w->flat ? json_append_event(&w->line, w->schema, &w->ev)
                      : json_append_value(&w->line, &w->value);
        if (err)
            snprintf(why, sizeof(why), "cannot print as JSON: %s",
                     riffle_err_str(err));
    }

    if (err) {
        buf_reset(&w->line);
        buf_printf(&w->line, "{\"error\":");
        buf_append_json_string(&w->line, why);
        buf_printf(&w->line, ",\"topic\":\"%s\",\"partition\":%d,"
                   "\"offset\":%lld}", w->topic, (int)msg->partition,
                   (long long)msg->offset);
    }
    fwrite(w->line.data, 1, w->line.len, stdout);
    fputc('\n', stdout);
}

static void usage(void)
{
    printf("usage: riffle watch -c CFG [--brokers B] [--from-end] "
           "[--limit N] [--idle-exit S] TOPIC\n"
           "  TOPIC          predictions, dead-letters, models, metrics, "
           "alerts or input\n"
           "  --from-end     only messages that arrive from now on\n"
           "  --limit N      stop after N messages\n"
           "  --idle-exit S  stop after S seconds at the end of the topic\n");
}

int cmd_watch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"from-end", no_argument, NULL, 'e'},
        {"limit", required_argument, NULL, 'l'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *brokers = NULL;
    long long limit = 0, seen = 0;
    double idle_exit = 0, last = 0;
    int from_start = 1, c, err, bad = 0;
    struct watch w;
    struct topic_reader *r = NULL;
    struct cfg *cfg = malloc(sizeof(*cfg));
    char errstr[512] = "";

    memset(&w, 0, sizeof(w));
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:el:i:h", longopts, NULL)) !=
           -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'e')
            from_start = 0;
        else if (c == 'l')
            bad |= cli_parse_count("--limit", optarg, &limit);
        else if (c == 'i')
            bad |= cli_parse_seconds("--idle-exit", optarg, &idle_exit);
        else if (c == 'h') {
            usage();
            free(cfg);
            return 0;
        } else
            bad = 1;
    }
    if (bad) {
        free(cfg);
        return 2;
    }
    if (optind != argc - 1) {
        usage();
        free(cfg);
        return 2;
    }
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return 2;
    }

    err = pick_topic(cfg, argv[optind], &w, errstr, sizeof(errstr));
    if (!err && !w.flat)
        err = schema_new_value(w.schema, &w.value);
    if (!err)
        err = topic_reader_new(cfg->brokers, w.topic, from_start, &r, errstr,
                               sizeof(errstr));

    last = kafka_monotonic_s();
    while (!err && !cli_stop_requested && (limit == 0 || seen < limit)) {
        rd_kafka_message_t *msg = topic_reader_poll(r, WATCH_POLL_MS);

        if (!msg) {
            if (idle_exit > 0 && topic_reader_at_end(r) &&
                kafka_monotonic_s() - last >= idle_exit)
                break;
            continue;
        }
        last = kafka_monotonic_s();
        if (msg->err)
            log_warn("watch", "%s [%d]: %s", w.topic, (int)msg->partition,
                     rd_kafka_message_errstr(msg));
        else {
            print_message(&w, msg);
            seen++;
        }
        rd_kafka_message_destroy(msg);
    }
    fflush(stdout);

    if (err)
        log_error("watch", "%s", errstr[0] ? errstr : riffle_err_str(err));
    topic_reader_destroy(r);
    if (w.schema && !w.flat && w.value.iface)
        avro_value_decref(&w.value);
    schema_destroy(w.schema);
    event_free(&w.ev);
    buf_free(&w.line);
    free(cfg);
    return err ? 1 : 0;
}
