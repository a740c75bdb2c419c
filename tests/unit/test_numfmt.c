/*
 * tests/unit/test_numfmt.c - shortest exact number text (common/numfmt.c).
 */
#include "tests/unit/testutil.h"

#include "common/numfmt.h"

static void expect_text(double x, const char *want)
{
    char out[NUMFMT_MAX];

    assert_string_equal(numfmt_double(x, out, sizeof(out)), want);
}

static void test_numfmt_prints_integers_exactly(void **state)
{
    (void)state;
    expect_text(0.0, "0");
    expect_text(1.0, "1");
    expect_text(7.0, "7");
    expect_text(-1.0, "-1");
    expect_text(-123456789.0, "-123456789");
    expect_text(9007199254740991.0, "9007199254740991");   /* 2^53 - 1 */
    expect_text(-9007199254740991.0, "-9007199254740991");
}

static void test_numfmt_prints_other_numbers_shortest(void **state)
{
    (void)state;
    expect_text(-0.0, "-0");
    expect_text(0.5, "0.5");
    expect_text(0.1, "0.1");
    expect_text(9007199254740992.0, "9007199254740992");   /* 2^53 */
    expect_text(1e300, "1e+300");
    expect_text(-2.5e-8, "-2.5e-08");
}

static void test_numfmt_reads_back_exactly(void **state)
{
    uint64_t rng = 20261204;
    char out[NUMFMT_MAX];
    int i;

    (void)state;
    for (i = 0; i < 10000; i++) {
        double x = (rng_unit(&rng) - 0.5) * pow(10.0, (i % 40) - 20);

        if (i % 3 == 0)
            x = floor(x * 1e6);
        numfmt_double(x, out, sizeof(out));
        assert_true(strtod(out, NULL) == x);
    }
}

/* What numfmt_double() printed before it formatted fixed notation by
 * itself: the shortest of "%.15g", "%.16g" and "%.17g" that reads back. */
