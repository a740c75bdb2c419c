/*
 * producers/csv_reader.c - RFC 4180 CSV records from plain or gzip files.
 *
 * Reads bytes through zlib's gz* calls, which pass plain files through
 * unchanged, or from a caller's memory buffer, and splits them into
 * records with a small state machine. Every byte of the current record is
 * also kept raw, so that after a parse error (an unterminated quote found
 * only at the end of the input, say) reading resumes on the line after
 * the one where the bad record started, instead of losing the rest of the
 * file. Memory is bounded by CSV_MAX_RECORD_BYTES per record.
 *
 * Does not convert field types (csv_parse_number() is the strict helper
 * for that), does not map columns to a schema, and does not decode
 * character sets: fields are the file's bytes. One reader per thread.
 */
#include "producers/csv_reader.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/buf.h"
#include "common/err.h"

#define CSV_READ_CHUNK (64u * 1024) /* bytes per gzread(); one zlib window */

#define UTF8_BOM "\xEF\xBB\xBF" /* U+FEFF encoded, a header may start so */
#define UTF8_BOM_LEN 3
#define CSV_MESSAGE_MAX 160 /* bytes of one error, before "name:line: " */

/* get_byte() results besides 0..255. */
#define CSV_END (-1)
#define CSV_IO_ERROR (-2)

struct csv_reader {
    char *name;               /* path or caller's name, for messages */
    struct csv_options opts;

    gzFile gz;                /* NULL when reading from memory */
    const unsigned char *in;  /* input window: inbuf or the memory buffer */
    size_t in_len, in_pos;
    unsigned char *inbuf;     /* CSV_READ_CHUNK bytes for gzread() */
    int at_end;               /* stream exhausted */
    double file_size;         /* bytes on disk; 0 when unknown */
    char io_error[CSV_MESSAGE_MAX]; /* set once reading failed; sticky */

    struct buf replay;        /* bytes to read again after a parse error */
    size_t replay_pos;
    int pushback;             /* one byte given back by peek, or CSV_END */

    long line;                /* 1-based line of the next byte */
    long record_line;         /* line on which the current record began */
    struct buf raw;           /* bytes consumed for the current record */

    struct buf rec;           /* field bytes, each followed by a NUL */
    size_t field_start[CSV_MAX_FIELDS];
    size_t field_len[CSV_MAX_FIELDS]; /* bytes before that NUL */
    size_t field_count;
    int record_ascii;         /* csv_reader_record_ascii() */
    /* Where the fast path found the current record's line in inbuf, of
     * which rec is a copy byte for byte; (size_t)-1 when it did not (the
     * byte-wise parser, or a caller's memory). For
     * csv_reader_wipe_record(). */
    size_t line_in_inbuf;
    /* For a record the byte-wise parser read: the window position it
     * started from (one byte early when a byte was given back: consumed
     * bytes may be wiped, none is read again) and the refill count then. */
    size_t slow_from;
    unsigned long refills, slow_refills;

    struct buf header;        /* header fields, same layout as rec */
    size_t header_start[CSV_MAX_FIELDS];
    size_t header_count;
};

/* ---- Bytes in -------------------------------------------------------- */

static int refill(struct csv_reader *r)
{
    int n, errnum = Z_OK;
    const char *msg;

    if (!r->gz || r->at_end)
        return 0;

    n = gzread(r->gz, r->inbuf, CSV_READ_CHUNK);
    if (n > 0) {
        r->refills++;
        r->in = r->inbuf;
        r->in_len = (size_t)n;
        r->in_pos = 0;
        return 0;
    }

    /* A truncated gzip member reads as a short stream; only gzerror()
     * tells it apart from a clean end. */
    msg = gzerror(r->gz, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        size_t name_len = strlen(r->name);

        /* zlib writes "path: why"; io_fail() puts "path:line: " first. */
        if (strncmp(msg, r->name, name_len) == 0 &&
            strncmp(msg + name_len, ": ", 2) == 0)
            msg += name_len + 2;
        if (errnum == Z_ERRNO)
            msg = strerror(errno);
        snprintf(r->io_error, sizeof(r->io_error), "%s%s%s",
                 errnum == Z_BUF_ERROR ? "the gzip stream ends early, the "
                                         "file is cut short (zlib: "
                 : errnum == Z_DATA_ERROR ? "the gzip data is damaged "
                                            "(zlib: "
                                          : "",
                 msg,
                 errnum == Z_BUF_ERROR || errnum == Z_DATA_ERROR ? ")" : "");
        return RIFFLE_ERR_IO;
    }
    r->at_end = 1;
    return 0;
}

static int get_byte_slow(struct csv_reader *r);

/* The next input byte, CSV_END or CSV_IO_ERROR. Bytes of the current
 * record are copied into r->raw for a possible replay. Inline for the
 * common case, a byte waiting in the input buffer. */
static inline int get_byte(struct csv_reader *r)
{
    if (r->in_pos < r->in_len && r->pushback == CSV_END &&
        r->replay_pos >= r->replay.len && !r->io_error[0] &&
        r->raw.len + 2 <= r->raw.cap) {
        int c = r->in[r->in_pos++];

        r->raw.data[r->raw.len++] = (char)c;
        r->raw.data[r->raw.len] = '\0';
        return c;
    }
    return get_byte_slow(r);
}

static int get_byte_slow(struct csv_reader *r)
{
    int c;

    if (r->io_error[0])
        return CSV_IO_ERROR;
    if (r->pushback != CSV_END) {
        c = r->pushback;
        r->pushback = CSV_END;
    } else if (r->replay_pos < r->replay.len) {
        c = (unsigned char)r->replay.data[r->replay_pos++];
    } else {
        if (r->in_pos == r->in_len && refill(r) != 0)
            return CSV_IO_ERROR;
        if (r->in_pos == r->in_len)
            return CSV_END;
        c = r->in[r->in_pos++];
    }

    if (buf_push(&r->raw, (char)c) != 0) {
        snprintf(r->io_error, sizeof(r->io_error), "out of memory");
        return CSV_IO_ERROR;
    }
    return c;
}

