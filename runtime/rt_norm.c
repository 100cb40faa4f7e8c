/*
** rt_norm.c: batch normalisation, PyTorch semantics.
**
** Per channel the statistics run over the n*hw values of that channel.
** Training normalises with the batch mean and BIASED variance, saves mean
** and rstd = 1/sqrt(var+eps) for backward, and moves the running stats by
**     run = (1-momentum)*run + momentum*batch
** using the UNBIASED variance var*m/(m-1), m = n*hw. Sums are taken in
** double: a channel of a large batch holds 1e5+ values, and a float sum
** loses the low bits of the mean that the variance depends on.
*/
#include <math.h>

#include "rt.h"
#include "rt_par.h"
#include "rt_store.h"

/*
** Channels are split into contiguous runs, one per thread (rt_par.c); a
** channel's sums are always taken by one thread in one order, so nothing
** here depends on the thread count. Below this many values per call the
** dispatch costs more than it saves.
*/
#define BN_PAR_MIN 32768
#define RT_LANES 8

static int bn_threads(int n, int c, int hw) {
    int nt = rt_get_threads();
    if ((size_t)n * c * hw < BN_PAR_MIN) return 1;
    return nt < c ? nt : c;
}

/*
** Double sums with RT_LANES independent partial sums per channel: lane l
** takes the elements at offsets j with j % RT_LANES == l within every
** sample's run of hw values, and the lanes are added in a fixed order at
** the end. The loops over lanes vectorise without -ffast-math, and the
** result does not depend on the vector width the compiler picked.
*/
static double lanes_total(const double *lane) {
    double s = 0.0;
    for (int l = 0; l < RT_LANES; l++) s += lane[l];
    return s;
}

/* Sum of x over channel ch of (n,c,hw), samples xs floats apart. */
static double channel_sum(const float *inp, int n, size_t xs, int hw, int ch) {
    double lane[RT_LANES] = {0.0};
    int body = hw - hw % RT_LANES;
    for (int i = 0; i < n; i++) {
        const float *x = inp + (size_t)i * xs + (size_t)ch * hw;
        for (int j = 0; j < body; j += RT_LANES)
            for (int l = 0; l < RT_LANES; l++) lane[l] += x[j + l];
        for (int l = 0; l < hw - body; l++) lane[l] += x[body + l];
    }
    return lanes_total(lane);
}

/* Sum of (x - mu)^2 over channel ch of (n,c,hw), samples xs floats apart. */
static double channel_sqdev(const float *inp, int n, size_t xs, int hw, int ch, double mu) {
    double lane[RT_LANES] = {0.0};
    int body = hw - hw % RT_LANES;
    for (int i = 0; i < n; i++) {
        const float *x = inp + (size_t)i * xs + (size_t)ch * hw;
        for (int j = 0; j < body; j += RT_LANES)
            for (int l = 0; l < RT_LANES; l++) {
                double d = x[j + l] - mu;
                lane[l] += d * d;
            }
        for (int l = 0; l < hw - body; l++) {
            double d = x[body + l] - mu;
            lane[l] += d * d;
        }
    }
    return lanes_total(lane);
}

/*
** Mean and biased variance of channel ch of inp (n,c,hw), two-pass in
** double so the variance does not suffer from cancellation.
*/
static void channel_stats(double *mean, double *var, const float *inp,
                          int n, size_t xs, int hw, int ch) {
    double m = (double)n * hw;
    *mean = channel_sum(inp, n, xs, hw, ch) / m;
    *var = channel_sqdev(inp, n, xs, hw, ch, *mean) / m;
}

typedef struct {
    float *out, *mean, *rstd, *run_mean, *run_var, *dinp, *dgamma, *dbeta;
    /* read-only statistics: saved mean/rstd (backward), running mean/var (eval) */
    const float *inp, *dout, *gamma, *beta, *cmean, *crstd;
    const float *res;    /* forward: residual added after the affine step, or NULL */
    int relu;            /* forward: relu after that */
    const float *mask;   /* backward: the fused relu's output, or NULL */
    int n, c, hw;
    size_t xs, ys;       /* sample strides: inp and dinp; out, dout, mask (res is dense) */
    float momentum, eps;
    RtStore st;          /* backward: how dinp is stored */
} BnJob;

