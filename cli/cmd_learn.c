/*
 * cli/cmd_learn.c - `riffle learn`: the streaming learner.
 *
 * Restores the latest good snapshot of the model, joins the consumer
 * group on the input topic from the snapshot's offsets, and for each
 * message runs learner/online.c and publishes the prediction or the dead
 * letter (producers/outputs.c), plus a drift alert when the error rate
 * changes and a metrics report every drift.metrics_every events.
 *
 * Exactly once (delivery.mode, the default): the outputs of each batch
 * of events, any snapshot due, and the input offsets past the batch are
 * committed in one Kafka transaction. The model is the last committed
 * snapshot plus a replay of the input from the snapshot's offsets; the
 * replayed events below the group's committed offsets are learned again
 * but publish nothing (their outputs are committed already), so a
 * recovered learner ends with the same model as one that never stopped.
 * An abortable transaction error aborts the batch and rebuilds the model
 * the same way. A Kafka client that fails for good (fenced, fatal) is
 * replaced in-process, as a restart would replace it, a bounded number of
 * times (see rebuild_clients()).
 *
 * At least once: every N events or T seconds, and on a clean stop, it
 * takes a snapshot, publishes it once everything produced before it is
 * acknowledged, and commits the offsets it records once it is too
 * (learning goes on meanwhile; a stop or a revoke waits for it; a
 * snapshot due before the last one is committed is taken once it is): a
 * crash replays from the last published snapshot, republishing those
 * outputs.
 */
#include <ctype.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/learn_join.h"
#include "cli/learn_labels.h"
#include "cli/learn_merge.h"
#include "cli/learn_ops.h"
#include "common/broker_wait.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/rebuild_guard.h"
#include "common/txn_outcome.h"
#include "consumers/consumer.h"
#include "consumers/topic_reader.h"
#include "learner/online.h"
#include "learner/snapshot.h"
#include "privacy/kanon.h"
#include "producers/outputs.h"
#include "producers/publisher.h"

#define LEARN_POLL_MS 100            /* short enough to see a stop quickly */
#define LEARN_RESTORE_CANDIDATES 3   /* older snapshots tried if one is bad */
/* Reading the group's committed offsets after a rebuild, once. */
#define LEARN_COMMITTED_WAIT_MS 30000
#define LEARN_CONFIRM_IDLE_MS 2000   /* once per idle period or snapshot */
/* A snapshot due while the brokers do not answer is tried again this
 * much later: each try waits LEARN_CONFIRM_IDLE_MS and logs a warning. */
#define LEARN_SNAPSHOT_RETRY_S 10.0
/* At least once, offsets the group refused because it had dropped this
 * member are committed again this much later: librdkafka rejoins in a
 * few seconds. */
#define LEARN_COMMIT_RETRY_S 2.0
/* Reading a join partition's committed offset at an assignment: the
 * coordinator just answered for the input's, so a failure is brief or
 * the learner stops (as the consumer does after its own tries). */
#define LEARN_JOIN_COMMITTED_WAIT_MS 10000
#define LEARN_JOIN_COMMITTED_TRIES 6
/* The owned join partitions' checked positions are committed again at
 * least this often, changed or not. They are the group's offsets of a
 * topic it does not subscribe to, and the broker expires those
 * offsets.retention.minutes after their last commit even while the
 * group runs (KIP-211 keeps only the subscribed topics' alive): the next
 * owner would then dead-letter the whole partition again. The broker
 * accepts no retention under 1 minute, so 20 s keeps them under any
 * broker setting, at one commit (exactly once, a transaction with no
 * record) per 20 s of an idle owner; while events flow, the batches' and
 * snapshots' commits carry them anyway. */
#define LEARN_JOIN_REFRESH_S 20.0
/* Messages between two servings of delivery reports while events flow
 * (and at every idle poll): serving them after each message was 3% of
 * the learner thread, mostly the call itself; acknowledgements then wait
 * at most this many events, against the tens of thousands between
 * commits. */
#define LEARN_PUBLISHER_POLL_EVERY 64
/* One malloc arena for all of the learner's threads. librdkafka's fetch
 * thread allocates every message and the learner thread frees it: with
 * an arena per thread, each free took the fetch thread's arena lock
 * against its allocations (lock waits in 110 of 1,849 samples of a run;
 * 43 of 1,752 with one arena, and learn's CPU 3-8% lower). */
#define LEARN_MALLOC_ARENAS 1

struct learn_options {
    const char *config;
    const char *brokers;
    long long max_events;      /* stop after this many; 0 = no limit */
    double idle_exit_s;        /* stop when caught up and idle; 0 = never */
    const char *snapshot_file; /* start from it when the topic has none */
    int start_fresh;           /* ignore unusable snapshots on purpose */
    const char *http;          /* serve /metrics and the dashboard here */
    const char *instance;      /* one of several learners; NULL: the only */
};

struct learn {
    struct cfg cfg;
    struct learn_options opt;
    /* This instance's snapshots and claims: the model name, or
     * "<model>@<instance>" for one of several instances. */
    char snapshot_key[2 * CFG_NAME_MAX];
    struct schema *input;
    struct online_learner *ol;
    struct publisher *pub;
    struct outputs *out;
    struct consumer *consumer;
    struct learn_ops *ops; /* NULL without --http */
    struct learn_merge *merge; /* NULL: this instance does not merge */
    struct learn_join *join;   /* NULL without join = {...} */
    unsigned long long since_merge; /* new events since the last merge */
    double last_merge_s;
    size_t last_snapshot_bytes;
    struct learn_ops_counts ops_counts;
    /* What a snapshot records: the positions to read from (the first
     * position_count), then the join's checked positions (`checked`
     * set). */
    struct snapshot_offset offsets[SNAPSHOT_MAX_OFFSETS];
    size_t offset_count;
    size_t position_count;
    int32_t snapshot_format; /* of the snapshot restored; 0: none */
    /* At least once: the last snapshot is held (encoded, not sent) until
     * every message sent before it (held_seq) is acknowledged, then sent;
     * its offsets are committed once it and everything before it
     * (pending_seq) are acknowledged. */
    int held;
    uint64_t held_seq;
    struct snapshot_offset pending[SNAPSHOT_MAX_OFFSETS];
    size_t pending_count;
    uint64_t pending_seq;
    int exactly_once;
    int wipe_messages; /* personal fields: messages wiped once handled */
    int closing; /* leaving the group: the revoke hook does nothing */
    int hook_err;  /* an error of the revoke hook, reported by the loop */
    char hook_errstr[512];
    double txn_started_s;
    unsigned long long txn_events;
    /* counters */
    unsigned long long processed, predicted, dead_lettered, drifts;
    unsigned long long label_messages; /* of processed, the labels topic's */
    unsigned long long duplicates, routed_late;
    unsigned long long replayed, rewinds;
    struct rebuild_guard rebuilds; /* of clients that failed for good */
    /* resume offsets outside their partitions, counted by the consumers
     * this run dropped (the current one holds its own) */
    struct consumer_range_counts ranges_dropped;
    uint64_t moves_noted; /* of those, the ones a snapshot is owed for */
    struct learn_labels_counts labels, batch_labels;
    struct learn_labels_held labels_held; /* records moving, see on_assign */
    /* The counters when the open batch began: an aborted batch's events
     * are handled again, and must not be counted twice. */
    unsigned long long batch_processed, batch_predicted, batch_dead;
    unsigned long long batch_drifts, batch_duplicates, batch_routed_late;
    unsigned long long batch_replayed, batch_label_messages;
    /* Where the open batch began (the offsets its commit would move
     * from), to tell after a rebuild whether it committed: see
     * settle_open_batch(). */
    rd_kafka_topic_partition_list_t *batch_start;
    unsigned long long since_snapshot;
    /* The model's event count at the last metrics report: reports fall
     * on multiples of drift.metrics_every of that count, so a recovered
     * learner reports at the same events as one that never stopped. */
    unsigned long long metrics_reported;
    double last_snapshot_s, last_message_s;
    double snapshot_retry_s; /* a snapshot alone waits for the brokers */
    double commit_retry_s; /* at least once: offsets wait for a rejoin */
    double join_looked_s; /* the last idle look at the join topic's ends */
    /* The last commit of the owned join partitions' checked positions
     * (see LEARN_JOIN_REFRESH_S). */
    double join_committed_s;
    /* The monotonic clock at the last poll: one reading serves every
     * cadence check of the message it returned (a clock read costs as
     * much as a tenth of an event's work). */
    double now_s;
    unsigned since_poll; /* messages since delivery reports were served */
    double progress_s; /* when the last progress line was logged */
    double counted_s;  /* now_s when the last message was counted: the
                        * rates end there, not in the idle wait of a stop
                        * (a run of 5,000 events a second read 76) */
    unsigned long long progress_events; /* messages, and of them labels, */
    unsigned long long progress_labels; /* at the last progress line */
};

/* A wait on the brokers that a stop request ends (common/broker_wait.h). */
static void wait_start(const struct learn *l, struct broker_wait *w)
{
    broker_wait_start(w, "learn", l->cfg.brokers, &cli_stop_requested,
                      kafka_monotonic_s());
}

static int wait_again(struct broker_wait *w, const char *what, int *err,
                      char *errstr, size_t size)
{
    return broker_wait_again(w, kafka_monotonic_s(), what, err, errstr,
                             size);
}

/* --- start-up --------------------------------------------------------- */

static int try_candidates(struct learn *l, struct buf *found, size_t from,
                          size_t n, struct snapshot_info *info)
{
    const struct schema *schema = outputs_snapshot_schema(l->out);
    char why[512];
    size_t i;

    for (i = from; i < n; i++) {
        if (snapshot_restore(schema, l->ol, found[i].data, found[i].len,
                             l->offsets, SNAPSHOT_MAX_OFFSETS,
                             &l->offset_count, info, why, sizeof(why)) == 0)
            return 1;
        log_warn("learn", "%s: skipping snapshot %zu of model %s: %s",
                 l->cfg.topic_models, i + 1, l->snapshot_key, why);
    }
    return 0;
}

/* Reads the newest `keep` snapshots and tries them from the from-th on;
 * *n says how many were found. */
static int read_candidates(struct learn *l, size_t keep, size_t from,
                           size_t *n, int *restored,
                           struct snapshot_info *info, char *errstr,
                           size_t size)
{
    struct buf found[LEARN_RESTORE_CANDIDATES];
    size_t i;
    int err;

    memset(found, 0, sizeof(found));
    err = topic_reader_latest_by_key(l->cfg.brokers, l->cfg.topic_models,
                                     l->snapshot_key, found, keep, n,
                                     errstr, size);
    if (!err)
        *restored = try_candidates(l, found, from, *n, info);
    for (i = 0; i < *n; i++)
        buf_free(&found[i]);
    return err;
}

