/*
 * producers/replay.c - re-validating and re-injecting dead letters, see
 * replay.h.
 */
#include "producers/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/progress.h"
#include "consumers/consumer.h"
#include "consumers/topic_reader.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"
#include "producers/outputs.h"
#include "producers/publisher.h"
#include "schemas/history.h"

#define REPLAY_POLL_MS 100          /* short enough to see a stop quickly */
#define REPLAY_COMMIT_EVERY 1000    /* dead letters between commits */
#define REPLAY_FLUSH_TIMEOUT_MS 120000
#define REPLAY_WHY_MAX 256
#define REPLAY_MAX_PARTITIONS 1024 /* topics.partitions' upper bound */
#define REPLAY_RUN_ID_MAX 64
#define REPLAY_COMMITTED_WAIT_MS 30000 /* the group coordinator's answer */
#define REPLAY_META_MAX 96       /* the group's metadata per partition */
#define REPLAY_META_FORMAT "riffle-replay rules=%016llx parked=%lld"
#define REPLAY_CFG_MAX_BYTES (1L << 20) /* a configuration file, at most */

/* What a run does in one partition of the dead-letter topic. Still
 * failing dead letters are written again once per change of the rules,
 * never on every run: a dead letter a replay wrote carries the rules'
 * fingerprint (in its riffle.replay.run header), and one met again under
 * the same rules is parked, its group offset passed without rewriting
 * it. The group's metadata per partition keeps the rules and the first
 * parked offset; a run under other rules goes back there first and
 * examines exactly the parked dead letters (those carrying the old
 * rules' fingerprint) before the partition's new ones. */
struct part_plan {
    int loaded;          /* the group's metadata was read */
    int64_t committed;   /* the group's offset when the run began */
    uint64_t scan_rules; /* non-zero: going over the letters parked under
                            these rules, before committed */
    int64_t parked;      /* first offset parked under the current rules
                            (or, while scanning, where the scan is); -1 */
};

struct replay {
    const struct cfg *cfg;
    const struct replay_options *opt;
    struct replay_stats *st;
    char group[CFG_NAME_MAX + sizeof(REPLAY_GROUP_SUFFIX)];
    struct schema *input;
    /* Dead letters of every version of their schema: those an older
     * riffle wrote are replayed too. value is of value_schema, the
     * version of the last dead letter read. */
    struct schema_history *dead_letters;
    const struct schema *value_schema;
    avro_value_t value;
    struct online_learner *ol;
    struct keyring keys;
    struct publisher *pub;
    struct outputs *out;
    struct consumer *consumer;
    struct buf plain;
    struct buf plain_key; /* the original key of a dead letter that sealed it */
    unsigned long long since_commit;
    /* Dead letters this run writes land in the topic it reads: a
     * partition is finished at the first one, and nothing after it is
     * handled or committed, so what follows is left for the next run. */
    char run_id[REPLAY_RUN_ID_MAX];
    unsigned char finished[REPLAY_MAX_PARTITIONS];
    int64_t first_own[REPLAY_MAX_PARTITIONS]; /* offset, when finished */
    uint64_t rules; /* CRC-64 of the configuration file's bytes */
    struct part_plan plans[REPLAY_MAX_PARTITIONS];
    struct progress progress;
};

/* The fields of a dead-letter record that replay needs, borrowed from
 * the decoded value. */
struct dead_letter {
    const char *source_topic;
    int32_t partition;
    int64_t offset, timestamp_ms;
    const void *payload; /* NULL when the record has none */
    size_t len;
    int sealed;
    const void *key; /* the original message's key, once opened */
    size_t key_len;
    int key_sealed;
    int key_dropped; /* the original key was over the size cap */
};

/* --- reading a dead letter -------------------------------------------- */

static int get_field(avro_value_t *rec, const char *name, avro_value_t *f)
{
    return avro_value_get_by_name(rec, name, f, NULL);
}

/* A ["null", X] union's value, or 0 with *present 0 for null; a dead
 * letter of an earlier version without the field has its default, null
 * (payload_encryption came with sealing: older payloads are in clear). */
static int get_optional(avro_value_t *rec, const char *name,
                        avro_value_t *branch, int *present)
{
    avro_value_t f;
    int disc = 0;

    *present = 0;
    if (get_field(rec, name, &f))
        return 0;
    if (avro_value_get_discriminant(&f, &disc) ||
        avro_value_get_current_branch(&f, branch))
        return -1;
    *present = disc == 1;
    return 0;
}

