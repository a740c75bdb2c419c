/*
 * learner/online.c - the per-event pipeline, see online.h.
 */
#include "learner/online.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleaning/dedup.h"
#include "cleaning/join.h"
#include "cleaning/sources.h"
#include "common/err.h"
#include "common/numfmt.h"
#include "learner/drift.h"
#include "learner/hash.h"
#include "learner/label_join.h"
#include "privacy/anonymize.h"
#include "privacy/kanon.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"

/* One-against-all keeps one linear model per class in the shared weight
 * table: class k sees every feature moved by k strides, plus a bias of
 * its own (the model's implicit bias is shared by all classes). */
#define ONLINE_CLASS_STRIDE 0x9E3779B1u /* odd, spreads classes apart */
#define ONLINE_CLASS_BIAS "riffle.class.bias"
#define JOIN_MAX_TIME_MS 9.2e18 /* within int64 milliseconds */
/* When online_prefetch_event() loads the next event's slots: a table
 * four times the size of a core's L2 cache (2 MiB here) or more, where
 * a new feature's slot is rarely cached, and events of few categorical
 * values, each likely new (click-through: 10 over 16 MiB, 17% less CPU
 * on the learner's thread). With many values an event's slots are
 * mostly cached (the synthetic set: 50 over 32 MiB, 5% more CPU), and
 * the look ahead costs about 20 instructions a value. */
#define ONLINE_LOOK_AHEAD_MIN_BYTES ((size_t)8 << 20)
#define ONLINE_LOOK_AHEAD_MAX_TOKENS 16

/* A further input topic: its schema and how it maps into the pipeline's. */
struct online_source {
    struct schema *schema;
    struct source_map *map;
};

/* The enrichment join: the profile schema, which pipeline fields a
 * profile fills (and from where), and the table of latest profiles. */
struct online_join {
    struct schema *schema;
    struct source_map *map;
    struct join_table *table;
    int key_index;         /* pipeline schema index of join.key */
    int profile_key_index; /* profile schema index of join.profile_key */
    int profile_time_index; /* of join.event_time, or -1: Kafka times */
    size_t value_count;
    int target[EVENT_MAX_FIELDS]; /* pipeline index of each value */
    struct join_value values[EVENT_MAX_FIELDS]; /* scratch for a put */
};

/* The latest event time learned from one partition of one stream. */
struct watermark {
    int stream; /* STREAM_INPUT or a source's index */
    int32_t partition;
    double time_ms;
};

#define STREAM_INPUT (-1)
#define STREAM_JOIN (-2)

struct online_learner {
    const struct cfg *cfg;
    const struct schema *schema;
    struct cleaner *cleaner;
    struct anonymizer *anonymizer;
    struct kanon *kanon; /* NULL without privacy.k_anonymity */
    struct feature_builder *features;
    struct model *model;
    struct drift *drift; /* NULL when drift.detector = "none" */
    struct dedup *dedup; /* NULL when cleaning.dedup_window = 0 */
    uint64_t duplicates;
    int time_index;      /* schema index of cleaning.event_time, or -1 */
    struct watermark marks[ONLINE_MAX_WATERMARKS];
    size_t mark_count;
    size_t last_mark;       /* where the last lookup hit: usually again */
    int origin_stream;      /* where the event in hand was read */
    int32_t origin_partition;
    struct online_lateness lateness;
    struct online_source sources[CFG_MAX_SOURCES];
    struct online_join *join; /* NULL without join = {...} */
    struct event raw;         /* a source's or profile's own event */
    struct metrics metrics;
    struct running_stats stats[CFG_MAX_FIELDS];
    uint64_t dead_letters;
    int id_index;    /* schema index of the id field */
    int label_index; /* schema index of the label field */
    struct event event;
    struct feature x[FEATURES_MAX];
    struct feature xk[FEATURES_MAX + 1]; /* one class's copy, with bias */
    uint32_t class_bias_hash;
    int carried_index[CFG_MAX_PREDICTION_FIELDS]; /* schema indexes */
    struct buf carried; /* their texts, NUL-separated */
    /* Copies: anonymizing may grow the event's arena and move strings. */
    struct buf event_id;
    /* With a pseudonymized id (anonymizer_hides_id()): the pseudonym of
     * a raw id met as a Kafka key (a label's, a message's), and the
     * length of the raw id of the event in hand when over the cleaner's
     * cap (0 otherwise), which the pseudonym no longer shows. */
    struct buf key_pseudonym;
    size_t long_id_len;
    char label[CFG_NAME_MAX];
    /* label holds the text of the number with these bits: a numeric
     * label has a few values, and printing one each event cost more
     * than copying it. */
    uint64_t label_bits;
    int label_is_number;
    /* delayed labels: NULL without a labels group */
    struct label_join *labels;
    int64_t ts_ms;        /* Kafka time of the message being processed */
    int64_t labels_now_ms; /* newest Kafka time seen (<= now + ttl) */
    /* online_check_message_key(): the message's key, which an event that
     * waits for its label must equal its id with */
    int key_check;
    const void *msg_key;
    size_t msg_key_len;
    double class_p[CFG_MAX_CLASSES]; /* the last multiclass scores */
    struct buf packed;   /* a pending event's features, see pack() */
    /* A label message of format "event" is a whole input event, personal
     * fields and all, and a label waiting for its event is kept in every
     * snapshot: with personal fields its bytes wait sealed under the
     * dead-letter keyring (count 0: kept as they are). */
    struct keyring early_keys;
    struct buf early_sealed, early_plain;
    int look_ahead;      /* online_prefetch_event() does anything */
};

/* Position in cfg->fields of the (one) field of kind. */
static size_t field_position(const struct cfg *cfg, enum cfg_field_kind kind)
{
    return (size_t)(cfg_field_of_kind(cfg, kind) - cfg->fields);
}

static int new_drift_detector(const struct cfg *cfg, struct drift **out,
                              char *errstr, size_t errstr_size)
{
    struct drift_params params;
    enum drift_kind kind = (enum drift_kind)cfg->drift_detector;
    int err;

    drift_params_default(&params);
    params.adwin.delta = cfg->drift_delta;
    params.ph.delta = cfg->drift_delta;
    params.ph.lambda = cfg->drift_lambda;
    err = drift_params_check(kind, &params, errstr, errstr_size);
    if (!err)
        err = drift_new(kind, &params, out);
    return err;
}

/* Loads a schema named in the configuration; errors say where. */
static int load_cfg_schema(const struct online_learner *ol, const char *path,
                           int line, const char *key, struct schema **out,
                           char *errstr, size_t errstr_size)
{
    char why[512];

    if (schema_load_file(path, out, why, sizeof(why)) == 0)
        return 0;
    return cfg_error(ol->cfg, line, key, errstr, errstr_size, "%s", why);
}

static int open_sources(struct online_learner *ol, char *errstr,
                        size_t errstr_size)
{
    char key[CFG_NAME_MAX];
    size_t i;
    int err = 0;

    for (i = 0; i < ol->cfg->source_count && !err; i++) {
        const struct cfg_source *src = &ol->cfg->sources[i];

        snprintf(key, sizeof(key), "sources[%zu].schema", i);
        err = load_cfg_schema(ol, src->schema_path, src->line, key,
                              &ol->sources[i].schema, errstr, errstr_size);
        snprintf(key, sizeof(key), "sources[%zu].map", i);
        if (!err)
            err = source_map_new(ol->cfg, src->line, key, ol->schema,
                                 ol->sources[i].schema,
                                 (char (*)[2][CFG_NAME_MAX])src->map,
                                 src->map_count, 1, &ol->sources[i].map,
                                 errstr, errstr_size);
    }
    return err;
}

/* join.event_time, when set, must be a number of the profile schema,
 * and cleaning.event_time must be set too: the window then compares the
 * two sides' event times, in one unit. */
static int find_join_time(struct online_learner *ol, char *errstr,
                          size_t errstr_size)
{
    const struct cfg_join *j = &ol->cfg->join;
    struct online_join *oj = ol->join;
    enum schema_field_type t;

    oj->profile_time_index = -1;
    if (!j->event_time[0])
        return 0;
    if (!ol->cfg->event_time[0])
        return cfg_error(ol->cfg, j->line, "join.event_time", errstr,
                         errstr_size, "needs cleaning.event_time, the "
                         "events' side of the window");
    oj->profile_time_index = schema_field_index(oj->schema, j->event_time);
    if (oj->profile_time_index < 0)
        return cfg_error(ol->cfg, j->line, "join.event_time", errstr,
                         errstr_size, "\"%s\" is not a field of %s",
                         j->event_time, schema_name(oj->schema));
    t = schema_field_type(oj->schema, (size_t)oj->profile_time_index);
    if (t != SCHEMA_FIELD_DOUBLE && t != SCHEMA_FIELD_FLOAT &&
        t != SCHEMA_FIELD_LONG && t != SCHEMA_FIELD_INT)
        return cfg_error(ol->cfg, j->line, "join.event_time", errstr,
                         errstr_size, "\"%s\" of %s is not a number",
                         j->event_time, schema_name(oj->schema));
    return 0;
}

/* The key fields must exist, and the key be a string or a number. */
static int find_join_keys(struct online_learner *ol, char *errstr,
                          size_t errstr_size)
{
    const struct cfg_join *j = &ol->cfg->join;
    struct online_join *oj = ol->join;

    oj->key_index = schema_field_index(ol->schema, j->key);
    if (oj->key_index < 0)
        return cfg_error(ol->cfg, j->line, "join.key", errstr, errstr_size,
                         "\"%s\" is not a field of %s", j->key,
                         schema_name(ol->schema));
    oj->profile_key_index = schema_field_index(oj->schema, j->profile_key);
    if (oj->profile_key_index < 0)
        return cfg_error(ol->cfg, j->line, "join.profile_key", errstr,
                         errstr_size, "\"%s\" is not a field of %s",
                         j->profile_key, schema_name(oj->schema));
    return find_join_time(ol, errstr, errstr_size);
}

static int open_join(struct online_learner *ol, char *errstr,
                     size_t errstr_size)
{
    const struct cfg_join *j = &ol->cfg->join;
    struct online_join *oj = calloc(1, sizeof(*oj));
    size_t i;
    int err;

    if (!oj)
        return RIFFLE_ERR_NOMEM;
    ol->join = oj;
    err = load_cfg_schema(ol, j->schema_path, j->line, "join.schema",
                          &oj->schema, errstr, errstr_size);
    if (!err)
        err = source_map_new(ol->cfg, j->line, "join.map", ol->schema,
                             oj->schema, (char (*)[2][CFG_NAME_MAX])j->map,
                             j->map_count, 0, &oj->map, errstr, errstr_size);
    if (!err)
        err = find_join_keys(ol, errstr, errstr_size);
    if (err)
        return err;

    for (i = 0; i < schema_field_count(ol->schema); i++)
        if (source_map_origin(oj->map, i) >= 0)
            oj->target[oj->value_count++] = (int)i;
    return join_table_new((size_t)j->max_keys, oj->value_count,
                          &oj->table);
}

