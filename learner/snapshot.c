/*
 * learner/snapshot.c - snapshot encoding and restore, see snapshot.h.
 *
 * The weights travel as one Avro bytes field in a sparse little-endian
 * layout rather than an Avro array of floats: a hashed model is mostly
 * zeros, and one flat buffer is a single copy each way.
 */
#include "learner/snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "learner/label_join.h"
#include "learner/snapshot_labels.h"

/* Weight indices packed at a time for the digest: at most
 * SNAPSHOT_PACKED_MAX_BYTES each, so 64 KiB at most, however many weights
 * the model uses. */
#define SNAPSHOT_DIGEST_SLICE ((size_t)1 << 12)
#define SNAPSHOT_PACKED_MAX_BYTES 16

/* Shorthand for the avro-c calls below: any failure jumps to "fail". */
#define AV(call)                                                             \
    do {                                                                     \
        if ((call) != 0)                                                     \
            goto fail;                                                       \
    } while (0)

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;

    memcpy(&v, &f, sizeof(v));
    put_u32(p, v);
}

static float get_f32(const unsigned char *p)
{
    uint32_t v = get_u32(p);
    float f;

    memcpy(&f, &v, sizeof(f));
    return f;
}

/* Whether f is +0.0: a -0.0 weight is packed, so it comes back as is. */
static int is_plus_zero(float f)
{
    uint32_t v;

    memcpy(&v, &f, sizeof(v));
    return v == 0;
}

/* Packs every index in [from, to) with a non-zero weight or state, in
 * the SNAPSHOT_WEIGHT_ENCODING layout (see snapshot.h), appending to out
 * and adding to *nonzero. The indexes in use are found a slice at a
 * time in one walk and written straight into out's memory: a walk and
 * an append per entry were most of the weights digest that ends `riffle
 * train`. */
static int pack_weight_range(const struct model *m, size_t from, size_t to,
                             struct buf *out, int64_t *nonzero)
{
    uint32_t idx[SNAPSHOT_DIGEST_SLICE];
    size_t i, k, n, end, states = model_state_count(m);
    size_t entry = SNAPSHOT_ENTRY_BYTES_V2(states);
    float v[1 + MODEL_MAX_STATE_ARRAYS];
    unsigned char *p;

    for (; from < to; from = end) {
        end = to - from > SNAPSHOT_DIGEST_SLICE ? from + SNAPSHOT_DIGEST_SLICE
                                                : to;
        n = model_in_use(m, from, end, idx);
        if (buf_reserve(out, n * entry) != 0)
            return RIFFLE_ERR_NOMEM;
        p = (unsigned char *)out->data + out->len;
        for (i = 0; i < n; i++, p += entry) {
            model_slot_values(m, idx[i], v);
            put_u32(p, idx[i]);
            for (k = 0; k <= states; k++)
                put_f32(p + 4 + 4 * k, v[k]);
        }
        out->len += n * entry;
        *nonzero += (int64_t)n;
    }
    return 0;
}

/* Appends indexes [from, to) in the SNAPSHOT_WEIGHT_ENCODING_DENSE
 * layout, written straight into out's memory. */
static int pack_dense_range(const struct model *m, size_t from, size_t to,
                            struct buf *out)
{
    size_t i, k, states = model_state_count(m);
    size_t bytes = (to - from) * SNAPSHOT_DENSE_ENTRY_BYTES(states);
    unsigned char *p;

    if (buf_reserve(out, bytes) != 0)
        return RIFFLE_ERR_NOMEM;
    p = (unsigned char *)out->data + out->len;
    for (i = from; i < to; i++) {
        put_f32(p, model_weight(m, i));
        p += 4;
        for (k = 0; k < states; k++, p += 4)
            put_f32(p, model_state_value(m, k, i));
    }
    out->len += bytes;
    return 0;
}

/* How a snapshot's weights are laid out, decided before packing them. */
struct weight_plan {
    const char *encoding; /* one of the SNAPSHOT_WEIGHT_ENCODING names */
    int dense;
    int64_t nonzero; /* slots in use */
    size_t bytes;    /* of the packed weights */
};

/* Chooses the smaller layout: sparse while most slots are empty (a
 * hashed model's usual state), dense once the index of each entry would
 * cost more than the empty slots. */
static void plan_weights(const struct model *m, struct weight_plan *plan)
{
    size_t from, to, count = model_weight_count(m);
    size_t states = model_state_count(m), used = 0;
    uint32_t idx[SNAPSHOT_DIGEST_SLICE];

    for (from = 0; from < count; from = to) {
        to = count - from > SNAPSHOT_DIGEST_SLICE ? from + SNAPSHOT_DIGEST_SLICE
                                                  : count;
        used += model_in_use(m, from, to, idx);
    }
    plan->nonzero = (int64_t)used;
    plan->dense = used * SNAPSHOT_ENTRY_BYTES_V2(states) >=
                  count * SNAPSHOT_DENSE_ENTRY_BYTES(states);
    plan->encoding =
        plan->dense ? SNAPSHOT_WEIGHT_ENCODING_DENSE : SNAPSHOT_WEIGHT_ENCODING;
    plan->bytes = plan->dense ? count * SNAPSHOT_DENSE_ENTRY_BYTES(states)
                              : used * SNAPSHOT_ENTRY_BYTES_V2(states);
}

/* Appends the packed weights to out (room for plan->bytes is reserved)
 * a slice at a time, taking the CRC of each slice while it is still in
 * the cache. */
static int pack_in_place(const struct model *m, const struct weight_plan *plan,
                         struct buf *out, uint64_t *crc)
{
    size_t count = model_weight_count(m), from, to, at;
    int64_t nonzero = 0;
    int err = 0;

    *crc = schema_crc64_avro(NULL, 0);
    for (from = 0; from < count && !err; from = to) {
        to = count - from > SNAPSHOT_DIGEST_SLICE ? from + SNAPSHOT_DIGEST_SLICE
                                                  : count;
        at = out->len;
        err = plan->dense ? pack_dense_range(m, from, to, out)
                          : pack_weight_range(m, from, to, out, &nonzero);
        if (!err)
            *crc = schema_crc64_avro_update(*crc, out->data + at,
                                            out->len - at);
    }
    return err;
}

