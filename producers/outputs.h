/*
 * producers/outputs.h - the records `riffle learn` publishes about each
 * event and about itself: predictions, dead letters, metrics reports and
 * drift alerts, each Avro single-object encoded with its schema from
 * schemas/ and sent through the shared publisher.
 *
 * Every record is bounded in size whatever the input: event ids are
 * limited by cleaning, and a dead letter carries at most
 * OUTPUTS_MAX_PAYLOAD_BYTES of the original message and a key of at most
 * OUTPUTS_MAX_KEY_BYTES, so no input can make an output exceed the
 * broker's message limit and block the learner. Runs on the learner
 * thread.
 */
#ifndef RIFFLE_PRODUCERS_OUTPUTS_H
#define RIFFLE_PRODUCERS_OUTPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "producers/publisher.h"

#define OUTPUTS_MAX_PAYLOAD_BYTES (1 << 20) /* 1 MiB of the original */
#define OUTPUTS_MAX_KEY_BYTES 1024
/* payload_encryption of a dead letter whose payload is an envelope of
 * privacy/seal.h under the dead-letter key */
#define OUTPUTS_PAYLOAD_SEALED "aes-256-gcm"
/* header naming the `riffle dlq replay` run that dead-lettered an event
 * again, so that the run does not read its own output */
#define OUTPUTS_HEADER_REPLAY_RUN "riffle.replay.run"
/* header of a dead letter whose original key is sealed (value
 * OUTPUTS_PAYLOAD_SEALED), since a producer may key its events by a
 * personal value (an e-mail). The envelope travels in header
 * OUTPUTS_HEADER_SEALED_KEY, and the Kafka key is seal_key_pseudonym()
 * of the original, so that one key's dead letters share a partition and
 * keep their order. Dead letters written before that header existed
 * carry the envelope as their Kafka key instead. */
#define OUTPUTS_HEADER_KEY_SEALED "riffle.key.encryption"
#define OUTPUTS_HEADER_SEALED_KEY "riffle.key.sealed"
/* header of a dead letter whose original key was longer than
 * OUTPUTS_MAX_KEY_BYTES, its value that length in decimal: the letter
 * holds no copy of the key (only its pseudonym as the Kafka key, under
 * a dead-letter key), so a replay must not re-inject it without one. */
#define OUTPUTS_HEADER_KEY_DROPPED "riffle.key.dropped"

/* Where an event came from: the input message's coordinates. */
struct source_ref {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    const void *key; /* may be NULL */
    size_t key_len;
    const void *payload; /* may be NULL */
    size_t len;
};

/* Fills *src with msg's coordinates, key and payload, borrowed from msg:
 * valid while msg is. */
void outputs_source_of(const rd_kafka_message_t *msg, struct source_ref *src);

struct outputs;

/* Loads the output schemas beside cfg's input schema and the dead-letter
 * keyring (see keyring_load_dead_letter()). pub is borrowed and must
 * outlive the outputs. Returns 0 or an error with errstr. */
int outputs_new(const struct cfg *cfg, struct publisher *pub,
                struct outputs **out, char *errstr, size_t errstr_size);

void outputs_destroy(struct outputs *o); /* NULL-safe */

/* Sends through pub (borrowed, must outlive the outputs) from now on,
 * e.g. a new publisher replacing one that failed for good; the old one
 * is no longer used and the caller may destroy it. Returns 0 or
 * RIFFLE_ERR_KAFKA with errstr, and then keeps the old one. */
int outputs_set_publisher(struct outputs *o, struct publisher *pub,
                          char *errstr, size_t errstr_size);

/* The snapshot schema, for learner/snapshot.c. Borrowed. */
const struct schema *outputs_snapshot_schema(const struct outputs *o);

/* Looks up the partitions of every output topic now rather than at the
 * first message to each (see publisher_prepare_topics()). Best effort;
 * waits a few seconds at most when the brokers are away. */
void outputs_prepare(struct outputs *o);

/* Publishes the prediction for the event at src, keyed by its id. */
int outputs_prediction(struct outputs *o, const struct source_ref *src,
                       const struct online_result *r, char *errstr,
                       size_t errstr_size);

