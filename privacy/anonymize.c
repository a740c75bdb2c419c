/*
 * privacy/anonymize.c - drop, pseudonym, coarsen, mask, noise and encrypt
 * actions, see anonymize.h.
 */

/* SHA256_Init() and its kin are deprecated in OpenSSL 3 in favour of EVP,
 * but a pseudonym is two SHA-256 blocks, and EVP's context copy allocates
 * and frees a context each time: the plain SHA256_CTX, copied by value,
 * does the same work in about 60% of the time (hmac_two_parts()). This
 * asks OpenSSL for its 1.1 API, which still declares them. */
#define OPENSSL_API_COMPAT 0x10100000L

#include "privacy/anonymize.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/err.h"
#include "common/log.h"
#include "common/numfmt.h"
#include "privacy/fingerprint.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"

#define KEY_HEX_DIGITS 64 /* a key file of this many hex digits is decoded:
                             32 bytes, the size of an HMAC-SHA256 key */
#define ANON_KEY_MAX 40   /* "fields[127].keep_prefix": a dotted key */
#define ANON_MESSAGE_MAX 256 /* why a key cannot be used */
#define ANON_BAND_MAX (2 * NUMFMT_MAX + sizeof("[,)")) /* "[lo,hi)" */

#define PSEUDONYM_CACHE_SLOTS 1024 /* power of 2, in sets of two; 56 KiB */

/* A recent (field, value) -> token. The value itself is not kept, only
 * its keyed fingerprint (privacy/fingerprint.h): a memory image of the
 * cache shows no raw value. */
struct pseudonym_slot {
    unsigned char used;
    unsigned char has_hash; /* a hinter's: hash is the token's */
    uint16_t field;
    uint32_t hash;          /* feature hash (anonymizer_hint_hasher) */
    struct fingerprint fp;  /* of the value, under the anonymizer's key */
    char hex[ANONYMIZE_TOKEN_HEX];
};

#define HMAC_BLOCK_BYTES 64 /* SHA-256's block: RFC 2104's B */
#define HMAC_IPAD 0x36
#define HMAC_OPAD 0x5c

/* HMAC-SHA256 (RFC 2104) with the key absorbed once: inner and outer
 * hold SHA-256 after (K xor ipad) and (K xor opad), and each MAC copies
 * them instead of keying a new one, which OpenSSL 3 makes costly (a fetch
 * and an allocation per call). Both are wiped by hmac_free(). */
struct hmac_keyed {
    SHA256_CTX inner, outer;
};

#define ANON_BAND_TABLE_MAX 256 /* bands named ahead, at most, per field */

/* One band's name and its length. */
struct named_band {
    char text[ANON_BAND_MAX];
    size_t len;
};

/* The names of bands first .. first + count - 1 (band k is
 * [k * width, k * width + width)). */
struct band_names {
    double first;
    size_t count;
    struct named_band *name;
};

/* A configured field with a privacy rule, with what anonymizer_apply()
 * reads of it for every event: a field's configuration is 5 KiB, so its
 * rule, read there, was a cache line of its own for each personal field
 * of each event. */
struct personal_field {
    size_t field;                   /* index in cfg->fields */
    size_t schema_index;            /* where the event holds its value */
    enum cfg_privacy_action action; /* cfg->fields[field].privacy */
    int hinted; /* 1: the reader thread may have made its replacement
                   (pseudonyms and bands, see anonymizer_hint_event()) */
};

struct anonymizer {
    const struct cfg *cfg;
    int schema_index[CFG_MAX_FIELDS];
    /* The configured fields with a privacy rule, in configuration order:
     * most fields have none, and walking every field per event to find
     * that out was most of this module's cost on such sets. */
    struct personal_field personal[CFG_MAX_FIELDS];
    size_t personal_count;
    unsigned char key[ANONYMIZE_MAX_KEY_BYTES];
    size_t key_len;
    struct hmac_keyed mac;
    /* Personal fields repeat a small set of values (countries, marital
     * states), and each pseudonym costs two SHA-256 passes: a small
     * direct-mapped cache of recent (field, value) -> token saves most of
     * them. Wiped with the key on destroy. */
    struct pseudonym_slot *cache; /* PSEUDONYM_CACHE_SLOTS entries */
    /* The caches' fingerprint key, drawn for this process (this one's
     * and its hinters'). */
    struct fingerprint_key fp_key;
    size_t key_id_len;            /* strlen(cfg->key_id), the token's head */
    /* The token's head "key_id:", NUL-padded to whole words: see
     * write_token(). */
    char token_head[CFG_NAME_MAX + 8];
    struct keyring encrypt_keys;  /* personal = "encrypt" */
    /* A coarsened category with bounds has few bands ("[30,40)" for an
     * age), and writing one costs two number conversions and a join, a
     * twentieth of an Adult event: each such field keeps the names of
     * its bands from floor(min / width) to floor(max / width). NULL where
     * the field has no bounds, or too many bands. */
    struct band_names *bands[CFG_MAX_FIELDS];
    /* The event id with personal = "pseudonym": configured field and
     * schema index, or id_field == CFG_MAX_FIELDS. It is not among
     * personal[]: the learner replaces it first (anonymizer_apply_id()),
     * before duplicates, lateness and the label join read it. */
    size_t id_field;
    size_t id_index;
};

/* Lists configured field i, which has a privacy rule and is in the
 * schema (map_field() succeeded), for anonymizer_apply(). */
static void add_personal(struct anonymizer *a, size_t i)
{
    const struct cfg_field *f = &a->cfg->fields[i];
    struct personal_field *pf;

    if (f->kind == CFG_FIELD_ID) { /* cfg.c allows only a pseudonym */
        assert(f->privacy == CFG_PRIVACY_PSEUDONYM);
        a->id_field = i;
        a->id_index = (size_t)a->schema_index[i];
        return;
    }
    pf = &a->personal[a->personal_count++];
    pf->field = i;
    pf->schema_index = (size_t)a->schema_index[i];
    pf->action = f->privacy;
    pf->hinted = f->privacy == CFG_PRIVACY_PSEUDONYM ||
                 (f->privacy == CFG_PRIVACY_COARSEN &&
                  f->date_precision == CFG_DATE_NONE);
}

static int needs_key(const struct cfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].privacy == CFG_PRIVACY_PSEUDONYM)
            return 1;
    return 0;
}

static int needs_encrypt_key(const struct cfg *cfg)
{
    size_t i;

    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].privacy == CFG_PRIVACY_ENCRYPT)
            return 1;
    return 0;
}

/* The encryption keyring, which personal = "encrypt" needs. */
static int load_encrypt_keys(struct anonymizer *a, char *errstr,
                             size_t errstr_size)
{
    const struct cfg *cfg = a->cfg;
    const struct cfg_key_source *src = &cfg->encrypt_key;
    int err = keyring_load(cfg, src, cfg->privacy_line,
                           "privacy.encrypt_key_file", &a->encrypt_keys,
                           errstr, errstr_size);

    if (err || a->encrypt_keys.count > 0)
        return err;
    return cfg_error(cfg, cfg->privacy_line, "privacy.encrypt_key_file",
                     errstr, errstr_size, "personal = \"encrypt\" needs a "
                     "key: set privacy.encrypt_key_file or the environment "
                     "variable %s (64 hex digits)",
                     src->env[0] ? src->env
                                 : "named by privacy.encrypt_key_env");
}