static int set_field_stats(avro_value_t *rec, struct online_learner *ol)
{
    const struct cfg *cfg = online_cfg(ol);
    const struct running_stats *stats = online_stats(ol);
    avro_value_t arr, item, f;
    size_t i;

    AV(avro_value_get_by_name(rec, "field_stats", &arr, NULL));
    for (i = 0; i < cfg->field_count; i++) {
        if (cfg->fields[i].kind != CFG_FIELD_NUMERIC)
            continue;
        AV(avro_value_append(&arr, &item, NULL));
        AV(avro_value_get_by_name(&item, "field", &f, NULL));
        AV(avro_value_set_string(&f, cfg->fields[i].name));
        AV(avro_value_get_by_name(&item, "count", &f, NULL));
        AV(avro_value_set_long(&f, (int64_t)stats[i].count));
        AV(avro_value_get_by_name(&item, "mean", &f, NULL));
        AV(avro_value_set_double(&f, stats[i].mean));
        AV(avro_value_get_by_name(&item, "m2", &f, NULL));
        AV(avro_value_set_double(&f, stats[i].m2));
    }
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

/* The entries of off into the offsets field, those with `checked` set
 * into join_checked. */
static int set_offsets(avro_value_t *rec, const struct snapshot_offset *off,
                       size_t n)
{
    avro_value_t arr, checked, item, f;
    size_t i;

    AV(avro_value_get_by_name(rec, "offsets", &arr, NULL));
    AV(avro_value_get_by_name(rec, "join_checked", &checked, NULL));
    for (i = 0; i < n; i++) {
        AV(avro_value_append(off[i].checked ? &checked : &arr, &item, NULL));
        AV(avro_value_get_by_name(&item, "topic", &f, NULL));
        AV(avro_value_set_string(&f, off[i].topic));
        AV(avro_value_get_by_name(&item, "partition", &f, NULL));
        AV(avro_value_set_int(&f, off[i].partition));
        AV(avro_value_get_by_name(&item, "offset", &f, NULL));
        AV(avro_value_set_long(&f, off[i].offset));
    }
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

static int set_histogram(avro_value_t *group, const char *name,
                         const uint64_t *bins)
{
    avro_value_t arr, item;
    size_t i;

    AV(avro_value_get_by_name(group, name, &arr, NULL));
    for (i = 0; i < METRICS_AUC_BINS; i++) {
        AV(avro_value_append(&arr, &item, NULL));
        AV(avro_value_set_long(&item, (int64_t)bins[i]));
    }
    return 0;
fail:
    return -1;
}

static int set_metrics(avro_value_t *rec, struct online_learner *ol)
{
    const struct metrics *m = online_metrics(ol);
    avro_value_t g, f;

    AV(avro_value_get_by_name(rec, "metrics", &g, NULL));
    AV(avro_value_get_by_name(&g, "count", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.count));
    AV(avro_value_get_by_name(&g, "correct", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.correct));
    AV(avro_value_get_by_name(&g, "positives", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.positives));
    AV(avro_value_get_by_name(&g, "logloss_sum", &f, NULL));
    AV(avro_value_set_double(&f, m->total.logloss_sum));
    AV(avro_value_get_by_name(&g, "logloss", &f, NULL));
    AV(avro_value_set_double(&f, metrics_logloss(m)));
    AV(avro_value_get_by_name(&g, "accuracy", &f, NULL));
    AV(avro_value_set_double(&f, metrics_accuracy(m)));
    AV(avro_value_get_by_name(&g, "dead_letters", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)online_dead_letter_count(ol)));
    AV(avro_value_get_by_name(&g, "task", &f, NULL));
    AV(avro_value_set_int(&f, (int32_t)m->total.task));
    AV(avro_value_get_by_name(&g, "loss_count", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.loss_count));
    AV(avro_value_get_by_name(&g, "predicted_positives", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.predicted_positives));
    AV(avro_value_get_by_name(&g, "true_positives", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)m->total.true_positives));
    AV(avro_value_get_by_name(&g, "squared_error_sum", &f, NULL));
    AV(avro_value_set_double(&f, m->total.squared_error_sum));
    AV(avro_value_get_by_name(&g, "abs_error_sum", &f, NULL));
    AV(avro_value_set_double(&f, m->total.abs_error_sum));
    AV(set_histogram(&g, "auc_positives", m->total.auc_positives));
    AV(set_histogram(&g, "auc_negatives", m->total.auc_negatives));
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

/* One FieldSummary per summary the cleaner saves. */
static int set_summaries(avro_value_t *group, struct online_learner *ol,
                         struct buf *state)
{
    const struct cfg *cfg = online_cfg(ol);
    avro_value_t arr, item, f;
    size_t i;
    int kind, err;

    AV(avro_value_get_by_name(group, "summaries", &arr, NULL));
    for (i = 0; i < cfg->field_count; i++) {
        for (kind = 0; kind < CLEAN_SUMMARY_KINDS; kind++) {
            buf_reset(state);
            err = cleaner_save_summary(online_cleaner(ol), i, kind, state);
            if (err == RIFFLE_ERR_EOF)
                continue;
            if (err)
                return err;
            AV(avro_value_append(&arr, &item, NULL));
            AV(avro_value_get_by_name(&item, "field", &f, NULL));
            AV(avro_value_set_string(&f, cfg->fields[i].name));
            AV(avro_value_get_by_name(&item, "kind", &f, NULL));
            AV(avro_value_set_string(&f, clean_summary_name(kind)));
            AV(avro_value_get_by_name(&item, "state", &f, NULL));
            AV(avro_value_set_bytes(&f, state->data ? state->data : "",
                                    state->len));
        }
    }
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

static int set_watermarks(avro_value_t *group, struct online_learner *ol)
{
    struct online_watermark w;
    avro_value_t arr, item, f;
    size_t i;

    AV(avro_value_get_by_name(group, "watermarks", &arr, NULL));
    for (i = 0; i < online_watermark_count(ol); i++) {
        online_watermark_get(ol, i, &w);
        AV(avro_value_append(&arr, &item, NULL));
        AV(avro_value_get_by_name(&item, "topic", &f, NULL));
        AV(avro_value_set_string(&f, w.topic));
        AV(avro_value_get_by_name(&item, "partition", &f, NULL));
        AV(avro_value_set_int(&f, w.partition));
        AV(avro_value_get_by_name(&item, "event_time_ms", &f, NULL));
        AV(avro_value_set_double(&f, w.time_ms));
    }
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

/* The cleaning record: summaries, duplicate window, watermarks, counts. */
static int set_cleaning(avro_value_t *rec, struct online_learner *ol)
{
    struct online_lateness late;
    struct buf state = {0};
    avro_value_t g, f;
    int err;

    online_lateness_counts(ol, &late);
    if (avro_value_get_by_name(rec, "cleaning", &g, NULL) != 0)
        return RIFFLE_ERR_SCHEMA;
    err = set_summaries(&g, ol, &state);
    if (!err)
        err = set_watermarks(&g, ol);
    buf_reset(&state);
    if (!err) {
        err = online_save_dedup(ol, &state);
        err = err == RIFFLE_ERR_EOF ? 0 : err;
    }
    if (err)
        goto out;
    err = RIFFLE_ERR_SCHEMA;
    AV(avro_value_get_by_name(&g, "dedup_ids", &f, NULL));
    AV(avro_value_set_bytes(&f, state.data ? state.data : "", state.len));
    AV(avro_value_get_by_name(&g, "duplicates", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)online_duplicate_count(ol)));
    AV(avro_value_get_by_name(&g, "late", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)late.late));
    AV(avro_value_get_by_name(&g, "out_of_order", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)late.out_of_order));
    err = 0;
fail:
out:
    buf_free(&state);
    return err;
}

/* The normalized optimizer's totals (zero for the other optimizers). */
static int set_norm_totals(avro_value_t *rec, const struct model *m)
{
    struct model_norm_totals nt;
    avro_value_t f;

    model_copy_norm_totals(m, &nt);
    AV(avro_value_get_by_name(rec, "normalized_examples", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)nt.examples));
    AV(avro_value_get_by_name(rec, "normalized_norm_sum", &f, NULL));
    AV(avro_value_set_double(&f, nt.norm_sum));
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

/* Every field up to the weights, and the model's other state; the
 * weights themselves stay empty here (see write_spliced()). */
static int set_header(avro_value_t *rec, struct online_learner *ol,
                      int64_t now_ms, int64_t nonzero, const char *encoding)
{
    const struct cfg *cfg = online_cfg(ol);
    const struct model *m = online_model(ol);
    avro_value_t f;

    AV(avro_value_get_by_name(rec, "format_version", &f, NULL));
    AV(avro_value_set_int(&f, SNAPSHOT_FORMAT_VERSION));
    AV(avro_value_get_by_name(rec, "model_name", &f, NULL));
    AV(avro_value_set_string(&f, cfg->model_name));
    AV(avro_value_get_by_name(rec, "version", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)model_update_count(m)));
    AV(avro_value_get_by_name(rec, "created_at_ms", &f, NULL));
    AV(avro_value_set_long(&f, now_ms));
    AV(avro_value_get_by_name(rec, "config_fingerprint", &f, NULL));
    AV(avro_value_set_long(&f, (int64_t)cfg_model_fingerprint(cfg)));
    AV(avro_value_get_by_name(rec, "bits", &f, NULL));
    AV(avro_value_set_int(&f, (int32_t)cfg->model.bits));
    AV(avro_value_get_by_name(rec, "loss", &f, NULL));
    AV(avro_value_set_string(&f, cfg_loss_name(cfg->model.loss)));
    AV(avro_value_get_by_name(rec, "optimizer", &f, NULL));
    AV(avro_value_set_string(&f, cfg_optimizer_name(cfg->model.optimizer)));
    AV(avro_value_get_by_name(rec, "weight_encoding", &f, NULL));
    AV(avro_value_set_string(&f, encoding));
    AV(avro_value_get_by_name(rec, "nonzero_count", &f, NULL));
    AV(avro_value_set_long(&f, nonzero));
    AV(avro_value_get_by_name(rec, "weights", &f, NULL));
    AV(avro_value_set_bytes(&f, "", 0));
    AV(avro_value_get_by_name(rec, "weights_crc64", &f, NULL));
    AV(avro_value_set_long(&f, 0));
    AV(set_norm_totals(rec, m));
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

/* Bytes of the zig-zag varint Avro writes for x. */
static size_t varint_length(int64_t x)
{
    uint64_t zz = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    size_t n = 1;

    while (zz >= 0x80) {
        zz >>= 7;
        n++;
    }
    return n;
}

/* CRC of the body up to the checksum, the record's last field: every
 * byte except the header and the checksum's own varint. */
static uint64_t body_crc(const unsigned char *data, size_t len,
                         int64_t checksum)
{
    size_t tail = varint_length(checksum);

    if (len < SCHEMA_SOE_HEADER_SIZE + tail)
        return 0;
    return schema_crc64_avro(data + SCHEMA_SOE_HEADER_SIZE,
                             len - SCHEMA_SOE_HEADER_SIZE - tail);
}

/* Appends x as Avro writes a long: zig-zag, then 7 bits a byte. */
static int put_varint(struct buf *out, int64_t x)
{
    uint64_t zz = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    unsigned char bytes[10];
    size_t n = 0;

    while (zz >= 0x80) {
        bytes[n++] = (unsigned char)(zz | 0x80);
        zz >>= 7;
    }
    bytes[n++] = (unsigned char)zz;
    return buf_append(out, bytes, n);
}

/* Bytes avro-c writes for the fields of rec before the one named field:
 * a record is its fields' encodings back to back. */
static int bytes_before(avro_value_t *rec, const char *field, size_t *size)
{
    avro_value_t f;
    const char *name;
    size_t i, n, one;

    *size = 0;
    AV(avro_value_get_size(rec, &n));
    for (i = 0; i < n; i++) {
        AV(avro_value_get_by_index(rec, i, &f, &name));
        if (strcmp(name, field) == 0)
            return 0;
        AV(avro_value_sizeof(&f, &one));
        *size += one;
    }
fail:
    return -1;
}

static size_t varint_write(unsigned char *p, int64_t x)
{
    uint64_t zz = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    size_t n = 0;

    while (zz >= 0x80) {
        p[n++] = (unsigned char)(zz | 0x80);
        zz >>= 7;
    }
    p[n++] = (unsigned char)zz;
    return n;
}

