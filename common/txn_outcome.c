/*
 * common/txn_outcome.c - what became of a transaction whose commit went
 * unanswered, see txn_outcome.h.
 */
#include "common/txn_outcome.h"

#include <stddef.h>
#include <string.h>

/* The offset of topic's partition in list, or -1 when it is absent, has
 * an error, or is not a real offset. */
static int64_t offset_in(const rd_kafka_topic_partition_list_t *list,
                         const char *topic, int32_t partition)
{
    const rd_kafka_topic_partition_t *tp;

    if (!list)
        return -1;
    /* find() does not change the list; its parameter is not const */
    tp = rd_kafka_topic_partition_list_find(
        (rd_kafka_topic_partition_list_t *)list, topic, partition);
    if (!tp || tp->err || tp->offset < 0)
        return -1;
    return tp->offset;
}

/* Whether the committed list could be read for this partition: an
 * element with an error, or none, says nothing. */
static int readable(const rd_kafka_topic_partition_list_t *committed,
                    const char *topic, int32_t partition)
{
    const rd_kafka_topic_partition_t *tp;

    if (!committed)
        return 0;
    tp = rd_kafka_topic_partition_list_find(
        (rd_kafka_topic_partition_list_t *)committed, topic, partition);
    return tp && !tp->err;
}

/* Whether the committed element of sent's partition carries the
 * metadata sent with it (both may have none): a commit of this
 * transaction does, while another member's commit at the same offset
 * carries that member's claim (consumers/handover.h). */
static int same_metadata(const rd_kafka_topic_partition_t *sent,
                         const rd_kafka_topic_partition_list_t *committed)
{
    const rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(
            (rd_kafka_topic_partition_list_t *)committed, sent->topic,
            sent->partition);

    if (!tp || tp->metadata_size != sent->metadata_size)
        return 0;
    return sent->metadata_size == 0 ||
           memcmp(tp->metadata, sent->metadata, sent->metadata_size) == 0;
}

enum txn_outcome txn_outcome_decide(
    const rd_kafka_topic_partition_list_t *start,
    const rd_kafka_topic_partition_list_t *end,
    const rd_kafka_topic_partition_list_t *committed)
{
    int committed_votes = 0;
    int i;

    if (!end)
        return TXN_OUTCOME_UNKNOWN;

    for (i = 0; i < end->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &end->elems[i];
        int64_t began, now;

        if (e->offset < 0 || !readable(committed, e->topic, e->partition))
            continue;
        now = offset_in(committed, e->topic, e->partition);
        if (now < e->offset)
            return TXN_OUTCOME_ABORTED; /* -1: nothing committed at all */
        began = offset_in(start, e->topic, e->partition);
        if (now == e->offset && began >= 0 && began < e->offset &&
            same_metadata(e, committed))
            committed_votes++;
    }
    return committed_votes > 0 ? TXN_OUTCOME_COMMITTED : TXN_OUTCOME_UNKNOWN;
}

const char *txn_outcome_name(enum txn_outcome outcome)
{
    switch (outcome) {
    case TXN_OUTCOME_COMMITTED:
        return "committed";
    case TXN_OUTCOME_ABORTED:
        return "aborted";
    case TXN_OUTCOME_UNKNOWN:
        break;
    }
    return "unknown";
}
