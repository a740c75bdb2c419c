/*
 * common/secret_stream.h - a stdio stream whose buffer riffle owns and
 * wipes.
 *
 * `riffle decrypt` prints opened personal values to stdout. stdio keeps
 * what it writes in a buffer of its own, which nothing wipes: the last
 * lines would stay in memory after they were written. Given a buffer of
 * the caller's (setvbuf), the stream's bytes can be overwritten once
 * flushed. The buffer must outlive every use of the stream, including
 * the flush at exit: static storage for stdout.
 */
#ifndef RIFFLE_COMMON_SECRET_STREAM_H
#define RIFFLE_COMMON_SECRET_STREAM_H

#include <stddef.h>
#include <stdio.h>

/* Makes buf (size bytes) f's fully buffered buffer. Call before any
 * output on f. Returns 0, or -1 when stdio refuses. */
int secret_stream_attach(FILE *f, char *buf, size_t size);

/* Flushes f, then overwrites its buffer buf (size bytes) with zeros the
 * compiler cannot drop. Returns 0, or -1 when the flush failed (the
 * buffer is wiped all the same). */
int secret_stream_wipe(FILE *f, char *buf, size_t size);

#endif