/* Writes the record with its weights packed straight into out, where
 * avro-c would have written them: the small record is encoded with empty
 * weights (header H, fields before the weights P, the empty bytes' 0,
 * the rest R ending in checksum 0), and out gets H P len(W) W R. The
 * weights are packed once, with their CRC (the weights_crc64 field), and
 * the record's checksum splices that CRC between those of P len(W) and
 * R instead of reading W again: for a dense 2^24 model W is 192 MiB, and
 * each pass over it or copy of it cost a few tenths of a second. */
static int write_spliced(const struct schema *schema, avro_value_t *rec,
                         const struct model *m,
                         const struct weight_plan *plan, struct buf *out,
                         char *errstr, size_t size)
{
    size_t start = out->len, prefix, lead, tail;
    unsigned char len_varint[10];
    struct buf small = {0};
    avro_value_t f;
    uint64_t wcrc, crc;
    int err;

    if (bytes_before(rec, "weights", &prefix) != 0) {
        snprintf(errstr, size, "snapshot schema has no weights field");
        return RIFFLE_ERR_SCHEMA;
    }
    lead = SCHEMA_SOE_HEADER_SIZE + prefix +
           varint_write(len_varint, (int64_t)plan->bytes);
    err = buf_reserve(out, lead + plan->bytes);
    if (!err) {
        out->len = start + lead;
        err = pack_in_place(m, plan, out, &wcrc);
    }
    if (!err && (avro_value_get_by_name(rec, "weights_crc64", &f, NULL) ||
                 avro_value_set_long(&f, (int64_t)wcrc)))
        err = RIFFLE_ERR_SCHEMA;
    if (!err)
        err = schema_write_value(schema, rec, &small, errstr, size);
    tail = SCHEMA_SOE_HEADER_SIZE + prefix + 1;
    if (!err && (small.len <= tail || small.data[tail - 1] != 0 ||
                 small.data[small.len - 1] != 0)) {
        snprintf(errstr, size, "snapshot record not laid out as expected");
        err = RIFFLE_ERR_SCHEMA;
    }
    if (!err)
        err = buf_append(out, small.data + tail, small.len - tail);
    if (err) {
        out->len = start;
        buf_free(&small);
        if (err == RIFFLE_ERR_NOMEM)
            snprintf(errstr, size, "out of memory");
        return err;
    }

    memcpy(out->data + start, small.data, SCHEMA_SOE_HEADER_SIZE + prefix);
    memcpy(out->data + start + SCHEMA_SOE_HEADER_SIZE + prefix, len_varint,
           lead - SCHEMA_SOE_HEADER_SIZE - prefix);
    crc = schema_crc64_avro(out->data + start + SCHEMA_SOE_HEADER_SIZE,
                            lead - SCHEMA_SOE_HEADER_SIZE);
    crc = schema_crc64_avro_combine(crc, wcrc, plan->bytes);
    crc = schema_crc64_avro_update(crc, small.data + tail,
                                   small.len - tail - 1);
    buf_free(&small);
    out->len--; /* the varint of checksum 0 */
    if (put_varint(out, (int64_t)crc) != 0) {
        out->len = start;
        snprintf(errstr, size, "out of memory");
        return RIFFLE_ERR_NOMEM;
    }
    return 0;
}

int snapshot_encode(const struct schema *schema, struct online_learner *ol,
                    const struct snapshot_offset *offsets, size_t n,
                    int64_t now_ms, struct buf *out, char *errstr,
                    size_t errstr_size)
{
    struct weight_plan plan;
    avro_value_t rec, f;
    int err;

    err = schema_new_value(schema, &rec);
    if (err) {
        snprintf(errstr, errstr_size, "cannot create a snapshot value");
        return err;
    }

    plan_weights(online_model(ol), &plan);
    err = set_header(&rec, ol, now_ms, plan.nonzero, plan.encoding);
    if (!err)
        err = set_field_stats(&rec, ol);
    if (!err)
        err = set_offsets(&rec, offsets, n);
    if (!err)
        err = set_metrics(&rec, ol);
    if (!err)
        err = set_cleaning(&rec, ol);
    if (!err)
        err = snapshot_labels_set(&rec, ol);
    if (!err && (avro_value_get_by_name(&rec, "checksum", &f, NULL) ||
                 avro_value_set_long(&f, 0)))
        err = RIFFLE_ERR_SCHEMA;
    if (err)
        snprintf(errstr, errstr_size, "cannot fill snapshot: %s",
                 avro_strerror());
    else
        err = write_spliced(schema, &rec, online_model(ol), &plan, out,
                            errstr, errstr_size);

    avro_value_decref(&rec);
    return err;
}

int snapshot_weights_digest(struct online_learner *ol, uint64_t *digest)
{
    const struct model *m = online_model(ol);
    size_t count = model_weight_count(m), from, to;
    struct buf packed = {0};
    uint64_t fp = schema_crc64_avro(NULL, 0);
    int64_t nonzero = 0;
    int err = 0;

    /* Piece by piece, so the memory it takes does not grow with the
     * weights in use: packed whole, a long run's digest at the end was
     * the peak of its memory. The most a slice can take is reserved and
     * touched first: how much of it a slice fills grows with the weights
     * in use, so a buffer left to grow made the end of a 10M-event run
     * about 256 KiB larger than that of a 1M-event one. */
    err = buf_reserve(&packed,
                      SNAPSHOT_DIGEST_SLICE * SNAPSHOT_PACKED_MAX_BYTES);
    if (!err)
        memset(packed.data, 0, packed.cap);
    for (from = 0; from < count && !err; from = to) {
        to = count - from > SNAPSHOT_DIGEST_SLICE
                 ? from + SNAPSHOT_DIGEST_SLICE
                 : count;
        buf_reset(&packed);
        err = pack_weight_range(m, from, to, &packed, &nonzero);
        if (!err && packed.len > 0)
            fp = schema_crc64_avro_update(fp, packed.data, packed.len);
    }
    if (!err)
        *digest = fp;
    buf_free(&packed);
    return err;
}

/* --- reading --------------------------------------------------------- */

static int get_long_field(avro_value_t *rec, const char *name, int64_t *out)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_get_long(&f, out);
}

static int get_int_field(avro_value_t *rec, const char *name, int32_t *out)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_get_int(&f, out);
}

static int get_double_field(avro_value_t *rec, const char *name, double *out)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_get_double(&f, out);
}

static int get_string_field(avro_value_t *rec, const char *name,
                            const char **out)
{
    avro_value_t f;
    size_t size;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_get_string(&f, out, &size);
}

static int get_histogram(avro_value_t *group, const char *name,
                         uint64_t *bins)
{
    avro_value_t arr, item;
    size_t i, n;
    int64_t v;

    AV(avro_value_get_by_name(group, name, &arr, NULL));
    AV(avro_value_get_size(&arr, &n));
    if (n != METRICS_AUC_BINS)
        return -1;
    for (i = 0; i < n; i++) {
        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(avro_value_get_long(&item, &v));
        if (v < 0)
            return -1;
        bins[i] = (uint64_t)v;
    }
    return 0;
fail:
    return -1;
}

/* The totals beyond the first four, which every task needs to resume its
 * metrics exactly (AUC histogram, precision/recall, regression sums). */
static int read_metric_extras(avro_value_t *g, struct metrics_totals *t)
{
    int32_t task;
    int64_t v[3];

    AV(get_int_field(g, "task", &task));
    AV(get_long_field(g, "loss_count", &v[0]));
    AV(get_long_field(g, "predicted_positives", &v[1]));
    AV(get_long_field(g, "true_positives", &v[2]));
    AV(get_double_field(g, "squared_error_sum", &t->squared_error_sum));
    AV(get_double_field(g, "abs_error_sum", &t->abs_error_sum));
    AV(get_histogram(g, "auc_positives", t->auc_positives));
    AV(get_histogram(g, "auc_negatives", t->auc_negatives));
    if (task < METRICS_TASK_NONE || task > METRICS_TASK_MULTICLASS ||
        v[0] < 0 || v[1] < 0 || v[2] < 0)
        return -1;
    t->task = (uint32_t)task;
    t->loss_count = (uint64_t)v[0];
    t->predicted_positives = (uint64_t)v[1];
    t->true_positives = (uint64_t)v[2];
    return 0;
fail:
    return -1;
}

static int read_info(avro_value_t *rec, struct snapshot_info *info)
{
    const char *name;
    int64_t fp, crc;
    avro_value_t g, arr;
    int32_t format;

    memset(info, 0, sizeof(*info));
    AV(get_int_field(rec, "format_version", &format));
    if (format < SNAPSHOT_FORMAT_OLDEST || format > SNAPSHOT_FORMAT_VERSION)
        return RIFFLE_ERR_SNAPSHOT;
    info->format_version = format;
    AV(get_string_field(rec, "model_name", &name));
    snprintf(info->model_name, sizeof(info->model_name), "%s", name);
    AV(get_long_field(rec, "version", &info->version));
    AV(get_long_field(rec, "created_at_ms", &info->created_at_ms));
    AV(get_long_field(rec, "config_fingerprint", &fp));
    info->config_fingerprint = (uint64_t)fp;
    AV(get_int_field(rec, "bits", &info->bits));
    AV(get_long_field(rec, "nonzero_count", &info->nonzero_count));
    AV(get_long_field(rec, "weights_crc64", &crc));
    info->weights_crc64 = (uint64_t)crc;

    AV(avro_value_get_by_name(rec, "metrics", &g, NULL));
    AV(get_long_field(&g, "count", (int64_t *)&info->metrics.count));
    AV(get_long_field(&g, "correct", (int64_t *)&info->metrics.correct));
    AV(get_long_field(&g, "positives", (int64_t *)&info->metrics.positives));
    AV(get_double_field(&g, "logloss_sum", &info->metrics.logloss_sum));
    AV(get_long_field(&g, "dead_letters", &info->dead_letters));
    AV(read_metric_extras(&g, &info->metrics));

    AV(avro_value_get_by_name(rec, "offsets", &arr, NULL));
    AV(avro_value_get_size(&arr, &info->offset_count));
    return 0;
fail:
    return RIFFLE_ERR_DECODE;
}

