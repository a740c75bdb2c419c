/*
 * cli/learn_merge.c - merging learner instances through the model topic,
 * see learn_merge.h.
 */
#include "cli/learn_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/snapshot_chunks.h"
#include "consumers/topic_reader.h"
#include "learner/model_merge.h"
#include "learner/snapshot.h"

#define LEARN_MERGE_MAX_PEERS 64  /* instances of one pipeline we merge */
#define LEARN_MERGE_POLL_MS 100
#define LEARN_MERGE_IDLE_S 30.0   /* a model topic read that stalls */

struct learn_merge {
    const struct cfg *cfg;
    const struct schema *input, *snapshot_schema;
    char self_key[2 * CFG_NAME_MAX];
    char prefix[CFG_NAME_MAX + 1]; /* "<model>@" */
    struct model_merger *merger;
    struct snapshot_offset *offsets; /* scratch for snapshot_restore */
    struct learn_merge_stats stats;
};

int learn_merge_new(const struct cfg *cfg, const struct schema *input,
                    const struct schema *snapshot_schema,
                    const char *self_key, struct learn_merge **out,
                    char *errstr, size_t errstr_size)
{
    struct learn_merge *m = calloc(1, sizeof(*m));

    if (m)
        m->offsets = calloc(SNAPSHOT_MAX_OFFSETS, sizeof(*m->offsets));
    if (!m || !m->offsets || model_merger_new(&cfg->model, &m->merger)) {
        learn_merge_destroy(m);
        snprintf(errstr, errstr_size, "no memory for merging models");
        return RIFFLE_ERR_NOMEM;
    }
    m->cfg = cfg;
    m->input = input;
    m->snapshot_schema = snapshot_schema;
    snprintf(m->self_key, sizeof(m->self_key), "%s", self_key);
    snprintf(m->prefix, sizeof(m->prefix), "%s@", cfg->model_name);
    *out = m;
    return 0;
}

void learn_merge_destroy(struct learn_merge *m)
{
    if (!m)
        return;
    model_merger_destroy(m->merger);
    free(m->offsets);
    free(m);
}

/* Whether key (not terminated) names another instance's snapshot of our
 * model: "<model>@NAME", not a chunk of one, not our own. */
static int is_peer_key(const struct learn_merge *m, const char *key,
                       size_t len)
{
    size_t plen = strlen(m->prefix);
    char text[2 * CFG_NAME_MAX];

    if (!key || len <= plen || len >= sizeof(text) ||
        memcmp(key, m->prefix, plen) != 0)
        return 0;
    memcpy(text, key, len);
    text[len] = '\0';
    return strstr(text, SNAPSHOT_CHUNK_KEY_INFIX) == NULL &&
           strcmp(text, m->self_key) != 0;
}

/* Collects the distinct peer keys on the model topic into keys[]. */
static int find_peers(struct learn_merge *m,
                      char (*keys)[2 * CFG_NAME_MAX], size_t *n,
                      char *errstr, size_t size)
{
    struct topic_reader *r;
    double last = kafka_monotonic_s();
    size_t i;
    int err = topic_reader_new(m->cfg->brokers, m->cfg->topic_models, 1, &r,
                               errstr, size);

    *n = 0;
    while (!err && !topic_reader_at_end(r)) {
        rd_kafka_message_t *msg = topic_reader_poll(r, LEARN_MERGE_POLL_MS);

        if (!msg) {
            if (kafka_monotonic_s() - last > LEARN_MERGE_IDLE_S) {
                snprintf(errstr, size, "reading %s: no progress for %.0f s",
                         m->cfg->topic_models, LEARN_MERGE_IDLE_S);
                err = RIFFLE_ERR_KAFKA;
            }
            continue;
        }
        last = kafka_monotonic_s();
        if (!msg->err && is_peer_key(m, msg->key, msg->key_len)) {
            for (i = 0; i < *n; i++)
                if (strlen(keys[i]) == msg->key_len &&
                    memcmp(keys[i], msg->key, msg->key_len) == 0)
                    break;
            if (i == *n && *n < LEARN_MERGE_MAX_PEERS) {
                memcpy(keys[*n], msg->key, msg->key_len);
                keys[(*n)++][msg->key_len] = '\0';
            }
        }
        rd_kafka_message_destroy(msg);
    }
    topic_reader_destroy(r);
    return err;
}

/* The newest usable snapshot under key, restored into a new learner
 * (*out, NULL when there is none or it is refused, with a warning). */
static int load_peer(struct learn_merge *m, const char *key,
                     struct online_learner **out, char *errstr, size_t size)
{
    struct online_learner *ol = NULL;
    struct buf found = {0};
    char why[512];
    size_t n = 0, offsets = 0;
    int err;

    *out = NULL;
    err = topic_reader_latest_by_key(m->cfg->brokers, m->cfg->topic_models,
                                     key, &found, 1, &n, errstr, size);
    if (!err && n == 1)
        err = online_new(m->cfg, m->input, &ol, errstr, size);
    if (err || n == 0) {
        buf_free(&found);
        return err;
    }

    if (snapshot_restore(m->snapshot_schema, ol, found.data, found.len,
                         m->offsets, SNAPSHOT_MAX_OFFSETS, &offsets, NULL,
                         why, sizeof(why)) != 0) {
        log_warn("merge", "%s: not merging the snapshot of %s: %s",
                 m->cfg->topic_models, key, why);
        online_destroy(ol);
    } else {
        m->stats.bytes_read += found.len;
        *out = ol;
    }
    buf_free(&found);
    return 0;
}

int learn_merge_adopt(struct learn_merge *m, struct online_learner *ol,
                      size_t *peers, char *errstr, size_t errstr_size)
{
    char (*keys)[2 * CFG_NAME_MAX] = calloc(LEARN_MERGE_MAX_PEERS,
                                            sizeof(*keys));
    struct online_learner *peer[LEARN_MERGE_MAX_PEERS];
    struct model *models[LEARN_MERGE_MAX_PEERS + 1];
    uint64_t examples[LEARN_MERGE_MAX_PEERS + 1];
    size_t nkeys = 0, n = 0, i;
    int err;

    *peers = 0;
    if (!keys) {
        snprintf(errstr, errstr_size, "no memory for merging models");
        return RIFFLE_ERR_NOMEM;
    }
    err = find_peers(m, keys, &nkeys, errstr, errstr_size);
    for (i = 0; !err && i < nkeys; i++) {
        err = load_peer(m, keys[i], &peer[n], errstr, errstr_size);
        if (!err && peer[n])
            n++;
    }

    /* Our own model first: the merged state is written into every
     * model given, ours included, which is the adoption. */
    models[0] = online_model(ol);
    examples[0] = online_metrics(ol)->total.count;
    for (i = 0; i < n; i++) {
        models[i + 1] = online_model(peer[i]);
        examples[i + 1] = online_metrics(peer[i])->total.count;
    }
    if (!err && n > 0) {
        err = model_merger_merge_weighted(m->merger, models, examples,
                                          n + 1);
        if (err)
            snprintf(errstr, errstr_size, "merging %zu models: %s", n + 1,
                     riffle_err_str(err));
    }
    if (!err && n > 0) {
        m->stats.merges++;
        m->stats.peers_read += n;
        *peers = n;
    }

    for (i = 0; i < n; i++)
        online_destroy(peer[i]);
    free(keys);
    return err;
}

void learn_merge_count_published(struct learn_merge *m, size_t bytes)
{
    m->stats.bytes_published += bytes;
}

const struct learn_merge_stats *learn_merge_stats(const struct learn_merge *m)
{
    return &m->stats;
}
