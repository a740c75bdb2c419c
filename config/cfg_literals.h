/*
 * config/cfg_literals.h - integers that libconfig would wrap.
 *
 * libconfig 1.5 (Debian 12) reads an integer written without an L suffix
 * into 32 bits and keeps only the low 32 of a larger one: `partitions =
 * 4294967297;` loads as 1 and `min = -3000000000;` as 1294967296, with no
 * error, so a bound checked afterwards may even pass. The loader scans
 * the file's text for such literals before it reads any setting.
 */
#ifndef RIFFLE_CFG_LITERALS_H
#define RIFFLE_CFG_LITERALS_H

#include <stddef.h>

/* Checks text (len bytes, the contents of path) for an integer literal
 * without L that does not fit in 32 bits: a decimal outside
 * [-2^31, 2^31 - 1] or a hexadecimal above 0x7FFFFFFF. Strings and
 * comments are skipped. Returns 0, or RIFFLE_ERR_CFG with
 * "path:line: key: ..." in errstr, key being the name the literal is
 * given to ("?" when none precedes it). */
int cfg_literals_check(const char *path, const char *text, size_t len,
                       char *errstr, size_t errstr_size);

#endif
