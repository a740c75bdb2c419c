/*
 * learner/snapshot.h - saves and restores a learner's whole state.
 *
 * A snapshot (schemas/model_snapshot.avsc, single-object encoded) holds
 * the weights and optimizer state in a sparse encoding, the running field
 * statistics, the progressive metrics, and the input offsets it reflects:
 * restoring it and reading the input from those offsets continues the
 * learning exactly where it stopped. Restoring checks the format version,
 * the model name, the configuration fingerprint, the weight count and a
 * CRC-64 of the weights, and changes nothing unless all of it passes.
 * Runs on the learner thread.
 */
#ifndef RIFFLE_LEARNER_SNAPSHOT_H
#define RIFFLE_LEARNER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "learner/online.h"
#include "schemas/schema.h"

/* 2 added the cleaning state; a format 1 snapshot is refused with a
 * message saying so (its schema fingerprint is SNAPSHOT_V1_FINGERPRINT).
 * 3 added the pending delayed labels; a format 2 snapshot (its schema is
 * kept in snapshot.c) is still restored, with no labels pending.
 * 4 added the normalized optimizer's totals t and N (normalized_examples,
 * normalized_norm_sum); a format 2 or 3 snapshot (schemas kept in
 * snapshot.c) is still restored, the totals taking the defaults of
 * model_snapshot.avsc, SNAPSHOT_DEFAULT_NORM_EXAMPLES and
 * SNAPSHOT_DEFAULT_NORM_SUM: the model then starts them afresh, its
 * weights and per-feature state kept.
 * 5 added the join topic's checked positions (join_checked); a format 2
 * to 4 snapshot (schemas kept in snapshot.c) is still restored, with
 * none: its join positions promise nothing about dead letters, and
 * info.format_version tells the learner so (SNAPSHOT_FORMAT_CHECKED). */
#define SNAPSHOT_FORMAT_VERSION 5
#define SNAPSHOT_FORMAT_CHECKED 5
#define SNAPSHOT_FORMAT_OLDEST 2
#define SNAPSHOT_V1_FINGERPRINT 0x3490089db52c82e7ULL
#define SNAPSHOT_DEFAULT_NORM_EXAMPLES 0
#define SNAPSHOT_DEFAULT_NORM_SUM 0.0
/* Layouts of the weights field: little-endian entries, one per index
 * whose weight or optimizer state is non-zero (any bit set), in
 * increasing index order.
 *   sparse-f32le-v2  uint32 index, float32 weight, then one float32 per
 *                    optimizer-state array in model_state_value() order:
 *                    model_state_count() of them, 0 (sgd), 1 (adagrad,
 *                    rmsprop) or 2 (adam, normalized, ftrl), so an entry
 *                    is 8, 12 or 16 bytes. The count is not stored: it
 *                    follows from the optimizer, which the configuration
 *                    fingerprint pins.
 *   sparse-f32le-v1  uint32 index, float32 weight, float32 state (12
 *                    bytes; sgd wrote zero state). Written before the
 *                    two-array optimizers existed; still read.
 *   dense-f32le-v1   every index in order, without it: float32 weight,
 *                    then the model_state_count() float32 state values
 *                    (4, 8 or 12 bytes an entry). Written instead of
 *                    sparse-f32le-v2 when it is no larger, i.e. when at
 *                    least half (sgd), two thirds (one state array) or
 *                    three quarters (two) of the slots are in use; it is
 *                    packed and unpacked without per-entry tests. */
#define SNAPSHOT_WEIGHT_ENCODING "sparse-f32le-v2"
#define SNAPSHOT_WEIGHT_ENCODING_V1 "sparse-f32le-v1"
#define SNAPSHOT_WEIGHT_ENCODING_DENSE "dense-f32le-v1"
#define SNAPSHOT_ENTRY_BYTES 12 /* a v1 entry; a v2 one with one array */
#define SNAPSHOT_ENTRY_BYTES_V2(states) (8 + 4 * (states))
#define SNAPSHOT_DENSE_ENTRY_BYTES(states) (4 + 4 * (states))
#define SNAPSHOT_MAX_OFFSETS 1024

