/*
 * cleaning/clean.h - applies the configured cleaning rules to one event.
 *
 * Runs after decoding and before anonymization, on the raw values: it
 * checks that required fields are present, repairs what the rules allow
 * (clip to a range, impute a missing value) and turns the label into 0/1.
 * An event it cannot repair gets a verdict naming the reason and the
 * field; the caller dead-letters it. The verdict never holds the value of
 * a personal field. Runs on the learner thread; not thread-safe.
 */
#ifndef RIFFLE_CLEANING_CLEAN_H
#define RIFFLE_CLEANING_CLEAN_H

#include <stddef.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "learner/stats.h"
#include "schemas/event.h"
#include "schemas/schema.h"

/* Why an event was refused; reasons are the dead-letter reason codes. */
#define CLEAN_REASON_MISSING "missing_required"
#define CLEAN_REASON_RANGE "out_of_range"
#define CLEAN_REASON_LABEL "invalid_label"
#define CLEAN_REASON_VALUE "invalid_value"
#define CLEAN_REASON_OUTLIER "outlier"

/* Event ids travel as Kafka keys and in every output record; longer ones
 * are refused so that no output can outgrow the broker's size limit. */
#define CLEAN_MAX_ID_BYTES 1024

struct clean_verdict {
    const char *reason;        /* one of CLEAN_REASON_*, static */
    char field[CFG_NAME_MAX];  /* the field at fault */
    char detail[256];          /* explanation, no personal values */
};

struct cleaner;

/* Checks that every configured field exists in the schema with a type
 * its kind can use, and builds the cleaner. stats is borrowed: an array
 * of cfg->field_count running statistics, shared with the feature
 * builder, updated here with each observed numeric value. Returns 0 or
 * RIFFLE_ERR_CFG with errstr naming the config file and field. */
int cleaner_new(const struct cfg *cfg, const struct schema *schema,
                struct running_stats *stats, struct cleaner **out,
                char *errstr, size_t errstr_size);

void cleaner_destroy(struct cleaner *c); /* NULL-safe */

/* Cleans ev in place and writes its label (0/1) to *label. Returns 0, or
 * RIFFLE_ERR_INVALID with *verdict filled; the event is then not
 * learned. Counts per outcome are kept (see cleaner_counts). The running
 * statistics are not touched: see cleaner_commit_stats(). */
int cleaner_apply(struct cleaner *c, struct event *ev, double *label,
                  struct clean_verdict *verdict);

/* The cleaner's pure part for another thread (train's reader), a
 * function of an event's values and the configuration alone: which
 * fields need more than their quick rule, and the label's number (of a
 * binary or multiclass label without a threshold). cleaner_apply() then
 * walks only those fields while the event is unchanged, the quick rules
 * again from the first write on, and takes the label's number while the
 * label is unchanged. */
struct cleaner_hinter;

/* A hinter with its own copy of c's quick rules: it reads nothing of c
 * afterwards and may outlive it. Returns 0 or RIFFLE_ERR_NOMEM. */
int cleaner_hinter_new(const struct cleaner *c, struct cleaner_hinter **out);

void cleaner_hinter_destroy(struct cleaner_hinter *h); /* NULL-safe */

/* Hints ev with the configured fields whose value does not pass its
 * quick rule (event_hint_mask()), and its label with its number
 * (event_hint_number()) unless the label would be refused. The hinter's
 * one thread only: it keeps its own memo of label texts. */
void cleaner_hint_event(struct cleaner_hinter *h, struct event *ev);

/* Per configured field, 1 when the last cleaner_apply() made the value
 * up (imputed it), so features can still say it was missing. Borrowed;
 * cfg->field_count entries. */
const unsigned char *cleaner_imputed(const struct cleaner *c);

/* Adds the values ev really carried (not imputed ones) to the running
 * statistics, the quantile sketches (median, MAD, IQR) and the category
 * counts (mode). Called once an event has been learned, so that an event
 * refused at any stage never moves a mean. */
