/*
 * common/rebuild_guard.h - the bound on in-process rebuilds of Kafka
 * clients that failed for good.
 *
 * `riffle learn` and `riffle serve` replace a fenced or failed producer
 * and consumer in-process, as a supervisor's restart would. A broker
 * restart or a long pause fences a process once in a while; two live
 * processes sharing one transactional id (and static group member id)
 * fence each other over and over, within seconds, and would go on for
 * ever. The guard lets REBUILD_GUARD_MAX rebuilds happen in any
 * REBUILD_GUARD_WINDOW_S; the next failure in that window is refused
 * with an error naming the id the two seem to share, and the process
 * stops, leaving the other to go on alone. It only counts: building the
 * clients is the caller's. Used on the caller's own thread.
 */
#ifndef RIFFLE_COMMON_REBUILD_GUARD_H
#define RIFFLE_COMMON_REBUILD_GUARD_H

#include <stddef.h>

/* Fatal errors a healthy process meets (a restarted broker, a pause
 * longer than the transaction timeout) are minutes apart; a zombie's
 * come within a second or two of each other. */
#define REBUILD_GUARD_MAX 3
#define REBUILD_GUARD_WINDOW_S 600.0

/* Zeroed, a guard that has allowed nothing yet. The fields belong to
 * rebuild_guard.c; it is a struct only so that callers can embed it. */
struct rebuild_guard {
    unsigned long long rebuilds;    /* allowed so far */
    double at_s[REBUILD_GUARD_MAX]; /* when the last ones were, a ring */
};

/* Asks for one more rebuild at now_s (a monotonic clock, in seconds).
 * Returns 0 and counts it when fewer than REBUILD_GUARD_MAX were allowed
 * in the REBUILD_GUARD_WINDOW_S before now_s. Else RIFFLE_ERR_KAFKA with
 * errstr saying that another live role (e.g. "learner") seems to use id
 * as its transactional and group instance id, with advice on what to
 * run instead and why, the failure that asked for the rebuild. Strings
 * are borrowed; why may not overlap errstr. */
int rebuild_guard_admit(struct rebuild_guard *g, double now_s,
                        const char *role, const char *id,
                        const char *advice, const char *why, char *errstr,
                        size_t errstr_size);

/* Rebuilds allowed so far. */
unsigned long long rebuild_guard_count(const struct rebuild_guard *g);

#endif
