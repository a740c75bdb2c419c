/*
 * cli/learn_join.c - the join topic read whole by every learner, see
 * learn_join.h.
 *
 * One reader (consumers/topic_reader.c) stays open on every partition.
 * The rebuild reads from each partition's beginning; a record at or past
 * the snapshot's position of its partition is not applied, and since the
 * reader has then moved past that position, it is replaced by one that
 * starts exactly there. Per partition the module keeps the next offset
 * not applied, which is what a snapshot records.
 *
 * For the partitions this instance owns it also keeps the next offset
 * not checked for dead letters. A synchronisation checks a record as it
 * applies it when nothing before it is left unchecked; records applied
 * while dead letters could not be published, or before the partition
 * came to this instance, are left behind and read again by a reader
 * opened for that alone. While the owner's own events are idle, and at
 * its clean stop, the same reader checks its partitions up to the
 * brokers' ends, past what it applied.
 *
 * Per partition it also keeps how far some owner is known to have
 * checked, owned or not: snapshots record it (join_checked), so that a
 * start that finds no committed position goes on from there.
 */
#include "cli/learn_join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/topic_reader.h"

#define LEARN_JOIN_POLL_MS 100
#define LEARN_JOIN_SYNC_POLL_MS 10 /* a synchronisation holds up events */

struct learn_join {
    const struct cfg *cfg;
    struct topic_reader *r;
    int partitions;
    int64_t *next;   /* per partition, the next offset not applied */
    int64_t *target; /* scratch: where a read must get to; -1: its end */
    int64_t synced_ms; /* events stamped before this are covered */
    /* Per partition: whether this instance dead-letters it, and then the
     * next offset not checked (every unusable record below it is
     * dead-lettered). */
    unsigned char *owned;
    int64_t *checked;
    int64_t *ends; /* the brokers' ends found by learn_join_look_ends() */
    int64_t *restored; /* the snapshot's positions; -1 where none */
    /* Per partition, the furthest position known to be checked by any
     * owner (this one, or one whose committed position was read), which
     * a snapshot records as its join_checked; -1 where none is known. */
    int64_t *promised;
    struct learn_join_stats stats;
};

/* Where partition p stands: past every record applied, and past the end
 * the reader last reported when that is further (transaction markers
 * take offsets but carry no record). */
static int64_t join_position(const struct learn_join *j, int p)
{
    int64_t end = topic_reader_end_offset(j->r, p);

    return end > j->next[p] ? end : j->next[p];
}

/* Applies one record; *bad_out says whether it was unusable. */
static int join_apply(struct learn_join *j, struct online_learner *ol,
                      const rd_kafka_message_t *msg, int *bad_out,
                      struct online_result *res, char *errstr, size_t size)
{
    rd_kafka_timestamp_type_t tstype;
    int err = online_process_from(
        ol, j->cfg->join.topic, msg->partition,
        rd_kafka_message_timestamp(msg, &tstype),
        msg->payload ? msg->payload : "", msg->len, res);

    if (err) {
        snprintf(errstr, size, "%s [%d] @%lld: %s", j->cfg->join.topic,
                 (int)msg->partition, (long long)msg->offset,
                 riffle_err_str(err));
        return err;
    }
    *bad_out = res->dead_letter;
    j->next[msg->partition] = msg->offset + 1;
    return 0;
}

/* A rebuild under way (see rebuild()). */
struct join_rebuild {
    struct learn_join *j;
    struct online_learner *ol;
    unsigned char *done; /* per partition, its target reached */
    int overshot;        /* a record past a target was read */
};

/* Whether every partition has reached its target or its end: a
 * partition that ends before its target was truncated or recreated
 * since the snapshot, and holds nothing more to rebuild from. */
static int rebuild_done(const struct topic_reader *r, void *opaque)
{
    const struct join_rebuild *b = opaque;
    int p;

    for (p = 0; p < b->j->partitions; p++)
        if (!b->done[p] && topic_reader_end_offset(r, p) < 0)
            return 0;
    return 1;
}

/* One record of the rebuild: applied when before its partition's
 * target, else left and the partition marked done. */
