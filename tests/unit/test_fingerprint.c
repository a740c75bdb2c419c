/*
 * tests/unit/test_fingerprint.c - the pseudonym caches' keyed fingerprint
 * (privacy/fingerprint.c) against SipHash-2-4-128's reference vectors:
 * key 00 01 .. 0f, message 00 01 .. (n - 1). The vectors for 0, 1 and 15
 * bytes are the reference implementation's (vectors.h); 16, 47 and 48
 * bytes (a whole block, a 7-byte tail, six blocks) are OpenSSL 3's
 * `openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt
 * size:16 SIPHASH`. No broker; single-threaded.
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
    {0, "a3817f04ba25a8e66df67214c7550293"},
    {1, "da87c1d86b99af44347659119b22fc45"},
    {15, "5493e99933b0a8117e08ec0f97cfc3d9"},
    {16, "6ee2a4ca67b054bbfd3315bf85230577"},
    {47, "e61c432b720b19d18ec8d84bdc63151b"},
    {48, "f7e5aef549f782cf379055a608269b16"},
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
