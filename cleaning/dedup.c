/*
 * cleaning/dedup.c - windowed duplicate filter, see dedup.h.
 *
 * The table has at least twice as many slots as the window, so linear
 * probing stays short; a forgotten id is removed by backward-shift
 * deletion, which keeps every probe sequence intact without tombstones.
 * Fingerprint 0 marks an empty slot, so a real 0 is stored as 1 (one
 * more fingerprint collision, at probability 2^-64).
 */
#include "cleaning/dedup.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"

#define FNV64_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

struct dedup {
    size_t window;
    uint64_t *ring;  /* remembered fingerprints, oldest at head */
    size_t head, filled;
    uint64_t *table; /* 0 = empty */
    size_t mask;     /* slots - 1, slots a power of two */
};

uint64_t dedup_fingerprint(const char *id, size_t len)
{
    uint64_t h = FNV64_OFFSET_BASIS;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= FNV64_PRIME;
    }
    /* fmix64: FNV's low bits mix poorly, and they pick the slot. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

int dedup_new(size_t window, struct dedup **out)
{
    struct dedup *d;
    size_t slots = 2;

    if (window == 0 || window > (size_t)DEDUP_MAX_WINDOW)
        return RIFFLE_ERR_INVALID;
    while (slots < 2 * window)
        slots <<= 1;

    d = calloc(1, sizeof(*d));
    if (!d)
        return RIFFLE_ERR_NOMEM;
    d->window = window;
    d->mask = slots - 1;
    d->ring = calloc(window, sizeof(*d->ring));
    d->table = calloc(slots, sizeof(*d->table));
    if (!d->ring || !d->table) {
        dedup_destroy(d);
        return RIFFLE_ERR_NOMEM;
    }
    *out = d;
    return 0;
}

void dedup_destroy(struct dedup *d)
{
    if (!d)
        return;
    free(d->ring);
    free(d->table);
    free(d);
}

/* The slot holding fp, or the empty slot where it would go. */
static size_t probe(const struct dedup *d, uint64_t fp)
{
    size_t i = (size_t)fp & d->mask;

    while (d->table[i] != 0 && d->table[i] != fp)
        i = (i + 1) & d->mask;
    return i;
}

/* Backward-shift deletion: pull later entries of the run into the hole
 * when their home slot is at or before it (cyclically). */
static void forget(struct dedup *d, uint64_t fp)
{
    size_t hole = probe(d, fp), i = hole;

    if (d->table[hole] == 0)
        return;
    for (;;) {
        size_t home;

        i = (i + 1) & d->mask;
        if (d->table[i] == 0)
            break;
        home = (size_t)d->table[i] & d->mask;
        if (((i - home) & d->mask) >= ((i - hole) & d->mask)) {
            d->table[hole] = d->table[i];
            hole = i;
        }
    }
    d->table[hole] = 0;
}

int dedup_contains(const struct dedup *d, const char *id, size_t len)
{
    uint64_t fp = dedup_fingerprint(id, len);

    return d->table[probe(d, fp)] == fp;
}

static void remember(struct dedup *d, uint64_t fp, size_t slot)
{
    if (d->filled < d->window) {
        d->ring[d->filled++] = fp;
    } else {
        forget(d, d->ring[d->head]);
        slot = probe(d, fp); /* the shift may have moved the hole */
        d->ring[d->head] = fp;
        d->head = (d->head + 1) % d->window;
    }
    d->table[slot] = fp;
}

void dedup_insert(struct dedup *d, const char *id, size_t len)
{
    uint64_t fp = dedup_fingerprint(id, len);
    size_t slot = probe(d, fp);

    if (d->table[slot] != fp)
        remember(d, fp, slot);
}

int dedup_check(struct dedup *d, const char *id, size_t len)
{
    uint64_t fp = dedup_fingerprint(id, len);
    size_t slot = probe(d, fp);

    if (d->table[slot] == fp)
        return 1;
    remember(d, fp, slot);
    return 0;
}

int dedup_save(const struct dedup *d, struct buf *out)
{
    size_t i;
    int err = wire_put_u64(out, d->filled);

    /* The ring is oldest-first from head once full, from 0 before. */
    for (i = 0; !err && i < d->filled; i++)
        err = wire_put_u64(out, d->ring[(d->head + i) % d->window]);
    return err ? RIFFLE_ERR_NOMEM : 0;
}

int dedup_load(struct dedup *d, const void *data, size_t len)
{
    struct wire_reader r;
    uint64_t count, i, skip, fp;

    wire_reader_init(&r, data, len);
    count = wire_get_u64(&r);
    if (r.failed || count > (len - r.pos) / 8 || len - r.pos != count * 8)
        return RIFFLE_ERR_SNAPSHOT;
    for (i = 0; i < count; i++)
        if (wire_get_u64(&r) == 0)
            return RIFFLE_ERR_SNAPSHOT;

    memset(d->table, 0, (d->mask + 1) * sizeof(*d->table));
    d->head = 0;
    d->filled = 0;
    skip = count > d->window ? count - d->window : 0;
    wire_reader_init(&r, data, len);
    (void)wire_get_u64(&r); /* the count, checked above */
    for (i = 0; i < count; i++) {
        fp = wire_get_u64(&r);
        if (i >= skip && d->table[probe(d, fp)] != fp)
            remember(d, fp, probe(d, fp));
    }
    return 0;
}
