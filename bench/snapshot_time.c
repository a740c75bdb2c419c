/*
 * bench/snapshot_time.c - how long a large snapshot takes to publish and
 * to restore through a real broker.
 *
 * Builds the learner of a configuration with learner.bits overridden,
 * fills a given fraction of its weights and optimizer state with
 * non-zero values (a fixed-seed xorshift, so every run packs the same
 * bytes), then times, the way `riffle learn` does them:
 *   encode   the snapshot encoding alone, in memory (CPU only);
 *   publish  encode + send (in chunks) + commit one transaction, i.e.
 *            until every chunk is acknowledged and committed;
 *   restore  read the model topic, reassemble, check, and load the
 *            snapshot into a fresh learner,
 * and checks that the restored weights equal the published ones. Prints
 * one JSON line. Not part of riffle: bench/delivery runs it.
 *
 * Usage: bench_snapshot CFG BROKERS BITS FILL_FRACTION
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "consumers/topic_reader.h"
#include "learner/snapshot.h"
#include "producers/outputs.h"
#include "producers/publisher.h"

#define BENCH_TXN_WAIT_MS 120000 /* a generous bound for one commit */
#define BENCH_CANDIDATES 1

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Fills fraction of ol's slots with weights in (-1, 1) and positive
 * values in every optimizer-state array (valid for all optimizers); the
 * rest stay zero. */
static int fill_model(struct online_learner *ol, double fraction)
{
    struct model *m = online_model(ol);
    size_t n = model_weight_count(m), states = model_state_count(m), i, k;
    float *w = calloc(n, sizeof(float));
    float *s = calloc(n * (states ? states : 1), sizeof(float));
    const float *state[MODEL_MAX_STATE_ARRAYS];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int err = RIFFLE_ERR_NOMEM;

    if (!w || !s)
        goto out;
    for (k = 0; k < states; k++)
        state[k] = s + k * n;
    for (i = 0; i < n; i++) {
        if ((double)(xorshift(&seed) >> 11) / 9007199254740992.0 >= fraction)
            continue;
        w[i] = (float)((double)(xorshift(&seed) >> 11) / 4503599627370496.0 -
                       1.0);
        for (k = 0; k < states; k++)
            s[k * n + i] = 1.0f + (float)(xorshift(&seed) % 1000);
    }
    err = model_restore_state(m, w, state, states, 1);
out:
    free(w);
    free(s);
    return err;
}

