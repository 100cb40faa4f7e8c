/*
** emit_model.c: the generated model file. Layout, top to bottom: offset
** tables (parameters, arena), layer geometry, init, forward, loss,
** backward, optimizer steps, descriptor tables. Offsets live only in the
** tables, so one more block in a spec changes the tables and adds lines to
** the bodies, but leaves existing body lines as they were.
*/
#include "emit_model.h"
#include "emit.h"
#include "ops.h"
#include "render.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Emit e;
    const KProgram *p, *inf;      /* training and inference programs */
    const Plan *plan, *inf_plan;
    const IrGraph *g;
    const ModelInfo *m;
    char upper[128];
    double flops;      /* forward, per sample */
} Ctx;

static const char *const param_kind_names[] = {
    "RT_PARAM_WEIGHT", "RT_PARAM_BIAS", "RT_PARAM_BN_WEIGHT", "RT_PARAM_BN_BIAS",
    "RT_PARAM_RUNNING_MEAN", "RT_PARAM_RUNNING_VAR"
};

static int param_live(const Ctx *c, int i) { return c->g->nodes[c->g->params[i].node]->live; }

const char *emit_shape_text(const int *shape, int ndim, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%d", d ? "," : "", shape[d]);
    return buf;
}

/* {====================================================================
** Tables of offsets
** ===================================================================== */

/*
** Parameter offsets, in layout order, each defined from the one before it:
** a layer added to a spec adds its own lines and changes only the line
** after them, instead of renumbering every later parameter.
*/
static void emit_param_enum(Ctx *c) {
    const IrParam *prev = NULL;
    emit_line(&c->e, "/* Parameters: offsets in floats into params (and, for trainable ones, grads). */");
    emit_open(&c->e, "enum");
    for (int64_t off = 0; off < c->g->num_params;) {
        const IrParam *q = NULL;
        char shape[64];
        for (int i = 0; i < c->g->nparams && !q; i++)
            if (param_live(c, i) && c->g->params[i].offset == off) q = &c->g->params[i];
        assert(q);
        emit_shape_text(q->shape, q->ndim, shape, sizeof shape);
        if (prev)
            emit_line(&c->e, "P_%s = P_%s + %lld,  /* [%s] */", q->cname, prev->cname,
                      (long long)prev->len, shape);
        else
            emit_line(&c->e, "P_%s = 0,  /* [%s] */", q->cname, shape);
        prev = q;
        off += q->len;
    }
    emit_close(&c->e, ";");
}

/* Layer (L_) and residual-add (K_) indices by name, numbered by the
** compiler, so inserting a layer does not rewrite every later index. */
/* Whether node opens a marked block (render_marks) in forward or backward:
** the blocks bench --profile times. Sets covered[] (if given) to the
** layers that block computes, the first one found. */
static int marked_block(const KProgram *p, int node, char *covered) {
    const KList *lists[] = {&p->fwd, &p->bwd};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < lists[k]->n; i++) {
            const KCall *c = &lists[k]->v[i];
            if (c->node != node || !render_marks(p, c)) continue;
            for (int j = i; covered && j < lists[k]->n; j++) {
                c = &lists[k]->v[j];
                if (j > i && (c->opens != OPEN_NONE || c->node != node)) break;
                covered[c->node] = 1;
                for (int a = 0; a < c->nalso; a++) covered[c->also[a]] = 1;
            }
            return 1;
        }
    return 0;
}

static void emit_index_enums(Ctx *c) {
    emit_blank(&c->e);
    emit_line(&c->e, "/* Layers: rows of layers[] and of backward's grad_sumsq[]. */");
    emit_open(&c->e, "enum");
    for (int i = 0; i < c->g->nnodes; i++)
        if (ops_is_layer(c->g->nodes[i])) emit_line(&c->e, "L_%s,", c->g->nodes[i]->cname);
    emit_close(&c->e, ";");
    emit_blank(&c->e);
    emit_line(&c->e, "/* Code blocks: rows of blocks[], marked by RT_PROF (bench --profile). */");
    emit_open(&c->e, "enum");
    for (int i = 0; i < c->g->nnodes; i++)
        if (marked_block(c->p, i, NULL)) emit_line(&c->e, "C_%s,", c->g->nodes[i]->cname);
    emit_close(&c->e, ";");
    if (c->g->num_skips == 0) return;
    emit_blank(&c->e);
    emit_line(&c->e, "/* Residual adds: rows of skips[] and of forward's drop[]. */");
    emit_open(&c->e, "enum");
    for (int i = 0; i < c->g->nnodes; i++)
        if (c->g->nodes[i]->skip >= 0) emit_line(&c->e, "K_%s,", c->g->nodes[i]->cname);
    emit_close(&c->e, ";");
}

