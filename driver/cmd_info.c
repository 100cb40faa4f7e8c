/*
** cmd_info.c: info (parameters, FLOPs, memory) and bench (training and
** inference throughput on synthetic data).
*/
#include "cli.h"
#include "commands.h"
#include "drv_util.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND[] = {"weight", "bias", "bn weight", "bn bias",
                                   "running mean", "running var"};

static void shape_text(char *buf, size_t len, int ndim, const int *shape) {
    int k = snprintf(buf, len, "[");
    for (int d = 0; d < ndim && k > 0 && (size_t)k < len; d++)
        k += snprintf(buf + k, len - (size_t)k, d ? ",%d" : "%d", shape[d]);
    if (k > 0 && (size_t)k < len) snprintf(buf + k, len - (size_t)k, "]");
}

static void print_info(const RtModel *m, int batch) {
    char s[64];
    printf("model %s\n", m->name);
    shape_text(s, sizeof s, m->in_ndim, m->in_shape);
    printf("input %s per sample, ", s);
    shape_text(s, sizeof s, m->out_ndim, m->out_shape);
    printf("output %s, loss %s\n\n", s, m->loss_kind == RT_LOSS_MSE ? "mse" : "cross-entropy");
    printf("%-36s %-18s %10s  %s\n", "parameter", "shape", "count", "kind");
    for (int i = 0; i < m->num_tensors; i++) {
        const RtParamInfo *t = &m->tensors[i];
        shape_text(s, sizeof s, t->ndim, t->shape);
        printf("%-36s %-18s %10zu  %s\n", t->name, s, t->len, KIND[t->kind]);
    }
    size_t arena = RT_ARENA_FLOATS(m, batch) * sizeof(float);
    size_t infer = RT_INFER_ARENA_FLOATS(m, batch) * sizeof(float);
    printf("\ntotal %zu parameters (%zu trainable, %zu buffers), %d layers\n", m->num_params,
           m->num_trainable, m->num_params - m->num_trainable, m->num_layers);
    printf("forward FLOPs per sample %.4g (%.2f MFLOPs)\n", m->flops_per_sample,
           m->flops_per_sample / 1e6);
    printf("arena for batch %d: training %zu bytes (%.1f MiB), inference %zu bytes "
           "(%.1f MiB); params %.1f MiB\n", batch, arena, (double)arena / 1048576.0, infer,
           (double)infer / 1048576.0, (double)m->num_params * 4 / 1048576.0);
}

