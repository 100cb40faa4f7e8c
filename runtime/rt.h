/*
** rt.h: the skipc runtime, the kernels that generated model code calls.
**
** Conventions (every kernel):
**   - float32 tensors, NCHW, row-major; n is the batch size (a runtime value),
**     every other dimension is a per-sample literal written by the generator.
**   - Arguments go outputs first, then inputs, then dimensions (llm.c order).
**   - Backward kernels store the gradient of their input as their last
**     argument says (RtStore): RT_SET overwrites, RT_ADD accumulates (+=). The
**     generator has the first contribution to a gradient set it and the
**     others add, so a tensor that feeds several consumers (a skip's identity
**     path) needs no special case and no gradient buffer is cleared first.
**     Parameter gradients always accumulate. A NULL gradient pointer means
**     "this gradient is not needed".
**   - A tensor may be a channel slice of a wider one: a concatenation whose
**     inputs are written in place. Kernels whose geometry (RtConv, RtNorm,
**     RtPool) carries sample strides xs, ys find sample i of their input at
**     i*xs and of their output at i*ys; every other kernel takes dense
**     tensors.
**   - No kernel allocates: scratch memory (im2col columns) comes from the
**     caller's arena, sized by the rt_*_floats() helpers below.
*/
#ifndef SKIPC_RT_H
#define SKIPC_RT_H

#include <stddef.h>
#include <stdint.h>

#include "rt_geom.h"

typedef enum { RT_SET, RT_ADD } RtStore;

/* {====================================================================
** Threads
** Convolution and batch-norm kernels split their work over the runtime's
** worker threads (pthreads; nothing extra to link). Every output element is
** computed by one thread in a fixed order, so their results are
** bit-identical from run to run and do not depend on the thread count.
** ===================================================================== */

/* Sets the kernels' thread count and OpenBLAS's to n (>= 1). Until it is
** called the runtime follows OpenBLAS's count (openblas_set_num_threads,
** OPENBLAS_NUM_THREADS); a runtime built without OpenBLAS (make portable,
** make cross) runs on the calling thread alone until asked. */
void rt_set_threads(int n);
int rt_get_threads(void);

/* }==================================================================== */

/* {====================================================================
** Convolution and linear layers (im2col + cblas_sgemm)
** ===================================================================== */

/* Geometry of one 2-D convolution: square kernel, equal stride and padding
** on both axes. Weights are PyTorch's [oc, c/groups, k, k], bias [oc]. */
typedef struct {
    int c, h, w;          /* input channels and spatial size */
    int oc;               /* output channels */
    int k, stride, pad;   /* kernel size, stride, zero padding */
    int groups;           /* c and oc are both divisible by groups */
    int oh, ow;           /* output spatial size */
    int xs, ys;           /* floats from one sample to the next in the input (and its
                             gradient) and the output; 0: dense, c*h*w and oc*oh*ow */
} RtConv;

/* Floats from one sample to the next in a convolution's input (and its
** gradient) and in its output: the geometry's strides, or the dense sizes. */
static inline size_t rt_conv_x_stride(const RtConv *g) {
    return g->xs ? (size_t)g->xs : (size_t)g->c * g->h * g->w;
}

static inline size_t rt_conv_y_stride(const RtConv *g) {
    return g->ys ? (size_t)g->ys : (size_t)g->oc * g->oh * g->ow;
}

/* Floats of im2col scratch per unfolded sample (0 when the convolution is
** a plain 1x1/stride-1/pad-0 matrix product). The caller passes col with
** room for rt_scratch_slices(n) times this (rt_geom.h). */
size_t rt_conv2d_col_floats(const RtConv *g);

/* inp is (n,c,h,w), w is (oc,c/groups,k,k), b is (oc) or NULL; out is (n,oc,oh,ow) */
void rt_conv2d_forward(float *out, float *col, const float *inp,
                       const float *w, const float *b, int n, const RtConv *g);
/* dout is (n,oc,oh,ow); stores into dinp (may be NULL), accumulates into dw, db
** (may be NULL) */
void rt_conv2d_backward(float *dinp, float *dw, float *db, float *col,
                        const float *dout, const float *inp, const float *w,
                        int n, const RtConv *g, RtStore st);

