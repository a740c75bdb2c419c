/*
 * consumers/snapshot_chunks.h - reassembles model snapshots that were too
 * large for one Kafka message.
 *
 * A snapshot no larger than snapshot.chunk_bytes is one message on the
 * model topic, keyed by the model name. A larger one is written as N
 * chunk messages keyed "<model>/chunk/<i>", each carrying the headers
 * below, followed by a manifest keyed by the model name whose headers
 * give the snapshot id, the chunk count and the total size (its value is
 * a short text for people reading the topic). Chunks and manifest go out
 * in one transaction in exactly-once mode, and the manifest always last:
 * a snapshot is only ever seen whole. A manifest whose chunks are missing
 * or cut short is reported as a broken snapshot, so the reader falls back
 * to an older one; a flipped byte is caught later by the snapshot's own
 * CRC-64. The model topic has one partition, so chunks arrive in order.
 *
 * Keys per chunk index keep compaction from dropping the chunks of the
 * newest snapshot; chunks of older ones may be compacted away, so a
 * fallback only ever uses an older snapshot whose chunks are all there
 * (count, total size and then the CRC-64 are checked); one that lost a
 * chunk is skipped like a damaged one. Owned by one thread.
 */
#ifndef RIFFLE_CONSUMERS_SNAPSHOT_CHUNKS_H
#define RIFFLE_CONSUMERS_SNAPSHOT_CHUNKS_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/buf.h"

#define SNAPSHOT_CHUNK_KEY_INFIX "/chunk/"
#define SNAPSHOT_HEADER_ID "riffle.snapshot.id"
#define SNAPSHOT_HEADER_CHUNK "riffle.snapshot.chunk"
#define SNAPSHOT_HEADER_CHUNKS "riffle.snapshot.chunks"
#define SNAPSHOT_HEADER_BYTES "riffle.snapshot.bytes"

struct snapshot_chunks;

/* A reassembler for the snapshots of model (copied). Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int snapshot_chunks_new(const char *model, struct snapshot_chunks **out);

void snapshot_chunks_destroy(struct snapshot_chunks *s); /* NULL-safe */

/* Feeds one message of the model topic (borrowed). Returns 0 when it
 * completes nothing (a chunk, or another model's message); 1 when a
 * whole snapshot of the model is ready in *value (borrowed until the
 * next call); RIFFLE_ERR_SNAPSHOT with errstr when a manifest arrives
 * whose chunks are missing or of the wrong size. */
int snapshot_chunks_feed(struct snapshot_chunks *s,
                         const rd_kafka_message_t *msg,
                         const struct buf **value, char *errstr,
                         size_t errstr_size);

/* Moves the value the last call to snapshot_chunks_feed() completed
 * into out (the caller owns it then and frees it with buf_free), without
 * copying it; out is emptied when that call completed nothing. */
void snapshot_chunks_take(struct snapshot_chunks *s, struct buf *out);

/* Whether the manifest that made the last call return RIFFLE_ERR_SNAPSHOT
 * came without any of its chunks: when reading began after the start of
 * that snapshot, its chunks may simply lie before the first message read
 * (see topic_reader_latest_by_key). */
int snapshot_chunks_unstarted(const struct snapshot_chunks *s);

#endif
