/*
 * producers/produce.c - CSV (or an Avro container file) to Avro to the
 * input topic, see produce.h.
 */
#include "producers/produce.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/progress.h"
#include "producers/avro_source.h"
#include "producers/publisher.h"

#define PRODUCE_FLUSH_TIMEOUT_MS 120000 /* acks at the end of the file */
#define PRODUCE_METADATA_TIMEOUT_MS 10000 /* brokers' answer at the start */
#define PRODUCE_HINT_MAX 320 /* bytes of the advice added to a header error */
#define PRODUCE_HINT_FIELDS 3 /* unfed fields named in that advice */

/* Column names are compared in their Avro form: "education-num" in a
 * header matches the field education_num. */
static void avro_name(const char *in, char *out, size_t size)
{
    size_t i;

    for (i = 0; in[i] && i + 1 < size; i++)
        out[i] = isalnum((unsigned char)in[i]) ? in[i] : '_';
    out[i] = '\0';
}

static const char *column_name(const struct cfg *cfg,
                               const struct csv_reader *csv, size_t i)
{
    if (cfg->column_count > 0)
        return i < cfg->column_count ? cfg->columns[i] : NULL;
    return i < csv_reader_header_count(csv) ? csv_reader_header(csv, i)
                                            : NULL;
}

/* Appends to the hint at *len, which stays within size: a schema whose
 * field names are long cuts the hint short, never past its end (the sum
 * of snprintf()'s would-be lengths once ran *len past size, and the next
 * call wrote beyond the buffer). */
