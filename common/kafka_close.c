/*
 * common/kafka_close.c - a consumer's close waited for a bounded time,
 * see kafka_close.h.
 */
#include "common/kafka_close.h"

#include <stdlib.h>

#include "common/bounded_call.h"
#include "common/log.h"

#define MS_PER_S 1000

/* One close, run by a worker of common/bounded_call.c; released by
 * whichever thread sees it end. */
struct close_job {
    rd_kafka_t *rk;
    void (*release)(void *);
    void *arg;
};

static void close_job_run(void *opaque)
{
    struct close_job *job = opaque;

    (void)rd_kafka_consumer_close(job->rk); /* leaving is best effort */
    rd_kafka_destroy(job->rk);
}

/* What the callbacks reached goes once the close is over, and the job. */
static void close_job_release(void *opaque)
{
    struct close_job *job = opaque;

    if (job->release)
        job->release(job->arg);
    free(job);
}

int kafka_close_bounded(rd_kafka_t *rk, int wait_s, void (*release)(void *),
                        void *arg, const char *owner)
{
    struct close_job *job = malloc(sizeof(*job));
    struct bounded_call *worker = NULL;
    struct bounded_call_job call = {close_job_run, close_job_release, job};
    int over;

    if (!job || bounded_call_new(&worker) != 0) {
        free(job);
        (void)rd_kafka_consumer_close(rk); /* as without a bound */
        rd_kafka_destroy(rk);
        if (release)
            release(arg);
        return 1;
    }
    job->rk = rk;
    job->release = release;
    job->arg = arg;

    bounded_call_start(worker, &call);
    over = bounded_call_wait(worker, wait_s * MS_PER_S, NULL);
    if (!over)
        log_info(owner, "not waiting for the group's close any longer "
                 "(%d s; a commit was left unanswered at the stop)", wait_s);

    /* over: the job is ours again; else the worker releases it */
    (void)bounded_call_destroy(worker);
    if (over)
        close_job_release(job);
    return over;
}
