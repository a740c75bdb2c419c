/*
 * learner/online.h - the per-event pipeline, with no Kafka in it.
 *
 * decode -> clean -> anonymize -> features -> predict, then learn ->
 * metrics. One call per input message; the result is either a prediction
 * or a dead-letter verdict. `riffle learn` feeds it from Kafka, and any
 * file-based command can feed it the same bytes, so every line of
 * learning code is shared. Owns the model, the running statistics and the
 * metrics; snapshot.c saves and restores them. Single-threaded, but for
 * the hinter (online_hinter_new()), which a thread reading events ahead
 * of the learner runs on them.
 */
#ifndef RIFFLE_LEARNER_ONLINE_H
#define RIFFLE_LEARNER_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "cleaning/clean.h"
#include "cleaning/join.h"
#include "config/cfg.h"
#include "learner/features.h"
#include "learner/label_join.h"
#include "learner/metrics.h"
#include "learner/model.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"

#define ONLINE_REASON_DECODE "decode_error"
#define ONLINE_REASON_LATE "late_event"

struct online_result {
    int dead_letter;              /* 1: refused, see verdict */
    int duplicate;                /* 1: the id was seen within
                                     cleaning.dedup_window: neither
                                     predicted nor dead-lettered */
    int late;                     /* 1: too late, to be routed to
                                     cleaning.late_topic as it came */
    int enrichment;               /* 1: a record of the join topic,
                                     stored (not an event); with
                                     dead_letter set when unusable */
    struct clean_verdict verdict; /* reason, field, detail */
    const char *event_id;         /* borrowed until the next call; may be
                                     NULL when the message did not decode */
    const char *label_text;       /* the event's label as text, or NULL */
    double label;                 /* 0/1, class index, or target; NaN
                                     when scoring an unlabelled event */
    double probability;           /* binary: P(positive); multiclass:
                                     P(predicted class); regression: NaN */
    double value;                 /* binary: P(positive); multiclass:
                                     P(predicted); regression: the
                                     predicted value */
    int predicted_class;          /* binary 0/1, multiclass index; 0 for
                                     regression */
    uint64_t model_version;       /* updates made before this event */
    size_t carried_count;         /* privacy.prediction_fields' count */
    const char *carried[CFG_MAX_PREDICTION_FIELDS]; /* each such field's
                                     value as text as the model saw it
                                     (anonymized), NULL when null;
                                     borrowed until the next call */
    int drift;                    /* 1: the error stream changed here */
    int pending;                  /* 1: scored without a label and kept
                                     for it (labels = {...}) */
};

struct online_learner;

/* Builds the stages for cfg over input_schema (both borrowed, must
 * outlive the learner). Returns 0 or an error with errstr set. */
int online_new(const struct cfg *cfg, const struct schema *input_schema,
               struct online_learner **out, char *errstr,
               size_t errstr_size);

void online_destroy(struct online_learner *ol); /* NULL-safe */

/* Processes one single-object-encoded input message. Returns 0 with
 * *res filled (prediction or dead letter), or RIFFLE_ERR_NOMEM. */
int online_process(struct online_learner *ol, const void *data, size_t len,
                   struct online_result *res);

/* Starts loading the model's and the features' memory for ev, an event
 * to be processed after the one in hand (train's next row, already read
 * and hinted), so that its cache misses overlap this event's work.
 * Reads ev only; learning is unchanged whether or not it is called. */
void online_prefetch_event(const struct online_learner *ol,
                           const struct event *ev);

/* Whether online_prefetch_event() does anything for this learner (a
 * large table and few categorical values, decided at online_new()): a
 * caller may skip looking for the next event when it does not. */
int online_looks_ahead(const struct online_learner *ol);

/* Says the caller will call online_prefetch_event() on each next event
 * it has in hand, as train does; returns online_looks_ahead(). When it
 * looks ahead, the model then sums each example's dot product while
 * checking it, the pass that loaded its slots being the look ahead
 * (model_slots_loaded_ahead()): one pass over the example less. */
int online_start_look_ahead(struct online_learner *ol);

/* The same for an event already decoded (by `riffle train`, which reads
 * files): ev is cleaned and anonymized in place. Identical results to
 * online_process() on the event's encoding. */
int online_process_event(struct online_learner *ol, struct event *ev,
                         struct online_result *res);

/* Scores ev with the current model without learning from it (for
 * `riffle score`): the same cleaning, anonymization and features, but no
 * update of weights or statistics. A missing label is accepted; when the
 * label is present the metrics record the prediction. */
