/*
 * tests/unit/test_snapshot_cleaning.c - the cleaning state in model
 * snapshots (learner/snapshot.c, learner/online.c, the cleaning summaries).
 *
 * A pipeline with median imputation, the MAD outlier rule, mode
 * imputation, a duplicate window and per-partition lateness runs over a
 * generated stream twice: once without a break, and once interrupted
 * half way, snapshotted and restored into a fresh learner. Every event
 * after the break must get the same verdict and the same prediction, bit
 * for bit, and the models must end identical; a duplicate that spans the
 * break must still be caught. The summaries' own save/load functions are
 * checked to round-trip and to refuse damaged input. No broker;
 * single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleaning/dedup.h"
#include "cleaning/sketch.h"
#include "cleaning/topk.h"
#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define SNAPSHOT_AVSC "schemas/model_snapshot.avsc"
#define EVENTS 600
#define BREAK_AT 300 /* events before the snapshot */
#define NOW_MS 1700000000000LL
#define PARTITIONS 2 /* of the input topic; partition 1 lags */
#define LAG_MS 500000.0 /* partition 1's events are this far behind */

static const char stream_schema[] =
    "{\"type\": \"record\", \"name\": \"S\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"ts\", \"type\": [\"null\", \"long\"]},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"c\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"y\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char stream_cfg[] =
    "name = \"resume\";\n"
    "topics = { input = \"in\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"ts\"; kind = \"ignore\"; },\n"
    "  { name = \"x\"; kind = \"numeric\"; missing = \"median\";\n"
    "    outlier = \"mad\"; on_outlier = \"clip\"; outlier_warmup = 20; },\n"
    "  { name = \"c\"; kind = \"categorical\"; missing = \"mode\"; },\n"
    "  { name = \"y\"; kind = \"label\"; positive = [\"1\"];\n"
    "    negative = [\"0\"]; }\n"
    ");\n"
    "learner = { model_name = \"resume\"; bits = 12; };\n"
    "cleaning = { dedup_window = 64; event_time = \"ts\";\n"
    "             allowed_lateness = 1; on_late = \"reject\"; };\n";

/* One generated event and where it was read. */
struct item {
    char id[32];
    double ts; /* NaN: no time */
    double x;  /* NaN: missing */
    const char *c; /* NULL: missing */
    const char *y;
    int32_t partition;
};

/* What the pipeline said about one event, compared bit for bit. */
struct outcome {
    int duplicate, dead_letter, late;
    const char *reason;
    double value;
};

struct fixture {
    struct clean_fixture base; /* no cleaner: each learner has its own */
    struct schema *snap;
    struct item items[EVENTS];
    struct buf msgs[EVENTS];
};

static const char *const categories[] = {"red", "green", "green", "blue"};

/* The stream: ids repeat now and then (some across the break), times
 * go forward per partition with a jitter inside the allowed lateness
 * and, now and then, far behind it; x has gaps and outliers, c gaps. */
static void generate(struct fixture *fx)
{
    uint64_t rng = 42;
    double clock[PARTITIONS] = {1e9, 1e9 - LAG_MS};
    size_t i;

    for (i = 0; i < EVENTS; i++) {
        struct item *it = &fx->items[i];
        int32_t p = (int32_t)(i % PARTITIONS);
        double u = rng_unit(&rng);

        it->partition = p;
        snprintf(it->id, sizeof(it->id), "ev-%zu", i);
        if (i % 17 == 5 && i > 20)
            snprintf(it->id, sizeof(it->id), "ev-%zu", i - 9);
        if (i == BREAK_AT + 3) /* a duplicate spanning the break */
            snprintf(it->id, sizeof(it->id), "ev-%d", BREAK_AT - 4);
        clock[p] += floor(1000.0 * rng_unit(&rng));
        it->ts = clock[p] - (i % 5 == 0 ? 900.0 : 0.0);
        if (i % 23 == 11)
            it->ts = clock[p] - 50000.0; /* late: rejected */
        it->x = u < 0.1 ? NAN : 10.0 + 5.0 * rng_unit(&rng);
        if (i % 31 == 7)
            it->x = 1000.0; /* an outlier, clipped once warmed up */
        it->c = i % 13 == 4 ? NULL : categories[rng_next(&rng) % 4];
        it->y = it->x > 12.5 ? "1" : "0";
    }
}

