/*
** test_rt_dconv.c: the direct convolution kernels (rt_dconv.c) against
** double-precision loops, over odd shapes: channel counts that are not a
** multiple of the tile (1, 3, 5, 12, 17, 33), planes from 1x1 to 31x17
** (lanes past a plane's end, planes narrower than a vector), 1x1 and 3x3
** kernels, batches 1 and 3. Built twice: with the AVX-512 kernels and with
** the portable ones (RT_PORTABLE).
**
** Tolerance 1e-4 relative (tr_maxrel): a sum of up to 33*9 float products
** (forward, input gradient) or 3*31*17*9 (weight gradient) against a
** double reference.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rt.h"
#include "grad_check.h"

#define TOL 1e-4

static RtConv geom(int c, int h, int w, int oc, int k) {
    RtConv g = {c, h, w, oc, k, 1, (k - 1) / 2, 1, h, w, 0, 0};
    return g;
}

/* x[s][ci][iy][ix], or 0 in the padding */
static double at(const float *x, const RtConv *g, int s, int ci, int iy, int ix) {
    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) return 0.0;
    return x[(((size_t)s * g->c + ci) * g->h + iy) * g->w + ix];
}

static double wt(const float *w, const RtConv *g, int o, int ci, int ky, int kx) {
    return w[(((size_t)o * g->c + ci) * g->k + ky) * g->k + kx];
}

static void ref_forward(float *y, const float *x, const float *w, const float *b, int n,
                        const RtConv *g) {
    int st = g->stride;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < g->oc; o++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double acc = b ? b[o] : 0.0;
                    for (int ci = 0; ci < g->c; ci++)
                        for (int ky = 0; ky < g->k; ky++)
                            for (int kx = 0; kx < g->k; kx++)
                                acc += at(x, g, s, ci, oy * st - g->pad + ky,
                                          ox * st - g->pad + kx) * wt(w, g, o, ci, ky, kx);
                    y[(((size_t)s * g->oc + o) * g->oh + oy) * g->ow + ox] = (float)acc;
                }
}

/* dy[s][o][oy][ox], or 0 outside the plane */
static double dy_at(const float *dy, const RtConv *g, int s, int o, int oy, int ox) {
    if (oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow) return 0.0;
    return dy[(((size_t)s * g->oc + o) * g->oh + oy) * g->ow + ox];
}

/* dx of any stride: the sum over the output pixels that read (iy, ix) */
static void ref_input_grad(float *dx, const float *dy, const float *w, int n, const RtConv *g) {
    int st = g->stride;
    for (int s = 0; s < n; s++)
        for (int ci = 0; ci < g->c; ci++)
            for (int iy = 0; iy < g->h; iy++)
                for (int ix = 0; ix < g->w; ix++) {
                    double acc = 0.0;
                    for (int o = 0; o < g->oc; o++)
                        for (int ky = 0; ky < g->k; ky++)
                            for (int kx = 0; kx < g->k; kx++) {
                                int ty = iy + g->pad - ky, tx = ix + g->pad - kx;
                                if (ty % st || tx % st) continue;
                                acc += dy_at(dy, g, s, o, ty / st, tx / st) *
                                       wt(w, g, o, ci, ky, kx);
                            }
                    dx[(((size_t)s * g->c + ci) * g->h + iy) * g->w + ix] = (float)acc;
                }
}

static void ref_weight_grad(float *dw, const float *dy, const float *x, int n, const RtConv *g) {
    for (int o = 0; o < g->oc; o++)
        for (int ci = 0; ci < g->c; ci++)
            for (int ky = 0; ky < g->k; ky++)
                for (int kx = 0; kx < g->k; kx++) {
                    double acc = 0.0;
                    for (int s = 0; s < n; s++)
                        for (int oy = 0; oy < g->oh; oy++)
                            for (int ox = 0; ox < g->ow; ox++)
                                acc += dy_at(dy, g, s, o, oy, ox) *
                                       at(x, g, s, ci, oy * g->stride - g->pad + ky,
                                          ox * g->stride - g->pad + kx);
                    dw[(((size_t)o * g->c + ci) * g->k + ky) * g->k + kx] = (float)acc;
                }
}