int online_score_event(struct online_learner *ol, struct event *ev,
                       struct online_result *res);

/* The text every output gives as a prediction's predicted_label (the
 * prediction topic, the HTTP answer, train's and score's JSON lines), so
 * that they agree: the configured name of the predicted class (for a
 * binary label its first positive or negative value, "1"/"0" for a
 * threshold), or for regression the predicted value as numfmt_double()
 * writes it into tmp. label is cfg's label field, looked up once by the
 * caller. The text is cfg's, or tmp. */
const char *online_predicted_label(const struct cfg *cfg,
                                   const struct cfg_field *label,
                                   const struct online_result *res,
                                   char *tmp, size_t size);

/* Work done ahead, on the thread that reads events for the learner
 * (train's reader): the pure functions of an event's raw values that
 * cleaning, anonymization and features would compute (which fields need
 * more than their quick rule, the label's class, pseudonyms, feature
 * hashes, log1p), left on it as hints (schemas/event.h) that the learner
 * uses while the values are unchanged. Nothing stateful (cleaning's
 * repairs and counts, duplicates, the model) runs ahead, and the
 * learner's results are the same with or without hints. */
struct online_hinter;

/* ol is borrowed, read-only, and must outlive the hinter; the hinter may
 * run on another thread while ol learns. Returns 0 or RIFFLE_ERR_NOMEM.
 * *out is the caller's (online_hinter_destroy). */
int online_hinter_new(const struct online_learner *ol,
                      struct online_hinter **out);

void online_hinter_destroy(struct online_hinter *h); /* NULL-safe */

/* Hints ev, which the calling thread owns until it hands ev to the
 * learner. The hinter's one thread only. Returns 0, or RIFFLE_ERR_NOMEM
 * with ev partly hinted (what is not hinted is computed later). */
int online_hint_event(struct online_hinter *h, struct event *ev);

/* Events dropped as duplicates since the learner was built. */
uint64_t online_duplicate_count(const struct online_learner *ol);

/* By event time: events behind the watermark (the latest event time
 * learned) by more than the allowed lateness, and events behind it
 * within it. */
struct online_lateness {
    uint64_t late;
    uint64_t out_of_order;
};
void online_lateness_counts(const struct online_learner *ol,
                            struct online_lateness *out);

/* The cleaner's per-field counters, cfg->field_count entries. Borrowed. */
const struct clean_field_counts *
online_clean_field_counts(const struct online_learner *ol);

/* Appends the non-zero cleaning counters as JSON members (no braces):
 * "<field>.<counter>":n, "duplicates":n, "late":n, "out_of_order":n.
 * Nothing when all are 0.
 * Returns 0 or RIFFLE_ERR_NOMEM. */
int online_cleaning_json(const struct online_learner *ol, struct buf *out);
/* Judges one message with the current rules as online_process() would,
 * but learns nothing: for `riffle dlq replay`, whose learner holds the
 * latest snapshot's duplicate window and watermarks. Returns 0 with
 * res->duplicate set when its id was learned (within the window),
 * res->dead_letter and res->verdict set when it would be refused (late
 * against its partition's watermark with on_late = "reject", or by a
 * field rule), res->late when it would be routed as late; otherwise it
 * passes and its id is remembered, so that a second copy is a duplicate.
 * res->event_id as in online_process(). Returns RIFFLE_ERR_NOMEM on
 * allocation failure. A feature that is not finite after its transform
 * is only found by learning. */
int online_validate(struct online_learner *ol, const void *data, size_t len,
                    struct online_result *res);

/* The same for a message read from partition of topic (the input, or a
 * further source, decoded with that source's schema and mapped); the
 * enrichment join is not applied. A message of labels.topic is judged
 * on its label value only (res->event_id NULL). */
int online_validate_from(struct online_learner *ol, const char *topic,
                         int32_t partition, const void *data, size_t len,
                         struct online_result *res);

/* Processes a message read from partition of topic, at Kafka time
 * ts_ms (lateness is judged per partition): an event
 * of topics.input or of a further source (decoded with that source's
 * schema and mapped into the pipeline's), joined with the enrichment
 * table when a join is configured; or a record of join.topic, stored in
 * that table (res->enrichment). A topic the configuration does not name
 * is read as topics.input. Returns 0 with *res filled, or
 * RIFFLE_ERR_NOMEM. */
