/*
 * cleaning/join.c - bounded enrichment table, see join.h.
 *
 * Entries live in one array of max_keys slots, linked into hash chains
 * (by key) and into one recency list (by update); eviction takes the
 * tail of the recency list. Keys use dedup.c's 64-bit fingerprint to
 * pick a bucket, and are compared in full, so a collision costs a longer
 * chain, never a wrong join.
 */
#include "cleaning/join.h"

#include <stdlib.h>
#include <string.h>

#include "cleaning/dedup.h"
#include "common/err.h"

#define JOIN_NONE SIZE_MAX

struct entry {
    char *key;
    size_t key_len;
    int64_t ts_ms;
    struct join_value *values;
    size_t chain;      /* next entry in the same bucket */
    size_t newer, older; /* recency list */
};

struct join_table {
    size_t max_keys, value_count, size;
    struct entry *entries;
    size_t *buckets;   /* first entry of each chain */
    size_t mask;
    size_t newest, oldest;
    struct join_counts counts;
};

int join_table_new(size_t max_keys, size_t value_count,
                   struct join_table **out)
{
    struct join_table *t;
    size_t i, slots = 1;

    if (max_keys == 0 || value_count > EVENT_MAX_FIELDS)
        return RIFFLE_ERR_INVALID;
    while (slots < max_keys)
        slots <<= 1;
    t = calloc(1, sizeof(*t));
    if (!t)
        return RIFFLE_ERR_NOMEM;
    t->max_keys = max_keys;
    t->value_count = value_count;
    t->mask = slots - 1;
    t->newest = t->oldest = JOIN_NONE;
    t->entries = calloc(max_keys, sizeof(*t->entries));
    t->buckets = malloc(slots * sizeof(*t->buckets));
    if (!t->entries || !t->buckets) {
        join_table_destroy(t);
        return RIFFLE_ERR_NOMEM;
    }
    for (i = 0; i < slots; i++)
        t->buckets[i] = JOIN_NONE;
    *out = t;
    return 0;
}

static void free_values(struct join_value *v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        free(v[i].str);
    free(v);
}

void join_table_destroy(struct join_table *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; t->entries && i < t->max_keys; i++) {
        free(t->entries[i].key);
        free_values(t->entries[i].values, t->value_count);
    }
    free(t->entries);
    free(t->buckets);
    free(t);
}

static size_t bucket_of(const struct join_table *t, const char *key,
                        size_t len)
{
    return (size_t)dedup_fingerprint(key, len) & t->mask;
}

static size_t find(const struct join_table *t, const char *key, size_t len)
{
    size_t i = t->buckets[bucket_of(t, key, len)];

    while (i != JOIN_NONE && (t->entries[i].key_len != len ||
                              memcmp(t->entries[i].key, key, len) != 0))
        i = t->entries[i].chain;
    return i;
}

static void unlink_recency(struct join_table *t, size_t i)
{
    struct entry *e = &t->entries[i];

    if (e->newer != JOIN_NONE)
        t->entries[e->newer].older = e->older;
    else
        t->newest = e->older;
    if (e->older != JOIN_NONE)
        t->entries[e->older].newer = e->newer;
    else
        t->oldest = e->newer;
}

static void push_newest(struct join_table *t, size_t i)
{
    struct entry *e = &t->entries[i];

    e->newer = JOIN_NONE;
    e->older = t->newest;
    if (t->newest != JOIN_NONE)
        t->entries[t->newest].newer = i;
    t->newest = i;
    if (t->oldest == JOIN_NONE)
        t->oldest = i;
}

/* Removes the least recently updated key; its slot is then free. */
static size_t evict_oldest(struct join_table *t)
{
    size_t i = t->oldest, *link;
    struct entry *e = &t->entries[i];

    link = &t->buckets[bucket_of(t, e->key, e->key_len)];
    while (*link != i)
        link = &t->entries[*link].chain;
    *link = e->chain;
    unlink_recency(t, i);
    free(e->key);
    free_values(e->values, t->value_count);
    memset(e, 0, sizeof(*e));
    t->size--;
    t->counts.evictions++;
    return i;
}

/* A deep copy of values, or NULL when out of memory. */
static struct join_value *copy_values(const struct join_table *t,
                                      const struct join_value *values)
{
    struct join_value *v = calloc(t->value_count ? t->value_count : 1,
                                  sizeof(*v));
    size_t k;

    for (k = 0; v && k < t->value_count; k++) {
        v[k] = values[k];
        v[k].str = NULL;
        if (values[k].kind != VALUE_STRING)
            continue;
        v[k].str = malloc(values[k].len + 1);
        if (!v[k].str) {
            free_values(v, t->value_count);
            return NULL;
        }
        memcpy(v[k].str, values[k].str, values[k].len);
        v[k].str[values[k].len] = '\0';
    }
    return v;
}

/* A free slot for a new key, evicting when full. Slots fill in order
 * and a slot is freed only by an eviction that reuses it at once, so
 * while the table is not full the next free slot is slot `size`. */
static size_t new_slot(struct join_table *t)
{
    if (t->size == t->max_keys)
        return evict_oldest(t);
    return t->size;
}

int join_table_put(struct join_table *t, const char *key, size_t len,
                   int64_t ts_ms, const struct join_value *values)
{
    size_t i = find(t, key, len), b;
    struct join_value *copy;
    char *key_copy;

    if (i != JOIN_NONE && t->entries[i].ts_ms > ts_ms) {
        t->counts.stale++;
        return 0;
    }
    copy = copy_values(t, values);
    if (!copy)
        return RIFFLE_ERR_NOMEM;

    if (i != JOIN_NONE) {
        free_values(t->entries[i].values, t->value_count);
        t->entries[i].values = copy;
        t->entries[i].ts_ms = ts_ms;
        unlink_recency(t, i);
        push_newest(t, i);
        t->counts.updates++;
        return 0;
    }

    key_copy = malloc(len + 1);
    if (!key_copy) {
        free_values(copy, t->value_count);
        return RIFFLE_ERR_NOMEM;
    }
    memcpy(key_copy, key, len);
    key_copy[len] = '\0';
    i = new_slot(t);
    b = bucket_of(t, key, len);
    t->entries[i] = (struct entry){key_copy, len, ts_ms, copy,
                                   t->buckets[b], JOIN_NONE, JOIN_NONE};
    t->buckets[b] = i;
    push_newest(t, i);
    t->size++;
    t->counts.updates++;
    return 0;
}

const struct join_value *join_table_lookup(struct join_table *t,
                                           const char *key, size_t len,
                                           int64_t ts_ms, double window_ms)
{
    size_t i = find(t, key, len);
    double gap;

    if (i == JOIN_NONE) {
        t->counts.misses++;
        return NULL;
    }
    gap = (double)ts_ms - (double)t->entries[i].ts_ms;
    if (gap > window_ms || -gap > window_ms) {
        t->counts.expired++;
        return NULL;
    }
    t->counts.hits++;
    return t->entries[i].values;
}

size_t join_table_size(const struct join_table *t)
{
    return t->size;
}

const struct join_counts *join_table_counts(const struct join_table *t)
{
    return &t->counts;
}
