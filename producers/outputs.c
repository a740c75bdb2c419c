/*
 * producers/outputs.c - prediction, dead-letter, metrics, alert and
 * snapshot records, see outputs.h.
 *
 * Records are filled through a small writer that remembers the first
 * failure, so each record reads as the list of its fields and is checked
 * once before it is encoded.
 */
#include "producers/outputs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/numfmt.h"
#include "consumers/snapshot_chunks.h"
#include "learner/label_join.h"
#include "privacy/kanon.h"
#include "privacy/seal.h"
#include "schemas/schema.h"

#define OUTPUTS_DEAD_LETTER_HEADERS 5

/* The prediction record's fields, as schemas/prediction.avsc has them. */
enum pred_field {
    PRED_EVENT_ID,
    PRED_MODEL_NAME,
    PRED_MODEL_VERSION,
    PRED_PROBABILITY,
    PRED_VALUE,
    PRED_PREDICTED_CLASS,
    PRED_PREDICTED_LABEL,
    PRED_LABEL,
    PRED_SOURCE_TOPIC,
    PRED_SOURCE_PARTITION,
    PRED_SOURCE_OFFSET,
    PRED_EVENT_TIMESTAMP_MS,
    PRED_PREDICTED_AT_MS,
    PRED_FIELDS,
    PRED_FIELD_COUNT
};

static const struct {
    const char *name;
    enum schema_field_type type;
    int nullable;
} pred_fields[PRED_FIELD_COUNT] = {
    {"event_id", SCHEMA_FIELD_STRING, 0},
    {"model_name", SCHEMA_FIELD_STRING, 0},
    {"model_version", SCHEMA_FIELD_LONG, 0},
    {"probability", SCHEMA_FIELD_DOUBLE, 1},
    {"value", SCHEMA_FIELD_DOUBLE, 0},
    {"predicted_class", SCHEMA_FIELD_INT, 1},
    {"predicted_label", SCHEMA_FIELD_STRING, 0},
    {"label", SCHEMA_FIELD_STRING, 1},
    {"source_topic", SCHEMA_FIELD_STRING, 0},
    {"source_partition", SCHEMA_FIELD_INT, 0},
    {"source_offset", SCHEMA_FIELD_LONG, 0},
    {"event_timestamp_ms", SCHEMA_FIELD_LONG, 0},
    {"predicted_at_ms", SCHEMA_FIELD_LONG, 0},
    {"fields", SCHEMA_FIELD_STRING, 1},
};

/* Longs travel through the flat encoder as doubles: exact below 2^53. */
#define OUTPUTS_FLAT_LONG_LIMIT 9007199254740992.0

struct outputs {
    const struct cfg *cfg;
    const struct cfg_field *label; /* the label field of cfg */
    struct publisher *pub;
    struct schema *prediction, *dead_letter, *metrics, *alert, *snapshot;
    avro_value_t pred_value, dlq_value, metrics_value, alert_value;
    int values_ready;
    struct buf out;
    struct buf snap;      /* the last encoded snapshot, until it is sent */
    int64_t snap_ms;      /* its time, which also names its chunks */
    struct keyring dead_letter_keys; /* count 0: payloads go in clear */
    struct buf sealed;               /* a dead letter's sealed payload */
    struct buf sealed_key;           /* and its sealed original key */
    char key_pseudonym[SEAL_PSEUDONYM_MAX]; /* its Kafka key, then */
    /* The prediction schema's index of each pred_field when it is the
     * flat record riffle ships (fields in any order), else flat is 0. */
    int pred_flat;
    int pred_index[PRED_FIELD_COUNT];
    enum pred_field pred_order[PRED_FIELD_COUNT]; /* by schema index */
    struct event pred_event;
    struct buf carried; /* the prediction's "fields" JSON text */
};

/* --- the record writer ------------------------------------------------ */

struct rec {
    avro_value_t *v;
    int failed;
};

static avro_value_t *field(struct rec *r, const char *name, avro_value_t *f)
{
    if (r->failed || avro_value_get_by_name(r->v, name, f, NULL) != 0) {
        r->failed = 1;
        return NULL;
    }
    return f;
}

static void put_str(struct rec *r, const char *name, const char *s)
{
    avro_value_t f;

    if (field(r, name, &f) && avro_value_set_string(&f, s) != 0)
        r->failed = 1;
}

static void put_long(struct rec *r, const char *name, int64_t x)
{
    avro_value_t f;

    if (field(r, name, &f) && avro_value_set_long(&f, x) != 0)
        r->failed = 1;
}

static void put_int(struct rec *r, const char *name, int32_t x)
{
    avro_value_t f;

    if (field(r, name, &f) && avro_value_set_int(&f, x) != 0)
        r->failed = 1;
}

static void put_double(struct rec *r, const char *name, double x)
{
    avro_value_t f;

    if (field(r, name, &f) && avro_value_set_double(&f, x) != 0)
        r->failed = 1;
}

/* A ["null", X] union: branch 0 holds null. */
static avro_value_t *branch(struct rec *r, const char *name, int present,
                            avro_value_t *b)
{
    avro_value_t f;

    if (!field(r, name, &f) ||
        avro_value_set_branch(&f, present ? 1 : 0, b) != 0) {
        r->failed = 1;
        return NULL;
    }
    if (!present && avro_value_set_null(b) != 0)
        r->failed = 1;
    return present ? b : NULL;
}

static void put_opt_str(struct rec *r, const char *name, const char *s)
{
    avro_value_t b;

    if (branch(r, name, s != NULL, &b) && avro_value_set_string(&b, s) != 0)
        r->failed = 1;
}

