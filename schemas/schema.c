/*
 * schemas/schema.c - Avro schemas, fingerprints and single-object framing.
 *
 * Parses .avsc text with avro-c, then derives what riffle needs from the
 * parsed tree: the Parsing Canonical Form (written here by walking the
 * tree, since avro-c has no canonicaliser), its CRC-64-AVRO fingerprint,
 * and a per-field summary of the top-level record. Flat events are
 * encoded and decoded by the small bounded codec below, which checks every
 * length against the bytes left before using it. Nested values go through
 * avro-c generic values, but only after a bounded walk of the body has
 * proved that avro-c will not read a length it cannot satisfy (avro-c
 * 1.11 allocates string and bytes buffers from the unchecked wire length).
 *
 * Does not resolve writer against reader schemas: a message must carry
 * the fingerprint of exactly the schema it is decoded with. Does not talk
 * to a schema registry. A loaded struct schema is read-only and may be
 * used from any thread; the functions keep no other state.
 */
#include "schemas/schema.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/json_fault.h"
#include "common/utf8.h"

#define SOE_MARKER_0 0xC3 /* Avro single-object encoding, version 1 */
#define SOE_MARKER_1 0x01
#define SOE_MARKER_SIZE 2
#define SOE_FINGERPRINT_SIZE 8 /* little-endian CRC-64-AVRO */
#define AVRO_FLOAT_SIZE 4      /* bytes of a float on the wire */
#define AVRO_DOUBLE_SIZE 8     /* bytes of a double on the wire */
#define CRC64_TABLE_SIZE 256   /* one entry per byte value */
#define SCHEMA_READ_CHUNK 4096 /* bytes per fread() of an .avsc */
#define SCHEMA_MESSAGE_MAX 160 /* bytes of one error's explanation */
#define SCHEMA_NAME_SHOWN_MAX 128 /* bytes of a type name quoted back */

/* Appends a string literal without counting its length by hand. */
#define APPEND_LITERAL(b, text) buf_append((b), (text), sizeof(text) - 1)
#define CRC64_AVRO_EMPTY UINT64_C(0xc15d213aa4d7a795) /* from the spec */
#define VARINT_MAX_BYTES 10 /* ceil(64 / 7): a longer varint is corrupt */
#define SCHEMA_MAX_FILE_BYTES (1u << 20) /* an .avsc is a few KiB at most */

/* Schema nodes (records, fields, unions, links, collections) nested
 * while walking one message. avro-c reads recursively, so a recursive
 * schema and a hostile message could otherwise exhaust the stack;
 * riffle's own schemas go four deep at most. */
#define SCHEMA_MAX_DEPTH 64

/* Array and map items whose encoding takes no bytes (null, empty records)
 * cost nothing on the wire but one allocation each in avro-c, so a dozen
 * bytes could ask for 2^63 of them. Cap them per message. */
#define SCHEMA_MAX_EMPTY_ITEMS 65536

#define INT32_LIMIT 2147483648.0          /* 2^31 */
#define INT64_LIMIT 9223372036854775808.0 /* 2^63 */

struct schema_field {
    const char *name; /* borrowed from the avro-c schema */
    enum schema_field_type type;
    int nullable;
    int null_branch; /* union index of null when nullable, else -1 */
};

struct schema {
    avro_schema_t avro;
    avro_value_iface_t *iface; /* generic class, one per schema */
    char *name;                /* full name of the top-level record */
    struct buf canonical;
    uint64_t fingerprint;
    size_t field_count;
    struct schema_field *fields;
    int flat; /* every field fits the flat codec and struct event */
};

/* Messages name the field and the offset, never the value read there:
 * a field's value may be personal. Framing (lengths, counts, branch
 * indexes, markers, fingerprints) is quoted, since it says nothing about
 * what a field holds. */
#define CURSOR_SUBJECT_MAX 64 /* "an enum index": what failed, for messages */

/* Read position in one message, with what to name in error messages. */
struct cursor {
    const unsigned char *data;
    size_t len;
    size_t pos;        /* offset from the start of the message */
    const char *field; /* top-level or nested field being read, or NULL */
    size_t empty_items;
    char *errstr;
    size_t errstr_size;
};

/* ---- CRC-64-AVRO ---------------------------------------------------- */

/* Slicing by eight (table k advances a byte's CRC by k more zero bytes),
 * so long inputs cost one step per 8 bytes instead of per byte: model
 * snapshots of hundreds of MiB are checksummed on every write and read,
 * and the byte-wise loop was most of their encoding time. */
#define CRC64_SLICES 8

static uint64_t crc64_table[CRC64_SLICES][CRC64_TABLE_SIZE];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init_table(void)
{
    int i, j, k;

    for (i = 0; i < CRC64_TABLE_SIZE; i++) {
        uint64_t fp = (uint64_t)i;

        for (j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
        crc64_table[0][i] = fp;
    }
    for (k = 1; k < CRC64_SLICES; k++)
        for (i = 0; i < CRC64_TABLE_SIZE; i++)
            crc64_table[k][i] = (crc64_table[k - 1][i] >> 8) ^
                                crc64_table[0][crc64_table[k - 1][i] & 0xff];
}

/* The eight bytes at p as a little-endian word, in one load: gcc -O2
 * left a loop of eight byte loads and shifts, which made the CRC of a
 * snapshot's weights (and of train's weights digest) ten instructions
 * a byte. */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* A 64x64 matrix over GF(2), column j the image of bit j. */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;

    for (; vec; vec >>= 1, mat++)
        if (vec & 1)
            sum ^= *mat;
    return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
    int j;

    for (j = 0; j < 64; j++)
        square[j] = gf2_times(mat, mat[j]);
}

/* The register after len_b zero bytes is a linear map of the register
 * before them, so crc(A B) = zeros_{|B|}(crc(A) ^ EMPTY) ^ crc(B); the
 * map for |B| bytes is built by squaring the one-bit map (as zlib's
 * crc32_combine does), in about 64 log2(|B|) steps. */
uint64_t schema_crc64_avro_combine(uint64_t crc_a, uint64_t crc_b,
                                   size_t len_b)
{
    uint64_t odd[64], even[64], x = crc_a ^ CRC64_AVRO_EMPTY;
    int j;

    if (len_b == 0)
        return crc_a;
    odd[0] = CRC64_AVRO_EMPTY; /* one zero bit: the polynomial is EMPTY */
    for (j = 1; j < 64; j++)
        odd[j] = (uint64_t)1 << (j - 1);
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four */
    do {
        gf2_square(even, odd); /* a zero byte on the first round */
        if (len_b & 1)
            x = gf2_times(even, x);
        len_b >>= 1;
        if (len_b == 0)
            break;
        gf2_square(odd, even);
        if (len_b & 1)
            x = gf2_times(odd, x);
        len_b >>= 1;
    } while (len_b != 0);
    return x ^ crc_b;
}

