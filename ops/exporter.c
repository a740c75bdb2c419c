/*
 * ops/exporter.c - Prometheus text and dashboard JSON from the learner's
 * published samples, see exporter.h.
 *
 * Every series carries the labels pipeline and model, so one Prometheus
 * can scrape several learners. Names follow Prometheus's conventions:
 * base units (seconds), _total on counters, one family per metric with a
 * HELP and a TYPE line; tests/integration/test_metrics_http.sh checks the
 * output with promtool.
 */
#include "ops/exporter.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/numfmt.h"
#include "ops/dashboard.h"

#define OPS_VERSION "0.1.0" /* keep in step with CMakeLists.txt */

struct history_point {
    uint64_t seq;
    double time_s;
    uint64_t events_in, dead_letters, drift_alarms, model_version;
    double rate; /* events/s since the previous point */
    int64_t lag; /* summed over partitions; -1 unknown */
    double accuracy, logloss, window_accuracy, window_logloss;
    double rmse, window_rmse;
};

struct ops_exporter {
    pthread_mutex_t lock;
    char pipeline[CFG_NAME_MAX];
    char model[CFG_NAME_MAX];
    int have_sample;
    struct ops_sample last;
    struct ops_sample incoming; /* publish()'s copy, before hold_counters() */
    struct history_point history[OPS_HISTORY_POINTS];
    size_t history_len, history_next;
    uint64_t next_seq;
};

int ops_exporter_new(const char *pipeline, const char *model,
                     struct ops_exporter **out)
{
    struct ops_exporter *e = calloc(1, sizeof(*e));

    if (!e)
        return RIFFLE_ERR_NOMEM;
    if (pthread_mutex_init(&e->lock, NULL) != 0) {
        free(e);
        return RIFFLE_ERR_NOMEM;
    }
    snprintf(e->pipeline, sizeof(e->pipeline), "%s", pipeline);
    snprintf(e->model, sizeof(e->model), "%s", model);
    e->next_seq = 1;
    *out = e;
    return 0;
}

