/*
 * common/kafka.c - librdkafka configuration helpers, see kafka.h.
 */
#include "common/kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/broker_wait.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define KAFKA_SECRET_MAX 1024 /* bytes of a password, newline included */

/* The process-wide security settings, see kafka_security_apply(). */
static struct {
    int active;
    struct kafka_security cfg;
    char username[KAFKA_SECURITY_TEXT_MAX];
    char password[KAFKA_SECRET_MAX];
    char key_password[KAFKA_SECRET_MAX];
    char description[2 * KAFKA_SECURITY_TEXT_MAX + 64];
} security;

/* Failures no retry can fix: librdkafka would reconnect forever and the
 * command would hang, so the process stops with a plain explanation. */
static int is_refusal(const char *fac, const char *buf)
{
    if (strcmp(fac, "FAIL") != 0 && strcmp(fac, "ERROR") != 0)
        return 0;
    return strstr(buf, "SASL authentication error") != NULL ||
           strstr(buf, "Authentication failed") != NULL ||
           strstr(buf, "SSL handshake failed") != NULL;
}

enum log_level kafka_log_level(int level, const char *fac, const char *buf)
{
    if (level == 4 && strcmp(fac, "GETPID") == 0 &&
        strstr(buf, ": retrying") != NULL)
        return LOG_LEVEL_INFO;
    if (strcmp(fac, "ADDOFFSETS") == 0 &&
        strstr(buf, rd_kafka_err2str(
                        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS)) != NULL)
        return LOG_LEVEL_INFO;
    return level <= 3   ? LOG_LEVEL_ERROR
           : level == 4 ? LOG_LEVEL_WARN
           : level <= 6 ? LOG_LEVEL_INFO
                        : LOG_LEVEL_DEBUG;
}

static void route_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
    enum log_level ours = kafka_log_level(level, fac, buf);

    log_write(ours, "rdkafka", "%s %s: %s", rd_kafka_name(rk), fac, buf);
    if (level <= 3 && is_refusal(fac, buf)) {
        log_error("kafka", "the brokers refused the connection (%s): "
                  "check kafka.sasl_username, the password and the "
                  "certificates; stopping", kafka_security_describe());
        fflush(stderr);
        /* From librdkafka's thread, before anything was published under
         * these credentials: nothing to flush or commit. */
        _exit(KAFKA_EXIT_AUTH_FAILED);
    }
}

void kafka_security_init(struct kafka_security *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->protocol, sizeof(s->protocol), "plaintext");
    s->ssl_verify_hostname = 1;
}

/* Reads a secret: the value of env_value, else the file named by
 * env_file, else path. Trailing newlines are dropped. Returns 1 when
 * found, 0 when none is set, -1 with errstr on a read error. */
static int read_secret(const char *env_value, const char *env_file,
                       const char *path, char *out, size_t size,
                       char *errstr, size_t errstr_size)
{
    const char *v = getenv(env_value);
    const char *file = getenv(env_file);
    FILE *f;
    size_t n;

    if (v && *v) {
        snprintf(out, size, "%s", v);
        return 1;
    }
    if (!file || !*file)
        file = path;
    if (!file || !*file)
        return 0;
    f = fopen(file, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot read the secret file %s "
                 "(%s): %s", file, env_file, strerror(errno));
        return -1;
    }
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 1;
}

static int check_file(const char *path, const char *what, char *errstr,
                      size_t errstr_size)
{
    if (!*path || access(path, R_OK) == 0)
        return 0;
    snprintf(errstr, errstr_size, "kafka.%s: cannot read %s: %s", what, path,
             strerror(errno));
    return RIFFLE_ERR_CFG;
}

