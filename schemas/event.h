/*
 * schemas/event.h - one decoded input record, as a flat row of values.
 *
 * Every input schema riffle reads is a flat Avro record of primitives
 * (string, double, float, long, int, boolean, each optionally in a union
 * with null). An event holds one value per schema field, by field index:
 * null, a number (all numeric Avro types and booleans become doubles), or
 * a string. String bytes live in the event's own arena, so an event is
 * self-contained and can be reused for the next record without freeing.
 * Not thread-safe; each thread uses its own events (one thread may fill
 * an event and hand it to another, as train's reader thread does).
 *
 * Hints: a field may carry results computed ahead, on the thread that
 * read the record, from its value as it was then: the feature hash of
 * the value, a replacement string (a pseudonym) with its own feature
 * hash, and a number its field's rule makes of it (a label's class, a
 * numeric feature's log1p). A hint is valid only while the value is
 * unchanged: every write to a field (event_set_*(), event_write_string(),
 * event_reset()) drops the field's hints, so a consumer that uses one
 * gets exactly what it would have computed from the value in hand. An
 * event without hints (decoded from Kafka, say) is consumed by the same
 * code, which then computes the same results itself.
 *
 * An event may also carry one event-wide hint, a set of field numbers
 * whose meaning is its consumer's (the cleaner's: which fields need more
 * than their quick rule). It is valid only while no field has changed:
 * every write to any field drops it.
 */
#ifndef RIFFLE_SCHEMAS_EVENT_H
#define RIFFLE_SCHEMAS_EVENT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define EVENT_MAX_FIELDS 128 /* far above any bundled dataset (15) */
#define EVENT_MASK_WORDS (EVENT_MAX_FIELDS / 64)
/* Bytes an event's arena may hold, NULs included: string offsets and
 * lengths are kept in 32 bits (see struct value). A write that would
 * pass it is refused with RIFFLE_ERR_TOO_BIG (or NULL) before anything
 * is copied. */
#define EVENT_ARENA_MAX ((size_t)UINT32_MAX)

enum value_kind {
    VALUE_NULL = 0,
    VALUE_NUMBER,
    VALUE_STRING,
};

/* Which hints of a field are valid (struct value's hinted). */
#define EVENT_HINT_HASH 0x1u             /* hint_hash */
#define EVENT_HINT_REPLACEMENT 0x2u      /* replacement[]'s text */
#define EVENT_HINT_REPLACEMENT_HASH 0x4u /* replacement[]'s hash */
#define EVENT_HINT_NUMBER 0x8u           /* hint_number */

/*
 * One field: its value and the hints made of it, side by side in 24
 * bytes, so that a row's fields are a few adjacent cache lines. train's
 * reader thread writes them and its learner thread reads them; the time
 * of a run went to moving those lines between the two cores, not to
 * instructions (docs/BENCHMARKS.md, round 15).
 */
struct value {
    unsigned char kind;   /* enum value_kind */
    /* EVENT_HINT_* bits, cleared by every write to the field; a bit
     * clear means the matching hint is garbage. */
    unsigned char hinted;
    uint32_t hint_hash; /* the value's feature hash */
    /* A number and a string's place share their bytes: read only what
     * the kind names. */
    union {
        double number; /* when kind == VALUE_NUMBER */
        struct {
            uint32_t str_offset; /* when VALUE_STRING: start in arena */
            uint32_t str_len;    /* bytes, without the NUL after them */
        };
    };
    double hint_number; /* what the field's rule makes of the value */
};

/* A field's replacement hint; see "Hints" above. Apart from struct value:
 * only personal fields have one, and the rest need not carry its room. */
struct value_replacement {
    uint32_t offset; /* in the arena, followed by a NUL */
    uint32_t len;
    uint32_t hash; /* its feature hash */
};

struct event {
    /* Together in the first cache line: what every row writes once. */
    size_t field_count;
    /* The event-wide hint (see the top of this file): numbers below
     * EVENT_MAX_FIELDS, bit k of word k / 64; garbage unless mask_hinted,
     * which every write to a field clears. */
    uint64_t hint_mask[EVENT_MASK_WORDS];
    unsigned char mask_hinted;
    struct buf arena; /* string bytes, each followed by a NUL */
    /* Only the first field_count entries are used and touched. */
    struct value values[EVENT_MAX_FIELDS];
    struct value_replacement replacement[EVENT_MAX_FIELDS];
};

/* 1 when len more bytes and the NUL after them fit in ev's arena (see
 * EVENT_ARENA_MAX), else 0. */
static inline int event_arena_fits(const struct event *ev, size_t len)
{
    return ev->arena.len < EVENT_ARENA_MAX &&
           len < EVENT_ARENA_MAX - ev->arena.len;
}

