/*
 * cli/cmd_acls.c - `riffle acls`: grant each riffle role exactly the Kafka
 * ACLs it needs, read from the pipeline's configuration.
 *
 *   producer    Write, Describe on the input topic and the labels topic
 *               (`produce --labels`)
 *   learner     Read, Describe on every topic `learn` consumes: the
 *               input, the further sources, the join (profiles) and labels
 *               topics, and the model topic (it restores from snapshots);
 *               Read on its group (kafka.group_id);
 *               Write, Describe on predictions, dead letters, metrics,
 *               alerts and models; and, for exactly-once output, Write
 *               and Describe on its transactional id (printed as a
 *               kafka-acls line: librdkafka 2.0.2 cannot create it)
 *   scorer      Read, Describe on the model topic and serve.requests;
 *               Read on serve.group_id; Write, Describe on
 *               serve.predictions; and, for exactly-once output, its
 *               transactional ids "<serve.group_id>-*" (printed too)
 *   subscriber  Read, Describe on the predictions topics; Read on groups
 *               whose names start with "USER." (its own groups)
 *
 * Nothing else is granted, so on a broker that denies by default every
 * other action of a role is refused. All bindings go to the broker in one
 * CreateAcls request, as the principal riffle's own security settings
 * name (an administrator: kafka.sasl_username or
 * RIFFLE_KAFKA_SASL_USERNAME). Main thread only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/kafka.h"
#include "common/log.h"

/* Bindings of all four roles: 2 per topic, learner's at most
 * 5 + CFG_MAX_SOURCES read and 5 written, producer's 2, scorer's 3,
 * subscriber's 2, and 3 groups. */
#define ACLS_MAX (2 * (17 + CFG_MAX_SOURCES) + 3)
#define ACLS_TIMEOUT_MS 30000    /* one admin request; a broker answers */
#define ACLS_PRINCIPAL_MAX 300
#define ACLS_VISIBLE_WAIT_MS 15000 /* for the broker to enforce new ACLs */
#define ACLS_VISIBLE_POLL_MS 200

struct grant {
    rd_kafka_ResourceType_t type;
    const char *name;
    rd_kafka_ResourcePatternType_t pattern;
    rd_kafka_AclOperation_t op;
    const char *role;
    char principal[ACLS_PRINCIPAL_MAX];
};

struct grants {
    struct grant list[ACLS_MAX];
    size_t n;
    char subscriber_prefix[CFG_NAME_MAX + 2];
};

static void add(struct grants *g, const char *role, const char *user,
                rd_kafka_ResourceType_t type, const char *name,
                rd_kafka_ResourcePatternType_t pattern,
                rd_kafka_AclOperation_t op)
{
    struct grant *x;

    if (!name || !name[0] || g->n == ACLS_MAX)
        return; /* an unconfigured topic: nothing to grant */
    x = &g->list[g->n++];
    x->type = type;
    x->name = name;
    x->pattern = pattern;
    x->op = op;
    x->role = role;
    snprintf(x->principal, sizeof(x->principal), "User:%s", user);
}

/* Read/Write plus Describe on each topic, literal names. */
static void topics(struct grants *g, const char *role, const char *user,
                   rd_kafka_AclOperation_t op, const char *const *names,
                   size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        add(g, role, user, RD_KAFKA_RESOURCE_TOPIC, names[i],
            RD_KAFKA_RESOURCE_PATTERN_LITERAL, op);
        add(g, role, user, RD_KAFKA_RESOURCE_TOPIC, names[i],
            RD_KAFKA_RESOURCE_PATTERN_LITERAL, RD_KAFKA_ACL_OPERATION_DESCRIBE);
    }
}

/* What `learn` subscribes to (cli/cmd_learn.c, subscribe_all()) and
 * the model topic it restores from, into in; returns their count. An
 * unconfigured join or labels topic is "", which add() skips. */
