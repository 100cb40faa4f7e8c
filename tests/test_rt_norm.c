/*
** test_rt_norm.c: batch normalisation against a double reference
** (statistics, output, running-stat update) and central differences.
**
** Forward tolerance 1e-5 (tr_maxrel): the kernel also works in double for
** the statistics, only the final affine map is float.
** Backward: h = 1e-2, tol = 1e-3. Batchnorm is nonlinear in x (through the
** batch mean and variance), so the quotient carries an O(h^2) truncation
** error on top of float rounding; measured, the two together stay near
** 2.5e-5 of amax (worst/tol ~0.025), so tol leaves a 40x margin.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <math.h>

#include "rt.h"
#include "grad_check.h"

#define H   1e-2
#define TOL 1e-3
#define EPS 1e-5f
#define MOMENTUM 0.1f

typedef struct {
    int n, c, hw;
    float *x, *gamma, *beta, *out, *mean, *rstd, *rm, *rv, *r;
} BnCase;

static BnCase bn_new(int n, int c, int hw) {
    size_t len = (size_t)n * c * hw;
    BnCase t = {n, c, hw, tr_alloc(len), tr_alloc(c), tr_alloc(c), tr_alloc(len),
                tr_alloc(c), tr_alloc(c), tr_alloc(c), tr_alloc(c), tr_alloc(len)};
    tr_fill(t.x, len, -1, 3); tr_fill(t.gamma, c, 0.5f, 1.5f);
    tr_fill(t.beta, c, -1, 1); tr_fill(t.r, len, -1, 1);
    tr_fill(t.rm, c, -0.5f, 0.5f); tr_fill(t.rv, c, 0.5f, 2);
    return t;
}

static void bn_free(BnCase *t) {
    free(t->x); free(t->gamma); free(t->beta); free(t->out); free(t->mean);
    free(t->rstd); free(t->rm); free(t->rv); free(t->r);
}

/* Mean and biased variance of channel ch in double, the textbook way. */
static void ref_stats(const BnCase *t, int ch, double *mu, double *var) {
    double m = (double)t->n * t->hw, s = 0, ss = 0;
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < t->hw; j++) s += t->x[(i * t->c + ch) * t->hw + j];
    *mu = s / m;
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < t->hw; j++) {
            double d = t->x[(i * t->c + ch) * t->hw + j] - *mu;
            ss += d * d;
        }
    *var = ss / m;
}

/* Training forward: output, saved mean/rstd, running stats (unbiased var). */
static void check_train_forward(int n, int c, int hw) {
    BnCase t = bn_new(n, c, hw);
    RtNorm g = {c, hw, 0, 0};
    float *rm0 = tr_alloc(c), *rv0 = tr_alloc(c);
    memcpy(rm0, t.rm, c * sizeof(float)); memcpy(rv0, t.rv, c * sizeof(float));
    rt_batchnorm_forward_train(t.out, t.mean, t.rstd, t.rm, t.rv, t.x, t.gamma,
                               t.beta, n, &g, MOMENTUM, EPS);
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        ref_stats(&t, ch, &mu, &var);
        double rs = 1.0 / sqrt(var + EPS);
        assert_true(fabs(t.mean[ch] - mu) < 1e-6 * (1 + fabs(mu)));
        assert_true(fabs(t.rstd[ch] - rs) < 1e-6 * rs);
        assert_true(fabs(t.rm[ch] - (0.9 * rm0[ch] + 0.1 * mu)) < 1e-6);
        double rv = 0.9 * rv0[ch] + 0.1 * var * m / (m - 1);   /* unbiased */
        assert_true(fabs(t.rv[ch] - rv) < 1e-6 * rv);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                int k = (i * c + ch) * hw + j;
                double y = (t.x[k] - mu) * rs * t.gamma[ch] + t.beta[ch];
                assert_true(fabs(t.out[k] - y) < 1e-5 * (1 + fabs(y)));
            }
    }
    free(rm0); free(rv0); bn_free(&t);
}

static void test_bn_train_forward_spatial(void **state) {
    (void)state;
    tr_seed(11);
    check_train_forward(3, 4, 10);
}

static void test_bn_train_forward_vector(void **state) {
    (void)state;
    tr_seed(12);
    check_train_forward(8, 5, 1);
}

