/*
 * cli/learn_join.h - the enrichment (join) topic as every learner sees
 * it: read whole, every partition, outside the consumer group.
 *
 * Several `riffle learn --instance` learners split the events between
 * them, but each one must enrich its events with the newest profile of
 * any key, so each reads the whole join topic itself (assigned, never
 * subscribed). Its positions go into the instance's snapshots with the
 * events' offsets: the table a snapshot's model was learned with is the
 * join topic up to those positions.
 *
 * The table itself is not in the snapshot: a start rebuilds it by
 * reading every partition from its beginning up to the snapshot's
 * position (to its end when the snapshot has none), so a restart starts
 * from the table the model had when the snapshot was taken.
 * The module's readers wake librdkafka's fetchers whenever a read runs
 * dry (topic_reader_set_refill()): without that, librdkafka 2.0 refilled
 * the queue once a second, and 1M profiles took 5 s for 0.7 s of CPU;
 * the rebuild is now bound by the learner's CPU (0.6-1.5 s for them,
 * up to 2.6 s on a loaded machine; docs/SCALING.md, bench/join_start).
 * TODO(start-up time): a start still reads the whole join topic, so it
 * takes as long as the topic is big unless it is compacted (about 1M
 * records/s of CPU here: tens of seconds for tens of millions of
 * records); keeping the table in the snapshot would make a start read
 * only what is new, at the price of up to join.max_keys profiles in
 * every snapshot and every merge read. A pipeline's first start also
 * reads its owned partitions a second time for dead letters
 * (learn_join_check(), 0.3-0.6 s for 1M records); keeping the unusable
 * records the rebuild meets past the group's committed positions would
 * spare that read, with a bound on what is kept, and a dead-letter
 * callback taking riffle's own copy instead of librdkafka's message
 * (learn_join_bad_fn; cmd_learn.c reads its topic handle and timestamp).
 *
 * Ordering: an event is enriched only once the learner has applied
 * every join record appended before the event's Kafka timestamp. When an
 * event is newer than the learner's last synchronisation, the learner
 * asks each join partition's leader for its end offset and reads up to
 * it before handling the event (learn_join_sync()). A learner behind the
 * stream handles old events without asking: their profiles are then at
 * least as new as the events.
 *
 * Dead letters: every instance reads every join record, but an unusable
 * one is dead-lettered by one instance only, the owner of its partition:
 * join partition q belongs to the instance assigned input partition
 * q mod P (P: the input topic's partition count), so the group's
 * assignment names exactly one owner at a time. Per owned partition the
 * module keeps where its checking stands (every unusable record below
 * it is dead-lettered), and the owner commits that position as the
 * group's offset of the join partition, in the transaction that carries
 * the dead letters (exactly once) or with a snapshot's offsets once they
 * are acknowledged (at least once), and again every 20 s while it is
 * idle, lest the broker expire the offset (cmd_learn.c,
 * LEARN_JOIN_REFRESH_S). A new owner, after a rebalance or a
 * crash, goes on from the committed position (when the group has none,
 * e.g. expired while the group was empty, from the checked position its
 * snapshot records: see join_from_snapshot() in cmd_learn.c): records
 * it has applied
 * but not checked (its rebuild, a replay, a take-over) are read again
 * and judged without being applied (learn_join_check()). An owner whose
 * events are idle, and one that stops cleanly, checks its partitions up
 * to the brokers' ends (learn_join_check_ends()): records appended after
 * its last event would otherwise wait for its next event, or run.
 * Runs on the learner thread.
 */
#ifndef RIFFLE_CLI_LEARN_JOIN_H
#define RIFFLE_CLI_LEARN_JOIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config/cfg.h"
#include "learner/online.h"
#include "learner/snapshot.h"

struct learn_join_stats {
    uint64_t rebuilt;     /* records applied while rebuilding the table */
    uint64_t rebuilt_bad; /* of which unusable (not dead-lettered again) */
    double rebuild_s;     /* how long the rebuild took */
    uint64_t rebuild_wakeups; /* of librdkafka's fetchers, by the rebuild
                                 (topic_reader_set_refill()) */
    uint64_t applied;     /* records applied since, by synchronisations */
    uint64_t bad;         /* of which unusable */
    uint64_t syncs;       /* synchronisations with the brokers' ends */
    uint64_t rechecked;   /* records judged by learn_join_check() and
                             learn_join_check_ends() */
};

struct learn_join;

/* Called for an unusable record of an owned partition not yet checked
 * (res says why), which the caller dead-letters. Returns 0 or an error
 * that stops the read. */
typedef int (*learn_join_bad_fn)(void *opaque, const rd_kafka_message_t *msg,
                                 const struct online_result *res,
                                 char *errstr, size_t errstr_size);

/* Rebuilds ol's enrichment table from cfg->join.topic up to the join
 * positions among snap[0..n-1] (entries of other topics are ignored;
 * those with `checked` set are the snapshot's checked positions, see
 * learn_join_promised_position()),
 * then keeps a reader open past them. Returns 0 (also when a stop was
 * requested on the way: the caller sees it), or RIFFLE_ERR_KAFKA /
 * RIFFLE_ERR_NOMEM with errstr. */
