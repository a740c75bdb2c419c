/*
 * consumers/consumer.c - group consumer with snapshot offsets, see
 * consumer.h.
 */
#include "consumers/consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/broker_wait.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/kafka_close.h"
#include "common/log.h"
#include "consumers/handover.h"
#include "consumers/offset_range.h"

#define CONSUMER_MAX_PARTITIONS SNAPSHOT_MAX_OFFSETS
#define CONSUMER_METADATA_TIMEOUT_MS 30000 /* a broker just started */
#define CONSUMER_COMMITTED_TIMEOUT_MS 10000 /* one try to fetch offsets */
#define CONSUMER_COMMITTED_TRIES 30 /* then the learner stops: ~5 min */
#define CONSUMER_COMMIT_TRIES 60 /* a coordinator moving: up to ~1 min */
#define CONSUMER_COMMIT_BACKOFF_MS 1000
#define CONSUMER_SEEK_TIMEOUT_MS 10000 /* a seek of an assigned partition */
/* One round for the watermarks of the partitions an assignment resumes:
 * it runs in the rebalance callback, which the group waits for. */
#define CONSUMER_RANGE_TIMEOUT_MS 10000
/* A close after a stop left a commit unanswered: librdkafka's close
 * waits for that commit (three tries of the 10 s socket timeout) and is
 * given this long before the process goes on without it. */
#define CONSUMER_ABANDONED_CLOSE_S 3
/* How far librdkafka fetches ahead of the learner. Once its queue holds
 * queued.min.messages (default 100,000) it stops fetching and looks again
 * only on its broker thread's next wake-up, up to a second later: a
 * learner that drains 100,000 events in less than that sat idle for the
 * rest (0.5-0.9 s of every 500,000 Elec2 events, measured). The queue
 * must hold more than a second of events, so the count is raised and the
 * bytes become the bound: 32 MiB is about 340,000 Elec2 events. */
#define CONSUMER_QUEUED_MIN_MESSAGES "1000000"
#define CONSUMER_QUEUED_MAX_KBYTES "32768"
/* Messages taken from librdkafka's queue in one call when it holds that
 * many: each rd_kafka_consumer_poll() call costs its own locking, clock
 * readings and poll bookkeeping, which one batch call shares out. */
#define CONSUMER_BATCH_MAX 256

struct partition_state {
    char topic[CFG_NAME_MAX];
    int32_t partition;
    int64_t next_offset; /* -1 until known */
    int64_t replay_until; /* group's committed offset at assignment, or
                             -1: below it, messages are replays */
    int64_t own_from;   /* this instance's claim: see handover.h */
    int64_t snap_offset; /* covered by the last snapshot, or -1 */
    int claimed;  /* at the last assignment: a claim was read */
    int inherits; /* and it hands over its owner's state */
    int at_end;
    int assigned;
};

struct consumer {
    rd_kafka_t *rk;
    char topic[CFG_NAME_MAX]; /* the first topic, for messages */
    struct partition_state parts[CONSUMER_MAX_PARTITIONS];
    size_t part_count;
    int replay;
    int ever_assigned; /* set by the rebalance callback, on poll's thread */
    char owner[CFG_NAME_MAX]; /* claims partitions when set */
    void (*revoke_hook)(void *opaque);
    void *revoke_opaque;
    void (*assign_hook)(void *opaque, const struct consumer_assigned *parts,
                        size_t n);
    void *assign_opaque;
    char failure[512]; /* set when the consumer cannot go on safely */
    enum cfg_past_end_action past_end; /* snapshot.on_offset_past_end */
    struct consumer_range_counts ranges;
    char brokers[512];  /* only named in log lines */
    char group[256];    /* only named in messages */
    int commit_abandoned; /* a stop left a commit unanswered */
    /* Messages taken in one batch call, handed out one at a time by
     * consumer_poll(): those before batch_next are the caller's. */
    rd_kafka_queue_t *queue; /* the group's queue */
    rd_kafka_message_t *batch[CONSUMER_BATCH_MAX];
    size_t batch_len, batch_next;
    /* A rebalance met inside a batch call is served once the messages
     * taken before it are handled (see refill()). */
    int in_batch;
    rd_kafka_topic_partition_list_t *deferred; /* NULL when none */
    rd_kafka_resp_err_t deferred_err;
};

