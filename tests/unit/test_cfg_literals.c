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

#define NAME_SIZE 64 /* as the loader's CFG_NAME_MAX: keys are short */

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

/* An @include outside strings and comments is found at its line. */
static void test_literals_include_found(void **state)
{
    const char *text = "# @include \"a\"\ns = \"@include\";\n/* @include\n"
                       " */\n  @include \"b.cfg\"\n";

    (void)state;
    assert_int_equal(cfg_literals_find_include(text, strlen(text)), 5);
    text = "a = 1;\n# @include \"x\"\ns = \"@include \\\"y\\\"\";\n";
    assert_int_equal(cfg_literals_find_include(text, strlen(text)), 0);
    assert_int_equal(cfg_literals_find_include("@include", 8), 1);
    assert_int_equal(cfg_literals_find_include("@includ", 7), 0);
}

static int duplicate(const char *text, char *name, int *line, int *first)
{
    return cfg_literals_find_duplicate(text, strlen(text), name,
                                       NAME_SIZE, line, first);
}

/* A key given twice in one group is named with both lines; the same key
 * in another group, in each group of a list, or after its group closed,
 * is no repeat. */
static void test_literals_duplicate_named(void **state)
{
    char name[NAME_SIZE];
    int line = 0, first = 0;

    (void)state;
    assert_int_equal(duplicate("a = 1;\ng = { a = 2; b = 3; };\nl = ({ b = 1;"
                               " c = 2; }, { b = 2; c = 3; });\n"
                               "# a = 1;\ns = \"a = 1;\";\n",
                               name, &line, &first), 0);
    assert_int_equal(duplicate("a = 1;\ng = {\n  b = 2;\n  c = { b = 1; };"
                               "\n  b = 3;\n};\n", name, &line, &first), 1);
    assert_string_equal(name, "b");
    assert_int_equal(line, 5);
    assert_int_equal(first, 3);
    assert_int_equal(duplicate("x = 1; y = 2;\nz : 3;\ny = 4;\n", name,
                               &line, &first), 1);
    assert_string_equal(name, "y");
    assert_int_equal(line, 3);
    assert_int_equal(first, 1);
    assert_int_equal(duplicate("l = ({ k = 1; k = 2; });", name, &line,
                               &first), 1);
    assert_string_equal(name, "k");
}

/* More keys open at once than the scan keeps: it names none rather than
 * a wrong one. */
static void test_literals_duplicate_past_the_cap(void **state)
{
    static char text[(CFG_LITERALS_MAX_OPEN_KEYS + 2) * 16];
    char name[NAME_SIZE];
    size_t len = 0, k;
    int line, first;

    (void)state;
    for (k = 0; k <= CFG_LITERALS_MAX_OPEN_KEYS; k++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "k%zu = 1;\n", k);
    snprintf(text + len, sizeof(text) - len, "k0 = 2;\n");
    assert_int_equal(duplicate(text, name, &line, &first), 0);
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
        cmocka_unit_test(test_literals_include_found),
        cmocka_unit_test(test_literals_duplicate_named),
        cmocka_unit_test(test_literals_duplicate_past_the_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
