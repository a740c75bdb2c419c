/*
 * config/cfg_literals.h - what libconfig 1.5 lets through, or refuses
 * without naming it, found in the configuration's text: integers it
 * would wrap, @include directives, a setting given twice.
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

/* Keys of open groups that cfg_literals_find_duplicate() keeps: past
 * that many (no riffle configuration comes near), it names none. */
#define CFG_LITERALS_MAX_OPEN_KEYS 512

/* The line of the first @include directive of text (outside strings and
 * comments), or 0 when there is none. The loader refuses them: libconfig
 * reads an included file without giving riffle its text or its name, so
 * neither the check above nor an error's file:line would cover it. */
int cfg_literals_find_include(const char *text, size_t len);

/* The first key of text given twice in one group, which is where
 * libconfig stops with "duplicate setting name" and no name: returns 1
 * with the key (cut to name_size), the line of the repeat and the line
 * of its first appearance, or 0 when none is found. */
int cfg_literals_find_duplicate(const char *text, size_t len, char *name,
                                size_t name_size, int *line,
                                int *first_line);

#endif
