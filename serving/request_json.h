/*
 * serving/request_json.h - JSON requests and answers of the HTTP scoring
 * endpoint.
 *
 * A request is one JSON object whose members are the input schema's
 * fields by name, with the same rules as the Avro encoding: strings for
 * string fields, numbers for numeric ones (whole numbers for int and
 * long), true/false for booleans, null or absent only where the field is
 * nullable. Unknown members and duplicated keys are refused, as the
 * configuration loader refuses unknown keys: a typo must not silently
 * score a different event. Parsing uses jansson; nothing here touches
 * Kafka or the network. Pure functions; any thread.
 */
#ifndef RIFFLE_SERVING_REQUEST_JSON_H
#define RIFFLE_SERVING_REQUEST_JSON_H

#include <stddef.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"
#include "serving/model_slot.h"

/* Fills ev from the JSON text body (len bytes, need not end in NUL).
 * Returns 0; RIFFLE_ERR_PARSE when body is not JSON (errstr gives line,
 * column and what was wrong); RIFFLE_ERR_INVALID when it is JSON but not
 * an event of this schema (errstr names the field, never its value); or
 * RIFFLE_ERR_NOMEM. */
int request_json_to_event(const struct schema *schema, const char *body,
                          size_t len, struct event *ev, char *errstr,
                          size_t errstr_size);

/* Appends the answer for p as a JSON object: event id, model name and
 * version, value, probability (binary and multiclass), predicted class
 * and label; for a refused event, the reason, field and detail. Returns
 * 0 or RIFFLE_ERR_NOMEM. */
int request_json_answer(const struct cfg *cfg,
                        const struct served_prediction *p, struct buf *out);

/* Appends {"error": what} with what escaped. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int request_json_error(const char *what, struct buf *out);

#endif