/* Turns the key text into key bytes: KEY_HEX_DIGITS hex digits decode to
 * half as many bytes; anything else is taken as it is. */
static void set_key(struct anonymizer *a, const char *text, size_t len)
{
    if (len == KEY_HEX_DIGITS && keyring_decode_hex(text, len, a->key) == 0) {
        a->key_len = KEY_HEX_DIGITS / 2;
    } else {
        memcpy(a->key, text, len);
        a->key_len = len;
    }
}

/* Where the key text came from, for messages. */
enum key_origin {
    KEY_FROM_ENV,      /* the variable privacy.key_env names */
    KEY_FROM_ENV_FILE, /* a file named by <key_env>_FILE */
    KEY_FROM_CFG_FILE  /* privacy.key_file */
};

struct key_source {
    enum key_origin origin;
    const char *var;  /* environment variable; KEY_FROM_ENV* only */
    const char *path; /* key file; KEY_FROM_*FILE only */
    const char *text; /* the key itself; KEY_FROM_ENV only */
};

/* Writes "<where the key came from>: what" and returns RIFFLE_ERR_CFG;
 * a key_file from the configuration is named with its file and line. */
static int key_fail(const struct cfg *cfg, const struct key_source *src,
                    char *errstr, size_t errstr_size, const char *what)
{
    switch (src->origin) {
    case KEY_FROM_ENV:
        snprintf(errstr, errstr_size, "environment variable %s: %s",
                 src->var, what);
        return RIFFLE_ERR_CFG;
    case KEY_FROM_ENV_FILE:
        snprintf(errstr, errstr_size, "environment variable %s: %s: %s",
                 src->var, src->path, what);
        return RIFFLE_ERR_CFG;
    case KEY_FROM_CFG_FILE:
        break;
    }
    return cfg_error(cfg, cfg->privacy_line, "privacy.key_file", errstr,
                     errstr_size, "%s: %s", src->path, what);
}

/* Reads the key file; on failure writes why (without the path) into why
 * and returns RIFFLE_ERR_CFG. */
static int read_key_file(struct anonymizer *a, const char *path, char *why,
                         size_t why_size)
{
    char text[ANONYMIZE_MAX_KEY_BYTES + 2];
    size_t len;
    FILE *f = fopen(path, "rb");

    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return RIFFLE_ERR_CFG;
    }
    len = fread(text, 1, sizeof(text), f);
    (void)fclose(f); /* read-only: a failed close loses nothing */

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len > ANONYMIZE_MAX_KEY_BYTES) {
        OPENSSL_cleanse(text, sizeof(text));
        snprintf(why, why_size, "longer than %d bytes",
                 ANONYMIZE_MAX_KEY_BYTES);
        return RIFFLE_ERR_CFG;
    }
    set_key(a, text, len);
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
}

/* No key anywhere: point at privacy when the file has that group, else
 * at the first field that asks for a pseudonym. */
static int no_key(const struct cfg *cfg, char *errstr, size_t errstr_size)
{
    const char *var = cfg->key_env[0] ? cfg->key_env
                                      : "named by privacy.key_env";
    char key[ANON_KEY_MAX];
    size_t i;

    if (cfg->privacy_line > 0)
        return cfg_error(cfg, cfg->privacy_line, "privacy.key_file", errstr,
                         errstr_size, "pseudonyms need a key: set "
                         "privacy.key_file or the environment variable %s",
                         var);
    for (i = 0; i < cfg->field_count; i++)
        if (cfg->fields[i].privacy == CFG_PRIVACY_PSEUDONYM)
            break;
    assert(i < cfg->field_count); /* needs_key() said there is one */
    snprintf(key, sizeof(key), "fields[%zu].personal", i);
    return cfg_error(cfg, cfg->fields[i].line, key, errstr, errstr_size,
                     "pseudonyms need a key: set privacy.key_file or the "
                     "environment variable %s", var);
}

/* Which source holds the key: <key_env>, else a file named by
 * <key_env>_FILE (the way container secrets are mounted), else
 * privacy.key_file. Returns 0 when there is none. */
static int find_key_source(const struct cfg *cfg, struct key_source *src,
                           char *file_var, size_t file_var_size)
{
    const char *env = cfg->key_env[0] ? getenv(cfg->key_env) : NULL;
    const char *env_file = NULL;

    snprintf(file_var, file_var_size, "%s_FILE", cfg->key_env);
    if (cfg->key_env[0] && !(env && *env))
        env_file = getenv(file_var);

    if (env && *env) {
        *src = (struct key_source){KEY_FROM_ENV, cfg->key_env, NULL, env};
    } else if (env_file && *env_file) {
        *src = (struct key_source){KEY_FROM_ENV_FILE, file_var, env_file,
                                   NULL};
    } else if (cfg->key_file[0]) {
        *src = (struct key_source){KEY_FROM_CFG_FILE, NULL, cfg->key_file,
                                   NULL};
    } else {
        return 0;
    }
    return 1;
}

/* SHA-256 of the 32 bytes config/secrets/pseudonym.key.example decodes
 * to: the key itself is public, so only its digest is kept here. */
static const unsigned char public_key_sha256[SHA256_DIGEST_LENGTH] = {
    0xaf, 0xb8, 0x94, 0x39, 0x5b, 0xf0, 0xb4, 0x63, 0xa8, 0x2a, 0xa1,
    0x4d, 0xeb, 0xb4, 0x98, 0x2f, 0x22, 0xe9, 0x58, 0x37, 0xaa, 0x64,
    0x21, 0xd4, 0xf7, 0x04, 0xa5, 0x19, 0x43, 0x14, 0xd9, 0xd6};

/* SHA-256 of data into digest; returns 1, or 0 if OpenSSL failed.
 * Not SHA256(): in OpenSSL 3 that one-shot goes through EVP, and the
 * first EVP call loads the library's configuration file and its default
 * provider, 5.3 million instructions (callgrind), about 1.2 ms or a
 * twentieth of `riffle train` on Adult, whose pseudonyms then never use
 * EVP. The plain context computes the same digest without that start. */
static int sha256_plain(const unsigned char *data, size_t len,
                        unsigned char digest[SHA256_DIGEST_LENGTH])
{
    SHA256_CTX h;
    int ok = SHA256_Init(&h) && SHA256_Update(&h, data, len) &&
             SHA256_Final(digest, &h);

    OPENSSL_cleanse(&h, sizeof(h)); /* it held the key */
    return ok;
}

int anonymize_key_is_public(const unsigned char *key, size_t key_len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    if (!sha256_plain(key, key_len, digest))
        return 0; /* cannot tell: the key's other checks still run */
    return memcmp(digest, public_key_sha256, sizeof(digest)) == 0;
}