static void reference_text(double x, char *out, size_t size)
{
    int digits;

    for (digits = 15; digits < 17; digits++) {
        snprintf(out, size, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return;
    }
    snprintf(out, size, "%.17g", x);
}

static void expect_reference(double x)
{
    char want[NUMFMT_MAX], got[NUMFMT_MAX];

    if (x == floor(x) && fabs(x) < 9007199254740992.0)
        return; /* integers never reach printf (see the test above) */
    reference_text(x, want, sizeof(want));
    numfmt_double(x, got, sizeof(got));
    if (strcmp(want, got) != 0)
        fail_msg("%a: printf gives \"%s\", numfmt_double \"%s\"", x, want,
                 got);
}

/* Byte for byte what printf writes: random doubles from about 10^-12
 * (beyond the hand-written range) to 10^15, short decimals, the powers
 * of ten and their neighbours, and halves of large integers, whose
 * digits end in an exact tie. */
static void test_numfmt_matches_printf(void **state)
{
    uint64_t rng = 4242;
    int i, e;

    (void)state;
    for (i = 0; i < 200000; i++) {
        uint64_t r = rng_next(&rng);
        double x = ldexp((double)(r >> 11), -53 - (int)(r % 90) + 50);

        expect_reference(i % 2 ? x : -x);
        expect_reference((double)(r % 100000) / pow(10.0, (double)(r % 9)));
        expect_reference(ldexp((double)((r >> 14) | 1), -(int)(r % 6) - 1));
    }
    for (e = -12; e <= 16; e++) {
        double p = pow(10.0, e);

        expect_reference(p);
        expect_reference(nextafter(p, 0.0));
        expect_reference(nextafter(p, INFINITY));
        expect_reference(p * 0.99999999999999994);
    }
    expect_reference(0.1);
    expect_reference(1.0 / 3.0);
    expect_reference(0.9999999999999999);
    expect_reference(999999999999999.9);
    expect_reference(1e-4);
    expect_reference(nextafter(1e-4, 0.0)); /* the first "%e" style */
    expect_reference(1.5e-7);
    expect_reference(-2.5e-10);
    expect_reference(1e-10);
    expect_reference(nextafter(1e-10, 0.0)); /* left to printf */
    expect_reference(0.00012);
    expect_reference(35184372088832.0625);
}

/* Byte for byte what printf writes where the one-scaling path decides
 * between 15, 16 and 17 digits: sigmoid outputs (the predictions riffle
 * writes most), decimals of up to 15 and 16 significant digits read
 * back from text (which 15 or 16 digits must reproduce), and their
 * neighbours, which need more. */
static void test_numfmt_matches_printf_on_probabilities(void **state)
{
    uint64_t rng = 20261205;
    char text[NUMFMT_MAX];
    int i;

    (void)state;
    for (i = 0; i < 20000; i++) {
        uint64_t r = rng_next(&rng);
        double margin = (rng_unit(&rng) - 0.5) * 40.0;
        double p = 1.0 / (1.0 + exp(-margin)), d;

        expect_reference(p);
        expect_reference(1.0 - p);
        snprintf(text, sizeof(text), "0.%015llu",
                 (unsigned long long)(r % 1000000000000000ULL));
        d = strtod(text, NULL);
        expect_reference(d);
        expect_reference(nextafter(d, 1.0));
        snprintf(text, sizeof(text), "%llu.%llue%d",
                 (unsigned long long)(r % 9 + 1),
                 (unsigned long long)(r >> 14) % 1000000000000000ULL,
                 (int)(r % 24) - 9);
        d = strtod(text, NULL);
        expect_reference(d);
        expect_reference(nextafter(d, 0.0));
    }
}

/* The fractions of [10^-4, 1), where the exponent comes from three
 * comparisons (scale_fraction()): byte for byte what printf writes for
 * every exact tie of the 17-digit rounding (j / 2^(k+1), j odd: its
 * 17-digit scaling ends in exactly one half), for each power of ten's
 * and each power of two's neighbours (a power of two takes the general
 * path), and for random bit patterns, which reach subnormal-free but
 * otherwise arbitrary mantissas. The negative of each, too. */
#define ONE_BITS 0x3ff0000000000000ULL /* the bits of 1.0 */

static void test_numfmt_matches_printf_on_fractions(void **state)
{
    static const struct {
        int k;           /* 16 - the decimal exponent */
        uint32_t lo, hi; /* j / 2^(k+1) in [10^(16-k), 10^(17-k)) */
    } ties[] = {{17, 26215, 262143}, {18, 5243, 52428}, {19, 1049, 10485},
                {20, 210, 2097}};
    uint64_t rng = 104729, bits;
    double x, lo = 1e-4;
    size_t t;
    uint32_t j;
    int i, step;

    (void)state;
    for (t = 0; t < sizeof(ties) / sizeof(ties[0]); t++) {
        for (j = ties[t].lo | 1; j <= ties[t].hi; j += 2) {
            x = ldexp((double)j, -(ties[t].k + 1));
            expect_reference(x);
            expect_reference(-x);
        }
    }
    for (i = -4; i <= 0; i++) {
        x = pow(10.0, i);
        for (step = 0; step < 64; step++) {
            expect_reference(x);
            expect_reference(-x);
            x = nextafter(x, 0.0);
        }
    }
    for (i = -14; i <= -1; i++) {
        expect_reference(ldexp(1.0, i));
        expect_reference(nextafter(ldexp(1.0, i), 0.0));
        expect_reference(nextafter(ldexp(1.0, i), 1.0));
    }
    /* Positive doubles order as their bits: [1e-4, 1) is a bit range. */
    memcpy(&bits, &lo, sizeof(bits));
    for (i = 0; i < 100000; i++) {
        uint64_t b = bits + rng_next(&rng) % (ONE_BITS - bits);

        memcpy(&x, &b, sizeof(x));
        expect_reference(x);
        expect_reference(-x);
    }
}

/* A small buffer gets as many leading digits as fit, and its NUL. */
static void test_numfmt_integer_respects_the_buffer(void **state)
{
    char out[4];

    (void)state;
    assert_string_equal(numfmt_double(123456.0, out, sizeof(out)), "123");
}

static void test_numfmt_fraction_respects_the_buffer(void **state)
{
    char out[5];

    (void)state;
    assert_string_equal(numfmt_double(0.123456, out, sizeof(out)), "0.12");
    assert_string_equal(numfmt_double(-0.5, out, sizeof(out)), "-0.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numfmt_prints_integers_exactly),
        cmocka_unit_test(test_numfmt_prints_other_numbers_shortest),
        cmocka_unit_test(test_numfmt_reads_back_exactly),
        cmocka_unit_test(test_numfmt_integer_respects_the_buffer),
        cmocka_unit_test(test_numfmt_matches_printf),
        cmocka_unit_test(test_numfmt_matches_printf_on_probabilities),
        cmocka_unit_test(test_numfmt_matches_printf_on_fractions),
        cmocka_unit_test(test_numfmt_fraction_respects_the_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
