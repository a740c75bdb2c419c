/*
 * tests/unit/test_cfg.c - the strict libconfig loader of config/cfg.c.
 *
 * Loads the three bundled configurations and checks what they say, then
 * writes broken variants of one small valid file into a mkdtemp()
 * directory and checks that each error names the file, the line and the
 * dotted key. Also covers defaults and the model fingerprint. Tuned
 * values of the bundled files (learning rates) are left unchecked: they
 * move whenever someone measures better ones. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "config/cfg.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512

/*
 * A small valid configuration, one setting per line, so that a test can
 * replace line N (index N - 1) and know the line an error must name.
 */
static const char *const base_lines[] = {
    "name = \"t\";",                                            /* 1 */
    "topics = {",                                               /* 2 */
    "  input = \"in\";",                                        /* 3 */
    "  predictions = \"pred\";",                                /* 4 */
    "  models = \"models\";",                                   /* 5 */
    "  dead_letters = \"dl\";",                                 /* 6 */
    "};",                                                       /* 7 */
    "source = {",                                               /* 8 */
    "  schema = \"schemas/elec2.avsc\";",                       /* 9 */
    "};",                                                       /* 10 */
    "fields = (",                                               /* 11 */
    "  { name = \"event_id\"; kind = \"id\"; },",               /* 12 */
    "  { name = \"class\"; kind = \"label\"; positive = [\"UP\"]; },",
    "  { name = \"date\"; kind = \"numeric\"; min = 0.0; }",    /* 14 */
    ");",                                                       /* 15 */
    "learner = {",                                              /* 16 */
    "  model_name = \"t\";",                                    /* 17 */
    "  bits = 12;",                                             /* 18 */
    "};",                                                       /* 19 */
};
#define BASE_LINE_COUNT (sizeof(base_lines) / sizeof(base_lines[0]))

