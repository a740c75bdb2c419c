/*
 * tests/unit/test_features_cross.c - namespaces, crossed features,
 * bucketized numbers and collision counting in learner/features.c.
 *
 * Expected indices follow the rules features.h documents, recomputed
 * here with learner/hash.h. No broker; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "config/cfg.h"
#include "learner/features.h"
#include "learner/hash.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define CROSS_SEED 0x5bd1e995u /* FEATURES_CROSS_SEED in features.c */
#define BITS 16
#define MASK ((1u << BITS) - 1)
#define CFG_TEXT_MAX 2048 /* the configuration make() writes */

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"X\", \"fields\": ["
    " {\"name\": \"event_id\", \"type\": \"string\"},"
    " {\"name\": \"y\", \"type\": \"string\"},"
    " {\"name\": \"u\", \"type\": \"string\"},"
    " {\"name\": \"a\", \"type\": \"string\"},"
    " {\"name\": \"b\", \"type\": \"string\"},"
    " {\"name\": \"p\", \"type\": \"double\"}]}";

struct fixture {
    char dir[64];
    struct cfg cfg;
    struct schema *schema;
    struct running_stats stats[CFG_MAX_FIELDS];
    struct feature_builder *fb;
    struct event ev;
    struct feature out[FEATURES_MAX];
    size_t n;
};

/* Loads a config whose fields are u (namespace user), a and b (namespace
 * ad), p (bucketized at 0.5 and 1.5), with the given learner lines. */
static struct fixture *make(const char *learner_extra, unsigned bits)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[128], text[CFG_TEXT_MAX], errstr[512];
    int len;

    assert_non_null(fx);
    assert_non_null(temp_dir_new(fx->dir, sizeof(fx->dir), "cross"));
    snprintf(path, sizeof(path), "%s/x.cfg", fx->dir);
    len = snprintf(text, sizeof(text),
            "name = \"x\";\n"
            "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";"
            " dead_letters = \"d\"; };\n"
            "source = { schema = \"x.avsc\"; };\n"
            "fields = (\n"
            " { name = \"event_id\"; kind = \"id\"; },\n"
            " { name = \"y\"; kind = \"label\"; positive = [\"1\"]; },\n"
            " { name = \"u\"; kind = \"categorical\"; namespace = \"user\"; },\n"
            " { name = \"a\"; kind = \"categorical\"; namespace = \"ad\"; },\n"
            " { name = \"b\"; kind = \"categorical\"; namespace = \"ad\"; },\n"
            " { name = \"p\"; kind = \"numeric\"; transform = \"bucketize\";"
            "   buckets = [0.5, 1.5]; }\n"
            ");\n"
            "learner = { model_name = \"x\"; bits = %u; %s };\n",
            bits, learner_extra);
    assert_true(len > 0 && (size_t)len < sizeof(text));

    assert_int_equal(load_cfg_text(&fx->cfg, path, text, errstr,
                                   sizeof(errstr)),
                     0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(fx->dir), 0);
    fx->schema = load_schema_json(schema_json);
    assert_int_equal(features_new(&fx->cfg, fx->schema, fx->stats, &fx->fb,
                                  errstr, sizeof(errstr)),
                     0);
    event_init(&fx->ev);
    return fx;
}

static void destroy(struct fixture *fx)
{
    features_destroy(fx->fb);
    schema_destroy(fx->schema);
    event_free(&fx->ev);
    free(fx);
}

static void set_event(struct fixture *fx, const char *u, const char *a,
                      const char *b, double p)
{
    event_reset(&fx->ev, 6);
    event_set_string(&fx->ev, 0, "id-1", 4);
    event_set_string(&fx->ev, 1, "1", 1);
    event_set_string(&fx->ev, 2, u, strlen(u));
    event_set_string(&fx->ev, 3, a, strlen(a));
    event_set_string(&fx->ev, 4, b, strlen(b));
    event_set_number(&fx->ev, 5, p);
    fx->n = features_build(fx->fb, &fx->ev, NULL, fx->out);
}

static uint32_t token_hash(const char *field, const char *token)
{
    return hash_string(token, hash_string(field, 0));
}

static uint32_t cross_hash(uint32_t h1, uint32_t h2)
{
    uint32_t pair[2] = {h1, h2};

    return hash_murmur3_32(pair, sizeof(pair), CROSS_SEED);
}

static void test_features_cross_adds_pairs_between_namespaces(void **state)
{
    struct fixture *fx = make("interactions = [\"user*ad\"];", BITS);
    uint32_t hu = token_hash("u", "alice"), ha = token_hash("a", "shoes");
    uint32_t hb = token_hash("b", "red");

    (void)state;
    set_event(fx, "alice", "shoes", "red", 1.0);

    /* u, a, b, p, then u x a and u x b. */
    assert_int_equal(fx->n, 6);
    assert_int_equal(fx->out[0].index, hu & MASK);
    assert_int_equal(fx->out[4].index, cross_hash(hu, ha) & MASK);
    assert_int_equal(fx->out[5].index, cross_hash(hu, hb) & MASK);
    assert_float_equal(fx->out[4].value, 1.0f, 0.0f);
    destroy(fx);
}

