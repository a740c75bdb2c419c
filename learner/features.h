/*
 * learner/features.h - turns a clean, anonymized event into hashed
 * features.
 *
 * A numeric field becomes one feature at hash(field) carrying its
 * (optionally transformed) value, or with transform bucketize the one-hot
 * feature of its bucket, plus an optional "missing" indicator. A
 * categorical field becomes the one-hot feature hash(field, token) with
 * value 1; numbers used as categories are printed first ("7"). Fields are
 * grouped in namespaces (default: one per field); learner.interactions
 * crosses every feature of one namespace with every feature of another
 * (value: the product). Each full 32-bit hash is masked to the model's
 * 2^bits weights, so the feature space is fixed whatever the cardinality;
 * collisions are the price, and they are counted. Runs on the learner
 * thread; not thread-safe (it keeps scratch space and counters), except
 * features_hint_event(), which only reads what features_new() set: a
 * thread reading events ahead of the learner (train's reader) hashes
 * their tokens there, and features_build() takes each such hash while
 * the value it was made from is unchanged (schemas/event.h, "Hints").
 */
#ifndef RIFFLE_LEARNER_FEATURES_H
#define RIFFLE_LEARNER_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "learner/model.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"

#define FEATURES_MISSING_TOKEN "(missing)"
#define FEATURES_MAX_CROSSED 4096 /* crossed features per event, at most */
/* Two features per field (value and missing indicator), plus crosses. */
#define FEATURES_MAX (2 * CFG_MAX_FIELDS + FEATURES_MAX_CROSSED)

struct feature_builder;

/* stats is borrowed (cfg->field_count entries; see cleaner_new). Returns
 * 0, RIFFLE_ERR_NOMEM, or RIFFLE_ERR_CFG when a field is not in the
 * schema. With cfg->count_collisions it keeps 2 bytes per weight (4
 * below FEATURES_OWNER16_MIN_BITS of features.c) and a bit per weight to
 * count hash collisions. */
int features_new(const struct cfg *cfg, const struct schema *schema,
                 const struct running_stats *stats,
                 struct feature_builder **out, char *errstr,
                 size_t errstr_size);

void features_destroy(struct feature_builder *fb); /* NULL-safe */

/* Writes the event's features into out (room for FEATURES_MAX) and
 * returns how many. imputed (may be NULL) flags, per configured field,
 * values that cleaning made up (cleaner_imputed()): they still get their
 * missing indicator. Crossed features of learner.interactions follow the
 * plain ones; beyond FEATURES_MAX_CROSSED they are cut and counted. */
size_t features_build(struct feature_builder *fb, const struct event *ev,
                      const unsigned char *imputed, struct feature *out);

/* Hints ev with the hash features_build() will give each categorical
 * value, as the event is now (schemas/event.h, "Hints"): a field without
 * a privacy action gets the hash of its value; a field the anonymizer
 * will replace gets the hash of its replacement hint, when it has one
 * (anonymizer_hint_event() first). A number whose transform is pure
 * (log1p) gets the transformed value as its number hint. Pure: reads only what features_new()
 * set, so it may run on another thread than features_build(), on events
 * that thread owns, while fb is in use. */
void features_hint_event(const struct feature_builder *fb,
                         struct event *ev);

/* Starts loading, for writing, what features_build() will touch for ev's
 * hinted categorical values (their collision-table entries), and writes
 * their weight indices to idx (room for CFG_MAX_FIELDS); returns how
 * many. A later event's hints are its features' hashes before the event
 * is cleaned or anonymized, so an index may turn out unused: only a
 * cache line is lost. Reads ev only; changes nothing. */
size_t features_prefetch_hinted(const struct feature_builder *fb,
                                const struct event *ev, uint32_t *idx);

/* How many categorical fields make features: at most the indices
 * features_prefetch_hinted() writes. */
size_t features_token_count(const struct feature_builder *fb);

/* The hash features_build() gives configured field when its value is the
 * string text (len bytes): 1 with *hash set, or 0 when the field makes no
 * token feature (not categorical, or dropped). Pure, like
 * features_hint_event(); the anonymizer's hinter hashes the replacements
 * it makes with it (online_hinter_new()). */
int features_token_hash(const struct feature_builder *fb, size_t field,
                        const char *text, size_t len, uint32_t *hash);

struct feature_counts {
    unsigned long long distinct;       /* different hashes seen */
    unsigned long long collided_slots; /* weights shared by 2+ of them */
    unsigned long long crosses_cut;    /* crossed features dropped */
};

/* Collision counts since start (not kept in snapshots); all 0 when
 * counting is off. */
void features_counts(const struct feature_builder *fb,
                     struct feature_counts *out);

#endif
