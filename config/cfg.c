/*
 * config/cfg.c - strict libconfig loader for struct cfg, see cfg.h.
 *
 * Every group is checked against the list of keys it may hold, so a typo
 * is an error at start-up rather than a setting silently ignored. Errors
 * name the file, the line libconfig recorded for the setting (or for its
 * group, when the setting is missing) and the dotted key.
 */
#include "config/cfg.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleaning/dedup.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/spelling.h"
#include "config/cfg_literals.h"
#include "learner/drift.h"
#include "learner/hash.h"

#define CFG_MESSAGE_MAX 512 /* bytes of one error's explanation */
#define CFG_KEY_MAX 256     /* bytes of a dotted key, "fields[12].min" */
#define CFG_SECTION_MAX 64  /* bytes of a section name, "fields[12]" */
#define CFG_DELIMITER_MAX 8 /* bytes read for source.delimiter: enough to
                               tell one character from several */

/* Ranges of settings. Limits with no deeper reason are set far past any
 * sensible value, so that only a typo meets them. */
#define CFG_MAX_PARTITIONS 1024    /* topics.partitions */
#define CFG_MAX_REPLICATION 16     /* topics.replication_factor */
#define CFG_MAX_SKIP_LINES 1000000 /* source.skip_lines */
#define CFG_MAX_FIELD_LENGTH (1L << 20) /* fields[].max_length: a CSV
                                           record is at most 1 MiB */
#define CFG_NUMBER_LIMIT 1e300     /* impute_value, min, max, band: any
                                      finite number short of overflow */
#define CFG_MAX_EVERY_EVENTS (1L << 40) /* snapshot, log, metrics cadence */
#define CFG_MIN_DRIFT_PARAM 1e-12  /* drift.delta and drift.lambda */
#define CFG_MAX_DRIFT_DELTA 1.0
#define CFG_MAX_DRIFT_LAMBDA 1e12
#define CFG_MIN_SNAPSHOT_SECONDS 0.1
#define CFG_MAX_SNAPSHOT_SECONDS (86400.0 * 365) /* a year */
/* Outlier rules: the usual k of each rule when none is given, and how
 * many values a field must have shown before any rule applies, so that
 * the first few values of a stream are not judged by each other. */
#define CFG_DEFAULT_ZSCORE_K 3.0
#define CFG_DEFAULT_MAD_K 3.5 /* Iglewicz and Hoaglin's modified z-score */
#define CFG_DEFAULT_IQR_K 1.5 /* Tukey's fences */
#define CFG_DEFAULT_OUTLIER_WARMUP 100
#define CFG_MAX_OUTLIER_K 1e6
#define CFG_MAX_OUTLIER_WARMUP (1L << 40)
#define CFG_MAX_LATENESS_SECONDS (86400.0 * 3650) /* ten years */
#define CFG_DEFAULT_JOIN_WINDOW_S 86400.0 /* a profile a day old still fits */
#define CFG_DEFAULT_JOIN_KEYS 100000
#define CFG_MAX_JOIN_KEYS (1L << 24)
#define CFG_DEFAULT_LABEL_TTL_S 3600.0 /* an hour of event time */
#define CFG_DEFAULT_LABEL_PENDING 100000 /* about 100 bytes + features each */
#define CFG_MAX_LABEL_PENDING (1L << 24)
/* Counting collisions keeps 2 bytes per weight (4 below 2^17) and costs
 * a cache miss per feature once the table outgrows the cache (10-15% of
 * train's time at 2^22, docs/BENCHMARKS.md): on by default up to 2^20
 * weights (2 MiB). */
#define CFG_COLLISIONS_MAX_BITS 20

/* Defaults of struct cfg, see docs/CONFIGURATION.md. */
#define CFG_DEFAULT_BROKERS "127.0.0.1:9092"
#define CFG_DEFAULT_KEY_ENV "RIFFLE_PSEUDONYM_KEY"
#define CFG_DEFAULT_KEY_ID "default"
#define CFG_DEFAULT_ENCRYPT_KEY_ENV "RIFFLE_ENCRYPT_KEY"
#define CFG_DEFAULT_DEAD_LETTER_KEY_ENV "RIFFLE_DEAD_LETTER_KEY"
#define CFG_DEFAULT_KANON_K 5
#define CFG_DEFAULT_KANON_WINDOW 10000
#define CFG_MAX_KANON_K 1000000
#define CFG_MAX_KANON_WINDOW 1000000 /* about 40 MB of counts */
#define CFG_DEFAULT_SNAPSHOT_EVENTS 10000
#define CFG_DEFAULT_SNAPSHOT_SECONDS 30.0
#define CFG_DEFAULT_PROGRESS_EVENTS 5000
/* serve: a commit every 100 ms bounds the replay after a crash to a
 * tenth of a second of requests, at ten broker round trips a second. */
#define CFG_DEFAULT_SERVE_COMMIT_MS 100
#define CFG_MAX_SERVE_COMMIT_MS 3600000L /* an hour */
#define CFG_DEFAULT_SERVE_ADDRESS "127.0.0.1" /* reachable from this host */
#define CFG_MAX_PORT 65535
#define CFG_DEFAULT_SERVE_MAX_BODY 65536L /* an event is a few hundred B */
#define CFG_MAX_SERVE_BODY (16L << 20)    /* the broker's message cap */
#define CFG_DEFAULT_SERVE_TIMEOUT_S 10.0
#define CFG_MIN_SERVE_TIMEOUT_S 0.1
#define CFG_MAX_SERVE_TIMEOUT_S 3600.0
#define CFG_MAX_SERVE_THREADS 64
/* Chunks well below the broker's 16 MiB message cap, so that a chunk
 * plus its headers and batch overhead always fits. */
#define CFG_DEFAULT_SNAPSHOT_CHUNK 4194304L
#define CFG_MIN_SNAPSHOT_CHUNK 1024L
#define CFG_MAX_SNAPSHOT_CHUNK 15728640L
/* Each commit waits for every output of its batch to be acknowledged
 * (about 25 ms here), so batches are long; batch_ms still bounds how long
 * read_committed readers wait. 20,000 spent a quarter of a learn run in
 * commits (measured on 500,000 Elec2 events). */
#define CFG_DEFAULT_TXN_EVENTS 100000
#define CFG_DEFAULT_TXN_MS 1000
#define CFG_MAX_TXN_MS 60000 /* below the broker's transaction timeout */
/* delivery.transaction_timeout_ms and serve.transaction_timeout_ms:
 * librdkafka refuses one below its socket timeout (common/kafka.h), the
 * broker one above its transaction.max.timeout.ms (15 minutes by
 * default). */
#define CFG_MIN_TXN_TIMEOUT_MS 10000
#define CFG_MAX_TXN_TIMEOUT_MS 900000
/* A batch may last batch_ms (a replica's transaction commit_every_ms)
 * and then wait for its acknowledgements: the broker's timeout must
 * leave it that much room again. */
#define CFG_TXN_TIMEOUT_BATCHES 2
/* The broker's default group.{min,max}.session.timeout.ms bounds. */
#define CFG_MIN_SESSION_TIMEOUT_MS 6000
#define CFG_MAX_SESSION_TIMEOUT_MS 1800000
#define CFG_MAX_MERGE_SECONDS 86400.0 /* a day: longer is never merging */
/* An instance silent this long no longer counts as one: five minutes are
 * many merge periods at the cadences docs/SCALING.md measures, and short
 * enough that a retired instance stops pulling the merge back soon. */
#define CFG_DEFAULT_INSTANCE_EXPIRY_S 300.0
#define CFG_MAX_INSTANCE_EXPIRY_S (7 * 86400.0) /* a week: past any pause */

/* FNV-1a, 64 bits, for cfg_model_fingerprint(). */
#define FNV64_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

/* Where errors go while one file is loaded. */
struct loader {
    const char *path;
    char *errstr;
    size_t errstr_size;
};

struct enum_name {
    const char *name;
    int value;
};

static int fail(const struct loader *ld, const config_setting_t *at,
                const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "path:line: key: what", or "path: key: what" for line 0: the root
 * group has no line of its own, nor has a cfg built by hand. */
static int format_error(char *errstr, size_t errstr_size, const char *path,
                        int line, const char *key, const char *fmt,
                        va_list ap)
{
    char what[CFG_MESSAGE_MAX];

    vsnprintf(what, sizeof(what), fmt, ap);
    if (line > 0)
        snprintf(errstr, errstr_size, "%s:%d: %s: %s", path, line, key,
                 what);
    else
        snprintf(errstr, errstr_size, "%s: %s: %s", path, key, what);
    return RIFFLE_ERR_CFG;
}

static int fail(const struct loader *ld, const config_setting_t *at,
                const char *key, const char *fmt, ...)
{
    va_list ap;
    int err;

    va_start(ap, fmt);
    err = format_error(ld->errstr, ld->errstr_size, ld->path,
                       at ? config_setting_source_line(at) : 0, key, fmt,
                       ap);
    va_end(ap);
    return err;
}

int cfg_error(const struct cfg *cfg, int line, const char *key,
              char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    int err;

    va_start(ap, fmt);
    err = format_error(errstr, errstr_size, cfg->path, line, key, fmt, ap);
    va_end(ap);
    return err;
}

void cfg_schema_error(const struct cfg *cfg, char *errstr,
                      size_t errstr_size)
{
    char why[CFG_MESSAGE_MAX];

    snprintf(why, sizeof(why), "%s", errstr);
    /* Returns RIFFLE_ERR_CFG; the caller keeps the schema's own code. */
    (void)cfg_error(cfg, cfg->schema_line, "source.schema", errstr,
                    errstr_size, "%s", why);
}

void cfg_output_schema_error(const struct cfg *cfg, char *errstr,
                             size_t errstr_size)
{
    char why[CFG_MESSAGE_MAX];

    snprintf(why, sizeof(why), "%s", errstr);
    /* Returns RIFFLE_ERR_CFG; the caller keeps the schema's own code. */
    (void)cfg_error(cfg, cfg->schema_line, "source.schema", errstr,
                    errstr_size, "riffle reads its own output schemas "
                    "from this schema's folder: %s", why);
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "something else";
    }
}

/* Builds "section.key" for messages. */
static const char *dotted(char *out, size_t size, const char *section,
                          const char *key)
{
    if (section && *section)
        snprintf(out, size, "%s.%s", section, key);
    else
        snprintf(out, size, "%s", key);
    return out;
}

/* Looks up key in group. Missing is fine unless required. *out is NULL
 * when the key is absent. */
static int find_member(const struct loader *ld, const config_setting_t *group,
                       const char *section, const char *key, int required,
                       int want_type, config_setting_t **out)
{
    config_setting_t *s = config_setting_get_member(group, key);
    char full[CFG_KEY_MAX];
    int type;

    *out = NULL;
    if (!s) {
        if (required)
            return fail(ld, group, dotted(full, sizeof(full), section, key),
                        "missing required setting (%s)",
                        type_name(want_type));
        return 0;
    }

    type = config_setting_type(s);
    if (want_type == CONFIG_TYPE_FLOAT &&
        (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64))
        type = CONFIG_TYPE_FLOAT; /* an integer is a fine number */
    if (want_type == CONFIG_TYPE_INT && type == CONFIG_TYPE_INT64)
        type = CONFIG_TYPE_INT;
    if (want_type == CONFIG_TYPE_LIST && type == CONFIG_TYPE_ARRAY)
        type = CONFIG_TYPE_LIST; /* [..] and (..) both hold a sequence */
    if (type != want_type)
        return fail(ld, s, dotted(full, sizeof(full), section, key),
                    "expected %s, got %s", type_name(want_type),
                    type_name(config_setting_type(s)));

    *out = s;
    return 0;
}

static int get_string(const struct loader *ld, const config_setting_t *group,
                      const char *section, const char *key, int required,
                      char *dst, size_t dst_size)
{
    config_setting_t *s;
    const char *v;
    char full[CFG_KEY_MAX];
    int err = find_member(ld, group, section, key, required,
                          CONFIG_TYPE_STRING, &s);

    if (err || !s)
        return err;

    v = config_setting_get_string(s);
    if (strlen(v) >= dst_size)
        return fail(ld, s, dotted(full, sizeof(full), section, key),
                    "longer than %zu bytes", dst_size - 1);
    snprintf(dst, dst_size, "%s", v);
    return 0;
}

static int get_long(const struct loader *ld, const config_setting_t *group,
                    const char *section, const char *key, int required,
                    long min, long max, long *dst)
{
    config_setting_t *s;
    long long v;
    char full[CFG_KEY_MAX];
    int err = find_member(ld, group, section, key, required,
                          CONFIG_TYPE_INT, &s);

    if (err || !s)
        return err;

    v = config_setting_get_int64(s);
    if (v < min || v > max)
        return fail(ld, s, dotted(full, sizeof(full), section, key),
                    "%lld is out of range: expected an integer from %ld "
                    "to %ld", v, min, max);
    *dst = (long)v;
    return 0;
}

/* A number in [min, max], or in (min, max] when min_open is set; the
 * message words the range as model_params_check() does. */
static int get_number(const struct loader *ld, const config_setting_t *group,
                      const char *section, const char *key, int required,
                      double min, int min_open, double max, double *dst)
{
    config_setting_t *s;
    double v;
    char full[CFG_KEY_MAX];
    const char *name;
    int err = find_member(ld, group, section, key, required,
                          CONFIG_TYPE_FLOAT, &s);

    if (err || !s)
        return err;

    v = config_setting_get_float(s);
    if (config_setting_type(s) != CONFIG_TYPE_FLOAT)
        v = (double)config_setting_get_int64(s);
    if (isfinite(v) && (min_open ? v > min : v >= min) && v <= max) {
        *dst = v;
        return 0;
    }

    name = dotted(full, sizeof(full), section, key);
    if (min_open)
        return fail(ld, s, name, "%g is out of range: expected a number "
                    "above %g, at most %g", v, min, max);
    return fail(ld, s, name, "%g is out of range: expected a number from "
                "%g to %g", v, min, max);
}

