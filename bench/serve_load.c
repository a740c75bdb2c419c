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
 * Where the time goes: --mode stamp sets message.timestamp.type to
 * LogAppendTime on the requests and predictions topics (and exits), so
 * that each record carries the moment the broker appended it. A
 * prediction then tells four hops apart, all on this machine's wall
 * clock (to the millisecond, as the broker stamps): send to the
 * request's append (the generator's producer), append to the replica's
 * predicted_at_ms (the replica's fetch, poll and scoring), that to the
 * prediction's append (the replica's producer) and that append to the
 * arrival here (this reader's fetch). Each hop's p50 and p99 are
 * printed, and the mean of each over the slowest 1% of answers: the hop
 * that grows there holds the tail. In hop mode the first and last hop
 * are the only ones. The send hop is split once more by the producer's
 * own statistics ("producer_p99_ms", see LOAD_STATS_MS): time queued in
 * the client against the broker's round trip.
 *
 * At a paced rate the line also says whether the answers kept pace
 * ("kept_up", see report_kept_up), which bench/serve_run's search for
 * the maximum sustained rate uses, and this process's own CPU and wait
 * for a core, so that a slow answer can be told from a starved meter.
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
 *        [-m latency|hop|fill|drain|stamp]
 */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "common/buf.h"
#include "common/kafka.h"
#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "schemas/schema.h"

#define LOAD_MAX_ROWS 2000       /* distinct request rows, reused */
#define LOAD_IDLE_END_S 15.0     /* stop waiting for answers after this */
#define LOAD_POLL_MS 10
#define LOAD_ADMIN_TIMEOUT_MS 30000
#define LOAD_OFFSETS_TIMEOUT_MS 10000 /* the ends of the answers' topic */
/* As the replica's producer (producers/publisher.c): a request waits at
 * most 1 ms for others to share its produce request, instead of every
 * request at a low rate being a produce request of its own. */
#define LOAD_LINGER_MS "1"
/* A first request, answered before the timed ones are sent, so that no
 * timed request waits for the producer's connection and producer id,
 * the reader's first fetch or the replica's. Its key lacks the tag's
 * "TAG-" prefix, so it is never counted. */
#define LOAD_WARM_KEY "warm-up"
#define LOAD_WARM_TIMEOUT_S 60.0
/* The producer's own view of the send hop, from librdkafka's statistics
 * once a second: its queue (int_latency: from producev until the message
 * is in a request), its output buffer (until the request is on the
 * socket) and the broker's round trip (rtt), each a p99 per window. */
#define LOAD_STATS_MS "1000"
#define LOAD_STATS_MAX 4096      /* windows kept */
enum stat { STAT_QUEUE, STAT_OUTBUF, STAT_RTT, STAT_COUNT };
static const char *const stat_names[STAT_COUNT] = {"int_latency",
                                                   "outbuf_latency", "rtt"};

/* The hops of one answer, see above; HOP_COUNT of them. */
enum hop { HOP_SEND, HOP_TO_REPLICA, HOP_REPLICA_SEND, HOP_TO_READER,
           HOP_COUNT };
static const char *const hop_names[HOP_COUNT] = {
    "send_to_append", "append_to_scored", "scored_to_append",
    "append_to_arrival"};

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
    double *sent_wall_ms;        /* per request, wall clock */
    double (*hop_ms)[HOP_COUNT]; /* per answered request; NAN: unknown */
    struct schema *prediction;   /* to read predicted_at_ms and the
                                    request's append time */
    struct event answer;
    int pred_at, event_ts_at;    /* their field indexes */
    atomic_long answered;
    atomic_int stop;
    atomic_int warm;             /* the warm-up request came back */
    double first_sent_s, last_sent_s, last_arrival_s;
    rd_kafka_t *consumer;
    const char *mode;            /* "latency", "hop", "fill", "drain" */
    const char *read_topic;      /* predictions, or requests for "hop" */
    long long first_ts_ms, last_ts_ms; /* drain: answers' timestamps */
    double stat_p99_us[STAT_COUNT][LOAD_STATS_MAX]; /* per window */
    int stat_windows;
    double runq_wait_ms;         /* this process's threads, see below */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
    int i, from_start = strcmp(l->mode, "drain") == 0;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", l->brokers, why,
                          sizeof(why)) ||
        rd_kafka_conf_set(conf, "group.id", "serve-load", why, sizeof(why)) ||
        /* an answer ends a waiting fetch at once; a 1 ms wait made the
         * broker answer ~1,000 empty fetches a second, half a core */
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", why, sizeof(why)))
        die("consumer", why);
    l->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!l->consumer)
        die("consumer", why);
    rkt = rd_kafka_topic_new(l->consumer, l->read_topic, NULL);
    if (rd_kafka_metadata(l->consumer, 0, rkt, &md, 10000) ||
        md->topic_cnt != 1 || md->topics[0].partition_cnt == 0)
        die("metadata", l->read_topic);
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, l->read_topic, i)->offset =
            from_start ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    /* The ends now, as offsets: a logical "end" would be resolved only
     * when the fetch starts, after answers may have come. */
    if (!from_start &&
        kafka_query_offsets(l->consumer, parts, LOAD_OFFSETS_TIMEOUT_MS, why,
                            sizeof(why)))
        die("end offsets", why);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rd_kafka_assign(l->consumer, parts))
        die("assign", l->read_topic);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* The hops of answer i, from the broker's append times; left NAN when
 * the topics keep the producers' own times (no --mode stamp). */
