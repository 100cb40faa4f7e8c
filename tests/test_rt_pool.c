/*
** test_rt_pool.c: pooling, upsampling and concat against naive loops
** (forward) and central differences (backward).
**
** Forward: max/upsample/concat copy values, so they must match exactly;
** the averages allow 1e-6 (tr_maxrel) for float summation order.
** Backward: h = 1e-2, tol = 1e-3; every op here is piecewise linear, so
** the quotients are exact up to float rounding. Max-pool inputs are a
** shuffled ladder of distinct values 0.05 apart: no two cells are within
** 2h, so no perturbation changes an argmax and no point sits near a kink.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "rt.h"
#include "grad_check.h"

#define H   1e-2
#define TOL 1e-3

enum { MAXPOOL, AVGPOOL, GLOBAL, UPSAMPLE, CONCAT };

/* One op under test: sizes, input, output, random loss weights r. */
typedef struct {
    int op, n, c, h, w, f, c_out, c_off;
    RtPool p;
    float *x, *out, *r;
    size_t xl, ol;
} PoolCase;

static RtPool pool_geom(int c, int h, int w, int k, int s, int pad) {
    RtPool p = {c, h, w, k, s, pad, (h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1, 0, 0};
    return p;
}

static void run_forward(PoolCase *t) {
    int hw = t->h * t->w;
    switch (t->op) {
    case MAXPOOL: rt_maxpool_forward(t->out, t->x, t->n, &t->p); break;
    case AVGPOOL: rt_avgpool_forward(t->out, t->x, t->n, &t->p); break;
    case GLOBAL: rt_global_avgpool_forward(t->out, t->x, t->n, t->c, hw); break;
    case UPSAMPLE: rt_upsample_forward(t->out, t->x, t->n, t->c, t->h, t->w, t->f); break;
    default: rt_concat_forward(t->out, t->x, t->n, t->c_out, t->c_off, t->c, hw); break;
    }
}

static void run_backward(float *dx, PoolCase *t, RtStore st) {
    int hw = t->h * t->w;
    switch (t->op) {
    case MAXPOOL: rt_maxpool_backward(dx, t->r, t->x, t->n, &t->p, st); break;
    case AVGPOOL: rt_avgpool_backward(dx, t->r, t->n, &t->p, st); break;
    case GLOBAL: rt_global_avgpool_backward(dx, t->r, t->n, t->c, hw, st); break;
    case UPSAMPLE: rt_upsample_backward(dx, t->r, t->n, t->c, t->h, t->w, t->f, st); break;
    default: rt_concat_backward(dx, t->r, t->n, t->c_out, t->c_off, t->c, hw, st); break;
    }
}

/* {====================================================================
** Naive references, one output cell at a time
** ===================================================================== */

/* Max (is_max) or count_include_pad average of window (oy,ox) of a plane. */
static double ref_window(const float *plane, const RtPool *p, int oy, int ox, int is_max) {
    double acc = is_max ? -INFINITY : 0.0;
    for (int ky = 0; ky < p->k; ky++)
        for (int kx = 0; kx < p->k; kx++) {
            int iy = oy * p->stride - p->pad + ky, ix = ox * p->stride - p->pad + kx;
            if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) continue;
            double v = plane[iy * p->w + ix];
            acc = is_max ? fmax(acc, v) : acc + v;
        }
    return is_max ? acc : acc / (p->k * p->k);
}

static void ref_forward(float *ref, const PoolCase *t) {
    const RtPool *p = &t->p;
    int hw = t->h * t->w, oh = t->h * t->f, ow = t->w * t->f;
    for (int pl = 0; pl < t->n * t->c; pl++) {
        const float *x = t->x + (size_t)pl * hw;
        if (t->op == MAXPOOL || t->op == AVGPOOL)
            for (int i = 0; i < p->oh * p->ow; i++)
                ref[pl * p->oh * p->ow + i] = (float)ref_window(x, p, i / p->ow, i % p->ow,
                                                                t->op == MAXPOOL);
        else if (t->op == GLOBAL) {
            double s = 0;
            for (int i = 0; i < hw; i++) s += x[i];
            ref[pl] = (float)(s / hw);
        } else if (t->op == UPSAMPLE)
            for (int i = 0; i < oh * ow; i++)
                ref[pl * oh * ow + i] = x[(i / ow / t->f) * t->w + (i % ow) / t->f];
        else   /* concat: plane pl = (sample, channel) lands at channel c_off+channel */
            memcpy(ref + ((size_t)(pl / t->c) * t->c_out + t->c_off + pl % t->c) * hw,
                   x, hw * sizeof(float));
    }
}

