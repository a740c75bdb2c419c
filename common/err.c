/*
 * common/err.c - text for the shared error codes of common/err.h.
 */
#include "common/err.h"

const char *riffle_err_str(int err)
{
    switch (err) {
    case RIFFLE_OK:
        return "success";
    case RIFFLE_ERR_NOMEM:
        return "out of memory";
    case RIFFLE_ERR_IO:
        return "input/output error";
    case RIFFLE_ERR_PARSE:
        return "parse error";
    case RIFFLE_ERR_CFG:
        return "configuration error";
    case RIFFLE_ERR_SCHEMA:
        return "schema error";
    case RIFFLE_ERR_DECODE:
        return "decode error";
    case RIFFLE_ERR_KAFKA:
        return "kafka error";
    case RIFFLE_ERR_INVALID:
        return "invalid value";
    case RIFFLE_ERR_SNAPSHOT:
        return "snapshot error";
    case RIFFLE_ERR_USAGE:
        return "usage error";
    case RIFFLE_ERR_EOF:
        return "end of input";
    case RIFFLE_ERR_TIMEOUT:
        return "timed out";
    case RIFFLE_ERR_ABORTED:
        return "transaction aborted";
    case RIFFLE_ERR_FENCED:
        return "kafka client failed for good";
    case RIFFLE_ERR_STOPPED:
        return "stopped on request";
    case RIFFLE_ERR_TOO_BIG:
        return "too large";
    default:
        return "unknown error";
    }
}