struct fixture {
    char dir[64];
    char path[128];
    struct cfg *cfg; /* about half a megabyte: on the heap */
    char errstr[ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg || !temp_dir_new(fx->dir, sizeof(fx->dir), "cfg")) {
        free(fx->cfg);
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/test.cfg", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    (void)unlink(fx->path); /* absent in some tests: nothing to do then */
    if (rmdir(fx->dir) != 0)
        return -1;
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Writes lines (n of them, NULL entries skipped) plus extra to the
 * fixture's file. */
static void write_lines(const struct fixture *fx, const char *const *lines,
                        size_t n, const char *extra)
{
    FILE *f = fopen(fx->path, "w");
    size_t i;

    assert_non_null(f);
    for (i = 0; i < n; i++)
        if (lines[i])
            fprintf(f, "%s\n", lines[i]);
    if (extra)
        fputs(extra, f);
    assert_int_equal(fclose(f), 0);
}

/* Writes the base file with line `line` (1-based) replaced by text, or
 * unchanged when line is 0; extra is appended. */
static void write_base(const struct fixture *fx, size_t line,
                       const char *text, const char *extra)
{
    const char *lines[BASE_LINE_COUNT];

    memcpy(lines, base_lines, sizeof(lines));
    if (line > 0) {
        assert_true(line <= BASE_LINE_COUNT);
        lines[line - 1] = text;
    }
    write_lines(fx, lines, BASE_LINE_COUNT, extra);
}

static int load(struct fixture *fx)
{
    fx->errstr[0] = '\0';
    return cfg_load_file(fx->cfg, fx->path, fx->errstr, sizeof(fx->errstr));
}

/* Loads and expects RIFFLE_ERR_CFG with "path:line: key: ..." and what. */
static void expect_error(struct fixture *fx, int line, const char *key,
                         const char *what)
{
    char prefix[256];

    assert_int_equal(load(fx), RIFFLE_ERR_CFG);
    snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", fx->path, line, key);
    assert_contains(fx->errstr, prefix);
    assert_contains(fx->errstr, what);
}

/* ---- bundled configurations ---------------------------------------- */

static void test_cfg_elec2_loads(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;
    size_t i, numeric = 0;

    assert_int_equal(cfg_load_file(cfg, "config/elec2.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    assert_string_equal(cfg->name, "elec2");
    assert_string_equal(cfg->path, "config/elec2.cfg");
    assert_string_equal(cfg->brokers, "127.0.0.1:9092");
    assert_string_equal(cfg->group_id, "riffle-elec2");
    assert_string_equal(cfg->topic_input, "riffle.elec2.events");
    assert_string_equal(cfg->topic_dead_letters, "riffle.elec2.dead-letters");
    assert_int_equal(cfg->input_partitions, 1);
    assert_string_equal(cfg->schema_path, "schemas/elec2.avsc");
    assert_int_equal(cfg->csv_header, 1);
    assert_int_equal(cfg->csv_delimiter, ',');
    assert_string_equal(cfg->id_prefix, "elec2");

    assert_int_equal(cfg->field_count, 10);
    assert_string_equal(cfg->fields[0].name, "event_id");
    assert_int_equal(cfg->fields[0].kind, CFG_FIELD_ID);
    assert_int_equal(cfg->fields[0].required, 1);
    assert_string_equal(cfg->fields[1].name, "class");
    assert_int_equal(cfg->fields[1].kind, CFG_FIELD_LABEL);
    assert_int_equal(cfg->fields[1].positive_count, 1);
    assert_string_equal(cfg->fields[1].positive[0], "UP");
    assert_int_equal(cfg->fields[1].negative_count, 1);
    assert_string_equal(cfg->fields[1].negative[0], "DOWN");
    assert_string_equal(cfg->fields[3].name, "day");
    assert_int_equal(cfg->fields[3].kind, CFG_FIELD_CATEGORICAL);
    assert_int_equal(cfg->fields[3].required, 1);
    assert_int_equal(cfg->fields[3].missing, CFG_MISSING_TOKEN);
    for (i = 0; i < cfg->field_count; i++) {
        if (cfg->fields[i].kind != CFG_FIELD_NUMERIC)
            continue;
        numeric++;
        assert_int_equal(cfg->fields[i].has_min, 1);
        assert_int_equal(cfg->fields[i].has_max, 1);
        assert_float_equal(cfg->fields[i].min, 0.0, 0.0);
        assert_float_equal(cfg->fields[i].max, 1.0, 0.0);
        assert_int_equal(cfg->fields[i].missing, CFG_MISSING_REJECT);
        assert_int_equal(cfg->fields[i].on_range, CFG_RANGE_REJECT);
    }
    assert_int_equal(numeric, 7);
    assert_int_equal(cfg_has_personal_fields(cfg), 0);

    assert_string_equal(cfg->model_name, "elec2");
    assert_int_equal(cfg->model.bits, 18);
    assert_int_equal(cfg->model.loss, MODEL_LOSS_LOGISTIC);
    assert_int_equal(cfg->model.optimizer, MODEL_OPT_NORMALIZED);
    assert_int_equal(cfg->interaction_count, 3);
    assert_int_equal(cfg->snapshot_every_events, 10000);
    assert_int_equal(cfg->progress_every_events, 5000);
}

static void test_cfg_adult_loads(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;
    const struct cfg_field *f;

    assert_int_equal(cfg_load_file(cfg, "config/adult.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    assert_string_equal(cfg->name, "adult");
    assert_int_equal(cfg->csv_header, 0);
    assert_int_equal(cfg->csv_trim, 1);
    assert_int_equal(cfg->column_count, 15);
    assert_string_equal(cfg->columns[0], "age");
    assert_string_equal(cfg->columns[4], "education_num");
    assert_string_equal(cfg->columns[14], "income");
    assert_int_equal(cfg->missing_token_count, 1);
    assert_string_equal(cfg->missing_tokens[0], "?");
    assert_int_equal(cfg->field_count, 16);

    f = cfg_find_field(cfg, "income");
    assert_non_null(f);
    assert_int_equal(f->kind, CFG_FIELD_LABEL);
    assert_int_equal(f->positive_count, 2);
    assert_string_equal(f->positive[0], ">50K");
    assert_string_equal(f->positive[1], ">50K.");
    assert_int_equal(f->negative_count, 2);
    assert_string_equal(f->negative[1], "<=50K.");

    f = cfg_find_field(cfg, "age");
    assert_non_null(f);
    assert_int_equal(f->kind, CFG_FIELD_CATEGORICAL);
    assert_int_equal(f->privacy, CFG_PRIVACY_COARSEN);
    assert_float_equal(f->band_width, 10.0, 0.0);
    assert_float_equal(f->max, 120.0, 0.0);
    assert_int_equal(cfg_find_field(cfg, "fnlwgt")->kind, CFG_FIELD_IGNORE);
    assert_int_equal(cfg_find_field(cfg, "education_num")->transform,
                     CFG_TRANSFORM_STANDARDIZE);
    assert_int_equal(cfg_find_field(cfg, "capital_gain")->transform,
                     CFG_TRANSFORM_LOG1P);
    assert_int_equal(cfg_find_field(cfg, "marital_status")->privacy,
                     CFG_PRIVACY_PSEUDONYM);
    assert_int_equal(cfg_find_field(cfg, "race")->privacy, CFG_PRIVACY_DROP);
    assert_int_equal(cfg_find_field(cfg, "sex")->privacy, CFG_PRIVACY_DROP);
    assert_null(cfg_find_field(cfg, "education-num"));
    assert_int_equal(cfg_has_personal_fields(cfg), 1);

    assert_string_equal(cfg->key_env, "RIFFLE_PSEUDONYM_KEY");
    assert_string_equal(cfg->key_file,
                        "config/secrets/pseudonym.key.example");
    assert_string_equal(cfg->key_id, "example-1");
    assert_string_equal(cfg->group_id, "riffle-adult");
}

static void test_cfg_ctr_loads(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;
    size_t i, categorical = 0;

    assert_int_equal(cfg_load_file(cfg, "config/ctr.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    assert_string_equal(cfg->name, "ctr");
    assert_int_equal(cfg->field_count, 13);
    for (i = 0; i < cfg->field_count; i++)
        categorical += cfg->fields[i].kind == CFG_FIELD_CATEGORICAL;
    assert_int_equal(categorical, 10);
    assert_string_equal(cfg->fields[1].name, "click");
    assert_string_equal(cfg->fields[1].positive[0], "1");
    assert_string_equal(cfg->fields[1].negative[0], "0");
    assert_int_equal(cfg_find_field(cfg, "impression")->transform,
                     CFG_TRANSFORM_LOG1P);
    assert_int_equal(cfg_find_field(cfg, "user_id")->privacy,
                     CFG_PRIVACY_PSEUDONYM);
    assert_int_equal(cfg->model.bits, 20);
    /* No snapshot or log group: the defaults. */
    assert_int_equal(cfg->snapshot_every_events, 10000);
    assert_float_equal(cfg->snapshot_every_seconds, 30.0, 0.0);
    assert_int_equal(cfg->progress_every_events, 5000);
}

/* ---- defaults ------------------------------------------------------ */

static void test_cfg_defaults_applied(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_string_equal(cfg->path, fx->path);
    assert_string_equal(cfg->group_id, "riffle-t");
    assert_string_equal(cfg->brokers, "127.0.0.1:9092");
    assert_string_equal(cfg->id_prefix, "t");
    assert_int_equal(cfg->input_partitions, 1);
    assert_int_equal(cfg->replication_factor, 1);
    assert_int_equal(cfg->csv_delimiter, ',');
    assert_int_equal(cfg->csv_header, 1);
    assert_int_equal(cfg->on_bad_row, CFG_BAD_ROW_SKIP);
    assert_string_equal(cfg->key_env, "RIFFLE_PSEUDONYM_KEY");
    assert_string_equal(cfg->key_id, "default");
    assert_int_equal(cfg->model.bits, 12);
    assert_int_equal(cfg->model.loss, MODEL_LOSS_LOGISTIC);
    assert_int_equal(cfg->model.optimizer, MODEL_OPT_ADAGRAD);
    assert_int_equal(cfg->hash_seed, 0);
    assert_int_equal(cfg->snapshot_every_events, 10000);
    /* Kind-dependent field defaults. */
    assert_int_equal(cfg->field_count, 3);
    assert_int_equal(cfg->fields[1].required, 1); /* the label */
    assert_int_equal(cfg->fields[2].required, 0);
    assert_int_equal(cfg->fields[2].missing, CFG_MISSING_REJECT);
    assert_int_equal(cfg->fields[2].has_min, 1);
    assert_int_equal(cfg->fields[2].has_max, 0);
    assert_int_equal(cfg->fields[1].negative_count, 0);
}

static void test_cfg_group_id_kept_when_given(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "kafka = { group_id = \"mine\"; "
                            "brokers = \"localhost:9999\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_string_equal(fx->cfg->group_id, "mine");
    assert_string_equal(fx->cfg->brokers, "localhost:9999");
}

static void test_cfg_delivery_defaults_to_exactly_once(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "kafka = { group_id = \"g\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->delivery, CFG_DELIVERY_EXACTLY_ONCE);
    assert_int_equal(fx->cfg->txn_every_events, 100000);
    assert_int_equal(fx->cfg->txn_every_ms, 1000);
    assert_int_equal(fx->cfg->txn_timeout_ms, 0); /* librdkafka's */
    assert_string_equal(fx->cfg->transactional_id, "g-learner");
}

static void test_cfg_delivery_settings_read(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "delivery = { mode = \"at_least_once\"; "
                            "batch_events = 10; batch_ms = 20; "
                            "transactional_id = \"tx-1\"; "
                            "transaction_timeout_ms = 12000; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->delivery, CFG_DELIVERY_AT_LEAST_ONCE);
    assert_int_equal(fx->cfg->txn_every_events, 10);
    assert_int_equal(fx->cfg->txn_every_ms, 20);
    assert_int_equal(fx->cfg->txn_timeout_ms, 12000);
    assert_string_equal(fx->cfg->transactional_id, "tx-1");
}

/* A snapshot offset past its partition's end stops the learner unless
 * the configuration says otherwise (docs/CONFIGURATION.md argues why). */
static void test_cfg_offset_past_end_action(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->on_offset_past_end, CFG_PAST_END_STOP);

    write_base(fx, 0, NULL,
               "snapshot = { on_offset_past_end = \"earliest\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->on_offset_past_end, CFG_PAST_END_EARLIEST);

    write_base(fx, 0, NULL,
               "snapshot = { on_offset_past_end = \"latest\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->on_offset_past_end, CFG_PAST_END_LATEST);

    write_base(fx, 0, NULL,
               "snapshot = {\n  on_offset_past_end = \"none\";\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "snapshot.on_offset_past_end",
                 "unknown value \"none\": expected one of \"stop\", "
                 "\"earliest\", \"latest\"");
}

static void test_cfg_delivery_errors_name_the_key(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "delivery = {\n  mode = \"twice\";\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "delivery.mode",
                 "unknown value \"twice\": expected one of "
                 "\"exactly_once\", \"at_least_once\"");
    write_base(fx, 0, NULL, "delivery = {\n  batch_ms = 0;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "delivery.batch_ms",
                 "0 is out of range: expected an integer from 1 to 60000");
    write_base(fx, 0, NULL,
               "delivery = {\n  transaction_timeout_ms = 5000;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2,
                 "delivery.transaction_timeout_ms",
                 "5000 is out of range: expected an integer from 10000 to "
                 "900000");
    write_base(fx, 0, NULL, "delivery = {\n  batch_ms = 30000;\n"
                            "  transaction_timeout_ms = 40000;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 3,
                 "delivery.transaction_timeout_ms",
                 "40000 is too short for batch_ms = 30000: expected at "
                 "least 2 times batch_ms");
}

static void test_cfg_session_timeout_read_and_checked(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "kafka = { group_id = \"g\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->session_timeout_ms, 0); /* librdkafka's */
    write_base(fx, 0, NULL, "kafka = { session_timeout_ms = 6000; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->session_timeout_ms, 6000);
    write_base(fx, 0, NULL, "kafka = {\n  session_timeout_ms = 500;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "kafka.session_timeout_ms",
                 "500 is out of range: expected an integer from 6000 to "
                 "1800000");
}

static void test_cfg_serve_delivery_defaults_to_at_least_once(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "serve = { requests = \"rq\"; "
                            "predictions = \"pr\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->serve_delivery, CFG_DELIVERY_AT_LEAST_ONCE);
    /* the learner's own mode is not the replicas' */
    assert_int_equal(fx->cfg->delivery, CFG_DELIVERY_EXACTLY_ONCE);

    write_base(fx, 0, NULL, "serve = { requests = \"rq\"; "
                            "predictions = \"pr\"; "
                            "delivery = \"exactly_once\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->serve_delivery, CFG_DELIVERY_EXACTLY_ONCE);

    write_base(fx, 0, NULL, "serve = {\n  requests = \"rq\";\n"
                            "  predictions = \"pr\";\n"
                            "  delivery = \"maybe\";\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 4, "serve.delivery",
                 "unknown value \"maybe\": expected one of "
                 "\"exactly_once\", \"at_least_once\"");
}

/* A replica's transactions get their own timeout, bounded like the
 * learner's and long enough for two commit periods. */
static void test_cfg_serve_transaction_timeout_read_and_checked(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "serve = { requests = \"rq\"; "
                            "predictions = \"pr\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->serve_txn_timeout_ms, 0); /* librdkafka's */

    write_base(fx, 0, NULL, "serve = { requests = \"rq\"; "
                            "predictions = \"pr\"; commit_every_ms = 4000; "
                            "transaction_timeout_ms = 10000; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->serve_txn_timeout_ms, 10000);
    assert_int_equal(fx->cfg->txn_timeout_ms, 0); /* not the learner's */

    write_base(fx, 0, NULL, "serve = {\n  requests = \"rq\";\n"
                            "  predictions = \"pr\";\n"
                            "  transaction_timeout_ms = 9999;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 4, "serve.transaction_timeout_ms",
                 "9999 is out of range: expected an integer from 10000 to "
                 "900000");
    write_base(fx, 0, NULL, "serve = {\n  requests = \"rq\";\n"
                            "  predictions = \"pr\";\n"
                            "  commit_every_ms = 6000;\n"
                            "  transaction_timeout_ms = 10000;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 5, "serve.transaction_timeout_ms",
                 "10000 is too short for commit_every_ms = 6000: expected "
                 "at least 2 times commit_every_ms");
}

/* privacy.prediction_fields takes configured fields that are not
 * personal, or anonymized so that the value is safe to publish. */
static void test_cfg_prediction_fields(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"numeric\"; "
               "personal = \"coarsen\"; band = 1.0; }",
               "privacy = {\n  prediction_fields = [\"date\"];\n};\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->prediction_field_count, 1);
    assert_string_equal(fx->cfg->prediction_fields[0], "date");

    write_base(fx, 0, NULL,
               "privacy = {\n  prediction_fields = [\"nope\"];\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2,
                 "privacy.prediction_fields",
                 "\"nope\" is not a configured field");
    write_base(fx, 14, "  { name = \"date\"; kind = \"numeric\"; "
               "personal = \"noise\"; epsilon = 1.0; sensitivity = 1.0; "
               "min = 0.0; max = 1.0; }",
               "privacy = {\n  prediction_fields = [\"date\"];\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2,
                 "privacy.prediction_fields",
                 "\"date\" is personal = \"noise\": a prediction may "
                 "carry only fields that are not personal or are "
                 "encrypted, pseudonymized, masked or coarsened");
}

static void test_cfg_scaling_read_and_checked(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "kafka = { group_id = \"g\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->merge_every_events, 0); /* never merges */
    assert_true(fx->cfg->merge_every_seconds == 0.0);
    assert_true(fx->cfg->instance_expiry_seconds == 300.0);
    write_base(fx, 0, NULL, "scaling = { merge_every_events = 2000; "
                            "merge_every_seconds = 7.5; "
                            "instance_expiry_seconds = 40; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->merge_every_events, 2000);
    assert_true(fx->cfg->merge_every_seconds == 7.5);
    assert_true(fx->cfg->instance_expiry_seconds == 40.0);
    write_base(fx, 0, NULL,
               "scaling = {\n  instance_expiry_seconds = 0;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2,
                 "scaling.instance_expiry_seconds", "0 is out of range");
    write_base(fx, 0, NULL, "scaling = {\n  merge_every_events = -1;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "scaling.merge_every_events",
                 "-1 is out of range: expected an integer from 0 to "
                 "1099511627776");
    write_base(fx, 0, NULL, "scaling = {\n  merge_every = 5;\n};\n");
    expect_error(fx, (int)BASE_LINE_COUNT + 2, "scaling.merge_every",
                 "unknown setting");
}

/* ---- model fingerprint --------------------------------------------- */

static void test_cfg_fingerprint_tracks_model_settings(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;
    uint64_t base, again;

    assert_int_equal(cfg_load_file(cfg, "config/elec2.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    base = cfg_model_fingerprint(cfg);

    /* Reloading gives the same value: nothing uninitialised is mixed in. */
    assert_int_equal(cfg_load_file(cfg, "config/elec2.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    again = cfg_model_fingerprint(cfg);
    assert_int_equal(again, base);

    cfg->model.bits = 17;
    assert_int_not_equal(cfg_model_fingerprint(cfg), base);
    cfg->model.bits = 18;
    assert_int_equal(cfg_model_fingerprint(cfg), base);

    cfg->fields[2].transform = CFG_TRANSFORM_LOG1P;
    assert_int_not_equal(cfg_model_fingerprint(cfg), base);
    cfg->fields[2].transform = CFG_TRANSFORM_NONE;
    assert_int_equal(cfg_model_fingerprint(cfg), base);

    snprintf(cfg->brokers, sizeof(cfg->brokers), "localhost:19092");
    assert_int_equal(cfg_model_fingerprint(cfg), base);
}

static void test_cfg_fingerprint_same_file_bits_differ(void **state)
{
    struct fixture *fx = *state;
    uint64_t base;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    base = cfg_model_fingerprint(fx->cfg);

    write_base(fx, 0, NULL, "kafka = { brokers = \"localhost:1\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(cfg_model_fingerprint(fx->cfg), base);

    write_base(fx, 18, "  bits = 13;", NULL);
    assert_int_equal(load(fx), 0);
    assert_int_not_equal(cfg_model_fingerprint(fx->cfg), base);

    write_base(fx, 14, "  { name = \"date\"; kind = \"numeric\"; "
                       "transform = \"standardize\"; }",
               NULL);
    assert_int_equal(load(fx), 0);
    assert_int_not_equal(cfg_model_fingerprint(fx->cfg), base);
}

static void test_cfg_fingerprint_tracks_coarsening(void **state)
{
    struct fixture *fx = *state;
    struct cfg *cfg = fx->cfg;
    struct cfg_field *age;
    uint64_t base;


    assert_int_equal(cfg_load_file(cfg, "config/adult.cfg", fx->errstr,
                                   sizeof(fx->errstr)),
                     0);
    base = cfg_model_fingerprint(cfg);
    age = (struct cfg_field *)cfg_find_field(cfg, "age");
    assert_non_null(age);
    age->band_width = 5.0;
    assert_int_not_equal(cfg_model_fingerprint(cfg), base);
    age->band_width = 10.0;
    age->keep_prefix = 3;
    assert_int_not_equal(cfg_model_fingerprint(cfg), base);
}

/* ---- errors -------------------------------------------------------- */

static void test_cfg_unknown_top_level_key(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "colour = \"blue\";\n"); /* line 20 */
    expect_error(fx, 20, "colour", "unknown setting");
}

static void test_cfg_unknown_key_in_field(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"numeric\"; mn = 0.0; }",
               NULL);
    expect_error(fx, 14, "fields[2].mn", "unknown setting");
}

static void test_cfg_unknown_key_in_group(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 4, "  predictons = \"pred\";", NULL);
    expect_error(fx, 4, "topics.predictons", "unknown setting");
}

/* A misspelt key names the key it is nearest to, within two edits (one
 * for a short name), a swap of neighbours counting one, and a change of
 * case none at all; a key near none is refused plainly. */
static void test_cfg_unknown_key_suggests_nearest(void **state)
{
    static const struct {
        size_t line;
        const char *text, *key, *meant;
    } cases[] = {
        {4, "  predictons = \"pred\";", "topics.predictons", "predictions"},
        {4, "  predcitions = \"pred\";", "topics.predcitions",
         "predictions"},
        {18, "  bitts = 12;", "learner.bitts", "bits"},
        {14, "  { name = \"date\"; kind = \"numeric\"; mn = 0.0; }",
         "fields[2].mn", "min"},
        {1, "nmae = \"t\";", "nmae", "name"},
        {18, "  BITS = 12;", "learner.BITS", "bits"},
        {18, "  LEARNING_RATE = 0.1;", "learner.LEARNING_RATE",
         "learning_rate"},
        {4, "  PREDICTONS = \"pred\";", "topics.PREDICTONS", "predictions"},
        {14, "  { name = \"date\"; KIND = \"numeric\"; }", "fields[2].KIND",
         "kind"},
        {4, "  colour = \"pred\";", "topics.colour", NULL},
        {18, "  bbbb = 12;", "learner.bbbb", NULL},
    };
    struct fixture *fx = *state;
    char want[96];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_base(fx, cases[i].line, cases[i].text, NULL);
        expect_error(fx, (int)cases[i].line, cases[i].key,
                     "unknown setting");
        if (!cases[i].meant) {
            assert_lacks(fx->errstr, "did you mean");
            continue;
        }
        snprintf(want, sizeof(want), "unknown setting: did you mean \"%s\"?",
                 cases[i].meant);
        assert_contains(fx->errstr, want);
    }
}

/* A topic name the brokers would refuse is refused at its line, for
 * every key that names a topic; the longest one riffle keeps loads. */
static void test_cfg_topic_names_kafka_takes(void **state)
{
    static const struct {
        size_t line;
        const char *text, *extra, *key;
    } cases[] = {
        {3, "  input = \"my topic\";", NULL, "topics.input"},
        {4, "  predictions = \"p\\x1b[31m\";", NULL, "topics.predictions"},
        {5, "  models = \"..\";", NULL, "topics.models"},
        {6, "  dead_letters = \"\";", NULL, "topics.dead_letters"},
        {7, "  metrics = \"a/b\"; };", NULL, "topics.metrics"},
        {0, NULL, "labels = {\n  topic = \"l\u00e9\"; };", "labels.topic"},
        {0, NULL, "serve = { requests = \"rq\";\n  predictions = \".\"; };",
         "serve.predictions"},
    };
    struct fixture *fx = *state;
    char name[300];
    size_t i;
    int line;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_base(fx, cases[i].line, cases[i].text, cases[i].extra);
        line = cases[i].line ? (int)cases[i].line : (int)BASE_LINE_COUNT + 2;
        expect_error(fx, line, cases[i].key, "is not a Kafka topic name: "
                     "expected 1 to 127 ASCII letters, digits, '.', '_' or "
                     "'-', other than \".\" and \"..\"");
        /* quoted with its control bytes escaped */
        assert_lacks(fx->errstr, "\x1b");
    }
    write_base(fx, 4, "  predictions = \"p\\x1b[31m\";", NULL);
    expect_error(fx, 4, "topics.predictions", "\"p\\x1b[31m\" is not");

    /* The longest name riffle keeps, of every character Kafka takes. */
    memset(name, 'a', sizeof(name));
    memcpy(name, "  input = \"Az09._-", 18);
    memcpy(name + 11 + CFG_NAME_MAX - 1, "\";", 3);
    write_base(fx, 3, name, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(strlen(fx->cfg->topic_input), CFG_NAME_MAX - 1);
}

/* A label value given twice, in classes or in both positive and
 * negative, is refused at the repeated entry: the learner would
 * silently read it as the first. */
static void test_cfg_label_value_names_one_class(void **state)
{
    static const struct {
        const char *label, *key, *what;
    } cases[] = {
        {"  { name = \"class\"; kind = \"label\"; positive = [\"UP\", "
         "\"DOWN\"]; negative = [\"DOWN\"]; },", "fields[1].negative",
         "entry 1 \"DOWN\" is already entry 2 of positive: a label value "
         "names one class"},
        {"  { name = \"class\"; kind = \"label\"; classes = [\"UP\", "
         "\"FLAT\", \"UP\"]; },", "fields[1].classes",
         "entry 3 \"UP\" is already entry 1 of classes: a label value "
         "names one class"},
    };
    struct fixture *fx = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_base(fx, 13, cases[i].label, NULL);
        expect_error(fx, 13, cases[i].key, cases[i].what);
    }

    /* Repeated in a list of its own kind, a positive value is harmless. */
    write_base(fx, 13, "  { name = \"class\"; kind = \"label\"; positive = "
               "[\"UP\", \"UP\"]; negative = [\"DOWN\"]; },", NULL);
    assert_int_equal(load(fx), 0);
}

static void test_cfg_wrong_type(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  learning_rate = \"fast\";", NULL);
    expect_error(fx, 18, "learner.learning_rate",
                 "expected a number, got a string");
}

static void test_cfg_wrong_type_integer(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  bits = 12.5;", NULL);
    expect_error(fx, 18, "learner.bits", "expected an integer, got a number");
}

static void test_cfg_missing_required_setting(void **state)
{
    struct fixture *fx = *state;

    /* The error points at the group that lacks the setting. */
    write_base(fx, 3, "  # no input", NULL);
    expect_error(fx, 2, "topics.input", "missing required setting");
}

static void test_cfg_missing_required_group(void **state)
{
    struct fixture *fx = *state;
    const char *lines[BASE_LINE_COUNT];

    memcpy(lines, base_lines, sizeof(lines));
    lines[15] = lines[16] = lines[17] = lines[18] = NULL; /* no learner */
    write_lines(fx, lines, BASE_LINE_COUNT, NULL);
    assert_int_equal(load(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, fx->path);
    assert_contains(fx->errstr, ": learner: missing required setting");
}

static void test_cfg_bits_out_of_range(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  bits = 40;", NULL);
    expect_error(fx, 18, "learner.bits",
                 "40 is out of range: expected an integer from 10 to 28");

    write_base(fx, 18, "  bits = 9;", NULL);
    expect_error(fx, 18, "learner.bits", "9 is out of range");
}

/* libconfig 1.5 keeps the low 32 bits of 4294967308 (2^32 + 12): bits
 * would load as 12, in range, without a word. */
static void test_cfg_wrapped_integer_refused(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  bits = 4294967308;", NULL);
    expect_error(fx, 18, "bits", "does not fit in 32 bits");
    assert_contains(fx->errstr, "read it as 12 ");

    write_base(fx, 18, "  bits = 4294967308L;", NULL);
    expect_error(fx, 18, "learner.bits", "4294967308 is out of range");
}

static void test_cfg_bits_bounds_accepted(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  bits = 10;", NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->model.bits, 10);
    write_base(fx, 18, "  bits = 28;", NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->model.bits, 28);
}

static void test_cfg_unknown_enum_value(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  loss = \"cubic\";", NULL);
    expect_error(fx, 18, "learner.loss",
                 "unknown value \"cubic\": expected one of \"logistic\", "
                 "\"squared\", \"hinge\"");
}

static void test_cfg_unknown_field_kind(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"number\"; }", NULL);
    expect_error(fx, 14, "fields[2].kind", "unknown value \"number\"");
    assert_contains(fx->errstr, "\"categorical\"");
}

static void test_cfg_duplicate_field(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"event_id\"; kind = \"numeric\"; }", NULL);
    expect_error(fx, 14, "fields[2].name",
                 "field \"event_id\" is already configured in fields[0]");
}

static void test_cfg_no_label_field(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 13, "  { name = \"class\"; kind = \"categorical\"; },",
               NULL);
    expect_error(fx, 11, "fields",
                 "expected exactly one field of kind \"label\"");
    assert_contains(fx->errstr, "(found 0 and 1)");
}

/* A label with neither positive values nor classes is a regression
 * target, which only the squared loss learns. */
static void test_cfg_label_without_positive(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 13, "  { name = \"class\"; kind = \"label\"; },", NULL);
    expect_error(fx, 16, "learner.loss",
                 "so it is a regression target: set loss = \"squared\"");
}

static void test_cfg_regression_task(void **state)
{
    struct fixture *fx = *state;
    const char *lines[BASE_LINE_COUNT];

    memcpy(lines, base_lines, sizeof(lines));
    lines[12] = "  { name = \"class\"; kind = \"label\"; },";
    lines[17] = "  bits = 12; loss = \"squared\";";
    write_lines(fx, lines, BASE_LINE_COUNT, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->task, CFG_TASK_REGRESSION);
}

static void test_cfg_multiclass_task(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 13, "  { name = \"class\"; kind = \"label\";"
               " classes = [\"a\", \"b\", \"c\"]; },", NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->task, CFG_TASK_MULTICLASS);
    assert_int_equal(fx->cfg->class_count, 3);
    assert_string_equal(fx->cfg->classes[2], "c");
}

static void test_cfg_classes_and_positive_refused(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 13, "  { name = \"class\"; kind = \"label\";"
               " positive = [\"a\"]; classes = [\"a\", \"b\"]; },", NULL);
    assert_int_equal(load(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "has both positive values and classes");
}

static void test_cfg_syntax_error(void **state)
{
    struct fixture *fx = *state;
    char prefix[256];

    write_base(fx, 5, "  models = ;", NULL);
    assert_int_equal(load(fx), RIFFLE_ERR_CFG);
    snprintf(prefix, sizeof(prefix), "%s:5: ", fx->path);
    assert_contains(fx->errstr, prefix);
    assert_contains(fx->errstr, "syntax error"); /* libconfig's own text */
}

static char *read_whole_file(const char *path);

static void test_cfg_missing_file(void **state)
{
    struct fixture *fx = *state;
    char path[160], expected[200];

    snprintf(path, sizeof(path), "%s/absent.cfg", fx->dir);
    assert_int_equal(cfg_load_file(fx->cfg, path, fx->errstr,
                                   sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    snprintf(expected, sizeof(expected),
             "%s: cannot read the file: No such file or directory", path);
    assert_string_equal(fx->errstr, expected);
}

/* A directory opens; reading it fails, and that reason is given. */
static void test_cfg_directory_refused(void **state)
{
    struct fixture *fx = *state;
    char expected[200];

    assert_int_equal(cfg_load_file(fx->cfg, fx->dir, fx->errstr,
                                   sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    snprintf(expected, sizeof(expected),
             "%s: cannot read the file: Is a directory", fx->dir);
    assert_string_equal(fx->errstr, expected);
}

/* The file's bytes after the fixture's base lines rewrite them: a NUL
 * byte first, where libconfig reading the file sees a character, not an
 * end of text. */
static void write_base_after(const struct fixture *fx, const char *head,
                             size_t head_len)
{
    char *text;
    FILE *f;

    write_base(fx, 0, NULL, NULL);
    text = read_whole_file(fx->path);
    f = fopen(fx->path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, head_len, f), head_len);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    free(text);
}

/* The loader reads the file once and parses those bytes as libconfig
 * parses a file: a NUL in a comment is skipped, one in a setting is a
 * syntax error at its line. */
static void test_cfg_nul_byte_read_as_in_a_file(void **state)
{
    struct fixture *fx = *state;
    static const char in_comment[] = "# a \0 in a comment\n";
    static const char in_setting[] = "a = 1;\n b = \0 2;\n";

    write_base_after(fx, in_comment, sizeof(in_comment) - 1);
    assert_int_equal(load(fx), 0);
    assert_string_equal(fx->cfg->name, "t");

    write_base_after(fx, in_setting, sizeof(in_setting) - 1);
    assert_int_equal(load(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, ":2: syntax error");
}

/* A configuration given through a pipe (`-c <(...)`) cannot be read
 * twice: read once, its integers are checked like a file's. */
static void test_cfg_wrapped_integer_refused_from_pipe(void **state)
{
    struct fixture *fx = *state;
    char path[64], prefix[128];
    char *text;
    int fds[2];
    size_t len;

    write_base(fx, 18, "  bits = 4294967308;", NULL);
    text = read_whole_file(fx->path);
    len = strlen(text);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], text, len), (ssize_t)len); /* < 4 KiB */
    assert_int_equal(close(fds[1]), 0);
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);

    assert_int_equal(cfg_load_file(fx->cfg, path, fx->errstr,
                                   sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    snprintf(prefix, sizeof(prefix), "%s:18: bits: 4294967308 does not fit",
             path);
    assert_contains(fx->errstr, prefix);
    assert_int_equal(close(fds[0]), 0);
    free(text);
}

/* An @include is refused at its line, whether its file exists or not:
 * libconfig read an included file's integers past the check above
 * (bits = 4294967308 loaded as 12), and its errors named the including
 * file with the included file's line numbers. */
static void test_cfg_include_refused(void **state)
{
    struct fixture *fx = *state;
    const char *lines[BASE_LINE_COUNT];
    char inc[160], line[200];
    FILE *f;

    snprintf(inc, sizeof(inc), "%s/inc.cfg", fx->dir);
    f = fopen(inc, "w");
    assert_non_null(f);
    fputs("learner = {\n  model_name = \"t\";\n  bits = 4294967308;\n};\n",
          f);
    assert_int_equal(fclose(f), 0);
    snprintf(line, sizeof(line), "@include \"%s\"", inc);
    memcpy(lines, base_lines, sizeof(lines));
    lines[15] = line; /* the learner group, from the included file */
    lines[16] = lines[17] = lines[18] = NULL;
    write_lines(fx, lines, BASE_LINE_COUNT, NULL);
    expect_error(fx, 16, "@include is not supported",
                 "write the included settings into this file");

    assert_int_equal(unlink(inc), 0);
    expect_error(fx, 16, "@include is not supported",
                 "write the included settings into this file");
}

/* libconfig's "duplicate setting name" names no setting: the error now
 * names it and where it was given first, in a group or at the top. */
static void test_cfg_duplicate_setting_named(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  bits = 12; bits = 14;", NULL);
    expect_error(fx, 18, "bits",
                 "given twice in one group (first at line 18)");
    assert_lacks(fx->errstr, "duplicate setting name");

    write_base(fx, 0, NULL, "learner = { model_name = \"u\"; };\n");
    expect_error(fx, 20, "learner",
                 "given twice in one group (first at line 16)");
}

/* The output schemas are read from source.schema's folder: one alone in
 * a folder of its own is refused at its line, naming the file missing;
 * an unreadable input schema is left to its loader. */
static void test_cfg_output_schemas_beside_input(void **state)
{
    struct fixture *fx = *state;
    char schema[128], line[192], expected[256];
    FILE *f;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(cfg_check_output_schemas(fx->cfg, fx->errstr,
                                              sizeof(fx->errstr)), 0);

    snprintf(schema, sizeof(schema), "%s/in.avsc", fx->dir);
    snprintf(line, sizeof(line), "  schema = \"%s\";", schema);
    write_base(fx, 9, line, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(cfg_check_output_schemas(fx->cfg, fx->errstr,
                                              sizeof(fx->errstr)), 0);

    f = fopen(schema, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(cfg_check_output_schemas(fx->cfg, fx->errstr,
                                              sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
    snprintf(expected, sizeof(expected), "%s:9: source.schema: riffle reads "
             "its own output schemas from this schema's folder, and "
             "%s/prediction.avsc cannot be read (No such file or directory)",
             fx->path, fx->dir);
    assert_contains(fx->errstr, expected);
    assert_int_equal(unlink(schema), 0);
}

static void test_cfg_numeric_rule_on_categorical(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"categorical\"; "
                       "missing = \"mean\"; }",
               NULL);
    expect_error(fx, 14, "fields[2].missing",
                 "mean, zero and constant apply to numeric fields only");
}

static void test_cfg_min_above_max(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"numeric\"; min = 2.0; "
                       "max = 1.0; }",
               NULL);
    expect_error(fx, 14, "fields[2].min", "min 2 is above max 1");
}

/* A rule on a field nothing cleans or learns would be silently dropped:
 * it is refused at its key, and a privacy action alone is still fine. */
static void test_cfg_rule_on_ignored_field_refused(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 14, "  { name = \"date\"; kind = \"ignore\"; "
                       "max = 2e12; min = 0.0; }",
               NULL);
    expect_error(fx, 14, "fields[2].min", "would never apply");

    write_base(fx, 14, "  { name = \"date\"; kind = \"ignore\"; "
                       "transform = \"log1p\"; }",
               NULL);
    expect_error(fx, 14, "fields[2].transform", "neither cleaned nor learned");

    write_base(fx, 14, "  { name = \"date\"; kind = \"ignore\"; "
                       "personal = \"mask\"; keep_last = 2; }",
               NULL);
    assert_int_equal(load(fx), 0);
}

static void test_cfg_personal_label_refused(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 13, "  { name = \"class\"; kind = \"label\"; "
                       "positive = [\"UP\"]; personal = \"drop\"; },",
               NULL);
    expect_error(fx, 13, "fields[1].personal",
                 "the label cannot be anonymized");
}

/* A personal event id (an account number) is allowed as a pseudonym,
 * the one action that keeps it a distinct, stable token per event. */
static void test_cfg_personal_id_pseudonym_allowed(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 12, "  { name = \"event_id\"; kind = \"id\"; "
                       "personal = \"pseudonym\"; },",
               NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->fields[0].kind, CFG_FIELD_ID);
    assert_int_equal(fx->cfg->fields[0].privacy, CFG_PRIVACY_PSEUDONYM);
    assert_int_equal(cfg_has_personal_fields(fx->cfg), 1);
}

/* A pseudonymized id makes the source personal: on_late = "route" would
 * copy the raw id, with the raw message, to the late topic. */
static void test_cfg_personal_id_refuses_late_route(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 12, "  { name = \"event_id\"; kind = \"id\"; "
                       "personal = \"pseudonym\"; },",
               "cleaning = { event_time = \"date\"; on_late = \"route\";\n"
               "  late_topic = \"late\"; };\n");
    expect_error(fx, 20, "cleaning.on_late", "route would copy raw personal");
}

/* Every other action on the id is refused at the id's own line. */
static void test_cfg_personal_id_other_actions_refused(void **state)
{
    static const char *const actions[] = {
        "personal = \"mask\"; keep_last = 2;",
        "personal = \"coarsen\"; keep_prefix = 3;",
        "personal = \"encrypt\";",
        "personal = \"drop\";",
        "personal = \"noise\"; epsilon = 1.0; sensitivity = 1.0;",
    };
    struct fixture *fx = *state;
    char line[256];
    size_t i;

    for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        snprintf(line, sizeof(line),
                 "  { name = \"event_id\"; kind = \"id\"; %s },",
                 actions[i]);
        write_base(fx, 12, line, NULL);
        expect_error(fx, 12, "fields[0].personal",
                     "the event id can only be pseudonymized");
    }
}

static void test_cfg_headerless_needs_columns(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 9, "  schema = \"s.avsc\"; header = false;", NULL);
    expect_error(fx, 8, "source.columns",
                 "required when source.header is false");
}

/* ---- source lines kept for later checks ----------------------------- */

/* Checks against the schema and the key come after loading, so the
 * loader keeps the line of each field group and of the groups they may
 * have to name. */
static void test_cfg_records_source_lines(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->fields[0].line, 12);
    assert_int_equal(fx->cfg->fields[1].line, 13);
    assert_int_equal(fx->cfg->fields[2].line, 14);
    assert_int_equal(fx->cfg->schema_line, 9);
    assert_int_equal(fx->cfg->learner_line, 16);
    assert_int_equal(fx->cfg->privacy_line, 0); /* no privacy group */

    write_base(fx, 0, NULL, "privacy = { key_id = \"k1\"; };\n"); /* 20 */
    assert_int_equal(load(fx), 0);
    assert_int_equal(fx->cfg->privacy_line, 20);
}

static void test_cfg_error_names_file_line_and_key(void **state)
{
    struct fixture *fx = *state;
    char errstr[ERRSTR_SIZE], expected[ERRSTR_SIZE];

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(cfg_error(fx->cfg, 14, "fields[2].name", errstr,
                               sizeof(errstr), "field \"%s\" is odd",
                               "date"),
                     RIFFLE_ERR_CFG);
    snprintf(expected, sizeof(expected),
             "%s:14: fields[2].name: field \"date\" is odd", fx->path);
    assert_string_equal(errstr, expected);

    /* A hand-built cfg has no lines: the key is still named. */
    assert_int_equal(cfg_error(fx->cfg, 0, "source.schema", errstr,
                               sizeof(errstr), "bad"),
                     RIFFLE_ERR_CFG);
    snprintf(expected, sizeof(expected), "%s: source.schema: bad", fx->path);
    assert_string_equal(errstr, expected);
}

static void test_cfg_schema_error_names_source_schema(void **state)
{
    struct fixture *fx = *state;
    char errstr[ERRSTR_SIZE], expected[ERRSTR_SIZE];

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    snprintf(errstr, sizeof(errstr), "schemas/elec2.avsc: broken");
    cfg_schema_error(fx->cfg, errstr, sizeof(errstr));
    snprintf(expected, sizeof(expected),
             "%s:9: source.schema: schemas/elec2.avsc: broken", fx->path);
    assert_string_equal(errstr, expected);
}

/* ---- learner ranges are the model's ---------------------------------- */

/* The loader's bounds are model.h's, so a value the model would refuse
 * is reported by the loader, at its own line. */
static void test_cfg_learner_ranges_match_model(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  power_t = 2.0;", NULL);
    expect_error(fx, 18, "learner.power_t",
                 "2 is out of range: expected a number from 0 to 1");
    write_base(fx, 18, "  l2 = 1.5;", NULL);
    expect_error(fx, 18, "learner.l2",
                 "1.5 is out of range: expected a number from 0 to 1");
    write_base(fx, 18, "  learning_rate = 0;", NULL);
    expect_error(fx, 18, "learner.learning_rate",
                 "0 is out of range: expected a number above 0, at most "
                 "1000");
    write_base(fx, 18, "  learning_rate = 2000.0;", NULL);
    expect_error(fx, 18, "learner.learning_rate",
                 "2000 is out of range: expected a number above 0, at most "
                 "1000");
    write_base(fx, 18, "  gradient_clip = 2e6;", NULL);
    expect_error(fx, 18, "learner.gradient_clip",
                 "2e+06 is out of range: expected a number above 0, at "
                 "most 1e+06");
}

static void test_cfg_learner_range_bounds_accepted(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 18, "  learning_rate = 1000.0; power_t = 1.0; l2 = 1.0;"
                       " gradient_clip = 1e6;", NULL);
    assert_int_equal(load(fx), 0);
    assert_true(fx->cfg->model.learning_rate == MODEL_MAX_LEARNING_RATE);
    assert_true(fx->cfg->model.gradient_clip == MODEL_MAX_GRADIENT_CLIP);
}

/* ---- kafka security and log format --------------------------------- */

static void test_cfg_kafka_security_keys(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL,
               "kafka = { security_protocol = \"sasl_ssl\";\n" /* 20 */
               "  sasl_mechanism = \"SCRAM-SHA-512\";\n"
               "  sasl_username = \"learner\";\n"
               "  sasl_password_file = \"/run/secrets/kafka\";\n"
               "  ssl_ca_file = \"ca.pem\";\n"
               "  ssl_verify_hostname = false; };\n"
               "log = { format = \"json\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_string_equal(fx->cfg->kafka_security.protocol, "sasl_ssl");
    assert_string_equal(fx->cfg->kafka_security.sasl_mechanism,
                        "SCRAM-SHA-512");
    assert_string_equal(fx->cfg->kafka_security.sasl_username, "learner");
    assert_string_equal(fx->cfg->kafka_security.sasl_password_file,
                        "/run/secrets/kafka");
    assert_string_equal(fx->cfg->kafka_security.ssl_ca_file, "ca.pem");
    assert_int_equal(fx->cfg->kafka_security.ssl_verify_hostname, 0);
    assert_int_equal(fx->cfg->log_json, 1);
}

static void test_cfg_kafka_security_defaults(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_string_equal(fx->cfg->kafka_security.protocol, "plaintext");
    assert_int_equal(fx->cfg->kafka_security.ssl_verify_hostname, 1);
    assert_int_equal(fx->cfg->log_json, 0);
}

static void test_cfg_kafka_security_errors(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "kafka = { security_protocol = \"tls\"; };\n");
    expect_error(fx, 20, "kafka.security_protocol",
                 "unknown value \"tls\": expected one of \"plaintext\", "
                 "\"ssl\", \"sasl_plaintext\", \"sasl_ssl\"");
    write_base(fx, 0, NULL,
               "kafka = { security_protocol = \"sasl_plaintext\"; };\n");
    expect_error(fx, 20, "kafka.security_protocol",
                 "needs kafka.sasl_mechanism");
    write_base(fx, 0, NULL,
               "kafka = {\n  sasl_mechanism = \"GSSAPI\"; };\n");
    expect_error(fx, 21, "kafka.sasl_mechanism", "unknown value \"GSSAPI\"");
    write_base(fx, 0, NULL, "log = { format = \"yaml\"; };\n");
    expect_error(fx, 20, "log.format",
                 "expected one of \"text\", \"json\"");
}

static void test_cfg_labels_read_with_defaults(void **state)
{
    struct fixture *fx = *state;
    const struct cfg_labels *lb = &fx->cfg->labels;

    write_base(fx, 0, NULL, NULL);
    assert_int_equal(load(fx), 0);
    assert_int_equal(lb->line, 0);

    write_base(fx, 0, NULL, "labels = { topic = \"lab\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(lb->line, 20);
    assert_string_equal(lb->topic, "lab");
    assert_int_equal(lb->format, CFG_LABEL_FORMAT_TEXT);
    assert_float_equal(lb->ttl_ms, 3600000.0, 0.0);
    assert_int_equal(lb->max_pending, 100000);
    assert_int_equal(lb->on_unknown, CFG_LABEL_DEAD_LETTER);
    assert_int_equal(lb->on_expired, CFG_LABEL_DEAD_LETTER);
    assert_int_equal(lb->on_duplicate, CFG_LABEL_DEAD_LETTER);

    write_base(fx, 0, NULL,
               "labels = { topic = \"lab\"; format = \"event\"; "
               "ttl = 2.5;\n  max_pending = 7; on_unknown = \"ignore\"; "
               "on_expired = \"ignore\";\n  on_duplicate = \"ignore\"; };\n");
    assert_int_equal(load(fx), 0);
    assert_int_equal(lb->format, CFG_LABEL_FORMAT_EVENT);
    assert_float_equal(lb->ttl_ms, 2500.0, 0.0);
    assert_int_equal(lb->max_pending, 7);
    assert_int_equal(lb->on_unknown, CFG_LABEL_IGNORE);
    assert_int_equal(lb->on_expired, CFG_LABEL_IGNORE);
    assert_int_equal(lb->on_duplicate, CFG_LABEL_IGNORE);
}

static void test_cfg_labels_errors_name_the_key(void **state)
{
    struct fixture *fx = *state;

    write_base(fx, 0, NULL, "labels = { ttl = 5.0; };\n");
    expect_error(fx, 20, "labels.topic", "missing required setting");
    write_base(fx, 0, NULL, "labels = {\n  topic = \"lab\"; ttl = 0.0; };\n");
    expect_error(fx, 21, "labels.ttl", "expected a number above 0");
    write_base(fx, 0, NULL,
               "labels = {\n  topic = \"lab\";\n  max_pending = 0; };\n");
    expect_error(fx, 22, "labels.max_pending", "expected an integer from 1");
    write_base(fx, 0, NULL,
               "labels = { topic = \"lab\";\n  on_duplicate = \"drop\"; };\n");
    expect_error(fx, 21, "labels.on_duplicate",
                 "expected one of \"dead_letter\", \"ignore\"");
    write_base(fx, 0, NULL,
               "labels = { topic = \"lab\";\n  format = \"json\"; };\n");
    expect_error(fx, 21, "labels.format",
                 "expected one of \"text\", \"event\"");
    write_base(fx, 0, NULL, "labels = {\n  topic = \"in\"; };\n");
    expect_error(fx, 21, "labels.topic", "a topic of their own");
    write_base(fx, 0, NULL, "labels = { topic = \"lab\"; when = 1; };\n");
    expect_error(fx, 20, "labels.when", "unknown setting");
}

/* cfg_load_file_zeroed() into calloc()ed memory gives the same bytes as
 * cfg_load_file() into memory full of garbage, for every bundled
 * configuration. */
static void test_cfg_load_zeroed_matches_load(void **state)
{
    static const char *const paths[] = {
        "config/elec2.cfg",        "config/adult.cfg",
        "config/ctr.cfg",          "config/synthetic.cfg",
        "config/adult_pii.cfg",    "config/adult_relationship.cfg",
        "config/adult_hours.cfg",  "config/elec2_delayed.cfg"};
    struct fixture *fx = *state;
    struct cfg *dirty = malloc(sizeof(*dirty));
    struct cfg *clean = calloc(1, sizeof(*clean));
    size_t i;

    assert_non_null(dirty);
    assert_non_null(clean);
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        memset(dirty, 0x5a, sizeof(*dirty));
        memset(clean, 0, sizeof(*clean));
        assert_int_equal(cfg_load_file(dirty, paths[i], fx->errstr,
                                       sizeof(fx->errstr)),
                         0);
        assert_int_equal(cfg_load_file_zeroed(clean, paths[i], fx->errstr,
                                              sizeof(fx->errstr)),
                         0);
        if (memcmp(dirty, clean, sizeof(*clean)) != 0)
            fail_msg("%s: the two loads differ", paths[i]);
    }
    free(dirty);
    free(clean);
}

/*
 * docs/CONFIGURATION.md against the loader: every key in the first
 * column of a "| key |" table must be one the loader reads in the group
 * its heading names, and every key the loader reads must be in such a
 * table. A heading that opens with a backticked name ("## `serve`",
 * "### `privacy.k_anonymity`") names the group; "## Top level" the top
 * level; any other heading none.
 */
#define DOCS_PATH "docs/CONFIGURATION.md"
#define DOCS_KEYS_MAX 512     /* keys in the tables; about 200 today */
#define DOCS_REPORT_SIZE 8192 /* room for every mismatch at once */

struct doc_key {
    char section[CFG_NAME_MAX];
    char key[CFG_NAME_MAX];
    char type[CFG_NAME_MAX]; /* the row's type and default cells */
    char def[CFG_NAME_MAX];
    int keys_in_row;
    int line;
};

struct doc_keys {
    struct doc_key keys[DOCS_KEYS_MAX];
    size_t count;
    char headings[64][CFG_NAME_MAX]; /* every group a heading names */
    size_t heading_count;
    char report[DOCS_REPORT_SIZE];
};

static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long size;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    (void)fclose(f); /* read-only: nothing to lose */
    return text;
}

