/*
 * tests/unit/test_txn_offsets_outage.c - a transaction's input offsets
 * (publisher_commit(), producers/publisher.c) sent while the brokers are
 * down, against librdkafka's mock cluster. librdkafka (2.0.2 up to 2.14:
 * its issue 5456) does not keep to the timeout of
 * rd_kafka_send_offsets_to_transaction() while the group coordinator is
 * down: the call waited until the broker came back, past any stop, so a
 * learner or replica stopped in an outage was not gone (75 s and more in
 * test_stop_outage.sh). The first try of a transaction must now come
 * back within a few seconds as not answered (RIFFLE_ERR_TIMEOUT), like
 * the retries, and go through once the broker is back; a publisher
 * destroyed meanwhile (a stop) leaves the call to its thread. The
 * group's coordinator is a broker of its own, the transaction's staying
 * up, as librdkafka's own reproducer has it. A publisher sends the
 * offsets of every transaction on one worker thread, started at its
 * first commit: the test counts the threads created (pthread_create()
 * is wrapped here, for librdkafka's threads as for riffle's). A stop
 * ends an abort's wait for a call left running. An alarm turns a hang
 * into a failure.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "tests/unit/testutil.h"

#include <dlfcn.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "producers/publisher.h"

#define TEST_TOPIC "riffle.test.txn"
#define TEST_GROUP "riffle-test-txn"
#define TEST_TXN_ID "riffle-test-txn-1"
#define TEST_TXN_TIMEOUT_MS 60000
#define TEST_ASK_MS 1000 /* one slice of a caller's wait */
#define TEST_UP_ASK_MS 10000
/* The call must be back within this: a few of its asks on a loaded
 * machine, far below a hang. */
#define TEST_BOUND_S 8.0
#define TEST_ALARM_S 120
#define TEST_COMMITS 20 /* transactions committed on one publisher */
#define TEST_REBALANCE_ABORT_MS 30000 /* what serving/replica.c gives */

static volatile sig_atomic_t test_stop; /* kafka_set_stop()'s flag */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *,
                                 void *(*)(void *), void *);

static atomic_int threads_created;

/* Counts every thread this process creates, then creates it. */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                   void *(*start)(void *), void *arg)
{
    static pthread_create_fn real;

    if (!real)
        real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    atomic_fetch_add(&threads_created, 1);
    return real(thread, attr, start, arg);
}

/* A publisher in an open transaction on a two-broker mock cluster: the
 * transaction's coordinator is broker 1, the group's broker 2, and
 * offsets holds the input offset that the commit sends. */
struct txn_fixture {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_consumer_group_metadata_t *group;
    rd_kafka_topic_partition_list_t *offsets;
    struct publisher *pub;
};

