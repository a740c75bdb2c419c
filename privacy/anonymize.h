/*
 * privacy/anonymize.h - removes or disguises personal values in an event.
 *
 * Runs right after cleaning, before features are built, so nothing
 * downstream (the model, any output topic, any log) sees a raw personal
 * value. Per configured field: drop (the value becomes null), keyed
 * pseudonym (HMAC-SHA256 under a secret key: stable for one key, unlinkable
 * without it), coarsen (numbers into bands, strings to a prefix such as a
 * postcode's district, ISO dates to their day, month or year), mask
 * (all but the last N characters become '*'), Laplace noise (numbers, of
 * scale sensitivity / epsilon, from OpenSSL's CSPRNG), or encrypt (an
 * AES-256-GCM envelope, privacy/seal.h, that holders of the encryption
 * key can open).
 *
 * The keys are read once at start-up from an environment variable or a
 * file, and are never logged or copied into an output. One thread at a
 * time calls anonymizer_apply(): it keeps a cache of recent pseudonyms.
 *
 * A thread that reads events ahead of that one (train's reader) may
 * compute their pseudonyms and coarsened bands' names there, with an
 * anonymizer_hinter: it leaves each as a replacement hint on the event
 * (schemas/event.h), which anonymizer_apply() then takes instead of
 * computing it, as long as the value has not changed since. The hinter
 * reads the anonymizer's keyed digests in place (no copy of key
 * material) and has a pseudonym cache of its own, wiped when it is
 * destroyed.
 *
 * The pseudonym caches keep no raw value: a value is looked up by its
 * keyed fingerprint (privacy/fingerprint.h, 128 bits under a key drawn
 * for each process), which is kept beside its pseudonym.
 */
#ifndef RIFFLE_PRIVACY_ANONYMIZE_H
#define RIFFLE_PRIVACY_ANONYMIZE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/cfg.h"
#include "schemas/event.h"
#include "schemas/schema.h"

#define ANONYMIZE_MIN_KEY_BYTES 16 /* 128 bits: below that, guessable */
/* A key of few distinct bytes ("aaaa...", 64 zero digits) is long but
 * guessable; 16 random bytes hold fewer than 8 distinct ones with a
 * probability below 1e-9, 32 random bytes far less. */
#define ANONYMIZE_MIN_KEY_DISTINCT 8
#define ANONYMIZE_MAX_KEY_BYTES 512
#define ANONYMIZE_TOKEN_HEX 32     /* hex digits kept: 128 bits of HMAC */

struct anonymizer;

/* Builds the anonymizer. The key is needed only when a field asks for a
 * pseudonym: it is taken from the environment variable cfg->key_env if
 * set, else from the file named by the variable <key_env>_FILE if set,
 * else from cfg->key_file; a file of 64 hex digits is decoded, any
 * other content is used as raw bytes (a trailing newline removed).
 * Returns 0, or RIFFLE_ERR_CFG with errstr naming the file or variable
 * and what is wrong (never the key). */
int anonymizer_new(const struct cfg *cfg, const struct schema *schema,
                   struct anonymizer **out, char *errstr,
                   size_t errstr_size);

void anonymizer_destroy(struct anonymizer *a); /* NULL-safe, wipes the key */

/* Applies every configured action to ev in place. Returns 0 or
 * RIFFLE_ERR_NOMEM. */
int anonymizer_apply(const struct anonymizer *a, struct event *ev);

/* Once the action of a personal field has run, anonymizer_apply() and
 * anonymizer_apply_id() overwrite the bytes of the raw value in the
 * event's arena (only those bytes), so the event keeps no raw personal
 * value after them; a dropped number is zeroed. */

/* For an event refused before anonymizer_apply() (cleaning): wipes the
 * bytes of every personal field's raw value and makes the field null.
 * The event id is not among them: anonymizer_apply_id() ran first. */
void anonymizer_wipe_raw(const struct anonymizer *a, struct event *ev);

/* The event id (kind "id") with personal = "pseudonym". The learner
 * replaces it as soon as an event is decoded, before duplicates,
 * lateness, cleaning and the label join read it, so that predictions,
 * dead letters, the join's state and snapshots only ever hold the
 * pseudonym; anonymizer_apply() leaves the id alone. The token is the one
 * anonymize_pseudonym() makes of the id under the id field's name. */

/* Whether the configuration pseudonymizes the event id. */
int anonymizer_hides_id(const struct anonymizer *a);

/* Replaces ev's id by its pseudonym when the id is pseudonymized and a
 * non-empty string (taking the hint anonymizer_hint_event() left, when
 * the id has not changed since); a null or empty id is left for cleaning
 * to refuse. Uses no cache, so any thread may call it on an event of its
 * own.
 * Returns 0 or RIFFLE_ERR_NOMEM. */
int anonymizer_apply_id(const struct anonymizer *a, struct event *ev);

