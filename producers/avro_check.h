/*
 * producers/avro_check.h - checks an Avro object container file's header
 * and blocks before avro-c opens it.
 *
 * avro-c 1.11 (Debian 12's libavro23) leaks what it has allocated when
 * avro_file_reader() fails: the reader, the decoder of the metadata, the
 * parsed schema and the first block's buffer, a few hundred bytes to
 * tens of kilobytes a file, for a truncated header, a schema that is not
 * one, a codec it does not know, or a first block it cannot read. Once
 * the file is open, a damaged later block is reported without a leak.
 * Nor does avro-c check a block's header: it allocates whatever size a
 * block declares, and a negative record count ends in malloc(-1).
 * So riffle reads the header itself (magic, metadata, sync marker), has
 * the schema parsed, checks the codec's name, walks the blocks (each
 * count not negative, each size within the file, each sync marker the
 * header's) and decodes every block as avro-c will: deflate and lzma (a
 * raw LZMA2 stream of preset 6) as streams, snappy with its CRC-32,
 * refusing one that does not decode or grows past 64 MiB: avro-c decodes
 * a block whole into memory, so a small bomb would take gigabytes, and
 * allocates what a snappy header claims. The records of each decoded
 * block are then walked through the writer schema (avro_records.h),
 * for the strings avro-c would leak, the arrays it would fill without
 * end and the nesting that would take its stack. Only a file that
 * passes is handed to avro-c, and as the same open file, so a file put
 * in its place after the check is never read. Left to avro-c: values
 * within records (an enum index, a string that is not UTF-8), which it
 * reads without a leak and avro_source.c judges.
 */
#ifndef RIFFLE_PRODUCERS_AVRO_CHECK_H
#define RIFFLE_PRODUCERS_AVRO_CHECK_H

#include <stddef.h>
#include <stdio.h>

/* Checks the container open as f (borrowed), reading it from its start:
 * the same open file is then handed to avro-c, so that what avro-c reads
 * is what was checked, even if the path is replaced meanwhile. f must be
 * a regular file: the check needs its size to bound every length, and
 * a pipe or a terminal could not be read a second time. Returns 0 with
 * f back at its start; RIFFLE_ERR_IO (not a regular file, or it cannot
 * be read or rewound) or RIFFLE_ERR_DECODE (damaged) with errstr saying
 * what is wrong and at which byte, without the path, and f anywhere.
 * Reads the header and every compressed block, and seeks over the
 * blocks of the null codec. */
int avro_check_container(FILE *f, char *errstr, size_t errstr_size);

#endif