static void close_sources(struct online_learner *ol)
{
    size_t i;

    for (i = 0; i < CFG_MAX_SOURCES; i++) {
        source_map_destroy(ol->sources[i].map);
        schema_destroy(ol->sources[i].schema);
    }
    if (!ol->join)
        return;
    source_map_destroy(ol->join->map);
    schema_destroy(ol->join->schema);
    join_table_destroy(ol->join->table);
    free(ol->join);
}

int online_new(const struct cfg *cfg, const struct schema *input_schema,
               struct online_learner **out, char *errstr,
               size_t errstr_size)
{
    struct online_learner *ol = calloc(1, sizeof(*ol));
    size_t i;
    int err;

    if (!ol)
        return RIFFLE_ERR_NOMEM;
    ol->cfg = cfg;
    ol->schema = input_schema;
    metrics_init(&ol->metrics);
    event_init(&ol->event);
    /* Raw personal values pass through these: a move or a free must not
     * leave them behind (pack_early(), the event's decoding). */
    buf_hold_secret(&ol->early_plain);
    buf_hold_secret(&ol->raw.arena);
    buf_hold_secret(&ol->event.arena);

    err = cleaner_new(cfg, input_schema, ol->stats, &ol->cleaner, errstr,
                      errstr_size);
    if (!err)
        err = anonymizer_new(cfg, input_schema, &ol->anonymizer, errstr,
                             errstr_size);
    if (!err)
        err = kanon_new(cfg, input_schema, &ol->kanon, errstr, errstr_size);
    if (!err)
        err = features_new(cfg, input_schema, ol->stats, &ol->features,
                           errstr, errstr_size);
    if (!err) {
        err = model_new(&cfg->model, &ol->model);
        if (err)
            snprintf(errstr, errstr_size, "cannot allocate a model of 2^%u "
                     "weights", cfg->model.bits);
    }
    if (!err && cfg->drift_detector >= 0)
        err = new_drift_detector(cfg, &ol->drift, errstr, errstr_size);
    if (!err && cfg->dedup_window > 0)
        err = dedup_new((size_t)cfg->dedup_window, &ol->dedup);
    if (!err)
        err = open_sources(ol, errstr, errstr_size);
    if (!err && cfg->join.line)
        err = open_join(ol, errstr, errstr_size);
    if (!err && cfg->labels.line &&
        label_join_new((size_t)cfg->labels.max_pending,
                       (int64_t)cfg->labels.ttl_ms, &ol->labels) != 0) {
        snprintf(errstr, errstr_size, "cannot allocate the store of %ld "
                 "pending events", cfg->labels.max_pending);
        err = RIFFLE_ERR_NOMEM;
    }
    /* A waiting label keeps its message's key, the raw id, for its dead
     * letter: with a pseudonymized id that key waits sealed too. */
    if (!err && cfg->labels.line &&
        ((cfg->labels.format == CFG_LABEL_FORMAT_EVENT &&
          cfg_has_personal_fields(cfg)) ||
         anonymizer_hides_id(ol->anonymizer)))
        err = keyring_load_dead_letter(cfg, &ol->early_keys, errstr,
                                       errstr_size);
    if (err) {
        online_destroy(ol);
        return err;
    }

    ol->id_index = cleaner_schema_index(
        ol->cleaner, field_position(cfg, CFG_FIELD_ID));
    ol->label_index = cleaner_schema_index(
        ol->cleaner, field_position(cfg, CFG_FIELD_LABEL));
    ol->class_bias_hash = hash_string(ONLINE_CLASS_BIAS, cfg->hash_seed);
    for (i = 0; i < cfg->prediction_field_count; i++)
        ol->carried_index[i] = cleaner_schema_index(
            ol->cleaner, (size_t)(cfg_find_field(cfg,
                                                 cfg->prediction_fields[i]) -
                                  cfg->fields));
    /* Multiclass moves each index per class: not looked ahead. */
    ol->look_ahead =
        cfg->task != CFG_TASK_MULTICLASS &&
        model_table_bytes(ol->model) >= ONLINE_LOOK_AHEAD_MIN_BYTES &&
        features_token_count(ol->features) <= ONLINE_LOOK_AHEAD_MAX_TOKENS;
    ol->time_index = -1;
    ol->origin_stream = STREAM_INPUT;
    if (cfg->event_time[0])
        ol->time_index = cleaner_schema_index(
            ol->cleaner, (size_t)(cfg_find_field(cfg, cfg->event_time) -
                                  cfg->fields));
    *out = ol;
    return 0;
}

void online_destroy(struct online_learner *ol)
{
    if (!ol)
        return;
    cleaner_destroy(ol->cleaner);
    anonymizer_destroy(ol->anonymizer);
    kanon_destroy(ol->kanon);
    features_destroy(ol->features);
    model_destroy(ol->model);
    drift_destroy(ol->drift);
    dedup_destroy(ol->dedup);
    close_sources(ol);
    event_free(&ol->raw);
    event_free(&ol->event);
    buf_free(&ol->event_id);
    buf_free(&ol->key_pseudonym);
    label_join_destroy(ol->labels);
    buf_free(&ol->packed);
    buf_free(&ol->carried);
    keyring_wipe(&ol->early_keys);
    buf_free(&ol->early_sealed);
    buf_free(&ol->early_plain);
    free(ol);
}

static void set_verdict(struct online_result *res, const char *reason,
                        const char *field, const char *detail)
{
    res->dead_letter = 1;
    res->verdict.reason = reason;
    snprintf(res->verdict.field, sizeof(res->verdict.field), "%s", field);
    snprintf(res->verdict.detail, sizeof(res->verdict.detail), "%s", detail);
}

/* A failed score or update (err != 0): out of memory stops the caller;
 * any other failure means a feature value was not finite after its
 * transform, and the event becomes a dead letter instead of reaching the
 * weights. */
static int refuse_unlearnable(struct online_learner *ol, int err,
                              struct online_result *res)
{
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    set_verdict(res, CLEAN_REASON_VALUE, "",
                "a feature value is not finite after its transform");
    ol->dead_letters++;
    return 0;
}

/* The label as the user wrote it, kept for the prediction record. Read
 * before anonymization; labels are never personal (cfg.c refuses it). */
static const char *copy_label(struct online_learner *ol,
                              const struct event *ev)
{
    const struct value *v = &ev->values[ol->label_index];
    uint64_t bits;

    if (v->kind == VALUE_NUMBER) {
        memcpy(&bits, &v->number, sizeof(bits));
        if (!ol->label_is_number || bits != ol->label_bits) {
            numfmt_double(v->number, ol->label, sizeof(ol->label));
            ol->label_bits = bits;
            ol->label_is_number = 1;
        }
        return ol->label;
    }
    ol->label_is_number = 0;
    if (v->kind == VALUE_STRING) {
        /* As snprintf("%s") would, without its format parse, which was
         * a twentieth of an Elec2 event. */
        size_t len = v->str_len < sizeof(ol->label) - 1
                         ? v->str_len
                         : sizeof(ol->label) - 1;

        memcpy(ol->label, event_string(ev, (size_t)ol->label_index), len);
        ol->label[len] = '\0';
        return ol->label;
    }
    return NULL;
}

/* Replaces the event's id by its pseudonym when configured, before
 * anything reads it; notes a raw id longer than cleaning accepts, which
 * refuse_long_id() then refuses as cleaning would have. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
static int hide_event_id(struct online_learner *ol, struct event *ev)
{
    const struct value *v = &ev->values[ol->id_index];

    ol->long_id_len = 0;
    if (!anonymizer_hides_id(ol->anonymizer))
        return 0;
    if (v->kind == VALUE_STRING && v->str_len > CLEAN_MAX_ID_BYTES)
        ol->long_id_len = v->str_len;
    return anonymizer_apply_id(ol->anonymizer, ev);
}

/* The verdict cleaning gives an id over CLEAN_MAX_ID_BYTES, for an id
 * hide_event_id() replaced by its (short) pseudonym: returns 1 with the
 * event refused, or 0. */
static int refuse_long_id(struct online_learner *ol, struct online_result *res)
{
    char detail[sizeof(res->verdict.detail)];

    if (ol->long_id_len == 0)
        return 0;
    snprintf(detail, sizeof(detail), "the event id has %zu bytes; at most "
             "%d allowed", ol->long_id_len, CLEAN_MAX_ID_BYTES);
    set_verdict(res, CLEAN_REASON_VALUE,
                cfg_field_of_kind(ol->cfg, CFG_FIELD_ID)->name, detail);
    ol->long_id_len = 0;
    return 1;
}

static const char *copy_event_id(struct online_learner *ol,
                                 const struct event *ev)
{
    const struct value *v = &ev->values[ol->id_index];

    if (v->kind != VALUE_STRING)
        return NULL;
    buf_reset(&ol->event_id);
    if (buf_append(&ol->event_id, event_string(ev, (size_t)ol->id_index),
                   v->str_len) != 0)
        return NULL;
    return ol->event_id.data;
}

static size_t class_features(struct online_learner *ol, size_t n, size_t k)
{
    uint32_t mask = (uint32_t)(model_weight_count(ol->model) - 1);
    uint32_t shift = (uint32_t)k * ONLINE_CLASS_STRIDE;
    size_t i;

    for (i = 0; i < n; i++) {
        ol->xk[i].index = (ol->x[i].index + shift) & mask;
        ol->xk[i].value = ol->x[i].value;
    }
    ol->xk[n].index = (ol->class_bias_hash + shift) & mask;
    ol->xk[n].value = 1.0f;
    return n + 1;
}

/* Scores every class, then learns each when learn is set, and normalizes
 * the one-against-all probabilities so they sum to 1. Every class is
 * scored before any learns: the model's implicit bias is shared by the
 * classes, so a class learned first would move the scores of those after
 * it by this very event's label, and the prediction would no longer be
 * the one of a model that has not seen the event. */
static int run_multiclass(struct online_learner *ol, size_t n, int learn,
                          struct online_result *res)
{
    double p[CFG_MAX_CLASSES], sum = 0;
    size_t k, classes = ol->cfg->class_count, best = 0;
    int err;

