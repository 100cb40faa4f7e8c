/*
** rt_rng.c: seeded random numbers (xoshiro256**, Blackman and Vigna) and
** parameter initialisation. Every value is a pure function of the seed,
** so a model initialises identically on every machine and run.
*/
#include <math.h>

#include "rt.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL   /* 2^64 / golden ratio */
#define TWO_PI 6.283185307179586476925

/* splitmix64: advances *x and returns a well-mixed 64-bit value. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += GOLDEN);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* Expands seed through splitmix64, which never yields the all-zero state
** for four consecutive outputs, the one state xoshiro must avoid. */
void rt_rng_seed(RtRng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t rt_rng_next(RtRng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The top 24 bits, exactly representable in a float: [0,1) in 2^-24 steps. */
float rt_rng_uniform(RtRng *r) {
    return (float)(rt_rng_next(r) >> 40) * 0x1.0p-24f;
}

/* (0,1] with 53 bits, so log() below never sees 0. */
static double uniform_open0(RtRng *r) {
    return ((double)(rt_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

/*
** Box-Muller, keeping only the cosine branch: RtRng has no room to cache
** the sine value, and dropping it keeps each call a fixed two draws.
*/
float rt_rng_normal(RtRng *r) {
    double u1 = uniform_open0(r), u2 = uniform_open0(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2));
}

/*
** w ~ N(0, 2/fan_in). Each tensor draws from its own generator, seeded
** from seed ^ stream*GOLDEN, so its values do not depend on how many
** numbers the tensors before it consumed.
*/
void rt_init_kaiming(float *w, size_t len, int fan_in, uint64_t seed, uint64_t stream) {
    RtRng r;
    float std = (float)sqrt(2.0 / fan_in);
    rt_rng_seed(&r, seed ^ (stream * GOLDEN));
    for (size_t i = 0; i < len; i++) w[i] = std * rt_rng_normal(&r);
}

void rt_fill(float *restrict w, size_t len, float v) {
    for (size_t i = 0; i < len; i++) w[i] = v;
}
