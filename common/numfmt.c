/*
 * common/numfmt.c - shortest exact number text, see numfmt.h.
 */
#include "common/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUMFMT_FEWEST_DIGITS 15 /* every double with <= 15 digits is exact */
#define NUMFMT_MOST_DIGITS 17   /* 17 digits identify any double */

/* Integers below 2^53 print exactly without a format parse: they are
 * most numbers riffle turns into text (days, ids, 0/1 labels). */
#define NUMFMT_EXACT_INT 9007199254740992.0

/* Writes the integer v (|v| < 2^53) in decimal. By hand, not with
 * snprintf("%lld"): labels and categorical numbers pass through here
 * once or twice an event, and the format parse cost more than the rest
 * of the conversion. */
static void format_integer(long long v, char *out, size_t out_size)
{
    char digits[NUMFMT_MAX];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    size_t n = 0, len = 0;

    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[n++] = '-';
    while (n && len + 1 < out_size)
        out[len++] = digits[--n];
    if (out_size)
        out[len] = '\0';
}

/* ---- "%.*g" without printf, for numbers of moderate size ------------
 *
 * printf converts exactly, with multi-precision arithmetic: a few
 * thousand instructions a number, more than learning a short event, and
 * riffle prints one or more per event (predictions, their JSON; a
 * confident prediction is often below 10^-4). For |x| in
 * [NUMFMT_FIXED_MIN, NUMFMT_FIXED_MAX) the digits below are the same as
 * those of "%.15g" to "%.17g", also exact:
 * x = m * 2^E with an integer m < 2^53, so x * 10^k = m * 5^k * 2^(k+E),
 * and m * 5^k (k <= 27) fits in 128 bits; the shift by k+E then gives the
 * integer part and the remainder, and the rounding is printf's (to
 * nearest, ties to even). */

__extension__ typedef unsigned __int128 numfmt_u128;

/* Down to 10^-10: there 17 digits need 10^26, and 5^27 (one more for a
 * first estimate one off) is the largest power of five in 64 bits.
 * Below 10^-4 "%g" writes an exponent ("1.5e-07"), which write_fixed()
 * writes too; smaller magnitudes are left to printf. */
#define NUMFMT_FIXED_MIN 1e-10
#define NUMFMT_FIXED_MAX 1e15 /* "%g" writes an exponent from 10^p up */
#define NUMFMT_MIN_EXP10 (-10)
#define NUMFMT_MAX_EXP10 14
#define NUMFMT_EXP_STYLE_BELOW (-4) /* "%g" switches to "%e" below 10^-4 */
#define NUMFMT_MAX_POW 27 /* 5^27 < 2^64 */
#define NUMFMT_DOUBLE_EXACT_POW10 22 /* 10^22 is the last exact double */
#define NUMFMT_MANTISSA_BITS 52
#define NUMFMT_EXPONENT_BIAS 1075 /* 1023 + 52: x = m * 2^(field - bias) */

static const uint64_t pow5_u64[NUMFMT_MAX_POW + 1] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL,
    390625ULL, 1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL,
    1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL,
    762939453125ULL, 3814697265625ULL, 19073486328125ULL,
    95367431640625ULL, 476837158203125ULL, 2384185791015625ULL,
    11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
    1490116119384765625ULL, 7450580596923828125ULL,
};

/* 10^(e+1) for e from NUMFMT_MIN_EXP10, as the nearest doubles. */
static const double pow10_above[NUMFMT_MAX_EXP10 - NUMFMT_MIN_EXP10 + 1] = {
    1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2,
    1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14,
    1e15,
};

/* "00" to "99": two digits per division while writing a number. */
static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