    for (k = 0; k < classes; k++) {
        p[k] = model_predict(ol->model, ol->xk, class_features(ol, n, k));
        sum += p[k];
        if (p[k] > p[best])
            best = k;
    }
    for (k = 0; learn && k < classes; k++) {
        err = model_learn(ol->model, ol->xk, class_features(ol, n, k),
                          (double)k == res->label ? 1.0 : 0.0, NULL);
        if (err)
            return err; /* class 0 refuses before anything changes */
    }

    for (k = 0; k < classes; k++)
        ol->class_p[k] = sum > 0 ? p[k] / sum : 1.0 / (double)classes;
    res->predicted_class = (int)best;
    res->probability = sum > 0 ? p[best] / sum : 1.0 / (double)classes;
    res->value = res->probability;
    if (!isnan(res->label)) {
        size_t truth = (size_t)res->label;

        metrics_add_class_probability(&ol->metrics, (int)best, (int)truth,
                                      sum > 0 ? p[truth] / sum
                                              : 1.0 / (double)classes);
    }
    return 0;
}

static int run_single(struct online_learner *ol, size_t n, int learn,
                      struct online_result *res)
{
    double out;
    int err = 0;

    if (learn)
        err = model_learn(ol->model, ol->x, n, res->label, &out);
    else
        out = model_predict(ol->model, ol->x, n);
    if (err)
        return err;

    res->value = out;
    if (ol->cfg->task == CFG_TASK_REGRESSION) {
        res->probability = NAN;
        res->predicted_class = 0;
        if (!isnan(res->label))
            (void)metrics_add_regression(&ol->metrics, out, res->label);
        return 0; /* ignored: both finite, checked by model and cleaner */
    }
    res->probability = out;
    res->predicted_class = out >= 0.5;
    if (!isnan(res->label))
        metrics_add(&ol->metrics, out, (int)res->label);
    return 0;
}

/* Feeds the detector one mistake (1) or hit (0). Regression errors are
 * unbounded, and ADWIN's bound assumes values in [0, 1], so regression
 * is not watched. */
static void watch_drift(struct online_learner *ol, struct online_result *res)
{
    double mistake;

    if (!ol->drift || ol->cfg->task == CFG_TASK_REGRESSION)
        return;
    mistake = (double)res->predicted_class != res->label;
    res->drift = drift_add(ol->drift, mistake) == 1;

    /* React by making the adaptive steps large again, so the model
     * follows the new concept quickly; cfg.c refused optimizers without
     * a step history, so this cannot fail. */
    if (res->drift && ol->cfg->drift_react < 1.0)
        (void)model_scale_step_history(ol->model, ol->cfg->drift_react);
}

/* The watermark of the partition the event in hand came from, or NULL
 * before that partition taught anything. Lateness is judged per
 * partition: partitions that lag each other (one consumer reading
 * several, a source behind the input) do not make each other's events
 * late. */
static struct watermark *find_mark(struct online_learner *ol)
{
    size_t i;

    if (ol->last_mark < ol->mark_count &&
        ol->marks[ol->last_mark].stream == ol->origin_stream &&
        ol->marks[ol->last_mark].partition == ol->origin_partition)
        return &ol->marks[ol->last_mark];
    for (i = 0; i < ol->mark_count; i++)
        if (ol->marks[i].stream == ol->origin_stream &&
            ol->marks[i].partition == ol->origin_partition) {
            ol->last_mark = i;
            return &ol->marks[i];
        }
    return NULL;
}

/* The event time of ev in ms, or NaN when it has none usable. */
static double event_time_ms(const struct online_learner *ol,
                            const struct event *ev)
{
    const struct value *v;

    if (ol->time_index < 0)
        return NAN;
    v = &ev->values[ol->time_index];
    if (v->kind != VALUE_NUMBER || !isfinite(v->number))
        return NAN;
    return v->number * ol->cfg->event_time_ms;
}

/* 1 when ev is further behind its partition's watermark than the
 * allowed lateness and on_late says not to learn it: res then holds the
 * verdict (reject) or the routing (route). An event without a usable
 * time is not judged; its field's own cleaning rules decide about it. */
static int check_lateness(struct online_learner *ol, const struct event *ev,
                          struct online_result *res)
{
    const struct cfg *cfg = ol->cfg;
    const struct watermark *mark;
    double t = event_time_ms(ol, ev), behind;
    char detail[sizeof(res->verdict.detail)];

    if (isnan(t))
        return 0;
    mark = find_mark(ol);
    if (!mark)
        return 0;
    behind = mark->time_ms - t;
    if (behind <= 0)
        return 0;
    if (behind <= cfg->allowed_lateness_ms) {
        ol->lateness.out_of_order++;
        return 0;
    }

    ol->lateness.late++;
    if (cfg->on_late == CFG_LATE_ACCEPT)
        return 0;
    if (cfg->on_late == CFG_LATE_ROUTE) {
        res->late = 1;
        return 1;
    }
    if (cfg_find_field(cfg, cfg->event_time)->privacy != CFG_PRIVACY_NONE)
        snprintf(detail, sizeof(detail), "more than %.0f ms behind the "
                 "latest learned event time of its partition",
                 cfg->allowed_lateness_ms);
    else
        snprintf(detail, sizeof(detail), "event time %.0f ms is %.0f ms "
                 "behind the latest learned of partition %d, %.0f ms; at "
                 "most %.0f ms allowed", t, behind,
                 (int)ol->origin_partition, mark->time_ms,
                 cfg->allowed_lateness_ms);
    set_verdict(res, ONLINE_REASON_LATE, cfg->event_time, detail);
    ol->dead_letters++;
    return 1;
}

static int64_t wall_clock_ms(void)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_REALTIME, &now); /* cannot fail */
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* An event time as a watermark may hold it: at most the wall clock. A
 * learned event whose time was far in the future (a valid but wild
 * value, year 144,000) moved its partition's watermark there, and every
 * later event was late for good (snapshots keep watermarks). The times of
 * real and historical data are at or below the wall clock, and kept. */
static double watermark_bound(double t)
{
    double now_ms = (double)wall_clock_ms();

    return t < now_ms ? t : now_ms;
}

/* The watermark moves with learned events only, so that a refused event
 * with a wild time cannot make every later event late. Once
 * ONLINE_MAX_WATERMARKS partitions have one, a further partition's
 * events are not judged (a consumer never owns that many: it is the
 * snapshot's limit on input offsets too). */
static void advance_watermark(struct online_learner *ol,
                              const struct event *ev)
{
    struct watermark *mark;
    double t = event_time_ms(ol, ev);

    if (isnan(t))
        return;
    t = watermark_bound(t);
    mark = find_mark(ol);
    if (!mark && ol->mark_count < ONLINE_MAX_WATERMARKS) {
        mark = &ol->marks[ol->mark_count++];
        mark->stream = ol->origin_stream;
        mark->partition = ol->origin_partition;
        mark->time_ms = t;
    }
    if (mark && t > mark->time_ms)
        mark->time_ms = t;
}

/* Only learned events are remembered as seen: a refused or routed one
 * may come back (a producer's retry, `riffle dlq replay` after a rule is
 * fixed) and must then be judged again, not dropped as a duplicate. */
static void remember_id(struct online_learner *ol,
                        const struct online_result *res)
{
    if (ol->dedup && res->event_id && ol->event_id.len > 0)
        dedup_insert(ol->dedup, res->event_id, ol->event_id.len);
}

/* --- delayed labels: a pending event's features ------------------------ */

/* A pending event is kept as what learning it needs and its prediction
 * cannot give back: little-endian, the class probabilities (multiclass;
 * the metrics need the true class's), then the hashed features:
 *   uint32 classes, classes x float64, uint32 n, n x (uint32, float32) */
#define PACK_U32 4
#define PACK_F64 8
#define PACK_FEATURE 8

static void put_le(unsigned char *p, uint64_t v, size_t bytes)
{
    size_t i;

    for (i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, size_t bytes)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int pack(struct online_learner *ol, size_t n)
{
    size_t classes = ol->cfg->task == CFG_TASK_MULTICLASS
                         ? ol->cfg->class_count : 0;
    size_t len = 2 * PACK_U32 + classes * PACK_F64 + n * PACK_FEATURE, k;
    unsigned char *p;
    uint64_t bits;
    uint32_t fbits;

    buf_reset(&ol->packed);
    if (buf_reserve(&ol->packed, len) != 0)
        return RIFFLE_ERR_NOMEM;
    p = (unsigned char *)ol->packed.data;
    put_le(p, classes, PACK_U32);
    p += PACK_U32;
    for (k = 0; k < classes; k++, p += PACK_F64) {
        memcpy(&bits, &ol->class_p[k], sizeof(bits));
        put_le(p, bits, PACK_F64);
    }
    put_le(p, n, PACK_U32);
    p += PACK_U32;
    for (k = 0; k < n; k++, p += PACK_FEATURE) {
        memcpy(&fbits, &ol->x[k].value, sizeof(fbits));
        put_le(p, ol->x[k].index, PACK_U32);
        put_le(p + PACK_U32, fbits, PACK_U32);
    }
    ol->packed.len = len;
    return 0;
}

/* The inverse of pack() into ol->x and p; *n features. Returns 0, or -1
 * for bytes pack() cannot have written (a damaged snapshot). */
static int unpack(struct online_learner *ol, const unsigned char *b,
                  size_t len, double *p, size_t *n)
{
    size_t classes, k, mask = model_weight_count(ol->model) - 1;
    uint64_t bits;
    uint32_t fbits;

    if (len < PACK_U32)
        return -1;
    classes = (size_t)get_le(b, PACK_U32);
    if (classes > CFG_MAX_CLASSES ||
        len < 2 * PACK_U32 + classes * PACK_F64)
        return -1;
    b += PACK_U32;
    for (k = 0; k < classes; k++, b += PACK_F64) {
        bits = get_le(b, PACK_F64);
        memcpy(&p[k], &bits, sizeof(bits));
    }
    *n = (size_t)get_le(b, PACK_U32);
    b += PACK_U32;
    if (*n > FEATURES_MAX ||
        len != 2 * PACK_U32 + classes * PACK_F64 + *n * PACK_FEATURE)
        return -1;
    for (k = 0; k < *n; k++, b += PACK_FEATURE) {
        fbits = (uint32_t)get_le(b + PACK_U32, PACK_U32);
        ol->x[k].index = (uint32_t)get_le(b, PACK_U32);
        memcpy(&ol->x[k].value, &fbits, sizeof(fbits));
        if (ol->x[k].index > mask || !isfinite(ol->x[k].value))
            return -1;
    }
    return 0;
}

static int features_finite(const struct online_learner *ol, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isfinite(ol->x[i].value))
            return 0;
    return 1;
}

