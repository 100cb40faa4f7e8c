/*
** ops_lower.c: what each op computes, as kernel calls. Operands are the
** plan's buffers and the graph's parameters; dimensions are literals taken
** from the node's shape. Backward kernels accumulate into the gradients of
** their sources (ACC_ACCUM); passes may turn a first contribution into a
** write.
*/
#include "ops_lower.h"
#include "autodiff.h"
#include "ops.h"
#include "rt_geom.h"

static const IrNode *src_node(const Lower *l, int i) { return l->g->nodes[l->n->src[i]]; }
static int64_t numel(const Lower *l) { return shape_numel(l->n->shape); }

/* The node's value (written), a source's value (read), and the gradients. */
static KArg OUT(const Lower *l) { return karg_buf(l->p->val[l->n->id], ACC_WRITE); }
static KArg OUT_R(const Lower *l) { return karg_buf(l->p->val[l->n->id], ACC_READ); }
static KArg IN(const Lower *l, int i) { return karg_buf(l->p->val[l->n->src[i]], ACC_READ); }
static KArg DOUT(const Lower *l) { return karg_buf(l->p->grad[l->n->id], ACC_READ); }
static KArg DIN(const Lower *l, int i) { return karg_buf(l->p->grad[l->n->src[i]], ACC_ACCUM); }
static KArg PW(const Lower *l, int k) { return karg_param(l->n->param[k], ACC_READ); }
static KArg PG(const Lower *l, int k) { return karg_pgrad(l->n->param[k]); }
static KArg LEN(const Lower *l) { return karg_len(numel(l)); }
static KArg N(void) { return karg_batch(); }
static KArg I(int64_t v) { return karg_int(v); }

static KArg BIAS(const Lower *l) { return l->n->nparam > 1 ? PW(l, 1) : karg_null(); }
static KArg DBIAS(const Lower *l) { return l->n->nparam > 1 ? PG(l, 1) : karg_null(); }

static KArg scratch(const Lower *l, int backward) {
    int b = (backward ? l->p->scratch_bwd : l->p->scratch_fwd)[l->n->id];
    return b >= 0 ? karg_buf(b, ACC_WRITE) : karg_null();
}

/* {====================================================================
** Convolution and linear
** ===================================================================== */

/*
** Kernel choice: the direct kernels wherever they apply (rt_geom.h: 1x1
** and 3x3, one group, stride 1 with same padding or stride 2 forward); they
** beat im2col + sgemm on every such layer of the shipped networks (README,
** "Convolution kernels"). Everything else unfolds. direct_backward picks
** the backward's kernel instead of the forward's.
*/
static int conv_is_direct(const Lower *l, int backward) {
    const ConvArgs *a = &l->n->a.conv;
    Shape s = src_node(l, 0)->shape;
    return (backward ? rt_conv_direct_backward : rt_conv_is_direct)(a->k, a->stride, a->pad,
                                                                     a->groups, s.d[1], s.d[2]);
}

void lower_conv_fwd(Lower *l) {
    const ConvArgs *a = &l->n->a.conv;
    Shape s = src_node(l, 0)->shape;
    KGeom *gm = kprog_new_geom(l->p, "RtConv", l->n->id);
    int v[] = {s.d[0], s.d[1], s.d[2], a->out, a->k, a->stride, a->pad, a->groups,
               l->n->shape.d[1], l->n->shape.d[2]};
    for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++) gm->v[gm->nv++] = v[i];
    gm->xs = shape_numel(s);
    gm->ys = numel(l);
    if (conv_is_direct(l, 0))
        LOWER(l, K_CONV2D_DIRECT_FORWARD, OUT(l), scratch(l, 0), IN(l, 0), PW(l, 0), BIAS(l), N(),
              karg_geom(l->n->id));
    else
        LOWER(l, K_CONV2D_FORWARD, OUT(l), scratch(l, 0), IN(l, 0), PW(l, 0), BIAS(l), N(),
              karg_geom(l->n->id));
}

void lower_conv_bwd(Lower *l) {
    if (conv_is_direct(l, 1))
        LOWER(l, K_CONV2D_DIRECT_BACKWARD, DIN(l, 0), PG(l, 0), DBIAS(l), scratch(l, 1), DOUT(l),
              IN(l, 0), PW(l, 0), N(), karg_geom(l->n->id));
    else
        LOWER(l, K_CONV2D_BACKWARD, DIN(l, 0), PG(l, 0), DBIAS(l), scratch(l, 1), DOUT(l),
              IN(l, 0), PW(l, 0), N(), karg_geom(l->n->id));
}

void lower_linear_fwd(Lower *l) {
    LOWER(l, K_LINEAR_FORWARD, OUT(l), IN(l, 0), PW(l, 0), BIAS(l), N(),
          I(shape_numel(src_node(l, 0)->shape)), I(l->n->shape.d[0]));
}

