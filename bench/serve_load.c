/*
 * bench/serve_load.c - load generator and latency meter for `riffle
 * serve`, for bench/serve_run.
 *
 * Sends --count requests built from the configuration's source rows (the
 * label set to null, ids "<tag>-<i>") to serve.requests at --rate per
 * second (0: as fast as it can), and reads serve.predictions from its
 * end at the same time. A prediction is keyed by its request's id, so
 * each arrival is matched to the moment its request was handed to the
 * producer: the latency measured is event to prediction, both clocks
 * this process's. Prints one JSON line: requests, answers, throughput
 * (answers over the time from the first send to the last arrival) and
 * latency percentiles in milliseconds.
 *
 * --mode hop is the peer in the same run: the same paced requests, read
 * back from the requests topic itself instead of from the predictions,
 * so it times one trip through the broker with no replica; an answer
 * takes two such trips plus the scoring.
 *
 * Two more modes time a replica count draining a backlog without the
 * generator competing for the cores: --mode fill only sends the requests
 * (as fast as it can) and exits; --mode drain only reads the predictions
 * topic from its start until every request of the tag is answered, and
 * reports the drain rate from the predictions' own timestamps (set by
 * the replicas' producers): answers over first to last answer.
 *
 * Build (bench/serve_run does it): cc ... serve_load.c build/libriffle_core.a
 * with riffle's pkg-config libraries.
 * Usage: serve_load -c CFG -b BROKERS -r RATE -n COUNT -t TAG
 *        [-m latency|hop|fill|drain]
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "schemas/schema.h"

#define LOAD_MAX_ROWS 2000       /* distinct request rows, reused */
#define LOAD_IDLE_END_S 15.0     /* stop waiting for answers after this */
#define LOAD_POLL_MS 10

struct load {
    struct cfg cfg;
    const char *brokers, *tag;
    double rate;
    long count;
    struct schema *schema;
    struct event *rows;          /* label null; the id is set per send */
    long body_count;
    int id_index;
    double *sent_s;              /* per request; 0 until sent */
    double *latency_ms;          /* per answered request */
    atomic_long answered;
    atomic_int stop;
    double first_sent_s, last_arrival_s;
    rd_kafka_t *consumer;
    const char *mode;            /* "latency", "hop", "fill", "drain" */
    const char *read_topic;      /* predictions, or requests for "hop" */
    long long first_ts_ms, last_ts_ms; /* drain: answers' timestamps */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "serve_load: %s: %s\n", what, why);
    exit(1);
}

/* Encodes up to LOAD_MAX_ROWS rows of the source as label-less events. */
static void load_bodies(struct load *l)
{
    struct csv_options co = {l->cfg.csv_delimiter, l->cfg.csv_trim,
                             l->cfg.csv_skip_lines, l->cfg.csv_header};
    const struct cfg_field *label = cfg_field_of_kind(&l->cfg,
                                                      CFG_FIELD_LABEL);
    const struct cfg_field *id = cfg_field_of_kind(&l->cfg, CFG_FIELD_ID);
    struct produce_mapping map;
    struct csv_reader *csv;
    struct schema *schema;
    char err[512];
    int li;

    if (schema_load_file(l->cfg.schema_path, &schema, err, sizeof(err)) ||
        csv_reader_open(l->cfg.source_path, &co, &csv, err, sizeof(err)) ||
        produce_map_columns(&l->cfg, schema, csv, &map, err, sizeof(err)))
        die("loading rows", err);
    li = schema_field_index(schema, label->name);
    l->id_index = schema_field_index(schema, id->name);
    l->rows = calloc(LOAD_MAX_ROWS, sizeof(*l->rows));
    while (l->body_count < LOAD_MAX_ROWS &&
           csv_reader_next(csv, err, sizeof(err)) == 0) {
        struct event *ev = &l->rows[l->body_count];

        event_init(ev);
        if (produce_row_to_event(&l->cfg, schema, &map, csv,
                                 l->body_count + 1, ev, err, sizeof(err)))
            continue;
        event_set_null(ev, (size_t)li);
        l->body_count++;
    }
    csv_reader_close(csv);
    l->schema = schema;
    if (l->body_count == 0)
        die("loading rows", "no usable row");
}

