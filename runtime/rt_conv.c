/*
** rt_conv.c: 2-D convolution (im2col + sgemm) and linear layers (sgemm).
**
** A convolution of one sample is the matrix product
**     out_g (ocg, oh*ow) = W_g (ocg, cg*k*k) x col_g (cg*k*k, oh*ow)
** for every group g, where col is the im2col unfolding of the sample.
** A 1x1, stride-1, unpadded convolution needs no unfolding at all: the
** sample itself (c, h*w) is the column matrix.
**
** Threads (rt_par.c): the forward pass and the input gradient split the
** batch into contiguous runs of samples, one per thread, each unfolding
** into its own per-sample slice of col; samples are independent, so those
** results do not depend on the thread count. The weight gradient is split
** by rows of the column matrix instead (columns of dW) into chunks fixed by
** the geometry alone; every chunk runs the same sgemm sequence over the
** samples in order whichever thread takes it, so dW does not depend on
** the thread count either, and no partial sums need reducing.
*/
#include <string.h>

#include "rt.h"
#include "rt_gemm.h"
#include "rt_geom.h"
#include "rt_par.h"

static int is_pointwise(const RtConv *g) {
    return rt_conv_is_pointwise(g->k, g->stride, g->pad);
}

size_t rt_conv2d_col_floats(const RtConv *g) {
    return rt_conv_col_floats(g->c, g->k, g->stride, g->pad, g->oh, g->ow);
}

/* {====================================================================
** im2col / col2im
** Row r = (ci*k + ky)*k + kx of col holds, for every output pixel (oy,ox),
** the input cell (ci, oy*stride - pad + ky, ox*stride - pad + kx), or 0
** where that cell lies in the padding.
** ===================================================================== */

/*
** The output columns [lo, hi) whose input column ox*stride - pad + kx
** lies inside the row; the rest read padding. Computing the span once per
** kernel column keeps the bounds tests out of the copy loops, which the
** profile showed dominating the unfold.
*/
static void valid_span(int *lo, int *hi, const RtConv *g, int kx) {
    int a = g->pad - kx, b = g->w - 1 + g->pad - kx;
    int l = a <= 0 ? 0 : (a + g->stride - 1) / g->stride;
    int h = b < 0 ? 0 : b / g->stride + 1;
    if (h > g->ow) h = g->ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Unfolds input row 'src' (w cells) into 'dst' (ow cells) for span [lo,hi). */
static void unfold_row(float *restrict dst, const float *restrict src,
                       const RtConv *g, int kx, int lo, int hi) {
    const float *s = src + lo * g->stride - g->pad + kx;
    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
    if (g->stride == 1)
        for (int ox = lo; ox < hi; ox++) dst[ox] = s[ox - lo];
    else
        for (int ox = lo; ox < hi; ox++) dst[ox] = s[(ox - lo) * g->stride];
    for (int ox = hi; ox < g->ow; ox++) dst[ox] = 0.0f;
}

/*
** A stride-1 convolution whose output is as wide as its input ("same"
** padding): row (ci,ky,kx) of col is the input plane shifted by a constant
** offset, so the valid cells form one contiguous run of the plane. One
** copy of that run (which wraps across row ends) followed by zeroing the
** padded border cells replaces oh short row copies.
*/
static int is_same_stride1(const RtConv *g) {
    return g->stride == 1 && g->ow == g->w && g->oh == g->h;
}

static void unfold_plane_same(float *restrict dst, const float *restrict plane,
                              const RtConv *g, int ky, int kx, int lo, int hi) {
    int w = g->w, ow = g->ow, ohw = g->oh * ow;
    int ylo = g->pad - ky > 0 ? g->pad - ky : 0;
    int yhi = g->h + g->pad - ky < g->oh ? g->h + g->pad - ky : g->oh;
    if (ylo >= yhi || lo >= hi) {
        memset(dst, 0, sizeof(float) * ohw);
        return;
    }
    /* Cells [first, last) of dst, read from plane at a constant shift. */
    int first = ylo * ow + lo, last = (yhi - 1) * ow + hi;
    int shift = (ky - g->pad) * w + (kx - g->pad);
    memset(dst, 0, sizeof(float) * first);
    memcpy(dst + first, plane + first + shift, sizeof(float) * (last - first));
    memset(dst + last, 0, sizeof(float) * (ohw - last));
    /* The run wrapped across row ends: clear each row's padded cells. */
    for (int oy = ylo; oy < yhi; oy++) {
        float *row = dst + (size_t)oy * ow;
        if (oy > ylo) for (int ox = 0; ox < lo; ox++) row[ox] = 0.0f;
        if (oy < yhi - 1) for (int ox = hi; ox < ow; ox++) row[ox] = 0.0f;
    }
}

/* Rows [r0, r1) of the unfolding of one sample inp (c,h,w) into col
** ((r1-r0), oh*ow); the whole unfolding is rows [0, c*k*k). */
static void im2col_rows(float *col, const float *inp, const RtConv *g, int r0, int r1) {
    int k = g->k, ohw = g->oh * g->ow;
    if (is_same_stride1(g)) {
        for (int r = r0; r < r1; r++) {
            int ci = r / (k * k), ky = r / k % k, kx = r % k, lo, hi;
            valid_span(&lo, &hi, g, kx);
            unfold_plane_same(col + (size_t)(r - r0) * ohw,
                              inp + (size_t)ci * g->h * g->w, g, ky, kx, lo, hi);
        }
        return;
    }
    for (int r = r0; r < r1; r++) {
        int ci = r / (k * k), ky = r / k % k, kx = r % k, lo, hi;
        valid_span(&lo, &hi, g, kx);
        float *row = col + (size_t)(r - r0) * ohw;
        const float *plane = inp + (size_t)ci * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++) {
            int iy = oy * g->stride - g->pad + ky;
            float *dst = row + (size_t)oy * g->ow;
            if (iy < 0 || iy >= g->h) memset(dst, 0, sizeof(float) * g->ow);
            else unfold_row(dst, plane + (size_t)iy * g->w, g, kx, lo, hi);
        }
    }
}