/* Direct convolution (rt_dconv.c), for the geometries rt_conv_is_direct
** accepts (rt_geom.h). col: NULL at stride 1; at stride 2 scratch,
** rt_scratch_slices(n) slices of rt_conv_direct_fwd_col_floats. */
/* inp is (n,c,h,w), w is (oc,c,k,k), b is (oc) or NULL; out is (n,oc,oh,ow) */
void rt_conv2d_direct_forward(float *out, float *col, const float *inp, const float *w,
                              const float *b, int n, const RtConv *g);
/* relu?(bn(conv(inp)) + res), the batchnorm in evaluation mode (running
** statistics) applied to every output before it is stored, rounding as
** rt_batchnorm_relu_forward_eval does; res (n,oc,oh,ow, dense) or NULL;
** oc <= RT_DCONV_BN_MAX_CHANNELS */
void rt_conv2d_direct_forward_bn_eval(float *out, float *col, const float *inp, const float *w,
                                      const float *b, const float *res, const float *gamma,
                                      const float *beta, const float *run_mean,
                                      const float *run_var, int n, const RtConv *g, float eps,
                                      int relu);
/* relu?(conv(inp) + b + res): the bias, residual add and relu applied to
** every output before it is stored, rounding as rt_add_relu_forward after
** the convolution does; res (n,oc,oh,ow, dense) or NULL */
void rt_conv2d_direct_forward_fused(float *out, float *col, const float *inp, const float *w,
                                    const float *b, const float *res, int n, const RtConv *g,
                                    int relu);
/* Backward of a stride-1 direct convolution (rt_conv_direct_backward).
** dout is (n,oc,h,w); stores into dinp (may be NULL), accumulates into dw,
** db (may be NULL); col: rt_scratch_slices(n) slices of
** rt_conv_direct_col_floats (rt_geom.h); dw does not depend on the thread
** count */
void rt_conv2d_direct_backward(float *dinp, float *dw, float *db, float *col, const float *dout,
                               const float *inp, const float *w, int n, const RtConv *g,
                               RtStore st);

/* inp is (n,in), w is (out,in), b is (out) or NULL; out is (n,out) */
void rt_linear_forward(float *out, const float *inp, const float *w,
                       const float *b, int n, int in, int outf);
void rt_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int n, int in, int outf,
                        RtStore st);

/* }==================================================================== */

/* {====================================================================
** Batch normalisation (PyTorch semantics)
** Training: normalise with the batch mean and biased variance, save mean and
** 1/sqrt(var+eps) per channel for backward, and update the running stats with
** momentum and the UNBIASED batch variance. Evaluation: running stats.
** inp is (n,c,hw) with hw = h*w (1 for vectors); gamma, beta, stats are (c).
** ===================================================================== */

/* Geometry of one batch normalisation: c channels of hw values each, and
** the sample strides of input (and its gradient) and output, 0: dense. */
typedef struct { int c, hw, xs, ys; } RtNorm;

void rt_batchnorm_forward_train(float *out, float *mean, float *rstd,
                                float *run_mean, float *run_var,
                                const float *inp, const float *gamma,
                                const float *beta, int n, const RtNorm *g,
                                float momentum, float eps);
void rt_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, int n, const RtNorm *g, float eps);
void rt_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                           const float *dout, const float *inp,
                           const float *mean, const float *rstd,
                           const float *gamma, int n, const RtNorm *g, RtStore st);

/* Fused: out = relu(batchnorm(inp) + res), res (n,c,hw) dense or NULL for
** none; bit for bit what the separate kernels give. Backward takes dout at
** the relu and its output out, and stores dinp as rt_batchnorm_backward
** does. */
void rt_batchnorm_relu_forward_train(float *out, float *mean, float *rstd,
                                     float *run_mean, float *run_var,
                                     const float *inp, const float *res,
                                     const float *gamma, const float *beta,
                                     int n, const RtNorm *g, float momentum, float eps);
void rt_batchnorm_relu_forward_eval(float *out, const float *inp, const float *res,
                                    const float *gamma, const float *beta,
                                    const float *run_mean, const float *run_var,
                                    int n, const RtNorm *g, float eps);
