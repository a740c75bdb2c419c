/*
 * tests/unit/test_topic_reader_refill.c - a refilling topic reader
 * (topic_reader_set_refill()), against librdkafka's mock cluster: a read
 * of a topic bigger than librdkafka's consumer queue (queued.min.messages,
 * 100,000 messages) stops its fetchers at the threshold, and waking them
 * when the read runs dry must neither lose, repeat nor reorder a message,
 * and must end at the partitions' ends. The join table's rebuild reads so
 * (cli/learn_join.c). Whether a wake-up happened depends on how fast the
 * test takes messages, so it is not asserted; what is read is. An alarm
 * turns a hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/err.h"
#include "consumers/topic_reader.h"

#define TEST_TOPIC "riffle.test.profiles"
#define TEST_PARTITIONS 2
/* Past the queue's threshold, so that the fetchers stop on the way. */
#define TEST_MESSAGES 130000
#define TEST_POLL_MS 100
#define TEST_ALARM_S 600 /* valgrind included */

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    char errstr[512];
};

/* Produces message i (its number as its value) to partition i mod
 * TEST_PARTITIONS, so that each partition's values rise by
 * TEST_PARTITIONS from its own number. */
static void produce_numbers(rd_kafka_mock_cluster_t *mcluster)
{
    rd_kafka_t *rk = mock_client_new(mcluster, RD_KAFKA_PRODUCER, NULL);
    char value[32];
    int i;

    for (i = 0; i < TEST_MESSAGES; i++) {
        int len = snprintf(value, sizeof(value), "%d", i);
        rd_kafka_resp_err_t err;

        while ((err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(TEST_TOPIC),
                    RD_KAFKA_V_PARTITION(i % TEST_PARTITIONS),
                    RD_KAFKA_V_VALUE(value, (size_t)len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC,
                                    TEST_PARTITIONS, MOCK_CLUSTER_ANY_LEADER);
    produce_numbers(fx->mcluster);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    mock_cluster_destroy(fx->mcluster, fx->host);
    free(fx);
    return 0;
}

/* What a read took: per partition, the next value and offset expected. */
struct numbers_read {
    long next_value[TEST_PARTITIONS];
    int64_t next_offset[TEST_PARTITIONS];
    long taken;
    int bad; /* a message out of place: lost, repeated or reordered */
};

static int take_number(void *opaque, const rd_kafka_message_t *msg,
                       char *errstr, size_t errstr_size)
{
    struct numbers_read *nr = opaque;
    char text[32];
    int p = msg->partition;

    (void)errstr;
    (void)errstr_size;
    if (msg->err)
        return 0;
    /* The first message waits, so that the fetchers fill the queue to
     * its threshold and stop there. */
    if (nr->taken++ == 0)
        (void)usleep(300 * 1000);
    snprintf(text, sizeof(text), "%.*s", (int)msg->len,
             (const char *)msg->payload);
    if (p < 0 || p >= TEST_PARTITIONS || msg->offset != nr->next_offset[p] ||
        strtol(text, NULL, 10) != nr->next_value[p]) {
        nr->bad = 1;
        return RIFFLE_ERR_KAFKA;
    }
    nr->next_offset[p]++;
    nr->next_value[p] += TEST_PARTITIONS;
    return 0;
}

/* Every message once, in order, and the read ends at the ends. */
static void test_topic_reader_refill_reads_all(void **state)
{
    struct fixture *fx = *state;
    struct topic_reader *r = NULL;
    struct numbers_read nr = {{0}, {0}, 0, 0};
    int p;

    for (p = 0; p < TEST_PARTITIONS; p++)
        nr.next_value[p] = p;
    assert_int_equal(topic_reader_new(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, 1, &r, fx->errstr, sizeof(fx->errstr)),
                     0);
    topic_reader_set_refill(r, 1);

    assert_int_equal(topic_reader_read(r, TEST_TOPIC, TEST_POLL_MS, NULL,
                                       take_number, &nr, NULL, fx->errstr,
                                       sizeof(fx->errstr)),
                     0);
    assert_int_equal(nr.bad, 0);
    assert_int_equal(nr.taken, TEST_MESSAGES);
    for (p = 0; p < TEST_PARTITIONS; p++) {
        assert_int_equal(nr.next_offset[p], TEST_MESSAGES / TEST_PARTITIONS);
        assert_int_equal(topic_reader_end_offset(r, p),
                         TEST_MESSAGES / TEST_PARTITIONS);
    }
    print_message("fetchers woken %llu time(s)\n",
                  (unsigned long long)topic_reader_wakeups(r));
    topic_reader_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_reader_refill_reads_all,
                                        setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
