/*
 * cleaning/topk.h - the most frequent category of one field, in bounded
 * memory.
 *
 * Imputing "the most frequent category" over an unbounded stream with
 * unboundedly many categories needs a summary: this is Space-Saving
 * (Metwally, Agrawal, El Abbadi 2005) with TOPK_SLOTS counters. Every
 * category seen more than n / TOPK_SLOTS times among n values is held,
 * and its count is over-estimated by at most n / TOPK_SLOTS, so the mode
 * returned is the true mode whenever the true mode's lead over the
 * runner-up exceeds that. Categories longer than TOPK_VALUE_MAX - 1 bytes
 * are counted as values but never become the mode. Deterministic; ties
 * go to the category that reached the count first. Not thread-safe.
 */
#ifndef RIFFLE_CLEANING_TOPK_H
#define RIFFLE_CLEANING_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define TOPK_SLOTS 64       /* counters: about 9 KiB per field */
#define TOPK_VALUE_MAX 128  /* bytes of a category it can return, NUL too */

struct topk;

/* Returns 0 or RIFFLE_ERR_NOMEM. The caller owns *out. */
int topk_new(struct topk **out);

void topk_destroy(struct topk *t); /* NULL-safe */

/* Counts one value of len bytes (borrowed; need not be NUL-terminated). */
void topk_add(struct topk *t, const char *value, size_t len);

/* The most frequent category so far, or NULL before any. Borrowed:
 * valid until the next topk_add(). *count, when not NULL, receives its
 * estimated count. */
const char *topk_mode(const struct topk *t, uint64_t *count);

/* Appends the whole summary to out, for the model snapshot (layout in
 * topk.c). Returns 0 or RIFFLE_ERR_NOMEM. */
int topk_save(const struct topk *t, struct buf *out);

/* Replaces t's summary by the len bytes of data (borrowed) written by
 * topk_save(). Returns 0, or RIFFLE_ERR_SNAPSHOT when data is short,
 * long or inconsistent; t is then unchanged. */
int topk_load(struct topk *t, const void *data, size_t len);

#endif