static const double pow10_double[NUMFMT_DOUBLE_EXACT_POW10 + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* a * 10^k exactly, as prod / 2^shift (shift > 0 in the fixed range),
 * with a = m * 2^E, m the 53-bit mantissa. */
struct scaled {
    numfmt_u128 prod;
    int shift;
    uint64_t m;
    uint64_t pow5; /* 5^k */
};

static void scale(double a, int k, struct scaled *sc)
{
    uint64_t bits;

    memcpy(&bits, &a, sizeof(bits));
    sc->m = (bits & ((1ULL << NUMFMT_MANTISSA_BITS) - 1)) |
            (1ULL << NUMFMT_MANTISSA_BITS);
    sc->shift = NUMFMT_EXPONENT_BIAS - (int)(bits >> NUMFMT_MANTISSA_BITS) -
                k;
    sc->pow5 = pow5_u64[k];
    sc->prod = (numfmt_u128)sc->m * sc->pow5;
}

/* round(a * 10^k) for a positive normal a, as printf rounds. */
static uint64_t scale_round(double a, int k, struct scaled *sc)
{
    numfmt_u128 rem, half;
    uint64_t q;

    scale(a, k, sc);
    if (sc->shift <= 0) /* not in the fixed range; kept exact anyway */
        return (uint64_t)(sc->prod << -sc->shift);
    q = (uint64_t)(sc->prod >> sc->shift);
    rem = sc->prod & (((numfmt_u128)1 << sc->shift) - 1);
    half = (numfmt_u128)1 << (sc->shift - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

/* log10(2) as 1233 / 2^12: floor(e2 * log10(2)) exactly for |e2| < 1700. */
#define NUMFMT_LOG10_2_NUM 1233
#define NUMFMT_LOG10_2_SHIFT 12

/* A first decimal exponent of a normal a > 0 in the hand-written range:
 * floor(e2 log10 2) for a in [2^e2, 2^(e2+1)), which is floor(log10 a)
 * or one below it, so the scan upwards takes a step at most. */
static int exp10_floor_estimate(double a)
{
    uint64_t bits;
    int e2, x;

    memcpy(&bits, &a, sizeof(bits));
    e2 = (int)(bits >> NUMFMT_MANTISSA_BITS) - 1023;
    x = e2 >= 0 ? (e2 * NUMFMT_LOG10_2_NUM) >> NUMFMT_LOG10_2_SHIFT
                : -((-e2 * NUMFMT_LOG10_2_NUM + (1 << NUMFMT_LOG10_2_SHIFT) -
                     1) >>
                    NUMFMT_LOG10_2_SHIFT);
    return x < NUMFMT_MIN_EXP10 ? NUMFMT_MIN_EXP10 : x;
}

/* The p significant digits (15 <= p <= 17) of "%.*g" of a > 0, as the
 * integer *n, and its decimal exponent *e; sc gets a * 10^(p-1-e) for
 * reads_back(). Returns 0 when a is outside the hand-written range or
 * not finite; then printf must do it. */
static int fixed_digits(double a, int p, uint64_t *n, int *e,
                        struct scaled *sc)
{
    uint64_t v, lo = (uint64_t)pow10_double[p - 1];
    int x;

    if (!(a >= NUMFMT_FIXED_MIN && a < NUMFMT_FIXED_MAX))
        return 0;
    x = exp10_floor_estimate(a);

    /* A power of ten that is no double can put the exponent one off,
     * which the size of the digits shows; a last carry (9.99.. up to
     * 10) is the one that moves the exponent in printf too. */
    while (x < NUMFMT_MAX_EXP10 && a >= pow10_above[x - NUMFMT_MIN_EXP10])
        x++;
    v = scale_round(a, p - 1 - x, sc);
    if (v < lo) {
        x--;
        v = scale_round(a, p - 1 - x, sc);
    } else if (v >= lo * 10) {
        x++;
        if (x >= p)
            return 0; /* 10^p and up: "%g" writes an exponent */
        v = scale_round(a, p - 1 - x, sc);
    }
    if (v >= lo * 10) {
        v /= 10;
        x++;
        if (x >= p)
            return 0;
        scale(a, p - 1 - x, sc);
    }
    if (x < NUMFMT_MIN_EXP10 || x >= p)
        return 0;
    *n = v;
    *e = x;
    return 1;
}

#define NUMFMT_CHUNK 100000000U /* 10^8: eight digits in 32 bits */

/* Eight digits from one fixed-point number: n / 10^6 with 57 fraction
 * bits (the multiplier is 2^57 / 10^6 rounded up); its integer part is
 * the first pair, and each further pair is the integer part of the
 * fraction times 100. The rounding error stays below one 10^8th of a
 * pair: checked against printf for every n below 10^8. No division, so
 * a prediction's 16 or 17 digits cost two of these and a digit. */
#define NUMFMT_FIX_BITS 57
#define NUMFMT_FIX_INV_1E6 144115188076ULL /* ceil(2^57 / 10^6) */

#define NUMFMT_PAIR(y, digits, i)                                           \
    memcpy((digits) + (i), digit_pairs + 2 * ((y) >> NUMFMT_FIX_BITS), 2)

static void write_eight(uint32_t n, char *digits)
{
    const uint64_t frac = (1ULL << NUMFMT_FIX_BITS) - 1;
    uint64_t y = (uint64_t)n * NUMFMT_FIX_INV_1E6;

    NUMFMT_PAIR(y, digits, 0);
    y = (y & frac) * 100;
    NUMFMT_PAIR(y, digits, 2);
    y = (y & frac) * 100;
    NUMFMT_PAIR(y, digits, 4);
    y = (y & frac) * 100;
    NUMFMT_PAIR(y, digits, 6);
}

/* The p decimal digits of n (p < 8, n < 10^p), zeros in front. */
static void write_few(uint32_t n, int p, char *digits)
{
    int i = p;

    for (; i >= 2; n /= 100) {
        i -= 2;
        memcpy(digits + i, digit_pairs + 2 * (n % 100), 2);
    }
    if (i == 1)
        digits[0] = (char)('0' + n);
}

/* The p decimal digits of n, zeros in front, into digits: eight at a
 * time from the end. */
static void write_digits(uint64_t n, int p, char *digits)
{
    while (p >= 8) {
        p -= 8;
        write_eight((uint32_t)(n % NUMFMT_CHUNK), digits + p);
        n /= NUMFMT_CHUNK;
    }
    write_few((uint32_t)n, p, digits);
}

/* 10^i as integers, to split the digits of write_fixed() at the point. */
static const uint64_t pow10_u64[NUMFMT_MOST_DIGITS + 1] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
    10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
    100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL,
};

/* Writes the digits of fixed_digits() as "%.*g" does, into text
 * (NUMFMT_MAX bytes): "0.000123", "12.5", or below 10^-4 "%e"'s
 * "1.25e-07". Returns the length. The digits go straight to their place,
 * split at the point by division, without a copy: this runs for every
 * prediction written. */
static size_t write_fixed(int negative, uint64_t n, int p, int e, char *text)
{
    int keep = e >= 0 ? e + 1 : 1; /* digits before the point stay */
    size_t len = 0;
    uint64_t unit;
    int i;

    while (p > keep && n % 10 == 0) {
        n /= 10; /* "%g" drops the zeros that end a fraction */
        p--;
    }
    if (negative)
        text[len++] = '-';

    if (e < NUMFMT_EXP_STYLE_BELOW) {
        unit = pow10_u64[p - 1];
        text[len++] = (char)('0' + n / unit);
        if (p > 1) {
            text[len++] = '.';
            write_digits(n % unit, p - 1, text + len);
            len += (size_t)p - 1;
        }
        text[len++] = 'e';
        text[len++] = '-';
        memcpy(text + len, digit_pairs + 2 * -e, 2); /* -e < 100 */
        len += 2;
    } else if (e < 0) {
        text[len++] = '0';
        text[len++] = '.';
        for (i = e + 1; i < 0; i++)
            text[len++] = '0';
        write_digits(n, p, text + len);
        len += (size_t)p;
    } else if (p > keep) {
        unit = pow10_u64[p - keep];
        write_digits(n / unit, keep, text + len);
        len += (size_t)keep;
        text[len++] = '.';
        write_digits(n % unit, p - keep, text + len);
        len += (size_t)(p - keep);
    } else {
        write_digits(n, p, text + len);
        len += (size_t)p;
    }
    text[len] = '\0';
    return len;
}

/* Whether the decimal n / 10^k reads back as x, given x * 10^k exactly
 * in sc: when it is within half a unit in the last place of x, scaled by
 * 10^k, which is 5^k / 2 in units of 2^-shift; at exactly half, when the
 * mantissa is even (round to even). Returns -1 below a power of two,
 * where the unit halves: strtod decides then. */
static int reads_back(uint64_t n, const struct scaled *sc)
{
    numfmt_u128 at, diff;

    if (sc->shift <= 0 || sc->m == (1ULL << NUMFMT_MANTISSA_BITS))
        return -1;
    at = (numfmt_u128)n << sc->shift;
    diff = at > sc->prod ? at - sc->prod : sc->prod - at;
    if (2 * diff != sc->pow5)
        return 2 * diff < sc->pow5;
    return (sc->m & 1) == 0;
}

/* Copies text (len bytes) into out as snprintf("%s") would. */
static char *copy_text(const char *text, size_t len, char *out,
                       size_t out_size)
{
    if (out_size == 0)
        return out;
    if (len >= out_size)
        len = out_size - 1;
    memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

/* The p-digit rounding (p = 17 - drop, drop 1 or 2) of the 17-digit
 * scaled value prod / 2^shift, whose integer part q has 17 digits, as
 * printf rounds: to nearest, ties to even. unit is 10^drop. */
static uint64_t round_fewer(uint64_t q, numfmt_u128 rem, uint64_t unit)
{
    uint64_t n = q / unit, d = q % unit, half = unit / 2;

    if (d > half || (d == half && (rem != 0 || (n & 1))))
        n++;
    return n;
}

/* The fractions scale_fraction() takes: from 10^-4 ("%g" writes an
 * exponent below it) up to 1. Probabilities, the numbers riffle prints
 * most, are nearly all here. */
#define NUMFMT_FRACTION_MIN 1e-4

/* fixed_digits(a, 17) for a in [NUMFMT_FRACTION_MIN, 1), the range of
 * nearly every probability: the decimal exponent e in -4..-1 from three
 * comparisons instead of an estimate and a rounding to check it. They
 * are exact: the doubles nearest 10^-1, 10^-2 and 10^-3 lie above those
 * powers, so no double falls between a power and its double. Then
 * a * 10^(16-e), in [10^16, 10^17), is split once into its integer part
 * *q and remainder *rem, and *n17 is its rounding as printf rounds.
 * Returns 0 for what the general path must do: a power of two (where
 * reads_back() cannot decide) and a rounding that carries to 10^17. */
static int scale_fraction(double a, uint64_t *q, numfmt_u128 *rem,
                          uint64_t *n17, int *e, struct scaled *sc)
{
    numfmt_u128 half;

    *e = a >= 1e-1 ? -1 : a >= 1e-2 ? -2 : a >= 1e-3 ? -3 : -4;
    scale(a, NUMFMT_MOST_DIGITS - 1 - *e, sc);
    if (sc->m == (1ULL << NUMFMT_MANTISSA_BITS))
        return 0;

    /* shift is 36 to 46 here (the exponents of [10^-4, 1), k 17 to 20). */
    *q = (uint64_t)(sc->prod >> sc->shift);
    *rem = sc->prod & (((numfmt_u128)1 << sc->shift) - 1);
    half = (numfmt_u128)1 << (sc->shift - 1);
    *n17 = *q + (*rem > half || (*rem == half && (*q & 1)));
    return *n17 < 100000000000000000ULL; /* 10^17: a carry */
}

/* The text of a fraction in [NUMFMT_FRACTION_MIN, 1) as "%g" writes it,
 * from its chosen digits n (15 to 17 of them) as the 17-digit integer
 * n17 = n * 10^(17 - digits) and its decimal exponent e (-1 to -4):
 * "0.", -e-1 zeros, then n17's digits less the zeros that end them (the
 * digits past n are such zeros). The first digit alone, then two groups
 * of eight at fixed places, and the zeros counted on the last group that
 * is not all zeros: write_fixed()'s general loop cost about 160
 * instructions a probability, a twentieth of an event. */
static size_t write_fraction(int negative, uint64_t n17, int e, char *text)
{
    const uint64_t group = 100000000ULL; /* 10^8 */
    uint64_t rest = n17 % (group * group), hi = rest / group,
             lo = rest % group, last;
    size_t len = 0, zeros = 0;
    char *digits;

    if (negative)
        text[len++] = '-';
    memcpy(text + len, "0.000", 5); /* "0." and up to three zeros */
    len += 2 + (size_t)(-e - 1);
    digits = text + len;
    digits[0] = (char)('0' + n17 / (group * group));
    write_eight((uint32_t)hi, digits + 1);
    write_eight((uint32_t)lo, digits + 9);

    last = lo;
    if (lo == 0) {
        zeros = 8;
        last = hi;
    }
    if (last == 0)
        zeros = 16; /* the first digit is not 0: n17 >= 10^16 */
    else
        while (last % 10 == 0) {
            last /= 10;
            zeros++;
        }
    len += NUMFMT_MOST_DIGITS - zeros;
    text[len] = '\0';
    return len;
}

/* The text of the chosen n, 17 - drop digits, with decimal exponent e:
 * by write_fraction() for a fraction of [NUMFMT_FRACTION_MIN, 1). */
static inline size_t write_chosen(int fraction, int negative, uint64_t n,
                                  int drop, int e, char *text)
{
    if (fraction)
        return write_fraction(negative, n * pow10_u64[drop], e, text);
    return write_fixed(negative, n, NUMFMT_MOST_DIGITS - drop, e, text);
}

/* The common case of numfmt_double() with one scaling instead of one
 * per digit count: x * 10^k is formed once for 17 digits, and the 15-
 * and 16-digit roundings come from its integer part and remainder.
 * reads_back() of a candidate n with 17 - drop digits is the same test
 * as at its own scale when made on n * 10^drop at the 17-digit one: the
 * distance and half the unit both grow by 5^drop, exactly. Returns the
 * length written to text, or 0 for every rarer case (outside the range,
 * a power of two, a carry that changes the exponent), which the general
 * loop below handles as before. */
static size_t shortest_in_one_scaling(double x, char *text)
{
    const uint64_t lo17 = 10000000000000000ULL; /* 10^16 */
    const uint64_t lo16 = lo17 / 10;
    double a = fabs(x);
    struct scaled sc;
    numfmt_u128 rem;
    uint64_t n17, n16, n15, q;
    int e, fraction = 0;

    if (a >= NUMFMT_FRACTION_MIN && a < 1.0) {
        if (!scale_fraction(a, &q, &rem, &n17, &e, &sc))
            return 0;
        fraction = 1;
    } else {
        if (!fixed_digits(a, NUMFMT_MOST_DIGITS, &n17, &e, &sc) ||
            sc.shift <= 0 || sc.m == (1ULL << NUMFMT_MANTISSA_BITS))
            return 0;
        q = (uint64_t)(sc.prod >> sc.shift);
        rem = sc.prod & (((numfmt_u128)1 << sc.shift) - 1);
        if (q < lo17) /* 9.99.. carried to 10^17 in fixed_digits() */
            return 0;
    }

    n15 = round_fewer(q, rem, 100);
    if (n15 >= lo16) /* 10^15: carried into the next exponent */
        return 0;
    if (reads_back(n15 * 100, &sc) == 1)
        return write_chosen(fraction, x < 0, n15, 2, e, text);
    n16 = round_fewer(q, rem, 10);
    if (n16 >= lo17)
        return 0;
    if (reads_back(n16 * 10, &sc) == 1)
        return write_chosen(fraction, x < 0, n16, 1, e, text);
    return write_chosen(fraction, x < 0, n17, 0, e, text);
}

char *numfmt_double(double x, char *out, size_t out_size)
{
    char text[NUMFMT_MAX];
    struct scaled sc;
    uint64_t n;
    size_t len;
    int digits, e;

    /* The range test comes first: casting a double beyond long long's
     * range is undefined. */
    if (x > -NUMFMT_EXACT_INT && x < NUMFMT_EXACT_INT &&
        x == (double)(long long)x && !(x == 0 && signbit(x))) {
        format_integer((long long)x, out, out_size);
        return out;
    }
    /* Straight into out when it is large enough: one copy less. */
    if (out_size >= NUMFMT_MAX && shortest_in_one_scaling(x, out) > 0)
        return out;
    if (out_size < NUMFMT_MAX) {
        len = shortest_in_one_scaling(x, text);
        if (len > 0)
            return copy_text(text, len, out, out_size);
    }

    for (digits = NUMFMT_FEWEST_DIGITS; digits < NUMFMT_MOST_DIGITS; digits++) {
        if (fixed_digits(fabs(x), digits, &n, &e, &sc)) {
            int back = reads_back(n, &sc);

            if (back == 0)
                continue;
            len = write_fixed(x < 0, n, digits, e, text);
            if (back == 1 || strtod(text, NULL) == x)
                return copy_text(text, len, out, out_size);
            continue;
        }
        snprintf(out, out_size, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return out;
    }
    if (fixed_digits(fabs(x), NUMFMT_MOST_DIGITS, &n, &e, &sc)) {
        len = write_fixed(x < 0, n, NUMFMT_MOST_DIGITS, e, text);
        return copy_text(text, len, out, out_size);
    }
    snprintf(out, out_size, "%.*g", NUMFMT_MOST_DIGITS, x);
    return out;
}