static struct partition_state *find_part(struct consumer *c,
                                         const char *topic,
                                         int32_t partition, int create)
{
    size_t i;

    for (i = 0; i < c->part_count; i++)
        if (c->parts[i].partition == partition &&
            strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[i];
    if (!create || c->part_count == CONSUMER_MAX_PARTITIONS)
        return NULL;
    snprintf(c->parts[c->part_count].topic, CFG_NAME_MAX, "%s", topic);
    c->parts[c->part_count].partition = partition;
    c->parts[c->part_count].next_offset = -1;
    c->parts[c->part_count].replay_until = -1;
    c->parts[c->part_count].snap_offset = -1;
    return &c->parts[c->part_count++];
}

/* The group's committed offsets of parts (a copy is filled), retried
 * while the coordinator is unreachable: without them the learner cannot
 * tell replays from new events. Returns NULL after the last try, or at
 * a stop (kafka_set_stop()), which is no failure: the partitions are
 * then left unassigned, nothing is read from them, and the caller's
 * loop sees the stop. */
static rd_kafka_topic_partition_list_t *
fetch_committed(struct consumer *c,
                const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *copy;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    char why[512];
    int attempt;

    for (attempt = 1; attempt <= CONSUMER_COMMITTED_TRIES; attempt++) {
        copy = rd_kafka_topic_partition_list_copy(parts);
        err = kafka_committed(c->rk, copy, CONSUMER_COMMITTED_TIMEOUT_MS, why,
                              sizeof(why));
        if (!err)
            return copy;
        rd_kafka_topic_partition_list_destroy(copy);
        if (err == KAFKA_ERR_STOPPED || kafka_stop_requested()) {
            log_info("consumer", "%s: %d partition(s) left unassigned: %s",
                     c->topic, parts->cnt,
                     err == KAFKA_ERR_STOPPED ? why : "stopping on request");
            return NULL;
        }
        log_warn("consumer", "%s: waiting for the group's committed "
                 "offsets (try %d of %d): %s", c->topic, attempt,
                 CONSUMER_COMMITTED_TRIES, rd_kafka_err2str(err));
    }
    /* Only now: a later try that succeeds must not leave it set. */
    snprintf(c->failure, sizeof(c->failure), "%s: cannot fetch the group's "
             "committed offsets: %s", c->topic, rd_kafka_err2str(err));
    return NULL;
}

static void log_start(const rd_kafka_topic_partition_t *tp,
                      const struct partition_state *ps)
{
    long long until = ps ? (long long)ps->replay_until : -1;

    if (tp->offset >= 0)
        log_info("consumer", "%s [%d]: assigned, starting at offset %lld",
                 tp->topic, (int)tp->partition, (long long)tp->offset);
    else if (tp->offset == RD_KAFKA_OFFSET_BEGINNING)
        log_info("consumer", "%s [%d]: assigned, starting at the "
                 "beginning (no snapshot offset)", tp->topic,
                 (int)tp->partition);
    else
        log_info("consumer", "%s [%d]: assigned, starting at the group's "
                 "committed offset, or the beginning", tp->topic,
                 (int)tp->partition);
    if (until > 0 && until > tp->offset)
        log_info("consumer", "%s [%d]: relearning up to offset %lld without "
                 "publishing: those outputs are already committed",
                 tp->topic, (int)tp->partition, until);
}

/* Where a partition starts in replay mode, from the group's committed
 * offset and the claim in its metadata (handover.h). Without an owner
 * name (a caller that does not claim) claims are not read either. */
static void plan_start(struct consumer *c, rd_kafka_topic_partition_t *tp,
                       const rd_kafka_topic_partition_t *committed,
                       struct partition_state *ps)
{
    struct handover_claim claim;
    struct handover_start hs;
    int claimed = c->owner[0] && committed->offset >= 0 &&
                  handover_parse(committed->metadata,
                                 committed->metadata_size, &claim) == 0;

    handover_decide(c->owner, claimed ? &claim : NULL, committed->offset,
                    ps->next_offset, &hs);
    ps->claimed = claimed;
    ps->inherits = hs.inherits;
    ps->replay_until = hs.replay_until;
    ps->own_from = hs.from;
    ps->next_offset = hs.start;
    tp->offset = hs.start >= 0 ? hs.start : RD_KAFKA_OFFSET_BEGINNING;
    if (claimed && strcmp(claim.owner, c->owner) != 0)
        log_info("consumer", "%s [%d]: taking over from instance %s, "
                 "which learned it up to offset %lld (its snapshot covers "
                 "%lld)%s", tp->topic, (int)tp->partition, claim.owner,
                 (long long)committed->offset, (long long)claim.snap,
                 hs.relearn_gap ? ": relearning what its snapshot lost"
                                : "");
    else if (claimed)
        log_info("consumer", "%s [%d]: last committed by this instance, "
                 "learned here since offset %lld", tp->topic,
                 (int)tp->partition, (long long)claim.from);
}

/* Tells the assign hook where each assigned partition starts. */
static void call_assign_hook(struct consumer *c,
                             const rd_kafka_topic_partition_list_t *parts)
{
    struct consumer_assigned *out;
    size_t n = 0;
    int i;

    if (!c->assign_hook)
        return;
    out = calloc((size_t)parts->cnt + 1, sizeof(*out));
    if (!out) {
        snprintf(c->failure, sizeof(c->failure), "%s: no memory for an "
                 "assignment", c->topic);
        return;
    }
    for (i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        const struct partition_state *ps =
            find_part(c, tp->topic, tp->partition, 0);

        out[n].topic = tp->topic;
        out[n].partition = tp->partition;
        out[n].start = tp->offset >= 0 ? tp->offset : -1;
        out[n].claimed = ps ? ps->claimed : 0;
        out[n].inherits = ps ? ps->inherits : 0;
        n++;
    }
    c->assign_hook(c->assign_opaque, out, n);
    free(out);
}

/* The watermarks of the partitions of parts that resume at a known
 * offset, into lows and highs (same order as parts, -1 where not asked):
 * one ListOffsets round each. Returns 0, or -1 with why set. */
static int fetch_ranges(struct consumer *c,
                        const rd_kafka_topic_partition_list_t *parts,
                        int64_t *lows, int64_t *highs, char *why,
                        size_t why_size)
{
    rd_kafka_topic_partition_list_t *low, *high;
    rd_kafka_resp_err_t err;
    int i;

    low = rd_kafka_topic_partition_list_new(parts->cnt);
    high = rd_kafka_topic_partition_list_new(parts->cnt);
    for (i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];

        lows[i] = highs[i] = -1;
        if (tp->offset < 0)
            continue;
        rd_kafka_topic_partition_list_add(low, tp->topic, tp->partition)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(high, tp->topic, tp->partition)
            ->offset = RD_KAFKA_OFFSET_END;
    }
    err = kafka_query_offsets(c->rk, low, CONSUMER_RANGE_TIMEOUT_MS, why,
                              why_size);
    if (!err)
        err = kafka_query_offsets(c->rk, high, CONSUMER_RANGE_TIMEOUT_MS,
                                  why, why_size);
    for (i = 0; !err && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        const rd_kafka_topic_partition_t *l, *h;

        if (tp->offset < 0)
            continue;
        l = rd_kafka_topic_partition_list_find(low, tp->topic, tp->partition);
        h = rd_kafka_topic_partition_list_find(high, tp->topic,
                                               tp->partition);
        lows[i] = l ? l->offset : -1;
        highs[i] = h ? h->offset : -1;
    }
    rd_kafka_topic_partition_list_destroy(low);
    rd_kafka_topic_partition_list_destroy(high);
    return err ? -1 : 0;
}

