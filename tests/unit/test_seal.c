/*
 * tests/unit/test_seal.c - AES-256-GCM (privacy/seal.c) against the
 * published test vectors, the envelope around it, and keyrings
 * (privacy/keyring.c).
 *
 * The vectors are test cases 13 to 16 of McGrew and Viega, "The
 * Galois/Counter Mode of Operation (GCM)", the 256-bit-key cases with a
 * 96-bit IV, as NIST's GCM validation uses them. No broker;
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
#include <unistd.h>

#include "common/err.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"
#include "tests/unit/testutil.h"

#define MAX_BYTES 128
#define KEY_ENV "RIFFLE_TEST_SEAL_KEY"
#define KEY_ENV_FILE KEY_ENV "_FILE"
#define CONTEXT "riffle.test"

#define HEX_K1 "000102030405060708090a0b0c0d0e0f" \
               "101112131415161718191a1b1c1d1e1f"
#define HEX_K2 "ffeeddccbbaa99887766554433221100" \
               "0123456789abcdef0123456789abcdef"

struct vector {
    const char *key, *iv, *aad, *plain, *cipher, *tag;
};

static const char gcm_key_15[] = "feffe9928665731c6d6a8f9467308308"
                                 "feffe9928665731c6d6a8f9467308308";
static const char gcm_plain_15[] = "d9313225f88406e5a55909c5aff5269a"
                                   "86a7a9531534f7da2e4c303d8a318a72"
                                   "1c3c0c95956809532fcf0e2449a6b525"
                                   "b16aedf5aa0de657ba637b391aafd255";
static const char gcm_cipher_15[] = "522dc1f099567d07f47f37a32a84427d"
                                    "643a8cdcbfe5c0c97598a2bd2555d1aa"
                                    "8cb08e48590dbb3da7b08b1056828838"
                                    "c5f61e6393ba7a0abcc9f662898015ad";

static const struct vector vectors[] = {
    {/* test case 13: nothing but the tag */
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {/* test case 14: one zero block */
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {/* test case 15: four blocks */
     gcm_key_15, "cafebabefacedbaddecaf888", "", gcm_plain_15,
     gcm_cipher_15, "b094dac5d93471bdec1a502270e3cc6c"},
};

/* Test case 16: test case 15 cut to 60 bytes, with additional data. */
static const struct vector vector_16 = {
    gcm_key_15, "cafebabefacedbaddecaf888",
    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    "76fc6ece0f4e1768cddf8853bb2d551b"};

static size_t unhex(const char *hex, unsigned char *out)
{
    size_t i, n = strlen(hex) / 2;
    unsigned int byte;

    assert_true(n <= MAX_BYTES);
    for (i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    return n;
}

static void check_vector(const struct vector *v)
{
    unsigned char key[MAX_BYTES], iv[MAX_BYTES], aad[MAX_BYTES];
    unsigned char plain[MAX_BYTES], cipher[MAX_BYTES], tag[MAX_BYTES];
    unsigned char out[MAX_BYTES + 16], got_tag[SEAL_TAG_BYTES];
    size_t iv_len, aad_len, len;

    assert_int_equal(unhex(v->key, key), KEYRING_KEY_BYTES);
    iv_len = unhex(v->iv, iv);
    aad_len = unhex(v->aad, aad);
    len = unhex(v->plain, plain);
    assert_int_equal(unhex(v->cipher, cipher), len);
    assert_int_equal(unhex(v->tag, tag), SEAL_TAG_BYTES);

    assert_int_equal(seal_gcm_encrypt(key, iv, iv_len, aad, aad_len, plain,
                                      len, out, got_tag), 0);
    if (len)
        assert_memory_equal(out, cipher, len);
    assert_memory_equal(got_tag, tag, SEAL_TAG_BYTES);

    memset(out, 0xAA, sizeof(out));
    assert_int_equal(seal_gcm_decrypt(key, iv, iv_len, aad, aad_len, cipher,
                                      len, tag, out), 0);
    if (len)
        assert_memory_equal(out, plain, len);
}

static void test_seal_gcm_published_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        check_vector(&vectors[i]);
    check_vector(&vector_16);
}

/* A flipped bit anywhere (ciphertext, tag, additional data) is refused,
 * and no plaintext comes out. */
