/*
 * cleaning/topk.c - Space-Saving summary, see topk.h.
 *
 * TOPK_SLOTS is small enough that a linear scan beats a hash table here,
 * and keeps the code obviously correct.
 */
#include "cleaning/topk.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"

struct slot {
    char value[TOPK_VALUE_MAX];
    size_t len;
    uint64_t count;
    uint64_t order; /* when the count was last raised: breaks ties */
};

struct topk {
    struct slot slots[TOPK_SLOTS];
    size_t used;
    uint64_t total;
    uint64_t tick;
};

int topk_new(struct topk **out)
{
    struct topk *t = calloc(1, sizeof(*t));

    if (!t)
        return RIFFLE_ERR_NOMEM;
    *out = t;
    return 0;
}

void topk_destroy(struct topk *t)
{
    free(t);
}

static struct slot *find(struct topk *t, const char *value, size_t len)
{
    size_t i;

    for (i = 0; i < t->used; i++)
        if (t->slots[i].len == len &&
            memcmp(t->slots[i].value, value, len) == 0)
            return &t->slots[i];
    return NULL;
}

/* The slot a new category takes: a free one, or the one with the lowest
 * count, whose count it inherits (Space-Saving's over-estimate). */
static struct slot *claim(struct topk *t)
{
    struct slot *low;
    size_t i;

    if (t->used < TOPK_SLOTS) {
        low = &t->slots[t->used++];
        low->count = 0;
        return low;
    }
    low = &t->slots[0];
    for (i = 1; i < TOPK_SLOTS; i++)
        if (t->slots[i].count < low->count)
            low = &t->slots[i];
    return low;
}

void topk_add(struct topk *t, const char *value, size_t len)
{
    struct slot *s;

    t->total++;
    if (len >= TOPK_VALUE_MAX)
        return; /* cannot be returned; see topk.h */

    s = find(t, value, len);
    if (!s) {
        s = claim(t);
        memcpy(s->value, value, len);
        s->value[len] = '\0';
        s->len = len;
    }
    s->count++;
    s->order = ++t->tick;
}

const char *topk_mode(const struct topk *t, uint64_t *count)
{
    const struct slot *best = NULL;
    size_t i;

    for (i = 0; i < t->used; i++) {
        const struct slot *s = &t->slots[i];

        if (!best || s->count > best->count ||
            (s->count == best->count && s->order < best->order))
            best = s;
    }
    if (count)
        *count = best ? best->count : 0;
    return best ? best->value : NULL;
}

/* Saved state, little-endian: u64 total, u64 tick, u32 used, then per
 * slot in order u32 len, len bytes, u64 count, u64 order. */
int topk_save(const struct topk *t, struct buf *out)
{
    size_t i;
    int err;

    err = wire_put_u64(out, t->total) || wire_put_u64(out, t->tick) ||
          wire_put_u32(out, (uint32_t)t->used);
    for (i = 0; !err && i < t->used; i++) {
        const struct slot *s = &t->slots[i];

        err = wire_put_u32(out, (uint32_t)s->len) ||
              buf_append(out, s->value, s->len) ||
              wire_put_u64(out, s->count) || wire_put_u64(out, s->order);
    }
    return err ? RIFFLE_ERR_NOMEM : 0;
}

int topk_load(struct topk *t, const void *data, size_t len)
{
    struct topk *tmp = calloc(1, sizeof(*tmp));
    struct wire_reader r;
    const unsigned char *value;
    size_t i;
    int ok;

    if (!tmp)
        return RIFFLE_ERR_NOMEM;
    wire_reader_init(&r, data, len);
    tmp->total = wire_get_u64(&r);
    tmp->tick = wire_get_u64(&r);
    tmp->used = wire_get_u32(&r);
    ok = !r.failed && tmp->used <= TOPK_SLOTS;

    for (i = 0; ok && i < tmp->used; i++) {
        struct slot *s = &tmp->slots[i];

        s->len = wire_get_u32(&r);
        value = s->len < TOPK_VALUE_MAX ? wire_get_bytes(&r, s->len) : NULL;
        s->count = wire_get_u64(&r);
        s->order = wire_get_u64(&r);
        /* Space-Saving's counts never exceed what was added. */
        ok = value && s->count > 0 && s->count <= tmp->total &&
             s->order <= tmp->tick;
        if (ok)
            memcpy(s->value, value, s->len);
    }
    ok = ok && wire_reader_done(&r);
    if (ok)
        *t = *tmp;
    free(tmp);
    return ok ? 0 : RIFFLE_ERR_SNAPSHOT;
}
