/*
** test_rt_gemm.c: the runtime's matrix product against a float64
** reference, for every combination of transposes, alpha and beta (0: C's
** old values, even NaN, are ignored), sizes that are not multiples of the
** blocks and leading dimensions wider than the matrices. Built twice:
** with OpenBLAS (test_rt_gemm) and with rt_gemm.c's own blocked product
** (test_rt_gemm_portable, what make portable and make cross build).
*/
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "grad_check.h"
#include "rt_gemm.h"

static void check(int ta, int tb, int m, int n, int k, float alpha, float beta) {
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
    size_t al = (size_t)(ta ? k : m) * lda, bl = (size_t)(tb ? n : k) * ldb;
    size_t cl = (size_t)m * ldc;
    float *a = tr_alloc(al), *b = tr_alloc(bl), *c = tr_alloc(cl), *c0 = tr_alloc(cl);
    tr_fill(a, al, -1, 1); tr_fill(b, bl, -1, 1); tr_fill(c0, cl, -1, 1);
    for (size_t i = 0; i < cl; i++) c[i] = beta == 0.0f ? NAN : c0[i];
    rt_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double v = (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                           (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
                ref += v;
                mag += fabs(v);
            }
            ref = alpha * ref + (beta == 0.0f ? 0.0 : beta * (double)c0[(size_t)i * ldc + j]);
            assert_true(fabs(c[(size_t)i * ldc + j] - ref) <= 1e-5 * (mag + 1));
        }
    for (int i = 0; i < m; i++)   /* past n, C is untouched */
        for (int j = n; j < ldc; j++) {
            float v = c[(size_t)i * ldc + j];
            if (beta == 0.0f) assert_true(isnan(v));
            else assert_true(v == c0[(size_t)i * ldc + j]);
        }
    free(a); free(b); free(c); free(c0);
}

static void test_gemm(void **state) {
    (void)state;
    tr_seed(31);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check(ta, tb, 5, 7, 3, 1.0f, 0.0f);
            check(ta, tb, 67, 261, 130, 1.0f, 1.0f);     /* past MC, NC and KC */
            check(ta, tb, 16, 49, 576, -0.5f, 0.25f);
            check(ta, tb, 1, 1, 1, 2.0f, 0.0f);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemm)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
