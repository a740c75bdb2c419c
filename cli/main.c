/*
 * cli/main.c - the riffle executable: dispatches to a subcommand.
 *
 * The event path, in the order an event travels: `produce` reads a file
 * into the input topic (producers/); `learn` consumes it (consumers/),
 * cleans (cleaning/), anonymizes (privacy/), scores and learns
 * (learner/), and publishes predictions, dead letters and snapshots
 * (producers/); `watch` reads any of those topics back.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"

volatile sig_atomic_t cli_stop_requested;
int cli_config_refused;

static void on_signal(int sig)
{
    (void)sig;
    cli_stop_requested = 1;
}

void cli_install_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* Cannot fail for these signals with a valid handler. */
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
}

static int load_config(const char *path, const char *brokers,
                       struct cfg *cfg, int zeroed)
{
    char errstr[512];
    int err;

    if (!path) {
        log_error("cli", "no configuration: pass -c FILE (see config/)");
        return RIFFLE_ERR_USAGE;
    }
    kafka_set_hint_config(path);
    err = zeroed ? cfg_load_file_zeroed(cfg, path, errstr, sizeof(errstr))
                 : cfg_load_file(cfg, path, errstr, sizeof(errstr));
    if (err) {
        log_error("config", "%s", errstr);
        cli_config_refused = 1;
        return err;
    }
    log_set_json(cfg->log_json);
    err = kafka_security_apply(&cfg->kafka_security, errstr,
                               sizeof(errstr));
    if (err) {
        log_error("config", "%s: %s", path, errstr);
        cli_config_refused = 1;
        return err;
    }
    if (brokers)
        snprintf(cfg->brokers, sizeof(cfg->brokers), "%s", brokers);
    return 0;
}

int cli_load_config(const char *path, const char *brokers, struct cfg *cfg)
{
    return load_config(path, brokers, cfg, 0);
}

int cli_load_config_zeroed(const char *path, const char *brokers,
                           struct cfg *cfg)
{
    return load_config(path, brokers, cfg, 1);
}

int cli_require_output_schemas(const struct cfg *cfg)
{
    char errstr[512];
    int err = cfg_check_output_schemas(cfg, errstr, sizeof(errstr));

    if (err)
        log_error("config", "%s", errstr);
    return err;
}

/* Room for a word the user gave, shown escaped: longer ones are cut. */
#define CLI_SHOWN_SIZE LOG_PRINTABLE_SIZE(256)

int cli_refuse_operands(const char *cmd, int argc, char **argv, int first)
{
    char shown[CLI_SHOWN_SIZE];

    if (first >= argc)
        return 0;
    fprintf(stderr, "riffle %s: unexpected argument '%s'\n", cmd,
            log_printable(argv[first], shown, sizeof(shown)));
    return 1;
}

/* Two long options getopt_long() takes for the same: a prefix matching
 * both is not ambiguous. */
static int same_option(const struct option *a, const struct option *b)
{
    return a->has_arg == b->has_arg && a->flag == b->flag &&
           a->val == b->val;
}

/* The long option `word` ("--name" or "--name=value") names, matched as
 * getopt_long() matches it: its exact name, or else the only option it
 * is a prefix of ("--brok" for "--brokers"). NULL when none matches or,
 * with *ambiguous set, when it is a prefix of options that differ. */
static const struct option *long_option(const struct option *longopts,
                                        const char *word, int *ambiguous)
{
    size_t n = strcspn(word + 2, "=");
    const struct option *o, *found = NULL;

    *ambiguous = 0;
    for (o = longopts; n > 0 && o->name; o++) {
        if (strncmp(o->name, word + 2, n) != 0)
            continue;
        if (o->name[n] == '\0') {
            *ambiguous = 0; /* the exact name wins over any prefix */
            return o;
        }
        if (!found)
            found = o;
        else if (!same_option(found, o))
            *ambiguous = 1;
    }
    return *ambiguous ? NULL : found;
}

/* Says that `word` abbreviates several long options, naming those it
 * could be, as getopt_long() would. */
static void report_ambiguous(const char *cmd, const char *word,
                             const struct option *longopts)
{
    size_t n = strcspn(word + 2, "=");
    char shown[CLI_SHOWN_SIZE];

    fprintf(stderr, "riffle %s: option '%s' is ambiguous; possibilities:",
            cmd, log_printable(word, shown, sizeof(shown)));
    for (; longopts->name; longopts++)
        if (strncmp(longopts->name, word + 2, n) == 0)
            fprintf(stderr, " '--%s'", longopts->name);
    fputc('\n', stderr);
}

/* The command main() runs ("dlq"), for the errors of a subcommand whose
 * argv[0] is its own word ("replay"). */
static const char *command_name = "";

/* Says why getopt_long() refused argv[optind - 1] or the short option
 * optopt, as getopt_long() would have, escaped. */
