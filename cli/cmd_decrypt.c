/*
 * cli/cmd_decrypt.c - `riffle decrypt`: opens the encrypted fields of
 * predictions, for holders of the encryption keyring.
 *
 * A field marked personal = "encrypt" and listed in
 * privacy.prediction_fields travels in each prediction (in its "fields"
 * JSON text) as its base64 AES-256-GCM envelope (privacy/seal.h). This reads the predictions topic
 * (or the serve topic) from the beginning, outside any consumer group,
 * and prints one JSON line per prediction with the event id, its source
 * coordinates and its carried fields, the encrypted ones opened with
 * the keyring of privacy.encrypt_key_* (any key of the ring: the key id
 * in each envelope picks it, so values sealed before a rotation still
 * open). --envelope opens a single value instead. The plaintexts go to
 * stdout only: logs name coordinates and fields, never a value. An
 * envelope the keyring cannot open (wrong key, unknown key id, altered
 * bytes) stops the command with an error naming where it is.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/secret_stream.h"
#include "consumers/topic_reader.h"
#include "privacy/keyring.h"
#include "privacy/seal.h"
#include "schemas/history.h"
#include "schemas/schema.h"

#define DECRYPT_POLL_MS 200     /* short enough to see a stop signal */
#define DECRYPT_ERRSTR_MAX 512

/* stdout's buffer: opened values pass through it, so it is riffle's own
 * and wiped after each line is flushed. Static: stdio may flush it at
 * exit. */
static char decrypt_stdout[BUFSIZ];

struct decrypt {
    const struct cfg *cfg;
    const char *topic;
    struct keyring keys;
    /* Predictions of every version of their schema: value is of
     * value_schema, the version of the last one read. */
    struct schema_history *history;
    const struct schema *value_schema;
    avro_value_t value;
    struct buf line, plain;
    long long printed;
};

static void usage(void)
{
    printf("usage: riffle decrypt -c CFG [--brokers B] [--served]\n"
           "       riffle decrypt -c CFG --field NAME --envelope TEXT\n"
           "  prints each prediction's carried fields "
           "(privacy.prediction_fields)\n"
           "  as JSON lines, the encrypted ones opened with the keyring of\n"
           "  privacy.encrypt_key_*; the output holds personal values\n"
           "  --served          read the serve predictions topic instead\n"
           "  --field, --envelope  open one base64 envelope of field NAME\n");
}

/* The field's action, or -1 when it is not configured. */
static int field_action(const struct cfg *cfg, const char *name)
{
    const struct cfg_field *f = cfg_find_field(cfg, name);

    return f ? (int)f->privacy : -1;
}

/* Appends "name":value for one map entry, opening it when the field is
 * encrypted. Returns 0, or an error with errstr (never the value). */
static int put_entry(struct decrypt *d, const char *name, const char *text,
                     char *errstr, size_t size)
{
    char why[DECRYPT_ERRSTR_MAX];
    int err;

    if (field_action(d->cfg, name) != CFG_PRIVACY_ENCRYPT)
        return buf_append_json_string(&d->line, name) ||
                       buf_push(&d->line, ':') ||
                       buf_append_json_string(&d->line, text)
                   ? RIFFLE_ERR_NOMEM
                   : 0;

    buf_reset(&d->plain);
    err = seal_decrypt_text(&d->keys, name, text, &d->plain, why,
                            sizeof(why));
    if (err) {
        snprintf(errstr, size, "field %s: %s", name, why);
        return err;
    }
    err = buf_push(&d->plain, '\0') ||
                  buf_append_json_string(&d->line, name) ||
                  buf_push(&d->line, ':') ||
                  buf_append_json_string(&d->line, d->plain.data)
              ? RIFFLE_ERR_NOMEM
              : 0;
    buf_wipe(&d->plain); /* the opened value now lives only in the line */
    return err;
}

static int get_text(avro_value_t *rec, const char *name, const char **out)
{
    avro_value_t f;
    size_t n;

    return avro_value_get_by_name(rec, name, &f, NULL) ||
           avro_value_get_string(&f, out, &n);
}

/* The "fields" JSON text of a prediction, or NULL when it carries none:
 * also one written before predictions carried fields, whose version of
 * the schema has no such field (its default is null). Returns 0 or -1
 * when the field is not what the schema says. */