/* Adjoint of unfold_row: scatters 'src' (ow cells) back into 'dst' (w). */
static void fold_row(float *restrict dst, const float *restrict src,
                     const RtConv *g, int kx, int lo, int hi) {
    float *d = dst + lo * g->stride - g->pad + kx;
    if (g->stride == 1)
        for (int ox = lo; ox < hi; ox++) d[ox - lo] += src[ox];
    else
        for (int ox = lo; ox < hi; ox++) d[(ox - lo) * g->stride] += src[ox];
}

/* Adjoint of im2col: col is (c*k*k, oh*ow), accumulates into dinp (c,h,w).
** Rows are folded in increasing order, as im2col_rows lays them out. */
static void col2im(float *dinp, const float *col, const RtConv *g) {
    int k = g->k, ohw = g->oh * g->ow;
    for (int r = 0; r < g->c * k * k; r++) {
        int ci = r / (k * k), ky = r / k % k, kx = r % k, lo, hi;
        valid_span(&lo, &hi, g, kx);
        const float *row = col + (size_t)r * ohw;
        float *plane = dinp + (size_t)ci * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++) {
            int iy = oy * g->stride - g->pad + ky;
            if (iy >= 0 && iy < g->h)
                fold_row(plane + (size_t)iy * g->w, row + (size_t)oy * g->ow, g, kx, lo, hi);
        }
    }
}

/* }==================================================================== */

/* {====================================================================
** Convolution
** ===================================================================== */

/* Everything a parallel part needs; col is the caller's scratch, one slice
** per thread. */
typedef struct {
    float *out, *dinp, *dw, *col;
    const float *inp, *dout, *w, *b;
    int n;
    const RtConv *g;
    const float *wt;   /* input gradient as a convolution: see transposed_input_grad */
    RtConv gt;
    RtStore st;        /* how dinp is stored */
} ConvJob;

