/*
** rt_dconv.c: direct convolution, without im2col, for the convolutions
** rt_conv_is_direct accepts (rt_geom.h): stride 1, one group, a 1x1 or
** 3x3 kernel, and "same" padding, so the output plane is as large as the
** input plane. Forward, input gradient and weight gradient.
**
** Layout: NCHW, as everywhere in the runtime. A vector holds 16
** consecutive pixels of one flattened h*w channel plane. For a same
** convolution, tap (ky,kx) of output pixel p reads input pixel
**     p + (ky - pad)*w + (kx - pad)
** of every input plane, so a vector of outputs reads one unaligned vector
** of each input plane per tap. Lanes whose tap falls in the padding (or
** past the plane's end) are masked off in the load: the edges need no
** branch in the inner loop and no padded copy. Because pixels, not
** channels, fill the vectors, any channel count runs at full width
** (DenseNet's growth of 12, 1 or 3 input channels) and a channel slice of a
** concatenation is just a run of whole planes; lanes are idle only in a
** plane's last vector (28x28: 49 vectors, all full; 14x14: 94% of lanes
** used; 7x7: 77%).
**
** Forward and input gradient are one kernel: the input gradient of a same
** stride-1 convolution is the same convolution of the output gradient
** with the weights transposed and flipped, which is only a change of the
** strides the kernel walks the weights with (DConv). Its register tile is
** TB output channels x TV pixel vectors of accumulators; the inner loop
** over input channels loads TV input vectors and broadcasts TB weights for
** TB*TV fused multiply-adds. Samples are split over threads.
**
** Weight gradient: dW[o][i][t] = sum over samples and pixels of
** dy[o][p] * x[i][p + off(t)], a reduction over n*h*w products for a tiny
** output. A tile holds WB output channels x WI input channels x one
** kernel row of taps in registers and streams over the pixels of a fixed
** chunk of samples (sized by the geometry to stay in L2); each chunk's
** tile is reduced to floats and added to dW, chunks in order. Threads take
** whole tiles, so every dW element is computed by the same sequence of
** operations whatever the thread count: results are bit-identical at any
** number of threads.
**
** The AVX-512 kernels are used where the compiler targets AVX-512F (and
** RT_PORTABLE is not defined); elsewhere portable C computes the same sums
** (in another order): the forward with the same layout as tiles of 4
** output channels x 8 pixels, which compilers keep in vector registers
** (SSE, NEON), the weight gradient as plain loops over row spans.
*/
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rt.h"
#include "rt_geom.h"
#include "rt_par.h"

#if defined(__AVX512F__) && !defined(RT_PORTABLE)
#define RT_DCONV_AVX512 1
#include <immintrin.h>
#else
#define RT_DCONV_AVX512 0
#endif

/* What happens to an output on its way to memory: an evaluation-mode
** batchnorm, y = v*scale + shift per output channel (scale NULL: none),
** then the residual add (the job's res), then the relu. */
typedef struct {
    const float *scale, *shift;
    int relu;
} Epilogue;

/*
** One convolution of a sample's ci input planes into its co output planes,
** all h x w, as a list of taps: tap t reads, for output pixel (y,x), input
** pixel (y + dy[t], x + dx[t]) of the planes starting xo[t] floats into the
** input (0, or a phase of a stride-2 input split by split_phases), weighted
** by the weight at wo[t] from an input's first one.
*/
enum { MAX_TAPS = 9 };

typedef struct {
    int ci, co, h, w;
    int ntap, dy[MAX_TAPS], dx[MAX_TAPS];
    ptrdiff_t xo[MAX_TAPS], wo[MAX_TAPS];
    const float *wt;            /* weights of output 0, input 0 */
    ptrdiff_t so, si;           /* weight strides: per output, per input */
    const float *bias;          /* per output (RT_SET only), or NULL */
    RtStore store;              /* RT_SET writes the outputs, RT_ADD adds */
    const Epilogue *ep;         /* applied on store, or NULL */
} DConv;

/*
** The batchnorm epilogue's scale and shift of output channel o, computed
** as rt_batchnorm_forward_eval computes them (rt_norm.c) and applied with
** the same float operations (a multiply, then an add; then the residual,
** then the relu), so the fused call gives the bits of the separate ones.
*/
static void bn_affine(float *scale, float *shift, const float *gamma, const float *beta,
                      const float *run_mean, const float *run_var, float eps, int co) {
    for (int o = 0; o < co; o++) {
        double s = gamma[o] / sqrt((double)run_var[o] + eps);
        scale[o] = (float)s;
        shift[o] = (float)(beta[o] - run_mean[o] * s);
    }
}

/* Phases of a stride-2 input: 4 for a 3x3 kernel (even and odd rows and
** columns), 1 for a 1x1 (even ones only); 1 at stride 1. */
static int phases_of(const RtConv *g) {
    return rt_dconv_phases(g->k, g->stride);
}

