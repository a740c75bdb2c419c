/*
 * common/progress.c - progress bars and lines, see progress.h.
 */
#include "common/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/log.h"

void progress_start(struct progress *p, const char *component,
                    const char *unit, int enabled)
{
    memset(p, 0, sizeof(*p));
    p->component = enabled ? component : NULL;
    p->unit = unit;
    p->tty = enabled && isatty(STDERR_FILENO);
    p->started = kafka_monotonic_s();
    /* A terminal gets its first frame at once; a log its first line only
     * after a full period, so short runs log nothing. */
    p->last_shown = p->tty ? 0 : p->started;
}

/* "1 h 02 min", "3 min 05 s", "42 s" */
static void format_duration(char *out, size_t size, double s)
{
    long t = lround(s);

    if (t >= 3600)
        snprintf(out, size, "%ld h %02ld min", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(out, size, "%ld min %02ld s", t / 60, t % 60);
    else
        snprintf(out, size, "%ld s", t);
}

void progress_format(char *out, size_t size, const struct progress *p,
                     long long done, double fraction, double elapsed,
                     const char *detail)
{
    char bar[PROGRESS_BAR_WIDTH + 1], left[32] = "";
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    int filled, i, known = fraction >= 0;
    size_t n = 0;

    if (known && fraction > 1)
        fraction = 1;
    if (known) {
        filled = (int)(fraction * PROGRESS_BAR_WIDTH);
        for (i = 0; i < PROGRESS_BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[PROGRESS_BAR_WIDTH] = '\0';
        /* Below a second of history the estimate is noise. */
        if (fraction > 0 && elapsed >= PROGRESS_MIN_ETA_S)
            format_duration(left, sizeof(left),
                            elapsed * (1 - fraction) / fraction);
        n = (size_t)snprintf(out, size, "[%s] %3.0f%% ", bar,
                             fraction * 100);
    }
    if (n < size)
        n += (size_t)snprintf(out + n, size - n, "%lld %s, %.0f/s", done,
                              p->unit, rate);
    if (n < size && left[0])
        n += (size_t)snprintf(out + n, size - n, ", %s left", left);
    if (n < size && detail && detail[0])
        snprintf(out + n, size - n, "; %s", detail);
}

int progress_due(const struct progress *p, int final)
{
    if (!p->component)
        return 0;
    /* A run too short for one periodic line ends without one: the
     * command's own summary says it all. */
    if (final)
        return p->tty || p->shown;
    return kafka_monotonic_s() - p->last_shown >=
           (p->tty ? PROGRESS_TTY_EVERY_S : PROGRESS_LOG_EVERY_S);
}

void progress_show(struct progress *p, long long done, double fraction,
                   const char *detail, int final)
{
    double now = kafka_monotonic_s();
    char line[512];

    if (!progress_due(p, final))
        return;
    p->last_shown = now;
    p->shown = 1;

    progress_format(line, sizeof(line), p, done, final ? -1 : fraction,
                    now - p->started, detail);
    if (p->tty)
        /* \033[K clears what a longer previous line left behind. */
        fprintf(stderr, "\r%s: %s\033[K%s", p->component, line,
                final ? "\n" : "");
    else
        log_info(p->component, "%s", line);
}

double progress_rate(unsigned long long count, double from_s, double last_s,
                     double now_s)
{
    double span = (last_s > from_s ? last_s : now_s) - from_s;

    return count > 0 && span >= PROGRESS_RATE_MIN_S ? (double)count / span
                                                    : 0.0;
}