/* How many different byte values the key holds. */
static size_t key_distinct_bytes(const unsigned char *key, size_t len)
{
    unsigned char seen[256] = {0};
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        n += !seen[key[i]];
        seen[key[i]] = 1;
    }
    return n;
}

static int load_key(struct anonymizer *a, const struct cfg *cfg,
                    char *errstr, size_t errstr_size)
{
    char file_var[CFG_NAME_MAX + sizeof("_FILE")];
    char why[ANON_MESSAGE_MAX];
    struct key_source src;
    size_t distinct;

    if (!find_key_source(cfg, &src, file_var, sizeof(file_var)))
        return no_key(cfg, errstr, errstr_size);

    if (src.origin != KEY_FROM_ENV) {
        if (read_key_file(a, src.path, why, sizeof(why)) != 0)
            return key_fail(cfg, &src, errstr, errstr_size, why);
    } else if (strlen(src.text) > ANONYMIZE_MAX_KEY_BYTES) {
        snprintf(why, sizeof(why), "key longer than %d bytes",
                 ANONYMIZE_MAX_KEY_BYTES);
        return key_fail(cfg, &src, errstr, errstr_size, why);
    } else {
        set_key(a, src.text, strlen(src.text));
    }

    if (a->key_len < ANONYMIZE_MIN_KEY_BYTES) {
        snprintf(why, sizeof(why),
                 "the pseudonym key has %zu bytes; at least %d needed",
                 a->key_len, ANONYMIZE_MIN_KEY_BYTES);
        return key_fail(cfg, &src, errstr, errstr_size, why);
    }
    distinct = key_distinct_bytes(a->key, a->key_len);
    if (distinct < ANONYMIZE_MIN_KEY_DISTINCT) {
        snprintf(why, sizeof(why),
                 "the pseudonym key has only %zu distinct byte values; at "
                 "least %d needed (a repeated pattern is guessable: make one "
                 "with openssl rand -hex 32)",
                 distinct, ANONYMIZE_MIN_KEY_DISTINCT);
        return key_fail(cfg, &src, errstr, errstr_size, why);
    }
    if (anonymize_key_is_public(a->key, a->key_len))
        log_warn("privacy", "the pseudonym key is the public example key of "
                 "config/secrets: anyone can recompute its pseudonyms; use "
                 "it for demos and tests only (openssl rand -hex 32 makes "
                 "a key of your own)");
    return 0;
}

/* Finds configured field i in the schema and checks that coarsening has
 * what its type needs; errors name the field's line. */
static int map_field(struct anonymizer *a, const struct schema *schema,
                     size_t i, char *errstr, size_t errstr_size)
{
    const struct cfg *cfg = a->cfg;
    const struct cfg_field *f = &cfg->fields[i];
    char key[ANON_KEY_MAX];
    int is_string;

    a->schema_index[i] = schema_field_index(schema, f->name);
    if (a->schema_index[i] < 0) {
        snprintf(key, sizeof(key), "fields[%zu].name", i);
        return cfg_error(cfg, f->line, key, errstr, errstr_size,
                         "field \"%s\" is not in schema %s", f->name,
                         schema_name(schema));
    }

    is_string = schema_field_type(schema, (size_t)a->schema_index[i]) ==
                SCHEMA_FIELD_STRING;
    if ((f->privacy == CFG_PRIVACY_NOISE && is_string) ||
        (f->date_precision != CFG_DATE_NONE && !is_string)) {
        snprintf(key, sizeof(key), "fields[%zu].%s", i,
                 is_string ? "personal" : "date");
        return cfg_error(cfg, f->line, key, errstr, errstr_size,
                         "field \"%s\" is a %s in schema %s: %s", f->name,
                         is_string ? "string" : "number", schema_name(schema),
                         is_string ? "noise needs a number"
                                   : "date coarsening reads ISO date text");
    }
    if (f->privacy != CFG_PRIVACY_COARSEN || f->date_precision ||
        (is_string ? f->keep_prefix > 0 : f->band_width > 0))
        return 0;
    snprintf(key, sizeof(key), "fields[%zu].%s", i,
             is_string ? "keep_prefix" : "band");
    return cfg_error(cfg, f->line, key, errstr, errstr_size,
                     "field \"%s\": coarsening a %s needs %s", f->name,
                     is_string ? "string" : "number",
                     is_string ? "keep_prefix > 0" : "band > 0");
}

/* Absorbs the padded key into the inner and outer digests. Returns 0 or
 * RIFFLE_ERR_NOMEM (OpenSSL failed); h is then to be wiped with
 * hmac_free() either way. */
static int hmac_absorb_key(struct hmac_keyed *h, const unsigned char *key,
                           size_t key_len)
{
    unsigned char k[HMAC_BLOCK_BYTES] = {0}, pad[HMAC_BLOCK_BYTES];
    size_t i;
    int ok = 1;

    if (key_len > HMAC_BLOCK_BYTES) /* long keys are hashed */
        ok = sha256_plain(key, key_len, k);
    else
        memcpy(k, key, key_len);

    for (i = 0; i < HMAC_BLOCK_BYTES; i++)
        pad[i] = k[i] ^ HMAC_IPAD;
    ok = ok && SHA256_Init(&h->inner) &&
         SHA256_Update(&h->inner, pad, sizeof(pad));
    for (i = 0; i < HMAC_BLOCK_BYTES; i++)
        pad[i] = k[i] ^ HMAC_OPAD;
    ok = ok && SHA256_Init(&h->outer) &&
         SHA256_Update(&h->outer, pad, sizeof(pad));

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok ? 0 : RIFFLE_ERR_NOMEM;
}

static void hmac_free(struct hmac_keyed *h)
{
    OPENSSL_cleanse(h, sizeof(*h));
}

/* HMAC of the message made of part a then part b (either may be empty),
 * from the prepared digests; mac receives SHA-256's 32 bytes. The copy
 * of a keyed state and the inner digest are wiped before returning. */
static int hmac_two_parts(const struct hmac_keyed *h, const void *a,
                          size_t a_len, const void *b, size_t b_len,
                          unsigned char *mac)
{
    struct {
        SHA256_CTX ctx;
        unsigned char inner[SHA256_DIGEST_LENGTH];
    } work;
    int ok;

    work.ctx = h->inner;
    ok = SHA256_Update(&work.ctx, a, a_len) &&
         SHA256_Update(&work.ctx, b, b_len) &&
         SHA256_Final(work.inner, &work.ctx);
    work.ctx = h->outer;
    ok = ok && SHA256_Update(&work.ctx, work.inner, sizeof(work.inner)) &&
         SHA256_Final(mac, &work.ctx);
    OPENSSL_cleanse(&work, sizeof(work));
    return ok ? 0 : RIFFLE_ERR_NOMEM;
}

static int hmac_prepare(struct anonymizer *a)
{
    int err;

    a->cache = calloc(PSEUDONYM_CACHE_SLOTS, sizeof(*a->cache));
    if (!a->cache)
        return RIFFLE_ERR_NOMEM;
    err = fingerprint_key_random(&a->fp_key);
    return err ? err : hmac_absorb_key(&a->mac, a->key, a->key_len);
}