/*
** Returns the column matrix of one sample: the sample itself on the
** pointwise fast path, otherwise its unfolding into 'col'.
*/
static const float *columns(float *col, const float *x, const RtConv *g) {
    if (is_pointwise(g)) return x;
    im2col_rows(col, x, g, 0, g->c * g->k * g->k);
    return col;
}

/* out is one sample (oc, oh*ow); fills every channel with its bias (or 0) */
static void init_bias(float *out, const float *b, int oc, int ohw) {
    for (int o = 0; o < oc; o++) {
        float v = b ? b[o] : 0.0f;
        for (int i = 0; i < ohw; i++) out[(size_t)o * ohw + i] = v;
    }
}

/* Part t's slice of the column scratch; NULL on the pointwise path, which
** passes no scratch (the sample itself is its column matrix). */
static float *col_slice(float *col, const RtConv *g, int t) {
    return col ? col + (size_t)t * rt_conv2d_col_floats(g) : NULL;
}

/* Forward of samples [lo,hi) of part t, unfolding into col slice t. */
static void forward_part(void *p, int t, int nt) {
    const ConvJob *j = p;
    const RtConv *g = j->g;
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k, lo, hi;
    float *col = col_slice(j->col, g, t);
    rt_par_range(&lo, &hi, j->n, t, nt);
    for (int s = lo; s < hi; s++) {
        const float *x = j->inp + s * rt_conv_x_stride(g);
        float *y = j->out + s * rt_conv_y_stride(g);
        const float *cm = columns(col, x, g);
        init_bias(y, j->b, g->oc, ohw);
        for (int gi = 0; gi < g->groups; gi++)
            rt_sgemm(RT_NOTRANS, RT_NOTRANS, ocg, ohw, kk,
                        1.0f, j->w + (size_t)gi * ocg * kk, kk,
                        cm + (size_t)gi * kk * ohw, ohw,
                        1.0f, y + (size_t)gi * ocg * ohw, ohw);
    }
}

/* Threads for n samples: each needs a col slice, so never more than
** samples or than the slices col has room for. */
static int sample_threads(int n) {
    int nt = rt_get_threads(), slices = (int)rt_scratch_slices(n);
    return nt < slices ? nt : slices;
}

/* inp is (n,c,h,w), w is (oc,c/groups,k,k), b is (oc) or NULL; out is (n,oc,oh,ow) */
void rt_conv2d_forward(float *out, float *col, const float *inp,
                       const float *w, const float *b, int n, const RtConv *g) {
    ConvJob j = {out, NULL, NULL, col, inp, NULL, w, b, n, g, NULL, {0}, RT_SET};
    rt_par_run(forward_part, &j, sample_threads(n));
}

/* dout is one sample (oc, ohw); db (oc) += its spatial sums */
static void bias_grad(float *db, const float *dout, int oc, int ohw) {
    for (int o = 0; o < oc; o++) {
        float acc = 0.0f;
        for (int i = 0; i < ohw; i++) acc += dout[(size_t)o * ohw + i];
        db[o] += acc;
    }
}

/* sgemm's beta for a product stored into C as st says. */
static float beta_of(RtStore st) { return st == RT_ADD ? 1.0f : 0.0f; }

/*
** Input gradient of one sample: dcol_g = W_g^T x dout_g for each group,
** then folded back (into a sample cleared first when st is RT_SET). On the
** pointwise path dcol is dinp itself, so the product goes straight into it.
*/
static void input_grad(float *dx, float *col, const float *dy, const float *w,
                       const RtConv *g, RtStore st) {
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k;
    int direct = is_pointwise(g);
    float *dcol = direct ? dx : col;
    for (int gi = 0; gi < g->groups; gi++)
        rt_sgemm(RT_TRANS, RT_NOTRANS, kk, ohw, ocg,
                    1.0f, w + (size_t)gi * ocg * kk, kk,
                    dy + (size_t)gi * ocg * ohw, ohw,
                    direct ? beta_of(st) : 0.0f, dcol + (size_t)gi * kk * ohw, ohw);
    if (direct) return;
    if (st == RT_SET) memset(dx, 0, (size_t)g->c * g->h * g->w * sizeof *dx);
    col2im(dx, col, g);
}

