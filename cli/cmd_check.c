/*
 * cli/cmd_check.c - `riffle check`: validates a configuration without a
 * broker: the file itself, the input schema, that every configured field
 * exists with a usable type, and that the pseudonym, encryption and
 * dead-letter keys can be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "learner/online.h"
#include "privacy/keyring.h"

#define CHECK_ERRSTR_MAX 512 /* why the configuration is refused */
#define CHECK_EXIT_BAD 1     /* the configuration is not usable */
#define CHECK_EXIT_USAGE 2   /* no configuration, or a bad command line */

static void usage(void)
{
    printf("usage: riffle check -c CFG [--brokers B]\n"
           "  validates CFG, its schema, its fields and its pseudonym key;\n"
           "  warns when source.path is unset or cannot be read;\n"
           "  needs no broker; --brokers is accepted, as by every "
           "command, and ignored\n");
}

/* Sets *config to the -c path (NULL when there is none). Returns 0, 1
 * after printing the usage for -h or --help, or -1 for a command line
 * check cannot use: an unknown option (getopt says which), a word that
 * is not an option. */
static int parse_args(int argc, char **argv, const char **config)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    *config = NULL;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:h", longopts)) != -1) {
        if (c == 'c') {
            *config = optarg;
        } else if (c == 'b') {
            continue; /* accepted like every command; no broker needed */
        } else if (c == 'h') {
            usage();
            return 1;
        } else {
            return -1;
        }
    }
    return cli_refuse_operands("check", argc, argv, optind) ? -1 : 0;
}

/* Warns when the commands that read a file would find none by default:
 * not an error, as --file can name one, but what a newcomer trips on
 * first (a path to a generated data set not generated yet, say). */
static void warn_about_input(const struct cfg *cfg)
{
    char errstr[CHECK_ERRSTR_MAX];
    FILE *f;

    if (!cfg_input_path(cfg, NULL, errstr, sizeof(errstr))) {
        log_warn("check", "%s (produce, train, score and simulate)", errstr);
        return;
    }
    f = fopen(cfg->source_path, "rb");
    if (f) {
        fclose(f);
        return;
    }
    log_warn("check", "%s: source.path %s cannot be read: %s; produce, "
             "train, score and simulate need it, or --file", cfg->path,
             cfg->source_path, strerror(errno));
}

static int check_dead_letter_key(const struct cfg *cfg, char *errstr,
                                 size_t size)
{
    struct keyring ring;
    int err = keyring_load_dead_letter(cfg, &ring, errstr, size);

    keyring_wipe(&ring);
    return err;
}

int cmd_check(int argc, char **argv)
{
    struct schema *schema = NULL;
    struct online_learner *ol = NULL;
    struct cfg *cfg;
    char errstr[CHECK_ERRSTR_MAX] = "";
    char shown[LOG_PRINTABLE_SIZE(CFG_PATH_MAX)];
    const char *config;
    int err = parse_args(argc, argv, &config);

    if (err)
        return err > 0 ? 0 : CHECK_EXIT_USAGE;
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, NULL, cfg)) {
        free(cfg);
        /* A configuration that does not load is unusable, as one whose
         * schema does not: scripts tell both from a missing -c. */
        return config ? CHECK_EXIT_BAD : CHECK_EXIT_USAGE;
    }

    err = schema_load_file(cfg->schema_path, &schema, errstr, sizeof(errstr));
    if (err)
        cfg_schema_error(cfg, errstr, sizeof(errstr));
    else
        err = online_new(cfg, schema, &ol, errstr, sizeof(errstr));
    if (!err)
        err = check_dead_letter_key(cfg, errstr, sizeof(errstr));
    if (err)
        log_error("check", "%s", errstr);
    else if (cfg_check_output_schemas(cfg, errstr, sizeof(errstr)) != 0)
        /* train without snapshots needs none of them: not an error. */
        log_warn("check", "%s; learn, serve and dlq replay refuse to "
                 "start without them, train and score need "
                 "model_snapshot.avsc for a snapshot", errstr);
    if (!err)
        warn_about_input(cfg);
    if (!err)
        printf("%s: ok (%zu fields, schema %s, fingerprint %016llx)\n",
               log_printable(cfg->path, shown, sizeof(shown)),
               cfg->field_count, schema_name(schema),
               (unsigned long long)schema_fingerprint(schema));

    online_destroy(ol);
    schema_destroy(schema);
    free(cfg);
    return err ? CHECK_EXIT_BAD : 0;
}