void cleaner_commit_stats(struct cleaner *c, const struct event *ev);

struct clean_counts {
    unsigned long long passed;
    unsigned long long rejected;
    unsigned long long clipped;
    unsigned long long imputed;
};

const struct clean_counts *cleaner_counts(const struct cleaner *c);

/* What the rules did to one field, since the cleaner was built. */
struct clean_field_counts {
    unsigned long long missing;  /* values that arrived null */
    unsigned long long imputed;  /* values made up (mean, median, ...) */
    unsigned long long clipped;  /* moved to a range or outlier bound */
    unsigned long long invalid;  /* not allowed, not matching, too long */
    unsigned long long outliers; /* flagged by the outlier rule */
    unsigned long long rejected; /* events dead-lettered for this field */
};

/* Per configured field, cfg->field_count entries. Borrowed. */
const struct clean_field_counts *
cleaner_field_counts(const struct cleaner *c);

/* For scoring without learning: a missing label is then accepted (the
 * label is written as NaN, which no real label can be); a present one is
 * still checked. */
void cleaner_set_label_optional(struct cleaner *c, int optional);

/* A label that came apart from its event (delayed labels), as text:
 * read as the label field's rules read that value in an event. Returns
 * 0 with *label set, or RIFFLE_ERR_INVALID with *v saying why. */
int cleaner_parse_label(const struct cleaner *c, const char *text,
                        double *label, struct clean_verdict *v);

/* The same for the label field of ev (decoded, not cleaned). */
int cleaner_read_label(const struct cleaner *c, const struct event *ev,
                       double *label, struct clean_verdict *v);

/* The index in the schema of the configured field i. */
int cleaner_schema_index(const struct cleaner *c, size_t cfg_field);

/* Saved state: the bounded summaries behind median imputation, the MAD
 * and IQR outlier rules and mode imputation travel in the model snapshot,
 * so a restart continues them where they were. */
enum clean_summary_kind {
    CLEAN_SUMMARY_VALUES, /* quantile sketch of the values */
    CLEAN_SUMMARY_SPREAD, /* quantile sketch of |x - median|, for MAD */
    CLEAN_SUMMARY_MODE,   /* top-k categories */
    CLEAN_SUMMARY_KINDS
};

/* "values", "spread", "mode"; NULL for another kind. Static. */
const char *clean_summary_name(int kind);

/* The kind named name, or -1. */
int clean_summary_kind(const char *name);

/* Appends the state of field's summary of kind to out (sketch_save(),
 * topk_save()). Returns 0; RIFFLE_ERR_EOF when there is nothing to save:
 * the field's rules need no such summary, or the field is personal (a
 * sketch holds its exact smallest and largest values, raw personal
 * values that no output may carry); or RIFFLE_ERR_NOMEM. */
int cleaner_save_summary(const struct cleaner *c, size_t field, int kind,
                         struct buf *out);

/* A restore: summaries of c's shape, all empty, filled one by one with
 * cleaner_stage_load() and put in place by cleaner_stage_commit() only
 * once the whole snapshot was read, so a refused snapshot changes
 * nothing. A summary the snapshot lacks stays empty, as after a fresh
 * start. The caller owns *out. Returns 0 or RIFFLE_ERR_NOMEM. */
struct clean_summaries;
int cleaner_stage_new(const struct cleaner *c, struct clean_summaries **out);

/* Loads len bytes of data (borrowed) into field's summary of kind.
 * Returns 0; RIFFLE_ERR_EOF when the rules need no such summary (they
 * changed: the saved one is of no use); RIFFLE_ERR_SNAPSHOT when data
 * is damaged. */
int cleaner_stage_load(struct clean_summaries *s, size_t field, int kind,
                       const void *data, size_t len);

/* Puts the staged summaries in place of c's and frees s (taken). */
void cleaner_stage_commit(struct cleaner *c, struct clean_summaries *s);

void cleaner_stage_destroy(struct clean_summaries *s); /* NULL-safe */

#endif
