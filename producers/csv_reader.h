/*
 * producers/csv_reader.h - streaming CSV reader for plain or gzip files.
 *
 * Reads RFC 4180 CSV one record at a time (quoted fields, doubled quotes,
 * delimiters and newlines inside quotes, CRLF or LF, a last line without
 * a newline), through zlib so that .gz files and plain files read alike.
 * Blank lines are skipped. Memory is bounded by the longest record, which
 * is itself capped so a file without newlines cannot exhaust memory.
 * One reader per thread.
 */
#ifndef RIFFLE_PRODUCERS_CSV_READER_H
#define RIFFLE_PRODUCERS_CSV_READER_H

#include <stddef.h>

#define CSV_MAX_RECORD_BYTES (1u << 20) /* 1 MiB: far above any real row */
#define CSV_MAX_FIELDS 1024

struct csv_options {
    char delimiter;  /* ',' by default */
    int trim_spaces; /* strip unquoted leading/trailing blanks of fields */
    int skip_lines;  /* physical lines to skip before anything else */
    int has_header;  /* first record (after skip_lines) names the columns */
};

struct csv_reader;

/* Opens path (gzip or plain). Returns 0, or RIFFLE_ERR_IO with errstr
 * "path: strerror". *out is owned by the caller (csv_reader_close). When
 * has_header is set the header record is read here; a missing header is
 * RIFFLE_ERR_PARSE. */
int csv_reader_open(const char *path, const struct csv_options *opts,
                    struct csv_reader **out, char *errstr,
                    size_t errstr_size);

/* Same over a memory buffer (borrowed; must outlive the reader); name is
 * used in error messages. For tests and for small inputs. */
int csv_reader_open_memory(const char *data, size_t len, const char *name,
                           const struct csv_options *opts,
                           struct csv_reader **out, char *errstr,
                           size_t errstr_size);

/* Reads the next record. Returns 0; RIFFLE_ERR_EOF at the end; or
 * RIFFLE_ERR_PARSE with errstr "name:line: what" (unterminated quote,
 * text after a closing quote, a NUL byte in field N, counted from 1,
 * record too long, too many fields). After a
 * parse error the reader has skipped to the start of the next line, so
 * the caller may report the bad record and go on. RIFFLE_ERR_IO on a
 * read error (e.g. a corrupt gzip stream), after which it cannot go on. */
int csv_reader_next(struct csv_reader *r, char *errstr, size_t errstr_size);

/* Fields of the current record; strings are NUL-terminated and borrowed
 * until the next csv_reader_next(). */
size_t csv_reader_field_count(const struct csv_reader *r);
const char *csv_reader_field(const struct csv_reader *r, size_t i);

/* Bytes of field i before its NUL (strlen of csv_reader_field()). */
size_t csv_reader_field_len(const struct csv_reader *r, size_t i);

/* The current record's fields as one block, for copying them all at
 * once: *len bytes at the returned pointer hold every field with its NUL,
 * field i at csv_reader_field_offset(r, i). Borrowed until the next
 * csv_reader_next(). */
const char *csv_reader_record(const struct csv_reader *r, size_t *len);
size_t csv_reader_field_offset(const struct csv_reader *r, size_t i);

/* 1 when every byte of the current record is known to be ASCII (below
 * 0x80, so the record is UTF-8 too): the fast path learns it while it
 * copies the line. 0 when a byte is not, or when it is not known (a
 * record the byte-wise parser read): check the bytes then. */
int csv_reader_record_ascii(const struct csv_reader *r);

/* The offsets and lengths above for every field at once, for a caller
 * that walks them all (a call per field cost more than reading it):
 * field i < csv_reader_field_count() starts at (*starts)[i] in the block
 * and has (*lens)[i] bytes before its NUL. Borrowed like the block. */
void csv_reader_layout(const struct csv_reader *r, const size_t **starts,
                       const size_t **lens);

/* Overwrites the current record with zeros the compiler cannot drop,
 * once the caller has typed it (a row with personal values): its fields
 * (which then read as empty), and its bytes as read, in the reader's
 * input buffer too. The whole record rather than the personal fields
 * alone: a line's copy is a block or two of memset, where a wipe per
 * field cost about 35 instructions each (Adult with a dozen personal
 * columns: about 850 a row). zlib's own buffers are not reached, nor the
 * bytes of a quoted or CRLF record that began in a window read before. */
void csv_reader_wipe_record(struct csv_reader *r);

/* Whether the n bytes at needle are anywhere in the reader's buffers
 * (the input buffer, the record's fields and its raw bytes), up to their
 * capacity. For tests that check a personal value is wiped; it reads
 * every byte, so never per row. */
int csv_reader_memory_holds(const struct csv_reader *r, const void *needle,
                            size_t n);

/* 1-based physical line on which the current record (or the failed one)
 * started. */
long csv_reader_line(const struct csv_reader *r);

/* The path (or name) the reader was opened with, for messages. */
const char *csv_reader_name(const struct csv_reader *r);

/* Header names when has_header was set; count is 0 otherwise. */
size_t csv_reader_header_count(const struct csv_reader *r);
const char *csv_reader_header(const struct csv_reader *r, size_t i);

/* How much of the file has been read, 0..1, from the position in the
 * (possibly compressed) file; -1 for a reader over memory or a file whose
 * size is unknown. For progress bars, not exact at the row. */
double csv_reader_fraction(const struct csv_reader *r);

void csv_reader_close(struct csv_reader *r); /* NULL-safe */

/* Strict number parsing: the whole string must be a finite decimal or
 * scientific number (surrounding blanks allowed). "nan", "inf", "", "1e999"
 * and "12abc" are errors. Returns 0 or RIFFLE_ERR_PARSE. */
int csv_parse_number(const char *s, double *out);

/* What s is, for a message, when csv_parse_number() refused it: "text",
 * "NaN", "a number with a decimal comma", ...; a static phrase that never
 * quotes s (a value may be personal). *expected is set to what a number
 * column wants instead: "a number", or "a finite number" when s is a
 * number that is not finite. */
const char *csv_describe_non_number(const char *s, const char **expected);

/* csv_parse_number() of a field of len >= 8 bytes whose NUL is s[len]:
 * a decimal fraction of up to eight digits is read a word at a time. */
int csv_parse_number_long(const char *s, size_t len, double *out);

/* csv_parse_number() of a field of len bytes whose NUL is s[len] (a
 * field of the reader's record, csv_reader_field_len()): the same result.
 * Inline so that a short field (Adult's integers) pays one test. */
static inline int csv_parse_number_len(const char *s, size_t len,
                                       double *out)
{
    return len >= 8 ? csv_parse_number_long(s, len, out)
                    : csv_parse_number(s, out);
}

#endif
