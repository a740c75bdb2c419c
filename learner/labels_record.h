/*
 * learner/labels_record.h - one partition's part of the delayed-label
 * store, as the record that moves it between learner instances.
 *
 * With several instances (riffle learn --instance) the events waiting
 * for their label, the labels waiting for their event and the traces of
 * joined or lost events belong to the partition they came from (events
 * and labels are co-partitioned). With every snapshot an instance writes,
 * for each input partition p it owns, p's records under the key
 * `<model>#labels/<p>` on the model topic, in the snapshot's transaction;
 * the next owner of p replaces its records of p by the newest of these
 * (docs/SCALING.md, "when a partition moves"). This module only turns a
 * partition's records into bytes and back; it never touches Kafka.
 *
 * The bytes, little-endian:
 *   "RLB2", uint64 the writer's cfg_model_fingerprint(), int32
 *   partition, int64 clock_ms (the writer's newest Kafka time), uint32
 *   n, n x (uint32 topic length, topic, int64 offset): where the record
 *   stands in partition p of each topic it covers;
 *   uint32 m, m x (uint8 state, int64 ts_ms, uint32 id length, id,
 *   uint64 model_version, float64 probability, float64 value, int32
 *   predicted_class, uint32 length, bytes): the store's records of p in
 *   label_join_visit() order; uint64 CRC-64-AVRO of every byte before.
 * "RLB1" records, written before the fingerprint, are the same without
 * it. The fingerprint keeps a record out of a store of other settings:
 * its waiting events hold features hashed under the writer's fields, and
 * its ids are raw or pseudonyms as the writer's id field said.
 * Learner thread only.
 */
#ifndef RIFFLE_LEARNER_LABELS_RECORD_H
#define RIFFLE_LEARNER_LABELS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "learner/label_join.h"
#include "learner/snapshot.h"

#define LABELS_RECORD_KEY_INFIX "#labels/"
#define LABELS_RECORD_MAX_OFFSETS 64 /* topics of one partition: input,
                                        sources, join and labels */

/* What a record says about itself. */
struct labels_record_info {
    int has_fingerprint; /* 0 for an RLB1 record */
    uint64_t fingerprint; /* the writer's cfg_model_fingerprint() */
    int32_t partition;
    int64_t clock_ms;
    size_t offset_count;
    struct snapshot_offset offsets[LABELS_RECORD_MAX_OFFSETS];
    size_t records; /* pending events, waiting labels and traces */
};

/* Writes into key (key_size bytes) the record key of partition of model:
 * "<model>#labels/<partition>". */
void labels_record_key(const char *model, int32_t partition, char *key,
                       size_t key_size);

/* Appends to out the record of partition: the records of j that came
 * from it, clock_ms, the fingerprint of the writer's configuration
 * (cfg_model_fingerprint()), and the offsets (borrowed, n) whose
 * partition is partition. j may be NULL (an empty record). Returns 0 or
 * RIFFLE_ERR_NOMEM (out may hold part of it then). */
int labels_record_encode(const struct label_join *j, int32_t partition,
                         int64_t clock_ms, uint64_t fingerprint,
                         const struct snapshot_offset *offsets, size_t n,
                         struct buf *out);

/* Appends to out[i] the record of partitions[i], for each of the count
 * distinct partitions, as labels_record_encode() would, in one walk of
 * j (borrowed; may be NULL). Returns 0 or RIFFLE_ERR_NOMEM (the out[]
 * may hold parts of records then; the caller frees them). */
int labels_record_encode_each(const struct label_join *j,
                              const int32_t *partitions, size_t count,
                              int64_t clock_ms, uint64_t fingerprint,
                              const struct snapshot_offset *offsets, size_t n,
                              struct buf *out);

/* Checks the whole record (len bytes of data, borrowed) and fills info,
 * changing nothing else. Returns 0, or RIFFLE_ERR_SNAPSHOT with errstr
 * naming the byte offset reached and what was expected there. */
int labels_record_check(const void *data, size_t len,
                        struct labels_record_info *info, char *errstr,
                        size_t errstr_size);

/* Whether a record that labels_record_check() accepted (info) was
 * written under cfg's model settings, so that its records may join a
 * store of cfg: its fingerprint is cfg's, or it is an RLB1 record and
 * cfg leaves the event id as it is (an older riffle never pseudonymized
 * it, so its ids are raw). Returns 1, or 0 with why (size bytes). */
int labels_record_fits_config(const struct labels_record_info *info,
                              const struct cfg *cfg, char *why, size_t size);

/* Replaces j's records of the record's partition by the record's: after
 * labels_record_check() succeeded, drops them (uncounted) and restores
 * the record's, in order, under j's bounds. Returns 0, RIFFLE_ERR_SNAPSHOT
 * with errstr when the record does not check (j unchanged), or
 * RIFFLE_ERR_NOMEM (j then holds part of the record). *skipped counts
 * records whose id j already holds from another partition (kept there). */
int labels_record_apply(struct label_join *j, const void *data, size_t len,
                        size_t *skipped, char *errstr, size_t errstr_size);

/* The restoring half of labels_record_apply(), for a caller that has
 * already dropped j's records of the partition and had
 * labels_record_check() accept these bytes (into *info): adds the
 * record's entries under j's bounds. Returns 0, RIFFLE_ERR_NOMEM, or
 * RIFFLE_ERR_SNAPSHOT with errstr; *skipped as above. */
int labels_record_restore(struct label_join *j, const void *data, size_t len,
                          const struct labels_record_info *info,
                          size_t *skipped, char *errstr, size_t errstr_size);

#endif
