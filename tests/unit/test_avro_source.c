/*
 * tests/unit/test_avro_source.c - producers/avro_source.c opening a
 * container once: the check and avro-c read the same open file, so a
 * file put in the path's place after it was opened is never read, a file
 * written into in place while read is refused, and a pipe is refused by
 * name before anything is read.
 *
 * Uses the Elec2 fixtures of tests/fixtures/avro (good.avro holds the
 * events elec2-1 to elec2-10; good-deflate.avro those ten twice) and
 * config/elec2.cfg. Reading whole containers is in
 * tests/integration/test_train_avro.sh. Run from the repo root.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <avro.h>

#include "common/err.h"
#include "producers/avro_source.h"

#define FIXTURES "tests/fixtures/avro/"
#define GOOD_EVENTS 10 /* in good.avro */

struct source_fixture {
    struct cfg cfg;
    struct schema *input;
    char path[128];
    char errstr[TESTUTIL_ERRSTR_SIZE];
};

static int source_setup(void **state)
{
    struct source_fixture *fx = calloc(1, sizeof(*fx));

    if (!fx || cfg_load_file(&fx->cfg, "config/elec2.cfg", fx->errstr,
                             sizeof(fx->errstr)) != 0 ||
        schema_load_file(fx->cfg.schema_path, &fx->input, fx->errstr,
                         sizeof(fx->errstr)) != 0) {
        free(fx);
        return -1;
    }
    temp_file_new(fx->path, sizeof(fx->path), "avro-source");
    *state = fx;
    return 0;
}

static int source_teardown(void **state)
{
    struct source_fixture *fx = *state;

    (void)unlink(fx->path); /* gone already when a test renamed it away */
    schema_destroy(fx->input);
    free(fx);
    return 0;
}

/* Copies the fixture file from to the path to, replacing what was there
 * by a rename, as a writer that publishes a new file does: the old file
 * stays readable through any FILE* already open on it. */
static void replace_with(const char *to, const char *from)
{
    char tmp[160], chunk[4096];
    FILE *in = fopen(from, "rb"), *out;
    size_t n;

    assert_non_null(in);
    snprintf(tmp, sizeof(tmp), "%s.new", to);
    out = fopen(tmp, "wb");
    assert_non_null(out);
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        assert_int_equal(fwrite(chunk, 1, n, out), n);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(rename(tmp, to), 0);
}

/* The file opened is the file read: replaced by another container after
 * it was opened, its path now names twenty events, but the source reads
 * the ten it checked. riffle once opened the path a second time for
 * avro-c, which then read a file that was never checked. */
static void test_avro_source_reads_the_file_it_checked(void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    struct event ev;
    char id[32];
    FILE *f;
    int n, err;

    replace_with(fx->path, FIXTURES "good.avro");
    f = fopen(fx->path, "rb");
    assert_non_null(f);
    replace_with(fx->path, FIXTURES "good-deflate.avro");

    err = avro_source_open_file(f, fx->path, &fx->cfg, fx->input, &src,
                                fx->errstr, sizeof(fx->errstr));
    if (err)
        fail_msg("open: %s", fx->errstr);
    event_init(&ev);
    for (n = 0; (err = avro_source_next(src, &ev, fx->errstr,
                                        sizeof(fx->errstr))) == 0;
         n++) {
        snprintf(id, sizeof(id), "elec2-%d", n + 1);
        assert_string_equal(event_text(&ev, fx->input, "event_id"), id);
        assert_string_equal(event_text(&ev, fx->input, "class"), "UP");
    }
    assert_int_equal(err, RIFFLE_ERR_EOF);
    assert_int_equal(n, GOOD_EVENTS);

    /* the source borrowed f: it is still open, and the caller's */
    avro_source_close(src);
    event_free(&ev);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fgetc(f), 'O');
    assert_int_equal(fclose(f), 0);
}

/* Writes bytes of from over the file at path in place, from offset on:
 * the same file, no rename, as a writer that reuses the path does. Its
 * modification time is then set an hour back, so that a write within
 * the file system clock's tick of the open is seen too. */
