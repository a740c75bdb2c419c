/*
 * common/log_limit.c - an allowance of log lines per time window, see
 * log_limit.h.
 */
#include "common/log_limit.h"

void log_limit_init(struct log_limit *l, unsigned per_window,
                    double window_s)
{
    l->window_s = window_s;
    l->per_window = per_window;
    l->window_start_s = -1.0;
    l->used = 0;
    l->held_back = 0;
}

int log_limit_take(struct log_limit *l, double now_s,
                   unsigned long long *held_back)
{
    *held_back = 0;

    /* A new window: the count of the last one's held-back lines goes to
     * the caller now, while lines flow again. */
    if (l->window_start_s < 0 || now_s - l->window_start_s >= l->window_s) {
        *held_back = l->held_back;
        l->held_back = 0;
        l->window_start_s = now_s;
        l->used = 0;
    }

    if (l->used >= l->per_window) {
        l->held_back++;
        return 0;
    }
    l->used++;
    return 1;
}
