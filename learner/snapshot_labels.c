/*
 * learner/snapshot_labels.c - pending delayed labels in a snapshot, see
 * snapshot_labels.h.
 */
#include "learner/snapshot_labels.h"

#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "learner/label_join.h"

/* Shorthand for the avro-c calls below: any failure jumps to "fail". */
#define AV(call)                                                             \
    do {                                                                     \
        if ((call) != 0)                                                     \
            goto fail;                                                       \
    } while (0)

/* The state field holds the record's partition too, above the state's
 * two bits, plus one: a snapshot written before records knew their
 * partition reads as -1 (not known). The schema stays that of format 3. */
#define STATE_BITS 2
#define STATE_MASK ((1 << STATE_BITS) - 1)
#define PARTITION_LIMIT (INT32_MAX >> STATE_BITS) /* room in the field */

static int32_t state_field(const struct label_join_record *r)
{
    int32_t p = r->partition >= 0 && r->partition < PARTITION_LIMIT
                    ? r->partition : -1;

    return (int32_t)r->state | ((p + 1) << STATE_BITS);
}

static const char *const count_names[] = {"joined", "duplicate", "late",
                                          "unknown", "expired", "evicted"};
#define COUNT_FIELDS (sizeof(count_names) / sizeof(count_names[0]))

static unsigned long long *count_field(struct label_join_counts *c,
                                       size_t i)
{
    unsigned long long *fields[COUNT_FIELDS] = {
        &c->joined, &c->duplicate, &c->late,
        &c->unknown, &c->expired, &c->evicted};

    return fields[i];
}

static int set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_set_long(&f, v);
}

static int add_record(void *ctx, const struct label_join_record *r)
{
    avro_value_t *events = ctx, e, f;

    AV(avro_value_append(events, &e, NULL));
    AV(avro_value_get_by_name(&e, "event_id", &f, NULL));
    AV(avro_value_set_string(&f, r->id));
    AV(avro_value_get_by_name(&e, "state", &f, NULL));
    AV(avro_value_set_int(&f, state_field(r)));
    AV(set_long(&e, "timestamp_ms", r->ts_ms));
    AV(set_long(&e, "model_version", (int64_t)r->prediction.model_version));
    AV(avro_value_get_by_name(&e, "probability", &f, NULL));
    AV(avro_value_set_double(&f, r->prediction.probability));
    AV(avro_value_get_by_name(&e, "value", &f, NULL));
    AV(avro_value_set_double(&f, r->prediction.value));
    AV(avro_value_get_by_name(&e, "predicted_class", &f, NULL));
    AV(avro_value_set_int(&f, r->prediction.predicted_class));
    AV(avro_value_get_by_name(&e, "features", &f, NULL));
    AV(avro_value_set_bytes(&f, r->event ? (void *)r->event : "",
                            r->event ? r->event_len : 0));
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

int snapshot_labels_set(avro_value_t *rec, struct online_learner *ol)
{
    struct label_join *j = online_label_join(ol);
    struct label_join_counts c;
    avro_value_t g, events;
    size_t i;

    memset(&c, 0, sizeof(c));
    if (j)
        label_join_counts(j, &c);
    AV(avro_value_get_by_name(rec, "pending_labels", &g, NULL));
    AV(set_long(&g, "clock_ms", online_label_clock(ol)));
    for (i = 0; i < COUNT_FIELDS; i++)
        AV(set_long(&g, count_names[i], (int64_t)*count_field(&c, i)));
    AV(avro_value_get_by_name(&g, "events", &events, NULL));
    if (j && label_join_visit(j, add_record, &events) != 0)
        goto fail;
    return 0;
fail:
    return RIFFLE_ERR_SCHEMA;
}

static int get_long(avro_value_t *rec, const char *name, int64_t *out)
{
    avro_value_t f;

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    return avro_value_get_long(&f, out);
}

static int read_record(avro_value_t *e, struct label_join *j)
{
    struct label_join_record r;
    avro_value_t f;
    int32_t state, predicted;
    int64_t version;
    size_t id_size;

    memset(&r, 0, sizeof(r));
    AV(avro_value_get_by_name(e, "event_id", &f, NULL));
    AV(avro_value_get_string(&f, &r.id, &id_size));
    AV(avro_value_get_by_name(e, "state", &f, NULL));
    AV(avro_value_get_int(&f, &state));
    AV(get_long(e, "timestamp_ms", &r.ts_ms));
    AV(get_long(e, "model_version", &version));
    AV(avro_value_get_by_name(e, "probability", &f, NULL));
    AV(avro_value_get_double(&f, &r.prediction.probability));
    AV(avro_value_get_by_name(e, "value", &f, NULL));
    AV(avro_value_get_double(&f, &r.prediction.value));
    AV(avro_value_get_by_name(e, "predicted_class", &f, NULL));
    AV(avro_value_get_int(&f, &predicted));
    AV(avro_value_get_by_name(e, "features", &f, NULL));
    AV(avro_value_get_bytes(&f, &r.event, &r.event_len));
    if (state < 0 || id_size < 2 || version < 0)
        return RIFFLE_ERR_SNAPSHOT;
    r.id_len = id_size - 1; /* avro-c counts the NUL */
    r.partition = (state >> STATE_BITS) - 1;
    r.state = (enum label_join_state)(state & STATE_MASK);
    r.prediction.predicted_class = predicted;
    r.prediction.model_version = (uint64_t)version;
    return label_join_restore(j, &r) == RIFFLE_ERR_NOMEM ? RIFFLE_ERR_NOMEM
                                                           : 0;
fail:
    return RIFFLE_ERR_SNAPSHOT;
}

static int read_counts(avro_value_t *g, struct label_join *j,
                       int64_t *clock_ms)
{
    struct label_join_counts c;
    int64_t v;
    size_t i;

    memset(&c, 0, sizeof(c));
    if (get_long(g, "clock_ms", clock_ms) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    for (i = 0; i < COUNT_FIELDS; i++) {
        if (get_long(g, count_names[i], &v) != 0 || v < 0)
            return RIFFLE_ERR_SNAPSHOT;
        *count_field(&c, i) = (unsigned long long)v;
    }
    label_join_restore_counts(j, &c);
    return 0;
}

int snapshot_labels_read(avro_value_t *rec, struct online_learner *ol,
                         struct label_join **out, int64_t *clock_ms)
{
    const struct cfg *cfg = online_cfg(ol);
    struct label_join *j = NULL;
    avro_value_t g, events, e;
    size_t n = 0, i;
    int err = 0;

    *out = NULL;
    *clock_ms = 0;
    if (!cfg->labels.line)
        return 0;
    if (label_join_new((size_t)cfg->labels.max_pending,
                       (int64_t)cfg->labels.ttl_ms, &j) != 0)
        return RIFFLE_ERR_NOMEM;
    if (avro_value_get_by_name(rec, "pending_labels", &g, NULL) != 0) {
        *out = j; /* format 1: nothing was pending */
        return 0;
    }

    err = read_counts(&g, j, clock_ms);
    if (!err && (avro_value_get_by_name(&g, "events", &events, NULL) != 0 ||
                 avro_value_get_size(&events, &n) != 0))
        err = RIFFLE_ERR_SNAPSHOT;
    for (i = 0; !err && i < n; i++) {
        if (avro_value_get_by_index(&events, i, &e, NULL) != 0)
            err = RIFFLE_ERR_SNAPSHOT;
        else
            err = read_record(&e, j);
    }
    if (err) {
        label_join_destroy(j);
        return err;
    }
    *out = j;
    return 0;
}