void ops_exporter_destroy(struct ops_exporter *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* --- the sample --------------------------------------------------------- */

void ops_sample_init_histograms(struct ops_sample *s)
{
    static const double processing[] = OPS_PROCESSING_BOUNDS;
    static const double end_to_end[] = OPS_END_TO_END_BOUNDS;

    histogram_init(&s->processing, processing,
                   sizeof(processing) / sizeof(processing[0]));
    histogram_init(&s->end_to_end, end_to_end,
                   sizeof(end_to_end) / sizeof(end_to_end[0]));
}

void ops_sample_count_refusal(struct ops_sample *s, const char *reason,
                              const char *field)
{
    struct ops_refusal *r;
    size_t i;

    if (!field)
        field = "";
    for (i = 0; i < s->refusal_count; i++) {
        r = &s->refusals[i];
        if (strcmp(r->reason, reason) == 0 && strcmp(r->field, field) == 0) {
            r->count++;
            return;
        }
    }
    if (s->refusal_count == OPS_MAX_REFUSALS) {
        /* The last slot becomes the catch-all once the table is full. */
        r = &s->refusals[OPS_MAX_REFUSALS - 1];
        snprintf(r->reason, sizeof(r->reason), "(other)");
        snprintf(r->field, sizeof(r->field), "(other)");
        r->count++;
        return;
    }
    r = &s->refusals[s->refusal_count++];
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    snprintf(r->field, sizeof(r->field), "%s", field);
    r->count = 1;
}

void ops_sample_add_alert(struct ops_sample *s, const struct ops_alert *a)
{
    if (s->alert_count == OPS_MAX_ALERTS) {
        memmove(&s->alerts[0], &s->alerts[1],
                (OPS_MAX_ALERTS - 1) * sizeof(s->alerts[0]));
        s->alert_count--;
    }
    s->alerts[s->alert_count++] = *a;
}

static int64_t total_lag(const struct ops_sample *s)
{
    int64_t sum = 0;
    size_t i;

    if (s->partition_count == 0)
        return -1;
    for (i = 0; i < s->partition_count; i++) {
        const struct ops_partition *p = &s->partitions[i];

        if (p->high < 0 || p->next_offset < 0)
            return -1;
        if (p->high > p->next_offset)
            sum += p->high - p->next_offset;
    }
    return sum;
}

/* Appends a history point once OPS_HISTORY_EVERY_S has passed. Called
 * with the lock held. */
static void add_history(struct ops_exporter *e, const struct ops_sample *s)
{
    const struct history_point *prev = NULL;
    struct history_point *p;
    double dt;

    if (e->history_len > 0) {
        prev = &e->history[(e->history_next + OPS_HISTORY_POINTS - 1) %
                           OPS_HISTORY_POINTS];
        if (s->time_s - prev->time_s < OPS_HISTORY_EVERY_S)
            return;
    }
    p = &e->history[e->history_next];
    memset(p, 0, sizeof(*p));
    p->seq = e->next_seq++;
    p->time_s = s->time_s;
    p->events_in = s->events_in;
    p->dead_letters = s->dead_letters;
    p->drift_alarms = s->drift_alarms;
    p->model_version = s->model_version;
    dt = prev ? s->time_s - prev->time_s : 0;
    p->rate = prev && dt > 0 ? (double)(s->events_in - prev->events_in) / dt
                             : 0;
    p->lag = total_lag(s);
    p->accuracy = s->accuracy;
    p->logloss = s->logloss;
    p->window_accuracy = s->window_accuracy;
    p->window_logloss = s->window_logloss;
    p->rmse = s->rmse;
    p->window_rmse = s->window_rmse;

    e->history_next = (e->history_next + 1) % OPS_HISTORY_POINTS;
    if (e->history_len < OPS_HISTORY_POINTS)
        e->history_len++;
}

static void hold_counter(uint64_t *now, uint64_t before)
{
    if (*now < before)
        *now = before;
}

/* Keeps s's counters from going below those of the sample before. The
 * learner rolls some back: after an aborted batch or a client rebuild it
 * counts again from the batch's start, and the restored model's cleaning
 * counts are its snapshot's, while the same events are handled again
 * (cli/cmd_learn.c, drop_learning()). A Prometheus counter that goes down
 * reads as a restart, so rate() and increase() would count its whole
 * value again (and fire RiffleDriftDetected), and the history's rate
 * would wrap around; held, each counter stands still until the relearned
 * events pass its old value. */
static void hold_counters(struct ops_sample *s, const struct ops_sample *before)
{
    size_t i;

    hold_counter(&s->events_in, before->events_in);
    hold_counter(&s->predictions, before->predictions);
    hold_counter(&s->dead_letters, before->dead_letters);
    hold_counter(&s->drift_alarms, before->drift_alarms);
    hold_counter(&s->snapshots, before->snapshots);
    hold_counter(&s->merges, before->merges);
    hold_counter(&s->merge_bytes_read, before->merge_bytes_read);
    hold_counter(&s->merge_bytes_published, before->merge_bytes_published);
    hold_counter(&s->merge_messages_read, before->merge_messages_read);
    hold_counter(&s->rewinds, before->rewinds);
    hold_counter(&s->client_rebuilds, before->client_rebuilds);
    hold_counter(&s->offsets_past_end, before->offsets_past_end);
    hold_counter(&s->offsets_before_start, before->offsets_before_start);
    hold_counter(&s->lost_to_retention, before->lost_to_retention);
    hold_counter(&s->clean_passed, before->clean_passed);
    hold_counter(&s->clean_rejected, before->clean_rejected);
    hold_counter(&s->clean_clipped, before->clean_clipped);
    hold_counter(&s->clean_imputed, before->clean_imputed);
    hold_counter(&s->scored, before->scored);

    /* the configured fields, in the same order in every sample */
    for (i = 0; i < s->field_count && i < before->field_count; i++) {
        struct ops_field_quality *f = &s->fields[i];
        const struct ops_field_quality *b = &before->fields[i];

        if (strcmp(f->name, b->name) != 0)
            continue;
        hold_counter(&f->missing, b->missing);
        hold_counter(&f->imputed, b->imputed);
        hold_counter(&f->clipped, b->clipped);
        hold_counter(&f->invalid, b->invalid);
        hold_counter(&f->outliers, b->outliers);
        hold_counter(&f->rejected, b->rejected);
    }
}

void ops_exporter_publish(struct ops_exporter *e, const struct ops_sample *s)
{
    pthread_mutex_lock(&e->lock);
    e->incoming = *s;
    if (e->have_sample)
        hold_counters(&e->incoming, &e->last);
    e->last = e->incoming;
    e->have_sample = 1;
    add_history(e, &e->last);
    pthread_mutex_unlock(&e->lock);
}

/* --- Prometheus text ---------------------------------------------------- */

/* Label values escape backslash, double quote and newline. */
static void label_value(struct buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            (void)buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            (void)buf_printf(out, "\\n");
        else
            (void)buf_push(out, *v);
    }
}

