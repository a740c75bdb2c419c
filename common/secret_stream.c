/*
 * common/secret_stream.c - a stdio stream whose buffer riffle owns and
 * wipes; see secret_stream.h.
 */
#include "common/secret_stream.h"

#include <openssl/crypto.h>

int secret_stream_attach(FILE *f, char *buf, size_t size)
{
    return setvbuf(f, buf, _IOFBF, size) == 0 ? 0 : -1;
}

int secret_stream_wipe(FILE *f, char *buf, size_t size)
{
    int flushed = fflush(f);

    OPENSSL_cleanse(buf, size);
    return flushed == 0 ? 0 : -1;
}
