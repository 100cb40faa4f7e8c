/*
** ops_emit.c: what each op prints for its forward and backward step.
** Buffer expressions come from the plan (A(X_conv1), P(P_conv1_weight));
** dimensions are literals taken from the node's shape.
*/
#include "ops_emit.h"
#include "emit.h"
#include "plan.h"

#include <stdio.h>

static const IrNode *src_node(const OpCtx *c, int i) { return c->g->nodes[c->n->src[i]]; }
static const char *V(const OpCtx *c) { return c->plan->val_expr[c->n->id]; }
static const char *VS(const OpCtx *c, int i) { return c->plan->val_expr[c->n->src[i]]; }
static const char *D(const OpCtx *c) { return c->plan->grad_expr[c->n->id]; }
static const char *DS(const OpCtx *c, int i) { return c->plan->grad_expr[c->n->src[i]]; }
static const char *PW(const OpCtx *c, int k) { return c->plan->param_expr[c->n->param[k]]; }
static const char *PG(const OpCtx *c, int k) { return c->plan->pgrad_expr[c->n->param[k]]; }
static long long numel(const OpCtx *c) { return (long long)shape_numel(c->n->shape); }
static long long src_numel(const OpCtx *c, int i) { return (long long)shape_numel(src_node(c, i)->shape); }

/*
** The gradient argument for source i of a kernel that accepts NULL: a
** source upstream of every parameter only needs its gradient for dx.
*/
static const char *dinp(const OpCtx *c, int i, char *buf, size_t cap) {
    const IrNode *s = src_node(c, i);
    if (s->from_param || c->plan->bufs[c->plan->grad[s->id]].region == REGION_EXTERNAL)
        return DS(c, i);
    snprintf(buf, cap, "(dx ? %s : NULL)", DS(c, i));
    return buf;
}

/* Per-source gradient lines of add/concat need a guard in the same case,
** unless the whole step is already guarded. */
static const char *guard(const OpCtx *c, int i) {
    const IrNode *s = src_node(c, i);
    return c->n->from_param && !s->from_param ? "if (dx) " : "";
}

static const char *bias_or_null(const OpCtx *c, const char *(*f)(const OpCtx *, int)) {
    return c->n->nparam > 1 ? f(c, 1) : "NULL";
}

/* {====================================================================
** Convolution and linear
** ===================================================================== */

void emit_conv_decl(OpCtx *c) {
    const ConvArgs *a = &c->n->a.conv;
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "static const RtConv g_%s = {%d, %d, %d, %d, %d, %d, %d, %d, %d, %d};",
              c->n->cname, s.d[0], s.d[1], s.d[2], a->out, a->k, a->stride, a->pad, a->groups,
              c->n->shape.d[1], c->n->shape.d[2]);
}

static const char *col(const OpCtx *c, int backward) {
    const char *s = (backward ? c->plan->scratch_bwd_expr : c->plan->scratch_fwd_expr)[c->n->id];
    return s ? s : "NULL";
}

void emit_conv_fwd(OpCtx *c) {
    emit_line(c->e, "rt_conv2d_forward(%s, %s, %s, %s, %s, n, &g_%s);", V(c), col(c, 0), VS(c, 0),
              PW(c, 0), bias_or_null(c, PW), c->n->cname);
}

void emit_conv_bwd(OpCtx *c) {
    char b[256];
    emit_line(c->e, "rt_conv2d_backward(%s, %s, %s, %s, %s, %s, %s, n, &g_%s);",
              dinp(c, 0, b, sizeof b), PG(c, 0), bias_or_null(c, PG), col(c, 1), D(c), VS(c, 0),
              PW(c, 0), c->n->cname);
}

void emit_linear_fwd(OpCtx *c) {
    emit_line(c->e, "rt_linear_forward(%s, %s, %s, %s, n, %lld, %d);", V(c), VS(c, 0), PW(c, 0),
              bias_or_null(c, PW), src_numel(c, 0), c->n->shape.d[0]);
}

void emit_linear_bwd(OpCtx *c) {
    char b[256];
    emit_line(c->e, "rt_linear_backward(%s, %s, %s, %s, %s, %s, n, %lld, %d);",
              dinp(c, 0, b, sizeof b), PG(c, 0), bias_or_null(c, PG), D(c), VS(c, 0), PW(c, 0),
              src_numel(c, 0), c->n->shape.d[0]);
}