static void test_bn_eval_forward(void **state) {
    (void)state;
    tr_seed(13);
    int n = 2, c = 3, hw = 7;
    BnCase t = bn_new(n, c, hw);
    RtNorm g = {c, hw, 0, 0};
    rt_batchnorm_forward_eval(t.out, t.x, t.gamma, t.beta, t.rm, t.rv, n, &g, EPS);
    for (int i = 0; i < n * c * hw; i++) {
        int ch = (i / hw) % c;
        double y = (t.x[i] - t.rm[ch]) / sqrt((double)t.rv[ch] + EPS) * t.gamma[ch]
                   + t.beta[ch];
        assert_true(fabs(t.out[i] - y) < 1e-5 * (1 + fabs(y)));
    }
    bn_free(&t);
}

/* L = sum(out * r) through the training forward; the running stats it
** updates are scratch here. */
static double bn_loss(void *p) {
    BnCase *t = p;
    RtNorm g = {t->c, t->hw, 0, 0};
    rt_batchnorm_forward_train(t->out, t->mean, t->rstd, t->rm, t->rv, t->x,
                               t->gamma, t->beta, t->n, &g, MOMENTUM, EPS);
    return gc_dot(t->out, t->r, (size_t)t->n * t->c * t->hw);
}

static void check_backward(int n, int c, int hw) {
    BnCase t = bn_new(n, c, hw);
    RtNorm g = {c, hw, 0, 0};
    size_t len = (size_t)n * c * hw;
    float *dx = tr_primed(len), *dg = tr_primed(c), *db = tr_primed(c);
    bn_loss(&t);   /* fills mean and rstd */
    rt_batchnorm_backward(dx, dg, db, t.r, t.x, t.mean, t.rstd, t.gamma, n, &g, RT_ADD);
    tr_unprime(dx, len); tr_unprime(dg, c); tr_unprime(db, c);
    TR_CHECK_SET(len, rt_batchnorm_backward(dx_, NULL, NULL, t.r, t.x, t.mean, t.rstd, t.gamma,
                                            n, &g, st_));
    assert_true(gc_check("bn dinp", bn_loss, &t, t.x, dx, len, H, TOL, NULL) < 1);
    assert_true(gc_check("bn dgamma", bn_loss, &t, t.gamma, dg, c, H, TOL, NULL) < 1);
    assert_true(gc_check("bn dbeta", bn_loss, &t, t.beta, db, c, H, TOL, NULL) < 1);
    free(dx); free(dg); free(db); bn_free(&t);
}

static void test_bn_backward_spatial(void **state) {
    (void)state;
    tr_seed(14);
    check_backward(3, 4, 6);
}

static void test_bn_backward_vector(void **state) {
    (void)state;
    tr_seed(15);
    check_backward(6, 3, 1);
}

/*
** The fused kernels give, bit for bit, what the separate kernels give:
** relu(batchnorm(x) + res) forward in training (same running statistics)
** and evaluation, with and without res, and backward with the relu's
** gradient masked in. The separate results were checked above against
** references and finite differences, so this carries those checks over.
*/
static void test_bn_relu_fused(void **state) {
    (void)state;
    tr_seed(16);
    int n = 3, c = 4, hw = 13;
    size_t len = (size_t)n * c * hw;
    RtNorm g = {c, hw, 0, 0};
    for (int with_res = 0; with_res < 2; with_res++) {
        BnCase a = bn_new(n, c, hw), b = bn_new(n, c, hw);
        float *res = tr_alloc(len), *sum = tr_alloc(len), *want = tr_alloc(len);
        float *dy = tr_alloc(len), *dx1 = tr_alloc(len), *dx2 = tr_alloc(len);
        float *dg1 = tr_alloc(c), *db1 = tr_alloc(c), *dg2 = tr_alloc(c), *db2 = tr_alloc(c);
        tr_fill(res, len, -2, 2);
        memcpy(b.x, a.x, len * 4);   /* b: the same inputs as a */ memcpy(b.gamma, a.gamma, c * 4); memcpy(b.beta, a.beta, c * 4);
        memcpy(b.rm, a.rm, c * 4); memcpy(b.rv, a.rv, c * 4);
        /* separate: batchnorm, add, relu */
        rt_batchnorm_forward_train(a.out, a.mean, a.rstd, a.rm, a.rv, a.x, a.gamma, a.beta,
                                   n, &g, MOMENTUM, EPS);
        if (with_res) rt_add_forward(sum, a.out, res, len);
        else memcpy(sum, a.out, len * 4);
        rt_relu_forward(want, sum, len);
        rt_batchnorm_relu_forward_train(b.out, b.mean, b.rstd, b.rm, b.rv, b.x,
                                        with_res ? res : NULL, b.gamma, b.beta, n, &g,
                                        MOMENTUM, EPS);
        assert_memory_equal(b.out, want, len * 4);
        assert_memory_equal(b.rm, a.rm, c * 4);
        assert_memory_equal(b.rv, a.rv, c * 4);
        /* backward: relu's, then batchnorm's, against the fused one */
        tr_fill(dy, len, -1, 1);
        rt_relu_backward(sum, dy, want, len, RT_SET);
        rt_batchnorm_backward(dx1, dg1, db1, sum, a.x, a.mean, a.rstd, a.gamma, n, &g,
                              RT_SET);
        rt_batchnorm_relu_backward(dx2, dg2, db2, dy, b.out, b.x, b.mean, b.rstd, b.gamma,
                                   n, &g, RT_SET);
        assert_memory_equal(dx2, dx1, len * 4);
        assert_memory_equal(dg2, dg1, c * 4);
        assert_memory_equal(db2, db1, c * 4);
        /* evaluation */
        rt_batchnorm_forward_eval(a.out, a.x, a.gamma, a.beta, a.rm, a.rv, n, &g, EPS);
        if (with_res) rt_add_forward(sum, a.out, res, len);
        else memcpy(sum, a.out, len * 4);
        rt_relu_forward(want, sum, len);
        rt_batchnorm_relu_forward_eval(b.out, b.x, with_res ? res : NULL, b.gamma, b.beta, b.rm,
                                       b.rv, n, &g, EPS);
        assert_memory_equal(b.out, want, len * 4);
        free(res); free(sum); free(want); free(dy); free(dx1); free(dx2);
        free(dg1); free(db1); free(dg2); free(db2);
        bn_free(&a); bn_free(&b);
    }
}