static int get_bool(const struct loader *ld, const config_setting_t *group,
                    const char *section, const char *key, int *dst)
{
    config_setting_t *s;
    int err = find_member(ld, group, section, key, 0, CONFIG_TYPE_BOOL, &s);

    if (err || !s)
        return err;
    *dst = config_setting_get_bool(s);
    return 0;
}

static int get_enum(const struct loader *ld, const config_setting_t *group,
                    const char *section, const char *key,
                    const struct enum_name *names, int *dst)
{
    char value[CFG_NAME_MAX] = "";
    char full[CFG_KEY_MAX], expected[CFG_MESSAGE_MAX] = "";
    const struct enum_name *e;
    config_setting_t *s = config_setting_get_member(group, key);
    int err = get_string(ld, group, section, key, 0, value, sizeof(value));

    if (err || !s)
        return err;

    for (e = names; e->name; e++) {
        if (strcmp(e->name, value) == 0) {
            *dst = e->value;
            return 0;
        }
        snprintf(expected + strlen(expected),
                 sizeof(expected) - strlen(expected), "%s\"%s\"",
                 e == names ? "" : ", ", e->name);
    }

    return fail(ld, s, dotted(full, sizeof(full), section, key),
                "unknown value \"%s\": expected one of %s", value, expected);
}

/* Looks up the optional list key of group and checks that it holds at
 * most max_count entries. *list is NULL when the key is absent; otherwise
 * *n is its length. */
static int find_list(const struct loader *ld, const config_setting_t *group,
                     const char *section, const char *key, size_t max_count,
                     config_setting_t **list, int *n)
{
    char full[CFG_KEY_MAX];
    int err = find_member(ld, group, section, key, 0, CONFIG_TYPE_LIST,
                          list);

    if (err || !*list)
        return err;

    *n = config_setting_length(*list);
    if ((size_t)*n > max_count)
        return fail(ld, *list, dotted(full, sizeof(full), section, key),
                    "%d entries: at most %zu allowed", *n, max_count);
    return 0;
}

/* Checks that entry i (0-based) of the list key is of want_type, where
 * an integer is a fine CONFIG_TYPE_FLOAT, as in find_member(). */
static int check_entry_type(const struct loader *ld,
                            const config_setting_t *e, const char *section,
                            const char *key, int i, int want_type)
{
    char full[CFG_KEY_MAX];
    int type = config_setting_type(e);

    if (want_type == CONFIG_TYPE_FLOAT &&
        (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64))
        type = CONFIG_TYPE_FLOAT;
    if (type == want_type)
        return 0;
    return fail(ld, e, dotted(full, sizeof(full), section, key),
                "entry %d: expected %s, got %s", i + 1, type_name(want_type),
                type_name(config_setting_type(e)));
}

static int get_string_list(const struct loader *ld,
                           const config_setting_t *group, const char *section,
                           const char *key, char (*dst)[CFG_NAME_MAX],
                           size_t max_count, size_t *count)
{
    config_setting_t *s;
    char full[CFG_KEY_MAX];
    int i, n;
    int err = find_list(ld, group, section, key, max_count, &s, &n);

    if (err || !s)
        return err;

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, i);
        const char *v;

        err = check_entry_type(ld, e, section, key, i, CONFIG_TYPE_STRING);
        if (err)
            return err;
        v = config_setting_get_string(e);
        if (strlen(v) >= CFG_NAME_MAX)
            return fail(ld, e, dotted(full, sizeof(full), section, key),
                        "entry %d: longer than %d bytes", i + 1,
                        CFG_NAME_MAX - 1);
        snprintf(dst[i], CFG_NAME_MAX, "%s", v);
    }
    *count = (size_t)n;
    return 0;
}

static int get_number_list(const struct loader *ld,
                           const config_setting_t *group, const char *section,
                           const char *key, double *dst, size_t max_count,
                           size_t *count)
{
    config_setting_t *s;
    char full[CFG_KEY_MAX];
    int i, n;
    int err = find_list(ld, group, section, key, max_count, &s, &n);

    if (err || !s)
        return err;

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, i);

        err = check_entry_type(ld, e, section, key, i, CONFIG_TYPE_FLOAT);
        if (err)
            return err;
        if (config_setting_type(e) == CONFIG_TYPE_FLOAT)
            dst[i] = config_setting_get_float(e);
        else
            dst[i] = (double)config_setting_get_int64(e);
        if (i > 0 && !(dst[i] > dst[i - 1]))
            return fail(ld, e, dotted(full, sizeof(full), section, key),
                        "entry %d: boundaries must increase", i + 1);
    }
    *count = (size_t)n;
    return 0;
}

/* Returns the group named key; a missing required group is an error. */
static int get_group(const struct loader *ld, const config_setting_t *parent,
                     const char *key, int required, config_setting_t **out)
{
    return find_member(ld, parent, "", key, required, CONFIG_TYPE_GROUP, out);
}

/* zeroed: cfg's bytes are all zero already (cfg_load_file_zeroed()). */
static void set_defaults(struct cfg *cfg, int zeroed)
{
    if (!zeroed)
        memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->brokers, sizeof(cfg->brokers), "%s", CFG_DEFAULT_BROKERS);
    cfg->input_partitions = 1;
    cfg->replication_factor = 1;
    cfg->instance_expiry_seconds = CFG_DEFAULT_INSTANCE_EXPIRY_S;
    cfg->csv_delimiter = ',';
    cfg->csv_header = 1;
    cfg->on_bad_row = CFG_BAD_ROW_SKIP;
    snprintf(cfg->key_env, sizeof(cfg->key_env), "%s", CFG_DEFAULT_KEY_ENV);
    snprintf(cfg->key_id, sizeof(cfg->key_id), "%s", CFG_DEFAULT_KEY_ID);
    snprintf(cfg->encrypt_key.env, sizeof(cfg->encrypt_key.env), "%s",
             CFG_DEFAULT_ENCRYPT_KEY_ENV);
    snprintf(cfg->encrypt_key.id, sizeof(cfg->encrypt_key.id), "%s",
             CFG_DEFAULT_KEY_ID);
    snprintf(cfg->dead_letter_key.env, sizeof(cfg->dead_letter_key.env),
             "%s", CFG_DEFAULT_DEAD_LETTER_KEY_ENV);
    snprintf(cfg->dead_letter_key.id, sizeof(cfg->dead_letter_key.id), "%s",
             CFG_DEFAULT_KEY_ID);
    cfg->kanon_k = CFG_DEFAULT_KANON_K;
    cfg->kanon_window = CFG_DEFAULT_KANON_WINDOW;
    model_params_default(&cfg->model);
    cfg->event_time_ms = 1;
    cfg->hash_seed = 0;
    cfg->snapshot_every_events = CFG_DEFAULT_SNAPSHOT_EVENTS;
    cfg->snapshot_every_seconds = CFG_DEFAULT_SNAPSHOT_SECONDS;
    cfg->snapshot_chunk_bytes = CFG_DEFAULT_SNAPSHOT_CHUNK;
    cfg->on_offset_past_end = CFG_PAST_END_STOP;
    cfg->delivery = CFG_DELIVERY_EXACTLY_ONCE;
    cfg->txn_every_events = CFG_DEFAULT_TXN_EVENTS;
    cfg->txn_every_ms = CFG_DEFAULT_TXN_MS;
    cfg->progress_every_events = CFG_DEFAULT_PROGRESS_EVENTS;
    cfg->serve_partitions = 1;
    cfg->serve_commit_every_ms = CFG_DEFAULT_SERVE_COMMIT_MS;
    cfg->serve_delivery = CFG_DELIVERY_AT_LEAST_ONCE;
    snprintf(cfg->serve_http_address, sizeof(cfg->serve_http_address), "%s",
             CFG_DEFAULT_SERVE_ADDRESS);
    cfg->serve_http_max_body_bytes = CFG_DEFAULT_SERVE_MAX_BODY;
    cfg->serve_http_timeout_seconds = CFG_DEFAULT_SERVE_TIMEOUT_S;
    cfg->serve_http_threads = 1;
    kafka_security_init(&cfg->kafka_security);
}

/* A string key that must be one of names (copied into dst as given). */
static int get_choice(const struct loader *ld, const config_setting_t *g,
                      const char *section, const char *key,
                      const char *const *names, char *dst, size_t dst_size)
{
    char value[CFG_NAME_MAX] = "", expected[CFG_MESSAGE_MAX] = "";
    char full[CFG_KEY_MAX];
    const config_setting_t *s = config_setting_get_member(g, key);
    size_t i;
    int err = get_string(ld, g, section, key, 0, value, sizeof(value));

    if (err || !s)
        return err;
    for (i = 0; names[i]; i++) {
        if (strcmp(names[i], value) == 0) {
            snprintf(dst, dst_size, "%s", value);
            return 0;
        }
        snprintf(expected + strlen(expected),
                 sizeof(expected) - strlen(expected), "%s\"%s\"",
                 i ? ", " : "", names[i]);
    }
    return fail(ld, s, dotted(full, sizeof(full), section, key),
                "unknown value \"%s\": expected one of %s", value, expected);
}

/* How a plain key of a table is read; see struct key_spec. */
enum key_kind {
    KEY_STRING,   /* copied into a char array of size bytes */
    KEY_INTEGER,  /* in [min, max]; an int (size 4) or a long (size 8) */
    KEY_NUMBER,   /* in [lo, hi], stored as a double times scale */
    KEY_POSITIVE, /* in (0, hi], stored as a double times scale */
    KEY_BOOL,     /* an int */
    KEY_ENUM,     /* one of names, stored as its value: an int, or a
                     double (size 8) */
    KEY_CHOICE,   /* one of choices, copied as a string like KEY_STRING */
    KEY_TOPIC     /* a KEY_STRING that Kafka takes as a topic name */
};

/* One plain key of a group: what it is, whether it must be there, its
 * bounds, and where its value goes, as an offset into the struct the
 * table describes (struct cfg, or struct cfg_field in the fields'
 * tables). A key that is absent leaves its default in place. */
struct key_spec {
    const char *name; /* NULL ends a table */
    enum key_kind kind;
    int required;
    size_t offset, size;
    long min, max;    /* KEY_INTEGER */
    double lo, hi;    /* KEY_NUMBER, KEY_POSITIVE (hi only) */
    double scale;     /* KEY_NUMBER, KEY_POSITIVE: 0 stores the value as
                         given; 1000 turns seconds into milliseconds */
    const struct enum_name *names;   /* KEY_ENUM */
    const char *const *choices;      /* KEY_CHOICE */
};

/* Where a key of struct cfg or struct cfg_field goes. */
#define CFG_AT(m) \
    .offset = offsetof(struct cfg, m), .size = sizeof(((struct cfg *)0)->m)
#define FIELD_AT(m)                            \
    .offset = offsetof(struct cfg_field, m), \
    .size = sizeof(((struct cfg_field *)0)->m)

/* Table entries, one a kind. */
#define KEY_STR(k, req, at) {.name = (k), .kind = KEY_STRING, .required = (req), at}
#define KEY_TOPIC(k, req, at) \
    {.name = (k), .kind = KEY_TOPIC, .required = (req), at}
#define KEY_INT(k, at, lo_, hi_) \
    {.name = (k), .kind = KEY_INTEGER, at, .min = (lo_), .max = (hi_)}
#define KEY_NUM(k, at, lo_, hi_) \
    {.name = (k), .kind = KEY_NUMBER, at, .lo = (lo_), .hi = (hi_)}
#define KEY_POS(k, at, hi_) {.name = (k), .kind = KEY_POSITIVE, at, .hi = (hi_)}
#define KEY_FLAG(k, at) {.name = (k), .kind = KEY_BOOL, at}
#define KEY_ENUM(k, at, n) {.name = (k), .kind = KEY_ENUM, at, .names = (n)}
#define KEY_CHOICE(k, at, c) {.name = (k), .kind = KEY_CHOICE, at, .choices = (c)}
#define KEY_END {.name = NULL} /* designated: clang's -Wextra wants all or
                                  none of the fields of a positional one */

/* The keys one group may hold: those its key_spec tables read, and
 * those read by hand (lists, groups, keys with logic of their own).
 * check_keys() refuses any other, so a typo is an error at start-up
 * rather than a setting silently ignored; see sections[]. */
struct section {
    const char *name;                     /* NULL ends sections[] */
    const struct key_spec *const *tables; /* NULL-terminated, or NULL */
    const char *const *by_hand;           /* NULL-terminated, or NULL */
};

static const struct section *section_find(const char *name, size_t len);

/* The i-th key of s, from 0: its tables' keys, then those read by
 * hand; NULL past the last. */
static const char *section_key(const struct section *s, size_t i)
{
    const struct key_spec *const *t;
    const struct key_spec *k;
    const char *const *h;

    for (t = s->tables; t && *t; t++)
        for (k = *t; k->name; k++)
            if (i-- == 0)
                return k->name;
    for (h = s->by_hand; h && *h; h++)
        if (i-- == 0)
            return *h;
    return NULL;
}

/* Whether s knows name (a group holds at most a few dozen keys). */
static int section_has(const struct section *s, const char *name)
{
    const char *key;
    size_t i;

    for (i = 0; (key = section_key(s, i)) != NULL; i++)
        if (strcmp(key, name) == 0)
            return 1;
    return 0;
}

/* The i-th key of section ctx, for spelling_nearest(). */
static const char *section_key_at(const void *ctx, size_t i)
{
    return section_key(ctx, i);
}

/* Refuses a setting of group that section does not know; a group of a
 * list ("fields[3]") holds the keys of the list's section ("fields").
 * A near miss names the key that was probably meant. */
static int check_keys(const struct loader *ld, const config_setting_t *group,
                      const char *section)
{
    const struct section *s = section_find(section,
                                           strcspn(section, "["));
    int i, n = config_setting_length(group);

    for (i = 0; i < n; i++) {
        const config_setting_t *child = config_setting_get_elem(group, i);
        const char *name = config_setting_name(child);
        const char *meant;
        char key[CFG_KEY_MAX];

        if (name && s && section_has(s, name))
            continue;
        meant = name && s ? spelling_nearest(name, section_key_at, s) : NULL;
        return fail(ld, child, dotted(key, sizeof(key), section,
                                      name ? name : "?"),
                    "unknown setting%s%s%s", meant ? ": did you mean \"" : "",
                    meant ? meant : "", meant ? "\"?" : "");
    }
    return 0;
}

