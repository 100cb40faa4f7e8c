/*
** cmd_grads.c: the grads subcommand: one batch in training mode, its loss
** and the gradient of every trainable parameter, for checks against a
** reference implementation.
*/
#include "ckpt.h"
#include "cli.h"
#include "commands.h"
#include "drv_util.h"
#include "io_npy.h"
#include "io_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
** Checks targets against n inputs: int labels in [0,classes), one per
** sample (or per pixel for per-pixel outputs) for cross-entropy; floats
** shaped as the outputs for MSE.
*/
static int check_targets(const RtModel *m, const NpyArray *t, int n, const char *path,
                         char *err, size_t errlen) {
    size_t per = m->loss_kind == RT_LOSS_MSE ? cmd_out_size(m)
               : m->out_ndim == 3 ? (size_t)m->out_shape[1] * m->out_shape[2] : 1;
    if (m->loss_kind == RT_LOSS_MSE && t->type != NPY_F32)
        return drv_err(err, errlen, "%s: targets must be float32 for an MSE model", path);
    if (m->loss_kind != RT_LOSS_MSE && t->type != NPY_I32)
        return drv_err(err, errlen, "%s: labels must be int32 or int64", path);
    if (t->count != per * (size_t)n)
        return drv_err(err, errlen, "%s: %zu values, expected %zu (%d samples x %zu)", path,
                       t->count, per * (size_t)n, n, per);
    for (size_t i = 0; m->loss_kind != RT_LOSS_MSE && i < t->count; i++) {
        int32_t v = ((const int32_t *)t->data)[i];
        if (v < 0 || v >= m->out_shape[0])
            return drv_err(err, errlen, "%s: label %d at index %zu is outside [0,%d)", path,
                           (int)v, i, m->out_shape[0]);
    }
    return 0;
}

/* Writes every trainable tensor's gradient, the loss in the metadata. */
static int save_grads(const RtModel *m, const float *grads, float loss, int n,
                      const char *path, char *err, size_t errlen) {
    StTensorSpec *spec = calloc((size_t)m->num_tensors, sizeof *spec);
    const float **src = calloc((size_t)m->num_tensors, sizeof *src);
    StMeta meta;
    st_meta_init(&meta);
    int k = 0, rc = !spec || !src ? drv_err(err, errlen, "out of memory") : 0;
    for (int i = 0; rc == 0 && i < m->num_tensors; i++) {
        const RtParamInfo *t = &m->tensors[i];
        if (!ckpt_trainable(t)) continue;
        spec[k].name = t->name;
        spec[k].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) spec[k].shape[d] = t->shape[d];
        src[k++] = grads + t->offset;
    }
    if (rc == 0 && (st_meta_set(&meta, "model", m->name) | ckpt_meta_setf(&meta, "loss", "%.9g", loss)
                    | ckpt_meta_setf(&meta, "batch", "%d", n)))
        rc = drv_err(err, errlen, "out of memory");
    if (rc == 0) rc = st_save(path, spec, k, src, &meta, err, errlen);
    st_meta_free(&meta);
    free(spec);
    free(src);
    return rc;
}

/* Forward (training mode), loss, backward over all n samples at once. */
static int run_grads(const RtModel *m, float *params, const NpyArray *x, const NpyArray *y,
                     const char *output, char *err, size_t errlen) {
    int n = (int)x->shape[0];
    float *grads = drv_floats(m->num_trainable, err, errlen);
    float *arena = grads ? drv_floats(RT_ARENA_FLOATS(m, n), err, errlen) : NULL;
    int rc = -1;
    if (arena) {
        m->zero_grad(grads);
        float loss = m->loss(m->forward(params, arena, x->data, n, 1, NULL), y->data, n);
        m->backward(params, grads, arena, x->data, y->data, NULL, n, NULL);
        rc = save_grads(m, grads, loss, n, output, err, errlen);
        if (rc == 0) printf("%s: loss %.9g over %d samples; gradients -> %s\n", m->name, loss, n, output);
    }
    free(grads);
    free(arena);
    return rc;
}

/* Checks an input array's shape against the model. */
static int check_inputs(const RtModel *m, const NpyArray *x, const char *path,
                        char *err, size_t errlen) {
    int64_t per = 1;
    for (int d = 1; d < x->ndim; d++) per *= x->shape[d];
    if (x->type != NPY_F32) return drv_err(err, errlen, "%s: inputs must be float32", path);
    if (x->ndim < 2 || x->shape[0] < 1 || x->shape[0] > (1 << 20) || per != (int64_t)cmd_in_size(m))
        return drv_err(err, errlen, "%s: inputs must be [n, ...] with %zu values per sample "
                       "for model %s", path, cmd_in_size(m), m->name);
    return 0;
}

static int grads_files(const RtModel *m, const char *weights, const char *input,
                       const char *labels, const char *output, char *err, size_t errlen) {
    NpyArray x = {0}, y = {0};
    float *params = cmd_load_weights(m, weights, NULL, err, errlen);
    int rc = !params || npy_load(input, &x, err, errlen) || check_inputs(m, &x, input, err, errlen)
             || npy_load(labels, &y, err, errlen)
             || check_targets(m, &y, (int)x.shape[0], labels, err, errlen)
             || run_grads(m, params, &x, &y, output, err, errlen);
    free(params);
    npy_free(&x);
    npy_free(&y);
    return rc ? -1 : 0;
}

int cmd_grads(const RtModel *m, const char *prog, int argc, char **argv) {
    const char *weights = NULL, *input = NULL, *labels = NULL, *output = NULL;
    int threads = 2;
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"weights", CLI_STR, &weights, "CKPT", "checkpoint (required)", NULL},
        {"input", CLI_STR, &input, "X.npy", "float32 inputs [n, ...], normalised (required)", NULL},
        {"labels", CLI_STR, &labels, "Y.npy", "int32/int64 labels (float32 targets for MSE) "
         "(required)", NULL},
        {"output", CLI_STR, &output, "G.safetensors", "gradients by parameter name (required)", NULL},
        {"threads", CLI_THREADS, &threads, "N", "BLAS threads", NULL},
    };
    int rc = cli_parse(prog, "grads", "Loss and the gradient of every trainable parameter for "
                       "one batch (all inputs),\nin training mode (batch statistics).",
                       opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!weights || !input || !labels || !output)
        return cli_usage_error(prog, "grads", "--weights, --input, --labels and --output are "
                               "required", NULL);
    for (const char *const *in = (const char *const[]){weights, input, labels, NULL}; *in; in++)
        if (drv_same_file(output, *in))
            return cli_usage_error(prog, "grads", "--output would replace its own input:", *in);
    drv_set_threads(threads);
    return grads_files(m, weights, input, labels, output, err, sizeof err) ? cmd_fail(prog, err)
                                                                          : CLI_OK;
}
