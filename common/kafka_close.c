/*
 * common/kafka_close.c - a consumer's close waited for a bounded time,
 * see kafka_close.h.
 */
#include "common/kafka_close.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

/* One close on its own thread. Whoever sees the other gone frees it:
 * the waiter when the close ended in time, the close's thread when the
 * waiter stopped waiting (abandoned). */
struct close_job {
    rd_kafka_t *rk;
    void (*release)(void *);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
    int abandoned;
};

static void close_job_free(struct close_job *job)
{
    pthread_cond_destroy(&job->done_cond);
    pthread_mutex_destroy(&job->lock);
    free(job);
}

static void *close_job_run(void *opaque)
{
    struct close_job *job = opaque;
    int abandoned;

    (void)rd_kafka_consumer_close(job->rk); /* leaving is best effort */
    rd_kafka_destroy(job->rk);

    pthread_mutex_lock(&job->lock);
    job->done = 1;
    abandoned = job->abandoned;
    pthread_cond_signal(&job->done_cond);
    pthread_mutex_unlock(&job->lock);

    if (abandoned) {
        /* nobody waits any more: what the callbacks reached goes now */
        if (job->release)
            job->release(job->arg);
        close_job_free(job);
    }
    return NULL;
}

int kafka_close_bounded(rd_kafka_t *rk, int wait_s, void (*release)(void *),
                        void *arg, const char *owner)
{
    struct close_job *job = calloc(1, sizeof(*job));
    struct timespec until;
    pthread_t thread;
    int rc = 0, done;

    if (job) {
        job->rk = rk;
        job->release = release;
        job->arg = arg;
        pthread_mutex_init(&job->lock, NULL);
        pthread_cond_init(&job->done_cond, NULL);
    }
    if (!job || pthread_create(&thread, NULL, close_job_run, job) != 0) {
        if (job)
            close_job_free(job);
        (void)rd_kafka_consumer_close(rk); /* as without a bound */
        rd_kafka_destroy(rk);
        if (release)
            release(arg);
        return 1;
    }

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_s;
    pthread_mutex_lock(&job->lock);
    while (!job->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&job->done_cond, &job->lock, &until);
    done = job->done;
    job->abandoned = !done;
    pthread_mutex_unlock(&job->lock);

    if (!done) {
        log_info(owner, "not waiting for the group's close any longer "
                 "(%d s; a commit was left unanswered at the stop)", wait_s);
        pthread_detach(thread);
        return 0; /* the close's thread frees job and arg */
    }
    pthread_join(thread, NULL);
    close_job_free(job);
    if (release)
        release(arg);
    return 1;
}
