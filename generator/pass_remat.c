/*
** pass_remat.c: batchnorm + relu outputs recomputed in backward.
**
** relu(batchnorm(x)) is kept from forward to backward only for the layer
** reading it (a convolution's weight gradient) and for batchnorm's own
** backward (the relu's mask), while x is kept anyway: batchnorm's backward
** reads it. In a dense block these outputs, normalised copies of the
** concatenation so far, grow with the square of the block's depth. As
** Pleiss et al. 2017 ("Memory-Efficient Implementation of DenseNets") do,
** such an output is not kept: just before backward first reads it, one
** call recomputes it from x and the saved statistics, into a buffer that
** lives only until its last backward reader. The recomputation gives the
** forward's bits (rt_batchnorm_relu_recompute), so results do not change;
** it costs one elementwise pass per layer.
**
** Applies to a fused batchnorm + relu in training without a residual (one
** would have to be kept instead) whose output is a dense buffer of its own.
*/
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* parent[b]: whether some buffer is a slice of b. */
static char *parents(const KProgram *p) {
    char *is = xcalloc((size_t)p->nbufs + 1, 1);
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].parent >= 0) is[p->bufs[i].parent] = 1;
    return is;
}

/* k: the program's counts before the pass (its renames and new buffers do
** not change what this checks). */
static int candidate(const KProgram *p, const KCall *c, const KCounts *k, const char *parent) {
    int y;
    if (c->k != K_BATCHNORM_RELU_FORWARD_TRAIN || c->args[6].kind != ARG_NULL) return 0;
    y = c->args[0].ref;
    return p->bufs[y].parent < 0 && !parent[y] &&
           k->any[y] - k->reads[y] == 2;   /* written by its training and evaluation calls only */
}

/* The recomputation of fused call f's output into r, placed before call j
** of backward, whose layer block it joins. */
static void insert_recompute(KProgram *p, const KCall *f, int j, int r) {
    KCall c = p->bwd.v[j];
    memset(&c.args, 0, sizeof c.args);
    c.k = K_BATCHNORM_RELU_RECOMPUTE;
    c.nargs = 8;
    c.args[0] = karg_buf(r, ACC_WRITE);
    c.args[1] = f->args[5];    /* inp */
    c.args[2] = f->args[1];    /* mean, as saved */
    c.args[3] = f->args[2];    /* rstd */
    c.args[2].access = c.args[3].access = ACC_READ;
    c.args[4] = f->args[7];    /* gamma */
    c.args[5] = f->args[8];    /* beta */
    c.args[6] = f->args[9];    /* n */
    c.args[7] = f->args[10];   /* geometry */
    c.guard = 0;
    c.nalso = 0;
    c.also[c.nalso++] = f->node;
    for (int k = 0; k < f->nalso && c.nalso < KIR_MAX_ALSO; k++) c.also[c.nalso++] = f->also[k];
    p->bwd.v[j].opens = OPEN_NONE;
    klist_insert(&p->bwd, j, &c);
}

int pass_remat(KProgram *p) {
    int done = 0;
    char *parent = parents(p);
    KCounts k;
    kcounts_build(&k, p);
    for (int i = 0; i < p->fwd.n; i++) {
        KCall f = p->fwd.v[i];
        int y, r, j;
        char *name;
        if (!candidate(p, &f, &k, parent)) continue;
        y = f.args[0].ref;
        j = klist_next_use(&p->bwd, 0, y, KIR_ANY);
        if (j < 0) continue;
        name = xasprintf("R%s", p->bufs[y].cname);
        r = kprog_new_buffer(p, BUF_VALUE, name, p->bufs[y].node, REGION_BATCH,
                             p->bufs[y].floats);
        free(name);
        for (int k = j; k < p->bwd.n; k++)
            for (int a = 0; a < p->bwd.v[k].nargs; a++)
                if (p->bwd.v[k].args[a].kind == ARG_BUF && p->bwd.v[k].args[a].ref == y)
                    p->bwd.v[k].args[a].ref = r;
        insert_recompute(p, &f, j, r);
        done++;
    }
    kcounts_free(&k);
    free(parent);
    kprog_layout(p, p->geoms, p->ngeoms, 1);
    return done;
}
