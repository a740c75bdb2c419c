/*
 * tests/unit/test_pseudonym_io.c - `riffle pseudonym`'s reading and
 * writing (privacy/pseudonym_io.c): the pseudonyms it writes, and that no
 * raw id stays in its buffers, nor in an argument, once used. The test
 * reads the buffers back (pseudonym_io_holds()). Ids and pseudonyms go
 * through temporary files. No broker; single-threaded.
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

#include "common/buf.h"
#include "common/err.h"
#include "config/cfg.h"
#include "privacy/anonymize.h"
#include "privacy/pseudonym_io.h"
#include "schemas/schema.h"
#include "tests/unit/testutil.h"

#define ERRSTR_SIZE 512
#define HEX_KEY "000102030405060708090a0b0c0d0e0f" \
                "101112131415161718191a1b1c1d1e1f"
#define LONG_ID_BYTES 150000 /* more than two reads of 64 KiB */

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"P\", \"namespace\": \"riffle.test\","
    " \"fields\": ["
    "  {\"name\": \"event_id\", \"type\": \"string\"},"
    "  {\"name\": \"label\", \"type\": [\"null\", \"string\"]}"
    "]}";

struct fixture {
    char dir[64];
    char path[128];
    struct cfg *cfg;
    struct schema *schema;
    struct anonymizer *anon;
    int in_fd;  /* a temporary file of ids */
    int out_fd; /* a temporary file the pseudonyms go to */
    char errstr[ERRSTR_SIZE];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char text[1024], key[128];

    if (!fx || !temp_dir_new(fx->dir, sizeof(fx->dir), "pseudonym-io"))
        return -1;
    *state = fx;
    snprintf(key, sizeof(key), "%s/key", fx->dir);
    write_text(key, HEX_KEY "\n");
    snprintf(text, sizeof(text),
             "name = \"p\";\n"
             "topics = { input = \"i\"; predictions = \"p\"; models = \"m\";\n"
             "           dead_letters = \"d\"; };\n"
             "source = { schema = \"unused.avsc\"; };\n"
             "fields = (\n"
             "  { name = \"event_id\"; kind = \"id\"; personal = \"pseudonym\"; },\n"
             "  { name = \"label\"; kind = \"label\"; positive = [\"yes\"]; }\n"
             ");\n"
             "privacy = { key_file = \"%s\"; key_id = \"k1\"; };\n"
             "learner = { model_name = \"p\"; bits = 10; };\n",
             key);
    snprintf(fx->path, sizeof(fx->path), "%s/p.cfg", fx->dir);
    fx->cfg = calloc(1, sizeof(*fx->cfg));
    if (!fx->cfg || load_cfg_text(fx->cfg, fx->path, text, fx->errstr,
                                  sizeof(fx->errstr)) != 0) {
        print_error("fixture: %s\n", fx->errstr);
        return -1;
    }
    fx->schema = load_schema_json(schema_json);
    if (anonymizer_new(fx->cfg, fx->schema, &fx->anon, fx->errstr,
                       sizeof(fx->errstr)) != 0) {
        print_error("fixture: %s\n", fx->errstr);
        return -1;
    }
    fx->in_fd = fileno(tmpfile());
    fx->out_fd = fileno(tmpfile());
    return fx->in_fd >= 0 && fx->out_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char path[128];

