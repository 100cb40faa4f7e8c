/*
** test_rt_loss.c: softmax cross-entropy (per pixel and per sample) and MSE
** against double references, and their gradients against central
** differences of the returned mean loss.
**
** Forward tolerance 1e-6 relative: the kernels sum in double and round
** once to float at the end.
** Backward: h = 1e-2, tol = 1e-3. The loss comes back as a float, so each
** difference carries ~1e-7*L of rounding, about 1e-5 after dividing by
** 2h, against gradients of size ~1/(n*hw); the smooth O(h^2) truncation
** term is smaller still. Measured worst/tol stays below 0.2.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rt.h"
#include "grad_check.h"

#define H   1e-2
#define TOL 1e-3

typedef struct { int n, c, hw; float *x; int32_t *labels; } XentCase;

/* Mean of -log softmax(x)[label] in double, from logits minus 'shift'
** (exact in double), so the naive exp cannot overflow. */
static double ref_xent(const XentCase *t, double shift) {
    double total = 0;
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < t->hw; j++) {
            double z = 0;
            for (int k = 0; k < t->c; k++) z += exp(t->x[(i * t->c + k) * t->hw + j] - shift);
            int l = t->labels[i * t->hw + j];
            total += log(z) - (t->x[(i * t->c + l) * t->hw + j] - shift);
        }
    return total / (t->n * t->hw);
}

static double xent_loss(void *p) {
    XentCase *t = p;
    return rt_xent_forward(t->x, t->labels, t->n, t->c, t->hw);
}

static XentCase xent_new(int n, int c, int hw, float lo, float hi) {
    XentCase t = {n, c, hw, tr_alloc((size_t)n * c * hw), calloc((size_t)n * hw, 4)};
    tr_fill(t.x, (size_t)n * c * hw, lo, hi);
    for (int i = 0; i < n * hw; i++) t.labels[i] = (int32_t)(tr_uniform(0, 1) * c) % c;
    return t;
}

static void check_xent(int n, int c, int hw, const char *label) {
    XentCase t = xent_new(n, c, hw, -3, 3);
    size_t len = (size_t)n * c * hw;
    double ref = ref_xent(&t, 0);
    assert_true(fabs(xent_loss(&t) - ref) < 1e-6 * ref);
    float *dx = tr_primed(len);
    rt_xent_backward(dx, t.x, t.labels, n, c, hw, RT_ADD);
    tr_unprime(dx, len);
    TR_CHECK_SET(len, rt_xent_backward(dx_, t.x, t.labels, n, c, hw, st_));
    assert_true(gc_check(label, xent_loss, &t, t.x, dx, len, H, TOL, NULL) < 1);
    free(t.x); free(t.labels); free(dx);
}

static void test_xent_per_pixel(void **s) { (void)s; tr_seed(41); check_xent(2, 5, 6, "xent per-pixel"); }
static void test_xent_classify(void **s) { (void)s; tr_seed(42); check_xent(7, 10, 1, "xent classify"); }

/*
** Logits near 1000 overflow a naive exp even in double; the kernel must
** subtract the maximum. Its gradients must stay finite and each position's
** softmax-minus-onehot must sum to zero.
*/
static void test_xent_large_logits(void **state) {
    (void)state;
    tr_seed(43);
    int n = 2, c = 4, hw = 3;
    XentCase t = xent_new(n, c, hw, 995, 1005);
    double ref = ref_xent(&t, 1000);
    float loss = rt_xent_forward(t.x, t.labels, n, c, hw);
    assert_true(isfinite(loss) && fabs(loss - ref) < 1e-5 * (1 + ref));
    float dx[24] = {0};
    rt_xent_backward(dx, t.x, t.labels, n, c, hw, RT_ADD);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            double s = 0;
            for (int k = 0; k < c; k++) {
                assert_true(isfinite(dx[(i * c + k) * hw + j]));
                s += dx[(i * c + k) * hw + j];
            }
            assert_true(fabs(s) < 1e-7);
        }
    free(t.x); free(t.labels);
}

typedef struct { float pred[29], target[29]; } MseCase;

static double mse_loss(void *p) {
    MseCase *t = p;
    return rt_mse_forward(t->pred, t->target, 29);
}

static void test_mse(void **state) {
    (void)state;
    tr_seed(44);
    MseCase t;
    tr_fill(t.pred, 29, -2, 2); tr_fill(t.target, 29, -2, 2);
    double ref = 0;
    for (int i = 0; i < 29; i++) ref += ((double)t.pred[i] - t.target[i]) * (t.pred[i] - t.target[i]);
    ref /= 29;
    assert_true(fabs(mse_loss(&t) - ref) < 1e-6 * ref);
    float *dx = tr_primed(29);
    rt_mse_backward(dx, t.pred, t.target, 29, RT_ADD);
    tr_unprime(dx, 29);
    TR_CHECK_SET(29, rt_mse_backward(dx_, t.pred, t.target, 29, st_));
    assert_true(gc_check("mse", mse_loss, &t, t.pred, dx, 29, H, TOL, NULL) < 1);
    free(dx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xent_per_pixel),
        cmocka_unit_test(test_xent_classify),
        cmocka_unit_test(test_xent_large_logits),
        cmocka_unit_test(test_mse),
    };
    return cmocka_run_group_tests_name("rt_loss", tests, NULL, NULL);
}