/* Stores an integer as the int (or uint32_t) or long (or size_t) at
 * dst. */
static void store_integer(void *dst, size_t size, long v)
{
    if (size == sizeof(uint32_t)) {
        uint32_t u = (uint32_t)v; /* an int's bytes too, negative or not */

        memcpy(dst, &u, sizeof(u));
        return;
    }
    memcpy(dst, &v, sizeof(v));
}

/* The longest topic name riffle keeps; Kafka's own limit is 249 bytes
 * (its Topic.MAX_NAME_LENGTH), and get_string() refuses a longer one. */
#define CFG_TOPIC_NAME_MAX (CFG_NAME_MAX - 1)
_Static_assert(CFG_TOPIC_NAME_MAX <= 249, "a name Kafka would refuse");

/* Refuses, at setting s, a topic name the brokers would refuse: empty,
 * "." or "..", or with a character other than ASCII letters, digits,
 * '.', '_' and '-'. Caught here, `check` says so at the line, and `topics
 * create` does not make the pipeline's other topics before the broker
 * refuses this one. The name is quoted with its control bytes escaped
 * (log_printable()): a name holding one is refused here, and errstr
 * may be shown elsewhere than in a log line, which escapes its own. */
static int check_topic_name(const struct loader *ld,
                            const config_setting_t *s, const char *section,
                            const char *key, const char *name)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    size_t len = strlen(name);
    char full[CFG_KEY_MAX];
    char shown[LOG_PRINTABLE_SIZE(CFG_NAME_MAX)];

    if (len >= 1 && len <= CFG_TOPIC_NAME_MAX &&
        name[strspn(name, allowed)] == '\0' && strcmp(name, ".") != 0 &&
        strcmp(name, "..") != 0)
        return 0;
    return fail(ld, s, dotted(full, sizeof(full), section, key),
                "\"%s\" is not a Kafka topic name: expected 1 to %d ASCII "
                "letters, digits, '.', '_' or '-', other than \".\" and "
                "\"..\"", log_printable(name, shown, sizeof(shown)),
                CFG_TOPIC_NAME_MAX);
}

/* Reads the keys of table from group g in table order, each into base +
 * its offset; stops at the first error, as the hand-written chains of
 * get_*() calls did, so that of two bad keys the earlier is reported. */
static int load_keys(const struct loader *ld, const config_setting_t *g,
                     const char *section, const struct key_spec *table,
                     void *base)
{
    const struct key_spec *k;
    int err = 0;

    for (k = table; !err && k->name; k++) {
        const config_setting_t *s = config_setting_get_member(g, k->name);
        char *dst = (char *)base + k->offset;
        config_setting_t *found;
        long v = 0;
        double d = 0;
        int e = 0;

        switch (k->kind) {
        case KEY_STRING:
            err = get_string(ld, g, section, k->name, k->required, dst,
                             k->size);
            break;
        case KEY_TOPIC:
            err = get_string(ld, g, section, k->name, k->required, dst,
                             k->size);
            if (!err && s)
                err = check_topic_name(ld, s, section, k->name, dst);
            break;
        case KEY_INTEGER:
            err = get_long(ld, g, section, k->name, 0, k->min, k->max, &v);
            if (!err && s)
                store_integer(dst, k->size, v);
            break;
        case KEY_NUMBER:
        case KEY_POSITIVE:
            err = get_number(ld, g, section, k->name, 0, k->lo,
                             k->kind == KEY_POSITIVE, k->hi, &d);
            if (k->scale != 0)
                d *= k->scale;
            if (!err && s)
                memcpy(dst, &d, sizeof(d));
            break;
        case KEY_BOOL:
            err = get_bool(ld, g, section, k->name, (int *)(void *)dst);
            break;
        case KEY_ENUM:
            if (k->required && !s)
                err = find_member(ld, g, section, k->name, 1,
                                  CONFIG_TYPE_STRING, &found);
            if (!err)
                err = get_enum(ld, g, section, k->name, k->names, &e);
            d = e;
            if (!err && s && k->size == sizeof(double))
                memcpy(dst, &d, sizeof(d));
            else if (!err && s)
                memcpy(dst, &e, sizeof(e));
            break;
        case KEY_CHOICE:
            err = get_choice(ld, g, section, k->name, k->choices, dst,
                             k->size);
            break;
        }
    }
    return err;
}

/* Reads the group name of root, a group of plain keys only, through
 * its section's tables in order. *g is the group, NULL when absent. */
static int load_group(const struct loader *ld, const config_setting_t *root,
                      const char *name, int required, struct cfg *cfg,
                      config_setting_t **g)
{
    const struct key_spec *const *t;
    int err = get_group(ld, root, name, required, g);

    if (err || !*g)
        return err;
    err = check_keys(ld, *g, name);
    for (t = section_find(name, strlen(name))->tables; !err && *t; t++)
        err = load_keys(ld, *g, name, *t, cfg);
    return err;
}

static const char *const kafka_protocols[] = {
    "plaintext", "ssl", "sasl_plaintext", "sasl_ssl", NULL};
static const char *const kafka_mechanisms[] = {
    "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};

/* kafka.*: the brokers and group, then the security keys, plain strings
 * passed through to librdkafka by common/kafka.c, which also reads the
 * secrets they point at. */
static const struct key_spec kafka_table[] = {
    KEY_STR("brokers", 0, CFG_AT(brokers)),
    KEY_STR("group_id", 0, CFG_AT(group_id)),
    KEY_INT("session_timeout_ms", CFG_AT(session_timeout_ms),
            CFG_MIN_SESSION_TIMEOUT_MS, CFG_MAX_SESSION_TIMEOUT_MS),
    KEY_CHOICE("security_protocol", CFG_AT(kafka_security.protocol),
               kafka_protocols),
    KEY_CHOICE("sasl_mechanism", CFG_AT(kafka_security.sasl_mechanism),
               kafka_mechanisms),
    KEY_STR("sasl_username", 0, CFG_AT(kafka_security.sasl_username)),
    KEY_STR("sasl_password_file", 0,
            CFG_AT(kafka_security.sasl_password_file)),
    KEY_STR("ssl_ca_file", 0, CFG_AT(kafka_security.ssl_ca_file)),
    KEY_STR("ssl_certificate_file", 0,
            CFG_AT(kafka_security.ssl_certificate_file)),
    KEY_STR("ssl_key_file", 0, CFG_AT(kafka_security.ssl_key_file)),
    KEY_STR("ssl_key_password_file", 0,
            CFG_AT(kafka_security.ssl_key_password_file)),
    KEY_FLAG("ssl_verify_hostname", CFG_AT(kafka_security.ssl_verify_hostname)),
    KEY_END};

static int load_kafka(const struct loader *ld, const config_setting_t *root,
                      struct cfg *cfg)
{
    const struct kafka_security *sec = &cfg->kafka_security;
    config_setting_t *g;
    int err = load_group(ld, root, "kafka", 0, cfg, &g);

    if (err || !g)
        return err;

    if (strncmp(sec->protocol, "sasl_", 5) == 0 && !sec->sasl_mechanism[0])
        return fail(ld, config_setting_get_member(g, "security_protocol"),
                    "kafka.security_protocol", "\"%s\" needs "
                    "kafka.sasl_mechanism: expected one of \"PLAIN\", "
                    "\"SCRAM-SHA-256\", \"SCRAM-SHA-512\"", sec->protocol);
    return 0;
}

static const struct key_spec topics_table[] = {
    KEY_TOPIC("input", 1, CFG_AT(topic_input)),
    KEY_TOPIC("predictions", 1, CFG_AT(topic_predictions)),
    KEY_TOPIC("models", 1, CFG_AT(topic_models)),
    KEY_TOPIC("dead_letters", 1, CFG_AT(topic_dead_letters)),
    KEY_TOPIC("metrics", 0, CFG_AT(topic_metrics)),
    KEY_TOPIC("alerts", 0, CFG_AT(topic_alerts)),
    KEY_INT("partitions", CFG_AT(input_partitions), 1, CFG_MAX_PARTITIONS),
    KEY_INT("replication_factor", CFG_AT(replication_factor), 1,
            CFG_MAX_REPLICATION),
    KEY_END};

static const struct enum_name bad_row_actions[] = {
    {"skip", CFG_BAD_ROW_SKIP}, {"stop", CFG_BAD_ROW_STOP}, {NULL, 0}};

/* source's keys come in three runs around the ones with logic of their
 * own: the schema, path and header; then the delimiter (one character),
 * trim and skip_lines, the column and missing-value lists; then the id
 * prefix and what a bad row does. */
static const struct key_spec source_table[] = {
    KEY_STR("schema", 1, CFG_AT(schema_path)),
    KEY_STR("path", 0, CFG_AT(source_path)),
    KEY_FLAG("header", CFG_AT(csv_header)),
    KEY_END};
static const struct key_spec source_dialect_table[] = {
    KEY_FLAG("trim", CFG_AT(csv_trim)),
    KEY_INT("skip_lines", CFG_AT(csv_skip_lines), 0, CFG_MAX_SKIP_LINES),
    KEY_END};
static const struct key_spec source_rows_table[] = {
    KEY_STR("id_prefix", 0, CFG_AT(id_prefix)),
    KEY_ENUM("on_bad_row", CFG_AT(on_bad_row), bad_row_actions),
    KEY_END};

/* The CSV dialect of source after header: delimiter, trim, skip_lines,
 * columns and missing-value markers. */
static int load_csv_dialect(const struct loader *ld,
                            const config_setting_t *g, struct cfg *cfg)
{
    char delimiter[CFG_DELIMITER_MAX] = ",";
    int err = get_string(ld, g, "source", "delimiter", 0, delimiter,
                         sizeof(delimiter));

    if (!err)
        err = load_keys(ld, g, "source", source_dialect_table, cfg);
    if (!err)
        err = get_string_list(ld, g, "source", "columns", cfg->columns,
                              CFG_MAX_FIELDS, &cfg->column_count);
    if (!err)
        err = get_string_list(ld, g, "source", "missing",
                              cfg->missing_tokens, CFG_MAX_TOKENS,
                              &cfg->missing_token_count);
    if (err)
        return err;

    if (strlen(delimiter) != 1 || strchr("\"\r\n", delimiter[0]))
        return fail(ld, config_setting_get_member(g, "delimiter"),
                    "source.delimiter", "expected exactly one character, "
                    "other than a quote or a line break");
    cfg->csv_delimiter = delimiter[0];
    return 0;
}

static int load_source(const struct loader *ld, const config_setting_t *root,
                       struct cfg *cfg)
{
    config_setting_t *g;
    int err = get_group(ld, root, "source", 1, &g);

    if (err)
        return err;

    err = check_keys(ld, g, "source");
    if (!err)
        err = load_keys(ld, g, "source", source_table, cfg);
    if (!err)
        cfg->schema_line = config_setting_source_line(
            config_setting_get_member(g, "schema"));
    if (!err)
        err = load_csv_dialect(ld, g, cfg);
    if (!err)
        err = load_keys(ld, g, "source", source_rows_table, cfg);
    if (err)
        return err;

    if (!cfg->csv_header && cfg->column_count == 0)
        return fail(ld, g, "source.columns",
                    "required when source.header is false");
    if (cfg->id_prefix[0] == '\0')
        snprintf(cfg->id_prefix, sizeof(cfg->id_prefix), "%s", cfg->name);
    return 0;
}

static const struct enum_name field_kinds[] = {
    {"ignore", CFG_FIELD_IGNORE},   {"id", CFG_FIELD_ID},
    {"label", CFG_FIELD_LABEL},     {"numeric", CFG_FIELD_NUMERIC},
    {"categorical", CFG_FIELD_CATEGORICAL}, {NULL, 0}};
static const struct enum_name missing_actions[] = {
    {"reject", CFG_MISSING_REJECT}, {"mean", CFG_MISSING_MEAN},
    {"zero", CFG_MISSING_ZERO},     {"constant", CFG_MISSING_CONSTANT},
    {"skip", CFG_MISSING_SKIP},     {"token", CFG_MISSING_TOKEN},
    {"median", CFG_MISSING_MEDIAN}, {"mode", CFG_MISSING_MODE},
    {NULL, 0}};
static const struct enum_name invalid_actions[] = {
    {"reject", CFG_INVALID_REJECT}, {"missing", CFG_INVALID_MISSING},
    {NULL, 0}};
static const struct enum_name outlier_rules[] = {
    {"none", CFG_OUTLIER_NONE}, {"zscore", CFG_OUTLIER_ZSCORE},
    {"mad", CFG_OUTLIER_MAD},   {"iqr", CFG_OUTLIER_IQR}, {NULL, 0}};
static const struct enum_name outlier_actions[] = {
    {"clip", CFG_OUTLIER_CLIP}, {"reject", CFG_OUTLIER_REJECT},
    {"missing", CFG_OUTLIER_MISSING}, {NULL, 0}};
static const struct enum_name range_actions[] = {
    {"reject", CFG_RANGE_REJECT}, {"clip", CFG_RANGE_CLIP},
    {"missing", CFG_RANGE_MISSING}, {NULL, 0}};
static const struct enum_name transforms[] = {
    {"none", CFG_TRANSFORM_NONE}, {"log1p", CFG_TRANSFORM_LOG1P},
    {"standardize", CFG_TRANSFORM_STANDARDIZE},
    {"bucketize", CFG_TRANSFORM_BUCKETIZE}, {NULL, 0}};
static const struct enum_name privacy_actions[] = {
    {"none", CFG_PRIVACY_NONE}, {"drop", CFG_PRIVACY_DROP},
    {"pseudonym", CFG_PRIVACY_PSEUDONYM}, {"coarsen", CFG_PRIVACY_COARSEN},
    {"mask", CFG_PRIVACY_MASK},   {"noise", CFG_PRIVACY_NOISE},
    {"encrypt", CFG_PRIVACY_ENCRYPT}, {NULL, 0}};
static const struct enum_name date_precisions[] = {
    {"day", CFG_DATE_DAY}, {"month", CFG_DATE_MONTH},
    {"year", CFG_DATE_YEAR}, {NULL, 0}};

/* Which kinds the string, imputation, outlier and label rules fit. */
static int check_field_quality(const struct loader *ld,
                               const config_setting_t *g, const char *section,
                               const struct cfg_field *f)
{
    char key[CFG_KEY_MAX];
    int numeric = f->kind == CFG_FIELD_NUMERIC;
    int categorical = f->kind == CFG_FIELD_CATEGORICAL;

    if (f->missing == CFG_MISSING_MEDIAN && !numeric)
        return fail(ld, g, dotted(key, sizeof(key), section, "missing"),
                    "median applies to numeric fields only");
    if (f->missing == CFG_MISSING_MODE && !categorical)
        return fail(ld, g, dotted(key, sizeof(key), section, "missing"),
                    "mode applies to categorical fields only");
    if (f->missing == CFG_MISSING_MODE && f->privacy != CFG_PRIVACY_NONE)
        return fail(ld, g, dotted(key, sizeof(key), section, "missing"),
                    "mode would keep raw values of a personal field in "
                    "memory: choose token or skip");
    if ((f->allowed_count > 0 || f->pattern[0]) && !categorical)
        return fail(ld, g, dotted(key, sizeof(key), section,
                                  f->pattern[0] ? "pattern" : "allowed"),
                    "allowed and pattern apply to categorical fields only");
    if (f->outlier != CFG_OUTLIER_NONE && !numeric)
        return fail(ld, g, dotted(key, sizeof(key), section, "outlier"),
                    "outlier rules apply to numeric fields only");
    if ((f->has_threshold || config_setting_get_member(g, "relabel")) &&
        f->kind != CFG_FIELD_LABEL)
        return fail(ld, g, dotted(key, sizeof(key), section,
                                  f->has_threshold ? "threshold"
                                                   : "relabel"),
                    "threshold and relabel apply to the label only");
    return 0;
}

/* The settings of the privacy actions added after coarsen: each needs
 * its own settings and fits only some kinds. */
static int check_field_privacy(const struct loader *ld,
                               const config_setting_t *g,
                               const char *section, const struct cfg_field *f)
{
    char key[CFG_KEY_MAX];
    int numeric = f->kind == CFG_FIELD_NUMERIC;

    if (f->privacy == CFG_PRIVACY_MASK && numeric)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "a masked value is text, not a number: use kind = "
                    "\"categorical\" or \"ignore\"");
    if (f->privacy == CFG_PRIVACY_ENCRYPT && f->kind != CFG_FIELD_IGNORE)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "an encrypted value is different on every event and "
                    "useless to learn from: use kind = \"ignore\"");
    if (f->privacy == CFG_PRIVACY_NOISE && !numeric)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "noise applies to numeric fields only");
    if (f->privacy == CFG_PRIVACY_NOISE && !(f->epsilon > 0))
        return fail(ld, g, dotted(key, sizeof(key), section, "epsilon"),
                    "noise needs epsilon > 0");
    if (f->privacy == CFG_PRIVACY_NOISE && !(f->sensitivity > 0))
        return fail(ld, g, dotted(key, sizeof(key), section, "sensitivity"),
                    "noise needs sensitivity > 0, or both min and max "
                    "(sensitivity = max - min)");
    if (f->privacy != CFG_PRIVACY_MASK &&
        config_setting_get_member(g, "keep_last"))
        return fail(ld, g, dotted(key, sizeof(key), section, "keep_last"),
                    "keep_last goes with personal = \"mask\"");
    if (f->privacy != CFG_PRIVACY_NOISE &&
        (config_setting_get_member(g, "epsilon") ||
         config_setting_get_member(g, "sensitivity")))
        return fail(ld, g, dotted(key, sizeof(key), section, "epsilon"),
                    "epsilon and sensitivity go with personal = \"noise\"");
    return 0;
}

