/*
** model_check.c: whole-network tests for one generated model, compiled
** with -DSKIPC_MODEL=name_model -DSKIPC_MODEL_HEADER='"name.h"'.
**
** Gradient check. For every trainable tensor, and for the input, compare
** the analytic directional derivative g.v with the central difference
** (L(p + e*v) - L(p - e*v)) / 2e along a unit direction v that mixes the
** analytic gradient with a random vector: the g part gives a strong signal
** and the random part catches a missing or misplaced component, which a
** check along g alone would not see.
**
** Tolerance: relative 2e-2 plus an absolute floor of 1e-3 of the largest
** directional derivative. The step makes the loss move by ~2e-3 (see
** LOSS_STEP); the float32 forward pass rounds the loss at ~1e-6, so the
** difference quotient is good to ~1e-3 relative, while any real error (a
** missing term, a wrong sign, a factor) moves g.v by far more than 2%.
**
** Smoke test (models built with -DSMOKE_STEPS=N): N SGD steps on one fixed
** synthetic batch whose labels are a function of the input must at least
** halve the loss.
*/
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rt.h"
#include SKIPC_MODEL_HEADER

#define MODEL (&SKIPC_MODEL)
#define BATCH 4
/* The step is chosen per tensor so that the loss moves by about LOSS_STEP:
** deep nets at small inputs (batchnorm over a few values) are strongly
** curved, and a fixed step would measure curvature, not the gradient. */
#define LOSS_STEP 2e-3
#define EPS_MAX 1e-2
#define EPS_MIN 1e-4
#ifndef RTOL
#define RTOL 2e-2
#endif
#define ATOL_FRACTION 1e-3

typedef struct {
    float *params, *grads, *arena, *x, *dx;
    void *target;
    size_t in_len, out_len;   /* per sample */
    int n;
} Fixture;

static size_t shape_len(int ndim, const int *shape) {
    size_t len = 1;
    for (int i = 0; i < ndim; i++) len *= (size_t)shape[i];
    return len;
}

static void fill_normal(float *v, size_t len, RtRng *r) {
    for (size_t i = 0; i < len; i++) v[i] = rt_rng_normal(r);
}

/*
** Biases start at zero, so a layer that reads relu zeros through a 1x1 or
** strided convolution puts exact zeros into the next relu: a kink at the
** very point checked, where the one-sided slopes differ at any step size.
** Small random biases move the check off it.
*/
static void perturb_biases(const RtModel *m, float *params, RtRng *r) {
    for (int t = 0; t < m->num_tensors; t++) {
        const RtParamInfo *p = &m->tensors[t];
        if (p->kind != RT_PARAM_BIAS && p->kind != RT_PARAM_BN_BIAS) continue;
        for (size_t i = 0; i < p->len; i++) params[p->offset + i] = 0.1f * rt_rng_normal(r);
    }
}

/* Labels: per sample (vector output) or per pixel (map output). */
static void *make_target(const RtModel *m, size_t out_len, int n, RtRng *r) {
    size_t count = m->out_ndim == 3 ? (size_t)m->out_shape[1] * m->out_shape[2] : 1;
    if (m->loss_kind == RT_LOSS_MSE) {
        float *t = malloc(sizeof(float) * out_len * (size_t)n);
        fill_normal(t, out_len * (size_t)n, r);
        return t;
    } else {
        int32_t *t = malloc(sizeof(int32_t) * count * (size_t)n);
        for (size_t i = 0; i < count * (size_t)n; i++)
            t[i] = (int32_t)(rt_rng_next(r) % (uint64_t)m->out_shape[0]);
        return t;
    }
}

static Fixture *fixture_new(int n) {
    const RtModel *m = MODEL;
    Fixture *f = calloc(1, sizeof *f);
    RtRng r;
    rt_rng_seed(&r, 1234);
    f->n = n;
    f->in_len = shape_len(m->in_ndim, m->in_shape);
    f->out_len = shape_len(m->out_ndim, m->out_shape);
    f->params = malloc(sizeof(float) * m->num_params);
    f->grads = malloc(sizeof(float) * m->num_trainable);
    f->arena = malloc(sizeof(float) * RT_ARENA_FLOATS(m, n));
    f->x = malloc(sizeof(float) * f->in_len * (size_t)n);
    f->dx = malloc(sizeof(float) * f->in_len * (size_t)n);
    m->init(f->params, 42);
    perturb_biases(m, f->params, &r);
    fill_normal(f->x, f->in_len * (size_t)n, &r);
    f->target = make_target(m, f->out_len, n, &r);
    return f;
}