static void write_in_place(const char *path, const char *from, long offset,
                           int truncate)
{
    struct timespec times[2] = {{0, UTIME_OMIT}, {0, 0}};
    char chunk[4096];
    FILE *in = fopen(from, "rb"), *out = fopen(path, "r+b");
    struct stat st;
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    if (truncate)
        assert_int_equal(ftruncate(fileno(out), 0), 0);
    assert_int_equal(fseek(in, offset, SEEK_SET), 0);
    assert_int_equal(fseek(out, offset, SEEK_SET), 0);
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        assert_int_equal(fwrite(chunk, 1, n, out), n);
    assert_int_equal(fflush(out), 0);
    assert_int_equal(fstat(fileno(out), &st), 0);
    times[1].tv_sec = st.st_mtim.tv_sec - 3600;
    assert_int_equal(futimens(fileno(out), times), 0);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
}

/* Reads records until one fails; returns how many came. */
static int read_all(struct source_fixture *fx, struct avro_source *src,
                    int *err)
{
    struct event ev;
    int n = 0;

    event_init(&ev);
    while ((*err = avro_source_next(src, &ev, fx->errstr,
                                    sizeof(fx->errstr))) == 0)
        n++;
    event_free(&ev);
    return n;
}

/* Truncated and written again with another container after the check
 * read it: avro-c would read bytes the check never saw. Refused before
 * any record is used, naming the file and where avro-c had read to. */
static void test_avro_source_refuses_a_file_rewritten_after_check(
    void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    int err;

    replace_with(fx->path, FIXTURES "good-deflate.avro");
    assert_int_equal(avro_source_open(fx->path, &fx->cfg, fx->input, &src,
                                      fx->errstr, sizeof(fx->errstr)),
                     0);
    write_in_place(fx->path, FIXTURES "good.avro", 0, 1);

    assert_int_equal(read_all(fx, src, &err), 0);
    assert_int_equal(err, RIFFLE_ERR_IO);
    assert_int_equal(avro_source_changed(src), 1);
    assert_contains(fx->errstr, fx->path);
    assert_contains(fx->errstr, ": written into while being read (its size "
                                "changed");
    assert_contains(fx->errstr, "after 0 record(s), in the block read up to "
                                "byte offset ");
    /* stopped for good: nothing more is read */
    assert_int_equal(read_all(fx, src, &err), 0);
    assert_int_equal(err, RIFFLE_ERR_IO);
    avro_source_close(src);
}

/* Written into at the same size while being read: the records before
 * the look that saw it stay read, and the end is refused, not reached. */
static void test_avro_source_refuses_a_file_written_while_read(void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    struct event ev;
    int n, err;

    replace_with(fx->path, FIXTURES "good.avro");
    assert_int_equal(avro_source_open(fx->path, &fx->cfg, fx->input, &src,
                                      fx->errstr, sizeof(fx->errstr)),
                     0);
    event_init(&ev);
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)),
                     0);
    event_free(&ev);
    write_in_place(fx->path, FIXTURES "good.avro", 100, 0);

    n = read_all(fx, src, &err);
    assert_int_equal(n, GOOD_EVENTS - 1);
    assert_int_equal(err, RIFFLE_ERR_IO);
    assert_int_equal(avro_source_changed(src), 1);
    assert_contains(fx->errstr, ": written into while being read (it was "
                                "modified, ");
    assert_contains(fx->errstr, "after 10 record(s), in the block read up to "
                                "byte offset ");
    avro_source_close(src);
}

/* A pipe cannot be read twice (once checked, once by avro-c): refused,
 * naming the file, before a byte of it is taken. */
static void test_avro_source_refuses_a_pipe(void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    int fds[2];
    FILE *f;

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "Obj\x01", 4), 4);
    assert_int_equal(close(fds[1]), 0);
    f = fdopen(fds[0], "rb");
    assert_non_null(f);

    assert_int_equal(avro_source_open_file(f, "/dev/stdin", &fx->cfg,
                                           fx->input, &src, fx->errstr,
                                           sizeof(fx->errstr)),
                     RIFFLE_ERR_IO);
    assert_null(src);
    assert_string_equal(fx->errstr, "/dev/stdin: not a readable Avro "
                        "container file: not a regular file (a container "
                        "is checked, then read: write a pipe's output to "
                        "a file first)");
    assert_int_equal(fgetc(f), 'O');
    assert_int_equal(fclose(f), 0);
}