int kafka_security_apply(const struct kafka_security *s, char *errstr,
                         size_t errstr_size)
{
    const char *user = getenv("RIFFLE_KAFKA_SASL_USERNAME");
    int sasl = strncmp(s->protocol, "sasl_", 5) == 0;
    int found;

    memset(&security, 0, sizeof(security));
    security.cfg = *s;
    snprintf(security.username, sizeof(security.username), "%s",
             user && *user ? user : s->sasl_username);

    if (check_file(s->ssl_ca_file, "ssl_ca_file", errstr, errstr_size) ||
        check_file(s->ssl_certificate_file, "ssl_certificate_file", errstr,
                   errstr_size) ||
        check_file(s->ssl_key_file, "ssl_key_file", errstr, errstr_size))
        return RIFFLE_ERR_CFG;
    if (sasl && !security.username[0]) {
        snprintf(errstr, errstr_size, "kafka.security_protocol %s needs a "
                 "user: set kafka.sasl_username or RIFFLE_KAFKA_SASL_USERNAME",
                 s->protocol);
        return RIFFLE_ERR_CFG;
    }
    found = read_secret("RIFFLE_KAFKA_SASL_PASSWORD",
                        "RIFFLE_KAFKA_SASL_PASSWORD_FILE",
                        s->sasl_password_file, security.password,
                        sizeof(security.password), errstr, errstr_size);
    if (found < 0)
        return RIFFLE_ERR_CFG;
    if (sasl && !found) {
        snprintf(errstr, errstr_size, "kafka.security_protocol %s needs a "
                 "password: set kafka.sasl_password_file, "
                 "RIFFLE_KAFKA_SASL_PASSWORD_FILE or "
                 "RIFFLE_KAFKA_SASL_PASSWORD", s->protocol);
        return RIFFLE_ERR_CFG;
    }
    if (read_secret("RIFFLE_KAFKA_SSL_KEY_PASSWORD",
                    "RIFFLE_KAFKA_SSL_KEY_PASSWORD_FILE",
                    s->ssl_key_password_file, security.key_password,
                    sizeof(security.key_password), errstr, errstr_size) < 0)
        return RIFFLE_ERR_CFG;

    if (sasl)
        snprintf(security.description, sizeof(security.description),
                 "%s, %s as user '%s'", s->protocol, s->sasl_mechanism,
                 security.username);
    else
        snprintf(security.description, sizeof(security.description), "%s",
                 s->protocol);
    security.active = 1;
    return 0;
}

const char *kafka_security_describe(void)
{
    return security.active ? security.description : "plaintext";
}

/* Sets name to value when value is not empty. */
static int set_if(rd_kafka_conf_t *conf, const char *name, const char *value,
                  char *errstr, size_t errstr_size)
{
    if (!value[0])
        return 0;
    return kafka_conf_set(conf, name, value, errstr, errstr_size);
}

static int apply_security(rd_kafka_conf_t *conf, char *errstr,
                          size_t errstr_size)
{
    const struct kafka_security *s = &security.cfg;
    int sasl = strncmp(s->protocol, "sasl_", 5) == 0;
    int tls = strcmp(s->protocol, "ssl") == 0 ||
              strcmp(s->protocol, "sasl_ssl") == 0;
    int err;

    if (!security.active || strcmp(s->protocol, "plaintext") == 0)
        return 0;
    err = kafka_conf_set(conf, "security.protocol", s->protocol, errstr,
                         errstr_size);
    if (!err && sasl)
        err = kafka_conf_set(conf, "sasl.mechanisms", s->sasl_mechanism,
                             errstr, errstr_size) ||
              kafka_conf_set(conf, "sasl.username", security.username,
                             errstr, errstr_size) ||
              kafka_conf_set(conf, "sasl.password", security.password,
                             errstr, errstr_size);
    if (!err && tls)
        err = set_if(conf, "ssl.ca.location", s->ssl_ca_file, errstr,
                     errstr_size) ||
              set_if(conf, "ssl.certificate.location",
                     s->ssl_certificate_file, errstr, errstr_size) ||
              set_if(conf, "ssl.key.location", s->ssl_key_file, errstr,
                     errstr_size) ||
              set_if(conf, "ssl.key.password", security.key_password,
                     errstr, errstr_size) ||
              kafka_conf_set(conf, "ssl.endpoint.identification.algorithm",
                             s->ssl_verify_hostname ? "https" : "none",
                             errstr, errstr_size);
    return err ? RIFFLE_ERR_KAFKA : 0;
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                   const char *value, char *errstr, size_t errstr_size)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka property %s: %s", name, why);
        return RIFFLE_ERR_KAFKA;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *client_id,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char timeout[32];

    snprintf(timeout, sizeof(timeout), "%d", KAFKA_SOCKET_TIMEOUT_MS);
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                       errstr_size) ||
        kafka_conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
        kafka_conf_set(conf, "socket.timeout.ms", timeout, errstr,
                       errstr_size) ||
        apply_security(conf, errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, route_log);
    return conf;
}

