/*
 * common/txn_outcome.h - what became of a transaction whose commit went
 * unanswered: the group's committed offsets decide.
 *
 * `riffle learn` and `riffle serve` replace their Kafka clients when one
 * fails for good (fenced, fatal). A transaction open at that moment may
 * have committed after all: the commit reached the coordinator, and its
 * answer was lost before the producer was fenced. Its outputs are then
 * visible, and its input offsets committed with them, atomically. So
 * once the new producer has registered the transactional id (which ends
 * whatever the old one left open), the group's committed offsets tell:
 * at the batch's end positions, it committed; short of them, it did not.
 * Pure: the caller reads the offsets (rd_kafka_committed()) and keeps
 * the counts. Used on the caller's thread.
 */
#ifndef RIFFLE_COMMON_TXN_OUTCOME_H
#define RIFFLE_COMMON_TXN_OUTCOME_H

#include <librdkafka/rdkafka.h>

enum txn_outcome {
    TXN_OUTCOME_UNKNOWN = 0, /* the offsets do not tell */
    TXN_OUTCOME_COMMITTED,
    TXN_OUTCOME_ABORTED
};

/* Decides from three lists of (topic, partition, offset), all borrowed:
 *   start      where the batch began in each partition: the offset
 *              committed before it, or that of its first message there
 *              (a partition absent, or at a negative offset, is one
 *              whose start is not known);
 *   end        the offsets the batch's transaction carried, with the
 *              metadata (claims) it carried;
 *   committed  the group's committed offsets read afterwards, with
 *              their metadata, of the partitions of end
 *              (RD_KAFKA_OFFSET_INVALID: none; an element with err set,
 *              or absent, could not be read).
 * A partition committed short of its end position says ABORTED:
 * committed offsets only move forward, so a batch that committed left
 * them at its end or beyond (beyond: the partition moved to another
 * member, which committed more). Else a partition that the batch
 * advanced (start < end) and whose committed offset is exactly its end,
 * with the metadata the batch sent there, says COMMITTED. A partition
 * the batch did not advance says nothing (it stands at its end either
 * way), nor does one committed beyond its end, nor one committed at its
 * end with other metadata: a member that took the partition over after
 * an abort and committed up to the same end (the log's end, when the
 * stream is idle) writes its own claim there. UNKNOWN when nothing
 * speaks, or end is NULL or empty. Claims are the learner's with
 * --instance (consumers/handover.h) and, in `riffle serve`, the
 * replica's transactional id. Without claims (learn without --instance)
 * such a member's commit cannot be told from the batch's own and would
 * read as COMMITTED when no partition of ours says otherwise. */
enum txn_outcome txn_outcome_decide(
    const rd_kafka_topic_partition_list_t *start,
    const rd_kafka_topic_partition_list_t *end,
    const rd_kafka_topic_partition_list_t *committed);

/* "committed", "aborted" or "unknown". Static storage. */
const char *txn_outcome_name(enum txn_outcome outcome);

#endif