static void put_opt_double(struct rec *r, const char *name, double x)
{
    avro_value_t b;

    if (branch(r, name, !isnan(x), &b) && avro_value_set_double(&b, x) != 0)
        r->failed = 1;
}

/* The predicted class: null for a regression, which has none. A schema
 * of one's own whose predicted_class is a plain int, as in
 * schemas/history/prediction.47c35803c14dee79.avsc, gets the 0 it always
 * got. */
static void put_class(struct rec *r, const struct cfg *cfg, int32_t x)
{
    avro_value_t f, b;

    if (!field(r, "predicted_class", &f))
        return;
    if (avro_value_get_type(&f) != AVRO_UNION) {
        if (avro_value_set_int(&f, x) != 0)
            r->failed = 1;
        return;
    }
    if (branch(r, "predicted_class", cfg->task != CFG_TASK_REGRESSION, &b) &&
        avro_value_set_int(&b, x) != 0)
        r->failed = 1;
}

static void put_map_entry(struct rec *r, avro_value_t *map, const char *key,
                          double x)
{
    avro_value_t e;

    if (!isfinite(x))
        return; /* e.g. AUC before both classes were seen */
    if (r->failed || avro_value_add(map, key, &e, NULL, NULL) != 0 ||
        avro_value_set_double(&e, x) != 0)
        r->failed = 1;
}

static void put_count_entry(struct rec *r, avro_value_t *map,
                            const char *key, unsigned long long n)
{
    avro_value_t e;

    if (r->failed || avro_value_add(map, key, &e, NULL, NULL) != 0 ||
        avro_value_set_long(&e, (int64_t)n) != 0)
        r->failed = 1;
}

/* Encodes v and sends it; the record's failure, if any, is reported. */
static int send_record(struct outputs *o, struct rec *r,
                       const struct schema *schema, const char *topic,
                       const void *key, size_t key_len,
                       rd_kafka_headers_t *headers, char *errstr, size_t size)
{
    int err;

    if (r->failed) {
        if (headers)
            rd_kafka_headers_destroy(headers);
        snprintf(errstr, size, "cannot fill a %s record: %s",
                 schema_name(schema), avro_strerror());
        return RIFFLE_ERR_SCHEMA;
    }
    buf_reset(&o->out);
    err = schema_write_value(schema, r->v, &o->out, errstr, size);
    if (err) {
        if (headers)
            rd_kafka_headers_destroy(headers);
        return err;
    }
    return publisher_send(o->pub, topic, key, key_len, o->out.data,
                          o->out.len, headers, errstr, size);
}

/* --- set-up ----------------------------------------------------------- */

static int load(const struct cfg *cfg, const char *file, struct schema **out,
                avro_value_t *value, char *errstr, size_t size)
{
    char path[CFG_PATH_MAX];
    int err;

    cfg_output_schema_path(cfg, file, path, sizeof(path));
    err = schema_load_file(path, out, errstr, size);
    if (!err && value)
        err = schema_new_value(*out, value);
    return err;
}

/* Whether the loaded prediction schema is the flat record riffle ships,
 * with its fields in any order; fills o->pred_index when it is. */
static int find_flat_prediction(struct outputs *o)
{
    const struct schema *s = o->prediction;
    size_t i;

    if (!schema_is_flat(s) || schema_field_count(s) != PRED_FIELD_COUNT)
        return 0;
    for (i = 0; i < PRED_FIELD_COUNT; i++) {
        int at = schema_field_index(s, pred_fields[i].name);

        if (at < 0 || schema_field_type(s, (size_t)at) != pred_fields[i].type ||
            schema_field_nullable(s, (size_t)at) != pred_fields[i].nullable)
            return 0;
        o->pred_index[i] = at;
        o->pred_order[at] = (enum pred_field)i;
    }
    return 1;
}

void outputs_prepare(struct outputs *o)
{
    const char *const topics[] = {
        o->cfg->topic_predictions, o->cfg->topic_dead_letters,
        o->cfg->topic_models,      o->cfg->topic_metrics,
        o->cfg->topic_alerts,      o->cfg->late_topic};

    publisher_prepare_topics(o->pub, topics,
                             sizeof(topics) / sizeof(topics[0]));
}

int outputs_new(const struct cfg *cfg, struct publisher *pub,
                struct outputs **out, char *errstr, size_t errstr_size)
{
    struct outputs *o = calloc(1, sizeof(*o));
    int err;

    if (!o)
        return RIFFLE_ERR_NOMEM;
    o->cfg = cfg;
    o->label = cfg_field_of_kind(cfg, CFG_FIELD_LABEL);
    o->pub = pub;

    err = load(cfg, CFG_SCHEMA_PREDICTION, &o->prediction, &o->pred_value,
               errstr, errstr_size);
    if (!err)
        err = load(cfg, CFG_SCHEMA_DEAD_LETTER, &o->dead_letter,
                   &o->dlq_value, errstr, errstr_size);
    if (!err)
        err = load(cfg, CFG_SCHEMA_METRICS, &o->metrics, &o->metrics_value,
                   errstr, errstr_size);
    if (!err)
        err = load(cfg, CFG_SCHEMA_ALERT, &o->alert, &o->alert_value, errstr,
                   errstr_size);
    if (!err)
        err = load(cfg, CFG_SCHEMA_SNAPSHOT, &o->snapshot, NULL, errstr,
                   errstr_size);
    if (!err)
        err = keyring_load_dead_letter(cfg, &o->dead_letter_keys, errstr,
                                       errstr_size);
    if (!err)
        err = publisher_set_uncompressed(pub, cfg->topic_models, errstr,
                                         errstr_size);
    o->values_ready = err == 0;
    if (!err)
        o->pred_flat = find_flat_prediction(o);
    if (err) {
        outputs_destroy(o);
        return err;
    }
    *out = o;
    return 0;
}