/* Appends to out the pseudonym of a raw event id of len bytes that need
 * not end in a NUL (a Kafka key: labels and events are keyed by the raw
 * id); like an event's string, it is read up to a first NUL byte. Only
 * when anonymizer_hides_id(). Returns 0 or RIFFLE_ERR_NOMEM. */
int anonymizer_id_pseudonym(const struct anonymizer *a, const void *raw,
                            size_t len, struct buf *out);

/* Hints for the thread that reads ahead; see the top of this file. */
struct anonymizer_hinter;

/* How the consumer of the replacements will hash them (the features):
 * fn returns 1 with *hash set to the feature hash configured field
 * would get with the string text (len bytes) as its value, or 0 when
 * the field makes no such feature. Pure; called on the hinter's thread.
 * The hinter keeps each pseudonym's hash with it in its cache. */
struct anonymizer_hint_hasher {
    int (*fn)(const void *arg, size_t field, const char *text, size_t len,
              uint32_t *hash);
    const void *arg; /* borrowed, must outlive the hinter */
};

/* a is borrowed, read-only, and must outlive the hinter; hasher (may be
 * NULL: replacements get no hash) is copied. Returns 0 or
 * RIFFLE_ERR_NOMEM. *out is the caller's (anonymizer_hinter_destroy). */
int anonymizer_hinter_new(const struct anonymizer *a,
                          const struct anonymizer_hint_hasher *hasher,
                          struct anonymizer_hinter **out);

void anonymizer_hinter_destroy(struct anonymizer_hinter *h); /* NULL-safe,
                                                      wipes its pseudonyms */

/* Leaves on ev, as a replacement hint, what anonymizer_apply_id() would
 * write for a pseudonymized event id, and what anonymizer_apply() would
 * write for each non-null field with personal = "pseudonym" (its
 * pseudonym) and each number that personal = "coarsen" turns into a
 * band's name (a category), with its hash when the hinter has a hasher;
 * ev is otherwise unchanged. Runs on the
 * hinter's one thread, which may differ from anonymizer_apply()'s.
 * Returns 0, or RIFFLE_ERR_NOMEM with the fields before the one that
 * failed hinted (an unhinted field is simply computed later). */
int anonymizer_hint_event(struct anonymizer_hinter *h, struct event *ev);

/* Whether the n bytes at needle are anywhere in a's (or h's) pseudonym
 * cache. For tests that check the caches keep no raw value; reads every
 * byte, so never per event. */
int anonymizer_cache_holds(const struct anonymizer *a, const void *needle,
                           size_t n);
int anonymizer_hinter_cache_holds(const struct anonymizer_hinter *h,
                                  const void *needle, size_t n);

/* The pseudonym of value under key: "<key_id>:" followed by
 * ANONYMIZE_TOKEN_HEX hex digits of HMAC-SHA256(key, field NUL value).
 * The field name is mixed in so equal values of different fields do not
 * link. out must hold at least strlen(key_id) + 2 + ANONYMIZE_TOKEN_HEX
 * bytes. Returns 0 or RIFFLE_ERR_INVALID when out is too small. */
int anonymize_pseudonym(const unsigned char *key, size_t key_len,
                        const char *key_id, const char *field,
                        const char *value, char *out, size_t out_size);

/* Whether key is the public example key in config/secrets (compared by
 * SHA-256): pseudonyms made with it protect nothing, since anyone can
 * recompute them. riffle warns rather than refuses: demos and tests use
 * it. */
int anonymize_key_is_public(const unsigned char *key, size_t key_len);

/* HMAC-SHA256 (RFC 2104) of len bytes of msg under key, computed by the
 * same code that makes every pseudonym (the key absorbed once, then
 * copied per message), so it can be checked against RFC 4231's vectors.
 * mac receives 32 bytes. Returns 0 or RIFFLE_ERR_NOMEM. */
#define ANONYMIZE_HMAC_BYTES 32
int anonymize_hmac_sha256(const unsigned char *key, size_t key_len,
                          const void *msg, size_t len, unsigned char *mac);

/* The band of x: "[lo,hi)" with lo = floor(x / width) * width. */
void anonymize_band(double x, double width, char *out, size_t out_size);

/* Writes value (len bytes of UTF-8) into out with every character but the
 * last keep_last replaced by one '*'; a value of keep_last characters or
 * fewer is masked whole. out must hold len + 1 bytes. Returns the bytes
 * written, without the NUL. The length in characters stays visible. */
size_t anonymize_mask(const char *value, size_t len, size_t keep_last,
                      char *out);

/* How many leading bytes of an ISO 8601 date ("YYYY-MM-DD", optionally
 * followed by 'T' or ' ' and a time) keep the given precision: 10, 7 or
 * 4; -1 when value is not such a date. */
int anonymize_coarsen_date(const char *value, size_t len,
                           enum cfg_date_precision precision);

/* Laplace noise of the given scale from u, uniform in (-0.5, 0.5):
 * -scale * sign(u) * ln(1 - 2|u|), the inverse of the Laplace CDF. */
double anonymize_laplace(double u, double scale);

#endif
