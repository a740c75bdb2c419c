/*
 * consumers/consumer.h - the learner's group consumer on the input topic.
 *
 * Joins the consumer group, and when partitions are assigned starts each
 * one at the offset the restored snapshot recorded for it, or else at the
 * group's committed offset, or else at the beginning. It tracks the next
 * offset to read of every partition it has processed, which is what a
 * snapshot records and what is committed after a snapshot is safely
 * published. Auto-commit is off: offsets only move with snapshots (at
 * least once) or with the transaction that carries the outputs (exactly
 * once), so a restart never skips an event the model has not learned.
 *
 * In replay mode (exactly once) a partition without a snapshot offset
 * starts at its beginning, and every message below the group's committed
 * offset is a replay: its outputs were committed by an earlier run, so
 * the learner learns it again to rebuild the model but publishes nothing
 * for it. The input is read with read_committed. Owned by the learner
 * thread.
 */
#ifndef RIFFLE_CONSUMERS_CONSUMER_H
#define RIFFLE_CONSUMERS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config/cfg.h"

#include "learner/snapshot.h"

struct consumer;

/* start (borrowed, n entries, may be NULL) holds the snapshot's offsets.
 * replay turns on replay mode (see above). instance_id (borrowed, may be
 * NULL) makes the consumer a static member of the group: restarted under
 * the same id, e.g. after a crash, it gets its partitions back at once
 * instead of waiting for the group to time the dead member out.
 * Returns 0 or RIFFLE_ERR_KAFKA with errstr, also when the topic does not
 * exist (a consumer would otherwise wait for it forever). */
int consumer_new(const char *brokers, const char *group_id,
                 const char *topic, const struct snapshot_offset *start,
                 size_t n, int replay, const char *instance_id,
                 struct consumer **out, char *errstr, size_t errstr_size);

/* Names this instance (borrowed, copied; NULL or "" for none) in the
 * claims its commits carry, and makes it read the others' claims on an
 * assignment: see handover.h. Call before the first poll. */
void consumer_set_owner(struct consumer *c, const char *owner);

/* What to do with a resume offset past its partition's end
 * (snapshot.on_offset_past_end; CFG_PAST_END_STOP until set). Every
 * assignment checks each partition's resume offset (the snapshot's, or
 * in replay mode the one the claims give) against its watermarks:
 *   - before the start (retention deleted events the model never saw):
 *     a warning with how many were lost, counted; reading goes on from
 *     the start;
 *   - past the end (the topic was recreated, or the broker lost
 *     records): a warning naming the offsets, counted; then action:
 *     stop (consumer_failure() says why, nothing is assigned), earliest
 *     or latest.
 * Call before the first poll. */
void consumer_set_past_end_action(struct consumer *c,
                                  enum cfg_past_end_action action);

/* The resume offsets found outside their partitions since the consumer
 * was made (see consumer_set_past_end_action()). */
struct consumer_range_counts {
    uint64_t past_end;          /* partitions whose offset was past the end */
    uint64_t before_start;      /* ... before the start */
    uint64_t lost_to_retention; /* events deleted before they were read */
};

void consumer_range_counts(const struct consumer *c,
                           struct consumer_range_counts *out);

/* Records that a snapshot of the current positions was written (into
 * the open transaction): later claims say it covers them. */
void consumer_note_snapshot(struct consumer *c);

/* Called (with opaque) when partitions are about to be taken away, and
 * before the consumer leaves the group, while the offsets of what was
 * handled can still be committed. fn may be NULL. */
void consumer_set_revoke_hook(struct consumer *c,
                              void (*fn)(void *opaque), void *opaque);

/* A partition just assigned, as the assign hook sees it. */
struct consumer_assigned {
    const char *topic; /* borrowed for the hook's duration */
    int32_t partition;
    int64_t start;     /* first offset to read; -1: the beginning or the
                          committed offset */
    int claimed;       /* a claim was read (handover.h) */
    int inherits;      /* the partition's claim names
                          another instance, or one of ours that this
                          instance's position does not reach, so its
                          state (the delayed-label records) comes from
                          that claim's owner, at start (handover.h) */
};