int outputs_set_publisher(struct outputs *o, struct publisher *pub,
                          char *errstr, size_t errstr_size)
{
    int err = publisher_set_uncompressed(pub, o->cfg->topic_models, errstr,
                                         errstr_size);

    if (!err)
        o->pub = pub;
    return err;
}

static void decref(avro_value_t *v)
{
    if (v->iface)
        avro_value_decref(v);
}

void outputs_source_of(const rd_kafka_message_t *msg, struct source_ref *src)
{
    rd_kafka_timestamp_type_t tstype;

    src->topic = rd_kafka_topic_name(msg->rkt);
    src->partition = msg->partition;
    src->offset = msg->offset;
    src->timestamp_ms = rd_kafka_message_timestamp(msg, &tstype);
    src->key = msg->key;
    src->key_len = msg->key_len;
    src->payload = msg->payload;
    src->len = msg->len;
}

void outputs_destroy(struct outputs *o)
{
    if (!o)
        return;
    decref(&o->pred_value);
    decref(&o->dlq_value);
    decref(&o->metrics_value);
    decref(&o->alert_value);
    schema_destroy(o->prediction);
    schema_destroy(o->dead_letter);
    schema_destroy(o->metrics);
    schema_destroy(o->alert);
    schema_destroy(o->snapshot);
    buf_free(&o->out);
    buf_free(&o->snap);
    buf_free(&o->sealed);
    buf_free(&o->sealed_key);
    buf_free(&o->carried);
    event_free(&o->pred_event);
    keyring_wipe(&o->dead_letter_keys);
    free(o);
}

const struct schema *outputs_snapshot_schema(const struct outputs *o)
{
    return o->snapshot;
}

/* --- predictions and dead letters ------------------------------------- */

/* The name of the predicted class, or the predicted value as text. */
static const char *predicted_label(const struct outputs *o,
                                   const struct online_result *r, char *tmp,
                                   size_t size)
{
    return online_predicted_label(o->cfg, o->label, r, tmp, size);
}

/* The fields privacy.prediction_fields carries (already anonymized) as
 * a JSON object text, or NULL when none is configured. A text keeps the
 * record flat, so predictions keep the flat encoder; a null value is
 * left out. Borrowed until the next call. */
static const char *carried_json(struct outputs *o,
                                const struct online_result *r, int *err)
{
    const char *sep = "";
    size_t i;

    if (r->carried_count == 0)
        return NULL;
    buf_reset(&o->carried);
    *err = buf_push(&o->carried, '{');
    for (i = 0; !*err && i < r->carried_count; i++) {
        if (!r->carried[i])
            continue;
        *err = buf_printf(&o->carried, "%s", sep) ||
               buf_append_json_string(&o->carried,
                                      o->cfg->prediction_fields[i]) ||
               buf_push(&o->carried, ':') ||
               buf_append_json_string(&o->carried, r->carried[i]);
        sep = ",";
    }
    if (!*err)
        *err = buf_push(&o->carried, '}');
    *err = *err ? RIFFLE_ERR_NOMEM : 0;
    return o->carried.data;
}

static int generic_prediction(struct outputs *o, const struct source_ref *src,
                              const struct online_result *r, int64_t now_ms,
                              struct buf *out, char *errstr, size_t size)
{
    struct rec rec = {&o->pred_value, 0};
    char tmp[NUMFMT_MAX];
    const char *carried;
    int err = 0;

    put_str(&rec, "event_id", r->event_id);
    put_str(&rec, "model_name", o->cfg->model_name);
    put_long(&rec, "model_version", (int64_t)r->model_version);
    put_opt_double(&rec, "probability", r->probability);
    put_double(&rec, "value", r->value);
    put_class(&rec, o->cfg, r->predicted_class);
    put_str(&rec, "predicted_label",
            predicted_label(o, r, tmp, sizeof(tmp)));
    put_opt_str(&rec, "label", r->label_text);
    put_str(&rec, "source_topic", src->topic);
    put_int(&rec, "source_partition", src->partition);
    put_long(&rec, "source_offset", src->offset);
    put_long(&rec, "event_timestamp_ms", src->timestamp_ms);
    put_long(&rec, "predicted_at_ms", now_ms);
    carried = carried_json(o, r, &err);
    if (err)
        return err;
    /* A prediction schema of its own may lack the field: fine while
     * nothing is to be carried. */
    if (carried || schema_field_index(o->prediction, "fields") >= 0)
        put_opt_str(&rec, "fields", carried);
    if (rec.failed) {
        snprintf(errstr, size, "cannot fill a %s record: %s",
                 schema_name(o->prediction), avro_strerror());
        return RIFFLE_ERR_SCHEMA;
    }
    return schema_write_value(o->prediction, rec.v, out, errstr, size);
}

static void flat_string(struct outputs *o, enum pred_field f, const char *s,
                        int *err)
{
    if (!*err && s)
        *err = event_set_string(&o->pred_event, (size_t)o->pred_index[f], s,
                                strlen(s));
}

static void flat_number(struct outputs *o, enum pred_field f, double x)
{
    if (!isnan(x) || !pred_fields[f].nullable)
        event_set_number(&o->pred_event, (size_t)o->pred_index[f], x);
}

/* The same record through the flat encoder of schemas/: no avro-c value
 * and, once the buffers have grown, no allocation. Returns 1 when a long
 * is too large to pass through a double exactly (the caller then takes
 * the generic path), else 0 or the encoder's error. */