static void test_seal_gcm_refuses_altered_input(void **state)
{
    unsigned char key[MAX_BYTES], iv[MAX_BYTES], aad[MAX_BYTES];
    unsigned char cipher[MAX_BYTES], tag[MAX_BYTES], out[MAX_BYTES + 16];
    size_t aad_len, len, i;

    (void)state;
    unhex(vector_16.key, key);
    unhex(vector_16.iv, iv);
    aad_len = unhex(vector_16.aad, aad);
    len = unhex(vector_16.cipher, cipher);
    unhex(vector_16.tag, tag);

    cipher[len - 1] ^= 1;
    assert_int_equal(seal_gcm_decrypt(key, iv, 12, aad, aad_len, cipher,
                                      len, tag, out), RIFFLE_ERR_DECODE);
    for (i = 0; i < len; i++)
        assert_int_equal(out[i], 0);
    cipher[len - 1] ^= 1;
    tag[0] ^= 0x80;
    assert_int_equal(seal_gcm_decrypt(key, iv, 12, aad, aad_len, cipher,
                                      len, tag, out), RIFFLE_ERR_DECODE);
    tag[0] ^= 0x80;
    aad[aad_len - 1] ^= 1;
    assert_int_equal(seal_gcm_decrypt(key, iv, 12, aad, aad_len, cipher,
                                      len, tag, out), RIFFLE_ERR_DECODE);
    aad[aad_len - 1] ^= 1;
    assert_int_equal(seal_gcm_decrypt(key, iv, 12, aad, aad_len, cipher,
                                      len, tag, out), 0);
}

static void ring_of(const char *text, struct keyring *ring)
{
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";

    if (keyring_parse(text, strlen(text), "k1", ring, errstr,
                      sizeof(errstr)) != 0)
        fail_msg("keyring_parse: %s", errstr);
}

/* The envelope is laid out as seal.h says, and its ciphertext is plain
 * GCM under the additional data header + context. */
static void test_seal_envelope_layout(void **state)
{
    static const unsigned char nonce[SEAL_NONCE_BYTES] = {1, 2, 3, 4, 5, 6,
                                                          7, 8, 9, 10, 11,
                                                          12};
    unsigned char expect[32], tag[SEAL_TAG_BYTES], aad[64];
    struct keyring ring;
    struct buf out = {0};
    const unsigned char *e;

    (void)state;
    ring_of(HEX_K1, &ring);
    assert_int_equal(seal_encrypt(&ring, CONTEXT, "hello", 5, nonce, &out),
                     0);
    e = (const unsigned char *)out.data;
    assert_int_equal(out.len, 2 + 2 + SEAL_NONCE_BYTES + 5 + SEAL_TAG_BYTES);
    assert_int_equal(e[0], SEAL_VERSION);
    assert_int_equal(e[1], 2);
    assert_memory_equal(e + 2, "k1", 2);
    assert_memory_equal(e + 4, nonce, SEAL_NONCE_BYTES);

    memcpy(aad, e, 4);
    memcpy(aad + 4, CONTEXT, strlen(CONTEXT));
    assert_int_equal(seal_gcm_encrypt(ring.key[0], nonce, SEAL_NONCE_BYTES,
                                      aad, 4 + strlen(CONTEXT), "hello", 5,
                                      expect, tag), 0);
    assert_memory_equal(e + 16, expect, 5);
    assert_memory_equal(e + 21, tag, SEAL_TAG_BYTES);
    buf_free(&out);
    keyring_wipe(&ring);
}

static void test_seal_round_trip_lengths(void **state)
{
    static const size_t lengths[] = {0, 1, 15, 16, 17, 1000};
    char plain[1000], errstr[TESTUTIL_ERRSTR_SIZE];
    struct keyring ring;
    size_t i;

    (void)state;
    memset(plain, 'x', sizeof(plain));
    ring_of(HEX_K1, &ring);
    for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        struct buf sealed = {0}, open = {0};

        assert_int_equal(seal_encrypt(&ring, CONTEXT, plain, lengths[i],
                                      NULL, &sealed), 0);
        assert_int_equal(seal_decrypt(&ring, CONTEXT, sealed.data,
                                      sealed.len, &open, errstr,
                                      sizeof(errstr)), 0);
        assert_int_equal(open.len, lengths[i]);
        if (lengths[i])
            assert_memory_equal(open.data, plain, lengths[i]);
        buf_free(&sealed);
        buf_free(&open);
    }
    keyring_wipe(&ring);
}