/* Called (with opaque) on an assignment, after each partition's start is
 * decided and before the first message of it is read: n entries of
 * parts, borrowed. An error is the hook's to keep: the consumer goes on.
 * fn may be NULL. */
void consumer_set_assign_hook(struct consumer *c,
                              void (*fn)(void *opaque,
                                         const struct consumer_assigned *parts,
                                         size_t n),
                              void *opaque);

/* Why the consumer cannot go on (e.g. the committed offsets could not
 * be fetched at an assignment), or NULL while it can. Borrowed. */
const char *consumer_failure(const struct consumer *c);

/* Whether msg is a replay (see above): below the committed offset of its
 * partition when the partition was assigned. */
int consumer_is_replay(const struct consumer *c,
                       const rd_kafka_message_t *msg);

/* The group's metadata, for a transactional publisher; the caller frees
 * it with rd_kafka_consumer_group_metadata_destroy(). */
rd_kafka_consumer_group_metadata_t *
consumer_group_metadata(const struct consumer *c);

/* The offsets to commit for the assigned partitions that have a known
 * position: the next offset to read, or the replay bound while that is
 * further, each with this instance's claim as metadata when it has an
 * owner name. A new list the caller destroys. */
rd_kafka_topic_partition_list_t *
consumer_assigned_offsets(const struct consumer *c);

/* The same over several topics (borrowed, topic_count >= 1): a
 * pipeline's input topic, its further sources and its enrichment topic.
 * Partitions are tracked per topic, and so are snapshot offsets.
 * session_timeout_ms > 0 sets how long the group waits for a silent
 * member (e.g. a killed static one) before moving its partitions. */
int consumer_new_topics(const char *brokers, const char *group_id,
                        const char *const *topics, size_t topic_count,
                        const struct snapshot_offset *start, size_t n,
                        int replay, const char *instance_id,
                        long session_timeout_ms, struct consumer **out,
                        char *errstr, size_t errstr_size);

/* Leaves the group and frees. NULL-safe. */
void consumer_destroy(struct consumer *c);

/* The next message, or NULL after timeout_ms. Partition-end events are
 * consumed here (see consumer_caught_up); other errors come back as a
 * message with err set. The caller destroys what it gets with
 * rd_kafka_message_destroy(). Messages are taken from librdkafka in
 * batches and handed out one per call; a rebalance met in a batch is
 * served (with its hooks) by the call after the last message taken
 * before it, as one-at-a-time polling would, so each message is to be
 * handled before the next call. A pending one is served by
 * consumer_destroy(). */
rd_kafka_message_t *consumer_poll(struct consumer *c, int timeout_ms);

/* Records that msg was fully handled: its partition's next offset moves
 * past it. */
void consumer_mark_done(struct consumer *c, const rd_kafka_message_t *msg);

/* How many partitions are assigned now: none while the group is
 * rebalancing, or after the session timed out with the brokers away. */
size_t consumer_assigned_count(const struct consumer *c);

/* Whether the group has assigned this consumer a partition at least once
 * since consumer_new(): before that, holding none is the group forming
 * (on a fresh broker its offsets topic is made first), not an outage. */
int consumer_ever_assigned(const struct consumer *c);

/* Whether the brokers answer, within timeout_ms, a metadata request for
 * the consumer's first topic: what can be asked while no partition is
 * assigned. Returns 1 when they do (even to say the topic is missing);
 * 0 with why set when none answered. */
int consumer_brokers_reachable(struct consumer *c, int timeout_ms, char *why,
                               size_t why_size);

/* Whether partitions are assigned and every one has reached its end. */
int consumer_caught_up(const struct consumer *c);

