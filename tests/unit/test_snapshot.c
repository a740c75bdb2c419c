/*
 * tests/unit/test_snapshot.c - saving and restoring a learner with
 * learner/snapshot.c, over learner/online.c.
 *
 * The input is the first rows of data/elec2/electricity.csv.gz, read with
 * producers/csv_reader.h, mapped with producers/produce.h and encoded
 * with schema_encode_event(), i.e. the bytes `riffle produce` would
 * send. A learner trained on them is snapshotted and restored into a
 * fresh one; the two must then agree bit for bit. Each refused restore
 * must leave its target exactly as it was. The same round trip runs
 * under every optimizer, from copies of config/elec2.cfg written to
 * /tmp, and snapshots in the older sparse-f32le-v1 weight encoding are
 * still read. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "learner/metrics.h"
#include "learner/model.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "learner/stats.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
#define ELEC2_CFG "config/elec2.cfg"
#define ELEC2_CSV "data/elec2/electricity.csv.gz"
#define SNAPSHOT_AVSC "schemas/model_snapshot.avsc"
#define TRAIN_EVENTS 300 /* events learned before the snapshot */
#define NEXT_EVENTS 100  /* events both learners see after it */
#define ROW_COUNT (TRAIN_EVENTS + NEXT_EVENTS)
#define BAD_AT 150       /* a truncated message is sent after this one */
#define SNAPSHOT_NOW_MS 1700000000000LL
#define INPUT_TOPIC "riffle.elec2.events"

/* Shared by every test, built once in group_setup. */
struct world {
    struct cfg *cfg;
    struct schema *input;
    struct schema *snap_schema;
    struct buf msgs[ROW_COUNT];
    struct buf snapshot;  /* of a learner after TRAIN_EVENTS events */
    unsigned char first_entry[SNAPSHOT_ENTRY_BYTES]; /* its first weight */
};

static struct world world;

static const struct snapshot_offset test_offsets[] = {
    {INPUT_TOPIC, 0, TRAIN_EVENTS + 1, 0},
    {"riffle.other", 7, 1234567890123LL, 0},
};
#define TEST_OFFSET_COUNT 2

/* ---- building the input -------------------------------------------- */

static int read_rows(char *errstr, size_t size)
{
    struct csv_options opts = {',', 0, 0, 1};
    struct csv_reader *csv = NULL;
    struct produce_mapping map;
    struct event ev;
    size_t i;
    int err;

    event_init(&ev);
    err = csv_reader_open(ELEC2_CSV, &opts, &csv, errstr, size);
    if (!err)
        err = produce_map_columns(world.cfg, world.input, csv, &map, errstr,
                                  size);
    for (i = 0; !err && i < ROW_COUNT; i++) {
        err = csv_reader_next(csv, errstr, size);
        if (!err)
            err = produce_row_to_event(world.cfg, world.input, &map, csv,
                                       (long)i + 1, &ev, errstr, size);
        if (!err)
            err = schema_encode_event(world.input, &ev, &world.msgs[i],
                                      errstr, size);
    }
    csv_reader_close(csv);
    event_free(&ev);
    return err;
}

static int new_learner(const struct cfg *cfg, struct online_learner **out)
{
    char errstr[ERRSTR_SIZE];
    int err = online_new(cfg, world.input, out, errstr, sizeof(errstr));

    if (err)
        print_error("online_new: %s\n", errstr);
    return err;
}

/* Feeds messages [from, to); after BAD_AT also a truncated copy, which
 * the learner dead-letters. */
static int train(struct online_learner *ol, size_t from, size_t to)
{
    struct online_result res;
    size_t i;
    int err;

    for (i = from; i < to; i++) {
        err = online_process(ol, world.msgs[i].data, world.msgs[i].len,
                             &res);
        if (err)
            return err;
        if (i == BAD_AT) {
            err = online_process(ol, world.msgs[i].data,
                                 world.msgs[i].len - 1, &res);
            if (err || !res.dead_letter)
                return -1;
        }
    }
    return 0;
}

static int encode(struct online_learner *ol, struct buf *out)
{
    char errstr[ERRSTR_SIZE];
    int err = snapshot_encode(world.snap_schema, ol, test_offsets,
                              TEST_OFFSET_COUNT, SNAPSHOT_NOW_MS, out,
                              errstr, sizeof(errstr));

    if (err)
        print_error("snapshot_encode: %s\n", errstr);
    return err;
}

/* The first (index, weight, state) entry the sparse encoding holds. */
static void pack_first_entry(struct online_learner *ol, unsigned char *e)
{
    const struct model *m = online_model(ol);
    float *w = model_weights_dup(m), *s = model_state_dup(m, 0);
    size_t i, count = model_weight_count(m);
    uint32_t u;
    int b;

    for (i = 0; i < count && w[i] == 0.0f && s[i] == 0.0f; i++)
        ;
    for (b = 0; b < 4; b++)
        e[b] = (unsigned char)(i >> (8 * b));
    memcpy(&u, &w[i], 4);
    for (b = 0; b < 4; b++)
        e[4 + b] = (unsigned char)(u >> (8 * b));
    memcpy(&u, &s[i], 4);
    for (b = 0; b < 4; b++)
        e[8 + b] = (unsigned char)(u >> (8 * b));
    free(w);
    free(s);
}

static int group_setup(void **state)
{
    struct online_learner *ol = NULL;
    char errstr[ERRSTR_SIZE] = "";
    int err;

    (void)state;
    world.cfg = calloc(1, sizeof(*world.cfg));
    if (!world.cfg)
        return -1;
    err = cfg_load_file(world.cfg, ELEC2_CFG, errstr, sizeof(errstr));
    if (!err)
        err = schema_load_file(world.cfg->schema_path, &world.input, errstr,
                               sizeof(errstr));
    if (!err)
        err = schema_load_file(SNAPSHOT_AVSC, &world.snap_schema, errstr,
                               sizeof(errstr));
    if (!err)
        err = read_rows(errstr, sizeof(errstr));
    if (err) {
        print_error("group setup: %s\n", errstr);
        return -1;
    }

    if (new_learner(world.cfg, &ol) != 0 ||
        train(ol, 0, TRAIN_EVENTS) != 0 || encode(ol, &world.snapshot) != 0)
        err = -1;
    else
        pack_first_entry(ol, world.first_entry);
    online_destroy(ol);
    return err;
}

static int group_teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ROW_COUNT; i++)
        buf_free(&world.msgs[i]);
    buf_free(&world.snapshot);
    schema_destroy(world.input);
    schema_destroy(world.snap_schema);
    free(world.cfg);
    return 0;
}

/* A heap copy of world.cfg for a test to change; the caller frees it. */
static struct cfg *world_cfg_copy(void)
{
    struct cfg *copy = malloc(sizeof(*copy));

    assert_non_null(copy);
    memcpy(copy, world.cfg, sizeof(*copy));
    return copy;
}

/* ---- learner state, for "unchanged" checks ------------------------- */

struct learner_state {
    float *w, *s;
    size_t count;
    uint64_t updates;
    struct model_norm_totals norm;
    struct metrics_totals totals;
    struct running_stats stats[CFG_MAX_FIELDS];
    uint64_t dead_letters;
};

static void capture(struct online_learner *ol, struct learner_state *st)
{
    const struct model *m = online_model(ol);

    st->count = model_weight_count(m);
    st->w = malloc(st->count * sizeof(float));
    st->s = malloc(st->count * sizeof(float));
    assert_non_null(st->w);
    assert_non_null(st->s);
    model_copy_weights(m, st->w);
    model_copy_state(m, 0, st->s);
    st->updates = model_update_count(m);
    model_copy_norm_totals(m, &st->norm);
    st->totals = online_metrics(ol)->total;
    memcpy(st->stats, online_stats(ol), sizeof(st->stats));
    st->dead_letters = online_dead_letter_count(ol);
}