/* Gives back the byte just read (only one at a time). */
static void unget_byte(struct csv_reader *r, int c)
{
    if (c < 0)
        return;
    r->pushback = c;
    r->raw.len--;
}

/* Whether the next byte is LF, without consuming it. An I/O error reads
 * as "no"; the next get_byte() reports it. */
static int next_is_lf(struct csv_reader *r)
{
    int c = get_byte(r);

    unget_byte(r, c);
    return c == '\n';
}

/* After a CR: swallows the LF of a CRLF pair. Either way one line ends. */
static int end_line_after_cr(struct csv_reader *r)
{
    int c = get_byte(r);

    if (c == CSV_IO_ERROR)
        return RIFFLE_ERR_IO;
    if (c != '\n')
        unget_byte(r, c);
    r->line++;
    return 0;
}

/* Consumes through the next LF, CRLF or lone CR, or to the end. The bytes
 * are not kept: a line without end must not grow r->raw without bound. */
static int skip_line(struct csv_reader *r)
{
    for (;;) {
        int c;

        buf_reset(&r->raw);
        c = get_byte(r);

        if (c == CSV_IO_ERROR)
            return RIFFLE_ERR_IO;
        if (c == CSV_END)
            return 0;
        if (c == '\n') {
            r->line++;
            return 0;
        }
        if (c == '\r')
            return end_line_after_cr(r);
    }
}

/* ---- Records --------------------------------------------------------- */

enum csv_state {
    FIELD_START,     /* nothing of the field read yet */
    UNQUOTED,        /* inside an unquoted field */
    QUOTED,          /* inside quotes */
    QUOTE_IN_QUOTED, /* a quote inside quotes: closing or doubled */
    AFTER_QUOTED,    /* closed; only blanks (with trim) may follow */
};

