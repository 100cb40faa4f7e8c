/*
** plan.c: step list, buffer liveness and first-fit arena layout.
**
** Timeline: one forward step per live node (creation order), one loss step,
** one backward step per live node in reverse. A buffer lives from the first
** to the last step that touches it; two buffers may share memory only if
** their lifetimes do not intersect, so no kernel ever sees its inputs and
** outputs overlap. Ties are broken by buffer creation order, which makes the
** layout, like everything else, a pure function of the spec.
*/
#include "plan.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

static int new_buffer(Plan *p, const char *prefix, const IrNode *n, Region r, int64_t floats) {
    Buffer *b;
    p->bufs = xrealloc(p->bufs, (size_t)(p->nbufs + 1) * sizeof *p->bufs);
    b = &p->bufs[p->nbufs];
    memset(b, 0, sizeof *b);
    b->cname = n ? xasprintf("%s_%s", prefix, n->cname) : xstrdup(prefix);
    b->region = r;
    b->floats = floats;
    b->birth = INT32_MAX;
    b->death = -1;
    b->node = n ? n->id : -1;
    return p->nbufs++;
}

static void touch(Plan *p, int buf, int t) {
    Buffer *b;
    if (buf < 0) return;
    b = &p->bufs[buf];
    if (t < b->birth) b->birth = t;
    if (t > b->death) b->death = t;
}

static void add_step(Plan *p, StepKind k, int node, int dx_only) {
    p->steps = xrealloc(p->steps, (size_t)(p->nsteps + 1) * sizeof *p->steps);
    p->steps[p->nsteps].kind = k;
    p->steps[p->nsteps].node = node;
    p->steps[p->nsteps].dx_only = dx_only;
    p->nsteps++;
}

static int has_code(const IrNode *n) {
    return n->live && op_table[n->op].emit_fwd != NULL;
}

/*
** Kernel scratch (im2col columns) is a buffer of its own for each forward
** and each backward step, living for that step only: the plan places it in
** whatever memory is free at that moment instead of a dedicated region.
** It is sized per sample, so a kernel may unfold the whole batch at once.
*/
static void make_scratch(Plan *p, const IrNode *n) {
    int64_t floats = op_table[n->op].col_floats ? op_table[n->op].col_floats(p->g, n) : 0;
    char *fwd, *bwd;
    if (floats == 0) return;
    fwd = xasprintf("T_%s", n->cname);
    bwd = xasprintf("TB_%s", n->cname);
    p->scratch_fwd[n->id] = new_buffer(p, fwd, NULL, REGION_BATCH, floats);
    p->scratch_bwd[n->id] = new_buffer(p, bwd, NULL, REGION_BATCH, floats);
    free(fwd);
    free(bwd);
}

/* Value and gradient buffers; views (flatten) share their source's. */
static void make_buffers(Plan *p) {
    const IrGraph *g = p->g;
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!n->live) continue;
        if (n->op == OP_INPUT) {
            p->val[i] = new_buffer(p, "x", NULL, REGION_EXTERNAL, 0);
            p->grad[i] = new_buffer(p, "dx", NULL, REGION_EXTERNAL, 0);
        } else if (!has_code(n)) {
            p->val[i] = p->val[n->src[0]];
            p->grad[i] = p->grad[n->src[0]];
        } else {
            p->val[i] = new_buffer(p, "X", n, REGION_BATCH, shape_numel(n->shape));
            p->grad[i] = new_buffer(p, "D", n, REGION_BATCH, shape_numel(n->shape));
            p->bufs[p->grad[i]].is_grad = 1;
            p->bufs[p->grad[i]].dx_only = !n->from_param;
            make_scratch(p, n);
        }
        if (op_table[n->op].stat_floats)
            p->stats[i] = new_buffer(p, "S", n, REGION_FIXED, op_table[n->op].stat_floats(g, n));
    }
}

/* Forward, loss and backward steps, touching the buffers each one uses. */
static void make_steps(Plan *p) {
    const IrGraph *g = p->g;
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!has_code(n)) continue;
        add_step(p, STEP_FORWARD, i, 0);
        touch(p, p->val[i], p->nsteps - 1);
        touch(p, p->scratch_fwd[i], p->nsteps - 1);
        for (int s = 0; s < n->nsrc; s++) touch(p, p->val[n->src[s]], p->nsteps - 1);
    }
    add_step(p, STEP_LOSS, g->output, 0);
    touch(p, p->val[g->output], p->nsteps - 1);
    touch(p, p->grad[g->output], p->nsteps - 1);
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const IrNode *n = g->nodes[i];
        unsigned reads = op_table[n->op].backward_reads;
        if (!has_code(n)) continue;
        add_step(p, STEP_BACKWARD, i, !n->from_param);
        touch(p, p->grad[i], p->nsteps - 1);
        touch(p, p->scratch_bwd[i], p->nsteps - 1);
        if (reads & READS_OUTPUT) touch(p, p->val[i], p->nsteps - 1);
        for (int s = 0; s < n->nsrc; s++) {
            touch(p, p->grad[n->src[s]], p->nsteps - 1);
            if (reads & READS_INPUT) touch(p, p->val[n->src[s]], p->nsteps - 1);
        }
    }
}

static int overlaps(const Buffer *a, const Buffer *b) {
    return a->birth <= b->death && b->birth <= a->death;
}

