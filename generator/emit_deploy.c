/*
** emit_deploy.c: the files of a deployment build (skipc --infer): NAME.h
** (sizes and the entry points), NAME.c (parameter and arena offsets,
** layer geometry, NAME_predict, and NAME_fold when no weights are
** embedded) and, with --weights, NAME_weights.c holding the folded
** weights, as float literals or, for big models, as a binary file the
** assembler includes (.incbin).
*/
#include "emit_deploy.h"
#include "emit.h"
#include "render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Emit e;
    const KProgram *p;
    const Plan *plan;
    const DeployInfo *d;
    const IrGraph *g;
    char upper[128];
} Ctx;

static int64_t sample_floats(const IrNode *n) { return shape_numel(n->shape); }

/* {====================================================================
** NAME.h
** ===================================================================== */

static void emit_h(Ctx *c, Emit *e) {
    const char *nm = c->d->m.name, *up = c->upper;
    const Weights *w = c->d->weights;
    char h[256];
    snprintf(h, sizeof h, "%s.h", nm);
    emit_banner(e, &c->d->m, h, "skipc --infer");
    emit_line(e, "#ifndef SKIPC_DEPLOY_%s_H", up);
    emit_line(e, "#define SKIPC_DEPLOY_%s_H", up);
    emit_blank(e);
    emit_line(e, "#include <stddef.h>");
    emit_blank(e);
    emit_line(e, "#include \"rt_geom.h\"");
    emit_blank(e);
    emit_line(e, "/*");
    emit_line(e, "** Inference only: the evaluation-mode forward, batchnorms folded into the layers");
    emit_line(e, "** before them. Nothing allocates; the runtime's kernels use threads only after");
    emit_line(e, "** rt_set_threads(n > 1) (builds without OpenBLAS) or as OpenBLAS is told.");
    emit_line(e, "** Parameters: %lld floats (%lld bytes)%s.", (long long)c->p->num_dparams,
              (long long)c->p->num_dparams * 4,
              w ? (c->d->blob ? ", embedded from a binary file" : ", embedded") : "");
    emit_line(e, "** Arena: %lld bytes for one sample.",
              (long long)(4 * (c->plan->per_sample + c->plan->fixed + c->plan->scratch)));
    if (w) emit_line(e, "** Weights from a checkpoint with SHA-256 %s.", w->file_sha);
    emit_line(e, "*/");
    emit_size_define(e, up, "NUM_PARAMS", (long long)c->p->num_dparams, "floats of params");
    emit_size_define(e, up, "IN_FLOATS", (long long)sample_floats(c->g->nodes[c->g->input]),
                     "floats of x per sample");
    emit_size_define(e, up, "OUT_FLOATS", (long long)sample_floats(c->g->nodes[c->g->output]),
                     "floats of y per sample");
    emit_arena_defines(e, up, "", c->plan, "arena",
                       "Arena bytes predict needs for a batch of n samples.");
    if (w) {
        char f[32];
        emit_line(e, "/* The input normalisation training used: x = (pixel - MEAN) / STD%s. */",
                  w->has_norm ? "" : " (the checkpoint names none)");
        emit_line(e, "#define %s_INPUT_MEAN %s", up, emit_float(w->mean, f, sizeof f));
        emit_line(e, "#define %s_INPUT_STD %s", up, emit_float(w->std, f, sizeof f));
    } else {
        emit_size_define(e, up, "CKPT_PARAMS", (long long)c->g->num_params,
                         "floats of a training checkpoint's params");
    }
    emit_blank(e);
    emit_line(e, "/* The outputs y (n x %s_OUT_FLOATS floats) of inputs x (n x %s_IN_FLOATS), "
                 "computed", up, up);
    emit_line(e, "** in an arena of %s_ARENA_BYTES(n) bytes aligned to 64. params: %s_NUM_PARAMS",
              up, up);
    if (w)
        emit_line(e, "** floats as %s_weights has them, or NULL for those.", nm);
    else
        emit_line(e, "** floats from %s_fold.", nm);
    emit_line(e, "** Returns 0, or -1 if n < 1 or a pointer it needs is NULL. */");
    emit_line(e, "int %s_predict(const float *params, const float *x, float *y, int n, void *arena);",
              nm);
    if (w) {
        emit_line(e, "/* The folded weights, %s_NUM_PARAMS floats (%s_weights.c). */", up, nm);
        emit_line(e, "extern const float %s_weights[];", nm);
    } else {
        emit_line(e, "/* params (%s_NUM_PARAMS floats) from a training checkpoint's (%s_CKPT_PARAMS",
                  up, up);
        emit_line(e, "** floats, as the training build lays them out), its batchnorms folded in. */");
        emit_line(e, "void %s_fold(const float *ckpt, float *params);", nm);
    }
    emit_blank(e);
    emit_line(e, "#endif");
}

/* }==================================================================== */

/* {====================================================================
** NAME.c
** ===================================================================== */