static int record_fail(struct csv_reader *r, char *errstr,
                       size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "name:line: what" for the record being parsed. */
static int record_fail(struct csv_reader *r, char *errstr,
                       size_t errstr_size, const char *fmt, ...)
{
    char what[CSV_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    snprintf(errstr, errstr_size, "%s:%ld: %s", r->name, r->record_line,
             what);
    return RIFFLE_ERR_PARSE;
}

/* Blanks that trim_spaces strips; never the delimiter itself. */
static int is_blank(const struct csv_reader *r, int c)
{
    return (c == ' ' || c == '\t') && c != r->opts.delimiter;
}

static int field_begin(struct csv_reader *r, char *errstr,
                       size_t errstr_size)
{
    if (r->field_count == CSV_MAX_FIELDS)
        return record_fail(r, errstr, errstr_size, "more than %d fields",
                           CSV_MAX_FIELDS);
    r->field_start[r->field_count++] = r->rec.len;
    return 0;
}

/* Ends the current field: drops trailing blanks of an unquoted field
 * (kept_len marks the last byte worth keeping) and adds the NUL. */
static int field_end(struct csv_reader *r, size_t kept_len)
{
    r->rec.len = kept_len;
    r->field_len[r->field_count - 1] =
        kept_len - r->field_start[r->field_count - 1];
    return buf_push(&r->rec, '\0');
}

/* Where one record's parse stands. */
struct record_parse {
    enum csv_state state;
    size_t kept; /* rec.len up to the last non-blank byte of the field */
};

#define PARSE_MORE 0 /* byte taken, read the next one */
#define PARSE_DONE 1 /* the byte ended the record */

/* One byte outside quotes. Returns PARSE_MORE, PARSE_DONE or an error. */
static int parse_outside(struct csv_reader *r, struct record_parse *p,
                         int c, char *errstr, size_t errstr_size)
{
    const int trim = r->opts.trim_spaces;
    int err;

    if (p->state == FIELD_START) {
        if (c == '"') {
            p->state = QUOTED;
            return PARSE_MORE;
        }
        if (trim && is_blank(r, c))
            return PARSE_MORE;
        p->state = UNQUOTED;
    }

    if (c == r->opts.delimiter || c == '\n' || c == '\r' || c == CSV_END) {
        err = field_end(r, p->state == UNQUOTED && trim ? p->kept
                                                        : r->rec.len);
        if (err != 0)
            return err;
        if (c != r->opts.delimiter)
            return PARSE_DONE;
        p->state = FIELD_START;
        p->kept = r->rec.len;
        return field_begin(r, errstr, errstr_size);
    }

    if (p->state == AFTER_QUOTED) {
        if (trim && is_blank(r, c))
            return PARSE_MORE;
        return record_fail(r, errstr, errstr_size,
                           "text after closing quote");
    }

    err = buf_push(&r->rec, (char)c);
    if (!is_blank(r, c))
        p->kept = r->rec.len;
    return err;
}

/* One byte inside quotes, or just after a quote found inside them. */
static int parse_inside(struct csv_reader *r, struct record_parse *p,
                        int c, char *errstr, size_t errstr_size)
{
    if (p->state == QUOTE_IN_QUOTED) {
        if (c == '"') {
            p->state = QUOTED;
            return buf_append(&r->rec, "\"", 1);
        }
        p->state = AFTER_QUOTED;
        unget_byte(r, c); /* judge it as the byte after the field */
        return PARSE_MORE;
    }

    if (c == CSV_END)
        return record_fail(r, errstr, errstr_size,
                           "unterminated quoted field");
    if (c == '"') {
        p->state = QUOTE_IN_QUOTED;
        return PARSE_MORE;
    }
    if (c == '\n' || (c == '\r' && !next_is_lf(r)))
        r->line++; /* a quoted CRLF counts once, at its LF */
    return buf_push(&r->rec, (char)c);
}

/* Reads one record that starts at the current byte, which is neither the
 * end nor a newline. Returns 0, RIFFLE_ERR_PARSE, RIFFLE_ERR_IO or
 * RIFFLE_ERR_NOMEM. */
static int parse_record(struct csv_reader *r, char *errstr,
                        size_t errstr_size)
{
    struct record_parse p = {FIELD_START, 0};
    int c = CSV_END, rc = field_begin(r, errstr, errstr_size);

    while (rc == PARSE_MORE) {
        c = get_byte(r);
        if (c == CSV_IO_ERROR)
            return RIFFLE_ERR_IO;
        /* Fields leave as C strings, which a NUL would cut short. */
        if (c == '\0')
            return record_fail(r, errstr, errstr_size,
                               "NUL byte in field %zu", r->field_count);
        /* The cap counts the record's bytes, not its line end. */
        if (r->raw.len > CSV_MAX_RECORD_BYTES && c != '\n' && c != '\r' &&
            c != CSV_END)
            return record_fail(r, errstr, errstr_size,
                               "record longer than %u bytes",
                               CSV_MAX_RECORD_BYTES);

        if (p.state == QUOTED || p.state == QUOTE_IN_QUOTED)
            rc = parse_inside(r, &p, c, errstr, errstr_size);
        else
            rc = parse_outside(r, &p, c, errstr, errstr_size);
    }

    if (rc == RIFFLE_ERR_NOMEM)
        snprintf(errstr, errstr_size, "%s:%ld: out of memory", r->name,
                 r->record_line);
    if (rc != PARSE_DONE)
        return rc;

    /* The record ended on a newline outside quotes, or at the end. */
    if (c == '\n')
        r->line++;
    return c == '\r' ? end_line_after_cr(r) : 0;
}

/* ---- The fast path ----------------------------------------------------- */

/*
 * Most records are one line of unquoted fields that sits whole in the
 * input window. Such a line is scanned 16 bytes at a time for the bytes
 * that end a field, copied into rec by the same pass with each of them
 * written as a NUL, and split at them: the same fields, at a fraction of
 * the work of the state machine. Anything the fast path does not handle
 * (a quote, a CR, a NUL byte, a line that runs past the window or past
 * the record limit, too many fields, a pending replay or pushback) is
 * left to the byte-wise parser, which also produces every error message;
 * only rec's bytes and the field table are spent then, and the byte-wise
 * parser starts both afresh.
 */

/* Bytes the fast path looks at in one step: one SSE2 register. */
#define CSV_SCAN_BLOCK 16

/* The bytes of one block the fast path stops at, by kind: bit i for byte
 * i of the block. */
struct block_stops {
    unsigned delimiters;
    unsigned line_ends;
    unsigned others; /* a quote, a CR or a NUL: the fast path gives up */
};

/* Copies p[0..n) (n <= CSV_SCAN_BLOCK) to out with every byte the fast
 * path stops at written as a NUL, fills *stops, and sets a bit of *high
 * for a byte of 0x80 or above. With SSE2 (every x86-64) a whole block is
 * five compares and one store. */
static void scan_copy_block(const unsigned char *p, size_t n,
                            unsigned char delimiter, unsigned char *out,
                            struct block_stops *stops, unsigned *high)
{
    size_t i;

#if defined(__SSE2__)
    if (n == CSV_SCAN_BLOCK) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i d = _mm_cmpeq_epi8(b, _mm_set1_epi8((char)delimiter));
        __m128i l = _mm_cmpeq_epi8(b, _mm_set1_epi8('\n'));
        __m128i o = _mm_or_si128(
            _mm_cmpeq_epi8(b, _mm_set1_epi8('"')),
            _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('\r')),
                         _mm_cmpeq_epi8(b, _mm_setzero_si128())));

        _mm_storeu_si128((__m128i *)(void *)out,
                         _mm_andnot_si128(_mm_or_si128(_mm_or_si128(d, l), o),
                                          b));
        *high |= (unsigned)_mm_movemask_epi8(b);
        stops->delimiters = (unsigned)_mm_movemask_epi8(d);
        stops->line_ends = (unsigned)_mm_movemask_epi8(l);
        stops->others = (unsigned)_mm_movemask_epi8(o);
        return;
    }
#endif
    stops->delimiters = stops->line_ends = stops->others = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        unsigned d = c == delimiter, l = c == '\n',
                 o = c == '"' || c == '\r' || c == '\0';

        out[i] = d || l || o ? '\0' : c;
        stops->delimiters |= d << i;
        stops->line_ends |= l << i;
        stops->others |= o << i;
        *high |= c & 0x80u;
    }
}

/* 1 for the bytes fast_field() trims, a space and a tab: one load and
 * test a byte, where two compares were. */
static const unsigned char fast_blank[256] = {[' '] = 1, ['\t'] = 1};

/* Records line[start..end) as field n; rec holds the line's copy, with a
 * NUL at end already. With trim_spaces the field's blanks go: it holds no
 * delimiter, so every space or tab in it is a blank (is_blank() need not
 * rule the delimiter out), and a NUL goes after its last other byte. The
 * copy's NUL at end stops the first loop, and a byte that is not blank
 * at start the second. */
static inline void fast_field(struct csv_reader *r, size_t n, size_t start,
                              size_t end)
{
    const unsigned char *f = (const unsigned char *)r->rec.data;

    if (r->opts.trim_spaces) {
        while (fast_blank[f[start]])
            start++;
        if (start < end) {
            while (fast_blank[f[end - 1]])
                end--;
            r->rec.data[end] = '\0';
        } else {
            end = start;
        }
    }
    r->field_start[n] = start;
    r->field_len[n] = end - start;
}