static void encode_items(struct fixture *fx)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct event ev;
    size_t i;

    event_init(&ev);
    for (i = 0; i < EVENTS; i++) {
        const struct item *it = &fx->items[i];

        event_reset(&ev, schema_field_count(fx->base.schema));
        assert_int_equal(event_set_string(&ev, 0, it->id, strlen(it->id)),
                         0);
        if (!isnan(it->ts))
            event_set_number(&ev, 1, it->ts);
        if (!isnan(it->x))
            event_set_number(&ev, 2, it->x);
        if (it->c)
            assert_int_equal(event_set_string(&ev, 3, it->c,
                                              strlen(it->c)), 0);
        assert_int_equal(event_set_string(&ev, 4, it->y, strlen(it->y)), 0);
        if (schema_encode_event(fx->base.schema, &ev, &fx->msgs[i], errstr,
                                sizeof(errstr)) != 0)
            fail_msg("encode: %s", errstr);
    }
    event_free(&ev);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char errstr[TESTUTIL_ERRSTR_SIZE];

    if (!fx)
        return -1;
    *state = fx;
    if (clean_fixture_open(&fx->base, "resume", stream_schema, stream_cfg,
                           0) != 0)
        return -1;
    if (schema_load_file(SNAPSHOT_AVSC, &fx->snap, errstr,
                         sizeof(errstr)) != 0) {
        print_error("setup: %s\n", errstr);
        return -1;
    }
    generate(fx);
    encode_items(fx);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    size_t i;

    if (!fx)
        return 0;
    for (i = 0; i < EVENTS; i++)
        buf_free(&fx->msgs[i]);
    schema_destroy(fx->snap);
    clean_fixture_close(&fx->base);
    free(fx);
    return 0;
}

static struct online_learner *new_learner(struct fixture *fx)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct online_learner *ol = NULL;

    if (online_new(fx->base.cfg, fx->base.schema, &ol, errstr,
                   sizeof(errstr)) != 0)
        fail_msg("online_new: %s", errstr);
    return ol;
}

/* Feeds events [from, to) as read from their partitions. */
static void feed(struct fixture *fx, struct online_learner *ol, size_t from,
                 size_t to, struct outcome *out)
{
    struct online_result res;
    size_t i;

    for (i = from; i < to; i++) {
        assert_int_equal(online_process_from(ol, "in",
                                             fx->items[i].partition, 0,
                                             fx->msgs[i].data,
                                             fx->msgs[i].len, &res), 0);
        out[i].duplicate = res.duplicate;
        out[i].dead_letter = res.dead_letter;
        out[i].late = res.late;
        out[i].reason = res.dead_letter ? res.verdict.reason : NULL;
        out[i].value = res.dead_letter || res.duplicate ? 0 : res.value;
    }
}

static void encode(struct fixture *fx, struct online_learner *ol,
                   struct buf *out)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];

    if (snapshot_encode(fx->snap, ol, NULL, 0, NOW_MS, out, errstr,
                        sizeof(errstr)) != 0)
        fail_msg("snapshot_encode: %s", errstr);
}

