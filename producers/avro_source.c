/*
 * producers/avro_source.c - Avro container files as an event source, see
 * avro_source.h.
 */
#include "producers/avro_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "producers/avro_check.h"

#define AVRO_SOURCE_NO_FIELD (-1)
/* Records between two looks at the file's size and times: a look is a
 * system call, a record a few hundred instructions, so one in this many
 * costs nothing measurable and still stops a file written into within a
 * block or so of avro-c's reading. */
#define AVRO_SOURCE_STAT_EVERY 1024

struct avro_source {
    const struct cfg *cfg;
    const struct schema *target;
    char path[CFG_PATH_MAX];
    FILE *owned; /* the file avro_source_open() opened, or NULL */
    avro_file_reader_t reader;
    avro_schema_t writer; /* a reference we hold: decref'd on close */
    avro_value_iface_t *iface;
    avro_value_t value;
    int value_ready;
    int column[EVENT_MAX_FIELDS]; /* writer field of each target field,
                                     -1 for a nullable one not in it */
    int id_field;                 /* target index of the generated id */
    int id_index;                 /* target index of the id field */
    long long records;
    /* The file as the check found it: written into in place after that
     * (size, modification or change time moved), avro-c may read bytes
     * the check never saw, so reading stops (file_changed()). */
    FILE *file; /* borrowed or owned: the file both passes read */
    struct stat checked;
    int changed;
};

int avro_source_is_avro(const char *path)
{
    size_t n = strlen(path);

    return n > 5 && strcmp(path + n - 5, ".avro") == 0;
}

/* The primitive type a writer field holds, looking through a union with
 * null; AVRO_LINK stands for "not usable". */
static avro_type_t primitive_of(avro_schema_t s)
{
    size_t i, n;

    if (!is_avro_union(s))
        return avro_typeof(s);
    n = avro_schema_union_size(s);
    for (i = 0; i < n; i++) {
        avro_schema_t b = avro_schema_union_branch(s, (int)i);

        if (!is_avro_null(b))
            return avro_typeof(b);
    }
    return AVRO_LINK;
}

static int map_fields(struct avro_source *src, char *errstr, size_t size)
{
    size_t i, n = schema_field_count(src->target);
    const char *id = cfg_field_of_kind(src->cfg, CFG_FIELD_ID)->name;

    src->id_field = AVRO_SOURCE_NO_FIELD;
    src->id_index = schema_field_index(src->target, id);
    for (i = 0; i < n; i++) {
        const char *name = schema_field_name(src->target, i);
        int w = avro_schema_record_field_get_index(src->writer, name);
        avro_type_t t;

        src->column[i] = w;
        if (w < 0 && strcmp(name, id) == 0) {
            src->id_field = (int)i; /* generated, as produce does */
            continue;
        }
        if (w < 0 && schema_field_nullable(src->target, i))
            continue; /* null in every record, as without a CSV column */
        t = w < 0 ? AVRO_LINK
                  : primitive_of(avro_schema_record_field_get_by_index(
                        src->writer, w));
        if (t == AVRO_LINK || t == AVRO_RECORD || t == AVRO_ARRAY ||
            t == AVRO_MAP || t == AVRO_UNION || t == AVRO_FIXED ||
            t == AVRO_ENUM || t == AVRO_BYTES) {
            snprintf(errstr, size, "%s: field \"%s\" of %s is %s in the "
                     "file", src->path, name, schema_name(src->target),
                     w < 0 ? "missing" : "not a primitive value");
            return RIFFLE_ERR_SCHEMA;
        }
        /* Kinds must agree, as for sources: text read into a numeric
         * field reached cleaning unchecked, and no count showed it. */
        if ((t == AVRO_STRING) !=
            (schema_field_type(src->target, i) == SCHEMA_FIELD_STRING)) {
            snprintf(errstr, size, "%s: field \"%s\" is %s in the file, "
                     "but %s in %s", src->path, name,
                     t == AVRO_STRING ? "text" : "a number",
                     t == AVRO_STRING ? "a number" : "text",
                     schema_name(src->target));
            return RIFFLE_ERR_SCHEMA;
        }
    }
    return 0;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Whether the file is still as src->checked found it; if not, errstr
 * says what moved and how far avro-c had read, and src->changed is set.
 * A write that keeps the size within the file system clock's tick of
 * the last write before the open is not seen: OPERATIONS.md, "Known
 * limitations". */
static int file_changed(struct avro_source *src, char *errstr, size_t size)
{
    struct stat now;
    const char *what;
    if (fstat(fileno(src->file), &now) != 0) {
        snprintf(errstr, size, "%s: cannot look at the file again: %s",
                 src->path, strerror(errno));
        src->changed = 1;
        return 1;
    }
    if (now.st_size != src->checked.st_size)
        what = "its size changed";
    else if (!same_time(&now.st_mtim, &src->checked.st_mtim) ||
             !same_time(&now.st_ctim, &src->checked.st_ctim))
        what = "it was modified";
    else
        return 0;
    snprintf(errstr, size, "%s: written into while being read (%s, %lld "
             "bytes then %lld) after %lld record(s), in the block read up to "
             "byte offset %lld: the check no longer vouches for what "
             "follows; write a new file and rename it over this one",
             src->path, what, (long long)src->checked.st_size,
             (long long)now.st_size, src->records,
             (long long)ftello(src->file));
    src->changed = 1;
    return 1;
}

/* fopen() of a fifo waits for a writer, which may never come; opened
 * without waiting, a fifo reaches the check, which refuses anything but a
 * regular file by name. The flag is taken off again so that reads of a
 * regular file behave as ever. */
static FILE *open_without_waiting(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int flags;
    FILE *f;

    if (fd < 0)
        return NULL;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
        !(f = fdopen(fd, "rb"))) {
        int saved = errno;

        close(fd);
        errno = saved;
        return NULL;
    }
    return f;
}