int learn_join_new(const struct cfg *cfg, struct online_learner *ol,
                   const struct snapshot_offset *snap, size_t n,
                   struct learn_join **out, char *errstr, size_t errstr_size);

void learn_join_destroy(struct learn_join *j); /* NULL-safe */

/* Whether an event stamped ts_ms must wait for a synchronisation: it is
 * not older than the last one. */
int learn_join_due(const struct learn_join *j, int64_t ts_ms);

/* Applies to ol every record of the join topic up to the end offsets
 * its partitions' leaders give now. bad sees the unusable records of
 * owned partitions that follow the checked position; NULL when dead
 * letters cannot be published now (exactly once, outside a
 * transaction): those are then left for learn_join_check(). Returns 0 or
 * an error with errstr (a partition that does not reach its end for a
 * long time is one). */
int learn_join_sync(struct learn_join *j, struct online_learner *ol,
                    learn_join_bad_fn bad, void *opaque, char *errstr,
                    size_t errstr_size);

/* Appends the join topic's positions (the next offset of each partition
 * not yet applied) to out, from out[*n] up to out[max - 1]. */
void learn_join_positions(const struct learn_join *j,
                          struct snapshot_offset *out, size_t max,
                          size_t *n);

const struct learn_join_stats *learn_join_stats(const struct learn_join *j);

/* How many partitions the join topic has. */
int learn_join_partition_count(const struct learn_join *j);

/* The input partition whose owner dead-letters join partition q, with
 * input_partitions (> 0) partitions in the input topic. */
int learn_join_owner_partition(int q, int input_partitions);

/* Makes this instance the owner of join partition q, whose records are
 * checked from offset from on (the group's committed offset; -1 when
 * none was ever committed: from the partition's beginning). */
void learn_join_own(struct learn_join *j, int q, int64_t from);

/* Join partition q's position in the snapshot the table was rebuilt
 * from (the next offset it had not applied), or -1 when it had none. */
int64_t learn_join_restored_position(const struct learn_join *j, int q);

/* How far join partition q is known to be checked (every unusable
 * record below it dead-lettered, its dead letters committed or
 * acknowledged before any snapshot that records it): the snapshot's
 * join_checked position, what this instance checked while it owned q,
 * or a committed position of q it read, the furthest; -1 when none is
 * known. */
int64_t learn_join_promised_position(const struct learn_join *j, int q);

/* Appends those known positions (learn_join_promised_position()), with
 * `checked` set, to out, from out[*n] up to out[max - 1]: what a
 * snapshot records as its join_checked. */
void learn_join_checked_positions_known(const struct learn_join *j,
                                        struct snapshot_offset *out,
                                        size_t max, size_t *n);

/* Takes note of the group's committed position of join partition q,
 * read while another instance owns it. */
void learn_join_note_committed(struct learn_join *j, int q, int64_t offset);

/* Whether this instance owns a join partition. */
int learn_join_owns(const struct learn_join *j);

/* Whether it owns join partition q. */
int learn_join_owns_partition(const struct learn_join *j, int q);

/* Gives up every owned partition (they are being revoked). */
void learn_join_disown(struct learn_join *j);

/* Whether an owned partition holds applied records not yet checked. */
int learn_join_behind(const struct learn_join *j);

/* Reads those records again (a reader of their own), without applying
 * them, and hands the unusable ones to bad. Returns 0 (also when a stop
 * was requested: what was not read stays unchecked) or an error with
 * errstr. */
int learn_join_check(struct learn_join *j, struct online_learner *ol,
                     learn_join_bad_fn bad, void *opaque, char *errstr,
                     size_t errstr_size);

/* For an owner whose events are idle, or about to stop: asks the join
 * partitions' leaders for their ends (read_committed) and sets
 * *unchecked when an owned partition holds records, applied or not,
 * past its checked position. Nothing else reads those before the
 * owner's next event, which may come only in its next run. Asks nothing
 * when no partition is owned. Returns 0 or RIFFLE_ERR_KAFKA with
 * errstr. */
int learn_join_look_ends(struct learn_join *j, int *unchecked,
                         char *errstr, size_t errstr_size);

/* Checks them as learn_join_check() does, each owned partition up to the
 * end the last learn_join_look_ends() found, without applying them;
 * a synchronisation that applies them later leaves them alone. stop
 * (may be NULL: the read is bounded by those ends) cuts the read short,
 * leaving the rest unchecked. Returns 0 or an error with errstr. */
int learn_join_check_ends(struct learn_join *j, struct online_learner *ol,
                          learn_join_bad_fn bad, void *opaque,
                          const volatile sig_atomic_t *stop, char *errstr,
                          size_t errstr_size);

/* Adds the checked position of every owned partition to list, the
 * offsets to commit for the group. */
void learn_join_add_checked(const struct learn_join *j,
                            rd_kafka_topic_partition_list_t *list);

/* The same into out, from out[*n] up to out[max - 1]. */
void learn_join_checked_positions(const struct learn_join *j,
                                  struct snapshot_offset *out, size_t max,
                                  size_t *n);

#endif
