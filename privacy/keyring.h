/*
 * privacy/keyring.h - AES-256 keys with their ids, read from the
 * environment or a file, for field encryption and dead letters.
 *
 * A keyring holds the current key (used to encrypt) and, for rotation,
 * older keys that may still decrypt what they sealed. Its text is one
 * key per line (or per comma): either 64 hex digits, which take the
 * configured key id, or "id=<64 hex digits>". The first key is the
 * current one. Key bytes are never logged, never copied into an error
 * message, and wiped by keyring_wipe(). Read once at start-up; read-only
 * afterwards, so any thread may use a loaded keyring.
 */
#ifndef RIFFLE_PRIVACY_KEYRING_H
#define RIFFLE_PRIVACY_KEYRING_H

#include <stddef.h>

#include "config/cfg.h"

#define KEYRING_KEY_BYTES 32 /* AES-256 */
#define KEYRING_MAX_KEYS 8   /* current plus older keys kept for rotation */
#define KEYRING_ID_MAX CFG_KEY_ID_MAX
#define KEYRING_TEXT_MAX 4096 /* bytes of a keyring's text */

struct keyring {
    size_t count; /* 0: no key configured */
    char id[KEYRING_MAX_KEYS][KEYRING_ID_MAX + 1];
    unsigned char key[KEYRING_MAX_KEYS][KEYRING_KEY_BYTES];
};

/* Where a keyring comes from: the environment variable src->env if set,
 * else the file named by the variable <env>_FILE if set, else the file
 * src->file. what names the keys in messages ("privacy.dead_letter_key")
 * and line is where cfg sets them. Returns 0 with ring->count 0 when no
 * source is set; 0 with the keys loaded; or RIFFLE_ERR_CFG with errstr
 * naming the variable or file and what is wrong (never the key). */
int keyring_load(const struct cfg *cfg, const struct cfg_key_source *src,
                 int line, const char *what, struct keyring *ring,
                 char *errstr, size_t errstr_size);

/* The dead-letter keyring of cfg (privacy.dead_letter_key_*). A source
 * with personal fields must have one, so that a refused event's original
 * bytes are kept without leaking: its absence is then RIFFLE_ERR_CFG
 * naming what to set. Without personal fields ring->count may be 0. */
int keyring_load_dead_letter(const struct cfg *cfg, struct keyring *ring,
                             char *errstr, size_t errstr_size);

/* Parses keyring text (see above); default_id names a bare key. Returns
 * 0, or RIFFLE_ERR_CFG with errstr saying which entry is wrong. */
int keyring_parse(const char *text, size_t len, const char *default_id,
                  struct keyring *ring, char *errstr, size_t errstr_size);

/* Decodes len hex digits of text (len even, either case) into len / 2
 * bytes of out. Returns 0, or -1 with out unchanged when one of them is
 * not a hex digit. Any thread. */
int keyring_decode_hex(const char *text, size_t len, unsigned char *out);

/* Whether id (len bytes) can name a key: 1 to KEYRING_ID_MAX printable
 * characters without ':' or '='. An id read from elsewhere (an
 * envelope's) that is not one names no key, and is not printed. */
int keyring_id_valid(const char *id, size_t len);

/* The key with this id, or NULL. Borrowed from ring. */
const unsigned char *keyring_find(const struct keyring *ring,
                                  const char *id);

/* Overwrites every key byte. NULL-safe. */
void keyring_wipe(struct keyring *ring);

#endif
