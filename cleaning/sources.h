/*
 * cleaning/sources.h - maps an event of one input schema into the
 * pipeline's schema, so that several sources share one feature space.
 *
 * A pipeline reads its main topic with source.schema, and may read
 * further topics (sources = (...)) whose records name and order their
 * fields differently. Each field of the pipeline's schema takes the
 * source field of the same name, or the one the map names, or stays
 * null (its missing-value rule then applies). Types must agree in kind:
 * numbers (all numeric types and booleans) to numbers, strings to
 * strings. Built once at start-up; applying it copies values only.
 * Not thread-safe.
 */
#ifndef RIFFLE_CLEANING_SOURCES_H
#define RIFFLE_CLEANING_SOURCES_H

#include <stddef.h>

#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"

struct source_map;

/* target and from are borrowed and must outlive the map. map holds
 * map_count [pipeline field, source field] pairs (borrowed); with
 * same_names, fields the map does not name also read the source field
 * of the same name (a source), else only the pairs (a join). Errors name
 * cfg's file, line and key (e.g. "sources[0].map"). Returns 0,
 * RIFFLE_ERR_CFG or RIFFLE_ERR_NOMEM. */
int source_map_new(const struct cfg *cfg, int line, const char *key,
                   const struct schema *target, const struct schema *from,
                   char (*map)[2][CFG_NAME_MAX], size_t map_count,
                   int same_names, struct source_map **out, char *errstr,
                   size_t errstr_size);

void source_map_destroy(struct source_map *m); /* NULL-safe */

/* Resets to to the target schema's fields and copies the mapped values
 * of from. Returns 0 or RIFFLE_ERR_NOMEM. */
int source_map_apply(const struct source_map *m, const struct event *from,
                     struct event *to);

/* The index in from's schema that target field i reads, or -1. */
int source_map_origin(const struct source_map *m, size_t target_field);

#endif
