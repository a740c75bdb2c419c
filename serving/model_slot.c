/*
 * serving/model_slot.c - the hot-swapped served model, see model_slot.h.
 */
#include "serving/model_slot.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct served_model {
    struct online_learner *ol;
    int64_t version;
    unsigned refs;           /* the slot's own one, plus one per user */
    pthread_mutex_t scoring; /* the learner's buffers serve one event */
};

struct model_slot {
    pthread_mutex_t lock; /* guards current and every refs count */
    struct served_model *current;
};

int model_slot_new(struct model_slot **out)
{
    struct model_slot *s = calloc(1, sizeof(*s));

    if (!s)
        return RIFFLE_ERR_NOMEM;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return RIFFLE_ERR_NOMEM;
    }
    *out = s;
    return 0;
}

static void served_model_free(struct served_model *m)
{
    online_destroy(m->ol);
    pthread_mutex_destroy(&m->scoring);
    free(m);
}

/* Drops one reference; called with s->lock held. Returns the model when
 * that was the last one, for the caller to free outside the lock. */
static struct served_model *unref_locked(struct served_model *m)
{
    assert(m->refs > 0);
    return --m->refs == 0 ? m : NULL;
}

void model_slot_destroy(struct model_slot *s)
{
    struct served_model *dead = NULL;

    if (!s)
        return;
    if (s->current)
        dead = unref_locked(s->current);
    assert(!s->current || dead); /* nobody may still hold it */
    if (dead)
        served_model_free(dead);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int model_slot_install(struct model_slot *s, struct online_learner *ol,
                       int64_t version)
{
    struct served_model *m = calloc(1, sizeof(*m)), *dead = NULL;

    if (!m || pthread_mutex_init(&m->scoring, NULL) != 0) {
        free(m);
        online_destroy(ol);
        return RIFFLE_ERR_NOMEM;
    }
    m->ol = ol;
    m->version = version;
    m->refs = 1;

    pthread_mutex_lock(&s->lock);
    if (s->current)
        dead = unref_locked(s->current);
    s->current = m;
    pthread_mutex_unlock(&s->lock);

    /* Freed outside the lock: scoring threads never wait for it. */
    if (dead)
        served_model_free(dead);
    return 0;
}

int64_t model_slot_version(struct model_slot *s)
{
    int64_t v;

    pthread_mutex_lock(&s->lock);
    v = s->current ? s->current->version : -1;
    pthread_mutex_unlock(&s->lock);
    return v;
}

struct served_model *model_slot_acquire(struct model_slot *s)
{
    struct served_model *m;

    pthread_mutex_lock(&s->lock);
    m = s->current;
    if (m)
        m->refs++;
    pthread_mutex_unlock(&s->lock);
    return m;
}

void model_slot_release(struct model_slot *s, struct served_model *m)
{
    struct served_model *dead;

    if (!m)
        return;
    pthread_mutex_lock(&s->lock);
    dead = unref_locked(m);
    pthread_mutex_unlock(&s->lock);
    if (dead)
        served_model_free(dead);
}

int64_t served_model_version(const struct served_model *m)
{
    return m->version;
}

/* Copies the borrowed strings of r into out, so they survive the next
 * event scored by the same learner, and the learner itself. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
static int own_strings(struct served_prediction *out)
{
    size_t offset[CFG_MAX_PREDICTION_FIELDS], i;
    struct online_result *r = &out->r;

    if (r->event_id) {
        snprintf(out->event_id, sizeof(out->event_id), "%s", r->event_id);
        r->event_id = out->event_id;
    }
    if (r->label_text) {
        snprintf(out->label_text, sizeof(out->label_text), "%s",
                 r->label_text);
        r->label_text = out->label_text;
    }

    assert(r->carried_count <= CFG_MAX_PREDICTION_FIELDS);
    for (i = 0; i < r->carried_count; i++) {
        offset[i] = (size_t)-1;
        if (!r->carried[i])
            continue;
        offset[i] = out->carried.len;
        if (buf_append(&out->carried, r->carried[i],
                       strlen(r->carried[i]) + 1) != 0)
            return RIFFLE_ERR_NOMEM;
    }
    /* Pointers only now: appending may have moved the buffer. */
    for (i = 0; i < r->carried_count; i++)
        r->carried[i] = offset[i] == (size_t)-1
                            ? NULL
                            : out->carried.data + offset[i];
    return 0;
}

int served_model_score(struct served_model *m, struct event *ev,
                       struct served_prediction *out)
{
    int err;

    memset(&out->carried, 0, sizeof(out->carried));
    pthread_mutex_lock(&m->scoring);
    err = online_score_event(m->ol, ev, &out->r);
    /* Cleaning refuses before the model is reached, leaving version 0;
     * the answer names the model being served all the same. */
    if (!err && out->r.dead_letter)
        out->r.model_version = (uint64_t)m->version;
    if (!err)
        err = own_strings(out);
    pthread_mutex_unlock(&m->scoring);
    return err;
}

void served_prediction_free(struct served_prediction *p)
{
    if (p)
        buf_free(&p->carried);
}
