/*
 * common/bounded_call.h - a call that may never return, made on a worker
 * thread and waited for a bounded time.
 *
 * Some librdkafka calls do not keep to their own timeout:
 * rd_kafka_send_offsets_to_transaction() while the group's coordinator
 * is down (librdkafka's issue 5456), rd_kafka_consumer_close() with a
 * commit in flight. Such a call is handed to a worker as a job; the
 * caller waits for it a bounded time, in steps between which a stop flag
 * is looked at, and learns whether it finished or goes on. A worker runs
 * one job at a time and may run many in turn (the publisher keeps one
 * for its life), so that a call made often costs no thread creation.
 *
 * Whoever leaves last frees: a job belongs to the worker from its start
 * until a wait sees it finished; a worker destroyed before that hands
 * the job to its release hook, at once when the job is over, else on the
 * worker's own thread when it ends, the worker then freeing itself. A
 * worker is owned by one thread, the caller's; the job runs on the
 * worker's. Does not know what the calls are and logs nothing.
 */
#ifndef RIFFLE_COMMON_BOUNDED_CALL_H
#define RIFFLE_COMMON_BOUNDED_CALL_H

#include <signal.h>

struct bounded_call;

/* What a job does, on the worker's thread, and how it is freed when its
 * caller left it (see bounded_call_destroy()). */
struct bounded_call_job {
    void (*run)(void *arg);
    void (*release)(void *arg); /* may be NULL: nothing to free */
    void *arg;                  /* borrowed until released */
};

/* Starts a worker thread, idle. Returns 0 with *out owned by the caller,
 * or RIFFLE_ERR_NOMEM when no memory or thread is to be had (*out
 * unchanged). */
int bounded_call_new(struct bounded_call **out);

/* Hands job (copied) to the idle worker bc, which runs it at once. The
 * worker must be idle: none started, or the last one seen finished by
 * bounded_call_wait(). */
void bounded_call_start(struct bounded_call *bc,
                        const struct bounded_call_job *job);

/* Whether a job was started and not yet seen finished by a wait. */
int bounded_call_busy(const struct bounded_call *bc);

/* Waits up to wait_ms for the job started on bc, in steps of at most
 * BOUNDED_CALL_STEP_MS; a stop flag (may be NULL: none) set when a step
 * ends ends the wait, so a stop is seen within a step while the first
 * step is always waited (a caller that asks again in a loop does not
 * spin). Returns 1 when the job is over: its arg is the caller's again
 * and the worker idle; 0 while it goes on (unanswered). */
int bounded_call_wait(struct bounded_call *bc, int wait_ms,
                      const volatile sig_atomic_t *stop);

/* Ends worker bc. An idle one, or one whose job is over, ends now: its
 * thread is joined, a job not collected by a wait is released here, and
 * 1 is returned. One whose job still runs is left to it: it releases the
 * job and frees itself on its own thread once the job ends, and 0 is
 * returned. Either way bc is the caller's no more. NULL-safe (1). */
int bounded_call_destroy(struct bounded_call *bc);

/* A stop is seen within this much of a wait: as the brokers' waits
 * (common/broker_wait.h). */
#define BOUNDED_CALL_STEP_MS 1000

#endif
