/*
 * serving/serve_stats.h - what a `riffle serve` replica has done, for
 * its /metrics, /healthz and closing summary.
 *
 * Counts the requests scored from Kafka (predictions and dead letters),
 * the end-to-end latency of each (from the request's Kafka timestamp to
 * the moment its answer is handed to the producer: queueing in the topic
 * and in the replica included, the broker round trip of the answer not),
 * and the HTTP answers by outcome with their handling time. The Kafka
 * replica's thread and the HTTP threads record; the HTTP threads read.
 * One mutex guards it all: a record is a few additions.
 */
#ifndef RIFFLE_SERVING_SERVE_STATS_H
#define RIFFLE_SERVING_SERVE_STATS_H

#include <stdint.h>

#include "common/buf.h"
#include "ops/histogram.h"

/* End-to-end latency buckets, in seconds: around the 10 ms target. */
#define SERVE_STATS_LATENCY_BOUNDS                                        \
    {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    \
     2.5, 10, 60}

struct serve_stats;

struct serve_stats_counts {
    uint64_t requests, predictions, dead_letters; /* from Kafka */
    uint64_t client_rebuilds; /* Kafka clients replaced after failing */
    uint64_t version_conflicts; /* model versions published twice, with
                                   different weights */
    uint64_t http_ok, http_client_errors, http_unavailable,
        http_server_errors;
    struct histogram latency;      /* Kafka request, end to end */
    struct histogram http_latency; /* HTTP request, headers to answer */
};

/* Returns 0 or RIFFLE_ERR_NOMEM. *out owned by the caller. */
int serve_stats_new(struct serve_stats **out);

/* NULL-safe. */
void serve_stats_destroy(struct serve_stats *st);

/* One request from Kafka answered: a prediction, or a dead letter when
 * dead_letter is set, latency_s after its Kafka timestamp. */
void serve_stats_request(struct serve_stats *st, int dead_letter,
                         double latency_s);

/* predictions and dead_letters counted by serve_stats_request() whose
 * answers will never be seen (an aborted transaction): their requests
 * are scored again, by this replica or another. The counts never go
 * down (a Prometheus counter that does reads as a restart): as many
 * later answers of each kind are not counted, so the counts stand still
 * until the answers given again pass them. Their latencies stay in the
 * histogram: they were handled. */
void serve_stats_drop(struct serve_stats *st, uint64_t predictions,
                      uint64_t dead_letters);

/* Two snapshots of the model with one version and different weights
 * were seen (model_follower.h). */
void serve_stats_version_conflict(struct serve_stats *st);

/* The replica's Kafka clients failed for good and were replaced. */
void serve_stats_rebuild(struct serve_stats *st);

/* One HTTP answer with its status, seconds after its headers came. */
void serve_stats_http(struct serve_stats *st, int status, double seconds);

/* A consistent copy of everything. */
void serve_stats_read(struct serve_stats *st, struct serve_stats_counts *out);

/* serve_stats_read(), less the answers dropped (serve_stats_drop()) and
 * not given again since: the answers a read_committed reader sees, for
 * a replica's final summary, when no answer is to come (the counters
 * for Prometheus never go down; these may). */
void serve_stats_read_delivered(struct serve_stats *st,
                                struct serve_stats_counts *out);

/* Appends the Prometheus text exposition of a copy to out, labelled
 * with the pipeline and model names; model_version < 0 while no model
 * is loaded. Returns 0 or RIFFLE_ERR_NOMEM. */
int serve_stats_render(const struct serve_stats_counts *c,
                       const char *pipeline, const char *model,
                       int64_t model_version, struct buf *out);

/* Appends the JSON body of GET /healthz for a copy and the model version
 * served (>= 0): counts, and the latency median and 99th percentile in
 * seconds, 0 before any request and null past the largest bucket (JSON
 * has no infinity). Returns 0 or RIFFLE_ERR_NOMEM. */
int serve_stats_render_health(const struct serve_stats_counts *c,
                              int64_t model_version, struct buf *out);

#endif
