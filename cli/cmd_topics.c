/*
 * cli/cmd_topics.c - `riffle topics create|delete`: the pipeline's topics.
 *
 * create makes the input, predictions and dead-letter topics with the
 * configured partition count, and the model topic compacted (only the
 * latest snapshots of each model need to stay) with room for large
 * snapshots, stamped by the broker (LogAppendTime). Topics that already exist are left as they are.
 * Both return once the brokers' metadata shows the topics as asked, so that a command run next
 * finds them (or finds them gone).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "producers/publisher.h"

#define TOPICS_TIMEOUT_MS 30000
#define TOPICS_GRACE_MS 5000 /* past the request's own timeout, for its
                                answer to travel back */
#define TOPICS_MODEL_MAX_BYTES "16777216" /* = PUBLISHER_MAX_MESSAGE_BYTES */
#define TOPICS_ERRSTR_MAX 512
#define TOPICS_EXIT_USAGE 2

static rd_kafka_NewTopic_t *new_topic(const char *name, int partitions,
                                      int replication, int compacted)
{
    char why[TOPICS_ERRSTR_MAX];
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_NewTopic_t *t =
        rd_kafka_NewTopic_new(name, partitions, replication, why, sizeof(why));

    if (!t) {
        log_error("topics", "%s: %s", name, why);
        return NULL;
    }
    if (compacted)
        e = rd_kafka_NewTopic_set_config(t, "cleanup.policy", "compact");
    if (compacted && !e)
        e = rd_kafka_NewTopic_set_config(t, "max.message.bytes",
                                         TOPICS_MODEL_MAX_BYTES);
    /* The broker stamps the model topic's messages: merging instances
     * compare snapshot ages on that one clock (cli/learn_merge.c). */
    if (compacted && !e)
        e = rd_kafka_NewTopic_set_config(t, "message.timestamp.type",
                                         "LogAppendTime");
    if (e) {
        log_error("topics", "%s: %s", name, rd_kafka_err2str(e));
        rd_kafka_NewTopic_destroy(t);
        return NULL;
    }
    return t;
}

