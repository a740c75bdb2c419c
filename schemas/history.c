/*
 * schemas/history.c - the versions of one of riffle's output schemas.
 *
 * Looks a record's fingerprint up among the current schema and the files
 * of schemas/history/, named by fingerprint, so finding a version costs
 * one file name and no directory scan. A version found, or found missing,
 * is remembered: a topic written by an older riffle holds thousands of
 * records of the same few versions. Never touches Kafka; one thread.
 */
#include "schemas/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

/* Versions kept loaded: riffle has released a handful of each schema. */
#define HISTORY_VERSIONS_MAX 32
/* Fingerprints known to have no history file; past this bound (a topic
 * holding foreign records) one is looked for again each time: slower,
 * not wrong, and found versions keep their own room. */
#define HISTORY_MISSES_MAX 32
#define HISTORY_PATH_MAX 4096 /* Linux PATH_MAX: any folder riffle can open */

struct schema_history {
    char *path; /* the current .avsc */
    struct schema *current;
    struct schema *versions[HISTORY_VERSIONS_MAX]; /* loaded so far */
    size_t version_count;
    uint64_t misses[HISTORY_MISSES_MAX];
    size_t miss_count;
};

void schema_history_path(const char *path, uint64_t fp, char *out,
                         size_t out_size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    int stem_len = dot ? (int)(dot - base) : (int)strlen(base);

    snprintf(out, out_size, "%.*s%s/%.*s.%016" PRIx64 ".avsc", dir_len, path,
             SCHEMA_HISTORY_DIR, stem_len, base, fp);
}

int schema_history_new(const char *path, struct schema_history **out,
                       char *errstr, size_t errstr_size)
{
    struct schema_history *h = calloc(1, sizeof(*h));
    int err;

    *out = NULL;
    if (h)
        h->path = strdup(path);
    if (!h || !h->path) {
        snprintf(errstr, errstr_size, "out of memory");
        schema_history_destroy(h);
        return RIFFLE_ERR_NOMEM;
    }

    err = schema_load_file(path, &h->current, errstr, errstr_size);
    if (err) {
        schema_history_destroy(h);
        return err;
    }
    *out = h;
    return 0;
}

void schema_history_destroy(struct schema_history *h)
{
    size_t i;

    if (!h)
        return;
    for (i = 0; i < h->version_count; i++)
        schema_destroy(h->versions[i]);
    schema_destroy(h->current);
    free(h->path);
    free(h);
}

const struct schema *schema_history_current(const struct schema_history *h)
{
    return h->current;
}

/* The history file of fp into *out, or NULL when there is none. A file
 * that exists must be a version of the same record under the fingerprint
 * its name gives: a misnamed file would print records with the wrong
 * field names. */
static int load_version(const struct schema_history *h, uint64_t fp,
                        struct schema **out, char *errstr, size_t size)
{
    char path[HISTORY_PATH_MAX];
    int err;

    *out = NULL;
    schema_history_path(h->path, fp, path, sizeof(path));
    if (access(path, F_OK) != 0)
        return 0;

    err = schema_load_file(path, out, errstr, size);
    if (err)
        return err;
    if (schema_fingerprint(*out) != fp ||
        strcmp(schema_name(*out), schema_name(h->current)) != 0) {
        snprintf(errstr, size, "%s: holds %s of fingerprint 0x%016" PRIx64
                 ", not an earlier %s of the fingerprint its name gives",
                 path, schema_name(*out), schema_fingerprint(*out),
                 schema_name(h->current));
        schema_destroy(*out);
        *out = NULL;
        return RIFFLE_ERR_SCHEMA;
    }
    return 0;
}

/* Whether fp is known to have no history file. */
static int known_missing(const struct schema_history *h, uint64_t fp)
{
    size_t i;

    for (i = 0; i < h->miss_count; i++)
        if (h->misses[i] == fp)
            return 1;
    return 0;
}

int schema_history_find(struct schema_history *h, const void *data,
                        size_t len, const struct schema **out, char *errstr,
                        size_t errstr_size)
{
    struct schema *found;
    char why[64];
    uint64_t fp;
    size_t i;
    int err;

    *out = h->current;
    if (schema_peek_fingerprint(data, len, &fp, why, sizeof(why)) != 0 ||
        fp == schema_fingerprint(h->current))
        return 0;
    for (i = 0; i < h->version_count; i++) {
        if (schema_fingerprint(h->versions[i]) == fp) {
            *out = h->versions[i];
            return 0;
        }
    }
    if (known_missing(h, fp))
        return 0;

    err = load_version(h, fp, &found, errstr, errstr_size);
    if (err)
        return err;
    if (!found) {
        if (h->miss_count < HISTORY_MISSES_MAX)
            h->misses[h->miss_count++] = fp;
        return 0;
    }
    if (h->version_count == HISTORY_VERSIONS_MAX) {
        schema_destroy(found);
        snprintf(errstr, errstr_size, "more than %d versions of %s in use",
                 HISTORY_VERSIONS_MAX, schema_name(h->current));
        return RIFFLE_ERR_SCHEMA;
    }
    h->versions[h->version_count++] = found;
    *out = found;
    return 0;
}

int schema_history_value_for(struct schema_history *h, const void *data,
                             size_t len, const struct schema **value_schema,
                             avro_value_t *value, char *errstr,
                             size_t errstr_size)
{
    const struct schema *writer;
    int err = schema_history_find(h, data, len, &writer, errstr,
                                  errstr_size);

    if (err || writer == *value_schema)
        return err;
    if (*value_schema)
        avro_value_decref(value);
    *value_schema = NULL;
    err = schema_new_value(writer, value);
    if (err) {
        snprintf(errstr, errstr_size, "out of memory");
        return err;
    }
    *value_schema = writer;
    return 0;
}
