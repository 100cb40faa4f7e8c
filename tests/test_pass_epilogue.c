/*
** test_pass_epilogue.c: the inference program's batchnorm (or relu, or add
** + relu) moved into the direct convolution before it, on programs built
** by hand: fused with its residual and relu, or alone; left apart when the
** convolution's output has another reader, when the batchnorm writes a
** slice of a wider tensor, or when the convolution's input changes in
** between.
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
    int x, c, y, res;
} Prog;

/* conv (node 1): c = conv(x); the batchnorm (node 2) reads c. */
static void prog_init(Prog *t) {
    t->g = ir_graph_new();
    kprog_init(&t->p, t->g);
    t->x = pu_value(&t->p, "IX_x");
    t->c = pu_value(&t->p, "IX_c");
    t->y = pu_value(&t->p, "IX_y");
    t->res = pu_value(&t->p, "IX_res");
    KCall *c = PU_CALL(&t->p.fwd, K_CONV2D_DIRECT_FORWARD, 0, 0, karg_buf(t->c, ACC_WRITE),
                       karg_null(), karg_buf(t->x, ACC_READ), karg_param(0, ACC_READ), karg_null(),
                       karg_batch(), karg_geom(1));
    c->node = 1;
    c->opens = OPEN_LAYER;
}

static KCall *bn_relu(Prog *t, int t_step, int out) {
    KCall *c = PU_CALL(&t->p.fwd, K_BATCHNORM_RELU_FORWARD_EVAL, t_step, 0,
                       karg_buf(out, ACC_WRITE), karg_buf(t->c, ACC_READ),
                       karg_buf(t->res, ACC_READ), karg_param(1, ACC_READ),
                       karg_param(2, ACC_READ), karg_param(3, ACC_READ), karg_param(4, ACC_READ),
                       karg_batch(), karg_geom(2), karg_float(1e-5f));
    c->node = 2;
    c->opens = OPEN_LAYER;
    return c;
}

static void prog_free(Prog *t) {
    kprog_free(&t->p);
    ir_graph_free(t->g);
}

static void test_fuses_bn_relu_residual(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    bn_relu(&t, 1, t.y);
    assert_int_equal(pass_epilogue(&t.p), 1);
    assert_int_equal(t.p.fwd.n, 1);
    const KCall *f = &t.p.fwd.v[0];
    assert_int_equal(f->k, K_CONV2D_DIRECT_BN_EVAL);
    assert_int_equal(f->nargs, 14);
    assert_int_equal(f->args[0].ref, t.y);          /* the batchnorm's output */
    assert_int_equal(f->args[1].kind, ARG_NULL);    /* no scratch at stride 1 */
    assert_int_equal(f->args[2].ref, t.x);          /* the convolution's input */
    assert_int_equal(f->args[3].kind, ARG_PARAM);   /* weight */
    assert_int_equal(f->args[4].kind, ARG_NULL);    /* no bias */
    assert_int_equal(f->args[5].ref, t.res);
    for (int a = 0; a < 4; a++) assert_int_equal(f->args[6 + a].ref, 1 + a);
    assert_int_equal(f->args[11].kind, ARG_GEOM);
    assert_int_equal(f->args[11].ref, 1);           /* the convolution's geometry */
    assert_true(f->args[12].f == 1e-5f);
    assert_int_equal(f->args[13].i, 1);             /* relu */
    assert_int_equal(f->node, 2);
    assert_int_equal(f->nalso, 1);
    assert_int_equal(f->also[0], 1);
    assert_int_equal(f->t, 1);
    assert_int_equal(f->opens, OPEN_LAYER);
    prog_free(&t);
}

static void test_fuses_plain_bn(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    PU_CALL(&t.p.fwd, K_BATCHNORM_FORWARD_EVAL, 1, 0, karg_buf(t.y, ACC_WRITE),
            karg_buf(t.c, ACC_READ), karg_param(1, ACC_READ), karg_param(2, ACC_READ),
            karg_param(3, ACC_READ), karg_param(4, ACC_READ), karg_batch(), karg_geom(2),
            karg_float(1e-3f))->node = 2;
    assert_int_equal(pass_epilogue(&t.p), 1);
    const KCall *f = &t.p.fwd.v[0];
    assert_int_equal(f->args[5].kind, ARG_NULL);    /* no residual */
    for (int a = 0; a < 4; a++) assert_int_equal(f->args[6 + a].ref, 1 + a);
    assert_true(f->args[12].f == 1e-3f);
    assert_int_equal(f->args[13].i, 0);             /* no relu */
    prog_free(&t);
}

