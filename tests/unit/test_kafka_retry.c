/*
 * tests/unit/test_kafka_retry.c - which broker errors a one-shot request
 * retries (common/kafka.c): a leader still being elected right after a
 * topic is created or a broker restarts stopped `riffle learn` with "Not
 * leader for partition" while reading the model topic's offsets.
 */
#include "tests/unit/testutil.h"

#include "common/kafka.h"

static void test_kafka_leader_moves_are_transient(void **state)
{
    (void)state;
    assert_true(kafka_err_is_transient(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION));
    assert_true(kafka_err_is_transient(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE));
    assert_true(kafka_err_is_transient(RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS));
    assert_true(kafka_err_is_transient(RD_KAFKA_RESP_ERR__TRANSPORT));
    assert_true(kafka_err_is_transient(RD_KAFKA_RESP_ERR__TIMED_OUT));
}

static void test_kafka_request_errors_are_not_transient(void **state)
{
    (void)state;
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR_NO_ERROR));
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED));
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    assert_false(kafka_err_is_transient(RD_KAFKA_RESP_ERR__INVALID_ARG));
}

/* A fresh broker's "not yet" for a producer id is retried by librdkafka
 * and logged as info; other warnings stay warnings. */
static void test_kafka_getpid_retries_are_info(void **state)
{
    (void)state;
    assert_int_equal(kafka_log_level(4, "GETPID", "[thrd:main]: Failed to "
                                     "acquire idempotence PID from broker "
                                     "127.0.0.1:9092/1: Broker: Coordinator "
                                     "load in progress: retrying"),
                     LOG_LEVEL_INFO);
    assert_int_equal(kafka_log_level(4, "GETPID", "[thrd:main]: Failed to "
                                     "acquire transactional PID from broker "
                                     "TxnCoordinator/1: Broker: Not "
                                     "coordinator: retrying"),
                     LOG_LEVEL_INFO);
    assert_int_equal(kafka_log_level(4, "GETPID", "Failed to acquire PID: "
                                     "Transactional Id authorization failed"),
                     LOG_LEVEL_WARN);
    assert_int_equal(kafka_log_level(4, "REQTMOUT", "Timed out: retrying"),
                     LOG_LEVEL_WARN);
    assert_int_equal(kafka_log_level(3, "GETPID", "x: retrying"),
                     LOG_LEVEL_ERROR);
    assert_int_equal(kafka_log_level(6, "CONFWARN", "x"), LOG_LEVEL_INFO);
    assert_int_equal(kafka_log_level(7, "BROKER", "x"), LOG_LEVEL_DEBUG);
}

/* The broker's "not yet" for a transaction's offsets while it still ends
 * the previous transaction is retried, and logged as info; any other
 * failure to add the offsets stays an error. */
static void test_kafka_concurrent_transaction_is_info(void **state)
{
    static const struct {
        int level;
        const char *fac, *text;
        enum log_level want;
    } lines[] = {
        {3, "ADDOFFSETS", "[thrd:main]: TxnCoordinator/1: Failed to add "
         "offsets to transaction on broker TxnCoordinator/1: Broker: "
         "Producer attempted to update a transaction while another "
         "concurrent operation on the same transaction was ongoing",
         LOG_LEVEL_INFO},
        {3, "ADDOFFSETS", "[thrd:main]: Failed to add offsets to "
         "transaction on broker TxnCoordinator/1: Broker: Group "
         "authorization failed", LOG_LEVEL_ERROR},
        {3, "ENDTXN", "another concurrent operation on the same "
         "transaction", LOG_LEVEL_ERROR},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_int_equal(kafka_log_level(lines[i].level, lines[i].fac,
                                         lines[i].text),
                         lines[i].want);
}

static void test_kafka_retry_gives_up_on_request_errors_at_once(void **state)
{
    double started = kafka_monotonic_s();

    (void)state;
    assert_int_equal(kafka_retry_transient(RD_KAFKA_RESP_ERR_NO_ERROR, started), 0);
    assert_int_equal(kafka_retry_transient(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, started), 0);
    assert_true(kafka_monotonic_s() - started < KAFKA_TRANSIENT_PAUSE_MS / 1000.0);
}

static void test_kafka_retry_waits_then_gives_up(void **state)
{
    double now = kafka_monotonic_s();

    (void)state;
    /* a transient error early on: one pause, then ask again */
    assert_int_equal(kafka_retry_transient(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, now),
                     1);
    assert_true(kafka_monotonic_s() - now >= KAFKA_TRANSIENT_PAUSE_MS / 1000.0 * 0.9);

    /* the same error past the deadline: reported */
    now = kafka_monotonic_s() - KAFKA_TRANSIENT_WAIT_MS / 1000.0 - 1.0;
    assert_int_equal(kafka_retry_transient(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, now),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_leader_moves_are_transient),
        cmocka_unit_test(test_kafka_request_errors_are_not_transient),
        cmocka_unit_test(test_kafka_getpid_retries_are_info),
        cmocka_unit_test(test_kafka_concurrent_transaction_is_info),
        cmocka_unit_test(test_kafka_retry_gives_up_on_request_errors_at_once),
        cmocka_unit_test(test_kafka_retry_waits_then_gives_up),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
