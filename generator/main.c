/*
** main.c: the skipc command line. Reads like the pipeline it drives:
** run spec -> analyse graph -> lower to kernel calls -> rewrite them ->
** plan memory -> emit C -> write files.
*/
#include "autodiff.h"
#include "emit_deploy.h"
#include "emit_model.h"
#include "ir.h"
#include "passes.h"
#include "plan.h"
#include "spec_lua.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: skipc SPEC.lua -o OUT.c [-D key=value]...\n"
    "       skipc SPEC.lua -o OUT.c --infer [--weights CKPT.safetensors] [-D key=value]...\n"
    "\n"
    "Compiles a Lua network spec into standalone C: OUT.c (forward, backward,\n"
    "initialisation, optimizer steps, parameter table) and OUT.h beside it.\n"
    "The model's C name is OUT's base name (generated/resnet20.c -> resnet20).\n"
    "\n"
    "options (in any order):\n"
    "  -o OUT.c          output file; the header goes to OUT.h\n"
    "  -D key=value      set a value the spec reads with param(\"key\", default)\n"
    "  --infer           a deployment build: the evaluation-mode forward alone, as\n"
    "                    int NAME_predict(params, x, y, n, arena), batchnorms folded\n"
    "                    into the layers before them, and NAME_fold to fold a\n"
    "                    training checkpoint's parameters\n"
    "  --weights CKPT    with --infer: embed CKPT's weights, folded, in OUT_weights.c\n"
    "                    (as float literals; above 1M floats in OUT_weights.bin, which\n"
    "                    OUT_weights.c includes with the assembler's .incbin)\n"
    "  -O0               no rewriting passes (write-first, add-alias, fusion, concat,\n"
    "                    remat): the plain lowering, which computes the same bits, for\n"
    "                    checking them\n"
    "  --no-remat        keep batchnorm + relu outputs for backward instead of\n"
    "                    recomputing them there: more memory, a little faster\n"
    "  --max-instructions N  stop a spec after N Lua instructions (default 1e9)\n"
    "  --max-memory MIB  stop a spec holding more than MIB MiB of Lua memory (256)\n"
    "  --max-layers N    stop a spec making more than N layers (100000)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Nothing is written unless the whole spec compiles; errors name the spec\n"
    "file and line and exit with status 1.\n";

typedef struct {
    const char *spec, *out, *weights;
    int no_passes, no_remat, infer;
    SpecLimits limits;
    Define defs[64];
    int ndefs;
} Args;

static int parse_define(Args *a, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "skipc: error: -D %s: expected key=value\n", kv);
        return -1;
    }
    if (a->ndefs == (int)(sizeof a->defs / sizeof a->defs[0])) {
        fprintf(stderr, "skipc: error: too many -D options\n");
        return -1;
    }
    a->defs[a->ndefs].key = strndup(kv, (size_t)(eq - kv));
    a->defs[a->ndefs].value = eq + 1;
    a->ndefs++;
    return 0;
}

/* The value of limit option opt: a whole number from 1 to max. */
static int parse_limit(const char *opt, const char *text, long long max, long long *out) {
    char *end;
    long long v;
    errno = 0;
    v = text ? strtoll(text, &end, 10) : 0;
    if (!text || end == text || *end || errno || v < 1 || v > max) {
        fprintf(stderr, "skipc: error: %s must be a whole number from 1 to %lld, not %s\n", opt,
                max, text ? text : "nothing");
        return -1;
    }
    *out = v;
    return 0;
}

/* --max-instructions N, --max-memory MIB, --max-layers N: sets one limit
** and returns 1 (-1 on a bad value), or 0 if s is none of them. */
static int limit_option(Args *a, const char *s, const char *value) {
    long long v;
    if (!strcmp(s, "--max-instructions")) {
        if (parse_limit(s, value, LLONG_MAX / 2, &v)) return -1;
        a->limits.instructions = v;
    } else if (!strcmp(s, "--max-memory")) {
        if (parse_limit(s, value, (long long)(SIZE_MAX >> 21), &v)) return -1;
        a->limits.memory = (size_t)v << 20;
    } else if (!strcmp(s, "--max-layers")) {
        if (parse_limit(s, value, 1 << 24, &v)) return -1;
        a->limits.layers = (int)v;
    } else {
        return 0;
    }
    return 1;
}

