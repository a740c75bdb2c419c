/*
 * schemas/event.c - flat decoded records, see event.h.
 */
#include "schemas/event.h"

#include <assert.h>
#include <string.h>

#include "common/err.h"

void event_init(struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
}

void event_reset(struct event *ev, size_t field_count)
{
    assert(field_count <= EVENT_MAX_FIELDS);

    ev->field_count = field_count;
    memset(ev->values, 0, field_count * sizeof(ev->values[0]));
    memset(ev->hinted, 0, field_count);
    ev->mask_hinted = 0;
    buf_reset(&ev->arena);
}

void event_set_null(struct event *ev, size_t field)
{
    assert(field < ev->field_count);
    ev->values[field].kind = VALUE_NULL;
    ev->hinted[field] = 0;
    ev->mask_hinted = 0;
}

int event_set_string(struct event *ev, size_t field, const char *s,
                     size_t len)
{
    char *dst = event_write_string(ev, field, len);

    if (!dst)
        return RIFFLE_ERR_NOMEM;
    memcpy(dst, s, len);
    return 0;
}

/* Reserves len bytes and a NUL at the end of the arena; returns where
 * they start, or (size_t)-1 when out of memory (arena unchanged). */
static size_t reserve_string(struct event *ev, size_t len)
{
    size_t offset = ev->arena.len;

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
    ev->values[field].str_offset = offset;
    ev->values[field].str_len = len;
    ev->hinted[field] = 0;
    ev->mask_hinted = 0;
    return ev->arena.data + offset;
}

char *event_hint_replacement_grow(struct event *ev, size_t field, size_t len)
{
    assert(field < ev->field_count);

    /* Grown, the arena has room: the inline path takes it from here. */
    if (buf_reserve(&ev->arena, len + 1) != 0)
        return NULL;
    return event_hint_replacement(ev, field, len);
}

int event_append_block(struct event *ev, const char *block, size_t len,
                       size_t *offset)
{
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