/* }==================================================================== */

/* {====================================================================
** Batch normalisation: params are weight, bias, running_mean, running_var;
** the stats buffer holds the batch mean then 1/std per channel.
** ===================================================================== */

void emit_bn_fwd(OpCtx *c) {
    const char *st = c->plan->stat_expr[c->n->id];
    int ch = c->n->shape.d[0];
    long long hw = (long long)ops_hw(c->n->shape);
    char mom[32], eps[32];
    emit_float(c->n->a.norm.momentum, mom, sizeof mom);
    emit_float(c->n->a.norm.eps, eps, sizeof eps);
    emit_line(c->e, "if (training)");
    emit_line(c->e, "    rt_batchnorm_forward_train(%s, %s, %s + %d, %s, %s, %s, %s, %s, n, %d, %lld, %s, %s);",
              V(c), st, st, ch, PW(c, 2), PW(c, 3), VS(c, 0), PW(c, 0), PW(c, 1), ch, hw, mom, eps);
    emit_line(c->e, "else");
    emit_line(c->e, "    rt_batchnorm_forward_eval(%s, %s, %s, %s, %s, %s, n, %d, %lld, %s);", V(c),
              VS(c, 0), PW(c, 0), PW(c, 1), PW(c, 2), PW(c, 3), ch, hw, eps);
}

void emit_bn_bwd(OpCtx *c) {
    const char *st = c->plan->stat_expr[c->n->id];
    int ch = c->n->shape.d[0];
    char b[256];
    emit_line(c->e, "rt_batchnorm_backward(%s, %s, %s, %s, %s, %s, %s + %d, %s, n, %d, %lld);",
              dinp(c, 0, b, sizeof b), PG(c, 0), PG(c, 1), D(c), VS(c, 0), st, st, ch, PW(c, 0),
              ch, (long long)ops_hw(c->n->shape));
}

/* }==================================================================== */

/* {====================================================================
** Elementwise activations: len is the per-sample size times n
** ===================================================================== */

#define ACTIVATION(op, kernel)                                                          \
    void emit_##op##_fwd(OpCtx *c) {                                                    \
        emit_line(c->e, "rt_" kernel "_forward(%s, %s, (size_t)n * %lld);", V(c), VS(c, 0), \
                  numel(c));                                                            \
    }                                                                                   \
    void emit_##op##_bwd(OpCtx *c) {                                                    \
        emit_line(c->e, "rt_" kernel "_backward(%s, %s, %s, (size_t)n * %lld);", DS(c, 0), \
                  D(c), V(c), numel(c));                                                \
    }

ACTIVATION(relu, "relu")
ACTIVATION(sigmoid, "sigmoid")
ACTIVATION(tanh, "tanh")

void emit_leaky_fwd(OpCtx *c) {
    char s[32];
    emit_line(c->e, "rt_leaky_relu_forward(%s, %s, %s, (size_t)n * %lld);", V(c), VS(c, 0),
              emit_float(c->n->a.leaky.slope, s, sizeof s), numel(c));
}

void emit_leaky_bwd(OpCtx *c) {
    char s[32];
    emit_line(c->e, "rt_leaky_relu_backward(%s, %s, %s, %s, (size_t)n * %lld);", DS(c, 0), D(c),
              VS(c, 0), emit_float(c->n->a.leaky.slope, s, sizeof s), numel(c));
}

/* }==================================================================== */

/* {====================================================================
** Pooling and upsampling
** ===================================================================== */

void emit_pool_decl(OpCtx *c) {
    const PoolArgs *a = &c->n->a.pool;
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "static const RtPool g_%s = {%d, %d, %d, %d, %d, %d, %d, %d};", c->n->cname,
              s.d[0], s.d[1], s.d[2], a->k, a->stride, a->pad, c->n->shape.d[1], c->n->shape.d[2]);
}

void emit_maxpool_fwd(OpCtx *c) {
    emit_line(c->e, "rt_maxpool_forward(%s, %s, n, &g_%s);", V(c), VS(c, 0), c->n->cname);
}