/* Copies the line at the window's position into rec and finds its end
 * and its fields in one pass, a block at a time: field i is at
 * rec.data + field_start[i], field_len[i] bytes and a NUL. Whether the
 * line is ASCII is judged on whole blocks, bytes after its end included:
 * a byte there that is not only sends the record to the full UTF-8
 * check, which finds the same answer a longer way. Returns the
 * line's length, or 0 when the fast path does not apply (no whole line in
 * the window, a blank line, a quote, CR or NUL, too many fields, a line
 * past the record limit, no memory). */
static size_t fast_split(struct csv_reader *r, const unsigned char *line,
                         size_t avail)
{
    unsigned char delimiter = (unsigned char)r->opts.delimiter;
    size_t off, start = 0, n = 0;
    size_t scan = avail < CSV_MAX_RECORD_BYTES + 1 ? avail
                                                   : CSV_MAX_RECORD_BYTES + 1;
    unsigned high = 0;

    if (delimiter == '"' || delimiter == '\r' || delimiter == '\0' ||
        delimiter == '\n')
        return 0; /* a byte that is a delimiter is then no other stop */
    /* Room for every block the scan may copy, and past the line's end
     * for the NUL struct buf keeps after its length (rec is empty). */
    if (r->rec.cap < scan + CSV_SCAN_BLOCK + 2 &&
        buf_reserve(&r->rec, scan + CSV_SCAN_BLOCK + 1) != 0)
        return 0;

    for (off = 0; off < scan; off += CSV_SCAN_BLOCK) {
        size_t span = avail - off < CSV_SCAN_BLOCK ? avail - off
                                                   : CSV_SCAN_BLOCK;
        struct block_stops st;
        unsigned ends, delims;

        scan_copy_block(line + off, span, delimiter,
                        (unsigned char *)r->rec.data + off, &st, &high);

        /* Only the delimiters before the block's first other stop count;
         * that stop ends the line, or the fast path if it is no line
         * end. */
        ends = st.line_ends | st.others;
        delims = ends ? st.delimiters & ((ends & -ends) - 1)
                      : st.delimiters;
        for (; delims; delims &= delims - 1) {
            size_t at = off + (size_t)__builtin_ctz(delims);

            if (n + 1 == CSV_MAX_FIELDS)
                return 0; /* too many fields */
            fast_field(r, n, start, at);
            n++;
            start = at + 1;
        }
        if (ends) {
            size_t at = off + (size_t)__builtin_ctz(ends);

            if (!(st.line_ends & ends & -ends) || at == 0 ||
                at > CSV_MAX_RECORD_BYTES)
                return 0; /* a quote, CR or NUL; or a blank line */
            fast_field(r, n, start, at);
            r->field_count = n + 1;
            r->record_ascii = high == 0;
            return at;
        }
    }
    return 0;
}

/* Reads the next record by the fast path. Returns 1 when it did, 0 when
 * the byte-wise parser must (no input consumed then). */
static int fast_record(struct csv_reader *r)
{
    size_t len;

    /* Before the first read r->in is NULL, and NULL + 0 is undefined. */
    if (r->pushback != CSV_END || r->replay_pos < r->replay.len ||
        r->io_error[0] || r->in_pos >= r->in_len)
        return 0;

    buf_reset(&r->rec);
    len = fast_split(r, r->in + r->in_pos, r->in_len - r->in_pos);
    if (len == 0) {
        r->field_count = 0; /* the table is spent; see above */
        return 0;
    }
    r->rec.len = len + 1; /* the line end's byte is the last field's NUL */
    r->rec.data[r->rec.len] = '\0';

    buf_reset(&r->raw);
    r->line_in_inbuf = r->in == r->inbuf ? r->in_pos : (size_t)-1;
    r->in_pos += len + 1;
    r->record_line = r->line++;
    return 1;
}

/* Position of the first byte after the first line end in raw, or 0 when
 * raw holds no complete line. */
static size_t raw_first_line_end(const struct buf *raw)
{
    size_t i;

    for (i = 0; i < raw->len; i++) {
        if (raw->data[i] == '\n')
            return i + 1;
        if (raw->data[i] == '\r')
            return (i + 1 < raw->len && raw->data[i + 1] == '\n') ? i + 2
                                                                  : i + 1;
    }
    return 0;
}

/* After a parse error: continue on the line after the record's first.
 * When that line was already read, its bytes (and any unread replay) go
 * back into the replay buffer; otherwise the rest of the line is skipped
 * in the stream. */
static int resync(struct csv_reader *r)
{
    size_t next = raw_first_line_end(&r->raw);
    struct buf again = {0};

    if (next == 0)
        return skip_line(r) == 0 ? 0 : RIFFLE_ERR_IO;

    if (buf_append(&again, r->raw.data + next, r->raw.len - next) != 0 ||
        (r->pushback != CSV_END &&
         buf_append(&again, &(char){(char)r->pushback}, 1) != 0) ||
        (r->replay_pos < r->replay.len &&
         buf_append(&again, r->replay.data + r->replay_pos,
                    r->replay.len - r->replay_pos) != 0)) {
        buf_free(&again);
        snprintf(r->io_error, sizeof(r->io_error), "out of memory");
        return RIFFLE_ERR_NOMEM;
    }

    buf_free(&r->replay);
    r->replay = again;
    r->replay_pos = 0;
    r->pushback = CSV_END;
    r->line = r->record_line + 1;
    return 0;
}

static int io_fail(struct csv_reader *r, char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s:%ld: %s", r->name, r->line,
             r->io_error[0] ? r->io_error : "read error");
    return RIFFLE_ERR_IO;
}

