/*
 * tests/unit/test_txn_outcome.c - what became of a transaction whose
 * commit went unanswered (common/txn_outcome.c), decided from the
 * group's committed offsets: at the batch's end, before it, over several
 * partitions of which some did not move, and with partitions that moved
 * to another member meanwhile, which the claims in the offsets'
 * metadata tell apart. No broker: the lists are built here.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka.h>

#include "common/kafka.h"
#include "common/txn_outcome.h"

#define TOPIC "riffle.elec2.events"
#define LABELS "riffle.elec2.labels"

/* A list of n (topic, partition, offset) triples; offsets[i] < -1000
 * stands for an element whose offset could not be read. */
static rd_kafka_topic_partition_list_t *
list_of(const char *const *topics, const int32_t *parts,
        const int64_t *offsets, int n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int i;

    for (i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(l, topics[i], parts[i]);

        tp->offset = offsets[i];
        if (offsets[i] < -1000 && offsets[i] != RD_KAFKA_OFFSET_INVALID)
            tp->err = RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    return l;
}

/* The outcome for one topic's partitions 0..n-1 at the given offsets. */
static enum txn_outcome decide(const int64_t *start, const int64_t *end,
                               const int64_t *committed, int n)
{
    const char *topics[] = {TOPIC, TOPIC, TOPIC, TOPIC};
    const int32_t parts[] = {0, 1, 2, 3};
    rd_kafka_topic_partition_list_t *s = list_of(topics, parts, start, n);
    rd_kafka_topic_partition_list_t *e = list_of(topics, parts, end, n);
    rd_kafka_topic_partition_list_t *c = list_of(topics, parts, committed, n);
    enum txn_outcome o = txn_outcome_decide(s, e, c);

    rd_kafka_topic_partition_list_destroy(s);
    rd_kafka_topic_partition_list_destroy(e);
    rd_kafka_topic_partition_list_destroy(c);
    return o;
}

static void test_txn_outcome_committed_at_batch_end(void **state)
{
    const int64_t start[] = {1200}, end[] = {1700}, committed[] = {1700};

    (void)state;
    assert_int_equal(decide(start, end, committed, 1), TXN_OUTCOME_COMMITTED);
    assert_string_equal(txn_outcome_name(TXN_OUTCOME_COMMITTED), "committed");
}

static void test_txn_outcome_aborted_at_batch_start(void **state)
{
    const int64_t start[] = {1200}, end[] = {1700}, committed[] = {1200};

    (void)state;
    assert_int_equal(decide(start, end, committed, 1), TXN_OUTCOME_ABORTED);
    assert_string_equal(txn_outcome_name(TXN_OUTCOME_ABORTED), "aborted");
}

/* The first batch of a partition: nothing was committed before it, and
 * nothing is now (RD_KAFKA_OFFSET_INVALID). Its start is unknown, so a
 * commit could not be told from a partition the batch never moved. */
static void test_txn_outcome_first_batch(void **state)
{
    const int64_t start[] = {-1}, end[] = {300};
    const int64_t none[] = {RD_KAFKA_OFFSET_INVALID}, at_end[] = {300};

    (void)state;
    assert_int_equal(decide(start, end, none, 1), TXN_OUTCOME_ABORTED);
    assert_int_equal(decide(start, end, at_end, 1), TXN_OUTCOME_UNKNOWN);
}

/* Several partitions, of which the batch moved only some: those it did
 * not move stand at their end either way and say nothing. */
static void test_txn_outcome_partial_over_partitions(void **state)
{
    const int64_t start[] = {100, 250, 400, 75};
    const int64_t end[] = {180, 250, 400, 90};
    const int64_t all[] = {180, 250, 400, 90};
    const int64_t none[] = {100, 250, 400, 75};
    const int64_t still[] = {100, 250, 400, 75};

    (void)state;
    assert_int_equal(decide(start, end, all, 4), TXN_OUTCOME_COMMITTED);
    assert_int_equal(decide(start, end, none, 4), TXN_OUTCOME_ABORTED);

    /* a batch that moved no partition (a snapshot or a merge alone) */
    assert_int_equal(decide(still, still, still, 4), TXN_OUTCOME_UNKNOWN);
}

/* Offsets commit atomically: one partition short of its end means the
 * transaction did not commit, whatever another says (here one committed
 * to its end by chance, by a member that took it over). */
static void test_txn_outcome_one_short_is_aborted(void **state)
{
    const int64_t start[] = {100, 200}, end[] = {180, 260};
    const int64_t committed[] = {180, 200};

    (void)state;
    assert_int_equal(decide(start, end, committed, 2), TXN_OUTCOME_ABORTED);
}

/* Partitions lost to a rebalance meanwhile: their new owner committed
 * past the batch's end, which says nothing of this transaction; a
 * partition still ours decides, and when none is left, nothing does. */
static void test_txn_outcome_partitions_lost_to_a_rebalance(void **state)
{
    const int64_t start[] = {100, 200, 300}, end[] = {180, 260, 390};
    const int64_t lost_one_ok[] = {180, 900, 390};
    const int64_t lost_one_bad[] = {100, 900, 300};
    const int64_t lost_all[] = {700, 900, 950};

    (void)state;
    assert_int_equal(decide(start, end, lost_one_ok, 3),
                     TXN_OUTCOME_COMMITTED);
    assert_int_equal(decide(start, end, lost_one_bad, 3),
                     TXN_OUTCOME_ABORTED);
    assert_int_equal(decide(start, end, lost_all, 3), TXN_OUTCOME_UNKNOWN);
    assert_string_equal(txn_outcome_name(TXN_OUTCOME_UNKNOWN), "unknown");
}

/* An offset that could not be read says nothing; the others decide. */
static void test_txn_outcome_unreadable_partition(void **state)
{
    const int64_t start[] = {100, 200}, end[] = {180, 260};
    const int64_t one_unreadable[] = {-1002, 260};
    const int64_t both_unreadable[] = {-1002, -1002};

    (void)state;
    assert_int_equal(decide(start, end, one_unreadable, 2),
                     TXN_OUTCOME_COMMITTED);
    assert_int_equal(decide(start, end, both_unreadable, 2),
                     TXN_OUTCOME_UNKNOWN);
}

/* Partitions of several topics (input and labels) are told apart by
 * topic, and a partition absent from the committed list says nothing. */
static void test_txn_outcome_several_topics(void **state)
{
    const char *topics[] = {TOPIC, LABELS};
    const int32_t parts[] = {0, 0};
    const int64_t start_off[] = {100, 40}, end_off[] = {100, 55};
    const int64_t committed_off[] = {100, 55};
    rd_kafka_topic_partition_list_t *s = list_of(topics, parts, start_off, 2);
    rd_kafka_topic_partition_list_t *e = list_of(topics, parts, end_off, 2);
    rd_kafka_topic_partition_list_t *c =
        list_of(topics, parts, committed_off, 2);
    rd_kafka_topic_partition_list_t *only_input =
        list_of(topics, parts, committed_off, 1);

    (void)state;
    assert_int_equal(txn_outcome_decide(s, e, c), TXN_OUTCOME_COMMITTED);
    assert_int_equal(txn_outcome_decide(s, e, only_input),
                     TXN_OUTCOME_UNKNOWN);
    assert_int_equal(txn_outcome_decide(s, e, NULL), TXN_OUTCOME_UNKNOWN);
    assert_int_equal(txn_outcome_decide(s, NULL, c), TXN_OUTCOME_UNKNOWN);
    assert_int_equal(txn_outcome_decide(NULL, e, c), TXN_OUTCOME_UNKNOWN);
    rd_kafka_topic_partition_list_destroy(s);
    rd_kafka_topic_partition_list_destroy(e);
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_topic_partition_list_destroy(only_input);
}

/* Sets the metadata of list's first element to text (a claim). */
static void set_claim(rd_kafka_topic_partition_list_t *list,
                      const char *text)
{
    rd_kafka_topic_partition_t *tp = &list->elems[0];

    free(tp->metadata);
    tp->metadata_size = strlen(text);
    tp->metadata = malloc(tp->metadata_size);
    assert_non_null(tp->metadata);
    memcpy(tp->metadata, text, tp->metadata_size);
}

/* The batch aborted, and the partition moved to another instance, which
 * relearned it up to the same end (the log's end: the stream was idle)
 * and committed there with its own claim: that commit is not the
 * batch's, and must not make it count. With the claim the batch sent,
 * the commit is the batch's own. */
static void test_txn_outcome_other_member_at_same_end(void **state)
{
    const char *topics[] = {TOPIC};
    const int32_t parts[] = {0};
    const int64_t start_off[] = {100}, end_off[] = {180};
    rd_kafka_topic_partition_list_t *s = list_of(topics, parts, start_off, 1);
    rd_kafka_topic_partition_list_t *e = list_of(topics, parts, end_off, 1);
    rd_kafka_topic_partition_list_t *c = list_of(topics, parts, end_off, 1);
    rd_kafka_topic_partition_list_t *sent;

    (void)state;
    set_claim(e, "a 100 -1");
    sent = kafka_offsets_copy(e, 1); /* as the publisher keeps it */
    set_claim(c, "b 100 -1");
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_UNKNOWN);

    set_claim(c, "a 100 -1");
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_COMMITTED);

    /* a commit without claims after one with them is another's too */
    free(c->elems[0].metadata);
    c->elems[0].metadata = NULL;
    c->elems[0].metadata_size = 0;
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_UNKNOWN);
    rd_kafka_topic_partition_list_destroy(s);
    rd_kafka_topic_partition_list_destroy(e);
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_topic_partition_list_destroy(sent);
}