/*
** The forward convolution of g. Stride 1: tap (ky,kx) is the shift (ky -
** pad, kx - pad). Stride 2: input row 2*oy + ky - pad is row oy + dy of
** phase a, with ky - pad = 2*dy + a, and the same for columns; the phase
** planes (split_phases) are oh x ow, so the taps are shifts again.
*/
static DConv forward_of(const RtConv *g, const float *w, const float *b) {
    DConv d = {.ci = g->c, .co = g->oc, .h = g->oh, .w = g->ow, .ntap = g->k * g->k, .wt = w,
               .so = (ptrdiff_t)g->c * g->k * g->k, .si = (ptrdiff_t)g->k * g->k, .bias = b,
               .store = RT_SET};
    size_t plane = (size_t)g->c * g->oh * g->ow;
    for (int t = 0; t < d.ntap; t++) {
        int ry = t / g->k - g->pad, rx = t % g->k - g->pad;
        if (g->stride == 1) {
            d.dy[t] = ry;
            d.dx[t] = rx;
        } else {
            int ay = ry & 1, ax = rx & 1;   /* the phase: row and column parity */
            d.dy[t] = (ry - ay) / 2;
            d.dx[t] = (rx - ax) / 2;
            d.xo[t] = (ptrdiff_t)((ay * 2 + ax) % phases_of(g) * plane);
        }
        d.wo[t] = t;
    }
    return d;
}

/* The input gradient of a stride-1 g: outputs are g's inputs, taps run
** backwards. */
static DConv input_grad_of(const RtConv *g, const float *w, RtStore st) {
    int kk = g->k * g->k, pad = g->k - 1 - g->pad;
    DConv d = {.ci = g->oc, .co = g->c, .h = g->h, .w = g->w, .ntap = kk, .wt = w,
               .so = kk, .si = (ptrdiff_t)g->c * kk, .store = st};
    for (int t = 0; t < kk; t++) {
        d.dy[t] = t / g->k - pad;
        d.dx[t] = t % g->k - pad;
        d.wo[t] = kk - 1 - t;
    }
    return d;
}

/*
** The phases of one stride-2 input sample x (c, h, w) into dst: plane
** (phase, ci) is oh x ow and holds x[ci][2*oy + ay][2*ox + ax] for phase
** ay*2 + ax, or 0 past the input's edge.
*/
static void split_phases(float *dst, const float *x, const RtConv *g) {
    int np = phases_of(g), oh = g->oh, ow = g->ow;
    for (int ph = 0; ph < np; ph++) {
        int ay = ph / 2, ax = ph % 2;
        int rows = (g->h - ay + 1) / 2, cols = (g->w - ax + 1) / 2;   /* inside the input */
        if (rows > oh) rows = oh;
        if (cols > ow) cols = ow;
        for (int c = 0; c < g->c; c++) {
            const float *xc = x + (size_t)c * g->h * g->w + ay * g->w + ax;
            float *d = dst + ((size_t)ph * g->c + c) * oh * ow;
            for (int oy = 0; oy < rows; oy++) {
                const float *restrict src = xc + (size_t)2 * oy * g->w;
                float *restrict row = d + (size_t)oy * ow;
                for (int ox = 0; ox < cols; ox++) row[ox] = src[2 * ox];
                for (int ox = cols; ox < ow; ox++) row[ox] = 0.0f;
            }
            for (int oy = rows; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) d[(size_t)oy * ow + ox] = 0.0f;
        }
    }
}

static int wgrad_chunk(const RtConv *g) {
    return rt_dconv_wgrad_chunk(g->c * phases_of(g), g->oc, g->oh * g->ow, g->stride);
}

/* Floats of one scratch slice of the backward (rt_geom.h). */
static size_t slice_floats(const RtConv *g) {
    return rt_conv_direct_col_floats(g->c, g->oc, g->k, g->stride, g->oh, g->ow);
}

/* Lanes of a pixel vector, one bit each (an AVX-512 mask register). */
typedef uint16_t TapMask;

/*
** The weight gradient of one chunk of samples: the forward's taps (d: at
** stride 2 over the phases of x, which the caller split), the chunk's
** output gradient and input with their sample strides, where the sums go,
** and the lanes each tap reaches in each pixel vector (masks[v*ntap + t]),
** computed once for all tiles (the portable loops clip to the valid spans
** instead and ignore them).
*/
typedef struct {
    const RtConv *g;
    const DConv *d;
    const float *dy, *x;
    size_t ys, xs;
    float *dw;
    const TapMask *masks;
} WGrad;

/* A weight-gradient tile: wb outputs x wi inputs x one kernel row. */
typedef void (*WGradTileFn)(const WGrad *, int, int, int, int);
typedef struct { WGradTileFn fn; int wb, wi; } WGradShape;

#if RT_DCONV_AVX512
/* {====================================================================
** AVX-512 kernels
** ===================================================================== */

enum { LANES = 16, TB = 4, TV = 6 };

#define INLINE static inline __attribute__((always_inline))
/* Loops over a tile's registers are unrolled completely, so that each
** accumulator is a variable of its own that lives in a register. */
#define UNROLL _Pragma("GCC unroll 32")

/*
** Row and column of every lane of the pixel vector starting at p0 in a
** plane of h x w. Lanes past the plane get a row no tap can reach, so
** every tap mask leaves them out.
*/
INLINE void lane_coords(__m512i *y, __m512i *x, int p0, int h, int w) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7,
                                           8, 9, 10, 11, 12, 13, 14, 15);
    __m512i xv = _mm512_add_epi32(_mm512_set1_epi32(p0 % w), iota);
    __m512i yv = _mm512_set1_epi32(p0 / w), wv = _mm512_set1_epi32(w);
    __mmask16 m;
    while ((m = _mm512_cmpge_epi32_mask(xv, wv)) != 0) {
        xv = _mm512_mask_sub_epi32(xv, m, xv, wv);
        yv = _mm512_mask_add_epi32(yv, m, yv, _mm512_set1_epi32(1));
    }
    m = _mm512_cmpge_epi32_mask(yv, _mm512_set1_epi32(h));
    *y = _mm512_mask_mov_epi32(yv, m, _mm512_set1_epi32(1 << 29));
    *x = xv;
}