static void test_keeps_shared_output(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    bn_relu(&t, 1, t.y);
    PU_CALL(&t.p.fwd, K_RELU_FORWARD, 2, 0, karg_buf(t.res, ACC_WRITE), karg_buf(t.c, ACC_READ),
            karg_len(8));
    assert_int_equal(pass_epilogue(&t.p), 0);
    assert_int_equal(t.p.fwd.n, 3);
    prog_free(&t);
}

static void test_keeps_slice_output(void **state) {
    Prog t;
    int wide;
    (void)state;
    prog_init(&t);
    wide = kprog_new_buffer(&t.p, BUF_VALUE, "IX_wide", -1, REGION_BATCH, 16);
    t.p.bufs[t.y].parent = wide;
    t.p.bufs[t.y].slice_off = 8;
    bn_relu(&t, 1, t.y);
    assert_int_equal(pass_epilogue(&t.p), 0);
    prog_free(&t);
}

static void test_keeps_when_input_changes(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    PU_CALL(&t.p.fwd, K_RELU_FORWARD, 1, 0, karg_buf(t.x, ACC_WRITE), karg_buf(t.res, ACC_READ),
            karg_len(8));
    bn_relu(&t, 2, t.y);
    assert_int_equal(pass_epilogue(&t.p), 0);
    prog_free(&t);
}

static void test_fuses_relu(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    PU_CALL(&t.p.fwd, K_RELU_FORWARD, 1, 0, karg_buf(t.y, ACC_WRITE), karg_buf(t.c, ACC_READ),
            karg_len(8))->node = 2;
    assert_int_equal(pass_epilogue(&t.p), 1);
    assert_int_equal(t.p.fwd.n, 1);
    const KCall *f = &t.p.fwd.v[0];
    assert_int_equal(f->k, K_CONV2D_DIRECT_FUSED);
    assert_int_equal(f->nargs, 9);
    assert_int_equal(f->args[0].ref, t.y);
    assert_int_equal(f->args[2].ref, t.x);
    assert_int_equal(f->args[3].kind, ARG_PARAM);
    assert_int_equal(f->args[5].kind, ARG_NULL);    /* no residual */
    assert_int_equal(f->args[7].ref, 1);            /* the convolution's geometry */
    assert_int_equal(f->args[8].i, 1);              /* relu */
    assert_int_equal(f->node, 2);
    assert_int_equal(f->also[0], 1);
    prog_free(&t);
}

/* relu(res + c): the residual is whichever operand the convolution does not write. */
static void test_fuses_add_relu(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    PU_CALL(&t.p.fwd, K_ADD_RELU_FORWARD, 1, 0, karg_buf(t.y, ACC_WRITE),
            karg_buf(t.res, ACC_READ), karg_buf(t.c, ACC_READ), karg_len(8))->node = 2;
    assert_int_equal(pass_epilogue(&t.p), 1);
    const KCall *f = &t.p.fwd.v[0];
    assert_int_equal(f->k, K_CONV2D_DIRECT_FUSED);
    assert_int_equal(f->args[0].ref, t.y);
    assert_int_equal(f->args[5].ref, t.res);
    prog_free(&t);
}

/* relu(c + c) reads the convolution twice: not an epilogue. */
static void test_keeps_add_of_itself(void **state) {
    Prog t;
    (void)state;
    prog_init(&t);
    PU_CALL(&t.p.fwd, K_ADD_RELU_FORWARD, 1, 0, karg_buf(t.y, ACC_WRITE),
            karg_buf(t.c, ACC_READ), karg_buf(t.c, ACC_READ), karg_len(8))->node = 2;
    assert_int_equal(pass_epilogue(&t.p), 0);
    prog_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuses_bn_relu_residual),
        cmocka_unit_test(test_fuses_plain_bn),
        cmocka_unit_test(test_keeps_shared_output),
        cmocka_unit_test(test_keeps_slice_output),
        cmocka_unit_test(test_keeps_when_input_changes),
        cmocka_unit_test(test_fuses_relu),
        cmocka_unit_test(test_fuses_add_relu),
        cmocka_unit_test(test_keeps_add_of_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
