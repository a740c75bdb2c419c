/*
 * serving/replica.c - a scoring replica on the requests topic, see
 * replica.h.
 */
#include "serving/replica.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "common/broker_wait.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/kafka_close.h"
#include "common/log.h"
#include "common/rebuild_guard.h"
#include "common/txn_outcome.h"
#include "producers/outputs.h"
#include "producers/publisher.h"

/* An idle replica wakes this often to commit and see a stop; a request
 * that arrives wakes it at once, so this bounds no request's latency. */
#define REPLICA_POLL_MS 20
/* The broker answers a fetch as soon as one byte is there (one fetch
 * covers every partition the replica reads from that broker), so the
 * wait only bounds a fetch that finds nothing: it costs no latency, but
 * each empty answer costs the broker. Measured with an idle replica on
 * this project's 2-core machine: 10 ms took 8.8% of a core of broker
 * CPU, 100 ms 1.2% (docs/SCALING.md). */
#define REPLICA_FETCH_WAIT_MS "100"
#define REPLICA_FETCH_MIN_BYTES "1"
#define REPLICA_FLUSH_WAIT_MS 30000 /* an abort in a rebalance */
#define REPLICA_METADATA_TIMEOUT_MS 30000
#define REPLICA_MAX_PARTITIONS 1024
/* A close at a stop: librdkafka's close waits for an offsets commit the
 * stop left in flight (three tries of the 10 s socket timeout) and is
 * given this long before the process goes on without it, as the
 * learner's (consumers/consumer.c). */
#define REPLICA_STOP_CLOSE_S 3

struct replica;

/* What the consumer's rebalance callback reaches (its opaque): the
 * replica, or NULL once the consumer is being dropped. It lives as long
 * as the consumer, so that a close left running at a stop, which
 * outlives the replica, finds here that there is nothing to serve. */
struct replica_link {
    struct replica *r;
};

struct replica {
    struct cfg out_cfg; /* cfg with predictions sent to serve.predictions */
    const struct schema *input;
    struct model_slot *slot;
    struct serve_stats *stats;
    struct publisher *pub;
    struct outputs *out;
    rd_kafka_t *rk;
    struct replica_link *link; /* rk's opaque, owned with rk */
    struct event ev;
    unsigned long long requests;    /* handled, for --max-requests */
    unsigned long long uncommitted; /* requests handled since a commit */
    /* at least once: the positions at the last tick, committed once the
     * answers sent before them (pending_seq of them) are all settled */
    rd_kafka_topic_partition_list_t *pending;
    uint64_t pending_seq;
    double last_commit_s, last_message_s;
    int assigned;                   /* partitions owned now */
    unsigned char at_end[REPLICA_MAX_PARTITIONS];
    int commit_err;                 /* of the rebalance callback, or 0 */
    char commit_error[256];
    /* exactly once: the answers in the open transaction, uncounted when
     * it is dropped, since its requests are then scored again */
    unsigned long long txn_predictions, txn_dead_letters;
    /* exactly once: the offset of the open transaction's first request
     * in each partition it answered (txn_seen[p] says which are in),
     * to tell after a rebuild whether it committed, see
     * settle_transaction() */
    rd_kafka_topic_partition_list_t *txn_start;
    unsigned char txn_seen[REPLICA_MAX_PARTITIONS];
    struct rebuild_guard rebuilds;  /* of clients that failed for good */
    int exactly_once;               /* delivery.mode: transactions */
    int wipe_messages;              /* personal fields: requests wiped */
    const volatile sig_atomic_t *stop; /* ends a wait on the brokers */
    int stopped;                    /* one did: commit nothing more */
    int static_member;              /* named by --instance: keeps its
                                       partitions across a restart */
    char transactional_id[CFG_NAME_MAX + 64];
};

/* err, or RIFFLE_ERR_FENCED when it is a Kafka error and a client has
 * failed for good (librdkafka's fatal error): only new clients can go
 * on. Some calls (a delivery report, an offsets commit) say only that
 * they failed. */
static int failed_for_good(const struct replica *r, int err)
{
    if (err == RIFFLE_ERR_KAFKA &&
        (publisher_failed(r->pub) ||
         (r->rk && rd_kafka_fatal_error(r->rk, NULL, 0) !=
                       RD_KAFKA_RESP_ERR_NO_ERROR)))
        return RIFFLE_ERR_FENCED;
    return err;
}