/* A format 1 snapshot has no cleaning state and another schema: say so,
 * rather than that its fingerprint is unknown. */
static int refuse_old_format(const void *data, size_t len, char *errstr,
                             size_t errstr_size)
{
    uint64_t fp;
    char why[128];

    if (schema_peek_fingerprint(data, len, &fp, why, sizeof(why)) != 0 ||
        fp != SNAPSHOT_V1_FINGERPRINT)
        return 0;
    snprintf(errstr, errstr_size, "snapshot is of format 1, written before "
             "snapshots held the cleaning state; this riffle reads formats "
             "%d to %d: resume with the riffle that wrote it, or start the "
             "model afresh", SNAPSHOT_FORMAT_OLDEST, SNAPSHOT_FORMAT_VERSION);
    return RIFFLE_ERR_SNAPSHOT;
}

/* Format 2 of schemas/model_snapshot.avsc, without its docs (which the
 * fingerprint ignores): snapshots written before format 3 carry its
 * fingerprint and are read with it. Never edit: it must stay format 2. */
static const char snapshot_v2_schema[] =
    "{\"type\":\"record\",\"name\":\"ModelSnapshot\",\"namespace\":\"riffle"
    "\",\"fields\":[{\"name\":\"format_version\",\"type\":\"int\"},{\"name"
    "\":\"model_name\",\"type\":\"string\"},{\"name\":\"version\",\"type\":"
    "\"long\"},{\"name\":\"created_at_ms\",\"type\":\"long\"},{\"name\":\"c"
    "onfig_fingerprint\",\"type\":\"long\"},{\"name\":\"bits\",\"type\":\"i"
    "nt\"},{\"name\":\"loss\",\"type\":\"string\"},{\"name\":\"optimizer\","
    "\"type\":\"string\"},{\"name\":\"weight_encoding\",\"type\":\"string\""
    "},{\"name\":\"nonzero_count\",\"type\":\"long\"},{\"name\":\"weights\""
    ",\"type\":\"bytes\"},{\"name\":\"weights_crc64\",\"type\":\"long\"},{"
    "\"name\":\"field_stats\",\"type\":{\"type\":\"array\",\"items\":{\"typ"
    "e\":\"record\",\"name\":\"FieldStats\",\"fields\":[{\"name\":\"field\""
    ",\"type\":\"string\"},{\"name\":\"count\",\"type\":\"long\"},{\"name\""
    ":\"mean\",\"type\":\"double\"},{\"name\":\"m2\",\"type\":\"double\"}]}"
    "}},{\"name\":\"offsets\",\"type\":{\"type\":\"array\",\"items\":{\"typ"
    "e\":\"record\",\"name\":\"TopicOffset\",\"fields\":[{\"name\":\"topic"
    "\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"int\"},{\"n"
    "ame\":\"offset\",\"type\":\"long\"}]}}},{\"name\":\"metrics\",\"type\""
    ":{\"type\":\"record\",\"name\":\"ProgressiveMetrics\",\"fields\":[{\"n"
    "ame\":\"count\",\"type\":\"long\"},{\"name\":\"correct\",\"type\":\"lo"
    "ng\"},{\"name\":\"positives\",\"type\":\"long\"},{\"name\":\"logloss_s"
    "um\",\"type\":\"double\"},{\"name\":\"logloss\",\"type\":\"double\"},{"
    "\"name\":\"accuracy\",\"type\":\"double\"},{\"name\":\"dead_letters\","
    "\"type\":\"long\"},{\"name\":\"task\",\"type\":\"int\"},{\"name\":\"lo"
    "ss_count\",\"type\":\"long\"},{\"name\":\"predicted_positives\",\"type"
    "\":\"long\"},{\"name\":\"true_positives\",\"type\":\"long\"},{\"name\""
    ":\"squared_error_sum\",\"type\":\"double\"},{\"name\":\"abs_error_sum"
    "\",\"type\":\"double\"},{\"name\":\"auc_positives\",\"type\":{\"type\""
    ":\"array\",\"items\":\"long\"}},{\"name\":\"auc_negatives\",\"type\":{"
    "\"type\":\"array\",\"items\":\"long\"}}]}},{\"name\":\"cleaning\",\"ty"
    "pe\":{\"type\":\"record\",\"name\":\"CleaningState\",\"fields\":[{\"na"
    "me\":\"summaries\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\""
    "record\",\"name\":\"FieldSummary\",\"fields\":[{\"name\":\"field\",\"t"
    "ype\":\"string\"},{\"name\":\"kind\",\"type\":\"string\"},{\"name\":\""
    "state\",\"type\":\"bytes\"}]}}},{\"name\":\"dedup_ids\",\"type\":\"byt"
    "es\"},{\"name\":\"watermarks\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"Watermark\",\"fields\":[{\"name\":\"to"
    "pic\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"int\"},{"
    "\"name\":\"event_time_ms\",\"type\":\"double\"}]}}},{\"name\":\"duplic"
    "ates\",\"type\":\"long\"},{\"name\":\"late\",\"type\":\"long\"},{\"nam"
    "e\":\"out_of_order\",\"type\":\"long\"}]}},{\"name\":\"checksum\",\"ty"
    "pe\":\"long\"}]}";

/* Format 3 of schemas/model_snapshot.avsc, made as the one above:
 * snapshots written before format 4 carry its fingerprint and are read
 * with it. Never edit: it must stay format 3. */
static const char snapshot_v3_schema[] =
    "{\"type\":\"record\",\"name\":\"ModelSnapshot\",\"namespace\":\"riffle"
    "\",\"fields\":[{\"name\":\"format_version\",\"type\":\"int\"},{\"name"
    "\":\"model_name\",\"type\":\"string\"},{\"name\":\"version\",\"type\":"
    "\"long\"},{\"name\":\"created_at_ms\",\"type\":\"long\"},{\"name\":\"c"
    "onfig_fingerprint\",\"type\":\"long\"},{\"name\":\"bits\",\"type\":\"i"
    "nt\"},{\"name\":\"loss\",\"type\":\"string\"},{\"name\":\"optimizer\","
    "\"type\":\"string\"},{\"name\":\"weight_encoding\",\"type\":\"string\""
    "},{\"name\":\"nonzero_count\",\"type\":\"long\"},{\"name\":\"weights\""
    ",\"type\":\"bytes\"},{\"name\":\"weights_crc64\",\"type\":\"long\"},{"
    "\"name\":\"field_stats\",\"type\":{\"type\":\"array\",\"items\":{\"typ"
    "e\":\"record\",\"name\":\"FieldStats\",\"fields\":[{\"name\":\"field\""
    ",\"type\":\"string\"},{\"name\":\"count\",\"type\":\"long\"},{\"name\""
    ":\"mean\",\"type\":\"double\"},{\"name\":\"m2\",\"type\":\"double\"}]}"
    "}},{\"name\":\"offsets\",\"type\":{\"type\":\"array\",\"items\":{\"typ"
    "e\":\"record\",\"name\":\"TopicOffset\",\"fields\":[{\"name\":\"topic"
    "\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"int\"},{\"n"
    "ame\":\"offset\",\"type\":\"long\"}]}}},{\"name\":\"metrics\",\"type\""
    ":{\"type\":\"record\",\"name\":\"ProgressiveMetrics\",\"fields\":[{\"n"
    "ame\":\"count\",\"type\":\"long\"},{\"name\":\"correct\",\"type\":\"lo"
    "ng\"},{\"name\":\"positives\",\"type\":\"long\"},{\"name\":\"logloss_s"
    "um\",\"type\":\"double\"},{\"name\":\"logloss\",\"type\":\"double\"},{"
    "\"name\":\"accuracy\",\"type\":\"double\"},{\"name\":\"dead_letters\","
    "\"type\":\"long\"},{\"name\":\"task\",\"type\":\"int\"},{\"name\":\"lo"
    "ss_count\",\"type\":\"long\"},{\"name\":\"predicted_positives\",\"type"
    "\":\"long\"},{\"name\":\"true_positives\",\"type\":\"long\"},{\"name\""
    ":\"squared_error_sum\",\"type\":\"double\"},{\"name\":\"abs_error_sum"
    "\",\"type\":\"double\"},{\"name\":\"auc_positives\",\"type\":{\"type\""
    ":\"array\",\"items\":\"long\"}},{\"name\":\"auc_negatives\",\"type\":{"
    "\"type\":\"array\",\"items\":\"long\"}}]}},{\"name\":\"cleaning\",\"ty"
    "pe\":{\"type\":\"record\",\"name\":\"CleaningState\",\"fields\":[{\"na"
    "me\":\"summaries\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\""
    "record\",\"name\":\"FieldSummary\",\"fields\":[{\"name\":\"field\",\"t"
    "ype\":\"string\"},{\"name\":\"kind\",\"type\":\"string\"},{\"name\":\""
    "state\",\"type\":\"bytes\"}]}}},{\"name\":\"dedup_ids\",\"type\":\"byt"
    "es\"},{\"name\":\"watermarks\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"Watermark\",\"fields\":[{\"name\":\"to"
    "pic\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"int\"},{"
    "\"name\":\"event_time_ms\",\"type\":\"double\"}]}}},{\"name\":\"duplic"
    "ates\",\"type\":\"long\"},{\"name\":\"late\",\"type\":\"long\"},{\"nam"
    "e\":\"out_of_order\",\"type\":\"long\"}]}},{\"name\":\"pending_labels"
    "\",\"type\":{\"type\":\"record\",\"name\":\"PendingLabels\",\"fields\""
    ":[{\"name\":\"clock_ms\",\"type\":\"long\"},{\"name\":\"joined\",\"typ"
    "e\":\"long\"},{\"name\":\"duplicate\",\"type\":\"long\"},{\"name\":\"l"
    "ate\",\"type\":\"long\"},{\"name\":\"unknown\",\"type\":\"long\"},{\"n"
    "ame\":\"expired\",\"type\":\"long\"},{\"name\":\"evicted\",\"type\":\""
    "long\"},{\"name\":\"events\",\"type\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"record\",\"name\":\"PendingEvent\",\"fields\":[{\"name\":\""
    "event_id\",\"type\":\"string\"},{\"name\":\"state\",\"type\":\"int\"},"
    "{\"name\":\"timestamp_ms\",\"type\":\"long\"},{\"name\":\"model_versio"
    "n\",\"type\":\"long\"},{\"name\":\"probability\",\"type\":\"double\"},"
    "{\"name\":\"value\",\"type\":\"double\"},{\"name\":\"predicted_class\""
    ",\"type\":\"int\"},{\"name\":\"features\",\"type\":\"bytes\"}]}}}]}},{"
    "\"name\":\"checksum\",\"type\":\"long\"}]}";

