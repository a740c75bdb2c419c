/*
 * common/wire.c - little-endian fields, see wire.h.
 */
#include "common/wire.h"

#include <string.h>

void wire_reader_init(struct wire_reader *r, const void *data, size_t len)
{
    r->p = data;
    r->len = len;
    r->pos = 0;
    r->failed = 0;
}

static int put_le(struct buf *b, uint64_t v, size_t bytes)
{
    unsigned char out[8];
    size_t i;

    for (i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * i));
    return buf_append(b, out, bytes);
}

int wire_put_u8(struct buf *b, uint8_t v)
{
    return put_le(b, v, 1);
}

int wire_put_u32(struct buf *b, uint32_t v)
{
    return put_le(b, v, 4);
}

int wire_put_u64(struct buf *b, uint64_t v)
{
    return put_le(b, v, 8);
}

int wire_put_f64(struct buf *b, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return put_le(b, bits, 8);
}

const unsigned char *wire_get_bytes(struct wire_reader *r, size_t len)
{
    const unsigned char *p;

    if (r->failed || len > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += len;
    return p;
}

static uint64_t get_le(struct wire_reader *r, size_t bytes)
{
    const unsigned char *p = wire_get_bytes(r, bytes);
    uint64_t v = 0;
    size_t i;

    for (i = 0; p && i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t wire_get_u8(struct wire_reader *r)
{
    return (uint8_t)get_le(r, 1);
}

uint32_t wire_get_u32(struct wire_reader *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t wire_get_u64(struct wire_reader *r)
{
    return get_le(r, 8);
}

double wire_get_f64(struct wire_reader *r)
{
    uint64_t bits = get_le(r, 8);
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

int wire_reader_done(const struct wire_reader *r)
{
    return !r->failed && r->pos == r->len;
}