static void txn_fixture_begin(struct txn_fixture *fx)
{
    char errstr[512];

    fx->mcluster = mock_cluster_new(&fx->host, 2, TEST_TOPIC, 1, 1);
    fx->group = rd_kafka_consumer_group_metadata_new(TEST_GROUP);
    fx->offsets = rd_kafka_topic_partition_list_new(1);
    assert_int_equal(rd_kafka_mock_coordinator_set(fx->mcluster, "transaction",
                                                   TEST_TXN_ID, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_coordinator_set(fx->mcluster, "group",
                                                   TEST_GROUP, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_add(fx->offsets, TEST_TOPIC, 0)->offset = 1;
    assert_int_equal(publisher_new_immediate(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         "riffle-test", TEST_TXN_ID, TEST_TXN_TIMEOUT_MS,
                         &fx->pub, errstr, sizeof(errstr)),
                     0);
    assert_int_equal(publisher_init_transactions(fx->pub, TEST_UP_ASK_MS,
                                                 errstr, sizeof(errstr)),
                     0);
    assert_int_equal(publisher_begin(fx->pub, errstr, sizeof(errstr)), 0);
}

static void test_offsets_sent_in_an_outage(void **state)
{
    struct txn_fixture fx = {0};
    struct publisher *pub;
    char errstr[512];
    double started;
    int err;

    (void)state;
    /* the transaction's coordinator stays up, the group's goes down */
    txn_fixture_begin(&fx);
    pub = fx.pub;
    assert_int_equal(publisher_send(pub, TEST_TOPIC, "k", 1, "v", 1, NULL,
                                    errstr, sizeof(errstr)),
                     0);
    assert_int_equal(publisher_flush(pub, TEST_UP_ASK_MS, errstr,
                                     sizeof(errstr)),
                     0);

    assert_int_equal(rd_kafka_mock_broker_set_down(fx.mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    started = kafka_monotonic_s();
    err = publisher_commit(pub, fx.offsets, fx.group, TEST_ASK_MS, errstr,
                           sizeof(errstr));
    assert_int_equal(err, RIFFLE_ERR_TIMEOUT);
    assert_true(kafka_monotonic_s() - started < TEST_BOUND_S);
    assert_contains(errstr, "cannot add the input offsets");
    assert_int_equal(publisher_in_transaction(pub), 1);

    assert_int_equal(rd_kafka_mock_broker_set_up(fx.mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(publisher_commit(pub, fx.offsets, fx.group, TEST_UP_ASK_MS,
                                      errstr, sizeof(errstr)),
                     0);
    assert_int_equal(publisher_in_transaction(pub), 0);

    publisher_destroy(pub);
    rd_kafka_topic_partition_list_destroy(fx.offsets);
    rd_kafka_consumer_group_metadata_destroy(fx.group);
    mock_cluster_destroy(fx.mcluster, fx.host);
}

/* A stop while the call goes on: the publisher is destroyed at once,
 * leaving the call to its thread. */
static void test_destroy_leaves_the_call(void **state)
{
    struct txn_fixture fx = {0};
    struct publisher *pub;
    char errstr[512];
    double started;

    (void)state;
    txn_fixture_begin(&fx);
    pub = fx.pub;
    assert_int_equal(rd_kafka_mock_broker_set_down(fx.mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(publisher_commit(pub, fx.offsets, fx.group, TEST_ASK_MS,
                                      errstr, sizeof(errstr)),
                     RIFFLE_ERR_TIMEOUT);

    started = kafka_monotonic_s();
    publisher_abandon(pub);
    publisher_destroy(pub);
    assert_true(kafka_monotonic_s() - started < TEST_BOUND_S);
    rd_kafka_topic_partition_list_destroy(fx.offsets);
    rd_kafka_consumer_group_metadata_destroy(fx.group);
    /* the cluster stays: the call left running still uses it */
    (void)fx.host;
}

/* Commit after commit, each with offsets: the first starts the
 * publisher's worker, the others create no thread at all (one each
 * before: about 100 a second in `riffle serve` exactly once). */
static void test_commits_share_one_worker(void **state)
{
    struct txn_fixture fx = {0};
    char errstr[512];
    int created, i;

    (void)state;
    txn_fixture_begin(&fx);
    assert_int_equal(publisher_commit(fx.pub, fx.offsets, fx.group,
                                      TEST_UP_ASK_MS, errstr, sizeof(errstr)),
                     0);

    created = atomic_load(&threads_created);
    for (i = 0; i < TEST_COMMITS; i++) {
        assert_int_equal(publisher_begin(fx.pub, errstr, sizeof(errstr)), 0);
        assert_int_equal(publisher_send(fx.pub, TEST_TOPIC, "k", 1, "v", 1,
                                        NULL, errstr, sizeof(errstr)),
                         0);
        fx.offsets->elems[0].offset = 2 + i;
        assert_int_equal(publisher_commit(fx.pub, fx.offsets, fx.group,
                                          TEST_UP_ASK_MS, errstr,
                                          sizeof(errstr)),
                         0);
    }
    assert_int_equal(atomic_load(&threads_created) - created, 0);

    publisher_destroy(fx.pub);
    rd_kafka_topic_partition_list_destroy(fx.offsets);
    rd_kafka_consumer_group_metadata_destroy(fx.group);
    mock_cluster_destroy(fx.mcluster, fx.host);
}

/* A stop while an abort waits for an offsets call that librdkafka does
 * not end: the abort gives up within a step of its wait, not after the
 * 30 s a replica's rebalance gives it (it waited them all before). */
static void test_stop_ends_an_abort_behind_the_call(void **state)
{
    struct txn_fixture fx = {0};
    char errstr[512];
    double started;

    (void)state;
    txn_fixture_begin(&fx);
    assert_int_equal(rd_kafka_mock_broker_set_down(fx.mcluster, 2),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(publisher_commit(fx.pub, fx.offsets, fx.group,
                                      TEST_ASK_MS, errstr, sizeof(errstr)),
                     RIFFLE_ERR_TIMEOUT);

    test_stop = 1;
    started = kafka_monotonic_s();
    assert_int_equal(publisher_abort(fx.pub, TEST_REBALANCE_ABORT_MS, errstr,
                                     sizeof(errstr)),
                     RIFFLE_ERR_TIMEOUT);
    assert_true(kafka_monotonic_s() - started < TEST_BOUND_S);
    assert_contains(errstr, "its offsets call goes on");
    assert_int_equal(publisher_in_transaction(fx.pub), 1);
    test_stop = 0;

    publisher_abandon(fx.pub);
    publisher_destroy(fx.pub);
    rd_kafka_topic_partition_list_destroy(fx.offsets);
    rd_kafka_consumer_group_metadata_destroy(fx.group);
    /* the cluster stays: the call left running still uses it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_sent_in_an_outage),
        cmocka_unit_test(test_commits_share_one_worker),
        cmocka_unit_test(test_destroy_leaves_the_call),
        cmocka_unit_test(test_stop_ends_an_abort_behind_the_call),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    kafka_set_stop(&test_stop); /* 0 but in the test that stops */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