void lower_linear_bwd(Lower *l) {
    LOWER(l, K_LINEAR_BACKWARD, DIN(l, 0), PG(l, 0), DBIAS(l), DOUT(l), IN(l, 0), PW(l, 0), N(),
          I(shape_numel(src_node(l, 0)->shape)), I(l->n->shape.d[0]));
}

/* }==================================================================== */

/* {====================================================================
** Batch normalisation: params are weight, bias, running_mean, running_var;
** the stats buffer holds the batch mean then 1/std per channel.
** ===================================================================== */

static KArg STAT(const Lower *l, int64_t off, Access a) {
    KArg k = karg_buf(l->p->stats[l->n->id], a);
    k.off = off;
    return k;
}

/* RtNorm: channels and values per channel; input and output are alike. */
static KArg norm_geom(Lower *l) {
    KGeom *gm = kprog_new_geom(l->p, "RtNorm", l->n->id);
    gm->v[gm->nv++] = l->n->shape.d[0];
    gm->v[gm->nv++] = (int)shape_hw(l->n->shape);
    gm->xs = gm->ys = numel(l);
    return karg_geom(l->n->id);
}

void lower_bn_fwd(Lower *l) {
    int ch = l->n->shape.d[0];
    unsigned guard = l->guard;
    KArg geom = norm_geom(l);
    l->guard = guard | G_TRAIN;
    LOWER(l, K_BATCHNORM_FORWARD_TRAIN, OUT(l), STAT(l, 0, ACC_WRITE), STAT(l, ch, ACC_WRITE),
          karg_param(l->n->param[2], ACC_ACCUM), karg_param(l->n->param[3], ACC_ACCUM), IN(l, 0),
          PW(l, 0), PW(l, 1), N(), geom, karg_float(l->n->a.norm.momentum),
          karg_float(l->n->a.norm.eps));
    l->guard = guard | G_EVAL;
    LOWER(l, K_BATCHNORM_FORWARD_EVAL, OUT(l), IN(l, 0), PW(l, 0), PW(l, 1), PW(l, 2), PW(l, 3),
          N(), geom, karg_float(l->n->a.norm.eps));
    l->guard = guard;
}

void lower_bn_bwd(Lower *l) {
    int ch = l->n->shape.d[0];
    LOWER(l, K_BATCHNORM_BACKWARD, DIN(l, 0), PG(l, 0), PG(l, 1), DOUT(l), IN(l, 0),
          STAT(l, 0, ACC_READ), STAT(l, ch, ACC_READ), PW(l, 0), N(), karg_geom(l->n->id));
}

/* }==================================================================== */

/* {====================================================================
** Elementwise activations: the backward kernels of relu, sigmoid and tanh
** read the output, leaky_relu's the input (its sign is not the output's).
** ===================================================================== */

#define ACTIVATION(op, fwd, bwd)                                                   \
    void lower_##op##_fwd(Lower *l) { LOWER(l, fwd, OUT(l), IN(l, 0), LEN(l)); }   \
    void lower_##op##_bwd(Lower *l) { LOWER(l, bwd, DIN(l, 0), DOUT(l), OUT_R(l), LEN(l)); }

ACTIVATION(relu, K_RELU_FORWARD, K_RELU_BACKWARD)
ACTIVATION(sigmoid, K_SIGMOID_FORWARD, K_SIGMOID_BACKWARD)
ACTIVATION(tanh, K_TANH_FORWARD, K_TANH_BACKWARD)

void lower_leaky_fwd(Lower *l) {
    LOWER(l, K_LEAKY_RELU_FORWARD, OUT(l), IN(l, 0), karg_float(l->n->a.leaky.slope), LEN(l));
}

void lower_leaky_bwd(Lower *l) {
    LOWER(l, K_LEAKY_RELU_BACKWARD, DIN(l, 0), DOUT(l), IN(l, 0),
          karg_float(l->n->a.leaky.slope), LEN(l));
}

/* }==================================================================== */

/* {====================================================================
** Pooling and upsampling
** ===================================================================== */

static KArg pool_geom(Lower *l) {
    const PoolArgs *a = &l->n->a.pool;
    Shape s = src_node(l, 0)->shape;
    KGeom *gm = kprog_new_geom(l->p, "RtPool", l->n->id);
    int v[] = {s.d[0], s.d[1], s.d[2], a->k, a->stride, a->pad, l->n->shape.d[1],
               l->n->shape.d[2]};
    for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++) gm->v[gm->nv++] = v[i];
    gm->xs = shape_numel(s);
    gm->ys = numel(l);
    return karg_geom(l->n->id);
}

void lower_maxpool_fwd(Lower *l) { LOWER(l, K_MAXPOOL_FORWARD, OUT(l), IN(l, 0), N(), pool_geom(l)); }
void lower_avgpool_fwd(Lower *l) { LOWER(l, K_AVGPOOL_FORWARD, OUT(l), IN(l, 0), N(), pool_geom(l)); }

