/*
 * common/rebuild_guard.c - the bound on in-process rebuilds of failed
 * Kafka clients, see rebuild_guard.h.
 */
#include "common/rebuild_guard.h"

#include <stdio.h>

#include "common/err.h"

int rebuild_guard_admit(struct rebuild_guard *g, double now_s,
                        const char *role, const char *id,
                        const char *advice, const char *why, char *errstr,
                        size_t errstr_size)
{
    /* the ring's slot to be overwritten holds the oldest of the last
     * REBUILD_GUARD_MAX rebuilds */
    double *oldest = &g->at_s[g->rebuilds % REBUILD_GUARD_MAX];

    if (g->rebuilds >= REBUILD_GUARD_MAX &&
        now_s - *oldest < REBUILD_GUARD_WINDOW_S) {
        snprintf(errstr, errstr_size, "the Kafka clients failed for good %d "
                 "times in %.0f s: another live %s seems to use "
                 "transactional id and group instance id %s, and the two "
                 "fence each other; stopping this one (%s); last failure: "
                 "%s", REBUILD_GUARD_MAX + 1, now_s - *oldest, role, id,
                 advice, why);
        return RIFFLE_ERR_KAFKA;
    }
    *oldest = now_s;
    g->rebuilds++;
    return 0;
}

unsigned long long rebuild_guard_count(const struct rebuild_guard *g)
{
    return g->rebuilds;
}
