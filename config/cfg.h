/*
 * config/cfg.h - riffle's configuration, loaded from a libconfig file.
 *
 * One file describes one pipeline: the brokers and topics, the source
 * file and its Avro schema, what each field is (id, label, numeric or
 * categorical feature, ignored), the cleaning rule and the privacy action
 * for each field, the learner settings and the snapshot cadence. Loading
 * is strict: an unknown key, a value of the wrong type or a missing
 * required setting fails with "file:line: key: what was expected".
 *
 * struct cfg is a plain value, filled once at start-up and read-only
 * afterwards, so every thread may read it.
 */
#ifndef RIFFLE_CONFIG_CFG_H
#define RIFFLE_CONFIG_CFG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kafka.h"
#include "learner/model.h"

#define CFG_MAX_FIELDS 128  /* matches EVENT_MAX_FIELDS */
#define CFG_MAX_TOKENS 16   /* label names, missing-value markers */
#define CFG_NAME_MAX 128    /* bytes of a field, topic or model name */
#define CFG_PATH_MAX 1024   /* bytes of a file path */
#define CFG_MAX_BUCKETS 64  /* boundaries of a bucketized numeric field */
#define CFG_MAX_INTERACTIONS 32 /* namespace pairs crossed by the learner */
#define CFG_MAX_CLASSES 64  /* multiclass labels: one-against-all models */
#define CFG_MAX_KEEP_PREFIX 1024 /* bytes a coarsened string may keep; the
                                    anonymizer's buffer is sized by it */
#define CFG_MAX_KEEP_LAST 64     /* characters a mask may leave visible */
#define CFG_MAX_QUASI_IDS 16     /* fields of one k-anonymity combination */
#define CFG_MAX_PREDICTION_FIELDS 16 /* carried by each prediction */
#define CFG_ALLOWED_POOL 65536 /* bytes of every field's allowed categories,
                                  NUL-separated: thousands of categories */
#define CFG_MAX_ALLOWED 4096   /* allowed categories of one field */
#define CFG_PATTERN_MAX 256    /* bytes of a field's string pattern */
#define CFG_MAX_RELABEL 64     /* label rewrites (noisy value -> value) */
#define CFG_MAX_SOURCES 8      /* input topics besides topics.input */
#define CFG_MAX_MAP 64         /* renamed fields of one source */

enum cfg_field_kind {
    CFG_FIELD_IGNORE = 0, /* decoded, then neither cleaned nor learned */
    CFG_FIELD_ID,         /* the event id (string) */
    CFG_FIELD_LABEL,      /* the target */
    CFG_FIELD_NUMERIC,    /* a numeric feature */
    CFG_FIELD_CATEGORICAL /* a token feature (strings, or numbers as text) */
};

/* What cleaning does with a value outside [min, max]. */
enum cfg_range_action {
    CFG_RANGE_REJECT = 0, /* dead-letter the event */
    CFG_RANGE_CLIP,       /* replace with the nearest bound */
    CFG_RANGE_MISSING     /* treat as missing, then apply the missing rule */
};

/* What cleaning does with a missing (null) value. */
enum cfg_missing_action {
    CFG_MISSING_REJECT = 0, /* dead-letter the event */
    CFG_MISSING_MEAN,       /* numeric: impute the running mean */
    CFG_MISSING_ZERO,       /* numeric: impute 0 */
    CFG_MISSING_CONSTANT,   /* numeric: impute missing_value */
    CFG_MISSING_SKIP,       /* emit no feature for this field */
    CFG_MISSING_TOKEN,      /* categorical: emit the token "(missing)" */
    CFG_MISSING_MEDIAN,     /* numeric: impute the running median */
    CFG_MISSING_MODE        /* categorical: the most frequent category */
};

/* What cleaning does with a string outside the allowed categories, not
 * matching the pattern, or longer than max_length. */
enum cfg_invalid_action {
    CFG_INVALID_REJECT = 0, /* dead-letter the event (invalid_value) */
    CFG_INVALID_MISSING     /* treat as missing */
};

