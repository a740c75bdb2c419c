/*
 * producers/avro_records.h - checks that the records of one decoded
 * container block fit their writer schema, before avro-c reads them.
 *
 * avro-c's reader leaks the buffer of a string, bytes value or map key
 * whose length runs past the end of its block (it allocates the claimed
 * length, up to 2^63 bytes, then fails to fill it), appends as many
 * items as an array block claims even when they take no bytes (an array
 * of nulls of count 2^62), and recurses once a level of nesting, which
 * a recursive schema lets the data repeat until the stack runs out. So
 * the container check (avro_check.h) walks every record of every block
 * through the writer schema, as avro-c will read it, and refuses a block
 * whose records do not fit: a length past the block's end, a union
 * branch the union does not have, an array or map block claiming more
 * items than bytes are left, nesting deeper than AVRO_RECORDS_DEPTH_MAX,
 * fewer records than the block's count, or a count above the block's
 * size in bytes (a record riffle can use takes one byte at least, for
 * its label, and a count of records of no bytes would keep avro-c
 * reading for ever). Bytes after the last record
 * are ignored, as avro-c ignores them. Values are not judged (an enum's
 * index, a string's UTF-8): avro-c reads those without a leak, and
 * avro_source.c refuses what it cannot use. Called on the thread that
 * checks the container.
 */
#ifndef RIFFLE_PRODUCERS_AVRO_RECORDS_H
#define RIFFLE_PRODUCERS_AVRO_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

/* Levels of records, arrays, maps and unions inside one another: far
 * more than any schema riffle reads needs, far fewer than exhaust a
 * thread's stack in avro-c's recursive reader. */
#define AVRO_RECORDS_DEPTH_MAX 1000

struct avro_records;

/* Compiles schema (borrowed; only needed during the call) for walking.
 * Returns 0 with *out to free with avro_records_destroy(), or
 * RIFFLE_ERR_NOMEM. */
int avro_records_new(avro_schema_t schema, struct avro_records **out);

/* Walks count records through the len bytes at data (borrowed). Returns
 * 0, or RIFFLE_ERR_DECODE with errstr "record N: what is wrong" (N from
 * 1), or "the count ..." when count cannot be right. */
int avro_records_check(const struct avro_records *r,
                       const unsigned char *data, size_t len, int64_t count,
                       char *errstr, size_t errstr_size);

void avro_records_destroy(struct avro_records *r); /* NULL-safe */

#endif