static int rebuild_take(void *opaque, const rd_kafka_message_t *msg,
                        char *errstr, size_t size)
{
    struct join_rebuild *b = opaque;
    struct learn_join *j = b->j;
    struct online_result res;
    int p = msg->partition, bad, err;

    if (msg->err || p < 0 || p >= j->partitions)
        return 0;
    if (j->target[p] >= 0 && msg->offset >= j->target[p]) {
        b->done[p] = 1;
        b->overshot = 1;
        return 0;
    }

    err = join_apply(j, b->ol, msg, &bad, &res, errstr, size);
    j->stats.rebuilt++;
    j->stats.rebuilt_bad += !err && bad;
    if (j->target[p] >= 0 && j->next[p] >= j->target[p])
        b->done[p] = 1;
    return err;
}

/* Says so when partition p ended before the snapshot's position, and
 * then takes its end as the position. */
static void check_truncated(struct learn_join *j, int p)
{
    int64_t end = topic_reader_end_offset(j->r, p);

    if (j->target[p] < 0 || end < 0 || end >= j->target[p] ||
        j->next[p] >= j->target[p])
        return;
    log_warn("learn", "%s [%d]: ends at offset %lld, before the position "
             "%lld the snapshot recorded (truncated or recreated since): "
             "the enrichment table holds what the partition still has",
             j->cfg->join.topic, p, (long long)end,
             (long long)j->target[p]);
    j->target[p] = end;
}

/* Reads every partition from its beginning up to target[p], or to its
 * end where target[p] is -1. *overshot is set when a record past a
 * target was read (and left unapplied). */
static int rebuild(struct learn_join *j, struct online_learner *ol,
                   int *overshot, char *errstr, size_t size)
{
    struct join_rebuild b = {j, ol, calloc((size_t)j->partitions, 1), 0};
    int err = b.done ? 0 : RIFFLE_ERR_NOMEM;
    int p;

    for (p = 0; !err && p < j->partitions; p++)
        b.done[p] = j->target[p] == 0;
    if (!err)
        err = topic_reader_read(j->r, j->cfg->join.topic, LEARN_JOIN_POLL_MS,
                                rebuild_done, rebuild_take, &b,
                                &cli_stop_requested, errstr, size);
    /* A table read in part is no table: the learner must not start on
     * it (its joins and dead letters would differ from a whole one's). */
    if (!err && cli_stop_requested) {
        snprintf(errstr, size, "the enrichment table of %s was not rebuilt "
                 "before the stop", j->cfg->join.topic);
        err = RIFFLE_ERR_STOPPED;
    }
    *overshot = b.overshot;
    for (p = 0; !err && p < j->partitions; p++)
        check_truncated(j, p);
    free(b.done);
    return err;
}

/* The snapshot's position of each partition of the join topic in
 * target[] (-1 where it has none). */
static void set_targets(struct learn_join *j,
                        const struct snapshot_offset *snap, size_t n)
{
    size_t i;
    int p;

    for (p = 0; p < j->partitions; p++)
        j->target[p] = -1;
    for (i = 0; i < n; i++)
        if (!snap[i].checked && strcmp(snap[i].topic, j->cfg->join.topic) == 0 &&
            snap[i].partition >= 0 && snap[i].partition < j->partitions)
            j->target[snap[i].partition] = snap[i].offset;
}

/* The snapshot's checked positions of the join topic in promised[]. */
static void set_promised(struct learn_join *j,
                         const struct snapshot_offset *snap, size_t n)
{
    size_t i;
    int p;

    for (p = 0; p < j->partitions; p++)
        j->promised[p] = -1;
    for (i = 0; i < n; i++)
        if (snap[i].checked && strcmp(snap[i].topic, j->cfg->join.topic) == 0 &&
            snap[i].partition >= 0 && snap[i].partition < j->partitions)
            j->promised[snap[i].partition] = snap[i].offset;
}

/* A reader placed exactly at the positions, replacing one that read
 * past a snapshot's position. */
static int reopen_at_positions(struct learn_join *j, char *errstr,
                               size_t size)
{
    int p, err;

    for (p = 0; p < j->partitions; p++) {
        if (j->target[p] >= 0)
            j->next[p] = j->target[p];
        else if (j->next[p] < 0 && topic_reader_end_offset(j->r, p) < 0)
            j->next[p] = RD_KAFKA_OFFSET_BEGINNING;
        else
            j->next[p] = join_position(j, p);
    }
    topic_reader_destroy(j->r);
    j->r = NULL;
    err = topic_reader_new_from(j->cfg->brokers, j->cfg->join.topic, j->next,
                                j->partitions, 0, &j->r, errstr, size);
    if (!err)
        topic_reader_set_refill(j->r, 1);
    return err;
}