/* How a numeric value is judged an outlier against the values before. */
enum cfg_outlier_rule {
    CFG_OUTLIER_NONE = 0,
    CFG_OUTLIER_ZSCORE, /* |x - mean| / std, Welford's running values */
    CFG_OUTLIER_MAD,    /* |x - median| / (1.4826 MAD), from sketches */
    CFG_OUTLIER_IQR     /* outside [Q1 - k IQR, Q3 + k IQR] */
};

enum cfg_outlier_action {
    CFG_OUTLIER_CLIP = 0, /* replace with the nearest accepted bound */
    CFG_OUTLIER_REJECT,   /* dead-letter the event (outlier) */
    CFG_OUTLIER_MISSING   /* treat as missing */
};

/* What happens to an event further behind the latest event time than
 * the allowed lateness. */
enum cfg_late_action {
    CFG_LATE_ACCEPT = 0, /* learned like any other, and counted */
    CFG_LATE_REJECT,     /* dead-lettered (late_event) */
    CFG_LATE_ROUTE       /* its original message goes to late_topic */
};

enum cfg_transform {
    CFG_TRANSFORM_NONE = 0,
    CFG_TRANSFORM_LOG1P,      /* sign(x) * log(1 + |x|) */
    CFG_TRANSFORM_STANDARDIZE, /* (x - running mean) / running std */
    CFG_TRANSFORM_BUCKETIZE    /* one-hot of the bucket x falls in */
};

enum cfg_privacy_action {
    CFG_PRIVACY_NONE = 0,
    CFG_PRIVACY_DROP,      /* removed before anything else sees it */
    CFG_PRIVACY_PSEUDONYM, /* keyed HMAC-SHA256 token */
    CFG_PRIVACY_COARSEN,   /* numbers into bands, strings to a prefix,
                              ISO dates to a day, month or year */
    CFG_PRIVACY_MASK,      /* every character but the last keep_last
                              becomes '*' */
    CFG_PRIVACY_NOISE,     /* Laplace noise of scale sensitivity/epsilon */
    CFG_PRIVACY_ENCRYPT    /* AES-256-GCM envelope, base64 (privacy/seal.h) */
};

/* What coarsening keeps of an ISO 8601 date ("2026-12-04..."). */
enum cfg_date_precision {
    CFG_DATE_NONE = 0, /* not a date */
    CFG_DATE_DAY,      /* "2026-12-04" */
    CFG_DATE_MONTH,    /* "2026-12" */
    CFG_DATE_YEAR      /* "2026" */
};

#define CFG_KEY_ID_MAX 64 /* bytes of an encryption key id: it travels in
                             every sealed value (privacy/keyring.h) */

/* Where a key (or a keyring, see privacy/keyring.h) is read from. */
struct cfg_key_source {
    char env[CFG_NAME_MAX];   /* environment variable; may be empty */
    char file[CFG_PATH_MAX];  /* key file; may be empty */
    char id[CFG_NAME_MAX];    /* id of a key given without one */
};

struct cfg_field {
    int line;                  /* of its group in cfg->path; 0 if unknown */
    char name[CFG_NAME_MAX];
    enum cfg_field_kind kind;
    int required;              /* null is dead-lettered (missing_required) */
    enum cfg_missing_action missing;
    int missing_indicator;     /* numeric: also emit "field is missing" */
    double missing_value;      /* for CFG_MISSING_CONSTANT */
    int has_min, has_max;
    double min, max;
    enum cfg_range_action on_range;
    enum cfg_transform transform;
    double buckets[CFG_MAX_BUCKETS]; /* ascending boundaries (bucketize) */
    size_t bucket_count;
    char namespace_name[CFG_NAME_MAX]; /* feature group; default: name */
    size_t max_length;         /* categorical: longer strings rejected;
                                  0 = no cap */
    size_t allowed_offset;     /* first allowed category in
                                  cfg->allowed_pool */
    size_t allowed_count;      /* 0: any category */
    char pattern[CFG_PATTERN_MAX]; /* POSIX ERE the whole string must
                                      match; empty: none */
    enum cfg_invalid_action on_invalid;
    enum cfg_outlier_rule outlier;
    double outlier_threshold;  /* k of the rule */
    enum cfg_outlier_action on_outlier;
    long outlier_warmup;       /* values seen before the rule applies */
    enum cfg_privacy_action privacy;
    double band_width;         /* coarsen numbers: band of this width */
    size_t keep_prefix;        /* coarsen strings: keep this many bytes */
    enum cfg_date_precision date_precision; /* coarsen ISO dates */
    size_t keep_last;          /* mask: characters kept at the end */
    double epsilon;            /* noise: privacy budget per value */
    double sensitivity;        /* noise: largest change of one value */
    /* label only */
    char positive[CFG_MAX_TOKENS][CFG_NAME_MAX];
    size_t positive_count;
    char negative[CFG_MAX_TOKENS][CFG_NAME_MAX];
    size_t negative_count;
    int has_threshold;         /* label = value > threshold (binary) */
    double threshold;
};

