/*
 * tests/unit/test_anonymize.c - drop, pseudonym and coarsen of
 * privacy/anonymize.c, and where the pseudonym key comes from.
 *
 * Pseudonyms are checked against an HMAC-SHA256 computed here with
 * OpenSSL, so the documented formula is tested rather than restated. Key
 * files and configurations are written to a mkdtemp() directory; the key
 * environment variables are the test's own names, set and cleared around
 * every test. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/err.h"
#include "config/cfg.h"
#include "privacy/anonymize.h"
#include "privacy/keyring.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
#define KEY_ENV "RIFFLE_TEST_ANON_KEY"
#define KEY_ENV_FILE KEY_ENV "_FILE"
#define KEY_ID "k1"
#define TOKEN_SIZE (sizeof(KEY_ID) + 1 + ANONYMIZE_TOKEN_HEX) /* with NUL */
#define KEY_BYTES 32 /* the keys below, as HMAC-SHA256 is used here */

/* 64 hex digits: the bytes 0x00, 0x01, ... 0x1f. */
#define HEX_KEY_A "000102030405060708090a0b0c0d0e0f" \
                  "101112131415161718191a1b1c1d1e1f"
/* Upper case on purpose: hex decoding must not care. */
#define HEX_KEY_B "FFEEDDCCBBAA99887766554433221100" \
                  "0123456789ABCDEF0123456789ABCDEF"

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"P\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"name\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"city\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"gone\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"age\", \"type\": [\"null\", \"int\"]},"
    "  {\"name\": \"income\", \"type\": [\"null\", \"double\"]},"
    "  {\"name\": \"zip\", \"type\": [\"null\", \"string\"]},"
    "  {\"name\": \"plain\", \"type\": [\"null\", \"string\"]}"
    "]}";

static const char personal_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"name\"; kind = \"categorical\";\n"
    "    personal = \"pseudonym\"; },\n"
    "  { name = \"city\"; kind = \"categorical\";\n"
    "    personal = \"pseudonym\"; },\n"
    "  { name = \"gone\"; kind = \"categorical\"; personal = \"drop\"; },\n"
    "  { name = \"age\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    band = 10.0; },\n"
    "  { name = \"income\"; kind = \"numeric\"; personal = \"coarsen\";\n"
    "    band = 10.0; },\n"
    "  { name = \"zip\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    keep_prefix = 2; },\n"
    "  { name = \"plain\"; kind = \"categorical\"; }\n";

/* Coarsened categories with bounds: their bands are named ahead. */
static const char bounded_band_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"age\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    band = 10.0; min = 0.0; max = 120.0; },\n"
    "  { name = \"income\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    band = 0.1; min = -1.0; max = 1.0; }\n";

/* A personal event id (an account number), pseudonymized. */
static const char personal_id_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; personal = \"pseudonym\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"name\"; kind = \"categorical\";\n"
    "    personal = \"pseudonym\"; },\n"
    "  { name = \"plain\"; kind = \"categorical\"; }\n";

/* No pseudonym: no key should be needed. */
static const char drop_only_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"gone\"; kind = \"categorical\"; personal = \"drop\"; }\n";

/* keep_prefix on an int field: coarsening a number needs band. */
static const char prefix_on_number_fields[] =
    "  { name = \"event_id\"; kind = \"id\"; },\n"
    "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; },\n"
    "  { name = \"age\"; kind = \"categorical\"; personal = \"coarsen\";\n"
    "    keep_prefix = 1; }\n";

struct fixture {
    char dir[64];
    char cfg_path[128];
    char key_path[128];  /* the configured privacy.key_file */
    char key2_path[128]; /* named by KEY_ENV_FILE in some tests */
    struct cfg *cfg;
    struct schema *schema;
    struct anonymizer *anon;
    struct event ev;
    char errstr[ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char errstr[ERRSTR_SIZE];

    if (!fx)
        return -1;
    *state = fx;
    unsetenv(KEY_ENV);
    unsetenv(KEY_ENV_FILE);
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg || !temp_dir_new(fx->dir, sizeof(fx->dir), "anon"))
        return -1;
    snprintf(fx->cfg_path, sizeof(fx->cfg_path), "%s/anon.cfg", fx->dir);
    snprintf(fx->key_path, sizeof(fx->key_path), "%s/key", fx->dir);
    snprintf(fx->key2_path, sizeof(fx->key2_path), "%s/key2", fx->dir);
    if (schema_load_json(schema_json, strlen(schema_json), "test schema",
                         &fx->schema, errstr, sizeof(errstr)) != 0) {
        print_error("fixture: %s\n", errstr);
        return -1;
    }
    event_init(&fx->ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    unsetenv(KEY_ENV);
    unsetenv(KEY_ENV_FILE);
    if (!fx)
        return 0;
    anonymizer_destroy(fx->anon);
    schema_destroy(fx->schema);
    event_free(&fx->ev);
    /* Each file exists only in some tests. */
    (void)unlink(fx->cfg_path);
    (void)unlink(fx->key_path);
    (void)unlink(fx->key2_path);
    (void)rmdir(fx->dir);
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Writes and loads a configuration with these fields; key_file is the
 * configured key file, or NULL for none. */
static void load_cfg(struct fixture *fx, const char *fields,
                     const char *key_file)
{
    char text[4096], privacy[512];
    char errstr[ERRSTR_SIZE];

    snprintf(privacy, sizeof(privacy),
             "privacy = { key_env = \"%s\"; key_id = \"%s\"; %s%s%s };\n",
             KEY_ENV, KEY_ID, key_file ? "key_file = \"" : "",
             key_file ? key_file : "", key_file ? "\";" : "");
    snprintf(text, sizeof(text),
             "name = \"anon\";\n"
             "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
             "           dead_letters = \"d\"; };\n"
             "source = { schema = \"unused.avsc\"; };\n"
             "fields = (\n%s);\n%s"
             "learner = { model_name = \"anon\"; bits = 10; };\n",
             fields, privacy);
    if (load_cfg_text(fx->cfg, fx->cfg_path, text, errstr,
                      sizeof(errstr)) != 0)
        fail_msg("config: %s", errstr);
}

/* The 1-based line of the configuration that holds text. */
static int line_of(const struct fixture *fx, const char *text)
{
    char line[512];
    int n = 0;
    FILE *f = fopen(fx->cfg_path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, text)) {
            (void)fclose(f); /* read-only */
            return n;
        }
    }
    (void)fclose(f); /* read-only */
    fail_msg("\"%s\" is not in %s", text, fx->cfg_path);
    return 0;
}

