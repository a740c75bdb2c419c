/*
 * privacy/fingerprint.h - a keyed 128-bit fingerprint of a short value.
 *
 * The pseudonym caches (privacy/anonymize.c) look a raw personal value up
 * by its fingerprint instead of keeping the value: a memory image then
 * shows no raw value, only fingerprints under a key drawn at random for
 * each process. Two functions compute it, one per key, chosen when the
 * key is drawn: an AES-128 chain where the processor has AES
 * instructions (every x86-64 of the last decade), SipHash-1-3 elsewhere.
 * Fingerprints live only in the memory of the process that drew their
 * key, so the two never meet.
 *
 * SipHash-1-3 with its 128-bit output is Aumasson and Bernstein's
 * pseudorandom function with one compression and three finalization
 * rounds, the variant hash tables use (checked against OpenSSL's SIPHASH
 * with those rounds; 2-4's extra rounds bought no safety against inputs
 * chosen without the key). For a value of a dozen bytes it costs about
 * 195 instructions: 19.0M of the 164.8M of Adult's reader thread, three
 * pseudonymized fields a row.
 *
 * The AES chain costs about a fifth of that. The value is cut into
 * 16-byte blocks M1..Mm (the last padded with zeros; none for an empty
 * value) after a first block L holding its length, so that no value's
 * blocks are a prefix of another's. With E the AES-128 encryption under
 * the key: y0 = L, y(i) = E(y(i-1)) xor M(i), and the fingerprint is
 * E(ym) xor ym: CBC-MAC over a length block, with a feed-forward at the
 * end.
 *
 * Its collisions, for two different values chosen without the key, with
 * E taken for a random permutation (add AES's advantage as a
 * pseudorandom permutation): the first block in which the two encodings
 * differ (L, when the lengths do) gives two different inputs to E after
 * one chain. Every later input, of either value, is a fresh image of E
 * xored with a known block, equal to any given other input with
 * probability at most 1 / (2^128 - 2l), for encodings of at most l
 * blocks;
 * so some two are equal with probability below (2l)^2 / 2^128. When none
 * are, the last inputs y, y' differ and are fresh, and E(y) xor E(y') =
 * y xor y' has probability at most 1 / (2^128 - 2l). A lookup's false
 * match thus has probability below (4l^2 + 2) / 2^128: below 2^-117 for
 * values of up to 256 bytes (l = 17), far past any personal field.
 *
 * The feed-forward keeps the value from whoever also reads the key: AES
 * decrypts with the key, but E(y) xor y cannot be solved for y other
 * than by trying inputs (Davies and Meyer's construction). Such a reader
 * can test a guessed value, as with SipHash or the pseudonyms, but
 * decrypts none.
 *
 * Why 128 bits: a false match would give an event another value's
 * pseudonym, silently. Each lookup compares the two slots of one set of
 * the cache, so a false match has probability below 2 * 2^-117 = 2^-116
 * per lookup with the AES chain's bound above (about 2^-127 with
 * SipHash); even 2^64 lookups, far beyond any run, keep the chance of a
 * single one below 2^-52. With 64 bits a long-running learner (10^12
 * lookups) would have about 1 in 2^23.
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
#define FINGERPRINT_AES_ROUND_KEYS 11 /* AES-128: ten rounds and a whitening */
#define FINGERPRINT_AES_LENGTHS 64 /* E(L) kept for values shorter: 1 KiB */

struct fingerprint_key {
    uint64_t k[2]; /* SipHash's k0, k1: little-endian words of the key */
    int aes;       /* 1: the AES chain under round_key, not SipHash */
    /* AES-128's expanded key, aligned for the instructions that read a
     * round key from memory; and the encrypted length blocks E(L) of
     * the values shorter than FINGERPRINT_AES_LENGTHS, the chain's first
     * step made once. */
    _Alignas(16) unsigned char round_key[FINGERPRINT_AES_ROUND_KEYS][16];
    _Alignas(16) unsigned char length_block[FINGERPRINT_AES_LENGTHS][16];
};

struct fingerprint {
    uint64_t w[2]; /* the 16 output bytes as little-endian words */
};

/* Fills key with FINGERPRINT_KEY_BYTES from the kernel's CSPRNG
 * (getrandom(2), which waits only until it is first seeded at boot): for
 * the AES chain when the processor has AES instructions, else for
 * SipHash. Returns 0 or RIFFLE_ERR_IO when the generator fails. */
int fingerprint_key_random(struct fingerprint_key *key);

/* Sets key from 16 given bytes, for SipHash (its reference vectors). */
void fingerprint_key_set(struct fingerprint_key *key,
                         const unsigned char bytes[FINGERPRINT_KEY_BYTES]);

/* Sets key from 16 given bytes, for the AES chain. Returns 0, or -1 with
 * key unchanged when the processor has no AES instructions. */
int fingerprint_key_set_aes(struct fingerprint_key *key,
                            const unsigned char bytes[FINGERPRINT_KEY_BYTES]);

/* The fingerprint of len bytes at data under key: the AES chain's, or
 * SipHash-1-3-128's, as the key was set. */
struct fingerprint fingerprint_of(const struct fingerprint_key *key,
                                  const void *data, size_t len);

#endif
