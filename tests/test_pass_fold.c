/*
** test_pass_fold.c: batchnorms folded into the layer before them for a
** deployment build, on programs built by hand over a small graph (input,
** conv, bn, fc): the folded pair of parameters with their sources, the
** call that is left of a relu batchnorm, the batchnorm kept when the
** convolution's output has another reader, the lesion switches removed,
** and every parameter renumbered in the order the program reads it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "passes.h"
#include "pass_util.h"

typedef struct {
    IrGraph *g;
    KProgram p;
    int x, c, y, res, z;        /* buffers */
    int w, b, bn[4], fw, fb;    /* parameters: conv weight, bias, batchnorm's, fc's */
} Prog;

enum { N_IN, N_CONV, N_BN, N_FC };

/* x -> conv (4x2x3x3, with a bias if bias) -> bn -> ... -> fc. */
static void prog_init(Prog *t, int bias) {
    Loc loc = {"t.lua", 1};
    int src = 0, wshape[4] = {4, 2, 3, 3}, four[1] = {4}, fshape[2] = {3, 16};
    IrNode *n;
    t->g = ir_graph_new();
    n = ir_node_new(t->g, OP_INPUT, NULL, 0, "x", loc, loc);
    n->shape = shape3(2, 2, 2);
    n = ir_node_new(t->g, OP_CONV2D, &src, 1, "conv", loc, loc);
    n->shape = shape3(4, 2, 2);
    t->w = ir_param_new(t->g, n, "weight", PK_WEIGHT, 4, wshape, 18);
    t->b = bias ? ir_param_new(t->g, n, "bias", PK_BIAS, 1, four, 18) : -1;
    src = N_CONV;
    n = ir_node_new(t->g, OP_BATCHNORM, &src, 1, "bn", loc, loc);
    n->shape = shape3(4, 2, 2);
    for (int k = 0; k < 4; k++)
        t->bn[k] = ir_param_new(t->g, n, (const char *[]){"weight", "bias", "running_mean",
                                                          "running_var"}[k],
                                (ParamKind)(PK_BN_WEIGHT + k), 1, four, 0);
    src = N_BN;
    n = ir_node_new(t->g, OP_LINEAR, &src, 1, "fc", loc, loc);
    n->shape = shape1(3);
    t->fw = ir_param_new(t->g, n, "weight", PK_WEIGHT, 2, fshape, 16);
    kprog_init(&t->p, t->g);
    t->x = pu_value(&t->p, "IX_x");
    t->c = pu_value(&t->p, "IX_c");
    t->y = pu_value(&t->p, "IX_y");
    t->res = pu_value(&t->p, "IX_res");
    t->z = pu_value(&t->p, "IX_z");
    KCall *c = PU_CALL(&t->p.fwd, K_CONV2D_DIRECT_FORWARD, 0, 0, karg_buf(t->c, ACC_WRITE),
                       karg_null(), karg_buf(t->x, ACC_READ), karg_param(t->w, ACC_READ),
                       bias ? karg_param(t->b, ACC_READ) : karg_null(), karg_batch(),
                       karg_geom(N_CONV));
    c->node = N_CONV;
    c->opens = OPEN_LAYER;
}

/* The batchnorm: plain (out inp gamma beta rm rv n geom eps) or, with a
** residual, relu eval (out inp res gamma ...). */
static KCall *bn_call(Prog *t, int t_step, int relu, unsigned guard) {
    KCall *c;
    if (relu)
        c = PU_CALL(&t->p.fwd, K_BATCHNORM_RELU_FORWARD_EVAL, t_step, guard,
                    karg_buf(t->y, ACC_WRITE), karg_buf(t->c, ACC_READ),
                    karg_buf(t->res, ACC_READ), karg_param(t->bn[0], ACC_READ),
                    karg_param(t->bn[1], ACC_READ), karg_param(t->bn[2], ACC_READ),
                    karg_param(t->bn[3], ACC_READ), karg_batch(), karg_geom(N_BN),
                    karg_float(1e-3f));
    else
        c = PU_CALL(&t->p.fwd, K_BATCHNORM_FORWARD_EVAL, t_step, guard,
                    karg_buf(t->y, ACC_WRITE), karg_buf(t->c, ACC_READ),
                    karg_param(t->bn[0], ACC_READ), karg_param(t->bn[1], ACC_READ),
                    karg_param(t->bn[2], ACC_READ), karg_param(t->bn[3], ACC_READ),
                    karg_batch(), karg_geom(N_BN), karg_float(1e-3f));
    c->node = N_BN;
    c->opens = OPEN_LAYER;
    return c;
}

static void fc_call(Prog *t, int t_step) {
    PU_CALL(&t->p.fwd, K_LINEAR_FORWARD, t_step, 0, karg_buf(t->z, ACC_WRITE),
            karg_buf(t->y, ACC_READ), karg_param(t->fw, ACC_READ), karg_null(), karg_batch(),
            karg_int(16), karg_int(3))->node = N_FC;
}

static void prog_free(Prog *t) {
    kprog_free(&t->p);
    ir_graph_free(t->g);
}

/* Entry i of the deployment table. */
static const DParam *dp(const Prog *t, int i) { return &t->p.dparams[i]; }

