/*
 * tests/unit/test_topk.c - the bounded most-frequent-category summary of
 * cleaning/topk.c: exact while categories fit its slots, the true mode
 * under a stream of many rare categories, ties, over-long values.
 * No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cleaning/topk.h"
#include "tests/unit/testutil.h"

static void add(struct topk *t, const char *s)
{
    topk_add(t, s, strlen(s));
}

static void test_topk_empty_has_no_mode(void **state)
{
    struct topk *t;
    uint64_t count = 99;

    (void)state;
    assert_int_equal(topk_new(&t), 0);
    assert_null(topk_mode(t, &count));
    assert_int_equal(count, 0);
    topk_destroy(t);
    topk_destroy(NULL);
}

static void test_topk_exact_with_few_categories(void **state)
{
    struct topk *t;
    uint64_t count;

    (void)state;
    assert_int_equal(topk_new(&t), 0);
    add(t, "Private");
    add(t, "State-gov");
    add(t, "Private");
    add(t, "Self-emp");
    assert_string_equal(topk_mode(t, &count), "Private");
    assert_int_equal(count, 2);
    topk_destroy(t);
}

/* Equal counts: the category that got there first wins. */
static void test_topk_tie_goes_to_first(void **state)
{
    struct topk *t;

    (void)state;
    assert_int_equal(topk_new(&t), 0);
    add(t, "b");
    add(t, "a");
    add(t, "a");
    add(t, "b");
    assert_string_equal(topk_mode(t, NULL), "a");
    topk_destroy(t);
}

/* 5,000 distinct rare categories, one seen every 10th value: far more
 * categories than slots, and the mode is still found. */
static void test_topk_finds_mode_among_many(void **state)
{
    struct topk *t;
    char name[32];
    uint64_t count;
    int i;

    (void)state;
    assert_int_equal(topk_new(&t), 0);
    for (i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "rare-%d", i);
        add(t, name);
        if (i % 9 == 0)
            add(t, "common");
    }
    assert_string_equal(topk_mode(t, &count), "common");
    /* over-estimated by at most n / TOPK_SLOTS */
    assert_true(count >= 556);
    assert_true(count <= 556 + (5000 + 556) / TOPK_SLOTS);
    topk_destroy(t);
}

/* A value of TOPK_VALUE_MAX - 1 bytes is kept; one byte more is not. */
static void test_topk_length_boundary(void **state)
{
    char longest[TOPK_VALUE_MAX], too_long[TOPK_VALUE_MAX + 1];
    struct topk *t;

    (void)state;
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    memset(too_long, 'y', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';

    assert_int_equal(topk_new(&t), 0);
    add(t, too_long);
    add(t, too_long);
    assert_null(topk_mode(t, NULL));
    add(t, longest);
    assert_string_equal(topk_mode(t, NULL), longest);
    topk_destroy(t);
}

/* Bytes, not C strings: "a" and "a\0b" differ. */
static void test_topk_compares_lengths(void **state)
{
    struct topk *t;

    (void)state;
    assert_int_equal(topk_new(&t), 0);
    topk_add(t, "ab", 1);
    topk_add(t, "ab", 2);
    topk_add(t, "ab", 2);
    assert_string_equal(topk_mode(t, NULL), "ab");
    topk_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_empty_has_no_mode),
        cmocka_unit_test(test_topk_exact_with_few_categories),
        cmocka_unit_test(test_topk_tie_goes_to_first),
        cmocka_unit_test(test_topk_finds_mode_among_many),
        cmocka_unit_test(test_topk_length_boundary),
        cmocka_unit_test(test_topk_compares_lengths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
