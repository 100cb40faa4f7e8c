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
** Convolutions the direct kernels run (rt_dconv.c): stride 1, one group,
** a 1x1 or 3x3 kernel and "same" padding, so the output plane is the input
** plane's size and every tap is a constant shift of it, on planes of at
** most RT_DCONV_MAX_PIXELS (the size of the kernels' table of tap masks).
** The generator lowers these to rt_conv2d_direct_*, which need no scratch.
*/
#define RT_DCONV_MAX_PIXELS 65536

static inline int rt_conv_is_direct(int k, int stride, int pad, int groups, int h, int w) {
    return stride == 1 && groups == 1 && (k == 1 || k == 3) && 2 * pad == k - 1 &&
           (long)h * w <= RT_DCONV_MAX_PIXELS;
}

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
