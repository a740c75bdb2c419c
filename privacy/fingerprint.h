/*
 * privacy/fingerprint.h - a keyed 128-bit fingerprint of a short value.
 *
 * The pseudonym caches (privacy/anonymize.c) look a raw personal value up
 * by its fingerprint instead of keeping the value: a memory image then
 * shows no raw value, only fingerprints under a key drawn at random for
 * each process. The fingerprint is SipHash-1-3 with its 128-bit output
 * (Aumasson and Bernstein's pseudorandom function with one compression
 * and three finalization rounds, the variant hash tables use; checked
 * against OpenSSL's SIPHASH with those rounds): it keys a lookup against
 * inputs chosen without the key, where 2-4's extra rounds bought no
 * safety and cost Adult's reader thread 24.3M instead of 19.0M
 * instructions (three pseudonymized fields a row). For inputs of a few
 * dozen bytes it costs one to two hundred instructions, where
 * HMAC-SHA256, which the pseudonym itself needs, costs two SHA-256
 * passes.
 *
 * Why 128 bits: a false match would give an event another value's
 * pseudonym, silently. Each lookup compares one slot, so a false match
 * has probability 2^-128 per lookup; even 2^64 lookups, far beyond any
 * run, keep the chance of a single one below 2^-64. With 64 bits a
 * long-running learner (10^12 lookups) would have about 1 in 2^24.
 *
 * The key sits in memory beside the fingerprints, like the pseudonym
 * key beside the pseudonyms: whoever reads both can test a guessed value,
 * as with the pseudonyms themselves, but reads no value directly.
 */
#ifndef RIFFLE_PRIVACY_FINGERPRINT_H
#define RIFFLE_PRIVACY_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define FINGERPRINT_KEY_BYTES 16

struct fingerprint_key {
    uint64_t k[2]; /* SipHash's k0, k1: little-endian words of the key */
};

struct fingerprint {
    uint64_t w[2]; /* the 16 output bytes as little-endian words */
};

/* Fills key with FINGERPRINT_KEY_BYTES from the kernel's CSPRNG
 * (getrandom(2), which waits only until it is first seeded at boot).
 * Returns 0 or RIFFLE_ERR_IO when the generator fails. */
int fingerprint_key_random(struct fingerprint_key *key);

/* Sets key from 16 given bytes (for the reference vectors). */
void fingerprint_key_set(struct fingerprint_key *key,
                         const unsigned char bytes[FINGERPRINT_KEY_BYTES]);

/* SipHash-1-3-128 of len bytes at data under key. */
struct fingerprint fingerprint_of(const struct fingerprint_key *key,
                                  const void *data, size_t len);

#endif
