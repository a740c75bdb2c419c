/*
 * common/broker_wait.c - a wait on the brokers that a stop request ends,
 * see broker_wait.h.
 */
#include "common/broker_wait.h"

#include <stdio.h>

#include "common/err.h"
#include "common/log.h"

void broker_wait_start(struct broker_wait *w, const char *component,
                       const char *brokers,
                       const volatile sig_atomic_t *stop, double now_s)
{
    w->component = component;
    w->brokers = brokers;
    w->stop = stop;
    w->started_s = w->warned_s = now_s;
}

int broker_wait_again(struct broker_wait *w, double now_s, const char *what,
                      int *err, char *errstr, size_t errstr_size)
{
    if (*err != RIFFLE_ERR_TIMEOUT)
        return 0;

    if (w->stop && *w->stop &&
        now_s - w->started_s >= BROKER_WAIT_STOP_GRACE_S) {
        snprintf(errstr, errstr_size, "the brokers (%s) did not answer in "
                 "time to %s before the stop", w->brokers, what);
        *err = RIFFLE_ERR_STOPPED;
        return 0;
    }
    if (now_s - w->warned_s >= BROKER_WAIT_WARN_S) {
        log_warn(w->component, "waiting for the brokers (%s) to %s: %s",
                 w->brokers, what, errstr);
        w->warned_s = now_s;
    }
    return 1;
}
