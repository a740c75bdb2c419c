/*
 * cli/learn_merge.c - merging learner instances through the model topic,
 * see learn_merge.h.
 *
 * The merger follows the model topic instead of scanning it: it keeps,
 * per partition, the offset it will read next, and per peer instance the
 * newest complete snapshot seen so far (its bytes and its timestamp). A
 * merge reads only the messages published since the previous one. The
 * first merge after start has nothing remembered, so it starts at the
 * first message of the liveness window (scaling.instance_expiry_seconds
 * back, plus a margin for the chunks before a manifest): anything older
 * would not be merged anyway. Snapshot bytes are kept rather than
 * restored models, which would hold a dense model per peer.
 *
 * One reader stays open from the first merge on: a merge asks each
 * partition's leader for its end offset and reads up to it, instead of
 * connecting a new consumer each time. Partitions added to the model
 * topic after the first merge are not read (the topic keeps its count).
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
/* How far before the liveness window the first read starts: the chunks
 * of a large snapshot are written just before its manifest, in the same
 * transaction, so they are seconds older than the manifest that dates
 * the snapshot. */
#define LEARN_MERGE_CHUNK_MARGIN_MS 60000

/* Another instance, as far as the model topic has told us. */
struct merge_peer {
    char key[2 * CFG_NAME_MAX];       /* "<model>@NAME" */
    struct snapshot_chunks *chunks;   /* reassembles its chunked snapshots */
    struct buf snapshot;              /* its newest complete one; empty: none */
    int64_t at_ms;                    /* that snapshot's Kafka timestamp */
};

struct learn_merge {
    const struct cfg *cfg;
    const struct schema *input, *snapshot_schema;
    char self_key[2 * CFG_NAME_MAX];
    char prefix[CFG_NAME_MAX + 1]; /* "<model>@" */
    struct model_merger *merger;
    struct snapshot_offset *offsets; /* scratch for snapshot_restore */
    struct merge_peer peers[LEARN_MERGE_MAX_PEERS];
    size_t npeers;
    int full_warned; /* more instances than LEARN_MERGE_MAX_PEERS, said */
    int64_t *next;   /* per partition, the offset to read next; -1: none */
    int64_t *end;    /* per partition, where the current merge reads to */
    int partitions;
    struct topic_reader *reader; /* open from the first merge on */
    int64_t clock_ms; /* the newest timestamp read on the model topic */
    int clock_said;   /* which clock that is, logged once */
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

static void peer_forget(struct merge_peer *p)
{
    snapshot_chunks_destroy(p->chunks);
    buf_free(&p->snapshot);
    memset(p, 0, sizeof(*p));
}

void learn_merge_destroy(struct learn_merge *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->npeers; i++)
        peer_forget(&m->peers[i]);
    model_merger_destroy(m->merger);
    topic_reader_destroy(m->reader);
    free(m->next);
    free(m->end);
    free(m->offsets);
    free(m);
}

/* The instance key a message of the model topic belongs to, in key[]:
 * "<model>@NAME" for its snapshots and for their chunks. Returns 0 when
 * the message is not another instance's (the pipeline's merged model,
 * another model, our own). */
static int peer_key_of(const struct learn_merge *m,
                       const rd_kafka_message_t *msg, char *key, size_t size)
{
    size_t plen = strlen(m->prefix);
    char *chunk;

    if (!msg->key || msg->key_len <= plen || msg->key_len >= size ||
        memcmp(msg->key, m->prefix, plen) != 0)
        return 0;
    memcpy(key, msg->key, msg->key_len);
    key[msg->key_len] = '\0';
    chunk = strstr(key, SNAPSHOT_CHUNK_KEY_INFIX);
    if (chunk)
        *chunk = '\0';
    return strcmp(key, m->self_key) != 0;
}

/* The peer named key, added when new; NULL when the table is full. */
static struct merge_peer *peer_find(struct learn_merge *m, const char *key,
                                    char *errstr, size_t size, int *err)
{
    struct merge_peer *p;
    size_t i;

    for (i = 0; i < m->npeers; i++)
        if (strcmp(m->peers[i].key, key) == 0)
            return &m->peers[i];
    if (m->npeers == LEARN_MERGE_MAX_PEERS) {
        if (!m->full_warned)
            log_warn("merge", "%s: more than %d other instances: %s and "
                     "later ones are not merged", m->cfg->topic_models,
                     LEARN_MERGE_MAX_PEERS, key);
        m->full_warned = 1;
        return NULL;
    }

    p = &m->peers[m->npeers];
    snprintf(p->key, sizeof(p->key), "%s", key);
    if (snapshot_chunks_new(key, &p->chunks) != 0) {
        snprintf(errstr, size, "no memory for merging models");
        *err = RIFFLE_ERR_NOMEM;
        return NULL;
    }
    m->npeers++;
    return p;
}