/* Lanes whose input pixel (row y+dy, column x+dx) lies inside the plane. */
INLINE __mmask16 tap_mask(__m512i y, __m512i x, int dy, int dx, int h, int w) {
    __mmask16 r = _mm512_cmplt_epu32_mask(_mm512_add_epi32(y, _mm512_set1_epi32(dy)),
                                          _mm512_set1_epi32(h));
    return _mm512_mask_cmplt_epu32_mask(r, _mm512_add_epi32(x, _mm512_set1_epi32(dx)),
                                        _mm512_set1_epi32(w));
}

/* Lanes of the vector at p0 that lie inside a plane of hw pixels. */
INLINE __mmask16 tail_mask(int p0, int hw) {
    int left = hw - p0;
    return left >= LANES ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/*
** Outputs [o0, o0+TB) x pixel vectors [v0, v0+nv) of one sample: y (co
** planes) from x (ci planes), with m the lanes each tap reaches. Outputs
** past co repeat the last one's weights and are not stored, so any co
** works with one tile shape. nv is a literal in every caller, so the
** accumulators stay in registers.
*/
INLINE void conv_tile(const DConv *d, float *y, const float *x, const float *res,
                      __mmask16 m[][TV], int o0, int v0, int nv) {
    const int hw = d->h * d->w, nb = d->co - o0 < TB ? d->co - o0 : TB;
    __m512 acc[TB][TV];
    ptrdiff_t wo[TB];
    UNROLL for (int b = 0; b < TB; b++) wo[b] = (ptrdiff_t)(b < nb ? o0 + b : d->co - 1) * d->so;
    UNROLL for (int b = 0; b < TB; b++) {
        float init = d->bias && b < nb ? d->bias[o0 + b] : 0.0f;
        UNROLL for (int v = 0; v < nv; v++) acc[b][v] = _mm512_set1_ps(init);
    }
    if (d->store == RT_ADD)
        UNROLL for (int b = 0; b < TB; b++)
            UNROLL for (int v = 0; v < nv; v++)
                if (b < nb) acc[b][v] = _mm512_maskz_loadu_ps(tail_mask((v0 + v) * LANES, hw),
                                                  y + (size_t)(o0 + b) * hw + (v0 + v) * LANES);
    for (int t = 0; t < d->ntap; t++) {
        const float *xp = x + d->xo[t] + v0 * LANES + d->dy[t] * d->w + d->dx[t];
        const float *wp = d->wt + d->wo[t];
        for (int i = 0; i < d->ci; i++, xp += hw, wp += d->si) {
            __m512 xv[TV];
            UNROLL for (int v = 0; v < nv; v++)
                xv[v] = _mm512_maskz_loadu_ps(m[t][v], xp + v * LANES);
            UNROLL for (int b = 0; b < TB; b++) {
                __m512 wv = _mm512_set1_ps(wp[wo[b]]);
                UNROLL for (int v = 0; v < nv; v++)
                    acc[b][v] = _mm512_fmadd_ps(wv, xv[v], acc[b][v]);
            }
        }
    }
    if (d->ep)
        UNROLL for (int b = 0; b < TB; b++) {
            int o = b < nb ? o0 + b : o0;
            UNROLL for (int v = 0; v < nv; v++) {
                __m512 a = acc[b][v];
                if (d->ep->scale)
                    a = _mm512_add_ps(_mm512_mul_ps(a, _mm512_set1_ps(d->ep->scale[o])),
                                      _mm512_set1_ps(d->ep->shift[o]));
                if (res)
                    a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(
                        tail_mask((v0 + v) * LANES, hw),
                        res + (size_t)o * hw + (v0 + v) * LANES));
                acc[b][v] = d->ep->relu ? _mm512_max_ps(a, _mm512_setzero_ps()) : a;
            }
        }
    UNROLL for (int b = 0; b < TB; b++)
        UNROLL for (int v = 0; v < nv; v++)
            if (b < nb)
                _mm512_mask_storeu_ps(y + (size_t)(o0 + b) * hw + (v0 + v) * LANES,
                                      tail_mask((v0 + v) * LANES, hw), acc[b][v]);
}

/*
** Every output of pixel vectors [v0, v0+nv): the tap masks once, then one
** tile per block of TB outputs while the input vectors are in L1. One
** instance per width, each with its accumulators in registers.
*/
INLINE void conv_run(const DConv *d, float *y, const float *x, const float *res, int v0,
                     int nv) {
    __mmask16 m[MAX_TAPS][TV];
    UNROLL for (int v = 0; v < nv; v++) {
        __m512i ly, lx;
        lane_coords(&ly, &lx, (v0 + v) * LANES, d->h, d->w);
        for (int t = 0; t < d->ntap; t++) m[t][v] = tap_mask(ly, lx, d->dy[t], d->dx[t], d->h, d->w);
    }
    for (int o0 = 0; o0 < d->co; o0 += TB) conv_tile(d, y, x, res, m, o0, v0, nv);
}

#define CONV_RUN(nv) \
    static void conv_run_##nv(const DConv *d, float *y, const float *x, const float *res, \
                              int v0) { \
        conv_run(d, y, x, res, v0, nv); \
    }
CONV_RUN(1) CONV_RUN(2) CONV_RUN(3) CONV_RUN(4) CONV_RUN(5) CONV_RUN(6)
#undef CONV_RUN

