/*
 * consumers/handover.h - who learned an input partition up to its
 * committed offset, and where a new owner must start learning it.
 *
 * Several learner instances of one pipeline share one consumer group;
 * each keeps its own model and its own snapshots (keyed per instance).
 * When a partition moves, the events below its committed offset must
 * stay learned by exactly one model. Every offset an instance commits
 * (in the transaction that also carries its outputs and any snapshot)
 * carries a claim in the offset's metadata:
 *
 *   owner  the instance that learned the partition up to the offset
 *          (its snapshot key);
 *   from   the offset where that instance's current ownership began:
 *          its model holds the partition's events from there on;
 *   snap   how far the instance's last committed snapshot covers the
 *          partition (-1: none); its model beyond that is lost if it
 *          crashes.
 *
 * Because the claim is committed atomically with the snapshot and the
 * outputs, the next owner decides from the claim alone, without reading
 * anybody's snapshot (see handover_decide()). The argument that this
 * learns every event once is in docs/SCALING.md, "Rebalances". Pure
 * logic, no Kafka calls: the consumer calls it from its rebalance
 * callback, on the learner thread.
 */
#ifndef RIFFLE_CONSUMERS_HANDOVER_H
#define RIFFLE_CONSUMERS_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"

#define HANDOVER_METADATA_MAX (CFG_NAME_MAX + 64) /* "v1 ..." + a name */

struct handover_claim {
    char owner[CFG_NAME_MAX];
    int64_t from;
    int64_t snap; /* -1: no snapshot of the owner covers the partition */
};

/* How a newly assigned partition is read. */
struct handover_start {
    int64_t start;        /* first offset to learn; -1 = the beginning */
    int64_t replay_until; /* below it: learned, not published; -1 none */
    int64_t from;         /* the from of this instance's claims */
    int relearn_gap;      /* takes over what a crashed owner lost */
    int inherits;         /* the claimant's per-partition state (delayed-
                             label records) is this instance's from start:
                             a claim of another instance, or one of ours
                             whose from our position does not reach */
};

/* Writes claim as offset metadata into out (NUL-terminated). Returns its
 * length, or -1 when it does not fit. */
int handover_format(const struct handover_claim *claim, char *out,
                    size_t out_size);

/* Parses offset metadata (data may be NULL, len bytes, not terminated).
 * Returns 0, or -1 when it is no claim (empty: a commit by an older
 * riffle or by hand); out is then zeroed. */
int handover_parse(const void *data, size_t len,
                   struct handover_claim *out);

/* Decides where instance self starts on a partition assigned to it.
 * committed is the group's committed offset (< 0: none); claim is the
 * parsed metadata, or NULL when there is none; own is this instance's
 * position in the partition (from its restored snapshot or from earlier
 * in this run; -1 unknown).
 *   - no claim: as a single learner always did: from own, relearning up
 *     to committed;
 *   - claimed by self: from max(own, claim->from), relearning up to
 *     committed (a restart, or a partition coming back unchanged);
 *   - claimed by another instance: from max(claim->from, claim->snap) up
 *     to committed, which is empty after a graceful hand-over and is the
 *     part the other instance's crash lost otherwise.
 * out->inherits is set for any claim of another instance, and for one of
 * its own whose from lies above own: the instance's state then stops
 * short of where it starts (another owner's span, or its own span that no
 * snapshot of it covers, lies in between). */
void handover_decide(const char *self, const struct handover_claim *claim,
                     int64_t committed, int64_t own,
                     struct handover_start *out);

#endif
