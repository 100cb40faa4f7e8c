/*
** pass_epilogue.c: the inference program's batchnorms, residual adds and
** relus moved into the direct convolutions before them.
**
** A direct convolution whose output only an evaluation-mode batchnorm
** reads (alone, or with the relu and residual add pass_fuse gave it), or
** only a relu or add + relu (what pass_fold leaves of a folded batchnorm)
** becomes one call that applies them to each output while it is still in
** registers: the convolution's output tensor and one pass over memory are
** gone. The fused kernels round as the separate ones do, so predictions
** do not change by a bit.
**
** The call takes the reader's place (after a drop switch, whose
** relu(identity) then runs without the convolution, as nothing else reads
** it) and its guard. Both tensors must be dense: the fused kernel writes
** the reader's output with the convolution's geometry.
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

/*
** The fused call of conv and rd, a relu (out inp len) or add + relu (out
** a b len) of conv's output b, as
**     out col inp w b res n geom relu
** or a call of no kernel (K_NONE) if rd is neither.
*/
static KCall fused_relu(const KCall *conv, const KCall *rd, int b) {
    KCall f = *rd;
    f.k = K_NONE;
    if (rd->k == K_RELU_FORWARD && rd->args[1].ref == b)
        f.args[5] = karg_null();
    else if (rd->k == K_ADD_RELU_FORWARD && (rd->args[1].ref == b) != (rd->args[2].ref == b))
        f.args[5] = rd->args[rd->args[1].ref == b ? 2 : 1];
    else
        return f;
    f.k = K_CONV2D_DIRECT_FUSED;
    f.args[0] = rd->args[0];
    for (int a = 1; a < 5; a++) f.args[a] = conv->args[a];          /* col inp w b */
    f.args[6] = conv->args[5];
    f.args[7] = conv->args[6];
    f.args[8] = karg_int(1);
    f.nargs = 9;
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
        const KCall *c = &l->v[i], *rd;
        KCall f;
        int b = c->args[0].ref, r;
        if (c->k != K_CONV2D_DIRECT_FORWARD || c->guard != 0 || !kbuf_dense(p, b) ||
            conv_outputs(p, c) > RT_DCONV_BN_MAX_CHANNELS)
            continue;
        r = klist_sole_reader(&k, l, i, b);
        if (r < 0 || k.any[b] != 2) continue;
        rd = &l->v[r];
        if (!kbuf_dense(p, rd->args[0].ref) || klist_written_between(l, i, r, c->args[2].ref) ||
            rd->nalso == KIR_MAX_ALSO)
            continue;
        if ((rd->k == K_BATCHNORM_FORWARD_EVAL || rd->k == K_BATCHNORM_RELU_FORWARD_EVAL) &&
            rd->args[1].ref == b)
            f = fused_call(c, rd);
        else if ((f = fused_relu(c, rd, b)).k == K_NONE)
            continue;
        kcounts_call(&k, c, -1);
        kcounts_call(&k, rd, -1);
        kcounts_call(&k, &f, +1);
        l->v[r] = f;
        klist_drop(l, i);
        i--;
        fused++;
    }
    kcounts_free(&k);
    return fused;
}
