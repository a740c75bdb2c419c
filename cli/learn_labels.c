/*
 * cli/learn_labels.c - the labels topic in `riffle learn`, see
 * learn_labels.h.
 *
 * With several instances (--instance) the events and labels topics are
 * co-partitioned (learn_labels_check_partitions()), so the owner of
 * events partition p reads labels partition p too.
 *
 * When a partition moves between instances its delayed-label records
 * move with it (exactly once): every snapshot an instance writes is
 * followed, in the same transaction, by one record per input partition
 * it owns (learn_labels_write_records(), learner/labels_record.h), and
 * an instance that is handed a partition replaces its records of it by
 * the newest record (learn_labels_take_over()), so a label finds its
 * event whichever instance reads it. docs/SCALING.md, "when a partition
 * moves", argues why no join is lost and none counted twice.
 */
#include "cli/learn_labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/topic_reader.h"
#include "learner/label_join.h"
#include "learner/labels_record.h"

#define LEARN_LABELS_METADATA_MS 30000 /* a broker just started */
#define LEARN_LABELS_TOPIC_WAIT_MS 5000 /* a new topic shows within ~5 s */
#define LEARN_LABELS_KEY_MAX (2 * CFG_NAME_MAX) /* "<model>#labels/<p>" */

int learn_labels_is_labels_topic(const struct cfg *cfg, const char *topic)
{
    return cfg->labels.line && topic && strcmp(topic, cfg->labels.topic) == 0;
}

/* The configured action and the dead-letter reason for an outcome that
 * is not a join. */
static enum cfg_label_action action_of(const struct cfg *cfg,
                                       enum label_join_outcome outcome,
                                       const char **reason)
{
    if (outcome == LABEL_JOIN_DUPLICATE) {
        *reason = LEARN_LABELS_REASON_DUPLICATE;
        return cfg->labels.on_duplicate;
    }
    if (outcome == LABEL_JOIN_LATE) {
        *reason = LEARN_LABELS_REASON_EXPIRED;
        return cfg->labels.on_expired;
    }
    *reason = LEARN_LABELS_REASON_UNKNOWN;
    return cfg->labels.on_unknown;
}

/* The dead letter of a label that was read but not joined. The event id
 * is the user's own key, so it stays out of the detail: the dead letter
 * points at the message, which holds it. */
static int refuse_label(struct online_learner *ol, struct outputs *out,
                        const struct source_ref *src, const char *reason,
                        int replay, struct learn_labels_counts *counts,
                        char *errstr, size_t size)
{
    struct online_result r;

    memset(&r, 0, sizeof(r));
    r.dead_letter = 1;
    r.verdict.reason = reason;
    snprintf(r.verdict.field, sizeof(r.verdict.field), "%s",
             online_cfg(ol)->labels.topic);
    snprintf(r.verdict.detail, sizeof(r.verdict.detail), "%s",
             strcmp(reason, LEARN_LABELS_REASON_DUPLICATE) == 0
                 ? "its event has been learned with an earlier label"
             : strcmp(reason, LEARN_LABELS_REASON_EXPIRED) == 0
                 ? "its event waited longer than labels.ttl or was evicted "
                   "by labels.max_pending"
                 : "no event with this id came within labels.ttl of its "
                   "label");
    online_count_dead_letter(ol);
    if (replay)
        return 0;
    counts->dead_lettered++;
    log_debug("learn", "%s [%d] @%lld: label dead-lettered: %s", src->topic,
              (int)src->partition, (long long)src->offset, reason);
    return outputs_dead_letter(out, src, &r, errstr, size);
}

