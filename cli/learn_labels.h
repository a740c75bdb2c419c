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

/* For several instances: an event kept for its label (r->pending) must
 * have come keyed by its own id, or its label (keyed by that id) lands in
 * a partition another instance may own. Returns 0, or RIFFLE_ERR_CFG
 * with errstr naming the message's coordinates (the id itself is the
 * user's, so it stays out). */
int learn_labels_check_key(const struct source_ref *src,
                           const struct online_result *r, char *errstr,
                           size_t errstr_size);

/* Warns, when partitions are revoked from one of several instances,
 * that events waiting for their label stay here (see TODO(hand-over) in
 * learn_labels.c): those of a partition that moves will not be joined.
 * Counts only, no ids. */
void learn_labels_warn_revoke(struct online_learner *ol);

/* Appends "labels":{...} (the store's counts and this process's) for
 * the summary line. Returns 0 or RIFFLE_ERR_NOMEM. */
int learn_labels_json(struct online_learner *ol,
                      const struct learn_labels_counts *counts,
                      struct buf *out);

#endif