/* A field of kind "ignore" is neither cleaned nor learned (only
 * anonymized, for the outputs that carry it), so a cleaning or learning
 * rule on it would be accepted and never applied: refused instead, at
 * its own line. */
static int check_ignored_field(const struct loader *ld,
                               const config_setting_t *g, const char *section)
{
    static const char *const rules[] = {
        "required",   "missing",     "indicator", "impute_value",
        "min",        "max",         "on_range",  "transform",
        "max_length", "positive",    "negative",  "namespace",
        "buckets",    "classes",     "allowed",   "pattern",
        "on_invalid", "outlier",     "outlier_threshold",
        "on_outlier", "outlier_warmup", "threshold", "relabel", NULL};
    char key[CFG_KEY_MAX];
    size_t i;

    for (i = 0; rules[i]; i++) {
        const config_setting_t *s = config_setting_get_member(g, rules[i]);

        if (s)
            return fail(ld, s, dotted(key, sizeof(key), section, rules[i]),
                        "kind \"ignore\" fields are neither cleaned nor "
                        "learned, so this rule would never apply: remove "
                        "it, or give the field a kind that uses it");
    }
    return 0;
}

/* Checks the combinations a single key cannot: which rules fit a kind. */
static int check_field(const struct loader *ld, const config_setting_t *g,
                       const char *section, const struct cfg_field *f)
{
    char key[CFG_KEY_MAX];
    int numeric = f->kind == CFG_FIELD_NUMERIC;

    if (f->kind == CFG_FIELD_IGNORE &&
        check_ignored_field(ld, g, section) != 0)
        return RIFFLE_ERR_CFG;
    /* An id must stay one stable, distinct token per event: it keys the
     * predictions, duplicates and the join with delayed labels. Only a
     * keyed pseudonym keeps it so; a mask, a prefix or a drop would merge
     * ids, an envelope would differ on every event. */
    if (f->kind == CFG_FIELD_ID && f->privacy != CFG_PRIVACY_NONE &&
        f->privacy != CFG_PRIVACY_PSEUDONYM)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "the event id can only be pseudonymized (personal = "
                    "\"pseudonym\"): it must stay one distinct, stable "
                    "token per event");
    if (f->kind == CFG_FIELD_LABEL && f->privacy != CFG_PRIVACY_NONE)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "the label cannot be anonymized: the model learns its "
                    "value; choose other fields");
    if (!numeric && (f->missing == CFG_MISSING_MEAN ||
                     f->missing == CFG_MISSING_ZERO ||
                     f->missing == CFG_MISSING_CONSTANT))
        return fail(ld, g, dotted(key, sizeof(key), section, "missing"),
                    "mean, zero and constant apply to numeric fields only");
    if (numeric && f->missing == CFG_MISSING_TOKEN)
        return fail(ld, g, dotted(key, sizeof(key), section, "missing"),
                    "token applies to categorical fields only");
    if (f->has_min && f->has_max && f->min > f->max)
        return fail(ld, g, dotted(key, sizeof(key), section, "min"),
                    "min %g is above max %g", f->min, f->max);
    /* Which of the two applies depends on the schema type; anonymizer_new
     * checks that against the schema. */
    if ((f->transform == CFG_TRANSFORM_BUCKETIZE) != (f->bucket_count > 0))
        return fail(ld, g, dotted(key, sizeof(key), section, "buckets"),
                    "transform \"bucketize\" and buckets go together");
    if (f->privacy == CFG_PRIVACY_COARSEN &&
        (f->band_width > 0) + (f->keep_prefix > 0) +
                (f->date_precision != CFG_DATE_NONE) != 1)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "coarsen needs one of band (numbers), keep_prefix "
                    "(strings, e.g. postcodes) or date (ISO dates)");
    if (check_field_privacy(ld, g, section, f) != 0)
        return RIFFLE_ERR_CFG;
    if (f->privacy == CFG_PRIVACY_PSEUDONYM && numeric)
        return fail(ld, g, dotted(key, sizeof(key), section, "personal"),
                    "a pseudonym is a token, not a number: use kind = "
                    "\"categorical\" for this field, or coarsen it");
    return 0;
}

/* A field's name and kind, read first: the defaults of the rules below
 * depend on the kind. */
static const struct key_spec field_kind_table[] = {
    KEY_STR("name", 1, FIELD_AT(name)),
    {.name = "kind", .kind = KEY_ENUM, .required = 1, FIELD_AT(kind),
     .names = field_kinds},
    KEY_END};

/* Cleaning rules (presence, missing values, range action, transform and
 * length cap), then the privacy action and its settings. */
static const struct key_spec field_table[] = {
    KEY_FLAG("required", FIELD_AT(required)),
    KEY_ENUM("missing", FIELD_AT(missing), missing_actions),
    KEY_FLAG("indicator", FIELD_AT(missing_indicator)),
    KEY_NUM("impute_value", FIELD_AT(missing_value), -CFG_NUMBER_LIMIT,
            CFG_NUMBER_LIMIT),
    KEY_ENUM("on_range", FIELD_AT(on_range), range_actions),
    KEY_ENUM("transform", FIELD_AT(transform), transforms),
    KEY_INT("max_length", FIELD_AT(max_length), 0, CFG_MAX_FIELD_LENGTH),
    KEY_ENUM("personal", FIELD_AT(privacy), privacy_actions),
    KEY_NUM("band", FIELD_AT(band_width), 0, CFG_NUMBER_LIMIT),
    KEY_INT("keep_prefix", FIELD_AT(keep_prefix), 0, CFG_MAX_KEEP_PREFIX),
    KEY_ENUM("date", FIELD_AT(date_precision), date_precisions),
    KEY_INT("keep_last", FIELD_AT(keep_last), 0, CFG_MAX_KEEP_LAST),
    KEY_NUM("epsilon", FIELD_AT(epsilon), 0, CFG_NUMBER_LIMIT),
    KEY_NUM("sensitivity", FIELD_AT(sensitivity), 0, CFG_NUMBER_LIMIT),
    KEY_END};

/* Read after the label values, namespace and buckets. */
static const struct key_spec field_range_table[] = {
    KEY_NUM("min", FIELD_AT(min), -CFG_NUMBER_LIMIT, CFG_NUMBER_LIMIT),
    KEY_NUM("max", FIELD_AT(max), -CFG_NUMBER_LIMIT, CFG_NUMBER_LIMIT),
    KEY_END};

/* Name and kind, and the defaults that depend on the kind: an id or a
 * label must be present; a missing categorical gets a "(missing)" token,
 * a missing numeric is rejected. */
static int load_field_kind(const struct loader *ld, const config_setting_t *g,
                           const char *section, struct cfg_field *f)
{
    int err = check_keys(ld, g, section);

    if (!err)
        err = load_keys(ld, g, section, field_kind_table, f);
    if (err)
        return err;

    f->required = f->kind == CFG_FIELD_LABEL || f->kind == CFG_FIELD_ID;
    f->missing = f->kind == CFG_FIELD_CATEGORICAL ? CFG_MISSING_TOKEN
                                                  : CFG_MISSING_REJECT;
    return 0;
}

/* Refuses an entry of the list `key` of group g (n entries) that is an
 * entry of `other_key` too (other_n entries; when that is the same list,
 * an entry before it): a label value names one class, and of two, the
 * learner would silently use the first. */
static int refuse_shared_value(const struct loader *ld,
                               const config_setting_t *g, const char *section,
                               const char *key,
                               const char (*list)[CFG_NAME_MAX], size_t n,
                               const char *other_key,
                               const char (*other)[CFG_NAME_MAX],
                               size_t other_n)
{
    char full[CFG_KEY_MAX];
    size_t i, j;

    for (j = 0; j < n; j++)
        for (i = 0; i < (other == list ? j : other_n); i++)
            if (strcmp(list[j], other[i]) == 0)
                return fail(ld, config_setting_get_elem(
                                    config_setting_get_member(g, key),
                                    (unsigned)j),
                            dotted(full, sizeof(full), section, key),
                            "entry %zu \"%s\" is already entry %zu of %s: "
                            "a label value names one class", j + 1, list[j],
                            i + 1, other_key);
    return 0;
}

/* Label values, the feature namespace and bucket boundaries. */
static int load_field_features(const struct loader *ld,
                               const config_setting_t *g,
                               const char *section, struct cfg_field *f)
{
    int err = get_string_list(ld, g, section, "positive", f->positive,
                              CFG_MAX_TOKENS, &f->positive_count);

    if (!err)
        err = get_string_list(ld, g, section, "negative", f->negative,
                              CFG_MAX_TOKENS, &f->negative_count);
    if (!err)
        err = refuse_shared_value(ld, g, section, "negative",
                                  (const char(*)[CFG_NAME_MAX])f->negative,
                                  f->negative_count, "positive",
                                  (const char(*)[CFG_NAME_MAX])f->positive,
                                  f->positive_count);
    if (!err)
        err = get_string(ld, g, section, "namespace", 0, f->namespace_name,
                         sizeof(f->namespace_name));
    if (!err)
        err = get_number_list(ld, g, section, "buckets", f->buckets,
                              CFG_MAX_BUCKETS, &f->bucket_count);
    if (err)
        return err;

    if (f->namespace_name[0] == '\0')
        snprintf(f->namespace_name, sizeof(f->namespace_name), "%s", f->name);
    return 0;
}

static int load_field(const struct loader *ld, const config_setting_t *g,
                      int index, struct cfg_field *f)
{
    char section[CFG_SECTION_MAX];
    int err;

    snprintf(section, sizeof(section), "fields[%d]", index);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail(ld, g, section, "expected a group { name = ...; }");
    f->line = config_setting_source_line(g);

    err = load_field_kind(ld, g, section, f);
    if (!err)
        err = load_keys(ld, g, section, field_table, f);
    if (!err)
        err = load_field_features(ld, g, section, f);
    if (!err) {
        f->has_min = config_setting_get_member(g, "min") != NULL;
        f->has_max = config_setting_get_member(g, "max") != NULL;
        err = load_keys(ld, g, section, field_range_table, f);
    }
    /* A noised value moves by at most the width of its range. */
    if (!err && f->privacy == CFG_PRIVACY_NOISE && f->sensitivity == 0 &&
        f->has_min && f->has_max)
        f->sensitivity = f->max - f->min;
    if (!err)
        err = check_field(ld, g, section, f);
    return err;
}