static int join_open(struct learn_join *j, const struct snapshot_offset *snap,
                     size_t n, char *errstr, size_t size)
{
    int p, err = topic_reader_new(j->cfg->brokers, j->cfg->join.topic, 1,
                                  &j->r, errstr, size);

    if (err)
        return err;
    /* The rebuild reads the whole topic: see topic_reader_set_refill(). */
    topic_reader_set_refill(j->r, 1);
    j->partitions = topic_reader_partition_count(j->r);
    j->next = calloc((size_t)j->partitions, sizeof(*j->next));
    j->target = calloc((size_t)j->partitions, sizeof(*j->target));
    j->owned = calloc((size_t)j->partitions, sizeof(*j->owned));
    j->checked = calloc((size_t)j->partitions, sizeof(*j->checked));
    j->ends = calloc((size_t)j->partitions, sizeof(*j->ends));
    j->restored = calloc((size_t)j->partitions, sizeof(*j->restored));
    j->promised = calloc((size_t)j->partitions, sizeof(*j->promised));
    if (!j->next || !j->target || !j->owned || !j->checked || !j->ends ||
        !j->restored || !j->promised) {
        snprintf(errstr, size, "no memory for the join topic's positions");
        return RIFFLE_ERR_NOMEM;
    }
    for (p = 0; p < j->partitions; p++)
        j->next[p] = j->ends[p] = -1;
    set_targets(j, snap, n);
    memcpy(j->restored, j->target, (size_t)j->partitions * sizeof(*j->target));
    set_promised(j, snap, n);
    return 0;
}

int learn_join_new(const struct cfg *cfg, struct online_learner *ol,
                   const struct snapshot_offset *snap, size_t n,
                   struct learn_join **out, char *errstr, size_t errstr_size)
{
    struct learn_join *j = calloc(1, sizeof(*j));
    double started = kafka_monotonic_s();
    uint64_t dead = online_dead_letter_count(ol), wakeups = 0;
    int overshot = 0, targeted = 0, err, p;

    if (!j) {
        snprintf(errstr, errstr_size, "no memory for the join topic");
        return RIFFLE_ERR_NOMEM;
    }
    j->cfg = cfg;
    err = join_open(j, snap, n, errstr, errstr_size);
    if (!err)
        err = rebuild(j, ol, &overshot, errstr, errstr_size);
    if (!err && overshot) {
        wakeups = topic_reader_wakeups(j->r); /* the reader is replaced */
        err = reopen_at_positions(j, errstr, errstr_size);
    }
    if (err) {
        learn_join_destroy(j);
        return err;
    }

    /* Not counted here: whether to dead-letter them is the owner's
     * (learn_join_check()). */
    online_set_dead_letter_count(ol, dead);
    for (p = 0; p < j->partitions; p++)
        targeted |= j->target[p] >= 0;
    j->stats.rebuild_s = kafka_monotonic_s() - started;
    j->stats.rebuild_wakeups = wakeups + topic_reader_wakeups(j->r);
    log_info("learn", "%s: %llu enrichment record(s) read, %llu unusable; "
             "%zu key(s) kept (table rebuilt in %.3f s, every partition, "
             "up to %s; fetchers woken %llu time(s))", cfg->join.topic,
             (unsigned long long)j->stats.rebuilt,
             (unsigned long long)j->stats.rebuilt_bad,
             online_join_keys(ol),
             j->stats.rebuild_s,
             targeted ? "the snapshot's positions" : "its end",
             (unsigned long long)j->stats.rebuild_wakeups);
    *out = j;
    return 0;
}

void learn_join_destroy(struct learn_join *j)
{
    if (!j)
        return;
    topic_reader_destroy(j->r);
    free(j->next);
    free(j->target);
    free(j->owned);
    free(j->checked);
    free(j->ends);
    free(j->restored);
    free(j->promised);
    free(j);
}

int learn_join_due(const struct learn_join *j, int64_t ts_ms)
{
    return ts_ms >= j->synced_ms;
}

/* A synchronisation under way (see learn_join_sync()). */
struct join_sync {
    struct learn_join *j;
    struct online_learner *ol;
    learn_join_bad_fn bad;
    void *opaque;
};

