/*
 * common/broker_wait.h - a wait on the brokers that a stop request ends.
 *
 * `riffle learn` and `riffle serve` wait for the brokers as long as it
 * takes (registering the transactional id, committing or aborting a
 * transaction, acknowledgements): nothing is lost meanwhile. librdkafka's
 * calls block for the timeout they are given, so a wait is made of calls
 * of BROKER_WAIT_SLICE_MS each, and between two of them the stop flag
 * (SIGTERM, SIGINT) is looked at: a stop ends the wait instead of the
 * next slice. It only decides and logs; the calls are the caller's. Used
 * on the caller's own thread.
 */
#ifndef RIFFLE_COMMON_BROKER_WAIT_H
#define RIFFLE_COMMON_BROKER_WAIT_H

#include <signal.h>
#include <stddef.h>

/* One call of a wait: a stop is seen at most this much later. The
 * transactional calls resume where they were (librdkafka), so short
 * calls cost nothing but a wake-up each. */
#define BROKER_WAIT_SLICE_MS 1000
/* A wait that goes on says so this often. */
#define BROKER_WAIT_WARN_S 30.0
/* A stop ends a wait once the wait has lasted this long: one begun at
 * the stop (the last commit) gets this long to be answered by a slow but
 * present broker (a commit took up to ~1 s on this 2-core machine at
 * load 15); one that began long before, in an outage, ends within a
 * slice. */
#define BROKER_WAIT_STOP_GRACE_S 3.0

/* The fields belong to broker_wait.c; it is a struct only so that
 * callers can keep one on their stack. */
struct broker_wait {
    const char *component; /* borrowed: the log lines' component */
    const char *brokers;   /* borrowed: named in the log lines */
    const volatile sig_atomic_t *stop; /* borrowed; NULL: never stops */
    double started_s;
    double warned_s;
};

/* Starts a wait at now_s (a monotonic clock, in seconds). */
void broker_wait_start(struct broker_wait *w, const char *component,
                       const char *brokers,
                       const volatile sig_atomic_t *stop, double now_s);

/* After one call of the wait returned *err (with errstr), at now_s:
 * returns 1 when the call is to be made again, that is when *err is
 * RIFFLE_ERR_TIMEOUT (the brokers have not answered yet) and no stop
 * ends the wait; it then logs a warning, "waiting for the brokers (B)
 * to <what>: <errstr>", once every BROKER_WAIT_WARN_S. Returns 0 when
 * the wait is over: *err is then the call's own result, or
 * RIFFLE_ERR_STOPPED when a stop ended it, with errstr saying what was
 * not done ("the brokers (B) did not answer in time to <what> before
 * the stop"). what is borrowed, e.g. "commit a batch of 42 events". */
int broker_wait_again(struct broker_wait *w, double now_s, const char *what,
                      int *err, char *errstr, size_t errstr_size);

#endif
