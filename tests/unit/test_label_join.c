/*
 * tests/unit/test_label_join.c - the delayed-label join store,
 * learner/label_join.c: labels arriving in order, out of order, twice,
 * late (after the time-to-live or after eviction) and never, each
 * classified and counted, and the prediction made on arrival handed back
 * with the event's bytes. No broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "learner/label_join.h"
#include "tests/unit/testutil.h"

#define TTL_MS 1000

static void put(struct label_join *j, const char *id, int64_t ts,
                double probability)
{
    struct label_join_prediction p = {probability, probability,
                                      probability >= 0.5, 7};
    char bytes[64];
    int n = snprintf(bytes, sizeof(bytes), "event %s", id);

    assert_int_equal(label_join_put(j, 0, id, strlen(id), ts, bytes,
                                    (size_t)n, &p), 0);
}

static enum label_join_outcome take(struct label_join *j, const char *id,
                                    struct label_join_entry *e)
{
    return label_join_take(j, id, strlen(id), e);
}

static void test_label_join_joins_out_of_order_once(void **state)
{
    struct label_join *j = NULL;
    struct label_join_entry e;
    struct label_join_counts c;

    (void)state;
    assert_int_equal(label_join_new(10, TTL_MS, &j), 0);
    put(j, "a", 100, 0.2);
    put(j, "b", 110, 0.9);
    put(j, "c", 120, 0.6);

    assert_int_equal(take(j, "c", &e), LABEL_JOIN_JOINED);
    assert_string_equal(e.event_id, "c");
    assert_int_equal(e.event_ts_ms, 120);
    assert_int_equal(e.event_len, strlen("event c"));
    assert_memory_equal(e.event, "event c", e.event_len);
    assert_double_near(e.prediction.probability, 0.6, 0.0);
    assert_int_equal(e.prediction.predicted_class, 1);
    assert_int_equal((int)e.prediction.model_version, 7);
    assert_int_equal(take(j, "a", &e), LABEL_JOIN_JOINED);
    assert_double_near(e.prediction.probability, 0.2, 0.0);

    assert_int_equal(take(j, "c", &e), LABEL_JOIN_DUPLICATE);
    assert_int_equal(take(j, "zz", &e), LABEL_JOIN_UNKNOWN);
    label_join_counts(j, &c);
    assert_int_equal(c.joined, 2);
    assert_int_equal(c.duplicate, 1);
    assert_int_equal(c.unknown, 0); /* counted when given up */
    assert_int_equal(c.pending, 1); /* b waits */
    label_join_destroy(j);
}

static void test_label_join_expires_by_event_time(void **state)
{
    struct label_join *j = NULL;
    struct label_join_entry e;
    struct label_join_counts c;

    (void)state;
    assert_int_equal(label_join_new(10, TTL_MS, &j), 0);
    put(j, "old", 1000, 0.1);
    put(j, "new", 1900, 0.1);
    assert_int_equal((int)label_join_expire(j, 2000), 0); /* exactly TTL */
    assert_int_equal((int)label_join_expire(j, 2001), 1);
    assert_int_equal(take(j, "old", &e), LABEL_JOIN_LATE);
    assert_int_equal(take(j, "new", &e), LABEL_JOIN_JOINED);
    label_join_counts(j, &c);
    assert_int_equal(c.expired, 1);
    assert_int_equal(c.late, 1);
    assert_int_equal(c.pending, 0);
    label_join_destroy(j);
}

/* Past max_pending the oldest event is evicted; its label is late. Old
 * traces go too, so a very old label is finally unknown. */
static void test_label_join_bounded(void **state)
{
    struct label_join *j = NULL;
    struct label_join_entry e;
    struct label_join_counts c;
    char id[16];
    int i;

    (void)state;
    assert_int_equal(label_join_new(3, TTL_MS, &j), 0);
    for (i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        put(j, id, 100 + i, 0.5);
    }
    label_join_counts(j, &c);
    assert_int_equal(c.pending, 3);
    assert_int_equal(c.evicted, 2);
    assert_int_equal(take(j, "e0", &e), LABEL_JOIN_LATE);
    assert_int_equal(take(j, "e4", &e), LABEL_JOIN_JOINED);

    /* three more events push e0's and e1's traces out */
    for (i = 5; i < 8; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        put(j, id, 100 + i, 0.5);
    }
    assert_int_equal(take(j, "e0", &e), LABEL_JOIN_UNKNOWN);
    label_join_counts(j, &c);
    assert_int_equal(c.pending, 3);
    label_join_destroy(j);
}

