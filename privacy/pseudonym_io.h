/*
 * privacy/pseudonym_io.h - the pseudonyms of raw ids, read from a file
 * descriptor or given, written to another, with every copy of an id
 * wiped once used.
 *
 * `riffle pseudonym` reads raw event ids (one per line of stdin, or its
 * arguments) and prints the pseudonym each is published under, after the
 * id itself when asked. stdio and getline() would keep copies riffle does
 * not own: the input stream's buffer, getline()'s line (whose old block a
 * longer line frees unwiped), stdout's buffer. So this reads and writes
 * the descriptors itself, through buffers it wipes: each id's bytes once
 * its line is composed, each composed line once written, and the
 * buffers' old blocks when they grow (buf_hold_secret()). What the
 * kernel keeps (pipe buffers, a terminal's) is out of its reach. No
 * broker; one thread.
 */
#ifndef RIFFLE_PRIVACY_PSEUDONYM_IO_H
#define RIFFLE_PRIVACY_PSEUDONYM_IO_H

#include <stddef.h>

#include "privacy/anonymize.h"

struct pseudonym_io;

/* A new one writing to out_fd the pseudonyms of the ids it is given, by
 * a (borrowed: it must outlive the result, and hide the id, see
 * anonymizer_hides_id()). with_ids: each line is "ID<tab>PSEUDONYM",
 * the id's bytes below 0x20, 0x7f and backslash shown as \xHH (a
 * terminal's state cannot be changed by an id, nor a tab faked); else
 * the pseudonym alone. Returns NULL when out of memory. */
struct pseudonym_io *pseudonym_io_new(const struct anonymizer *a,
                                      int with_ids, int out_fd);

/* Wipes what is left in its buffers and frees it. NULL-safe. */
void pseudonym_io_destroy(struct pseudonym_io *io);

/* Composes the line of the raw id (len bytes at id), then overwrites the
 * id's bytes with zeros: the caller's copy, an argument say, is wiped
 * with the rest. The line is written by a later flush (at the latest
 * once 64 KiB are waiting). Returns 0, RIFFLE_ERR_NOMEM, or what the
 * flush returned (errstr says what). */
int pseudonym_io_add(struct pseudonym_io *io, char *id, size_t len,
                     char *errstr, size_t size);

/* Takes n bytes of text of ids (at bytes, wiped there once copied):
 * adds the id of each line they end, writes the lines composed, and
 * keeps a line not ended yet until more bytes come. Returns 0, or what
 * pseudonym_io_add() or pseudonym_io_flush() returned; on error, what
 * it kept is wiped. */
int pseudonym_io_feed(struct pseudonym_io *io, char *bytes, size_t n,
                      char *errstr, size_t size);

/* Reads ids from fd, one per line ("\n" or "\r\n" ends one and is not
 * part of it; a last line without its end counts) until end of file.
 * The lines of each read are written before the next read, so that an
 * id typed at a terminal is answered at once. Returns 0, or
 * RIFFLE_ERR_IO (a read or a write failed), RIFFLE_ERR_STOPPED (a
 * signal interrupted a read or a write) or RIFFLE_ERR_NOMEM, with errstr
 * saying what; the bytes read are wiped either way. */
int pseudonym_io_read_fd(struct pseudonym_io *io, int fd, char *errstr,
                         size_t size);

/* Writes the composed lines to out_fd and wipes them. Returns 0, or
 * RIFFLE_ERR_IO or RIFFLE_ERR_STOPPED as above; the lines are wiped
 * either way. */
int pseudonym_io_flush(struct pseudonym_io *io, char *errstr, size_t size);

/* Whether the n bytes at needle are anywhere in io's buffers, up to
 * their capacity. For tests that check a raw id is wiped once used. */
int pseudonym_io_holds(const struct pseudonym_io *io, const void *needle,
                       size_t n);

#endif
