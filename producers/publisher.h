/*
 * producers/publisher.h - the idempotent Kafka producer behind every
 * riffle output: input events, predictions, dead letters and snapshots.
 *
 * Idempotence keeps retries from duplicating or reordering messages in a
 * partition. A message that cannot be delivered is never forgotten: the
 * delivery report counts it, publisher_flush() reports it, and the caller
 * stops instead of committing offsets past it.
 *
 * A transactional publisher (publisher_new_transactional) also groups
 * what it sends, with the input offsets of a consumer group, into Kafka
 * transactions: read_committed readers see all of a batch or none of
 * it, and the offsets move in the same atomic step. Owned by one thread.
 */
#ifndef RIFFLE_PRODUCERS_PUBLISHER_H
#define RIFFLE_PRODUCERS_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define PUBLISHER_MAX_MESSAGE_BYTES 16777216 /* matches the broker's cap */

struct publisher;

/* Returns 0 or RIFFLE_ERR_KAFKA with errstr. *out owned by the caller. */
int publisher_new(const char *brokers, const char *client_id,
                  struct publisher **out, char *errstr, size_t errstr_size);

/* The same with transactions under transactional_id (borrowed): one id
 * per learner instance, stable across restarts, so that a restarted
 * instance fences its predecessor and aborts what it left open. The
 * broker aborts a transaction left open longer than
 * transaction_timeout_ms (0: librdkafka's default, 60 s), and the
 * producer that opened it is then fenced. Call
 * publisher_init_transactions() before the first publisher_begin(). */
int publisher_new_transactional(const char *brokers, const char *client_id,
                                const char *transactional_id,
                                long transaction_timeout_ms,
                                struct publisher **out, char *errstr,
                                size_t errstr_size);

/* Either of the above (transactional_id NULL: not transactional, and
 * transaction_timeout_ms unused) for latency rather than batching: a
 * message waits at most 1 ms for company (linger.ms 1), not the 5 ms of
 * the others. For `riffle serve`, where a request waits on its answer. */
int publisher_new_immediate(const char *brokers, const char *client_id,
                            const char *transactional_id,
                            long transaction_timeout_ms,
                            struct publisher **out, char *errstr,
                            size_t errstr_size);

/* Registers the transactional id with the broker, waiting up to
 * timeout_ms. Returns 0; RIFFLE_ERR_TIMEOUT with errstr when the broker
 * did not answer in time (call again); RIFFLE_ERR_KAFKA or
 * RIFFLE_ERR_FENCED when it failed for good.
 *
 * RIFFLE_ERR_FENCED, from any call below too, means the producer itself
 * has failed for good (librdkafka's fatal error, e.g. fenced: a newer
 * producer registered the same transactional id, or the broker aborted
 * a transaction open too long and bumped the id's epoch): only a new
 * publisher can go on. */
int publisher_init_transactions(struct publisher *p, int timeout_ms,
                                char *errstr, size_t errstr_size);

/* Opens a transaction. Returns 0, RIFFLE_ERR_FENCED or RIFFLE_ERR_KAFKA
 * with errstr. */
int publisher_begin(struct publisher *p, char *errstr, size_t errstr_size);

/* Whether a transaction is open. */
int publisher_in_transaction(const struct publisher *p);

/* Adds offsets (borrowed; the next offsets to read, per partition) of
 * the consumer group described by group (borrowed) to the open
 * transaction, and commits it, waiting up to timeout_ms. Returns 0;
 * RIFFLE_ERR_TIMEOUT when the outcome is not known yet (the broker may
 * be away: call again, the offsets are not sent twice);
 * RIFFLE_ERR_ABORTED when the transaction cannot commit and must be
 * aborted with publisher_abort() (the caller redoes its work);
 * RIFFLE_ERR_FENCED when the producer failed for good, e.g. fenced by a
 * newer instance with the same transactional id: the transaction may
 * still have committed, if the commit reached the coordinator and its
 * answer was lost before the fencing (publisher_txn_offsets() and
 * common/txn_outcome.h tell); RIFFLE_ERR_KAFKA for any other failure.
 * errstr says which. */
int publisher_commit(struct publisher *p,
                     const rd_kafka_topic_partition_list_t *offsets,
                     const rd_kafka_consumer_group_metadata_t *group,
                     int timeout_ms, char *errstr, size_t errstr_size);

/* The input offsets publisher_commit() sent to the open transaction, or
 * NULL when it sent none (no commit was asked for, or there is no open
 * transaction). Borrowed: valid until the next call on p. For the
 * caller of a commit that failed without an answer, to learn from the
 * group's committed offsets whether it went through. */
