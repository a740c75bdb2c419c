/*
 * tests/fuzz/fuzz_envelope.c - libFuzzer harness for the small formats
 * riffle reads back from topics and files it does not control: sealed
 * envelopes (dead letters, encrypted fields; privacy/seal.c), keyring
 * text (privacy/keyring.c) and the hand-over claims committed as offset
 * metadata (consumers/handover.c).
 *
 * The first byte picks the reader, the rest is its input:
 *   0  keyring_parse(); a ring it accepts holds 1 to KEYRING_MAX_KEYS
 *      keys, each with a non-empty id;
 *   1  seal_decrypt() of the bytes as an envelope;
 *   2  seal_decrypt_text() of the bytes as base64 text;
 *   3  the seal's promise: the bytes sealed, then one byte of the
 *      envelope flipped (at a place and with a mask the input chooses) or
 *      the envelope cut short, must fail to open; untouched, must open to
 *      exactly the bytes;
 *   4  handover_parse(); a claim it accepts must format and parse back
 *      to the same claim.
 * A refusal's reason must be printable ASCII: it reaches logs and
 * terminals, and the bytes it reads are anybody's. Anything else is a
 * finding, as is a sanitizer's report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "consumers/handover.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"

#define FUZZ_ERRSTR_SIZE 512
#define FUZZ_CONTEXT "riffle.fuzz"
#define FUZZ_READERS 5

/* Two keys, so an envelope may name either, or neither. */
static const char ring_text[] =
    "k1=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "old=f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101\n";

static struct keyring ring;

/* Aborts unless why is a reason: non-empty, printable ASCII. */
static void require_reason(const char *why)
{
    const char *c;

    if (why[0] == '\0')
        abort();
    for (c = why; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char errstr[FUZZ_ERRSTR_SIZE];

    (void)argc;
    (void)argv;
    if (keyring_parse(ring_text, strlen(ring_text), "k1", &ring, errstr,
                      sizeof(errstr)) != 0)
        abort();
    return 0;
}

static void parse_keyring(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE] = "";
    struct keyring parsed;
    size_t i;

    memset(&parsed, 0, sizeof(parsed));
    if (keyring_parse((const char *)data, size, "fuzz", &parsed, errstr,
                      sizeof(errstr)) == 0) {
        if (parsed.count < 1 || parsed.count > KEYRING_MAX_KEYS)
            abort();
        for (i = 0; i < parsed.count; i++)
            if (parsed.id[i][0] == '\0')
                abort();
    } else {
        require_reason(errstr);
    }
    keyring_wipe(&parsed);
}

/* An opening either succeeds or refuses the envelope with a reason:
 * out of memory cannot happen here. Frees out. */
static void require_opened_or_refused(int err, const char *errstr,
                                      struct buf *out)
{
    if (err != 0 && err != RIFFLE_ERR_DECODE)
        abort();
    if (err)
        require_reason(errstr);
    buf_free(out);
}

static void open_envelope(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE] = "";
    struct buf out = {0};
    int err = seal_decrypt(&ring, FUZZ_CONTEXT, data, size, &out, errstr,
                           sizeof(errstr));

    require_opened_or_refused(err, errstr, &out);
}

static void open_text(const uint8_t *data, size_t size)
{
    char errstr[FUZZ_ERRSTR_SIZE] = "";
    struct buf out = {0};
    char *text = malloc(size + 1);
    int err;

    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    err = seal_decrypt_text(&ring, FUZZ_CONTEXT, text, &out, errstr,
                            sizeof(errstr));
    require_opened_or_refused(err, errstr, &out);
    free(text);
}

/* data: [offset: 2 bytes][mask: 1 byte][plaintext]; mask 0 cuts the
 * envelope at offset instead of flipping a byte there. */
static void seal_then_tamper(const uint8_t *data, size_t size)
{
    static const unsigned char nonce[SEAL_NONCE_BYTES] = {1, 2, 3};
    char errstr[FUZZ_ERRSTR_SIZE];
    struct buf sealed = {0}, opened = {0};
    size_t at;
    uint8_t mask;

    if (size < 3)
        return;
    at = (size_t)data[0] | (size_t)data[1] << 8;
    mask = data[2];
    data += 3;
    size -= 3;
    if (seal_encrypt(&ring, FUZZ_CONTEXT, data, size, nonce, &sealed) != 0)
        abort();

    if (seal_decrypt(&ring, FUZZ_CONTEXT, sealed.data, sealed.len, &opened,
                     errstr, sizeof(errstr)) != 0 ||
        opened.len != size || (size > 0 && memcmp(opened.data, data, size)))
        abort();
    buf_free(&opened);

    at %= sealed.len;
    if (mask)
        sealed.data[at] ^= (char)mask;
    if (seal_decrypt(&ring, FUZZ_CONTEXT, sealed.data, mask ? sealed.len : at,
                     &opened, errstr, sizeof(errstr)) != RIFFLE_ERR_DECODE)
        abort(); /* an altered envelope opened */
    buf_free(&opened);
    buf_free(&sealed);
}

static void parse_claim(const uint8_t *data, size_t size)
{
    struct handover_claim claim, again;
    char text[HANDOVER_METADATA_MAX];
    int len;

    if (handover_parse(data, size, &claim) != 0)
        return;
    len = handover_format(&claim, text, sizeof(text));
    if (len < 0 || handover_parse(text, (size_t)len, &again) != 0 ||
        strcmp(claim.owner, again.owner) != 0 || claim.from != again.from ||
        claim.snap != again.snap)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % FUZZ_READERS) {
    case 0:
        parse_keyring(data + 1, size - 1);
        break;
    case 1:
        open_envelope(data + 1, size - 1);
        break;
    case 2:
        open_text(data + 1, size - 1);
        break;
    case 3:
        seal_then_tamper(data + 1, size - 1);
        break;
    default:
        parse_claim(data + 1, size - 1);
        break;
    }
    return 0;
}