int64_t kafka_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kafka_message_wipe(rd_kafka_message_t *msg)
{
    if (msg->err)
        return;
    if (msg->payload)
        OPENSSL_cleanse(msg->payload, msg->len);
    if (msg->key)
        OPENSSL_cleanse(msg->key, msg->key_len);
}

double kafka_monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kafka_err_is_transient(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return 1;
    default:
        return 0;
    }
}

/* Read by every thread that waits on the brokers; written once before
 * any starts (kafka_set_stop()). */
static const volatile sig_atomic_t *kafka_stop;

void kafka_set_stop(const volatile sig_atomic_t *stop)
{
    kafka_stop = stop;
}

const volatile sig_atomic_t *kafka_stop_flag(void)
{
    return kafka_stop;
}

int kafka_stop_requested(void)
{
    return kafka_stop && *kafka_stop;
}

int kafka_retry_transient(rd_kafka_resp_err_t err, double started_s)
{
    struct timespec pause = {0, KAFKA_TRANSIENT_PAUSE_MS * 1000000L};

    if (!kafka_err_is_transient(err) || kafka_stop_requested() ||
        (kafka_monotonic_s() - started_s) * 1000.0 >= KAFKA_TRANSIENT_WAIT_MS)
        return 0;
    log_debug("kafka", "retrying after a transient error: %s",
              rd_kafka_err2str(err));
    nanosleep(&pause, NULL);
    return 1;
}

/* What an ask for offsets was for, in words, from the offset an element
 * held before the answer replaced it. */
static const char *asked_for(int64_t offset)
{
    if (offset == RD_KAFKA_OFFSET_BEGINNING)
        return "first offset";
    if (offset == RD_KAFKA_OFFSET_END)
        return "end";
    return "offset by time";
}

/* Says in errstr that err stopped the ask for what of topic [partition],
 * others more partitions going unanswered with it. */
static void say_offsets_error(rd_kafka_resp_err_t err, int timeout_ms,
                              const char *what, const char *topic,
                              int partition, int others, char *errstr,
                              size_t errstr_size)
{
    char more[64] = "";

    if (others > 0)
        snprintf(more, sizeof(more), " (and %d more partition(s))", others);
    if (kafka_err_is_transient(err))
        snprintf(errstr, errstr_size, "the brokers do not answer within %g s "
                 "for the %s of %s [%d]%s: %s", timeout_ms / 1000.0, what,
                 topic, partition, more, rd_kafka_err2str(err));
    else
        snprintf(errstr, errstr_size, "the brokers refuse the %s of %s [%d]%s:"
                 " %s", what, topic, partition, more, rd_kafka_err2str(err));
}

/* "give the WHAT of TOPIC [P]", and " and more partitions" when list has
 * more than one: what a sliced ask about list waits for, in log lines. */
static void describe_ask(char *out, size_t size, const char *what,
                         const rd_kafka_topic_partition_list_t *list)
{
    snprintf(out, size, "give the %s of %s [%d]%s", what,
             list->elems[0].topic, (int)list->elems[0].partition,
             list->cnt > 1 ? " and more partitions" : "");
}

/* One ListOffsets round for kafka_ask_sliced(): each element asks again
 * what it asked first, whatever an earlier round cut short left in it. */
struct offsets_ask {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *list;
    int64_t *asked;
};

