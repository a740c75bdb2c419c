/*
 * common/bounded_call.c - a call made on a worker thread and waited for
 * a bounded time, see bounded_call.h.
 *
 * The worker sleeps on work_cond until a job is handed over or its
 * caller ends it, runs the job outside the lock, and signals done_cond.
 * The waits use the monotonic clock, so that a change of the wall clock
 * neither ends nor stretches them.
 */
#include "common/bounded_call.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"

#define NS_PER_S 1000000000L
#define NS_PER_MS 1000000L

struct bounded_call {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* worker: a job was started, or ending */
    pthread_cond_t done_cond; /* waiter: the job is over */
    struct bounded_call_job job;
    int started; /* a job was handed over and not yet collected */
    int done;    /* ... and it is over */
    int ending;  /* the caller ended an idle worker: it returns */
    int left;    /* the caller left while the job ran: it frees all */
};

static void bounded_call_free(struct bounded_call *bc)
{
    pthread_cond_destroy(&bc->done_cond);
    pthread_cond_destroy(&bc->work_cond);
    pthread_mutex_destroy(&bc->lock);
    free(bc);
}

/* The worker's loop: one job after the other, until the caller ends it
 * (returns, to be joined) or leaves it in a job (frees everything). */
static void *bounded_call_run(void *opaque)
{
    struct bounded_call *bc = opaque;
    struct bounded_call_job job;

    pthread_mutex_lock(&bc->lock);
    for (;;) {
        while (!(bc->started && !bc->done) && !bc->ending)
            pthread_cond_wait(&bc->work_cond, &bc->lock);
        if (!(bc->started && !bc->done))
            break; /* ending, nothing left to run */

        job = bc->job;
        pthread_mutex_unlock(&bc->lock);
        job.run(job.arg);
        pthread_mutex_lock(&bc->lock);

        bc->done = 1;
        if (bc->left) {
            /* nobody waits for the outcome any more */
            pthread_mutex_unlock(&bc->lock);
            if (job.release)
                job.release(job.arg);
            bounded_call_free(bc);
            return NULL;
        }
        pthread_cond_signal(&bc->done_cond);
    }
    pthread_mutex_unlock(&bc->lock);
    return NULL;
}

int bounded_call_new(struct bounded_call **out)
{
    struct bounded_call *bc = calloc(1, sizeof(*bc));
    pthread_condattr_t attr;
    int rc;

    if (!bc)
        return RIFFLE_ERR_NOMEM;

    pthread_mutex_init(&bc->lock, NULL);
    pthread_cond_init(&bc->work_cond, NULL);
    pthread_condattr_init(&attr);
    (void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* Linux has it */
    pthread_cond_init(&bc->done_cond, &attr);
    pthread_condattr_destroy(&attr);

    rc = pthread_create(&bc->thread, NULL, bounded_call_run, bc);
    if (rc != 0) {
        bounded_call_free(bc);
        return RIFFLE_ERR_NOMEM;
    }
    *out = bc;
    return 0;
}

void bounded_call_start(struct bounded_call *bc,
                        const struct bounded_call_job *job)
{
    pthread_mutex_lock(&bc->lock);
    assert(!bc->started); /* one job at a time */
    bc->job = *job;
    bc->started = 1;
    bc->done = 0;
    pthread_cond_signal(&bc->work_cond);
    pthread_mutex_unlock(&bc->lock);
}

int bounded_call_busy(const struct bounded_call *bc)
{
    return bc->started; /* written by the caller's thread only */
}

/* now + ms on the monotonic clock. */
static struct timespec after_ms(const struct timespec *now, long ms)
{
    struct timespec t = *now;

    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * NS_PER_MS;
    if (t.tv_nsec >= NS_PER_S) {
        t.tv_sec++;
        t.tv_nsec -= NS_PER_S;
    }
    return t;
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int bounded_call_wait(struct bounded_call *bc, int wait_ms,
                      const volatile sig_atomic_t *stop)
{
    struct timespec now, deadline, step_end;
    int done;

    clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = after_ms(&now, wait_ms > 0 ? wait_ms : 0);
    step_end = after_ms(&now, BOUNDED_CALL_STEP_MS);
    if (before(&deadline, &step_end))
        step_end = deadline;

    pthread_mutex_lock(&bc->lock);
    while (!bc->done) {
        if (pthread_cond_timedwait(&bc->done_cond, &bc->lock, &step_end) !=
            ETIMEDOUT)
            continue; /* woken: done, or spurious */
        if (!before(&step_end, &deadline) || (stop && *stop))
            break;
        step_end = after_ms(&step_end, BOUNDED_CALL_STEP_MS);
        if (before(&deadline, &step_end))
            step_end = deadline;
    }
    done = bc->done;
    if (done)
        bc->started = 0; /* collected: the job's arg is the caller's */
    pthread_mutex_unlock(&bc->lock);
    return done;
}

int bounded_call_destroy(struct bounded_call *bc)
{
    struct bounded_call_job job;
    int uncollected;

    if (!bc)
        return 1;

    pthread_mutex_lock(&bc->lock);
    if (bc->started && !bc->done) {
        bc->left = 1;
        pthread_mutex_unlock(&bc->lock);
        pthread_detach(bc->thread); /* it frees itself at the job's end */
        return 0;
    }
    bc->ending = 1;
    uncollected = bc->started;
    job = bc->job;
    pthread_cond_signal(&bc->work_cond);
    pthread_mutex_unlock(&bc->lock);

    pthread_join(bc->thread, NULL);
    bounded_call_free(bc);
    if (uncollected && job.release)
        job.release(job.arg);
    return 1;
}
