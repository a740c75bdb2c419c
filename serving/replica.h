/*
 * serving/replica.h - one scoring replica: the Kafka side of `riffle
 * serve`.
 *
 * Joins the serve consumer group on the requests topic (replicas share
 * its partitions), scores each request with the model in the slot
 * without learning, and publishes a prediction naming the model version
 * to serve.predictions, or a dead letter for a request it cannot score.
 * Offsets are committed only after everything produced before them is
 * acknowledged, every serve.commit_every_ms and before partitions are
 * handed to another replica, so a rebalance neither skips nor repeats a
 * request; after a crash, requests since the last commit are scored
 * again (at least once). Runs on the calling thread.
 */
#ifndef RIFFLE_SERVING_REPLICA_H
#define RIFFLE_SERVING_REPLICA_H

#include <signal.h>
#include <stddef.h>

#include "config/cfg.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"

struct replica;

struct replica_counts {
    unsigned long long requests, predicted, dead_letters;
};

/* cfg, input_schema and slot are borrowed and must outlive the replica.
 * Returns 0 or an error with errstr (topic missing, no broker). */
int replica_new(const struct cfg *cfg, const struct schema *input_schema,
                struct model_slot *slot, struct replica **out,
                char *errstr, size_t errstr_size);

/* Leaves the group after a last commit, flushes, frees. NULL-safe. */
void replica_destroy(struct replica *r);

/* Scores requests until *stop is set, max_requests were handled (0: no
 * limit) or, when idle_exit_s > 0, partitions are assigned, every one is
 * read to its end and nothing arrived for idle_exit_s seconds. Returns 0
 * or an error with errstr (a delivery failed for good). */
int replica_run(struct replica *r, const volatile sig_atomic_t *stop,
                long long max_requests, double idle_exit_s, char *errstr,
                size_t errstr_size);

void replica_counts(const struct replica *r, struct replica_counts *out);

#endif
