/*
 * tests/fuzz/fuzz_snapshot.c - libFuzzer harness for the snapshot decoder.
 *
 * Each input is a model snapshot as it sits in the models topic or a
 * --snapshot file. It is read with snapshot_read_info() and restored with
 * snapshot_restore() into a fresh Elec2 learner of 2^10 weights (the
 * seeds are snapshots of that learner, so the fingerprint and the weight
 * count match and the fuzzer reaches the weights). A restore must succeed
 * or fail leaving the learner as it was: after a failure, the learner
 * must still predict exactly what a new one predicts, and after a
 * success, a second snapshot of it must restore again (what was accepted
 * can be written back). The learner has delayed labels configured, so the
 * waiting events and labels of a snapshot are decoded as well.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "learner/model.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "tests/fuzz/fuzz_common.h"

static struct fuzz_pipeline elec2;
static struct schema *snapshot_schema;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[CFG_PATH_MAX];

    (void)argc;
    (void)argv;
    fuzz_chdir_source();
    fuzz_pipeline_load(&elec2, "config/elec2.cfg");
    /* With delayed labels, so that a snapshot's waiting events and labels
     * are read, restored and written back too. */
    elec2.cfg.labels.line = 1;
    snprintf(elec2.cfg.labels.topic, sizeof(elec2.cfg.labels.topic),
             "riffle.elec2.labels");
    elec2.cfg.labels.ttl_ms = 3600000.0;
    elec2.cfg.labels.max_pending = 64;
    cfg_output_schema_path(&elec2.cfg, CFG_SCHEMA_SNAPSHOT, path,
                           sizeof(path));
    snapshot_schema = fuzz_schema_load(path);
    return 0;
}

static struct online_learner *learner_new(void)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct online_learner *ol = NULL;

    if (online_new(&elec2.cfg, elec2.input, &ol, errstr, sizeof(errstr))) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
    return ol;
}

/* A failed restore must leave every weight as a new learner has it. */
static void check_untouched(struct online_learner *ol)
{
    const struct model *m = online_model(ol);
    size_t i;

    for (i = 0; i < model_weight_count(m); i++)
        if (model_weight(m, i) != 0.0f)
            abort();
    if (model_update_count(m) != 0)
        abort();
}

/* What was restored can be encoded and restored again. */
static void check_round_trip(struct online_learner *ol)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct snapshot_offset offsets[4];
    struct online_learner *again = learner_new();
    struct buf out = {0};
    size_t n = 0;

    if (snapshot_encode(snapshot_schema, ol, NULL, 0, 0, &out, errstr,
                        sizeof(errstr)) != 0 ||
        snapshot_restore(snapshot_schema, again, out.data, out.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "round trip: %s\n", errstr);
        abort();
    }
    buf_free(&out);
    online_destroy(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct snapshot_offset offsets[SNAPSHOT_MAX_OFFSETS];
    struct snapshot_info info;
    struct online_learner *ol = learner_new();
    size_t n = 0;
    int err;

    (void)snapshot_read_info(snapshot_schema, data, size, &info, errstr,
                             sizeof(errstr));
    err = snapshot_restore(snapshot_schema, ol, data, size, offsets,
                           SNAPSHOT_MAX_OFFSETS, &n, &info, errstr,
                           sizeof(errstr));
    if (err != 0)
        check_untouched(ol);
    else
        check_round_trip(ol);
    online_destroy(ol);
    return 0;
}
