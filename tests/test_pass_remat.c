/*
** test_pass_remat.c: recomputation of fused batchnorm + relu outputs in
** backward, on programs built by hand as a dense layer writes them:
** y = relu(bn(x)) read by a convolution; backward, the convolution reads y
** as its input and the batchnorm's backward reads it as the relu's mask.
** And what must be kept: an output with a residual added in.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "passes.h"
#include "pass_util.h"

typedef struct {
    IrGraph *g;
    KProgram p;
    int x, y, z, s, r, dx, dy, dz;
} Layer;

/* node 0: y = relu(bn(x), res); node 1: z = conv(y); backward of both. */
static void layer_new(Layer *q, int with_res) {
    KProgram *p = &q->p;
    KArg res;
    KCall *c;
    q->g = ir_graph_new();
    kprog_init(p, q->g);
    q->x = pu_value(p, "X_x"); q->y = pu_value(p, "X_y"); q->z = pu_value(p, "X_z");
    q->r = pu_value(p, "X_res");
    q->dx = pu_grad(p, "D_x"); q->dy = pu_grad(p, "D_y"); q->dz = pu_grad(p, "D_z");
    q->s = kprog_new_buffer(p, BUF_STATS, "S_bn", 0, REGION_FIXED, 4);
    kprog_new_geom(p, "RtNorm", 0)->xs = 8;
    p->geoms[0].ys = 8;
    kprog_new_geom(p, "RtConv", 1)->xs = 8;
    p->geoms[1].ys = 8;
    res = with_res ? karg_buf(q->r, ACC_READ) : karg_null();
    c = PU_CALL(&p->fwd, K_BATCHNORM_RELU_FORWARD_TRAIN, 0, G_TRAIN, karg_buf(q->y, ACC_WRITE),
                karg_buf(q->s, ACC_WRITE), karg_buf(q->s, ACC_WRITE), karg_param(2, ACC_ACCUM),
                karg_param(3, ACC_ACCUM), karg_buf(q->x, ACC_READ), res, karg_param(0, ACC_READ),
                karg_param(1, ACC_READ), karg_batch(), karg_geom(0), karg_float(0.1f),
                karg_float(1e-5f));
    c->node = 0;
    c->opens = OPEN_LAYER;
    c->args[2].off = 2;
    PU_CALL(&p->fwd, K_BATCHNORM_RELU_FORWARD_EVAL, 0, G_EVAL, karg_buf(q->y, ACC_WRITE),
            karg_buf(q->x, ACC_READ), res, karg_param(0, ACC_READ), karg_param(1, ACC_READ),
            karg_param(2, ACC_READ), karg_param(3, ACC_READ), karg_batch(), karg_geom(0),
            karg_float(1e-5f));
    c = PU_CALL(&p->fwd, K_CONV2D_FORWARD, 1, 0, karg_buf(q->z, ACC_WRITE), karg_null(),
                karg_buf(q->y, ACC_READ), karg_param(4, ACC_READ), karg_null(), karg_batch(),
                karg_geom(1));
    c->node = 1;
    c->opens = OPEN_LAYER;
    c = PU_CALL(&p->bwd, K_CONV2D_BACKWARD, 3, 0, karg_buf(q->dy, ACC_WRITE), karg_pgrad(4),
                karg_null(), karg_null(), karg_buf(q->dz, ACC_READ), karg_buf(q->y, ACC_READ),
                karg_param(4, ACC_READ), karg_batch(), karg_geom(1));
    c->node = 1;
    c->opens = OPEN_LAYER;
    c = PU_CALL(&p->bwd, K_BATCHNORM_RELU_BACKWARD, 4, 0, karg_buf(q->dx, ACC_WRITE),
                karg_pgrad(0), karg_pgrad(1), karg_buf(q->dy, ACC_READ), karg_buf(q->y, ACC_READ),
                karg_buf(q->x, ACC_READ), karg_buf(q->s, ACC_READ), karg_buf(q->s, ACC_READ),
                karg_param(0, ACC_READ), karg_batch(), karg_geom(0));
    c->node = 0;
    c->opens = OPEN_LAYER;
}

static void layer_free(Layer *q) {
    kprog_free(&q->p);
    ir_graph_free(q->g);
}

static void test_recomputed(void **state) {
    Layer q;
    const KCall *rc;
    int r;
    (void)state;
    layer_new(&q, 0);
    assert_int_equal(pass_remat(&q.p), 1);
    assert_int_equal(q.p.bwd.n, 3);
    rc = &q.p.bwd.v[0];
    assert_int_equal(rc->k, K_BATCHNORM_RELU_RECOMPUTE);
    r = rc->args[0].ref;
    assert_true(r != q.y);
    assert_int_equal(q.p.bufs[r].floats, q.p.bufs[q.y].floats);
    assert_int_equal(rc->args[1].ref, q.x);
    assert_int_equal(rc->args[2].ref, q.s);          /* saved mean ... */
    assert_int_equal(rc->args[3].off, 2);            /* ... and rstd */
    assert_int_equal(rc->args[3].access, ACC_READ);
    assert_int_equal(rc->args[7].kind, ARG_GEOM);
    assert_int_equal(rc->t, 3);                      /* the step of backward's first reader */
    assert_int_equal(rc->opens, OPEN_LAYER);         /* and its block, which it now opens */
    assert_int_equal(q.p.bwd.v[1].opens, OPEN_NONE);
    /* backward reads the recomputed copy; y is a forward tensor only */
    assert_int_equal(q.p.bwd.v[1].args[5].ref, r);
    assert_int_equal(q.p.bwd.v[2].args[4].ref, r);
    assert_int_equal(klist_next_use(&q.p.bwd, 0, q.y, KIR_ANY), -1);
    assert_int_equal(kprog_layout(&q.p, q.p.geoms, q.p.ngeoms, 0), 0);
    layer_free(&q);
}

/* With a residual, recomputing would keep the residual alive instead. */
static void test_residual_kept(void **state) {
    Layer q;
    (void)state;
    layer_new(&q, 1);
    assert_int_equal(pass_remat(&q.p), 0);
    assert_int_equal(q.p.bwd.n, 2);
    assert_int_equal(q.p.bwd.v[0].args[5].ref, q.y);
    layer_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recomputed),
        cmocka_unit_test(test_residual_kept),
    };
    return cmocka_run_group_tests_name("pass_remat", tests, NULL, NULL);
}
