/*
 * tests/unit/test_produce.c - CSV rows to events, producers/produce.c.
 *
 * Covers produce_map_columns() and produce_row_to_event() over in-memory
 * CSV (csv_reader_open_memory): header names in their Avro form,
 * source.columns for headerless files, missing tokens, type checks whose
 * messages name the field but never quote the value, the row width and
 * the generated event id. produce_run() needs a broker and is left to
 * the integration tests. Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "producers/produce.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512

/* Adult's header as the UCI files name the columns, with dashes. */
#define ADULT_HEADER                                                   \
    "age,workclass,fnlwgt,education,education-num,marital-status,"     \
    "occupation,relationship,race,sex,capital-gain,capital-loss,"      \
    "hours-per-week,native-country,income\n"
#define ADULT_ROW                                                      \
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, " \
    "Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n"
static const char adult_row[] = ADULT_ROW;

/* A small schema with non-nullable fields besides the id. */
static const char strict_schema[] =
    "{\"type\": \"record\", \"name\": \"S\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"name\", \"type\": \"string\"},"
    "  {\"name\": \"x\", \"type\": \"double\"},"
    "  {\"name\": \"n\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"big\", \"type\": [\"null\", \"long\"]},"
    "  {\"name\": \"flag\", \"type\": [\"null\", \"boolean\"]}"
    "]}";
#define STRICT_HEADER "name,x,n,big,flag\n"

