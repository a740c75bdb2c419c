/*
 * learner/label_join.c - the delayed-label join store, see label_join.h.
 *
 * One record per event id, in a chained hash table, and on one of two
 * lists in the order records joined it: pending events (oldest first,
 * for expiry and eviction), and traces of events that were joined or
 * left without a label (oldest first, dropped past max_pending), which
 * tell a duplicate or late label from an unknown one.
 */
#include "learner/label_join.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

#define LABEL_JOIN_FNV_OFFSET 14695981039346656037ULL
#define LABEL_JOIN_FNV_PRIME 1099511628211ULL

enum record_state { RECORD_PENDING, RECORD_JOINED, RECORD_GONE, RECORD_EARLY };

struct record {
    struct record *chain;      /* next in the hash bucket */
    struct record *prev, *next; /* on the pending or the trace list */
    enum record_state state;
    char *id;
    size_t id_len;
    uint64_t hash;
    int32_t partition; /* where it came from; -1: not known */
    int64_t ts_ms;
    void *event; /* the event (pending) or the label (early); else NULL */
    size_t event_len;
    struct label_join_prediction prediction;
};

struct list {
    struct record *head, *tail;
    size_t len;
};

struct label_join {
    size_t max_pending;
    int64_t ttl_ms;
    struct record **buckets;
    size_t bucket_mask;
    struct list pending, traces;
    struct list early;    /* labels waiting for their event, oldest first */
    struct list released; /* early labels given up, out of the table */
    struct label_join_counts counts;
    struct buf handed_event;
    struct buf handed_id;
};

static uint64_t hash_id(const char *id, size_t len)
{
    uint64_t h = LABEL_JOIN_FNV_OFFSET;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= LABEL_JOIN_FNV_PRIME;
    }
    return h;
}

static void list_remove(struct list *l, struct record *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->len--;
}

static void list_append(struct list *l, struct record *r)
{
    r->prev = l->tail;
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->len++;
}

static struct record **find_slot(struct label_join *j, const char *id,
                                 size_t len, uint64_t h)
{
    struct record **slot = &j->buckets[h & j->bucket_mask];

    while (*slot && !((*slot)->hash == h && (*slot)->id_len == len &&
                      memcmp((*slot)->id, id, len) == 0))
        slot = &(*slot)->chain;
    return slot;
}

static void record_free(struct record *r)
{
    free(r->event);
    free(r->id);
    free(r);
}

/* Takes r out of the table and frees it. */
static void forget(struct label_join *j, struct record *r)
{
    struct record **slot = find_slot(j, r->id, r->id_len, r->hash);

    *slot = r->chain;
    record_free(r);
}

/* A pending record becomes a trace in state; the oldest trace past the
 * bound is forgotten. */
static void to_trace(struct label_join *j, struct record *r,
                     enum record_state state)
{
    list_remove(&j->pending, r);
    free(r->event);
    r->event = NULL;
    r->state = state;
    list_append(&j->traces, r);
    if (j->traces.len > j->max_pending) {
        struct record *old = j->traces.head;

        list_remove(&j->traces, old);
        forget(j, old);
    }
}

int label_join_new(size_t max_pending, int64_t ttl_ms,
                   struct label_join **out)
{
    struct label_join *j;
    size_t buckets = 16;

    if (max_pending == 0 || ttl_ms <= 0)
        return RIFFLE_ERR_INVALID;
    while (buckets < 2 * max_pending && buckets < ((size_t)1 << 40))
        buckets *= 2;
    j = calloc(1, sizeof(*j));
    if (!j)
        return RIFFLE_ERR_NOMEM;
    j->buckets = calloc(buckets, sizeof(*j->buckets));
    if (!j->buckets) {
        free(j);
        return RIFFLE_ERR_NOMEM;
    }
    j->bucket_mask = buckets - 1;
    j->max_pending = max_pending;
    j->ttl_ms = ttl_ms;
    *out = j;
    return 0;
}

void label_join_destroy(struct label_join *j)
{
    struct record *r;
    size_t i;

    if (!j)
        return;
    for (i = 0; i <= j->bucket_mask; i++) {
        r = j->buckets[i];

        while (r) {
            struct record *next = r->chain;

            record_free(r);
            r = next;
        }
    }
    free(j->buckets);
    for (r = j->released.head; r;) {
        struct record *next = r->next;

        record_free(r);
        r = next;
    }
    buf_free(&j->handed_event);
    buf_free(&j->handed_id);
    free(j);
}

static struct record *record_new(const char *id, size_t id_len, uint64_t h)
{
    struct record *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->id = malloc(id_len + 1);
    if (!r->id) {
        free(r);
        return NULL;
    }
    memcpy(r->id, id, id_len);
    r->id[id_len] = '\0';
    r->id_len = id_len;
    r->hash = h;
    return r;
}