int avro_source_open(const char *path, const struct cfg *cfg,
                     const struct schema *target, struct avro_source **out,
                     char *errstr, size_t errstr_size)
{
    FILE *f = open_without_waiting(path);
    int err;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: not a readable Avro container "
                 "file: %s", path, strerror(errno));
        return RIFFLE_ERR_IO;
    }
    err = avro_source_open_file(f, path, cfg, target, out, errstr,
                                errstr_size);
    if (err) {
        fclose(f);
        return err;
    }
    (*out)->owned = f;
    return 0;
}

int avro_source_open_file(FILE *f, const char *path, const struct cfg *cfg,
                          const struct schema *target,
                          struct avro_source **out, char *errstr,
                          size_t errstr_size)
{
    struct avro_source *src = calloc(1, sizeof(*src));
    int err;

    if (!src)
        return RIFFLE_ERR_NOMEM;
    src->cfg = cfg;
    src->target = target;
    src->file = f;
    snprintf(src->path, sizeof(src->path), "%s", path);
    if (fstat(fileno(f), &src->checked) != 0) {
        snprintf(errstr, errstr_size, "%s: not a readable Avro container "
                 "file: %s", path, strerror(errno));
        free(src);
        return RIFFLE_ERR_IO;
    }

    /* avro-c leaks when it fails to open a container: what would make
     * it fail is refused here first (avro_check.h), reading the very
     * file avro-c then reads, rewound to its start. */
    err = avro_check_container(f, errstr, errstr_size);
    if (err) {
        char why[256];

        snprintf(why, sizeof(why), "%s", errstr);
        snprintf(errstr, errstr_size, "%s: not a readable Avro container "
                 "file: %s", path, why);
        free(src);
        return err;
    }

    /* avro-c does not close f (0): the caller or avro_source_close()
     * does, whether avro-c's open succeeds or not. */
    if (avro_file_reader_fp(f, src->path, 0, &src->reader) != 0) {
        snprintf(errstr, errstr_size, "%s: not a readable Avro container "
                 "file: %s", path, avro_strerror());
        free(src);
        return RIFFLE_ERR_IO;
    }
    src->writer = avro_file_reader_get_writer_schema(src->reader);
    if (file_changed(src, errstr, errstr_size)) {
        avro_source_close(src);
        return RIFFLE_ERR_IO;
    }
    if (!is_avro_record(src->writer)) {
        snprintf(errstr, errstr_size, "%s: the file's schema is not a "
                 "record", path);
        avro_source_close(src);
        return RIFFLE_ERR_SCHEMA;
    }
    err = map_fields(src, errstr, errstr_size);
    if (!err) {
        src->iface = avro_generic_class_from_schema(src->writer);
        if (!src->iface ||
            avro_generic_value_new(src->iface, &src->value) != 0)
            err = RIFFLE_ERR_NOMEM;
        src->value_ready = err == 0;
    }
    if (err) {
        avro_source_close(src);
        return err;
    }
    *out = src;
    return 0;
}