/* A further input topic with a schema of its own, mapped into the
 * pipeline's schema (source.schema): each field of that schema takes the
 * field of the same name, or the one map names, or stays null. */
struct cfg_source {
    int line;
    char topic[CFG_NAME_MAX];
    char schema_path[CFG_PATH_MAX];
    char map[CFG_MAX_MAP][2][CFG_NAME_MAX]; /* pipeline field, its field */
    size_t map_count;
};

/* An enrichment stream joined to each event by key: the latest record
 * of each key is kept (at most max_keys, least recently updated evicted)
 * and fills the pipeline fields it maps to, when its timestamp is within
 * window of the event's. */
struct cfg_join {
    int line;                    /* 0: no join */
    char topic[CFG_NAME_MAX];
    char schema_path[CFG_PATH_MAX];
    char key[CFG_NAME_MAX];      /* pipeline field holding the key */
    char profile_key[CFG_NAME_MAX]; /* its field holding the key */
    char map[CFG_MAX_MAP][2][CFG_NAME_MAX]; /* pipeline field, its field */
    size_t map_count;
    double window_ms;
    long max_keys;
    char event_time[CFG_NAME_MAX]; /* its field holding the profile's
                                      event time, in cleaning.event_time's
                                      unit; empty: Kafka timestamps */
};

/* What riffle learn does with a label it cannot join (see struct
 * cfg_labels): each is counted either way. */
enum cfg_label_action {
    CFG_LABEL_DEAD_LETTER = 0, /* dead-lettered with the reason */
    CFG_LABEL_IGNORE           /* only counted */
};

/* How a labels message carries the label. */
enum cfg_label_format {
    CFG_LABEL_FORMAT_TEXT = 0, /* the value is the label as text */
    CFG_LABEL_FORMAT_EVENT     /* an event of the input schema: its label
                                  (and, without a key, its id) field */
};

/* Delayed labels: events without a label are scored on arrival and kept
 * (at most max_pending, for ttl_ms of event time) until their label
 * comes on topic, keyed by event id; then they are learned. */
struct cfg_labels {
    int line; /* 0: labels come with the events */
    char topic[CFG_NAME_MAX];
    enum cfg_label_format format;
    double ttl_ms;
    long max_pending;
    enum cfg_label_action on_unknown;   /* no such event seen */
    enum cfg_label_action on_expired;   /* its event left the store */
    enum cfg_label_action on_duplicate; /* its event learned already */
};

/* What the label is, decided by the label field's settings. */
enum cfg_task {
    CFG_TASK_BINARY = 0, /* positive (and negative) values */
    CFG_TASK_MULTICLASS, /* classes = [...]: one-against-all */
    CFG_TASK_REGRESSION  /* neither: a number, learned with squared loss */
};

enum cfg_bad_row_action {
    CFG_BAD_ROW_SKIP = 0, /* report the line and go on */
    CFG_BAD_ROW_STOP      /* report the line and stop with an error */
};

/* What `riffle learn` does with a snapshot offset past its partition's
 * end (the topic was recreated, or the broker lost records): see
 * docs/CONFIGURATION.md, snapshot.on_offset_past_end. */
enum cfg_past_end_action {
    CFG_PAST_END_STOP = 0, /* refuse to go on: an operator decides */
    CFG_PAST_END_EARLIEST, /* learn the partition from its start */
    CFG_PAST_END_LATEST    /* skip to its end: only newer events */
};