/* HMAC(key, field NUL value), value len bytes: the NUL keeps ("ab","c")
 * apart from ("a","bc"). */
static int hmac_field_value(const struct anonymizer *a, const char *field,
                            const char *value, size_t len,
                            unsigned char *mac)
{
    return hmac_two_parts(&a->mac, field, strlen(field) + 1, value, len,
                          mac);
}

int anonymize_hmac_sha256(const unsigned char *key, size_t key_len,
                          const void *msg, size_t len, unsigned char *mac)
{
    struct hmac_keyed h = {0};
    int err = hmac_absorb_key(&h, key, key_len);

    if (!err)
        err = hmac_two_parts(&h, msg, len, "", 0, mac);
    hmac_free(&h);
    return err;
}

/* The name of band k (a whole number) of the given width. */
static void band_name(double k, double width, char *out, size_t out_size)
{
    double lo = k * width;
    char lo_text[NUMFMT_MAX], hi_text[NUMFMT_MAX];
    const char *parts[] = {
        "[", numfmt_double(lo, lo_text, sizeof(lo_text)), ",",
        numfmt_double(lo + width, hi_text, sizeof(hi_text)), ")"};
    size_t i, len, n = 0;

    /* "[lo,hi)" joined by hand, cut short as snprintf would: its format
     * parse was most of the cost of coarsening an age, a twelfth of an
     * Adult event. */
    if (out_size == 0)
        return;
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        len = strlen(parts[i]);
        if (len > out_size - 1 - n)
            len = out_size - 1 - n;
        memcpy(out + n, parts[i], len);
        n += len;
    }
    out[n] = '\0';
}

void anonymize_band(double x, double width, char *out, size_t out_size)
{
    band_name(floor(x / width), width, out, out_size);
}

static void band_names_free(struct band_names *b)
{
    if (!b)
        return;
    free(b->name);
    free(b);
}

/* Names the bands of field f ahead when it has bounds and at most
 * ANON_BAND_TABLE_MAX bands; otherwise leaves *out NULL. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
static int band_names_new(const struct cfg_field *f, struct band_names **out)
{
    struct band_names *b;
    double first, last;
    size_t k;

    *out = NULL;
    if (f->kind == CFG_FIELD_NUMERIC || f->date_precision != CFG_DATE_NONE ||
        !(f->band_width > 0.0) || !f->has_min || !f->has_max)
        return 0;
    first = floor(f->min / f->band_width);
    last = floor(f->max / f->band_width);
    if (!(last >= first && last - first < ANON_BAND_TABLE_MAX))
        return 0;

    b = calloc(1, sizeof(*b));
    if (!b)
        return RIFFLE_ERR_NOMEM;
    b->first = first;
    b->count = (size_t)(last - first) + 1;
    b->name = calloc(b->count, sizeof(*b->name));
    if (!b->name) {
        band_names_free(b);
        return RIFFLE_ERR_NOMEM;
    }
    for (k = 0; k < b->count; k++) {
        struct named_band *n = &b->name[k];

        band_name(first + (double)k, f->band_width, n->text,
                  sizeof(n->text));
        n->len = strlen(n->text);
    }
    *out = b;
    return 0;
}

int anonymizer_new(const struct cfg *cfg, const struct schema *schema,
                   struct anonymizer **out, char *errstr, size_t errstr_size)
{
    struct anonymizer *a = calloc(1, sizeof(*a));
    size_t i;
    int err = 0;

    if (!a)
        return RIFFLE_ERR_NOMEM;
    a->cfg = cfg;
    a->id_field = CFG_MAX_FIELDS;
    a->key_id_len = strlen(cfg->key_id);
    memcpy(a->token_head, cfg->key_id, a->key_id_len);
    a->token_head[a->key_id_len] = ':';

    for (i = 0; i < cfg->field_count && !err; i++) {
        err = map_field(a, schema, i, errstr, errstr_size);
        if (!err && cfg->fields[i].privacy != CFG_PRIVACY_NONE)
            add_personal(a, i);
        if (!err && cfg->fields[i].privacy == CFG_PRIVACY_COARSEN)
            err = band_names_new(&cfg->fields[i], &a->bands[i]);
    }
    if (!err && needs_key(cfg))
        err = load_key(a, cfg, errstr, errstr_size);
    if (!err && needs_encrypt_key(cfg))
        err = load_encrypt_keys(a, errstr, errstr_size);
    if (!err && needs_key(cfg)) {
        err = hmac_prepare(a);
        if (err == RIFFLE_ERR_IO)
            snprintf(errstr, errstr_size, "cannot draw the pseudonym "
                     "cache's fingerprint key from the kernel's random "
                     "generator: %s", strerror(errno));
        else if (err)
            snprintf(errstr, errstr_size, "cannot set up HMAC-SHA256");
    }
    if (err) {
        anonymizer_destroy(a);
        return err;
    }

    *out = a;
    return 0;
}

void anonymizer_destroy(struct anonymizer *a)
{
    size_t i;

    if (!a)
        return;
    hmac_free(&a->mac);
    if (a->cache) {
        OPENSSL_cleanse(a->cache,
                        PSEUDONYM_CACHE_SLOTS * sizeof(*a->cache));
        free(a->cache);
    }
    OPENSSL_cleanse(a->key, sizeof(a->key));
    OPENSSL_cleanse(&a->fp_key, sizeof(a->fp_key));
    keyring_wipe(&a->encrypt_keys);
    for (i = 0; i < CFG_MAX_FIELDS; i++)
        band_names_free(a->bands[i]);
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
    const unsigned char *digest;

    if (out_size < id_len + 2 + ANONYMIZE_TOKEN_HEX)
        return RIFFLE_ERR_INVALID;

    /* field NUL value: the NUL keeps ("ab","c") apart from ("a","bc"). */
    msg = malloc(field_len + 1 + value_len);
    if (!msg)
        return RIFFLE_ERR_NOMEM;
    memcpy(msg, field, field_len + 1);
    memcpy(msg + field_len + 1, value, value_len);

    /* HMAC() fails only when OpenSSL cannot allocate its context. */
    digest = HMAC(EVP_sha256(), key, (int)key_len, msg,
                  field_len + 1 + value_len, mac, &mac_len);
    OPENSSL_cleanse(msg, field_len + 1 + value_len);
    free(msg);
    if (!digest)
        return RIFFLE_ERR_NOMEM;

    memcpy(out, key_id, id_len);
    out[id_len] = ':';
    for (i = 0; i < ANONYMIZE_TOKEN_HEX / 2; i++) {
        out[id_len + 1 + 2 * i] = digits[mac[i] >> 4];
        out[id_len + 2 + 2 * i] = digits[mac[i] & 0xf];
    }
    out[id_len + 1 + ANONYMIZE_TOKEN_HEX] = '\0';
    return 0;
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

/* value_text() and its length: a string's is known, a number's text is
 * counted. The length counts in the pseudonym cache's fingerprint only:
 * the digest reads the text up to its first NUL (hmac_field_value()), so
 * a string holding one gets the same pseudonym whichever slot holds it. */
