/*
 * producers/avro_check.c - the container check before avro-c, see
 * avro_check.h.
 *
 * Reads with stdio and holds one block at a time, decoded, as avro-c
 * will hold it: at most AVRO_CHECK_INFLATED_MAX plus a chunk for a
 * compressed block (a snappy block's own bytes besides), the block's
 * size for the null codec. Every length is compared with what remains
 * of the file before it is used.
 */
#include "producers/avro_check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <avro.h>
#include <lzma.h>
#include <snappy-c.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "producers/avro_records.h"

#define AVRO_CHECK_SYNC 16
#define AVRO_CHECK_CHUNK 65536
#define AVRO_CHECK_CODEC_MAX 32
/* avro-c inflates a whole deflate block into memory, however large it
 * grows: a 0.5 MB block of zeros took 534 MB (lzma blocks likewise, and
 * a snappy block takes what its header claims). Writers cut blocks at
 * 16 KB (avro-c, fastavro) or 64 KB (Java) before compression, so 64 MiB
 * is far above any block a writer makes and far below what hurts. */
#define AVRO_CHECK_INFLATED_MAX (64LL << 20)
/* metadata entries other than the schema and the codec are skipped */
#define AVRO_CHECK_SCHEMA "avro.schema"
#define AVRO_CHECK_CODEC "avro.codec"

struct scan {
    FILE *f;
    long long at, size; /* offset read up to, and the file's size */
    char *errstr;
    size_t errstr_size;
};

static int damaged(struct scan *sc, const char *fmt, const char *what)
{
    char msg[192];

    snprintf(msg, sizeof(msg), fmt, what);
    snprintf(sc->errstr, sc->errstr_size, "%s (byte %lld)", msg, sc->at);
    return RIFFLE_ERR_DECODE;
}

static int read_exact(struct scan *sc, void *to, size_t n, const char *what)
{
    if ((long long)n > sc->size - sc->at || fread(to, 1, n, sc->f) != n)
        return damaged(sc, "truncated in %s", what);
    sc->at += (long long)n;
    return 0;
}

/* An Avro long: a zig-zag varint of at most 10 bytes, the tenth holding
 * only the 64th bit (more would be silently dropped by the shift). */