static void test_features_cross_same_namespace_once_per_pair(void **state)
{
    struct fixture *fx = make("interactions = [\"ad*ad\"];", BITS);
    uint32_t ha = token_hash("a", "shoes"), hb = token_hash("b", "red");

    (void)state;
    set_event(fx, "alice", "shoes", "red", 1.0);

    /* Only a x b: no square of a feature, no b x a repeat. */
    assert_int_equal(fx->n, 5);
    assert_int_equal(fx->out[4].index, cross_hash(ha, hb) & MASK);
    destroy(fx);
}

/* One builder over several events: each event's crosses are of its own
 * tokens (the builder keeps the last pair crossed at each position and
 * its hash, which must not outlive a change of pair), and a namespace's
 * features cross in their order, whatever the namespaces in between. */
static void test_features_cross_follows_each_event(void **state)
{
    struct fixture *fx = make("interactions = [\"ad*user\", \"user*ad\"];",
                              BITS);
    static const char *const users[] = {"alice", "bob", "alice", "carol"};
    uint32_t ha = token_hash("a", "shoes"), hb = token_hash("b", "red");
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(users) / sizeof(users[0]); k++) {
        uint32_t hu = token_hash("u", users[k]);

        set_event(fx, users[k], "shoes", "red", 1.0);

        /* u, a, b, p; a x u, b x u; u x a, u x b. */
        assert_int_equal(fx->n, 8);
        assert_int_equal(fx->out[4].index, cross_hash(ha, hu) & MASK);
        assert_int_equal(fx->out[5].index, cross_hash(hb, hu) & MASK);
        assert_int_equal(fx->out[6].index, cross_hash(hu, ha) & MASK);
        assert_int_equal(fx->out[7].index, cross_hash(hu, hb) & MASK);
    }
    destroy(fx);
}

static void test_features_bucketize_one_hot(void **state)
{
    struct fixture *fx = make("", BITS);
    uint32_t field = hash_string("p", 0), k;

    (void)state;
    set_event(fx, "u", "a", "b", 0.2);
    k = 0;
    assert_int_equal(fx->out[3].index, hash_murmur3_32(&k, 4, field) & MASK);
    set_event(fx, "u", "a", "b", 0.5); /* a boundary starts its bucket */
    k = 1;
    assert_int_equal(fx->out[3].index, hash_murmur3_32(&k, 4, field) & MASK);
    set_event(fx, "u", "a", "b", 99.0);
    k = 2;
    assert_int_equal(fx->out[3].index, hash_murmur3_32(&k, 4, field) & MASK);
    assert_float_equal(fx->out[3].value, 1.0f, 0.0f);
    destroy(fx);
}

/* Events of users user-0 .. user-(n-1), then the builder's counts. */
static void feed_users(struct fixture *fx, int n, struct feature_counts *c)
{
    char user[32];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(user, sizeof(user), "user-%d", i);
        set_event(fx, user, "shoes", "red", 1.0);
    }
    features_counts(fx->fb, c);
}

/* With 2^10 weights, 5000 distinct user tokens must share slots: the
 * counts follow the pigeonhole and a second pass adds nothing. */
static void test_features_collisions_counted(void **state)
{
    struct fixture *fx = make("", 10);
    struct feature_counts before, after;

    (void)state;
    feed_users(fx, 5000, &before);
    /* 1024 slots for 5000 users + shoes, red, one bucket: nearly every
     * slot ends up shared, none counted twice. */
    assert_in_range(before.collided_slots, 900, 1024);
    assert_in_range(before.distinct, 1024 + 900, 5003);

    feed_users(fx, 5000, &after);
    assert_int_equal(after.collided_slots, before.collided_slots);
    assert_int_equal(after.distinct, before.distinct);
    destroy(fx);
}

/* From 2^17 weights up a slot keeps 16 bits of its owner's hash: 150,000
 * users in 2^17 slots fill them as chance says (about 68% of the slots
 * used, 32% shared), and a second pass, where every hash meets its own
 * tag again, adds nothing. */
static void test_features_collisions_counted_in_16_bit_owners(void **state)
{
    struct fixture *fx = make("", 17);
    struct feature_counts before, after;

    (void)state;
    feed_users(fx, 150000, &before);
    assert_in_range(before.collided_slots, 40000, 43500);
    assert_in_range(before.distinct - before.collided_slots, 87000, 91500);

    feed_users(fx, 150000, &after);
    assert_int_equal(after.collided_slots, before.collided_slots);
    assert_int_equal(after.distinct, before.distinct);
    destroy(fx);
}

/* The counts a slot-by-slot reference gives for the same features: a
 * slot is used by its first full hash and collided once a different one
 * lands on it; distinct counts the used slots and the collided ones. */
struct collision_ref {
    uint32_t *first; /* the first full hash of each slot */
    unsigned char *used;
    unsigned char *collided;
    uint64_t distinct;
    uint64_t collided_slots;
};