static void take_hops(struct load *l, const rd_kafka_message_t *m, long i)
{
    double *h = l->hop_ms[i], arrival = wall_ms(), pred_at, request_at;
    rd_kafka_timestamp_type_t type;
    double appended = (double)rd_kafka_message_timestamp(m, &type);
    char why[256];

    for (int k = 0; k < HOP_COUNT; k++)
        h[k] = NAN;
    if (type != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
        return;
    h[HOP_TO_READER] = arrival - appended;
    if (!l->prediction) { /* hop mode: m is the request itself */
        h[HOP_SEND] = appended - l->sent_wall_ms[i];
        return;
    }
    if (schema_decode_event(l->prediction, m->payload, m->len, &l->answer,
                            why, sizeof(why)))
        die("decoding a prediction", why);
    pred_at = l->answer.values[l->pred_at].number;
    request_at = l->answer.values[l->event_ts_at].number;
    h[HOP_SEND] = request_at - l->sent_wall_ms[i];
    h[HOP_TO_REPLICA] = pred_at - request_at;
    h[HOP_REPLICA_SEND] = appended - pred_at;
}

static void take_answer(struct load *l, const rd_kafka_message_t *m)
{
    size_t tag_len = strlen(l->tag);
    char id[64];
    long i;

    if (!m->err && m->key_len == strlen(LOAD_WARM_KEY) &&
        memcmp(m->key, LOAD_WARM_KEY, m->key_len) == 0) {
        atomic_store(&l->warm, 1);
        return;
    }
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
    take_hops(l, m, i);
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

/* Sends the warm-up request and waits until it comes back; fill mode,
 * which reads nothing, only waits for its acknowledgement. */
static void warm_up(struct load *l, rd_kafka_t *p)
{
    struct event *ev = &l->rows[0];
    char why[512];
    struct buf body = {0};
    double since = now_s();

    if (event_set_string(ev, (size_t)l->id_index, LOAD_WARM_KEY,
                         strlen(LOAD_WARM_KEY)) ||
        schema_encode_event(l->schema, ev, &body, why, sizeof(why)))
        die("encoding", why);
    if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(l->cfg.serve_requests),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(LOAD_WARM_KEY,
                                         strlen(LOAD_WARM_KEY)),
                          RD_KAFKA_V_VALUE(body.data, body.len),
                          RD_KAFKA_V_END))
        die("warm-up", "cannot queue the request");
    buf_free(&body);
    if (rd_kafka_flush(p, (int)(LOAD_WARM_TIMEOUT_S * 1e3)))
        die("warm-up", "the request was not acknowledged");
    while (l->consumer && !atomic_load(&l->warm)) {
        if (now_s() - since > LOAD_WARM_TIMEOUT_S)
            die("warm-up", "no answer to the first request");
        wait_until(now_s() + LOAD_POLL_MS / 1e3);
    }
}