int learn_labels_handle(struct online_learner *ol, struct outputs *out,
                        const struct source_ref *src, int replay,
                        struct learn_labels_counts *counts, int *drift,
                        char *errstr, size_t size)
{
    struct online_label label;
    struct online_result r;
    enum label_join_outcome outcome;
    const char *reason;
    int err;

    *drift = 0;
    counts->messages += !replay;
    err = online_read_label(ol, src->key, src->key_len,
                            src->payload ? src->payload : "", src->len,
                            &label);
    if (err == RIFFLE_ERR_INVALID) {
        online_count_dead_letter(ol);
        if (replay)
            return 0;
        counts->invalid++;
        counts->dead_lettered++;
        return outputs_dead_letter(out, src, &label.verdict, errstr, size);
    }
    if (!err) {
        struct online_label_origin origin = {
            src->partition, src->offset,  src->timestamp_ms, src->key,
            src->key_len,   src->payload, src->len};

        err = online_learn_label(ol, &label, &origin, &outcome, &r);
    }
    if (err) {
        snprintf(errstr, size, "%s [%d] @%lld: %s", src->topic,
                 (int)src->partition, (long long)src->offset,
                 riffle_err_str(err));
        return err;
    }

    if (outcome == LABEL_JOIN_WAITING)
        return 0; /* its event has not come yet */
    if (outcome == LABEL_JOIN_JOINED) {
        *drift = r.drift;
        if (!r.dead_letter || replay)
            return 0;
        counts->dead_lettered++;
        return outputs_dead_letter(out, src, &r, errstr, size);
    }
    if (action_of(online_cfg(ol), outcome, &reason) == CFG_LABEL_IGNORE) {
        counts->ignored += !replay;
        return 0;
    }
    return refuse_label(ol, out, src, reason, replay, counts, errstr, size);
}

int learn_labels_release(struct online_learner *ol, struct outputs *out,
                         int replay, struct learn_labels_counts *counts,
                         char *errstr, size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct online_label_origin o;
    struct source_ref src;
    int rc = 0, err = 0;

    while (!err && (rc = online_next_given_up_label(ol, &o)) == 1) {
        src.topic = cfg->labels.topic;
        src.partition = o.partition;
        src.offset = o.offset;
        src.timestamp_ms = o.ts_ms;
        src.key = o.key_len ? o.key : NULL;
        src.key_len = o.key_len;
        src.payload = o.payload;
        src.len = o.len;
        if (cfg->labels.on_unknown == CFG_LABEL_IGNORE)
            counts->ignored += !replay;
        else
            err = refuse_label(ol, out, &src, LEARN_LABELS_REASON_UNKNOWN,
                               replay, counts, errstr, size);
    }
    if (!err && rc < 0) {
        snprintf(errstr, size, "%s: a waiting label: %s", cfg->labels.topic,
                 riffle_err_str(rc));
        err = rc;
    }
    return err;
}

/* Compares the labels topic's partition count with topic's. */
static int check_copartitioned(const struct cfg *cfg, rd_kafka_t *rk,
                               const char *topic, int labels_count,
                               char *errstr, size_t size)
{
    int count = 0;
    int err = kafka_topic_partitions(rk, topic, LEARN_LABELS_METADATA_MS,
                                     LEARN_LABELS_TOPIC_WAIT_MS, &count,
                                     errstr, size);

    if (err || count == labels_count)
        return err;
    return cfg_error(cfg, cfg->labels.line, "labels.topic", errstr, size,
                     "%s has %d partition(s) and the events topic %s has "
                     "%d: several instances (--instance) need them "
                     "co-partitioned, with as many partitions, so that the "
                     "owner of events partition p also reads labels "
                     "partition p (riffle topics create -c %s makes them "
                     "so)", cfg->labels.topic, labels_count, topic, count,
                     kafka_hint_config());
}

int learn_labels_check_partitions(const struct cfg *cfg, char *errstr,
                                  size_t size)
{
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->brokers, "riffle-learner",
                                           errstr, size);
    rd_kafka_t *rk;
    char why[256];
    int labels_count = 0, err;
    size_t i;

    if (!conf)
        return RIFFLE_ERR_KAFKA;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!rk) {
        snprintf(errstr, size, "cannot create a Kafka client: %s", why);
        rd_kafka_conf_destroy(conf);
        return RIFFLE_ERR_KAFKA;
    }

    err = kafka_topic_partitions(rk, cfg->labels.topic,
                                 LEARN_LABELS_METADATA_MS,
                                 LEARN_LABELS_TOPIC_WAIT_MS, &labels_count,
                                 errstr, size);
    if (!err)
        err = check_copartitioned(cfg, rk, cfg->topic_input, labels_count,
                                  errstr, size);
    for (i = 0; !err && i < cfg->source_count; i++)
        err = check_copartitioned(cfg, rk, cfg->sources[i].topic,
                                  labels_count, errstr, size);

    rd_kafka_destroy(rk);
    return err;
}

