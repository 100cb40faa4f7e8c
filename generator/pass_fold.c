/*
** pass_fold.c: deployment builds: each evaluation-mode batchnorm that
** alone reads a convolution's or linear layer's output folded into that
** layer's weights and bias, and the parameters renumbered into a table of
** their own (DParam, kir.h), in the order the program first reads them.
**
**   layer -> bn              the layer, folded, writes the batchnorm's
**                            output; the batchnorm's call is gone
**   layer -> relu(bn (+res)) the layer, folded, writes its own output and
**                            a relu (add + relu) makes the batchnorm's
**
** pass_epilogue then moves that relu (and add) into a direct convolution.
** A deployment build has no lesion switches either: they go first.
** The folded weights (rt_fold.c) round differently from a convolution
** followed by a batchnorm, so outputs move by rounding only. Both tensors
** must be dense, as the layer's geometry describes the batchnorm's output.
*/
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* What one folded layer's weight and bias are made of. */
typedef struct {
    int w, b;          /* the layer's weight and bias (-1: none) */
    int bn[4];         /* gamma, beta, running mean, running var */
    float eps;
} Fold;

/* The argument holding a layer's weight (its bias follows), or -1 for
** calls of other kernels. */
static int weight_slot(KernelId k) {
    switch (k) {
    case K_CONV2D_FORWARD:
    case K_CONV2D_DIRECT_FORWARD: return 3;
    case K_LINEAR_FORWARD: return 2;
    default: return -1;
    }
}

/* The batchnorm call bn (eval: out inp gamma beta rm rv n geom eps, relu
** eval: out inp res gamma ...) as what is left of it once folded into the
** layer writing buffer b: a relu or add + relu of b, or nothing (NULL). */
static int rest_of(KCall *rest, const KCall *bn, int b, int64_t len) {
    KArg res = bn->args[2];
    if (bn->k == K_BATCHNORM_FORWARD_EVAL) return 0;
    *rest = *bn;
    rest->args[1] = karg_buf(b, ACC_READ);
    if (res.kind == ARG_NULL) {
        rest->k = K_RELU_FORWARD;
        rest->args[2] = karg_len(len);
        rest->nargs = 3;
    } else {
        rest->k = K_ADD_RELU_FORWARD;
        rest->args[2] = res;
        rest->args[3] = karg_len(len);
        rest->nargs = 4;
    }
    return 1;
}

static int new_dparam(KProgram *p, char *name, DParamKind kind, int src, int ndim,
                      const int *shape, int64_t len) {
    DParam *d;
    p->dparams = xrealloc(p->dparams, (size_t)(p->ndparams + 1) * sizeof *p->dparams);
    d = &p->dparams[p->ndparams];
    memset(d, 0, sizeof *d);
    d->name = name;
    d->cname = ir_cname(name);
    d->kind = kind;
    d->src = src;
    d->pair = -1;
    d->ndim = ndim;
    memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    d->len = len;
    d->offset = p->num_dparams;
    p->num_dparams += len;
    return p->ndparams++;
}

/* The folded weight and bias of the layer c computes, as two new entries. */
static void fold_params(KProgram *p, KCall *c, const Fold *f) {
    const IrParam *w = &p->g->params[f->w];
    const IrNode *n = p->g->nodes[c->node];
    int slot = weight_slot(c->k), wi, bi;
    wi = new_dparam(p, xstrdup(w->name), DP_FOLD_WEIGHT, f->w, w->ndim, w->shape, w->len);
    bi = new_dparam(p, f->b >= 0 ? xstrdup(p->g->params[f->b].name)
                                 : xasprintf("%s.bias", n->name),
                    DP_FOLD_BIAS, f->b, 1, w->shape, w->shape[0]);
    for (int k = 0; k < 2; k++) {
        DParam *d = &p->dparams[k ? bi : wi];
        d->pair = k ? wi : bi;
        memcpy(d->bn, f->bn, sizeof d->bn);
        d->eps = f->eps;
    }
    c->args[slot] = karg_param(wi, ACC_READ);
    c->args[slot + 1] = karg_param(bi, ACC_READ);
}

