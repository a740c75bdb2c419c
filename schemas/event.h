/*
 * schemas/event.h - one decoded input record, as a flat row of values.
 *
 * Every input schema riffle reads is a flat Avro record of primitives
 * (string, double, float, long, int, boolean, each optionally in a union
 * with null). An event holds one value per schema field, by field index:
 * null, a number (all numeric Avro types and booleans become doubles), or
 * a string. String bytes live in the event's own arena, so an event is
 * self-contained and can be reused for the next record without freeing.
 * Not thread-safe; each thread uses its own events.
 */
#ifndef RIFFLE_SCHEMAS_EVENT_H
#define RIFFLE_SCHEMAS_EVENT_H

#include <assert.h>
#include <stddef.h>

#include "common/buf.h"

#define EVENT_MAX_FIELDS 128 /* far above any bundled dataset (15) */

enum value_kind {
    VALUE_NULL = 0,
    VALUE_NUMBER,
    VALUE_STRING,
};

struct value {
    enum value_kind kind;
    double number;     /* when kind == VALUE_NUMBER */
    size_t str_offset; /* when kind == VALUE_STRING: start in the arena */
    size_t str_len;    /* bytes, without the NUL the arena adds */
};

struct event {
    size_t field_count;
    struct value values[EVENT_MAX_FIELDS];
    struct buf arena; /* string bytes, each followed by a NUL */
};

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
    ev->values[field].number = number;
}

/* Copies len bytes of s into the arena. Returns 0 or RIFFLE_ERR_NOMEM. */
int event_set_string(struct event *ev, size_t field, const char *s,
                     size_t len);

/* Makes field a string of len bytes that the caller writes at the
 * returned address, in the arena (the NUL after them is written here):
 * a string assembled from parts (a pseudonym's key id and digits) is
 * written once, not staged and copied. Returns NULL when out of memory
 * (event unchanged). The address is valid until the event is next
 * modified. */
char *event_write_string(struct event *ev, size_t field, size_t len);

/* Copies len bytes of block into the arena in one piece and writes where
 * they start to *offset, for event_set_string_at(): a caller with many
 * strings side by side (a CSV record) copies them once. Returns 0 or
 * RIFFLE_ERR_NOMEM (event unchanged). */
int event_append_block(struct event *ev, const char *block, size_t len,
                       size_t *offset);

/* Makes field a string already in the arena: len bytes at offset, which
 * must be followed by a NUL there (asserted). */
static inline void event_set_string_at(struct event *ev, size_t field,
                                       size_t offset, size_t len)
{
    assert(field < ev->field_count);
    assert(offset + len < ev->arena.len && ev->arena.data[offset + len] == 0);

    ev->values[field].kind = VALUE_STRING;
    ev->values[field].str_offset = offset;
    ev->values[field].str_len = len;
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

/* Releases the arena. NULL-safe. */
void event_free(struct event *ev);

#endif
