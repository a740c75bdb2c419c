/*
 * learner/hash.c - MurmurHash3 x86_32, the feature hash.
 *
 * Written from Austin Appleby's public-domain description (SMHasher,
 * MurmurHash3_x86_32). Blocks are assembled byte by byte in little-endian
 * order, so the result is the same on every host, matches the reference
 * implementation on x86 (and Python's mmh3), and never performs an
 * unaligned load; only hash_murmur3_32_padded() reads past the key, into
 * bytes its caller promises are there. Does not mask the result to a
 * table size; the caller does that. Pure functions, callable from any
 * thread.
 */
#include "learner/hash.h"

#include <string.h>

/* Constants of the algorithm, fixed by its specification. */
#define MURMUR3_C1 0xcc9e2d51u
#define MURMUR3_C2 0x1b873593u
#define MURMUR3_BLOCK_ROTATE 15   /* bits, per-block key rotation */
#define MURMUR3_HASH_ROTATE 13    /* bits, per-block state rotation */
#define MURMUR3_HASH_MULTIPLIER 5u
#define MURMUR3_HASH_ADDEND 0xe6546b64u
#define MURMUR3_FMIX_C1 0x85ebca6bu
#define MURMUR3_FMIX_C2 0xc2b2ae35u
#define MURMUR3_FMIX_SHIFT1 16    /* bits */
#define MURMUR3_FMIX_SHIFT2 13    /* bits */
#define MURMUR3_FMIX_SHIFT3 16    /* bits */

#define MURMUR3_BLOCK_BYTES 4     /* the algorithm consumes 32-bit blocks */
#define BITS_PER_BYTE 8

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* Reads 4 bytes as a little-endian word; no alignment needed. */
static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << BITS_PER_BYTE) |
           ((uint32_t)p[2] << (2 * BITS_PER_BYTE)) |
           ((uint32_t)p[3] << (3 * BITS_PER_BYTE));
}

static uint32_t mix_block(uint32_t k)
{
    k *= MURMUR3_C1;
    k = rotl32(k, MURMUR3_BLOCK_ROTATE);
    k *= MURMUR3_C2;
    return k;
}

/* Final avalanche: every input bit affects every output bit. */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> MURMUR3_FMIX_SHIFT1;
    h *= MURMUR3_FMIX_C1;
    h ^= h >> MURMUR3_FMIX_SHIFT2;
    h *= MURMUR3_FMIX_C2;
    h ^= h >> MURMUR3_FMIX_SHIFT3;
    return h;
}

/* Keys shorter than this take short_hash(). */
#define MURMUR3_SHORT_KEY_BYTES (2 * MURMUR3_BLOCK_BYTES)

/* Stands in for a missing block or tail: zero bytes mix to zero. */
static const unsigned char zero_bytes[MURMUR3_BLOCK_BYTES];

/*
 * The same hash for keys of 0 to 7 bytes (at most one block), with no
 * branch on the length: categorical tokens are mostly this short and
 * their lengths vary from one field to the next, so the block loop and
 * the tail switch of the general path each mispredicted about once a
 * token, which cost more than the hashing. A missing block or tail is
 * read from zero_bytes instead, and selected away (block) or mixes to
 * zero (tail: mix_block(0) == 0), so no byte past len is read.
 */
static uint32_t short_hash(const unsigned char *data, size_t len,
                           uint32_t seed)
{
    size_t nblocks = len / MURMUR3_BLOCK_BYTES; /* 0 or 1 */
    size_t rest = len % MURMUR3_BLOCK_BYTES;
    /* All ones when there is a block, a tail; masks rather than ?:, which
     * the compiler turns back into the branches this function avoids. */
    uintptr_t has_block = 0 - (uintptr_t)nblocks;
    uintptr_t has_tail = 0 - (uintptr_t)(rest != 0);
    const unsigned char *block = (const unsigned char *)(
        ((uintptr_t)data & has_block) |
        ((uintptr_t)zero_bytes & ~has_block));
    const unsigned char *tail = (const unsigned char *)(
        ((uintptr_t)(data + nblocks * MURMUR3_BLOCK_BYTES) & has_tail) |
        ((uintptr_t)zero_bytes & ~has_tail));
    uint32_t k, h;

    h = rotl32(seed ^ mix_block(load_le32(block)), MURMUR3_HASH_ROTATE);
    h = h * MURMUR3_HASH_MULTIPLIER + MURMUR3_HASH_ADDEND;
    h = (h & (uint32_t)has_block) | (seed & ~(uint32_t)has_block);

    /* Tail byte i is used when i < rest; a byte not used reads tail[0],
     * which exists (or is zero_bytes), and is masked to zero. */
    k = (uint32_t)tail[0];
    k |= ((uint32_t)tail[rest > 1] << BITS_PER_BYTE) &
         (0u - (uint32_t)(rest > 1));
    k |= ((uint32_t)tail[rest > 2 ? 2 : 0] << (2 * BITS_PER_BYTE)) &
         (0u - (uint32_t)(rest > 2));
    h ^= mix_block(k);

    h ^= (uint32_t)len;
    return fmix32(h);
}

