/*
** rt_elem.c: elementwise kernels: activations, the residual add,
** accumulate, copy, scale, sum of squares, products and gates.
**
** Vectorization, checked with
**     gcc -O3 -march=native -fopt-info-vec-optimized -c runtime/rt_elem.c
** (gcc 12, AVX-512): every loop here reports "loop vectorized" except the
** two that call expf/tanhf (sigmoid and tanh forward), which glibc offers
** no vector variant of without -ffast-math; those are scalar by design.
** rt_sumsq keeps RT_LANES independent double partial sums so its main
** loop vectorizes without -ffast-math (which would let the compiler
** reorder the sum differently from one build to the next); only its
** remainder loop (< RT_LANES elements) stays scalar.
**
** Pointers are restrict-qualified, which is what lets the loops vectorize
** without runtime overlap checks: callers must not pass overlapping
** buffers, not even exactly in place (out == inp).
**
** relu, add, acc and copy run on whole activations (megabytes each) once per
** layer; above ELEM_PAR_MIN elements they split into contiguous ranges
** over the runtime's threads (rt_par.c). Each element is computed alone,
** so the split changes nothing in the results.
*/
#include <math.h>

#include "rt.h"
#include "rt_par.h"
#include "rt_store.h"

#define RT_LANES 8
#define ELEM_PAR_MIN ((size_t)1 << 16)

/* The kernel of one range: the operands of the largest signature. */
typedef void (*ElemFn)(float *y, const float *a, const float *b, size_t len, RtStore st);
typedef struct {
    ElemFn fn;
    float *y;
    const float *a, *b;
    size_t len;
    RtStore st;
} ElemJob;

/* Ranges start on multiples of 16 floats (64-byte lines) to keep the
** threads off each other's cache lines. */
static void elem_part(void *p, int t, int nt) {
    const ElemJob *j = p;
    size_t blocks = (j->len + 15) / 16;
    size_t lo = blocks * t / nt * 16, hi = blocks * (t + 1) / nt * 16;
    if (hi > j->len) hi = j->len;
    if (lo >= hi) return;
    j->fn(j->y + lo, j->a + lo, j->b ? j->b + lo : NULL, hi - lo, j->st);
}

static void elem_run(ElemFn fn, float *y, const float *a, const float *b, size_t len,
                     RtStore st) {
    int nt = len < ELEM_PAR_MIN ? 1 : rt_get_threads();
    if (nt <= 1) {
        fn(y, a, b, len, st);
        return;
    }
    ElemJob j = {fn, y, a, b, len, st};
    rt_par_run(elem_part, &j, nt);
}

/* {====================================================================
** Activations: out = f(inp); backward dinp = (or +=) dout * f'(.)
** ===================================================================== */