typedef void (*ConvRunFn)(const DConv *, float *, const float *, const float *, int);
static const ConvRunFn conv_runs[TV + 1] = {
    NULL, conv_run_1, conv_run_2, conv_run_3, conv_run_4, conv_run_5, conv_run_6,
};

/* All outputs of one sample, in runs of TV pixel vectors; res is the
** sample's residual (co planes) or NULL. */
static void conv_sample(const DConv *d, float *y, const float *x, const float *res) {
    int nvec = (d->h * d->w + LANES - 1) / LANES;
    for (int v0 = 0; v0 < nvec; v0 += TV)
        conv_runs[nvec - v0 < TV ? nvec - v0 : TV](d, y, x, res, v0);
}


/* Horizontal sum of a vector, lanes added in a fixed order. */
INLINE float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

/*
** dW[o0..o0+wb) x [i0..i0+wi) x taps of row ky, over samples [0, ns).
** Outputs and inputs past the end repeat the last one and are not stored.
** The wi*wt input vectors are loaded first, then each output's in turn, so
** wb*wi*wt accumulators and wi*wt + 1 vectors are live.
*/
INLINE void wgrad_tile(const WGrad *j, int o0, int i0, int ky, int ns,
                       const int wb, const int wi, const int wt) {
    const RtConv *g = j->g;
    const DConv *d = j->d;
    const int hw = d->h * d->w, nvec = (hw + LANES - 1) / LANES, t0 = ky * g->k;
    __m512 acc[8][6][3];
    const float *yb[8], *xb[6];
    ptrdiff_t toff[3];
    const __mmask16 last = tail_mask((nvec - 1) * LANES, hw);
    UNROLL for (int t = 0; t < wt; t++)
        toff[t] = d->xo[t0 + t] + (ptrdiff_t)d->dy[t0 + t] * d->w + d->dx[t0 + t];
    UNROLL for (int b = 0; b < wb; b++)
        yb[b] = j->dy + (size_t)(o0 + b < g->oc ? o0 + b : g->oc - 1) * hw;
    UNROLL for (int a = 0; a < wi; a++)
        xb[a] = j->x + (size_t)(i0 + a < g->c ? i0 + a : g->c - 1) * hw;
    UNROLL for (int b = 0; b < wb; b++)
        UNROLL for (int a = 0; a < wi; a++)
            UNROLL for (int t = 0; t < wt; t++) acc[b][a][t] = _mm512_setzero_ps();
    for (int s = 0; s < ns; s++) {
        /* this sample's planes, walked a vector at a time */
        const float *yp[8], *xp[6];
        const TapMask *m = j->masks + t0;
        UNROLL for (int b = 0; b < wb; b++) yp[b] = yb[b] + s * j->ys;
        UNROLL for (int a = 0; a < wi; a++) xp[a] = xb[a] + s * j->xs;
        for (int v = 0; v < nvec; v++, m += d->ntap) {
            __m512 xv[6][3];
            __mmask16 tail = v == nvec - 1 ? last : (__mmask16)0xffff;
            UNROLL for (int a = 0; a < wi; a++)
                UNROLL for (int t = 0; t < wt; t++)
                    xv[a][t] = _mm512_maskz_loadu_ps(m[t], xp[a] + v * LANES + toff[t]);
            UNROLL for (int b = 0; b < wb; b++) {
                __m512 yv = _mm512_maskz_loadu_ps(tail, yp[b] + v * LANES);
                UNROLL for (int a = 0; a < wi; a++)
                    UNROLL for (int t = 0; t < wt; t++)
                        acc[b][a][t] = _mm512_fmadd_ps(yv, xv[a][t], acc[b][a][t]);
            }
        }
    }
    UNROLL for (int b = 0; b < wb; b++)
        UNROLL for (int a = 0; a < wi; a++)
            UNROLL for (int t = 0; t < wt; t++)
                if (o0 + b < g->oc && i0 + a < g->c)
                    j->dw[((size_t)(o0 + b) * g->c + i0 + a) * d->ntap + t0 + t] +=
                        hsum(acc[b][a][t]);
}

/* masks[v*ntap + t]: the lanes of pixel vector v that tap t of d reaches. */
static void tap_masks(TapMask *masks, const DConv *d) {
    int hw = d->h * d->w;
    for (int v = 0; v * LANES < hw; v++) {
        __m512i ly, lx;
        lane_coords(&ly, &lx, v * LANES, d->h, d->w);
        for (int t = 0; t < d->ntap; t++)
            masks[(size_t)v * d->ntap + t] = tap_mask(ly, lx, d->dy[t], d->dx[t], d->h, d->w);
    }
}

/* Tile shapes: WB*WI*WT accumulators, 24 at most. */
#define WGRAD_TILE(name, wb, wi, wt) \
    static void name(const WGrad *j, int o0, int i0, int ky, int ns) { \
        wgrad_tile(j, o0, i0, ky, ns, wb, wi, wt); \
    }
WGRAD_TILE(wgrad_4x2x3, 4, 2, 3)
WGRAD_TILE(wgrad_4x6x1, 4, 6, 1)
WGRAD_TILE(wgrad_6x4x1, 6, 4, 1)
#undef WGRAD_TILE