/* --- moving a partition's records between instances -------------------- */

/* Every owned partition's record is encoded in one walk of the store
 * (a walk per partition cost partitions x store records a snapshot),
 * then published. */
int learn_labels_write_records(struct online_learner *ol, struct outputs *out,
                               const struct consumer *consumer,
                               const struct snapshot_offset *offsets,
                               size_t n, size_t *bytes, char *errstr,
                               size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct consumer_lag parts[SNAPSHOT_MAX_OFFSETS];
    int32_t owned[SNAPSHOT_MAX_OFFSETS];
    struct buf values[SNAPSHOT_MAX_OFFSETS];
    char key[LEARN_LABELS_KEY_MAX];
    size_t count = 0, owned_count = 0, i;
    int err;

    consumer_lags(consumer, parts, SNAPSHOT_MAX_OFFSETS, &count);
    for (i = 0; i < count; i++)
        if (strcmp(parts[i].topic, cfg->topic_input) == 0)
            owned[owned_count++] = parts[i].partition;
    memset(values, 0, sizeof(values));

    err = labels_record_encode_each(online_label_join(ol), owned,
                                    owned_count, online_label_clock(ol),
                                    cfg_model_fingerprint(cfg), offsets, n,
                                    values);
    if (err)
        snprintf(errstr, size, "%s: no memory for the delayed-label "
                 "records of %zu partition(s)", cfg->topic_models,
                 owned_count);
    for (i = 0; !err && i < owned_count; i++) {
        labels_record_key(cfg->model_name, owned[i], key, sizeof(key));
        err = outputs_model_record(out, key, &values[i], errstr, size);
        *bytes += values[i].len;
    }

    for (i = 0; i < owned_count; i++)
        buf_free(&values[i]);
    return err;
}

/* The record must have been written under this configuration's model
 * settings (a start after a change, with --start-fresh, still finds the
 * records of before: their ids and features would mix with these), and
 * where it says it stands in each topic it covers must be where this
 * instance starts: the record is then exactly the state the relearned
 * gap builds on. Returns 1 when both hold; else 0 with why. */
static int record_fits(const struct cfg *cfg,
                       const struct labels_record_info *info,
                       const struct consumer_assigned *parts, size_t n,
                       char *why, size_t size)
{
    size_t i, k;

    if (!labels_record_fits_config(info, cfg, why, size))
        return 0;
    for (i = 0; i < n; i++) {
        if (parts[i].partition != info->partition)
            continue;
        for (k = 0; k < info->offset_count; k++) {
            if (strcmp(info->offsets[k].topic, parts[i].topic) != 0)
                continue;
            if (info->offsets[k].offset == parts[i].start ||
                (parts[i].start < 0 && info->offsets[k].offset == 0))
                break;
            snprintf(why, size, "it stands at offset %lld of %s, and this "
                     "instance starts at %lld", (long long)
                     info->offsets[k].offset, parts[i].topic,
                     (long long)parts[i].start);
            return 0;
        }
    }
    return 1;
}

/* Replaces the records of partition p by found, its newest record on
 * the model topic (got 0: none). A record missing, damaged, or not at
 * this instance's start is not used (see learn_labels.h): the
 * partition's records start empty. */
