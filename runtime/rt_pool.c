/*
** rt_pool.c: max and average pooling, global average pooling, nearest
** upsampling, channel concatenation.
**
** Windows follow PyTorch: output cell (oy,ox) covers input rows
** oy*stride-pad .. +k-1 and the same for columns; padded cells are never
** the maximum and count as zeros for the average (count_include_pad).
*/
#include <math.h>
#include <string.h>

#include "rt.h"
#include "rt_par.h"
#include "rt_store.h"

/*
** Pooling runs plane by plane, each plane's output written by one thread,
** so the planes are split into contiguous runs over the threads (results
** do not depend on how many) once a call has enough cells to pay for it.
*/
#define POOL_PAR_MIN 32768

typedef struct {
    float *out;                 /* y (forward) or dx (backward) */
    const float *inp, *dout;
    const RtPool *p;
    RtStore st;
    void (*planes)(const void *job, size_t lo, size_t hi);
    size_t nplanes;
} PoolJob;

static void pool_part(void *arg, int t, int nt) {
    const PoolJob *j = arg;
    int lo, hi;
    rt_par_range(&lo, &hi, (int)j->nplanes, t, nt);
    j->planes(j, (size_t)lo, (size_t)hi);
}

static void pool_run(PoolJob *j, int n) {
    size_t cells = (size_t)n * j->p->c * j->p->h * j->p->w;
    int nt = rt_get_threads();
    j->nplanes = (size_t)n * j->p->c;
    if (cells < POOL_PAR_MIN || j->nplanes < 2) nt = 1;
    if ((size_t)nt > j->nplanes) nt = (int)j->nplanes;
    rt_par_run(pool_part, j, nt);
}

/*
** Plane pl = i*c + ch (sample i, channel ch) of the input and of the
** output: samples lie the geometry's strides apart (0: dense), so a tensor
** may be a channel slice of a wider one.
*/
static size_t in_plane(const RtPool *p, size_t pl) {
    size_t hw = (size_t)p->h * p->w, xs = p->xs ? (size_t)p->xs : p->c * hw;
    return pl / p->c * xs + pl % p->c * hw;
}

static size_t out_plane(const RtPool *p, size_t pl) {
    size_t hw = (size_t)p->oh * p->ow, ys = p->ys ? (size_t)p->ys : p->c * hw;
    return pl / p->c * ys + pl % p->c * hw;
}

/* {====================================================================
** Max pooling
** ===================================================================== */

/*
** Index (iy*w+ix) in one plane (h,w) of the first maximum of the window of
** output cell (oy,ox), scanning rows then columns and skipping padding;
** -1 if the window lies wholly in the padding.
*/
static int window_argmax(const float *plane, const RtPool *p, int oy, int ox) {
    int best = -1;
    float bv = -INFINITY;
    for (int ky = 0; ky < p->k; ky++) {
        int iy = oy * p->stride - p->pad + ky;
        if (iy < 0 || iy >= p->h) continue;
        for (int kx = 0; kx < p->k; kx++) {
            int ix = ox * p->stride - p->pad + kx;
            if (ix < 0 || ix >= p->w) continue;
            float v = plane[iy * p->w + ix];
            if (best < 0 || v > bv) { best = iy * p->w + ix; bv = v; }
        }
    }
    return best;
}

static void maxpool_planes(const void *job, size_t lo, size_t hi) {
    const PoolJob *j = job;
    const RtPool *p = j->p;
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->inp + in_plane(p, pl);
        float *y = j->out + out_plane(p, pl);
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                int a = window_argmax(x, p, oy, ox);
                y[oy * p->ow + ox] = a < 0 ? -INFINITY : x[a];
            }
    }
}

/* inp is (n,c,h,w); out is (n,c,oh,ow) */
void rt_maxpool_forward(float *out, const float *inp, int n, const RtPool *p) {
    PoolJob j = {.out = out, .inp = inp, .p = p, .planes = maxpool_planes};
    pool_run(&j, n);
}

/* Windows may overlap and scatter into one cell: with RT_SET a plane is
** cleared just before its windows add into it, while it is in cache. */
static void clear_plane(float *dx, size_t len, RtStore st) {
    if (st == RT_SET) memset(dx, 0, len * sizeof *dx);
}

static void maxpool_grad_planes(const void *job, size_t lo, size_t hi) {
    const PoolJob *j = job;
    const RtPool *p = j->p;
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->inp + in_plane(p, pl);
        const float *dy = j->dout + out_plane(p, pl);
        float *dx = j->out + in_plane(p, pl);
        clear_plane(dx, (size_t)p->h * p->w, j->st);
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                int a = window_argmax(x, p, oy, ox);
                if (a >= 0) dx[a] += dy[oy * p->ow + ox];
            }
    }
}

/* dout is (n,c,oh,ow); routes each cell's gradient to its window's argmax */
void rt_maxpool_backward(float *dinp, const float *dout, const float *inp,
                         int n, const RtPool *p, RtStore st) {
    PoolJob j = {.out = dinp, .inp = inp, .dout = dout, .p = p, .st = st,
                 .planes = maxpool_grad_planes};
    pool_run(&j, n);
}

/* }==================================================================== */

/* {====================================================================
** Average pooling (divisor k*k, padding counted)
** ===================================================================== */

/* Sum of the in-bounds cells of the window of output cell (oy,ox). */
static float window_sum(const float *plane, const RtPool *p, int oy, int ox) {
    float s = 0.0f;
    for (int ky = 0; ky < p->k; ky++) {
        int iy = oy * p->stride - p->pad + ky;
        if (iy < 0 || iy >= p->h) continue;
        for (int kx = 0; kx < p->k; kx++) {
            int ix = ox * p->stride - p->pad + kx;
            if (ix >= 0 && ix < p->w) s += plane[iy * p->w + ix];
        }
    }
    return s;
}