static void collision_ref_add(struct collision_ref *r, uint32_t full,
                              unsigned bits)
{
    uint32_t slot = full & ((1u << bits) - 1);

    if (!r->used[slot]) {
        r->used[slot] = 1;
        r->first[slot] = full;
        r->distinct++;
    } else if (r->first[slot] != full && !r->collided[slot]) {
        r->collided[slot] = 1;
        r->collided_slots++;
        r->distinct++;
    }
}

/* Exact counts against the reference for both owner tables (32-bit tags
 * under 2^17 slots, 16-bit ones from there), over users, items and
 * buckets that repeat: fails if a hash meeting its own tag is counted,
 * or if a second, different hash is not. */
static void check_collisions_exact(unsigned bits, int users)
{
    struct fixture *fx = make("", bits);
    struct collision_ref r = {0};
    struct feature_counts c;
    uint32_t p_seed = hash_string("p", 0), k;
    char user[32], item[32];
    int i;

    r.first = calloc((size_t)1 << bits, sizeof(uint32_t));
    r.used = calloc((size_t)1 << bits, 1);
    r.collided = calloc((size_t)1 << bits, 1);
    assert_non_null(r.first);
    assert_non_null(r.used);
    assert_non_null(r.collided);

    for (i = 0; i < 2 * users; i++) {
        /* The second half repeats the first's users with other items. */
        snprintf(user, sizeof(user), "user-%d", i % users);
        snprintf(item, sizeof(item), "item-%d", (i * 7) % 101);
        set_event(fx, user, item, "red", (double)(i % 3));
        k = (uint32_t)(i % 3); /* buckets 0.5 and 1.5: 0 -> 0, 1 -> 1, 2 -> 2 */
        collision_ref_add(&r, token_hash("u", user), bits);
        collision_ref_add(&r, token_hash("a", item), bits);
        collision_ref_add(&r, token_hash("b", "red"), bits);
        collision_ref_add(&r, hash_murmur3_32(&k, 4, p_seed), bits);
    }
    features_counts(fx->fb, &c);
    assert_true(r.collided_slots > 0); /* the case must have collisions */
    assert_int_equal(c.collided_slots, r.collided_slots);
    assert_int_equal(c.distinct, r.distinct);

    free(r.first);
    free(r.used);
    free(r.collided);
    destroy(fx);
}

static void test_features_collisions_exact_32_bit_owners(void **state)
{
    (void)state;
    check_collisions_exact(10, 3000);
}

static void test_features_collisions_exact_16_bit_owners(void **state)
{
    (void)state;
    check_collisions_exact(17, 60000);
}

/* 2^20 slots: the tables features_new() faults in at creation (2 MiB of
 * 16-bit tags and the bitmap) count as the lazily faulted ones do. */
static void test_features_collisions_exact_committed_owners(void **state)
{
    (void)state;
    check_collisions_exact(20, 60000);
}

static void test_features_no_collisions_when_few_keys(void **state)
{
    struct fixture *fx = make("", 20);
    struct feature_counts c;

    (void)state;
    set_event(fx, "alice", "shoes", "red", 1.0);
    set_event(fx, "bob", "shoes", "blue", 2.0);
    features_counts(fx->fb, &c);
    assert_int_equal(c.collided_slots, 0);
    assert_int_equal(c.distinct, 7); /* alice bob shoes red blue, buckets 1 2 */
    destroy(fx);
}

static void test_features_interaction_needs_known_namespace(void **state)
{
    static const char text[] =
        "name = \"x\";\n"
        "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";"
        " dead_letters = \"d\"; };\n"
        "source = { schema = \"x.avsc\"; };\n"
        "fields = ( { name = \"event_id\"; kind = \"id\"; },\n"
        " { name = \"y\"; kind = \"label\"; positive = [\"1\"]; } );\n"
        "learner = { model_name = \"x\";\n"
        "  interactions = [\"user*ad\"]; };\n";
    char path[64];
    char errstr[512];
    struct cfg cfg;

    (void)state;
    temp_file_new(path, sizeof(path), "cross-cfg");
    assert_int_equal(load_cfg_text(&cfg, path, text, errstr, sizeof(errstr)),
                     RIFFLE_ERR_CFG);
    unlink(path);
    assert_contains(errstr, ":7: learner.interactions: entry 1: no field is "
                            "in namespace \"user\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_cross_adds_pairs_between_namespaces),
        cmocka_unit_test(test_features_cross_same_namespace_once_per_pair),
        cmocka_unit_test(test_features_cross_follows_each_event),
        cmocka_unit_test(test_features_bucketize_one_hot),
        cmocka_unit_test(test_features_collisions_counted),
        cmocka_unit_test(test_features_collisions_counted_in_16_bit_owners),
        cmocka_unit_test(test_features_no_collisions_when_few_keys),
        cmocka_unit_test(test_features_collisions_exact_32_bit_owners),
        cmocka_unit_test(test_features_collisions_exact_16_bit_owners),
        cmocka_unit_test(test_features_collisions_exact_committed_owners),
        cmocka_unit_test(test_features_interaction_needs_known_namespace),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