static int flat_prediction(struct outputs *o, const struct source_ref *src,
                           const struct online_result *r, int64_t now_ms,
                           struct buf *out, char *errstr, size_t size)
{
    const double longs[] = {(double)r->model_version, (double)src->offset,
                            (double)src->timestamp_ms, (double)now_ms};
    char tmp[NUMFMT_MAX];
    size_t i;
    int err = 0;

    for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
        if (fabs(longs[i]) >= OUTPUTS_FLAT_LONG_LIMIT)
            return 1;
    event_reset(&o->pred_event, PRED_FIELD_COUNT);
    flat_string(o, PRED_EVENT_ID, r->event_id ? r->event_id : "", &err);
    flat_string(o, PRED_MODEL_NAME, o->cfg->model_name, &err);
    flat_number(o, PRED_MODEL_VERSION, longs[0]);
    flat_number(o, PRED_PROBABILITY, r->probability);
    flat_number(o, PRED_VALUE, r->value);
    flat_number(o, PRED_PREDICTED_CLASS,
                o->cfg->task == CFG_TASK_REGRESSION ? NAN
                                                    : r->predicted_class);
    flat_string(o, PRED_PREDICTED_LABEL,
                predicted_label(o, r, tmp, sizeof(tmp)), &err);
    flat_string(o, PRED_LABEL, r->label_text, &err);
    flat_string(o, PRED_SOURCE_TOPIC, src->topic, &err);
    flat_number(o, PRED_SOURCE_PARTITION, src->partition);
    flat_number(o, PRED_SOURCE_OFFSET, longs[1]);
    flat_number(o, PRED_EVENT_TIMESTAMP_MS, longs[2]);
    flat_number(o, PRED_PREDICTED_AT_MS, longs[3]);
    if (!err) {
        const char *carried = carried_json(o, r, &err);

        flat_string(o, PRED_FIELDS, carried, &err);
    }
    if (err) {
        snprintf(errstr, size, "out of memory");
        return err;
    }
    return schema_encode_event(o->prediction, &o->pred_event, out, errstr,
                               size);
}

/* A string field, or null for a NULL one. */
static int write_text(const struct schema *s, size_t at, const char *text,
                      struct buf *out)
{
    if (!text)
        return schema_write_null(s, at, out);
    return schema_write_string(s, at, text, strlen(text), out);
}

static int write_pred_field(struct outputs *o, size_t at,
                            const struct source_ref *src,
                            const struct online_result *r, int64_t now_ms,
                            struct buf *out)
{
    const struct schema *s = o->prediction;
    char tmp[NUMFMT_MAX];
    int err = 0;

    switch (o->pred_order[at]) {
    case PRED_EVENT_ID:
        return write_text(s, at, r->event_id ? r->event_id : "", out);
    case PRED_MODEL_NAME:
        return write_text(s, at, o->cfg->model_name, out);
    case PRED_MODEL_VERSION:
        return schema_write_long(s, at, (int64_t)r->model_version, out);
    case PRED_PROBABILITY:
        if (isnan(r->probability))
            return schema_write_null(s, at, out);
        return schema_write_double(s, at, r->probability, out);
    case PRED_VALUE:
        return schema_write_double(s, at, r->value, out);
    case PRED_PREDICTED_CLASS:
        if (o->cfg->task == CFG_TASK_REGRESSION)
            return schema_write_null(s, at, out);
        return schema_write_long(s, at, r->predicted_class, out);
    case PRED_PREDICTED_LABEL:
        return write_text(s, at, predicted_label(o, r, tmp, sizeof(tmp)),
                          out);
    case PRED_LABEL:
        return write_text(s, at, r->label_text, out);
    case PRED_SOURCE_TOPIC:
        return write_text(s, at, src->topic, out);
    case PRED_SOURCE_PARTITION:
        return schema_write_long(s, at, src->partition, out);
    case PRED_SOURCE_OFFSET:
        return schema_write_long(s, at, src->offset, out);
    case PRED_EVENT_TIMESTAMP_MS:
        return schema_write_long(s, at, src->timestamp_ms, out);
    case PRED_PREDICTED_AT_MS:
        return schema_write_long(s, at, now_ms, out);
    case PRED_FIELDS: {
        const char *carried = carried_json(o, r, &err);

        return err ? err : write_text(s, at, carried, out);
    }
    case PRED_FIELD_COUNT:
        break;
    }
    return RIFFLE_ERR_SCHEMA;
}

/* The flat record written straight into out, field by field: the bytes
 * of flat_prediction() without an event in between (the prediction
 * record is the hottest one: a third of the learner's time was spent
 * producing it). Returns 0, or 1 with out as it was when a value does
 * not fit (the caller then takes a path that says why). */
static int direct_prediction(struct outputs *o, const struct source_ref *src,
                             const struct online_result *r, int64_t now_ms,
                             struct buf *out)
{
    size_t start = out->len, at;
    int err = schema_write_header(o->prediction, out);

    for (at = 0; !err && at < PRED_FIELD_COUNT; at++)
        err = write_pred_field(o, at, src, r, now_ms, out);
    if (!err)
        return 0;
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return 1;
}

int outputs_encode_prediction(struct outputs *o, const struct source_ref *src,
                              const struct online_result *r, int64_t now_ms,
                              int generic, struct buf *out, char *errstr,
                              size_t errstr_size)
{
    int err = 1;

    if (o->pred_flat && !generic)
        err = direct_prediction(o, src, r, now_ms, out);
    if (err == 1 && o->pred_flat && !generic)
        err = flat_prediction(o, src, r, now_ms, out, errstr, errstr_size);
    if (err == 1)
        err = generic_prediction(o, src, r, now_ms, out, errstr,
                                 errstr_size);
    return err;
}

int outputs_prediction_is_flat(const struct outputs *o)
{
    return o->pred_flat;
}

