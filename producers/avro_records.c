/*
 * producers/avro_records.c - the records of a decoded block against
 * their writer schema, see avro_records.h.
 *
 * Follows avro-c 1.11's binary reader (encoding_binary.c, value-read.c)
 * in what it reads, never stricter where avro-c reads on: a long is a
 * varint of at most 10 bytes, an int, enum index or boolean is not
 * range-checked. Recursion is bounded by AVRO_RECORDS_DEPTH_MAX, so the
 * walk itself cannot exhaust the stack that it protects.
 *
 * The schema is first flattened into an array of nodes: avro-c finds a
 * record's field or a union's branch through a hash table, which made
 * walking an Adult record cost about 4,000 instructions, 15 % of
 * `riffle train` on a null-codec container.
 */
#include "producers/avro_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define AVRO_RECORDS_VARINT_MAX 10 /* bytes, as avro-c reads a long */

/* One type of the schema. A record's fields and a union's branches are
 * node indices kids[first] to kids[first + count - 1]; an array's items
 * and a map's values are node first. A link is compiled to its target. */
struct node {
    avro_type_t type;
    int64_t fixed_size;
    size_t first, count;
    avro_schema_t from; /* the schema it was made of (borrowed) */
};

struct avro_records {
    struct node *nodes;
    size_t n, cap;
    size_t *kids;
    size_t nkids, kids_cap;
    size_t root;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    q = realloc(*p, c * size);
    if (!q)
        return RIFFLE_ERR_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int compile(struct avro_records *r, avro_schema_t s, size_t *out);

/* Reserves count kids, then compiles each: compiling one may add nodes
 * and kids of its own, so slots are addressed by index, never pointer. */
static int compile_kids(struct avro_records *r, size_t at, avro_schema_t s,
                        int is_union)
{
    size_t i, first = r->nkids, count, kid;
    int err;

    count = is_union ? avro_schema_union_size(s) : avro_schema_record_size(s);
    if (grow((void **)&r->kids, &r->kids_cap, r->nkids + count,
             sizeof(*r->kids)))
        return RIFFLE_ERR_NOMEM;
    r->nkids += count;
    r->nodes[at].first = first;
    r->nodes[at].count = count;
    for (i = 0; i < count; i++) {
        err = compile(r, is_union ? avro_schema_union_branch(s, (int)i)
                                  : avro_schema_record_field_get_by_index(
                                        s, (int)i),
                      &kid);
        if (err)
            return err;
        r->kids[first + i] = kid;
    }
    return 0;
}

static int compile(struct avro_records *r, avro_schema_t s, size_t *out)
{
    size_t i, at;
    avro_type_t t;

    while (avro_typeof(s) == AVRO_LINK)
        s = avro_schema_link_target(s);
    /* a named type met again (a recursive record) is the same node */
    for (i = 0; i < r->n; i++)
        if (r->nodes[i].from == s) {
            *out = i;
            return 0;
        }
    if (grow((void **)&r->nodes, &r->cap, r->n + 1, sizeof(*r->nodes)))
        return RIFFLE_ERR_NOMEM;
    at = *out = r->n++;
    t = avro_typeof(s);
    memset(&r->nodes[at], 0, sizeof(r->nodes[at]));
    r->nodes[at].type = t;
    r->nodes[at].from = s;
    if (t == AVRO_FIXED)
        r->nodes[at].fixed_size = avro_schema_fixed_size(s);
    if (t == AVRO_RECORD || t == AVRO_UNION)
        return compile_kids(r, at, s, t == AVRO_UNION);
    if (t == AVRO_ARRAY || t == AVRO_MAP) {
        int err = compile(r, t == AVRO_ARRAY ? avro_schema_array_items(s)
                                             : avro_schema_map_values(s),
                          &i);

        r->nodes[at].first = i;
        return err;
    }
    return 0;
}

int avro_records_new(avro_schema_t schema, struct avro_records **out)
{
    struct avro_records *r = calloc(1, sizeof(*r));
    int err;

    if (!r)
        return RIFFLE_ERR_NOMEM;
    err = compile(r, schema, &r->root);
    if (err) {
        avro_records_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

void avro_records_destroy(struct avro_records *r)
{
    if (!r)
        return;
    free(r->nodes);
    free(r->kids);
    free(r);
}

struct walk {
    const struct avro_records *r;
    const unsigned char *p, *end;
    int depth;
    const char *fault; /* what did not fit, for the message */
};

static int walk_fail(struct walk *w, const char *fault)
{
    w->fault = fault;
    return RIFFLE_ERR_DECODE;
}

static int walk_long(struct walk *w, int64_t *out)
{
    uint64_t u = 0;
    int i;

    /* most numbers, counts and lengths take one byte */
    if (w->p < w->end && !(*w->p & 0x80)) {
        u = *w->p++;
        *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
    }

    for (i = 0; i < AVRO_RECORDS_VARINT_MAX; i++) {
        if (w->p == w->end)
            return walk_fail(w, "a number runs past the end of the block");
        u |= (uint64_t)(*w->p & 0x7f) << (7 * i);
        if (!(*w->p++ & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return walk_fail(w, "a number is longer than 10 bytes");
}

static int walk_skip(struct walk *w, int64_t n, const char *what)
{
    if (n < 0 || n > w->end - w->p)
        return walk_fail(w, what);
    w->p += n;
    return 0;
}

/* A string, bytes value or map key: avro-c allocates the length it
 * claims before it reads, and leaked it when the bytes were not there. */
static int walk_bytes(struct walk *w)
{
    int64_t len;
    int err = walk_long(w, &len);

    if (err)
        return err;
    return walk_skip(w, len, "a string or bytes value is longer than the "
                             "rest of the block");
}

static int walk_value(struct walk *w, size_t node);

/* The blocks of an array or a map: a count, and when it is negative the
 * block's size in bytes after it, until a count of 0. */
static int walk_items(struct walk *w, size_t items, int is_map)
{
    int64_t count, bytes, i;
    int err;

    for (;;) {
        err = walk_long(w, &count);
        if (err || count == 0)
            return err;
        if (count < 0) {
            count = count == INT64_MIN ? INT64_MAX : -count;
            err = walk_long(w, &bytes);
            if (err)
                return err;
        }
        /* items of null take no bytes, and avro-c appends each one */
        if (count > w->end - w->p)
            return walk_fail(w, is_map ? "a map claims more entries than "
                                         "the block has bytes left"
                                       : "an array claims more items than "
                                         "the block has bytes left");
        for (i = 0; i < count; i++) {
            err = is_map ? walk_bytes(w) : 0;
            if (!err)
                err = walk_value(w, items);
            if (err)
                return err;
        }
    }
}

static int walk_fields(struct walk *w, const struct node *n)
{
    size_t i;
    int err = 0;

    for (i = 0; !err && i < n->count; i++)
        err = walk_value(w, w->r->kids[n->first + i]);
    return err;
}

static int walk_branch(struct walk *w, const struct node *n)
{
    int64_t branch;
    int err = walk_long(w, &branch);

    if (err)
        return err;
    if (branch < 0 || (uint64_t)branch >= n->count)
        return walk_fail(w, "a union's branch is not one of its types");
    return walk_value(w, w->r->kids[n->first + (size_t)branch]);
}

static int walk_value(struct walk *w, size_t node)
{
    const struct node *n = &w->r->nodes[node];
    int64_t ignored;
    int err;

    if (w->depth >= AVRO_RECORDS_DEPTH_MAX)
        return walk_fail(w, "values are nested too deeply");
    w->depth++;
    switch (n->type) {
    case AVRO_NULL:
        err = 0;
        break;
    case AVRO_BOOLEAN:
        err = walk_skip(w, 1, "a boolean runs past the end of the block");
        break;
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_ENUM:
        err = walk_long(w, &ignored);
        break;
    case AVRO_FLOAT:
        err = walk_skip(w, 4, "a float runs past the end of the block");
        break;
    case AVRO_DOUBLE:
        err = walk_skip(w, 8, "a double runs past the end of the block");
        break;
    case AVRO_STRING:
    case AVRO_BYTES:
        err = walk_bytes(w);
        break;
    case AVRO_FIXED:
        err = walk_skip(w, n->fixed_size,
                        "a fixed value runs past the end of the block");
        break;
    case AVRO_ARRAY:
    case AVRO_MAP:
        err = walk_items(w, n->first, n->type == AVRO_MAP);
        break;
    case AVRO_UNION:
        err = walk_branch(w, n);
        break;
    case AVRO_RECORD:
        err = walk_fields(w, n);
        break;
    default:
        err = walk_fail(w, "the schema has a type avro-c cannot read");
        break;
    }
    w->depth--;
    return err;
}

int avro_records_check(const struct avro_records *r,
                       const unsigned char *data, size_t len, int64_t count,
                       char *errstr, size_t errstr_size)
{
    struct walk w = {r, data, data + len, 0, NULL};
    int64_t i;

    /* every record riffle can use takes a byte at least (its label) */
    if (count < 0 || (uint64_t)count > len) {
        snprintf(errstr, errstr_size, "the count of %lld records is more "
                 "than the block's %zu bytes can hold", (long long)count,
                 len);
        return RIFFLE_ERR_DECODE;
    }
    for (i = 0; i < count; i++) {
        if (walk_value(&w, r->root) != 0) {
            snprintf(errstr, errstr_size, "record %lld: %s",
                     (long long)i + 1, w.fault);
            return RIFFLE_ERR_DECODE;
        }
    }
    return 0;
}