/* Whether topic is one this pipeline reads events, labels or profiles
 * from: the only topics a dead letter may be replayed into. */
static int is_input_topic(const struct cfg *cfg, const char *topic)
{
    size_t i;

    if (strcmp(topic, cfg->topic_input) == 0 ||
        (cfg->labels.line && strcmp(topic, cfg->labels.topic) == 0) ||
        (cfg->join.line && strcmp(topic, cfg->join.topic) == 0))
        return 1;
    for (i = 0; i < cfg->source_count; i++)
        if (strcmp(topic, cfg->sources[i].topic) == 0)
            return 1;
    return 0;
}

/* Whether the dead letter's original key is sealed (its header says
 * so), and where: in its own header, or as the Kafka key itself in dead
 * letters written before that header existed; or whether it was over the
 * size cap and not kept at all. -1 with why for a scheme this version
 * does not know. */
static int key_scheme(const rd_kafka_message_t *msg, struct dead_letter *d,
                      char *why, size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;

    d->key = msg->key;
    d->key_len = msg->key ? msg->key_len : 0;
    d->key_sealed = 0;
    d->key_dropped = 0;
    if (rd_kafka_message_headers(msg, &h) != 0)
        return 0;
    /* its Kafka key, if any, is a pseudonym: nothing to re-inject under */
    d->key_dropped = rd_kafka_header_get_last(h, OUTPUTS_HEADER_KEY_DROPPED,
                                              &v, &n) == 0;
    if (rd_kafka_header_get_last(h, OUTPUTS_HEADER_KEY_SEALED, &v, &n) != 0)
        return 0;
    if (!v || n != strlen(OUTPUTS_PAYLOAD_SEALED) ||
        memcmp(v, OUTPUTS_PAYLOAD_SEALED, n) != 0) {
        snprintf(why, size, "key sealed with an unknown scheme (header %s)",
                 OUTPUTS_HEADER_KEY_SEALED);
        return -1;
    }
    d->key_sealed = 1;
    if (rd_kafka_header_get_last(h, OUTPUTS_HEADER_SEALED_KEY, &v, &n) == 0) {
        d->key = v;
        d->key_len = v ? n : 0;
    }
    return 0;
}

static int read_dead_letter(struct replay *r, const rd_kafka_message_t *msg,
                            struct dead_letter *d, char *why, size_t size)
{
    avro_value_t f, b;
    const char *topic = NULL, *scheme = NULL;
    const void *bytes = NULL;
    size_t n = 0;
    int has_payload = 0, has_scheme = 0;

    if (schema_read_value(r->value_schema, msg->payload, msg->len, &r->value,
                          why, size) != 0)
        return -1;
    memset(d, 0, sizeof(*d));
    if (get_field(&r->value, "source_topic", &f) ||
        avro_value_get_string(&f, &topic, &n) ||
        get_field(&r->value, "source_partition", &f) ||
        avro_value_get_int(&f, &d->partition) ||
        get_field(&r->value, "source_offset", &f) ||
        avro_value_get_long(&f, &d->offset) ||
        get_field(&r->value, "source_timestamp_ms", &f) ||
        avro_value_get_long(&f, &d->timestamp_ms) ||
        get_optional(&r->value, "payload", &b, &has_payload) ||
        (has_payload && avro_value_get_bytes(&b, &bytes, &d->len)) ||
        get_optional(&r->value, "payload_encryption", &f, &has_scheme) ||
        (has_scheme && avro_value_get_string(&f, &scheme, &n))) {
        snprintf(why, size, "not a dead-letter record: %s", avro_strerror());
        return -1;
    }
    /* A record anyone wrote to the dead-letter topic names its source:
     * replayed as it says, an event went into the model topic, or any
     * other the replay may write to. Not quoted: it may hold anything. */
    if (!is_input_topic(r->cfg, topic)) {
        snprintf(why, size, "its source topic is none of this pipeline's "
                 "inputs (%s, its sources, labels and join topics)",
                 r->cfg->topic_input);
        return -1;
    }
    d->source_topic = topic;
    d->payload = has_payload ? bytes : NULL;
    if (has_scheme && strcmp(scheme, OUTPUTS_PAYLOAD_SEALED) != 0) {
        snprintf(why, size, "payload encrypted with unknown scheme \"%s\"",
                 scheme);
        return -1;
    }
    d->sealed = has_scheme;
    return key_scheme(msg, d, why, size);
}