/* Checks that errstr starts "cfg_path:line: key: " and holds what. */
static void expect_cfg_error(const struct fixture *fx, int line,
                             const char *key, const char *what)
{
    char prefix[256];

    snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", fx->cfg_path, line, key);
    if (strncmp(fx->errstr, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", fx->errstr, prefix);
    assert_contains(fx->errstr, what);
}

static int new_anonymizer(struct fixture *fx)
{
    anonymizer_destroy(fx->anon);
    fx->anon = NULL;
    fx->errstr[0] = '\0';
    return anonymizer_new(fx->cfg, fx->schema, &fx->anon, fx->errstr,
                          sizeof(fx->errstr));
}

/* The common case: personal fields, the key in the configured file. */
static void open_with_file_key(struct fixture *fx, const char *key_text)
{
    write_text(fx->key_path, key_text);
    load_cfg(fx, personal_fields, fx->key_path);
    if (new_anonymizer(fx) != 0)
        fail_msg("anonymizer_new: %s", fx->errstr);
}

/* The event's fields by name (testutil.h). */
#define col(fx, name) schema_col((fx)->schema, (name))
#define set_str(fx, name, s) \
    event_put_text(&(fx)->ev, (fx)->schema, (name), (s))
#define str_of(fx, name) event_text(&(fx)->ev, (fx)->schema, (name))

static void raw_event(struct fixture *fx)
{
    event_reset(&fx->ev, schema_field_count(fx->schema));
    set_str(fx, "event_id", "e-1");
    set_str(fx, "label", "yes");
    set_str(fx, "name", "Alice Example");
    set_str(fx, "city", "Springfield");
    set_str(fx, "gone", "secret-gone");
    event_set_number(&fx->ev, col(fx, "age"), 37.0);
    event_set_number(&fx->ev, col(fx, "income"), 37.5);
    set_str(fx, "zip", "90210");
    set_str(fx, "plain", "public");
}

/* The pseudonym the documented formula gives, computed with OpenSSL. */
static void expected_pseudonym(const void *key, size_t key_len,
                               const char *field, const char *value,
                               char *out, size_t out_size)
{
    unsigned char msg[256], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t flen = strlen(field), vlen = strlen(value), i;

    assert_true(flen + 1 + vlen <= sizeof(msg));
    memcpy(msg, field, flen + 1);
    memcpy(msg + flen + 1, value, vlen);
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, msg,
                         flen + 1 + vlen, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    assert_true(out_size >= TOKEN_SIZE);
    snprintf(out, out_size, "%s:", KEY_ID);
    for (i = 0; i < ANONYMIZE_TOKEN_HEX / 2; i++)
        snprintf(out + strlen(out), out_size - strlen(out), "%02x", mac[i]);
}

static void key_a_bytes(unsigned char *key)
{
    int i;

    for (i = 0; i < KEY_BYTES; i++)
        key[i] = (unsigned char)i;
}

/* The pseudonym of value in field under key and KEY_ID, asserted to be
 * made; out holds TOKEN_SIZE bytes. */
static void pseudonym_of(const unsigned char *key, const char *field,
                         const char *value, char *out)
{
    assert_int_equal(anonymize_pseudonym(key, KEY_BYTES, KEY_ID, field,
                                         value, out, TOKEN_SIZE),
                     0);
}

/* ---- HMAC-SHA256 against RFC 4231 (section 4, cases 1-7) ---------- */

struct rfc4231_case {
    unsigned char key_byte;  /* the key is key_len copies of it, */
    size_t key_len;          /* or 0x01..0x19 when key_byte is 0 */
    const char *key_text;    /* or this text, when set */
    unsigned char data_byte; /* the data is data_len copies of it, */
    size_t data_len;
    const char *data_text;   /* or this text, when set */
    const char *mac_hex;     /* case 5 is truncated to 128 bits */
};

static const struct rfc4231_case rfc4231[] = {
    {0x0b, 20, NULL, 0, 0, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {0, 0, "Jefe", 0, 0, "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {0xaa, 20, NULL, 0xdd, 50, NULL,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {0, 25, NULL, 0xcd, 50, NULL,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {0x0c, 20, NULL, 0, 0, "Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"},
    {0xaa, 131, NULL, 0, 0,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {0xaa, 131, NULL, 0, 0,
     "This is a test using a larger than block-size key and a larger "
     "than block-size data. The key needs to be hashed before being used "
     "by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

/* The pipeline's own HMAC (key absorbed once, as for every pseudonym)
 * gives RFC 4231's results, including the keys longer than SHA-256's
 * 64-byte block (cases 6 and 7), which must be hashed first. */
static void test_anonymize_hmac_rfc4231_vectors(void **state)
{
    unsigned char key[256], data[256], mac[ANONYMIZE_HMAC_BYTES];
    char hex[2 * ANONYMIZE_HMAC_BYTES + 1];
    size_t c, i, key_len, data_len;

    (void)state;
    for (c = 0; c < sizeof(rfc4231) / sizeof(rfc4231[0]); c++) {
        const struct rfc4231_case *t = &rfc4231[c];

        key_len = t->key_text ? strlen(t->key_text) : t->key_len;
        for (i = 0; i < key_len; i++)
            key[i] = t->key_text    ? (unsigned char)t->key_text[i]
                     : t->key_byte ? t->key_byte
                                   : (unsigned char)(i + 1);
        data_len = t->data_text ? strlen(t->data_text) : t->data_len;
        if (t->data_text)
            memcpy(data, t->data_text, data_len);
        else
            memset(data, t->data_byte, data_len);

        assert_int_equal(anonymize_hmac_sha256(key, key_len, data,
                                               data_len, mac), 0);
        for (i = 0; i < ANONYMIZE_HMAC_BYTES; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        hex[strlen(t->mac_hex)] = '\0'; /* case 5 compares 128 bits */
        if (strcmp(hex, t->mac_hex) != 0)
            fail_msg("RFC 4231 case %zu: got %s, expected %s", c + 1, hex,
                     t->mac_hex);
    }
}

/* ---- anonymize_pseudonym() and anonymize_band() -------------------- */

static void test_anonymize_pseudonym_format(void **state)
{
    unsigned char key[KEY_BYTES];
    char out[TOKEN_SIZE];
    size_t i;

    (void)state;
    key_a_bytes(key);
    pseudonym_of(key, "name", "Alice", out);
    assert_int_equal(strlen(out), strlen(KEY_ID) + 1 + ANONYMIZE_TOKEN_HEX);
    assert_memory_equal(out, KEY_ID ":", 3);
    for (i = 3; out[i]; i++)
        if (!strchr("0123456789abcdef", out[i]))
            fail_msg("character %zu of \"%s\" is not lower-case hex", i,
                     out);
}

static void test_anonymize_pseudonym_matches_hmac(void **state)
{
    unsigned char key[KEY_BYTES];
    char out[TOKEN_SIZE], expected[TOKEN_SIZE];

    (void)state;
    key_a_bytes(key);
    pseudonym_of(key, "name", "Alice", out);
    expected_pseudonym(key, sizeof(key), "name", "Alice", expected,
                       sizeof(expected));
    assert_string_equal(out, expected);
}

static void test_anonymize_pseudonym_stable_for_one_key(void **state)
{
    unsigned char key[KEY_BYTES];
    char a[TOKEN_SIZE], b[TOKEN_SIZE];

    (void)state;
    key_a_bytes(key);
    pseudonym_of(key, "name", "Alice", a);
    pseudonym_of(key, "name", "Alice", b);
    assert_string_equal(a, b);
}

static void test_anonymize_pseudonym_differs_across_keys(void **state)
{
    unsigned char key[KEY_BYTES];
    char a[TOKEN_SIZE], b[TOKEN_SIZE];

    (void)state;
    key_a_bytes(key);
    pseudonym_of(key, "name", "Alice", a);
    key[31] ^= 1;
    pseudonym_of(key, "name", "Alice", b);
    assert_string_not_equal(a, b);
}

static void test_anonymize_pseudonym_differs_across_fields(void **state)
{
    unsigned char key[KEY_BYTES];
    char a[TOKEN_SIZE], b[TOKEN_SIZE];

    (void)state;
    key_a_bytes(key);
    pseudonym_of(key, "name", "Alice", a);
    pseudonym_of(key, "city", "Alice", b);
    assert_string_not_equal(a, b);

    /* The separator keeps ("ab", "c") apart from ("a", "bc"). */
    pseudonym_of(key, "ab", "c", a);
    pseudonym_of(key, "a", "bc", b);
    assert_string_not_equal(a, b);
}

static void test_anonymize_pseudonym_refuses_small_buffer(void **state)
{
    unsigned char key[KEY_BYTES];
    char out[TOKEN_SIZE];

    (void)state;
    key_a_bytes(key);
    assert_int_equal(anonymize_pseudonym(key, sizeof(key), KEY_ID, "name",
                                         "Alice", out, TOKEN_SIZE - 1),
                     RIFFLE_ERR_INVALID);
    assert_int_equal(anonymize_pseudonym(key, sizeof(key), KEY_ID, "name",
                                         "Alice", out, TOKEN_SIZE),
                     0);
}

static void test_anonymize_band(void **state)
{
    char out[64];

    (void)state;
    anonymize_band(37.0, 10.0, out, sizeof(out));
    assert_string_equal(out, "[30,40)");
    anonymize_band(40.0, 10.0, out, sizeof(out)); /* lower bound included */
    assert_string_equal(out, "[40,50)");
    anonymize_band(-3.0, 10.0, out, sizeof(out));
    assert_string_equal(out, "[-10,0)");
    anonymize_band(0.3, 0.25, out, sizeof(out));
    assert_string_equal(out, "[0.25,0.5)");
}

/* A buffer too small gets the start of the band, as snprintf gives. */
static void test_anonymize_band_cut_to_buffer(void **state)
{
    char out[6];

    (void)state;
    memset(out, 'x', sizeof(out));
    anonymize_band(37.0, 10.0, out, sizeof(out));
    assert_string_equal(out, "[30,4");
    anonymize_band(37.0, 10.0, out, 1);
    assert_string_equal(out, "");
    anonymize_band(37.0, 10.0, out, 0); /* writes nothing */
    assert_string_equal(out, "");
}

static void test_anonymize_band_keeps_all_digits(void **state)
{
    char a[64], b[64];

    (void)state;

    anonymize_band(1234567.0, 1.0, a, sizeof(a));
    anonymize_band(1234568.0, 1.0, b, sizeof(b));
    assert_string_equal(a, "[1234567,1234568)");
    assert_string_equal(b, "[1234568,1234569)");
}

/* ---- anonymizer_apply() -------------------------------------------- */

static void test_anonymize_apply_drop_sets_null(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_int_equal(fx->ev.values[col(fx, "gone")].kind, VALUE_NULL);
    assert_null(event_string(&fx->ev, col(fx, "gone")));
}

static void test_anonymize_apply_coarsen_categorical_number(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_int_equal(fx->ev.values[col(fx, "age")].kind, VALUE_STRING);
    assert_string_equal(str_of(fx, "age"), "[30,40)");
}

/* A band named ahead is the text anonymize_band() writes, at the edges,
 * inside, outside the bounds (named as they come) and for a width that
 * is no exact binary fraction. */
static void test_anonymize_apply_coarsen_bounded_bands_match(void **state)
{
    static const double ages[] = {0.0, 9.999, 10.0, 37.0, 119.5, 120.0,
                                  125.0, -5.0};
    static const double incomes[] = {-1.0, -0.95, -0.3, 0.0, 0.1, 0.3,
                                     0.7, 0.99, 1.0, 1.05};
    struct fixture *fx = *state;
    char want[64];
    size_t i;

    load_cfg(fx, bounded_band_fields, fx->key_path);
    if (new_anonymizer(fx) != 0)
        fail_msg("anonymizer_new: %s", fx->errstr);
    for (i = 0; i < sizeof(incomes) / sizeof(incomes[0]); i++) {
        double age = ages[i % (sizeof(ages) / sizeof(ages[0]))];

        event_reset(&fx->ev, schema_field_count(fx->schema));
        set_str(fx, "event_id", "e-1");
        event_set_number(&fx->ev, col(fx, "age"), age);
        event_set_number(&fx->ev, col(fx, "income"), incomes[i]);
        assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
        anonymize_band(age, 10.0, want, sizeof(want));
        assert_string_equal(str_of(fx, "age"), want);
        anonymize_band(incomes[i], 0.1, want, sizeof(want));
        assert_string_equal(str_of(fx, "income"), want);
    }
}

static void test_anonymize_apply_coarsen_numeric_field(void **state)
{
    struct fixture *fx = *state;
    const struct value *v;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    event_set_number(&fx->ev, col(fx, "income"), 37.0);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    v = &fx->ev.values[col(fx, "income")];
    assert_int_equal(v->kind, VALUE_NUMBER);
    assert_float_equal(v->number, 30.0, 0.0);
}

static void test_anonymize_apply_coarsen_string_keeps_prefix(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "zip"), "90");

    raw_event(fx);
    set_str(fx, "zip", "9"); /* shorter than the prefix: kept */
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "zip"), "9");
}

/* Many more distinct values than the pseudonym cache has slots, each
 * seen twice and in both fields: every token must still be the formula's,
 * whether it came from the cache, was evicted, or collided in a slot. */
static void test_anonymize_apply_pseudonym_cache_is_exact(void **state)
{
    struct fixture *fx = *state;
    unsigned char key[KEY_BYTES];
    char value[64], expected[TOKEN_SIZE];
    int round, i;

    open_with_file_key(fx, HEX_KEY_A "\n");
    key_a_bytes(key);
    for (round = 0; round < 2; round++) {
        for (i = 0; i < 3000; i++) {
            snprintf(value, sizeof(value), "person-%d", i);
            raw_event(fx);
            set_str(fx, "name", value);
            set_str(fx, "city", value);
            assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
            expected_pseudonym(key, sizeof(key), "name", value, expected,
                               sizeof(expected));
            assert_string_equal(str_of(fx, "name"), expected);
            expected_pseudonym(key, sizeof(key), "city", value, expected,
                               sizeof(expected));
            assert_string_equal(str_of(fx, "city"), expected);
        }
    }
}

static void test_anonymize_apply_pseudonym_uses_key(void **state)
{
    struct fixture *fx = *state;
    unsigned char key[KEY_BYTES];
    char name[TOKEN_SIZE], city[TOKEN_SIZE];

    open_with_file_key(fx, HEX_KEY_A "\n");
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "name", "Alice Example", name,
                       sizeof(name));
    expected_pseudonym(key, sizeof(key), "city", "Springfield", city,
                       sizeof(city));

    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), name);
    assert_string_equal(str_of(fx, "city"), city);
}

static void test_anonymize_apply_keeps_null_and_plain(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    event_set_null(&fx->ev, col(fx, "name"));
    event_set_null(&fx->ev, col(fx, "age"));
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_int_equal(fx->ev.values[col(fx, "name")].kind, VALUE_NULL);
    assert_int_equal(fx->ev.values[col(fx, "age")].kind, VALUE_NULL);
    assert_string_equal(str_of(fx, "plain"), "public");
    assert_string_equal(str_of(fx, "event_id"), "e-1");
    assert_string_equal(str_of(fx, "label"), "yes");
}

static void test_anonymize_apply_leaves_no_raw_value(void **state)
{
    struct fixture *fx = *state;
    static const char *const raw[] = {"Alice Example", "Alice", "Springfield",
                                      "secret-gone", "90210", "37"};
    size_t i, j;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);

    for (i = 0; i < fx->ev.field_count; i++) {
        const struct value *v = &fx->ev.values[i];
        const char *s = event_string(&fx->ev, i);

        for (j = 0; s && j < sizeof(raw) / sizeof(raw[0]); j++)
            assert_lacks(s, raw[j]);
        if (v->kind == VALUE_NUMBER && (v->number == 37.0 ||
                                        v->number == 37.5))
            fail_msg("field %zu still holds the raw number %g", i,
                     v->number);
    }
}

