/*
 * learner/model_merge.h - merges the models of several learner instances
 * that each learned a share of one stream.
 *
 * Every instance starts from the same base (the last merged model), then
 * learns only its own partitions. A merge averages what each instance
 * changed since the base, weighted by the examples it learned since then:
 *
 *   base + sum_i (n_i / N) (x_i - base)
 *
 * for the weights and for every optimizer-state array (sums and running
 * averages of squared gradients, adam's mean gradient, ftrl's z), except
 * normalized's largest |feature value| seen, which takes the maximum.
 * The update count (the model version) becomes base + N, the examples
 * learned by all instances together; normalized's model-wide totals
 * (struct model_norm_totals: examples learned, sum of their normalized
 * norms) likewise add up, base + sum_i (x_i - base): the merged model
 * has learned every instance's examples, and averaged totals would let
 * each later example move their ratio, which sets the rate, n times as
 * much as in one learner that saw the whole stream. An ftrl model then
 * recomputes its weights from the merged z and n. Measured with `riffle simulate` on
 * the bundled data, averaging the optimizer state as well was as good as
 * or better than adding the instances' sums of squared gradients (which
 * made ftrl diverge on the click data at 1,000 events per merge).
 * Instances that learned nothing since the base do not move the result.
 * Nothing here touches Kafka: the learn loop decides when to merge and
 * how models travel (the model topic); the simulation in bench/ uses it
 * in-process. Single-threaded; a merger belongs to one thread.
 */
#ifndef RIFFLE_LEARNER_MODEL_MERGE_H
#define RIFFLE_LEARNER_MODEL_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "learner/model.h"

struct model_merger;

/* A merger for models with these parameters, with an all-zero base at
 * update count 0 (a fresh model). Returns 0, RIFFLE_ERR_INVALID when
 * model_params_check() refuses params, or RIFFLE_ERR_NOMEM. */
int model_merger_new(const struct model_params *params,
                     struct model_merger **out);

void model_merger_destroy(struct model_merger *mm); /* NULL-safe */

/* Makes a copy of m the base, e.g. after restoring a snapshot that all
 * instances start from. m must have the merger's parameters. */
void model_merger_set_base(struct model_merger *mm, const struct model *m);

/* Merges the n models in src (borrowed; each learned from the base) and
 * writes the result into every one of them and into the base. Returns 0;
 * RIFFLE_ERR_INVALID when n is 0 or a model has other parameters (all
 * unchanged); RIFFLE_ERR_SNAPSHOT when the merged state is refused by
 * model_restore_state() (cannot happen for finite inputs). */
int model_merger_merge(struct model_merger *mm, struct model *const *src,
                       size_t n);

/* Merges whole models rather than changes since a common base: the
 * result is sum_i (e_i / E) x_i, where e_i = examples[i] is what model i
 * learned itself (E their total), for the weights and the averaged
 * state arrays (normalized's scale still takes the maximum) and for
 * normalized's totals (summed, they would count again the history the
 * instances share), and its update count is E. Used between learner instances that merge
 * asynchronously through the model topic and so share no base (the base
 * cancels out of the formula above as the shares sum to 1). All zero
 * examples give equal shares. The result goes into every src model and
 * the base. Returns as model_merger_merge(). */
int model_merger_merge_weighted(struct model_merger *mm,
                                struct model *const *src,
                                const uint64_t *examples, size_t n);

/* Update count of the base: the merged model's version. */
uint64_t model_merger_version(const struct model_merger *mm);

#endif
