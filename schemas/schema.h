/*
 * schemas/schema.h - Avro schemas and riffle's wire format.
 *
 * Loads a .avsc file with avro-c, computes its Parsing Canonical Form and
 * CRC-64-AVRO fingerprint, and frames values with Avro single-object
 * encoding: the two marker bytes C3 01, the 8-byte little-endian
 * fingerprint, then the Avro binary body. Any Avro client holding the
 * .avsc can decode riffle's topics.
 *
 * Flat input records (see event.h) are encoded and decoded by a small
 * bounded decoder of our own, which never reads past the buffer and never
 * allocates from a length it has not checked against the bytes left.
 * Nested records (predictions, snapshots, dead letters) go through avro-c
 * generic values. A struct schema is immutable after loading and may be
 * shared between threads.
 */
#ifndef RIFFLE_SCHEMAS_SCHEMA_H
#define RIFFLE_SCHEMAS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "common/buf.h"
#include "schemas/event.h"

#define SCHEMA_SOE_HEADER_SIZE 10 /* marker (2) + fingerprint (8) bytes */

enum schema_field_type {
    SCHEMA_FIELD_STRING,
    SCHEMA_FIELD_DOUBLE,
    SCHEMA_FIELD_FLOAT,
    SCHEMA_FIELD_LONG,
    SCHEMA_FIELD_INT,
    SCHEMA_FIELD_BOOLEAN,
    SCHEMA_FIELD_OTHER, /* anything else: only via avro-c generic values */
};

struct schema;

/* Loads and parses a .avsc file. On error returns RIFFLE_ERR_IO or
 * RIFFLE_ERR_SCHEMA and writes "path: reason" into errstr. *out is
 * owned by the caller: free with schema_destroy(). */
int schema_load_file(const char *path, struct schema **out, char *errstr,
                     size_t errstr_size);

/* Same from JSON text; origin names the source in error messages. */
int schema_load_json(const char *json, size_t len, const char *origin,
                     struct schema **out, char *errstr, size_t errstr_size);

void schema_destroy(struct schema *schema); /* NULL-safe */

/* Borrowed avro-c schema; valid while the struct schema lives. */
avro_schema_t schema_avro(const struct schema *schema);

const char *schema_name(const struct schema *schema); /* full name */
const char *schema_canonical_form(const struct schema *schema);
uint64_t schema_fingerprint(const struct schema *schema);

/* Top-level record fields. Index is the Avro field position. */
size_t schema_field_count(const struct schema *schema);
const char *schema_field_name(const struct schema *schema, size_t i);
enum schema_field_type schema_field_type(const struct schema *schema,
                                         size_t i);
int schema_field_nullable(const struct schema *schema, size_t i);
/* Returns the field's index, or -1 when the record has no such field. */
int schema_field_index(const struct schema *schema, const char *name);

/* 1 when no field is SCHEMA_FIELD_OTHER and there are at most
 * EVENT_MAX_FIELDS of them, i.e. schema_encode_event() and
 * schema_decode_event() can be used; 0 otherwise (use generic values). */
int schema_is_flat(const struct schema *schema);

/* CRC-64-AVRO (Rabin) over len bytes, as the Avro specification defines
 * it; the fingerprint of the empty input is 0xc15d213aa4d7a795. */
uint64_t schema_crc64_avro(const void *data, size_t len);

/* Continues a CRC-64-AVRO: fp is the fingerprint of the bytes so far
 * (schema_crc64_avro(NULL, 0) for none), and the result is that of those
 * bytes followed by data, so input can be fed in pieces. */
uint64_t schema_crc64_avro_update(uint64_t fp, const void *data,
                                  size_t len);

/* The CRC-64-AVRO of A followed by B, from crc_a of A and crc_b of B
 * (each from schema_crc64_avro()) and B's length, without reading either:
 * a large block checksummed on its own need not be read again for the
 * checksum of a message that contains it. */
uint64_t schema_crc64_avro_combine(uint64_t crc_a, uint64_t crc_b,
                                   size_t len_b);

/* Reads the fingerprint of a single-object message. Returns 0, or
 * RIFFLE_ERR_DECODE with errstr set when the marker is wrong or the
 * message is shorter than the header. */