static int get_fields_text(avro_value_t *rec, const char **out)
{
    avro_value_t f, b;
    size_t n;
    int disc = 0;

    *out = NULL;
    if (avro_value_get_by_name(rec, "fields", &f, NULL))
        return 0;
    if (avro_value_get_discriminant(&f, &disc) ||
        avro_value_get_current_branch(&f, &b))
        return -1;
    return disc == 1 ? avro_value_get_string(&b, out, &n) : 0;
}

/* Appends the opened fields of one prediction's JSON text to d->line. */
static int put_fields(struct decrypt *d, const char *text, char *why,
                      size_t size)
{
    json_error_t jerr;
    json_t *obj = text ? json_loads(text, 0, &jerr) : json_object();
    const char *name;
    json_t *v;
    size_t i = 0;
    int err = 0;

    if (!obj || !json_is_object(obj)) {
        snprintf(why, size, "fields is not a JSON object");
        json_decref(obj);
        return RIFFLE_ERR_DECODE;
    }
    json_object_foreach(obj, name, v) {
        if (!json_is_string(v)) {
            snprintf(why, size, "field %s is not a string", name);
            err = RIFFLE_ERR_DECODE;
        } else if (i++ > 0 && buf_push(&d->line, ',')) {
            err = RIFFLE_ERR_NOMEM;
        } else {
            err = put_entry(d, name, json_string_value(v), why, size);
        }
        if (err)
            break;
    }
    json_decref(obj);
    return err;
}

/* One prediction: its coordinates and its fields, opened. */
static int decrypt_one(struct decrypt *d, const rd_kafka_message_t *msg,
                       char *errstr, size_t size)
{
    const char *id = "", *fields = NULL;
    char why[DECRYPT_ERRSTR_MAX];
    int err = schema_history_value_for(d->history, msg->payload, msg->len,
                                       &d->value_schema, &d->value, why,
                                       sizeof(why));

    if (!err)
        err = schema_read_value(d->value_schema, msg->payload, msg->len,
                                &d->value, why, sizeof(why));

    if (!err && (get_text(&d->value, "event_id", &id) ||
                 get_fields_text(&d->value, &fields))) {
        snprintf(why, sizeof(why), "not a prediction: %s", avro_strerror());
        err = RIFFLE_ERR_DECODE;
    }
    buf_reset(&d->line);
    if (!err)
        err = buf_printf(&d->line, "{\"event_id\":") ||
                      buf_append_json_string(&d->line, id) ||
                      buf_printf(&d->line, ",\"partition\":%d,\"offset\":"
                                 "%lld,\"fields\":{", (int)msg->partition,
                                 (long long)msg->offset)
                  ? RIFFLE_ERR_NOMEM
                  : 0;
    if (!err)
        err = put_fields(d, fields, why, sizeof(why));
    if (!err && buf_printf(&d->line, "}}\n"))
        err = RIFFLE_ERR_NOMEM;
    if (err) {
        buf_wipe(&d->line); /* values opened before the failure */
        snprintf(errstr, size, "%s [%d] @%lld: %s", d->topic,
                 (int)msg->partition, (long long)msg->offset,
                 err == RIFFLE_ERR_NOMEM ? riffle_err_str(err) : why);
        return err;
    }
    fwrite(d->line.data, 1, d->line.len, stdout);
    buf_wipe(&d->line);
    secret_stream_wipe(stdout, decrypt_stdout, sizeof(decrypt_stdout));
    d->printed++;
    return 0;
}

static int read_topic(struct decrypt *d, char *errstr, size_t size)
{
    struct topic_reader *r = NULL;
    int err = topic_reader_new(d->cfg->brokers, d->topic, 1, &r, errstr,
                               size);

    while (!err && !topic_reader_at_end(r) && !cli_stop_requested) {
        rd_kafka_message_t *msg = topic_reader_poll(r, DECRYPT_POLL_MS);

        if (!msg)
            continue;
        if (!msg->err)
            err = decrypt_one(d, msg, errstr, size);
        rd_kafka_message_destroy(msg);
    }
    topic_reader_destroy(r);
    return err;
}

static int load_keys(struct decrypt *d, char *errstr, size_t size)
{
    const struct cfg *cfg = d->cfg;
    int err = keyring_load(cfg, &cfg->encrypt_key, cfg->privacy_line,
                           "privacy.encrypt_key_file", &d->keys, errstr,
                           size);

    if (!err && d->keys.count == 0) {
        snprintf(errstr, size, "no encryption keyring: set "
                 "privacy.encrypt_key_file or privacy.encrypt_key_env");
        err = RIFFLE_ERR_CFG;
    }
    return err;
}