/* 3x3: 4 outputs x 2 inputs x a kernel row; 1x1: 6 x 4 or 4 x 6, the one
** without outputs past oc where it can (measured best of the shapes tried:
** 8x1x3, 2x4x3 and 8x3x1 ran 10-40% slower here). */
static WGradShape wgrad_shape(const RtConv *g) {
    static const WGradShape k3 = {wgrad_4x2x3, 4, 2}, k1_6 = {wgrad_6x4x1, 6, 4},
                            k1_4 = {wgrad_4x6x1, 4, 6};
    if (g->k == 3) return k3;
    return g->oc % 6 == 0 ? k1_6 : k1_4;
}

/* }==================================================================== */
#else
/* {====================================================================
** Portable kernels
** ===================================================================== */

/* Columns [lo, hi) of a row whose tap column x + dx lies inside w. */
static void span(int *lo, int *hi, int dx, int w) {
    *lo = dx < 0 ? -dx : 0;
    *hi = dx > 0 ? w - dx : w;
}

/*
** The forward, as the AVX-512 kernel does it in portable C: a block of PW
** consecutive pixels of the flattened output plane (rows joined) times PB
** output channels, the accumulators in a small array the compiler keeps in
** vector registers (SSE, NEON; constant trip counts). Tap t of the block
** reads PW consecutive input floats at offset dy*w + dx; lanes whose tap
** falls in the padding (or past the plane's last pixel) read 0. How each
** tap reads is decided once per block (TapRead): all lanes inside, a lane
** mask applied after an in-bounds load, or lane by lane where the load
** would leave the plane.
*/
enum { PB = 4, PW = 8 };

typedef enum { TAP_NONE, TAP_FULL, TAP_MASKED, TAP_EDGE } TapKind;

typedef struct {
    TapKind kind;
    ptrdiff_t off;              /* from the block's first pixel, in the tap's planes */
    unsigned char on[PW];       /* the lanes that read */
} TapRead;

/* How the taps of d read for pixels [p, p + np) of the plane (np <= PW). */
static void tap_reads(TapRead *tr, const DConv *d, int p, int np) {
    int h = d->h, w = d->w, hw = h * w;
    for (int t = 0; t < d->ntap; t++) {
        int any = 0, all = 1, inside = 1;
        tr[t].off = (ptrdiff_t)d->dy[t] * w + d->dx[t];
        for (int j = 0; j < PW; j++) {
            int q = p + j, r = q / w, c = q % w, yy = r + d->dy[t], xx = c + d->dx[t];
            int on = j < np && yy >= 0 && yy < h && xx >= 0 && xx < w;
            tr[t].on[j] = (unsigned char)on;
            any |= on;
            all &= on;
            inside &= q + tr[t].off >= 0 && q + tr[t].off < hw;
        }
        tr[t].kind = !any ? TAP_NONE : all ? TAP_FULL : inside ? TAP_MASKED : TAP_EDGE;
    }
}

#if defined(__GNUC__)
/* GCC's and clang's generic vectors: 4 floats, as SSE and NEON hold them
** (wider targets split or join them); memcpy is an unaligned load. */
typedef float Vf __attribute__((vector_size(16)));
typedef int Vi __attribute__((vector_size(16)));
enum { NV = PW / 4 };

/* acc += sum over input channels of w[b] * x for one tap, its lanes read
** as kind says (a constant where it is inlined). */
static inline void tap_fma(Vf acc[PB][NV], const DConv *d, const float *xp, const float *wp,
                           int nb, const TapRead *tr, TapKind kind) {
    int hw = d->h * d->w;
    int lanes[PW];
    Vi on[NV];
    for (int j = 0; j < PW; j++) lanes[j] = tr->on[j] ? -1 : 0;
    memcpy(on, lanes, sizeof on);
    for (int i = 0; i < d->ci; i++, xp += hw, wp += d->si) {
        Vf xv[NV];
        for (int v = 0; v < NV; v++) {
            if (kind == TAP_EDGE) {
                float lane[4];
                for (int j = 0; j < 4; j++) lane[j] = on[v][j] ? xp[4 * v + j] : 0.0f;
                memcpy(&xv[v], lane, sizeof xv[v]);
            } else {
                memcpy(&xv[v], xp + 4 * v, sizeof xv[v]);
                if (kind == TAP_MASKED) xv[v] = (Vf)((Vi)xv[v] & on[v]);   /* off lanes: +0 */
            }
        }
        for (int b = 0; b < PB; b++) {
            Vf wv = (Vf){0, 0, 0, 0} + (b < nb ? wp[b * d->so] : 0.0f);
            for (int v = 0; v < NV; v++) acc[b][v] += wv * xv[v];
        }
    }
}