/* Applies d, the decision for tp (whose resume offset lies outside its
 * partition [low, high]), to tp and ps; names the case loudly and counts
 * it. Returns -1 when the partition must not be read. */
static int apply_range(struct consumer *c, rd_kafka_topic_partition_t *tp,
                       struct partition_state *ps, int64_t low, int64_t high,
                       const struct offset_range_decision *d)
{
    const char *whose = ps->snap_offset == tp->offset ? "snapshot offset"
                                                      : "resume offset";

    if (d->range == OFFSET_RANGE_BEFORE_START) {
        c->ranges.before_start++;
        c->ranges.lost_to_retention += (uint64_t)d->lost;
        log_warn("consumer", "%s [%d]: %s %lld is before the partition's "
                 "start %lld (end %lld): %lld event(s) were deleted by "
                 "retention before the model learned them; going on from "
                 "%lld", tp->topic, (int)tp->partition, whose,
                 (long long)tp->offset, (long long)low, (long long)high,
                 (long long)d->lost, (long long)d->start);
    } else {
        c->ranges.past_end++;
        log_warn("consumer", "%s [%d]: %s %lld is past the partition's end "
                 "%lld (start %lld): the topic was recreated or the broker "
                 "lost records", tp->topic, (int)tp->partition, whose,
                 (long long)tp->offset, (long long)high, (long long)low);
        if (d->stop) {
            /* reported once, by the learner, as the reason it stops */
            if (!c->failure[0])
                snprintf(c->failure, sizeof(c->failure), "%s [%d]: %s %lld "
                         "is past the partition's end %lld (start %lld) and "
                         "snapshot.on_offset_past_end is \"stop\": set it "
                         "to \"earliest\" to learn the partition from its "
                         "start or \"latest\" to skip to its end, or start "
                         "from another snapshot", tp->topic,
                         (int)tp->partition, whose, (long long)tp->offset,
                         (long long)high, (long long)low);
            return -1;
        }
        log_warn("consumer", "%s [%d]: going on from offset %lld "
                 "(snapshot.on_offset_past_end = \"%s\")", tp->topic,
                 (int)tp->partition, (long long)d->start,
                 offset_range_action_name(c->past_end));
    }

    /* What the snapshot covers, and where this instance's span begins,
     * are now counted in the partition as it stands. */
    tp->offset = ps->next_offset = d->start;
    if (ps->snap_offset >= 0)
        ps->snap_offset = d->start;
    if (ps->own_from > d->start)
        ps->own_from = d->start;
    return 0;
}

/* Checks each resume offset of parts against its partition's
 * watermarks (consumers/offset_range.h) and moves or refuses the ones
 * that no longer fit. In replay mode a committed offset past the end
 * is cut to it too: events from the end on are new, and must be
 * published. Returns -1 when a partition must not be read (c->failure
 * says why), else 0, also when the watermarks cannot be had. */
static int check_ranges(struct consumer *c,
                        rd_kafka_topic_partition_list_t *parts)
{
    int64_t *lows, *highs;
    char why[256];
    int i, rc = 0;

    lows = calloc((size_t)parts->cnt + 1, sizeof(*lows));
    highs = calloc((size_t)parts->cnt + 1, sizeof(*highs));
    if (!lows || !highs) {
        log_warn("consumer", "%s: no memory to check the resume offsets "
                 "against the partitions", c->topic);
        goto out;
    }
    rc = fetch_ranges(c, parts, lows, highs, why, sizeof(why));
    if (rc != 0 && kafka_stop_requested()) {
        /* stopping: nothing is to be read (see fetch_committed()) */
        log_info("consumer", "%s: %d partition(s) left unassigned: %s",
                 c->topic, parts->cnt, why);
        goto out; /* rc -1: none is assigned */
    }
    if (rc != 0) {
        rc = 0;
        /* librdkafka still resets an offset out of range to the start */
        log_warn("consumer", "%s: resume offsets not checked against the "
                 "partitions: %s", c->topic, why);
        goto out;
    }

    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct partition_state *ps = find_part(c, tp->topic, tp->partition,
                                               0);
        struct offset_range_decision d;

        if (!ps)
            continue;
        offset_range_decide(tp->offset, lows[i], highs[i], c->past_end, &d);
        if ((d.range == OFFSET_RANGE_BEFORE_START ||
             d.range == OFFSET_RANGE_PAST_END) &&
            apply_range(c, tp, ps, lows[i], highs[i], &d) != 0) {
            rc = -1; /* the others are still checked: all are named */
            continue;
        }
        if (highs[i] >= 0 && ps->replay_until > highs[i]) {
            log_warn("consumer", "%s [%d]: the group's committed offset "
                     "%lld is past the partition's end %lld: events from "
                     "%lld on are new and published", tp->topic,
                     (int)tp->partition, (long long)ps->replay_until,
                     (long long)highs[i], (long long)highs[i]);
            ps->replay_until = highs[i];
        }
    }