/* --- one dead letter -------------------------------------------------- */

static rd_kafka_headers_t *replay_headers(const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    char where[CFG_NAME_MAX + 48];

    snprintf(where, sizeof(where), "%s/%d/%lld", rd_kafka_topic_name(msg->rkt),
             (int)msg->partition, (long long)msg->offset);
    /* Adding to a new, writable header list cannot fail. */
    (void)rd_kafka_header_add(h, REPLAY_HEADER_SOURCE, -1, where, -1);
    return h;
}

/* The event passes today's rules: back into its source topic. */
static int reinject(struct replay *r, const rd_kafka_message_t *msg,
                    const struct dead_letter *d, const void *data,
                    size_t len, char *errstr, size_t size)
{
    r->st->replayed++;
    if (r->opt->dry_run)
        return 0;
    return publisher_send(r->pub, d->source_topic, d->key, d->key_len, data,
                          len, replay_headers(msg), errstr, size);
}

/* Still refused: a new dead letter with today's reason, payload sealed
 * again (under the current key, so replay also rotates keys). */
static int dead_letter_again(struct replay *r, const rd_kafka_message_t *msg,
                             const struct dead_letter *d,
                             const struct online_result *res,
                             const void *data, size_t len, char *errstr,
                             size_t size)
{
    struct source_ref src = {d->source_topic, d->partition, d->offset,
                             d->timestamp_ms, d->key, d->key_len, data, len};

    r->st->still_failing++;
    log_debug("replay", "%s [%d] @%lld: still refused: %s %s: %s",
              rd_kafka_topic_name(msg->rkt), (int)msg->partition,
              (long long)msg->offset, res->verdict.reason,
              res->verdict.field, res->verdict.detail);
    if (r->opt->dry_run)
        return 0;
    return outputs_dead_letter_replayed(r->out, &src, res, r->run_id, errstr,
                                        size);
}

static void skip(const rd_kafka_message_t *msg, long long *counter,
                 const char *why)
{
    (*counter)++;
    log_warn("replay", "%s [%d] @%lld: not replayed: %s",
             rd_kafka_topic_name(msg->rkt), (int)msg->partition,
             (long long)msg->offset, why);
}

/* The rules fingerprint a replay wrote msg under (the last 16 hex
 * digits of its riffle.replay.run header), or 0 for a dead letter of the
 * learner. */
static uint64_t letter_rules(const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    char text[REPLAY_RUN_ID_MAX];
    unsigned long long rules = 0;
    const char *dash;

    if (rd_kafka_message_headers(msg, &h) != 0 ||
        rd_kafka_header_get_last(h, OUTPUTS_HEADER_REPLAY_RUN, &v, &n) != 0 ||
        n == 0 || n >= sizeof(text))
        return 0;
    memcpy(text, v, n);
    text[n] = '\0';
    dash = strrchr(text, '-');
    if (!dash || strlen(dash + 1) != 16 ||
        sscanf(dash + 1, "%16llx", &rules) != 1)
        return 0;
    return rules;
}

/* Whether msg was written by this run, or follows such a message. */
static int from_this_run(struct replay *r, const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    int32_t p = msg->partition;

    if (p < 0 || p >= REPLAY_MAX_PARTITIONS)
        return 0;
    if (!r->finished[p] && rd_kafka_message_headers(msg, &h) == 0 &&
        rd_kafka_header_get_last(h, OUTPUTS_HEADER_REPLAY_RUN, &v, &n) == 0 &&
        n == strlen(r->run_id) && memcmp(v, r->run_id, n) == 0) {
        r->finished[p] = 1;
        r->first_own[p] = msg->offset;
    }
    return r->finished[p];
}

