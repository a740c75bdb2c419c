/*
 * serving/model_follower.c - the model topic follower, see
 * model_follower.h.
 */
#include "serving/model_follower.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "consumers/snapshot_chunks.h"
#include "consumers/topic_reader.h"
#include "learner/snapshot.h"
#include "serving/serve_stats.h"

#define FOLLOWER_POLL_MS 100 /* short enough to see a stop quickly */
/* Versions remembered with their weights' CRC, to tell a snapshot
 * published again (the same weights) from another model under a version
 * already seen. A learner publishes a new version each time, so the last
 * few cover the pairs that matter: two learners, or one restarted from
 * an older snapshot, publishing side by side. */
#define FOLLOWER_SEEN 64
#define FOLLOWER_AT_MAX (CFG_NAME_MAX + 48)

struct seen_version {
    int64_t version;
    uint64_t weights_crc64;
    char at[FOLLOWER_AT_MAX]; /* where it was last seen, for the warning */
    int conflict;             /* warned about and counted already */
};

struct model_follower {
    const struct cfg *cfg;
    const struct schema *input;
    struct schema *snapshot;
    struct model_slot *slot;
    struct serve_stats *stats; /* NULL: conflicts are only logged */
    struct topic_reader *reader;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_ullong installed;
    struct buf pending; /* newest unrestored snapshot, empty if none */
    char pending_at[FOLLOWER_AT_MAX]; /* its coordinates, for logs */
    uint64_t served_crc64; /* weights CRC of the model in the slot */
    struct seen_version seen[FOLLOWER_SEEN];
    size_t seen_count, seen_next;
    struct snapshot_offset *offsets; /* restore's scratch space */
    struct snapshot_chunks *chunks;  /* reassembles large snapshots */
};

/* Builds a learner from the pending snapshot and installs it. */
static void install_pending(struct model_follower *f)
{
    struct online_learner *ol = NULL;
    struct snapshot_info info;
    char why[512];
    size_t n;
    int err;

    err = snapshot_read_info(f->snapshot, f->pending.data, f->pending.len,
                             &info, why, sizeof(why));
    if (!err && info.version == model_slot_version(f->slot) &&
        info.weights_crc64 == f->served_crc64)
        goto out; /* the same model again, e.g. re-published */
    if (!err)
        err = online_new(f->cfg, f->input, &ol, why, sizeof(why));
    if (!err)
        err = snapshot_restore(f->snapshot, ol, f->pending.data,
                               f->pending.len, f->offsets,
                               SNAPSHOT_MAX_OFFSETS, &n, &info, why,
                               sizeof(why));
    if (!err) {
        err = model_slot_install(f->slot, ol, info.version);
        f->served_crc64 = info.weights_crc64;
    } else {
        online_destroy(ol);
    }

    if (err) {
        log_warn("follower", "%s: snapshot of model %s not served, the "
                 "previous model stays: %s", f->pending_at,
                 f->cfg->model_name, why);
    } else {
        atomic_fetch_add(&f->installed, 1);
        log_info("follower", "%s: now serving model %s version %lld",
                 f->pending_at, f->cfg->model_name, (long long)info.version);
    }
out:
    buf_reset(&f->pending);
}

/* Remembers the snapshot at `at`, and when another with its version but
 * different weights was seen, warns (once per version) and counts it:
 * two learners, or one restarted from an older snapshot, published under
 * one version, and replicas that hid it would serve different models
 * under one name. The later snapshot in the topic serves either way, the
 * rule every replica and a restarting learner follow (docs/OPERATIONS.md,
 * "One version, two snapshots"). A snapshot whose metadata cannot be
 * read is left to the restore to report. */
static void note_version(struct model_follower *f, const struct buf *value,
                         const char *at)
{
    struct snapshot_info info;
    struct seen_version *v = NULL;
    char why[256];
    size_t i;

    if (snapshot_read_info(f->snapshot, value->data, value->len, &info, why,
                           sizeof(why)) != 0)
        return;
    for (i = 0; i < f->seen_count && !v; i++)
        if (f->seen[i].version == info.version)
            v = &f->seen[i];

    if (!v) {
        v = &f->seen[f->seen_next];
        f->seen_next = (f->seen_next + 1) % FOLLOWER_SEEN;
        if (f->seen_count < FOLLOWER_SEEN)
            f->seen_count++;
        memset(v, 0, sizeof(*v));
        v->version = info.version;
    } else if (v->weights_crc64 == info.weights_crc64) {
        log_debug("follower", "%s: model %s version %lld again, the same "
                  "weights as at %s", at, f->cfg->model_name,
                  (long long)info.version, v->at);
    } else if (!v->conflict) {
        log_warn("follower", "%s: model %s version %lld has other weights "
                 "than the snapshot of that version at %s: two learners, or "
                 "one restarted from an older snapshot, published under one "
                 "version; the later one serves", at, f->cfg->model_name,
                 (long long)info.version, v->at);
        v->conflict = 1;
        if (f->stats)
            serve_stats_version_conflict(f->stats);
    }
    v->weights_crc64 = info.weights_crc64;
    snprintf(v->at, sizeof(v->at), "%s", at);
}