/* The raw values of raw_event()'s personal fields, as strings. */
static const char *const raw_strings[] = {"Alice Example", "Springfield",
                                          "secret-gone", "90210"};
#define RAW_STRINGS (sizeof(raw_strings) / sizeof(raw_strings[0]))

/* Fails the test when the event's arena, up to its capacity, holds any
 * of raw_strings. */
static void assert_arena_lacks_raw(const struct fixture *fx)
{
    size_t i;

    for (i = 0; i < RAW_STRINGS; i++)
        if (buf_memory_holds(&fx->ev.arena, raw_strings[i],
                             strlen(raw_strings[i])))
            fail_msg("the event's memory still holds \"%s\"",
                     raw_strings[i]);
}

/* Once each personal field's action has run, its raw value's bytes are
 * wiped from the event's memory, whether the action was computed here or
 * hinted ahead; the plain field's value stays. */
static void test_anonymize_apply_wipes_raw_bytes(void **state)
{
    struct fixture *fx = *state;
    struct anonymizer_hinter *h = NULL;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    assert_true(buf_memory_holds(&fx->ev.arena, "Springfield", 11));
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_arena_lacks_raw(fx);
    assert_true(buf_memory_holds(&fx->ev.arena, "public", 6));
    assert_string_equal(str_of(fx, "zip"), "90");

    assert_int_equal(anonymizer_hinter_new(fx->anon, NULL, &h), 0);
    raw_event(fx);
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_arena_lacks_raw(fx);
    anonymizer_hinter_destroy(h);
}

