/*
** rt_loss.c: softmax cross-entropy and mean squared error.
**
** Both losses are means (PyTorch's reduction='mean'): cross-entropy over
** the n*hw labelled positions, MSE over all elements. Backward kernels
** accumulate the gradient of that mean. Forward sums run in double, since
** a batch can hold 1e6 terms and the loss is what training curves report.
*/
#include <math.h>

#include "rt.h"
#include "rt_store.h"

/* {====================================================================
** Softmax cross-entropy, logits (n,c,hw): the c classes of one position
** are hw floats apart.
** ===================================================================== */

/* Largest of the c logits of one position x (stride hw). */
static float class_max(const float *x, int c, int hw) {
    float m = x[0];
    for (int k = 1; k < c; k++) if (x[(size_t)k * hw] > m) m = x[(size_t)k * hw];
    return m;
}

/*
** log(sum exp(x_k - mx)) for one position: subtracting the maximum keeps
** every exponent <= 0, so nothing overflows.
*/
static double log_sum_exp(const float *x, float mx, int c, int hw) {
    double s = 0.0;
    for (int k = 0; k < c; k++) s += exp((double)x[(size_t)k * hw] - mx);
    return log(s);
}

float rt_xent_forward(const float *logits, const int32_t *labels, int n, int c, int hw) {
    double total = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            const float *x = logits + (size_t)i * c * hw + j;
            float mx = class_max(x, c, hw);
            total += log_sum_exp(x, mx, c, hw) + mx - x[(size_t)labels[(size_t)i * hw + j] * hw];
        }
    return (float)(total / ((double)n * hw));
}

/* dlogits (n,c,hw) = (or +=) (softmax - onehot(label)) / (n*hw) */
void rt_xent_backward(float *dlogits, const float *logits, const int32_t *labels,
                      int n, int c, int hw, RtStore st) {
    double inv = 1.0 / ((double)n * hw);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            size_t base = (size_t)i * c * hw + j;
            const float *x = logits + base;
            float mx = class_max(x, c, hw);
            double lse = log_sum_exp(x, mx, c, hw);
            int label = labels[(size_t)i * hw + j];
            for (int k = 0; k < c; k++) {
                double p = exp((double)x[(size_t)k * hw] - mx - lse);
                float g = (float)((p - (k == label)) * inv);
                float *d = &dlogits[base + (size_t)k * hw];
                *d = st == RT_SET ? g : *d + g;
            }
        }
}

/* }==================================================================== */

/* {====================================================================
** Mean squared error
** ===================================================================== */

float rt_mse_forward(const float *pred, const float *target, size_t len) {
    double s = 0.0;
    for (size_t i = 0; i < len; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return (float)(s / (double)len);
}

/* dpred = (or +=) 2 (pred - target) / len */
void rt_mse_backward(float *restrict dpred, const float *restrict pred,
                     const float *restrict target, size_t len, RtStore st) {
    float k = 2.0f / (float)len;
    RT_STORE_LOOP(st, i, 0, len, dpred, k * (pred[i] - target[i]));
}

/* }==================================================================== */