static void test_folds_plain_bn(void **state) {
    Prog t;
    (void)state;
    prog_init(&t, 0);
    bn_call(&t, 1, 0, 0);
    fc_call(&t, 2);
    assert_int_equal(pass_fold(&t.p), 1);
    assert_int_equal(t.p.fwd.n, 2);               /* conv, fc */
    const KCall *c = &t.p.fwd.v[0];
    assert_int_equal(c->k, K_CONV2D_DIRECT_FORWARD);
    assert_int_equal(c->args[0].ref, t.y);        /* writes the batchnorm's output */
    assert_int_equal(c->args[3].kind, ARG_PARAM);
    assert_int_equal(c->args[3].ref, 0);
    assert_int_equal(c->args[4].kind, ARG_PARAM); /* a bias it did not have */
    assert_int_equal(c->args[4].ref, 1);
    assert_int_equal(c->nalso, 1);
    assert_int_equal(c->also[0], N_BN);
    assert_int_equal(t.p.ndparams, 3);
    assert_int_equal(dp(&t, 0)->kind, DP_FOLD_WEIGHT);
    assert_string_equal(dp(&t, 0)->name, "conv.weight");
    assert_int_equal(dp(&t, 0)->src, t.w);
    assert_int_equal(dp(&t, 0)->pair, 1);
    assert_int_equal(dp(&t, 0)->offset, 0);
    assert_int_equal(dp(&t, 1)->kind, DP_FOLD_BIAS);
    assert_string_equal(dp(&t, 1)->name, "conv.bias");
    assert_string_equal(dp(&t, 1)->cname, "conv_bias");
    assert_int_equal(dp(&t, 1)->src, -1);
    assert_int_equal(dp(&t, 1)->pair, 0);
    assert_int_equal(dp(&t, 1)->ndim, 1);
    assert_int_equal(dp(&t, 1)->shape[0], 4);
    assert_int_equal(dp(&t, 1)->offset, 72);
    for (int k = 0; k < 4; k++) assert_int_equal(dp(&t, 1)->bn[k], t.bn[k]);
    assert_true(dp(&t, 1)->eps == 1e-3f);
    assert_int_equal(dp(&t, 2)->kind, DP_COPY);   /* the fc weight, read last */
    assert_int_equal(dp(&t, 2)->src, t.fw);
    assert_int_equal(dp(&t, 2)->offset, 76);
    assert_int_equal(t.p.fwd.v[1].args[2].ref, 2);
    assert_int_equal(t.p.num_dparams, 76 + 48);
    prog_free(&t);
}

static void test_relu_bn_leaves_add_relu(void **state) {
    Prog t;
    (void)state;
    prog_init(&t, 1);
    bn_call(&t, 1, 1, 0);
    assert_int_equal(pass_fold(&t.p), 1);
    assert_int_equal(t.p.fwd.n, 2);
    assert_int_equal(t.p.fwd.v[0].args[0].ref, t.c);   /* the conv keeps its output */
    const KCall *r = &t.p.fwd.v[1];
    assert_int_equal(r->k, K_ADD_RELU_FORWARD);
    assert_int_equal(r->nargs, 4);
    assert_int_equal(r->args[0].ref, t.y);
    assert_int_equal(r->args[1].ref, t.c);
    assert_int_equal(r->args[2].ref, t.res);
    assert_int_equal(r->args[3].kind, ARG_LEN);
    assert_int_equal(r->args[3].i, 16);
    assert_int_equal(r->node, N_BN);
    assert_int_equal(dp(&t, 1)->src, t.b);             /* the conv's own bias, folded */
    assert_string_equal(dp(&t, 1)->name, "conv.bias");
    prog_free(&t);
}

static void test_keeps_bn_of_shared_output(void **state) {
    Prog t;
    (void)state;
    prog_init(&t, 1);
    bn_call(&t, 1, 0, 0);
    PU_CALL(&t.p.fwd, K_RELU_FORWARD, 2, 0, karg_buf(t.z, ACC_WRITE), karg_buf(t.c, ACC_READ),
            karg_len(16));
    assert_int_equal(pass_fold(&t.p), 0);
    assert_int_equal(t.p.fwd.n, 3);
    /* copies, in the order read: weight, bias, gamma, beta, mean, var */
    assert_int_equal(t.p.ndparams, 6);
    int want[6] = {t.w, t.b, t.bn[0], t.bn[1], t.bn[2], t.bn[3]};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(dp(&t, i)->kind, DP_COPY);
        assert_int_equal(dp(&t, i)->src, want[i]);
    }
    assert_int_equal(t.p.fwd.v[1].args[4].ref, 4);    /* the batchnorm's running mean */
    prog_free(&t);
}

/* The dropped path of a residual add goes, the kept one loses its guard. */
static void test_removes_lesion_switches(void **state) {
    Prog t;
    (void)state;
    prog_init(&t, 1);
    KCall *drop = PU_CALL(&t.p.fwd, K_RELU_FORWARD, 1, G_DROP, karg_buf(t.y, ACC_WRITE),
                          karg_buf(t.res, ACC_READ), karg_len(16));
    drop->node = N_BN;
    drop->opens = OPEN_LAYER;
    bn_call(&t, 1, 1, G_KEEP)->opens = OPEN_NONE;
    assert_int_equal(pass_fold(&t.p), 1);
    assert_int_equal(t.p.fwd.n, 2);
    assert_int_equal(t.p.fwd.v[1].k, K_ADD_RELU_FORWARD);
    assert_int_equal(t.p.fwd.v[1].guard, 0);
    assert_int_equal(t.p.fwd.v[1].opens, OPEN_LAYER);   /* the layer's comment stays */
    prog_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folds_plain_bn),
        cmocka_unit_test(test_relu_bn_leaves_add_relu),
        cmocka_unit_test(test_keeps_bn_of_shared_output),
        cmocka_unit_test(test_removes_lesion_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