/* A value that coarsening keeps as it is (a prefix no shorter than it)
 * is the field's output, not wiped. */
static void test_anonymize_apply_keeps_value_left_as_is(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    set_str(fx, "zip", "9");
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "zip"), "9");
}

/* An event refused before its actions (cleaning) is wiped of every
 * personal field's raw value, numbers included; plain fields stay. */
static void test_anonymize_wipe_raw_for_refused(void **state)
{
    struct fixture *fx = *state;

    open_with_file_key(fx, HEX_KEY_A "\n");
    raw_event(fx);
    anonymizer_wipe_raw(fx->anon, &fx->ev);
    assert_arena_lacks_raw(fx);
    assert_int_equal(fx->ev.values[col(fx, "age")].kind, VALUE_NULL);
    assert_true(fx->ev.values[col(fx, "age")].number == 0.0);
    assert_string_equal(str_of(fx, "plain"), "public");
}

/* The pseudonym caches, the anonymizer's and a hinter's, look values up
 * by a keyed fingerprint: after both pseudonymized a name and a city
 * (again, so from the cache), neither holds the raw values. */
static void test_anonymize_caches_keep_no_raw_value(void **state)
{
    struct fixture *fx = *state;
    static const char *const raw[] = {"Alice Example", "Springfield",
                                      "a-long-value-of-forty-bytes@example.te"};
    struct anonymizer_hinter *h = NULL;
    unsigned char key[KEY_BYTES];
    char token[TOKEN_SIZE];
    size_t i, round;

    open_with_file_key(fx, HEX_KEY_A "\n");
    assert_int_equal(anonymizer_hinter_new(fx->anon, NULL, &h), 0);
    for (round = 0; round < 2; round++) {
        raw_event(fx);
        set_str(fx, "city", raw[2]);
        assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
        raw_event(fx);
        assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    }
    for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        assert_false(anonymizer_cache_holds(fx->anon, raw[i],
                                            strlen(raw[i])));
        assert_false(anonymizer_hinter_cache_holds(h, raw[i],
                                                   strlen(raw[i])));
    }
    /* The check can fail: the caches hold the pseudonyms they made. */
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "name", raw[0], token,
                       sizeof(token));
    assert_true(anonymizer_cache_holds(fx->anon, token + strlen(KEY_ID) + 1,
                                       ANONYMIZE_TOKEN_HEX));
    assert_true(anonymizer_hinter_cache_holds(
        h, token + strlen(KEY_ID) + 1, ANONYMIZE_TOKEN_HEX));
    anonymizer_hinter_destroy(h);
}

