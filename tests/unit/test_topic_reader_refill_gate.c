/*
 * tests/unit/test_topic_reader_refill_gate.c - when a refilling topic
 * reader (topic_reader_set_refill()) wakes librdkafka's fetchers, against
 * its mock cluster. A read whose queue cannot have held half of a fetcher
 * threshold (queued.min.messages, queued.max.messages.kbytes) since it was
 * last empty must wake them never, however often the queue runs dry: the
 * model topic's snapshot chunks, 4 MiB each, leave it empty after most
 * messages, and each wake-up is a round trip. A reader that polls with
 * topic_reader_next() (as the serving follower does) past the message
 * threshold must, like topic_reader_read(), lose, repeat and reorder
 * nothing and end at the partitions' ends. The mock cluster keeps about
 * 5 MiB per partition, too little to reach the byte threshold here:
 * bench/delivery's snapshot part does, on a real broker. An alarm turns a
 * hang into a failure.
 */
#include "tests/unit/testutil.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include "common/err.h"
#include "consumers/topic_reader.h"

#define TEST_TOPIC "riffle.test.models"
#define TEST_PARTITIONS 2
/* 4 MiB in all, under the mock's retention: big messages, few bytes. */
#define TEST_BIG_BYTES (256 * 1024)
#define TEST_BIG_MESSAGES 16
/* Past queued.min.messages (100,000), so that the fetchers stop. */
#define TEST_MANY_MESSAGES 130000
#define TEST_POLL_MS 100
#define TEST_ALARM_S 600 /* valgrind included */

struct fixture {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    int messages;
    size_t bytes; /* of each message; 0: just its number */
    char errstr[512];
};

/* Produces the fixture's messages, message i starting with its number,
 * to partition i mod TEST_PARTITIONS. */
static void produce_numbers(const struct fixture *fx)
{
    size_t size = fx->bytes > 32 ? fx->bytes : 32;
    char *value = calloc(1, size);
    rd_kafka_t *rk = mock_client_new(fx->mcluster, RD_KAFKA_PRODUCER, NULL);
    int i;

    assert_non_null(value);
    for (i = 0; i < fx->messages; i++) {
        int len = snprintf(value, 32, "%d", i);
        rd_kafka_resp_err_t err;

        while ((err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(TEST_TOPIC),
                    RD_KAFKA_V_PARTITION(i % TEST_PARTITIONS),
                    RD_KAFKA_V_VALUE(value,
                                     fx->bytes ? fx->bytes : (size_t)len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    free(value);
}

static int setup_with(void **state, int messages, size_t bytes)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->mcluster = mock_cluster_new(&fx->host, 1, TEST_TOPIC,
                                    TEST_PARTITIONS, MOCK_CLUSTER_ANY_LEADER);
    fx->messages = messages;
    fx->bytes = bytes;
    produce_numbers(fx);
    *state = fx;
    return 0;
}

static int setup_big(void **state)
{
    return setup_with(state, TEST_BIG_MESSAGES, TEST_BIG_BYTES);
}

static int setup_many(void **state)
{
    return setup_with(state, TEST_MANY_MESSAGES, 0);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    mock_cluster_destroy(fx->mcluster, fx->host);
    free(fx);
    return 0;
}

/* What a read took: per partition, the next number and offset expected. */
struct numbers_read {
    long next_value[TEST_PARTITIONS];
    int64_t next_offset[TEST_PARTITIONS];
    long taken;
    int bad; /* a message out of place: lost, repeated or reordered */
    useconds_t first_wait; /* after the first message, in µs */
};

static int take_number(void *opaque, const rd_kafka_message_t *msg,
                       char *errstr, size_t errstr_size)
{
    struct numbers_read *nr = opaque;
    char text[32];
    int p = msg->partition;

    (void)errstr;
    (void)errstr_size;
    if (msg->err)
        return 0;
    /* The first message waits, so that the fetchers fill the queue (to
     * its threshold when the topic passes it) before the read drains
     * it. */
    if (nr->taken++ == 0)
        (void)usleep(nr->first_wait);
    snprintf(text, sizeof(text), "%.*s",
             (int)(msg->len < sizeof(text) ? msg->len : sizeof(text) - 1),
             (const char *)msg->payload);
    if (p < 0 || p >= TEST_PARTITIONS || msg->offset != nr->next_offset[p] ||
        strtol(text, NULL, 10) != nr->next_value[p]) {
        nr->bad = 1;
        return RIFFLE_ERR_KAFKA;
    }
    nr->next_offset[p]++;
    nr->next_value[p] += TEST_PARTITIONS;
    return 0;
}

static struct topic_reader *open_refilling(struct fixture *fx,
                                           struct numbers_read *nr)
{
    struct topic_reader *r = NULL;
    int p;

    for (p = 0; p < TEST_PARTITIONS; p++)
        nr->next_value[p] = p;
    assert_int_equal(topic_reader_new(
                         rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                         TEST_TOPIC, 1, &r, fx->errstr, sizeof(fx->errstr)),
                     0);
    topic_reader_set_refill(r, 1);
    return r;
}

/* Every message once, in order, and the read ends at the ends. */
static void check_read_all(const struct fixture *fx,
                           const struct numbers_read *nr,
                           const struct topic_reader *r)
{
    int p;

    assert_int_equal(nr->bad, 0);
    assert_int_equal(nr->taken, fx->messages);
    for (p = 0; p < TEST_PARTITIONS; p++) {
        assert_int_equal(nr->next_offset[p], fx->messages / TEST_PARTITIONS);
        assert_int_equal(topic_reader_end_offset(r, p),
                         fx->messages / TEST_PARTITIONS);
    }
}

/* Big messages, few bytes in all: the queue runs dry between them (each
 * poll of the read waits for the next fetch), and at the first
 * partition's end before the second's, but never held half a threshold:
 * no wake-up. */
static void test_topic_reader_refill_gate_small_read(void **state)
{
    struct fixture *fx = *state;
    struct numbers_read nr = {{0}, {0}, 0, 0, 0};
    struct topic_reader *r = open_refilling(fx, &nr);

    assert_int_equal(topic_reader_read(r, TEST_TOPIC, TEST_POLL_MS, NULL,
                                       take_number, &nr, NULL, fx->errstr,
                                       sizeof(fx->errstr)),
                     0);
    check_read_all(fx, &nr, r);
    assert_int_equal(topic_reader_wakeups(r), 0);
    topic_reader_destroy(r);
}

/* Past the message threshold through topic_reader_next(), polling until
 * every partition is at its end. */
static void test_topic_reader_refill_gate_next(void **state)
{
    struct fixture *fx = *state;
    struct numbers_read nr = {{0}, {0}, 0, 0, 300 * 1000};
    struct topic_reader *r = open_refilling(fx, &nr);

    while (!topic_reader_at_end(r)) {
        rd_kafka_message_t *msg = topic_reader_next(r, TEST_TOPIC,
                                                    TEST_POLL_MS);

        if (!msg)
            continue;
        assert_int_equal(take_number(&nr, msg, fx->errstr,
                                     sizeof(fx->errstr)),
                         0);
        rd_kafka_message_destroy(msg);
    }
    check_read_all(fx, &nr, r);
    print_message("fetchers woken %llu time(s)\n",
                  (unsigned long long)topic_reader_wakeups(r));
    topic_reader_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_topic_reader_refill_gate_small_read, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_topic_reader_refill_gate_next,
                                        setup_many, teardown),
    };

    (void)alarm(TEST_ALARM_S); /* no earlier alarm to keep */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