/* Encoding alone (no Kafka), to tell the CPU cost from the broker's. */
static int encode_only(const struct cfg *cfg, struct online_learner *ol,
                       double *seconds, char *errstr, size_t size)
{
    struct schema *snapshot = NULL;
    struct buf out = {0};
    char path[CFG_PATH_MAX];
    double t0;
    int err;

    cfg_output_schema_path(cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    err = schema_load_file(path, &snapshot, errstr, size);
    t0 = kafka_monotonic_s();
    if (!err)
        err = snapshot_encode(snapshot, ol, NULL, 0, kafka_now_ms(), &out,
                              errstr, size);
    *seconds = kafka_monotonic_s() - t0;
    buf_free(&out);
    schema_destroy(snapshot);
    return err;
}

static int publish(struct cfg *cfg, struct online_learner *ol,
                   size_t *bytes, char *errstr, size_t size)
{
    struct publisher *pub = NULL;
    struct outputs *out = NULL;
    int err = publisher_new_transactional(cfg->brokers, "riffle-bench",
                                          "riffle-bench-snapshot", 0, &pub,
                                          errstr, size);

    if (!err)
        err = publisher_init_transactions(pub, BENCH_TXN_WAIT_MS, errstr,
                                          size);
    if (!err)
        err = outputs_new(cfg, pub, &out, errstr, size);
    if (!err)
        err = publisher_begin(pub, errstr, size);
    if (!err)
        err = outputs_snapshot(out, ol, NULL, 0, bytes, errstr, size);
    if (!err)
        err = publisher_commit(pub, NULL, NULL, BENCH_TXN_WAIT_MS, errstr,
                               size);
    outputs_destroy(out);
    publisher_destroy(pub);
    return err;
}

static int restore(struct cfg *cfg, const struct schema *input,
                   struct online_learner **ol, char *errstr, size_t size)
{
    struct buf found[BENCH_CANDIDATES];
    struct snapshot_offset offsets[1];
    struct schema *snapshot = NULL;
    char path[CFG_PATH_MAX];
    size_t n = 0, count = 0;
    int err;

    memset(found, 0, sizeof(found));
    cfg_output_schema_path(cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    err = schema_load_file(path, &snapshot, errstr, size);
    if (!err)
        err = online_new(cfg, input, ol, errstr, size);
    if (!err)
        err = topic_reader_latest_by_key(cfg->brokers, cfg->topic_models,
                                         cfg->model_name, found,
                                         BENCH_CANDIDATES, &n, errstr, size);
    if (!err && n == 0) {
        snprintf(errstr, size, "no snapshot found in %s", cfg->topic_models);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err)
        err = snapshot_restore(snapshot, *ol, found[0].data, found[0].len,
                               offsets, 1, &count, NULL, errstr, size);
    buf_free(&found[0]);
    schema_destroy(snapshot);
    return err;
}

int main(int argc, char **argv)
{
    static struct cfg cfg; /* large: not on the stack */
    struct online_learner *ol = NULL, *back = NULL;
    struct schema *input = NULL;
    char errstr[512] = "";
    uint64_t sent = 0, got = 0;
    double t0, t1, t2, encode_s = 0;
    size_t bytes = 0;
    int err;

    if (argc != 5) {
        fprintf(stderr, "usage: %s CFG BROKERS BITS FILL_FRACTION\n",
                argv[0]);
        return 2;
    }
    err = cfg_load_file(&cfg, argv[1], errstr, sizeof(errstr));
    if (!err) {
        snprintf(cfg.brokers, sizeof(cfg.brokers), "%s", argv[2]);
        cfg.model.bits = atoi(argv[3]);
        err = schema_load_file(cfg.schema_path, &input, errstr,
                               sizeof(errstr));
    }
    if (!err)
        err = online_new(&cfg, input, &ol, errstr, sizeof(errstr));
    if (!err)
        err = fill_model(ol, atof(argv[4]));
    if (!err)
        err = snapshot_weights_digest(ol, &sent);

    if (!err)
        err = encode_only(&cfg, ol, &encode_s, errstr, sizeof(errstr));
    t0 = kafka_monotonic_s();
    if (!err)
        err = publish(&cfg, ol, &bytes, errstr, sizeof(errstr));
    t1 = kafka_monotonic_s();
    if (!err)
        err = restore(&cfg, input, &back, errstr, sizeof(errstr));
    t2 = kafka_monotonic_s();
    if (!err)
        err = snapshot_weights_digest(back, &got);

    if (err) {
        fprintf(stderr, "bench_snapshot: %s\n",
                errstr[0] ? errstr : riffle_err_str(err));
    } else {
        printf("{\"bits\":%d,\"fill\":%s,\"snapshot_bytes\":%zu,"
               "\"chunks\":%zu,\"encode_s\":%.3f,\"publish_s\":%.3f,"
               "\"restore_s\":%.3f,\"identical\":%s}\n", cfg.model.bits,
               argv[4], bytes,
               (bytes + (size_t)cfg.snapshot_chunk_bytes - 1) /
                   (size_t)cfg.snapshot_chunk_bytes,
               encode_s, t1 - t0, t2 - t1, sent == got ? "true" : "false");
    }
    online_destroy(ol);
    online_destroy(back);
    schema_destroy(input);
    return err ? 1 : (sent == got ? 0 : 1);
}
