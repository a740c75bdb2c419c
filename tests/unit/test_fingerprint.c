/*
 * tests/unit/test_fingerprint.c - the pseudonym caches' keyed fingerprint
 * (privacy/fingerprint.c) against SipHash-1-3-128 as OpenSSL 3 computes
 * it: key 00 01 .. 0f, message 00 01 .. (n - 1) of 0, 1, 15, 16, 47 and
 * 48 bytes (empty, one byte, a 7-byte tail, a whole block, ...), from
 * `openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt
 * size:16 -macopt c-rounds:1 -macopt d-rounds:3 SIPHASH`, whose default
 * 2-4 rounds give the reference implementation's vectors (vectors.h) for
 * the same key and messages. The AES chain, which keys drawn at random
 * use where the processor has AES instructions, against the same chain
 * written here over OpenSSL's AES-128 (its own implementation of the
 * cipher), and its vectors for that key. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

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

/* The AES chain of fingerprint.h over OpenSSL's AES-128-ECB: y = L (the
 * length, 8 bytes little-endian, then zeros), y = E(y) xor M for each
 * 16-byte block of msg (the last padded with zeros), out = E(y) xor y. */
static void reference_aes_chain(const unsigned char key[16],
                                const unsigned char *msg, size_t len,
                                unsigned char out[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char y[16] = {0}, e[16];
    size_t off, j;
    int n;

    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key,
                                        NULL),
                     1);
    for (j = 0; j < 8; j++)
        y[j] = (unsigned char)(len >> (8 * j));
    for (off = 0; off < len; off += 16) {
        assert_int_equal(EVP_EncryptUpdate(ctx, e, &n, y, 16), 1);
        for (j = 0; j < 16; j++)
            y[j] = e[j] ^ (off + j < len ? msg[off + j] : 0);
    }
    assert_int_equal(EVP_EncryptUpdate(ctx, e, &n, y, 16), 1);
    for (j = 0; j < 16; j++)
        out[j] = e[j] ^ y[j];
    EVP_CIPHER_CTX_free(ctx);
}

/* The chain's fingerprints for key 00 01 .. 0f and message 00 01 ..
 * (n - 1), from reference_aes_chain() and, alike, from the same chain
 * written in Python over the cryptography package's AES. */
static const struct vector aes_vectors[] = {
    {0, "c6a13b37878f5b826f4f8162a1c8d879"},
    {1, "af56d388244bcdce3e87494be7e18e79"},
    {15, "16c4e23fe77b4ce8c0952fbc3b03510c"},
    {16, "750b946d362c3f6b9eeaa7bf015d1b92"},
    {17, "584850c1a4348b868bac4aea01ab6d4b"},
    {64, "76b4ed25dc5fbe45bec7718159b7d400"},
};

/* Every length from 0 to 80 bytes (a partial block of each size, whole
 * blocks, and lengths past the key's table of E(L)) against the
 * reference, and the vectors above. Skipped without AES instructions. */
static void test_fingerprint_aes_chain(void **state)
{
    unsigned char key_bytes[FINGERPRINT_KEY_BYTES], msg[80], ref[16];
    struct fingerprint_key key;
    char hex[33], ref_hex[33];
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(key_bytes); i++)
        key_bytes[i] = (unsigned char)i;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    if (fingerprint_key_set_aes(&key, key_bytes) != 0)
        skip();
    for (len = 0; len <= sizeof(msg); len++) {
        struct fingerprint fp = fingerprint_of(&key, msg, len);

        reference_aes_chain(key_bytes, msg, len, ref);
        fingerprint_hex(&fp, hex);
        for (i = 0; i < 16; i++)
            snprintf(ref_hex + 2 * i, 3, "%02x", ref[i]);
        if (strcmp(hex, ref_hex) != 0)
            fail_msg("%zu bytes: %s, the reference %s", len, hex, ref_hex);
    }
    for (i = 0; i < sizeof(aes_vectors) / sizeof(aes_vectors[0]); i++) {
        struct fingerprint fp = fingerprint_of(&key, msg, aes_vectors[i].len);

        fingerprint_hex(&fp, hex);
        assert_string_equal(hex, aes_vectors[i].hex);
    }
}

/* A key drawn at random takes the AES chain where the processor has AES
 * instructions, and SipHash where it has not. */
static void test_fingerprint_random_key_takes_aes(void **state)
{
    struct fingerprint_key k;

    (void)state;
    assert_int_equal(fingerprint_key_random(&k), 0);
    __builtin_cpu_init();
    assert_int_equal(k.aes, __builtin_cpu_supports("aes") ? 1 : 0);
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
    assert_false(memcmp(a.round_key, b.round_key, sizeof(a.round_key)) == 0 &&
                 a.k[0] == b.k[0] && a.k[1] == b.k[1]);
    fa = fingerprint_of(&a, "Married-civ-spouse", 18);
    fb = fingerprint_of(&b, "Married-civ-spouse", 18);
    assert_false(fa.w[0] == fb.w[0] && fa.w[1] == fb.w[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_reference_vectors),
        cmocka_unit_test(test_fingerprint_aes_chain),
        cmocka_unit_test(test_fingerprint_random_key_takes_aes),
        cmocka_unit_test(test_fingerprint_random_keys_differ),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
