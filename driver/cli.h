/*
** cli.h: table-driven option parsing for the model binary's subcommands.
**
** Each subcommand declares a CliOpt table pointing at its own variables,
** initialised to the defaults; --help prints the table with those
** defaults, so the help text cannot drift from the code.
*/
#ifndef SKIPC_CLI_H
#define SKIPC_CLI_H

typedef enum {
    CLI_INT,        /* int, must parse completely */
    CLI_LONG,       /* long */
    CLI_FLOAT,      /* float */
    CLI_STR,        /* const char *, points into argv */
    CLI_FLAG,       /* int set to 1, takes no value */
    CLI_NOFLAG,     /* int set to 0, takes no value */
    CLI_COUNT,      /* int, at least 1 */
    CLI_THREADS,    /* int, 1 to RT_MAX_THREADS */
    CLI_POSITIVE,   /* float, finite and > 0 */
    CLI_NONNEG      /* float, finite and >= 0 */
} CliType;

typedef struct {
    const char *name;       /* without the leading "--" */
    CliType type;
    void *dst;
    const char *metavar;    /* e.g. "N", "CKPT"; NULL for flags */
    const char *help;
    const char *def;        /* default shown in the help; NULL: the
                            ** variable's initial value */
} CliOpt;

/* Exit statuses of the binary. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

/*
** Parses argv[0..argc) ("--name value" or "--name=value") into the
** table's variables. Returns CLI_OK; CLI_USAGE after printing a message
** for an unknown option, a missing or malformed value or a stray word;
** or -1 after printing the help (for --help / -h), meaning "exit 0".
*/
int cli_parse(const char *prog, const char *cmd, const char *summary,
              const CliOpt *opts, int nopts, int argc, char **argv);

/* Prints "usage: prog cmd [options]", the summary and each option with
** its current (default) value. */
void cli_help(const char *prog, const char *cmd, const char *summary,
              const CliOpt *opts, int nopts);

/* Prints "prog cmd: msg" and returns CLI_USAGE. */
int cli_usage_error(const char *prog, const char *cmd, const char *msg,
                    const char *arg);

#endif
