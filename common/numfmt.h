/*
 * common/numfmt.h - numbers as the shortest text that reads back exactly.
 *
 * Used wherever a number becomes text that something else depends on: a
 * category token that is hashed into a feature, a label compared against
 * configured names, a band name, JSON output. "0.1" stays "0.1" (not
 * "0.10000000000000001"), 7 stays "7", and no two different doubles ever
 * print the same. Pure function; any thread.
 */
#ifndef RIFFLE_COMMON_NUMFMT_H
#define RIFFLE_COMMON_NUMFMT_H

#include <stddef.h>

#define NUMFMT_MAX 32 /* bytes that always suffice, NUL included */

/* Writes x into out (at least NUMFMT_MAX bytes) and returns out. */
char *numfmt_double(double x, char *out, size_t out_size);

#endif
