/*
 * tests/unit/testutil.c - the unit tests' shared fixtures, see
 * testutil.h: a scratch directory with a configuration of the test's own,
 * and the configuration, schema, statistics, cleaner and event that the
 * cleaning, feature and snapshot tests set up alike. Linked into every
 * unit test; needs no broker; single-threaded, like cmocka.
 */
#include "tests/unit/testutil.h"

#include <assert.h>

#include "cleaning/clean.h"

int scratch_dir_new(struct scratch_dir *s, const char *tag,
                    struct cfg **cfg)
{
    *cfg = calloc(1, sizeof(**cfg));
    if (!*cfg || !temp_dir_new(s->dir, sizeof(s->dir), tag)) {
        s->dir[0] = '\0'; /* mkdtemp() may leave the template behind */
        return -1;
    }
    snprintf(s->cfg_path, sizeof(s->cfg_path), "%s/%s.cfg", s->dir, tag);
    return 0;
}

void scratch_dir_destroy(struct scratch_dir *s, struct cfg *cfg)
{
    /* Either may be missing when set-up failed early: nothing to report. */
    if (s->cfg_path[0])
        (void)unlink(s->cfg_path);
    if (s->dir[0])
        (void)rmdir(s->dir);
    free(cfg);
}

int clean_fixture_open(struct clean_fixture *f, const char *tag,
                       const char *schema_json, const char *cfg_text,
                       int with_cleaner)
{
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";

    event_init(&f->ev);
    if (scratch_dir_new(&f->scratch, tag, &f->cfg) != 0) {
        print_error("fixture: no memory or no scratch directory\n");
        return -1;
    }

    if (load_cfg_text(f->cfg, f->scratch.cfg_path, cfg_text, errstr,
                      sizeof(errstr)) != 0 ||
        schema_load_json(schema_json, strlen(schema_json), "test schema",
                         &f->schema, errstr, sizeof(errstr)) != 0 ||
        (with_cleaner && cleaner_new(f->cfg, f->schema, f->stats,
                                     &f->cleaner, errstr,
                                     sizeof(errstr)) != 0)) {
        print_error("fixture: %s\n", errstr);
        return -1;
    }
    return 0;
}

void clean_fixture_close(struct clean_fixture *f)
{
    cleaner_destroy(f->cleaner);
    schema_destroy(f->schema);
    event_free(&f->ev);
    scratch_dir_destroy(&f->scratch, f->cfg);
    memset(f, 0, sizeof(*f));
}

int clean_fixture_setup(void **state, size_t size, const char *tag,
                        const char *schema_json, const char *cfg_text,
                        int with_cleaner)
{
    struct clean_fixture *f = calloc(1, size);

    assert(size >= sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return clean_fixture_open(f, tag, schema_json, cfg_text, with_cleaner);
}

int clean_fixture_teardown(void **state)
{
    struct clean_fixture *f = *state;

    if (!f)
        return 0;
    clean_fixture_close(f);
    free(f);
    return 0;
}

size_t clean_fixture_col(const struct clean_fixture *f, const char *name)
{
    return schema_col(f->schema, name);
}

void clean_fixture_set_num(struct clean_fixture *f, const char *name,
                           double x)
{
    event_set_number(&f->ev, clean_fixture_col(f, name), x);
}

void clean_fixture_set_str(struct clean_fixture *f, const char *name,
                           const char *s)
{
    event_put_text(&f->ev, f->schema, name, s);
}

void clean_fixture_set_null(struct clean_fixture *f, const char *name)
{
    event_set_null(&f->ev, clean_fixture_col(f, name));
}
