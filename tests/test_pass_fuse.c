/*
** test_pass_fuse.c: the fusion pass on programs built by hand, shaped as
** a network writes them: batchnorm's training and evaluation calls, then
** a relu; a batchnorm feeding a residual add (with its drop switch) and a
** relu; relu backward feeding batchnorm backward. And what must not fuse:
** a batchnorm output that something else also reads.
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
} Prog;

static void prog_new(Prog *q) {
    q->g = ir_graph_new();
    kprog_init(&q->p, q->g);
}

static void prog_free(Prog *q) {
    kprog_free(&q->p);
    ir_graph_free(q->g);
}

/* Batchnorm of node `node` at step t: out <- in, stats buffer s. */
static void bn(KList *l, int node, int t, int out, int in, int s) {
    KCall *c = PU_CALL(l, K_BATCHNORM_FORWARD_TRAIN, t, G_TRAIN, karg_buf(out, ACC_WRITE),
                       karg_buf(s, ACC_WRITE), karg_buf(s, ACC_WRITE), karg_param(0, ACC_ACCUM),
                       karg_param(1, ACC_ACCUM), karg_buf(in, ACC_READ), karg_param(2, ACC_READ),
                       karg_param(3, ACC_READ), karg_batch(), karg_geom(node), karg_float(0.1f),
                       karg_float(1e-5f));
    c->node = node;
    c->opens = OPEN_LAYER;
    c = PU_CALL(l, K_BATCHNORM_FORWARD_EVAL, t, G_EVAL, karg_buf(out, ACC_WRITE),
                karg_buf(in, ACC_READ), karg_param(2, ACC_READ), karg_param(3, ACC_READ),
                karg_param(0, ACC_READ), karg_param(1, ACC_READ), karg_batch(), karg_geom(node),
                karg_float(1e-5f));
    c->node = node;
}

static KCall *relu(KList *l, int node, int t, int out, int in) {
    KCall *c = PU_CALL(l, K_RELU_FORWARD, t, 0, karg_buf(out, ACC_WRITE), karg_buf(in, ACC_READ),
                       karg_len(8));
    c->node = node;
    c->opens = OPEN_LAYER;
    return c;
}

/* x -> bn(0) -> relu(1) -> y, and backward dy -> relu -> dbn -> bn -> dx */
static void test_bn_relu(void **state) {
    Prog q;
    int x, b, y, s, dy, dbn, dx;
    (void)state;
    prog_new(&q);
    x = pu_value(&q.p, "X_x"); b = pu_value(&q.p, "X_bn"); y = pu_value(&q.p, "X_relu");
    s = kprog_new_buffer(&q.p, BUF_STATS, "S_bn", 0, REGION_FIXED, 8);
    dy = pu_grad(&q.p, "D_relu"); dbn = pu_grad(&q.p, "D_bn"); dx = pu_grad(&q.p, "D_x");
    bn(&q.p.fwd, 0, 0, b, x, s);
    relu(&q.p.fwd, 1, 1, y, b);
    PU_CALL(&q.p.bwd, K_RELU_BACKWARD, 2, 0, karg_buf(dbn, ACC_WRITE), karg_buf(dy, ACC_READ),
            karg_buf(y, ACC_READ), karg_len(8))->node = 1;
    PU_CALL(&q.p.bwd, K_BATCHNORM_BACKWARD, 3, 0, karg_buf(dx, ACC_WRITE), karg_pgrad(2),
            karg_pgrad(3), karg_buf(dbn, ACC_READ), karg_buf(x, ACC_READ),
            karg_buf(s, ACC_READ), karg_buf(s, ACC_READ), karg_param(2, ACC_READ),
            karg_batch(), karg_geom(0))->node = 0;

    assert_int_equal(pass_fuse(&q.p), 2);
    assert_int_equal(q.p.fwd.n, 2);
    assert_int_equal(q.p.fwd.v[0].k, K_BATCHNORM_RELU_FORWARD_TRAIN);
    assert_int_equal(q.p.fwd.v[0].args[0].ref, y);            /* writes the relu's output */
    assert_int_equal(q.p.fwd.v[0].args[5].ref, x);
    assert_int_equal(q.p.fwd.v[0].args[6].kind, ARG_NULL);   /* no residual */
    assert_int_equal(q.p.fwd.v[0].nalso, 1);
    assert_int_equal(q.p.fwd.v[0].also[0], 1);
    assert_int_equal(q.p.fwd.v[1].k, K_BATCHNORM_RELU_FORWARD_EVAL);
    assert_int_equal(q.p.fwd.v[1].args[2].kind, ARG_NULL);
    assert_int_equal(q.p.bwd.n, 1);
    assert_int_equal(q.p.bwd.v[0].k, K_BATCHNORM_RELU_BACKWARD);
    assert_int_equal(q.p.bwd.v[0].args[0].ref, dx);
    assert_int_equal(q.p.bwd.v[0].args[3].ref, dy);
    assert_int_equal(q.p.bwd.v[0].args[4].ref, y);
    assert_int_equal(q.p.bwd.v[0].args[5].ref, x);
    assert_int_equal(q.p.bwd.v[0].nargs, 11);
    prog_free(&q);
}