static const char *value_text_len(const struct event *ev, size_t index,
                                  char *tmp, size_t tmp_size, size_t *len)
{
    const struct value *v = &ev->values[index];
    const char *text;

    if (v->kind == VALUE_STRING) {
        *len = v->str_len;
        return event_string(ev, index);
    }
    text = numfmt_double(v->number, tmp, tmp_size);
    *len = strlen(text);
    return text;
}

/* Where x's band is in configured field's names made ahead, or
 * ANON_NO_BAND when the field has none or x falls outside them (NaN
 * included). */
#define ANON_NO_BAND ((size_t)-1)

static size_t band_index(const struct anonymizer *a, size_t field, double x)
{
    const struct band_names *names = a->bands[field];
    double k;

    if (!names)
        return ANON_NO_BAND;
    k = floor(x / a->cfg->fields[field].band_width) - names->first;
    if (k >= 0.0 && k < (double)names->count)
        return (size_t)k;
    return ANON_NO_BAND;
}

/* The name of the band of x for configured field, a category: from the
 * names made ahead when it has one, else written into band
 * (ANON_BAND_MAX bytes). *len receives its length. */
static const char *band_text(const struct anonymizer *a, size_t field,
                             double x, char *band, size_t *len)
{
    size_t k = band_index(a, field, x);

    if (k != ANON_NO_BAND) {
        *len = a->bands[field]->name[k].len;
        return a->bands[field]->name[k].text;
    }
    anonymize_band(x, a->cfg->fields[field].band_width, band, ANON_BAND_MAX);
    *len = strlen(band);
    return band;
}

/* Whether coarsening field's value v makes a band's name, the case that
 * a hint can carry (anonymizer_hint_event()). */
static int coarsens_to_band(const struct cfg_field *f, const struct value *v)
{
    return f->date_precision == CFG_DATE_NONE && v->kind == VALUE_NUMBER &&
           f->kind != CFG_FIELD_NUMERIC;
}

static int coarsen(const struct anonymizer *a, size_t field, struct event *ev,
                   size_t index)
{
    const struct cfg_field *f = &a->cfg->fields[field];
    char band[ANON_BAND_MAX];
    const struct value *v = &ev->values[index];
    const char *text;
    size_t len;

    if (event_use_replacement(ev, index))
        return 0; /* the band's name, made ahead from this value */

    if (v->kind == VALUE_NUMBER) {
        /* A numeric feature keeps a number (the band's lower bound); any
         * other kind becomes the band's name, a category. */
        if (f->kind == CFG_FIELD_NUMERIC) {
            event_set_number(ev, index,
                             floor(v->number / f->band_width) * f->band_width);
            return 0;
        }
        text = band_text(a, field, v->number, band, &len);
        return event_set_string(ev, index, text, len);
    }

    if (v->str_len > f->keep_prefix) {
        char prefix[CFG_MAX_KEEP_PREFIX + 1];

        assert(f->keep_prefix <= CFG_MAX_KEEP_PREFIX); /* cfg.c's bound */
        memcpy(prefix, event_string(ev, index), f->keep_prefix);
        return event_set_string(ev, index, prefix, f->keep_prefix);
    }
    return 0;
}

/* Writes the hex digits of HMAC(field NUL value), value len bytes, into
 * hex. */