/* allowed = [...]: copied NUL-separated into cfg->allowed_pool. */
static int load_allowed(const struct loader *ld, const config_setting_t *g,
                        const char *section, struct cfg *cfg,
                        struct cfg_field *f)
{
    config_setting_t *s;
    char full[CFG_KEY_MAX];
    int i, n;
    int err = find_list(ld, g, section, "allowed", CFG_MAX_ALLOWED, &s, &n);

    if (err || !s)
        return err;

    f->allowed_offset = cfg->allowed_pool_used;
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, i);
        size_t len;

        err = check_entry_type(ld, e, section, "allowed", i,
                               CONFIG_TYPE_STRING);
        if (err)
            return err;
        len = strlen(config_setting_get_string(e)) + 1;
        if (cfg->allowed_pool_used + len > sizeof(cfg->allowed_pool))
            return fail(ld, e, dotted(full, sizeof(full), section,
                                      "allowed"),
                        "entry %d: the allowed categories of all fields "
                        "exceed %d bytes", i + 1, CFG_ALLOWED_POOL);
        memcpy(cfg->allowed_pool + cfg->allowed_pool_used,
               config_setting_get_string(e), len);
        cfg->allowed_pool_used += len;
    }
    f->allowed_count = (size_t)n;
    return 0;
}

/* pattern: compiled once here so that a bad expression is a start-up
 * error naming its line; the cleaner compiles its own copy. */
static int load_pattern(const struct loader *ld, const config_setting_t *g,
                        const char *section, struct cfg_field *f)
{
    char full[CFG_KEY_MAX], why[CFG_MESSAGE_MAX];
    regex_t re;
    int rc, err = get_string(ld, g, section, "pattern", 0, f->pattern,
                             sizeof(f->pattern));

    if (err || !f->pattern[0])
        return err;

    rc = cfg_compile_pattern(f->pattern, &re);
    if (rc == 0) {
        regfree(&re);
        return 0;
    }
    regerror(rc, &re, why, sizeof(why));
    return fail(ld, config_setting_get_member(g, "pattern"),
                dotted(full, sizeof(full), section, "pattern"),
                "not a POSIX extended regular expression: %s", why);
}

static double default_outlier_k(enum cfg_outlier_rule rule)
{
    return rule == CFG_OUTLIER_MAD   ? CFG_DEFAULT_MAD_K
           : rule == CFG_OUTLIER_IQR ? CFG_DEFAULT_IQR_K
                                     : CFG_DEFAULT_ZSCORE_K;
}

/* What an invalid string becomes, the outlier rule and the label's
 * threshold. outlier_threshold stays 0 when not given; the rule's usual
 * k replaces it after the walk. */
static const struct key_spec field_quality_table[] = {
    KEY_ENUM("on_invalid", FIELD_AT(on_invalid), invalid_actions),
    KEY_ENUM("outlier", FIELD_AT(outlier), outlier_rules),
    KEY_POS("outlier_threshold", FIELD_AT(outlier_threshold),
            CFG_MAX_OUTLIER_K),
    KEY_ENUM("on_outlier", FIELD_AT(on_outlier), outlier_actions),
    KEY_INT("outlier_warmup", FIELD_AT(outlier_warmup), 2,
            CFG_MAX_OUTLIER_WARMUP),
    KEY_NUM("threshold", FIELD_AT(threshold), -CFG_NUMBER_LIMIT,
            CFG_NUMBER_LIMIT),
    KEY_END};

/* key = ( ["a", "b"], ... ): pairs of strings, at most max. */
static int load_pairs(const struct loader *ld, const config_setting_t *g,
                      const char *section, const char *key,
                      char (*dst)[2][CFG_NAME_MAX], size_t max, size_t *count)
{
    config_setting_t *s;
    char full[CFG_KEY_MAX];
    int i, j, n;
    int err = find_list(ld, g, section, key, max, &s, &n);

    if (err || !s)
        return err;

    dotted(full, sizeof(full), section, key);
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, i);
        int type = config_setting_type(e);

        if ((type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) ||
            config_setting_length(e) != 2)
            return fail(ld, e, full, "entry %d: expected a pair "
                        "[\"from\", \"to\"]", i + 1);
        for (j = 0; j < 2; j++) {
            const char *v = config_setting_get_string_elem(e, j);

            if (!v)
                return fail(ld, e, full, "entry %d: expected two strings",
                            i + 1);
            if (strlen(v) >= CFG_NAME_MAX)
                return fail(ld, e, full, "entry %d: longer than %d bytes",
                            i + 1, CFG_NAME_MAX - 1);
            snprintf(dst[i][j], CFG_NAME_MAX, "%s", v);
        }
    }
    *count = (size_t)n;
    return 0;
}

/* relabel = ( ["noisy", "clean"], ... ): rewrites of label values. */
static int load_relabel(const struct loader *ld, const config_setting_t *g,
                        const char *section, struct cfg *cfg)
{
    return load_pairs(ld, g, section, "relabel", cfg->relabel,
                      CFG_MAX_RELABEL, &cfg->relabel_count);
}

/* The keys of issue 5 (allowed categories, pattern, invalid and outlier
 * actions, the label's threshold and rewrites), then their fit. */
static int load_field_quality(const struct loader *ld,
                              const config_setting_t *g, int index,
                              struct cfg *cfg, struct cfg_field *f)
{
    char section[CFG_SECTION_MAX];
    int err;

    snprintf(section, sizeof(section), "fields[%d]", index);
    f->has_threshold = config_setting_get_member(g, "threshold") != NULL;
    f->outlier_threshold = 0;
    f->outlier_warmup = CFG_DEFAULT_OUTLIER_WARMUP;
    err = load_allowed(ld, g, section, cfg, f);
    if (!err)
        err = load_pattern(ld, g, section, f);
    if (!err)
        err = load_keys(ld, g, section, field_quality_table, f);
    if (!err && f->kind == CFG_FIELD_LABEL)
        err = load_relabel(ld, g, section, cfg);
    if (err)
        return err;

    if (f->outlier_threshold == 0)
        f->outlier_threshold = default_outlier_k(f->outlier);
    return check_field_quality(ld, g, section, f);
}

/* Field index names a field no earlier group configured. */
static int check_unique(const struct loader *ld, const config_setting_t *g,
                        const struct cfg *cfg, int index)
{
    const char *name = cfg->fields[index].name;
    char key[CFG_KEY_MAX];
    int j;

    for (j = 0; j < index; j++)
        if (strcmp(cfg->fields[j].name, name) == 0) {
            snprintf(key, sizeof(key), "fields[%d].name", index);
            return fail(ld, g, key, "field \"%s\" is already configured in "
                        "fields[%d]", name, j);
        }
    return 0;
}

/* The label's classes = [...], kept in struct cfg rather than the field:
 * there is one list per pipeline. */
static int load_classes(const struct loader *ld, const config_setting_t *g,
                        int index, struct cfg *cfg)
{
    char section[CFG_SECTION_MAX];

    const char(*classes)[CFG_NAME_MAX] =
        (const char(*)[CFG_NAME_MAX])cfg->classes;
    int err;

    snprintf(section, sizeof(section), "fields[%d]", index);
    err = get_string_list(ld, g, section, "classes", cfg->classes,
                          CFG_MAX_CLASSES, &cfg->class_count);
    if (!err)
        err = refuse_shared_value(ld, g, section, "classes", classes,
                                  cfg->class_count, "classes", classes,
                                  cfg->class_count);
    return err;
}

static int load_fields(const struct loader *ld, const config_setting_t *root,
                       struct cfg *cfg)
{
    config_setting_t *list;
    int i, n, err = find_member(ld, root, "", "fields", 1, CONFIG_TYPE_LIST,
                                &list);
    size_t labels = 0, ids = 0;

    if (err)
        return err;

    n = config_setting_length(list);
    if (n == 0 || n > CFG_MAX_FIELDS)
        return fail(ld, list, "fields", "expected 1 to %d field groups",
                    CFG_MAX_FIELDS);

    for (i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, i);
        struct cfg_field *f = &cfg->fields[i];

        err = load_field(ld, g, i, f);
        if (!err)
            err = load_field_quality(ld, g, i, cfg, f);
        if (!err)
            err = check_unique(ld, g, cfg, i);
        if (!err && f->kind == CFG_FIELD_LABEL)
            err = load_classes(ld, g, i, cfg);
        if (err)
            return err;
        labels += f->kind == CFG_FIELD_LABEL;
        ids += f->kind == CFG_FIELD_ID;
    }
    cfg->field_count = (size_t)n;

    if (labels != 1 || ids != 1)
        return fail(ld, list, "fields",
                    "expected exactly one field of kind \"label\" and one "
                    "of kind \"id\" (found %zu and %zu)", labels, ids);
    return 0;
}

/* <prefix>_env, <prefix>_file and <prefix>_id of the privacy group. */
static int load_key_source(const struct loader *ld, const config_setting_t *g,
                           const char *prefix, struct cfg_key_source *src)
{
    char key[CFG_KEY_MAX], full[CFG_KEY_MAX];
    int err;

    snprintf(key, sizeof(key), "%s_env", prefix);
    err = get_string(ld, g, "privacy", key, 0, src->env, sizeof(src->env));
    snprintf(key, sizeof(key), "%s_file", prefix);
    if (!err)
        err = get_string(ld, g, "privacy", key, 0, src->file,
                         sizeof(src->file));
    snprintf(key, sizeof(key), "%s_id", prefix);
    if (!err)
        err = get_string(ld, g, "privacy", key, 0, src->id, sizeof(src->id));
    if (!err && (src->id[0] == '\0' || strlen(src->id) > CFG_KEY_ID_MAX ||
                 strpbrk(src->id, ":= \t")))
        return fail(ld, config_setting_get_member(g, key),
                    dotted(full, sizeof(full), "privacy", key),
                    "expected 1 to %d characters without ':', '=' or blanks",
                    CFG_KEY_ID_MAX);
    return err;
}

static const struct key_spec kanon_table[] = {
    KEY_INT("k", CFG_AT(kanon_k), 2, CFG_MAX_KANON_K),
    KEY_INT("window", CFG_AT(kanon_window), 1, CFG_MAX_KANON_WINDOW),
    KEY_END};

/* privacy.k_anonymity: which fields, k, and the window. */
static int load_kanon(const struct loader *ld, const config_setting_t *g,
                      struct cfg *cfg)
{
    static const char section[] = "privacy.k_anonymity";
    config_setting_t *kg;
    size_t i;
    int err = find_member(ld, g, "privacy", "k_anonymity", 0,
                          CONFIG_TYPE_GROUP, &kg);

    if (err || !kg)
        return err;
    cfg->kanon_line = config_setting_source_line(kg);
    err = check_keys(ld, kg, section);
    if (!err)
        err = get_string_list(ld, kg, section, "quasi_identifiers",
                              cfg->quasi_ids, CFG_MAX_QUASI_IDS,
                              &cfg->quasi_id_count);
    if (!err)
        err = load_keys(ld, kg, section, kanon_table, cfg);
    if (err)
        return err;
    if (cfg->quasi_id_count == 0)
        return fail(ld, kg, "privacy.k_anonymity.quasi_identifiers",
                    "missing required setting (a list of field names)");
    for (i = 0; i < cfg->quasi_id_count; i++)
        if (!cfg_find_field(cfg, cfg->quasi_ids[i]))
            return fail(ld, config_setting_get_member(kg,
                                                      "quasi_identifiers"),
                        "privacy.k_anonymity.quasi_identifiers",
                        "\"%s\" is not a configured field",
                        cfg->quasi_ids[i]);
    return 0;
}

/* privacy.prediction_fields: only fields whose value is safe to publish
 * as the model sees it, so predictions leak nothing either. */
static int load_prediction_fields(const struct loader *ld,
                                  const config_setting_t *g, struct cfg *cfg)
{
    static const char key[] = "privacy.prediction_fields";
    const config_setting_t *list;
    const struct cfg_field *f;
    size_t i;
    int err = get_string_list(ld, g, "privacy", "prediction_fields",
                              cfg->prediction_fields,
                              CFG_MAX_PREDICTION_FIELDS,
                              &cfg->prediction_field_count);

    if (err)
        return err;
    list = config_setting_get_member(g, "prediction_fields");
    for (i = 0; i < cfg->prediction_field_count; i++) {
        f = cfg_find_field(cfg, cfg->prediction_fields[i]);
        if (!f)
            return fail(ld, list, key, "\"%s\" is not a configured field",
                        cfg->prediction_fields[i]);
        if (f->privacy == CFG_PRIVACY_DROP ||
            f->privacy == CFG_PRIVACY_NOISE)
            return fail(ld, list, key, "\"%s\" is personal = \"%s\": a "
                        "prediction may carry only fields that are not "
                        "personal or are encrypted, pseudonymized, masked "
                        "or coarsened", f->name,
                        f->privacy == CFG_PRIVACY_DROP ? "drop" : "noise");
    }
    return 0;
}

/* The pseudonym key; the other keys and k-anonymity follow by hand. */
static const struct key_spec privacy_table[] = {
    KEY_STR("key_file", 0, CFG_AT(key_file)),
    KEY_STR("key_env", 0, CFG_AT(key_env)),
    KEY_STR("key_id", 0, CFG_AT(key_id)),
    KEY_END};

static int load_privacy(const struct loader *ld, const config_setting_t *root,
                        struct cfg *cfg)
{
    config_setting_t *g;
    int err = get_group(ld, root, "privacy", 0, &g);

    if (err || !g)
        return err;

    cfg->privacy_line = config_setting_source_line(g);
    err = check_keys(ld, g, "privacy");
    if (!err)
        err = load_keys(ld, g, "privacy", privacy_table, cfg);
    if (!err)
        err = load_key_source(ld, g, "encrypt_key", &cfg->encrypt_key);
    if (!err)
        err = load_key_source(ld, g, "dead_letter_key", &cfg->dead_letter_key);
    if (!err)
        err = load_kanon(ld, g, cfg);
    if (!err)
        err = load_prediction_fields(ld, g, cfg);
    return err;
}