static double ref_bias_grad(const float *dy, int n, const RtConv *g, int o) {
    int ohw = g->oh * g->ow;
    double acc = 0.0;
    for (int s = 0; s < n; s++)
        for (int p = 0; p < ohw; p++) acc += dy[((size_t)s * g->oc + o) * ohw + p];
    return acc;
}

/*
** Forward, input gradient (stored and added), weight and bias gradient
** (added) of one geometry against the references, and the same bits at
** 1, 2 and 3 threads.
*/
static void check_geom(RtConv g, int n) {
    size_t xl = (size_t)n * g.c * g.h * g.w, yl = (size_t)n * g.oc * g.h * g.w;
    size_t wl = (size_t)g.oc * g.c * g.k * g.k;
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *b = tr_alloc(g.oc), *dy = tr_alloc(yl);
    float *y = tr_alloc(yl), *ry = tr_alloc(yl), *rdx = tr_alloc(xl), *rdw = tr_alloc(wl);
    float *dx = tr_primed(xl), *dw = tr_primed(wl), *db = tr_primed(g.oc);
    float *col = tr_alloc(rt_conv_direct_col_floats(g.c, g.oc, g.k, 1, g.h, g.w) *
                          rt_scratch_slices(n));
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(b, g.oc, -1, 1); tr_fill(dy, yl, -1, 1);
    rt_set_threads(1);
    rt_conv2d_direct_forward(y, NULL, x, w, b, n, &g);
    ref_forward(ry, x, w, b, n, &g);
    assert_true(tr_maxrel(y, ry, yl) < TOL);
    rt_conv2d_direct_backward(dx, dw, db, col, dy, x, w, n, &g, RT_ADD);
    tr_unprime(dx, xl); tr_unprime(dw, wl); tr_unprime(db, g.oc);
    ref_input_grad(rdx, dy, w, n, &g);
    ref_weight_grad(rdw, dy, x, n, &g);
    assert_true(tr_maxrel(dx, rdx, xl) < TOL);
    assert_true(tr_maxrel(dw, rdw, wl) < TOL);
    for (int o = 0; o < g.oc; o++)
        assert_true(fabs(db[o] - ref_bias_grad(dy, n, &g, o)) < TOL * (1 + fabs(db[o])));
    float *dw2 = tr_alloc(wl);
    TR_CHECK_SET(xl, rt_conv2d_direct_backward(dx_, dw2, NULL, col, dy, x, w, n, &g, st_));
    for (int nt = 2; nt <= 3; nt++) {
        float *y2 = tr_alloc(yl), *dx2 = tr_alloc(xl), *dw3 = tr_alloc(wl), *dw1 = tr_alloc(wl);
        float *dx1 = tr_alloc(xl);
        rt_set_threads(1);
        rt_conv2d_direct_backward(dx1, dw1, NULL, col, dy, x, w, n, &g, RT_SET);
        rt_set_threads(nt);
        rt_conv2d_direct_forward(y2, NULL, x, w, b, n, &g);
        rt_conv2d_direct_backward(dx2, dw3, NULL, col, dy, x, w, n, &g, RT_SET);
        assert_true(tr_same(y2, y, yl));
        assert_true(tr_same(dx2, dx1, xl));
        assert_true(tr_same(dw3, dw1, wl));
        free(y2); free(dx2); free(dw3); free(dw1); free(dx1);
    }
    rt_set_threads(1);
    free(x); free(w); free(b); free(dy); free(y); free(ry); free(rdx); free(rdw);
    free(dx); free(dw); free(db); free(dw2); free(col);
}

