/*
** rt_geom.h: sizes the generator (which plans the arena) and the runtime
** (which uses it) must agree on, computed in one place. Header-only and
** free of dependencies, so the generator includes it too.
*/
#ifndef SKIPC_RT_GEOM_H
#define SKIPC_RT_GEOM_H

#include <stddef.h>

/* A 1x1, stride-1, unpadded convolution is a plain matrix product: the
** input is its own column matrix. */
static inline int rt_conv_is_pointwise(int k, int stride, int pad) {
    return k == 1 && stride == 1 && pad == 0;
}

/*
** Convolutions the direct kernels run (rt_dconv.c), one group each:
**   - stride 1 with a 1x1 or 3x3 kernel and "same" padding: the output
**     plane is the input plane's size and every tap a constant shift of it;
**   - stride 2 with a 3x3 kernel and padding 1, or a 1x1 and none: the
**     input split into its even and odd rows and columns (phases, oh x ow
**     each), which makes every tap a shift of a phase again.
** Output planes of at most RT_DCONV_MAX_PIXELS (the size of the kernels'
** table of tap masks), forward and backward; the generator lowers the rest
** to im2col + sgemm.
*/
#define RT_DCONV_MAX_PIXELS 65536

static inline int rt_conv_is_direct(int k, int stride, int pad, int groups, int h, int w) {
    int same = (k == 1 || k == 3) && 2 * pad == k - 1;
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    return groups == 1 && (stride == 1 || stride == 2) && same &&
           (long)oh * ow <= RT_DCONV_MAX_PIXELS;
}

static inline int rt_conv_direct_backward(int k, int stride, int pad, int groups, int h, int w) {
    return rt_conv_is_direct(k, stride, pad, groups, h, w);
}

/* Phases a direct stride-2 convolution splits its input into: even and odd
** rows and columns for a 3x3 kernel, the even ones for a 1x1; 1 at stride 1. */
static inline int rt_dconv_phases(int k, int stride) {
    return stride == 2 && k == 3 ? 4 : 1;
}

/*
** Samples in each chunk of a direct weight gradient, from the input planes
** it reads (phases included) and the output planes, all ohw pixels: enough
** that a tile streams at least 64 pixel vectors between two reductions of
** its accumulators, more while the chunk's planes fit in about a quarter
** of a megabyte (half a typical L2), at most 32 (8 at stride 2, where each
** sample of a chunk is split into scratch). The geometry alone decides it,
** so the order of the sums does not depend on the batch split.
*/
static inline int rt_dconv_wgrad_chunk(int in_planes, int oc, int ohw, int stride) {
    size_t per = (size_t)(in_planes + oc) * (size_t)ohw * sizeof(float);
    size_t by_cache = ((size_t)1 << 18) / per, by_vectors = (64 * 16 + (size_t)ohw - 1) / ohw;
    size_t s = by_cache > by_vectors ? by_cache : by_vectors, most = stride == 1 ? 32 : 8;
    return s > most ? (int)most : (int)s;
}

/* Scratch floats per slice of a direct forward: at stride 2, one sample's
** input split into phases; none at stride 1. */
static inline size_t rt_conv_direct_fwd_col_floats(int c, int k, int stride, int oh, int ow) {
    return stride == 1 ? 0 : (size_t)rt_dconv_phases(k, stride) * c * oh * ow;
}

/* Scratch floats per slice of a direct backward: one partial weight
** gradient (the batch is summed in up to rt_scratch_slices(n) parts) and,
** at stride 2, a chunk's inputs split into phases (which also holds the
** phase planes of one sample's input gradient). */
static inline size_t rt_conv_direct_col_floats(int c, int oc, int k, int stride, int oh, int ow) {
    size_t dw = (size_t)oc * c * k * k;
    int np = rt_dconv_phases(k, stride);
    if (stride == 1) return dw;
    return dw + (size_t)rt_dconv_wgrad_chunk(np * c, oc, oh * ow, stride) * np * c *
                    (size_t)oh * ow;
}

/* Output channels of a direct convolution with a batchnorm epilogue
** (rt_conv2d_direct_forward_bn_eval keeps their scales on its stack). */
#define RT_DCONV_BN_MAX_CHANNELS 2048

/* Most threads the runtime runs (rt_set_threads clamps to it). */
#define RT_MAX_THREADS 64
#define RT_STR_(x) #x
#define RT_STR(x) RT_STR_(x)

/*
** Convolutions unfold at most RT_SCRATCH_SLICES samples at once, one per
** thread, so their scratch (im2col columns) has room for
** rt_scratch_slices(n) unfoldings and does not grow with the batch; more
** threads than that split other work, but no convolution further.
*/
#define RT_SCRATCH_SLICES 16

static inline size_t rt_scratch_slices(int n) {
    return n < 1 ? 1 : (n < RT_SCRATCH_SLICES ? (size_t)n : (size_t)RT_SCRATCH_SLICES);
}

/* Floats of im2col scratch per sample of a convolution with c input
** channels, a k x k kernel and an oh x ow output. */
static inline size_t rt_conv_col_floats(int c, int k, int stride, int pad, int oh, int ow) {
    if (rt_conv_is_pointwise(k, stride, pad)) return 0;
    return (size_t)c * k * k * oh * ow;
}

#endif
