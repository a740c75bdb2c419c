/*
 * tests/unit/test_huge_pages.c - reading the kernel's free huge-page-sized
 * blocks from /proc/buddyinfo text (common/huge_pages.c), the guard that
 * keeps the model's table from waiting on memory compaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/huge_pages.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* A buddyinfo of this machine's kind: orders 0 to 10 of 4 KiB pages. */
static const char buddyinfo_x86[] =
    "Node 0, zone      DMA      0      0      0      0      0      0      0"
    "      0      1      1      3 \n"
    "Node 0, zone    DMA32      2      4      2      2      1      2      0"
    "      3      3      1    753 \n"
    "Node 0, zone   Normal   4086 120870  89885  38630  12027   3732   1095"
    "    252     60      3     19 \n";

static void test_huge_pages_counts_blocks_of_order_nine_and_up(void **state)
{
    (void)state;

    /* order 9 (2 MiB) counts once, order 10 (4 MiB) twice:
     * DMA 1 + 3 * 2, DMA32 1 + 753 * 2, Normal 3 + 19 * 2 */
    assert_int_equal(huge_pages_free_in(buddyinfo_x86, 4 * KIB, 2 * MIB),
                     7 + 1507 + 41);

    /* as 4 MiB blocks, only order 10 counts */
    assert_int_equal(huge_pages_free_in(buddyinfo_x86, 4 * KIB, 4 * MIB),
                     3 + 753 + 19);
}

static void test_huge_pages_larger_base_pages(void **state)
{
    /* 64 KiB pages (some arm64 kernels): order 5 is already 2 MiB */
    static const char text[] =
        "Node 0, zone Normal 9 9 9 9 9 2 1 0 0 0 0 0 0 0\n";

    (void)state;
    assert_int_equal(huge_pages_free_in(text, 64 * KIB, 2 * MIB), 2 + 2);
}

static void test_huge_pages_text_that_does_not_read(void **state)
{
    (void)state;

    assert_int_equal(huge_pages_free_in("", 4 * KIB, 2 * MIB), 0);
    assert_int_equal(huge_pages_free_in("garbage 1 2 3\n\n", 4 * KIB,
                                        2 * MIB),
                     0);
    /* a zone line cut short counts what it has: nothing past order 8 */
    assert_int_equal(huge_pages_free_in("Node 0, zone Normal 1 2 3 4 5 6 7"
                                        " 8 9",
                                        4 * KIB, 2 * MIB),
                     0);
    /* a count that is not a number ends the line's counts there */
    assert_int_equal(huge_pages_free_in("Node 0, zone Normal 0 0 0 0 0 0 0"
                                        " 0 0 5 x 7\n",
                                        4 * KIB, 2 * MIB),
                     0 + 5);
    /* no page size, or a huge page smaller than a page */
    assert_int_equal(huge_pages_free_in(buddyinfo_x86, 0, 2 * MIB), 0);
    assert_int_equal(huge_pages_free_in(buddyinfo_x86, 4 * MIB, 2 * MIB),
                     0);
}

static void test_huge_pages_asks_only_for_what_is_free(void **state)
{
    (void)state;

    /* no machine holds 2^40 bytes of free 2 MiB blocks twice over */
    assert_int_equal(huge_pages_worth_asking((size_t)1 << 40), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_pages_counts_blocks_of_order_nine_and_up),
        cmocka_unit_test(test_huge_pages_larger_base_pages),
        cmocka_unit_test(test_huge_pages_text_that_does_not_read),
        cmocka_unit_test(test_huge_pages_asks_only_for_what_is_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