/* Outputs [o0, o0 + nb) at pixels [p, p + np). */
static void conv_block(const DConv *d, float *y, const float *x, const TapRead *tr, int o0,
                       int nb, int p, int np) {
    size_t hw = (size_t)d->h * d->w;
    float init[PB][PW];
    Vf acc[PB][NV];
    for (int b = 0; b < PB; b++)
        for (int j = 0; j < PW; j++)
            init[b][j] = b >= nb || j >= np   ? 0.0f
                         : d->store == RT_ADD ? y[(o0 + b) * hw + p + j]
                         : d->bias            ? d->bias[o0 + b]
                                              : 0.0f;
    memcpy(acc, init, sizeof acc);
    for (int t = 0; t < d->ntap; t++) {
        const float *xp = x + d->xo[t] + p + tr[t].off;
        const float *wp = d->wt + d->wo[t] + (ptrdiff_t)o0 * d->so;
        switch (tr[t].kind) {
        case TAP_NONE: break;
        case TAP_FULL: tap_fma(acc, d, xp, wp, nb, &tr[t], TAP_FULL); break;
        case TAP_MASKED: tap_fma(acc, d, xp, wp, nb, &tr[t], TAP_MASKED); break;
        case TAP_EDGE: tap_fma(acc, d, xp, wp, nb, &tr[t], TAP_EDGE); break;
        }
    }
    memcpy(init, acc, sizeof init);
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < np; j++) y[(o0 + b) * hw + p + j] = init[b][j];
}
#else
/* Without generic vectors: the same block in plain C, lane by lane. */
static void conv_block(const DConv *d, float *y, const float *x, const TapRead *tr, int o0,
                       int nb, int p, int np) {
    size_t hw = (size_t)d->h * d->w;
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < np; j++) {
            float acc = d->store == RT_ADD ? y[(o0 + b) * hw + p + j]
                        : d->bias          ? d->bias[o0 + b]
                                           : 0.0f;
            for (int t = 0; t < d->ntap; t++) {
                if (!tr[t].on[j]) continue;
                const float *xp = x + d->xo[t] + p + j + tr[t].off;
                const float *wp = d->wt + d->wo[t] + (ptrdiff_t)(o0 + b) * d->so;
                for (int i = 0; i < d->ci; i++) acc += wp[i * d->si] * xp[(size_t)i * hw];
            }
            y[(o0 + b) * hw + p + j] = acc;
        }
}
#endif

/* All outputs of one sample: y (co planes) from x (ci planes), in runs of
** RUN blocks of pixels (their taps' reads decided once), each run for PB
** outputs at a time so that those outputs' weights stay in L1; then the
** epilogue with res (co planes) or NULL. */
enum { RUN = 16 };