/* Copies one writer field into the event. */
static int copy_field(struct avro_source *src, struct event *ev, size_t i)
{
    avro_value_t f, b;
    const char *s;
    size_t len;
    int32_t i32;
    int64_t i64;
    double d;
    float fl;

    if (avro_value_get_by_index(&src->value, (size_t)src->column[i], &f,
                                NULL) != 0)
        return -1;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (avro_value_get_current_branch(&f, &b) != 0)
            return -1;
        f = b;
    }
    switch (avro_value_get_type(&f)) {
    case AVRO_NULL:
        return 0; /* already null */
    case AVRO_STRING:
        if (avro_value_get_string(&f, &s, &len) != 0 || len == 0)
            return -1;
        if (memchr(s, '\0', len - 1))
            return -1; /* as the flat decoder refuses them */
        if (schema_find_bad_utf8(s, len - 1) < len - 1)
            return -1; /* avro-c does not check; an Avro string must be */
        return event_set_string(ev, i, s, len - 1); /* len counts the NUL */
    case AVRO_INT32:
    case AVRO_BOOLEAN:
        if (avro_value_get_int(&f, &i32) != 0 &&
            avro_value_get_boolean(&f, &i32) != 0)
            return -1;
        event_set_number(ev, i, (double)i32);
        return 0;
    case AVRO_INT64:
        if (avro_value_get_long(&f, &i64) != 0)
            return -1;
        event_set_number(ev, i, (double)i64);
        return 0;
    case AVRO_FLOAT:
        if (avro_value_get_float(&f, &fl) != 0)
            return -1;
        event_set_number(ev, i, (double)fl);
        return 0;
    case AVRO_DOUBLE:
        if (avro_value_get_double(&f, &d) != 0)
            return -1;
        event_set_number(ev, i, d);
        return 0;
    default:
        return -1;
    }
}

int avro_source_next(struct avro_source *src, struct event *ev,
                     char *errstr, size_t errstr_size)
{
    size_t i, n = schema_field_count(src->target);
    char id[CFG_NAME_MAX + 32];
    int rc;

    if (src->changed)
        return RIFFLE_ERR_IO; /* reported once; nothing more is read */
    avro_value_reset(&src->value);
    rc = avro_file_reader_read_value(src->reader, &src->value);
    /* At the end, at a failure (bytes the check did not see may be its
     * cause) and every so often on the way. */
    if ((rc != 0 || src->records % AVRO_SOURCE_STAT_EVERY == 0) &&
        file_changed(src, errstr, errstr_size))
        return RIFFLE_ERR_IO;
    if (rc == EOF)
        return RIFFLE_ERR_EOF;
    src->records++;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: record %lld: %s", src->path,
                 src->records, avro_strerror());
        return RIFFLE_ERR_IO; /* the container cannot be followed further */
    }

    event_reset(ev, n);
    for (i = 0; i < n; i++) {
        if ((int)i == src->id_field) {
            snprintf(id, sizeof(id), "%s-%lld", src->cfg->id_prefix,
                     src->records);
            rc = event_set_string(ev, i, id, strlen(id));
        } else if (src->column[i] < 0) {
            rc = 0; /* not in the file: left null by event_reset() */
        } else {
            rc = copy_field(src, ev, i);
        }
        if (rc != 0) {
            snprintf(errstr, errstr_size, "%s: record %lld: field \"%s\" "
                     "cannot be read", src->path, src->records,
                     schema_field_name(src->target, i));
            return RIFFLE_ERR_DECODE;
        }
    }
    /* Refused here, counted and reported with its record like a CSV
     * row that cannot be typed, rather than dead-lettered by the learner
     * after it was sent: a file's null or empty id is the file's fault. */
    if (src->id_index >= 0 &&
        (ev->values[src->id_index].kind != VALUE_STRING ||
         ev->values[src->id_index].str_len == 0)) {
        snprintf(errstr, errstr_size, "%s: record %lld (in the block read up "
                 "to byte offset %lld): field \"%s\": found %s, expected "
                 "the event's id (non-empty text)", src->path, src->records,
                 (long long)ftello(src->file),
                 schema_field_name(src->target, (size_t)src->id_index),
                 ev->values[src->id_index].kind == VALUE_NULL ? "null"
                                                              : "empty text");
        return RIFFLE_ERR_DECODE;
    }
    return 0;
}

int avro_source_changed(const struct avro_source *src)
{
    return src->changed;
}

void avro_source_close(struct avro_source *src)
{
    if (!src)
        return;
    if (src->value_ready)
        avro_value_decref(&src->value);
    if (src->iface)
        avro_value_iface_decref(src->iface);
    if (src->writer)
        avro_schema_decref(src->writer);
    if (src->reader)
        (void)avro_file_reader_close(src->reader); /* read-only: no loss */
    if (src->owned)
        (void)fclose(src->owned); /* read-only: nothing to flush */
    free(src);
}
