/*
** test_rt_rng.c: the generator against published xoshiro256** and
** splitmix64 outputs, determinism, and the moments of uniform, normal and
** Kaiming draws.
**
** Moment bounds over 1e5 samples: the standard error of a mean is
** std/sqrt(1e5) ~ 0.0032*std and that of a standard deviation
** ~ std/sqrt(2e5) ~ 0.0022*std; the bounds below are 4-6 of those.
** The draws are deterministic, so the test cannot flake; the bounds only
** say how far a correct generator could plausibly land.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "rt.h"
#include "grad_check.h"

#define SAMPLES 100000

/* xoshiro256** from state {1,2,3,4}: the reference outputs of the
** authors' C code, recomputed independently. */
static void test_xoshiro_known_answers(void **state) {
    (void)state;
    RtRng r = {{1, 2, 3, 4}};
    const uint64_t want[] = {0x2d00, 0x0, 0x5a007080, 0x10e0000000009d80ULL,
                             0x10e0b61ce1009d80ULL};
    for (int i = 0; i < 5; i++) assert_true(rt_rng_next(&r) == want[i]);
}

/* Seeding expands the seed with splitmix64; seed 0 gives its well-known
** first four outputs. */
static void test_seed_is_splitmix64(void **state) {
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL && r.s[1] == 0x6e789e6aa1b965f4ULL);
    assert_true(r.s[2] == 0x06c45d188009454fULL && r.s[3] == 0xf88bb8a8724c81ecULL);
}

static void test_same_seed_same_stream(void **state) {
    (void)state;
    RtRng a, b, c;
    rt_rng_seed(&a, 42); rt_rng_seed(&b, 42); rt_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rt_rng_next(&a);
        assert_true(x == rt_rng_next(&b));
        differ += x != rt_rng_next(&c);
    }
    assert_true(differ > 990);
    for (int i = 0; i < 100; i++) assert_true(rt_rng_normal(&a) == rt_rng_normal(&b));
}

/* Mean and standard deviation of len floats, in double. */
static void moments(const float *x, size_t len, double *mean, double *std) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < len; i++) s += x[i];
    *mean = s / len;
    for (size_t i = 0; i < len; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / len);
}

static void test_uniform(void **state) {
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 7);
    float *x = tr_alloc(SAMPLES);
    for (int i = 0; i < SAMPLES; i++) {
        x[i] = rt_rng_uniform(&r);
        assert_true(x[i] >= 0.0f && x[i] < 1.0f);
    }
    double mean, std;
    moments(x, SAMPLES, &mean, &std);
    assert_true(fabs(mean - 0.5) < 0.005 && fabs(std - sqrt(1.0 / 12)) < 0.003);
    free(x);
}

static void test_normal(void **state) {
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 8);
    float *x = tr_alloc(SAMPLES);
    size_t within1 = 0;
    for (int i = 0; i < SAMPLES; i++) {
        x[i] = rt_rng_normal(&r);
        assert_true(isfinite(x[i]));
        within1 += fabs(x[i]) < 1.0f;
    }
    double mean, std;
    moments(x, SAMPLES, &mean, &std);
    assert_true(fabs(mean) < 0.015 && fabs(std - 1) < 0.01);
    /* shape, not just moments: P(|z| < 1) = 0.6827 (se 0.0015) */
    assert_true(fabs((double)within1 / SAMPLES - 0.6827) < 0.008);
    free(x);
}

static void test_kaiming(void **state) {
    (void)state;
    int fan_in = 50;
    float *a = tr_alloc(SAMPLES), *b = tr_alloc(SAMPLES), *c = tr_alloc(SAMPLES);
    rt_init_kaiming(a, SAMPLES, fan_in, 1234, 3);
    rt_init_kaiming(c, SAMPLES, fan_in, 1234, 4);   /* another tensor, same seed */
    rt_init_kaiming(b, SAMPLES, fan_in, 1234, 3);
    assert_memory_equal(a, b, SAMPLES * sizeof(float));
    assert_true(memcmp(a, c, SAMPLES * sizeof(float)) != 0);
    double mean, std, want = sqrt(2.0 / fan_in);
    moments(a, SAMPLES, &mean, &std);
    assert_true(fabs(mean) < 0.015 * want && fabs(std / want - 1) < 0.01);
    rt_fill(a, SAMPLES, 0.5f);
    for (int i = 0; i < SAMPLES; i++) assert_true(a[i] == 0.5f);
    free(a); free(b); free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xoshiro_known_answers),
        cmocka_unit_test(test_seed_is_splitmix64),
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_kaiming),
    };
    return cmocka_run_group_tests_name("rt_rng", tests, NULL, NULL);
}
