/*
 * cli/learn_ops.h - what `riffle learn --http ADDR` adds to the learn
 * loop: an HTTP server for /metrics and the dashboard, fed from the
 * learner's own state.
 *
 * The loop calls learn_ops_event() after each message and
 * learn_ops_tick() once per poll; every call is a no-op when ops is NULL
 * (no --http), so the loop needs no conditions of its own. Runs on the
 * learner thread; the HTTP thread only sees copies (ops/exporter.h).
 */
#ifndef RIFFLE_CLI_LEARN_OPS_H
#define RIFFLE_CLI_LEARN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "consumers/consumer.h"
#include "learner/online.h"
#include "producers/outputs.h"

#define LEARN_OPS_PUBLISH_EVERY_S 0.25 /* a fresh sample for each scrape */

/* The loop's own counters, which the learner state does not hold. */
struct learn_ops_counts {
    uint64_t processed, predicted, dead_lettered, drifts, snapshots;
    uint64_t merges, merge_bytes_read, merge_bytes_published;
    uint64_t merge_messages_read;
    uint64_t rewinds, rebuilds; /* aborted batches; replaced clients */
    /* resume offsets outside their partitions (consumer.h) */
    uint64_t offsets_past_end, offsets_before_start, lost_to_retention;
    double last_snapshot_unix_s; /* 0: none yet */
};

struct learn_ops;

/* Starts serving on listen ("HOST:PORT"). Returns 0 or an error with
 * errstr naming the address. */
int learn_ops_new(const char *listen, const struct cfg *cfg,
                  struct learn_ops **out, char *errstr, size_t errstr_size);

void learn_ops_destroy(struct learn_ops *o); /* NULL-safe */

/* Records one handled message: r's refusal or prediction, its processing
 * time since started_s (monotonic seconds) and its end-to-end latency
 * from src's Kafka timestamp; a drift alarm when r->drift. */
void learn_ops_event(struct learn_ops *o, const struct source_ref *src,
                     const struct online_result *r,
                     const struct online_learner *ol, double started_s);

/* Publishes a sample read from ol, c and counts when one is due, or
 * always when force is set. */
void learn_ops_tick(struct learn_ops *o, struct online_learner *ol,
                    const struct consumer *c,
                    const struct learn_ops_counts *counts, int force);

#endif
