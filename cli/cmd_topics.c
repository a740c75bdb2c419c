/*
 * cli/cmd_topics.c - `riffle topics create|delete`: the pipeline's topics.
 *
 * create makes the input, predictions and dead-letter topics with the
 * configured partition count, and the model topic compacted (only the
 * latest snapshots of each model need to stay) with room for large
 * snapshots. Topics that already exist are left as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "producers/publisher.h"

#define TOPICS_TIMEOUT_MS 30000
#define TOPICS_MODEL_MAX_BYTES "16777216" /* = PUBLISHER_MAX_MESSAGE_BYTES */

static rd_kafka_NewTopic_t *new_topic(const char *name, int partitions,
                                      int replication, int compacted)
{
    char why[256];
    rd_kafka_NewTopic_t *t =
        rd_kafka_NewTopic_new(name, partitions, replication, why, sizeof(why));

    if (!t) {
        log_error("topics", "%s: %s", name, why);
        return NULL;
    }
    if (compacted) {
        rd_kafka_NewTopic_set_config(t, "cleanup.policy", "compact");
        rd_kafka_NewTopic_set_config(t, "max.message.bytes",
                                     TOPICS_MODEL_MAX_BYTES);
    }
    return t;
}

/* Waits for the admin result event of type want and returns it. */
static rd_kafka_event_t *await_result(rd_kafka_queue_t *q)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TOPICS_TIMEOUT_MS + 5000);

    if (!ev)
        log_error("topics", "no answer from the broker within %d ms",
                  TOPICS_TIMEOUT_MS + 5000);
    return ev;
}

static int report(const rd_kafka_topic_result_t **res, size_t n, int create)
{
    size_t i;
    int failed = 0;

    for (i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        const char *name = rd_kafka_topic_result_name(res[i]);

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            printf("%s %s\n", create ? "created" : "deleted", name);
        else if (create && e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            printf("exists  %s\n", name);
        else if (!create && e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            printf("absent  %s\n", name);
        else {
            log_error("topics", "%s: %s", name,
                      rd_kafka_topic_result_error_string(res[i]));
            failed = 1;
        }
    }
    return failed;
}

#define TOPICS_MAX 6

/* The pipeline's topics; metrics and alerts only when configured. The
 * model topic is last. */
static size_t topic_names(const struct cfg *cfg, const char **names)
{
    size_t n = 0;

    names[n++] = cfg->topic_input;
    names[n++] = cfg->topic_predictions;
    names[n++] = cfg->topic_dead_letters;
    if (cfg->topic_metrics[0])
        names[n++] = cfg->topic_metrics;
    if (cfg->topic_alerts[0])
        names[n++] = cfg->topic_alerts;
    names[n++] = cfg->topic_models;
    return n;
}

static int run_admin(const struct cfg *cfg, int create)
{
    const char *names[TOPICS_MAX];
    rd_kafka_NewTopic_t *nt[TOPICS_MAX] = {NULL};
    rd_kafka_DeleteTopic_t *dt[TOPICS_MAX] = {NULL};
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    const rd_kafka_topic_result_t **res;
    char errstr[512];
    size_t count = topic_names(cfg, names), n = 0, i;
    int failed = 1;

    conf = kafka_conf_new(cfg->brokers, "riffle-admin", errstr,
                          sizeof(errstr));
    rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))
              : NULL;
    if (!rk) {
        log_error("topics", "%s", errstr);
        return 1;
    }
    q = rd_kafka_queue_new(rk);

    for (i = 0; i < count; i++) {
        int models = i == count - 1;

        if (!create) {
            dt[i] = rd_kafka_DeleteTopic_new(names[i]);
            continue;
        }
        nt[i] = new_topic(names[i], models ? 1 : cfg->input_partitions,
                          cfg->replication_factor, models);
        if (!nt[i])
            goto out;
    }

    if (create)
        rd_kafka_CreateTopics(rk, nt, count, NULL, q);
    else
        rd_kafka_DeleteTopics(rk, dt, count, NULL, q);

    ev = await_result(q);
    if (ev && rd_kafka_event_error(ev)) {
        log_error("topics", "%s", rd_kafka_event_error_string(ev));
    } else if (ev) {
        res = create ? rd_kafka_CreateTopics_result_topics(
                           rd_kafka_event_CreateTopics_result(ev), &n)
                     : rd_kafka_DeleteTopics_result_topics(
                           rd_kafka_event_DeleteTopics_result(ev), &n);
        failed = report(res, n, create);
    }
    if (ev)
        rd_kafka_event_destroy(ev);

out:
    for (i = 0; i < count; i++) {
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
        if (dt[i])
            rd_kafka_DeleteTopic_destroy(dt[i]);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return failed;
}

int cmd_topics(int argc, char **argv)
{
    const char *config = NULL, *brokers = NULL, *action = NULL;
    struct cfg *cfg;
    int i, rc;

    for (i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = argv[++i];
        else if (!action)
            action = argv[i];
        else
            action = "?";
    }
    if (!action || (strcmp(action, "create") && strcmp(action, "delete"))) {
        fprintf(stderr, "usage: riffle topics create|delete -c CFG "
                "[--brokers B]\n");
        return 2;
    }

    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return 2;
    }
    rc = run_admin(cfg, strcmp(action, "create") == 0);
    free(cfg);
    return rc;
}