/* Format 4 of schemas/model_snapshot.avsc, made as the ones above:
 * snapshots written before format 5 carry its fingerprint and are read
 * with it. Never edit: it must stay format 4. */
static const char snapshot_v4_schema[] =
    "{\"type\":\"record\",\"name\":\"ModelSnapshot\",\"namespace\":\"riff"
    "le\",\"fields\":[{\"name\":\"format_version\",\"type\":\"int\"},{\"n"
    "ame\":\"model_name\",\"type\":\"string\"},{\"name\":\"version\",\"ty"
    "pe\":\"long\"},{\"name\":\"created_at_ms\",\"type\":\"long\"},{\"nam"
    "e\":\"config_fingerprint\",\"type\":\"long\"},{\"name\":\"bits\",\"t"
    "ype\":\"int\"},{\"name\":\"loss\",\"type\":\"string\"},{\"name\":\"o"
    "ptimizer\",\"type\":\"string\"},{\"name\":\"weight_encoding\",\"type"
    "\":\"string\"},{\"name\":\"nonzero_count\",\"type\":\"long\"},{\"nam"
    "e\":\"weights\",\"type\":\"bytes\"},{\"name\":\"weights_crc64\",\"ty"
    "pe\":\"long\"},{\"name\":\"normalized_examples\",\"type\":\"long\","
    "\"default\":0},{\"name\":\"normalized_norm_sum\",\"type\":\"double\""
    ",\"default\":0.0},{\"name\":\"field_stats\",\"type\":{\"type\":\"arr"
    "ay\",\"items\":{\"type\":\"record\",\"name\":\"FieldStats\",\"fields"
    "\":[{\"name\":\"field\",\"type\":\"string\"},{\"name\":\"count\",\"t"
    "ype\":\"long\"},{\"name\":\"mean\",\"type\":\"double\"},{\"name\":\""
    "m2\",\"type\":\"double\"}]}}},{\"name\":\"offsets\",\"type\":{\"type"
    "\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"TopicOffset\""
    ",\"fields\":[{\"name\":\"topic\",\"type\":\"string\"},{\"name\":\"pa"
    "rtition\",\"type\":\"int\"},{\"name\":\"offset\",\"type\":\"long\"}]"
    "}}},{\"name\":\"metrics\",\"type\":{\"type\":\"record\",\"name\":\"P"
    "rogressiveMetrics\",\"fields\":[{\"name\":\"count\",\"type\":\"long"
    "\"},{\"name\":\"correct\",\"type\":\"long\"},{\"name\":\"positives\""
    ",\"type\":\"long\"},{\"name\":\"logloss_sum\",\"type\":\"double\"},{"
    "\"name\":\"logloss\",\"type\":\"double\"},{\"name\":\"accuracy\",\"t"
    "ype\":\"double\"},{\"name\":\"dead_letters\",\"type\":\"long\"},{\"n"
    "ame\":\"task\",\"type\":\"int\"},{\"name\":\"loss_count\",\"type\":"
    "\"long\"},{\"name\":\"predicted_positives\",\"type\":\"long\"},{\"na"
    "me\":\"true_positives\",\"type\":\"long\"},{\"name\":\"squared_error"
    "_sum\",\"type\":\"double\"},{\"name\":\"abs_error_sum\",\"type\":\"d"
    "ouble\"},{\"name\":\"auc_positives\",\"type\":{\"type\":\"array\",\""
    "items\":\"long\"}},{\"name\":\"auc_negatives\",\"type\":{\"type\":\""
    "array\",\"items\":\"long\"}}]}},{\"name\":\"cleaning\",\"type\":{\"t"
    "ype\":\"record\",\"name\":\"CleaningState\",\"fields\":[{\"name\":\""
    "summaries\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"recor"
    "d\",\"name\":\"FieldSummary\",\"fields\":[{\"name\":\"field\",\"type"
    "\":\"string\"},{\"name\":\"kind\",\"type\":\"string\"},{\"name\":\"s"
    "tate\",\"type\":\"bytes\"}]}}},{\"name\":\"dedup_ids\",\"type\":\"by"
    "tes\"},{\"name\":\"watermarks\",\"type\":{\"type\":\"array\",\"items"
    "\":{\"type\":\"record\",\"name\":\"Watermark\",\"fields\":[{\"name\""
    ":\"topic\",\"type\":\"string\"},{\"name\":\"partition\",\"type\":\"i"
    "nt\"},{\"name\":\"event_time_ms\",\"type\":\"double\"}]}}},{\"name\""
    ":\"duplicates\",\"type\":\"long\"},{\"name\":\"late\",\"type\":\"lon"
    "g\"},{\"name\":\"out_of_order\",\"type\":\"long\"}]}},{\"name\":\"pe"
    "nding_labels\",\"type\":{\"type\":\"record\",\"name\":\"PendingLabel"
    "s\",\"fields\":[{\"name\":\"clock_ms\",\"type\":\"long\"},{\"name\":"
    "\"joined\",\"type\":\"long\"},{\"name\":\"duplicate\",\"type\":\"lon"
    "g\"},{\"name\":\"late\",\"type\":\"long\"},{\"name\":\"unknown\",\"t"
    "ype\":\"long\"},{\"name\":\"expired\",\"type\":\"long\"},{\"name\":"
    "\"evicted\",\"type\":\"long\"},{\"name\":\"events\",\"type\":{\"type"
    "\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"PendingEvent"
    "\",\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},{\"name\""
    ":\"state\",\"type\":\"int\"},{\"name\":\"timestamp_ms\",\"type\":\"l"
    "ong\"},{\"name\":\"model_version\",\"type\":\"long\"},{\"name\":\"pr"
    "obability\",\"type\":\"double\"},{\"name\":\"value\",\"type\":\"doub"
    "le\"},{\"name\":\"predicted_class\",\"type\":\"int\"},{\"name\":\"fe"
    "atures\",\"type\":\"bytes\"}]}}}]}},{\"name\":\"checksum\",\"type\":"
    "\"long\"}]}";

/* The writers' schemas of the older formats still read, oldest first. */
static const struct {
    const char *json;
    size_t len;
    const char *origin;
} snapshot_legacy[] = {
    {snapshot_v2_schema, sizeof(snapshot_v2_schema) - 1, "snapshot format 2"},
    {snapshot_v3_schema, sizeof(snapshot_v3_schema) - 1, "snapshot format 3"},
    {snapshot_v4_schema, sizeof(snapshot_v4_schema) - 1, "snapshot format 4"},
};
#define SNAPSHOT_LEGACY_COUNT                                                \
    (sizeof(snapshot_legacy) / sizeof(snapshot_legacy[0]))

/* The schema of an older format whose fingerprint is fp, into *legacy
 * (NULL when none has it). Returns 0 or the error of loading one. */
static int find_legacy(uint64_t fp, struct schema **legacy, char *errstr,
                       size_t size)
{
    size_t i;
    int err;

    for (i = 0; i < SNAPSHOT_LEGACY_COUNT; i++) {
        err = schema_load_json(snapshot_legacy[i].json,
                               snapshot_legacy[i].len,
                               snapshot_legacy[i].origin, legacy, errstr,
                               size);
        if (err)
            return err;
        if (fp == schema_fingerprint(*legacy))
            return 0;
        schema_destroy(*legacy);
    }
    *legacy = NULL;
    return 0;
}