/* How `riffle learn` delivers its outputs, see docs/CONFIGURATION.md. */
enum cfg_delivery {
    CFG_DELIVERY_EXACTLY_ONCE = 0, /* one Kafka transaction per batch */
    CFG_DELIVERY_AT_LEAST_ONCE     /* offsets committed after snapshots */
};

struct cfg {
    char path[CFG_PATH_MAX]; /* the file this was loaded from */
    char name[CFG_NAME_MAX]; /* pipeline name, used in logs */

    /* kafka */
    char brokers[CFG_PATH_MAX];
    char group_id[CFG_NAME_MAX];
    long session_timeout_ms; /* the learner's group session; 0: default */

    /* topics */
    char topic_input[CFG_NAME_MAX];
    char topic_predictions[CFG_NAME_MAX];
    char topic_models[CFG_NAME_MAX];
    char topic_dead_letters[CFG_NAME_MAX];
    char topic_metrics[CFG_NAME_MAX]; /* may be empty: not published */
    char topic_alerts[CFG_NAME_MAX];  /* may be empty: not published */
    int input_partitions;
    int replication_factor;

    /* source */
    char schema_path[CFG_PATH_MAX];
    int schema_line; /* of source.schema; 0 if unknown */
    char source_path[CFG_PATH_MAX];
    char csv_delimiter;
    int csv_header;
    int csv_trim;
    int csv_skip_lines;
    char columns[CFG_MAX_FIELDS][CFG_NAME_MAX]; /* headerless files */
    size_t column_count;
    char missing_tokens[CFG_MAX_TOKENS][CFG_NAME_MAX];
    size_t missing_token_count;
    char id_prefix[CFG_NAME_MAX];
    enum cfg_bad_row_action on_bad_row;

    /* fields, in configuration order */
    struct cfg_field fields[CFG_MAX_FIELDS];
    size_t field_count;
    char allowed_pool[CFG_ALLOWED_POOL]; /* see cfg_field.allowed_offset */
    size_t allowed_pool_used;

    /* the label's rewrites, applied before it is read: from -> to */
    char relabel[CFG_MAX_RELABEL][2][CFG_NAME_MAX];
    size_t relabel_count;

    /* pipeline-wide cleaning */
    int cleaning_line;   /* of the group; 0 when there is none */
    long dedup_window;   /* distinct event ids remembered; 0 = no check */
    char event_time[CFG_NAME_MAX]; /* field with the event time; empty:
                                      lateness is not judged */
    double event_time_ms; /* milliseconds per unit of that field */
    double allowed_lateness_ms; /* behind the watermark by at most this:
                                   out of order, accepted */
    enum cfg_late_action on_late;
    char late_topic[CFG_NAME_MAX]; /* for CFG_LATE_ROUTE */

    /* further sources and the enrichment join */
    struct cfg_source sources[CFG_MAX_SOURCES];
    size_t source_count;
    struct cfg_join join;
    struct cfg_labels labels;

    /* privacy */
    int privacy_line;            /* of the group; 0 when there is none */
    char key_file[CFG_PATH_MAX]; /* may be empty */
    char key_env[CFG_NAME_MAX];  /* env var holding the key, may be empty */
    char key_id[CFG_NAME_MAX];
    struct cfg_key_source encrypt_key;     /* personal = "encrypt" */
    struct cfg_key_source dead_letter_key; /* dead letters' payloads */
    /* privacy.prediction_fields: input fields every prediction carries,
     * anonymized (encrypt, pseudonym, mask, coarsen) or not personal */
    char prediction_fields[CFG_MAX_PREDICTION_FIELDS][CFG_NAME_MAX];
    size_t prediction_field_count;
    /* privacy.k_anonymity: none when quasi_id_count is 0 */
    int kanon_line; /* of the group; 0 when there is none */
    char quasi_ids[CFG_MAX_QUASI_IDS][CFG_NAME_MAX];
    size_t quasi_id_count;
    long kanon_k;      /* combinations shared by fewer events are reported */
    long kanon_window; /* over the last this many learned events */

    /* the task and, for multiclass, the class names in label order */
    enum cfg_task task;
    char classes[CFG_MAX_CLASSES][CFG_NAME_MAX];
    size_t class_count;