static void fixture_free(Fixture *f) {
    free(f->params); free(f->grads); free(f->arena); free(f->x); free(f->dx); free(f->target);
    free(f);
}

static int setup(void **state) { *state = fixture_new(BATCH); return 0; }
static int teardown(void **state) { fixture_free(*state); return 0; }

static double loss_at(Fixture *f) {
    return MODEL->loss(MODEL->forward(f->params, f->arena, f->x, f->n, 1, NULL), f->target,
                       f->n);
}

static void compute_grads(Fixture *f) {
    MODEL->zero_grad(f->grads);
    memset(f->dx, 0, sizeof(float) * f->in_len * (size_t)f->n);
    loss_at(f);
    MODEL->backward(f->params, f->grads, f->arena, f->x, f->target, f->dx, f->n, NULL);
}

/* LOSS_STEP, or SKIPC_LOSS_STEP from the environment to study a failure. */
static double loss_step(void) {
    const char *s = getenv("SKIPC_LOSS_STEP");
    return s ? atof(s) : LOSS_STEP;
}

/*
** Directional derivative of the loss at w (a block of len floats inside
** the model's inputs) along a unit mix of g and noise: fills *ana and *num.
*/
static void directional(Fixture *f, float *w, const float *g, size_t len, RtRng *r,
                        double step, double *ana, double *num) {
    double gn = 0, rn = 0, vn = 0, dot = 0, eps, lp, lm;
    float *v = malloc(sizeof(float) * len), *w0 = malloc(sizeof(float) * len);
    fill_normal(v, len, r);
    for (size_t i = 0; i < len; i++) { gn += (double)g[i] * g[i]; rn += (double)v[i] * v[i]; }
    gn = sqrt(gn); rn = sqrt(rn);
    for (size_t i = 0; i < len; i++) {
        v[i] = (float)((gn > 0 ? g[i] / gn : 0) + v[i] / rn);
        vn += (double)v[i] * v[i];
    }
    vn = sqrt(vn);
    if (vn < 1e-3) {   /* the noise cancelled g (a tensor of one element): g alone */
        for (size_t i = 0; i < len; i++) v[i] = (float)(g[i] / gn);
        vn = 1;
    }
    for (size_t i = 0; i < len; i++) { v[i] = (float)(v[i] / vn); dot += (double)g[i] * v[i]; }
    eps = fmin(EPS_MAX, fmax(EPS_MIN * step / LOSS_STEP, step / fmax(fabs(dot), 1e-12)));
    memcpy(w0, w, sizeof(float) * len);
    for (size_t i = 0; i < len; i++) w[i] = (float)(w0[i] + eps * v[i]);
    lp = loss_at(f);
    for (size_t i = 0; i < len; i++) w[i] = (float)(w0[i] - eps * v[i]);
    lm = loss_at(f);
    memcpy(w, w0, sizeof(float) * len);
    *ana = dot;
    *num = (lp - lm) / (2 * eps);
    free(v); free(w0);
}

static int is_trainable(const RtParamInfo *t) {
    return t->kind != RT_PARAM_RUNNING_MEAN && t->kind != RT_PARAM_RUNNING_VAR;
}

static int agree(double ana, double num, double scale) {
    return fabs(ana - num) <= RTOL * fmax(fabs(ana), fabs(num)) + ATOL_FRACTION * scale;
}

/* The block of floats tensor i (the input for i == num_tensors) checks. */
static void block(Fixture *f, int i, float **w, const float **g, size_t *len) {
    const RtModel *m = MODEL;
    if (i == m->num_tensors) {
        *w = f->x; *g = f->dx; *len = f->in_len * (size_t)f->n;
    } else {
        *w = f->params + m->tensors[i].offset; *g = f->grads + m->tensors[i].offset;
        *len = m->tensors[i].len;
    }
}

/*
** A relu or max pooling whose kink lies within the difference step bends
** the quotient; a real error in the gradient does not shrink with the
** step. A mismatch that is gone at a twentieth and a hundredth of the
** step, along the same direction, is such a kink.
*/
static int kink_only(Fixture *f, int i, const RtRng *at, double scale) {
    double steps[] = {loss_step() / 20, loss_step() / 100}, ana, num;
    float *w;
    const float *g;
    size_t len;
    block(f, i, &w, &g, &len);
    for (int k = 0; k < 2; k++) {
        RtRng r = *at;
        directional(f, w, g, len, &r, steps[k], &ana, &num);
        if (!agree(ana, num, scale)) return 0;
    }
    return 1;
}

