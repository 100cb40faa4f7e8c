/*
** autodiff.c: the graph lowered to kernel calls. Forward: each live layer's
** calls in creation order. Loss: one call. Backward: the loss gradient,
** then each layer's backward calls in reverse creation order; a source's
** gradient collects every consumer's contribution (ACC_ACCUM), so a tensor
** with several consumers (a skip's identity path) needs no special case.
** A gradient buffer is zeroed when it comes to life; pass_write_first
** removes the zeroing where the first contribution can overwrite instead.
*/
#include "autodiff.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

void lower_call(Lower *l, KernelId k, const KArg *args, int nargs) {
    KCall c;
    memset(&c, 0, sizeof c);
    c.k = k;
    c.nargs = nargs;
    memcpy(c.args, args, (size_t)nargs * sizeof *args);
    c.node = l->n->id;
    c.t = l->t;
    c.guard = l->guard;
    c.opens = l->opened ? OPEN_NONE : OPEN_LAYER;
    for (int i = 0; i < nargs; i++) {
        KArg *a = &c.args[i];
        const Buffer *b;
        if (a->kind != ARG_BUF || a->access == ACC_READ) continue;
        b = &l->p->bufs[a->ref];
        if (!b->dx_only || (c.guard & G_DX)) continue;
        if (kernel_table[k].nullable >> i & 1) a->if_dx = b->region != REGION_EXTERNAL;
        else c.guard |= G_DX;
    }
    klist_push(l->out, &c);
    l->opened = 1;
}

/* {====================================================================
** Buffers
** ===================================================================== */

static int node_buffer(KProgram *p, BufKind kind, const char *prefix, const IrNode *n,
                       Region r, int64_t floats) {
    char *name = xasprintf("%s_%s", prefix, n->cname);
    int b = kprog_new_buffer(p, kind, name, n->id, r, floats);
    free(name);
    return b;
}

/*
** Kernel scratch (im2col columns, partial weight gradients) is a buffer of
** its own for each forward and each backward step that needs one, living
** for that step only, in the scratch region: rt_scratch_slices(n) slices of
** it (rt_geom.h).
*/
static void make_scratch(KProgram *p, const IrNode *n) {
    int64_t (*floats)(const IrGraph *, const IrNode *, int) = op_table[n->op].col_floats;
    if (floats && floats(p->g, n, 0) > 0)
        p->scratch_fwd[n->id] = node_buffer(p, BUF_SCRATCH, "T", n, REGION_SCRATCH,
                                            floats(p->g, n, 0));
    if (floats && floats(p->g, n, 1) > 0)
        p->scratch_bwd[n->id] = node_buffer(p, BUF_SCRATCH, "TB", n, REGION_SCRATCH,
                                            floats(p->g, n, 1));
}

/* Value and gradient buffers; views (flatten) share their source's. A
** gradient upstream of every parameter is only needed for dx. */
static void make_buffers(KProgram *p) {
    const IrGraph *g = p->g;
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!n->live) continue;
        if (op_table[n->op].flags & OPF_INPUT) {
            int64_t floats = shape_numel(n->shape);
            p->val[i] = kprog_new_buffer(p, BUF_VALUE, "x", i, REGION_EXTERNAL, floats);
            p->grad[i] = kprog_new_buffer(p, BUF_GRAD, "dx", i, REGION_EXTERNAL, floats);
        } else if (op_table[n->op].flags & OPF_VIEW) {
            p->val[i] = p->val[n->src[0]];
            p->grad[i] = p->grad[n->src[0]];
        } else {
            p->val[i] = node_buffer(p, BUF_VALUE, "X", n, REGION_BATCH, shape_numel(n->shape));
            p->grad[i] = node_buffer(p, BUF_GRAD, "D", n, REGION_BATCH, shape_numel(n->shape));
            make_scratch(p, n);
        }
        p->bufs[p->grad[i]].dx_only = !n->from_param;
        if (op_table[n->op].stat_floats)
            p->stats[i] = node_buffer(p, BUF_STATS, "S", n, REGION_FIXED,
                                      op_table[n->op].stat_floats(g, n));
    }
}

/* }==================================================================== */

/* {====================================================================
** Calls
** ===================================================================== */

static Lower lower_at(KProgram *p, const IrNode *n, KList *out, int t, unsigned guard) {
    Lower l = {p, p->g, n, out, t, guard, 0};
    return l;
}

static void lower_loss(KProgram *p, int t, KList *bwd) {
    const IrGraph *g = p->g;
    const IrNode *out = g->nodes[g->output];
    int ch = out->shape.d[0], xent = g->loss == LOSS_CROSS_ENTROPY;
    int64_t hw = shape_hw(out->shape);
    KArg v = karg_buf(p->val[out->id], ACC_READ), d = karg_buf(p->grad[out->id], ACC_ACCUM);
    /* The loss function reads the outputs it is given, from either arena. */
    KArg given = karg_buf(kprog_new_buffer(p, BUF_VALUE, "out", out->id, REGION_EXTERNAL,
                                           shape_numel(out->shape)),
                          ACC_READ);
    Lower l = lower_at(p, out, &p->loss, t, 0);
    if (xent) {
        LOWER(&l, K_XENT_FORWARD, given, karg_target(0), karg_batch(), karg_int(ch),
              karg_int(hw));
        l = lower_at(p, out, bwd, t, 0);
        LOWER(&l, K_XENT_BACKWARD, d, v, karg_target(0), karg_batch(), karg_int(ch),
              karg_int(hw));
    } else {
        LOWER(&l, K_MSE_FORWARD, given, karg_target(1), karg_len(ch * hw));
        l = lower_at(p, out, bwd, t, 0);
        LOWER(&l, K_MSE_BACKWARD, d, v, karg_target(1), karg_len(ch * hw));
    }
    p->loss.v[0].opens = OPEN_NONE;   /* the loss function is one line, no comment */
    bwd->v[0].opens = OPEN_LOSS;
}