out:
    free(lows);
    free(highs);
    return rc;
}

/* Whether every partition of parts is of a topic subscribed to. A
 * learner of another pipeline that shares the group id and the static
 * member id (two configurations with one name) is handed that one's
 * partitions by the broker, which keeps a static member's assignment
 * when the member comes back: read, its events would be learned into
 * this model and its offsets committed. Sets c->failure on the first
 * stranger. */
static int check_subscribed(struct consumer *c,
                            const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *subs = NULL;
    int i, rc = 0;

    if (rd_kafka_subscription(c->rk, &subs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !subs)
        return 0; /* cannot tell: the group's word stands */

    for (i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];

        if (rd_kafka_topic_partition_list_find(subs, tp->topic,
                                               RD_KAFKA_PARTITION_UA))
            continue;
        snprintf(c->failure, sizeof(c->failure),
                 "the group %s assigned %s [%d], a topic this learner does "
                 "not read: another pipeline's learner uses the same group "
                 "and member id (kafka.group_id, by default riffle-<name>): "
                 "give each pipeline its own name or kafka.group_id",
                 c->group, tp->topic, (int)tp->partition);
        rc = -1;
        break;
    }
    rd_kafka_topic_partition_list_destroy(subs);
    return rc;
}

/* Sets each newly assigned partition's start: in replay mode see
 * plan_start(); otherwise the snapshot's offset when there is one, else
 * the committed offset (RD_KAFKA_OFFSET_STORED falls back to
 * auto.offset.reset = earliest). */
static void on_assign(struct consumer *c,
                      rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed = NULL;
    rd_kafka_resp_err_t err;
    int i;

    /* Nothing of another pipeline's topic is read: the learner stops on
     * c->failure with all left unassigned. */
    if (check_subscribed(c, parts) != 0)
        return;

    if (c->replay) {
        committed = fetch_committed(c, parts);
        if (!committed)
            return; /* c->failure stops the learner, or a stop does */
    }

    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct partition_state *ps = find_part(c, tp->topic, tp->partition,
                                               1);

        tp->offset = c->replay ? RD_KAFKA_OFFSET_BEGINNING
                               : RD_KAFKA_OFFSET_STORED;
        if (ps) {
            ps->assigned = 1;
            c->ever_assigned = 1;
            ps->at_end = 0;
            ps->claimed = ps->inherits = 0;
            if (committed)
                plan_start(c, tp, &committed->elems[i], ps);
            else if (ps->next_offset >= 0)
                tp->offset = ps->next_offset;
        }
    }
    if (committed)
        rd_kafka_topic_partition_list_destroy(committed);

    /* A partition that must not be read leaves all unassigned: the
     * learner stops on c->failure before it polls again. */
    if (check_ranges(c, parts) != 0)
        return;
    for (i = 0; i < parts->cnt; i++)
        log_start(&parts->elems[i], find_part(c, parts->elems[i].topic,
                                              parts->elems[i].partition, 0));

    call_assign_hook(c, parts);
    err = rd_kafka_assign(c->rk, parts);
    if (err)
        snprintf(c->failure, sizeof(c->failure), "%s: assign failed: %s",
                 c->topic, rd_kafka_err2str(err));
}

static void serve_rebalance(struct consumer *c, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts)
{
    int i;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, parts);
        return;
    }

    if (c->revoke_hook)
        c->revoke_hook(c->revoke_opaque);
    for (i = 0; i < parts->cnt; i++) {
        struct partition_state *ps = find_part(c, parts->elems[i].topic,
                                               parts->elems[i].partition, 0);
        if (ps)
            ps->assigned = 0;
    }
    log_info("consumer", "%d partition(s) revoked", parts->cnt);
    (void)rd_kafka_assign(c->rk, NULL); /* nothing to do if it fails */
}

/* Inside a batch call the rebalance waits (the group waits for our
 * assign or unassign): the messages taken before it in the same call
 * were fetched under the assignment it ends, and are handled first, as
 * one-at-a-time polling would have handled them before it. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    struct consumer *c = opaque;

    (void)rk;
    if (!c->in_batch) {
        serve_rebalance(c, err, parts);
        return;
    }
    if (c->deferred) {
        /* Cannot happen: the group waits for the first one's answer.
         * Both are served, and the messages of the call may straddle
         * them, so the consumer stops rather than guess. */
        snprintf(c->failure, sizeof(c->failure), "%s: two rebalances in "
                 "one batch of messages", c->topic);
        serve_rebalance(c, c->deferred_err, c->deferred);
        rd_kafka_topic_partition_list_destroy(c->deferred);
        c->deferred = NULL;
        serve_rebalance(c, err, parts);
        return;
    }
    c->deferred = rd_kafka_topic_partition_list_copy(parts);
    c->deferred_err = err;
    log_debug("consumer", "%s: a rebalance waits for the messages taken "
              "before it", c->topic);
}

