/*
 * learner/features.c - hashed feature extraction, see features.h.
 */
#include "learner/features.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/err.h"
#include "common/numfmt.h"
#include "learner/hash.h"

#define FEATURES_STD_MIN 1e-9 /* below this a field is constant: no scaling */
#define FEATURES_CROSS_SEED 0x5bd1e995u /* any fixed odd constant */
#define FEATURES_NO_SLOT UINT8_MAX /* a namespace that is not crossed */
/* Crossed positions whose last pair and hash are kept: more than any
 * bundled configuration crosses (Elec2: 3). */
#define FEATURES_CROSS_MEMO 64

/* One field the model sees, in configuration order; dropped fields and
 * fields of other kinds are left out once at creation, so the per-event
 * loop does not test them again. */
struct field_step {
    uint16_t field;        /* index in cfg->fields */
    uint16_t schema_index; /* where the event holds its value */
    uint16_t categorical;  /* 1: categorical, 0: numeric */
    uint16_t ns;           /* the field's namespace, field_ns[field] */
    /* The field's settings the loop reads, copied from cfg->fields,
     * whose entries lie kilobytes apart. */
    uint8_t transform;         /* enum cfg_transform */
    uint8_t missing_indicator; /* numeric: also "field is missing" */
    uint8_t missing_token;     /* categorical: null is the missing token */
};

struct feature_builder {
    const struct cfg *cfg;
    const struct running_stats *stats;
    uint32_t mask;
    struct field_step steps[CFG_MAX_FIELDS];
    size_t step_count;
    /* The categorical steps for features_hint_event(): those whose value
     * the features see as it comes (no privacy action), and those whose
     * value the anonymizer replaces. */
    struct field_step raw_tokens[CFG_MAX_FIELDS];
    size_t raw_token_count;
    struct field_step replaced_tokens[CFG_MAX_FIELDS];
    size_t replaced_token_count;
    /* The numeric steps whose transform is a function of the value alone
     * (log1p), for their number hints. */
    struct field_step pure_numbers[CFG_MAX_FIELDS];
    size_t pure_number_count;
    unsigned char is_token[CFG_MAX_FIELDS]; /* a categorical step */
    int schema_index[CFG_MAX_FIELDS];
    uint32_t field_hash[CFG_MAX_FIELDS];   /* seed for the field's tokens */
    uint32_t missing_hash[CFG_MAX_FIELDS]; /* the missing indicator */
    uint16_t field_ns[CFG_MAX_FIELDS];     /* namespace of each field */
    uint16_t cross[CFG_MAX_INTERACTIONS][2];
    size_t cross_count;
    /* The crossed namespaces: each one's slot (FEATURES_NO_SLOT when not
     * crossed), and per slot, an event's features of that namespace, by
     * position (scratch, see list_members()). */
    uint8_t ns_slot[CFG_MAX_FIELDS];
    uint8_t cross_slot[CFG_MAX_INTERACTIONS][2];
    size_t slot_count;
    uint16_t member[2 * CFG_MAX_INTERACTIONS][2 * CFG_MAX_FIELDS];
    size_t member_count[2 * CFG_MAX_INTERACTIONS];
    /* The last pair of full hashes crossed at each of the first
     * FEATURES_CROSS_MEMO crossed positions, and its hash: numbers cross
     * the same field hashes every event (Elec2's three crosses). */
    uint32_t memo_pair[FEATURES_CROSS_MEMO][2];
    uint32_t memo_hash[FEATURES_CROSS_MEMO];
    unsigned char memo_used[FEATURES_CROSS_MEMO];
    /* scratch for one event: full hash and namespace of each feature */
    uint32_t full[FEATURES_MAX];
    uint16_t ns[FEATURES_MAX];
    /* Collision counting: which full hash first took each weight slot.
     * The slot's number already holds the hash's low bits, so a slot
     * keeps only the bits above them, plus one (0 means unused): 16
     * bits a slot from FEATURES_OWNER16_MIN_BITS up, half the memory
     * and the cache lines that a 32-bit full hash took; 32 below. */
    uint16_t *owner16;
    uint32_t *owner32;
    unsigned owner_shift;    /* the table's bits */
    unsigned char *collided; /* bitmap: slot already counted */
    struct feature_counts counts;
};

