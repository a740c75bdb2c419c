/*
 * consumers/offset_range.c - resume offsets against the partition's
 * watermarks, see offset_range.h.
 */
#include "consumers/offset_range.h"

#include <string.h>

void offset_range_decide(int64_t offset, int64_t low, int64_t high,
                         enum cfg_past_end_action action,
                         struct offset_range_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->range = OFFSET_RANGE_UNKNOWN;
    out->start = offset;

    /* Nothing to check against: librdkafka's own reset stays the guard. */
    if (offset < 0 || low < 0 || high < low)
        return;

    if (offset < low) {
        out->range = OFFSET_RANGE_BEFORE_START;
        out->start = low;
        out->lost = low - offset;
    } else if (offset > high) {
        out->range = OFFSET_RANGE_PAST_END;
        out->stop = action == CFG_PAST_END_STOP;
        out->start = action == CFG_PAST_END_EARLIEST ? low
                     : action == CFG_PAST_END_LATEST ? high
                                                      : -1;
    } else {
        out->range = OFFSET_RANGE_INSIDE;
    }
}

const char *offset_range_action_name(enum cfg_past_end_action action)
{
    switch (action) {
    case CFG_PAST_END_EARLIEST:
        return "earliest";
    case CFG_PAST_END_LATEST:
        return "latest";
    case CFG_PAST_END_STOP:
        break;
    }
    return "stop";
}