static const int planes[][2] = {
    {1, 1}, {2, 3}, {4, 4}, {5, 7}, {7, 7}, {13, 11}, {14, 14}, {16, 16}, {28, 28}, {31, 17},
};
static const int channels[][2] = {{1, 16}, {3, 5}, {12, 12}, {16, 16}, {17, 33}, {33, 12}};

static void check_all(int k) {
    tr_seed((uint64_t)k);
    for (size_t p = 0; p < sizeof planes / sizeof planes[0]; p++)
        for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++) {
            /* the largest planes with the widest channels only at batch 1 */
            int n = planes[p][0] * planes[p][1] >= 256 && channels[c][0] > 16 ? 1 : 3;
            check_geom(geom(channels[c][0], planes[p][0], planes[p][1], channels[c][1], k), n);
        }
}

static void test_dconv_3x3(void **state) {
    (void)state;
    check_all(3);
}

static void test_dconv_1x1(void **state) {
    (void)state;
    check_all(1);
}

/* The geometry predicate the generator uses: only what the kernels do. */
static void test_dconv_predicate(void **state) {
    (void)state;
    assert_true(rt_conv_is_direct(3, 1, 1, 1, 28, 28));
    assert_true(rt_conv_is_direct(1, 1, 0, 1, 28, 28));
    assert_true(rt_conv_is_direct(3, 2, 1, 1, 28, 28));    /* stride 2: split into phases */
    assert_true(rt_conv_is_direct(1, 2, 0, 1, 28, 28));
    assert_true(rt_conv_direct_backward(3, 2, 1, 1, 28, 28));
    assert_true(rt_conv_direct_backward(3, 1, 1, 1, 28, 28));
    assert_false(rt_conv_is_direct(3, 3, 1, 1, 28, 28));   /* stride 3 */
    assert_false(rt_conv_is_direct(3, 2, 0, 1, 28, 28));   /* stride 2, valid */
    assert_false(rt_conv_is_direct(3, 1, 0, 1, 28, 28));   /* valid padding */
    assert_false(rt_conv_is_direct(3, 1, 1, 2, 28, 28));   /* groups */
    assert_false(rt_conv_is_direct(5, 1, 2, 1, 28, 28));   /* 5x5 */
    assert_true(rt_conv_is_direct(3, 1, 1, 1, 256, 256));
    assert_false(rt_conv_is_direct(3, 1, 1, 1, 257, 256));  /* past the mask table */
}