static void conv_sample(const DConv *d, float *y, const float *x, const float *res) {
    int hw = d->h * d->w;
    TapRead tr[RUN][MAX_TAPS];
    for (int p0 = 0; p0 < hw; p0 += RUN * PW) {
        int nblk = (hw - p0 + PW - 1) / PW < RUN ? (hw - p0 + PW - 1) / PW : RUN;
        for (int k = 0; k < nblk; k++) {
            int p = p0 + k * PW;
            tap_reads(tr[k], d, p, hw - p < PW ? hw - p : PW);
        }
        for (int o0 = 0; o0 < d->co; o0 += PB)
            for (int k = 0; k < nblk; k++) {
                int p = p0 + k * PW;
                conv_block(d, y, x, tr[k], o0, d->co - o0 < PB ? d->co - o0 : PB, p,
                           hw - p < PW ? hw - p : PW);
            }
    }
    for (int o = 0; d->ep && o < d->co; o++) {
        float *yo = y + (size_t)o * hw;
        for (int p = 0; p < hw; p++) {
            float v = yo[p];
            if (d->ep->scale) v = v * d->ep->scale[o] + d->ep->shift[o];
            if (res) v = v + res[(size_t)o * hw + p];
            yo[p] = d->ep->relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

static void tap_masks(TapMask *masks, const DConv *d) {
    (void)masks;
    (void)d;
}

/* dW[o][i][taps of row ky] over samples [0, ns). */
static void wgrad_row(const WGrad *j, int o, int i, int ky, int ns) {
    const DConv *d = j->d;
    int h = d->h, w = d->w, hw = h * w;
    for (int t = ky * j->g->k; t < (ky + 1) * j->g->k; t++) {
        int dy = d->dy[t], dx = d->dx[t], lo, hi;
        float acc = 0.0f;
        span(&lo, &hi, dx, w);
        for (int s = 0; s < ns; s++) {
            const float *yo = j->dy + s * j->ys + (size_t)o * hw;
            const float *xi = j->x + s * j->xs + d->xo[t] + (size_t)i * hw;
            for (int r = dy < 0 ? -dy : 0; r < (dy > 0 ? h - dy : h); r++)
                for (int c = lo; c < hi; c++) acc += yo[r * w + c] * xi[(r + dy) * w + c + dx];
        }
        j->dw[((size_t)o * j->g->c + i) * d->ntap + t] += acc;
    }
}


static WGradShape wgrad_shape(const RtConv *g) {
    (void)g;
    WGradShape s = {wgrad_row, 1, 1};
    return s;
}

/* }==================================================================== */
#endif

/* {====================================================================
** Entry points
** ===================================================================== */

typedef struct {
    DConv d;
    const float *x, *res;       /* res: the epilogue's residual (dense) or NULL */
    float *y;
    size_t xs, ys;
    int n;
    const RtConv *split;        /* stride 2: the geometry whose input is split */
    float *col;                 /* ... into one slice of this per thread */
} ConvJob;

static void conv_part(void *p, int t, int nt) {
    const ConvJob *j = p;
    size_t rs = (size_t)j->d.co * j->d.h * j->d.w;
    const RtConv *g = j->split;
    float *col = g ? j->col + (size_t)t * rt_conv_direct_fwd_col_floats(g->c, g->k, g->stride,
                                                                         g->oh, g->ow)
                   : NULL;
    int lo, hi;
    rt_par_range(&lo, &hi, j->n, t, nt);
    for (int s = lo; s < hi; s++) {
        const float *x = j->x + s * j->xs;
        if (col) {
            split_phases(col, x, j->split);
            x = col;
        }
        conv_sample(&j->d, j->y + s * j->ys, x, j->res ? j->res + s * rs : NULL);
    }
}

/* Threads for n samples; a stride-2 convolution's need a scratch slice each. */
static int sample_threads(int n, const RtConv *g) {
    int nt = rt_get_threads();
    if (nt > n) nt = n;
    if (g && g->stride == 2 && nt > (int)rt_scratch_slices(n)) nt = (int)rt_scratch_slices(n);
    return nt;
}

static void forward_run(ConvJob *j, float *col, const RtConv *g) {
    if (g->stride == 2) {
        j->split = g;
        j->col = col;
    }
    rt_par_run(conv_part, j, sample_threads(j->n, g));
}

/* inp is (n,c,h,w), w is (oc,c,k,k), b is (oc) or NULL; out is (n,oc,oh,ow) */
void rt_conv2d_direct_forward(float *out, float *col, const float *inp, const float *w,
                              const float *b, int n, const RtConv *g) {
    ConvJob j = {forward_of(g, w, b), inp, NULL, out, rt_conv_x_stride(g), rt_conv_y_stride(g), n, NULL, NULL};
    forward_run(&j, col, g);
}

void rt_conv2d_direct_forward_bn_eval(float *out, float *col, const float *inp, const float *w,
                                      const float *b, const float *res, const float *gamma,
                                      const float *beta, const float *run_mean,
                                      const float *run_var, int n, const RtConv *g, float eps,
                                      int relu) {
    float scale[RT_DCONV_BN_MAX_CHANNELS], shift[RT_DCONV_BN_MAX_CHANNELS];
    Epilogue ep = {scale, shift, relu};
    bn_affine(scale, shift, gamma, beta, run_mean, run_var, eps, g->oc);
    ConvJob j = {forward_of(g, w, b), inp, res, out, rt_conv_x_stride(g), rt_conv_y_stride(g), n, NULL, NULL};
    j.d.ep = &ep;
    forward_run(&j, col, g);
}

void rt_conv2d_direct_forward_fused(float *out, float *col, const float *inp, const float *w,
                                    const float *b, const float *res, int n, const RtConv *g,
                                    int relu) {
    Epilogue ep = {NULL, NULL, relu};
    ConvJob j = {forward_of(g, w, b), inp, res, out, rt_conv_x_stride(g), rt_conv_y_stride(g), n, NULL, NULL};
    j.d.ep = &ep;
    forward_run(&j, col, g);
}

typedef struct {
    WGrad w;
    WGradShape shape;
    const float *inp, *dout;
    int n, chunk, parts;
    float *col;                 /* per part: its partial dW, then (stride 2) a chunk's phases */
} WGradJob;

static size_t dw_floats(const RtConv *g) { return (size_t)g->oc * g->c * g->k * g->k; }

/*
** Parts the batch's weight gradient is summed in: as many as it has whole
** chunks (a smaller part streams fewer vectors per reduction of its
** accumulators), at least 4 so that threads can share the work, at most the
** scratch's rt_scratch_slices(n). A function of n and the geometry.
*/
static int wgrad_parts(int n, const RtConv *g) {
    int slices = (int)rt_scratch_slices(n), p = n / wgrad_chunk(g);
    if (p < 4) p = n < 4 ? n : 4;
    return p > slices ? slices : p;
}

/*
** Parts [lo, hi) of the batch for thread t: each part's samples, a chunk
** at a time (split into phases first at stride 2), every tile of each
** chunk, summed into the part's own slice of col, which starts cleared.
*/
static void wgrad_part(void *p, int t, int nt) {
    const WGradJob *j = p;
    const RtConv *g = j->w.g;
    int nbo = (g->oc + j->shape.wb - 1) / j->shape.wb, nbi = (g->c + j->shape.wi - 1) / j->shape.wi;
    int tiles = nbo * nbi * g->k, lo, hi;
    size_t split = (size_t)phases_of(g) * g->c * g->oh * g->ow;
    rt_par_range(&lo, &hi, j->parts, t, nt);
    for (int part = lo; part < hi; part++) {
        WGrad w = j->w;
        float *phases = j->col + (size_t)part * slice_floats(g) + dw_floats(g);
        int first, end;
        w.dw = j->col + (size_t)part * slice_floats(g);
        memset(w.dw, 0, dw_floats(g) * sizeof *w.dw);
        rt_par_range(&first, &end, j->n, part, j->parts);
        for (int s0 = first; s0 < end; s0 += j->chunk) {
            int s1 = s0 + j->chunk < end ? s0 + j->chunk : end;
            w.dy = j->dout + s0 * w.ys;
            if (g->stride == 2) {
                for (int s = s0; s < s1; s++)
                    split_phases(phases + (s - s0) * split, j->inp + s * rt_conv_x_stride(g), g);
                w.x = phases;
            } else {
                w.x = j->inp + s0 * w.xs;
            }
            for (int q = 0; q < tiles; q++) {
                int ky = q % g->k, bi = q / g->k % nbi, bo = q / g->k / nbi;
                j->shape.fn(&w, bo * j->shape.wb, bi * j->shape.wi, ky, s1 - s0);
            }
        }
    }
}

typedef struct {
    float *dw;
    const float *col;
    size_t len, stride;
    int parts;
} WSumJob;

/* dW[e] += the parts' sums, added in part order, for thread t's elements. */
static void wsum_part(void *p, int t, int nt) {
    const WSumJob *j = p;
    int lo, hi;
    rt_par_range(&lo, &hi, (int)j->len, t, nt);
    for (int e = lo; e < hi; e++) {
        float acc = 0.0f;
        for (int part = 0; part < j->parts; part++) acc += j->col[(size_t)part * j->stride + e];
        j->dw[e] += acc;
    }
}

/* db (oc) += spatial and batch sums of dout, samples in order */
static void bias_grad(float *db, const float *dout, int n, size_t ys, int oc, int hw) {
    for (int s = 0; s < n; s++)
        for (int o = 0; o < oc; o++) {
            const float *d = dout + s * ys + (size_t)o * hw;
            float acc = 0.0f;
            for (int p = 0; p < hw; p++) acc += d[p];
            db[o] += acc;
        }
}

/*
** The input gradient of a stride-2 g, phase by phase: the gradient of
** phase ph is a stride-1 convolution of dout (oc planes, oh x ow) with the
** forward taps that read that phase, shifted back; a phase no tap reads
** (1x1: all but the even rows and columns) gets zeros.
*/
typedef struct {
    DConv ph[4];
    const RtConv *g;
    const float *dout;
    float *dinp, *col;
    int n;
    RtStore st;
} PhaseGradJob;

static void phase_grad_of(PhaseGradJob *j, const RtConv *g, const float *w, RtStore st) {
    DConv f = forward_of(g, w, NULL);
    size_t plane = (size_t)g->c * g->oh * g->ow;
    int kk = g->k * g->k;
    for (int p = 0; p < phases_of(g); p++) {
        DConv d = {.ci = g->oc, .co = g->c, .h = g->oh, .w = g->ow, .wt = w, .so = kk,
                   .si = (ptrdiff_t)g->c * kk, .store = RT_SET};
        for (int t = 0; t < f.ntap; t++)
            if ((size_t)f.xo[t] == p * plane) {
                d.dy[d.ntap] = -f.dy[t];
                d.dx[d.ntap] = -f.dx[t];
                d.wo[d.ntap++] = t;
            }
        j->ph[p] = d;
    }
    j->st = st;
}

/* dinp of one sample (c, h, w) from its phase gradients, stored as st says. */
static void merge_phases(float *dinp, const float *phases, const RtConv *g, RtStore st) {
    int np = phases_of(g), ohw = g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int iy = 0; iy < g->h; iy++) {
            float *row = dinp + ((size_t)c * g->h + iy) * g->w;
            for (int ix = 0; ix < g->w; ix++) {
                int p = (iy & 1) * 2 + (ix & 1);
                float v = p < np ? phases[((size_t)p * g->c + c) * ohw + (iy >> 1) * g->ow +
                                          (ix >> 1)]
                                 : 0.0f;
                row[ix] = st == RT_SET ? v : row[ix] + v;
            }
        }
}

static void phase_grad_part(void *p, int t, int nt) {
    const PhaseGradJob *j = p;
    const RtConv *g = j->g;
    size_t plane = (size_t)g->c * g->oh * g->ow;
    float *phases = j->col + (size_t)t * slice_floats(g);
    int lo, hi;
    rt_par_range(&lo, &hi, j->n, t, nt);
    for (int s = lo; s < hi; s++) {
        const float *dy = j->dout + s * rt_conv_y_stride(g);
        for (int ph = 0; ph < phases_of(g); ph++)
            conv_sample(&j->ph[ph], phases + ph * plane, dy, NULL);
        merge_phases(j->dinp + s * rt_conv_x_stride(g), phases, g, j->st);
    }
}

/*
** dout is (n,oc,oh,ow); accumulates dw (oc,c,k,k) and db (oc, may be NULL),
** stores into dinp (n,c,h,w; may be NULL) as st says. col is scratch:
** rt_scratch_slices(n) slices of rt_conv_direct_col_floats (rt_geom.h).
** The batch is split into fixed parts (wgrad_parts), each summed on its own,
** and the parts are added in order: dW depends on n only, not on the
** thread count, and threads share no reads of the batch.
*/
void rt_conv2d_direct_backward(float *dinp, float *dw, float *db, float *col, const float *dout,
                               const float *inp, const float *w, int n, const RtConv *g,
                               RtStore st) {
    static _Thread_local TapMask masks[RT_DCONV_MAX_PIXELS / 16 * 9];
    DConv fwd = forward_of(g, w, NULL);
    int parts = wgrad_parts(n, g), nt = rt_get_threads();
    size_t split = (size_t)phases_of(g) * g->c * g->oh * g->ow;
    WGradJob wj = {{g, &fwd, NULL, NULL, rt_conv_y_stride(g), g->stride == 2 ? split : rt_conv_x_stride(g), NULL,
                    masks},
                   wgrad_shape(g), inp, dout, n, wgrad_chunk(g), parts, col};
    WSumJob sj = {dw, col, dw_floats(g), slice_floats(g), parts};
    tap_masks(masks, &fwd);
    rt_par_run(wgrad_part, &wj, nt < parts ? nt : parts);
    rt_par_run(wsum_part, &sj, sj.len < 4096 ? 1 : nt);
    if (db) bias_grad(db, dout, n, rt_conv_y_stride(g), g->oc, g->oh * g->ow);
    if (dinp && g->stride == 2) {
        PhaseGradJob pj = {.g = g, .dout = dout, .dinp = dinp, .col = col, .n = n};
        phase_grad_of(&pj, g, w, st);
        rt_par_run(phase_grad_part, &pj, sample_threads(n, g));
    } else if (dinp) {
        ConvJob j = {input_grad_of(g, w, st), dout, NULL, dinp, rt_conv_y_stride(g), rt_conv_x_stride(g), n,
                     NULL, NULL};
        rt_par_run(conv_part, &j, sample_threads(n, NULL));
    }
}

/* }==================================================================== */