int online_process_from(struct online_learner *ol, const char *topic,
                        int32_t partition, int64_t ts_ms, const void *data,
                        size_t len, struct online_result *res);

/* --- delayed labels (labels = {...}) ------------------------------------
 * With a labels group, an event without a label is scored (res->pending)
 * and kept; these learn it when its label comes. */

/* A message of the labels topic, read. */
struct online_label {
    const char *id; /* the event id, id_len bytes; borrowed from the key
                       or the learner until its next call */
    size_t id_len;
    double label;   /* as the cleaner reads labels */
    char label_text[CFG_NAME_MAX];
    struct online_result verdict; /* dead_letter and verdict when unread */
};

/* Reads the label message (key, key_len may be NULL, 0) in the format
 * labels.format names. Returns 0, RIFFLE_ERR_INVALID with out->verdict
 * saying why, or RIFFLE_ERR_NOMEM. */
int online_read_label(struct online_learner *ol, const void *key,
                      size_t key_len, const void *data, size_t len,
                      struct online_label *out);

/* Where a label message came from (on labels.topic): kept with a label
 * that waits for its event, to dead-letter it if the event never comes.
 * Pointers are borrowed. */
struct online_label_origin {
    int32_t partition;
    int64_t offset;
    int64_t ts_ms; /* Kafka time */
    const void *key;
    size_t key_len;
    const void *payload;
    size_t len;
};

/* Joins a read label with its pending event: *outcome says how; on
 * LABEL_JOIN_JOINED the event is learned and res holds its id, the label
 * and the prediction made on arrival (and drift; or a dead-letter verdict
 * if the model refuses it). A label whose event has not come is kept
 * (LABEL_JOIN_WAITING): the event is learned when it comes, within
 * labels.ttl; otherwise online_next_given_up_label() hands the label
 * back. Returns 0, RIFFLE_ERR_NOMEM, or RIFFLE_ERR_SNAPSHOT for a
 * pending event whose kept features are damaged. */
int online_learn_label(struct online_learner *ol,
                       const struct online_label *label,
                       const struct online_label_origin *origin,
                       enum label_join_outcome *outcome,
                       struct online_result *res);

/* Hands back, one per call, a label given up because its event did not
 * come within labels.ttl (or labels.max_pending labels waited): returns
 * 1 with *out (borrowed until the next call on ol, which wipes the raw
 * key and payload it points at), 0 when none, or an error. Call after
 * every message: any message may give labels up, and until the call
 * returns 0 the last label's raw key stays in memory. */
int online_next_given_up_label(struct online_learner *ol,
                               struct online_label_origin *out);

/* Whether the n bytes at needle are anywhere in the learner's scratch
 * buffers (the sealing of waiting labels, the id's copies, the packed
 * features, the event it decodes messages into), up to their capacity.
 * For tests that check a raw personal value is wiped once used; it reads
 * every byte, so never per event. */
int online_scratch_holds(const struct online_learner *ol, const void *needle,
                         size_t n);

/* The pending events, for snapshots and counts; NULL without labels. */
struct label_join *online_label_join(struct online_learner *ol);

/* For several instances (learn --instance) with delayed labels: key
 * (borrowed until the next online_process_from(); NULL for none) is the
 * key of the message the next call handles. An event that would wait for
 * its label is then dead-lettered (invalid_value, the id field) unless
 * the key is its id: its label, keyed by the id, could land in a
 * partition another instance owns. Once called, it must be called before
 * every message. Learner thread. */
void online_check_message_key(struct online_learner *ol, const void *key,
                              size_t key_len);

/* The store's clock: the newest Kafka time seen, at most labels.ttl past
 * the wall clock (see labels.ttl). */
int64_t online_label_clock(const struct online_learner *ol);

/* Puts j (taken; NULL only without a labels group) in place of the
 * store, which is destroyed, with its clock: a snapshot's restore. */
void online_replace_label_join(struct online_learner *ol,
                               struct label_join *j, int64_t clock_ms);

/* Judges a record of join.topic as online_process_from() would, without
 * storing it or counting anything: res->dead_letter and its verdict say
 * whether it is unusable. For a record already applied whose verdict
 * is needed again (cli/learn_join.c). Requires a join. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int online_check_profile(struct online_learner *ol, const void *data,
                         size_t len, struct online_result *res);

/* The enrichment table's counters; NULL without a join. */
const struct join_counts *online_join_counts(const struct online_learner *ol);

