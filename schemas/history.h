/*
 * schemas/history.h - the versions of one of riffle's output schemas.
 *
 * A topic keeps the records an older riffle wrote, each framed with the
 * fingerprint of its writer's schema. The current .avsc sits in the
 * output schema folder; each earlier released version of it sits in the
 * folder's history/ as STEM.FINGERPRINT.avsc (16 lower-case hex digits,
 * e.g. history/metrics.53411c6fbc3ee0d4.avsc). Given a record, this
 * module names the schema it was written with, so a reader can decode it
 * as written and then read its fields by name.
 *
 * It does not resolve one version into another: a reader that interprets
 * a record looks fields up by name and gives those an older version lacks
 * their defaults itself. Versions are loaded on first use and kept until
 * the history is destroyed. One thread at a time per struct.
 */
#ifndef RIFFLE_SCHEMAS_HISTORY_H
#define RIFFLE_SCHEMAS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "schemas/schema.h"

#define SCHEMA_HISTORY_DIR "history" /* beside the current .avsc */

struct schema_history;

/* Loads the current schema from path (an .avsc in the output schema
 * folder). Returns 0, RIFFLE_ERR_NOMEM, or schema_load_file()'s error with
 * errstr set. *out is the caller's: free with schema_history_destroy(). */
int schema_history_new(const char *path, struct schema_history **out,
                       char *errstr, size_t errstr_size);

void schema_history_destroy(struct schema_history *h); /* NULL-safe */

/* The current version; borrowed, valid while h lives. */
const struct schema *schema_history_current(const struct schema_history *h);

/* The version that wrote data (a single-object message of len bytes),
 * into *out, borrowed and valid while h lives: the current one, or the
 * earlier one in the history whose fingerprint the record carries. When
 * none has it, or the header cannot be read, *out is the current one, so
 * that reading data with it reports what is wrong. Returns 0, or
 * RIFFLE_ERR_SCHEMA / RIFFLE_ERR_IO / RIFFLE_ERR_NOMEM with errstr set
 * when the history file of that fingerprint exists but cannot be used
 * (unreadable, not JSON, another record or another fingerprint). */
int schema_history_find(struct schema_history *h, const void *data,
                        size_t len, const struct schema **out, char *errstr,
                        size_t errstr_size);

/* Keeps *value a value of the version that wrote data: replaced (the old
 * one released) only when that version is not *value_schema, since the
 * records of a topic mostly share one; *value_schema NULL means no value
 * yet. Returns schema_history_find()'s codes, or RIFFLE_ERR_NOMEM with
 * errstr "out of memory" (*value_schema then NULL). */
int schema_history_value_for(struct schema_history *h, const void *data,
                             size_t len, const struct schema **value_schema,
                             avro_value_t *value, char *errstr,
                             size_t errstr_size);

/* The path of the history file of fingerprint fp for the schema at path,
 * into out (out_size bytes): DIR/history/STEM.FP.avsc. */
void schema_history_path(const char *path, uint64_t fp, char *out,
                         size_t out_size);

#endif