int outputs_prediction(struct outputs *o, const struct source_ref *src,
                       const struct online_result *r, char *errstr,
                       size_t errstr_size)
{
    int64_t now_ms = kafka_now_ms();
    int err;

    buf_reset(&o->out);
    err = outputs_encode_prediction(o, src, r, now_ms, 0, &o->out, errstr,
                                    errstr_size);
    if (err)
        return err;
    /* The message's timestamp is the record's predicted_at_ms: one clock
     * reading instead of librdkafka taking its own. */
    return publisher_send_at(o->pub, o->cfg->topic_predictions, r->event_id,
                             strlen(r->event_id), o->out.data, o->out.len,
                             NULL, now_ms, errstr, errstr_size);
}

static rd_kafka_headers_t *dead_letter_headers(const struct source_ref *src,
                                               const struct online_result *r,
                                               const char *replay_run,
                                               const struct buf *sealed_key,
                                               size_t dropped_key_len)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(OUTPUTS_DEAD_LETTER_HEADERS +
                                                 4);
    char partition[16], offset[32], dropped[32];

    snprintf(partition, sizeof(partition), "%d", (int)src->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)src->offset);
    /* Adding to a new, writable header list cannot fail. */
    (void)rd_kafka_header_add(h, "riffle.reason", -1, r->verdict.reason, -1);
    (void)rd_kafka_header_add(h, "riffle.field", -1, r->verdict.field, -1);
    (void)rd_kafka_header_add(h, "riffle.source.topic", -1, src->topic, -1);
    (void)rd_kafka_header_add(h, "riffle.source.partition", -1, partition,
                              -1);
    (void)rd_kafka_header_add(h, "riffle.source.offset", -1, offset, -1);
    if (replay_run)
        (void)rd_kafka_header_add(h, OUTPUTS_HEADER_REPLAY_RUN, -1,
                                  replay_run, -1);
    if (sealed_key) {
        (void)rd_kafka_header_add(h, OUTPUTS_HEADER_KEY_SEALED, -1,
                                  OUTPUTS_PAYLOAD_SEALED, -1);
        (void)rd_kafka_header_add(h, OUTPUTS_HEADER_SEALED_KEY, -1,
                                  sealed_key->data, (ssize_t)sealed_key->len);
    }
    if (dropped_key_len) {
        snprintf(dropped, sizeof(dropped), "%zu", dropped_key_len);
        (void)rd_kafka_header_add(h, OUTPUTS_HEADER_KEY_DROPPED, -1, dropped,
                                  -1);
    }
    return h;
}

/* The original bytes go along sealed under the dead-letter key when one
 * is configured (always, when a field is personal: outputs_new() refuses
 * to start without it), in clear otherwise, and only when they fit the
 * size cap. The source coordinates always point at the original. */
static void put_payload(struct outputs *o, struct rec *rec,
                        const struct source_ref *src)
{
    int keep = src->payload && src->len <= OUTPUTS_MAX_PAYLOAD_BYTES;
    int seal = keep && o->dead_letter_keys.count > 0;
    const void *bytes = src->payload;
    size_t len = src->len;
    avro_value_t b;

    if (seal) {
        buf_reset(&o->sealed);
        if (seal_encrypt(&o->dead_letter_keys, SEAL_DEAD_LETTER_CONTEXT,
                         src->payload, src->len, NULL, &o->sealed) != 0) {
            rec->failed = 1;
            return;
        }
        bytes = o->sealed.data;
        len = o->sealed.len;
    }
    if (branch(rec, "payload", keep, &b) &&
        avro_value_set_bytes(&b, (void *)bytes, len) != 0)
        rec->failed = 1;
    put_opt_str(rec, "payload_encryption",
                seal ? OUTPUTS_PAYLOAD_SEALED : NULL);
}

/* The dead letter's Kafka key. Whenever there is a dead-letter key (a
 * producer may key events by an e-mail or a customer number), the
 * original is sealed like the payload, for the replay to restore, and
 * the Kafka key is its pseudonym: a fresh envelope each time would
 * scatter one key's dead letters over every partition. In clear without
 * a dead-letter key. A key past the size cap is not kept (sealed or in
 * clear), but *dropped says how long it was, for the replay to know the
 * letter is not the whole event; its dead letters still share the
 * pseudonym, whose size does not depend on the key's. Sets *sealed and
 * *dropped; returns 0 or RIFFLE_ERR_NOMEM. */
static int dead_letter_key(struct outputs *o, const struct source_ref *src,
                           const void **key, size_t *key_len, int *sealed,
                           size_t *dropped)
{
    int over = src->key_len > OUTPUTS_MAX_KEY_BYTES;

    *key = NULL;
    *key_len = 0;
    *sealed = 0;
    *dropped = 0;
    if (!src->key || src->key_len == 0)
        return 0;
    if (over)
        *dropped = src->key_len;
    if (o->dead_letter_keys.count == 0) {
        if (!over) {
            *key = src->key;
            *key_len = src->key_len;
        }
        return 0;
    }

    buf_reset(&o->sealed_key);
    if ((!over && seal_encrypt(&o->dead_letter_keys,
                               SEAL_DEAD_LETTER_KEY_CONTEXT, src->key,
                               src->key_len, NULL, &o->sealed_key) != 0) ||
        seal_key_pseudonym(&o->dead_letter_keys, src->key, src->key_len,
                           o->key_pseudonym) != 0)
        return RIFFLE_ERR_NOMEM;
    *key = o->key_pseudonym;
    *key_len = strlen(o->key_pseudonym);
    *sealed = !over;
    return 0;
}

