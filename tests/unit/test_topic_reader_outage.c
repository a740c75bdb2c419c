/*
 * tests/unit/test_topic_reader_outage.c - the group-less topic reader
 * (consumers/topic_reader.c), against librdkafka's mock cluster, when
 * the leader of the topic's partition is down while another broker
 * still answers metadata. Finding the newest snapshot (restore at
 * start-up, `riffle status`, the join rebuild) asked the partition's
 * offsets with rd_kafka_query_watermark_offsets(), which in librdkafka
 * 2.0.2 waits without limit for a leader that is down: the start hung
 * for the whole outage. It must now fail, within the reader's bounded
 * retries, naming the partition and saying the brokers do not answer.
 * An alarm turns a hang into a failure.
 *
 * With a stop flag set (kafka_set_stop(), as `riffle learn` and `riffle
 * serve` do) a stop requested meanwhile ends the search instead, as a
 * stop and not a failure (RIFFLE_ERR_STOPPED): a learner stopped at
 * start-up exits saying what it did not do, and never mistakes the end
 * of the search for "no snapshot".
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "consumers/topic_reader.h"

#define TEST_TOPIC "riffle.test.models"
#define TEST_KEY "model-a"
#define TEST_LEADER 2 /* of brokers 1 and 2: 1 keeps answering metadata */
/* The whole program's bound, SIGALRM ending it: the reader retries a
 * transient error for KAFKA_TRANSIENT_WAIT_MS, then asks once more for
 * TOPIC_READER_METADATA_TIMEOUT_MS; more under valgrind. */
#define TEST_ALARM_S 300

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    char errstr[512];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 2, TEST_TOPIC, 1,
                                    TEST_LEADER);
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

/* Up: an empty topic holds no snapshot, and saying so is no error. */
static void test_topic_reader_latest_leader_up(void **state)
{
    struct fixture *fx = *state;
    struct buf out[1] = {{0}};
    size_t found = 1;

    assert_int_equal(topic_reader_latest_by_key(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, TEST_KEY, out, 1, &found, fx->errstr,
                         sizeof(fx->errstr)),
                     0);
    assert_int_equal(found, 0);
}

/* The leader down: the search ends with an error naming the partition,
 * instead of waiting for the leader to come back. */
static void test_topic_reader_latest_leader_down(void **state)
{
    struct fixture *fx = *state;
    struct buf out[1] = {{0}};
    size_t found = 1;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                   TEST_LEADER),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(topic_reader_latest_by_key(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, TEST_KEY, out, 1, &found, fx->errstr,
                         sizeof(fx->errstr)),
                     RIFFLE_ERR_KAFKA);
    assert_int_equal(found, 0);
    assert_contains(fx->errstr, "the brokers do not answer within 10 s");
    assert_contains(fx->errstr, TEST_TOPIC " [0]");
}

/* The leader down and a stop requested: the retries of the offsets'
 * ask end at the stop. */
static void test_topic_reader_latest_stopped_leader_down(void **state)
{
    struct fixture *fx = *state;
    volatile sig_atomic_t stop = 1;
    struct buf out[1] = {{0}};
    size_t found = 1;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                   TEST_LEADER),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    kafka_set_stop(&stop);
    assert_int_equal(topic_reader_latest_by_key(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, TEST_KEY, out, 1, &found, fx->errstr,
                         sizeof(fx->errstr)),
                     RIFFLE_ERR_STOPPED);
    kafka_set_stop(NULL);
    assert_int_equal(found, 0);
    assert_contains(fx->errstr, "read topic " TEST_TOPIC " before the stop");
}

/* Every broker down and a stop requested: the metadata ask ends at the
 * stop, once past common/broker_wait.h's grace. */
static void test_topic_reader_latest_stopped_all_down(void **state)
{
    struct fixture *fx = *state;
    volatile sig_atomic_t stop = 1;
    struct buf out[1] = {{0}};
    size_t found = 1;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                   TEST_LEADER),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    kafka_set_stop(&stop);
    assert_int_equal(topic_reader_latest_by_key(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, TEST_KEY, out, 1, &found, fx->errstr,
                         sizeof(fx->errstr)),
                     RIFFLE_ERR_STOPPED);
    kafka_set_stop(NULL);
    assert_int_equal(found, 0);
    assert_contains(fx->errstr, "did not answer in time to give the "
                                "partitions of topic " TEST_TOPIC
                                " before the stop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_reader_latest_leader_up,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_reader_latest_leader_down,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_topic_reader_latest_stopped_leader_down, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_topic_reader_latest_stopped_all_down, setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