/* ---- a pseudonymized event id ---------------------------------------- */

static void open_personal_id(struct fixture *fx)
{
    write_text(fx->key_path, HEX_KEY_A "\n");
    load_cfg(fx, personal_id_fields, fx->key_path);
    if (new_anonymizer(fx) != 0)
        fail_msg("anonymizer_new: %s", fx->errstr);
}

/* The id becomes the HMAC pseudonym of the raw id under the id field's
 * name, the scheme of every other pseudonym; anonymizer_apply() then
 * leaves it alone (it would pseudonymize the pseudonym). */
static void test_anonymize_id_is_hmac_of_raw_id(void **state)
{
    struct fixture *fx = *state;
    unsigned char key[KEY_BYTES];
    char id[TOKEN_SIZE];

    open_personal_id(fx);
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "event_id", "MRN-0042", id,
                       sizeof(id));
    assert_int_equal(anonymizer_hides_id(fx->anon), 1);

    raw_event(fx);
    set_str(fx, "event_id", "MRN-0042");
    assert_int_equal(anonymizer_apply_id(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), id);
    assert_false(buf_memory_holds(&fx->ev.arena, "MRN-0042", 8)); /* wiped */
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), id);
    assert_string_equal(str_of(fx, "plain"), "public");
}

/* A raw id met as a Kafka key (not NUL-terminated) gets the same
 * pseudonym, so a label keyed by the raw id joins its event. */