static void assert_state_is(struct online_learner *ol,
                            const struct learner_state *st)
{
    const struct model *m = online_model(ol);
    const struct metrics_totals *t = &online_metrics(ol)->total;
    struct model_norm_totals norm;
    size_t i;

    assert_int_equal(model_weight_count(m), st->count);
    assert_weights_equal(m, st->w);
    for (i = 0; i < st->count; i++)
        assert_true(float_bits_equal(model_state_value(m, 0, i), st->s[i]));
    assert_int_equal(model_update_count(m), st->updates);
    model_copy_norm_totals(m, &norm);
    assert_int_equal(norm.examples, st->norm.examples);
    assert_memory_equal(&norm.norm_sum, &st->norm.norm_sum, sizeof(double));
    assert_int_equal(t->count, st->totals.count);
    assert_int_equal(t->correct, st->totals.correct);
    assert_int_equal(t->positives, st->totals.positives);
    assert_memory_equal(&t->logloss_sum, &st->totals.logloss_sum,
                        sizeof(double));
    assert_memory_equal(online_stats(ol), st->stats, sizeof(st->stats));
    assert_int_equal(online_dead_letter_count(ol), st->dead_letters);
}

static void release(struct learner_state *st)
{
    free(st->w);
    free(st->s);
}

/* Restores data into a learner that has learned a little (so that
 * "unchanged" means something), expects err, and checks the learner
 * kept its state. errstr receives the message. */
static void expect_refused(const struct cfg *cfg, const void *data,
                           size_t len, int expected_err, char *errstr,
                           size_t errstr_size)
{
    struct online_learner *ol = NULL;
    struct learner_state before;
    struct snapshot_offset offsets[TEST_OFFSET_COUNT];
    size_t n = 99;
    int err;

    assert_int_equal(new_learner(cfg, &ol), 0);
    assert_int_equal(train(ol, TRAIN_EVENTS, TRAIN_EVENTS + 20), 0);
    capture(ol, &before);

    errstr[0] = '\0';
    err = snapshot_restore(world.snap_schema, ol, data, len, offsets,
                           TEST_OFFSET_COUNT, &n, NULL, errstr,
                           errstr_size);
    if (expected_err)
        assert_int_equal(err, expected_err);
    else
        assert_int_not_equal(err, 0);
    assert_true(errstr[0] != '\0');
    assert_state_is(ol, &before);

    release(&before);
    online_destroy(ol);
}

/* ---- tests --------------------------------------------------------- */

static void test_snapshot_round_trip_is_exact(void **state)
{
    struct online_learner *a = NULL, *b = NULL;
    struct learner_state st;
    struct snapshot_offset offsets[4];
    struct snapshot_info info;
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0, i;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    assert_int_equal(online_dead_letter_count(a), 1);
    assert_int_equal(model_update_count(online_model(a)), TRAIN_EVENTS);
    assert_int_equal(encode(a, &snap), 0);
    assert_memory_equal(snap.data, world.snapshot.data, snap.len);

    assert_int_equal(new_learner(world.cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, &info, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);

    /* Everything the snapshot carries came back. */
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);
    assert_int_equal(n, TEST_OFFSET_COUNT);
    for (i = 0; i < TEST_OFFSET_COUNT; i++) {
        assert_string_equal(offsets[i].topic, test_offsets[i].topic);
        assert_int_equal(offsets[i].partition, test_offsets[i].partition);
        assert_int_equal(offsets[i].offset, test_offsets[i].offset);
    }
    assert_string_equal(info.model_name, "elec2");
    assert_int_equal(info.version, TRAIN_EVENTS);
    assert_int_equal(info.created_at_ms, SNAPSHOT_NOW_MS);
    assert_int_equal(info.bits, 18);
    assert_int_equal(info.config_fingerprint,
                     cfg_model_fingerprint(world.cfg));
    assert_int_equal(info.metrics.count, TRAIN_EVENTS);
    assert_int_equal(info.dead_letters, 1);
    assert_int_equal(info.offset_count, TEST_OFFSET_COUNT);

    /* And both go on identically. */
    for (i = TRAIN_EVENTS; i < ROW_COUNT; i++) {
        struct online_result ra, rb;

        assert_int_equal(online_process(a, world.msgs[i].data,
                                        world.msgs[i].len, &ra),
                         0);
        assert_int_equal(online_process(b, world.msgs[i].data,
                                        world.msgs[i].len, &rb),
                         0);
        assert_int_equal(ra.dead_letter, 0);
        assert_int_equal(rb.dead_letter, 0);
        assert_int_equal(ra.model_version, rb.model_version);
        assert_memory_equal(&ra.probability, &rb.probability,
                            sizeof(double));
    }
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);

    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
}

static void test_snapshot_read_info(void **state)
{
    struct snapshot_info info;
    char errstr[ERRSTR_SIZE];

    (void)state;
    assert_int_equal(snapshot_read_info(world.snap_schema,
                                        world.snapshot.data,
                                        world.snapshot.len, &info, errstr,
                                        sizeof(errstr)),
                     0);
    assert_string_equal(info.model_name, "elec2");
    assert_int_equal(info.version, TRAIN_EVENTS);
    assert_int_equal(info.bits, 18);
    assert_true(info.nonzero_count > 0);
    assert_int_equal(info.metrics.count, TRAIN_EVENTS);
    assert_int_equal(info.dead_letters, 1);
    assert_int_equal(info.offset_count, TEST_OFFSET_COUNT);
}

static void test_snapshot_other_bits_refused(void **state)
{
    struct cfg *other = world_cfg_copy();
    char errstr[ERRSTR_SIZE];

    (void)state;
    other->model.bits = 17;
    expect_refused(other, world.snapshot.data, world.snapshot.len,
                   RIFFLE_ERR_SNAPSHOT, errstr, sizeof(errstr));
    assert_contains(errstr, "bits 18");
    assert_contains(errstr, "bits 17");
    free(other);
}

static void test_snapshot_other_transform_refused(void **state)
{
    struct cfg *other = world_cfg_copy();
    char errstr[ERRSTR_SIZE];

    (void)state;
    other->fields[2].transform = CFG_TRANSFORM_STANDARDIZE;
    expect_refused(other, world.snapshot.data, world.snapshot.len,
                   RIFFLE_ERR_SNAPSHOT, errstr, sizeof(errstr));
    assert_contains(errstr, "other learner or field settings");
    free(other);
}

static void test_snapshot_model_name_mismatch(void **state)
{
    struct cfg *other = world_cfg_copy();
    char errstr[ERRSTR_SIZE];

    (void)state;
    snprintf(other->model_name, sizeof(other->model_name), "elec3");
    expect_refused(other, world.snapshot.data, world.snapshot.len,
                   RIFFLE_ERR_SNAPSHOT, errstr, sizeof(errstr));
    assert_contains(errstr, "\"elec2\"");
    assert_contains(errstr, "\"elec3\"");
    free(other);
}

