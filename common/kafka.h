/*
 * common/kafka.h - librdkafka set-up shared by every Kafka client riffle
 * makes: bootstrap servers, client id, TLS and SASL settings, and
 * librdkafka's own log lines routed into riffle's log with the component
 * "rdkafka".
 *
 * Security settings are process-wide: every client one riffle process
 * makes talks to the same cluster as the same principal, so they are set
 * once after the configuration is loaded (kafka_security_apply()) and
 * every later kafka_conf_new() carries them.
 */
#ifndef RIFFLE_COMMON_KAFKA_H
#define RIFFLE_COMMON_KAFKA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/log.h"

#define KAFKA_SOCKET_TIMEOUT_MS 10000 /* fail fast when no broker answers */
#define KAFKA_SECURITY_TEXT_MAX 256   /* mechanism, protocol, user name */
#define KAFKA_SECURITY_PATH_MAX 1024  /* certificate and secret files */
#define KAFKA_EXIT_AUTH_FAILED 3      /* exit status: the broker refused
                                         riffle's credentials */

/* TLS and SASL, as configured (config/cfg.c, kafka.* keys). Empty strings
 * are unset. Secrets are never held here, only where to read them. */
struct kafka_security {
    char protocol[KAFKA_SECURITY_TEXT_MAX]; /* plaintext, ssl,
                                               sasl_plaintext, sasl_ssl */
    char sasl_mechanism[KAFKA_SECURITY_TEXT_MAX]; /* PLAIN, SCRAM-SHA-256,
                                                     SCRAM-SHA-512 */
    char sasl_username[KAFKA_SECURITY_TEXT_MAX];
    char sasl_password_file[KAFKA_SECURITY_PATH_MAX];
    char ssl_ca_file[KAFKA_SECURITY_PATH_MAX];   /* PEM, to trust brokers */
    char ssl_certificate_file[KAFKA_SECURITY_PATH_MAX]; /* PEM, mutual TLS */
    char ssl_key_file[KAFKA_SECURITY_PATH_MAX];
    char ssl_key_password_file[KAFKA_SECURITY_PATH_MAX];
    int ssl_verify_hostname; /* check the broker's name in its certificate */
};

/* Defaults: plaintext, hostname verification on. */
void kafka_security_init(struct kafka_security *s);

/* Resolves the secrets and keeps s for every later kafka_conf_new(). The
 * SASL user name comes from RIFFLE_KAFKA_SASL_USERNAME or s; the password
 * from RIFFLE_KAFKA_SASL_PASSWORD, else the file named by
 * RIFFLE_KAFKA_SASL_PASSWORD_FILE, else s->sasl_password_file; a TLS key's
 * password from RIFFLE_KAFKA_SSL_KEY_PASSWORD or its file. Returns 0, or
 * RIFFLE_ERR_CFG with errstr saying what is missing or unreadable (never
 * a secret). Call from the main thread before any client exists. */
int kafka_security_apply(const struct kafka_security *s, char *errstr,
                         size_t errstr_size);

/* A one-line description for logs: protocol, mechanism and user; never
 * the password. */
const char *kafka_security_describe(void);

/* A new configuration for brokers with riffle's log callback. Returns
 * NULL with errstr set on failure. The caller owns the result until it
 * hands it to rd_kafka_new(). */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *client_id,
                                char *errstr, size_t errstr_size);

/* Sets one property; returns 0 or RIFFLE_ERR_KAFKA with errstr naming
 * the property. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                   const char *value, char *errstr, size_t errstr_size);

/* The level riffle logs one of librdkafka's lines at, given its syslog
 * level (0-3 errors, 4 warnings, 5-6 info, 7 debug) and facility. A
 * producer id that a broker could not give yet and that librdkafka asks
 * for again ("GETPID ... Coordinator load in progress: retrying", every
 * start on a fresh broker) is info, not a warning: it sorts itself out,
 * and a lasting failure ends in an error of its own. So is the offsets
 * of a transaction refused while the broker still ends the one before
 * ("ADDOFFSETS ... another concurrent operation", logged as an error
 * when a commit follows an abort or another commit closely): the call
 * returns a retriable error, which riffle retries, saying so when the
 * wait lasts. */
