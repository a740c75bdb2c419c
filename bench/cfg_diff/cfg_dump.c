/*
 * bench/cfg_diff/cfg_dump.c - prints what cfg_load_file() makes of each
 * file named on the command line, for comparing two loaders byte by byte
 * (bench/cfg_diff/run.sh).
 *
 * For each file: its name, the return code and the error string, then a
 * 64-bit hash of every byte of struct cfg (fields, padding and unused
 * slots alike), so two loaders that print the same text filled struct cfg
 * identically. With --rows, every non-zero 32-byte row of struct cfg as
 * offset and hex instead, to find the field behind a differing hash. With
 * --all the struct is shown after a failed load as well; without it only
 * after a successful one (callers discard struct cfg when loading fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

#define DUMP_ROW 32 /* bytes per printed row */

/* FNV-1a over 8-byte words: quick on 1 MB, and any changed byte shows. */
static unsigned long long hash_bytes(const struct cfg *cfg)
{
    const unsigned char *p = (const unsigned char *)cfg;
    unsigned long long h = 0xcbf29ce484222325ULL, w;
    size_t off;

    for (off = 0; off + sizeof(w) <= sizeof(*cfg); off += sizeof(w)) {
        memcpy(&w, p + off, sizeof(w));
        h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; off < sizeof(*cfg); off++)
        h = (h ^ p[off]) * 0x100000001b3ULL;
    return h;
}

static void dump_rows(const struct cfg *cfg)
{
    const unsigned char *p = (const unsigned char *)cfg;
    size_t off, i;

    for (off = 0; off < sizeof(*cfg); off += DUMP_ROW) {
        size_t n = sizeof(*cfg) - off < DUMP_ROW ? sizeof(*cfg) - off
                                                 : DUMP_ROW;

        for (i = 0; i < n && p[off + i] == 0; i++)
            ;
        if (i == n)
            continue; /* all zero: most of the field slots */
        printf("%07zx", off);
        for (i = 0; i < n; i++)
            printf(" %02x", p[off + i]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    struct cfg *cfg = malloc(sizeof(*cfg));
    int all = 0, rows = 0, i;

    if (!cfg)
        return 2;
    for (i = 1; i < argc; i++) {
        char errstr[1024];
        int err;

        if (strcmp(argv[i], "--all") == 0) {
            all = 1;
            continue;
        }
        if (strcmp(argv[i], "--rows") == 0) {
            rows = 1;
            continue;
        }
        /* Garbage first, so that a byte the loader forgets to set shows. */
        memset(cfg, 0xa5, sizeof(*cfg));
        errstr[0] = '\0';
        err = cfg_load_file(cfg, argv[i], errstr, sizeof(errstr));
        printf("== %s\nrc=%d\nerr=%s\n", argv[i], err, errstr);
        if ((err == 0 || all) && rows)
            dump_rows(cfg);
        else if (err == 0 || all)
            printf("hash=%016llx\n", hash_bytes(cfg));
    }
    free(cfg);
    return 0;
}