/* Assigns every partition of the predictions topic at its end (its
 * high watermark now, so that no answer given after this call is
 * missed), or at its start when draining a backlog answered before we
 * look. */
static void start_consumer(struct load *l)
{
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *rkt;
    int64_t low, high;
    int i, from_start = strcmp(l->mode, "drain") == 0;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", l->brokers, why,
                          sizeof(why)) ||
        rd_kafka_conf_set(conf, "group.id", "serve-load", why, sizeof(why)) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "1", why, sizeof(why)))
        die("consumer", why);
    l->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!l->consumer)
        die("consumer", why);
    rkt = rd_kafka_topic_new(l->consumer, l->read_topic, NULL);
    if (rd_kafka_metadata(l->consumer, 0, rkt, &md, 10000) ||
        md->topic_cnt != 1 || md->topics[0].partition_cnt == 0)
        die("metadata", l->read_topic);
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (i = 0; i < md->topics[0].partition_cnt; i++) {
        if (!from_start &&
            rd_kafka_query_watermark_offsets(l->consumer, l->read_topic, i,
                                             &low, &high, 10000))
            die("watermarks", l->read_topic);
        rd_kafka_topic_partition_list_add(parts, l->read_topic, i)
            ->offset = from_start ? RD_KAFKA_OFFSET_BEGINNING : high;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rd_kafka_assign(l->consumer, parts))
        die("assign", l->read_topic);
    rd_kafka_topic_partition_list_destroy(parts);
}

static void take_answer(struct load *l, const rd_kafka_message_t *m)
{
    size_t tag_len = strlen(l->tag);
    char id[64];
    long i;

    if (m->err || m->key_len <= tag_len + 1 || m->key_len >= sizeof(id))
        return;
    memcpy(id, m->key, m->key_len);
    id[m->key_len] = '\0';
    if (strncmp(id, l->tag, tag_len) != 0 || id[tag_len] != '-')
        return;
    i = strtol(id + tag_len + 1, NULL, 10);
    if (i < 0 || i >= l->count || l->latency_ms[i] > 0)
        return;
    if (strcmp(l->mode, "drain") == 0) {
        rd_kafka_timestamp_type_t type;
        long long ts = rd_kafka_message_timestamp(m, &type);

        if (l->first_ts_ms == 0 || ts < l->first_ts_ms)
            l->first_ts_ms = ts;
        if (ts > l->last_ts_ms)
            l->last_ts_ms = ts;
        l->latency_ms[i] = 1; /* answered; no latency in this mode */
        atomic_fetch_add(&l->answered, 1);
        return;
    }
    if (l->sent_s[i] == 0)
        return;
    l->last_arrival_s = now_s();
    l->latency_ms[i] = (l->last_arrival_s - l->sent_s[i]) * 1e3;
    atomic_fetch_add(&l->answered, 1);
}

static void *consume(void *arg)
{
    struct load *l = arg;
    double idle_since = now_s();

    while (!atomic_load(&l->stop) || atomic_load(&l->answered) < l->count) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->consumer,
                                                       LOAD_POLL_MS);

        if (m) {
            take_answer(l, m);
            rd_kafka_message_destroy(m);
            idle_since = now_s();
        } else if (atomic_load(&l->stop) &&
                   now_s() - idle_since > LOAD_IDLE_END_S) {
            break;
        }
    }
    return NULL;
}

static void wait_until(double due)
{
    double left = due - now_s();
    struct timespec ts;

    if (left <= 0)
        return;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    (void)nanosleep(&ts, NULL); /* a signal only shortens the wait */
}