static size_t learner_inputs(const struct cfg *c,
                             const char *in[CFG_MAX_SOURCES + 4])
{
    size_t n = 0, i;

    in[n++] = c->topic_input;
    for (i = 0; i < c->source_count; i++)
        in[n++] = c->sources[i].topic;
    in[n++] = c->join.line ? c->join.topic : "";
    in[n++] = c->labels.line ? c->labels.topic : "";
    in[n++] = c->topic_models;
    return n;
}

static void plan(const struct cfg *c, const char *const users[4],
                 struct grants *g)
{
    const char *in[] = {c->topic_input,
                        c->labels.line ? c->labels.topic : ""};
    const char *learner_in[CFG_MAX_SOURCES + 4];
    size_t learner_in_count = learner_inputs(c, learner_in);
    const char *learner_out[] = {c->topic_predictions, c->topic_dead_letters,
                                 c->topic_metrics, c->topic_alerts,
                                 c->topic_models};
    const char *scorer_in[] = {c->topic_models, c->serve_requests};
    const char *scorer_out[] = {c->serve_predictions};
    const char *served[] = {c->topic_predictions, c->serve_predictions};

    if (users[0])
        topics(g, "producer", users[0], RD_KAFKA_ACL_OPERATION_WRITE, in, 2);
    if (users[1]) {
        topics(g, "learner", users[1], RD_KAFKA_ACL_OPERATION_READ,
               learner_in, learner_in_count);
        add(g, "learner", users[1], RD_KAFKA_RESOURCE_GROUP, c->group_id,
            RD_KAFKA_RESOURCE_PATTERN_LITERAL, RD_KAFKA_ACL_OPERATION_READ);
        topics(g, "learner", users[1], RD_KAFKA_ACL_OPERATION_WRITE,
               learner_out, 5);
        /* TODO(librdkafka 2.0.2 has no transactional-id resource type):
         * an exactly-once learner also needs Write and Describe on its
         * transactional id; print_txn_hint() gives the kafka-acls line
         * until Debian ships a librdkafka that can grant it. */
    }
    if (users[2]) {
        topics(g, "scorer", users[2], RD_KAFKA_ACL_OPERATION_READ, scorer_in,
               2);
        add(g, "scorer", users[2], RD_KAFKA_RESOURCE_GROUP,
            c->serve_group_id, RD_KAFKA_RESOURCE_PATTERN_LITERAL,
            RD_KAFKA_ACL_OPERATION_READ);
        topics(g, "scorer", users[2], RD_KAFKA_ACL_OPERATION_WRITE,
               scorer_out, 1);
    }
    if (users[3]) {
        topics(g, "subscriber", users[3], RD_KAFKA_ACL_OPERATION_READ,
               served, 2);
        snprintf(g->subscriber_prefix, sizeof(g->subscriber_prefix), "%s.",
                 users[3]);
        add(g, "subscriber", users[3], RD_KAFKA_RESOURCE_GROUP,
            g->subscriber_prefix, RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
            RD_KAFKA_ACL_OPERATION_READ);
    }
}

/* The bindings riffle cannot create itself, as Kafka's tool lines: the
 * transactional id of a learner in delivery.mode exactly_once, and the
 * ids of scoring replicas in serve.delivery exactly_once,
 * "<serve.group_id>-<instance>", as a prefix. Each mode is the role's
 * own: a role that runs at least once gets no transactional id. */
static void print_txn_hint(const struct cfg *c, const char *learner,
                           const char *scorer)
{
    static const char *tool = "  kafka-acls.sh --bootstrap-server %s "
                              "--command-config ADMIN.properties --add "
                              "--allow-principal User:%s --operation Write "
                              "--operation Describe --transactional-id %s%s"
                              "%s\n";
    int learner_txn = learner && c->delivery == CFG_DELIVERY_EXACTLY_ONCE;
    int scorer_txn = scorer && c->serve_delivery == CFG_DELIVERY_EXACTLY_ONCE;

    if (!learner_txn && !scorer_txn)
        return;

    printf("also needed, which librdkafka 2.0.2 cannot create (run before "
           "this command):\n");
    if (learner_txn)
        printf(tool, c->brokers, learner, c->transactional_id, "", "");
    if (scorer_txn)
        printf(tool, c->brokers, scorer, c->serve_group_id, "-",
               " --resource-pattern-type prefixed");
}

