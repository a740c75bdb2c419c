/*
 * common/kafka.c - librdkafka configuration helpers, see kafka.h.
 */
#include "common/kafka.h"

#include <stdio.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

/* librdkafka uses syslog levels: 0-3 errors, 4 warnings, 5-6 info. */
static void route_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
    enum log_level ours = level <= 3   ? LOG_LEVEL_ERROR
                          : level == 4 ? LOG_LEVEL_WARN
                          : level <= 6 ? LOG_LEVEL_INFO
                                       : LOG_LEVEL_DEBUG;

    log_write(ours, "rdkafka", "%s %s: %s", rd_kafka_name(rk), fac, buf);
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                   const char *value, char *errstr, size_t errstr_size)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka property %s: %s", name, why);
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *client_id,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char timeout[32];

    snprintf(timeout, sizeof(timeout), "%d", KAFKA_SOCKET_TIMEOUT_MS);
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
        kafka_conf_set(conf, "socket.timeout.ms", timeout, errstr,
                       errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, route_log);
    return conf;
}

int64_t kafka_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double kafka_monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