static int sync_reached(const struct topic_reader *r, void *opaque)
{
    const struct learn_join *j = ((const struct join_sync *)opaque)->j;
    int p;

    (void)r; /* join_position() asks j->r, the same reader */
    for (p = 0; p < j->partitions; p++)
        if (join_position(j, p) < j->target[p])
            return 0;
    return 1;
}

/* Checks a record just applied (is_bad, res) when its partition is
 * owned, dead letters can be published, and every record before it is
 * checked: `before` was the partition's next offset not applied, so
 * nothing lies unchecked between the checked position and the record.
 * A record below the checked position was checked by an earlier owner
 * or an earlier read. */
static int check_in_order(struct join_sync *s, const rd_kafka_message_t *msg,
                          int64_t before, int is_bad,
                          const struct online_result *res, char *errstr,
                          size_t size)
{
    struct learn_join *j = s->j;
    int p = msg->partition;

    if (!s->bad || !j->owned[p] || j->checked[p] < before ||
        msg->offset < j->checked[p])
        return 0;
    j->checked[p] = msg->offset + 1;
    return is_bad ? s->bad(s->opaque, msg, res, errstr, size) : 0;
}

static int sync_take(void *opaque, const rd_kafka_message_t *msg,
                     char *errstr, size_t size)
{
    struct join_sync *s = opaque;
    struct learn_join *j = s->j;
    struct online_result res;
    int64_t before;
    int is_bad, err;

    if (msg->err || msg->partition < 0 || msg->partition >= j->partitions)
        return 0;

    before = j->next[msg->partition];
    err = join_apply(j, s->ol, msg, &is_bad, &res, errstr, size);
    j->stats.applied += !err;
    j->stats.bad += !err && is_bad;
    if (!err)
        err = check_in_order(s, msg, before, is_bad, &res, errstr, size);
    return err;
}

int learn_join_sync(struct learn_join *j, struct online_learner *ol,
                    learn_join_bad_fn bad, void *opaque, char *errstr,
                    size_t errstr_size)
{
    struct join_sync s = {j, ol, bad, opaque};
    int64_t asked_ms = kafka_now_ms();
    int err = topic_reader_query_ends(j->r, j->cfg->join.topic,
                                      j->partitions, j->target, errstr,
                                      errstr_size);

    if (!err)
        err = topic_reader_read(j->r, j->cfg->join.topic,
                                LEARN_JOIN_SYNC_POLL_MS, sync_reached,
                                sync_take, &s, &cli_stop_requested, errstr,
                                errstr_size);
    if (!err && !cli_stop_requested) {
        j->synced_ms = asked_ms;
        j->stats.syncs++;
    }
    return err;
}

void learn_join_positions(const struct learn_join *j,
                          struct snapshot_offset *out, size_t max,
                          size_t *n)
{
    int p;

    for (p = 0; p < j->partitions && *n < max; p++) {
        int64_t at = join_position(j, p);

        if (at < 0)
            continue; /* nothing read there yet: a start reads it whole */
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s",
                 j->cfg->join.topic);
        out[*n].partition = p;
        out[*n].offset = at;
        out[*n].checked = 0;
        (*n)++;
    }
}

/* How far partition p is known to be checked: an owner's checked
 * position is at least the promise it started from. */
static int64_t promise(const struct learn_join *j, int p)
{
    if (j->owned[p] && j->checked[p] > j->promised[p])
        return j->checked[p];
    return j->promised[p];
}

void learn_join_checked_positions_known(const struct learn_join *j,
                                        struct snapshot_offset *out,
                                        size_t max, size_t *n)
{
    int p;

    for (p = 0; p < j->partitions && *n < max; p++) {
        if (promise(j, p) < 0)
            continue;
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s",
                 j->cfg->join.topic);
        out[*n].partition = p;
        out[*n].offset = promise(j, p);
        out[*n].checked = 1;
        (*n)++;
    }
}

int64_t learn_join_promised_position(const struct learn_join *j, int q)
{
    return q >= 0 && q < j->partitions ? promise(j, q) : -1;
}

void learn_join_note_committed(struct learn_join *j, int q, int64_t offset)
{
    if (q >= 0 && q < j->partitions && offset > j->promised[q])
        j->promised[q] = offset;
}

int learn_join_owns_partition(const struct learn_join *j, int q)
{
    return q >= 0 && q < j->partitions && j->owned[q];
}

