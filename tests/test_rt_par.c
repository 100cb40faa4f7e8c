/*
** test_rt_par.c: the threaded kernels give bit-identical results for every
** thread count (rt.h promises it for convolution, batch norm and the large
** elementwise kernels), and repeated runs agree bit for bit. Shapes are
** chosen so each kernel really splits: several samples per thread, more
** weight-gradient chunks than threads, activations above the size where
** batch norm and elementwise kernels start dispatching.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include <time.h>

#include "rt.h"
#include "rt_par.h"
#include "grad_check.h"

static const int thread_counts[] = {1, 2, 3, 1};
#define NCOUNTS (int)(sizeof thread_counts / sizeof thread_counts[0])

static RtConv geom(int c, int h, int w, int oc, int k, int s, int p, int groups) {
    RtConv g = {c, h, w, oc, k, s, p, groups, (h + 2 * p - k) / s + 1,
                (w + 2 * p - k) / s + 1, 0, 0};
    return g;
}

static void assert_same(const float *a, const float *b, size_t len) {
    assert_memory_equal(a, b, len * sizeof(float));
}

/* Forward, then backward into primed gradients, at every thread count;
** every result must equal the first (single-threaded) one exactly. */
static void check_conv(RtConv g, int n, int bias) {
    size_t xl = (size_t)n * g.c * g.h * g.w, ol = (size_t)n * g.oc * g.oh * g.ow;
    size_t wl = (size_t)g.oc * (g.c / g.groups) * g.k * g.k;
    size_t cf = rt_conv2d_col_floats(&g) * (size_t)n;
    float *x = tr_alloc(xl), *w = tr_alloc(wl), *b = tr_alloc(g.oc), *dy = tr_alloc(ol);
    tr_fill(x, xl, -1, 1); tr_fill(w, wl, -1, 1); tr_fill(b, g.oc, -1, 1);
    tr_fill(dy, ol, -1, 1);
    float *ref[4] = {NULL, NULL, NULL, NULL};   /* out, dx, dw, db */
    for (int i = 0; i < NCOUNTS; i++) {
        rt_set_threads(thread_counts[i]);
        assert_int_equal(rt_get_threads(), thread_counts[i]);
        float *col = cf ? tr_alloc(cf) : NULL;
        float *out = tr_alloc(ol), *dx = tr_primed(xl), *dw = tr_primed(wl),
              *db = tr_primed(g.oc);
        rt_conv2d_forward(out, col, x, w, bias ? b : NULL, n, &g);
        rt_conv2d_backward(dx, dw, bias ? db : NULL, col, dy, x, w, n, &g, RT_ADD);
        float *got[4] = {out, dx, dw, db};
        size_t len[4] = {ol, xl, wl, (size_t)g.oc};
        for (int k = 0; k < 4; k++) {
            if (i == 0) ref[k] = got[k];
            else {
                assert_same(got[k], ref[k], len[k]);
                free(got[k]);
            }
        }
        free(col);
    }
    for (int k = 0; k < 4; k++) free(ref[k]);
    free(x); free(w); free(b); free(dy);
}

static void test_conv_same_3x3(void **state) {
    (void)state;
    tr_seed(11);
    check_conv(geom(16, 12, 12, 16, 3, 1, 1, 1), 7, 0);
}

static void test_conv_stride2_grouped_bias(void **state) {
    (void)state;
    tr_seed(12);
    check_conv(geom(8, 11, 9, 12, 3, 2, 1, 2), 5, 1);
}

static void test_conv_pointwise_and_1x1_stride2(void **state) {
    (void)state;
    tr_seed(13);
    check_conv(geom(32, 6, 6, 16, 1, 1, 0, 1), 5, 1);
    check_conv(geom(32, 6, 6, 16, 1, 2, 0, 1), 5, 0);
}

/* Fewer samples than threads: every part still gets a col slice. */
static void test_conv_batch_smaller_than_threads(void **state) {
    (void)state;
    tr_seed(14);
    check_conv(geom(16, 7, 7, 8, 3, 1, 1, 1), 2, 1);
}

/* Training forward and backward of a batch norm large enough to split. */
static void test_batchnorm_thread_invariant(void **state) {
    (void)state;
    int n = 8, c = 16, hw = 300;
    size_t len = (size_t)n * c * hw;
    tr_seed(15);
    float *x = tr_alloc(len), *dy = tr_alloc(len), *gamma = tr_alloc(c), *beta = tr_alloc(c);
    tr_fill(x, len, -1, 3); tr_fill(dy, len, -1, 1);
    tr_fill(gamma, c, 0.5f, 1.5f); tr_fill(beta, c, -1, 1);
    float *ref[7] = {NULL};
    for (int i = 0; i < NCOUNTS; i++) {
        rt_set_threads(thread_counts[i]);
        float *out = tr_alloc(len), *mean = tr_alloc(c), *rstd = tr_alloc(c),
              *rm = tr_alloc(c), *rv = tr_alloc(c), *dx = tr_primed(len),
              *dg = tr_primed(c);
        rt_fill(rm, c, 0.0f); rt_fill(rv, c, 1.0f);
        RtNorm g = {c, hw, 0, 0};
        rt_batchnorm_forward_train(out, mean, rstd, rm, rv, x, gamma, beta, n, &g, 0.1f, 1e-5f);
        rt_batchnorm_backward(dx, dg, NULL, dy, x, mean, rstd, gamma, n, &g, RT_ADD);
        float *got[7] = {out, mean, rstd, rm, rv, dx, dg};
        size_t lens[7] = {len, c, c, c, c, len, c};
        for (int k = 0; k < 7; k++) {
            if (i == 0) ref[k] = got[k];
            else {
                assert_same(got[k], ref[k], lens[k]);
                free(got[k]);
            }
        }
    }
    for (int k = 0; k < 7; k++) free(ref[k]);
    free(x); free(dy); free(gamma); free(beta);
}

