/*
 * producers/row_prefetch.c - CSV rows read and typed on a second thread,
 * see row_prefetch.h.
 *
 * A ring of ROW_PREFETCH_SLOTS events, filled in file order by the reader
 * thread (each typed, then hinted when there is a hint function) and
 * handed out one by one to the consumer. The two meet under
 * one mutex only once per ROW_PREFETCH_CHUNK rows: the reader publishes
 * how many slots it has filled, the consumer how many it is done with,
 * and each waits on the condition variable only when the ring is full
 * (reader) or empty (consumer). Slot i of the stream lives at
 * i % ROW_PREFETCH_SLOTS; counts only grow.
 */
#include "producers/row_prefetch.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

/* Events in flight: enough that neither thread waits on the other at
 * every chunk, few enough to stay in the caches (a slot is about 4.6 KiB
 * of fields and their hints plus its strings, so the ring is about
 * 1.2 MiB, of which a set of 15 fields touches a tenth). */
#define ROW_PREFETCH_SLOTS 256
/* Rows between two meetings of the threads: a lock pair a chunk costs
 * far less than the rows it covers. Divides ROW_PREFETCH_SLOTS. */
#define ROW_PREFETCH_CHUNK 32
/* A reader that found the ring full sleeps until this many slots are
 * free: woken for every freed chunk, the two threads switched about
 * 2,700 times on Adult's 32,561 rows, and the futex calls and switches
 * cost more CPU than the reading they moved off the learner's thread. */
#define ROW_PREFETCH_RESUME_ROOM (ROW_PREFETCH_SLOTS / 2)
/* Rows between two readings of the file's position for the progress
 * line (an lseek() system call), as train did on its own thread. */
#define ROW_PREFETCH_FRACTION_ROWS 1024

#define ROW_PREFETCH_WHY 512
#define CACHE_LINE 64 /* bytes, on every x86-64 and most arm64 cores */

/* Bytes of an event's arena prefetched: a row's copy, its id and a few
 * replacements (Adult's are about 300 bytes). */
#define ROW_PREFETCH_ARENA_BYTES 384

/* A slot starts a cache line, and its status shares the line with the
 * event's first fields: the reader writes both for every row and the
 * consumer reads both, and each line one writes and the other reads
 * moves between their cores (an unaligned slot, or a status after the
 * event, cost a line more a row). */
struct row_slot {
    _Alignas(CACHE_LINE) int status; /* 0, or RIFFLE_ERR_PARSE for a
                                        bad row */
    struct event ev;
};

struct row_prefetch {
    const struct cfg *cfg;
    const struct schema *schema;
    const struct produce_mapping *map;
    struct csv_reader *csv;
    const char *file;
    const char *component; /* of the bad rows' warnings */
    struct row_prefetch_hint hint; /* fn NULL: none */
    size_t fields; /* the schema's, for prefetch_next_event() */
    struct row_slot *slots; /* ROW_PREFETCH_SLOTS, or one when reading
                               on the caller's thread */
    pthread_t thread;
    int thread_started;
    long rows; /* read on the caller's thread: records so far */

    /* Shared, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t filled;   /* slots the reader has written */
    size_t released; /* slots the consumer is done with */
    int done;        /* no slot after filled will come */
    int end_err;     /* why: RIFFLE_ERR_EOF, _IO, ... */
    char end_why[ROW_PREFETCH_WHY];
    double fraction;
    int stop;
    int reader_waiting, consumer_waiting;

    /* The consumer's own. */
    size_t next;  /* the slot next() hands out next */
    size_t avail; /* filled, as last seen */
    double seen_fraction;
    int look_ahead; /* row_prefetch_look_ahead() was called */
};


/* Asks for the cache lines of bytes [p, p + n) to be loaded for writing.
 * Only a hint: nothing waits for the lines, and no address faults. */
static inline void prefetch_for_write(const void *p, size_t n)
{
    const char *c = p;
    size_t i;

    for (i = 0; i < n; i += CACHE_LINE)
        __builtin_prefetch(c + i, 1, 3);
}

