/*
 * cli/learn_ops.c - /metrics and the dashboard for `riffle learn`, see
 * learn_ops.h.
 *
 * Keeps the part of a sample that builds up event by event (latency
 * histograms, refusals by reason and field, the latest alarms) and, when
 * a sample is due, fills the rest from the learner's state: counts,
 * metric readers, model parameters, the drift detector and the
 * consumer's positions. Nothing is recomputed: the numbers are the ones
 * the snapshots and the metrics topic carry.
 */
#include "cli/learn_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_server.h"
#include "common/kafka.h"
#include "common/log.h"
#include "ops/exporter.h"

struct learn_ops {
    struct http_server *http;
    struct ops_exporter *exporter;
    struct ops_sample sample; /* the cumulative parts live here */
    double last_publish_s;    /* monotonic */
};

int learn_ops_new(const char *listen, const struct cfg *cfg,
                  struct learn_ops **out, char *errstr, size_t errstr_size)
{
    struct learn_ops *o = calloc(1, sizeof(*o));
    int err;

    if (!o)
        return RIFFLE_ERR_NOMEM;
    ops_sample_init_histograms(&o->sample);
    o->sample.task = (int)cfg->task;
    snprintf(o->sample.input_topic, sizeof(o->sample.input_topic), "%s",
             cfg->topic_input);

    err = ops_exporter_new(cfg->name, cfg->model_name, &o->exporter);
    if (!err)
        err = http_server_start(listen, ops_exporter_handle, o->exporter,
                                &o->http, errstr, errstr_size);
    if (err) {
        if (err == RIFFLE_ERR_NOMEM)
            snprintf(errstr, errstr_size, "--http %s: out of memory", listen);
        learn_ops_destroy(o);
        return err;
    }
    log_info("learn", "serving /metrics and the dashboard on http://%s "
             "(port %d)", listen, http_server_port(o->http));
    *out = o;
    return 0;
}

void learn_ops_destroy(struct learn_ops *o)
{
    if (!o)
        return;
    http_server_stop(o->http); /* first: the handler reads the exporter */
    ops_exporter_destroy(o->exporter);
    free(o);
}

void learn_ops_event(struct learn_ops *o, const struct source_ref *src,
                     const struct online_result *r,
                     const struct online_learner *ol, double started_s)
{
    struct online_drift_info drift;
    struct ops_alert alert;
    int64_t now_ms;

    if (!o)
        return;
    histogram_observe(&o->sample.processing,
                      kafka_monotonic_s() - started_s);
    if (r->dead_letter) {
        ops_sample_count_refusal(&o->sample, r->verdict.reason,
                                 r->verdict.field);
        return;
    }

    now_ms = kafka_now_ms();
    if (src->timestamp_ms > 0)
        histogram_observe(&o->sample.end_to_end,
                          (double)(now_ms - src->timestamp_ms) / 1000.0);
    if (!r->drift)
        return;
    online_drift_info(ol, &drift);
    alert.time_s = (double)now_ms / 1000.0;
    alert.partition = src->partition;
    alert.offset = src->offset;
    alert.model_version = r->model_version;
    alert.error_rate = drift.error_rate;
    ops_sample_add_alert(&o->sample, &alert);
}

static void fill_quality(struct ops_sample *s, struct online_learner *ol)
{
    const struct metrics *m = online_metrics(ol);

    s->scored = m->total.count;
    s->window_len = m->window_len;
    s->accuracy = metrics_accuracy(m);
    s->logloss = metrics_logloss(m);
    s->auc = metrics_auc(m);
    s->rmse = metrics_rmse(m);
    s->mae = metrics_mae(m);
    s->window_accuracy = metrics_window_accuracy(m);
    s->window_logloss = metrics_window_logloss(m);
    s->window_auc = metrics_window_auc(m);
    s->window_rmse = metrics_window_rmse(m);
    s->window_mae = metrics_window_mae(m);

    /* The readers answer 0 before any event; an operator must see "no
     * value yet", not a model that is always wrong. */
    if (s->scored == 0)
        s->accuracy = s->logloss = s->rmse = s->mae = NAN;
    if (s->window_len == 0)
        s->window_accuracy = s->window_logloss = s->window_rmse =
            s->window_mae = NAN;
}

