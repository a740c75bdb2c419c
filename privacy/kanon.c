/*
 * privacy/kanon.c - sliding-window k-anonymity counts, see kanon.h.
 *
 * A ring holds the combination hash of each event in the window, and an
 * open-addressing table (linear probing, at most half full) the number of
 * window events per hash. The report's three numbers are kept up to date
 * on every change of a count, so adding an event costs O(1).
 */
#include "privacy/kanon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/numfmt.h"

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL
#define KANON_FIELD_END 0xff /* never a UTF-8 byte: ends each value */

struct slot {
    uint64_t key; /* 0: empty */
    uint64_t count;
};

struct kanon {
    size_t k, window;
    int index[CFG_MAX_QUASI_IDS]; /* schema index of each quasi-identifier */
    size_t n;
    uint64_t *ring; /* window entries */
    size_t head, filled;
    struct slot *table;
    size_t mask; /* table size - 1 */
    struct kanon_report rep;
};

int kanon_new(const struct cfg *cfg, const struct schema *schema,
              struct kanon **out, char *errstr, size_t errstr_size)
{
    struct kanon *k;
    size_t i, size = 2;

    *out = NULL;
    if (cfg->quasi_id_count == 0)
        return 0;
    k = calloc(1, sizeof(*k));
    if (!k)
        return RIFFLE_ERR_NOMEM;
    k->k = (size_t)cfg->kanon_k;
    k->window = (size_t)cfg->kanon_window;
    k->n = cfg->quasi_id_count;
    for (i = 0; i < k->n; i++) {
        k->index[i] = schema_field_index(schema, cfg->quasi_ids[i]);
        if (k->index[i] < 0) {
            kanon_destroy(k);
            return cfg_error(cfg, cfg->kanon_line,
                             "privacy.k_anonymity.quasi_identifiers",
                             errstr, errstr_size, "field \"%s\" is not in "
                             "schema %s", cfg->quasi_ids[i],
                             schema_name(schema));
        }
    }

    while (size < 2 * k->window) /* at most half full: short probes */
        size *= 2;
    k->mask = size - 1;
    k->ring = calloc(k->window, sizeof(*k->ring));
    k->table = calloc(size, sizeof(*k->table));
    if (!k->ring || !k->table) {
        kanon_destroy(k);
        return RIFFLE_ERR_NOMEM;
    }
    k->rep.k = k->k;
    *out = k;
    return 0;
}

void kanon_destroy(struct kanon *k)
{
    if (!k)
        return;
    free(k->ring);
    free(k->table);
    free(k);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ p[i]) * FNV64_PRIME;
    return h;
}

/* The combination's hash: each value as text, then an end byte; a null
 * is a lone end byte. Never 0, which marks an empty slot. */
static uint64_t combination_hash(const struct kanon *k, const struct event *ev)
{
    static const unsigned char end = KANON_FIELD_END;
    char tmp[NUMFMT_MAX];
    uint64_t h = FNV64_OFFSET;
    size_t i;

    for (i = 0; i < k->n; i++) {
        const struct value *v = &ev->values[k->index[i]];

        if (v->kind == VALUE_STRING)
            h = fnv(h, event_string(ev, (size_t)k->index[i]), v->str_len);
        else if (v->kind == VALUE_NUMBER)
            h = fnv(h, tmp, strlen(numfmt_double(v->number, tmp,
                                                 sizeof(tmp))));
        h = fnv(h, &end, 1);
    }
    h ^= h >> 31; /* FNV's low bits are weak; the table uses them */
    h *= 0x7fb5d329728ea185ULL;
    h ^= h >> 27;
    return h ? h : 1;
}

static size_t find(const struct kanon *k, uint64_t key)
{
    size_t i = key & k->mask;

    while (k->table[i].key && k->table[i].key != key)
        i = (i + 1) & k->mask;
    return i;
}

/* Moves the report from a combination counted old times to new times. */
static void recount(struct kanon *k, uint64_t old, uint64_t new)
{
    size_t below_old = old > 0 && old < k->k, below_new = new > 0 && new < k->k;

    k->rep.combinations += (new > 0) - (old > 0);
    k->rep.combinations_below += below_new - below_old;
    k->rep.events_below += (below_new ? new : 0) - (below_old ? old : 0);
}

/* Empties slot i and pulls later entries of its probe run back, so that
 * no lookup stops early at the hole (deletion without tombstones). */
static void remove_slot(struct kanon *k, size_t i)
{
    size_t j = i;

    k->table[i] = (struct slot){0, 0};
    for (;;) {
        size_t home;

        j = (j + 1) & k->mask;
        if (!k->table[j].key)
            return;
        home = k->table[j].key & k->mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue; /* still reachable from its home */
        k->table[i] = k->table[j];
        k->table[j] = (struct slot){0, 0};
        i = j;
    }
}

void kanon_add(struct kanon *k, const struct event *ev)
{
    uint64_t key = combination_hash(k, ev);
    size_t i;

    if (k->filled == k->window) {
        uint64_t oldest = k->ring[k->head];

        i = find(k, oldest);
        recount(k, k->table[i].count, k->table[i].count - 1);
        if (--k->table[i].count == 0)
            remove_slot(k, i);
    } else {
        k->filled++;
    }
    k->ring[k->head] = key;
    k->head = (k->head + 1) % k->window;

    i = find(k, key);
    k->table[i].key = key;
    recount(k, k->table[i].count, k->table[i].count + 1);
    k->table[i].count++;
    k->rep.window_events = k->filled;
}

void kanon_report(const struct kanon *k, struct kanon_report *out)
{
    *out = k->rep;
}
