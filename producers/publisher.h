/*
 * producers/publisher.h - the idempotent Kafka producer behind every
 * riffle output: input events, predictions, dead letters and snapshots.
 *
 * Idempotence keeps retries from duplicating or reordering messages in a
 * partition. A message that cannot be delivered is never forgotten: the
 * delivery report counts it, publisher_flush() reports it, and the caller
 * stops instead of committing offsets past it. Owned by one thread.
 */
#ifndef RIFFLE_PRODUCERS_PUBLISHER_H
#define RIFFLE_PRODUCERS_PUBLISHER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#define PUBLISHER_MAX_MESSAGE_BYTES 16777216 /* matches the broker's cap */

struct publisher;

/* Returns 0 or RIFFLE_ERR_KAFKA with errstr. *out owned by the caller. */
int publisher_new(const char *brokers, const char *client_id,
                  struct publisher **out, char *errstr, size_t errstr_size);

/* Flushes what is queued (bounded wait) and frees. NULL-safe. */
void publisher_destroy(struct publisher *p);

/* Queues one message; key and value are copied. headers (may be NULL) is
 * taken over in every case. Waits while the local queue is full. Returns
 * 0 or RIFFLE_ERR_KAFKA with errstr. */
int publisher_send(struct publisher *p, const char *topic, const void *key,
                   size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, char *errstr,
                   size_t errstr_size);

/* Serves delivery reports without blocking. */
void publisher_poll(struct publisher *p);

/* Waits up to timeout_ms for every queued message to be acknowledged.
 * Returns 0 when all were delivered; RIFFLE_ERR_TIMEOUT with errstr when
 * some are still waiting (the broker may be down: calling again waits
 * more); RIFFLE_ERR_KAFKA with errstr when a delivery since the last
 * flush failed for good. */
int publisher_flush(struct publisher *p, int timeout_ms, char *errstr,
                    size_t errstr_size);

/* Messages acknowledged by the broker so far. */
unsigned long long publisher_delivered(const struct publisher *p);

#endif
