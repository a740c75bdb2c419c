/*
 * common/progress.h - progress of a long command: a bar with the rate and
 * the time left on a terminal, plain periodic log lines otherwise.
 *
 * Used by `produce`, `train` and `dlq replay`. On a terminal (stderr is a
 * tty) one line is redrawn in place a few times a second; elsewhere (a
 * pipe, a log collector) an info line is logged every few seconds, so
 * logs are not flooded with carriage returns. The fraction done may be
 * unknown (a stream without an end); the bar and the time left are then
 * left out. Single-threaded: the command's thread.
 */
#ifndef RIFFLE_COMMON_PROGRESS_H
#define RIFFLE_COMMON_PROGRESS_H

#include <stddef.h>

#define PROGRESS_TTY_EVERY_S 0.2 /* redraws per second on a terminal */
#define PROGRESS_LOG_EVERY_S 5.0 /* a log line this often otherwise */
#define PROGRESS_BAR_WIDTH 24    /* characters inside the brackets */
#define PROGRESS_MIN_ETA_S 1.0   /* seconds run before a time left shows */

struct progress {
    const char *component; /* static: "produce", "train", "replay" */
    const char *unit;      /* static: "rows", "events", ... */
    int tty;               /* draw a bar; else log lines */
    int shown;             /* lines or frames shown so far */
    double started, last_shown;
};

/* enabled = 0 turns everything off (--no-progress); tty is decided
 * here from stderr. */
void progress_start(struct progress *p, const char *component,
                    const char *unit, int enabled);

/* Shows done units (fraction of the whole in [0, 1], or < 0 when
 * unknown) and detail (may be NULL or ""), when one is due or final is
 * set. The final call ends the terminal line; off a terminal it logs a
 * last line only when periodic ones were logged before. */
void progress_show(struct progress *p, long long done, double fraction,
                   const char *detail, int final);

/* Whether progress_show() would show something now: lets a caller skip
 * computing an expensive fraction between lines. */
int progress_due(const struct progress *p, int final);

/* Writes the line progress_show() would draw into out (size bytes), for
 * tests: elapsed seconds are given instead of read from the clock. */
void progress_format(char *out, size_t size, const struct progress *p,
                     long long done, double fraction, double elapsed,
                     const char *detail);

/* The rate of count units counted since from_s, the last of them at
 * last_s, the clock now at now_s (all in seconds on one clock): over the
 * span the units came in, so that a wait after the last one (a stream
 * that ended, a stop awaited) does not make a fast run read slow. No
 * unit since from_s, or a span under PROGRESS_RATE_MIN_S, gives 0. */
#define PROGRESS_RATE_MIN_S 0.001
double progress_rate(unsigned long long count, double from_s, double last_s,
                     double now_s);

#endif