/* Namespaces are numbered by first appearance in the field list. */
static uint16_t namespace_id(const struct cfg *cfg, const char *name)
{
    size_t i;
    uint16_t id = 0;

    for (i = 0; i < cfg->field_count; i++) {
        const char *ns = cfg->fields[i].namespace_name;
        size_t j;

        for (j = 0; j < i; j++)
            if (strcmp(cfg->fields[j].namespace_name, ns) == 0)
                break;
        if (j < i)
            continue; /* seen before: already numbered */
        if (strcmp(ns, name) == 0)
            return id;
        id++;
    }
    return UINT16_MAX; /* cfg.c checked every interaction's namespaces */
}

/* From 2^17 slots up, a 32-bit hash has at most 15 bits above the slot's,
 * and their value plus one fits 16 bits. */
#define FEATURES_OWNER16_MIN_BITS 17

/* Linux 5.14 and later fault a range in, writable (older C headers may
 * lack the name; older kernels answer EINVAL). */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The smallest owner table commit_pages() faults in at creation: 2^20
 * slots of 16-bit tags, the largest that count_collisions is on for by
 * default. A slot is read before it is first written, so a page a lazily
 * faulted table first meets costs two faults (the shared zero page, then
 * its own copy); click-through's 160,019 distinct features reach every
 * page of its 2 MiB table and of the 128 KiB bitmap within the run, 1,090
 * faults inside `seconds`, against 544 pages committed in one call.
 * Smaller tables stay lazy: Adult's 108 distinct features touch at most
 * 108 of its 128 pages, and committing would fault in the rest for
 * nothing. */
#define FEATURES_COMMIT_MIN_BYTES ((size_t)2 << 20)

/* Faults in, writable, the whole pages within [p, p + bytes), memory of
 * calloc() that is about to be used throughout. Only a saving: if the
 * kernel cannot (too old, or short of memory now), the pages fault in
 * as they are first used, as they would without this, so the answer is
 * ignored. */