uint64_t schema_crc64_avro(const void *data, size_t len)
{
    return schema_crc64_avro_update(CRC64_AVRO_EMPTY, data, len);
}

uint64_t schema_crc64_avro_update(uint64_t fp, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;

    (void)pthread_once(&crc64_once, crc64_init_table); /* cannot fail */

    for (; i + CRC64_SLICES <= len; i += CRC64_SLICES) {
        fp ^= load_le64(p + i);
        fp = crc64_table[7][fp & 0xff] ^ crc64_table[6][(fp >> 8) & 0xff] ^
             crc64_table[5][(fp >> 16) & 0xff] ^
             crc64_table[4][(fp >> 24) & 0xff] ^
             crc64_table[3][(fp >> 32) & 0xff] ^
             crc64_table[2][(fp >> 40) & 0xff] ^
             crc64_table[1][(fp >> 48) & 0xff] ^ crc64_table[0][fp >> 56];
    }
    for (; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[0][(fp ^ p[i]) & 0xff];
    return fp;
}

/* ---- Parsing Canonical Form ------------------------------------------ */

/* Named types already written in full; later uses are written by name. */
struct canon_names {
    char **names;
    size_t count;
    size_t cap;
};

static char *full_name(avro_schema_t s)
{
    const char *ns = avro_schema_namespace(s);
    const char *name = avro_schema_name(s);
    struct buf b = {0};

    if (ns && *ns)
        (void)buf_printf(&b, "%s.%s", ns, name); /* NULL data on failure */
    else
        (void)buf_printf(&b, "%s", name);
    return b.data;
}

/* "record", "enum", "fixed", "array", ... : avro_schema_type_name()
 * gives a named type's own name instead, which is no use in messages. */
static const char *type_kind(avro_schema_t s)
{
    if (is_avro_record(s))
        return "record";
    if (is_avro_enum(s))
        return "enum";
    if (is_avro_fixed(s))
        return "fixed";
    return avro_schema_type_name(s);
}

static int canon_names_add(struct canon_names *seen, const char *name)
{
    char *copy;

    if (seen->count == seen->cap) {
        size_t cap = seen->cap ? seen->cap * 2 : 8;
        char **names = realloc(seen->names, cap * sizeof(*names));

        if (!names)
            return RIFFLE_ERR_NOMEM;
        seen->names = names;
        seen->cap = cap;
    }

    copy = strdup(name);
    if (!copy)
        return RIFFLE_ERR_NOMEM;
    seen->names[seen->count++] = copy;
    return 0;
}

static int canon_names_have(const struct canon_names *seen, const char *name)
{
    size_t i;

    for (i = 0; i < seen->count; i++) {
        if (strcmp(seen->names[i], name) == 0)
            return 1;
    }
    return 0;
}

static void canon_names_free(struct canon_names *seen)
{
    size_t i;

    for (i = 0; i < seen->count; i++)
        free(seen->names[i]);
    free(seen->names);
}

static int canon_write(struct buf *b, avro_schema_t s,
                       struct canon_names *seen);

static int canon_write_record_body(struct buf *b, avro_schema_t s,
                                   struct canon_names *seen)
{
    size_t i, n = avro_schema_record_size(s);
    int err = APPEND_LITERAL(b, ",\"fields\":[");

    for (i = 0; err == 0 && i < n; i++) {
        err = i ? APPEND_LITERAL(b, ",{\"name\":")
                : APPEND_LITERAL(b, "{\"name\":");
        if (err == 0)
            err = buf_append_json_string(
                b, avro_schema_record_field_name(s, (int)i));
        if (err == 0)
            err = APPEND_LITERAL(b, ",\"type\":");
        if (err == 0)
            err = canon_write(
                b, avro_schema_record_field_get_by_index(s, (int)i), seen);
        if (err == 0)
            err = APPEND_LITERAL(b, "}");
    }
    return err ? err : APPEND_LITERAL(b, "]");
}

static int canon_write_enum_body(struct buf *b, avro_schema_t s)
{
    int i, n = avro_schema_enum_number_of_symbols(s);
    int err = APPEND_LITERAL(b, ",\"symbols\":[");

    for (i = 0; err == 0 && i < n; i++) {
        if (i > 0)
            err = APPEND_LITERAL(b, ",");
        if (err == 0)
            err = buf_append_json_string(b, avro_schema_enum_get(s, i));
    }
    return err ? err : APPEND_LITERAL(b, "]");
}

/* Records, enums and fixed: in full the first time, by name afterwards
 * ([FULLNAMES] and the "first occurrence" rule of the specification). */
static int canon_write_named(struct buf *b, avro_schema_t s,
                             struct canon_names *seen)
{
    char *name = full_name(s);
    int err;

    if (!name)
        return RIFFLE_ERR_NOMEM;

    if (canon_names_have(seen, name)) {
        err = buf_append_json_string(b, name);
        goto out;
    }

    err = canon_names_add(seen, name);
    if (err == 0)
        err = APPEND_LITERAL(b, "{\"name\":");
    if (err == 0)
        err = buf_append_json_string(b, name);
    if (err != 0)
        goto out;

    err = buf_printf(b, ",\"type\":\"%s\"", type_kind(s));
    if (err != 0)
        goto out;

    if (is_avro_record(s))
        err = canon_write_record_body(b, s, seen);
    else if (is_avro_enum(s))
        err = canon_write_enum_body(b, s);
    else
        err = buf_printf(b, ",\"size\":%" PRId64, avro_schema_fixed_size(s));
    if (err == 0)
        err = APPEND_LITERAL(b, "}");

out:
    free(name);
    return err;
}

static int canon_write_union(struct buf *b, avro_schema_t s,
                             struct canon_names *seen)
{
    size_t i, n = avro_schema_union_size(s);
    int err = APPEND_LITERAL(b, "[");

    for (i = 0; err == 0 && i < n; i++) {
        if (i > 0)
            err = APPEND_LITERAL(b, ",");
        if (err == 0)
            err = canon_write(b, avro_schema_union_branch(s, (int)i), seen);
    }
    return err ? err : APPEND_LITERAL(b, "]");
}

static int canon_write(struct buf *b, avro_schema_t s,
                       struct canon_names *seen)
{
    int err;

    switch (avro_typeof(s)) {
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
    case AVRO_BOOLEAN:
    case AVRO_NULL:
        return buf_printf(b, "\"%s\"", avro_schema_type_name(s));
    case AVRO_RECORD:
    case AVRO_ENUM:
    case AVRO_FIXED:
        return canon_write_named(b, s, seen);
    case AVRO_ARRAY:
        err = APPEND_LITERAL(b, "{\"type\":\"array\",\"items\":");
        if (err == 0)
            err = canon_write(b, avro_schema_array_items(s), seen);
        return err ? err : APPEND_LITERAL(b, "}");
    case AVRO_MAP:
        err = APPEND_LITERAL(b, "{\"type\":\"map\",\"values\":");
        if (err == 0)
            err = canon_write(b, avro_schema_map_values(s), seen);
        return err ? err : APPEND_LITERAL(b, "}");
    case AVRO_UNION:
        return canon_write_union(b, s, seen);
    case AVRO_LINK:
        /* avro-c makes every by-name reference a link, and a reference
         * always follows the definition, so the target is already out. */
        return canon_write_named(b, avro_schema_link_target(s), seen);
    }
    return RIFFLE_ERR_SCHEMA;
}

/* ---- Loading --------------------------------------------------------- */

static enum schema_field_type primitive_field_type(avro_schema_t s)
{
    switch (avro_typeof(s)) {
    case AVRO_STRING:
        return SCHEMA_FIELD_STRING;
    case AVRO_DOUBLE:
        return SCHEMA_FIELD_DOUBLE;
    case AVRO_FLOAT:
        return SCHEMA_FIELD_FLOAT;
    case AVRO_INT64:
        return SCHEMA_FIELD_LONG;
    case AVRO_INT32:
        return SCHEMA_FIELD_INT;
    case AVRO_BOOLEAN:
        return SCHEMA_FIELD_BOOLEAN;
    default:
        return SCHEMA_FIELD_OTHER;
    }
}

/* A field is flat when it is a primitive, or a union of exactly null and
 * one primitive in either order. Any union holding null is nullable. */
static void classify_field(avro_schema_t s, struct schema_field *f)
{
    size_t i, n;

    f->type = SCHEMA_FIELD_OTHER;
    f->nullable = 0;
    f->null_branch = -1;

    if (!is_avro_union(s)) {
        f->type = primitive_field_type(s);
        return;
    }

    n = avro_schema_union_size(s);
    for (i = 0; i < n; i++) {
        if (is_avro_null(avro_schema_union_branch(s, (int)i))) {
            f->nullable = 1;
            f->null_branch = (int)i;
        }
    }
    if (n == 2 && f->nullable)
        f->type = primitive_field_type(
            avro_schema_union_branch(s, 1 - f->null_branch));
}

static int schema_build_fields(struct schema *schema)
{
    size_t i, n = avro_schema_record_size(schema->avro);

    schema->fields = calloc(n ? n : 1, sizeof(schema->fields[0]));
    if (!schema->fields)
        return RIFFLE_ERR_NOMEM;
    schema->field_count = n;
    schema->flat = n <= EVENT_MAX_FIELDS;

    for (i = 0; i < n; i++) {
        struct schema_field *f = &schema->fields[i];

        f->name = avro_schema_record_field_name(schema->avro, (int)i);
        classify_field(
            avro_schema_record_field_get_by_index(schema->avro, (int)i), f);
        if (f->type == SCHEMA_FIELD_OTHER)
            schema->flat = 0;
    }
    return 0;
}

static int schema_build_canonical(struct schema *schema)
{
    struct canon_names seen = {0};
    int err = canon_write(&schema->canonical, schema->avro, &seen);

    canon_names_free(&seen);
    if (err != 0)
        return err;

    schema->fingerprint =
        schema_crc64_avro(schema->canonical.data, schema->canonical.len);
    return 0;
}

/* avro-c's reason for refusing a schema that is JSON: "Unknown Avro
 * \"type\": X" quotes X only when X reads as a (full) name, a typo such
 * as "strng"; else it may be a value of a data file given as the schema,
 * and the reason says what kind of word it was instead. */
static void avro_parse_error(const char *origin, char *errstr,
                             size_t errstr_size)
{
    static const char unknown[] = "Unknown Avro \"type\": ";
    const char *why = avro_strerror();

    if (strncmp(why, unknown, sizeof(unknown) - 1) == 0 &&
        !json_name_like(why + sizeof(unknown) - 1, SCHEMA_NAME_SHOWN_MAX, 1))
        snprintf(errstr, errstr_size, "%s: Unknown Avro \"type\": a text "
                 "that is not a type name (not quoted: the file may hold "
                 "data rather than a schema)", origin);
    else
        snprintf(errstr, errstr_size, "%s: %s", origin, why);
}

int schema_load_json(const char *json, size_t len, const char *origin,
                     struct schema **out, char *errstr, size_t errstr_size)
{
    avro_schema_t avro;
    struct schema *schema;
    int err;

    if (avro_schema_from_json_length(json, len, &avro) != 0) {
        json_error_t where;
        json_t *doc = json_loadb(json, len, 0, &where);

        /* avro-c drops jansson's line and column: parse again for them,
         * so a typo in a long .avsc can be found. Neither jansson's text
         * nor a type name that is no name is quoted: a data file given
         * as the schema holds personal values. */
        if (!doc)
            snprintf(errstr, errstr_size, "%s:%d:%d: not JSON: %s", origin,
                     where.line, where.column, json_fault(&where));
        else
            avro_parse_error(origin, errstr, errstr_size);
        json_decref(doc);
        return RIFFLE_ERR_SCHEMA;
    }
    if (!is_avro_record(avro)) {
        snprintf(errstr, errstr_size, "%s: top-level type is %s, "
                 "not a record", origin, type_kind(avro));
        avro_schema_decref(avro);
        return RIFFLE_ERR_SCHEMA;
    }

    schema = calloc(1, sizeof(*schema));
    if (!schema) {
        avro_schema_decref(avro);
        snprintf(errstr, errstr_size, "%s: out of memory", origin);
        return RIFFLE_ERR_NOMEM;
    }
    schema->avro = avro; /* schema_destroy() releases it from here on */

    schema->name = full_name(avro);
    err = schema->name ? schema_build_fields(schema) : RIFFLE_ERR_NOMEM;
    if (err == 0)
        err = schema_build_canonical(schema);
    if (err != 0) {
        snprintf(errstr, errstr_size, "%s: %s", origin, riffle_err_str(err));
        goto fail;
    }

    schema->iface = avro_generic_class_from_schema(avro);
    if (!schema->iface) {
        snprintf(errstr, errstr_size, "%s: %s", origin, avro_strerror());
        err = RIFFLE_ERR_SCHEMA;
        goto fail;
    }

    *out = schema;
    return 0;

fail:
    schema_destroy(schema);
    return err;
}

int schema_load_file(const char *path, struct schema **out, char *errstr,
                     size_t errstr_size)
{
    struct buf text = {0};
    char chunk[SCHEMA_READ_CHUNK];
    FILE *f;
    size_t n;
    int err = 0;

    f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return RIFFLE_ERR_IO;
    }

    for (;;) {
        n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break; /* end of file or an error: ferror() tells below */
        if (text.len + n > SCHEMA_MAX_FILE_BYTES) {
            snprintf(errstr, errstr_size, "%s: larger than %u bytes", path,
                     SCHEMA_MAX_FILE_BYTES);
            err = RIFFLE_ERR_SCHEMA;
            goto out;
        }
        if (buf_append(&text, chunk, n) != 0) {
            snprintf(errstr, errstr_size, "%s: out of memory", path);
            err = RIFFLE_ERR_NOMEM;
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        err = RIFFLE_ERR_IO;
        goto out;
    }

    err = schema_load_json(text.data ? text.data : "", text.len, path, out,
                           errstr, errstr_size);

out:
    (void)fclose(f); /* read-only: nothing is lost if close fails */
    buf_free(&text);
    return err;
}

void schema_destroy(struct schema *schema)
{
    if (!schema)
        return;
    if (schema->iface)
        avro_value_iface_decref(schema->iface);
    avro_schema_decref(schema->avro);
    buf_free(&schema->canonical);
    free(schema->fields);
    free(schema->name);
    free(schema);
}

/* ---- Accessors ------------------------------------------------------- */

avro_schema_t schema_avro(const struct schema *schema)
{
    return schema->avro;
}

const char *schema_name(const struct schema *schema)
{
    return schema->name;
}

const char *schema_canonical_form(const struct schema *schema)
{
    return schema->canonical.data;
}

uint64_t schema_fingerprint(const struct schema *schema)
{
    return schema->fingerprint;
}

size_t schema_field_count(const struct schema *schema)
{
    return schema->field_count;
}

const char *schema_field_name(const struct schema *schema, size_t i)
{
    assert(i < schema->field_count);
    return schema->fields[i].name;
}

enum schema_field_type schema_field_type(const struct schema *schema,
                                         size_t i)
{
    assert(i < schema->field_count);
    return schema->fields[i].type;
}

int schema_field_nullable(const struct schema *schema, size_t i)
{
    assert(i < schema->field_count);
    return schema->fields[i].nullable;
}

int schema_field_index(const struct schema *schema, const char *name)
{
    size_t i;

    for (i = 0; i < schema->field_count; i++) {
        if (strcmp(schema->fields[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int schema_is_flat(const struct schema *schema)
{
    return schema->flat;
}

static const char *field_type_name(enum schema_field_type type)
{
    switch (type) {
    case SCHEMA_FIELD_STRING:
        return "string";
    case SCHEMA_FIELD_DOUBLE:
        return "double";
    case SCHEMA_FIELD_FLOAT:
        return "float";
    case SCHEMA_FIELD_LONG:
        return "long";
    case SCHEMA_FIELD_INT:
        return "int";
    case SCHEMA_FIELD_BOOLEAN:
        return "boolean";
    case SCHEMA_FIELD_OTHER:
        break;
    }
    return "non-primitive";
}

/* ---- Wire primitives ------------------------------------------------- */

#define UTF8_HIGH_BITS 0x8080808080808080ull /* any non-ASCII byte of 8 */

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF,
 * so every string riffle writes or accepts is valid Avro. */
size_t schema_find_bad_utf8(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    for (;;) {
        uint64_t word;
        size_t n;

        /* ASCII eight bytes at a time: `riffle train` checks every CSV
         * record here, and byte by byte that was 6% of its instructions
         * on Adult. */
        while (len - i >= sizeof(word)) {
            memcpy(&word, s + i, sizeof(word));
            if (word & UTF8_HIGH_BITS)
                break;
            i += sizeof(word);
        }
        while (i < len && s[i] < 0x80)
            i++;
        if (i == len)
            return len;

        n = utf8_char_length(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
}

size_t schema_repair_utf8(char *text, size_t len)
{
    size_t i = 0, bad, replaced = 0;

    while ((bad = i + schema_find_bad_utf8(text + i, len - i)) < len) {
        text[bad] = '?';
        replaced++;
        i = bad + 1;
    }
    return replaced;
}

static int utf8_valid(const unsigned char *s, size_t len)
{
    return schema_find_bad_utf8((const char *)s, len) == len;
}

static int put_long(struct buf *out, int64_t v)
{
    unsigned char bytes[VARINT_MAX_BYTES];
    uint64_t zz;
    size_t n = 0;

    /* Zig-zag without signed overflow: -(v + 1) fits for every v < 0. */
    zz = v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1;
    while (zz > 0x7F) {
        bytes[n++] = (unsigned char)((zz & 0x7F) | 0x80);
        zz >>= 7;
    }
    bytes[n++] = (unsigned char)zz;
    return buf_append(out, bytes, n);
}

static int put_le(struct buf *out, uint64_t bits, size_t size)
{
    unsigned char bytes[sizeof(uint64_t)];
    size_t i;

    assert(size <= sizeof(bytes));
    for (i = 0; i < size; i++)
        bytes[i] = (unsigned char)(bits >> (8 * i));
    return buf_append(out, bytes, size);
}

static int put_double(struct buf *out, double d)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof(bits));
    return put_le(out, bits, AVRO_DOUBLE_SIZE);
}

static int put_float(struct buf *out, float f)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof(bits));
    return put_le(out, bits, AVRO_FLOAT_SIZE);
}

static int put_header(struct buf *out, uint64_t fingerprint)
{
    unsigned char marker[SOE_MARKER_SIZE] = {SOE_MARKER_0, SOE_MARKER_1};
    int err = buf_append(out, marker, sizeof(marker));

    return err ? err : put_le(out, fingerprint, SOE_FINGERPRINT_SIZE);
}

static int cursor_fail(struct cursor *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cursor_fail(struct cursor *c, size_t at, const char *fmt, ...)
{
    char what[SCHEMA_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    if (c->field)
        snprintf(c->errstr, c->errstr_size, "offset %zu: %s in field '%s'",
                 at, what, c->field);
    else
        snprintf(c->errstr, c->errstr_size, "offset %zu: %s", at, what);
    return RIFFLE_ERR_DECODE;
}

/* For "<subject> in field 'x' <predicate>", when the subject reads
 * better with the field's name right after it. */
static int cursor_fail_in_field(struct cursor *c, size_t at,
                                const char *subject, const char *predicate)
{
    if (c->field)
        snprintf(c->errstr, c->errstr_size, "offset %zu: %s in field '%s' %s",
                 at, subject, c->field, predicate);
    else
        snprintf(c->errstr, c->errstr_size, "offset %zu: %s %s", at,
                 subject, predicate);
    return RIFFLE_ERR_DECODE;
}

static size_t cursor_left(const struct cursor *c)
{
    return c->len - c->pos;
}

/* A zig-zag varint of at most ten bytes whose value fits 64 bits. */
static int cursor_read_long(struct cursor *c, const char *what, int64_t *out)
{
    size_t start = c->pos;
    uint64_t raw = 0;
    int i;

    for (i = 0; i < VARINT_MAX_BYTES; i++) {
        unsigned char b;

        if (c->pos >= c->len)
            return cursor_fail(c, start, "truncated %s", what);
        b = c->data[c->pos++];
        if (i == VARINT_MAX_BYTES - 1 && (b & 0x80))
            return cursor_fail(c, start, "%s varint longer than %d bytes",
                               what, VARINT_MAX_BYTES);
        if (i == VARINT_MAX_BYTES - 1 && b > 1)
            return cursor_fail(c, start, "%s overflows 64 bits", what);
        raw |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80))
            break;
    }

    *out = (raw & 1) ? -(int64_t)(raw >> 1) - 1 : (int64_t)(raw >> 1);
    return 0;
}

static int cursor_read_int(struct cursor *c, const char *what, int64_t *out)
{
    size_t start = c->pos;
    char subject[CURSOR_SUBJECT_MAX];
    int err = cursor_read_long(c, what, out);

    if (err == 0 && (*out < INT32_MIN || *out > INT32_MAX)) {
        snprintf(subject, sizeof(subject), "an %s", what);
        return cursor_fail_in_field(c, start, subject,
                                    "is out of 32-bit range");
    }
    return err;
}

static int cursor_need(struct cursor *c, size_t n, const char *what)
{
    if (cursor_left(c) < n)
        return cursor_fail(c, c->pos, "truncated %s", what);
    return 0;
}

static int cursor_skip(struct cursor *c, size_t n, const char *what)
{
    int err = cursor_need(c, n, what);

    if (err == 0)
        c->pos += n;
    return err;
}

static uint64_t cursor_read_le(struct cursor *c, size_t size)
{
    uint64_t bits = 0;
    size_t i;

    assert(cursor_left(c) >= size);
    for (i = 0; i < size; i++)
        bits |= (uint64_t)c->data[c->pos + i] << (8 * i);
    c->pos += size;
    return bits;
}

/* A length-prefixed string or bytes value; *start and *n give the bytes. */
static int cursor_read_bytes(struct cursor *c, const char *what,
                             size_t *start, size_t *n)
{
    size_t at = c->pos;
    int64_t len;
    int err = cursor_read_long(c, what, &len);

    if (err != 0)
        return err;
    if (len < 0)
        return cursor_fail(c, at, "negative %s length %" PRId64, what, len);
    if ((uint64_t)len > cursor_left(c))
        return cursor_fail(c, at, "truncated %s", what);

    *start = c->pos;
    *n = (size_t)len;
    c->pos += (size_t)len;
    return 0;
}

static int cursor_read_boolean(struct cursor *c, int *out)
{
    if (cursor_left(c) < 1)
        return cursor_fail(c, c->pos, "truncated boolean");
    if (c->data[c->pos] > 1)
        return cursor_fail_in_field(c, c->pos, "a boolean",
                                    "is neither 0 nor 1");
    *out = c->data[c->pos++];
    return 0;
}

static int cursor_read_branch(struct cursor *c, size_t branches,
                              int64_t *out)
{
    size_t at = c->pos;
    int err = cursor_read_long(c, "union branch", out);

    if (err == 0 && (*out < 0 || (uint64_t)*out >= branches))
        return cursor_fail(c, at, "bad union branch %" PRId64, *out);
    return err;
}

/* ---- Header ---------------------------------------------------------- */

int schema_peek_fingerprint(const void *data, size_t len, uint64_t *out,
                            char *errstr, size_t errstr_size)
{
    struct cursor c = {data, len, 0, NULL, 0, errstr, errstr_size};

    if (len < SOE_MARKER_SIZE)
        return cursor_fail(&c, 0, "message of %zu bytes is shorter than "
                           "the %d-byte header", len, SCHEMA_SOE_HEADER_SIZE);
    /* The bytes found are not quoted: they are the refused message's
     * own (the first two letters of a text), and this reason goes to
     * the dead letter in clear while its payload may be sealed. */
    if (c.data[0] != SOE_MARKER_0 || c.data[1] != SOE_MARKER_1)
        return cursor_fail(&c, 0, "not a single-object message (it does "
                           "not begin with the marker c3 01)");
    if (len < SCHEMA_SOE_HEADER_SIZE)
        return cursor_fail(&c, SOE_MARKER_SIZE, "truncated fingerprint "
                           "(message of %zu bytes)", len);

    c.pos = SOE_MARKER_SIZE;
    *out = cursor_read_le(&c, SOE_FINGERPRINT_SIZE);
    return 0;
}

static int check_header(const struct schema *schema, const void *data,
                        size_t len, char *errstr, size_t errstr_size)
{
    uint64_t fp;
    int err = schema_peek_fingerprint(data, len, &fp, errstr, errstr_size);

    if (err != 0)
        return err;
    if (fp != schema->fingerprint) {
        snprintf(errstr, errstr_size, "fingerprint 0x%016" PRIx64
                 " does not match schema %s (0x%016" PRIx64 ")", fp,
                 schema->name, schema->fingerprint);
        return RIFFLE_ERR_DECODE;
    }
    return 0;
}

static int check_flat(const struct schema *schema, char *errstr,
                      size_t errstr_size)
{
    size_t i;

    if (schema->flat)
        return 0;
    for (i = 0; i < schema->field_count; i++) {
        if (schema->fields[i].type == SCHEMA_FIELD_OTHER)
            break;
    }
    if (i < schema->field_count)
        snprintf(errstr, errstr_size, "schema %s is not flat: field '%s' "
                 "needs generic values", schema->name,
                 schema->fields[i].name);
    else
        snprintf(errstr, errstr_size, "schema %s has more than %d fields",
                 schema->name, EVENT_MAX_FIELDS);
    return RIFFLE_ERR_SCHEMA;
}

/* ---- Flat event encoder ---------------------------------------------- */

static int encode_fail(char *errstr, size_t errstr_size,
                       const struct schema_field *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int encode_fail(char *errstr, size_t errstr_size,
                       const struct schema_field *f, const char *fmt, ...)
{
    char what[SCHEMA_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    snprintf(errstr, errstr_size, "field '%s': %s", f->name, what);
    return RIFFLE_ERR_SCHEMA;
}

static int encode_number(const struct schema_field *f, double x,
                         struct buf *out, char *errstr, size_t errstr_size)
{
    switch (f->type) {
    case SCHEMA_FIELD_DOUBLE:
        return put_double(out, x);
    case SCHEMA_FIELD_FLOAT:
        if (isfinite(x) && fabs(x) > FLT_MAX)
            return encode_fail(errstr, errstr_size, f,
                               "value is out of float range");
        return put_float(out, (float)x);
    case SCHEMA_FIELD_LONG:
        /* NaN fails x == trunc(x); infinities fail the range check. */
        if (x != trunc(x) || x < -INT64_LIMIT || x >= INT64_LIMIT)
            return encode_fail(errstr, errstr_size, f,
                               "value is not a whole number in long range");
        return put_long(out, (int64_t)x);
    case SCHEMA_FIELD_INT:
        if (x != trunc(x) || x < -INT32_LIMIT || x >= INT32_LIMIT)
            return encode_fail(errstr, errstr_size, f,
                               "value is not a whole number in int range");
        return put_long(out, (int64_t)x);
    case SCHEMA_FIELD_BOOLEAN:
        if (x != 0.0 && x != 1.0)
            return encode_fail(errstr, errstr_size, f,
                               "value is not a boolean (0 or 1)");
        return buf_append(out, x == 1.0 ? "\1" : "\0", 1);
    case SCHEMA_FIELD_STRING:
        return encode_fail(errstr, errstr_size, f,
                           "number in a string field");
    case SCHEMA_FIELD_OTHER:
        break;
    }
    return encode_fail(errstr, errstr_size, f, "not a flat field");
}

static int encode_field(const struct schema_field *f, const struct event *ev,
                        size_t i, struct buf *out, char *errstr,
                        size_t errstr_size)
{
    const struct value *v = &ev->values[i];
    int err = 0;

    if (v->kind == VALUE_NULL) {
        if (!f->nullable)
            return encode_fail(errstr, errstr_size, f,
                               "null in a non-nullable %s field",
                               field_type_name(f->type));
        return put_long(out, f->null_branch);
    }

    if (f->nullable)
        err = put_long(out, 1 - f->null_branch);
    if (err != 0)
        return err;

    if (v->kind == VALUE_NUMBER)
        return encode_number(f, v->number, out, errstr, errstr_size);

    if (f->type != SCHEMA_FIELD_STRING)
        return encode_fail(errstr, errstr_size, f, "string in a %s field",
                           field_type_name(f->type));
    if (!utf8_valid((const unsigned char *)event_string(ev, i), v->str_len))
        return encode_fail(errstr, errstr_size, f,
                           "string is not valid UTF-8");
    if (memchr(event_string(ev, i), '\0', v->str_len))
        return encode_fail(errstr, errstr_size, f,
                           "string contains a NUL byte");
    err = put_long(out, (int64_t)v->str_len);
    return err ? err : buf_append(out, event_string(ev, i), v->str_len);
}

int schema_encode_event(const struct schema *schema, const struct event *ev,
                        struct buf *out, char *errstr, size_t errstr_size)
{
    size_t start = out->len;
    size_t i;
    int err = check_flat(schema, errstr, errstr_size);

    if (err != 0)
        return err;
    if (ev->field_count != schema->field_count) {
        snprintf(errstr, errstr_size, "event has %zu fields, schema %s "
                 "has %zu", ev->field_count, schema->name,
                 schema->field_count);
        return RIFFLE_ERR_SCHEMA;
    }

    err = put_header(out, schema->fingerprint);
    for (i = 0; err == 0 && i < schema->field_count; i++)
        err = encode_field(&schema->fields[i], ev, i, out, errstr,
                           errstr_size);

    if (err != 0) {
        if (err == RIFFLE_ERR_NOMEM)
            snprintf(errstr, errstr_size, "out of memory");
        out->len = start; /* leave out as it was */
        if (out->data)
            out->data[start] = '\0';
    }
    return err;
}

/* ---- Direct writer of flat records ------------------------------------ */

int schema_write_header(const struct schema *schema, struct buf *out)
{
    assert(schema_is_flat(schema));
    return put_header(out, schema->fingerprint);
}

int schema_write_null(const struct schema *schema, size_t i, struct buf *out)
{
    const struct schema_field *f = &schema->fields[i];

    assert(i < schema->field_count);
    if (!f->nullable)
        return RIFFLE_ERR_SCHEMA;
    return put_long(out, f->null_branch);
}

/* The union branch of a present value, when the field is nullable. */
static int put_present(const struct schema_field *f, struct buf *out)
{
    return f->nullable ? put_long(out, 1 - f->null_branch) : 0;
}

int schema_write_long(const struct schema *schema, size_t i, int64_t v,
                      struct buf *out)
{
    const struct schema_field *f = &schema->fields[i];
    int err;

    assert(i < schema->field_count);
    if (f->type != SCHEMA_FIELD_LONG &&
        (f->type != SCHEMA_FIELD_INT || v < INT32_MIN || v > INT32_MAX))
        return RIFFLE_ERR_SCHEMA;
    err = put_present(f, out);
    return err ? err : put_long(out, v);
}

int schema_write_double(const struct schema *schema, size_t i, double v,
                        struct buf *out)
{
    const struct schema_field *f = &schema->fields[i];
    int err;

    assert(i < schema->field_count);
    if (f->type != SCHEMA_FIELD_DOUBLE)
        return RIFFLE_ERR_SCHEMA;
    err = put_present(f, out);
    return err ? err : put_double(out, v);
}

int schema_write_string(const struct schema *schema, size_t i,
                        const char *s, size_t len, struct buf *out)
{
    const struct schema_field *f = &schema->fields[i];
    int err;

    assert(i < schema->field_count);
    if (f->type != SCHEMA_FIELD_STRING ||
        !utf8_valid((const unsigned char *)s, len) || memchr(s, '\0', len))
        return RIFFLE_ERR_SCHEMA;
    err = put_present(f, out);
    if (!err)
        err = put_long(out, (int64_t)len);
    return err ? err : buf_append(out, s, len);
}

/* ---- Flat event decoder ---------------------------------------------- */

static int decode_string(struct cursor *c, struct event *ev, size_t i)
{
    size_t at = c->pos, start = 0, n = 0; /* set on success; gcc -O3 cannot see it */
    int err = cursor_read_bytes(c, "string", &start, &n);

    if (err != 0)
        return err;
    if (!utf8_valid(c->data + start, n))
        return cursor_fail(c, at, "string is not valid UTF-8");
    /* Valid UTF-8, but every later use of the value is C text. */
    if (memchr(c->data + start, '\0', n))
        return cursor_fail_in_field(c, at, "string", "contains a NUL byte");
    err = event_set_string(ev, i, (const char *)c->data + start, n);
    if (err == RIFFLE_ERR_TOO_BIG)
        return cursor_fail_in_field(c, at, "string",
                                    "takes the event's strings past 4 GiB");
    if (err != 0) {
        snprintf(c->errstr, c->errstr_size, "out of memory");
        return RIFFLE_ERR_NOMEM;
    }
    return 0;
}

static int decode_value(struct cursor *c, enum schema_field_type type,
                        struct event *ev, size_t i)
{
    int64_t l = 0;
    int b = 0, err = 0;

    switch (type) {
    case SCHEMA_FIELD_STRING:
        return decode_string(c, ev, i);
    case SCHEMA_FIELD_DOUBLE: {
        uint64_t bits;
        double d;

        err = cursor_need(c, AVRO_DOUBLE_SIZE, "double");
        if (err != 0)
            return err;
        bits = cursor_read_le(c, AVRO_DOUBLE_SIZE);
        memcpy(&d, &bits, sizeof(d));
        event_set_number(ev, i, d);
        return 0;
    }
    case SCHEMA_FIELD_FLOAT: {
        uint32_t bits;
        float f;

        err = cursor_need(c, AVRO_FLOAT_SIZE, "float");
        if (err != 0)
            return err;
        bits = (uint32_t)cursor_read_le(c, AVRO_FLOAT_SIZE);
        memcpy(&f, &bits, sizeof(f));
        event_set_number(ev, i, f);
        return 0;
    }
    case SCHEMA_FIELD_LONG:
        err = cursor_read_long(c, "long", &l);
        break;
    case SCHEMA_FIELD_INT:
        err = cursor_read_int(c, "int", &l);
        break;
    case SCHEMA_FIELD_BOOLEAN:
        err = cursor_read_boolean(c, &b);
        l = b;
        break;
    case SCHEMA_FIELD_OTHER:
        return cursor_fail(c, c->pos, "not a flat field");
    }
    if (err == 0)
        event_set_number(ev, i, (double)l); /* exact for |l| <= 2^53 */
    return err;
}

static int decode_field(struct cursor *c, const struct schema_field *f,
                        struct event *ev, size_t i)
{
    int64_t branch;
    int err;

    c->field = f->name;
    if (f->nullable) {
        err = cursor_read_branch(c, 2, &branch);
        if (err != 0)
            return err;
        if (branch == f->null_branch) {
            event_set_null(ev, i);
            return 0;
        }
    }
    return decode_value(c, f->type, ev, i);
}

int schema_decode_event(const struct schema *schema, const void *data,
                        size_t len, struct event *ev, char *errstr,
                        size_t errstr_size)
{
    struct cursor c = {data, len, SCHEMA_SOE_HEADER_SIZE, NULL, 0,
                       errstr, errstr_size};
    size_t i;
    int err = check_flat(schema, errstr, errstr_size);

    if (err == 0)
        err = check_header(schema, data, len, errstr, errstr_size);
    if (err != 0)
        return err;

    event_reset(ev, schema->field_count);
    for (i = 0; err == 0 && i < schema->field_count; i++)
        err = decode_field(&c, &schema->fields[i], ev, i);
    if (err != 0)
        return err;

    c.field = NULL;
    if (c.pos != len)
        return cursor_fail(&c, c.pos, "%zu trailing bytes after record",
                           len - c.pos);
    return 0;
}

/* ---- Generic values -------------------------------------------------- */

static size_t add_saturated(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The fewest bytes one value of s can take on the wire. Links count as 0:
 * they only appear below a union or collection, which count themselves,
 * and following them could recurse forever. */
static size_t min_encoded_size(avro_schema_t s, int depth)
{
    size_t i, n, sum = 0;

    if (depth > SCHEMA_MAX_DEPTH)
        return 0;

    switch (avro_typeof(s)) {
    case AVRO_NULL:
    case AVRO_LINK:
        return 0;
    case AVRO_FLOAT:
        return AVRO_FLOAT_SIZE;
    case AVRO_DOUBLE:
        return AVRO_DOUBLE_SIZE;
    case AVRO_FIXED:
        return (size_t)avro_schema_fixed_size(s);
    case AVRO_RECORD:
        n = avro_schema_record_size(s);
        for (i = 0; i < n; i++)
            sum = add_saturated(
                sum, min_encoded_size(
                         avro_schema_record_field_get_by_index(s, (int)i),
                         depth + 1));
        return sum;
    default:
        return 1; /* varints, lengths, branch indexes, block counts */
    }
}

static int skip_value(struct cursor *c, avro_schema_t s, int depth);

/* Array or map blocks: count (negative: count, then block byte size),
 * items, until a zero count. */
static int skip_blocks(struct cursor *c, avro_schema_t item, int is_map,
                       int depth)
{
    size_t min = min_encoded_size(item, 0) + (is_map ? 1 : 0);

    for (;;) {
        size_t at = c->pos, i;
        int64_t count, size;
        int err = cursor_read_long(c, "block count", &count);

        if (err != 0 || count == 0)
            return err;
        if (count == INT64_MIN)
            return cursor_fail(c, at, "bad block count %" PRId64, count);
        if (count < 0) {
            count = -count;
            err = cursor_read_long(c, "block size", &size);
            if (err != 0)
                return err;
            if (size < 0 || (uint64_t)size > cursor_left(c))
                return cursor_fail(c, at, "bad block size %" PRId64, size);
        }
        if (min > 0 && (uint64_t)count > cursor_left(c) / min)
            return cursor_fail(c, at, "block of %" PRId64 " items is "
                               "longer than the %zu bytes left", count,
                               cursor_left(c));
        if (min == 0) {
            if ((uint64_t)count > SCHEMA_MAX_EMPTY_ITEMS - c->empty_items)
                return cursor_fail(c, at, "more than %d empty items",
                                   SCHEMA_MAX_EMPTY_ITEMS);
            c->empty_items += (size_t)count;
        }

        for (i = 0; i < (size_t)count; i++) {
            size_t start, n;

            if (is_map) {
                err = cursor_read_bytes(c, "map key", &start, &n);
                if (err != 0)
                    return err;
            }
            err = skip_value(c, item, depth + 1);
            if (err != 0)
                return err;
        }
    }
}

static int skip_record(struct cursor *c, avro_schema_t s, int depth)
{
    const char *outer = c->field;
    size_t i, n = avro_schema_record_size(s);
    int err = 0;

    for (i = 0; err == 0 && i < n; i++) {
        c->field = avro_schema_record_field_name(s, (int)i);
        err = skip_value(c, avro_schema_record_field_get_by_index(s, (int)i),
                         depth + 1);
    }
    if (err == 0)
        c->field = outer; /* on error, keep naming the field that failed */
    return err;
}

/* Walks one value of s without building it, checking everything avro-c
 * would otherwise trust: lengths, branch and enum indexes, int ranges,
 * booleans, block counts and nesting depth. */
static int skip_value(struct cursor *c, avro_schema_t s, int depth)
{
    size_t at = c->pos, start, n;
    int64_t l;
    int b, err;

    if (depth > SCHEMA_MAX_DEPTH)
        return cursor_fail(c, at, "values nested deeper than %d",
                           SCHEMA_MAX_DEPTH);

    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        return cursor_read_boolean(c, &b);
    case AVRO_INT32:
        return cursor_read_int(c, "int", &l);
    case AVRO_INT64:
        return cursor_read_long(c, "long", &l);
    case AVRO_FLOAT:
        return cursor_skip(c, AVRO_FLOAT_SIZE, "float");
    case AVRO_DOUBLE:
        return cursor_skip(c, AVRO_DOUBLE_SIZE, "double");
    case AVRO_STRING:
        return cursor_read_bytes(c, "string", &start, &n);
    case AVRO_BYTES:
        return cursor_read_bytes(c, "bytes", &start, &n);
    case AVRO_FIXED:
        return cursor_skip(c, (size_t)avro_schema_fixed_size(s), "fixed");
    case AVRO_ENUM:
        err = cursor_read_int(c, "enum index", &l);
        if (err == 0 && (l < 0 || l >= avro_schema_enum_number_of_symbols(s)))
            return cursor_fail_in_field(c, at, "an enum index",
                                        "is out of range");
        return err;
    case AVRO_UNION:
        err = cursor_read_branch(c, avro_schema_union_size(s), &l);
        return err ? err
                   : skip_value(c, avro_schema_union_branch(s, (int)l),
                                depth + 1);
    case AVRO_ARRAY:
        return skip_blocks(c, avro_schema_array_items(s), 0, depth);
    case AVRO_MAP:
        return skip_blocks(c, avro_schema_map_values(s), 1, depth);
    case AVRO_RECORD:
        return skip_record(c, s, depth);
    case AVRO_LINK:
        return skip_value(c, avro_schema_link_target(s), depth + 1);
    }
    return cursor_fail(c, at, "unknown Avro type");
}

static int check_value_schema(const struct schema *schema,
                              avro_value_t *value, char *errstr,
                              size_t errstr_size)
{
    avro_schema_t vs = avro_value_get_schema(value);

    if (vs == schema->avro || (vs && avro_schema_equal(vs, schema->avro)))
        return 0;
    snprintf(errstr, errstr_size, "value is not of schema %s",
             schema->name);
    return RIFFLE_ERR_SCHEMA;
}

int schema_new_value(const struct schema *schema, avro_value_t *out)
{
    if (avro_generic_value_new(schema->iface, out) != 0)
        return RIFFLE_ERR_NOMEM;
    return 0;
}

int schema_write_value(const struct schema *schema, avro_value_t *value,
                       struct buf *out, char *errstr, size_t errstr_size)
{
    size_t start = out->len, size;
    avro_writer_t writer;
    int rc, err = check_value_schema(schema, value, errstr, errstr_size);

    if (err != 0)
        return err;
    if (avro_value_sizeof(value, &size) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", schema->name,
                 avro_strerror());
        return RIFFLE_ERR_SCHEMA;
    }
    if (buf_reserve(out, SCHEMA_SOE_HEADER_SIZE + size) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return RIFFLE_ERR_NOMEM;
    }

    (void)put_header(out, schema->fingerprint); /* cannot fail: reserved */
    writer = avro_writer_memory(out->data + out->len, (int64_t)size);
    if (!writer) {
        err = RIFFLE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    rc = avro_value_write(writer, value);
    avro_writer_free(writer);
    if (rc != 0) {
        err = RIFFLE_ERR_SCHEMA;
        snprintf(errstr, errstr_size, "%s: %s", schema->name,
                 avro_strerror());
        goto fail;
    }

    out->len += size;
    out->data[out->len] = '\0';
    return 0;

fail:
    out->len = start;
    out->data[start] = '\0';
    return err;
}

int schema_read_value(const struct schema *schema, const void *data,
                      size_t len, avro_value_t *value, char *errstr,
                      size_t errstr_size)
{
    struct cursor c = {data, len, SCHEMA_SOE_HEADER_SIZE, NULL, 0,
                       errstr, errstr_size};
    avro_reader_t reader;
    int rc, err = check_value_schema(schema, value, errstr, errstr_size);

    if (err == 0)
        err = check_header(schema, data, len, errstr, errstr_size);
    if (err == 0)
        err = skip_value(&c, schema->avro, 0);
    if (err != 0)
        return err;
    if (c.pos != len)
        return cursor_fail(&c, c.pos, "%zu trailing bytes after record",
                           len - c.pos);

    /* The walk above proved the body well-formed, so avro-c's reader
     * only ever sees lengths and counts the bytes can satisfy. */
    reader = avro_reader_memory((const char *)data + SCHEMA_SOE_HEADER_SIZE,
                                (int64_t)(len - SCHEMA_SOE_HEADER_SIZE));
    if (!reader) {
        snprintf(errstr, errstr_size, "out of memory");
        return RIFFLE_ERR_NOMEM;
    }
    rc = avro_value_read(reader, value);
    avro_reader_free(reader);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "offset %d: %s",
                 SCHEMA_SOE_HEADER_SIZE, avro_strerror());
        return RIFFLE_ERR_DECODE;
    }
    return 0;
}