struct fixture {
    struct cfg *cfg;
    struct schema *adult;
    struct schema *strict;
    struct csv_reader *csv;
    struct produce_mapping map;
    struct event ev;
    char errstr[ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char errstr[ERRSTR_SIZE];

    if (!fx)
        return -1;
    *state = fx;
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg ||
        cfg_load_file(fx->cfg, "config/adult.cfg", errstr,
                      sizeof(errstr)) != 0 ||
        schema_load_file(fx->cfg->schema_path, &fx->adult, errstr,
                         sizeof(errstr)) != 0 ||
        schema_load_json(strict_schema, strlen(strict_schema), "strict",
                         &fx->strict, errstr, sizeof(errstr)) != 0) {
        print_error("fixture: %s\n", fx->cfg ? errstr : "out of memory");
        return -1;
    }
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    if (!fx)
        return 0;
    csv_reader_close(fx->csv);
    schema_destroy(fx->adult);
    schema_destroy(fx->strict);
    event_free(&fx->ev);
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Opens text (borrowed: a string literal) and reads its first record. */
static void open_csv(struct fixture *fx, const char *text, int has_header)
{
    struct csv_options opts = {',', 1, 0, has_header};

    csv_reader_close(fx->csv);
    fx->csv = NULL;
    if (csv_reader_open_memory(text, strlen(text), "test.csv", &opts,
                               &fx->csv, fx->errstr,
                               sizeof(fx->errstr)) != 0)
        fail_msg("csv_reader_open_memory: %s", fx->errstr);
}

static void next_row(struct fixture *fx)
{
    if (csv_reader_next(fx->csv, fx->errstr, sizeof(fx->errstr)) != 0)
        fail_msg("csv_reader_next: %s", fx->errstr);
}

/* The adult configuration read as a file with a header line. */
static void use_header(struct fixture *fx)
{
    fx->cfg->column_count = 0;
    fx->cfg->csv_header = 1;
}

static void map(struct fixture *fx, const struct schema *schema)
{
    if (produce_map_columns(fx->cfg, schema, fx->csv, &fx->map, fx->errstr,
                            sizeof(fx->errstr)) != 0)
        fail_msg("produce_map_columns: %s", fx->errstr);
}

/* A header line that produce_map_columns() must refuse; the message
 * is left in fx->errstr for the caller's checks. */
static void map_refused(struct fixture *fx, const struct schema *schema,
                        const char *header)
{
    use_header(fx);
    open_csv(fx, header, 1);
    assert_int_equal(produce_map_columns(fx->cfg, schema, fx->csv, &fx->map,
                                         fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_CFG);
}

/* Strict schema, header line, one data row; returns the row's result. */
static int strict_row(struct fixture *fx, const char *text)
{
    use_header(fx);
    open_csv(fx, text, 1);
    map(fx, fx->strict);
    next_row(fx);
    fx->errstr[0] = '\0';
    return produce_row_to_event(fx->cfg, fx->strict, &fx->map, fx->csv, 1,
                                &fx->ev, fx->errstr, sizeof(fx->errstr));
}

/* The strict row (after STRICT_HEADER) is refused with exactly want. */
static void row_refused(struct fixture *fx, const char *row, const char *want)
{
    char text[256];

    snprintf(text, sizeof(text), "%s%s", STRICT_HEADER, row);
    assert_int_equal(strict_row(fx, text), RIFFLE_ERR_PARSE);
    assert_string_equal(fx->errstr, want);
}

/* Adult schema, no header, one data row; returns the row's result. */
static int adult_row_result(struct fixture *fx, const char *text)
{
    open_csv(fx, text, 0);
    map(fx, fx->adult);
    next_row(fx);
    return produce_row_to_event(fx->cfg, fx->adult, &fx->map, fx->csv, 1,
                                &fx->ev, fx->errstr, sizeof(fx->errstr));
}

/* The same for a row that must make an event: fails the test with
 * produce_row_to_event()'s message if it does not. */
static void adult_row_event(struct fixture *fx, const char *text)
{
    if (adult_row_result(fx, text) != 0)
        fail_msg("produce_row_to_event: %s", fx->errstr);
}

static size_t col(const struct schema *schema, const char *name)
{
    int i = schema_field_index(schema, name);

    assert_true(i >= 0);
    return (size_t)i;
}

static void assert_adult_mapping(const struct fixture *fx)
{
    const struct schema *s = fx->adult;

    assert_int_equal(fx->map.columns_expected, 15);
    assert_int_equal(fx->map.id_field, col(s, "event_id"));
    assert_int_equal(fx->map.column[col(s, "event_id")], PRODUCE_UNMAPPED);
    assert_int_equal(fx->map.column[col(s, "age")], 0);
    assert_int_equal(fx->map.column[col(s, "education_num")], 4);
    assert_int_equal(fx->map.column[col(s, "marital_status")], 5);
    assert_int_equal(fx->map.column[col(s, "hours_per_week")], 12);
    assert_int_equal(fx->map.column[col(s, "native_country")], 13);
    assert_int_equal(fx->map.column[col(s, "income")], 14);
}

/* ---- mapping ------------------------------------------------------- */

static void test_produce_maps_header_names(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;

    use_header(fx);
    open_csv(fx, ADULT_HEADER ADULT_ROW, 1);
    map(fx, s);
    assert_adult_mapping(fx);

    next_row(fx);
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv, 1,
                                          &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_float_equal(fx->ev.values[col(s, "education_num")].number, 13.0,
                       0.0);
}

static void test_produce_maps_headerless_columns(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(fx->cfg->column_count, 15);
    open_csv(fx, adult_row, 0);
    map(fx, fx->adult);
    assert_adult_mapping(fx);
}

static void test_produce_unknown_column_refused(void **state)
{
    struct fixture *fx = *state;

    map_refused(fx, fx->adult, "age,colour\n");
    assert_contains(fx->errstr, "column 2 \"colour\"");
    assert_contains(fx->errstr, "riffle.adult.Event");
    assert_contains(fx->errstr, " (no column feeds \"workclass\", "
                                "\"fnlwgt\", \"education\", ...: ");
}

/* A misspelt header leaves its field unfed, and the error names it; a
 * column of no field at all is told how to be kept. */
static void test_produce_unknown_column_names_unfed_field(void **state)
{
    struct fixture *fx = *state;

    map_refused(fx, fx->adult,
                "age,workclass,fnlwgt,education,educaton-num,"
                "marital-status,occupation,relationship,race,sex,"
                "capital-gain,capital-loss,hours-per-week,native-country,"
                "income\n");
    assert_string_equal(fx->errstr,
                        "test.csv: column 5 \"educaton_num\" is not a "
                        "field of riffle.adult.Event (no column feeds "
                        "\"education_num\": a misspelt header? Or, to leave "
                        "a column unused, give it a nullable field in the "
                        "schema, which riffle ignores unless the "
                        "configuration names it)");

    map_refused(fx, fx->adult,
                "age,workclass,fnlwgt,education,education-num,"
                "marital-status,occupation,relationship,race,sex,"
                "capital-gain,capital-loss,hours-per-week,native-country,"
                "income,notes\n");
    assert_string_equal(fx->errstr,
                        "test.csv: column 16 \"notes\" is not a field of "
                        "riffle.adult.Event (to leave a column unused, give "
                        "it a nullable field in the schema, which riffle "
                        "ignores unless the configuration names it)");
}

/* Schema fields with long names, each unfed by the header below. */
#define LONG_NAME(c) "f" #c "_" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
static const char long_names_schema[] =
    "{\"type\": \"record\", \"name\": \"L\", \"namespace\": \"riffle.test\","
    " \"fields\": [{\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"" LONG_NAME(0) "\", \"type\": \"double\"},"
    "  {\"name\": \"" LONG_NAME(1) "\", \"type\": \"double\"},"
    "  {\"name\": \"" LONG_NAME(2) "\", \"type\": \"double\"},"
    "  {\"name\": \"" LONG_NAME(3) "\", \"type\": \"double\"}]}";
#define HINT_MAX 320 /* producers/produce.c's PRODUCE_HINT_MAX */

/* Unfed fields whose names do not fit the hint cut it short: naming
 * three 118-byte names wrote past the end of the hint's buffer. */
static void test_produce_unknown_column_long_field_names(void **state)
{
    struct fixture *fx = *state;
    struct schema *schema = NULL;
    const char *hint;

    if (schema_load_json(long_names_schema, strlen(long_names_schema),
                         "long", &schema, fx->errstr,
                         sizeof(fx->errstr)) != 0)
        fail_msg("schema: %s", fx->errstr);
    map_refused(fx, schema, "event_id,colour,unknown\n");
    schema_destroy(schema);
    assert_contains(fx->errstr, "test.csv: column 2 \"colour\" is not a "
                                "field of riffle.test.L (no column feeds \""
                                LONG_NAME(0) "\", \"" LONG_NAME(1));
    hint = strstr(fx->errstr, " (no column feeds");
    assert_non_null(hint);
    assert_in_range(strlen(hint), 1, HINT_MAX - 1);
}

/* A header read as one column suggests the wrong separator. */
static void test_produce_one_column_header_hints_delimiter(void **state)
{
    struct fixture *fx = *state;

    map_refused(fx, fx->adult, "age;workclass;fnlwgt\n");
    assert_string_equal(fx->errstr,
                        "test.csv: the header has one column, which is not "
                        "a field of riffle.adult.Event: is "
                        "source.delimiter \",\" the file's separator?");
}

/* A file without a header read as if it had one: its first row names no
 * field, and is data (here personal) that the error must not quote, in
 * any column, whatever the separator made of it. */
static void test_produce_headerless_first_row_not_quoted(void **state)
{
    struct fixture *fx = *state;
    static const char *const rows[] = {
        "Kay Smith,kay@example.test,39,52.5,basic,no\n",
        "kay@example.test\n",
        "kay.smith;39;52.5\n",
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        map_refused(fx, fx->adult, rows[i]);
        assert_lacks(fx->errstr, "Kay");
        assert_lacks(fx->errstr, "kay");
        assert_lacks(fx->errstr, "39");
    }
    map_refused(fx, fx->adult, rows[0]);
    assert_string_equal(fx->errstr,
                        "test.csv: no column of the first line names a "
                        "field of riffle.adult.Event: is it a file without "
                        "a header? Then set source.header = false and list "
                        "source.columns (the line is not quoted: it may be "
                        "data)");
}

static void test_produce_required_field_without_column(void **state)
{
    struct fixture *fx = *state;

    map_refused(fx, fx->strict, "name,n\n"); /* x is not nullable */
    assert_contains(fx->errstr, "required field \"x\"");
}

/* ---- rows ---------------------------------------------------------- */

/* Once a row is typed, its personal fields' bytes are gone from the
 * reader's record; from the event's copy too for a number, while a
 * string the event keeps (for the anonymizer, which wipes it after its
 * action) stays, and so do the event's other fields. */
static void test_produce_row_wipes_personal_bytes(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;

    /* config/adult.cfg pseudonymizes native_country; capital_gain gets
     * noise here (cast: the test changes the loaded configuration). */
    ((struct cfg_field *)cfg_find_field(fx->cfg, "capital_gain"))->privacy =
        CFG_PRIVACY_NOISE;
    adult_row_event(fx, adult_row);

    assert_true(fx->ev.values[col(s, "capital_gain")].number == 2174.0);
    assert_false(csv_reader_memory_holds(fx->csv, "2174", 4));
    assert_false(csv_reader_memory_holds(fx->csv, "United-States", 13));
    assert_false(buf_memory_holds(&fx->ev.arena, "2174", 4));
    assert_string_equal(event_string(&fx->ev, col(s, "native_country")),
                        "United-States");
    /* The check can fail: a plain number's bytes stay in the event's
     * copy (the reader's record is wiped whole). */
    assert_true(buf_memory_holds(&fx->ev.arena, "77516", 5));
    assert_false(csv_reader_memory_holds(fx->csv, "77516", 5));
}

/* A row refused after a personal string was typed: no anonymizer will
 * act on that event, so the string's bytes go from the event's copy of
 * the row too, not only from the reader's record. */
static void test_produce_refused_row_wipes_personal_string(void **state)
{
    struct fixture *fx = *state;

    /* Cast: the test changes the loaded configuration. */
    ((struct cfg_field *)cfg_find_field(fx->cfg, "workclass"))->privacy =
        CFG_PRIVACY_PSEUDONYM;
    assert_int_equal(adult_row_result(fx, "39, Acme-Secret-Ltd, 77516, "
                                      "Bachelors, 13, Never-married, "
                                      "Adm-clerical, Not-in-family, White, "
                                      "Male, 2174, many, 40, United-States, "
                                      "<=50K\n"),
                     RIFFLE_ERR_PARSE);

    assert_false(csv_reader_memory_holds(fx->csv, "Acme-Secret-Ltd", 15));
    assert_false(buf_memory_holds(&fx->ev.arena, "Acme-Secret-Ltd", 15));
    /* The check can fail: a field that is not personal stays. */
    assert_true(buf_memory_holds(&fx->ev.arena, "Bachelors", 9));
}

static void test_produce_row_values(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;
    struct buf out = {0};

    adult_row_event(fx, adult_row);

    assert_int_equal(fx->ev.field_count, schema_field_count(s));
    assert_int_equal(fx->ev.values[col(s, "age")].kind, VALUE_NUMBER);
    assert_float_equal(fx->ev.values[col(s, "age")].number, 39.0, 0.0);
    assert_float_equal(fx->ev.values[col(s, "fnlwgt")].number, 77516.0, 0.0);
    assert_float_equal(fx->ev.values[col(s, "education_num")].number, 13.0,
                       0.0);
    assert_float_equal(fx->ev.values[col(s, "capital_gain")].number, 2174.0,
                       0.0);
    assert_string_equal(event_string(&fx->ev, col(s, "workclass")),
                        "State-gov");
    assert_string_equal(event_string(&fx->ev, col(s, "native_country")),
                        "United-States");
    assert_string_equal(event_string(&fx->ev, col(s, "income")), "<=50K");

    /* The event fits the schema's encoder. */
    assert_int_equal(schema_encode_event(s, &fx->ev, &out, fx->errstr,
                                         sizeof(fx->errstr)),
                     0);
    buf_free(&out);
}

/* Columns in another order than the schema's fields, and nullable
 * fields no column feeds: each field gets its own column's value, the
 * fields without one stay null (also after an event that had them), and
 * the id is the row's. */
static void test_produce_columns_out_of_schema_order(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->strict;

    use_header(fx);
    open_csv(fx, "n,big,x,name\n7,8,1.5,ann\n", 1);
    map(fx, s);
    next_row(fx);
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv, 3,
                                          &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_float_equal(fx->ev.values[col(s, "n")].number, 7.0, 0.0);

    open_csv(fx, "flag,x,name\n1,2.5,bob\n", 1);
    map(fx, s);
    assert_int_equal(fx->map.step_count, 3);
    next_row(fx);
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv, 4,
                                          &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(&fx->ev, col(s, "event_id")),
                        "adult-4");
    assert_string_equal(event_string(&fx->ev, col(s, "name")), "bob");
    assert_float_equal(fx->ev.values[col(s, "x")].number, 2.5, 0.0);
    assert_float_equal(fx->ev.values[col(s, "flag")].number, 1.0, 0.0);
    assert_int_equal(fx->ev.values[col(s, "n")].kind, VALUE_NULL);
    assert_int_equal(fx->ev.values[col(s, "big")].kind, VALUE_NULL);
}

/* Reads the fixture's row as row number row; its id must be want. */
static void expect_event_id(struct fixture *fx, long row, const char *want)
{
    size_t id = (size_t)col(fx->adult, "event_id");

    assert_int_equal(produce_row_to_event(fx->cfg, fx->adult, &fx->map,
                                          fx->csv, row, &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(&fx->ev, id), want);
    assert_int_equal(fx->ev.values[id].str_len, strlen(want));
}

static void test_produce_event_id(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;

    open_csv(fx, adult_row, 0);
    map(fx, s);
    next_row(fx);
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv, 42,
                                          &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(&fx->ev, col(s, "event_id")),
                        "adult-42");

    snprintf(fx->cfg->id_prefix, sizeof(fx->cfg->id_prefix), "run7");
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv,
                                          123456789L, &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(&fx->ev, col(s, "event_id")),
                        "run7-123456789");