/*
** Input and output as channel slices of wider tensors (a concatenation
** written in place): the same bits as dense, and nothing read or written
** outside the slices (NaN around inputs, a sentinel around outputs).
*/
static void check_slices(RtConv g, int n) {
    size_t xp = (size_t)g.c * g.h * g.w, yp = (size_t)g.oc * g.h * g.w, hw = (size_t)g.h * g.w;
    size_t xs = xp + 2 * hw, ys = yp + 3 * hw, xo = hw, yo = 2 * hw;
    size_t wl = (size_t)g.oc * g.c * g.k * g.k;
    float *x = tr_alloc(n * xp), *w = tr_alloc(wl), *dy = tr_alloc(n * yp);
    float *y = tr_alloc(n * yp), *dx = tr_alloc(n * xp), *dw = tr_alloc(wl), *dw2 = tr_alloc(wl);
    float *col = tr_alloc(wl * rt_scratch_slices(n));
    RtConv gs = g;
    tr_fill(x, n * xp, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(dy, n * yp, -1, 1);
    rt_conv2d_direct_forward(y, NULL, x, w, NULL, n, &g);
    rt_conv2d_direct_backward(dx, dw, NULL, col, dy, x, w, n, &g, RT_SET);
    gs.xs = (int)xs;
    gs.ys = (int)ys;
    float *xw = tr_wide(x, n, xp, xs, xo, NAN), *dyw = tr_wide(dy, n, yp, ys, yo, NAN);
    float *yw = tr_wide(NULL, n, yp, ys, yo, 7.0f), *dxw = tr_wide(NULL, n, xp, xs, xo, 7.0f);
    rt_conv2d_direct_forward(yw + yo, NULL, xw + xo, w, NULL, n, &gs);
    rt_conv2d_direct_backward(dxw + xo, dw2, NULL, col, dyw + yo, xw + xo, w, n, &gs, RT_SET);
    assert_true(tr_slice_is(yw, y, n, yp, ys, yo, 7.0f));
    assert_true(tr_slice_is(dxw, dx, n, xp, xs, xo, 7.0f));
    assert_true(tr_same(dw2, dw, wl));
    free(x); free(w); free(dy); free(y); free(dx); free(dw); free(dw2); free(col);
    free(xw); free(dyw); free(yw); free(dxw);
}

static void test_dconv_slices(void **state) {
    (void)state;
    tr_seed(11);
    check_slices(geom(3, 6, 6, 4, 3), 3);
    check_slices(geom(12, 7, 7, 12, 3), 2);
    check_slices(geom(5, 5, 9, 6, 1), 2);
}

/* The direct kernels agree with im2col + sgemm on the same convolution. */
static void test_dconv_matches_im2col(void **state) {
    (void)state;
    RtConv g = geom(16, 14, 14, 32, 3);
    int n = 2;
    size_t xl = (size_t)n * g.c * 196, yl = (size_t)n * g.oc * 196, wl = (size_t)g.oc * g.c * 9;
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *y1 = tr_alloc(yl), *y2 = tr_alloc(yl);
    float *col = tr_alloc(rt_conv2d_col_floats(&g) * n);
    tr_seed(5);
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1);
    rt_conv2d_direct_forward(y1, NULL, x, w, NULL, n, &g);
    rt_conv2d_forward(y2, col, x, w, NULL, n, &g);
    assert_true(tr_maxrel(y1, y2, yl) < TOL);
    free(x); free(w); free(y1); free(y2); free(col);
}

/*
** The batchnorm epilogue gives the bits of the separate calls it replaces:
** the convolution, then rt_batchnorm_forward_eval (no residual, no relu) or
** rt_batchnorm_relu_forward_eval (with relu, with or without a residual).
*/
static void check_bn_epilogue(RtConv g, int n, int bias) {
    size_t xl = (size_t)n * g.c * g.h * g.w, yl = (size_t)n * g.oc * g.h * g.w;
    size_t wl = (size_t)g.oc * g.c * g.k * g.k;
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *b = tr_alloc(g.oc), *res = tr_alloc(yl);
    float *gamma = tr_alloc(g.oc), *beta = tr_alloc(g.oc), *rm = tr_alloc(g.oc);
    float *rv = tr_alloc(g.oc), *tmp = tr_alloc(yl), *want = tr_alloc(yl), *got = tr_alloc(yl);
    RtNorm gn = {g.oc, g.h * g.w, 0, 0};
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(b, g.oc, -1, 1);
    tr_fill(res, yl, -1, 1); tr_fill(gamma, g.oc, 0.5f, 1.5f); tr_fill(beta, g.oc, -1, 1);
    tr_fill(rm, g.oc, -0.5f, 0.5f); tr_fill(rv, g.oc, 0.5f, 2);
    rt_conv2d_direct_forward(tmp, NULL, x, w, bias ? b : NULL, n, &g);
    rt_batchnorm_forward_eval(want, tmp, gamma, beta, rm, rv, n, &gn, 1e-5f);
    rt_conv2d_direct_forward_bn_eval(got, NULL, x, w, bias ? b : NULL, NULL, gamma, beta, rm, rv,
                                     n, &g, 1e-5f, 0);
    assert_true(tr_same(got, want, yl));
    for (int r = 0; r < 2; r++) {
        rt_batchnorm_relu_forward_eval(want, tmp, r ? res : NULL, gamma, beta, rm, rv, n, &gn,
                                       1e-5f);
        rt_conv2d_direct_forward_bn_eval(got, NULL, x, w, bias ? b : NULL, r ? res : NULL, gamma,
                                         beta, rm, rv, n, &g, 1e-5f, 1);
        assert_true(tr_same(got, want, yl));
    }
    free(x); free(w); free(b); free(res); free(gamma); free(beta); free(rm); free(rv);
    free(tmp); free(want); free(got);
}