/* Why a write of len bytes returned NULL (event_write_string(),
 * event_hint_replacement()): RIFFLE_ERR_TOO_BIG when they would take the
 * arena past EVENT_ARENA_MAX, else RIFFLE_ERR_NOMEM. */
static inline int event_write_failure(const struct event *ev, size_t len)
{
    return event_arena_fits(ev, len) ? RIFFLE_ERR_NOMEM : RIFFLE_ERR_TOO_BIG;
}

/* A zeroed struct event is valid too; event_init() makes that explicit. */
void event_init(struct event *ev);

/* Empty the event and give it field_count null values (asserted to be at
 * most EVENT_MAX_FIELDS). Keeps the arena's memory for reuse. */
void event_reset(struct event *ev, size_t field_count);

void event_set_null(struct event *ev, size_t field);

/* Inline, like event_set_string_at() and event_string() below: they
 * run several times per event in every module, where a call cost as
 * much as the work. */
static inline void event_set_number(struct event *ev, size_t field,
                                    double number)
{
    assert(field < ev->field_count);
    ev->values[field].kind = VALUE_NUMBER;
    ev->values[field].hinted = 0;
    ev->values[field].number = number;
    ev->mask_hinted = 0;
}

/* Copies len bytes of s into the arena. Returns 0, RIFFLE_ERR_NOMEM, or
 * RIFFLE_ERR_TOO_BIG when the arena would pass EVENT_ARENA_MAX (event
 * unchanged on error). */
int event_set_string(struct event *ev, size_t field, const char *s,
                     size_t len);

/* Makes field a string of len bytes that the caller writes at the
 * returned address, in the arena (the NUL after them is written here):
 * a string assembled from parts (a pseudonym's key id and digits) is
 * written once, not staged and copied. Returns NULL when out of memory
 * or when the arena would pass EVENT_ARENA_MAX (event unchanged). The
 * address is valid until the event is next modified. */
char *event_write_string(struct event *ev, size_t field, size_t len);

/* Copies len bytes of block into the arena in one piece and writes where
 * they start to *offset, for event_set_string_at(): a caller with many
 * strings side by side (a CSV record) copies them once. Returns 0,
 * RIFFLE_ERR_NOMEM, or RIFFLE_ERR_TOO_BIG when the arena would pass
 * EVENT_ARENA_MAX (event unchanged on error). */
int event_append_block(struct event *ev, const char *block, size_t len,
                       size_t *offset);

/* Makes field a string already in the arena: len bytes at offset, which
 * must be followed by a NUL there (asserted). */
static inline void event_set_string_at(struct event *ev, size_t field,
                                       size_t offset, size_t len)
{
    assert(field < ev->field_count);
    assert(offset + len < ev->arena.len && ev->arena.data[offset + len] == 0);
    /* Below the arena's length, itself at most EVENT_ARENA_MAX. */
    assert(ev->arena.len <= EVENT_ARENA_MAX);

    ev->values[field].kind = VALUE_STRING;
    ev->values[field].hinted = 0;
    ev->values[field].str_offset = (uint32_t)offset;
    ev->values[field].str_len = (uint32_t)len;
    ev->mask_hinted = 0;
}

/* The NUL-terminated string of a VALUE_STRING field, or NULL for other
 * kinds. Borrowed: valid until the event is next modified. */
static inline const char *event_string(const struct event *ev,
                                       size_t field)
{
    assert(field < ev->field_count);
    if (ev->values[field].kind != VALUE_STRING)
        return NULL;
    return ev->arena.data + ev->values[field].str_offset;
}

/* ---- hints (see the top of this file) ---- */

/* Records hash as the feature hash of field's value as it is now. The
 * caller promises it is what the consumer would compute from it. */
static inline void event_hint_hash(struct event *ev, size_t field,
                                   uint32_t hash)
{
    assert(field < ev->field_count);
    ev->values[field].hint_hash = hash;
    ev->values[field].hinted |= EVENT_HINT_HASH;
}

/* 1 with *hash set when field's value carries its feature hash, else 0. */
static inline int event_hinted_hash(const struct event *ev, size_t field,
                                    uint32_t *hash)
{
    assert(field < ev->field_count);
    if (!(ev->values[field].hinted & EVENT_HINT_HASH))
        return 0;
    *hash = ev->values[field].hint_hash;
    return 1;
}

/* Records mask (EVENT_MASK_WORDS words) as the event-wide hint of the
 * fields as they are now. The caller promises it is what the consumer
 * would find from them. */