/* Tries the newest snapshot, and only when it is unusable reads the
 * older ones (the topic is read from its end, so the common start reads
 * one snapshot); a bad one is skipped with a warning.
 * When snapshots exist but none is usable the learner refuses to start:
 * a fresh model would resume from the group's offsets, in the middle of
 * the stream, and silently lose what came before (--start-fresh accepts
 * that on purpose). */
static int restore_snapshot(struct learn *l, char *errstr, size_t size)
{
    struct snapshot_info info;
    size_t n = 0;
    int restored = 0, err;

    err = read_candidates(l, 1, 0, &n, &restored, &info, errstr, size);
    if (!err && !restored && n > 0)
        err = read_candidates(l, LEARN_RESTORE_CANDIDATES, 1, &n, &restored,
                              &info, errstr, size);
    if (err)
        return err;

    if (restored) {
        l->snapshot_format = info.format_version;
        log_info("learn", "restored model %s version %lld from %s: %llu "
                 "events seen, %zu partition offset(s)", l->snapshot_key,
                 (long long)info.version, l->cfg.topic_models,
                 (unsigned long long)info.metrics.count, l->offset_count);
        return 0;
    }
    if (n > 0 && !l->opt.start_fresh) {
        snprintf(errstr, size, "%s: none of the latest %zu snapshots of "
                 "model %s is usable (see the warnings above); refusing to "
                 "start a fresh model mid-stream: fix or remove them, or "
                 "pass --start-fresh", l->cfg.topic_models, n,
                 l->snapshot_key);
        return RIFFLE_ERR_SNAPSHOT;
    }
    if (l->opt.snapshot_file) {
        err = snapshot_load_file(outputs_snapshot_schema(l->out), l->ol,
                                 l->opt.snapshot_file, l->offsets,
                                 SNAPSHOT_MAX_OFFSETS, &l->offset_count,
                                 &info, errstr, size);
        if (!err)
            l->snapshot_format = info.format_version;
        if (!err)
            log_info("learn", "restored model %s version %lld from %s",
                     l->cfg.model_name, (long long)info.version,
                     l->opt.snapshot_file);
        return err;
    }
    log_info("learn", "no %ssnapshot of model %s in %s: starting fresh",
             n > 0 ? "usable " : "", l->snapshot_key, l->cfg.topic_models);
    return 0;
}

/* The input topic, the further sources and the labels topic, in one
 * group: a restart replays them from the snapshot's offsets. The join
 * topic is not among them: every learner reads it whole (learn_join.h). */
static int subscribe_all(struct learn *l, char *errstr, size_t size)
{
    const char *topics[CFG_MAX_SOURCES + 2];
    size_t n = 0, i;

    topics[n++] = l->cfg.topic_input;
    for (i = 0; i < l->cfg.source_count; i++)
        topics[n++] = l->cfg.sources[i].topic;
    if (l->cfg.labels.line)
        topics[n++] = l->cfg.labels.topic;
    return consumer_new_topics(
        l->cfg.brokers, l->cfg.group_id, topics, n, l->offsets,
        l->position_count, l->exactly_once,
        l->exactly_once ? l->cfg.transactional_id : NULL,
        l->cfg.session_timeout_ms, &l->consumer, errstr, size);
}

/* Registers the transactional id, which fences a previous instance with
 * the same id and aborts what it left open: only then do the model topic
 * and the group's offsets show nothing but committed state. Waits for
 * the brokers as long as it takes, unless asked to stop
 * (RIFFLE_ERR_STOPPED). */
static int init_transactions(struct learn *l, char *errstr, size_t size)
{
    struct broker_wait w;
    char what[CFG_NAME_MAX + 64];
    int err;

    snprintf(what, sizeof(what), "register transactional id %s",
             l->cfg.transactional_id);
    wait_start(l, &w);
    do
        err = publisher_init_transactions(l->pub, BROKER_WAIT_SLICE_MS,
                                          errstr, size);
    while (wait_again(&w, what, &err, errstr, size));
    return err;
}

static void on_revoke(void *opaque);
static void on_assign(void *opaque, const struct consumer_assigned *parts,
                      size_t n);

/* Delayed-label records move with their partition between instances:
 * exactly once, claims say who holds a partition's state; at least
 * once, the group's committed offsets say where it stands. */
static int moves_label_records(const struct learn *l)
{
    return l->cfg.labels.line && l->opt.instance;
}

/* The model and the consumer, from the last committed snapshot: used at
 * start-up and again after an aborted transaction. */
static int start_learning(struct learn *l, char *errstr, size_t size)
{
    int err = online_new(&l->cfg, l->input, &l->ol, errstr, size);

    l->offset_count = l->position_count = 0;
    l->snapshot_format = 0;
    if (!err)
        err = restore_snapshot(l, errstr, size);
    /* snapshot_restore() put the join's checked positions last */
    while (l->position_count < l->offset_count &&
           !l->offsets[l->position_count].checked)
        l->position_count++;
    if (!err) /* the count's last multiple was reported by an earlier run */
        l->metrics_reported = online_metrics(l->ol)->total.count;
    if (!err && l->cfg.join.line)
        err = learn_join_new(&l->cfg, l->ol, l->offsets, l->offset_count,
                             &l->join, errstr, size);
    if (!err)
        err = subscribe_all(l, errstr, size);
    if (!err)
        consumer_set_past_end_action(l->consumer, l->cfg.on_offset_past_end);
    if (!err && l->exactly_once)
        consumer_set_owner(l->consumer, l->snapshot_key);
    if (!err)
        consumer_set_revoke_hook(l->consumer, on_revoke, l);
    /* the store just restored holds every partition its snapshot saw */
    memset(&l->labels_held, 0, sizeof(l->labels_held));
    if (!err && (moves_label_records(l) || l->join))
        consumer_set_assign_hook(l->consumer, on_assign, l);
    return err;
}

/* Merging (scaling.merge_every_*) is between named instances in exactly
 * once mode, whose snapshots are their own and whose events are learned
 * once across the group (see on_revoke()). */
static int start_merging(struct learn *l, char *errstr, size_t size)
{
    if (l->cfg.merge_every_events == 0 && l->cfg.merge_every_seconds == 0)
        return 0;
    if (!l->opt.instance || !l->exactly_once) {
        log_warn("learn", "scaling.merge_every_*: not merging: only "
                 "instances started with --instance merge, in exactly once "
                 "mode");
        return 0;
    }
    return learn_merge_new(&l->cfg, l->input, outputs_snapshot_schema(l->out),
                           l->snapshot_key, &l->merge, errstr, size);
}

static int start(struct learn *l, char *errstr, size_t size)
{
    int err = schema_load_file(l->cfg.schema_path, &l->input, errstr, size);

    if (err)
        cfg_schema_error(&l->cfg, errstr, size); /* where it is set */
    l->exactly_once = l->cfg.delivery == CFG_DELIVERY_EXACTLY_ONCE;
    l->wipe_messages = cfg_has_personal_fields(&l->cfg);
    if (!err && l->cfg.labels.line && l->opt.instance)
        err = learn_labels_check_partitions(&l->cfg, errstr, size);
    if (!err && l->exactly_once)
        err = publisher_new_transactional(l->cfg.brokers, "riffle-learner",
                                          l->cfg.transactional_id,
                                          l->cfg.txn_timeout_ms, &l->pub,
                                          errstr, size);
    else if (!err)
        err = publisher_new(l->cfg.brokers, "riffle-learner", &l->pub,
                            errstr, size);
    if (!err && l->exactly_once)
        err = init_transactions(l, errstr, size);
    if (!err)
        err = outputs_new(&l->cfg, l->pub, &l->out, errstr, size);
    if (!err)
        outputs_prepare(l->out);
    if (!err && l->opt.http)
        err = learn_ops_new(l->opt.http, &l->cfg, &l->ops, errstr, size);
    if (!err)
        err = start_merging(l, errstr, size);
    if (!err)
        err = start_learning(l, errstr, size);
    return err;
}

/* --- per event -------------------------------------------------------- */

static int handle_event(struct learn *l, const rd_kafka_message_t *msg,
                        int replay, char *errstr, size_t size);

/* Any message moves the delayed labels' clock, which may give up labels
 * that waited for their event in vain: they are dead-lettered with the
 * message that gave them up, in its transaction. */
static int handle_message(struct learn *l, const rd_kafka_message_t *msg,
                          int replay, char *errstr, size_t size)
{
    unsigned long long dead_before = l->labels.dead_lettered;
    int err = handle_event(l, msg, replay, errstr, size);

    if (!err && l->cfg.labels.line)
        err = learn_labels_release(l->ol, l->out, replay, &l->labels, errstr,
                                   size);
    l->dead_lettered += l->labels.dead_lettered - dead_before;
    return err;
}

static int drift_alarm(struct learn *l, const struct source_ref *src,
                       char *errstr, size_t size)
{
    l->drifts++;
    log_warn("learn", "%s [%d] @%lld: drift in the error rate of model "
             "%s (alarm %llu)", src->topic, (int)src->partition,
             (long long)src->offset, l->cfg.model_name, l->drifts);
    return outputs_alert(l->out, l->ol, src, errstr, size);
}

/* A message of the labels topic: joined with its pending event. */
static int handle_label(struct learn *l, const struct source_ref *src,
                        int replay, char *errstr, size_t size)
{
    int drift = 0;
    int err = learn_labels_handle(l->ol, l->out, src, replay, &l->labels,
                                  &drift, errstr, size);

    l->label_messages++;
    if (replay) {
        l->replayed++;
        return err;
    }
    if (!err && drift)
        err = drift_alarm(l, src, errstr, size);
    return err;
}

/* A replayed event (see consumer.h) is learned, and nothing is
 * published for it: its outputs were committed by an earlier run. */
