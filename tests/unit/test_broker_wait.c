/*
 * tests/unit/test_broker_wait.c - a wait on the brokers that a stop
 * request ends (common/broker_wait.c), on a clock the test sets: calls
 * that time out are made again until an answer or a stop; a stop ends a
 * long wait at the next call, and a wait begun at the stop only after
 * BROKER_WAIT_STOP_GRACE_S.
 */
#include "tests/unit/testutil.h"

#include "common/broker_wait.h"
#include "common/err.h"

#define TEST_BROKERS "127.0.0.1:19092"
#define TEST_WHAT "commit a batch of 42 events"

static int again(struct broker_wait *w, double now_s, int result, int *err,
                 char *errstr, size_t size)
{
    *err = result;
    return broker_wait_again(w, now_s, TEST_WHAT, err, errstr, size);
}

/* Without a stop, a timed-out call is made again for as long as the
 * brokers do not answer; any other result ends the wait as it is. */
static void test_broker_wait_goes_on_until_an_answer(void **state)
{
    volatile sig_atomic_t stop = 0;
    struct broker_wait w;
    char errstr[256] = "timed out";
    int err, i;

    (void)state;
    broker_wait_start(&w, "learn", TEST_BROKERS, &stop, 100.0);
    for (i = 0; i < 300; i++)
        assert_int_equal(again(&w, 100.0 + i, RIFFLE_ERR_TIMEOUT, &err,
                               errstr, sizeof(errstr)),
                         1);
    assert_int_equal(err, RIFFLE_ERR_TIMEOUT);
    assert_int_equal(again(&w, 400.0, 0, &err, errstr, sizeof(errstr)), 0);
    assert_int_equal(err, 0);
    assert_int_equal(again(&w, 401.0, RIFFLE_ERR_ABORTED, &err, errstr,
                           sizeof(errstr)),
                     0);
    assert_int_equal(err, RIFFLE_ERR_ABORTED);
    assert_string_equal(errstr, "timed out");
}

/* An outage: the stop comes long after the wait began and ends it at
 * the next timed-out call, saying what was not done. */
static void test_broker_wait_stop_ends_a_long_wait(void **state)
{
    volatile sig_atomic_t stop = 0;
    struct broker_wait w;
    char errstr[256] = "timed out";
    int err;

    (void)state;
    broker_wait_start(&w, "learn", TEST_BROKERS, &stop, 100.0);
    assert_int_equal(again(&w, 160.0, RIFFLE_ERR_TIMEOUT, &err, errstr,
                           sizeof(errstr)),
                     1);
    stop = 1;
    assert_int_equal(again(&w, 161.0, RIFFLE_ERR_TIMEOUT, &err, errstr,
                           sizeof(errstr)),
                     0);
    assert_int_equal(err, RIFFLE_ERR_STOPPED);
    assert_string_equal(errstr, "the brokers (" TEST_BROKERS ") did not "
                        "answer in time to " TEST_WHAT " before the stop");
    assert_string_equal(riffle_err_str(err), "stopped on request");
}

/* The last commit, begun at the stop: a slow broker gets the grace
 * period to answer, then the wait ends; an answer within it counts. */
static void test_broker_wait_stop_grants_a_new_wait_its_grace(void **state)
{
    volatile sig_atomic_t stop = 1;
    struct broker_wait w;
    char errstr[256] = "timed out";
    int err;

    (void)state;
    broker_wait_start(&w, "learn", TEST_BROKERS, &stop, 100.0);
    assert_int_equal(again(&w, 101.0, RIFFLE_ERR_TIMEOUT, &err, errstr,
                           sizeof(errstr)),
                     1);
    assert_int_equal(again(&w, 100.0 + BROKER_WAIT_STOP_GRACE_S - 0.1,
                           RIFFLE_ERR_TIMEOUT, &err, errstr, sizeof(errstr)),
                     1);
    assert_int_equal(err, RIFFLE_ERR_TIMEOUT);
    assert_int_equal(again(&w, 100.0 + BROKER_WAIT_STOP_GRACE_S,
                           RIFFLE_ERR_TIMEOUT, &err, errstr, sizeof(errstr)),
                     0);
    assert_int_equal(err, RIFFLE_ERR_STOPPED);

    broker_wait_start(&w, "learn", TEST_BROKERS, &stop, 200.0);
    assert_int_equal(again(&w, 201.5, 0, &err, errstr, sizeof(errstr)), 0);
    assert_int_equal(err, 0);
}

/* A wait with no stop flag (NULL) never ends for a stop. */
static void test_broker_wait_without_a_flag_never_stops(void **state)
{
    struct broker_wait w;
    char errstr[256] = "timed out";
    int err;

    (void)state;
    broker_wait_start(&w, "serve", TEST_BROKERS, NULL, 0.0);
    assert_int_equal(again(&w, 1e6, RIFFLE_ERR_TIMEOUT, &err, errstr,
                           sizeof(errstr)),
                     1);
    assert_int_equal(err, RIFFLE_ERR_TIMEOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_wait_goes_on_until_an_answer),
        cmocka_unit_test(test_broker_wait_stop_ends_a_long_wait),
        cmocka_unit_test(test_broker_wait_stop_grants_a_new_wait_its_grace),
        cmocka_unit_test(test_broker_wait_without_a_flag_never_stops),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