/* Every configured field but the ignored ones, in configuration order. */
static void fill_fields(struct ops_sample *s, const struct online_learner *ol,
                        const struct cfg *cfg)
{
    const struct clean_field_counts *c = online_clean_field_counts(ol);
    size_t i;

    s->field_count = 0;
    for (i = 0; i < cfg->field_count && i < CFG_MAX_FIELDS; i++) {
        struct ops_field_quality *f = &s->fields[s->field_count];

        if (cfg->fields[i].kind == CFG_FIELD_IGNORE)
            continue;
        snprintf(f->name, sizeof(f->name), "%s", cfg->fields[i].name);
        f->missing = c[i].missing;
        f->imputed = c[i].imputed;
        f->clipped = c[i].clipped;
        f->invalid = c[i].invalid;
        f->outliers = c[i].outliers;
        f->rejected = c[i].rejected;
        s->field_count++;
    }
}

static void fill_lags(struct ops_sample *s, const struct consumer *c)
{
    struct consumer_lag lags[OPS_MAX_PARTITIONS];
    size_t i, n = 0;

    if (c)
        consumer_lags(c, lags, OPS_MAX_PARTITIONS, &n);
    for (i = 0; i < n; i++) {
        s->partitions[i].partition = lags[i].partition;
        s->partitions[i].next_offset = lags[i].next_offset;
        s->partitions[i].high = lags[i].high;
    }
    s->partition_count = n;
}

void learn_ops_tick(struct learn_ops *o, struct online_learner *ol,
                    const struct consumer *c,
                    const struct learn_ops_counts *counts, int force)
{
    struct ops_sample *s;
    const struct clean_counts *clean;
    struct online_drift_info drift;
    double now = 0;

    if (!o)
        return;
    now = kafka_monotonic_s();
    if (!force && now - o->last_publish_s < LEARN_OPS_PUBLISH_EVERY_S)
        return;
    o->last_publish_s = now;

    s = &o->sample;
    s->time_s = (double)kafka_now_ms() / 1000.0;
    s->events_in = counts->processed;
    s->predictions = counts->predicted;
    s->dead_letters = counts->dead_lettered;
    s->drift_alarms = counts->drifts;
    s->snapshots = counts->snapshots;
    s->merges = counts->merges;
    s->merge_bytes_read = counts->merge_bytes_read;
    s->merge_bytes_published = counts->merge_bytes_published;
    s->merge_messages_read = counts->merge_messages_read;
    s->rewinds = counts->rewinds;
    s->client_rebuilds = counts->rebuilds;
    s->offsets_past_end = counts->offsets_past_end;
    s->offsets_before_start = counts->offsets_before_start;
    s->lost_to_retention = counts->lost_to_retention;
    s->last_snapshot_s = counts->last_snapshot_unix_s;
    clean = online_clean_counts(ol);
    s->clean_passed = clean->passed;
    s->clean_rejected = clean->rejected;
    s->clean_clipped = clean->clipped;
    s->clean_imputed = clean->imputed;
    fill_quality(s, ol);
    fill_fields(s, ol, online_cfg(ol));
    fill_lags(s, c);
    s->learning_rate = model_params_get(online_model(ol))->learning_rate;
    s->model_version = model_update_count(online_model(ol));
    online_drift_info(ol, &drift);
    snprintf(s->drift_detector, sizeof(s->drift_detector), "%s",
             drift.detector);
    s->drift_error_rate = drift.error_rate;
    s->drift_width = drift.width;

    ops_exporter_publish(o->exporter, s);
}
