/*
 * producers/produce.h - streams a CSV file into the input topic.
 *
 * Each row is mapped onto the input schema by column name (the header, or
 * source.columns for headerless files), validated against the field
 * types, given an event id (source.id_prefix and the row number), encoded
 * as a single-object Avro message and produced keyed by that id. A row
 * that does not fit is reported with its file and line and skipped, or
 * stops the run, as source.on_bad_row says. Runs on the calling thread.
 */
#ifndef RIFFLE_PRODUCERS_PRODUCE_H
#define RIFFLE_PRODUCERS_PRODUCE_H

#include <signal.h>
#include <stddef.h>

#include "config/cfg.h"
#include "producers/csv_reader.h"
#include "schemas/event.h"
#include "schemas/schema.h"

#define PRODUCE_UNMAPPED (-1)

/* Which CSV column feeds each schema field (PRODUCE_UNMAPPED for the id,
 * which is generated, and for fields no column names). */
struct produce_mapping {
    int column[EVENT_MAX_FIELDS];
    int id_field; /* schema index of the generated event id */
    size_t columns_expected;
    /* Looked up once here rather than for every field of every row. */
    enum schema_field_type type[EVENT_MAX_FIELDS];
    unsigned char nullable[EVENT_MAX_FIELDS];
    /* 1 for each byte a missing token starts with, and for the NUL of
     * an empty field: a byte, not a bit, so the test a field costs is
     * one load. */
    unsigned char missing_first[256];
    /* The fields a column feeds, the id's left out, in schema order:
     * a row walks these instead of testing every field for the id and
     * for a column. */
    struct produce_step {
        unsigned short field, column;
        unsigned char type; /* enum schema_field_type */
        unsigned char nullable;
    } step[EVENT_MAX_FIELDS];
    size_t step_count;
    /* The columns of fields with a privacy rule (personal, or the id's
     * when it is pseudonymized), and the field each feeds: their bytes
     * are wiped once the row is typed (produce_row_to_event()). */
    unsigned short personal_column[EVENT_MAX_FIELDS];
    unsigned short personal_field[EVENT_MAX_FIELDS];
    size_t personal_count;
};

/* Builds the mapping. Returns 0 or RIFFLE_ERR_CFG with errstr (a schema
 * field without a column that is not nullable, an unknown column). */
int produce_map_columns(const struct cfg *cfg, const struct schema *schema,
                        const struct csv_reader *csv,
                        struct produce_mapping *map, char *errstr,
                        size_t errstr_size);

/* Whether a column of the file feeds the id field. riffle does not read
 * that column: every event id is made from source.id_prefix and the row
 * number, so that a file and the topic name each row alike. Returns 1
 * with a warning in note naming the column and the ids made instead
 * (never a value), or 0. Call after produce_map_columns(). */
int produce_id_column_note(const struct cfg *cfg,
                           const struct produce_mapping *map,
                           const struct csv_reader *csv, char *note,
                           size_t note_size);

/* Fills ev from the reader's current row. row_number makes the event id.
 * Returns 0, or RIFFLE_ERR_PARSE with errstr "field 'x': expected ..."
 * (never quoting the value, which may be personal). */
int produce_row_to_event(const struct cfg *cfg, const struct schema *schema,
                         const struct produce_mapping *map,
                         struct csv_reader *csv, long row_number,
                         struct event *ev, char *errstr, size_t errstr_size);

struct produce_options {
    const char *path;      /* overrides source.path when set */
    double rate;           /* events per second; 0 = as fast as possible */
    long long limit;       /* stop after this many rows; 0 = all */
    int progress;          /* 1 = progress bar on a terminal */
    const volatile sig_atomic_t *stop; /* stop when *stop; may be NULL */
    int requests;          /* 1 = unlabelled requests for `riffle serve`:
                              to serve.requests, the label sent as null */
    int without_labels;    /* 1 = to topics.input, the label sent as null:
                              its label comes later (labels = {...}) */
};

struct produce_stats {
    long long rows;
    long long produced;
    long long bad_rows;
};

/* Runs the whole file through. Returns 0 or an error with errstr set;
 * stats are filled either way. */
int produce_run(const struct cfg *cfg, const struct produce_options *opt,
                struct produce_stats *stats, char *errstr,
                size_t errstr_size);

#endif