/* A buffer the plan placed: passes may leave others behind (an add's input
** gradient that became its output's), and a slice lies inside its root. */
static int in_use(const Buffer *b, Region r) {
    return b->region == r && b->death >= 0 && b->parent < 0;
}

void emit_arena_enum(Emit *e, const KProgram *p, Region r, const char *comment) {
    int any = 0;
    for (int i = 0; i < p->nbufs; i++) any |= in_use(&p->bufs[i], r);
    if (!any) return;
    emit_blank(e);
    emit_line(e, "%s", comment);
    emit_open(e, "enum");
    for (int i = 0; i < p->nbufs; i++) {
        const Buffer *b = &p->bufs[i];
        char shape[64];
        if (!in_use(b, r)) continue;
        if (b->kind != BUF_SCRATCH && r == REGION_BATCH)
            emit_line(e, "%s = %lld,  /* %s */", b->cname, (long long)b->offset,
                      shape_str(p->g->nodes[b->node]->shape, shape, sizeof shape));
        else
            emit_line(e, "%s = %lld,  /* %lld floats */", b->cname, (long long)b->offset,
                      (long long)b->floats);
    }
    emit_close(e, ";");
}

static void emit_macros(Ctx *c) {
    emit_blank(&c->e);
    emit_line(&c->e, "#define P(o) (params + (o))");
    emit_line(&c->e, "#define G(o) (grads + (o))");
    emit_line(&c->e, "#define A(o) (arena + (size_t)(o) * (size_t)n)");
    if (c->plan->fixed > 0)
        emit_line(&c->e, "#define S(o) (arena + %s_ARENA_PER_SAMPLE * (size_t)n + (o))", c->upper);
    if (c->plan->scratch > 0)
        emit_line(&c->e, "#define T(o) (arena + %s_ARENA_PER_SAMPLE * (size_t)n + %s_ARENA_FIXED + "
                  "(size_t)(o) * rt_scratch_slices(n))", c->upper, c->upper);
    if (c->inf_plan->scratch > 0)
        emit_line(&c->e, "#define IT(o) (arena + %s_INFER_ARENA_PER_SAMPLE * (size_t)n + "
                  "%s_INFER_ARENA_FIXED + (size_t)(o) * rt_scratch_slices(n))", c->upper, c->upper);
}

/* }==================================================================== */

/* {====================================================================
** Functions
** ===================================================================== */

static void emit_init(Ctx *c) {
    emit_blank(&c->e);
    emit_open(&c->e, "void %s_init(float *params, uint64_t seed)", c->m->name);
    emit_line(&c->e, "memset(params, 0, sizeof(float) * %s_NUM_PARAMS);", c->upper);
    for (int i = 0; i < c->g->nparams; i++) {
        const IrParam *q = &c->g->params[i];
        if (!param_live(c, i)) continue;
        if (q->kind == PK_WEIGHT)
            emit_line(&c->e, "rt_init_kaiming(P(P_%s), %lld, %d, seed, 0x%016llxULL);",
                      q->cname, (long long)q->len, q->fan_in,
                      (unsigned long long)hash_name(q->name));
        else if (q->kind == PK_BN_WEIGHT || q->kind == PK_RUNNING_VAR)
            emit_line(&c->e, "rt_fill(P(P_%s), %lld, 1.0f);", q->cname, (long long)q->len);
    }
    emit_close(&c->e, NULL);
}

/* Whether some call of l runs under guard bit g. */
static int any_guard(const KList *l, unsigned g) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i].guard & g) return 1;
    return 0;
}

static void emit_forward(Ctx *c) {
    char out[256];
    emit_blank(&c->e);
    emit_line(&c->e, "const float *%s_forward(float *params, float *arena, const float *x, int n, int training,",
              c->m->name);
    emit_open(&c->e, "    const unsigned char *drop)");
    if (!any_guard(&c->p->fwd, G_TRAIN | G_EVAL))
        emit_line(&c->e, "(void)training;  /* no batchnorm: both modes compute the same */");
    if (!any_guard(&c->p->fwd, G_DROP))
        emit_line(&c->e, "(void)drop;  /* no residual adds to switch off */");
    render_list(&c->e, c->p, &c->p->fwd);
    emit_line(&c->e, "return %s;", render_buffer(c->p, c->p->val[c->g->output], out, sizeof out));
    emit_close(&c->e, NULL);
}

