/*
 * learner/snapshot.c - snapshot encoding and restore, see snapshot.h.
 *
 * The weights travel as one Avro bytes field in a sparse little-endian
 * layout rather than an Avro array of floats: a hashed model is mostly
 * zeros, and one flat buffer is a single copy each way.
 */
#include "learner/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

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

/* Packs every non-zero (weight, state) pair. */
static int pack_weights(const struct model *m, struct buf *out,
                        int64_t *nonzero)
{
    const float *w = model_weights(m);
    const float *s = model_optimizer_state(m);
    size_t i, count = model_weight_count(m);
    unsigned char entry[SNAPSHOT_ENTRY_BYTES];

    *nonzero = 0;
    for (i = 0; i < count; i++) {
        if (w[i] == 0.0f && s[i] == 0.0f)
            continue;
        put_u32(entry, (uint32_t)i);
        put_f32(entry + 4, w[i]);
        put_f32(entry + 8, s[i]);
        if (buf_append(out, entry, sizeof(entry)) != 0)
            return RIFFLE_ERR_NOMEM;
        (*nonzero)++;
    }
    return 0;
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

static int set_offsets(avro_value_t *rec, const struct snapshot_offset *off,
                       size_t n)
{
    avro_value_t arr, item, f;
    size_t i;

    AV(avro_value_get_by_name(rec, "offsets", &arr, NULL));
    for (i = 0; i < n; i++) {
        AV(avro_value_append(&arr, &item, NULL));
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
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

static int set_header(avro_value_t *rec, struct online_learner *ol,
                      int64_t now_ms, const struct buf *weights,
                      int64_t nonzero)
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
    AV(avro_value_set_string(&f, SNAPSHOT_WEIGHT_ENCODING));
    AV(avro_value_get_by_name(rec, "nonzero_count", &f, NULL));
    AV(avro_value_set_long(&f, nonzero));
    AV(avro_value_get_by_name(rec, "weights", &f, NULL));
    AV(avro_value_set_bytes(&f, weights->data ? weights->data : "",
                            weights->len));
    AV(avro_value_get_by_name(rec, "weights_crc64", &f, NULL));
    AV(avro_value_set_long(
        &f, (int64_t)schema_crc64_avro(weights->data, weights->len)));
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

int snapshot_encode(const struct schema *schema, struct online_learner *ol,
                    const struct snapshot_offset *offsets, size_t n,
                    int64_t now_ms, struct buf *out, char *errstr,
                    size_t errstr_size)
{
    struct buf weights = {0};
    avro_value_t rec;
    int64_t nonzero = 0;
    int err;

    err = schema_new_value(schema, &rec);
    if (err) {
        snprintf(errstr, errstr_size, "cannot create a snapshot value");
        return err;
    }

    err = pack_weights(online_model(ol), &weights, &nonzero);
    if (!err)
        err = set_header(&rec, ol, now_ms, &weights, nonzero);
    if (!err)
        err = set_field_stats(&rec, ol);
    if (!err)
        err = set_offsets(&rec, offsets, n);
    if (!err)
        err = set_metrics(&rec, ol);
    if (err)
        snprintf(errstr, errstr_size, "cannot fill snapshot: %s",
                 avro_strerror());
    else
        err = schema_write_value(schema, &rec, out, errstr, errstr_size);

    buf_free(&weights);
    avro_value_decref(&rec);
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

static int read_info(avro_value_t *rec, struct snapshot_info *info)
{
    const char *name;
    int64_t fp;
    avro_value_t g, arr;
    int32_t format;

    memset(info, 0, sizeof(*info));
    AV(get_int_field(rec, "format_version", &format));
    if (format != SNAPSHOT_FORMAT_VERSION)
        return RIFFLE_ERR_SNAPSHOT;
    AV(get_string_field(rec, "model_name", &name));
    snprintf(info->model_name, sizeof(info->model_name), "%s", name);
    AV(get_long_field(rec, "version", &info->version));
    AV(get_long_field(rec, "created_at_ms", &info->created_at_ms));
    AV(get_long_field(rec, "config_fingerprint", &fp));
    info->config_fingerprint = (uint64_t)fp;
    AV(get_int_field(rec, "bits", &info->bits));
    AV(get_long_field(rec, "nonzero_count", &info->nonzero_count));

    AV(avro_value_get_by_name(rec, "metrics", &g, NULL));
    AV(get_long_field(&g, "count", (int64_t *)&info->metrics.count));
    AV(get_long_field(&g, "correct", (int64_t *)&info->metrics.correct));
    AV(get_long_field(&g, "positives", (int64_t *)&info->metrics.positives));
    AV(get_double_field(&g, "logloss_sum", &info->metrics.logloss_sum));
    AV(get_long_field(&g, "dead_letters", &info->dead_letters));

    AV(avro_value_get_by_name(rec, "offsets", &arr, NULL));
    AV(avro_value_get_size(&arr, &info->offset_count));
    return 0;
fail:
    return RIFFLE_ERR_DECODE;
}

int snapshot_read_info(const struct schema *schema, const void *data,
                       size_t len, struct snapshot_info *info, char *errstr,
                       size_t errstr_size)
{
    avro_value_t rec;
    int err = schema_new_value(schema, &rec);

    if (err)
        return err;
    err = schema_read_value(schema, data, len, &rec, errstr, errstr_size);
    if (!err) {
        err = read_info(&rec, info);
        if (err)
            snprintf(errstr, errstr_size,
                     "snapshot fields unreadable or format version is not "
                     "%d", SNAPSHOT_FORMAT_VERSION);
    }
    avro_value_decref(&rec);
    return err;
}

/* Unpacks and checks the sparse weights into zeroed arrays of count. */
static int unpack_weights(const unsigned char *p, size_t len, size_t count,
                          int64_t nonzero, float *w, float *s, char *errstr,
                          size_t errstr_size)
{
    size_t i, entries = len / SNAPSHOT_ENTRY_BYTES;
    int64_t last = -1;

    if (len % SNAPSHOT_ENTRY_BYTES != 0 || (int64_t)entries != nonzero) {
        snprintf(errstr, errstr_size,
                 "weights: %zu bytes do not hold %lld entries of %d bytes",
                 len, (long long)nonzero, SNAPSHOT_ENTRY_BYTES);
        return RIFFLE_ERR_SNAPSHOT;
    }

    for (i = 0; i < entries; i++, p += SNAPSHOT_ENTRY_BYTES) {
        uint32_t index = get_u32(p);
        float wv = get_f32(p + 4), sv = get_f32(p + 8);

        if (index >= count || (int64_t)index <= last || !isfinite(wv) ||
            !isfinite(sv)) {
            snprintf(errstr, errstr_size,
                     "weights: entry %zu (byte %zu) has index %u or a value "
                     "that is out of order, out of range or not finite", i,
                     i * SNAPSHOT_ENTRY_BYTES, index);
            return RIFFLE_ERR_SNAPSHOT;
        }
        w[index] = wv;
        s[index] = sv;
        last = index;
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

static int read_weights(avro_value_t *rec, const struct snapshot_info *info,
                        size_t count, float *w, float *s, char *errstr,
                        size_t errstr_size)
{
    avro_value_t f;
    const void *bytes;
    size_t len;
    int64_t crc;

    if (avro_value_get_by_name(rec, "weights", &f, NULL) != 0 ||
        avro_value_get_bytes(&f, &bytes, &len) != 0 ||
        get_long_field(rec, "weights_crc64", &crc) != 0) {
        snprintf(errstr, errstr_size, "snapshot has no readable weights");
        return RIFFLE_ERR_SNAPSHOT;
    }
    if ((uint64_t)crc != schema_crc64_avro(bytes, len)) {
        snprintf(errstr, errstr_size,
                 "snapshot version %lld: weights checksum mismatch",
                 (long long)info->version);
        return RIFFLE_ERR_SNAPSHOT;
    }
    return unpack_weights(bytes, len, count, info->nonzero_count, w, s,
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
    }
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

static int read_offsets(avro_value_t *rec, struct snapshot_offset *offsets,
                        size_t max, size_t *n)
{
    avro_value_t arr, item;
    size_t i, count;

    AV(avro_value_get_by_name(rec, "offsets", &arr, NULL));
    AV(avro_value_get_size(&arr, &count));
    if (count > max)
        return RIFFLE_ERR_SNAPSHOT;
    for (i = 0; i < count; i++) {
        const char *topic;

        AV(avro_value_get_by_index(&arr, i, &item, NULL));
        AV(get_string_field(&item, "topic", &topic));
        snprintf(offsets[i].topic, sizeof(offsets[i].topic), "%s", topic);
        AV(get_int_field(&item, "partition", &offsets[i].partition));
        AV(get_long_field(&item, "offset", &offsets[i].offset));
    }
    *n = count;
    return 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
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
    float *w = calloc(count, sizeof(float));
    float *s = calloc(count, sizeof(float));
    int err;

    memset(stats, 0, sizeof(stats));
    if (!w || !s) {
        err = RIFFLE_ERR_NOMEM;
        goto out;
    }

    err = read_info(rec, info);
    if (err) {
        snprintf(errstr, errstr_size, "snapshot fields unreadable or format "
                 "version is not %d", SNAPSHOT_FORMAT_VERSION);
        goto out;
    }
    err = check_identity(info, cfg, errstr, errstr_size);
    if (!err)
        err = read_weights(rec, info, count, w, s, errstr, errstr_size);
    if (!err && (read_stats(rec, cfg, stats) != 0 ||
                 read_offsets(rec, offsets, max, n) != 0)) {
        snprintf(errstr, errstr_size, "snapshot version %lld: field "
                 "statistics or offsets unreadable", (long long)info->version);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err && model_restore_state(m, w, s, (uint64_t)info->version) != 0) {
        snprintf(errstr, errstr_size, "snapshot version %lld: the model "
                 "refused the weights", (long long)info->version);
        err = RIFFLE_ERR_SNAPSHOT;
    }
    if (!err) {
        memcpy(online_stats(ol), stats, cfg->field_count * sizeof(stats[0]));
        metrics_restore(online_metrics(ol), &info->metrics);
        online_set_dead_letter_count(ol, (uint64_t)info->dead_letters);
    }

out:
    free(w);
    free(s);
    return err;
}

int snapshot_restore(const struct schema *schema, struct online_learner *ol,
                     const void *data, size_t len,
                     struct snapshot_offset *offsets, size_t max, size_t *n,
                     struct snapshot_info *info, char *errstr,
                     size_t errstr_size)
{
    struct snapshot_info local;
    avro_value_t rec;
    int err = schema_new_value(schema, &rec);

    if (err)
        return err;
    if (!info)
        info = &local;

    err = schema_read_value(schema, data, len, &rec, errstr, errstr_size);
    if (!err)
        err = restore_from_value(&rec, ol, offsets, max, n, info, errstr,
                                 errstr_size);

    avro_value_decref(&rec);
    return err;
}
