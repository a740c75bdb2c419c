/*
 * learner/snapshot_labels.h - the pending delayed labels in a snapshot
 * (the pending_labels field of schemas/model_snapshot.avsc, format 2).
 *
 * A learner with delayed labels holds events it has scored and not yet
 * learned; a restart replays the input only from the snapshot's offsets,
 * so the events before them must come back from the snapshot itself.
 * Only learner/snapshot.c calls these; learner thread.
 */
#ifndef RIFFLE_LEARNER_SNAPSHOT_LABELS_H
#define RIFFLE_LEARNER_SNAPSHOT_LABELS_H

#include <avro.h>
#include <stdint.h>

#include "learner/online.h"

/* Fills the pending_labels field of rec from ol (empty without a labels
 * group). Returns 0 or RIFFLE_ERR_SCHEMA (avro_strerror() says why). */
int snapshot_labels_set(avro_value_t *rec, struct online_learner *ol);

/* Builds the store rec holds, for ol's configuration, into *out (NULL
 * when ol has no labels group: saved entries are then dropped), and its
 * clock into *clock_ms. A snapshot without the field (format 1) gives an
 * empty store. Returns 0, RIFFLE_ERR_SNAPSHOT for unreadable entries or
 * RIFFLE_ERR_NOMEM; *out is then NULL. */
int snapshot_labels_read(avro_value_t *rec, struct online_learner *ol,
                         struct label_join **out, int64_t *clock_ms);

#endif