static rd_kafka_resp_err_t offsets_ask(void *opaque, int timeout_ms)
{
    struct offsets_ask *a = opaque;
    int i;

    for (i = 0; i < a->list->cnt; i++) {
        a->list->elems[i].offset = a->asked[i];
        a->list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    return rd_kafka_offsets_for_times(a->rk, a->list, timeout_ms);
}

rd_kafka_resp_err_t kafka_query_offsets(rd_kafka_t *rk,
                                        rd_kafka_topic_partition_list_t *list,
                                        int timeout_ms, char *errstr,
                                        size_t errstr_size)
{
    struct offsets_ask a = {rk, list, NULL};
    char ask[300];
    const char *what;
    rd_kafka_resp_err_t err;
    int i;

    if (list->cnt == 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    what = asked_for(list->elems[0].offset);
    a.asked = malloc((size_t)list->cnt * sizeof(*a.asked));
    if (!a.asked) {
        snprintf(errstr, errstr_size, "no memory to ask the %s of %s",
                 what, list->elems[0].topic);
        return RD_KAFKA_RESP_ERR__FAIL; /* not transient: reported */
    }
    for (i = 0; i < list->cnt; i++)
        a.asked[i] = list->elems[i].offset;
    describe_ask(ask, sizeof(ask), what, list);

    err = kafka_ask_sliced(rk, offsets_ask, &a, timeout_ms, ask, errstr,
                           errstr_size);
    free(a.asked);
    if (err == KAFKA_ERR_STOPPED)
        return err; /* errstr says what the stop left unanswered */
    if (err) {
        say_offsets_error(err, timeout_ms, what, list->elems[0].topic,
                          (int)list->elems[0].partition, list->cnt - 1,
                          errstr, errstr_size);
        return err;
    }

    for (i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];

        if (tp->err) {
            say_offsets_error(tp->err, timeout_ms, what, tp->topic,
                              (int)tp->partition, 0, errstr, errstr_size);
            return tp->err;
        }
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Asks the offset of partitions 0..count-1 of topic that at stands for
 * (see kafka_query_offsets()) into out[0..count-1]. */
static rd_kafka_resp_err_t query_each(rd_kafka_t *rk, const char *topic,
                                      int count, int64_t at, int64_t *out,
                                      int timeout_ms, char *errstr,
                                      size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(count > 0 ? count : 1);
    rd_kafka_resp_err_t err;
    int i;

    for (i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(list, topic, i)->offset = at;
    err = kafka_query_offsets(rk, list, timeout_ms, errstr, errstr_size);
    for (i = 0; !err && i < list->cnt; i++)
        out[list->elems[i].partition] = list->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

rd_kafka_resp_err_t kafka_query_watermarks(rd_kafka_t *rk, const char *topic,
                                           int count, int64_t *low,
                                           int64_t *high, int timeout_ms,
                                           char *errstr, size_t errstr_size)
{
    double started = kafka_monotonic_s();
    rd_kafka_resp_err_t err;
    int left;

    /* One partition cannot appear twice in one ListOffsets request:
     * the first offsets and the ends are two rounds. */
    err = query_each(rk, topic, count, RD_KAFKA_OFFSET_END, high, timeout_ms,
                     errstr, errstr_size);
    if (err || !low)
        return err;

    left = timeout_ms - (int)((kafka_monotonic_s() - started) * 1000.0);
    if (left <= 0) {
        err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        say_offsets_error(err, timeout_ms, asked_for(RD_KAFKA_OFFSET_BEGINNING),
                          topic, 0, count - 1, errstr, errstr_size);
        return err;
    }
    return query_each(rk, topic, count, RD_KAFKA_OFFSET_BEGINNING, low, left,
                      errstr, errstr_size);
}

struct committed_ask {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *list;
};

static rd_kafka_resp_err_t committed_ask(void *opaque, int timeout_ms)
{
    struct committed_ask *a = opaque;

    return rd_kafka_committed(a->rk, a->list, timeout_ms);
}

rd_kafka_resp_err_t kafka_committed(rd_kafka_t *rk,
                                    rd_kafka_topic_partition_list_t *list,
                                    int timeout_ms, char *errstr,
                                    size_t errstr_size)
{
    struct committed_ask a = {rk, list};
    char what[300];

    if (list->cnt == 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    describe_ask(what, sizeof(what), "group's committed offsets", list);
    return kafka_ask_sliced(rk, committed_ask, &a, timeout_ms, what, errstr,
                            errstr_size);
}

static rd_kafka_resp_err_t ask_sliced_wait(kafka_ask_fn ask, void *opaque,
                                           int timeout_ms,
                                           struct broker_wait *w,
                                           const char *what, char *errstr,
                                           size_t errstr_size);

/* The partitions a commit of list (NULL: rk's stored offsets) is for, in
 * a new list the caller destroys; NULL when there are none. */
static rd_kafka_topic_partition_list_t *
commit_partitions(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *parts = NULL;

    if (list)
        return list->cnt > 0 ? kafka_offsets_copy(list, 0) : NULL;
    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (parts->cnt > 0)
        return parts;
    rd_kafka_topic_partition_list_destroy(parts);
    return NULL;
}

rd_kafka_resp_err_t kafka_commit(rd_kafka_t *rk,
                                 const rd_kafka_topic_partition_list_t *list,
                                 struct broker_wait *w, const char *what,
                                 char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts;
    struct committed_ask a = {rk, NULL};
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    rd_kafka_resp_err_t err;
    int werr;

    if (!w->stop)
        return rd_kafka_commit(rk, list, 0);

    /* A commit sent while no coordinator is known waits inside
     * librdkafka for one (up to the group's session timeout) and holds
     * the consumer's close as long, stop or not: the coordinator is
     * first found by reading the same partitions' committed offsets, a
     * request that a stop can leave behind. */
    parts = commit_partitions(rk, list);
    if (parts) {
        a.list = parts;
        err = ask_sliced_wait(committed_ask, &a, KAFKA_COMMIT_FIND_MS, w,
                              what, errstr, errstr_size);
        rd_kafka_topic_partition_list_destroy(parts);
        if (err == KAFKA_ERR_STOPPED)
            return err;
        if (err)
            return kafka_err_is_transient(err) ? RD_KAFKA_RESP_ERR__WAIT_COORD
                                               : err;
    }

    q = rd_kafka_queue_new(rk);
    err = rd_kafka_commit_queue(rk, list, q, NULL, NULL);
    while (!err) {
        ev = rd_kafka_queue_poll(q, BROKER_WAIT_SLICE_MS);
        if (ev) {
            err = rd_kafka_event_error(ev);
            rd_kafka_event_destroy(ev);
            break;
        }
        werr = RIFFLE_ERR_TIMEOUT;
        if (!broker_wait_again(w, kafka_monotonic_s(), what, &werr, errstr,
                               errstr_size))
            err = KAFKA_ERR_STOPPED;
    }
    rd_kafka_queue_destroy(q); /* a late answer is dropped with it */
    return err;
}

#define KAFKA_MISSING_TOPIC_PAUSE_MS 250

/* One metadata request for topic: err for the request, *topic_err and
 * *count for the topic. */
static rd_kafka_resp_err_t ask_partitions(rd_kafka_t *rk, const char *topic,
                                          int timeout_ms, int *count,
                                          rd_kafka_resp_err_t *topic_err)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;

    err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err)
        return err;
    *topic_err = md->topic_cnt == 1 ? md->topics[0].err
                                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    *count = *topic_err ? 0 : md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_topic_partition_list_t *
kafka_offsets_copy(const rd_kafka_topic_partition_list_t *list, int metadata)
{
    rd_kafka_topic_partition_list_t *copy =
        rd_kafka_topic_partition_list_new(list->cnt > 0 ? list->cnt : 1);
    int i;

    for (i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *from = &list->elems[i];
        rd_kafka_topic_partition_t *to = rd_kafka_topic_partition_list_add(
            copy, from->topic, from->partition);

        to->offset = from->offset;
        if (!metadata || from->metadata_size == 0)
            continue;
        /* librdkafka frees it with the list; without memory the copy
         * goes without it, which only makes it say less */
        to->metadata = malloc(from->metadata_size);
        if (to->metadata) {
            memcpy(to->metadata, from->metadata, from->metadata_size);
            to->metadata_size = from->metadata_size;
        }
    }
    return copy;
}

int kafka_offsets_claim(rd_kafka_topic_partition_list_t *list,
                        const char *claim)
{
    size_t size = strlen(claim);
    int i;

    for (i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        void *copy = malloc(size > 0 ? size : 1);

        if (!copy)
            return -1;
        memcpy(copy, claim, size);
        /* librdkafka frees the metadata with the list */
        free(tp->metadata);
        tp->metadata = copy;
        tp->metadata_size = size;
    }
    return 0;
}

/* The bootstrap servers of rk into brokers, only to be named in a text. */
static void brokers_of(rd_kafka_t *rk, char *brokers, size_t size)
{
    brokers[0] = '\0';
    (void)rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", brokers,
                            &size); /* an empty name only says less */
}

/* kafka_ask_sliced() with the wait w (its stop flag set) given. */
static rd_kafka_resp_err_t ask_sliced_wait(kafka_ask_fn ask, void *opaque,
                                           int timeout_ms,
                                           struct broker_wait *w,
                                           const char *what, char *errstr,
                                           size_t errstr_size)
{
    struct timespec pause = {0, KAFKA_TRANSIENT_PAUSE_MS * 1000000L};
    double started = kafka_monotonic_s(), asked;
    int slice = BROKER_WAIT_SLICE_MS, left, this, werr;
    rd_kafka_resp_err_t err;

    for (;;) {
        left = timeout_ms - (int)((kafka_monotonic_s() - started) * 1000.0);
        this = slice < left ? slice : left;
        asked = kafka_monotonic_s();
        err = ask(opaque, this > 0 ? this : 1);
        if (!kafka_err_is_transient(err) || this >= left)
            return err;

        werr = RIFFLE_ERR_TIMEOUT;
        if (!broker_wait_again(w, kafka_monotonic_s(), what, &werr, errstr,
                               errstr_size))
            return werr == RIFFLE_ERR_STOPPED ? KAFKA_ERR_STOPPED : err;
        /* An error given at once (no connection yet) is asked again after
         * a pause, with the same slice; a slice used up, with a longer. */
        if ((kafka_monotonic_s() - asked) * 1000.0 < this / 2.0)
            nanosleep(&pause, NULL);
        else if (slice < KAFKA_ASK_SLICE_MAX_MS)
            slice *= 2;
    }
}

rd_kafka_resp_err_t kafka_ask_sliced(rd_kafka_t *rk, kafka_ask_fn ask,
                                     void *opaque, int timeout_ms,
                                     const char *what, char *errstr,
                                     size_t errstr_size)
{
    char brokers[512];
    struct broker_wait w;

    if (!kafka_stop)
        return ask(opaque, timeout_ms);
    brokers_of(rk, brokers, sizeof(brokers));
    broker_wait_start(&w, "kafka", brokers, kafka_stop, kafka_monotonic_s());
    return ask_sliced_wait(ask, opaque, timeout_ms, &w, what, errstr,
                           errstr_size);
}

struct partitions_ask {
    rd_kafka_t *rk;
    const char *topic;
    int *count;
    rd_kafka_resp_err_t *topic_err;
};

static rd_kafka_resp_err_t partitions_ask(void *opaque, int timeout_ms)
{
    struct partitions_ask *a = opaque;

    return ask_partitions(a->rk, a->topic, timeout_ms, a->count,
                          a->topic_err);
}

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           int missing_wait_ms, int *count, char *errstr,
                           size_t errstr_size)
{
    rd_kafka_resp_err_t unanswered;

    return kafka_topic_partitions_asked(rk, topic, timeout_ms,
                                        missing_wait_ms, count, &unanswered,
                                        errstr, errstr_size);
}

/* Says that no broker answered the ask for topic within timeout_ms
 * (err its error), where riffle looked and how to point it elsewhere: a
 * newcomer's first run meets no broker, or one on another port. */
static int unreachable(rd_kafka_t *rk, const char *topic, int timeout_ms,
                       rd_kafka_resp_err_t err, char *errstr,
                       size_t errstr_size)
{
    char brokers[256];

    brokers_of(rk, brokers, sizeof(brokers));
    snprintf(errstr, errstr_size, "cannot reach the brokers (%s) for "
             "topic %s within %g s: %s; is a broker running there? "
             "kafka.brokers or --brokers HOST:PORT names it", brokers,
             topic, timeout_ms / 1000.0, rd_kafka_err2str(err));
    return RIFFLE_ERR_KAFKA;
}

/* The one wait on a topic's metadata, of kafka_topic_partitions() and
 * kafka_await_topic(): asks for topic's partitions (each ask up to
 * ask_ms) until the brokers show it without an error of its own (shown
 * nonzero) or call it unknown (shown zero), or wait_ms have passed. The
 * bound is on the clock, asks included (a count of the pauses between
 * them left the asks out): no ask starts past it, and the pause before
 * the next is cut to what is left. Returns 0 once as awaited (*count the
 * partitions when shown); RIFFLE_ERR_TIMEOUT, *waited_ms the time taken
 * and *topic_err the brokers' last error for the topic; or, errstr
 * saying why, RIFFLE_ERR_KAFKA for an ask no broker answered (*unanswered
 * its error) or RIFFLE_ERR_STOPPED. */
static int await_metadata(rd_kafka_t *rk, const char *topic, int shown,
                          int ask_ms, int wait_ms, int *count,
                          rd_kafka_resp_err_t *unanswered,
                          rd_kafka_resp_err_t *topic_err, int *waited_ms,
                          char *errstr, size_t errstr_size)
{
    struct partitions_ask a = {rk, topic, count, topic_err};
    double started = kafka_monotonic_s();
    rd_kafka_resp_err_t err;
    char what[300];
    int left;

    snprintf(what, sizeof(what), "give the partitions of topic %s", topic);
    *waited_ms = 0;
    for (;;) {
        *topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        err = kafka_ask_sliced(rk, partitions_ask, &a, ask_ms, what, errstr,
                               errstr_size);
        *unanswered = err;
        if (err == KAFKA_ERR_STOPPED)
            return RIFFLE_ERR_STOPPED;
        if (err)
            return unreachable(rk, topic, ask_ms, err, errstr, errstr_size);
        /* Only "unknown topic" is gone: a topic shown with an error of
         * its own (no leader yet, or while it is deleted) is still there,
         * and not yet usable. */
        if (shown ? !*topic_err
                  : *topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return 0;
        *waited_ms = (int)((kafka_monotonic_s() - started) * 1000.0);
        left = wait_ms - *waited_ms;
        if (left <= 0)
            return RIFFLE_ERR_TIMEOUT;
        rd_kafka_poll(rk, left < KAFKA_MISSING_TOPIC_PAUSE_MS
                              ? left
                              : KAFKA_MISSING_TOPIC_PAUSE_MS);
    }
}

static char hint_config[1024] = "CONFIG";

void kafka_set_hint_config(const char *path)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                "OPQRSTUVWXYZ0123456789_./+,:=@%-";
    struct buf q = {0};
    const char *p;
    int bad = 0;

    if (*path && path[strspn(path, plain)] == '\0' && path[0] != '-') {
        bad = buf_printf(&q, "%s", path);
    } else {
        /* '...' keeps every byte but the quote, written '\'' */
        bad = buf_printf(&q, "'");
        for (p = path; !bad && *p; p++)
            bad = *p == '\'' ? buf_printf(&q, "'\\''") : buf_push(&q, *p);
        bad = bad || buf_printf(&q, "'");
    }
    if (!bad && q.len < sizeof(hint_config))
        memcpy(hint_config, q.data, q.len + 1);
    buf_free(&q);
}

const char *kafka_hint_config(void)
{
    return hint_config;
}

int kafka_topic_partitions_asked(rd_kafka_t *rk, const char *topic,
                                 int timeout_ms, int missing_wait_ms,
                                 int *count, rd_kafka_resp_err_t *unanswered,
                                 char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t topic_err;
    int waited_ms;
    int err = await_metadata(rk, topic, 1, timeout_ms, missing_wait_ms,
                             count, unanswered, &topic_err, &waited_ms,
                             errstr, errstr_size);

    if (err == RIFFLE_ERR_TIMEOUT) {
        snprintf(errstr, errstr_size, "topic %s: %s (create the pipeline's "
                 "topics with: riffle topics create -c %s)", topic,
                 rd_kafka_err2str(topic_err), hint_config);
        return RIFFLE_ERR_KAFKA;
    }
    return err;
}

int kafka_await_topic(rd_kafka_t *rk, const char *topic, int present,
                      int wait_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t unanswered, topic_err;
    int count = 0, waited_ms;
    /* Each ask may take wait_ms, so that a slow broker is not called
     * unreachable for a last ask given only what was left. */
    int err = await_metadata(rk, topic, present, wait_ms, wait_ms, &count,
                             &unanswered, &topic_err, &waited_ms, errstr,
                             errstr_size);

    if (err == RIFFLE_ERR_TIMEOUT)
        snprintf(errstr, errstr_size, "topic %s is still %s the brokers' "
                 "metadata after %d ms", topic,
                 present ? "missing from" : "in", waited_ms);
    return err;
}
