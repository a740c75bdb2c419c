/*
 * privacy/anonymize.c - drop, pseudonym and coarsen actions, see
 * anonymize.h.
 */
#include "privacy/anonymize.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/err.h"
#include "common/numfmt.h"

struct anonymizer {
    const struct cfg *cfg;
    int schema_index[CFG_MAX_FIELDS];
    unsigned char key[ANONYMIZE_MAX_KEY_BYTES];
    size_t key_len;
};

static int needs_key(const struct cfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].privacy == CFG_PRIVACY_PSEUDONYM)
            return 1;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Turns the key text into key bytes: 64 hex digits decode to 32 bytes;
 * anything else is taken as it is. */
static void set_key(struct anonymizer *a, const char *text, size_t len)
{
    size_t i;
    int hex = len == 64;

    for (i = 0; hex && i < len; i++)
        hex = hex_value((unsigned char)text[i]) >= 0;

    if (hex) {
        for (i = 0; i < 32; i++)
            a->key[i] = (unsigned char)(hex_value(text[2 * i]) * 16 +
                                        hex_value(text[2 * i + 1]));
        a->key_len = 32;
    } else {
        memcpy(a->key, text, len);
        a->key_len = len;
    }
}

static int read_key_file(struct anonymizer *a, const char *path,
                         char *errstr, size_t errstr_size)
{
    char text[ANONYMIZE_MAX_KEY_BYTES + 2];
    size_t len;
    FILE *f = fopen(path, "rb");

    if (!f) {
        snprintf(errstr, errstr_size, "privacy.key_file %s: %s", path,
                 strerror(errno));
        return RIFFLE_ERR_CFG;
    }
    len = fread(text, 1, sizeof(text), f);
    fclose(f);

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len > ANONYMIZE_MAX_KEY_BYTES) {
        OPENSSL_cleanse(text, sizeof(text));
        snprintf(errstr, errstr_size,
                 "privacy.key_file %s: longer than %d bytes", path,
                 ANONYMIZE_MAX_KEY_BYTES);
        return RIFFLE_ERR_CFG;
    }
    set_key(a, text, len);
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
}

static int load_key(struct anonymizer *a, const struct cfg *cfg,
                    char *errstr, size_t errstr_size)
{
    const char *env = cfg->key_env[0] ? getenv(cfg->key_env) : NULL;
    const char *env_file = NULL;
    const char *source = env && *env ? cfg->key_env : cfg->key_file;
    char file_var[CFG_NAME_MAX + 8];
    int err;

    /* KEY_FILE next to KEY names a file, the way container secrets are
     * mounted; it wins over the configured key_file. */
    snprintf(file_var, sizeof(file_var), "%s_FILE", cfg->key_env);
    if (cfg->key_env[0] && !(env && *env))
        env_file = getenv(file_var);

    if (env_file && *env_file) {
        source = env_file;
        err = read_key_file(a, env_file, errstr, errstr_size);
        if (err)
            return err;
    } else if (env && *env) {
        if (strlen(env) > ANONYMIZE_MAX_KEY_BYTES) {
            snprintf(errstr, errstr_size,
                     "environment variable %s: key longer than %d bytes",
                     cfg->key_env, ANONYMIZE_MAX_KEY_BYTES);
            return RIFFLE_ERR_CFG;
        }
        set_key(a, env, strlen(env));
    } else if (cfg->key_file[0]) {
        err = read_key_file(a, cfg->key_file, errstr, errstr_size);
        if (err)
            return err;
    } else {
        snprintf(errstr, errstr_size,
                 "%s: pseudonyms need a key: set privacy.key_file or the "
                 "environment variable %s", cfg->path,
                 cfg->key_env[0] ? cfg->key_env : "named by privacy.key_env");
        return RIFFLE_ERR_CFG;
    }

    if (a->key_len < ANONYMIZE_MIN_KEY_BYTES) {
        snprintf(errstr, errstr_size,
                 "%s: the pseudonym key has %zu bytes; at least %d needed",
                 source, a->key_len, ANONYMIZE_MIN_KEY_BYTES);
        return RIFFLE_ERR_CFG;
    }
    return 0;
}

int anonymizer_new(const struct cfg *cfg, const struct schema *schema,
                   struct anonymizer **out, char *errstr, size_t errstr_size)
{
    struct anonymizer *a = calloc(1, sizeof(*a));
    size_t i;
    int err;

    if (!a)
        return RIFFLE_ERR_NOMEM;
    a->cfg = cfg;

    for (i = 0; i < cfg->field_count; i++) {
        const struct cfg_field *f = &cfg->fields[i];
        int is_string;

        a->schema_index[i] = schema_field_index(schema, f->name);
        if (a->schema_index[i] < 0) {
            snprintf(errstr, errstr_size,
                     "%s: field \"%s\" is not in schema %s", cfg->path,
                     f->name, schema_name(schema));
            anonymizer_destroy(a);
            return RIFFLE_ERR_CFG;
        }
        is_string = schema_field_type(schema, (size_t)a->schema_index[i]) ==
                    SCHEMA_FIELD_STRING;
        if (f->privacy == CFG_PRIVACY_COARSEN &&
            (is_string ? f->keep_prefix == 0 : f->band_width <= 0)) {
            snprintf(errstr, errstr_size,
                     "%s: field \"%s\": coarsening a %s needs %s", cfg->path,
                     f->name, is_string ? "string" : "number",
                     is_string ? "keep_prefix > 0" : "band > 0");
            anonymizer_destroy(a);
            return RIFFLE_ERR_CFG;
        }
    }

