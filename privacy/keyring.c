/*
 * privacy/keyring.c - loading and parsing AES-256 keyrings, see
 * keyring.h.
 */
#include "privacy/keyring.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/err.h"

#define KEYRING_HEX_DIGITS (2 * KEYRING_KEY_BYTES)
#define KEYRING_WHY_MAX 256 /* why a keyring cannot be used */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int keyring_decode_hex(const char *text, size_t len, unsigned char *out)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (hex_digit((unsigned char)text[i]) < 0)
            return -1;
    for (i = 0; i < len / 2; i++)
        out[i] = (unsigned char)(hex_digit(text[2 * i]) * 16 +
                                 hex_digit(text[2 * i + 1]));
    return 0;
}

/* Decodes exactly KEYRING_HEX_DIGITS hex digits into out. */
static int decode_key(const char *hex, size_t len, unsigned char *out)
{
    if (len != KEYRING_HEX_DIGITS)
        return -1;
    return keyring_decode_hex(hex, len, out);
}

int keyring_id_valid(const char *id, size_t len)
{
    size_t i;

    if (len == 0 || len > KEYRING_ID_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!isgraph((unsigned char)id[i]) || id[i] == ':' || id[i] == '=')
            return 0;
    return 1;
}

/* How many different values the bytes of a key take: 32 random bytes
 * take fewer than 16 with a probability below 1e-9; "00...07" takes 2. */
#define KEYRING_MIN_DISTINCT_BYTES 16
static size_t distinct_bytes(const unsigned char *key)
{
    unsigned char seen[256] = {0};
    size_t i, n = 0;

    for (i = 0; i < KEYRING_KEY_BYTES; i++) {
        n += !seen[key[i]];
        seen[key[i]] = 1;
    }
    return n;
}

/* Adds one "hex" or "id=hex" entry (blanks around it already trimmed). */
static int add_entry(const char *s, size_t len, const char *default_id,
                     struct keyring *ring, char *errstr, size_t size)
{
    const char *eq = memchr(s, '=', len);
    const char *id = eq ? s : default_id;
    size_t id_len = eq ? (size_t)(eq - s) : strlen(default_id);
    const char *hex = eq ? eq + 1 : s;
    size_t n = ring->count;

    if (n == KEYRING_MAX_KEYS) {
        snprintf(errstr, size, "more than %d keys", KEYRING_MAX_KEYS);
        return RIFFLE_ERR_CFG;
    }
    if (!keyring_id_valid(id, id_len)) {
        snprintf(errstr, size, "key %zu: the key id must be 1 to %d "
                 "printable characters without ':' or '='", n + 1,
                 KEYRING_ID_MAX);
        return RIFFLE_ERR_CFG;
    }
    if (decode_key(hex, len - (size_t)(hex - s), ring->key[n]) != 0) {
        snprintf(errstr, size, "key %zu: expected %d hex digits (a 256-bit "
                 "AES key), optionally after \"id=\"", n + 1,
                 KEYRING_HEX_DIGITS);
        return RIFFLE_ERR_CFG;
    }
    if (distinct_bytes(ring->key[n]) < KEYRING_MIN_DISTINCT_BYTES) {
        snprintf(errstr, size, "key %zu: only %zu distinct byte values, "
                 "at least %d needed (a repeated pattern or zeros are "
                 "guessable: make a key with openssl rand -hex 32)", n + 1,
                 distinct_bytes(ring->key[n]), KEYRING_MIN_DISTINCT_BYTES);
        return RIFFLE_ERR_CFG;
    }
    memcpy(ring->id[n], id, id_len);
    ring->id[n][id_len] = '\0';
    if (keyring_find(ring, ring->id[n]) != NULL) { /* among the first n */
        snprintf(errstr, size, "key %zu: key id \"%s\" appears twice", n + 1,
                 ring->id[n]);
        return RIFFLE_ERR_CFG;
    }
    ring->count++;
    return 0;
}

int keyring_parse(const char *text, size_t len, const char *default_id,
                  struct keyring *ring, char *errstr, size_t errstr_size)
{
    size_t start = 0, end;
    int err = 0;