static int open_and_replay(struct replay *r, const rd_kafka_message_t *msg,
                           char *errstr, size_t size)
{
    struct online_result res;
    struct dead_letter d;
    char why[REPLAY_WHY_MAX];
    const void *data;
    size_t len;
    int err;

    r->st->read++;
    /* A history file that cannot be used (or no memory) stops the run,
     * which would otherwise pass over every dead letter of that version
     * for good. */
    err = schema_history_value_for(r->dead_letters, msg->payload, msg->len,
                                   &r->value_schema, &r->value, errstr,
                                   size);
    if (err)
        return err;
    if (read_dead_letter(r, msg, &d, why, sizeof(why)) != 0) {
        skip(msg, &r->st->unreadable, why);
        return 0;
    }
    if (!d.payload) {
        skip(msg, &r->st->no_payload, "the dead letter holds no payload");
        return 0;
    }
    if (d.key_dropped) {
        skip(msg, &r->st->no_key, "the original key was over the size cap "
             "and the dead letter holds no copy of it");
        return 0;
    }

    data = d.payload;
    len = d.len;
    if (d.sealed) {
        buf_reset(&r->plain);
        err = seal_decrypt(&r->keys, SEAL_DEAD_LETTER_CONTEXT, d.payload,
                           d.len, &r->plain, why, sizeof(why));
        if (err == RIFFLE_ERR_NOMEM)
            return err;
        if (err) {
            /* Skipping would commit past it: stop, so that it is replayed
             * once the keyring holds its key. */
            r->st->undecryptable++;
            snprintf(errstr, size, "%s [%d] @%lld: cannot open the payload: "
                     "%s; stopping here (add the key that sealed it to the "
                     "dead-letter keyring)", rd_kafka_topic_name(msg->rkt),
                     (int)msg->partition, (long long)msg->offset, why);
            return err;
        }
        data = r->plain.data;
        len = r->plain.len;
    }
    if (d.key_sealed) {
        buf_reset(&r->plain_key);
        err = seal_decrypt(&r->keys, SEAL_DEAD_LETTER_KEY_CONTEXT, d.key,
                           d.key_len, &r->plain_key, why, sizeof(why));
        if (err == RIFFLE_ERR_NOMEM)
            return err;
        if (err) {
            r->st->undecryptable++;
            snprintf(errstr, size, "%s [%d] @%lld: cannot open the key: %s; "
                     "stopping here (add the key that sealed it to the "
                     "dead-letter keyring)", rd_kafka_topic_name(msg->rkt),
                     (int)msg->partition, (long long)msg->offset, why);
            return err;
        }
        d.key = r->plain_key.data;
        d.key_len = r->plain_key.len;
    }

    err = online_validate_from(r->ol, d.source_topic, d.partition, data,
                               len, &res);
    if (err)
        return err;
    if (res.duplicate) {
        /* Learned since (a retry got through): re-injecting it would
         * only make the learner drop it. Nothing is lost. */
        r->st->duplicates++;
        log_debug("replay", "%s [%d] @%lld: duplicate event id, not "
                  "replayed", rd_kafka_topic_name(msg->rkt),
                  (int)msg->partition, (long long)msg->offset);
        return 0;
    }
    if (res.late) { /* on_late = "route": refused as late all the same */
        res.dead_letter = 1;
        res.verdict.reason = ONLINE_REASON_LATE;
        snprintf(res.verdict.field, sizeof(res.verdict.field), "%s",
                 r->cfg->event_time);
        snprintf(res.verdict.detail, sizeof(res.verdict.detail),
                 "behind its partition's watermark by more than the "
                 "allowed lateness");
    }
    if (res.dead_letter)
        return dead_letter_again(r, msg, &d, &res, data, len, errstr, size);
    return reinject(r, msg, &d, data, len, errstr, size);
}

/* One dead letter. Its opened payload and key, raw personal values
 * (a personal field, the producer's key), are wiped once it is
 * re-injected, refused again or skipped: whichever way it went. */
static int replay_one(struct replay *r, const rd_kafka_message_t *msg,
                      char *errstr, size_t size)
{
    int err = open_and_replay(r, msg, errstr, size);

    buf_wipe(&r->plain);
    buf_wipe(&r->plain_key);
    return err;
}

/* --- once per rule change -------------------------------------------- */

#define REPLAY_SEEKED 1 /* handle(): msg left alone, the partition moved */

/* Reads the group's metadata of msg's partition at its first message,
 * and goes back to the dead letters parked under other rules. */
static int load_plan(struct replay *r, const char *topic, int32_t partition,
                     struct part_plan *pl, char *errstr, size_t size)
{
    char meta[REPLAY_META_MAX];
    unsigned long long rules = 0;
    long long parked = -1;
    int64_t committed = -1;
    int err;