/* Every parameter argument renumbered into the deployment table: folded
** layers' as their new entries, every other one as a copy, made on first
** use. */
static void renumber(KProgram *p, const Fold *fold) {
    int *copy = xmalloc((size_t)(p->g->nparams ? p->g->nparams : 1) * sizeof *copy);
    for (int i = 0; i < p->g->nparams; i++) copy[i] = -1;
    for (int i = 0; i < p->fwd.n; i++) {
        KCall *c = &p->fwd.v[i];
        if (weight_slot(c->k) >= 0 && fold[c->node].w >= 0) {
            fold_params(p, c, &fold[c->node]);
            continue;
        }
        for (int a = 0; a < c->nargs; a++) {
            KArg *arg = &c->args[a];
            if (arg->kind != ARG_PARAM) continue;
            if (copy[arg->ref] < 0) {
                const IrParam *q = &p->g->params[arg->ref];
                copy[arg->ref] = new_dparam(p, xstrdup(q->name), DP_COPY, arg->ref, q->ndim,
                                            q->shape, q->len);
            }
            arg->ref = copy[arg->ref];
        }
    }
    free(copy);
}

/* A deployment build has no lesion switches: a residual add's dropped
** path goes, the kept one runs unguarded. */
static void drop_switches(KList *l) {
    for (int i = 0; i < l->n; i++) {
        if (l->v[i].guard & G_DROP) klist_drop(l, i--);
        else l->v[i].guard &= ~(unsigned)G_KEEP;
    }
}

int pass_fold(KProgram *p) {
    KList *l = &p->fwd;
    Fold *fold = xmalloc((size_t)p->g->nnodes * sizeof *fold);
    KCounts k;
    int folded = 0;
    for (int i = 0; i < p->g->nnodes; i++) fold[i].w = -1;
    drop_switches(l);
    kcounts_build(&k, p);
    for (int i = 0; i < l->n; i++) {
        KCall *c = &l->v[i], rest;
        const KCall *bn;
        int slot = weight_slot(c->k), b = c->args[0].ref, r, o;
        if (slot < 0 || c->guard != 0 || !kbuf_dense(p, b)) continue;
        r = klist_sole_reader(&k, l, i, b);
        if (r < 0 || k.any[b] != 2) continue;
        bn = &l->v[r];
        if ((bn->k != K_BATCHNORM_FORWARD_EVAL && bn->k != K_BATCHNORM_RELU_FORWARD_EVAL) ||
            bn->args[1].ref != b || !kbuf_dense(p, bn->args[0].ref))
            continue;
        o = bn->k == K_BATCHNORM_RELU_FORWARD_EVAL ? 3 : 2;
        Fold *f = &fold[c->node];
        f->w = c->args[slot].ref;
        f->b = c->args[slot + 1].kind == ARG_PARAM ? c->args[slot + 1].ref : -1;
        for (int a = 0; a < 4; a++) f->bn[a] = bn->args[o + a].ref;
        f->eps = bn->args[o + 6].f;
        kcounts_call(&k, c, -1);
        kcounts_call(&k, bn, -1);
        if (rest_of(&rest, bn, b, shape_numel(p->g->nodes[bn->node]->shape))) {
            l->v[r] = rest;
            kcounts_call(&k, &l->v[r], +1);
        } else {
            c->args[0] = bn->args[0];
            if (c->nalso < KIR_MAX_ALSO) c->also[c->nalso++] = bn->node;
            klist_drop(l, r);
        }
        kcounts_call(&k, c, +1);
        folded++;
    }
    kcounts_free(&k);
    renumber(p, fold);
    free(fold);
    return folded;
}
