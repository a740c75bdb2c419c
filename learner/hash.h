/*
 * learner/hash.h - the feature hash.
 *
 * MurmurHash3 (x86, 32-bit): fast on short keys, well mixed in the low
 * bits that index the weight table, and the hash Vowpal Wabbit uses, so
 * collision rates compare directly. Pure functions; any thread.
 */
#ifndef RIFFLE_LEARNER_HASH_H
#define RIFFLE_LEARNER_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Constants of the algorithm, fixed by its specification. */
#define HASH_MURMUR3_C1 0xcc9e2d51u
#define HASH_MURMUR3_C2 0x1b873593u
#define HASH_MURMUR3_BLOCK_ROTATE 15 /* bits, per-block key rotation */
#define HASH_MURMUR3_HASH_ROTATE 13  /* bits, per-block state rotation */
#define HASH_MURMUR3_HASH_MULTIPLIER 5u
#define HASH_MURMUR3_HASH_ADDEND 0xe6546b64u
#define HASH_MURMUR3_FMIX_C1 0x85ebca6bu
#define HASH_MURMUR3_FMIX_C2 0xc2b2ae35u
#define HASH_MURMUR3_FMIX_SHIFT1 16 /* bits */
#define HASH_MURMUR3_FMIX_SHIFT2 13 /* bits */
#define HASH_MURMUR3_FMIX_SHIFT3 16 /* bits */
#define HASH_MURMUR3_BLOCK_BYTES 4  /* it consumes 32-bit blocks */
#define HASH_BITS_PER_BYTE 8

uint32_t hash_murmur3_32(const void *key, size_t len, uint32_t seed);

/* Bytes a key given to hash_murmur3_32_padded() must have readable from
 * its start, whatever its length. */
#define HASH_PADDED_BYTES 8

/* hash_murmur3_32(), the same value, for a key followed by readable
 * bytes: at least HASH_PADDED_BYTES from key must be readable (a longer
 * key is read only to len). Bytes past len are read but do not change
 * the value. For the feature builder's tokens, which sit in a buffer
 * with room after them. */
static inline uint32_t hash_murmur3_32_padded(const void *key, size_t len,
                                              uint32_t seed);

/* Hash of a NUL-terminated string. */
uint32_t hash_string(const char *s, uint32_t seed);

/* ---- the steps of the algorithm, inline for the padded variant ---- */

static inline uint32_t hash_rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t hash_mix_block(uint32_t k)
{
    k *= HASH_MURMUR3_C1;
    k = hash_rotl32(k, HASH_MURMUR3_BLOCK_ROTATE);
    k *= HASH_MURMUR3_C2;
    return k;
}

/* Final avalanche: every input bit affects every output bit. */
static inline uint32_t hash_fmix32(uint32_t h)
{
    h ^= h >> HASH_MURMUR3_FMIX_SHIFT1;
    h *= HASH_MURMUR3_FMIX_C1;
    h ^= h >> HASH_MURMUR3_FMIX_SHIFT2;
    h *= HASH_MURMUR3_FMIX_C2;
    h ^= h >> HASH_MURMUR3_FMIX_SHIFT3;
    return h;
}

/*
 * Keys of 0 to 7 bytes from one 8-byte load: the 51 tokens of a
 * synthetic event are 1 to 4 bytes, and assembling the block and tail
 * byte by byte, with the masks that keep hash_murmur3_32() free of
 * branches, was about 75 instructions a token; this is about 25, and
 * inline in the feature builder's loop. The bytes past len are loaded
 * but masked off before they mix, so they never change the value.
 */
static inline uint32_t hash_murmur3_32_padded(const void *key, size_t len,
                                              uint32_t seed)
{
    uint64_t word;
    uint32_t block, tail, h;

    if (len >= 2 * HASH_MURMUR3_BLOCK_BYTES)
        return hash_murmur3_32(key, len, seed);

    memcpy(&word, key, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word); /* blocks are little-endian */
#endif
    /* len <= 7, so the shift is at most 56 bits. */
    word &= ((uint64_t)1 << (len * HASH_BITS_PER_BYTE)) - 1;
    block = (uint32_t)word;
    tail = (uint32_t)(word >> (HASH_MURMUR3_BLOCK_BYTES * HASH_BITS_PER_BYTE));

    /* Under 4 bytes there is no block and the low word is the tail. */
    h = hash_rotl32(seed ^ hash_mix_block(block), HASH_MURMUR3_HASH_ROTATE);
    h = h * HASH_MURMUR3_HASH_MULTIPLIER + HASH_MURMUR3_HASH_ADDEND;
    if (len < HASH_MURMUR3_BLOCK_BYTES) {
        h = seed;
        tail = block;
    }
    h ^= hash_mix_block(tail); /* mix_block(0) == 0: no tail, no change */

    h ^= (uint32_t)len;
    return hash_fmix32(h);
}
#endif
