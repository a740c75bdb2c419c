/*
 * common/kafka.h - librdkafka set-up shared by every Kafka client riffle
 * makes: bootstrap servers, client id, and librdkafka's own log lines
 * routed into riffle's log with the component "rdkafka".
 */
#ifndef RIFFLE_COMMON_KAFKA_H
#define RIFFLE_COMMON_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define KAFKA_SOCKET_TIMEOUT_MS 10000 /* fail fast when no broker answers */

/* A new configuration for brokers with riffle's log callback. Returns
 * NULL with errstr set on failure. The caller owns the result until it
 * hands it to rd_kafka_new(). */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *client_id,
                                char *errstr, size_t errstr_size);

/* Sets one property; returns 0 or RIFFLE_ERR_KAFKA with errstr naming
 * the property. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                   const char *value, char *errstr, size_t errstr_size);

/* Milliseconds since the Unix epoch (wall clock). */
int64_t kafka_now_ms(void);

/* Seconds on a monotonic clock, for rates and intervals. */
double kafka_monotonic_s(void);

#endif
