/*
** rt_conv.c: 2-D convolution (im2col + sgemm) and linear layers (sgemm).
**
** A convolution of one sample is the matrix product
**     out_g (ocg, oh*ow) = W_g (ocg, cg*k*k) x col_g (cg*k*k, oh*ow)
** for every group g, where col is the im2col unfolding of the sample.
** The batch is walked one sample at a time so the column scratch stays
** the size of a single sample. A 1x1, stride-1, unpadded convolution needs
** no unfolding at all: the sample itself (c, h*w) is the column matrix.
*/
#include <string.h>
#include <cblas.h>

#include "rt.h"

static int is_pointwise(const RtConv *g) {
    return g->k == 1 && g->stride == 1 && g->pad == 0;
}

size_t rt_conv2d_col_floats(const RtConv *g) {
    if (is_pointwise(g)) return 0;
    return (size_t)g->c * g->k * g->k * g->oh * g->ow;
}

/* {====================================================================
** im2col / col2im
** Row r = (ci*k + ky)*k + kx of col holds, for every output pixel (oy,ox),
** the input cell (ci, oy*stride - pad + ky, ox*stride - pad + kx), or 0
** where that cell lies in the padding.
** ===================================================================== */

/*
** Unfolds one input row 'src' (w cells) into one output row 'dst' (ow
** cells) for the kernel column kx.
*/
static void unfold_row(float *dst, const float *src, const RtConv *g, int kx) {
    for (int ox = 0; ox < g->ow; ox++) {
        int ix = ox * g->stride - g->pad + kx;
        dst[ox] = (ix >= 0 && ix < g->w) ? src[ix] : 0.0f;
    }
}

/* inp is one sample (c,h,w); col is (c*k*k, oh*ow) */
static void im2col(float *col, const float *inp, const RtConv *g) {
    int k = g->k;
    for (int ci = 0; ci < g->c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(ci * k + ky) * k + kx) * g->oh * g->ow;
                const float *plane = inp + (size_t)ci * g->h * g->w;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->stride - g->pad + ky;
                    float *dst = row + (size_t)oy * g->ow;
                    if (iy < 0 || iy >= g->h) memset(dst, 0, sizeof(float) * g->ow);
                    else unfold_row(dst, plane + (size_t)iy * g->w, g, kx);
                }
            }
}

/* Adjoint of unfold_row: scatters 'src' (ow cells) back into 'dst' (w). */
static void fold_row(float *dst, const float *src, const RtConv *g, int kx) {
    for (int ox = 0; ox < g->ow; ox++) {
        int ix = ox * g->stride - g->pad + kx;
        if (ix >= 0 && ix < g->w) dst[ix] += src[ox];
    }
}

/* Adjoint of im2col: col is (c*k*k, oh*ow), accumulates into dinp (c,h,w) */
static void col2im(float *dinp, const float *col, const RtConv *g) {
    int k = g->k;
    for (int ci = 0; ci < g->c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(ci * k + ky) * k + kx) * g->oh * g->ow;
                float *plane = dinp + (size_t)ci * g->h * g->w;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->stride - g->pad + ky;
                    if (iy >= 0 && iy < g->h)
                        fold_row(plane + (size_t)iy * g->w, row + (size_t)oy * g->ow, g, kx);
                }
            }
}

/* }==================================================================== */

/* {====================================================================
** Convolution
** ===================================================================== */

/*
** Returns the column matrix of one sample: the sample itself on the
** pointwise fast path, otherwise its unfolding into 'col'.
*/
static const float *columns(float *col, const float *x, const RtConv *g) {
    if (is_pointwise(g)) return x;
    im2col(col, x, g);
    return col;
}

/* out is one sample (oc, oh*ow); fills every channel with its bias (or 0) */
static void init_bias(float *out, const float *b, int oc, int ohw) {
    for (int o = 0; o < oc; o++) {
        float v = b ? b[o] : 0.0f;
        for (int i = 0; i < ohw; i++) out[(size_t)o * ohw + i] = v;
    }
}