static void serve_deferred(struct consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = c->deferred;

    if (!parts)
        return;
    c->deferred = NULL;
    serve_rebalance(c, c->deferred_err, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* The snapshot's offsets of the topics subscribed to. */
static void set_starts(struct consumer *c, const char *const *topics,
                       size_t topic_count, const struct snapshot_offset *start,
                       size_t n)
{
    size_t i, t;

    for (i = 0; i < n; i++) {
        struct partition_state *ps;

        for (t = 0; t < topic_count; t++)
            if (strcmp(start[i].topic, topics[t]) == 0)
                break;
        if (t == topic_count)
            continue;
        ps = find_part(c, start[i].topic, start[i].partition, 1);
        if (ps)
            ps->next_offset = ps->snap_offset = start[i].offset;
    }
}

static int subscribe(struct consumer *c, const char *const *topics,
                     size_t topic_count, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_resp_err_t err;
    int count;
    size_t t;

    /* Each topic must exist: a missing one is a clear error here, not a
     * silent empty subscription. */
    for (t = 0; t < topic_count; t++) {
        int err = kafka_topic_partitions(c->rk, topics[t],
                                         CONSUMER_METADATA_TIMEOUT_MS, 0,
                                         &count, errstr, errstr_size);

        if (err)
            return err; /* RIFFLE_ERR_STOPPED too: a stop, not a failure */
    }

    subs = rd_kafka_topic_partition_list_new((int)topic_count);
    for (t = 0; t < topic_count; t++)
        rd_kafka_topic_partition_list_add(subs, topics[t],
                                          RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        snprintf(errstr, errstr_size, "cannot subscribe to %s%s: %s",
                 topics[0], topic_count > 1 ? " and others" : "",
                 rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

int consumer_new(const char *brokers, const char *group_id,
                 const char *topic, const struct snapshot_offset *start,
                 size_t n, int replay, const char *instance_id,
                 struct consumer **out, char *errstr, size_t errstr_size)
{
    return consumer_new_topics(brokers, group_id, &topic, 1, start, n,
                               replay, instance_id, 0, out, errstr,
                               errstr_size);
}

int consumer_new_topics(const char *brokers, const char *group_id,
                        const char *const *topics, size_t topic_count,
                        const struct snapshot_offset *start, size_t n,
                        int replay, const char *instance_id,
                        long session_timeout_ms, struct consumer **out,
                        char *errstr, size_t errstr_size)
{
    struct consumer *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf;
    char why[256], session[32];
    int err;

    if (!c)
        return RIFFLE_ERR_NOMEM;
    snprintf(c->topic, sizeof(c->topic), "%s", topics[0]);
    snprintf(c->brokers, sizeof(c->brokers), "%s", brokers);
    snprintf(c->group, sizeof(c->group), "%s", group_id);
    c->replay = replay;
    set_starts(c, topics, topic_count, start, n);
    snprintf(session, sizeof(session), "%ld", session_timeout_ms);

    conf = kafka_conf_new(brokers, "riffle-learner", errstr, errstr_size);
    if (!conf || kafka_conf_set(conf, "group.id", group_id, errstr,
                                errstr_size) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "isolation.level", "read_committed", errstr,
                       errstr_size) ||
        /* range gives partition p of every topic with the same count to
         * one member: learner instances rely on it to read a labels
         * partition with its events (librdkafka's default tries range
         * first too; pinned so that a change of default cannot split
         * them) */
        kafka_conf_set(conf, "partition.assignment.strategy", "range",
                       errstr, errstr_size) ||
        kafka_conf_set(conf, "queued.min.messages",
                       CONSUMER_QUEUED_MIN_MESSAGES, errstr, errstr_size) ||
        kafka_conf_set(conf, "queued.max.messages.kbytes",
                       CONSUMER_QUEUED_MAX_KBYTES, errstr, errstr_size) ||
        (instance_id && kafka_conf_set(conf, "group.instance.id",
                                       instance_id, errstr, errstr_size)) ||
        (session_timeout_ms > 0 &&
         kafka_conf_set(conf, "session.timeout.ms", session, errstr,
                        errstr_size))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(c);
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, c);

    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!c->rk) {
        snprintf(errstr, errstr_size, "cannot create consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(c);
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);

    err = subscribe(c, topics, topic_count, errstr, errstr_size);
    if (err) {
        consumer_destroy(c);
        return err;
    }

    *out = c;
    return 0;
}

/* Destroys the messages taken but not handed out whose partition
 * matches (topic NULL: all of them). */
static void drop_taken(struct consumer *c, const char *topic,
                       int32_t partition)
{
    size_t i, kept = c->batch_next;

    for (i = c->batch_next; i < c->batch_len; i++) {
        rd_kafka_message_t *msg = c->batch[i];

        if (!topic || (msg->partition == partition && msg->rkt &&
                       strcmp(rd_kafka_topic_name(msg->rkt), topic) == 0))
            rd_kafka_message_destroy(msg);
        else
            c->batch[kept++] = msg;
    }
    c->batch_len = kept;
}

void consumer_destroy(struct consumer *c)
{
    if (!c)
        return;
    drop_taken(c, NULL, 0);
    serve_deferred(c); /* librdkafka's close then serves the rest */
    if (c->queue)
        rd_kafka_queue_destroy(c->queue);
    if (c->rk && c->commit_abandoned) {
        /* the close serves the revocation without the caller, which is
         * going: no hook is called, and c stays if the close goes on */
        c->revoke_hook = NULL;
        c->assign_hook = NULL;
        /* c, reachable from the close's callbacks, goes with the close */
        (void)kafka_close_bounded(c->rk, CONSUMER_ABANDONED_CLOSE_S, free, c,
                                  "consumer");
        return;
    } else if (c->rk) {
        (void)rd_kafka_consumer_close(c->rk); /* leaving is best effort */
        rd_kafka_destroy(c->rk);
    }
    free(c);
}

void consumer_set_owner(struct consumer *c, const char *owner)
{
    snprintf(c->owner, sizeof(c->owner), "%s", owner ? owner : "");
}

void consumer_note_snapshot(struct consumer *c)
{
    size_t i;

    for (i = 0; i < c->part_count; i++)
        if (c->parts[i].next_offset >= 0)
            c->parts[i].snap_offset = c->parts[i].next_offset;
}

void consumer_set_assign_hook(struct consumer *c,
                              void (*fn)(void *opaque,
                                         const struct consumer_assigned *,
                                         size_t n),
                              void *opaque)
{
    c->assign_hook = fn;
    c->assign_opaque = opaque;
}

void consumer_set_revoke_hook(struct consumer *c,
                              void (*fn)(void *opaque), void *opaque)
{
    c->revoke_hook = fn;
    c->revoke_opaque = opaque;
}

const char *consumer_failure(const struct consumer *c)
{
    return c->failure[0] ? c->failure : NULL;
}

int consumer_is_replay(const struct consumer *c,
                       const rd_kafka_message_t *msg)
{
    size_t i;

    for (i = 0; i < c->part_count; i++)
        if (c->parts[i].partition == msg->partition && msg->rkt &&
            strcmp(c->parts[i].topic, rd_kafka_topic_name(msg->rkt)) == 0)
            return msg->offset < c->parts[i].replay_until;
    return 0;
}

rd_kafka_consumer_group_metadata_t *
consumer_group_metadata(const struct consumer *c)
{
    return rd_kafka_consumer_group_metadata(c->rk);
}

/* The claim (handover.h) goes with the offset into the transaction;
 * librdkafka frees tp->metadata with the list. Without memory the offset
 * goes unclaimed, which a successor treats as a single learner's. */
static void attach_claim(const struct consumer *c,
                         const struct partition_state *ps,
                         rd_kafka_topic_partition_t *tp)
{
    struct handover_claim claim;
    char text[HANDOVER_METADATA_MAX];
    int n;

    if (!c->owner[0])
        return;
    snprintf(claim.owner, sizeof(claim.owner), "%s", c->owner);
    claim.from = ps->own_from;
    claim.snap = ps->snap_offset;
    n = handover_format(&claim, text, sizeof(text));
    if (n < 0)
        return;
    tp->metadata = malloc((size_t)n);
    if (!tp->metadata)
        return;
    memcpy(tp->metadata, text, (size_t)n);
    tp->metadata_size = (size_t)n;
}

rd_kafka_topic_partition_list_t *
consumer_assigned_offsets(const struct consumer *c)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)c->part_count + 1);
    rd_kafka_topic_partition_t *tp;
    size_t i;

    for (i = 0; i < c->part_count; i++) {
        const struct partition_state *ps = &c->parts[i];

        if (!ps->assigned || ps->next_offset < 0)
            continue;
        /* Never below the committed offset: while a partition is still
         * replaying, its committed outputs reach further than its
         * position, and committing less would publish them again after
         * a crash. */
        tp = rd_kafka_topic_partition_list_add(list, ps->topic,
                                               ps->partition);
        tp->offset = ps->next_offset > ps->replay_until ? ps->next_offset
                                                        : ps->replay_until;
        attach_claim(c, ps, tp);
    }
    return list;
}

/* Takes what librdkafka's queue holds, up to CONSUMER_BATCH_MAX, without
 * waiting; when it holds nothing, waits up to timeout_ms for one message
 * (a rebalance met there is served at once: no message of the call
 * comes before it). */
static void refill(struct consumer *c, int timeout_ms)
{
    rd_kafka_message_t *msg;
    ssize_t n;

    c->batch_len = c->batch_next = 0;
    c->in_batch = 1;
    n = rd_kafka_consume_batch_queue(c->queue, 0, c->batch,
                                     CONSUMER_BATCH_MAX);
    c->in_batch = 0;
    if (n > 0) {
        c->batch_len = (size_t)n;
        return;
    }
    if (c->deferred) {
        serve_deferred(c);
        return;
    }
    msg = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (msg) {
        c->batch[0] = msg;
        c->batch_len = 1;
    }
}

rd_kafka_message_t *consumer_poll(struct consumer *c, int timeout_ms)
{
    rd_kafka_message_t *msg;
    struct partition_state *ps;

    if (c->batch_next == c->batch_len) {
        serve_deferred(c); /* every message taken before it is handled */
        refill(c, timeout_ms);
    }
    if (c->batch_next == c->batch_len)
        return NULL;
    msg = c->batch[c->batch_next++];
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return msg;

    ps = msg->rkt ? find_part(c, rd_kafka_topic_name(msg->rkt),
                              msg->partition, 1)
                  : NULL;
    if (ps) {
        ps->at_end = 1;
        if (ps->next_offset < msg->offset)
            ps->next_offset = msg->offset;
    }
    rd_kafka_message_destroy(msg);
    return NULL;
}

void consumer_mark_done(struct consumer *c, const rd_kafka_message_t *msg)
{
    struct partition_state *ps =
        find_part(c, rd_kafka_topic_name(msg->rkt), msg->partition, 1);

    if (!ps)
        return;
    ps->next_offset = msg->offset + 1;
    ps->at_end = 0;
}

size_t consumer_assigned_count(const struct consumer *c)
{
    size_t i, n = 0;

    for (i = 0; i < c->part_count; i++)
        n += c->parts[i].assigned != 0;
    return n;
}

int consumer_ever_assigned(const struct consumer *c)
{
    return c->ever_assigned;
}

int consumer_brokers_reachable(struct consumer *c, int timeout_ms, char *why,
                               size_t why_size)
{
    rd_kafka_resp_err_t unanswered = RD_KAFKA_RESP_ERR_NO_ERROR;
    char errstr[256];
    int count = 0;

    (void)kafka_topic_partitions_asked(c->rk, c->topic, timeout_ms, 0, &count,
                                       &unanswered, errstr, sizeof(errstr));
    if (unanswered == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 1;
    snprintf(why, why_size, "the brokers do not answer within %d ms for the "
             "metadata of %s: %s", timeout_ms, c->topic,
             rd_kafka_err2str(unanswered));
    return 0;
}

int consumer_caught_up(const struct consumer *c)
{
    size_t i, assigned = 0;

    for (i = 0; i < c->part_count; i++) {
        if (!c->parts[i].assigned)
            continue;
        assigned++;
        if (!c->parts[i].at_end)
            return 0;
    }
    return assigned > 0;
}

/* The assigned partitions, each at the logical offset "end" that
 * rd_kafka_offsets_for_times() resolves; NULL when out of memory. */
static rd_kafka_topic_partition_list_t *assigned_ends(const struct consumer *c)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)c->part_count + 1);
    size_t i;

    for (i = 0; list && i < c->part_count; i++)
        if (c->parts[i].assigned)
            rd_kafka_topic_partition_list_add(list, c->parts[i].topic,
                                              c->parts[i].partition)
                ->offset = RD_KAFKA_OFFSET_END;
    return list;
}

