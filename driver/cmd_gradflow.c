/*
** cmd_gradflow.c: the gradflow subcommand: per weighted layer, by depth,
** the gradient norm over a few batches of training data in training
** mode, its ratio to the weight norm, and the gradient norm reaching the
** layer's input. At initialisation (--init) this shows whether a
** network's gradient survives the trip back to its first layers.
*/
#include "analysis.h"
#include "cli.h"
#include "commands.h"
#include "data.h"
#include "drv_util.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====================================================================
** The probe
** ===================================================================== */

static double sumsq(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static int wanted(const RtParamInfo *t, int with_bn) {
    return t->kind == RT_PARAM_WEIGHT || (with_bn && t->kind == RT_PARAM_BN_WEIGHT);
}

/* Depth, then layer order, then tensor order: a total order, so the
** table never depends on qsort's handling of ties. */
static int row_cmp(const void *a, const void *b) {
    const GfRow *x = a, *y = b;
    if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->tensor > y->tensor) - (x->tensor < y->tensor);
}

int gf_open(GfProbe *p, const RtModel *m, float *params, int batch, int with_bn,
            char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->params = params;
    p->batch = batch;
    p->rows = calloc((size_t)m->num_tensors + 1, sizeof *p->rows);
    p->sumsq = calloc((size_t)m->num_layers + 1, sizeof *p->sumsq);
    if (!p->rows || !p->sumsq || !(p->grads = drv_floats(m->num_trainable, err, errlen))
        || !(p->arena = drv_floats(RT_ARENA_FLOATS(m, batch), err, errlen))
        || !(p->dx = drv_floats(cmd_in_size(m) * (size_t)batch, err, errlen))) {
        gf_close(p);
        return drv_err(err, errlen, "out of memory for batch %d", batch);
    }
    for (int i = 0; i < m->num_tensors; i++) {
        const RtParamInfo *t = &m->tensors[i];
        if (!wanted(t, with_bn)) continue;
        GfRow *r = &p->rows[p->nrows++];
        r->tensor = i;
        r->layer = t->layer;
        r->depth = m->layers[t->layer].depth;
        r->weight_norm = sqrt(sumsq(params + t->offset, t->len));
    }
    qsort(p->rows, (size_t)p->nrows, sizeof *p->rows, row_cmp);
    return 0;
}

void gf_close(GfProbe *p) {
    free(p->grads);
    free(p->arena);
    free(p->dx);
    free(p->sumsq);
    free(p->rows);
    memset(p, 0, sizeof *p);
}

float gf_add(GfProbe *p, const float *x, const int32_t *y, int n) {
    const RtModel *m = p->m;
    m->zero_grad(p->grads);
    memset(p->sumsq, 0, (size_t)m->num_layers * sizeof *p->sumsq);
    /* dx is requested only so that backward also measures the first layer's input */
    memset(p->dx, 0, cmd_in_size(m) * (size_t)n * sizeof *p->dx);
    float loss = m->loss(m->forward(p->params, p->arena, x, n, 1, NULL), y, n);
    m->backward(p->params, p->grads, p->arena, x, y, p->dx, n, p->sumsq);
    for (int i = 0; i < p->nrows; i++) {
        GfRow *r = &p->rows[i];
        const RtParamInfo *t = &m->tensors[r->tensor];
        r->grad_norm += sqrt(sumsq(p->grads + t->offset, t->len));
        r->input_grad_norm += sqrt(p->sumsq[r->layer]);
    }
    p->batches++;
    return loss;
}

void gf_finish(GfProbe *p) {
    double k = p->batches > 0 ? (double)p->batches : 1.0;
    for (int i = 0; i < p->nrows; i++) {
        p->rows[i].grad_norm /= k;
        p->rows[i].input_grad_norm /= k;
    }
    p->batches = 0;
}

/* }==================================================================== */

/* {====================================================================
** The command
** ===================================================================== */

typedef struct {
    const char *weights, *dir, *csv;
    int init, batches, batch, threads, with_bn;
    long seed, limit;
} GfArgs;

static double ratio(const GfRow *r) {
    return r->weight_norm > 0 ? r->grad_norm / r->weight_norm : NAN;
}

static void print_table(const RtModel *m, const GfProbe *p) {
    printf("%5s  %-26s %-32s %11s %11s %11s %11s\n", "depth", "layer", "param", "grad_norm",
           "weight_norm", "ratio", "input_grad");
    for (int i = 0; i < p->nrows; i++) {
        const GfRow *r = &p->rows[i];
        printf("%5d  %-26s %-32s %11.4e %11.4e %11.4e %11.4e\n", r->depth,
               m->layers[r->layer].name, m->tensors[r->tensor].name, r->grad_norm,
               r->weight_norm, ratio(r), r->input_grad_norm);
    }
    if (p->nrows == 0) return;
    const GfRow *a = &p->rows[0], *z = &p->rows[p->nrows - 1];
    printf("\nfirst %s (depth %d) grad norm %.4e, last %s (depth %d) grad norm %.4e, "
           "first/last %.4g\n", m->tensors[a->tensor].name, a->depth, a->grad_norm,
           m->tensors[z->tensor].name, z->depth, z->grad_norm,
           z->grad_norm > 0 ? a->grad_norm / z->grad_norm : NAN);
}

static int write_csv(const RtModel *m, const GfProbe *p, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) return drv_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    fputs("depth,layer,param,grad_norm,weight_norm,ratio,input_grad_norm\n", f);
    for (int i = 0; i < p->nrows; i++) {
        const GfRow *r = &p->rows[i];
        fprintf(f, "%d,%s,%s,%.9g,%.9g,%.9g,%.9g\n", r->depth, m->layers[r->layer].name,
                m->tensors[r->tensor].name, r->grad_norm, r->weight_norm, ratio(r),
                r->input_grad_norm);
    }
    int bad = ferror(f);
    if (fclose(f) || bad) return drv_err(err, errlen, "%s: write failed", path);
    return 0;
}

