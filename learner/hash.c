/*
 * learner/hash.c - MurmurHash3 x86_32, the feature hash.
 *
 * Written from Austin Appleby's public-domain description (SMHasher,
 * MurmurHash3_x86_32). Blocks are assembled byte by byte in little-endian
 * order, so the result is the same on every host, matches the reference
 * implementation on x86 (and Python's mmh3), and never performs an
 * unaligned load; only hash_murmur3_32_padded() (inline, in hash.h)
 * reads past the key, into bytes its caller promises are there. Does
 * not mask the result to a table size; the caller does that. Pure
 * functions, callable from any thread.
 */
#include "learner/hash.h"

#include <string.h>

/* The algorithm's constants and its mixing steps are in hash.h, shared
 * with the inline padded variant. */

/* Reads 4 bytes as a little-endian word; no alignment needed. */
static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << HASH_BITS_PER_BYTE) |
           ((uint32_t)p[2] << (2 * HASH_BITS_PER_BYTE)) |
           ((uint32_t)p[3] << (3 * HASH_BITS_PER_BYTE));
}

/* Keys shorter than this take short_hash(). */
#define MURMUR3_SHORT_KEY_BYTES (2 * HASH_MURMUR3_BLOCK_BYTES)

/* Stands in for a missing block or tail: zero bytes mix to zero. */
static const unsigned char zero_bytes[HASH_MURMUR3_BLOCK_BYTES];

/*
 * The same hash for keys of 0 to 7 bytes (at most one block), with no
 * branch on the length: categorical tokens are mostly this short and
 * their lengths vary from one field to the next, so the block loop and
 * the tail switch of the general path each mispredicted about once a
 * token, which cost more than the hashing. A missing block or tail is
 * read from zero_bytes instead, and selected away (block) or mixes to
 * zero (tail: hash_mix_block(0) == 0), so no byte past len is read.
 */
static uint32_t short_hash(const unsigned char *data, size_t len,
                           uint32_t seed)
{
    size_t nblocks = len / HASH_MURMUR3_BLOCK_BYTES; /* 0 or 1 */
    size_t rest = len % HASH_MURMUR3_BLOCK_BYTES;
    /* All ones when there is a block, a tail; masks rather than ?:, which
     * the compiler turns back into the branches this function avoids. */
    uintptr_t has_block = 0 - (uintptr_t)nblocks;
    uintptr_t has_tail = 0 - (uintptr_t)(rest != 0);
    const unsigned char *block = (const unsigned char *)(
        ((uintptr_t)data & has_block) |
        ((uintptr_t)zero_bytes & ~has_block));
    const unsigned char *tail = (const unsigned char *)(
        ((uintptr_t)(data + nblocks * HASH_MURMUR3_BLOCK_BYTES) & has_tail) |
        ((uintptr_t)zero_bytes & ~has_tail));
    uint32_t k, h;

    h = hash_rotl32(seed ^ hash_mix_block(load_le32(block)),
                    HASH_MURMUR3_HASH_ROTATE);
    h = h * HASH_MURMUR3_HASH_MULTIPLIER + HASH_MURMUR3_HASH_ADDEND;
    h = (h & (uint32_t)has_block) | (seed & ~(uint32_t)has_block);

    /* Tail byte i is used when i < rest; a byte not used reads tail[0],
     * which exists (or is zero_bytes), and is masked to zero. */
    k = (uint32_t)tail[0];
    k |= ((uint32_t)tail[rest > 1] << HASH_BITS_PER_BYTE) &
         (0u - (uint32_t)(rest > 1));
    k |= ((uint32_t)tail[rest > 2 ? 2 : 0] << (2 * HASH_BITS_PER_BYTE)) &
         (0u - (uint32_t)(rest > 2));
    h ^= hash_mix_block(k);

    h ^= (uint32_t)len;
    return hash_fmix32(h);
}

uint32_t hash_murmur3_32(const void *key, size_t len, uint32_t seed)
{
    const unsigned char *data = key;
    size_t nblocks = len / HASH_MURMUR3_BLOCK_BYTES;
    const unsigned char *tail = data + nblocks * HASH_MURMUR3_BLOCK_BYTES;
    uint32_t h = seed;
    uint32_t k = 0;
    size_t i;

    if (len < MURMUR3_SHORT_KEY_BYTES)
        return short_hash(data, len, seed);

    for (i = 0; i < nblocks; i++) {
        h ^= hash_mix_block(load_le32(data + i * HASH_MURMUR3_BLOCK_BYTES));
        h = hash_rotl32(h, HASH_MURMUR3_HASH_ROTATE);
        h = h * HASH_MURMUR3_HASH_MULTIPLIER + HASH_MURMUR3_HASH_ADDEND;
    }

    /* The 1-3 trailing bytes form a partial little-endian block. */
    switch (len % HASH_MURMUR3_BLOCK_BYTES) {
    case 3:
        k ^= (uint32_t)tail[2] << (2 * HASH_BITS_PER_BYTE);
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << HASH_BITS_PER_BYTE;
        /* fall through */
    case 1:
        k ^= (uint32_t)tail[0];
        h ^= hash_mix_block(k);
        break;
    default:
        break;
    }

    /* The reference takes an int length; keys of 4 GiB or more are mixed
     * with the length modulo 2^32, as every 32-bit port does. */
    h ^= (uint32_t)len;
    return hash_fmix32(h);
}

uint32_t hash_string(const char *s, uint32_t seed)
{
    return hash_murmur3_32(s, strlen(s), seed);
}