/* One ListOffsets round for every assigned partition, bounded by
 * timeout_ms (kafka_query_offsets(): an idle learner once hung in an
 * unbounded ask for the whole outage, saying nothing); sets *ends (the
 * caller destroys it) or why. */
static int ask_ends(struct consumer *c, int timeout_ms,
                    rd_kafka_topic_partition_list_t **ends, char *why,
                    size_t why_size)
{
    *ends = assigned_ends(c);
    if (!*ends || (*ends)->cnt == 0) {
        snprintf(why, why_size, "%s: no partition is assigned", c->topic);
        return 0;
    }
    return kafka_query_offsets(c->rk, *ends, timeout_ms, why, why_size) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
}

int consumer_confirm_caught_up(struct consumer *c, int timeout_ms, char *why,
                               size_t why_size)
{
    rd_kafka_topic_partition_list_t *ends;
    int i, done = ask_ends(c, timeout_ms, &ends, why, why_size);

    for (i = 0; done && i < ends->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &ends->elems[i];
        const struct partition_state *ps =
            find_part(c, tp->topic, tp->partition, 0);

        if (!ps || tp->offset > ps->next_offset) {
            snprintf(why, why_size, "%s [%d] has more offset(s) to read (its "
                     "end is %lld)", tp->topic, (int)tp->partition,
                     (long long)tp->offset);
            done = 0;
        }
    }
    if (ends)
        rd_kafka_topic_partition_list_destroy(ends);
    return done;
}

