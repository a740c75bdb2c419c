/*
 * tests/unit/test_kafka_close.c - the bounded consumer close
 * (common/kafka_close.c) against librdkafka's mock cluster: with an
 * offsets commit in flight and the group's coordinator down,
 * rd_kafka_consumer_close() waits for that commit (three tries of the
 * 10 s socket timeout); kafka_close_bounded() must come back after its
 * bound, leave the state handed to it alone while the close goes on,
 * and release it once the close ends (here: the broker back up). With
 * nothing in flight the close ends in time and releases at once. An
 * alarm turns a hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/kafka_close.h"

#define TEST_TOPIC "riffle.test.closes"
#define TEST_GROUP "riffle-test-closes"
#define TEST_BOUND_S 1
/* The call must be back within its bound plus this (a loaded machine,
 * valgrind): far below the 30 s the close takes unbounded. */
#define TEST_SLACK_S 4.0
#define TEST_COMMIT_SETTLE_MS 500 /* the commit on its way before the close */
#define TEST_RELEASE_WAIT_S 120.0 /* the close after the broker is back */
#define TEST_ALARM_S 300

struct released {
    atomic_int count; /* release() calls: set on the close's thread */
};

static void release(void *arg)
{
    struct released *r = arg;

    atomic_fetch_add(&r->count, 1);
}

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_t *client;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC, 1, 1);
    fx->client = mock_client_new(fx->mcluster, RD_KAFKA_CONSUMER,
                                 TEST_GROUP);
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

/* An offsets commit of the topic's partition 0, sent in the background. */
static void commit_in_background(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(list, TEST_TOPIC, 0)->offset = 1;
    assert_int_equal(rd_kafka_commit(rk, list, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    (void)rd_kafka_poll(rk, TEST_COMMIT_SETTLE_MS);
}

/* The coordinator down with a commit in flight: back after the bound,
 * nothing released yet; released once, when the close ends later. */
static void test_close_left_running(void **state)
{
    struct fixture *fx = *state;
    struct released rel = {0};
    double started;
    int over;

    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    commit_in_background(fx->client);

    started = kafka_monotonic_s();
    over = kafka_close_bounded(fx->client, TEST_BOUND_S, release, &rel,
                               "test");
    fx->client = NULL; /* taken */
    assert_int_equal(over, 0);
    assert_true(kafka_monotonic_s() - started < TEST_BOUND_S + TEST_SLACK_S);
    assert_true(kafka_monotonic_s() - started >= TEST_BOUND_S - 0.1);
    assert_int_equal(atomic_load(&rel.count), 0);

    assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    started = kafka_monotonic_s();
    while (atomic_load(&rel.count) == 0 &&
           kafka_monotonic_s() - started < TEST_RELEASE_WAIT_S)
        usleep(100 * 1000);
    assert_int_equal(atomic_load(&rel.count), 1);
}

/* Nothing in flight: the close ends in time and releases before the
 * call returns. */
static void test_close_in_time(void **state)
{
    struct fixture *fx = *state;
    struct released rel = {0};

    assert_int_equal(kafka_close_bounded(fx->client, TEST_BOUND_S + 9,
                                         release, &rel, "test"),
                     1);
    fx->client = NULL;
    assert_int_equal(atomic_load(&rel.count), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_left_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_in_time, setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