    /* learner */
    int learner_line; /* of the group; 0 if unknown */
    char model_name[CFG_NAME_MAX];
    /* pairs of namespaces whose features are crossed (quadratic terms) */
    char interactions[CFG_MAX_INTERACTIONS][2][CFG_NAME_MAX];
    size_t interaction_count;
    int count_collisions; /* track hash collisions (4 bytes per weight) */
    struct model_params model;
    uint32_t hash_seed;

    /* drift detection on the stream of prediction errors */
    int drift_detector;          /* enum drift_kind, or -1 for none */
    double drift_delta;          /* ADWIN confidence, Page-Hinkley delta */
    double drift_lambda;         /* Page-Hinkley alarm threshold */
    double drift_react;          /* on an alarm, scale the optimizer's
                                    step history by this (0 forgets it);
                                    1 = do nothing */
    long metrics_every_events;   /* publish metrics this often */

    /* delivery */
    enum cfg_delivery delivery;
    long txn_every_events;     /* exactly once: events per transaction */
    long txn_every_ms;         /* exactly once: or this long at most */
    long txn_timeout_ms;       /* the broker aborts a transaction open
                                  this long; 0: librdkafka's (60 s) */
    char transactional_id[CFG_NAME_MAX];

    /* scaling: merging the models of several learner instances */
    long merge_every_events;    /* this instance's new events; 0 = never */
    double merge_every_seconds; /* or this long; 0 = never */
    double instance_expiry_seconds; /* older peer snapshots: not merged */

    /* snapshots */
    long snapshot_every_events;
    double snapshot_every_seconds;
    long snapshot_chunk_bytes; /* larger snapshots go out in chunks */
    enum cfg_past_end_action on_offset_past_end;

    /* logs */
    long progress_every_events;

    /* serve: scoring replicas (riffle serve); topics empty without it */
    int serve_line;                      /* of the group; 0 if absent */
    char serve_requests[CFG_NAME_MAX];   /* unlabelled requests topic */
    char serve_predictions[CFG_NAME_MAX]; /* the replicas' predictions */
    char serve_group_id[CFG_NAME_MAX];   /* default <group_id>-serve */
    int serve_partitions;                /* of both serve topics */
    long serve_commit_every_ms;          /* offsets commit cadence */
    enum cfg_delivery serve_delivery;    /* default at least once */
    long serve_txn_timeout_ms;           /* exactly once: as txn_timeout_ms */
    char serve_http_address[CFG_NAME_MAX]; /* listen address */
    int serve_http_port;                 /* 0: no HTTP endpoint */
    long serve_http_max_body_bytes;      /* larger bodies get 413 */
    double serve_http_timeout_seconds;   /* a request's whole budget */
    int serve_http_threads;              /* HTTP worker threads */
    int log_json; /* log.format = "json": one JSON object per line */

    /* TLS and SASL towards the brokers (kafka.* keys) */
    struct kafka_security kafka_security;
};

/* Fills cfg with defaults, then reads path over them. Returns 0 or
 * RIFFLE_ERR_CFG with errstr "path:line: key: what was expected". */
int cfg_load_file(struct cfg *cfg, const char *path, char *errstr,
                  size_t errstr_size);

/* cfg_load_file() for a cfg whose bytes are all zero already (from
 * calloc()), with the same result, without zeroing it again: struct cfg
 * is about 1 MB, mostly field slots a configuration leaves unused, and
 * writing zeros over it faults in every page (about 0.5 ms, inside
 * `riffle train`'s timed span), where calloc()'s untouched pages cost
 * nothing until a field is written. */
int cfg_load_file_zeroed(struct cfg *cfg, const char *path, char *errstr,
                         size_t errstr_size);

/* For errors found after loading, against the schema or the key: writes
 * "path:line: key: what" into errstr (just "path: key: what" when line is
 * 0, as in a cfg built by hand), what formatted from fmt, and returns
 * RIFFLE_ERR_CFG. key is the dotted key, e.g. "fields[4].name"; the
 * lines are those kept in struct cfg and struct cfg_field. */
