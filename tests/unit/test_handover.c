/*
 * tests/unit/test_handover.c - partition claims in offset metadata and
 * where a new owner starts (consumers/handover.c). Each scenario of the
 * argument in docs/SCALING.md, "Rebalances", is one test. No broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "consumers/handover.h"

static struct handover_claim claim_of(const char *owner, int64_t from,
                                      int64_t snap)
{
    struct handover_claim c;

    memset(&c, 0, sizeof(c));
    snprintf(c.owner, sizeof(c.owner), "%s", owner);
    c.from = from;
    c.snap = snap;
    return c;
}

static void test_handover_round_trip(void **state)
{
    struct handover_claim in = claim_of("elec2@b", 1200, -1), out;
    char text[HANDOVER_METADATA_MAX];
    int n = handover_format(&in, text, sizeof(text));

    (void)state;
    assert_true(n > 0);
    assert_string_equal(text, "v1 1200 -1 elec2@b");
    assert_int_equal(handover_parse(text, (size_t)n, &out), 0);
    assert_string_equal(out.owner, "elec2@b");
    assert_int_equal(out.from, 1200);
    assert_int_equal(out.snap, -1);
}

static void test_handover_parse_refuses_other_metadata(void **state)
{
    static const char *bad[] = {"", "v2 1 2 a", "v1 x 2 a", "v1 1 2",
                                "v1 1 2 ", "v1 -5 2 a", "v1 1 -3 a",
                                "hello"};
    struct handover_claim out;
    size_t i;

    (void)state;
    assert_int_equal(handover_parse(NULL, 0, &out), -1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(handover_parse(bad[i], strlen(bad[i]), &out), -1);
        assert_string_equal(out.owner, "");
    }
}

/* A single learner's restart with an older riffle's commit: as before. */
static void test_handover_unclaimed_starts_from_own_snapshot(void **state)
{
    struct handover_start hs;

    (void)state;
    handover_decide("m", NULL, 900, 400, &hs);
    assert_int_equal(hs.start, 400);
    assert_int_equal(hs.replay_until, 900);
    assert_int_equal(hs.from, 400);
    assert_int_equal(hs.inherits, 0);
    handover_decide("m", NULL, -1001, -1, &hs); /* never committed */
    assert_int_equal(hs.start, -1);
    assert_int_equal(hs.replay_until, -1);
    assert_int_equal(hs.from, 0);
}

/* A restart of the owner: its snapshot, then relearn up to the commit. */
static void test_handover_own_claim_relearns_from_snapshot(void **state)
{
    struct handover_claim c = claim_of("m@a", 100, 400);
    struct handover_start hs;

    (void)state;
    handover_decide("m@a", &c, 900, 400, &hs);
    assert_int_equal(hs.start, 400);
    assert_int_equal(hs.replay_until, 900);
    assert_int_equal(hs.from, 100);
    assert_int_equal(hs.relearn_gap, 0);
    assert_int_equal(hs.inherits, 0); /* its own state is the partition's */
}

/* An instance took the partition over at 100 and committed up to 900
 * with no snapshot covering it, then restarted from an older snapshot
 * (or none): its own state stops short of 100, so the partition's state
 * at 100 must come from the record the previous owner left. */
static void test_handover_own_claim_below_from_inherits(void **state)
{
    struct handover_claim c = claim_of("m@a", 100, -1);
    struct handover_start hs;

    (void)state;
    handover_decide("m@a", &c, 900, -1, &hs);
    assert_int_equal(hs.start, 100);
    assert_int_equal(hs.inherits, 1);
    handover_decide("m@a", &c, 900, 100, &hs);
    assert_int_equal(hs.inherits, 0);
}

/* The snapshot holds the partition from an earlier ownership (up to 50)
 * that ended before this one began at 100: [50, 100) was learned by
 * another instance and must not be learned again. */
static void test_handover_own_claim_skips_others_span(void **state)
{
    struct handover_claim c = claim_of("m@a", 100, -1);
    struct handover_start hs;

    (void)state;
    handover_decide("m@a", &c, 900, 50, &hs);
    assert_int_equal(hs.start, 100);
    assert_int_equal(hs.replay_until, 900);
}

/* Graceful hand-over: the old owner's snapshot covers its commit, so the
 * new owner relearns nothing, whatever its own stale position says. */
static void test_handover_graceful_takes_over_at_commit(void **state)
{
    struct handover_claim c = claim_of("m@a", 0, 900);
    struct handover_start hs;

    (void)state;
    handover_decide("m@b", &c, 900, 300, &hs);
    assert_int_equal(hs.start, 900);
    assert_int_equal(hs.from, 900);
    assert_int_equal(hs.relearn_gap, 0);
    assert_int_equal(hs.inherits, 1);
}

/* The owner crashed with its snapshot at 600 and outputs committed up to
 * 900: the new owner relearns [600, 900) without publishing. */
static void test_handover_crash_relearns_the_lost_gap(void **state)
{
    struct handover_claim c = claim_of("m@a", 200, 600);
    struct handover_start hs;

    (void)state;
    handover_decide("m@b", &c, 900, -1, &hs);
    assert_int_equal(hs.start, 600);
    assert_int_equal(hs.replay_until, 900);
    assert_int_equal(hs.from, 600);
    assert_int_equal(hs.relearn_gap, 1);
}

/* The crashed owner's snapshot predates its ownership (it covers 100 of
 * an earlier one): everything from the ownership's start was lost. */
static void test_handover_crash_before_any_snapshot(void **state)
{
    struct handover_claim c = claim_of("m@a", 200, 100);
    struct handover_start hs;

    (void)state;
    handover_decide("m@b", &c, 900, 150, &hs);
    assert_int_equal(hs.start, 200);
    assert_int_equal(hs.from, 200);
    assert_int_equal(hs.relearn_gap, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handover_round_trip),
        cmocka_unit_test(test_handover_parse_refuses_other_metadata),
        cmocka_unit_test(test_handover_unclaimed_starts_from_own_snapshot),
        cmocka_unit_test(test_handover_own_claim_relearns_from_snapshot),
        cmocka_unit_test(test_handover_own_claim_skips_others_span),
        cmocka_unit_test(test_handover_own_claim_below_from_inherits),
        cmocka_unit_test(test_handover_graceful_takes_over_at_commit),
        cmocka_unit_test(test_handover_crash_relearns_the_lost_gap),
        cmocka_unit_test(test_handover_crash_before_any_snapshot),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
