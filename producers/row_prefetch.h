/*
 * producers/row_prefetch.h - reads and types CSV rows on a second thread,
 * ahead of the thread that learns them.
 *
 * `riffle train` and `riffle score` spend about a third of an Adult event
 * reading the line and typing its fields (csv_reader_next() and
 * produce_row_to_event()), work that depends on nothing the learner
 * does. A prefetcher runs exactly those two calls on its own thread into
 * a ring of events, in file order, so that on a machine with a free core
 * the learner only learns. The events, their ids, the bad rows and the
 * warnings about them are the same as reading on the caller's thread:
 * the row number of each event is the count of records read, as before.
 *
 * The reader may also run a hint function on each typed event (train's
 * is online_hint_event(): pseudonyms and feature hashes, work the
 * learner would otherwise do, left on the event as hints that the
 * learner uses only while the values are unchanged). It must be a pure
 * function of the event: it runs ahead, out of step with the consumer.
 *
 * One consumer thread calls row_prefetch_next() and _fraction(); the
 * reader thread owns the CSV reader from row_prefetch_start() until
 * row_prefetch_stop(), and the caller must not touch it meanwhile. cfg,
 * schema and map are only read, by both threads.
 */
#ifndef RIFFLE_PRODUCERS_ROW_PREFETCH_H
#define RIFFLE_PRODUCERS_ROW_PREFETCH_H

#include <stddef.h>

#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "schemas/event.h"
#include "schemas/schema.h"

struct row_prefetch;

/* Run by the reader thread on each typed event; see above. Its failure
 * (out of memory) leaves the event with fewer hints, not an error. */
struct row_prefetch_hint {
    int (*fn)(void *arg, struct event *ev);
    void *arg; /* borrowed until row_prefetch_stop() */
};

/* Starts the reader thread over csv (borrowed until row_prefetch_stop();
 * already opened, header read). file names the input in the warnings of
 * bad rows, logged under component (the running command). With
 * threaded 0 no thread is started and row_prefetch_next() reads each row
 * on the caller's thread, as train did before: for a pipe or a terminal,
 * whose read may block until a writer sends more, a reader thread could
 * not be stopped by SIGINT (its signals are blocked, and the consumer's
 * wait does not end on one), where a read on the caller's thread ends
 * with EINTR. hint (may be NULL: none) is copied; it runs only with
 * the thread, where it takes work off the consumer's. Returns 0,
 * RIFFLE_ERR_NOMEM, or RIFFLE_ERR_IO when the thread cannot start
 * (errstr says why). *out is owned by the caller (row_prefetch_stop). */
int row_prefetch_start(const struct cfg *cfg, const struct schema *schema,
                       const struct produce_mapping *map,
                       struct csv_reader *csv, const char *file,
                       const char *component, int threaded, const struct row_prefetch_hint *hint,
                       struct row_prefetch **out, char *errstr,
                       size_t errstr_size);

/* The next row, in file order. Returns 0 with *ev pointing at the typed
 * event (borrowed, valid until the next call, which may change it: the
 * learner cleans and anonymizes it in place); RIFFLE_ERR_PARSE for a row
 * that does not fit (already logged as a warning, *ev is NULL); or, once
 * every row is handed out, RIFFLE_ERR_EOF, RIFFLE_ERR_IO or another error
 * with errstr set (empty at a clean end of file). Consumer thread only. */
int row_prefetch_next(struct row_prefetch *p, struct event **ev,
                      char *errstr, size_t errstr_size);

/* Tells p that its consumer reads each next row's hints through
 * row_prefetch_peek() before taking the row: row_prefetch_next() then
 * asks for their lines a row earlier still. Consumer thread only. */
void row_prefetch_look_ahead(struct row_prefetch *p);

/* The row row_prefetch_next() will hand out next, when the reader thread
 * has already typed it, else NULL: for a look ahead that only reads it
 * (the learner starts loading its memory). Valid until the call to
 * row_prefetch_next() after the next one. Consumer thread only. */
const struct event *row_prefetch_peek(const struct row_prefetch *p);

/* Fraction of the file the reader has consumed, for progress lines; -1
 * when unknown (stdin, not seekable). Consumer thread only. */
double row_prefetch_fraction(struct row_prefetch *p);

/* Stops the reader thread, waits for it and frees everything; the CSV
 * reader is the caller's again. NULL-safe. */
void row_prefetch_stop(struct row_prefetch *p);

#endif
