/*
 * cli/learn_merge.h - merges a learner instance's model with the other
 * instances' of its pipeline, through the model topic.
 *
 * Every instance of `riffle learn --instance NAME` publishes its own
 * snapshots under `<model>@NAME`. To merge, an instance reads the newest
 * snapshot of every other instance from the (compacted, read_committed)
 * model topic, restores each into a scratch learner, and replaces its
 * own model with the average of all of them weighted by the examples
 * each instance learned itself (learner/model_merge.h,
 * model_merger_merge_weighted()); the merged model's version is the
 * total of those examples. Only the model (weights and optimizer state)
 * is replaced: the instance's metrics, field statistics and offsets stay
 * its own, so merging never makes an event count twice. The learn loop
 * decides when to merge and publishes the result (docs/SCALING.md).
 *
 * An instance counts as one while its newest snapshot is at most
 * scaling.instance_expiry_seconds old (by its Kafka timestamp); after
 * that it is no longer merged, until it publishes again. Each merge reads
 * only the model topic's messages published since the previous merge.
 * Runs on the learner thread; reads Kafka synchronously.
 */
#ifndef RIFFLE_CLI_LEARN_MERGE_H
#define RIFFLE_CLI_LEARN_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "learner/online.h"
#include "schemas/schema.h"

/* What merging has cost so far: the merge traffic on the model topic. */
struct learn_merge_stats {
    uint64_t merges;
    uint64_t peers_read;      /* peer snapshots restored, over all merges */
    uint64_t bytes_read;      /* their encoded size */
    uint64_t bytes_published; /* snapshots published for merging */
    uint64_t messages_read;   /* of the model topic, over all merges */
    uint64_t last_messages_read; /* by the latest merge alone */
    uint64_t peers_expired;   /* instances dropped for their age */
    double seconds;           /* spent reading the topic and merging */
};

struct learn_merge;

/* For cfg's pipeline; self_key is this instance's snapshot key (its own
 * snapshots are not read back). cfg, input and snapshot_schema are
 * borrowed and must outlive the merger; self_key is copied. Returns 0 or
 * an error with errstr. */
int learn_merge_new(const struct cfg *cfg, const struct schema *input,
                    const struct schema *snapshot_schema,
                    const char *self_key, struct learn_merge **out,
                    char *errstr, size_t errstr_size);

void learn_merge_destroy(struct learn_merge *m); /* NULL-safe */

/* Reads what is new on the model topic, then replaces ol's model with
 * the merge of it and the newest snapshot of every other live instance;
 * *peers gets how many were merged in (0: none found, ol unchanged). A
 * peer snapshot that cannot be restored (other configuration, damaged)
 * is skipped with a warning. Returns 0, or an error with errstr (broker
 * unreachable, no memory); ol is then unchanged. */
int learn_merge_adopt(struct learn_merge *m, struct online_learner *ol,
                      size_t *peers, char *errstr, size_t errstr_size);

/* Adds a publication made for merging to the traffic count. */
void learn_merge_count_published(struct learn_merge *m, size_t bytes);

const struct learn_merge_stats *learn_merge_stats(const struct learn_merge *m);

#endif