/* A Kafka timestamp is whatever its producer wrote. One far in the
 * future moved the store's clock past every event and label waiting, and
 * past every one to come, which all expired on arrival from then on:
 * snapshots keep the clock, so a single such record stopped delayed
 * labels for good. The clock now goes at most labels.ttl past the wall
 * clock: such a record still expires what waits when it comes, but the
 * events after it wait as usual. Real times, at or before the wall
 * clock, are used as they are, so replays judge them alike; and a label
 * stamped up to a TTL ahead still expires its event, as tests stamp
 * them to make time pass. */
static int64_t labels_clock_bound(const struct online_learner *ol,
                                  int64_t ts_ms)
{
    int64_t bound_ms = wall_clock_ms() + (int64_t)ol->cfg->labels.ttl_ms;

    return ts_ms < bound_ms ? ts_ms : bound_ms;
}

/* The newest Kafka time seen moves the store's clock: events waiting
 * longer than the TTL leave it. */
static void labels_tick(struct online_learner *ol, int64_t ts_ms)
{
    ts_ms = labels_clock_bound(ol, ts_ms);
    if (ts_ms > ol->labels_now_ms)
        ol->labels_now_ms = ts_ms;
    (void)label_join_expire(ol->labels, ol->labels_now_ms); /* counted */
}

/* Keeps a scored event without a label for its label. */
/* A label kept until its event comes: what learning needs and what a
 * dead letter needs if the event never comes. Little-endian:
 *   float64 label, int32 partition, int64 offset, int64 timestamp_ms,
 *   uint32 key_len, key, uint32 len, payload
 * The top bit of key_len says the payload is sealed (early_keys); older
 * snapshots never set it. The next bit says the key is sealed with it:
 * the sealed bytes are then uint32 key_len, key, payload, and key_len in
 * clear is 0 (a pseudonymized id: the key is the raw id). */
#define EARLY_FIXED (PACK_F64 + PACK_U32 + 2 * PACK_F64 + 2 * PACK_U32)
#define EARLY_SEALED_BIT 0x80000000u
#define EARLY_KEY_INSIDE_BIT 0x40000000u
#define EARLY_SEAL_CONTEXT "riffle.early_label"

/* The bytes pack_early() seals for o: its payload, or with the key
 * inside (key_inside) the key's length, the key and the payload, in
 * ol->early_plain. */
static int early_plain(struct online_learner *ol,
                       const struct online_label_origin *o, int key_inside,
                       const void **plain, size_t *plain_len)
{
    unsigned char word[PACK_U32];

    *plain = o->payload;
    *plain_len = o->len;
    if (!key_inside)
        return 0;
    put_le(word, (uint32_t)o->key_len, PACK_U32);
    buf_reset(&ol->early_plain);
    if (buf_append(&ol->early_plain, word, sizeof(word)) != 0 ||
        buf_append(&ol->early_plain, o->key, o->key_len) != 0 ||
        (o->len && buf_append(&ol->early_plain, o->payload, o->len) != 0))
        return RIFFLE_ERR_NOMEM;
    *plain = ol->early_plain.data;
    *plain_len = ol->early_plain.len;
    return 0;
}

static int pack_early(struct online_learner *ol, double label,
                      const struct online_label_origin *o)
{
    const void *payload = o->payload;
    size_t payload_len = o->len, len, key_len = o->key_len;
    uint32_t key_word = (uint32_t)o->key_len;
    int key_inside = o->key_len > 0 && ol->early_keys.count > 0 &&
                     anonymizer_hides_id(ol->anonymizer);
    unsigned char *p;
    uint64_t bits;

    if (o->key_len >= EARLY_KEY_INSIDE_BIT || o->len > UINT32_MAX)
        return RIFFLE_ERR_NOMEM;
    if (ol->early_keys.count > 0 && (o->len > 0 || key_inside)) {
        const void *plain;
        size_t plain_len;

        int err = early_plain(ol, o, key_inside, &plain, &plain_len);

        buf_reset(&ol->early_sealed);
        if (!err && (seal_encrypt(&ol->early_keys, EARLY_SEAL_CONTEXT,
                                  plain, plain_len, NULL,
                                  &ol->early_sealed) != 0 ||
                     ol->early_sealed.len > UINT32_MAX))
            err = RIFFLE_ERR_NOMEM;
        /* Sealed or not, the raw key and payload are needed no more. */
        buf_wipe(&ol->early_plain);
        if (err)
            return err;
        payload = ol->early_sealed.data;
        payload_len = ol->early_sealed.len;
        key_word |= EARLY_SEALED_BIT;
        if (key_inside) {
            key_word = EARLY_SEALED_BIT | EARLY_KEY_INSIDE_BIT;
            key_len = 0;
        }
    }

    len = EARLY_FIXED + key_len + payload_len;
    buf_reset(&ol->packed);
    if (buf_reserve(&ol->packed, len) != 0)
        return RIFFLE_ERR_NOMEM;
    p = (unsigned char *)ol->packed.data;
    memcpy(&bits, &label, sizeof(bits));
    put_le(p, bits, PACK_F64);
    put_le(p + 8, (uint32_t)o->partition, PACK_U32);
    put_le(p + 12, (uint64_t)o->offset, PACK_F64);
    put_le(p + 20, (uint64_t)o->ts_ms, PACK_F64);
    put_le(p + 28, key_word, PACK_U32);
    if (key_len)
        memcpy(p + 32, o->key, key_len);
    put_le(p + 32 + key_len, payload_len, PACK_U32);
    if (payload_len)
        memcpy(p + EARLY_FIXED + key_len, payload, payload_len);
    ol->packed.len = len;
    return 0;
}

/* The inverse of pack_early(), borrowing from b. Returns 0, or -1 for
 * bytes it cannot have written (a damaged snapshot). */
static int unpack_early(const unsigned char *b, size_t len, double *label,
                        struct online_label_origin *o, uint32_t *flags)
{
    uint64_t bits;
    uint32_t key_word;

    if (len < EARLY_FIXED)
        return -1;
    bits = get_le(b, PACK_F64);
    memcpy(label, &bits, sizeof(bits));
    o->partition = (int32_t)(uint32_t)get_le(b + 8, PACK_U32);
    o->offset = (int64_t)get_le(b + 12, PACK_F64);
    o->ts_ms = (int64_t)get_le(b + 20, PACK_F64);
    key_word = (uint32_t)get_le(b + 28, PACK_U32);
    *flags = key_word & (EARLY_SEALED_BIT | EARLY_KEY_INSIDE_BIT);
    o->key_len = key_word & ~(EARLY_SEALED_BIT | EARLY_KEY_INSIDE_BIT);
    if ((*flags & EARLY_KEY_INSIDE_BIT) &&
        (!(*flags & EARLY_SEALED_BIT) || o->key_len != 0))
        return -1;
    if (len < EARLY_FIXED + o->key_len)
        return -1;
    o->key = b + 32;
    o->len = (size_t)get_le(b + 32 + o->key_len, PACK_U32);
    if (len != EARLY_FIXED + o->key_len + o->len)
        return -1;
    o->payload = b + EARLY_FIXED + o->key_len;
    return 0;
}

static int learn_joined(struct online_learner *ol,
                        const struct label_join_entry *e, double label,
                        struct online_result *res);

/* Whether the message of the event in hand is keyed as
 * online_check_message_key() requires. */
static int keyed_by_id(const struct online_learner *ol,
                       const struct online_result *res)
{
    return !ol->key_check ||
           (ol->msg_key && ol->msg_key_len == ol->event_id.len &&
            memcmp(ol->msg_key, res->event_id, ol->event_id.len) == 0);
}

/* keyed_by_id() for a pseudonymized id: the message is keyed by the raw
 * id, whose pseudonym the event now holds. Returns 0 or
 * RIFFLE_ERR_NOMEM, *keyed saying. */
static int keyed_by_hidden_id(struct online_learner *ol,
                              const struct online_result *res, int *keyed)
{
    int err;

    *keyed = !ol->key_check;
    /* An event id holds no NUL (decoding refuses one), while a digest
     * stops at the first: such a key names no event. */
    if (*keyed || !ol->msg_key || memchr(ol->msg_key, '\0', ol->msg_key_len))
        return 0;
    buf_reset(&ol->key_pseudonym);
    err = anonymizer_id_pseudonym(ol->anonymizer, ol->msg_key,
                                  ol->msg_key_len, &ol->key_pseudonym);
    if (err)
        return err;
    *keyed = ol->key_pseudonym.len == ol->event_id.len &&
             memcmp(ol->key_pseudonym.data, res->event_id,
                    ol->event_id.len) == 0;
    return 0;
}

/* Keeps a scored event without a label for its label, or learns it at
 * once when its label came first and waits. An event whose message is
 * not keyed by its id, where that is required, is dead-lettered: it
 * used to stop the instance at that message, on every restart. */
static int keep_pending(struct online_learner *ol, size_t n,
                        struct online_result *res)
{
    struct label_join_prediction p = {res->probability, res->value,
                                      res->predicted_class,
                                      res->model_version};
    struct online_label_origin origin;
    struct label_join_entry e;
    double label;
    int keyed, err;

    if (anonymizer_hides_id(ol->anonymizer)) {
        err = keyed_by_hidden_id(ol, res, &keyed);
        if (err)
            return err;
    } else {
        keyed = keyed_by_id(ol, res);
    }
    if (!keyed) {
        set_verdict(res, CLEAN_REASON_VALUE,
                    cfg_field_of_kind(ol->cfg, CFG_FIELD_ID)->name,
                    ol->msg_key ? "the event waits for its label, but its "
                                  "message is keyed by something else than "
                                  "its id: its label would go to the "
                                  "instance of another partition"
                                : "the event waits for its label, but its "
                                  "message has no key: its label would go "
                                  "to the instance of another partition");
        return 0;
    }
    labels_tick(ol, ol->ts_ms);
    if (label_join_take_early(ol->labels, res->event_id, ol->event_id.len,
                              &e)) {
        uint32_t flags;

        if (unpack_early(e.event, e.event_len, &label, &origin,
                         &flags) != 0)
            return RIFFLE_ERR_SNAPSHOT; /* only a damaged restore */
        err = pack(ol, n);
        if (err)
            return err;
        e.event = ol->packed.data;
        e.event_len = ol->packed.len;
        e.prediction = p;
        return learn_joined(ol, &e, label, res);
    }
    err = pack(ol, n);
    if (!err)
        err = label_join_put(ol->labels, ol->origin_partition, res->event_id,
                             ol->event_id.len, ol->ts_ms, ol->packed.data,
                             ol->packed.len, &p);
    res->pending = !err;
    return err;
}

