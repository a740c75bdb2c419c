/*
 * tests/unit/test_schema.c - schemas/schema.c: canonical form, CRC-64-AVRO,
 * single-object framing, the flat event codec and avro-c generic values.
 *
 * Reference canonical forms, fingerprints and Avro binary bodies were
 * computed independently with fastavro 1.13.1 (Python):
 * fastavro.schema.to_parsing_canonical_form(), fastavro.schema.fingerprint(
 * canonical, "CRC-64-AVRO") and fastavro.schemaless_writer(). fastavro
 * prints a fingerprint as the hex of its 8 little-endian bytes (the empty
 * input gives "95a7d7a43a215dc1"); the constants below are those bytes
 * read back as little-endian 64-bit integers. The fuzz tests are meant to
 * run under the -DRIFFLE_SANITIZE=ON build as well.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define FUZZ_ROUNDS 20000 /* per fuzz test; a few hundred ms under ASan */
#define FUZZ_SEED UINT64_C(0x9e3779b97f4a7c15)

static const char FLAT_JSON[] =
    "{\"type\":\"record\",\"name\":\"Flat\","
    "\"namespace\":\"riffle.test\",\"doc\":\"every primitive\","
    "\"fields\":[{\"name\":\"s\",\"type\":\"string\",\"doc\":\"text\"},"
    "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"f\","
    "\"type\":\"float\"},{\"name\":\"l\",\"type\":\"long\","
    "\"default\":0},{\"name\":\"i\",\"type\":{\"type\":\"int\"}},"
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"ns\","
    "\"type\":[\"null\",\"string\"],\"default\":null},{\"name\":\"nd\","
    "\"type\":[\"double\",\"null\"]},{\"name\":\"nl\",\"type\":[\"null\","
    "\"long\"]},{\"name\":\"ni\",\"type\":[\"int\",\"null\"]},"
    "{\"name\":\"nf\",\"type\":[\"null\",\"float\"]},{\"name\":\"nb\","
    "\"type\":[\"null\",\"boolean\"]}]}";

/* fastavro to_parsing_canonical_form(FLAT_JSON) */
static const char FLAT_CANONICAL[] =
    "{\"name\":\"riffle.test.Flat\",\"type\":\"record\","
    "\"fields\":[{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"d\","
    "\"type\":\"double\"},{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"l\",\"type\":\"long\"},{\"name\":\"i\","
    "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"ns\",\"type\":[\"null\",\"string\"]},{\"name\":\"nd\","
    "\"type\":[\"double\",\"null\"]},{\"name\":\"nl\",\"type\":[\"null\","
    "\"long\"]},{\"name\":\"ni\",\"type\":[\"int\",\"null\"]},"
    "{\"name\":\"nf\",\"type\":[\"null\",\"float\"]},{\"name\":\"nb\","
    "\"type\":[\"null\",\"boolean\"]}]}";
#define FLAT_FINGERPRINT UINT64_C(0x7555a616fe136861) /* 616813fe16a65575 */

/* Field indexes of FLAT_JSON. */
enum { F_S, F_D, F_F, F_L, F_I, F_B, F_NS, F_ND, F_NL, F_NI, F_NF, F_NB };

/* fastavro schemaless_writer body of {"s": "h\u00e9llo", "d": -2.5,
 * "f": 0.25, "l": -1234567890123, "i": 2147483647, "b": True, "ns": None,
 * "nd": 3.5, "nl": None, "ni": -7, "nf": None, "nb": False}. */
static const char FLAT_BODY_HEX[] =
    "0c68c3a96c6c6f00000000000004c00000803e9593d89fee47feffffff0f01"
    "00000000000000000c4000000d000200";

static const char NESTED_JSON[] =
    "{\"type\":\"record\",\"name\":\"Prediction\","
    "\"namespace\":\"riffle.test\",\"doc\":\"model output\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"scores\",\"type\":{\"type\":\"array\","
    "\"items\":{\"type\":\"record\",\"name\":\"Score\","
    "\"fields\":[{\"name\":\"label\",\"type\":\"string\"},"
    "{\"name\":\"p\",\"type\":\"double\"}]}}},{\"name\":\"meta\","
    "\"type\":{\"type\":\"map\",\"values\":\"long\"}},{\"name\":\"kind\","
    "\"type\":{\"type\":\"enum\",\"name\":\"Kind\","
    "\"namespace\":\"riffle.other\",\"symbols\":[\"TRAIN\",\"SCORE\"]}},"
    "{\"name\":\"digest\",\"type\":{\"type\":\"fixed\","
    "\"name\":\"Digest\",\"size\":4}},{\"name\":\"best\","
    "\"type\":[\"null\",\"Score\"],\"default\":null},{\"name\":\"again\","
    "\"type\":\"riffle.other.Kind\"},{\"name\":\"raw\","
    "\"type\":\"bytes\"},{\"name\":\"flag\",\"type\":[\"null\","
    "\"boolean\"]}]}";

/* fastavro to_parsing_canonical_form(NESTED_JSON) */
static const char NESTED_CANONICAL[] =
    "{\"name\":\"riffle.test.Prediction\",\"type\":\"record\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"scores\",\"type\":{\"type\":\"array\","
    "\"items\":{\"name\":\"riffle.test.Score\",\"type\":\"record\","
    "\"fields\":[{\"name\":\"label\",\"type\":\"string\"},"
    "{\"name\":\"p\",\"type\":\"double\"}]}}},{\"name\":\"meta\","
    "\"type\":{\"type\":\"map\",\"values\":\"long\"}},{\"name\":\"kind\","
    "\"type\":{\"name\":\"riffle.other.Kind\",\"type\":\"enum\","
    "\"symbols\":[\"TRAIN\",\"SCORE\"]}},{\"name\":\"digest\","
    "\"type\":{\"name\":\"riffle.test.Digest\",\"type\":\"fixed\","
    "\"size\":4}},{\"name\":\"best\",\"type\":[\"null\","
    "\"riffle.test.Score\"]},{\"name\":\"again\","
    "\"type\":\"riffle.other.Kind\"},{\"name\":\"raw\","
    "\"type\":\"bytes\"},{\"name\":\"flag\",\"type\":[\"null\","
    "\"boolean\"]}]}";
#define NESTED_FINGERPRINT UINT64_C(0x479999e04b268c57) /* 578c264be0999947 */

/* fastavro body of {"id": "p-1", "scores": [{"label": "UP", "p": 0.75},
 * {"label": "DOWN", "p": 0.25}], "meta": {"n": 3}, "kind": "SCORE",
 * "digest": b"\x01\x02\x03\x04", "best": {"label": "UP", "p": 0.75},
 * "again": "TRAIN", "raw": b"\x00\xff", "flag": None}. */
static const char NESTED_BODY_HEX[] =
    "06702d3104045550000000000000e83f08444f574e000000000000d03f0002026e"
    "0600020102030402045550000000000000e83f000400ff00";