void emit_maxpool_bwd(OpCtx *c) {
    emit_line(c->e, "rt_maxpool_backward(%s, %s, %s, n, &g_%s);", DS(c, 0), D(c), VS(c, 0),
              c->n->cname);
}

void emit_avgpool_fwd(OpCtx *c) {
    emit_line(c->e, "rt_avgpool_forward(%s, %s, n, &g_%s);", V(c), VS(c, 0), c->n->cname);
}

void emit_avgpool_bwd(OpCtx *c) {
    emit_line(c->e, "rt_avgpool_backward(%s, %s, n, &g_%s);", DS(c, 0), D(c), c->n->cname);
}

void emit_gap_fwd(OpCtx *c) {
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "rt_global_avgpool_forward(%s, %s, n, %d, %lld);", V(c), VS(c, 0), s.d[0],
              (long long)ops_hw(s));
}

void emit_gap_bwd(OpCtx *c) {
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "rt_global_avgpool_backward(%s, %s, n, %d, %lld);", DS(c, 0), D(c), s.d[0],
              (long long)ops_hw(s));
}

void emit_upsample_fwd(OpCtx *c) {
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "rt_upsample_forward(%s, %s, n, %d, %d, %d, %d);", V(c), VS(c, 0), s.d[0],
              s.d[1], s.d[2], c->n->a.up.factor);
}

void emit_upsample_bwd(OpCtx *c) {
    Shape s = src_node(c, 0)->shape;
    emit_line(c->e, "rt_upsample_backward(%s, %s, n, %d, %d, %d, %d);", DS(c, 0), D(c), s.d[0],
              s.d[1], s.d[2], c->n->a.up.factor);
}

/* }==================================================================== */

/* {====================================================================
** The skips: add (identity path) and concat (feature reuse)
** ===================================================================== */

static void emit_sum(OpCtx *c) {
    emit_line(c->e, "rt_add_forward(%s, %s, %s, (size_t)n * %lld);", V(c), VS(c, 0), VS(c, 1),
              numel(c));
    for (int i = 2; i < c->n->nsrc; i++)
        emit_line(c->e, "rt_acc(%s, %s, (size_t)n * %lld);", V(c), VS(c, i), numel(c));
}

/* drop[k] switches residual add k to its identity input alone (lesion
** studies, in evaluation), without recompiling. */
void emit_add_fwd(OpCtx *c) {
    int multi = c->n->nsrc > 2;
    emit_line(c->e, "if (drop && drop[K_%s])%s", c->n->cname, multi ? " {" : "");
    emit_line(c->e, "    memcpy(%s, %s, sizeof(float) * (size_t)n * %lld);", V(c),
              VS(c, c->n->identity), numel(c));
    emit_line(c->e, multi ? "} else {" : "else");
    c->e->ind++;
    emit_sum(c);
    c->e->ind--;
    if (multi) emit_line(c->e, "}");
}

/* d(out)/d(input_i) is the identity for every input: each gets dout added. */
void emit_add_bwd(OpCtx *c) {
    for (int i = 0; i < c->n->nsrc; i++)
        emit_line(c->e, "%srt_acc(%s, %s, (size_t)n * %lld);", guard(c, i), DS(c, i), D(c),
                  numel(c));
}

void emit_concat_fwd(OpCtx *c) {
    int off = 0;
    long long hw = (long long)ops_hw(c->n->shape);
    for (int i = 0; i < c->n->nsrc; i++) {
        int ci = src_node(c, i)->shape.d[0];
        emit_line(c->e, "rt_concat_forward(%s, %s, n, %d, %d, %d, %lld);", V(c), VS(c, i),
                  c->n->shape.d[0], off, ci, hw);
        off += ci;
    }
}

/* Concat's backward is a slice: each input takes back its channels. */
void emit_concat_bwd(OpCtx *c) {
    int off = 0;
    long long hw = (long long)ops_hw(c->n->shape);
    for (int i = 0; i < c->n->nsrc; i++) {
        int ci = src_node(c, i)->shape.d[0];
        emit_line(c->e, "%srt_concat_backward(%s, %s, n, %d, %d, %d, %lld);", guard(c, i),
                  DS(c, i), D(c), c->n->shape.d[0], off, ci, hw);
        off += ci;
    }
}

/* }==================================================================== */
