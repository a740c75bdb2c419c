/*
 * privacy/seal.c - AES-256-GCM envelopes with OpenSSL's EVP interface,
 * see seal.h.
 */
#include "privacy/seal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/err.h"

#define SEAL_HEADER_MAX (2 + KEYRING_ID_MAX) /* version, id length, id */

/* One GCM pass; encrypt writes the tag, decrypt checks it. Returns 0,
 * RIFFLE_ERR_DECODE (tag mismatch) or RIFFLE_ERR_NOMEM. */
static int gcm(int encrypt, const unsigned char *key, const unsigned char *iv,
               size_t iv_len, const void *aad, size_t aad_len,
               const void *in, size_t len, unsigned char *out,
               unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    if (!ctx)
        return RIFFLE_ERR_NOMEM;
    if (len > INT_MAX || aad_len > INT_MAX || iv_len > INT_MAX) {
        EVP_CIPHER_CTX_free(ctx);
        return RIFFLE_ERR_INVALID;
    }

    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
                           encrypt) &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len,
                             NULL) &&
         EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, encrypt);
    if (ok && aad_len > 0)
        ok = EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len);
    if (ok && len > 0)
        ok = EVP_CipherUpdate(ctx, out, &n, in, (int)len);
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_BYTES,
                                 tag);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return RIFFLE_ERR_NOMEM;
    }

    /* The final call is where decryption checks the tag. */
    ok = EVP_CipherFinal_ex(ctx, out + len, &n);
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_BYTES,
                                 tag);
    EVP_CIPHER_CTX_free(ctx);
    if (ok)
        return 0;
    if (!encrypt && len > 0)
        OPENSSL_cleanse(out, len); /* no unauthenticated plaintext out */
    return encrypt ? RIFFLE_ERR_NOMEM : RIFFLE_ERR_DECODE;
}

int seal_gcm_encrypt(const unsigned char *key, const unsigned char *iv,
                     size_t iv_len, const void *aad, size_t aad_len,
                     const void *in, size_t len, unsigned char *out,
                     unsigned char *tag)
{
    return gcm(1, key, iv, iv_len, aad, aad_len, in, len, out, tag);
}

int seal_gcm_decrypt(const unsigned char *key, const unsigned char *iv,
                     size_t iv_len, const void *aad, size_t aad_len,
                     const void *in, size_t len, const unsigned char *tag,
                     unsigned char *out)
{
    return gcm(0, key, iv, iv_len, aad, aad_len, in, len, out,
               (unsigned char *)tag);
}

/* The header plus context: what the tag authenticates besides the
 * ciphertext. Returns 0 or RIFFLE_ERR_NOMEM. */
static int make_aad(const unsigned char *header, size_t header_len,
                    const char *context, struct buf *aad)
{
    int err = buf_append(aad, header, header_len);

    if (!err)
        err = buf_append(aad, context, strlen(context));
    return err;
}

int seal_encrypt(const struct keyring *ring, const char *context,
                 const void *plain, size_t len, const unsigned char *nonce,
                 struct buf *out)
{
    unsigned char header[SEAL_HEADER_MAX];
    size_t id_len, header_len, start = out->len;
    struct buf aad = {0};
    unsigned char *p;
    int err;

    if (ring->count == 0)
        return RIFFLE_ERR_INVALID;
    id_len = strlen(ring->id[0]);
    header[0] = SEAL_VERSION;
    header[1] = (unsigned char)id_len;
    memcpy(header + 2, ring->id[0], id_len);
    header_len = 2 + id_len;

    err = buf_reserve(out, header_len + SEAL_NONCE_BYTES + len +
                               SEAL_TAG_BYTES);
    if (!err)
        err = make_aad(header, header_len, context, &aad);
    if (err) {
        buf_free(&aad);
        return RIFFLE_ERR_NOMEM;
    }

    p = (unsigned char *)out->data + start;
    memcpy(p, header, header_len);
    p += header_len;
    if (nonce)
        memcpy(p, nonce, SEAL_NONCE_BYTES);
    else if (RAND_bytes(p, SEAL_NONCE_BYTES) != 1)
        err = RIFFLE_ERR_NOMEM; /* the CSPRNG could not seed */
    if (!err)
        err = seal_gcm_encrypt(ring->key[0], p, SEAL_NONCE_BYTES, aad.data,
                               aad.len, plain, len, p + SEAL_NONCE_BYTES,
                               p + SEAL_NONCE_BYTES + len);
    buf_free(&aad);
    if (err)
        return err;
    out->len = start + header_len + SEAL_NONCE_BYTES + len + SEAL_TAG_BYTES;
    out->data[out->len] = '\0';
    return 0;
}