static void produce_all(struct load *l)
{
    char why[512] = "", key[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct buf body = {0};
    rd_kafka_t *p;
    long i;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", l->brokers, why,
                          sizeof(why)) ||
        rd_kafka_conf_set(conf, "linger.ms", "0", why, sizeof(why)) ||
        /* as Kafka's own clients by default: at most 5 requests in
         * flight, so that what queues behind them leaves as one batch
         * instead of a request per message that a busy broker serves
         * one after the other */
        rd_kafka_conf_set(conf, "enable.idempotence", "true", why,
                          sizeof(why)))
        die("producer", why);
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!p)
        die("producer", why);
    l->first_sent_s = now_s();
    for (i = 0; i < l->count; i++) {
        struct event *ev = &l->rows[i % l->body_count];
        int klen = snprintf(key, sizeof(key), "%s-%ld", l->tag, i);
        double due = l->first_sent_s + (l->rate > 0 ? i / l->rate : 0);

        buf_reset(&body);
        if (event_set_string(ev, (size_t)l->id_index, key, (size_t)klen) ||
            schema_encode_event(l->schema, ev, &body, why, sizeof(why)))
            die("encoding", why);
        wait_until(due); /* sleeps: a spin would starve what it measures */
        l->sent_s[i] = now_s();
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(l->cfg.serve_requests),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, (size_t)klen),
                                 RD_KAFKA_V_VALUE(body.data, body.len),
                                 RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        rd_kafka_poll(p, 0);
    }
    rd_kafka_flush(p, 30000);
    rd_kafka_destroy(p);
    buf_free(&body);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void report_drain(struct load *l)
{
    long n = atomic_load(&l->answered);
    double span_s = (double)(l->last_ts_ms - l->first_ts_ms) / 1e3;

    printf("{\"requests\":%ld,\"answered\":%ld,\"span_s\":%.3f,"
           "\"throughput\":%.0f}\n", l->count, n, span_s,
           span_s > 0 ? (double)(n - 1) / span_s : 0.0);
}

static void report(struct load *l)
{
    long n = atomic_load(&l->answered), k = 0, i;
    double *v = malloc((size_t)(n ? n : 1) * sizeof(*v));

    for (i = 0; i < l->count; i++)
        if (l->latency_ms[i] > 0)
            v[k++] = l->latency_ms[i];
    qsort(v, (size_t)k, sizeof(*v), by_value);
    printf("{\"rate\":%.0f,\"requests\":%ld,\"answered\":%ld,"
           "\"throughput\":%.0f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
           "\"p99_ms\":%.2f,\"max_ms\":%.2f}\n", l->rate, l->count, k,
           k ? k / (l->last_arrival_s - l->first_sent_s) : 0.0,
           k ? v[k / 2] : 0.0, k ? v[k * 9 / 10] : 0.0,
           k ? v[k * 99 / 100] : 0.0, k ? v[k - 1] : 0.0);
    free(v);
}

int main(int argc, char **argv)
{
    static struct load l;
    const char *config = NULL;
    char err[512];
    pthread_t t;
    int c;

    l.tag = "load";
    l.mode = "latency";
    while ((c = getopt(argc, argv, "c:b:r:n:t:m:")) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            l.brokers = optarg;
        else if (c == 'r')
            l.rate = atof(optarg);
        else if (c == 'n')
            l.count = atol(optarg);
        else if (c == 't')
            l.tag = optarg;
        else if (c == 'm')
            l.mode = optarg;
    }
    if (!config || !l.brokers || l.count <= 0 ||
        (strcmp(l.mode, "latency") && strcmp(l.mode, "hop") &&
         strcmp(l.mode, "fill") && strcmp(l.mode, "drain")))
        die("usage", "serve_load -c CFG -b BROKERS -r RATE -n COUNT -t TAG "
            "[-m latency|hop|fill|drain]");
    if (cfg_load_file(&l.cfg, config, err, sizeof(err)))
        die("config", err);
    load_bodies(&l);
    l.read_topic = strcmp(l.mode, "hop") == 0 ? l.cfg.serve_requests
                                              : l.cfg.serve_predictions;
    l.sent_s = calloc((size_t)l.count, sizeof(double));
    l.latency_ms = calloc((size_t)l.count, sizeof(double));
    if (strcmp(l.mode, "fill") == 0) {
        produce_all(&l);
        return 0;
    }
    start_consumer(&l);
    if (pthread_create(&t, NULL, consume, &l))
        die("thread", "cannot start the consumer");
    if (strcmp(l.mode, "drain") != 0)
        produce_all(&l);
    atomic_store(&l.stop, 1);
    pthread_join(t, NULL);
    if (strcmp(l.mode, "drain") == 0)
        report_drain(&l);
    else
        report(&l);
    rd_kafka_consumer_close(l.consumer);
    rd_kafka_destroy(l.consumer);
    return 0;
}
