/*
 * learner/labels_record.c - one partition's delayed-label records as
 * bytes, see labels_record.h.
 *
 * The reader checks everything before it changes the store: a record
 * cut short, a wrong state or a flipped byte is refused with the byte
 * offset where reading stopped, and the store keeps what it had.
 */
#include "learner/labels_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "schemas/schema.h"

/* RLB2 adds the model's configuration fingerprint after the mark; RLB1,
 * written before, is still read, with no fingerprint. */
#define LABELS_RECORD_MAGIC "RLB2"
#define LABELS_RECORD_MAGIC_V1 "RLB1"
#define LABELS_RECORD_MAGIC_LEN 4
#define LABELS_RECORD_CRC_LEN 8
#define LABELS_RECORD_ID_MAX 4096 /* far above any event id field */

void labels_record_key(const char *model, int32_t partition, char *key,
                       size_t key_size)
{
    snprintf(key, key_size, "%s%s%d", model, LABELS_RECORD_KEY_INFIX,
             (int)partition);
}

/* Where one partition's record stands while the store is walked. */
struct part_state {
    size_t start;    /* where the record begins in its buffer */
    size_t count_at; /* where its count of store records goes */
    uint32_t records;
};

/* One walk of the store, encoding the records of several partitions. */
struct encoder {
    const int32_t *partitions; /* distinct */
    size_t count;
    struct buf *out;         /* per partition, its record */
    struct part_state *part; /* per partition */
};

static int put_bytes(struct buf *b, const void *data, size_t len)
{
    int err = wire_put_u32(b, (uint32_t)len);

    return err ? err : buf_append(b, len ? data : "", len);
}

/* The index of partition in e->partitions, or -1 when it is not one. */
static long partition_index(const struct encoder *e, int32_t partition)
{
    size_t i;

    for (i = 0; i < e->count; i++)
        if (e->partitions[i] == partition)
            return (long)i;
    return -1;
}

static int put_record(void *ctx, const struct label_join_record *r)
{
    struct encoder *e = ctx;
    long k = partition_index(e, r->partition);
    struct buf *b;
    int err;

    if (k < 0)
        return 0;
    b = &e->out[k];
    err = wire_put_u8(b, (uint8_t)r->state);
    if (!err)
        err = wire_put_u64(b, (uint64_t)r->ts_ms);
    if (!err)
        err = put_bytes(b, r->id, r->id_len);
    if (!err)
        err = wire_put_u64(b, r->prediction.model_version);
    if (!err)
        err = wire_put_f64(b, r->prediction.probability);
    if (!err)
        err = wire_put_f64(b, r->prediction.value);
    if (!err)
        err = wire_put_u32(b, (uint32_t)r->prediction.predicted_class);
    if (!err)
        err = put_bytes(b, r->event, r->event ? r->event_len : 0);
    e->part[k].records++;
    return err;
}

static int put_header(struct buf *out, int32_t partition, int64_t clock_ms,
                      uint64_t fingerprint,
                      const struct snapshot_offset *offsets, size_t n)
{
    uint32_t covered = 0;
    size_t i;
    int err = buf_append(out, LABELS_RECORD_MAGIC, LABELS_RECORD_MAGIC_LEN);

    for (i = 0; i < n; i++)
        covered += offsets[i].partition == partition;
    if (!err)
        err = wire_put_u64(out, fingerprint);
    if (!err)
        err = wire_put_u32(out, (uint32_t)partition);
    if (!err)
        err = wire_put_u64(out, (uint64_t)clock_ms);
    if (!err)
        err = wire_put_u32(out, covered);
    for (i = 0; !err && i < n; i++) {
        if (offsets[i].partition != partition)
            continue;
        err = put_bytes(out, offsets[i].topic, strlen(offsets[i].topic));
        if (!err)
            err = wire_put_u64(out, (uint64_t)offsets[i].offset);
    }
    return err;
}