/* x -> bn(0); add(1) of bn and id, with its drop switch; relu(2) */
static void test_bn_add_relu(void **state) {
    Prog q;
    int x, id, b, a, y, s;
    (void)state;
    prog_new(&q);
    x = pu_value(&q.p, "X_x"); id = pu_value(&q.p, "X_id"); b = pu_value(&q.p, "X_bn");
    a = pu_value(&q.p, "X_add"); y = pu_value(&q.p, "X_relu");
    s = kprog_new_buffer(&q.p, BUF_STATS, "S_bn", 0, REGION_FIXED, 8);
    bn(&q.p.fwd, 0, 0, b, x, s);
    KCall *c = PU_CALL(&q.p.fwd, K_COPY, 1, G_DROP, karg_buf(a, ACC_WRITE), karg_buf(id, ACC_READ),
                       karg_len(8));
    c->node = 1;
    c->opens = OPEN_LAYER;
    PU_CALL(&q.p.fwd, K_ADD_FORWARD, 1, G_KEEP, karg_buf(a, ACC_WRITE), karg_buf(b, ACC_READ),
            karg_buf(id, ACC_READ), karg_len(8))->node = 1;
    relu(&q.p.fwd, 2, 2, y, a);

    assert_int_equal(pass_fuse(&q.p), 1);
    assert_int_equal(q.p.fwd.n, 3);
    /* the drop switch: relu(identity) */
    assert_int_equal(q.p.fwd.v[0].k, K_RELU_FORWARD);
    assert_int_equal(q.p.fwd.v[0].guard, G_DROP);
    assert_int_equal(q.p.fwd.v[0].args[0].ref, y);
    assert_int_equal(q.p.fwd.v[0].args[1].ref, id);
    assert_int_equal(q.p.fwd.v[0].opens, OPEN_LAYER);
    /* otherwise relu(bn(x) + id), in training and in evaluation */
    assert_int_equal(q.p.fwd.v[1].k, K_BATCHNORM_RELU_FORWARD_TRAIN);
    assert_int_equal(q.p.fwd.v[1].guard, G_KEEP | G_TRAIN);
    assert_int_equal(q.p.fwd.v[1].args[0].ref, y);
    assert_int_equal(q.p.fwd.v[1].args[6].ref, id);
    assert_int_equal(q.p.fwd.v[1].node, 1);
    assert_int_equal(q.p.fwd.v[1].nalso, 2);
    assert_int_equal(q.p.fwd.v[2].k, K_BATCHNORM_RELU_FORWARD_EVAL);
    assert_int_equal(q.p.fwd.v[2].guard, G_KEEP | G_EVAL);
    assert_int_equal(q.p.fwd.v[2].args[2].ref, id);
    prog_free(&q);
}

/* The batchnorm's output is also read elsewhere (a probe): nothing fuses. */
static void test_shared_output_stays(void **state) {
    Prog q;
    int x, b, y, s;
    (void)state;
    prog_new(&q);
    x = pu_value(&q.p, "X_x"); b = pu_value(&q.p, "X_bn"); y = pu_value(&q.p, "X_relu");
    s = kprog_new_buffer(&q.p, BUF_STATS, "S_bn", 0, REGION_FIXED, 8);
    bn(&q.p.fwd, 0, 0, b, x, s);
    relu(&q.p.fwd, 1, 1, y, b);
    PU_CALL(&q.p.bwd, K_SUMSQ, 2, 0, karg_buf(b, ACC_READ), karg_batch(), karg_int(8),
            karg_stride(0));
    assert_int_equal(pass_fuse(&q.p), 0);
    assert_int_equal(q.p.fwd.n, 3);
    prog_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_relu),
        cmocka_unit_test(test_bn_add_relu),
        cmocka_unit_test(test_shared_output_stays),
    };
    return cmocka_run_group_tests_name("pass fuse", tests, NULL, NULL);
}
