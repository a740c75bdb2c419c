/*
 * tests/unit/test_publisher_fatal.c - which code a transactional
 * publisher (producers/publisher.c) returns when its producer is fenced,
 * against librdkafka's mock cluster: RIFFLE_ERR_FENCED, the code on
 * which `riffle learn` replaces its Kafka clients, and not
 * RIFFLE_ERR_ABORTED (an abortable error: the batch is only redone) nor
 * RIFFLE_ERR_KAFKA (the learner stops). A fenced learner used to stop.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>

#include "common/err.h"
#include "producers/publisher.h"

#define TEST_TOPIC "riffle.test"
#define TEST_TXN_WAIT_MS 10000
/* Kafka protocol API keys (librdkafka's rdkafka_protocol.h, which names
 * them, is not installed) */
#define TEST_API_PRODUCE 0
#define TEST_API_END_TXN 26

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    struct publisher *pub;
    char errstr[512];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC, 1,
                                    MOCK_CLUSTER_ANY_LEADER);

    assert_int_equal(publisher_new_transactional(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         "riffle-test", "riffle-test-txn", 0, &fx->pub,
                         fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(publisher_init_transactions(fx->pub, TEST_TXN_WAIT_MS,
                                                 fx->errstr,
                                                 sizeof(fx->errstr)),
                     0);
    assert_int_equal(publisher_begin(fx->pub, fx->errstr,
                                     sizeof(fx->errstr)),
                     0);
    assert_int_equal(publisher_send(fx->pub, TEST_TOPIC, "k", 1, "v", 1,
                                    NULL, fx->errstr, sizeof(fx->errstr)),
                     0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    publisher_destroy(fx->pub);
    mock_cluster_destroy(fx->mcluster, fx->host);
    free(fx);
    return 0;
}

/* The coordinator answers the commit with "fenced", as it does once a
 * newer producer registered the id or a timed-out transaction bumped
 * its epoch: the commit and every later call say RIFFLE_ERR_FENCED. */
static void test_publisher_fenced_commit_is_fenced(void **state)
{
    struct fixture *fx = *state;

    rd_kafka_mock_push_request_errors(fx->mcluster, TEST_API_END_TXN, 1,
                                      RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    assert_int_equal(publisher_commit(fx->pub, NULL, NULL, TEST_TXN_WAIT_MS,
                                      fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_FENCED);
    assert_non_null(strstr(fx->errstr, "(fatal)"));
    assert_int_equal(publisher_in_transaction(fx->pub), 1);
    assert_int_equal(publisher_send(fx->pub, TEST_TOPIC, "k", 1, "v", 1,
                                    NULL, fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_FENCED);
    assert_int_equal(publisher_abort(fx->pub, TEST_TXN_WAIT_MS, fx->errstr,
                                     sizeof(fx->errstr)),
                     RIFFLE_ERR_FENCED);
}

/* An abortable error stays one: the transaction is aborted and redone
 * with the same producer. */
static void test_publisher_abortable_commit_is_aborted(void **state)
{
    struct fixture *fx = *state;

    rd_kafka_mock_push_request_errors(
        fx->mcluster, TEST_API_PRODUCE, 1,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    assert_int_equal(publisher_send(fx->pub, TEST_TOPIC, "k", 1, "w", 1,
                                    NULL, fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(publisher_commit(fx->pub, NULL, NULL, TEST_TXN_WAIT_MS,
                                      fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_ABORTED);
    assert_int_equal(publisher_abort(fx->pub, TEST_TXN_WAIT_MS, fx->errstr,
                                     sizeof(fx->errstr)),
                     0);
    assert_int_equal(publisher_in_transaction(fx->pub), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publisher_fenced_commit_is_fenced,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_publisher_abortable_commit_is_aborted, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
