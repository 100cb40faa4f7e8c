/*
** test_rt_optim.c: SGD and AdamW against two steps worked by hand from
** the update rules documented for torch.optim.SGD and torch.optim.AdamW,
** and against a double reference of the same rules on a vector whose
** gradient changes between steps.
**
** Hand-worked case: one weight w = 1, gradient 0.5 on both steps,
** lr = 0.1, weight decay 0.01.
**   SGD, momentum 0.9 (PyTorch: buf = g' on step 1, then 0.9 buf + g'):
**     step 1: g' = 0.51,    buf = 0.51,    w = 1 - 0.051         = 0.949
**     step 2: g' = 0.50949, buf = 0.96849, w = 0.949 - 0.096849  = 0.852151
**   Nesterov (step = g' + 0.9 buf):
**     step 1: step = 0.969,                w = 0.9031
**     step 2: g' = 0.509031, buf = 0.968031, step = 1.3802589,
**             w = 0.9031 - 0.13802589 = 0.76507411
**   AdamW, betas (0.9, 0.999), eps 1e-8 (decay w *= 1 - lr*wd first):
**     step 1: w = 0.999, m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25,
**             w = 0.999 - 0.1*0.5/(0.5 + 1e-8)             = 0.899000002
**     step 2: w = 0.898101002, m = 0.095, v = 0.00049975,
**             mhat = 0.095/0.19 = 0.5, vhat = 0.00049975/0.001999 = 0.25,
**             w = 0.898101002 - 0.099999998                 = 0.798101004
** Float tolerance 1e-6: a few float roundings on values near 1.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rt.h"
#include "grad_check.h"

static void test_sgd_hand_worked(void **state) {
    (void)state;
    float w = 1, g = 0.5f, buf = 0;
    rt_sgd_step(&w, &g, &buf, 1, 0.1f, 0.9f, 0.01f, 0);
    assert_true(fabs(w - 0.949) < 1e-6 && fabs(buf - 0.51) < 1e-6);
    rt_sgd_step(&w, &g, &buf, 1, 0.1f, 0.9f, 0.01f, 0);
    assert_true(fabs(w - 0.852151) < 1e-6 && fabs(buf - 0.96849) < 1e-6);
    w = 1; buf = 0;
    rt_sgd_step(&w, &g, &buf, 1, 0.1f, 0.9f, 0.01f, 1);
    assert_true(fabs(w - 0.9031) < 1e-6);
    rt_sgd_step(&w, &g, &buf, 1, 0.1f, 0.9f, 0.01f, 1);
    assert_true(fabs(w - 0.76507411) < 1e-6);
}

static void test_adamw_hand_worked(void **state) {
    (void)state;
    float w = 1, g = 0.5f, m = 0, v = 0;
    rt_adamw_step(&w, &g, &m, &v, 1, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f);
    assert_true(fabs(w - 0.899000002) < 1e-6);
    rt_adamw_step(&w, &g, &m, &v, 1, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f);
    assert_true(fabs(w - 0.798101004) < 1e-6);
    /* v is off by ~1e-5 relative: 1 - 0.999f is 0.00099998713, not 0.001 */
    assert_true(fabs(m - 0.095) < 1e-7 && fabs(v / 0.00049975 - 1) < 1e-4);
}

#define N 19

/*
** Two SGD steps with different gradients against the PyTorch rule in
** double, buf initialised to g' on the first step as PyTorch does.
*/
static void check_sgd_vector(float momentum, float wd, int nesterov) {
    float w[N], g[2][N], buf[N] = {0};
    double rw[N], rb[N];
    tr_fill(w, N, -1, 1); tr_fill(g[0], N, -1, 1); tr_fill(g[1], N, -1, 1);
    for (int i = 0; i < N; i++) rw[i] = w[i];
    for (int t = 0; t < 2; t++) {
        rt_sgd_step(w, g[t], momentum ? buf : NULL, N, 0.05f, momentum, wd, nesterov);
        for (int i = 0; i < N; i++) {
            double d = g[t][i] + (double)wd * rw[i];
            rb[i] = t == 0 ? d : (double)momentum * rb[i] + d;
            rw[i] -= 0.05 * (nesterov ? d + (double)momentum * rb[i] : rb[i]);
        }
    }
    for (int i = 0; i < N; i++) assert_true(fabs(w[i] - rw[i]) < 1e-6);
}

static void test_sgd_vector(void **state) {
    (void)state;
    tr_seed(51);
    check_sgd_vector(0.9f, 5e-4f, 0);
    check_sgd_vector(0.9f, 5e-4f, 1);
    check_sgd_vector(0.0f, 1e-2f, 0);   /* plain SGD, no momentum buffer */
}

static void test_adamw_vector(void **state) {
    (void)state;
    tr_seed(52);
    float w[N], g[3][N], m[N] = {0}, v[N] = {0};
    double rw[N], rm[N] = {0}, rv[N] = {0}, lr = 1e-3, b1 = 0.9, b2 = 0.999, wd = 0.05;
    tr_fill(w, N, -1, 1);
    for (int t = 0; t < 3; t++) tr_fill(g[t], N, -1, 1);
    for (int i = 0; i < N; i++) rw[i] = w[i];
    for (int t = 1; t <= 3; t++) {
        rt_adamw_step(w, g[t - 1], m, v, N, t, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f);
        for (int i = 0; i < N; i++) {
            double gi = g[t - 1][i];
            rw[i] -= lr * wd * rw[i];
            rm[i] = b1 * rm[i] + (1 - b1) * gi;
            rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
            double mh = rm[i] / (1 - pow(b1, t)), vh = rv[i] / (1 - pow(b2, t));
            rw[i] -= lr * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < N; i++) assert_true(fabs(w[i] - rw[i]) < 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_hand_worked),
        cmocka_unit_test(test_adamw_hand_worked),
        cmocka_unit_test(test_sgd_vector),
        cmocka_unit_test(test_adamw_vector),
    };
    return cmocka_run_group_tests_name("rt_optim", tests, NULL, NULL);
}