/* Evaluation mode in its own arena: what eval, predict and lesion run. */
static void emit_infer(Ctx *c) {
    char out[256];
    emit_blank(&c->e);
    emit_line(&c->e, "const float *%s_infer(const float *params, float *arena, const float *x, int n,",
              c->m->name);
    emit_open(&c->e, "    const unsigned char *drop)");
    if (!any_guard(&c->inf->fwd, G_DROP))
        emit_line(&c->e, "(void)drop;  /* no residual adds to switch off */");
    render_list(&c->e, c->inf, &c->inf->fwd);
    emit_line(&c->e, "return %s;",
              render_buffer(c->inf, c->inf->val[c->g->output], out, sizeof out));
    emit_close(&c->e, NULL);
}

static void emit_loss(Ctx *c) {
    emit_blank(&c->e);
    emit_open(&c->e, "float %s_loss(const float *out, const void *target, int n)", c->m->name);
    render_list(&c->e, c->p, &c->p->loss);
    emit_close(&c->e, NULL);
}

static void emit_backward(Ctx *c) {
    emit_blank(&c->e);
    emit_line(&c->e, "void %s_backward(const float *params, float *grads, float *arena, const float *x,",
              c->m->name);
    emit_open(&c->e, "    const void *target, float *dx, int n, double *grad_sumsq)");
    if (klist_next_use(&c->p->bwd, 0, c->p->val[c->g->input], KIR_READS) < 0)
        emit_line(&c->e, "(void)x;  /* no backward kernel reads the input itself */");
    render_list(&c->e, c->p, &c->p->bwd);
    emit_close(&c->e, NULL);
}

static void emit_optim(Ctx *c) {
    const char *nm = c->m->name;
    emit_blank(&c->e);
    emit_open(&c->e, "void %s_zero_grad(float *grads)", nm);
    emit_line(&c->e, "memset(grads, 0, sizeof(float) * %s_NUM_TRAINABLE);", c->upper);
    emit_close(&c->e, NULL);
    emit_blank(&c->e);
    emit_line(&c->e, "void %s_sgd_step(float *params, const float *grads, float *momentum_buf, float lr,", nm);
    emit_open(&c->e, "    float momentum, float weight_decay, int nesterov)");
    emit_line(&c->e, "rt_sgd_step(params, grads, momentum_buf, %s_NUM_TRAINABLE, lr, momentum, weight_decay, nesterov);",
              c->upper);
    emit_close(&c->e, NULL);
    emit_blank(&c->e);
    emit_line(&c->e, "void %s_adamw_step(float *params, const float *grads, float *m, float *v, long t,", nm);
    emit_open(&c->e, "    float lr, float beta1, float beta2, float eps, float weight_decay)");
    emit_line(&c->e, "rt_adamw_step(params, grads, m, v, %s_NUM_TRAINABLE, t, lr, beta1, beta2, eps, weight_decay);",
              c->upper);
    emit_close(&c->e, NULL);
}

/* }==================================================================== */

/* {====================================================================
** Descriptor tables
** ===================================================================== */

static void emit_skips(Ctx *c) {
    if (c->g->num_skips == 0) return;
    emit_blank(&c->e);
    emit_line(&c->e, "/* Residual adds, in drop[] order: the layer and the input kept when dropped. */");
    emit_open(&c->e, "static const RtSkipInfo skips[] =");
    for (int i = 0; i < c->g->nnodes; i++) {
        const IrNode *n = c->g->nodes[i];
        if (n->skip < 0) continue;
        Str id = {0};
        emit_line(&c->e, "{L_%s, %s},", n->cname,
                  emit_cstring(&id, c->g->nodes[n->src[n->identity]]->name));
        str_free(&id);
    }
    emit_close(&c->e, ";");
}