/* The elementwise split covers every element once, remainder included. */
static void test_elementwise_thread_invariant(void **state) {
    (void)state;
    size_t len = ((size_t)1 << 17) + 37;
    tr_seed(16);
    float *a = tr_alloc(len), *b = tr_alloc(len);
    tr_fill(a, len, -1, 1); tr_fill(b, len, -1, 1);
    float *ref = NULL;
    for (int i = 0; i < NCOUNTS; i++) {
        rt_set_threads(thread_counts[i]);
        float *y = tr_alloc(len), *z = tr_alloc(len);
        rt_add_forward(y, a, b, len);
        rt_relu_forward(z, y, len);
        rt_acc(z, a, len);
        rt_relu_backward(z, b, y, len, RT_ADD);
        if (i == 0) ref = z;
        else {
            assert_same(z, ref, len);
            free(z);
        }
        free(y);
    }
    /* spot check against the definition */
    for (size_t k = 0; k < len; k += 4099) {
        float s = a[k] + b[k], r = s > 0.0f ? s : 0.0f;
        r += a[k];
        r += s > 0.0f ? b[k] : 0.0f;
        assert_true(ref[k] == r);
    }
    free(ref); free(a); free(b);
}

/* Pooling splits its planes over the threads: the same bits at every count. */
static void test_pooling_thread_invariant(void **state) {
    RtPool p = {12, 28, 28, 3, 2, 1, 14, 14, 0, 0};
    int n = 9;
    size_t xl = (size_t)n * 12 * 784, yl = (size_t)n * 12 * 196;
    float *x = tr_alloc(xl), *dy = tr_alloc(yl), *ref[4] = {NULL};
    (void)state;
    tr_seed(21);
    tr_fill(x, xl, -1, 1); tr_fill(dy, yl, -1, 1);
    for (int i = 0; i < NCOUNTS; i++) {
        float *out = tr_alloc(2 * yl + 2 * xl);
        rt_set_threads(thread_counts[i]);
        rt_maxpool_forward(out, x, n, &p);
        rt_avgpool_forward(out + yl, x, n, &p);
        rt_maxpool_backward(out + 2 * yl, dy, x, n, &p, RT_SET);
        rt_avgpool_backward(out + 2 * yl + xl, dy, n, &p, RT_SET);
        ref[i] = out;
        if (i > 0) assert_same(out, ref[0], 2 * yl + 2 * xl);
    }
    rt_set_threads(1);
    for (int i = 0; i < NCOUNTS; i++) free(ref[i]);
    free(x); free(dy);
}

/*
** The pool itself: regions of varying part counts back to back (workers
** without a part in one region take part in the next), and after a pause
** long enough for the workers to stop spinning and sleep. Every part of
** every region runs exactly once, and the region returns only after all
** of them.
*/
typedef struct { int runs[8]; } Tally;

static void count_part(void *p, int t, int nt) {
    Tally *c = p;
    (void)nt;
    __atomic_add_fetch(&c->runs[t], 1, __ATOMIC_RELAXED);
}

static void run_regions(int rounds) {
    static const int parts[] = {2, 3, 5, 1, 4, 2, 8, 3};
    for (int r = 0; r < rounds; r++) {
        int nt = parts[r % 8];
        Tally c;
        memset(&c, 0, sizeof c);
        rt_par_run(count_part, &c, nt);
        for (int t = 0; t < 8; t++) assert_int_equal(c.runs[t], t < nt ? 1 : 0);
    }
}

static void test_pool_regions(void **state) {
    struct timespec pause = {0, 300 * 1000 * 1000};   /* past the workers' spinning */
    (void)state;
    rt_set_threads(8);
    run_regions(2000);
    nanosleep(&pause, NULL);
    run_regions(16);
    nanosleep(&pause, NULL);
    run_regions(16);
    rt_set_threads(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_3x3),
        cmocka_unit_test(test_conv_stride2_grouped_bias),
        cmocka_unit_test(test_conv_pointwise_and_1x1_stride2),
        cmocka_unit_test(test_conv_batch_smaller_than_threads),
        cmocka_unit_test(test_batchnorm_thread_invariant),
        cmocka_unit_test(test_elementwise_thread_invariant),
        cmocka_unit_test(test_pooling_thread_invariant),
        cmocka_unit_test(test_pool_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