/* Asks for the lines of ev that the next row, of `fields` fields, writes:
 * its values and hints, the fields after the arrays, and the start of
 * the arena. The learner's core read them last: asked for a row ahead,
 * their transfer to the reader's core overlaps the row before instead of
 * stalling the first write of each (Adult's `seconds` about 10% lower).
 * The learner asking for its next slot the same way, for reading, made
 * Elec2 13% faster but Adult 7% and click-through 3.5% slower: it asks
 * instead for a few lines of the slot after that (prefetch_hints()). */
static inline void prefetch_next_event(const struct event *ev,
                                       size_t fields)
{
    size_t arena = ev->arena.len < ROW_PREFETCH_ARENA_BYTES
                       ? ev->arena.len
                       : ROW_PREFETCH_ARENA_BYTES;

    prefetch_for_write(ev, offsetof(struct event, values) +
                               fields * sizeof(ev->values[0]));
    prefetch_for_write(ev->replacement,
                       fields * sizeof(ev->replacement[0]));
    if (ev->arena.data)
        prefetch_for_write(ev->arena.data, arena);
}

/* Asks, for reading, for the lines of slot s that the consumer reads
 * first: its status, and the fields' records with the hints by which a
 * look ahead finds the row's weights (struct value's hinted and
 * hint_hash, and replacement[]). Done for the slot two ahead of the one
 * handed out, published already and so no longer written, their
 * transfer from the reader's core overlaps a whole row: in the next
 * row's look ahead they had been the learner's longest stalls on
 * click-through (a third of the samples of the index walk). Its learner
 * thread's CPU time 45.1 -> 43.3 ms (medians, lower in 38 of 50
 * alternated runs), when the hints were arrays of their own. Only for a
 * consumer that looks ahead (row_prefetch_look_ahead()); the arena as
 * well is more lines than a row's time hides. */
static inline void prefetch_hints(const struct row_slot *s, size_t fields)
{
    const struct event *ev = &s->ev;
    size_t i, head = offsetof(struct row_slot, ev) +
                     offsetof(struct event, values) +
                     fields * sizeof(ev->values[0]);
    size_t tail = fields * sizeof(ev->replacement[0]);

    /* The slot starts a line, the status and the records with it. */
    for (i = 0; i < head; i += CACHE_LINE)
        __builtin_prefetch((const char *)s + i, 0, 3);
    for (i = 0; i < tail; i += CACHE_LINE)
        __builtin_prefetch((const char *)ev->replacement + i, 0, 3);
}

/* Reads one record into slot; returns 0 (also for a bad row, which is
 * logged and marked) or the error that ends the stream, with why set. */
static int read_row(struct row_prefetch *p, long *rows, struct row_slot *s,
                    char *why, size_t why_size)
{
    int err;

    /* The reader leaves why alone at the end of the file. */
    why[0] = '\0';
    err = csv_reader_next(p->csv, why, why_size);
    if (err == RIFFLE_ERR_EOF || err == RIFFLE_ERR_IO)
        return err;
    (*rows)++;
    if (err == RIFFLE_ERR_PARSE) {
        log_warn(p->component, "%s", why); /* already "file:line: ..." */
    } else {
        err = produce_row_to_event(p->cfg, p->schema, p->map, p->csv, *rows,
                                   &s->ev, why, why_size);
        if (err == RIFFLE_ERR_PARSE)
            log_warn(p->component, "%s:%ld: %s", p->file,
                     csv_reader_line(p->csv), why);
        /* Hints only save work: one that could not be made is computed
         * by the consumer, which meets the same shortage of memory if it
         * lasts. */
        if (err == 0 && p->hint.fn)
            (void)p->hint.fn(p->hint.arg, &s->ev);
    }
    s->status = err == RIFFLE_ERR_PARSE ? RIFFLE_ERR_PARSE : 0;
    return err == RIFFLE_ERR_PARSE ? 0 : err;
}

/* Waits for room for one chunk, or for ROW_PREFETCH_RESUME_ROOM once it
 * had to wait; returns 0, or 1 when told to stop. */