/* --- the model ---------------------------------------------------------- */

enum run_mode {
    RUN_SCORE = 0, /* predict only: riffle score */
    RUN_LEARN,     /* predict, then update */
    RUN_KEEP       /* predict, see the event, keep it for its label */
};

/* What learning an event changes besides the weights. A kept event is
 * seen now: its label changes only the weights, metrics and drift. */
static void observe(struct online_learner *ol, const struct event *ev,
                    struct online_result *res)
{
    cleaner_commit_stats(ol->cleaner, ev);
    if (ol->kanon)
        kanon_add(ol->kanon, ev); /* anonymized, as the model saw it */
    advance_watermark(ol, ev);
    remember_id(ol, res);
}

/* Keeps the text of each privacy.prediction_fields value, anonymized,
 * for the prediction record: strings as they are (an encrypted field is
 * its base64 envelope), numbers in their shortest form. */
static int carry_fields(struct online_learner *ol, const struct event *ev,
                        struct online_result *res)
{
    size_t offset[CFG_MAX_PREDICTION_FIELDS], i, n;
    char tmp[NUMFMT_MAX];
    const char *text;

    n = ol->cfg->prediction_field_count;
    res->carried_count = n;
    if (n == 0)
        return 0;
    buf_reset(&ol->carried);
    for (i = 0; i < n; i++) {
        const struct value *v = &ev->values[ol->carried_index[i]];

        offset[i] = ol->carried.len;
        if (v->kind == VALUE_NULL) {
            offset[i] = (size_t)-1;
            continue;
        }
        text = v->kind == VALUE_STRING
                   ? event_string(ev, (size_t)ol->carried_index[i])
                   : numfmt_double(v->number, tmp, sizeof(tmp));
        if (buf_append(&ol->carried, text,
                       v->kind == VALUE_STRING ? v->str_len
                                               : strlen(text)) ||
            buf_push(&ol->carried, '\0'))
            return RIFFLE_ERR_NOMEM;
    }

    /* Pointers only now: appending may have moved the buffer. */
    for (i = 0; i < n; i++)
        res->carried[i] = offset[i] == (size_t)-1
                              ? NULL
                              : ol->carried.data + offset[i];
    return 0;
}

/* Anonymize, build features, then score and (RUN_LEARN) update. A
 * feature the model refuses dead-letters the event, leaving the model and
 * the statistics as they were. */
static int run_model(struct online_learner *ol, struct event *ev,
                     enum run_mode mode, struct online_result *res)
{
    int learn = mode == RUN_LEARN;
    size_t n;
    int err;

    err = anonymizer_apply(ol->anonymizer, ev);
    if (!err)
        err = carry_fields(ol, ev, res);
    if (err)
        return err;

    n = features_build(ol->features, ev, cleaner_imputed(ol->cleaner),
                       ol->x);
    res->model_version = model_update_count(ol->model);
    if (mode == RUN_KEEP && !features_finite(ol, n))
        err = RIFFLE_ERR_INVALID; /* as learning it would say, later */
    else if (ol->cfg->task == CFG_TASK_MULTICLASS)
        err = run_multiclass(ol, n, learn, res);
    else
        err = run_single(ol, n, learn, res);
    if (err)
        return refuse_unlearnable(ol, err, res);

    if (mode == RUN_SCORE)
        return 0;
    if (mode == RUN_KEEP) {
        err = keep_pending(ol, n, res);
        if (!err && !res->dead_letter)
            observe(ol, ev, res);
        return err;
    }
    observe(ol, ev, res);
    watch_drift(ol, res);
    return 0;
}

/* memset(res, 0, ...) as its readers see it: the verdict's texts and
 * the carried values are read only as C strings and up to
 * carried_count, so of those the first byte and the count are cleared,
 * not the 450 bytes behind them; every other field is zeroed, whatever
 * is added later. Runs for every event. */
_Static_assert(offsetof(struct online_result, verdict) <
                   offsetof(struct online_result, event_id) &&
               offsetof(struct online_result, event_id) <
                   offsetof(struct online_result, carried) &&
               offsetof(struct online_result, carried) <
                   offsetof(struct online_result, drift),
               "result_clear() zeroes the fields between these");
/* A field put right after the verdict or the carried values would be
 * cleared by none of result_clear()'s ranges: nothing may sit there. */
_Static_assert(offsetof(struct online_result, verdict) +
                       sizeof(((struct online_result *)0)->verdict) ==
                   offsetof(struct online_result, event_id) &&
               offsetof(struct online_result, carried) +
                       sizeof(((struct online_result *)0)->carried) ==
                   offsetof(struct online_result, drift),
               "result_clear() clears every field of struct online_result");

static void result_clear(struct online_result *res)
{
    memset(res, 0, offsetof(struct online_result, verdict.field));
    res->verdict.field[0] = '\0';
    res->verdict.detail[0] = '\0';
    memset(&res->event_id, 0,
           offsetof(struct online_result, carried) -
               offsetof(struct online_result, event_id));
    memset(&res->drift, 0,
           sizeof(*res) - offsetof(struct online_result, drift));
}

/* An event refused before its personal fields' actions ran (cleaning,
 * a duplicate, late, an id too long) keeps their raw values: wiped here, as
 * anonymizer_apply() wipes them once it has run. Nothing reads a refused
 * event's fields again; its dead letter seals the message's own bytes. */
static int forget_refused(struct online_learner *ol, struct event *ev)
{
    anonymizer_wipe_raw(ol->anonymizer, ev);
    return 0;
}

/* An event no field action will run on (a message that failed to decode
 * into it or to map to the pipeline's event, before even the id's
 * pseudonym; a label's event, once its id and label are copied out) is
 * wiped whole, raw id and personal values, and its fields emptied so
 * that none points at the wiped bytes. A dead letter seals the
 * message's own bytes. */
static void forget_whole_event(struct event *ev)
{
    if (ev->arena.len > 0)
        event_wipe_bytes(ev, 0, ev->arena.len);
    event_reset(ev, ev->field_count);
}

static int process_event(struct online_learner *ol, struct event *ev,
                         struct online_result *res)
{
    int err;

    result_clear(res);
    err = hide_event_id(ol, ev);
    if (err)
        return err;
    res->event_id = copy_event_id(ol, ev);

    /* Before cleaning, so that a duplicate moves no counter and no
     * statistic; an event without an id is left to cleaning to refuse.
     * Ids are remembered once learned (remember_id). */
    if (ol->dedup && res->event_id && ol->event_id.len > 0 &&
        dedup_contains(ol->dedup, res->event_id, ol->event_id.len)) {
        res->duplicate = 1;
        ol->duplicates++;
        return forget_refused(ol, ev);
    }
    if (check_lateness(ol, ev, res))
        return forget_refused(ol, ev);

    if (refuse_long_id(ol, res)) {
        ol->dead_letters++;
        return forget_refused(ol, ev);
    }

    /* With delayed labels an event may come without one. */
    cleaner_set_label_optional(ol->cleaner, ol->labels != NULL);
    err = cleaner_apply(ol->cleaner, ev, &res->label, &res->verdict);
    cleaner_set_label_optional(ol->cleaner, 0);
    if (err) {
        res->dead_letter = 1;
        ol->dead_letters++;
        return forget_refused(ol, ev);
    }
    if (isnan(res->label))
        return run_model(ol, ev, RUN_KEEP, res);
    res->label_text = copy_label(ol, ev);

    return run_model(ol, ev, RUN_LEARN, res);
}

void online_prefetch_event(const struct online_learner *ol,
                           const struct event *ev)
{
    uint32_t idx[CFG_MAX_FIELDS];

    if (ol->look_ahead)
        model_prefetch(ol->model, idx,
                       features_prefetch_hinted(ol->features, ev, idx));
}

int online_looks_ahead(const struct online_learner *ol)
{
    return ol->look_ahead;
}

int online_start_look_ahead(struct online_learner *ol)
{
    if (ol->look_ahead)
        model_slots_loaded_ahead(ol->model);
    return ol->look_ahead;
}

int online_process_event(struct online_learner *ol, struct event *ev,
                         struct online_result *res)
{
    ol->origin_stream = STREAM_INPUT;
    ol->origin_partition = 0;
    return process_event(ol, ev, res);
}

int online_score_event(struct online_learner *ol, struct event *ev,
                       struct online_result *res)
{
    int err;

    result_clear(res);
    err = hide_event_id(ol, ev);
    if (err)
        return err;
    res->event_id = copy_event_id(ol, ev);
    if (refuse_long_id(ol, res)) {
        ol->dead_letters++;
        return forget_refused(ol, ev);
    }

    cleaner_set_label_optional(ol->cleaner, 1);
    err = cleaner_apply(ol->cleaner, ev, &res->label, &res->verdict);
    cleaner_set_label_optional(ol->cleaner, 0);
    if (err) {
        res->dead_letter = 1;
        ol->dead_letters++;
        return forget_refused(ol, ev);
    }
    res->label_text = isnan(res->label) ? NULL : copy_label(ol, ev);

    return run_model(ol, ev, RUN_SCORE, res);
}

struct online_hinter {
    const struct feature_builder *features;
    struct anonymizer_hinter *anonymizer;
    struct cleaner_hinter *cleaner;
};

/* The anonymizer's hinter hashes its replacements as the features will. */
static int hash_replacement(const void *arg, size_t field, const char *text,
                            size_t len, uint32_t *hash)
{
    return features_token_hash(arg, field, text, len, hash);
}

int online_hinter_new(const struct online_learner *ol,
                      struct online_hinter **out)
{
    struct online_hinter *h = calloc(1, sizeof(*h));
    struct anonymizer_hint_hasher hasher = {hash_replacement, ol->features};

    if (!h)
        return RIFFLE_ERR_NOMEM;
    h->features = ol->features;
    if (anonymizer_hinter_new(ol->anonymizer, &hasher, &h->anonymizer) != 0 ||
        cleaner_hinter_new(ol->cleaner, &h->cleaner) != 0) {
        online_hinter_destroy(h);
        return RIFFLE_ERR_NOMEM;
    }
    *out = h;
    return 0;
}

void online_hinter_destroy(struct online_hinter *h)
{
    if (!h)
        return;
    anonymizer_hinter_destroy(h->anonymizer);
    cleaner_hinter_destroy(h->cleaner);
    free(h);
}