/*
** First fit in birth order: the lowest offset whose range is free of every
** buffer placed so far that is alive at the same time. Quadratic, but a
** thousand-layer network still plans in milliseconds.
*/
static int64_t place_batch(Plan *p) {
    int *order = xmalloc((size_t)p->nbufs * sizeof *order), n = 0;
    int64_t top = 0;
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].region == REGION_BATCH && p->bufs[i].death >= 0) order[n++] = i;
    for (int i = 1; i < n; i++)   /* insertion sort: stable, by birth then id */
        for (int j = i; j > 0 && p->bufs[order[j - 1]].birth > p->bufs[order[j]].birth; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        Buffer *b = &p->bufs[order[i]];
        int64_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                const Buffer *o = &p->bufs[order[j]];
                if (overlaps(b, o) && off < o->offset + o->floats && o->offset < off + b->floats) {
                    off = o->offset + o->floats;
                    moved = 1;
                }
            }
        }
        b->offset = off;
        if (off + b->floats > top) top = off + b->floats;
    }
    free(order);
    return top;
}

static int64_t place_fixed(Plan *p) {
    int64_t top = 0;
    for (int i = 0; i < p->nbufs; i++) {
        if (p->bufs[i].region != REGION_FIXED) continue;
        p->bufs[i].offset = top;
        top += p->bufs[i].floats;
    }
    return top;
}

static char *region_expr(const Buffer *b) {
    switch (b->region) {
    case REGION_BATCH: return xasprintf("A(%s)", b->cname);
    case REGION_FIXED: return xasprintf("S(%s)", b->cname);
    default: return xstrdup(b->cname);
    }
}

static void make_exprs(Plan *p) {
    const IrGraph *g = p->g;
    for (int i = 0; i < g->nnodes; i++) {
        if (p->val[i] >= 0) p->val_expr[i] = region_expr(&p->bufs[p->val[i]]);
        if (p->grad[i] >= 0) p->grad_expr[i] = region_expr(&p->bufs[p->grad[i]]);
        if (p->stats[i] >= 0) p->stat_expr[i] = region_expr(&p->bufs[p->stats[i]]);
        if (p->scratch_fwd[i] >= 0) p->scratch_fwd_expr[i] = region_expr(&p->bufs[p->scratch_fwd[i]]);
        if (p->scratch_bwd[i] >= 0) p->scratch_bwd_expr[i] = region_expr(&p->bufs[p->scratch_bwd[i]]);
    }
    for (int i = 0; i < g->nparams; i++) {
        p->param_expr[i] = xasprintf("P(P_%s)", g->params[i].cname);
        p->pgrad_expr[i] = xasprintf("G(P_%s)", g->params[i].cname);
    }
}


int plan_build(Plan *p, const IrGraph *g) {
    size_t nn = (size_t)g->nnodes, np = (size_t)g->nparams;
    memset(p, 0, sizeof *p);
    p->g = g;
    p->val = xmalloc(nn * sizeof *p->val);
    p->grad = xmalloc(nn * sizeof *p->grad);
    p->stats = xmalloc(nn * sizeof *p->stats);
    p->scratch_fwd = xmalloc(nn * sizeof *p->scratch_fwd);
    p->scratch_bwd = xmalloc(nn * sizeof *p->scratch_bwd);
    for (size_t i = 0; i < nn; i++)
        p->val[i] = p->grad[i] = p->stats[i] = p->scratch_fwd[i] = p->scratch_bwd[i] = -1;
    p->val_expr = xcalloc(nn, sizeof(char *));
    p->grad_expr = xcalloc(nn, sizeof(char *));
    p->stat_expr = xcalloc(nn, sizeof(char *));
    p->scratch_fwd_expr = xcalloc(nn, sizeof(char *));
    p->scratch_bwd_expr = xcalloc(nn, sizeof(char *));
    p->param_expr = xcalloc(np, sizeof(char *));
    p->pgrad_expr = xcalloc(np, sizeof(char *));
    make_buffers(p);
    make_steps(p);
    p->per_sample = place_batch(p);
    p->fixed = place_fixed(p);
    if (p->per_sample > IR_MAX_ELEMS || p->fixed > IR_MAX_ELEMS) {
        diag_error(g->model_loc, "model needs %lld floats of arena per sample, more than %d",
                   (long long)p->per_sample, IR_MAX_ELEMS);
        return -1;
    }
    make_exprs(p);
    return 0;
}

void plan_free(Plan *p) {
    for (int i = 0; i < p->nbufs; i++) free(p->bufs[i].cname);
    for (int i = 0; p->g && i < p->g->nnodes; i++) {
        free(p->val_expr[i]);
        free(p->grad_expr[i]);
        free(p->stat_expr[i]);
        free(p->scratch_fwd_expr[i]);
        free(p->scratch_bwd_expr[i]);
    }
    for (int i = 0; p->g && i < p->g->nparams; i++) {
        free(p->param_expr[i]);
        free(p->pgrad_expr[i]);
    }
    free(p->val_expr); free(p->grad_expr); free(p->stat_expr);
    free(p->param_expr); free(p->pgrad_expr);
    free(p->scratch_fwd_expr); free(p->scratch_bwd_expr); free(p->scratch_fwd); free(p->scratch_bwd);
    free(p->bufs); free(p->steps); free(p->val); free(p->grad); free(p->stats);
    memset(p, 0, sizeof *p);
}