int consumer_brokers_answer(struct consumer *c, int timeout_ms, char *why,
                            size_t why_size)
{
    rd_kafka_topic_partition_list_t *ends;
    int answer = ask_ends(c, timeout_ms, &ends, why, why_size);

    if (ends)
        rd_kafka_topic_partition_list_destroy(ends);
    return answer;
}

void consumer_positions(const struct consumer *c,
                        struct snapshot_offset *out, size_t max, size_t *n)
{
    size_t i;

    *n = 0;
    for (i = 0; i < c->part_count && *n < max; i++) {
        if (c->parts[i].next_offset < 0)
            continue;
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s",
                 c->parts[i].topic);
        out[*n].partition = c->parts[i].partition;
        out[*n].offset = c->parts[i].next_offset;
        out[*n].checked = 0;
        (*n)++;
    }
}

void consumer_lags(const struct consumer *c, struct consumer_lag *out,
                   size_t max, size_t *n)
{
    int64_t low, high;
    size_t i;

    *n = 0;
    for (i = 0; i < c->part_count && *n < max; i++) {
        const struct partition_state *ps = &c->parts[i];

        if (!ps->assigned)
            continue;
        out[*n].topic = ps->topic;
        out[*n].partition = ps->partition;
        out[*n].next_offset = ps->next_offset;
        out[*n].high = -1;
        /* The cached watermarks: no broker round trip on this thread. */
        if (rd_kafka_get_watermark_offsets(c->rk, ps->topic, ps->partition,
                                           &low, &high) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            high >= 0)
            out[*n].high = high;
        if (out[*n].next_offset < 0 && low >= 0 && out[*n].high >= 0)
            out[*n].next_offset = low; /* nothing read yet */
        (*n)++;
    }
}

/* Errors of a group coordinator that is moving or still loading, e.g.
 * just after a broker restart: the same commit succeeds a moment later. */
static int coordinator_moving(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
           err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
           err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
           err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
           err == RD_KAFKA_RESP_ERR__TRANSPORT ||
           err == RD_KAFKA_RESP_ERR__WAIT_COORD; /* kafka_commit() */
}

