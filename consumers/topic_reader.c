/*
 * consumers/topic_reader.c - group-less reader of whole topics, see
 * topic_reader.h.
 */
#include "consumers/topic_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "consumers/snapshot_chunks.h"

#define TOPIC_READER_POLL_MS 200
/* A reader only waits at the end of a partition: a short wait there
 * ends start-up reads quickly, and costs a followed topic a few idle
 * fetches a second. */
#define TOPIC_READER_FETCH_WAIT_MS "100"
/* Messages per partition read first when looking for the newest
 * snapshot: a fully dense 2^24-weight snapshot is about 70 messages. */
#define TOPIC_READER_FIRST_SPAN 256
#define TOPIC_READER_SPAN_GROWTH 4
/* librdkafka 2.0's queued.min.messages and queued.max.messages.kbytes,
 * which the reader keeps: used only if the consumer cannot say them. */
#define TOPIC_READER_QUEUED_MSGS 100000
#define TOPIC_READER_QUEUED_KBYTES 65536

struct topic_reader {
    rd_kafka_t *rk;
    int partition_count;
    int ended; /* partitions at their end since the last message */
    unsigned char *at_end;
    int64_t *end_offset; /* per partition, where it last ended; -1: never */
    int refill;       /* wake the fetchers when a read runs dry */
    int flowing;      /* the read's last poll returned a message */
    uint64_t wakeups; /* of the fetchers, by reads that ran dry */
    /* The fetchers' thresholds (queued.min.messages, and
     * queued.max.messages.kbytes in bytes), and what the queue can have
     * held at most between the last two times it was found empty: the
     * messages and bytes polled in between. */
    int64_t queue_max_msgs, queue_max_bytes;
    int64_t polled_msgs, polled_bytes; /* since the queue was last empty */
    int64_t filled_msgs, filled_bytes;
};

/* rk's setting name as a number, or fallback when it cannot be read. */
static int64_t conf_number(rd_kafka_t *rk, const char *name,
                           int64_t fallback)
{
    char value[32];
    size_t size = sizeof(value);

    if (rd_kafka_conf_get(rd_kafka_conf(rk), name, value, &size) !=
        RD_KAFKA_CONF_OK)
        return fallback;
    return strtoll(value, NULL, 10);
}

static int count_partitions(rd_kafka_t *rk, const char *topic, int *count,
                            char *errstr, size_t errstr_size)
{
    int err = kafka_topic_partitions(rk, topic,
                                     TOPIC_READER_METADATA_TIMEOUT_MS, 0,
                                     count, errstr, errstr_size);

    if (!err && *count == 0) {
        snprintf(errstr, errstr_size, "topic %s: the brokers report no "
                 "partitions for it (expected at least one)", topic);
        err = RIFFLE_ERR_KAFKA;
    }
    return err;
}

/* The consumer of r, its partition count and end flags; nothing assigned.
 * reset (may be NULL: librdkafka's default, the end) is where a position
 * no longer in the log goes. */
