/*
 * producers/produce_labels.c - a labels file into labels.topic, see
 * produce_labels.h.
 */
#include "producers/produce_labels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "producers/csv_reader.h"
#include "producers/publisher.h"
#include "schemas/schema.h"

#define LABELS_FLUSH_TIMEOUT_MS 120000 /* acks at the end of the file */
#define LABELS_MAX_TIMESTAMP_MS 1e15   /* year 33658: surely a mistake */

static int check_config(const struct cfg *cfg, const struct produce_options *o,
                        char *errstr, size_t size)
{
    if (!cfg->labels.line)
        return cfg_error(cfg, 0, "labels", errstr, size, "--labels needs a "
                         "labels group naming the labels topic");
    if (cfg->labels.format != CFG_LABEL_FORMAT_TEXT)
        return cfg_error(cfg, cfg->labels.line, "labels.format", errstr,
                         size, "--labels sends text labels: set format = "
                         "\"text\"");
    if (!o->path) {
        snprintf(errstr, size, "--labels needs the labels file");
        return RIFFLE_ERR_CFG;
    }
    return 0;
}

/* Whether field i of the line is UTF-8 text; else why says from which
 * byte it is not, counted from 1 as produce counts a CSV field's,
 * quoting none of it (an id may be personal). */
static int field_utf8(const struct csv_reader *csv, size_t i,
                      const char *what, char *why, size_t size)
{
    size_t len = csv_reader_field_len(csv, i);
    size_t bad = schema_find_bad_utf8(csv_reader_field(csv, i), len);

    if (bad >= len)
        return 1;
    snprintf(why, size, "%s: found bytes that are not UTF-8 from byte %zu "
             "of the value, expected UTF-8 text", what, bad + 1);
    return 0;
}

/* Checks the current line: 2 or 3 fields, a non-empty id and label in
 * UTF-8 (the learner refuses other text, where the file's line is no
 * longer known), and a timestamp that is a whole number of ms. why gets
 * what is wrong. */
static int read_line(const struct csv_reader *csv, int64_t *ts_ms,
                     char *why, size_t size)
{
    size_t n = csv_reader_field_count(csv);
    double ts = 0;

    if (n < 2 || n > 3) {
        snprintf(why, size, "%zu fields; expected event_id,label"
                 "[,timestamp_ms]", n);
        return RIFFLE_ERR_PARSE;
    }
    if (csv_reader_field_len(csv, 0) == 0 ||
        csv_reader_field_len(csv, 1) == 0) {
        snprintf(why, size, "empty %s", csv_reader_field_len(csv, 0) == 0
                                            ? "event id" : "label");
        return RIFFLE_ERR_PARSE;
    }
    if (!field_utf8(csv, 0, "event id", why, size) ||
        !field_utf8(csv, 1, "label", why, size))
        return RIFFLE_ERR_PARSE;
    if (n == 3 && (csv_parse_number(csv_reader_field(csv, 2), &ts) != 0 ||
                   ts < 1 || ts > LABELS_MAX_TIMESTAMP_MS ||
                   ts != floor(ts))) {
        snprintf(why, size, "timestamp_ms: expected milliseconds since "
                 "1970, a whole number from 1 to %.0f",
                 LABELS_MAX_TIMESTAMP_MS);
        return RIFFLE_ERR_PARSE;
    }
    *ts_ms = (int64_t)ts;
    return 0;
}

/* Sleeps as needed so that sent / elapsed stays at or below rate. */
static void throttle(double rate, double started, long long sent)
{
    double ahead = (double)sent / rate - (kafka_monotonic_s() - started);

    if (ahead > 0) {
        struct timespec ts = {(time_t)ahead,
                              (long)((ahead - (time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int send_lines(const struct cfg *cfg, const struct produce_options *o,
                      struct csv_reader *csv, struct publisher *pub,
                      struct produce_stats *st, char *errstr, size_t size)
{
    double started = kafka_monotonic_s();
    char why[512];
    int64_t ts = 0;
    int err = 0;

    while (!err && !(o->stop && *o->stop) &&
           (o->limit == 0 || st->rows < o->limit)) {
        err = csv_reader_next(csv, why, sizeof(why));
        if (err == RIFFLE_ERR_EOF)
            return 0;
        if (err == RIFFLE_ERR_IO) {
            snprintf(errstr, size, "%s", why);
            return err;
        }
        st->rows++;
        if (!err)
            err = read_line(csv, &ts, why, sizeof(why));
        if (err == RIFFLE_ERR_PARSE) {
            log_warn("produce", "%s:%ld: %s", o->path, csv_reader_line(csv),
                     why);
            st->bad_rows++;
            if (cfg->on_bad_row == CFG_BAD_ROW_STOP) {
                snprintf(errstr, size, "stopping at the first bad line "
                         "(source.on_bad_row = \"stop\")");
                return err;
            }
            err = 0;
            continue;
        }
        err = publisher_send_at(pub, cfg->labels.topic,
                                csv_reader_field(csv, 0),
                                csv_reader_field_len(csv, 0),
                                csv_reader_field(csv, 1),
                                csv_reader_field_len(csv, 1), NULL, ts,
                                errstr, size);
        if (err)
            return err;
        st->produced++;
        publisher_poll(pub);
        if (o->rate > 0)
            throttle(o->rate, started, st->produced);
    }
    return err;
}

int produce_labels_run(const struct cfg *cfg, const struct produce_options *o,
                       struct produce_stats *st, char *errstr, size_t size)
{
    struct csv_options co = {',', 0, 0, 0};
    struct csv_reader *csv = NULL;
    struct publisher *pub = NULL;
    int err;

    memset(st, 0, sizeof(*st));
    err = check_config(cfg, o, errstr, size);
    if (!err)
        err = csv_reader_open(o->path, &co, &csv, errstr, size);
    if (!err)
        err = publisher_new(cfg->brokers, "riffle-produce", &pub, errstr,
                            size);
    if (!err)
        err = send_lines(cfg, o, csv, pub, st, errstr, size);
    if (!err)
        err = publisher_flush(pub, LABELS_FLUSH_TIMEOUT_MS, errstr, size);

    publisher_destroy(pub);
    csv_reader_close(csv);
    return err;
}
