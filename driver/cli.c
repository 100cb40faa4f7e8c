/*
** cli.c: table-driven option parsing and help for the subcommands.
*/
#include "cli.h"
#include "rt_geom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *prog, const char *cmd, const char *msg,
                    const char *arg) {
    fprintf(stderr, "%s %s: %s%s%s (see --help)\n", prog, cmd, msg,
            arg ? " " : "", arg ? arg : "");
    return CLI_USAGE;
}

/* The current value of an option as text, for the help's "default". */
static void value_text(const CliOpt *o, char *buf, size_t len) {
    switch (o->type) {
    case CLI_INT: case CLI_COUNT: case CLI_THREADS: snprintf(buf, len, "%d", *(int *)o->dst); break;
    case CLI_LONG: snprintf(buf, len, "%ld", *(long *)o->dst); break;
    case CLI_FLOAT: case CLI_POSITIVE: case CLI_NONNEG:
        snprintf(buf, len, "%g", *(float *)o->dst);
        break;
    case CLI_STR: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case CLI_FLAG: case CLI_NOFLAG: snprintf(buf, len, "%s", *(int *)o->dst ? "on" : "off"); break;
    }
}

void cli_help(const char *prog, const char *cmd, const char *summary,
              const CliOpt *opts, int nopts) {
    printf("usage: %s %s [options]\n\n%s\n\noptions:\n", prog, cmd, summary);
    for (int i = 0; i < nopts; i++) {
        char left[64], def[96];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name,
                 opts[i].metavar ? " " : "", opts[i].metavar ? opts[i].metavar : "");
        if (opts[i].def) snprintf(def, sizeof def, "%s", opts[i].def);
        else value_text(&opts[i], def, sizeof def);
        printf("  %-24s %s", left, opts[i].help);
        if (opts[i].type == CLI_NOFLAG) printf("\n");
        else if (def[0]) printf(" (default: %s)\n", def);
        else printf("\n");
    }
    printf("  %-24s %s\n", "--help", "this text");
}

/*
** Converts 'val' into the option's variable. Returns NULL, or what the
** value must be if it is not entirely a number of the right kind and range.
*/
static const char *set_value(const CliOpt *o, const char *val) {
    char *end;
    errno = 0;
    if (o->type == CLI_STR) { *(const char **)o->dst = val; return NULL; }
    if (o->type == CLI_FLOAT || o->type == CLI_POSITIVE || o->type == CLI_NONNEG) {
        float f = strtof(val, &end);
        if (end == val || *end || errno || !isfinite(f)) return "a finite number";
        if (o->type == CLI_POSITIVE && !(f > 0)) return "a number > 0";
        if (o->type == CLI_NONNEG && !(f >= 0)) return "a number >= 0";
        *(float *)o->dst = f;
        return NULL;
    }
    long l = strtol(val, &end, 10);
    if (end == val || *end || errno) return "a whole number";
    if (o->type == CLI_LONG) {
        *(long *)o->dst = l;
        return NULL;
    }
    if (o->type == CLI_COUNT && (l < 1 || l > 2147483647L)) return "a whole number >= 1";
    if (o->type == CLI_THREADS && (l < 1 || l > RT_MAX_THREADS))
        return "a thread count from 1 to " RT_STR(RT_MAX_THREADS);
    if (l < -2147483647L || l > 2147483647L) return "a whole number in int range";
    *(int *)o->dst = (int)l;
    return NULL;
}

/* The table entry for "--name" (name has no dashes, may stop at '='). */
static const CliOpt *find(const CliOpt *opts, int nopts, const char *name, size_t len) {
    for (int i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

int cli_parse(const char *prog, const char *cmd, const char *summary,
              const CliOpt *opts, int nopts, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(prog, cmd, summary, opts, nopts);
            return -1;
        }
        if (strncmp(a, "--", 2)) return cli_usage_error(prog, cmd, "unexpected argument", a);
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const CliOpt *o = find(opts, nopts, a + 2, len);
        if (!o) return cli_usage_error(prog, cmd, "unknown option", a);
        if (o->type == CLI_FLAG || o->type == CLI_NOFLAG) {
            if (eq) return cli_usage_error(prog, cmd, "option takes no value:", a);
            *(int *)o->dst = o->type == CLI_FLAG;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return cli_usage_error(prog, cmd, "missing value for", a);
        const char *want = set_value(o, val);
        if (want) {
            char msg[128];
            snprintf(msg, sizeof msg, "--%s must be %s, not", o->name, want);
            return cli_usage_error(prog, cmd, msg, val);
        }
    }
    return CLI_OK;
}