    if (needs_key(cfg)) {
        err = load_key(a, cfg, errstr, errstr_size);
        if (err) {
            anonymizer_destroy(a);
            return err;
        }
    }

    *out = a;
    return 0;
}

void anonymizer_destroy(struct anonymizer *a)
{
    if (!a)
        return;
    OPENSSL_cleanse(a->key, sizeof(a->key));
    free(a);
}

int anonymize_pseudonym(const unsigned char *key, size_t key_len,
                        const char *key_id, const char *field,
                        const char *value, char *out, size_t out_size)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t id_len = strlen(key_id), field_len = strlen(field);
    size_t value_len = strlen(value), i;
    unsigned char *msg;

    if (out_size < id_len + 2 + ANONYMIZE_TOKEN_HEX)
        return RIFFLE_ERR_INVALID;

    /* field NUL value: the NUL keeps ("ab","c") apart from ("a","bc"). */
    msg = malloc(field_len + 1 + value_len);
    if (!msg)
        return RIFFLE_ERR_NOMEM;
    memcpy(msg, field, field_len + 1);
    memcpy(msg + field_len + 1, value, value_len);

    HMAC(EVP_sha256(), key, (int)key_len, msg, field_len + 1 + value_len,
         mac, &mac_len);
    OPENSSL_cleanse(msg, field_len + 1 + value_len);
    free(msg);

    memcpy(out, key_id, id_len);
    out[id_len] = ':';
    for (i = 0; i < ANONYMIZE_TOKEN_HEX / 2; i++) {
        out[id_len + 1 + 2 * i] = digits[mac[i] >> 4];
        out[id_len + 2 + 2 * i] = digits[mac[i] & 0xf];
    }
    out[id_len + 1 + ANONYMIZE_TOKEN_HEX] = '\0';
    return 0;
}

void anonymize_band(double x, double width, char *out, size_t out_size)
{
    double lo = floor(x / width) * width;
    char lo_text[NUMFMT_MAX], hi_text[NUMFMT_MAX];

    snprintf(out, out_size, "[%s,%s)",
             numfmt_double(lo, lo_text, sizeof(lo_text)),
             numfmt_double(lo + width, hi_text, sizeof(hi_text)));
}

/* Writes the text form of a value for hashing: strings as they are,
 * numbers in their shortest exact form. */
static const char *value_text(const struct event *ev, size_t index,
                              char *tmp, size_t tmp_size)
{
    if (ev->values[index].kind == VALUE_STRING)
        return event_string(ev, index);
    return numfmt_double(ev->values[index].number, tmp, tmp_size);
}

static int coarsen(const struct cfg_field *f, struct event *ev, size_t index)
{
    char band[96];
    const struct value *v = &ev->values[index];

    if (v->kind == VALUE_NUMBER) {
        /* A numeric feature keeps a number (the band's lower bound); any
         * other kind becomes the band's name, a category. */
        if (f->kind == CFG_FIELD_NUMERIC) {
            event_set_number(ev, index,
                             floor(v->number / f->band_width) * f->band_width);
            return 0;
        }
        anonymize_band(v->number, f->band_width, band, sizeof(band));
        return event_set_string(ev, index, band, strlen(band));
    }

    if (v->str_len > f->keep_prefix) {
        char prefix[CFG_MAX_KEEP_PREFIX + 1];

        memcpy(prefix, event_string(ev, index), f->keep_prefix);
        return event_set_string(ev, index, prefix, f->keep_prefix);
    }
    return 0;
}

static int pseudonymize(const struct anonymizer *a, const struct cfg_field *f,
                        struct event *ev, size_t index)
{
    char token[CFG_NAME_MAX + 2 + ANONYMIZE_TOKEN_HEX];
    char tmp[64];
    int err;

    err = anonymize_pseudonym(a->key, a->key_len, a->cfg->key_id, f->name,
                              value_text(ev, index, tmp, sizeof(tmp)), token,
                              sizeof(token));
    if (err)
        return err;
    return event_set_string(ev, index, token, strlen(token));
}

int anonymizer_apply(const struct anonymizer *a, struct event *ev)
{
    size_t i;
    int err = 0;

    for (i = 0; i < a->cfg->field_count && err == 0; i++) {
        const struct cfg_field *f = &a->cfg->fields[i];
        size_t index = (size_t)a->schema_index[i];

        if (f->privacy == CFG_PRIVACY_NONE ||
            ev->values[index].kind == VALUE_NULL)
            continue;

        switch (f->privacy) {
        case CFG_PRIVACY_DROP:
            event_set_null(ev, index);
            break;
        case CFG_PRIVACY_PSEUDONYM:
            err = pseudonymize(a, f, ev, index);
            break;
        case CFG_PRIVACY_COARSEN:
            err = coarsen(f, ev, index);
            break;
        default:
            break;
        }
    }
    return err;
}
