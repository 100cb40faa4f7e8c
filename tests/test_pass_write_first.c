/*
** test_pass_write_first.c: the write-first pass on programs built by hand.
** A clearing goes only when the next call touching the buffer accumulates
** into it, can write instead, touches it once, and runs whenever the
** clearing did; that call then writes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "passes.h"
#include "pass_util.h"

static void test_write_first(void **state) {
    IrGraph *g = ir_graph_new();
    KProgram p;
    int x, da, db, dc, dd, de, df, dout;
    (void)state;
    kprog_init(&p, g);
    x = pu_value(&p, "X_a");
    da = pu_grad(&p, "D_a"); db = pu_grad(&p, "D_b"); dc = pu_grad(&p, "D_c");
    dd = pu_grad(&p, "D_d"); de = pu_grad(&p, "D_e"); df = pu_grad(&p, "D_f");
    dout = pu_grad(&p, "D_out");
    /* 0-1: the loss gradient, whose clearing opens the loss block */
    pu_fill(&p.bwd, dout, 0, 0)->opens = OPEN_LOSS;
    PU_CALL(&p.bwd, K_XENT_BACKWARD, 0, 0, karg_buf(dout, ACC_ACCUM), karg_buf(x, ACC_READ),
            karg_target(0), karg_batch(), karg_int(8), karg_int(1));
    /* 2-3: a kernel with a store mode */
    pu_fill(&p.bwd, da, 1, 0);
    PU_CALL(&p.bwd, K_RELU_BACKWARD, 1, 0, karg_buf(da, ACC_ACCUM), karg_buf(dout, ACC_READ),
            karg_buf(x, ACC_READ), karg_len(8));
    /* 4-6: rt_acc's first contribution becomes rt_copy; the second still adds */
    pu_fill(&p.bwd, db, 2, 0);
    PU_CALL(&p.bwd, K_ACC, 2, 0, karg_buf(db, ACC_ACCUM), karg_buf(da, ACC_READ), karg_len(8));
    PU_CALL(&p.bwd, K_ACC, 3, 0, karg_buf(db, ACC_ACCUM), karg_buf(dout, ACC_READ), karg_len(8));
    /* 7-8: the first contribution runs only with dx, the clearing always: kept */
    pu_fill(&p.bwd, dc, 4, 0);
    PU_CALL(&p.bwd, K_ACC, 4, G_DX, karg_buf(dc, ACC_ACCUM), karg_buf(da, ACC_READ), karg_len(8));
    /* 9-10: the buffer is read before anything writes it: kept */
    pu_fill(&p.bwd, dd, 5, 0);
    PU_CALL(&p.bwd, K_SUMSQ, 5, 0, karg_buf(dd, ACC_READ), karg_batch(), karg_int(8),
            karg_stride(0));
    /* 11-12: the first contribution also reads the buffer: kept */
    pu_fill(&p.bwd, de, 6, 0);
    PU_CALL(&p.bwd, K_ACC, 6, 0, karg_buf(de, ACC_ACCUM), karg_buf(de, ACC_READ), karg_len(8));
    /* 13-14: a clearing and a first contribution both under if (dx): goes */
    pu_fill(&p.bwd, df, 7, G_DX);
    PU_CALL(&p.bwd, K_ACC, 7, G_DX, karg_buf(df, ACC_ACCUM), karg_buf(da, ACC_READ), karg_len(8));

    assert_int_equal(pass_write_first(&p), 4);
    assert_int_equal(p.bwd.n, 15 - 4);
    assert_int_equal(p.bwd.v[0].k, K_XENT_BACKWARD);
    assert_int_equal(p.bwd.v[0].opens, OPEN_LOSS);
    assert_int_equal(p.bwd.v[0].args[0].access, ACC_WRITE);
    assert_int_equal(p.bwd.v[1].k, K_RELU_BACKWARD);
    assert_int_equal(p.bwd.v[1].args[0].access, ACC_WRITE);
    assert_int_equal(p.bwd.v[2].k, K_COPY);
    assert_int_equal(p.bwd.v[2].args[0].access, ACC_WRITE);
    assert_int_equal(p.bwd.v[3].k, K_ACC);
    assert_int_equal(p.bwd.v[3].args[0].access, ACC_ACCUM);
    assert_int_equal(p.bwd.v[4].k, K_FILL);
    assert_int_equal(p.bwd.v[5].args[0].access, ACC_ACCUM);
    assert_int_equal(p.bwd.v[6].k, K_FILL);
    assert_int_equal(p.bwd.v[8].k, K_FILL);
    assert_int_equal(p.bwd.v[9].args[0].access, ACC_ACCUM);
    assert_int_equal(p.bwd.v[10].k, K_COPY);
    /* Nothing is left to remove: the pass is idempotent. */
    assert_int_equal(pass_write_first(&p), 0);
    kprog_free(&p);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_write_first)};
    return cmocka_run_group_tests_name("pass write-first", tests, NULL, NULL);
}