/* Keeps msg as the pending snapshot when it completes one of our model
 * (a single message, or the manifest after its chunks). */
static void take_message(struct model_follower *f,
                         const rd_kafka_message_t *msg)
{
    const struct buf *value = NULL;
    char why[256];
    int rc;

    if (msg->err) {
        log_warn("follower", "%s [%d]: %s", f->cfg->topic_models,
                 (int)msg->partition, rd_kafka_message_errstr(msg));
        return;
    }
    rc = snapshot_chunks_feed(f->chunks, msg, &value, why, sizeof(why));
    if (rc == RIFFLE_ERR_SNAPSHOT)
        log_warn("follower", "%s [%d] %s; the previous model stays",
                 f->cfg->topic_models, (int)msg->partition, why);
    if (rc != 1 || !value->len)
        return; /* a chunk, another model, a deletion marker, or broken */
    buf_reset(&f->pending);
    if (buf_append(&f->pending, value->data, value->len) != 0) {
        log_error("follower", "%s [%d] @%lld: no memory for a snapshot of "
                  "%zu bytes", f->cfg->topic_models, (int)msg->partition,
                  (long long)msg->offset, value->len);
        return;
    }
    snprintf(f->pending_at, sizeof(f->pending_at), "%s [%d] @%lld",
             f->cfg->topic_models, (int)msg->partition,
             (long long)msg->offset);
    note_version(f, &f->pending, f->pending_at);
}

static void *follow(void *arg)
{
    struct model_follower *f = arg;

    while (!atomic_load(&f->stop)) {
        rd_kafka_message_t *msg = topic_reader_next(
            f->reader, f->cfg->topic_models, FOLLOWER_POLL_MS);

        if (msg) {
            take_message(f, msg);
            rd_kafka_message_destroy(msg);
        }
        /* Restore only once the backlog is read: the newest wins. */
        if (f->pending.len && (!msg || topic_reader_at_end(f->reader)))
            install_pending(f);
    }
    return NULL;
}

int model_follower_start(const struct cfg *cfg,
                         const struct schema *input_schema,
                         struct model_slot *slot, struct serve_stats *stats,
                         struct model_follower **out, char *errstr,
                         size_t errstr_size)
{
    struct model_follower *f = calloc(1, sizeof(*f));
    char path[CFG_PATH_MAX];
    int err;

    if (!f)
        return RIFFLE_ERR_NOMEM;
    f->cfg = cfg;
    f->input = input_schema;
    f->slot = slot;
    f->stats = stats;
    f->offsets = calloc(SNAPSHOT_MAX_OFFSETS, sizeof(*f->offsets));
    if (!f->offsets || snapshot_chunks_new(cfg->model_name, &f->chunks)) {
        model_follower_stop(f);
        return RIFFLE_ERR_NOMEM;
    }

    cfg_output_schema_path(cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    err = schema_load_file(path, &f->snapshot, errstr, errstr_size);
    if (!err)
        err = topic_reader_new(cfg->brokers, cfg->topic_models, 1,
                               &f->reader, errstr, errstr_size);
    /* The start reads the topic from its beginning, a backlog of
     * snapshots: see topic_reader_set_refill(). */
    if (!err)
        topic_reader_set_refill(f->reader, 1);
    if (!err && pthread_create(&f->thread, NULL, follow, f) != 0) {
        snprintf(errstr, errstr_size, "cannot start the follower thread");
        err = RIFFLE_ERR_NOMEM;
    }
    if (err) {
        model_follower_stop(f);
        return err;
    }
    f->started = 1;
    *out = f;
    return 0;
}

unsigned long long model_follower_installed(struct model_follower *f)
{
    return atomic_load(&f->installed);
}

void model_follower_stop(struct model_follower *f)
{
    if (!f)
        return;
    if (f->started) {
        atomic_store(&f->stop, 1);
        (void)pthread_join(f->thread, NULL); /* cannot fail: joinable */
    }
    topic_reader_destroy(f->reader);
    schema_destroy(f->snapshot);
    buf_free(&f->pending);
    free(f->offsets);
    snapshot_chunks_destroy(f->chunks);
    free(f);
}