/* Keeps each window's p99 of the statistics above, taken over the
 * brokers the producer talks to (the worst of them), once the timed
 * sends have begun. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct load *l = opaque;
    json_t *root = json_loadb(json, len, 0, NULL), *brokers, *b;
    const char *name;

    (void)rk;
    brokers = json_object_get(root, "brokers");
    if (l->first_sent_s > 0 && brokers && l->stat_windows < LOAD_STATS_MAX) {
        for (int k = 0; k < STAT_COUNT; k++) {
            double worst = 0;

            json_object_foreach(brokers, name, b) {
                double v = json_number_value(json_object_get(
                    json_object_get(b, stat_names[k]), "p99"));

                if (json_integer_value(json_object_get(b, "nodeid")) >= 0 &&
                    v > worst)
                    worst = v;
            }
            l->stat_p99_us[k][l->stat_windows] = worst;
        }
        l->stat_windows++;
    }
    json_decref(root);
    return 0; /* librdkafka frees json */
}

/* The time this process's threads have spent runnable but waiting for
 * a core (the second field of each thread's schedstat), in ms: read
 * before the producer's threads end, so that theirs count. */
static double own_runq_wait_ms(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    double total = 0;

    while (d && (e = readdir(d)) != NULL) {
        char path[300];
        unsigned long long run, wait;
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat",
                 e->d_name);
        f = fopen(path, "r");
        if (f && fscanf(f, "%llu %llu", &run, &wait) == 2)
            total += (double)wait / 1e6;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return total;
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
        rd_kafka_conf_set(conf, "linger.ms", LOAD_LINGER_MS, why,
                          sizeof(why)) ||
        /* as Kafka's own clients by default: at most 5 requests in
         * flight, so that what queues behind them leaves as one batch
         * instead of a request per message that a busy broker serves
         * one after the other */
        rd_kafka_conf_set(conf, "enable.idempotence", "true", why,
                          sizeof(why)) ||
        rd_kafka_conf_set(conf, "statistics.interval.ms", LOAD_STATS_MS, why,
                          sizeof(why)))
        die("producer", why);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_opaque(conf, l);
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!p)
        die("producer", why);
    warm_up(l, p);
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
        l->sent_wall_ms[i] = wall_ms();
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
    l->last_sent_s = now_s();
    rd_kafka_flush(p, 30000);
    l->runq_wait_ms = own_runq_wait_ms();
    rd_kafka_destroy(p);
    buf_free(&body);
}

/* --mode stamp: the broker stamps every record of both serve topics
 * with its append time. AlterConfigs replaces a topic's settings as a
 * whole, which is right for the bench's own new topics only. */
static void stamp_topics(struct load *l)
{
    const char *topics[] = {l->cfg.serve_requests, l->cfg.serve_predictions};
    rd_kafka_ConfigResource_t *res[2];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    char why[512];
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", l->brokers, why,
                          sizeof(why)))
        die("admin", why);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!rk)
        die("admin", why);
    for (int i = 0; i < 2; i++) {
        res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
                                             topics[i]);
        (void)rd_kafka_ConfigResource_set_config(
            res[i], "message.timestamp.type", "LogAppendTime");
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, res, 2, NULL, q);
    ev = rd_kafka_queue_poll(q, LOAD_ADMIN_TIMEOUT_MS);
    if (!ev || rd_kafka_event_error(ev))
        die("setting LogAppendTime",
            ev ? rd_kafka_event_error_string(ev) : "timed out");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < 2; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    rd_kafka_destroy(rk);
}

