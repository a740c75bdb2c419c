/*
 * cli/cmd_dlq.c - `riffle dlq replay`: options for producers/replay.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "producers/replay.h"

#define DLQ_IDLE_EXIT_S 2.0 /* caught up and nothing new for this long */

static void usage(void)
{
    printf("usage: riffle dlq replay -c CFG [--brokers B] [--group G] "
           "[--limit N]\n"
           "                         [--dry-run] [--idle-exit S] "
           "[--no-progress]\n"
           "  decrypts each dead letter not replayed yet, judges it as "
           "the learner\n"
           "  would (duplicates and lateness as of the latest snapshot, "
           "then the\n"
           "  current rules), re-injects what passes into its source "
           "topic and\n"
           "  dead-letters the rest again with today's reason, once per "
           "change of\n"
           "  the configuration (unchanged, it is parked, not written "
           "again)\n"
           "  --group G      consumer group that remembers what was "
           "replayed\n"
           "                 (default <kafka.group_id>.dlq-replay)\n"
           "  --limit N      stop after N dead letters\n"
           "  --dry-run      only count what would pass; produce and "
           "commit nothing\n"
           "  --idle-exit S  stop once caught up and idle S seconds "
           "(default 2)\n"
           "  --no-progress  no progress bar, even on a terminal\n");
}

static int parse_options(int argc, char **argv, struct replay_options *o,
                         const char **config, const char **brokers)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"group", required_argument, NULL, 'g'},
        {"limit", required_argument, NULL, 'l'},
        {"dry-run", no_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"no-progress", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:g:l:ni:qh", longopts)) !=
           -1) {
        if (c == 'c')
            *config = optarg;
        else if (c == 'b')
            *brokers = optarg;
        else if (c == 'g')
            o->group = optarg;
        else if (c == 'l')
            bad |= cli_parse_count("--limit", optarg, &o->limit);
        else if (c == 'n')
            o->dry_run = 1;
        else if (c == 'i')
            bad |= cli_parse_seconds("--idle-exit", optarg, &o->idle_exit_s);
        else if (c == 'q')
            o->progress = 0;
        else if (c == 'h') {
            usage();
            return 1;
        } else
            return -1;
    }
    bad |= cli_refuse_operands("dlq replay", argc, argv, optind);
    return bad ? -1 : 0;
}

/* One JSON line on stdout for scripts, at the end of a finished run. */
static void print_summary(const struct replay_stats *st,
                          const struct replay_options *o,
                          const struct cfg *cfg)
{
    printf("{\"read\":%lld,\"replayed\":%lld,\"still_failing\":%lld,"
           "\"parked\":%lld,\"duplicates\":%lld,\"no_payload\":%lld,"
           "\"no_key\":%lld,\"undecryptable\":%lld,"
           "\"unreadable\":%lld,\"snapshot_version\":%lld,\"dry_run\":%s,"
           "\"topic\":\"%s\"}\n", st->read, st->replayed, st->still_failing,
           st->parked, st->duplicates, st->no_payload, st->no_key,
           st->undecryptable, st->unreadable, st->snapshot_version,
           o->dry_run ? "true" : "false", cfg->topic_dead_letters);
}

static int dlq_replay(int argc, char **argv)
{
    struct replay_options o = {NULL, 0, 0, 1, DLQ_IDLE_EXIT_S,
                               &cli_stop_requested};
    const char *config = NULL, *brokers = NULL;
    struct replay_stats st;
    char errstr[512] = "";
    struct cfg *cfg;
    int rc = parse_options(argc, argv, &o, &config, &brokers), err;

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg) ||
        cli_require_output_schemas(cfg)) {
        free(cfg);
        return 2;
    }

    err = replay_run(cfg, &o, &st, errstr, sizeof(errstr));
    /* As produce: a summary is a finished run's; a failed one has its
     * error line, with how far it got, and status 1. */
    if (err && st.read > 0)
        log_error("replay", "%s (dead letters read: %lld, replayed: "
                  "%lld, undecryptable: %lld)", errstr, st.read, st.replayed,
                  st.undecryptable);
    else if (err)
        log_error("replay", "%s", errstr);
    else
        print_summary(&st, &o, cfg);
    free(cfg);
    return err ? 1 : 0;
}

int cmd_dlq(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (sub && strcmp(sub, "replay") == 0)
        return dlq_replay(argc - 1, argv + 1);
    if (sub && (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)) {
        usage();
        return 0;
    }
    fprintf(stderr, "riffle dlq: expected the subcommand 'replay'\n");
    return 2; /* main points at --help */
}
