/*
** cmd_eval.c: eval (test loss and accuracy, per class, by the inference
** program), and what the commands share: weight loading, sizes, failure.
*/
#include "ckpt.h"
#include "cli.h"
#include "commands.h"
#include "data.h"
#include "drv_util.h"
#include "io_npy.h"
#include "metrics.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_fail(const char *prog, const char *msg) {
    fprintf(stderr, "%s: %s\n", prog, msg);
    return CLI_FAIL;
}

size_t cmd_in_size(const RtModel *m) {
    size_t s = 1;
    for (int d = 0; d < m->in_ndim; d++) s *= (size_t)m->in_shape[d];
    return s;
}

size_t cmd_out_size(const RtModel *m) {
    size_t s = 1;
    for (int d = 0; d < m->out_ndim; d++) s *= (size_t)m->out_shape[d];
    return s;
}

float *cmd_load_weights(const RtModel *m, const char *path, float *norm,
                        char *err, size_t errlen) {
    float *params = drv_floats(m->num_params, err, errlen);
    StMeta meta;
    st_meta_init(&meta);
    int rc = !params || ckpt_load(path, m, params, &meta, err, errlen);
    if (!rc && norm && !st_meta_get(&meta, "norm_mean") && !st_meta_get(&meta, "norm_std")) {
        /* A checkpoint from elsewhere (a PyTorch state_dict) may name none. */
        fprintf(stderr, "%s: note: no input normalisation in the metadata: pixels scaled to "
                        "[0,1] are used as they are (norm_mean 0, norm_std 1)\n", path);
        norm[0] = 0.0f;
        norm[1] = 1.0f;
    } else if (!rc && norm) {
        rc = ckpt_meta_float(&meta, "norm_mean", &norm[0], path, err, errlen)
             || ckpt_meta_float(&meta, "norm_std", &norm[1], path, err, errlen);
    }
    if (!rc && norm && !(norm[1] > 0))
        rc = drv_err(err, errlen, "%s: metadata norm_std must be positive", path);
    st_meta_free(&meta);
    if (rc) { free(params); return NULL; }
    return params;
}

/* {====================================================================
** eval
** ===================================================================== */

static const char *const FASHION[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static void print_eval(const MetCounts *c, const char *data_dir) {
    int names = c->num_classes == 10 && strstr(data_dir, "fashion");
    printf("test loss %.4f  accuracy %.2f%%  (%ld images)\n\n", c->loss_sum / (double)c->count,
           100.0 * (double)c->correct / (double)c->count, c->count);
    printf("class %-12s  accuracy  images\n", "");
    for (int k = 0; k < c->num_classes; k++) {
        long n = c->class_count[k];
        printf("%5d %-12s  %7.2f%%  %6ld\n", k, names ? FASHION[k] : "",
               n ? 100.0 * (double)c->class_correct[k] / (double)n : 0.0, n);
    }
}

/* Loads and normalises the test split, evaluates, prints. 0 or -1. */
static int run_eval(const RtModel *m, float *params, const float *norm, const char *dir,
                    int batch, long limit, char *err, size_t errlen) {
    IdxDataset ds;
    MetCounts c;
    char what[1100];
    snprintf(what, sizeof what, "%s/t10k-images-idx3-ubyte", dir);
    if (data_load_split(&ds, dir, "t10k", limit, m, err, errlen)) return -1;
    float *arena = NULL;
    int rc = data_check_model(m, ds.c, ds.h, ds.w, what, err, errlen);
    if (rc == 0 && (met_init(&c, m->out_shape[0])
                    || !(arena = drv_floats(RT_INFER_ARENA_FLOATS(m, batch), err, errlen))))
        rc = drv_err(err, errlen, "out of memory");
    if (rc == 0) {
        data_normalise(ds.x, (size_t)ds.n * ds.c * ds.h * ds.w, norm[0], norm[1]);
        met_evaluate(&c, m, params, arena, batch, &ds);
        print_eval(&c, dir);
        met_free(&c);
    }
    free(arena);
    idx_dataset_free(&ds);
    return rc;
}

int cmd_eval(const RtModel *m, const char *prog, int argc, char **argv) {
    const char *weights = NULL, *dir = TRAIN_DEFAULT_DATA;
    int batch = 256, threads = 2;
    long limit = 0;
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"weights", CLI_STR, &weights, "CKPT", "checkpoint to evaluate (required)", NULL},
        {"data", CLI_STR, &dir, "DIR", "dataset directory (its t10k-* files)", NULL},
        {"batch", CLI_COUNT, &batch, "N", "images per forward pass", NULL},
        {"limit-test", CLI_LONG, &limit, "N", "use the first N test images", "all"},
        {"threads", CLI_THREADS, &threads, "N", "BLAS threads", NULL},
    };
    int rc = cli_parse(prog, "eval", "Test loss and accuracy, overall and per class, in "
                       "evaluation mode\n(running batchnorm statistics).",
                       opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!weights) return cli_usage_error(prog, "eval", "--weights is required", NULL);
    if (limit < 0) return cli_usage_error(prog, "eval", "--limit-test must be >= 0", NULL);
    drv_set_threads(threads);
    float norm[2], *params = cmd_load_weights(m, weights, norm, err, sizeof err);
    if (!params) return cmd_fail(prog, err);
    printf("%s: %s\n", m->name, weights);
    rc = run_eval(m, params, norm, dir, batch, limit, err, sizeof err);
    free(params);
    return rc ? cmd_fail(prog, err) : CLI_OK;
}

/* }==================================================================== */
