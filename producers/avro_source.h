/*
 * producers/avro_source.h - reads events from an Avro object container
 * file, for `riffle train` and `riffle score`.
 *
 * The file's own (writer) schema is matched to the pipeline's input
 * schema by field name: each input field must exist in the file with a
 * primitive type, optionally in a union with null, except the event id,
 * which is generated ("<id_prefix>-<record number>") when the file has
 * none. Records become the same flat events that decoding a Kafka
 * message gives. Reading goes through avro-c's container reader, after
 * avro_check.h has checked the container's header and block sizes (avro-c
 * leaks on a container it cannot open and trusts a block's declared
 * size); both read one open file, never the path twice. One reader per
 * thread.
 */
#ifndef RIFFLE_PRODUCERS_AVRO_SOURCE_H
#define RIFFLE_PRODUCERS_AVRO_SOURCE_H

#include <stddef.h>
#include <stdio.h>

#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"

struct avro_source;

/* Opens path and maps its schema onto target (borrowed, must outlive the
 * source), as avro_source_open_file() does with the file opened once
 * here and closed by avro_source_close(). Returns 0, RIFFLE_ERR_IO
 * (cannot be opened, or not a regular file: a pipe is refused),
 * RIFFLE_ERR_DECODE (a damaged container) or RIFFLE_ERR_SCHEMA with
 * errstr naming the file and the field or the fault. */
int avro_source_open(const char *path, const struct cfg *cfg,
                     const struct schema *target, struct avro_source **out,
                     char *errstr, size_t errstr_size);

/* The same from f, a regular file open for reading (borrowed: it must
 * stay open until avro_source_close(), which leaves it open). The check
 * and avro-c both read f, from its start; path only names the file in
 * messages. On failure f is left open, at no particular position. */
int avro_source_open_file(FILE *f, const char *path, const struct cfg *cfg,
                          const struct schema *target,
                          struct avro_source **out, char *errstr,
                          size_t errstr_size);

/* Reads the next record into ev. Returns 0; RIFFLE_ERR_EOF at the end;
 * RIFFLE_ERR_DECODE with errstr "path: record N: what" when one record's
 * field cannot be used or its id is null or empty (the next call goes
 * on); or RIFFLE_ERR_IO when the
 * container itself is damaged or the file was written into since it was
 * opened (avro_source_changed(); errstr names the file, the records read
 * and the byte offset avro-c had read up to): reading stops. The file's
 * size and times are looked at every AVRO_SOURCE_STAT_EVERY records and
 * at the end, so the records before the change was seen were returned. */
int avro_source_next(struct avro_source *src, struct event *ev,
                     char *errstr, size_t errstr_size);

/* Whether reading stopped because the file was written into while it
 * was read (size, modification or change time no longer as opened). */
int avro_source_changed(const struct avro_source *src);

void avro_source_close(struct avro_source *src); /* NULL-safe */

/* Whether path names an Avro container file (by its ".avro" suffix). */
int avro_source_is_avro(const char *path);

#endif
