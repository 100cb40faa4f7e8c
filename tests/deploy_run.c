/*
** deploy_run.c: a deployment build (skipc --infer) on fixed inputs, for
** comparing builds of one model made for other machines or runtimes
** (portable, aarch64) with the reference build:
**   deploy_run PARAMS OUT        writes the outputs (raw floats)
**   deploy_run PARAMS -c REF     compares them with REF's: prints the
**                                relative L2 difference, exits 1 above 1e-5
** PARAMS: the folded parameters as raw little-endian floats, or "-" for a
** build with embedded weights. The inputs are uniform in [-1, 1) from a
** fixed seed, made of integer arithmetic only so that every machine sees
** the same bits. Built with -DDEPLOY=NAME -DDEPLOY_UP=UPPERCASE_NAME
** -DDEPLOY_HEADER='"NAME.h"'; links only the model and the runtime.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include DEPLOY_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define D(name) CAT(DEPLOY, name)
#define DU(name) CAT(DEPLOY_UP, name)

enum { BATCH = 4 };

static float *alloc_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "deploy_run: out of memory\n");
        exit(2);
    }
    return p;
}

/* Reads exactly n floats from path into v. */
static int read_floats(const char *path, float *v, size_t n) {
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(v, sizeof *v, n, f) : 0;
    int extra = f ? fgetc(f) != EOF : 0;
    if (f) fclose(f);
    if (!f || got != n || extra) {
        fprintf(stderr, "%s: error: expected %zu floats\n", path, n);
        return -1;
    }
    return 0;
}

static int write_floats(const char *path, const float *v, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "%s: error: cannot write it\n", path);
        return 1;
    }
    return 0;
}

/* Prints the relative L2 difference of y from the reference in path;
** 0 if it is at most 1e-5. */
static int compare(const char *me, const char *path, const float *y, size_t n) {
    float *ref = alloc_floats(n);
    double num = 0, den = 0, e;
    if (read_floats(path, ref, n) != 0) {
        free(ref);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        num += ((double)y[i] - ref[i]) * ((double)y[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    e = sqrt(num / (den > 0 ? den : 1));
    printf("%s: relative L2 %.2e against %s (%zu outputs; first %.6f, reference %.6f)\n", me, e,
           path, n, y[0], ref[0]);
    free(ref);
    return e <= 1e-5 ? 0 : 1;
}

int main(int argc, char **argv) {
    size_t in = DU(_IN_FLOATS) * BATCH, out = DU(_OUT_FLOATS) * BATCH;
    float *params = NULL, *x = alloc_floats(in), *y = alloc_floats(out);
    float *arena = alloc_floats(DU(_ARENA_BYTES)(BATCH) / sizeof(float));
    RtRng r;
    if (argc != 3 && !(argc == 4 && !strcmp(argv[2], "-c"))) {
        fprintf(stderr, "usage: deploy_run PARAMS|- OUT | deploy_run PARAMS|- -c REF\n");
        return 2;
    }
    if (strcmp(argv[1], "-") != 0) {
        params = alloc_floats(DU(_NUM_PARAMS));
        if (read_floats(argv[1], params, DU(_NUM_PARAMS)) != 0) return 1;
    }
    rt_rng_seed(&r, 5);
    for (size_t i = 0; i < in; i++) x[i] = 2.0f * rt_rng_uniform(&r) - 1.0f;
    if (D(_predict)(params, x, y, BATCH, arena) != 0) {
        fprintf(stderr, "deploy_run: predict failed\n");
        return 1;
    }
    int rc = argc == 3 ? write_floats(argv[2], y, out) : compare(argv[0], argv[3], y, out);
    free(params);
    free(x);
    free(y);
    free(arena);
    return rc;
}