/* inp is (n,c,h,w), w is (oc,c/groups,k,k), b is (oc) or NULL; out is (n,oc,oh,ow) */
void rt_conv2d_forward(float *out, float *col, const float *inp,
                       const float *w, const float *b, int n, const RtConv *g) {
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k;   /* inner dimension of each group's product */
    for (int s = 0; s < n; s++) {
        const float *x = inp + (size_t)s * g->c * g->h * g->w;
        float *y = out + (size_t)s * g->oc * ohw;
        const float *cm = columns(col, x, g);
        init_bias(y, b, g->oc, ohw);
        for (int gi = 0; gi < g->groups; gi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ocg, ohw, kk,
                        1.0f, w + (size_t)gi * ocg * kk, kk,
                        cm + (size_t)gi * kk * ohw, ohw,
                        1.0f, y + (size_t)gi * ocg * ohw, ohw);
    }
}

/* dout is one sample (oc, ohw); db (oc) += its spatial sums */
static void bias_grad(float *db, const float *dout, int oc, int ohw) {
    for (int o = 0; o < oc; o++) {
        float acc = 0.0f;
        for (int i = 0; i < ohw; i++) acc += dout[(size_t)o * ohw + i];
        db[o] += acc;
    }
}

/*
** Input gradient of one sample: dcol_g = W_g^T x dout_g for each group,
** then folded back. On the pointwise path dcol is dinp itself, so the
** product accumulates straight into it (beta = 1).
*/
static void input_grad(float *dx, float *col, const float *dy, const float *w,
                       const RtConv *g) {
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k;
    int direct = is_pointwise(g);
    float *dcol = direct ? dx : col;
    for (int gi = 0; gi < g->groups; gi++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, ohw, ocg,
                    1.0f, w + (size_t)gi * ocg * kk, kk,
                    dy + (size_t)gi * ocg * ohw, ohw,
                    direct ? 1.0f : 0.0f, dcol + (size_t)gi * kk * ohw, ohw);
    if (!direct) col2im(dx, col, g);
}

/*
** dout is (n,oc,oh,ow); accumulates dw += dout_g x col_g^T per sample and
** group, db += spatial sums, and dinp (when not NULL) via input_grad.
*/
void rt_conv2d_backward(float *dinp, float *dw, float *db, float *col,
                        const float *dout, const float *inp, const float *w,
                        int n, const RtConv *g) {
    int ohw = g->oh * g->ow, cg = g->c / g->groups, ocg = g->oc / g->groups;
    int kk = cg * g->k * g->k;
    size_t in_sz = (size_t)g->c * g->h * g->w, out_sz = (size_t)g->oc * ohw;
    for (int s = 0; s < n; s++) {
        const float *dy = dout + s * out_sz;
        const float *cm = columns(col, inp + s * in_sz, g);
        for (int gi = 0; gi < g->groups; gi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ocg, kk, ohw,
                        1.0f, dy + (size_t)gi * ocg * ohw, ohw,
                        cm + (size_t)gi * kk * ohw, ohw,
                        1.0f, dw + (size_t)gi * ocg * kk, kk);
        if (db) bias_grad(db, dy, g->oc, ohw);
        if (dinp) input_grad(dinp + s * in_sz, col, dy, w, g);
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, outf, in,
                1.0f, inp, in, w, in, 1.0f, out, outf);
}

/*
** dout is (n,out); accumulates dw += dout^T inp, db += column sums of dout
** (db NULL when there is no bias), dinp += dout w (dinp may be NULL).
*/
void rt_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int n, int in, int outf) {
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, outf, in, n,
                    1.0f, dout, outf, inp, in, 1.0f, dw, in);
    if (db)
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outf; o++) db[o] += dout[(size_t)s * outf + o];
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, outf,
                    1.0f, dout, outf, w, in, 1.0f, dinp, in);
}

/* }==================================================================== */
