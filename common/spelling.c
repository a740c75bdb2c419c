/*
 * common/spelling.c - edit distances to known names, see spelling.h.
 */
#include "common/spelling.h"

#include <string.h>

#define SPELLING_SHORT_NAME 5 /* bytes under which one edit is the most */

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

size_t spelling_distance(const char *a, const char *b)
{
    size_t rows[3][SPELLING_LEN_MAX + 1];
    size_t la = strlen(a), lb = strlen(b), i, j, d;

    if (la > SPELLING_LEN_MAX || lb > SPELLING_LEN_MAX ||
        (la > lb ? la - lb : lb - la) > SPELLING_MAX_EDITS)
        return SPELLING_FAR;
    for (j = 0; j <= lb; j++)
        rows[0][j] = j; /* row i of the table is rows[i % 3] */
    for (i = 1; i <= la; i++) {
        size_t *prev2 = rows[(i + 1) % 3], *prev = rows[(i + 2) % 3],
               *cur = rows[i % 3];

        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            cur[j] = min3(prev[j - 1] + (a[i - 1] != b[j - 1]), prev[j] + 1,
                          cur[j - 1] + 1);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
    }
    d = rows[la % 3][lb];
    return d <= SPELLING_MAX_EDITS ? d : SPELLING_FAR;
}

/* s in ASCII lower case into out (SPELLING_LEN_MAX + 2 bytes): a name
 * longer than SPELLING_LEN_MAX stays too long to compare. */
static const char *lower(const char *s, char *out)
{
    size_t i;

    for (i = 0; s[i] && i <= SPELLING_LEN_MAX; i++)
        out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a')
                                             : s[i];
    out[i] = '\0';
    return out;
}

const char *spelling_nearest(const char *name, spelling_name_fn known,
                             const void *ctx)
{
    size_t best = strlen(name) < SPELLING_SHORT_NAME ? 2
                                                     : SPELLING_MAX_EDITS + 1;
    char folded[SPELLING_LEN_MAX + 2], other[SPELLING_LEN_MAX + 2];
    const char *candidate, *found = NULL;
    size_t i, d;

    (void)lower(name, folded);
    for (i = 0; (candidate = known(ctx, i)) != NULL; i++) {
        d = spelling_distance(folded, lower(candidate, other));
        if (d < best) {
            best = d;
            found = candidate;
        }
    }
    return found;
}
