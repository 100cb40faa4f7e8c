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
** table of tap masks). The backward runs directly at stride 1 only; the
** generator lowers the rest to im2col + sgemm.
*/
#define RT_DCONV_MAX_PIXELS 65536

static inline int rt_conv_is_direct(int k, int stride, int pad, int groups, int h, int w) {
    int same = (k == 1 || k == 3) && 2 * pad == k - 1;
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    return groups == 1 && (stride == 1 || stride == 2) && same &&
           (long)oh * ow <= RT_DCONV_MAX_PIXELS;
}

static inline int rt_conv_direct_backward(int k, int stride, int pad, int groups, int h, int w) {
    return stride == 1 && rt_conv_is_direct(k, stride, pad, groups, h, w);
}

/* Scratch floats per slice of a direct backward: one partial weight
** gradient (the batch is summed in rt_scratch_slices(n) parts). */
static inline size_t rt_conv_direct_col_floats(int c, int oc, int k) {
    return (size_t)oc * c * k * k;
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