static const char ELEC_JSON[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"elec2\","
    "\"fields\":[{\"name\":\"date\",\"type\":\"double\"},"
    "{\"name\":\"day\",\"type\":\"int\"},{\"name\":\"period\","
    "\"type\":\"double\"},{\"name\":\"nswprice\",\"type\":\"double\"},"
    "{\"name\":\"nswdemand\",\"type\":\"double\"},{\"name\":\"vicprice\","
    "\"type\":\"double\"},{\"name\":\"vicdemand\",\"type\":\"double\"},"
    "{\"name\":\"transfer\",\"type\":\"double\"},{\"name\":\"class\","
    "\"type\":\"string\"}]}";

/* fastavro to_parsing_canonical_form(ELEC_JSON) */
static const char ELEC_CANONICAL[] =
    "{\"name\":\"elec2.Event\",\"type\":\"record\","
    "\"fields\":[{\"name\":\"date\",\"type\":\"double\"},"
    "{\"name\":\"day\",\"type\":\"int\"},{\"name\":\"period\","
    "\"type\":\"double\"},{\"name\":\"nswprice\",\"type\":\"double\"},"
    "{\"name\":\"nswdemand\",\"type\":\"double\"},{\"name\":\"vicprice\","
    "\"type\":\"double\"},{\"name\":\"vicdemand\",\"type\":\"double\"},"
    "{\"name\":\"transfer\",\"type\":\"double\"},{\"name\":\"class\","
    "\"type\":\"string\"}]}";
#define ELEC_FINGERPRINT UINT64_C(0x89678d88fb371387) /* 871337fb888d6789 */

/* fastavro body of the second Elec2 row: 0, 2, 0.021277, 0.051699,
 * 0.415055, 0.003467, 0.422915, 0.414912, "UP". */
static const char ELEC_BODY_HEX[] =
    "00000000000000000483c2a04ca3c9953f69c878944a78aa3f55a4c2d84290da3f"
    "05fbaf73d3666c3fc5387f130a11db3fedf2ad0feb8dda3f045550";

/* A recursive schema: named references become avro-c links. */
static const char NODE_JSON[] =
    "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"t\","
    "\"fields\":[{\"name\":\"v\",\"type\":\"long\"},{\"name\":\"next\","
    "\"type\":[\"null\",\"Node\"]},{\"name\":\"kids\","
    "\"type\":{\"type\":\"array\",\"items\":\"Node\"}}]}";

/* fastavro to_parsing_canonical_form(NODE_JSON) */
static const char NODE_CANONICAL[] =
    "{\"name\":\"t.Node\",\"type\":\"record\",\"fields\":[{\"name\":\"v\","
    "\"type\":\"long\"},{\"name\":\"next\",\"type\":[\"null\","
    "\"t.Node\"]},{\"name\":\"kids\",\"type\":{\"type\":\"array\","
    "\"items\":\"t.Node\"}}]}";
#define NODE_FINGERPRINT UINT64_C(0xe600f1c210c0a50f) /* 0fa5c010c2f100e6 */

/* One nullable string, for hand-made bodies. */
static const char S_JSON[] =
    "{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"t\","
    "\"fields\":[{\"name\":\"x\",\"type\":[\"null\",\"string\"]}]}";

static const char NULLS_JSON[] =
    "{\"type\":\"record\",\"name\":\"Nulls\",\"fields\":[{\"name\":\"a\","
    "\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";

/* ---- Helpers --------------------------------------------------------- */

static size_t hex_decode(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex) / 2, i;

    assert_true(n <= cap);
    for (i = 0; i < n; i++) {
        unsigned int byte;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    return n;
}

/* Single-object message: header of schema s, then body. */
static void make_message(const struct schema *s, const void *body,
                         size_t body_len, struct buf *out)
{
    uint64_t fp = schema_fingerprint(s);
    unsigned char header[SCHEMA_SOE_HEADER_SIZE] = {0xC3, 0x01};
    int i;

    for (i = 0; i < 8; i++)
        header[2 + i] = (unsigned char)(fp >> (8 * i));
    buf_reset(out);
    assert_int_equal(buf_append(out, header, sizeof(header)), 0);
    assert_int_equal(buf_append(out, body, body_len), 0);
}

static void make_message_hex(const struct schema *s, const char *hex,
                             struct buf *out)
{
    unsigned char body[256];
    size_t n = hex_decode(hex, body, sizeof(body));

    make_message(s, body, n, out);
}

/* The Flat event whose fastavro encoding is FLAT_BODY_HEX. */
static void fill_flat_event(struct event *ev)
{
    event_reset(ev, 12);
    assert_int_equal(event_set_string(ev, F_S, "h\xc3\xa9llo", 6), 0);
    event_set_number(ev, F_D, -2.5);
    event_set_number(ev, F_F, 0.25);
    event_set_number(ev, F_L, -1234567890123.0);
    event_set_number(ev, F_I, 2147483647.0);
    event_set_number(ev, F_B, 1);
    event_set_null(ev, F_NS);
    event_set_number(ev, F_ND, 3.5);
    event_set_null(ev, F_NL);
    event_set_number(ev, F_NI, -7);
    event_set_null(ev, F_NF);
    event_set_number(ev, F_NB, 0);
}

/* Decodes body (hex) under schema json and expects RIFFLE_ERR_DECODE
 * with exactly the message msg. */
static void expect_decode_error(const char *json, const char *hex,
                                const char *msg)
{
    struct schema *s = load_schema_json(json);
    struct buf buf = {0};
    struct event ev;
    char errstr[256] = "";

    event_init(&ev);
    make_message_hex(s, hex, &buf);
    assert_int_equal(schema_decode_event(s, buf.data, buf.len, &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, msg);
    event_free(&ev);
    buf_free(&buf);
    schema_destroy(s);
}

/* xorshift64, not testutil.h's splitmix64, so that the fuzz tests keep
 * replaying the inputs they always have. */
static uint64_t xorshift_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* ---- Canonical form and fingerprint ---------------------------------- */

static void test_schema_crc64_of_empty_input(void **state)
{
    (void)state;
    assert_int_equal(schema_crc64_avro("", 0), UINT64_C(0xc15d213aa4d7a795));
}

static void test_schema_crc64_of_primitive_int(void **state)
{
    /* The specification's canonical form of "int" is "\"int\"";
     * fastavro.schema.fingerprint('"int"', "CRC-64-AVRO") gives
     * "8f5c393f1ad57572", i.e. 0x7275d51a3f395c8f. */
    (void)state;
    assert_int_equal(schema_crc64_avro("\"int\"", 5),
                     UINT64_C(0x7275d51a3f395c8f));
}

static void test_schema_canonical_form_flat_matches_fastavro(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);

    (void)state;
    assert_string_equal(schema_canonical_form(s), FLAT_CANONICAL);
    assert_int_equal(schema_fingerprint(s), FLAT_FINGERPRINT);
    assert_string_equal(schema_name(s), "riffle.test.Flat");
    schema_destroy(s);
}

static void test_schema_canonical_form_nested_matches_fastavro(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);

    (void)state;
    assert_string_equal(schema_canonical_form(s), NESTED_CANONICAL);
    assert_int_equal(schema_fingerprint(s), NESTED_FINGERPRINT);
    schema_destroy(s);
}

static void test_schema_canonical_form_elec2_matches_fastavro(void **state)
{
    struct schema *s = load_schema_json(ELEC_JSON);

    (void)state;
    assert_string_equal(schema_canonical_form(s), ELEC_CANONICAL);
    assert_int_equal(schema_fingerprint(s), ELEC_FINGERPRINT);
    assert_string_equal(schema_name(s), "elec2.Event");
    schema_destroy(s);
}

static void test_schema_canonical_form_recursive_matches_fastavro(
    void **state)
{
    struct schema *s = load_schema_json(NODE_JSON);

    (void)state;
    assert_string_equal(schema_canonical_form(s), NODE_CANONICAL);
    assert_int_equal(schema_fingerprint(s), NODE_FINGERPRINT);
    schema_destroy(s);
}

/* The sliced loop against the byte-wise definition, at every length and
 * alignment up to a few slices and on a long buffer. */
