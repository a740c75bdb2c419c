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
 * Nothing of an id or the key reaches the log. No broker.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "privacy/anonymize.h"
#include "schemas/schema.h"

#define PSEUDONYM_ERRSTR_MAX 512
#define PSEUDONYM_EXIT_FAILED 1 /* the key, the schema or an output */
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

/* Appends the raw id (len bytes) for a screen: a byte below 0x20, 0x7f
 * and a backslash become \xHH, so an id cannot move the cursor, change
 * the terminal's state or pass for a tab between id and pseudonym. */
static int append_shown_id(struct buf *line, const char *id, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

        if (c >= 0x20 && c != 0x7f && c != '\\') {
            if (buf_push(line, (char)c) != 0)
                return RIFFLE_ERR_NOMEM;
        } else if (buf_append(line, esc, sizeof(esc)) != 0) {
            return RIFFLE_ERR_NOMEM;
        }
    }
    return buf_push(line, '\t') != 0 ? RIFFLE_ERR_NOMEM : 0;
}

/* Prints the pseudonym of the raw id (len bytes) on its own line,
 * after the id when with_id is set. The line is wiped once written: it
 * may hold the id. */
static int print_one(const struct anonymizer *a, const char *id, size_t len,
                     int with_id, struct buf *line)
{
    int err = 0;

    buf_reset(line);
    if (with_id)
        err = append_shown_id(line, id, len);
    if (!err && (anonymizer_id_pseudonym(a, id, len, line) != 0 ||
                 buf_push(line, '\n') != 0))
        err = RIFFLE_ERR_NOMEM;
    if (!err && fwrite(line->data, 1, line->len, stdout) != line->len)
        err = RIFFLE_ERR_IO;
    if (line->data)
        OPENSSL_cleanse(line->data, line->len);
    return err;
}

/* One id per line of stdin, without its line end. */
static int print_stdin(const struct anonymizer *a, int with_id,
                       struct buf *line)
{
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int err = 0;

    while (!err && (n = getline(&text, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;

        if (len > 0 && text[len - 1] == '\n')
            len--;
        if (len > 0 && text[len - 1] == '\r')
            len--;
        err = print_one(a, text, len, with_id, line);
    }
    if (text) {
        OPENSSL_cleanse(text, cap); /* raw ids */
        free(text);
    }
    if (!err && ferror(stdin))
        err = RIFFLE_ERR_IO;
    return err;
}

static int run(const struct cfg *cfg, int argc, char **argv, int first,
               int with_ids, char *errstr, size_t size)
{
    struct schema *schema = NULL;
    struct anonymizer *a = NULL;
    struct buf line = {0};
    int i, err;

    err = schema_load_file(cfg->schema_path, &schema, errstr, size);
    if (!err)
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
    if (first >= argc)
        err = print_stdin(a, with_ids, &line);
    for (i = first; !err && i < argc; i++)
        err = print_one(a, argv[i], strlen(argv[i]), with_ids, &line);
    if (!err && fflush(stdout) != 0)
        err = RIFFLE_ERR_IO;
    if (err)
        snprintf(errstr, size, "writing the pseudonyms: %s",
                 riffle_err_str(err));

out:
    buf_free(&line);
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
    while ((c = getopt_long(argc, argv, "c:b:h", longopts, NULL)) != -1) {
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
