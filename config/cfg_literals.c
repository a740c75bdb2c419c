/*
 * config/cfg_literals.c - integers that libconfig would wrap, found in
 * the configuration's text, see cfg_literals.h.
 *
 * A small scanner of libconfig's syntax: enough to skip comments (#, //
 * and block), strings and names (which may hold digits), and to read an
 * integer literal whole, sign and suffix included. The file has already
 * been parsed by libconfig when this runs, so it is well formed.
 */
#include "config/cfg_literals.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define NAME_MAX_SHOWN 64
#define LITERAL_MAX_SHOWN 40

struct scan {
    const char *s;
    size_t n;
    size_t i;
    int line;
    char name[NAME_MAX_SHOWN]; /* the last name given a value */
};

static int at(const struct scan *sc, size_t k, char c)
{
    return sc->i + k < sc->n && sc->s[sc->i + k] == c;
}

static void skip_to_line_end(struct scan *sc)
{
    while (sc->i < sc->n && sc->s[sc->i] != '\n')
        sc->i++;
}

static void skip_block_comment(struct scan *sc)
{
    sc->i += 2;
    while (sc->i < sc->n && !(at(sc, 0, '*') && at(sc, 1, '/'))) {
        if (sc->s[sc->i] == '\n')
            sc->line++;
        sc->i++;
    }
    sc->i = sc->i + 2 < sc->n ? sc->i + 2 : sc->n;
}

static void skip_string(struct scan *sc)
{
    for (sc->i++; sc->i < sc->n && sc->s[sc->i] != '"'; sc->i++) {
        if (sc->s[sc->i] == '\\' && sc->i + 1 < sc->n)
            sc->i++; /* an escaped quote does not end the string */
        if (sc->s[sc->i] == '\n')
            sc->line++;
    }
    if (sc->i < sc->n)
        sc->i++;
}

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* A name, kept as the key of what follows when '=' or ':' comes next
 * (true and false are names too, but values). */
static void read_name(struct scan *sc)
{
    size_t start = sc->i, len, k;

    while (sc->i < sc->n && is_name_char(sc->s[sc->i]))
        sc->i++;
    len = sc->i - start;
    for (k = sc->i; k < sc->n && (sc->s[k] == ' ' || sc->s[k] == '\t'); k++)
        ;
    if (k < sc->n && (sc->s[k] == '=' || sc->s[k] == ':')) {
        if (len >= sizeof(sc->name))
            len = sizeof(sc->name) - 1;
        memcpy(sc->name, sc->s + start, len);
        sc->name[len] = '\0';
    }
}

/* Whether the digits (no sign, no leading zeros) exceed limit, both
 * decimal strings. */
static int digits_exceed(const char *digits, size_t len, const char *limit)
{
    size_t limit_len = strlen(limit);

    if (len != limit_len)
        return len > limit_len;
    return memcmp(digits, limit, len) > 0;
}

/* What libconfig 1.5 makes of the literal: the 64-bit value its scanner
 * reads (strtoll/strtoull, which saturate) cut to its low 32 bits. */
static int32_t wrapped_value(const char *literal, int hex)
{
    unsigned long long v = hex ? strtoull(literal, NULL, 16)
                               : (unsigned long long)strtoll(literal, NULL, 10);

    return (int32_t)(uint32_t)v;
}

/* Reads the literal at sc->i (a digit); returns 1 when it is an integer
 * without L that does not fit in 32 bits, its text in shown. */
static int read_number(struct scan *sc, char *shown, size_t shown_size,
                       int *wrapped)
{
    size_t start = sc->i, first, len;
    int negative = sc->i > 0 && sc->s[sc->i - 1] == '-';
    int hex = at(sc, 0, '0') && (at(sc, 1, 'x') || at(sc, 1, 'X'));
    int too_big;

    if (hex) {
        sc->i += 2;
        while (sc->i < sc->n && isxdigit((unsigned char)sc->s[sc->i]))
            sc->i++;
    } else {
        while (sc->i < sc->n && isdigit((unsigned char)sc->s[sc->i]))
            sc->i++;
    }
    if (!hex && sc->i < sc->n && strchr(".eE", sc->s[sc->i])) {
        while (sc->i < sc->n && (isdigit((unsigned char)sc->s[sc->i]) ||
                                 strchr(".eE+-", sc->s[sc->i])))
            sc->i++; /* a float: libconfig reads it as a double */
        return 0;
    }
    if (at(sc, 0, 'L')) {
        while (at(sc, 0, 'L'))
            sc->i++; /* L and LL: a 64-bit integer */
        return 0;
    }

    first = start + (hex ? 2 : 0);
    while (first + 1 < sc->i && sc->s[first] == '0')
        first++;
    len = sc->i - first;
    if (hex) /* above 0x7FFFFFFF it would be read as a negative int */
        too_big = len > 8 || (len == 8 && strchr("89abcdefABCDEF",
                                                 sc->s[first]) != NULL);
    else
        too_big = digits_exceed(sc->s + first, len,
                                negative ? "2147483648" : "2147483647");
    if (!too_big)
        return 0;

    len = sc->i - start;
    snprintf(shown, shown_size, "%s%.*s", negative ? "-" : "",
             (int)(len < LITERAL_MAX_SHOWN ? len : LITERAL_MAX_SHOWN),
             sc->s + start);
    *wrapped = wrapped_value(shown, hex);
    return 1;
}

int cfg_literals_check(const char *path, const char *text, size_t len,
                       char *errstr, size_t errstr_size)
{
    struct scan sc = {.s = text, .n = len, .line = 1, .name = "?"};
    char shown[LITERAL_MAX_SHOWN + 2];
    int wrapped;

    while (sc.i < sc.n) {
        char c = sc.s[sc.i];

        if (c == '\n') {
            sc.line++;
            sc.i++;
        } else if (c == '#' || (c == '/' && at(&sc, 1, '/'))) {
            skip_to_line_end(&sc);
        } else if (c == '/' && at(&sc, 1, '*')) {
            skip_block_comment(&sc);
        } else if (c == '"') {
            skip_string(&sc);
        } else if (isalpha((unsigned char)c) || c == '*') {
            read_name(&sc);
        } else if (isdigit((unsigned char)c)) {
            if (read_number(&sc, shown, sizeof(shown), &wrapped)) {
                snprintf(errstr, errstr_size,
                         "%s:%d: %s: %s does not fit in 32 bits, and "
                         "libconfig would read it as %d without a word: "
                         "write %sL for a 64-bit integer",
                         path, sc.line, sc.name, shown, (int)wrapped, shown);
                return RIFFLE_ERR_CFG;
            }
        } else {
            sc.i++;
        }
    }
    return 0;
}
