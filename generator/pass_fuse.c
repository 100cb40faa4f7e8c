/*
** pass_fuse.c: elementwise fusion around batchnorm.
**
** Forward, a batchnorm whose output only a relu reads becomes one call
** computing relu(bn(x)); one whose output only a two-input residual add
** reads, itself read only by a relu, becomes relu(bn(x) + identity), the
** add's drop switch becoming relu(identity). Backward, a relu whose input
** gradient only a batchnorm's backward reads is folded into it. Each fused
** kernel rounds as the separate ones do, so results do not change; the
** intermediate tensors and their passes over memory are gone.
**
** With the add fused, a training forward that drops a block (lesion
** studies evaluate; training never drops) no longer runs that block's
** batchnorm, so its running statistics stay as they were.
*/
#include "passes.h"

#include <string.h>


/* Takes calls [i, i + n) of l out of the counts (sign -1) or back (+1). */
static void tally(KCounts *k, const KList *l, int i, int n, int sign) {
    for (int j = i; j < i + n; j++) kcounts_call(k, &l->v[j], sign);
}

static void add_also(KCall *c, int node) {
    if (c->nalso < KIR_MAX_ALSO) c->also[c->nalso++] = node;
}

/* A batchnorm's training and evaluation calls as the fused kernel's, with
** output out and residual res (an ARG_NULL for none). */
static void fuse_bn(KCall *train, KCall *eval, KArg out, KArg res) {
    KCall t = *train, e = *eval;
    /* train: out mean rstd rm rv inp gamma beta n geom momentum eps */
    t.k = K_BATCHNORM_RELU_FORWARD_TRAIN;
    t.args[0] = out;
    memcpy(&t.args[7], &train->args[6], 6 * sizeof(KArg));
    t.args[6] = res;
    t.nargs = 13;
    /* eval: out inp gamma beta rm rv n geom eps */
    e.k = K_BATCHNORM_RELU_FORWARD_EVAL;
    e.args[0] = out;
    memcpy(&e.args[3], &eval->args[2], 7 * sizeof(KArg));
    e.args[2] = res;
    e.nargs = 10;
    *train = t;
    *eval = e;
}

/* relu(bn(x)): calls i, i+1 are the batchnorm's, r its relu. */
static void fuse_bn_relu(KCounts *k, KList *l, int i, int r) {
    KCall relu = l->v[r];
    tally(k, l, i, 2, -1);
    tally(k, l, r, 1, -1);
    fuse_bn(&l->v[i], &l->v[i + 1], relu.args[0], karg_null());
    add_also(&l->v[i], relu.node);
    add_also(&l->v[i + 1], relu.node);
    tally(k, l, i, 2, +1);
    klist_remove(l, r);
}

/*
** relu(bn(x) + identity): calls i, i+1 are the batchnorm's, r-1 and r the
** add's (drop switch, sum), q the relu. The fused calls take the sum's
** place, after the drop switch, which becomes relu(identity).
*/
static void fuse_bn_add_relu(KCounts *k, KList *l, int i, int r, int q, int bn_arg) {
    KCall train = l->v[i], eval = l->v[i + 1], relu = l->v[q], *drop = &l->v[r - 1];
    KArg identity = l->v[r].args[bn_arg == 1 ? 2 : 1];
    unsigned keep = l->v[r].guard;
    tally(k, l, i, 2, -1);
    tally(k, l, r - 1, 2, -1);
    tally(k, l, q, 1, -1);
    fuse_bn(&train, &eval, relu.args[0], identity);
    train.node = eval.node = l->v[r].node;
    train.t = eval.t = l->v[r].t;
    train.opens = eval.opens = OPEN_NONE;
    train.guard = keep | G_TRAIN;
    eval.guard = keep | G_EVAL;
    train.nalso = eval.nalso = 0;
    add_also(&train, l->v[i].node); add_also(&train, relu.node);
    add_also(&eval, l->v[i].node); add_also(&eval, relu.node);
    drop->k = K_RELU_FORWARD;
    drop->args[0] = relu.args[0];
    add_also(drop, relu.node);
    kcounts_call(k, drop, +1);
    kcounts_call(k, &train, +1);
    kcounts_call(k, &eval, +1);
    l->v[r] = train;
    klist_remove(l, q);
    klist_insert(l, r + 1, &eval);
    klist_remove(l, i + 1);
    klist_remove(l, i);
}

