/*
** test_pass_inference.c: the inference pass on a program built by hand: a
** convolution, a batchnorm with its training and evaluation calls, a relu.
** The inference program keeps the evaluation call without its guard, the
** comment that the training call opened, and only the buffers it uses,
** renamed; the caller's x keeps its name.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "passes.h"
#include "pass_util.h"

static void test_inference(void **state) {
    IrGraph *g = ir_graph_new();
    KProgram train, inf;
    int x, a, b, c, stats, da;
    (void)state;
    kprog_init(&train, g);
    x = kprog_new_buffer(&train, BUF_VALUE, "x", -1, REGION_EXTERNAL, 0);
    a = pu_value(&train, "X_a");
    b = pu_value(&train, "X_b");
    c = pu_value(&train, "X_c");
    stats = kprog_new_buffer(&train, BUF_STATS, "S_b", -1, REGION_FIXED, 2);
    da = pu_grad(&train, "D_a");
    PU_CALL(&train.fwd, K_RELU_FORWARD, 0, 0, karg_buf(a, ACC_WRITE), karg_buf(x, ACC_READ),
            karg_len(8))->opens = OPEN_LAYER;
    PU_CALL(&train.fwd, K_RELU_FORWARD, 1, G_TRAIN, karg_buf(b, ACC_WRITE),
            karg_buf(stats, ACC_WRITE), karg_len(8))->opens = OPEN_LAYER;
    PU_CALL(&train.fwd, K_RELU_FORWARD, 1, G_EVAL, karg_buf(b, ACC_WRITE), karg_buf(a, ACC_READ),
            karg_len(8));
    PU_CALL(&train.fwd, K_RELU_FORWARD, 2, 0, karg_buf(c, ACC_WRITE), karg_buf(b, ACC_READ),
            karg_len(8))->opens = OPEN_LAYER;
    PU_CALL(&train.bwd, K_RELU_BACKWARD, 3, 0, karg_buf(da, ACC_WRITE), karg_buf(c, ACC_READ),
            karg_buf(a, ACC_READ), karg_len(8));

    assert_int_equal(pass_inference(&inf, &train), 3);
    assert_int_equal(inf.fwd.n, 3);
    assert_int_equal(inf.bwd.n, 0);
    assert_int_equal(inf.nbufs, 4);   /* x, IX_a, IX_b, IX_c: no statistics, no gradient */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(inf.fwd.v[i].guard, 0);
        assert_int_equal(inf.fwd.v[i].opens, OPEN_LAYER);
        assert_int_equal(inf.fwd.v[i].t, i);
    }
    assert_string_equal(inf.bufs[inf.fwd.v[0].args[1].ref].cname, "x");
    assert_string_equal(inf.bufs[inf.fwd.v[0].args[0].ref].cname, "IX_a");
    assert_string_equal(inf.bufs[inf.fwd.v[1].args[0].ref].cname, "IX_b");
    assert_int_equal(inf.fwd.v[1].args[1].ref, inf.fwd.v[0].args[0].ref);   /* reads IX_a */
    assert_string_equal(inf.bufs[inf.fwd.v[2].args[0].ref].cname, "IX_c");
    kprog_free(&inf);
    kprog_free(&train);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_inference)};
    return cmocka_run_group_tests_name("pass inference", tests, NULL, NULL);
}