static int reader_create(const char *brokers, const char *topic,
                         const char *reset, struct topic_reader *r,
                         char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf;
    char why[256], group[64];
    int i, err;

    /* A consumer needs a group id even when it only assigns; this one is
     * never joined and nothing is committed under it. */
    snprintf(group, sizeof(group), "riffle-reader-%lld",
             (long long)kafka_now_ms());
    conf = kafka_conf_new(brokers, "riffle-reader", errstr, errstr_size);
    if (!conf || kafka_conf_set(conf, "group.id", group, errstr,
                                errstr_size) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "fetch.wait.max.ms", TOPIC_READER_FETCH_WAIT_MS,
                       errstr, errstr_size) ||
        /* Only what committed transactions published: an aborted
         * snapshot or prediction never happened. */
        kafka_conf_set(conf, "isolation.level", "read_committed", errstr,
                       errstr_size) ||
        (reset && kafka_conf_set(conf, "auto.offset.reset", reset, errstr,
                                 errstr_size))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return RIFFLE_ERR_KAFKA;
    }
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!r->rk) {
        snprintf(errstr, errstr_size, "cannot create consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(r->rk);
    r->queue_max_msgs = conf_number(r->rk, "queued.min.messages",
                                    TOPIC_READER_QUEUED_MSGS);
    r->queue_max_bytes = conf_number(r->rk, "queued.max.messages.kbytes",
                                     TOPIC_READER_QUEUED_KBYTES) * 1024;
    err = count_partitions(r->rk, topic, &r->partition_count, errstr,
                           errstr_size);
    if (err)
        return err; /* RIFFLE_ERR_STOPPED too: a stop is not a failure */
    r->at_end = calloc((size_t)r->partition_count, 1);
    r->end_offset = calloc((size_t)r->partition_count, sizeof(int64_t));
    if (!r->at_end || !r->end_offset)
        return RIFFLE_ERR_NOMEM;
    for (i = 0; i < r->partition_count; i++)
        r->end_offset[i] = -1;
    return 0;
}

static int reader_assign(struct topic_reader *r, const char *topic,
                         rd_kafka_topic_partition_list_t *list,
                         char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (list->cnt > 0)
        err = rd_kafka_assign(r->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(errstr, errstr_size, "cannot assign %s: %s", topic,
                 rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

int topic_reader_new(const char *brokers, const char *topic, int from_start,
                     struct topic_reader **out, char *errstr,
                     size_t errstr_size)
{
    struct topic_reader *r = calloc(1, sizeof(*r));
    rd_kafka_topic_partition_list_t *list;
    int i, err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    err = reader_create(brokers, topic, NULL, r, errstr, errstr_size);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    list = rd_kafka_topic_partition_list_new(r->partition_count);
    for (i = 0; i < r->partition_count; i++)
        rd_kafka_topic_partition_list_add(list, topic, i)->offset =
            from_start ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    err = reader_assign(r, topic, list, errstr, errstr_size);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

/* Resolves the partitions of list whose offset holds a timestamp to
 * the first offset at or after it, or to the end when none is. */
static int resolve_times(struct topic_reader *r,
                         rd_kafka_topic_partition_list_t *list, char *errstr,
                         size_t errstr_size)
{
    rd_kafka_resp_err_t err;
    double started;
    int i;

    if (list->cnt == 0)
        return 0;
    started = kafka_monotonic_s();
    do
        err = kafka_query_offsets(r->rk, list,
                                  TOPIC_READER_METADATA_TIMEOUT_MS, errstr,
                                  errstr_size);
    while (kafka_retry_transient(err, started));
    if (err == KAFKA_ERR_STOPPED)
        return RIFFLE_ERR_STOPPED; /* errstr says what was not answered */
    if (err)
        return RIFFLE_ERR_KAFKA;
    for (i = 0; i < list->cnt; i++)
        if (list->elems[i].offset < 0)
            list->elems[i].offset = RD_KAFKA_OFFSET_END;
    return 0;
}

int topic_reader_new_from(const char *brokers, const char *topic,
                          const int64_t *from, int count, int64_t since_ms,
                          struct topic_reader **out, char *errstr,
                          size_t errstr_size)
{
    struct topic_reader *r = calloc(1, sizeof(*r));
    rd_kafka_topic_partition_list_t *known = NULL, *timed = NULL;
    int i, err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    err = reader_create(brokers, topic, NULL, r, errstr, errstr_size);
    if (!err) {
        known = rd_kafka_topic_partition_list_new(r->partition_count);
        timed = rd_kafka_topic_partition_list_new(r->partition_count);
    }
    for (i = 0; !err && i < r->partition_count; i++) {
        if (i < count && (from[i] >= 0 ||
                          from[i] == RD_KAFKA_OFFSET_BEGINNING))
            rd_kafka_topic_partition_list_add(known, topic, i)->offset =
                from[i];
        else
            rd_kafka_topic_partition_list_add(timed, topic, i)->offset =
                since_ms;
    }

    if (!err)
        err = resolve_times(r, timed, errstr, errstr_size);
    for (i = 0; !err && i < timed->cnt; i++)
        rd_kafka_topic_partition_list_add(known, topic,
                                          timed->elems[i].partition)
            ->offset = timed->elems[i].offset;
    if (timed)
        rd_kafka_topic_partition_list_destroy(timed);
    if (!err)
        err = reader_assign(r, topic, known, errstr, errstr_size);
    else if (known)
        rd_kafka_topic_partition_list_destroy(known);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

int topic_reader_new_some(const char *brokers, const char *topic,
                          const int64_t *from, int count,
                          struct topic_reader **out, char *errstr,
                          size_t errstr_size)
{
    struct topic_reader *r = calloc(1, sizeof(*r));
    rd_kafka_topic_partition_list_t *list;
    int i, err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    err = reader_create(brokers, topic, "earliest", r, errstr, errstr_size);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    list = rd_kafka_topic_partition_list_new(r->partition_count);
    for (i = 0; i < r->partition_count && i < count; i++)
        if (from[i] >= 0 || from[i] == RD_KAFKA_OFFSET_BEGINNING)
            rd_kafka_topic_partition_list_add(list, topic, i)->offset =
                from[i];
    err = reader_assign(r, topic, list, errstr, errstr_size);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

/* A wait of a read that a stop ended (kafka_set_stop()). */
static int reader_stopped(const char *topic, char *errstr,
                          size_t errstr_size)
{
    snprintf(errstr, errstr_size, "the brokers did not answer in time to "
             "read topic %s before the stop", topic);
    return RIFFLE_ERR_STOPPED;
}

/* The first offsets and ends (read_committed) of every partition of r,
 * into *low and *high (the caller frees both). Just after the topic was
 * created or a broker restarted, its partitions may have no leader for a
 * moment, and in an outage none answers: asked again for up to
 * KAFKA_TRANSIENT_WAIT_MS, each ask bounded, then failed. */
static int query_watermarks(struct topic_reader *r, const char *topic,
                            int64_t **low, int64_t **high, char *errstr,
                            size_t errstr_size)
{
    size_t n = (size_t)r->partition_count;
    rd_kafka_resp_err_t err;
    double started;

    *low = calloc(n, sizeof(**low));
    *high = calloc(n, sizeof(**high));
    if (!*low || !*high)
        return RIFFLE_ERR_NOMEM;

    started = kafka_monotonic_s();
    do
        err = kafka_query_watermarks(r->rk, topic, r->partition_count, *low,
                                     *high, TOPIC_READER_METADATA_TIMEOUT_MS,
                                     errstr, errstr_size);
    while (kafka_retry_transient(err, started));
    if (err && kafka_stop_requested())
        return reader_stopped(topic, errstr, errstr_size);
    return err ? RIFFLE_ERR_KAFKA : 0;
}

/* Like topic_reader_new(), starting each partition `span` messages
 * before its end (read_committed end); an empty partition counts as at
 * its end at once. *whole is set when every partition starts at its
 * first offset, so that the pass reads the whole topic. */
static int reader_new_tail(const char *brokers, const char *topic,
                           int64_t span, struct topic_reader **out,
                           int *whole, char *errstr, size_t errstr_size)
{
    struct topic_reader *r = calloc(1, sizeof(*r));
    rd_kafka_topic_partition_list_t *list = NULL;
    int64_t *low = NULL, *high = NULL;
    int i, err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    *whole = 1;
    err = reader_create(brokers, topic, NULL, r, errstr, errstr_size);
    if (!err)
        err = query_watermarks(r, topic, &low, &high, errstr, errstr_size);
    if (!err)
        list = rd_kafka_topic_partition_list_new(r->partition_count);
    for (i = 0; !err && i < r->partition_count; i++) {
        if (high[i] <= low[i]) {
            r->at_end[i] = 1;
            r->ended++;
        } else {
            int64_t start = high[i] - span > low[i] ? high[i] - span : low[i];

            *whole &= start == low[i];
            rd_kafka_topic_partition_list_add(list, topic, i)->offset = start;
        }
    }
    free(low);
    free(high);
    if (!err)
        err = reader_assign(r, topic, list, errstr, errstr_size);
    if (err) {
        topic_reader_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

void topic_reader_destroy(struct topic_reader *r)
{
    if (!r)
        return;
    if (r->rk) {
        (void)rd_kafka_consumer_close(r->rk); /* nothing to commit */
        rd_kafka_destroy(r->rk);
    }
    free(r->at_end);
    free(r->end_offset);
    free(r);
}

rd_kafka_message_t *topic_reader_poll(struct topic_reader *r, int timeout_ms)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, timeout_ms);

    if (!msg) {
        r->filled_msgs = r->polled_msgs;
        r->filled_bytes = r->polled_bytes;
        r->polled_msgs = r->polled_bytes = 0;
        return NULL;
    }
    /* The key is counted too, which can only overstate the queue. */
    r->polled_msgs++;
    r->polled_bytes += (int64_t)(msg->len + msg->key_len);
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (msg->partition >= 0 && msg->partition < r->partition_count) {
            r->end_offset[msg->partition] = msg->offset;
            if (!r->at_end[msg->partition]) {
                r->at_end[msg->partition] = 1;
                r->ended++;
            }
        }
        rd_kafka_message_destroy(msg);
        return NULL;
    }
    if (!msg->err && msg->partition >= 0 &&
        msg->partition < r->partition_count && r->at_end[msg->partition]) {
        r->at_end[msg->partition] = 0;
        r->ended--;
    }
    return msg;
}

int topic_reader_partition_count(const struct topic_reader *r)
{
    return r->partition_count;
}

int topic_reader_at_end(const struct topic_reader *r)
{
    return r->ended == r->partition_count;
}

int64_t topic_reader_end_offset(const struct topic_reader *r, int partition)
{
    if (partition < 0 || partition >= r->partition_count)
        return -1;
    return r->end_offset[partition];
}

int topic_reader_query_ends(struct topic_reader *r, const char *topic,
                            int count, int64_t *ends, char *errstr,
                            size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    double started;
    int p, rc = 0;

    if (count <= 0)
        return 0;
    list = rd_kafka_topic_partition_list_new(count);
    for (p = 0; p < count; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset =
            RD_KAFKA_OFFSET_END;

    /* Asked of the leaders, not the last fetch's cached figures: the
     * caller needs everything appended before it asked. */
    started = kafka_monotonic_s();
    do
        err = kafka_query_offsets(r->rk, list,
                                  TOPIC_READER_METADATA_TIMEOUT_MS, errstr,
                                  errstr_size);
    while (kafka_retry_transient(err, started));
    if (err)
        rc = err == KAFKA_ERR_STOPPED ? RIFFLE_ERR_STOPPED : RIFFLE_ERR_KAFKA;

    for (p = 0; !rc && p < list->cnt; p++) {
        const rd_kafka_topic_partition_t *e = &list->elems[p];

        if (e->offset < 0) {
            snprintf(errstr, errstr_size, "%s [%d]: the brokers give no end "
                     "offset for it", topic, (int)e->partition);
            rc = RIFFLE_ERR_KAFKA;
        } else {
            ends[e->partition] = e->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Shifts the kept values down by one and moves the value the chunks
 * just completed in front (an empty one when chunks is NULL). */
static void keep_newest(struct buf *out, size_t keep, size_t *found,
                        struct snapshot_chunks *chunks)
{
    size_t i;

    if (*found == keep) {
        buf_free(&out[keep - 1]);
        (*found)--;
    }
    for (i = *found; i > 0; i--)
        out[i] = out[i - 1];
    memset(&out[0], 0, sizeof(out[0]));
    (*found)++;
    if (chunks)
        snapshot_chunks_take(chunks, &out[0]);
}

static void drop_kept(struct buf *out, size_t *found)
{
    size_t i;

    for (i = 0; i < *found; i++)
        buf_free(&out[i]);
    *found = 0;
}

/* One key's search over the tail of a topic: what it found, and whether
 * it must be read again from further back. */
struct tail_pass {
    struct buf *out;
    size_t keep, found;
    int whole; /* the pass reads every partition from its first offset */
    int cut;   /* a snapshot began before the pass: its value is unknown */
};

/* One message of the topic: a whole value for key joins the kept ones;
 * a chunked snapshot whose chunks are broken is kept as an empty value,
 * which its reader refuses, so that it counts as the bad newest one. A
 * manifest none of whose chunks were read, in a pass that did not start
 * at the beginning, may be whole further back: the values kept so far
 * are older than it, so they are dropped, and the pass is marked cut. */
static int take_message(struct snapshot_chunks *chunks, const char *topic,
                        const rd_kafka_message_t *msg, struct tail_pass *t)
{
    const struct buf *value = NULL;
    char why[256];
    int rc = snapshot_chunks_feed(chunks, msg, &value, why, sizeof(why));

    if (rc == RIFFLE_ERR_SNAPSHOT && !t->whole &&
        snapshot_chunks_unstarted(chunks)) {
        drop_kept(t->out, &t->found);
        t->cut = 1;
        return 0;
    }
    if (rc == RIFFLE_ERR_SNAPSHOT) {
        log_warn("reader", "%s [%d] %s", topic, (int)msg->partition, why);
        keep_newest(t->out, t->keep, &t->found, NULL);
        return 0;
    }
    if (rc == 1)
        keep_newest(t->out, t->keep, &t->found, chunks);
    return rc == 1 ? 0 : rc;
}

void topic_reader_set_refill(struct topic_reader *r, int on)
{
    r->refill = on;
}

uint64_t topic_reader_wakeups(const struct topic_reader *r)
{
    return r->wakeups;
}

/* Wakes the broker thread of every leader of topic, by asking each for
 * its partitions' ends (the answer is not used, and an error or a
 * timeout does no harm: the request woke the thread when it was
 * queued). librdkafka 2.0 stops fetching while the consumer queue holds
 * queued.min.messages (100,000, every partition together) or
 * queued.max.messages.kbytes, and its broker thread looks at the queue
 * again only when a request, an answer or its one-second timer wakes
 * it: the application draining the queue does not. A reader faster to
 * fetch than its caller is to take thus reads 100,000 messages a second
 * (1M join profiles took 5 s, of which 0.7 s of CPU). librdkafka 2.2
 * added fetch.queue.backoff.ms for this. */
static void wake_fetchers(struct topic_reader *r, const char *topic,
                          int timeout_ms)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(r->partition_count);
    int p;

    for (p = 0; p < r->partition_count; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset =
            RD_KAFKA_OFFSET_END;
    (void)rd_kafka_offsets_for_times(r->rk, list, timeout_ms);
    rd_kafka_topic_partition_list_destroy(list);
    r->wakeups++;
}

/* Whether the fetchers may have stopped at a threshold since the queue
 * was last found empty: the queue held at most what was polled between
 * two empty looks (or since the last one). Below half a threshold they
 * did not stop, and a wake-up would cost a round trip for nothing: a
 * snapshot chunk of 4 MiB leaves the queue empty after most messages.
 * Half, because librdkafka counts a message's bytes its own way. */
static int fetchers_may_sleep(const struct topic_reader *r)
{
    int64_t msgs = r->filled_msgs > r->polled_msgs ? r->filled_msgs
                                                   : r->polled_msgs;
    int64_t bytes = r->filled_bytes > r->polled_bytes ? r->filled_bytes
                                                      : r->polled_bytes;

    return 2 * msgs >= r->queue_max_msgs || 2 * bytes >= r->queue_max_bytes;
}

/* A refilling reader whose queue ran dry right after a message, before
 * every partition's end, may have a fetcher asleep at its threshold: it
 * wakes the fetchers before it waits, when the queue can have reached
 * one. */
rd_kafka_message_t *topic_reader_next(struct topic_reader *r,
                                      const char *topic, int poll_ms)
{
    rd_kafka_message_t *msg;

    if (!r->refill || !r->flowing)
        msg = topic_reader_poll(r, poll_ms);
    else if (!(msg = topic_reader_poll(r, 0)) && !topic_reader_at_end(r)) {
        if (fetchers_may_sleep(r))
            wake_fetchers(r, topic, poll_ms);
        msg = topic_reader_poll(r, poll_ms);
    }
    r->flowing = msg != NULL;
    return msg;
}

int topic_reader_read(struct topic_reader *r, const char *topic, int poll_ms,
                      topic_reader_done_fn done, topic_reader_take_fn take,
                      void *opaque, const volatile sig_atomic_t *stop,
                      char *errstr, size_t errstr_size)
{
    double last_progress = kafka_monotonic_s();
    int err = 0;

    r->flowing = 0;
    while (!err && !(done ? done(r, opaque) : topic_reader_at_end(r)) &&
           !(stop && *stop)) {
        rd_kafka_message_t *msg = topic_reader_next(r, topic, poll_ms);

        if (!msg) {
            if (kafka_monotonic_s() - last_progress >
                TOPIC_READER_MAX_IDLE_S) {
                snprintf(errstr, errstr_size, "reading %s: no progress for "
                         "%.0f s", topic, TOPIC_READER_MAX_IDLE_S);
                err = RIFFLE_ERR_KAFKA;
            }
            continue;
        }

        last_progress = kafka_monotonic_s();
        err = take(opaque, msg, errstr, errstr_size);
        rd_kafka_message_destroy(msg);
    }
    return err;
}

/* What one pass over a topic's tail reads with: for each of count keys,
 * its reassembler and its search; a key whose search ended in an
 * earlier pass has no reassembler and is skipped. */
struct tail_read {
    const char *topic;
    size_t count;
    struct snapshot_chunks **chunks;
    struct tail_pass *t;
    unsigned long long read; /* messages, over every pass */
    unsigned long long wakeups; /* of the fetchers, over every pass */
};

static int tail_take(void *opaque, const rd_kafka_message_t *msg,
                     char *errstr, size_t errstr_size)
{
    struct tail_read *tr = opaque;
    size_t i;
    int err = 0;

    (void)errstr;
    (void)errstr_size;
    tr->read++;
    if (msg->err) {
        log_warn("reader", "%s [%d]: %s", tr->topic, (int)msg->partition,
                 rd_kafka_message_errstr(msg));
        return 0;
    }
    for (i = 0; !err && i < tr->count; i++)
        if (tr->chunks[i])
            err = take_message(tr->chunks[i], tr->topic, msg, &tr->t[i]);
    return err;
}

/* Reads the last `span` messages of each partition into the searches
 * that have not ended, once, with one reader. Returns 0 or the error. */
static int read_pass(const char *brokers, struct tail_read *tr,
                     const char *const *keys, int64_t span, char *errstr,
                     size_t errstr_size)
{
    struct topic_reader *r = NULL;
    int whole = 0, err = 0;
    size_t i;

    for (i = 0; !err && i < tr->count; i++) {
        tr->t[i].cut = 0;
        if (!tr->chunks[i] && tr->t[i].found < tr->t[i].keep)
            err = snapshot_chunks_new(keys[i], &tr->chunks[i]);
    }
    if (!err)
        err = reader_new_tail(brokers, tr->topic, span, &r, &whole, errstr,
                              errstr_size);
    for (i = 0; !err && i < tr->count; i++)
        tr->t[i].whole = whole;
    /* Several big snapshots can lie in the span: see
     * topic_reader_set_refill(). A stop ends the read, and the search
     * with an error: what was read so far is not the newest value. */
    if (!err)
        topic_reader_set_refill(r, 1);
    if (!err)
        err = topic_reader_read(r, tr->topic, TOPIC_READER_POLL_MS, NULL,
                                tail_take, tr, kafka_stop_flag(), errstr,
                                errstr_size);
    if (!err && kafka_stop_requested())
        err = reader_stopped(tr->topic, errstr, errstr_size);
    if (r)
        tr->wakeups += topic_reader_wakeups(r);
    topic_reader_destroy(r);
    return err;
}

/* Ends the search of every key that holds its values or has read the
 * whole topic, and empties the others for a pass from further back.
 * Returns how many searches go on. */
static size_t end_pass(struct tail_read *tr)
{
    size_t i, going = 0;

    for (i = 0; i < tr->count; i++) {
        struct tail_pass *t = &tr->t[i];

        if (!tr->chunks[i])
            continue;
        snapshot_chunks_destroy(tr->chunks[i]);
        tr->chunks[i] = NULL;
        if (t->whole || t->found >= t->keep)
            continue;
        drop_kept(t->out, &t->found);
        going++;
    }
    return going;
}

/* Reads the last `span` messages of each partition, then four times as
 * many, and so on, until every search holds its `keep` values or the
 * pass read the whole topic: start-up time follows the size of the
 * newest values, not the history of the topic, and several keys share
 * each pass. */
static int read_tail(const char *brokers, struct tail_read *tr,
                     const char *const *keys, int64_t *span, char *errstr,
                     size_t errstr_size)
{
    int err;
    size_t i;

    *span = TOPIC_READER_FIRST_SPAN;
    for (;;) {
        err = read_pass(brokers, tr, keys, *span, errstr, errstr_size);
        if (err || end_pass(tr) == 0)
            break;
        *span *= TOPIC_READER_SPAN_GROWTH;
    }
    for (i = 0; i < tr->count; i++) {
        snapshot_chunks_destroy(tr->chunks[i]);
        tr->chunks[i] = NULL;
        if (err)
            drop_kept(tr->t[i].out, &tr->t[i].found);
    }
    return err;
}

int topic_reader_latest_by_key(const char *brokers, const char *topic,
                               const char *key, struct buf *out, size_t keep,
                               size_t *found, char *errstr,
                               size_t errstr_size)
{
    struct tail_pass t = {out, keep, 0, 0, 0};
    struct snapshot_chunks *chunks = NULL;
    struct tail_read tr = {topic, 1, &chunks, &t, 0, 0};
    int64_t span;
    int err = read_tail(brokers, &tr, &key, &span, errstr, errstr_size);

    if (!err)
        log_info("reader", "%s: %zu value(s) of key %s found in %llu "
                 "message(s) read back from the end (last %lld per "
                 "partition; fetchers woken %llu time(s))", topic, t.found,
                 key, tr.read, (long long)span, tr.wakeups);
    *found = t.found;
    return err;
}

int topic_reader_latest_of_keys(const char *brokers, const char *topic,
                                const char *const *keys, size_t count,
                                struct buf *out, size_t *found,
                                char *errstr, size_t errstr_size)
{
    struct tail_read tr = {topic, count, NULL, NULL, 0, 0};
    size_t i, with = 0;
    int64_t span = 0;
    int err = 0;

    memset(out, 0, count * sizeof(*out));
    memset(found, 0, count * sizeof(*found));
    if (count == 0)
        return 0;
    tr.chunks = calloc(count, sizeof(*tr.chunks));
    tr.t = calloc(count, sizeof(*tr.t));
    if (!tr.chunks || !tr.t) {
        snprintf(errstr, errstr_size, "%s: no memory to look for %zu keys",
                 topic, count);
        err = RIFFLE_ERR_NOMEM;
    }
    for (i = 0; !err && i < count; i++) {
        tr.t[i].out = &out[i];
        tr.t[i].keep = 1;
    }

    if (!err)
        err = read_tail(brokers, &tr, keys, &span, errstr, errstr_size);
    for (i = 0; !err && i < count; i++) {
        found[i] = tr.t[i].found;
        with += found[i];
    }
    if (!err)
        log_info("reader", "%s: the values of %zu of %zu key(s) found in "
                 "%llu message(s) read back from the end (last %lld per "
                 "partition; fetchers woken %llu time(s))", topic, with,
                 count, tr.read, (long long)span, tr.wakeups);
    free(tr.chunks);
    free(tr.t);
    return err;
}