static int wait_for_room(struct row_prefetch *p, size_t written)
{
    int stop;

    pthread_mutex_lock(&p->lock);
    if (written + ROW_PREFETCH_CHUNK > p->released + ROW_PREFETCH_SLOTS)
        while (!p->stop && written + ROW_PREFETCH_RESUME_ROOM >
                               p->released + ROW_PREFETCH_SLOTS) {
            p->reader_waiting = 1;
            pthread_cond_wait(&p->changed, &p->lock);
            p->reader_waiting = 0;
        }
    stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

static void publish(struct row_prefetch *p, size_t written, int end,
                    const char *why, int have_fraction, double fraction)
{
    pthread_mutex_lock(&p->lock);
    p->filled = written;
    if (have_fraction)
        p->fraction = fraction;
    if (end) {
        p->done = 1;
        p->end_err = end;
        snprintf(p->end_why, sizeof(p->end_why), "%s", why);
    }
    if (p->consumer_waiting)
        pthread_cond_signal(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void *reader_main(void *arg)
{
    struct row_prefetch *p = arg;
    char why[ROW_PREFETCH_WHY];
    size_t written = 0, k;
    long rows = 0;
    int end = 0;

    while (!end && !wait_for_room(p, written)) {
        int have_fraction = 0;
        double fraction = 0.0;

        for (k = 0; k < ROW_PREFETCH_CHUNK && !end; k++) {
            if (k + 1 < ROW_PREFETCH_CHUNK) /* the next slot is free too */
                prefetch_next_event(
                    &p->slots[(written + 1) % ROW_PREFETCH_SLOTS].ev,
                    p->fields);
            end = read_row(p, &rows,
                           &p->slots[written % ROW_PREFETCH_SLOTS], why,
                           sizeof(why));
            written += !end;
        }
        if (written % ROW_PREFETCH_FRACTION_ROWS < ROW_PREFETCH_CHUNK) {
            fraction = csv_reader_fraction(p->csv);
            have_fraction = 1;
        }
        publish(p, written, end, why, have_fraction, fraction);
    }
    return NULL;
}

static void free_slots(struct row_slot *slots, size_t n)
{
    size_t i;

    if (!slots)
        return;
    for (i = 0; i < n; i++)
        event_free(&slots[i].ev);
    free(slots);
}

/* Starts the thread with every signal blocked in it, so that SIGINT and
 * SIGTERM reach the consumer (the command's handler) and no read of the
 * reader is cut short by one. */
static int start_thread(struct row_prefetch *p, char *errstr,
                        size_t errstr_size)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->thread, NULL, reader_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: cannot start the reader thread: %s",
                 p->file, strerror(rc));
        return RIFFLE_ERR_IO;
    }
    p->thread_started = 1;
    return 0;
}

int row_prefetch_start(const struct cfg *cfg, const struct schema *schema,
                       const struct produce_mapping *map,
                       struct csv_reader *csv, const char *file,
                       const char *component, int threaded, const struct row_prefetch_hint *hint,
                       struct row_prefetch **out, char *errstr,
                       size_t errstr_size)
{
    struct row_prefetch *p = calloc(1, sizeof(*p));
    size_t i, slots = threaded ? ROW_PREFETCH_SLOTS : 1;
    int err;

    if (!p)
        return RIFFLE_ERR_NOMEM;
    /* A multiple of CACHE_LINE, as aligned_alloc() asks: the struct is
     * aligned to it. */
    p->slots = aligned_alloc(CACHE_LINE, slots * sizeof(*p->slots));
    if (!p->slots) {
        free(p);
        return RIFFLE_ERR_NOMEM;
    }
    memset(p->slots, 0, slots * sizeof(*p->slots)); /* zeroed events are
                                                       valid */
    /* Rows hold raw personal values: growth and the free wipe them. */
    for (i = 0; i < slots; i++)
        buf_hold_secret(&p->slots[i].ev.arena);
    p->cfg = cfg;
    p->schema = schema;
    p->fields = schema_field_count(schema);
    p->map = map;
    p->csv = csv;
    p->file = file;
    p->component = component;
    /* On the caller's thread a hint would only move work within it. */
    if (hint && threaded)
        p->hint = *hint;
    p->fraction = -1.0;
    p->seen_fraction = -1.0;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);

    /* The logger reads its level from the environment on first use: do
     * it here, before two threads can race to. */
    (void)log_get_level();

    err = threaded ? start_thread(p, errstr, errstr_size) : 0;
    if (err) {
        row_prefetch_stop(p);
        return err;
    }
    *out = p;
    return 0;
}

