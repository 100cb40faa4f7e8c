/*
** grad_dump.c: everything a model computes for fixed inputs, printed
** exactly (%a): the training forward's outputs and loss, every parameter
** gradient, dx, and the inference outputs, which must equal the forward's
** in evaluation bit for bit (exit status 1 if not). Compiled with
** -DSKIPC_MODEL=name_model -DSKIPC_MODEL_HEADER='"name.h"'. Two builds of
** one spec whose dumps differ compute differently: the property tests
** compare a model generated with the rewriting passes against one
** generated without (skipc -O0), which must agree bit for bit.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include SKIPC_MODEL_HEADER

#define MODEL (&SKIPC_MODEL)
#define BATCH 3

static void dump(const char *what, const float *v, size_t len) {
    for (size_t i = 0; i < len; i++) printf("%s %zu %a\n", what, i, (double)v[i]);
}

static size_t numel(int ndim, const int *shape) {
    size_t len = 1;
    for (int i = 0; i < ndim; i++) len *= (size_t)shape[i];
    return len;
}

int main(void) {
    const RtModel *m = MODEL;
    size_t in = numel(m->in_ndim, m->in_shape) * BATCH;
    size_t out = numel(m->out_ndim, m->out_shape) * BATCH;
    size_t labels = (m->out_ndim == 3 ? (size_t)m->out_shape[1] * m->out_shape[2] : 1) * BATCH;
    float *params = calloc(m->num_params, sizeof *params);
    float *grads = calloc(m->num_trainable, sizeof *grads);
    float *arena = calloc(RT_ARENA_FLOATS(m, BATCH), sizeof *arena);
    float *infer = calloc(RT_INFER_ARENA_FLOATS(m, BATCH), sizeof *infer);
    float *x = calloc(in, sizeof *x), *dx = calloc(in, sizeof *dx);
    float *target = calloc(out, sizeof *target);
    int32_t *label = calloc(labels, sizeof *label);
    RtRng r;
    if (!params || !grads || !arena || !infer || !x || !dx || !target || !label) return 1;
    rt_rng_seed(&r, 11);
    m->init(params, 3);
    for (int t = 0; t < m->num_tensors; t++)   /* biases off zero, as model_check does */
        if (m->tensors[t].kind == RT_PARAM_BIAS || m->tensors[t].kind == RT_PARAM_BN_BIAS)
            for (size_t i = 0; i < m->tensors[t].len; i++)
                params[m->tensors[t].offset + i] = 0.1f * rt_rng_normal(&r);
    for (size_t i = 0; i < in; i++) x[i] = rt_rng_normal(&r);
    for (size_t i = 0; i < out; i++) target[i] = rt_rng_normal(&r);
    for (size_t i = 0; i < labels; i++)
        label[i] = (int32_t)(rt_rng_next(&r) % (uint64_t)m->out_shape[0]);
    const void *y = m->loss_kind == RT_LOSS_MSE ? (const void *)target : (const void *)label;
    const float *o = m->forward(params, arena, x, BATCH, 1, NULL);
    dump("out", o, out);
    printf("loss %a\n", (double)m->loss(o, y, BATCH));
    m->zero_grad(grads);
    m->backward(params, grads, arena, x, y, dx, BATCH, NULL);
    dump("grad", grads, m->num_trainable);
    dump("dx", dx, in);
    const float *yi = m->infer(params, infer, x, BATCH, NULL);
    dump("infer", yi, out);
    int same = memcmp(yi, m->forward(params, arena, x, BATCH, 0, NULL), out * sizeof *yi) == 0;
    if (!same) printf("infer differs from forward in evaluation\n");
    free(params); free(grads); free(arena); free(infer); free(x); free(dx); free(target);
    free(label);
    return same ? 0 : 1;
}