/*
** Input and output as channel slices of wider tensors (a concatenation
** written in place): the same bits as dense, in training, evaluation and
** backward, with and without the fused relu, and nothing read or written
** outside the slices (NaN around inputs, a sentinel around outputs).
*/
static void test_bn_slices(void **state) {
    (void)state;
    tr_seed(17);
    int n = 3, c = 3, hw = 10;
    size_t per = (size_t)c * hw, xs = per + 2 * hw, ys = per + hw, xo = hw, yo = hw;
    RtNorm g = {c, hw, 0, 0}, gs = {c, hw, (int)xs, (int)ys};
    for (int relu = 0; relu < 2; relu++) {
        BnCase a = bn_new(n, c, hw), b = bn_new(n, c, hw);
        float *dx = tr_alloc(n * per), *dg = tr_alloc(c), *db = tr_alloc(c);
        float *dg2 = tr_alloc(c), *db2 = tr_alloc(c), *ev = tr_alloc(n * per);
        float *xw = tr_wide(a.x, n, per, xs, xo, NAN), *dyw = tr_wide(a.r, n, per, ys, yo, NAN);
        float *yw = tr_wide(NULL, n, per, ys, yo, 7.0f), *dxw = tr_wide(NULL, n, per, xs, xo, 7.0f);
        float *evw = tr_wide(NULL, n, per, ys, yo, 7.0f);
        memcpy(b.gamma, a.gamma, c * 4); memcpy(b.beta, a.beta, c * 4);
        memcpy(b.rm, a.rm, c * 4); memcpy(b.rv, a.rv, c * 4);
        if (relu) {
            rt_batchnorm_relu_forward_train(a.out, a.mean, a.rstd, a.rm, a.rv, a.x, NULL,
                                            a.gamma, a.beta, n, &g, MOMENTUM, EPS);
            rt_batchnorm_relu_forward_train(yw + yo, b.mean, b.rstd, b.rm, b.rv, xw + xo, NULL,
                                            b.gamma, b.beta, n, &gs, MOMENTUM, EPS);
            rt_batchnorm_relu_backward(dx, dg, db, a.r, a.out, a.x, a.mean, a.rstd, a.gamma, n,
                                       &g, RT_SET);
            rt_batchnorm_relu_backward(dxw + xo, dg2, db2, dyw + yo, yw + yo, xw + xo, b.mean,
                                       b.rstd, b.gamma, n, &gs, RT_SET);
            rt_batchnorm_relu_forward_eval(ev, a.x, NULL, a.gamma, a.beta, a.rm, a.rv, n, &g,
                                           EPS);
            rt_batchnorm_relu_forward_eval(evw + yo, xw + xo, NULL, b.gamma, b.beta, b.rm, b.rv,
                                           n, &gs, EPS);
        } else {
            rt_batchnorm_forward_train(a.out, a.mean, a.rstd, a.rm, a.rv, a.x, a.gamma, a.beta, n,
                                       &g, MOMENTUM, EPS);
            rt_batchnorm_forward_train(yw + yo, b.mean, b.rstd, b.rm, b.rv, xw + xo, b.gamma,
                                       b.beta, n, &gs, MOMENTUM, EPS);
            rt_batchnorm_backward(dx, dg, db, a.r, a.x, a.mean, a.rstd, a.gamma, n, &g, RT_SET);
            rt_batchnorm_backward(dxw + xo, dg2, db2, dyw + yo, xw + xo, b.mean, b.rstd, b.gamma,
                                  n, &gs, RT_SET);
            rt_batchnorm_forward_eval(ev, a.x, a.gamma, a.beta, a.rm, a.rv, n, &g, EPS);
            rt_batchnorm_forward_eval(evw + yo, xw + xo, b.gamma, b.beta, b.rm, b.rv, n, &gs,
                                      EPS);
        }
        assert_true(tr_slice_is(yw, a.out, n, per, ys, yo, 7.0f));
        assert_true(tr_same(b.mean, a.mean, c) && tr_same(b.rstd, a.rstd, c));
        assert_true(tr_same(b.rm, a.rm, c) && tr_same(b.rv, a.rv, c));
        assert_true(tr_slice_is(dxw, dx, n, per, xs, xo, 7.0f));
        assert_true(tr_same(dg2, dg, c) && tr_same(db2, db, c));
        assert_true(tr_slice_is(evw, ev, n, per, ys, yo, 7.0f));
        bn_free(&a); bn_free(&b);
        free(dx); free(dg); free(db); free(dg2); free(db2); free(ev);
        free(xw); free(dyw); free(yw); free(dxw); free(evw);
    }
}

