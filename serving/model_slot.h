/*
 * serving/model_slot.h - the model a scoring replica serves, swapped
 * while scoring goes on.
 *
 * A slot holds the current served model: an online learner restored from
 * a snapshot, with the version it was at. The follower thread builds the
 * next model entirely outside the slot (restoring a snapshot takes
 * milliseconds to seconds) and installs it with one pointer swap; scoring
 * threads take a reference to whatever is current, score, and drop it.
 * So a swap never pauses scoring, and a model is freed only when the last
 * request scored by it is done. Every prediction carries the version of
 * the model that made it.
 *
 * Thread-safe: any thread may install, acquire, score and release. Two
 * threads scoring with the same model take turns on its mutex, because
 * a learner's buffers are reused from one event to the next.
 */
#ifndef RIFFLE_SERVING_MODEL_SLOT_H
#define RIFFLE_SERVING_MODEL_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "cleaning/clean.h"
#include "common/buf.h"
#include "learner/online.h"
#include "schemas/event.h"

struct model_slot;
struct served_model;

/* A prediction that owns its strings: r.event_id and r.label_text point
 * into this struct, and r.carried[] into carried (or are NULL), so it
 * outlives the model's buffers and the model itself: a replica publishes
 * it after releasing the model, which the next request may reuse or a
 * swap may free. Release it with served_prediction_free(). */
struct served_prediction {
    struct online_result r;
    char event_id[CLEAN_MAX_ID_BYTES + 1];
    char label_text[CFG_NAME_MAX];
    struct buf carried; /* r.carried[]'s texts, each followed by a NUL */
};

/* Returns 0 or RIFFLE_ERR_NOMEM. *out owned by the caller. */
int model_slot_new(struct model_slot **out);

/* Frees the slot and its current model. Every acquired model must have
 * been released. NULL-safe. */
void model_slot_destroy(struct model_slot *s);

/* Takes ol (which must not be used by the caller afterwards) and makes
 * it the served model at version; the previous model is freed once its
 * last user releases it. Returns 0, or RIFFLE_ERR_NOMEM with ol freed. */
int model_slot_install(struct model_slot *s, struct online_learner *ol,
                       int64_t version);

/* The version served now, or -1 before the first install. */
int64_t model_slot_version(struct model_slot *s);

/* A reference to the current model, or NULL before the first install.
 * Release it with model_slot_release(). */
struct served_model *model_slot_acquire(struct model_slot *s);

void model_slot_release(struct model_slot *s, struct served_model *m);

int64_t served_model_version(const struct served_model *m);

/* Scores ev (cleaned and anonymized in place) with m, learning nothing.
 * Returns 0 with *out filled (a prediction or a dead-letter verdict), or
 * RIFFLE_ERR_NOMEM. *out needs no preparation; whatever the return, the
 * caller releases it with served_prediction_free(). */
int served_model_score(struct served_model *m, struct event *ev,
                       struct served_prediction *out);

/* Releases what p owns (its carried texts). NULL-safe. */
void served_prediction_free(struct served_prediction *p);

#endif
