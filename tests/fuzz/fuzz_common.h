/*
 * tests/fuzz/fuzz_common.h - what the libFuzzer harnesses share: loading
 * a bundled pipeline (configuration and input schema) once, shrunk to
 * 2^10 weights so that building a learner per input stays cheap.
 *
 * Paths in the bundled configurations are relative to the repository,
 * so the harness first changes into RIFFLE_SOURCE_DIR (set by CMake).
 * Any failure here is a broken checkout, not a finding: it aborts with
 * the loader's message before fuzzing starts. Header-only; each harness
 * includes it once.
 */
#ifndef RIFFLE_TESTS_FUZZ_COMMON_H
#define RIFFLE_TESTS_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/cfg.h"
#include "learner/model.h"
#include "schemas/schema.h"

#define FUZZ_ERRSTR_SIZE 512
#define FUZZ_MODEL_BITS MODEL_MIN_BITS /* 8 KiB of weights per learner */

struct fuzz_pipeline {
    struct cfg cfg;
    struct schema *input;
};

static inline void fuzz_chdir_source(void)
{
    if (chdir(RIFFLE_SOURCE_DIR) != 0) {
        perror(RIFFLE_SOURCE_DIR);
        abort();
    }
}

static inline void fuzz_pipeline_load(struct fuzz_pipeline *p, const char *path)
{
    char errstr[FUZZ_ERRSTR_SIZE];

    if (cfg_load_file(&p->cfg, path, errstr, sizeof(errstr)) != 0 ||
        schema_load_file(p->cfg.schema_path, &p->input, errstr,
                         sizeof(errstr)) != 0) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
    p->cfg.model.bits = FUZZ_MODEL_BITS;
}

static inline struct schema *fuzz_schema_load(const char *path)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct schema *s = NULL;

    if (schema_load_file(path, &s, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
    return s;
}

#endif