static void test_dconv_bn_epilogue(void **state) {
    (void)state;
    tr_seed(13);
    check_bn_epilogue(geom(16, 28, 28, 16, 3), 2, 0);
    check_bn_epilogue(geom(5, 7, 7, 6, 3), 3, 1);    /* outputs past the tile, lane tails */
    check_bn_epilogue(geom(33, 13, 11, 12, 1), 2, 0);
}

/* The bias, residual and relu epilogue (what folded batchnorms leave) gives
** the bits of the convolution followed by rt_relu_forward or
** rt_add_relu_forward, at stride 1 and 2. */
static void check_fused_epilogue(RtConv g, int n) {
    size_t xl = (size_t)n * g.c * g.h * g.w, yl = (size_t)n * g.oc * g.oh * g.ow;
    size_t wl = (size_t)g.oc * g.c * g.k * g.k;
    size_t cf = rt_conv_direct_fwd_col_floats(g.c, g.k, g.stride, g.oh, g.ow) * rt_scratch_slices(n);
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *b = tr_alloc(g.oc), *res = tr_alloc(yl);
    float *col = tr_alloc(cf ? cf : 1), *tmp = tr_alloc(yl), *want = tr_alloc(yl);
    float *got = tr_alloc(yl);
    float *c = g.stride == 2 ? col : NULL;
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(b, g.oc, -1, 1);
    tr_fill(res, yl, -1, 1);
    rt_conv2d_direct_forward(tmp, c, x, w, b, n, &g);
    rt_relu_forward(want, tmp, yl);
    rt_conv2d_direct_forward_fused(got, c, x, w, b, NULL, n, &g, 1);
    assert_true(tr_same(got, want, yl));
    rt_add_relu_forward(want, tmp, res, yl);
    rt_conv2d_direct_forward_fused(got, c, x, w, b, res, n, &g, 1);
    assert_true(tr_same(got, want, yl));
    rt_add_forward(want, tmp, res, yl);
    rt_conv2d_direct_forward_fused(got, c, x, w, b, res, n, &g, 0);
    assert_true(tr_same(got, want, yl));
    free(x); free(w); free(b); free(res); free(col); free(tmp); free(want); free(got);
}

static RtConv geom_s2(int c, int h, int w, int oc, int k);

static void test_dconv_fused_epilogue(void **state) {
    (void)state;
    tr_seed(17);
    check_fused_epilogue(geom(16, 28, 28, 16, 3), 2);
    check_fused_epilogue(geom(5, 7, 7, 6, 3), 3);
    check_fused_epilogue(geom(33, 13, 11, 12, 1), 2);
    check_fused_epilogue(geom_s2(16, 28, 28, 32, 3), 2);
    check_fused_epilogue(geom_s2(16, 28, 28, 32, 1), 2);
}

/*
** Stride 2 (3x3 padding 1, 1x1 none): the input split into phases in the
** scratch, then shifts of them. Against the reference, over even and odd
** planes, the same bits at 1, 2 and 3 threads, slices in and out, and the
** batchnorm epilogue as the separate calls.
*/
static RtConv geom_s2(int c, int h, int w, int oc, int k) {
    int p = (k - 1) / 2;
    RtConv g = {c, h, w, oc, k, 2, p, 1, (h + 2 * p - k) / 2 + 1, (w + 2 * p - k) / 2 + 1, 0, 0};
    return g;
}

