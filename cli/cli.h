/*
 * cli/cli.h - what the subcommands of the riffle executable share:
 * loading the configuration with command-line overrides, and a stop flag
 * set by SIGINT/SIGTERM so that every command ends cleanly.
 */
#ifndef RIFFLE_CLI_CLI_H
#define RIFFLE_CLI_CLI_H

#include <getopt.h>
#include <signal.h>

#include "config/cfg.h"

/* Set by the signal handler; commands poll it between messages. */
extern volatile sig_atomic_t cli_stop_requested;

/* Set when the configuration named by -c could not be loaded: its own
 * error said what is wrong, and the exit status 2 that commands give it
 * then asks for no pointer to the command's options. */
extern int cli_config_refused;

void cli_install_signal_handlers(void);

/* Loads path into cfg and applies brokers (may be NULL) over it. Reports
 * any error itself. Returns 0 or the error code. */
int cli_load_config(const char *path, const char *brokers, struct cfg *cfg);

/* The same for a cfg whose bytes are all zero already (calloc()), which
 * it does not zero again (see cfg_load_file_zeroed()). */
int cli_load_config_zeroed(const char *path, const char *brokers,
                           struct cfg *cfg);

/* For the commands that always publish or read riffle's own records
 * (learn, serve, dlq replay): refuses, with one error line at
 * source.schema's line, a configuration whose output schemas are not
 * beside its input schema (cfg_check_output_schemas()). Returns 0 or
 * RIFFLE_ERR_CFG. Borrows cfg. */
int cli_require_output_schemas(const struct cfg *cfg);

/* For a command that takes no words besides its options: refuses the
 * first of argv[first..argc) ("riffle CMD: unexpected argument 'X'"), a
 * path meant for --file say, which would otherwise be ignored. Returns
 * 0 when there is none, else 1 (the caller exits 2; main then points at
 * the command's --help). */
int cli_refuse_operands(const char *cmd, int argc, char **argv, int first);

/* getopt_long() for a command, argv[0] being its name: the same options
 * and results, but its refusals ("riffle CMD: unrecognized option 'X'",
 * "option requires an argument", "doesn't allow an argument") show the
 * words as given with their control bytes escaped (log_printable()),
 * where getopt_long() would echo a terminal escape to the terminal. A
 * missing argument returns '?' like an unknown option. */
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* For train and simulate, which read no labels topic: says that n
 * events came without their label and were kept for it (labels = {...}),
 * so not learned nor measured. Without a word they would look lost:
 * neither learned, dead-lettered nor refused. */
void cli_warn_waiting_for_label(const char *component, long long n);

/* Strict option values: the whole text must be a number, a count >= 0,
 * seconds >= 0 or a rate of events per second >= 0 (finite). On error
 * they report "OPTION TEXT: expected ..." and return 1; on success they
 * store the value and return 0. */
int cli_parse_count(const char *option, const char *text, long long *out);
int cli_parse_seconds(const char *option, const char *text, double *out);
int cli_parse_rate(const char *option, const char *text, double *out);

/* Subcommands: each returns the process exit status. */
int cmd_learn(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_acls(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_pseudonym(int argc, char **argv);

#endif
