/*
 * cli/learn_labels.h - the labels topic in `riffle learn`: delayed
 * labels (labels = {...} in the configuration).
 *
 * Events without a label go through the ordinary event path: they are
 * scored, their prediction is published at once, and online.c keeps them.
 * This module takes each message of the labels topic, joins it with its
 * event through online_learn_label() (which learns it, or keeps a label
 * that overtook its event), and publishes what the configuration asks
 * for a label that cannot be joined: a dead letter with the reason, or
 * nothing (the label is counted either way).
 * Runs on the learner thread, inside the learn loop's transaction.
 */
#ifndef RIFFLE_CLI_LEARN_LABELS_H
#define RIFFLE_CLI_LEARN_LABELS_H

#include <stddef.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "consumers/consumer.h"
#include "learner/online.h"
#include "producers/outputs.h"

#define LEARN_LABELS_REASON_UNKNOWN "label_unknown"
#define LEARN_LABELS_REASON_EXPIRED "label_expired"
#define LEARN_LABELS_REASON_DUPLICATE "label_duplicate"

/* This process's label messages; the outcomes of joins live in the
 * store (online_label_join()), which snapshots carry across restarts. */
struct learn_labels_counts {
    unsigned long long messages;      /* label messages handled live */
    unsigned long long dead_lettered; /* of which dead-lettered */
    unsigned long long ignored;       /* counted only, as configured */
    unsigned long long invalid;       /* unreadable: dead-lettered */
};

/* 1 when topic is cfg's labels topic. */
int learn_labels_is_labels_topic(const struct cfg *cfg, const char *topic);

/* Handles the label message at src. A replayed one (replay = 1, see
 * consumers/consumer.h) is joined and learned, but publishes nothing.
 * On a join *drift tells whether the detector fired. Returns 0 or an
 * error with errstr naming the message's coordinates. */
int learn_labels_handle(struct online_learner *ol, struct outputs *out,
                        const struct source_ref *src, int replay,
                        struct learn_labels_counts *counts, int *drift,
                        char *errstr, size_t errstr_size);

/* Dead-letters (or counts, as labels.on_unknown says) the labels given
 * up because their event did not come (online_next_given_up_label());
 * a replay only counts them. Call after every message. Returns 0 or an
 * error with errstr. */
int learn_labels_release(struct online_learner *ol, struct outputs *out,
                         int replay, struct learn_labels_counts *counts,
                         char *errstr, size_t errstr_size);

/* Several instances (--instance) join a label with its event only when
 * one instance reads both: the labels topic must be co-partitioned with
 * each topic events come from (input and sources: as many partitions,
 * keyed by event id with the same partitioner), and the range assignor
 * then gives events partition p and labels partition p to one instance.
 * Asks the brokers with a client of its own, so that it can run before
 * the learner joins its group (a static member that stops at once would
 * hold its partitions until the session times out). Returns 0,
 * RIFFLE_ERR_CFG with errstr naming both topics and their counts, or
 * RIFFLE_ERR_KAFKA. */
int learn_labels_check_partitions(const struct cfg *cfg, char *errstr,
                                  size_t errstr_size);

/* Several instances: the partitions whose records this instance gave
 * away since its store was last restored (their records were dropped,
 * so a claim of its own, or a position of its own at least once, no
 * longer means it holds them). */
struct learn_labels_held {
    unsigned char dropped[SNAPSHOT_MAX_OFFSETS];
};

/* Writes, for each input partition p assigned to consumer (borrowed),
 * the record of p's delayed-label records (learner/labels_record.h)
 * under `<model>#labels/<p>` on the model topic, standing at offsets (n,
 * borrowed: the snapshot's). Call right after writing a snapshot: in its
 * transaction (exactly once), or before it is sent (at least once, so
 * that the records are acknowledged before its offsets are committed).
 * Adds the bytes written to *bytes. Returns 0 or an error with
 * errstr. */
int learn_labels_write_records(struct online_learner *ol, struct outputs *out,
                               const struct consumer *consumer,
                               const struct snapshot_offset *offsets,
                               size_t n, size_t *bytes, char *errstr,
                               size_t errstr_size);

/* On an assignment (n entries of parts, borrowed; see consumer.h): drops
 * the records of partitions no longer assigned (they moved with their
 * partition, uncounted), and for each input partition whose state is
 * handed over (a claim of another instance, or one of ours whose records
 * this instance dropped) replaces its records by the newest
 * `<model>#labels/<p>`, the records of every such partition found in
 * one read of the model topic's tail. A record that is damaged or does not stand where
 * this instance starts is not used, with a warning: the labels of its
 * events then count as unknown (never twice). Returns 0, or
 * RIFFLE_ERR_KAFKA with errstr when the model topic cannot be read
 * (nothing is taken over then), or RIFFLE_ERR_NOMEM. */
int learn_labels_take_over(struct online_learner *ol,
                           struct learn_labels_held *h,
                           const struct consumer_assigned *parts, size_t n,
                           char *errstr, size_t errstr_size);

/* The same at least once, where commits carry no claims: an input
 * partition that starts at the group's committed offset (start -1 in
 * parts), past the beginning, takes the records that stand there,
 * written with the snapshot whose offsets were committed by the
 * partition's last owner (this instance or another); one that resumes
 * at this instance's own position keeps the records it holds, unless it
 * gave them away since (then it takes those that stand at its
 * position, if any). The newest record is tried, then the one before
 * it (an owner stopped between writing a snapshot's records and
 * committing its offsets). Records of partitions no longer assigned are
 * dropped, as exactly once. A partition with no fitting record is
 * warned about: the labels of its waiting events count as unknown,
 * never silently. consumer (borrowed) reads the committed offsets, from
 * inside its own rebalance. Returns 0 or an error with errstr. */
int learn_labels_take_over_alo(struct online_learner *ol,
                               struct learn_labels_held *h,
                               struct consumer *consumer,
                               const struct consumer_assigned *parts,
                               size_t n, char *errstr, size_t errstr_size);

/* Appends "labels":{...} (the store's counts and this process's) for
 * the summary line. Returns 0 or RIFFLE_ERR_NOMEM. */
int learn_labels_json(struct online_learner *ol,
                      const struct learn_labels_counts *counts,
                      struct buf *out);

#endif