void lower_maxpool_bwd(Lower *l) {
    LOWER(l, K_MAXPOOL_BACKWARD, DIN(l, 0), DOUT(l), IN(l, 0), N(), karg_geom(l->n->id));
}

void lower_avgpool_bwd(Lower *l) {
    LOWER(l, K_AVGPOOL_BACKWARD, DIN(l, 0), DOUT(l), N(), karg_geom(l->n->id));
}

void lower_gap_fwd(Lower *l) {
    Shape s = src_node(l, 0)->shape;
    LOWER(l, K_GAP_FORWARD, OUT(l), IN(l, 0), N(), I(s.d[0]), I(shape_hw(s)));
}

void lower_gap_bwd(Lower *l) {
    Shape s = src_node(l, 0)->shape;
    LOWER(l, K_GAP_BACKWARD, DIN(l, 0), DOUT(l), N(), I(s.d[0]), I(shape_hw(s)));
}

void lower_upsample_fwd(Lower *l) {
    Shape s = src_node(l, 0)->shape;
    LOWER(l, K_UPSAMPLE_FORWARD, OUT(l), IN(l, 0), N(), I(s.d[0]), I(s.d[1]), I(s.d[2]),
          I(l->n->a.up.factor));
}

void lower_upsample_bwd(Lower *l) {
    Shape s = src_node(l, 0)->shape;
    LOWER(l, K_UPSAMPLE_BACKWARD, DIN(l, 0), DOUT(l), N(), I(s.d[0]), I(s.d[1]), I(s.d[2]),
          I(l->n->a.up.factor));
}

/* }==================================================================== */

/* {====================================================================
** The skips: add (identity path) and concat (feature reuse)
** ===================================================================== */

/* drop[k] switches residual add k to its identity input alone (lesion
** studies, in evaluation), without recompiling. */
void lower_add_fwd(Lower *l) {
    unsigned guard = l->guard;
    l->guard = guard | G_DROP;
    LOWER(l, K_COPY, OUT(l), IN(l, l->n->identity), LEN(l));
    l->guard = guard | G_KEEP;
    LOWER(l, K_ADD_FORWARD, OUT(l), IN(l, 0), IN(l, 1), LEN(l));
    for (int i = 2; i < l->n->nsrc; i++)
        LOWER(l, K_ACC, karg_buf(l->p->val[l->n->id], ACC_ACCUM), IN(l, i), LEN(l));
    l->guard = guard;
}

/* d(out)/d(input_i) is the identity for every input: each gets dout added. */
void lower_add_bwd(Lower *l) {
    for (int i = 0; i < l->n->nsrc; i++) LOWER(l, K_ACC, DIN(l, i), DOUT(l), LEN(l));
}

void lower_concat_fwd(Lower *l) {
    int off = 0;
    int64_t hw = shape_hw(l->n->shape);
    for (int i = 0; i < l->n->nsrc; i++) {
        int ci = src_node(l, i)->shape.d[0];
        LOWER(l, K_CONCAT_FORWARD, OUT(l), IN(l, i), N(), I(l->n->shape.d[0]), I(off), I(ci),
              I(hw));
        off += ci;
    }
}

/* Concat's backward is a slice: each input takes back its channels. */
void lower_concat_bwd(Lower *l) {
    int off = 0;
    int64_t hw = shape_hw(l->n->shape);
    for (int i = 0; i < l->n->nsrc; i++) {
        int ci = src_node(l, i)->shape.d[0];
        LOWER(l, K_CONCAT_BACKWARD, DIN(l, i), DOUT(l), N(), I(l->n->shape.d[0]), I(off), I(ci),
              I(hw));
        off += ci;
    }
}

/* }==================================================================== */

/* {====================================================================
** Elementwise product, and the gate of squeeze-and-excitation: b holds
** bhw = hw factors per channel (the same shape as a) or one (a gate)
** ===================================================================== */

/* n, c, hw of a, and b's values per channel. */
#define MUL_DIMS(l)                                                                \
    N(), I(l->n->shape.d[0]), I(shape_hw(l->n->shape)),                              \
        I(shape_numel(src_node(l, 1)->shape) / l->n->shape.d[0])

void lower_mul_fwd(Lower *l) { LOWER(l, K_MUL_FORWARD, OUT(l), IN(l, 0), IN(l, 1), MUL_DIMS(l)); }

void lower_mul_bwd(Lower *l) {
    LOWER(l, K_MUL_BACKWARD_A, DIN(l, 0), DOUT(l), IN(l, 1), MUL_DIMS(l));
    LOWER(l, K_MUL_BACKWARD_B, DIN(l, 1), DOUT(l), IN(l, 0), MUL_DIMS(l));
}

/* }==================================================================== */
