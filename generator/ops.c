/*
** ops.c: the op table and each op's shape rule. Shapes are checked as each
** node is built, so an error points at the spec line that made it.
*/
#include "ops.h"
#include "ops_lower.h"
#include "rt_geom.h"

#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, cap, __VA_ARGS__), -1)

static const IrNode *src(const IrGraph *g, const IrNode *n, int i) {
    return g->nodes[n->src[i]];
}

static Shape in_shape(const IrGraph *g, const IrNode *n) { return src(g, n, 0)->shape; }

/* Every dimension positive and bounded, the element count representable. */
static int check_shape(Shape s, const char *what, char *err, size_t cap) {
    int64_t numel = 1;
    for (int i = 0; i < s.rank; i++) {
        if (s.d[i] < 1 || s.d[i] > IR_MAX_DIM)
            return ERR("%s: dimension %d out of range (1..%d)", what, s.d[i], IR_MAX_DIM);
        if (mul_checked(numel, s.d[i], IR_MAX_ELEMS, &numel) != 0)
            return ERR("%s: tensor too large (more than %d elements per sample)", what,
                       IR_MAX_ELEMS);
    }
    return 0;
}

static int need_rank3(const IrGraph *g, const IrNode *n, const char *op, char *err, size_t cap) {
    char b[64];
    Shape s = in_shape(g, n);
    if (s.rank != 3)
        return ERR("%s expects a [C,H,W] tensor, got %s", op, shape_str(s, b, sizeof b));
    return 0;
}


/* {====================================================================
** Shape rules
** ===================================================================== */

static int infer_input(IrGraph *g, IrNode *n, char *err, size_t cap) {
    (void)g;
    return check_shape(n->shape, "input", err, cap);
}

static int param_or_fail(IrGraph *g, IrNode *n, const char *suffix, ParamKind k,
                         int ndim, const int *shape, int fan_in, char *err, size_t cap) {
    if (ir_param_new(g, n, suffix, k, ndim, shape, fan_in) < 0)
        return ERR("%s: parameter '%s' too large", op_names[n->op], suffix);
    return 0;
}


static int infer_conv2d(IrGraph *g, IrNode *n, char *err, size_t cap) {
    ConvArgs *a = &n->a.conv;
    Shape s = in_shape(g, n);
    int oh, ow;
    if (need_rank3(g, n, "conv2d", err, cap)) return -1;
    if (a->out < 1 || a->out > IR_MAX_DIM) return ERR("conv2d: out_channels %d out of range", a->out);
    if (a->k < 1 || a->k > IR_MAX_DIM) return ERR("conv2d: kernel %d out of range", a->k);
    if (a->stride < 1 || a->pad < 0 || a->pad > IR_MAX_DIM)
        return ERR("conv2d: stride %d / padding %d out of range", a->stride, a->pad);
    if (a->groups < 1 || s.d[0] % a->groups || a->out % a->groups)
        return ERR("conv2d: groups=%d must divide in_channels %d and out_channels %d",
                   a->groups, s.d[0], a->out);
    oh = shape_window_out(s.d[1], a->k, a->stride, a->pad);
    ow = shape_window_out(s.d[2], a->k, a->stride, a->pad);
    if (oh < 1 || ow < 1)
        return ERR("conv2d: kernel %d larger than padded input %dx%d (padding %d)", a->k,
                   s.d[1] + 2 * a->pad, s.d[2] + 2 * a->pad, a->pad);
    n->shape = shape3(a->out, oh, ow);
    if (check_shape(n->shape, "conv2d", err, cap)) return -1;
    {
        int cin = s.d[0] / a->groups, wshape[4] = {a->out, cin, a->k, a->k};
        int64_t fan = (int64_t)cin * a->k * a->k;
        if (fan > IR_MAX_ELEMS) return ERR("conv2d: weight too large");
        if (param_or_fail(g, n, "weight", PK_WEIGHT, 4, wshape, (int)fan, err, cap)) return -1;
        if (a->bias && param_or_fail(g, n, "bias", PK_BIAS, 1, &a->out, 0, err, cap)) return -1;
    }
    return 0;
}

