/*
 * producers/publisher.c - idempotent producer, see publisher.h.
 */
#include "producers/publisher.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounded_call.h"
#include "common/broker_wait.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"

#define PUBLISHER_QUEUE_FULL_WAIT_MS 50 /* serve reports, then retry */
#define PUBLISHER_CLOSE_FLUSH_MS 30000
#define PUBLISHER_LINGER_MS "5" /* small batches, low latency */
#define PUBLISHER_PREPARE_TIMEOUT_MS 2000 /* once at start-up */
/* Serving: a request's answer waits at most 1 ms for others to share
 * its produce request. At 0 every answer at a low rate was a produce
 * request of its own, and so a fetch of its own for every reader: at
 * 2,000 requests/s on this 2-core machine the broker spent 340-440 us of
 * CPU per request at 0 and 200-230 us at 1 (the load generator at the
 * same setting), for 1-2 ms more median latency; 2 ms saved more CPU but
 * cost 3-4 ms (docs/SCALING.md, "Batching at low rates"). */
#define PUBLISHER_IMMEDIATE_LINGER_MS "1"
/* Messages in flight whose outcome is tracked one by one; a sender that
 * gets this far ahead of the acknowledgements waits. A byte each. */
#define PUBLISHER_SETTLE_RING 131072
#define PUBLISHER_SETTLE_WAIT_MS 10
#define PUBLISHER_MAX_PLAIN_TOPICS 4
#define PUBLISHER_MISSING_TOPIC_WAIT_MS 2000 /* a topic just created may lag */
/* A transaction's input offsets are sent on the publisher's worker (see
 * offsets_call_start()); the caller waits for the call its timeout and
 * this much more, for the call's own timeout to come back first. */
#define PUBLISHER_OFFSETS_CALL_MARGIN_MS 500

/* One rd_kafka_send_offsets_to_transaction(), a job of the publisher's
 * worker (common/bounded_call.h). librdkafka (2.0.2 up to 2.14, its
 * issue 5456) does not keep to that call's timeout while the group's
 * coordinator is down: it can wait until the broker is back, past any
 * stop. Freed by the publisher once a wait saw it over, else by the
 * worker when the publisher left it running (offsets_call_free() is the
 * job's release). */
struct offsets_call {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *offsets; /* a copy */
    rd_kafka_consumer_group_metadata_t *group; /* a copy */
    int timeout_ms;
    rd_kafka_error_t *error; /* the call's outcome, once over */
};

struct publisher {
    rd_kafka_t *rk;
    rd_kafka_topic_t *plain[PUBLISHER_MAX_PLAIN_TOPICS]; /* uncompressed */
    size_t plain_count;
    int transactional;
    int in_transaction;
    int abandoned; /* destroy drops what is unacknowledged */
    int offsets_sent; /* in the open transaction */
    /* the last try to send them went unanswered: see publisher_commit() */
    int offsets_unanswered;
    /* runs the offsets calls one after the other: started at the first
     * one, so a publisher without transactions has no such thread */
    struct bounded_call *offsets_worker;
    struct offsets_call *offsets_call; /* not yet seen over, or NULL */
    /* the input offsets last sent to the open transaction (a copy), for
     * a caller that must learn later whether it committed */
    rd_kafka_topic_partition_list_t *txn_offsets;
    unsigned long long delivered;
    unsigned long long failed; /* since the last flush */
    char first_failure[256];
    uint64_t sent;                /* messages queued so far */
    uint64_t settled;             /* all below this have an outcome */
    unsigned char *outcome;       /* ring: 1 once message n is settled */
    char brokers[512];            /* only named in log lines */
};

static void offsets_call_free(void *opaque)
{
    struct offsets_call *call = opaque;

    if (call->error)
        rd_kafka_error_destroy(call->error);
    if (call->offsets)
        rd_kafka_topic_partition_list_destroy(call->offsets);
    if (call->group)
        rd_kafka_consumer_group_metadata_destroy(call->group);
    free(call);
}