static void check_s2(RtConv g, int n) {
    size_t xl = (size_t)n * g.c * g.h * g.w, yl = (size_t)n * g.oc * g.oh * g.ow;
    size_t wl = (size_t)g.oc * g.c * g.k * g.k;
    size_t cf = rt_conv_direct_fwd_col_floats(g.c, g.k, 2, g.oh, g.ow) * rt_scratch_slices(n);
    size_t cb = rt_conv_direct_col_floats(g.c, g.oc, g.k, 2, g.oh, g.ow) * rt_scratch_slices(n);
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *b = tr_alloc(g.oc), *col = tr_alloc(cf);
    float *y = tr_alloc(yl), *ry = tr_alloc(yl), *y2 = tr_alloc(yl), *colb = tr_alloc(cb);
    float *dy = tr_alloc(yl), *dx = tr_primed(xl), *dw = tr_primed(wl), *db = tr_primed(g.oc);
    float *rdx = tr_alloc(xl), *rdw = tr_alloc(wl), *dx1 = tr_alloc(xl), *dw1 = tr_alloc(wl);
    float *dx2 = tr_alloc(xl), *dw2 = tr_alloc(wl);
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(b, g.oc, -1, 1); tr_fill(dy, yl, -1, 1);
    assert_true(rt_conv_is_direct(g.k, 2, g.pad, 1, g.h, g.w));
    rt_set_threads(1);
    rt_conv2d_direct_forward(y, col, x, w, b, n, &g);
    ref_forward(ry, x, w, b, n, &g);
    assert_true(tr_maxrel(y, ry, yl) < TOL);
    rt_conv2d_direct_backward(dx, dw, db, colb, dy, x, w, n, &g, RT_ADD);
    tr_unprime(dx, xl); tr_unprime(dw, wl); tr_unprime(db, g.oc);
    ref_input_grad(rdx, dy, w, n, &g);
    ref_weight_grad(rdw, dy, x, n, &g);
    assert_true(tr_maxrel(dx, rdx, xl) < TOL);
    assert_true(tr_maxrel(dw, rdw, wl) < TOL);
    for (int o = 0; o < g.oc; o++)
        assert_true(fabs(db[o] - ref_bias_grad(dy, n, &g, o)) < TOL * (1 + fabs(db[o])));
    TR_CHECK_SET(xl, rt_conv2d_direct_backward(dx_, dw2, NULL, colb, dy, x, w, n, &g, st_));
    rt_conv2d_direct_backward(dx1, dw1, NULL, colb, dy, x, w, n, &g, RT_SET);
    for (int nt = 2; nt <= 3; nt++) {
        memset(dw2, 0, wl * sizeof *dw2);
        rt_set_threads(nt);
        rt_conv2d_direct_forward(y2, col, x, w, b, n, &g);
        rt_conv2d_direct_backward(dx2, dw2, NULL, colb, dy, x, w, n, &g, RT_SET);
        assert_true(tr_same(y2, y, yl));
        assert_true(tr_same(dx2, dx1, xl));
        assert_true(tr_same(dw2, dw1, wl));
    }
    rt_set_threads(1);
    free(x); free(w); free(b); free(col); free(y); free(ry); free(y2); free(colb);
    free(dy); free(dx); free(dw); free(db); free(rdx); free(rdw); free(dx1); free(dw1);
    free(dx2); free(dw2);
}

static void test_dconv_stride2(void **state) {
    static const int hw[][2] = {{1, 1}, {2, 3}, {5, 8}, {7, 7}, {14, 14}, {28, 28}, {31, 17}};
    (void)state;
    tr_seed(17);
    for (size_t p = 0; p < sizeof hw / sizeof hw[0]; p++)
        for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++)
            for (int k = 1; k <= 3; k += 2)
                check_s2(geom_s2(channels[c][0], hw[p][0], hw[p][1], channels[c][1], k),
                         hw[p][0] * hw[p][1] >= 256 && channels[c][0] > 16 ? 1 : 3);
}