/* Event ids in dead letters are cut to the key cap: an id too long for a
 * prediction is one of the reasons an event ends here. The cut may split
 * a character, which an Avro string must not hold. */
static const char *bounded_id(const char *id, char *tmp, size_t size)
{
    if (!id || strlen(id) < size)
        return id;
    snprintf(tmp, size, "%s", id);
    (void)schema_repair_utf8(tmp, strlen(tmp));
    return tmp;
}

/* The verdict's explanation as an Avro string must be: every refusal
 * words its own, some quoting input, so this is the one place that can
 * promise it for the whole topic. */
static const char *valid_detail(const char *detail, char *tmp, size_t size)
{
    snprintf(tmp, size, "%s", detail);
    (void)schema_repair_utf8(tmp, strlen(tmp));
    return tmp;
}

static int dead_letter(struct outputs *o, const struct source_ref *src,
                       const struct online_result *r, const char *replay_run,
                       char *errstr, size_t errstr_size)
{
    struct rec rec = {&o->dlq_value, 0};
    char id[OUTPUTS_MAX_KEY_BYTES + 1];
    char detail[sizeof(r->verdict.detail)];
    const void *key;
    size_t key_len, key_dropped;
    int key_sealed;

    if (dead_letter_key(o, src, &key, &key_len, &key_sealed,
                        &key_dropped) != 0) {
        snprintf(errstr, errstr_size, "sealing a dead letter's key: %s",
                 riffle_err_str(RIFFLE_ERR_NOMEM));
        return RIFFLE_ERR_NOMEM;
    }

    put_str(&rec, "reason", r->verdict.reason);
    put_opt_str(&rec, "field", r->verdict.field[0] ? r->verdict.field : NULL);
    put_str(&rec, "detail", valid_detail(r->verdict.detail, detail,
                                         sizeof(detail)));
    put_opt_str(&rec, "event_id", bounded_id(r->event_id, id, sizeof(id)));
    put_str(&rec, "source_topic", src->topic);
    put_int(&rec, "source_partition", src->partition);
    put_long(&rec, "source_offset", src->offset);
    put_long(&rec, "source_timestamp_ms", src->timestamp_ms);
    put_payload(o, &rec, src);
    put_long(&rec, "dead_lettered_at_ms", kafka_now_ms());
    return send_record(o, &rec, o->dead_letter, o->cfg->topic_dead_letters,
                       key, key_len,
                       dead_letter_headers(src, r, replay_run,
                                           key_sealed ? &o->sealed_key
                                                      : NULL,
                                           key_dropped),
                       errstr, errstr_size);
}

int outputs_dead_letter(struct outputs *o, const struct source_ref *src,
                        const struct online_result *r, char *errstr,
                        size_t errstr_size)
{
    return dead_letter(o, src, r, NULL, errstr, errstr_size);
}

int outputs_dead_letter_replayed(struct outputs *o,
                                 const struct source_ref *src,
                                 const struct online_result *r,
                                 const char *replay_run, char *errstr,
                                 size_t errstr_size)
{
    return dead_letter(o, src, r, replay_run, errstr, errstr_size);
}

int outputs_late(struct outputs *o, const struct source_ref *src,
                 char *errstr, size_t errstr_size)
{
    struct online_result r;

    memset(&r, 0, sizeof(r));
    r.verdict.reason = ONLINE_REASON_LATE;
    snprintf(r.verdict.field, sizeof(r.verdict.field), "%s",
             o->cfg->event_time);
    return publisher_send(o->pub, o->cfg->late_topic, src->key, src->key_len,
                          src->payload, src->len,
                          dead_letter_headers(src, &r, NULL, NULL, 0), errstr,
                          errstr_size);
}

/* --- metrics, alerts, snapshots --------------------------------------- */

static void put_join_counts(struct rec *rec, avro_value_t *map,
                            const struct join_counts *jc)
{
    if (!jc)
        return;
    put_count_entry(rec, map, "join.hits", jc->hits);
    put_count_entry(rec, map, "join.misses", jc->misses);
    put_count_entry(rec, map, "join.expired", jc->expired);
    put_count_entry(rec, map, "join.updates", jc->updates);
    put_count_entry(rec, map, "join.stale", jc->stale);
    put_count_entry(rec, map, "join.evictions", jc->evictions);
}

/* Every field's cleaning counters, zeros included, so that a reader can
 * tell "nothing happened" from "not reported", the duplicates, and late
 * and out-of-order events when event time is configured. */
static void put_cleaning_map(struct rec *rec, const struct online_learner *ol)
{
    static const char *const names[] = {"missing", "imputed", "clipped",
                                        "invalid", "outliers", "rejected"};
    const struct clean_field_counts *fc = online_clean_field_counts(ol);
    const struct cfg *cfg = online_cfg(ol);
    char key[CFG_NAME_MAX + 16];
    avro_value_t map;
    size_t i, k;

    if (!field(rec, "cleaning", &map))
        return;
    for (i = 0; i < cfg->field_count; i++) {
        const unsigned long long n[] = {fc[i].missing,  fc[i].imputed,
                                        fc[i].clipped,  fc[i].invalid,
                                        fc[i].outliers, fc[i].rejected};

        if (cfg->fields[i].kind == CFG_FIELD_IGNORE)
            continue;
        for (k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
            snprintf(key, sizeof(key), "%s.%s", cfg->fields[i].name,
                     names[k]);
            put_count_entry(rec, &map, key, n[k]);
        }
    }
    put_count_entry(rec, &map, "duplicates", online_duplicate_count(ol));
    if (cfg->event_time[0]) {
        struct online_lateness late;

        online_lateness_counts(ol, &late);
        put_count_entry(rec, &map, "late", late.late);
        put_count_entry(rec, &map, "out_of_order", late.out_of_order);
    }
    put_join_counts(rec, &map, online_join_counts(ol));
}

