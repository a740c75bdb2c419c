/*
 * cli/cmd_serve.c - `riffle serve`: a scoring replica.
 *
 * Follows the model topic (serving/model_follower.c) and, once the
 * first snapshot is loaded, scores requests from serve.requests in the
 * serve consumer group (serving/replica.c) and, when serve.http_port is
 * set, JSON events over HTTP, with /healthz and /metrics
 * (serving/http_api.c). Start as many
 * replicas as serve.partitions allows: Kafka shares the partitions out.
 * Nothing is learned; every prediction names the model version that
 * made it, and a new snapshot is swapped in without pausing scoring.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "serving/http_api.h"
#include "serving/model_follower.h"
#include "serving/model_slot.h"
#include "serving/replica.h"
#include "serving/serve_stats.h"

#define SERVE_WAIT_STEP_NS 50000000L /* 50 ms between looks at the slot */
#define SERVE_WAIT_LOG_S 10.0        /* repeat "still waiting" this often */

struct serve_options {
    const char *config;
    const char *brokers;
    long long max_requests;
    double idle_exit_s;
    long long http_port; /* -1: as configured */
    const char *http_address; /* NULL: as configured */
    const char *instance; /* this replica's name in the group */
};

struct serve {
    struct cfg cfg;
    struct serve_options opt;
    char instance[CFG_NAME_MAX]; /* --instance, or host and pid */
    struct schema *input;
    struct model_slot *slot;
    struct model_follower *follower;
    struct serve_stats *stats;
    struct http_api *http;
    struct replica *replica;
};

/* Without --instance a replica is named after its host and pid: unique,
 * but a restarted replica then cannot fence its predecessor by id (the
 * group generation still does, for the offsets). */
static void name_instance(struct serve *s)
{
    char host[64] = "localhost";

    if (s->opt.instance) {
        snprintf(s->instance, sizeof(s->instance), "%s", s->opt.instance);
        return;
    }
    (void)gethostname(host, sizeof(host) - 1); /* default kept on error */
    snprintf(s->instance, sizeof(s->instance), "%s-%ld", host,
             (long)getpid());
}

/* Requests wait in their topic until there is a model to score them. */
static void wait_for_model(struct serve *s)
{
    struct timespec step = {0, SERVE_WAIT_STEP_NS};
    double logged = 0;

    while (!cli_stop_requested && model_slot_version(s->slot) < 0) {
        if (kafka_monotonic_s() - logged >= SERVE_WAIT_LOG_S) {
            log_info("serve", "waiting for a snapshot of model %s in %s",
                     s->cfg.model_name, s->cfg.topic_models);
            logged = kafka_monotonic_s();
        }
        (void)nanosleep(&step, NULL); /* a signal only shortens it */
    }
}

static int start(struct serve *s, char *errstr, size_t size)
{
    int err;

    if (!s->cfg.serve_line) {
        snprintf(errstr, size, "%s: no serve group: set serve.requests and "
                 "serve.predictions (see docs/CONFIGURATION.md)",
                 s->cfg.path);
        return RIFFLE_ERR_CFG;
    }
    err = schema_load_file(s->cfg.schema_path, &s->input, errstr, size);
    if (err)
        cfg_schema_error(&s->cfg, errstr, size); /* where it is set */
    if (!err)
        err = model_slot_new(&s->slot);
    if (!err)
        err = serve_stats_new(&s->stats);
    if (!err)
        err = model_follower_start(&s->cfg, s->input, s->slot, s->stats,
                                   &s->follower, errstr, size);
    if (!err && s->cfg.serve_http_port > 0)
        err = http_api_start(&s->cfg, s->input, s->slot, s->stats, &s->http,
                             errstr, size);
    if (!err && s->http)
        log_info("serve", "HTTP on %s:%d: POST %s, GET %s and %s",
                 s->cfg.serve_http_address, s->cfg.serve_http_port,
                 HTTP_API_PREDICT_PATH, HTTP_API_HEALTH_PATH,
                 HTTP_API_METRICS_PATH);
    return err;
}

static int run(struct serve *s, char *errstr, size_t size)
{
    int err;

    wait_for_model(s);
    if (cli_stop_requested && model_slot_version(s->slot) < 0) {
        snprintf(errstr, size, "no snapshot of model %s had come from %s "
                 "before the stop", s->cfg.model_name, s->cfg.topic_models);
        return RIFFLE_ERR_STOPPED;
    }
    if (cli_stop_requested)
        return 0;
    err = replica_new(&s->cfg, s->input, s->slot, s->stats, s->instance,
                      s->opt.instance != NULL, &cli_stop_requested,
                      &s->replica, errstr, size);
    if (err)
        return err;
    log_info("serve", "scoring %s -> %s in group %s, %s", s->cfg.serve_requests,
             s->cfg.serve_predictions, s->cfg.serve_group_id,
             s->cfg.serve_delivery == CFG_DELIVERY_EXACTLY_ONCE
                 ? "exactly once"
                 : "at least once");
    return replica_run(s->replica, &cli_stop_requested, s->opt.max_requests,
                       s->opt.idle_exit_s, errstr, size);
}

