/*
 * tests/unit/test_kafka_await_topic.c - kafka_await_topic() in
 * common/kafka.c, the wait `riffle topics create` and `delete` make until
 * the brokers' metadata shows what they asked, against librdkafka's mock
 * cluster: a topic shown ends the wait at once; one that stays when its
 * absence is awaited times out with an error naming it; a down broker is
 * an error of its own, never taken for a topic that is gone or there.
 * (The mock creates any topic a Metadata ask names and does not apply
 * pushed errors to the topics of its Metadata answers, so the lag itself
 * is not played here: tests/integration/test_topics.sh runs create and
 * delete against the real broker.) An alarm turns a hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"

#define TEST_TOPIC "riffle.test.topic"
#define TEST_PARTITIONS 2
#define TEST_WAIT_MS 20000     /* a broker that is up answers well before */
#define TEST_SHORT_WAIT_MS 600 /* for the waits that must time out */
#define TEST_DOWN_WAIT_MS 1000 /* short: the broker is down on purpose */
#define TEST_SLOW_RTT_MS 300   /* a slow broker's delay on every answer */
#define TEST_ALARM_S 120       /* a few seconds are needed, more under valgrind */

static int setup(void **state)
{
    struct mock_fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    mock_fixture_open(fx, 1, TEST_TOPIC, TEST_PARTITIONS, MOCK_CLUSTER_ANY_LEADER,
                      RD_KAFKA_PRODUCER);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    mock_fixture_close(*state);
    free(*state);
    return 0;
}

/* A topic the brokers show ends the wait for it at once. */
static void test_await_topic_shown(void **state)
{
    struct mock_fixture *fx = *state;
    int count = -1;

    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 1, TEST_WAIT_MS, fx->errstr,
                                       sizeof(fx->errstr)), 0);
    assert_int_equal(kafka_topic_partitions(fx->client, TEST_TOPIC, TEST_WAIT_MS, 0, &count,
                                            fx->errstr, sizeof(fx->errstr)), 0);
    assert_int_equal(count, TEST_PARTITIONS);
}

/* Awaiting the absence of a topic the brokers keep showing: an error
 * naming it once the wait is over. */
static void test_await_topic_gone(void **state)
{
    struct mock_fixture *fx = *state;

    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 0, TEST_SHORT_WAIT_MS,
                                       fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_TIMEOUT);
    assert_non_null(strstr(fx->errstr, "topic " TEST_TOPIC " is still in the brokers' "
                                       "metadata after"));
}

/* A topic the brokers still show, but with an error of its own (no
 * leader, while a deletion or a creation is under way), is not gone:
 * only "unknown topic" ends the wait for its absence. */
static void test_await_topic_erring_is_not_gone(void **state)
{
    struct mock_fixture *fx = *state;

    rd_kafka_mock_topic_set_error(fx->mcluster, TEST_TOPIC,
                                  RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 0,
                                       TEST_SHORT_WAIT_MS, fx->errstr,
                                       sizeof(fx->errstr)),
                     RIFFLE_ERR_TIMEOUT);
    assert_non_null(strstr(fx->errstr, "topic " TEST_TOPIC " is still in "
                                       "the brokers' metadata after"));
}

/* With a slow broker (each Metadata answer 300 ms late) the wait still
 * ends at its bound: the time it reports is the time it took, read on
 * the same clock, not the pauses between asks alone (which left out the
 * asks and let a 600 ms wait run 2 s and call it 750 ms). */
static void test_await_topic_bound_includes_asks(void **state)
{
    struct mock_fixture *fx = *state;
    double started, took_ms;
    int reported_ms = -1, err;
    const char *at;

    assert_int_equal(rd_kafka_mock_broker_set_rtt(fx->mcluster, 1, TEST_SLOW_RTT_MS),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    /* the first ask after the change may meet the connection's reset,
     * which the bound on one ask would take for an unreachable broker */
    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 1, TEST_WAIT_MS, fx->errstr,
                                       sizeof(fx->errstr)), 0);
    started = kafka_monotonic_s();
    err = kafka_await_topic(fx->client, TEST_TOPIC, 0, TEST_SHORT_WAIT_MS, fx->errstr,
                            sizeof(fx->errstr));
    assert_int_equal(err, RIFFLE_ERR_TIMEOUT);
    took_ms = (kafka_monotonic_s() - started) * 1000.0;

    at = strstr(fx->errstr, "metadata after ");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "metadata after %d ms", &reported_ms), 1);
    assert_true(reported_ms >= TEST_SHORT_WAIT_MS);
    assert_true(reported_ms <= took_ms);
    assert_true(reported_ms >= took_ms - TEST_SLOW_RTT_MS); /* at most the last ask's answer */
}

/* With the broker down nothing is known: neither wait may succeed, and
 * the error says the brokers were not reached. */
static void test_await_topic_broker_down(void **state)
{
    struct mock_fixture *fx = *state;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 0, TEST_DOWN_WAIT_MS,
                                       fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_KAFKA);
    assert_non_null(strstr(fx->errstr, "for topic " TEST_TOPIC " within"));
    assert_int_equal(kafka_await_topic(fx->client, TEST_TOPIC, 1, TEST_DOWN_WAIT_MS,
                                       fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_KAFKA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_await_topic_shown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_topic_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_topic_erring_is_not_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_await_topic_bound_includes_asks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_await_topic_broker_down, setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