    err = consumer_committed_meta(r->consumer, topic, partition,
                                  REPLAY_COMMITTED_WAIT_MS,
                                  &committed, meta, sizeof(meta), errstr,
                                  size);
    if (err)
        return err;
    pl->loaded = 1;
    pl->committed = committed;
    pl->parked = -1;
    if (sscanf(meta, REPLAY_META_FORMAT, &rules, &parked) != 2)
        return 0; /* none yet: nothing is parked */
    if (rules == r->rules) {
        pl->parked = parked; /* same rules: still parked */
        return 0;
    }
    if (parked < 0 || committed < 0 || parked >= committed)
        return 0;

    /* Rules changed: examine what was parked under the old ones. */
    pl->scan_rules = rules;
    pl->parked = parked;
    log_info("replay", "%s [%d]: the rules changed since offset %lld: "
             "examining the dead letters parked from offset %lld first",
             topic, (int)partition, (long long)committed, parked);
    err = consumer_seek(r->consumer, topic, partition, parked, errstr,
                        size);
    return err ? err : REPLAY_SEEKED;
}

/* Loads the plan of every newly assigned partition, before its first
 * message: a partition with nothing new must still go back to what was
 * parked under other rules. */
static int load_plans(struct replay *r, char *errstr, size_t size)
{
    /* static: 24 KiB kept off the stack; one thread runs a replay */
    static struct consumer_lag lags[REPLAY_MAX_PARTITIONS];
    size_t i, n = 0;
    int err = 0;

    consumer_lags(r->consumer, lags, REPLAY_MAX_PARTITIONS, &n);
    for (i = 0; i < n && (!err || err == REPLAY_SEEKED); i++) {
        int32_t p = lags[i].partition;

        if (p >= 0 && p < REPLAY_MAX_PARTITIONS && !r->plans[p].loaded)
            err = load_plan(r, lags[i].topic, p, &r->plans[p], errstr,
                            size);
    }
    return err == REPLAY_SEEKED ? 0 : err;
}

/* Examines msg, or passes it: a dead letter of another rules' scan, or
 * one already judged under today's rules (parked, not rewritten). */
static int handle(struct replay *r, const rd_kafka_message_t *msg,
                  char *errstr, size_t size)
{
    struct part_plan *pl = NULL;
    uint64_t rules = letter_rules(msg);
    int err;

    if (msg->partition >= 0 && msg->partition < REPLAY_MAX_PARTITIONS)
        pl = &r->plans[msg->partition];
    if (pl && !pl->loaded) { /* a dry run too: reading changes nothing */
        err = load_plan(r, rd_kafka_topic_name(msg->rkt), msg->partition,
                        pl, errstr, size);
        if (err)
            return err;
    }
    if (pl && pl->scan_rules && msg->offset < pl->committed) {
        pl->parked = msg->offset + 1; /* the scan's progress */
        return rules == pl->scan_rules ? replay_one(r, msg, errstr, size)
                                       : 0;
    }
    if (pl && pl->scan_rules) { /* the scan is over */
        pl->scan_rules = 0;
        pl->parked = -1;
    }
    if (rules != 0 && rules == r->rules) {
        r->st->read++;
        r->st->parked++;
        if (pl && pl->parked < 0)
            pl->parked = msg->offset;
        return 0;
    }
    return replay_one(r, msg, errstr, size);
}

/* The group metadata of a partition at commit: the rules and where the
 * parked dead letters begin; while a scan runs, the old rules and the
 * scan's progress, so that an interrupted scan resumes there. */
static void plan_meta(const struct replay *r, int32_t partition, char *out,
                      size_t size)
{
    const struct part_plan *pl = &r->plans[partition];

    if (pl->scan_rules)
        snprintf(out, size, REPLAY_META_FORMAT,
                 (unsigned long long)pl->scan_rules, (long long)pl->parked);
    else
        snprintf(out, size, REPLAY_META_FORMAT,
                 (unsigned long long)r->rules, (long long)pl->parked);
}

/* --- the run ---------------------------------------------------------- */

/* The fraction done: dead letters read against those read plus what is
 * left up to the partitions' high watermarks (which this run's own dead
 * letters raise, so it stays below 1 until the end). */
