/*
 * tests/fuzz/fuzz_cfg.c - libFuzzer harness for the configuration loader.
 *
 * libconfig reads files, so each input is written to one scratch file
 * (named after the process, removed at exit) and loaded with
 * cfg_load_file(), which parses it and checks every key. Loading must
 * either succeed or fail with a message that names the file; a crash, a
 * leak, or a failure without a message is a finding. The source
 * directory is the working directory, so a configuration that names a
 * bundled schema or key file finds it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "tests/fuzz/fuzz_common.h"

static char scratch_path[64];
static struct cfg loaded; /* large: kept out of the stack */

static void scratch_remove(void)
{
    (void)unlink(scratch_path); /* nothing to do if it is already gone */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_chdir_source();
    snprintf(scratch_path, sizeof(scratch_path), "/tmp/riffle-fuzz-cfg-%ld",
             (long)getpid());
    atexit(scratch_remove);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    FILE *f = fopen(scratch_path, "wb");
    int err;

    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort(); /* /tmp is full or gone: not a finding in riffle */

    errstr[0] = '\0';
    err = cfg_load_file(&loaded, scratch_path, errstr, sizeof(errstr));
    if (err != 0 && strstr(errstr, scratch_path) != errstr)
        abort(); /* every error starts with the file's path */
    return 0;
}