const struct learn_join_stats *learn_join_stats(const struct learn_join *j)
{
    return &j->stats;
}

int learn_join_partition_count(const struct learn_join *j)
{
    return j->partitions;
}

int learn_join_owner_partition(int q, int input_partitions)
{
    return q % input_partitions;
}

void learn_join_own(struct learn_join *j, int q, int64_t from)
{
    if (q < 0 || q >= j->partitions)
        return;
    j->owned[q] = 1;
    j->checked[q] = from >= 0 ? from : 0;
}

int64_t learn_join_restored_position(const struct learn_join *j, int q)
{
    return q >= 0 && q < j->partitions ? j->restored[q] : -1;
}

int learn_join_owns(const struct learn_join *j)
{
    int p;

    for (p = 0; p < j->partitions; p++)
        if (j->owned[p])
            return 1;
    return 0;
}

void learn_join_disown(struct learn_join *j)
{
    int p;

    /* What it checked stays checked: a later snapshot says so. */
    for (p = 0; p < j->partitions; p++)
        j->promised[p] = promise(j, p);
    memset(j->owned, 0, (size_t)j->partitions * sizeof(*j->owned));
}

/* Whether owned partition p has applied records not yet checked: the
 * record before next[p] is one (next[p] is one past a record). */
static int unchecked(const struct learn_join *j, int p)
{
    return j->owned[p] && j->checked[p] < j->next[p];
}

int learn_join_behind(const struct learn_join *j)
{
    int p;

    for (p = 0; p < j->partitions; p++)
        if (unchecked(j, p))
            return 1;
    return 0;
}

/* A check under way (see check_read()): goal[p] is the position to
 * check up to, -1 for a partition not read. */
struct join_check {
    struct learn_join *j;
    struct online_learner *ol;
    learn_join_bad_fn bad;
    void *opaque;
    int64_t *goal;
};

/* Done when every partition read has been checked up to its goal, or
 * has nothing more (truncated since it was applied, or only markers
 * left before its end). */
static int check_done(const struct topic_reader *r, void *opaque)
{
    const struct join_check *c = opaque;
    int p;

    for (p = 0; p < c->j->partitions; p++)
        if (c->goal[p] >= 0 && c->j->checked[p] < c->goal[p] &&
            topic_reader_end_offset(r, p) < 0)
            return 0;
    return 1;
}

static int check_take(void *opaque, const rd_kafka_message_t *msg,
                      char *errstr, size_t size)
{
    struct join_check *c = opaque;
    struct learn_join *j = c->j;
    struct online_result res;
    int p = msg->partition, err;

    if (msg->err || p < 0 || p >= j->partitions || c->goal[p] < 0 ||
        msg->offset < j->checked[p] || msg->offset >= c->goal[p])
        return 0; /* past the goal: a synchronisation checks it */

    err = online_check_profile(c->ol, msg->payload ? msg->payload : "",
                               msg->len, &res);
    if (err) {
        snprintf(errstr, size, "%s [%d] @%lld: %s", j->cfg->join.topic, p,
                 (long long)msg->offset, riffle_err_str(err));
        return err;
    }
    j->stats.rechecked++;
    j->checked[p] = msg->offset + 1;
    return res.dead_letter ? c->bad(c->opaque, msg, &res, errstr, size) : 0;
}

/* How far owned partition p is to be checked: what it applied, and with
 * ends (may be NULL) also what the brokers held at ends[p]. */
static int64_t check_goal(const struct learn_join *j, const int64_t *ends,
                          int p)
{
    if (!j->owned[p])
        return -1;
    return ends && ends[p] > j->next[p] ? ends[p] : j->next[p];
}

/* Where the reader of a check starts in each partition (-1: not read),
 * and the goal of each partition read. */
static int check_plan(struct learn_join *j, const int64_t *ends,
                      int64_t *from, int64_t *goal)
{
    int p, any = 0;

    for (p = 0; p < j->partitions; p++) {
        from[p] = goal[p] = -1;
        if (check_goal(j, ends, p) <= j->checked[p])
            continue;
        goal[p] = check_goal(j, ends, p);
        from[p] = j->checked[p] > 0 ? j->checked[p]
                                    : RD_KAFKA_OFFSET_BEGINNING;
        any = 1;
        log_info("learn", "%s [%d]: checking offsets %lld to %lld %s",
                 j->cfg->join.topic, p, (long long)j->checked[p],
                 (long long)goal[p],
                 goal[p] > j->next[p]
                     ? "for dead letters, up to the brokers' end"
                     : "again for dead letters (applied here before this "
                       "instance owned them or could publish)");
    }
    return any;
}

