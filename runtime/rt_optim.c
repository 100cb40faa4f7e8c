/*
** rt_optim.c: SGD and AdamW over a flat parameter block, with the update
** rules of torch.optim.SGD and torch.optim.AdamW (dampening 0, no amsgrad).
**
** Both SGD loops vectorize (gcc -O3 -march=native -fopt-info-vec-optimized).
** The AdamW loop does not: sqrtf may set errno, and the runtime is built
** without -fno-math-errno. It runs once per step over the parameters, a
** small cost next to the convolutions.
*/
#include <math.h>

#include "rt.h"

/*
** g' = g + wd*w; buf = momentum*buf + g'; step = nesterov ? g' + momentum*buf
** : buf; w -= lr*step. PyTorch copies g' into buf on the first step; with buf
** zeroed beforehand momentum*0 + g' is the same value. buf may be NULL when
** momentum is 0, which is plain SGD.
*/
void rt_sgd_step(float *restrict w, const float *restrict g, float *restrict buf,
                 size_t len, float lr, float momentum, float wd, int nesterov) {
    if (!buf) {
        for (size_t i = 0; i < len; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        float d = g[i] + wd * w[i];
        buf[i] = momentum * buf[i] + d;
        w[i] -= lr * (nesterov ? d + momentum * buf[i] : buf[i]);
    }
}

/*
** AdamW, step t (1-based):
**   w *= 1 - lr*wd                      (decoupled decay, applied first)
**   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
**   w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
** The bias corrections are formed in double: 1-b2^t is ~1e-3 early on and
** float pow loses digits there.
*/
void rt_adamw_step(float *restrict w, const float *restrict g, float *restrict m,
                   float *restrict v, size_t len, long t, float lr, float beta1,
                   float beta2, float eps, float wd) {
    float step = (float)(lr / (1.0 - pow(beta1, (double)t)));
    float bc2 = (float)sqrt(1.0 - pow(beta2, (double)t));
    float decay = 1.0f - lr * wd;
    for (size_t i = 0; i < len; i++) {
        w[i] *= decay;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        w[i] -= step * m[i] / (sqrtf(v[i]) / bc2 + eps);
    }
}
