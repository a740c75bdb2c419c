/*
 * bench/riffle_tap.c - writes each progressive prediction of `riffle
 * train` to a file, for the benchmark.
 *
 * The benchmark scores every tool's per-event predictions the same way,
 * and each peer writes a bare probability per line. `riffle train
 * --predictions` writes a JSON line per event (id, value, class, label,
 * model version), which costs more than learning the event, so it would
 * not compare like with like (docs/BENCHMARKS.md). bench/run links this
 * file with the very objects of build/riffle
 * (build/CMakeFiles/riffle.dir/link.txt) and the linker's --wrap for the
 * learner's per-event entry points, so the tapped binary runs riffle's own
 * train loop unchanged and, after each event is predicted and learned,
 * appends the probability given before learning to the file named by
 * RIFFLE_BENCH_PREDICTIONS, one per line, in the text riffle's own
 * outputs use (numfmt_double(): the shortest that reads back as the same
 * double, as `train --predictions` writes it). A dead-lettered event
 * writes "nan" so lines stay aligned with input rows. Without the
 * variable nothing is written. Runs on train's learning thread only
 * (its CSV reader thread never calls the learner).
 *
 * The cost is one number formatted and written per event; bench/run also
 * times plain build/riffle on the small sets to show it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/numfmt.h"
#include "learner/online.h"

#define TAP_BUFFER_BYTES (1 << 20)

int __real_online_process(struct online_learner *ol, const void *data,
                          size_t len, struct online_result *res);
int __real_online_process_event(struct online_learner *ol, struct event *ev,
                                struct online_result *res);
int __wrap_online_process(struct online_learner *ol, const void *data,
                          size_t len, struct online_result *res);
int __wrap_online_process_event(struct online_learner *ol, struct event *ev,
                                struct online_result *res);

static FILE *tap;
static int tap_opened;
/* The lines are gathered here and written a megabyte at a time: a line
 * through stdio (fputs, then putc) cost a sixth of the tap, as much as
 * gathering it here costs in all. */
static char tap_lines[TAP_BUFFER_BYTES];
static size_t tap_used;

static void tap_flush(void)
{
    if (tap_used > 0 && fwrite(tap_lines, 1, tap_used, tap) != tap_used) {
        fprintf(stderr, "riffle_tap: writing the predictions failed\n");
        exit(1);
    }
    tap_used = 0;
}

static void tap_close(void)
{
    if (!tap)
        return;
    tap_flush();
    if (fclose(tap) != 0)
        fprintf(stderr, "riffle_tap: writing the predictions failed\n");
    tap = NULL;
}

static void tap_write(int err, const struct online_result *res)
{
    const char *path;

    if (!tap_opened) {
        tap_opened = 1;
        path = getenv("RIFFLE_BENCH_PREDICTIONS");
        if (path && *path) {
            tap = fopen(path, "w");
            if (!tap) {
                perror(path);
                exit(1);
            }
            atexit(tap_close);
        }
    }
    if (!tap || err)
        return;
    /* Only train's learning thread gets here: no lock. The number is
     * written straight into the buffer (numfmt_double() writes into
     * out when it has NUMFMT_MAX bytes). */
    if (tap_used + NUMFMT_MAX + 1 > sizeof(tap_lines))
        tap_flush();
    if (res->dead_letter) {
        memcpy(tap_lines + tap_used, "nan", 3);
        tap_used += 3;
    } else {
        tap_used += strlen(numfmt_double(res->probability,
                                         tap_lines + tap_used, NUMFMT_MAX));
    }
    tap_lines[tap_used++] = '\n';
}

int __wrap_online_process(struct online_learner *ol, const void *data,
                          size_t len, struct online_result *res)
{
    int err = __real_online_process(ol, data, len, res);

    tap_write(err, res);
    return err;
}

int __wrap_online_process_event(struct online_learner *ol, struct event *ev,
                                struct online_result *res)
{
    int err = __real_online_process_event(ol, ev, res);

    tap_write(err, res);
    return err;
}