static int read_long(struct scan *sc, int64_t *out, const char *what)
{
    uint64_t u = 0;
    unsigned char b;
    int shift, err;

    for (shift = 0; shift < 70; shift += 7) {
        err = read_exact(sc, &b, 1, what);
        if (err)
            return err;
        if (shift == 63 && b > 1)
            break;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return damaged(sc, "%s is not a valid number", what);
}

/* A length read by read_long(), which must fit in the rest of the file. */
static int read_length(struct scan *sc, int64_t *len, const char *what)
{
    int err = read_long(sc, len, what);

    if (err)
        return err;
    if (*len < 0 || *len > sc->size - sc->at)
        return damaged(sc, "%s is longer than the rest of the file", what);
    return 0;
}

/* One metadata value: kept in out when asked for, skipped otherwise. */
static int read_value(struct scan *sc, struct buf *out, const char *what)
{
    int64_t len;
    int err = read_length(sc, &len, what);

    if (err)
        return err;
    if (!out) {
        if (fseek(sc->f, (long)len, SEEK_CUR) != 0)
            return damaged(sc, "cannot skip %s", what);
        sc->at += len;
        return 0;
    }
    buf_reset(out);
    if (buf_reserve(out, (size_t)len + 1))
        return RIFFLE_ERR_NOMEM;
    err = read_exact(sc, out->data, (size_t)len, what);
    out->len = err ? 0 : (size_t)len;
    out->data[out->len] = '\0';
    return err;
}

/* The metadata map, in blocks of entries (a negative count is followed by
 * the block's size in bytes, as the specification allows). */
static int read_metadata(struct scan *sc, struct buf *schema,
                         struct buf *codec, int *has_schema, int *has_codec)
{
    struct buf key = {0};
    int64_t count, bytes, i;
    int err = 0;

    while (!err) {
        err = read_long(sc, &count, "the metadata's entry count");
        if (err || count == 0)
            break;
        if (count < 0) {
            /* INT64_MIN has no negation; it claims too many entries too */
            count = count == INT64_MIN ? INT64_MAX : -count;
            err = read_long(sc, &bytes, "the metadata's block size");
        }
        if (!err && count > (sc->size - sc->at) / 2)
            err = damaged(sc, "%s", "the metadata claims more entries than "
                          "the file has bytes");
        for (i = 0; !err && i < count; i++) {
            err = read_value(sc, &key, "a metadata key");
            if (!err && strcmp(key.data, AVRO_CHECK_SCHEMA) == 0) {
                *has_schema = 1;
                err = read_value(sc, schema, "the schema");
            } else if (!err && strcmp(key.data, AVRO_CHECK_CODEC) == 0) {
                *has_codec = 1;
                err = read_value(sc, codec, "the codec's name");
            } else if (!err) {
                err = read_value(sc, NULL, "a metadata value");
            }
        }
    }
    buf_free(&key);
    return err;
}

/* The codecs Debian's avro-c was built with. */
static int codec_known(const char *name)
{
    return strcmp(name, "null") == 0 || strcmp(name, "deflate") == 0 ||
           strcmp(name, "snappy") == 0 || strcmp(name, "lzma") == 0;
}

/* A name fit to quote in a message: letters, digits, '-' and '_'. */
static int codec_printable(const struct buf *name)
{
    size_t i;

    for (i = 0; i < name->len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_", name->data[i]) || !name->data[i])
            return 0;
    return 1;
}

/* Inflates len bytes of raw deflate from the file into block, as avro-c
 * will, and fails unless they make one complete stream of at most
 * AVRO_CHECK_INFLATED_MAX bytes; what names the block. */
static int check_deflate(struct scan *sc, int64_t len, struct buf *block,
                         const char *what)
{
    unsigned char *in = malloc(AVRO_CHECK_CHUNK);
    long long inflated = 0;
    char fault[128];
    z_stream z;
    int zrc = Z_OK, err = 0;
    size_t n;

    memset(&z, 0, sizeof(z));
    if (!in || inflateInit2(&z, -15) != Z_OK) {
        free(in);
        return RIFFLE_ERR_NOMEM;
    }
    while (!err && zrc != Z_STREAM_END && len > 0) {
        n = len < AVRO_CHECK_CHUNK ? (size_t)len : AVRO_CHECK_CHUNK;
        err = read_exact(sc, in, n, what);
        len -= (int64_t)n;
        z.next_in = in;
        z.avail_in = err ? 0 : (uInt)n;
        while (!err && z.avail_in > 0 && zrc == Z_OK &&
               inflated <= AVRO_CHECK_INFLATED_MAX) {
            err = buf_reserve(block, AVRO_CHECK_CHUNK);
            if (err)
                break;
            z.next_out = (unsigned char *)block->data + block->len;
            z.avail_out = AVRO_CHECK_CHUNK;
            zrc = inflate(&z, Z_NO_FLUSH);
            block->len += AVRO_CHECK_CHUNK - z.avail_out;
            inflated += AVRO_CHECK_CHUNK - (long long)z.avail_out;
        }
        if (err) {
            break; /* out of memory */
        } else if (inflated > AVRO_CHECK_INFLATED_MAX) {
            snprintf(fault, sizeof(fault), "%s inflates to over %lld MiB",
                     what, AVRO_CHECK_INFLATED_MAX >> 20);
            err = damaged(sc, "%s", fault);
        } else if (zrc != Z_OK && zrc != Z_STREAM_END) {
            snprintf(fault, sizeof(fault), "%s does not inflate (%s)", what,
                     z.msg ? z.msg : "no deflate stream");
            err = damaged(sc, "%s", fault);
        }
    }
    if (!err && zrc != Z_STREAM_END)
        err = damaged(sc, "%s's deflate stream ends early", what);
    /* bytes after the stream's end, which avro-c ignores too */
    if (!err && len > 0) {
        if (fseek(sc->f, (long)len, SEEK_CUR) != 0)
            err = damaged(sc, "cannot skip the rest of %s", what);
        sc->at += len;
    }
    inflateEnd(&z);
    free(in);
    return err;
}

/* Decodes len bytes of an lzma block as avro-c will (a raw LZMA2 stream
 * with the options of preset 6, the codec's), in constant memory, and
 * fails unless they make one complete stream of at most
 * AVRO_CHECK_INFLATED_MAX bytes; what names the block. */
static int check_lzma(struct scan *sc, int64_t len, struct buf *block,
                      const char *what)
{
    unsigned char *in = malloc(AVRO_CHECK_CHUNK);
    lzma_stream z = LZMA_STREAM_INIT;
    lzma_options_lzma opt;
    lzma_filter filters[2];
    long long decoded = 0;
    lzma_ret zrc = LZMA_OK;
    char fault[128];
    int err = 0;
    size_t n;

    filters[0].id = LZMA_FILTER_LZMA2;
    filters[0].options = &opt;
    filters[1].id = LZMA_VLI_UNKNOWN;
    filters[1].options = NULL;
    if (!in || lzma_lzma_preset(&opt, 6) ||
        lzma_raw_decoder(&z, filters) != LZMA_OK) {
        free(in);
        return RIFFLE_ERR_NOMEM;
    }
    while (!err && zrc == LZMA_OK && len > 0) {
        n = len < AVRO_CHECK_CHUNK ? (size_t)len : AVRO_CHECK_CHUNK;
        err = read_exact(sc, in, n, what);
        len -= (int64_t)n;
        z.next_in = in;
        z.avail_in = err ? 0 : n;
        /* A full output buffer may leave decoded bytes behind: go on
         * until the input is used and the output was not filled. */
        while (!err && zrc == LZMA_OK &&
               decoded <= AVRO_CHECK_INFLATED_MAX &&
               (z.avail_in > 0 || z.avail_out == 0)) {
            err = buf_reserve(block, AVRO_CHECK_CHUNK);
            if (err)
                break;
            z.next_out = (unsigned char *)block->data + block->len;
            z.avail_out = AVRO_CHECK_CHUNK;
            zrc = lzma_code(&z, LZMA_RUN);
            block->len += AVRO_CHECK_CHUNK - z.avail_out;
            decoded += AVRO_CHECK_CHUNK - (long long)z.avail_out;
        }
        if (err) {
            break; /* out of memory */
        } else if (decoded > AVRO_CHECK_INFLATED_MAX) {
            snprintf(fault, sizeof(fault), "%s decompresses to over %lld "
                     "MiB", what, AVRO_CHECK_INFLATED_MAX >> 20);
            err = damaged(sc, "%s", fault);
        } else if (!err && zrc != LZMA_OK && zrc != LZMA_STREAM_END) {
            snprintf(fault, sizeof(fault), "%s does not decompress (%s)",
                     what, zrc == LZMA_DATA_ERROR ? "corrupt lzma data"
                                                  : "lzma refused it");
            err = damaged(sc, "%s", fault);
        }
    }
    if (!err && zrc != LZMA_STREAM_END)
        err = damaged(sc, "%s's lzma stream ends early", what);
    /* bytes after the stream's end, which avro-c ignores too */
    if (!err && len > 0) {
        if (fseek(sc->f, (long)len, SEEK_CUR) != 0)
            err = damaged(sc, "cannot skip the rest of %s", what);
        sc->at += len;
    }
    lzma_end(&z);
    free(in);
    return err;
}

/* Decodes a snappy block as avro-c will: the compressed bytes, then the
 * CRC-32 of the decoded ones in 4 big-endian bytes. avro-c allocates
 * what the compressed header claims before it decodes, so the claim is
 * bounded first; what names the block. */
static int check_snappy(struct scan *sc, int64_t len, struct buf *block,
                        const char *what)
{
    unsigned char *in = NULL, *out;
    size_t claimed = 0, got;
    unsigned long crc;
    char fault[128];
    int err = 0;

    if (len < 4)
        return damaged(sc, "%s is too short for snappy's checksum", what);
    if ((uint64_t)len - 4 > snappy_max_compressed_length(
                                (size_t)AVRO_CHECK_INFLATED_MAX)) {
        snprintf(fault, sizeof(fault), "%s decompresses to over %lld MiB",
                 what, AVRO_CHECK_INFLATED_MAX >> 20);
        return damaged(sc, "%s", fault);
    }
    in = malloc((size_t)len);
    if (!in)
        return RIFFLE_ERR_NOMEM;
    err = read_exact(sc, in, (size_t)len, what);
    if (!err && snappy_uncompressed_length((const char *)in, (size_t)len - 4,
                                           &claimed) != SNAPPY_OK) {
        snprintf(fault, sizeof(fault), "%s does not decompress (no snappy "
                 "length)", what);
        err = damaged(sc, "%s", fault);
    } else if (!err && claimed > (size_t)AVRO_CHECK_INFLATED_MAX) {
        snprintf(fault, sizeof(fault), "%s decompresses to over %lld MiB",
                 what, AVRO_CHECK_INFLATED_MAX >> 20);
        err = damaged(sc, "%s", fault);
    }
    if (!err && buf_reserve(block, claimed)) {
        free(in);
        return RIFFLE_ERR_NOMEM;
    }
    out = (unsigned char *)block->data;
    got = claimed;
    if (!err && snappy_uncompress((const char *)in, (size_t)len - 4,
                                  (char *)out, &got) != SNAPPY_OK) {
        snprintf(fault, sizeof(fault), "%s does not decompress (snappy)",
                 what);
        err = damaged(sc, "%s", fault);
    } else if (!err && got == 0) {
        /* avro-c allocates the decoded size, and an allocation of 0
         * bytes comes back NULL: it then fails to open the container
         * and leaks, with no block or offset in its message */
        snprintf(fault, sizeof(fault), "%s decompresses to no bytes at all",
                 what);
        err = damaged(sc, "%s", fault);
    }
    if (!err) {
        crc = crc32(0L, out, (uInt)got);
        if (in[len - 4] != (unsigned char)(crc >> 24) ||
            in[len - 3] != (unsigned char)(crc >> 16) ||
            in[len - 2] != (unsigned char)(crc >> 8) ||
            in[len - 1] != (unsigned char)crc)
            err = damaged(sc, "%s fails its snappy CRC-32", what);
    }
    if (!err)
        block->len = got;
    free(in);
    return err;
}

/* Reads block's len bytes into data, decoded as avro-c will decode them
 * (whose failure to open a container with a first block it cannot
 * decode leaked); what names the block. */
static int read_block(struct scan *sc, const char *codec, int64_t len,
                      struct buf *data, const char *what)
{
    buf_reset(data);
    if (strcmp(codec, "deflate") == 0)
        return check_deflate(sc, len, data, what);
    if (strcmp(codec, "lzma") == 0)
        return check_lzma(sc, len, data, what);
    if (strcmp(codec, "snappy") == 0)
        return check_snappy(sc, len, data, what);

    /* the null codec: avro-c too holds a whole block in memory */
    if (buf_reserve(data, (size_t)len))
        return RIFFLE_ERR_NOMEM;
    data->len = (size_t)len;
    return read_exact(sc, data->data, (size_t)len, what);
}

/* The records of one decoded block, walked through the writer schema
 * (avro_records.h); a fault is placed at the block's first byte. */
static int check_records(struct scan *sc, const struct avro_records *schema,
                         const struct buf *data, int64_t count,
                         long long block_at, const char *what)
{
    char why[160], msg[192];
    long long at = sc->at;
    int err;

    err = avro_records_check(schema, (const unsigned char *)data->data,
                             data->len, count, why, sizeof(why));
    if (!err)
        return 0;
    snprintf(msg, sizeof(msg), "%s, %s", what, why);
    sc->at = block_at;
    err = damaged(sc, "%s", msg);
    sc->at = at;
    return err;
}

/* Every block, walking the file from block header to block header: its
 * count, its size and sync marker (avro-c trusts a block's declared size,
 * a claim of 1 GB being a malloc of 1 GB, and reads a negative count into
 * a negative malloc), its content decoded as avro-c will decode it, and
 * its records, walked as avro-c will read them. */
static int check_blocks(struct scan *sc, const char *codec,
                        const struct avro_records *schema,
                        const unsigned char *sync)
{
    unsigned char marker[AVRO_CHECK_SYNC];
    struct buf data = {0};
    int64_t count, len;
    long long block, block_at;
    char what[64];
    int err = 0;

    for (block = 1; !err && sc->at < sc->size; block++) {
        snprintf(what, sizeof(what), "block %lld", block);
        block_at = sc->at;
        err = read_long(sc, &count, what);
        if (!err && count < 0)
            err = damaged(sc, "%s has a negative record count", what);
        if (!err)
            err = read_length(sc, &len, what);
        if (!err && len > sc->size - sc->at - AVRO_CHECK_SYNC)
            err = damaged(sc, "%s and its sync marker are longer than the "
                          "rest of the file", what);
        if (!err)
            err = read_block(sc, codec, len, &data, what);
        if (!err)
            err = check_records(sc, schema, &data, count, block_at, what);
        if (!err)
            err = read_exact(sc, marker, sizeof(marker), what);
        if (!err && memcmp(marker, sync, sizeof(marker)) != 0)
            err = damaged(sc, "%s ends in another sync marker than the "
                          "header's", what);
    }
    buf_free(&data);
    return err;
}

/* Back to the file's first byte, where the check starts and where avro-c
 * will start reading after it. */
static int rewind_to_start(struct scan *sc)
{
    if (fseek(sc->f, 0L, SEEK_SET) != 0) {
        snprintf(sc->errstr, sc->errstr_size, "cannot return to the "
                 "start of the file (%s)", strerror(errno));
        return RIFFLE_ERR_IO;
    }
    sc->at = 0;
    return 0;
}

/* Parses the writer schema into *schema, which the caller decrefs. */
static int check_schema(struct scan *sc, const struct buf *json,
                        avro_schema_t *schema)
{
    if (avro_schema_from_json_length(json->data, json->len, schema) != 0) {
        *schema = NULL;
        return damaged(sc, "the schema is not a valid Avro schema (%s)",
                       avro_strerror());
    }
    return 0;
}

/* Places sc at the start of its file, whose size it takes from fstat():
 * only a regular file has one, and only it can be read again. */
static int scan_start(struct scan *sc)
{
    struct stat st;

    if (fstat(fileno(sc->f), &st) != 0) {
        snprintf(sc->errstr, sc->errstr_size, "%s", strerror(errno));
        return RIFFLE_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(sc->errstr, sc->errstr_size, "not a regular file (a "
                 "container is checked, then read: write a pipe's output "
                 "to a file first)");
        return RIFFLE_ERR_IO;
    }
    sc->size = (long long)st.st_size;
    return rewind_to_start(sc);
}

int avro_check_container(FILE *f, char *errstr, size_t errstr_size)
{
    struct scan sc = {f, 0, 0, errstr, errstr_size};
    struct buf schema = {0}, codec = {0};
    unsigned char magic[4], sync[AVRO_CHECK_SYNC];
    avro_schema_t writer = NULL;
    struct avro_records *records = NULL;
    int err, has_schema = 0, has_codec = 0;

    err = scan_start(&sc);
    if (err)
        return err;

    err = read_exact(&sc, magic, sizeof(magic), "the magic bytes");
    if (!err && memcmp(magic, "Obj\x01", sizeof(magic)) != 0)
        err = damaged(&sc, "%s", "the magic bytes are not those of an Avro "
                      "container (Obj 1)");
    if (!err)
        err = read_metadata(&sc, &schema, &codec, &has_schema, &has_codec);
    if (!err && !has_schema)
        err = damaged(&sc, "%s", "the metadata has no avro.schema");
    if (!err)
        err = check_schema(&sc, &schema, &writer);
    /* no avro.codec is the null codec, but an empty name is a codec
     * avro-c does not know: it then leaked as it gave up opening */
    if (!err && has_codec && codec.len == 0)
        err = damaged(&sc, "%s", "the codec's name is empty");
    else if (!err && codec.len &&
             (codec.len > AVRO_CHECK_CODEC_MAX || !codec_printable(&codec)))
        err = damaged(&sc, "%s", "the codec's name is not a codec's name");
    else if (!err && codec.len && !codec_known(codec.data))
        err = damaged(&sc, "the codec \"%s\" is not one of null, deflate, "
                      "snappy or lzma", codec.data);
    if (!err)
        err = avro_records_new(writer, &records);
    if (!err)
        err = read_exact(&sc, sync, sizeof(sync), "the sync marker");
    if (!err)
        err = check_blocks(&sc, codec.len ? codec.data : "null", records,
                           sync);
    if (!err)
        err = rewind_to_start(&sc);

    avro_records_destroy(records);
    if (writer)
        avro_schema_decref(writer);
    buf_free(&schema);
    buf_free(&codec);
    return err;
}