/* Waits for the admin result event and returns it, or NULL. */
static rd_kafka_event_t *await_result(rd_kafka_queue_t *q)
{
    rd_kafka_event_t *ev =
        rd_kafka_queue_poll(q, TOPICS_TIMEOUT_MS + TOPICS_GRACE_MS);

    if (!ev)
        log_error("topics", "no answer from the broker within %d ms",
                  TOPICS_TIMEOUT_MS + TOPICS_GRACE_MS);
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

#define TOPICS_MAX (9 + CFG_MAX_SOURCES + 2) /* ours, sources, join, labels */

/* The pipeline's topics and their partition counts; metrics, alerts,
 * the late topic and serve's requests and predictions only when
 * configured. The model topic is last. */
static size_t topic_names(const struct cfg *cfg, const char **names,
                          int *partitions)
{
    size_t n = 0, i;

    names[n++] = cfg->topic_input;
    names[n++] = cfg->topic_predictions;
    names[n++] = cfg->topic_dead_letters;
    if (cfg->topic_metrics[0])
        names[n++] = cfg->topic_metrics;
    if (cfg->topic_alerts[0])
        names[n++] = cfg->topic_alerts;
    if (cfg->late_topic[0])
        names[n++] = cfg->late_topic;
    for (i = 0; i < cfg->source_count; i++)
        names[n++] = cfg->sources[i].topic;
    if (cfg->join.line)
        names[n++] = cfg->join.topic;
    if (cfg->labels.line)
        names[n++] = cfg->labels.topic;
    for (i = 0; i < n; i++)
        partitions[i] = cfg->input_partitions;
    if (cfg->serve_requests[0]) {
        partitions[n] = cfg->serve_partitions;
        names[n++] = cfg->serve_requests;
        partitions[n] = cfg->serve_partitions;
        names[n++] = cfg->serve_predictions;
    }
    partitions[n] = 1;
    names[n++] = cfg->topic_models;
    return n;
}

/* One create or delete request per topic. */
struct topic_requests {
    const char *names[TOPICS_MAX];
    rd_kafka_NewTopic_t *create[TOPICS_MAX];
    rd_kafka_DeleteTopic_t *remove[TOPICS_MAX];
    size_t count;
};

/* Returns 0, or 1 when a request cannot be made (already logged). */
static int build_requests(const struct cfg *cfg, int create,
                          struct topic_requests *rq)
{
    const char **names = rq->names;
    int partitions[TOPICS_MAX];
    size_t i;

    memset(rq, 0, sizeof(*rq));
    rq->count = topic_names(cfg, names, partitions);
    for (i = 0; i < rq->count; i++) {
        int models = i == rq->count - 1;

        if (!create) {
            rq->remove[i] = rd_kafka_DeleteTopic_new(names[i]);
            continue;
        }
        rq->create[i] = new_topic(names[i], partitions[i],
                                  cfg->replication_factor, models);
        if (!rq->create[i])
            return 1;
    }
    return 0;
}

static void free_requests(struct topic_requests *rq)
{
    size_t i;

    for (i = 0; i < rq->count; i++) {
        if (rq->create[i])
            rd_kafka_NewTopic_destroy(rq->create[i]);
        if (rq->remove[i])
            rd_kafka_DeleteTopic_destroy(rq->remove[i]);
    }
}

/* Sends the requests and prints each topic's outcome. Returns 0 when
 * every topic is as asked, else 1. */
static int send_requests(rd_kafka_t *rk, struct topic_requests *rq,
                         int create)
{
    const rd_kafka_topic_result_t **res;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;
    size_t n = 0;
    int failed = 1;

    if (create)
        rd_kafka_CreateTopics(rk, rq->create, rq->count, NULL, q);
    else
        rd_kafka_DeleteTopics(rk, rq->remove, rq->count, NULL, q);

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
    rd_kafka_queue_destroy(q);
    return failed;
}

/* Waits, up to TOPICS_TIMEOUT_MS for each, until every topic is in the
 * brokers' metadata after create and gone from it after delete (see
 * kafka_await_topic()). Returns 0, or 1 (logged). */
static int await_metadata(rd_kafka_t *rk, const struct topic_requests *rq,
                          int create)
{
    char errstr[TOPICS_ERRSTR_MAX];
    size_t i;

    for (i = 0; i < rq->count; i++) {
        if (kafka_await_topic(rk, rq->names[i], create, TOPICS_TIMEOUT_MS,
                              errstr, sizeof(errstr))) {
            log_error("topics", "%s", errstr);
            return 1;
        }
    }
    return 0;
}

static int run_admin(const struct cfg *cfg, int create)
{
    struct topic_requests rq;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char errstr[TOPICS_ERRSTR_MAX];
    int failed;

    conf = kafka_conf_new(cfg->brokers, "riffle-admin", errstr,
                          sizeof(errstr));
    /* Asking for a deleted topic's metadata must not make the broker
     * create it again (a producer handle allows that by default); the
     * client's notices of topics it saw go are no news here. */
    if (conf && (rd_kafka_conf_set(conf, "allow.auto.create.topics", "false",
                                   errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
                 rd_kafka_conf_set(conf, "log_level", "4", errstr,
                                   sizeof(errstr)) != RD_KAFKA_CONF_OK)) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))
              : NULL;
    if (!rk) {
        log_error("topics", "%s", errstr);
        return 1;
    }

    failed = build_requests(cfg, create, &rq);
    if (!failed)
        failed = send_requests(rk, &rq, create);
    if (!failed)
        failed = await_metadata(rk, &rq, create);
    free_requests(&rq);
    rd_kafka_destroy(rk);
    return failed;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: riffle topics create|delete -c CFG [--brokers B]\n"
                 "  creates or deletes the pipeline's topics on the broker "
                 "of kafka.brokers,\n"
                 "  or of --brokers HOST:PORT when given\n");
}

int cmd_topics(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *brokers = NULL, *action;
    char shown[LOG_PRINTABLE_SIZE(256)];
    struct cfg *cfg;
    int c, rc, actions;

    /* As every command: an unknown option, or one without its value, is
     * getopt's to name, not a word taken for the action. */
    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:h", longopts)) != -1) {
        if (c == 'c') {
            config = optarg;
        } else if (c == 'b') {
            brokers = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            return TOPICS_EXIT_USAGE; /* main points at --help */
        }
    }
    actions = argc - optind;
    action = actions > 0 ? argv[optind] : NULL;
    /* Say which word is wrong before the usage. */
    if (!action)
        fprintf(stderr, "riffle topics: expected create or delete\n");
    else if (strcmp(action, "create") && strcmp(action, "delete"))
        fprintf(stderr, "riffle topics: unknown action or option '%s': "
                "expected create or delete\n",
                log_printable(action, shown, sizeof(shown)));
    else if (actions > 1)
        fprintf(stderr, "riffle topics: expected one action, got %d words "
                "besides the options\n", actions);
    if (!action || actions > 1 ||
        (strcmp(action, "create") && strcmp(action, "delete")))
        return TOPICS_EXIT_USAGE; /* main points at --help */

    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return TOPICS_EXIT_USAGE;
    }
    rc = run_admin(cfg, strcmp(action, "create") == 0);
    free(cfg);
    return rc;
}
