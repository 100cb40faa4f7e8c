/*
** cmd_predict.c: predict, the model's outputs for any number of inputs, by
** the inference program (infer) in chunks of at most --batch.
**
** Inputs: a float32 .npy [n, C,H,W] or [n, N] taken as already normalised,
** or an IDX image file (n x h x w bytes, gzip or plain), normalised with
** the checkpoint's training mean/std as in training.
*/
#include "cli.h"
#include "commands.h"
#include "drv_util.h"
#include "io_idx.h"
#include "io_npy.h"
#include "io_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_npy(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".npy");
}

/* Checks a [n, ...] shape against the model's per-sample input. */
static int check_shape(const RtModel *m, const int64_t *shape, int ndim, const char *path,
                       char *err, size_t errlen) {
    int64_t per = 1;
    for (int d = 1; d < ndim; d++) per *= shape[d];
    int exact = ndim == m->in_ndim + 1;
    for (int d = 0; exact && d < m->in_ndim; d++) exact = shape[d + 1] == m->in_shape[d];
    if (ndim >= 2 && shape[0] > 0 && shape[0] < (1L << 31) && per == (int64_t)cmd_in_size(m)
        && (exact || ndim == 2))
        return 0;
    char want[64];
    if (m->in_ndim == 3)
        snprintf(want, sizeof want, "[n,%d,%d,%d] or [n,%zu]", m->in_shape[0], m->in_shape[1],
                 m->in_shape[2], cmd_in_size(m));
    else
        snprintf(want, sizeof want, "[n,%d]", m->in_shape[0]);
    return drv_err(err, errlen, "%s: inputs must be %s with n >= 1 for model %s", path, want,
                   m->name);
}

/* IDX images into normalised floats; *x is malloc'ed. 0 or -1. */
static int read_idx(const RtModel *m, const char *path, const float *norm, float **x,
                    int *n, char *err, size_t errlen) {
    IdxData d;
    if (idx_load(path, &d, err, errlen)) return -1;
    int64_t shape[IDX_MAX_NDIM];
    for (int i = 0; i < d.ndim; i++) shape[i] = d.dims[i];
    int ndim = d.ndim;
    if (ndim == 3 && m->in_ndim == 3) {         /* n x h x w is one channel */
        shape[3] = shape[2]; shape[2] = shape[1]; shape[1] = 1;
        ndim = 4;
    } else if (ndim == 3 && m->in_ndim == 1) {  /* flattened per sample */
        shape[1] *= shape[2];
        ndim = 2;
    }
    int rc = check_shape(m, shape, ndim, path, err, errlen);
    if (rc == 0 && !(*x = drv_floats(d.count, err, errlen))) rc = -1;
    if (rc == 0) {
        for (size_t i = 0; i < d.count; i++) (*x)[i] = (d.data[i] / 255.0f - norm[0]) / norm[1];
        *n = d.dims[0];
    }
    idx_free(&d);
    return rc;
}

/* Float32 .npy inputs, used as they are; *x is malloc'ed. 0 or -1. */
static int read_npy(const RtModel *m, const char *path, float **x, int *n,
                    char *err, size_t errlen) {
    NpyArray a;
    if (npy_load(path, &a, err, errlen)) return -1;
    int rc = a.type != NPY_F32 ? drv_err(err, errlen, "%s: inputs must be float32", path)
                               : check_shape(m, a.shape, a.ndim, path, err, errlen);
    if (rc) { npy_free(&a); return -1; }
    *x = a.data;            /* ownership moves to the caller */
    *n = (int)a.shape[0];
    return 0;
}

/* {====================================================================
** predict
** ===================================================================== */

/* Runs every sample through the model in chunks of at most batch, in an
** arena sized for the largest chunk; y is (n, out_size). */
static int predict_all(const RtModel *m, const float *params, const float *x, int n, int batch,
                       float *y, char *err, size_t errlen) {
    if (batch > n) batch = n;
    float *arena = drv_floats(RT_INFER_ARENA_FLOATS(m, batch), err, errlen);
    if (!arena) return -1;
    size_t in = cmd_in_size(m), out = cmd_out_size(m);
    for (int i = 0; i < n; i += batch) {
        int b = n - i < batch ? n - i : batch;
        const float *o = m->infer(params, arena, x + (size_t)i * in, b, NULL);
        memcpy(y + (size_t)i * out, o, (size_t)b * out * sizeof *y);
    }
    free(arena);
    return 0;
}

static int run_predict(const RtModel *m, const char *weights, const char *input,
                       const char *output, int batch, char *err, size_t errlen) {
    float norm[2], *x = NULL, *y = NULL;
    int n = 0, rc = -1;
    float *params = cmd_load_weights(m, weights, is_npy(input) ? NULL : norm, err, errlen);
    if (params && !(is_npy(input) ? read_npy(m, input, &x, &n, err, errlen)
                                  : read_idx(m, input, norm, &x, &n, err, errlen))
        && (y = drv_floats((size_t)n * cmd_out_size(m), err, errlen))
        && !predict_all(m, params, x, n, batch, y, err, errlen)) {
        int64_t shape[4] = {n, m->out_shape[0], m->out_shape[1], m->out_shape[2]};
        rc = npy_save(output, y, NPY_F32, 1 + m->out_ndim, shape, err, errlen);
    }
    if (rc == 0) printf("%s: %d outputs of [%zu] floats -> %s\n", m->name, n, cmd_out_size(m), output);
    free(params);
    free(x);
    free(y);
    return rc;
}

int cmd_predict(const RtModel *m, const char *prog, int argc, char **argv) {
    const char *weights = NULL, *input = NULL, *output = NULL;
    int batch = 256, threads = 2;
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"weights", CLI_STR, &weights, "CKPT", "checkpoint (required)", NULL},
        {"input", CLI_STR, &input, "X", ".npy float32 [n,C,H,W] or [n,N], already "
         "normalised; or IDX images (required)", NULL},
        {"output", CLI_STR, &output, "Y.npy", "float32 outputs [n, ...] (required)", NULL},
        {"batch", CLI_COUNT, &batch, "N", "samples per forward pass", NULL},
        {"threads", CLI_THREADS, &threads, "N", "BLAS threads", NULL},
    };
    int rc = cli_parse(prog, "predict", "Model outputs (logits or per-pixel maps) for any "
                       "number of inputs, in evaluation mode.\nIDX images are normalised "
                       "with the checkpoint's mean/std; .npy inputs are used as given.",
                       opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!weights || !input || !output)
        return cli_usage_error(prog, "predict", "--weights, --input and --output are required", NULL);
    if (drv_same_file(output, input) || drv_same_file(output, weights))
        return cli_usage_error(prog, "predict", "--output would replace its own input:",
                               drv_same_file(output, input) ? input : weights);
    drv_set_threads(threads);
    return run_predict(m, weights, input, output, batch, err, sizeof err) ? cmd_fail(prog, err)
                                                                        : CLI_OK;
}

/* }==================================================================== */