/* A fifo named like a container, with no writer: refused by name at
 * once. Opening it for reading used to wait for a writer for ever; the
 * alarm turns such a wait into a failure of this test. */
static void test_avro_source_refuses_a_fifo_without_waiting(void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    char path[64];
    int err;

    snprintf(path, sizeof(path), "/tmp/riffle-fifo-%ld.avro", (long)getpid());
    (void)unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);

    alarm(10);
    err = avro_source_open(path, &fx->cfg, fx->input, &src, fx->errstr,
                           sizeof(fx->errstr));
    alarm(0);
    (void)unlink(path);

    assert_int_equal(err, RIFFLE_ERR_IO);
    assert_null(src);
    assert_contains(fx->errstr, ": not a readable Avro container file: not "
                                "a regular file");
    assert_contains(fx->errstr, path);
}

/* Opened by path: what cannot be opened, or is no file, is named. */
static void test_avro_source_names_what_cannot_be_opened(void **state)
{
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;

    assert_int_equal(avro_source_open(FIXTURES "no-such.avro", &fx->cfg,
                                      fx->input, &src, fx->errstr,
                                      sizeof(fx->errstr)),
                     RIFFLE_ERR_IO);
    assert_string_equal(fx->errstr, FIXTURES "no-such.avro: not a readable "
                        "Avro container file: No such file or directory");
    assert_int_equal(avro_source_open(FIXTURES, &fx->cfg, fx->input, &src,
                                      fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_IO);
    assert_contains(fx->errstr, FIXTURES ": not a readable Avro container "
                                "file: not a regular file");
    assert_null(src);
}

/* Elec2's fields, every one nullable, the id too. */
static const char nullable_id_schema[] =
    "{\"type\": \"record\", \"name\": \"Event\", \"fields\": ["
    "{\"name\": \"event_id\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"date\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"day\", \"type\": [\"null\", \"int\"]},"
    "{\"name\": \"period\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"nswprice\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"nswdemand\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"vicprice\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"vicdemand\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"transfer\", \"type\": [\"null\", \"double\"]},"
    "{\"name\": \"class\", \"type\": [\"null\", \"string\"]}]}";

/* Writes a container at path of nullable_id_schema whose records have
 * the ids given (NULL: a null id) and class "UP", the rest null. */
static void write_ids(const char *path, const char *const *ids, size_t n)
{
    avro_schema_t schema;
    avro_file_writer_t w;
    avro_value_iface_t *iface;
    avro_value_t rec, field, branch;
    size_t i;

    assert_int_equal(avro_schema_from_json_length(
                         nullable_id_schema, strlen(nullable_id_schema),
                         &schema),
                     0);
    (void)unlink(path);
    assert_int_equal(avro_file_writer_create(path, schema, &w), 0);
    iface = avro_generic_class_from_schema(schema);
    assert_non_null(iface);
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    for (i = 0; i < n; i++) {
        size_t f;

        for (f = 0; f < avro_schema_record_size(schema); f++) {
            assert_int_equal(avro_value_get_by_index(&rec, f, &field, NULL),
                             0);
            assert_int_equal(avro_value_set_branch(&field, 0, &branch), 0);
            assert_int_equal(avro_value_set_null(&branch), 0);
        }
        assert_int_equal(avro_value_get_by_name(&rec, "class", &field, NULL),
                         0);
        assert_int_equal(avro_value_set_branch(&field, 1, &branch), 0);
        assert_int_equal(avro_value_set_string(&branch, "UP"), 0);
        if (ids[i]) {
            assert_int_equal(
                avro_value_get_by_name(&rec, "event_id", &field, NULL), 0);
            assert_int_equal(avro_value_set_branch(&field, 1, &branch), 0);
            assert_int_equal(avro_value_set_string(&branch, ids[i]), 0);
        }
        assert_int_equal(avro_file_writer_append_value(w, &rec), 0);
    }
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    assert_int_equal(avro_file_writer_close(w), 0);
    avro_schema_decref(schema);
}

/* A record whose id is null or empty is refused with its record number
 * and offset, and reading goes on: produce counts it as a bad row
 * instead of sending what the learner would only dead-letter. */
static void test_avro_source_refuses_a_record_without_id(void **state)
{
    static const char *const ids[] = {"a-1", NULL, "", "a-4"};
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    char want[256];
    struct event ev;
    int err;

    write_ids(fx->path, ids, 4);
    err = avro_source_open(fx->path, &fx->cfg, fx->input, &src, fx->errstr,
                           sizeof(fx->errstr));
    if (err)
        fail_msg("open: %s", fx->errstr);
    event_init(&ev);

    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    assert_string_equal(event_text(&ev, fx->input, "event_id"), "a-1");
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), RIFFLE_ERR_DECODE);
    snprintf(want, sizeof(want), "%s: record 2 (in the block read up to "
             "byte offset ", fx->path);
    assert_memory_equal(fx->errstr, want, strlen(want));
    assert_contains(fx->errstr, "): field \"event_id\": found null, "
                                "expected the event's id (non-empty text)");
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), RIFFLE_ERR_DECODE);
    assert_contains(fx->errstr, ": record 3 (in the block");
    assert_contains(fx->errstr, "found empty text, expected the event's id");
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    assert_string_equal(event_text(&ev, fx->input, "event_id"), "a-4");
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), RIFFLE_ERR_EOF);
    avro_source_close(src);
    event_free(&ev);
}