static int pseudonym_hex(const struct anonymizer *a, const char *field,
                         const char *value, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t i;
    int err = hmac_field_value(a, field, value, len, mac);

    if (err)
        return err;
    for (i = 0; i < ANONYMIZE_TOKEN_HEX / 2; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0xf];
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

/* 2^64 / golden ratio: an odd multiplier that spreads a field's number
 * over the high half of the product. */
#define PSEUDONYM_CACHE_MIX 0x9E3779B97F4A7C15ULL

/* The first of the two cache slots (a set) for configured field's value
 * with fingerprint fp: the fingerprint is already uniform, the field
 * moves equal values of two fields apart. Only picks the set; a value
 * may sit in either slot, slot_holds() decides a hit. Two ways, not one
 * slot: Adult's 55 distinct personal values in 1,024 slots made about
 * 1.5 pairs that shared a slot, on average over keys drawn at random,
 * and two frequent ones evicted each other, an HMAC a row (the reader
 * thread took 134M to 144M instructions as the key fell). In sets of two
 * three values must meet: about 0.1 such triples a key. */
static inline struct pseudonym_slot *cache_set(struct pseudonym_slot *cache,
                                               size_t field,
                                               const struct fingerprint *fp)
{
    uint64_t h = fp->w[0] + (uint64_t)field * PSEUDONYM_CACHE_MIX;

    return &cache[(h >> 32) & (PSEUDONYM_CACHE_SLOTS - 2)];
}

/* Whether slot holds configured field's value with fingerprint fp. */
static inline int slot_holds(const struct pseudonym_slot *slot, size_t field,
                             const struct fingerprint *fp)
{
    return slot->used && slot->field == field && slot->fp.w[0] == fp->w[0] &&
           slot->fp.w[1] == fp->w[1];
}

/* Writes the token "key_id:hex" from the digits hex (ANONYMIZE_TOKEN_HEX
 * bytes) at out, which holds key_id_len + 1 + ANONYMIZE_TOKEN_HEX. The
 * head goes in whole words, inline where a memcpy() of its length was a
 * call: a last word's bytes past the head land where the digits go next,
 * ANONYMIZE_TOKEN_HEX (at least a word) of them. */
_Static_assert(ANONYMIZE_TOKEN_HEX >= 8, "write_token() overwrites a word");

static void write_token(const struct anonymizer *a, char *out,
                        const char *hex)
{
    size_t head = a->key_id_len + 1, i;

    for (i = 0; i < head; i += 8)
        memcpy(out + i, a->token_head + i, 8);
    memcpy(out + head, hex, ANONYMIZE_TOKEN_HEX);
}

/* The hex digits of configured field's pseudonym of value (len bytes)
 * from the prepared digests, which are only read, kept in slot under the
 * value's fingerprint fp. Returns a pointer to ANONYMIZE_TOKEN_HEX digits
 * in slot; NULL when out of memory. */
static const char *token_hex_made(const struct anonymizer *a,
                                  struct pseudonym_slot *slot, size_t field,
                                  const struct fingerprint *fp,
                                  const char *value)
{
    if (pseudonym_hex(a, a->cfg->fields[field].name, value, strlen(value),
                      slot->hex) != 0)
        return NULL;
    slot->used = 1;
    slot->field = (uint16_t)field;
    slot->fp = *fp;
    slot->has_hash = 0;
    return slot->hex;
}

/* The hex digits of configured field's pseudonym of value (len bytes),
 * from cache (PSEUDONYM_CACHE_SLOTS slots of the calling thread's own)
 * or the prepared digests. Returns a pointer to ANONYMIZE_TOKEN_HEX
 * digits in the value's slot, *slot_out; valid until the next call with
 * the same cache. NULL when out of memory. */
static const char *token_hex(const struct anonymizer *a,
                             struct pseudonym_slot *cache, size_t field,
                             const char *value, size_t len,
                             struct pseudonym_slot **slot_out)
{
    struct fingerprint fp = fingerprint_of(&a->fp_key, value, len);
    struct pseudonym_slot *set = cache_set(cache, field, &fp);

    if (slot_holds(&set[0], field, &fp)) {
        *slot_out = &set[0];
        return set[0].hex;
    }
    if (slot_holds(&set[1], field, &fp)) {
        *slot_out = &set[1];
        return set[1].hex;
    }
    /* A miss: the new token goes first, the set's first moves second
     * (the older of the two, roughly, leaves). */
    if (set[0].used)
        set[1] = set[0];
    *slot_out = &set[0];
    return token_hex_made(a, &set[0], field, &fp, value);
}

/* The token of anonymize_pseudonym(), from a hint made ahead when the
 * value still has one, else from the cache or the prepared digests,
 * written straight into the event. The value is read before the token
 * is written: writing may move the arena it lives in. */
static int pseudonymize(const struct anonymizer *a, size_t field,
                        struct event *ev, size_t index)
{
    char tmp[NUMFMT_MAX];
    struct pseudonym_slot *slot;
    const char *value, *hex;
    size_t len;
    char *out;

    if (event_use_replacement(ev, index))
        return 0;

    value = value_text_len(ev, index, tmp, sizeof(tmp), &len);
    hex = token_hex(a, a->cache, field, value, len, &slot);
    if (!hex)
        return RIFFLE_ERR_NOMEM;
    out = event_write_string(ev, index,
                             a->key_id_len + 1 + ANONYMIZE_TOKEN_HEX);
    if (!out)
        return event_write_failure(ev, a->key_id_len + 1 + ANONYMIZE_TOKEN_HEX);
    write_token(a, out, hex);
    return 0;
}

static int replace_id(const struct anonymizer *a, struct event *ev,
                      int hint);

/* A band's feature hash as the hinter's hasher gives it. */
enum band_hash_state {
    BAND_HASH_UNKNOWN = 0, /* not asked yet */
    BAND_HASH_KNOWN,       /* hash holds it */
    BAND_HASH_NONE,        /* the band's name makes no feature */
};

struct band_hash {
    unsigned char state; /* enum band_hash_state */
    uint32_t hash;
};

/* What a thread that reads ahead computes: pseudonyms with the
 * anonymizer's prepared digests, shared read-only, and a cache of its
 * own; the names of coarsened bands from the anonymizer's tables. */
struct anonymizer_hinter {
    const struct anonymizer *a;
    struct anonymizer_hint_hasher hasher; /* fn NULL: none */
    size_t hinted[CFG_MAX_FIELDS]; /* configured fields, in order */
    size_t hinted_count;
    struct pseudonym_slot *cache; /* PSEUDONYM_CACHE_SLOTS entries, or
                                     NULL without pseudonyms */
    /* Per configured field with names of bands made ahead (and with a
     * hasher), each band's feature hash once computed: Adult's age band
     * was hashed again every row. */
    struct band_hash *band_hash[CFG_MAX_FIELDS];
};

int anonymizer_hinter_new(const struct anonymizer *a,
                          const struct anonymizer_hint_hasher *hasher,
                          struct anonymizer_hinter **out)
{
    struct anonymizer_hinter *h = calloc(1, sizeof(*h));
    int pseudonyms = 0;
    size_t j;

    if (!h)
        return RIFFLE_ERR_NOMEM;
    h->a = a;
    if (hasher)
        h->hasher = *hasher;
    for (j = 0; j < a->personal_count; j++) {
        enum cfg_privacy_action p = a->personal[j].action;

        if (p != CFG_PRIVACY_PSEUDONYM && p != CFG_PRIVACY_COARSEN)
            continue;
        h->hinted[h->hinted_count++] = a->personal[j].field;
        pseudonyms |= p == CFG_PRIVACY_PSEUDONYM;
    }
    if (pseudonyms) {
        h->cache = calloc(PSEUDONYM_CACHE_SLOTS, sizeof(*h->cache));
        if (!h->cache) {
            free(h);
            return RIFFLE_ERR_NOMEM;
        }
    }
    for (j = 0; j < h->hinted_count && h->hasher.fn; j++) {
        size_t i = h->hinted[j];

        if (!a->bands[i])
            continue;
        h->band_hash[i] = calloc(a->bands[i]->count, sizeof(struct band_hash));
        if (!h->band_hash[i]) {
            anonymizer_hinter_destroy(h);
            return RIFFLE_ERR_NOMEM;
        }
    }
    *out = h;
    return 0;
}

void anonymizer_hinter_destroy(struct anonymizer_hinter *h)
{
    size_t i;

    if (!h)
        return;
    for (i = 0; i < CFG_MAX_FIELDS; i++)
        free(h->band_hash[i]);
    if (h->cache) {
        OPENSSL_cleanse(h->cache, PSEUDONYM_CACHE_SLOTS * sizeof(*h->cache));
        free(h->cache);
    }
    free(h);
}

int anonymizer_cache_holds(const struct anonymizer *a, const void *needle,
                           size_t n)
{
    return a->cache && buf_span_holds(a->cache, PSEUDONYM_CACHE_SLOTS *
                                                    sizeof(*a->cache),
                                      needle, n);
}

int anonymizer_hinter_cache_holds(const struct anonymizer_hinter *h,
                                  const void *needle, size_t n)
{
    return h->cache && buf_span_holds(h->cache, PSEUDONYM_CACHE_SLOTS *
                                                    sizeof(*h->cache),
                                      needle, n);
}

/* Gives the replacement of configured field i just made (text, len
 * bytes, at index in ev) its feature hash, from the pseudonym's slot when
 * it has one (may be NULL), else from the hasher, then kept in the slot:
 * hashing a 42-byte token cost about as much as finding its pseudonym. */
static void hint_replacement_hash(const struct anonymizer_hinter *h,
                                  size_t i, struct event *ev, size_t index,
                                  struct pseudonym_slot *slot,
                                  const char *text, size_t len)
{
    uint32_t hash;

    if (!h->hasher.fn)
        return;
    if (slot && slot->has_hash) {
        event_hint_replacement_hash(ev, index, slot->hash);
        return;
    }
    if (!h->hasher.fn(h->hasher.arg, i, text, len, &hash))
        return; /* not a feature */
    event_hint_replacement_hash(ev, index, hash);
    if (slot) {
        slot->hash = hash;
        slot->has_hash = 1;
    }
}

/* Hints the pseudonym of configured field i, at index in ev. */
static int hint_pseudonym(struct anonymizer_hinter *h, size_t i,
                          struct event *ev, size_t index)
{
    const struct anonymizer *a = h->a;
    size_t token_len = a->key_id_len + 1 + ANONYMIZE_TOKEN_HEX;
    char tmp[NUMFMT_MAX];
    struct pseudonym_slot *slot;
    size_t len;
    const char *value = value_text_len(ev, index, tmp, sizeof(tmp), &len);
    const char *hex = token_hex(a, h->cache, i, value, len, &slot);
    char *out;

    if (!hex)
        return RIFFLE_ERR_NOMEM;
    out = event_hint_replacement(ev, index, token_len);
    if (!out)
        return RIFFLE_ERR_NOMEM;
    write_token(a, out, hex);
    hint_replacement_hash(h, i, ev, index, slot, out, token_len);
    return 0;
}

/* Gives the band's name just hinted for configured field i (band k of
 * its names made ahead, at index in ev) its feature hash, computed once
 * a band. */
static void hint_band_hash(struct anonymizer_hinter *h, size_t i,
                           size_t k, struct event *ev, size_t index)
{
    struct band_hash *b = &h->band_hash[i][k];

    if (b->state == BAND_HASH_UNKNOWN) {
        const struct named_band *n = &h->a->bands[i]->name[k];

        b->state = h->hasher.fn(h->hasher.arg, i, n->text, n->len, &b->hash)
                       ? BAND_HASH_KNOWN
                       : BAND_HASH_NONE;
    }
    if (b->state == BAND_HASH_KNOWN)
        event_hint_replacement_hash(ev, index, b->hash);
}

/* Hints the band's name of configured field i, at index in ev, when
 * coarsening makes one of its value. */
static int hint_band(struct anonymizer_hinter *h, size_t i,
                     struct event *ev, size_t index)
{
    const struct anonymizer *a = h->a;
    char band[ANON_BAND_MAX];
    double x = ev->values[index].number;
    size_t k, len;
    const char *text;
    char *out;

    if (!coarsens_to_band(&a->cfg->fields[i], &ev->values[index]))
        return 0;
    k = band_index(a, i, x);
    if (k != ANON_NO_BAND) {
        text = a->bands[i]->name[k].text;
        len = a->bands[i]->name[k].len;
    } else {
        text = band_text(a, i, x, band, &len);
    }
    out = event_hint_replacement(ev, index, len);
    if (!out)
        return RIFFLE_ERR_NOMEM;
    memcpy(out, text, len);
    if (k != ANON_NO_BAND && h->band_hash[i])
        hint_band_hash(h, i, k, ev, index);
    else
        hint_replacement_hash(h, i, ev, index, NULL, out, len);
    return 0;
}

/* Hints the pseudonym of a pseudonymized event id, which
 * anonymizer_apply_id() then takes: made on the learner's thread, its
 * HMAC was two fifths of that thread's instructions in `riffle train` on
 * Elec2 under callgrind (68.9M of 5,000 rows, 41.8M without the id's). */
static int hint_id(const struct anonymizer_hinter *h, struct event *ev)
{
    return replace_id(h->a, ev, 1);
}

int anonymizer_hint_event(struct anonymizer_hinter *h, struct event *ev)
{
    const struct anonymizer *a = h->a;
    size_t j;
    int err = 0;

    if (anonymizer_hides_id(a))
        err = hint_id(h, ev);

    for (j = 0; j < h->hinted_count && err == 0; j++) {
        size_t i = h->hinted[j];
        size_t index = (size_t)a->schema_index[i];

        if (ev->values[index].kind == VALUE_NULL)
            continue; /* left null by anonymizer_apply() */
        if (a->cfg->fields[i].privacy == CFG_PRIVACY_PSEUDONYM)
            err = hint_pseudonym(h, i, ev, index);
        else
            err = hint_band(h, i, ev, index);
    }
    return err;
}

size_t anonymize_mask(const char *value, size_t len, size_t keep_last,
                      char *out)
{
    size_t chars = 0, i, kept_from = len, seen = 0, n = 0;

    /* Characters, not bytes: a UTF-8 continuation byte starts none. */
    for (i = 0; i < len; i++)
        chars += ((unsigned char)value[i] & 0xC0) != 0x80;

    /* A value no longer than what would be kept is masked whole, or the
     * mask would show all of it. */
    if (chars > keep_last) {
        for (i = len; i > 0 && seen < keep_last; i--)
            seen += ((unsigned char)value[i - 1] & 0xC0) != 0x80;
        kept_from = i;
    }
    for (i = 0; i < kept_from; i++)
        if (((unsigned char)value[i] & 0xC0) != 0x80)
            out[n++] = '*';
    memcpy(out + n, value + kept_from, len - kept_from);
    n += len - kept_from;
    out[n] = '\0';
    return n;
}

int anonymize_coarsen_date(const char *value, size_t len,
                           enum cfg_date_precision precision)
{
    static const size_t keep[] = {0, 10, 7, 4}; /* by cfg_date_precision */
    size_t i;
    int month, day;

    /* "YYYY-MM-DD", then anything (a time, a zone). */
    if (len < 10 || value[4] != '-' || value[7] != '-')
        return -1;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)value[i]))
            return -1;
    month = (value[5] - '0') * 10 + (value[6] - '0');
    day = (value[8] - '0') * 10 + (value[9] - '0');
    if (month < 1 || month > 12 || day < 1 || day > 31 ||
        (len > 10 && value[10] != 'T' && value[10] != ' '))
        return -1;
    return (int)keep[precision];
}