static void emit_param_enum(Ctx *c) {
    const DParam *prev = NULL;
    emit_line(&c->e, "/* Parameters: offsets in floats into params. */");
    emit_open(&c->e, "enum");
    for (int i = 0; i < c->p->ndparams; i++) {
        const DParam *q = &c->p->dparams[i];
        char shape[64], bn[128] = "";
        emit_shape_text(q->shape, q->ndim, shape, sizeof shape);
        if (q->kind != DP_COPY)
            snprintf(bn, sizeof bn, ", %s folded in",
                     c->g->nodes[c->g->params[q->bn[0]].node]->name);
        if (prev)
            emit_line(&c->e, "P_%s = P_%s + %lld,  /* [%s]%s */", q->cname, prev->cname,
                      (long long)prev->len, shape, bn);
        else
            emit_line(&c->e, "P_%s = 0,  /* [%s]%s */", q->cname, shape, bn);
        prev = q;
    }
    emit_close(&c->e, ";");
}

static void emit_predict(Ctx *c) {
    const char *nm = c->d->m.name;
    char out[256];
    emit_blank(&c->e);
    emit_open(&c->e, "int %s_predict(const float *params, const float *x, float *y, int n, "
              "void *arena_)", nm);
    emit_line(&c->e, "float *arena = arena_;");
    if (c->d->weights) emit_line(&c->e, "if (!params) params = %s_weights;", nm);
    emit_line(&c->e, "if (n < 1 || !params || !x || !y || !arena) return -1;");
    render_list(&c->e, c->p, &c->p->fwd);
    emit_line(&c->e, "memcpy(y, %s, sizeof(float) * %s_OUT_FLOATS * (size_t)n);",
              render_buffer(c->p, c->p->val[c->g->output], out, sizeof out), c->upper);
    emit_line(&c->e, "return 0;");
    emit_close(&c->e, NULL);
}

/* NAME_fold: a training checkpoint's parameters (at their offsets in the
** training build, Q_) as this build's. */
static void emit_fold(Ctx *c) {
    const IrGraph *g = c->g;
    char *need = kprog_dparam_sources(c->p);
    emit_blank(&c->e);
    emit_line(&c->e, "/* Checkpoint: offsets of the training parameters fold reads. */");
    emit_open(&c->e, "enum");
    for (int i = 0; i < g->nparams; i++)
        if (need[i]) emit_line(&c->e, "Q_%s = %lld,", g->params[i].cname,
                               (long long)g->params[i].offset);
    emit_close(&c->e, ";");
    emit_blank(&c->e);
    emit_open(&c->e, "void %s_fold(const float *ckpt, float *params)", c->d->m.name);
    for (int i = 0; i < c->p->ndparams; i++) {
        const DParam *d = &c->p->dparams[i], *b;
        char eps[32], bias[256];
        if (d->kind == DP_COPY) {
            emit_line(&c->e, "memcpy(P(P_%s), ckpt + Q_%s, sizeof(float) * %lld);", d->cname,
                      g->params[d->src].cname, (long long)d->len);
            continue;
        }
        if (d->kind != DP_FOLD_WEIGHT) continue;
        b = &c->p->dparams[d->pair];
        if (b->src >= 0) snprintf(bias, sizeof bias, "ckpt + Q_%s", g->params[b->src].cname);
        else snprintf(bias, sizeof bias, "NULL");
        emit_line(&c->e, "rt_fold_batchnorm(P(P_%s), P(P_%s), ckpt + Q_%s, %s, ckpt + Q_%s, "
                  "ckpt + Q_%s, ckpt + Q_%s, ckpt + Q_%s, %d, %lld, %s);", d->cname, b->cname,
                  g->params[d->src].cname, bias, g->params[d->bn[0]].cname,
                  g->params[d->bn[1]].cname, g->params[d->bn[2]].cname,
                  g->params[d->bn[3]].cname, d->shape[0], (long long)(d->len / d->shape[0]),
                  emit_float(d->eps, eps, sizeof eps));
    }
    emit_close(&c->e, NULL);
    free(need);
}

static void emit_c(Ctx *c) {
    char file[256];
    snprintf(file, sizeof file, "%s.c", c->d->m.name);
    emit_banner(&c->e, &c->d->m, file, "skipc --infer");
    emit_line(&c->e, "#include <string.h>");
    emit_blank(&c->e);
    emit_line(&c->e, "#include \"rt.h\"");
    emit_line(&c->e, "#include \"%s.h\"", c->d->m.name);
    emit_blank(&c->e);
    emit_param_enum(c);
    emit_arena_enum(&c->e, c->p, REGION_BATCH,
                    "/* Activations: offsets in floats per sample, times the batch size.\n"
                    "** Each one's memory is free for the next once its last reader ran. */");
    emit_arena_enum(&c->e, c->p, REGION_FIXED, "/* Independent of the batch size, after them. */");
    emit_arena_enum(&c->e, c->p, REGION_SCRATCH,
                    "/* Kernel scratch, last: offsets in floats per slice, times\n"
                    "** rt_scratch_slices(n), one slice for each sample a kernel works on at once. */");
    emit_blank(&c->e);
    emit_line(&c->e, "#define P(o) (params + (o))");
    emit_line(&c->e, "#define A(o) (arena + (size_t)(o) * (size_t)n)");
    if (c->plan->fixed > 0)
        emit_line(&c->e, "#define S(o) (arena + %s_ARENA_PER_SAMPLE * (size_t)n + (o))", c->upper);
    if (c->plan->scratch > 0)
        emit_line(&c->e, "#define IT(o) (arena + %s_ARENA_PER_SAMPLE * (size_t)n + %s_ARENA_FIXED + "
                  "(size_t)(o) * rt_scratch_slices(n))", c->upper, c->upper);
    render_geometry(&c->e, c->p);
    emit_predict(c);
    if (!c->d->weights) emit_fold(c);
}