/* Reads data with the current snapshot schema or, when it carries the
 * fingerprint of an older format's, with that one: the writer's schema,
 * and the fields it lacks take their defaults where they are read.
 * *rec is a new value and *legacy the older schema or NULL: the caller
 * decrefs the one, then destroys the other (only after a 0 return). */
static int read_any_format(const struct schema *schema, const void *data,
                           size_t len, avro_value_t *rec,
                           struct schema **legacy, char *errstr, size_t size)
{
    const struct schema *use = schema;
    uint64_t fp;
    int err = refuse_old_format(data, len, errstr, size);

    *legacy = NULL;
    if (err)
        return err;
    if (schema_peek_fingerprint(data, len, &fp, errstr, size) == 0 &&
        fp != schema_fingerprint(schema)) {
        err = find_legacy(fp, legacy, errstr, size);
        if (err)
            return err;
        if (*legacy)
            use = *legacy;
    }
    err = schema_new_value(use, rec);
    if (!err) {
        err = schema_read_value(use, data, len, rec, errstr, size);
        if (err)
            avro_value_decref(rec);
    }
    if (err) {
        schema_destroy(*legacy);
        *legacy = NULL;
    }
    return err;
}

int snapshot_read_value(const struct schema *schema, const void *data,
                        size_t len, avro_value_t *rec, struct schema **legacy,
                        char *errstr, size_t errstr_size)
{
    return read_any_format(schema, data, len, rec, legacy, errstr,
                           errstr_size);
}

int snapshot_read_info(const struct schema *schema, const void *data,
                       size_t len, struct snapshot_info *info, char *errstr,
                       size_t errstr_size)
{
    struct schema *legacy;
    avro_value_t rec;
    int err = read_any_format(schema, data, len, &rec, &legacy, errstr,
                              errstr_size);

    if (err)
        return err;
    err = read_info(&rec, info);
    if (err)
        snprintf(errstr, errstr_size, "snapshot fields unreadable or "
                 "format version is not %d to %d", SNAPSHOT_FORMAT_OLDEST,
                 SNAPSHOT_FORMAT_VERSION);
    avro_value_decref(&rec);
    schema_destroy(legacy);
    return err;
}

/* A weights field unpacked: count floats in w and in each of the first
 * states arrays of s, zeroed before unpacking. */
struct unpacked {
    float *w;
    float *s[MODEL_MAX_STATE_ARRAYS];
    size_t states; /* state arrays per entry in the encoding */
    int dense;     /* SNAPSHOT_WEIGHT_ENCODING_DENSE */
};

/* Whether the float at p, and the states after it, are all finite. */
static int entry_finite(const unsigned char *p, size_t states)
{
    size_t k;

    for (k = 0; k <= states; k++)
        if (!isfinite(get_f32(p + 4 + 4 * k)))
            return 0;
    return 1;
}

/* Unpacks and checks the sparse weights into u. */
static int unpack_weights(const unsigned char *p, size_t len, size_t count,
                          int64_t nonzero, struct unpacked *u, char *errstr,
                          size_t errstr_size)
{
    size_t bytes = SNAPSHOT_ENTRY_BYTES_V2(u->states);
    size_t i, k, entries = len / bytes;
    int64_t last = -1;

    if (len % bytes != 0 || (int64_t)entries != nonzero) {
        snprintf(errstr, errstr_size,
                 "weights: %zu bytes do not hold %lld entries of %zu bytes",
                 len, (long long)nonzero, bytes);
        return RIFFLE_ERR_SNAPSHOT;
    }

    for (i = 0; i < entries; i++, p += bytes) {
        uint32_t index = get_u32(p);

        if (index >= count || (int64_t)index <= last ||
            !entry_finite(p, u->states)) {
            snprintf(errstr, errstr_size,
                     "weights: entry %zu (byte %zu) has index %u or a value "
                     "that is out of order, out of range or not finite", i,
                     i * bytes, index);
            return RIFFLE_ERR_SNAPSHOT;
        }
        u->w[index] = get_f32(p + 4);
        for (k = 0; k < u->states; k++)
            u->s[k][index] = get_f32(p + 8 + 4 * k);
        last = index;
    }
    return 0;
}

/* Unpacks and checks the dense weights into u: every value finite, and
 * as many slots in use as the snapshot says. */
