/*
 * common/buf.c - growable byte buffer, see buf.h.
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/err.h"

#define BUF_MIN_CAPACITY 64 /* bytes; avoids many tiny reallocations */

/* buf_reserve() of a secret buffer: realloc() would free the old block
 * with its bytes in it, so copy by hand and wipe the old block first. */
static int move_secret(struct buf *b, size_t cap)
{
    char *data = malloc(cap);
    size_t kept = b->data ? b->len + 1 : 1;

    if (!data)
        return RIFFLE_ERR_NOMEM;
    if (b->data) {
        memcpy(data, b->data, kept);
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    } else {
        data[0] = '\0';
    }
    memset(data + kept, 0, cap - kept); /* see grow() */
    b->data = data;
    b->cap = cap;
    return 0;
}

/* buf_reserve() past the capacity. Kept out of line: buf_append() runs
 * for every event and inlines only the test above it. */
static __attribute__((noinline)) int grow(struct buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : BUF_MIN_CAPACITY;
    char *data;

    while (cap < need)
        cap *= 2;

    if (b->secret)
        return move_secret(b, cap);
    data = realloc(b->data, cap);
    if (!data)
        return RIFFLE_ERR_NOMEM;
    /* Every byte up to cap stays defined: online_scratch_holds() reads
     * them all, and valgrind, which the unit tests run under, reports a
     * comparison with bytes never written. Only a growth pays for it. */
    memset(data + b->cap, 0, cap - b->cap);

    b->data = data;
    b->cap = cap;
    return 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* +1 keeps room for the NUL */

    if (need <= b->cap)
        return 0;
    return grow(b, need);
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != 0)
        return RIFFLE_ERR_NOMEM;

    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RIFFLE_ERR_INVALID;

    if (buf_reserve(b, (size_t)n) != 0)
        return RIFFLE_ERR_NOMEM;

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_append_json_string(struct buf *b, const char *s)
{
    const unsigned char *p;
    int err = buf_append(b, "\"", 1);

    for (p = (const unsigned char *)s; err == 0 && *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            err = buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            err = buf_printf(b, "\\u%04x", *p);
        } else {
            err = buf_append(b, p, 1);
        }
    }

    if (err == 0)
        err = buf_append(b, "\"", 1);
    return err;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
    if (!b)
        return;
    if (b->secret && b->data)
        OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_hold_secret(struct buf *b)
{
    b->secret = 1;
}

void buf_wipe(struct buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    b->len = 0;
}

int buf_span_holds(const void *mem, size_t len, const void *needle, size_t n)
{
    const char *p = mem;
    size_t i;

    for (i = 0; p && n > 0 && i + n <= len; i++)
        if (memcmp(p + i, needle, n) == 0)
            return 1;
    return 0;
}

int buf_memory_holds(const struct buf *b, const void *needle, size_t n)
{
    return buf_span_holds(b->data, b->cap, needle, n);
}
