/*
 * learner/features.h - turns a clean, anonymized event into hashed
 * features.
 *
 * A numeric field becomes one feature at hash(field) carrying its
 * (optionally transformed) value, plus an optional "missing" indicator.
 * A categorical field becomes the one-hot feature hash(field, token) with
 * value 1; numbers used as categories are printed first ("7"). The hash
 * is masked to the model's 2^bits weights, so the feature space is fixed
 * whatever the cardinality (collisions are the price; see issue notes).
 * Immutable after creation except for the borrowed statistics it reads.
 */
#ifndef RIFFLE_LEARNER_FEATURES_H
#define RIFFLE_LEARNER_FEATURES_H

#include <stddef.h>

#include "config/cfg.h"
#include "learner/model.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"

#define FEATURES_MISSING_TOKEN "(missing)"
/* At most two features per field (value and missing indicator). */
#define FEATURES_MAX (2 * CFG_MAX_FIELDS)

struct feature_builder;

/* stats is borrowed (cfg->field_count entries; see cleaner_new). Returns
 * 0, RIFFLE_ERR_NOMEM, or RIFFLE_ERR_CFG when a field is not in the
 * schema. */
int features_new(const struct cfg *cfg, const struct schema *schema,
                 const struct running_stats *stats,
                 struct feature_builder **out, char *errstr,
                 size_t errstr_size);

void features_destroy(struct feature_builder *fb); /* NULL-safe */

/* Writes the event's features into out (room for FEATURES_MAX) and
 * returns how many. imputed (may be NULL) flags, per configured field,
 * values that cleaning made up (cleaner_imputed()): they still get their
 * missing indicator. */
size_t features_build(const struct feature_builder *fb,
                      const struct event *ev, const unsigned char *imputed,
                      struct feature *out);

#endif