/* How many keys the enrichment table holds; 0 without a join. */
size_t online_join_keys(const struct online_learner *ol);

/* Records that a message was dead-lettered for a reason found outside
 * this module, so that counts stay complete. */
void online_count_dead_letter(struct online_learner *ol);

/* Borrowed state, for snapshots and reports. */
struct model *online_model(struct online_learner *ol);
struct metrics *online_metrics(struct online_learner *ol);
struct running_stats *online_stats(struct online_learner *ol);
uint64_t online_dead_letter_count(const struct online_learner *ol);
void online_set_dead_letter_count(struct online_learner *ol, uint64_t n);
const struct cfg *online_cfg(const struct online_learner *ol);
const struct clean_counts *online_clean_counts(const struct online_learner *ol);

/* Appends the progressive metrics that fit the task as JSON members
 * (no braces): "accuracy", "logloss", "auc" for binary; "accuracy",
 * "logloss" for multiclass; "rmse", "mae" for regression. Cumulative, or
 * over the sliding window when window is set. */
int online_metrics_json(const struct online_learner *ol, int window,
                        struct buf *out);

/* The drift detector's view of the error rate: its current estimate,
 * the events it covers, and alarms so far. All 0 without a detector. */
struct online_drift_info {
    const char *detector; /* "adwin", "page_hinkley" or "none" */
    double error_rate;
    unsigned long long width;
    unsigned long long detections;
};
void online_drift_info(const struct online_learner *ol,
                       struct online_drift_info *out);

/* Hash collision counts of the feature builder (see features.h). */
/* The k-anonymity monitor of the learned events, or NULL when
 * privacy.k_anonymity is not configured. Borrowed. */
struct kanon;
const struct kanon *online_kanon(const struct online_learner *ol);

void online_feature_counts(const struct online_learner *ol,
                           struct feature_counts *out);

/* --- saved state, for snapshot.c ------------------------------------
 * Beyond the model and the statistics, a learner's cleaning carries on
 * from where it was: the cleaner's summaries, the duplicate window, the
 * per-partition watermarks and the duplicate and lateness counts. */

/* Partitions whose lateness is judged apart, at most: as many as a
 * snapshot holds input offsets (SNAPSHOT_MAX_OFFSETS). */
#define ONLINE_MAX_WATERMARKS 1024

struct online_watermark {
    const char *topic; /* borrowed from the configuration */
    int32_t partition;
    double time_ms;    /* latest event time learned from it */
};

/* The watermarks to save: 0 when there is no event time, or when its
 * field is personal (the watermark would be a raw value of it). */
size_t online_watermark_count(const struct online_learner *ol);
void online_watermark_get(const struct online_learner *ol, size_t i,
                          struct online_watermark *out);

/* Appends the duplicate window (dedup_save()) to out. Returns 0,
 * RIFFLE_ERR_EOF without cleaning.dedup_window, or RIFFLE_ERR_NOMEM. */
int online_save_dedup(const struct online_learner *ol, struct buf *out);

const struct cleaner *online_cleaner(const struct online_learner *ol);

/* A restore in progress: everything is loaded into r, then put in place
 * at once by online_restore_commit(), so that a snapshot refused half
 * way changes nothing. The caller owns *out. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
struct online_restore;
int online_restore_new(const struct online_learner *ol,
                       struct online_restore **out);
void online_restore_destroy(struct online_restore *r); /* NULL-safe */

/* Where to load the cleaner's summaries (cleaner_stage_load()). */
struct clean_summaries *online_restore_summaries(struct online_restore *r);

/* Returns 0 (also without a dedup window: the saved ids are of no use)
 * or RIFFLE_ERR_SNAPSHOT when data is damaged. */
int online_restore_dedup(struct online_restore *r, const void *data,
                         size_t len);

/* Returns 0 (a topic no longer configured is skipped) or
 * RIFFLE_ERR_SNAPSHOT for a negative partition, a time that is not
 * finite or more than ONLINE_MAX_WATERMARKS watermarks. */
int online_restore_watermark(const struct online_learner *ol,
                             struct online_restore *r, const char *topic,
                             int32_t partition, double time_ms);
void online_restore_counts(struct online_restore *r, uint64_t duplicates,
                           const struct online_lateness *lateness);

/* Puts everything in r in place and frees r (taken). */
void online_restore_commit(struct online_learner *ol,
                           struct online_restore *r);

#endif