static void number(struct buf *out, double x)
{
    char text[NUMFMT_MAX];

    if (isnan(x))
        (void)buf_printf(out, "NaN");
    else if (isinf(x))
        (void)buf_printf(out, "%sInf", x > 0 ? "+" : "-");
    else
        (void)buf_printf(out, "%s", numfmt_double(x, text, sizeof(text)));
}

static void family(struct buf *out, const char *name, const char *type,
                   const char *help)
{
    (void)buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                     type);
}

/* One series: name{pipeline,model[,extra]} value. extra is preformatted
 * `k="v",...` text (already escaped) or NULL. */
static void series(struct buf *out, const struct ops_exporter *e,
                   const char *name, const char *extra, double value)
{
    (void)buf_printf(out, "%s{pipeline=\"", name);
    label_value(out, e->pipeline);
    (void)buf_printf(out, "\",model=\"");
    label_value(out, e->model);
    (void)buf_printf(out, "\"%s%s} ", extra ? "," : "", extra ? extra : "");
    number(out, value);
    (void)buf_push(out, '\n');
}

static void gauge(struct buf *out, const struct ops_exporter *e,
                  const char *name, const char *help, double value)
{
    family(out, name, "gauge", help);
    series(out, e, name, NULL, value);
}

static void counter(struct buf *out, const struct ops_exporter *e,
                    const char *name, const char *help, uint64_t value)
{
    family(out, name, "counter", help);
    series(out, e, name, NULL, (double)value);
}

static void histogram_series(struct buf *out, const struct ops_exporter *e,
                             const char *name, const char *help,
                             const struct histogram *h)
{
    char metric[128], le[64], text[NUMFMT_MAX];
    size_t i;

    family(out, name, "histogram", help);
    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (i = 0; i < h->bucket_count; i++) {
        snprintf(le, sizeof(le), "le=\"%s\"",
                 numfmt_double(h->bounds[i], text, sizeof(text)));
        series(out, e, metric, le, (double)histogram_cumulative(h, i));
    }
    series(out, e, metric, "le=\"+Inf\"", (double)h->count);
    snprintf(metric, sizeof(metric), "%s_sum", name);
    series(out, e, metric, NULL, h->sum);
    snprintf(metric, sizeof(metric), "%s_count", name);
    series(out, e, metric, NULL, (double)h->count);
}

static void render_counts(struct buf *out, const struct ops_exporter *e,
                          const struct ops_sample *s)
{
    struct buf extra = {0};
    size_t i;

    counter(out, e, "riffle_events_in_total",
            "Input messages consumed and handled.", s->events_in);
    counter(out, e, "riffle_predictions_total",
            "Predictions published.", s->predictions);
    counter(out, e, "riffle_dead_letters_total",
            "Messages refused and published to the dead-letter topic.",
            s->dead_letters);

    family(out, "riffle_refused_events_total", "counter",
           "Refused messages by reason and by the field at fault.");
    for (i = 0; i < s->refusal_count; i++) {
        buf_reset(&extra);
        (void)buf_printf(&extra, "reason=\"");
        label_value(&extra, s->refusals[i].reason);
        (void)buf_printf(&extra, "\",field=\"");
        label_value(&extra, s->refusals[i].field);
        (void)buf_push(&extra, '"');
        series(out, e, "riffle_refused_events_total", extra.data,
               (double)s->refusals[i].count);
    }
    buf_free(&extra);

    family(out, "riffle_field_values_total", "counter",
           "Per-field data quality: values missing, imputed, clipped, "
           "invalid or outliers, and events rejected for the field.");
    for (i = 0; i < s->field_count; i++) {
        const struct ops_field_quality *f = &s->fields[i];
        const struct {
            const char *outcome;
            uint64_t n;
        } rows[] = {{"missing", f->missing},   {"imputed", f->imputed},
                    {"clipped", f->clipped},   {"invalid", f->invalid},
                    {"outlier", f->outliers},  {"rejected", f->rejected}};
        size_t k;

        for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
            buf_reset(&extra);
            (void)buf_printf(&extra, "field=\"");
            label_value(&extra, f->name);
            (void)buf_printf(&extra, "\",outcome=\"%s\"", rows[k].outcome);
            series(out, e, "riffle_field_values_total", extra.data,
                   (double)rows[k].n);
        }
    }
    buf_free(&extra);

    family(out, "riffle_clean_events_total", "counter",
           "Events through the cleaning rules, by outcome.");
    series(out, e, "riffle_clean_events_total", "outcome=\"passed\"",
           (double)s->clean_passed);
    series(out, e, "riffle_clean_events_total", "outcome=\"rejected\"",
           (double)s->clean_rejected);
    family(out, "riffle_clean_values_total", "counter",
           "Field values changed by the cleaning rules, by action.");
    series(out, e, "riffle_clean_values_total", "action=\"clipped\"",
           (double)s->clean_clipped);
    series(out, e, "riffle_clean_values_total", "action=\"imputed\"",
           (double)s->clean_imputed);
}

