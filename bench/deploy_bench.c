/*
** deploy_bench.c: the deployment-build contender of make bench, in a
** process of its own: NAME_predict on a batch, timed.
**     deploy_bench BATCH THREADS STEPS
** Built by bench/run.sh against a deployment build without embedded
** weights (parameters drawn here: the timing does not depend on them) with
** -DDEPLOY=NAME -DDEPLOY_UP=UPPERCASE_NAME -DDEPLOY_HEADER='"NAME.h"'.
** Untimed calls first, at least three and for at least a second, as the
** other contenders do. Prints one line: images/s.
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rt.h"
#include DEPLOY_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define D(name) CAT(DEPLOY, name)
#define DU(name) CAT(DEPLOY_UP, name)

static float *alloc_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "deploy_bench: out of memory\n");
        exit(2);
    }
    return p;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc == 4 ? atoi(argv[1]) : 0, threads = argc == 4 ? atoi(argv[2]) : 0;
    long steps = argc == 4 ? atol(argv[3]) : 0;
    if (n < 1 || threads < 1 || steps < 1) {
        fprintf(stderr, "usage: deploy_bench BATCH THREADS STEPS\n");
        return 2;
    }
    float *params = alloc_floats(DU(_NUM_PARAMS)), *x = alloc_floats(DU(_IN_FLOATS) * n);
    float *y = alloc_floats(DU(_OUT_FLOATS) * n);
    float *arena = alloc_floats(DU(_ARENA_BYTES)(n) / sizeof(float));
    RtRng r;
    rt_set_threads(threads);
    rt_rng_seed(&r, 1);
    for (size_t i = 0; i < DU(_NUM_PARAMS); i++) params[i] = 0.1f * (rt_rng_uniform(&r) - 0.5f);
    for (size_t i = 0; i < DU(_IN_FLOATS) * (size_t)n; i++) x[i] = rt_rng_uniform(&r);
    double warm = now();
    for (int i = 0; i < 1000 && (i < 3 || now() - warm < 1.0); i++)
        D(_predict)(params, x, y, n, arena);
    double t0 = now();
    for (long i = 0; i < steps; i++) D(_predict)(params, x, y, n, arena);
    printf("%.2f\n", (double)steps * n / (now() - t0));
    return 0;
}