/* Appends the encoded prediction record, made at now_ms, to out. When the
 * prediction schema is the flat record riffle ships (in any field order)
 * it is written by the flat encoder of schemas/, which costs a fraction
 * of avro-c's generic values; other schemas, and any call with generic
 * set, go through avro-c. Both give the same bytes. Returns 0 or an
 * error with errstr; out is left as it was on error. */
int outputs_encode_prediction(struct outputs *o, const struct source_ref *src,
                              const struct online_result *r, int64_t now_ms,
                              int generic, struct buf *out, char *errstr,
                              size_t errstr_size);

/* Whether predictions take the flat encoder (see above). */
int outputs_prediction_is_flat(const struct outputs *o);

int outputs_dead_letter(struct outputs *o, const struct source_ref *src,
                        const struct online_result *r, char *errstr,
                        size_t errstr_size);

/* The original message at src, unchanged (key, value), to
 * cleaning.late_topic, with the riffle.reason (late_event) and
 * riffle.source.* headers, so that a late-data job can read it with the
 * input schema. Only for sources without personal fields (cfg.c). */
int outputs_late(struct outputs *o, const struct source_ref *src,
                 char *errstr, size_t errstr_size);
/* The same, from `riffle dlq replay` run replay_run: the record also
 * carries the header OUTPUTS_HEADER_REPLAY_RUN = replay_run. */
int outputs_dead_letter_replayed(struct outputs *o,
                                 const struct source_ref *src,
                                 const struct online_result *r,
                                 const char *replay_run, char *errstr,
                                 size_t errstr_size);

/* A metrics report of ol; nothing when topics.metrics is not set. With
 * a delayed-label join it carries the join's counters and labels_invalid,
 * the labels the caller refused as unreadable or against the rules. */
int outputs_metrics(struct outputs *o, const struct online_learner *ol,
                    unsigned long long labels_invalid, char *errstr,
                    size_t errstr_size);

/* A drift alert for the event at src; nothing when topics.alerts is not
 * set. */
int outputs_alert(struct outputs *o, const struct online_learner *ol,
                  const struct source_ref *src, char *errstr,
                  size_t errstr_size);

/* The snapshot of ol with the given offsets, keyed by model name. */
int outputs_snapshot(struct outputs *o, struct online_learner *ol,
                     const struct snapshot_offset *offsets, size_t n,
                     size_t *bytes, char *errstr, size_t errstr_size);

/* The same under another key (borrowed): a learner instance's own
 * snapshots, `<model>@<instance>`, see docs/SCALING.md. The snapshot
 * still names the pipeline's model, so any instance or replica of the
 * pipeline can restore it. */
int outputs_snapshot_keyed(struct outputs *o, const char *key,
                           struct online_learner *ol,
                           const struct snapshot_offset *offsets, size_t n,
                           size_t *bytes, char *errstr, size_t errstr_size);

/* outputs_snapshot_keyed() in two steps, for a learner that must not
 * publish a snapshot before the outputs sent ahead of it are safely
 * written (at least once: a restart resumes from the newest snapshot's
 * offsets, so a snapshot acknowledged before the predictions it covers
 * could lose them in a crash). _hold encodes ol now and keeps the bytes
 * (one snapshot at a time: the next _hold replaces them); _send
 * publishes what was held, under key (borrowed). */
int outputs_snapshot_hold(struct outputs *o, struct online_learner *ol,
                          const struct snapshot_offset *offsets, size_t n,
                          size_t *bytes, char *errstr, size_t errstr_size);
int outputs_snapshot_send(struct outputs *o, const char *key, char *errstr,
                          size_t errstr_size);

/* Another value on the model topic under key (borrowed), written the way
 * snapshots are (in chunks past snapshot.chunk_bytes, so a reader of
 * that key gets it whole or not at all): one partition's delayed-label
 * records, see learner/labels_record.h. */
int outputs_model_record(struct outputs *o, const char *key,
                         const struct buf *value, char *errstr,
                         size_t errstr_size);

#endif