static void restore(struct fixture *fx, struct online_learner *ol,
                    const struct buf *snap)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct snapshot_offset offsets[4];
    size_t n = 0;

    if (snapshot_restore(fx->snap, ol, snap->data, snap->len, offsets, 4,
                         &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
}

static void test_snapshot_cleaning_resumes_exactly(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *whole = new_learner(fx);
    struct online_learner *first = new_learner(fx);
    struct online_learner *second = new_learner(fx);
    static struct outcome a[EVENTS], b[EVENTS];
    struct buf snap = {0}, end_a = {0}, end_b = {0};
    uint64_t da, db;
    size_t i, late = 0, dups = 0, imputed_after = 0;

    feed(fx, whole, 0, EVENTS, a);
    feed(fx, first, 0, BREAK_AT, b);
    encode(fx, first, &snap);
    restore(fx, second, &snap);
    feed(fx, second, BREAK_AT, EVENTS, b);

    for (i = BREAK_AT; i < EVENTS; i++) {
        if (a[i].duplicate != b[i].duplicate ||
            a[i].dead_letter != b[i].dead_letter ||
            memcmp(&a[i].value, &b[i].value, sizeof(double)) != 0)
            fail_msg("event %zu: uninterrupted dup %d dead %d value %.17g; "
                     "restored dup %d dead %d value %.17g", i,
                     a[i].duplicate, a[i].dead_letter, a[i].value,
                     b[i].duplicate, b[i].dead_letter, b[i].value);
        late += b[i].dead_letter && strcmp(b[i].reason, "late_event") == 0;
        dups += b[i].duplicate;
        imputed_after += isnan(fx->items[i].x) && !b[i].dead_letter;
    }
    /* The stream exercises what the state carries. */
    assert_int_equal(b[BREAK_AT + 3].duplicate, 1);
    assert_true(late > 0);
    assert_true(dups > 1);
    assert_true(imputed_after > 0);

    assert_int_equal(snapshot_weights_digest(whole, &da), 0);
    assert_int_equal(snapshot_weights_digest(second, &db), 0);
    assert_int_equal(da, db);
    encode(fx, whole, &end_a);
    encode(fx, second, &end_b);
    assert_int_equal(end_a.len, end_b.len);
    assert_memory_equal(end_a.data, end_b.data, end_a.len);

    buf_free(&snap);
    buf_free(&end_a);
    buf_free(&end_b);
    online_destroy(whole);
    online_destroy(first);
    online_destroy(second);
}

/* Without the state (a fresh learner given only the model), the
 * duplicate spanning the break would be learned again: the check above
 * depends on the saved window, not on luck. */
static void test_snapshot_cleaning_fresh_learner_misses_duplicate(
    void **state)
{
    struct fixture *fx = *state;
    struct online_learner *fresh = new_learner(fx);
    static struct outcome out[EVENTS];

    feed(fx, fresh, BREAK_AT, BREAK_AT + 4, out);
    assert_int_equal(out[BREAK_AT + 3].duplicate, 0);
    online_destroy(fresh);
}

/* Lateness is judged per partition: partition 1 runs LAG_MS behind
 * partition 0, far beyond the allowed lateness, yet its in-order events
 * are learned. */
static void test_snapshot_cleaning_lagging_partition_not_late(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *ol = new_learner(fx);
    static struct outcome out[EVENTS];
    size_t i, learned_p1 = 0;

    feed(fx, ol, 0, EVENTS, out);
    for (i = 1; i < EVENTS; i += PARTITIONS)
        learned_p1 += !out[i].dead_letter && !out[i].duplicate;
    assert_true(learned_p1 > EVENTS / PARTITIONS * 8 / 10);
    online_destroy(ol);
}

/* A format 1 snapshot (the schema before the cleaning state) is refused
 * with a message that says so. */
static void test_snapshot_cleaning_format1_refused(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *ol = new_learner(fx);
    struct snapshot_offset offsets[4];
    char errstr[TESTUTIL_ERRSTR_SIZE];
    unsigned char old[64] = {0xc3, 0x01};
    uint64_t fp = SNAPSHOT_V1_FINGERPRINT;
    size_t i, n = 0;

    for (i = 0; i < 8; i++)
        old[2 + i] = (unsigned char)(fp >> (8 * i));
    assert_int_equal(snapshot_restore(fx->snap, ol, old, sizeof(old),
                                      offsets, 4, &n, NULL, errstr,
                                      sizeof(errstr)),
                     RIFFLE_ERR_SNAPSHOT);
    assert_contains(errstr, "format 1");
    online_destroy(ol);
}

/* `dlq replay` judges with a restored learner: an id learned before the
 * snapshot is a duplicate, an event far behind its partition's
 * watermark is late, and an event that passes is remembered, so a
 * second copy in the same replay is a duplicate. */
static void test_snapshot_cleaning_validate_like_live(void **state)
{
    struct fixture *fx = *state;
    struct online_learner *first = new_learner(fx);
    struct online_learner *judge = new_learner(fx);
    static struct outcome out[EVENTS];
    struct online_result res;
    struct buf snap = {0};
    size_t learned = BREAK_AT - 1, fresh;

    feed(fx, first, 0, BREAK_AT, out);
    encode(fx, first, &snap);
    restore(fx, judge, &snap);
    /* The newest learned one: well within the window of 64 ids. */
    while (out[learned].dead_letter || out[learned].duplicate)
        learned--;

    assert_int_equal(online_validate_from(judge, "in",
                                          fx->items[learned].partition,
                                          fx->msgs[learned].data,
                                          fx->msgs[learned].len, &res), 0);
    assert_int_equal(res.duplicate, 1);

    /* Event 11 is 50 s behind its partition (i % 23 == 11), and the
     * watermark is far ahead now. */
    assert_int_equal(online_validate_from(judge, "in",
                                          fx->items[11].partition,
                                          fx->msgs[11].data,
                                          fx->msgs[11].len, &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_string_equal(res.verdict.reason, ONLINE_REASON_LATE);

    /* An event after the break, never learned, at the watermark. */
    fresh = BREAK_AT + 2;
    assert_int_equal(online_validate_from(judge, "in",
                                          fx->items[fresh].partition,
                                          fx->msgs[fresh].data,
                                          fx->msgs[fresh].len, &res), 0);
    assert_int_equal(res.dead_letter + res.duplicate, 0);
    assert_int_equal(online_validate_from(judge, "in",
                                          fx->items[fresh].partition,
                                          fx->msgs[fresh].data,
                                          fx->msgs[fresh].len, &res), 0);
    assert_int_equal(res.duplicate, 1);

    buf_free(&snap);
    online_destroy(first);
    online_destroy(judge);
}

/* ---- the summaries' own state -------------------------------------- */

static void test_sketch_save_load_round_trip(void **state)
{
    struct sketch *s, *t;
    struct buf b = {0};
    uint64_t rng = 7;
    double q;
    int i;

    (void)state;
    assert_int_equal(sketch_new(&s), 0);
    assert_int_equal(sketch_new(&t), 0);
    for (i = 0; i < 5000; i++)
        sketch_add(s, (rng_unit(&rng) - 0.3) * 1e4);
    sketch_add(s, 0.0);
    assert_int_equal(sketch_save(s, &b), 0);
    assert_int_equal(sketch_load(t, b.data, b.len), 0);
    assert_int_equal(sketch_count(t), sketch_count(s));
    for (q = 0; q <= 1.0; q += 0.125)
        assert_true(sketch_quantile(t, q) == sketch_quantile(s, q));

    /* Damaged: one byte short, one too many, counts that disagree. */
    assert_int_equal(sketch_load(t, b.data, b.len - 1), RIFFLE_ERR_SNAPSHOT);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_int_equal(sketch_load(t, b.data, b.len), RIFFLE_ERR_SNAPSHOT);
    b.len--;
    b.data[8] ^= 1; /* the total count */
    assert_int_equal(sketch_load(t, b.data, b.len), RIFFLE_ERR_SNAPSHOT);
    assert_int_equal(sketch_count(t), 5001); /* unchanged by refusals */

    buf_free(&b);
    sketch_destroy(s);
    sketch_destroy(t);
}

static void test_topk_save_load_round_trip(void **state)
{
    struct topk *s, *t;
    struct buf b = {0};
    uint64_t n = 0, m = 0;
    char v[16];
    int i;

    (void)state;
    assert_int_equal(topk_new(&s), 0);
    assert_int_equal(topk_new(&t), 0);
    for (i = 0; i < 3000; i++) {
        snprintf(v, sizeof(v), "c%d", (i * 7) % (i % 3 ? 97 : 5));
        topk_add(s, v, strlen(v));
    }
    assert_int_equal(topk_save(s, &b), 0);
    assert_int_equal(topk_load(t, b.data, b.len), 0);
    assert_string_equal(topk_mode(t, &n), topk_mode(s, &m));
    assert_int_equal(n, m);
    /* Both go on alike after the load. */
    topk_add(s, "c1", 2);
    topk_add(t, "c1", 2);
    assert_string_equal(topk_mode(t, &n), topk_mode(s, &m));

    assert_int_equal(topk_load(t, b.data, b.len - 1), RIFFLE_ERR_SNAPSHOT);
    b.data[16] = (char)0xff; /* more slots than there are */
    assert_int_equal(topk_load(t, b.data, b.len), RIFFLE_ERR_SNAPSHOT);

    buf_free(&b);
    topk_destroy(s);
    topk_destroy(t);
}

static void test_dedup_save_load_round_trip(void **state)
{
    struct dedup *d, *e, *small;
    struct buf b = {0};
    char id[16];
    int i;

    (void)state;
    assert_int_equal(dedup_new(10, &d), 0);
    assert_int_equal(dedup_new(10, &e), 0);
    assert_int_equal(dedup_new(3, &small), 0);
    for (i = 0; i < 25; i++) { /* the ring wraps: ids 15..24 remain */
        snprintf(id, sizeof(id), "id%d", i);
        dedup_insert(d, id, strlen(id));
    }
    assert_int_equal(dedup_save(d, &b), 0);
    assert_int_equal(dedup_load(e, b.data, b.len), 0);
    assert_int_equal(dedup_load(small, b.data, b.len), 0);
    for (i = 0; i < 25; i++) {
        snprintf(id, sizeof(id), "id%d", i);
        assert_int_equal(dedup_contains(e, id, strlen(id)), i >= 15);
        assert_int_equal(dedup_contains(small, id, strlen(id)), i >= 22);
    }
    /* The oldest is forgotten first after the load, as before it. */
    dedup_insert(e, "new", 3);
    assert_int_equal(dedup_contains(e, "id15", 4), 0);
    assert_int_equal(dedup_contains(e, "id16", 4), 1);

    assert_int_equal(dedup_load(e, b.data, b.len - 1), RIFFLE_ERR_SNAPSHOT);
    memset(b.data + 8, 0, 8); /* fingerprint 0 marks an empty slot */
    assert_int_equal(dedup_load(e, b.data, b.len), RIFFLE_ERR_SNAPSHOT);
    assert_int_equal(dedup_contains(e, "new", 3), 1); /* unchanged */

    buf_free(&b);
    dedup_destroy(d);
    dedup_destroy(e);
    dedup_destroy(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_snapshot_cleaning_resumes_exactly),
        T(test_snapshot_cleaning_fresh_learner_misses_duplicate),
        T(test_snapshot_cleaning_lagging_partition_not_late),
        T(test_snapshot_cleaning_format1_refused),
        T(test_snapshot_cleaning_validate_like_live),
#undef T
        cmocka_unit_test(test_sketch_save_load_round_trip),
        cmocka_unit_test(test_topk_save_load_round_trip),
        cmocka_unit_test(test_dedup_save_load_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