double anonymize_laplace(double u, double scale)
{
    double a = fabs(u);

    if (a >= 0.5) /* ln(0): the open interval's edge never comes up */
        a = nextafter(0.5, 0.0);
    return (u < 0 ? scale : -scale) * log(1.0 - 2.0 * a);
}

/* A uniform draw in [-0.5, 0.5) from OpenSSL's CSPRNG: noise a reader
 * could predict would protect nothing. */
static int uniform_centered(double *u)
{
    uint64_t bits;

    if (RAND_bytes((unsigned char *)&bits, sizeof(bits)) != 1)
        return RIFFLE_ERR_NOMEM;
    *u = (double)(bits >> 11) / (double)(UINT64_C(1) << 53) - 0.5;
    return 0;
}

static int add_noise(const struct cfg_field *f, struct event *ev,
                     size_t index)
{
    double u, x;
    int err = uniform_centered(&u);

    if (err)
        return err;
    x = ev->values[index].number +
        anonymize_laplace(u, f->sensitivity / f->epsilon);
    /* Clipping after the noise is post-processing: it costs no privacy
     * and keeps the value inside the range cleaning promised. */
    if (f->has_min && x < f->min)
        x = f->min;
    if (f->has_max && x > f->max)
        x = f->max;
    event_set_number(ev, index, x);
    return 0;
}

static int mask(const struct cfg_field *f, struct event *ev, size_t index)
{
    char tmp[NUMFMT_MAX];
    const char *text = value_text(ev, index, tmp, sizeof(tmp));
    size_t len = strlen(text), n;
    char *out = malloc(len + 1);
    int err;

    if (!out)
        return RIFFLE_ERR_NOMEM;
    n = anonymize_mask(text, len, f->keep_last, out);
    err = event_set_string(ev, index, out, n);
    OPENSSL_cleanse(out, len + 1);
    free(out);
    return err;
}

/* An ISO date keeps its day, month or year; anything else is not a date
 * this rule can coarsen, and is dropped rather than passed on raw. */