/* }==================================================================== */

static double pool_loss(void *ctx) {
    PoolCase *t = ctx;
    run_forward(t);
    return gc_dot(t->out, t->r, t->ol);
}

/* x = a shuffled ladder -10, -9.95, ...: distinct, all negative (so a
** padded zero would win a max if padding were not ignored). */
static void fill_ladder(float *x, size_t len) {
    for (size_t i = 0; i < len; i++) x[i] = -10.0f + 0.05f * (float)i;
    for (size_t i = len - 1; i > 0; i--) {
        size_t j = (size_t)(tr_uniform(0, 1) * (float)(i + 1)) % (i + 1);
        float v = x[i]; x[i] = x[j]; x[j] = v;
    }
}

/*
** Forward against ref_forward (exact when 'exact'), backward against
** central differences. The output 'out' is pre-filled with NaN so a cell
** the kernel forgets to write is caught; concat must write its slice and
** leave the other channels' NaN alone.
*/
static void check_case(PoolCase *t, const char *label, int exact) {
    t->x = tr_alloc(t->xl); t->out = tr_alloc(t->ol); t->r = tr_alloc(t->ol);
    float *ref = tr_alloc(t->ol), *dx = tr_primed(t->xl);
    if (t->op == MAXPOOL) fill_ladder(t->x, t->xl); else tr_fill(t->x, t->xl, -1, 1);
    tr_fill(t->r, t->ol, -1, 1);
    for (size_t i = 0; i < t->ol; i++) t->out[i] = ref[i] = NAN;
    run_forward(t);
    ref_forward(ref, t);
    if (t->op == CONCAT)
        for (size_t i = 0; i < t->ol; i++)
            if (isnan(ref[i])) {   /* outside the slice: must stay untouched */
                assert_true(isnan(t->out[i]));
                ref[i] = t->out[i] = 0;
            }
    if (exact) assert_memory_equal(t->out, ref, t->ol * sizeof(float));
    else assert_true(tr_maxrel(t->out, ref, t->ol) < 1e-6);
    run_backward(dx, t, RT_ADD);
    tr_unprime(dx, t->xl);
    TR_CHECK_SET(t->xl, run_backward(dx_, t, st_));
    assert_true(gc_check(label, pool_loss, t, t->x, dx, t->xl, H, TOL, NULL) < 1);
    free(t->x); free(t->out); free(t->r); free(ref); free(dx);
}

static void check_window_op(int op, RtPool p, int n, const char *label) {
    PoolCase t = {op, n, p.c, p.h, p.w, 1, 0, 0, p, NULL, NULL, NULL,
                  (size_t)n * p.c * p.h * p.w, (size_t)n * p.c * p.oh * p.ow};
    check_case(&t, label, op == MAXPOOL);
}

static void test_maxpool_3x3_s2_pad(void **s) {
    (void)s; tr_seed(31);
    check_window_op(MAXPOOL, pool_geom(3, 7, 6, 3, 2, 1), 2, "maxpool 3/2/1");
}

static void test_maxpool_2x2_s2(void **s) {
    (void)s; tr_seed(32);
    check_window_op(MAXPOOL, pool_geom(2, 6, 8, 2, 2, 0), 2, "maxpool 2/2/0");
}

static void test_avgpool_3x3_s2_pad(void **s) {
    (void)s; tr_seed(33);
    check_window_op(AVGPOOL, pool_geom(3, 7, 6, 3, 2, 1), 2, "avgpool 3/2/1");
}

static void test_avgpool_2x2_s1(void **s) {
    (void)s; tr_seed(34);
    check_window_op(AVGPOOL, pool_geom(2, 5, 4, 2, 1, 0), 2, "avgpool 2/1/0");
}