static void doc_report(struct doc_keys *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void doc_report(struct doc_keys *d, const char *fmt, ...)
{
    size_t used = strlen(d->report);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->report + used, sizeof(d->report) - used, fmt, ap);
    va_end(ap);
}

/* A heading line: the group it names, "" for the top level, or NULL. */
static const char *doc_heading_section(const char *line, char *out,
                                       size_t size)
{
    const char *text = line + strspn(line, "#");
    const char *end;

    text += strspn(text, " ");
    if (strncmp(text, "Top level", 9) == 0) {
        out[0] = '\0';
        return out;
    }
    if (text[0] != '`' || !(end = strchr(text + 1, '`')))
        return NULL;
    snprintf(out, size, "%.*s", (int)(end - text - 1), text + 1);
    return out;
}

/* Copies cell n (from 0) of a table row into out, trimmed; a "\\|"
 * inside a cell is no boundary. */
static void doc_cell(const char *row, int n, char *out, size_t size)
{
    const char *p = row + 1, *end;
    size_t len;

    for (; n > 0 && *p; p++)
        if (*p == '|' && p[-1] != '\\')
            n--;
    p += strspn(p, " ");
    for (end = p; *end && !(*end == '|' && end[-1] != '\\'); end++)
        ;
    while (end > p && end[-1] == ' ')
        end--;
    len = (size_t)(end - p) < size - 1 ? (size_t)(end - p) : size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* The backticked names in the first cell of a table row, each with the
 * row's type and default cells. */
static void doc_add_row(struct doc_keys *d, const char *section,
                        const char *row, int line)
{
    const char *cell_end = strchr(row + 1, '|');
    const char *p = row + 1;
    size_t start = d->count, i;

    assert_non_null(cell_end);
    while ((p = memchr(p, '`', (size_t)(cell_end - p))) != NULL) {
        const char *end = memchr(p + 1, '`', (size_t)(cell_end - p - 1));
        struct doc_key *k = &d->keys[d->count];

        assert_non_null(end);
        assert_true(d->count < DOCS_KEYS_MAX);
        snprintf(k->section, sizeof(k->section), "%s", section);
        snprintf(k->key, sizeof(k->key), "%.*s", (int)(end - p - 1), p + 1);
        doc_cell(row, 1, k->type, sizeof(k->type));
        doc_cell(row, 2, k->def, sizeof(k->def));
        k->line = line;
        d->count++;
        p = end + 1;
    }
    for (i = start; i < d->count; i++)
        d->keys[i].keys_in_row = (int)(d->count - start);
}

static void doc_read_keys(struct doc_keys *d, char *text)
{
    char section_buf[CFG_NAME_MAX];
    const char *section = NULL;
    char *line, *next;
    int n = 0, in_table = 0;

    for (line = text; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        n++;
        if (line[0] == '#') {
            section = doc_heading_section(line, section_buf,
                                          sizeof(section_buf));
            if (section && d->heading_count < 64)
                snprintf(d->headings[d->heading_count++], CFG_NAME_MAX,
                         "%s", section);
            in_table = 0;
        } else if (strncmp(line, "| key |", 7) == 0) {
            if (!section)
                doc_report(d, "%s:%d: a table of keys under a heading "
                           "that names no group\n", DOCS_PATH, n);
            in_table = section != NULL;
        } else if (line[0] != '|') {
            in_table = 0;
        } else if (in_table && strncmp(line, "| ---", 5) != 0) {
            doc_add_row(d, section, line, n);
        }
    }
}

static int doc_has(const struct doc_keys *d, const char *section,
                   const char *key)
{
    size_t i;

    for (i = 0; i < d->count; i++)
        if (strcmp(d->keys[i].section, section) == 0 &&
            strcmp(d->keys[i].key, key) == 0)
            return 1;
    return 0;
}

static int doc_has_heading(const struct doc_keys *d, const char *section)
{
    size_t i;

    for (i = 0; i < d->heading_count; i++)
        if (strcmp(d->headings[i], section) == 0)
            return 1;
    return 0;
}

/* Fills d->report with each key on one side only. */
static void doc_compare(struct doc_keys *d)
{
    const char *section;
    size_t i, s;

    for (i = 0; i < d->count; i++) {
        const struct doc_key *k = &d->keys[i];

        if (!cfg_section_has_key(k->section, k->key))
            doc_report(d, "%s:%d: %s%s%s is documented, but "
                       "the loader does not read it\n", DOCS_PATH, k->line,
                       k->section, k->section[0] ? "." : "", k->key);
    }
    for (s = 0; (section = cfg_section_name(s)) != NULL; s++) {
        const char *key;

        for (i = 0; (key = cfg_section_key(section, i)) != NULL; i++) {
            char group[2 * CFG_NAME_MAX];

            /* A group-valued key may have a heading of its own instead. */
            snprintf(group, sizeof(group), "%s%s%s", section,
                     section[0] ? "." : "", key);
            if (!doc_has(d, section, key) && !doc_has_heading(d, group))
                doc_report(d, "config/cfg.c reads %s%s%s, which no table "
                           "of %s lists under that group's heading\n",
                           section, section[0] ? "." : "", key, DOCS_PATH);
        }
    }
}

/* The loader's keys come from its tables and its list of keys read by
 * hand: a key in both, or in two tables, would be read twice. */
static void test_cfg_section_keys_listed_once(void **state)
{
    const char *section, *key, *other;
    size_t s, i, j;

    (void)state;
    for (s = 0; (section = cfg_section_name(s)) != NULL; s++)
        for (i = 0; (key = cfg_section_key(section, i)) != NULL; i++)
            for (j = 0; j < i; j++) {
                other = cfg_section_key(section, j);
                if (strcmp(key, other) == 0)
                    fail_msg("%s.%s is listed twice", section, key);
            }
    assert_true(cfg_section_has_key("fields", "relabel"));
    assert_true(cfg_section_has_key("", "name"));
    assert_false(cfg_section_has_key("fields", "mn"));
    assert_false(cfg_section_has_key("fields[0]", "name"));
    assert_null(cfg_section_key("nowhere", 0));
}

static void test_cfg_keys_match_docs(void **state)
{
    struct doc_keys *d = calloc(1, sizeof(*d));
    char *text = read_whole_file(DOCS_PATH);

    (void)state;
    assert_non_null(d);
    doc_read_keys(d, text);
    /* A parser that finds nothing would pass everything. */
    assert_true(d->count > 100);
    assert_true(doc_has(d, "serve", "http_threads"));
    assert_true(doc_has(d, "", "name"));
    doc_compare(d);
    if (d->report[0]) {
        print_error("%s", d->report);
        fail_msg("docs/CONFIGURATION.md and config/cfg.c disagree");
    }
    free(text);
    free(d);
}

/*
 * The default column against the loader: a key set to its documented
 * default must load to the same struct cfg, byte for byte, as the key
 * left out. Only defaults written as a value are checked (a number,
 * true or false, a backticked text or word); those that name a rule or
 * another key ("required", "`<name>`", "`key`", "librdkafka's") are
 * left out, and so are the kind-dependent defaults of fields and
 * sources. Each group gets what it needs around the key: serve, join
 * and labels their required keys, cleaning an event_time (the lateness
 * keys need one), k_anonymity its quasi-identifiers.
 */
#define DEFAULTS_CHECKED_MIN 50 /* 66 today: most of the tables */

/* Writes the value of a documented default as libconfig text into out,
 * or returns 0 when the cell is not a plain value. */
static int doc_default_value(const struct doc_key *k, char *out,
                             size_t size)
{
    const char *d = k->def;
    char *end;
    size_t len = strlen(d);

    if (strcmp(d, "true") == 0 || strcmp(d, "false") == 0) {
        snprintf(out, size, "%s", d);
        return 1;
    }
    if (d[0] == '`' && len > 2 && d[len - 1] == '`' &&
        !memchr(d + 1, '`', len - 2)) {
        char token[CFG_NAME_MAX], prefix[CFG_NAME_MAX];

        snprintf(token, sizeof(token), "%.*s", (int)(len - 2), d + 1);
        snprintf(prefix, sizeof(prefix), "%.*s", (int)strcspn(token, "."),
                 token);
        if (strpbrk(token, "< ") || cfg_section_has_key(k->section, token) ||
            (strchr(token, '.') && cfg_section_key(prefix, 0)))
            return 0; /* a placeholder, or another key's value */
        if (token[0] == '"')
            snprintf(out, size, "%s", token);
        else
            snprintf(out, size, "\"%s\"", token);
        return 1;
    }
    (void)strtod(d, &end);
    if (end == d || (*end && strncmp(end, " (", 2) != 0))
        return 0;
    snprintf(out, size, "%.*s%s", (int)(end - d), d,
             strncmp(k->type, "int", 3) != 0 &&
                     !memchr(d, '.', (size_t)(end - d)) &&
                     !memchr(d, 'e', (size_t)(end - d))
                 ? ".0"
                 : "");
    return 1;
}

/* The base configuration of test_cfg.c with setting (may be "") inside
 * the group section, on the same line either way. */
static void doc_default_config(char *out, size_t size, const char *section,
                               const char *setting)
{
    static const struct {
        const char *section, *required;
    } needs[] = {
        {"serve", "requests = \"r\"; predictions = \"p\";"},
        {"join", "topic = \"j\"; schema = \"j.avsc\"; key = \"event_id\"; "
                 "map = ([\"date\", \"date\"]);"},
        {"labels", "topic = \"l\";"},
        {"cleaning", "event_time = \"date\";"},
        {"privacy.k_anonymity", "quasi_identifiers = [\"date\"];"},
        {NULL, NULL}};
    const char *required = "";
    int topics = strcmp(section, "topics") == 0;
    int source = strcmp(section, "source") == 0;
    int learner = strcmp(section, "learner") == 0;
    char group[4 * CFG_NAME_MAX] = "";
    size_t i;

    for (i = 0; needs[i].section; i++)
        if (strcmp(needs[i].section, section) == 0)
            required = needs[i].required;
    if (strcmp(section, "privacy.k_anonymity") == 0)
        snprintf(group, sizeof(group), "privacy = { k_anonymity = { %s %s "
                 "}; };", required, setting);
    else if (!section[0])
        snprintf(group, sizeof(group), "%s", setting);
    else if (!topics && !source && !learner)
        snprintf(group, sizeof(group), "%s = { %s %s };", section, required,
                 setting);

    snprintf(out, size,
             "name = \"t\";\n"
             "topics = { input = \"in\"; predictions = \"pred\"; "
             "models = \"models\"; dead_letters = \"dl\"; %s };\n"
             "source = { schema = \"schemas/elec2.avsc\"; %s };\n"
             "fields = (\n"
             "  { name = \"event_id\"; kind = \"id\"; },\n"
             "  { name = \"class\"; kind = \"label\"; positive = [\"UP\"]; },\n"
             "  { name = \"date\"; kind = \"numeric\"; }\n"
             ");\n"
             "learner = { model_name = \"t\"; %s };\n"
             "%s\n",
             topics ? setting : "", source ? setting : "",
             learner ? setting : "", group);
}

static void test_cfg_defaults_match_docs(void **state)
{
    struct fixture *fx = *state;
    struct doc_keys *d = calloc(1, sizeof(*d));
    struct cfg *with = calloc(1, sizeof(*with));
    char *text = read_whole_file(DOCS_PATH);
    char config[2048], value[CFG_NAME_MAX], setting[2 * CFG_NAME_MAX];
    size_t i, checked = 0;

    assert_non_null(d);
    assert_non_null(with);
    doc_read_keys(d, text);
    for (i = 0; i < d->count; i++) {
        const struct doc_key *k = &d->keys[i];

        if (k->keys_in_row != 1 || strcmp(k->section, "fields") == 0 ||
            strcmp(k->section, "sources") == 0 ||
            !cfg_section_has_key(k->section, k->key) ||
            !doc_default_value(k, value, sizeof(value)))
            continue;

        doc_default_config(config, sizeof(config), k->section, "");
        if (load_cfg_text(fx->cfg, fx->path, config, fx->errstr,
                          sizeof(fx->errstr)) != 0)
            fail_msg("%s without the key: %s", k->section, fx->errstr);
        snprintf(setting, sizeof(setting), "%s = %s;", k->key, value);
        doc_default_config(config, sizeof(config), k->section, setting);
        if (load_cfg_text(with, fx->path, config, fx->errstr,
                          sizeof(fx->errstr)) != 0)
            doc_report(d, "%s:%d: %s.%s = %s: %s\n", DOCS_PATH, k->line,
                       k->section, k->key, value, fx->errstr);
        else if (memcmp(fx->cfg, with, sizeof(*with)) != 0)
            doc_report(d, "%s:%d: %s%s%s: the documented default %s is "
                       "not the loader's\n", DOCS_PATH, k->line, k->section,
                       k->section[0] ? "." : "", k->key, value);
        checked++;
    }
    if (d->report[0]) {
        print_error("%s", d->report);
        fail_msg("docs/CONFIGURATION.md's defaults and config/cfg.c disagree");
    }
    assert_true(checked >= DEFAULTS_CHECKED_MIN);
    free(text);
    free(with);
    free(d);
}

/* Every bundled configuration loads: each of its keys is then one the
 * loader reads, so one the test above finds documented. */
static void test_cfg_bundled_files_load(void **state)
{
    struct fixture *fx = *state;
    glob_t g;
    size_t i;

    assert_int_equal(glob("config/*.cfg", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 3);
    for (i = 0; i < g.gl_pathc; i++) {
        int err = cfg_load_file(fx->cfg, g.gl_pathv[i], fx->errstr,
                                sizeof(fx->errstr));

        if (err)
            print_error("%s\n", fx->errstr);
        assert_int_equal(err, 0);
    }
    globfree(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_cfg_elec2_loads),
        T(test_cfg_section_keys_listed_once),
        T(test_cfg_keys_match_docs),
        T(test_cfg_defaults_match_docs),
        T(test_cfg_bundled_files_load),
        T(test_cfg_load_zeroed_matches_load),
        T(test_cfg_kafka_security_keys),
        T(test_cfg_kafka_security_defaults),
        T(test_cfg_kafka_security_errors),
        T(test_cfg_adult_loads),
        T(test_cfg_ctr_loads),
        T(test_cfg_defaults_applied),
        T(test_cfg_group_id_kept_when_given),
        T(test_cfg_delivery_defaults_to_exactly_once),
        T(test_cfg_prediction_fields),
        T(test_cfg_delivery_settings_read),
        T(test_cfg_delivery_errors_name_the_key),
        T(test_cfg_offset_past_end_action),
        T(test_cfg_session_timeout_read_and_checked),
        T(test_cfg_serve_delivery_defaults_to_at_least_once),
        T(test_cfg_serve_transaction_timeout_read_and_checked),
        T(test_cfg_scaling_read_and_checked),
        T(test_cfg_fingerprint_tracks_model_settings),
        T(test_cfg_fingerprint_same_file_bits_differ),
        T(test_cfg_fingerprint_tracks_coarsening),
        T(test_cfg_unknown_top_level_key),
        T(test_cfg_unknown_key_in_field),
        T(test_cfg_unknown_key_in_group),
        T(test_cfg_wrong_type),
        T(test_cfg_wrong_type_integer),
        T(test_cfg_missing_required_setting),
        T(test_cfg_missing_required_group),
        T(test_cfg_bits_out_of_range),
        T(test_cfg_bits_bounds_accepted),
        T(test_cfg_unknown_enum_value),
        T(test_cfg_unknown_field_kind),
        T(test_cfg_duplicate_field),
        T(test_cfg_no_label_field),
        T(test_cfg_label_without_positive),
        T(test_cfg_regression_task),
        T(test_cfg_multiclass_task),
        T(test_cfg_classes_and_positive_refused),
        T(test_cfg_syntax_error),
        T(test_cfg_missing_file),
        T(test_cfg_output_schemas_beside_input),
        T(test_cfg_numeric_rule_on_categorical),
        T(test_cfg_min_above_max),
        T(test_cfg_rule_on_ignored_field_refused),
        T(test_cfg_personal_label_refused),
        T(test_cfg_personal_id_pseudonym_allowed),
        T(test_cfg_personal_id_other_actions_refused),
        T(test_cfg_personal_id_refuses_late_route),
        T(test_cfg_headerless_needs_columns),
        T(test_cfg_records_source_lines),
        T(test_cfg_error_names_file_line_and_key),
        T(test_cfg_schema_error_names_source_schema),
        T(test_cfg_learner_ranges_match_model),
        T(test_cfg_learner_range_bounds_accepted),
        T(test_cfg_labels_read_with_defaults),
        T(test_cfg_labels_errors_name_the_key),
        T(test_cfg_wrapped_integer_refused),
        T(test_cfg_directory_refused),
        T(test_cfg_nul_byte_read_as_in_a_file),
        T(test_cfg_wrapped_integer_refused_from_pipe),
        T(test_cfg_include_refused),
        T(test_cfg_unknown_key_suggests_nearest),
        T(test_cfg_topic_names_kafka_takes),
        T(test_cfg_label_value_names_one_class),
        T(test_cfg_duplicate_setting_named),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