/* One message of the model topic: a peer's complete snapshot replaces
 * the one remembered; a tombstone of its key forgets it. A chunked
 * snapshot whose chunks are broken leaves the older one in place, as a
 * restore falls back to an older snapshot; one whose chunks lie before
 * the first message read (the first read starts at a point in time) is
 * passed over without a warning. */
static int take_message(struct learn_merge *m, const rd_kafka_message_t *msg,
                        char *errstr, size_t size)
{
    char key[2 * CFG_NAME_MAX], why[256];
    const struct buf *value = NULL;
    struct merge_peer *p;
    int err = 0, rc;

    if (!peer_key_of(m, msg, key, sizeof(key)))
        return 0;
    p = peer_find(m, key, errstr, size, &err);
    if (!p)
        return err;
    if (!msg->payload && msg->key_len == strlen(key)) {
        log_info("merge", "%s [%d] @%lld: instance %s deleted: no longer "
                 "merged", m->cfg->topic_models, (int)msg->partition,
                 (long long)msg->offset, key);
        buf_free(&p->snapshot);
        return 0;
    }

    rc = snapshot_chunks_feed(p->chunks, msg, &value, why, sizeof(why));
    if (rc == RIFFLE_ERR_SNAPSHOT && !snapshot_chunks_unstarted(p->chunks))
        log_warn("merge", "%s [%d] %s: %s: keeping its previous snapshot",
                 m->cfg->topic_models, (int)msg->partition, key, why);
    if (rc != 1)
        return rc == RIFFLE_ERR_NOMEM ? rc : 0;
    buf_free(&p->snapshot);
    snapshot_chunks_take(p->chunks, &p->snapshot);
    p->at_ms = rd_kafka_message_timestamp(msg, NULL);
    return 0;
}

/* Remembers that partition's next offset, growing the table when the
 * topic gained partitions. */
static int note_position(struct learn_merge *m, int partitions,
                         const rd_kafka_message_t *msg)
{
    int i;

    if (partitions > m->partitions) {
        int64_t *next = realloc(m->next, (size_t)partitions * sizeof(*next));

        if (!next)
            return RIFFLE_ERR_NOMEM;
        for (i = m->partitions; i < partitions; i++)
            next[i] = -1;
        m->next = next;
        m->partitions = partitions;
    }
    if (msg->partition >= 0 && msg->partition < m->partitions)
        m->next[msg->partition] = msg->offset + 1;
    return 0;
}

/* The reader, opened at the first merge at the start of the liveness
 * window, and the end offset of every partition as its leader gives it
 * now: what this merge reads up to. */
static int reader_ready(struct learn_merge *m, char *errstr, size_t size)
{
    int64_t since = kafka_now_ms() -
                    (int64_t)(m->cfg->instance_expiry_seconds * 1000.0) -
                    LEARN_MERGE_CHUNK_MARGIN_MS;
    int count, err = 0;

    if (!m->reader) {
        err = topic_reader_new_from(m->cfg->brokers, m->cfg->topic_models,
                                    NULL, 0, since, &m->reader, errstr,
                                    size);
        /* A merge reads every instance's new snapshots, and the first
         * the whole liveness window: see topic_reader_set_refill(). */
        if (!err)
            topic_reader_set_refill(m->reader, 1);
    }
    if (err)
        return err;
    count = topic_reader_partition_count(m->reader);
    if (!m->end) {
        m->end = calloc((size_t)count, sizeof(*m->end));
        if (!m->end)
            return RIFFLE_ERR_NOMEM;
    }
    return topic_reader_query_ends(m->reader, m->cfg->topic_models, count,
                                   m->end, errstr, size);
}

/* Whether every partition is read up to m->end: past its last message,
 * or where it last reported its end (transaction markers take offsets). */
static int read_to_end(const struct topic_reader *r, void *opaque)
{
    const struct learn_merge *m = opaque;
    int p, count = topic_reader_partition_count(r);

    for (p = 0; p < count; p++) {
        int64_t at = topic_reader_end_offset(r, p);

        if (p < m->partitions && m->next[p] > at)
            at = m->next[p];
        if (at < m->end[p])
            return 0;
    }
    return 1;
}

