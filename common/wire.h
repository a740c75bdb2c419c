/*
 * common/wire.h - little-endian fixed-width fields for saved state.
 *
 * The cleaning summaries (sketch.c, topk.c, dedup.c) travel inside the
 * model snapshot as opaque byte strings; this writes and reads their
 * integers and doubles in one byte order whatever the host's. The reader
 * never goes past its input: a short read sets failed and returns 0, so
 * a decoder reads everything, then checks failed once. Not thread-safe.
 */
#ifndef RIFFLE_COMMON_WIRE_H
#define RIFFLE_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct wire_reader {
    const unsigned char *p; /* borrowed */
    size_t len;
    size_t pos;
    int failed; /* 1 after any read past the end */
};

void wire_reader_init(struct wire_reader *r, const void *data, size_t len);

/* Each returns 0 or RIFFLE_ERR_NOMEM. */
int wire_put_u8(struct buf *b, uint8_t v);
int wire_put_u32(struct buf *b, uint32_t v);
int wire_put_u64(struct buf *b, uint64_t v);
int wire_put_f64(struct buf *b, double v); /* its IEEE-754 bits */

uint8_t wire_get_u8(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
uint64_t wire_get_u64(struct wire_reader *r);
double wire_get_f64(struct wire_reader *r);

/* A pointer to the next len bytes, or NULL (and failed set) when fewer
 * remain. Borrowed from the reader's input. */
const unsigned char *wire_get_bytes(struct wire_reader *r, size_t len);

/* 1 when every byte was read and none was missing. */
int wire_reader_done(const struct wire_reader *r);

#endif
