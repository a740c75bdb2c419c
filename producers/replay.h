/*
 * producers/replay.h - `riffle dlq replay`: gives dead letters a second
 * chance under the current rules.
 *
 * Reads the dead-letter topic in its own consumer group, opens each
 * payload (sealed with the dead-letter key, or in clear for a source
 * without personal fields), and judges it as the learner would: with
 * the duplicate window and per-partition watermarks of the model's
 * latest snapshot, then the current rules. What now passes is
 * re-injected into the topic it first came from, with its original key
 * and bytes and a header riffle.replay.of = "<dead-letter
 * topic>/<partition>/<offset>"; a duplicate (its id learned since, or
 * re-injected earlier in the run) is counted and left. What still fails
 * is dead-lettered again with today's reason, once per change of the
 * configuration: met again under the same rules it is parked, not
 * written again, and a run under other rules goes back to the parked
 * ones first (see struct part_plan in replay.c). Nothing is lost. A
 * payload that cannot be opened (its key is not in the keyring) stops
 * the run there. Offsets are committed only after everything produced
 * is acknowledged, so a crash replays a dead letter again rather than
 * skipping it. Runs on the calling thread.
 */
#ifndef RIFFLE_PRODUCERS_REPLAY_H
#define RIFFLE_PRODUCERS_REPLAY_H

#include <signal.h>
#include <stddef.h>

#include "config/cfg.h"

#define REPLAY_HEADER_SOURCE "riffle.replay.of"
#define REPLAY_GROUP_SUFFIX ".dlq-replay"

struct replay_options {
    const char *group;  /* consumer group; NULL: <group_id>.dlq-replay */
    long long limit;    /* stop after this many dead letters; 0 = all */
    int dry_run;        /* validate and count only: no produce, no commit */
    int progress;       /* 1 = progress line on a terminal */
    double idle_exit_s; /* stop once caught up and idle this long */
    const volatile sig_atomic_t *stop; /* stop when *stop; may be NULL */
};

struct replay_stats {
    long long read;          /* dead letters read */
    long long replayed;      /* passed and re-injected */
    long long still_failing; /* refused again, and dead-lettered again
                                under today's rules */
    long long no_payload;    /* no bytes to replay (over the size cap) */
    long long no_key;        /* its original key was over the size cap:
                                re-injected without it, the event would
                                lose its key and its partition */
    long long undecryptable; /* sealed under a key the keyring lacks, or
                                altered: the run stops there */
    long long unreadable;    /* not a dead-letter record */
    long long parked;        /* still failing under the same rules as
                                when a replay last wrote it: passed
                                without being written again */
    long long duplicates;    /* its id was learned since (or replayed
                                earlier in this run): not re-injected */
    long long snapshot_version; /* of the model whose duplicate window
                                   and watermarks judged; -1: none */
};

/* Runs one replay over everything the group has not handled yet.
 * Returns 0 or an error with errstr set; stats are filled either way. */
int replay_run(const struct cfg *cfg, const struct replay_options *opt,
               struct replay_stats *stats, char *errstr,
               size_t errstr_size);

#endif