/*
** Folding: a layer y = W x + b followed by an evaluation-mode batchnorm
** equals the folded layer W' x + b' (both in double, from the float
** parameters) to float rounding, and each folded value is the product
** rounded once; a layer without a bias folds as if its bias were zero.
*/
static void check_fold(int oc, int per_oc, int bias) {
    float *w = tr_alloc((size_t)oc * per_oc), *b = tr_alloc(oc), *g = tr_alloc(oc);
    float *be = tr_alloc(oc), *rm = tr_alloc(oc), *rv = tr_alloc(oc), *x = tr_alloc(per_oc);
    float *wf = tr_alloc((size_t)oc * per_oc), *bf = tr_alloc(oc);
    tr_fill(w, (size_t)oc * per_oc, -1, 1); tr_fill(b, oc, -1, 1); tr_fill(g, oc, 0.2f, 2);
    tr_fill(be, oc, -1, 1); tr_fill(rm, oc, -1, 1); tr_fill(rv, oc, 0.01f, 4);
    tr_fill(x, per_oc, -1, 1);
    rt_fold_batchnorm(wf, bf, w, bias ? b : NULL, g, be, rm, rv, oc, (size_t)per_oc, 1e-5f);
    for (int o = 0; o < oc; o++) {
        double s = g[o] / sqrt((double)rv[o] + 1e-5f), ref = bias ? b[o] : 0, got = bf[o];
        for (int i = 0; i < per_oc; i++) {
            assert_true(wf[o * per_oc + i] == (float)(w[o * per_oc + i] * s));
            ref += (double)w[o * per_oc + i] * x[i];
            got += (double)wf[o * per_oc + i] * x[i];
        }
        ref = (ref - rm[o]) * s + be[o];
        assert_true(fabs(got - ref) <= 1e-6 * (1 + fabs(ref)) * per_oc);
    }
    free(w); free(b); free(g); free(be); free(rm); free(rv); free(x); free(wf); free(bf);
}

static void test_fold_batchnorm(void **state) {
    (void)state;
    check_fold(16, 144, 0);
    check_fold(7, 33, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_train_forward_spatial),
        cmocka_unit_test(test_bn_train_forward_vector),
        cmocka_unit_test(test_bn_eval_forward),
        cmocka_unit_test(test_bn_backward_spatial),
        cmocka_unit_test(test_bn_backward_vector),
        cmocka_unit_test(test_bn_relu_fused),
        cmocka_unit_test(test_bn_slices),
        cmocka_unit_test(test_fold_batchnorm),
    };
    return cmocka_run_group_tests_name("rt_norm", tests, NULL, NULL);
}