/* The same id again before its label: the newer event is kept. */
static void test_label_join_replaces_pending_id(void **state)
{
    struct label_join *j = NULL;
    struct label_join_entry e;

    (void)state;
    assert_int_equal(label_join_new(4, TTL_MS, &j), 0);
    put(j, "x", 100, 0.3);
    put(j, "x", 200, 0.8);
    assert_int_equal(take(j, "x", &e), LABEL_JOIN_JOINED);
    assert_int_equal(e.event_ts_ms, 200);
    assert_double_near(e.prediction.probability, 0.8, 0.0);
    assert_int_equal(take(j, "x", &e), LABEL_JOIN_DUPLICATE);

    /* and an event may come again after its label: it waits anew */
    put(j, "x", 300, 0.4);
    assert_int_equal(take(j, "x", &e), LABEL_JOIN_JOINED);
    assert_int_equal(e.event_ts_ms, 300);
    label_join_destroy(j);
}

static void test_label_join_refuses_bad_bounds(void **state)
{
    struct label_join *j = NULL;

    (void)state;
    assert_int_equal(label_join_new(0, TTL_MS, &j), RIFFLE_ERR_INVALID);
    assert_int_equal(label_join_new(5, 0, &j), RIFFLE_ERR_INVALID);
    assert_null(j);
    label_join_destroy(NULL);
}

static int copy_record(void *ctx, const struct label_join_record *r)
{
    return label_join_restore(ctx, r);
}

/* A store rebuilt from what it visits answers every later label as the
 * original does: pending joins with the same bytes and prediction, a
 * joined id is a duplicate, an expired one late, others unknown. */
static void test_label_join_restores_what_it_visits(void **state)
{
    struct label_join *a = NULL, *b = NULL;
    struct label_join_entry e;
    struct label_join_counts ca, cb;

    (void)state;
    assert_int_equal(label_join_new(10, TTL_MS, &a), 0);
    assert_int_equal(label_join_new(10, TTL_MS, &b), 0);
    put(a, "old", 0, 0.1);
    put(a, "done", 500, 0.7);
    put(a, "wait1", 1500, 0.3);
    put(a, "wait2", 1600, 0.8);
    assert_int_equal(take(a, "done", &e), LABEL_JOIN_JOINED);
    assert_int_equal(label_join_expire(a, 1200), 1); /* "old" */

    assert_int_equal(label_join_visit(a, copy_record, b), 0);
    label_join_counts(a, &ca);
    label_join_restore_counts(b, &ca);
    label_join_counts(b, &cb);
    assert_int_equal(cb.pending, 2);
    assert_int_equal(cb.joined, 1);
    assert_int_equal(cb.expired, 1);

    assert_int_equal(take(b, "done", &e), LABEL_JOIN_DUPLICATE);
    assert_int_equal(take(b, "old", &e), LABEL_JOIN_LATE);
    assert_int_equal(take(b, "never", &e), LABEL_JOIN_UNKNOWN);
    assert_int_equal(take(b, "wait2", &e), LABEL_JOIN_JOINED);
    assert_int_equal(e.event_ts_ms, 1600);
    assert_memory_equal(e.event, "event wait2", e.event_len);
    assert_double_near(e.prediction.probability, 0.8, 0.0);
    /* the oldest pending expires first, as in the original */
    assert_int_equal(label_join_expire(b, 2550), 1);
    assert_int_equal(take(b, "wait1", &e), LABEL_JOIN_LATE);
    label_join_counts(b, &cb);
    assert_int_equal(cb.joined, 2);
    assert_int_equal(cb.duplicate, 1);
    assert_int_equal(cb.late, 2);
    assert_int_equal(cb.unknown, 0);
    assert_int_equal(cb.expired, 2);
    assert_int_equal(cb.pending, 0);

    assert_int_equal(label_join_restore(b, &(struct label_join_record){
                                               "done", 4, LABEL_JOIN_PENDING,
                                               0, 0, "x", 1, {0, 0, 0, 0}}),
                     RIFFLE_ERR_INVALID);
    label_join_destroy(a);
    label_join_destroy(b);
}

/* A label that overtakes its event waits for it: joined when the event
 * comes within the TTL, a second label for it is a duplicate, and one
 * whose event never comes is given up as unknown by the TTL or the bound,
 * and handed out once. A waiting label survives a rebuild. */