static void render_lag(struct buf *out, const struct ops_exporter *e,
                       const struct ops_sample *s)
{
    struct buf extra = {0};
    size_t i;

    family(out, "riffle_consumer_lag_messages", "gauge",
           "Messages in the partition not yet handled (high watermark "
           "minus the next offset).");
    for (i = 0; i < s->partition_count; i++) {
        const struct ops_partition *p = &s->partitions[i];

        if (p->high < 0 || p->next_offset < 0)
            continue; /* not known yet: no series rather than a guess */
        buf_reset(&extra);
        (void)buf_printf(&extra, "topic=\"");
        label_value(&extra, s->input_topic);
        (void)buf_printf(&extra, "\",partition=\"%d\"", (int)p->partition);
        series(out, e, "riffle_consumer_lag_messages", extra.data,
               (double)(p->high > p->next_offset ? p->high - p->next_offset
                                                 : 0));
    }
    buf_free(&extra);
}

static void render_quality(struct buf *out, const struct ops_exporter *e,
                           const struct ops_sample *s)
{
    static const char *help_fmt = "Progressive %s: each event scored "
                                  "before it is learned.";
    const char *names[3];
    double all[3], last[3];
    char name[64], help[128];
    size_t i, n;

    if (s->task == CFG_TASK_REGRESSION) {
        names[0] = "rmse", all[0] = s->rmse, last[0] = s->window_rmse;
        names[1] = "mae", all[1] = s->mae, last[1] = s->window_mae;
        n = 2;
    } else {
        names[0] = "accuracy", all[0] = s->accuracy;
        last[0] = s->window_accuracy;
        names[1] = "logloss", all[1] = s->logloss;
        last[1] = s->window_logloss;
        names[2] = "auc", all[2] = s->auc, last[2] = s->window_auc;
        n = s->task == CFG_TASK_BINARY ? 3 : 2;
    }

    counter(out, e, "riffle_progressive_events_total",
            "Events scored against their label.", s->scored);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "riffle_progressive_%s", names[i]);
        snprintf(help, sizeof(help), help_fmt, names[i]);
        family(out, name, "gauge", help);
        series(out, e, name, "window=\"all\"", all[i]);
        series(out, e, name, "window=\"recent\"", last[i]);
    }
    gauge(out, e, "riffle_progressive_window_events",
          "Events in the recent window of the progressive metrics.",
          s->window_len);
}

static void render_model(struct buf *out, const struct ops_exporter *e,
                         const struct ops_sample *s, double now_s)
{
    char extra[64];

    gauge(out, e, "riffle_learning_rate",
          "The optimizer's configured base learning rate.",
          s->learning_rate);
    gauge(out, e, "riffle_model_version",
          "Updates the model has made (the version its snapshots carry).",
          (double)s->model_version);
    counter(out, e, "riffle_snapshots_total",
            "Snapshots published by this process.", s->snapshots);
    counter(out, e, "riffle_merges_total",
            "Merges of this instance's model with the other instances'.",
            s->merges);
    counter(out, e, "riffle_snapshot_offsets_past_end_total",
            "Partitions whose resume offset lay past their end (topic "
            "recreated, records lost); snapshot.on_offset_past_end applied.",
            s->offsets_past_end);
    counter(out, e, "riffle_snapshot_offsets_before_start_total",
            "Partitions whose resume offset lay before their start: "
            "retention deleted events the model had not learned.",
            s->offsets_before_start);
    counter(out, e, "riffle_events_lost_to_retention_total",
            "Input events deleted by retention before the model learned "
            "them.", s->lost_to_retention);
    counter(out, e, "riffle_batch_rewinds_total",
            "Transactions aborted, their batches relearned.", s->rewinds);
    counter(out, e, "riffle_client_rebuilds_total",
            "Kafka clients that failed for good (fenced), replaced "
            "in-process.",
            s->client_rebuilds);
    counter(out, e, "riffle_merge_read_bytes_total",
            "Bytes of other instances' snapshots read to merge.",
            s->merge_bytes_read);
    counter(out, e, "riffle_merge_published_bytes_total",
            "Bytes of snapshots published for merging (own and merged).",
            s->merge_bytes_published);
    counter(out, e, "riffle_merge_read_messages_total",
            "Model topic messages read to find the instances' snapshots.",
            s->merge_messages_read);
    if (s->last_snapshot_s > 0)
        gauge(out, e, "riffle_snapshot_age_seconds",
              "Seconds since the last snapshot was safely published.",
              now_s > s->last_snapshot_s ? now_s - s->last_snapshot_s : 0);
    counter(out, e, "riffle_drift_alarms_total",
            "Changes detected in the prediction error rate.",
            s->drift_alarms);
    family(out, "riffle_drift_error_rate", "gauge",
           "The drift detector's estimate of the current error rate.");
    snprintf(extra, sizeof(extra), "detector=\"%s\"", s->drift_detector);
    series(out, e, "riffle_drift_error_rate", extra, s->drift_error_rate);
}

