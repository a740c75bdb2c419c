/*
 * privacy/fingerprint.c - the pseudonym caches' keyed fingerprint, see
 * fingerprint.h: an AES-128 chain with AES-NI, or SipHash-1-3 with a
 * 128-bit output, written from the algorithm's paper (Aumasson and
 * Bernstein, "SipHash: a fast short-input PRF", 2012) and its 128-bit
 * variant. AES's key expansion follows Intel's AES-NI white paper
 * (Gueron, "Intel Advanced Encryption Standard (AES) New Instructions
 * Set", 2010). Any thread; a key is only read.
 */
#include "privacy/fingerprint.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <wmmintrin.h>
#define FINGERPRINT_HAVE_AESNI 1
#endif

#include "common/err.h"

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Little-endian 8 bytes as a word, whatever the host's byte order. */
static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
           (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL64(s->v2, 32);
}

/* One message word: one compression round (the "1" of 1-3). */
static inline void sip_absorb(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    s->v0 ^= m;
}

/* The kernel's generator, not OpenSSL's: 16 bytes need no DRBG, whose
 * first use seeds it for 7.9M instructions, a sixth of a click-through
 * run's learner thread. */
int fingerprint_key_random(struct fingerprint_key *key)
{
    unsigned char bytes[FINGERPRINT_KEY_BYTES];
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(bytes)) {
        n = getrandom(bytes + got, sizeof(bytes) - got, 0);
        if (n < 0 && errno != EINTR)
            break;
        got += n > 0 ? (size_t)n : 0;
    }
    if (got == sizeof(bytes) && fingerprint_key_set_aes(key, bytes) != 0)
        fingerprint_key_set(key, bytes);
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return got == sizeof(bytes) ? 0 : RIFFLE_ERR_IO;
}

void fingerprint_key_set(struct fingerprint_key *key,
                         const unsigned char bytes[FINGERPRINT_KEY_BYTES])
{
    key->k[0] = load_le64(bytes);
    key->k[1] = load_le64(bytes + 8);
    key->aes = 0;
}

#if defined(FINGERPRINT_HAVE_AESNI)

/* One step of AES-128's key expansion: the next round key from k and
 * aeskeygenassist's word t. */
__attribute__((target("aes"))) static inline __m128i
expand_step(__m128i k, __m128i t)
{
    t = _mm_shuffle_epi32(t, 0xff);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, t);
}

/* aeskeygenassist takes its round constant as an immediate. */
#define EXPAND(i, rcon)                                                     \
    k[i] = expand_step(k[(i) - 1],                                         \
                       _mm_aeskeygenassist_si128(k[(i) - 1], (rcon)))

__attribute__((target("aes"))) static void
aes_expand(struct fingerprint_key *key, const unsigned char *bytes)
{
    __m128i k[FINGERPRINT_AES_ROUND_KEYS];
    size_t i;

    k[0] = _mm_loadu_si128((const __m128i *)(const void *)bytes);
    EXPAND(1, 0x01);
    EXPAND(2, 0x02);
    EXPAND(3, 0x04);
    EXPAND(4, 0x08);
    EXPAND(5, 0x10);
    EXPAND(6, 0x20);
    EXPAND(7, 0x40);
    EXPAND(8, 0x80);
    EXPAND(9, 0x1b);
    EXPAND(10, 0x36);
    for (i = 0; i < FINGERPRINT_AES_ROUND_KEYS; i++)
        _mm_store_si128((__m128i *)(void *)key->round_key[i], k[i]);
    OPENSSL_cleanse(k, sizeof(k));
}

#undef EXPAND

/* The n < 16 bytes at p as a block, zeros after them, assembled in
 * registers from loads that stay within the n bytes (overlapping where
 * n is not a power of two): no copy of the value on the stack. */
