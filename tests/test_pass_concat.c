/*
** test_pass_concat.c: the zero-copy concat pass on programs built by hand,
** shaped as a network writes them: two pooling layers read x and feed
** y = concat{a, b}, which a third pooling layer reads; backward mirrors
** it. Then what must keep its copy: an input some kernel reads only
** dense (a relu), an input whose gradient gets a contribution before the
** concat's backward, and a concat whose gradient is read afterwards.
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
    int x, a, b, y, z, dx, da, db, dy, dz;
} Net;

static int buffer(KProgram *p, BufKind kind, const char *name, int64_t floats) {
    return kprog_new_buffer(p, kind, name, -1, REGION_BATCH, floats);
}

static void geom(KProgram *p, const char *type, int node, int64_t xs, int64_t ys) {
    KGeom *g = kprog_new_geom(p, type, node);
    g->xs = xs;
    g->ys = ys;
}

static KCall *at(KCall *c, int node, int opens) {
    c->node = node;
    c->opens = opens ? OPEN_LAYER : OPEN_NONE;
    return c;
}

/* The concat's call giving input at channel off (of 2, 4 floats each). */
static void concat_fwd(Net *q, int in, int off, int opens) {
    at(PU_CALL(&q->p.fwd, K_CONCAT_FORWARD, 2, 0, karg_buf(q->y, ACC_WRITE),
               karg_buf(in, ACC_READ), karg_batch(), karg_int(2), karg_int(off), karg_int(1),
               karg_int(4)), 2, opens);
}

static void concat_bwd(Net *q, int din, int off, Access acc, int opens) {
    at(PU_CALL(&q->p.bwd, K_CONCAT_BACKWARD, 5, 0, karg_buf(din, acc),
               karg_buf(q->dy, ACC_READ), karg_batch(), karg_int(2), karg_int(off), karg_int(1),
               karg_int(4)), 2, opens);
}

/* Forward: a = pool0(x), b = pool1(x), y = concat{a, b}, z = pool3(y).
** Backward up to, not including, the concat's. */
static void net_new(Net *q) {
    KProgram *p = &q->p;
    q->g = ir_graph_new();
    kprog_init(p, q->g);
    q->x = buffer(p, BUF_VALUE, "X_x", 4);
    q->a = buffer(p, BUF_VALUE, "X_a", 4);
    q->b = buffer(p, BUF_VALUE, "X_b", 4);
    q->y = buffer(p, BUF_VALUE, "X_y", 8);
    q->z = buffer(p, BUF_VALUE, "X_z", 2);
    q->dx = buffer(p, BUF_GRAD, "D_x", 4);
    q->da = buffer(p, BUF_GRAD, "D_a", 4);
    q->db = buffer(p, BUF_GRAD, "D_b", 4);
    q->dy = buffer(p, BUF_GRAD, "D_y", 8);
    q->dz = buffer(p, BUF_GRAD, "D_z", 2);
    geom(p, "RtPool", 0, 4, 4);
    geom(p, "RtPool", 1, 4, 4);
    geom(p, "RtPool", 3, 8, 2);
    at(PU_CALL(&p->fwd, K_MAXPOOL_FORWARD, 0, 0, karg_buf(q->a, ACC_WRITE),
               karg_buf(q->x, ACC_READ), karg_batch(), karg_geom(0)), 0, 1);
    at(PU_CALL(&p->fwd, K_MAXPOOL_FORWARD, 1, 0, karg_buf(q->b, ACC_WRITE),
               karg_buf(q->x, ACC_READ), karg_batch(), karg_geom(1)), 1, 1);
    concat_fwd(q, q->a, 0, 1);
    concat_fwd(q, q->b, 1, 0);
    at(PU_CALL(&p->fwd, K_AVGPOOL_FORWARD, 3, 0, karg_buf(q->z, ACC_WRITE),
               karg_buf(q->y, ACC_READ), karg_batch(), karg_geom(3)), 3, 1);
    at(PU_CALL(&p->bwd, K_AVGPOOL_BACKWARD, 4, 0, karg_buf(q->dy, ACC_WRITE),
               karg_buf(q->dz, ACC_READ), karg_batch(), karg_geom(3)), 3, 1);
}

/* The concat's backward calls, then the pools' (b's first). */
static void net_finish(Net *q, Access a_acc, Access b_acc) {
    KProgram *p = &q->p;
    concat_bwd(q, q->da, 0, a_acc, 1);
    concat_bwd(q, q->db, 1, b_acc, 0);
    at(PU_CALL(&p->bwd, K_MAXPOOL_BACKWARD, 6, 0, karg_buf(q->dx, ACC_WRITE),
               karg_buf(q->db, ACC_READ), karg_buf(q->x, ACC_READ), karg_batch(), karg_geom(1)),
       1, 1);
    at(PU_CALL(&p->bwd, K_MAXPOOL_BACKWARD, 7, 0, karg_buf(q->dx, ACC_ACCUM),
               karg_buf(q->da, ACC_READ), karg_buf(q->x, ACC_READ), karg_batch(), karg_geom(0)),
       0, 1);
}