static void commit_pages(void *p, size_t bytes)
{
    long size = sysconf(_SC_PAGESIZE);
    uintptr_t page = size > 0 ? (uintptr_t)size : 4096;
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(page - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

static int alloc_collision_tables(struct feature_builder *fb, unsigned bits)
{
    size_t slots = (size_t)1 << bits;
    size_t owner_bytes;

    fb->owner_shift = bits;
    if (bits >= FEATURES_OWNER16_MIN_BITS) {
        owner_bytes = slots * sizeof(uint16_t);
        fb->owner16 = calloc(slots, sizeof(uint16_t));
    } else {
        owner_bytes = slots * sizeof(uint32_t);
        fb->owner32 = calloc(slots, sizeof(uint32_t));
    }
    fb->collided = calloc(slots / 8 + 1, 1);
    if (!(fb->owner16 || fb->owner32) || !fb->collided)
        return RIFFLE_ERR_NOMEM;

    if (owner_bytes >= FEATURES_COMMIT_MIN_BYTES) {
        commit_pages(fb->owner16 ? (void *)fb->owner16 : (void *)fb->owner32,
                     owner_bytes);
        commit_pages(fb->collided, slots / 8 + 1);
    }
    return 0;
}

/* Lists the fields features_build() turns into features, in order. */
static void plan_steps(struct feature_builder *fb)
{
    const struct cfg *cfg = fb->cfg;
    size_t i;

    fb->step_count = 0;
    fb->raw_token_count = 0;
    fb->replaced_token_count = 0;
    fb->pure_number_count = 0;
    for (i = 0; i < cfg->field_count; i++) {
        const struct cfg_field *f = &cfg->fields[i];
        struct field_step *st = &fb->steps[fb->step_count];

        /* A dropped field is gone for the model too, not a constant. */
        if (f->privacy == CFG_PRIVACY_DROP)
            continue;
        if (f->kind != CFG_FIELD_NUMERIC && f->kind != CFG_FIELD_CATEGORICAL)
            continue;
        st->field = (uint16_t)i;
        st->schema_index = (uint16_t)fb->schema_index[i];
        st->categorical = f->kind == CFG_FIELD_CATEGORICAL;
        st->ns = fb->field_ns[i];
        st->transform = (uint8_t)f->transform;
        st->missing_indicator = f->missing_indicator != 0;
        st->missing_token = f->missing == CFG_MISSING_TOKEN;
        fb->step_count++;
        if (!st->categorical && f->transform == CFG_TRANSFORM_LOG1P &&
            f->privacy == CFG_PRIVACY_NONE)
            fb->pure_numbers[fb->pure_number_count++] = *st;
        if (!st->categorical)
            continue;
        fb->is_token[i] = 1;
        if (f->privacy == CFG_PRIVACY_NONE)
            fb->raw_tokens[fb->raw_token_count++] = *st;
        else
            fb->replaced_tokens[fb->replaced_token_count++] = *st;
    }
}

/* Numbers the crossed namespaces, each once, for list_members(). */
static void plan_slots(struct feature_builder *fb)
{
    size_t c, k;

    memset(fb->ns_slot, FEATURES_NO_SLOT, sizeof(fb->ns_slot));
    fb->slot_count = 0;
    for (c = 0; c < fb->cross_count; c++) {
        for (k = 0; k < 2; k++) {
            uint16_t ns = fb->cross[c][k];

            assert(ns < CFG_MAX_FIELDS); /* cfg.c checked the names */
            if (fb->ns_slot[ns] == FEATURES_NO_SLOT)
                fb->ns_slot[ns] = (uint8_t)fb->slot_count++;
            fb->cross_slot[c][k] = fb->ns_slot[ns];
        }
    }
}

int features_new(const struct cfg *cfg, const struct schema *schema,
                 const struct running_stats *stats,
                 struct feature_builder **out, char *errstr,
                 size_t errstr_size)
{
    struct feature_builder *fb = calloc(1, sizeof(*fb));
    size_t i;

    if (!fb)
        return RIFFLE_ERR_NOMEM;
    fb->cfg = cfg;
    fb->stats = stats;
    fb->mask = (uint32_t)((1ULL << cfg->model.bits) - 1);

    for (i = 0; i < cfg->field_count; i++) {
        const char *name = cfg->fields[i].name;

        fb->schema_index[i] = schema_field_index(schema, name);
        if (fb->schema_index[i] < 0) {
            snprintf(errstr, errstr_size,
                     "%s: field \"%s\" is not in schema %s", cfg->path, name,
                     schema_name(schema));
            features_destroy(fb);
            return RIFFLE_ERR_CFG;
        }
        fb->field_hash[i] = hash_string(name, cfg->hash_seed);
        fb->missing_hash[i] =
            hash_string(FEATURES_MISSING_TOKEN, fb->field_hash[i]);
        fb->field_ns[i] = namespace_id(cfg, cfg->fields[i].namespace_name);
    }
    plan_steps(fb);
    for (i = 0; i < cfg->interaction_count; i++) {
        fb->cross[i][0] = namespace_id(cfg, cfg->interactions[i][0]);
        fb->cross[i][1] = namespace_id(cfg, cfg->interactions[i][1]);
    }
    fb->cross_count = cfg->interaction_count;
    plan_slots(fb);

    if (cfg->count_collisions &&
        alloc_collision_tables(fb, cfg->model.bits) != 0) {
        features_destroy(fb);
        return RIFFLE_ERR_NOMEM;
    }

    *out = fb;
    return 0;
}

void features_destroy(struct feature_builder *fb)
{
    if (!fb)
        return;
    free(fb->owner16);
    free(fb->owner32);
    free(fb->collided);
    free(fb);
}

/* Converting a double beyond float's range is undefined in C; such a
 * value becomes an infinity, which the model refuses and the learner
 * dead-letters. */
static float to_float(double x)
{
    if (x > FLT_MAX)
        return INFINITY;
    if (x < -FLT_MAX)
        return -INFINITY;
    return (float)x;
}

/* The log1p transform, odd so that negative values keep their sign. */
static double signed_log1p(double x)
{
    return x < 0 ? -log1p(-x) : log1p(x);
}

static double transform(const struct cfg_field *f,
                        const struct running_stats *s, double x)
{
    double sd;

    switch (f->transform) {
    case CFG_TRANSFORM_LOG1P:
        return signed_log1p(x);
    case CFG_TRANSFORM_STANDARDIZE:
        sd = stats_stddev(s);
        if (sd < FEATURES_STD_MIN)
            return x - s->mean;
        return (x - s->mean) / sd;
    default:
        return x;
    }
}

/* Appends one feature, index masked by mask (fb->mask, passed in a
 * register: the stores below may alias the field), with its full hash
 * and namespace. Those two are stored whether or not crosses or
 * collision counting read them: two stores cost fewer instructions than
 * testing, per feature, whether they are needed. */
static inline size_t put(struct feature_builder *fb, uint32_t mask,
                         struct feature *out, size_t n, uint16_t ns,
                         uint32_t full, double value)
{
    out[n].index = full & mask;
    out[n].value = to_float(value);
    fb->full[n] = full;
    fb->ns[n] = ns;
    return n + 1;
}

/* The bucket of x: how many boundaries are at or below it. */
static uint32_t bucket_of(const struct cfg_field *f, double x)
{
    uint32_t k = 0;

    while (k < f->bucket_count && f->buckets[k] <= x)
        k++;
    return k;
}

/* A numeric field: its transformed value, the log1p its value carries
 * as a hint when it has one (see features_hint_event()); or its bucket's
 * feature; and the missing indicator. */
static inline size_t add_numeric(struct feature_builder *fb, uint32_t mask,
                                 const struct field_step *st,
                                 const struct event *ev, int imputed,
                                 struct feature *out, size_t n)
{
    size_t i = st->field;
    const struct value *v = &ev->values[st->schema_index];
    double x;

    if (v->kind == VALUE_NUMBER && st->transform == CFG_TRANSFORM_BUCKETIZE) {
        uint32_t k = bucket_of(&fb->cfg->fields[i], v->number);

        n = put(fb, mask, out, n, st->ns,
                hash_murmur3_32(&k, sizeof(k), fb->field_hash[i]), 1.0);
    } else if (v->kind == VALUE_NUMBER) {
        if (st->transform == CFG_TRANSFORM_NONE)
            x = v->number;
        else if (st->transform != CFG_TRANSFORM_LOG1P ||
                 !event_hinted_number(ev, st->schema_index, &x))
            x = transform(&fb->cfg->fields[i], &fb->stats[i], v->number);
        n = put(fb, mask, out, n, st->ns, fb->field_hash[i], x);
    }
    if ((v->kind != VALUE_NUMBER || imputed) && st->missing_indicator)
        n = put(fb, mask, out, n, st->ns, fb->missing_hash[i], 1.0);
    return n;
}

/* The hash of a non-null categorical value of field i: its token, a
 * string as it is or a number printed ("7"), under the field's seed.
 * String bytes are in the event's arena (what event_string() returns),
 * where all but the last few tokens have the arena's room after them, so
 * the short-key hash may read a whole word (the same value). */
static inline uint32_t token_hash(const struct feature_builder *fb,
                                  size_t i, const struct event *ev,
                                  const struct value *v)
{
    char number[NUMFMT_MAX];
    const char *token;

    if (v->kind != VALUE_STRING) {
        token = numfmt_double(v->number, number, sizeof(number));
        return hash_murmur3_32(token, strlen(token), fb->field_hash[i]);
    }
    token = ev->arena.data + v->str_offset;
    /* In size_t: a 32-bit offset near 4 GiB plus 8 would wrap */
    if ((size_t)v->str_offset + HASH_PADDED_BYTES <= ev->arena.cap)
        return hash_murmur3_32_padded(token, v->str_len, fb->field_hash[i]);
    return hash_murmur3_32(token, v->str_len, fb->field_hash[i]);
}

/* A categorical field: the hash its value carries as a hint when it has
 * one (see features_hint_event()), else its token's, or the missing
 * token's for null. Inlined in the loop. */
static inline size_t add_categorical(struct feature_builder *fb,
                                     uint32_t mask,
                                     const struct field_step *st,
                                     const struct event *ev,
                                     struct feature *out, size_t n)
{
    size_t i = st->field;
    const struct value *v = &ev->values[st->schema_index];
    uint32_t full;

    if (event_hinted_hash(ev, st->schema_index, &full))
        return put(fb, mask, out, n, st->ns, full, 1.0);
    if (v->kind == VALUE_NULL) {
        if (!st->missing_token)
            return n;
        return put(fb, mask, out, n, st->ns, fb->missing_hash[i], 1.0);
    }
    return put(fb, mask, out, n, st->ns, token_hash(fb, i, ev, v), 1.0);
}

/* Lists, per crossed namespace, the positions of its features among the
 * first plain, in order: one pass, where each cross used to scan every
 * feature for each of its namespace's. */
static void list_members(struct feature_builder *fb, size_t plain)
{
    size_t i;

    memset(fb->member_count, 0, fb->slot_count * sizeof(fb->member_count[0]));
    for (i = 0; i < plain; i++) {
        uint8_t slot = fb->ns_slot[fb->ns[i]];

        if (slot != FEATURES_NO_SLOT)
            fb->member[slot][fb->member_count[slot]++] = (uint16_t)i;
    }
}

/* The hash of the crossed pair (x, y) at crossed position k: the last
 * one made there when the pair is the same. */
static uint32_t cross_hash(struct feature_builder *fb, size_t k, uint32_t x,
                           uint32_t y)
{
    uint32_t pair[2] = {x, y};
    uint32_t full;

    if (k < FEATURES_CROSS_MEMO && fb->memo_used[k] &&
        fb->memo_pair[k][0] == x && fb->memo_pair[k][1] == y)
        return fb->memo_hash[k];
    full = hash_murmur3_32(pair, sizeof(pair), FEATURES_CROSS_SEED);
    if (k < FEATURES_CROSS_MEMO) {
        fb->memo_pair[k][0] = x;
        fb->memo_pair[k][1] = y;
        fb->memo_hash[k] = full;
        fb->memo_used[k] = 1;
    }
    return full;
}

/* Crosses every feature of namespace a with every feature of namespace b
 * (each unordered pair once when a == b), in the order of the features
 * of a, then of b. */
static size_t add_crosses(struct feature_builder *fb, struct feature *out,
                          size_t plain, size_t n)
{
    size_t c, ii, jj;

    list_members(fb, plain);
    for (c = 0; c < fb->cross_count; c++) {
        uint8_t sa = fb->cross_slot[c][0], sb = fb->cross_slot[c][1];
        const uint16_t *ma = fb->member[sa], *mb = fb->member[sb];

        for (ii = 0; ii < fb->member_count[sa]; ii++) {
            size_t i = ma[ii];

            for (jj = sa == sb ? ii + 1 : 0; jj < fb->member_count[sb];
                 jj++) {
                size_t j = mb[jj];
                uint32_t full;

                if (n == FEATURES_MAX) {
                    fb->counts.crosses_cut++;
                    continue;
                }
                full = cross_hash(fb, n - plain, fb->full[i], fb->full[j]);
                out[n].index = full & fb->mask;
                out[n].value = out[i].value * out[j].value;
                fb->full[n] = full;
                fb->ns[n] = UINT16_MAX; /* crosses are not crossed again */
                n++;
            }
        }
    }
    return n;
}

/* The collisions of the n features, in an owner table of 16-bit tags
 * (wide == 0) or 32-bit ones. Always inlined with a constant wide, so
 * each width has its own loop and no feature tests which table it has.
 * A slot keeps the tag of the first hash that used it (0: unused); a slot
 * is collided once a second, different hash uses it. Most features meet
 * their own tag again, so that test comes first. */
static inline __attribute__((always_inline)) void
count_collisions_in(struct feature_builder *fb, size_t n, int wide)
{
    /* Locals: a store to collided (bytes, which may alias anything)
     * made the compiler load each of these again for every feature. */
    const uint32_t *full = fb->full;
    uint16_t *owner16 = fb->owner16;
    uint32_t *owner32 = fb->owner32;
    unsigned char *collided = fb->collided;
    uint32_t mask = fb->mask;
    unsigned shift = fb->owner_shift;
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t slot = full[i] & mask;
        uint32_t tag = (full[i] >> shift) + 1;
        uint32_t was = wide ? owner32[slot] : owner16[slot];

        if (was == tag)
            continue;
        if (was == 0) {
            if (wide)
                owner32[slot] = tag;
            else
                owner16[slot] = (uint16_t)tag;
            fb->counts.distinct++;
        } else if (!(collided[slot / 8] & (1u << (slot % 8)))) {
            collided[slot / 8] |= (unsigned char)(1u << (slot % 8));
            fb->counts.collided_slots++;
            fb->counts.distinct++;
        }
    }
}

static void count_collisions(struct feature_builder *fb, size_t n)
{
    if (fb->owner16)
        count_collisions_in(fb, n, 0);
    else
        count_collisions_in(fb, n, 1);
}

size_t features_build(struct feature_builder *fb, const struct event *ev,
                      const unsigned char *imputed, struct feature *out)
{
    uint32_t mask = fb->mask;
    size_t s, steps = fb->step_count, n = 0;

    for (s = 0; s < steps; s++) {
        const struct field_step *st = &fb->steps[s];

        if (st->categorical)
            n = add_categorical(fb, mask, st, ev, out, n);
        else
            n = add_numeric(fb, mask, st, ev,
                            imputed && imputed[st->field], out, n);
    }

    if (fb->cross_count > 0)
        n = add_crosses(fb, out, n, n);
    if (fb->owner16 || fb->owner32)
        count_collisions(fb, n);
    return n;
}

size_t features_prefetch_hinted(const struct feature_builder *fb,
                                const struct event *ev, uint32_t *idx)
{
    size_t k, n = 0;

    for (k = 0; k < fb->raw_token_count; k++) {
        size_t at = fb->raw_tokens[k].schema_index;

        if (ev->values[at].hinted & EVENT_HINT_HASH)
            idx[n++] = ev->values[at].hint_hash & fb->mask;
    }
    for (k = 0; k < fb->replaced_token_count; k++) {
        size_t at = fb->replaced_tokens[k].schema_index;

        if (ev->values[at].hinted & EVENT_HINT_REPLACEMENT_HASH)
            idx[n++] = ev->replacement[at].hash & fb->mask;
    }

    for (k = 0; k < n && fb->owner16; k++)
        __builtin_prefetch(&fb->owner16[idx[k]], 1, 3);
    for (k = 0; k < n && fb->owner32; k++)
        __builtin_prefetch(&fb->owner32[idx[k]], 1, 3);
    return n;
}

size_t features_token_count(const struct feature_builder *fb)
{
    return fb->raw_token_count + fb->replaced_token_count;
}

void features_hint_event(const struct feature_builder *fb,
                         struct event *ev)
{
    size_t s;

    for (s = 0; s < fb->raw_token_count; s++) {
        const struct field_step *st = &fb->raw_tokens[s];
        const struct value *v = &ev->values[st->schema_index];

        if (v->kind != VALUE_NULL)
            event_hint_hash(ev, st->schema_index,
                            token_hash(fb, st->field, ev, v));
    }

    /* What a replaced value will be once the anonymizer has used its
     * replacement hint: a string at its place in the arena. */
    for (s = 0; s < fb->replaced_token_count; s++) {
        const struct field_step *st = &fb->replaced_tokens[s];
        const struct value_replacement *r = &ev->replacement[st->schema_index];
        struct value tok = {.kind = VALUE_STRING};

        /* Hashed already by the anonymizer's hinter (features_token_hash()
         * through its hasher), or no replacement to hash. */
        if ((ev->values[st->schema_index].hinted &
             (EVENT_HINT_REPLACEMENT | EVENT_HINT_REPLACEMENT_HASH)) !=
            EVENT_HINT_REPLACEMENT)
            continue;
        tok.str_offset = r->offset;
        tok.str_len = r->len;
        event_hint_replacement_hash(ev, st->schema_index,
                                    token_hash(fb, st->field, ev, &tok));
    }

    for (s = 0; s < fb->pure_number_count; s++) {
        const struct field_step *st = &fb->pure_numbers[s];
        const struct value *v = &ev->values[st->schema_index];

        if (v->kind == VALUE_NUMBER)
            event_hint_number(ev, st->schema_index, signed_log1p(v->number));
    }
}

int features_token_hash(const struct feature_builder *fb, size_t field,
                        const char *text, size_t len, uint32_t *hash)
{
    if (field >= fb->cfg->field_count || !fb->is_token[field])
        return 0;
    *hash = hash_murmur3_32(text, len, fb->field_hash[field]);
    return 1;
}

void features_counts(const struct feature_builder *fb,
                     struct feature_counts *out)
{
    *out = fb->counts;
}