/* On the worker's thread. */
static void offsets_call_run(void *opaque)
{
    struct offsets_call *call = opaque;

    call->error = rd_kafka_send_offsets_to_transaction(
        call->rk, call->offsets, call->group, call->timeout_ms);
}

/* A copy of group, or NULL when there is no memory. */
static rd_kafka_consumer_group_metadata_t *
group_copy(const rd_kafka_consumer_group_metadata_t *group)
{
    rd_kafka_consumer_group_metadata_t *copy = NULL;
    rd_kafka_error_t *error;
    void *buf = NULL;
    size_t size = 0;

    error = rd_kafka_consumer_group_metadata_write(group, &buf, &size);
    if (error) {
        rd_kafka_error_destroy(error);
        return NULL;
    }
    error = rd_kafka_consumer_group_metadata_read(&copy, buf, size);
    rd_kafka_mem_free(NULL, buf);
    if (error) {
        rd_kafka_error_destroy(error);
        return NULL;
    }
    return copy;
}

/* Starts the call on the publisher's worker (started now if it is the
 * first), copying offsets and group. Returns 0, or RIFFLE_ERR_NOMEM when
 * it cannot (nothing started). */
static int offsets_call_start(struct publisher *p,
                              const rd_kafka_topic_partition_list_t *offsets,
                              const rd_kafka_consumer_group_metadata_t *group,
                              int timeout_ms)
{
    struct offsets_call *call = calloc(1, sizeof(*call));
    struct bounded_call_job job = {offsets_call_run, offsets_call_free, call};

    if (!call)
        return RIFFLE_ERR_NOMEM;
    call->rk = p->rk;
    call->offsets = rd_kafka_topic_partition_list_copy(offsets);
    call->group = group_copy(group);
    call->timeout_ms = timeout_ms;
    if (!call->offsets || !call->group ||
        (!p->offsets_worker && bounded_call_new(&p->offsets_worker) != 0)) {
        offsets_call_free(call);
        return RIFFLE_ERR_NOMEM;
    }

    bounded_call_start(p->offsets_worker, &job);
    p->offsets_call = call;
    return 0;
}

/* Waits up to wait_ms for the running call; a stop (kafka_set_stop())
 * ends the wait within BOUNDED_CALL_STEP_MS. Returns 1 with its outcome
 * in *error (the caller's; NULL: it succeeded) once it is over and
 * freed, 0 while it goes on. */
static int offsets_call_wait(struct publisher *p, int wait_ms,
                             rd_kafka_error_t **error)
{
    struct offsets_call *call = p->offsets_call;

    if (!bounded_call_wait(p->offsets_worker, wait_ms, kafka_stop_flag()))
        return 0;
    *error = call->error;
    call->error = NULL;
    offsets_call_free(call);
    p->offsets_call = NULL;
    return 1;
}

/* At destroy: the worker ends, unless a call still runs: it is then
 * left to the worker, which frees it and itself when the call ends.
 * Returns 1 when one was left: the client it uses cannot be destroyed
 * then. */
static int offsets_worker_end(struct publisher *p)
{
    int ended = bounded_call_destroy(p->offsets_worker); /* NULL: 1 */

    p->offsets_worker = NULL;
    p->offsets_call = NULL; /* freed by whichever thread ended last */
    return !ended;
}

/* Marks message seq settled and moves the settled mark over every
 * message whose outcome is known, in order. */
static void settle(struct publisher *p, uint64_t seq)
{
    p->outcome[seq % PUBLISHER_SETTLE_RING] = 1;
    while (p->settled < p->sent &&
           p->outcome[p->settled % PUBLISHER_SETTLE_RING]) {
        p->outcome[p->settled % PUBLISHER_SETTLE_RING] = 0;
        p->settled++;
    }
}