/* Each marked block: the layers it computes, their ops, their FLOPs. */
static int emit_blocks(Ctx *c) {
    int nb = 0;
    char *covered = xmalloc((size_t)c->g->nnodes);
    emit_blank(&c->e);
    emit_open(&c->e, "static const RtBlockInfo blocks[] =");
    for (int i = 0; i < c->g->nnodes; i++) {
        Str names = {0}, ops = {0};
        const char *first = NULL;
        size_t scope = 0;
        double flops = 0;
        memset(covered, 0, (size_t)c->g->nnodes);
        if (!marked_block(c->p, i, covered)) continue;
        for (int j = 0; j < c->g->nnodes; j++) {
            const IrNode *n = c->g->nodes[j];
            if (!covered[j]) continue;
            if (!first) {   /* "a.b.norm1 + relu1": later names without its scope */
                const char *dot = strrchr(n->name, '.');
                first = n->name;
                scope = dot ? (size_t)(dot - first + 1) : 0;
                str_add(&names, first);
            } else {
                str_addf(&names, " + %s", n->name + (strncmp(n->name, first, scope) ? 0 : scope));
            }
            str_addf(&ops, "%s%s", ops.len ? " + " : "", op_names[n->op]);
            flops += op_table[n->op].flops(c->g, n);
        }
        Str qn = {0};
        emit_line(&c->e, "{%s, \"%s\", %.1f},", emit_cstring(&qn, names.buf), ops.buf, flops);
        str_free(&qn);
        str_free(&names);
        str_free(&ops);
        nb++;
    }
    emit_close(&c->e, ";");
    free(covered);
    return nb;
}

static void emit_descriptor(Ctx *c, int ntensors, int nlayers, int nblocks) {
    const IrNode *in = c->g->nodes[c->g->input], *out = c->g->nodes[c->g->output];
    const char *nm = c->m->name;
    emit_blank(&c->e);
    emit_open(&c->e, "const RtModel %s_model =", nm);
    emit_line(&c->e, ".name = \"%s\",", nm);
    emit_line(&c->e, ".in_ndim = %d, .in_shape = {%d, %d, %d},", in->shape.rank, in->shape.d[0],
              in->shape.d[1], in->shape.d[2]);
    emit_line(&c->e, ".out_ndim = %d, .out_shape = {%d, %d, %d},", out->shape.rank,
              out->shape.d[0], out->shape.d[1], out->shape.d[2]);
    emit_line(&c->e, ".loss_kind = %s,",
              c->g->loss == LOSS_CROSS_ENTROPY ? "RT_LOSS_CROSS_ENTROPY" : "RT_LOSS_MSE");
    emit_line(&c->e, ".num_params = %s_NUM_PARAMS, .num_trainable = %s_NUM_TRAINABLE,", c->upper,
              c->upper);
    emit_line(&c->e, ".num_tensors = %d, .tensors = tensors,", ntensors);
    emit_line(&c->e, ".num_layers = %d, .layers = layers,", nlayers);
    if (c->g->num_skips > 0)
        emit_line(&c->e, ".num_skips = %d, .skips = skips,", c->g->num_skips);
    emit_line(&c->e, ".num_blocks = %d, .blocks = blocks,", nblocks);
    emit_line(&c->e, ".infer_arena_per_sample = %s_INFER_ARENA_PER_SAMPLE,", c->upper);
    emit_line(&c->e, ".infer_arena_fixed = %s_INFER_ARENA_FIXED,", c->upper);
    emit_line(&c->e, ".infer_arena_scratch = %s_INFER_ARENA_SCRATCH,", c->upper);
    emit_line(&c->e, ".arena_per_sample = %s_ARENA_PER_SAMPLE, .arena_fixed = %s_ARENA_FIXED,",
              c->upper, c->upper);
    emit_line(&c->e, ".arena_scratch = %s_ARENA_SCRATCH,", c->upper);
    emit_line(&c->e, ".flops_per_sample = %.1f,", c->flops);
    emit_line(&c->e, ".init = %s_init, .forward = %s_forward, .infer = %s_infer, .loss = %s_loss,",
              nm, nm, nm, nm);
    emit_line(&c->e, ".backward = %s_backward, .zero_grad = %s_zero_grad,", nm, nm);
    emit_line(&c->e, ".sgd_step = %s_sgd_step, .adamw_step = %s_adamw_step", nm, nm);
    emit_close(&c->e, ";");
}