/* The copy keeps the metadata only when asked: the list a committed
 * offset is read into goes without it. */
static void test_txn_outcome_copy_keeps_claims(void **state)
{
    const char *topics[] = {TOPIC, LABELS};
    const int32_t parts[] = {3, 0};
    const int64_t off[] = {1700, 55};
    rd_kafka_topic_partition_list_t *e = list_of(topics, parts, off, 2);
    rd_kafka_topic_partition_list_t *with, *without;

    (void)state;
    set_claim(e, "a 100 -1");
    with = kafka_offsets_copy(e, 1);
    without = kafka_offsets_copy(e, 0);
    assert_int_equal(with->cnt, 2);
    assert_string_equal(with->elems[1].topic, LABELS);
    assert_int_equal(with->elems[0].partition, 3);
    assert_int_equal(with->elems[0].offset, 1700);
    assert_int_equal(with->elems[1].offset, 55);
    assert_int_equal(with->elems[0].metadata_size, 8);
    assert_memory_equal(with->elems[0].metadata, "a 100 -1", 8);
    assert_int_equal(with->elems[1].metadata_size, 0);
    assert_int_equal(without->cnt, 2);
    assert_int_equal(without->elems[0].offset, 1700);
    assert_null(without->elems[0].metadata);
    assert_int_equal(without->elems[0].metadata_size, 0);
    rd_kafka_topic_partition_list_destroy(e);
    rd_kafka_topic_partition_list_destroy(with);
    rd_kafka_topic_partition_list_destroy(without);
}