static int handle_event(struct learn *l, const rd_kafka_message_t *msg,
                        int replay, char *errstr, size_t size)
{
    double started = l->ops ? kafka_monotonic_s() : 0.0;
    struct online_result r;
    struct source_ref src;
    int err;

    outputs_source_of(msg, &src);
    if (learn_labels_is_labels_topic(&l->cfg, src.topic))
        return handle_label(l, &src, replay, errstr, size);
    if (l->opt.instance && l->cfg.labels.line)
        online_check_message_key(l->ol, src.key, src.key_len);
    err = online_process_from(l->ol, src.topic, src.partition,
                              src.timestamp_ms,
                              msg->payload ? msg->payload : "", msg->len, &r);
    if (err) {
        snprintf(errstr, size, "%s [%d] @%lld: %s", src.topic,
                 (int)src.partition, (long long)src.offset,
                 riffle_err_str(err));
        return err;
    }
    if (replay) {
        l->replayed++;
        return 0;
    }

    if (r.duplicate) {
        log_debug("learn", "%s [%d] @%lld: duplicate event id, dropped",
                  src.topic, (int)src.partition, (long long)src.offset);
        l->duplicates++;
        return 0;
    }
    if (r.late) {
        log_debug("learn", "%s [%d] @%lld: late event, routed to %s",
                  src.topic, (int)src.partition, (long long)src.offset,
                  l->cfg.late_topic);
        l->routed_late++;
        return outputs_late(l->out, &src, errstr, size);
    }
    if (r.dead_letter) {
        log_debug("learn", "%s [%d] @%lld: dead letter: %s %s: %s",
                  src.topic, (int)src.partition, (long long)src.offset,
                  r.verdict.reason, r.verdict.field, r.verdict.detail);
        l->dead_lettered++;
        learn_ops_event(l->ops, &src, &r, l->ol, started);
        return outputs_dead_letter(l->out, &src, &r, errstr, size);
    }

    l->predicted++;
    err = outputs_prediction(l->out, &src, &r, errstr, size);
    learn_ops_event(l->ops, &src, &r, l->ol, started);
    if (!err && r.drift)
        err = drift_alarm(l, &src, errstr, size);
    return err;
}

/* The rate is over the events since the previous line, so it shows the
 * current pace, not an average diluted by waiting for the first event. */
/* Counts only: the combinations themselves are personal. */
static void warn_k_anonymity(const struct learn *l)
{
    const struct kanon *k = online_kanon(l->ol);
    struct kanon_report kr;

    if (!k)
        return;
    kanon_report(k, &kr);
    if (kr.combinations_below == 0)
        return;
    log_warn("learn", "k-anonymity: %zu of %zu combinations of "
             "privacy.k_anonymity.quasi_identifiers (%zu of the last %zu "
             "events) are shared by fewer than k = %zu events",
             kr.combinations_below, kr.combinations, kr.events_below,
             kr.window_events, kr.k);
}

/* Events and labels are counted apart: a label is no event, and the
 * learner reads as many of them as of events. */
static void log_progress(struct learn *l)
{
    double now = kafka_monotonic_s();
    unsigned long long events = l->processed - l->label_messages;
    /* An aborted batch may take counts back below the last line's. */
    unsigned long long new_labels =
        l->label_messages > l->progress_labels
            ? l->label_messages - l->progress_labels
            : 0;
    unsigned long long new_messages =
        l->processed > l->progress_events ? l->processed - l->progress_events
                                          : 0;
    unsigned long long new_events =
        new_messages > new_labels ? new_messages - new_labels : 0;
    struct buf total = {0}, window = {0}, cleaning = {0};
    char labels[96] = "", label_rate[64] = "";

    if (l->cfg.labels.line) {
        snprintf(labels, sizeof(labels), " and %llu labels",
                 l->label_messages);
        snprintf(label_rate, sizeof(label_rate), " and %.0f labels/s",
                 progress_rate(new_labels, l->progress_s, l->counted_s, now));
    }
    (void)online_metrics_json(l->ol, 0, &total); /* empty if no memory */
    (void)online_metrics_json(l->ol, 1, &window);
    (void)online_cleaning_json(l->ol, &cleaning);
    log_info("learn", "%llu events%s (%llu predicted, %llu dead letters, "
             "%llu duplicates), %.0f events/s%s; progressive {%s}; last %u "
             "{%s}", events, labels, l->predicted, l->dead_lettered,
             l->duplicates,
             progress_rate(new_events, l->progress_s, l->counted_s, now),
             label_rate, total.data ? total.data : "",
             online_metrics(l->ol)->window_len,
             window.data ? window.data : "");
    if (cleaning.len > 0)
        log_info("learn", "cleaning counters {%s}", cleaning.data);
    warn_k_anonymity(l);
    buf_free(&total);
    buf_free(&window);
    buf_free(&cleaning);
    l->progress_s = now;
    l->progress_events = l->processed;
    l->progress_labels = l->label_messages;
}

/* --- the join topic's dead letters ----------------------------------- */

/* An unusable record of a join partition this instance owns, not yet
 * checked (learn_join.h): dead-lettered in the open batch, whose commit
 * carries the partition's checked position (exactly once), or at once,
 * its position committed with the next snapshot's offsets (at least
 * once). */
static int join_dead_letter(void *opaque, const rd_kafka_message_t *msg,
                            const struct online_result *res, char *errstr,
                            size_t size)
{
    struct learn *l = opaque;
    struct source_ref src;

    outputs_source_of(msg, &src);
    l->dead_lettered++;
    return outputs_dead_letter(l->out, &src, res, errstr, size);
}

/* Whether dead letters can be published now: exactly once, only into
 * an open transaction, which commits them with the positions saying
 * they were. */
static int can_dead_letter(const struct learn *l)
{
    return !l->exactly_once || publisher_in_transaction(l->pub);
}

/* Dead-letters what the owned join partitions hold applied but not
 * checked (a start, a replay or a take-over left it), when it can. */
static int join_catch_up(struct learn *l, char *errstr, size_t size)
{
    if (!l->join || !can_dead_letter(l) || !learn_join_behind(l->join))
        return 0;
    return learn_join_check(l->join, l->ol, join_dead_letter, l, errstr,
                            size);
}

/* --- snapshots, at least once ----------------------------------------- */

/* Takes note of the group's committed positions of the join partitions
 * this instance does not own, for its snapshot's join_checked: after
 * every learner stopped and the group's offsets expired, whichever
 * instance then owns a partition goes on from there
 * (join_from_snapshot()). One request to the group coordinator per
 * snapshot, made only by an --instance learner, which may own some join
 * partitions; one without --instance owns them all. Failing, the
 * snapshot keeps the positions known before. */