    /* Every count of digits, the sign, and the string's length. */
    expect_event_id(fx, 0, "run7-0");
    expect_event_id(fx, 9, "run7-9");
    expect_event_id(fx, 10, "run7-10");
    expect_event_id(fx, 99, "run7-99");
    expect_event_id(fx, 100, "run7-100");
    expect_event_id(fx, 1005, "run7-1005");
    expect_event_id(fx, 32561, "run7-32561");
    expect_event_id(fx, 99999, "run7-99999");
    expect_event_id(fx, 1000000, "run7-1000000");
    expect_event_id(fx, LONG_MAX, "run7-9223372036854775807");
    expect_event_id(fx, -7, "run7--7");
    expect_event_id(fx, LONG_MIN, "run7--9223372036854775808");
}

/* A file with its own id column: the ids are still made from the row
 * number, and the warning names the column, the ids made instead and
 * none of the column's values. A file without one gets no warning. */
static void test_produce_id_column_is_named(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;
    char note[512];

    use_header(fx);
    open_csv(fx, "age,event-id,income\n39,cust-777,<=50K\n", 1);
    map(fx, s);
    assert_int_equal(produce_id_column_note(fx->cfg, &fx->map, fx->csv, note,
                                            sizeof(note)),
                     1);
    assert_contains(note, "test.csv: column 2 \"event-id\" feeds the id");
    assert_contains(note, "(adult-<row number>, source.id_prefix)");
    assert_contains(note, "--id-prefix adult");
    assert_null(strstr(note, "cust-777"));
    next_row(fx);
    assert_int_equal(produce_row_to_event(fx->cfg, s, &fx->map, fx->csv, 2,
                                          &fx->ev, fx->errstr,
                                          sizeof(fx->errstr)),
                     0);
    assert_string_equal(event_string(&fx->ev, col(s, "event_id")),
                        "adult-2");

    open_csv(fx, "age,income\n", 1);
    map(fx, s);
    note[0] = '\0';
    assert_int_equal(produce_id_column_note(fx->cfg, &fx->map, fx->csv, note,
                                            sizeof(note)),
                     0);
    assert_string_equal(note, "");
}