int cmd_info(const RtModel *m, const char *prog, int argc, char **argv) {
    int batch = 128;
    CliOpt opts[] = {{"batch", CLI_COUNT, &batch, "N", "batch size for the arena figure", NULL}};
    int rc = cli_parse(prog, "info", "Parameters, FLOPs per sample and memory.", opts, 1, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    print_info(m, batch);
    return CLI_OK;
}

/* {====================================================================
** bench
** ===================================================================== */

typedef struct {
    float *params, *grads, *mom, *arena, *x;
    int32_t *y;
} Bench;

static void bench_free(Bench *b) {
    free(b->params); free(b->grads); free(b->mom); free(b->arena); free(b->x); free(b->y);
}

/*
** Random normal inputs and uniform labels (or targets), initialised params;
** gradients, optimizer state and the training arena only when training is
** timed, so that an inference run's peak memory is what inference needs.
*/
static int bench_setup(Bench *b, const RtModel *m, int batch, int train, char *err,
                       size_t errlen) {
    size_t in = cmd_in_size(m) * (size_t)batch, out = cmd_out_size(m) * (size_t)batch;
    size_t arena = train ? RT_BOTH_ARENA_FLOATS(m, batch) : RT_INFER_ARENA_FLOATS(m, batch);
    RtRng r;
    rt_rng_seed(&r, 7);
    memset(b, 0, sizeof *b);
    if (!(b->params = drv_floats(m->num_params, err, errlen)) ||
        (train && !(b->grads = drv_floats(m->num_trainable, err, errlen))) ||
        (train && !(b->mom = drv_floats(m->num_trainable, err, errlen))) ||
        !(b->arena = drv_floats(arena, err, errlen)) ||
        !(b->x = drv_floats(in, err, errlen)) || !(b->y = calloc(out, sizeof(float))))
        return drv_err(err, errlen, "out of memory for batch %d", batch);
    m->init(b->params, 1);
    for (size_t i = 0; i < in; i++) b->x[i] = rt_rng_normal(&r);
    for (size_t i = 0; i < out; i++) {   /* labels for cross-entropy, small targets for mse */
        if (m->loss_kind == RT_LOSS_MSE) ((float *)b->y)[i] = 0.1f * rt_rng_normal(&r);
        else b->y[i] = (int32_t)(rt_rng_next(&r) % (uint64_t)m->out_shape[0]);
    }
    return 0;
}

static void train_steps(const RtModel *m, Bench *b, int batch, int steps) {
    for (int s = 0; s < steps; s++) {
        m->zero_grad(b->grads);
        m->loss(m->forward(b->params, b->arena, b->x, batch, 1, NULL), b->y, batch);
        m->backward(b->params, b->grads, b->arena, b->x, b->y, NULL, batch, NULL);
        m->sgd_step(b->params, b->grads, b->mom, 0.01f, 0.9f, 5e-4f, 1);
    }
}

/*
** --profile: steps timed block by block (rt_prof.c), forward and backward,
** with the loss and the optimizer step timed around their calls. GFLOP/s
** counts a block's backward as twice its forward FLOPs (input and weight
** gradients), the usual estimate.
*/
static void profile_steps(const RtModel *m, Bench *b, int batch, int steps) {
    int nb = m->num_blocks;
    RtProf prof = {nb, calloc(2 * (size_t)nb, sizeof(double)), -1, -1, 0.0};
    double loss = 0, optim = 0, conv = 0, total, t;
    if (!prof.seconds) return;
    rt_prof = &prof;
    for (int s = 0; s < steps; s++) {
        m->zero_grad(b->grads);
        rt_prof_phase(0);
        const float *out = m->forward(b->params, b->arena, b->x, batch, 1, NULL);
        rt_prof_phase(-1);
        t = drv_now();
        m->loss(out, b->y, batch);
        loss += drv_now() - t;
        rt_prof_phase(1);
        m->backward(b->params, b->grads, b->arena, b->x, b->y, NULL, batch, NULL);
        rt_prof_phase(-1);
        t = drv_now();
        m->sgd_step(b->params, b->grads, b->mom, 0.01f, 0.9f, 5e-4f, 1);
        optim += drv_now() - t;
    }
    rt_prof = NULL;
    total = loss + optim;
    for (int i = 0; i < 2 * nb; i++) total += prof.seconds[i];
    int w = 5, wo = 3;
    for (int i = 0; i < nb; i++) {
        if ((int)strlen(m->blocks[i].name) > w) w = (int)strlen(m->blocks[i].name);
        if ((int)strlen(m->blocks[i].ops) > wo) wo = (int)strlen(m->blocks[i].ops);
    }
    printf("%-*s  %-*s %8s %7s %8s %7s %6s\n", w, "block", wo, "ops", "fwd ms", "GFLOP/s",
           "bwd ms", "GFLOP/s", "share");
    for (int i = 0; i < nb; i++) {
        double f = prof.seconds[i] / steps, bw = prof.seconds[nb + i] / steps;
        double gf = m->blocks[i].flops * batch * 1e-9;
        if (strstr(m->blocks[i].ops, "conv2d")) conv += f + bw;
        printf("%-*s  %-*s %8.3f %7.1f %8.3f %7.1f %5.1f%%\n", w, m->blocks[i].name, wo,
               m->blocks[i].ops, 1e3 * f, f > 0 ? gf / f : 0.0, 1e3 * bw,
               bw > 0 ? 2 * gf / bw : 0.0, 100 * (f + bw) * steps / total);
    }
    printf("%-*s  %-*s %8.3f\n", w, "loss", wo, "", 1e3 * loss / steps);
    printf("%-*s  %-*s %8.3f\n", w, "optimizer step", wo, "sgd", 1e3 * optim / steps);
    printf("step %.2f ms: %.1f%% in convolution blocks, %.1f%% outside them\n",
           1e3 * total / steps, 100 * conv * steps / total, 100 - 100 * conv * steps / total);
    free(prof.seconds);
}

static void report(const char *what, double secs, int steps, int batch) {
    printf("%-10s %9.1f images/s  %8.2f ms/step  (%d steps of %d)\n", what,
           (double)steps * batch / secs, 1e3 * secs / steps, steps, batch);
}

static void infer_steps(const RtModel *m, Bench *b, int batch, int steps) {
    for (int s = 0; s < steps; s++) m->infer(b->params, b->arena, b->x, batch, NULL);
}

int cmd_bench(const RtModel *m, const char *prog, int argc, char **argv) {
    int batch = 128, threads = 2, steps = 20;
    const char *mode = "both";
    int profile = 0;
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"batch", CLI_COUNT, &batch, "N", "batch size", NULL},
        {"threads", CLI_THREADS, &threads, "N", "BLAS threads", NULL},
        {"steps", CLI_COUNT, &steps, "N", "timed steps (after 2 untimed ones)", NULL},
        {"mode", CLI_STR, &mode, "M", "train, infer or both", NULL},
        {"profile", CLI_FLAG, &profile, NULL,
         "time the training steps block by block (forward, backward, GFLOP/s)", NULL},
    };
    int rc = cli_parse(prog, "bench", "Training-step (forward, backward, SGD) and inference "
                       "throughput on synthetic data.", opts, 5, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    int train = !strcmp(mode, "train") || !strcmp(mode, "both");
    int infer = !strcmp(mode, "infer") || !strcmp(mode, "both");
    if (!train && !infer)
        return cli_usage_error(prog, "bench", "--mode must be train, infer or both", NULL);
    if (profile && !train)
        return cli_usage_error(prog, "bench", "--profile times training: --mode train or both",
                               NULL);
    drv_set_threads(threads);
    Bench b;
    if (bench_setup(&b, m, batch, train, err, sizeof err)) {
        bench_free(&b);
        return cmd_fail(prog, err);
    }
    printf("%s, batch %d, %d threads, %.2f MFLOPs/sample forward\n", m->name, batch, threads,
           m->flops_per_sample / 1e6);
    if (train) {
        train_steps(m, &b, batch, 2);
        double t0 = drv_now();
        train_steps(m, &b, batch, steps);
        report("train", drv_now() - t0, steps, batch);
        if (profile) profile_steps(m, &b, batch, steps);
    }
    if (infer) {
        infer_steps(m, &b, batch, 2);
        double t0 = drv_now();
        infer_steps(m, &b, batch, steps);
        report("inference", drv_now() - t0, steps, batch);
    }
    bench_free(&b);
    return CLI_OK;
}

/* }==================================================================== */