static void join_note_committed(struct learn *l)
{
    rd_kafka_topic_partition_list_t *parts;
    char errstr[512];
    int q, count;

    if (!l->join || !l->opt.instance)
        return;
    count = learn_join_partition_count(l->join);
    parts = rd_kafka_topic_partition_list_new(count > 0 ? count : 1);
    for (q = 0; q < count; q++)
        if (!learn_join_owns_partition(l->join, q))
            rd_kafka_topic_partition_list_add(parts, l->cfg.join.topic, q);
    if (parts->cnt > 0 &&
        consumer_committed(l->consumer, parts, LEARN_JOIN_COMMITTED_WAIT_MS,
                           errstr, sizeof(errstr)) != 0)
        log_warn("learn", "%s: the snapshot keeps the checked positions of "
                 "the join partitions of other instances known before",
                 errstr);
    else
        for (q = 0; q < parts->cnt; q++)
            if (!parts->elems[q].err && parts->elems[q].offset >= 0)
                learn_join_note_committed(l->join, parts->elems[q].partition,
                                          parts->elems[q].offset);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* What a snapshot records: the group consumer's positions, then the
 * join topic's (learn_join.h), then how far the join partitions are
 * known to be checked. */
static void note_positions(struct learn *l)
{
    consumer_positions(l->consumer, l->offsets, SNAPSHOT_MAX_OFFSETS,
                       &l->offset_count);
    if (l->join)
        learn_join_positions(l->join, l->offsets, SNAPSHOT_MAX_OFFSETS,
                             &l->offset_count);
    l->position_count = l->offset_count;
    if (!l->join)
        return;
    join_note_committed(l);
    learn_join_checked_positions_known(l->join, l->offsets,
                                       SNAPSHOT_MAX_OFFSETS,
                                       &l->offset_count);
}

/* Waits for every ack. While the broker is away this keeps waiting (and
 * saying so) rather than giving up: nothing is committed meanwhile. A
 * stop request ends the wait (RIFFLE_ERR_STOPPED); the uncommitted
 * events are then replayed from the last snapshot at the next start. */
static int await_acks(struct learn *l, char *errstr, size_t size)
{
    struct broker_wait w;
    int err;

    wait_start(l, &w);
    do
        err = publisher_flush(l->pub, BROKER_WAIT_SLICE_MS, errstr, size);
    while (wait_again(&w, "acknowledge the outputs", &err, errstr, size));
    return err;
}

static int report_metrics(struct learn *l, char *errstr, size_t size)
{
    int err = outputs_metrics(l->out, l->ol, l->labels.invalid, errstr,
                              size);

    if (!err)
        l->metrics_reported = online_metrics(l->ol)->total.count;
    return err;
}

static void snapshot_taken(struct learn *l, size_t bytes)
{
    log_info("learn", "snapshot of model %s version %llu published to %s "
             "(%zu bytes)", l->snapshot_key,
             (unsigned long long)model_update_count(online_model(l->ol)),
             l->cfg.topic_models, bytes);
    l->since_snapshot = 0;
    l->last_snapshot_s = l->now_s = kafka_monotonic_s();
    l->last_snapshot_bytes = bytes;
    l->ops_counts.snapshots++;
    l->ops_counts.last_snapshot_unix_s = (double)kafka_now_ms() / 1000.0;
}

/* Sets *settled when every message sent before seq is acknowledged and
 * none failed: with `wait` it waits for the acks (a broker round trip),
 * else it only looks. Returns 0 or the error of a failed message. */
static int acks_settled(struct learn *l, uint64_t seq, int wait,
                        int *settled, char *errstr, size_t size)
{
    *settled = wait || publisher_settled(l->pub) >= seq;
    if (!*settled)
        return 0;
    return wait ? await_acks(l, errstr, size)
                : publisher_check(l->pub, errstr, size);
}

/* Sends the held snapshot once every message sent before it is
 * acknowledged, and commits its offsets once it is too: a restart
 * resumes from the newest snapshot's offsets, so neither the snapshot nor
 * the committed offsets may run ahead of what is safely published.
 * Without `wait` it only looks (a broker round trip is not waited for on
 * every event); with it, it waits for every ack. */
static int commit_settled(struct learn *l, int wait, char *errstr,
                          size_t size)
{
    int settled, err;

    if (l->held) {
        err = acks_settled(l, l->held_seq, wait, &settled, errstr, size);
        if (err || !settled)
            return err;
        err = outputs_snapshot_send(l->out, l->snapshot_key, errstr, size);
        if (err)
            return err;
        l->held = 0;
        l->pending_seq = publisher_sent(l->pub);
    }
    if (l->pending_count == 0)
        return 0;

    err = acks_settled(l, l->pending_seq, wait, &settled, errstr, size);
    if (err || !settled || (!wait && l->now_s < l->commit_retry_s))
        return err;
    err = consumer_commit(l->consumer, l->pending, l->pending_count, errstr,
                          size);
    if (err == RIFFLE_ERR_TIMEOUT) {
        /* The group dropped this member, as after a broker outage longer
         * than its session: the offsets wait for the rejoin (the snapshot
         * already records them for a restart). */
        log_warn("learn", "%s; committing the offsets of model %s's last "
                 "snapshot again in %.0f s", errstr, l->snapshot_key,
                 LEARN_COMMIT_RETRY_S);
        l->commit_retry_s = kafka_monotonic_s() + LEARN_COMMIT_RETRY_S;
        return 0;
    }
    if (!err)
        l->pending_count = 0;
    if (!err && l->join) /* set_pending() put the checked positions in */
        l->join_committed_s = kafka_monotonic_s();
    return err;
}

/* The offsets to commit once the snapshot is acknowledged: its own,
 * except that for the join topic the group holds the checked positions
 * of the owned partitions (learn_join.h), not the applied ones. */
static void set_pending(struct learn *l)
{
    size_t i;

    l->pending_count = 0;
    for (i = 0; i < l->offset_count; i++)
        if (!l->join || strcmp(l->offsets[i].topic, l->cfg.join.topic) != 0)
            l->pending[l->pending_count++] = l->offsets[i];
    if (l->join)
        learn_join_checked_positions(l->join, l->pending,
                                     SNAPSHOT_MAX_OFFSETS, &l->pending_count);
}

/* Takes a snapshot; commit_settled() sends it and commits its offsets,
 * at once when `wait` (a stop), else when the acks are in. The previous
 * snapshot is settled first, waiting for it if need be. */
static int take_snapshot(struct learn *l, int wait, char *errstr,
                         size_t size)
{
    size_t bytes = 0, records = 0;
    int err = commit_settled(l, 0, errstr, size);

    if (!err && (l->held || l->pending_count > 0))
        err = commit_settled(l, 1, errstr, size);
    if (err)
        return err;

    /* Every unusable join record below the snapshot's positions of the
     * owned partitions is then dead-lettered, and acknowledged before the
     * snapshot is sent: what join_from_snapshot() relies on. */
    err = join_catch_up(l, errstr, size);
    if (err)
        return err;
    note_positions(l);
    err = outputs_snapshot_hold(l->out, l->ol, l->offsets, l->offset_count,
                                &bytes, errstr, size);
    if (!err && moves_label_records(l)) /* acked before the offsets commit */
        err = learn_labels_write_records(l->ol, l->out, l->consumer,
                                         l->offsets, l->position_count,
                                         &records, errstr, size);
    if (!err && online_metrics(l->ol)->total.count != l->metrics_reported)
        err = report_metrics(l, errstr, size);
    if (err)
        return err;

    set_pending(l);
    l->held = 1;
    l->held_seq = publisher_sent(l->pub);
    err = commit_settled(l, wait, errstr, size);
    if (!err)
        snapshot_taken(l, bytes);
    return err;
}

/* Whether the last snapshot (at least once) still waits to be sent or
 * committed. A snapshot falling due meanwhile waits for it without
 * blocking: taking it now would stop learning until the acks are in (a
 * linger and a round trip, at every snapshot when they come faster than
 * that), and the offsets could not move past the older one sooner
 * anyway. */
static int snapshot_unsettled(const struct learn *l)
{
    return l->held || l->pending_count > 0;
}

static int snapshot_due(const struct learn *l)
{
    unsigned long long every = (unsigned long long)l->cfg.snapshot_every_events;

    if (l->since_snapshot == 0)
        return 0;
    return l->since_snapshot >= every ||
           l->now_s - l->last_snapshot_s >= l->cfg.snapshot_every_seconds;
}

/* --- transactions, exactly once ---------------------------------------- */

static int begin_batch(struct learn *l, char *errstr, size_t size)
{
    int err = publisher_begin(l->pub, errstr, size);

    l->batch_processed = l->processed;
    l->batch_predicted = l->predicted;
    l->batch_dead = l->dead_lettered;
    l->batch_drifts = l->drifts;
    l->batch_duplicates = l->duplicates;
    l->batch_routed_late = l->routed_late;
    l->batch_replayed = l->replayed;
    l->batch_label_messages = l->label_messages;
    l->batch_labels = l->labels;
    if (l->batch_start)
        rd_kafka_topic_partition_list_destroy(l->batch_start);
    l->batch_start = consumer_assigned_offsets(l->consumer);
    l->txn_started_s = l->now_s = kafka_monotonic_s();
    l->txn_events = 0;
    return err;
}

/* Commits the open transaction with the input offsets past the batch,
 * waiting while the brokers are away (nothing is lost meanwhile: the
 * batch stays open and consumption pauses), unless asked to stop
 * (RIFFLE_ERR_STOPPED: the transaction stays open, and the next start's
 * registration aborts it). */
static int commit_batch(struct learn *l, char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *offsets;
    rd_kafka_consumer_group_metadata_t *group;
    struct broker_wait w;
    char what[96];
    int err;

    offsets = consumer_assigned_offsets(l->consumer);
    if (l->join) /* how far the dead letters of the batch reach */
        learn_join_add_checked(l->join, offsets);
    group = consumer_group_metadata(l->consumer);
    if (l->txn_events > 0)
        snprintf(what, sizeof(what), "commit a batch of %llu events",
                 l->txn_events);
    else
        snprintf(what, sizeof(what), "commit a snapshot with no new event");
    wait_start(l, &w);
    do
        err = publisher_commit(l->pub, offsets, group, BROKER_WAIT_SLICE_MS,
                               errstr, size);
    while (wait_again(&w, what, &err, errstr, size));
    rd_kafka_consumer_group_metadata_destroy(group);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (!err && l->join)
        l->join_committed_s = kafka_monotonic_s();
    return err;
}

/* Writes a snapshot of the model into the open transaction, recording
 * the positions the model has reached; the transaction commits it with
 * the input offsets past the batch, which may lie further on: a restart
 * then relearns, without publishing, the events between the two (see
 * consumer.h). */
static int snapshot_in_batch(struct learn *l, char *errstr, size_t size)
{
    size_t bytes = 0, records = 0;
    int err;

    note_positions(l);
    err = outputs_snapshot_keyed(l->out, l->snapshot_key, l->ol, l->offsets,
                                 l->offset_count, &bytes, errstr, size);
    if (!err && moves_label_records(l))
        err = learn_labels_write_records(l->ol, l->out, l->consumer,
                                         l->offsets, l->position_count,
                                         &records, errstr, size);
    if (records > 0) /* not the snapshot's: merge traffic counts those */
        log_debug("learn", "%s: delayed-label records of model %s: %zu "
                  "bytes", l->cfg.topic_models, l->snapshot_key, records);
    if (!err)
        consumer_note_snapshot(l->consumer);
    if (!err && online_metrics(l->ol)->total.count != l->metrics_reported)
        err = report_metrics(l, errstr, size);
    if (!err)
        snapshot_taken(l, bytes);
    return err;
}

/* Ends the batch: the snapshot when one is due (or forced), then the
 * commit. */
static int end_batch(struct learn *l, int force_snapshot, char *errstr,
                     size_t size)
{
    int snap = force_snapshot ? l->since_snapshot > 0 : snapshot_due(l);
    int err = 0;

    if (!publisher_in_transaction(l->pub)) {
        if (!snap)
            return 0;
        err = begin_batch(l, errstr, size);
    }
    if (!err)
        err = join_catch_up(l, errstr, size);
    if (!err && snap)
        err = snapshot_in_batch(l, errstr, size);
    if (!err)
        err = commit_batch(l, errstr, size);
    return err;
}

/* A snapshot due does not end the batch: it joins the open transaction,
 * and commits follow delivery.batch_*, whose cost (waiting for every
 * output of the batch to be acknowledged) is paid once per batch. */
static int batch_due(const struct learn *l)
{
    return l->txn_events >= (unsigned long long)l->cfg.txn_every_events ||
           (l->now_s - l->txn_started_s) * 1000.0 >=
               (double)l->cfg.txn_every_ms;
}

/* A snapshot due while no batch is open (idle after a commit, or
 * replaying) takes a transaction of its own. Begun while the brokers
 * were away, that transaction could not commit, and commit_batch() held
 * the loop for the whole outage: no idle check, no warning of it. So the
 * brokers are asked first, within LEARN_CONFIRM_IDLE_MS; when they do
 * not answer the snapshot waits, and is tried again later. */
static int snapshot_alone_due(struct learn *l)
{
    char why[256];

    if (!snapshot_due(l) || l->now_s < l->snapshot_retry_s)
        return 0;
    if (consumer_brokers_answer(l->consumer, LEARN_CONFIRM_IDLE_MS, why,
                                sizeof(why))) {
        /* tests/integration/test_idle_outage.sh tells by this line a
         * commit begun before an outage from one begun in it */
        log_debug("learn", "snapshot of model %s due and the brokers "
                  "answered: taking it alone", l->snapshot_key);
        return 1;
    }
    log_warn("learn", "snapshot of model %s due, but %s: trying again in "
             "%.0f s", l->snapshot_key, why, LEARN_SNAPSHOT_RETRY_S);
    l->now_s = kafka_monotonic_s();
    l->snapshot_retry_s = l->now_s + LEARN_SNAPSHOT_RETRY_S;
    return 0;
}

/* Takes back the counts of the open batch, whose events are handled
 * again. */
static void uncount_batch(struct learn *l)
{
    l->processed = l->batch_processed;
    l->predicted = l->batch_predicted;
    l->dead_lettered = l->batch_dead;
    l->drifts = l->batch_drifts;
    l->duplicates = l->batch_duplicates;
    l->routed_late = l->batch_routed_late;
    l->replayed = l->batch_replayed;
    l->label_messages = l->batch_label_messages;
    l->labels = l->batch_labels;
}

/* Drops the consumer, the join state and the model, to be made again
 * from the last committed snapshot; with drop_batch, also the counts of
 * the open batch, whose events are handled again. */
static void drop_learning(struct learn *l, int drop_batch)
{
    struct consumer_range_counts rc = {0};

    if (l->consumer)
        consumer_range_counts(l->consumer, &rc);
    l->ranges_dropped.past_end += rc.past_end;
    l->ranges_dropped.before_start += rc.before_start;
    l->ranges_dropped.lost_to_retention += rc.lost_to_retention;
    l->moves_noted = l->ranges_dropped.past_end +
                     l->ranges_dropped.before_start; /* its snapshot dies */
    l->closing = 1;
    consumer_destroy(l->consumer);
    l->consumer = NULL;
    l->closing = 0;
    learn_join_destroy(l->join);
    l->join = NULL;
    online_destroy(l->ol);
    l->ol = NULL;
    l->since_snapshot = 0;
    if (drop_batch)
        uncount_batch(l);
}

/* After an aborted batch the model has learned events whose outputs will
 * never be seen: rebuild it from the last committed snapshot and replay,
 * exactly as a restart would. */
static int rewind_batch(struct learn *l, const char *why, char *errstr,
                        size_t size)
{
    struct broker_wait w;
    int err;

    log_warn("learn", "aborting the open batch of %llu events and "
             "rebuilding model %s from its last committed snapshot: %s",
             l->txn_events, l->cfg.model_name, why);
    wait_start(l, &w);
    do
        err = publisher_abort(l->pub, BROKER_WAIT_SLICE_MS, errstr, size);
    while (wait_again(&w, "abort the open batch", &err, errstr, size));
    if (err)
        return err;

    drop_learning(l, 1);
    l->rewinds++;
    return start_learning(l, errstr, size);
}

/* Whether another rebuild is within the bound (common/rebuild_guard.h);
 * if so, counts it. Else the error names the id two learners seem to
 * share. */
static int rebuild_allowed(struct learn *l, const char *why, char *errstr,
                           size_t size)
{
    return rebuild_guard_admit(&l->rebuilds, kafka_monotonic_s(), "learner",
                               l->cfg.transactional_id,
                               "run one learner per id, or give each its "
                               "own --instance", why, errstr, size);
}

/* The batch that was open when the clients failed: the new producer's
 * registration aborted it, unless its commit had gone through and only
 * the answer was lost (sent: the offsets that commit carried, NULL when
 * none was asked for). The group's committed offsets, read with the new
 * consumer, tell (common/txn_outcome.h). An aborted batch's events are
 * handled again, so its counts are taken back; a committed one's are
 * replays from now on (below the committed offsets) and stay counted,
 * once. When nothing tells, it is taken as aborted, as a restart would:
 * the outputs stay exactly once either way, only the counts may lag. */
static void settle_open_batch(struct learn *l,
                              const rd_kafka_topic_partition_list_t *sent)
{
    rd_kafka_topic_partition_list_t *committed = NULL;
    enum txn_outcome outcome = TXN_OUTCOME_ABORTED;
    char why[256] = ""; /* why the offsets could not be read */

    if (sent) {
        committed = kafka_offsets_copy(sent, 0);
        outcome = consumer_committed(l->consumer, committed,
                                     LEARN_COMMITTED_WAIT_MS, why,
                                     sizeof(why))
                      ? TXN_OUTCOME_UNKNOWN
                      : txn_outcome_decide(l->batch_start, sent, committed);
        rd_kafka_topic_partition_list_destroy(committed);
    }

    if (outcome == TXN_OUTCOME_COMMITTED) {
        log_warn("learn", "the open batch of %llu events of model %s had "
                 "committed before the clients failed (its answer was "
                 "lost): the group's offsets stand at its end; counted "
                 "once", l->txn_events, l->snapshot_key);
        return;
    }
    if (outcome == TXN_OUTCOME_UNKNOWN)
        log_warn("learn", "cannot tell whether the open batch of %llu "
                 "events of model %s committed before the clients failed "
                 "(%s): counted as aborted; if it did commit, the counts "
                 "lag by it", l->txn_events, l->snapshot_key,
                 why[0] ? why : "the group's offsets do not tell");
    uncount_batch(l);
}

/* A Kafka client failed for good (why): what a supervisor's restart
 * would do, done in-process. A new producer under the same
 * transactional id, whose registration fences the old one's epoch and
 * aborts the transaction it left open; then the model and the consumer
 * (same static member id) from the last committed snapshot and offsets,
 * as after an aborted batch. The open batch's outputs are never seen
 * and its events are learned again, so none is lost or learned twice;
 * unless its commit went through unanswered, which settle_open_batch()
 * finds out to count it right. Exactly once only: at least once has no
 * transactions to fence with. */
static int rebuild_clients(struct learn *l, const char *why, char *errstr,
                           size_t size)
{
    struct publisher *pub = NULL;
    rd_kafka_topic_partition_list_t *sent = NULL;
    int open, err = rebuild_allowed(l, why, errstr, size);

    if (err)
        return err;
    open = publisher_in_transaction(l->pub);
    log_warn("learn", "rebuilding the Kafka clients of model %s "
             "(transactional id %s; rebuild %llu), dropping the open batch "
             "of %llu events unless it committed, and restoring the last "
             "committed snapshot: %s", l->snapshot_key,
             l->cfg.transactional_id, rebuild_guard_count(&l->rebuilds),
             open ? l->txn_events : 0ULL, why);

    err = publisher_new_transactional(l->cfg.brokers, "riffle-learner",
                                      l->cfg.transactional_id,
                                      l->cfg.txn_timeout_ms, &pub, errstr,
                                      size);
    if (!err)
        err = outputs_set_publisher(l->out, pub, errstr, size);
    if (err) {
        publisher_destroy(pub);
        return err;
    }
    if (open && publisher_txn_offsets(l->pub))
        sent = kafka_offsets_copy(publisher_txn_offsets(l->pub), 1);
    drop_learning(l, 0); /* the open batch's counts: settle_open_batch() */
    publisher_destroy(l->pub);
    l->pub = pub;

    err = init_transactions(l, errstr, size);
    if (!err)
        outputs_prepare(l->out);
    if (!err)
        err = start_learning(l, errstr, size);
    if (!err && open)
        settle_open_batch(l, sent);
    if (sent)
        rd_kafka_topic_partition_list_destroy(sent);
    return err;
}

/* Goes on after an aborted batch or a failed client, from the last
 * committed state. Returns 0 when the learner can go on, else the
 * error to stop with (err itself for any other error). */
static int recover(struct learn *l, int err, char *errstr, size_t size)
{
    char why[512];

    if (err == RIFFLE_ERR_ABORTED || err == RIFFLE_ERR_FENCED)
        l->hook_err = 0;
    if (err == RIFFLE_ERR_ABORTED) {
        snprintf(why, sizeof(why), "%s", errstr);
        err = rewind_batch(l, why, errstr, size);
    }
    while (err == RIFFLE_ERR_FENCED && l->exactly_once) {
        snprintf(why, sizeof(why), "%s", errstr);
        err = rebuild_clients(l, why, errstr, size);
    }
    return err;
}

/* At least once, before owned join partitions leave: every dead letter
 * sent is acknowledged, then their checked positions are committed, so
 * that a rebalance repeats none of them (only a crash does). */
static int commit_join_checked(struct learn *l, char *errstr, size_t size)
{
    struct snapshot_offset checked[SNAPSHOT_MAX_OFFSETS];
    size_t n = 0;
    int err = await_acks(l, errstr, size);

    if (!err)
        learn_join_checked_positions(l->join, checked, SNAPSHOT_MAX_OFFSETS,
                                     &n);
    if (!err)
        err = consumer_commit(l->consumer, checked, n, errstr, size);
    if (!err)
        l->join_committed_s = kafka_monotonic_s();
    return err;
}

/* Partitions are leaving this instance: commit what was learned from
 * them, with a snapshot, while the group still lets us. The commit
 * claims each partition for this instance (consumers/handover.h) and,
 * with the snapshot in the same transaction, says that the snapshot
 * covers the committed offset: the next owner starts at that offset and
 * relearns nothing. Had this instance crashed instead, its last claim
 * would name an older snapshot, and the next owner relearns, without
 * publishing, exactly the events between that snapshot and the commit,
 * which this instance's model no longer holds. A restarted instance
 * relearns from its own snapshot only partitions whose last claim names
 * it. So every event is learned by one instance's model, once; the full
 * argument is in docs/SCALING.md, "Rebalances". */
static void commit_before_revoke(struct learn *l)
{
    if (!l->exactly_once && !l->closing && !l->hook_err) {
        /* the partitions' next owner starts from the committed offsets */
        l->hook_err = commit_settled(l, 1, l->hook_errstr,
                                     sizeof(l->hook_errstr));
        if (!l->hook_err && l->join)
            l->hook_err = commit_join_checked(l, l->hook_errstr,
                                              sizeof(l->hook_errstr));
        return;
    }
    if (l->closing || !l->exactly_once || l->hook_err)
        return;
    /* Between batches too, one of several instances commits a snapshot
     * (end_batch() opens a transaction for it when anything was learned
     * since the last one): the last commit may have carried none, and a
     * claim whose snap stops short would make the next owner relearn
     * events this instance's model still holds. */
    if (!publisher_in_transaction(l->pub) && !l->opt.instance)
        return;
    l->hook_err = end_batch(l, 1, l->hook_errstr, sizeof(l->hook_errstr));
}

/* The commit above carried the owned join partitions' checked positions
 * (or, at least once, the last snapshot's): their next owners go on from
 * there. */
static void on_revoke(void *opaque)
{
    struct learn *l = opaque;

    commit_before_revoke(l);
    if (l->join && !l->closing) /* closing: it may be freed already */
        learn_join_disown(l->join);
}

/* Where the dead letters of join partition q go on when the group has
 * no committed offset of it: the broker expires a group's offsets
 * offsets.retention.minutes after the group emptied, so a learner
 * stopped longer than that finds none, and reading from the beginning
 * dead-lettered every unusable record again. A snapshot of format 5 on
 * records per join partition how far it was checked
 * (learn_join_promised_position()): by this learner while it owned the
 * partition (join_catch_up() before each snapshot, in both modes), or by
 * another instance whose committed position it read; the dead letters
 * below were committed or acknowledged before the snapshot was. It goes
 * on from there, with or without --instance. An older snapshot's join
 * positions are applied ones, which promise nothing about dead letters
 * (a build before the catch-up wrote them, or another instance owned
 * the partition): it reads from the beginning, and says that dead
 * letters may repeat. Returns the offset to go on from, -1 for the
 * beginning. */
static int64_t join_from_snapshot(struct learn *l, int q)
{
    int64_t known = learn_join_promised_position(l->join, q);
    int64_t applied = learn_join_restored_position(l->join, q);

    if (known > 0) {
        log_warn("learn", "%s [%d]: the group has no committed offset of "
                 "it (expired after the group stayed empty longer than "
                 "the broker's offsets.retention.minutes?): going on from "
                 "the snapshot's checked position %lld, below which every "
                 "unusable record was dead-lettered", l->cfg.join.topic, q,
                 (long long)known);
        return known;
    }
    if (applied <= 0)
        return -1;
    if (l->snapshot_format < SNAPSHOT_FORMAT_CHECKED)
        log_warn("learn", "%s [%d]: the group has no committed offset of "
                 "it, and the snapshot (format %d, written before riffle "
                 "recorded checked positions) promises nothing about its "
                 "dead letters: checking it from the beginning; dead "
                 "letters of unusable records below offset %lld may be "
                 "published again", l->cfg.join.topic, q,
                 (int)l->snapshot_format, (long long)applied);
    else
        log_warn("learn", "%s [%d]: the group has no committed offset of "
                 "it, and the snapshot knows of no owner's checked "
                 "position: checking it from the beginning; dead letters "
                 "of unusable records below offset %lld may be published "
                 "again", l->cfg.join.topic, q, (long long)applied);
    return -1;
}

/* Join partition q, whose owner this instance just became: it goes on
 * from the group's committed offset of q, where the previous owner's
 * last committed dead letters stop, or else from join_from_snapshot(). */
static int own_join_partition(struct learn *l, int q, int input_partition,
                              char *errstr, size_t size)
{
    char meta[8];
    int64_t from = -1;
    int err = 0, attempt, committed;

    for (attempt = 1; attempt <= LEARN_JOIN_COMMITTED_TRIES; attempt++) {
        err = consumer_committed_meta(l->consumer, l->cfg.join.topic, q,
                                      LEARN_JOIN_COMMITTED_WAIT_MS, &from,
                                      meta, sizeof(meta), errstr, size);
        if (!err || err == RIFFLE_ERR_STOPPED)
            break;
        log_warn("learn", "%s (try %d of %d)", errstr, attempt,
                 LEARN_JOIN_COMMITTED_TRIES);
    }
    if (err)
        return err;
    committed = from >= 0;
    if (!committed)
        from = join_from_snapshot(l, q);
    learn_join_own(l->join, q, from);
    log_info("learn", "%s [%d]: dead letters are this instance's (it has "
             "input partition %d), from %s %lld", l->cfg.join.topic, q,
             input_partition,
             committed ? "the committed offset"
                       : from >= 0 ? "the snapshot's checked position"
                                   : "offset",
             (long long)(from >= 0 ? from : 0));
    return 0;
}

/* Takes the join partitions whose owner (learn_join.h) is an input
 * partition among parts, the whole new assignment. */
static int own_join_partitions(struct learn *l,
                               const struct consumer_assigned *parts,
                               size_t n, char *errstr, size_t size)
{
    int q, count = learn_join_partition_count(l->join), inputs = 0;
    size_t i;
    int err = consumer_partition_count(l->consumer, l->cfg.topic_input,
                                       &inputs, errstr, size);

    learn_join_disown(l->join);
    /* How old the previous owner's last commit is, nobody can tell:
     * commit them again at the next look. */
    l->join_committed_s = l->now_s - LEARN_JOIN_REFRESH_S;
    for (i = 0; !err && inputs > 0 && i < n; i++) {
        if (strcmp(parts[i].topic, l->cfg.topic_input) != 0)
            continue;
        for (q = 0; !err && q < count; q++)
            if (learn_join_owner_partition(q, inputs) == parts[i].partition)
                err = own_join_partition(l, q, parts[i].partition, errstr,
                                         size);
    }
    return err;
}

/* Partitions came to this instance: it owns the join partitions that go
 * with its input partitions, and the delayed-label records of those
 * that moved go with them (learn_labels_take_over()). Runs inside the
 * consumer's poll, before any message of the new assignment; an error
 * stops the learner through the loop, as the revoke hook's do. */
static void on_assign(void *opaque, const struct consumer_assigned *parts,
                      size_t n)
{
    struct learn *l = opaque;

    if (l->closing || l->hook_err)
        return;
    if (l->join)
        l->hook_err = own_join_partitions(l, parts, n, l->hook_errstr,
                                          sizeof(l->hook_errstr));
    if (l->hook_err || !moves_label_records(l))
        return;
    if (l->exactly_once)
        l->hook_err = learn_labels_take_over(l->ol, &l->labels_held, parts,
                                             n, l->hook_errstr,
                                             sizeof(l->hook_errstr));
    else
        l->hook_err = learn_labels_take_over_alo(
            l->ol, &l->labels_held, l->consumer, parts, n, l->hook_errstr,
            sizeof(l->hook_errstr));
}

/* --- merging instances ------------------------------------------------ */

static int merge_due(const struct learn *l)
{
    long long every = l->cfg.merge_every_events;
    double seconds = l->cfg.merge_every_seconds;

    if (!l->merge || l->since_merge == 0)
        return 0;
    return (every > 0 && l->since_merge >= (unsigned long long)every) ||
           (seconds > 0 && kafka_monotonic_s() - l->last_merge_s >= seconds);
}

/* Commits a snapshot of our own model, so that the others merge our
 * latest, then adopts the merge of ours with the others' newest
 * snapshots, and publishes the merged model under the pipeline's model
 * key, where `riffle serve` replicas follow it. Only the model changes
 * (learn_merge.h): a crash before our next snapshot restores the model
 * from before the merge, and relearns our own events as after any crash,
 * so merging never makes an event count twice. A merge that cannot read
 * the model topic is skipped with a warning: learning goes on. */
static int merge_models(struct learn *l, char *errstr, size_t size)
{
    const struct learn_merge_stats *st = learn_merge_stats(l->merge);
    size_t bytes = 0, peers = 0;
    int own = l->since_snapshot > 0;
    int err = end_batch(l, 1, errstr, size);

    l->since_merge = 0;
    l->last_merge_s = kafka_monotonic_s();
    if (err)
        return err;
    if (own)
        learn_merge_count_published(l->merge, l->last_snapshot_bytes);
    if (learn_merge_adopt(l->merge, l->ol, &peers, errstr, size) != 0) {
        log_warn("learn", "not merging model %s this time: %s",
                 l->snapshot_key, errstr);
        return 0;
    }
    if (peers == 0) {
        log_info("learn", "model %s: no other live instance to merge (%llu "
                 "new message(s) of %s read)", l->snapshot_key,
                 (unsigned long long)st->last_messages_read,
                 l->cfg.topic_models);
        return 0;
    }

    err = begin_batch(l, errstr, size);
    if (!err)
        err = outputs_snapshot(l->out, l->ol, l->offsets, l->offset_count,
                               &bytes, errstr, size);
    if (!err)
        err = commit_batch(l, errstr, size);
    if (err)
        return err;
    learn_merge_count_published(l->merge, bytes);
    log_info("learn", "merged model %s with %zu other instance(s): version "
             "%llu published to %s as %s (%llu new message(s) read; merge "
             "traffic so far: %llu bytes read, %llu published)",
             l->snapshot_key, peers,
             (unsigned long long)model_update_count(online_model(l->ol)),
             l->cfg.topic_models, l->cfg.model_name,
             (unsigned long long)st->last_messages_read,
             (unsigned long long)st->bytes_read,
             (unsigned long long)st->bytes_published);
    return 0;
}

/* --- the loop --------------------------------------------------------- */

/* Idle means caught up with the brokers' end of every partition, not
 * only quiet: when the idle time is up the brokers are asked (within
 * LEARN_CONFIRM_IDLE_MS), and while they do not answer (an outage) or
 * have more to give, the learner warns and the wait starts over. So it
 * does while it holds no partition, as after its session timed out in
 * an outage: nothing says it has read everything.
 * tests/integration/test_idle_outage.sh stops the broker under an idle
 * learner. */
static int idle_done(struct learn *l)
{
    char why[256];
    int forming = 0;

    if (l->opt.idle_exit_s <= 0 ||
        l->now_s - l->last_message_s < l->opt.idle_exit_s)
        return 0;
    if (consumer_caught_up(l->consumer)) {
        if (consumer_confirm_caught_up(l->consumer, LEARN_CONFIRM_IDLE_MS,
                                       why, sizeof(why))) {
            /* tests/integration/test_idle_outage.sh tells by this line a
             * learner already finishing from one that is idle */
            log_info("learn", "idle for %.0f s and caught up with the "
                     "brokers' end of every partition: finishing",
                     l->opt.idle_exit_s);
            return 1;
        }
    } else if (!consumer_ever_assigned(l->consumer)) {
        /* The group forming, with the brokers there, is no fault: on a
         * fresh broker it makes its offsets topic first, which outlasts
         * a short --idle-exit; a learner beyond the partition count waits
         * so too. Brokers that do not answer are warned of, why says. */
        forming = consumer_brokers_reachable(
            l->consumer, LEARN_CONFIRM_IDLE_MS, why, sizeof(why));
    } else if (consumer_assigned_count(l->consumer) == 0) {
        snprintf(why, sizeof(why), "no partition of %s is assigned (the "
                 "group is rebalancing, or the brokers are away)",
                 l->cfg.topic_input);
    } else {
        return 0; /* the end is not fetched yet: no need to ask */
    }
    if (forming)
        log_info("learn", "idle for %.0f s while the group assigns the "
                 "first partition of %s: not stopping yet",
                 l->opt.idle_exit_s, l->cfg.topic_input);
    else
        log_warn("learn", "idle for %.0f s but %s: not stopping yet",
                 l->opt.idle_exit_s, why);
    l->last_message_s = l->now_s = kafka_monotonic_s();
    return 0;
}

static int should_stop(struct learn *l)
{
    if (cli_stop_requested)
        return 1;
    if (l->opt.max_events > 0 &&
        l->processed - l->replayed >=
            (unsigned long long)l->opt.max_events) /* new events only */
        return 1;
    return idle_done(l);
}

/* The resume offsets found outside their partitions over the run. */
static struct consumer_range_counts range_counts(const struct learn *l)
{
    struct consumer_range_counts now = {0}, all = l->ranges_dropped;

    if (l->consumer)
        consumer_range_counts(l->consumer, &now);
    all.past_end += now.past_end;
    all.before_start += now.before_start;
    all.lost_to_retention += now.lost_to_retention;
    return all;
}

static void tick_ops(struct learn *l, int force)
{
    struct consumer_range_counts ranges;

    if (!l->consumer)
        return; /* a failed rewind left none */
    l->ops_counts.processed = l->processed;
    l->ops_counts.predicted = l->predicted;
    l->ops_counts.dead_lettered = l->dead_lettered;
    l->ops_counts.drifts = l->drifts;
    l->ops_counts.rewinds = l->rewinds;
    l->ops_counts.rebuilds = rebuild_guard_count(&l->rebuilds);
    ranges = range_counts(l);
    l->ops_counts.offsets_past_end = ranges.past_end;
    l->ops_counts.offsets_before_start = ranges.before_start;
    l->ops_counts.lost_to_retention = ranges.lost_to_retention;
    if (l->merge) {
        const struct learn_merge_stats *st = learn_merge_stats(l->merge);

        l->ops_counts.merges = st->merges;
        l->ops_counts.merge_bytes_read = st->bytes_read;
        l->ops_counts.merge_bytes_published = st->bytes_published;
        l->ops_counts.merge_messages_read = st->messages_read;
    }
    learn_ops_tick(l->ops, l->ol, l->consumer, &l->ops_counts, force);
}

/* A metrics report on the metrics_every cadence of the model's event
 * count. A replayed event's report was published by the run that first
 * learned it; a report already made at this count (e.g. with a snapshot)
 * is not made again. */
static int after_event(struct learn *l, const rd_kafka_message_t *msg,
                       int replay, char *errstr, size_t size)
{
    unsigned long long count = online_metrics(l->ol)->total.count;

    consumer_mark_done(l->consumer, msg);
    l->processed++;
    l->since_snapshot++;
    l->txn_events += !replay;
    l->since_merge += !replay;
    l->last_message_s = l->counted_s = l->now_s;
    if (l->processed % (unsigned long long)l->cfg.progress_every_events == 0)
        log_progress(l);
    if (replay || count == l->metrics_reported ||
        count % (unsigned long long)l->cfg.metrics_every_events != 0)
        return 0;
    return report_metrics(l, errstr, size);
}

/* An event newer than the learner's last look at the join topic's ends
 * waits until every profile appended before it is applied (see
 * learn_join.h); labels carry no fields to enrich. */
static int join_before(struct learn *l, const rd_kafka_message_t *msg,
                       char *errstr, size_t size)
{
    rd_kafka_timestamp_type_t tstype;
    int err;

    if (!l->join ||
        learn_labels_is_labels_topic(&l->cfg, rd_kafka_topic_name(msg->rkt)))
        return 0;
    err = join_catch_up(l, errstr, size);
    if (err ||
        !learn_join_due(l->join, rd_kafka_message_timestamp(msg, &tstype)))
        return err;
    return learn_join_sync(l->join, l->ol,
                           can_dead_letter(l) ? join_dead_letter : NULL, l,
                           errstr, size);
}

static int on_message(struct learn *l, const rd_kafka_message_t *msg,
                      char *errstr, size_t size)
{
    int replay = l->exactly_once && consumer_is_replay(l->consumer, msg);
    int err = 0;

    if (l->processed == 0 && l->progress_events == 0)
        l->progress_s = l->now_s; /* first event: counted_s starts here */
    if (l->exactly_once && !replay && !publisher_in_transaction(l->pub))
        err = begin_batch(l, errstr, size);
    if (!err)
        err = join_before(l, msg, errstr, size);
    if (!err)
        err = handle_message(l, msg, replay, errstr, size);
    if (!err)
        err = after_event(l, msg, replay, errstr, size);
    return err;
}

/* The owner of join partitions dead-letters what they received since
 * its last event (nothing else reads it before the owner's next event,
 * which may come only in its next run): exactly once into the open
 * batch, opened for it when none is, whose commit carries the checked
 * positions; at least once at once, the positions committed with the
 * next snapshot, at a revoke or at the stop. stop (may be NULL) cuts the
 * read short. Brokers that do not answer the look at the ends are no
 * reason to fail: what is left waits for the next look, event or run;
 * *answered (may be NULL) says whether they did. */
static int join_check_ends(struct learn *l,
                           const volatile sig_atomic_t *stop, int *answered,
                           char *errstr, size_t size)
{
    int unchecked = 0, err;

    if (answered)
        *answered = 0;
    if (!l->join)
        return 0;
    if (learn_join_look_ends(l->join, &unchecked, errstr, size) != 0) {
        log_warn("learn", "%s: not checking the join topic for dead letters "
                 "now; its owner will later", errstr);
        return 0;
    }
    if (answered)
        *answered = 1;
    if (!unchecked)
        return 0;

    err = can_dead_letter(l) ? 0 : begin_batch(l, errstr, size);
    if (!err)
        err = learn_join_check_ends(l->join, l->ol, join_dead_letter, l,
                                    stop, errstr, size);
    return err;
}

/* Commits the owned join partitions' checked positions again when
 * LEARN_JOIN_REFRESH_S has passed since their last commit, so that the
 * broker keeps them while the learner runs: exactly once through a batch
 * opened for it, whose commit carries them; at least once directly, once
 * every dead letter sent is acknowledged, unless a snapshot's offsets
 * (which carry them too, maybe older) still wait to be committed. Only
 * after the brokers answered: a batch begun without them would hold the
 * loop until they are back. A group that dropped this member refuses
 * the commit; it is tried again after the rejoin. */
static int join_refresh(struct learn *l, char *errstr, size_t size)
{
    int err;

    if (!learn_join_owns(l->join) ||
        l->now_s - l->join_committed_s < LEARN_JOIN_REFRESH_S)
        return 0;
    if (l->exactly_once)
        return publisher_in_transaction(l->pub) ? 0
                                                : begin_batch(l, errstr, size);
    if (snapshot_unsettled(l))
        return 0;

    err = commit_join_checked(l, errstr, size);
    if (err == RIFFLE_ERR_TIMEOUT) {
        log_warn("learn", "%s; committing the join topic's checked positions "
                 "again in %.0f s", errstr, LEARN_COMMIT_RETRY_S);
        l->join_committed_s =
            kafka_monotonic_s() - LEARN_JOIN_REFRESH_S + LEARN_COMMIT_RETRY_S;
        err = 0;
    }
    return err;
}

/* While no event comes, once per delivery.batch_ms: an owner whose input
 * partitions are idle would otherwise hold its join partitions' dead
 * letters back until its next event, and let the broker expire their
 * checked positions (join_refresh()). */
static int join_look_idle(struct learn *l, char *errstr, size_t size)
{
    int answered, err;

    if (!l->join || l->now_s - l->join_looked_s <
                        (double)l->cfg.txn_every_ms / 1000.0)
        return 0;
    l->join_looked_s = l->now_s;

    err = join_check_ends(l, &cli_stop_requested, &answered, errstr, size);
    if (!err && answered)
        err = join_refresh(l, errstr, size);
    return err;
}

/* A start the consumer moved (past the end, or before the start of a
 * partition) is a position no event stands behind: were no event to
 * follow, no snapshot would record it, and the next run would decide
 * again from the old offset; after "latest", it would skip the events
 * that came meanwhile. Looked at on idle polls only: while events flow,
 * they are owed a snapshot anyway. */
static void owe_snapshot_for_moves(struct learn *l)
{
    struct consumer_range_counts rc = range_counts(l);
    uint64_t moves = rc.past_end + rc.before_start;

    if (moves > l->moves_noted) {
        l->moves_noted = moves;
        l->since_snapshot++;
    }
}

/* One poll and what follows from it. */
static int step(struct learn *l, char *errstr, size_t size)
{
    rd_kafka_message_t *msg = consumer_poll(l->consumer, LEARN_POLL_MS);
    const char *failure = consumer_failure(l->consumer);
    int err = 0;

    l->now_s = kafka_monotonic_s();
    if (msg && msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* E.g. fenced: another member took over our static member id. */
        snprintf(errstr, size, "consumer failed for good: %s",
                 rd_kafka_message_errstr(msg));
        rd_kafka_message_destroy(msg);
        return RIFFLE_ERR_FENCED;
    }
    if (msg && msg->err) {
        log_warn("learn", "%s [%d]: %s",
                 msg->rkt ? rd_kafka_topic_name(msg->rkt) : "-",
                 (int)msg->partition, rd_kafka_message_errstr(msg));
    } else if (msg) {
        err = on_message(l, msg, errstr, size);
        if (l->wipe_messages)
            kafka_message_wipe(msg); /* handled: dead letters are sealed */
    }
    if (msg)
        rd_kafka_message_destroy(msg);
    if (!msg || ++l->since_poll >= LEARN_PUBLISHER_POLL_EVERY) {
        publisher_poll(l->pub);
        l->since_poll = 0;
    }

    if (!err && l->hook_err) {
        snprintf(errstr, size, "%s", l->hook_errstr);
        err = l->hook_err;
    } else if (!err && failure) {
        snprintf(errstr, size, "%s", failure);
        err = RIFFLE_ERR_KAFKA;
    }
    if (err)
        return err;
    if (!msg)
        owe_snapshot_for_moves(l);
    if (!l->exactly_once) {
        err = msg ? 0 : join_look_idle(l, errstr, size);
        if (!err)
            err = commit_settled(l, 0, errstr, size);
        if (!err && snapshot_due(l) && !snapshot_unsettled(l))
            err = take_snapshot(l, 0, errstr, size);
        return err;
    }
    if (!msg)
        err = join_look_idle(l, errstr, size);
    if (!err && merge_due(l))
        return merge_models(l, errstr, size);
    if (!err && publisher_in_transaction(l->pub) && snapshot_due(l))
        err = snapshot_in_batch(l, errstr, size);
    if (!err && (publisher_in_transaction(l->pub) ? batch_due(l)
                                                  : snapshot_alone_due(l)))
        err = end_batch(l, 0, errstr, size);
    return err;
}

/* The last word before leaving: converge, dead-letter what the owned
 * join partitions hold (not cut short by the stop request: the read is
 * bounded by the ends it asked for), then commit what is left. */
static int finish(struct learn *l, char *errstr, size_t size)
{
    int err = 0;

    if (l->merge)
        err = merge_models(l, errstr, size);
    if (!err)
        err = join_check_ends(l, NULL, NULL, errstr, size);
    if (!err && l->exactly_once)
        err = end_batch(l, 1, errstr, size);
    else if (!err && l->since_snapshot > 0)
        err = take_snapshot(l, 1, errstr, size);
    else if (!err)
        err = commit_settled(l, 1, errstr, size);
    /* at least once, the checked positions once their dead letters are
     * acknowledged (the idle looks' may be in no snapshot yet); a group
     * that dropped this member refuses them, and the next run publishes
     * those dead letters again, as at least once allows */
    if (err || !l->join || l->exactly_once)
        return err;
    err = commit_join_checked(l, errstr, size);
    if (err == RIFFLE_ERR_TIMEOUT) {
        log_warn("learn", "%s: the join topic's checked positions are not "
                 "committed; the next run dead-letters again what they "
                 "cover", errstr);
        err = 0;
    }
    return err;
}

/* Runs until asked to stop. A failure of the last commit is recovered
 * like any other: the learner goes back to its last committed state and
 * runs again up to the stop, e.g. relearning a dropped batch's events
 * before --max-events is reached. */
static int run_loop(struct learn *l, char *errstr, size_t size)
{
    int err = 0;

    l->now_s = kafka_monotonic_s();
    l->last_snapshot_s = l->last_message_s = l->now_s;

    for (;;) {
        while (!err && !should_stop(l)) {
            err = recover(l, step(l, errstr, size), errstr, size);
            tick_ops(l, 0);
        }
        if (err)
            break;
        err = finish(l, errstr, size);
        if (err != RIFFLE_ERR_ABORTED && err != RIFFLE_ERR_FENCED)
            break;
        err = recover(l, err, errstr, size);
    }
    tick_ops(l, 1);
    return err;
}

/* --- command line ----------------------------------------------------- */

static void usage(void)
{
    printf("usage: riffle learn -c CFG [--brokers B] [--max-events N] "
           "[--idle-exit SECONDS]\n"
           "                    [--from-snapshot FILE] [--start-fresh] "
           "[--http HOST:PORT]\n"
           "                    [--instance NAME]\n"
           "  --max-events N     stop (with a snapshot) after N new events "
           "(not counting\n"
           "                     events relearned from a snapshot)\n"
           "  --idle-exit S      stop once caught up and idle for S seconds\n"
           "  --from-snapshot F  start from this snapshot file (e.g. from "
           "riffle train)\n"
           "                     when the model topic has none\n"
           "  --start-fresh      start a new model even though the model "
           "topic holds\n"
           "                     snapshots that cannot be used\n"
           "  --http HOST:PORT   serve Prometheus /metrics and the live "
           "dashboard (/)\n"
           "                     on this address, e.g. 127.0.0.1:9464\n"
           "  --instance NAME    one of several learners of this pipeline "
           "(letters, digits,\n"
           "                     . _ -): own snapshots (<model>@NAME), own "
           "transactional\n"
           "                     id (<transactional_id>-NAME); see "
           "docs/SCALING.md\n");
}

static int parse_options(int argc, char **argv, struct learn_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"max-events", required_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"from-snapshot", required_argument, NULL, 's'},
        {"start-fresh", no_argument, NULL, 'f'},
        {"http", required_argument, NULL, 'H'},
        {"instance", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:n:i:s:fH:I:h", longopts)) !=
           -1) {
        if (c == 'c')
            o->config = optarg;
        else if (c == 'b')
            o->brokers = optarg;
        else if (c == 'n')
            bad |= cli_parse_count("--max-events", optarg, &o->max_events);
        else if (c == 'i')
            bad |= cli_parse_seconds("--idle-exit", optarg, &o->idle_exit_s);
        else if (c == 's')
            o->snapshot_file = optarg;
        else if (c == 'f')
            o->start_fresh = 1;
        else if (c == 'H')
            o->http = optarg;
        else if (c == 'I')
            o->instance = optarg;
        else if (c == 'h') {
            usage();
            return 1;
        } else
            return -1;
    }
    bad |= cli_refuse_operands("learn", argc, argv, optind);
    return bad ? -1 : 0;
}

