/*
 * tests/unit/test_dedup.c - the windowed duplicate filter of
 * cleaning/dedup.c, against a naive reference.
 *
 * Window boundaries (an id exactly window distinct ids old is still
 * found, one more is forgotten), window 1, the window cap, duplicates
 * not extending the window, and a long random stream compared id by id
 * with a reference that keeps the window in a plain array, which also
 * exercises backward-shift deletion under heavy churn. No broker;
 * single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleaning/dedup.h"
#include "common/err.h"
#include "tests/unit/testutil.h"

static int check(struct dedup *d, const char *id)
{
    return dedup_check(d, id, strlen(id));
}

static void check_num(struct dedup *d, unsigned n, int want)
{
    char id[32];

    snprintf(id, sizeof(id), "event-%u", n);
    assert_int_equal(check(d, id), want);
}

static void test_dedup_rejects_bad_windows(void **state)
{
    struct dedup *d = NULL;

    (void)state;
    assert_int_equal(dedup_new(0, &d), RIFFLE_ERR_INVALID);
    assert_int_equal(dedup_new((size_t)DEDUP_MAX_WINDOW + 1, &d),
                     RIFFLE_ERR_INVALID);
    assert_null(d);
    dedup_destroy(NULL);
}

static void test_dedup_window_boundary(void **state)
{
    struct dedup *d;
    unsigned i;

    (void)state;
    assert_int_equal(dedup_new(3, &d), 0);
    check_num(d, 1, 0);
    check_num(d, 1, 1);       /* immediate repeat */
    check_num(d, 2, 0);
    check_num(d, 3, 0);
    check_num(d, 1, 1);       /* exactly 3 distinct ids ago: remembered */
    check_num(d, 4, 0);       /* forgets 1 */
    check_num(d, 1, 0);       /* so 1 is new again, and forgets 2 */
    check_num(d, 2, 0);
    for (i = 0; i < 10; i++)
        check_num(d, 2, 1);   /* repeats do not push anything out */
    check_num(d, 4, 1);
    dedup_destroy(d);
}

static void test_dedup_window_of_one(void **state)
{
    struct dedup *d;

    (void)state;
    assert_int_equal(dedup_new(1, &d), 0);
    assert_int_equal(check(d, "a"), 0);
    assert_int_equal(check(d, "a"), 1);
    assert_int_equal(check(d, "b"), 0);
    assert_int_equal(check(d, "a"), 0);
    assert_int_equal(check(d, "a"), 1);
    dedup_destroy(d);
}

/* Ids differing only past a NUL or in length are different ids. */
static void test_dedup_uses_all_bytes(void **state)
{
    struct dedup *d;

    (void)state;
    assert_int_equal(dedup_new(8, &d), 0);
    assert_int_equal(dedup_check(d, "a\0b", 3), 0);
    assert_int_equal(dedup_check(d, "a\0c", 3), 0);
    assert_int_equal(dedup_check(d, "a", 1), 0);
    assert_int_equal(dedup_check(d, "", 0), 0);
    assert_int_equal(dedup_check(d, "a\0b", 3), 1);
    assert_int_equal(dedup_check(d, "", 0), 1);
    assert_true(dedup_fingerprint("", 0) != 0);
    dedup_destroy(d);
}

/* Reference: the last `window` distinct ids in an array. */
static int naive_check(unsigned *win, size_t window, size_t *filled,
                       size_t *head, unsigned id)
{
    size_t i;

    for (i = 0; i < *filled; i++)
        if (win[i] == id)
            return 1;
    if (*filled < window) {
        win[(*filled)++] = id;
    } else {
        win[*head] = id;
        *head = (*head + 1) % window;
    }
    return 0;
}

static void test_dedup_matches_reference(void **state)
{
    enum { WINDOW = 97, STEPS = 60000, ID_SPACE = 300 };
    unsigned win[WINDOW];
    size_t filled = 0, head = 0;
    uint64_t rng = 7;
    struct dedup *d;
    unsigned dups = 0;
    int i;

    (void)state;
    assert_int_equal(dedup_new(WINDOW, &d), 0);
    for (i = 0; i < STEPS; i++) {
        unsigned id = (unsigned)(rng_next(&rng) % ID_SPACE);
        int want = naive_check(win, WINDOW, &filled, &head, id);
        char text[32];

        snprintf(text, sizeof(text), "id-%u", id);
        if (check(d, text) != want)
            fail_msg("step %d, id %u: filter and reference disagree", i, id);
        dups += (unsigned)want;
    }
    /* about a third are duplicates: both answers were exercised */
    assert_true(dups > STEPS / 5 && dups < STEPS / 2);
    dedup_destroy(d);
}

/* The split halves: contains() remembers nothing, insert() once. */
static void test_dedup_contains_and_insert(void **state)
{
    struct dedup *d;

    (void)state;
    assert_int_equal(dedup_new(2, &d), 0);
    assert_int_equal(dedup_contains(d, "a", 1), 0);
    assert_int_equal(dedup_contains(d, "a", 1), 0);
    dedup_insert(d, "a", 1);
    dedup_insert(d, "a", 1); /* already there: takes no second place */
    assert_int_equal(dedup_contains(d, "a", 1), 1);
    dedup_insert(d, "b", 1);
    assert_int_equal(dedup_contains(d, "a", 1), 1); /* window 2: a, b */
    dedup_insert(d, "c", 1);
    assert_int_equal(dedup_contains(d, "a", 1), 0);
    assert_int_equal(dedup_contains(d, "b", 1), 1);
    dedup_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_rejects_bad_windows),
        cmocka_unit_test(test_dedup_window_boundary),
        cmocka_unit_test(test_dedup_window_of_one),
        cmocka_unit_test(test_dedup_uses_all_bytes),
        cmocka_unit_test(test_dedup_matches_reference),
        cmocka_unit_test(test_dedup_contains_and_insert),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
