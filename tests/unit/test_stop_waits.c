/*
 * tests/unit/test_stop_waits.c - the waits on the brokers that a stop
 * (kafka_set_stop(), SIGTERM in `riffle learn` and `riffle serve`) must
 * end within a few seconds, against librdkafka's mock cluster with its
 * brokers down: an ask for a partition's offsets and one for the group's
 * committed offsets (kafka_ask_sliced() in common/kafka.c), an offset
 * commit (kafka_commit()), and a send while librdkafka's local queue is
 * full (producers/publisher.c). Each used to run its full timeout (10 to
 * 30 s), or until the brokers came back; now each ends once past
 * common/broker_wait.h's grace, as a stop and not as a broker error.
 * Without a stop flag they run their course as before. An alarm turns a
 * hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/broker_wait.h"
#include "common/err.h"
#include "common/kafka.h"
#include "producers/publisher.h"

#define TEST_TOPIC "riffle.test.stops"
#define TEST_GROUP "riffle-test-stops"
/* Far longer than a stop may take: a wait that ignores the stop runs
 * this long and fails the bound below. */
#define TEST_ASK_MS 20000
/* A stop must end each wait within this, from the call: the grace
 * (BROKER_WAIT_STOP_GRACE_S) plus one slice, with room for a loaded
 * machine and valgrind. */
#define TEST_STOP_BOUND_S 10.0
#define TEST_UNSTOPPED_ASK_MS 1500 /* without a stop flag: runs its course */
/* librdkafka's default queue.buffering.max.messages: the next send
 * finds the queue full while no broker takes anything. */
#define TEST_QUEUE_MESSAGES 100000
#define TEST_ALARM_S 240

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_t *client; /* a group consumer that asks */
    volatile sig_atomic_t stop;
    char errstr[512];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC, 1, 1);
    fx->client = mock_client_new(fx->mcluster, RD_KAFKA_CONSUMER,
                                 TEST_GROUP);
    assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    kafka_set_stop(NULL);
    if (fx->client)
        rd_kafka_destroy(fx->client);
    mock_cluster_destroy(fx->mcluster, fx->host);
    free(fx);
    return 0;
}

/* One partition of the topic, its offset set to at. */
static rd_kafka_topic_partition_list_t *one_partition(int64_t at)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(list, TEST_TOPIC, 0)->offset = at;
    return list;
}

/* The end of a partition whose leader is down, with a stop requested:
 * the ask ends at the stop, not after its 20 s. */
static void test_stop_ends_offsets_ask(void **state)
{
    struct fixture *fx = *state;
    rd_kafka_topic_partition_list_t *list = one_partition(
        RD_KAFKA_OFFSET_END);
    double started;
    rd_kafka_resp_err_t err;

    fx->stop = 1;
    kafka_set_stop(&fx->stop);
    started = kafka_monotonic_s();
    err = kafka_query_offsets(fx->client, list, TEST_ASK_MS, fx->errstr,
                              sizeof(fx->errstr));
    assert_int_equal(err, KAFKA_ERR_STOPPED);
    assert_true(kafka_monotonic_s() - started < TEST_STOP_BOUND_S);
    assert_contains(fx->errstr, "did not answer in time to give the end of "
                                TEST_TOPIC " [0] before the stop");
    rd_kafka_topic_partition_list_destroy(list);
}

/* The group's committed offsets with its coordinator down and a stop
 * requested: read at a partition's assignment, they used to be asked
 * for 10 s a try, 30 tries. */
static void test_stop_ends_committed_read(void **state)
{
    struct fixture *fx = *state;
    rd_kafka_topic_partition_list_t *list = one_partition(
        RD_KAFKA_OFFSET_INVALID);
    double started;
    rd_kafka_resp_err_t err;

    fx->stop = 1;
    kafka_set_stop(&fx->stop);
    started = kafka_monotonic_s();
    err = kafka_committed(fx->client, list, TEST_ASK_MS, fx->errstr,
                          sizeof(fx->errstr));
    assert_int_equal(err, KAFKA_ERR_STOPPED);
    assert_true(kafka_monotonic_s() - started < TEST_STOP_BOUND_S);
    assert_contains(fx->errstr, "give the group's committed offsets of "
                                TEST_TOPIC " [0] before the stop");
    rd_kafka_topic_partition_list_destroy(list);
}