enum log_level kafka_log_level(int level, const char *fac, const char *buf);

/* Whether a one-shot request (watermarks, offsets by time, committed
 * offsets) that failed with err may succeed if asked again shortly: a
 * partition whose leader is still being elected just after the topic was
 * created or a broker restarted, a coordinator that is loading, a lost
 * connection, a timeout. Errors of the request itself (no such topic,
 * authorization) are not: they are reported at once. */
int kafka_err_is_transient(rd_kafka_resp_err_t err);

/* The stop flag (SIGTERM, SIGINT) that ends the bounded waits on the
 * brokers made here and by the topic reader (consumers/topic_reader.h):
 * a topic's partitions, kafka_retry_transient()'s retries, a read of a
 * topic's tail, and a publisher's wait for a transaction's offsets call
 * (producers/publisher.c). `riffle learn` and `riffle serve` set it before they
 * start, so that a stop during their start-up (the newest snapshot, the
 * consumer's first metadata) ends within a few seconds whatever the
 * brokers do; those waits then fail with RIFFLE_ERR_STOPPED. NULL (the
 * default, the other commands): they run their course. Set once, before
 * any thread that waits on the brokers starts. */
void kafka_set_stop(const volatile sig_atomic_t *stop);

/* The flag kafka_set_stop() set, or NULL. */
const volatile sig_atomic_t *kafka_stop_flag(void);

/* Whether that flag is set. */
int kafka_stop_requested(void);

/* How long the one-shot requests above are retried before their error is
 * reported, and the pause between two tries. */
#define KAFKA_TRANSIENT_WAIT_MS 30000
#define KAFKA_TRANSIENT_PAUSE_MS 200

/* Sleeps KAFKA_TRANSIENT_PAUSE_MS and returns 1 while started_s (from
 * kafka_monotonic_s()) is less than KAFKA_TRANSIENT_WAIT_MS ago and err
 * is transient and no stop is requested (kafka_set_stop()); else returns
 * 0 at once: the caller reports err, or the stop when
 * kafka_stop_requested(). */
int kafka_retry_transient(rd_kafka_resp_err_t err, double started_s);

/* Asks the brokers for the offset each element of list stands for and
 * puts it in place: an element's offset holds RD_KAFKA_OFFSET_BEGINNING
 * (the partition's first offset kept), RD_KAFKA_OFFSET_END (its end: the
 * last stable offset for a read_committed client, the high watermark
 * otherwise) or a time in ms (the first offset at or after it, -1 when
 * there is none). One ListOffsets request per leader, sent together,
 * giving up after timeout_ms in all; a stop ends it as kafka_ask_sliced()
 * says (KAFKA_ERR_STOPPED). list (topic and partition set by
 * the caller) is borrowed and changed. Returns 0, or the request's or
 * the first partition's error with errstr naming the topic and
 * partition: "the brokers do not answer within N s for ..." when the
 * error is transient (kafka_err_is_transient(): the caller may ask
 * again), else "the brokers refuse ...".
 *
 * Every ask for offsets goes through here, not through
 * rd_kafka_query_watermark_offsets(): before librdkafka 2.3.0 (Debian 12
 * ships 2.0.2) that one waits without limit, whatever its timeout, for a
 * leader that is down (librdkafka issue 2588). */
rd_kafka_resp_err_t kafka_query_offsets(rd_kafka_t *rk,
                                        rd_kafka_topic_partition_list_t *list,
                                        int timeout_ms, char *errstr,
                                        size_t errstr_size);

/* The first offsets (into low[0..count-1]; low may be NULL when they are
 * not needed) and ends (high[0..count-1]) of partitions 0..count-1 of
 * topic, through kafka_query_offsets(): two rounds sharing timeout_ms.
 * Returns 0 or the error, as kafka_query_offsets() does. */
rd_kafka_resp_err_t kafka_query_watermarks(rd_kafka_t *rk, const char *topic,
                                           int count, int64_t *low,
                                           int64_t *high, int timeout_ms,
                                           char *errstr, size_t errstr_size);