static void emit_tables(Ctx *c) {
    int nt = 0, nl = 0;
    emit_blank(&c->e);
    emit_open(&c->e, "static const RtParamInfo tensors[] =");
    for (int i = 0; i < c->g->nparams; i++) {
        const IrParam *q = &c->g->params[i];
        char shape[64];
        Str qn = {0};
        if (!param_live(c, i)) continue;
        emit_shape_text(q->shape, q->ndim, shape, sizeof shape);
        emit_line(&c->e, "{%s, %d, {%s}, P_%s, %lld, %s, L_%s},", emit_cstring(&qn, q->name),
                  q->ndim, shape, q->cname, (long long)q->len, param_kind_names[q->kind],
                  c->g->nodes[q->node]->cname);
        str_free(&qn);
        nt++;
    }
    emit_close(&c->e, ";");
    emit_blank(&c->e);
    emit_open(&c->e, "static const RtLayerInfo layers[] =");
    for (int i = 0; i < c->g->nnodes; i++) {
        const IrNode *n = c->g->nodes[i];
        char loc[512];
        Str qn = {0}, ql = {0};
        if (!ops_is_layer(n)) continue;
        render_loc(n, loc, sizeof loc);
        emit_line(&c->e, "{%s, \"%s\", %s, %d, %d},", emit_cstring(&qn, n->name), op_names[n->op],
                  emit_cstring(&ql, loc), n->depth, ops_root(c->g, n->src[0]) == c->g->input);
        str_free(&qn);
        str_free(&ql);
        nl++;
    }
    emit_close(&c->e, ";");
    emit_skips(c);
    emit_descriptor(c, nt, nl, emit_blocks(c));
}

/* }==================================================================== */

void emit_banner(Emit *e, const ModelInfo *m, const char *file, const char *how) {
    Str from = {0}, safe = {0};
    str_addf(&from, "%s%s%s", m->spec, m->defines[0] ? " " : "", m->defines);
    emit_line(e, "/*");
    emit_line(e, "** %s: generated by %s from %s; do not edit.", file, how,
              emit_comment_text(&safe, from.buf));
    emit_line(e, "*/");
    str_free(&from);
    str_free(&safe);
}

static void emit_c(Ctx *c) {
    char file[256];
    snprintf(file, sizeof file, "%s.c", c->m->name);
    emit_banner(&c->e, c->m, file, "skipc");
    emit_line(&c->e, "#include <string.h>");
    emit_blank(&c->e);
    emit_line(&c->e, "#include \"rt.h\"");
    emit_line(&c->e, "#include \"%s.h\"", c->m->name);
    emit_blank(&c->e);
    emit_param_enum(c);
    emit_arena_enum(&c->e, c->p, REGION_BATCH,
                    "/* Activations (X_) and their gradients (D_): offsets in floats per sample,\n"
                    "** times the batch size. Buffers whose lifetimes do not overlap share memory. */");
    emit_arena_enum(&c->e, c->p, REGION_FIXED,
                    "/* Statistics independent of the batch size, after the per-sample region. */");
    emit_arena_enum(&c->e, c->p, REGION_SCRATCH,
                    "/* Kernel scratch (T_), last: offsets in floats per slice, times\n"
                    "** rt_scratch_slices(n), one slice for each sample a kernel works on at once. */");
    emit_arena_enum(&c->e, c->inf, REGION_BATCH,
                    "/* The inference arena (infer): the evaluation-mode forward alone, each\n"
                    "** activation's memory free for the next as soon as its last reader ran. */");
    emit_arena_enum(&c->e, c->inf, REGION_SCRATCH, "/* Its kernel scratch, per slice as above. */");
    emit_index_enums(c);
    emit_macros(c);
    render_geometry(&c->e, c->p);
    emit_init(c);
    emit_forward(c);
    emit_infer(c);
    emit_loss(c);
    emit_backward(c);
    emit_optim(c);
    emit_tables(c);
}

void emit_size_define(Emit *e, const char *upper, const char *what, long long v,
                      const char *why) {
    emit_line(e, "#define %s_%s ((size_t)%lld)  /* %s */", upper, what, v, why);
}

void emit_arena_defines(Emit *e, const char *upper, const char *prefix, const Plan *plan,
                        const char *arena, const char *bytes_comment) {
    char what[64], why[128];
    const char *up = upper, *px = prefix;
    snprintf(what, sizeof what, "%sARENA_PER_SAMPLE", px);
    snprintf(why, sizeof why, "%s floats per sample", arena);
    emit_size_define(e, up, what, (long long)plan->per_sample, why);
    snprintf(what, sizeof what, "%sARENA_FIXED", px);
    snprintf(why, sizeof why, "%s floats for any batch size", arena);
    emit_size_define(e, up, what, (long long)plan->fixed, why);
    snprintf(what, sizeof what, "%sARENA_SCRATCH", px);
    snprintf(why, sizeof why, "%s floats per slice of kernel scratch", arena);
    emit_size_define(e, up, what, (long long)plan->scratch, why);
    emit_line(e, "/* %s */", bytes_comment);
    emit_line(e, "#define %s_%sARENA_BYTES(n) (sizeof(float) * (%s_%sARENA_PER_SAMPLE * "
              "(size_t)(n) + %s_%sARENA_FIXED + %s_%sARENA_SCRATCH * rt_scratch_slices(n)))",
              up, px, up, px, up, px, up, px);
}