static double replay_fraction(const struct replay *r)
{
    /* static: 24 KiB kept off the stack; one thread runs a replay */
    static struct consumer_lag lags[REPLAY_MAX_PARTITIONS];
    size_t i, n = 0;
    double left = 0;

    consumer_lags(r->consumer, lags, REPLAY_MAX_PARTITIONS, &n);
    for (i = 0; i < n; i++) {
        if (lags[i].high < 0 || lags[i].next_offset < 0)
            return -1;
        if (lags[i].high > lags[i].next_offset)
            left += (double)(lags[i].high - lags[i].next_offset);
    }
    if (n == 0 || r->st->read + left <= 0)
        return -1;
    return (double)r->st->read / ((double)r->st->read + left);
}

static void show_progress(struct replay *r, int final)
{
    const struct replay_stats *st = r->st;
    char detail[160];

    if (!progress_due(&r->progress, final))
        return;
    snprintf(detail, sizeof(detail), "%lld replayed, %lld still failing, "
             "%lld skipped", st->replayed, st->still_failing,
             st->no_payload + st->no_key + st->undecryptable +
             st->unreadable);
    progress_show(&r->progress, st->read, final ? -1 : replay_fraction(r),
                  detail, final);
}

/* Everything produced is acknowledged before the group's offsets move
 * past the dead letters that caused it. */
static int commit(struct replay *r, char *errstr, size_t size)
{
    /* static: 100 KiB kept off the stack; one thread runs a replay */
    static char meta[SNAPSHOT_MAX_OFFSETS][REPLAY_META_MAX];
    static const char *meta_ptr[SNAPSHOT_MAX_OFFSETS];
    struct snapshot_offset offsets[SNAPSHOT_MAX_OFFSETS];
    size_t n = 0, i;
    int err;

    if (r->opt->dry_run || r->since_commit == 0)
        return 0;
    err = publisher_flush(r->pub, REPLAY_FLUSH_TIMEOUT_MS, errstr, size);
    if (err)
        return err;
    consumer_positions(r->consumer, offsets, SNAPSHOT_MAX_OFFSETS, &n);
    /* The consumer moves a position to the partition's end when it gets
     * there; in a finished partition this run's own dead letters are
     * not handled yet, and the next run starts at the first of them.
     * While a scan of parked dead letters runs, the offset stays where
     * the new ones begin (the metadata holds the scan's progress). */
    for (i = 0; i < n; i++) {
        int32_t p = offsets[i].partition;

        meta_ptr[i] = NULL;
        if (p < 0 || p >= REPLAY_MAX_PARTITIONS)
            continue;
        if (r->finished[p] && offsets[i].offset > r->first_own[p])
            offsets[i].offset = r->first_own[p];
        if (r->plans[p].scan_rules)
            offsets[i].offset = r->plans[p].committed;
        if (r->plans[p].loaded) {
            plan_meta(r, p, meta[i], sizeof(meta[i]));
            meta_ptr[i] = meta[i];
        }
    }
    err = consumer_commit_meta(r->consumer, offsets, meta_ptr, n, errstr,
                               size);
    if (!err)
        r->since_commit = 0;
    return err;
}

static int should_stop(const struct replay *r, double last_message_s)
{
    if (r->opt->stop && *r->opt->stop)
        return 1;
    if (r->opt->limit > 0 && r->st->read >= r->opt->limit)
        return 1;
    return consumer_caught_up(r->consumer) &&
           kafka_monotonic_s() - last_message_s >= r->opt->idle_exit_s;
}

static int run_loop(struct replay *r, char *errstr, size_t size)
{
    double last_message_s = kafka_monotonic_s();
    int err = 0;

    while (!err && !should_stop(r, last_message_s)) {
        rd_kafka_message_t *msg;

        err = load_plans(r, errstr, size);
        if (err)
            break;
        msg = consumer_poll(r->consumer, REPLAY_POLL_MS);

        if (msg && msg->err) {
            log_warn("replay", "%s [%d]: %s",
                     msg->rkt ? rd_kafka_topic_name(msg->rkt) : "-",
                     (int)msg->partition, rd_kafka_message_errstr(msg));
        } else if (msg && !from_this_run(r, msg)) {
            err = handle(r, msg, errstr, size);
            if (err == REPLAY_SEEKED)
                err = 0; /* the partition starts again further back */
            else if (!err) {
                consumer_mark_done(r->consumer, msg);
                r->since_commit++;
                last_message_s = kafka_monotonic_s();
            }
        }
        if (msg)
            rd_kafka_message_destroy(msg);
        if (r->pub)
            publisher_poll(r->pub);
        show_progress(r, 0);
        if (!err && r->since_commit >= REPLAY_COMMIT_EVERY)
            err = commit(r, errstr, size);
    }
    /* What came before a payload that cannot be opened is done: commit
     * it, so the next run starts at that payload and repeats nothing. */
    if (!err || err == RIFFLE_ERR_DECODE) {
        char why[REPLAY_WHY_MAX * 2];
        int commit_err = commit(r, why, sizeof(why));

        if (commit_err && !err)
            snprintf(errstr, size, "%s", why);
        if (!err)
            err = commit_err;
    }
    show_progress(r, 1);
    return err;
}