/*
** out[i,ch,:] = inp[i,ch,:] * scale + shift for every sample i, then the
** fused epilogue: + res[i,ch,:] when res is given, relu when asked. Each
** step rounds to float as the separate kernels would, so fusing changes
** no bit of the result.
*/
static void affine_channel(const BnJob *j, int ch, float scale, float shift) {
    size_t plane = (size_t)ch * j->hw;
    for (int i = 0; i < j->n; i++) {
        float *restrict y = j->out + i * j->ys + plane;
        const float *restrict x = j->inp + i * j->xs + plane;
        const float *restrict r = j->res ? j->res + ((size_t)i * j->c + ch) * j->hw : NULL;
        if (r && j->relu)
            for (int q = 0; q < j->hw; q++) {
                float v = x[q] * scale + shift;
                v = v + r[q];
                y[q] = v > 0.0f ? v : 0.0f;
            }
        else if (r)
            for (int q = 0; q < j->hw; q++) {
                float v = x[q] * scale + shift;
                y[q] = v + r[q];
            }
        else if (j->relu)
            for (int q = 0; q < j->hw; q++) {
                float v = x[q] * scale + shift;
                y[q] = v > 0.0f ? v : 0.0f;
            }
        else
            for (int q = 0; q < j->hw; q++) y[q] = x[q] * scale + shift;
    }
}

/*
** The training normalisation of channel ch from the statistics as saved
** (floats), so that rt_batchnorm_relu_recompute, which has only those,
** gives the same bits.
*/
static void affine_saved(const BnJob *j, int ch, float mean, float rstd) {
    double scale = (double)j->gamma[ch] * rstd;
    affine_channel(j, ch, (float)scale, (float)(j->beta[ch] - (double)mean * scale));
}

static void train_part(void *p, int t, int nt) {
    const BnJob *j = p;
    int lo, hi;
    double m = (double)j->n * j->hw;
    rt_par_range(&lo, &hi, j->c, t, nt);
    for (int ch = lo; ch < hi; ch++) {
        double mu, var;
        channel_stats(&mu, &var, j->inp, j->n, j->xs, j->hw, ch);
        double rs = 1.0 / sqrt(var + j->eps);
        j->mean[ch] = (float)mu;
        j->rstd[ch] = (float)rs;
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        j->run_mean[ch] = (float)((1.0 - j->momentum) * j->run_mean[ch] + j->momentum * mu);
        j->run_var[ch] = (float)((1.0 - j->momentum) * j->run_var[ch] + j->momentum * unbiased);
        affine_saved(j, ch, j->mean[ch], j->rstd[ch]);
    }
}

static void recompute_part(void *p, int t, int nt) {
    const BnJob *j = p;
    int lo, hi;
    rt_par_range(&lo, &hi, j->c, t, nt);
    for (int ch = lo; ch < hi; ch++) affine_saved(j, ch, j->cmean[ch], j->crstd[ch]);
}

/* The job's shape and strides from the geometry (0: dense). */
static void bn_shape(BnJob *j, int n, const RtNorm *g) {
    size_t dense = (size_t)g->c * g->hw;
    j->n = n;
    j->c = g->c;
    j->hw = g->hw;
    j->xs = g->xs ? (size_t)g->xs : dense;
    j->ys = g->ys ? (size_t)g->ys : dense;
}

static void bn_run(void (*part)(void *, int, int), BnJob *j) {
    rt_par_run(part, j, bn_threads(j->n, j->c, j->hw));
}

/* inp is (n,c,hw); out is (n,c,hw); mean, rstd, run_mean, run_var are (c) */
void rt_batchnorm_forward_train(float *out, float *mean, float *rstd,
                                float *run_mean, float *run_var,
                                const float *inp, const float *gamma,
                                const float *beta, int n, const RtNorm *g,
                                float momentum, float eps) {
    BnJob j = {.out = out, .mean = mean, .rstd = rstd, .run_mean = run_mean,
               .run_var = run_var, .inp = inp, .gamma = gamma, .beta = beta,
               .momentum = momentum, .eps = eps};
    bn_shape(&j, n, g);
    bn_run(train_part, &j);
}