static void hint_append(char *hint, size_t size, size_t *len,
                        const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len + 1 >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(hint + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* The advice after "column N is not a field of ...": the schema fields no
 * column feeds (a misspelt header leaves its own field unfed), and how
 * to keep a column that riffle should not use. */
static void unknown_column_hint(const struct cfg *cfg,
                                const struct schema *schema,
                                const struct csv_reader *csv, size_t ncols,
                                int id_field, char *hint, size_t size)
{
    unsigned char fed[EVENT_MAX_FIELDS] = {0};
    char name[CFG_NAME_MAX];
    size_t i, named = 0, len = 0;
    int f;

    for (i = 0; i < ncols; i++) {
        avro_name(column_name(cfg, csv, i), name, sizeof(name));
        f = schema_field_index(schema, name);
        if (f >= 0)
            fed[f] = 1;
    }

    hint_append(hint, size, &len, " (");
    for (i = 0; i < schema_field_count(schema); i++) {
        if (fed[i] || (int)i == id_field)
            continue;
        if (named == PRODUCE_HINT_FIELDS) {
            hint_append(hint, size, &len, ", ...");
            break;
        }
        hint_append(hint, size, &len, "%s\"%s\"",
                    named ? ", " : "no column feeds ",
                    schema_field_name(schema, i));
        named++;
    }
    hint_append(hint, size, &len, "%sto leave a column unused, give it a "
                "nullable field in the schema, which riffle ignores unless "
                "the configuration names it)",
                named ? ": a misspelt header? Or, " : "");
}

/* Whether a column of the file's first line names a schema field: only
 * then is the line surely a header, whose other names may be quoted. */
static int header_names_a_field(const struct schema *schema,
                                const struct csv_reader *csv, size_t ncols)
{
    char name[CFG_NAME_MAX];
    size_t i;

    for (i = 0; i < ncols; i++) {
        avro_name(csv_reader_header(csv, i), name, sizeof(name));
        if (schema_field_index(schema, name) >= 0)
            return 1;
    }
    return 0;
}

/* The error for a first line that names no field: a file without a
 * header read as if it had one, whose first row (a name, an e-mail) must
 * not reach the log, or a header cut by another separator (";" from a
 * spreadsheet) into one column. Nothing of the line is quoted. */
static int header_refused(const struct cfg *cfg, const struct schema *schema,
                          const struct csv_reader *csv, size_t ncols,
                          char *errstr, size_t errstr_size)
{
    if (ncols == 1 && schema_field_count(schema) > 2)
        snprintf(errstr, errstr_size, "%s: the header has one column, "
                 "which is not a field of %s: is source.delimiter \"%c\" "
                 "the file's separator?", csv_reader_name(csv),
                 schema_name(schema), cfg->csv_delimiter);
    else
        snprintf(errstr, errstr_size, "%s: no column of the first line "
                 "names a field of %s: is it a file without a header? Then "
                 "set source.header = false and list source.columns (the "
                 "line is not quoted: it may be data)", csv_reader_name(csv),
                 schema_name(schema));
    return RIFFLE_ERR_CFG;
}

/* The schema index of the configuration's id field, which keys every
 * message, or -1 with errstr set when the schema has no string field of
 * that name. */
static int find_id_field(const struct cfg *cfg, const struct schema *schema,
                         char *errstr, size_t errstr_size)
{
    const char *id_name = cfg_field_of_kind(cfg, CFG_FIELD_ID)->name;
    int id = schema_field_index(schema, id_name);

    if (id < 0 || schema_field_type(schema, (size_t)id) !=
                      SCHEMA_FIELD_STRING) {
        snprintf(errstr, errstr_size, "%s: the id field \"%s\" must be a "
                 "string field of %s", cfg->path, id_name,
                 schema_name(schema));
        return -1;
    }
    return id;
}

int produce_map_columns(const struct cfg *cfg, const struct schema *schema,
                        const struct csv_reader *csv,
                        struct produce_mapping *map, char *errstr,
                        size_t errstr_size)
{
    size_t fields = schema_field_count(schema), i, ncols;
    char name[CFG_NAME_MAX];

    if (schema_field_count(schema) > EVENT_MAX_FIELDS) {
        snprintf(errstr, errstr_size, "%s: schema %s has %zu fields; at "
                 "most %d are supported", cfg->schema_path,
                 schema_name(schema), schema_field_count(schema),
                 EVENT_MAX_FIELDS);
        return RIFFLE_ERR_CFG;
    }
    ncols = cfg->column_count ? cfg->column_count
                              : csv_reader_header_count(csv);
    map->columns_expected = ncols;
    map->id_field = find_id_field(cfg, schema, errstr, errstr_size);
    if (map->id_field < 0)
        return RIFFLE_ERR_CFG;
    memset(map->missing_first, 0, sizeof(map->missing_first));
    map->missing_first[0] = 1; /* an empty field is missing */
    for (i = 0; i < cfg->missing_token_count; i++)
        map->missing_first[(unsigned char)cfg->missing_tokens[i][0]] = 1;
    for (i = 0; i < fields; i++) {
        map->column[i] = PRODUCE_UNMAPPED;
        map->type[i] = schema_field_type(schema, i);
        map->nullable[i] = (unsigned char)schema_field_nullable(schema, i);
    }

    if (!cfg->column_count && !header_names_a_field(schema, csv, ncols))
        return header_refused(cfg, schema, csv, ncols, errstr, errstr_size);
    for (i = 0; i < ncols; i++) {
        int f;

        avro_name(column_name(cfg, csv, i), name, sizeof(name));
        f = schema_field_index(schema, name);
        if (f < 0) {
            char hint[PRODUCE_HINT_MAX] = "";

            unknown_column_hint(cfg, schema, csv, ncols, map->id_field,
                                hint, sizeof(hint));
            snprintf(errstr, errstr_size, "%s: column %zu \"%s\" is not a "
                     "field of %s%s", csv_reader_name(csv), i + 1, name,
                     schema_name(schema), hint);
            return RIFFLE_ERR_CFG;
        }
        if (map->column[f] != PRODUCE_UNMAPPED) {
            snprintf(errstr, errstr_size, "%s: columns %d and %zu both feed "
                     "the field \"%s\"", csv_reader_name(csv),
                     map->column[f] + 1, i + 1, name);
            return RIFFLE_ERR_CFG;
        }
        map->column[f] = (int)i;
    }

    map->step_count = 0;
    for (i = 0; i < fields; i++) {
        struct produce_step *st = &map->step[map->step_count];

        if ((int)i == map->id_field || map->column[i] == PRODUCE_UNMAPPED)
            continue;
        st->field = (unsigned short)i;
        st->column = (unsigned short)map->column[i];
        st->type = (unsigned char)map->type[i];
        st->nullable = map->nullable[i];
        map->step_count++;
    }

    map->personal_count = 0;
    for (i = 0; i < fields; i++) {
        const struct cfg_field *f =
            cfg_find_field(cfg, schema_field_name(schema, i));

        if (map->column[i] == PRODUCE_UNMAPPED || !f ||
            f->privacy == CFG_PRIVACY_NONE)
            continue;
        map->personal_column[map->personal_count] =
            (unsigned short)map->column[i];
        map->personal_field[map->personal_count++] = (unsigned short)i;
    }

    for (i = 0; i < fields; i++) {
        if ((int)i == map->id_field || map->column[i] != PRODUCE_UNMAPPED ||
            schema_field_nullable(schema, i))
            continue;
        snprintf(errstr, errstr_size, "%s: no column feeds the required "
                 "field \"%s\" of %s", csv_reader_name(csv),
                 schema_field_name(schema, i), schema_name(schema));
        return RIFFLE_ERR_CFG;
    }
    return 0;
}

int produce_id_column_note(const struct cfg *cfg,
                           const struct produce_mapping *map,
                           const struct csv_reader *csv, char *note,
                           size_t note_size)
{
    int column = map->column[map->id_field];

    if (column == PRODUCE_UNMAPPED)
        return 0;
    snprintf(note, note_size, "%s: column %d \"%s\" feeds the id field, "
             "but riffle makes every event id itself (%s-<row number>, "
             "source.id_prefix): the column's values are not read; ids in "
             "a labels file must be the made ones (scripts/delayed-labels "
             "--id-prefix %s)", csv_reader_name(csv), column + 1,
             column_name(cfg, csv, (size_t)column), cfg->id_prefix,
             cfg->id_prefix);
    return 1;
}

/* Whether s is empty or a missing token. Inline for the common case, a
 * field whose first byte starts no token. */
static inline int is_missing(const struct cfg *cfg,
                             const struct produce_mapping *map,
                             const char *s)
{
    size_t i;

    if (!map->missing_first[(unsigned char)*s])
        return 0;
    if (*s == '\0')
        return 1;
    for (i = 0; i < cfg->missing_token_count; i++)
        if (strcmp(s, cfg->missing_tokens[i]) == 0)
            return 1;
    return 0;
}

/* What a number read for a field of type t is that the type cannot
 * hold, with what the type wants in *expected, or NULL when it fits. An
 * integer is tested with a cast once it is known to be within 2^53,
 * where that is exact (floor() was a call per number). The number itself
 * is never named: a value may be personal. */
static const char *number_fault(enum schema_field_type t, double x,
                                const char **expected)
{
    if (t == SCHEMA_FIELD_INT || t == SCHEMA_FIELD_LONG) {
        *expected = t == SCHEMA_FIELD_INT ? "an integer of 32 bits"
                                          : "an integer";
        if (fabs(x) > 9007199254740992.0) /* 2^53: exact in a double */
            return "a number beyond 2^53, too large to be an exact integer";
        if (x != (double)(long long)x)
            return "a number with a fraction";
        if (t == SCHEMA_FIELD_INT && (x < -2147483648.0 || x > 2147483647.0))
            return "an integer beyond 32 bits";
    }
    if (t == SCHEMA_FIELD_FLOAT && fabs(x) > FLT_MAX) {
        *expected = "a number within float range";
        return "a number beyond float range";
    }
    if (t == SCHEMA_FIELD_BOOLEAN && x != 0 && x != 1) {
        *expected = "0 or 1";
        return "a number other than 0 or 1";
    }
    return NULL;
}

/* Writes "column N, field 'NAME': found FOUND, expected EXPECTED" into
 * errstr: the row's refusal, which its caller prefixes with file and
 * line. Returns RIFFLE_ERR_PARSE. */
static int refuse_value(const struct schema *schema,
                        const struct produce_step *st, const char *found,
                        const char *expected, char *errstr,
                        size_t errstr_size)
{
    snprintf(errstr, errstr_size, "column %zu, field '%s': found %s, "
             "expected %s", (size_t)st->column + 1,
             schema_field_name(schema, st->field), found, expected);
    return RIFFLE_ERR_PARSE;
}

/* Digits a field may have for small_natural(): below 10^7 < 2^24, every
 * value is an exact float as well as an exact double and an integer of
 * 32 bits, so no type but boolean can refuse it. */
#define SMALL_NATURAL_DIGITS 7

/* Whether s (len bytes) is one to SMALL_NATURAL_DIGITS decimal digits,
 * with its value in *x: the double csv_parse_number() reads from them. */
static inline int small_natural(const char *s, size_t len, double *x)
{
    uint32_t m = 0;
    size_t i;

    if (len - 1 >= SMALL_NATURAL_DIGITS) /* 0 wraps: not taken either */
        return 0;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';

        if (d > 9)
            return 0;
        m = m * 10 + d;
    }
    *x = (double)m;
    return 1;
}

/* The field of step st from the CSV column s (len bytes,
 * NUL-terminated), whose bytes are also in the event's arena at at (see
 * produce_row_to_event()); a text value is checked to be UTF-8 when
 * check_utf8 is set. Inline: the loop over a row's fields is its caller's
 * main work. */
static inline int parse_value(const struct schema *schema,
                              const struct produce_step *st, const char *s,
                              size_t len, size_t at, int check_utf8,
                              struct event *ev, char *errstr,
                              size_t errstr_size)
{
    enum schema_field_type t = (enum schema_field_type)st->type;
    const char *expected = NULL, *found = NULL;
    double x;

    if (t == SCHEMA_FIELD_STRING) {
        size_t bad = check_utf8 ? schema_find_bad_utf8(s, len) : len;

        /* Refused here, as a bad row with its line, rather than by the
         * Avro encoder, which would stop the whole run; the value itself
         * is not quoted (it may be personal). */
        if (bad < len) {
            char found_utf8[64];

            snprintf(found_utf8, sizeof(found_utf8), "bytes that are not "
                     "UTF-8 from byte %zu of the value", bad + 1);
            return refuse_value(schema, st, found_utf8, "UTF-8 text", errstr,
                                errstr_size);
        }
        event_set_string_at(ev, st->field, at, len);
        return 0;
    }

    /* The most common number, a few digits ("39", "77516"), read here:
     * no call, and no integer or range test, which it passes. */
    if (t != SCHEMA_FIELD_BOOLEAN && small_natural(s, len, &x)) {
        event_set_number(ev, st->field, x);
        return 0;
    }

    /* What was found is worked out only for a message. */
    if (csv_parse_number_len(s, len, &x) != 0) {
        found = csv_describe_non_number(s, &expected);
        if (t == SCHEMA_FIELD_BOOLEAN)
            expected = "0 or 1";
    } else if (t != SCHEMA_FIELD_DOUBLE) {
        found = number_fault(t, x, &expected);
    }
    if (found)
        return refuse_value(schema, st, found, expected, errstr, errstr_size);

    /* The value an Avro float carries, so a decoded event and this one
     * are the same. */
    event_set_number(ev, st->field,
                     t == SCHEMA_FIELD_FLOAT ? (double)(float)x : x);
    return 0;
}

/* "00" to "99", for writing a number two digits at a time. */
static const char digit_pairs[] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Makes field the event id "prefix-row", written in place in the arena:
 * the digits are counted first and written from the last, two at a
 * time. snprintf's format parse was a tenth of the work of reading a
 * row, and writing a digit at a time on the stack, then copying, still
 * cost about 200 instructions a row. Returns 0, RIFFLE_ERR_NOMEM or
 * RIFFLE_ERR_TOO_BIG (an arena at its limit). */
static int put_event_id(struct event *ev, size_t field, const char *prefix,
                        long row)
{
    unsigned long v = row < 0 ? 0UL - (unsigned long)row : (unsigned long)row;
    size_t len = strnlen(prefix, CFG_NAME_MAX), digits = 1, at;
    unsigned long t;
    char *out;

    for (t = v; t >= 10; t /= 10)
        digits++;
    out = event_write_string(ev, field, len + 1 + (row < 0) + digits);
    if (!out)
        return event_write_failure(ev, len + 1 + (row < 0) + digits);

    memcpy(out, prefix, len);
    out[len++] = '-';
    if (row < 0)
        out[len++] = '-';
    at = len + digits;
    for (; v >= 100; v /= 100) {
        size_t pair = (size_t)(v % 100) * 2;

        out[--at] = digit_pairs[pair + 1];
        out[--at] = digit_pairs[pair];
    }
    if (v >= 10) {
        out[--at] = digit_pairs[v * 2 + 1];
        out[--at] = digit_pairs[v * 2];
    } else {
        out[--at] = (char)('0' + v);
    }
    return 0;
}

/* Wipes the personal columns' bytes of the row just typed into ev (or
 * refused): in the reader's line (csv_reader_wipe_record()), and in the
 * event's copy of it at block where the event does not point at them
 * (a number, a missing value, the id column): a string kept is the
 * anonymizer's to wipe once its action has run. A refused row's event
 * reaches no anonymizer, so its strings are wiped here too. */
static void wipe_personal(const struct produce_mapping *map,
                          struct csv_reader *csv, size_t block,
                          int refused, struct event *ev)
{
    const size_t *starts, *lens;
    size_t k, columns = csv_reader_field_count(csv);

    csv_reader_layout(csv, &starts, &lens);
    for (k = 0; k < map->personal_count && block != (size_t)-1; k++) {
        size_t c = map->personal_column[k];
        const struct value *v = &ev->values[map->personal_field[k]];

        if (c >= columns ||
            (!refused && v->kind == VALUE_STRING &&
             v->str_offset == block + starts[c]))
            continue;
        event_wipe_bytes(ev, block + starts[c], lens[c]);
    }
    csv_reader_wipe_record(csv);
}

static int row_to_event(const struct cfg *cfg, const struct schema *schema,
                        const struct produce_mapping *map,
                        const struct csv_reader *csv, long row_number,
                        struct event *ev, size_t *block, char *errstr,
                        size_t errstr_size)
{
    const char *record;
    const size_t *starts, *lens;
    size_t record_len, k;
    int check_utf8, err;

    if (csv_reader_field_count(csv) != map->columns_expected) {
        snprintf(errstr, errstr_size, "expected %zu fields, found %zu",
                 map->columns_expected, csv_reader_field_count(csv));
        return RIFFLE_ERR_PARSE;
    }

    /* String fields point into one copy of the whole record. */
    event_reset(ev, schema_field_count(schema));
    record = csv_reader_record(csv, &record_len);
    csv_reader_layout(csv, &starts, &lens);
    /* Fields are cut from the record at ASCII bytes, so a record that is
     * all UTF-8 has only UTF-8 fields: one pass per row, not one per
     * field (that was 6% of `riffle train`'s instructions on Adult), and
     * none for a line the reader saw to be ASCII as it copied it. */
    check_utf8 = !csv_reader_record_ascii(csv) &&
                 schema_find_bad_utf8(record, record_len) < record_len;
    err = event_append_block(ev, record, record_len, block);
    if (err == RIFFLE_ERR_TOO_BIG)
        snprintf(errstr, errstr_size, "a record of %zu bytes: over the "
                 "4 GiB an event's strings may take", record_len);
    if (err)
        return err;
    err = put_event_id(ev, (size_t)map->id_field, cfg->id_prefix,
                       row_number);
    if (err)
        return err;

    for (k = 0; k < map->step_count; k++) {
        const struct produce_step *st = &map->step[k];
        size_t c = st->column;
        const char *s = record + starts[c];

        if (is_missing(cfg, map, s)) {
            if (!st->nullable)
                return refuse_value(schema, st, "a missing value (empty or "
                                    "a missing token)", "a value: the "
                                    "schema does not allow null", errstr,
                                    errstr_size);
            continue;
        }
        err = parse_value(schema, st, s, lens[c], *block + starts[c],
                          check_utf8, ev, errstr, errstr_size);
        if (err)
            return err;
    }
    return 0;
}

int produce_row_to_event(const struct cfg *cfg, const struct schema *schema,
                         const struct produce_mapping *map,
                         struct csv_reader *csv, long row_number,
                         struct event *ev, char *errstr, size_t errstr_size)
{
    size_t block = (size_t)-1; /* where the row's copy is in the arena */
    int err = row_to_event(cfg, schema, map, csv, row_number, ev, &block,
                           errstr, errstr_size);

    if (map->personal_count > 0)
        wipe_personal(map, csv, block, err != 0, ev);
    return err;
}

/* --- the run ---------------------------------------------------------- */

/* With --limit the run ends at the limit or the file's end, whichever
 * comes first: the larger of the two fractions. */
static void show_progress(struct progress *p, const struct produce_stats *st,
                          struct csv_reader *csv, long long limit, int final)
{
    double fraction = csv ? csv_reader_fraction(csv) : -1;
    char detail[128];

    if (limit > 0 && (double)st->rows / (double)limit > fraction)
        fraction = (double)st->rows / (double)limit;

    snprintf(detail, sizeof(detail), "%lld produced, %lld bad", st->produced,
             st->bad_rows);
    progress_show(p, st->rows, fraction, detail, final);
}

/* Sleeps as needed so that produced / elapsed stays at or below rate. */
static void throttle(double rate, double started, long long produced)
{
    double ahead = produced / rate - (kafka_monotonic_s() - started);

    if (ahead > 0) {
        struct timespec ts = {(time_t)ahead,
                              (long)((ahead - (time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* Opens the CSV file, or the Avro container file when the name ends in
 * .avro, as train does: its fields are read by name, and its id field,
 * when it has one, gives the event ids. */
static int open_source(const struct cfg *cfg, const struct schema *schema,
                       const struct produce_options *o,
                       struct csv_reader **csv, struct avro_source **avro,
                       char *errstr, size_t size)
{
    struct csv_options co = {cfg->csv_delimiter, cfg->csv_trim,
                             cfg->csv_skip_lines, cfg->csv_header};
    const char *path = cfg_input_path(cfg, o->path, errstr, size);

    if (!path)
        return RIFFLE_ERR_CFG;
    if (avro_source_is_avro(path))
        return avro_source_open(path, cfg, schema, avro, errstr, size);
    return csv_reader_open(path, &co, csv, errstr, size);
}

/* The next row of the CSV file as an event, like next_avro_event(). */
static int next_csv_event(const struct cfg *cfg, const struct schema *schema,
                          const struct produce_options *o,
                          const struct produce_mapping *map,
                          struct csv_reader *csv, struct produce_stats *st,
                          struct event *ev, char *errstr, size_t size)
{
    char why[512];
    int err = csv_reader_next(csv, why, sizeof(why));

    if (err == RIFFLE_ERR_EOF)
        return err;
    if (err == RIFFLE_ERR_IO) {
        snprintf(errstr, size, "%s", why);
        return err;
    }
    st->rows++;
    if (err == RIFFLE_ERR_PARSE) {
        log_warn("produce", "%s", why); /* already "file:line: ..." */
        return err;
    }
    err = produce_row_to_event(cfg, schema, map, csv, st->rows, ev, why,
                               sizeof(why));
    if (err == RIFFLE_ERR_PARSE)
        log_warn("produce", "%s:%ld: %s",
                 o->path ? o->path : cfg->source_path, csv_reader_line(csv),
                 why);
    return err;
}

/* The next record of the Avro container file as an event. Returns 0,
 * RIFFLE_ERR_EOF, RIFFLE_ERR_PARSE for a record that cannot be used
 * (reported; the next one is read), or another error with errstr set
 * (a damaged container stops the run). */
static int next_avro_event(struct avro_source *avro, struct produce_stats *st,
                           struct event *ev, char *errstr, size_t size)
{
    char why[512];
    int err = avro_source_next(avro, ev, why, sizeof(why));

    if (err == RIFFLE_ERR_EOF)
        return err;
    if (err && err != RIFFLE_ERR_DECODE) {
        snprintf(errstr, size, "%s", why);
        return err;
    }
    st->rows++;
    if (err == RIFFLE_ERR_DECODE) {
        log_warn("produce", "%s", why); /* "file: record N: ..." */
        return RIFFLE_ERR_PARSE;
    }
    return 0;
}

/* A container written into while read stops the run (avro_source.h);
 * the events sent before it are flushed, not dropped, and errstr, which
 * names the file, says how many there are. */
static void keep_sent(struct publisher *pub, const struct produce_stats *st,
                      char *errstr, size_t size)
{
    char why[512];
    size_t n = strlen(errstr);

    if (publisher_flush(pub, PRODUCE_FLUSH_TIMEOUT_MS, why, sizeof(why)) != 0)
        snprintf(errstr + n, size - n, "; the %lld event(s) sent before it "
                 "may not all be delivered: %s", st->produced, why);
    else
        snprintf(errstr + n, size - n, "; the %lld event(s) sent before it "
                 "are delivered", st->produced);
}

/* Requests, and events whose label comes later, carry no label: the label
 * field must accept null, and the topic the requests go to, or the one
 * the labels come on, must be configured. */
static int find_nullable_label(const struct cfg *cfg,
                               const struct schema *schema, int requests,
                               int *index, char *errstr, size_t size)
{
    const struct cfg_field *f = cfg_field_of_kind(cfg, CFG_FIELD_LABEL);

    *index = schema_field_index(schema, f->name);
    if (requests && !cfg->serve_requests[0])
        return cfg_error(cfg, cfg->serve_line, "serve.requests", errstr,
                         size, "requests need a serve group with a "
                         "requests topic");
    if (!requests && !cfg->labels.line)
        return cfg_error(cfg, 0, "labels", errstr, size, "--without-labels "
                         "needs a labels group naming the labels topic the "
                         "labels come on: without one, the learner refuses "
                         "every event without its label");
    if (*index < 0 || !schema_field_nullable(schema, (size_t)*index))
        return cfg_error(cfg, f->line, "fields", errstr, size, "the label "
                         "\"%s\" must be nullable in the schema to send "
                         "events without it", f->name);
    return 0;
}

static int produce_rows(const struct cfg *cfg, const struct schema *schema,
                        const struct produce_options *o,
                        struct csv_reader *csv, struct avro_source *avro,
                        struct publisher *pub, struct produce_stats *st,
                        char *errstr, size_t size)
{
    struct produce_mapping map;
    struct progress prog;
    struct event ev;
    struct buf out = {0};
    const char *topic = o->requests ? cfg->serve_requests : cfg->topic_input;
    char why[512];
    int label = -1, id_field, err = 0;

    progress_start(&prog, "produce", "rows", o->progress);
    event_init(&ev);
    if (csv) {
        err = produce_map_columns(cfg, schema, csv, &map, errstr, size);
        if (!err && produce_id_column_note(cfg, &map, csv, why, sizeof(why)))
            log_warn("produce", "%s", why);
        id_field = map.id_field;
    } else {
        /* The container's fields are read by name; the id, which keys
         * each message, must still be one of the schema's strings. */
        id_field = find_id_field(cfg, schema, errstr, size);
        if (id_field < 0)
            err = RIFFLE_ERR_CFG;
    }
    /* The configuration first: without a serve group, the requests
     * topic is "", which the brokers would call invalid. */
    if (!err && (o->requests || o->without_labels))
        err = find_nullable_label(cfg, schema, o->requests, &label, errstr,
                                  size);
    if (!err)
        err = publisher_check_topic(pub, topic, PRODUCE_METADATA_TIMEOUT_MS,
                                    errstr, size);

    while (!err && !(o->stop && *o->stop) &&
           (o->limit == 0 || st->rows < o->limit)) {
        err = csv ? next_csv_event(cfg, schema, o, &map, csv, st, &ev,
                                   errstr, size)
                  : next_avro_event(avro, st, &ev, errstr, size);
        if (err == RIFFLE_ERR_EOF) {
            err = 0;
            break;
        }
        if (err == RIFFLE_ERR_PARSE) {
            st->bad_rows++;
            if (cfg->on_bad_row == CFG_BAD_ROW_STOP) {
                snprintf(errstr, size, "stopping at the first bad row "
                         "(source.on_bad_row = \"stop\")");
                break;
            }
            err = 0;
            continue;
        }
        if (err)
            break;

        buf_reset(&out);
        if (label >= 0)
            event_set_null(&ev, (size_t)label);
        err = schema_encode_event(schema, &ev, &out, errstr, size);
        if (!err)
            err = publisher_send(pub, topic,
                                 event_string(&ev, (size_t)id_field),
                                 ev.values[id_field].str_len, out.data,
                                 out.len, NULL, errstr, size);
        if (err)
            break;
        st->produced++;
        publisher_poll(pub);
        if (o->rate > 0)
            throttle(o->rate, prog.started, st->produced);
        show_progress(&prog, st, csv, o->limit, 0);
    }

    if (!err)
        err = publisher_flush(pub, PRODUCE_FLUSH_TIMEOUT_MS, errstr, size);
    else if (avro && avro_source_changed(avro))
        keep_sent(pub, st, errstr, size);
    show_progress(&prog, st, csv, o->limit, 1);
    event_free(&ev);
    buf_free(&out);
    return err;
}

int produce_run(const struct cfg *cfg, const struct produce_options *o,
                struct produce_stats *st, char *errstr, size_t size)
{
    struct schema *schema = NULL;
    struct csv_reader *csv = NULL;
    struct avro_source *avro = NULL;
    struct publisher *pub = NULL;
    int err;

    memset(st, 0, sizeof(*st));
    err = schema_load_file(cfg->schema_path, &schema, errstr, size);
    if (err)
        cfg_schema_error(cfg, errstr, size); /* where it is set */
    if (!err)
        err = open_source(cfg, schema, o, &csv, &avro, errstr, size);
    if (!err)
        err = publisher_new(cfg->brokers, "riffle-produce", &pub, errstr,
                            size);
    if (!err)
        err = produce_rows(cfg, schema, o, csv, avro, pub, st, errstr, size);

    publisher_destroy(pub);
    avro_source_close(avro);
    csv_reader_close(csv);
    schema_destroy(schema);
    return err;
}