/* Asks the brokers, waiting up to timeout_ms in all, whether every
 * assigned partition's end (read_committed) is where this consumer
 * stands: what consumer_caught_up() says from the last fetch, confirmed
 * now. Returns 1 when it is; 0 with why set when a partition has more to
 * read, none is assigned, or the brokers do not answer within
 * timeout_ms (an outage looks idle from here). */
int consumer_confirm_caught_up(struct consumer *c, int timeout_ms, char *why,
                               size_t why_size);

/* Whether the brokers answer, within timeout_ms, a request for the ends
 * of the assigned partitions: a bounded look before starting work that
 * cannot finish while they are away. Returns 1 when they do; 0 with why
 * set when they do not or no partition is assigned. */
int consumer_brokers_answer(struct consumer *c, int timeout_ms, char *why,
                            size_t why_size);

/* Copies the next offsets of every partition seen (up to max) into out,
 * their count into *n. */
void consumer_positions(const struct consumer *c,
                        struct snapshot_offset *out, size_t max, size_t *n);

/* Where the consumer stands in an assigned partition: the next offset
 * to handle and the partition's high watermark as last fetched (-1 while
 * unknown). Lag is high - next_offset. */
struct consumer_lag {
    const char *topic; /* borrowed from the consumer */
    int32_t partition;
    int64_t next_offset;
    int64_t high;
};

/* Copies up to max assigned partitions' positions into out, their count
 * into *n. Reads librdkafka's cached watermarks: no broker request. */
void consumer_lags(const struct consumer *c, struct consumer_lag *out,
                   size_t max, size_t *n);

/* Commits the given offsets to the group synchronously. Returns 0,
 * RIFFLE_ERR_TIMEOUT with errstr when the group no longer counts this
 * member (its session ran out; librdkafka is rejoining, and the same
 * commit may succeed once it has), or RIFFLE_ERR_KAFKA with errstr. */
int consumer_commit(struct consumer *c, const struct snapshot_offset *off,
                    size_t n, char *errstr, size_t errstr_size);

/* The same, with a metadata text per offset (meta[i], borrowed, may be
 * NULL) stored with it by the group coordinator. */
int consumer_commit_meta(struct consumer *c, const struct snapshot_offset *off,
                         const char *const *meta, size_t n, char *errstr,
                         size_t errstr_size);

/* The group's committed offset of topic's partition and its metadata
 * text (cut to meta_size - 1 bytes; "" when none): *offset is -1 when
 * nothing was committed. Asks the group coordinator (waits at most
 * timeout_ms). Returns 0 or RIFFLE_ERR_KAFKA with errstr. */
int consumer_committed_meta(struct consumer *c, const char *topic,
                            int32_t partition, int timeout_ms,
                            int64_t *offset, char *meta, size_t meta_size,
                            char *errstr, size_t errstr_size);

/* How many partitions topic has, from the brokers' metadata. Returns 0
 * or RIFFLE_ERR_KAFKA with errstr. */
int consumer_partition_count(struct consumer *c, const char *topic,
                             int *count, char *errstr, size_t errstr_size);

/* Reads the group's committed offsets of the partitions in parts (the
 * caller's list) into it: each element's offset, RD_KAFKA_OFFSET_INVALID
 * when nothing is committed, or its err set when it could not be read.
 * Any partition, assigned or not. Asks the group coordinator (waits at
 * most timeout_ms). Returns 0 or RIFFLE_ERR_KAFKA with errstr. */
int consumer_committed(struct consumer *c,
                       rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                       char *errstr, size_t errstr_size);

/* Moves the fetch position of an assigned partition to offset: the next
 * message polled from it is the one at offset. Returns 0 or
 * RIFFLE_ERR_KAFKA with errstr. */
int consumer_seek(struct consumer *c, const char *topic, int32_t partition,
                  int64_t offset, char *errstr, size_t errstr_size);

#endif
