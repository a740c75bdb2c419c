/*
 * common/log.c - leveled log lines, see log.h.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

#define LOG_LINE_MAX 1024 /* bytes; longer messages are truncated */

static int level_initialized;
static enum log_level current_level = LOG_LEVEL_INFO;
static int json_lines;

static const char *level_names[] = {"error", "warn", "info", "debug"};

int log_parse_level(const char *name, enum log_level *level)
{
    int i;

    for (i = 0; i <= LOG_LEVEL_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_check_env(char *errstr, size_t errstr_size)
{
    const char *level = getenv("RIFFLE_LOG_LEVEL");
    const char *format = getenv("RIFFLE_LOG_FORMAT");
    enum log_level parsed;

    if (level && *level && log_parse_level(level, &parsed) != 0) {
        snprintf(errstr, errstr_size, "RIFFLE_LOG_LEVEL=%s: expected "
                 "error, warn, info or debug", level);
        return -1;
    }
    if (format && *format && strcmp(format, "text") != 0 &&
        strcmp(format, "json") != 0) {
        snprintf(errstr, errstr_size, "RIFFLE_LOG_FORMAT=%s: expected text "
                 "or json", format);
        return -1;
    }
    return 0;
}

static void init_level_from_env(void)
{
    const char *env = getenv("RIFFLE_LOG_LEVEL");

    level_initialized = 1;
    log_set_json(json_lines);
    /* An unknown level keeps info; riffle refused it first
     * (log_check_env()). */
    if (env)
        (void)log_parse_level(env, &current_level);
}

void log_set_json(int json)
{
    const char *env = getenv("RIFFLE_LOG_FORMAT");

    if (env && strcmp(env, "json") == 0)
        json = 1;
    else if (env && strcmp(env, "text") == 0)
        json = 0;
    json_lines = json;
}

/* Whether the character at p, of *n bytes (set here), is one a terminal
 * could act on: a C0 control, DEL, a C1 control (U+0080 to U+009F, two
 * bytes), or a byte that is not UTF-8 (*n is 1, the byte >= 0x80). */
static int terminal_control(const unsigned char *p, size_t *n)
{
    *n = utf8_char_length(p, 4); /* s's NUL ends a short one */
    if (*n == 0) {
        *n = 1;
        return 1;
    }
    return (*n == 1 && (*p < 0x20 || *p == 0x7f)) ||
           (*n == 2 && p[0] == 0xc2 && p[1] <= 0x9f);
}

/* Appends s to out (size bytes, used so far *len) as JSON string content
 * in ASCII and whole UTF-8 characters; stops early rather than overflow
 * or cut a character. What a terminal could act on is escaped, as in
 * text lines: a control as \u00XX, which decodes to itself, and a byte
 * that is not UTF-8, which no JSON string can hold, as the text \xNN. */
static void json_escape(char *out, size_t size, size_t *len, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    for (; *p && *len + 7 < size; p += n) {
        if (!terminal_control(p, &n)) {
            if (*p == '"' || *p == '\\')
                out[(*len)++] = '\\';
            memcpy(out + *len, p, n); /* n <= 4: the test above left room */
            *len += n;
        } else if (n == 1 && *p >= 0x80) {
            *len += (size_t)snprintf(out + *len, size - *len, "\\\\x%02x",
                                     *p);
        } else {
            *len += (size_t)snprintf(out + *len, size - *len, "\\u%04x",
                                     n == 1 ? *p : p[1]);
        }
    }
    out[*len] = '\0';
}

const char *log_printable(const char *s, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0, n;
    int escape;

    if (size == 0)
        return out;
    for (; *p; p += n) {
        escape = terminal_control(p, &n);
        if (escape)
            n = 1; /* a C1 control's two bytes one at a time */
        if (len + (escape ? 4 : n) >= size)
            break;
        if (escape) {
            len += (size_t)snprintf(out + len, size - len, "\\x%02x", *p);
        } else {
            memcpy(out + len, p, n);
            len += n;
        }
    }
    out[len] = '\0';
    return out;
}

static void write_json(const char *stamp, long ms, enum log_level level,
                       const char *component, const char *msg)
{
    char line[2 * LOG_LINE_MAX + 128];
    size_t len = 0;

    len = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s.%03ldZ\","
                           "\"level\":\"%s\",\"component\":\"", stamp, ms,
                           level_names[level]);
    json_escape(line, sizeof(line), &len, component);
    len += (size_t)snprintf(line + len, sizeof(line) - len,
                            "\",\"message\":\"");
    json_escape(line, sizeof(line), &len, msg);
    fprintf(stderr, "%s\"}\n", line);
}

void log_set_level(enum log_level level)
{
    level_initialized = 1;
    current_level = level;
}

enum log_level log_get_level(void)
{
    if (!level_initialized)
        init_level_from_env();
    return current_level;
}

void log_write(enum log_level level, const char *component, const char *fmt,
               ...)
{
    char msg[LOG_LINE_MAX];
    char shown[LOG_PRINTABLE_SIZE(LOG_LINE_MAX)];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level > log_get_level())
        return;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    if (json_lines)
        write_json(stamp, ts.tv_nsec / 1000000, level, component, msg);
    else
        fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp,
                ts.tv_nsec / 1000000, level_names[level], component,
                log_printable(msg, shown, sizeof(shown)));
}