/*
** For a stride-1 "same" convolution (groups 1) the input gradient is itself
** a same convolution: dinp = conv(dout, W') with W'[ci,o,ky,kx] =
** W[o,ci,k-1-ky,k-1-kx] and padding k-1-pad. Unfolding dout and one
** well-shaped sgemm (c x oc*k*k times oc*k*k x hw) beats W^T x dout with
** its inner dimension of only oc followed by the scatter of col2im, which
** the profile showed as a fifth of the training step. Needs room in col for
** nt per-thread unfoldings of dout plus W' (at the end of col); returns the
** number of threads that fit, 0 when the plain path must be used.
*/
static int transposed_input_grad(ConvJob *j, int nt) {
    const RtConv *g = j->g;
    if (!is_same_stride1(g) || g->groups != 1 || is_pointwise(g)) return 0;
    RtConv gt = {g->oc, g->oh, g->ow, g->c, g->k, 1, g->k - 1 - g->pad, 1, g->h, g->w,
                 g->ys, g->xs};
    int kk = g->k * g->k;
    size_t wsz = (size_t)g->c * g->oc * kk, slice = rt_conv2d_col_floats(&gt);
    size_t room = rt_conv2d_col_floats(g) * rt_scratch_slices(j->n);
    if (room < wsz + slice) return 0;
    size_t fit = (room - wsz) / slice;
    if ((size_t)nt > fit) nt = (int)fit;
    float *wt = j->col + room - wsz;
    for (int o = 0; o < g->oc; o++)
        for (int ci = 0; ci < g->c; ci++)
            for (int q = 0; q < kk; q++)
                wt[((size_t)ci * g->oc + o) * kk + (kk - 1 - q)] = j->w[((size_t)o * g->c + ci) * kk + q];
    j->wt = wt;
    j->gt = gt;
    return nt;
}

/* Input gradient of samples [lo,hi) of part t, in col slice t. */
static void input_grad_part(void *p, int t, int nt) {
    const ConvJob *j = p;
    const RtConv *g = j->g;
    size_t in_sz = rt_conv_x_stride(g), out_sz = rt_conv_y_stride(g);
    int lo, hi;
    rt_par_range(&lo, &hi, j->n, t, nt);
    if (j->wt) {
        const RtConv *gt = &j->gt;
        int ohw = g->h * g->w, kk = gt->c * gt->k * gt->k;
        float *col = j->col + (size_t)t * rt_conv2d_col_floats(gt);
        for (int s = lo; s < hi; s++) {
            im2col_rows(col, j->dout + s * out_sz, gt, 0, kk);
            rt_sgemm(RT_NOTRANS, RT_NOTRANS, g->c, ohw, kk,
                        1.0f, j->wt, kk, col, ohw, beta_of(j->st), j->dinp + s * in_sz, ohw);
        }
        return;
    }
    float *col = col_slice(j->col, g, t);
    for (int s = lo; s < hi; s++)
        input_grad(j->dinp + s * in_sz, col, j->dout + s * out_sz, j->w, g, j->st);
}

/*
** Chunks of the column matrix's rows for the weight gradient: a function of
** the geometry only (so dW is the same for any thread count), at least 16
** rows each so every sgemm keeps a useful width, and at most 8 of them,
** enough to balance a few threads.
*/
static int dw_chunks(const RtConv *g) {
    int rows = g->c * g->k * g->k, nc = rows / 16;
    return nc < 1 ? 1 : (nc > 8 ? 8 : nc);
}