static int infer_linear(IrGraph *g, IrNode *n, char *err, size_t cap) {
    LinearArgs *a = &n->a.linear;
    Shape s = in_shape(g, n);
    char b[64];
    if (s.rank != 1)
        return ERR("linear expects a vector, got %s; use flatten(x) first",
                   shape_str(s, b, sizeof b));
    if (a->out < 1 || a->out > IR_MAX_DIM) return ERR("linear: out_features %d out of range", a->out);
    n->shape = shape1(a->out);
    {
        int wshape[2] = {a->out, s.d[0]};
        if (param_or_fail(g, n, "weight", PK_WEIGHT, 2, wshape, s.d[0], err, cap)) return -1;
        if (a->bias && param_or_fail(g, n, "bias", PK_BIAS, 1, &a->out, 0, err, cap)) return -1;
    }
    return 0;
}

static int infer_flatten(IrGraph *g, IrNode *n, char *err, size_t cap) {
    (void)err; (void)cap;
    n->shape = shape1((int)shape_numel(in_shape(g, n)));
    return 0;
}

static int infer_batchnorm(IrGraph *g, IrNode *n, char *err, size_t cap) {
    int c = in_shape(g, n).d[0];
    const NormArgs *a = &n->a.norm;
    if (!(a->momentum >= 0 && a->momentum <= 1 && a->eps > 0))
        return ERR("batchnorm: momentum must be in [0,1] and eps positive");
    n->shape = in_shape(g, n);
    if (param_or_fail(g, n, "weight", PK_BN_WEIGHT, 1, &c, 0, err, cap) ||
        param_or_fail(g, n, "bias", PK_BN_BIAS, 1, &c, 0, err, cap) ||
        param_or_fail(g, n, "running_mean", PK_RUNNING_MEAN, 1, &c, 0, err, cap) ||
        param_or_fail(g, n, "running_var", PK_RUNNING_VAR, 1, &c, 0, err, cap))
        return -1;
    return 0;
}

static int infer_same(IrGraph *g, IrNode *n, char *err, size_t cap) {
    (void)err; (void)cap;
    n->shape = in_shape(g, n);
    return 0;
}

static int infer_pool(IrGraph *g, IrNode *n, char *err, size_t cap) {
    PoolArgs *a = &n->a.pool;
    Shape s = in_shape(g, n);
    const char *op = op_names[n->op];
    int oh, ow;
    if (need_rank3(g, n, op, err, cap)) return -1;
    if (a->k < 1 || a->k > IR_MAX_DIM || a->stride < 1 || a->pad < 0 || a->pad > IR_MAX_DIM)
        return ERR("%s: kernel %d, stride %d, padding %d out of range", op, a->k, a->stride, a->pad);
    if (2 * a->pad > a->k)
        return ERR("%s: padding %d exceeds half the kernel %d", op, a->pad, a->k);
    oh = shape_window_out(s.d[1], a->k, a->stride, a->pad);
    ow = shape_window_out(s.d[2], a->k, a->stride, a->pad);
    if (oh < 1 || ow < 1)
        return ERR("%s: kernel %d larger than padded input %dx%d", op, a->k,
                   s.d[1] + 2 * a->pad, s.d[2] + 2 * a->pad);
    n->shape = shape3(s.d[0], oh, ow);
    return 0;
}

static int infer_global_avgpool(IrGraph *g, IrNode *n, char *err, size_t cap) {
    if (need_rank3(g, n, "global_avgpool", err, cap)) return -1;
    n->shape = shape1(in_shape(g, n).d[0]);
    return 0;
}