/* Two envelopes of one value differ: the nonce is fresh each time. */
static void test_seal_nonces_differ(void **state)
{
    struct buf a = {0}, b = {0};
    struct keyring ring;

    (void)state;
    ring_of(HEX_K1, &ring);
    assert_int_equal(seal_encrypt(&ring, CONTEXT, "same", 4, NULL, &a), 0);
    assert_int_equal(seal_encrypt(&ring, CONTEXT, "same", 4, NULL, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, a.len);
    buf_free(&a);
    buf_free(&b);
    keyring_wipe(&ring);
}

static int open_error(const struct keyring *ring, const char *context,
                      const struct buf *sealed, size_t len, char *errstr)
{
    struct buf out = {0};
    int err = seal_decrypt(ring, context, sealed->data, len, &out, errstr,
                           TESTUTIL_ERRSTR_SIZE);

    assert_int_equal(out.len, 0);
    buf_free(&out);
    return err;
}

static void test_seal_refuses_wrong_context_key_and_truncation(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct keyring ring, other_key, other_id;
    struct buf sealed = {0};
    size_t n;

    (void)state;
    ring_of(HEX_K1, &ring);
    ring_of(HEX_K2, &other_key); /* same id "k1", another key */
    ring_of("k9=" HEX_K1, &other_id);
    assert_int_equal(seal_encrypt(&ring, CONTEXT, "secret", 6, NULL,
                                  &sealed), 0);

    assert_int_equal(open_error(&ring, "other", &sealed, sealed.len, errstr),
                     RIFFLE_ERR_DECODE);
    assert_contains(errstr, "authentication failed");
    assert_int_equal(open_error(&other_key, CONTEXT, &sealed, sealed.len,
                                errstr), RIFFLE_ERR_DECODE);
    assert_int_equal(open_error(&other_id, CONTEXT, &sealed, sealed.len,
                                errstr), RIFFLE_ERR_DECODE);
    assert_contains(errstr, "key id \"k1\"");
    for (n = 0; n < sealed.len; n++)
        assert_int_equal(open_error(&ring, CONTEXT, &sealed, n, errstr),
                         RIFFLE_ERR_DECODE);
    sealed.data[0] = 2;
    assert_int_equal(open_error(&ring, CONTEXT, &sealed, sealed.len, errstr),
                     RIFFLE_ERR_DECODE);
    assert_contains(errstr, "not a version 1 envelope");
    assert_lacks(errstr, "secret");
    buf_free(&sealed);
    keyring_wipe(&ring);
    keyring_wipe(&other_key);
    keyring_wipe(&other_id);
}

/* An envelope's key id is whoever wrote it's: one that cannot name a key
 * (control bytes, a terminal's escape, ':' or '=') is refused by its
 * length, never printed into the error that reaches a log. */
static void test_seal_refuses_unprintable_key_id_unechoed(void **state)
{
    static const char *const ids[] = {"k\n1", "\x1b[2J", "k:1", "a=b",
                                      "k\xfa"};
    char errstr[TESTUTIL_ERRSTR_SIZE];
    unsigned char envelope[2 + 8 + SEAL_NONCE_BYTES + SEAL_TAG_BYTES];
    struct keyring ring;
    struct buf sealed = {0};
    size_t i, n, len;

    (void)state;
    ring_of(HEX_K1, &ring);
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        n = strlen(ids[i]);
        memset(envelope, 0x41, sizeof(envelope));
        envelope[0] = SEAL_VERSION;
        envelope[1] = (unsigned char)n;
        memcpy(envelope + 2, ids[i], n);
        len = 2 + n + SEAL_NONCE_BYTES + SEAL_TAG_BYTES;
        sealed.data = (char *)envelope;
        sealed.len = len;
        assert_int_equal(open_error(&ring, CONTEXT, &sealed, len, errstr),
                         RIFFLE_ERR_DECODE);
        assert_contains(errstr, "a key id that is not one");
        assert_lacks(errstr, ids[i]);
    }
    keyring_wipe(&ring);
}

/* After rotation the new key seals, and the old one still opens what it
 * sealed. */