/* A stop ended a sliced wait (kafka_ask_sliced()): librdkafka's own
 * "operation interrupted", which none of its calls used here returns. */
#define KAFKA_ERR_STOPPED RD_KAFKA_RESP_ERR__INTR

/* The longest single ask of a sliced wait: a stop is seen at most about
 * this much later. A broker that takes longer than this to answer one
 * request is never answered within a sliced wait; none of ours does at
 * a load of 20 on this 2-core machine (metadata and offsets come back in
 * well under a second). */
#define KAFKA_ASK_SLICE_MAX_MS 4000

/* One request of a sliced wait: sends it with timeout_ms (from its
 * start, answered or given up) and returns its error. opaque is the
 * caller's. A request cut short is lost, so each ask sends it whole. */
typedef rd_kafka_resp_err_t (*kafka_ask_fn)(void *opaque, int timeout_ms);

/* Makes ask (a one-shot request of rk: offsets, committed offsets,
 * metadata) within timeout_ms in all. Without a stop flag
 * (kafka_set_stop()) that is one ask of timeout_ms, as before. With one,
 * asks of BROKER_WAIT_SLICE_MS (common/broker_wait.h), each next one
 * twice as long up to KAFKA_ASK_SLICE_MAX_MS, made again while the error
 * is transient (kafka_err_is_transient()) and time is left; between two
 * asks a stop ends the wait as broker_wait_again() says (once the wait
 * has lasted BROKER_WAIT_STOP_GRACE_S). Returns the last ask's error, or
 * KAFKA_ERR_STOPPED with errstr saying "the brokers (B) did not answer in
 * time to <what> before the stop". what is borrowed. Any thread. */
rd_kafka_resp_err_t kafka_ask_sliced(rd_kafka_t *rk, kafka_ask_fn ask,
                                     void *opaque, int timeout_ms,
                                     const char *what, char *errstr,
                                     size_t errstr_size);

/* The group's committed offsets of list (borrowed, filled in place) as
 * rd_kafka_committed() reads them, through kafka_ask_sliced(): a stop
 * ends the wait. Returns 0, the request's error (each element may carry
 * its own), or KAFKA_ERR_STOPPED with errstr set. */
rd_kafka_resp_err_t kafka_committed(rd_kafka_t *rk,
                                    rd_kafka_topic_partition_list_t *list,
                                    int timeout_ms, char *errstr,
                                    size_t errstr_size);

/* Commits list (borrowed; NULL: the consumer rk's stored offsets) for
 * the group of consumer rk and waits for the answer. Without a stop flag
 * in w (common/broker_wait.h) that is librdkafka's synchronous commit;
 * with one, the group's coordinator is first found (a read of the same
 * partitions' committed offsets, in asks as kafka_ask_sliced() makes
 * them, for up to KAFKA_COMMIT_FIND_MS, then RD_KAFKA_RESP_ERR__WAIT_COORD:
 * a commit sent with no coordinator known would hold the consumer's
 * close for up to its session timeout), then the commit is sent and its
 * answer waited for in slices of BROKER_WAIT_SLICE_MS; a stop ends
 * either wait as w says:
 * KAFKA_ERR_STOPPED, errstr saying that the brokers did not answer in
 * time to <what> (borrowed). A commit left unanswered at a stop may
 * still be made after it: callers commit only offsets whose outputs were
 * acknowledged, so that is safe, only late. Returns 0 or the commit's
 * error. The calling thread is the consumer's. */
struct broker_wait;
#define KAFKA_COMMIT_FIND_MS KAFKA_SOCKET_TIMEOUT_MS
rd_kafka_resp_err_t kafka_commit(rd_kafka_t *rk,
                                 const rd_kafka_topic_partition_list_t *list,
                                 struct broker_wait *w, const char *what,
                                 char *errstr, size_t errstr_size);