static uint64_t crc64_bytewise(const unsigned char *p, size_t len)
{
    uint64_t fp = UINT64_C(0xc15d213aa4d7a795), bit;
    size_t i;
    int j;

    for (i = 0; i < len; i++) {
        fp ^= p[i];
        for (j = 0; j < 8; j++) {
            bit = fp & 1;
            fp = (fp >> 1) ^ (UINT64_C(0xc15d213aa4d7a795) & (0 - bit));
        }
    }
    return fp;
}

static void test_schema_crc64_sliced_matches_bytewise(void **state)
{
    unsigned char data[4099];
    size_t i, start, len;

    (void)state;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    for (start = 0; start < 8; start++)
        for (len = 0; len <= 40; len++)
            assert_int_equal(schema_crc64_avro(data + start, len),
                             crc64_bytewise(data + start, len));
    assert_int_equal(schema_crc64_avro(data + 3, sizeof(data) - 3),
                     crc64_bytewise(data + 3, sizeof(data) - 3));
}

/* The CRC of A then B from the CRCs of A and B, at every split point of
 * a buffer and for a B of a few MiB (a snapshot's weights are spliced
 * into its record's checksum this way). */
static void test_schema_crc64_combine_matches_whole(void **state)
{
    const size_t big = (size_t)3 << 20;
    unsigned char data[203], *large;
    size_t i, cut;

    (void)state;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 2654435761u >> 9);
    for (cut = 0; cut <= sizeof(data); cut++)
        assert_int_equal(
            schema_crc64_avro_combine(schema_crc64_avro(data, cut),
                                      schema_crc64_avro(data + cut,
                                                        sizeof(data) - cut),
                                      sizeof(data) - cut),
            crc64_bytewise(data, sizeof(data)));

    large = malloc(big + 7);
    assert_non_null(large);
    for (i = 0; i < big + 7; i++)
        large[i] = (unsigned char)(i * 2246822519u >> 17);
    assert_int_equal(schema_crc64_avro_combine(schema_crc64_avro(large, 7),
                                               schema_crc64_avro(large + 7,
                                                                 big),
                                               big),
                     schema_crc64_avro(large, big + 7));
    free(large);
}

/* Fed in two pieces at every split point, the CRC is that of the whole:
 * the weights digest is computed a slice of the model at a time. */
static void test_schema_crc64_update_in_pieces_matches_whole(void **state)
{
    unsigned char data[203];
    uint64_t whole, fp;
    size_t i, cut;

    (void)state;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 2246822519u >> 11);
    whole = schema_crc64_avro(data, sizeof(data));
    assert_int_equal(whole, crc64_bytewise(data, sizeof(data)));
    for (cut = 0; cut <= sizeof(data); cut++) {
        fp = schema_crc64_avro_update(schema_crc64_avro(NULL, 0), data, cut);
        fp = schema_crc64_avro_update(fp, data + cut, sizeof(data) - cut);
        assert_int_equal(fp, whole);
    }
}

static void test_schema_crc64_matches_fingerprint(void **state)
{
    (void)state;
    assert_int_equal(schema_crc64_avro(FLAT_CANONICAL,
                                       strlen(FLAT_CANONICAL)),
                     FLAT_FINGERPRINT);
}

/* ---- Loading --------------------------------------------------------- */

static void test_schema_load_describes_fields(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);

    (void)state;
    assert_int_equal(schema_field_count(s), 12);
    assert_int_equal(schema_is_flat(s), 1);
    assert_string_equal(schema_field_name(s, F_NI), "ni");
    assert_int_equal(schema_field_type(s, F_S), SCHEMA_FIELD_STRING);
    assert_int_equal(schema_field_type(s, F_D), SCHEMA_FIELD_DOUBLE);
    assert_int_equal(schema_field_type(s, F_F), SCHEMA_FIELD_FLOAT);
    assert_int_equal(schema_field_type(s, F_L), SCHEMA_FIELD_LONG);
    assert_int_equal(schema_field_type(s, F_I), SCHEMA_FIELD_INT);
    assert_int_equal(schema_field_type(s, F_B), SCHEMA_FIELD_BOOLEAN);
    assert_int_equal(schema_field_type(s, F_ND), SCHEMA_FIELD_DOUBLE);
    assert_int_equal(schema_field_type(s, F_NB), SCHEMA_FIELD_BOOLEAN);
    assert_int_equal(schema_field_nullable(s, F_S), 0);
    assert_int_equal(schema_field_nullable(s, F_NS), 1);
    assert_int_equal(schema_field_nullable(s, F_ND), 1);
    assert_int_equal(schema_field_index(s, "nl"), F_NL);
    assert_int_equal(schema_field_index(s, "missing"), -1);
    schema_destroy(s);
}

static void test_schema_load_marks_nested_not_flat(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);

    (void)state;
    assert_int_equal(schema_is_flat(s), 0);
    assert_int_equal(schema_field_type(s, 1), SCHEMA_FIELD_OTHER);
    assert_int_equal(schema_field_type(s, 8), SCHEMA_FIELD_BOOLEAN);
    assert_int_equal(schema_field_nullable(s, 5), 1); /* null or Score */
    schema_destroy(s);
}

