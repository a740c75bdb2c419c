/*
 * common/spelling.h - the known name a misspelt one was probably meant
 * as: a configuration key, a request's field.
 *
 * Distances are counted in edits (an insertion, a deletion, a change of
 * one byte, or a swap of two neighbours), as a typist makes them. Pure
 * functions; any thread.
 */
#ifndef RIFFLE_COMMON_SPELLING_H
#define RIFFLE_COMMON_SPELLING_H

#include <stddef.h>

/* Two edits catch a doubled, dropped or swapped letter or two, while
 * three already pair unrelated short names ("l1" and "bits"). */
#define SPELLING_MAX_EDITS 2
#define SPELLING_FAR ((size_t)-1)   /* farther than SPELLING_MAX_EDITS */
#define SPELLING_LEN_MAX 63         /* longer names are not compared */

/* The edit distance between a and b, or SPELLING_FAR when it exceeds
 * SPELLING_MAX_EDITS or either is longer than SPELLING_LEN_MAX. */
size_t spelling_distance(const char *a, const char *b);

/* The i-th known name of ctx, or NULL past the last. */
typedef const char *(*spelling_name_fn)(const void *ctx, size_t i);

/* The known name nearest to name, or NULL when none is near enough to be
 * the one meant: one edit for a name under five bytes, else two, letters
 * compared without regard to ASCII case ("LEARNING_RATE", a key typed
 * with caps lock on, is as near as can be to "learning_rate"). The first
 * of equally near names wins. Returns one of the known names. */
const char *spelling_nearest(const char *name, spelling_name_fn known,
                             const void *ctx);

#endif
