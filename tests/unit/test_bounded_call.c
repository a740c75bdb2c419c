/*
 * tests/unit/test_bounded_call.c - the worker that runs a call which may
 * never return (common/bounded_call.c): a job that ends in time is the
 * caller's again and the same thread runs the next one; a job held
 * behind a gate the test opens is reported as going on after the bound,
 * and a stop flag ends a long wait within a step; a caller that leaves
 * while the job runs gets nothing released until the job ends, which
 * then releases once on the worker's thread, the worker gone after it;
 * a job over but not collected is released by the destroy, on the
 * caller's thread. Threads are counted in /proc/self/task. An alarm
 * turns a hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/bounded_call.h"
#include "common/kafka.h"

#define TEST_SHORT_MS 300   /* a bound the held job outlasts */
#define TEST_LONG_MS 20000  /* a bound a stop must cut short */
#define TEST_SLACK_S 2.0    /* a loaded machine, valgrind */
#define TEST_SETTLE_S 30.0  /* a job or thread that is to end, ends */
#define TEST_POLL_US 10000
#define TEST_ALARM_S 120

/* What a job saw and did; the test owns it. */
struct probe {
    atomic_int gate_open; /* the job returns once this is set */
    atomic_int runs;      /* run() calls */
    atomic_int releases;  /* release() calls */
    pthread_t run_thread;
    pthread_t release_thread;
};

static void probe_run(void *arg)
{
    struct probe *pr = arg;

    pr->run_thread = pthread_self();
    while (!atomic_load(&pr->gate_open))
        usleep(TEST_POLL_US / 10);
    atomic_fetch_add(&pr->runs, 1);
}

static void probe_release(void *arg)
{
    struct probe *pr = arg;

    pr->release_thread = pthread_self();
    atomic_fetch_add(&pr->releases, 1);
}

static void probe_start(struct bounded_call *bc, struct probe *pr, int open)
{
    struct bounded_call_job job = {probe_run, probe_release, pr};

    atomic_store(&pr->gate_open, open);
    bounded_call_start(bc, &job);
}

/* Threads of this process. A joined thread may be listed a moment
 * longer (the kernel wakes the joiner before it reaps the thread):
 * settle_threads(). */
static int thread_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* Waits up to TEST_SETTLE_S for *counter to reach want. */
static int settle_count(atomic_int *counter, int want)
{
    double started = kafka_monotonic_s();

    while (atomic_load(counter) != want &&
           kafka_monotonic_s() - started < TEST_SETTLE_S)
        usleep(TEST_POLL_US);
    return atomic_load(counter);
}

static int settle_threads(int want)
{
    double started = kafka_monotonic_s();

    while (thread_count() != want &&
           kafka_monotonic_s() - started < TEST_SETTLE_S)
        usleep(TEST_POLL_US);
    return thread_count();
}

/* Two jobs in turn, each over in time, on one worker thread. */
static void test_bounded_call_finishes_in_time(void **state)
{
    struct probe first = {0}, second = {0};
    struct bounded_call *bc = NULL;
    int threads = thread_count();

    (void)state;
    assert_int_equal(bounded_call_new(&bc), 0);
    assert_int_equal(thread_count(), threads + 1);
    assert_int_equal(bounded_call_busy(bc), 0);

    probe_start(bc, &first, 1);
    assert_int_equal(bounded_call_busy(bc), 1);
    assert_int_equal(bounded_call_wait(bc, TEST_LONG_MS, NULL), 1);
    assert_int_equal(bounded_call_busy(bc), 0);
    assert_int_equal(atomic_load(&first.runs), 1);

    probe_start(bc, &second, 1);
    assert_int_equal(bounded_call_wait(bc, TEST_LONG_MS, NULL), 1);
    assert_int_equal(atomic_load(&second.runs), 1);
    assert_true(pthread_equal(first.run_thread, second.run_thread));
    assert_int_equal(thread_count(), threads + 1);

    assert_int_equal(bounded_call_destroy(bc), 1);
    assert_int_equal(settle_threads(threads), threads);
    /* collected jobs are the caller's: the destroy releases none */
    assert_int_equal(atomic_load(&first.releases), 0);
    assert_int_equal(atomic_load(&second.releases), 0);
}