void rt_batchnorm_relu_forward_train(float *out, float *mean, float *rstd,
                                     float *run_mean, float *run_var,
                                     const float *inp, const float *res,
                                     const float *gamma, const float *beta,
                                     int n, const RtNorm *g, float momentum, float eps) {
    BnJob j = {.out = out, .mean = mean, .rstd = rstd, .run_mean = run_mean,
               .run_var = run_var, .inp = inp, .gamma = gamma, .beta = beta, .res = res,
               .relu = 1, .momentum = momentum, .eps = eps};
    bn_shape(&j, n, g);
    bn_run(train_part, &j);
}

void rt_batchnorm_relu_recompute(float *out, const float *inp, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 int n, const RtNorm *g) {
    BnJob j = {.out = out, .inp = inp, .gamma = gamma, .beta = beta, .cmean = mean,
               .crstd = rstd, .relu = 1};
    bn_shape(&j, n, g);
    bn_run(recompute_part, &j);
}

static void eval_part(void *p, int t, int nt) {
    const BnJob *j = p;
    int lo, hi;
    rt_par_range(&lo, &hi, j->c, t, nt);
    for (int ch = lo; ch < hi; ch++) {
        double scale = j->gamma[ch] / sqrt((double)j->crstd[ch] + j->eps);
        affine_channel(j, ch, (float)scale, (float)(j->beta[ch] - j->cmean[ch] * scale));
    }
}

/* inp is (n,c,hw); normalises with the running statistics (c) */
void rt_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, int n, const RtNorm *g, float eps) {
    BnJob j = {.out = out, .inp = inp, .gamma = gamma, .beta = beta, .cmean = run_mean,
               .crstd = run_var, .eps = eps};
    bn_shape(&j, n, g);
    bn_run(eval_part, &j);
}

void rt_batchnorm_relu_forward_eval(float *out, const float *inp, const float *res,
                                    const float *gamma, const float *beta,
                                    const float *run_mean, const float *run_var,
                                    int n, const RtNorm *g, float eps) {
    BnJob j = {.out = out, .inp = inp, .gamma = gamma, .beta = beta, .cmean = run_mean,
               .crstd = run_var, .res = res, .relu = 1, .eps = eps};
    bn_shape(&j, n, g);
    bn_run(eval_part, &j);
}

/* a[l] += dy, b[l] += dy*xhat over len values, len a multiple of RT_LANES,
** element q going to lane q % RT_LANES. */
static void lane_dsums(double *a, double *b, const float *dy, const float *x, float mean,
                       float rstd, int len) {
    for (int q = 0; q < len; q += RT_LANES)
        for (int l = 0; l < RT_LANES; l++) {
            a[l] += dy[q + l];
            b[l] += (double)dy[q + l] * ((x[q + l] - mean) * rstd);
        }
}

/* The same for the last len < RT_LANES values, element q to lane q. */
static void tail_dsums(double *a, double *b, const float *dy, const float *x, float mean,
                       float rstd, int len) {
    for (int l = 0; l < len; l++) {
        a[l] += dy[l];
        b[l] += (double)dy[l] * ((x[l] - mean) * rstd);
    }
}

/* g = dout where the fused relu's output is positive, 0 elsewhere. */
static void relu_gate(float *restrict g, const float *restrict dy, const float *restrict mask,
                      int len) {
    for (int q = 0; q < len; q++) g[q] = mask[q] > 0.0f ? dy[q] : 0.0f;
}

enum { GATE_CHUNK = 16 * RT_LANES };

/*
** Adds one sample's run of hw values of a channel into the lane sums. The
** gradient is dout, or with a fused relu after the batchnorm, dout gated by
** the relu's output (mask), chunk by chunk through a small buffer so both
** cases share the summing loops and add in the same order.
*/
static void add_dsums(double *a, double *b, const float *dy, const float *mask,
                      const float *x, float mean, float rstd, int hw) {
    int body = hw - hw % RT_LANES;
    float g[GATE_CHUNK];
    if (!mask) {
        lane_dsums(a, b, dy, x, mean, rstd, body);
        tail_dsums(a, b, dy + body, x + body, mean, rstd, hw - body);
        return;
    }
    for (int q = 0; q < body; q += GATE_CHUNK) {
        int len = body - q < GATE_CHUNK ? body - q : GATE_CHUNK;
        relu_gate(g, dy + q, mask + q, len);
        lane_dsums(a, b, g, x + q, mean, rstd, len);
    }
    relu_gate(g, dy + body, mask + body, hw - body);
    tail_dsums(a, b, g, x + body, mean, rstd, hw - body);
}