/* The instance's snapshot key and transactional id (also its static
 * member id): unchanged for the only learner of a pipeline. Returns 0,
 * or -1 after reporting a bad name. */
static int set_identity(struct learn *l)
{
    const char *name = l->opt.instance;
    size_t i, len = name ? strlen(name) : 0;
    size_t room = CFG_NAME_MAX - 2 - strlen(l->cfg.transactional_id);

    snprintf(l->snapshot_key, sizeof(l->snapshot_key), "%s",
             l->cfg.model_name);
    if (!name)
        return 0;
    for (i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            break;
    if (len == 0 || i < len || len > room) {
        log_error("learn", "--instance \"%s\": expected 1 to %zu letters, "
                  "digits, '.', '_' or '-'", name, room);
        return -1;
    }
    snprintf(l->snapshot_key, sizeof(l->snapshot_key), "%s@%s",
             l->cfg.model_name, name);
    snprintf(l->cfg.transactional_id + strlen(l->cfg.transactional_id),
             CFG_NAME_MAX - strlen(l->cfg.transactional_id), "-%s", name);
    return 0;
}

/* One JSON line on stdout for scripts: counts, cumulative metrics, and
 * a digest of the weights that equals another run's only when the two
 * models are bit-identical. */
static void print_summary(struct learn *l)
{
    struct learn_merge_stats none = {0};
    const struct learn_merge_stats *st =
        l->merge ? learn_merge_stats(l->merge) : &none;
    struct learn_join_stats no_join = {0};
    const struct learn_join_stats *js =
        l->join ? learn_join_stats(l->join) : &no_join;
    struct consumer_range_counts ranges = range_counts(l);
    struct buf metrics = {0};
    uint64_t digest = 0;

    (void)online_metrics_json(l->ol, 0, &metrics); /* empty if no memory */
    if (l->cfg.labels.line && metrics.data &&
        (buf_append(&metrics, ",", 1) != 0 ||
         learn_labels_json(l->ol, &l->labels, &metrics) != 0))
        buf_free(&metrics); /* no memory: the summary says null */
    (void)snapshot_weights_digest(l->ol, &digest); /* 0 if no memory */
    printf("{\"instance\":\"%s\",\"learned\":%llu,"
           "\"processed\":%llu,\"events\":%llu,\"label_messages\":%llu,"
           "\"predicted\":%llu,\"dead_letters\":%llu,"
           "\"duplicates\":%llu,\"late_routed\":%llu,\"profiles\":%llu,"
           "\"join_syncs\":%llu,\"join_rechecked\":%llu,"
           "\"replayed\":%llu,\"rewinds\":%llu,\"rebuilds\":%llu,"
           "\"merges\":%llu,"
           "\"merge_bytes_read\":%llu,\"merge_bytes_published\":%llu,"
           "\"merge_messages_read\":%llu,\"merge_peers_expired\":%llu,"
           "\"merge_seconds\":%.3f,"
           "\"offsets_past_end\":%llu,\"offsets_before_start\":%llu,"
           "\"lost_to_retention\":%llu,"
           "\"drift_alarms\":%llu,%s,\"model_version\":%llu,"
           "\"weights_digest\":\"%016llx\"}\n",
           l->snapshot_key,
           (unsigned long long)online_metrics(l->ol)->total.count,
           l->processed, l->processed - l->label_messages, l->label_messages,
           l->predicted, l->dead_lettered, l->duplicates, l->routed_late,
           (unsigned long long)(js->rebuilt + js->applied),
           (unsigned long long)js->syncs,
           (unsigned long long)js->rechecked, l->replayed, l->rewinds,
           rebuild_guard_count(&l->rebuilds),
           (unsigned long long)st->merges,
           (unsigned long long)st->bytes_read,
           (unsigned long long)st->bytes_published,
           (unsigned long long)st->messages_read,
           (unsigned long long)st->peers_expired, st->seconds,
           (unsigned long long)ranges.past_end,
           (unsigned long long)ranges.before_start,
           (unsigned long long)ranges.lost_to_retention, l->drifts,
           metrics.data ? metrics.data : "\"metrics\":null",
           (unsigned long long)model_update_count(online_model(l->ol)),
           (unsigned long long)digest);
    buf_free(&metrics);
}

/* A stop that ended a wait on the brokers (why): says what it leaves
 * undone, which the next start does (nothing is lost), and gives up
 * what the publisher still holds. The counts then say what was
 * committed: exactly once, the open batch's are taken back. */
static void stop_undone(struct learn *l, const char *why)
{
    if (!l->consumer) {
        log_warn("learn", "stopping on request: %s; nothing was learned",
                 why);
    } else if (l->exactly_once && publisher_in_transaction(l->pub)) {
        log_warn("learn", "stopping on request: %s; model %s's open "
                 "transaction (%llu new events) is not committed: the next "
                 "start goes on from its last commit, and learns them "
                 "again", why, l->snapshot_key, l->txn_events);
        uncount_batch(l);
        l->progress_events = l->processed; /* the last line's rate: none */
        l->progress_labels = l->label_messages;
    } else if (l->exactly_once) {
        log_warn("learn", "stopping on request: %s; the next start goes on "
                 "from model %s's last commit", why, l->snapshot_key);
    } else {
        log_warn("learn", "stopping on request: %s; the next start learns "
                 "again, and publishes again, what came after model %s's "
                 "last committed snapshot", why, l->snapshot_key);
    }
    publisher_abandon(l->pub);
}

static void learn_free(struct learn *l)
{
    l->closing = 1;
    learn_ops_destroy(l->ops);
    learn_merge_destroy(l->merge);
    learn_join_destroy(l->join);
    consumer_destroy(l->consumer);
    if (l->batch_start)
        rd_kafka_topic_partition_list_destroy(l->batch_start);
    outputs_destroy(l->out);
    publisher_destroy(l->pub);
    online_destroy(l->ol);
    schema_destroy(l->input);
    free(l);
}

int cmd_learn(int argc, char **argv)
{
    struct learn *l = calloc(1, sizeof(*l));
    char errstr[512] = "";
    int rc, err;

    if (!l)
        return 1;
#ifdef M_ARENA_MAX
    /* before librdkafka starts its threads; only a tuning if refused */
    (void)mallopt(M_ARENA_MAX, LEARN_MALLOC_ARENAS);
#endif
    rc = parse_options(argc, argv, &l->opt);
    if (rc != 0 || cli_load_config(l->opt.config, l->opt.brokers, &l->cfg) ||
        cli_require_output_schemas(&l->cfg) || set_identity(l) != 0) {
        learn_free(l);
        return rc > 0 ? 0 : 2;
    }

    /* A stop during start-up ends the bounded waits on the brokers too
     * (the newest snapshot, the consumer's first metadata). */
    kafka_set_stop(&cli_stop_requested);
    err = start(l, errstr, sizeof(errstr));
    if (!err) {
        log_info("learn", "pipeline %s: %s -> %s (dead letters %s, models "
                 "%s)", l->cfg.name, l->cfg.topic_input,
                 l->cfg.topic_predictions, l->cfg.topic_dead_letters,
                 l->cfg.topic_models);
        err = run_loop(l, errstr, sizeof(errstr));
    }

    if (err == RIFFLE_ERR_STOPPED) {
        stop_undone(l, errstr);
        err = 0;
    }
    if (err) {
        log_error("learn", "%s", errstr[0] ? errstr : riffle_err_str(err));
    } else if (l->ol && l->consumer) { /* not when stopped at start-up */
        log_progress(l);
        print_summary(l);
    }
    learn_free(l);
    return err ? 1 : 0;
}