static void forget_txn_offsets(struct publisher *p)
{
    if (p->txn_offsets)
        rd_kafka_topic_partition_list_destroy(p->txn_offsets);
    p->txn_offsets = NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
    struct publisher *p = opaque;

    (void)rk;
    /* a failure settles too: it is counted below, and a caller checks
     * publisher_check() before trusting the settled mark */
    settle(p, (uint64_t)(uintptr_t)msg->_private);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->delivered++;
        return;
    }
    if (p->failed++ == 0)
        snprintf(p->first_failure, sizeof(p->first_failure),
                 "delivery to %s [%d] failed: %s",
                 rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                 rd_kafka_err2str(msg->err));
}

/* librdkafka's default placement (CRC-32 of the key modulo the partition
 * count, a random partition without a key), without hashing the key when
 * there is only one partition: the hash was 3% of the learner thread's
 * time on a one-partition predictions topic. Calls nothing but another
 * of librdkafka's partitioners, which are pure functions. */
static int32_t partition_by_key(const rd_kafka_topic_t *rkt, const void *key,
                                size_t key_len, int32_t partition_count,
                                void *topic_opaque, void *msg_opaque)
{
    if (partition_count == 1)
        return 0;
    return rd_kafka_msg_partitioner_consistent_random(
        rkt, key, key_len, partition_count, topic_opaque, msg_opaque);
}

/* For the topics without a configuration of their own. */
static void set_partitioner(rd_kafka_conf_t *conf)
{
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf);

    if (tconf) {
        rd_kafka_topic_conf_set_partitioner_cb(tconf, partition_by_key);
        return;
    }
    tconf = rd_kafka_topic_conf_new();
    rd_kafka_topic_conf_set_partitioner_cb(tconf, partition_by_key);
    rd_kafka_conf_set_default_topic_conf(conf, tconf); /* takes tconf */
}