/* out = relu(batchnorm(inp)) as the training forward computed it, from the
** statistics it saved (mean, rstd): the same bits, for backward to
** recompute an output instead of keeping it. */
void rt_batchnorm_relu_recompute(float *out, const float *inp, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 int n, const RtNorm *g);
void rt_batchnorm_relu_backward(float *dinp, float *dgamma, float *dbeta,
                                const float *dout, const float *out, const float *inp,
                                const float *mean, const float *rstd, const float *gamma,
                                int n, const RtNorm *g, RtStore st);

/* }==================================================================== */

/* {====================================================================
** Batchnorm folding (rt_fold.c), for deployment builds
** ===================================================================== */

/* The weights w (oc rows of per_oc) and bias b (or NULL: none) of a layer
** whose outputs an evaluation-mode batchnorm reads, as the layer computing
** both: w_out, b_out (oc). Computed in double, rounded once. */
void rt_fold_batchnorm(float *w_out, float *b_out, const float *w, const float *b,
                       const float *gamma, const float *beta, const float *run_mean,
                       const float *run_var, int oc, size_t per_oc, float eps);

/* }==================================================================== */

/* {====================================================================
** Elementwise: activations, add (the residual skip), accumulate
** len is the total element count (n times the per-sample size).
** ===================================================================== */

void rt_relu_forward(float *out, const float *inp, size_t len);
void rt_relu_backward(float *dinp, const float *dout, const float *out, size_t len,
                      RtStore st);
void rt_leaky_relu_forward(float *out, const float *inp, float slope, size_t len);
void rt_leaky_relu_backward(float *dinp, const float *dout, const float *inp,
                            float slope, size_t len, RtStore st);
void rt_sigmoid_forward(float *out, const float *inp, size_t len);
void rt_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t len,
                         RtStore st);
void rt_tanh_forward(float *out, const float *inp, size_t len);
void rt_tanh_backward(float *dinp, const float *dout, const float *out, size_t len,
                      RtStore st);

void rt_add_forward(float *out, const float *a, const float *b, size_t len); /* out = a + b */
void rt_add_relu_forward(float *out, const float *a, const float *b, size_t len); /* relu(a + b) */

/* out = a * b: a and out are (n,c,hw), b is (n,c,bhw) with bhw = hw (an
** elementwise product) or 1 (a gate, one factor per channel, as
** squeeze-and-excitation scales its input). Backward: da = dout * b
** broadcast the same way; db = dout * a, summed over each plane for a gate.
** A NULL gradient is skipped. */
void rt_mul_forward(float *out, const float *a, const float *b, int n, int c, int hw, int bhw);
void rt_mul_backward_a(float *da, const float *dout, const float *b, int n, int c, int hw,
                       int bhw, RtStore st);
void rt_mul_backward_b(float *db, const float *dout, const float *a, int n, int c, int hw,
                       int bhw, RtStore st);
void rt_acc(float *y, const float *x, size_t len);                          /* y += x */
void rt_copy(float *y, const float *x, size_t len);                         /* y = x */
void rt_scale(float *y, float a, size_t len);                               /* y *= a */
double rt_sumsq(const float *x, size_t len);                                /* sum of x^2, in double */
/* The same over n samples of len floats each, sample i at x + i*stride:
** per sample in sample order, so a slice sums as a dense tensor does. */
double rt_sumsq_samples(const float *x, int n, size_t len, size_t stride);

/* }==================================================================== */

/* {====================================================================
** Pooling, upsampling, channel concatenation
** ===================================================================== */

/* Geometry of one pooling window: square k, stride, zero padding. */
typedef struct {
    int c, h, w, k, stride, pad, oh, ow;
    int xs, ys;   /* sample strides of input and output, 0: dense (as in RtConv) */
} RtPool;

/* Max pooling ignores padded cells; ties go to the first maximum in scan
** order; backward recomputes the argmax from inp (no index buffer). */
void rt_maxpool_forward(float *out, const float *inp, int n, const RtPool *p);
void rt_maxpool_backward(float *dinp, const float *dout, const float *inp,
                         int n, const RtPool *p, RtStore st);
/* Average pooling counts padded cells (PyTorch's count_include_pad=True). */
void rt_avgpool_forward(float *out, const float *inp, int n, const RtPool *p);
void rt_avgpool_backward(float *dinp, const float *dout, int n, const RtPool *p,
                         RtStore st);

