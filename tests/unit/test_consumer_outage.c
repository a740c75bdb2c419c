/*
 * tests/unit/test_consumer_outage.c - what the group consumer
 * (consumers/consumer.c) answers, against librdkafka's mock cluster,
 * when `riffle learn --idle-exit` asks the brokers whether it is caught
 * up, with the broker up and then down. Down, the ask used to wait for
 * the broker without limit (rd_kafka_query_watermark_offsets() in
 * librdkafka 2.0.2), so an idle learner hung for a whole outage; here it
 * must come back with "the brokers do not answer", and once the broker
 * is up again say caught up. An alarm turns a hang into a failure. Also
 * whether the group has ever assigned a partition, which tells the group
 * forming from an outage in the learner's idle message.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/err.h"
#include "consumers/consumer.h"

#define TEST_TOPIC "riffle.test.events"
#define TEST_GROUP "riffle-test-group"
#define TEST_ASK_MS 1000    /* short: the broker is down on purpose */
#define TEST_UP_ASK_MS 10000 /* a broker that is up answers well before */
#define TEST_POLL_MS 100
#define TEST_POLLS 600      /* a minute for the group to assign */
/* The whole program's bound, SIGALRM ending it: about 20 s are needed
 * (group joins), more under valgrind. */
#define TEST_ALARM_S 300

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    struct consumer *consumer;
    char errstr[512];
    char why[256];
};

/* Polls until the consumer has reached the end of its partition. */
static void poll_to_end(struct fixture *fx)
{
    int i;

    for (i = 0; i < TEST_POLLS && !consumer_caught_up(fx->consumer); i++) {
        rd_kafka_message_t *msg = consumer_poll(fx->consumer, TEST_POLL_MS);

        if (!msg)
            continue;
        if (!msg->err)
            consumer_mark_done(fx->consumer, msg);
        rd_kafka_message_destroy(msg);
    }
    assert_true(consumer_caught_up(fx->consumer));
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *topics[] = {TEST_TOPIC};

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC, 1,
                                    MOCK_CLUSTER_ANY_LEADER);

    assert_int_equal(consumer_new_topics(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_GROUP, topics, 1, NULL, 0, 0, NULL, 0,
                         &fx->consumer, fx->errstr, sizeof(fx->errstr)),
                     0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    consumer_destroy(fx->consumer);
    mock_cluster_destroy(fx->mcluster, fx->host);
    free(fx);
    return 0;
}

/* Before the group's first assignment the consumer has never held a
 * partition; once it has, it has, whatever it holds now. */
static void test_consumer_ever_assigned(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(consumer_ever_assigned(fx->consumer), 0);
    assert_int_equal(consumer_assigned_count(fx->consumer), 0);
    poll_to_end(fx);
    assert_int_equal(consumer_assigned_count(fx->consumer), 1);
    assert_int_equal(consumer_ever_assigned(fx->consumer), 1);
}

/* With no partition assigned yet, the brokers can still be asked
 * whether they answer: up they do, down they do not, within the bound. */
static void test_consumer_brokers_reachable_unassigned(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(consumer_brokers_reachable(fx->consumer, TEST_UP_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     1);
    assert_int_equal(consumer_ever_assigned(fx->consumer), 0);

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(consumer_brokers_reachable(fx->consumer, TEST_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     0);
    assert_contains(fx->why, "the brokers do not answer");
    assert_contains(fx->why, TEST_TOPIC);

    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(consumer_brokers_reachable(fx->consumer, TEST_UP_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     1);
}

/* Up: the empty partition's end is where the consumer stands. Down: both
 * asks come back, within their timeout, saying the brokers do not
 * answer. Up again: caught up, as before. */
static void test_consumer_confirm_caught_up_outage(void **state)
{
    struct fixture *fx = *state;

    poll_to_end(fx);
    assert_int_equal(consumer_confirm_caught_up(fx->consumer, TEST_UP_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     1);
    assert_int_equal(consumer_brokers_answer(fx->consumer, TEST_UP_ASK_MS,
                                             fx->why, sizeof(fx->why)),
                     1);

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(consumer_confirm_caught_up(fx->consumer, TEST_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     0);
    assert_contains(fx->why, "the brokers do not answer");
    fx->why[0] = '\0';
    assert_int_equal(consumer_brokers_answer(fx->consumer, TEST_ASK_MS,
                                             fx->why, sizeof(fx->why)),
                     0);
    assert_contains(fx->why, "the brokers do not answer");

    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(consumer_confirm_caught_up(fx->consumer, TEST_UP_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     1);
}

/* A message appended after the consumer reached the end: the brokers
 * answer, and the consumer is not caught up. */
static void test_consumer_confirm_caught_up_more_to_read(void **state)
{
    struct fixture *fx = *state;

    rd_kafka_t *producer;

    poll_to_end(fx);
    producer = mock_client_new(fx->mcluster, RD_KAFKA_PRODUCER, NULL);
    assert_int_equal(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(TEST_TOPIC),
                                       RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_VALUE("v", 1),
                                       RD_KAFKA_V_MSGFLAGS(
                                           RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(producer, TEST_UP_ASK_MS),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);

    assert_int_equal(consumer_confirm_caught_up(fx->consumer, TEST_UP_ASK_MS,
                                                fx->why, sizeof(fx->why)),
                     0);
    assert_contains(fx->why, "has more offset(s) to read (its end is 1)");
    assert_int_equal(consumer_brokers_answer(fx->consumer, TEST_UP_ASK_MS,
                                             fx->why, sizeof(fx->why)),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consumer_ever_assigned, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_consumer_brokers_reachable_unassigned, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_consumer_confirm_caught_up_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_consumer_confirm_caught_up_more_to_read, setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