/*
** Gradient-flow probes: the gradient reaching a layer's input is complete
** once every consumer of that input has run its backward step, i.e. just
** before the step of the node that produced it (or at the end, for the
** model input). grad_sumsq[layer] receives its sum of squares.
*/
/* Probes[producer]: the layers reading it, in node order, as a list through
** next[] (-1 ends it), so each step finds its probes at once. */
static void probe_lists(const IrGraph *g, int *first, int *next) {
    for (int i = 0; i < g->nnodes; i++) first[i] = next[i] = -1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const IrNode *n = g->nodes[i];
        int producer;
        if (!ops_is_layer(n)) continue;
        producer = ops_root(g, n->src[0]);
        next[i] = first[producer];
        first[producer] = i;
    }
}

static void add_probes(KProgram *p, int producer, int t, const int *first, const int *next) {
    const IrGraph *g = p->g;
    int d = p->grad[producer];
    for (int i = first[producer]; i >= 0; i = next[i]) {
        KCall c;
        memset(&c, 0, sizeof c);
        c.k = K_SUMSQ;
        c.nargs = 4;
        c.args[0] = karg_buf(d, ACC_READ);
        c.args[1] = karg_batch();
        c.args[2] = karg_int(shape_numel(g->nodes[producer]->shape));
        c.args[3] = karg_stride(0);
        c.node = i;
        c.t = t;
        c.guard = p->bufs[d].dx_only ? G_DX : 0;
        klist_push(&p->bwd, &c);
    }
}

/*
** Appends the calls of one backward step, preceded by the zeroing of every
** arena gradient they are the first to touch (backward kernels accumulate).
** seen marks the gradients touched so far.
*/
static int cmp_int(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static void append_step(KProgram *p, KList *step, char *seen) {
    int opens = step->n ? step->v[0].opens : OPEN_NONE, nw = 0;
    int *written = xmalloc((size_t)(step->n * KIR_MAX_ARGS + 1) * sizeof *written);
    /* the arena gradients the step writes first, in buffer order */
    for (int i = 0; i < step->n; i++)
        for (int a = 0; a < step->v[i].nargs; a++) {
            const KArg *arg = &step->v[i].args[a];
            if (arg->kind == ARG_BUF && (KIR_WRITES >> arg->access & 1)) written[nw++] = arg->ref;
        }
    qsort(written, (size_t)nw, sizeof *written, cmp_int);
    for (int w = 0; w < nw; w++) {
        int b = written[w];
        const Buffer *buf = &p->bufs[b];
        KCall z;
        if (buf->kind != BUF_GRAD || buf->region != REGION_BATCH || seen[b]) continue;
        seen[b] = 1;
        memset(&z, 0, sizeof z);
        z.k = K_FILL;
        z.nargs = 3;
        z.args[0] = karg_buf(b, ACC_WRITE);
        z.args[1] = karg_len(buf->floats);
        z.args[2] = karg_float(0.0f);
        z.node = step->v[0].node;
        z.t = step->v[0].t;
        z.guard = buf->dx_only ? G_DX : 0;
        /* The loss gradient's zeroing opens the loss block (its comment comes first). */
        z.opens = opens == OPEN_LOSS ? OPEN_LOSS : OPEN_NONE;
        if (opens == OPEN_LOSS) step->v[0].opens = opens = OPEN_NONE;
        klist_push(&p->bwd, &z);
    }
    for (int i = 0; i < step->n; i++) klist_push(&p->bwd, &step->v[i]);
    step->n = 0;
    free(written);
}

void autodiff(KProgram *p, const IrGraph *g) {
    KList step = {0};
    char *seen;
    int t = 0, *first = xmalloc((size_t)g->nnodes * sizeof *first);
    int *next = xmalloc((size_t)g->nnodes * sizeof *next);
    kprog_init(p, g);
    make_buffers(p);
    probe_lists(g, first, next);
    seen = xcalloc((size_t)p->nbufs, 1);
    for (int i = 0; i < g->nnodes; i++) {
        Lower l;
        if (!ops_has_code(g->nodes[i])) continue;
        l = lower_at(p, g->nodes[i], &p->fwd, t++, 0);
        op_table[g->nodes[i]->op].lower_fwd(&l);
    }
    lower_loss(p, t, &step);
    append_step(p, &step, seen);
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const IrNode *n = g->nodes[i];
        Lower l;
        if (!ops_has_code(n)) continue;
        l = lower_at(p, n, &step, ++t, p->bufs[p->grad[i]].dx_only ? G_DX : 0);
        op_table[n->op].lower_bwd(&l);
        add_probes(p, i, t, first, next);
        append_step(p, &step, seen);
    }
    add_probes(p, g->input, t, first, next);
    p->nsteps = t + 1;
    free(seen);
    free(first);
    free(next);
    free(step.v);
}

/* }==================================================================== */