static void test_anonymize_id_key_matches_event_id(void **state)
{
    struct fixture *fx = *state;
    static const char key_bytes[] = {'M', 'R', 'N', '-', '0', '0', '4', '2',
                                     'X'};
    unsigned char key[KEY_BYTES];
    char id[TOKEN_SIZE];
    struct buf out = {0};

    open_personal_id(fx);
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "event_id", "MRN-0042", id,
                       sizeof(id));
    assert_int_equal(anonymizer_id_pseudonym(fx->anon, key_bytes, 8, &out),
                     0);
    assert_int_equal(out.len, strlen(id));
    assert_string_equal(out.data, id);
    buf_free(&out);
}

/* A reader thread hints the id's pseudonym ahead; anonymizer_apply_id()
 * takes it, and computes it anew for an id changed since the hint. */
static void test_anonymize_id_hinted_ahead(void **state)
{
    struct fixture *fx = *state;
    struct anonymizer_hinter *h = NULL;
    unsigned char key[KEY_BYTES];
    char id[TOKEN_SIZE], other[TOKEN_SIZE];

    open_personal_id(fx);
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "event_id", "MRN-0042", id,
                       sizeof(id));
    expected_pseudonym(key, sizeof(key), "event_id", "MRN-0043", other,
                       sizeof(other));
    assert_int_equal(anonymizer_hinter_new(fx->anon, NULL, &h), 0);

    raw_event(fx);
    set_str(fx, "event_id", "MRN-0042");
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), "MRN-0042"); /* a hint */
    assert_int_equal(fx->ev.values[col(fx, "event_id")].hinted &
                         EVENT_HINT_REPLACEMENT,
                     EVENT_HINT_REPLACEMENT);
    assert_int_equal(anonymizer_apply_id(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), id);
    assert_false(buf_memory_holds(&fx->ev.arena, "MRN-0042", 8)); /* wiped */

    raw_event(fx);
    set_str(fx, "event_id", "MRN-0042");
    assert_int_equal(anonymizer_hint_event(h, &fx->ev), 0);
    set_str(fx, "event_id", "MRN-0043"); /* changed after the hint */
    assert_int_equal(anonymizer_apply_id(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), other);
    anonymizer_hinter_destroy(h);
}

/* Null and empty ids stay as they are, for cleaning to refuse; without
 * personal = "pseudonym" on the id nothing changes. */
static void test_anonymize_id_left_when_absent_or_plain(void **state)
{
    struct fixture *fx = *state;

    open_personal_id(fx);
    raw_event(fx);
    set_str(fx, "event_id", "");
    assert_int_equal(anonymizer_apply_id(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), "");

    open_with_file_key(fx, HEX_KEY_A "\n");
    assert_int_equal(anonymizer_hides_id(fx->anon), 0);
    raw_event(fx);
    assert_int_equal(anonymizer_apply_id(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "event_id"), "e-1");
}

/* ---- where the key comes from -------------------------------------- */

static void test_anonymize_key_file_hex_decodes(void **state)
{
    struct fixture *fx = *state;
    static const unsigned char key_b[32] = {
        0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55,
        0x44, 0x33, 0x22, 0x11, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
        0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    char expected[TOKEN_SIZE];

    open_with_file_key(fx, HEX_KEY_B "\r\n");
    expected_pseudonym(key_b, sizeof(key_b), "name", "Alice Example",
                       expected, sizeof(expected));
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), expected);
}

static void test_anonymize_key_file_raw_bytes(void **state)
{
    struct fixture *fx = *state;
    static const char phrase[] = "correct horse battery staple";
    char expected[TOKEN_SIZE];

    open_with_file_key(fx, "correct horse battery staple\n");
    expected_pseudonym(phrase, strlen(phrase), "name", "Alice Example",
                       expected, sizeof(expected));
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), expected);
}

static void test_anonymize_key_env_wins_over_file(void **state)
{
    struct fixture *fx = *state;
    static const char env_key[] = "an environment key, 34 bytes long";
    char expected[TOKEN_SIZE];

    assert_int_equal(setenv(KEY_ENV, env_key, 1), 0);
    open_with_file_key(fx, HEX_KEY_A "\n");
    expected_pseudonym(env_key, strlen(env_key), "name", "Alice Example",
                       expected, sizeof(expected));
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), expected);
}

static void test_anonymize_key_env_file_variable(void **state)
{
    struct fixture *fx = *state;
    unsigned char key[KEY_BYTES];
    char expected[TOKEN_SIZE];

    /* KEY_FILE names a file holding key A; the configured file holds B
     * and must lose. */
    write_text(fx->key2_path, HEX_KEY_A "\n");
    assert_int_equal(setenv(KEY_ENV_FILE, fx->key2_path, 1), 0);
    open_with_file_key(fx, HEX_KEY_B "\n");
    key_a_bytes(key);
    expected_pseudonym(key, sizeof(key), "name", "Alice Example", expected,
                       sizeof(expected));
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), expected);
}

