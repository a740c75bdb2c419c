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
#define _GNU_SOURCE /* fputs_unlocked() */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

static void tap_close(void)
{
    if (tap && fclose(tap) != 0)
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
            setvbuf(tap, NULL, _IOFBF, TAP_BUFFER_BYTES);
            atexit(tap_close);
        }
    }
    if (!tap || err)
        return;
    /* Unlocked: only train's learning thread gets here, and the stream
     * lock taken twice per line was a tenth of the tap's cost. */
    if (res->dead_letter) {
        fputs_unlocked("nan\n", tap);
    } else {
        char text[NUMFMT_MAX];

        fputs_unlocked(numfmt_double(res->probability, text, sizeof(text)),
                       tap);
        putc_unlocked('\n', tap);
    }
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