static int infer_add(IrGraph *g, IrNode *n, char *err, size_t cap) {
    char b1[64], b2[64];
    if (n->nsrc < 2) return ERR("add needs at least 2 inputs, got %d", n->nsrc);
    for (int i = 1; i < n->nsrc; i++)
        if (!shape_equal(src(g, n, i)->shape, in_shape(g, n)))
            return ERR("add: input %d has shape %s but input 1 has %s", i + 1,
                       shape_str(src(g, n, i)->shape, b1, sizeof b1),
                       shape_str(in_shape(g, n), b2, sizeof b2));
    n->shape = in_shape(g, n);
    return 0;
}

static int infer_concat(IrGraph *g, IrNode *n, char *err, size_t cap) {
    Shape s0;
    int64_t c = 0;
    char b[64];
    if (n->nsrc < 1) return ERR("concat needs at least 1 input");
    s0 = in_shape(g, n);
    for (int i = 0; i < n->nsrc; i++) {
        Shape s = src(g, n, i)->shape;
        if (s.rank != 3)
            return ERR("concat: input %d is %s, expected [C,H,W]", i + 1, shape_str(s, b, sizeof b));
        if (s.d[1] != s0.d[1] || s.d[2] != s0.d[2])
            return ERR("concat: input %d is %dx%d but input 1 is %dx%d (H and W must match)",
                       i + 1, s.d[1], s.d[2], s0.d[1], s0.d[2]);
        c += s.d[0];
    }
    if (c > IR_MAX_DIM) return ERR("concat: %lld channels out of range", (long long)c);
    n->shape = shape3((int)c, s0.d[1], s0.d[2]);
    return check_shape(n->shape, "concat", err, cap);
}

static int infer_upsample(IrGraph *g, IrNode *n, char *err, size_t cap) {
    Shape s = in_shape(g, n);
    int f = n->a.up.factor;
    if (need_rank3(g, n, "upsample", err, cap)) return -1;
    if (f < 1 || f > IR_MAX_DIM) return ERR("upsample: factor %d out of range", f);
    if ((int64_t)s.d[1] * f > IR_MAX_DIM || (int64_t)s.d[2] * f > IR_MAX_DIM)
        return ERR("upsample: output %lldx%lld too large", (long long)s.d[1] * f,
                   (long long)s.d[2] * f);
    n->shape = shape3(s.d[0], s.d[1] * f, s.d[2] * f);
    return check_shape(n->shape, "upsample", err, cap);
}

/* b multiplies a elementwise (the same shape) or as a gate, one factor per
** channel of a [C,H,W] ([C,1,1] or [C]); the product has a's shape. */
static int infer_mul(IrGraph *g, IrNode *n, char *err, size_t cap) {
    Shape a = in_shape(g, n), b = src(g, n, 1)->shape;
    char ba[64], bb[64];
    if (!shape_equal(a, b) && !shape_is_gate(a, b))
        return ERR("mul: input 2 is %s; expected %s or a gate [%d,1,1] or [%d]",
                   shape_str(b, bb, sizeof bb), shape_str(a, ba, sizeof ba), a.d[0], a.d[0]);
    n->shape = a;
    return 0;
}

/* }==================================================================== */

/* {====================================================================
** Scratch, cost and description
** ===================================================================== */

/* The runtime's own formula (rt_geom.h), so the plan gives the kernel the
** scratch it will use. */
static int64_t conv_col(const IrGraph *g, const IrNode *n, int backward) {
    const ConvArgs *a = &n->a.conv;
    Shape s = in_shape(g, n);
    int oh = n->shape.d[1], ow = n->shape.d[2];
    if (rt_conv_is_direct(a->k, a->stride, a->pad, a->groups, s.d[1], s.d[2]))
        return (int64_t)(backward
                             ? rt_conv_direct_col_floats(s.d[0], a->out, a->k, a->stride, oh, ow)
                             : rt_conv_direct_fwd_col_floats(s.d[0], a->k, a->stride, oh, ow));
    return (int64_t)rt_conv_col_floats(s.d[0], a->k, a->stride, a->pad, oh, ow);
}

static int64_t bn_stats(const IrGraph *g, const IrNode *n) {
    (void)g;
    return 2 * (int64_t)n->shape.d[0];   /* mean and 1/std per channel */
}

