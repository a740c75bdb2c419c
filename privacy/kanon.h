/*
 * privacy/kanon.h - k-anonymity of the quasi-identifiers over a sliding
 * window of events.
 *
 * A quasi-identifier is a field that does not name a person but, combined
 * with others (age band, postcode area, birth year, sex), may single one
 * out. The monitor sees each learned event's quasi-identifiers after
 * anonymization, as the model sees them, and keeps how many events of the
 * last `window` share each combination. A combination shared by fewer
 * than k events is one an observer could use to narrow a person down to
 * fewer than k candidates. It keeps 64-bit hashes of combinations, never
 * the values, so it holds nothing personal; two combinations whose hashes
 * collide (about window^2 / 2^65 pairs) are counted as one. Memory is
 * bounded by the window: about 40 bytes per event. Single-threaded.
 */
#ifndef RIFFLE_PRIVACY_KANON_H
#define RIFFLE_PRIVACY_KANON_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"

struct kanon;

struct kanon_report {
    size_t k;                  /* the configured k */
    size_t window_events;      /* events in the window (at most window) */
    size_t combinations;       /* distinct combinations in the window */
    size_t combinations_below; /* of them, shared by fewer than k events */
    size_t events_below;       /* events in those combinations */
};

/* Builds the monitor for cfg's privacy.k_anonymity; *out is NULL when no
 * quasi-identifiers are configured. Returns 0, RIFFLE_ERR_CFG with errstr
 * when a quasi-identifier is not in the schema, or RIFFLE_ERR_NOMEM. */
int kanon_new(const struct cfg *cfg, const struct schema *schema,
              struct kanon **out, char *errstr, size_t errstr_size);

void kanon_destroy(struct kanon *k); /* NULL-safe */

/* Counts ev's combination; the oldest event leaves a full window. */
void kanon_add(struct kanon *k, const struct event *ev);

/* The counts now. */
void kanon_report(const struct kanon *k, struct kanon_report *out);

#endif
