/*
 * cli/learn_labels.c - the labels topic in `riffle learn`, see
 * learn_labels.h.
 *
 * With several instances (--instance) the events and labels topics are
 * co-partitioned (learn_labels_check_partitions()), so the owner of
 * events partition p reads labels partition p too.
 *
 * TODO(hand-over): the waiting events of a partition stay in the store
 * of the instance that read them when the group moves the partition to
 * another instance; their labels then go to the new owner and are given
 * up as unknown, while the old owner counts the events expired. Fine
 * while instances are started together and run without rebalances
 * (test_delayed_labels_instances.sh); urgent once instances come and go
 * with labels pending: the store must move with its partition.
 */
#include "cli/learn_labels.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "learner/label_join.h"

#define LEARN_LABELS_METADATA_MS 30000 /* a broker just started */
#define LEARN_LABELS_TOPIC_WAIT_MS 5000 /* a new topic shows within ~5 s */

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
                     "partition p (riffle topics create makes them so)",
                     cfg->labels.topic, labels_count, topic, count);
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

int learn_labels_check_key(const struct source_ref *src,
                           const struct online_result *r, char *errstr,
                           size_t size)
{
    size_t id_len = r->event_id ? strlen(r->event_id) : 0;

    if (!r->pending || !r->event_id ||
        (src->key && src->key_len == id_len &&
         memcmp(src->key, r->event_id, id_len) == 0))
        return 0;
    snprintf(errstr, size, "%s [%d] @%lld: an event waiting for its label "
             "is keyed %s: several instances (--instance) need every "
             "event keyed by its event id, as the labels are, so that one "
             "instance reads both (riffle produce keys them so)",
             src->topic, (int)src->partition, (long long)src->offset,
             src->key ? "by something else than its event id"
                      : "by nothing");
    return RIFFLE_ERR_CFG;
}

void learn_labels_warn_revoke(struct online_learner *ol)
{
    struct label_join_counts c;

    label_join_counts(online_label_join(ol), &c);
    if (c.pending == 0 && c.early == 0)
        return;
    log_warn("learn", "%s: partitions are being revoked while %llu "
             "event(s) and %llu label(s) wait here: those of a partition "
             "that moves to another instance stay here and will not be "
             "joined (their labels count as unknown there, the events as "
             "expired here)", online_cfg(ol)->labels.topic, c.pending,
             c.early);
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
