/*
 * common/log_limit.h - an allowance of log lines per time window.
 *
 * Some log lines are caused by whoever reaches a port: libmicrohttpd
 * complains once or twice about every malformed HTTP request. A client
 * sending thousands of them must not fill the disk or bury the lines
 * that matter, so such lines go through an allowance: at most
 * per_window lines in each window of window_s seconds, and the count of
 * the lines held back is handed out once, for a single line saying so.
 * Not thread-safe: a caller with several threads holds its own lock.
 */
#ifndef RIFFLE_COMMON_LOG_LIMIT_H
#define RIFFLE_COMMON_LOG_LIMIT_H

struct log_limit {
    double window_s;
    unsigned per_window;
    double window_start_s; /* negative: no window begun */
    unsigned used;
    unsigned long long held_back;
};

void log_limit_init(struct log_limit *l, unsigned per_window,
                    double window_s);

/* Asks for one line at now_s (a monotonic clock, in seconds). Returns 1
 * when it may be written, 0 when it is held back. *held_back is set to
 * the number of lines held back in the windows before this one, once,
 * when a new window begins (0 otherwise): the caller says so in a line
 * of its own. */
int log_limit_take(struct log_limit *l, double now_s,
                   unsigned long long *held_back);

#endif
