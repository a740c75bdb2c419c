/*
 * serving/model_follower.h - keeps a replica's served model current by
 * following the model topic.
 *
 * A thread of its own reads the (compacted) model topic from its start,
 * outside any consumer group, and for each snapshot of the configured
 * model builds a complete learner from it and installs it in the model
 * slot. While it reads a backlog (at start-up, or after a burst of
 * snapshots) only the newest snapshot is restored, so a replica never
 * spends time on models it would replace at once. A snapshot that cannot
 * be restored (damaged, other configuration) is skipped with a warning
 * and the previous model keeps serving. A snapshot of the version served
 * with the same weights is a re-publication and changes nothing; one
 * with other weights (two learners publishing under one version) is
 * warned about once per version and counted, and, as any later
 * snapshot, serves: the last in the topic wins on every replica. Scoring
 * never waits for any of this: see model_slot.h.
 */
#ifndef RIFFLE_SERVING_MODEL_FOLLOWER_H
#define RIFFLE_SERVING_MODEL_FOLLOWER_H

#include <stddef.h>

#include "config/cfg.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"
#include "serving/serve_stats.h"

struct model_follower;

/* Starts following cfg's model topic for cfg's model name. cfg,
 * input_schema, slot and stats (NULL for none) are borrowed and must
 * outlive the follower; stats counts version conflicts.
 * Returns 0 or an error with errstr (topic missing, no broker, snapshot
 * schema missing). */
int model_follower_start(const struct cfg *cfg,
                         const struct schema *input_schema,
                         struct model_slot *slot, struct serve_stats *stats,
                         struct model_follower **out, char *errstr,
                         size_t errstr_size);

/* Snapshots installed so far. */
unsigned long long model_follower_installed(struct model_follower *f);

/* Stops the thread and frees. NULL-safe. */
void model_follower_stop(struct model_follower *f);

#endif