/* Returns 0 to go on, 1 when help was printed, -1 on a usage error. */
static int parse_args(Args *a, int argc, char **argv) {
    a->limits = spec_default_limits;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int lim;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { fputs(usage, stdout); return 1; }
        if ((lim = limit_option(a, s, i + 1 < argc ? argv[i + 1] : NULL)) != 0) {
            if (lim < 0) return -1;
            i++;
            continue;
        }
        if (!strcmp(s, "-O0")) { a->no_passes = 1; continue; }
        if (!strcmp(s, "--no-remat")) { a->no_remat = 1; continue; }
        if (!strcmp(s, "--infer")) { a->infer = 1; continue; }
        if (!strcmp(s, "-o") || !strcmp(s, "-D") || !strcmp(s, "--weights")) {
            if (i + 1 == argc) { fprintf(stderr, "skipc: error: %s needs an argument\n", s); return -1; }
            if (s[1] == 'o') a->out = argv[++i];
            else if (s[1] == '-') a->weights = argv[++i];
            else if (parse_define(a, argv[++i]) != 0) return -1;
        } else if (!strncmp(s, "-D", 2)) {
            if (parse_define(a, s + 2) != 0) return -1;
        } else if (s[0] == '-') {
            fprintf(stderr, "skipc: error: unknown option %s (see skipc --help)\n", s);
            return -1;
        } else if (a->spec) {
            fprintf(stderr, "skipc: error: more than one spec given (%s, %s)\n", a->spec, s);
            return -1;
        } else a->spec = s;
    }
    if (!a->spec || !a->out) {
        fprintf(stderr, "skipc: error: %s\n%s", !a->spec ? "no spec given" : "no -o OUT.c given", usage);
        return -1;
    }
    if (a->weights && !a->infer) {
        fprintf(stderr, "skipc: error: --weights embeds weights in a deployment build: add --infer\n");
        return -1;
    }
    return 0;
}

/* "generated/resnet20.c" -> "resnet20", which must be a C identifier. */
static char *model_name(const char *out) {
    const char *base = strrchr(out, '/');
    size_t len;
    char *name;
    base = base ? base + 1 : out;
    len = strlen(base);
    if (len < 3 || strcmp(base + len - 2, ".c") != 0) {
        fprintf(stderr, "skipc: error: -o %s: output must end in .c\n", out);
        return NULL;
    }
    name = strndup(base, len - 2);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (p > name && *p >= '0' && *p <= '9'))) {
            fprintf(stderr, "skipc: error: -o %s: '%s' is not a valid C identifier\n", out, name);
            free(name);
            return NULL;
        }
    return name;
}

static int cmp_define(const void *a, const void *b) {
    return strcmp(((const Define *)a)->key, ((const Define *)b)->key);
}

/* "-D a=1 -D b=2", sorted by key so the banner does not depend on the
** order options were given in, then the pass options, which change the
** code too. */
static char *defines_text(Args *a) {
    Str s = {0};
    Define sorted[64];
    memcpy(sorted, a->defs, sizeof sorted);
    qsort(sorted, (size_t)a->ndefs, sizeof *sorted, cmp_define);
    str_add(&s, "");
    for (int i = 0; i < a->ndefs; i++)
        str_addf(&s, "%s-D %s=%s", i ? " " : "", sorted[i].key, sorted[i].value);
    if (a->no_passes) str_addf(&s, "%s-O0", s.len ? " " : "");
    else if (a->no_remat) str_addf(&s, "%s--no-remat", s.len ? " " : "");
    return s.buf;
}

/*
** Writes text to a new temporary file beside path (mkstemp: a fresh name
** that nothing else could have planted, opened exclusively), with the
** permissions a plain create would give; returns its name or NULL.
*/
static char *write_temp(const char *path, const Str *text) {
    char *tmp = xasprintf("%s.XXXXXX", path);
    mode_t mask = umask(0);
    int fd;
    FILE *f = NULL;
    umask(mask);
    fd = mkstemp(tmp);
    if (fd >= 0 && (fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "wb")))) {
        close(fd);
        fd = -1;
        remove(tmp);
    }
    if (!f || fwrite(text->buf, 1, text->len, f) != text->len || fclose(f) != 0) {
        fprintf(stderr, "%s: error: cannot write it: %s\n", path, strerror(errno));
        if (fd >= 0) remove(tmp);
        free(tmp);
        return NULL;
    }
    return tmp;
}

/* Whether path names the same file as the spec (so writing it would
** destroy the spec). */
static int is_spec(const char *path, const struct stat *spec) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == spec->st_dev && st.st_ino == spec->st_ino;
}

/* The file beside c_path ("out/resnet20.c") with suffix ("_weights.c"). */
static char *sibling(const char *c_path, const char *suffix) {
    return xasprintf("%.*s%s", (int)(strlen(c_path) - 2), c_path, suffix);
}

/* All files or none: temporaries first, renames only once all exist.
** paths[i] gets texts[i]; n <= 4. */
static int write_outputs(char *const *paths, const Str *texts, int n) {
    char *tmp[4] = {0};
    int rc = 0, made = 0;
    while (made < n && (tmp[made] = write_temp(paths[made], &texts[made]))) made++;
    if (made < n) rc = -1;
    for (int i = 0; rc == 0 && i < n; i++)
        if (rename(tmp[i], paths[i]) != 0) {
            fprintf(stderr, "%s: error: cannot write it: %s\n", paths[i], strerror(errno));
            rc = -1;
        }
    for (int i = 0; i < made; i++) {
        remove(tmp[i]);
        free(tmp[i]);
    }
    return rc;
}

/* Models with more parameters than this embed them as a binary file:
** four bytes where float literals take about fourteen, and the compiler
** never parses them. */
#define BLOB_MIN_FLOATS ((int64_t)1 << 20)

