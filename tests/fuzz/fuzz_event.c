/*
 * tests/fuzz/fuzz_event.c - libFuzzer harness for the Avro decoder of
 * input events and the learner behind it.
 *
 * Each input is one Kafka message value. It is decoded with
 * schema_decode_event() against the Elec2 and Adult input schemas, then
 * handed whole to online_process() of a fresh learner of each pipeline:
 * decoding, cleaning, pseudonymizing, building features, predicting and
 * learning, as `riffle learn` does with a message. A message must either
 * give a prediction or a dead letter; anything else is a finding, and so
 * is a prediction that is not a probability.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "learner/online.h"
#include "schemas/event.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_PIPELINES 2

static struct fuzz_pipeline pipelines[FUZZ_PIPELINES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_chdir_source();
    fuzz_pipeline_load(&pipelines[0], "config/elec2.cfg");
    fuzz_pipeline_load(&pipelines[1], "config/adult.cfg");
    return 0;
}

static void decode_only(const struct fuzz_pipeline *p, const uint8_t *data,
                        size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct event ev;
    size_t i;

    event_init(&ev);
    if (schema_decode_event(p->input, data, size, &ev, errstr,
                            sizeof(errstr)) == 0) {
        for (i = 0; i < ev.field_count; i++) {
            const char *s = event_string(&ev, i);

            if (s && strlen(s) != ev.values[i].str_len)
                abort(); /* a NUL inside a string got through */
        }
    }
    event_free(&ev);
}

static void learn_one(const struct fuzz_pipeline *p, const uint8_t *data,
                      size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE];
    struct online_learner *ol = NULL;
    struct online_result res;

    if (online_new(&p->cfg, p->input, &ol, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
    if (online_process(ol, data, size, &res) != 0)
        abort(); /* only NOMEM may fail, and 2^10 weights cannot */
    if (!res.dead_letter &&
        !(res.probability >= 0.0 && res.probability <= 1.0))
        abort();
    online_destroy(ol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i;

    for (i = 0; i < FUZZ_PIPELINES; i++) {
        decode_only(&pipelines[i], data, size);
        learn_one(&pipelines[i], data, size);
    }
    return 0;
}