/* }==================================================================== */

/* {====================================================================
** NAME_weights.c
** ===================================================================== */

/* The values of d as float literals, as many to a line as fit. */
static void emit_values(Emit *e, const float *v, int64_t len) {
    Str line = {0};
    for (int64_t i = 0; i < len; i++) {
        char f[32];
        emit_float(v[i], f, sizeof f);
        if (line.len && line.len + strlen(f) + 2 > 95) {
            emit_line(e, "%s", line.buf);
            line.len = 0;
            line.buf[0] = '\0';
        }
        str_addf(&line, "%s%s,", line.len ? " " : "", f);
    }
    if (line.len) emit_line(e, "%s", line.buf);
    str_free(&line);
}

static void emit_weights(Ctx *c, Emit *e) {
    const Weights *w = c->d->weights;
    const char *nm = c->d->m.name;
    char file[256];
    snprintf(file, sizeof file, "%s_weights.c", nm);
    emit_banner(e, &c->d->m, file, "skipc --infer");
    emit_line(e, "/* The folded weights of %s.c, from a checkpoint with SHA-256", nm);
    emit_line(e, "** %s;", w->file_sha);
    emit_line(e, "** each tensor's SHA-256 is of its floats' little-endian bytes. */");
    emit_line(e, "#include \"%s.h\"", nm);
    emit_blank(e);
    if (c->d->blob) {
        for (int i = 0; i < c->p->ndparams; i++) {
            const DParam *d = &c->p->dparams[i];
            char shape[64];
            emit_shape_text(d->shape, d->ndim, shape, sizeof shape);
            emit_line(e, "/* %s [%s] at float %lld: sha256 %s */", d->name, shape,
                      (long long)d->offset, w->sha[i]);
        }
        emit_blank(e);
        emit_line(e, "/* %lld bytes of little-endian floats in %s_weights.bin, which the",
                  (long long)c->p->num_dparams * 4, nm);
        emit_line(e, "** assembler finds beside this file (-Wa,-I<its folder>). */");
        emit_line(e, "__asm__(\".section .rodata\\n\"");
        emit_line(e, "        \".balign 64\\n\"");
        emit_line(e, "        \".globl %s_weights\\n\"", nm);
        emit_line(e, "        \".type %s_weights, %%object\\n\"", nm);
        emit_line(e, "        \".size %s_weights, %lld\\n\"", nm, (long long)c->p->num_dparams * 4);
        emit_line(e, "        \"%s_weights:\\n\"", nm);
        emit_line(e, "        \".incbin \\\"%s_weights.bin\\\"\\n\"", nm);
        emit_line(e, "        \".previous\\n\");");
        return;
    }
    emit_line(e, "#if defined(__GNUC__)");
    emit_line(e, "__attribute__((aligned(64)))");
    emit_line(e, "#endif");
    emit_open(e, "const float %s_weights[%lld] =", nm, (long long)c->p->num_dparams);
    for (int i = 0; i < c->p->ndparams; i++) {
        const DParam *d = &c->p->dparams[i];
        char shape[64];
        emit_shape_text(d->shape, d->ndim, shape, sizeof shape);
        emit_line(e, "/* %s [%s]: sha256 %s */", d->name, shape, w->sha[i]);
        emit_values(e, w->values + d->offset, d->len);
    }
    emit_close(e, ";");
}

/* }==================================================================== */

void emit_deploy(const KProgram *p, const Plan *plan, const DeployInfo *d, Str *c_text,
                 Str *h_text, Str *w_text) {
    Ctx c;
    Emit h = {{0}, 0}, w = {{0}, 0};
    size_t i;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.plan = plan;
    c.d = d;
    c.g = p->g;
    for (i = 0; d->m.name[i] && i + 1 < sizeof c.upper; i++)
        c.upper[i] = (char)toupper((unsigned char)d->m.name[i]);
    c.upper[i] = '\0';
    emit_c(&c);
    emit_h(&c, &h);
    if (d->weights) emit_weights(&c, &w);
    *c_text = c.e.out;
    *h_text = h.out;
    *w_text = w.out;
}