int online_hint_event(struct online_hinter *h, struct event *ev)
{
    /* Replacements first: the features hint the hash of each one the
     * anonymizer's hinter did not. */
    int err = anonymizer_hint_event(h->anonymizer, ev);

    features_hint_event(h->features, ev);
    cleaner_hint_event(h->cleaner, ev);
    return err;
}

int online_process(struct online_learner *ol, const void *data, size_t len,
                   struct online_result *res)
{
    char errstr[256];
    int err;

    err = schema_decode_event(ol->schema, data, len, &ol->event, errstr,
                              sizeof(errstr));
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    if (err) {
        memset(res, 0, sizeof(*res));
        set_verdict(res, ONLINE_REASON_DECODE, "", errstr);
        forget_whole_event(&ol->event);
        ol->dead_letters++;
        return 0;
    }
    return online_process_event(ol, &ol->event, res);
}

uint64_t online_duplicate_count(const struct online_learner *ol)
{
    return ol->duplicates;
}

const struct clean_field_counts *
online_clean_field_counts(const struct online_learner *ol)
{
    return cleaner_field_counts(ol->cleaner);
}

static int join_json(const struct online_learner *ol, const char *sep,
                     struct buf *out)
{
    const struct join_counts *jc;

    if (!ol->join)
        return 0;
    jc = join_table_counts(ol->join->table);
    return buf_printf(out, "%s\"join.hits\":%llu,\"join.misses\":%llu,"
                      "\"join.expired\":%llu,\"join.keys\":%zu", sep,
                      (unsigned long long)jc->hits,
                      (unsigned long long)jc->misses,
                      (unsigned long long)jc->expired,
                      join_table_size(ol->join->table))
               ? RIFFLE_ERR_NOMEM
               : 0;
}

int online_cleaning_json(const struct online_learner *ol, struct buf *out)
{
    static const char *const names[] = {"missing", "imputed", "clipped",
                                        "invalid", "outliers", "rejected"};
    const struct clean_field_counts *fc = cleaner_field_counts(ol->cleaner);
    char key[CFG_NAME_MAX + 16];
    const char *sep = "";
    size_t i, k;

    for (i = 0; i < ol->cfg->field_count; i++) {
        const unsigned long long n[] = {fc[i].missing,  fc[i].imputed,
                                        fc[i].clipped,  fc[i].invalid,
                                        fc[i].outliers, fc[i].rejected};

        for (k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
            if (n[k] == 0)
                continue;
            snprintf(key, sizeof(key), "%s.%s", ol->cfg->fields[i].name,
                     names[k]);
            if (buf_printf(out, "%s", sep) ||
                buf_append_json_string(out, key) ||
                buf_printf(out, ":%llu", n[k]))
                return RIFFLE_ERR_NOMEM;
            sep = ",";
        }
    }
    if (ol->duplicates > 0 &&
        buf_printf(out, "%s\"duplicates\":%llu", sep,
                   (unsigned long long)ol->duplicates))
        return RIFFLE_ERR_NOMEM;
    if (ol->duplicates > 0)
        sep = ",";
    if (ol->time_index >= 0 &&
        buf_printf(out, "%s\"late\":%llu,\"out_of_order\":%llu", sep,
                   (unsigned long long)ol->lateness.late,
                   (unsigned long long)ol->lateness.out_of_order))
        return RIFFLE_ERR_NOMEM;
    if (ol->time_index >= 0)
        sep = ",";
    return join_json(ol, sep, out);
}

void online_lateness_counts(const struct online_learner *ol,
                            struct online_lateness *out)
{
    *out = ol->lateness;
}

/* Which configured stream topic is: a source's index, or one of the
 * above; an unknown topic is read as the input. */
static int stream_of(const struct online_learner *ol, const char *topic)
{
    size_t i;

    if (!topic)
        return STREAM_INPUT;
    if (ol->join && strcmp(topic, ol->cfg->join.topic) == 0)
        return STREAM_JOIN;
    for (i = 0; i < ol->cfg->source_count; i++)
        if (strcmp(topic, ol->cfg->sources[i].topic) == 0)
            return (int)i;
    return STREAM_INPUT;
}

/* A key as text: strings as they are, numbers in their shortest form. */
static const char *key_text(const struct event *ev, int index, char *tmp,
                            size_t size, size_t *len)
{
    const struct value *v = &ev->values[index];
    const char *s = NULL;

    if (v->kind == VALUE_STRING && v->str_len > 0) {
        *len = v->str_len;
        return event_string(ev, (size_t)index);
    }
    if (v->kind == VALUE_NUMBER) {
        s = numfmt_double(v->number, tmp, size);
        *len = strlen(s);
    }
    return s;
}

/* The time a side of the join is placed at: its event time (field
 * index of ev, in cleaning.event_time's unit) when the join compares
 * event times and ev has a usable one, else its Kafka timestamp. */
static int64_t join_time(const struct online_learner *ol,
                         const struct event *ev, int index, int64_t ts_ms)
{
    const struct value *v;
    double t;

    if (ol->join->profile_time_index < 0 || index < 0)
        return ts_ms;
    v = &ev->values[index];
    if (v->kind != VALUE_NUMBER || !isfinite(v->number))
        return ts_ms;
    t = v->number * ol->cfg->event_time_ms;
    if (!(fabs(t) < JOIN_MAX_TIME_MS))
        return ts_ms;
    return (int64_t)t;
}

/* Decodes a record of the join topic into ol->raw and finds its key.
 * Returns 0 with *key set, or with *key NULL and res's verdict saying
 * why the record is unusable (undecodable, or no key); or
 * RIFFLE_ERR_NOMEM. tmp (NUMFMT_MAX bytes) holds a number's key text. */
static int read_profile(struct online_learner *ol, const void *data,
                        size_t len, struct online_result *res, char *tmp,
                        const char **key, size_t *key_len)
{
    struct online_join *oj = ol->join;
    char errstr[256];
    int err;

    memset(res, 0, sizeof(*res));
    res->enrichment = 1;
    *key = NULL;
    err = schema_decode_event(oj->schema, data, len, &ol->raw, errstr,
                              sizeof(errstr));
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    if (err) {
        set_verdict(res, ONLINE_REASON_DECODE, "", errstr);
        forget_whole_event(&ol->raw);
        return 0;
    }
    *key = key_text(&ol->raw, oj->profile_key_index, tmp, NUMFMT_MAX,
                    key_len);
    if (!*key)
        set_verdict(res, CLEAN_REASON_MISSING, ol->cfg->join.profile_key,
                    "the profile has no key");
    return 0;
}

/* A record of the join topic: its mapped values become the key's
 * profile. One that cannot be decoded or has no key is dead-lettered. */
static int take_profile(struct online_learner *ol, int64_t ts_ms,
                        const void *data, size_t len,
                        struct online_result *res)
{
    struct online_join *oj = ol->join;
    char tmp[NUMFMT_MAX];
    const char *key;
    size_t key_len = 0, k;
    int64_t now_ms;
    int err = read_profile(ol, data, len, res, tmp, &key, &key_len);

    if (err)
        return err;
    if (!key) {
        ol->dead_letters++;
        return 0;
    }

    /* A Kafka timestamp in the future (its producer's word) made the
     * profile outrank every later update of its key, all dropped as
     * stale, and miss every event's window: one record pinned its key
     * until a restart. At the wall clock, the next update replaces it.
     * An event time (join.event_time) is the data's own, and kept. */
    now_ms = wall_clock_ms();
    ts_ms = join_time(ol, &ol->raw, oj->profile_time_index,
                      ts_ms < now_ms ? ts_ms : now_ms);
    for (k = 0; k < oj->value_count; k++) {
        int o = source_map_origin(oj->map, (size_t)oj->target[k]);
        const struct value *v = &ol->raw.values[o];

        oj->values[k].kind = v->kind;
        oj->values[k].number = v->number;
        oj->values[k].str = v->kind == VALUE_STRING
                                ? (char *)event_string(&ol->raw, (size_t)o)
                                : NULL;
        oj->values[k].len = v->str_len;
    }
    return join_table_put(oj->table, key, key_len, ts_ms, oj->values);
}

int online_check_profile(struct online_learner *ol, const void *data,
                         size_t len, struct online_result *res)
{
    char tmp[NUMFMT_MAX];
    const char *key;
    size_t key_len = 0;

    assert(ol->join);
    return read_profile(ol, data, len, res, tmp, &key, &key_len);
}

/* Fills the event's joined fields from its key's profile, if one is
 * within the window; otherwise they stay as they came. With
 * join.event_time the window compares event times, so a replay of old
 * data joins as it did live; else Kafka timestamps. */
static int enrich(struct online_learner *ol, struct event *ev, int64_t ts_ms)
{
    struct online_join *oj = ol->join;
    const struct join_value *values;
    char tmp[NUMFMT_MAX];
    const char *key;
    size_t key_len = 0, k;

    key = key_text(ev, oj->key_index, tmp, sizeof(tmp), &key_len);
    if (!key)
        return 0;
    ts_ms = join_time(ol, ev, ol->time_index, ts_ms);
    values = join_table_lookup(oj->table, key, key_len, ts_ms,
                               ol->cfg->join.window_ms);
    for (k = 0; values && k < oj->value_count; k++) {
        size_t t = (size_t)oj->target[k];

        if (values[k].kind == VALUE_NUMBER)
            event_set_number(ev, t, values[k].number);
        else if (values[k].kind == VALUE_NULL)
            event_set_null(ev, t);
        else if (event_set_string(ev, t, values[k].str, values[k].len))
            return RIFFLE_ERR_NOMEM;
    }
    return 0;
}

int online_process_from(struct online_learner *ol, const char *topic,
                        int32_t partition, int64_t ts_ms, const void *data,
                        size_t len, struct online_result *res)
{
    int stream = stream_of(ol, topic), err;
    const struct schema *schema = ol->schema;
    char errstr[256];

    ol->origin_stream = stream;
    ol->origin_partition = partition;
    ol->ts_ms = ts_ms;
    if (stream == STREAM_JOIN)
        return take_profile(ol, ts_ms, data, len, res);
    if (stream >= 0)
        schema = ol->sources[stream].schema;

    err = schema_decode_event(schema, data, len,
                              stream >= 0 ? &ol->raw : &ol->event, errstr,
                              sizeof(errstr));
    if (!err && stream >= 0)
        err = source_map_apply(ol->sources[stream].map, &ol->raw,
                               &ol->event);
    if (!err && ol->join)
        err = enrich(ol, &ol->event, ts_ms);
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    if (err) {
        memset(res, 0, sizeof(*res));
        set_verdict(res, ONLINE_REASON_DECODE, "", errstr);
        forget_whole_event(&ol->raw);
        forget_whole_event(&ol->event);
        ol->dead_letters++;
        return 0;
    }
    return process_event(ol, &ol->event, res);
}