static void test_gradients(void **state) {
    Fixture *f = *state;
    const RtModel *m = MODEL;
    int nt = m->num_tensors, bad = 0;
    double *ana = calloc((size_t)nt + 1, sizeof *ana), *num = calloc((size_t)nt + 1, sizeof *num);
    RtRng *at = calloc((size_t)nt + 1, sizeof *at);
    double scale = 0;
    RtRng r;
    rt_rng_seed(&r, 99);
    compute_grads(f);
    for (int i = 0; i <= nt; i++) {
        float *w;
        const float *g;
        size_t len;
        if (i < nt && !is_trainable(&m->tensors[i])) continue;
        block(f, i, &w, &g, &len);
        at[i] = r;
        directional(f, w, g, len, &r, loss_step(), &ana[i], &num[i]);
    }
    for (int i = 0; i <= nt; i++) scale = fmax(scale, fabs(ana[i]));
    for (int i = 0; i <= nt; i++) {
        const char *name = i < nt ? m->tensors[i].name : "input", *verdict = "ok";
        int ok = agree(ana[i], num[i], scale);
        if (i < nt && !is_trainable(&m->tensors[i])) continue;
        if (!ok && kink_only(f, i, &at[i], scale)) {
            ok = 1;
            verdict = "ok at smaller steps (a kink)";
        }
        if (!ok || getenv("VERBOSE") || ok != agree(ana[i], num[i], scale))
            printf("  %-50s analytic %+.6e numeric %+.6e %s\n", name, ana[i], num[i],
                   ok ? verdict : "MISMATCH");
        bad += !ok;
    }
    free(at);
    printf("  %s: %d tensors + input checked, %d mismatches\n", m->name, nt, bad);
    free(ana); free(num);
    assert_int_equal(bad, 0);
}

/* Gradients are finite and dx may be omitted (NULL) without changing them. */
static void test_dx_optional(void **state) {
    Fixture *f = *state;
    const RtModel *m = MODEL;
    float *g1 = malloc(sizeof(float) * m->num_trainable);
    compute_grads(f);
    memcpy(g1, f->grads, sizeof(float) * m->num_trainable);
    m->zero_grad(f->grads);
    loss_at(f);
    m->backward(f->params, f->grads, f->arena, f->x, f->target, NULL, f->n, NULL);
    for (size_t i = 0; i < m->num_trainable; i++) {
        assert_true(isfinite(g1[i]));
        assert_memory_equal(&g1[i], &f->grads[i], sizeof(float));
    }
    free(g1);
}

/*
** The inference program (infer, in its own arena) computes what the
** training program's forward computes in evaluation mode, bit for bit,
** after a training step has moved the running statistics. Its arena starts
** as NaN, so a read of memory it never wrote would show.
*/
static void test_infer_matches_forward(void **state) {
    Fixture *f = *state;
    const RtModel *m = MODEL;
    size_t len = f->out_len * (size_t)f->n, infer_len = RT_INFER_ARENA_FLOATS(m, f->n);
    float *want = malloc(sizeof(float) * len), *arena = malloc(sizeof(float) * infer_len);
    for (size_t i = 0; i < infer_len; i++) arena[i] = NAN;
    loss_at(f);
    memcpy(want, m->forward(f->params, f->arena, f->x, f->n, 0, NULL), sizeof(float) * len);
    assert_memory_equal(m->infer(f->params, arena, f->x, f->n, NULL), want, sizeof(float) * len);
    for (size_t i = 0; i < len; i++) assert_true(isfinite(want[i]));
    free(want);
    free(arena);
}

/*
** Gradient-flow probes: one finite, non-negative value per layer, the
** probe of every layer fed by the model input equals |dx|^2, and probing
** changes no gradient.
*/
static void test_grad_probes(void **state) {
    Fixture *f = *state;
    const RtModel *m = MODEL;
    double *sq = malloc(sizeof(double) * (size_t)m->num_layers), dx2;
    float *g1 = malloc(sizeof(float) * m->num_trainable);
    compute_grads(f);
    memcpy(g1, f->grads, sizeof(float) * m->num_trainable);
    dx2 = rt_sumsq(f->dx, f->in_len * (size_t)f->n);
    for (int i = 0; i < m->num_layers; i++) sq[i] = -1;
    m->zero_grad(f->grads);
    memset(f->dx, 0, sizeof(float) * f->in_len * (size_t)f->n);
    loss_at(f);
    m->backward(f->params, f->grads, f->arena, f->x, f->target, f->dx, f->n, sq);
    assert_memory_equal(g1, f->grads, sizeof(float) * m->num_trainable);
    for (int i = 0; i < m->num_layers; i++) {
        assert_true(isfinite(sq[i]) && sq[i] >= 0);
        if (m->layers[i].reads_input) assert_true(fabs(sq[i] - dx2) <= 1e-9 * dx2);
    }
    free(sq); free(g1);
}

