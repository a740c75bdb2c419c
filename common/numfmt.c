/*
 * common/numfmt.c - shortest exact number text, see numfmt.h.
 */
#include "common/numfmt.h"

#include <stdio.h>
#include <stdlib.h>

#define NUMFMT_FEWEST_DIGITS 15 /* every double with <= 15 digits is exact */
#define NUMFMT_MOST_DIGITS 17   /* 17 digits identify any double */

char *numfmt_double(double x, char *out, size_t out_size)
{
    int digits;

    for (digits = NUMFMT_FEWEST_DIGITS; digits < NUMFMT_MOST_DIGITS; digits++) {
        snprintf(out, out_size, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return out;
    }
    snprintf(out, out_size, "%.*g", NUMFMT_MOST_DIGITS, x);
    return out;
}