static void relu_fwd(float *restrict out, const float *restrict inp,
                     const float *restrict unused, size_t len, RtStore st) {
    (void)unused; (void)st;
    for (size_t i = 0; i < len; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void rt_relu_forward(float *out, const float *inp, size_t len) {
    elem_run(relu_fwd, out, inp, NULL, len, RT_SET);
}

/* The derivative is read from out: out > 0 exactly where inp > 0. */
static void relu_bwd(float *restrict dinp, const float *restrict dout,
                     const float *restrict out, size_t len, RtStore st) {
    RT_STORE_LOOP(st, i, 0, len, dinp, out[i] > 0.0f ? dout[i] : 0.0f);
}

void rt_relu_backward(float *dinp, const float *dout, const float *out, size_t len,
                      RtStore st) {
    elem_run(relu_bwd, dinp, dout, out, len, st);
}

void rt_leaky_relu_forward(float *restrict out, const float *restrict inp,
                           float slope, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = inp[i] > 0.0f ? inp[i] : slope * inp[i];
}

/* Reads inp rather than out: with a negative slope the sign of out is
** not the sign of inp. */
void rt_leaky_relu_backward(float *restrict dinp, const float *restrict dout,
                            const float *restrict inp, float slope, size_t len, RtStore st) {
    RT_STORE_LOOP(st, i, 0, len, dinp, inp[i] > 0.0f ? dout[i] : slope * dout[i]);
}

void rt_sigmoid_forward(float *restrict out, const float *restrict inp, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = 1.0f / (1.0f + expf(-inp[i]));
}

void rt_sigmoid_backward(float *restrict dinp, const float *restrict dout,
                         const float *restrict out, size_t len, RtStore st) {
    RT_STORE_LOOP(st, i, 0, len, dinp, dout[i] * out[i] * (1.0f - out[i]));
}

void rt_tanh_forward(float *restrict out, const float *restrict inp, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = tanhf(inp[i]);
}

void rt_tanh_backward(float *restrict dinp, const float *restrict dout,
                      const float *restrict out, size_t len, RtStore st) {
    RT_STORE_LOOP(st, i, 0, len, dinp, dout[i] * (1.0f - out[i] * out[i]));
}

/* }==================================================================== */

/* {====================================================================
** Arithmetic
** ===================================================================== */

static void add_fwd(float *restrict out, const float *restrict a,
                    const float *restrict b, size_t len, RtStore st) {
    (void)st;
    for (size_t i = 0; i < len; i++) out[i] = a[i] + b[i];
}

void rt_add_forward(float *out, const float *a, const float *b, size_t len) {
    elem_run(add_fwd, out, a, b, len, RT_SET);
}

static void add_relu_fwd(float *restrict out, const float *restrict a,
                         const float *restrict b, size_t len, RtStore st) {
    (void)st;
    for (size_t i = 0; i < len; i++) {
        float v = a[i] + b[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

void rt_add_relu_forward(float *out, const float *a, const float *b, size_t len) {
    elem_run(add_relu_fwd, out, a, b, len, RT_SET);
}

/* y = x or y += x. */
static void store(float *restrict y, const float *restrict x,
                  const float *restrict unused, size_t len, RtStore st) {
    (void)unused;
    RT_STORE_LOOP(st, i, 0, len, y, x[i]);
}

void rt_acc(float *y, const float *x, size_t len) {
    elem_run(store, y, x, NULL, len, RT_ADD);
}

void rt_copy(float *y, const float *x, size_t len) {
    elem_run(store, y, x, NULL, len, RT_SET);
}

void rt_scale(float *restrict y, float a, size_t len) {
    for (size_t i = 0; i < len; i++) y[i] *= a;
}

/*
** Sum of x^2 in double. Lane j sums the elements i with i % RT_LANES == j;
** the lanes are added in a fixed order at the end, so the result does not
** depend on the vector width the compiler picked.
*/
double rt_sumsq(const float *restrict x, size_t len) {
    double lane[RT_LANES] = {0.0};
    size_t body = len - len % RT_LANES;
    for (size_t i = 0; i < body; i += RT_LANES)
        for (int j = 0; j < RT_LANES; j++)
            lane[j] += (double)x[i + j] * x[i + j];
    double s = 0.0;
    for (size_t i = body; i < len; i++) s += (double)x[i] * x[i];
    for (int j = 0; j < RT_LANES; j++) s += lane[j];
    return s;
}

double rt_sumsq_samples(const float *x, int n, size_t len, size_t stride) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += rt_sumsq(x + (size_t)i * stride, len);
    return s;
}

/* }==================================================================== */

/* {====================================================================
** Products: elementwise, or a gate per channel (bhw = 1)
** ===================================================================== */

void rt_mul_forward(float *restrict out, const float *restrict a, const float *restrict b,
                    int n, int c, int hw, int bhw) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = a + pl * hw, *f = b + pl * bhw;
        float *y = out + pl * hw;
        if (bhw == 1)
            for (int i = 0; i < hw; i++) y[i] = x[i] * f[0];
        else
            for (int i = 0; i < hw; i++) y[i] = x[i] * f[i];
    }
}

void rt_mul_backward_a(float *restrict da, const float *restrict dout, const float *restrict b,
                       int n, int c, int hw, int bhw, RtStore st) {
    if (!da) return;
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *dy = dout + pl * hw, *f = b + pl * bhw;
        float *dx = da + pl * hw;
        if (bhw == 1) RT_STORE_LOOP(st, i, 0, hw, dx, dy[i] * f[0]);
        else RT_STORE_LOOP(st, i, 0, hw, dx, dy[i] * f[i]);
    }
}

/* A gate's gradient sums its plane in double: a 56x56 plane is 3136 terms. */
void rt_mul_backward_b(float *restrict db, const float *restrict dout, const float *restrict a,
                       int n, int c, int hw, int bhw, RtStore st) {
    if (!db) return;
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *dy = dout + pl * hw, *x = a + pl * hw;
        float *g = db + pl * bhw;
        if (bhw == 1) {
            double s = 0.0;
            for (int i = 0; i < hw; i++) s += (double)dy[i] * x[i];
            g[0] = st == RT_SET ? (float)s : g[0] + (float)s;
        } else {
            RT_STORE_LOOP(st, i, 0, hw, g, dy[i] * x[i]);
        }
    }
}

/* }==================================================================== */