static int apply_record(struct online_learner *ol, int32_t p, int64_t start,
                        const char *key, const struct buf *found, size_t got,
                        const struct consumer_assigned *parts, size_t n,
                        char *errstr, size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct label_join *j = online_label_join(ol);
    struct labels_record_info info;
    char why[256];
    size_t skipped = 0;
    int err = 0;

    (void)label_join_drop_partition(j, p); /* replaced, or stale */
    if (got == 0 && start > 0)
        log_warn("learn", "%s: no %s, though partition %d is taken over at "
                 "offset %lld (written by an older riffle?): the events "
                 "that waited in it are not taken over, their labels count as "
                 "unknown unless their events are read again",
                 cfg->topic_models, key, (int)p, (long long)start);
    if (got == 0)
        return 0;
    if (labels_record_check(found->data, found->len, &info, why,
                            sizeof(why)) != 0) {
        log_warn("learn", "%s: %s: %s; the events that waited in partition "
                 "%d are not taken over: their labels count as "
                 "unknown unless their events are read again",
                 cfg->topic_models, key, why, (int)p);
    } else if (!record_fits(cfg, &info, parts, n, why, sizeof(why))) {
        log_warn("learn", "%s: %s does not fit: %s; the events that waited "
                 "in partition %d are not taken over: their labels count as "
                 "unknown unless their events are read again",
                 cfg->topic_models, key, why, (int)p);
    } else {
        err = labels_record_restore(j, found->data, found->len, &info,
                                    &skipped, errstr, size);
        if (!err)
            log_info("learn", "%s: took over %zu delayed-label record(s) of "
                     "partition %d from %s (%zu already held from another "
                     "partition)", cfg->topic_models, info.records - skipped,
                     (int)p, key, skipped);
    }
    return err;
}

static int assigned_input(const struct cfg *cfg,
                          const struct consumer_assigned *parts, size_t n,
                          int32_t p)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (parts[i].partition == p &&
            strcmp(parts[i].topic, cfg->topic_input) == 0)
            return 1;
    return 0;
}

/* The partitions of the store's records that are not ours any more, up
 * to SNAPSHOT_MAX_OFFSETS distinct ones, each decided once. */
struct moved {
    const struct cfg *cfg;
    const struct consumer_assigned *parts;
    size_t n;
    int32_t seen[SNAPSHOT_MAX_OFFSETS];
    unsigned char gone[SNAPSHOT_MAX_OFFSETS]; /* seen[i] is not ours */
    size_t dropped[SNAPSHOT_MAX_OFFSETS];     /* its records dropped */
    size_t count;
};

static int not_ours(void *ctx, int32_t p)
{
    struct moved *m = ctx;
    size_t i;

    for (i = 0; i < m->count; i++)
        if (m->seen[i] == p)
            break;
    if (i == m->count) {
        if (m->count == SNAPSHOT_MAX_OFFSETS)
            return 0; /* more partitions than a consumer is assigned */
        m->seen[i] = p;
        m->gone[i] = p >= 0 && !assigned_input(m->cfg, m->parts, m->n, p);
        m->count++;
    }
    m->dropped[i] += m->gone[i];
    return m->gone[i];
}

/* Drops the records of partitions that are not ours any more, in one
 * walk of the store: their new owner holds them now. */
static void drop_moved(struct online_learner *ol, struct learn_labels_held *h,
                       const struct consumer_assigned *parts, size_t n)
{
    struct moved m = {online_cfg(ol), parts, n, {0}, {0}, {0}, 0};
    size_t i;

    (void)label_join_drop_if(online_label_join(ol), not_ours, &m);
    for (i = 0; i < m.count; i++) {
        if (!m.gone[i])
            continue;
        if (m.seen[i] < SNAPSHOT_MAX_OFFSETS)
            h->dropped[m.seen[i]] = 1;
        log_info("learn", "%s: partition %d moved to another instance with "
                 "its %zu delayed-label record(s)", m.cfg->labels.topic,
                 (int)m.seen[i], m.dropped[i]);
    }
}

/* Whether the records of the assigned a must be taken over: its claim
 * hands state over, or this instance dropped them since. */
static int takes_record(const struct cfg *cfg,
                        const struct learn_labels_held *h,
                        const struct consumer_assigned *a)
{
    int dropped = a->partition >= SNAPSHOT_MAX_OFFSETS ||
                  h->dropped[a->partition];

    return strcmp(a->topic, cfg->topic_input) == 0 && a->claimed &&
           (a->inherits || dropped);
}