/* An entry of the snapshot's offsets, or with `checked` set one of its
 * join_checked: a join partition's next offset not checked for dead
 * letters, every unusable record below it dead-lettered. Both kinds
 * travel in one array; snapshot_restore() puts the checked ones last. */
struct snapshot_offset {
    char topic[CFG_NAME_MAX];
    int32_t partition;
    int64_t offset; /* next offset to read, or not checked */
    int checked;
};

/* What a snapshot says about itself, without its weights. */
struct snapshot_info {
    int32_t format_version;
    char model_name[CFG_NAME_MAX];
    int64_t version;
    int64_t created_at_ms;
    uint64_t config_fingerprint;
    int32_t bits;
    int64_t nonzero_count;
    uint64_t weights_crc64; /* tells apart two snapshots of one version */
    size_t weight_bytes;
    struct metrics_totals metrics;
    int64_t dead_letters;
    size_t offset_count; /* the offsets, without the checked positions */
};

/* Appends the encoded snapshot of ol to out. offsets (borrowed, n
 * entries) are the next input offsets. Returns 0 or an error with
 * errstr set. */
int snapshot_encode(const struct schema *schema, struct online_learner *ol,
                    const struct snapshot_offset *offsets, size_t n,
                    int64_t now_ms, struct buf *out, char *errstr,
                    size_t errstr_size);

/* Restores ol from an encoded snapshot and writes its offsets (up to max)
 * into offsets, their count into *n, and its metadata into *info (may be
 * NULL). Returns 0, or RIFFLE_ERR_SNAPSHOT / RIFFLE_ERR_DECODE with
 * errstr saying what did not match; ol is then unchanged. */
int snapshot_restore(const struct schema *schema, struct online_learner *ol,
                     const void *data, size_t len,
                     struct snapshot_offset *offsets, size_t max, size_t *n,
                     struct snapshot_info *info, char *errstr,
                     size_t errstr_size);

/* Writes the encoded snapshot of ol to path atomically: into a temporary
 * file beside it ("<path>.tmp"), flushed to disk, then renamed over path,
 * so a crash never leaves a half-written snapshot. Returns 0 or
 * RIFFLE_ERR_IO with errstr "PATH: cannot write the snapshot: REASON
 * (writing|closing|renaming PATH.tmp)"; a failure leaves no temporary
 * file behind. */
int snapshot_save_file(const struct schema *schema, struct online_learner *ol,
                       const struct snapshot_offset *offsets, size_t n,
                       const char *path, char *errstr, size_t errstr_size);

/* Whether a snapshot could be saved at path by snapshot_save_file(), for
 * a caller to ask before the work whose model it saves: refuses a folder,
 * and tries creating the temporary file beside path (then removes it), so
 * that a folder that does not exist or cannot be written is found first.
 * Returns 0, or RIFFLE_ERR_IO (RIFFLE_ERR_NOMEM) with errstr in the words
 * of snapshot_save_file()'s errors. */
int snapshot_probe_file(const char *path, char *errstr, size_t errstr_size);

/* Restores ol from a snapshot file (see snapshot_restore()). */
int snapshot_load_file(const struct schema *schema, struct online_learner *ol,
                       const char *path, struct snapshot_offset *offsets,
                       size_t max, size_t *n, struct snapshot_info *info,
                       char *errstr, size_t errstr_size);

/* CRC-64-AVRO of ol's weights and optimizer state in the snapshot's
 * packed layout: equal digests mean bit-identical models, which is how a
 * recovered learner is compared with an uninterrupted run. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int snapshot_weights_digest(struct online_learner *ol, uint64_t *digest);

/* Reads a whole snapshot of the current format or of an older one still
 * read (its writer's schema, from the fingerprint) into *rec, a new value
 * of that schema: `riffle watch models` shows what was written, also on a
 * topic that holds snapshots from before an upgrade. The caller decrefs
 * *rec, then destroys *legacy (NULL for the current format); neither is
 * set on an error. */
int snapshot_read_value(const struct schema *schema, const void *data,
                        size_t len, avro_value_t *rec, struct schema **legacy,
                        char *errstr, size_t errstr_size);

/* Reads only the metadata, e.g. for `riffle watch`. */
int snapshot_read_info(const struct schema *schema, const void *data,
                       size_t len, struct snapshot_info *info, char *errstr,
                       size_t errstr_size);

#endif