/*
** Weight gradient for the row chunks t, t+nt, ...: for every sample in
** order, unfold just the chunk's rows into col slice t and accumulate
** dW[:, rows] += dout_g x rows^T, split where a chunk crosses a group.
*/
static void weight_grad_part(void *p, int t, int nt) {
    const ConvJob *j = p;
    const RtConv *g = j->g;
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k, rows = g->c * g->k * g->k, nc = dw_chunks(g);
    size_t in_sz = rt_conv_x_stride(g), out_sz = rt_conv_y_stride(g);
    float *col = col_slice(j->col, g, t);
    for (int ch = t; ch < nc; ch += nt) {
        int r0, r1;
        rt_par_range(&r0, &r1, rows, ch, nc);
        for (int s = 0; s < j->n; s++) {
            const float *x = j->inp + s * in_sz, *dy = j->dout + s * out_sz;
            const float *cm = x + (size_t)r0 * ohw;   /* pointwise: rows of x */
            if (!is_pointwise(g)) {
                im2col_rows(col, x, g, r0, r1);
                cm = col;
            }
            for (int r = r0; r < r1;) {
                int gi = r / kk, re = (gi + 1) * kk < r1 ? (gi + 1) * kk : r1;
                rt_sgemm(RT_NOTRANS, RT_TRANS, ocg, re - r, ohw,
                            1.0f, dy + (size_t)gi * ocg * ohw, ohw,
                            cm + (size_t)(r - r0) * ohw, ohw,
                            1.0f, j->dw + (size_t)gi * ocg * kk + (r - gi * kk), kk);
                r = re;
            }
        }
    }
}

/*
** dout is (n,oc,oh,ow); accumulates dw += dout_g x col_g^T per sample and
** group, db += spatial sums, and stores dinp (when not NULL) via input_grad.
** The weight gradient runs first and the input gradient after it, as the
** latter overwrites the col slices the former unfolds into.
*/
void rt_conv2d_backward(float *dinp, float *dw, float *db, float *col,
                        const float *dout, const float *inp, const float *w,
                        int n, const RtConv *g, RtStore st) {
    int ohw = g->oh * g->ow, nt = rt_get_threads(), nc = dw_chunks(g);
    ConvJob j = {NULL, dinp, dw, col, inp, dout, w, NULL, n, g, NULL, {0}, st};
    /* Chunk threads also need a col slice each: at most the slices col has. */
    int ntw = nt < nc ? nt : nc;
    if (ntw > (int)rt_scratch_slices(n)) ntw = (int)rt_scratch_slices(n);
    rt_par_run(weight_grad_part, &j, ntw);
    if (db)
        for (int s = 0; s < n; s++)
            bias_grad(db, dout + s * rt_conv_y_stride(g), g->oc, ohw);
    if (dinp) {
        int nti = sample_threads(n), ntt = transposed_input_grad(&j, nti);
        rt_par_run(input_grad_part, &j, ntt > 0 ? ntt : nti);
    }
}

/* }==================================================================== */

/* {====================================================================
** Linear
** ===================================================================== */

/* inp is (n,in), w is (out,in), b is (out) or NULL; out = inp w^T + b is (n,out) */
void rt_linear_forward(float *out, const float *inp, const float *w,
                       const float *b, int n, int in, int outf) {
    for (int s = 0; s < n; s++)
        for (int o = 0; o < outf; o++)
            out[(size_t)s * outf + o] = b ? b[o] : 0.0f;
    rt_sgemm(RT_NOTRANS, RT_TRANS, n, outf, in,
                1.0f, inp, in, w, in, 1.0f, out, outf);
}

/*
** dout is (n,out); accumulates dw += dout^T inp, db += column sums of dout
** (db NULL when there is no bias); stores dinp = (or +=) dout w (dinp may be
** NULL).
*/
void rt_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int n, int in, int outf,
                        RtStore st) {
    if (dw)
        rt_sgemm(RT_TRANS, RT_NOTRANS, outf, in, n,
                    1.0f, dout, outf, inp, in, 1.0f, dw, in);
    if (db)
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outf; o++) db[o] += dout[(size_t)s * outf + o];
    if (dinp)
        rt_sgemm(RT_NOTRANS, RT_NOTRANS, n, in, outf,
                    1.0f, dout, outf, w, in, beta_of(st), dinp, in);
}

/* }==================================================================== */