int online_validate(struct online_learner *ol, const void *data, size_t len,
                    struct online_result *res)
{
    return online_validate_from(ol, NULL, 0, data, len, res);
}

/* A label passes when its value does: the learner judges its join again
 * when it comes back (a label given up as unknown may find its event now).
 * The id is not checked here: the dead letter keeps no key. */
static int validate_label(struct online_learner *ol, const void *data,
                          size_t len, struct online_result *res)
{
    struct online_label label;
    int err = online_read_label(ol, "-", 1, data, len, &label);

    if (err == RIFFLE_ERR_NOMEM)
        return err;
    *res = label.verdict;
    res->dead_letter = err != 0;
    return 0;
}

int online_validate_from(struct online_learner *ol, const char *topic,
                         int32_t partition, const void *data, size_t len,
                         struct online_result *res)
{
    int stream = stream_of(ol, topic);
    const struct schema *schema =
        stream >= 0 ? ol->sources[stream].schema : ol->schema;
    char errstr[256];
    int err;

    memset(res, 0, sizeof(*res));
    if (ol->labels && topic && strcmp(topic, ol->cfg->labels.topic) == 0)
        return validate_label(ol, data, len, res);
    if (stream == STREAM_JOIN) {
        set_verdict(res, ONLINE_REASON_DECODE, "", "an enrichment record "
                    "is not an event");
        return 0;
    }
    err = schema_decode_event(schema, data, len,
                              stream >= 0 ? &ol->raw : &ol->event, errstr,
                              sizeof(errstr));
    if (!err && stream >= 0)
        err = source_map_apply(ol->sources[stream].map, &ol->raw,
                               &ol->event);
    if (err == RIFFLE_ERR_NOMEM)
        return err;
    if (err) {
        set_verdict(res, ONLINE_REASON_DECODE, "", errstr);
        forget_whole_event(&ol->raw);
        forget_whole_event(&ol->event);
        return 0;
    }
    err = hide_event_id(ol, &ol->event);
    if (err)
        return err;
    res->event_id = copy_event_id(ol, &ol->event);

    /* As the live path judges: duplicates first, then lateness against
     * the source partition's watermark, then the field rules. */
    ol->origin_stream = stream;
    ol->origin_partition = partition;
    if (ol->dedup && res->event_id && ol->event_id.len > 0 &&
        dedup_contains(ol->dedup, res->event_id, ol->event_id.len)) {
        res->duplicate = 1;
        return forget_refused(ol, &ol->event);
    }
    if (check_lateness(ol, &ol->event, res) || refuse_long_id(ol, res))
        return forget_refused(ol, &ol->event);
    if (cleaner_apply(ol->cleaner, &ol->event, &res->label,
                      &res->verdict) != 0) {
        res->dead_letter = 1;
        return forget_refused(ol, &ol->event);
    }

    /* It will be learned once re-injected: a second copy is then a
     * duplicate, as it would be live. Judged, not learned: its personal
     * fields' raw values are wiped as a refused event's. */
    remember_id(ol, res);
    return forget_refused(ol, &ol->event);
}

/* --- delayed labels: a label arrives ------------------------------------ */

int online_read_label(struct online_learner *ol, const void *key,
                      size_t key_len, const void *data, size_t len,
                      struct online_label *out)
{
    char errstr[256];
    size_t bad;
    int err;

    memset(out, 0, sizeof(*out));
    out->id = key;
    out->id_len = key ? key_len : 0;
    if (out->id_len && anonymizer_hides_id(ol->anonymizer)) {
        /* Keyed by the raw id, which only its pseudonym joins. No event
         * id holds a NUL (decoding refuses one), and a pseudonym's digest
         * stops at the first: such a key would join the wrong event. */
        if (memchr(key, '\0', key_len)) {
            set_verdict(&out->verdict, CLEAN_REASON_VALUE,
                        cfg_field_of_kind(ol->cfg, CFG_FIELD_ID)->name,
                        "the label's key holds a NUL byte, which no event "
                        "id does");
            return RIFFLE_ERR_INVALID;
        }
        buf_reset(&ol->key_pseudonym);
        err = anonymizer_id_pseudonym(ol->anonymizer, key, key_len,
                                      &ol->key_pseudonym);
        if (err)
            return err;
        out->id = ol->key_pseudonym.data;
        out->id_len = ol->key_pseudonym.len;
    }
    if (ol->cfg->labels.format == CFG_LABEL_FORMAT_TEXT) {
        size_t n = len < sizeof(out->label_text) - 1
                       ? len : sizeof(out->label_text) - 1;

        memcpy(out->label_text, data, n);
        out->label_text[n] = '\0';
        if (n < len || memchr(data, '\0', len)) {
            set_verdict(&out->verdict, CLEAN_REASON_LABEL,
                        ol->cfg->labels.topic, "the label text is too long "
                        "or holds a NUL byte");
            return RIFFLE_ERR_INVALID;
        }
        bad = schema_find_bad_utf8(out->label_text, n);
        if (bad < n) {
            /* The reason names the first bad byte, counted from 1 as
             * produce counts them, never the text: refusal reasons
             * quote no value. */
            snprintf(errstr, sizeof(errstr), "the label text is not UTF-8 "
                     "from byte %zu", bad + 1);
            set_verdict(&out->verdict, CLEAN_REASON_LABEL,
                        ol->cfg->labels.topic, errstr);
            return RIFFLE_ERR_INVALID;
        }
        err = cleaner_parse_label(ol->cleaner, out->label_text, &out->label,
                                  &out->verdict.verdict);
    } else {
        err = schema_decode_event(ol->schema, data, len, &ol->event, errstr,
                                  sizeof(errstr));
        if (err == RIFFLE_ERR_NOMEM)
            return err;
        if (err) {
            set_verdict(&out->verdict, ONLINE_REASON_DECODE, "", errstr);
            forget_whole_event(&ol->event);
            return RIFFLE_ERR_INVALID;
        }
        if (!out->id_len) {
            err = hide_event_id(ol, &ol->event);
            if (err)
                return err;
            out->id = copy_event_id(ol, &ol->event);
            out->id_len = out->id ? ol->event_id.len : 0;
        }
        err = cleaner_read_label(ol->cleaner, &ol->event, &out->label,
                                 &out->verdict.verdict);
        if (!err && copy_label(ol, &ol->event))
            snprintf(out->label_text, sizeof(out->label_text), "%s",
                     ol->label);
        /* Read for its id and label, both copied out: no action runs on
         * the rest, raw id (when the key named the event) and personal
         * values included. */
        forget_whole_event(&ol->event);
    }
    if (err) {
        out->verdict.dead_letter = 1;
        return RIFFLE_ERR_INVALID;
    }
    if (out->id_len == 0) {
        set_verdict(&out->verdict, CLEAN_REASON_MISSING, "",
                    "the label names no event: no key and no event id");
        return RIFFLE_ERR_INVALID;
    }
    return 0;
}

/* Learns a joined event with its label: the weights from its kept
 * features; the metrics and the drift detector from the prediction made
 * on arrival. */
static int learn_joined(struct online_learner *ol,
                        const struct label_join_entry *e, double label,
                        struct online_result *res)
{
    double p[CFG_MAX_CLASSES], out;
    size_t n, k, classes = ol->cfg->class_count;
    int err = 0;

    res->event_id = e->event_id;
    res->label = label;
    res->probability = e->prediction.probability;
    res->value = e->prediction.value;
    res->predicted_class = e->prediction.predicted_class;
    res->model_version = e->prediction.model_version;
    if (unpack(ol, e->event, e->event_len, p, &n) != 0)
        return RIFFLE_ERR_SNAPSHOT; /* only a damaged restore gets here */

    if (ol->cfg->task != CFG_TASK_MULTICLASS)
        err = model_learn(ol->model, ol->x, n, label, &out);
    else
        for (k = 0; !err && k < classes; k++)
            err = model_learn(ol->model, ol->xk, class_features(ol, n, k),
                              (double)k == label ? 1.0 : 0.0, &out);
    if (err)
        return refuse_unlearnable(ol, err, res);

    if (ol->cfg->task == CFG_TASK_REGRESSION)
        (void)metrics_add_regression(&ol->metrics, res->value, label);
    else if (ol->cfg->task == CFG_TASK_MULTICLASS)
        metrics_add_class_probability(&ol->metrics, res->predicted_class,
                                      (int)label, p[(size_t)label]);
    else
        metrics_add(&ol->metrics, res->probability, (int)label);
    watch_drift(ol, res);
    return 0;
}

int online_learn_label(struct online_learner *ol,
                       const struct online_label *label,
                       const struct online_label_origin *origin,
                       enum label_join_outcome *outcome,
                       struct online_result *res)
{
    struct label_join_entry e;
    int err;

    memset(res, 0, sizeof(*res));
    res->label = label->label;
    labels_tick(ol, origin->ts_ms);
    *outcome = label_join_take(ol->labels, label->id, label->id_len, &e);
    if (*outcome == LABEL_JOIN_UNKNOWN) {
        /* its event may still come: keep the label for it */
        err = pack_early(ol, label->label, origin);
        if (!err)
            err = label_join_put_early(ol->labels, origin->partition,
                                       label->id, label->id_len,
                                       origin->ts_ms, ol->packed.data,
                                       ol->packed.len);
        if (!err)
            *outcome = LABEL_JOIN_WAITING;
        return err;
    }
    if (*outcome != LABEL_JOIN_JOINED)
        return 0;
    return learn_joined(ol, &e, label->label, res);
}

/* The key and payload of an opened early label sealed with its key
 * (EARLY_KEY_INSIDE_BIT), out->payload and len holding the opened bytes.
 * Returns 0, or -1 for bytes pack_early() cannot have sealed. */
static int split_key_inside(struct online_label_origin *out)
{
    const unsigned char *b = out->payload;
    size_t key_len;

    if (out->len < PACK_U32)
        return -1;
    key_len = (size_t)get_le(b, PACK_U32);
    if (key_len > out->len - PACK_U32)
        return -1;
    out->key = b + PACK_U32;
    out->key_len = key_len;
    out->payload = b + PACK_U32 + key_len;
    out->len -= PACK_U32 + key_len;
    return 0;
}

int online_next_given_up_label(struct online_learner *ol,
                               struct online_label_origin *out)
{
    struct label_join_entry e;
    double label;
    uint32_t flags;
    int rc;
    char why[256];