/* Where needle first occurs in hay, or NULL (memmem is a GNU extension). */
static unsigned char *find_bytes(unsigned char *hay, size_t len,
                                 const unsigned char *needle, size_t n)
{
    size_t i;

    for (i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static void test_snapshot_flipped_weight_byte(void **state)
{
    unsigned char *copy = malloc(world.snapshot.len);
    unsigned char *at;
    char errstr[ERRSTR_SIZE];

    (void)state;
    assert_non_null(copy);
    memcpy(copy, world.snapshot.data, world.snapshot.len);
    at = find_bytes(copy, world.snapshot.len, world.first_entry,
                    SNAPSHOT_ENTRY_BYTES);
    assert_non_null(at);
    at[5] ^= 0x10; /* inside the first weight's float */

    expect_refused(world.cfg, copy, world.snapshot.len, RIFFLE_ERR_SNAPSHOT,
                   errstr, sizeof(errstr));
    assert_contains(errstr, "checksum");
    free(copy);
}

static void test_snapshot_truncated_refused(void **state)
{
    size_t len = world.snapshot.len;
    const size_t cuts[] = {len - 1, len - 8, len / 2, 64, 11, 10, 5, 0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        /* A copy of exactly cuts[i] bytes, so ASan sees any over-read. */
        unsigned char *copy = malloc(cuts[i] ? cuts[i] : 1);
        char errstr[ERRSTR_SIZE];

        assert_non_null(copy);
        memcpy(copy, world.snapshot.data, cuts[i]);
        expect_refused(world.cfg, copy, cuts[i], 0, errstr, sizeof(errstr));
        free(copy);
    }
}

static void test_snapshot_too_many_offsets_refused(void **state)
{
    struct online_learner *ol = NULL;
    struct learner_state before;
    struct snapshot_offset offsets[1];
    char errstr[ERRSTR_SIZE] = "";
    size_t n = 0;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &ol), 0);
    capture(ol, &before);
    assert_int_equal(snapshot_restore(world.snap_schema, ol,
                                      world.snapshot.data,
                                      world.snapshot.len, offsets, 1, &n,
                                      NULL, errstr, sizeof(errstr)),
                     RIFFLE_ERR_SNAPSHOT);
    assert_state_is(ol, &before);
    release(&before);
    online_destroy(ol);
}

