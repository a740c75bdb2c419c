/*
 * producers/publisher.c - idempotent producer, see publisher.h.
 */
#include "producers/publisher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"

#define PUBLISHER_QUEUE_FULL_WAIT_MS 50 /* serve reports, then retry */
#define PUBLISHER_CLOSE_FLUSH_MS 30000
#define PUBLISHER_LINGER_MS "5" /* small batches, low latency */

struct publisher {
    rd_kafka_t *rk;
    unsigned long long delivered;
    unsigned long long failed; /* since the last flush */
    char first_failure[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
    struct publisher *p = opaque;

    (void)rk;
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

int publisher_new(const char *brokers, const char *client_id,
                  struct publisher **out, char *errstr, size_t errstr_size)
{
    struct publisher *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;
    char max_bytes[32], why[256];

    if (!p)
        return RIFFLE_ERR_NOMEM;

    conf = kafka_conf_new(brokers, client_id, errstr, errstr_size);
    if (!conf) {
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    snprintf(max_bytes, sizeof(max_bytes), "%d", PUBLISHER_MAX_MESSAGE_BYTES);
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "linger.ms", PUBLISHER_LINGER_MS, errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "message.max.bytes", max_bytes, errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "compression.type", "lz4", errstr,
                       errstr_size)) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);

    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!p->rk) {
        snprintf(errstr, errstr_size, "cannot create producer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(p);
        return RIFFLE_ERR_KAFKA;
    }
    *out = p;
    return 0;
}

void publisher_destroy(struct publisher *p)
{
    char errstr[256];

    if (!p)
        return;
    if (publisher_flush(p, PUBLISHER_CLOSE_FLUSH_MS, errstr,
                        sizeof(errstr)) != 0)
        log_error("publisher", "on close: %s", errstr);
    rd_kafka_destroy(p->rk);
    free(p);
}

int publisher_send(struct publisher *p, const char *topic, const void *key,
                   size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, char *errstr,
                   size_t errstr_size)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->rk, PUBLISHER_QUEUE_FULL_WAIT_MS);
    }

    if (err) {
        if (headers)
            rd_kafka_headers_destroy(headers); /* not taken on failure */
        snprintf(errstr, errstr_size, "cannot produce to %s: %s", topic,
                 rd_kafka_err2str(err));
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

void publisher_poll(struct publisher *p)
{
    rd_kafka_poll(p->rk, 0);
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