const rd_kafka_topic_partition_list_t *
publisher_txn_offsets(const struct publisher *p);

/* Aborts the open transaction: nothing sent in it becomes visible to
 * read_committed readers. Returns 0, RIFFLE_ERR_TIMEOUT (call again),
 * RIFFLE_ERR_FENCED or RIFFLE_ERR_KAFKA with errstr. */
int publisher_abort(struct publisher *p, int timeout_ms, char *errstr,
                    size_t errstr_size);

/* Whether the producer failed for good (librdkafka's fatal error, the
 * RIFFLE_ERR_FENCED above), for a caller that got another code from a
 * call that only reports deliveries, such as publisher_check(). */
int publisher_failed(const struct publisher *p);

/* Flushes what is queued (bounded wait) and frees; an open transaction
 * is left to the broker, which aborts it. A producer that failed for
 * good, or was given up (publisher_abandon), drops what it holds instead
 * of waiting. NULL-safe. */
void publisher_destroy(struct publisher *p);

/* Gives up what p still holds unacknowledged, for a caller that stops
 * without waiting for the brokers (its commits do not cover it, so the
 * next start sends it again): publisher_destroy() then drops it at once
 * instead of waiting up to 30 s and logging an error. NULL-safe. */
void publisher_abandon(struct publisher *p);

/* Queues one message; key and value are copied. headers (may be NULL) is
 * taken over in every case. Waits while the local queue is full; with a
 * stop flag set (kafka_set_stop()) a stop ends that wait as
 * common/broker_wait.h says, and the message is not sent. Returns 0;
 * RIFFLE_ERR_ABORTED in a transaction that can no longer commit;
 * RIFFLE_ERR_FENCED when the producer failed for good; RIFFLE_ERR_STOPPED
 * at a stop (the caller commits nothing past it); else RIFFLE_ERR_KAFKA,
 * each with errstr. */
int publisher_send(struct publisher *p, const char *topic, const void *key,
                   size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, char *errstr,
                   size_t errstr_size);

/* The same with the message's timestamp set to timestamp_ms (0: now),
 * e.g. a label that says when it became known. */
int publisher_send_at(struct publisher *p, const char *topic,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, rd_kafka_headers_t *headers,
                      int64_t timestamp_ms, char *errstr,
                      size_t errstr_size);

/* Sends topic's messages without compression: for payloads LZ4 cannot
 * shrink (model snapshots: hundreds of MiB of floats), where compressing
 * costs the producer and the broker a pass each for nothing. Call before
 * the first message to topic (later, librdkafka keeps the settings it
 * has). Returns 0 or RIFFLE_ERR_KAFKA with errstr. */
int publisher_set_uncompressed(struct publisher *p, const char *topic,
                               char *errstr, size_t errstr_size);

/* Asks the brokers now for the partitions of each of the n topics
 * (borrowed; NULL or empty names are skipped), so that the first message
 * to each does not wait for librdkafka's own lookup, which comes up to a
 * second later and would stall the first transaction. Best effort: a
 * topic that cannot be looked up now is looked up again when used. */
void publisher_prepare_topics(struct publisher *p, const char *const *topics,
                              size_t n);

/* Serves delivery reports without blocking. */
void publisher_poll(struct publisher *p);

/* Messages queued by publisher_send() so far; each is numbered by the
 * count before it. */
uint64_t publisher_sent(const struct publisher *p);

/* Every message numbered below this has been acknowledged or has failed
 * for good; publisher_check() says whether any failed. Moves only in
 * publisher_poll() and the other calls that serve delivery reports. So
 * "publisher_settled() >= n and publisher_check() == 0" means the first
 * n messages are durable, without waiting for the later ones as
 * publisher_flush() does. */
uint64_t publisher_settled(const struct publisher *p);

/* Checks that topic exists on the brokers, waiting up to timeout_ms for
 * their metadata: 0, or RIFFLE_ERR_KAFKA with errstr naming the topic and
 * how to create the pipeline's topics (kafka_topic_partitions()). For
 * callers about to send a whole file there, whose every message would
 * otherwise fail only after librdkafka's delivery timeout. */
int publisher_check_topic(struct publisher *p, const char *topic,
                          int timeout_ms, char *errstr, size_t errstr_size);

/* 0, or RIFFLE_ERR_KAFKA with errstr when a message failed since the
 * last check or flush (the count is then reset). Does not wait. */
int publisher_check(struct publisher *p, char *errstr, size_t errstr_size);

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
