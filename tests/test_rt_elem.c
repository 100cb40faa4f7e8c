/*
** test_rt_elem.c: activations and elementwise arithmetic against scalar
** double references, backward against central differences, and a check
** that the gradient checker itself rejects wrong gradients.
**
** LEN = 37 is not a multiple of any vector width, so every vectorized
** loop's remainder is exercised too.
** Forward tolerance 1e-6 (tr_maxrel): one float operation per element,
** or expf/tanhf, which glibc keeps within a few ulp.
** Backward: h = 1e-2, tol = 1e-3. ReLU and leaky ReLU are piecewise
** linear (exact quotients away from 0; points within h of 0 are skipped);
** sigmoid and tanh add an O(h^2) truncation error, measured well below tol.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "rt.h"
#include "grad_check.h"

#define LEN 37
#define H   1e-2
#define TOL 1e-3
#define SLOPE 0.1f

enum { RELU, LEAKY, SIGMOID, TANH };

typedef struct { int act; float x[LEN], out[LEN], r[LEN]; } ActCase;

static void act_forward(float *out, const float *x, int act) {
    switch (act) {
    case RELU: rt_relu_forward(out, x, LEN); break;
    case LEAKY: rt_leaky_relu_forward(out, x, SLOPE, LEN); break;
    case SIGMOID: rt_sigmoid_forward(out, x, LEN); break;
    default: rt_tanh_forward(out, x, LEN); break;
    }
}

static void act_backward(float *dx, const ActCase *t, RtStore st) {
    switch (t->act) {
    case RELU: rt_relu_backward(dx, t->r, t->out, LEN, st); break;
    case LEAKY: rt_leaky_relu_backward(dx, t->r, t->x, SLOPE, LEN, st); break;
    case SIGMOID: rt_sigmoid_backward(dx, t->r, t->out, LEN, st); break;
    default: rt_tanh_backward(dx, t->r, t->out, LEN, st); break;
    }
}

static double ref_act(double x, int act) {
    switch (act) {
    case RELU: return x > 0 ? x : 0;
    case LEAKY: return x > 0 ? x : (double)SLOPE * x;
    case SIGMOID: return 1 / (1 + exp(-x));
    default: return tanh(x);
    }
}

static double act_loss(void *p) {
    ActCase *t = p;
    act_forward(t->out, t->x, t->act);
    return gc_dot(t->out, t->r, LEN);
}

/* ReLU-like kinks sit at 0: a perturbation of h crosses it when |x| <= h. */
static int near_zero(void *ctx, const float *x, size_t i, double h) {
    (void)ctx;
    return fabs((double)x[i]) <= h;
}

/* Forward against ref_act, then backward against central differences. */
static void check_act(int act, const char *label) {
    ActCase t = {act, {0}, {0}, {0}};
    float ref[LEN], *dx = tr_primed(LEN);
    tr_fill(t.x, LEN, -3, 3); tr_fill(t.r, LEN, -1, 1);
    act_forward(t.out, t.x, act);
    for (int i = 0; i < LEN; i++) ref[i] = (float)ref_act(t.x[i], act);
    assert_true(tr_maxrel(t.out, ref, LEN) < 1e-6);
    act_backward(dx, &t, RT_ADD);
    tr_unprime(dx, LEN);
    TR_CHECK_SET(LEN, act_backward(dx_, &t, st_));
    GcSkip kink = (act == RELU || act == LEAKY) ? near_zero : NULL;
    assert_true(gc_check(label, act_loss, &t, t.x, dx, LEN, H, TOL, kink) < 1);
    free(dx);
}

static void test_relu(void **s) { (void)s; tr_seed(21); check_act(RELU, "relu"); }
static void test_leaky_relu(void **s) { (void)s; tr_seed(22); check_act(LEAKY, "leaky_relu"); }
static void test_sigmoid(void **s) { (void)s; tr_seed(23); check_act(SIGMOID, "sigmoid"); }
static void test_tanh(void **s) { (void)s; tr_seed(24); check_act(TANH, "tanh"); }

/*
** The checker must reject a gradient that is 1% off, or one with two
** elements swapped, otherwise a passing check proves nothing.
*/
static void test_checker_rejects_wrong_gradients(void **state) {
    (void)state;
    tr_seed(25);
    ActCase t = {SIGMOID, {0}, {0}, {0}};
    float dx[LEN] = {0}, bad[LEN];
    tr_fill(t.x, LEN, -3, 3); tr_fill(t.r, LEN, -1, 1);
    act_forward(t.out, t.x, SIGMOID);
    act_backward(dx, &t, RT_ADD);
    for (int i = 0; i < LEN; i++) bad[i] = dx[i] * 1.01f;
    assert_true(gc_check("scaled 1.01", act_loss, &t, t.x, bad, LEN, H, TOL, NULL) > 1);
    memcpy(bad, dx, sizeof bad);
    bad[3] = dx[4]; bad[4] = dx[3];
    assert_true(gc_check("swapped", act_loss, &t, t.x, bad, LEN, H, TOL, NULL) > 1);
    float zero[LEN] = {0};   /* an all-zero gradient must not pass vacuously */
    assert_true(gc_check("all zero", act_loss, &t, t.x, zero, LEN, H, TOL, NULL) > 1);
}