int ops_exporter_prometheus(struct ops_exporter *e, double now_s,
                            struct buf *out)
{
    struct ops_sample *s;

    pthread_mutex_lock(&e->lock);
    s = &e->last;
    gauge(out, e, "riffle_up", "1 while the learner runs.", 1);
    family(out, "riffle_build_info", "gauge", "riffle's version.");
    series(out, e, "riffle_build_info", "version=\"" OPS_VERSION "\"", 1);
    if (e->have_sample) {
        render_counts(out, e, s);
        render_lag(out, e, s);
        render_quality(out, e, s);
        render_model(out, e, s, now_s);
        histogram_series(out, e, "riffle_event_processing_seconds",
                         "Time from decoding an event to handing its "
                         "output to the producer.", &s->processing);
        histogram_series(out, e, "riffle_event_end_to_end_seconds",
                         "Time from the input record's Kafka timestamp to "
                         "its prediction.", &s->end_to_end);
    }
    pthread_mutex_unlock(&e->lock);
    return out->data ? 0 : RIFFLE_ERR_NOMEM;
}

/* --- dashboard JSON ----------------------------------------------------- */

static void json_number(struct buf *out, double x)
{
    char text[NUMFMT_MAX];

    if (isfinite(x))
        (void)buf_printf(out, "%s", numfmt_double(x, text, sizeof(text)));
    else
        (void)buf_printf(out, "null"); /* JSON has no NaN */
}

static void json_member(struct buf *out, const char *name, double x)
{
    (void)buf_printf(out, ",\"%s\":", name);
    json_number(out, x);
}

static void json_latest(struct buf *out, const struct ops_sample *s,
                        double now_s)
{
    (void)buf_printf(out, "\"latest\":{\"time\":");
    json_number(out, s->time_s);
    json_member(out, "events_in", (double)s->events_in);
    json_member(out, "predictions", (double)s->predictions);
    json_member(out, "dead_letters", (double)s->dead_letters);
    json_member(out, "drift_alarms", (double)s->drift_alarms);
    json_member(out, "model_version", (double)s->model_version);
    json_member(out, "learning_rate", s->learning_rate);
    json_member(out, "snapshot_age_s", s->last_snapshot_s > 0
                                           ? now_s - s->last_snapshot_s
                                           : NAN);
    json_member(out, "lag", (double)total_lag(s));
    json_member(out, "accuracy", s->accuracy);
    json_member(out, "logloss", s->logloss);
    json_member(out, "auc", s->auc);
    json_member(out, "rmse", s->rmse);
    json_member(out, "mae", s->mae);
    json_member(out, "processing_p50_s",
                histogram_quantile(&s->processing, 0.5));
    json_member(out, "processing_p99_s",
                histogram_quantile(&s->processing, 0.99));
    json_member(out, "end_to_end_p99_s",
                histogram_quantile(&s->end_to_end, 0.99));
    (void)buf_printf(out, ",\"drift_detector\":");
    (void)buf_append_json_string(out, s->drift_detector);
    (void)buf_printf(out, "}");
}

