/*
** pass_epilogue.c: the inference program's batchnorms moved into the
** convolutions before them.
**
** A direct convolution whose output only an evaluation-mode batchnorm
** reads (alone, or with the relu and residual add pass_fuse gave it)
** becomes one call that applies the batchnorm to each output while it is
** still in registers: the convolution's output tensor and one pass over
** memory are gone. The fused kernel rounds as the separate ones do, so
** predictions do not change by a bit.
**
** The call takes the batchnorm's place (after a drop switch, whose
** relu(identity) then runs without the convolution, as nothing else reads
** it) and its guard. Both tensors must be dense: the fused kernel writes
** the batchnorm's output with the convolution's geometry.
*/
#include "passes.h"
#include "rt_geom.h"

/*
** The fused call: conv (out col inp w b n geom) then bn, either eval (out
** inp gamma beta rm rv n geom eps) or relu eval (out inp res gamma beta rm
** rv n geom eps), as
**     out col inp w b res gamma beta rm rv n conv-geom eps relu
*/
static KCall fused_call(const KCall *conv, const KCall *bn) {
    int relu = bn->k == K_BATCHNORM_RELU_FORWARD_EVAL, o = relu ? 3 : 2;
    KCall f = *bn;
    f.k = K_CONV2D_DIRECT_BN_EVAL;
    f.args[0] = bn->args[0];
    for (int a = 1; a < 5; a++) f.args[a] = conv->args[a];          /* col inp w b */
    f.args[5] = relu ? bn->args[2] : karg_null();
    for (int a = 0; a < 4; a++) f.args[6 + a] = bn->args[o + a];   /* gamma beta rm rv */
    f.args[10] = conv->args[5];
    f.args[11] = conv->args[6];
    f.args[12] = bn->args[o + 6];
    f.args[13] = karg_int(relu);
    f.nargs = 14;
    if (f.nalso < KIR_MAX_ALSO) f.also[f.nalso++] = conv->node;
    return f;
}

/* The output channels of convolution call c, from its node's shape. */
static int conv_outputs(const KProgram *p, const KCall *c) {
    return c->node >= 0 && c->node < p->g->nnodes ? p->g->nodes[c->node]->shape.d[0] : 0;
}

int pass_epilogue(KProgram *p) {
    KList *l = &p->fwd;
    KCounts k;
    int fused = 0;
    kcounts_build(&k, p);
    for (int i = 0; i < l->n; i++) {
        const KCall *c = &l->v[i], *bn;
        int b = c->args[0].ref, r;
        if (c->k != K_CONV2D_DIRECT_FORWARD || c->guard != 0 || !kbuf_dense(p, b) ||
            conv_outputs(p, c) > RT_DCONV_BN_MAX_CHANNELS)
            continue;
        r = klist_sole_reader(&k, l, i, b);
        if (r < 0 || k.any[b] != 2) continue;
        bn = &l->v[r];
        if ((bn->k != K_BATCHNORM_FORWARD_EVAL && bn->k != K_BATCHNORM_RELU_FORWARD_EVAL) ||
            bn->args[1].ref != b || !kbuf_dense(p, bn->args[0].ref) ||
            klist_written_between(l, i, r, c->args[2].ref) || bn->nalso == KIR_MAX_ALSO)
            continue;
        KCall f = fused_call(c, bn);
        kcounts_call(&k, c, -1);
        kcounts_call(&k, bn, -1);
        kcounts_call(&k, &f, +1);
        l->v[r] = f;
        klist_drop(l, i);
        i--;
        fused++;
    }
    kcounts_free(&k);
    return fused;
}