/* Forward: returns the fusions made. */
static int fuse_forward(KProgram *p, KCounts *k) {
    KList *l = &p->fwd;
    int fused = 0;
    for (int i = 0; i + 1 < l->n; i++) {
        const KCall *c = &l->v[i];
        int b, r, q, a;
        if (c->k != K_BATCHNORM_FORWARD_TRAIN || l->v[i + 1].k != K_BATCHNORM_FORWARD_EVAL)
            continue;
        b = c->args[0].ref;
        r = klist_sole_reader(k, l, i + 1, b);
        if (r < 0 || k->any[b] != 3) continue;
        if (l->v[r].k == K_RELU_FORWARD && l->v[r].guard == 0) {
            fuse_bn_relu(k, l, i, r);
            fused++;
            continue;
        }
        /* a two-input add: its drop switch just before it, no third input after */
        if (l->v[r].k != K_ADD_FORWARD || !(l->v[r].guard & G_KEEP) || l->v[r - 1].k != K_COPY ||
            (r + 1 < l->n && (l->v[r + 1].guard & G_KEEP) && l->v[r + 1].node == l->v[r].node))
            continue;
        a = l->v[r].args[0].ref;
        q = klist_sole_reader(k, l, r, a);
        if (q < 0 || k->any[a] != 3 || l->v[q].k != K_RELU_FORWARD ||
            l->v[q].guard != 0)
            continue;
        fuse_bn_add_relu(k, l, i, r, q, l->v[r].args[1].ref == b ? 1 : 2);
        fused++;
        i--;   /* the call now at i has not been looked at */
    }
    return fused;
}


/* Backward: a relu's backward folded into the batchnorm's before it. */
static int fuse_backward(KProgram *p, KCounts *k) {
    KList *l = &p->bwd;
    int fused = 0;
    for (int i = 0; i < l->n; i++) {
        const KCall *relu = &l->v[i];
        KCall f;
        int d, j;
        if (relu->k != K_RELU_BACKWARD || relu->args[0].access != ACC_WRITE || relu->args[0].if_dx)
            continue;
        d = relu->args[0].ref;
        /* the next reader a batchnorm's backward (cheap), then the only one */
        j = klist_next_use(l, i + 1, d, KIR_READS);
        if (j < 0 || l->v[j].k != K_BATCHNORM_BACKWARD) continue;
        j = klist_sole_reader(k, l, i, d);
        if (j < 0 || k->any[d] != 2 || l->v[j].k != K_BATCHNORM_BACKWARD ||
            l->v[j].args[3].ref != d || l->v[j].guard != relu->guard ||
            klist_written_between(l, i, j, relu->args[1].ref) ||
            klist_written_between(l, i, j, relu->args[2].ref))
            continue;
        /* bn: dinp dgamma dbeta dout inp mean rstd gamma n geom */
        f = l->v[j];
        f.k = K_BATCHNORM_RELU_BACKWARD;
        f.args[3] = relu->args[1];
        f.args[4] = relu->args[2];
        memcpy(&f.args[5], &l->v[j].args[4], 6 * sizeof(KArg));
        f.nargs = 11;
        add_also(&f, relu->node);
        tally(k, l, i, 1, -1);
        tally(k, l, j, 1, -1);
        l->v[j] = f;
        tally(k, l, j, 1, +1);
        klist_remove(l, i);
        i--;
        fused++;
    }
    return fused;
}

int pass_fuse(KProgram *p) {
    KCounts k;
    int fused;
    kcounts_build(&k, p);
    fused = fuse_forward(p, &k);
    fused += fuse_backward(p, &k);
    kcounts_free(&k);
    return fused;
}
