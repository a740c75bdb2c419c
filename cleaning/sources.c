/*
 * cleaning/sources.c - schema-to-schema field mapping, see sources.h.
 */
#include "cleaning/sources.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct source_map {
    const struct schema *target;
    int origin[EVENT_MAX_FIELDS]; /* per target field: from's index or -1 */
};

static int is_string(enum schema_field_type t)
{
    return t == SCHEMA_FIELD_STRING;
}

/* The source field that target field `name` reads: the map's, else the
 * same name (when same_names), else -1. */
static int find_origin(const struct schema *from,
                       char (*map)[2][CFG_NAME_MAX], size_t map_count,
                       int same_names, const char *name)
{
    size_t k;

    for (k = 0; k < map_count; k++)
        if (strcmp(map[k][0], name) == 0)
            return schema_field_index(from, map[k][1]);
    return same_names ? schema_field_index(from, name) : -1;
}

/* Every pair names a field of each schema. */
static int check_pairs(const struct cfg *cfg, int line, const char *key,
                       const struct schema *target, const struct schema *from,
                       char (*map)[2][CFG_NAME_MAX], size_t map_count,
                       char *errstr, size_t errstr_size)
{
    size_t k;

    for (k = 0; k < map_count; k++) {
        if (schema_field_index(target, map[k][0]) < 0)
            return cfg_error(cfg, line, key, errstr, errstr_size,
                             "entry %zu: \"%s\" is not a field of %s", k + 1,
                             map[k][0], schema_name(target));
        if (schema_field_index(from, map[k][1]) < 0)
            return cfg_error(cfg, line, key, errstr, errstr_size,
                             "entry %zu: \"%s\" is not a field of %s", k + 1,
                             map[k][1], schema_name(from));
    }
    return 0;
}

int source_map_new(const struct cfg *cfg, int line, const char *key,
                   const struct schema *target, const struct schema *from,
                   char (*map)[2][CFG_NAME_MAX], size_t map_count,
                   int same_names, struct source_map **out, char *errstr,
                   size_t errstr_size)
{
    struct source_map *m;
    size_t i, n = schema_field_count(target);
    int err = check_pairs(cfg, line, key, target, from, map, map_count,
                          errstr, errstr_size);

    if (err)
        return err;
    if (!schema_is_flat(from) || schema_field_count(from) > EVENT_MAX_FIELDS)
        return cfg_error(cfg, line, key, errstr, errstr_size, "schema %s "
                         "must be a flat record of at most %d primitive "
                         "fields", schema_name(from), EVENT_MAX_FIELDS);
    m = calloc(1, sizeof(*m));
    if (!m)
        return RIFFLE_ERR_NOMEM;
    m->target = target;

    for (i = 0; i < n; i++) {
        const char *name = schema_field_name(target, i);
        int o = find_origin(from, map, map_count, same_names, name);

        m->origin[i] = o;
        if (o >= 0 && is_string(schema_field_type(target, i)) !=
                          is_string(schema_field_type(from, (size_t)o))) {
            err = cfg_error(cfg, line, key, errstr, errstr_size,
                            "field \"%s\" of %s is a %s, but \"%s\" of %s "
                            "is not", name, schema_name(target),
                            is_string(schema_field_type(target, i))
                                ? "string" : "number",
                            schema_field_name(from, (size_t)o),
                            schema_name(from));
            break;
        }
    }
    if (err) {
        free(m);
        return err;
    }
    *out = m;
    return 0;
}

void source_map_destroy(struct source_map *m)
{
    free(m);
}

int source_map_apply(const struct source_map *m, const struct event *from,
                     struct event *to)
{
    size_t i, n = schema_field_count(m->target);

    event_reset(to, n);
    for (i = 0; i < n; i++) {
        const struct value *v;

        if (m->origin[i] < 0)
            continue;
        v = &from->values[m->origin[i]];
        if (v->kind == VALUE_NUMBER)
            event_set_number(to, i, v->number);
        else if (v->kind == VALUE_STRING &&
                 event_set_string(to, i,
                                  event_string(from, (size_t)m->origin[i]),
                                  v->str_len) != 0)
            return RIFFLE_ERR_NOMEM;
    }
    return 0;
}

int source_map_origin(const struct source_map *m, size_t target_field)
{
    return m->origin[target_field];
}