static int coarsen_date(const struct cfg_field *f, struct event *ev,
                        size_t index)
{
    char date[sizeof("YYYY-MM-DD")];
    int keep = -1;

    if (ev->values[index].kind == VALUE_STRING)
        keep = anonymize_coarsen_date(event_string(ev, index),
                                      ev->values[index].str_len,
                                      f->date_precision);
    if (keep < 0) {
        event_set_null(ev, index);
        return 0;
    }
    memcpy(date, event_string(ev, index), (size_t)keep);
    return event_set_string(ev, index, date, (size_t)keep);
}

static int encrypt_value(const struct anonymizer *a, const struct cfg_field *f,
                   struct event *ev, size_t index)
{
    char tmp[NUMFMT_MAX];
    const char *text = value_text(ev, index, tmp, sizeof(tmp));
    struct buf out = {0};
    int err = seal_encrypt_text(&a->encrypt_keys, f->name, text,
                                strlen(text), &out);

    if (!err)
        err = event_set_string(ev, index, out.data, out.len);
    buf_free(&out);
    return err;
}

int anonymizer_hides_id(const struct anonymizer *a)
{
    return a->id_field < CFG_MAX_FIELDS;
}

/* Writes the id's token for value (len bytes, read up to a first NUL as
 * every pseudonym's digest reads its value) at out, which holds
 * key_id_len + 1 + ANONYMIZE_TOKEN_HEX bytes. No cache: ids rarely
 * repeat, and would push the repeating values of other fields out. */
static int id_token(const struct anonymizer *a, const char *value,
                    size_t len, char *out)
{
    const char *nul = memchr(value, '\0', len);
    char hex[ANONYMIZE_TOKEN_HEX];
    int err;

    err = pseudonym_hex(a, a->cfg->fields[a->id_field].name, value,
                        nul ? (size_t)(nul - value) : len, hex);
    if (!err)
        write_token(a, out, hex);
    return err;
}

/* Replaces the event's id by its token: as a hint made ahead on the
 * reader's thread (hint), or written into the event. The token is made
 * into a copy first: writing may grow the arena the id lives in. */
static int replace_id(const struct anonymizer *a, struct event *ev, int hint)
{
    size_t token_len = a->key_id_len + 1 + ANONYMIZE_TOKEN_HEX;
    char token[CFG_NAME_MAX + 8 + ANONYMIZE_TOKEN_HEX];
    const struct value *v = &ev->values[a->id_index];
    char *out;
    int err;

    if (v->kind != VALUE_STRING || v->str_len == 0)
        return 0; /* cleaning refuses it: nothing to hide */
    err = id_token(a, event_string(ev, a->id_index), v->str_len, token);
    if (err)
        return err;
    out = hint ? event_hint_replacement(ev, a->id_index, token_len)
               : event_write_string(ev, a->id_index, token_len);
    if (!out)
        return event_write_failure(ev, token_len);
    memcpy(out, token, token_len);
    return 0;
}

/* Where field index of ev holds a raw personal value about to be acted
 * on: a string's bytes in the arena (at, len), or none (len 0). */
struct raw_span {
    size_t at, len;
};

static inline struct raw_span raw_span_of(const struct event *ev,
                                          size_t index)
{
    const struct value *v = &ev->values[index];
    struct raw_span r = {0, 0};

    if (v->kind == VALUE_STRING) {
        r.at = v->str_offset;
        r.len = v->str_len;
    }
    return r;
}

/* Wipes the raw value that field index of ev held (r) once its action
 * has run: unless the field still points at it (a value the action
 * keeps as it is, a prefix no longer than the value's), nothing reads
 * those bytes again. Replacements are written past them, never over. */
static inline void wipe_raw_span(struct event *ev, size_t index,
                                 struct raw_span r)
{
    const struct value *v = &ev->values[index];

    if (r.len > 0 && (v->kind != VALUE_STRING || v->str_offset != r.at))
        event_wipe_bytes(ev, r.at, r.len);
}

int anonymizer_apply_id(const struct anonymizer *a, struct event *ev)
{
    struct raw_span raw;
    int err = 0;

    if (!anonymizer_hides_id(a))
        return 0;
    raw = raw_span_of(ev, a->id_index);
    if (!event_use_replacement(ev, a->id_index)) /* else made ahead */
        err = replace_id(a, ev, 0);
    if (!err)
        wipe_raw_span(ev, a->id_index, raw);
    return err;
}

int anonymizer_id_pseudonym(const struct anonymizer *a, const void *raw,
                            size_t len, struct buf *out)
{
    size_t token_len = a->key_id_len + 1 + ANONYMIZE_TOKEN_HEX;
    char token[CFG_NAME_MAX + 8 + ANONYMIZE_TOKEN_HEX];
    int err;

    assert(anonymizer_hides_id(a));
    err = id_token(a, raw, len, token);
    if (!err)
        err = buf_append(out, token, token_len);
    OPENSSL_cleanse(token, sizeof(token));
    return err;
}

int anonymizer_apply(const struct anonymizer *a, struct event *ev)
{
    size_t j;
    int err = 0;

    /* Before any register is saved for the loop: the learner's thread
     * calls this for every event, and most sets have no personal field. */
    if (a->personal_count == 0)
        return 0;
    for (j = 0; j < a->personal_count && err == 0; j++) {
        const struct personal_field *pf = &a->personal[j];
        size_t i = pf->field;
        const struct cfg_field *f = &a->cfg->fields[i];
        size_t index = pf->schema_index;
        struct raw_span raw;

        if (ev->values[index].kind == VALUE_NULL)
            continue;
        raw = raw_span_of(ev, index);
        /* What pseudonymize() and coarsen() do first, here without the
         * call or the field's configuration. */
        if (pf->hinted && event_use_replacement(ev, index)) {
            wipe_raw_span(ev, index, raw);
            continue;
        }

        switch (pf->action) {
        case CFG_PRIVACY_DROP:
            event_set_null(ev, index);
            ev->values[index].number = 0.0; /* a dropped number's */
            break;
        case CFG_PRIVACY_PSEUDONYM:
            err = pseudonymize(a, i, ev, index);
            break;
        case CFG_PRIVACY_COARSEN:
            if (f->date_precision != CFG_DATE_NONE)
                err = coarsen_date(f, ev, index);
            else
                err = coarsen(a, i, ev, index);
            break;
        case CFG_PRIVACY_MASK:
            err = mask(f, ev, index);
            break;
        case CFG_PRIVACY_NOISE:
            err = add_noise(f, ev, index);
            break;
        case CFG_PRIVACY_ENCRYPT:
            err = encrypt_value(a, f, ev, index);
            break;
        default:
            break;
        }
        if (!err)
            wipe_raw_span(ev, index, raw);
    }
    return err;
}

void anonymizer_wipe_raw(const struct anonymizer *a, struct event *ev)
{
    size_t j;

    for (j = 0; j < a->personal_count; j++) {
        size_t index = a->personal[j].schema_index;
        struct value *v = &ev->values[index];

        if (v->kind == VALUE_STRING)
            event_wipe_bytes(ev, v->str_offset, v->str_len);
        v->number = 0.0;
        event_set_null(ev, index);
    }
}
