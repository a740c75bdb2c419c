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