static void test_schema_load_rejects_non_record(void **state)
{
    const char json[] = "[\"null\",\"int\"]";
    const char enum_json[] = "{\"type\":\"enum\",\"name\":\"E\","
                             "\"symbols\":[\"A\"]}";
    struct schema *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_load_json(json, strlen(json), "u.avsc", &s,
                                      errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, "u.avsc: top-level type is union, "
                                "not a record");
    assert_null(s);
    assert_int_equal(schema_load_json(enum_json, strlen(enum_json), "e.avsc",
                                      &s, errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, "e.avsc: top-level type is enum, "
                                "not a record");
    assert_null(s);
}

static void test_schema_load_reports_avro_error(void **state)
{
    const char json[] = "{\"type\":\"record\",\"name\":\"R\","
                        "\"fields\":[{\"name\":\"x\",\"type\":\"nope\"}]}";
    struct schema *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_load_json(json, strlen(json), "bad.avsc", &s,
                                      errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_int_equal(strncmp(errstr, "bad.avsc: ", 10), 0);
    assert_contains(errstr, "nope"); /* avro_strerror() text */
    assert_null(s);
}

/* A file that is not JSON at all names the line and column: avro-c's
 * own message gives neither. */
static void test_schema_load_reports_json_line(void **state)
{
    const char json[] = "{\"type\": \"record\", \"name\": \"R\",\n"
                        " \"fields\": [{\"name\": \"x\", \"type\": \"int\"},\n"
                        " ]}\n";
    struct schema *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_load_json(json, strlen(json), "bad.avsc", &s,
                                      errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, "bad.avsc:3:2: not JSON: invalid JSON "
                                "syntax");
    assert_null(s);
}

/* A data file given as the schema (a CSV, JSON lines of events, a JSON
 * array of values) is refused without quoting any of it: jansson's text
 * quoted the token near the fault ("near 'Kay'") and avro-c's the value
 * of a "type" member or an array's string. A type name that reads as a
 * name, a typo in a real schema, is still quoted. */
static void test_schema_load_error_quotes_no_data(void **state)
{
    static const char *const files[] = {
        "Kay Smith,kay@example.test,39\n",
        "{\"name\": \"Kay Smith\", \"email\": \"kay@example.test\"}\n"
        "{\"name\": \"Kay Jones\"}\n",
        "[\"kay@example.test\", \"Kay Smith\"]",
        "{\"type\": \"Kay Smith\", \"id\": 39}",
        "{\"type\": \"record\", \"name\": \"R\", \"fields\": [Kay]}",
    };
    const char typo[] = "{\"type\": \"record\", \"name\": \"R\", "
                        "\"fields\": [{\"name\": \"x\", \"type\": "
                        "\"my.ns.Strng\"}]}";
    struct schema *s = NULL;
    char errstr[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        assert_int_equal(schema_load_json(files[i], strlen(files[i]),
                                          "data.csv", &s, errstr,
                                          sizeof(errstr)),
                         RIFFLE_ERR_SCHEMA);
        assert_memory_equal(errstr, "data.csv", 8);
        assert_lacks(errstr, "Kay");
        assert_lacks(errstr, "kay");
        assert_null(s);
    }
    assert_int_equal(schema_load_json(typo, strlen(typo), "t.avsc", &s,
                                      errstr, sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, "t.avsc: Unknown Avro \"type\": my.ns.Strng");
}

static void test_schema_load_file_missing_is_io_error(void **state)
{
    struct schema *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_load_file("/nonexistent/x.avsc", &s, errstr,
                                      sizeof(errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(errstr,
                        "/nonexistent/x.avsc: No such file or directory");
}

static void test_schema_load_file_reads_avsc(void **state)
{
    char path[64];
    struct schema *s = NULL;
    char errstr[256] = "";

    (void)state;
    temp_file_new(path, sizeof(path), "schema");
    write_text(path, ELEC_JSON);

    assert_int_equal(schema_load_file(path, &s, errstr, sizeof(errstr)), 0);
    assert_int_equal(schema_fingerprint(s), ELEC_FINGERPRINT);
    schema_destroy(s);
    (void)remove(path);
}

/* ---- Flat events ----------------------------------------------------- */

static void test_schema_encode_matches_fastavro(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf out = {0}, expect = {0};
    struct event ev;
    char errstr[256] = "";

    (void)state;
    event_init(&ev);
    fill_flat_event(&ev);
    assert_int_equal(schema_encode_event(s, &ev, &out, errstr,
                                         sizeof(errstr)), 0);
    make_message_hex(s, FLAT_BODY_HEX, &expect);
    assert_int_equal(out.len, expect.len);
    assert_memory_equal(out.data, expect.data, expect.len);

    event_free(&ev);
    buf_free(&out);
    buf_free(&expect);
    schema_destroy(s);
}

static void test_schema_encode_elec2_row_matches_fastavro(void **state)
{
    static const double row[8] = {0, 2, 0.021277, 0.051699, 0.415055,
                                  0.003467, 0.422915, 0.414912};
    struct schema *s = load_schema_json(ELEC_JSON);
    struct buf out = {0}, expect = {0};
    struct event ev;
    char errstr[256] = "";
    size_t i;

    (void)state;
    event_init(&ev);
    event_reset(&ev, 9);
    for (i = 0; i < 8; i++)
        event_set_number(&ev, i, row[i]);
    assert_int_equal(event_set_string(&ev, 8, "UP", 2), 0);

    assert_int_equal(schema_encode_event(s, &ev, &out, errstr,
                                         sizeof(errstr)), 0);
    make_message_hex(s, ELEC_BODY_HEX, &expect);
    assert_int_equal(out.len, 70);
    assert_memory_equal(out.data, expect.data, expect.len);

    event_free(&ev);
    buf_free(&out);
    buf_free(&expect);
    schema_destroy(s);
}

/* A string written in place: the field holds it with its NUL, and a
 * later, longer one that grows the arena leaves the first intact. */
static void test_schema_event_write_string_in_place(void **state)
{
    struct event ev;
    char long_text[1000];
    char *out;

    (void)state;
    memset(long_text, 'x', sizeof(long_text));
    event_init(&ev);
    event_reset(&ev, 3);

    out = event_write_string(&ev, 1, 5);
    assert_non_null(out);
    memcpy(out, "k1:ab", 5);
    assert_int_equal(ev.values[1].kind, VALUE_STRING);
    assert_int_equal(ev.values[1].str_len, 5);
    assert_string_equal(event_string(&ev, 1), "k1:ab");

    out = event_write_string(&ev, 2, sizeof(long_text));
    assert_non_null(out);
    memcpy(out, long_text, sizeof(long_text));
    assert_int_equal(ev.values[2].str_len, sizeof(long_text));
    assert_memory_equal(event_string(&ev, 2), long_text, sizeof(long_text));
    assert_int_equal(event_string(&ev, 2)[sizeof(long_text)], '\0');
    assert_string_equal(event_string(&ev, 1), "k1:ab");
    assert_int_equal(ev.values[0].kind, VALUE_NULL);

    event_free(&ev);
}

static void test_schema_event_round_trip(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf out = {0};
    struct event ev, back;
    char errstr[256] = "";

    (void)state;
    event_init(&ev);
    event_init(&back);
    fill_flat_event(&ev);
    /* Swap which fields are null, to cover both union branch orders. */
    assert_int_equal(event_set_string(&ev, F_NS, "", 0), 0);
    event_set_null(&ev, F_ND);
    event_set_number(&ev, F_NL, -9007199254740992.0); /* -2^53 */
    event_set_null(&ev, F_NI);
    event_set_number(&ev, F_NF, -1.5);
    event_set_null(&ev, F_NB);

    assert_int_equal(schema_encode_event(s, &ev, &out, errstr,
                                         sizeof(errstr)), 0);
    assert_int_equal(schema_decode_event(s, out.data, out.len, &back,
                                         errstr, sizeof(errstr)), 0);

    assert_int_equal(back.field_count, 12);
    assert_string_equal(event_string(&back, F_S), "h\xc3\xa9llo");
    assert_int_equal(back.values[F_S].str_len, 6);
    assert_true(back.values[F_D].number == -2.5);
    assert_true(back.values[F_F].number == 0.25);
    assert_true(back.values[F_L].number == -1234567890123.0);
    assert_true(back.values[F_I].number == 2147483647.0);
    assert_true(back.values[F_B].number == 1.0);
    assert_int_equal(back.values[F_NS].kind, VALUE_STRING);
    assert_string_equal(event_string(&back, F_NS), "");
    assert_int_equal(back.values[F_ND].kind, VALUE_NULL);
    assert_true(back.values[F_NL].number == -9007199254740992.0);
    assert_int_equal(back.values[F_NI].kind, VALUE_NULL);
    assert_true(back.values[F_NF].number == -1.5);
    assert_int_equal(back.values[F_NB].kind, VALUE_NULL);

    event_free(&ev);
    event_free(&back);
    buf_free(&out);
    schema_destroy(s);
}

static void test_schema_decode_reads_fastavro_body(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf msg = {0};
    struct event ev;
    char errstr[256] = "";

    (void)state;
    event_init(&ev);
    make_message_hex(s, FLAT_BODY_HEX, &msg);
    assert_int_equal(schema_decode_event(s, msg.data, msg.len, &ev, errstr,
                                         sizeof(errstr)), 0);
    assert_string_equal(event_string(&ev, F_S), "h\xc3\xa9llo");
    assert_true(ev.values[F_L].number == -1234567890123.0);
    assert_int_equal(ev.values[F_NS].kind, VALUE_NULL);
    assert_true(ev.values[F_ND].number == 3.5);
    assert_true(ev.values[F_NI].number == -7.0);
    assert_int_equal(ev.values[F_NB].kind, VALUE_NUMBER);
    assert_true(ev.values[F_NB].number == 0.0);

    event_free(&ev);
    buf_free(&msg);
    schema_destroy(s);
}

static void test_schema_peek_fingerprint_reads_header(void **state)
{
    struct schema *s = load_schema_json(ELEC_JSON);
    struct buf msg = {0};
    uint64_t fp = 0;
    char errstr[256] = "";

    (void)state;
    make_message_hex(s, ELEC_BODY_HEX, &msg);
    assert_int_equal(schema_peek_fingerprint(msg.data, msg.len, &fp, errstr,
                                             sizeof(errstr)), 0);
    assert_int_equal(fp, ELEC_FINGERPRINT);
    assert_int_equal((unsigned char)msg.data[2], 0x87); /* little-endian */
    buf_free(&msg);
    schema_destroy(s);
}

static void test_schema_decode_rejects_wrong_marker(void **state)
{
    const char json_msg[] = "{\"date\": 0, \"day\": 2}";
    struct schema *s = load_schema_json(ELEC_JSON);
    struct event ev;
    char errstr[256];

    (void)state;
    event_init(&ev);
    assert_int_equal(schema_decode_event(s, json_msg, strlen(json_msg), &ev,
                                         errstr, sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    /* the message's own first bytes, 7b 22, are not quoted */
    assert_string_equal(errstr,
                        "offset 0: not a single-object message (it does "
                        "not begin with the marker c3 01)");
    event_free(&ev);
    schema_destroy(s);
}

static void test_schema_decode_rejects_short_header(void **state)
{
    const unsigned char msg[] = {0xC3, 0x01, 0x87, 0x13, 0x37};
    struct schema *s = load_schema_json(ELEC_JSON);
    struct event ev;
    char errstr[256];

    (void)state;
    event_init(&ev);
    assert_int_equal(schema_decode_event(s, msg, 1, &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 0: message of 1 bytes is shorter "
                                "than the 10-byte header");
    assert_int_equal(schema_decode_event(s, msg, sizeof(msg), &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 2: truncated fingerprint "
                                "(message of 5 bytes)");
    event_free(&ev);
    schema_destroy(s);
}

static void test_schema_decode_rejects_wrong_fingerprint(void **state)
{
    struct schema *flat = load_schema_json(FLAT_JSON);
    struct schema *elec = load_schema_json(ELEC_JSON);
    struct buf msg = {0};
    struct event ev;
    char errstr[256];

    (void)state;
    event_init(&ev);
    make_message_hex(flat, FLAT_BODY_HEX, &msg);
    assert_int_equal(schema_decode_event(elec, msg.data, msg.len, &ev,
                                         errstr, sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr,
                        "fingerprint 0x7555a616fe136861 does not match "
                        "schema elec2.Event (0x89678d88fb371387)");
    event_free(&ev);
    buf_free(&msg);
    schema_destroy(flat);
    schema_destroy(elec);
}

static void test_schema_decode_rejects_every_truncation(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf msg = {0};
    struct event ev;
    char errstr[256];
    size_t n;

    (void)state;
    event_init(&ev);
    make_message_hex(s, FLAT_BODY_HEX, &msg);
    for (n = 0; n < msg.len; n++) {
        int err = schema_decode_event(s, msg.data, n, &ev, errstr,
                                      sizeof(errstr));

        if (err != RIFFLE_ERR_DECODE)
            fail_msg("prefix of %zu bytes gave %d", n, err);
    }
    /* The first double starts at offset 17 (header 10, "h\xc3\xa9llo" 7). */
    assert_int_equal(schema_decode_event(s, msg.data, 20, &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 17: truncated double in field 'd'");
    assert_int_equal(schema_decode_event(s, msg.data, 12, &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 10: truncated string in field 's'");
    assert_int_equal(schema_decode_event(s, msg.data, msg.len, &ev, errstr,
                                         sizeof(errstr)), 0);
    event_free(&ev);
    buf_free(&msg);
    schema_destroy(s);
}

static void test_schema_decode_rejects_bad_union_index(void **state)
{
    (void)state;
    expect_decode_error(S_JSON, "04",
                        "offset 10: bad union branch 2 in field 'x'");
    expect_decode_error(S_JSON, "01",
                        "offset 10: bad union branch -1 in field 'x'");
}

static void test_schema_decode_rejects_negative_string_length(void **state)
{
    (void)state;
    /* branch 1 (string), length zig-zag 0x05 = -3 */
    expect_decode_error(S_JSON, "0205616263",
                        "offset 11: negative string length -3 in field 'x'");
}

static void test_schema_decode_rejects_oversized_string_length(void **state)
{
    (void)state;
    /* length 5 with 2 bytes left */
    expect_decode_error(S_JSON, "020a6162",
                        "offset 11: truncated string in field 'x'");
    /* length 2^62: must be refused before anything is allocated */
    expect_decode_error(S_JSON, "0280808080808080808001",
                        "offset 11: truncated string in field 'x'");
}

static void test_schema_decode_rejects_trailing_bytes(void **state)
{
    (void)state;
    expect_decode_error(S_JSON, "00ffffff",
                        "offset 11: 3 trailing bytes after record");
}

static void test_schema_decode_rejects_overlong_varint(void **state)
{
    (void)state;
    expect_decode_error(S_JSON, "02ffffffffffffffffffff01",
                        "offset 11: string varint longer than 10 bytes in "
                        "field 'x'");
    expect_decode_error(S_JSON, "02ffffffffffffffffff02",
                        "offset 11: string overflows 64 bits in field 'x'");
}

static void test_schema_decode_rejects_int_overflow(void **state)
{
    const char json[] = "{\"type\":\"record\",\"name\":\"I\","
                        "\"fields\":[{\"name\":\"n\",\"type\":\"int\"}]}";

    (void)state;
    /* zig-zag 2^32 = 2147483648. The value itself may be personal: the
     * message must not quote it. */
    expect_decode_error(json, "8080808010",
                        "offset 10: an int in field 'n' is out of 32-bit "
                        "range");
}

static void test_schema_decode_rejects_bad_boolean(void **state)
{
    const char json[] = "{\"type\":\"record\",\"name\":\"B\","
                        "\"fields\":[{\"name\":\"b\",\"type\":\"boolean\"}]}";

    (void)state;
    expect_decode_error(json, "02",
                        "offset 10: a boolean in field 'b' is neither 0 nor 1");
}

static void test_schema_decode_rejects_invalid_utf8(void **state)
{
    (void)state;
    /* "\xc0\xaf" is an overlong '/' */
    expect_decode_error(S_JSON, "0204c0af",
                        "offset 11: string is not valid UTF-8 in field 'x'");
}

/* Text cut inside a character, or quoting bytes that are not UTF-8,
 * reads '?' for each bad byte and keeps every valid character. */
static void test_schema_repair_utf8_replaces_bad_bytes(void **state)
{
    char cut[] = "a\xc3\xa9\xc3";                 /* "a", e-acute, half */
    char quoted[] = "label \"\xffUP\xc0\xaf\"";  /* stray and overlong */
    char valid[] = "\xe2\x82\xac \xf0\x9f\x98\x80 plain";

    (void)state;
    assert_int_equal(schema_repair_utf8(cut, strlen(cut)), 1);
    assert_string_equal(cut, "a\xc3\xa9?");
    assert_int_equal(schema_repair_utf8(quoted, strlen(quoted)), 3);
    assert_string_equal(quoted, "label \"?UP??\"");
    assert_int_equal(schema_repair_utf8(valid, strlen(valid)), 0);
    assert_string_equal(valid, "\xe2\x82\xac \xf0\x9f\x98\x80 plain");
}

/* A NUL would cut the string short wherever it is used as C text (hash
 * keys, JSON, Kafka keys), so it is refused at the wire. */
static void test_schema_decode_rejects_nul_in_string(void **state)
{
    (void)state;
    /* branch 1 (string), length 3: "a", NUL, "b" */
    expect_decode_error(S_JSON, "0206610062",
                        "offset 11: string in field 'x' contains a NUL byte");
}

static void test_schema_decode_rejects_non_flat_schema(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf msg = {0};
    struct event ev;
    char errstr[256];

    (void)state;
    event_init(&ev);
    make_message_hex(s, NESTED_BODY_HEX, &msg);
    assert_int_equal(schema_decode_event(s, msg.data, msg.len, &ev, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, "schema riffle.test.Prediction is not flat: "
                                "field 'scores' needs generic values");
    event_free(&ev);
    buf_free(&msg);
    schema_destroy(s);
}

/* ---- Encode errors --------------------------------------------------- */

/* Encodes the Flat event after edit() and expects RIFFLE_ERR_SCHEMA with
 * exactly the message msg, and the output buffer left as it was. */
static void expect_encode_error(void (*edit)(struct event *),
                                const char *msg)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf out = {0};
    struct event ev;
    char errstr[256] = "";

    event_init(&ev);
    fill_flat_event(&ev);
    edit(&ev);
    assert_int_equal(buf_append(&out, "keep", 4), 0);
    assert_int_equal(schema_encode_event(s, &ev, &out, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr, msg);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    event_free(&ev);
    buf_free(&out);
    schema_destroy(s);
}

static void edit_null_in_double(struct event *ev)
{
    event_set_null(ev, F_D);
}

static void edit_fraction_in_long(struct event *ev)
{
    event_set_number(ev, F_L, 1.5);
}

static void edit_big_int(struct event *ev)
{
    event_set_number(ev, F_I, 2147483648.0);
}

static void edit_huge_long(struct event *ev)
{
    event_set_number(ev, F_NL, 9223372036854775808.0); /* 2^63 */
}

static void edit_nan_in_long(struct event *ev)
{
    event_set_number(ev, F_L, NAN);
}

static void edit_string_in_double(struct event *ev)
{
    assert_int_equal(event_set_string(ev, F_ND, "3.5", 3), 0);
}

static void edit_number_in_string(struct event *ev)
{
    event_set_number(ev, F_S, 1.0);
}

static void edit_two_in_boolean(struct event *ev)
{
    event_set_number(ev, F_B, 2.0);
}

static void edit_float_overflow(struct event *ev)
{
    event_set_number(ev, F_F, 1e39);
}

static void edit_bad_utf8(struct event *ev)
{
    assert_int_equal(event_set_string(ev, F_S, "caf\xe9", 4), 0);
}

static void edit_nul_in_string(struct event *ev)
{
    assert_int_equal(event_set_string(ev, F_S, "a\0b", 3), 0);
}

static void test_schema_encode_rejects_null_in_non_nullable(void **state)
{
    (void)state;
    expect_encode_error(edit_null_in_double,
                        "field 'd': null in a non-nullable double field");
}

static void test_schema_encode_rejects_fraction_in_long(void **state)
{
    (void)state;
    expect_encode_error(edit_fraction_in_long,
                        "field 'l': value is not a whole number in long range");
    expect_encode_error(edit_nan_in_long,
                        "field 'l': value is not a whole number in long range");
}

static void test_schema_encode_rejects_out_of_range_integers(void **state)
{
    (void)state;
    expect_encode_error(edit_big_int,
                        "field 'i': value is not a whole number in int range");
    expect_encode_error(edit_huge_long,
                        "field 'nl': value is not a whole number in long "
                        "range");
    expect_encode_error(edit_float_overflow,
                        "field 'f': value is out of float range");
    expect_encode_error(edit_two_in_boolean,
                        "field 'b': value is not a boolean (0 or 1)");
}

static void test_schema_encode_rejects_kind_mismatch(void **state)
{
    (void)state;
    expect_encode_error(edit_string_in_double,
                        "field 'nd': string in a double field");
    expect_encode_error(edit_number_in_string,
                        "field 's': number in a string field");
    expect_encode_error(edit_bad_utf8, "field 's': string is not valid UTF-8");
}

static void test_schema_encode_rejects_nul_in_string(void **state)
{
    (void)state;
    expect_encode_error(edit_nul_in_string,
                        "field 's': string contains a NUL byte");
}

static void test_schema_encode_rejects_wrong_field_count(void **state)
{
    struct schema *s = load_schema_json(ELEC_JSON);
    struct buf out = {0};
    struct event ev;
    char errstr[256];

    (void)state;
    event_init(&ev);
    event_reset(&ev, 3);
    assert_int_equal(schema_encode_event(s, &ev, &out, errstr,
                                         sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr,
                        "event has 3 fields, schema elec2.Event has 9");
    assert_int_equal(out.len, 0);
    event_free(&ev);
    schema_destroy(s);
}

/* ---- Generic values -------------------------------------------------- */

static void set_score(avro_value_t *score, const char *label, double p)
{
    avro_value_t field;

    assert_int_equal(avro_value_get_by_name(score, "label", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, label), 0);
    assert_int_equal(avro_value_get_by_name(score, "p", &field, NULL), 0);
    assert_int_equal(avro_value_set_double(&field, p), 0);
}

/* The value whose fastavro encoding is NESTED_BODY_HEX. */
static void fill_prediction(avro_value_t *rec)
{
    avro_value_t field, item, branch;

    assert_int_equal(avro_value_get_by_name(rec, "id", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "p-1"), 0);

    assert_int_equal(avro_value_get_by_name(rec, "scores", &field, NULL), 0);
    assert_int_equal(avro_value_append(&field, &item, NULL), 0);
    set_score(&item, "UP", 0.75);
    assert_int_equal(avro_value_append(&field, &item, NULL), 0);
    set_score(&item, "DOWN", 0.25);

    assert_int_equal(avro_value_get_by_name(rec, "meta", &field, NULL), 0);
    assert_int_equal(avro_value_add(&field, "n", &item, NULL, NULL), 0);
    assert_int_equal(avro_value_set_long(&item, 3), 0);

    assert_int_equal(avro_value_get_by_name(rec, "kind", &field, NULL), 0);
    assert_int_equal(avro_value_set_enum(&field, 1), 0);
    assert_int_equal(avro_value_get_by_name(rec, "digest", &field, NULL), 0);
    assert_int_equal(avro_value_set_fixed(&field, "\1\2\3\4", 4), 0);

    assert_int_equal(avro_value_get_by_name(rec, "best", &field, NULL), 0);
    assert_int_equal(avro_value_set_branch(&field, 1, &branch), 0);
    set_score(&branch, "UP", 0.75);

    assert_int_equal(avro_value_get_by_name(rec, "again", &field, NULL), 0);
    assert_int_equal(avro_value_set_enum(&field, 0), 0);
    assert_int_equal(avro_value_get_by_name(rec, "raw", &field, NULL), 0);
    assert_int_equal(avro_value_set_bytes(&field, "\0\xff", 2), 0);
    assert_int_equal(avro_value_get_by_name(rec, "flag", &field, NULL), 0);
    assert_int_equal(avro_value_set_branch(&field, 0, &branch), 0);
    assert_int_equal(avro_value_set_null(&branch), 0);
}

static void test_schema_value_round_trip_nested(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf out = {0}, expect = {0};
    avro_value_t rec, back, field, item;
    const char *str;
    size_t size;
    char errstr[256] = "";

    (void)state;
    assert_int_equal(schema_new_value(s, &rec), 0);
    assert_int_equal(schema_new_value(s, &back), 0);
    fill_prediction(&rec);

    assert_int_equal(schema_write_value(s, &rec, &out, errstr,
                                        sizeof(errstr)), 0);
    make_message_hex(s, NESTED_BODY_HEX, &expect); /* fastavro's bytes */
    assert_int_equal(out.len, expect.len);
    assert_memory_equal(out.data, expect.data, expect.len);

    assert_int_equal(schema_read_value(s, out.data, out.len, &back, errstr,
                                       sizeof(errstr)), 0);
    assert_int_equal(avro_value_equal(&rec, &back), 1);
    assert_int_equal(avro_value_get_by_name(&back, "scores", &field, NULL),
                     0);
    assert_int_equal(avro_value_get_size(&field, &size), 0);
    assert_int_equal(size, 2);
    assert_int_equal(avro_value_get_by_index(&field, 1, &item, NULL), 0);
    assert_int_equal(avro_value_get_by_name(&item, "label", &field, NULL), 0);
    assert_int_equal(avro_value_get_string(&field, &str, &size), 0);
    assert_string_equal(str, "DOWN");

    /* Reading again replaces the contents rather than appending. */
    assert_int_equal(schema_read_value(s, out.data, out.len, &back, errstr,
                                       sizeof(errstr)), 0);
    assert_int_equal(avro_value_equal(&rec, &back), 1);

    avro_value_decref(&rec);
    avro_value_decref(&back);
    buf_free(&out);
    buf_free(&expect);
    schema_destroy(s);
}

static void test_schema_value_write_rejects_unset_union(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf out = {0};
    avro_value_t rec;
    char errstr[256] = "";

    (void)state;
    assert_int_equal(schema_new_value(s, &rec), 0);
    assert_int_equal(schema_write_value(s, &rec, &out, errstr,
                                        sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_int_equal(strncmp(errstr, "riffle.test.Prediction: ", 24), 0);
    assert_int_equal(out.len, 0);
    avro_value_decref(&rec);
    schema_destroy(s);
}

static void test_schema_value_rejects_other_schema(void **state)
{
    struct schema *nested = load_schema_json(NESTED_JSON);
    struct schema *elec = load_schema_json(ELEC_JSON);
    struct buf msg = {0};
    avro_value_t v;
    char errstr[256] = "";

    (void)state;
    assert_int_equal(schema_new_value(elec, &v), 0);
    make_message_hex(nested, NESTED_BODY_HEX, &msg);
    assert_int_equal(schema_read_value(nested, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_string_equal(errstr,
                        "value is not of schema riffle.test.Prediction");
    avro_value_decref(&v);
    buf_free(&msg);
    schema_destroy(nested);
    schema_destroy(elec);
}

static void test_schema_read_value_rejects_every_truncation(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf msg = {0};
    avro_value_t v;
    char errstr[256];
    size_t n;

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);
    make_message_hex(s, NESTED_BODY_HEX, &msg);
    for (n = 0; n < msg.len; n++) {
        int err = schema_read_value(s, msg.data, n, &v, errstr,
                                    sizeof(errstr));

        if (err != RIFFLE_ERR_DECODE)
            fail_msg("prefix of %zu bytes gave %d", n, err);
    }
    assert_int_equal(schema_read_value(s, msg.data, msg.len - 1, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr,
                        "offset 66: truncated union branch in field 'flag'");
    avro_value_decref(&v);
    buf_free(&msg);
    schema_destroy(s);
}

/* An enum index is the value of its field: a bad one is refused without
 * quoting it. */
static void test_schema_read_value_rejects_bad_enum_index(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf msg = {0};
    char hex[sizeof(NESTED_BODY_HEX)];
    avro_value_t v;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);
    /* "kind" is body byte 35 (message offset 45): 2 becomes 4, i.e. the
     * third symbol of two. */
    memcpy(hex, NESTED_BODY_HEX, sizeof(hex));
    assert_int_equal(strncmp(hex + 70, "02", 2), 0);
    hex[71] = '4';
    make_message_hex(s, hex, &msg);
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 45: an enum index in field 'kind' "
                                "is out of range");
    avro_value_decref(&v);
    buf_free(&msg);
    schema_destroy(s);
}

/* Lengths avro-c 1.11 would pass straight to malloc (or write before, for
 * -1) must be stopped by the pre-read walk. */
static void test_schema_read_value_rejects_bad_lengths(void **state)
{
    struct schema *s = load_schema_json(NESTED_JSON);
    struct buf msg = {0};
    avro_value_t v;
    char errstr[256];

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);

    make_message_hex(s, "01", &msg); /* id length -1 */
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr,
                        "offset 10: negative string length -1 in field 'id'");

    make_message_hex(s, "feffffffffffffffff01", &msg); /* id length 2^63-1 */
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 10: truncated string in field 'id'");

    /* id "", then an array block of 2^62 items */
    make_message_hex(s, "0080808080808080808001", &msg);
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 11: block of 4611686018427387904 "
                                "items is longer than the 0 bytes left in "
                                "field 'scores'");
    avro_value_decref(&v);
    buf_free(&msg);
    schema_destroy(s);
}

static void test_schema_read_value_caps_empty_items(void **state)
{
    struct schema *s = load_schema_json(NULLS_JSON);
    struct buf msg = {0};
    avro_value_t v;
    char errstr[256];
    size_t size;
    avro_value_t a;

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);

    make_message_hex(s, "0600", &msg); /* three nulls: fine */
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)), 0);
    assert_int_equal(avro_value_get_by_index(&v, 0, &a, NULL), 0);
    assert_int_equal(avro_value_get_size(&a, &size), 0);
    assert_int_equal(size, 3);

    make_message_hex(s, "feffffffffffffffff0100", &msg); /* 2^63-1 nulls */
    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_string_equal(errstr, "offset 10: more than 65536 empty items in "
                                "field 'a'");
    avro_value_decref(&v);
    buf_free(&msg);
    schema_destroy(s);
}

static void test_schema_read_value_caps_nesting(void **state)
{
    struct schema *s = load_schema_json(NODE_JSON);
    struct buf body = {0}, msg = {0};
    avro_value_t v;
    char errstr[256];
    int i;

    (void)state;
    assert_int_equal(schema_new_value(s, &v), 0);
    /* v=0, next=Node(v=0, next=Node(...)) 200 deep: every level is
     * "00 02" (long 0, branch 1); the innermost ends "00 00 00". */
    for (i = 0; i < 200; i++)
        assert_int_equal(buf_append(&body, "\0\2", 2), 0);
    assert_int_equal(buf_append(&body, "\0\0\0", 3), 0);
    for (i = 0; i < 200; i++)
        assert_int_equal(buf_append(&body, "\0", 1), 0); /* kids: [] */
    make_message(s, body.data, body.len, &msg);

    assert_int_equal(schema_read_value(s, msg.data, msg.len, &v, errstr,
                                       sizeof(errstr)),
                     RIFFLE_ERR_DECODE);
    assert_contains(errstr, "values nested deeper than 64");
    avro_value_decref(&v);
    buf_free(&body);
    buf_free(&msg);
    schema_destroy(s);
}

/* ---- Fuzz ------------------------------------------------------------ */

/* Random bytes, random bodies after a valid header, and bit flips of a
 * valid message: every call must end in 0 or a decode error. */
static void fuzz_message(uint64_t *rng, const struct buf *valid,
                         struct buf *msg)
{
    size_t i, n;

    buf_reset(msg);
    switch (xorshift_next(rng) % 3) {
    case 0:
        n = xorshift_next(rng) % 48;
        for (i = 0; i < n; i++) {
            unsigned char b = (unsigned char)xorshift_next(rng);

            assert_int_equal(buf_append(msg, &b, 1), 0);
        }
        break;
    case 1:
        assert_int_equal(buf_append(msg, valid->data,
                                    SCHEMA_SOE_HEADER_SIZE), 0);
        n = xorshift_next(rng) % 64;
        for (i = 0; i < n; i++) {
            unsigned char b = (unsigned char)xorshift_next(rng);

            assert_int_equal(buf_append(msg, &b, 1), 0);
        }
        break;
    default:
        assert_int_equal(buf_append(msg, valid->data, valid->len), 0);
        n = 1 + xorshift_next(rng) % 3;
        for (i = 0; i < n; i++) {
            size_t bit = xorshift_next(rng) % (valid->len * 8);

            msg->data[bit / 8] ^= (char)(1 << (bit % 8));
        }
        if (xorshift_next(rng) % 4 == 0)
            msg->len = xorshift_next(rng) % (msg->len + 1);
        break;
    }
}

static void test_schema_fuzz_decode_event(void **state)
{
    struct schema *s = load_schema_json(FLAT_JSON);
    struct buf valid = {0}, msg = {0};
    struct event ev;
    uint64_t rng = FUZZ_SEED;
    char errstr[256];
    int i, ok = 0;

    (void)state;
    event_init(&ev);
    make_message_hex(s, FLAT_BODY_HEX, &valid);
    for (i = 0; i < FUZZ_ROUNDS; i++) {
        int err;

        fuzz_message(&rng, &valid, &msg);
        err = schema_decode_event(s, msg.data ? msg.data : "", msg.len, &ev,
                                  errstr, sizeof(errstr));
        if (err != 0 && err != RIFFLE_ERR_DECODE)
            fail_msg("round %d: unexpected %d", i, err);
        ok += err == 0;
    }
    assert_true(ok > 0); /* some flips land in doubles and still decode */
    event_free(&ev);
    buf_free(&valid);
    buf_free(&msg);
    schema_destroy(s);
}

/* Returns how many fuzzed messages decoded. */
static int fuzz_read_value(const char *json, const char *body_hex)
{
    struct schema *s = load_schema_json(json);
    struct buf valid = {0}, msg = {0};
    avro_value_t v;
    uint64_t rng = FUZZ_SEED;
    char errstr[256];
    int i, ok = 0;

    assert_int_equal(schema_new_value(s, &v), 0);
    make_message_hex(s, body_hex, &valid);
    for (i = 0; i < FUZZ_ROUNDS; i++) {
        int err;

        fuzz_message(&rng, &valid, &msg);
        err = schema_read_value(s, msg.data ? msg.data : "", msg.len, &v,
                                errstr, sizeof(errstr));
        if (err != 0 && err != RIFFLE_ERR_DECODE)
            fail_msg("round %d: unexpected %d", i, err);
        ok += err == 0;
    }
    avro_value_decref(&v);
    buf_free(&valid);
    buf_free(&msg);
    schema_destroy(s);
    return ok;
}

static void test_schema_fuzz_read_value_nested(void **state)
{
    (void)state;
    /* Some flips land in doubles or string bytes and still decode. */
    assert_true(fuzz_read_value(NESTED_JSON, NESTED_BODY_HEX) > 0);
}

static void test_schema_fuzz_read_value_recursive(void **state)
{
    (void)state;
    /* fastavro body of Node(v=1, next=Node(v=2, next=null, kids=[]),
     * kids=[Node(v=3, next=null, kids=[])]) */
    assert_true(fuzz_read_value(NODE_JSON, "02020400000206000000") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_crc64_of_empty_input),
        cmocka_unit_test(test_schema_crc64_of_primitive_int),
        cmocka_unit_test(test_schema_canonical_form_flat_matches_fastavro),
        cmocka_unit_test(test_schema_canonical_form_nested_matches_fastavro),
        cmocka_unit_test(test_schema_canonical_form_elec2_matches_fastavro),
        cmocka_unit_test(
            test_schema_canonical_form_recursive_matches_fastavro),
        cmocka_unit_test(test_schema_crc64_matches_fingerprint),
        cmocka_unit_test(test_schema_crc64_sliced_matches_bytewise),
        cmocka_unit_test(test_schema_crc64_combine_matches_whole),
        cmocka_unit_test(test_schema_crc64_update_in_pieces_matches_whole),
        cmocka_unit_test(test_schema_load_describes_fields),
        cmocka_unit_test(test_schema_load_marks_nested_not_flat),
        cmocka_unit_test(test_schema_load_rejects_non_record),
        cmocka_unit_test(test_schema_load_reports_avro_error),
        cmocka_unit_test(test_schema_load_reports_json_line),
        cmocka_unit_test(test_schema_load_error_quotes_no_data),
        cmocka_unit_test(test_schema_load_file_missing_is_io_error),
        cmocka_unit_test(test_schema_load_file_reads_avsc),
        cmocka_unit_test(test_schema_encode_matches_fastavro),
        cmocka_unit_test(test_schema_encode_elec2_row_matches_fastavro),
        cmocka_unit_test(test_schema_event_round_trip),
        cmocka_unit_test(test_schema_event_write_string_in_place),
        cmocka_unit_test(test_schema_decode_reads_fastavro_body),
        cmocka_unit_test(test_schema_peek_fingerprint_reads_header),
        cmocka_unit_test(test_schema_decode_rejects_wrong_marker),
        cmocka_unit_test(test_schema_decode_rejects_short_header),
        cmocka_unit_test(test_schema_decode_rejects_wrong_fingerprint),
        cmocka_unit_test(test_schema_decode_rejects_every_truncation),
        cmocka_unit_test(test_schema_decode_rejects_bad_union_index),
        cmocka_unit_test(test_schema_decode_rejects_negative_string_length),
        cmocka_unit_test(test_schema_decode_rejects_nul_in_string),
        cmocka_unit_test(test_schema_encode_rejects_nul_in_string),
        cmocka_unit_test(test_schema_decode_rejects_oversized_string_length),
        cmocka_unit_test(test_schema_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_schema_decode_rejects_overlong_varint),
        cmocka_unit_test(test_schema_decode_rejects_int_overflow),
        cmocka_unit_test(test_schema_decode_rejects_bad_boolean),
        cmocka_unit_test(test_schema_decode_rejects_invalid_utf8),
        cmocka_unit_test(test_schema_repair_utf8_replaces_bad_bytes),
        cmocka_unit_test(test_schema_decode_rejects_non_flat_schema),
        cmocka_unit_test(test_schema_encode_rejects_null_in_non_nullable),
        cmocka_unit_test(test_schema_encode_rejects_fraction_in_long),
        cmocka_unit_test(test_schema_encode_rejects_out_of_range_integers),
        cmocka_unit_test(test_schema_encode_rejects_kind_mismatch),
        cmocka_unit_test(test_schema_encode_rejects_wrong_field_count),
        cmocka_unit_test(test_schema_value_round_trip_nested),
        cmocka_unit_test(test_schema_value_write_rejects_unset_union),
        cmocka_unit_test(test_schema_value_rejects_other_schema),
        cmocka_unit_test(test_schema_read_value_rejects_every_truncation),
        cmocka_unit_test(test_schema_read_value_rejects_bad_enum_index),
        cmocka_unit_test(test_schema_read_value_rejects_bad_lengths),
        cmocka_unit_test(test_schema_read_value_caps_empty_items),
        cmocka_unit_test(test_schema_read_value_caps_nesting),
        cmocka_unit_test(test_schema_fuzz_decode_event),
        cmocka_unit_test(test_schema_fuzz_read_value_nested),
        cmocka_unit_test(test_schema_fuzz_read_value_recursive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