int schema_peek_fingerprint(const void *data, size_t len, uint64_t *out,
                            char *errstr, size_t errstr_size);

/* The offset of the first byte of text (len bytes) that does not begin
 * a strict UTF-8 sequence (no overlong forms, surrogates or code points
 * past U+10FFFF), or len when all of it is valid: what an Avro string
 * must be. Borrows text. Any thread. */
size_t schema_find_bad_utf8(const char *text, size_t len);

/* Replaces, in place, every byte of text (len bytes) that does not begin
 * a strict UTF-8 sequence (see schema_find_bad_utf8()) with '?', so that
 * the text can go into an Avro string: for explanations that quote input
 * or are cut to a bounded buffer, which may split a character. Returns
 * how many bytes were replaced. Any thread. */
size_t schema_repair_utf8(char *text, size_t len);

/* Appends header and body of a flat event to out. The event must have
 * schema_field_count() values whose kinds fit the field types (null only
 * in nullable fields; strings valid UTF-8 without a NUL byte). Returns 0,
 * RIFFLE_ERR_SCHEMA (errstr names the field, never its value; also when
 * the schema is not flat) or RIFFLE_ERR_NOMEM. On error out is left as it
 * was. */
int schema_encode_event(const struct schema *schema, const struct event *ev,
                        struct buf *out, char *errstr, size_t errstr_size);

/* A flat record written straight, field by field, for a hot record whose
 * fields the caller knows (a prediction per event): the bytes of
 * schema_encode_event() without filling an event first. Call
 * schema_write_header(), then one schema_write_*() per field of i = 0 to
 * schema_field_count() - 1, in that order. Each returns 0,
 * RIFFLE_ERR_NOMEM, or RIFFLE_ERR_SCHEMA with nothing said when the value
 * does not fit field i (a null in a non-nullable field, a long in a
 * double field, an int out of range, a string that is not valid UTF-8 or
 * holds a NUL byte): the caller then encodes the record through
 * schema_encode_event(), which explains. The schema must be flat; out
 * keeps whatever was appended. */
int schema_write_header(const struct schema *schema, struct buf *out);
int schema_write_null(const struct schema *schema, size_t i, struct buf *out);
int schema_write_long(const struct schema *schema, size_t i, int64_t v,
                      struct buf *out); /* a long or an int field */
int schema_write_double(const struct schema *schema, size_t i, double v,
                        struct buf *out);
int schema_write_string(const struct schema *schema, size_t i,
                        const char *s, size_t len, struct buf *out);

/* Decodes one single-object message of this schema into ev. Returns 0 or
 * RIFFLE_ERR_DECODE with errstr giving the byte offset and what was
 * expected there (wrong marker, other fingerprint, truncated value, bad
 * union branch, a string that is not UTF-8 or holds a NUL byte, trailing
 * bytes), naming the field but never its value. Never reads past len.
 * Also returns RIFFLE_ERR_SCHEMA when the schema is not flat and
 * RIFFLE_ERR_NOMEM when a string cannot be stored; after any error ev's
 * values are undefined. */
int schema_decode_event(const struct schema *schema, const void *data,
                        size_t len, struct event *ev, char *errstr,
                        size_t errstr_size);

/* A new generic avro-c value of this schema, for nested records. The
 * caller owns it and releases it with avro_value_decref(). Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int schema_new_value(const struct schema *schema, avro_value_t *out);

/* Appends header and avro-c-encoded body of value to out. Returns 0,
 * RIFFLE_ERR_SCHEMA (value of another schema, or incomplete, e.g. a union
 * with no branch set; errstr has avro_strerror()) or RIFFLE_ERR_NOMEM.
 * On error out is left as it was. */
int schema_write_value(const struct schema *schema, avro_value_t *value,
                       struct buf *out, char *errstr, size_t errstr_size);

/* Checks header and fingerprint, then reads the body into value (made by
 * schema_new_value()). Returns 0 or RIFFLE_ERR_DECODE with errstr;
 * RIFFLE_ERR_SCHEMA when value is of another schema. */
int schema_read_value(const struct schema *schema, const void *data,
                      size_t len, avro_value_t *value, char *errstr,
                      size_t errstr_size);

#endif
