/*
 * tests/unit/test_fingerprint.c - the pseudonym caches' keyed fingerprint
 * (privacy/fingerprint.c) against SipHash-1-3-128 as OpenSSL 3 computes
 * it: key 00 01 .. 0f, message 00 01 .. (n - 1) of 0, 1, 15, 16, 47 and
 * 48 bytes (empty, one byte, a 7-byte tail, a whole block, ...), from
 * `openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt
 * size:16 -macopt c-rounds:1 -macopt d-rounds:3 SIPHASH`, whose default
 * 2-4 rounds give the reference implementation's vectors (vectors.h) for
 * the same key and messages. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "privacy/fingerprint.h"

struct vector {
    size_t len;
    const char *hex;
};

static const struct vector vectors[] = {
    {0, "e77ebcb22788a5befd62db6add303001"},
    {1, "fc6f370460d3eda85e0573cc2b2ff063"},
    {15, "c17e5505b2bd526c2921cdec1e7e0109"},
    {16, "d0a8d95715518eebb513b0f83d9e1793"},
    {47, "6f1490f540699a3cd4974420ecc92737"},
    {48, "d505f1b75e1a84a603c43583b2ed0308"},
};

/* The fingerprint's 16 bytes in hex, words little-endian as SipHash
 * writes them. */
static void fingerprint_hex(const struct fingerprint *fp, char out[33])
{
    size_t i;

    for (i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x",
                 (unsigned)(fp->w[i / 8] >> (8 * (i % 8))) & 0xffu);
}

static void test_fingerprint_reference_vectors(void **state)
{
    unsigned char key_bytes[FINGERPRINT_KEY_BYTES], msg[64];
    struct fingerprint_key key;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(key_bytes); i++)
        key_bytes[i] = (unsigned char)i;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    fingerprint_key_set(&key, key_bytes);
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        struct fingerprint fp = fingerprint_of(&key, msg, vectors[i].len);
        char hex[33];

        fingerprint_hex(&fp, hex);
        assert_string_equal(hex, vectors[i].hex);
    }
}

/* Two random keys differ, and so do the fingerprints of one value under
 * them: no process can look another's values up. */
static void test_fingerprint_random_keys_differ(void **state)
{
    struct fingerprint_key a, b;
    struct fingerprint fa, fb;

    (void)state;
    assert_int_equal(fingerprint_key_random(&a), 0);
    assert_int_equal(fingerprint_key_random(&b), 0);
    assert_false(a.k[0] == b.k[0] && a.k[1] == b.k[1]);
    fa = fingerprint_of(&a, "Married-civ-spouse", 18);
    fb = fingerprint_of(&b, "Married-civ-spouse", 18);
    assert_false(fa.w[0] == fb.w[0] && fa.w[1] == fb.w[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_reference_vectors),
        cmocka_unit_test(test_fingerprint_random_keys_differ),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