static const struct enum_name losses[] = {
    {"logistic", MODEL_LOSS_LOGISTIC}, {"squared", MODEL_LOSS_SQUARED},
    {"hinge", MODEL_LOSS_HINGE}, {NULL, 0}};
static const struct enum_name optimizers[] = {
    {"sgd", MODEL_OPT_SGD},           {"adagrad", MODEL_OPT_ADAGRAD},
    {"rmsprop", MODEL_OPT_RMSPROP},   {"adam", MODEL_OPT_ADAM},
    {"normalized", MODEL_OPT_NORMALIZED}, {"ftrl", MODEL_OPT_FTRL},
    {NULL, 0}};

/* The learner's keys in the ranges model.h gives: the step size and what
 * shapes each step (the lower bounds, 0, are model_params_check()'s
 * too), then the keys of rmsprop, adam and ftrl; model_params_check()
 * adds the rule that only ftrl takes l1. */
static const struct key_spec learner_table[] = {
    KEY_STR("model_name", 1, CFG_AT(model_name)),
    KEY_INT("bits", CFG_AT(model.bits), MODEL_MIN_BITS, MODEL_MAX_BITS),
    KEY_ENUM("loss", CFG_AT(model.loss), losses),
    KEY_ENUM("optimizer", CFG_AT(model.optimizer), optimizers),
    KEY_POS("learning_rate", CFG_AT(model.learning_rate),
            MODEL_MAX_LEARNING_RATE),
    KEY_NUM("power_t", CFG_AT(model.power_t), 0.0, MODEL_MAX_POWER_T),
    KEY_NUM("l2", CFG_AT(model.l2), 0.0, MODEL_MAX_L2),
    KEY_POS("gradient_clip", CFG_AT(model.gradient_clip),
            MODEL_MAX_GRADIENT_CLIP),
    KEY_INT("hash_seed", CFG_AT(hash_seed), 0, UINT32_MAX),
    KEY_NUM("l1", CFG_AT(model.l1), 0, MODEL_MAX_L1),
    KEY_NUM("beta1", CFG_AT(model.beta1), 0, MODEL_MAX_DECAY),
    KEY_NUM("beta2", CFG_AT(model.beta2), 0, MODEL_MAX_DECAY),
    KEY_NUM("rho", CFG_AT(model.rho), 0, MODEL_MAX_DECAY),
    KEY_NUM("epsilon", CFG_AT(model.epsilon), MODEL_MIN_EPSILON,
            MODEL_MAX_EPSILON),
    KEY_NUM("ftrl_beta", CFG_AT(model.ftrl_beta), MODEL_MIN_FTRL_BETA,
            MODEL_MAX_FTRL_BETA),
    KEY_END};

static int load_learner(const struct loader *ld, const config_setting_t *root,
                        struct cfg *cfg)
{
    config_setting_t *g;
    int err = get_group(ld, root, "learner", 1, &g);

    if (err)
        return err;

    cfg->learner_line = config_setting_source_line(g);
    err = check_keys(ld, g, "learner");
    if (!err)
        err = load_keys(ld, g, "learner", learner_table, cfg);
    return err;
}

/* Writes the distinct namespaces of the feature fields into out as
 * "a, b, c", so that an interaction naming none of them shows what it
 * could name (a namespace is the field's name unless set: a misspelt
 * field name surfaces here first). */
static void list_namespaces(const struct cfg *cfg, char *out, size_t size)
{
    size_t i, j, len = 0;

    out[0] = '\0';
    for (i = 0; i < cfg->field_count && len < size; i++) {
        const struct cfg_field *f = &cfg->fields[i];

        if (f->kind != CFG_FIELD_NUMERIC && f->kind != CFG_FIELD_CATEGORICAL)
            continue;
        for (j = 0; j < i; j++)
            if (strcmp(cfg->fields[j].namespace_name, f->namespace_name) == 0)
                break;
        if (j < i)
            continue; /* listed with an earlier field */
        len += (size_t)snprintf(out + len, size - len, "%s%s",
                                len ? ", " : "", f->namespace_name);
    }
}

/* learner.interactions = ["a*b", ...]: each names two namespaces of the
 * fields (a namespace may be crossed with itself). */
static int load_interactions(const struct loader *ld,
                             const config_setting_t *root, struct cfg *cfg)
{
    char pairs[CFG_MAX_INTERACTIONS][CFG_NAME_MAX];
    config_setting_t *g = config_setting_get_member(root, "learner");
    size_t n = 0, i, j, k;
    int err;

    /* 4 bytes per weight */
    cfg->count_collisions = cfg->model.bits <= CFG_COLLISIONS_MAX_BITS;
    err = get_bool(ld, g, "learner", "count_collisions",
                   &cfg->count_collisions);
    if (!err)
        err = get_string_list(ld, g, "learner", "interactions", pairs,
                              CFG_MAX_INTERACTIONS, &n);
    if (err)
        return err;

    for (i = 0; i < n; i++) {
        const char *star = strchr(pairs[i], '*');
        const config_setting_t *at = config_setting_get_member(g,
                                                               "interactions");

        if (!star || star == pairs[i] || !star[1] || strchr(star + 1, '*'))
            return fail(ld, at, "learner.interactions",
                        "entry %zu \"%s\": expected \"namespace*namespace\"",
                        i + 1, pairs[i]);
        snprintf(cfg->interactions[i][0], CFG_NAME_MAX, "%.*s",
                 (int)(star - pairs[i]), pairs[i]);
        snprintf(cfg->interactions[i][1], CFG_NAME_MAX, "%s", star + 1);
        for (k = 0; k < 2; k++) {
            for (j = 0; j < cfg->field_count; j++)
                if (strcmp(cfg->fields[j].namespace_name,
                           cfg->interactions[i][k]) == 0)
                    break;
            if (j == cfg->field_count) {
                char names[CFG_MESSAGE_MAX / 2];

                list_namespaces(cfg, names, sizeof(names));
                return fail(ld, at, "learner.interactions",
                            "entry %zu: no field is in namespace \"%s\" "
                            "(the fields' namespaces are: %s)",
                            i + 1, cfg->interactions[i][k], names);
            }
        }
    }
    cfg->interaction_count = n;
    return 0;
}

static const struct enum_name drift_detectors[] = {
    {"none", -1}, {"adwin", DRIFT_ADWIN},
    {"page_hinkley", DRIFT_PAGE_HINKLEY}, {NULL, 0}};

static const struct key_spec drift_table[] = {
    KEY_ENUM("detector", CFG_AT(drift_detector), drift_detectors),
    KEY_NUM("delta", CFG_AT(drift_delta), CFG_MIN_DRIFT_PARAM,
            CFG_MAX_DRIFT_DELTA),
    KEY_NUM("lambda", CFG_AT(drift_lambda), CFG_MIN_DRIFT_PARAM,
            CFG_MAX_DRIFT_LAMBDA),
    KEY_INT("metrics_every", CFG_AT(metrics_every_events), 1,
            CFG_MAX_EVERY_EVENTS),
    KEY_NUM("react", CFG_AT(drift_react), 0.0, 1.0),
    KEY_END};

static int load_drift(const struct loader *ld, const config_setting_t *root,
                      struct cfg *cfg)
{
    struct drift_params defaults;
    config_setting_t *g;
    int err;

    drift_params_default(&defaults);
    cfg->drift_detector = DRIFT_ADWIN;
    cfg->drift_delta = defaults.adwin.delta;
    cfg->drift_lambda = defaults.ph.lambda;
    cfg->metrics_every_events = cfg->progress_every_events;
    cfg->drift_react = 1.0;
    err = load_group(ld, root, "drift", 0, cfg, &g);
    if (err || !g)
        return err;
    if (cfg->drift_react < 1.0 && (cfg->model.optimizer == MODEL_OPT_SGD ||
                                   cfg->model.optimizer == MODEL_OPT_FTRL))
        return fail(ld, config_setting_get_member(g, "react"), "drift.react",
                    "the %s optimizer keeps no step-size history to scale; "
                    "leave react at 1",
                    cfg_optimizer_name(cfg->model.optimizer));

    /* Page-Hinkley's delta is an amount of error, not a confidence. */
    if (cfg->drift_detector == DRIFT_PAGE_HINKLEY &&
        !config_setting_get_member(g, "delta"))
        cfg->drift_delta = defaults.ph.delta;
    return 0;
}

static const struct enum_name past_end_actions[] = {
    {"stop", CFG_PAST_END_STOP}, {"earliest", CFG_PAST_END_EARLIEST},
    {"latest", CFG_PAST_END_LATEST}, {NULL, 0}};

static const struct key_spec snapshot_table[] = {
    KEY_INT("every_events", CFG_AT(snapshot_every_events), 1,
            CFG_MAX_EVERY_EVENTS),
    KEY_NUM("every_seconds", CFG_AT(snapshot_every_seconds),
            CFG_MIN_SNAPSHOT_SECONDS, CFG_MAX_SNAPSHOT_SECONDS),
    KEY_INT("chunk_bytes", CFG_AT(snapshot_chunk_bytes),
            CFG_MIN_SNAPSHOT_CHUNK, CFG_MAX_SNAPSHOT_CHUNK),
    KEY_ENUM("on_offset_past_end", CFG_AT(on_offset_past_end),
             past_end_actions),
    KEY_END};

static const struct enum_name delivery_modes[] = {
    {"exactly_once", CFG_DELIVERY_EXACTLY_ONCE},
    {"at_least_once", CFG_DELIVERY_AT_LEAST_ONCE}, {NULL, 0}};

static const struct key_spec delivery_table[] = {
    KEY_ENUM("mode", CFG_AT(delivery), delivery_modes),
    KEY_INT("batch_events", CFG_AT(txn_every_events), 1,
            CFG_MAX_EVERY_EVENTS),
    KEY_INT("batch_ms", CFG_AT(txn_every_ms), 1, CFG_MAX_TXN_MS),
    KEY_STR("transactional_id", 0, CFG_AT(transactional_id)),
    KEY_INT("transaction_timeout_ms", CFG_AT(txn_timeout_ms),
            CFG_MIN_TXN_TIMEOUT_MS, CFG_MAX_TXN_TIMEOUT_MS),
    KEY_END};

static int load_delivery(const struct loader *ld,
                         const config_setting_t *root, struct cfg *cfg)
{
    config_setting_t *g;
    int err = load_group(ld, root, "delivery", 0, cfg, &g);

    if (!err && g && cfg->txn_timeout_ms > 0 &&
        cfg->txn_timeout_ms < CFG_TXN_TIMEOUT_BATCHES * cfg->txn_every_ms)
        err = fail(ld, config_setting_get_member(g, "transaction_timeout_ms"),
                   "delivery.transaction_timeout_ms", "%ld is too short for "
                   "batch_ms = %ld: expected at least %d times batch_ms, or "
                   "every batch would time out", cfg->txn_timeout_ms,
                   cfg->txn_every_ms, CFG_TXN_TIMEOUT_BATCHES);
    return err;
}

/* How often the instances of one pipeline merge their models through
 * the model topic (docs/SCALING.md); 0 and 0 never merge. */
static const struct key_spec scaling_table[] = {
    KEY_INT("merge_every_events", CFG_AT(merge_every_events), 0,
            CFG_MAX_EVERY_EVENTS),
    KEY_NUM("merge_every_seconds", CFG_AT(merge_every_seconds), 0.0,
            CFG_MAX_MERGE_SECONDS),
    KEY_POS("instance_expiry_seconds", CFG_AT(instance_expiry_seconds),
            CFG_MAX_INSTANCE_EXPIRY_S),
    KEY_END};

static const struct enum_name log_formats[] = {
    {"text", 0}, {"json", 1}, {NULL, 0}};

static const struct key_spec log_table[] = {
    KEY_INT("progress_every", CFG_AT(progress_every_events), 1,
            CFG_MAX_EVERY_EVENTS),
    KEY_ENUM("format", CFG_AT(log_json), log_formats),
    KEY_END};

/* serve's topics, group and delivery, checked against each other before
 * its HTTP side (serve_http_table) is read. */
static const struct key_spec serve_table[] = {
    KEY_TOPIC("requests", 1, CFG_AT(serve_requests)),
    KEY_TOPIC("predictions", 1, CFG_AT(serve_predictions)),
    KEY_STR("group_id", 0, CFG_AT(serve_group_id)),
    KEY_INT("partitions", CFG_AT(serve_partitions), 1, CFG_MAX_PARTITIONS),
    KEY_INT("commit_every_ms", CFG_AT(serve_commit_every_ms), 1,
            CFG_MAX_SERVE_COMMIT_MS),
    KEY_ENUM("delivery", CFG_AT(serve_delivery), delivery_modes),
    KEY_INT("transaction_timeout_ms", CFG_AT(serve_txn_timeout_ms),
            CFG_MIN_TXN_TIMEOUT_MS, CFG_MAX_TXN_TIMEOUT_MS),
    KEY_END};

/* The HTTP side of serve: where it listens and what a request may
 * cost it. */
static const struct key_spec serve_http_table[] = {
    KEY_STR("http_address", 0, CFG_AT(serve_http_address)),
    KEY_INT("http_port", CFG_AT(serve_http_port), 0, CFG_MAX_PORT),
    KEY_INT("http_max_body_bytes", CFG_AT(serve_http_max_body_bytes), 2,
            CFG_MAX_SERVE_BODY),
    KEY_NUM("http_timeout_seconds", CFG_AT(serve_http_timeout_seconds),
            CFG_MIN_SERVE_TIMEOUT_S, CFG_MAX_SERVE_TIMEOUT_S),
    KEY_INT("http_threads", CFG_AT(serve_http_threads), 1,
            CFG_MAX_SERVE_THREADS),
    KEY_END};

static int load_serve(const struct loader *ld, const config_setting_t *root,
                      struct cfg *cfg)
{
    config_setting_t *g;
    int err = get_group(ld, root, "serve", 0, &g);

    if (err || !g)
        return err;
    cfg->serve_line = config_setting_source_line(g);

