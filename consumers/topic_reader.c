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
#define TOPIC_READER_MAX_IDLE_S 30.0 /* give up when nothing comes */

struct topic_reader {
    rd_kafka_t *rk;
    int partition_count;
    int ended; /* partitions at their end since the last message */
    unsigned char *at_end;
};

static int count_partitions(rd_kafka_t *rk, const char *topic, int *count,
                            char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;

    err = rd_kafka_metadata(rk, 0, rkt, &md,
                            TOPIC_READER_METADATA_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err) {
        snprintf(errstr, errstr_size, "metadata for %s: %s", topic,
                 rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    if (md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt == 0) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                 md->topic_cnt == 1 && md->topics[0].err
                     ? rd_kafka_err2str(md->topics[0].err)
                     : "no partitions");
        rd_kafka_metadata_destroy(md);
        return RIFFLE_ERR_KAFKA;
    }
    *count = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return 0;
}

int topic_reader_new(const char *brokers, const char *topic, int from_start,
                     struct topic_reader **out, char *errstr,
                     size_t errstr_size)
{
    struct topic_reader *r = calloc(1, sizeof(*r));
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_conf_t *conf;
    char why[256], group[64];
    int i, err;

    if (!r)
        return RIFFLE_ERR_NOMEM;

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
        /* Only what committed transactions published: an aborted
         * snapshot or prediction never happened. */
        kafka_conf_set(conf, "isolation.level", "read_committed", errstr,
                       errstr_size)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(r);
        return RIFFLE_ERR_KAFKA;
    }

    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!r->rk) {
        snprintf(errstr, errstr_size, "cannot create consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(r);
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(r->rk);

    err = count_partitions(r->rk, topic, &r->partition_count, errstr,
                           errstr_size);
    if (!err) {
        r->at_end = calloc((size_t)r->partition_count, 1);
        if (!r->at_end)
            err = RIFFLE_ERR_NOMEM;
    }
    if (err) {
        topic_reader_destroy(r);
        return err;
    }

    list = rd_kafka_topic_partition_list_new(r->partition_count);
    for (i = 0; i < r->partition_count; i++)
        rd_kafka_topic_partition_list_add(list, topic, i)->offset =
            from_start ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    err = rd_kafka_assign(r->rk, list) ? RIFFLE_ERR_KAFKA : 0;
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(errstr, errstr_size, "cannot assign %s", topic);
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
    free(r);
}

rd_kafka_message_t *topic_reader_poll(struct topic_reader *r, int timeout_ms)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, timeout_ms);

    if (!msg)
        return NULL;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (msg->partition >= 0 && msg->partition < r->partition_count &&
            !r->at_end[msg->partition]) {
            r->at_end[msg->partition] = 1;
            r->ended++;
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

int topic_reader_at_end(const struct topic_reader *r)
{
    return r->ended == r->partition_count;
}

/* Shifts the kept values down by one and stores the new one in front. */
static int keep_newest(struct buf *out, size_t keep, size_t *found,
                       const void *data, size_t len)
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
    return len > 0 ? buf_append(&out[0], data, len) : 0;
}

/* One message of the topic: a whole value for key joins the kept ones;
 * a chunked snapshot whose chunks are broken is kept as an empty value,
 * which its reader refuses, so that it counts as the bad newest one. */
static int take_message(struct snapshot_chunks *chunks, const char *topic,
                        const rd_kafka_message_t *msg, struct buf *out,
                        size_t keep, size_t *found)
{
    const struct buf *value = NULL;
    char why[256];
    int rc = snapshot_chunks_feed(chunks, msg, &value, why, sizeof(why));

    if (rc == RIFFLE_ERR_SNAPSHOT) {
        log_warn("reader", "%s [%d] %s", topic, (int)msg->partition, why);
        return keep_newest(out, keep, found, NULL, 0);
    }
    if (rc == 1)
        return keep_newest(out, keep, found, value->data, value->len);
    return rc;
}

int topic_reader_latest_by_key(const char *brokers, const char *topic,
                               const char *key, struct buf *out, size_t keep,
                               size_t *found, char *errstr,
                               size_t errstr_size)
{
    struct snapshot_chunks *chunks = NULL;
    struct topic_reader *r;
    double last_progress = kafka_monotonic_s();
    int err;

    *found = 0;
    err = snapshot_chunks_new(key, &chunks);
    if (!err)
        err = topic_reader_new(brokers, topic, 1, &r, errstr, errstr_size);
    if (err) {
        snapshot_chunks_destroy(chunks);
        return err;
    }

    while (!topic_reader_at_end(r)) {
        rd_kafka_message_t *msg = topic_reader_poll(r, TOPIC_READER_POLL_MS);

        if (!msg) {
            if (kafka_monotonic_s() - last_progress >
                TOPIC_READER_MAX_IDLE_S) {
                snprintf(errstr, errstr_size, "reading %s: no progress for "
                         "%.0f s", topic, TOPIC_READER_MAX_IDLE_S);
                err = RIFFLE_ERR_KAFKA;
                break;
            }
            continue;
        }
        last_progress = kafka_monotonic_s();
        if (msg->err)
            log_warn("reader", "%s [%d]: %s", topic, (int)msg->partition,
                     rd_kafka_message_errstr(msg));
        else
            err = take_message(chunks, topic, msg, out, keep, found);
        rd_kafka_message_destroy(msg);
        if (err)
            break;
    }

    topic_reader_destroy(r);
    snapshot_chunks_destroy(chunks);
    return err;
}
