/*
 * consumers/handover.c - partition claims in offset metadata, see
 * handover.h.
 */
#include "consumers/handover.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "v1 <from> <snap> <owner>": the owner last, so that a name is taken
 * whole; the tag lets a later format be told apart. */
#define HANDOVER_TAG "v1"

int handover_format(const struct handover_claim *claim, char *out,
                    size_t out_size)
{
    int n = snprintf(out, out_size, HANDOVER_TAG " %" PRId64 " %" PRId64
                     " %s", claim->from, claim->snap, claim->owner);

    return n < 0 || (size_t)n >= out_size ? -1 : n;
}

int handover_parse(const void *data, size_t len, struct handover_claim *out)
{
    char text[HANDOVER_METADATA_MAX], *end;
    const char *p;

    memset(out, 0, sizeof(*out));
    if (!data || len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, data, len);
    text[len] = '\0';

    if (strncmp(text, HANDOVER_TAG " ", 3) != 0)
        return -1;
    p = text + 3;
    out->from = strtoll(p, &end, 10);
    if (end == p || *end != ' ' || out->from < 0)
        goto bad;
    p = end + 1;
    out->snap = strtoll(p, &end, 10);
    if (end == p || *end != ' ' || out->snap < -1)
        goto bad;
    p = end + 1;
    if (*p == '\0' || strlen(p) >= sizeof(out->owner))
        goto bad;
    snprintf(out->owner, sizeof(out->owner), "%s", p);
    return 0;

bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void handover_decide(const char *self, const struct handover_claim *claim,
                     int64_t committed, int64_t own,
                     struct handover_start *out)
{
    memset(out, 0, sizeof(*out));
    out->replay_until = committed >= 0 ? committed : -1;

    if (!claim) {
        out->start = own >= 0 ? own : -1;
    } else if (strcmp(claim->owner, self) == 0) {
        out->start = max64(own, claim->from);
        out->inherits = own < claim->from; /* from >= 0: parsed so */
    } else {
        out->start = max64(claim->from, claim->snap);
        out->relearn_gap = committed > out->start;
        out->inherits = 1;
    }

    /* Offset 0 and "the beginning" are the same place unless retention
     * removed the head; the beginning is then the right place. */
    if (out->start <= 0)
        out->start = -1;
    out->from = out->start >= 0 ? out->start : 0;
    if (claim && strcmp(claim->owner, self) == 0)
        out->from = claim->from; /* the same ownership goes on */
}
