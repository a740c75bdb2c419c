/*
 * consumers/offset_range.h - whether a resume offset still fits its
 * partition, and where to read from when it does not.
 *
 * A restored snapshot says where each input partition resumes. The
 * partition may have moved on without it: records before its log start
 * were deleted by retention (the model never saw them), or its end lies
 * below the offset (the topic was deleted and created again, or the
 * broker lost records the model learned). Left to librdkafka, both end
 * in a silent reset to auto.offset.reset; this module names the case and
 * decides from the configured action (snapshot.on_offset_past_end) and
 * the partition's watermarks. Pure logic, no Kafka calls: the consumer
 * calls it from its rebalance callback, on the learner thread.
 */
#ifndef RIFFLE_CONSUMERS_OFFSET_RANGE_H
#define RIFFLE_CONSUMERS_OFFSET_RANGE_H

#include <stdint.h>

#include "config/cfg.h"

enum offset_range_case {
    OFFSET_RANGE_INSIDE = 0,  /* low <= offset <= high: resume there */
    OFFSET_RANGE_BEFORE_START, /* offset < low: retention deleted events */
    OFFSET_RANGE_PAST_END,     /* offset > high */
    OFFSET_RANGE_UNKNOWN       /* no offset, or the watermarks are unknown */
};

struct offset_range_decision {
    enum offset_range_case range;
    int64_t start; /* where to read from; the offset itself when INSIDE or
                      UNKNOWN; -1 when stop is set */
    int stop;      /* PAST_END under CFG_PAST_END_STOP: do not read */
    int64_t lost;  /* BEFORE_START: events deleted before the model saw
                      them (low - offset); 0 otherwise */
};

/* Decides where a partition whose resume offset is offset (< 0: none)
 * is read from, given its watermarks low and high (< 0: unknown) and
 * the action for an offset past the end. An offset before the start
 * always goes on from low: those events are gone whatever is chosen. */
void offset_range_decide(int64_t offset, int64_t low, int64_t high,
                         enum cfg_past_end_action action,
                         struct offset_range_decision *out);

/* The action's name as configured ("stop", "earliest", "latest"). */
const char *offset_range_action_name(enum cfg_past_end_action action);

#endif