/* Splits an envelope; errors name what is wrong without any content. */
static int parse_envelope(const struct keyring *ring,
                          const unsigned char *s, size_t len,
                          const unsigned char **key, size_t *header_len,
                          char *errstr, size_t size)
{
    char id[KEYRING_ID_MAX + 1];

    if (len < 2 || s[0] != SEAL_VERSION) {
        snprintf(errstr, size, "not a version %d envelope", SEAL_VERSION);
        return RIFFLE_ERR_DECODE;
    }
    *header_len = 2 + (size_t)s[1];
    if (s[1] == 0 || s[1] > KEYRING_ID_MAX ||
        len < *header_len + SEAL_NONCE_BYTES + SEAL_TAG_BYTES) {
        snprintf(errstr, size, "envelope truncated (%zu bytes)", len);
        return RIFFLE_ERR_DECODE;
    }
    memcpy(id, s + 2, s[1]);
    id[s[1]] = '\0';
    if (!keyring_id_valid(id, s[1])) {
        /* Whoever wrote the envelope chose these bytes: a log or a
         * terminal gets their count, not them. */
        snprintf(errstr, size, "sealed under a key id that is not one "
                 "(%u bytes, not all printable, or with ':' or '=')", s[1]);
        return RIFFLE_ERR_DECODE;
    }
    *key = keyring_find(ring, id);
    if (!*key) {
        snprintf(errstr, size, "sealed under key id \"%s\", which the "
                 "keyring does not hold", id);
        return RIFFLE_ERR_DECODE;
    }
    return 0;
}

int seal_decrypt(const struct keyring *ring, const char *context,
                 const void *sealed, size_t len, struct buf *out,
                 char *errstr, size_t errstr_size)
{
    const unsigned char *s = sealed, *key, *nonce;
    size_t header_len, body;
    struct buf aad = {0};
    int err;

    err = parse_envelope(ring, s, len, &key, &header_len, errstr,
                         errstr_size);
    if (err)
        return err;
    nonce = s + header_len;
    body = len - header_len - SEAL_NONCE_BYTES - SEAL_TAG_BYTES;

    err = make_aad(s, header_len, context, &aad);
    if (!err)
        err = buf_reserve(out, body);
    if (!err)
        err = seal_gcm_decrypt(key, nonce, SEAL_NONCE_BYTES, aad.data,
                               aad.len, nonce + SEAL_NONCE_BYTES, body,
                               nonce + SEAL_NONCE_BYTES + body,
                               (unsigned char *)out->data + out->len);
    buf_free(&aad);
    if (err == RIFFLE_ERR_DECODE)
        snprintf(errstr, errstr_size, "authentication failed: wrong key, "
                 "wrong context or altered bytes");
    if (err)
        return err;
    out->len += body;
    out->data[out->len] = '\0';
    return 0;
}

int seal_key_pseudonym(const struct keyring *ring, const void *key,
                       size_t len, char out[SEAL_PSEUDONYM_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char subkey[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
    unsigned int sub_len = 0, mac_len = 0;
    const unsigned char *ok;
    size_t at, i;

    if (ring->count == 0)
        return RIFFLE_ERR_INVALID;

    /* A subkey of its own: the dead-letter key itself never meets a
     * value an observer of the topic could guess and test. */
    ok = HMAC(EVP_sha256(), ring->key[0], KEYRING_KEY_BYTES,
              (const unsigned char *)SEAL_KEY_PSEUDONYM_LABEL,
              strlen(SEAL_KEY_PSEUDONYM_LABEL), subkey, &sub_len);
    if (ok)
        ok = HMAC(EVP_sha256(), subkey, (int)sub_len,
                  len ? key : (const void *)"", len, mac, &mac_len);
    OPENSSL_cleanse(subkey, sizeof(subkey));
    if (!ok || mac_len * 2 < SEAL_PSEUDONYM_HEX)
        return RIFFLE_ERR_NOMEM;

    at = (size_t)snprintf(out, SEAL_PSEUDONYM_MAX, "%s:", ring->id[0]);
    for (i = 0; i < SEAL_PSEUDONYM_HEX / 2; i++) {
        out[at++] = hex[mac[i] >> 4];
        out[at++] = hex[mac[i] & 0x0f];
    }
    out[at] = '\0';
    return 0;
}

int seal_encrypt_text(const struct keyring *ring, const char *context,
                      const void *plain, size_t len, struct buf *out)
{
    struct buf env = {0};
    int err = seal_encrypt(ring, context, plain, len, NULL, &env);
    size_t text_len = 4 * ((env.len + 2) / 3);

    if (!err)
        err = buf_reserve(out, text_len);
    if (!err) {
        EVP_EncodeBlock((unsigned char *)out->data + out->len,
                        (const unsigned char *)env.data, (int)env.len);
        out->len += text_len;
        out->data[out->len] = '\0';
    }
    buf_free(&env);
    return err;
}

int seal_decrypt_text(const struct keyring *ring, const char *context,
                      const char *text, struct buf *out, char *errstr,
                      size_t errstr_size)
{
    size_t len = strlen(text), pad = 0;
    unsigned char *raw;
    int n, err;

    if (len == 0 || len % 4 != 0 || len > INT_MAX) {
        snprintf(errstr, errstr_size, "not base64 (length %zu)", len);
        return RIFFLE_ERR_DECODE;
    }
    raw = malloc(len / 4 * 3 + 1);
    if (!raw)
        return RIFFLE_ERR_NOMEM;
    n = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)len);
    if (n < 0) {
        free(raw);
        snprintf(errstr, errstr_size, "not base64");
        return RIFFLE_ERR_DECODE;
    }
    /* EVP_DecodeBlock keeps the bytes the '=' padding stands for. */
    pad = (text[len - 1] == '=') + (text[len - 2] == '=');
    err = seal_decrypt(ring, context, raw, (size_t)n - pad, out, errstr,
                       errstr_size);
    free(raw);
    return err;
}
