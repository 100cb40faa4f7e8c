/*
** weights.c: a checkpoint's weights folded for a deployment build.
*/
#include "weights.h"

#include "io_safetensors.h"
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(char out[65], const uint8_t digest[SHA256_DIGEST_SIZE]) {
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void sha_floats(char out[65], const float *v, int64_t len) {
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, (size_t)len * sizeof *v, (const uint8_t *)v);   /* little-endian hosts */
    sha256_digest(&ctx, sizeof d, d);
    hex(out, d);
}

static int sha_file(char out[65], const char *path) {
    struct sha256_ctx ctx;
    uint8_t buf[1 << 16], d[SHA256_DIGEST_SIZE];
    size_t got;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: error: cannot open it: %s\n", path, strerror(errno));
        return -1;
    }
    sha256_init(&ctx);
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&ctx, got, buf);
    if (ferror(f)) {
        fprintf(stderr, "%s: error: cannot read it: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    sha256_digest(&ctx, sizeof d, d);
    hex(out, d);
    return 0;
}

/* Input normalisation from the metadata training wrote (train.c), if any. */
static int read_norm(Weights *w, const StMeta *meta, const char *path) {
    const char *m = st_meta_get(meta, "norm_mean"), *s = st_meta_get(meta, "norm_std");
    char *end1 = NULL, *end2 = NULL;
    w->mean = 0.0f;
    w->std = 1.0f;
    if (!m && !s) return 0;
    if (m) w->mean = strtof(m, &end1);
    if (s) w->std = strtof(s, &end2);
    if (!m || !s || *end1 || *end2 || !isfinite(w->mean) || !(w->std > 0) || !isfinite(w->std)) {
        fprintf(stderr, "%s: error: metadata norm_mean and norm_std must be numbers, std "
                        "positive\n", path);
        return -1;
    }
    w->has_norm = 1;
    return 0;
}

int weights_load(Weights *w, const KProgram *p, const char *path) {
    const IrGraph *g = p->g;
    char *want = kprog_dparam_sources(p), err[1024];
    StTensorSpec *spec = xcalloc((size_t)g->nparams + 1, sizeof *spec);
    float **dst = xcalloc((size_t)g->nparams + 1, sizeof *dst);
    float *train = xmalloc((size_t)(g->num_params ? g->num_params : 1) * sizeof *train);
    StMeta meta;
    int n = 0, rc = -1;
    memset(w, 0, sizeof *w);
    st_meta_init(&meta);
    for (int i = 0; i < g->nparams; i++) {
        if (!want[i]) continue;
        spec[n].name = g->params[i].name;
        spec[n].ndim = g->params[i].ndim;
        for (int d = 0; d < spec[n].ndim; d++) spec[n].shape[d] = g->params[i].shape[d];
        dst[n++] = train + g->params[i].offset;
    }
    if (sha_file(w->file_sha, path) != 0) goto out;
    if (st_load(path, spec, n, dst, "", &meta, err, sizeof err) != 0) {
        size_t k = strlen(path);   /* the loader's "path: what" as "path: error: what" */
        int named = !strncmp(err, path, k) && !strncmp(err + k, ": ", 2);
        fprintf(stderr, "%s: error: %s\n", path, named ? err + k + 2 : err);
        goto out;
    }
    if (read_norm(w, &meta, path) != 0) goto out;
    w->values = xmalloc((size_t)(p->num_dparams ? p->num_dparams : 1) * sizeof *w->values);
    w->sha = xmalloc((size_t)(p->ndparams ? p->ndparams : 1) * sizeof *w->sha);
    for (int i = 0; i < p->ndparams; i++) {
        const DParam *d = &p->dparams[i];
        const float *bn[4];
        if (d->kind == DP_COPY) {
            memcpy(w->values + d->offset, train + g->params[d->src].offset,
                   (size_t)d->len * sizeof *train);
            continue;
        }
        if (d->kind != DP_FOLD_WEIGHT) continue;       /* made with its weight */
        const DParam *b = &p->dparams[d->pair];
        for (int k = 0; k < 4; k++) bn[k] = train + g->params[d->bn[k]].offset;
        rt_fold_batchnorm(w->values + d->offset, w->values + b->offset,
                          train + g->params[d->src].offset,
                          b->src >= 0 ? train + g->params[b->src].offset : NULL, bn[0], bn[1],
                          bn[2], bn[3], d->shape[0], (size_t)(d->len / d->shape[0]), d->eps);
    }
    for (int i = 0; i < p->ndparams; i++)
        sha_floats(w->sha[i], w->values + p->dparams[i].offset, p->dparams[i].len);
    rc = 0;
out:
    if (rc != 0) weights_free(w);
    st_meta_free(&meta);
    free(want);
    free(spec);
    free(dst);
    free(train);
    return rc;
}

void weights_free(Weights *w) {
    free(w->values);
    free(w->sha);
    memset(w, 0, sizeof *w);
}