/* A held job: unanswered after the bound, over once the gate opens. */
static void test_bounded_call_times_out(void **state)
{
    struct probe pr = {0};
    struct bounded_call *bc = NULL;
    double started;

    (void)state;
    assert_int_equal(bounded_call_new(&bc), 0);
    probe_start(bc, &pr, 0);

    started = kafka_monotonic_s();
    assert_int_equal(bounded_call_wait(bc, TEST_SHORT_MS, NULL), 0);
    assert_true(kafka_monotonic_s() - started >= TEST_SHORT_MS / 1000.0 -
                                                     0.01);
    assert_true(kafka_monotonic_s() - started <
                TEST_SHORT_MS / 1000.0 + TEST_SLACK_S);
    assert_int_equal(bounded_call_busy(bc), 1);
    assert_int_equal(atomic_load(&pr.runs), 0);

    atomic_store(&pr.gate_open, 1);
    assert_int_equal(bounded_call_wait(bc, TEST_LONG_MS, NULL), 1);
    assert_int_equal(atomic_load(&pr.runs), 1);
    assert_int_equal(bounded_call_destroy(bc), 1);
    assert_int_equal(atomic_load(&pr.releases), 0);
}

/* A stop set before a long wait ends it after its first step, not at
 * its bound; the job is left running. */
static void test_bounded_call_stop_ends_wait(void **state)
{
    volatile sig_atomic_t stop = 1;
    struct probe pr = {0};
    struct bounded_call *bc = NULL;
    double started, took;

    (void)state;
    assert_int_equal(bounded_call_new(&bc), 0);
    probe_start(bc, &pr, 0);

    started = kafka_monotonic_s();
    assert_int_equal(bounded_call_wait(bc, TEST_LONG_MS, &stop), 0);
    took = kafka_monotonic_s() - started;
    assert_true(took >= BOUNDED_CALL_STEP_MS / 1000.0 - 0.01);
    assert_true(took < BOUNDED_CALL_STEP_MS / 1000.0 + TEST_SLACK_S);

    atomic_store(&pr.gate_open, 1);
    assert_int_equal(bounded_call_wait(bc, TEST_LONG_MS, &stop), 1);
    assert_int_equal(bounded_call_destroy(bc), 1);
}

/* The caller leaves while the job runs: nothing released until the job
 * ends, then once, on the worker's thread, which is gone after it. */
static void test_bounded_call_caller_leaves_first(void **state)
{
    struct probe pr = {0};
    struct bounded_call *bc = NULL;
    int threads = thread_count();

    (void)state;
    assert_int_equal(bounded_call_new(&bc), 0);
    probe_start(bc, &pr, 0);
    assert_int_equal(bounded_call_wait(bc, TEST_SHORT_MS, NULL), 0);

    assert_int_equal(bounded_call_destroy(bc), 0);
    usleep(TEST_SHORT_MS * 1000);
    assert_int_equal(atomic_load(&pr.releases), 0);
    assert_int_equal(thread_count(), threads + 1);

    atomic_store(&pr.gate_open, 1);
    assert_int_equal(settle_count(&pr.releases, 1), 1);
    assert_true(pthread_equal(pr.release_thread, pr.run_thread));
    assert_int_equal(settle_threads(threads), threads);
    assert_int_equal(atomic_load(&pr.runs), 1);
    assert_int_equal(atomic_load(&pr.releases), 1);
}

/* The job ends before the caller looks again: the caller's destroy
 * finds it over, releases it on the caller's thread and ends the
 * worker. */
static void test_bounded_call_worker_leaves_first(void **state)
{
    struct probe pr = {0};
    struct bounded_call *bc = NULL;
    int threads = thread_count();

    (void)state;
    assert_int_equal(bounded_call_new(&bc), 0);
    probe_start(bc, &pr, 0);
    assert_int_equal(bounded_call_wait(bc, TEST_SHORT_MS, NULL), 0);

    atomic_store(&pr.gate_open, 1);
    assert_int_equal(settle_count(&pr.runs, 1), 1);
    usleep(TEST_SHORT_MS * 1000); /* past the worker's own bookkeeping */
    assert_int_equal(atomic_load(&pr.releases), 0);

    assert_int_equal(bounded_call_destroy(bc), 1);
    assert_int_equal(atomic_load(&pr.releases), 1);
    assert_true(pthread_equal(pr.release_thread, pthread_self()));
    assert_int_equal(settle_threads(threads), threads);
}

/* No job ever: the destroy ends the thread and releases nothing. */
static void test_bounded_call_idle_destroy(void **state)
{
    struct bounded_call *bc = NULL;
    int threads = thread_count();

    (void)state;
    assert_int_equal(bounded_call_destroy(NULL), 1);
    assert_int_equal(bounded_call_new(&bc), 0);
    assert_int_equal(bounded_call_destroy(bc), 1);
    assert_int_equal(settle_threads(threads), threads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_call_finishes_in_time),
        cmocka_unit_test(test_bounded_call_times_out),
        cmocka_unit_test(test_bounded_call_stop_ends_wait),
        cmocka_unit_test(test_bounded_call_caller_leaves_first),
        cmocka_unit_test(test_bounded_call_worker_leaves_first),
        cmocka_unit_test(test_bounded_call_idle_destroy),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
