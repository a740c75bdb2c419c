/*
 * common/err.h - the one error enum every riffle module returns.
 *
 * Functions return 0 on success or a negative RIFFLE_ERR_* code. Where the
 * caller needs an explanation, functions also fill an errstr buffer, and
 * the caller that handles the error is the one that logs it.
 */
#ifndef RIFFLE_COMMON_ERR_H
#define RIFFLE_COMMON_ERR_H

enum riffle_err {
    RIFFLE_OK = 0,
    RIFFLE_ERR_NOMEM = -1,    /* allocation failed */
    RIFFLE_ERR_IO = -2,       /* file or stream read/write failed */
    RIFFLE_ERR_PARSE = -3,    /* text input (CSV, number) malformed */
    RIFFLE_ERR_CFG = -4,      /* configuration invalid */
    RIFFLE_ERR_SCHEMA = -5,   /* Avro schema invalid or value mismatch */
    RIFFLE_ERR_DECODE = -6,   /* wire bytes cannot be decoded */
    RIFFLE_ERR_KAFKA = -7,    /* librdkafka reported an error */
    RIFFLE_ERR_INVALID = -8,  /* a value breaks a rule (range, required) */
    RIFFLE_ERR_SNAPSHOT = -9, /* snapshot corrupt or incompatible */
    RIFFLE_ERR_USAGE = -10,   /* bad command line */
    RIFFLE_ERR_EOF = -11,     /* no more input (not a failure) */
    RIFFLE_ERR_TIMEOUT = -12, /* not done yet; the same call may succeed */
    RIFFLE_ERR_ABORTED = -13, /* a transaction must be aborted and redone */
    RIFFLE_ERR_FENCED = -14,  /* a Kafka client failed for good (fenced,
                                 fatal): only a new client can go on */
    RIFFLE_ERR_STOPPED = -15, /* a stop request ended a wait on the
                                 brokers: not a failure */
    RIFFLE_ERR_TOO_BIG = -16, /* over a size limit of the format kept in
                                 memory (an event's 4 GiB arena) */
};

/* Returns a static, human-readable name for an error code. */
const char *riffle_err_str(int err);

#endif
