/*
 * bench/avro_recode.c - copies an Avro container file under another
 * codec, with avro-c's own writer, so that bench/avro_codecs measures
 * `riffle train` on blocks cut and compressed as avro-c cuts them.
 *
 * Reads every record of IN with its writer schema and appends it to OUT
 * under CODEC (null, deflate, snappy or lzma) in blocks of avro-c's
 * default size. Not part of riffle: its input is our own file, so a
 * failure only says which step failed.
 *
 * Usage: avro_recode IN OUT CODEC
 */
#include <stdio.h>

#include <avro.h>

#define RECODE_BLOCK_BYTES 0 /* 0: avro-c's default (16 KiB) */

int main(int argc, char **argv)
{
    avro_file_reader_t in;
    avro_file_writer_t out;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    long long n = 0;
    int rc;

    if (argc != 4) {
        fprintf(stderr, "usage: avro_recode IN OUT CODEC\n");
        return 2;
    }
    if (avro_file_reader(argv[1], &in) != 0) {
        fprintf(stderr, "avro_recode: %s: %s\n", argv[1], avro_strerror());
        return 1;
    }
    schema = avro_file_reader_get_writer_schema(in);
    if (avro_file_writer_create_with_codec(argv[2], schema, &out, argv[3],
                                           RECODE_BLOCK_BYTES) != 0) {
        fprintf(stderr, "avro_recode: %s: %s\n", argv[2], avro_strerror());
        return 1;
    }
    iface = avro_generic_class_from_schema(schema);
    avro_generic_value_new(iface, &value);

    while ((rc = avro_file_reader_read_value(in, &value)) == 0) {
        if (avro_file_writer_append_value(out, &value) != 0) {
            fprintf(stderr, "avro_recode: record %lld: %s\n", n + 1,
                    avro_strerror());
            return 1;
        }
        n++;
        avro_value_reset(&value);
    }
    if (rc != EOF) {
        fprintf(stderr, "avro_recode: %s: %s\n", argv[1], avro_strerror());
        return 1;
    }

    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    if (avro_file_writer_close(out) != 0 || avro_file_reader_close(in) != 0)
        return 1;
    printf("%lld records\n", n);
    return 0;
}