int label_join_put(struct label_join *j, int32_t partition, const char *id,
                   size_t id_len, int64_t event_ts_ms, const void *event,
                   size_t len, const struct label_join_prediction *prediction)
{
    uint64_t h = hash_id(id, id_len);
    struct record **slot = find_slot(j, id, id_len, h);
    struct record *r = *slot;
    void *bytes = malloc(len ? len : 1);

    if (!bytes)
        return RIFFLE_ERR_NOMEM;
    if (!r) {
        r = record_new(id, id_len, h);
        if (!r) {
            free(bytes);
            return RIFFLE_ERR_NOMEM;
        }
        *slot = r;
    } else {
        /* seen before: the newer event takes its place in the queue (an
         * early label was taken by label_join_take_early() first) */
        list_remove(r->state == RECORD_PENDING ? &j->pending
                    : r->state == RECORD_EARLY ? &j->early
                                               : &j->traces, r);
        free(r->event);
    }
    memcpy(bytes, event, len);
    r->event = bytes;
    r->event_len = len;
    r->partition = partition;
    r->ts_ms = event_ts_ms;
    r->prediction = *prediction;
    r->state = RECORD_PENDING;
    list_append(&j->pending, r);

    if (j->pending.len > j->max_pending) {
        to_trace(j, j->pending.head, RECORD_GONE);
        j->counts.evicted++;
    }
    return 0;
}

/* Keeps the joined record's bytes and id for the caller until the next
 * call, and returns 0, or RIFFLE_ERR_NOMEM. */
static int hand_over(struct label_join *j, struct record *r,
                     struct label_join_entry *out)
{
    buf_reset(&j->handed_event);
    buf_reset(&j->handed_id);
    if (buf_append(&j->handed_event, r->event ? r->event : "",
                   r->event_len) != 0 ||
        buf_append(&j->handed_id, r->id, r->id_len + 1) != 0)
        return RIFFLE_ERR_NOMEM;
    out->event_id = j->handed_id.data;
    out->event_ts_ms = r->ts_ms;
    out->event = j->handed_event.data;
    out->event_len = r->event_len;
    out->prediction = r->prediction;
    return 0;
}

enum label_join_outcome label_join_take(struct label_join *j,
                                        const char *id, size_t id_len,
                                        struct label_join_entry *out)
{
    struct record *r = *find_slot(j, id, id_len, hash_id(id, id_len));

    if (!r)
        return LABEL_JOIN_UNKNOWN; /* counted when given up, see put_early */
    if (r->state == RECORD_JOINED || r->state == RECORD_EARLY) {
        j->counts.duplicate++;
        return LABEL_JOIN_DUPLICATE;
    }
    if (r->state == RECORD_GONE) {
        j->counts.late++;
        return LABEL_JOIN_LATE;
    }
    if (hand_over(j, r, out) != 0) {
        /* no memory for the copy: the event cannot be learned; say so
         * the way a late label is, rather than lose track of it */
        to_trace(j, r, RECORD_GONE);
        j->counts.late++;
        return LABEL_JOIN_LATE;
    }
    to_trace(j, r, RECORD_JOINED);
    j->counts.joined++;
    return LABEL_JOIN_JOINED;
}

/* An early label leaves the table for the released list: unknown. */
static void release_early(struct label_join *j, struct record *r)
{
    struct record **slot = find_slot(j, r->id, r->id_len, r->hash);

    list_remove(&j->early, r);
    *slot = r->chain;
    r->chain = NULL;
    list_append(&j->released, r);
    j->counts.unknown++;
}

size_t label_join_expire(struct label_join *j, int64_t now_ms)
{
    size_t n = 0;

    while (j->pending.head && now_ms - j->pending.head->ts_ms > j->ttl_ms) {
        to_trace(j, j->pending.head, RECORD_GONE);
        n++;
    }
    j->counts.expired += n;
    while (j->early.head && now_ms - j->early.head->ts_ms > j->ttl_ms)
        release_early(j, j->early.head);
    return n;
}

int label_join_put_early(struct label_join *j, int32_t partition,
                         const char *id, size_t id_len, int64_t label_ts_ms,
                         const void *label, size_t len)
{
    uint64_t h = hash_id(id, id_len);
    struct record **slot = find_slot(j, id, id_len, h);
    struct record *r;
    void *bytes;

    if (*slot)
        return RIFFLE_ERR_INVALID; /* take() said joined, late or duplicate */
    bytes = malloc(len ? len : 1);
    r = bytes ? record_new(id, id_len, h) : NULL;
    if (!r) {
        free(bytes);
        return RIFFLE_ERR_NOMEM;
    }
    memcpy(bytes, label, len);
    r->event = bytes;
    r->event_len = len;
    r->partition = partition;
    r->ts_ms = label_ts_ms;
    r->state = RECORD_EARLY;
    *slot = r;
    list_append(&j->early, r);
    if (j->early.len > j->max_pending)
        release_early(j, j->early.head);
    return 0;
}