/* A wait on the brokers that a stop request ends (RIFFLE_ERR_STOPPED,
 * common/broker_wait.h); once one has, the replica commits nothing more:
 * what it answered since its last commit is answered again by the
 * partitions' next owner. */
static void wait_start(const struct replica *r, struct broker_wait *w)
{
    broker_wait_start(w, "serve", r->out_cfg.brokers, r->stop,
                      kafka_monotonic_s());
}

static int wait_again(struct replica *r, struct broker_wait *w,
                      const char *what, int *err, char *errstr, size_t size)
{
    int again = broker_wait_again(w, kafka_monotonic_s(), what, err, errstr,
                                  size);

    if (*err == RIFFLE_ERR_STOPPED)
        r->stopped = 1;
    return again;
}

/* At least once, at a hand-over or a stop: waits until everything
 * produced is acknowledged, then commits the stored offsets of the owned
 * partitions. */
static int commit_acked(struct replica *r, char *errstr, size_t size)
{
    struct broker_wait w;
    rd_kafka_resp_err_t kerr;
    int err;

    wait_start(r, &w);
    do
        err = publisher_flush(r->pub, BROKER_WAIT_SLICE_MS, errstr, size);
    while (wait_again(r, &w, "acknowledge the answers", &err, errstr, size));
    if (err)
        return err;

    wait_start(r, &w);
    kerr = kafka_commit(r->rk, NULL, &w, "commit the answered requests' "
                        "offsets", errstr, size);
    if (kerr == KAFKA_ERR_STOPPED) {
        r->stopped = 1;
        return RIFFLE_ERR_STOPPED;
    }
    if (kerr && kerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        snprintf(errstr, size, "committing offsets of group %s: %s",
                 r->out_cfg.serve_group_id, rd_kafka_err2str(kerr));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

/* The next offsets of the owned partitions, for the transaction. NULL
 * when there is no memory. The caller destroys the list. */
static rd_kafka_topic_partition_list_t *positions(struct replica *r)
{
    rd_kafka_topic_partition_list_t *parts = NULL;

    if (rd_kafka_assignment(r->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    (void)rd_kafka_position(r->rk, parts); /* unknown ones stay invalid */
    return parts;
}

/* Exactly once: the open transaction's answers will never be seen, and
 * its requests are scored again (by this replica or by the partition's
 * next owner): each is counted once, see serve_stats_drop(). */
static void uncount_transaction(struct replica *r)
{
    serve_stats_drop(r->stats, r->txn_predictions, r->txn_dead_letters);
    r->requests -= r->txn_predictions + r->txn_dead_letters;
    r->txn_predictions = r->txn_dead_letters = 0;
    r->uncommitted = 0;
}

/* Drops the record of where the last transaction began. */
static void forget_txn_start(struct replica *r)
{
    int i;

    if (!r->txn_start)
        return;
    for (i = 0; i < r->txn_start->cnt; i++)
        r->txn_seen[r->txn_start->elems[i].partition] = 0;
    rd_kafka_topic_partition_list_destroy(r->txn_start);
    r->txn_start = NULL;
}

/* Notes where the open transaction began in src's partition, at its
 * first request there: one flag test per request after that. A
 * partition past REPLICA_MAX_PARTITIONS goes unnoted and only loses
 * its say in settle_transaction(). */
static void note_txn_start(struct replica *r, const struct source_ref *src)
{
    rd_kafka_topic_partition_t *tp;

    if (src->partition < 0 || src->partition >= REPLICA_MAX_PARTITIONS ||
        r->txn_seen[src->partition])
        return;
    if (!r->txn_start)
        r->txn_start = rd_kafka_topic_partition_list_new(4);
    tp = rd_kafka_topic_partition_list_add(r->txn_start, src->topic,
                                           src->partition);
    tp->offset = src->offset;
    r->txn_seen[src->partition] = 1;
}

/* After an aborted transaction its predictions are invisible: score the
 * same requests again, from the offsets the group last committed. */
static int rewind_to_committed(struct replica *r, char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_error_t *kerr = NULL;
    int i;

    rd_kafka_resp_err_t cerr = rd_kafka_assignment(r->rk, &parts);

    if (!cerr)
        cerr = kafka_committed(r->rk, parts, REPLICA_METADATA_TIMEOUT_MS,
                               errstr, size);
    if (cerr == KAFKA_ERR_STOPPED) {
        r->stopped = 1;
        rd_kafka_topic_partition_list_destroy(parts);
        return RIFFLE_ERR_STOPPED; /* errstr says what was not read */
    }
    if (cerr) {
        snprintf(errstr, size, "reading the committed offsets of group %s",
                 r->out_cfg.serve_group_id);
        if (parts) /* none when the assignment was not given */
            rd_kafka_topic_partition_list_destroy(parts);
        return RIFFLE_ERR_KAFKA;
    }
    for (i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset < 0)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    kerr = rd_kafka_seek_partitions(r->rk, parts, REPLICA_METADATA_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(parts);
    if (kerr) {
        snprintf(errstr, size, "rewinding after an abort: %s",
                 rd_kafka_error_string(kerr));
        rd_kafka_error_destroy(kerr);
        return RIFFLE_ERR_KAFKA;
    }
    log_warn("serve", "transaction aborted: scoring its requests again");
    return 0;
}

/* The open transaction can only be aborted (errstr says why): abort it
 * and score its requests again. An abort the producer cannot make
 * (fenced meanwhile) is RIFFLE_ERR_FENCED, for recover(). */
static int abort_transaction(struct replica *r, char *errstr, size_t size)
{
    struct broker_wait w;
    int err;

    log_warn("serve", "%s", errstr);
    wait_start(r, &w);
    do
        err = publisher_abort(r->pub, BROKER_WAIT_SLICE_MS, errstr, size);
    while (wait_again(r, &w, "abort the open transaction", &err, errstr,
                      size));
    if (!err)
        uncount_transaction(r);
    if (!err)
        err = rewind_to_committed(r, errstr, size);
    return err;
}

/* Exactly once: the batch's predictions and the input offsets become
 * visible together; an aborted batch is scored again. The offsets carry
 * the replica's transactional id as their claim: after a rebuild, a
 * commit at the transaction's end offsets is this replica's own only
 * with it, another replica's (which took a partition over after an
 * abort and answered up to the same end) carrying its own id
 * (settle_transaction()). */
static int commit_transaction(struct replica *r, char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *parts = positions(r);
    rd_kafka_consumer_group_metadata_t *group;
    struct broker_wait w;
    char what[96];
    int err;

    if (!parts)
        return RIFFLE_ERR_NOMEM;
    if (kafka_offsets_claim(parts, r->transactional_id) != 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        return RIFFLE_ERR_NOMEM;
    }
    group = rd_kafka_consumer_group_metadata(r->rk);
    snprintf(what, sizeof(what), "commit a transaction of %llu answers",
             r->txn_predictions + r->txn_dead_letters);
    wait_start(r, &w);
    do
        err = publisher_commit(r->pub, parts, group, BROKER_WAIT_SLICE_MS,
                               errstr, size);
    while (wait_again(r, &w, what, &err, errstr, size));
    rd_kafka_consumer_group_metadata_destroy(group);
    rd_kafka_topic_partition_list_destroy(parts);

    if (err == RIFFLE_ERR_ABORTED)
        err = abort_transaction(r, errstr, size);
    return err;
}

/* Makes everything handled so far durable, with its offsets. */
static int commit_done(struct replica *r, char *errstr, size_t size)
{
    int err;

    if (r->uncommitted == 0)
        return 0;
    err = r->exactly_once ? commit_transaction(r, errstr, size)
                          : commit_acked(r, errstr, size);
    if (err)
        return err;
    r->uncommitted = 0;
    r->txn_predictions = r->txn_dead_letters = 0;
    r->last_commit_s = kafka_monotonic_s();
    return 0;
}

/* At least once, on the steady cadence: never waits. Commits, in the
 * background, the positions taken at an earlier tick once every answer
 * sent before them is acknowledged, then takes the positions of now. A
 * request is thus committed one or two ticks after it was answered,
 * while scoring goes on; a lost commit only re-scores more after a
 * crash. */
static int commit_settled(struct replica *r, char *errstr, size_t size)
{
    int err = publisher_check(r->pub, errstr, size);

    if (err)
        return err; /* an answer was lost: commit nothing past it */
    if (r->pending && publisher_settled(r->pub) >= r->pending_seq) {
        (void)rd_kafka_commit(r->rk, r->pending, 1); /* result: see above */
        rd_kafka_topic_partition_list_destroy(r->pending);
        r->pending = NULL;
    }
    if (!r->pending && r->uncommitted > 0) {
        r->pending = positions(r);
        if (!r->pending)
            return RIFFLE_ERR_NOMEM;
        r->pending_seq = publisher_sent(r->pub);
        r->uncommitted = 0;
    }
    r->last_commit_s = kafka_monotonic_s();
    return 0;
}

/* Partitions move or the replica stops: the waiting positions may name
 * partitions that are no longer ours; commit_done() covers them. */
static void drop_pending(struct replica *r)
{
    rd_kafka_topic_partition_list_destroy(r->pending);
    r->pending = NULL;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    struct replica_link *link = opaque;
    struct replica *r = link->r;
    int cerr = 0;

    if (!r) {
        /* the consumer is being dropped, perhaps by a close that the
         * replica no longer waits for: commit nothing, read nothing */
        (void)rd_kafka_assign(rk, NULL); /* it is going anyway */
        return;
    }
    if (r->pending) {
        drop_pending(r);
        r->uncommitted++; /* its requests are still to be committed */
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("serve", "%d partition(s) of %s assigned", parts->cnt,
                 r->out_cfg.serve_requests);
        memset(r->at_end, 0, sizeof(r->at_end));
        r->assigned = parts->cnt;
        (void)rd_kafka_assign(rk, parts); /* failure shows in poll */
        return;
    }
    /* Hand over only what is safely published, so that the next owner
     * starts exactly after it; partitions already lost to another member
     * cannot be committed for, so their transaction is dropped. */
    if (r->exactly_once && rd_kafka_assignment_lost(rk) &&
        publisher_in_transaction(r->pub)) {
        cerr = publisher_abort(r->pub, REPLICA_FLUSH_WAIT_MS, r->commit_error,
                               sizeof(r->commit_error));
        uncount_transaction(r);
    } else {
        cerr = commit_done(r, r->commit_error, sizeof(r->commit_error));
    }
    if (cerr)
        r->commit_err = cerr;
    log_info("serve", "%d partition(s) of %s revoked", parts->cnt,
             r->out_cfg.serve_requests);
    r->assigned = 0;
    (void)rd_kafka_assign(rk, NULL); /* nothing to do if it fails */
}

static int check_topic(rd_kafka_t *rk, const char *topic, char *errstr,
                       size_t size)
{
    int count;

    return kafka_topic_partitions(rk, topic, REPLICA_METADATA_TIMEOUT_MS, 0,
                                  &count, errstr, size);
}

static int new_consumer(struct replica *r, char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_conf_t *conf;
    rd_kafka_resp_err_t err;
    char why[256];
    int checked;

    conf = kafka_conf_new(r->out_cfg.brokers, "riffle-serve", errstr, size);
    if (!conf || kafka_conf_set(conf, "group.id", r->out_cfg.serve_group_id,
                                errstr, size) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, size) ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr,
                       size) ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                       size) ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, size) ||
        kafka_conf_set(conf, "isolation.level", "read_committed", errstr,
                       size) ||
        kafka_conf_set(conf, "fetch.wait.max.ms", REPLICA_FETCH_WAIT_MS,
                       errstr, size) ||
        kafka_conf_set(conf, "fetch.min.bytes", REPLICA_FETCH_MIN_BYTES,
                       errstr, size) ||
        (r->static_member &&
         kafka_conf_set(conf, "group.instance.id", r->transactional_id,
                        errstr, size))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return RIFFLE_ERR_KAFKA;
    }
    r->link = calloc(1, sizeof(*r->link));
    if (!r->link) {
        rd_kafka_conf_destroy(conf);
        return RIFFLE_ERR_NOMEM;
    }
    r->link->r = r;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, r->link);
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!r->rk) {
        snprintf(errstr, size, "cannot create consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(r->link);
        r->link = NULL;
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(r->rk);
    checked = check_topic(r->rk, r->out_cfg.serve_requests, errstr, size);
    if (checked)
        return checked; /* RIFFLE_ERR_STOPPED too: a stop, not a failure */

    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, r->out_cfg.serve_requests,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(r->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        snprintf(errstr, size, "cannot subscribe to %s: %s",
                 r->out_cfg.serve_requests, rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

/* Exactly once: a transactional producer whose id names this replica,
 * so that a restarted replica fences what its predecessor left open.
 * *out is the caller's, also on failure (may be NULL then). */
static int new_publisher(struct replica *r, struct publisher **out,
                         char *errstr, size_t size)
{
    struct broker_wait w;
    char what[CFG_NAME_MAX + 96];
    int err;

    err = publisher_new_immediate(r->out_cfg.brokers, "riffle-serve",
                                  r->exactly_once ? r->transactional_id
                                                  : NULL,
                                  r->out_cfg.serve_txn_timeout_ms, out,
                                  errstr, size);
    if (!r->exactly_once || err)
        return err;
    snprintf(what, sizeof(what), "register transactional id %s",
             r->transactional_id);
    wait_start(r, &w);
    do
        err = publisher_init_transactions(*out, BROKER_WAIT_SLICE_MS, errstr,
                                          size);
    while (wait_again(r, &w, what, &err, errstr, size));
    return err;
}

int replica_new(const struct cfg *cfg, const struct schema *input_schema,
                struct model_slot *slot, struct serve_stats *stats,
                const char *instance, int static_member,
                const volatile sig_atomic_t *stop, struct replica **out,
                char *errstr, size_t errstr_size)
{
    struct replica *r = calloc(1, sizeof(*r));
    int err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    r->out_cfg = *cfg;
    snprintf(r->out_cfg.topic_predictions,
             sizeof(r->out_cfg.topic_predictions), "%s",
             cfg->serve_predictions);
    r->input = input_schema;
    r->slot = slot;
    r->stats = stats;
    event_init(&r->ev);
    buf_hold_secret(&r->ev.arena); /* requests' raw personal values */

    r->exactly_once = cfg->serve_delivery == CFG_DELIVERY_EXACTLY_ONCE;
    r->wipe_messages = cfg_has_personal_fields(cfg);
    r->static_member = static_member;
    r->stop = stop;
    snprintf(r->transactional_id, sizeof(r->transactional_id), "%s-%s",
             cfg->serve_group_id, instance);
    err = new_publisher(r, &r->pub, errstr, errstr_size);
    if (!err)
        err = outputs_new(&r->out_cfg, r->pub, &r->out, errstr, errstr_size);
    if (!err)
        err = new_consumer(r, errstr, errstr_size);
    if (err) {
        replica_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

/* Closes the consumer, if any, committing nothing more: the requests
 * it read since the last commit are scored again from there (the
 * caller uncounts the open transaction's answers, or finds that it
 * committed, see settle_transaction()). At a stop the close is waited
 * for REPLICA_STOP_CLOSE_S at most: an offsets commit left in flight
 * carries only positions of acknowledged answers, so it may land or
 * not, and the close left running reaches only r->link, which it
 * frees. */
static void drop_consumer(struct replica *r)
{
    if (r->pending)
        drop_pending(r);
    r->uncommitted = 0;
    r->commit_err = 0;
    if (!r->rk)
        return;
    r->link->r = NULL; /* from here its callbacks do not touch r */
    if (r->stopped || (r->stop && *r->stop)) {
        (void)kafka_close_bounded(r->rk, REPLICA_STOP_CLOSE_S, free, r->link,
                                  "serve");
    } else {
        (void)rd_kafka_consumer_close(r->rk); /* leaving is best effort */
        rd_kafka_destroy(r->rk);
        free(r->link);
    }
    r->rk = NULL;
    r->link = NULL;
    r->assigned = 0;
}

void replica_destroy(struct replica *r)
{
    char errstr[256];

    if (!r)
        return;
    if (r->pending) {
        drop_pending(r);
        r->uncommitted++;
    }
    /* a client that failed for good, or a stop that gave up waiting on
     * the brokers, commits nothing more: what it held is scored again by
     * the partition's next owner */
    if (r->stopped)
        publisher_abandon(r->pub); /* nor wait for its answers */
    else if (r->rk &&
             failed_for_good(r, RIFFLE_ERR_KAFKA) != RIFFLE_ERR_FENCED &&
             commit_done(r, errstr, sizeof(errstr)) != 0)
        log_error("serve", "on close: %s", errstr);
    if (r->exactly_once)
        uncount_transaction(r);
    drop_consumer(r);
    forget_txn_start(r);
    outputs_destroy(r->out);
    publisher_destroy(r->pub);
    event_free(&r->ev);
    free(r);
}

/* Decodes and scores one request into *p; a request that does not
 * decode becomes a dead-letter verdict. Whatever it returns, *p is then
 * released with served_prediction_free(). */
static int score_request(struct replica *r, const rd_kafka_message_t *msg,
                         struct served_prediction *p)
{
    struct served_model *m;
    char why[256];
    int err;

    memset(&p->carried, 0, sizeof(p->carried));
    err = schema_decode_event(r->input, msg->payload ? msg->payload : "",
                              msg->len, &r->ev, why, sizeof(why));
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    if (err) {
        memset(p, 0, sizeof(*p));
        p->r.dead_letter = 1;
        p->r.verdict.reason = ONLINE_REASON_DECODE;
        snprintf(p->r.verdict.detail, sizeof(p->r.verdict.detail), "%s",
                 why);
        return 0;
    }

    m = model_slot_acquire(r->slot);
    assert(m); /* serve starts the replica once a model is in the slot */
    err = served_model_score(m, &r->ev, p);
    model_slot_release(r->slot, m);
    return err;
}

static int handle_message(struct replica *r, const rd_kafka_message_t *msg,
                          char *errstr, size_t size)
{
    struct served_prediction p;
    struct source_ref src;
    int err;

    outputs_source_of(msg, &src);
    if (r->exactly_once && !publisher_in_transaction(r->pub)) {
        err = publisher_begin(r->pub, errstr, size);
        if (err)
            return err;
        forget_txn_start(r);
    }
    if (r->exactly_once)
        note_txn_start(r, &src);
    err = score_request(r, msg, &p);
    if (err) {
        served_prediction_free(&p);
        snprintf(errstr, size, "%s [%d] @%lld: %s", src.topic,
                 (int)src.partition, (long long)src.offset,
                 riffle_err_str(err));
        return err;
    }
    if (p.r.dead_letter) {
        log_debug("serve", "%s [%d] @%lld: dead letter: %s %s: %s",
                  src.topic, (int)src.partition, (long long)src.offset,
                  p.r.verdict.reason, p.r.verdict.field, p.r.verdict.detail);
        err = outputs_dead_letter(r->out, &src, &p.r, errstr, size);
    } else {
        err = outputs_prediction(r->out, &src, &p.r, errstr, size);
    }
    served_prediction_free(&p); /* the outputs copied what they publish */
    if (err)
        return err;

    /* a request without a timestamp (an old client) counts as on time */
    serve_stats_request(r->stats, p.r.dead_letter,
                        src.timestamp_ms > 0
                            ? (double)(kafka_now_ms() - src.timestamp_ms) / 1e3
                            : 0.0);
    r->requests++;
    r->uncommitted++;
    if (r->exactly_once && p.r.dead_letter)
        r->txn_dead_letters++;
    else if (r->exactly_once)
        r->txn_predictions++;
    (void)rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
    /* fails only for a partition just revoked: its next owner scores it */
    return 0;
}

/* Idle: partitions are assigned, each read to its end, and nothing
 * came for idle_exit_s. */
static int idle_done(const struct replica *r, double idle_exit_s)
{
    int i, ended = 0;

    if (idle_exit_s <= 0 || r->assigned == 0 ||
        kafka_monotonic_s() - r->last_message_s < idle_exit_s)
        return 0;
    for (i = 0; i < REPLICA_MAX_PARTITIONS; i++)
        ended += r->at_end[i];
    return ended >= r->assigned;
}

/* A message, a partition end or an error from the consumer. */
static int take(struct replica *r, rd_kafka_message_t *msg, char *errstr,
                size_t size)
{
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (msg->partition >= 0 && msg->partition < REPLICA_MAX_PARTITIONS)
            r->at_end[msg->partition] = 1;
        return 0;
    }
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* e.g. fenced: another member joined under our static id */
        snprintf(errstr, size, "consumer failed for good: %s",
                 rd_kafka_message_errstr(msg));
        return RIFFLE_ERR_FENCED;
    }
    if (msg->err) {
        log_warn("serve", "%s [%d]: %s",
                 msg->rkt ? rd_kafka_topic_name(msg->rkt) : "-",
                 (int)msg->partition, rd_kafka_message_errstr(msg));
        return 0;
    }
    if (msg->partition >= 0 && msg->partition < REPLICA_MAX_PARTITIONS)
        r->at_end[msg->partition] = 0;
    r->last_message_s = kafka_monotonic_s();
    return handle_message(r, msg, errstr, size);
}

/* One look at the consumer: a message handled or none, the producer's
 * reports served, a commit when one is due. */
static int step(struct replica *r, char *errstr, size_t size)
{
    double commit_every_s = r->out_cfg.serve_commit_every_ms / 1000.0;
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, REPLICA_POLL_MS);
    int err = 0;

    if (msg) {
        err = take(r, msg, errstr, size);
        if (r->wipe_messages)
            kafka_message_wipe(msg); /* answered or refused */
        rd_kafka_message_destroy(msg);
    }
    publisher_poll(r->pub);
    if (!err && r->commit_err) {
        snprintf(errstr, size, "%s", r->commit_error);
        err = r->commit_err;
        r->commit_err = 0;
    }
    if (!err && kafka_monotonic_s() - r->last_commit_s >= commit_every_s)
        err = r->exactly_once ? commit_done(r, errstr, size)
                              : commit_settled(r, errstr, size);
    return failed_for_good(r, err);
}

/* Exactly once, after a rebuild: the transaction open when the clients
 * failed was aborted by the new producer's registration, unless its
 * commit had gone through and only the answer was lost (sent: the
 * offsets that commit carried, NULL when none was asked for). The
 * group's committed offsets, read with the new consumer, tell
 * (common/txn_outcome.h). An aborted transaction's answers are
 * uncounted, their requests being scored again; a committed one's stay
 * counted, once, and its requests are not read again. When nothing
 * tells, it is taken as aborted: the answers stay exactly once either
 * way, only the counts may lag. */
static void settle_transaction(struct replica *r,
                               const rd_kafka_topic_partition_list_t *sent)
{
    rd_kafka_topic_partition_list_t *committed = NULL;
    enum txn_outcome outcome = TXN_OUTCOME_ABORTED;
    rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    unsigned long long answers = r->txn_predictions + r->txn_dead_letters;
    char why[512];

    if (sent) {
        committed = kafka_offsets_copy(sent, 0);
        kerr = kafka_committed(r->rk, committed, REPLICA_METADATA_TIMEOUT_MS,
                               why, sizeof(why));
        outcome = kerr ? TXN_OUTCOME_UNKNOWN
                       : txn_outcome_decide(r->txn_start, sent, committed);
        rd_kafka_topic_partition_list_destroy(committed);
    }

    if (outcome == TXN_OUTCOME_COMMITTED) {
        log_warn("serve", "the open transaction of %llu answer(s) of "
                 "replica %s had committed before the clients failed (its "
                 "answer was lost): the group's offsets stand at its end; "
                 "counted once", answers, r->transactional_id);
        r->txn_predictions = r->txn_dead_letters = 0;
        return;
    }
    if (outcome == TXN_OUTCOME_UNKNOWN)
        log_warn("serve", "cannot tell whether the open transaction of "
                 "%llu answer(s) of replica %s committed before the clients "
                 "failed (%s): counted as aborted; if it did commit, the "
                 "counts lag by it", answers, r->transactional_id,
                 kerr == KAFKA_ERR_STOPPED ? why
                 : kerr ? rd_kafka_err2str(kerr)
                        : "the group's offsets do not tell");
    uncount_transaction(r);
}

/* A Kafka client failed for good (why): what a supervisor's restart
 * would do, done in-process, within the bound of rebuild_guard.h. The
 * consumer goes, committing nothing more. A new producer: exactly once,
 * under the same transactional id, whose registration fences the old
 * epoch and aborts the transaction left open, so that none of its
 * answers is ever seen (unless its commit went through unanswered,
 * which settle_transaction() finds out); at least once, the old one
 * delivers what it can as it goes. A new consumer, under the same static
 * member id, from the offsets the group committed: every request after
 * them is scored again (at least once, those answered already are
 * answered twice, the same way). The model slot is not touched: the
 * follower keeps it current, and scoring goes on with the snapshot it
 * holds. */
static int rebuild_clients(struct replica *r, const char *why, char *errstr,
                           size_t size)
{
    struct publisher *pub = NULL;
    rd_kafka_topic_partition_list_t *sent = NULL;
    int open, err = rebuild_guard_admit(&r->rebuilds, kafka_monotonic_s(),
                                        "replica", r->transactional_id,
                                        "give each replica its own "
                                        "--instance",
                                        why, errstr, size);

    if (err)
        return err;
    serve_stats_rebuild(r->stats);
    open = r->exactly_once && publisher_in_transaction(r->pub);
    if (r->exactly_once)
        log_warn("serve", "rebuilding the Kafka clients of replica %s "
                 "(rebuild %llu), dropping the open transaction of %llu "
                 "answer(s) unless it committed, and scoring again from the "
                 "committed offsets: %s",
                 r->transactional_id, rebuild_guard_count(&r->rebuilds),
                 open ? r->txn_predictions + r->txn_dead_letters : 0ULL,
                 why);
    else
        log_warn("serve", "rebuilding the Kafka clients of replica %s "
                 "(rebuild %llu) and scoring again from the committed "
                 "offsets, answering twice what was answered since: %s",
                 r->transactional_id, rebuild_guard_count(&r->rebuilds),
                 why);

    if (open && publisher_txn_offsets(r->pub))
        sent = kafka_offsets_copy(publisher_txn_offsets(r->pub), 1);
    drop_consumer(r);
    err = new_publisher(r, &pub, errstr, size);
    if (!err)
        err = outputs_set_publisher(r->out, pub, errstr, size);
    if (err) {
        publisher_destroy(pub);
        pub = NULL;
    } else {
        publisher_destroy(r->pub);
        r->pub = pub;
        err = new_consumer(r, errstr, size);
    }
    if (!err && r->exactly_once)
        settle_transaction(r, open ? sent : NULL);
    else if (r->exactly_once)
        uncount_transaction(r);
    if (sent)
        rd_kafka_topic_partition_list_destroy(sent);
    return err;
}

/* Goes on after a doomed transaction (a request's answer refused inside
 * it, e.g. timed out while the replica was paused: it is aborted and
 * scored again) or a client that failed for good, as many times as the
 * guard allows (the new clients may fail at once: a zombie registers
 * the id again). Returns 0, or the error to stop with (err itself for
 * any other error). */
static int recover(struct replica *r, int err, char *errstr, size_t size)
{
    char why[512];

    if (err == RIFFLE_ERR_ABORTED && r->exactly_once &&
        publisher_in_transaction(r->pub))
        err = failed_for_good(r, abort_transaction(r, errstr, size));
    while (err == RIFFLE_ERR_FENCED) {
        snprintf(why, sizeof(why), "%s", errstr);
        err = rebuild_clients(r, why, errstr, size);
    }
    return err;
}

static int should_stop(const struct replica *r,
                       const volatile sig_atomic_t *stop,
                       long long max_requests, double idle_exit_s)
{
    return *stop ||
           (max_requests > 0 &&
            r->requests >= (unsigned long long)max_requests) ||
           idle_done(r, idle_exit_s);
}

/* The last commit: everything handled so far. */
static int finish(struct replica *r, char *errstr, size_t size)
{
    if (r->pending) {
        drop_pending(r);
        r->uncommitted++;
    }
    return failed_for_good(r, commit_done(r, errstr, size));
}

/* A failure of the last commit is recovered like any other: the
 * replica scores the dropped requests again, up to the stop. */
int replica_run(struct replica *r, const volatile sig_atomic_t *stop,
                long long max_requests, double idle_exit_s, char *errstr,
                size_t errstr_size)
{
    int err = 0;

    r->last_commit_s = r->last_message_s = kafka_monotonic_s();
    for (;;) {
        while (!err && !should_stop(r, stop, max_requests, idle_exit_s))
            err = recover(r, step(r, errstr, errstr_size), errstr,
                          errstr_size);
        if (err)
            break;
        err = finish(r, errstr, errstr_size);
        if (err != RIFFLE_ERR_FENCED)
            break;
        err = recover(r, err, errstr, errstr_size);
        if (err)
            break;
    }
    return err;
}
