/*
 * common/buf.h - a growable byte buffer.
 *
 * Used to build wire messages and text without fixed limits. A zeroed
 * struct buf is a valid empty buffer; buf_free() releases it. The data is
 * always NUL-terminated past len so text can be printed directly.
 */
#ifndef RIFFLE_COMMON_BUF_H
#define RIFFLE_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    char *data;
    size_t len;
    size_t cap; /* bytes past len are zero where never written */
    /* Set by buf_hold_secret(): growing and buf_free() overwrite the
     * bytes they give back, which could hold a personal value. */
    unsigned char secret;
};

/* Make room for at least extra more bytes. Returns 0 or RIFFLE_ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t extra);

/* Append len bytes. Returns 0 or RIFFLE_ERR_NOMEM (b unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);

/* Append one byte: the parsers' hot path, inline while there is room. */
static inline int buf_push(struct buf *b, char c)
{
    if (b->len + 2 <= b->cap) { /* the byte and the NUL after it */
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, &c, 1);
}

/* Append printf-formatted text. Returns 0 or RIFFLE_ERR_NOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append s as a JSON string literal, quotes and escapes included. */
int buf_append_json_string(struct buf *b, const char *s);

/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);

/* Release the memory; b becomes a valid empty buffer. NULL-safe. With
 * buf_hold_secret() the bytes are overwritten first. */
void buf_free(struct buf *b);

/* Mark b as holding raw personal values or key material: from now on a
 * move to a larger block and buf_free() overwrite the old bytes. What
 * stays in the buffer between uses is the caller's to wipe (buf_wipe()). */
void buf_hold_secret(struct buf *b);

/* Overwrite all of b's memory (len and what an earlier use left up to
 * cap) with zeros the compiler cannot drop, and forget the contents;
 * keeps the memory. For the point where a secret is no longer needed. */
void buf_wipe(struct buf *b);

/* Overwrites len bytes at p with zeros the compiler cannot drop: a few
 * bytes of a personal value, once used, on a per-event path. Inline, a
 * word at a time, kept by an empty asm that takes the address and
 * clobbers memory: OPENSSL_cleanse(), a call through a volatile
 * pointer, cost about 60 instructions a field, most of the wipe on
 * Adult's dozen personal fields. */
static inline void buf_wipe_span(void *p, size_t len)
{
    const uint64_t zero = 0;
    char *c = p;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8)
        memcpy(c + i, &zero, 8);
    for (; i < len; i++)
        c[i] = 0;
    __asm__ __volatile__("" : : "r"(c) : "memory");
}

/* buf_wipe_span() for a longer span, a whole record: memset()'s vector
 * stores, kept by the same empty asm. On Adult's lines of about 120
 * bytes, a record and its line in the input window, the word loop cost
 * 190 instructions a row, 6.4M of the reader thread's 165M. */
static inline void buf_wipe_block(void *p, size_t len)
{
    memset(p, 0, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Whether the n bytes at needle occur in the len bytes at mem (NULL: no).
 * For tests that check a raw personal value is wiped once used: it reads
 * every byte, so never per event. */
int buf_span_holds(const void *mem, size_t len, const void *needle, size_t n);

/* buf_span_holds() over b's memory up to its capacity: what a reset
 * leaves there counts too. */
int buf_memory_holds(const struct buf *b, const void *needle, size_t n);

#endif