static void test_dconv_stride2_slices_and_bn(void **state) {
    RtConv g = geom_s2(12, 14, 14, 16, 3), gs = g;
    int n = 3;
    size_t xp = (size_t)g.c * 196, yp = (size_t)g.oc * 49, xs = xp + 2 * 196, ys = yp + 49;
    size_t wl = (size_t)g.oc * g.c * 9;
    size_t cl = rt_conv_direct_fwd_col_floats(g.c, 3, 2, g.oh, g.ow) * rt_scratch_slices(n);
    float *x = tr_alloc(n * xp), *w = tr_alloc(wl), *col = tr_alloc(cl), *y = tr_alloc(n * yp);
    float *gamma = tr_alloc(g.oc), *beta = tr_alloc(g.oc), *rm = tr_alloc(g.oc);
    float *rv = tr_alloc(g.oc), *want = tr_alloc(n * yp), *got = tr_alloc(n * yp);
    RtNorm gn = {g.oc, 49, 0, 0};
    (void)state;
    tr_seed(19);
    tr_fill(x, n * xp, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(gamma, g.oc, 0.5f, 1.5f);
    tr_fill(beta, g.oc, -1, 1); tr_fill(rm, g.oc, -0.5f, 0.5f); tr_fill(rv, g.oc, 0.5f, 2);
    rt_conv2d_direct_forward(y, col, x, w, NULL, n, &g);
    gs.xs = (int)xs;
    gs.ys = (int)ys;
    float *xw = tr_wide(x, n, xp, xs, 196, NAN), *yw = tr_wide(NULL, n, yp, ys, 0, 7.0f);
    rt_conv2d_direct_forward(yw, col, xw + 196, w, NULL, n, &gs);
    assert_true(tr_slice_is(yw, y, n, yp, ys, 0, 7.0f));
    /* backward through the same slices: the bits of the dense call */
    size_t cb = rt_conv_direct_col_floats(g.c, g.oc, 3, 2, g.oh, g.ow) * rt_scratch_slices(n);
    float *colb = tr_alloc(cb), *dy = tr_alloc(n * yp), *dx = tr_alloc(n * xp);
    float *dw = tr_alloc(wl), *dw2 = tr_alloc(wl);
    tr_fill(dy, n * yp, -1, 1);
    rt_conv2d_direct_backward(dx, dw, NULL, colb, dy, x, w, n, &g, RT_SET);
    float *dyw = tr_wide(dy, n, yp, ys, 0, NAN), *dxw = tr_wide(NULL, n, xp, xs, 196, 7.0f);
    rt_conv2d_direct_backward(dxw + 196, dw2, NULL, colb, dyw, xw + 196, w, n, &gs, RT_SET);
    assert_true(tr_slice_is(dxw, dx, n, xp, xs, 196, 7.0f));
    assert_true(tr_same(dw2, dw, wl));
    free(colb); free(dy); free(dx); free(dw); free(dw2); free(dyw); free(dxw);
    rt_batchnorm_relu_forward_eval(want, y, NULL, gamma, beta, rm, rv, n, &gn, 1e-5f);
    rt_conv2d_direct_forward_bn_eval(got, col, x, w, NULL, NULL, gamma, beta, rm, rv, n, &g,
                                     1e-5f, 1);
    assert_true(tr_same(got, want, n * yp));
    free(x); free(w); free(col); free(y); free(gamma); free(beta); free(rm); free(rv);
    free(want); free(got); free(xw); free(yw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dconv_predicate),
        cmocka_unit_test(test_dconv_3x3),
        cmocka_unit_test(test_dconv_1x1),
        cmocka_unit_test(test_dconv_slices),
        cmocka_unit_test(test_dconv_matches_im2col),
        cmocka_unit_test(test_dconv_bn_epilogue),
        cmocka_unit_test(test_dconv_fused_epilogue),
        cmocka_unit_test(test_dconv_stride2),
        cmocka_unit_test(test_dconv_stride2_slices_and_bn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
