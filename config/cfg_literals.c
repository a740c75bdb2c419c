/*
 * config/cfg_literals.c - what libconfig would wrap, follow or refuse
 * without a name, found in the configuration's text: integers past 32
 * bits, @include directives, a setting given twice; see cfg_literals.h.
 *
 * A small scanner of libconfig's syntax: enough to skip comments (#, //
 * and block), strings and names (which may hold digits), to read an
 * integer literal whole, sign and suffix included, and to follow groups'
 * braces. cfg_literals_check() runs on text libconfig has parsed, so it
 * is well formed; the @include and duplicate scans run on text libconfig
 * has not read yet or has refused, so every step stays within len bytes
 * and an unclosed comment, string or group only ends the scan.
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
 * (true and false are names too, but values); returns 1 for a key. */
static int read_name(struct scan *sc)
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
        return 1;
    }
    return 0;
}

/* Steps over what holds no setting or literal at sc->i: a line end, a
 * comment or a string. Returns 0, leaving sc->i, at anything else. */
static int skip_inert(struct scan *sc)
{
    char c = sc->s[sc->i];

    if (c == '\n') {
        sc->line++;
        sc->i++;
    } else if (c == '#' || (c == '/' && at(sc, 1, '/'))) {
        skip_to_line_end(sc);
    } else if (c == '/' && at(sc, 1, '*')) {
        skip_block_comment(sc);
    } else if (c == '"') {
        skip_string(sc);
    } else {
        return 0;
    }
    return 1;
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

        if (skip_inert(&sc)) {
            continue;
        } else if (isalpha((unsigned char)c) || c == '*') {
            (void)read_name(&sc); /* a value such as true needs no key */
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

int cfg_literals_find_include(const char *text, size_t len)
{
    struct scan sc = {.s = text, .n = len, .line = 1, .name = "?"};
    static const char directive[] = "@include";

    while (sc.i < sc.n) {
        if (skip_inert(&sc))
            continue;
        if (sc.n - sc.i >= sizeof(directive) - 1 &&
            memcmp(sc.s + sc.i, directive, sizeof(directive) - 1) == 0)
            return sc.line;
        sc.i++;
    }
    return 0;
}

/* A key seen in the group being scanned, or in one around it. */
struct seen_key {
    char name[NAME_MAX_SHOWN];
    int depth; /* of its group: 0 for the root */
    int line;
};

/* Records the key just read at depth; returns the line where the same
 * group gave it first, 0 when it did not, or -1 when too many keys are
 * open to tell (the caller then names none). */
static int note_key(struct seen_key *seen, size_t *count, const char *name,
                    int depth, int line)
{
    size_t k;

    for (k = *count; k-- > 0 && seen[k].depth == depth;)
        if (strcmp(seen[k].name, name) == 0)
            return seen[k].line;
    if (*count == CFG_LITERALS_MAX_OPEN_KEYS)
        return -1;
    snprintf(seen[*count].name, sizeof(seen[*count].name), "%s", name);
    seen[*count].depth = depth;
    seen[(*count)++].line = line;
    return 0;
}

int cfg_literals_find_duplicate(const char *text, size_t len, char *name,
                                size_t name_size, int *line,
                                int *first_line)
{
    struct scan sc = {.s = text, .n = len, .line = 1, .name = "?"};
    struct seen_key seen[CFG_LITERALS_MAX_OPEN_KEYS];
    size_t count = 0;
    int depth = 0, first;

    while (sc.i < sc.n) {
        char c = sc.s[sc.i];

        if (skip_inert(&sc))
            continue;
        if (isalpha((unsigned char)c) || c == '*') {
            if (!read_name(&sc))
                continue;
            first = note_key(seen, &count, sc.name, depth, sc.line);
            if (first < 0)
                return 0;
            if (first > 0) {
                snprintf(name, name_size, "%s", sc.name);
                *line = sc.line;
                *first_line = first;
                return 1;
            }
            continue;
        }
        if (c == '{') {
            depth++;
        } else if (c == '}' && depth > 0) {
            while (count > 0 && seen[count - 1].depth == depth)
                count--; /* the group's keys close with it */
            depth--;
        }
        sc.i++;
    }
    return 0;
}