/* Latency mode: the prediction schema, to read each answer's times. */
static void load_prediction_schema(struct load *l)
{
    char path[CFG_PATH_MAX], why[512];

    cfg_output_schema_path(&l->cfg, CFG_SCHEMA_PREDICTION, path,
                           sizeof(path));
    if (schema_load_file(path, &l->prediction, why, sizeof(why)))
        die("prediction schema", why);
    l->pred_at = schema_field_index(l->prediction, "predicted_at_ms");
    l->event_ts_at = schema_field_index(l->prediction, "event_timestamp_ms");
    if (l->pred_at < 0 || l->event_ts_at < 0)
        die("prediction schema", "no predicted_at_ms or event_timestamp_ms");
    event_init(&l->answer);
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

/* ,"hops":{NAME:[p50,p99,mean over the slowest 1%],...} for the hops
 * known, nothing when none is (the topics keep CreateTime). */
static void report_hops(struct load *l, double p99)
{
    double *v = malloc((size_t)l->count * sizeof(*v));
    const char *sep = "";

    for (int k = 0; k < HOP_COUNT; k++) {
        double tail = 0;
        long n = 0, slow = 0;

        for (long i = 0; i < l->count; i++) {
            if (l->latency_ms[i] <= 0 || isnan(l->hop_ms[i][k]))
                continue;
            v[n++] = l->hop_ms[i][k];
            if (l->latency_ms[i] >= p99) {
                tail += l->hop_ms[i][k];
                slow++;
            }
        }
        if (n == 0)
            continue;
        qsort(v, (size_t)n, sizeof(*v), by_value);
        printf("%s\"%s\":[%.1f,%.1f,%.1f]", *sep ? sep : ",\"hops\":{",
               hop_names[k], v[n / 2], v[n * 99 / 100],
               slow ? tail / (double)slow : 0.0);
        sep = ",";
    }
    if (*sep)
        printf("}");
    free(v);
}

/* LOAD_DUMP=FILE: one line per answer, "i sent latency hops...", the
 * send time in ms of the wall clock (as the broker's GC log and the
 * record timestamps have it), to see when the slow answers came. */
static void dump_answers(const struct load *l)
{
    const char *path = getenv("LOAD_DUMP");
    FILE *f = path ? fopen(path, "w") : NULL;

    if (!f)
        return;
    for (long i = 0; i < l->count; i++) {
        if (l->latency_ms[i] <= 0)
            continue;
        fprintf(f, "%ld %.1f %.2f", i, l->sent_wall_ms[i], l->latency_ms[i]);
        for (int k = 0; k < HOP_COUNT; k++)
            fprintf(f, " %.1f", l->hop_ms[i][k]);
        fputc('\n', f);
    }
    fclose(f);
}

/* ,"producer_p99_ms":{NAME:[median window, worst window],...} */
static void report_stats(struct load *l)
{
    double v[LOAD_STATS_MAX];
    int n = l->stat_windows;

    if (n == 0)
        return;
    for (int k = 0; k < STAT_COUNT; k++) {
        memcpy(v, l->stat_p99_us[k], (size_t)n * sizeof(*v));
        qsort(v, (size_t)n, sizeof(*v), by_value);
        printf("%s\"%s\":[%.1f,%.1f]", k ? "," : ",\"producer_p99_ms\":{",
               stat_names[k], v[n / 2] / 1e3, v[n - 1] / 1e3);
    }
    printf("}");
}

/* The latencies in ms of the answered requests from..to-1, sorted, in
 * a new array the caller frees (*n of them); NULL without memory. */
static double *sorted_latencies(const struct load *l, long from, long to,
                                long *n)
{
    double *v = malloc((size_t)(to - from + 1) * sizeof(*v));

    *n = 0;
    if (!v)
        return NULL;
    for (long i = from; i < to; i++)
        if (l->latency_ms[i] > 0)
            v[(*n)++] = l->latency_ms[i];
    qsort(v, (size_t)*n, sizeof(*v), by_value);
    return v;
}

/* The median latency of the answered requests from..to-1, in ms; 0
 * when none of them was answered. */
static double median_latency(const struct load *l, long from, long to)
{
    long n;
    double *v = sorted_latencies(l, from, to, &n);
    double m = n > 0 ? v[n / 2] : 0;

    free(v);
    return m;
}

/* ,"kept_up":K,"latency_growth_ms":[Q2,Q4],"backlog_end":N: whether
 * the answers keep pace with a paced stream. If the replica answers a
 * share K of the rate sent, its backlog, and so every answer's wait,
 * grows by 1 - K of the time passed. K is taken from the median
 * latency of the second and of the last quarter of the requests
 * (the first quarter lets the stream settle): 1 - their difference
 * over the time between them. Medians, so that one stall shorter than
 * an eighth of the run does not count as falling behind; over 1, a
 * backlog from a stall shrank. A request never answered makes K 0. N
 * is the requests sent but not answered when the last one was sent. */
static void report_kept_up(struct load *l)
{
    long n = l->count, backlog = 0, answered = 0;
    double q2, q4, span_s, kept;

    for (long i = 0; i < n; i++) {
        if (l->latency_ms[i] > 0)
            answered++;
        if (l->latency_ms[i] <= 0 ||
            l->sent_s[i] + l->latency_ms[i] / 1e3 > l->last_sent_s)
            backlog++;
    }
    q2 = median_latency(l, n / 4, n / 2);
    q4 = median_latency(l, 3 * n / 4, n);
    span_s = l->sent_s[7 * n / 8] - l->sent_s[3 * n / 8];
    kept = answered < n || span_s <= 0 ? 0.0 : 1.0 - (q4 - q2) / (span_s * 1e3);
    printf(",\"kept_up\":%.4f,\"latency_growth_ms\":[%.2f,%.2f],"
           "\"backlog_end\":%ld", kept, q2, q4, backlog);
}

/* ,"cpu_ticks":T,"runq_wait_ms":W: this process's CPU so far (in
 * clock ticks, as /proc has them) and its threads' wait for a core */
static void report_own_cpu(struct load *l)
{
    struct rusage ru;
    double s = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf(",\"cpu_ticks\":%.0f,\"runq_wait_ms\":%.0f",
           s * (double)sysconf(_SC_CLK_TCK), l->runq_wait_ms);
}

static void report(struct load *l)
{
    long k;
    double *v = sorted_latencies(l, 0, l->count, &k);

    printf("{\"rate\":%.0f,\"requests\":%ld,\"answered\":%ld,"
           "\"throughput\":%.0f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
           "\"p99_ms\":%.2f,\"max_ms\":%.2f", l->rate, l->count, k,
           k ? k / (l->last_arrival_s - l->first_sent_s) : 0.0,
           k ? v[k / 2] : 0.0, k ? v[k * 9 / 10] : 0.0,
           k ? v[k * 99 / 100] : 0.0, k ? v[k - 1] : 0.0);
    if (l->rate > 0)
        report_kept_up(l);
    report_own_cpu(l);
    if (k)
        report_hops(l, v[k * 99 / 100]);
    report_stats(l);
    printf("}\n");
    dump_answers(l);
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
         strcmp(l.mode, "fill") && strcmp(l.mode, "drain") &&
         strcmp(l.mode, "stamp")))
        die("usage", "serve_load -c CFG -b BROKERS -r RATE -n COUNT -t TAG "
            "[-m latency|hop|fill|drain|stamp]");
    if (cfg_load_file(&l.cfg, config, err, sizeof(err)))
        die("config", err);
    if (strcmp(l.mode, "stamp") == 0) {
        stamp_topics(&l);
        return 0;
    }
    if (strcmp(l.mode, "latency") == 0)
        load_prediction_schema(&l);
    load_bodies(&l);
    l.read_topic = strcmp(l.mode, "hop") == 0 ? l.cfg.serve_requests
                                              : l.cfg.serve_predictions;
    l.sent_s = calloc((size_t)l.count, sizeof(double));
    l.latency_ms = calloc((size_t)l.count, sizeof(double));
    l.sent_wall_ms = calloc((size_t)l.count, sizeof(double));
    l.hop_ms = calloc((size_t)l.count, sizeof(*l.hop_ms));
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