int csv_reader_next(struct csv_reader *r, char *errstr, size_t errstr_size)
{
    int c, err;

    if (r->io_error[0])
        return io_fail(r, errstr, errstr_size);
    if (fast_record(r))
        return 0;

    r->slow_from = r->pushback != CSV_END && r->in_pos > 0 ? r->in_pos - 1
                                                           : r->in_pos;
    r->slow_refills = r->refills;
    /* Blank lines count for line numbers but yield no record. */
    for (;;) {
        buf_reset(&r->raw);
        r->record_line = r->line;
        c = get_byte(r);
        if (c == CSV_IO_ERROR)
            return io_fail(r, errstr, errstr_size);
        if (c == CSV_END) {
            r->field_count = 0;
            return RIFFLE_ERR_EOF;
        }
        if (c == '\n') {
            r->line++;
        } else if (c == '\r') {
            if (end_line_after_cr(r) != 0)
                return io_fail(r, errstr, errstr_size);
        } else {
            unget_byte(r, c);
            break;
        }
    }

    buf_reset(&r->rec);
    r->field_count = 0;
    r->record_ascii = 0; /* not known: the bytes were not looked at */
    r->line_in_inbuf = (size_t)-1;
    err = parse_record(r, errstr, errstr_size);
    if (err == RIFFLE_ERR_PARSE) {
        r->field_count = 0;
        if (resync(r) != 0)
            return io_fail(r, errstr, errstr_size);
        return RIFFLE_ERR_PARSE;
    }
    if (err == RIFFLE_ERR_IO)
        return io_fail(r, errstr, errstr_size);
    return err;
}

/* ---- Opening and closing --------------------------------------------- */

static int read_header(struct csv_reader *r, char *errstr,
                       size_t errstr_size)
{
    int err = csv_reader_next(r, errstr, errstr_size);

    if (err == RIFFLE_ERR_EOF) {
        snprintf(errstr, errstr_size, "%s:%ld: missing header", r->name,
                 r->line);
        return RIFFLE_ERR_PARSE;
    }
    if (err != 0)
        return err;

    if (buf_append(&r->header, r->rec.data, r->rec.len) != 0) {
        snprintf(errstr, errstr_size, "%s: out of memory", r->name);
        return RIFFLE_ERR_NOMEM;
    }
    memcpy(r->header_start, r->field_start,
           r->field_count * sizeof(r->field_start[0]));
    r->header_count = r->field_count;

    /* Spreadsheets save "UTF-8 CSV" with a byte order mark; it would
     * otherwise be part of the first column's name ("___income"). */
    if (r->header.len - r->header_start[0] >= UTF8_BOM_LEN &&
        memcmp(r->header.data + r->header_start[0], UTF8_BOM,
               UTF8_BOM_LEN) == 0)
        r->header_start[0] += UTF8_BOM_LEN;
    return 0;
}

/* Whether the input begins with the n bytes of sig. */
static int starts_with(struct csv_reader *r, const void *sig, size_t n)
{
    if (r->in_pos >= r->in_len && refill(r) != 0)
        return 0; /* the read error is reported by the first read */
    return r->in_len - r->in_pos >= n &&
           memcmp(r->in + r->in_pos, sig, n) == 0;
}

/* Whether the first two characters are ASCII written as UTF-16 without
 * a byte order mark (a 0 byte before or after each): no CSV riffle reads
 * begins with a NUL byte, so nothing readable is refused for it. */
static int starts_as_utf16_ascii(struct csv_reader *r)
{
    const unsigned char *b;

    if (r->in_pos >= r->in_len && refill(r) != 0)
        return 0;
    if (r->in_len - r->in_pos < 4)
        return 0;
    b = r->in + r->in_pos;
    return (b[0] == 0 && b[1] != 0 && b[1] < 0x80 && b[2] == 0 &&
            b[3] != 0 && b[3] < 0x80) ||
           (b[0] != 0 && b[0] < 0x80 && b[1] == 0 && b[2] != 0 &&
            b[2] < 0x80 && b[3] == 0);
}

/* What the input is when its first bytes show it is no CSV riffle can
 * read, or NULL. The format is chosen by the name's suffix, so a
 * container given as /dev/stdin or without ".avro" would be parsed as
 * CSV and refused for some NUL byte deep in its first line, as would a
 * spreadsheet's "Unicode text" (UTF-16); saying what it is helps more.
 * UTF-32 is tested first: its little-endian mark begins as UTF-16's. */
static const char *foreign_format(struct csv_reader *r)
{
    static const unsigned char avro[4] = {'O', 'b', 'j', 1};
    static const unsigned char utf32le[4] = {0xFF, 0xFE, 0, 0};
    static const unsigned char utf32be[4] = {0, 0, 0xFE, 0xFF};
    static const unsigned char utf16le[2] = {0xFF, 0xFE};
    static const unsigned char utf16be[2] = {0xFE, 0xFF};

    if (starts_with(r, avro, sizeof(avro)))
        return "an Avro container file (it begins with Avro's magic bytes), "
               "not CSV: give it as a regular file whose name ends in .avro";
    if (starts_with(r, utf32le, sizeof(utf32le)) ||
        starts_with(r, utf32be, sizeof(utf32be)))
        return "UTF-32 text (it begins with a UTF-32 byte order mark), not "
               "UTF-8: convert it first (iconv -f UTF-32 -t UTF-8)";
    if (starts_with(r, utf16le, sizeof(utf16le)) ||
        starts_with(r, utf16be, sizeof(utf16be)))
        return "UTF-16 text (it begins with a UTF-16 byte order mark, as a "
               "spreadsheet's \"Unicode text\" does), not UTF-8: convert it "
               "first (iconv -f UTF-16 -t UTF-8)";
    if (starts_as_utf16_ascii(r))
        return "UTF-16 text (every other byte of its first characters is "
               "0), not UTF-8: convert it first (iconv -f UTF-16LE or "
               "UTF-16BE -t UTF-8)";
    return NULL;
}