static void test_anonymize_key_env_wins_over_env_file(void **state)
{
    struct fixture *fx = *state;
    static const char env_key[] = "the variable itself wins here";
    char expected[TOKEN_SIZE];

    write_text(fx->key2_path, HEX_KEY_A "\n");
    assert_int_equal(setenv(KEY_ENV_FILE, fx->key2_path, 1), 0);
    assert_int_equal(setenv(KEY_ENV, env_key, 1), 0);
    open_with_file_key(fx, HEX_KEY_B "\n");
    expected_pseudonym(env_key, strlen(env_key), "name", "Alice Example",
                       expected, sizeof(expected));
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_string_equal(str_of(fx, "name"), expected);
}

static void test_anonymize_short_env_key_refused(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(setenv(KEY_ENV, "sh0rtKey", 1), 0);
    load_cfg(fx, personal_fields, NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_null(fx->anon);
    assert_contains(fx->errstr, KEY_ENV);
    assert_contains(fx->errstr, "8 bytes; at least 16 needed");
    assert_lacks(fx->errstr, "sh0rtKey");
}

static void test_anonymize_short_file_key_refused(void **state)
{
    struct fixture *fx = *state;

    write_text(fx->key_path, "t1nyK3y-15bytes\n");
    load_cfg(fx, personal_fields, fx->key_path);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, fx->key_path);
    assert_contains(fx->errstr, "15 bytes");
    assert_lacks(fx->errstr, "t1nyK3y");
}

/* Long enough but guessable: one byte repeated, or 64 zero digits (32 zero
 * bytes). Refused without quoting the key; 8 distinct bytes pass. */
static void test_anonymize_weak_key_refused(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(setenv(KEY_ENV, "PPPPPPPPPPPPPPPPPPPPPPPP", 1), 0);
    load_cfg(fx, personal_fields, NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_null(fx->anon);
    assert_contains(fx->errstr, KEY_ENV);
    assert_contains(fx->errstr, "only 1 distinct byte values; at least 8");
    assert_lacks(fx->errstr, "PPPP");
    assert_int_equal(unsetenv(KEY_ENV), 0);

    write_text(fx->key_path, "00000000000000000000000000000000"
                             "00000000000000000000000000000000\n");
    load_cfg(fx, personal_fields, fx->key_path);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, fx->key_path);
    assert_contains(fx->errstr, "only 1 distinct byte values");
    assert_lacks(fx->errstr, "0000");

    write_text(fx->key_path, "abababababababababab\n");
    load_cfg(fx, personal_fields, fx->key_path);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, "only 2 distinct byte values");

    write_text(fx->key_path, "abcdefghabcdefgh\n");
    load_cfg(fx, personal_fields, fx->key_path);
    assert_int_equal(new_anonymizer(fx), 0);
    assert_non_null(fx->anon);
}

/* The example key in config/secrets is public: recognised as such, from
 * its hex file as riffle decodes it; any other key, even one byte off, is
 * not. */
static void test_anonymize_public_key_recognised(void **state)
{
    unsigned char key[32];
    char hex[80] = "";
    FILE *f = fopen("config/secrets/pseudonym.key.example", "r");

    (void)state;
    assert_non_null(f);
    assert_non_null(fgets(hex, sizeof(hex), f));
    (void)fclose(f); /* read-only */
    assert_int_equal(keyring_decode_hex(hex, 64, key), 0);
    assert_true(anonymize_key_is_public(key, sizeof(key)));
    key[31] ^= 1;
    assert_false(anonymize_key_is_public(key, sizeof(key)));
    assert_false(anonymize_key_is_public(key, 31));
}

static void test_anonymize_short_key_error_names_file_when_env_empty(
    void **state)
{
    struct fixture *fx = *state;


    assert_int_equal(setenv(KEY_ENV, "", 1), 0);
    write_text(fx->key_path, "t1nyK3y-15bytes\n");
    load_cfg(fx, personal_fields, fx->key_path);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, fx->key_path);
    assert_lacks(fx->errstr, "t1nyK3y");
}

static void test_anonymize_missing_key_file_named(void **state)
{
    struct fixture *fx = *state;
    char absent[160];

    snprintf(absent, sizeof(absent), "%s/absent.key", fx->dir);
    load_cfg(fx, personal_fields, absent);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    expect_cfg_error(fx, line_of(fx, "privacy = "), "privacy.key_file",
                     absent);
    assert_contains(fx->errstr, "No such file");
}