/* The partitions whose records are taken over, with their keys and what
 * one read of the model topic found for them. */
struct taking {
    size_t count;
    const struct consumer_assigned **from; /* each its assigned entry */
    char (*keys)[LEARN_LABELS_KEY_MAX];
    const char **names; /* keys[i] */
    struct buf *found;
    size_t *got;
};

static void taking_free(struct taking *t)
{
    size_t i;

    for (i = 0; t->found && i < t->count; i++)
        buf_free(&t->found[i]);
    free(t->from);
    free(t->keys);
    free(t->names);
    free(t->found);
    free(t->got);
}

/* Room for the records of up to n partitions in t, zeroed. */
static int taking_alloc(const struct cfg *cfg, struct taking *t, size_t n,
                        char *errstr, size_t size)
{
    memset(t, 0, sizeof(*t));
    if (n == 0)
        return 0;
    t->from = calloc(n, sizeof(*t->from));
    t->keys = calloc(n, sizeof(*t->keys));
    t->names = calloc(n, sizeof(*t->names));
    t->found = calloc(n, sizeof(*t->found));
    t->got = calloc(n, sizeof(*t->got));
    if (!t->from || !t->keys || !t->names || !t->found || !t->got) {
        snprintf(errstr, size, "%s: no memory to take over the "
                 "delayed-label records of %zu partition(s)",
                 cfg->topic_models, n);
        return RIFFLE_ERR_NOMEM;
    }
    return 0;
}

/* Adds the assigned a to the partitions whose records t takes over. */
static void taking_add(const struct cfg *cfg, struct taking *t,
                       const struct consumer_assigned *a)
{
    t->from[t->count] = a;
    labels_record_key(cfg->model_name, a->partition, t->keys[t->count],
                      sizeof(t->keys[t->count]));
    t->names[t->count] = t->keys[t->count];
    t->count++;
}

/* Lists the partitions of parts whose records are taken over. */
static int taking_list(const struct cfg *cfg,
                       const struct learn_labels_held *h,
                       const struct consumer_assigned *parts, size_t n,
                       struct taking *t, char *errstr, size_t size)
{
    size_t i;
    int err = taking_alloc(cfg, t, n, errstr, size);

    for (i = 0; !err && i < n; i++)
        if (takes_record(cfg, h, &parts[i]))
            taking_add(cfg, t, &parts[i]);
    return err;
}

/* Every partition taken over has its record found in one read of the
 * model topic's tail, with one reader: a read per partition, each with a
 * Kafka client of its own, cost a read each (about 110 ms here, 8
 * partitions 0.85-0.9 s; docs/SCALING.md, "Assignment time"). */
int learn_labels_take_over(struct online_learner *ol,
                           struct learn_labels_held *h,
                           const struct consumer_assigned *parts, size_t n,
                           char *errstr, size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    double started = kafka_monotonic_s();
    struct taking t;
    size_t i;
    int err;

    drop_moved(ol, h, parts, n);
    err = taking_list(cfg, h, parts, n, &t, errstr, size);
    if (!err && t.count > 0)
        err = topic_reader_latest_of_keys(cfg->brokers, cfg->topic_models,
                                          t.names, t.count, t.found, t.got,
                                          errstr, size);

    for (i = 0; !err && i < t.count; i++) {
        const struct consumer_assigned *a = t.from[i];

        err = apply_record(ol, a->partition, a->start, t.keys[i],
                           &t.found[i], t.got[i], parts, n, errstr, size);
        if (!err && a->partition < SNAPSHOT_MAX_OFFSETS)
            h->dropped[a->partition] = 0;
    }
    if (!err && t.count > 0)
        log_info("learn", "%s: took over the delayed-label records of %zu "
                 "partition(s) in %.0f ms", cfg->topic_models, t.count,
                 1000.0 * (kafka_monotonic_s() - started));
    taking_free(&t);
    return err;
}

int learn_labels_json(struct online_learner *ol,
                      const struct learn_labels_counts *counts,
                      struct buf *out)
{
    struct label_join_counts c;
    char text[512];
    int n;

