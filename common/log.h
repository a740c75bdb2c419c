/*
 * common/log.h - leveled log lines tagged with the component.
 *
 * Every log line goes to stderr as "TIME LEVEL component: message", or,
 * in JSON format, as one object per line with the members "time",
 * "level", "component" and "message" (for log collectors). Messages
 * about data name their Kafka coordinates; payloads and feature values are
 * logged only at debug, and personal values never. Safe to call from any
 * thread: each line is written with one fprintf.
 */
#ifndef RIFFLE_COMMON_LOG_H
#define RIFFLE_COMMON_LOG_H

#include <stddef.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

/* Lines above this level are not printed. Default: info, or the level
 * named by the RIFFLE_LOG_LEVEL environment variable. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* JSON lines instead of text when json is set. Default: text, or the
 * format named by RIFFLE_LOG_FORMAT ("text" or "json"), which also wins
 * over this call so an operator can switch without editing configs. */
void log_set_json(int json);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -1. */
int log_parse_level(const char *name, enum log_level *level);

/* Whether RIFFLE_LOG_LEVEL and RIFFLE_LOG_FORMAT, when set and not
 * empty, name a level and a format: a value the logger does not know
 * would be passed over (info, the configured format), hiding the typo.
 * Returns 0, or -1 with errstr naming the variable, its value and what
 * it may be. */
int log_check_env(char *errstr, size_t errstr_size);

/* s, borrowed, copied into out (size bytes, always terminated; cut short
 * rather than overflow) with every byte a terminal could act on written
 * as \xNN: the C0 controls (newline, escape, ...), DEL, the C1 controls
 * (U+0080 to U+009F) and any byte that is not valid UTF-8 (a lone 0x9b
 * is a control to an 8-bit terminal). Other characters, backslashes
 * included, are copied as they are. For echoing a string the user gave
 * (an argument, a path, a name) outside a log line, whose text form does
 * the same to the whole message. Returns out. */
const char *log_printable(const char *s, char *out, size_t size);

/* Size of log_printable()'s out that holds any string of n bytes. */
#define LOG_PRINTABLE_SIZE(n) (4 * (n) + 1)

void log_write(enum log_level level, const char *component, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));

#define log_error(comp, ...) log_write(LOG_LEVEL_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_write(LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_write(LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_write(LOG_LEVEL_DEBUG, comp, __VA_ARGS__)

#endif
