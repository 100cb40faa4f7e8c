/*
** grad_check.h: test data and finite-difference gradient checks shared by
** the runtime kernel tests (tests/test_rt_*.c).
**
** A kernel's backward is checked against central differences of a scalar
** loss L(x) evaluated through its float forward:
**     num_i = (L(x + h e_i) - L(x - h e_i)) / (2h)
** For a kernel with output y the tests use L = sum(y * r) for a fixed random
** r, so dL/dy = r and the analytic gradient is backward(dout = r). L is
** summed in double so the only noise left is the float rounding of y.
**
** Pass rule, per element: |num_i - ana_i| <= tol * (|ana_i| + amax), with
** amax = max_j |ana_j|. The rounding noise of L scales with the tensor's
** gradient scale rather than with each element, so a purely relative rule
** would flag small gradients whose difference quotient is all noise. An
** error in a backward formula (a missing term, a wrong index, a factor of
** 2) moves elements by a sizeable fraction of amax, far above tol = 1e-2.
*/
#ifndef SKIPC_GRAD_CHECK_H
#define SKIPC_GRAD_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====================================================================
** Deterministic test data (an LCG, independent of the runtime's rng)
** ===================================================================== */

static uint64_t tr_state = 1;

static inline void tr_seed(uint64_t s) { tr_state = s * 2 + 1; }

/* Uniform in [lo,hi), from the top 24 bits of Knuth's MMIX LCG. */
static inline float tr_uniform(float lo, float hi) {
    tr_state = tr_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)(tr_state >> 40) * 0x1.0p-24f;
}

static inline void tr_fill(float *x, size_t len, float lo, float hi) {
    for (size_t i = 0; i < len; i++) x[i] = tr_uniform(lo, hi);
}

static inline float *tr_alloc(size_t len) {
    float *p = calloc(len ? len : 1, sizeof(float));
    if (!p) abort();
    return p;
}

/*
** Gradient buffers start primed with TR_PRIME and tests subtract it again
** before checking: a backward kernel must add (+=) to what is there, and
** one that overwrote would be off by TR_PRIME everywhere.
*/
#define TR_PRIME 0.25f

static inline float *tr_primed(size_t len) {
    float *p = tr_alloc(len);
    for (size_t i = 0; i < len; i++) p[i] = TR_PRIME;
    return p;
}

static inline void tr_unprime(float *g, size_t len) {
    for (size_t i = 0; i < len; i++) g[i] -= TR_PRIME;
}

/*
** RT_SET must write every element and read none: a gradient stored with
** RT_SET over NaN equals, element for element, the same gradient added
** (RT_ADD) into zeros. TR_CHECK_SET(len, call) runs call twice with dx_
** and st_ bound to each case and asserts that.
*/
static inline int tr_same(const float *a, const float *b, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!(a[i] == b[i])) return 0;
    return 1;
}

#define TR_CHECK_SET(len, call)                                                 \
    do {                                                                        \
        float *set_ = tr_alloc(len), *add_ = tr_alloc(len), *dx_;               \
        RtStore st_;                                                            \
        for (size_t i_ = 0; i_ < (size_t)(len); i_++) set_[i_] = NAN;           \
        dx_ = set_; st_ = RT_SET; call;                                         \
        dx_ = add_; st_ = RT_ADD; call;                                         \
        assert_true(tr_same(set_, add_, len));                                  \
        free(set_);                                                             \
        free(add_);                                                             \
    } while (0)

/*
** Channel slices (rt.h): a tensor of n samples of per floats laid out inside
** a wider one, sample i at wide + i*stride + off. tr_wide makes the wide
** buffer, filled with fill outside the slice (NaN where a kernel must not
** read, a sentinel where it must not write); tr_slice_is checks that the
** slice holds exactly dense's bits and the rest still holds fill.
*/
static inline float *tr_wide(const float *dense, int n, size_t per, size_t stride, size_t off,
                             float fill) {
    float *w = tr_alloc((size_t)n * stride);
    for (size_t i = 0; i < (size_t)n * stride; i++) w[i] = fill;
    if (dense)
        for (int s = 0; s < n; s++) memcpy(w + s * stride + off, dense + s * per, per * 4);
    return w;
}

static inline int tr_slice_is(const float *wide, const float *dense, int n, size_t per,
                              size_t stride, size_t off, float fill) {
    for (int s = 0; s < n; s++)
        for (size_t i = 0; i < stride; i++) {
            float v = wide[s * stride + i];
            int in = i >= off && i < off + per;
            if (in ? !(v == dense[s * per + i - off]) : !(v == fill)) return 0;
        }
    return 1;
}

/* sum(a*b) in double: the loss L = sum(y * r) of the checks. */
static inline double gc_dot(const float *a, const float *b, size_t len) {
    double s = 0.0;
    for (size_t i = 0; i < len; i++) s += (double)a[i] * b[i];
    return s;
}

/*
** Largest |a_i - b_i| / (1 + |b_i|): forward results against a double
** reference loop, relative for large values and absolute near zero.
*/
static inline double tr_maxrel(const float *a, const float *b, size_t len) {
    double worst = 0.0;
    for (size_t i = 0; i < len; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (d > worst) worst = d;
    }
    return worst;
}

/* }==================================================================== */

/* {====================================================================
** Central differences
** ===================================================================== */

typedef double (*GcLoss)(void *ctx);
/* Nonzero when x[i] is within h of a kink of the loss (ReLU at 0, a tie
** in a max-pool window), where the difference quotient is meaningless. */
typedef int (*GcSkip)(void *ctx, const float *x, size_t i, double h);

/*
** Checks grad (the analytic dL/dx, len floats) against central differences
** of loss(ctx), perturbing x in place (restored afterwards). Returns the
** worst ratio |num - ana| / (tol * (|ana| + amax)), so the check passes
** when the result is below 1; returns +inf if amax is 0 or more than a
** quarter of the points were skipped, so a check can never pass vacuously.
*/
static inline double gc_check(const char *label, GcLoss loss, void *ctx,
                              float *x, const float *grad, size_t len,
                              double h, double tol, GcSkip kink) {
    double amax = 0.0, worst = 0.0;
    size_t skipped = 0;
    for (size_t i = 0; i < len; i++) amax = fmax(amax, fabs((double)grad[i]));
    for (size_t i = 0; i < len; i++) {
        if (kink && kink(ctx, x, i, h)) { skipped++; continue; }
        float x0 = x[i], xp = (float)(x0 + h), xm = (float)(x0 - h);
        x[i] = xp; double lp = loss(ctx);
        x[i] = xm; double lm = loss(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - xm);   /* the step floats took */
        double r = fabs(num - grad[i]) / (tol * (fabs((double)grad[i]) + amax));
        if (r > worst) worst = r;
    }
    if (amax == 0.0 || skipped * 4 > len) worst = INFINITY;
    printf("  grad %-14s len %5zu skipped %3zu amax %.3g worst/tol %.3g\n",
           label, len, skipped, amax, worst);
    return worst;
}

/* }==================================================================== */

#endif