static void test_online_refused_event_leaves_stats(void **state)
{
    struct cfg *open_max;
    struct online_learner *ol = NULL;
    struct online_result res;
    struct running_stats before[CFG_MAX_FIELDS];
    struct event ev;
    struct buf msg = {0};
    char errstr[ERRSTR_SIZE];
    size_t i;

    (void)state;

    open_max = world_cfg_copy();
    assert_string_equal(open_max->fields[5].name, "nswprice");
    open_max->fields[5].has_max = 0;
    assert_int_equal(new_learner(open_max, &ol), 0);
    assert_int_equal(train(ol, 0, 20), 0);
    memcpy(before, online_stats(ol), sizeof(before));

    event_init(&ev);
    event_reset(&ev, schema_field_count(world.input));
    assert_int_equal(event_set_string(&ev, 0, "elec2-x", 7), 0);
    for (i = 1; i < 9; i++)
        event_set_number(&ev, i, i == 2 ? 3.0 : 0.5);
    event_set_number(&ev, 4, 1e300); /* nswprice */
    assert_int_equal(event_set_string(&ev, 9, "UP", 2), 0);
    if (schema_encode_event(world.input, &ev, &msg, errstr,
                            sizeof(errstr)) != 0)
        fail_msg("encode: %s", errstr);

    assert_int_equal(online_process(ol, msg.data, msg.len, &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_memory_equal(online_stats(ol), before, sizeof(before));

    event_free(&ev);
    buf_free(&msg);
    online_destroy(ol);
    free(open_max);
}

/* ---- every optimizer, and older encodings -------------------------- */

#define OPT_CFG_MAX 16384 /* config/elec2.cfg is about 4 KiB */

/* Replaces the setting of text that starts with key, up to its ';', by
 * setting (text holds OPT_CFG_MAX bytes). */
static void setting_replace(char *text, const char *key, const char *setting)
{
    char rest[OPT_CFG_MAX];
    char *at = strstr(text, key);
    char *end = at ? strchr(at, ';') : NULL;

    assert_non_null(end);
    snprintf(rest, sizeof(rest), "%s", end + 1);
    assert_true(strlen(text) + strlen(setting) < OPT_CFG_MAX);
    snprintf(at, OPT_CFG_MAX - (size_t)(at - text), "%s%s", setting, rest);
}

/* Loads config/elec2.cfg with its optimizer setting replaced by
 * optimizer and its learning_rate by rate (when not NULL), through a
 * temporary copy. */
static struct cfg *cfg_with(const char *optimizer, const char *rate)
{
    char text[OPT_CFG_MAX];
    char path[64];
    char errstr[ERRSTR_SIZE];
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    FILE *f = fopen(ELEC2_CFG, "r");
    size_t len;
    int err;

    assert_non_null(cfg);
    assert_non_null(f);
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    setting_replace(text, "optimizer = ", optimizer);
    if (rate)
        setting_replace(text, "learning_rate = ", rate);

    temp_file_new(path, sizeof(path), "snapshot");
    err = load_cfg_text(cfg, path, text, errstr, sizeof(errstr));
    assert_int_equal(unlink(path), 0); /* before any failure, too */
    if (err != 0)
        fail_msg("%s", errstr);
    return cfg;
}

/* Every optimizer-state array of b equals a's, bit for bit. */
static void assert_same_states(struct online_learner *a,
                               struct online_learner *b)
{
    const struct model *ma = online_model(a), *mb = online_model(b);

    assert_int_equal(model_state_count(ma), model_state_count(mb));
    assert_models_equal(ma, mb);
}

/* Counts the non-zero and the negative values of state array k. */
static void count_state(const struct model *m, size_t k, size_t *nonzero,
                        size_t *negative)
{
    size_t i;

    *nonzero = 0;
    *negative = 0;
    for (i = 0; i < model_weight_count(m); i++) {
        *nonzero += model_state_value(m, k, i) != 0.0f;
        *negative += model_state_value(m, k, i) < 0.0f;
    }
}

struct opt_case {
    const char *lines;  /* replace the optimizer setting of elec2.cfg */
    const char *rate;   /* and the learning_rate one, unless NULL */
    size_t states;      /* optimizer-state arrays */
    int signed_state;   /* array 1 holds negative values (m, z) */
};

static void round_trip(const struct opt_case *c)
{
    struct cfg *cfg = cfg_with(c->lines, c->rate);
    struct online_learner *a = NULL, *b = NULL;
    struct learner_state st;
    struct snapshot_offset offsets[4];
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0, i, k, nonzero, negative;

    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    assert_int_equal(model_state_count(online_model(a)), c->states);
    for (k = 0; k < c->states; k++) {
        count_state(online_model(a), k, &nonzero, &negative);
        assert_true(nonzero > 0); /* so the round trip proves something */
        if (k == 1 && c->signed_state)
            assert_true(negative > 0);
    }
    assert_int_equal(encode(a, &snap), 0);

    assert_int_equal(new_learner(cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("%s: snapshot_restore: %s", c->lines, errstr);
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);
    assert_same_states(a, b);

    for (i = TRAIN_EVENTS; i < ROW_COUNT; i++) {
        struct online_result ra, rb;

        assert_int_equal(online_process(a, world.msgs[i].data,
                                        world.msgs[i].len, &ra),
                         0);
        assert_int_equal(online_process(b, world.msgs[i].data,
                                        world.msgs[i].len, &rb),
                         0);
        assert_memory_equal(&ra.probability, &rb.probability,
                            sizeof(double));
    }
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);
    assert_same_states(a, b);

    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

static void test_snapshot_round_trip_each_optimizer(void **state)
{
    static const struct opt_case cases[] = {
        {"optimizer = \"sgd\";", NULL, 0, 0},
        {"optimizer = \"adagrad\";", NULL, 1, 0},
        {"optimizer = \"rmsprop\";", "learning_rate = 0.01;", 1, 0},
        {"optimizer = \"adam\";", "learning_rate = 0.01;", 2, 1},
        {"optimizer = \"normalized\";", "learning_rate = 0.5;", 2, 0},
        {"optimizer = \"ftrl\"; l1 = 1.0;", "learning_rate = 0.5;", 2, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].lines);
        round_trip(&cases[i]);
    }
}

/* Rewrites the checksum that ends every snapshot (the record's last
 * field, a zig-zag varint of CRC-64-AVRO over the body before it) after a
 * test has edited the body, as a writer of that edit would have. */
static void reseal(struct buf *snap)
{
    size_t start = snap->len - 1;
    uint64_t zz;
    unsigned char tail[10];
    size_t n = 0;

    /* The varint's last byte is below 0x80, the ones before it are not;
     * the byte before the varint (an array's 0 terminator) is below too. */
    while (start > 0 && (unsigned char)snap->data[start - 1] >= 0x80)
        start--;
    zz = (uint64_t)schema_crc64_avro(snap->data + SCHEMA_SOE_HEADER_SIZE,
                                     start - SCHEMA_SOE_HEADER_SIZE);
    zz = (zz << 1) ^ (uint64_t)((int64_t)zz >> 63);
    do {
        tail[n++] = (unsigned char)((zz & 0x7f) | (zz > 0x7f ? 0x80 : 0));
        zz >>= 7;
    } while (zz);
    snap->len = start;
    assert_int_equal(buf_append(snap, tail, n), 0);
}

/* Renames the weight encoding of snap to name, in place (name has the
 * length of SNAPSHOT_WEIGHT_ENCODING, so the Avro string keeps its size
 * and nothing else moves). */
static void rename_encoding(struct buf *snap, const char *name)
{
    size_t n = strlen(SNAPSHOT_WEIGHT_ENCODING);
    unsigned char *at;

    assert_int_equal(strlen(name), n);
    at = find_bytes((unsigned char *)snap->data, snap->len,
                    (const unsigned char *)SNAPSHOT_WEIGHT_ENCODING, n);
    assert_non_null(at);
    memcpy(at, name, n);
    reseal(snap);
}

/* An AdaGrad model's v2 entries have v1's layout: renamed, the snapshot
 * restores to the same learner. */
static void test_snapshot_reads_v1_adagrad(void **state)
{
    struct cfg *cfg = cfg_with("optimizer = \"adagrad\";", NULL);
    struct online_learner *a = NULL, *b = NULL;
    struct learner_state st;
    struct snapshot_offset offsets[4];
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0;

    (void)state;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    assert_int_equal(encode(a, &snap), 0);
    rename_encoding(&snap, SNAPSHOT_WEIGHT_ENCODING_V1);
    assert_int_equal(new_learner(cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

static void test_snapshot_unknown_encoding_refused(void **state)
{
    struct buf v9 = {0};
    char errstr[ERRSTR_SIZE];

    (void)state;
    assert_int_equal(buf_append(&v9, world.snapshot.data,
                                world.snapshot.len),
                     0);
    rename_encoding(&v9, "sparse-f32le-v9");
    expect_refused(world.cfg, v9.data, v9.len, RIFFLE_ERR_SNAPSHOT, errstr,
                   sizeof(errstr));
    assert_contains(errstr, "weight encoding \"sparse-f32le-v9\"");
    buf_free(&v9);
}

/* One long or double of the snapshot record (group NULL) or of its
 * metrics group, set to a value and resealed, as a writer of it would. */
struct totals_edit {
    const char *group;
    const char *field;
    int is_double;
    int64_t l;
    double d;
    const char *message;
};

static void edit_snapshot(const struct buf *snap,
                          const struct totals_edit *e, struct buf *out)
{
    avro_value_t rec, g, f;
    char errstr[ERRSTR_SIZE];

    assert_int_equal(schema_new_value(world.snap_schema, &rec), 0);
    assert_int_equal(schema_read_value(world.snap_schema, snap->data,
                                       snap->len, &rec, errstr,
                                       sizeof(errstr)),
                     0);
    g = rec;
    if (e->group)
        assert_int_equal(avro_value_get_by_name(&rec, e->group, &g, NULL),
                         0);
    assert_int_equal(avro_value_get_by_name(&g, e->field, &f, NULL), 0);
    if (e->is_double)
        assert_int_equal(avro_value_set_double(&f, e->d), 0);
    else
        assert_int_equal(avro_value_set_long(&f, e->l), 0);
    assert_int_equal(schema_write_value(world.snap_schema, &rec, out, errstr,
                                        sizeof(errstr)),
                     0);
    reseal(out);
    avro_value_decref(&rec);
}

/* A snapshot whose checksum holds but whose version or progressive
 * metrics no learner writes (published by hand, or by another program)
 * is refused, naming what is wrong, and the learner keeps its state.
 * Each was restored before: a count of -1 read as 2^64 - 1 events and an
 * accuracy of 4.56 after 500 more, a NaN log loss sum gave a log loss of
 * null for ever, and version 2^63 - 1 wrapped past INT64_MAX. */
static void test_snapshot_out_of_range_totals_refused(void **state)
{
    static const char *const version = "snapshot version ";
    static const char *const metrics = "progressive metrics out of range";
    const struct totals_edit cases[] = {
        {NULL, "version", 0, -7, 0, "version -7 is out of range"},
        {NULL, "version", 0, INT64_MAX, 0, "is out of range (0 to 2^62)"},
        {"metrics", "count", 0, -1, 0, metrics},
        {"metrics", "correct", 0, TRAIN_EVENTS + 1, 0, metrics},
        {"metrics", "positives", 0, TRAIN_EVENTS + 1, 0, metrics},
        {"metrics", "dead_letters", 0, -1, 0, metrics},
        {"metrics", "logloss_sum", 1, 0, NAN, metrics},
        {"metrics", "logloss_sum", 1, 0, -1.0, metrics},
        {"metrics", "squared_error_sum", 1, 0, NAN, metrics},
        {"metrics", "abs_error_sum", 1, 0, -INFINITY, metrics},
    };
    char errstr[ERRSTR_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf bad = {0};

        print_message("%s.%s\n", cases[i].group ? cases[i].group : "",
                      cases[i].field);
        edit_snapshot(&world.snapshot, &cases[i], &bad);
        expect_refused(world.cfg, bad.data, bad.len, RIFFLE_ERR_SNAPSHOT,
                       errstr, sizeof(errstr));
        assert_contains(errstr, version);
        assert_contains(errstr, cases[i].message);
        buf_free(&bad);
    }
}

/* Rewrites snap (an SGD model's, v2: 8-byte entries) as an SGD snapshot
 * of riffle before v2 wrote it: 12-byte entries with a zero state. */
static void rewrite_as_v1(const struct buf *snap, struct buf *out)
{
    avro_value_t rec, f;
    const void *bytes;
    const unsigned char *p;
    unsigned char *v1;
    size_t len, i, entries;
    char errstr[ERRSTR_SIZE];

    assert_int_equal(schema_new_value(world.snap_schema, &rec), 0);
    assert_int_equal(schema_read_value(world.snap_schema, snap->data,
                                       snap->len, &rec, errstr,
                                       sizeof(errstr)),
                     0);
    assert_int_equal(avro_value_get_by_name(&rec, "weights", &f, NULL), 0);
    assert_int_equal(avro_value_get_bytes(&f, &bytes, &len), 0);
    assert_int_equal(len % SNAPSHOT_ENTRY_BYTES_V2(0), 0);
    entries = len / SNAPSHOT_ENTRY_BYTES_V2(0);
    assert_true(entries > 0);
    v1 = calloc(entries, SNAPSHOT_ENTRY_BYTES);
    assert_non_null(v1);
    for (i = 0, p = bytes; i < entries; i++, p += SNAPSHOT_ENTRY_BYTES_V2(0))
        memcpy(v1 + i * SNAPSHOT_ENTRY_BYTES, p, SNAPSHOT_ENTRY_BYTES_V2(0));

    assert_int_equal(avro_value_set_bytes(&f, v1,
                                          entries * SNAPSHOT_ENTRY_BYTES),
                     0);
    assert_int_equal(avro_value_get_by_name(&rec, "weights_crc64", &f, NULL),
                     0);
    assert_int_equal(avro_value_set_long(&f, (int64_t)schema_crc64_avro(
                                                 v1, entries *
                                                         SNAPSHOT_ENTRY_BYTES)),
                     0);
    assert_int_equal(avro_value_get_by_name(&rec, "weight_encoding", &f,
                                            NULL),
                     0);
    assert_int_equal(avro_value_set_string(&f, SNAPSHOT_WEIGHT_ENCODING_V1),
                     0);
    assert_int_equal(schema_write_value(world.snap_schema, &rec, out, errstr,
                                        sizeof(errstr)),
                     0);
    reseal(out);
    free(v1);
    avro_value_decref(&rec);
}

/* An SGD snapshot in v1 carries a zero state array the model no longer
 * keeps: it is read, checked and dropped. */
static void test_snapshot_reads_v1_sgd(void **state)
{
    struct cfg *cfg = cfg_with("optimizer = \"sgd\";", NULL);
    struct online_learner *a = NULL, *b = NULL;
    struct learner_state st;
    struct snapshot_offset offsets[4];
    struct buf v2 = {0}, v1 = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0;

    (void)state;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    assert_int_equal(encode(a, &v2), 0);
    rewrite_as_v1(&v2, &v1);
    assert_true(v1.len > v2.len); /* 4 more bytes per entry */

    assert_int_equal(new_learner(cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, v1.data, v1.len, offsets, 4,
                         &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
    capture(a, &st);
    assert_state_is(b, &st);
    release(&st);

    buf_free(&v1);
    buf_free(&v2);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

/* One flipped bit anywhere in a snapshot (offsets, statistics, metrics,
 * not only the weights) is refused, and the learner stays as it was. */
static void test_snapshot_any_flipped_bit_refused(void **state)
{
    struct cfg *cfg = cfg_with("optimizer = \"adagrad\";", NULL);
    struct online_learner *a = NULL, *b = NULL;
    struct snapshot_offset offsets[4];
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0, i, accepted = 0;

    (void)state;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    assert_int_equal(encode(a, &snap), 0);
    assert_int_equal(new_learner(cfg, &b), 0);

    for (i = SCHEMA_SOE_HEADER_SIZE; i < snap.len; i++) {
        snap.data[i] ^= 0x08;
        if (snapshot_restore(world.snap_schema, b, snap.data, snap.len,
                             offsets, 4, &n, NULL, errstr,
                             sizeof(errstr)) == 0)
            accepted++;
        snap.data[i] ^= 0x08;
    }
    assert_int_equal(accepted, 0);
    assert_int_equal(model_update_count(online_model(b)), 0);
    assert_int_equal(snapshot_restore(world.snap_schema, b, snap.data,
                                      snap.len, offsets, 4, &n, NULL, errstr,
                                      sizeof(errstr)),
                     0);
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

/* ---- snapshot files -------------------------------------------------- */

/* Whether anything, file or folder, is at path. */
static int path_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* A file that is no snapshot at all (here a CSV and an empty file) is
 * named as such, not as a message without its marker at offset 0. */
static void test_snapshot_load_file_names_another_kind(void **state)
{
    static const char *const texts[] = {"event_id,class\nx,UP\n", ""};
    struct online_learner *ol = NULL;
    struct snapshot_offset offsets[4];
    struct snapshot_info info;
    char path[64], want[ERRSTR_SIZE], errstr[ERRSTR_SIZE];
    size_t i, n = 0;
    FILE *f;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &ol), 0);
    temp_file_new(path, sizeof(path), "not-snap");
    snprintf(want, sizeof(want), "%s: not a snapshot file (one begins with "
             "the bytes c3 01; riffle train --snapshot FILE writes one)",
             path);
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        f = fopen(path, "wb");
        assert_non_null(f);
        fputs(texts[i], f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(snapshot_load_file(world.snap_schema, ol, path,
                                            offsets, 4, &n, &info, errstr,
                                            sizeof(errstr)),
                         RIFFLE_ERR_DECODE);
        assert_string_equal(errstr, want);
    }
    assert_int_equal(remove(path), 0);
    online_destroy(ol);
}

/* A snapshot that cannot be saved is named as asked for, with the reason
 * and the temporary file as where, and leaves no temporary file: in a
 * folder that does not exist, and over a folder (the rename fails).
 * snapshot_probe_file(), which `riffle train --snapshot` asks before it
 * learns, refuses both in the same words. */
static void test_snapshot_save_file_failure_names_the_path(void **state)
{
    struct online_learner *ol = NULL;
    char dir[64], path[128], tmp[160], want[ERRSTR_SIZE];
    char errstr[ERRSTR_SIZE];

    (void)state;
    assert_non_null(temp_dir_new(dir, sizeof(dir), "snapfile"));
    assert_int_equal(new_learner(world.cfg, &ol), 0);

    snprintf(path, sizeof(path), "%s/no-dir/m.snap", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(want, sizeof(want), "%s: cannot write the snapshot: %s "
             "(writing %s)", path, strerror(ENOENT), tmp);
    assert_int_equal(snapshot_probe_file(path, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(errstr, want);
    assert_int_equal(snapshot_save_file(world.snap_schema, ol, NULL, 0, path,
                                        errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(errstr, want);

    snprintf(path, sizeof(path), "%s/folder", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(snapshot_probe_file(path, errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    snprintf(want, sizeof(want), "%s: cannot write the snapshot: a folder, "
             "not a file to write the model to", path);
    assert_string_equal(errstr, want);
    assert_false(path_exists(tmp));
    assert_int_equal(snapshot_save_file(world.snap_schema, ol, NULL, 0, path,
                                        errstr, sizeof(errstr)),
                     RIFFLE_ERR_IO);
    snprintf(want, sizeof(want), "%s: cannot write the snapshot: %s "
             "(renaming %s)", path, strerror(EISDIR), tmp);
    assert_string_equal(errstr, want);
    assert_false(path_exists(tmp));

    /* A path it can write: the probe leaves nothing, the save the file. */
    snprintf(path, sizeof(path), "%s/m.snap", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(snapshot_probe_file(path, errstr, sizeof(errstr)), 0);
    assert_false(path_exists(path) || path_exists(tmp));
    assert_int_equal(snapshot_save_file(world.snap_schema, ol, NULL, 0, path,
                                        errstr, sizeof(errstr)),
                     0);
    assert_true(path_exists(path) && !path_exists(tmp));

    assert_int_equal(remove(path), 0);
    snprintf(path, sizeof(path), "%s/folder", dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(dir), 0);
    online_destroy(ol);
}

/* ---- older formats, and pending delayed labels (format 3) ----------- */

#define FORMAT2_FIXTURE "tests/fixtures/elec2_snapshot_format2.bin"
#define FORMAT3_FIXTURE "tests/fixtures/elec2_snapshot_format3.bin"
#define FORMAT4_FIXTURE "tests/fixtures/elec2_snapshot_format4.bin"
#define FIXTURE_EVENTS 200 /* `riffle train` on the first 200 rows */
#define FIXTURE_LEARNING_RATE 8.0 /* config/elec2.cfg's when written */
/* A t no 200 examples can bring N up to (each adds at most one per
 * feature, about ten): with N <= t the normalized rate is lr, as it was
 * for every step before the model-wide totals existed. */
#define FIXTURE_FACTOR_ONE_EXAMPLES ((uint64_t)1 << 62)

/* Restores the fixture at path into a new learner under cfg. */
static struct online_learner *restore_fixture(const struct cfg *cfg,
                                              const char *path,
                                              struct snapshot_info *info)
{
    struct online_learner *ol = NULL;
    struct snapshot_offset offsets[4];
    char errstr[ERRSTR_SIZE] = "";
    size_t n = 99;

    assert_int_equal(new_learner(cfg, &ol), 0);
    if (snapshot_load_file(world.snap_schema, ol, path, offsets, 4, &n, info,
                           errstr, sizeof(errstr)) != 0)
        fail_msg("%s", errstr);
    assert_int_equal(info->version, FIXTURE_EVENTS);
    assert_int_equal(info->metrics.count, FIXTURE_EVENTS);
    assert_int_equal(n, 0);
    return ol;
}

/*
 * Snapshots written before the normalized optimizer's totals existed,
 * format 2 (before the pending labels too) and format 3 (by riffle train
 * of the commit before format 4), both on the first 200 Elec2 rows at
 * learning rate 8, still restore: to the weights this build learns from
 * the same rows with the sqrt(t / N) factor held at 1 (the only change to
 * the optimizer since), and with the totals at the defaults
 * model_snapshot.avsc gives them. Learning then counts from there.
 */
static void test_snapshot_reads_formats_2_and_3(void **state)
{
    struct cfg *cfg = world_cfg_copy();
    const struct model_norm_totals factor_one = {FIXTURE_FACTOR_ONE_EXAMPLES,
                                                 0.0};
    struct online_learner *a = NULL, *b, *c;
    struct model_norm_totals nt;
    struct snapshot_info info;
    char errstr[ERRSTR_SIZE] = "";
    uint64_t da = 0, db = 1, dc = 2;

    (void)state;
    assert_int_equal(cfg->model.optimizer, MODEL_OPT_NORMALIZED);
    cfg->model.learning_rate = FIXTURE_LEARNING_RATE;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(
        model_restore_norm_totals(online_model(a), &factor_one), 0);
    assert_int_equal(train(a, 0, FIXTURE_EVENTS), 0);
    b = restore_fixture(cfg, FORMAT2_FIXTURE, &info);
    c = restore_fixture(cfg, FORMAT3_FIXTURE, &info);

    assert_int_equal(snapshot_weights_digest(a, &da), 0);
    assert_int_equal(snapshot_weights_digest(b, &db), 0);
    assert_int_equal(snapshot_weights_digest(c, &dc), 0);
    assert_int_equal(da, db);
    assert_int_equal(da, dc);
    model_copy_norm_totals(online_model(c), &nt);
    assert_int_equal(nt.examples, SNAPSHOT_DEFAULT_NORM_EXAMPLES);
    assert_double_near(nt.norm_sum, SNAPSHOT_DEFAULT_NORM_SUM, 0.0);
    model_copy_norm_totals(online_model(b), &nt);
    assert_int_equal(nt.examples, SNAPSHOT_DEFAULT_NORM_EXAMPLES);
    assert_double_near(nt.norm_sum, SNAPSHOT_DEFAULT_NORM_SUM, 0.0);

    /* Each example adds one to t and at least the bias's 1 to N. */
    assert_int_equal(train(c, FIXTURE_EVENTS, TRAIN_EVENTS), 0);
    model_copy_norm_totals(online_model(c), &nt);
    assert_int_equal(nt.examples, TRAIN_EVENTS - FIXTURE_EVENTS);
    assert_true(nt.norm_sum > (double)(TRAIN_EVENTS - FIXTURE_EVENTS));
    assert_int_equal(snapshot_read_info(world.snap_schema, "", 0, &info,
                                        errstr, sizeof(errstr)) != 0, 1);
    online_destroy(a);
    online_destroy(b);
    online_destroy(c);
    free(cfg);
}

/* A snapshot of format 4 (riffle train of the commit before format 5,
 * on the same 200 rows under config/elec2.cfg) restores to the weights
 * this build learns from those rows, and says its format: its join
 * positions, were there any, would promise nothing about dead letters
 * (it has no join_checked), which the learner tells by it. */
static void test_snapshot_reads_format_4(void **state)
{
    struct online_learner *a = NULL, *b;
    struct snapshot_info info;
    uint64_t da = 0, db = 1;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &a), 0);
    assert_int_equal(train(a, 0, FIXTURE_EVENTS), 0);
    b = restore_fixture(world.cfg, FORMAT4_FIXTURE, &info);

    assert_int_equal(info.format_version, 4);
    assert_true(info.format_version < SNAPSHOT_FORMAT_CHECKED);
    assert_int_equal(snapshot_weights_digest(a, &da), 0);
    assert_int_equal(snapshot_weights_digest(b, &db), 0);
    assert_int_equal(da, db);
    online_destroy(a);
    online_destroy(b);
}

/* Format 5 carries the join's checked positions apart from the offsets
 * to read from: given mixed, they come back flagged and after the
 * offsets, in their order, and count against the same limit. */
static void test_snapshot_keeps_join_checked(void **state)
{
    static const struct snapshot_offset mixed[] = {
        {INPUT_TOPIC, 0, 40, 0},
        {"riffle.profiles", 1, 12, 1},
        {"riffle.profiles", 0, 30, 0},
        {"riffle.profiles", 0, 9, 1},
    };
    static const size_t order[] = {0, 2, 1, 3};
    struct online_learner *a = NULL, *b = NULL;
    struct snapshot_offset offsets[8];
    struct snapshot_info info;
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0, i;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &a), 0);
    assert_int_equal(train(a, 0, 50), 0);
    assert_int_equal(snapshot_encode(world.snap_schema, a, mixed, 4,
                                     SNAPSHOT_NOW_MS, &snap, errstr,
                                     sizeof(errstr)), 0);

    assert_int_equal(new_learner(world.cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         8, &n, &info, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
    assert_int_equal(info.format_version, SNAPSHOT_FORMAT_VERSION);
    assert_int_equal(info.offset_count, 2);
    assert_int_equal(n, 4);
    for (i = 0; i < 4; i++) {
        assert_string_equal(offsets[i].topic, mixed[order[i]].topic);
        assert_int_equal(offsets[i].partition, mixed[order[i]].partition);
        assert_int_equal(offsets[i].offset, mixed[order[i]].offset);
        assert_int_equal(offsets[i].checked, mixed[order[i]].checked);
    }

    assert_int_not_equal(snapshot_restore(world.snap_schema, b, snap.data,
                                          snap.len, offsets, 3, &n, NULL,
                                          errstr, sizeof(errstr)), 0);
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
}

/* The totals travel in format 4: a snapshot of a normalized learner
 * holds its t and N, and a restored learner has them bit for bit (the
 * round trip above then learns on identically). */
static void test_snapshot_keeps_norm_totals(void **state)
{
    struct online_learner *a = NULL, *b = NULL;
    struct snapshot_offset offsets[4];
    struct model_norm_totals ta, tb;
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &a), 0);
    assert_int_equal(train(a, 0, TRAIN_EVENTS), 0);
    model_copy_norm_totals(online_model(a), &ta);
    assert_int_equal(ta.examples, TRAIN_EVENTS);
    assert_true(ta.norm_sum > (double)TRAIN_EVENTS);
    assert_int_equal(encode(a, &snap), 0);

    assert_int_equal(new_learner(world.cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
    model_copy_norm_totals(online_model(b), &tb);
    assert_int_equal(tb.examples, ta.examples);
    assert_memory_equal(&tb.norm_sum, &ta.norm_sum, sizeof(double));
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
}

/* t is written as an Avro long: a model that restored the largest one
 * a snapshot holds and learned on must still write a snapshot it can
 * read back, so t stops there instead of wrapping negative. */
static void test_snapshot_largest_norm_count_round_trips(void **state)
{
    const struct model_norm_totals most = {INT64_MAX, 1e6};
    struct online_learner *a = NULL, *b = NULL;
    struct snapshot_offset offsets[4];
    struct model_norm_totals tb;
    struct buf snap = {0};
    char errstr[ERRSTR_SIZE];
    size_t n = 0;

    (void)state;
    assert_int_equal(new_learner(world.cfg, &a), 0);
    assert_int_equal(model_restore_norm_totals(online_model(a), &most), 0);
    assert_int_equal(train(a, 0, 3), 0);
    assert_int_equal(encode(a, &snap), 0);

    assert_int_equal(new_learner(world.cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("snapshot_restore: %s", errstr);
    model_copy_norm_totals(online_model(b), &tb);
    assert_true(tb.examples == (uint64_t)INT64_MAX);
    assert_true(tb.norm_sum > most.norm_sum);
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
}

#define PENDING_EVENTS 60 /* unlabelled events scored and kept */
#define LABELS_TOPIC "riffle.elec2.labels"

/* msgs[i] with its label taken out, and the label's text. */
static void unlabel(size_t i, struct buf *out, char *label, size_t size)
{
    char errstr[ERRSTR_SIZE];
    const struct cfg_field *f = cfg_field_of_kind(world.cfg,
                                                  CFG_FIELD_LABEL);
    int index = schema_field_index(world.input, f->name);
    struct event ev;

    event_init(&ev);
    assert_int_equal(schema_decode_event(world.input, world.msgs[i].data,
                                         world.msgs[i].len, &ev, errstr,
                                         sizeof(errstr)), 0);
    snprintf(label, size, "%s", event_string(&ev, (size_t)index));
    event_set_null(&ev, (size_t)index);
    assert_int_equal(schema_encode_event(world.input, &ev, out, errstr,
                                         sizeof(errstr)), 0);
    event_free(&ev);
}

/* Joins label for event row (1-based) in ol; returns the outcome. */
static enum label_join_outcome give_label(struct online_learner *ol,
                                          size_t row, const char *label,
                                          struct online_result *res)
{
    enum label_join_outcome outcome;
    struct online_label read;
    struct online_label_origin origin = {0, (int64_t)row, 2000, NULL, 0,
                                         label, strlen(label)};
    char id[32];

    snprintf(id, sizeof(id), "elec2-%zu", row);
    assert_int_equal(online_read_label(ol, id, strlen(id), label,
                                       strlen(label), &read), 0);
    assert_int_equal(online_learn_label(ol, &read, &origin, &outcome, res),
                     0);
    return outcome;
}

/* A learner with events waiting for their labels is snapshotted and
 * restored: the restored one joins every later label exactly as the
 * original does, with the prediction made before the snapshot, and
 * ends with bit-identical weights and the same metrics. */
static void test_snapshot_keeps_pending_labels(void **state)
{
    struct cfg *cfg = world_cfg_copy();
    struct online_learner *a = NULL, *b = NULL;
    struct online_result ra, rb;
    struct snapshot_offset offsets[4];
    char labels[PENDING_EVENTS][CFG_NAME_MAX], errstr[ERRSTR_SIZE] = "";
    char late_label[CFG_NAME_MAX];
    struct buf msg = {0}, snap = {0};
    struct label_join_counts ca, cb;
    uint64_t da = 0, db = 1;
    size_t i, n = 0;

    (void)state;
    cfg->labels.line = 1;
    snprintf(cfg->labels.topic, sizeof(cfg->labels.topic), LABELS_TOPIC);
    cfg->labels.ttl_ms = 1e9;
    cfg->labels.max_pending = 1000;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(new_learner(cfg, &b), 0);
    assert_int_equal(train(a, 0, 100), 0); /* labelled: learned at once */
    for (i = 0; i < PENDING_EVENTS; i++) {
        buf_reset(&msg);
        unlabel(100 + i, &msg, labels[i], sizeof(labels[i]));
        assert_int_equal(online_process_from(a, INPUT_TOPIC, 0,
                                             1000 + (int64_t)i, msg.data,
                                             msg.len, &ra), 0);
        assert_int_equal(ra.pending, 1);
        assert_int_equal(ra.model_version, 100);
    }
    /* one label before the snapshot: a duplicate on both sides later */
    assert_int_equal(give_label(a, 101, labels[0], &ra), LABEL_JOIN_JOINED);
    /* and one that overtakes its event, which comes after the restore */
    buf_reset(&msg);
    unlabel(100 + PENDING_EVENTS, &msg, late_label, sizeof(late_label));
    assert_int_equal(give_label(a, 101 + PENDING_EVENTS, late_label, &ra),
                     LABEL_JOIN_WAITING);
    assert_int_equal(encode(a, &snap), 0);
    if (snapshot_restore(world.snap_schema, b, snap.data, snap.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("%s", errstr);

    assert_int_equal(online_process_from(a, INPUT_TOPIC, 0, 1500, msg.data,
                                         msg.len, &ra), 0);
    assert_int_equal(online_process_from(b, INPUT_TOPIC, 0, 1500, msg.data,
                                         msg.len, &rb), 0);
    assert_int_equal(ra.pending, 0); /* learned at once, on both sides */
    assert_int_equal(rb.pending, 0);
    assert_int_equal(rb.model_version, 101);
    for (i = PENDING_EVENTS; i-- > 0;) { /* out of order */
        enum label_join_outcome oa = give_label(a, 101 + i, labels[i], &ra);
        enum label_join_outcome ob = give_label(b, 101 + i, labels[i], &rb);

        assert_int_equal(oa, ob);
        assert_int_equal(oa, i == 0 ? LABEL_JOIN_DUPLICATE
                                    : LABEL_JOIN_JOINED);
        if (oa != LABEL_JOIN_JOINED)
            continue;
        assert_int_equal(ra.model_version, 100); /* scored on arrival */
        assert_int_equal(rb.model_version, 100);
        assert_string_equal(ra.event_id, rb.event_id);
        assert_memory_equal(&ra.probability, &rb.probability,
                            sizeof(double));
    }
    assert_int_equal(give_label(b, 9999, "UP", &rb), LABEL_JOIN_WAITING);
    label_join_counts(online_label_join(a), &ca);
    label_join_counts(online_label_join(b), &cb);
    assert_int_equal(ca.joined, PENDING_EVENTS + 1);
    assert_int_equal(cb.joined, PENDING_EVENTS + 1);
    assert_int_equal(cb.early, 1);
    assert_int_equal(cb.duplicate, 1);
    assert_int_equal(cb.pending, 0);
    assert_int_equal(model_update_count(online_model(b)),
                     100 + PENDING_EVENTS + 1);
    assert_int_equal(snapshot_weights_digest(a, &da), 0);
    assert_int_equal(snapshot_weights_digest(b, &db), 0);
    assert_int_equal(da, db);
    assert_int_equal(online_metrics(a)->total.count,
                     100 + PENDING_EVENTS + 1);
    assert_int_equal(online_metrics(b)->total.correct,
                     online_metrics(a)->total.correct);

    buf_free(&msg);
    buf_free(&snap);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

/* Processes row 100 + i unlabelled at ts_ms in ol: it waits. */
static void wait_unlabelled(struct online_learner *ol, size_t i,
                            int64_t ts_ms, char *label, size_t size)
{
    struct online_result r;
    struct buf msg = {0};

    unlabel(100 + i, &msg, label, size);
    assert_int_equal(online_process_from(ol, INPUT_TOPIC, 0, ts_ms,
                                         msg.data, msg.len, &r), 0);
    assert_int_equal(r.pending, 1);
    buf_free(&msg);
}

/* A message stamped far in the future (its producer's word) moves the
 * delayed-label clock at most labels.ttl past the wall clock: what waits
 * when it comes expires, but the events after it wait and join as usual,
 * and a snapshot that saved such a clock (from a build before the bound)
 * restores with it bounded. Before, the clock stood at 2^62 and every
 * later event expired on arrival, for good. */
static void test_online_future_time_keeps_labels_joining(void **state)
{
    const int64_t future_ms = INT64_C(1) << 62;
    const int64_t now_ms = (int64_t)time(NULL) * 1000;
    const struct totals_edit poisoned = {"pending_labels", "clock_ms", 0,
                                         future_ms, 0, NULL};
    struct cfg *cfg = world_cfg_copy();
    struct online_learner *a = NULL, *b = NULL;
    struct online_result r;
    struct snapshot_offset offsets[4];
    char labels[4][CFG_NAME_MAX], errstr[ERRSTR_SIZE] = "";
    struct buf snap = {0}, bad = {0};
    size_t n = 0;

    (void)state;
    cfg->labels.line = 1;
    snprintf(cfg->labels.topic, sizeof(cfg->labels.topic), LABELS_TOPIC);
    cfg->labels.ttl_ms = 3600000;
    cfg->labels.max_pending = 1000;
    assert_int_equal(new_learner(cfg, &a), 0);
    assert_int_equal(train(a, 0, 100), 0);
    wait_unlabelled(a, 0, now_ms - 10000, labels[0], CFG_NAME_MAX);
    wait_unlabelled(a, 1, future_ms, labels[1], CFG_NAME_MAX);
    assert_true(online_label_clock(a) <= now_ms + 3700000);
    /* the next real event, stamped as its producer sends it */
    wait_unlabelled(a, 2, now_ms + 10000, labels[2], CFG_NAME_MAX);
    assert_int_equal(give_label(a, 103, labels[2], &r), LABEL_JOIN_JOINED);
    assert_int_equal(give_label(a, 102, labels[1], &r), LABEL_JOIN_JOINED);
    assert_int_equal(give_label(a, 101, labels[0], &r), LABEL_JOIN_LATE);

    assert_int_equal(encode(a, &snap), 0);
    edit_snapshot(&snap, &poisoned, &bad);
    assert_int_equal(new_learner(cfg, &b), 0);
    if (snapshot_restore(world.snap_schema, b, bad.data, bad.len, offsets,
                         4, &n, NULL, errstr, sizeof(errstr)) != 0)
        fail_msg("%s", errstr);
    assert_true(online_label_clock(b) <= now_ms + 3700000);
    wait_unlabelled(b, 3, now_ms + 20000, labels[3], CFG_NAME_MAX);
    assert_int_equal(give_label(b, 104, labels[3], &r), LABEL_JOIN_JOINED);

    buf_free(&snap);
    buf_free(&bad);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

/* A model whose every slot is in use goes out in the dense layout, comes
 * back bit for bit, and re-encodes to the same bytes; a non-finite value
 * in it, under a valid checksum, is refused and changes nothing. */
static void test_snapshot_dense_round_trip(void **state)
{
    struct cfg *cfg = cfg_with("optimizer = \"adagrad\";", NULL);
    struct online_learner *a = NULL, *b = NULL;
    struct snapshot_offset offsets[TEST_OFFSET_COUNT];
    struct buf snap = {0}, again = {0};
    const float *arrays[1];
    float *w, *g;
    char errstr[ERRSTR_SIZE] = "";
    size_t count, i, n = 0;
    unsigned char *at;
    uint64_t seed = 42;

    (void)state;
    assert_int_equal(new_learner(cfg, &a), 0);
    count = model_weight_count(online_model(a));
    w = malloc(count * sizeof(float));
    g = malloc(count * sizeof(float));
    assert_non_null(w);
    assert_non_null(g);
    for (i = 0; i < count; i++) {
        w[i] = (float)(rng_unit(&seed) * 2.0 - 1.0);
        g[i] = (float)(1.0 + rng_unit(&seed));
    }
    arrays[0] = g;
    assert_int_equal(model_restore_state(online_model(a), w, arrays, 1, 7), 0);
    assert_int_equal(encode(a, &snap), 0);
    assert_non_null(find_bytes((unsigned char *)snap.data, snap.len,
                               (const unsigned char *)
                                   SNAPSHOT_WEIGHT_ENCODING_DENSE,
                               strlen(SNAPSHOT_WEIGHT_ENCODING_DENSE)));
    assert_true(snap.len < count * (SNAPSHOT_DENSE_ENTRY_BYTES(1) + 1));

    assert_int_equal(new_learner(cfg, &b), 0);
    assert_int_equal(snapshot_restore(world.snap_schema, b, snap.data,
                                      snap.len, offsets, TEST_OFFSET_COUNT,
                                      &n, NULL, errstr, sizeof(errstr)),
                     0);
    assert_models_equal(online_model(a), online_model(b));
    assert_int_equal(encode(b, &again), 0);
    assert_int_equal(again.len, snap.len);
    assert_memory_equal(again.data, snap.data, snap.len);

    /* The weight of slot count / 2 made NaN, the checksum made right. */
    at = find_bytes((unsigned char *)snap.data, snap.len,
                    (const unsigned char *)&w[count / 2], sizeof(float));
    assert_non_null(at);
    memcpy(at, "\x00\x00\xc0\x7f", 4); /* a quiet NaN, little-endian */
    reseal(&snap);
    expect_refused(cfg, snap.data, snap.len, RIFFLE_ERR_SNAPSHOT, errstr,
                   sizeof(errstr));
    assert_contains(errstr, "not finite");

    buf_free(&snap);
    buf_free(&again);
    free(w);
    free(g);
    online_destroy(a);
    online_destroy(b);
    free(cfg);
}

/* `riffle dlq replay` sends a refused label back only when its value
 * now passes the label rules; the join is the learner's to judge. */
static void test_online_validates_labels_by_value(void **state)
{
    struct cfg *cfg = world_cfg_copy();
    struct online_learner *ol = NULL;
    struct online_result res;

    (void)state;
    cfg->labels.line = 1;
    snprintf(cfg->labels.topic, sizeof(cfg->labels.topic), LABELS_TOPIC);
    cfg->labels.ttl_ms = 1e9;
    cfg->labels.max_pending = 10;
    assert_int_equal(new_learner(cfg, &ol), 0);
    assert_int_equal(
        online_validate_from(ol, LABELS_TOPIC, 0, "UP", 2, &res), 0);
    assert_int_equal(res.dead_letter, 0);
    assert_int_equal(online_validate_from(ol, LABELS_TOPIC, 0, "FLAT", 4,
                                          &res), 0);
    assert_int_equal(res.dead_letter, 1);
    assert_string_equal(res.verdict.reason, "invalid_label");
    online_destroy(ol);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_round_trip_is_exact),
        cmocka_unit_test(test_snapshot_read_info),
        cmocka_unit_test(test_snapshot_other_bits_refused),
        cmocka_unit_test(test_snapshot_other_transform_refused),
        cmocka_unit_test(test_snapshot_model_name_mismatch),
        cmocka_unit_test(test_snapshot_flipped_weight_byte),
        cmocka_unit_test(test_snapshot_truncated_refused),
        cmocka_unit_test(test_snapshot_too_many_offsets_refused),
        cmocka_unit_test(test_online_refused_event_leaves_stats),
        cmocka_unit_test(test_snapshot_round_trip_each_optimizer),
        cmocka_unit_test(test_snapshot_reads_v1_adagrad),
        cmocka_unit_test(test_snapshot_unknown_encoding_refused),
        cmocka_unit_test(test_snapshot_out_of_range_totals_refused),
        cmocka_unit_test(test_snapshot_reads_v1_sgd),
        cmocka_unit_test(test_snapshot_any_flipped_bit_refused),
        cmocka_unit_test(test_snapshot_reads_formats_2_and_3),
        cmocka_unit_test(test_snapshot_reads_format_4),
        cmocka_unit_test(test_snapshot_keeps_join_checked),
        cmocka_unit_test(test_snapshot_keeps_norm_totals),
        cmocka_unit_test(test_snapshot_largest_norm_count_round_trips),
        cmocka_unit_test(test_snapshot_keeps_pending_labels),
        cmocka_unit_test(test_online_future_time_keeps_labels_joining),
        cmocka_unit_test(test_snapshot_dense_round_trip),
        cmocka_unit_test(test_online_validates_labels_by_value),
        cmocka_unit_test(test_snapshot_save_file_failure_names_the_path),
        cmocka_unit_test(test_snapshot_load_file_names_another_kind),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
