/*
 * tests/unit/test_offset_range.c - where a partition is read from when
 * the snapshot's offset no longer fits it (consumers/offset_range.c):
 * each case from the offset and the partition's watermarks. No broker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "consumers/offset_range.h"

static const enum cfg_past_end_action all_actions[] = {
    CFG_PAST_END_STOP, CFG_PAST_END_EARLIEST, CFG_PAST_END_LATEST};

static void test_offset_range_inside_resumes_there(void **state)
{
    /* the start, the middle and the very end are all inside */
    static const int64_t offsets[] = {100, 150, 200};
    struct offset_range_decision d;
    size_t i, a;

    (void)state;
    for (i = 0; i < 3; i++)
        for (a = 0; a < 3; a++) {
            offset_range_decide(offsets[i], 100, 200, all_actions[a], &d);
            assert_int_equal(d.range, OFFSET_RANGE_INSIDE);
            assert_int_equal(d.start, offsets[i]);
            assert_int_equal(d.stop, 0);
            assert_int_equal(d.lost, 0);
        }
}

static void test_offset_range_past_end_stops_by_default(void **state)
{
    struct offset_range_decision d;

    (void)state;
    assert_int_equal(CFG_PAST_END_STOP, 0); /* what a zeroed cfg holds */
    offset_range_decide(5000, 0, 1200, CFG_PAST_END_STOP, &d);
    assert_int_equal(d.range, OFFSET_RANGE_PAST_END);
    assert_int_equal(d.stop, 1);
    assert_int_equal(d.start, -1);
    assert_int_equal(d.lost, 0);
}

static void test_offset_range_past_end_earliest_and_latest(void **state)
{
    struct offset_range_decision d;

    (void)state;
    offset_range_decide(5000, 300, 1200, CFG_PAST_END_EARLIEST, &d);
    assert_int_equal(d.range, OFFSET_RANGE_PAST_END);
    assert_int_equal(d.stop, 0);
    assert_int_equal(d.start, 300);

    offset_range_decide(5000, 300, 1200, CFG_PAST_END_LATEST, &d);
    assert_int_equal(d.range, OFFSET_RANGE_PAST_END);
    assert_int_equal(d.stop, 0);
    assert_int_equal(d.start, 1200);

    /* one past the end is past it; an empty recreated topic too */
    offset_range_decide(1201, 300, 1200, CFG_PAST_END_EARLIEST, &d);
    assert_int_equal(d.range, OFFSET_RANGE_PAST_END);
    assert_int_equal(d.start, 300);
    offset_range_decide(45312, 0, 0, CFG_PAST_END_LATEST, &d);
    assert_int_equal(d.range, OFFSET_RANGE_PAST_END);
    assert_int_equal(d.start, 0);
}

static void test_offset_range_before_start_counts_the_lost(void **state)
{
    struct offset_range_decision d;
    size_t a;

    (void)state;
    /* whatever the action for the other case: the events are gone */
    for (a = 0; a < 3; a++) {
        offset_range_decide(20000, 25000, 45312, all_actions[a], &d);
        assert_int_equal(d.range, OFFSET_RANGE_BEFORE_START);
        assert_int_equal(d.start, 25000);
        assert_int_equal(d.lost, 5000);
        assert_int_equal(d.stop, 0);
    }
    offset_range_decide(0, 1, 1, CFG_PAST_END_STOP, &d);
    assert_int_equal(d.range, OFFSET_RANGE_BEFORE_START);
    assert_int_equal(d.lost, 1);
}

static void test_offset_range_unknown_leaves_the_offset(void **state)
{
    struct offset_range_decision d;

    (void)state;
    offset_range_decide(-1, 0, 100, CFG_PAST_END_STOP, &d); /* none */
    assert_int_equal(d.range, OFFSET_RANGE_UNKNOWN);
    assert_int_equal(d.start, -1);
    assert_int_equal(d.stop, 0);
    offset_range_decide(500, -1, 100, CFG_PAST_END_STOP, &d);
    assert_int_equal(d.range, OFFSET_RANGE_UNKNOWN);
    assert_int_equal(d.start, 500);
    assert_int_equal(d.stop, 0);
    offset_range_decide(500, 10, -1, CFG_PAST_END_STOP, &d);
    assert_int_equal(d.range, OFFSET_RANGE_UNKNOWN);
    assert_int_equal(d.start, 500);
    assert_int_equal(d.stop, 0);
}

static void test_offset_range_action_names(void **state)
{
    (void)state;
    assert_string_equal(offset_range_action_name(CFG_PAST_END_STOP), "stop");
    assert_string_equal(offset_range_action_name(CFG_PAST_END_EARLIEST),
                        "earliest");
    assert_string_equal(offset_range_action_name(CFG_PAST_END_LATEST),
                        "latest");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_range_inside_resumes_there),
        cmocka_unit_test(test_offset_range_past_end_stops_by_default),
        cmocka_unit_test(test_offset_range_past_end_earliest_and_latest),
        cmocka_unit_test(test_offset_range_before_start_counts_the_lost),
        cmocka_unit_test(test_offset_range_unknown_leaves_the_offset),
        cmocka_unit_test(test_offset_range_action_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
