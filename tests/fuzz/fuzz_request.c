/*
 * tests/fuzz/fuzz_request.c - libFuzzer harness for the HTTP scoring
 * endpoint's request bodies, the one input riffle takes from any client
 * on the network.
 *
 * Each input is one request body. It goes the way `riffle serve
 * --http-port` takes it (serving/http_api.c): request_json_to_event()
 * against the Elec2 and Adult input schemas, then, for an event, scoring
 * by a served model of each pipeline (cleaning, pseudonymizing, features,
 * prediction) and the JSON answer; for a refusal, the JSON error that
 * carries its reason. Findings, besides a sanitizer's: an answer or an
 * error that is not one JSON object, a refusal without a reason or with
 * a byte that is not printable ASCII (its words are riffle's and the
 * schema's: a byte of the body's own there is a value echoed back), a
 * parse that fails for a reason the endpoint does not map to a status,
 * and a prediction that is not a probability.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "learner/online.h"
#include "schemas/event.h"
#include "serving/model_slot.h"
#include "serving/request_json.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_PIPELINES 2
#define FUZZ_MODEL_VERSION 7

struct served_pipeline {
    struct fuzz_pipeline p;
    struct model_slot *slot;
};

static struct served_pipeline served[FUZZ_PIPELINES];

/* A slot serving a fresh learner of p's pipeline, as a replica serves the
 * snapshot it restored. */
static void serve_pipeline(struct served_pipeline *s, const char *cfg_path)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct online_learner *ol = NULL;

    fuzz_pipeline_load(&s->p, cfg_path);
    if (online_new(&s->p.cfg, s->p.input, &ol, errstr, sizeof(errstr)) != 0 ||
        model_slot_new(&s->slot) != 0 ||
        model_slot_install(s->slot, ol, FUZZ_MODEL_VERSION) != 0) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_chdir_source();
    serve_pipeline(&served[0], "config/elec2.cfg");
    serve_pipeline(&served[1], "config/adult.cfg");
    return 0;
}

/* Aborts unless text (len bytes) is exactly one JSON object. */
static void require_json_object(const char *text, size_t len)
{
    json_error_t error;
    json_t *root = json_loadb(text, len, 0, &error);

    if (!root || !json_is_object(root))
        abort();
    json_decref(root);
}

/* The endpoint's answer to a refused body: {"error": why}. */
static void refuse(const char *why)
{
    struct buf out = {0};
    const char *c;

    if (why[0] == '\0')
        abort(); /* a refusal the client cannot act on */
    for (c = why; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            abort();
    if (request_json_error(why, &out) != 0)
        abort();
    require_json_object(out.data, out.len);
    buf_free(&out);
}

static void score(struct served_pipeline *s, struct event *ev)
{
    struct served_model *m = model_slot_acquire(s->slot);
    struct served_prediction pred;
    struct buf out = {0};

    if (!m)
        abort();
    if (served_model_score(m, ev, &pred) != 0)
        abort(); /* only NOMEM may fail, and 2^10 weights cannot */
    model_slot_release(s->slot, m);
    if (!pred.r.dead_letter &&
        !(pred.r.probability >= 0.0 && pred.r.probability <= 1.0))
        abort();
    if (pred.r.dead_letter && !pred.r.verdict.reason)
        abort();

    if (request_json_answer(&s->p.cfg, &pred, &out) != 0)
        abort();
    require_json_object(out.data, out.len);
    buf_free(&out);
    served_prediction_free(&pred);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[FUZZ_ERRSTR_SIZE];
    struct event ev;
    size_t i;
    int err;

    for (i = 0; i < FUZZ_PIPELINES; i++) {
        event_init(&ev);
        why[0] = '\0';
        err = request_json_to_event(served[i].p.input, (const char *)data,
                                    size, &ev, why, sizeof(why));
        if (err == 0)
            score(&served[i], &ev);
        else if (err == RIFFLE_ERR_PARSE || err == RIFFLE_ERR_INVALID)
            refuse(why);
        else
            abort(); /* NOMEM is the only other answer, and cannot be */
        event_free(&ev);
    }
    return 0;
}