/* Shared tail of both open calls: options, skip_lines, header. */
static int reader_start(struct csv_reader *r, const struct csv_options *opts,
                        char *errstr, size_t errstr_size)
{
    const char *foreign;
    int i, err = 0;

    if (opts)
        r->opts = *opts;
    else
        r->opts.delimiter = ',';
    if (r->opts.delimiter == '\0')
        r->opts.delimiter = ',';

    foreign = foreign_format(r);
    if (foreign) {
        snprintf(errstr, errstr_size, "%s:1: %s", r->name, foreign);
        return RIFFLE_ERR_PARSE;
    }
    for (i = 0; err == 0 && i < r->opts.skip_lines; i++)
        err = skip_line(r);
    if (err != 0)
        return io_fail(r, errstr, errstr_size);

    return r->opts.has_header ? read_header(r, errstr, errstr_size) : 0;
}

static struct csv_reader *reader_new(const char *name)
{
    struct csv_reader *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->name = strdup(name);
    if (!r->name) {
        free(r);
        return NULL;
    }
    r->pushback = CSV_END;
    r->line = 1;
    r->line_in_inbuf = (size_t)-1;
    /* Records hold personal values: growth and the close wipe them. */
    buf_hold_secret(&r->replay);
    buf_hold_secret(&r->raw);
    buf_hold_secret(&r->rec);
    return r;
}

int csv_reader_open(const char *path, const struct csv_options *opts,
                    struct csv_reader **out, char *errstr,
                    size_t errstr_size)
{
    struct csv_reader *r = reader_new(path);
    struct stat st;
    int err;

    if (!r) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        return RIFFLE_ERR_NOMEM;
    }

    /* Zeroed: csv_reader_memory_holds() reads it whole. */
    r->inbuf = calloc(1, CSV_READ_CHUNK);
    if (!r->inbuf) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        csv_reader_close(r);
        return RIFFLE_ERR_NOMEM;
    }

    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 errno ? strerror(errno) : "cannot open");
        csv_reader_close(r);
        return RIFFLE_ERR_IO;
    }

    if (stat(path, &st) == 0 && st.st_size > 0)
        r->file_size = (double)st.st_size;

    err = reader_start(r, opts, errstr, errstr_size);
    if (err != 0) {
        csv_reader_close(r);
        return err;
    }
    *out = r;
    return 0;
}

double csv_reader_fraction(const struct csv_reader *r)
{
    z_off_t at;

    if (!r->gz || r->file_size <= 0)
        return -1;
    at = gzoffset(r->gz);
    return at < 0 ? -1 : (double)at / r->file_size;
}

int csv_reader_open_memory(const char *data, size_t len, const char *name,
                           const struct csv_options *opts,
                           struct csv_reader **out, char *errstr,
                           size_t errstr_size)
{
    struct csv_reader *r = reader_new(name);
    int err;

    if (!r) {
        snprintf(errstr, errstr_size, "%s: out of memory", name);
        return RIFFLE_ERR_NOMEM;
    }

    r->in = (const unsigned char *)data;
    r->in_len = len;
    r->at_end = 1; /* nothing to refill: the buffer is the whole input */

    err = reader_start(r, opts, errstr, errstr_size);
    if (err != 0) {
        csv_reader_close(r);
        return err;
    }
    *out = r;
    return 0;
}

void csv_reader_close(struct csv_reader *r)
{
    if (!r)
        return;
    if (r->gz)
        (void)gzclose(r->gz); /* read-only: a close error loses nothing */
    if (r->inbuf)
        OPENSSL_cleanse(r->inbuf, CSV_READ_CHUNK); /* the file's last lines */
    free(r->inbuf);
    buf_free(&r->replay);
    buf_free(&r->raw);
    buf_free(&r->rec);
    buf_free(&r->header);
    free(r->name);
    free(r);
}

/* ---- Accessors ------------------------------------------------------- */

size_t csv_reader_field_count(const struct csv_reader *r)
{
    return r->field_count;
}

const char *csv_reader_field(const struct csv_reader *r, size_t i)
{
    if (i >= r->field_count)
        return NULL;
    return r->rec.data + r->field_start[i];
}

size_t csv_reader_field_len(const struct csv_reader *r, size_t i)
{
    assert(i < r->field_count);
    return r->field_len[i];
}

const char *csv_reader_record(const struct csv_reader *r, size_t *len)
{
    *len = r->rec.len;
    return r->rec.data;
}

int csv_reader_record_ascii(const struct csv_reader *r)
{
    return r->record_ascii;
}

size_t csv_reader_field_offset(const struct csv_reader *r, size_t i)
{
    assert(i < r->field_count);
    return r->field_start[i];
}

void csv_reader_layout(const struct csv_reader *r, const size_t **starts,
                       const size_t **lens)
{
    *starts = r->field_start;
    *lens = r->field_len;
}

void csv_reader_wipe_record(struct csv_reader *r)
{
    size_t from;

    if (r->rec.data)
        buf_wipe_block(r->rec.data, r->rec.len);
    if (r->line_in_inbuf != (size_t)-1) {
        /* rec is the line byte for byte, its end's byte the last NUL. */
        buf_wipe_block(r->inbuf + r->line_in_inbuf, r->rec.len);
        return;
    }
    /* The byte-wise parser's record (quotes, CR): its bytes as read, and
     * the part of the window they were read from (with any blank lines
     * before, and a byte given back after: consumed bytes are never read
     * again from the window). */
    if (r->raw.data)
        buf_wipe_block(r->raw.data, r->raw.len);
    from = r->refills == r->slow_refills ? r->slow_from : 0;
    if (r->in == r->inbuf && r->inbuf && from < r->in_pos)
        buf_wipe_block(r->inbuf + from, r->in_pos - from);
}

