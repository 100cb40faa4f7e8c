/*
** rt_gemm.h: the runtime's matrix product and the BLAS thread count,
** from OpenBLAS or, in builds without it (-DRT_NO_BLAS: portable and
** cross builds), from rt_gemm.c's own blocked product. Private to the
** runtime.
*/
#ifndef SKIPC_RT_GEMM_H
#define SKIPC_RT_GEMM_H

enum { RT_NOTRANS = 0, RT_TRANS = 1 };

/* C = alpha op(A) op(B) + beta C for row-major m x k op(A), k x n op(B),
** m x n C, as cblas_sgemm(CblasRowMajor, ...); beta 0 ignores C's values. */
void rt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* OpenBLAS's thread count and setter; without BLAS 1 and nothing. */
int rt_blas_threads(void);
void rt_blas_set_threads(int n);

#endif
