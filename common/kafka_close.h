/*
 * common/kafka_close.h - a consumer's close that a stop does not wait on
 * for long.
 *
 * librdkafka's rd_kafka_consumer_close() waits for every offsets commit
 * still in flight: one that a stop left unanswered holds it for up to
 * three tries of the 10 s socket timeout. The close is made here on a
 * thread of its own (a worker of common/bounded_call.h, one per close)
 * and waited for a bounded time; one still running
 * then goes on by itself, and the stopping caller does not wait for it.
 * The state its callbacks (rebalance) reach is released by whichever
 * thread ends the close, never before: a caller hands it over and
 * forgets it. Called from the thread that owns the consumer.
 */
#ifndef RIFFLE_COMMON_KAFKA_CLOSE_H
#define RIFFLE_COMMON_KAFKA_CLOSE_H

#include <librdkafka/rdkafka.h>

/* Closes consumer rk and destroys it, waiting at most wait_s seconds.
 * Takes rk, and arg: release(arg) is called once rk is destroyed, on
 * this thread when the close ended within the bound, else on the close's
 * own thread when it ends (release may be NULL, arg then unused). A
 * close that cannot be run apart (no thread) is made here, unbounded.
 * The owner (component) names the log line of a close left running.
 * Returns 1 when the close is over, 0 when it goes on by itself. */
int kafka_close_bounded(rd_kafka_t *rk, int wait_s, void (*release)(void *),
                        void *arg, const char *owner);

#endif
