/*
 * tests/unit/test_cfg_literals.c - the scan of config/cfg_literals.c for
 * integers that libconfig 1.5 would wrap to 32 bits without an error.
 *
 * Each case is a configuration text; the wrapped values the messages
 * give were read back from libconfig itself (config_setting_get_int of
 * the same literal). No broker, no file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "config/cfg_literals.h"
#include "tests/unit/testutil.h"

static char errstr[512];

static int check(const char *text)
{
    errstr[0] = '\0';
    return cfg_literals_check("t.cfg", text, strlen(text), errstr,
                              sizeof(errstr));
}

static void expect_wrapped(const char *text, const char *prefix,
                           const char *read_as)
{
    assert_int_equal(check(text), RIFFLE_ERR_CFG);
    assert_contains(errstr, prefix);
    assert_contains(errstr, "does not fit in 32 bits");
    assert_contains(errstr, read_as);
}

static void test_literals_positive_wrap(void **state)
{
    (void)state;
    expect_wrapped("a = 4294967297;", "t.cfg:1: a: 4294967297 ",
                   "read it as 1 ");
    assert_contains(errstr, "write 4294967297L");
    expect_wrapped("b = 2147483648;", "t.cfg:1: b: 2147483648 ",
                   "read it as -2147483648 ");
}

static void test_literals_negative_wrap(void **state)
{
    (void)state;
    expect_wrapped("x = {\n  min = -3000000000;\n};",
                   "t.cfg:2: min: -3000000000 ", "read it as 1294967296 ");
    expect_wrapped("y = -2147483649;", "t.cfg:1: y: -2147483649 ",
                   "read it as 2147483647 ");
}

static void test_literals_hex_and_huge(void **state)
{
    (void)state;
    expect_wrapped("h = 0x1FFFFFFFF;", "t.cfg:1: h: 0x1FFFFFFFF ",
                   "read it as -1 ");
    expect_wrapped("h = 0x80000000;", "t.cfg:1: h: 0x80000000 ",
                   "read it as -2147483648 ");
    expect_wrapped("f = 99999999999999999999;",
                   "t.cfg:1: f: 99999999999999999999 ", "read it as -1 ");
}

static void test_literals_in_lists_name_the_list(void **state)
{
    (void)state;
    expect_wrapped("l = [1, 2, 4294967297];", "t.cfg:1: l: ", "as 1 ");
    expect_wrapped("4294967297", "t.cfg:1: ?: ", "as 1 ");
}

static void test_literals_that_fit_pass(void **state)
{
    (void)state;
    assert_int_equal(check("a = 2147483647; b = -2147483648; c = 0;"), 0);
    assert_int_equal(check("c = 0x7FFFFFFF; d = 0x0000000012;"), 0);
    assert_int_equal(check("e = 000000000002147483647;"), 0);
    assert_int_equal(check("a = 3000000000L; b = 3000000000LL;"), 0);
    assert_int_equal(check("a = 3000000000.0; b = 1e12; c = 4294967297e0;"),
                     0);
    assert_int_equal(check(""), 0);
}

static void test_literals_strings_comments_names_skipped(void **state)
{
    (void)state;
    assert_int_equal(check("s = \"4294967297\"; # 4294967297\n"
                           "// 4294967297\n/* 4294967297\n 4294967297 */\n"
                           "t = \"a \\\" 4294967297\";\n"
                           "n4294967297 = 1; x-4294967297 = true;"),
                     0);
}

static void test_literals_lines_counted_through_comments(void **state)
{
    (void)state;
    expect_wrapped("/* a\n b */\ns = \"x\\\"y\";\n# c\nv = 4294967297;",
                   "t.cfg:5: v: ", "as 1 ");
    /* an unterminated comment or string ends the scan quietly */
    assert_int_equal(check("/* 4294967297"), 0);
    assert_int_equal(check("s = \"4294967297"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_positive_wrap),
        cmocka_unit_test(test_literals_negative_wrap),
        cmocka_unit_test(test_literals_hex_and_huge),
        cmocka_unit_test(test_literals_in_lists_name_the_list),
        cmocka_unit_test(test_literals_that_fit_pass),
        cmocka_unit_test(test_literals_strings_comments_names_skipped),
        cmocka_unit_test(test_literals_lines_counted_through_comments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