/* Writes v, little-endian, over the four bytes at b->data + at. */
static void set_u32_at(struct buf *b, size_t at, uint32_t v)
{
    int i;

    for (i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (char)((v >> (8 * i)) & 0xff);
}

int labels_record_encode_each(const struct label_join *j,
                              const int32_t *partitions, size_t count,
                              int64_t clock_ms, uint64_t fingerprint,
                              const struct snapshot_offset *offsets, size_t n,
                              struct buf *out)
{
    struct encoder e = {partitions, count, out, NULL};
    size_t i;
    int err = 0;

    if (count == 0)
        return 0;
    e.part = calloc(count, sizeof(*e.part));
    if (!e.part)
        return RIFFLE_ERR_NOMEM;

    /* Each record's count of store records goes in front of them, once
     * the walk has counted them. */
    for (i = 0; !err && i < count; i++) {
        e.part[i].start = out[i].len;
        err = put_header(&out[i], partitions[i], clock_ms, fingerprint,
                         offsets, n);
        e.part[i].count_at = out[i].len;
        if (!err)
            err = wire_put_u32(&out[i], 0);
    }
    if (!err && j)
        err = label_join_visit(j, put_record, &e);

    for (i = 0; !err && i < count; i++) {
        struct buf *b = &out[i];

        set_u32_at(b, e.part[i].count_at, e.part[i].records);
        err = wire_put_u64(b, schema_crc64_avro(b->data + e.part[i].start,
                                                b->len - e.part[i].start));
    }
    free(e.part);
    return err ? RIFFLE_ERR_NOMEM : 0;
}

int labels_record_encode(const struct label_join *j, int32_t partition,
                         int64_t clock_ms, uint64_t fingerprint,
                         const struct snapshot_offset *offsets, size_t n,
                         struct buf *out)
{
    return labels_record_encode_each(j, &partition, 1, clock_ms, fingerprint,
                                     offsets, n, out);
}

/* --- reading ------------------------------------------------------------ */

struct reader {
    struct wire_reader w;
    char *errstr;
    size_t size;
};

/* 0, or RIFFLE_ERR_SNAPSHOT with errstr when the last reads ran past the
 * end; at is where the field began. */
static int ended(struct reader *r, size_t at, const char *what)
{
    if (!r->w.failed)
        return 0;
    snprintf(r->errstr, r->size, "byte %zu: the record ends inside %s "
             "(%zu bytes in all)", at, what, r->w.len);
    return RIFFLE_ERR_SNAPSHOT;
}

static int refuse(struct reader *r, size_t at, const char *what)
{
    snprintf(r->errstr, r->size, "byte %zu: expected %s", at, what);
    return RIFFLE_ERR_SNAPSHOT;
}

/* A length-prefixed string of 1 to max bytes, borrowed from the input. */
static int get_text(struct reader *r, size_t max, const char *what,
                    const unsigned char **out, size_t *len)
{
    size_t at = r->w.pos;

    *len = wire_get_u32(&r->w);
    if (ended(r, at, what))
        return RIFFLE_ERR_SNAPSHOT;
    if (*len == 0 || *len > max)
        return refuse(r, at, what);
    *out = wire_get_bytes(&r->w, *len);
    return ended(r, at, what);
}

static int read_offsets(struct reader *r, struct labels_record_info *info)
{
    size_t i, len, at = r->w.pos;
    const unsigned char *topic;
    int err;

    info->offset_count = wire_get_u32(&r->w);
    if (ended(r, at, "the count of topics"))
        return RIFFLE_ERR_SNAPSHOT;
    if (info->offset_count > LABELS_RECORD_MAX_OFFSETS)
        return refuse(r, at, "at most 64 topics");
    for (i = 0; i < info->offset_count; i++) {
        struct snapshot_offset *o = &info->offsets[i];

        err = get_text(r, CFG_NAME_MAX - 1, "a topic name (1 to 127 bytes)",
                       &topic, &len);
        if (err)
            return err;
        memcpy(o->topic, topic, len);
        o->topic[len] = '\0';
        o->partition = info->partition;
        o->checked = 0;
        at = r->w.pos;
        o->offset = (int64_t)wire_get_u64(&r->w);
        if (ended(r, at, "a topic's offset"))
            return RIFFLE_ERR_SNAPSHOT;
        if (o->offset < 0)
            return refuse(r, at, "an offset of 0 or more");
    }
    return 0;
}

/* Reads the next store record into *out (borrowing from the input). */
static int read_one(struct reader *r, struct label_join_record *out)
{
    size_t at = r->w.pos, len;
    const unsigned char *id;
    uint8_t state = wire_get_u8(&r->w);
    int err;

    if (!ended(r, at, "a record's state") && state > LABEL_JOIN_EARLY_LABEL)
        return refuse(r, at, "a record state of 0 to 3");
    out->state = (enum label_join_state)state;
    out->ts_ms = (int64_t)wire_get_u64(&r->w);
    if (ended(r, at, "a record's timestamp"))
        return RIFFLE_ERR_SNAPSHOT;
    err = get_text(r, LABELS_RECORD_ID_MAX, "an event id (1 to 4096 bytes)",
                   &id, &out->id_len);
    if (err)
        return err;
    out->id = (const char *)id;

    at = r->w.pos;
    out->prediction.model_version = wire_get_u64(&r->w);
    out->prediction.probability = wire_get_f64(&r->w);
    out->prediction.value = wire_get_f64(&r->w);
    out->prediction.predicted_class = (int)wire_get_u32(&r->w);
    len = wire_get_u32(&r->w);
    if (ended(r, at, "a record's prediction"))
        return RIFFLE_ERR_SNAPSHOT;
    if ((out->state == LABEL_JOIN_WAS_JOINED ||
         out->state == LABEL_JOIN_WAS_LOST) && len != 0)
        return refuse(r, at, "no bytes for the trace of an event");
    out->event = wire_get_bytes(&r->w, len);
    out->event_len = len;
    return ended(r, at, "a record's bytes");
}

/* Reads up to the records, then each record, calling fn (when not NULL)
 * for each. */
static int read_record(struct reader *r, struct labels_record_info *info,
                       int (*fn)(void *, const struct label_join_record *),
                       void *ctx)
{
    const unsigned char *magic = wire_get_bytes(&r->w, LABELS_RECORD_MAGIC_LEN);
    struct label_join_record rec;
    size_t i, at;
    int err;

    if (ended(r, 0, "the format mark"))
        return RIFFLE_ERR_SNAPSHOT;
    if (memcmp(magic, LABELS_RECORD_MAGIC, LABELS_RECORD_MAGIC_LEN) == 0) {
        info->has_fingerprint = 1;
        info->fingerprint = wire_get_u64(&r->w);
        if (ended(r, LABELS_RECORD_MAGIC_LEN, "the configuration fingerprint"))
            return RIFFLE_ERR_SNAPSHOT;
    } else if (memcmp(magic, LABELS_RECORD_MAGIC_V1,
                      LABELS_RECORD_MAGIC_LEN) != 0) {
        return refuse(r, 0, "the format mark RLB2 or RLB1");
    }
    at = r->w.pos;
    info->partition = (int32_t)wire_get_u32(&r->w);
    info->clock_ms = (int64_t)wire_get_u64(&r->w);
    if (ended(r, at, "the partition and clock"))
        return RIFFLE_ERR_SNAPSHOT;
    if (info->partition < 0)
        return refuse(r, at, "a partition of 0 or more");
    err = read_offsets(r, info);
    if (err)
        return err;

    at = r->w.pos;
    info->records = wire_get_u32(&r->w);
    if (ended(r, at, "the count of records"))
        return RIFFLE_ERR_SNAPSHOT;
    for (i = 0; i < info->records; i++) {
        memset(&rec, 0, sizeof(rec));
        rec.partition = info->partition;
        err = read_one(r, &rec);
        if (!err && fn)
            err = fn(ctx, &rec);
        if (err)
            return err;
    }
    return 0;
}

int labels_record_check(const void *data, size_t len,
                        struct labels_record_info *info, char *errstr,
                        size_t errstr_size)
{
    struct reader r = {{0}, errstr, errstr_size};
    struct wire_reader crc;
    size_t body;
    int err;

    memset(info, 0, sizeof(*info));
    if (len < LABELS_RECORD_MAGIC_LEN + LABELS_RECORD_CRC_LEN) {
        snprintf(errstr, errstr_size, "byte 0: expected a record of at "
                 "least %d bytes, got %zu",
                 LABELS_RECORD_MAGIC_LEN + LABELS_RECORD_CRC_LEN, len);
        return RIFFLE_ERR_SNAPSHOT;
    }
    body = len - LABELS_RECORD_CRC_LEN;
    wire_reader_init(&crc, (const unsigned char *)data + body,
                     LABELS_RECORD_CRC_LEN);
    if (wire_get_u64(&crc) != schema_crc64_avro(data, body)) {
        snprintf(errstr, errstr_size, "byte %zu: the CRC-64 of the %zu "
                 "bytes before it does not match: the record is damaged",
                 body, body);
        return RIFFLE_ERR_SNAPSHOT;
    }

    wire_reader_init(&r.w, data, body);
    err = read_record(&r, info, NULL, NULL);
    if (!err && r.w.pos != body)
        err = refuse(&r, r.w.pos, "the CRC-64 after the last record");
    return err;
}

int labels_record_fits_config(const struct labels_record_info *info,
                              const struct cfg *cfg, char *why, size_t size)
{
    uint64_t own = cfg_model_fingerprint(cfg);

    if (info->has_fingerprint && info->fingerprint != own) {
        snprintf(why, size, "it was written under other learner or field "
                 "settings (fingerprint %016llx; this configuration: "
                 "%016llx)", (unsigned long long)info->fingerprint,
                 (unsigned long long)own);
        return 0;
    }
    if (!info->has_fingerprint &&
        cfg_field_of_kind(cfg, CFG_FIELD_ID)->privacy != CFG_PRIVACY_NONE) {
        snprintf(why, size, "it was written by an older riffle, whose "
                 "event ids are raw, and this configuration pseudonymizes "
                 "the id");
        return 0;
    }
    return 1;
}

struct applier {
    struct label_join *j;
    size_t skipped;
};

static int restore_one(void *ctx, const struct label_join_record *rec)
{
    struct applier *a = ctx;
    int err = label_join_restore(a->j, rec);

    if (err == RIFFLE_ERR_INVALID) {
        a->skipped++; /* the id is held from another partition */
        return 0;
    }
    return err;
}

int labels_record_apply(struct label_join *j, const void *data, size_t len,
                        size_t *skipped, char *errstr, size_t errstr_size)
{
    struct labels_record_info info;
    int err = labels_record_check(data, len, &info, errstr, errstr_size);

    *skipped = 0;
    if (err)
        return err;

    (void)label_join_drop_partition(j, info.partition); /* replaced */
    return labels_record_restore(j, data, len, &info, skipped, errstr,
                                 errstr_size);
}

int labels_record_restore(struct label_join *j, const void *data, size_t len,
                          const struct labels_record_info *info,
                          size_t *skipped, char *errstr, size_t errstr_size)
{
    struct applier a = {j, 0};
    struct reader r = {{0}, errstr, errstr_size};
    struct labels_record_info seen = *info;
    int err;

    wire_reader_init(&r.w, data, len - LABELS_RECORD_CRC_LEN);
    err = read_record(&r, &seen, restore_one, &a);
    *skipped = a.skipped;
    return err;
}