/* Reads what check_plan() names with a reader of its own, judging each
 * record without applying it and handing the unusable ones to bad; stop
 * (may be NULL) ends the read early, leaving the rest unchecked. */
static int check_read(struct learn_join *j, struct online_learner *ol,
                      learn_join_bad_fn bad, void *opaque,
                      const int64_t *ends,
                      const volatile sig_atomic_t *stop, char *errstr,
                      size_t errstr_size)
{
    struct join_check c = {j, ol, bad, opaque, NULL};
    struct topic_reader *r = NULL;
    int64_t *from = calloc((size_t)j->partitions, sizeof(*from));
    uint64_t before = j->stats.rechecked;
    double started = kafka_monotonic_s();
    int err = 0, p;

    c.goal = calloc((size_t)j->partitions, sizeof(*c.goal));
    if (!from || !c.goal) {
        snprintf(errstr, errstr_size, "no memory to check %s",
                 j->cfg->join.topic);
        err = RIFFLE_ERR_NOMEM;
    }
    if (!err && check_plan(j, ends, from, c.goal))
        err = topic_reader_new_some(j->cfg->brokers, j->cfg->join.topic,
                                    from, j->partitions, &r, errstr,
                                    errstr_size);
    if (!err && r) {
        topic_reader_set_refill(r, 1);
        err = topic_reader_read(r, j->cfg->join.topic, LEARN_JOIN_POLL_MS,
                                check_done, check_take, &c, stop, errstr,
                                errstr_size);
    }
    /* What lies between the last record read and the goal is markers or
     * records no longer in the log. */
    for (p = 0; !err && r && !(stop && *stop) && p < j->partitions; p++)
        if (c.goal[p] > j->checked[p])
            j->checked[p] = c.goal[p];
    if (!err && r)
        log_info("learn", "%s: %llu record(s) checked again in %.3f s "
                 "(fetchers woken %llu time(s))", j->cfg->join.topic,
                 (unsigned long long)(j->stats.rechecked - before),
                 kafka_monotonic_s() - started,
                 (unsigned long long)topic_reader_wakeups(r));
    topic_reader_destroy(r);
    free(from);
    free(c.goal);
    return err;
}

int learn_join_check(struct learn_join *j, struct online_learner *ol,
                     learn_join_bad_fn bad, void *opaque, char *errstr,
                     size_t errstr_size)
{
    return check_read(j, ol, bad, opaque, NULL, &cli_stop_requested, errstr,
                      errstr_size);
}

int learn_join_look_ends(struct learn_join *j, int *unchecked_out,
                         char *errstr, size_t errstr_size)
{
    int p, err;

    *unchecked_out = 0;
    if (!learn_join_owns(j))
        return 0;

    err = topic_reader_query_ends(j->r, j->cfg->join.topic, j->partitions,
                                  j->ends, errstr, errstr_size);
    for (p = 0; !err && p < j->partitions; p++)
        if (check_goal(j, j->ends, p) > j->checked[p])
            *unchecked_out = 1;
    return err;
}

int learn_join_check_ends(struct learn_join *j, struct online_learner *ol,
                          learn_join_bad_fn bad, void *opaque,
                          const volatile sig_atomic_t *stop, char *errstr,
                          size_t errstr_size)
{
    return check_read(j, ol, bad, opaque, j->ends, stop, errstr,
                      errstr_size);
}

void learn_join_add_checked(const struct learn_join *j,
                            rd_kafka_topic_partition_list_t *list)
{
    int p;

    for (p = 0; p < j->partitions; p++)
        if (j->owned[p])
            rd_kafka_topic_partition_list_add(list, j->cfg->join.topic, p)
                ->offset = j->checked[p];
}

void learn_join_checked_positions(const struct learn_join *j,
                                  struct snapshot_offset *out, size_t max,
                                  size_t *n)
{
    int p;

    for (p = 0; p < j->partitions && *n < max; p++) {
        if (!j->owned[p])
            continue;
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s",
                 j->cfg->join.topic);
        out[*n].partition = p;
        out[*n].offset = j->checked[p];
        out[*n].checked = 0;
        (*n)++;
    }
}
