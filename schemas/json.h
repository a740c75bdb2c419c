/*
 * schemas/json.h - Avro values as plain JSON, for people and for tools
 * like jq: records become objects, unions show their value directly
 * (not Avro's {"type": value} wrapping), bytes become a byte count
 * unless asked for in full. Pure functions; any thread.
 */
#ifndef RIFFLE_SCHEMAS_JSON_H
#define RIFFLE_SCHEMAS_JSON_H

#include <avro.h>

#include "common/buf.h"
#include "schemas/event.h"
#include "schemas/schema.h"

/* Appends value as one line of JSON. Returns 0, RIFFLE_ERR_NOMEM or
 * RIFFLE_ERR_SCHEMA for a type it cannot print. */
int json_append_value(struct buf *out, avro_value_t *value);

/* Appends a flat event as a JSON object keyed by the schema's names. */
int json_append_event(struct buf *out, const struct schema *schema,
                      const struct event *ev);

#endif