static void test_produce_missing_token_is_null(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;

    adult_row_event(fx, "39, ?, 77516, Bachelors, 13, Never-married, ?, "
                        "Not-in-family, White, Male, , 0, 40, ?, <=50K\n");
    assert_int_equal(fx->ev.values[col(s, "workclass")].kind, VALUE_NULL);
    assert_int_equal(fx->ev.values[col(s, "occupation")].kind, VALUE_NULL);
    assert_int_equal(fx->ev.values[col(s, "native_country")].kind,
                     VALUE_NULL);
    /* An empty field is missing too. */
    assert_int_equal(fx->ev.values[col(s, "capital_gain")].kind, VALUE_NULL);
    assert_int_equal(fx->ev.values[col(s, "capital_loss")].kind,
                     VALUE_NUMBER);
}

/* A value that starts as a missing token does ("?" here) but goes on is
 * a value: the first byte only picks the fields worth comparing. */
static void test_produce_token_prefix_is_not_missing(void **state)
{
    struct fixture *fx = *state;
    const struct schema *s = fx->adult;

    adult_row_event(fx, "39, ?x, 77516, Bachelors, 13, Never-married, ??, "
                        "Not-in-family, White, Male, 0, 0, 40, ?, <=50K\n");
    assert_string_equal(event_string(&fx->ev, col(s, "workclass")), "?x");
    assert_string_equal(event_string(&fx->ev, col(s, "occupation")), "??");
    assert_int_equal(fx->ev.values[col(s, "native_country")].kind,
                     VALUE_NULL);
}

