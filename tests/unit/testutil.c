/*
 * tests/unit/testutil.c - the unit tests' shared fixtures, see
 * testutil.h: a scratch directory with a configuration of the test's own,
 * and the configuration, schema, statistics, cleaner and event that the
 * cleaning, feature and snapshot tests set up alike, and librdkafka's
 * mock cluster for the tests that fail brokers on purpose. Linked into
 * every unit test; needs no broker; single-threaded, like cmocka.
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

int online_fixture_open(struct online_fixture *f, const char *tag,
                        const char *schema_json, const char *cfg_text)
{
    char errstr[TESTUTIL_ERRSTR_SIZE];

    event_init(&f->ev); /* first: online_fixture_close() frees it */
    if (scratch_dir_new(&f->scratch, tag, &f->cfg) != 0) {
        print_error("fixture: no memory or no scratch directory\n");
        return -1;
    }

    if (load_cfg_text(f->cfg, f->scratch.cfg_path, cfg_text, errstr,
                      sizeof(errstr)) != 0 ||
        schema_load_json(schema_json, strlen(schema_json), "test", &f->schema,
                         errstr, sizeof(errstr)) != 0 ||
        online_new(f->cfg, f->schema, &f->ol, errstr, sizeof(errstr)) != 0) {
        print_error("fixture: %s\n", errstr);
        return -1;
    }
    return 0;
}

void online_fixture_close(struct online_fixture *f)
{
    online_destroy(f->ol);
    schema_destroy(f->schema);
    event_free(&f->ev);
    scratch_dir_destroy(&f->scratch, f->cfg);
    memset(f, 0, sizeof(*f));
}

int online_fixture_setup(void **state, size_t size, const char *tag,
                         const char *schema_json, const char *cfg_text)
{
    struct online_fixture *f = calloc(1, size);

    assert(size >= sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return online_fixture_open(f, tag, schema_json, cfg_text);
}

int online_fixture_teardown(void **state)
{
    struct online_fixture *f = *state;

    if (!f)
        return 0;
    online_fixture_close(f);
    free(f);
    return 0;
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

rd_kafka_mock_cluster_t *mock_cluster_new(rd_kafka_t **host, int brokers,
                                          const char *topic, int partitions,
                                          int32_t leader)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_mock_cluster_t *mcluster;
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    int p;

    /* The tests stop brokers on purpose: their connection errors are
     * noise. A refused setting would only make the log louder. */
    (void)rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!*host)
        fail_msg("rd_kafka_new: %s", errstr);

    mcluster = rd_kafka_mock_cluster_new(*host, brokers);
    assert_non_null(mcluster);
    assert_int_equal(rd_kafka_mock_topic_create(mcluster, topic, partitions,
                                                1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    if (leader == MOCK_CLUSTER_ANY_LEADER)
        return mcluster;

    for (p = 0; p < partitions; p++)
        assert_int_equal(rd_kafka_mock_partition_set_leader(mcluster, topic,
                                                            p, leader),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    return mcluster;
}

rd_kafka_t *mock_client_new(rd_kafka_mock_cluster_t *mcluster,
                            rd_kafka_type_t type, const char *group_id)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[TESTUTIL_ERRSTR_SIZE] = "";
    rd_kafka_t *rk;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(
                                           mcluster),
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    if (group_id)
        assert_int_equal(rd_kafka_conf_set(conf, "group.id", group_id,
                                           errstr, sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
    (void)rd_kafka_conf_set(conf, "log_level", "0", errstr,
                            sizeof(errstr)); /* connection noise */
    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk)
        fail_msg("rd_kafka_new: %s", errstr);
    return rk;
}

void mock_cluster_destroy(rd_kafka_mock_cluster_t *mcluster,
                          rd_kafka_t *host)
{
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (host)
        rd_kafka_destroy(host);
}

void mock_fixture_open(struct mock_fixture *fx, int brokers, const char *topic,
                       int partitions, int32_t leader, rd_kafka_type_t type)
{
    fx->mcluster = mock_cluster_new(&fx->host, brokers, topic, partitions, leader);
    fx->client = mock_client_new(fx->mcluster, type, NULL);
}

void mock_fixture_close(struct mock_fixture *fx)
{
    rd_kafka_destroy(fx->client);
    mock_cluster_destroy(fx->mcluster, fx->host);
}
