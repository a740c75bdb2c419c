/*
 * privacy/pseudonym_io.c - the pseudonyms of raw ids, every copy of an
 * id wiped once used; see pseudonym_io.h.
 */
#include "privacy/pseudonym_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"

/* Bytes asked of each read(): as stdio's buffer would, a few system
 * calls for a file of ids; a terminal returns one line at a time. */
#define PSEUDONYM_IO_READ_BYTES 65536
/* Composed lines written at once when ids come from add() alone. */
#define PSEUDONYM_IO_FLUSH_BYTES 65536

struct pseudonym_io {
    const struct anonymizer *a; /* borrowed */
    int with_ids;
    int out_fd;
    struct buf in;  /* read, not yet a whole line: raw ids */
    struct buf out; /* composed, not yet written: pseudonyms, maybe ids */
    char chunk[PSEUDONYM_IO_READ_BYTES]; /* one read, wiped once fed */
};

struct pseudonym_io *pseudonym_io_new(const struct anonymizer *a,
                                      int with_ids, int out_fd)
{
    struct pseudonym_io *io = calloc(1, sizeof(*io));

    if (!io)
        return NULL;
    io->a = a;
    io->with_ids = with_ids;
    io->out_fd = out_fd;
    buf_hold_secret(&io->in);
    buf_hold_secret(&io->out);
    return io;
}

void pseudonym_io_destroy(struct pseudonym_io *io)
{
    if (!io)
        return;
    buf_free(&io->in); /* secret: overwritten first */
    buf_free(&io->out);
    buf_wipe_span(io->chunk, sizeof(io->chunk)); /* fed: wiped already */
    free(io);
}

/* Appends the raw id (len bytes) for a screen: a byte below 0x20, 0x7f
 * and a backslash become \xHH, so an id cannot move the cursor, change
 * the terminal's state or pass for a tab between id and pseudonym. */
static int append_shown_id(struct buf *line, const char *id, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

        if (c >= 0x20 && c != 0x7f && c != '\\') {
            if (buf_push(line, (char)c) != 0)
                return RIFFLE_ERR_NOMEM;
        } else if (buf_append(line, esc, sizeof(esc)) != 0) {
            return RIFFLE_ERR_NOMEM;
        }
    }
    return buf_push(line, '\t') != 0 ? RIFFLE_ERR_NOMEM : 0;
}

int pseudonym_io_flush(struct pseudonym_io *io, char *errstr, size_t size)
{
    size_t done = 0;
    int err = 0;

    while (!err && done < io->out.len) {
        ssize_t n = write(io->out_fd, io->out.data + done,
                          io->out.len - done);

        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            snprintf(errstr, size, "writing the pseudonyms: stopped");
            err = RIFFLE_ERR_STOPPED;
        } else {
            const char *why = n < 0 ? strerror(errno) : "nothing written";

            snprintf(errstr, size, "writing the pseudonyms: %s", why);
            err = RIFFLE_ERR_IO;
        }
    }
    buf_wipe_span(io->out.data, io->out.len); /* beyond: wiped before */
    buf_reset(&io->out);
    return err;
}

int pseudonym_io_add(struct pseudonym_io *io, char *id, size_t len,
                     char *errstr, size_t size)
{
    int err = 0;

    if (io->with_ids)
        err = append_shown_id(&io->out, id, len);
    if (!err && (anonymizer_id_pseudonym(io->a, id, len, &io->out) != 0 ||
                 buf_push(&io->out, '\n') != 0))
        err = RIFFLE_ERR_NOMEM;
    buf_wipe_span(id, len);
    if (err)
        snprintf(errstr, size, "composing a pseudonym: %s",
                 riffle_err_str(err));
    else if (io->out.len >= PSEUDONYM_IO_FLUSH_BYTES)
        err = pseudonym_io_flush(io, errstr, size);
    return err;
}

/* Adds the id of a line of len bytes at line, without its end. */
static int add_line(struct pseudonym_io *io, char *line, size_t len,
                    char *errstr, size_t size)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return pseudonym_io_add(io, line, len, errstr, size);
}

/* Adds the id of each whole line in io->in (wiped by the add), then
 * moves the start of a line not ended yet to the front and wipes the
 * bytes it leaves behind. */
static int add_lines(struct pseudonym_io *io, char *errstr, size_t size)
{
    char *data = io->in.data;
    size_t len = io->in.len, start = 0;
    char *end;
    int err = 0;

    while (!err && (end = memchr(data + start, '\n', len - start))) {
        err = add_line(io, data + start, (size_t)(end - (data + start)),
                       errstr, size);
        start = (size_t)(end - data) + 1;
    }
    memmove(data, data + start, len - start);
    buf_wipe_span(data + (len - start), start);
    io->in.len = len - start;
    return err;
}

int pseudonym_io_feed(struct pseudonym_io *io, char *bytes, size_t n,
                      char *errstr, size_t size)
{
    int err = buf_append(&io->in, bytes, n);

    buf_wipe_span(bytes, n);
    if (err) {
        snprintf(errstr, size, "reading the ids: out of memory");
        buf_wipe(&io->in);
        return err;
    }
    err = add_lines(io, errstr, size);
    if (!err)
        err = pseudonym_io_flush(io, errstr, size);
    if (err)
        buf_wipe(&io->in);
    return err;
}

int pseudonym_io_read_fd(struct pseudonym_io *io, int fd, char *errstr,
                         size_t size)
{
    int err = 0;

    while (!err) {
        ssize_t n = read(fd, io->chunk, sizeof(io->chunk));

        if (n == 0)
            break;
        if (n < 0) {
            int stopped = errno == EINTR;

            snprintf(errstr, size, "reading the ids: %s",
                     stopped ? "stopped" : strerror(errno));
            err = stopped ? RIFFLE_ERR_STOPPED : RIFFLE_ERR_IO;
            break;
        }
        err = pseudonym_io_feed(io, io->chunk, (size_t)n, errstr, size);
    }
    if (!err && io->in.len > 0) /* the last line, without its end */
        err = add_line(io, io->in.data, io->in.len, errstr, size);
    if (!err)
        err = pseudonym_io_flush(io, errstr, size);
    buf_wipe(&io->in);
    return err;
}

int pseudonym_io_holds(const struct pseudonym_io *io, const void *needle,
                       size_t n)
{
    return buf_memory_holds(&io->in, needle, n) ||
           buf_memory_holds(&io->out, needle, n) ||
           buf_span_holds(io->chunk, sizeof(io->chunk), needle, n);
}