static void test_produce_empty_in_non_nullable_refused(void **state)
{
    struct fixture *fx = *state;

    row_refused(fx, ",1.5,3,4,1\n",
                "column 1, field 'name': found a "
                "missing value (empty or a missing "
                "token), expected a value: the schema "
                "does not allow null");

    assert_int_equal(strict_row(fx, STRICT_HEADER "bob,?,3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_contains(fx->errstr, "field 'x'");
}

/* A refusal names the column and field, says what was found and what
 * was expected, and never quotes the value (it may be personal). */
static void test_produce_non_number_refused_without_value(void **state)
{
    struct fixture *fx = *state;

    row_refused(fx, "bob,0.5x7q,3,4,1\n",
                "column 2, field 'x': found text that "
                "begins like a number, expected a "
                "number");

    row_refused(fx, "bob,abc,3,4,1\n",
                "column 2, field 'x': found text, "
                "expected a number");

    row_refused(fx, "bob,1e999,3,4,1\n",
                "column 2, field 'x': found a number "
                "beyond the range of a double, expected "
                "a finite number");
    row_refused(fx, "bob,nan,3,4,1\n",
                "column 2, field 'x': found NaN, "
                "expected a finite number");
    assert_int_equal(strict_row(fx, STRICT_HEADER "bob,\"1,5\",3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_contains(fx->errstr, "found a number with a decimal comma");
}

static void test_produce_fraction_in_int_refused(void **state)
{
    struct fixture *fx = *state;

    row_refused(fx, "bob,1,1.5,4,1\n",
                "column 3, field 'n': found a number "
                "with a fraction, expected an integer "
                "of 32 bits");

    row_refused(fx, "bob,1,2147483648,4,1\n",
                "column 3, field 'n': found an integer "
                "beyond 32 bits, expected an integer of "
                "32 bits");

    assert_int_equal(strict_row(fx, STRICT_HEADER "bob,1,-2147483648,4,1\n"),
                     0);
    assert_float_equal(fx->ev.values[col(fx->strict, "n")].number,
                       -2147483648.0, 0.0);

    row_refused(fx, "bob,1,3,0.25,1\n",
                "column 4, field 'big': found a number "
                "with a fraction, expected an integer");
}

static void test_produce_boolean_must_be_0_or_1(void **state)
{
    struct fixture *fx = *state;

    row_refused(fx, "bob,1,3,4,2\n",
                "column 5, field 'flag': found a number "
                "other than 0 or 1, expected 0 or 1");
    row_refused(fx, "bob,1,3,4,yes\n",
                "column 5, field 'flag': found text, "
                "expected 0 or 1");
    assert_int_equal(strict_row(fx, STRICT_HEADER "bob,1,3,4,0\n"), 0);
    assert_float_equal(fx->ev.values[col(fx->strict, "flag")].number, 0.0,
                       0.0);
}

/* A string that is not UTF-8 cannot be an Avro string: the row is a bad
 * row with its field named (as any other), not an encoder failure that
 * stopped `produce` without a line, while `train` learned the bytes. */
static void test_produce_invalid_utf8_refused_without_value(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(strict_row(fx, STRICT_HEADER "b\xff\xfe" "b,1,3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_string_equal(fx->errstr, "column 1, field 'name': found bytes "
                                    "that are not UTF-8 from byte 2 of the "
                                    "value, expected UTF-8 text");

    /* An overlong '(' and a lone surrogate are not UTF-8 either. */
    assert_int_equal(strict_row(fx, STRICT_HEADER "\xc0\xa8,1,3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_contains(fx->errstr, "not UTF-8 from byte 1 of");
    assert_int_equal(strict_row(fx, STRICT_HEADER "ab\xed\xa0\x80,1,3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_contains(fx->errstr, "not UTF-8 from byte 3 of");

    /* A quoted field, which the reader's byte-wise parser reads, is
     * checked too. */
    assert_int_equal(strict_row(fx, STRICT_HEADER "\"b\xff\",1,3,4,1\n"),
                     RIFFLE_ERR_PARSE);
    assert_contains(fx->errstr, "not UTF-8 from byte 2 of");

    /* Valid multi-byte text passes as it is. */
    assert_int_equal(strict_row(fx, STRICT_HEADER "Z\xc3\xbcrich,1,3,4,1\n"),
                     0);
    assert_int_equal(fx->ev.values[col(fx->strict, "name")].str_len, 7);
}

static void test_produce_wrong_field_count_refused(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(adult_row_result(fx, "39, State-gov, 77516, Bachelors, "
                                          "13, Never-married, Adm-clerical, "
                                          "Not-in-family, White, Male, 2174, "
                                          "0, 40, United-States\n"),
                     RIFFLE_ERR_PARSE);
    assert_string_equal(fx->errstr, "expected 15 fields, found 14");

    row_refused(fx, "bob,1,3,4,1,extra\n",
                "expected 5 fields, found 6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_produce_maps_header_names),
        T(test_produce_maps_headerless_columns),
        T(test_produce_unknown_column_refused),
        T(test_produce_unknown_column_names_unfed_field),
        T(test_produce_unknown_column_long_field_names),
        T(test_produce_one_column_header_hints_delimiter),
        T(test_produce_headerless_first_row_not_quoted),
        T(test_produce_required_field_without_column),
        T(test_produce_row_values),
        T(test_produce_row_wipes_personal_bytes),
        T(test_produce_refused_row_wipes_personal_string),
        T(test_produce_columns_out_of_schema_order),
        T(test_produce_event_id),
        T(test_produce_id_column_is_named),
        T(test_produce_missing_token_is_null),
        T(test_produce_token_prefix_is_not_missing),
        T(test_produce_empty_in_non_nullable_refused),
        T(test_produce_non_number_refused_without_value),
        T(test_produce_fraction_in_int_refused),
        T(test_produce_boolean_must_be_0_or_1),
        T(test_produce_wrong_field_count_refused),
        T(test_produce_invalid_utf8_refused_without_value),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
