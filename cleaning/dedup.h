/*
 * cleaning/dedup.h - duplicate event ids within a window, in bounded
 * memory.
 *
 * Producers retry, and sources replay: the same event id may arrive
 * twice. The filter remembers the ids of the last `window` distinct
 * events (a ring, oldest forgotten first) and says whether an id is one
 * of them. Ids are kept as 64-bit fingerprints (FNV-1a, then
 * MurmurHash3's fmix64 finalizer) in an open-addressing table, 24 bytes
 * per remembered id. Two different ids share a fingerprint with
 * probability 2^-64, so a new id is wrongly called a duplicate with
 * probability at most window / 2^64 (5.4e-14 for a window of a million);
 * a true duplicate within the window is always found. Not thread-safe.
 */
#ifndef RIFFLE_CLEANING_DEDUP_H
#define RIFFLE_CLEANING_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define DEDUP_MAX_WINDOW (1L << 24) /* 16M ids, 400 MiB: the config cap */

struct dedup;

/* window: ids remembered, 1..DEDUP_MAX_WINDOW. Returns 0 or
 * RIFFLE_ERR_NOMEM. The caller owns *out. */
int dedup_new(size_t window, struct dedup **out);

void dedup_destroy(struct dedup *d); /* NULL-safe */

/* 1 when id (len bytes, borrowed) is among the remembered ids, else 0,
 * after remembering it (forgetting the oldest when the window is full).
 * A duplicate is not remembered again: the window counts distinct ids. */
int dedup_check(struct dedup *d, const char *id, size_t len);

/* Split halves of dedup_check(), for callers that remember an id only
 * once its event was accepted: whether id is remembered, and remembering
 * it (forgetting the oldest when the window is full; nothing when it is
 * already remembered). */
int dedup_contains(const struct dedup *d, const char *id, size_t len);
void dedup_insert(struct dedup *d, const char *id, size_t len);

/* Appends the remembered fingerprints, oldest first, to out, for the
 * model snapshot: u64 count, then count u64 fingerprints, little-endian.
 * Returns 0 or RIFFLE_ERR_NOMEM. */
int dedup_save(const struct dedup *d, struct buf *out);

/* Forgets everything, then remembers the fingerprints of data (borrowed,
 * len bytes, written by dedup_save()) in their order; when they are more
 * than the window (the window was made smaller), only the newest are
 * kept. Returns 0, or RIFFLE_ERR_SNAPSHOT when data is short, long or
 * holds fingerprint 0; d is then unchanged. */
int dedup_load(struct dedup *d, const void *data, size_t len);

/* The fingerprint of an id, exposed for tests. */
uint64_t dedup_fingerprint(const char *id, size_t len);

#endif