int cfg_error(const struct cfg *cfg, int line, const char *key,
              char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* errstr holds why loading cfg->schema_path (or an output schema beside
 * it) failed; prefixes it in place with where source.schema is set:
 * "path:line: source.schema: <errstr>". */
void cfg_schema_error(const struct cfg *cfg, char *errstr,
                      size_t errstr_size);

/* Compiles a field's pattern so that it must match the whole string
 * (POSIX extended syntax). Returns regcomp()'s code: 0, or an error for
 * regerror(); on 0 the caller frees re with regfree(). */
int cfg_compile_pattern(const char *pattern, regex_t *re);

/* The first of f's allowed categories, NUL-terminated; the next starts
 * after its NUL, f->allowed_count in all. NULL when any category is
 * allowed. Borrowed from cfg. */
const char *cfg_allowed_first(const struct cfg *cfg,
                              const struct cfg_field *f);

/* The field named name, or NULL. Borrowed from cfg. */
const struct cfg_field *cfg_find_field(const struct cfg *cfg,
                                       const char *name);

/* The first field of the given kind, or NULL. cfg_load_file() guarantees
 * exactly one CFG_FIELD_ID and one CFG_FIELD_LABEL. Borrowed from cfg. */
const struct cfg_field *cfg_field_of_kind(const struct cfg *cfg,
                                          enum cfg_field_kind kind);

/* Whether any field has a privacy action: then raw payloads are withheld
 * from dead letters. */
int cfg_has_personal_fields(const struct cfg *cfg);

/* A 64-bit fingerprint of every setting that shapes the model (fields,
 * transforms, learner parameters, hash seed). Snapshots carry it, and a
 * snapshot is only restored under an equal fingerprint. */
uint64_t cfg_model_fingerprint(const struct cfg *cfg);

/* riffle's own output schemas live beside the input schema
 * (source.schema), so a deployment that moves one moves them all. */
#define CFG_SCHEMA_PREDICTION "prediction.avsc"
#define CFG_SCHEMA_DEAD_LETTER "dead_letter.avsc"
#define CFG_SCHEMA_SNAPSHOT "model_snapshot.avsc"
#define CFG_SCHEMA_METRICS "metrics.avsc"
#define CFG_SCHEMA_ALERT "alert.avsc"

/* The data file a command reads: file (its --file) when not NULL, else
 * source.path. NULL, with errstr "CFG: no input: set source.path or pass
 * --file", when neither names one. */
const char *cfg_input_path(const struct cfg *cfg, const char *file,
                           char *errstr, size_t errstr_size);

/* Writes the path of the output schema file (one of CFG_SCHEMA_*) into
 * out: the directory of source.schema joined with file. */
void cfg_output_schema_path(const struct cfg *cfg, const char *file,
                            char *out, size_t out_size);

/* Rewrites errstr, the error of loading an output schema, as an error at
 * source.schema's line that says where output schemas are looked for. */
void cfg_output_schema_error(const struct cfg *cfg, char *errstr,
                             size_t errstr_size);

/* Checks that every output schema (CFG_SCHEMA_*) beside source.schema
 * can be read, so that a configuration whose schema lives in a folder of
 * its own is refused at start-up, at source.schema's line, rather than
 * when the first record is published (cli_require_output_schemas()).
 * Returns 0 (also when source.schema itself is unreadable: its loader
 * says so), or RIFFLE_ERR_CFG with the reason in errstr. */
int cfg_check_output_schemas(const struct cfg *cfg, char *errstr,
                             size_t errstr_size);

/* The i-th key, from 0, the loader accepts in one group: section is ""
 * for the top level, a group's name ("kafka", "serve"), "fields" and
 * "sources" for every group of those lists, or "privacy.k_anonymity".
 * Returns NULL past the last key, and for a section the loader does not
 * know (every section it knows has a key 0). Lets a test hold
 * docs/CONFIGURATION.md to the loader. */
const char *cfg_section_key(const char *section, size_t i);

/* Whether the loader accepts key in section (as for cfg_section_key()). */
int cfg_section_has_key(const char *section, const char *key);

/* The i-th section cfg_section_key() knows, from 0; NULL past the last. */
const char *cfg_section_name(size_t i);

/* Names for logs and snapshots. */
const char *cfg_loss_name(enum model_loss loss);
const char *cfg_optimizer_name(enum model_optimizer opt);

#endif
