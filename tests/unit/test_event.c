/*
 * tests/unit/test_event.c - the limit of an event's arena
 * (schemas/event.h, EVENT_ARENA_MAX): string offsets and lengths are
 * kept in 32 bits, so a write that would take the arena past 4 GiB, or
 * a string longer than that, is refused before anything is copied, and
 * the event is left as it was. The arena's length is set near the limit
 * by hand: nothing that is refused touches the bytes, so no test needs
 * 4 GiB of memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "schemas/event.h"

#define FIELDS 3
#define HINT_HASH_VALUE 0x5eedu
#define HINT_NUMBER_VALUE 2.5

struct fixture {
    struct event ev;
    size_t real_len; /* the arena's length before a test moved it */
};

static int setup(void **state)
{
    struct fixture *fx = test_calloc(1, sizeof(*fx));
    size_t at = 0;

    assert_non_null(fx);
    event_init(&fx->ev);
    event_reset(&fx->ev, FIELDS);
    /* Field 0 a hinted string, field 1 a hinted number, field 2 null. */
    assert_int_equal(event_append_block(&fx->ev, "abc", 4, &at), 0);
    event_set_string_at(&fx->ev, 0, at, 3);
    event_hint_hash(&fx->ev, 0, HINT_HASH_VALUE);
    event_set_number(&fx->ev, 1, 7.0);
    event_hint_number(&fx->ev, 1, HINT_NUMBER_VALUE);
    fx->real_len = fx->ev.arena.len;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    fx->ev.arena.len = fx->real_len;
    event_free(&fx->ev);
    test_free(fx);
    return 0;
}

/* The event as setup() made it, its arena's length at len. */
static void assert_unchanged(const struct event *ev, size_t len)
{
    uint32_t hash = 0;
    double number = 0.0;

    assert_int_equal(ev->arena.len, len);
    assert_int_equal(ev->values[0].kind, VALUE_STRING);
    assert_int_equal(ev->values[0].str_len, 3);
    assert_int_equal(event_hinted_hash(ev, 0, &hash), 1);
    assert_int_equal(hash, HINT_HASH_VALUE);
    assert_int_equal(ev->values[1].kind, VALUE_NUMBER);
    assert_true(ev->values[1].number == 7.0);
    assert_int_equal(event_hinted_number(ev, 1, &number), 1);
    assert_true(number == HINT_NUMBER_VALUE);
    assert_int_equal(ev->values[2].kind, VALUE_NULL);
    assert_int_equal(ev->values[2].hinted, 0);
}

/* An arena 4 bytes short of the limit takes 3 more and their NUL, not
 * 4: each write is refused, and nothing changes. */
static void test_event_arena_refuses_past_limit(void **state)
{
    struct fixture *fx = *state;
    size_t near = EVENT_ARENA_MAX - 4, at = 0;

    fx->ev.arena.len = near;
    assert_int_equal(event_arena_fits(&fx->ev, 3), 1);
    assert_int_equal(event_arena_fits(&fx->ev, 4), 0);

    assert_int_equal(event_set_string(&fx->ev, 2, "abcd", 4),
                     RIFFLE_ERR_TOO_BIG);
    assert_null(event_write_string(&fx->ev, 2, 4));
    assert_null(event_hint_replacement(&fx->ev, 0, 4));
    assert_int_equal(event_use_replacement(&fx->ev, 0), 0);
    /* A block brings its own NULs: 5 bytes do not fit in 4. */
    assert_int_equal(event_append_block(&fx->ev, "abcd", 5, &at),
                     RIFFLE_ERR_TOO_BIG);
    assert_unchanged(&fx->ev, near);
    /* what callers of the writes that return NULL report */
    assert_int_equal(event_write_failure(&fx->ev, 4), RIFFLE_ERR_TOO_BIG);
    assert_int_equal(event_write_failure(&fx->ev, 3), RIFFLE_ERR_NOMEM);
}

/* A string longer than the limit is refused in an empty arena too, and
 * before its bytes are read (this one has 4). */
static void test_event_arena_refuses_string_over_limit(void **state)
{
    struct fixture *fx = *state;
    size_t huge = EVENT_ARENA_MAX + (size_t)16, at = 0;

    assert_int_equal(event_set_string(&fx->ev, 2, "abc", huge),
                     RIFFLE_ERR_TOO_BIG);
    assert_int_equal(event_set_string(&fx->ev, 2, "abc", EVENT_ARENA_MAX),
                     RIFFLE_ERR_TOO_BIG);
    assert_null(event_write_string(&fx->ev, 2, huge));
    assert_null(event_hint_replacement(&fx->ev, 0, huge));
    assert_int_equal(event_append_block(&fx->ev, "abc", huge, &at),
                     RIFFLE_ERR_TOO_BIG);
    assert_unchanged(&fx->ev, fx->real_len);
    assert_string_equal(riffle_err_str(RIFFLE_ERR_TOO_BIG), "too large");
}

/* Below the limit the same writes go through as before. */
static void test_event_arena_takes_below_limit(void **state)
{
    struct fixture *fx = *state;
    char *out;

    assert_int_equal(event_set_string(&fx->ev, 2, "xyz", 3), 0);
    assert_string_equal(event_string(&fx->ev, 2), "xyz");
    out = event_hint_replacement(&fx->ev, 0, 2);
    assert_non_null(out);
    memcpy(out, "pq", 2);
    assert_int_equal(event_use_replacement(&fx->ev, 0), 1);
    assert_string_equal(event_string(&fx->ev, 0), "pq");
    assert_int_equal(fx->ev.values[0].str_offset, fx->real_len + 4);
    fx->real_len = fx->ev.arena.len;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_arena_refuses_past_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_event_arena_refuses_string_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_arena_takes_below_limit,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
