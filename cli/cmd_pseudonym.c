/*
 * cli/cmd_pseudonym.c - `riffle pseudonym`: the pseudonym under which an
 * event's id is published, for holders of the pseudonym key.
 *
 * With personal = "pseudonym" on the id field, predictions, dead letters
 * and serve's answers name an event by the pseudonym of its id only. A
 * consumer that knows the raw id (the producer of the events, a support
 * desk) finds the event's prediction by computing the same pseudonym:
 * this reads the configuration and the key as the learner does
 * (privacy.key_*) and prints one pseudonym per id given, in order, on
 * stdout. The ids come from the arguments, or else one per line of stdin
 * (a trailing "\n" or "\r\n" is not part of the id). On a terminal each
 * line is "ID<tab>PSEUDONYM", so that several can be told apart: the
 * user typed or piped the ids in, and sees them again on a screen of
 * their own, control bytes escaped. Into a pipe or a file only the
 * pseudonym is written, line N for the N-th id, unless --with-ids asks
 * for the pairs: a file of raw ids beside their pseudonyms undoes the
 * pseudonyms for whoever reads it, so it is made only on request.
 * Nothing of an id or the key reaches the log. Every copy of an id
 * riffle makes is wiped once used (privacy/pseudonym_io.h), the bytes of
 * an argument too; an id given as an argument is on the command line all
 * the same, which other users of the host can read while it runs (ps):
 * stdin keeps it off. No broker.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "privacy/anonymize.h"
#include "privacy/pseudonym_io.h"
#include "schemas/schema.h"

#define PSEUDONYM_ERRSTR_MAX 512
#define PSEUDONYM_EXIT_FAILED 1 /* the key, the schema, stdin or stdout */
#define PSEUDONYM_EXIT_USAGE 2

static void usage(void)
{
    printf("usage: riffle pseudonym -c CFG [--with-ids] [ID...]\n"
           "  prints the pseudonym of each event id given (or of each line "
           "of stdin),\n"
           "  as predictions and dead letters name the event when the id "
           "field has\n"
           "  personal = \"pseudonym\"; reads the key as the learner does "
           "(privacy.key_*)\n"
           "  on a terminal each line is ID<tab>PSEUDONYM; into a pipe or "
           "a file, only\n"
           "  the pseudonym, line N for the N-th id\n"
           "  --with-ids   write ID<tab>PSEUDONYM into a pipe or a file "
           "too (such a\n"
           "               file pairs raw ids with pseudonyms: keep it as "
           "secret as the key)\n");
}

static int run(const struct cfg *cfg, int argc, char **argv, int first,
               int with_ids, char *errstr, size_t size)
{
    struct schema *schema = NULL;
    struct anonymizer *a = NULL;
    struct pseudonym_io *io = NULL;
    int i, err;

    err = schema_load_file(cfg->schema_path, &schema, errstr, size);
    if (err)
        cfg_schema_error(cfg, errstr, size); /* where it is set */
    else
        err = anonymizer_new(cfg, schema, &a, errstr, size);
    if (err)
        goto out;
    if (!anonymizer_hides_id(a)) {
        snprintf(errstr, size, "the id field \"%s\" has no personal = "
                 "\"pseudonym\": its events are named by their raw id",
                 cfg_field_of_kind(cfg, CFG_FIELD_ID)->name);
        err = RIFFLE_ERR_CFG;
        goto out;
    }

    with_ids = with_ids || isatty(STDOUT_FILENO);
    io = pseudonym_io_new(a, with_ids, STDOUT_FILENO);
    if (!io) {
        snprintf(errstr, size, "out of memory");
        err = RIFFLE_ERR_NOMEM;
        goto out;
    }
    if (first >= argc)
        err = pseudonym_io_read_fd(io, STDIN_FILENO, errstr, size);
    for (i = first; !err && i < argc; i++) /* wipes each argument */
        err = pseudonym_io_add(io, argv[i], strlen(argv[i]), errstr, size);
    if (!err)
        err = pseudonym_io_flush(io, errstr, size);

out:
    pseudonym_io_destroy(io);
    anonymizer_destroy(a);
    schema_destroy(schema);
    return err;
}

int cmd_pseudonym(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"with-ids", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int with_ids = 0;
    char errstr[PSEUDONYM_ERRSTR_MAX] = "";
    struct cfg *cfg;
    int c, err;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:h", longopts)) != -1) {
        if (c == 'c') {
            config = optarg;
        } else if (c == 'b') {
            continue; /* accepted as by every command; no broker */
        } else if (c == 'i') {
            with_ids = 1;
        } else if (c == 'h') {
            usage();
            return 0;
        } else {
            return PSEUDONYM_EXIT_USAGE;
        }
    }
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, NULL, cfg)) {
        free(cfg);
        return PSEUDONYM_EXIT_USAGE;
    }

    err = run(cfg, argc, argv, optind, with_ids, errstr, sizeof(errstr));
    if (err)
        log_error("pseudonym", "%s", errstr);
    free(cfg);
    return err ? PSEUDONYM_EXIT_FAILED : 0;
}
