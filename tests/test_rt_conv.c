/*
** test_rt_conv.c: conv2d and linear kernels against naive loops (forward)
** and central differences (backward).
**
** Forward tolerance 1e-4 (tr_maxrel): sgemm sums up to c*k*k = 75 float
** products, each rounding ~6e-8 relative, against a double reference.
** Backward: h = 1e-2, tol = 1e-3. Both layers are linear in each argument,
** so the difference quotient has no truncation error; only float rounding
** of the outputs remains, measured at ~1e-5 of amax (worst/tol ~0.01).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rt.h"
#include "grad_check.h"

#define H   1e-2
#define TOL 1e-3

static RtConv geom(int c, int h, int w, int oc, int k, int s, int p, int groups) {
    RtConv g = {c, h, w, oc, k, s, p, groups, (h + 2 * p - k) / s + 1,
                (w + 2 * p - k) / s + 1, 0, 0};
    return g;
}

/* Direct convolution, one output cell at a time, accumulated in double. */
static void ref_conv(float *out, const float *x, const float *wt, const float *b,
                     int n, const RtConv *g) {
    int cg = g->c / g->groups, ocg = g->oc / g->groups, k = g->k;
    for (int s = 0; s < n; s++)
      for (int o = 0; o < g->oc; o++)
        for (int oy = 0; oy < g->oh; oy++)
          for (int ox = 0; ox < g->ow; ox++) {
            double acc = b ? b[o] : 0.0;
            for (int ci = 0; ci < cg; ci++)
              for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                  int iy = oy * g->stride - g->pad + ky, ix = ox * g->stride - g->pad + kx;
                  if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                  int c = (o / ocg) * cg + ci;
                  acc += (double)x[((s * g->c + c) * g->h + iy) * g->w + ix] *
                         wt[((o * cg + ci) * k + ky) * k + kx];
                }
            out[((s * g->oc + o) * g->oh + oy) * g->ow + ox] = (float)acc;
          }
}

typedef struct {
    const RtConv *g;
    int n;
    float *x, *w, *b, *out, *col, *r;
    size_t xl, wl, ol;
} ConvCase;

static double conv_loss(void *p) {
    ConvCase *t = p;
    rt_conv2d_forward(t->out, t->col, t->x, t->w, t->b, t->n, t->g);
    return gc_dot(t->out, t->r, t->ol);
}

static void check_conv_backward(ConvCase *t) {
    const RtConv *g = t->g;
    float *dx = tr_primed(t->xl), *dw = tr_primed(t->wl), *db = tr_primed(g->oc);
    rt_conv2d_backward(dx, dw, t->b ? db : NULL, t->col, t->r, t->x, t->w, t->n, g, RT_ADD);
    tr_unprime(dx, t->xl); tr_unprime(dw, t->wl); tr_unprime(db, g->oc);
    assert_true(gc_check("conv dinp", conv_loss, t, t->x, dx, t->xl, H, TOL, NULL) < 1);
    assert_true(gc_check("conv dw", conv_loss, t, t->w, dw, t->wl, H, TOL, NULL) < 1);
    if (t->b)
        assert_true(gc_check("conv db", conv_loss, t, t->b, db, g->oc, H, TOL, NULL) < 1);
    /* dinp == NULL must leave the weight gradient unchanged */
    float *dw2 = tr_alloc(t->wl);
    rt_conv2d_backward(NULL, dw2, NULL, t->col, t->r, t->x, t->w, t->n, g, RT_ADD);
    assert_true(tr_maxrel(dw2, dw, t->wl) < 1e-5);
    TR_CHECK_SET(t->xl, rt_conv2d_backward(dx_, dw2, NULL, t->col, t->r, t->x, t->w, t->n, g,
                                           st_));
    free(dx); free(dw); free(db); free(dw2);
}

