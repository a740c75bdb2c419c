/*
 * ops/exporter.h - the learner's live state for operators: Prometheus
 * text for /metrics, JSON for the dashboard, and the HTTP handler that
 * serves both plus the dashboard page.
 *
 * The learner thread owns the real state (model, metrics, consumer). It
 * fills a struct ops_sample from that state, reading the learner's own
 * counters and metric readers (nothing is recomputed here), and hands it
 * to ops_exporter_publish() a few times a second. The exporter copies it
 * under a mutex and appends a point to a bounded history ring; the HTTP
 * thread renders from the copy under the same mutex. So a scrape never
 * touches the learner's state and never slows an event down by more
 * than two struct copies.
 */
#ifndef RIFFLE_OPS_EXPORTER_H
#define RIFFLE_OPS_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/http_server.h"
#include "config/cfg.h"
#include "ops/histogram.h"

#define OPS_MAX_PARTITIONS 64    /* lag rows shown; more are summed only */
#define OPS_MAX_REFUSALS 64      /* distinct (reason, field) pairs kept */
#define OPS_MAX_ALERTS 20        /* latest drift alarms for the dashboard */
#define OPS_HISTORY_POINTS 900   /* dashboard history: 15 min at 1/s */
#define OPS_HISTORY_EVERY_S 1.0  /* seconds between history points */

/* Latency bucket bounds, in seconds. Processing covers decode to the
 * prediction handed to the producer; end-to-end runs from the input
 * record's Kafka timestamp to that moment, so it includes queueing. */
#define OPS_PROCESSING_BOUNDS                                            \
    {0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002,   \
     0.005, 0.01, 0.05, 0.25}
#define OPS_END_TO_END_BOUNDS                                            \
    {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, \
     60, 300}

struct ops_partition {
    int32_t partition;
    int64_t next_offset; /* next to read; -1 until known */
    int64_t high;        /* high watermark last seen; -1 until known */
};

struct ops_refusal {
    char reason[32];          /* CLEAN_REASON_* or decode_error */
    char field[CFG_NAME_MAX]; /* "" when no field is at fault */
    uint64_t count;
};

/* What the cleaning rules did to one configured field (see
 * cleaning/clean.h, struct clean_field_counts). */
struct ops_field_quality {
    char name[CFG_NAME_MAX];
    uint64_t missing, imputed, clipped, invalid, outliers, rejected;
};

struct ops_alert {
    double time_s; /* Unix time of the alarm */
    int32_t partition;
    int64_t offset;
    uint64_t model_version;
    double error_rate;
};

struct ops_sample {
    double time_s; /* Unix time the sample was taken */

    /* counts since the process started (restored ones included where the
     * snapshot carries them: model version, metric totals) */
    uint64_t events_in, predictions, dead_letters, drift_alarms;
    uint64_t snapshots;
    uint64_t merges, merge_bytes_read, merge_bytes_published; /* scaling */
    uint64_t merge_messages_read; /* model topic messages read to merge */
    /* exactly once: batches aborted and relearned; in-process rebuilds
     * of Kafka clients that failed for good */
    uint64_t rewinds, client_rebuilds;
    /* resume offsets found past their partition's end or before its
     * start, and the events retention deleted before they were learned */
    uint64_t offsets_past_end, offsets_before_start, lost_to_retention;
    uint64_t clean_passed, clean_rejected, clean_clipped, clean_imputed;
    struct ops_refusal refusals[OPS_MAX_REFUSALS];
    size_t refusal_count;
    struct ops_field_quality fields[CFG_MAX_FIELDS];
    size_t field_count;

    char input_topic[CFG_NAME_MAX];
    struct ops_partition partitions[OPS_MAX_PARTITIONS];
    size_t partition_count;

    /* progressive metrics: cumulative, then over the last window_len */
    int task; /* enum cfg_task */
    uint64_t scored;
    unsigned window_len;
    double accuracy, logloss, auc, rmse, mae;
    double window_accuracy, window_logloss, window_auc, window_rmse,
        window_mae;

    double learning_rate;
    uint64_t model_version;
    double last_snapshot_s; /* Unix time; 0 = none yet */

    char drift_detector[16];
    double drift_error_rate;
    uint64_t drift_width;
    struct ops_alert alerts[OPS_MAX_ALERTS]; /* oldest first */
    size_t alert_count;

    struct histogram processing, end_to_end;
};

struct ops_exporter;

/* pipeline and model name the series (copied). Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int ops_exporter_new(const char *pipeline, const char *model,
                     struct ops_exporter **out);
void ops_exporter_destroy(struct ops_exporter *e); /* NULL-safe */

/* Copies s in (any thread, usually the learner's). A counter below its
 * value in the last sample (the learner relearning a dropped batch) keeps
 * that value: exported counters never go down. */
void ops_exporter_publish(struct ops_exporter *e, const struct ops_sample *s);

/* Appends the Prometheus text exposition (format 0.0.4) of the last
 * sample; before the first sample only riffle_up and the build info.
 * now_s is the Unix time used for the snapshot age. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int ops_exporter_prometheus(struct ops_exporter *e, double now_s,
                            struct buf *out);

/* Appends a JSON object for the dashboard: the latest sample in brief
 * and the history points with a sequence number above after (0: all).
 * Returns 0 or RIFFLE_ERR_NOMEM. */
int ops_exporter_json(struct ops_exporter *e, uint64_t after, double now_s,
                      struct buf *out);

/* An http_handler_fn (opaque: the exporter) serving GET /metrics,
 * /api/status?after=N, /healthz and the dashboard at /. */
void ops_exporter_handle(void *opaque, const struct http_request *req,
                         struct http_response *res);

/* Fills s's two latency histograms with the bounds above. */
void ops_sample_init_histograms(struct ops_sample *s);

/* Adds one refused event under (reason, field); pairs beyond
 * OPS_MAX_REFUSALS are counted under the field "(other)". */
void ops_sample_count_refusal(struct ops_sample *s, const char *reason,
                              const char *field);

/* Appends an alarm, dropping the oldest when full. */
void ops_sample_add_alert(struct ops_sample *s, const struct ops_alert *a);

#endif
