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

    assert_int_equal(label_join_put(j, id, strlen(id), ts, bytes,
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
    assert_int_equal(c.unknown, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_join_joins_out_of_order_once),
        cmocka_unit_test(test_label_join_expires_by_event_time),
        cmocka_unit_test(test_label_join_bounded),
        cmocka_unit_test(test_label_join_replaces_pending_id),
        cmocka_unit_test(test_label_join_refuses_bad_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
