/*
 * cleaning/join.h - the enrichment table of a keyed stream join, in
 * bounded memory.
 *
 * An enrichment stream (a user or device profile) is keyed; each event
 * carries the key and is joined with the latest profile of that key. The
 * table keeps, per key, the values of the mapped profile fields and the
 * profile's timestamp; at most max_keys keys, evicting the least
 * recently updated one. An update older than the stored one for its key
 * is ignored (counted as stale), so replays and out-of-order delivery
 * never roll a profile back. Lookups are O(1) on average (chained hash
 * buckets). Not thread-safe.
 */
#ifndef RIFFLE_CLEANING_JOIN_H
#define RIFFLE_CLEANING_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "schemas/event.h"

struct join_value {
    enum value_kind kind;
    double number;
    char *str;  /* owned by the table; NUL-terminated */
    size_t len;
};

struct join_counts {
    uint64_t updates;   /* profiles stored */
    uint64_t stale;     /* older than the stored profile: ignored */
    uint64_t evictions; /* keys dropped to stay within max_keys */
    uint64_t hits;      /* events joined */
    uint64_t misses;    /* events with no profile for their key */
    uint64_t expired;   /* a profile, but outside the window */
};

struct join_table;

/* max_keys >= 1; value_count values per key (at most EVENT_MAX_FIELDS).
 * Returns 0, RIFFLE_ERR_INVALID or RIFFLE_ERR_NOMEM. */
int join_table_new(size_t max_keys, size_t value_count,
                   struct join_table **out);

void join_table_destroy(struct join_table *t); /* NULL-safe */

/* Stores value_count values (strings copied) for key (len bytes) at time
 * ts_ms, unless the key holds a newer profile. Returns 0 or
 * RIFFLE_ERR_NOMEM (the table is then unchanged). */
int join_table_put(struct join_table *t, const char *key, size_t len,
                   int64_t ts_ms, const struct join_value *values);

/* The values of key when its profile's time is within window_ms of
 * ts_ms (either side), else NULL; counts a hit, a miss or an expired
 * profile. Borrowed until the next put. */
const struct join_value *join_table_lookup(struct join_table *t,
                                           const char *key, size_t len,
                                           int64_t ts_ms, double window_ms);

size_t join_table_size(const struct join_table *t);
const struct join_counts *join_table_counts(const struct join_table *t);

#endif