    close(fx->in_fd);
    close(fx->out_fd);
    anonymizer_destroy(fx->anon);
    schema_destroy(fx->schema);
    free(fx->cfg);
    snprintf(path, sizeof(path), "%s/key", fx->dir);
    unlink(path);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* The pseudonym of id, as the anonymizer makes it; the caller frees it. */
static char *pseudonym_of(const struct fixture *fx, const char *id,
                          size_t len)
{
    struct buf out = {0};

    assert_int_equal(anonymizer_id_pseudonym(fx->anon, id, len, &out), 0);
    return out.data;
}

static void write_ids(struct fixture *fx, const void *text, size_t len)
{
    assert_int_equal(write(fx->in_fd, text, len), (ssize_t)len);
    assert_int_equal(lseek(fx->in_fd, 0, SEEK_SET), 0);
}

/* What was written to the output file, NUL-terminated; freed by caller. */
static char *output_of(struct fixture *fx)
{
    off_t size = lseek(fx->out_fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);

    assert_non_null(text);
    assert_int_equal(pread(fx->out_fd, text, (size_t)size, 0), size);
    return text;
}

/* Ids read from a file, "\n" and "\r\n" lines and a last line without
 * its end: one pseudonym per line, in order, and none of the ids (nor
 * the pseudonyms) left in the buffers once read. */
static void test_pseudonym_io_read_fd_wipes_ids(void **state)
{
    static const char ids[] = "alice-1\nbob-2\r\ncarol-3";
    struct fixture *fx = *state;
    struct pseudonym_io *io = pseudonym_io_new(fx->anon, 0, fx->out_fd);
    char *p1 = pseudonym_of(fx, "alice-1", 7);
    char *p2 = pseudonym_of(fx, "bob-2", 5);
    char *p3 = pseudonym_of(fx, "carol-3", 7);
    char want[512], *got;

    assert_non_null(io);
    write_ids(fx, ids, strlen(ids));
    assert_int_equal(pseudonym_io_read_fd(io, fx->in_fd, fx->errstr,
                                          sizeof(fx->errstr)), 0);
    snprintf(want, sizeof(want), "%s\n%s\n%s\n", p1, p2, p3);
    got = output_of(fx);
    assert_string_equal(got, want);

    assert_false(pseudonym_io_holds(io, "alice-1", 7));
    assert_false(pseudonym_io_holds(io, "bob-2", 5));
    assert_false(pseudonym_io_holds(io, "carol-3", 7));
    assert_false(pseudonym_io_holds(io, p1, strlen(p1)));
    assert_false(pseudonym_io_holds(io, p3, strlen(p3)));
    pseudonym_io_destroy(io);
    free(got);
    free(p1);
    free(p2);
    free(p3);
}

/* Between two reads (a user typing the next id at a terminal): the ids
 * of the lines ended so far are written and wiped; only the start of
 * the line not ended yet is kept, until it ends. */
static void test_pseudonym_io_feed_wipes_between_reads(void **state)
{
    struct fixture *fx = *state;
    struct pseudonym_io *io = pseudonym_io_new(fx->anon, 1, fx->out_fd);
    char first[] = "alice-1\r\nbob", second[] = "-2\n";
    char *p1 = pseudonym_of(fx, "alice-1", 7);
    char *p2 = pseudonym_of(fx, "bob-2", 5);
    char want[256], *got;

    assert_non_null(io);
    assert_int_equal(pseudonym_io_feed(io, first, strlen(first), fx->errstr,
                                       sizeof(fx->errstr)), 0);
    snprintf(want, sizeof(want), "alice-1\t%s\n", p1);
    got = output_of(fx);
    assert_string_equal(got, want);
    free(got);
    assert_false(pseudonym_io_holds(io, "alice-1", 7));
    assert_false(pseudonym_io_holds(io, p1, strlen(p1)));
    assert_true(pseudonym_io_holds(io, "bob", 3)); /* not a whole id yet */
    /* "bob" moved to the front over "ali": what it left behind too */
    assert_false(pseudonym_io_holds(io, "ce-1", 4));
    assert_null(memchr(first, 'a', sizeof(first))); /* the caller's wiped */

    assert_int_equal(pseudonym_io_feed(io, second, strlen(second),
                                       fx->errstr, sizeof(fx->errstr)), 0);
    snprintf(want, sizeof(want), "alice-1\t%s\nbob-2\t%s\n", p1, p2);
    got = output_of(fx);
    assert_string_equal(got, want);
    assert_false(pseudonym_io_holds(io, "bob", 3));
    assert_false(pseudonym_io_holds(io, p2, strlen(p2)));
    pseudonym_io_destroy(io);
    free(got);
    free(p1);
    free(p2);
}

/* An id longer than a read moves and grows the read buffer: its end is
 * wiped all the same, and its pseudonym is the whole id's. */
static void test_pseudonym_io_long_id_wiped(void **state)
{
    struct fixture *fx = *state;
    struct pseudonym_io *io = pseudonym_io_new(fx->anon, 0, fx->out_fd);
    char *id = malloc(LONG_ID_BYTES + 1);
    char *want, *got;

    assert_non_null(io);
    assert_non_null(id);
    memset(id, 'q', LONG_ID_BYTES - 8);
    memcpy(id + LONG_ID_BYTES - 8, "TAIL-END", 8);
    id[LONG_ID_BYTES] = '\n';
    write_ids(fx, id, LONG_ID_BYTES + 1);
    want = pseudonym_of(fx, id, LONG_ID_BYTES);

    assert_int_equal(pseudonym_io_read_fd(io, fx->in_fd, fx->errstr,
                                          sizeof(fx->errstr)), 0);
    got = output_of(fx);
    assert_int_equal(strlen(got), strlen(want) + 1);
    assert_memory_equal(got, want, strlen(want));
    assert_false(pseudonym_io_holds(io, "qqqqqqqqqqqqqqqq", 16));
    assert_false(pseudonym_io_holds(io, "TAIL-END", 8));
    pseudonym_io_destroy(io);
    free(id);
    free(want);
    free(got);
}

/* An id given (an argument) is wiped where the caller keeps it; with the
 * ids shown, the composed line holds it until the flush, not after. */
static void test_pseudonym_io_add_wipes_argument(void **state)
{
    struct fixture *fx = *state;
    struct pseudonym_io *io = pseudonym_io_new(fx->anon, 1, fx->out_fd);
    char arg[] = "dave-4\x1b[2J";
    char zeros[sizeof(arg) - 1] = {0};
    char *p = pseudonym_of(fx, arg, strlen(arg));
    char want[256], *got;

    assert_non_null(io);
    assert_int_equal(pseudonym_io_add(io, arg, strlen(arg), fx->errstr,
                                      sizeof(fx->errstr)), 0);
    assert_memory_equal(arg, zeros, sizeof(zeros));
    assert_true(pseudonym_io_holds(io, "dave-4", 6)); /* not written yet */

    assert_int_equal(pseudonym_io_flush(io, fx->errstr,
                                        sizeof(fx->errstr)), 0);
    assert_false(pseudonym_io_holds(io, "dave-4", 6));
    assert_false(pseudonym_io_holds(io, p, strlen(p)));
    snprintf(want, sizeof(want), "dave-4\\x1b[2J\t%s\n", p);
    got = output_of(fx);
    assert_string_equal(got, want);
    pseudonym_io_destroy(io);
    free(got);
    free(p);
}

/* A read or a write that fails is named in errstr, and what was read is
 * wiped all the same. */
static void test_pseudonym_io_failures_named(void **state)
{
    struct fixture *fx = *state;
    struct pseudonym_io *io = pseudonym_io_new(fx->anon, 1, -1);

    assert_non_null(io);
    assert_int_equal(pseudonym_io_read_fd(io, -1, fx->errstr,
                                          sizeof(fx->errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(fx->errstr, "reading the ids: Bad file descriptor");

    write_ids(fx, "erin-5\n", 7);
    assert_int_equal(pseudonym_io_read_fd(io, fx->in_fd, fx->errstr,
                                          sizeof(fx->errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(fx->errstr,
                        "writing the pseudonyms: Bad file descriptor");
    assert_false(pseudonym_io_holds(io, "erin-5", 6));
    pseudonym_io_destroy(io);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_pseudonym_io_read_fd_wipes_ids),
        T(test_pseudonym_io_feed_wipes_between_reads),
        T(test_pseudonym_io_long_id_wiped),
        T(test_pseudonym_io_add_wipes_argument),
        T(test_pseudonym_io_failures_named),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