static void net_free(Net *q) {
    kprog_free(&q->p);
    ir_graph_free(q->g);
}

static int count_kernel(const KList *l, KernelId k) {
    int n = 0;
    for (int i = 0; i < l->n; i++) n += l->v[i].k == k;
    return n;
}

static void assert_slice(const KProgram *p, int b, int parent, int64_t off) {
    assert_int_equal(p->bufs[b].parent, parent);
    assert_int_equal(p->bufs[b].slice_off, off);
}

static void test_both_in_place(void **state) {
    Net q;
    (void)state;
    net_new(&q);
    net_finish(&q, ACC_WRITE, ACC_WRITE);
    assert_int_equal(pass_concat(&q.p), 2);
    assert_slice(&q.p, q.a, q.y, 0);
    assert_slice(&q.p, q.b, q.y, 4);
    assert_slice(&q.p, q.da, q.dy, 0);
    assert_slice(&q.p, q.db, q.dy, 4);
    assert_int_equal(count_kernel(&q.p.fwd, K_CONCAT_FORWARD), 0);
    assert_int_equal(count_kernel(&q.p.bwd, K_CONCAT_BACKWARD), 0);
    /* the layer keeps its place in the code, as a note */
    assert_int_equal(q.p.fwd.v[2].k, K_IN_PLACE);
    assert_int_equal(q.p.fwd.v[2].opens, OPEN_LAYER);
    assert_int_equal(q.p.bwd.v[1].k, K_IN_PLACE);
    /* the pools writing a and b find their samples y's 8 floats apart */
    assert_int_equal(q.p.geoms[0].ys, 8);
    assert_int_equal(q.p.geoms[1].ys, 8);
    assert_int_equal(q.p.geoms[0].xs, 4);
    assert_int_equal(kbuf_stride(&q.p, q.b), 8);
    assert_int_equal(kprog_layout(&q.p, q.p.geoms, q.p.ngeoms, 0), 0);
    net_free(&q);
}

/* A relu reads a: it takes dense tensors only, so a keeps its copy. */
static void test_dense_reader(void **state) {
    Net q;
    int r;
    (void)state;
    net_new(&q);
    r = buffer(&q.p, BUF_VALUE, "X_r", 4);
    at(PU_CALL(&q.p.fwd, K_RELU_FORWARD, 3, 0, karg_buf(r, ACC_WRITE), karg_buf(q.a, ACC_READ),
               karg_len(4)), 4, 1);
    net_finish(&q, ACC_WRITE, ACC_WRITE);
    assert_int_equal(pass_concat(&q.p), 1);
    assert_int_equal(q.p.bufs[q.a].parent, -1);
    assert_int_equal(q.p.bufs[q.da].parent, -1);
    assert_slice(&q.p, q.b, q.y, 4);
    assert_int_equal(count_kernel(&q.p.fwd, K_CONCAT_FORWARD), 1);
    assert_int_equal(count_kernel(&q.p.bwd, K_CONCAT_BACKWARD), 1);
    assert_int_equal(kprog_layout(&q.p, q.p.geoms, q.p.ngeoms, 0), 0);
    net_free(&q);
}

/* db gets a contribution before the concat's backward, which then adds:
** b keeps its copy (its slice of dy would be overwritten by nothing, but
** the earlier contribution would be lost). */
static void test_gradient_first(void **state) {
    Net q;
    (void)state;
    net_new(&q);
    at(PU_CALL(&q.p.bwd, K_COPY, 4, 0, karg_buf(q.db, ACC_WRITE), karg_buf(q.dz, ACC_READ),
               karg_len(2)), 3, 0);
    net_finish(&q, ACC_WRITE, ACC_ACCUM);
    assert_int_equal(pass_concat(&q.p), 1);
    assert_slice(&q.p, q.a, q.y, 0);
    assert_int_equal(q.p.bufs[q.b].parent, -1);
    assert_int_equal(q.p.bufs[q.db].parent, -1);
    net_free(&q);
}

/* dy is read after the concat's backward step: its memory is not free to
** become da and db, so nothing moves. */
static void test_gradient_read_later(void **state) {
    Net q;
    (void)state;
    net_new(&q);
    net_finish(&q, ACC_WRITE, ACC_WRITE);
    PU_CALL(&q.p.bwd, K_SUMSQ, 6, 0, karg_buf(q.dy, ACC_READ), karg_batch(), karg_int(8),
            karg_stride(0));
    assert_int_equal(pass_concat(&q.p), 0);
    assert_int_equal(count_kernel(&q.p.fwd, K_CONCAT_FORWARD), 2);
    assert_int_equal(count_kernel(&q.p.bwd, K_CONCAT_BACKWARD), 2);
    for (int i = 0; i < q.p.nbufs; i++) assert_int_equal(q.p.bufs[i].parent, -1);
    net_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_in_place),
        cmocka_unit_test(test_dense_reader),
        cmocka_unit_test(test_gradient_first),
        cmocka_unit_test(test_gradient_read_later),
    };
    return cmocka_run_group_tests_name("pass_concat", tests, NULL, NULL);
}