/* Forward against ref_conv, then backward against central differences. */
static void run_conv(RtConv g, int n, int bias) {
    ConvCase t = {&g, n, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0};
    t.xl = (size_t)n * g.c * g.h * g.w;
    t.wl = (size_t)g.oc * (g.c / g.groups) * g.k * g.k;
    t.ol = (size_t)n * g.oc * g.oh * g.ow;
    t.x = tr_alloc(t.xl); t.w = tr_alloc(t.wl); t.out = tr_alloc(t.ol);
    t.r = tr_alloc(t.ol); t.b = bias ? tr_alloc(g.oc) : NULL;
    size_t cf = rt_conv2d_col_floats(&g);
    /* Room for the whole batch, as rt.h promises the kernels; NULL proves
    ** the fast path never reads it. */
    t.col = cf ? tr_alloc(cf * (size_t)n) : NULL;
    tr_fill(t.x, t.xl, -1, 1); tr_fill(t.w, t.wl, -1, 1); tr_fill(t.r, t.ol, -1, 1);
    if (t.b) tr_fill(t.b, g.oc, -1, 1);
    float *ref = tr_alloc(t.ol);
    conv_loss(&t);
    ref_conv(ref, t.x, t.w, t.b, n, &g);
    assert_true(tr_maxrel(t.out, ref, t.ol) < 1e-4);
    check_conv_backward(&t);
    free(t.x); free(t.w); free(t.b); free(t.out); free(t.r); free(t.col); free(ref);
}

static void test_conv_grouped_stride2_pad(void **state) {
    (void)state;
    tr_seed(1);
    run_conv(geom(4, 7, 6, 6, 3, 2, 1, 2), 2, 1);
}

static void test_conv_plain_3x3(void **state) {
    (void)state;
    tr_seed(2);
    run_conv(geom(3, 5, 8, 4, 3, 1, 1, 1), 2, 0);
}

static void test_conv_depthwise(void **state) {
    (void)state;
    tr_seed(3);
    run_conv(geom(4, 6, 5, 4, 3, 1, 1, 4), 2, 1);
}

static void test_conv_5x5_stride3(void **state) {
    (void)state;
    tr_seed(4);
    run_conv(geom(3, 9, 11, 2, 5, 3, 2, 1), 3, 1);
}

static void test_conv_pointwise_fast_path(void **state) {
    (void)state;
    RtConv g = geom(4, 3, 5, 6, 1, 1, 0, 2);
    assert_int_equal(rt_conv2d_col_floats(&g), 0);
    tr_seed(5);
    run_conv(g, 2, 1);
}

static void test_conv_1x1_stride2_unfolds(void **state) {
    (void)state;
    RtConv g = geom(3, 5, 5, 2, 1, 2, 0, 1);
    assert_int_equal(rt_conv2d_col_floats(&g), 3 * 3 * 3);
    tr_seed(6);
    run_conv(g, 2, 0);
}

