/*
 * schemas/event.c - flat decoded records, see event.h.
 */
#include "schemas/event.h"

#include <assert.h>
#include <string.h>

#include "common/err.h"

/* A row's fields are adjacent records of this size (event.h): a larger
 * one moves more cache lines between train's threads every row. */
_Static_assert(sizeof(struct value) == 24, "struct value grew");

void event_init(struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
}

void event_reset(struct event *ev, size_t field_count)
{
    assert(field_count <= EVENT_MAX_FIELDS);

    ev->field_count = field_count;
    memset(ev->values, 0, field_count * sizeof(ev->values[0]));
    ev->mask_hinted = 0;
    buf_reset(&ev->arena);
}

void event_set_null(struct event *ev, size_t field)
{
    assert(field < ev->field_count);
    ev->values[field].kind = VALUE_NULL;
    ev->values[field].hinted = 0;
    ev->mask_hinted = 0;
}

int event_set_string(struct event *ev, size_t field, const char *s,
                     size_t len)
{
    char *dst;

    if (!event_arena_fits(ev, len))
        return RIFFLE_ERR_TOO_BIG;
    dst = event_write_string(ev, field, len);
    if (!dst)
        return RIFFLE_ERR_NOMEM;
    memcpy(dst, s, len);
    return 0;
}

/* Reserves len bytes and a NUL at the end of the arena; returns where
 * they start, or (size_t)-1 when out of memory or past EVENT_ARENA_MAX
 * (arena unchanged). */
static size_t reserve_string(struct event *ev, size_t len)
{
    size_t offset = ev->arena.len;

    if (!event_arena_fits(ev, len))
        return (size_t)-1;
    /* buf_reserve()'s own test, made here: a call a string was a fifth
     * of hinting a pseudonym. */
    if (offset + len + 2 > ev->arena.cap &&
        buf_reserve(&ev->arena, len + 1) != 0)
        return (size_t)-1;
    /* buf_reserve() left room for the string, its NUL, and the NUL
     * that struct buf keeps past its end. */
    ev->arena.data[offset + len] = '\0';
    ev->arena.len = offset + len + 1;
    ev->arena.data[ev->arena.len] = '\0';
    return offset;
}

char *event_write_string(struct event *ev, size_t field, size_t len)
{
    size_t offset;

    assert(field < ev->field_count);

    offset = reserve_string(ev, len);
    if (offset == (size_t)-1)
        return NULL;
    ev->values[field].kind = VALUE_STRING;
    ev->values[field].hinted = 0;
    ev->values[field].str_offset = (uint32_t)offset;
    ev->values[field].str_len = (uint32_t)len;
    ev->mask_hinted = 0;
    return ev->arena.data + offset;
}

char *event_hint_replacement_grow(struct event *ev, size_t field, size_t len)
{
    assert(field < ev->field_count);

    if (!event_arena_fits(ev, len))
        return NULL;
    /* Grown, the arena has room: the inline path takes it from here. */
    if (buf_reserve(&ev->arena, len + 1) != 0)
        return NULL;
    return event_hint_replacement(ev, field, len);
}

int event_append_block(struct event *ev, const char *block, size_t len,
                       size_t *offset)
{
    /* No NUL is added here: the block's own bytes end its strings. */
    if (len > EVENT_ARENA_MAX - ev->arena.len)
        return RIFFLE_ERR_TOO_BIG;
    if (buf_append(&ev->arena, block, len) != 0)
        return RIFFLE_ERR_NOMEM;
    *offset = ev->arena.len - len;
    return 0;
}

void event_free(struct event *ev)
{
    if (!ev)
        return;
    buf_free(&ev->arena);
    ev->field_count = 0;
}