static void usage(void)
{
    printf("usage: riffle serve -c CFG [--brokers B] [--http-port P] "
           "[--http-address A]\n"
           "                    [--instance NAME] [--max-requests N] "
           "[--idle-exit S]\n"
           "  --instance NAME   this replica's name, unique in the group and "
           "kept across\n"
           "                    restarts: a static member that gets its "
           "partitions back\n"
           "                    at once (default: host name and pid, "
           "dynamic member)\n"
           "  --http-port P     listen for HTTP on port P (0: no HTTP), "
           "over serve.http_port\n"
           "  --http-address A  listen on IPv4 address A (0.0.0.0: every "
           "interface),\n"
           "                    over serve.http_address (default "
           "127.0.0.1)\n"
           "  --max-requests N  stop after N requests from Kafka\n"
           "  --idle-exit S     stop once caught up and idle for S "
           "seconds\n");
}

static int address_is_ipv4(const char *text)
{
    struct in_addr addr;

    return inet_pton(AF_INET, text, &addr) == 1;
}

static int parse_options(int argc, char **argv, struct serve_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"max-requests", required_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"http-port", required_argument, NULL, 'p'},
        {"http-address", required_argument, NULL, 'a'},
        {"instance", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    o->http_port = -1;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:n:i:p:a:I:h", longopts)) !=
           -1) {
        if (c == 'c')
            o->config = optarg;
        else if (c == 'b')
            o->brokers = optarg;
        else if (c == 'n')
            bad |= cli_parse_count("--max-requests", optarg,
                                   &o->max_requests);
        else if (c == 'i')
            bad |= cli_parse_seconds("--idle-exit", optarg, &o->idle_exit_s);
        else if (c == 'p')
            bad |= cli_parse_count("--http-port", optarg, &o->http_port);
        else if (c == 'a')
            o->http_address = optarg;
        else if (c == 'I')
            o->instance = optarg;
        else if (c == 'h') {
            usage();
            return 1;
        } else
            return -1;
    }
    bad |= cli_refuse_operands("serve", argc, argv, optind);
    if (o->http_port > 65535) {
        log_error("cli", "--http-port %lld: expected 0..65535", o->http_port);
        bad = 1;
    }
    if (o->http_address && !address_is_ipv4(o->http_address)) {
        log_error("cli", "--http-address '%s': expected an IPv4 address, "
                  "e.g. 127.0.0.1 or 0.0.0.0", o->http_address);
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* One JSON line on stdout for scripts; the answers counted are those
 * delivered: an aborted or uncommitted transaction's are not. */
static void print_summary(struct serve *s)
{
    struct serve_stats_counts c;

    serve_stats_read_delivered(s->stats, &c);
    printf("{\"requests\":%llu,\"predicted\":%llu,\"dead_letters\":%llu,"
           "\"model_version\":%lld,\"models_loaded\":%llu,"
           "\"rebuilds\":%llu,\"version_conflicts\":%llu,"
           "\"http\":{\"ok\":%llu,\"client_errors\":%llu,"
           "\"unavailable\":%llu,\"server_errors\":%llu}}\n",
           (unsigned long long)c.requests,
           (unsigned long long)c.predictions,
           (unsigned long long)c.dead_letters,
           (long long)model_slot_version(s->slot),
           model_follower_installed(s->follower),
           (unsigned long long)c.client_rebuilds,
           (unsigned long long)c.version_conflicts,
           (unsigned long long)c.http_ok,
           (unsigned long long)c.http_client_errors,
           (unsigned long long)c.http_unavailable,
           (unsigned long long)c.http_server_errors);
}

static void serve_free(struct serve *s)
{
    replica_destroy(s->replica);
    http_api_stop(s->http);
    model_follower_stop(s->follower);
    serve_stats_destroy(s->stats);
    model_slot_destroy(s->slot);
    schema_destroy(s->input);
    free(s);
}

int cmd_serve(int argc, char **argv)
{
    struct serve *s = calloc(1, sizeof(*s));
    char errstr[512] = "";
    int rc, err;

    if (!s)
        return 1;
    rc = parse_options(argc, argv, &s->opt);
    if (rc != 0 || cli_load_config(s->opt.config, s->opt.brokers, &s->cfg) ||
        cli_require_output_schemas(&s->cfg)) {
        free(s);
        return rc > 0 ? 0 : 2;
    }
    if (s->opt.http_port >= 0)
        s->cfg.serve_http_port = (int)s->opt.http_port;
    if (s->opt.http_address)
        snprintf(s->cfg.serve_http_address, sizeof(s->cfg.serve_http_address),
                 "%s", s->opt.http_address);
    name_instance(s);

    /* A stop during start-up ends the bounded waits on the brokers too
     * (the model topic's and the requests topic's metadata). */
    kafka_set_stop(&cli_stop_requested);
    err = start(s, errstr, sizeof(errstr));
    if (!err)
        err = run(s, errstr, sizeof(errstr));
    if (err == RIFFLE_ERR_STOPPED && !s->replica) {
        log_warn("serve", "stopping on request: %s; nothing was answered",
                 errstr);
        err = 0;
    } else if (err == RIFFLE_ERR_STOPPED) {
        log_warn("serve", "stopping on request: %s; the requests answered "
                 "since the last commit are answered again by the next "
                 "replica to own their partitions", errstr);
        err = 0;
    }
    /* The replica's last commit, or a stop's uncounting of the open
     * transaction's answers, before the counts are printed: the summary
     * counts only what a read_committed reader sees. */
    replica_destroy(s->replica);
    s->replica = NULL;
    if (err)
        log_error("serve", "%s", errstr[0] ? errstr : riffle_err_str(err));
    else if (s->follower) /* not when stopped before it followed */
        print_summary(s);
    serve_free(s);
    return err ? 1 : 0;
}