#ifdef SMOKE_STEPS
/* Labels that the input determines: the argmax of fixed random projections. */
static void learnable_labels(Fixture *f) {
    const RtModel *m = MODEL;
    int classes = m->out_shape[0];
    float *proj = malloc(sizeof(float) * f->in_len * (size_t)classes);
    RtRng r;
    rt_rng_seed(&r, 7);
    fill_normal(proj, f->in_len * (size_t)classes, &r);
    for (int s = 0; s < f->n; s++) {
        int best = 0;
        double bestv = -INFINITY;
        for (int c = 0; c < classes; c++) {
            double v = 0;
            for (size_t i = 0; i < f->in_len; i++)
                v += (double)proj[(size_t)c * f->in_len + i] * f->x[(size_t)s * f->in_len + i];
            if (v > bestv) { bestv = v; best = c; }
        }
        ((int32_t *)f->target)[s] = best;
    }
    free(proj);
}

static void test_smoke_training(void **state) {
    Fixture *f = fixture_new(16);
    const RtModel *m = MODEL;
    float *mom = calloc(m->num_trainable, sizeof(float));
    double first, last = 0;
    (void)state;
    learnable_labels(f);
    first = loss_at(f);
    for (int step = 0; step < SMOKE_STEPS; step++) {
        m->zero_grad(f->grads);
        last = loss_at(f);
        m->backward(f->params, f->grads, f->arena, f->x, f->target, NULL, f->n, NULL);
        m->sgd_step(f->params, f->grads, mom, 0.05f, 0.9f, 0.0f, 1);
    }
    last = loss_at(f);
    printf("  %s: loss %.4f -> %.4f after %d steps\n", m->name, first, last, SMOKE_STEPS);
    free(mom);
    fixture_free(f);
    assert_true(last <= 0.5 * first);
}
#endif

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
** Profiling (bench --profile): every block of the generated code is timed
** in forward or backward, the blocks' times add up to no more than the
** calls took, and a profiled step computes the same gradients, bit for bit.
*/
static void test_profile(void **state) {
    Fixture *f = *state;
    const RtModel *m = MODEL;
    int nb = m->num_blocks;
    RtProf prof = {nb, calloc(2 * (size_t)nb, sizeof(double)), -1, -1, 0.0};
    float *g1 = malloc(sizeof(float) * m->num_trainable);
    double t0, wall, sum = 0;
    assert_true(nb > 0);
    compute_grads(f);
    memcpy(g1, f->grads, sizeof(float) * m->num_trainable);
    m->zero_grad(f->grads);
    memset(f->dx, 0, sizeof(float) * f->in_len * (size_t)f->n);
    t0 = mono_now();
    rt_prof = &prof;
    rt_prof_phase(0);
    const float *out = m->forward(f->params, f->arena, f->x, f->n, 1, NULL);
    rt_prof_phase(-1);
    m->loss(out, f->target, f->n);
    rt_prof_phase(1);
    m->backward(f->params, f->grads, f->arena, f->x, f->target, f->dx, f->n, NULL);
    rt_prof_phase(-1);
    rt_prof = NULL;
    wall = mono_now() - t0;
    assert_memory_equal(g1, f->grads, sizeof(float) * m->num_trainable);
    for (int i = 0; i < nb; i++) {
        assert_true(prof.seconds[i] >= 0 && prof.seconds[nb + i] >= 0);
        assert_true(prof.seconds[i] + prof.seconds[nb + i] > 0);
        sum += prof.seconds[i] + prof.seconds[nb + i];
    }
    assert_true(sum <= wall);
    free(prof.seconds);
    free(g1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gradients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dx_optional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grad_probes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_infer_matches_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
#ifdef SMOKE_STEPS
        cmocka_unit_test(test_smoke_training),
#endif
    };
    return cmocka_run_group_tests_name(MODEL->name, tests, NULL, NULL);
}
