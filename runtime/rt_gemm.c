/*
** rt_gemm.c: the matrix product behind im2col convolutions and linear
** layers: OpenBLAS's sgemm, or in builds without BLAS (RT_NO_BLAS) a
** compact blocked product of our own, in portable C the compiler
** vectorizes for whatever machine it targets.
**
** The blocked product (after Goto and van de Geijn's layering): op(B) in
** KC x NC blocks, op(A) in MC x KC blocks, each packed into panels of NR
** columns and MR rows (alpha applied, transposes resolved, edges padded
** with zeros), then an MR x NR micro-kernel keeps its accumulators in
** vector registers over a panel pair (GCC's and clang's generic vectors;
** plain loops for other compilers). The packed panels live in per-thread
** buffers, so concurrent callers (the runtime's workers) share nothing
** and nothing is allocated.
*/
#include "rt_gemm.h"

#ifndef RT_NO_BLAS

#include <cblas.h>

void rt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

int rt_blas_threads(void) { return openblas_get_num_threads(); }
void rt_blas_set_threads(int n) { openblas_set_num_threads(n); }

#else

#include <stddef.h>
#include <string.h>

enum { MR = 4, NR = 8, KC = 128, MC = 64, NC = 256 };

static _Thread_local float a_pack[MC * KC], b_pack[KC * NC];

/* op(B)[p0, p0+kc) x [j0, j0+nc) as panels of NR columns: panel q holds
** kc rows of NR floats. */
static void pack_b(const float *b, int ldb, int tb, int p0, int kc, int j0, int nc) {
    for (int q = 0; q < nc; q += NR)
        for (int p = 0; p < kc; p++) {
            float *dst = b_pack + (size_t)q * kc + (size_t)p * NR;
            for (int j = 0; j < NR; j++) {
                int col = j0 + q + j, row = p0 + p;
                dst[j] = q + j >= nc ? 0.0f
                         : tb ? b[(size_t)col * ldb + row] : b[(size_t)row * ldb + col];
            }
        }
}

/* alpha op(A)[i0, i0+mc) x [p0, p0+kc) as panels of MR rows: panel q
** holds kc columns of MR floats. */
static void pack_a(const float *a, int lda, int ta, float alpha, int i0, int mc, int p0,
                   int kc) {
    for (int q = 0; q < mc; q += MR)
        for (int p = 0; p < kc; p++) {
            float *dst = a_pack + (size_t)q * kc + (size_t)p * MR;
            for (int r = 0; r < MR; r++) {
                int row = i0 + q + r, col = p0 + p;
                dst[r] = q + r >= mc ? 0.0f
                         : alpha * (ta ? a[(size_t)col * lda + row] : a[(size_t)row * lda + col]);
            }
        }
}

#if defined(__GNUC__)
/* GCC's and clang's generic vectors: 4 floats, as SSE and NEON hold them;
** memcpy is an unaligned load. MR x NR accumulators are 8 of them. */
typedef float Vf __attribute__((vector_size(16)));

/* C[mr x nr] += an MR-row A panel times an NR-column B panel over kc. */
static void micro_kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr,
                         int nr) {
    Vf acc[MR][NR / 4];
    float out[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int p = 0; p < kc; p++) {
        Vf b[NR / 4];
        memcpy(b, bp + p * NR, sizeof b);
        for (int r = 0; r < MR; r++) {
            Vf a = (Vf){0, 0, 0, 0} + ap[p * MR + r];
            for (int v = 0; v < NR / 4; v++) acc[r][v] += a * b[v];
        }
    }
    memcpy(out, acc, sizeof out);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) c[(size_t)r * ldc + j] += out[r][j];
}
#else
/* C[mr x nr] += an MR-row A panel times an NR-column B panel over kc. */
static void micro_kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr,
                         int nr) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int p = 0; p < kc; p++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) acc[r][j] += ap[p * MR + r] * bp[p * NR + j];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) c[(size_t)r * ldc + j] += acc[r][j];
}
#endif

static void scale_c(float *c, int ldc, int m, int n, float beta) {
    if (beta == 1.0f) return;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
}

void rt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    scale_c(c, ldc, m, n, beta);
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        for (int j0 = 0; j0 < n; j0 += NC) {
            int nc = n - j0 < NC ? n - j0 : NC;
            pack_b(b, ldb, trans_b, p0, kc, j0, nc);
            for (int i0 = 0; i0 < m; i0 += MC) {
                int mc = m - i0 < MC ? m - i0 : MC;
                pack_a(a, lda, trans_a, alpha, i0, mc, p0, kc);
                for (int i = 0; i < mc; i += MR)
                    for (int j = 0; j < nc; j += NR)
                        micro_kernel(kc, a_pack + (size_t)i * kc, b_pack + (size_t)j * kc,
                                     c + (size_t)(i0 + i) * ldc + j0 + j, ldc,
                                     mc - i < MR ? mc - i : MR, nc - j < NR ? nc - j : NR);
            }
        }
    }
}

int rt_blas_threads(void) { return 1; }
void rt_blas_set_threads(int n) { (void)n; }

#endif