static void test_anonymize_missing_env_file_named(void **state)
{
    struct fixture *fx = *state;
    char absent[160];

    snprintf(absent, sizeof(absent), "%s/absent-secret", fx->dir);
    assert_int_equal(setenv(KEY_ENV_FILE, absent, 1), 0);
    load_cfg(fx, personal_fields, NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    assert_contains(fx->errstr, absent);
}

static void test_anonymize_no_key_refused(void **state)
{
    struct fixture *fx = *state;

    load_cfg(fx, personal_fields, NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    expect_cfg_error(fx, line_of(fx, "privacy = "), "privacy.key_file",
                     "pseudonyms need a key");
    assert_contains(fx->errstr, KEY_ENV);
}

static void test_anonymize_no_key_needed_without_pseudonym(void **state)
{
    struct fixture *fx = *state;

    load_cfg(fx, drop_only_fields, NULL);
    assert_int_equal(new_anonymizer(fx), 0);
    raw_event(fx);
    assert_int_equal(anonymizer_apply(fx->anon, &fx->ev), 0);
    assert_int_equal(fx->ev.values[col(fx, "gone")].kind, VALUE_NULL);
    assert_string_equal(str_of(fx, "name"), "Alice Example"); /* not set */
}

static void test_anonymize_coarsen_number_needs_band(void **state)
{
    struct fixture *fx = *state;

    load_cfg(fx, prefix_on_number_fields, NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    expect_cfg_error(fx, line_of(fx, "name = \"age\""), "fields[2].band",
                     "field \"age\": coarsening a number needs band > 0");
}

/* With no privacy group the key is still missing, and the field that
 * asks for a pseudonym is the line to point at. */
static void test_anonymize_no_key_names_field_without_privacy(void **state)
{
    static const char *const vars[] = {"RIFFLE_PSEUDONYM_KEY",
                                       "RIFFLE_PSEUDONYM_KEY_FILE"};
    static const char text[] =
        "name = \"anon\";\n"
        "topics = { input = \"i\"; predictions = \"p\"; "
        "models = \"m\"; dead_letters = \"d\"; };\n"
        "source = { schema = \"unused.avsc\"; };\n"
        "fields = (\n"
        "  { name = \"event_id\"; kind = \"id\"; },\n"
        "  { name = \"label\"; kind = \"label\"; "
        "positive = [\"yes\"]; },\n"
        "  { name = \"name\"; kind = \"categorical\"; "
        "personal = \"pseudonym\"; }\n"
        ");\n"
        "learner = { model_name = \"anon\"; bits = 10; };\n";
    struct fixture *fx = *state;
    char errstr[ERRSTR_SIZE], *saved[2];
    size_t i;

    for (i = 0; i < 2; i++) { /* the defaults of privacy.key_env */
        saved[i] = getenv(vars[i]) ? strdup(getenv(vars[i])) : NULL;
        assert_int_equal(unsetenv(vars[i]), 0);
    }
    if (load_cfg_text(fx->cfg, fx->cfg_path, text, errstr,
                      sizeof(errstr)) != 0)
        fail_msg("config: %s", errstr);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    for (i = 0; i < 2; i++) {
        if (saved[i])
            assert_int_equal(setenv(vars[i], saved[i], 1), 0);
        free(saved[i]);
    }
    expect_cfg_error(fx, 7, "fields[2].personal", "pseudonyms need a key");
}

static void test_anonymize_field_not_in_schema(void **state)
{
    struct fixture *fx = *state;

    load_cfg(fx, "  { name = \"event_id\"; kind = \"id\"; },\n"
                 "  { name = \"label\"; kind = \"label\"; "
                 "positive = [\"yes\"]; },\n"
                 "  { name = \"nope\"; kind = \"categorical\"; }\n", NULL);
    assert_int_equal(new_anonymizer(fx), RIFFLE_ERR_CFG);
    expect_cfg_error(fx, line_of(fx, "\"nope\""), "fields[2].name",
                     "field \"nope\" is not in schema riffle.test.P");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymize_hmac_rfc4231_vectors),
        cmocka_unit_test(test_anonymize_pseudonym_format),
        cmocka_unit_test(test_anonymize_pseudonym_matches_hmac),
        cmocka_unit_test(test_anonymize_pseudonym_stable_for_one_key),
        cmocka_unit_test(test_anonymize_pseudonym_differs_across_keys),
        cmocka_unit_test(test_anonymize_pseudonym_differs_across_fields),
        cmocka_unit_test(test_anonymize_pseudonym_refuses_small_buffer),
        cmocka_unit_test(test_anonymize_band),
        cmocka_unit_test(test_anonymize_band_keeps_all_digits),
        cmocka_unit_test(test_anonymize_band_cut_to_buffer),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_anonymize_apply_drop_sets_null),
        T(test_anonymize_apply_coarsen_categorical_number),
        T(test_anonymize_apply_coarsen_bounded_bands_match),
        T(test_anonymize_apply_coarsen_numeric_field),
        T(test_anonymize_apply_coarsen_string_keeps_prefix),
        T(test_anonymize_apply_pseudonym_uses_key),
        T(test_anonymize_apply_pseudonym_cache_is_exact),
        T(test_anonymize_apply_keeps_null_and_plain),
        T(test_anonymize_apply_leaves_no_raw_value),
        T(test_anonymize_caches_keep_no_raw_value),
        T(test_anonymize_apply_wipes_raw_bytes),
        T(test_anonymize_apply_keeps_value_left_as_is),
        T(test_anonymize_wipe_raw_for_refused),
        T(test_anonymize_id_is_hmac_of_raw_id),
        T(test_anonymize_id_key_matches_event_id),
        T(test_anonymize_id_left_when_absent_or_plain),
        T(test_anonymize_id_hinted_ahead),
        T(test_anonymize_key_file_hex_decodes),
        T(test_anonymize_key_file_raw_bytes),
        T(test_anonymize_key_env_wins_over_file),
        T(test_anonymize_key_env_file_variable),
        T(test_anonymize_key_env_wins_over_env_file),
        T(test_anonymize_short_env_key_refused),
        T(test_anonymize_short_file_key_refused),
        T(test_anonymize_weak_key_refused),
        cmocka_unit_test(test_anonymize_public_key_recognised),
        T(test_anonymize_short_key_error_names_file_when_env_empty),
        T(test_anonymize_missing_key_file_named),
        T(test_anonymize_missing_env_file_named),
        T(test_anonymize_no_key_refused),
        T(test_anonymize_no_key_needed_without_pseudonym),
        T(test_anonymize_coarsen_number_needs_band),
        T(test_anonymize_field_not_in_schema),
        T(test_anonymize_no_key_names_field_without_privacy),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
