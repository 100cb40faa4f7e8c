/*
** rt_model.h: the descriptor every generated model exports, so that one
** generic driver (train, eval, predict, checkpoints) works with any model.
**
** Memory: a model owns nothing. The caller allocates
**   params : num_params floats; trainable tensors first (num_trainable floats),
**            then buffers such as batchnorm running statistics;
**   grads  : num_trainable floats, same layout as the trainable part of params;
**   arena  : RT_ARENA_FLOATS(model, n) floats for a batch of n samples
**            (activations, their gradients and scratch, laid out at
**            generation time by the memory plan), or for infer alone the
**            smaller RT_INFER_ARENA_FLOATS(model, n).
*/
#ifndef SKIPC_RT_MODEL_H
#define SKIPC_RT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rt_geom.h"

typedef enum { RT_LOSS_CROSS_ENTROPY, RT_LOSS_MSE } RtLoss;

/* What a parameter tensor is; decides its initialisation and whether the
** optimizer touches it. */
typedef enum {
    RT_PARAM_WEIGHT,        /* conv/linear weight: trainable, Kaiming init */
    RT_PARAM_BIAS,          /* conv/linear bias: trainable, zero init */
    RT_PARAM_BN_WEIGHT,     /* batchnorm gamma: trainable, one */
    RT_PARAM_BN_BIAS,       /* batchnorm beta: trainable, zero */
    RT_PARAM_RUNNING_MEAN,  /* buffer, zero */
    RT_PARAM_RUNNING_VAR    /* buffer, one */
} RtParamKind;

typedef struct {
    const char *name;       /* spec scope path, e.g. "layer1.0.conv1.weight" */
    int ndim;
    int shape[4];
    size_t offset;          /* in floats from the start of params */
    size_t len;             /* element count */
    RtParamKind kind;
    int layer;              /* index into RtModel.layers */
} RtParamInfo;

/* A layer that owns parameters or is a skip, in forward order. */
typedef struct {
    const char *name;       /* scope path */
    const char *op;         /* "conv2d", "linear", "batchnorm", "add", ... */
    const char *loc;        /* spec file:line */
    int depth;              /* weighted layers on the longest path from the input */
    int reads_input;        /* its (first) input is the model input itself */
} RtLayerInfo;

/* A block of generated code, as RT_PROF marks it: the layers it computes
** (fused ones joined by " + "), their ops, and their forward FLOPs per
** sample. The last block is the loss. */
typedef struct {
    const char *name;
    const char *ops;
    double flops;
} RtBlockInfo;

/* A residual add that a lesion study can cut (RtModel.forward's drop[]). */
typedef struct {
    int layer;              /* index into RtModel.layers */
    const char *identity;   /* name of the input that remains when dropped */
} RtSkipInfo;

typedef struct RtModel {
    const char *name;
    int in_ndim, in_shape[3];     /* per sample: {C,H,W} or {N} */
    int out_ndim, out_shape[3];
    RtLoss loss_kind;
    size_t num_params, num_trainable;
    int num_tensors;
    const RtParamInfo *tensors;
    int num_layers;
    const RtLayerInfo *layers;
    int num_skips;                          /* residual adds, 0 if none */
    const RtSkipInfo *skips;
    int num_blocks;                         /* code blocks, for bench --profile */
    const RtBlockInfo *blocks;
    /* Arena floats: per_sample * n + fixed + scratch * rt_scratch_slices(n) */
    size_t arena_per_sample, arena_fixed, arena_scratch;
    size_t infer_arena_per_sample, infer_arena_fixed, infer_arena_scratch;   /* for infer */
    double flops_per_sample;                /* forward multiply-adds times two */

    void (*init)(float *params, uint64_t seed);
    /* Forward pass over n samples; training selects batch statistics (and
    ** updates running statistics). drop, if not NULL, has num_skips flags:
    ** drop[k] makes skip k pass only its identity input (evaluation-time
    ** lesion; backward assumes nothing was dropped). Returns the output,
    ** inside the arena. */
    const float *(*forward)(float *params, float *arena, const float *x, int n,
                            int training, const unsigned char *drop);
    /* Evaluation-mode forward alone, in an arena of its own size; reads
    ** params only. drop as in forward. Returns the output, inside the arena;
    ** equal, bit for bit, to what forward returns in evaluation. */
    const float *(*infer)(const float *params, float *arena, const float *x, int n,
                          const unsigned char *drop);
    /* Mean loss of outputs out (as forward or infer returned them) against
    ** target: int32 labels (n[,h,w]) for cross-entropy, floats shaped as the
    ** output for MSE. */
    float (*loss)(const float *out, const void *target, int n);
    /* After a training forward: accumulates d(loss)/d(params) into grads
    ** (call zero_grad first) and, if dx is not NULL, into dx. grad_sumsq,
    ** if not NULL, receives per layer the squared L2 norm of the gradient
    ** reaching that layer's input (the model input's only if dx is given). */
    void (*backward)(const float *params, float *grads, float *arena,
                     const float *x, const void *target, float *dx, int n,
                     double *grad_sumsq);
    void (*zero_grad)(float *grads);
    void (*sgd_step)(float *params, const float *grads, float *momentum_buf,
                     float lr, float momentum, float weight_decay, int nesterov);
    void (*adamw_step)(float *params, const float *grads, float *m, float *v,
                       long t, float lr, float beta1, float beta2, float eps,
                       float weight_decay);
} RtModel;

#define RT_ARENA_FLOATS(model, n)                                         \
    ((model)->arena_per_sample * (size_t)(n) + (model)->arena_fixed +     \
     (model)->arena_scratch * rt_scratch_slices(n))
#define RT_INFER_ARENA_FLOATS(model, n)                                   \
    ((model)->infer_arena_per_sample * (size_t)(n) + (model)->infer_arena_fixed + \
     (model)->infer_arena_scratch * rt_scratch_slices(n))
/* An arena that serves both training (forward, backward) and infer. */
#define RT_BOTH_ARENA_FLOATS(model, n)                                      \
    (RT_ARENA_FLOATS(model, n) > RT_INFER_ARENA_FLOATS(model, n)            \
         ? RT_ARENA_FLOATS(model, n) : RT_INFER_ARENA_FLOATS(model, n))

#endif
