/*
 * tests/unit/test_kafka_offsets.c - the one bounded ask for partition
 * offsets (kafka_query_offsets(), kafka_query_watermarks() in
 * common/kafka.c), against librdkafka's mock cluster: the first offsets
 * and ends with the leader up, and with the leader down an error within
 * the timeout that names the topic and partition. The ask it replaces,
 * rd_kafka_query_watermark_offsets() in librdkafka 2.0.2, waited without
 * limit for a leader that is down; an alarm turns a hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"

#define TEST_TOPIC "riffle.test.offsets"
#define TEST_PARTITIONS 2
#define TEST_LEADER 2        /* of brokers 1 and 2 */
#define TEST_MESSAGES 3      /* produced to partition 1 */
#define TEST_UP_ASK_MS 10000 /* a broker that is up answers well before */
#define TEST_DOWN_ASK_MS 1000 /* short: the leader is down on purpose */
#define TEST_ALARM_S 120     /* a few seconds are needed, more under valgrind */

/* TEST_MESSAGES messages into partition 1, acknowledged. */
static void produce_some(struct mock_fixture *fx)
{
    rd_kafka_t *producer =
        mock_client_new(fx->mcluster, RD_KAFKA_PRODUCER, NULL);
    int i;

    for (i = 0; i < TEST_MESSAGES; i++)
        assert_int_equal(rd_kafka_producev(producer,
                                           RD_KAFKA_V_TOPIC(TEST_TOPIC),
                                           RD_KAFKA_V_PARTITION(1),
                                           RD_KAFKA_V_VALUE("v", 1),
                                           RD_KAFKA_V_MSGFLAGS(
                                               RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(producer, TEST_UP_ASK_MS),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
}

static int setup(void **state)
{
    struct mock_fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    mock_fixture_open(fx, 2, TEST_TOPIC, TEST_PARTITIONS, TEST_LEADER, RD_KAFKA_CONSUMER);
    produce_some(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    mock_fixture_close(*state);
    free(*state);
    return 0;
}

/* Up: partition 0 is empty, partition 1 holds offsets 0..2. */
static void test_kafka_query_watermarks_up(void **state)
{
    struct mock_fixture *fx = *state;
    int64_t low[TEST_PARTITIONS] = {-9, -9}, high[TEST_PARTITIONS] = {-9, -9};

    assert_int_equal(kafka_query_watermarks(fx->client, TEST_TOPIC,
                                            TEST_PARTITIONS, low, high,
                                            TEST_UP_ASK_MS, fx->errstr,
                                            sizeof(fx->errstr)),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(low[0], 0);
    assert_int_equal(high[0], 0);
    assert_int_equal(low[1], 0);
    assert_int_equal(high[1], TEST_MESSAGES);

    /* the ends alone: the first offsets are not asked for */
    high[1] = -9;
    assert_int_equal(kafka_query_watermarks(fx->client, TEST_TOPIC,
                                            TEST_PARTITIONS, NULL, high,
                                            TEST_UP_ASK_MS, fx->errstr,
                                            sizeof(fx->errstr)),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(high[1], TEST_MESSAGES);
}

/* Down: both asks come back with a transient error whose text names the
 * topic and partition and the bound; up again, the answer is as before. */
static void test_kafka_query_offsets_leader_down(void **state)
{
    struct mock_fixture *fx = *state;
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);
    int64_t high[TEST_PARTITIONS] = {-9, -9};
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(list, TEST_TOPIC, 1)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                   TEST_LEADER),
                     RD_KAFKA_RESP_ERR_NO_ERROR);

    err = kafka_query_offsets(fx->client, list, TEST_DOWN_ASK_MS, fx->errstr,
                              sizeof(fx->errstr));
    assert_int_not_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_true(kafka_err_is_transient(err));
    assert_contains(fx->errstr, "the brokers do not answer within 1 s for the "
                                "first offset of " TEST_TOPIC " [1]");

    fx->errstr[0] = '\0';
    err = kafka_query_watermarks(fx->client, TEST_TOPIC, TEST_PARTITIONS,
                                 NULL, high, TEST_DOWN_ASK_MS, fx->errstr,
                                 sizeof(fx->errstr));
    assert_true(kafka_err_is_transient(err));
    assert_contains(fx->errstr, "the brokers do not answer within 1 s for the "
                                "end of " TEST_TOPIC " [");

    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, TEST_LEADER),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(kafka_query_watermarks(fx->client, TEST_TOPIC,
                                            TEST_PARTITIONS, NULL, high,
                                            TEST_UP_ASK_MS, fx->errstr,
                                            sizeof(fx->errstr)),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(high[1], TEST_MESSAGES);
    rd_kafka_topic_partition_list_destroy(list);
}

/* No broker answers: the error names the brokers asked, the topic and
 * the bound, and where the brokers are set, rather than only librdkafka's
 * "Local: Broker transport failure". */
static void test_kafka_topic_partitions_names_the_brokers(void **state)
{
    struct mock_fixture *fx = *state;
    char want[600];
    int count = -1;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(kafka_topic_partitions(fx->client, "riffle.test.other",
                                            TEST_DOWN_ASK_MS, 0, &count,
                                            fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_KAFKA);
    snprintf(want, sizeof(want), "cannot reach the brokers (%s) for topic "
             "riffle.test.other within 1 s: ",
             rd_kafka_mock_cluster_bootstraps(fx->mcluster));
    assert_contains(fx->errstr, want);
    assert_contains(fx->errstr, "; is a broker running there? kafka.brokers "
                                "or --brokers HOST:PORT names it");
    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kafka_query_watermarks_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_kafka_topic_partitions_names_the_brokers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_query_offsets_leader_down,
                                        setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