static void describe(const struct grant *x, char *out, size_t size)
{
    snprintf(out, size, "%s (%s): ALLOW %s on %s %s%s", x->principal,
             x->role, rd_kafka_AclOperation_name(x->op),
             rd_kafka_ResourceType_name(x->type), x->name,
             x->pattern == RD_KAFKA_RESOURCE_PATTERN_PREFIXED ? "*" : "");
}

/* Sends every binding in one request; prints each outcome. Returns the
 * number that failed (all of them when the request did). */
static size_t send_grants(rd_kafka_t *rk, const struct grants *g)
{
    rd_kafka_AclBinding_t *b[ACLS_MAX];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const rd_kafka_acl_result_t **res;
    rd_kafka_event_t *ev;
    char why[256], text[512];
    size_t i, n = 0, failed = g->n;

    for (i = 0; i < g->n; i++) {
        b[i] = rd_kafka_AclBinding_new(g->list[i].type, g->list[i].name,
                                       g->list[i].pattern,
                                       g->list[i].principal, "*",
                                       g->list[i].op,
                                       RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                                       why, sizeof(why));
        if (!b[i]) {
            log_error("acls", "%s", why);
            rd_kafka_AclBinding_destroy_array(b, i);
            rd_kafka_queue_destroy(q);
            return failed;
        }
    }
    rd_kafka_CreateAcls(rk, b, g->n, NULL, q);
    ev = rd_kafka_queue_poll(q, ACLS_TIMEOUT_MS);
    if (!ev) {
        log_error("acls", "no answer from the broker within %d ms",
                  ACLS_TIMEOUT_MS);
    } else if (rd_kafka_event_error(ev)) {
        log_error("acls", "%s", rd_kafka_event_error_string(ev));
    } else {
        res = rd_kafka_CreateAcls_result_acls(
            rd_kafka_event_CreateAcls_result(ev), &n);
        failed = 0;
        for (i = 0; i < n && i < g->n; i++) {
            const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);

            describe(&g->list[i], text, sizeof(text));
            if (e) {
                log_error("acls", "%s: %s", text, rd_kafka_error_string(e));
                failed++;
            } else {
                printf("granted %s\n", text);
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AclBinding_destroy_array(b, g->n);
    rd_kafka_queue_destroy(q);
    return failed;
}

/* Whether binding b is one of ours that DescribeAcls shows. */
static int shows(const rd_kafka_AclBinding_t *b, const struct grant *x)
{
    return rd_kafka_AclBinding_restype(b) == x->type &&
           rd_kafka_AclBinding_resource_pattern_type(b) == x->pattern &&
           rd_kafka_AclBinding_operation(b) == x->op &&
           strcmp(rd_kafka_AclBinding_name(b), x->name) == 0 &&
           strcmp(rd_kafka_AclBinding_principal(b), x->principal) == 0;
}

/* How many of g's bindings the broker's authorizer lists now. */
static size_t count_visible(rd_kafka_t *rk, const struct grants *g)
{
    rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
        RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, NULL,
        NULL, RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
        NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const rd_kafka_AclBinding_t **acls;
    rd_kafka_event_t *ev;
    size_t i, k, n = 0, seen = 0;

    rd_kafka_DescribeAcls(rk, f, NULL, q);
    ev = rd_kafka_queue_poll(q, ACLS_TIMEOUT_MS);
    if (ev && !rd_kafka_event_error(ev)) {
        acls = rd_kafka_DescribeAcls_result_acls(
            rd_kafka_event_DescribeAcls_result(ev), &n);
        for (i = 0; i < g->n; i++)
            for (k = 0; k < n; k++)
                if (shows(acls[k], &g->list[i])) {
                    seen++;
                    break;
                }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AclBinding_destroy(f);
    return seen;
}

/* ACLs reach the authorizer through the cluster's metadata log a moment
 * after CreateAcls answers; return only once they are enforced, so that
 * whatever runs next under the new rules is not refused. */
static int await_visible(rd_kafka_t *rk, const struct grants *g)
{
    int waited;

    for (waited = 0; waited < ACLS_VISIBLE_WAIT_MS;
         waited += ACLS_VISIBLE_POLL_MS) {
        if (count_visible(rk, g) == g->n)
            return 0;
        usleep(ACLS_VISIBLE_POLL_MS * 1000);
    }
    log_error("acls", "the broker does not list all %zu new ACLs after %d "
              "ms", g->n, ACLS_VISIBLE_WAIT_MS);
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: riffle acls -c CFG [--brokers B] [--producer USER] "
            "[--learner USER]\n"
            "                   [--scorer USER] [--subscriber USER] "
            "[--dry-run]\n"
            "  grants each given role's user the ACLs it needs on the "
            "pipeline's topics\n"
            "  and groups, and nothing more (see docs/OPERATIONS.md); "
            "connects as the\n"
            "  administrator the configuration's kafka.sasl_* settings "
            "name\n"
            "  --producer USER    writes the input and labels topics "
            "(riffle produce)\n"
            "  --learner USER     reads the inputs, writes every output "
            "(riffle learn)\n"
            "  --scorer USER      reads models and requests, writes served "
            "predictions\n"
            "                     (riffle serve)\n"
            "  --subscriber USER  reads the predictions topics in groups "
            "named USER.*\n"
            "  --dry-run          print the bindings without contacting a "
            "broker\n");
}

int cmd_acls(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"producer", required_argument, NULL, 'p'},
        {"learner", required_argument, NULL, 'l'},
        {"scorer", required_argument, NULL, 's'},
        {"subscriber", required_argument, NULL, 'u'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *brokers = NULL, *users[4] = {0};
    char errstr[512], text[512];
    struct grants *g = NULL;
    struct cfg *cfg = NULL;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    int c, dry_run = 0, rc = 2;
    size_t i;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:h", longopts)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'p')
            users[0] = optarg;
        else if (c == 'l')
            users[1] = optarg;
        else if (c == 's')
            users[2] = optarg;
        else if (c == 'u')
            users[3] = optarg;
        else if (c == 'n')
            dry_run = 1;
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (cli_refuse_operands("acls", argc, argv, optind))
        return 2;

    cfg = malloc(sizeof(*cfg));
    g = calloc(1, sizeof(*g));
    if (!cfg || !g || cli_load_config(config, brokers, cfg))
        goto out;
    if (users[2] && !cfg->serve_requests[0]) {
        log_error("acls", "%s: --scorer needs a serve group (serve.requests, "
                  "serve.predictions)", config);
        goto out;
    }
    plan(cfg, users, g);
    if (g->n == 0) {
        log_error("acls", "no role given: pass --producer, --learner, "
                  "--scorer or --subscriber with a user name");
        goto out;
    }
    if (dry_run) {
        for (i = 0; i < g->n; i++) {
            describe(&g->list[i], text, sizeof(text));
            printf("would grant %s\n", text);
        }
        print_txn_hint(cfg, users[1], users[2]);
        rc = 0;
        goto out;
    }

    conf = kafka_conf_new(cfg->brokers, "riffle-acls", errstr,
                          sizeof(errstr));
    rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))
              : NULL;
    if (!rk) {
        log_error("acls", "%s", errstr);
        rc = 1;
        goto out;
    }
    rc = send_grants(rk, g) || await_visible(rk, g) ? 1 : 0;
    print_txn_hint(cfg, users[1], users[2]);

out:
    if (rk)
        rd_kafka_destroy(rk);
    free(g);
    free(cfg);
    return rc;
}