/* Ties go to the first maximum in scan order, in forward and backward. */
static void test_maxpool_ties(void **state) {
    (void)state;
    RtPool p = pool_geom(1, 4, 4, 2, 2, 0);
    float x[16], out[4], dout[4] = {1, 2, 3, 4}, dx[16] = {0};
    for (int i = 0; i < 16; i++) x[i] = 1.0f;
    rt_maxpool_forward(out, x, 1, &p);
    rt_maxpool_backward(dx, dout, x, 1, &p, RT_ADD);
    float want[16] = {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    assert_memory_equal(dx, want, sizeof want);
    for (int i = 0; i < 4; i++) assert_true(out[i] == 1.0f);
}

static void test_global_avgpool(void **s) {
    (void)s; tr_seed(35);
    PoolCase t = {GLOBAL, 3, 4, 5, 3, 1, 0, 0, {0}, NULL, NULL, NULL, 3 * 4 * 15, 3 * 4};
    check_case(&t, "global avgpool", 0);
}

static void test_upsample(void **s) {
    (void)s; tr_seed(36);
    PoolCase t2 = {UPSAMPLE, 2, 3, 3, 4, 2, 0, 0, {0}, NULL, NULL, NULL, 2 * 3 * 12, 2 * 3 * 48};
    check_case(&t2, "upsample x2", 1);
    PoolCase t3 = {UPSAMPLE, 1, 2, 2, 3, 3, 0, 0, {0}, NULL, NULL, NULL, 2 * 6, 2 * 54};
    check_case(&t3, "upsample x3", 1);
}

/* Two slices of one 7-channel concat: channels [0,3) and [3,7). */
static void test_concat(void **s) {
    (void)s; tr_seed(37);
    PoolCase a = {CONCAT, 2, 3, 2, 3, 1, 7, 0, {0}, NULL, NULL, NULL, 2 * 3 * 6, 2 * 7 * 6};
    check_case(&a, "concat [0,3)", 1);
    PoolCase b = {CONCAT, 2, 4, 2, 3, 1, 7, 3, {0}, NULL, NULL, NULL, 2 * 4 * 6, 2 * 7 * 6};
    check_case(&b, "concat [3,7)", 1);
}

/*
** Max and average pooling with input and output as channel slices of
** wider tensors: the same bits as dense, forward and backward, and nothing
** read or written outside the slices.
*/
static void test_pool_slices(void **state) {
    (void)state;
    tr_seed(31);
    int n = 2;
    RtPool p = pool_geom(3, 7, 6, 3, 2, 1), ps = p;
    size_t xp = (size_t)p.c * p.h * p.w, yp = (size_t)p.c * p.oh * p.ow;
    size_t xs = xp + (size_t)p.h * p.w, ys = yp + 2 * (size_t)p.oh * p.ow, xo = 0;
    size_t yo = (size_t)p.oh * p.ow;
    ps.xs = (int)xs;
    ps.ys = (int)ys;
    for (int op = MAXPOOL; op <= AVGPOOL; op++) {
        float *x = tr_alloc(n * xp), *dy = tr_alloc(n * yp), *y = tr_alloc(n * yp);
        float *dx = tr_alloc(n * xp);
        tr_fill(x, n * xp, -1, 1); tr_fill(dy, n * yp, -1, 1);
        float *xw = tr_wide(x, n, xp, xs, xo, NAN), *dyw = tr_wide(dy, n, yp, ys, yo, NAN);
        float *yw = tr_wide(NULL, n, yp, ys, yo, 7.0f), *dxw = tr_wide(NULL, n, xp, xs, xo, 7.0f);
        if (op == MAXPOOL) {
            rt_maxpool_forward(y, x, n, &p);
            rt_maxpool_forward(yw + yo, xw + xo, n, &ps);
            rt_maxpool_backward(dx, dy, x, n, &p, RT_SET);
            rt_maxpool_backward(dxw + xo, dyw + yo, xw + xo, n, &ps, RT_SET);
        } else {
            rt_avgpool_forward(y, x, n, &p);
            rt_avgpool_forward(yw + yo, xw + xo, n, &ps);
            rt_avgpool_backward(dx, dy, n, &p, RT_SET);
            rt_avgpool_backward(dxw + xo, dyw + yo, n, &ps, RT_SET);
        }
        assert_true(tr_slice_is(yw, y, n, yp, ys, yo, 7.0f));
        assert_true(tr_slice_is(dxw, dx, n, xp, xs, xo, 7.0f));
        free(x); free(dy); free(y); free(dx); free(xw); free(dyw); free(yw); free(dxw);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool_3x3_s2_pad),
        cmocka_unit_test(test_maxpool_2x2_s2),
        cmocka_unit_test(test_avgpool_3x3_s2_pad),
        cmocka_unit_test(test_avgpool_2x2_s1),
        cmocka_unit_test(test_maxpool_ties),
        cmocka_unit_test(test_global_avgpool),
        cmocka_unit_test(test_upsample),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_pool_slices),
    };
    return cmocka_run_group_tests_name("rt_pool", tests, NULL, NULL);
}