/*
** Sums over channel ch of dout and of dout*xhat, xhat recomputed from inp
** and the saved mean/rstd (saving xhat would cost a full activation).
*/
static void channel_dsums(double *sd, double *sdx, const BnJob *j, float mean, float rstd,
                          int ch) {
    double a[RT_LANES] = {0.0}, b[RT_LANES] = {0.0};
    size_t plane = (size_t)ch * j->hw;
    for (int i = 0; i < j->n; i++) {
        size_t yo = i * j->ys + plane;
        add_dsums(a, b, j->dout + yo, j->mask ? j->mask + yo : NULL, j->inp + i * j->xs + plane,
                  mean, rstd, j->hw);
    }
    *sd = lanes_total(a);
    *sdx = lanes_total(b);
}

static void backward_part(void *p, int t, int nt) {
    const BnJob *j = p;
    int lo, hi, n = j->n, c = j->c, hw = j->hw;
    double m = (double)n * hw;
    rt_par_range(&lo, &hi, c, t, nt);
    for (int ch = lo; ch < hi; ch++) {
        double sd, sdx;
        channel_dsums(&sd, &sdx, j, j->cmean[ch], j->crstd[ch], ch);
        if (j->dbeta) j->dbeta[ch] += (float)sd;
        if (j->dgamma) j->dgamma[ch] += (float)sdx;
        if (!j->dinp) continue;
        float k = (float)(j->gamma[ch] * j->crstd[ch]), mu = j->cmean[ch], rs = j->crstd[ch];
        float md = (float)(sd / m), mdx = (float)(sdx / m);
        for (int i = 0; i < n; i++) {
            size_t xo = i * j->xs + (size_t)ch * hw, yo = i * j->ys + (size_t)ch * hw;
            float *restrict dx = j->dinp + xo;
            const float *restrict dy = j->dout + yo, *restrict x = j->inp + xo;
            const float *restrict msk = j->mask ? j->mask + yo : NULL;
            if (msk)
                RT_STORE_LOOP(j->st, q, 0, hw, dx,
                              k * ((msk[q] > 0.0f ? dy[q] : 0.0f) - md - (x[q] - mu) * rs * mdx));
            else
                RT_STORE_LOOP(j->st, q, 0, hw, dx, k * (dy[q] - md - (x[q] - mu) * rs * mdx));
        }
    }
}

/*
** dout, inp are (n,c,hw). With m = n*hw, per channel:
**   dbeta += sum(dout), dgamma += sum(dout*xhat),
**   dinp  = (or +=) gamma*rstd/m * (m*dout - sum(dout) - xhat*sum(dout*xhat)).
** Any of the three gradient pointers may be NULL.
*/
void rt_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                           const float *dout, const float *inp,
                           const float *mean, const float *rstd,
                           const float *gamma, int n, const RtNorm *g, RtStore st) {
    BnJob j = {.dinp = dinp, .dgamma = dgamma, .dbeta = dbeta, .inp = inp, .dout = dout,
               .gamma = gamma, .cmean = mean, .crstd = rstd, .st = st};
    bn_shape(&j, n, g);
    bn_run(backward_part, &j);
}

void rt_batchnorm_relu_backward(float *dinp, float *dgamma, float *dbeta,
                                const float *dout, const float *out, const float *inp,
                                const float *mean, const float *rstd, const float *gamma,
                                int n, const RtNorm *g, RtStore st) {
    BnJob j = {.dinp = dinp, .dgamma = dgamma, .dbeta = dbeta, .inp = inp, .dout = dout,
               .mask = out, .gamma = gamma, .cmean = mean, .crstd = rstd, .st = st};
    bn_shape(&j, n, g);
    bn_run(backward_part, &j);
}
