/*
 * cli/cmd_produce.c - `riffle produce`: options for producers/produce.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "common/log.h"
#include "producers/produce.h"
#include "producers/produce_labels.h"

static void usage(void)
{
    printf("usage: riffle produce -c CFG [--brokers B] [--file PATH] "
           "[--rate N] [--limit N] [--no-progress]\n"
           "                      [--requests | --without-labels | "
           "--labels FILE]\n"
           "  --file PATH    read this CSV (plain or .gz), or an Avro container "
           "(.avro),\n"
           "                 instead of source.path; a container's id "
           "field, when it\n"
           "                 has one, gives the event ids\n"
           "  --rate N       at most N events per second\n"
           "  --limit N      stop after N rows\n"
           "  --no-progress  no progress bar, even on a terminal\n"
           "  --requests     send the rows without their label to "
           "serve.requests,\n"
           "                 as requests for riffle serve\n"
           "  --without-labels  send the rows to topics.input without "
           "their label,\n"
           "                 which comes later on labels.topic\n"
           "  --labels FILE  send FILE's lines event_id,label"
           "[,timestamp_ms] to\n"
           "                 labels.topic (scripts/delayed-labels "
           "writes such files)\n");
}

int cmd_produce(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"file", required_argument, NULL, 'f'},
        {"rate", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'},
        {"no-progress", no_argument, NULL, 'q'},
        {"requests", no_argument, NULL, 'R'},
        {"without-labels", no_argument, NULL, 'W'},
        {"labels", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct produce_options o = {NULL, 0, 0, 1, &cli_stop_requested, 0, 0};
    struct produce_stats st;
    const char *config = NULL, *brokers = NULL, *labels = NULL;
    struct cfg *cfg;
    char errstr[512] = "";
    int c, err, bad = 0;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:f:r:l:qRWL:h", longopts)) !=
           -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'f')
            o.path = optarg;
        else if (c == 'r')
            bad |= cli_parse_rate("--rate", optarg, &o.rate);
        else if (c == 'l')
            bad |= cli_parse_count("--limit", optarg, &o.limit);
        else if (c == 'q')
            o.progress = 0;
        else if (c == 'R')
            o.requests = 1;
        else if (c == 'W')
            o.without_labels = 1;
        else if (c == 'L')
            labels = optarg;
        else if (c == 'h') {
            usage();
            return 0;
        } else
            return 2;
    }
    bad |= cli_refuse_operands("produce", argc, argv, optind);
    /* One thing to send: each would otherwise win over another quietly
     * (--labels reads its own FILE, not --file). */
    if (o.requests + o.without_labels + (labels != NULL) > 1) {
        log_error("cli", "--requests, --without-labels and --labels: "
                  "one at most");
        bad = 1;
    } else if (labels && o.path) {
        log_error("cli", "--labels %s and --file %s: the labels come from "
                  "--labels' own file", labels, o.path);
        bad = 1;
    }
    if (bad)
        return 2;

    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return 2;
    }

    if (labels) {
        o.path = labels;
        err = produce_labels_run(cfg, &o, &st, errstr, sizeof(errstr));
    } else {
        err = produce_run(cfg, &o, &st, errstr, sizeof(errstr));
    }
    /* As learn, train and serve: the summary is a finished run's; a
     * failed one has its error line, saying how far it got, and status 1
     * (a summary of zero rows would read like an empty file sent). */
    if (err && st.rows > 0)
        log_error("produce", "%s (rows read: %lld, produced: %lld)",
                  errstr, st.rows, st.produced);
    else if (err)
        log_error("produce", "%s", errstr);
    else
        printf("{\"rows\":%lld,\"produced\":%lld,\"bad_rows\":%lld,"
               "\"topic\":\"%s\"}\n", st.rows, st.produced, st.bad_rows,
               labels ? cfg->labels.topic
               : o.requests ? cfg->serve_requests : cfg->topic_input);
    free(cfg);
    return err ? 1 : 0;
}