static inline void event_hint_mask(struct event *ev, const uint64_t *mask)
{
    size_t w;

    for (w = 0; w < EVENT_MASK_WORDS; w++)
        ev->hint_mask[w] = mask[w];
    ev->mask_hinted = 1;
}

/* The event-wide hint, or NULL when there is none or a field changed
 * since it was made. */
static inline const uint64_t *event_hinted_mask(const struct event *ev)
{
    return ev->mask_hinted ? ev->hint_mask : NULL;
}

/* Records number as what field's rule makes of its value as it is now
 * (a label's class, a feature's transform). The caller promises it is
 * what the consumer would compute from it. */
static inline void event_hint_number(struct event *ev, size_t field,
                                     double number)
{
    assert(field < ev->field_count);
    ev->values[field].hint_number = number;
    ev->values[field].hinted |= EVENT_HINT_NUMBER;
}

/* 1 with *number set when field's value carries its number hint, else
 * 0. */
static inline int event_hinted_number(const struct event *ev, size_t field,
                                      double *number)
{
    assert(field < ev->field_count);
    if (!(ev->values[field].hinted & EVENT_HINT_NUMBER))
        return 0;
    *number = ev->values[field].hint_number;
    return 1;
}

/* event_hint_replacement() when the arena must grow first. */
char *event_hint_replacement_grow(struct event *ev, size_t field, size_t len);

/* Reserves len bytes in the arena (and the NUL after them, written here)
 * for the replacement of field's value as it is now, which the caller
 * writes at the returned address, and marks it valid: the field keeps
 * its value until event_use_replacement(). Returns NULL when out of
 * memory or when the arena would pass EVENT_ARENA_MAX (no hint made;
 * the event is otherwise unchanged). The address
 * is valid until the event is next modified. Inline while the arena has
 * room (the hinter makes several an event; the call was a third of the
 * cost). */
static inline char *event_hint_replacement(struct event *ev, size_t field,
                                           size_t len)
{
    size_t offset = ev->arena.len;
    struct value *v = &ev->values[field];

    assert(field < ev->field_count);
    /* Room for the bytes, their NUL, and the NUL struct buf keeps past
     * its end, as buf_reserve() would test; the limit is tested there
     * too (cap is far below it in every run that fits it). */
    if (offset + len + 2 > ev->arena.cap || !event_arena_fits(ev, len))
        return event_hint_replacement_grow(ev, field, len);
    ev->arena.data[offset + len] = '\0';
    ev->arena.len = offset + len + 1;
    ev->arena.data[ev->arena.len] = '\0';
    ev->replacement[field].offset = (uint32_t)offset;
    ev->replacement[field].len = (uint32_t)len;
    /* A replacement made anew has no hash yet. */
    v->hinted = (unsigned char)((v->hinted & ~EVENT_HINT_REPLACEMENT_HASH) |
                                EVENT_HINT_REPLACEMENT);
    return ev->arena.data + offset;
}

/* Records hash as the feature hash of field's hinted replacement; the
 * replacement must be hinted (asserted). */
static inline void event_hint_replacement_hash(struct event *ev,
                                               size_t field, uint32_t hash)
{
    assert(field < ev->field_count);
    assert(ev->values[field].hinted & EVENT_HINT_REPLACEMENT);
    ev->replacement[field].hash = hash;
    ev->values[field].hinted |= EVENT_HINT_REPLACEMENT_HASH;
}

/* When field carries a replacement hint made from its current value:
 * makes the replacement the field's value (a string), keeps the
 * replacement's feature hash as the new value's hash hint if it had
 * one, and returns 1. Otherwise changes nothing and returns 0. */
static inline int event_use_replacement(struct event *ev, size_t field)
{
    unsigned char had;
    const struct value_replacement *r;

    assert(field < ev->field_count);
    had = ev->values[field].hinted;
    if (!(had & EVENT_HINT_REPLACEMENT))
        return 0;
    r = &ev->replacement[field];
    event_set_string_at(ev, field, r->offset, r->len);
    if (had & EVENT_HINT_REPLACEMENT_HASH)
        event_hint_hash(ev, field, r->hash);
    return 1;
}

/* Overwrites the len bytes of the arena at offset (buf_wipe_span()): a
 * raw personal value whose field has been given its replacement (or is
 * no longer read). No field may still point there. Only those bytes: a
 * pass over the whole arena would cost every event its size. */
static inline void event_wipe_bytes(struct event *ev, size_t offset,
                                    size_t len)
{
    assert(offset + len <= ev->arena.len);
    buf_wipe_span(ev->arena.data + offset, len);
}

/* Releases the arena. NULL-safe. */
void event_free(struct event *ev);

#endif
