/*
 * cli/cmd_check.c - `riffle check`: validates a configuration without a
 * broker: the file itself, the input schema, that every configured field
 * exists with a usable type, and that a pseudonym key can be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "learner/online.h"

int cmd_check(int argc, char **argv)
{
    const char *config = NULL;
    struct schema *schema = NULL;
    struct online_learner *ol = NULL;
    struct cfg *cfg = malloc(sizeof(*cfg));
    char errstr[512] = "";
    int i, err;

    for (i = 1; i < argc; i++)
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            && i + 1 < argc)
            config = argv[++i];

    if (!cfg || cli_load_config(config, NULL, cfg)) {
        free(cfg);
        return 2;
    }

    err = schema_load_file(cfg->schema_path, &schema, errstr, sizeof(errstr));
    if (err)
        cfg_schema_error(cfg, errstr, sizeof(errstr));
    else
        err = online_new(cfg, schema, &ol, errstr, sizeof(errstr));
    if (err)
        log_error("check", "%s", errstr);
    else
        printf("%s: ok (%zu fields, schema %s, fingerprint %016llx)\n",
               cfg->path, cfg->field_count, schema_name(schema),
               (unsigned long long)schema_fingerprint(schema));

    online_destroy(ol);
    schema_destroy(schema);
    free(cfg);
    return err ? 1 : 0;
}