static const char *task_name(enum cfg_task task)
{
    return task == CFG_TASK_MULTICLASS   ? "multiclass"
           : task == CFG_TASK_REGRESSION ? "regression"
                                         : "binary";
}

static void put_metric_map(struct rec *rec, const char *name,
                           const struct online_learner *ol, int window)
{
    const struct metrics *m = online_metrics((struct online_learner *)ol);
    enum cfg_task task = online_cfg(ol)->task;
    avro_value_t map;

    if (!field(rec, name, &map))
        return;
    if (task == CFG_TASK_REGRESSION) {
        put_map_entry(rec, &map, "rmse",
                      window ? metrics_window_rmse(m) : metrics_rmse(m));
        put_map_entry(rec, &map, "mae",
                      window ? metrics_window_mae(m) : metrics_mae(m));
        return;
    }
    put_map_entry(rec, &map, "accuracy",
                  window ? metrics_window_accuracy(m) : metrics_accuracy(m));
    put_map_entry(rec, &map, "logloss",
                  window ? metrics_window_logloss(m) : metrics_logloss(m));
    if (task != CFG_TASK_BINARY)
        return;
    put_map_entry(rec, &map, "auc",
                  window ? metrics_window_auc(m) : metrics_auc(m));
    put_map_entry(rec, &map, "precision",
                  window ? metrics_window_precision(m) : metrics_precision(m));
    put_map_entry(rec, &map, "recall",
                  window ? metrics_window_recall(m) : metrics_recall(m));
    put_map_entry(rec, &map, "f1",
                  window ? metrics_window_f1(m) : metrics_f1(m));
}

/* The k-anonymity counts, or null without a monitor. */
static void put_kanon(struct rec *rec, const struct kanon *k)
{
    struct kanon_report kr;
    struct rec inner;
    avro_value_t b;

    if (!branch(rec, "k_anonymity", k != NULL, &b))
        return;
    kanon_report(k, &kr);
    inner.v = &b;
    inner.failed = 0;
    put_long(&inner, "k", (int64_t)kr.k);
    put_long(&inner, "window_events", (int64_t)kr.window_events);
    put_long(&inner, "combinations", (int64_t)kr.combinations);
    put_long(&inner, "combinations_below_k", (int64_t)kr.combinations_below);
    put_long(&inner, "events_below_k", (int64_t)kr.events_below);
    rec->failed |= inner.failed;
}

/* The delayed-label counters, named as in learn's summary line, or null
 * without a labels group. */
static void put_labels(struct rec *rec, struct online_learner *ol,
                       unsigned long long invalid)
{
    const struct label_join *j = online_label_join(ol);
    struct label_join_counts c;
    struct rec inner;
    avro_value_t b;

    if (!branch(rec, "labels", j != NULL, &b))
        return;
    label_join_counts(j, &c);
    inner.v = &b;
    inner.failed = 0;
    put_long(&inner, "joined", (int64_t)c.joined);
    put_long(&inner, "unknown", (int64_t)c.unknown);
    put_long(&inner, "expired", (int64_t)c.late);
    put_long(&inner, "duplicate", (int64_t)c.duplicate);
    put_long(&inner, "invalid", (int64_t)invalid);
    put_long(&inner, "pending", (int64_t)c.pending);
    put_long(&inner, "waiting", (int64_t)c.early);
    put_long(&inner, "events_expired", (int64_t)c.expired);
    put_long(&inner, "events_evicted", (int64_t)c.evicted);
    rec->failed |= inner.failed;
}

int outputs_metrics(struct outputs *o, const struct online_learner *ol,
                    unsigned long long labels_invalid, char *errstr,
                    size_t errstr_size)
{
    struct online_learner *l = (struct online_learner *)ol;
    const struct metrics *m = online_metrics(l);
    struct rec rec = {&o->metrics_value, 0};
    struct online_drift_info drift;
    struct feature_counts fc;

    if (!o->cfg->topic_metrics[0])
        return 0;
    online_drift_info(ol, &drift);
    online_feature_counts(ol, &fc);
    /* A map keeps its entries: start from an empty record each time. */
    if (avro_value_reset(&o->metrics_value) != 0)
        rec.failed = 1;

    put_str(&rec, "model_name", o->cfg->model_name);
    put_long(&rec, "model_version",
             (int64_t)model_update_count(online_model(l)));
    put_long(&rec, "reported_at_ms", kafka_now_ms());
    put_str(&rec, "task", task_name(o->cfg->task));
    put_long(&rec, "events", (int64_t)m->total.count);
    put_long(&rec, "dead_letters", (int64_t)online_dead_letter_count(ol));
    put_metric_map(&rec, "cumulative", ol, 0);
    put_metric_map(&rec, "window", ol, 1);
    put_long(&rec, "window_events", m->window_len);
    put_str(&rec, "drift_detector", drift.detector);
    put_long(&rec, "drift_detections", (int64_t)drift.detections);
    put_double(&rec, "error_rate_estimate", drift.error_rate);
    put_long(&rec, "distinct_features", (int64_t)fc.distinct);
    put_long(&rec, "collided_slots", (int64_t)fc.collided_slots);
    put_cleaning_map(&rec, ol);
    put_kanon(&rec, online_kanon(ol));
    put_labels(&rec, l, labels_invalid);
    return send_record(o, &rec, o->metrics, o->cfg->topic_metrics,
                       o->cfg->model_name, strlen(o->cfg->model_name), NULL,
                       errstr, errstr_size);
}

