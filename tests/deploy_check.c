/*
** deploy_check.c: a deployment build (skipc --infer) against the training
** build of the same spec, linked together:
**   deploy_check save CKPT     writes a checkpoint of seeded parameters with
**                              batchnorm statistics and scales far from their
**                              initial values, so that folding has work to do,
**                              and Fashion-MNIST's input normalisation
**   deploy_check fold OUT      writes the seeded parameters, folded by
**                              DEPLOY_fold, as raw floats (for deploy_run)
**   deploy_check check [CKPT]  the seeded parameters (or CKPT's), folded by
**                              DEPLOY_fold: DEPLOY_predict's outputs equal
**                              the training build's infer within 1e-5
**                              relative L2 (folding changes rounding only);
**                              with a build that embedded CKPT (EMBED), its
**                              weights are the bits DEPLOY_fold makes and
**                              its predict(NULL) gives DEPLOY_predict's bits
** Built with -DSKIPC_MODEL=NAME_model -DSKIPC_MODEL_HEADER='"NAME.h"'
** -DDEPLOY=NAME_deploy -DDEPLOY_UP=NAME_DEPLOY -DDEPLOY_HEADER='"NAME_deploy.h"'
** [-DEMBED=NAME_embed -DEMBED_UP=NAME_EMBED -DEMBED_HEADER='"NAME_embed.h"'].
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "rt.h"
#include SKIPC_MODEL_HEADER
#include DEPLOY_HEADER
#ifdef EMBED
#include EMBED_HEADER
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define D(name) CAT(DEPLOY, name)         /* functions: resnet20_deploy_fold */
#define DU(name) CAT(DEPLOY_UP, name)     /* macros: RESNET20_DEPLOY_NUM_PARAMS */
#define E(name) CAT(EMBED, name)
#define EU(name) CAT(EMBED_UP, name)

enum { BATCH = 3 };

static const RtModel *const model = &SKIPC_MODEL;

static void *alloc_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "deploy_check: out of memory\n");
        exit(2);
    }
    return p;
}

/* Initial parameters, then batchnorm statistics and affine parameters
** drawn away from 0 and 1. */
static void seeded_params(float *params) {
    RtRng r;
    model->init(params, 7);
    rt_rng_seed(&r, 11);
    for (int t = 0; t < model->num_tensors; t++) {
        const RtParamInfo *q = &model->tensors[t];
        float *v = params + q->offset;
        for (size_t i = 0; i < q->len; i++) {
            float u = (float)rt_rng_uniform(&r);
            switch (q->kind) {
            case RT_PARAM_BN_WEIGHT: v[i] = 0.5f + u; break;
            case RT_PARAM_BN_BIAS: v[i] = 0.2f * (u - 0.5f); break;
            case RT_PARAM_RUNNING_MEAN: v[i] = 0.4f * (u - 0.5f); break;
            case RT_PARAM_RUNNING_VAR: v[i] = 0.3f + u; break;
            case RT_PARAM_BIAS: v[i] = 0.1f * (u - 0.5f); break;
            default: break;
            }
        }
    }
}

static float *inputs(size_t floats) {
    float *x = alloc_floats(floats);
    RtRng r;
    rt_rng_seed(&r, 3);
    for (size_t i = 0; i < floats; i++) x[i] = (float)rt_rng_normal(&r);
    return x;
}

static double rel_l2(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static int check(const char *ckpt) {
    size_t in = DU(_IN_FLOATS) * BATCH, out = DU(_OUT_FLOATS) * BATCH;
    float *params = alloc_floats(model->num_params), *folded = alloc_floats(DU(_NUM_PARAMS));
    float *arena = alloc_floats(RT_INFER_ARENA_FLOATS(model, BATCH));
    float *darena = alloc_floats(DU(_ARENA_BYTES)(BATCH) / sizeof(float));
    float *x = inputs(in), *y = alloc_floats(out);
    const float *ref;
    char err[1024];
    double e;
    int bad = 0;
    if (ckpt) {
        if (ckpt_load(ckpt, model, params, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    } else {
        seeded_params(params);
    }
    ref = model->infer(params, arena, x, BATCH, NULL);
    D(_fold)(params, folded);
    if (D(_predict)(folded, x, y, BATCH, darena) != 0) bad = 1;
#ifdef EMBED
    {
        float *ye = alloc_floats(out), *earena = alloc_floats(EU(_ARENA_BYTES)(BATCH) / 4);
        if (EU(_NUM_PARAMS) != DU(_NUM_PARAMS) ||
            memcmp(folded, E(_weights), DU(_NUM_PARAMS) * sizeof(float)) != 0) {
            fprintf(stderr, "deploy_check: %s: embedded weights differ from the folded "
                            "checkpoint\n", model->name);
            bad = 1;
        }
        if (E(_predict)(NULL, x, ye, BATCH, earena) != 0 || memcmp(y, ye, out * 4) != 0) {
            fprintf(stderr, "deploy_check: %s: predict(NULL) differs from predict(folded)\n",
                    model->name);
            bad = 1;
        }
        free(ye);
        free(earena);
    }
#endif
    if (D(_predict)(folded, x, y, 0, darena) != -1) {
        fprintf(stderr, "deploy_check: predict accepted n = 0\n");
        bad = 1;
    }
    e = rel_l2(y, ref, out);
    printf("deploy_check: %-18s relative L2 %.2e (%d outputs)\n", model->name, e, (int)out);
    if (!(e <= 1e-5)) bad = 1;
    free(params); free(folded); free(arena); free(darena); free(x); free(y);
    return bad;
}

int main(int argc, char **argv) {
    rt_set_threads(1);
    if (argc == 3 && !strcmp(argv[1], "save")) {
        float *params = alloc_floats(model->num_params);
        char err[1024];
        StMeta meta;
        st_meta_init(&meta);
        seeded_params(params);
        /* Fashion-MNIST's statistics, as training would store them. */
        if (ckpt_meta_setf(&meta, "norm_mean", "0.2860") ||
            ckpt_meta_setf(&meta, "norm_std", "0.3530") ||
            ckpt_save(argv[2], model, params, NULL, NULL, &meta, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        st_meta_free(&meta);
        free(params);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "fold")) {
        float *params = alloc_floats(model->num_params), *folded = alloc_floats(DU(_NUM_PARAMS));
        FILE *f = fopen(argv[2], "wb");
        seeded_params(params);
        D(_fold)(params, folded);
        if (!f || fwrite(folded, sizeof(float), DU(_NUM_PARAMS), f) != DU(_NUM_PARAMS) ||
            fclose(f) != 0) {
            fprintf(stderr, "%s: error: cannot write it\n", argv[2]);
            return 1;
        }
        free(params);
        free(folded);
        return 0;
    }
    if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "check")) return check(argc == 3 ? argv[2] : NULL);
    fprintf(stderr, "usage: deploy_check save CKPT | fold OUT | check [CKPT]\n");
    return 2;
}
