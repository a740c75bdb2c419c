/*
 * privacy/seal.h - AES-256-GCM envelopes: values only key holders can
 * open, and that nobody can alter unnoticed.
 *
 * Used for fields marked personal = "encrypt" and for the original bytes
 * of dead letters. An envelope is
 *
 *     version (1 byte, 1) | id length n (1 byte) | key id (n bytes)
 *     | nonce (12 bytes) | ciphertext (as long as the plaintext)
 *     | tag (16 bytes)
 *
 * and the additional authenticated data is the first 2 + n bytes followed
 * by a context string (a field name, "riffle.dead_letter"), so an envelope
 * moved to another field or another purpose fails to open. Nonces are 96
 * random bits from OpenSSL's CSPRNG: a key should seal fewer than 2^32
 * values (NIST SP 800-38D, 8.3) before it is rotated. The text form of an
 * envelope, for string fields, is its standard base64 (RFC 4648).
 *
 * Stateless apart from OpenSSL: any thread may call these functions.
 */
#ifndef RIFFLE_PRIVACY_SEAL_H
#define RIFFLE_PRIVACY_SEAL_H

#include <stddef.h>

#include "common/buf.h"
#include "privacy/keyring.h"

#define SEAL_VERSION 1
#define SEAL_NONCE_BYTES 12
#define SEAL_TAG_BYTES 16
#define SEAL_DEAD_LETTER_CONTEXT "riffle.dead_letter"
#define SEAL_DEAD_LETTER_KEY_CONTEXT "riffle.dead_letter.key"
/* label of the subkey behind seal_key_pseudonym() */
#define SEAL_KEY_PSEUDONYM_LABEL "riffle.dead_letter.key.pseudonym"
#define SEAL_PSEUDONYM_HEX 32 /* hex digits kept: 128 bits of HMAC */
/* bytes seal_key_pseudonym() writes at most, NUL included */
#define SEAL_PSEUDONYM_MAX (KEYRING_ID_MAX + 1 + SEAL_PSEUDONYM_HEX + 1)

/* Raw AES-256-GCM with a caller-chosen IV, as the test vectors of the
 * GCM specification are written. Encrypting writes len bytes to out and
 * the tag to tag; decrypting reads the tag and returns RIFFLE_ERR_DECODE
 * when it does not match (out is then zeroed). Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int seal_gcm_encrypt(const unsigned char *key, const unsigned char *iv,
                     size_t iv_len, const void *aad, size_t aad_len,
                     const void *in, size_t len, unsigned char *out,
                     unsigned char *tag);
int seal_gcm_decrypt(const unsigned char *key, const unsigned char *iv,
                     size_t iv_len, const void *aad, size_t aad_len,
                     const void *in, size_t len, const unsigned char *tag,
                     unsigned char *out);

/* Appends the envelope of plain under the ring's current key to out.
 * nonce may be NULL (a random one is drawn) or SEAL_NONCE_BYTES given by
 * a test. Returns 0, RIFFLE_ERR_INVALID for an empty ring, or
 * RIFFLE_ERR_NOMEM. */
int seal_encrypt(const struct keyring *ring, const char *context,
                 const void *plain, size_t len, const unsigned char *nonce,
                 struct buf *out);

/* Opens an envelope with whichever key of ring its id names and appends
 * the plaintext to out. Returns 0; RIFFLE_ERR_DECODE with errstr when it
 * is truncated, of another version, sealed under a key id the ring does
 * not hold, or fails authentication (wrong key, context or bytes); or
 * RIFFLE_ERR_NOMEM. */
int seal_decrypt(const struct keyring *ring, const char *context,
                 const void *sealed, size_t len, struct buf *out,
                 char *errstr, size_t errstr_size);

/* A stand-in for len bytes of key (a message's Kafka key) that is the
 * same for the same bytes under the same current key, so messages that
 * shared a key still share a partition, yet reveals nothing of it:
 * "<key id>:" and SEAL_PSEUDONYM_HEX hex digits of HMAC-SHA256 under a
 * subkey, itself HMAC-SHA256(current key, SEAL_KEY_PSEUDONYM_LABEL), so
 * the pseudonym cannot be used to forge or open an envelope. Changes
 * when the ring's current key does. out holds SEAL_PSEUDONYM_MAX bytes.
 * Returns 0, RIFFLE_ERR_INVALID for an empty ring, or RIFFLE_ERR_NOMEM. */
int seal_key_pseudonym(const struct keyring *ring, const void *key,
                       size_t len, char out[SEAL_PSEUDONYM_MAX]);

/* The text form: seal_encrypt() then base64, appended to out. */
int seal_encrypt_text(const struct keyring *ring, const char *context,
                      const void *plain, size_t len, struct buf *out);

/* Opens the text form; errors as seal_decrypt(), plus RIFFLE_ERR_DECODE
 * for text that is not base64. */
int seal_decrypt_text(const struct keyring *ring, const char *context,
                      const char *text, struct buf *out, char *errstr,
                      size_t errstr_size);

#endif
