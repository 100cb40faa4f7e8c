/*
** test_pass_add_alias.c: the add-aliasing pass on programs built by hand,
** shaped like a residual block's backward: dy of the add is copied to the
** branch's gradient and to the identity input's, which a convolution of
** the branch later adds into.
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
    int x, dadd, dbranch, didentity, dconv;
} Block;

/* t0: dadd <- relu backward; t1: the add's copies; t2: the branch's
** backward reads dbranch; t3: a conv adds into didentity, reading dconv. */
static void block_new(Block *b) {
    b->g = ir_graph_new();
    kprog_init(&b->p, b->g);
    b->x = pu_value(&b->p, "X_x");
    b->dadd = pu_grad(&b->p, "D_add");
    b->dbranch = pu_grad(&b->p, "D_branch");
    b->didentity = pu_grad(&b->p, "D_identity");
    b->dconv = pu_grad(&b->p, "D_conv");
    PU_CALL(&b->p.bwd, K_RELU_BACKWARD, 0, 0, karg_buf(b->dadd, ACC_WRITE),
            karg_buf(b->dadd, ACC_READ), karg_buf(b->x, ACC_READ), karg_len(8));
    PU_CALL(&b->p.bwd, K_COPY, 1, 0, karg_buf(b->dbranch, ACC_WRITE),
            karg_buf(b->dadd, ACC_READ), karg_len(8));
    PU_CALL(&b->p.bwd, K_COPY, 1, 0, karg_buf(b->didentity, ACC_WRITE),
            karg_buf(b->dadd, ACC_READ), karg_len(8));
    PU_CALL(&b->p.bwd, K_RELU_BACKWARD, 2, 0, karg_buf(b->dconv, ACC_WRITE),
            karg_buf(b->dbranch, ACC_READ), karg_buf(b->x, ACC_READ), karg_len(8));
}

static void block_free(Block *b) {
    kprog_free(&b->p);
    ir_graph_free(b->g);
}

static void add_into_identity(Block *b, int t) {
    PU_CALL(&b->p.bwd, K_ACC, t, 0, karg_buf(b->didentity, ACC_ACCUM),
            karg_buf(b->dconv, ACC_READ), karg_len(8));
}

/* Both copies go: the branch reads dadd, and the identity's later
** accumulation comes after the branch's last read. */
static void test_residual_block_shares(void **state) {
    Block b;
    (void)state;
    block_new(&b);
    add_into_identity(&b, 3);
    assert_int_equal(pass_add_alias(&b.p), 2);
    assert_int_equal(b.p.bwd.n, 3);
    assert_int_equal(b.p.bwd.v[1].args[1].ref, b.dadd);   /* branch reads dadd */
    assert_int_equal(b.p.bwd.v[2].k, K_ACC);
    assert_int_equal(b.p.bwd.v[2].args[0].ref, b.dadd);   /* identity is dadd */
    block_free(&b);
}

/* If the identity's gradient is written while the branch still has to
** read dadd, they cannot share: that copy stays. */
static void test_write_before_last_read_keeps_copy(void **state) {
    Block b;
    (void)state;
    block_new(&b);
    /* move the accumulation before the branch's read */
    add_into_identity(&b, 2);
    {
        KCall acc = b.p.bwd.v[4];
        b.p.bwd.v[4] = b.p.bwd.v[3];
        b.p.bwd.v[3] = acc;
    }
    assert_int_equal(pass_add_alias(&b.p), 1);
    assert_int_equal(b.p.bwd.n, 4);
    assert_int_equal(b.p.bwd.v[1].k, K_COPY);
    assert_int_equal(b.p.bwd.v[1].args[0].ref, b.didentity);
    assert_int_equal(b.p.bwd.v[3].args[1].ref, b.dadd);   /* the branch still shares */
    block_free(&b);
}

/* A copy into a buffer that something touched before is not a fresh
** gradient: it stays. */
static void test_touched_before_keeps_copy(void **state) {
    Block b;
    (void)state;
    block_new(&b);
    b.p.bwd.v[0].args[2] = karg_buf(b.dbranch, ACC_READ);
    assert_int_equal(pass_add_alias(&b.p), 1);
    assert_int_equal(b.p.bwd.v[1].k, K_COPY);
    assert_int_equal(b.p.bwd.v[1].args[0].ref, b.dbranch);
    block_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residual_block_shares),
        cmocka_unit_test(test_write_before_last_read_keeps_copy),
        cmocka_unit_test(test_touched_before_keeps_copy),
    };
    return cmocka_run_group_tests_name("pass add-alias", tests, NULL, NULL);
}
