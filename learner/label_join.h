/*
 * learner/label_join.h - bounded state that joins delayed labels with
 * the events they belong to.
 *
 * An unlabelled event is scored on arrival; its label comes later, on a
 * labels topic keyed by event id. The store keeps, per pending event id,
 * what learning needs then: the event's encoded bytes and the prediction
 * made before the label was known (progressive metrics use that one, not
 * a prediction by the model that has learned since). It is bounded twice:
 * an entry older than the time-to-live (in the events' own timestamps)
 * expires, and past max_pending entries the oldest is evicted. A label
 * is classified as it arrives:
 *
 *   joined     its event is pending: the entry is handed over, once;
 *   duplicate  its event was joined already, or a label for it waits
 *              (a label sent twice);
 *   late       its event expired or was evicted before the label came;
 *   unknown    no event with that id was seen (or so long ago that even
 *              its trace is gone: traces are bounded by max_pending too).
 *              The caller may keep such a label (label_join_put_early):
 *              if its event comes within the TTL they are joined then
 *              (label_join_take_early); otherwise it is given up and
 *              counted unknown (label_join_next_released). So a label
 *              that overtakes its event still joins, and the outcome does
 *              not depend on how two topics happen to interleave.
 *
 * Events whose label never comes leave by expiry and are counted. Out of
 * order labels need no care: each is looked up by id. Nothing here
 * touches Kafka; the learn loop feeds it and dead-letters what it
 * refuses. Single-threaded.
 */
#ifndef RIFFLE_LEARNER_LABEL_JOIN_H
#define RIFFLE_LEARNER_LABEL_JOIN_H

#include <stddef.h>
#include <stdint.h>

struct label_join;

enum label_join_outcome {
    LABEL_JOIN_JOINED = 0,
    LABEL_JOIN_DUPLICATE,
    LABEL_JOIN_LATE,
    LABEL_JOIN_UNKNOWN,
    LABEL_JOIN_WAITING /* online_learn_label() only: kept for its event */
};

/* The prediction made when the event arrived. */
struct label_join_prediction {
    double probability;
    double value;
    int predicted_class;
    uint64_t model_version;
};

/* A pending event handed over by label_join_take(): borrowed until the
 * next call on the store. */
struct label_join_entry {
    const char *event_id;
    int64_t event_ts_ms;
    const void *event; /* the encoded event, as it arrived */
    size_t event_len;
    struct label_join_prediction prediction;
};

struct label_join_counts {
    unsigned long long pending, joined, duplicate, late, unknown;
    unsigned long long early; /* labels waiting for their event */
    unsigned long long expired; /* left without a label, by the TTL */
    unsigned long long evicted; /* left without a label, by the bound */
};

/* max_pending >= 1 entries, ttl_ms >= 1. Returns 0, RIFFLE_ERR_INVALID
 * for bad bounds or RIFFLE_ERR_NOMEM. */
int label_join_new(size_t max_pending, int64_t ttl_ms,
                   struct label_join **out);

void label_join_destroy(struct label_join *j); /* NULL-safe */

/* Keeps the event id (id_len bytes, no NUL needed) with its timestamp,
 * bytes and prediction, all copied, as read from Kafka partition
 * `partition` (-1: not known; see label_join_drop_partition()). An id
 * already pending is replaced (the newer event wins). Evicts the oldest
 * entry when full. Returns 0 or RIFFLE_ERR_NOMEM (store unchanged). */
int label_join_put(struct label_join *j, int32_t partition, const char *id,
                   size_t id_len, int64_t event_ts_ms, const void *event,
                   size_t len, const struct label_join_prediction *prediction);

/* Classifies a label for id (see above). On LABEL_JOIN_JOINED *out is
 * the entry, which leaves the store. */
enum label_join_outcome label_join_take(struct label_join *j,
                                        const char *id, size_t id_len,
                                        struct label_join_entry *out);

