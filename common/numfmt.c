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

char *numfmt_double(double x, char *out, size_t out_size)
{
    int digits;

    if (x == (double)(long long)x && x > -NUMFMT_EXACT_INT &&
        x < NUMFMT_EXACT_INT && !(x == 0 && signbit(x))) {
        snprintf(out, out_size, "%lld", (long long)x);
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
