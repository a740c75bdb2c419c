/*
 * tests/unit/test_row_prefetch.c - CSV rows typed on a second thread,
 * producers/row_prefetch.c.
 *
 * The prefetcher must hand out exactly what csv_reader_next() and
 * produce_row_to_event() give on the caller's thread, in file order:
 * each event compared field by field (and its generated id) with the
 * direct reading of the same text, over more rows than the ring holds
 * and with bad rows among them; the end of the file; and a stop while
 * the reader waits on a full ring, which must neither hang nor leak
 * (the sanitizer and valgrind runs of the suite check the latter).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "producers/row_prefetch.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
/* More than the ring's 256 slots, so that it wraps several times and
 * the reader has to wait for room. */
#define MANY_ROWS 1000
#define BAD_ROW_EVERY 97 /* rows whose age is not a number */

struct fixture {
    struct cfg *cfg;
    struct schema *adult;
    struct buf text;
    char errstr[ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    *state = fx;
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg ||
        cfg_load_file(fx->cfg, "config/adult.cfg", fx->errstr,
                      sizeof(fx->errstr)) != 0 ||
        schema_load_file(fx->cfg->schema_path, &fx->adult, fx->errstr,
                         sizeof(fx->errstr)) != 0) {
        print_error("fixture: %s\n", fx->cfg ? fx->errstr : "out of memory");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    if (!fx)
        return 0;
    schema_destroy(fx->adult);
    buf_free(&fx->text);
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Adult rows (headerless, as config/adult.cfg reads them) whose fields
 * change with the row number; every BAD_ROW_EVERY-th row has an age
 * that is not a number, and one row has a column too few. */
static void make_rows(struct fixture *fx, size_t rows)
{
    size_t i;

    buf_reset(&fx->text);
    for (i = 1; i <= rows; i++) {
        if (i % BAD_ROW_EVERY == 0)
            assert_int_equal(buf_printf(&fx->text, "old, Private, 1, "
                                        "Bachelors, 13, Divorced, Sales, "
                                        "Unmarried, White, Male, 0, 0, 40, "
                                        "Peru, <=50K\n"),
                             0);
        else if (i == 500)
            assert_int_equal(buf_printf(&fx->text, "39, Private\n"), 0);
        else
            assert_int_equal(
                buf_printf(&fx->text,
                           "%zu, Private, %zu, Bachelors, %zu, "
                           "Never-married, Adm-clerical, Not-in-family, "
                           "White, Male, %zu, 0, 40, ?, %s\n",
                           17 + i % 70, 1000 + i, 1 + i % 16, i * 7,
                           i % 3 ? "<=50K" : ">50K"),
                0);
    }
}

static struct csv_reader *open_text(struct fixture *fx)
{
    struct csv_options opts = {',', 1, 0, 0};
    struct csv_reader *csv = NULL;

    if (csv_reader_open_memory(fx->text.data, fx->text.len, "rows.csv",
                               &opts, &csv, fx->errstr,
                               sizeof(fx->errstr)) != 0)
        fail_msg("csv_reader_open_memory: %s", fx->errstr);
    return csv;
}

/* Maps csv's columns into map, which must outlive the result, and
 * starts reading ahead on a thread. */
static struct row_prefetch *start_threaded(struct fixture *fx,
                                           struct csv_reader *csv,
                                           struct produce_mapping *map)
{
    struct row_prefetch *p = NULL;

    assert_int_equal(produce_map_columns(fx->cfg, fx->adult, csv, map,
                                         fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(row_prefetch_start(fx->cfg, fx->adult, map, csv,
                                        "rows.csv", "test", 1, NULL, &p,
                                        fx->errstr, sizeof(fx->errstr)),
                     0);
    return p;
}

static void assert_same_event(const struct event *want,
                              const struct event *got, size_t row)
{
    size_t i;

    assert_int_equal(got->field_count, want->field_count);
    for (i = 0; i < want->field_count; i++) {
        const struct value *w = &want->values[i], *g = &got->values[i];

        if (g->kind != w->kind)
            fail_msg("row %zu field %zu: kind %d, want %d", row, i,
                     (int)g->kind, (int)w->kind);
        if (w->kind == VALUE_NUMBER)
            assert_memory_equal(&g->number, &w->number, sizeof(double));
        if (w->kind == VALUE_STRING) {
            assert_int_equal(g->str_len, w->str_len);
            assert_memory_equal(event_string(got, i), event_string(want, i),
                                w->str_len);
        }
    }
}

/* Every row through the prefetcher against the same text read directly:
 * the same events in the same order, the same bad rows, then the end;
 * on the reader thread or, threaded 0, on the caller's; with look_ahead,
 * next() asking for the lines of a slot further on as it hands one out. */
static void check_matches_direct_reading(struct fixture *fx, int threaded,
                                         int look_ahead)
{
    struct csv_reader *direct, *ahead;
    struct produce_mapping map;
    struct row_prefetch *p = NULL;
    struct event want, *got;
    size_t row = 0, bad = 0, good = 0, peeked = 0;
    char why[ERRSTR_SIZE];
    int err;

    make_rows(fx, MANY_ROWS);
    direct = open_text(fx);
    ahead = open_text(fx);
    assert_int_equal(produce_map_columns(fx->cfg, fx->adult, direct, &map,
                                         fx->errstr, sizeof(fx->errstr)),
                     0);
    assert_int_equal(row_prefetch_start(fx->cfg, fx->adult, &map, ahead,
                                        "rows.csv", "test", threaded, NULL, &p,
                                        fx->errstr, sizeof(fx->errstr)),
                     0);
    if (look_ahead)
        row_prefetch_look_ahead(p);
    event_init(&want);

    for (;;) {
        int direct_err = csv_reader_next(direct, why, sizeof(why));
        const struct event *ahead = row_prefetch_peek(p);

        err = row_prefetch_next(p, &got, fx->errstr, sizeof(fx->errstr));
        /* A peek shows the row next() then hands out, typed: never on
         * the caller's thread, and not a bad row's empty event. */
        if (ahead) {
            assert_true(threaded);
            assert_int_equal(err, 0);
            assert_ptr_equal(ahead, got);
            peeked++;
        }
        if (direct_err == RIFFLE_ERR_EOF)
            break;
        row++;
        if (direct_err == 0)
            direct_err = produce_row_to_event(fx->cfg, fx->adult, &map,
                                              direct, (long)row, &want, why,
                                              sizeof(why));
        assert_int_equal(err, direct_err);
        if (err == RIFFLE_ERR_PARSE) {
            assert_null(got);
            bad++;
            continue;
        }
        assert_non_null(got);
        assert_same_event(&want, got, row);
        good++;
    }

    assert_int_equal(err, RIFFLE_ERR_EOF);
    assert_string_equal(fx->errstr, "");
    assert_int_equal(row, MANY_ROWS);
    assert_int_equal(bad, MANY_ROWS / BAD_ROW_EVERY + 1); /* + row 500 */
    assert_int_equal(good, MANY_ROWS - bad);
    /* Rows come over in chunks: within one the next can be looked at. */
    if (threaded)
        assert_true(peeked > 0);
    /* The end stays the end. */
    assert_int_equal(row_prefetch_next(p, &got, fx->errstr,
                                       sizeof(fx->errstr)),
                     RIFFLE_ERR_EOF);
    assert_double_near(row_prefetch_fraction(p), -1.0, 0.0);

    row_prefetch_stop(p);
    event_free(&want);
    csv_reader_close(direct);
    csv_reader_close(ahead);
}

static void test_row_prefetch_matches_direct_reading(void **state)
{
    check_matches_direct_reading(*state, 1, 0);
}

/* As train runs it over a table it looks ahead in. */
static void test_row_prefetch_look_ahead_matches_direct_reading(void **state)
{
    check_matches_direct_reading(*state, 1, 1);
}

/* For a pipe, train reads on its own thread through the same calls. */
static void test_row_prefetch_unthreaded_matches_direct_reading(void **state)
{
    check_matches_direct_reading(*state, 0, 1);
}

/* The event ids are made from the row numbers, bad rows included. */
static void test_row_prefetch_numbers_rows_like_produce(void **state)
{
    struct fixture *fx = *state;
    struct csv_reader *csv;
    struct produce_mapping map;
    struct row_prefetch *p;
    struct event *ev;
    int id = schema_field_index(fx->adult, "event_id");
    size_t i;

    assert_true(id >= 0);
    make_rows(fx, BAD_ROW_EVERY + 1);
    csv = open_text(fx);
    p = start_threaded(fx, csv, &map);
    for (i = 1; i < BAD_ROW_EVERY; i++)
        assert_int_equal(row_prefetch_next(p, &ev, fx->errstr,
                                           sizeof(fx->errstr)),
                         0);
    assert_string_equal(event_string(ev, (size_t)id), "adult-96");
    assert_int_equal(row_prefetch_next(p, &ev, fx->errstr,
                                       sizeof(fx->errstr)),
                     RIFFLE_ERR_PARSE);
    assert_int_equal(row_prefetch_next(p, &ev, fx->errstr,
                                       sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(ev, (size_t)id), "adult-98");

    row_prefetch_stop(p);
    csv_reader_close(csv);
}

/* A consumer that stops early (train on SIGINT) while the reader waits
 * for room in a full ring: stop wakes it and returns. */
static void test_row_prefetch_stops_while_reader_waits(void **state)
{
    struct fixture *fx = *state;
    struct csv_reader *csv;
    struct produce_mapping map;
    struct row_prefetch *p;
    struct event *ev;

    make_rows(fx, MANY_ROWS);
    csv = open_text(fx);
    p = start_threaded(fx, csv, &map);
    assert_int_equal(row_prefetch_next(p, &ev, fx->errstr,
                                       sizeof(fx->errstr)),
                     0);
    row_prefetch_stop(p);

    /* The reader is the caller's again, past the rows it read ahead. */
    assert_true(csv_reader_line(csv) > 1);
    csv_reader_close(csv);
}

/* An empty file ends at once, with no error text. */
static void test_row_prefetch_empty_file_ends(void **state)
{
    struct fixture *fx = *state;
    struct csv_reader *csv;
    struct produce_mapping map;
    struct row_prefetch *p;
    struct event *ev;

    make_rows(fx, 0);
    csv = open_text(fx);
    p = start_threaded(fx, csv, &map);
    strcpy(fx->errstr, "unchanged?");
    assert_int_equal(row_prefetch_next(p, &ev, fx->errstr,
                                       sizeof(fx->errstr)),
                     RIFFLE_ERR_EOF);
    assert_null(ev);
    assert_string_equal(fx->errstr, "");

    row_prefetch_stop(p);
    csv_reader_close(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_row_prefetch_matches_direct_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_row_prefetch_look_ahead_matches_direct_reading, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_row_prefetch_unthreaded_matches_direct_reading, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_row_prefetch_numbers_rows_like_produce, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_row_prefetch_stops_while_reader_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_prefetch_empty_file_ends,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