    label_join_counts(online_label_join(ol), &c);
    n = snprintf(text, sizeof(text),
                 "\"labels\":{\"joined\":%llu,\"unknown\":%llu,"
                 "\"expired\":%llu,\"duplicate\":%llu,\"invalid\":%llu,"
                 "\"pending\":%llu,\"waiting\":%llu,"
                 "\"events_expired\":%llu,"
                 "\"events_evicted\":%llu,\"messages\":%llu,"
                 "\"dead_lettered\":%llu,\"ignored\":%llu}",
                 c.joined, c.unknown, c.late, c.duplicate, counts->invalid,
                 c.pending, c.early, c.expired, c.evicted, counts->messages,
                 counts->dead_lettered, counts->ignored);
    return buf_append(out, text, (size_t)n);
}

/* --- moving records at least once ------------------------------------- */

/* At least once the last snapshot's record stands where the group's
 * committed offsets do, unless the old owner stopped between writing it
 * and committing its offsets: the record before it then does (one
 * snapshot waits for the one before it to commit). */
#define LEARN_LABELS_ALO_CANDIDATES 2

/* Restores into the store the first of found[0..got) (newest first) that
 * is sound and stands where this instance starts in partition p (parts,
 * with their starts resolved); *restored says whether one did. */
static int restore_fitting(struct online_learner *ol, int32_t p,
                           const char *key, const struct buf *found,
                           size_t got, const struct consumer_assigned *parts,
                           size_t n, int *restored, char *errstr,
                           size_t size)
{
    struct labels_record_info info;
    char why[256];
    size_t skipped = 0, i;
    int err = 0;

    *restored = 0;
    for (i = 0; i < got && !*restored; i++) {
        if (labels_record_check(found[i].data, found[i].len, &info, why,
                                sizeof(why)) != 0)
            continue;
        /* Said here: the warning after the last candidate speaks only of
         * where the records stand. */
        if (!labels_record_fits_config(&info, online_cfg(ol), why,
                                       sizeof(why))) {
            log_warn("learn", "%s: %s does not fit: %s", online_cfg(ol)
                     ->topic_models, key, why);
            continue;
        }
        if (!record_fits(online_cfg(ol), &info, parts, n, why, sizeof(why)))
            continue;
        err = labels_record_restore(online_label_join(ol), found[i].data,
                                    found[i].len, &info, &skipped, errstr,
                                    size);
        if (err)
            return err;
        *restored = 1;
        log_info("learn", "%s: took over %zu delayed-label record(s) of "
                 "partition %d from %s (%zu already held from another "
                 "partition)", online_cfg(ol)->topic_models,
                 info.records - skipped, (int)p, key, skipped);
    }
    return 0;
}

/* The starts of parts, with those that start at the group's committed
 * offset (start -1) resolved to it, read in one request; nothing
 * committed leaves -1 (the beginning). *at is the caller's to free. */