static int unpack_dense(const unsigned char *p, size_t len, size_t count,
                        int64_t nonzero, struct unpacked *u, char *errstr,
                        size_t errstr_size)
{
    size_t bytes = SNAPSHOT_DENSE_ENTRY_BYTES(u->states), i, k;
    int64_t used = 0;
    int in_use;

    if (len != count * bytes) {
        snprintf(errstr, errstr_size, "weights: %zu bytes are not %zu dense "
                 "entries of %zu bytes", len, count, bytes);
        return RIFFLE_ERR_SNAPSHOT;
    }
    for (i = 0; i < count; i++, p += bytes) {
        int finite;

        u->w[i] = get_f32(p);
        in_use = !is_plus_zero(u->w[i]);
        finite = isfinite(u->w[i]);
        for (k = 0; k < u->states; k++) {
            u->s[k][i] = get_f32(p + 4 + 4 * k);
            in_use |= !is_plus_zero(u->s[k][i]);
            finite &= isfinite(u->s[k][i]) != 0;
        }
        if (!finite) {
            snprintf(errstr, errstr_size, "weights: entry %zu (byte %zu) is "
                     "not finite", i, i * bytes);
            return RIFFLE_ERR_SNAPSHOT;
        }
        used += in_use;
    }
    if (used != nonzero) {
        snprintf(errstr, errstr_size, "weights: %lld slots in use, the "
                 "snapshot says %lld", (long long)used, (long long)nonzero);
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

static int check_identity(const struct snapshot_info *info,
                          const struct cfg *cfg, char *errstr,
                          size_t errstr_size)
{
    if (strcmp(info->model_name, cfg->model_name) != 0) {
        snprintf(errstr, errstr_size, "snapshot is of model \"%s\", not "
                 "\"%s\"", info->model_name, cfg->model_name);
        return RIFFLE_ERR_SNAPSHOT;
    }
    if (info->config_fingerprint != cfg_model_fingerprint(cfg) ||
        info->bits != (int32_t)cfg->model.bits) {
        snprintf(errstr, errstr_size,
                 "snapshot version %lld was made under other learner or "
                 "field settings (fingerprint %016llx, bits %d; this "
                 "configuration: %016llx, bits %u)", (long long)info->version,
                 (unsigned long long)info->config_fingerprint, info->bits,
                 (unsigned long long)cfg_model_fingerprint(cfg),
                 cfg->model.bits);
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

/* A version no stream reaches (146,000 years at a million updates a
 * second), far enough below INT64_MAX that the updates after a restore
 * cannot wrap it negative. */
#define SNAPSHOT_MAX_VERSION ((int64_t)1 << 62)

/* The counts and sums every snapshot riffle writes keeps within: sums of
 * losses only grow from 0 (+inf is possible, NaN is not), and no count
 * of events exceeds the events scored. A record that passes its checksum
 * but breaks one was written by something else, and would make the
 * learner report an accuracy above 1 or a NaN log loss for ever, and
 * write version numbers that wrap. */
static int check_totals(const struct snapshot_info *info, char *errstr,
                        size_t errstr_size)
{
    const struct metrics_totals *t = &info->metrics;

    if (info->version < 0 || info->version > SNAPSHOT_MAX_VERSION) {
        snprintf(errstr, errstr_size, "snapshot version %lld is out of "
                 "range (0 to 2^62)", (long long)info->version);
        return RIFFLE_ERR_SNAPSHOT;
    }
    if ((int64_t)t->count < 0 || info->dead_letters < 0 ||
        t->correct > t->count || t->positives > t->count ||
        t->loss_count > t->count || t->predicted_positives > t->count ||
        t->true_positives > t->positives ||
        t->true_positives > t->predicted_positives ||
        !(t->logloss_sum >= 0) || !(t->squared_error_sum >= 0) ||
        !(t->abs_error_sum >= 0)) {
        snprintf(errstr, errstr_size, "snapshot version %lld: progressive "
                 "metrics out of range (a count negative or above the %lld "
                 "events scored, or a loss sum negative or NaN)",
                 (long long)info->version, (long long)t->count);
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

static int read_weights(avro_value_t *rec, const struct snapshot_info *info,
                        size_t count, struct unpacked *u, char *errstr,
                        size_t errstr_size)
{
    avro_value_t f;
    const void *bytes;
    const char *encoding;
    size_t len;
    int64_t crc;

    if (avro_value_get_by_name(rec, "weights", &f, NULL) != 0 ||
        avro_value_get_bytes(&f, &bytes, &len) != 0 ||
        get_long_field(rec, "weights_crc64", &crc) != 0 ||
        get_string_field(rec, "weight_encoding", &encoding) != 0) {
        snprintf(errstr, errstr_size, "snapshot has no readable weights");
        return RIFFLE_ERR_SNAPSHOT;
    }
    if (strcmp(encoding, SNAPSHOT_WEIGHT_ENCODING_V1) == 0) {
        u->states = 1;
    } else if (strcmp(encoding, SNAPSHOT_WEIGHT_ENCODING_DENSE) == 0) {
        u->dense = 1;
    } else if (strcmp(encoding, SNAPSHOT_WEIGHT_ENCODING) != 0) {
        snprintf(errstr, errstr_size,
                 "snapshot version %lld: weight encoding \"%s\" is none of "
                 "%s, %s and %s", (long long)info->version, encoding,
                 SNAPSHOT_WEIGHT_ENCODING_DENSE, SNAPSHOT_WEIGHT_ENCODING,
                 SNAPSHOT_WEIGHT_ENCODING_V1);
        return RIFFLE_ERR_SNAPSHOT;
    }
    /* weights_crc64 is not computed again: the record's checksum, which
     * snapshot_restore() checked before decoding, covers these bytes and
     * the field itself, and a second pass over a large model costs as
     * much as the first. */
    (void)crc;
    if (u->dense)
        return unpack_dense(bytes, len, count, info->nonzero_count, u,
                            errstr, errstr_size);
    return unpack_weights(bytes, len, count, info->nonzero_count, u,
                          errstr, errstr_size);
}

static int read_stats(avro_value_t *rec, const struct cfg *cfg,
                      struct running_stats *stats)
{
    avro_value_t arr, item;
    size_t i, n;

    AV(avro_value_get_by_name(rec, "field_stats", &arr, NULL));
    AV(avro_value_get_size(&arr, &n));
    for (i = 0; i < n; i++) {
        const char *name;
        const struct cfg_field *f;
        int64_t count;

        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(get_string_field(&item, "field", &name));
        f = cfg_find_field(cfg, name);
        if (!f)
            return RIFFLE_ERR_SNAPSHOT; /* fingerprint should have caught */
        AV(get_long_field(&item, "count", &count));
        stats[f - cfg->fields].count = (uint64_t)count;
        AV(get_double_field(&item, "mean", &stats[f - cfg->fields].mean));
        AV(get_double_field(&item, "m2", &stats[f - cfg->fields].m2));
        if (count < 0 || !isfinite(stats[f - cfg->fields].mean) ||
            !(stats[f - cfg->fields].m2 >= 0) ||
            !isfinite(stats[f - cfg->fields].m2))
            return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

/* Appends the entries of the array field `name` to offsets (*n of max
 * used), `checked` set as given. */
static int read_offset_array(avro_value_t *rec, const char *name,
                             int checked, struct snapshot_offset *offsets,
                             size_t max, size_t *n)
{
    avro_value_t arr, item;
    size_t i, count;

    AV(avro_value_get_by_name(rec, name, &arr, NULL));
    AV(avro_value_get_size(&arr, &count));
    if (count > max - *n)
        return RIFFLE_ERR_SNAPSHOT;
    for (i = 0; i < count; i++) {
        struct snapshot_offset *o = &offsets[*n + i];
        const char *topic;

        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(get_string_field(&item, "topic", &topic));
        snprintf(o->topic, sizeof(o->topic), "%s", topic);
        AV(get_int_field(&item, "partition", &o->partition));
        AV(get_long_field(&item, "offset", &o->offset));
        o->checked = checked;
        if (o->partition < 0 || o->offset < 0)
            return RIFFLE_ERR_SNAPSHOT;
    }
    *n += count;
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

/* The offsets, then the join's checked positions (none before format
 * 5, whose writer's schema has no such field). */
static int read_offsets(avro_value_t *rec, struct snapshot_offset *offsets,
                        size_t max, size_t *n)
{
    avro_value_t f;

    *n = 0;
    if (read_offset_array(rec, "offsets", 0, offsets, max, n) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    if (avro_value_get_by_name(rec, "join_checked", &f, NULL) != 0)
        return 0;
    return read_offset_array(rec, "join_checked", 1, offsets, max, n);
}

/* --- the cleaning record -------------------------------------------- */

static int read_summaries(avro_value_t *g, const struct cfg *cfg,
                          struct online_restore *r)
{
    avro_value_t arr, item, f;
    const struct cfg_field *field;
    const char *name, *kind_name;
    const void *state;
    size_t i, n, len;
    int kind, err;

    AV(avro_value_get_by_name(g, "summaries", &arr, NULL));
    AV(avro_value_get_size(&arr, &n));
    for (i = 0; i < n; i++) {
        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(get_string_field(&item, "field", &name));
        AV(get_string_field(&item, "kind", &kind_name));
        AV(avro_value_get_by_name(&item, "state", &f, NULL));
        AV(avro_value_get_bytes(&f, &state, &len));
        field = cfg_find_field(cfg, name);
        kind = clean_summary_kind(kind_name);
        if (!field || kind < 0)
            continue; /* the rules changed: the summary is of no use */
        err = cleaner_stage_load(online_restore_summaries(r),
                                 (size_t)(field - cfg->fields), kind, state,
                                 len);
        if (err && err != RIFFLE_ERR_EOF)
            return err;
    }
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

static int read_watermarks(avro_value_t *g, struct online_learner *ol,
                           struct online_restore *r)
{
    avro_value_t arr, item;
    const char *topic;
    int32_t partition;
    double t;
    size_t i, n;

    AV(avro_value_get_by_name(g, "watermarks", &arr, NULL));
    AV(avro_value_get_size(&arr, &n));
    for (i = 0; i < n; i++) {
        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(get_string_field(&item, "topic", &topic));
        AV(get_int_field(&item, "partition", &partition));
        AV(get_double_field(&item, "event_time_ms", &t));
        if (online_restore_watermark(ol, r, topic, partition, t) != 0)
            return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

/* Reads the cleaning record into *out (the caller commits or destroys
 * it). Returns 0, RIFFLE_ERR_NOMEM or RIFFLE_ERR_SNAPSHOT. */
static int read_cleaning(avro_value_t *rec, struct online_learner *ol,
                         struct online_restore **out)
{
    struct online_restore *r = NULL;
    struct online_lateness late;
    avro_value_t g, f;
    const void *ids;
    size_t len;
    int64_t v[3];
    int err = online_restore_new(ol, &r);

    if (err)
        return err;
    err = RIFFLE_ERR_SNAPSHOT;
    AV(avro_value_get_by_name(rec, "cleaning", &g, NULL));
    AV(get_long_field(&g, "duplicates", &v[0]));
    AV(get_long_field(&g, "late", &v[1]));
    AV(get_long_field(&g, "out_of_order", &v[2]));
    AV(avro_value_get_by_name(&g, "dedup_ids", &f, NULL));
    AV(avro_value_get_bytes(&f, &ids, &len));
    if (v[0] < 0 || v[1] < 0 || v[2] < 0)
        goto fail;
    late.late = (uint64_t)v[1];
    late.out_of_order = (uint64_t)v[2];
    online_restore_counts(r, (uint64_t)v[0], &late);

    err = len > 0 ? online_restore_dedup(r, ids, len) : 0;
    if (!err)
        err = read_summaries(&g, online_cfg(ol), r);
    if (!err)
        err = read_watermarks(&g, ol, r);
    if (!err) {
        *out = r;
        return 0;
    }
fail:
    online_restore_destroy(r);
    return err;
}

/* The normalized optimizer's totals, or the defaults model_snapshot.avsc
 * gives them when the snapshot predates them: formats 2 and 3, read with
 * their writer's schema, have no such fields. */
static int read_norm_totals(avro_value_t *rec, struct model_norm_totals *nt)
{
    avro_value_t f;
    int64_t examples;

    if (avro_value_get_by_name(rec, "normalized_examples", &f, NULL) != 0) {
        nt->examples = SNAPSHOT_DEFAULT_NORM_EXAMPLES;
        nt->norm_sum = SNAPSHOT_DEFAULT_NORM_SUM;
        return 0;
    }
    AV(avro_value_get_long(&f, &examples));
    AV(get_double_field(rec, "normalized_norm_sum", &nt->norm_sum));
    if (examples < 0)
        return -1;
    nt->examples = (uint64_t)examples;
    return 0;
fail:
    return -1;
}

/* Puts the weights, state arrays and normalized totals into m, or
 * nothing: the totals are put back when the model refuses the arrays. */
static int restore_model(struct model *m, const struct unpacked *u,
                         const struct model_norm_totals *nt,
                         int64_t version)
{
    struct model_norm_totals old;

    model_copy_norm_totals(m, &old);
    if (model_restore_norm_totals(m, nt) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    if (model_restore_state(m, u->w, (const float *const *)u->s, u->states,
                            (uint64_t)version) != 0) {
        (void)model_restore_norm_totals(m, &old); /* checked when set */
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

/* Decodes everything into temporaries, then commits to ol at once. */
static int restore_from_value(avro_value_t *rec, struct online_learner *ol,
                              struct snapshot_offset *offsets, size_t max,
                              size_t *n, struct snapshot_info *info,
                              char *errstr, size_t errstr_size)
{
    const struct cfg *cfg = online_cfg(ol);
    struct model *m = online_model(ol);
    size_t count = model_weight_count(m);
    struct running_stats stats[CFG_MAX_FIELDS];
    struct snapshot_offset *found = calloc(SNAPSHOT_MAX_OFFSETS,
                                           sizeof(*found));
    size_t found_count = 0;
    struct online_restore *cleaning = NULL;
    struct unpacked u = {0};
    struct model_norm_totals totals;
    struct label_join *labels = NULL;
    int64_t label_clock = 0;
    size_t k;
    int err = 0;

    /* A v2 snapshot carries the model's arrays, a v1 snapshot one. */
    u.states = model_state_count(m);
    memset(stats, 0, sizeof(stats));
    u.w = calloc(count, sizeof(float));
    for (k = 0; k < (u.states > 1 ? u.states : 1); k++) {
        u.s[k] = calloc(count, sizeof(float));
        if (!u.s[k])
            err = RIFFLE_ERR_NOMEM;
    }
    if (!u.w || !found || err) {
        err = RIFFLE_ERR_NOMEM;
        goto out;
    }

    err = read_info(rec, info);
    if (err) {
        snprintf(errstr, errstr_size, "snapshot fields unreadable or format "
                 "version is not %d to %d", SNAPSHOT_FORMAT_OLDEST,
                 SNAPSHOT_FORMAT_VERSION);
        goto out;
    }
    err = check_identity(info, cfg, errstr, errstr_size);
    if (!err)
        err = check_totals(info, errstr, errstr_size);
    if (!err)
        err = read_weights(rec, info, count, &u, errstr, errstr_size);
    if (!err && (read_stats(rec, cfg, stats) != 0 ||
                 read_offsets(rec, found, max < SNAPSHOT_MAX_OFFSETS
                                              ? max : SNAPSHOT_MAX_OFFSETS,
                              &found_count) != 0)) {
        snprintf(errstr, errstr_size, "snapshot version %lld: field "
                 "statistics or offsets unreadable", (long long)info->version);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err) {
        err = read_cleaning(rec, ol, &cleaning);
        if (err == RIFFLE_ERR_SNAPSHOT)
            snprintf(errstr, errstr_size, "snapshot version %lld: cleaning "
                     "state (summaries, duplicate window or watermarks) "
                     "unreadable or damaged", (long long)info->version);
    }
    if (!err) {
        err = snapshot_labels_read(rec, ol, &labels, &label_clock);
        if (err)
            snprintf(errstr, errstr_size, "snapshot version %lld: pending "
                     "labels unreadable", (long long)info->version);
    }
    if (!err && read_norm_totals(rec, &totals) != 0) {
        snprintf(errstr, errstr_size, "snapshot version %lld: normalized "
                 "totals unreadable or negative", (long long)info->version);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err && restore_model(m, &u, &totals, info->version) != 0) {
        snprintf(errstr, errstr_size, "snapshot version %lld: the model "
                 "refused the weights or the normalized totals",
                 (long long)info->version);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err) {
        memcpy(online_stats(ol), stats, cfg->field_count * sizeof(stats[0]));
        metrics_restore(online_metrics(ol), &info->metrics);
        online_set_dead_letter_count(ol, (uint64_t)info->dead_letters);
        memcpy(offsets, found, found_count * sizeof(*found));
        *n = found_count;
        online_restore_commit(ol, cleaning);
        cleaning = NULL;
        online_replace_label_join(ol, labels, label_clock);
        labels = NULL;
    }

out:
    label_join_destroy(labels);
    online_restore_destroy(cleaning);
    free(found);
    free(u.w);
    for (k = 0; k < MODEL_MAX_STATE_ARRAYS; k++)
        free(u.s[k]);
    return err;
}

static int check_checksum(avro_value_t *rec, const void *data, size_t len,
                          char *errstr, size_t errstr_size)
{
    int64_t checksum;

    if (get_long_field(rec, "checksum", &checksum) != 0 ||
        (uint64_t)checksum != body_crc(data, len, checksum)) {
        snprintf(errstr, errstr_size, "snapshot checksum mismatch: the "
                 "message is damaged");
        return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

int snapshot_restore(const struct schema *schema, struct online_learner *ol,
                     const void *data, size_t len,
                     struct snapshot_offset *offsets, size_t max, size_t *n,
                     struct snapshot_info *info, char *errstr,
                     size_t errstr_size)
{
    struct snapshot_info local;
    struct schema *legacy;
    avro_value_t rec;
    int err = read_any_format(schema, data, len, &rec, &legacy, errstr,
                              errstr_size);

    if (err)
        return err;
    if (!info)
        info = &local;

    err = check_checksum(&rec, data, len, errstr, errstr_size);
    if (!err)
        err = restore_from_value(&rec, ol, offsets, max, n, info, errstr,
                                 errstr_size);

    avro_value_decref(&rec);
    schema_destroy(legacy);
    return err;
}

/* --- files ----------------------------------------------------------- */

#define SNAPSHOT_FILE_MAX_BYTES (1L << 31) /* 2 GiB: above any 2^28 model */

/* The temporary file a snapshot is written to before it is renamed over
 * path, "<path>.tmp", into tmp: built to any length, so a long path is
 * never cut. Returns 0, or RIFFLE_ERR_NOMEM with errstr set. */
static int temp_path(const char *path, struct buf *tmp, char *errstr,
                     size_t errstr_size)
{
    if (buf_printf(tmp, "%s.tmp", path) == 0)
        return 0;
    snprintf(errstr, errstr_size, "%s: out of memory", path);
    return RIFFLE_ERR_NOMEM;
}

/* Words the failure of `step` ("writing", "closing", "renaming") on the
 * temporary file `tmp` standing in for `path`, from errno, the same way for
 * the probe and the save; returns RIFFLE_ERR_IO. */
static int write_failed(const char *path, const char *step, const char *tmp,
                        char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s: cannot write the snapshot: %s "
             "(%s %s)", path, strerror(errno), step, tmp);
    return RIFFLE_ERR_IO;
}

int snapshot_probe_file(const char *path, char *errstr, size_t errstr_size)
{
    struct buf tmp = {0};
    struct stat st;
    FILE *f;
    int err;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: cannot write the snapshot: a "
                 "folder, not a file to write the model to", path);
        return RIFFLE_ERR_IO;
    }
    err = temp_path(path, &tmp, errstr, errstr_size);
    if (err)
        return err;
    f = fopen(tmp.data, "wb");
    if (!f) {
        err = write_failed(path, "writing", tmp.data, errstr, errstr_size);
    } else {
        (void)fclose(f);        /* empty: nothing to lose */
        (void)remove(tmp.data); /* the save writes it afresh */
    }
    buf_free(&tmp);
    return err;
}

int snapshot_save_file(const struct schema *schema, struct online_learner *ol,
                       const struct snapshot_offset *offsets, size_t n,
                       const char *path, char *errstr, size_t errstr_size)
{
    struct buf out = {0};
    struct buf tmp = {0};
    FILE *f = NULL;
    int err, closed;

    err = snapshot_encode(schema, ol, offsets, n, kafka_now_ms(), &out,
                          errstr, errstr_size);
    if (!err)
        err = temp_path(path, &tmp, errstr, errstr_size);
    if (err)
        goto out;

    /* Errors name the file asked for, and the temporary one as where. */
    f = fopen(tmp.data, "wb");
    if (!f || fwrite(out.data, 1, out.len, f) != out.len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        err = write_failed(path, "writing", tmp.data, errstr, errstr_size);
        goto out;
    }
    closed = fclose(f);
    f = NULL;
    if (closed != 0 || rename(tmp.data, path) != 0) {
        err = write_failed(path, closed != 0 ? "closing" : "renaming",
                           tmp.data, errstr, errstr_size);
        (void)remove(tmp.data); /* worthless without the rename */
    }

out:
    if (f) {
        fclose(f);
        (void)remove(tmp.data); /* the partial file is worthless */
    }
    buf_free(&tmp);
    buf_free(&out);
    return err;
}

static int read_whole_file(const char *path, struct buf *out, char *errstr,
                           size_t errstr_size)
{
    char chunk[65536];
    size_t got;
    FILE *f = fopen(path, "rb");
    int err = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return RIFFLE_ERR_IO;
    }
    while (!err && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + got > (size_t)SNAPSHOT_FILE_MAX_BYTES) {
            snprintf(errstr, errstr_size, "%s: larger than %ld bytes", path,
                     SNAPSHOT_FILE_MAX_BYTES);
            err = RIFFLE_ERR_SNAPSHOT;
        } else {
            err = buf_append(out, chunk, got);
        }
    }
    if (!err && ferror(f)) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        err = RIFFLE_ERR_IO;
    }
    fclose(f);
    return err;
}

int snapshot_load_file(const struct schema *schema, struct online_learner *ol,
                       const char *path, struct snapshot_offset *offsets,
                       size_t max, size_t *n, struct snapshot_info *info,
                       char *errstr, size_t errstr_size)
{
    struct buf data = {0};
    char why[512];
    int err = read_whole_file(path, &data, errstr, errstr_size);

    /* A file of another kind (a CSV, a gzip, the JSON `watch models`
     * prints) is told apart from a damaged snapshot at its first bytes,
     * the single-object marker every snapshot begins with. */
    if (!err && (data.len < 2 || (unsigned char)data.data[0] != 0xC3 ||
                 data.data[1] != 0x01)) {
        snprintf(errstr, errstr_size, "%s: not a snapshot file (one begins "
                 "with the bytes c3 01; riffle train --snapshot FILE writes "
                 "one)", path);
        err = RIFFLE_ERR_DECODE;
    } else if (!err) {
        err = snapshot_restore(schema, ol, data.data, data.len, offsets, max,
                               n, info, why, sizeof(why));
        if (err)
            snprintf(errstr, errstr_size, "%s: %s", path, why);
    }
    buf_free(&data);
    return err;
}