static double flops_conv(const IrGraph *g, const IrNode *n) {
    const ConvArgs *a = &n->a.conv;
    double macs = (double)shape_numel(n->shape) * (in_shape(g, n).d[0] / a->groups) * a->k * a->k;
    return 2 * macs;
}

static double flops_linear(const IrGraph *g, const IrNode *n) {
    return 2.0 * (double)shape_numel(in_shape(g, n)) * n->shape.d[0];
}

static double flops_elem(const IrGraph *g, const IrNode *n) {
    (void)g;
    return (double)shape_numel(n->shape) * (n->nsrc > 1 ? n->nsrc - 1 : 1);
}

static double flops_pool(const IrGraph *g, const IrNode *n) {
    (void)g;
    return (double)shape_numel(n->shape) * n->a.pool.k * n->a.pool.k;
}

static double flops_none(const IrGraph *g, const IrNode *n) { (void)g; (void)n; return 0; }

static void desc_plain(const IrGraph *g, const IrNode *n, char *buf, size_t cap) {
    (void)g;
    snprintf(buf, cap, "%s", op_names[n->op]);
}

static void desc_conv(const IrGraph *g, const IrNode *n, char *buf, size_t cap) {
    const ConvArgs *a = &n->a.conv;
    (void)g;
    snprintf(buf, cap, "conv2d %dx%d stride %d pad %d%s%s", a->k, a->k, a->stride, a->pad,
             a->groups > 1 ? " grouped" : "", a->bias ? "" : " no bias");
}

static void desc_pool(const IrGraph *g, const IrNode *n, char *buf, size_t cap) {
    (void)g;
    snprintf(buf, cap, "%s %dx%d stride %d pad %d", op_names[n->op], n->a.pool.k,
             n->a.pool.k, n->a.pool.stride, n->a.pool.pad);
}

static void desc_leaky(const IrGraph *g, const IrNode *n, char *buf, size_t cap) {
    (void)g;
    snprintf(buf, cap, "leaky_relu slope %g", (double)n->a.leaky.slope);
}

static void desc_up(const IrGraph *g, const IrNode *n, char *buf, size_t cap) {
    (void)g;
    snprintf(buf, cap, "upsample nearest x%d", n->a.up.factor);
}

/* }==================================================================== */

/* {====================================================================
** Spec call arguments (after the tensor), for the ops bound to l_args
** ===================================================================== */