/* Training images, normalised as training does: with the checkpoint's
** mean/std, or (norm[1] == 0, for --init) the loaded images' own. */
static int load_train(const RtModel *m, const GfArgs *a, float *norm, IdxDataset *ds,
                      char *err, size_t errlen) {
    char what[1100];
    snprintf(what, sizeof what, "%s/train-images-idx3-ubyte", a->dir);
    if (data_load_split(ds, a->dir, "train", a->limit, m, err, errlen)) return -1;
    size_t len = (size_t)ds->n * ds->c * ds->h * ds->w;
    if (data_check_model(m, ds->c, ds->h, ds->w, what, err, errlen)) return -1;
    if ((long)ds->n < (long)a->batches * a->batch)
        return drv_err(err, errlen, "%s: %d images, fewer than %d batches of %d", what, ds->n,
                       a->batches, a->batch);
    if (norm[1] == 0.0f) data_stats(ds->x, len, &norm[0], &norm[1]);
    data_normalise(ds->x, len, norm[0], norm[1]);
    return 0;
}

/* Seeded random batches without augmentation through the probe. */
static int measure(const RtModel *m, float *params, const GfArgs *a, const IdxDataset *ds,
                   char *err, size_t errlen) {
    GfProbe p;
    RtRng rng;
    int *perm = calloc((size_t)ds->n, sizeof *perm);
    int32_t *yb = calloc((size_t)a->batch, sizeof *yb);
    float *xb = drv_floats(cmd_in_size(m) * (size_t)a->batch, err, errlen);
    int rc = !perm || !yb || !xb ? drv_err(err, errlen, "out of memory")
             : gf_open(&p, m, params, a->batch, a->with_bn, err, errlen);
    if (rc == 0) {
        double loss = 0.0;
        rt_rng_seed(&rng, (uint64_t)a->seed);
        data_shuffle(perm, ds->n, &rng);
        for (int i = 0; i < a->batches; i++) {
            data_batch(xb, yb, ds, perm + (size_t)i * a->batch, a->batch, NULL, &rng);
            loss += gf_add(&p, xb, yb, a->batch);
        }
        gf_finish(&p);
        printf("%s, %s: %d batches of %d training images, training mode, mean loss %.4f\n\n",
               m->name, a->init ? "initialisation" : a->weights, a->batches, a->batch,
               loss / a->batches);
        print_table(m, &p);
        if (a->csv) rc = write_csv(m, &p, a->csv, err, errlen);
        if (rc == 0 && a->csv) printf("table -> %s\n", a->csv);
        gf_close(&p);
    }
    free(perm);
    free(yb);
    free(xb);
    return rc;
}

static const char GF_HELP[] =
    "Gradient flow: for every conv/linear weight, by depth (weighted layers from the\n"
    "input), the L2 norm of its gradient averaged over --batches random batches of\n"
    "training images (no augmentation) in training mode (batch statistics), its\n"
    "ratio to the weight's norm, and the norm of the gradient reaching the layer's\n"
    "input. Parameters come from --weights (with its input normalisation) or from\n"
    "--init (the model's initialisation with --seed, normalisation from the\n"
    "training images). --seed also picks the batches.";

int cmd_gradflow(const RtModel *m, const char *prog, int argc, char **argv) {
    GfArgs a = {NULL, TRAIN_DEFAULT_DATA, NULL, 0, 10, 128, 2, 0, 1, 0};
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"weights", CLI_STR, &a.weights, "CKPT", "checkpoint to analyse", "none"},
        {"init", CLI_FLAG, &a.init, NULL, "use the initialisation instead", NULL},
        {"seed", CLI_LONG, &a.seed, "N", "initialisation and batch selection", NULL},
        {"batches", CLI_COUNT, &a.batches, "N", "batches to average over", NULL},
        {"batch", CLI_COUNT, &a.batch, "N", "images per batch", NULL},
        {"data", CLI_STR, &a.dir, "DIR", "dataset directory (its train-* files)", NULL},
        {"limit-train", CLI_LONG, &a.limit, "N", "use the first N training images", "all"},
        {"with-bn", CLI_FLAG, &a.with_bn, NULL, "also list batchnorm scales", NULL},
        {"threads", CLI_THREADS, &a.threads, "N", "BLAS threads", NULL},
        {"csv", CLI_STR, &a.csv, "FILE", "also write the table as CSV", "none"},
    };
    int rc = cli_parse(prog, "gradflow", GF_HELP, opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!a.weights == !a.init)
        return cli_usage_error(prog, "gradflow", "give exactly one of --weights and --init", NULL);
    if (a.limit < 0) return cli_usage_error(prog, "gradflow", "--limit-train must be >= 0", NULL);
    drv_set_threads(a.threads);
    float norm[2] = {0.0f, 0.0f};
    float *params = a.init ? drv_floats(m->num_params, err, sizeof err)
                           : cmd_load_weights(m, a.weights, norm, err, sizeof err);
    if (!params) return cmd_fail(prog, err);
    if (a.init) m->init(params, (uint64_t)a.seed);
    IdxDataset ds;
    memset(&ds, 0, sizeof ds);
    rc = load_train(m, &a, norm, &ds, err, sizeof err)
         || measure(m, params, &a, &ds, err, sizeof err);
    idx_dataset_free(&ds);
    free(params);
    return rc ? cmd_fail(prog, err) : CLI_OK;
}

/* }==================================================================== */