/* --envelope: one value of field. */
static int open_envelope(struct decrypt *d, const char *field,
                         const char *text, char *errstr, size_t size)
{
    char why[DECRYPT_ERRSTR_MAX];
    int err;

    if (field_action(d->cfg, field) != CFG_PRIVACY_ENCRYPT) {
        snprintf(errstr, size, "--field %s: not a field with personal = "
                 "\"encrypt\"", field);
        return RIFFLE_ERR_USAGE;
    }
    err = seal_decrypt_text(&d->keys, field, text, &d->plain, why,
                            sizeof(why));
    if (err) {
        snprintf(errstr, size, "--envelope of field %s: %s", field, why);
        return err;
    }
    fwrite(d->plain.data, 1, d->plain.len, stdout);
    putchar('\n');
    buf_wipe(&d->plain);
    secret_stream_wipe(stdout, decrypt_stdout, sizeof(decrypt_stdout));
    return 0;
}

static int run(struct decrypt *d, int served, const char *field,
               const char *envelope, char *errstr, size_t size)
{
    char path[CFG_PATH_MAX];
    int err = load_keys(d, errstr, size);

    if (err || envelope)
        return err ? err : open_envelope(d, field, envelope, errstr, size);

    d->topic = served ? d->cfg->serve_predictions : d->cfg->topic_predictions;
    if (!d->topic[0]) {
        snprintf(errstr, size, "--served: the configuration names no serve "
                 "predictions topic");
        return RIFFLE_ERR_USAGE;
    }
    cfg_output_schema_path(d->cfg, CFG_SCHEMA_PREDICTION, path, sizeof(path));
    err = schema_history_new(path, &d->history, errstr, size);
    if (!err)
        err = read_topic(d, errstr, size);
    if (!err)
        log_info("decrypt", "%s: %lld prediction(s) printed", d->topic,
                 d->printed);
    return err;
}

int cmd_decrypt(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"brokers", required_argument, NULL, 'b'},
        {"served", no_argument, NULL, 's'},
        {"field", required_argument, NULL, 'f'},
        {"envelope", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *brokers = NULL, *field = NULL;
    const char *envelope = NULL;
    char errstr[DECRYPT_ERRSTR_MAX] = "";
    struct decrypt d;
    struct cfg *cfg;
    int c, served = 0, err;

    if (secret_stream_attach(stdout, decrypt_stdout,
                             sizeof(decrypt_stdout)) != 0) {
        log_error("decrypt", "cannot set stdout's buffer");
        return 1;
    }
    optind = 1;
    while ((c = cli_getopt(argc, argv, "c:b:sf:e:h", longopts)) !=
           -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 's')
            served = 1;
        else if (c == 'f')
            field = optarg;
        else if (c == 'e')
            envelope = optarg;
        else if (c == 'h') {
            usage();
            return 0;
        } else
            return 2;
    }
    if (cli_refuse_operands("decrypt", argc, argv, optind))
        return 2;
    if (!field != !envelope) {
        log_error("decrypt", "--field and --envelope go together");
        return 2;
    }
    if (served && field) { /* it would be passed over */
        log_error("decrypt", "--served reads a topic, --field and "
                  "--envelope open one envelope: one or the other");
        return 2;
    }
    cfg = malloc(sizeof(*cfg));
    if (!cfg || cli_load_config(config, brokers, cfg)) {
        free(cfg);
        return 2;
    }

    memset(&d, 0, sizeof(d));
    buf_hold_secret(&d.plain); /* opened values */
    buf_hold_secret(&d.line);
    d.cfg = cfg;
    err = run(&d, served, field, envelope, errstr, sizeof(errstr));
    if (err)
        log_error("decrypt", "%s", errstr);
    secret_stream_wipe(stdout, decrypt_stdout, sizeof(decrypt_stdout));
    if (d.value_schema)
        avro_value_decref(&d.value);
    schema_history_destroy(d.history);
    keyring_wipe(&d.keys);
    buf_free(&d.line);
    buf_free(&d.plain);
    free(cfg);
    return err == RIFFLE_ERR_USAGE ? 2 : err ? 1 : 0;
}
