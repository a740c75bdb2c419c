/*
 * consumers/snapshot_chunks.c - snapshot reassembly, see
 * snapshot_chunks.h.
 *
 * One snapshot is assembled at a time: chunks of a snapshot are written
 * back to back, so a chunk of a new id means the previous one will never
 * be completed (a crash in at-least-once mode) and it is dropped.
 */
#include "consumers/snapshot_chunks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config/cfg.h"

#define SNAPSHOT_ID_MAX 64
#define SNAPSHOT_HEADER_VALUE_MAX 32 /* a decimal count or size */
#define SNAPSHOT_CHUNKS_MAX_RESERVE (1UL << 31) /* above any 2^28 model */

struct snapshot_chunks {
    char model[CFG_NAME_MAX];
    char chunk_prefix[CFG_NAME_MAX + sizeof(SNAPSHOT_CHUNK_KEY_INFIX)];
    char id[SNAPSHOT_ID_MAX]; /* of the snapshot being assembled */
    long next;                /* index of the chunk expected next */
    int unstarted; /* the last broken manifest's chunks were never seen */
    struct buf pending;
    struct buf whole; /* a single-message snapshot */
    struct buf *ready; /* the value the last feed completed, or NULL */
};

int snapshot_chunks_new(const char *model, struct snapshot_chunks **out)
{
    struct snapshot_chunks *s = calloc(1, sizeof(*s));

    if (!s)
        return RIFFLE_ERR_NOMEM;
    snprintf(s->model, sizeof(s->model), "%s", model);
    snprintf(s->chunk_prefix, sizeof(s->chunk_prefix), "%s%s", model,
             SNAPSHOT_CHUNK_KEY_INFIX);
    *out = s;
    return 0;
}

void snapshot_chunks_destroy(struct snapshot_chunks *s)
{
    if (!s)
        return;
    buf_free(&s->pending);
    buf_free(&s->whole);
    free(s);
}

/* Copies header name of msg as text into out; 0 when it is there. */
static int header_text(const rd_kafka_message_t *msg, const char *name,
                       char *out, size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;

    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        !v || len >= size)
        return -1;
    memcpy(out, v, len);
    out[len] = '\0';
    return 0;
}

static int header_long(const rd_kafka_message_t *msg, const char *name,
                       long *out)
{
    char text[SNAPSHOT_HEADER_VALUE_MAX], *end;

    if (header_text(msg, name, text, sizeof(text)) != 0)
        return -1;
    *out = strtol(text, &end, 10);
    return *end == '\0' && end != text && *out >= 0 ? 0 : -1;
}

static int key_is(const rd_kafka_message_t *msg, const char *key,
                  size_t len)
{
    return msg->key && msg->key_len == len && memcmp(msg->key, key, len) == 0;
}

static int key_has_prefix(const rd_kafka_message_t *msg, const char *prefix)
{
    size_t len = strlen(prefix);

    return msg->key && msg->key_len > len &&
           memcmp(msg->key, prefix, len) == 0;
}

/* A chunk: appended when it is the next one of the snapshot being
 * assembled; chunk 0 starts a new one. */
static int feed_chunk(struct snapshot_chunks *s,
                      const rd_kafka_message_t *msg)
{
    char id[SNAPSHOT_ID_MAX];
    long index;

    if (header_text(msg, SNAPSHOT_HEADER_ID, id, sizeof(id)) != 0 ||
        header_long(msg, SNAPSHOT_HEADER_CHUNK, &index) != 0)
        return 0; /* not ours to judge: the manifest will miss it */

    if (index == 0) {
        long total;

        buf_reset(&s->pending);
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->next = 0;
        /* One allocation for the whole snapshot, not one per doubling:
         * a large model's chunks are hundreds of MiB. A size too large
         * to get is left to the manifest's check. */
        if (header_long(msg, SNAPSHOT_HEADER_BYTES, &total) == 0 &&
            (unsigned long)total <= SNAPSHOT_CHUNKS_MAX_RESERVE)
            (void)buf_reserve(&s->pending, (size_t)total);
    }
    if (strcmp(id, s->id) != 0 || index != s->next) {
        s->id[0] = '\0'; /* out of order: this snapshot is incomplete */
        return 0;
    }
    if (msg->len > 0 &&
        buf_append(&s->pending, msg->payload, msg->len) != 0)
        return RIFFLE_ERR_NOMEM;
    s->next++;
    return 0;
}

static int feed_manifest(struct snapshot_chunks *s,
                         const rd_kafka_message_t *msg,
                         const struct buf **value, char *errstr, size_t size)
{
    char id[SNAPSHOT_ID_MAX];
    long chunks, bytes;

    if (header_text(msg, SNAPSHOT_HEADER_ID, id, sizeof(id)) != 0 ||
        header_long(msg, SNAPSHOT_HEADER_CHUNKS, &chunks) != 0 ||
        header_long(msg, SNAPSHOT_HEADER_BYTES, &bytes) != 0) {
        snprintf(errstr, size, "offset %lld: a chunked snapshot's manifest "
                 "without valid %s, %s and %s headers", (long long)msg->offset,
                 SNAPSHOT_HEADER_ID, SNAPSHOT_HEADER_CHUNKS,
                 SNAPSHOT_HEADER_BYTES);
        return RIFFLE_ERR_SNAPSHOT;
    }
    s->unstarted = strcmp(id, s->id) != 0;
    if (strcmp(id, s->id) != 0 || s->next != chunks ||
        s->pending.len != (size_t)bytes) {
        snprintf(errstr, size, "offset %lld: snapshot %s: expected %ld "
                 "chunks of %ld bytes in all, found %ld chunk(s) of %zu "
                 "bytes: chunks missing or truncated", (long long)msg->offset,
                 id, chunks, bytes, strcmp(id, s->id) == 0 ? s->next : 0,
                 strcmp(id, s->id) == 0 ? s->pending.len : 0);
        s->id[0] = '\0';
        return RIFFLE_ERR_SNAPSHOT;
    }
    s->id[0] = '\0';
    s->ready = &s->pending;
    *value = &s->pending;
    return 1;
}

int snapshot_chunks_feed(struct snapshot_chunks *s,
                         const rd_kafka_message_t *msg,
                         const struct buf **value, char *errstr,
                         size_t errstr_size)
{
    char probe[SNAPSHOT_HEADER_VALUE_MAX];

    s->ready = NULL;
    if (msg->err)
        return 0;
    if (key_has_prefix(msg, s->chunk_prefix))
        return feed_chunk(s, msg);
    if (!key_is(msg, s->model, strlen(s->model)) || !msg->payload)
        return 0;

    if (header_text(msg, SNAPSHOT_HEADER_CHUNKS, probe, sizeof(probe)) == 0)
        return feed_manifest(s, msg, value, errstr, errstr_size);

    buf_reset(&s->whole);
    if (buf_append(&s->whole, msg->payload, msg->len) != 0)
        return RIFFLE_ERR_NOMEM;
    s->ready = &s->whole;
    *value = &s->whole;
    return 1;
}

int snapshot_chunks_unstarted(const struct snapshot_chunks *s)
{
    return s->unstarted;
}

void snapshot_chunks_take(struct snapshot_chunks *s, struct buf *out)
{
    if (!s->ready) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = *s->ready;
    memset(s->ready, 0, sizeof(*s->ready));
    s->ready = NULL;
}