/* One message of the model topic read by read_news(). */
static int news_take(void *opaque, const rd_kafka_message_t *msg,
                     char *errstr, size_t size)
{
    struct learn_merge *m = opaque;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts;
    int err;

    if (msg->err)
        return 0;
    ts = rd_kafka_message_timestamp(msg, &tstype);
    if (!m->clock_said)
        log_info("merge", "%s: instances' ages by %s", m->cfg->topic_models,
                 tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME
                     ? "the broker's clock (LogAppendTime)"
                     : "the publishers' clocks (CreateTime; `riffle "
                       "topics create` sets LogAppendTime)");
    m->clock_said = 1;
    if (ts > m->clock_ms)
        m->clock_ms = ts;

    m->stats.messages_read++;
    m->stats.last_messages_read++;
    err = note_position(m, topic_reader_partition_count(m->reader), msg);
    if (!err)
        err = take_message(m, msg, errstr, size);
    return err;
}

/* Reads what the model topic received since the previous merge (since
 * the start of the liveness window at the first) up to its end. */
static int read_news(struct learn_merge *m, char *errstr, size_t size)
{
    int err = reader_ready(m, errstr, size);

    m->stats.last_messages_read = 0;
    if (!err)
        err = topic_reader_read(m->reader, m->cfg->topic_models,
                                LEARN_MERGE_POLL_MS, read_to_end, news_take,
                                m, NULL, errstr, size);
    if (err == RIFFLE_ERR_NOMEM)
        snprintf(errstr, size, "no memory for merging models");
    return err;
}

/* Whether p's newest snapshot is recent enough to merge; an instance
 * seen expiring is said once, and its snapshot dropped. */
static int peer_alive(struct learn_merge *m, struct merge_peer *p,
                      int64_t now_ms)
{
    double age_s = (double)(now_ms - p->at_ms) / 1000.0;

    if (p->snapshot.len == 0)
        return 0;
    if (age_s <= m->cfg->instance_expiry_seconds)
        return 1;
    log_info("merge", "%s: the newest snapshot of instance %s is %.0f s "
             "old (scaling.instance_expiry_seconds = %g): no longer merged",
             m->cfg->topic_models, p->key, age_s,
             m->cfg->instance_expiry_seconds);
    buf_free(&p->snapshot);
    m->stats.peers_expired++;
    return 0;
}

/* p's snapshot restored into a new learner (*out; NULL when it is
 * refused, with a warning). */
static int load_peer(struct learn_merge *m, const struct merge_peer *p,
                     struct online_learner **out, char *errstr, size_t size)
{
    struct online_learner *ol = NULL;
    char why[512];
    size_t offsets = 0;
    int err = online_new(m->cfg, m->input, &ol, errstr, size);

    *out = NULL;
    if (err)
        return err;
    if (snapshot_restore(m->snapshot_schema, ol, p->snapshot.data,
                         p->snapshot.len, m->offsets, SNAPSHOT_MAX_OFFSETS,
                         &offsets, NULL, why, sizeof(why)) != 0) {
        log_warn("merge", "%s: not merging the snapshot of %s: %s",
                 m->cfg->topic_models, p->key, why);
        online_destroy(ol);
        return 0;
    }
    m->stats.bytes_read += p->snapshot.len;
    *out = ol;
    return 0;
}

int learn_merge_adopt(struct learn_merge *m, struct online_learner *ol,
                      size_t *peers, char *errstr, size_t errstr_size)
{
    struct online_learner *peer[LEARN_MERGE_MAX_PEERS];
    struct model *models[LEARN_MERGE_MAX_PEERS + 1];
    uint64_t examples[LEARN_MERGE_MAX_PEERS + 1];
    double started = kafka_monotonic_s();
    size_t n = 0, i;
    int err = read_news(m, errstr, errstr_size);
    /* Ages on the model topic's own clock: the newest timestamp read,
     * normally our snapshot just committed. With LogAppendTime (topics
     * create sets it) that is the broker's clock for every instance, so
     * a learner whose clock is off does not expire its peers early or
     * late; the local clock serves only before anything was read. */
    int64_t now_ms = m->clock_ms > 0 ? m->clock_ms : kafka_now_ms();

    *peers = 0;
    for (i = 0; !err && i < m->npeers; i++) {
        if (!peer_alive(m, &m->peers[i], now_ms))
            continue;
        err = load_peer(m, &m->peers[i], &peer[n], errstr, errstr_size);
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
    m->stats.seconds += kafka_monotonic_s() - started;
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
