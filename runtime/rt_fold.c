/*
** rt_fold.c: an evaluation-mode batchnorm folded into the convolution or
** linear layer before it, for deployment builds.
**
** bn(conv(x) + b) = conv(x)*s + (b - mean)*s + beta with s = gamma /
** sqrt(var + eps) per output channel, so the layer's weights scaled by s
** and a new bias compute it in one pass. Everything is computed in double
** and rounded once, so a folded weight is the float nearest the exact
** product; predictions move by rounding only.
**
** The generator links this file too (it folds the weights it embeds), so
** a deployment build's weights are the same bits whether skipc embedded
** them or the caller folded a checkpoint at run time with NAME_fold.
*/
#include <math.h>

#include "rt.h"

void rt_fold_batchnorm(float *w_out, float *b_out, const float *w, const float *b,
                       const float *gamma, const float *beta, const float *run_mean,
                       const float *run_var, int oc, size_t per_oc, float eps) {
    for (int o = 0; o < oc; o++) {
        double s = gamma[o] / sqrt((double)run_var[o] + eps);
        for (size_t i = 0; i < per_oc; i++)
            w_out[(size_t)o * per_oc + i] = (float)(w[(size_t)o * per_oc + i] * s);
        b_out[o] = (float)(((b ? b[o] : 0.0) - run_mean[o]) * s + beta[o]);
    }
}