int label_join_take_early(struct label_join *j, const char *id,
                          size_t id_len, struct label_join_entry *out)
{
    struct record *r = *find_slot(j, id, id_len, hash_id(id, id_len));

    if (!r || r->state != RECORD_EARLY)
        return 0;
    list_remove(&j->early, r);
    if (hand_over(j, r, out) != 0) {
        /* no copy for the caller: give the label up as unknown rather
         * than lose track of it */
        list_append(&j->early, r);
        release_early(j, r);
        return 0;
    }
    free(r->event);
    r->event = NULL;
    r->state = RECORD_JOINED;
    list_append(&j->traces, r);
    if (j->traces.len > j->max_pending) {
        struct record *old = j->traces.head;

        list_remove(&j->traces, old);
        forget(j, old);
    }
    j->counts.joined++;
    return 1;
}

int label_join_next_released(struct label_join *j,
                             struct label_join_entry *out)
{
    struct record *r = j->released.head;
    int err;

    if (!r)
        return 0;
    list_remove(&j->released, r);
    err = hand_over(j, r, out);
    record_free(r);
    return err ? RIFFLE_ERR_NOMEM : 1;
}

void label_join_counts(const struct label_join *j,
                       struct label_join_counts *out)
{
    *out = j->counts;
    out->pending = j->pending.len;
    out->early = j->early.len;
}

static int visit_list(const struct list *l, enum label_join_state state,
                      int (*fn)(void *, const struct label_join_record *),
                      void *ctx)
{
    const struct record *r;
    int rc;

    for (r = l->head; r; r = r->next) {
        struct label_join_record out = {r->id,        r->id_len,
                                        state,        r->partition,
                                        r->ts_ms,     r->event,
                                        r->event_len, r->prediction};

        if (state == LABEL_JOIN_WAS_LOST)
            out.state = r->state == RECORD_JOINED ? LABEL_JOIN_WAS_JOINED
                                                  : LABEL_JOIN_WAS_LOST;
        rc = fn(ctx, &out);
        if (rc)
            return rc;
    }
    return 0;
}

int label_join_visit(const struct label_join *j,
                     int (*fn)(void *ctx, const struct label_join_record *),
                     void *ctx)
{
    int rc = visit_list(&j->traces, LABEL_JOIN_WAS_LOST, fn, ctx);

    if (!rc)
        rc = visit_list(&j->pending, LABEL_JOIN_PENDING, fn, ctx);
    return rc ? rc : visit_list(&j->early, LABEL_JOIN_EARLY_LABEL, fn, ctx);
}

int label_join_restore(struct label_join *j,
                       const struct label_join_record *r)
{
    uint64_t h = hash_id(r->id, r->id_len);
    struct record **slot = find_slot(j, r->id, r->id_len, h);
    struct record *rec;

    if (*slot)
        return RIFFLE_ERR_INVALID;
    if (r->state == LABEL_JOIN_PENDING)
        return label_join_put(j, r->partition, r->id, r->id_len, r->ts_ms,
                              r->event, r->event_len, &r->prediction);
    if (r->state == LABEL_JOIN_EARLY_LABEL)
        return label_join_put_early(j, r->partition, r->id, r->id_len,
                                    r->ts_ms, r->event, r->event_len);

    rec = record_new(r->id, r->id_len, h);
    if (!rec)
        return RIFFLE_ERR_NOMEM;
    rec->ts_ms = r->ts_ms;
    rec->partition = r->partition;
    rec->state = r->state == LABEL_JOIN_WAS_JOINED ? RECORD_JOINED
                                                   : RECORD_GONE;
    *slot = rec;
    list_append(&j->traces, rec);
    if (j->traces.len > j->max_pending) {
        struct record *old = j->traces.head;

        list_remove(&j->traces, old);
        forget(j, old);
    }
    return 0;
}

void label_join_restore_counts(struct label_join *j,
                               const struct label_join_counts *c)
{
    j->counts = *c;
    j->counts.pending = 0;
    j->counts.early = 0;
}

/* Takes every record of one list whose partition drop picks out of the
 * table, uncounted. */
static size_t drop_from(struct label_join *j, struct list *l,
                        int (*drop)(void *ctx, int32_t partition),
                        void *ctx)
{
    struct record *r = l->head;
    size_t n = 0;

    while (r) {
        struct record *next = r->next;

        if (drop(ctx, r->partition)) {
            list_remove(l, r);
            forget(j, r);
            n++;
        }
        r = next;
    }
    return n;
}

size_t label_join_drop_if(struct label_join *j,
                          int (*drop)(void *ctx, int32_t partition),
                          void *ctx)
{
    size_t n = drop_from(j, &j->traces, drop, ctx);

    n += drop_from(j, &j->pending, drop, ctx);
    return n + drop_from(j, &j->early, drop, ctx);
}

static int is_partition(void *ctx, int32_t partition)
{
    return partition == *(const int32_t *)ctx;
}

size_t label_join_drop_partition(struct label_join *j, int32_t partition)
{
    return label_join_drop_if(j, is_partition, &partition);
}