static const OpArg conv_args[] = {
    {"out_channels", OA_INT, 1, 0, -1, OP_ARG(conv.out)},
    {"kernel", OA_INT, 1, 0, -1, OP_ARG(conv.k)},
    {"stride", OA_INT, 0, 1, -1, OP_ARG(conv.stride)},
    {"padding", OA_INT, 0, 0, -1, OP_ARG(conv.pad)},
    {"groups", OA_INT, 0, 1, -1, OP_ARG(conv.groups)},
    {"bias", OA_BOOL, 0, 1, -1, OP_ARG(conv.bias)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

static const OpArg linear_args[] = {
    {"out_features", OA_INT, 1, 0, -1, OP_ARG(linear.out)},
    {"bias", OA_BOOL, 0, 1, -1, OP_ARG(linear.bias)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

static const OpArg norm_args[] = {
    {"momentum", OA_NUM, 0, 0.1, -1, OP_ARG(norm.momentum)},
    {"eps", OA_NUM, 0, 1e-5, -1, OP_ARG(norm.eps)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

static const OpArg leaky_args[] = {
    {"slope", OA_NUM, 2, 0.01, -1, OP_ARG(leaky.slope)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

static const OpArg pool_args[] = {
    {"kernel", OA_INT, 1, 0, -1, OP_ARG(pool.k)},
    {"stride", OA_INT, 0, 0, 0, OP_ARG(pool.stride)},
    {"padding", OA_INT, 0, 0, -1, OP_ARG(pool.pad)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

static const OpArg upsample_args[] = {
    {"factor", OA_INT, 1, 0, -1, OP_ARG(up.factor)},
    {NULL, OA_INT, 0, 0, -1, 0},
};

/* }==================================================================== */

#define ELEM(fwd, bwd) infer_same, 0, NULL, NULL, flops_elem, desc_plain, fwd, bwd, NULL

const char *const op_names[OP_COUNT] = {
#define OP(id, name, prefix, bind, method, meta) name,
#include "ops.def"
#undef OP
};

const char *const op_prefixes[OP_COUNT] = {
#define OP(id, name, prefix, bind, method, meta) prefix,
#include "ops.def"
#undef OP
};

const OpInfo op_table[OP_COUNT] = {
    [OP_INPUT] = {infer_input, OPF_INPUT, NULL, NULL, flops_none, desc_plain, NULL, NULL, NULL},
    [OP_CONV2D] = {infer_conv2d, OPF_WEIGHTED, conv_col, NULL, flops_conv, desc_conv, lower_conv_fwd,
                   lower_conv_bwd, conv_args},
    [OP_LINEAR] = {infer_linear, OPF_WEIGHTED, NULL, NULL, flops_linear, desc_plain, lower_linear_fwd,
                   lower_linear_bwd, linear_args},
    [OP_FLATTEN] = {infer_flatten, OPF_VIEW, NULL, NULL, flops_none, desc_plain, NULL, NULL, NULL},
    [OP_BATCHNORM] = {infer_batchnorm, 0, NULL, bn_stats, flops_elem, desc_plain, lower_bn_fwd,
                      lower_bn_bwd, norm_args},
    [OP_RELU] = {ELEM(lower_relu_fwd, lower_relu_bwd)},
    [OP_LEAKY_RELU] = {infer_same, 0, NULL, NULL, flops_elem, desc_leaky, lower_leaky_fwd,
                       lower_leaky_bwd, leaky_args},
    [OP_SIGMOID] = {ELEM(lower_sigmoid_fwd, lower_sigmoid_bwd)},
    [OP_TANH] = {ELEM(lower_tanh_fwd, lower_tanh_bwd)},
    [OP_MAXPOOL] = {infer_pool, 0, NULL, NULL, flops_pool, desc_pool, lower_maxpool_fwd,
                    lower_maxpool_bwd, pool_args},
    [OP_AVGPOOL] = {infer_pool, 0, NULL, NULL, flops_pool, desc_pool, lower_avgpool_fwd,
                    lower_avgpool_bwd, pool_args},
    [OP_GLOBAL_AVGPOOL] = {infer_global_avgpool, 0, NULL, NULL, flops_elem, desc_plain,
                           lower_gap_fwd, lower_gap_bwd, NULL},
    [OP_ADD] = {infer_add, OPF_SKIP | OPF_RESIDUAL, NULL, NULL, flops_elem, desc_plain,
                lower_add_fwd, lower_add_bwd, NULL},
    [OP_CONCAT] = {infer_concat, OPF_SKIP, NULL, NULL, flops_none, desc_plain, lower_concat_fwd,
                   lower_concat_bwd, NULL},
    [OP_UPSAMPLE] = {infer_upsample, 0, NULL, NULL, flops_elem, desc_up, lower_upsample_fwd,
                     lower_upsample_bwd, upsample_args},
    [OP_MUL] = {infer_mul, 0, NULL, NULL, flops_elem, desc_plain, lower_mul_fwd, lower_mul_bwd,
                NULL},
};

OpKind ops_find(const char *name) {
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return (OpKind)i;
    return OP_COUNT;
}


int ops_has_code(const IrNode *n) { return n->live && op_table[n->op].lower_fwd != NULL; }

int ops_root(const IrGraph *g, int node) {
    while (op_table[g->nodes[node]->op].flags & OPF_VIEW) node = g->nodes[node]->src[0];
    return node;
}

int ops_is_layer(const IrNode *n) {
    return n->live && (n->nparam > 0 || (op_table[n->op].flags & OPF_SKIP));
}
