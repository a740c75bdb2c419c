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

uint32_t hash_murmur3_32(const void *key, size_t len, uint32_t seed);

/* Bytes a key given to hash_murmur3_32_padded() must have readable from
 * its start, whatever its length. */
#define HASH_PADDED_BYTES 8

/* hash_murmur3_32(), the same value, for a key followed by readable
 * bytes: at least HASH_PADDED_BYTES from key must be readable (a longer
 * key is read only to len). Bytes past len are read but do not change
 * the value. For the feature builder's tokens, which sit in a buffer
 * with room after them. */
uint32_t hash_murmur3_32_padded(const void *key, size_t len, uint32_t seed);

/* Hash of a NUL-terminated string. */
uint32_t hash_string(const char *s, uint32_t seed);

#endif