/* Without a stop flag (the other commands) the read runs its course and
 * ends with librdkafka's own transient error, as before. */
static void test_unstopped_committed_read_times_out(void **state)
{
    struct fixture *fx = *state;
    rd_kafka_topic_partition_list_t *list = one_partition(
        RD_KAFKA_OFFSET_INVALID);
    rd_kafka_resp_err_t err;

    fx->stop = 1; /* not registered: looked at by nothing */
    err = kafka_committed(fx->client, list, TEST_UNSTOPPED_ASK_MS,
                          fx->errstr, sizeof(fx->errstr));
    assert_int_not_equal(err, KAFKA_ERR_STOPPED);
    assert_true(kafka_err_is_transient(err));
    rd_kafka_topic_partition_list_destroy(list);
}

/* An offset commit with the coordinator down and a stop requested: the
 * at-least-once learner's commit, retried while the coordinator moves,
 * ends at the stop. */
static void test_stop_ends_commit(void **state)
{
    struct fixture *fx = *state;
    rd_kafka_topic_partition_list_t *list = one_partition(1);
    struct broker_wait w;
    double started;
    rd_kafka_resp_err_t err;

    fx->stop = 1;
    started = kafka_monotonic_s();
    broker_wait_start(&w, "test", "mock", &fx->stop, started);
    err = kafka_commit(fx->client, list, &w, "commit a test offset",
                       fx->errstr, sizeof(fx->errstr));
    assert_int_equal(err, KAFKA_ERR_STOPPED);
    assert_true(kafka_monotonic_s() - started < TEST_STOP_BOUND_S);
    assert_contains(fx->errstr, "did not answer in time to commit a test "
                                "offset before the stop");
    rd_kafka_topic_partition_list_destroy(list);

    /* nor is the consumer's close held by a commit left waiting for a
     * coordinator (it was, for the group's 45 s session timeout) */
    started = kafka_monotonic_s();
    rd_kafka_destroy(fx->client);
    fx->client = NULL;
    assert_true(kafka_monotonic_s() - started < TEST_STOP_BOUND_S);
}

/* A send while librdkafka's local queue is full and no broker takes
 * anything: it used to wait until the queue drained, which it does
 * only once a broker is back. A stop now ends it; the message is not
 * sent. */
static void test_stop_ends_send_on_full_queue(void **state)
{
    struct fixture *fx = *state;
    struct publisher *pub = NULL;
    double started;
    int i;

    assert_int_equal(publisher_new(rd_kafka_mock_cluster_bootstraps(
                                       fx->mcluster),
                                   "riffle-test", &pub, fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    for (i = 0; i < TEST_QUEUE_MESSAGES; i++)
        assert_int_equal(publisher_send(pub, TEST_TOPIC, "k", 1, "v", 1,
                                        NULL, fx->errstr,
                                        sizeof(fx->errstr)),
                         0);

    fx->stop = 1;
    kafka_set_stop(&fx->stop);
    started = kafka_monotonic_s();
    assert_int_equal(publisher_send(pub, TEST_TOPIC, "k", 1, "v", 1,
                                    rd_kafka_headers_new(1), fx->errstr,
                                    sizeof(fx->errstr)),
                     RIFFLE_ERR_STOPPED);
    assert_true(kafka_monotonic_s() - started < TEST_STOP_BOUND_S);
    assert_contains(fx->errstr, "take a message to " TEST_TOPIC);
    assert_int_equal(publisher_sent(pub), TEST_QUEUE_MESSAGES);
    publisher_abandon(pub); /* what it holds is dropped, not waited for */
    publisher_destroy(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_ends_offsets_ask, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_committed_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_unstopped_committed_read_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_send_on_full_queue,
                                        setup, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