/* nullable_id_schema and one more field, "note", nullable or not. */
#define WITH_NOTE(type)                                                  \
    "{\"type\": \"record\", \"name\": \"Event\", \"fields\": ["          \
    "{\"name\": \"event_id\", \"type\": [\"null\", \"string\"]},"        \
    "{\"name\": \"class\", \"type\": [\"null\", \"string\"]},"           \
    "{\"name\": \"note\", \"type\": " type "}]}"

/* A nullable field of the configured schema that the file lacks reads as
 * null in every record, as a CSV file without its column does; it was
 * refused as "missing in the file". One that may not be null is still
 * refused before anything is read. */
static void test_avro_source_nullable_field_absent_reads_null(void **state)
{
    static const char *const ids[] = {"a-1", "a-2"};
    static const char nullable[] = WITH_NOTE("[\"null\", \"string\"]");
    static const char required[] = WITH_NOTE("\"string\"");
    struct source_fixture *fx = *state;
    struct avro_source *src = NULL;
    struct schema *target = NULL;
    struct event ev;
    int note;

    write_ids(fx->path, ids, 2);
    assert_int_equal(schema_load_json(nullable, strlen(nullable), "t",
                                      &target, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    note = schema_field_index(target, "note");
    if (avro_source_open(fx->path, &fx->cfg, target, &src, fx->errstr,
                         sizeof(fx->errstr)) != 0)
        fail_msg("open: %s", fx->errstr);
    event_init(&ev);
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    assert_string_equal(event_text(&ev, target, "event_id"), "a-1");
    assert_string_equal(event_text(&ev, target, "class"), "UP");
    assert_int_equal(ev.values[note].kind, VALUE_NULL);
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    assert_int_equal(ev.values[note].kind, VALUE_NULL);
    assert_int_equal(avro_source_next(src, &ev, fx->errstr,
                                      sizeof(fx->errstr)), RIFFLE_ERR_EOF);
    avro_source_close(src);
    event_free(&ev);
    schema_destroy(target);

    assert_int_equal(schema_load_json(required, strlen(required), "t",
                                      &target, fx->errstr,
                                      sizeof(fx->errstr)), 0);
    src = NULL;
    assert_int_equal(avro_source_open(fx->path, &fx->cfg, target, &src,
                                      fx->errstr, sizeof(fx->errstr)),
                     RIFFLE_ERR_SCHEMA);
    assert_null(src);
    assert_contains(fx->errstr, ": field \"note\" of Event is missing in "
                                "the file");
    schema_destroy(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_avro_source_reads_the_file_it_checked, source_setup,
            source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_refuses_a_record_without_id, source_setup,
            source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_nullable_field_absent_reads_null, source_setup,
            source_teardown),
        cmocka_unit_test_setup_teardown(test_avro_source_refuses_a_pipe,
                                        source_setup, source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_refuses_a_fifo_without_waiting, source_setup,
            source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_names_what_cannot_be_opened, source_setup,
            source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_refuses_a_file_rewritten_after_check,
            source_setup, source_teardown),
        cmocka_unit_test_setup_teardown(
            test_avro_source_refuses_a_file_written_while_read,
            source_setup, source_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