/* A deployment build of the evaluation-mode program inf: folded,
** fused, planned, and written with its weights if a->weights. */
static int compile_deploy(Args *a, const char *name, KProgram *inf, const KProgram *train) {
    Plan plan;
    Weights w;
    DeployInfo d;
    Str text[4] = {{0}};
    char *paths[4];
    int n = 2, rc = -1;
    inf->geoms = xmalloc((size_t)(train->ngeoms ? train->ngeoms : 1) * sizeof *inf->geoms);
    if (train->ngeoms) memcpy(inf->geoms, train->geoms, (size_t)train->ngeoms * sizeof *inf->geoms);
    inf->ngeoms = train->ngeoms;
    pass_fold(inf);
    if (!a->no_passes) pass_epilogue(inf);
    if (plan_build(&plan, inf) != 0) return -1;
    if (a->weights && weights_load(&w, inf, a->weights) != 0) return -1;
    memset(&d, 0, sizeof d);
    d.m.name = name;
    d.m.spec = a->spec;
    d.m.defines = defines_text(a);
    d.weights = a->weights ? &w : NULL;
    d.blob = inf->num_dparams > BLOB_MIN_FLOATS;
    emit_deploy(inf, &plan, &d, &text[0], &text[1], &text[2]);
    paths[0] = xstrdup(a->out);
    paths[1] = sibling(a->out, ".h");
    if (a->weights) {
        paths[n++] = sibling(a->out, "_weights.c");
        if (d.blob) {
            text[3].buf = (char *)w.values;
            text[3].len = (size_t)inf->num_dparams * sizeof *w.values;
            paths[n++] = sibling(a->out, "_weights.bin");
        }
    }
    rc = write_outputs(paths, text, n);
    if (rc == 0)
        fprintf(stderr, "%s: %lld parameter bytes%s, arena %lld bytes for one sample\n", a->out,
                (long long)inf->num_dparams * 4,
                !a->weights ? "" : d.blob ? " (embedded, binary)" : " (embedded)",
                (long long)(4 * (plan.per_sample + plan.fixed + plan.scratch)));
    for (int i = 0; i < n; i++) free(paths[i]);
    for (int i = 0; i < 3; i++) str_free(&text[i]);
    if (a->weights) weights_free(&w);
    free((char *)d.m.defines);
    return rc;
}

/* The training build: both programs planned and written as OUT.c, OUT.h. */
static int compile_model(Args *a, const char *name, KProgram *prog, KProgram *inf) {
    Plan plan, inf_plan;
    ModelInfo info;
    Str texts[2] = {{0}};
    char *paths[2];
    int rc;
    if (!a->no_passes) pass_epilogue(inf);
    if (plan_build(&plan, prog) != 0 || plan_build(&inf_plan, inf) != 0) return -1;
    info.name = name;
    info.spec = a->spec;
    info.defines = defines_text(a);
    emit_model(prog, &plan, inf, &inf_plan, &info, &texts[0], &texts[1]);
    paths[0] = xstrdup(a->out);
    paths[1] = sibling(a->out, ".h");
    rc = write_outputs(paths, texts, 2);
    free(paths[0]);
    free(paths[1]);
    free((char *)info.defines);
    str_free(&texts[0]);
    str_free(&texts[1]);
    return rc;
}

static int compile(Args *a, const char *name) {
    IrGraph *g = spec_run_limited(a->spec, a->defs, a->ndefs, &a->limits);
    KProgram prog, inf;
    int rc;
    if (!g) return -1;
    if (ir_analyze(g) != 0) {
        ir_graph_free(g);
        return -1;
    }
    autodiff(&prog, g);
    if (!a->no_passes) passes_run(&prog, !a->no_remat);
    pass_inference(&inf, &prog);
    rc = a->infer ? compile_deploy(a, name, &inf, &prog) : compile_model(a, name, &prog, &inf);
    kprog_free(&prog);
    kprog_free(&inf);
    ir_graph_free(g);
    return rc;
}

int main(int argc, char **argv) {
    Args a;
    struct stat spec;
    char *name;
    int rc;
    memset(&a, 0, sizeof a);
    rc = parse_args(&a, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (!(name = model_name(a.out))) return 2;
    /* A file size limit (ulimit -f) makes writes fail instead of killing
    ** skipc, so its temporaries are removed and the outputs left alone. */
    signal(SIGXFSZ, SIG_IGN);
    if (stat(a.spec, &spec) == 0) {
        char *h = xstrdup(a.out);
        h[strlen(h) - 1] = 'h';
        if (is_spec(a.out, &spec) || is_spec(h, &spec)) {
            fprintf(stderr, "skipc: error: -o %s: writing %s would overwrite the spec %s\n", a.out,
                    is_spec(a.out, &spec) ? a.out : h, a.spec);
            free(h);
            free(name);
            return 2;
        }
        free(h);
    }
    rc = compile(&a, name);
    free(name);
    for (int i = 0; i < a.ndefs; i++) free((char *)a.defs[i].key);
    return rc == 0 ? 0 : 1;
}
