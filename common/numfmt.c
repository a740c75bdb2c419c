/*
 * common/numfmt.c - shortest exact number text, see numfmt.h.
 */
#include "common/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NUMFMT_FEWEST_DIGITS 15 /* every double with <= 15 digits is exact */
#define NUMFMT_MOST_DIGITS 17   /* 17 digits identify any double */

/* Integers below 2^53 print exactly without a format parse: they are
 * most numbers riffle turns into text (days, ids, 0/1 labels). */
#define NUMFMT_EXACT_INT 9007199254740992.0

/* Writes the integer v (|v| < 2^53) in decimal. By hand, not with
 * snprintf("%lld"): labels and categorical numbers pass through here
 * once or twice an event, and the format parse cost more than the rest
 * of the conversion. */
static void format_integer(long long v, char *out, size_t out_size)
{
    char digits[NUMFMT_MAX];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    size_t n = 0, len = 0;

    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[n++] = '-';
    while (n && len + 1 < out_size)
        out[len++] = digits[--n];
    if (out_size)
        out[len] = '\0';
}

char *numfmt_double(double x, char *out, size_t out_size)
{
    int digits;

    /* The range test comes first: casting a double beyond long long's
     * range is undefined. */
    if (x > -NUMFMT_EXACT_INT && x < NUMFMT_EXACT_INT &&
        x == (double)(long long)x && !(x == 0 && signbit(x))) {
        format_integer((long long)x, out, out_size);
        return out;
    }

    for (digits = NUMFMT_FEWEST_DIGITS; digits < NUMFMT_MOST_DIGITS; digits++) {
        snprintf(out, out_size, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return out;
    }
    snprintf(out, out_size, "%.*g", NUMFMT_MOST_DIGITS, x);
    return out;
}
