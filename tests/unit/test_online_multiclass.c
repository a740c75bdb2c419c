/*
 * tests/unit/test_online_multiclass.c - a multiclass event is scored by
 * the model that has not seen it (learner/online.c).
 *
 * The classes share the model's implicit bias, so a class learned before
 * the next is scored would move that score by the event's own label. The
 * prediction of every learned event must equal the one riffle score gives
 * just before it, and the empty model's must be 1/K for every class. No
 * broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "learner/online.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define EVENTS 200

static const char mc_schema[] =
    "{\"type\": \"record\", \"name\": \"M\", \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"x\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"c\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"y\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char mc_cfg[] =
    "name = \"mc\";\n"
    "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
    "           dead_letters = \"d\"; };\n"
    "source = { schema = \"unused.avsc\"; };\n"
    "fields = (\n"
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"x\"; kind = \"numeric\"; },\n"
    "  { name = \"c\"; kind = \"categorical\"; },\n"
    "  { name = \"y\"; kind = \"label\"; classes = [\"a\", \"b\", \"c\"]; }\n"
    ");\n"
    "learner = { model_name = \"mc\"; bits = 12; };\n";

static const char *const classes[] = {"a", "b", "c"};

struct fixture {
    struct online_fixture on;
};
_Static_assert(offsetof(struct fixture, on) == 0, "on first");

static int setup(void **state)
{
    return online_fixture_setup(state, sizeof(struct fixture), "mc",
                                mc_schema, mc_cfg);
}

/* Fills the fixture's event: event i of a stream where the class follows
 * x and the category, with some noise. */
static void make_event(struct fixture *fx, int i, uint64_t *rng)
{
    char id[32], cat[8];
    double x = rng_unit(rng) * 3.0;
    int k = (int)x;

    if (rng_unit(rng) < 0.2)
        k = (int)(rng_unit(rng) * 3.0);
    snprintf(id, sizeof(id), "e%d", i);
    snprintf(cat, sizeof(cat), "t%d", (int)(rng_unit(rng) * 4.0));
    event_reset(&fx->on.ev, schema_field_count(fx->on.schema));
    event_put_text(&fx->on.ev, fx->on.schema, "event_id", id);
    event_set_number(&fx->on.ev, schema_col(fx->on.schema, "x"), x);
    event_put_text(&fx->on.ev, fx->on.schema, "c", cat);
    event_put_text(&fx->on.ev, fx->on.schema, "y", classes[k]);
}

static void test_multiclass_scored_before_learning(void **state)
{
    struct fixture *fx = *state;
    struct online_result scored, learned;
    uint64_t rng = 7, again;
    int i;

    for (i = 0; i < EVENTS; i++) {
        again = rng;
        make_event(fx, i, &rng);
        assert_int_equal(online_score_event(fx->on.ol, &fx->on.ev, &scored), 0);
        make_event(fx, i, &again);
        assert_int_equal(online_process_event(fx->on.ol, &fx->on.ev, &learned), 0);

        if (i == 0)
            assert_true(learned.probability == 1.0 / 3.0);
        if (learned.probability != scored.probability ||
            learned.predicted_class != scored.predicted_class)
            fail_msg("event %d: learned with probability %.17g of class %d, "
                     "scored before with %.17g of class %d", i,
                     learned.probability, learned.predicted_class,
                     scored.probability, scored.predicted_class);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_multiclass_scored_before_learning,
                                        setup, online_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