static void emit_h(Ctx *c, Emit *e) {
    const char *nm = c->m->name, *up = c->upper;
    char file[256];
    snprintf(file, sizeof file, "%s.h", nm);
    emit_banner(e, c->m, file, "skipc");
    emit_line(e, "#ifndef SKIPC_MODEL_%s_H", up);
    emit_line(e, "#define SKIPC_MODEL_%s_H", up);
    emit_blank(e);
    emit_line(e, "#include <stddef.h>");
    emit_line(e, "#include <stdint.h>");
    emit_blank(e);
    emit_line(e, "#include \"rt_model.h\"");
    emit_blank(e);
    emit_size_define(e, up, "NUM_PARAMS", (long long)c->g->num_params,
                     "floats: trainable, then buffers");
    emit_size_define(e, up, "NUM_TRAINABLE", (long long)c->g->num_trainable,
                     "floats in grads and optimizer state");
    emit_arena_defines(e, up, "", c->plan, "arena",
                       "Arena bytes the caller provides for a batch of n samples.");
    emit_arena_defines(e, up, "INFER_", c->inf_plan, "inference arena",
                       "Arena bytes infer needs for a batch of n samples.");
    emit_blank(e);
    emit_line(e, "/* Kaiming-normal weights, zero biases, unit batchnorm scales; reproducible from seed. */");
    emit_line(e, "void %s_init(float *params, uint64_t seed);", nm);
    emit_line(e, "/* Forward pass; training selects batch statistics; drop (or NULL) switches residual");
    emit_line(e, "** adds to their identity input (lesion studies). Returns the output (in the arena). */");
    emit_line(e, "const float *%s_forward(float *params, float *arena, const float *x, int n, int training,", nm);
    emit_line(e, "    const unsigned char *drop);");
    emit_line(e, "/* Evaluation-mode forward in the (smaller) inference arena, params untouched;");
    emit_line(e, "** drop as in forward. Returns the output (in the arena). */");
    emit_line(e, "const float *%s_infer(const float *params, float *arena, const float *x, int n,", nm);
    emit_line(e, "    const unsigned char *drop);");
    emit_line(e, "/* Mean loss of outputs out (as forward or infer returns them) against target");
    emit_line(e, "** (int32 labels or float targets). */");
    emit_line(e, "float %s_loss(const float *out, const void *target, int n);", nm);
    emit_line(e, "/* After a training forward: accumulates gradients into grads and, if not NULL, dx;");
    emit_line(e, "** grad_sumsq (or NULL) receives, per layer, the squared norm of the gradient at its input. */");
    emit_line(e, "void %s_backward(const float *params, float *grads, float *arena, const float *x,", nm);
    emit_line(e, "    const void *target, float *dx, int n, double *grad_sumsq);");
    emit_line(e, "void %s_zero_grad(float *grads);", nm);
    emit_line(e, "void %s_sgd_step(float *params, const float *grads, float *momentum_buf, float lr,", nm);
    emit_line(e, "    float momentum, float weight_decay, int nesterov);");
    emit_line(e, "void %s_adamw_step(float *params, const float *grads, float *m, float *v, long t,", nm);
    emit_line(e, "    float lr, float beta1, float beta2, float eps, float weight_decay);");
    emit_blank(e);
    emit_line(e, "extern const RtModel %s_model;", nm);
    emit_blank(e);
    emit_line(e, "#endif");
}

void emit_model(const KProgram *p, const Plan *plan, const KProgram *inf, const Plan *inf_plan,
                const ModelInfo *m, Str *c_text, Str *h_text) {
    Ctx c;
    Emit h = {{0}, 0};
    size_t i;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.plan = plan;
    c.inf = inf;
    c.inf_plan = inf_plan;
    c.g = p->g;
    c.m = m;
    for (i = 0; m->name[i] && i + 1 < sizeof c.upper; i++)
        c.upper[i] = (char)toupper((unsigned char)m->name[i]);
    c.upper[i] = '\0';
    for (int k = 0; k < c.g->nnodes; k++)
        if (c.g->nodes[k]->live) c.flops += op_table[c.g->nodes[k]->op].flops(c.g, c.g->nodes[k]);
    emit_c(&c);
    emit_h(&c, &h);
    *c_text = c.e.out;
    *h_text = h.out;
}