uint32_t hash_murmur3_32(const void *key, size_t len, uint32_t seed)
{
    const unsigned char *data = key;
    size_t nblocks = len / MURMUR3_BLOCK_BYTES;
    const unsigned char *tail = data + nblocks * MURMUR3_BLOCK_BYTES;
    uint32_t h = seed;
    uint32_t k = 0;
    size_t i;

    if (len < MURMUR3_SHORT_KEY_BYTES)
        return short_hash(data, len, seed);

    for (i = 0; i < nblocks; i++) {
        h ^= mix_block(load_le32(data + i * MURMUR3_BLOCK_BYTES));
        h = rotl32(h, MURMUR3_HASH_ROTATE);
        h = h * MURMUR3_HASH_MULTIPLIER + MURMUR3_HASH_ADDEND;
    }

    /* The 1-3 trailing bytes form a partial little-endian block. */
    switch (len % MURMUR3_BLOCK_BYTES) {
    case 3:
        k ^= (uint32_t)tail[2] << (2 * BITS_PER_BYTE);
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << BITS_PER_BYTE;
        /* fall through */
    case 1:
        k ^= (uint32_t)tail[0];
        h ^= mix_block(k);
        break;
    default:
        break;
    }

    /* The reference takes an int length; keys of 4 GiB or more are mixed
     * with the length modulo 2^32, as every 32-bit port does. */
    h ^= (uint32_t)len;
    return fmix32(h);
}

/*
 * The same hash again for keys of 0 to 7 bytes, from one 8-byte load:
 * the 51 tokens of a synthetic event are 1 to 4 bytes, and assembling
 * the block and tail of short_hash() byte by byte, with the masks that
 * keep it free of branches, was about 75 instructions a token; this is
 * about 25. The bytes past len are loaded but masked off before they
 * mix, so they never change the value.
 */
static uint32_t padded_short_hash(const unsigned char *data, size_t len,
                                  uint32_t seed)
{
    uint64_t word;
    uint32_t block, tail, h;

    memcpy(&word, data, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word); /* blocks are little-endian */
#endif
    /* len <= 7, so the shift is at most 56 bits. */
    word &= ((uint64_t)1 << (len * BITS_PER_BYTE)) - 1;
    block = (uint32_t)word;
    tail = (uint32_t)(word >> (MURMUR3_BLOCK_BYTES * BITS_PER_BYTE));

    /* Under 4 bytes there is no block and the low word is the tail. */
    h = rotl32(seed ^ mix_block(block), MURMUR3_HASH_ROTATE);
    h = h * MURMUR3_HASH_MULTIPLIER + MURMUR3_HASH_ADDEND;
    if (len < MURMUR3_BLOCK_BYTES) {
        h = seed;
        tail = block;
    }
    h ^= mix_block(tail); /* mix_block(0) == 0: no tail mixes nothing */

    h ^= (uint32_t)len;
    return fmix32(h);
}

uint32_t hash_murmur3_32_padded(const void *key, size_t len, uint32_t seed)
{
    if (len < HASH_PADDED_BYTES)
        return padded_short_hash(key, len, seed);
    return hash_murmur3_32(key, len, seed);
}

uint32_t hash_string(const char *s, uint32_t seed)
{
    return hash_murmur3_32(s, strlen(s), seed);
}
