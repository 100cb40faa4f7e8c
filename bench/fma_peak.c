/*
** fma_peak.c: the machine's fused multiply-add peak, the yardstick that
** make bench measures every contender's GFLOP/s against.
**     fma_peak THREADS    prints GFLOP/s over that many threads
** Each thread runs CHAINS independent chains of vector FMAs, enough to
** cover the FMA latency, on registers only; one FMA counts two flops per
** lane. AVX-512 where the compiler targets it, else AVX2, else scalar.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

enum { CHAINS = 12 };
static const long ITERS = 100000000L / CHAINS;

#if defined(__AVX512F__)
typedef __m512 Vec;
enum { LANES = 16 };
#define SPLAT(v) _mm512_set1_ps(v)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
static float first(Vec v) { return _mm512_cvtss_f32(v); }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 Vec;
enum { LANES = 8 };
#define SPLAT(v) _mm256_set1_ps(v)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float first(Vec v) { return _mm256_cvtss_f32(v); }
#else
typedef float Vec;
enum { LANES = 1 };
#define SPLAT(v) (v)
#define FMA(a, b, c) ((a) * (b) + (c))
static float first(Vec v) { return v; }
#endif

/* CHAINS accumulators x = x * m + a, kept in registers; returns a sum so
** that the work cannot be optimised away. */
static void *chains(void *out) {
    Vec acc[CHAINS], m = SPLAT(0.999999f), a = SPLAT(1e-7f);
    float s = 0.0f;
    for (int c = 0; c < CHAINS; c++) acc[c] = SPLAT(1.0f + c);
    for (long i = 0; i < ITERS; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = FMA(acc[c], m, a);
    for (int c = 0; c < CHAINS; c++) s += first(acc[c]);
    *(float *)out = s;
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : 1;
    pthread_t th[64];
    float sums[64];
    double best = 0;
    if (nt < 1 || nt > 64) {
        fprintf(stderr, "usage: fma_peak THREADS (1..64)\n");
        return 2;
    }
    for (int round = 0; round < 3; round++) {   /* the best of three */
        double t0 = now(), secs;
        for (int t = 0; t < nt; t++) pthread_create(&th[t], NULL, chains, &sums[t]);
        for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
        secs = now() - t0;
        if (2.0 * LANES * CHAINS * ITERS * nt / secs > best)
            best = 2.0 * LANES * CHAINS * ITERS * nt / secs;
    }
    printf("%.1f\n", best / 1e9);
    return sums[0] == 12345.0f;   /* uses the sums */
}
