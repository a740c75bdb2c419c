/*
 * common/utf8.h - strict UTF-8, one character at a time: the one rule
 * riffle holds text to, for the Avro strings it writes or accepts
 * (schema_find_bad_utf8()) and for what its logs let reach a terminal
 * (log_printable()). Strict: no overlong form, no surrogate, nothing
 * past U+10FFFF.
 */
#ifndef RIFFLE_COMMON_UTF8_H
#define RIFFLE_COMMON_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 character at p, of which at most avail
 * bytes may be read (1 to 4), or 0 when none starts there. A string's
 * NUL stops it too: a NUL is no continuation byte. */
static inline size_t utf8_char_length(const unsigned char *p, size_t avail)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, k;

    if (avail == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > avail)
        return 0;
    if (p[0] == 0xe0) /* below U+0800: overlong */
        lo = 0xa0;
    else if (p[0] == 0xed) /* U+D800 to U+DFFF: surrogates */
        hi = 0x9f;
    else if (p[0] == 0xf0) /* below U+10000: overlong */
        lo = 0x90;
    else if (p[0] == 0xf4) /* past U+10FFFF */
        hi = 0x8f;
    for (k = 1; k < n; k++, lo = 0x80, hi = 0xbf)
        if (p[k] < lo || p[k] > hi)
            return 0;
    return n;
}

#endif