int outputs_alert(struct outputs *o, const struct online_learner *ol,
                  const struct source_ref *src, char *errstr,
                  size_t errstr_size)
{
    struct online_learner *l = (struct online_learner *)ol;
    struct rec rec = {&o->alert_value, 0};
    struct online_drift_info drift;

    if (!o->cfg->topic_alerts[0])
        return 0;
    online_drift_info(ol, &drift);

    put_str(&rec, "model_name", o->cfg->model_name);
    put_long(&rec, "model_version",
             (int64_t)model_update_count(online_model(l)));
    put_long(&rec, "detected_at_ms", kafka_now_ms());
    put_str(&rec, "detector", drift.detector);
    put_long(&rec, "detections", (int64_t)drift.detections);
    put_double(&rec, "error_rate_estimate", drift.error_rate);
    put_long(&rec, "window_events", (int64_t)drift.width);
    put_str(&rec, "source_topic", src->topic);
    put_int(&rec, "source_partition", src->partition);
    put_long(&rec, "source_offset", src->offset);
    return send_record(o, &rec, o->alert, o->cfg->topic_alerts,
                       o->cfg->model_name, strlen(o->cfg->model_name), NULL,
                       errstr, errstr_size);
}

static rd_kafka_headers_t *chunk_headers(const char *id, long index,
                                         long chunks, size_t bytes)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    char text[32];

    /* Adding to a new, writable header list cannot fail. */
    (void)rd_kafka_header_add(h, SNAPSHOT_HEADER_ID, -1, id, -1);
    if (index >= 0) {
        snprintf(text, sizeof(text), "%ld", index);
        (void)rd_kafka_header_add(h, SNAPSHOT_HEADER_CHUNK, -1, text, -1);
    }
    snprintf(text, sizeof(text), "%ld", chunks);
    (void)rd_kafka_header_add(h, SNAPSHOT_HEADER_CHUNKS, -1, text, -1);
    snprintf(text, sizeof(text), "%zu", bytes);
    (void)rd_kafka_header_add(h, SNAPSHOT_HEADER_BYTES, -1, text, -1);
    return h;
}

/* len bytes of data as chunks, then the manifest that makes them one
 * value (see consumers/snapshot_chunks.h). */
static int send_chunked(struct outputs *o, const char *model,
                        const char *data, size_t len, int64_t now_ms,
                        char *errstr, size_t size)
{
    size_t chunk = (size_t)o->cfg->snapshot_chunk_bytes, at;
    long chunks = (long)((len + chunk - 1) / chunk), i;
    char id[64], key[2 * CFG_NAME_MAX + 32], text[96];
    int err = 0;

    snprintf(id, sizeof(id), "%lld-%llu", (long long)now_ms,
             (unsigned long long)len);
    for (i = 0, at = 0; !err && i < chunks; i++, at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;

        snprintf(key, sizeof(key), "%s%s%ld", model,
                 SNAPSHOT_CHUNK_KEY_INFIX, i);
        err = publisher_send(o->pub, o->cfg->topic_models, key, strlen(key),
                             data + at, n, chunk_headers(id, i, chunks, len),
                             errstr, size);
    }
    if (err)
        return err;
    snprintf(text, sizeof(text), "riffle snapshot %s in %ld chunks", id,
             chunks);
    return publisher_send(o->pub, o->cfg->topic_models, model,
                          strlen(model), text, strlen(text),
                          chunk_headers(id, -1, chunks, len), errstr, size);
}

/* One value under key on the model topic: in chunks past
 * snapshot.chunk_bytes. */
static int send_model_value(struct outputs *o, const char *key,
                            const char *data, size_t len, int64_t now_ms,
                            char *errstr, size_t size)
{
    if (len > (size_t)o->cfg->snapshot_chunk_bytes)
        return send_chunked(o, key, data, len, now_ms, errstr, size);
    return publisher_send(o->pub, o->cfg->topic_models, key, strlen(key),
                          data, len, NULL, errstr, size);
}

int outputs_model_record(struct outputs *o, const char *key,
                         const struct buf *value, char *errstr,
                         size_t errstr_size)
{
    return send_model_value(o, key, value->data, value->len, kafka_now_ms(),
                            errstr, errstr_size);
}

int outputs_snapshot(struct outputs *o, struct online_learner *ol,
                     const struct snapshot_offset *offsets, size_t n,
                     size_t *bytes, char *errstr, size_t errstr_size)
{
    return outputs_snapshot_keyed(o, o->cfg->model_name, ol, offsets, n,
                                  bytes, errstr, errstr_size);
}

int outputs_snapshot_keyed(struct outputs *o, const char *key,
                           struct online_learner *ol,
                           const struct snapshot_offset *offsets, size_t n,
                           size_t *bytes, char *errstr, size_t errstr_size)
{
    int err = outputs_snapshot_hold(o, ol, offsets, n, bytes, errstr,
                                    errstr_size);

    return err ? err : outputs_snapshot_send(o, key, errstr, errstr_size);
}

int outputs_snapshot_hold(struct outputs *o, struct online_learner *ol,
                          const struct snapshot_offset *offsets, size_t n,
                          size_t *bytes, char *errstr, size_t errstr_size)
{
    int err;

    o->snap_ms = kafka_now_ms();
    buf_reset(&o->snap);
    err = snapshot_encode(o->snapshot, ol, offsets, n, o->snap_ms, &o->snap,
                          errstr, errstr_size);
    if (err)
        buf_reset(&o->snap);
    *bytes = o->snap.len;
    return err;
}

int outputs_snapshot_send(struct outputs *o, const char *key, char *errstr,
                          size_t errstr_size)
{
    return send_model_value(o, key, o->snap.data, o->snap.len, o->snap_ms,
                            errstr, errstr_size);
}
