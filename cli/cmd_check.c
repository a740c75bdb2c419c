/*
 * cli/cmd_check.c - `riffle check`: validates a configuration without a
 * broker: the file itself, the input schema, that every configured field
 * exists with a usable type, and that the pseudonym, encryption and
 * dead-letter keys can be read.
 */
#include <errno.h>
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
#define CHECK_EXIT_USAGE 2   /* no configuration to check */

static void usage(void)
{
    printf("usage: riffle check -c CFG [--brokers B]\n"
           "  validates CFG, its schema, its fields and its pseudonym key;\n"
           "  warns when source.path is unset or cannot be read;\n"
           "  needs no broker; --brokers is accepted, as by every "
           "command, and ignored\n");
}

/* Returns the configuration path, NULL when there is none; sets *help
 * for -h or --help. Arguments it does not know are left alone. */
static const char *parse_args(int argc, char **argv, int *help)
{
    const char *config = NULL;
    int i;

    *help = 0;
    for (i = 1; i < argc; i++) {
        int has_value = i + 1 < argc;

        if ((strcmp(argv[i], "-c") == 0 ||
             strcmp(argv[i], "--config") == 0) && has_value)
            config = argv[++i];
        else if (strcmp(argv[i], "--brokers") == 0 && has_value)
            ++i; /* accepted like every command; no broker needed */
        else if (strcmp(argv[i], "-h") == 0 ||
                 strcmp(argv[i], "--help") == 0)
            *help = 1;
    }
    return config;
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
    int help, err;
    const char *config = parse_args(argc, argv, &help);

    if (help) {
        usage();
        return 0;
    }
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
               cfg->path, cfg->field_count, schema_name(schema),
               (unsigned long long)schema_fingerprint(schema));

    online_destroy(ol);
    schema_destroy(schema);
    free(cfg);
    return err ? CHECK_EXIT_BAD : 0;
}
