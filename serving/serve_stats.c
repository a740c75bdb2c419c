/*
 * serving/serve_stats.c - a replica's counters and latency histograms,
 * see serve_stats.h.
 */
#include "serving/serve_stats.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"

/* HTTP handling time buckets, in seconds: scoring takes microseconds,
 * a slow client up to serve.http_timeout_seconds. */
#define SERVE_STATS_HTTP_BOUNDS                                           \
    {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30}

struct serve_stats {
    pthread_mutex_t lock;
    struct serve_stats_counts c;
    /* dropped answers, not counted again when given again */
    uint64_t held_predictions, held_dead_letters;
};

int serve_stats_new(struct serve_stats **out)
{
    static const double latency[] = SERVE_STATS_LATENCY_BOUNDS;
    static const double http[] = SERVE_STATS_HTTP_BOUNDS;
    struct serve_stats *st = calloc(1, sizeof(*st));

    if (!st)
        return RIFFLE_ERR_NOMEM;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return RIFFLE_ERR_NOMEM;
    }
    histogram_init(&st->c.latency, latency,
                   sizeof(latency) / sizeof(latency[0]));
    histogram_init(&st->c.http_latency, http, sizeof(http) / sizeof(http[0]));
    *out = st;
    return 0;
}

void serve_stats_destroy(struct serve_stats *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

void serve_stats_request(struct serve_stats *st, int dead_letter,
                         double latency_s)
{
    pthread_mutex_lock(&st->lock);
    if (dead_letter && st->held_dead_letters > 0) {
        st->held_dead_letters--;
    } else if (!dead_letter && st->held_predictions > 0) {
        st->held_predictions--;
    } else {
        st->c.requests++;
        if (dead_letter)
            st->c.dead_letters++;
        else
            st->c.predictions++;
    }
    histogram_observe(&st->c.latency, latency_s);
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_drop(struct serve_stats *st, uint64_t predictions,
                      uint64_t dead_letters)
{
    pthread_mutex_lock(&st->lock);
    st->held_predictions += predictions;
    st->held_dead_letters += dead_letters;
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_rebuild(struct serve_stats *st)
{
    pthread_mutex_lock(&st->lock);
    st->c.client_rebuilds++;
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_version_conflict(struct serve_stats *st)
{
    pthread_mutex_lock(&st->lock);
    st->c.version_conflicts++;
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_http(struct serve_stats *st, int status, double seconds)
{
    pthread_mutex_lock(&st->lock);
    if (status < 300)
        st->c.http_ok++;
    else if (status == 503)
        st->c.http_unavailable++;
    else if (status < 500)
        st->c.http_client_errors++;
    else
        st->c.http_server_errors++;
    histogram_observe(&st->c.http_latency, seconds);
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_read(struct serve_stats *st, struct serve_stats_counts *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->c;
    pthread_mutex_unlock(&st->lock);
}

void serve_stats_read_delivered(struct serve_stats *st,
                                struct serve_stats_counts *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->c;
    /* held never exceeds what was counted: it was counted first */
    out->predictions -= st->held_predictions;
    out->dead_letters -= st->held_dead_letters;
    out->requests -= st->held_predictions + st->held_dead_letters;
    pthread_mutex_unlock(&st->lock);
}

static int family(struct buf *out, const char *name, const char *type,
                  const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                     type);
}

static int histogram_series(struct buf *out, const char *labels,
                            const char *name, const char *help,
                            const struct histogram *h)
{
    int bad = family(out, name, "histogram", help);
    size_t i;

    for (i = 0; i < h->bucket_count; i++)
        bad |= buf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
                         h->bounds[i],
                         (unsigned long long)histogram_cumulative(h, i));
    bad |= buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.9g\n"
                      "%s_count{%s} %llu\n", name, labels,
                      (unsigned long long)h->count, name, labels, h->sum,
                      name, labels, (unsigned long long)h->count);
    return bad;
}

static int counter(struct buf *out, const char *labels, const char *name,
                   const char *help, uint64_t value)
{
    return family(out, name, "counter", help) |
           buf_printf(out, "%s{%s} %llu\n", name, labels,
                      (unsigned long long)value);
}

int serve_stats_render(const struct serve_stats_counts *c,
                       const char *pipeline, const char *model,
                       int64_t model_version, struct buf *out)
{
    static const char *const outcomes[] = {"ok", "client_error",
                                           "unavailable", "server_error"};
    const uint64_t by_outcome[] = {c->http_ok, c->http_client_errors,
                                   c->http_unavailable,
                                   c->http_server_errors};
    char labels[512];
    size_t i;
    int bad;

    /* Names come from the configuration, whose names are plain. */
    snprintf(labels, sizeof(labels), "pipeline=\"%s\",model=\"%s\"",
             pipeline, model);
    bad = family(out, "riffle_serve_up", "gauge", "1 while the replica runs.");
    bad |= buf_printf(out, "riffle_serve_up{%s} 1\n", labels);
    bad |= family(out, "riffle_serve_model_version", "gauge",
                  "Version (events learned) of the model served; -1 before "
                  "one.");
    bad |= buf_printf(out, "riffle_serve_model_version{%s} %lld\n", labels,
                      (long long)model_version);
    bad |= counter(out, labels, "riffle_serve_requests_total",
                   "Requests scored from the requests topic.", c->requests);
    bad |= counter(out, labels, "riffle_serve_predictions_total",
                   "Predictions published for requests from Kafka.",
                   c->predictions);
    bad |= counter(out, labels, "riffle_serve_dead_letters_total",
                   "Requests from Kafka that could not be scored.",
                   c->dead_letters);
    bad |= counter(out, labels, "riffle_serve_client_rebuilds_total",
                   "Kafka clients that failed for good (fenced) and were "
                   "replaced in-process.", c->client_rebuilds);
    bad |= counter(out, labels, "riffle_serve_model_version_conflicts_total",
                   "Model versions seen in two snapshots with different "
                   "weights (two learners, or one restarted from an older "
                   "snapshot); the later one in the topic serves.",
                   c->version_conflicts);
    bad |= histogram_series(out, labels, "riffle_serve_latency_seconds",
                            "From a request's Kafka timestamp to its answer "
                            "handed to the producer.", &c->latency);
    bad |= family(out, "riffle_serve_http_responses_total", "counter",
                  "HTTP answers by outcome.");
    for (i = 0; i < 4; i++)
        bad |= buf_printf(out, "riffle_serve_http_responses_total{%s,"
                          "outcome=\"%s\"} %llu\n", labels, outcomes[i],
                          (unsigned long long)by_outcome[i]);
    bad |= histogram_series(out, labels, "riffle_serve_http_seconds",
                            "From an HTTP request's headers to its answer.",
                            &c->http_latency);
    return bad ? RIFFLE_ERR_NOMEM : 0;
}

/* A latency quantile as JSON: a request older than the largest bucket
 * (a backlog of more than a minute, or a request stamped in 1970) puts
 * the quantile at +Inf, which printed as `inf` made the body unreadable
 * to every JSON parser. */
static int append_quantile(struct buf *out, const char *name,
                           const struct histogram *h, double q)
{
    double x = h->count ? histogram_quantile(h, q) : 0;

    if (!isfinite(x))
        return buf_printf(out, ",\"%s\":null", name);
    return buf_printf(out, ",\"%s\":%g", name, x);
}

int serve_stats_render_health(const struct serve_stats_counts *c,
                              int64_t model_version, struct buf *out)
{
    int err = buf_printf(out, "{\"status\":\"ok\",\"model_version\":%lld,"
                         "\"requests\":%llu,\"predictions\":%llu,"
                         "\"dead_letters\":%llu,\"version_conflicts\":%llu",
                         (long long)model_version,
                         (unsigned long long)c->requests,
                         (unsigned long long)c->predictions,
                         (unsigned long long)c->dead_letters,
                         (unsigned long long)c->version_conflicts);

    if (!err)
        err = append_quantile(out, "latency_p50_s", &c->latency, 0.5);
    if (!err)
        err = append_quantile(out, "latency_p99_s", &c->latency, 0.99);
    if (!err)
        err = buf_printf(out, "}\n");
    return err;
}