    /* The caller is done with the label handed back before: its raw key
     * and payload were opened into early_plain. */
    buf_wipe(&ol->early_plain);
    if (!ol->labels)
        return 0;
    rc = label_join_next_released(ol->labels, &e);
    if (rc != 1)
        return rc;
    if (unpack_early(e.event, e.event_len, &label, out, &flags) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    if (!(flags & EARLY_SEALED_BIT))
        return 1;

    /* Opened for its dead letter, which seals it again for the topic. */
    buf_reset(&ol->early_plain);
    rc = seal_decrypt(&ol->early_keys, EARLY_SEAL_CONTEXT, out->payload,
                      out->len, &ol->early_plain, why, sizeof(why));
    if (rc)
        buf_wipe(&ol->early_plain); /* what a failed open left */
    if (rc == RIFFLE_ERR_NOMEM)
        return rc;
    if (rc)
        return RIFFLE_ERR_SNAPSHOT; /* a snapshot sealed under another key */
    out->payload = ol->early_plain.data;
    out->len = ol->early_plain.len;
    if ((flags & EARLY_KEY_INSIDE_BIT) && split_key_inside(out) != 0) {
        buf_wipe(&ol->early_plain);
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 1;
}

int online_scratch_holds(const struct online_learner *ol, const void *needle,
                         size_t n)
{
    const struct buf *scratch[] = {&ol->early_plain, &ol->early_sealed,
                                   &ol->packed, &ol->event_id,
                                   &ol->key_pseudonym, &ol->carried,
                                   &ol->event.arena};
    size_t i;

    for (i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
        if (buf_memory_holds(scratch[i], needle, n))
            return 1;
    return 0;
}

struct label_join *online_label_join(struct online_learner *ol)
{
    return ol->labels;
}

void online_check_message_key(struct online_learner *ol, const void *key,
                              size_t key_len)
{
    ol->key_check = 1;
    ol->msg_key = key;
    ol->msg_key_len = key ? key_len : 0;
}

int64_t online_label_clock(const struct online_learner *ol)
{
    return ol->labels_now_ms;
}

void online_replace_label_join(struct online_learner *ol,
                               struct label_join *j, int64_t clock_ms)
{
    label_join_destroy(ol->labels);
    ol->labels = j;
    /* A snapshot of a learner that read a time from the future holds it:
     * bounded as labels_tick() bounds it, it heals on restart. */
    ol->labels_now_ms = labels_clock_bound(ol, clock_ms);
}

const struct join_counts *online_join_counts(const struct online_learner *ol)
{
    return ol->join ? join_table_counts(ol->join->table) : NULL;
}

size_t online_join_keys(const struct online_learner *ol)
{
    return ol->join ? join_table_size(ol->join->table) : 0;
}

void online_count_dead_letter(struct online_learner *ol)
{
    ol->dead_letters++;
}

struct model *online_model(struct online_learner *ol)
{
    return ol->model;
}

struct metrics *online_metrics(struct online_learner *ol)
{
    return &ol->metrics;
}

struct running_stats *online_stats(struct online_learner *ol)
{
    return ol->stats;
}

const struct clean_counts *online_clean_counts(const struct online_learner *ol)
{
    return cleaner_counts(ol->cleaner);
}

uint64_t online_dead_letter_count(const struct online_learner *ol)
{
    return ol->dead_letters;
}

void online_set_dead_letter_count(struct online_learner *ol, uint64_t n)
{
    ol->dead_letters = n;
}

const struct cfg *online_cfg(const struct online_learner *ol)
{
    return ol->cfg;
}

/* NaN (AUC before both classes were seen) prints as null. */
static int put_metric(struct buf *out, const char *name, double v,
                      int first)
{
    char text[NUMFMT_MAX];

    return buf_printf(out, "%s\"%s\":%s", first ? "" : ",", name,
                      isfinite(v) ? numfmt_double(v, text, sizeof(text))
                                  : "null");
}

int online_metrics_json(const struct online_learner *ol, int window,
                        struct buf *out)
{
    const struct metrics *m = &ol->metrics;

    if (ol->cfg->task == CFG_TASK_REGRESSION)
        return put_metric(out, "rmse",
                          window ? metrics_window_rmse(m) : metrics_rmse(m),
                          1) ||
               put_metric(out, "mae",
                          window ? metrics_window_mae(m) : metrics_mae(m), 0);

    if (put_metric(out, "accuracy",
                   window ? metrics_window_accuracy(m) : metrics_accuracy(m),
                   1) ||
        put_metric(out, "logloss",
                   window ? metrics_window_logloss(m) : metrics_logloss(m),
                   0))
        return RIFFLE_ERR_NOMEM;
    if (ol->cfg->task != CFG_TASK_BINARY)
        return 0;
    if (put_metric(out, "auc",
                   window ? metrics_window_auc(m) : metrics_auc(m), 0) ||
        put_metric(out, "precision",
                   window ? metrics_window_precision(m)
                          : metrics_precision(m), 0) ||
        put_metric(out, "recall",
                   window ? metrics_window_recall(m) : metrics_recall(m),
                   0))
        return RIFFLE_ERR_NOMEM;
    return put_metric(out, "f1",
                      window ? metrics_window_f1(m) : metrics_f1(m), 0);
}

void online_drift_info(const struct online_learner *ol,
                       struct online_drift_info *out)
{
    memset(out, 0, sizeof(*out));
    out->detector = "none";
    if (!ol->drift)
        return;
    out->detector = drift_get_kind(ol->drift) == DRIFT_ADWIN ? "adwin"
                                                            : "page_hinkley";
    out->error_rate = drift_estimate(ol->drift);
    out->width = drift_width(ol->drift);
    out->detections = drift_detections(ol->drift);
}

void online_feature_counts(const struct online_learner *ol,
                           struct feature_counts *out)
{
    features_counts(ol->features, out);
}

const struct kanon *online_kanon(const struct online_learner *ol)
{
    return ol->kanon;
}

/* --- saved state ------------------------------------------------------ */

/* The topic a stream is read from. */
static const char *stream_topic(const struct online_learner *ol, int stream)
{
    return stream >= 0 ? ol->cfg->sources[stream].topic
                       : ol->cfg->topic_input;
}

size_t online_watermark_count(const struct online_learner *ol)
{
    /* The watermark is the latest value of the event-time field: when
     * that field is personal, it is a raw personal value. */
    if (ol->time_index < 0 ||
        cfg_find_field(ol->cfg, ol->cfg->event_time)->privacy !=
            CFG_PRIVACY_NONE)
        return 0;
    return ol->mark_count;
}

void online_watermark_get(const struct online_learner *ol, size_t i,
                          struct online_watermark *out)
{
    assert(i < ol->mark_count);
    out->topic = stream_topic(ol, ol->marks[i].stream);
    out->partition = ol->marks[i].partition;
    out->time_ms = ol->marks[i].time_ms;
}

int online_save_dedup(const struct online_learner *ol, struct buf *out)
{
    return ol->dedup ? dedup_save(ol->dedup, out) : RIFFLE_ERR_EOF;
}

const struct cleaner *online_cleaner(const struct online_learner *ol)
{
    return ol->cleaner;
}

struct online_restore {
    struct clean_summaries *summaries;
    struct dedup *dedup; /* NULL without a dedup window */
    struct watermark marks[ONLINE_MAX_WATERMARKS];
    size_t mark_count;
    uint64_t duplicates;
    struct online_lateness lateness;
};

void online_restore_destroy(struct online_restore *r)
{
    if (!r)
        return;
    cleaner_stage_destroy(r->summaries);
    dedup_destroy(r->dedup);
    free(r);
}

int online_restore_new(const struct online_learner *ol,
                       struct online_restore **out)
{
    struct online_restore *r = calloc(1, sizeof(*r));
    int err = r ? 0 : RIFFLE_ERR_NOMEM;

    if (!err)
        err = cleaner_stage_new(ol->cleaner, &r->summaries);
    if (!err && ol->dedup)
        err = dedup_new((size_t)ol->cfg->dedup_window, &r->dedup);
    if (err) {
        online_restore_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

struct clean_summaries *online_restore_summaries(struct online_restore *r)
{
    return r->summaries;
}

int online_restore_dedup(struct online_restore *r, const void *data,
                         size_t len)
{
    return r->dedup ? dedup_load(r->dedup, data, len) : 0;
}

int online_restore_watermark(const struct online_learner *ol,
                             struct online_restore *r, const char *topic,
                             int32_t partition, double time_ms)
{
    int stream = stream_of(ol, topic);

    if (partition < 0 || !isfinite(time_ms) ||
        r->mark_count >= ONLINE_MAX_WATERMARKS)
        return RIFFLE_ERR_SNAPSHOT;
    /* stream_of() reads an unknown topic as the input: a topic no longer
     * configured is skipped instead. */
    if (stream == STREAM_JOIN ||
        strcmp(stream_topic(ol, stream), topic) != 0)
        return 0;
    r->marks[r->mark_count].stream = stream;
    r->marks[r->mark_count].partition = partition;
    r->marks[r->mark_count].time_ms = watermark_bound(time_ms);
    r->mark_count++;
    return 0;
}

void online_restore_counts(struct online_restore *r, uint64_t duplicates,
                           const struct online_lateness *lateness)
{
    r->duplicates = duplicates;
    r->lateness = *lateness;
}

void online_restore_commit(struct online_learner *ol,
                           struct online_restore *r)
{
    struct dedup *old = ol->dedup;

    cleaner_stage_commit(ol->cleaner, r->summaries);
    r->summaries = NULL;
    if (r->dedup) {
        ol->dedup = r->dedup;
        r->dedup = old;
    }
    memcpy(ol->marks, r->marks, r->mark_count * sizeof(r->marks[0]));
    ol->mark_count = r->mark_count;
    ol->last_mark = 0;
    ol->duplicates = r->duplicates;
    ol->lateness = r->lateness;
    online_restore_destroy(r);
}

const char *online_predicted_label(const struct cfg *cfg,
                                   const struct cfg_field *label,
                                   const struct online_result *res,
                                   char *tmp, size_t size)
{
    if (cfg->task == CFG_TASK_REGRESSION)
        return numfmt_double(res->value, tmp, size);
    if (cfg->task == CFG_TASK_MULTICLASS)
        return cfg->classes[res->predicted_class];
    if (label->has_threshold) /* label = value > threshold: no names */
        return res->predicted_class ? "1" : "0";
    if (res->predicted_class)
        return label->positive[0];
    return label->negative_count ? label->negative[0] : "0";
}