static void test_label_join_early_label_waits_for_its_event(void **state)
{
    struct label_join *j = NULL, *k = NULL;
    struct label_join_entry e;
    struct label_join_counts c;

    (void)state;
    assert_int_equal(label_join_new(2, TTL_MS, &j), 0);
    assert_int_equal(label_join_new(2, TTL_MS, &k), 0);
    assert_int_equal(take(j, "a", &e), LABEL_JOIN_UNKNOWN);
    assert_int_equal(label_join_put_early(j, 0, "a", 1, 100, "UP", 2), 0);
    assert_int_equal(take(j, "a", &e), LABEL_JOIN_DUPLICATE);
    assert_int_equal(label_join_put_early(j, 0, "a", 1, 100, "UP", 2),
                     RIFFLE_ERR_INVALID);
    assert_int_equal(label_join_put_early(j, 0, "b", 1, 200, "DOWN", 4), 0);

    assert_int_equal(label_join_visit(j, copy_record, k), 0);
    assert_int_equal(label_join_take_early(k, "b", 1, &e), 1);
    assert_memory_equal(e.event, "DOWN", 4);
    assert_int_equal(label_join_take_early(j, "a", 1, &e), 1);
    assert_int_equal(e.event_len, 2);
    assert_memory_equal(e.event, "UP", 2);
    assert_int_equal(e.event_ts_ms, 100);
    assert_int_equal(label_join_take_early(j, "a", 1, &e), 0);
    assert_int_equal(take(j, "a", &e), LABEL_JOIN_DUPLICATE);

    /* the bound gives up the oldest waiting label, the TTL the rest */
    assert_int_equal(label_join_put_early(j, 0, "c", 1, 300, "UP", 2), 0);
    assert_int_equal(label_join_put_early(j, 0, "d", 1, 400, "UP", 2), 0);
    assert_int_equal(label_join_next_released(j, &e), 1);
    assert_string_equal(e.event_id, "b");
    assert_int_equal(label_join_next_released(j, &e), 0);
    assert_int_equal(label_join_expire(j, 300 + TTL_MS + 1), 0);
    assert_int_equal(label_join_next_released(j, &e), 1);
    assert_string_equal(e.event_id, "c");
    assert_int_equal(label_join_next_released(j, &e), 0);
    label_join_counts(j, &c);
    assert_int_equal(c.unknown, 2);
    assert_int_equal(c.early, 1); /* d */
    assert_int_equal(c.joined, 1);
    assert_int_equal(c.duplicate, 2);
    /* an event of a given-up label is stored as any other */
    put(j, "c", 500, 0.5);
    label_join_counts(j, &c);
    assert_int_equal(c.pending, 1);
    label_join_destroy(j);
    label_join_destroy(k);
}

/* Counts its calls; picks the even partitions. */
static int drop_even(void *ctx, int32_t partition)
{
    (*(int *)ctx)++;
    return partition % 2 == 0;
}

/* One walk drops the records of the partitions picked, pending events,
 * waiting labels and traces alike, asking once per record, and leaves
 * the others and the counters as they were. */
static void test_label_join_drop_if_in_one_walk(void **state)
{
    struct label_join_prediction p = {0.5, 0.5, 1, 1};
    struct label_join *j = NULL;
    struct label_join_entry e;
    struct label_join_counts c;
    char id[8];
    int i, calls = 0;

    (void)state;
    assert_int_equal(label_join_new(100, TTL_MS, &j), 0);
    for (i = 0; i < 9; i++) { /* e<i> in partition i % 3 */
        snprintf(id, sizeof(id), "e%d", i);
        assert_int_equal(label_join_put(j, i % 3, id, strlen(id), 100 + i,
                                        "x", 1, &p), 0);
    }
    assert_int_equal(take(j, "e4", &e), LABEL_JOIN_JOINED); /* a trace */
    assert_int_equal(take(j, "e6", &e), LABEL_JOIN_JOINED);
    assert_int_equal(label_join_put_early(j, 2, "l2", 2, 200, "label", 5),
                     0);

    /* partition 0: e0, e3 and e6's trace; partition 2: e2, e5, e8, l2 */
    assert_int_equal(label_join_drop_if(j, drop_even, &calls), 7);
    assert_int_equal(calls, 10);
    label_join_counts(j, &c);
    assert_int_equal(c.pending, 2); /* e1, e7 */
    assert_int_equal(c.early, 0);
    assert_int_equal(c.joined, 2);
    assert_int_equal(take(j, "e4", &e), LABEL_JOIN_DUPLICATE);
    assert_int_equal(take(j, "e6", &e), LABEL_JOIN_UNKNOWN); /* trace gone */
    assert_int_equal(take(j, "e7", &e), LABEL_JOIN_JOINED);
    assert_int_equal(label_join_take_early(j, "l2", 2, &e), 0);
    label_join_destroy(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_join_joins_out_of_order_once),
        cmocka_unit_test(test_label_join_expires_by_event_time),
        cmocka_unit_test(test_label_join_bounded),
        cmocka_unit_test(test_label_join_replaces_pending_id),
        cmocka_unit_test(test_label_join_refuses_bad_bounds),
        cmocka_unit_test(test_label_join_restores_what_it_visits),
        cmocka_unit_test(test_label_join_early_label_waits_for_its_event),
        cmocka_unit_test(test_label_join_drop_if_in_one_walk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
