/*
 * producers/produce_labels.h - streams a labels file into labels.topic,
 * for delayed labels (`riffle produce --labels FILE`).
 *
 * Each line of the file (CSV, plain or .gz, no header) is
 *   event_id,label[,timestamp_ms]
 * and becomes one message keyed by the event id whose value is the label
 * as text (labels.format = "text"), with the timestamp when one is given
 * (so a replayed data set keeps its delays) or the time of sending.
 * A bad line is reported with its file and line and skipped, or stops
 * the run, as source.on_bad_row says. Runs on the calling thread.
 */
#ifndef RIFFLE_PRODUCERS_PRODUCE_LABELS_H
#define RIFFLE_PRODUCERS_PRODUCE_LABELS_H

#include "config/cfg.h"
#include "producers/produce.h"

/* Sends every line of opt->path (required) to cfg->labels.topic, at
 * opt->rate and up to opt->limit. Returns 0 or an error with errstr;
 * stats are filled either way. */
int produce_labels_run(const struct cfg *cfg,
                       const struct produce_options *opt,
                       struct produce_stats *stats, char *errstr,
                       size_t errstr_size);

#endif
