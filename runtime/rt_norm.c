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

/*
** Mean and biased variance of channel ch of inp (n,c,hw), two-pass in
** double so the variance does not suffer from cancellation.
*/
static void channel_stats(double *mean, double *var, const float *inp,
                          int n, int c, int hw, int ch) {
    double s = 0.0, ss = 0.0, m = (double)n * hw;
    for (int i = 0; i < n; i++) {
        const float *x = inp + ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) s += x[j];
    }
    *mean = s / m;
    for (int i = 0; i < n; i++) {
        const float *x = inp + ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) ss += (x[j] - *mean) * (x[j] - *mean);
    }
    *var = ss / m;
}

/* out[i,ch,:] = inp[i,ch,:] * scale + shift, for every sample i */
static void affine_channel(float *out, const float *inp, int n, int c, int hw,
                           int ch, float scale, float shift) {
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) out[off + j] = inp[off + j] * scale + shift;
    }
}

/* inp is (n,c,hw); out is (n,c,hw); mean, rstd, run_mean, run_var are (c) */
void rt_batchnorm_forward_train(float *out, float *mean, float *rstd,
                                float *run_mean, float *run_var,
                                const float *inp, const float *gamma,
                                const float *beta, int n, int c, int hw,
                                float momentum, float eps) {
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        channel_stats(&mu, &var, inp, n, c, hw, ch);
        double rs = 1.0 / sqrt(var + eps);
        mean[ch] = (float)mu;
        rstd[ch] = (float)rs;
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        run_mean[ch] = (float)((1.0 - momentum) * run_mean[ch] + momentum * mu);
        run_var[ch] = (float)((1.0 - momentum) * run_var[ch] + momentum * unbiased);
        double scale = gamma[ch] * rs;
        affine_channel(out, inp, n, c, hw, ch, (float)scale,
                       (float)(beta[ch] - mu * scale));
    }
}

/* inp is (n,c,hw); normalises with the running statistics (c) */
void rt_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, int n, int c, int hw,
                               float eps) {
    for (int ch = 0; ch < c; ch++) {
        double scale = gamma[ch] / sqrt((double)run_var[ch] + eps);
        affine_channel(out, inp, n, c, hw, ch, (float)scale,
                       (float)(beta[ch] - run_mean[ch] * scale));
    }
}

/*
** Sums over channel ch of dout and of dout*xhat, xhat recomputed from inp
** and the saved mean/rstd (saving xhat would cost a full activation).
*/
static void channel_dsums(double *sd, double *sdx, const float *dout,
                          const float *inp, float mean, float rstd,
                          int n, int c, int hw, int ch) {
    double a = 0.0, b = 0.0;
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) {
            a += dout[off + j];
            b += (double)dout[off + j] * ((inp[off + j] - mean) * rstd);
        }
    }
    *sd = a;
    *sdx = b;
}

/*
** dout, inp are (n,c,hw). With m = n*hw, per channel:
**   dbeta += sum(dout), dgamma += sum(dout*xhat),
**   dinp  += gamma*rstd/m * (m*dout - sum(dout) - xhat*sum(dout*xhat)).
** Any of the three gradient pointers may be NULL.
*/
void rt_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                           const float *dout, const float *inp,
                           const float *mean, const float *rstd,
                           const float *gamma, int n, int c, int hw) {
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double sd, sdx;
        channel_dsums(&sd, &sdx, dout, inp, mean[ch], rstd[ch], n, c, hw, ch);
        if (dbeta) dbeta[ch] += (float)sd;
        if (dgamma) dgamma[ch] += (float)sdx;
        if (!dinp) continue;
        float k = (float)(gamma[ch] * rstd[ch]), mu = mean[ch], rs = rstd[ch];
        float md = (float)(sd / m), mdx = (float)(sdx / m);
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                float xhat = (inp[off + j] - mu) * rs;
                dinp[off + j] += k * (dout[off + j] - md - xhat * mdx);
            }
        }
    }
}