/* Keeps a label whose take() said unknown (id_len bytes of id, len
 * bytes of label, both copied, at Kafka time label_ts_ms, read from
 * partition) until its event comes. Past max_pending waiting labels the
 * oldest is given up. Returns 0, RIFFLE_ERR_INVALID when the id is
 * known, or RIFFLE_ERR_NOMEM. */
int label_join_put_early(struct label_join *j, int32_t partition,
                         const char *id, size_t id_len, int64_t label_ts_ms,
                         const void *label, size_t len);

/* For an event arriving: when a label for id waits, hands it over in
 * *out (event, event_len are the label's bytes; borrowed until the next
 * call), counts the join and returns 1; otherwise returns 0. */
int label_join_take_early(struct label_join *j, const char *id,
                          size_t id_len, struct label_join_entry *out);

/* Hands over, one per call, the waiting labels given up (by the TTL or
 * the bound) as unknown: returns 1 with *out (the label's bytes in
 * event; borrowed until the next call), 0 when there are none, or
 * RIFFLE_ERR_NOMEM (that one is lost). Call after each call that may
 * give labels up (put_early, expire). */
int label_join_next_released(struct label_join *j,
                             struct label_join_entry *out);

/* Expires, oldest arrival first, the entries whose event is more than
 * the TTL older than now_ms (the newest timestamp the caller has seen);
 * stops at the first that is not, so an event that arrived with an old
 * timestamp behind newer ones waits for them. Gives up the waiting
 * labels older than the TTL the same way. Returns how many events
 * expired. */
size_t label_join_expire(struct label_join *j, int64_t now_ms);

void label_join_counts(const struct label_join *j,
                       struct label_join_counts *out);

/* --- saving and restoring the store (learner/snapshot.c) ------------- */

enum label_join_state {
    LABEL_JOIN_PENDING = 0, /* waiting for its label */
    LABEL_JOIN_WAS_JOINED,  /* a trace: its label came */
    LABEL_JOIN_WAS_LOST,    /* a trace: expired or evicted */
    LABEL_JOIN_EARLY_LABEL  /* a label waiting for its event: event holds
                               the label's bytes */
};

/* One record as label_join_visit() shows it; event and prediction only
 * for a pending one. Borrowed for the callback's duration. */
struct label_join_record {
    const char *id;
    size_t id_len;
    enum label_join_state state;
    int32_t partition; /* the Kafka partition it came from; -1 unknown */
    int64_t ts_ms;
    const void *event;
    size_t event_len;
    struct label_join_prediction prediction;
};

/* Calls fn for every record: traces oldest first, then pending events
 * oldest first, then waiting labels oldest first, the order
 * label_join_restore() must see them in to rebuild the same store.
 * Stops at and returns fn's first non-zero. */
int label_join_visit(const struct label_join *j,
                     int (*fn)(void *ctx, const struct label_join_record *),
                     void *ctx);

/* Appends one visited record to a store being rebuilt, all copied.
 * Bounds apply as they do to label_join_put(), so a store restored
 * with a smaller max_pending evicts (and counts) its oldest. Returns 0,
 * RIFFLE_ERR_INVALID for an id already present, or RIFFLE_ERR_NOMEM. */
int label_join_restore(struct label_join *j,
                       const struct label_join_record *r);

/* Removes every record (pending event, waiting label, trace) that came
 * from partition, without counting it anywhere: with several learner
 * instances the partition has moved, and its records with it (see
 * learner/labels_record.h). Returns how many were removed. */
size_t label_join_drop_partition(struct label_join *j, int32_t partition);

/* Like label_join_drop_partition(), for every partition p for which
 * drop(ctx, p) returns non-zero, in one walk of the store: drop is
 * called once per record, in label_join_visit() order. Returns how many
 * records were removed. */
size_t label_join_drop_if(struct label_join *j,
                          int (*drop)(void *ctx, int32_t partition),
                          void *ctx);

/* Sets the counters (pending is ignored: it follows from the records). */
void label_join_restore_counts(struct label_join *j,
                               const struct label_join_counts *c);

#endif