/* Adds g to every in-bounds cell of the window of output cell (oy,ox). */
static void window_spread(float *plane, const RtPool *p, int oy, int ox, float g) {
    for (int ky = 0; ky < p->k; ky++) {
        int iy = oy * p->stride - p->pad + ky;
        if (iy < 0 || iy >= p->h) continue;
        for (int kx = 0; kx < p->k; kx++) {
            int ix = ox * p->stride - p->pad + kx;
            if (ix >= 0 && ix < p->w) plane[iy * p->w + ix] += g;
        }
    }
}

static void avgpool_planes(const void *job, size_t lo, size_t hi) {
    const PoolJob *j = job;
    const RtPool *p = j->p;
    float inv = 1.0f / (float)(p->k * p->k);
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->inp + in_plane(p, pl);
        float *y = j->out + out_plane(p, pl);
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                y[oy * p->ow + ox] = window_sum(x, p, oy, ox) * inv;
    }
}

/* inp is (n,c,h,w); out is (n,c,oh,ow) */
void rt_avgpool_forward(float *out, const float *inp, int n, const RtPool *p) {
    PoolJob j = {.out = out, .inp = inp, .p = p, .planes = avgpool_planes};
    pool_run(&j, n);
}

static void avgpool_grad_planes(const void *job, size_t lo, size_t hi) {
    const PoolJob *j = job;
    const RtPool *p = j->p;
    float inv = 1.0f / (float)(p->k * p->k);
    for (size_t pl = lo; pl < hi; pl++) {
        const float *dy = j->dout + out_plane(p, pl);
        float *dx = j->out + in_plane(p, pl);
        clear_plane(dx, (size_t)p->h * p->w, j->st);
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                window_spread(dx, p, oy, ox, dy[oy * p->ow + ox] * inv);
    }
}

/* dout is (n,c,oh,ow); stores into dinp (n,c,h,w) */
void rt_avgpool_backward(float *dinp, const float *dout, int n, const RtPool *p,
                         RtStore st) {
    PoolJob j = {.out = dinp, .dout = dout, .p = p, .st = st, .planes = avgpool_grad_planes};
    pool_run(&j, n);
}

/* }==================================================================== */

/* {====================================================================
** Global average pooling, upsampling, concat
** ===================================================================== */

/* inp is (n,c,hw); out is (n,c) */
void rt_global_avgpool_forward(float *out, const float *inp, int n, int c, int hw) {
    size_t planes = (size_t)n * c;
    for (size_t pl = 0; pl < planes; pl++) {
        double s = 0.0;   /* a 56x56 plane is 3136 values; keep the mean exact */
        for (int j = 0; j < hw; j++) s += inp[pl * hw + j];
        out[pl] = (float)(s / hw);
    }
}

/* dout is (n,c); stores dout/hw into every cell of dinp (n,c,hw) */
void rt_global_avgpool_backward(float *dinp, const float *dout, int n, int c, int hw,
                                RtStore st) {
    size_t planes = (size_t)n * c;
    for (size_t pl = 0; pl < planes; pl++) {
        float g = dout[pl] / (float)hw;
        RT_STORE_LOOP(st, j, pl * hw, (pl + 1) * hw, dinp, g);
    }
}

/* inp is (n,c,h,w); out is (n,c,h*f,w*f), out[y][x] = inp[y/f][x/f] */
void rt_upsample_forward(float *out, const float *inp, int n, int c, int h, int w, int f) {
    size_t planes = (size_t)n * c;
    int ow = w * f;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *x = inp + pl * h * w;
        float *y = out + pl * (size_t)h * f * ow;
        for (int oy = 0; oy < h * f; oy++)
            for (int ox = 0; ox < ow; ox++)
                y[(size_t)oy * ow + ox] = x[(oy / f) * w + ox / f];
    }
}

/* dout is (n,c,h*f,w*f); each input cell gathers the f*f cells it fed */
void rt_upsample_backward(float *dinp, const float *dout, int n, int c, int h, int w, int f,
                          RtStore st) {
    size_t planes = (size_t)n * c;
    int ow = w * f;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *dy = dout + pl * (size_t)h * f * ow;
        float *dx = dinp + pl * h * w;
        clear_plane(dx, (size_t)h * w, st);
        for (int oy = 0; oy < h * f; oy++)
            for (int ox = 0; ox < ow; ox++)
                dx[(oy / f) * w + ox / f] += dy[(size_t)oy * ow + ox];
    }
}

/* inp is (n,c_in,hw); copied into channels [c_off, c_off+c_in) of out (n,c_out,hw) */
void rt_concat_forward(float *out, const float *inp, int n, int c_out,
                       int c_off, int c_in, int hw) {
    size_t chunk = (size_t)c_in * hw;
    for (int i = 0; i < n; i++)
        memcpy(out + ((size_t)i * c_out + c_off) * hw, inp + i * chunk,
               chunk * sizeof(float));
}

/* dout is (n,c_out,hw); stores its channel slice into dinp (n,c_in,hw) */
void rt_concat_backward(float *dinp, const float *dout, int n, int c_out,
                        int c_off, int c_in, int hw, RtStore st) {
    size_t chunk = (size_t)c_in * hw;
    for (int i = 0; i < n; i++) {
        float *dx = dinp + i * chunk;
        const float *dy = dout + ((size_t)i * c_out + c_off) * hw;
        RT_STORE_LOOP(st, j, 0, chunk, dx, dy[j]);
    }
}

/* }==================================================================== */