    err = check_keys(ld, g, "serve");
    if (!err)
        err = load_keys(ld, g, "serve", serve_table, cfg);
    if (!err && cfg->serve_txn_timeout_ms > 0 &&
        cfg->serve_txn_timeout_ms <
            CFG_TXN_TIMEOUT_BATCHES * cfg->serve_commit_every_ms)
        err = fail(ld, config_setting_get_member(g, "transaction_timeout_ms"),
                   "serve.transaction_timeout_ms", "%ld is too short for "
                   "commit_every_ms = %ld: expected at least %d times "
                   "commit_every_ms, or every transaction would time out",
                   cfg->serve_txn_timeout_ms, cfg->serve_commit_every_ms,
                   CFG_TXN_TIMEOUT_BATCHES);
    if (!err)
        err = load_keys(ld, g, "serve", serve_http_table, cfg);
    return err;
}

/* The label's settings say what is learned: positive values make a
 * binary task, classes a multiclass one, neither a regression, which
 * only the squared loss can learn. */
static int decide_task(const struct loader *ld, const config_setting_t *root,
                       struct cfg *cfg)
{
    const config_setting_t *fields = config_setting_get_member(root,
                                                               "fields");
    const struct cfg_field *label = cfg_field_of_kind(cfg, CFG_FIELD_LABEL);

    if (label->positive_count > 0 && cfg->class_count > 0)
        return fail(ld, fields, "fields", "the label \"%s\" has both "
                    "positive values and classes: choose one", label->name);
    if (label->has_threshold &&
        (label->positive_count > 0 || cfg->class_count > 0))
        return fail(ld, fields, "fields", "the label \"%s\" has a "
                    "threshold and also positive values or classes: "
                    "choose one", label->name);
    if (cfg->class_count == 1)
        return fail(ld, fields, "fields", "the label \"%s\" needs at least "
                    "two classes", label->name);

    if (cfg->class_count > 0)
        cfg->task = CFG_TASK_MULTICLASS;
    else if (label->positive_count > 0 || label->has_threshold)
        cfg->task = CFG_TASK_BINARY;
    else
        cfg->task = CFG_TASK_REGRESSION;

    if (cfg->task == CFG_TASK_REGRESSION &&
        cfg->model.loss != MODEL_LOSS_SQUARED)
        return fail(ld, config_setting_get_member(root, "learner"),
                    "learner.loss",
                    "the label \"%s\" has neither positive values nor "
                    "classes, so it is a regression target: set loss = "
                    "\"squared\" (or give positive values or classes)",
                    label->name);
    if (cfg->task != CFG_TASK_REGRESSION &&
        cfg->model.loss == MODEL_LOSS_SQUARED && cfg->class_count > 0)
        return fail(ld, config_setting_get_member(root, "learner"),
                    "learner.loss", "multiclass learning needs loss "
                    "\"logistic\" or \"hinge\"");
    return 0;
}

/* The lateness keys only make sense together, and routing must not copy
 * raw personal values to a topic. */
static int check_lateness(const struct loader *ld, const config_setting_t *g,
                          const struct cfg *cfg)
{
    int has_time = cfg->event_time[0] != '\0';

    if (!has_time && (config_setting_get_member(g, "on_late") ||
                      config_setting_get_member(g, "allowed_lateness") ||
                      config_setting_get_member(g, "event_time_unit")))
        return fail(ld, g, "cleaning.event_time",
                    "required with on_late, allowed_lateness or "
                    "event_time_unit");
    if ((cfg->on_late == CFG_LATE_ROUTE) != (cfg->late_topic[0] != '\0'))
        return fail(ld, g, "cleaning.late_topic",
                    "on_late = \"route\" and late_topic go together");
    if (cfg->on_late == CFG_LATE_ROUTE && cfg_has_personal_fields(cfg))
        return fail(ld, g, "cleaning.on_late",
                    "route would copy raw personal values to %s: use "
                    "\"reject\" (dead letters) or \"accept\"",
                    cfg->late_topic);
    if (has_time && !cfg_find_field(cfg, cfg->event_time))
        return fail(ld, config_setting_get_member(g, "event_time"),
                    "cleaning.event_time", "\"%s\" is not a configured "
                    "field (kind \"ignore\" is fine)", cfg->event_time);
    return 0;
}

static const struct enum_name time_units[] = {
    {"ms", 1}, {"s", 1000}, {NULL, 0}};
static const struct enum_name late_actions[] = {
    {"accept", CFG_LATE_ACCEPT}, {"reject", CFG_LATE_REJECT},
    {"route", CFG_LATE_ROUTE}, {NULL, 0}};

/* The duplicate window, then event_time, its unit (milliseconds per
 * unit), the allowed lateness (seconds, kept in milliseconds) and what
 * to do beyond it. */
static const struct key_spec cleaning_table[] = {
    KEY_INT("dedup_window", CFG_AT(dedup_window), 0, DEDUP_MAX_WINDOW),
    KEY_STR("event_time", 0, CFG_AT(event_time)),
    KEY_ENUM("event_time_unit", CFG_AT(event_time_ms), time_units),
    {.name = "allowed_lateness", .kind = KEY_NUMBER,
     CFG_AT(allowed_lateness_ms), .lo = 0, .hi = CFG_MAX_LATENESS_SECONDS,
     .scale = 1000.0},
    KEY_ENUM("on_late", CFG_AT(on_late), late_actions),
    KEY_TOPIC("late_topic", 0, CFG_AT(late_topic)),
    KEY_END};

#define SOURCE_AT(m)                            \
    .offset = offsetof(struct cfg_source, m), \
    .size = sizeof(((struct cfg_source *)0)->m)

static const struct key_spec sources_table[] = {
    KEY_TOPIC("topic", 1, SOURCE_AT(topic)),
    KEY_STR("schema", 1, SOURCE_AT(schema_path)),
    KEY_END};

/* sources = ( { topic; schema; map; }, ... ): further input topics. */
static int load_sources(const struct loader *ld,
                        const config_setting_t *root, struct cfg *cfg)
{
    char section[CFG_SECTION_MAX];
    config_setting_t *list;
    int i, n, err = find_list(ld, root, "", "sources", CFG_MAX_SOURCES,
                              &list, &n);

    if (err || !list)
        return err;

    for (i = 0; i < n && !err; i++) {
        const config_setting_t *g = config_setting_get_elem(list, i);
        struct cfg_source *src = &cfg->sources[i];

        snprintf(section, sizeof(section), "sources[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return fail(ld, g, section, "expected a group { topic = ...; }");
        src->line = config_setting_source_line(g);
        err = check_keys(ld, g, section);
        if (!err)
            err = load_keys(ld, g, section, sources_table, src);
        if (!err)
            err = load_pairs(ld, g, section, "map", src->map, CFG_MAX_MAP,
                             &src->map_count);
        if (!err && strcmp(src->topic, cfg->topic_input) == 0)
            err = fail(ld, g, section, "topic %s is already topics.input",
                       src->topic);
    }
    cfg->source_count = (size_t)n;
    return err;
}

/* join's keys before its map, and after it (the window in seconds, kept
 * in milliseconds). */
static const struct key_spec join_table[] = {
    KEY_TOPIC("topic", 1, CFG_AT(join.topic)),
    KEY_STR("schema", 1, CFG_AT(join.schema_path)),
    KEY_STR("key", 1, CFG_AT(join.key)),
    KEY_STR("profile_key", 0, CFG_AT(join.profile_key)),
    KEY_END};
static const struct key_spec join_after_map_table[] = {
    {.name = "window", .kind = KEY_POSITIVE, CFG_AT(join.window_ms),
     .hi = CFG_MAX_LATENESS_SECONDS, .scale = 1000.0},
    KEY_INT("max_keys", CFG_AT(join.max_keys), 1, CFG_MAX_JOIN_KEYS),
    KEY_STR("event_time", 0, CFG_AT(join.event_time)),
    KEY_END};

/* join = { topic; schema; key; profile_key; map; window; max_keys;
 * event_time; }. */
static int load_join(const struct loader *ld, const config_setting_t *root,
                     struct cfg *cfg)
{
    struct cfg_join *j = &cfg->join;
    config_setting_t *g;
    int err = get_group(ld, root, "join", 0, &g);

    if (err || !g)
        return err;

    j->line = config_setting_source_line(g);
    j->max_keys = CFG_DEFAULT_JOIN_KEYS;
    j->window_ms = CFG_DEFAULT_JOIN_WINDOW_S * 1000.0;
    err = check_keys(ld, g, "join");
    if (!err)
        err = load_keys(ld, g, "join", join_table, cfg);
    if (!err)
        err = load_pairs(ld, g, "join", "map", j->map, CFG_MAX_MAP,
                         &j->map_count);
    if (!err)
        err = load_keys(ld, g, "join", join_after_map_table, cfg);
    if (err)
        return err;

    if (!j->profile_key[0])
        snprintf(j->profile_key, sizeof(j->profile_key), "%s", j->key);
    if (j->map_count == 0)
        return fail(ld, g, "join.map", "missing required setting (a list "
                    "of [\"pipeline field\", \"its field\"] pairs)");
    return 0;
}

/* The labels topic is a stream of its own: reading it as events (or
 * writing outputs to it) would learn or refuse every label. */
static int check_labels_topic(const struct loader *ld,
                              const config_setting_t *g,
                              const struct cfg *cfg)
{
    const char *t = cfg->labels.topic;
    const config_setting_t *at = config_setting_get_member(g, "topic");
    size_t i;

    if (strcmp(t, cfg->topic_input) == 0 ||
        strcmp(t, cfg->topic_predictions) == 0 ||
        strcmp(t, cfg->topic_dead_letters) == 0 ||
        strcmp(t, cfg->topic_models) == 0 ||
        (cfg->join.line && strcmp(t, cfg->join.topic) == 0))
        return fail(ld, at, "labels.topic", "topic %s is already used by "
                    "topics or join: the labels need a topic of their own",
                    t);
    for (i = 0; i < cfg->source_count; i++)
        if (strcmp(t, cfg->sources[i].topic) == 0)
            return fail(ld, at, "labels.topic", "topic %s is already "
                        "sources[%zu].topic", t, i);
    return 0;
}

static const struct enum_name label_formats[] = {
    {"text", CFG_LABEL_FORMAT_TEXT}, {"event", CFG_LABEL_FORMAT_EVENT},
    {NULL, 0}};
static const struct enum_name label_actions[] = {
    {"dead_letter", CFG_LABEL_DEAD_LETTER}, {"ignore", CFG_LABEL_IGNORE},
    {NULL, 0}};

/* The ttl is in seconds of event time, kept in milliseconds. */
static const struct key_spec labels_table[] = {
    KEY_TOPIC("topic", 1, CFG_AT(labels.topic)),
    KEY_ENUM("format", CFG_AT(labels.format), label_formats),
    {.name = "ttl", .kind = KEY_POSITIVE, CFG_AT(labels.ttl_ms),
     .hi = CFG_MAX_LATENESS_SECONDS, .scale = 1000.0},
    KEY_INT("max_pending", CFG_AT(labels.max_pending), 1,
            CFG_MAX_LABEL_PENDING),
    KEY_ENUM("on_unknown", CFG_AT(labels.on_unknown), label_actions),
    KEY_ENUM("on_expired", CFG_AT(labels.on_expired), label_actions),
    KEY_ENUM("on_duplicate", CFG_AT(labels.on_duplicate), label_actions),
    KEY_END};

/* labels = { topic; format; ttl; max_pending; on_unknown; on_expired;
 * on_duplicate; }: delayed labels, see struct cfg_labels. */
static int load_labels(const struct loader *ld, const config_setting_t *root,
                       struct cfg *cfg)
{
    struct cfg_labels *lb = &cfg->labels;
    config_setting_t *g;
    int err = get_group(ld, root, "labels", 0, &g);

    if (err || !g)
        return err;

    lb->line = config_setting_source_line(g);
    lb->max_pending = CFG_DEFAULT_LABEL_PENDING;
    lb->ttl_ms = CFG_DEFAULT_LABEL_TTL_S * 1000.0;
    err = check_keys(ld, g, "labels");
    if (!err)
        err = load_keys(ld, g, "labels", labels_table, cfg);
    if (!err)
        err = check_labels_topic(ld, g, cfg);
    return err;
}

/* The pipeline-wide cleaning rules. */
static int load_cleaning(const struct loader *ld,
                         const config_setting_t *root, struct cfg *cfg)
{
    config_setting_t *g;
    int err = get_group(ld, root, "cleaning", 0, &g);

    if (err || !g)
        return err;

    cfg->cleaning_line = config_setting_source_line(g);
    err = check_keys(ld, g, "cleaning");
    if (!err)
        err = load_keys(ld, g, "cleaning", cleaning_table, cfg);
    if (!err)
        err = check_lateness(ld, g, cfg);
    return err;
}

/* The pipeline's name; the groups are read by their own loaders. */
static const struct key_spec root_table[] = {
    KEY_STR("name", 1, CFG_AT(name)),
    KEY_END};

static int load_root(const struct loader *ld, const config_setting_t *root,
                     struct cfg *cfg)
{
    config_setting_t *g; /* the plain groups': unused here */
    int err = check_keys(ld, root, "");

    if (!err)
        err = load_keys(ld, root, "", root_table, cfg);
    if (!err)
        err = load_kafka(ld, root, cfg);
    if (!err)
        err = load_group(ld, root, "topics", 1, cfg, &g);
    if (!err)
        err = load_source(ld, root, cfg);
    if (!err)
        err = load_fields(ld, root, cfg);
    if (!err)
        err = load_privacy(ld, root, cfg);
    if (!err)
        err = load_learner(ld, root, cfg);
    if (!err)
        err = load_interactions(ld, root, cfg);
    if (!err)
        err = load_group(ld, root, "snapshot", 0, cfg, &g);
    if (!err)
        err = load_group(ld, root, "log", 0, cfg, &g);
    if (!err)
        err = load_drift(ld, root, cfg);
    if (!err)
        err = load_cleaning(ld, root, cfg);
    if (!err)
        err = load_serve(ld, root, cfg);
    if (!err)
        err = load_delivery(ld, root, cfg);
    if (!err)
        err = load_group(ld, root, "scaling", 0, cfg, &g);
    if (!err)
        err = load_sources(ld, root, cfg);
    if (!err)
        err = load_join(ld, root, cfg);
    if (!err)
        err = load_labels(ld, root, cfg);
    if (err)
        return err;

    if (cfg->group_id[0] == '\0')
        snprintf(cfg->group_id, sizeof(cfg->group_id), "riffle-%s",
                 cfg->name);
    if (cfg->serve_group_id[0] == '\0')
        snprintf(cfg->serve_group_id, sizeof(cfg->serve_group_id),
                 "%.*s-serve", CFG_NAME_MAX - 7, cfg->group_id);
    if (cfg->transactional_id[0] == '\0')
        snprintf(cfg->transactional_id, sizeof(cfg->transactional_id),
                 "%.*s-learner", CFG_NAME_MAX - 9, cfg->group_id);
    return decide_task(ld, root, cfg);
}

/* The reason (missing, a directory, no permission) the user has to fix. */
static int read_error(const char *path, int why, char *errstr, size_t size)
{
    snprintf(errstr, size, "%s: cannot read the file: %s", path,
             strerror(why));
    return RIFFLE_ERR_CFG;
}

/* Reads the whole file into text, once: libconfig parses this text and
 * cfg_literals_check() scans it (libconfig keeps no text of a literal,
 * only the value it wrapped), so a pipe or fifo (`-c <(...)`) is
 * checked like any file. A directory opens on Linux; reading it fails
 * with EISDIR, which is what the user has to fix. */
static int read_text(const char *path, struct buf *text, char *errstr,
                     size_t size)
{
    char chunk[8192];
    FILE *f = fopen(path, "r");
    size_t got;
    int err = 0;

    if (!f)
        return read_error(path, errno, errstr, size);
    while (!err && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        err = buf_append(text, chunk, got);
    if (!err && ferror(f))
        err = read_error(path, errno, errstr, size);
    else if (err)
        snprintf(errstr, size, "%s: out of memory reading the file", path);
    (void)fclose(f); /* opened read-only, nothing to lose */
    return err;
}

/* Parses text as libconfig would the file: through a stream, so that a
 * NUL byte is a character it refuses, as in a file, rather than the end
 * of a string. An @include names a file relative to the directory riffle
 * runs in either way (no include directory is set). */
static int parse_text(config_t *lc, const struct buf *text)
{
    FILE *f;
    int ok;

    if (text->len == 0) /* fmemopen() may refuse a size of 0 */
        return config_read_string(lc, "");
    f = fmemopen(text->data, text->len, "r");
    if (!f)
        return -1;
    ok = config_read(lc, f);
    (void)fclose(f); /* a read-only memory stream, nothing to lose */
    return ok;
}

/* An @include is refused at its line, before libconfig follows it: the
 * included file's settings would escape the check of their integers, and
 * their errors would name this file with the other's line numbers. */
static int refuse_include(const char *path, const struct buf *text,
                          char *errstr, size_t size)
{
    int line = cfg_literals_find_include(text->data ? text->data : "",
                                         text->len);

    if (line == 0)
        return 0;
    snprintf(errstr, size, "%s:%d: @include is not supported: write the "
             "included settings into this file, where each is checked and "
             "its errors name its line", path, line);
    return RIFFLE_ERR_CFG;
}

/* libconfig's syntax error, with the key its "duplicate setting name"
 * leaves unnamed. */
static void parse_error(const char *path, const config_t *lc,
                        const struct buf *text, char *errstr, size_t size)
{
    char name[CFG_NAME_MAX];
    int line, first;

    if (strcmp(config_error_text(lc), "duplicate setting name") == 0 &&
        cfg_literals_find_duplicate(text->data ? text->data : "",
                                    text->len, name, sizeof(name), &line,
                                    &first) &&
        line == config_error_line(lc)) {
        snprintf(errstr, size, "%s:%d: %s: given twice in one group (first "
                 "at line %d): a setting may appear once", path, line, name,
                 first);
        return;
    }
    snprintf(errstr, size, "%s:%d: %s", path, config_error_line(lc),
             config_error_text(lc));
}

static int load_file(struct cfg *cfg, const char *path, int zeroed,
                     char *errstr, size_t errstr_size)
{
    struct loader ld = {path, errstr, errstr_size};
    struct buf text = {0};
    config_t lc;
    int err, ok;

    set_defaults(cfg, zeroed);
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    config_init(&lc);

    err = read_text(path, &text, errstr, errstr_size);
    if (err)
        goto out;
    err = refuse_include(path, &text, errstr, errstr_size);
    if (err)
        goto out;
    ok = parse_text(&lc, &text);
    if (ok < 0) {
        err = read_error(path, errno, errstr, errstr_size);
        goto out;
    }
    if (!ok) {
        parse_error(path, &lc, &text, errstr, errstr_size);
        err = RIFFLE_ERR_CFG;
        goto out;
    }

    err = cfg_literals_check(path, text.data ? text.data : "", text.len,
                             errstr, errstr_size);
    if (!err)
        err = load_root(&ld, config_root_setting(&lc), cfg);
    /* The loader has already checked each learner key against model.h's
     * ranges, so only the model's cross-checks (l1 with an optimizer
     * other than ftrl) fail here; they name the learner group's line. */
    if (err == 0) {
        char why[CFG_MESSAGE_MAX];

        if (model_params_check(&cfg->model, why, sizeof(why)) != 0) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path,
                     cfg->learner_line, why);
            err = RIFFLE_ERR_CFG;
        }
    }

out:
    config_destroy(&lc);
    buf_free(&text);
    return err;
}