int csv_reader_memory_holds(const struct csv_reader *r, const void *needle,
                            size_t n)
{
    return buf_span_holds(r->inbuf, r->inbuf ? CSV_READ_CHUNK : 0, needle,
                          n) ||
           buf_memory_holds(&r->rec, needle, n) ||
           buf_memory_holds(&r->raw, needle, n) ||
           buf_memory_holds(&r->replay, needle, n);
}

long csv_reader_line(const struct csv_reader *r)
{
    return r->record_line;
}

const char *csv_reader_name(const struct csv_reader *r)
{
    return r->name;
}

size_t csv_reader_header_count(const struct csv_reader *r)
{
    return r->header_count;
}

const char *csv_reader_header(const struct csv_reader *r, size_t i)
{
    if (i >= r->header_count)
        return NULL;
    return r->header.data + r->header_start[i];
}

/* ---- Numbers --------------------------------------------------------- */

/* Only decimal and scientific notation: strtod alone would also take
 * "nan", "inf" and hex floats such as "0x10". */
static int number_chars_only(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
              c == 'e' || c == 'E'))
            return 0;
    }
    return len > 0;
}

/* Largest integer below which every integer is an exact double. */
#define CSV_EXACT_MANTISSA (1ULL << 53)
/* Powers of ten that are exact doubles: 10^22 is the last (5^22 < 2^53). */
#define CSV_EXACT_POW10_MAX 22