/* riffle serve: replica a's transaction aborted, replica b took both
 * partitions over and answered up to the same ends (the requests had
 * stopped). Every offset a's commit carried names a, b's commit names
 * b: b's commit must not count as a's, and a's own does. The claims are
 * set as serving/replica.c sets them, on every partition. */
static void test_txn_outcome_serve_replica_claims(void **state)
{
    const char *topics[] = {TOPIC, TOPIC};
    const int32_t parts[] = {0, 1};
    const int64_t start_off[] = {300, 290}, end_off[] = {360, 351};
    rd_kafka_topic_partition_list_t *s = list_of(topics, parts, start_off, 2);
    rd_kafka_topic_partition_list_t *e = list_of(topics, parts, end_off, 2);
    rd_kafka_topic_partition_list_t *c = list_of(topics, parts, end_off, 2);
    rd_kafka_topic_partition_list_t *sent;

    (void)state;
    /* without claims (serve before them), b's commit read as a's */
    assert_int_equal(txn_outcome_decide(s, e, c), TXN_OUTCOME_COMMITTED);

    assert_int_equal(kafka_offsets_claim(e, "g-serve-a"), 0);
    assert_int_equal(e->elems[1].metadata_size, strlen("g-serve-a"));
    assert_memory_equal(e->elems[1].metadata, "g-serve-a", strlen("g-serve-a"));
    sent = kafka_offsets_copy(e, 1); /* as the publisher keeps it */

    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_UNKNOWN);
    assert_int_equal(kafka_offsets_claim(c, "g-serve-b"), 0);
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_UNKNOWN);

    /* a claim is replaced, not appended to */
    assert_int_equal(kafka_offsets_claim(c, "g-serve-a"), 0);
    assert_int_equal(c->elems[0].metadata_size, strlen("g-serve-a"));
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_COMMITTED);

    /* a's id as a prefix of another replica's is still another's */
    assert_int_equal(kafka_offsets_claim(c, "g-serve-ab"), 0);
    assert_int_equal(txn_outcome_decide(s, sent, c), TXN_OUTCOME_UNKNOWN);
    rd_kafka_topic_partition_list_destroy(s);
    rd_kafka_topic_partition_list_destroy(e);
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_topic_partition_list_destroy(sent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_outcome_committed_at_batch_end),
        cmocka_unit_test(test_txn_outcome_aborted_at_batch_start),
        cmocka_unit_test(test_txn_outcome_first_batch),
        cmocka_unit_test(test_txn_outcome_partial_over_partitions),
        cmocka_unit_test(test_txn_outcome_one_short_is_aborted),
        cmocka_unit_test(test_txn_outcome_partitions_lost_to_a_rebalance),
        cmocka_unit_test(test_txn_outcome_unreadable_partition),
        cmocka_unit_test(test_txn_outcome_several_topics),
        cmocka_unit_test(test_txn_outcome_other_member_at_same_end),
        cmocka_unit_test(test_txn_outcome_copy_keeps_claims),
        cmocka_unit_test(test_txn_outcome_serve_replica_claims),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
