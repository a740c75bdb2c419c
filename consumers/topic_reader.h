/*
 * consumers/topic_reader.h - reads every partition of a topic, outside
 * any consumer group.
 *
 * Used to find the latest model snapshot at start-up and by `riffle
 * watch`. It commits nothing and never affects the learner's group.
 * Owned by one thread.
 */
#ifndef RIFFLE_CONSUMERS_TOPIC_READER_H
#define RIFFLE_CONSUMERS_TOPIC_READER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/buf.h"

#define TOPIC_READER_METADATA_TIMEOUT_MS 10000
/* How long a read waits without any message before it gives up: long
 * enough for a leader election or a broker restart. */
#define TOPIC_READER_MAX_IDLE_S 30.0

struct topic_reader;

/* Assigns every partition of topic, at the beginning when from_start is
 * set, else at the end. Returns 0, or RIFFLE_ERR_KAFKA with errstr (for
 * instance when the topic does not exist). */
int topic_reader_new(const char *brokers, const char *topic, int from_start,
                     struct topic_reader **out, char *errstr,
                     size_t errstr_size);

/* Assigns partition i of topic at from[i] when i < count (an offset to
 * read next, or RD_KAFKA_OFFSET_BEGINNING), and every other partition at
 * its first message timestamped since_ms or later (at its end when there
 * is none): a reader that goes on from where an earlier one stopped, or
 * starts at a point in time.
 * from (count entries) is borrowed. Returns 0 or RIFFLE_ERR_KAFKA with
 * errstr. */
int topic_reader_new_from(const char *brokers, const char *topic,
                          const int64_t *from, int count, int64_t since_ms,
                          struct topic_reader **out, char *errstr,
                          size_t errstr_size);

/* Assigns only the partitions i < count whose from[i] is an offset or
 * RD_KAFKA_OFFSET_BEGINNING, each there; an offset the log no longer
 * holds (deleted by retention) reads from the earliest one kept. from
 * (count entries) is borrowed. Returns 0 or RIFFLE_ERR_KAFKA with
 * errstr. */
int topic_reader_new_some(const char *brokers, const char *topic,
                          const int64_t *from, int count,
                          struct topic_reader **out, char *errstr,
                          size_t errstr_size);

void topic_reader_destroy(struct topic_reader *r); /* NULL-safe */

/* How many partitions r reads. */
int topic_reader_partition_count(const struct topic_reader *r);

/* The next message, or NULL after timeout_ms or at a partition end. The
 * caller destroys it with rd_kafka_message_destroy(). */
rd_kafka_message_t *topic_reader_poll(struct topic_reader *r, int timeout_ms);

/* Whether every partition has reached its end at least once since the
 * last message. */
int topic_reader_at_end(const struct topic_reader *r);

/* The offset at which partition last reported its end (past any
 * transaction markers there), or -1 when it has not yet. */
int64_t topic_reader_end_offset(const struct topic_reader *r, int partition);

/* Whether a read by topic_reader_read() is complete; opaque is the
 * caller's. */
typedef int (*topic_reader_done_fn)(const struct topic_reader *r,
                                    void *opaque);

/* One message a read polled, errors included (the caller says which it
 * skips); msg is borrowed. Returns 0, or an error code (errstr filled)
 * that ends the read. */
typedef int (*topic_reader_take_fn)(void *opaque,
                                    const rd_kafka_message_t *msg,
                                    char *errstr, size_t errstr_size);

/* Polls r every poll_ms, handing each message to take, until done says
 * the read is complete (done NULL: every partition at its end), *stop
 * is set (stop may be NULL), take fails, or TOPIC_READER_MAX_IDLE_S pass
 * without a message (RIFFLE_ERR_KAFKA, errstr naming topic). Returns 0
 * or the error. Runs on r's thread. */
int topic_reader_read(struct topic_reader *r, const char *topic, int poll_ms,
                      topic_reader_done_fn done, topic_reader_take_fn take,
                      void *opaque, const volatile sig_atomic_t *stop,
                      char *errstr, size_t errstr_size);

/* With on set, a read by topic_reader_read() or topic_reader_next()
 * that finds no message right after one, before every partition's end,
 * wakes librdkafka's fetchers (one request to each leader) before it
 * waits, if the queue can have held half of queued.min.messages or of
 * queued.max.messages.kbytes since it was last empty: librdkafka 2.0
 * sleeps up to a second once its queue reaches either, so a reader of a
 * big topic otherwise waits more than it works. For the readers of big
 * topics (join tables, model snapshots); off by default. */
void topic_reader_set_refill(struct topic_reader *r, int on);

/* The next message, as topic_reader_poll(), for a reader of topic that
 * polls on its own rather than through topic_reader_read(): a
 * refilling reader wakes the fetchers as that function does. */
rd_kafka_message_t *topic_reader_next(struct topic_reader *r,
                                      const char *topic, int poll_ms);

/* How many times reads woke the fetchers. */
uint64_t topic_reader_wakeups(const struct topic_reader *r);

/* Asks the leaders of partitions 0..count-1 for their end offsets now
 * (the last stable offsets, as r reads read_committed), into
 * ends[0..count-1]: one request per leader, sent together. Returns 0 or
 * RIFFLE_ERR_KAFKA with errstr naming the topic and partition. */
int topic_reader_query_ends(struct topic_reader *r, const char *topic,
                            int count, int64_t *ends, char *errstr,
                            size_t errstr_size);

/* Finds the values of the last `keep` messages whose key equals key,
 * newest first, in out[0..*found-1] (the caller frees each with
 * buf_free). Reads each partition's last messages, and further back only
 * while fewer than `keep` are found, so the time taken follows the size
 * of the newest values, not the history of the topic. Snapshots written
 * in chunks come back reassembled (see snapshot_chunks.h); one whose
 * chunks are broken (or compacted away) comes back empty, after a
 * warning. Returns 0 or RIFFLE_ERR_KAFKA. */
int topic_reader_latest_by_key(const char *brokers, const char *topic,
                               const char *key, struct buf *out, size_t keep,
                               size_t *found, char *errstr,
                               size_t errstr_size);

/* Finds the newest value of each of keys[0..count-1] (distinct,
 * borrowed) into out[i] (count entries), with found[i] 1 when there is
 * one and 0 when not, as topic_reader_latest_by_key() with keep 1 would
 * for each key, but in passes that all keys share: one reader and one
 * read of the tail, not one per key. The caller frees each out[i] with
 * buf_free. Returns 0, RIFFLE_ERR_NOMEM or RIFFLE_ERR_KAFKA with errstr;
 * on error every out[i] is empty. */
int topic_reader_latest_of_keys(const char *brokers, const char *topic,
                                const char *const *keys, size_t count,
                                struct buf *out, size_t *found,
                                char *errstr, size_t errstr_size);

#endif