static void report_refused_option(char **argv, int missing,
                                  const struct option *longopts)
{
    const char *word = optind > 1 ? argv[optind - 1] : "";
    const struct option *o = NULL;
    int ambiguous = 0;
    char shown[CLI_SHOWN_SIZE];
    char letter[2] = {(char)optopt, '\0'};
    int nested = strcmp(command_name, argv[0]) != 0;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "%s%s%s", command_name, nested ? " " : "",
             nested ? argv[0] : "");

    if (strncmp(word, "--", 2) == 0)
        o = long_option(longopts, word, &ambiguous);
    if (ambiguous && optopt == 0) { /* else an earlier word's value */
        report_ambiguous(cmd, word, longopts);
    } else if (o && missing) {
        fprintf(stderr, "riffle %s: option '--%s' requires an argument\n",
                cmd, o->name);
    } else if (o && optopt == o->val && o->has_arg == no_argument) {
        fprintf(stderr, "riffle %s: option '--%s' doesn't allow an "
                "argument\n", cmd, o->name);
    } else if (optopt == 0) {
        fprintf(stderr, "riffle %s: unrecognized option '%s'\n", cmd,
                log_printable(word, shown, sizeof(shown)));
    } else {
        fprintf(stderr, "riffle %s: %s -- '%s'\n", cmd,
                missing ? "option requires an argument" : "invalid option",
                log_printable(letter, shown, sizeof(shown)));
    }
}

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    char quiet[64]; /* ":" first: a missing argument returns ':' */
    int c;

    assert(strlen(shortopts) + 2 <= sizeof(quiet));
    snprintf(quiet, sizeof(quiet), ":%s", shortopts);
    opterr = 0;
    c = getopt_long(argc, argv, quiet, longopts, NULL);
    if (c == '?' || c == ':') {
        report_refused_option(argv, c == ':', longopts);
        return '?';
    }
    return c;
}

void cli_warn_waiting_for_label(const char *component, long long n)
{
    log_warn(component, "%lld event(s) came without a label and were "
             "scored but not learned: with a labels group an event waits "
             "for its label on labels.topic, which only riffle learn reads; "
             "%s learns the rows that carry their label", n, component);
}

int cli_parse_count(const char *option, const char *text, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < 0) {
        log_error("cli", "%s %s: expected a whole number, 0 or more", option,
                  text);
        return 1;
    }
    *out = v;
    return 0;
}

/* A finite number >= 0 of what (e.g. "seconds") into *out. */
static int parse_amount(const char *option, const char *text,
                        const char *what, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0) {
        log_error("cli", "%s %s: expected a number of %s, 0 or more",
                  option, text, what);
        return 1;
    }
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *option, const char *text, double *out)
{
    return parse_amount(option, text, "seconds", out);
}

int cli_parse_rate(const char *option, const char *text, double *out)
{
    return parse_amount(option, text, "events per second (0: no limit)",
                        out);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: riffle COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  topics create|delete -c CFG\n"
            "                         create or delete the pipeline's "
            "topics\n"
            "  produce -c CFG         stream a CSV or Avro file into the input "
            "topic\n"
            "                         (also serve requests and delayed labels)\n"
            "  learn -c CFG           consume, clean, anonymize, predict, "
            "learn, publish\n"
            "  watch -c CFG TOPIC     print a topic as JSON lines "
            "(predictions, dead-letters, ...)\n"
            "  check -c CFG           validate a configuration and its "
            "schema\n"
            "  train -c CFG           learn from a file without a broker\n"
            "  score -c CFG           score a file with a snapshot, no "
            "learning\n"
            "  status -c CFG          topics, lag, model version and "
            "metrics on one screen\n"
            "  acls -c CFG            grant each role's Kafka user its "
            "ACLs\n"
            "  serve -c CFG           scoring replica: requests topic and "
            "HTTP, hot-swapped model\n"
            "  dlq replay -c CFG      re-check dead letters with the current "
            "rules and\n"
            "                         re-inject what passes\n"
            "  decrypt -c CFG         open the encrypted fields of "
            "predictions (key holders)\n"
            "  pseudonym -c CFG [ID...]\n"
            "                         the pseudonym an event id is "
            "published under (key holders)\n"
            "  simulate -c CFG        several merged learners on a file, no "
            "broker\n"
            "\n"
            "common options: --brokers HOST:PORT overrides kafka.brokers;\n"
            "RIFFLE_LOG_LEVEL=error|warn|info|debug sets the log level,\n"
            "RIFFLE_LOG_FORMAT=text|json the log format.\n"
            "Run 'riffle COMMAND --help' for a command's options.\n");
}

/* The subcommands, by name. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"learn", cmd_learn},       {"produce", cmd_produce},
    {"watch", cmd_watch},       {"topics", cmd_topics},
    {"check", cmd_check},       {"train", cmd_train},
    {"score", cmd_score},       {"acls", cmd_acls},
    {"status", cmd_status},     {"serve", cmd_serve},
    {"dlq", cmd_dlq},           {"simulate", cmd_simulate},
    {"decrypt", cmd_decrypt},   {"pseudonym", cmd_pseudonym},
};

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    char errstr[256];
    size_t i;

    if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }

    if (log_check_env(errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "riffle: %s\n", errstr);
        return 2;
    }
    cli_install_signal_handlers();
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        int rc;

        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        command_name = commands[i].name;
        rc = commands[i].run(argc - 1, argv + 1);
        /* 2 is a command line the command cannot use (an unknown option,
         * a missing -c or argument), or a configuration it could not load
         * (which its error explains): say where the options are. */
        if (rc == 2 && !cli_config_refused)
            fprintf(stderr, "Run 'riffle %s --help' for its options.\n", cmd);
        return rc;
    }

    fprintf(stderr, "riffle: unknown command '%s'\n\n",
            log_printable(cmd, errstr, sizeof(errstr)));
    usage(stderr);
    return 2;
}