/* inp is (n,c,hw); out is (n,c) */
void rt_global_avgpool_forward(float *out, const float *inp, int n, int c, int hw);
void rt_global_avgpool_backward(float *dinp, const float *dout, int n, int c, int hw,
                                RtStore st);

/* Nearest-neighbour upsampling by an integer factor f: inp is (n,c,h,w),
** out is (n,c,h*f,w*f). */
void rt_upsample_forward(float *out, const float *inp, int n, int c, int h, int w, int f);
void rt_upsample_backward(float *dinp, const float *dout, int n, int c, int h, int w, int f,
                          RtStore st);

/* One input of a channel concat: inp is (n,c_in,hw) and lands in channels
** [c_off, c_off+c_in) of out (n,c_out,hw). Backward stores that slice. */
void rt_concat_forward(float *out, const float *inp, int n, int c_out,
                       int c_off, int c_in, int hw);
void rt_concat_backward(float *dinp, const float *dout, int n, int c_out,
                        int c_off, int c_in, int hw, RtStore st);

/* }==================================================================== */

/* {====================================================================
** Losses: averaged over the batch (and pixels), as PyTorch's defaults
** ===================================================================== */

/* Softmax cross-entropy. logits is (n,c,hw), labels is (n,hw) with values in
** [0,c). hw = 1 for classification, h*w for per-pixel outputs. */
float rt_xent_forward(const float *logits, const int32_t *labels, int n, int c, int hw);
void rt_xent_backward(float *dlogits, const float *logits, const int32_t *labels,
                      int n, int c, int hw, RtStore st);
/* Mean squared error over len elements. */
float rt_mse_forward(const float *pred, const float *target, size_t len);
void rt_mse_backward(float *dpred, const float *pred, const float *target, size_t len,
                     RtStore st);

/* }==================================================================== */

/* {====================================================================
** Optimizers (PyTorch semantics) over a flat parameter block
** ===================================================================== */

/* SGD: g' = g + wd*w; buf = momentum*buf + g'; step = nesterov ? g' + momentum*buf : buf;
** w -= lr*step. buf starts at zero (equal to PyTorch's first-step init). */
void rt_sgd_step(float *w, const float *g, float *buf, size_t len, float lr,
                 float momentum, float wd, int nesterov);
/* AdamW with decoupled weight decay; t is the 1-based step count. */
void rt_adamw_step(float *w, const float *g, float *m, float *v, size_t len,
                   long t, float lr, float beta1, float beta2, float eps, float wd);

/* }==================================================================== */

/* {====================================================================
** Seeded random numbers (xoshiro256**) and parameter initialisation
** ===================================================================== */

typedef struct { uint64_t s[4]; } RtRng;

void rt_rng_seed(RtRng *r, uint64_t seed);
uint64_t rt_rng_next(RtRng *r);
float rt_rng_uniform(RtRng *r);   /* [0,1) */
float rt_rng_normal(RtRng *r);    /* standard normal */

/* He/Kaiming normal init: w ~ N(0, 2/fan_in). The stream is derived from
** seed and a per-tensor constant, so adding a layer elsewhere in a spec does
** not change the initial values of the others. */
void rt_init_kaiming(float *w, size_t len, int fan_in, uint64_t seed, uint64_t stream);
void rt_fill(float *w, size_t len, float v);

/* }==================================================================== */

/* {====================================================================
** Profiling (rt_prof.c): time per block of generated code
** ===================================================================== */

/* A profile: seconds[phase * nblocks + block], phase 0 forward, 1 backward. */
typedef struct {
    int nblocks;
    double *seconds;
    int phase, cur;    /* the phase (-1: not timing) and the running block (-1: none) */
    double last;       /* when the running block started */
} RtProf;

/* The profile being taken, or NULL (the generated marks then cost a test). */
extern RtProf *rt_prof;
/* Closes the running block and starts block (an index of RtModel.blocks). */
void rt_prof_mark(int block);
/* Closes the running block and times phase (0, 1) from now on, or none (-1). */
void rt_prof_phase(int phase);

#define RT_PROF(block)                      \
    do {                                    \
        if (rt_prof) rt_prof_mark(block);   \
    } while (0)

/* }==================================================================== */

#endif