/* The group no longer counts this member, e.g. its session ran out
 * while the brokers were away: librdkafka rejoins by itself, and a
 * commit after the rejoin goes through. */
static int member_gone(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
           err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

int consumer_commit(struct consumer *c, const struct snapshot_offset *off,
                    size_t n, char *errstr, size_t errstr_size)
{
    return consumer_commit_meta(c, off, NULL, n, errstr, errstr_size);
}

int consumer_commit_meta(struct consumer *c, const struct snapshot_offset *off,
                         const char *const *meta, size_t n, char *errstr,
                         size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_topic_partition_t *tp;
    rd_kafka_resp_err_t err;
    struct broker_wait w;
    char what[300];
    size_t i;
    int attempt, werr;

    if (n == 0)
        return 0;
    list = rd_kafka_topic_partition_list_new((int)n);
    for (i = 0; i < n; i++) {
        tp = rd_kafka_topic_partition_list_add(list, off[i].topic,
                                               off[i].partition);
        tp->offset = off[i].offset;
        if (meta && meta[i]) {
            /* freed with the list */
            tp->metadata = strdup(meta[i]);
            tp->metadata_size = tp->metadata ? strlen(meta[i]) : 0;
        }
    }

    broker_wait_start(&w, "consumer", c->brokers, kafka_stop_flag(),
                      kafka_monotonic_s());
    snprintf(what, sizeof(what), "commit the offsets of %s", c->topic);
    for (attempt = 1;; attempt++) {
        err = kafka_commit(c->rk, list, &w, what, errstr, errstr_size);
        if (!err || !coordinator_moving(err) ||
            attempt == CONSUMER_COMMIT_TRIES)
            break;
        log_warn("consumer", "%s: offset commit: %s; trying again (%d of "
                 "%d)", c->topic, rd_kafka_err2str(err), attempt,
                 CONSUMER_COMMIT_TRIES);
        (void)rd_kafka_poll(c->rk, CONSUMER_COMMIT_BACKOFF_MS); /* a pause */
        werr = RIFFLE_ERR_TIMEOUT;
        if (!broker_wait_again(&w, kafka_monotonic_s(), what, &werr, errstr,
                               errstr_size)) {
            err = KAFKA_ERR_STOPPED;
            break;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err == KAFKA_ERR_STOPPED) {
        c->commit_abandoned = 1; /* consumer_destroy() then waits less */
        return RIFFLE_ERR_STOPPED; /* errstr says what was not committed */
    }
    if (err) {
        snprintf(errstr, errstr_size, "offset commit failed: %s",
                 rd_kafka_err2str(err));
        return member_gone(err) ? RIFFLE_ERR_TIMEOUT : RIFFLE_ERR_KAFKA;
    }
    return 0;
}

int consumer_committed_meta(struct consumer *c, const char *topic,
                            int32_t partition, int timeout_ms,
                            int64_t *offset, char *meta, size_t meta_size,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_add(list, topic, partition);
    rd_kafka_resp_err_t err = kafka_committed(c->rk, list, timeout_ms, errstr,
                                              errstr_size);
    size_t len = 0;

    if (err == KAFKA_ERR_STOPPED) {
        rd_kafka_topic_partition_list_destroy(list);
        return RIFFLE_ERR_STOPPED; /* errstr says what was not read */
    }
    if (!err)
        err = tp->err;
    if (err) {
        snprintf(errstr, errstr_size, "%s [%d]: cannot read the committed "
                 "offset: %s", topic, (int)partition, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(list);
        return RIFFLE_ERR_KAFKA;
    }
    *offset = tp->offset >= 0 ? tp->offset : -1;
    if (tp->metadata && meta_size > 0) {
        len = tp->metadata_size < meta_size - 1 ? tp->metadata_size
                                                : meta_size - 1;
        memcpy(meta, tp->metadata, len);
    }
    if (meta_size > 0)
        meta[len] = '\0';
    rd_kafka_topic_partition_list_destroy(list);
    return 0;
}

int consumer_partition_count(struct consumer *c, const char *topic,
                             int *count, char *errstr, size_t errstr_size)
{
    return kafka_topic_partitions(c->rk, topic, CONSUMER_METADATA_TIMEOUT_MS,
                                  0, count, errstr, errstr_size);
}

int consumer_committed(struct consumer *c,
                       rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                       char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = kafka_committed(c->rk, parts, timeout_ms,
                                              errstr, errstr_size);

    if (err == KAFKA_ERR_STOPPED)
        return RIFFLE_ERR_STOPPED; /* errstr says what was not read */
    if (err) {
        snprintf(errstr, errstr_size, "cannot read the committed offsets "
                 "of %d partition(s): %s", parts->cnt, rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

int consumer_seek(struct consumer *c, const char *topic, int32_t partition,
                  int64_t offset, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(list, topic, partition)->offset =
        offset;
    error = rd_kafka_seek_partitions(c->rk, list, CONSUMER_SEEK_TIMEOUT_MS);
    err = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (!err) /* taken from the old position */
        drop_taken(c, topic, partition);
    if (err)
        snprintf(errstr, errstr_size, "%s [%d]: cannot seek to %lld: %s",
                 topic, (int)partition, (long long)offset,
                 rd_kafka_err2str(err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
    return err ? RIFFLE_ERR_KAFKA : 0;
}

void consumer_set_past_end_action(struct consumer *c,
                                  enum cfg_past_end_action action)
{
    c->past_end = action;
}

void consumer_range_counts(const struct consumer *c,
                           struct consumer_range_counts *out)
{
    *out = c->ranges;
}