    memset(ring, 0, sizeof(*ring));
    while (!err && start < len) {
        size_t a = start, b;

        end = start;
        while (end < len && text[end] != '\n' && text[end] != ',')
            end++;
        b = end;
        while (a < b && isspace((unsigned char)text[a]))
            a++;
        while (b > a && isspace((unsigned char)text[b - 1]))
            b--;
        if (b > a && text[a] != '#') /* blank lines and comments pass */
            err = add_entry(text + a, b - a, default_id, ring, errstr,
                            errstr_size);
        start = end + 1;
    }
    if (!err && ring->count == 0) {
        snprintf(errstr, errstr_size, "no key in it");
        err = RIFFLE_ERR_CFG;
    }
    if (err)
        keyring_wipe(ring);
    return err;
}

static int read_file(const char *path, char *text, size_t size, size_t *len,
                     char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");

    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return RIFFLE_ERR_CFG;
    }
    *len = fread(text, 1, size, f);
    (void)fclose(f); /* read-only: a failed close loses nothing */
    if (*len == size) {
        snprintf(why, why_size, "longer than %zu bytes", size - 1);
        return RIFFLE_ERR_CFG;
    }
    return 0;
}

int keyring_load(const struct cfg *cfg, const struct cfg_key_source *src,
                 int line, const char *what, struct keyring *ring,
                 char *errstr, size_t errstr_size)
{
    char file_var[CFG_NAME_MAX + sizeof("_FILE")];
    char text[KEYRING_TEXT_MAX + 1], why[KEYRING_WHY_MAX];
    const char *env = src->env[0] ? getenv(src->env) : NULL;
    const char *env_file = NULL, *path = NULL;
    size_t len = 0;
    int err = 0;

    memset(ring, 0, sizeof(*ring));
    snprintf(file_var, sizeof(file_var), "%s_FILE", src->env);
    if (src->env[0] && !(env && *env))
        env_file = getenv(file_var);
    if (env && *env) {
        len = strlen(env);
        if (len > KEYRING_TEXT_MAX) {
            snprintf(errstr, errstr_size, "environment variable %s: longer "
                     "than %d bytes", src->env, KEYRING_TEXT_MAX);
            return RIFFLE_ERR_CFG;
        }
        memcpy(text, env, len);
    } else if (env_file && *env_file) {
        path = env_file;
    } else if (src->file[0]) {
        path = src->file;
    } else {
        return 0;
    }

    if (path)
        err = read_file(path, text, sizeof(text), &len, why, sizeof(why));
    if (!err)
        err = keyring_parse(text, len, src->id, ring, why, sizeof(why));
    OPENSSL_cleanse(text, sizeof(text));
    if (!err)
        return 0;

    if (!path)
        snprintf(errstr, errstr_size, "environment variable %s: %s",
                 src->env, why);
    else if (path == env_file)
        snprintf(errstr, errstr_size, "environment variable %s: %s: %s",
                 file_var, path, why);
    else
        cfg_error(cfg, line, what, errstr, errstr_size, "%s: %s", path,
                  why);
    return RIFFLE_ERR_CFG;
}

int keyring_load_dead_letter(const struct cfg *cfg, struct keyring *ring,
                             char *errstr, size_t errstr_size)
{
    const struct cfg_key_source *src = &cfg->dead_letter_key;
    int err = keyring_load(cfg, src, cfg->privacy_line,
                           "privacy.dead_letter_key_file", ring, errstr,
                           errstr_size);

    if (err || ring->count > 0 || !cfg_has_personal_fields(cfg))
        return err;
    return cfg_error(cfg, cfg->privacy_line, "privacy.dead_letter_key_file",
                     errstr, errstr_size, "fields are personal, so dead "
                     "letters keep their original bytes encrypted: set "
                     "privacy.dead_letter_key_file or the environment "
                     "variable %s (64 hex digits: `openssl rand -hex 32 "
                     "> FILE` makes one)",
                     src->env[0] ? src->env
                                 : "named by privacy.dead_letter_key_env");
}

const unsigned char *keyring_find(const struct keyring *ring, const char *id)
{
    size_t i;

    for (i = 0; i < ring->count; i++)
        if (strcmp(ring->id[i], id) == 0)
            return ring->key[i];
    return NULL;
}

void keyring_wipe(struct keyring *ring)
{
    if (ring)
        OPENSSL_cleanse(ring, sizeof(*ring));
}