static void test_seal_rotation_opens_old_envelopes(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct keyring old_ring, new_ring;
    struct buf sealed = {0}, open = {0};

    (void)state;
    ring_of("k1=" HEX_K1, &old_ring);
    ring_of("k2=" HEX_K2 "\nk1=" HEX_K1, &new_ring);
    assert_string_equal(new_ring.id[0], "k2");
    assert_int_equal(seal_encrypt(&old_ring, CONTEXT, "v", 1, NULL,
                                  &sealed), 0);
    assert_int_equal(seal_decrypt(&new_ring, CONTEXT, sealed.data,
                                  sealed.len, &open, errstr, sizeof(errstr)),
                     0);
    assert_memory_equal(open.data, "v", 1);
    buf_reset(&sealed);
    assert_int_equal(seal_encrypt(&new_ring, CONTEXT, "v", 1, NULL, &sealed),
                     0);
    assert_int_equal(sealed.data[1], 2);
    assert_memory_equal(sealed.data + 2, "k2", 2);
    buf_free(&sealed);
    buf_free(&open);
    keyring_wipe(&old_ring);
    keyring_wipe(&new_ring);
}

/* The dead-letter key's pseudonym: the value Python's hmac module gives
 * for HMAC-SHA256(HMAC-SHA256(k1, label), key), stable, apart for other
 * keys and other dead-letter keys, and holding no byte of the key. */
static void test_seal_key_pseudonym(void **state)
{
    static const char key[] = "kay@example.test";
    char a[SEAL_PSEUDONYM_MAX], b[SEAL_PSEUDONYM_MAX];
    struct keyring ring, rotated, empty;

    (void)state;
    ring_of("k1=" HEX_K1, &ring);
    ring_of("k2=" HEX_K2 "\nk1=" HEX_K1, &rotated);
    memset(&empty, 0, sizeof(empty));

    assert_int_equal(seal_key_pseudonym(&ring, key, strlen(key), a), 0);
    assert_string_equal(a, "k1:b083cf4c0899a4bf24d7beaeb4d391f2");
    assert_int_equal(seal_key_pseudonym(&ring, key, strlen(key), b), 0);
    assert_string_equal(a, b);
    assert_null(strstr(a, "kay"));

    /* One byte more, or another current key: another pseudonym. */
    assert_int_equal(seal_key_pseudonym(&ring, key, strlen(key) + 1, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(seal_key_pseudonym(&rotated, key, strlen(key), b), 0);
    assert_int_equal(strncmp(b, "k2:", 3), 0);
    assert_string_not_equal(a + 3, b + 3);

    assert_int_equal(seal_key_pseudonym(&empty, key, strlen(key), b),
                     RIFFLE_ERR_INVALID);
    keyring_wipe(&ring);
    keyring_wipe(&rotated);
}

static void test_seal_text_round_trip(void **state)
{
    static const char *const values[] = {"", "a", "ab", "abc",
                                         "+44 20 7946 0000"};
    char errstr[TESTUTIL_ERRSTR_SIZE];
    struct keyring ring;
    size_t i;

    (void)state;
    ring_of(HEX_K1, &ring);
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct buf text = {0}, open = {0};
        size_t len = strlen(values[i]);

        assert_int_equal(seal_encrypt_text(&ring, "phone", values[i], len,
                                           &text), 0);
        assert_int_equal(text.len % 4, 0);
        assert_int_equal(strlen(text.data), text.len);
        assert_int_equal(seal_decrypt_text(&ring, "phone", text.data, &open,
                                           errstr, sizeof(errstr)), 0);
        assert_int_equal(open.len, len);
        assert_string_equal(open.data, values[i]);
        buf_reset(&open);
        assert_int_equal(seal_decrypt_text(&ring, "email", text.data, &open,
                                           errstr, sizeof(errstr)),
                         RIFFLE_ERR_DECODE);
        buf_free(&text);
        buf_free(&open);
    }
    assert_int_equal(seal_decrypt_text(&ring, "phone", "abc", NULL, errstr,
                                       sizeof(errstr)), RIFFLE_ERR_DECODE);
    assert_int_equal(seal_decrypt_text(&ring, "phone", "!!!!", NULL, errstr,
                                       sizeof(errstr)), RIFFLE_ERR_DECODE);
    keyring_wipe(&ring);
}

static void test_seal_empty_ring_refused(void **state)
{
    struct keyring ring;
    struct buf out = {0};

    (void)state;
    memset(&ring, 0, sizeof(ring));
    assert_int_equal(seal_encrypt(&ring, CONTEXT, "x", 1, NULL, &out),
                     RIFFLE_ERR_INVALID);
    buf_free(&out);
}

/* --- keyrings --------------------------------------------------------- */

static int parse_error(const char *text, char *errstr)
{
    struct keyring ring;

    return keyring_parse(text, strlen(text), "k1", &ring, errstr,
                         TESTUTIL_ERRSTR_SIZE);
}

static void test_keyring_parse_entries(void **state)
{
    struct keyring ring;

    (void)state;
    ring_of("# rotated 2026-12\n  new=" HEX_K2 "  \n\n,k1=" HEX_K1 "\n",
            &ring);
    assert_int_equal(ring.count, 2);
    assert_string_equal(ring.id[0], "new");
    assert_string_equal(ring.id[1], "k1");
    assert_int_equal(ring.key[0][0], 0xff);
    assert_int_equal(ring.key[1][31], 0x1f);
    assert_ptr_equal(keyring_find(&ring, "k1"), ring.key[1]);
    assert_null(keyring_find(&ring, "k"));
    keyring_wipe(&ring);
    assert_int_equal(ring.count, 0);
}

/* The hex decoder keys and the pseudonymization key share: either case,
 * and nothing written when a digit is not hex. */
static void test_keyring_decode_hex(void **state)
{
    unsigned char out[4] = {7, 7, 7, 7};

    (void)state;
    assert_int_equal(keyring_decode_hex("00fF10aB", 8, out), 0);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0x10);
    assert_int_equal(out[3], 0xab);
    memset(out, 7, sizeof(out));
    assert_int_equal(keyring_decode_hex("0102030g", 8, out), -1);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[3], 7);
}