/* The partition count of topic from the brokers' metadata, waiting up to
 * timeout_ms for an answer. A topic missing from the metadata is asked
 * again every 250 ms for up to missing_wait_ms (one just created may take
 * a moment to show), then reported with errstr naming the topic and how
 * to create the pipeline's topics. With a stop flag set
 * (kafka_set_stop()) a stop ends the wait for an answer as
 * common/broker_wait.h says. Returns 0, RIFFLE_ERR_KAFKA or
 * RIFFLE_ERR_STOPPED (errstr saying what was not answered). */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           int missing_wait_ms, int *count, char *errstr,
                           size_t errstr_size);

/* The configuration file the running command loaded, for the hints
 * that give a command to run ("riffle topics create -c PATH"): path,
 * borrowed, is copied quoted for a POSIX shell where it needs it, so the
 * hint can be pasted as shown. Until a path is set, or for one too long
 * to keep, the hints say CONFIG. */
void kafka_set_hint_config(const char *path);
const char *kafka_hint_config(void);

/* kafka_topic_partitions(), also saying in *unanswered the error of the
 * ask itself (no broker answered in time, or none could be reached), or
 * RD_KAFKA_RESP_ERR_NO_ERROR when the brokers answered, even to say that
 * the topic is missing: a caller asking about several topics can then
 * stop asking once the brokers have gone. */
int kafka_topic_partitions_asked(rd_kafka_t *rk, const char *topic,
                                 int timeout_ms, int missing_wait_ms,
                                 int *count, rd_kafka_resp_err_t *unanswered,
                                 char *errstr, size_t errstr_size);

/* Asks, until wait_ms have passed on the clock (an ask started before
 * then may take up to wait_ms itself), whether the brokers' metadata
 * holds topic (present nonzero, without an error of its own) or lacks it
 * (present zero: the brokers call it unknown; one they show with an
 * error, such as no leader, is still there). A broker brings its
 * metadata up to date only after its controller has made or removed a
 * topic, so a command run right after an admin request's answer could
 * still find the topic as it was. Returns 0 once it is as asked;
 * RIFFLE_ERR_TIMEOUT, errstr naming the topic and the time taken; or, as
 * kafka_topic_partitions(), the error of an ask no broker answered. */
int kafka_await_topic(rd_kafka_t *rk, const char *topic, int present,
                      int wait_ms, char *errstr, size_t errstr_size);

/* A new list of the (topic, partition, offset) of each element of list
 * (borrowed), with its metadata when metadata is non-zero (the claims a
 * commit carried, consumers/handover.h), and nothing else. Unlike
 * rd_kafka_topic_partition_list_copy() it holds no reference to the
 * client the list came from: a list that rd_kafka_assignment() returned
 * references that consumer's partitions, and a copy kept past the
 * consumer makes its rd_kafka_destroy() wait for ever. The caller
 * destroys the result. */
rd_kafka_topic_partition_list_t *
kafka_offsets_copy(const rd_kafka_topic_partition_list_t *list, int metadata);

/* Sets the metadata of every element of list to claim (a NUL-terminated
 * string, stored without its NUL), replacing any it had: the claim a
 * transactional commit of these offsets carries, by which a later reader
 * of the group's committed offsets tells that commit from another
 * member's at the same offsets (common/txn_outcome.h). Returns 0, or -1
 * without memory (the elements set so far keep the claim). */
int kafka_offsets_claim(rd_kafka_topic_partition_list_t *list,
                        const char *claim);

/* Milliseconds since the Unix epoch (wall clock). */
int64_t kafka_now_ms(void);

/* Seconds on a monotonic clock, for rates and intervals. */
double kafka_monotonic_s(void);

/* Overwrites a consumed message's payload and key with zeros the compiler
 * cannot drop, for a message riffle is done with that carried raw
 * personal values, before rd_kafka_message_destroy(). librdkafka hands
 * the payload out as writable memory (a slice of the fetch response,
 * which no other message shares) and has said (confluentinc/librdkafka
 * issue 2589) that an application may change a message's key and
 * payload within their lengths; riffle's producers copy what they send
 * (RD_KAFKA_MSG_F_COPY), so nothing reads the bytes afterwards. zlib's
 * and librdkafka's copies of a compressed batch, and the socket's, are
 * not reached. A message with an error (its payload is the error's
 * text) is left alone. */
void kafka_message_wipe(rd_kafka_message_t *msg);

#endif