int cfg_load_file(struct cfg *cfg, const char *path, char *errstr,
                  size_t errstr_size)
{
    return load_file(cfg, path, 0, errstr, errstr_size);
}

int cfg_load_file_zeroed(struct cfg *cfg, const char *path, char *errstr,
                         size_t errstr_size)
{
    return load_file(cfg, path, 1, errstr, errstr_size);
}

int cfg_compile_pattern(const char *pattern, regex_t *re)
{
    char anchored[CFG_PATTERN_MAX + 8];

    snprintf(anchored, sizeof(anchored), "^(%s)$", pattern);
    return regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
}

const char *cfg_allowed_first(const struct cfg *cfg,
                              const struct cfg_field *f)
{
    return f->allowed_count ? cfg->allowed_pool + f->allowed_offset : NULL;
}

const struct cfg_field *cfg_find_field(const struct cfg *cfg,
                                       const char *name)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (strcmp(cfg->fields[i].name, name) == 0)
            return &cfg->fields[i];
    return NULL;
}

const struct cfg_field *cfg_field_of_kind(const struct cfg *cfg,
                                          enum cfg_field_kind kind)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].kind == kind)
            return &cfg->fields[i];
    return NULL;
}

int cfg_has_personal_fields(const struct cfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].privacy != CFG_PRIVACY_NONE)
            return 1;
    return 0;
}

/* Mixes one value into a running 64-bit fingerprint (FNV-1a over the
 * bytes, which is plenty to tell configurations apart). */
static void mix(uint64_t *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= FNV64_PRIME;
    }
}

uint64_t cfg_model_fingerprint(const struct cfg *cfg)
{
    uint64_t h = FNV64_OFFSET_BASIS;
    const struct model_params *p = &cfg->model;
    size_t i;

    mix(&h, &p->bits, sizeof(p->bits));
    mix(&h, &p->loss, sizeof(p->loss));
    mix(&h, &p->optimizer, sizeof(p->optimizer));
    mix(&h, &cfg->hash_seed, sizeof(cfg->hash_seed));

    for (i = 0; i < cfg->field_count; i++) {
        const struct cfg_field *f = &cfg->fields[i];

        mix(&h, f->name, strlen(f->name) + 1);
        mix(&h, &f->kind, sizeof(f->kind));
        mix(&h, &f->transform, sizeof(f->transform));
        mix(&h, &f->privacy, sizeof(f->privacy));
        mix(&h, &f->missing_indicator, sizeof(f->missing_indicator));
        mix(&h, &f->band_width, sizeof(f->band_width));
        mix(&h, &f->keep_prefix, sizeof(f->keep_prefix));
        mix(&h, &f->date_precision, sizeof(f->date_precision));
        mix(&h, &f->keep_last, sizeof(f->keep_last));
        mix(&h, f->namespace_name, strlen(f->namespace_name) + 1);
        mix(&h, f->buckets, f->bucket_count * sizeof(f->buckets[0]));
    }
    mix(&h, &cfg->task, sizeof(cfg->task));
    /* Pseudonyms change with the key: its id says which key made them. */
    mix(&h, cfg->key_id, strlen(cfg->key_id) + 1);
    for (i = 0; i < cfg->class_count; i++)
        mix(&h, cfg->classes[i], strlen(cfg->classes[i]) + 1);
    for (i = 0; i < cfg->interaction_count; i++) {
        mix(&h, cfg->interactions[i][0], strlen(cfg->interactions[i][0]) + 1);
        mix(&h, cfg->interactions[i][1], strlen(cfg->interactions[i][1]) + 1);
    }
    return h;
}

const char *cfg_input_path(const struct cfg *cfg, const char *file,
                           char *errstr, size_t errstr_size)
{
    const char *path = file ? file : cfg->source_path;

    if (path[0])
        return path;
    snprintf(errstr, errstr_size, "%s: no input: set source.path or pass "
             "--file", cfg->path);
    return NULL;
}

void cfg_output_schema_path(const struct cfg *cfg, const char *file,
                            char *out, size_t out_size)
{
    const char *slash = strrchr(cfg->schema_path, '/');

    if (!slash)
        snprintf(out, out_size, "%s", file);
    else
        snprintf(out, out_size, "%.*s/%s", (int)(slash - cfg->schema_path),
                 cfg->schema_path, file);
}

int cfg_check_output_schemas(const struct cfg *cfg, char *errstr,
                             size_t errstr_size)
{
    static const char *const files[] = {
        CFG_SCHEMA_PREDICTION, CFG_SCHEMA_DEAD_LETTER, CFG_SCHEMA_SNAPSHOT,
        CFG_SCHEMA_METRICS, CFG_SCHEMA_ALERT,
    };
    char path[CFG_PATH_MAX + 32];
    size_t i;

    /* A missing input schema is reported by whoever loads it, as such. */
    if (access(cfg->schema_path, R_OK) != 0)
        return 0;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cfg_output_schema_path(cfg, files[i], path, sizeof(path));
        if (access(path, R_OK) != 0)
            return cfg_error(cfg, cfg->schema_line, "source.schema", errstr,
                             errstr_size, "riffle reads its own output "
                             "schemas from this schema's folder, and %s "
                             "cannot be read (%s): copy prediction.avsc, "
                             "dead_letter.avsc, model_snapshot.avsc, "
                             "metrics.avsc and alert.avsc from riffle's "
                             "schemas/ there (and its history/, to read "
                             "what an older riffle wrote)", path,
                             strerror(errno));
    }
    return 0;
}

/* Every group the loader checks, with the tables that read it (in the
 * order load_group() reads them, for a group without keys read by hand)
 * and the keys it reads by hand: lists, groups, and keys with logic of
 * their own. docs/CONFIGURATION.md lists the same keys in its tables
 * (tests/unit/test_cfg.c compares the two). */
#define TABLES(...) ((const struct key_spec *const[]){__VA_ARGS__, NULL})
#define BY_HAND(...) ((const char *const[]){__VA_ARGS__, NULL})
static const struct section sections[] = {
    {"", TABLES(root_table),
     BY_HAND("kafka", "topics", "source", "fields", "privacy", "learner",
             "snapshot", "log", "drift", "cleaning", "serve", "delivery",
             "sources", "join", "labels", "scaling")},
    {"kafka", TABLES(kafka_table), NULL},
    {"topics", TABLES(topics_table), NULL},
    {"source", TABLES(source_table, source_dialect_table, source_rows_table),
     BY_HAND("delimiter", "columns", "missing")},
    {"fields", TABLES(field_kind_table, field_table, field_range_table,
                      field_quality_table),
     BY_HAND("positive", "negative", "namespace", "buckets", "classes",
             "allowed", "pattern", "relabel")},
    {"privacy", TABLES(privacy_table),
     BY_HAND("encrypt_key_env", "encrypt_key_file", "encrypt_key_id",
             "dead_letter_key_env", "dead_letter_key_file",
             "dead_letter_key_id", "k_anonymity", "prediction_fields")},
    {"privacy.k_anonymity", TABLES(kanon_table),
     BY_HAND("quasi_identifiers")},
    {"learner", TABLES(learner_table),
     BY_HAND("interactions", "count_collisions")},
    {"drift", TABLES(drift_table), NULL},
    {"snapshot", TABLES(snapshot_table), NULL},
    {"delivery", TABLES(delivery_table), NULL},
    {"scaling", TABLES(scaling_table), NULL},
    {"log", TABLES(log_table), NULL},
    {"serve", TABLES(serve_table, serve_http_table), NULL},
    {"sources", TABLES(sources_table), BY_HAND("map")},
    {"join", TABLES(join_table, join_after_map_table), BY_HAND("map")},
    {"labels", TABLES(labels_table), NULL},
    {"cleaning", TABLES(cleaning_table), NULL},
    {NULL, NULL, NULL}};

/* The section named by the len bytes at name, or NULL. */
static const struct section *section_find(const char *name, size_t len)
{
    const struct section *s;

    for (s = sections; s->name; s++)
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

const char *cfg_section_key(const char *section, size_t i)
{
    const struct section *s = section_find(section, strlen(section));

    return s ? section_key(s, i) : NULL;
}

int cfg_section_has_key(const char *section, const char *key)
{
    const struct section *s = section_find(section, strlen(section));

    return s && section_has(s, key);
}

const char *cfg_section_name(size_t i)
{
    return i < sizeof(sections) / sizeof(sections[0]) ? sections[i].name
                                                       : NULL;
}

const char *cfg_loss_name(enum model_loss loss)
{
    switch (loss) {
    case MODEL_LOSS_LOGISTIC:
        return "logistic";
    case MODEL_LOSS_SQUARED:
        return "squared";
    case MODEL_LOSS_HINGE:
        return "hinge";
    }
    return "unknown";
}

const char *cfg_optimizer_name(enum model_optimizer opt)
{
    return model_optimizer_name(opt);
}