static void json_alerts(struct buf *out, const struct ops_sample *s)
{
    size_t i;

    (void)buf_printf(out, ",\"alerts\":[");
    for (i = 0; i < s->alert_count; i++) {
        const struct ops_alert *a = &s->alerts[i];

        (void)buf_printf(out, "%s{\"time\":", i ? "," : "");
        json_number(out, a->time_s);
        (void)buf_printf(out, ",\"partition\":%d,\"offset\":%lld,"
                         "\"model_version\":%llu", (int)a->partition,
                         (long long)a->offset,
                         (unsigned long long)a->model_version);
        json_member(out, "error_rate", a->error_rate);
        (void)buf_printf(out, "}");
    }
    (void)buf_printf(out, "]");
}

static void json_history(struct buf *out, const struct ops_exporter *e,
                         uint64_t after)
{
    size_t i, first = (e->history_next + OPS_HISTORY_POINTS -
                       e->history_len) % OPS_HISTORY_POINTS;
    int written = 0;

    (void)buf_printf(out, ",\"history\":[");
    for (i = 0; i < e->history_len; i++) {
        const struct history_point *p =
            &e->history[(first + i) % OPS_HISTORY_POINTS];

        if (p->seq <= after)
            continue;
        (void)buf_printf(out, "%s{\"seq\":%llu,\"time\":", written ? ","
                                                                   : "",
                         (unsigned long long)p->seq);
        json_number(out, p->time_s);
        json_member(out, "events_in", (double)p->events_in);
        json_member(out, "dead_letters", (double)p->dead_letters);
        json_member(out, "drift_alarms", (double)p->drift_alarms);
        json_member(out, "model_version", (double)p->model_version);
        json_member(out, "rate", p->rate);
        json_member(out, "lag", (double)p->lag);
        json_member(out, "accuracy", p->accuracy);
        json_member(out, "logloss", p->logloss);
        json_member(out, "window_accuracy", p->window_accuracy);
        json_member(out, "window_logloss", p->window_logloss);
        json_member(out, "rmse", p->rmse);
        json_member(out, "window_rmse", p->window_rmse);
        (void)buf_printf(out, "}");
        written = 1;
    }
    (void)buf_printf(out, "]");
}

int ops_exporter_json(struct ops_exporter *e, uint64_t after, double now_s,
                      struct buf *out)
{
    static const char *tasks[] = {"binary", "multiclass", "regression"};

    pthread_mutex_lock(&e->lock);
    (void)buf_printf(out, "{\"pipeline\":");
    (void)buf_append_json_string(out, e->pipeline);
    (void)buf_printf(out, ",\"model\":");
    (void)buf_append_json_string(out, e->model);
    (void)buf_printf(out, ",\"now\":");
    json_number(out, now_s);
    if (e->have_sample) {
        (void)buf_printf(out, ",\"task\":\"%s\",",
                         e->last.task >= 0 && e->last.task <= 2
                             ? tasks[e->last.task]
                             : "binary");
        json_latest(out, &e->last, now_s);
        json_alerts(out, &e->last);
    }
    json_history(out, e, after);
    (void)buf_printf(out, "}");
    pthread_mutex_unlock(&e->lock);
    return out->data ? 0 : RIFFLE_ERR_NOMEM;
}

/* --- HTTP ------------------------------------------------------------- */

static uint64_t query_after(const char *query)
{
    const char *p = strstr(query, "after=");

    if (!p || (p != query && p[-1] != '&'))
        return 0;
    return strtoull(p + strlen("after="), NULL, 10); /* junk reads as 0 */
}

static double unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ops_exporter_handle(void *opaque, const struct http_request *req,
                         struct http_response *res)
{
    struct ops_exporter *e = opaque;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        res->status = 405;
        (void)buf_printf(&res->body, "only GET is served here\n");
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        res->content_type = "text/plain; version=0.0.4; charset=utf-8";
        (void)ops_exporter_prometheus(e, unix_now(), &res->body);
    } else if (strcmp(req->path, "/api/status") == 0) {
        res->content_type = "application/json";
        (void)ops_exporter_json(e, query_after(req->query), unix_now(),
                                &res->body);
    } else if (strcmp(req->path, "/healthz") == 0) {
        (void)buf_printf(&res->body, "ok\n");
    } else if (strcmp(req->path, "/") == 0 ||
               strcmp(req->path, "/dashboard") == 0) {
        res->content_type = "text/html; charset=utf-8";
        (void)buf_append(&res->body, ops_dashboard_html,
                         strlen(ops_dashboard_html));
    } else {
        res->status = 404;
        (void)buf_printf(&res->body, "not found; try /metrics, /api/status "
                         "or / (the dashboard)\n");
    }
}