static int resolve_starts(struct consumer *consumer,
                          const struct consumer_assigned *parts, size_t n,
                          struct consumer_assigned **at, char *errstr,
                          size_t size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)n + 1);
    size_t i;
    int err;

    *at = calloc(n + 1, sizeof(**at));
    if (!*at) {
        rd_kafka_topic_partition_list_destroy(list);
        snprintf(errstr, size, "no memory for an assignment of %zu "
                 "partition(s)", n);
        return RIFFLE_ERR_NOMEM;
    }
    memcpy(*at, parts, n * sizeof(*parts));
    for (i = 0; i < n; i++)
        if (parts[i].start < 0)
            rd_kafka_topic_partition_list_add(list, parts[i].topic,
                                              parts[i].partition);
    err = list->cnt > 0 ? consumer_committed(consumer, list,
                                             LEARN_LABELS_METADATA_MS,
                                             errstr, size)
                        : 0;
    for (i = 0; !err && i < n; i++) {
        const rd_kafka_topic_partition_t *tp;

        if (parts[i].start >= 0)
            continue;
        tp = rd_kafka_topic_partition_list_find(list, parts[i].topic,
                                                parts[i].partition);
        if (tp && !tp->err && tp->offset >= 0)
            (*at)[i].start = tp->offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

/* Whether the records of the assigned a (start resolved) must be taken
 * over at least once: it starts at the group's committed offset, past
 * the beginning, so its state is whoever committed there; or it came
 * back to this instance, which gave its records away since. */
static int takes_record_alo(const struct cfg *cfg,
                            const struct learn_labels_held *h,
                            const struct consumer_assigned *given,
                            const struct consumer_assigned *a)
{
    int dropped = a->partition >= SNAPSHOT_MAX_OFFSETS ||
                  h->dropped[a->partition];

    if (strcmp(a->topic, cfg->topic_input) != 0)
        return 0;
    return given->start < 0 ? a->start > 0 : dropped;
}

/* The record of one partition to take over, with the fallback to the
 * one before it (LEARN_LABELS_ALO_CANDIDATES). */
static int take_one_alo(struct online_learner *ol, struct learn_labels_held *h,
                        const struct consumer_assigned *a,
                        const struct buf *newest, size_t got_newest,
                        const struct consumer_assigned *at, size_t n,
                        char *errstr, size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct buf older[LEARN_LABELS_ALO_CANDIDATES];
    char key[LEARN_LABELS_KEY_MAX];
    size_t got = 0, i;
    int restored = 0, err;

    labels_record_key(cfg->model_name, a->partition, key, sizeof(key));
    (void)label_join_drop_partition(online_label_join(ol), a->partition);
    err = restore_fitting(ol, a->partition, key, newest, got_newest, at, n,
                          &restored, errstr, size);
    memset(older, 0, sizeof(older));
    if (!err && !restored && got_newest > 0)
        err = topic_reader_latest_by_key(cfg->brokers, cfg->topic_models,
                                         key, older,
                                         LEARN_LABELS_ALO_CANDIDATES, &got,
                                         errstr, size);
    if (!err && !restored && got > 1)
        err = restore_fitting(ol, a->partition, key, older + 1, got - 1, at,
                              n, &restored, errstr, size);
    for (i = 0; i < got; i++)
        buf_free(&older[i]);
    if (!err && !restored)
        log_warn("learn", "%s: no %s stands at offset %lld of %s, where "
                 "partition %d is taken over (%zu looked at): the events "
                 "that waited in it are not taken over, their labels count as "
                 "unknown unless their events are read again",
                 cfg->topic_models, key, (long long)a->start, a->topic, (int)a->partition,
                 got > got_newest ? got : got_newest);
    if (!err && a->partition < SNAPSHOT_MAX_OFFSETS)
        h->dropped[a->partition] = 0;
    return err;
}

int learn_labels_take_over_alo(struct online_learner *ol,
                               struct learn_labels_held *h,
                               struct consumer *consumer,
                               const struct consumer_assigned *parts,
                               size_t n, char *errstr, size_t size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct consumer_assigned *at = NULL;
    struct taking t;
    size_t i, k;
    int err;

    drop_moved(ol, h, parts, n);
    memset(&t, 0, sizeof(t));
    err = resolve_starts(consumer, parts, n, &at, errstr, size);
    if (!err)
        err = taking_alloc(cfg, &t, n, errstr, size);
    for (i = 0; !err && i < n; i++)
        if (takes_record_alo(cfg, h, &parts[i], &at[i]))
            taking_add(cfg, &t, &at[i]);
    if (!err && t.count > 0)
        err = topic_reader_latest_of_keys(cfg->brokers, cfg->topic_models,
                                          t.names, t.count, t.found, t.got,
                                          errstr, size);
    for (k = 0; !err && k < t.count; k++)
        err = take_one_alo(ol, h, t.from[k], &t.found[k], t.got[k], at, n,
                           errstr, size);
    if (!err && t.count > 0)
        log_info("learn", "%s: took over the delayed-label records of %zu "
                 "partition(s), at least once", cfg->topic_models, t.count);
    taking_free(&t);
    free(at);
    return err;
}