/* Snapshots read back when the newest is unusable, as `riffle learn`
 * reads them: a record on the model topic that is no snapshot (anyone
 * may write one) must not leave the replay without a duplicate window. */
#define REPLAY_RESTORE_CANDIDATES 8

/* The newest of found[0..n-1] that restores into r->ol, warning about
 * each one skipped; its version, or -1 when none does. */
static int64_t restore_newest(struct replay *r, const struct schema *schema,
                              const struct buf *found, size_t n,
                              struct snapshot_offset *offsets)
{
    char why[REPLAY_WHY_MAX * 2];
    struct snapshot_info info;
    size_t i, count = 0;

    for (i = 0; i < n; i++) {
        if (snapshot_restore(schema, r->ol, found[i].data, found[i].len,
                             offsets, SNAPSHOT_MAX_OFFSETS, &count, &info,
                             why, sizeof(why)) == 0)
            return info.version;
        log_warn("replay", "%s: snapshot %zu of model %s not usable: %s",
                 r->cfg->topic_models, i + 1, r->cfg->model_name, why);
    }
    return -1;
}

/* Reads the newest `keep` snapshots of the model and restores the newest
 * usable one from the from-th on into r->ol (r->st->snapshot_version);
 * *n says how many were found. */
static int read_candidates(struct replay *r, const struct schema *schema,
                           size_t keep, size_t from,
                           struct snapshot_offset *offsets, size_t *n,
                           char *errstr, size_t size)
{
    struct buf found[REPLAY_RESTORE_CANDIDATES];
    size_t i;
    int err;

    memset(found, 0, sizeof(found));
    err = topic_reader_latest_by_key(r->cfg->brokers, r->cfg->topic_models,
                                     r->cfg->model_name, found, keep, n,
                                     errstr, size);
    if (!err && *n > from)
        r->st->snapshot_version = restore_newest(r, schema, found + from,
                                                 *n - from, offsets);
    for (i = 0; i < *n; i++)
        buf_free(&found[i]);
    return err;
}

/* The learner judges duplicates and lateness as the live one would: with
 * the duplicate window and watermarks of the model's latest usable
 * snapshot, read as `riffle learn` reads it (the newest, and the older
 * ones only when it is unusable). Without one (no learner ran yet), only
 * the field rules. */
static int restore_latest(struct replay *r, char *errstr, size_t size)
{
    char path[CFG_PATH_MAX];
    struct snapshot_offset *offsets = NULL;
    struct schema *schema = NULL;
    size_t n = 0;
    int err;

    r->st->snapshot_version = -1;
    cfg_output_schema_path(r->cfg, CFG_SCHEMA_SNAPSHOT, path, sizeof(path));
    err = schema_load_file(path, &schema, errstr, size);
    offsets = calloc(SNAPSHOT_MAX_OFFSETS, sizeof(*offsets));
    if (!err && !offsets)
        err = RIFFLE_ERR_NOMEM;
    if (!err)
        err = read_candidates(r, schema, 1, 0, offsets, &n, errstr, size);
    if (!err && n == 1 && r->st->snapshot_version < 0)
        err = read_candidates(r, schema, REPLAY_RESTORE_CANDIDATES, 1,
                              offsets, &n, errstr, size);
    if (!err && n > 0 && r->st->snapshot_version < 0)
        log_warn("replay", "%s: no usable snapshot of model %s, judging "
                 "without its duplicate window and watermarks",
                 r->cfg->topic_models, r->cfg->model_name);
    if (!err && r->st->snapshot_version >= 0)
        log_info("replay", "duplicates and lateness judged as model %s "
                 "version %lld would", r->cfg->model_name,
                 (long long)r->st->snapshot_version);
    free(offsets);
    schema_destroy(schema);
    return err;
}