static const double exact_pow10[CSV_EXACT_POW10_MAX + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * The common decimal without exponent ("0.056443", "-12", "39") read
 * without strtod, which costs about a thousand instructions a number.
 * When the digits form an integer m < 2^53 and the point sits at most 22
 * places from the end, m and 10^k are both exact doubles, so m / 10^k is
 * a single correctly rounded operation: the same double strtod returns
 * (Clinger, "How to read floating point numbers accurately", 1990).
 * Returns 1 with *out set, or 0 when s..end is anything else (then
 * strtod decides, errors included).
 */
static int parse_plain_decimal(const char *s, const char *end, double *out)
{
    uint64_t m = 0;
    int negative = 0, digits = 0, fraction = -1;
    double v;

    if (s < end && (*s == '+' || *s == '-'))
        negative = *s++ == '-';
    for (; s < end; s++) {
        if (*s == '.' && fraction < 0) {
            fraction = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || m >= CSV_EXACT_MANTISSA)
            return 0; /* an exponent, a second point, or too many digits */
        m = m * 10 + (uint64_t)(*s - '0');
        digits++;
        if (fraction >= 0)
            fraction++;
    }
    if (digits == 0 || m > CSV_EXACT_MANTISSA ||
        fraction > CSV_EXACT_POW10_MAX)
        return 0;

    v = (double)m;
    if (fraction > 0)
        v /= exact_pow10[fraction];
    *out = negative ? -v : v;
    return 1;
}

/* Digits the one-pass reader below takes: 10^15 < 2^53, so the mantissa
 * of any number it accepts is an exact double. */
#define CSV_QUICK_DIGITS_MAX 15

/*
 * One pass over the most common field, a bare decimal such as "0.056443"
 * or "39" with no space and at most CSV_QUICK_DIGITS_MAX digits, reading
 * it as parse_plain_decimal() would, so the value is the same double.
 * Trimming, checking the characters and parsing in three passes cost
 * about 260 instructions a number, a fifth of an Elec2 event. Returns 1
 * with *out set, or 0 for anything else, which the full path decides.
 */
static int parse_quick_decimal(const char *s, double *out)
{
    const char *p, *point = NULL;
    uint64_t m = 0;
    unsigned d;
    size_t digits, fraction = 0;
    int negative = 0;
    double v;

    if (*s == '-' || *s == '+')
        negative = *s++ == '-';
    for (p = s; (d = (unsigned)(unsigned char)*p - '0') <= 9; p++)
        m = m * 10 + d;
    if (*p == '.') {
        point = ++p;
        for (; (d = (unsigned)(unsigned char)*p - '0') <= 9; p++)
            m = m * 10 + d;
        fraction = (size_t)(p - point);
    }
    digits = (size_t)(p - s) - (point != NULL);
    if (*p != '\0' || digits == 0 || digits > CSV_QUICK_DIGITS_MAX)
        return 0; /* m may have wrapped: it is not used then */

    v = (double)m;
    if (fraction > 0)
        v /= exact_pow10[fraction];
    *out = negative ? -v : v;
    return 1;
}

/* Narrows the NUL-terminated text at *start to [*start, *end) without
 * its leading and trailing blanks. */
static void trim_blanks(const char **start, const char **end)
{
    const char *s = *start, *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *start = s;
    *end = e;
}

/* Everything but the bare decimal: kept out of line so that the common
 * case below saves no registers for it. */
__attribute__((noinline)) static int parse_number_slow(const char *s,
                                                       double *out)
{
    const char *start = s, *end;
    char *stop;
    double v;

    trim_blanks(&start, &end);
    if (!number_chars_only(start, (size_t)(end - start)))
        return RIFFLE_ERR_PARSE;
    if (parse_plain_decimal(start, end, out))
        return 0;

    /* XXX: strtod follows LC_NUMERIC; riffle never calls setlocale(), so
     * the decimal point stays '.'. A locale-aware caller would break it. */
    errno = 0;
    v = strtod(start, &stop);
    if (stop != end || !isfinite(v))
        return RIFFLE_ERR_PARSE;

    *out = v; /* underflow (ERANGE with a tiny result) is accepted */
    return 0;
}

int csv_parse_number(const char *s, double *out)
{
    if (parse_quick_decimal(s, out))
        return 0;
    return parse_number_slow(s, out);
}

/* 1 when s (len bytes) is, ignoring case, one of the words of the
 * NULL-terminated list, after an optional sign. */
static int is_word(const char *s, size_t len, const char *const *words)
{
    size_t i;

    if (len > 0 && (*s == '+' || *s == '-')) {
        s++;
        len--;
    }
    for (; *words; words++) {
        if (strlen(*words) != len)
            continue;
        for (i = 0; i < len && tolower((unsigned char)s[i]) == (*words)[i];
             i++)
            ;
        if (i == len)
            return 1;
    }
    return 0;
}

/* 1 when s (len bytes) reads as a number once its one ',' is a '.'. */
static int is_decimal_comma(const char *s, size_t len)
{
    char copy[64];
    const char *comma = memchr(s, ',', len);
    double v;

    if (!comma || len >= sizeof(copy) || memchr(comma + 1, ',',
                                                len - (size_t)(comma - s) - 1))
        return 0;
    memcpy(copy, s, len);
    copy[comma - s] = '.';
    copy[len] = '\0';
    return number_chars_only(copy, len) && csv_parse_number(copy, &v) == 0;
}

const char *csv_describe_non_number(const char *s, const char **expected)
{
    static const char *const nan_words[] = {"nan", NULL};
    static const char *const inf_words[] = {"inf", "infinity", NULL};
    const char *end;
    size_t len;

    *expected = "a number";
    trim_blanks(&s, &end);
    len = (size_t)(end - s);

    if (len == 0)
        return "blank text";
    if (is_word(s, len, nan_words) || is_word(s, len, inf_words)) {
        *expected = "a finite number";
        return is_word(s, len, nan_words) ? "NaN" : "an infinite value";
    }
    if (number_chars_only(s, len)) {
        char *stop;

        /* Only letters e/E, digits, signs and points: either too large
         * for a double or not a well-formed number ("1.2.3", "1e"). */
        errno = 0;
        (void)strtod(s, &stop);
        if (stop == end && errno == ERANGE) {
            *expected = "a finite number";
            return "a number beyond the range of a double";
        }
        return "a malformed number";
    }
    if (is_decimal_comma(s, len))
        return "a number with a decimal comma (riffle reads a decimal point)";
    if (*s == '-' || *s == '+')
        s++;
    if (*s == '.')
        s++;
    return isdigit((unsigned char)*s) ? "text that begins like a number"
                                      : "text";
}

/* Byte b in every byte of a word: the steps below read eight characters
 * as one 64-bit word, the first character in the low byte. */
#define CSV_BYTES(b) (0x0101010101010101ULL * (uint64_t)(b))

/* Whether each of the eight bytes of w is an ASCII digit: its high
 * nibble is 3, and adding 6 leaves it 3 (so the low nibble is at most
 * 9). As fast_float's is_made_of_eight_digits_fast(). */
static inline int eight_digits_only(uint64_t w)
{
    return ((w & CSV_BYTES(0xF0)) |
            (((w + CSV_BYTES(0x06)) & CSV_BYTES(0xF0)) >> 4)) ==
           CSV_BYTES(0x33);
}

/* The eight digits of w as an integer, the first byte most significant:
 * pairs, then fours, then all eight in three multiplications (as
 * fast_float's parse_eight_digits_unrolled()). */
static inline uint64_t eight_digits_value(uint64_t w)
{
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 100 + (1000000ULL << 32);
    const uint64_t mul2 = 1 + (10000ULL << 32);

    w -= CSV_BYTES('0');
    w = w * 10 + (w >> 8);
    return (((w & mask) * mul1) + (((w >> 16) & mask) * mul2)) >> 32;
}

/*
 * parse_quick_decimal() of a field of eight bytes or more whose fraction
 * has one to eight digits, Elec2's "0.056443": the integer part a byte at
 * a time (usually one digit), the fraction as one word, the field's last
 * eight bytes with those before the fraction replaced by '0' (leading
 * zeros leave the value alone). The digit loop took 9 instructions a
 * digit; the word takes about 25 for all. m, the fraction's length and
 * the division are parse_quick_decimal()'s, so the value is the same
 * double. Loads only bytes of the field.
 */
static inline int parse_fraction_word(const char *s, size_t len,
                                      double *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    static const uint64_t pow10_u64[9] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
        10000000ULL, 100000000ULL,
    };
    const char *end = s + len, *p = s;
    uint64_t m = 0, w, keep;
    unsigned d;
    size_t fraction, sign;
    int negative = 0;
    double v;

    if (len < 8)
        return 0;
    if (*p == '-' || *p == '+')
        negative = *p++ == '-';
    sign = (size_t)(p - s);
    for (; (d = (unsigned)(unsigned char)*p - '0') <= 9; p++)
        m = m * 10 + d;
    if (*p != '.')
        return 0;
    fraction = (size_t)(end - p - 1);
    if (fraction == 0 || fraction > 8 ||
        (size_t)(p - s) - sign + fraction > CSV_QUICK_DIGITS_MAX)
        return 0; /* m may have wrapped: it is not used then */
    memcpy(&w, end - 8, sizeof(w));
    keep = ~0ULL << (8 * (8 - fraction)); /* a shift of 0 to 56 bits */
    w = (w & keep) | (CSV_BYTES('0') & ~keep);
    if (!eight_digits_only(w))
        return 0;
    m = m * pow10_u64[fraction] + eight_digits_value(w);

    v = (double)m / exact_pow10[fraction];
    *out = negative ? -v : v;
    return 1;
#else
    (void)s;
    (void)len;
    (void)out;
    return 0;
#endif
}

int csv_parse_number_long(const char *s, size_t len, double *out)
{
    if (parse_fraction_word(s, len, out))
        return 0;
    return csv_parse_number(s, out);
}
