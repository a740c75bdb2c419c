/*
 * privacy/fingerprint.c - SipHash-1-3 with a 128-bit output, for the
 * pseudonym caches' lookups by a keyed fingerprint (see fingerprint.h).
 * Written from the algorithm's paper (Aumasson and Bernstein, "SipHash:
 * a fast short-input PRF", 2012) and its 128-bit variant.
 */
#include "privacy/fingerprint.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

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
    if (got == sizeof(bytes))
        fingerprint_key_set(key, bytes);
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return got == sizeof(bytes) ? 0 : RIFFLE_ERR_IO;
}

void fingerprint_key_set(struct fingerprint_key *key,
                         const unsigned char bytes[FINGERPRINT_KEY_BYTES])
{
    key->k[0] = load_le64(bytes);
    key->k[1] = load_le64(bytes + 8);
}

struct fingerprint fingerprint_of(const struct fingerprint_key *key,
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