static int publisher_create(const char *brokers, const char *client_id,
                            const char *transactional_id,
                            long transaction_timeout_ms,
                            const char *linger_ms, struct publisher **out,
                            char *errstr, size_t errstr_size)
{
    struct publisher *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;
    char max_bytes[32], txn_timeout[32], why[256];

    if (!p)
        return RIFFLE_ERR_NOMEM;
    p->outcome = calloc(PUBLISHER_SETTLE_RING, 1);
    if (!p->outcome) {
        free(p);
        return RIFFLE_ERR_NOMEM;
    }
    snprintf(p->brokers, sizeof(p->brokers), "%s", brokers);

    conf = kafka_conf_new(brokers, client_id, errstr, errstr_size);
    if (!conf) {
        free(p->outcome);
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    snprintf(max_bytes, sizeof(max_bytes), "%d", PUBLISHER_MAX_MESSAGE_BYTES);
    snprintf(txn_timeout, sizeof(txn_timeout), "%ld", transaction_timeout_ms);
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "linger.ms", linger_ms, errstr, errstr_size) ||
        kafka_conf_set(conf, "message.max.bytes", max_bytes, errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "compression.type", "lz4", errstr,
                       errstr_size) ||
        (transactional_id &&
         kafka_conf_set(conf, "transactional.id", transactional_id, errstr,
                        errstr_size)) ||
        (transactional_id && transaction_timeout_ms > 0 &&
         kafka_conf_set(conf, "transaction.timeout.ms", txn_timeout, errstr,
                        errstr_size))) {
        rd_kafka_conf_destroy(conf);
        free(p->outcome);
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    set_partitioner(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);

    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!p->rk) {
        snprintf(errstr, errstr_size, "cannot create producer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(p->outcome);
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    p->transactional = transactional_id != NULL;
    *out = p;
    return 0;
}

int publisher_new(const char *brokers, const char *client_id,
                  struct publisher **out, char *errstr, size_t errstr_size)
{
    return publisher_create(brokers, client_id, NULL, 0, PUBLISHER_LINGER_MS,
                            out, errstr, errstr_size);
}

int publisher_new_transactional(const char *brokers, const char *client_id,
                                const char *transactional_id,
                                long transaction_timeout_ms,
                                struct publisher **out, char *errstr,
                                size_t errstr_size)
{
    return publisher_create(brokers, client_id, transactional_id,
                            transaction_timeout_ms, PUBLISHER_LINGER_MS, out,
                            errstr, errstr_size);
}

int publisher_new_immediate(const char *brokers, const char *client_id,
                            const char *transactional_id,
                            long transaction_timeout_ms,
                            struct publisher **out, char *errstr,
                            size_t errstr_size)
{
    return publisher_create(brokers, client_id, transactional_id,
                            transaction_timeout_ms,
                            PUBLISHER_IMMEDIATE_LINGER_MS, out, errstr,
                            errstr_size);
}

int publisher_failed(const struct publisher *p)
{
    return rd_kafka_fatal_error(p->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void publisher_destroy(struct publisher *p)
{
    char errstr[256];

    if (!p)
        return;
    /* A failed producer can deliver nothing more, and an abandoned one
     * is not waited for: what it still holds is dropped. */
    if (p->abandoned ||
        rd_kafka_fatal_error(p->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
        (void)rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE |
                                        RD_KAFKA_PURGE_F_INFLIGHT);
    else if (!p->in_transaction &&
             publisher_flush(p, PUBLISHER_CLOSE_FLUSH_MS, errstr,
                             sizeof(errstr)) != 0)
        log_error("publisher", "on close: %s", errstr);
    if (offsets_worker_end(p)) {
        /* XXX: the client, inside librdkafka's call, cannot be destroyed
         * and is left to the process's exit (a stop: it exits next; a
         * rebuild: at most rebuild_guard.h's clients) */
        log_info("publisher", "leaving a transaction's offsets call "
                 "running: librdkafka does not keep to its timeout while "
                 "the group's coordinator is down (its issue 5456)");
    } else {
        while (p->plain_count > 0)
            rd_kafka_topic_destroy(p->plain[--p->plain_count]);
        rd_kafka_destroy(p->rk);
    }
    forget_txn_offsets(p);
    free(p->outcome);
    free(p);
}

void publisher_abandon(struct publisher *p)
{
    if (p)
        p->abandoned = 1;
}

int publisher_send(struct publisher *p, const char *topic, const void *key,
                   size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, char *errstr,
                   size_t errstr_size)
{
    return publisher_send_at(p, topic, key, key_len, value, value_len,
                             headers, 0, errstr, errstr_size);
}

/* Whether a stop ends a send's wait for room (w, common/broker_wait.h):
 * the message is then not sent, headers (taken by a send) are freed, and
 * errstr says so. Nothing after it is sent either, so no offset past it
 * is committed: the caller stops. */
static int send_stopped(struct publisher *p, struct broker_wait *w,
                        const char *topic, rd_kafka_headers_t *headers,
                        char *errstr, size_t errstr_size)
{
    char what[300];
    int err = RIFFLE_ERR_TIMEOUT;

    if (!w->stop || !*w->stop)
        return 0; /* no stop: saves the text below */
    snprintf(what, sizeof(what), "take a message to %s (librdkafka's queue "
             "of %llu unacknowledged messages is full)", topic,
             (unsigned long long)(p->sent - p->settled));
    if (broker_wait_again(w, kafka_monotonic_s(), what, &err, errstr,
                          errstr_size))
        return 0;
    if (headers)
        rd_kafka_headers_destroy(headers);
    return 1;
}

int publisher_send_at(struct publisher *p, const char *topic,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, rd_kafka_headers_t *headers,
                      int64_t timestamp_ms, char *errstr,
                      size_t errstr_size)
{
    rd_kafka_resp_err_t err;
    struct broker_wait w;

    broker_wait_start(&w, "publisher", p->brokers, kafka_stop_flag(),
                      kafka_monotonic_s());
    while (p->sent - p->settled >= PUBLISHER_SETTLE_RING) {
        rd_kafka_poll(p->rk, PUBLISHER_SETTLE_WAIT_MS);
        if (send_stopped(p, &w, topic, headers, errstr, errstr_size))
            return RIFFLE_ERR_STOPPED;
    }
    for (;;) {
        err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)p->sent),
            RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->rk, PUBLISHER_QUEUE_FULL_WAIT_MS);
        if (send_stopped(p, &w, topic, headers, errstr, errstr_size))
            return RIFFLE_ERR_STOPPED;
    }

    if (err) {
        if (headers)
            rd_kafka_headers_destroy(headers); /* not taken on failure */
        snprintf(errstr, errstr_size, "cannot produce to %s: %s", topic,
                 rd_kafka_err2str(err));
        /* Inside a transaction a refused message only dooms that
         * transaction, unless the producer itself has failed. */
        if (rd_kafka_fatal_error(p->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return RIFFLE_ERR_FENCED;
        if (p->in_transaction)
            return RIFFLE_ERR_ABORTED;
        return RIFFLE_ERR_KAFKA;
    }
    p->sent++;
    return 0;
}

int publisher_set_uncompressed(struct publisher *p, const char *topic,
                               char *errstr, size_t errstr_size)
{
    rd_kafka_topic_conf_t *tconf;
    rd_kafka_topic_t *rkt;
    char why[256];

    if (p->plain_count == PUBLISHER_MAX_PLAIN_TOPICS) {
        snprintf(errstr, errstr_size, "more than %d uncompressed topics",
                 PUBLISHER_MAX_PLAIN_TOPICS);
        return RIFFLE_ERR_KAFKA;
    }
    tconf = rd_kafka_topic_conf_new();
    rd_kafka_topic_conf_set_partitioner_cb(tconf, partition_by_key);
    if (rd_kafka_topic_conf_set(tconf, "compression.type", "none", why,
                                sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s: %s", topic, why);
        rd_kafka_topic_conf_destroy(tconf);
        return RIFFLE_ERR_KAFKA;
    }
    rkt = rd_kafka_topic_new(p->rk, topic, tconf); /* takes tconf */
    if (!rkt) {
        snprintf(errstr, errstr_size, "%s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return RIFFLE_ERR_KAFKA;
    }
    p->plain[p->plain_count++] = rkt;
    return 0;
}

void publisher_prepare_topics(struct publisher *p, const char *const *topics,
                              size_t n)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err;
    size_t i;

    for (i = 0; i < n; i++) {
        rd_kafka_topic_t *rkt;

        if (!topics[i] || !topics[i][0])
            continue;
        rkt = rd_kafka_topic_new(p->rk, topics[i], NULL);
        if (!rkt)
            continue;
        /* Only the cache matters: a failure is met again when sending,
         * and brokers that are away now will not answer the next one. */
        err = rd_kafka_metadata(p->rk, 0, rkt, &md,
                                PUBLISHER_PREPARE_TIMEOUT_MS);
        rd_kafka_topic_destroy(rkt);
        if (err)
            return;
        rd_kafka_metadata_destroy(md);
    }
}

void publisher_poll(struct publisher *p)
{
    rd_kafka_poll(p->rk, 0);
}

uint64_t publisher_sent(const struct publisher *p)
{
    return p->sent;
}

uint64_t publisher_settled(const struct publisher *p)
{
    return p->settled;
}

int publisher_check_topic(struct publisher *p, const char *topic,
                          int timeout_ms, char *errstr, size_t errstr_size)
{
    int partitions;

    return kafka_topic_partitions(p->rk, topic, timeout_ms,
                                  PUBLISHER_MISSING_TOPIC_WAIT_MS,
                                  &partitions, errstr, errstr_size);
}

int publisher_check(struct publisher *p, char *errstr, size_t errstr_size)
{
    if (p->failed == 0)
        return 0;
    snprintf(errstr, errstr_size, "%llu message(s) not delivered; first: %s",
             p->failed, p->first_failure);
    p->failed = 0;
    return RIFFLE_ERR_KAFKA;
}

int publisher_flush(struct publisher *p, int timeout_ms, char *errstr,
                    size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);

    if (p->failed > 0) {
        snprintf(errstr, errstr_size, "%llu message(s) not delivered; first: "
                 "%s", p->failed, p->first_failure);
        p->failed = 0;
        return RIFFLE_ERR_KAFKA;
    }
    if (err) {
        snprintf(errstr, errstr_size, "%d message(s) still unacknowledged "
                 "after %d ms: %s", rd_kafka_outq_len(p->rk), timeout_ms,
                 rd_kafka_err2str(err));
        return RIFFLE_ERR_TIMEOUT;
    }
    return 0;
}

unsigned long long publisher_delivered(const struct publisher *p)
{
    return p->delivered;
}

/* --- transactions ------------------------------------------------------ */

/* Turns a transactional API error into our codes; takes error over. */
static int txn_error(rd_kafka_error_t *error, const char *what, char *errstr,
                     size_t errstr_size)
{
    int err = RIFFLE_ERR_KAFKA;

    if (!error)
        return 0;
    if (rd_kafka_error_is_fatal(error))
        err = RIFFLE_ERR_FENCED;
    else if (rd_kafka_error_txn_requires_abort(error))
        err = RIFFLE_ERR_ABORTED;
    else if (rd_kafka_error_is_retriable(error) ||
             rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT)
        err = RIFFLE_ERR_TIMEOUT;
    snprintf(errstr, errstr_size, "%s: %s%s", what,
             rd_kafka_error_string(error),
             rd_kafka_error_is_fatal(error) ? " (fatal)" : "");
    rd_kafka_error_destroy(error);
    return err;
}

int publisher_init_transactions(struct publisher *p, int timeout_ms,
                                char *errstr, size_t errstr_size)
{
    assert(p->transactional);
    return txn_error(rd_kafka_init_transactions(p->rk, timeout_ms),
                     "cannot register the transactional id", errstr,
                     errstr_size);
}

int publisher_begin(struct publisher *p, char *errstr, size_t errstr_size)
{
    int err;

    assert(p->transactional && !p->in_transaction);
    err = txn_error(rd_kafka_begin_transaction(p->rk),
                    "cannot begin a transaction", errstr, errstr_size);
    if (err)
        return err == RIFFLE_ERR_ABORTED ? RIFFLE_ERR_KAFKA : err;
    p->in_transaction = 1;
    p->offsets_sent = 0;
    p->offsets_unanswered = 0;
    forget_txn_offsets(p);
    p->failed = 0;
    return 0;
}

int publisher_in_transaction(const struct publisher *p)
{
    return p->in_transaction;
}

/* Whether any broker answers a metadata request within timeout_ms.
 * librdkafka (2.0.2 and later: its issue 5456) does not keep to the
 * timeout of rd_kafka_send_offsets_to_transaction() once the group
 * coordinator is down: a retry made during an outage can wait until the
 * broker is back, past any stop. A retry is made only after this bounded
 * question has been answered, so that during an outage the caller's
 * wait goes on in bounded steps and a stop can end it. */
static int brokers_answer(struct publisher *p, int timeout_ms, char *errstr,
                          size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;

    err = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "cannot add the input offsets to the "
                 "transaction: no broker answers (%s)", rd_kafka_err2str(err));
        return RIFFLE_ERR_TIMEOUT;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* Sends the input offsets to the open transaction, or waits again for
 * a send still running: on the publisher's worker, waited for timeout_ms
 * (and a margin), so that a call that librdkafka does not end (see
 * struct offsets_call) leaves the caller's wait in bounded steps that a
 * stop can end. Returns 0, RIFFLE_ERR_TIMEOUT (the call goes on, or
 * timed out), or txn_error()'s codes. */
static int send_offsets(struct publisher *p,
                        const rd_kafka_topic_partition_list_t *offsets,
                        const rd_kafka_consumer_group_metadata_t *group,
                        int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *error = NULL;
    int err;

    if (!p->offsets_call) {
        /* kept whatever the answer: an unanswered call may have added
         * them to the transaction; a plain copy, which holds no
         * reference to the consumer they came from (kafka.h) */
        forget_txn_offsets(p);
        p->txn_offsets = kafka_offsets_copy(offsets, 1);
        err = offsets_call_start(p, offsets, group, timeout_ms);
        if (err) {
            snprintf(errstr, errstr_size, "cannot add the input offsets to "
                     "the transaction: out of memory");
            return err;
        }
    }
    if (!offsets_call_wait(p, timeout_ms + PUBLISHER_OFFSETS_CALL_MARGIN_MS,
                           &error)) {
        snprintf(errstr, errstr_size, "cannot add the input offsets to the "
                 "transaction: no answer within %d ms (librdkafka's call "
                 "goes on)", timeout_ms + PUBLISHER_OFFSETS_CALL_MARGIN_MS);
        return RIFFLE_ERR_TIMEOUT;
    }
    return txn_error(error, "cannot add the input offsets to the "
                     "transaction", errstr, errstr_size);
}

int publisher_commit(struct publisher *p,
                     const rd_kafka_topic_partition_list_t *offsets,
                     const rd_kafka_consumer_group_metadata_t *group,
                     int timeout_ms, char *errstr, size_t errstr_size)
{
    int err = 0;

    assert(p->in_transaction);
    if (!p->offsets_sent && offsets && offsets->cnt > 0) {
        if (p->offsets_unanswered && !p->offsets_call &&
            (err = brokers_answer(p, timeout_ms, errstr, errstr_size)))
            return err;

        err = send_offsets(p, offsets, group, timeout_ms, errstr,
                           errstr_size);
        p->offsets_unanswered = err == RIFFLE_ERR_TIMEOUT;
        if (err)
            return err;
    }
    p->offsets_sent = 1;

    err = txn_error(rd_kafka_commit_transaction(p->rk, timeout_ms),
                    "cannot commit the transaction", errstr, errstr_size);
    if (err)
        return err;
    p->in_transaction = 0;
    p->failed = 0; /* the commit succeeded, so every message was acked */
    forget_txn_offsets(p);
    return 0;
}

const rd_kafka_topic_partition_list_t *
publisher_txn_offsets(const struct publisher *p)
{
    return p->in_transaction ? p->txn_offsets : NULL;
}

int publisher_abort(struct publisher *p, int timeout_ms, char *errstr,
                    size_t errstr_size)
{
    int err;

    assert(p->in_transaction);
    if (p->offsets_call) {
        /* librdkafka refuses an abort while the offsets call runs */
        rd_kafka_error_t *error = NULL;

        if (!offsets_call_wait(p, timeout_ms, &error)) {
            snprintf(errstr, errstr_size, "cannot abort the transaction: "
                     "its offsets call goes on (waited up to %d ms)",
                     timeout_ms);
            return RIFFLE_ERR_TIMEOUT;
        }
        if (error)
            rd_kafka_error_destroy(error); /* the abort drops them anyway */
    }
    err = txn_error(rd_kafka_abort_transaction(p->rk, timeout_ms),
                    "cannot abort the transaction", errstr, errstr_size);
    if (err == RIFFLE_ERR_ABORTED)
        err = RIFFLE_ERR_KAFKA; /* an abort that needs an abort: give up */
    if (err)
        return err;
    p->in_transaction = 0;
    p->failed = 0;
    forget_txn_offsets(p);
    return 0;
}