/*
** A convolution whose input and output are channel slices of wider tensors
** (a concatenation written in place) computes the same bits as the dense
** one, and reads and writes nothing outside its slices: NaN around the
** inputs, a sentinel around the outputs.
*/
static void check_conv_slices(RtConv g, int n) {
    size_t xp = (size_t)g.c * g.h * g.w, yp = (size_t)g.oc * g.oh * g.ow;
    size_t xs = xp + 2 * (size_t)g.h * g.w, ys = yp + 3 * (size_t)g.oh * g.ow;
    size_t xo = (size_t)g.h * g.w, yo = 2 * (size_t)g.oh * g.ow;
    size_t wl = (size_t)g.oc * (g.c / g.groups) * g.k * g.k, cf = rt_conv2d_col_floats(&g);
    float *x = tr_alloc(n * xp), *w = tr_alloc(wl), *dy = tr_alloc(n * yp);
    float *y = tr_alloc(n * yp), *dx = tr_alloc(n * xp), *dw = tr_alloc(wl), *dw2 = tr_alloc(wl);
    float *col = cf ? tr_alloc(cf * (size_t)n) : NULL;
    RtConv gs = g;
    tr_fill(x, n * xp, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(dy, n * yp, -1, 1);
    rt_conv2d_forward(y, col, x, w, NULL, n, &g);
    rt_conv2d_backward(dx, dw, NULL, col, dy, x, w, n, &g, RT_SET);
    gs.xs = (int)xs;
    gs.ys = (int)ys;
    float *xw = tr_wide(x, n, xp, xs, xo, NAN), *dyw = tr_wide(dy, n, yp, ys, yo, NAN);
    float *yw = tr_wide(NULL, n, yp, ys, yo, 7.0f), *dxw = tr_wide(NULL, n, xp, xs, xo, 7.0f);
    rt_conv2d_forward(yw + yo, col, xw + xo, w, NULL, n, &gs);
    rt_conv2d_backward(dxw + xo, dw2, NULL, col, dyw + yo, xw + xo, w, n, &gs, RT_SET);
    assert_true(tr_slice_is(yw, y, n, yp, ys, yo, 7.0f));
    assert_true(tr_slice_is(dxw, dx, n, xp, xs, xo, 7.0f));
    assert_true(tr_same(dw2, dw, wl));
    free(x); free(w); free(dy); free(y); free(dx); free(dw); free(dw2); free(col);
    free(xw); free(dyw); free(yw); free(dxw);
}

static void test_conv_slices(void **state) {
    (void)state;
    tr_seed(9);
    check_conv_slices(geom(3, 6, 6, 4, 3, 1, 1, 1), 3);   /* same padding: transposed dinp */
    check_conv_slices(geom(4, 5, 5, 6, 1, 1, 0, 1), 2);   /* pointwise: no unfolding */
    check_conv_slices(geom(4, 7, 6, 6, 3, 2, 1, 2), 2);   /* grouped, stride 2 */
}

/* {====================================================================
** Linear
** ===================================================================== */

typedef struct { int n, in, outf; float *x, *w, *b, *out, *r; } LinCase;

static double lin_loss(void *p) {
    LinCase *t = p;
    rt_linear_forward(t->out, t->x, t->w, t->b, t->n, t->in, t->outf);
    return gc_dot(t->out, t->r, (size_t)t->n * t->outf);
}

static void ref_linear(float *out, const LinCase *t) {
    for (int s = 0; s < t->n; s++)
        for (int o = 0; o < t->outf; o++) {
            double acc = t->b ? t->b[o] : 0.0;
            for (int i = 0; i < t->in; i++)
                acc += (double)t->x[s * t->in + i] * t->w[o * t->in + i];
            out[s * t->outf + o] = (float)acc;
        }
}

static void run_linear(int n, int in, int outf, int bias) {
    size_t xl = (size_t)n * in, wl = (size_t)outf * in, ol = (size_t)n * outf;
    LinCase t = {n, in, outf, tr_alloc(xl), tr_alloc(wl), bias ? tr_alloc(outf) : NULL,
                 tr_alloc(ol), tr_alloc(ol)};
    tr_fill(t.x, xl, -1, 1); tr_fill(t.w, wl, -1, 1); tr_fill(t.r, ol, -1, 1);
    if (t.b) tr_fill(t.b, outf, -1, 1);
    float *ref = tr_alloc(ol), *dx = tr_primed(xl), *dw = tr_primed(wl), *db = tr_primed(outf);
    lin_loss(&t);
    ref_linear(ref, &t);
    assert_true(tr_maxrel(t.out, ref, ol) < 1e-5);
    rt_linear_backward(dx, dw, t.b ? db : NULL, t.r, t.x, t.w, n, in, outf, RT_ADD);
    tr_unprime(dx, xl); tr_unprime(dw, wl); tr_unprime(db, outf);
    TR_CHECK_SET(xl, rt_linear_backward(dx_, NULL, NULL, t.r, t.x, t.w, n, in, outf, st_));
    assert_true(gc_check("linear dinp", lin_loss, &t, t.x, dx, xl, H, TOL, NULL) < 1);
    assert_true(gc_check("linear dw", lin_loss, &t, t.w, dw, wl, H, TOL, NULL) < 1);
    if (t.b)
        assert_true(gc_check("linear db", lin_loss, &t, t.b, db, outf, H, TOL, NULL) < 1);
    rt_linear_backward(NULL, dw, NULL, t.r, t.x, t.w, n, in, outf, RT_ADD);  /* NULL dinp */
    free(t.x); free(t.w); free(t.b); free(t.out); free(t.r); free(ref);
    free(dx); free(dw); free(db);
}

static void test_linear_bias(void **state) {
    (void)state;
    tr_seed(7);
    run_linear(3, 5, 4, 1);
}

static void test_linear_no_bias(void **state) {
    (void)state;
    tr_seed(8);
    run_linear(5, 7, 3, 0);
}

/* }==================================================================== */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_grouped_stride2_pad),
        cmocka_unit_test(test_conv_plain_3x3),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_conv_5x5_stride3),
        cmocka_unit_test(test_conv_pointwise_fast_path),
        cmocka_unit_test(test_conv_slices),
        cmocka_unit_test(test_conv_1x1_stride2_unfolds),
        cmocka_unit_test(test_linear_bias),
        cmocka_unit_test(test_linear_no_bias),
    };
    return cmocka_run_group_tests_name("rt_conv", tests, NULL, NULL);
}