static void test_keyring_parse_refuses_bad_entries(void **state)
{
    char errstr[TESTUTIL_ERRSTR_SIZE], many[16 * 80] = "";
    int i;

    (void)state;
    /* 63 and 65 digits, a non-hex digit: never quoted back. */
    assert_int_equal(parse_error(HEX_K1 "0", errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "key 1: expected 64 hex digits");
    assert_lacks(errstr, HEX_K1);
    assert_int_equal(parse_error(HEX_K1 + 1, errstr), RIFFLE_ERR_CFG);
    assert_int_equal(parse_error("a=000102030405060708090a0b0c0d0e0f"
                                 "101112131415161718191a1b1c1d1e1g", errstr),
                     RIFFLE_ERR_CFG);
    assert_int_equal(parse_error("a=" HEX_K1 "\na=" HEX_K2, errstr),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "key 2: key id \"a\" appears twice");
    assert_int_equal(parse_error("=" HEX_K1, errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "key id must be");
    assert_int_equal(parse_error("# only a comment\n", errstr),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "no key");
    for (i = 0; i < KEYRING_MAX_KEYS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many),
                 "id%d=%s\n", i, HEX_K1);
    assert_int_equal(parse_error(many, errstr), 0);
    strcat(many, "one-more=" HEX_K1);
    assert_int_equal(parse_error(many, errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "more than 8 keys");

    /* Well-formed but guessable: zeros and a short repeated pattern. */
    assert_int_equal(parse_error("z=" "0000000000000000000000000000000000000000"
                                 "000000000000000000000007", errstr),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "key 1: only 2 distinct byte values, at least 16");
    assert_lacks(errstr, "0000");
    assert_int_equal(parse_error(HEX_K1 "\nr=0102030405060708090a0b0c0d0e"
                                 "0f010102030405060708090a0b0c0d0e0f01",
                                 errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "key 2: only 15 distinct byte values");
}

struct fixture {
    char dir[64], path[128];
    struct cfg cfg;
    struct cfg_key_source src;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx || !temp_dir_new(fx->dir, sizeof(fx->dir), "seal"))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/dlq.key", fx->dir);
    snprintf(fx->cfg.path, sizeof(fx->cfg.path), "pipeline.cfg");
    snprintf(fx->src.env, sizeof(fx->src.env), "%s", KEY_ENV);
    snprintf(fx->src.id, sizeof(fx->src.id), "d1");
    unsetenv(KEY_ENV);
    unsetenv(KEY_ENV_FILE);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    unsetenv(KEY_ENV);
    unsetenv(KEY_ENV_FILE);
    free(fx);
    return 0;
}

static int load(struct fixture *fx, struct keyring *ring, char *errstr)
{
    return keyring_load(&fx->cfg, &fx->src, 7, "privacy.dead_letter_key_file",
                        ring, errstr, TESTUTIL_ERRSTR_SIZE);
}

static void test_keyring_load_sources_in_order(void **state)
{
    struct fixture *fx = *state;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    struct keyring ring;

    assert_int_equal(load(fx, &ring, errstr), 0);
    assert_int_equal(ring.count, 0); /* nothing configured */

    write_text(fx->path, HEX_K1 "\n");
    snprintf(fx->src.file, sizeof(fx->src.file), "%s", fx->path);
    assert_int_equal(load(fx, &ring, errstr), 0);
    assert_string_equal(ring.id[0], "d1");
    assert_int_equal(ring.key[0][1], 0x01);

    assert_int_equal(setenv(KEY_ENV_FILE, fx->path, 1), 0);
    write_text(fx->path, "f=" HEX_K2);
    assert_int_equal(load(fx, &ring, errstr), 0);
    assert_string_equal(ring.id[0], "f");

    assert_int_equal(setenv(KEY_ENV, "e=" HEX_K1, 1), 0);
    assert_int_equal(load(fx, &ring, errstr), 0);
    assert_string_equal(ring.id[0], "e");
    keyring_wipe(&ring);
}

static void test_keyring_load_errors_name_source_not_key(void **state)
{
    struct fixture *fx = *state;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    struct keyring ring;

    snprintf(fx->src.file, sizeof(fx->src.file), "%s/none.key", fx->dir);
    assert_int_equal(load(fx, &ring, errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "pipeline.cfg:7: privacy.dead_letter_key_file: ");
    assert_contains(errstr, "none.key: No such file");

    assert_int_equal(setenv(KEY_ENV, HEX_K1 "ab", 1), 0);
    assert_int_equal(load(fx, &ring, errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "environment variable " KEY_ENV ": key 1");
    assert_lacks(errstr, HEX_K1);

    assert_int_equal(unsetenv(KEY_ENV), 0);
    write_text(fx->path, "short");
    assert_int_equal(setenv(KEY_ENV_FILE, fx->path, 1), 0);
    assert_int_equal(load(fx, &ring, errstr), RIFFLE_ERR_CFG);
    assert_contains(errstr, "environment variable " KEY_ENV_FILE ": ");
    assert_contains(errstr, "dlq.key: key 1: expected 64 hex digits");
    assert_lacks(errstr, "short");
}

/* A pipeline with a personal field and no dead-letter key is refused,
 * naming the setting, the variable and how to make a key. */
static void test_keyring_dead_letter_key_required_says_how(void **state)
{
    struct fixture *fx = *state;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    struct keyring ring;

    fx->cfg.dead_letter_key = fx->src;
    fx->cfg.privacy_line = 7;
    assert_int_equal(keyring_load_dead_letter(&fx->cfg, &ring, errstr,
                                              sizeof(errstr)),
                     0);
    fx->cfg.field_count = 1;
    fx->cfg.fields[0].privacy = CFG_PRIVACY_DROP;
    assert_int_equal(keyring_load_dead_letter(&fx->cfg, &ring, errstr,
                                              sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    assert_contains(errstr, "pipeline.cfg:7: privacy.dead_letter_key_file: ");
    assert_contains(errstr, "environment variable " KEY_ENV " (64 hex");
    assert_contains(errstr, "`openssl rand -hex 32 > FILE` makes one");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_gcm_published_vectors),
        cmocka_unit_test(test_seal_gcm_refuses_altered_input),
        cmocka_unit_test(test_seal_envelope_layout),
        cmocka_unit_test(test_seal_round_trip_lengths),
        cmocka_unit_test(test_seal_nonces_differ),
        cmocka_unit_test(test_seal_refuses_wrong_context_key_and_truncation),
        cmocka_unit_test(test_seal_refuses_unprintable_key_id_unechoed),
        cmocka_unit_test(test_seal_rotation_opens_old_envelopes),
        cmocka_unit_test(test_seal_key_pseudonym),
        cmocka_unit_test(test_seal_text_round_trip),
        cmocka_unit_test(test_seal_empty_ring_refused),
        cmocka_unit_test(test_keyring_parse_entries),
        cmocka_unit_test(test_keyring_decode_hex),
        cmocka_unit_test(test_keyring_parse_refuses_bad_entries),
        cmocka_unit_test_setup_teardown(test_keyring_load_sources_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_keyring_load_errors_name_source_not_key, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_keyring_dead_letter_key_required_says_how, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
