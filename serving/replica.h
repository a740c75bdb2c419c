/*
 * serving/replica.h - one scoring replica: the Kafka side of `riffle
 * serve`.
 *
 * Joins the serve consumer group on the requests topic (replicas share
 * its partitions), scores each request with the model in the slot
 * without learning, and publishes a prediction naming the model version
 * to serve.predictions, or a dead letter for a request it cannot score.
 * serve.delivery chooses the guarantee. "at_least_once" (the default)
 * sends each answer at once and commits offsets every
 * serve.commit_every_ms, after everything produced before them is
 * acknowledged: answers are visible within a broker round trip, and a
 * crash re-scores the requests since the last commit (the same model
 * gives the same prediction, naming request id and version, so readers
 * can drop the repeat). "exactly_once" puts the answers of every
 * serve.commit_every_ms, with the input offsets they answer, in one Kafka
 * transaction: read_committed readers see each request answered exactly
 * once, also across crashes, rebalances and aborted transactions (whose
 * requests are scored again), but only when the transaction commits.
 * Either way partitions are committed before they are handed to another
 * replica. Runs on the calling thread.
 */
#ifndef RIFFLE_SERVING_REPLICA_H
#define RIFFLE_SERVING_REPLICA_H

#include <signal.h>
#include <stddef.h>

#include "config/cfg.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"
#include "serving/serve_stats.h"

struct replica;

/* cfg, input_schema, slot and stats are borrowed and must outlive the
 * replica; each request answered is counted in stats (once, when an
 * answer is dropped and given again, see replica_run()), each client
 * rebuild too.
 * instance (borrowed) names this replica among the group's: its
 * transactional id is serve.group_id + "-" + instance, so it must be
 * unique per replica. With static_member set the replica is also a
 * static group member under that id: restarted under the same name it
 * gets its partitions back at once, without a rebalance, and fences
 * its predecessor's open transaction; a replica that stops for good then
 * holds its partitions until the group's session timeout.
 * stop (borrowed, may be NULL) ends its waits on the brokers, here and
 * in replica_run(), with RIFFLE_ERR_STOPPED (errstr says what was left
 * undone): the replica then commits nothing more, and what it answered
 * since its last commit is answered again by the next owner. Returns 0
 * or an error with errstr (topic missing, no broker). */
int replica_new(const struct cfg *cfg, const struct schema *input_schema,
                struct model_slot *slot, struct serve_stats *stats,
                const char *instance, int static_member,
                const volatile sig_atomic_t *stop, struct replica **out,
                char *errstr, size_t errstr_size);

/* Leaves the group after a last commit, flushes, frees. NULL-safe. */
void replica_destroy(struct replica *r);

/* Scores requests until *stop is set, max_requests were handled (0: no
 * limit; exactly once, the requests of a dropped transaction count when
 * scored again) or, when idle_exit_s > 0, partitions are assigned, every
 * one is read to its end and nothing arrived for idle_exit_s seconds.
 * A Kafka client that fails for good (fenced, fatal) is replaced
 * in-process, as a restart would replace it, at most REBUILD_GUARD_MAX
 * times in REBUILD_GUARD_WINDOW_S (common/rebuild_guard.h): every
 * request not yet committed is scored again, and in exactly once mode
 * still gets one committed answer. Returns 0 or an error with errstr (a
 * delivery failed, or the clients failed for good too often). */
int replica_run(struct replica *r, const volatile sig_atomic_t *stop,
                long long max_requests, double idle_exit_s, char *errstr,
                size_t errstr_size);

#endif