/* {====================================================================
** Arithmetic
** ===================================================================== */

static void test_add_acc_scale(void **state) {
    (void)state;
    tr_seed(26);
    float a[LEN], b[LEN], out[LEN], y[LEN];
    tr_fill(a, LEN, -2, 2); tr_fill(b, LEN, -2, 2);
    rt_add_forward(out, a, b, LEN);
    for (int i = 0; i < LEN; i++) assert_true(out[i] == a[i] + b[i]);
    rt_add_relu_forward(out, a, b, LEN);
    for (int i = 0; i < LEN; i++) assert_true(out[i] == (a[i] + b[i] > 0 ? a[i] + b[i] : 0.0f));
    memcpy(y, a, sizeof y);
    rt_acc(y, b, LEN);
    for (int i = 0; i < LEN; i++) assert_true(y[i] == a[i] + b[i]);
    for (int i = 0; i < LEN; i++) y[i] = NAN;
    rt_copy(y, b, LEN);
    assert_memory_equal(y, b, sizeof y);
    memcpy(y, a, sizeof y);
    rt_scale(y, -0.75f, LEN);
    for (int i = 0; i < LEN; i++) assert_true(y[i] == a[i] * -0.75f);
}

static void test_sumsq(void **state) {
    (void)state;
    tr_seed(27);
    enum { N = 1003 };   /* not a multiple of the kernel's lane count */
    float x[N];
    tr_fill(x, N, -2, 2);
    for (size_t len = 0; len <= N; len += (len < 20 ? 1 : 97)) {
        double ref = 0;
        for (size_t i = 0; i < len; i++) ref += (double)x[i] * x[i];
        assert_true(fabs(rt_sumsq(x, len) - ref) <= 1e-12 * (1 + ref));
    }
}

/*
** Products: out = a * b over (n,c,hw) with b (n,c,bhw), bhw = hw or 1 (a
** gate per channel). Forward against a loop, both gradients against
** central differences of L = sum(out * r), RT_SET against RT_ADD.
*/
enum { MN = 2, MC = 3, MHW = 5 };
typedef struct { int bhw; float a[MN * MC * MHW], b[MN * MC * MHW], out[MN * MC * MHW],
                 r[MN * MC * MHW]; } MulCase;

static double mul_loss(void *p) {
    MulCase *t = p;
    rt_mul_forward(t->out, t->a, t->b, MN, MC, MHW, t->bhw);
    return gc_dot(t->out, t->r, MN * MC * MHW);
}

static void check_mul(int bhw, const char *label) {
    MulCase t = {bhw, {0}, {0}, {0}, {0}};
    size_t len = MN * MC * MHW, blen = (size_t)MN * MC * bhw;
    float *da = tr_primed(len), *db = tr_primed(blen);
    tr_fill(t.a, len, -2, 2); tr_fill(t.b, blen, -2, 2); tr_fill(t.r, len, -1, 1);
    mul_loss(&t);
    for (size_t i = 0; i < len; i++) {
        size_t pl = i / MHW, q = i % MHW;
        assert_true(t.out[i] == t.a[i] * t.b[pl * bhw + (bhw == 1 ? 0 : q)]);
    }
    rt_mul_backward_a(da, t.r, t.b, MN, MC, MHW, bhw, RT_ADD);
    rt_mul_backward_b(db, t.r, t.a, MN, MC, MHW, bhw, RT_ADD);
    tr_unprime(da, len); tr_unprime(db, blen);
    assert_true(gc_check(label, mul_loss, &t, t.a, da, len, H, TOL, NULL) < 1);
    assert_true(gc_check(label, mul_loss, &t, t.b, db, blen, H, TOL, NULL) < 1);
    TR_CHECK_SET(len, rt_mul_backward_a(dx_, t.r, t.b, MN, MC, MHW, bhw, st_));
    TR_CHECK_SET(blen, rt_mul_backward_b(dx_, t.r, t.a, MN, MC, MHW, bhw, st_));
    rt_mul_backward_a(NULL, t.r, t.b, MN, MC, MHW, bhw, RT_SET);   /* NULL: skipped */
    free(da); free(db);
}

static void test_mul(void **s) { (void)s; tr_seed(28); check_mul(MHW, "mul"); }
static void test_mul_gate(void **s) { (void)s; tr_seed(29); check_mul(1, "mul gate"); }

/* }==================================================================== */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_leaky_relu),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_checker_rejects_wrong_gradients),
        cmocka_unit_test(test_add_acc_scale),
        cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_mul_gate),
    };
    return cmocka_run_group_tests_name("rt_elem", tests, NULL, NULL);
}