static int start(struct replay *r, char *errstr, size_t size)
{
    char path[CFG_PATH_MAX];
    int err;

    cfg_output_schema_path(r->cfg, CFG_SCHEMA_DEAD_LETTER, path,
                           sizeof(path));
    err = schema_load_file(r->cfg->schema_path, &r->input, errstr, size);
    if (err)
        cfg_schema_error(r->cfg, errstr, size); /* where it is set */
    if (!err)
        err = schema_history_new(path, &r->dead_letters, errstr, size);
    if (!err)
        err = online_new(r->cfg, r->input, &r->ol, errstr, size);
    if (!err)
        err = restore_latest(r, errstr, size);
    if (!err)
        err = keyring_load_dead_letter(r->cfg, &r->keys, errstr, size);
    if (!err && !r->opt->dry_run)
        err = publisher_new(r->cfg->brokers, "riffle-dlq-replay", &r->pub,
                            errstr, size);
    if (!err && !r->opt->dry_run)
        err = outputs_new(r->cfg, r->pub, &r->out, errstr, size);
    if (!err)
        err = consumer_new(r->cfg->brokers, r->group,
                           r->cfg->topic_dead_letters, NULL, 0, 0, NULL,
                           &r->consumer, errstr, size);
    return err;
}

static void finish(struct replay *r)
{
    consumer_destroy(r->consumer);
    outputs_destroy(r->out);
    publisher_destroy(r->pub);
    online_destroy(r->ol);
    if (r->value_schema)
        avro_value_decref(&r->value);
    schema_history_destroy(r->dead_letters);
    schema_destroy(r->input);
    keyring_wipe(&r->keys);
    buf_free(&r->plain);
    buf_free(&r->plain_key);
}

/* The rules a dead letter is judged by: CRC-64 of the configuration
 * file's bytes (any edit counts as a change; never 0). */
static int rules_fingerprint(const struct cfg *cfg, uint64_t *out,
                             char *errstr, size_t size)
{
    char chunk[4096];
    uint64_t fp = schema_crc64_avro(NULL, 0);
    size_t got, total = 0;
    FILE *f = fopen(cfg->path, "rb");

    if (!f) {
        snprintf(errstr, size, "%s: %s", cfg->path, strerror(errno));
        return RIFFLE_ERR_IO;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           total < (size_t)REPLAY_CFG_MAX_BYTES) {
        fp = schema_crc64_avro_update(fp, chunk, got);
        total += got;
    }
    fclose(f);
    *out = fp ? fp : 1;
    return 0;
}

int replay_run(const struct cfg *cfg, const struct replay_options *opt,
               struct replay_stats *st, char *errstr, size_t errstr_size)
{
    struct replay r;
    int err;

    memset(&r, 0, sizeof(r));
    memset(st, 0, sizeof(*st));
    buf_hold_secret(&r.plain); /* opened dead letters: see replay_one() */
    buf_hold_secret(&r.plain_key);
    r.cfg = cfg;
    r.opt = opt;
    r.st = st;
    progress_start(&r.progress, "replay", "dead letters", opt->progress);
    err = rules_fingerprint(cfg, &r.rules, errstr, errstr_size);
    if (err)
        return err;
    /* The rules' fingerprint ends the id: see letter_rules(). */
    snprintf(r.run_id, sizeof(r.run_id), "%lld-%ld-%016llx",
             (long long)kafka_now_ms(), (long)getpid(),
             (unsigned long long)r.rules);
    if (opt->group)
        snprintf(r.group, sizeof(r.group), "%s", opt->group);
    else
        snprintf(r.group, sizeof(r.group), "%s" REPLAY_GROUP_SUFFIX,
                 cfg->group_id);

    err = start(&r, errstr, errstr_size);
    if (!err) {
        log_info("replay", "%s -> %s (group %s%s)", cfg->topic_dead_letters,
                 cfg->topic_input, r.group, opt->dry_run ? ", dry run" : "");
        err = run_loop(&r, errstr, errstr_size);
    }
    finish(&r);
    return err;
}