static inline __m128i load_partial(const unsigned char *p, size_t n)
{
    uint64_t lo = 0, hi = 0;

    if (n >= 8) {
        lo = load_le64(p);
        hi = n > 8 ? load_le64(p + n - 8) >> (8 * (16 - n)) : 0;
    } else if (n >= 4) {
        uint32_t a, b;

        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        lo = (uint64_t)a | (uint64_t)b << (8 * (n - 4));
    } else if (n > 0) {
        lo = (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
             (uint64_t)p[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

__attribute__((target("aes"))) static inline __m128i
aes_encrypt(const __m128i *k, __m128i x)
{
    int r;

    x = _mm_xor_si128(x, k[0]);
    for (r = 1; r < FINGERPRINT_AES_ROUND_KEYS - 1; r++)
        x = _mm_aesenc_si128(x, k[r]);
    return _mm_aesenclast_si128(x, k[FINGERPRINT_AES_ROUND_KEYS - 1]);
}

/* The AES chain of fingerprint.h: y = L, then y = E(y) xor M for each
 * block M of the value, and E(y) xor y; E(L) from the key's table when
 * the value is short. The round keys are read from the key, aligned:
 * each AES instruction takes its round key from memory. */
__attribute__((target("aes"))) static struct fingerprint
fingerprint_aes(const struct fingerprint_key *key, const unsigned char *p,
                size_t len)
{
    const __m128i *k = (const __m128i *)(const void *)key->round_key;
    __m128i y, e;
    struct fingerprint fp;
    size_t i;

    if (len < FINGERPRINT_AES_LENGTHS)
        e = _mm_load_si128((const __m128i *)(const void *)
                               key->length_block[len]);
    else
        e = aes_encrypt(k, _mm_set_epi64x(0, (long long)len));
    if (len == 0) { /* E(L) xor L, and L is zero */
        _mm_storeu_si128((__m128i *)(void *)fp.w, e);
        return fp;
    }
    for (i = 0; i + 16 < len; i += 16) {
        y = _mm_xor_si128(e, _mm_loadu_si128((const __m128i *)(const void *)
                                                 (p + i)));
        e = aes_encrypt(k, y);
    }
    /* The last block, whole or a part. */
    y = _mm_xor_si128(e, len - i == 16
                             ? _mm_loadu_si128((const __m128i *)(const void *)
                                                   (p + i))
                             : load_partial(p + i, len - i));
    y = _mm_xor_si128(aes_encrypt(k, y), y);
    _mm_storeu_si128((__m128i *)(void *)fp.w, y);
    return fp;
}

/* The length blocks' images E(L), once the round keys are set. */
__attribute__((target("aes"))) static void
aes_length_blocks(struct fingerprint_key *key)
{
    const __m128i *k = (const __m128i *)(const void *)key->round_key;
    size_t len;

    for (len = 0; len < FINGERPRINT_AES_LENGTHS; len++)
        _mm_store_si128((__m128i *)(void *)key->length_block[len],
                        aes_encrypt(k, _mm_set_epi64x(0, (long long)len)));
}

/* Not itself compiled for AES: it decides whether AES may run. */
int fingerprint_key_set_aes(struct fingerprint_key *key,
                            const unsigned char bytes[FINGERPRINT_KEY_BYTES])
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("aes"))
        return -1;
    aes_expand(key, bytes);
    aes_length_blocks(key);
    key->k[0] = key->k[1] = 0;
    key->aes = 1;
    return 0;
}

#else

int fingerprint_key_set_aes(struct fingerprint_key *key,
                            const unsigned char bytes[FINGERPRINT_KEY_BYTES])
{
    (void)key;
    (void)bytes;
    return -1;
}

#endif

static struct fingerprint fingerprint_siphash(const struct fingerprint_key *key,
                                              const void *data, size_t len)
{
    const unsigned char *p = data;
    struct sip_state s = {
        0x736f6d6570736575ULL ^ key->k[0],
        0x646f72616e646f6dULL ^ key->k[1] ^ 0xee, /* 128-bit output */
        0x6c7967656e657261ULL ^ key->k[0],
        0x7465646279746573ULL ^ key->k[1],
    };
    uint64_t last = (uint64_t)len << 56;
    struct fingerprint fp;
    size_t i, tail = len & 7;
    int r;

    for (i = 0; i + 8 <= len; i += 8)
        sip_absorb(&s, load_le64(p + i));
    /* The last 0 to 7 bytes, in the low bytes of the length's word. */
    for (r = (int)tail - 1; r >= 0; r--)
        last |= (uint64_t)p[i + (size_t)r] << (8 * r);
    sip_absorb(&s, last);

    /* Three finalization rounds (the "3") per 64-bit half. */
    s.v2 ^= 0xee;
    for (r = 0; r < 3; r++)
        sip_round(&s);
    fp.w[0] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
    s.v1 ^= 0xdd;
    for (r = 0; r < 3; r++)
        sip_round(&s);
    fp.w[1] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
    return fp;
}

struct fingerprint fingerprint_of(const struct fingerprint_key *key,
                                  const void *data, size_t len)
{
#if defined(FINGERPRINT_HAVE_AESNI)
    if (key->aes)
        return fingerprint_aes(key, data, len);
#endif
    return fingerprint_siphash(key, data, len);
}