/* Hands the slots before p->next back to the reader and, when none is
 * left to hand out, waits for more. Returns 0, or 1 at the end. */
static int refill(struct row_prefetch *p, int wait)
{
    int end = 0;

    pthread_mutex_lock(&p->lock);
    p->released = p->next;
    if (p->reader_waiting && p->filled + ROW_PREFETCH_RESUME_ROOM <=
                                 p->released + ROW_PREFETCH_SLOTS)
        pthread_cond_signal(&p->changed);
    while (wait && p->filled == p->next && !p->done) {
        p->consumer_waiting = 1;
        pthread_cond_wait(&p->changed, &p->lock);
        p->consumer_waiting = 0;
    }
    p->avail = p->filled;
    p->seen_fraction = p->fraction;
    end = p->avail == p->next && p->done;
    pthread_mutex_unlock(&p->lock);
    return end;
}

/* row_prefetch_next() without the thread: reads the row now. */
static int read_here(struct row_prefetch *p, struct event **ev,
                     char *errstr, size_t errstr_size)
{
    struct row_slot *s = &p->slots[0];
    int err;

    if (p->done) {
        snprintf(errstr, errstr_size, "%s", p->end_why);
        return p->end_err;
    }
    err = read_row(p, &p->rows, s, p->end_why, sizeof(p->end_why));
    if (err) {
        p->done = 1;
        p->end_err = err;
        snprintf(errstr, errstr_size, "%s", p->end_why);
        return err;
    }
    if (p->rows % ROW_PREFETCH_FRACTION_ROWS == 0)
        p->seen_fraction = csv_reader_fraction(p->csv);
    if (s->status)
        return s->status;
    *ev = &s->ev;
    return 0;
}

int row_prefetch_next(struct row_prefetch *p, struct event **ev,
                      char *errstr, size_t errstr_size)
{
    struct row_slot *s;

    *ev = NULL;
    if (!p->thread_started)
        return read_here(p, ev, errstr, errstr_size);
    if (p->next == p->avail) {
        if (refill(p, 1)) {
            snprintf(errstr, errstr_size, "%s", p->end_why);
            return p->end_err;
        }
    } else if (p->next % ROW_PREFETCH_CHUNK == 0) {
        (void)refill(p, 0); /* slots remain: never the end */
    }

    s = &p->slots[p->next % ROW_PREFETCH_SLOTS];
    p->next++;
    if (p->look_ahead && p->next + 1 < p->avail)
        prefetch_hints(&p->slots[(p->next + 1) % ROW_PREFETCH_SLOTS],
                       p->fields);

    if (s->status)
        return s->status;
    *ev = &s->ev;
    return 0;
}

void row_prefetch_look_ahead(struct row_prefetch *p)
{
    p->look_ahead = p->thread_started;
}

const struct event *row_prefetch_peek(const struct row_prefetch *p)
{
    const struct row_slot *s;

    if (!p->thread_started || p->next == p->avail)
        return NULL;
    s = &p->slots[p->next % ROW_PREFETCH_SLOTS];
    return s->status ? NULL : &s->ev;
}

double row_prefetch_fraction(struct row_prefetch *p)
{
    return p->seen_fraction;
}

void row_prefetch_stop(struct row_prefetch *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->changed);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    free_slots(p->slots, p->thread_started ? ROW_PREFETCH_SLOTS : 1);
    free(p);
}
